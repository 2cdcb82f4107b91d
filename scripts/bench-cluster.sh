#!/usr/bin/env bash
# bench-cluster.sh — the cluster against Redis Cluster and twemproxy, same machine, same run.
#
# Starts, all on 127.0.0.1:
#   rcache   a 3-node rcache cluster (forward mode; cluster-aware clients route themselves)
#   rcache1  one standalone rcache node (the forwarding overhead's reference)
#   redisc   a 3-node Redis 7 cluster (redis-server cluster-enabled yes, redis-cli --cluster create)
#   redis3 + nutcracker   3 plain Redis servers behind twemproxy (ketama)
# and runs ../shared/bench/compare.sh, interleaved:
#   C1 / C16   redis-benchmark --cluster SET,GET -c 50 -P 1 / -P 16: rcache cluster vs Redis Cluster
#   F1 / F16   plain redis-benchmark SET,GET -c 50 -P 1 / -P 16 against ONE rcache node (2/3 of keys
#              forwarded), nutcracker, and a standalone rcache node
#
# Usage: scripts/bench-cluster.sh [rounds]   (needs a release build: cargo build --release -p rcache;
#        Debian's redis-server, redis-tools and nutcracker)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
BIN=target/release/rcache
COMPARE=../shared/bench/compare.sh
[ -x "$BIN" ] || { echo "build first: cargo build --release -p rcache" >&2; exit 1; }
command -v nutcracker >/dev/null || { echo "needs nutcracker (apt-get install nutcracker)" >&2; exit 1; }
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/rcache-bench-cluster.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh  # (the cwd is the repository root)
wait_ok() {  # cluster_state:ok and, for rcache, nothing left to hand off
  for _ in $(seq 600); do
    info=$(redis-cli -p "$1" cluster info 2>/dev/null || true)
    if echo "$info" | grep -q 'cluster_state:ok' && ! echo "$info" | grep -q 'cluster_moving_slots:[1-9]' \
       && ! echo "$info" | grep -q 'cluster_my_state:joining'; then return 0; fi
    sleep 0.1
  done
  echo "cluster on $1 never settled" >&2; exit 1
}

# rcache cluster
RC=()
for i in 0 1 2; do
  port p; port b; mkdir -p "$WORK/rc$i"
  join=(); [ $i -gt 0 ] && join=(--join "127.0.0.1:${RCB0}")
  "$BIN" server --port "$p" --cluster-port "$b" "${join[@]}" --dir "$WORK/rc$i" --save "" \
    --http-port off --loglevel warning > "$WORK/rc$i.log" 2>&1 &
  PIDS+=($!); RC+=("$p"); [ $i -eq 0 ] && RCB0=$b
  wait_ping "$p"
done
for p in "${RC[@]}"; do wait_ok "$p"; done

# standalone rcache
port R1; mkdir -p "$WORK/r1"
"$BIN" server --port "$R1" --dir "$WORK/r1" --save "" --http-port off --binary-port off --memcache-port off \
  --loglevel warning > "$WORK/r1.log" 2>&1 &
PIDS+=($!); wait_ping "$R1"

# Redis Cluster
RD=()
for i in 0 1 2; do
  port p; mkdir -p "$WORK/rd$i"
  redis-server --port "$p" --cluster-enabled yes --cluster-config-file "$WORK/rd$i/nodes.conf" \
    --dir "$WORK/rd$i" --save "" --appendonly no --daemonize no --loglevel warning > "$WORK/rd$i.log" 2>&1 &
  PIDS+=($!); RD+=("$p"); wait_ping "$p"
done
redis-cli --cluster create "127.0.0.1:${RD[0]}" "127.0.0.1:${RD[1]}" "127.0.0.1:${RD[2]}" --cluster-yes > "$WORK/create.log"
for p in "${RD[@]}"; do wait_ok "$p"; done

# 3 Redis + nutcracker
PL=()
for i in 0 1 2; do
  port p; redis-server --port "$p" --save "" --appendonly no --daemonize no --loglevel warning > "$WORK/pl$i.log" 2>&1 &
  PIDS+=($!); PL+=("$p"); wait_ping "$p"
done
port NC; port NS
cat > "$WORK/nutcracker.yml" <<EOF
pool:
  listen: 127.0.0.1:${NC}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  preconnect: true
  server_connections: 1
  servers:
   - 127.0.0.1:${PL[0]}:1
   - 127.0.0.1:${PL[1]}:1
   - 127.0.0.1:${PL[2]}:1
EOF
nutcracker -c "$WORK/nutcracker.yml" -s "$NS" -o "$WORK/nutcracker.log" &
PIDS+=($!); wait_ping "$NC"

# redis-benchmark --cluster prints the node list before its CSV, which compare.sh does not
# parse: this loop interleaves the two clusters itself and reports medians and ratios.
cluster_compare() {  # name args...
  local name=$1; shift
  for r in $(seq "$ROUNDS"); do
    for t in "redis-cluster=${RD[0]}" "rcache-cluster=${RC[0]}"; do
      redis-benchmark --cluster -p "${t#*=}" "$@" --csv 2>/dev/null | grep -E '^"(SET|GET)"' \
        | sed "s/^/${name},${t%%=*},${r},/" >> "$WORK/cluster.csv"
    done
  done
}
echo "== cluster-aware clients: redis-benchmark --cluster, 3 rcache nodes vs 3 Redis Cluster nodes ($ROUNDS rounds, interleaved)"
: > "$WORK/cluster.csv"
cluster_compare C1 -t set,get -n 200000 -c 50 -P 1 -r 100000
cluster_compare C16 -t set,get -n 1000000 -c 50 -P 16 -r 100000
python3 - "$WORK/cluster.csv" <<'PY'
import csv, statistics, sys
rows = {}
for name, target, rnd, test, rps, *rest in csv.reader(open(sys.argv[1])):
    rows.setdefault((name, test), {}).setdefault(target, []).append(float(rps))
print(f"{'scenario':9} {'test':5} {'redis-cluster':>14} {'rcache-cluster':>15} {'ratio':>6}")
for (name, test), t in sorted(rows.items()):
    a = statistics.median(t.get("redis-cluster", [0])); b = statistics.median(t.get("rcache-cluster", [0]))
    print(f"{name:9} {test:5} {a:14.0f} {b:15.0f} {b / a if a else 0:6.2f}")
PY

echo "== plain clients through one endpoint: nutcracker vs one rcache node (forwarding) vs standalone rcache"
"$COMPARE" -R "$ROUNDS" -s F1,F16 \
  -S "F1=-t set,get -n 200000 -c 50 -P 1 -r 100000" \
  -S "F16=-t set,get -n 1000000 -c 50 -P 16 -r 100000" \
  "nutcracker=127.0.0.1:${NC}" "rcache-forward=127.0.0.1:${RC[0]}" "rcache-single=127.0.0.1:${R1}"
