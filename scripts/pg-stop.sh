#!/usr/bin/env bash
# Stops the project-local PostgreSQL cluster if it runs.
set -euo pipefail
source "$(dirname "$0")/env.sh"
[ -f "$PG_DATA/PG_VERSION" ] || exit 0
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  log "stopping PostgreSQL"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
fi
