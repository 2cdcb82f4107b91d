#!/usr/bin/env python3
"""Snapshot benchmarks: rcache against Redis 7 (Debian's redis-server) in the same run.

    scripts/bench-persistence.py [--keys 1000000] [--value 100] [--rounds 3] [--mixed]
                                 [--rcache target/release/rcache] [--load-secs 10]

Each figure is the median of --rounds, rounds interleaved (rcache, Redis, rcache, …):

  save      wall time of SAVE on the populated server (redis-cli, from send to reply)
  size      the snapshot file's bytes (dump.rcsnap / dump.rdb)
  load      from process start until DBSIZE answers the full count (not LOADING)
  bgsave    redis-benchmark SET/GET throughput (-c 50, -P 1) while BGSAVE runs in a loop,
            divided by the same load without a snapshot; and peak RSS during it (the fork
            child's RSS included for Redis) divided by the RSS before

Datasets: --keys strings of --value bytes (default), or --mixed: a quarter each of hashes,
lists, sets and sorted sets of 10 small elements plus strings.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def cli(port, *args, timeout=600):
    r = subprocess.run(["redis-cli", "-p", str(port), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    return r.stdout.strip()


def wait_ping(port, proc, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited: {proc.returncode}")
        try:
            if cli(port, "PING", timeout=2) == "PONG":
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.01)
    raise SystemExit(f"server on {port} not ready")


class Server:
    def __init__(self, kind, binary, workdir):
        self.kind, self.binary, self.dir = kind, binary, workdir
        self.port = free_port()
        self.proc = None

    def start(self):
        if self.kind == "redis":
            cmd = [self.binary, "--port", str(self.port), "--dir", self.dir, "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--logfile", "",
                   "--dbfilename", "dump.rdb"]
        else:
            cmd = [self.binary, "server", "--port", str(self.port), "--dir", self.dir,
                   "--save", "", "--http-port", "off", "--binary-port", "off",
                   "--memcache-port", "off"]
        t0 = time.time()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ping(self.port, self.proc)
        return t0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            cli(self.port, "SHUTDOWN", "NOSAVE")
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss(self):
        """RSS in bytes of the server and its children (Redis's fork child)."""
        pids = [self.proc.pid]
        try:
            out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                 text=True).stdout.split()
            pids += [int(p) for p in out]
        except Exception:
            pass
        total = 0
        for p in pids:
            try:
                with open(f"/proc/{p}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    @property
    def file(self):
        return os.path.join(self.dir, "dump.rdb" if self.kind == "redis" else "dump.rcsnap")


def populate(port, keys, value, mixed):
    """Fill through redis-cli --pipe from a generated RESP stream."""
    path = os.path.join(tempfile.gettempdir(), f"rcache-pop-{keys}-{value}-{mixed}.resp")
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            val = b"x" * value
            for i in range(keys):
                if not mixed or i % 5 == 0:
                    f.write(resp(b"SET", b"key:%d" % i, val))
                elif i % 5 == 1:
                    f.write(resp(b"HSET", b"hash:%d" % i,
                                 *[x for j in range(10) for x in (b"f%d" % j, b"value%d" % j)]))
                elif i % 5 == 2:
                    f.write(resp(b"RPUSH", b"list:%d" % i, *[b"item%d" % j for j in range(10)]))
                elif i % 5 == 3:
                    f.write(resp(b"SADD", b"set:%d" % i, *[b"member%d" % j for j in range(10)]))
                else:
                    f.write(resp(b"ZADD", b"zset:%d" % i,
                                 *[x for j in range(10) for x in (b"%d" % j, b"m%d" % j)]))
        os.rename(path + ".tmp", path)
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                       stdout=subprocess.DEVNULL, check=True)
    n = int(cli(port, "DBSIZE"))
    if n != keys:
        raise SystemExit(f"populated {n} keys, wanted {keys}")


def timed_save(port):
    t0 = time.perf_counter()
    r = cli(port, "SAVE")
    if r != "OK":
        raise SystemExit(f"SAVE: {r}")
    return time.perf_counter() - t0


def timed_load(srv, keys):
    t0 = srv.start()
    while True:
        out = cli(srv.port, "DBSIZE")
        if out.isdigit() and int(out) == keys:
            return time.time() - t0
        time.sleep(0.005)


def bench_rate(port, secs):
    """redis-benchmark SET/GET requests per second (the two tests' mean). redis-benchmark
    has no duration flag: -n is sized from a first short probe to last about `secs`."""
    def run(n):
        r = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n),
                            "-t", "set,get", "-r", "1000000", "-d", "100", "--csv"],
                           capture_output=True, text=True, timeout=600)
        return r
    probe = run(20000)
    r = probe
    rates = []
    for line in probe.stdout.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if parts and parts[0] in ("SET", "GET"):
            rates.append(float(parts[1]))
    if rates:
        r = run(max(20000, int(statistics.mean(rates) * secs / 2)))
    rates = []
    for line in r.stdout.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if parts and parts[0] in ("SET", "GET"):
            rates.append(float(parts[1]))
    return statistics.mean(rates) if rates else 0.0


def bgsave_under_load(srv, secs):
    base_rate = bench_rate(srv.port, secs)
    rss0 = srv.rss()
    peak = [rss0]
    stop = [False]
    import threading

    def saver():
        while not stop[0]:
            cli(srv.port, "BGSAVE")
            while not stop[0] and "rdb_bgsave_in_progress:1" in cli(srv.port, "INFO", "persistence"):
                peak[0] = max(peak[0], srv.rss())
                time.sleep(0.02)
            peak[0] = max(peak[0], srv.rss())

    t = threading.Thread(target=saver)
    t.start()
    rate = bench_rate(srv.port, secs)
    stop[0] = True
    t.join()
    while "rdb_bgsave_in_progress:1" in cli(srv.port, "INFO", "persistence"):
        time.sleep(0.05)
    return rate / base_rate if base_rate else 0.0, peak[0] / rss0 if rss0 else 0.0, rate, base_rate


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mixed", action="store_true")
    ap.add_argument("--rcache", default="target/release/rcache")
    ap.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--load-secs", type=int, default=10)
    ap.add_argument("--skip-bgsave", action="store_true")
    a = ap.parse_args()
    for tool in ("redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (apt-get install redis-tools)")
    root = tempfile.mkdtemp(prefix="rcache-bench-persist-")
    servers = [Server("rcache", a.rcache, os.path.join(root, "rcache")),
               Server("redis", a.redis, os.path.join(root, "redis"))]
    for s in servers:
        os.makedirs(s.dir)
    res = {s.kind: {"save": [], "load": [], "size": 0} for s in servers}
    try:
        for s in servers:
            s.start()
            populate(s.port, a.keys, a.value, a.mixed)
        for r in range(a.rounds):
            for s in servers:
                res[s.kind]["save"].append(timed_save(s.port))
        for s in servers:
            res[s.kind]["size"] = os.path.getsize(s.file)
            s.stop()
        for r in range(a.rounds):
            for s in servers:
                res[s.kind]["load"].append(timed_load(s, a.keys))
                if r + 1 < a.rounds:
                    s.stop()
        if not a.skip_bgsave:
            for s in servers:
                rel, mem, rate, base = bgsave_under_load(s, a.load_secs)
                res[s.kind].update(bg_rel=rel, bg_mem=mem, bg_rate=rate, bg_base=base)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(root, ignore_errors=True)
    rc, rd = res["rcache"], res["redis"]
    med = statistics.median
    kind = "mixed types" if a.mixed else f"{a.value}-byte strings"
    print(f"dataset: {a.keys} keys, {kind}; {a.rounds} interleaved rounds, medians")
    print(f"{'':22}{'rcache':>12}{'redis':>12}{'ratio':>9}")
    print(f"{'SAVE (s)':22}{med(rc['save']):12.3f}{med(rd['save']):12.3f}{med(rc['save']) / med(rd['save']):9.2f}")
    print(f"{'per key (us)':22}{med(rc['save']) / a.keys * 1e6:12.3f}{med(rd['save']) / a.keys * 1e6:12.3f}")
    print(f"{'load (s)':22}{med(rc['load']):12.3f}{med(rd['load']):12.3f}{med(rc['load']) / med(rd['load']):9.2f}")
    print(f"{'file (bytes)':22}{rc['size']:12d}{rd['size']:12d}{rc['size'] / rd['size']:9.2f}")
    if not a.skip_bgsave:
        print(f"{'BGSAVE rate / base':22}{rc['bg_rel']:12.2f}{rd['bg_rel']:12.2f}")
        print(f"{'  (rps with / without)':22}{rc['bg_rate']:>12.0f}{rd['bg_rate']:>12.0f}   base {rc['bg_base']:.0f} / {rd['bg_base']:.0f}")
        print(f"{'BGSAVE peak RSS / RSS':22}{rc['bg_mem']:12.2f}{rd['bg_mem']:12.2f}")


if __name__ == "__main__":
    sys.exit(main())
