#!/usr/bin/env bash
# Starts the project-local PostgreSQL 15 cluster under .data/pg (created on first use) and
# makes sure the database named in $1 exists. Idempotent. initdb and postgres refuse to run
# as root, so they run as the postgres user on a directory it owns.
set -euo pipefail
source "$(dirname "$0")/env.sh"
db=${1:-fleetgate}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$DATA"
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
  log "creating PostgreSQL cluster in $PG_DATA (port $PG_PORT)"
  mkdir -p "$PG_DATA" "$PG_RUN"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PG_DATA" "$PG_RUN" "${PG_HOME:-$PG_DATA}"
  # The postgres user must be able to reach the data directory through every parent (env.sh
  # moves the cluster when it cannot reach the checkout).
  if ! as_pg test -x "$PG_DATA"; then
    echo "the postgres user cannot reach $PG_DATA; make its parents world-searchable (chmod o+x)" >&2
    exit 1
  fi
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$PG_DATA/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_RUN'
max_connections = 500
shared_buffers = 512MB
wal_buffers = 16MB
max_wal_size = 4GB
checkpoint_timeout = 15min
log_min_messages = warning
CONF
fi
mkdir -p "$PG_RUN"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_RUN"
if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_RUN/postgres.log" -w -t 60 start >/dev/null; then
    tail -n 5 "$PG_RUN/postgres.log" >&2 || true
    echo "PostgreSQL did not start; if another server holds port $PG_PORT, set FLEETGATE_PG_PORT" >&2
    exit 1
  fi
fi
psql_admin() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAX "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" != 1 ]; then
  psql_admin -c "CREATE ROLE $PG_USER LOGIN SUPERUSER"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$db'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $db OWNER $PG_USER"
fi
