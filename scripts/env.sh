# Shared settings for the scripts: sourced, not run. Everything lives under .data/ in the project.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA="$ROOT/.data"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DATA=${FLEETGATE_PG_DATA:-$DATA/pg}
PG_RUN=${FLEETGATE_PG_RUN:-$DATA/run}
# postgres refuses to run as root and runs as the postgres user, which must be able to reach the
# data directory. When the checkout sits under a directory it cannot enter (say /root), the
# cluster lives under postgres's own home instead, one per checkout.
if [ -z "${FLEETGATE_PG_DATA:-}" ] && [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 &&
  ! runuser -u postgres -- test -x "$ROOT"; then
  PG_HOME="/var/lib/postgresql/fleetgate-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
  PG_DATA="$PG_HOME/pg"
  PG_RUN="$PG_HOME/run"
fi
PG_PORT=${FLEETGATE_PG_PORT:-54329}
PG_USER=fleetgate
local_database_url() { echo "postgres://$PG_USER@127.0.0.1:$PG_PORT/$1?sslmode=disable"; }
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
