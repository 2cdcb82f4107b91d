#!/usr/bin/env bash
# bench-doors.sh — the front doors measured against their references, interleaved, one run.
#
# Usage: scripts/bench-doors.sh [-R rounds] [-s HTTP,BIN,MC] [-T seconds] [-t io-threads]
#                               [-b path/to/rcache]
#
#   HTTP  wrk GET of a 1000-byte value over keep-alive, 50 connections, vs redis-benchmark
#         GET of the same key (-c 50 -d 1000) on the same rcache: ratio http/resp.
#   BIN   the binary protocol vs RESP on the same rcache, same load tool (`rcache bench`,
#         2 client threads), GET and SET, 100-byte values, 1 and 50 connections: ratio bin/resp.
#   MC    memcaslap (libmemcached-tools) against Debian's memcached and rcache's memcached
#         door, 50 connections, 100-byte values, set-only and 9:1 get:set: ratio rcache/memcached.
#   -t N  the server's I/O threads (default 0 = one per core). With clients on the same
#         cores, where the balancer places connections swings the 50-connection figures by
#         ±20% from run to run; -t 1 compares the protocols' own costs on equal footing.
# Each round runs every pair back to back, in A B order then B A (ABBA); the table shows
# medians.
# Needs: cargo build --release -p rcache; wrk, redis-tools,
# memcached, libmemcached-tools (apt).
set -euo pipefail
ROUNDS=3; SCEN=HTTP,BIN,MC; SECS=8; THREADS=0; BIN=target/release/rcache
while getopts ":R:s:T:t:b:" o; do case $o in R) ROUNDS=$OPTARG ;; s) SCEN=$OPTARG ;; T) SECS=$OPTARG ;; t) THREADS=$OPTARG ;; b) BIN=$OPTARG ;; *) sed -n '2,20p' "$0"; exit 2 ;; esac; done
[ -x "$BIN" ] || { echo "no rcache binary at $BIN (cargo build --release)" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'nan')" "$1" "$2"; }
RP=$(free_port); HP=$(free_port); BP=$(free_port); MP=$(free_port); MCP=$(free_port)
"$BIN" server --port "$RP" --http-port "$HP" --binary-port "$BP" --memcache-port "$MP" --threads "$THREADS" --loglevel warning & CPID=$!
PIDS="$CPID"
trap 'kill $PIDS 2>/dev/null || true' EXIT
wait_port "$RP"; wait_port "$HP"; wait_port "$BP"; wait_port "$MP"
echo "rcache ($("$BIN" --version)) resp=$RP http=$HP binary=$BP memcache=$MP threads=$THREADS; $(nproc) cores"
declare -A RES
add() { RES[$1]="${RES[$1]:-} $2"; }

run_http() {
  # redis-benchmark's GET reads the literal key "key:__rand_int__" when -r is not given;
  # wrk asks the HTTP door for the same key, so both return the same 1000-byte value.
  head -c 1000 /dev/zero | tr '\0' x | redis-cli -p "$RP" -x SET key:__rand_int__ >/dev/null
  local r h
  r=$(redis-benchmark -p "$RP" -c 50 -n $((SECS * 60000)) -d 1000 -t get --csv | awk -F'","' '/^"GET/ {print $2}')
  h=$(wrk -t 1 -c 50 -d "${SECS}s" "http://127.0.0.1:$HP/v1/keys/key%3A__rand_int__" | awk '/Requests\/sec/ {print $2}')
  add http_resp "$r"; add http_http "$h"
  echo "  HTTP round: resp GET $r rps, http GET $h rps"
}

run_bin() {
  local op c proto v order="resp binary"
  [ $(($1 % 2)) -eq 0 ] && order="binary resp"
  for op in set get; do for c in 1 50; do for proto in $order; do
    local port=$RP; [ $proto = binary ] && port=$BP
    local n=$((c == 1 ? SECS * 15000 : SECS * 80000))
    v=$("$BIN" bench --proto $proto -t $op -c $c -n $n -d 100 -r 100000 --populate --threads 2 \
          --no-progress --json "$proto=127.0.0.1:$port" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["runs"][0]["rps"]))')
    add "bin_${op}_c${c}_${proto}" "$v"
    echo "  BIN round: $op c=$c $proto $v rps"
  done; done; done
}

run_mc() {
  local cfg_set cfg_mix v
  cfg_set=$(mktemp); cfg_mix=$(mktemp)
  printf 'key\n64 64 1\nvalue\n100 100 1\ncmd\n0 1.0\n' >"$cfg_set"
  printf 'key\n64 64 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n' >"$cfg_mix"
  # ABBA: the order within a pair flips every round (the first of a pair measured up to
  # 15% faster in either direction on this 2-core machine).
  local order="memcached rcache"; [ $(($1 % 2)) -eq 0 ] && order="rcache memcached"
  for mode in set mix; do for target in $order; do
    local port=$MP; [ $target = memcached ] && port=$MCP
    local cfg=$cfg_set; [ $mode = mix ] && cfg=$cfg_mix
    v=$(memcaslap -s 127.0.0.1:$port -T 2 -c 50 -t "${SECS}s" -X 100 -F "$cfg" 2>/dev/null | awk '/^Run time/ {for (i=1;i<=NF;i++) if ($i=="TPS:") print $(i+1)}')
    add "mc_${mode}_${target}" "$v"
    echo "  MC round: $mode $target $v ops/s"
  done; done
  rm -f "$cfg_set" "$cfg_mix"
}

if [[ $SCEN == *MC* ]]; then
  memcached -p "$MCP" -U 0 -l 127.0.0.1 -u "$(id -un)" & PIDS="$PIDS $!"
  wait_port "$MCP"
  echo "memcached $(memcached -V | awk '{print $2}') on $MCP"
fi
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS"
  [[ $SCEN == *HTTP* ]] && run_http
  [[ $SCEN == *BIN* ]] && run_bin "$r"
  [[ $SCEN == *MC* ]] && run_mc "$r"
done

med() { tr ' ' '\n' <<<"${RES[$1]:-}" | grep -v '^$' | median; }
# Every round's figures, then the medians.
echo; for k in $(printf '%s\n' "${!RES[@]}" | sort); do echo "$k:${RES[$k]}"; done
echo
echo "| test | reference | rcache | ratio |"
echo "|---|---|---|---|"
if [[ $SCEN == *HTTP* ]]; then
  a=$(med http_resp); b=$(med http_http)
  echo "| GET 1000 B, 50 conns: RESP (redis-benchmark) vs HTTP (wrk) | $a | $b | $(ratio "$b" "$a") |"
fi
if [[ $SCEN == *BIN* ]]; then
  for op in set get; do for c in 1 50; do
    a=$(med "bin_${op}_c${c}_resp"); b=$(med "bin_${op}_c${c}_binary")
    echo "| ${op^^} 100 B, $c conns: RESP vs binary (rcache bench) | $a | $b | $(ratio "$b" "$a") |"
  done; done
fi
if [[ $SCEN == *MC* ]]; then
  for mode in set mix; do
    a=$(med "mc_${mode}_memcached"); b=$(med "mc_${mode}_rcache")
    label="set only"; [ $mode = mix ] && label="get:set 9:1"
    echo "| memcaslap $label, 100 B, 50 conns: memcached vs rcache | $a | $b | $(ratio "$b" "$a") |"
  done
fi
