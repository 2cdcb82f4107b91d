# bench-lib.sh — helpers the bench scripts share; `source` it (needs python3, redis-cli).
#   port VAR       a free port into VAR, never one handed out before in this run (the OS
#                  reuses them)
#   wait_ping PORT until PORT answers PING; else the tails of "$WORK"/*.log and exit 1

USED=" "
port() {
  local _p
  while :; do
    _p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case "$USED" in *" $_p "*) continue ;; esac
    USED="$USED$_p "; printf -v "$1" '%s' "$_p"; return
  done
}

wait_ping() {
  for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "no PING on $1" >&2
  [ -n "${WORK:-}" ] && tail -5 "$WORK"/*.log >&2
  exit 1
}
