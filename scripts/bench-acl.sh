#!/usr/bin/env bash
# bench-acl.sh — what ACL checks cost on GET/SET: the default user (unrestricted) against
# a user with a key pattern (`~key:* +@all`), on rcache and on Redis 7 in the same run.
#
# Starts target/release/rcache server and Debian's redis-server on free ports, creates on
# each `ACL SETUSER bench on >benchpw ~key:* +@all` (redis-benchmark's keys are
# key:__rand_int__, so every request passes the pattern check), then runs redis-benchmark
# R rounds, interleaved (for each test: redis default, redis bench, rcache default,
# rcache bench), -c 50 -r 100000, at -P 1 and -P 16, and prints the median requests/s per
# target with two ratios from the same run: bench/default per server (the ACL cost) and
# rcache/Redis per user.
#
# Usage: scripts/bench-acl.sh [rounds]      (default 5; needs redis-server, redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
BIN=target/release/rcache
[ -x "$BIN" ] || cargo build --release --bin rcache
WORK=$(mktemp -d)
PIDS=()
trap stop_servers EXIT
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh  # (the cwd is the repository root)
port RC; port RD
"$BIN" server --port "$RC" --http-port off --memcache-port off --binary-port off --dir "$WORK" \
  --save '' >"$WORK/rcache.log" 2>&1 & PIDS+=($!)
redis-server --port "$RD" --save '' --appendonly no --logfile "$WORK/redis.log" & PIDS+=($!)
wait_ping "$RC"; wait_ping "$RD"
for p in "$RC" "$RD"; do
  [ "$(redis-cli -p "$p" ACL SETUSER bench on '>benchpw' '~key:*' '+@all')" = OK ]
  # Every GET hits.
  redis-benchmark -p "$p" -q -n 200000 -c 50 -r 100000 -t set >/dev/null
done
rps() { redis-benchmark -p "$1" "${@:2}" 2>&1 | tr '\r' '\n' | grep 'requests per second' \
  | sed 's/.*: \([0-9.]*\) requests per second.*/\1/'; }
declare -A R
TESTS=("SET|-n 300000 -c 50 -r 100000 -t set"
       "GET|-n 300000 -c 50 -r 100000 -t get"
       "SET_P16|-n 2000000 -c 50 -P 16 -r 100000 -t set"
       "GET_P16|-n 2000000 -c 50 -P 16 -r 100000 -t get")
AS_BENCH="--user bench -a benchpw"
for r in $(seq 1 "$ROUNDS"); do
  for t in "${TESTS[@]}"; do
    name=${t%%|*}; args=${t#*|}
    # shellcheck disable=SC2086
    R[$name,redis]+="$(rps "$RD" -q $args) "
    # shellcheck disable=SC2086
    R[$name,redis_acl]+="$(rps "$RD" -q $AS_BENCH $args 2>/dev/null) "
    # shellcheck disable=SC2086
    R[$name,rcache]+="$(rps "$RC" -q $args) "
    # shellcheck disable=SC2086
    R[$name,rcache_acl]+="$(rps "$RC" -q $AS_BENCH $args 2>/dev/null) "
  done
  echo "round $r/$ROUNDS done" >&2
done
# Both servers really checked the pattern: a key outside it is refused to `bench`.
for p in "$RC" "$RD"; do
  out=$(redis-cli -p "$p" --user bench --pass benchpw --no-auth-warning GET other)
  case "$out" in *NOPERM*) ;; *) echo "port $p: bench was not restricted: $out" >&2; exit 1 ;; esac
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-8s %10s %10s %10s %10s %9s %9s %9s %9s\n' test redis redis_acl rcache rcache_acl \
  'redis a/d' 'rcache a/d' 'rc/rd' 'rc/rd acl'
for t in "${TESTS[@]}"; do
  name=${t%%|*}
  a=$(echo "${R[$name,redis]}" | median); b=$(echo "${R[$name,redis_acl]}" | median)
  c=$(echo "${R[$name,rcache]}" | median); d=$(echo "${R[$name,rcache_acl]}" | median)
  printf '%-8s %10.0f %10.0f %10.0f %10.0f %9.3f %9.3f %9.2f %9.2f\n' "$name" "$a" "$b" "$c" "$d" \
    "$(echo "$b / $a" | bc -l)" "$(echo "$d / $c" | bc -l)" \
    "$(echo "$c / $a" | bc -l)" "$(echo "$d / $b" | bc -l)"
done
