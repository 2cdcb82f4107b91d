#!/usr/bin/env bash
# bench-zset.sh — a large sorted set, rcache against Redis 7 in the same run.
#
# Starts Debian's redis-server and one rcache server per binary given (default
# target/release/rcache) on free ports, loads the same 1,000,000 members into `zbig` on each
# (members m:000000000000 … m:000000999999, pseudo-random integer scores in [0, 1e9), a fixed
# sequence) and 1,000,000 spread-out points into `geobig`, reports INFO used_memory per
# member, then runs redis-benchmark R rounds, interleaved (redis, each rcache, next round),
# -c 50:
#   ZADD_NEW      ZADD zbig __rand_int__ n:__rand_int__          (-r 1e9: a new member each
#                 time, anywhere in the order: skip-list inserts; -P 1, and -P 16 as ZADD_NEW_P16)
#   ZADD_UPD      ZADD zbig __rand_int__000 m:__rand_int__       (-r 1e6: existing members get a
#                 new score: unlink + re-insert)
#   ZRANGEBYSCORE ZRANGEBYSCORE zbig __rand_int__000 +inf LIMIT 0 10
#   ZRANK         ZRANK zbig m:__rand_int__
#   ZSCORE        ZSCORE zbig m:__rand_int__
#   GEOADD_SPREAD GEOADD geobig __rand_int__e-9 4__rand_int__e-11 g:__rand_int__  (-r 2e9: new
#                 points spread over lon 0..2, lat 40..40.02, each a new score)
#   ZREM          ZREM zbig m:__rand_int__                       (last: it shrinks the set)
# and prints the median requests/s per target and each rcache/Redis. The inserting tests
# grow the sets by the same amount on every target (~1.7M members after 3 rounds).
#
# Usage: scripts/bench-zset.sh [rounds] [name=binary ...]
#   e.g. scripts/bench-zset.sh 5 before=/tmp/rcache-zset-before after=target/release/rcache
#   ONLY=ZADD_NEW_P16,ZADD_UPD scripts/bench-zset.sh …   runs just those tests
# (default 3 rounds, rcache=target/release/rcache; needs redis-server, redis-benchmark,
# python3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || {
  [ -x target/release/rcache ] || cargo build --release --bin rcache
  TARGETS=("rcache=target/release/rcache")
}
WORK=$(mktemp -d)
PIDS=()
trap stop_servers EXIT
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh  # (the cwd is the repository root)
NAMES=(redis); PORTS=()
port RD; PORTS+=("$RD")
redis-server --port "$RD" --save '' --appendonly no --logfile "$WORK/redis.log" & PIDS+=($!)
for t in "${TARGETS[@]}"; do
  name=${t%%=*}; bin=${t#*=}
  port P; NAMES+=("$name"); PORTS+=("$P")
  mkdir -p "$WORK/$name"
  "$bin" server --port "$P" --http-port 0 --memcache-port 0 --binary-port 0 \
    --dir "$WORK/$name" >"$WORK/$name.log" 2>&1 & PIDS+=($!)
done
for p in "${PORTS[@]}"; do wait_ping "$p"; done
# The same members on every server: one RESP stream of ZADDs / GEOADDs of 1000 each.
python3 - "$WORK/zbig.resp" "$WORK/geobig.resp" <<'EOF'
import sys
def cmd(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
x = 0x2545F4914F6CDD1D
def rnd():
    global x
    x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    return (x >> 11) / float(1 << 53)
with open(sys.argv[1], "wb") as f:
    for b in range(1000):
        args = ["ZADD", "zbig"]
        for i in range(1000):
            args += ["%d" % int(1e9 * rnd()), "m:%012d" % (b * 1000 + i)]
        f.write(cmd(args))
with open(sys.argv[2], "wb") as f:
    for b in range(1000):
        args = ["GEOADD", "geobig"]
        for i in range(1000):
            args += ["%.9f" % (2 * rnd()), "%.11f" % (40 + 0.02 * rnd()), "g:%012d" % (b * 1000 + i)]
        f.write(cmd(args))
EOF
used() { redis-cli -p "$1" INFO memory | tr -d '\r' | sed -n 's/^used_memory:\([0-9]*\)$/\1/p'; }
echo "used_memory per member of zbig (1,000,000 members, 14-byte members):" >&2
for i in "${!PORTS[@]}"; do
  p=${PORTS[$i]}
  m0=$(used "$p")
  redis-cli -p "$p" --pipe <"$WORK/zbig.resp" >/dev/null
  m1=$(used "$p")
  [ "$(redis-cli -p "$p" ZCARD zbig)" = 1000000 ] || { echo "load failed on $p" >&2; exit 1; }
  printf '  %-8s %6.1f B\n' "${NAMES[$i]}" "$(echo "($m1 - $m0) / 1000000" | bc -l)" >&2
  redis-cli -p "$p" --pipe <"$WORK/geobig.resp" >/dev/null
done
# Every server answers alike before it is timed.
for q in "ZRANGE zbig 0 9 WITHSCORES" "ZRANGE zbig 500000 500009 WITHSCORES" \
         "ZRANGEBYSCORE zbig 123456000 +inf LIMIT 0 10" "ZRANK zbig m:000000123456" \
         "ZREVRANK zbig m:000000654321" "ZCOUNT zbig 1e8 2e8" "ZCARD geobig" \
         "GEOSEARCH geobig FROMLONLAT 1 40.01 BYRADIUS 50 m ASC WITHDIST"; do
  # shellcheck disable=SC2086
  a=$(redis-cli -p "$RD" $q | md5sum)
  for p in "${PORTS[@]:1}"; do
    # shellcheck disable=SC2086
    [ "$a" = "$(redis-cli -p "$p" $q | md5sum)" ] || { echo "replies differ on $p: $q" >&2; exit 1; }
  done
done
rps() { redis-benchmark -p "$1" "${@:2}" 2>&1 | tr '\r' '\n' | grep 'requests per second' \
  | sed 's/.*: \([0-9.]*\) requests per second.*/\1/'; }
declare -A R
TESTS=("ZADD_NEW|-n 200000 -c 50 -r 1000000000 ZADD zbig __rand_int__ n:__rand_int__"
       "ZADD_NEW_P16|-n 400000 -c 50 -P 16 -r 1000000000 ZADD zbig __rand_int__ n:__rand_int__"
       "ZADD_UPD|-n 200000 -c 50 -r 1000000 ZADD zbig __rand_int__000 m:__rand_int__"
       "ZRANGEBYSCORE|-n 200000 -c 50 -r 1000000 ZRANGEBYSCORE zbig __rand_int__000 +inf LIMIT 0 10"
       "ZRANK|-n 200000 -c 50 -r 1000000 ZRANK zbig m:__rand_int__"
       "ZSCORE|-n 200000 -c 50 -r 1000000 ZSCORE zbig m:__rand_int__"
       "GEOADD_SPREAD|-n 200000 -c 50 -r 2000000000 GEOADD geobig __rand_int__e-9 4__rand_int__e-11 g:__rand_int__"
       "ZREM|-n 100000 -c 50 -r 1000000 ZREM zbig m:__rand_int__")
if [ -n "${ONLY:-}" ]; then
  KEEP=()
  for t in "${TESTS[@]}"; do case ",$ONLY," in *",${t%%|*},"*) KEEP+=("$t") ;; esac; done
  TESTS=("${KEEP[@]}")
fi
for r in $(seq 1 "$ROUNDS"); do
  for t in "${TESTS[@]}"; do
    name=${t%%|*}; args=${t#*|}
    for i in "${!PORTS[@]}"; do
      # shellcheck disable=SC2086
      R[$name,$i]+="$(rps "${PORTS[$i]}" -q $args) "
    done
  done
  echo "round $r/$ROUNDS done (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-14s' test
for n in "${NAMES[@]}"; do printf ' %10s' "$n"; done
for n in "${NAMES[@]:1}"; do printf ' %10s' "$n/redis"; done
echo
for t in "${TESTS[@]}"; do
  name=${t%%|*}
  printf '%-14s' "$name"
  M=()
  for i in "${!PORTS[@]}"; do M+=("$(echo "${R[$name,$i]}" | median)"); printf ' %10.0f' "${M[$i]}"; done
  for i in "${!PORTS[@]}"; do
    [ "$i" = 0 ] || printf ' %10.2f' "$(echo "${M[$i]} / ${M[0]}" | bc -l)"
  done
  echo
done
