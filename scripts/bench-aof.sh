#!/usr/bin/env bash
# bench-aof.sh — the append-only log's cost, against Redis 7 in the same run.
#
# Starts rcache and redis-server three times each — log off, appendfsync everysec,
# appendfsync always — with their data directories on the same disk (not tmpfs: fsync must
# be real), and runs ../shared/bench/compare.sh over all six, interleaved:
#   W1  SET, 50 clients, no pipelining      (everysec must keep ≥ 0.9× the rate with the log off)
#   W16 SET, 50 clients, -P 16              (always: group commit must beat Redis's always)
#
# Usage: scripts/bench-aof.sh [rounds]     (needs a release build: cargo build --release)
# Prints compare.sh's table; ratios are against the first target (rcache, log off).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
BIN=target/release/rcache
COMPARE=../shared/bench/compare.sh
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/rcache-bench-aof.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ping() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no PING on $1" >&2; exit 1; }

TARGETS=()
# everysec-norw: the log's own cost, with automatic rewrites off (a run writes ~200 MB of
# log, so the others rewrite several times while measured, as Redis does too).
for mode in off everysec everysec-norw always; do
  d="$WORK/rcache-$mode"; mkdir -p "$d"; p=$(port)
  case $mode in
    off) aof=(--appendonly no) ;;
    everysec-norw) aof=(--appendonly yes --appendfsync everysec) ;;
    *) aof=(--appendonly yes --appendfsync "$mode") ;;
  esac
  "$BIN" server --port "$p" --http-port off --binary-port off --memcache-port off \
    --dir "$d" --save "" "${aof[@]}" >"$d.log" 2>&1 &
  PIDS+=($!); wait_ping "$p"; TARGETS+=("rcache-$mode=127.0.0.1:$p")
  [ "$mode" = everysec-norw ] && redis-cli -p "$p" config set auto-aof-rewrite-percentage 0 >/dev/null
done
for mode in off everysec always; do
  d="$WORK/redis-$mode"; mkdir -p "$d"; p=$(port)
  if [ "$mode" = off ]; then aof=(--appendonly no); else aof=(--appendonly yes --appendfsync "$mode"); fi
  redis-server --port "$p" --dir "$d" --save "" "${aof[@]}" --daemonize no >"$d.log" 2>&1 &
  PIDS+=($!); wait_ping "$p"; TARGETS+=("redis-$mode=127.0.0.1:$p")
done

"$COMPARE" -R "$ROUNDS" -W \
  -S 'W1=-t set -n 200000 -c 50 -r 1000000 -d 100' \
  -S 'W16=-t set -n 400000 -c 50 -P 16 -r 1000000 -d 100' \
  -s W1,W16 "${TARGETS[@]}"
