#!/usr/bin/env bash
# bench-hll.sh — HyperLogLog commands, rcache against Redis 7 in the same run.
#
# Starts target/release/rcache server and Debian's redis-server on free ports, fills two
# dense HLLs on each (300,000 random elements), then runs redis-benchmark R rounds,
# interleaved (redis, rcache, next round), -c 50:
#   PFADD hll ele:__rand_int__    (-r 10000000, -P 1 and -P 16)
#   PFCOUNT hll                   (one key: the cached cardinality)
#   PFCOUNT hll hll2              (two keys: merged, never cached)
#   PFMERGE hll3 hll hll2
# and prints the median requests/s per target and rcache/Redis.
#
# Usage: scripts/bench-hll.sh [rounds]      (default 3; needs redis-server, redis-benchmark)
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
redis-server --port "$RD" --save '' --appendonly no --logfile "$WORK/redis.log" & PIDS+=($!)
wait_ping "$RC"; wait_ping "$RD"
for p in "$RC" "$RD"; do
  for k in hll hll2; do
    redis-benchmark -p "$p" -q -n 300000 -c 50 -r 10000000 PFADD "$k" 'ele:__rand_int__' >/dev/null
  done
done
TESTS=("PFADD|-n 200000 -c 50 -r 10000000 PFADD hll ele:__rand_int__"
       "PFADD_P16|-n 1000000 -c 50 -P 16 -r 10000000 PFADD hll ele:__rand_int__"
       "PFCOUNT_1|-n 200000 -c 50 PFCOUNT hll"
       "PFCOUNT_2|-n 50000 -c 50 PFCOUNT hll hll2"
       "PFMERGE|-n 50000 -c 50 PFMERGE hll3 hll hll2")
rounds "$ROUNDS"
report
