#!/usr/bin/env bash
# PostgreSQL's server-side cost of storing one writer transaction's rows (20 000 by default), by
# the ways it could be sent: COPY (binary and text), INSERT … SELECT from a table, and the writer's
# own INSERT … SELECT over unnest'ed column arrays. Every statement runs in a transaction that is
# rolled back, ROUNDS times each, interleaved, against the local cluster (scripts/pg-start.sh).
# The rows come from server-side files and a table, so the figures leave out the wire and the
# client: they answer only "which statement costs PostgreSQL least", which is why the writer
# does not use COPY (TelemetryRows.swift names the other reason).
#   bench/copy-vs-unnest.sh            ROWS=20000 ROUNDS=6
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
ROWS=${ROWS:-20000}
ROUNDS=${ROUNDS:-6}
DB=fleetgate_copybench
"$ROOT/scripts/pg-start.sh" "$DB" >/dev/null
psql_db() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$DB" -qtAX -v ON_ERROR_STOP=1 "$@"; }
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAX \
  -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
# The telemetry table exactly as the migrations make it, with today's partition.
psql_db -f "$ROOT/Sources/FleetStore/Migrations/0002_telemetry.sql" \
  -f "$ROOT/Sources/FleetStore/Migrations/0005_telemetry_c_collation.sql" >/dev/null
FILES=$(runuser -u postgres -- mktemp -d)
trap 'rm -rf "$FILES"; psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAX -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null' EXIT
psql_db <<SQL >/dev/null
CREATE TABLE telemetry_today PARTITION OF telemetry
    FOR VALUES FROM (date_trunc('day', now())) TO (date_trunc('day', now()) + interval '1 day');
-- Rows like the benchmark's: 2 000 devices, a name each, a unit and a double.
CREATE TABLE staged AS
SELECT 'bench-' || lpad((i % 2000)::text, 6, '0') AS device_id,
       date_trunc('day', now()) + (i || ' milliseconds')::interval AS time,
       'bench-' || lpad((i % 2000)::text, 6, '0') || '/temp_' || (i % 10) AS name,
       'Cel'::text AS unit, random() * 40 AS value,
       NULL::text AS string_value, NULL::boolean AS bool_value, NULL::text AS data_value,
       NULL::double precision AS sum
FROM generate_series(1, $ROWS) AS i;
COPY staged TO '$FILES/rows.bin' (FORMAT binary);
COPY staged TO '$FILES/rows.txt';
-- The writer's bind parameters, as one row of arrays.
CREATE TABLE arrays AS
SELECT array_agg(device_id) AS d, array_agg((extract(epoch FROM time) * 1e6)::int8) AS t,
       array_agg(name) AS n, array_agg(true) AS hu, array_agg(unit) AS u, array_agg(0::int2) AS k,
       array_agg(value) AS v, array_agg(NULL::text) AS x, array_agg(NULL::boolean) AS b,
       array_agg(false) AS hs, array_agg(0::float8) AS s
FROM staged;
VACUUM ANALYZE staged, arrays;
SQL

declare -A STATEMENTS=(
  ["COPY binary"]="COPY telemetry FROM '$FILES/rows.bin' (FORMAT binary)"
  ["COPY text"]="COPY telemetry FROM '$FILES/rows.txt'"
  ["INSERT SELECT from a table"]="INSERT INTO telemetry SELECT * FROM staged"
  ["writer's INSERT SELECT unnest"]="INSERT INTO telemetry (device_id, time, name, unit, value, string_value, bool_value, data_value, sum)
    SELECT d, timestamptz 'epoch' + t * interval '1 microsecond', n, CASE WHEN hu THEN u END,
           CASE WHEN k = 0 THEN v END, CASE WHEN k = 1 THEN x END, CASE WHEN k = 2 THEN b END,
           CASE WHEN k = 3 THEN x END, CASE WHEN hs THEN s END
    FROM (SELECT unnest(d) AS d, unnest(t) AS t, unnest(n) AS n, unnest(hu) AS hu, unnest(u) AS u,
                 unnest(k) AS k, unnest(v) AS v, unnest(x) AS x, unnest(b) AS b, unnest(hs) AS hs,
                 unnest(s) AS s FROM arrays) AS r"
)
ORDER=("COPY binary" "COPY text" "INSERT SELECT from a table" "writer's INSERT SELECT unnest")
declare -A TIMES

# One statement's server time in ms: clock_timestamp() around it, in one transaction rolled back.
time_statement() {
  psql_db <<SQL | tail -1
BEGIN;
SELECT set_config('bench.start', clock_timestamp()::text, true);
$1;
SELECT round(extract(epoch FROM clock_timestamp() - current_setting('bench.start')::timestamptz) * 1000, 1);
ROLLBACK;
SQL
}

for name in "${ORDER[@]}"; do time_statement "${STATEMENTS[$name]}" >/dev/null; done  # warm-up
for _ in $(seq "$ROUNDS"); do
  for name in "${ORDER[@]}"; do TIMES[$name]+="$(time_statement "${STATEMENTS[$name]}") "; done
done
# The index's share: the writer's statement into a partition without it.
psql_db -c "DROP INDEX telemetry_device_name_time" >/dev/null
NOINDEX=""
for _ in $(seq "$ROUNDS"); do NOINDEX+="$(time_statement "${STATEMENTS["writer's INSERT SELECT unnest"]}") "; done

echo "| $ROWS rows into today's partition, rolled back | ms, $ROUNDS rounds | median |"
echo "|---|---|---|"
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for name in "${ORDER[@]}"; do echo "| $name | ${TIMES[$name]% } | $(median "${TIMES[$name]}") |"; done
echo "| writer's INSERT SELECT unnest, no index | ${NOINDEX% } | $(median "$NOINDEX") |"
