#!/usr/bin/env python3
"""The twemproxy report's rebalancing scenario, through rcache proxy and nutcracker.

N keys (default 300,708, the report's count) are written through the proxy in front of 3
redis-servers; the pool is then grown to 6 servers:
  - rcache proxy: the YAML is rewritten with `rebalance: true` and reloaded (POST /reload);
    every key is read back right away (while the mover runs) and again once the mover is
    done; the mover's duration comes from the stats (`rebalance_active`).
  - nutcracker: the YAML is rewritten and nutcracker restarted (it cannot reload); every key
    is read back.
Prints the share of keys found at each point, the mover's duration, and checks that no key
is left on two servers. Needs redis-server, nutcracker (Debian) and redis-py. Clients speak
RESP2 without CLIENT SETINFO: nutcracker closes the connection on HELLO and CLIENT.

usage: scripts/bench-proxy-rebalance.py [--keys N] [--rcache target/release/rcache]
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings

import redis

# redis-py 8 deprecates lib_name/lib_version, the only way to skip CLIENT SETINFO.
warnings.simplefilter("ignore", DeprecationWarning)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait(what, fn, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.02)
    sys.exit(f"timed out waiting for {what}")


def start_redis(port):
    p = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--logfile", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait("redis-server", lambda: redis.Redis(port=port, protocol=2, lib_name=None, lib_version=None).ping())
    return p


def yaml(listen, ports, rebalance):
    s = f"pool:\n  listen: {listen}\n  redis: true\n  hash: fnv1a_64\n"
    s += "  distribution: ketama\n"
    if rebalance:
        s += "  rebalance: true\n  rebalance_rate: 200000\n"
    s += "  servers:\n" + "".join(f"   - 127.0.0.1:{p}:1\n" for p in ports)
    return s


def load(port, n):
    c = redis.Redis(port=port, protocol=2, lib_name=None, lib_version=None)
    for start in range(0, n, 2000):
        pipe = c.pipeline(transaction=False)
        for i in range(start, min(n, start + 2000)):
            pipe.set(f"key:{i}", f"value:{i}")
        pipe.execute()


def found(port, n):
    c = redis.Redis(port=port, protocol=2, lib_name=None, lib_version=None)
    hit = 0
    for start in range(0, n, 2000):
        pipe = c.pipeline(transaction=False)
        idx = range(start, min(n, start + 2000))
        for i in idx:
            pipe.get(f"key:{i}")
        for i, v in zip(idx, pipe.execute(raise_on_error=False)):
            if v == f"value:{i}".encode():
                hit += 1
    return hit


def stats(addr):
    h, p = addr.rsplit(":", 1)
    with socket.create_connection((h, int(p))) as s:
        data = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
    return json.loads(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=300_708)
    ap.add_argument("--rcache", default="target/release/rcache")
    a = ap.parse_args()
    n = a.keys
    tmp = tempfile.mkdtemp(prefix="proxy-rebalance-")
    procs = []
    try:
        # ---- rcache proxy ----
        ports = [free_port() for _ in range(6)]
        procs += [start_redis(p) for p in ports]
        conf = os.path.join(tmp, "rcache.yml")
        pf = os.path.join(tmp, "ports")
        open(conf, "w").write(yaml("127.0.0.1:0", ports[:3], True))
        px = subprocess.Popen([a.rcache, "proxy", "-c", conf, "-s", "0", "-i", "50",
                               "--metrics-addr", "127.0.0.1:0", "--ports-file", pf],
                              stderr=open(os.path.join(tmp, "proxy.log"), "w"))
        procs.append(px)
        got = wait("ports file", lambda: dict(
            l.split() for l in open(pf)) if os.path.exists(pf) else None)
        port = int(got["pool"].rsplit(":", 1)[1])
        t = time.time()
        load(port, n)
        print(f"loaded {n} keys through rcache proxy onto 3 servers in {time.time() - t:.1f} s")
        open(conf, "w").write(yaml("127.0.0.1:0", ports, True))
        t0 = time.time()
        r = urllib.request.urlopen(urllib.request.Request(
            f"http://{got['metrics']}/reload", method="POST"))
        assert r.status == 200, r.read()
        during = found(port, n)
        t_during = time.time() - t0
        wait("the mover", lambda: stats(got["stats"])["pool"]["rebalance_active"] == 0
             and time.time() - t0 > 0.1, timeout=600)
        mover = time.time() - t0
        after = found(port, n)
        total = sum(redis.Redis(port=p, protocol=2, lib_name=None, lib_version=None).dbsize() for p in ports)
        per = [redis.Redis(port=p, protocol=2, lib_name=None, lib_version=None).dbsize() for p in ports]
        st = stats(got["stats"])["pool"]
        print(f"rcache proxy, reload 3 -> 6 servers: found during the move {during}/{n} "
              f"({100.0 * during / n:.2f}%, read pass {t_during:.1f} s); mover done in "
              f"{mover:.2f} s (moved {st['rebalance_moved']}, on access "
              f"{st['rebalance_fallbacks']}); found after {after}/{n} "
              f"({100.0 * after / n:.2f}%); keys on servers {total} {per}")
        for p in procs:
            p.terminate()
            p.wait()
        procs = []
        # ---- nutcracker ----
        ports = [free_port() for _ in range(6)]
        procs += [start_redis(p) for p in ports]
        lport = free_port()
        conf = os.path.join(tmp, "nutcracker.yml")
        open(conf, "w").write(yaml(f"127.0.0.1:{lport}", ports[:3], False))
        sport = free_port()
        nut = subprocess.Popen(["nutcracker", "-c", conf, "-s", str(sport)],
                               stderr=subprocess.DEVNULL)
        procs.append(nut)
        wait("nutcracker", lambda: redis.Redis(port=lport, protocol=2, lib_name=None, lib_version=None).set("probe", "1"))
        redis.Redis(port=lport, protocol=2, lib_name=None, lib_version=None).delete("probe")
        load(lport, n)
        open(conf, "w").write(yaml(f"127.0.0.1:{lport}", ports, False))
        nut.send_signal(signal.SIGINT)
        nut.wait()
        procs.remove(nut)
        nut = subprocess.Popen(["nutcracker", "-c", conf, "-s", str(sport)],
                               stderr=subprocess.DEVNULL)
        procs.append(nut)
        wait("nutcracker", lambda: redis.Redis(port=lport, protocol=2, lib_name=None, lib_version=None).ping())
        after = found(lport, n)
        print(f"nutcracker, restart 3 -> 6 servers: found {after}/{n} ({100.0 * after / n:.2f}%)")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
