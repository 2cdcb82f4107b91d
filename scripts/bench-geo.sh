#!/usr/bin/env bash
# bench-geo.sh — geo commands, rcache against Redis 7 in the same run.
#
# Starts target/release/rcache server and Debian's redis-server on free ports, loads the
# same 10,000 points (lon -10..10, lat 40..60, a fixed pseudo-random sequence) into `geo` on
# each, then runs redis-benchmark R rounds, interleaved (redis, rcache, next round), -c 50:
#   GEOADD geoadd 13.__rand_int__ 38.__rand_int__ m:__rand_int__   (-r 1000000, -P 1 and -P 16:
#          random members, all within a metre, so a handful of scores: member order decides)
#   GEOADD geospread __rand_int__e-9 4__rand_int__e-11 m:__rand_int__  (-r 2000000000: points
#          spread over lon 0..2, lat 40..40.02, every member a new score: skip-list inserts)
#   ZADD zspread __rand_int__ m:__rand_int__   (the same inserts without geo: the reference
#          for GEOADD_SPREAD, whose time is the sorted set's)
#   GEOSEARCH geo FROMLONLAT 0 50 BYRADIUS 100 km COUNT 10          (the 10 nearest, sorted)
#   GEOSEARCH geo FROMLONLAT 0 50 BYRADIUS 100 km                   (all ~100 in the circle)
#   GEOSEARCH geo FROMLONLAT 0 50 BYBOX 150 150 km ASC WITHDIST     (~100, sorted, distances)
# and prints the median requests/s per target and rcache/Redis.
#
# Usage: scripts/bench-geo.sh [rounds]      (default 3; needs redis-server, redis-benchmark)
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
# The same points on both servers, as one RESP stream of GEOADDs of 100 members.
python3 - >"$WORK/points.resp" <<'EOF'
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
buf = []
for b in range(100):
    args = ["GEOADD", "geo"]
    for i in range(100):
        args += ["%.6f" % (-10 + 20 * rnd()), "%.6f" % (40 + 20 * rnd()), "p%d" % (b * 100 + i)]
    buf.append(cmd(args))
sys.stdout.buffer.write(b"".join(buf))
EOF
for p in "$RC" "$RD"; do
  redis-cli -p "$p" --pipe <"$WORK/points.resp" >/dev/null
  [ "$(redis-cli -p "$p" ZCARD geo)" = 10000 ] || { echo "load failed on $p" >&2; exit 1; }
done
# Both servers answer the searches alike before they are timed.
for q in "COUNT 10" "" "BYBOX"; do
  if [ "$q" = BYBOX ]; then set -- GEOSEARCH geo FROMLONLAT 0 50 BYBOX 150 150 km ASC WITHDIST
  else set -- GEOSEARCH geo FROMLONLAT 0 50 BYRADIUS 100 km $q; fi
  a=$(redis-cli -p "$RD" "$@" | md5sum); b=$(redis-cli -p "$RC" "$@" | md5sum)
  [ "$a" = "$b" ] || { echo "replies differ: $*" >&2; exit 1; }
done
echo "in the circle: $(redis-cli -p "$RC" GEOSEARCH geo FROMLONLAT 0 50 BYRADIUS 100 km | wc -l)" >&2
TESTS=("GEOADD|-n 200000 -c 50 -r 1000000 GEOADD geoadd 13.__rand_int__ 38.__rand_int__ m:__rand_int__"
       "GEOADD_P16|-n 1000000 -c 50 -P 16 -r 1000000 GEOADD geoadd 13.__rand_int__ 38.__rand_int__ m:__rand_int__"
       "GEOADD_SPREAD|-n 200000 -c 50 -r 2000000000 GEOADD geospread __rand_int__e-9 4__rand_int__e-11 m:__rand_int__"
       "ZADD_SPREAD|-n 200000 -c 50 -r 2000000000 ZADD zspread __rand_int__ m:__rand_int__"
       "SEARCH_C10|-n 100000 -c 50 GEOSEARCH geo FROMLONLAT 0 50 BYRADIUS 100 km COUNT 10"
       "SEARCH_ALL|-n 100000 -c 50 GEOSEARCH geo FROMLONLAT 0 50 BYRADIUS 100 km"
       "SEARCH_BOX|-n 100000 -c 50 GEOSEARCH geo FROMLONLAT 0 50 BYBOX 150 150 km ASC WITHDIST")
rounds "$ROUNDS"
report
