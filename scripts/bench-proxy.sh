#!/usr/bin/env bash
# bench-proxy.sh — `rcache proxy` against twemproxy (nutcracker), same backends, same run.
#
# Starts, all on 127.0.0.1 and free ports:
#   2 redis-server backends (Debian's, --save '' --appendonly no)
#   nutcracker          /usr/sbin/nutcracker -c nut.yml -s STATS   (a redis pool: ketama, fnv1a_64,
#                       the 2 backends, server_connections 1)
#   rcache              target/release/rcache proxy -c rc.yml -s STATS [--threads N]; rc.yml is
#                       nut.yml with only the listen port changed
#   rcache-t1           (BOTH_THREADS=1 only) a second rcache proxy with --threads 1
#   redis-direct        backend 1 alone, no proxy: the ceiling each proxy is measured against
# and runs redis-benchmark (-c 50 -r 100000 --csv) R rounds, interleaved (nutcracker, rcache[,
# rcache-t1], redis-direct, then the next round), each test in its own invocation so the proxy's
# CPU time (utime+stime of /proc/PID/stat, all threads) is known per test:
#   P1    -t set / -t get  -n 100000  -P 1
#   P16   -t set / -t get  -n 400000  -P 16
# and prints per scenario/test/target: median rps, spread (max-min)/median, ratio vs nutcracker
# and proxy CPU seconds per 100k requests; then each proxy's rps as a fraction of direct Redis.
#
# Usage: scripts/bench-proxy.sh [--rounds R] [--threads N]     (env: R=5, BOTH_THREADS=1)
#   needs redis-server, redis-benchmark, redis-cli (redis-tools), nutcracker, python3;
#   builds target/release/rcache (cargo build --release --bin rcache) only if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${R:-5}; THREADS=""; BOTH=${BOTH_THREADS:-0}
BIN=target/release/rcache; NUT=/usr/sbin/nutcracker
while [ $# -gt 0 ]; do
  case $1 in
    --rounds|-R) ROUNDS=$2; shift 2 ;;
    --threads|-t) THREADS=$2; shift 2 ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done
for c in redis-server redis-benchmark redis-cli python3; do
  command -v "$c" >/dev/null || { echo "needs $c" >&2; exit 2; }
done
[ -x "$NUT" ] || { echo "needs $NUT (apt-get install nutcracker)" >&2; exit 2; }
[ -x "$BIN" ] || cargo build --release --bin rcache
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/rcache-bench-proxy.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh  # (the cwd is the repository root)
wait_set() {  # wait_set PORT PID: until `SET probe 1` answers OK through it (and its process lives)
  for _ in $(seq 400); do
    [ "$(redis-cli -p "$1" set probe 1 2>/dev/null)" = OK ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "nothing answers SET on $1" >&2; tail -5 "$WORK"/*.log >&2; exit 1
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime+stime (after the ')' of comm: no spaces in ours)

# backends
BE=()
for i in 0 1; do
  port p
  redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --loglevel warning > "$WORK/redis$i.log" 2>&1 &
  PIDS+=($!); BE+=("$p"); wait_set "$p" $!
done

# one nutcracker config; rcache's copies differ only in the listen port
port NC
cat > "$WORK/nut.yml" <<EOF
pool:
  listen: 127.0.0.1:${NC}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  preconnect: true
  server_connections: 1
  servers:
   - 127.0.0.1:${BE[0]}:1
   - 127.0.0.1:${BE[1]}:1
EOF
port NS
"$NUT" -c "$WORK/nut.yml" -s "$NS" -a 127.0.0.1 -o "$WORK/nutcracker.log" &
NPID=$!; PIDS+=($NPID); wait_set "$NC" "$NPID"

TARGETS=("nutcracker=$NC=$NPID")
start_rcache() {  # start_rcache NAME [--threads N]
  local name=$1 p s pid; shift
  port p; port s
  sed "s/^  listen: 127.0.0.1:${NC}\$/  listen: 127.0.0.1:${p}/" "$WORK/nut.yml" > "$WORK/$name.yml"
  grep -q "listen: 127.0.0.1:${p}\$" "$WORK/$name.yml" || { echo "listen rewrite failed" >&2; exit 1; }
  "$BIN" proxy -c "$WORK/$name.yml" -s "$s" -a 127.0.0.1 -o "$WORK/$name.log" "$@" &
  pid=$!; PIDS+=($pid); wait_set "$p" "$pid"
  TARGETS+=("$name=$p=$pid")
}
start_rcache rcache ${THREADS:+--threads "$THREADS"}
[ "$BOTH" = 1 ] && start_rcache rcache-t1 --threads 1
TARGETS+=("redis-direct=${BE[0]}=")

echo "$("$NUT" -V 2>&1 | head -1 | awk '{print $NF}'), $("$BIN" --version), redis-server" \
  "$(redis-server --version | awk '{print $3}' | cut -d= -f2); $(nproc) cores; rcache threads:" \
  "${THREADS:-default (cores)}$([ "$BOTH" = 1 ] && echo ', rcache-t1: 1'); $ROUNDS rounds, interleaved"

declare -A SCEN=([P1]="-n 100000 -P 1" [P16]="-n 400000 -P 16")
CSV="$WORK/results.csv"; : > "$CSV"
for r in $(seq "$ROUNDS"); do
  for s in P1 P16; do
    for t in "${TARGETS[@]}"; do
      IFS== read -r name p pid <<< "$t"
      for test in set get; do
        kill -0 "${pid:-$$}" 2>/dev/null || { echo "$name died" >&2; tail -5 "$WORK/$name.log" >&2; exit 1; }
        before=$([ -n "$pid" ] && ticks "$pid" || echo "")
        # shellcheck disable=SC2086
        out=$(timeout 300 redis-benchmark -p "$p" -t "$test" -c 50 -r 100000 ${SCEN[$s]} --csv 2>/dev/null \
          | grep -E '^"(SET|GET)"' | cut -d, -f1,2 | tr -d '"')
        [ -n "$out" ] || { echo "redis-benchmark gave nothing on $name ($s $test)" >&2; exit 1; }
        after=$([ -n "$pid" ] && ticks "$pid" || echo "")
        n=$(awk '{for (i = 1; i <= NF; i++) if ($i == "-n") print $(i + 1)}' <<< "${SCEN[$s]}")
        echo "$s,$name,$r,$out,${before:+$((after - before))},$n" >> "$CSV"
      done
    done
  done
  echo "  round $r/$ROUNDS done" >&2
done

python3 - "$CSV" "$(getconf CLK_TCK)" <<'PY'
import csv, statistics, sys
hz = float(sys.argv[2])
rps, cpu, order = {}, {}, []
for scen, target, rnd, test, r, ticks, n in csv.reader(open(sys.argv[1])):
    key = (scen, test)
    if target not in order: order.append(target)
    rps.setdefault(key, {}).setdefault(target, []).append(float(r))
    if ticks: cpu.setdefault(key, {}).setdefault(target, []).append(float(ticks) / hz / (int(n) / 1e5))
med = lambda v: statistics.median(v) if v else 0.0
keys = sorted(rps, key=lambda k: (int(k[0][1:]), k[1] != "SET"))
print(f"\n{'scen':5} {'test':4} {'target':13} {'median rps':>11} {'spread':>7} {'vs nut':>7} {'cpu s/100k':>10}")
for k in keys:
    nut = med(rps[k].get("nutcracker", []))
    for t in order:
        v = rps[k].get(t, [])
        m = med(v)
        spread = (max(v) - min(v)) / m if m else 0
        c = cpu.get(k, {}).get(t)
        cs = f"{med(c):10.3f}" if c else f"{'-':>10}"
        print(f"{k[0]:5} {k[1]:4} {t:13} {m:11.0f} {spread:7.1%} {m / nut if nut else 0:7.2f} {cs}")
print(f"\nproxy overhead vs direct Redis (median proxy rps / median redis-direct rps; 1.00 = free)")
proxies = [t for t in order if t != "redis-direct"]
print(f"{'scen':5} {'test':4} " + " ".join(f"{t:>13}" for t in proxies))
for k in keys:
    d = med(rps[k].get("redis-direct", []))
    print(f"{k[0]:5} {k[1]:4} " + " ".join(f"{(med(rps[k].get(t, [])) / d if d else 0):13.2f}" for t in proxies))
PY
