#!/usr/bin/env bash
# `make demo`: start the stack (local PostgreSQL, provisioning, ingest; release builds), run the
# simulator's smoke scenario, then the steady scenario for 30 s with live progress, verify both
# against PostgreSQL and print the reports. Everything it started is stopped at the end.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
prov_port=${FLEETGATE_DEMO_PROVISIONING_PORT:-8181}
ingest_port=${FLEETGATE_DEMO_INGEST_PORT:-8180}
steady_seconds=${FLEETGATE_DEMO_STEADY_SECONDS:-30}

"$ROOT/scripts/install-deps.sh"
started_pg=0
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 || started_pg=1
"$ROOT/scripts/pg-start.sh" fleetgate_demo
"$ROOT/scripts/dev-secrets.sh"
db_url=$(local_database_url fleetgate_demo)
# A clean demo database each time: the schema is dropped and re-created by the migrations.
psql "$db_url" -qtAX -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null

log "building release binaries (the first build takes several minutes)"
for product in fleetgate-provisioning fleetgate-ingest fleetgate-simulator; do
  swift build -c release --product "$product" >/dev/null
done
BIN=$(swift build -c release --show-bin-path)
export FLEETGATE_KEYS_ENCRYPTION_KEY_FILE=$DATA/kek FLEETGATE_DATABASE_URL=$db_url
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
"$BIN/fleetgate-provisioning" migrate >/dev/null
FLEETGATE_OPERATOR_PASSWORD=$password "$BIN/fleetgate-provisioning" create-operator \
  --username demo-admin --role admin --if-missing >/dev/null

pids=()
cleanup() {
  trap - INT TERM EXIT
  log "stopping the demo stack"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$started_pg" = 1 ]; then "$ROOT/scripts/pg-stop.sh"; fi
}
trap cleanup INT TERM EXIT
mkdir -p "$DATA/demo"
"$BIN/fleetgate-provisioning" serve --http-port "$prov_port" --log-level warning \
  >"$DATA/demo/provisioning.log" 2>&1 & pids+=($!)
"$BIN/fleetgate-ingest" serve --http-port "$ingest_port" --log-level warning \
  --jwks-url "http://127.0.0.1:$prov_port/.well-known/jwks.json" >"$DATA/demo/ingest.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ingest_port/readyz" >/dev/null && curl -sf "http://127.0.0.1:$prov_port/readyz" >/dev/null && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$ingest_port/readyz" >/dev/null || { echo "the services did not become ready; see .data/demo/*.log" >&2; exit 1; }

simulate() {
  FLEETGATE_ADMIN_PASSWORD=$password "$BIN/fleetgate-simulator" run \
    --provisioning-url "http://127.0.0.1:$prov_port" --ingest-url "http://127.0.0.1:$ingest_port" \
    --admin-user demo-admin --verify --database-url "$db_url" "$@"
}
log "smoke: 10 devices for 10 s"
simulate --scenario simulator/smoke.json --id-prefix demo-smoke --report "$DATA/demo/smoke.json"
log "steady: 10 000 devices for ${steady_seconds} s (10 s ramp-up)"
simulate --scenario simulator/steady.json --duration "$steady_seconds" --ramp-up 10 \
  --id-prefix demo-steady --report "$DATA/demo/steady.json"
log "demo passed: both runs verified lost = 0, duplicated = 0 (reports in .data/demo/)"
