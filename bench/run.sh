#!/usr/bin/env bash
# `make bench`: the benchmark suite of issues 3 (provisioning), 4 (ingest) and 5 (simulator).
#
# Sets up (packages, the local PostgreSQL with a fresh `fleetgate_bench` database, release
# builds), starts provisioning and ingest on loopback ports of their own, measures, prints ONE
# table and appends a dated section to BENCHMARKS.md. Every step is bounded in time; everything
# this script started is stopped on exit (the PostgreSQL cluster only if this script started it).
# Numbers are what was measured on this machine in this run; nothing is asserted or retried.
#
# Settings (environment):
#   BENCH_QUICK=1          short runs (3 s, 20 000 devices) to debug the suite; not recorded
#   BENCH_RECORD=0         do not append to BENCHMARKS.md
#   BENCH_PROVISIONING_PORT / BENCH_INGEST_PORT / BENCH_NGINX_PORT / BENCH_BASELINE_PORT
#                          (18081 / 18080 / 18090 / 18082)
#   BENCH_PERF=1           also record a 5 s `perf` profile of ingest (batch 10) and provisioning
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

QUICK=${BENCH_QUICK:-0}
RECORD=${BENCH_RECORD:-1}
[ "$QUICK" = 1 ] && RECORD=${BENCH_RECORD:-0}
PPORT=${BENCH_PROVISIONING_PORT:-18081}
IPORT=${BENCH_INGEST_PORT:-18080}
NPORT=${BENCH_NGINX_PORT:-18090}
BPORT=${BENCH_BASELINE_PORT:-18082}
BASELINE_POOL=16      # the baseline's PostgreSQL connections (16 did better than 64 here)
DB=fleetgate_bench
if [ "$QUICK" = 1 ]; then
  DEVICES=20000 TOKEN_SECONDS=3 LOAD_SECONDS=3 ONE_SECONDS=3 SIM_SECONDS=3 OPENSSL_SECONDS=1
else
  DEVICES=100000 TOKEN_SECONDS=10 LOAD_SECONDS=15 ONE_SECONDS=10 SIM_SECONDS=10 OPENSSL_SECONDS=5
fi
INGEST_DEVICES=2000   # devices whose access tokens drive ingest
SIM_DEVICES=1000      # devices the simulator acts as (against nginx)
BENCH_DIR="$DATA/bench"
RESULTS="$BENCH_DIR/results.txt"
TICK=$(getconf CLK_TCK)
mkdir -p "$BENCH_DIR"
: >"$RESULTS"

put() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS"; }
json_get() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }
benchjson() { sed -n 's/^BENCHJSON //p' "$1" | tail -1; }
# CPU of the PostgreSQL backends serving the bench database, plus the WAL writer: a snapshot of
# "pid ticks" lines before and after a run; a backend that appeared during the run counts whole.
pg_snapshot() {
  local pid t
  for pid in $(psql_admin -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' OR backend_type = 'walwriter'"); do
    t=$(cpu_ticks "$pid" 2>/dev/null) && echo "$pid $t"
  done
}
pg_cpu_s() {  # before-file after-file -> seconds
  awk -v t="$TICK" 'FNR == NR { before[$1] = $2; next } { sum += $2 - ($1 in before ? before[$1] : 0) }
    END { printf "%.2f", sum / t }' "$1" "$2"
}
timedjson() { sed -n 's/^TIMEDJSON //p' "$1" | tail -1; }
# Busy and total jiffies of the whole machine (all CPUs), for "how busy was the machine".
machine_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
busy_share() {  # "busy0 total0" "busy1 total1" -> busy cores (busy share × nproc)
  awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.2f", (y[1] - x[1]) / (y[2] - x[2]) * n }'
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
now_ns() { date +%s%N; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Every statement bounded in time (a shared cluster can make one wait).
psql_bench() { timeout 120 psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$DB" -qtAX "$@"; }
psql_admin() { timeout 120 psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${PSQL_DB:-postgres}" -qtAX "$@"; }
step() { log "[$(date +%T)] $*"; }

# ---------------------------------------------------------------------------------------------
# Processes started here, stopped on exit.
pids=()
started_pg=0
cleanup() {
  local code=$?
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$started_pg" = 1 ]; then "$ROOT/scripts/pg-stop.sh" || true; fi
  exit "$code"
}
trap cleanup INT TERM EXIT


# ---------------------------------------------------------------------------------------------
step "set-up: packages"
"$ROOT/bench/install.sh"

for port in "$PPORT" "$IPORT" "$NPORT" "$BPORT"; do
  if port_busy "$port"; then
    echo "port $port is in use (set BENCH_PROVISIONING_PORT / BENCH_INGEST_PORT / BENCH_NGINX_PORT / BENCH_BASELINE_PORT)" >&2
    exit 1
  fi
done

step "set-up: release build (the first one takes several minutes)"
# Others may be editing sources while this builds ("modified during the build"): try again.
for product in fleetgate-provisioning fleetgate-ingest fleetgate-simulator fleetgate-bench fleetgate-baseline-ingest; do
  for attempt in 1 2 3; do
    if swift build -c release --product "$product"; then break; fi
    [ "$attempt" = 3 ] && { echo "release build of $product failed" >&2; exit 1; }
    sleep 10
  done
done
BIN=$(swift build -c release --show-bin-path)

step "set-up: PostgreSQL, database $DB emptied"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$PG_DATA/PG_VERSION" ] || ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  started_pg=1
fi
"$ROOT/scripts/pg-start.sh" "$DB"
# A clean run: every table of the previous run goes with the schema. (DROP DATABASE would do the
# same but waits for a checkpoint of the whole cluster, minutes when other work writes to it.)
psql_admin -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()" >/dev/null
PSQL_DB=$DB psql_admin -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public AUTHORIZATION $PG_USER" >/dev/null 2>&1
DATABASE_URL=$(local_database_url "$DB")
"$ROOT/scripts/dev-secrets.sh"
export FLEETGATE_KEYS_ENCRYPTION_KEY_FILE=${FLEETGATE_KEYS_ENCRYPTION_KEY_FILE:-$DATA/kek}
timeout 60 "$BIN/fleetgate-provisioning" migrate --database-url "$DATABASE_URL" >/dev/null
ADMIN_USER=bench-admin
ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
FLEETGATE_OPERATOR_PASSWORD=$ADMIN_PASSWORD timeout 60 "$BIN/fleetgate-provisioning" create-operator \
  --username "$ADMIN_USER" --role admin --database-url "$DATABASE_URL" >/dev/null

# Machine and run facts.
put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put nproc "$(nproc)"
put cpu_model "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
put mem_gib "$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)"
put kernel "$(uname -r)"
put commit "$(git rev-parse --short HEAD)"
if [ -n "$(git status --porcelain -- Sources Package.swift 2>/dev/null)" ]; then
  put commit_dirty "yes"
else
  put commit_dirty "no"
fi
put loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
put quick "$QUICK"
put ports "provisioning :$PPORT, ingest :$IPORT, nginx :$NPORT, baseline :$BPORT"

step "set-up: starting provisioning (:$PPORT) and ingest (:$IPORT)"
"$BIN/fleetgate-provisioning" serve --http-port "$PPORT" --database-url "$DATABASE_URL" \
  >"$BENCH_DIR/provisioning.log" 2>&1 &
PROV_PID=$!
pids+=("$PROV_PID")
wait_ready "http://127.0.0.1:$PPORT/readyz" 60
"$BIN/fleetgate-ingest" serve --http-port "$IPORT" --database-url "$DATABASE_URL" \
  --jwks-url "http://127.0.0.1:$PPORT/.well-known/jwks.json" --rate-per-device 0 --writer-connections 4 \
  >"$BENCH_DIR/ingest.log" 2>&1 &
INGEST_PID=$!
pids+=("$INGEST_PID")
wait_ready "http://127.0.0.1:$IPORT/readyz" 60

ADMIN_TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
  -d "{\"username\":\"$ADMIN_USER\",\"password\":\"$ADMIN_PASSWORD\"}" \
  "http://127.0.0.1:$PPORT/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# ---------------------------------------------------------------------------------------------
# openssl's rate moves by ±10 % from one run to the next on this shared machine, so it is measured
# on both sides of each step it is compared with (tokens, then the micro-benchmarks), and each
# ratio divides by the mean of its two neighbours. Every figure is recorded.
openssl_speed() {
  step "openssl speed rsa2048 ($1; ${OPENSSL_SECONDS} s each for sign and verify, one core)"
  timeout 120 openssl speed -seconds "$OPENSSL_SECONDS" rsa2048 >"$BENCH_DIR/openssl-$1.txt" 2>/dev/null
  local sign verify
  read -r sign verify < <(awk '/^rsa 2048 bits/ {print $6, $7}' "$BENCH_DIR/openssl-$1.txt")
  put "openssl_sign_$1" "$sign"
  put "openssl_verify_$1" "$verify"
}
put openssl_version "$(openssl version | cut -d' ' -f1-2)"
put openssl_seconds "$OPENSSL_SECONDS"

# ---------------------------------------------------------------------------------------------
step "provisioning: bulk enrollment of $DEVICES devices (text/csv)"
awk -v n="$DEVICES" 'BEGIN { print "id,fleet"; for (i = 1; i <= n; i++) printf "bench-%06d,bench\n", i }' \
  >"$BENCH_DIR/devices.csv"
start=$(now_ns)
timeout 300 curl -sS --fail -o "$BENCH_DIR/bulk.ndjson" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: text/csv' --data-binary @"$BENCH_DIR/devices.csv" "http://127.0.0.1:$PPORT/v1/devices/bulk"
end=$(now_ns)
put bulk_devices "$DEVICES"
put bulk_seconds "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')"
put bulk_enrolled "$(grep -c '"refresh_token"' "$BENCH_DIR/bulk.ndjson" || true)"
put bulk_errors "$(grep -c '"error"' "$BENCH_DIR/bulk.ndjson" || true)"

# Split the fleet: the last INGEST_DEVICES for ingest, the SIM_DEVICES before them for the
# simulator, everything else for the token benchmark. No refresh token is used by two steps.
grep '"refresh_token"' "$BENCH_DIR/bulk.ndjson" >"$BENCH_DIR/credentials.ndjson"
total=$(wc -l <"$BENCH_DIR/credentials.ndjson")
token_pool=$((total - INGEST_DEVICES - SIM_DEVICES))
head -n "$token_pool" "$BENCH_DIR/credentials.ndjson" |
  sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p' >"$BENCH_DIR/refresh-tokens.txt"
sed -n "$((token_pool + 1)),$((token_pool + SIM_DEVICES))p" "$BENCH_DIR/credentials.ndjson" >"$BENCH_DIR/sim-credentials.ndjson"
tail -n "$INGEST_DEVICES" "$BENCH_DIR/credentials.ndjson" >"$BENCH_DIR/ingest-credentials.ndjson"
chmod 600 "$BENCH_DIR"/*.ndjson "$BENCH_DIR/refresh-tokens.txt"

# ---------------------------------------------------------------------------------------------
openssl_speed before_tokens
step "provisioning: POST /v1/token for ${TOKEN_SECONDS} s (wrk -t2 -c32, a different refresh token per request)"
cpu0=$(cpu_ticks "$PROV_PID")
pg_snapshot >"$BENCH_DIR/pg-before.txt"
m0=$(machine_jiffies)
TOKENS_FILE="$BENCH_DIR/refresh-tokens.txt" WRK_THREADS=2 timeout $((TOKEN_SECONDS + 60)) \
  python3 bench/tool.py timed --pid-file "$BENCH_DIR/wrk.pid" -- \
  wrk -t2 -c32 -d"${TOKEN_SECONDS}s" --latency -s bench/token.lua "http://127.0.0.1:$PPORT" >"$BENCH_DIR/wrk-token.txt"
cpu1=$(cpu_ticks "$PROV_PID")
m1=$(machine_jiffies)
pg_snapshot >"$BENCH_DIR/pg-after.txt"
put token_pg_cpu_s "$(pg_cpu_s "$BENCH_DIR/pg-before.txt" "$BENCH_DIR/pg-after.txt")"
put token_pool "$token_pool"
put token_json "$(benchjson "$BENCH_DIR/wrk-token.txt")"
put token_wrk_json "$(timedjson "$BENCH_DIR/wrk-token.txt")"
put token_machine_busy_cores "$(busy_share "$m0" "$m1")"
put token_cpu_s "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) / t }')"
openssl_speed after_tokens
# Under the token load both cores are busy (provisioning, PostgreSQL, wrk); one core's signing rate
# is then lower than with the other idle, which is what the one-core figure above measures.
step "openssl speed -multi 2 rsa2048 (both cores signing at once)"
timeout 120 openssl speed -multi 2 -seconds "$OPENSSL_SECONDS" rsa2048 >"$BENCH_DIR/openssl-multi2.txt" 2>/dev/null
put openssl_sign_multi2 "$(awk '/^rsa 2048 bits/ {print $6}' "$BENCH_DIR/openssl-multi2.txt")"

# ---------------------------------------------------------------------------------------------
step "ingest: minting access tokens for $INGEST_DEVICES devices"
timeout 120 python3 bench/tool.py mint --credentials "$BENCH_DIR/ingest-credentials.ndjson" \
  --url "http://127.0.0.1:$PPORT" --out "$BENCH_DIR/access-tokens.txt" --threads 16 >"$BENCH_DIR/mint.json"
put mint_json "$(cat "$BENCH_DIR/mint.json")"
timeout 120 python3 bench/tool.py bodies --tokens "$BENCH_DIR/access-tokens.txt" --batches 1,10,100 \
  --out "$BENCH_DIR/pairs-{n}.bin" >"$BENCH_DIR/bodies.json"
put bodies_json "$(cat "$BENCH_DIR/bodies.json")"

telemetry_rows() { psql_bench -c "SELECT count(*) FROM telemetry"; }

step "ingest: warm-up (3 s, batch 10: fills the verified-token cache)"
PAIRS_FILE="$BENCH_DIR/pairs-10.bin" WRK_THREADS=2 timeout 60 \
  wrk -t2 -c64 -d3s -s bench/telemetry.lua "http://127.0.0.1:$IPORT" >"$BENCH_DIR/wrk-warmup.txt"

load_run() {  # name batch threads connections seconds [port pid]: ingest unless told otherwise
  local name=$1 batch=$2 threads=$3 conns=$4 seconds=$5 port=${6:-$IPORT} pid=${7:-$INGEST_PID}
  psql_bench -c "TRUNCATE telemetry" >/dev/null
  psql_bench -c "CHECKPOINT" >/dev/null || log "CHECKPOINT failed or took over 120 s; going on"
  sleep 1
  local before after c0 c1 m0 m1
  before=$(telemetry_rows)
  c0=$(cpu_ticks "$pid")
  pg_snapshot >"$BENCH_DIR/pg-before.txt"
  m0=$(machine_jiffies)
  step "ingest: $name — batch $batch, wrk -t$threads -c$conns -d${seconds}s on :$port"
  PAIRS_FILE="$BENCH_DIR/pairs-$batch.bin" WRK_THREADS=$threads timeout $((seconds + 60)) \
    python3 bench/tool.py timed --pid-file "$BENCH_DIR/wrk.pid" -- \
    wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -s bench/telemetry.lua "http://127.0.0.1:$port" \
    >"$BENCH_DIR/wrk-$name.txt"
  c1=$(cpu_ticks "$pid")
  m1=$(machine_jiffies)
  pg_snapshot >"$BENCH_DIR/pg-after.txt"
  put "${name}_pg_cpu_s" "$(pg_cpu_s "$BENCH_DIR/pg-before.txt" "$BENCH_DIR/pg-after.txt")"
  put "${name}_wrk_json" "$(timedjson "$BENCH_DIR/wrk-$name.txt")"
  put "${name}_machine_busy_cores" "$(busy_share "$m0" "$m1")"
  sleep 1  # let answers in flight when wrk stopped commit; they count as committed too
  after=$(telemetry_rows)
  put "${name}_json" "$(benchjson "$BENCH_DIR/wrk-$name.txt")"
  put "${name}_batch" "$batch"
  put "${name}_rows" "$((after - before))"
  put "${name}_ingest_cpu_s" "$(awk -v a="$c0" -v b="$c1" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) / t }')"
}
load_run batch1 1 2 64 "$LOAD_SECONDS"
load_run batch10 10 2 64 "$LOAD_SECONDS"
load_run batch100 100 2 64 "$LOAD_SECONDS"
load_run single10 10 1 1 "$ONE_SECONDS"
put ingest_vmhwm_kb "$(status_kb "$INGEST_PID" VmHWM)"
put ingest_vmrss_after_load_kb "$(status_kb "$INGEST_PID" VmRSS)"

# ---------------------------------------------------------------------------------------------
# The issue's targets are stated against the usual one-transaction-per-request design measured on
# another machine; the same design run here, on the same load, tokens, bodies and table, makes
# ratios this machine's speed does not distort (Benchmarks/fleetgate-baseline-ingest).
step "baseline: the usual design (:$BPORT, $BASELINE_POOL PostgreSQL connections), batches 1, 10, 100"
curl -fsS -o "$BENCH_DIR/jwks.json" "http://127.0.0.1:$PPORT/.well-known/jwks.json"
"$BIN/fleetgate-baseline-ingest" "$BPORT" "$DATABASE_URL" "$BENCH_DIR/jwks.json" "$BASELINE_POOL" \
  >"$BENCH_DIR/baseline.log" 2>&1 &
BASELINE_PID=$!
pids+=("$BASELINE_PID")
for _ in $(seq 50); do port_busy "$BPORT" && break; sleep 0.2; done
PAIRS_FILE="$BENCH_DIR/pairs-10.bin" WRK_THREADS=2 timeout 60 \
  wrk -t2 -c64 -d3s -s bench/telemetry.lua "http://127.0.0.1:$BPORT" >"$BENCH_DIR/wrk-baseline-warmup.txt"
load_run base1 1 2 64 "$LOAD_SECONDS" "$BPORT" "$BASELINE_PID"
load_run base10 10 2 64 "$LOAD_SECONDS" "$BPORT" "$BASELINE_PID"
load_run base100 100 2 64 "$LOAD_SECONDS" "$BPORT" "$BASELINE_PID"
kill -TERM "$BASELINE_PID" 2>/dev/null || true
wait "$BASELINE_PID" 2>/dev/null || true


# ---------------------------------------------------------------------------------------------
step "ingest: 200 zlib bombs (8 connections), RSS before/after"
timeout 120 python3 bench/tool.py bomb --out "$BENCH_DIR/bomb.zlib" >"$BENCH_DIR/bomb.json"
# Reset the peak (VmHWM) to the current RSS so the peak below belongs to the bombs alone.
if echo 5 >"/proc/$INGEST_PID/clear_refs" 2>/dev/null; then put bomb_hwm_reset yes; else put bomb_hwm_reset no; fi
put bomb_rss_before_kb "$(status_kb "$INGEST_PID" VmRSS)"
timeout 300 python3 bench/tool.py bombs --bomb "$BENCH_DIR/bomb.zlib" --tokens "$BENCH_DIR/access-tokens.txt" \
  --url "http://127.0.0.1:$IPORT" --count 200 --concurrency 8 >"$BENCH_DIR/bombs.json"
sleep 1
put bomb_rss_after_kb "$(status_kb "$INGEST_PID" VmRSS)"
put bomb_hwm_kb "$(status_kb "$INGEST_PID" VmHWM)"
put bombs_json "$(cat "$BENCH_DIR/bombs.json")"
put bomb_file_json "$(cat "$BENCH_DIR/bomb.json")"

# ---------------------------------------------------------------------------------------------
# Optional profiles, in runs of their own after the measured ones (perf costs CPU too).
record_profile() {  # data-file pid "perf call-graph options" seconds wrk-args...: perf while wrk loads
  local data=$1 pid=$2 calls=$3 seconds=$4
  shift 4
  wrk "$@" >/dev/null &
  local wrk_pid=$!
  sleep 1
  # shellcheck disable=SC2086 # $calls is several options
  timeout 30 perf record $calls -p "$pid" -o "$data" -- sleep "$seconds" >/dev/null 2>&1 || true
  wait "$wrk_pid" || true
}
profile() {  # name pid wrk-args...
  local name=$1 pid=$2
  shift 2
  record_profile "$BENCH_DIR/perf-$name.data" "$pid" "-F 999 -g" 5 "$@"
  {
    echo "# self time (flat)"
    perf report -i "$BENCH_DIR/perf-$name.data" --no-children --sort dso,symbol --percent-limit 1 --stdio \
      -g none 2>/dev/null | grep -E "^ +[0-9.]+%" | head -40
    echo "# inclusive time (children), frame-pointer call chains"
    perf report -i "$BENCH_DIR/perf-$name.data" --children --sort symbol --percent-limit 3 --stdio \
      -g none 2>/dev/null | grep -E "^ +[0-9.]+%" | head -60
  } | swift demangle --simplified | cut -c1-220 >"$BENCH_DIR/perf-$name.txt" || true
  log "profile of $name: $BENCH_DIR/perf-$name.txt"
}
if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
  step "profiles: perf record of ingest (batch 10) and provisioning (tokens), 5 s each"
  PAIRS_FILE="$BENCH_DIR/pairs-10.bin" WRK_THREADS=2 profile ingest-batch10 "$INGEST_PID" \
    -t2 -c64 -d7s -s bench/telemetry.lua "http://127.0.0.1:$IPORT"
  PAIRS_FILE="$BENCH_DIR/pairs-1.bin" WRK_THREADS=2 profile ingest-batch1 "$INGEST_PID" \
    -t2 -c64 -d7s -s bench/telemetry.lua "http://127.0.0.1:$IPORT"
  # Refresh tokens the measured run did not reach (it used far fewer than the pool's first half).
  tail -n "$((token_pool / 2))" "$BENCH_DIR/refresh-tokens.txt" >"$BENCH_DIR/refresh-tokens-perf.txt"
  TOKENS_FILE="$BENCH_DIR/refresh-tokens-perf.txt" WRK_THREADS=2 profile provisioning-token "$PROV_PID" \
    -t2 -c32 -d7s -s bench/token.lua "http://127.0.0.1:$PPORT"
  # Frame-pointer chains stop at libcrypto, so the signature's share needs DWARF unwinding
  # (heavier: 4 s at 499 Hz), on tokens the runs above did not reach.
  sed -n "$((token_pool / 4)),$((token_pool / 2))p" "$BENCH_DIR/refresh-tokens.txt" >"$BENCH_DIR/refresh-tokens-dwarf.txt"
  TOKENS_FILE="$BENCH_DIR/refresh-tokens-dwarf.txt" WRK_THREADS=2 record_profile "$BENCH_DIR/perf-token-dwarf.data" \
    "$PROV_PID" "-F 499 --call-graph dwarf,16384" 4 -t2 -c32 -d6s -s bench/token.lua "http://127.0.0.1:$PPORT"
  # The floor under any answer of the same server: GET /healthz, no database, no signature.
  c0=$(cpu_ticks "$PROV_PID")
  wrk -t2 -c32 -d5s "http://127.0.0.1:$PPORT/healthz" >"$BENCH_DIR/wrk-healthz.txt"
  c1=$(cpu_ticks "$PROV_PID")
  {
    echo "# provisioning while issuing tokens, DWARF call chains (bench/perf-token.py)"
    perf script -i "$BENCH_DIR/perf-token-dwarf.data" 2>/dev/null >"$BENCH_DIR/perf-token-dwarf.txt" || true
    python3 bench/perf-token.py "$BENCH_DIR/perf-token-dwarf.txt"
    awk -v a="$c0" -v b="$c1" -v t="$TICK" '/requests in/ { n = $1 }
      END { printf "# GET /healthz (wrk -t2 -c32, 5 s): %d answers, %.1f µs of provisioning CPU each\n", n, (b - a) / t / n * 1e6 }' \
      "$BENCH_DIR/wrk-healthz.txt"
  } | swift demangle --simplified | cut -c1-220 >>"$BENCH_DIR/perf-provisioning-token.txt" || true
fi

# ---------------------------------------------------------------------------------------------
openssl_speed before_micro
step "micro-benchmarks: fleetgate-bench (one thread)"
quick_flag=()
[ "$QUICK" = 1 ] && quick_flag=(--quick)
timeout 180 "$BIN/fleetgate-bench" "${quick_flag[@]}" | tee "$BENCH_DIR/micro.txt" | grep -v '^BENCHJSON'
put micro_json "$(benchjson "$BENCH_DIR/micro.txt")"
openssl_speed after_micro

# The services are not needed any more; stop them so the simulator step has the machine.
kill -TERM "$INGEST_PID" "$PROV_PID" 2>/dev/null || true
wait "$INGEST_PID" "$PROV_PID" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
step "simulator: one process pinned to CPU 0, batch-1 posts at 20 000/s and 25 000/s to nginx (:$NPORT, CPU 1)"
NGINX_DIR="$BENCH_DIR/nginx"
mkdir -p "$NGINX_DIR/tmp"
sed -e "s|@PORT@|$NPORT|g" -e "s|@DIR@|$NGINX_DIR|g" bench/nginx.conf >"$NGINX_DIR/nginx.conf"
taskset -c 1 nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" -g 'daemon off;' &
pids+=("$!")
wait_ready "http://127.0.0.1:$NPORT/healthz" 10
# Two runs: at 25 000/s, the target row (asked for more than 20 000/s, what it acknowledges is
# what it can offer), and at 20 000/s, the rate held and its latency (bench/README.md).
sim_run() {  # name rate [seconds]
  cp "$BENCH_DIR/sim-credentials.ndjson" "$BENCH_DIR/sim-run-credentials.ndjson"
  rm -f "$BENCH_DIR/$1-report.json"
  python3 bench/tool.py timed --pid-file "$BENCH_DIR/sim.pid" -- \
    timeout -k 5 $((SIM_SECONDS + 90)) taskset -c 0 "$BIN/fleetgate-simulator" run --credentials "$BENCH_DIR/sim-run-credentials.ndjson" \
    --devices "$SIM_DEVICES" --rate "$2" --records-per-batch 1 --duration "${3:-$SIM_SECONDS}s" --connections 64 \
    --encoding deflate --provisioning-url "http://127.0.0.1:$NPORT" --ingest-url "http://127.0.0.1:$NPORT" \
    --quiet --report "$BENCH_DIR/$1-report.json" >"$BENCH_DIR/$1.txt" 2>&1 || true
  put "$1_json" "$(timedjson "$BENCH_DIR/$1.txt")"
  if [ -s "$BENCH_DIR/$1-report.json" ]; then
    put "$1_report" "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$BENCH_DIR/$1-report.json")"
  fi
}
# A 3 s warm-up first, not reported: in the run at 3de7392 the first run (20 000/s) skipped 672
# posts while the next one, at 25 000/s, skipped none; first-run effects (the services just
# stopped, page cache, new connections) belong to neither figure.
sim_run simwarm 20000 3
sim_run sim20 20000
sim_run sim 25000
put sim_seconds "$SIM_SECONDS"

put loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------
record_flag=()
[ "$RECORD" = 1 ] && record_flag=(--record BENCHMARKS.md)
python3 bench/report.py --results "$RESULTS" "${record_flag[@]}"
