#!/usr/bin/env bash
# `make test`: same set-up as make run with its own database, then the whole suite against it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/install-deps.sh"
if [ -z "${FLEETGATE_TEST_DATABASE_URL:-}" ]; then
  "$ROOT/scripts/pg-start.sh" fleetgate_test
  export FLEETGATE_TEST_DATABASE_URL=$(local_database_url fleetgate_test)
  # Every test makes its own fgt_* database; drop the previous run's.
  for db in $(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAX \
      -c "SELECT datname FROM pg_database WHERE datname LIKE 'fgt\_%'"); do
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  done
fi
log "running swift test against ${FLEETGATE_TEST_DATABASE_URL%%\?*}"
swift build --build-tests
swift test --skip-build "$@"
