#!/usr/bin/env bash
# Installs what `make bench` needs beyond `make run`'s packages, only when something is missing:
# wrk (HTTP load generator, scriptable in Lua), nginx (a trivial endpoint for the simulator
# benchmark), and linux-perf when the kernel allows it (optional: only used for profiles).
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
"$ROOT/scripts/install-deps.sh"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v taskset >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # nginx-light is Debian 12's small build; newer releases only ship nginx.
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    apt-get install -y -qq --no-install-recommends "${need[@]/nginx-light/nginx}" >/dev/null
  fi
fi
if [ "${BENCH_PERF:-0}" = 1 ] && ! command -v perf >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends linux-perf >/dev/null || log "linux-perf not installable; no profiles"
fi
