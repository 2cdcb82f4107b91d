#!/usr/bin/env python3
"""The twemproxy report's scenario on an rcache cluster: 300,708 keys on 3 nodes, then 3
more nodes join while readers look every key up.

Reports: keys found during the growth and after it (twemproxy's report: 51.86% found after
3 -> 6 servers), how long the hand-offs took from the first join until every node had
nothing left to move, and each node's share of the keys against an even split.

Usage: scripts/bench-cluster-grow.py [--keys N] [--bin target/release/rcache]
Needs redis-py (tests/py/requirements.txt; scripts/test.sh makes .venv-test with it).
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def info(port):
    raw = redis.Redis(port=port).execute_command("CLUSTER", "INFO")
    if isinstance(raw, bytes):
        raw = raw.decode()
    return dict(l.split(":", 1) for l in raw.strip().splitlines() if ":" in l)


def wait(cond, what, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return
        except (redis.ConnectionError, redis.ResponseError):
            pass
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=300_708)
    ap.add_argument("--bin", default="target/release/rcache")
    ap.add_argument("--readers", type=int, default=2)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rcache-grow-")
    procs, ports = [], []
    seed = None

    def start(i):
        nonlocal seed
        p, b = free_port(), free_port()
        d = os.path.join(work, f"n{i}")
        os.makedirs(d)
        cmd = [a.bin, "server", "--port", str(p), "--cluster-port", str(b), "--dir", d,
               "--save", "", "--http-port", "off", "--loglevel", "warning"]
        if seed:
            cmd += ["--join", seed]
        else:
            seed = f"127.0.0.1:{b}"
        procs.append(subprocess.Popen(cmd, stdout=open(d + ".log", "w"), stderr=subprocess.STDOUT))
        ports.append(p)
        return p

    try:
        for i in range(3):
            start(i)
        for p in ports:
            wait(lambda p=p: info(p).get("cluster_my_state") == "serving"
                 and info(p).get("cluster_known_nodes") == "3", f"node {p}")
        r = redis.Redis(port=ports[0])
        t0 = time.time()
        pipe = r.pipeline(transaction=False)
        for i in range(a.keys):
            pipe.set(f"key:{i}", f"value:{i}")
            if i % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        print(f"loaded {a.keys} keys through one node in {time.time() - t0:.1f} s")

        stop = threading.Event()
        counts = {"found": 0, "missed": 0, "wrong": 0, "errors": 0}
        lock = threading.Lock()

        def reader(port):
            c = redis.Redis(port=port)
            names = [f"key:{i}" for i in range(a.keys)]
            while not stop.is_set():
                for i in range(0, a.keys, 500):
                    if stop.is_set():
                        break
                    try:
                        vals = c.mget(names[i:i + 500])
                    except redis.RedisError:
                        with lock:
                            counts["errors"] += 1
                        continue
                    f = m = w = 0
                    for j, v in enumerate(vals):
                        if v is None:
                            m += 1
                        elif v != f"value:{i + j}".encode():
                            w += 1
                        else:
                            f += 1
                    with lock:
                        counts["found"] += f
                        counts["missed"] += m
                        counts["wrong"] += w

        threads = [threading.Thread(target=reader, args=(ports[k % 3],)) for k in range(a.readers)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t_join = time.time()
        new = [start(i) for i in range(3, 6)]

        def settled():
            if any(info(p).get("cluster_known_nodes") != "6" for p in ports):
                return False
            for p in ports:
                i = info(p)
                if i.get("cluster_state") != "ok" or i.get("cluster_my_state") != "serving":
                    return False
                if i.get("cluster_moving_slots", "0") != "0":
                    return False
            # The new nodes own their share.
            return all(int(redis.Redis(port=p).dbsize()) > 0 for p in new)

        wait(settled, "the hand-offs to finish", timeout=120)
        took = time.time() - t_join
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        during = dict(counts)
        # After: every key through every node.
        after_found = after_missed = 0
        for p in ports:
            c = redis.Redis(port=p)
            names = [f"key:{i}" for i in range(a.keys)]
            for i in range(0, a.keys, 1000):
                for j, v in enumerate(c.mget(names[i:i + 1000])):
                    if v == f"value:{i + j}".encode():
                        after_found += 1
                    else:
                        after_missed += 1
        sizes = [int(redis.Redis(port=p).dbsize()) for p in ports]
        even = a.keys / len(ports)
        total = during["found"] + during["missed"] + during["wrong"]
        print(f"3 -> 6 nodes: hand-offs done {took:.2f} s after the first join "
              f"(includes the joins' gossip; the target is <= 5 s)")
        print(f"during: {total} lookups, found {100.0 * during['found'] / max(total, 1):.3f}%, "
              f"missed {during['missed']}, wrong {during['wrong']}, request errors {during['errors']}")
        print(f"after: {after_found}/{after_found + after_missed} lookups found through all 6 nodes "
              f"({100.0 * after_found / (after_found + after_missed):.3f}%)")
        print("keys per node: " + ", ".join(str(s) for s in sizes)
              + f"; deviation from even: {100.0 * max(abs(s - even) for s in sizes) / even:.1f}% (target <= 10%)")
        ok = during["missed"] == 0 and during["wrong"] == 0 and after_missed == 0
        sys.exit(0 if ok else 1)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
