# bench-lib.sh — helpers the bench scripts share; `source` it (needs python3, redis-cli).
#   port VAR       a free port into VAR, never one handed out before in this run (the OS
#                  reuses them)
#   wait_ping PORT until PORT answers PING; else the tails of "$WORK"/*.log and exit 1
#   stop_servers   (for `trap stop_servers EXIT`) stop every pid in PIDS, wait for them to
#                  exit (rcache writes its shutdown files into $WORK), then remove $WORK

USED=" "
port() {
  local _p
  while :; do
    _p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case "$USED" in *" $_p "*) continue ;; esac
    USED="$USED$_p "; printf -v "$1" '%s' "$_p"; return
  done
}

stop_servers() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}

wait_ping() {
  for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "no PING on $1" >&2
  [ -n "${WORK:-}" ] && tail -5 "$WORK"/*.log >&2
  exit 1
}

# rps PORT ARGS…  the requests per second redis-benchmark reports for ARGS against PORT
rps() { redis-benchmark -p "$1" "${@:2}" 2>&1 | tr '\r' '\n' | grep 'requests per second' \
  | sed 's/.*: \([0-9.]*\) requests per second.*/\1/'; }

# rounds N [HOOK]  every entry of the array TESTS ("name|redis-benchmark args") against
#                  Redis ($RD) then rcache ($RC), N interleaved rounds; HOOK (a command) runs
#                  before each round. Results go to the associative array R.
declare -A R
rounds() {
  local r t name args
  for r in $(seq 1 "$1"); do
    [ -n "${2:-}" ] && "$2"
    for t in "${TESTS[@]}"; do
      name=${t%%|*}; args=${t#*|}
      set -f  # the arguments hold * and > for redis-benchmark, not for the shell
      # shellcheck disable=SC2086
      R[$name,redis]+="$(rps "$RD" -q $args) "
      # shellcheck disable=SC2086
      R[$name,rcache]+="$(rps "$RC" -q $args) "
      set +f
    done
    echo "round $r/$1 done" >&2
  done
}

# report  the median of each test's rounds, per target, and rcache/Redis
report() {
  local t name a b
  median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  printf '%-14s %12s %12s %8s\n' test redis rcache ratio
  for t in "${TESTS[@]}"; do
    name=${t%%|*}
    a=$(echo "${R[$name,redis]}" | median); b=$(echo "${R[$name,rcache]}" | median)
    printf '%-14s %12.0f %12.0f %8.2f\n' "$name" "$a" "$b" "$(echo "$b / $a" | bc -l)"
  done
}
