#!/usr/bin/env bash
# `make reliability`: the slow fault and overload tests of issue 6 (not part of `make test`).
#
# Starts a PostgreSQL cluster of its own (.data/pg-reliability, port 54339), a fresh database
# `fleetgate_rel`, provisioning (28081) and ingest (28080) from the release build, and drives
# them with fleetgate-simulator while it breaks things:
#   1 PostgreSQL restarted (pg_ctl restart -m fast) mid-run
#   2 ingest sent SIGTERM mid-run and started again a few seconds later
#   3 provisioning down (SIGTERM) for a while; ingest keeps serving held tokens
#   4 signing-key rotation mid-run, device tokens short-lived so refreshes pick up the new key
#   5 overload: capacity measured in steps, then twice that for 20 s against a bounded ingest
# After each: the simulator's --verify (lost = 0, duplicated = 0 over every acknowledged batch)
# and whether service came back by itself. Prints one table; results in .data/reliability/.
# Every run is bounded; everything started here is stopped on exit, by pid.
#
# Environment: REL_SCENARIOS="1 2 3 4 5" (which to run), REL_QUICK=1 (short runs, to debug),
# REL_BUILD=0 (use the binaries already built), REL_BIN=dir (binaries to use).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
SCENARIOS=${REL_SCENARIOS:-1 2 3 4 5}
QUICK=${REL_QUICK:-0}
TOOL="python3 $ROOT/reliability/tool.py"

if [ "${REL_BUILD:-1}" = 1 ]; then
  log "building release binaries"
  for product in fleetgate-provisioning fleetgate-ingest fleetgate-simulator; do
    swift build -c release --product "$product" >"$DATA/reliability-build.log" 2>&1 ||
      { tail -30 "$DATA/reliability-build.log" >&2; echo "build of $product failed" >&2; exit 1; }
  done
fi
BIN=${REL_BIN:-$ROOT/.build/release}
for product in fleetgate-provisioning fleetgate-ingest fleetgate-simulator; do
  [ -x "$BIN/$product" ] || { echo "missing $BIN/$product (swift build -c release --product $product)" >&2; exit 1; }
done

mkdir -p "$REL_DIR"
rm -f "$REL_DIR"/*.json "$REL_DIR"/*.log "$REL_DIR"/*.ndjson "$REL_DIR"/*.txt "$REL_DIR"/*.rss "$REL_DIR"/*.poll
: >"$REL_DIR/results.txt"

started_pg=0
POLL_PID=
cleanup() {
  trap - INT TERM EXIT
  for pid in "$SIM_PID" "$POLL_PID" "$RSS_PID"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null; done
  stop_pid "$INGEST_PID"
  stop_pid "$PROV_PID"
  [ "$started_pg" = 1 ] && "$ROOT/scripts/pg-stop.sh"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 || started_pg=1
"$ROOT/scripts/pg-start.sh" postgres >/dev/null
psql_admin -c "DROP DATABASE IF EXISTS $REL_DB WITH (FORCE)"
psql_admin -c "CREATE DATABASE $REL_DB OWNER $PG_USER"
"$ROOT/scripts/dev-secrets.sh"
REL_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
"$BIN/fleetgate-provisioning" migrate --database-url "$DB_URL" >>"$REL_DIR/provisioning.log" 2>&1
FLEETGATE_OPERATOR_PASSWORD=$REL_PASSWORD "$BIN/fleetgate-provisioning" create-operator \
  --username "$REL_ADMIN" --role admin --if-missing --database-url "$DB_URL" >>"$REL_DIR/provisioning.log" 2>&1

if [ "$QUICK" = 1 ]; then RUN=12 AT=4 DOWN=3; else RUN=30 AT=10 DOWN=5; fi
DEVICES=50 RATE=200
# Fault runs: more attempts than the default 8 (≈ 6 s of backoff) so a batch outlives a restart.
FAULT_OPTS=(--devices "$DEVICES" --rate "$RATE" --duration "${RUN}s" --max-attempts 20 --request-timeout 5s --max-in-flight 2048)

sim_results() {  # name: the report's figures into results.txt
  local name=$1 line
  if [ ! -s "$REL_DIR/$name.json" ]; then put report missing; return; fi
  while IFS= read -r line; do put "${line%%=*}" "${line#*=}"; done < <($TOOL sim "$REL_DIR/$name.json")
}

lines() { wc -l <"$1" | tr -d ' '; }

# ---------------------------------------------------------------------------------------------
scenario_1() {  # PostgreSQL restarted during load
  SCENARIO=s1
  log "1: PostgreSQL restarted (pg_ctl restart -m fast) ${AT}s into a ${RUN}s run, $DEVICES devices, $RATE req/s"
  start_simulator s1 "${FAULT_OPTS[@]}"
  sleep "$AT"
  local t0 r
  t0=$(now_ms)
  pg_restart
  put pg_restart_s "$(since "$t0")"
  # ingest's own /readyz must come back to 200 without anyone touching ingest
  r=$(wait_status "$INGEST_URL/readyz" 200 60) && put ready_again_s "$r" || put ready_again_s "no (>60 s)"
  wait_simulator; put sim_exit "$SIM_RC"
  kill -0 "$INGEST_PID" 2>/dev/null && put ingest_alive yes || put ingest_alive no
  kill -0 "$PROV_PID" 2>/dev/null && put provisioning_alive yes || put provisioning_alive no
  sim_results s1
}

scenario_2() {  # ingest SIGTERM, restarted a few seconds later
  SCENARIO=s2
  log "2: ingest SIGTERM ${AT}s into a ${RUN}s run, started again ${DOWN}s later"
  start_simulator s2 "${FAULT_OPTS[@]}"
  sleep "$AT"
  local t0
  term_and_time "$INGEST_PID"
  put exit_after_sigterm_s "$TERM_SECONDS"
  put ingest_exit_status "$TERM_STATUS"
  sleep "$DOWN"
  t0=$(now_ms)
  if start_ingest; then put restart_ready_s "$(since "$t0")"; else put restart_ready_s failed; fi
  wait_simulator; put sim_exit "$SIM_RC"
  sim_results s2
}

scenario_3() {  # provisioning down while ingest serves
  SCENARIO=s3
  local down=$((RUN / 2)) t0 bad
  log "3: provisioning SIGTERM ${AT}s into a ${RUN}s run, down for ${down}s"
  start_simulator s3 "${FAULT_OPTS[@]}"
  sleep "$AT"
  : >"$REL_DIR/s3.poll"
  start_poller "$INGEST_URL/readyz" "$REL_DIR/s3.poll"
  term_and_time "$PROV_PID"
  put provisioning_exit_s "$TERM_SECONDS"
  put provisioning_exit_status "$TERM_STATUS"
  sleep "$down"
  kill "$POLL_PID" 2>/dev/null; wait "$POLL_PID" 2>/dev/null; POLL_PID=
  bad=$(awk '$2 != 200' "$REL_DIR/s3.poll" | wc -l)
  put readyz_polls_while_down "$(lines "$REL_DIR/s3.poll")"
  put readyz_not_200_while_down "$bad"
  t0=$(now_ms)
  if start_provisioning; then put provisioning_back_ready_s "$(since "$t0")"; else put provisioning_back_ready_s failed; fi
  wait_simulator; put sim_exit "$SIM_RC"
  sim_results s3
}

scenario_4() {  # key rotation during load; device tokens of 60 s refreshed across it
  SCENARIO=s4
  local run=$((QUICK == 1 ? 30 : 60)) at=$((QUICK == 1 ? 8 : 15)) token kid0 kid1
  log "4: signing key rotated ${at}s into a ${run}s run; device tokens live 60 s (refreshed at ~80 %)"
  stop_pid "$PROV_PID"
  start_provisioning --token-device-lifetime 60 || return 1
  kid0=$(curl -s "$PROV_URL/.well-known/jwks.json" | jq -r '[.keys[].kid] | join(",")')
  start_simulator s4 --devices "$DEVICES" --rate "$RATE" --duration "${run}s" --max-attempts 20 --request-timeout 5s --max-in-flight 2048
  sleep "$at"
  token=$(curl -s -H 'Content-Type: application/json' \
    -d "{\"username\":\"$REL_ADMIN\",\"password\":\"$REL_PASSWORD\"}" "$PROV_URL/v1/login" | jq -r .access_token)
  kid1=$(curl -s -X POST -H "Authorization: Bearer $token" "$PROV_URL/v1/keys/rotate" | jq -r .kid)
  put kids_before "$kid0"
  put rotated_to "$kid1"
  wait_simulator; put sim_exit "$SIM_RC"
  put jwks_after "$(curl -s "$PROV_URL/.well-known/jwks.json" | jq -r '[.keys[].kid] | join(",")')"
  put ingest_jwks_refreshes "$(curl -s "$INGEST_URL/metrics" | grep '^fleetgate_jwks_refreshes_total' | tr '\n' ' ')"
  sim_results s4
  # Part b: rotate again, then the first posts of 32 devices holding new-kid tokens arrive at
  # once, before ingest has the new key: each must be accepted (one unknown-kid JWKS refresh).
  kid1=$(curl -s -X POST -H "Authorization: Bearer $token" "$PROV_URL/v1/keys/rotate" | jq -r .kid)
  put burst_rotated_to "$kid1"
  if $TOOL burst "$PROV_URL" "$INGEST_URL" "$REL_DIR/s4.fleet.ndjson" 32 "$REL_DIR/s4.burst.json"; then
    put burst_answers "$(jq -c .answers "$REL_DIR/s4.burst.json")"
    put burst_kids "$(jq -r '.kids | join(",")' "$REL_DIR/s4.burst.json")"
  else
    put burst_answers failed
  fi
  # back to the default lifetime for what follows
  stop_pid "$PROV_PID"
  start_provisioning
}

scenario_5() {  # overload at twice the measured capacity
  SCENARIO=s5
  local steps rate best=0 ack step_s=$((QUICK == 1 ? 4 : 6)) over_s=$((QUICK == 1 ? 8 : 20)) line
  local inflight=${REL_MAX_IN_FLIGHT:-256} queued=${REL_MAX_QUEUED_ROWS:-200000} conns=${REL_CONNECTIONS:-512}
  log "5: overload; ingest http.maxInFlight=$inflight writer.maxQueuedRows=$queued, rate limit off"
  stop_pid "$INGEST_PID"
  # rate.perDevice 0: the per-device limiter would answer 429 first and hide the server's own shedding
  start_ingest --http-max-in-flight "$inflight" --writer-max-queued-rows "$queued" --rate-per-device 0 || return 1
  put max_in_flight "$inflight"; put max_queued_rows "$queued"; put connections "$conns"
  # capacity: steps of rising rate, one attempt each; capacity = most acknowledged req/s seen
  steps=${REL_CAPACITY_STEPS:-1000 2000 4000 6000}
  export SIM_FLEET=s5
  for rate in $steps; do
    SIM_PID=
    start_simulator "s5cap$rate" --devices 1000 --rate "$rate" --duration "${step_s}s" --max-attempts 1 \
      --connections "$conns" --max-in-flight 4096
    wait_simulator
    ack=$(jq -r '.requests_per_second | floor' "$REL_DIR/s5cap$rate.json" 2>/dev/null || echo 0)
    local p99 s503
    p99=$(jq -r '.latency_ms.p99' "$REL_DIR/s5cap$rate.json" 2>/dev/null)
    s503=$(jq -r '.answers_by_status["503"] // 0' "$REL_DIR/s5cap$rate.json" 2>/dev/null)
    put "capacity_step_$rate" "ack ${ack}/s, p99 ${p99} ms, 503 ${s503}"
    ((ack > best)) && best=$ack
    # stop climbing once the server no longer keeps up
    ((ack * 10 < rate * 8)) && break
  done
  put capacity_req_s "$best"
  rate=$((best * 2))
  put offered_req_s "$rate"
  log "5: capacity ≈ $best req/s; offering $rate req/s for ${over_s}s"
  FLEETGATE_ADMIN_PASSWORD=$REL_PASSWORD "$BIN/fleetgate-simulator" enroll --provisioning-url "$PROV_URL" \
    --admin-user "$REL_ADMIN" --devices 1 --id-prefix probe --fleet probe \
    --credentials "$REL_DIR/probe.fleet.ndjson" >"$REL_DIR/probe.enroll.log" 2>&1
  : >"$REL_DIR/s5.rss"
  start_rss_sampler "$INGEST_PID" "$REL_DIR/s5.rss"
  start_simulator s5 --devices 1000 --rate "$rate" --duration "${over_s}s" --connections "$conns" \
    --max-in-flight 100000 --max-attempts 20
  sleep 1
  $TOOL probe "$PROV_URL" "$INGEST_URL" "$REL_DIR/probe.fleet.ndjson" "$((over_s - 2))" 0.05 "$REL_DIR/s5.probe.json" \
    || put probe failed
  wait_simulator; put sim_exit "$SIM_RC"
  kill "$RSS_PID" 2>/dev/null; wait "$RSS_PID" 2>/dev/null; RSS_PID=
  while IFS= read -r line; do put "${line%%=*}" "${line#*=}"; done < <($TOOL rss "$REL_DIR/s5.rss")
  if [ -s "$REL_DIR/s5.probe.json" ]; then
    put probe "$(jq -c '.by_status' "$REL_DIR/s5.probe.json")"
    local dev acked stored
    dev=$(jq -r .device "$REL_DIR/s5.probe.json")
    acked=$(jq -r '.by_status["200"].count // 0' "$REL_DIR/s5.probe.json")
    stored=$(psql_db -c "SELECT count(*) FROM telemetry WHERE device_id = '$dev'")
    put probe_acknowledged_records "$((acked * 4))"
    put probe_stored_records "$stored"
  fi
  kill -0 "$INGEST_PID" 2>/dev/null && put ingest_alive yes || put ingest_alive no
  r=$(wait_status "$INGEST_URL/readyz" 200 10) && put ready_after_s "$r" || put ready_after_s "no"
  sim_results s5
  unset SIM_FLEET
}

start_provisioning || exit 1
start_ingest || exit 1
for s in $SCENARIOS; do
  SCENARIO=s$s
  started=$(now_ms)
  # every scenario starts with both services up
  kill -0 "$PROV_PID" 2>/dev/null || start_provisioning
  kill -0 "$INGEST_PID" 2>/dev/null || start_ingest
  "scenario_$s"
  put wall_s "$(since "$started")"
done

log "results ($REL_DIR/results.txt)"
cat "$REL_DIR/results.txt"
# Pass: every verified run lost and doubled nothing.
fail=0
for s in $SCENARIOS; do
  lost=$(sed -n "s/^s$s\.lost=//p" "$REL_DIR/results.txt")
  dup=$(sed -n "s/^s$s\.duplicated=//p" "$REL_DIR/results.txt")
  if [ "$lost" != 0 ] || [ "$dup" != 0 ]; then
    echo "scenario $s: lost=${lost:-?} duplicated=${dup:-?}" >&2
    fail=1
  fi
done
# Rotation: no post may be refused because of it (401), in the run or in the burst after it.
if [[ " $SCENARIOS " == *" 4 "* ]]; then
  s401=$(sed -n 's/^s4\.s401=//p' "$REL_DIR/results.txt")
  burst=$(sed -n 's/^s4\.burst_answers=//p' "$REL_DIR/results.txt")
  if [ "${s401:-x}" != 0 ] || [ "$burst" != '{"200":32}' ]; then
    echo "scenario 4: posts refused around the key rotation: 401s in the run ${s401:-?}, burst $burst" >&2
    fail=1
  fi
fi
[ "$fail" = 0 ] && log "every scenario: lost = 0, duplicated = 0, no 401 from rotation" || log "FAILED: see above"
exit "$fail"
