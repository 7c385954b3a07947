#!/usr/bin/env bash
# `make run`: set up everything (packages, local PostgreSQL, keys, release build, migrations,
# bootstrap admin) and run provisioning (8081) and ingest (8080) in the foreground.
# Ctrl-C or SIGTERM stops everything this script started, PostgreSQL included (when it was not
# already running).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/install-deps.sh"
started_pg=0
if [ -z "${FLEETGATE_DATABASE_URL:-}" ]; then
  # Stop on exit only a cluster this script started: `make test` and `make bench` share it.
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 || started_pg=1
  "$ROOT/scripts/pg-start.sh" fleetgate
  export FLEETGATE_DATABASE_URL=$(local_database_url fleetgate)
fi
"$ROOT/scripts/dev-secrets.sh"
export FLEETGATE_KEYS_ENCRYPTION_KEY_FILE=${FLEETGATE_KEYS_ENCRYPTION_KEY_FILE:-$DATA/kek}
log "building release binaries (the first build takes several minutes)"
swift build -c release --product fleetgate-provisioning
swift build -c release --product fleetgate-ingest
BIN=$(swift build -c release --show-bin-path)
"$BIN/fleetgate-provisioning" migrate
admin=${FLEETGATE_ADMIN_USER:-admin}
if [ -n "${FLEETGATE_ADMIN_PASSWORD:-}" ]; then
  password=$FLEETGATE_ADMIN_PASSWORD
elif [ -s "$DATA/admin-password" ]; then
  password=$(cat "$DATA/admin-password")
else
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  (umask 077; printf '%s\n' "$password" > "$DATA/admin-password")
  printf '\n  bootstrap admin "%s", password: %s\n  (also saved in .data/admin-password, mode 0600)\n\n' "$admin" "$password"
fi
FLEETGATE_OPERATOR_PASSWORD=$password "$BIN/fleetgate-provisioning" create-operator --username "$admin" --role admin --if-missing

pids=()
cleanup() {
  # A second Ctrl-C (or timeout's repeated SIGINT) must not cut the clean-up short and leave
  # PostgreSQL running: ignore further signals until it is done.
  trap '' INT TERM
  trap - EXIT
  log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$started_pg" = 1 ] && "$ROOT/scripts/pg-stop.sh"
  exit 0
}
trap cleanup INT TERM EXIT
# Ports are set per process: FLEETGATE_HTTP_PORT would give both services the same one.
prov_port=${FLEETGATE_PROVISIONING_PORT:-8081}
ingest_port=${FLEETGATE_INGEST_PORT:-8080}
"$BIN/fleetgate-provisioning" serve --http-port "$prov_port" & pids+=($!)
"$BIN/fleetgate-ingest" serve --http-port "$ingest_port" \
  --jwks-url "${FLEETGATE_JWKS_URL:-http://127.0.0.1:$prov_port/.well-known/jwks.json}" & pids+=($!)
cat <<MSG

  provisioning  http://127.0.0.1:$prov_port   (JWKS: /.well-known/jwks.json)
  ingest        http://127.0.0.1:$ingest_port
  database      $(printf '%s' "${FLEETGATE_DATABASE_URL%%\?*}" | sed -E 's#//([^:/@]*):[^@]*@#//\1:***@#')
  admin         $admin (password in .data/admin-password unless FLEETGATE_ADMIN_PASSWORD is set)
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
cleanup
