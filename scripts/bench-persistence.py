#!/usr/bin/env python3
"""Snapshot benchmarks: rcache against Redis 7 (Debian's redis-server) in the same run.

    scripts/bench-persistence.py [--keys 1000000] [--value 100] [--rounds 3] [--mixed]
                                 [--rcache target/release/rcache] [--skip-bgsave]

Each figure is the median of --rounds, rounds interleaved (rcache, Redis, rcache, …):

  save      wall time of SAVE on the populated server (redis-cli, from send to reply)
  size      the snapshot file's bytes (dump.rcsnap / dump.rdb)
  load      from process start until DBSIZE answers the full count (not LOADING)
  bgsave    redis-benchmark SET (then GET) at -c 50 runs throughout; the requests served per
            second *while* a BGSAVE runs (INFO's total_commands_processed at its start and
            end, 3 saves) over the rate in the 2 s before; and the peak RSS during the saves
            (the fork child's included for Redis) over the RSS before

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


class Conn:
    """A raw RESP connection, for polling INFO without starting a process each time."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def info(self, section):
        self.s.sendall(resp("INFO", section))
        n = int(self.f.readline()[1:])
        body = self.f.read(n + 2).decode()
        return dict(l.split(":", 1) for l in body.splitlines() if ":" in l)

    def cmd(self, *args):
        self.s.sendall(resp(*args))
        return self.f.readline()


def bgsave_under_load(srv, test, saves=3):
    """Requests per second served *while* a BGSAVE runs, over the rate just before it, for
    a redis-benchmark `test` (set or get) at -c 50 running throughout; and the peak RSS
    during the saves (Redis's fork child included) over the RSS before. Commands served are
    read from INFO stats (total_commands_processed) at each save's start and end, so only
    time inside a save counts, however long each server's save takes."""
    bench = subprocess.Popen(["redis-benchmark", "-p", str(srv.port), "-c", "50",
                              "-n", "100000000", "-t", test, "-r", "1000000", "-d", "100", "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = Conn(srv.port)
    served = lambda: int(c.info("stats")["total_commands_processed"])
    try:
        time.sleep(1.0)
        rss0 = srv.rss()
        n0, t0 = served(), time.perf_counter()
        time.sleep(2.0)
        base = (served() - n0) / (time.perf_counter() - t0)
        peak, in_save_n, in_save_t = rss0, 0, 0.0
        for _ in range(saves):
            n0, t0 = served(), time.perf_counter()
            c.cmd("BGSAVE")
            while c.info("persistence").get("rdb_bgsave_in_progress") == "1" or \
                    time.perf_counter() - t0 < 0.01:
                peak = max(peak, srv.rss())
                time.sleep(0.005)
            in_save_n += served() - n0
            in_save_t += time.perf_counter() - t0
            time.sleep(0.5)
        during = in_save_n / in_save_t
        return during / base, peak / rss0, during, base, in_save_t / saves
    finally:
        bench.kill()
        bench.wait()
        while c.info("persistence").get("rdb_bgsave_in_progress") == "1":
            time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mixed", action="store_true")
    ap.add_argument("--rcache", default="target/release/rcache")
    ap.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
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
            for test in ("set", "get"):
                for s in servers:
                    res[s.kind][test] = bgsave_under_load(s, test)
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
        for test in ("set", "get"):
            x, y = rc[test], rd[test]
            print(f"{'BGSAVE ' + test.upper() + ' rps / before':22}{x[0]:12.2f}{y[0]:12.2f}"
                  f"   ({x[2]:.0f}/{x[3]:.0f} vs {y[2]:.0f}/{y[3]:.0f} rps)")
            print(f"{'  peak RSS / before':22}{x[1]:12.2f}{y[1]:12.2f}")
            print(f"{'  one BGSAVE (s)':22}{x[4]:12.3f}{y[4]:12.3f}")


if __name__ == "__main__":
    sys.exit(main())
