#!/usr/bin/env bash
# bench-compare.sh — rcache vs Redis 7 with redis-benchmark, interleaved, in one run.
#
# Usage: scripts/bench-compare.sh [-R rounds] [-s S1,S2,S3] [-t threads] [-b path/to/rcache]
#
# Starts Debian's redis-server (--save '' --appendonly no) and `rcache server` on free
# ports, runs the shared harness (compare.sh, found at $COMPARE or ../shared/bench/compare.sh)
# against both — redis first, so ratios are rcache/redis — and stops both. Scenarios:
#   S1 -t set,get -n 100000  -d 1000 -c 1            S2 -t set,get -n 200000 -d 1000 -c 100
#   S3 -t set,get -n 1000000 -d 100  -c 50 -P 16     (all with -r 100000)
#   SUITE  redis-benchmark's whole default suite, -n 200000 -c 50 (issue 4's table)
set -euo pipefail
ROUNDS=3; SCEN=S1,S2,S3; THREADS=0; BIN=target/release/rcache
COMPARE=${COMPARE:-$(dirname "$0")/../../shared/bench/compare.sh}
while getopts ":R:s:t:b:" o; do case $o in R) ROUNDS=$OPTARG ;; s) SCEN=$OPTARG ;; t) THREADS=$OPTARG ;; b) BIN=$OPTARG ;; *) sed -n '2,11p' "$0"; exit 2 ;; esac; done
[ -x "$COMPARE" ] || { echo "compare.sh not found (set COMPARE=path)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no rcache binary at $BIN (cargo build --release)" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 not ready" >&2; exit 1; }
RP=$(free_port); CP=$(free_port)
redis-server --port "$RP" --save '' --appendonly no --logfile /dev/null & RPID=$!
"$BIN" server --port "$CP" --threads "$THREADS" --loglevel warning & CPID=$!
trap 'kill $RPID $CPID 2>/dev/null || true' EXIT
wait_ready "$RP"; wait_ready "$CP"
echo "redis-server $(redis-server --version | awk '{print $3}') on $RP; rcache ($("$BIN" --version)) threads=$THREADS on $CP"
SUITE="SUITE=-t ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_500,lrange_600,mset -n 200000 -c 50"
"$COMPARE" -R "$ROUNDS" -S "$SUITE" -s "$SCEN" redis=127.0.0.1:"$RP" rcache=127.0.0.1:"$CP"
