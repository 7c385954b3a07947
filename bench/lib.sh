# Shell helpers shared by bench/run.sh and bench/token-ab.sh (sourced, after scripts/env.sh).

# CPU ticks (user + system) a process has used so far.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

wait_ready() {  # url seconds
  for _ in $(seq $(($2 * 5))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "not ready after $2 s: $1" >&2
  return 1
}
