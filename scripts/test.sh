#!/usr/bin/env bash
# `make test`: same set-up as make run with its own database, then the whole suite against it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/install-deps.sh"
if [ -z "${FLEETGATE_TEST_DATABASE_URL:-}" ]; then
  "$ROOT/scripts/pg-start.sh" fleetgate_test
  export FLEETGATE_TEST_DATABASE_URL=$(local_database_url fleetgate_test)
fi
log "running swift test against ${FLEETGATE_TEST_DATABASE_URL%%\?*}"
swift build --build-tests
swift test --skip-build --parallel "$@"
