# Shared helpers of the reliability scenarios (reliability/run.sh): sourced, not run.
# Everything runs on loopback, against a PostgreSQL cluster of its own (port 54339 by default),
# so restarting that cluster disturbs nobody else's tests.
export FLEETGATE_PG_DATA=${FLEETGATE_PG_DATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.data/pg-reliability}
export FLEETGATE_PG_RUN=${FLEETGATE_PG_RUN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.data/run-reliability}
export FLEETGATE_PG_PORT=${FLEETGATE_PG_PORT:-54339}
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

REL_DB=${REL_DB:-fleetgate_rel}
REL_PPORT=${REL_PROVISIONING_PORT:-28081}
REL_IPORT=${REL_INGEST_PORT:-28080}
REL_DIR=${REL_DIR:-$DATA/reliability}
REL_ADMIN=rel-admin
DB_URL=$(local_database_url "$REL_DB")
PROV_URL=http://127.0.0.1:$REL_PPORT
INGEST_URL=http://127.0.0.1:$REL_IPORT
export FLEETGATE_KEYS_ENCRYPTION_KEY_FILE=${FLEETGATE_KEYS_ENCRYPTION_KEY_FILE:-$DATA/kek}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAX "$@"; }
psql_db() { psql "$DB_URL" -qtAX "$@"; }
now_ms() { date +%s%3N; }
# Elapsed seconds since a now_ms value, with millisecond precision.
since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.3f", (b - a) / 1000 }'; }

PROV_PID=
INGEST_PID=
SIM_PID=
RSS_PID=
# Every process started here, stopped on exit by its pid.
stop_pid() {  # pid [seconds]: SIGTERM, then SIGKILL after the grace period
  local pid=$1 grace=${2:-15} i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# SIGTERM, then waits up to 30 s (SIGKILL after); sets TERM_SECONDS (or "no exit...") and TERM_STATUS.
term_and_time() {  # pid
  local pid=$1 t0 waited=0
  t0=$(now_ms)
  TERM_STATUS=0
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null && ((waited < 300)); do sleep 0.05; waited=$((waited + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    TERM_SECONDS="no exit within 15 s (SIGKILL)"
    kill -KILL "$pid"
  else
    TERM_SECONDS=$(since "$t0")
  fi
  wait "$pid" 2>/dev/null || TERM_STATUS=$?
}

wait_status() {  # url status seconds: wait until GET url answers status; prints seconds taken
  local url=$1 want=$2 limit=$3 start code
  start=$(now_ms)
  while :; do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null || true)
    [ "$code" = "$want" ] && { since "$start"; return 0; }
    if (($(now_ms) - start > limit * 1000)); then since "$start"; return 1; fi
    sleep 0.1
  done
}

start_provisioning() {  # extra settings...
  "$BIN/fleetgate-provisioning" serve --http-port "$REL_PPORT" --database-url "$DB_URL" "$@" \
    >>"$REL_DIR/provisioning.log" 2>&1 &
  PROV_PID=$!
  wait_status "$PROV_URL/readyz" 200 60 >/dev/null || { echo "provisioning did not become ready" >&2; return 1; }
}

start_ingest() {  # extra settings...
  "$BIN/fleetgate-ingest" serve --http-port "$REL_IPORT" --database-url "$DB_URL" \
    --jwks-url "$PROV_URL/.well-known/jwks.json" "$@" >>"$REL_DIR/ingest.log" 2>&1 &
  INGEST_PID=$!
  wait_status "$INGEST_URL/readyz" 200 60 >/dev/null || { echo "ingest did not become ready" >&2; return 1; }
}

# Runs the simulator in the background; its report goes to $REL_DIR/<name>.json.
# The fleet (enrolled on first use, then reused) is $SIM_FLEET, else one of its own per name.
start_simulator() {  # name, then simulator options
  local name=$1 fleet=${SIM_FLEET:-$1}; shift
  FLEETGATE_ADMIN_PASSWORD=$REL_PASSWORD "$BIN/fleetgate-simulator" run \
    --provisioning-url "$PROV_URL" --ingest-url "$INGEST_URL" --admin-user "$REL_ADMIN" \
    --id-prefix "$fleet" --fleet "$fleet" --credentials "$REL_DIR/$fleet.fleet.ndjson" \
    --verify --database-url "$DB_URL" --report "$REL_DIR/$name.json" --quiet "$@" \
    >"$REL_DIR/$name.sim.log" 2>&1 &
  SIM_PID=$!
}

wait_simulator() {  # sets SIM_RC to the simulator's exit status (not in a subshell: wait needs the parent)
  SIM_RC=0
  wait "$SIM_PID" || SIM_RC=$?
  SIM_PID=
}

# Samples VmRSS (KiB) of a pid every second into a file, until stopped.
start_rss_sampler() {  # pid file
  (while kill -0 "$1" 2>/dev/null; do
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null >>"$2"
    sleep 1
  done) &
  RSS_PID=$!
}

# Polls a URL every 0.2 s, one "ms_since_epoch status" line each, until stopped.
start_poller() {  # url file -> sets POLL_PID
  (while :; do
    echo "$(now_ms) $(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" 2>/dev/null || true)"
    sleep 0.2
  done) >>"$2" &
  POLL_PID=$!
}

pg_restart() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_RUN/postgres.log" restart -m fast -w -t 60 >/dev/null
}

# One scenario's results as "key=value" lines appended to $REL_DIR/results.txt.
put() { printf '%s.%s=%s\n' "$SCENARIO" "$1" "$2" >>"$REL_DIR/results.txt"; }
