#!/usr/bin/env bash
# bench-stream.sh — streams, rcache against Redis 7 in the same run.
#
# Starts target/release/rcache server and Debian's redis-server on free ports, then:
#  1. memory: 1,000,000 entries of 3 small fields (XADD mem * name n:<rand> price <rand>
#     qty <rand>, by redis-benchmark) into one stream on each; used_memory before/after and
#     the process RSS, per entry;
#  2. throughput, R rounds interleaved (redis, rcache, next round), -c 50:
#       XADD s * f1 v1 f2 __rand_int__ f3 v3               (-P 1 and -P 16)
#       XREADGROUP GROUP g c COUNT 1 STREAMS q >           (each call delivers one entry)
#       XACK q g <id>                                      (ids of delivered entries)
#     q is refilled with the same 1,000,000 explicit IDs (i-1) on both servers and its
#     group reset before each XREADGROUP run, so both read the same stream.
# Prints the medians and rcache/Redis.
#
# Usage: scripts/bench-stream.sh [rounds]   (default 3; needs redis-server, redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
BIN=target/release/rcache
[ -x "$BIN" ] || cargo build --release --bin rcache
WORK=$(mktemp -d)
PIDS=()
trap stop_servers EXIT
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh  # (the cwd is the repository root)
port RC; port RD
"$BIN" server --port "$RC" --http-port 0 --memcache-port 0 --binary-port 0 --dir "$WORK" \
  >"$WORK/rcache.log" 2>&1 & PIDS+=($!)
RCPID=$!
redis-server --port "$RD" --save '' --appendonly no --logfile "$WORK/redis.log" & PIDS+=($!)
RDPID=$!
wait_ping "$RC"; wait_ping "$RD"
used() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

# 1. Memory.
N=1000000
declare -A M0 M1 S0 S1
for t in "RD:$RD:$RDPID" "RC:$RC:$RCPID"; do
  IFS=: read -r name p pid <<<"$t"
  M0[$name]=$(used "$p"); S0[$name]=$(rss_kb "$pid")
  redis-benchmark -p "$p" -q -n "$N" -c 50 -P 64 -r 1000000 \
    XADD mem '*' name 'n:__rand_int__' price __rand_int__ qty __rand_int__ >/dev/null
  M1[$name]=$(used "$p"); S1[$name]=$(rss_kb "$pid")
  echo "$name: XLEN mem = $(redis-cli -p "$p" XLEN mem)" >&2
done
printf '%-8s %14s %14s\n' memory redis rcache
printf '%-8s %14.1f %14.1f   bytes/entry (used_memory)\n' per-entry \
  "$(echo "(${M1[RD]} - ${M0[RD]}) / $N" | bc -l)" "$(echo "(${M1[RC]} - ${M0[RC]}) / $N" | bc -l)"
printf '%-8s %14.1f %14.1f   bytes/entry (RSS)\n' rss \
  "$(echo "(${S1[RD]} - ${S0[RD]}) * 1024 / $N" | bc -l)" "$(echo "(${S1[RC]} - ${S0[RC]}) * 1024 / $N" | bc -l)"
printf 'ratio rcache/redis used_memory: %.2f\n' \
  "$(echo "(${M1[RC]} - ${M0[RC]}) / (${M1[RD]} - ${M0[RD]})" | bc -l)"
redis-cli -p "$RC" del mem >/dev/null; redis-cli -p "$RD" del mem >/dev/null

# The read stream: the same explicit IDs on both servers.
Q=1000000
python3 - "$Q" >"$WORK/q.resp" <<'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*a):
    out.write(b"*%d\r\n" % len(a))
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.write(b"$%d\r\n%s\r\n" % (len(x), x))
for i in range(1, n + 1):
    cmd("XADD", "q", f"{i}-1", "f1", "v1", "f2", str(i), "f3", "v3")
EOF
refill() {
  redis-cli -p "$1" del q >/dev/null
  redis-cli -p "$1" --pipe <"$WORK/q.resp" >/dev/null
  redis-cli -p "$1" xgroup create q g 0 >/dev/null
}
refill_both() { refill "$RD"; refill "$RC"; }

TESTS=("XADD|-n 300000 -c 50 -r 1000000 XADD s * f1 v1 f2 __rand_int__ f3 v3"
       "XADD_P16|-n 1000000 -c 50 -P 16 -r 1000000 XADD s * f1 v1 f2 __rand_int__ f3 v3"
       "XREADGROUP|-n 300000 -c 50 XREADGROUP GROUP g c COUNT 1 STREAMS q >"
       "XACK|-n 300000 -c 50 -r 300000 XACK q g __rand_int__-1")
rounds "$ROUNDS" refill_both
report
