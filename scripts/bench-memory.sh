#!/usr/bin/env bash
# bench-memory.sh — RSS of rcache vs Redis for the same dataset (issue 3's memory target).
#
# Usage: scripts/bench-memory.sh [-n KEYS] [-d VALUE_BYTES] [-b path/to/rcache]
#
# Starts a fresh Redis (Debian's redis-server, --save '' --appendonly no) and a fresh
# `rcache server` on free ports, loads the same N keys ("key:%012d", 16 bytes) with D-byte
# values into each through `redis-cli --pipe`, and prints each server's RSS (VmRSS) before
# and after, the growth per key, and the ratio rcache/Redis. Needs redis-server, redis-cli,
# python3.
set -euo pipefail
N=1000000; D=100; BIN=target/release/rcache
while getopts ":n:d:b:" o; do case $o in n) N=$OPTARG ;; d) D=$OPTARG ;; b) BIN=$OPTARG ;; *) sed -n '2,12p' "$0"; exit 2 ;; esac; done
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "needs redis-server and redis-cli (apt-get install redis-server)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no rcache binary at $BIN (cargo build --release)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_ready() { for _ in $(seq 1 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 not ready" >&2; exit 1; }

DATA=$(mktemp); trap 'rm -f "$DATA"; kill $RPID $CPID 2>/dev/null || true' EXIT
python3 - "$N" "$D" >"$DATA" <<'PY'
import sys
n, d = int(sys.argv[1]), int(sys.argv[2])
val = b"x" * d
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%012d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, d, val))
PY

RP=$(free_port); redis-server --port "$RP" --save '' --appendonly no --daemonize no --logfile /dev/null & RPID=$!
CP=$(free_port); "$BIN" server --port "$CP" --loglevel warning & CPID=$!
wait_ready "$RP"; wait_ready "$CP"

report() { # name pid port
  local before after keys
  before=$(rss_kb "$2")
  redis-cli -p "$3" --pipe <"$DATA" >/dev/null
  sleep 1
  after=$(rss_kb "$2")
  keys=$(redis-cli -p "$3" dbsize)
  python3 -c "b,a,k=$before,$after,$keys; print(f'{\"$1\":<8} keys={k:<9} rss_before={b/1024:8.1f}MiB rss_after={a/1024:8.1f}MiB  growth/key={(a-b)*1024/k:6.1f}B  rss/key={a*1024/k:6.1f}B')"
  echo "$after" >"$DATA.$1"
}
echo "dataset: $N keys of 16 bytes, $D-byte values"
report redis "$RPID" "$RP"
report rcache "$CPID" "$CP"
python3 -c "r=int(open('$DATA.redis').read()); c=int(open('$DATA.rcache').read()); print(f'rcache/redis RSS ratio: {c/r:.3f}')"
rm -f "$DATA.redis" "$DATA.rcache"
