#!/usr/bin/env bash
# bench-memory-types.sh — RSS of rcache vs Redis for small collections (issue 4's target:
# 100,000 hashes of 10 fields, and the same for sets, sorted sets and lists of 10 elements).
#
# Usage: scripts/bench-memory-types.sh [-n KEYS] [-e ELEMENTS] [-t hash,set,zset,list] [-b path/to/rcache]
#
# For each type, starts a fresh Redis (Debian's redis-server, --save '' --appendonly no) and a
# fresh `rcache server` on free ports, loads the same N keys ("<type>:%08d") of E elements each
# through `redis-cli --pipe` (HSET field:i value:i / SADD member:i / ZADD i member:i /
# RPUSH value:i), and prints each server's RSS growth per key and the ratio rcache/Redis.
# Needs redis-server, redis-cli, python3.
set -euo pipefail
N=100000; E=10; TYPES=hash,set,zset,list; BIN=target/release/rcache
while getopts ":n:e:t:b:" o; do case $o in n) N=$OPTARG ;; e) E=$OPTARG ;; t) TYPES=$OPTARG ;; b) BIN=$OPTARG ;; *) sed -n '2,12p' "$0"; exit 2 ;; esac; done
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "needs redis-server and redis-cli (apt-get install redis-server)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no rcache binary at $BIN (cargo build --release)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_ready() { for _ in $(seq 1 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 not ready" >&2; exit 1; }

DATA=$(mktemp); RPID=; CPID=
trap 'rm -f "$DATA"; kill $RPID $CPID 2>/dev/null || true' EXIT

gen() { # type
python3 - "$1" "$N" "$E" >"$DATA" <<'PY'
import sys
t, n, e = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
def cmd(*a):
    out.write(b"*%d\r\n" % len(a))
    for x in a:
        out.write(b"$%d\r\n%s\r\n" % (len(x), x))
for i in range(n):
    k = b"%s:%08d" % (t.encode(), i)
    if t == "hash":
        args = [b"HSET", k]
        for j in range(e):
            args += [b"field:%d" % j, b"value:%d" % j]
    elif t == "set":
        args = [b"SADD", k] + [b"member:%d" % j for j in range(e)]
    elif t == "zset":
        args = [b"ZADD", k]
        for j in range(e):
            args += [b"%d" % j, b"member:%d" % j]
    elif t == "list":
        args = [b"RPUSH", k] + [b"value:%d" % j for j in range(e)]
    cmd(*args)
PY
}

measure() { # name pid port -> prints growth KiB
  local before after
  before=$(rss_kb "$2")
  redis-cli -p "$3" --pipe <"$DATA" >/dev/null
  sleep 1
  after=$(rss_kb "$2")
  echo $((after - before)) "$after"
}

echo "dataset: $N keys per type, $E elements each"
for t in ${TYPES//,/ }; do
  gen "$t"
  RP=$(free_port); redis-server --port "$RP" --save '' --appendonly no --daemonize no --logfile /dev/null & RPID=$!
  CP=$(free_port); "$BIN" server --port "$CP" --loglevel warning & CPID=$!
  wait_ready "$RP"; wait_ready "$CP"
  read -r rg ra < <(measure redis "$RPID" "$RP")
  read -r cg ca < <(measure rcache "$CPID" "$CP")
  renc=$(redis-cli -p "$RP" object encoding "$t:00000000"); cenc=$(redis-cli -p "$CP" object encoding "$t:00000000")
  python3 -c "
rg,ra,cg,ca,n=$rg,$ra,$cg,$ca,$N
print(f'{\"$t\":<5} redis: rss={ra/1024:7.1f}MiB growth/key={rg*1024/n:6.1f}B ($renc)   rcache: rss={ca/1024:7.1f}MiB growth/key={cg*1024/n:6.1f}B ($cenc)   RSS ratio={ca/ra:.3f} growth ratio={cg/rg:.3f}')"
  kill "$RPID" "$CPID"; wait "$RPID" "$CPID" 2>/dev/null || true; RPID=; CPID=
done
