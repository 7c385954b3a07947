# Shared settings for the scripts: sourced, not run. Everything lives under .data/ in the project.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA="$ROOT/.data"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DATA=${FLEETGATE_PG_DATA:-$DATA/pg}
PG_RUN=${FLEETGATE_PG_RUN:-$DATA/run}
PG_PORT=${FLEETGATE_PG_PORT:-54329}
PG_USER=fleetgate
local_database_url() { echo "postgres://$PG_USER@127.0.0.1:$PG_PORT/$1?sslmode=disable"; }
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
