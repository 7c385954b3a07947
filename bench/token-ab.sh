#!/usr/bin/env bash
# By hand, not in `make bench`: two provisioning binaries, the same token load, alternating.
#
#   bench/token-ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# Each round runs OLD then NEW for 10 s under POST /v1/token (wrk -t2 -c32, bench/token.lua, a
# fresh refresh token per request) and prints the tokens per core-second of each, then one run of
# each again under `perf record --call-graph dwarf` broken down by bench/perf-token.py. Uses its
# own database (fleetgate_tokenab, emptied first) on the local cluster and port 18183.
# Alternating matters: on a shared machine one 10 s run differs from the next by ±10 %.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ $# -ge 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [ROUNDS]" >&2; exit 2; }
OLD=$1 NEW=$2 ROUNDS=${3:-3}
PORT=18183 DB=fleetgate_tokenab SECONDS_EACH=10 PER_RUN=20000
WORK="$DATA/token-ab"
mkdir -p "$WORK"
TICK=$(getconf CLK_TCK)

"$ROOT/bench/install.sh"
"$ROOT/scripts/pg-start.sh" "$DB" >/dev/null
psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$DB" -qtAX \
  -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public AUTHORIZATION $PG_USER" >/dev/null 2>&1
URL=$(local_database_url "$DB")
"$ROOT/scripts/dev-secrets.sh"
export FLEETGATE_KEYS_ENCRYPTION_KEY_FILE=${FLEETGATE_KEYS_ENCRYPTION_KEY_FILE:-$DATA/kek}
timeout 60 "$OLD" migrate --database-url "$URL" >/dev/null 2>&1
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
FLEETGATE_OPERATOR_PASSWORD=$PASSWORD timeout 60 "$OLD" create-operator --username ab-admin --role admin \
  --database-url "$URL" >/dev/null

server=""
stop() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; server=""; }
trap stop EXIT
start() {  # binary
  "$1" serve --http-port "$PORT" --database-url "$URL" >"$WORK/provisioning.log" 2>&1 &
  server=$!
  wait_ready "http://127.0.0.1:$PORT/readyz" 20
}

# Enough devices that no refresh token is presented twice.
runs=$((ROUNDS * 2 + 2))
start "$OLD"
token=$(curl -fsS -H 'Content-Type: application/json' -d "{\"username\":\"ab-admin\",\"password\":\"$PASSWORD\"}" \
  "http://127.0.0.1:$PORT/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
awk -v n=$((runs * PER_RUN)) 'BEGIN { print "id,fleet"; for (i = 1; i <= n; i++) printf "ab-%07d,ab\n", i }' >"$WORK/devices.csv"
timeout 600 curl -fsS -o "$WORK/bulk.ndjson" -H "Authorization: Bearer $token" -H 'Content-Type: text/csv' \
  --data-binary @"$WORK/devices.csv" "http://127.0.0.1:$PORT/v1/devices/bulk"
stop
sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p' "$WORK/bulk.ndjson" >"$WORK/tokens.txt"
chmod 600 "$WORK/bulk.ndjson" "$WORK/tokens.txt"

run=0
measure() {  # label binary [perf]
  sed -n "$((run * PER_RUN + 1)),$(((run + 1) * PER_RUN))p" "$WORK/tokens.txt" >"$WORK/run-tokens.txt"
  run=$((run + 1))
  start "$2"
  local c0 c1 requests perf_pid=""
  c0=$(cpu_ticks "$server")
  if [ "${3:-}" = perf ]; then
    (sleep 2; timeout 30 perf record -F 499 --call-graph dwarf,16384 -p "$server" -o "$WORK/perf.data" -- sleep 4) \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  TOKENS_FILE="$WORK/run-tokens.txt" WRK_THREADS=2 wrk -t2 -c32 -d${SECONDS_EACH}s -s bench/token.lua \
    "http://127.0.0.1:$PORT" >"$WORK/wrk.txt"
  c1=$(cpu_ticks "$server")
  [ -n "$perf_pid" ] && wait "$perf_pid" || true
  stop
  requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
  awk -v l="$1" -v n="$requests" -v a="$c0" -v b="$c1" -v t="$TICK" -v e="$(grep -c 'Non-2xx' "$WORK/wrk.txt" || true)" \
    'BEGIN { printf "%-4s %6d tokens, %5.2f CPU s, %5.0f tokens per core-second%s\n", l, n, (b - a) / t, n / ((b - a) / t), (e > 0 ? " (non-2xx answers!)" : "") }'
  if [ "${3:-}" = perf ]; then
    perf script -i "$WORK/perf.data" 2>/dev/null >"$WORK/perf.txt" || true
    python3 bench/perf-token.py --summary "$WORK/perf.txt"
  fi
}
for round in $(seq "$ROUNDS"); do
  echo "# round $round"
  measure old "$OLD"
  measure new "$NEW"
done
if command -v perf >/dev/null; then
  echo "# profiles (perf costs CPU: these runs are not comparable with the ones above)"
  measure old "$OLD" perf
  measure new "$NEW" perf
fi
