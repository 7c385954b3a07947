#!/usr/bin/env bash
# By hand, not in `make bench`: two ingest binaries, the same telemetry loads, alternating.
#
#   bench/ingest-ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]
#
# Sets up its own database (fleetgate_ingestab on the local cluster, emptied first), a
# provisioning of the working tree's release build on :18183 for 2 000 devices' access tokens and
# the JWKS, and the pre-made bodies of `make bench` (bench/tool.py). Each round runs OLD then NEW
# on :18184 (the settings of `make bench`: --rate-per-device 0 --writer-connections 4) through
# the loads of `make bench` step 3: batches of 1, 10 and 100 with wrk -t2 -c64, then batch 10
# with one connection. Each load prints req/s, committed records/s (rows counted before and
# after), p50/p99 and ingest's CPU per request; AB_PERF=1 adds a `perf` profile of each binary at
# batch AB_PERF_BATCH (default 1) on AB_PERF_CONNS (64) connections in the first round. Alternating matters: on a shared machine one run
# differs from the next by ±10 % or more.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ $# -ge 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]" >&2; exit 2; }
OLD=$1 NEW=$2 ROUNDS=${3:-2} SECONDS_EACH=${4:-8}
PPORT=18183 IPORT=18184 DB=fleetgate_ingestab DEVICES=2000
WORK="$DATA/ingest-ab"
PROVISIONING="$ROOT/.build/release/fleetgate-provisioning"
mkdir -p "$WORK"
TICK=$(getconf CLK_TCK)

"$ROOT/bench/install.sh"
"$ROOT/scripts/pg-start.sh" "$DB" >/dev/null
psql_ab() { psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$DB" -qtAX "$@"; }
psql_ab -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public AUTHORIZATION $PG_USER" >/dev/null 2>&1
URL=$(local_database_url "$DB")
"$ROOT/scripts/dev-secrets.sh"
export FLEETGATE_KEYS_ENCRYPTION_KEY_FILE=${FLEETGATE_KEYS_ENCRYPTION_KEY_FILE:-$DATA/kek}
timeout 60 "$PROVISIONING" migrate --database-url "$URL" >/dev/null 2>&1
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
FLEETGATE_OPERATOR_PASSWORD=$PASSWORD timeout 60 "$PROVISIONING" create-operator --username ab-admin \
  --role admin --database-url "$URL" >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$PROVISIONING" serve --http-port "$PPORT" --database-url "$URL" >"$WORK/provisioning.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$PPORT/readyz" 30
token=$(curl -fsS -H 'Content-Type: application/json' -d "{\"username\":\"ab-admin\",\"password\":\"$PASSWORD\"}" \
  "http://127.0.0.1:$PPORT/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
awk -v n="$DEVICES" 'BEGIN { print "id,fleet"; for (i = 1; i <= n; i++) printf "ab-%05d,ab\n", i }' >"$WORK/devices.csv"
timeout 120 curl -fsS -o "$WORK/bulk.ndjson" -H "Authorization: Bearer $token" -H 'Content-Type: text/csv' \
  --data-binary @"$WORK/devices.csv" "http://127.0.0.1:$PPORT/v1/devices/bulk"
grep '"refresh_token"' "$WORK/bulk.ndjson" >"$WORK/credentials.ndjson"
chmod 600 "$WORK/bulk.ndjson" "$WORK/credentials.ndjson"
timeout 120 python3 bench/tool.py mint --credentials "$WORK/credentials.ndjson" --url "http://127.0.0.1:$PPORT" \
  --out "$WORK/access-tokens.txt" --threads 16 >/dev/null
timeout 120 python3 bench/tool.py bodies --tokens "$WORK/access-tokens.txt" --batches 1,10,100 \
  --out "$WORK/pairs-{n}.bin" >/dev/null

server=""
start() {  # binary
  "$1" serve --http-port "$IPORT" --database-url "$URL" --jwks-url "http://127.0.0.1:$PPORT/.well-known/jwks.json" \
    --rate-per-device 0 --writer-connections 4 >"$WORK/ingest.log" 2>&1 &
  server=$!
  wait_ready "http://127.0.0.1:$IPORT/readyz" 30
  PAIRS_FILE="$WORK/pairs-10.bin" WRK_THREADS=2 wrk -t2 -c64 -d2s -s bench/telemetry.lua \
    "http://127.0.0.1:$IPORT" >/dev/null  # fills the verified-token cache
}
stop() { kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; server=""; }

rows() { psql_ab -c "SELECT count(*) FROM telemetry"; }
load() {  # label batch threads connections
  psql_ab -c "TRUNCATE telemetry" -c "CHECKPOINT" >/dev/null
  local before after c0 c1
  before=$(rows)
  c0=$(cpu_ticks "$server")
  PAIRS_FILE="$WORK/pairs-$2.bin" WRK_THREADS=$3 wrk -t"$3" -c"$4" -d"${SECONDS_EACH}s" --latency \
    -s bench/telemetry.lua "http://127.0.0.1:$IPORT" >"$WORK/wrk.txt"
  c1=$(cpu_ticks "$server")
  sleep 1
  after=$(rows)
  python3 - "$1" "$2" "$4" "$((after - before))" "$c0" "$c1" "$TICK" "$SECONDS_EACH" "$WORK/wrk.txt" <<'PY'
import re, sys
label, batch, conns, rows, c0, c1, tick, secs, path = sys.argv[1:]
text = open(path).read()
reqs = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
def pct(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
cpu = (int(c1) - int(c0)) / int(tick)
print(f"{label:4} batch {batch:>3} c{conns:<3} {reqs:8.0f} req/s {int(rows) / float(secs):9.0f} records/s  "
      f"p50 {pct(50):7.3f} ms  p99 {pct(99):7.2f} ms  ingest {cpu / float(secs):4.2f} cores, "
      f"{cpu * 1e6 / max(total, 1):5.0f} µs/req" + (f"  NON-2XX {bad.group(1)}" if bad else ""))
PY
}
profile() {  # label: 5 s of `perf` at batch AB_PERF_BATCH (1) on AB_PERF_CONNS (64) connections,
  # flat self time in $WORK/perf-LABEL.txt
  local conns=${AB_PERF_CONNS:-64} threads=2
  [ "$conns" -lt 2 ] && threads=1
  PAIRS_FILE="$WORK/pairs-${AB_PERF_BATCH:-1}.bin" WRK_THREADS=$threads wrk -t$threads -c"$conns" -d7s \
    -s bench/telemetry.lua "http://127.0.0.1:$IPORT" >/dev/null &
  local wrk_pid=$!
  sleep 1
  timeout 30 perf record -F 999 -g -p "$server" -o "$WORK/perf-$1.data" -- sleep 5 >/dev/null 2>&1 || true
  wait "$wrk_pid" || true
  perf report -i "$WORK/perf-$1.data" --no-children --sort dso,symbol --percent-limit 0.5 --stdio -g none \
    2>/dev/null | grep -E "^ +[0-9.]+%" | swift demangle --simplified | cut -c1-200 >"$WORK/perf-$1.txt" || true
  echo "profile of $1 at batch ${AB_PERF_BATCH:-1}, $conns connections: $WORK/perf-$1.txt"
}
measure() {  # label binary
  start "$2"
  load "$1" 1 2 64
  load "$1" 10 2 64
  load "$1" 100 2 64
  load "$1" 10 1 1
  [ "${AB_PERF:-0}" = 1 ] && [ "$round" = 1 ] && command -v perf >/dev/null && profile "$1"
  stop
}
# The first load after the set-up ran slower than the same load later (120 against 90-115 µs per
# post, one binary in both slots): a discarded warm-up load goes first.
start "$OLD"
load warm 1 2 64 >/dev/null
stop
for round in $(seq "$ROUNDS"); do
  echo "# round $round"
  measure old "$OLD"
  measure new "$NEW"
done
