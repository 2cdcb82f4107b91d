"""Fixtures for the redis-py suite: one server per session, clients over RESP2 and RESP3.

The suite proves that an application written for Redis (here: against redis-py, the most used
Python client) moves to rcache unchanged. Every assertion was first checked against a real
Redis 7, so the same files run against either server:

    scripts/test.sh                                     # builds rcache, runs everything
    .venv-test/bin/pytest tests/py                      # rcache from target/debug/rcache
    RCACHE_PY_TARGET=127.0.0.1:6379 .venv-test/bin/pytest tests/py   # an existing server
                                                  # (started with --enable-debug-command yes)

Without RCACHE_PY_TARGET the session starts the rcache binary (RCACHE_BIN, else
$CARGO_TARGET_DIR/debug/rcache, else target/debug/rcache) the way crates/testkit's
RcacheProcess does: a port picked free below the kernel's ephemeral range (so no client socket
can be handed it meanwhile), `--port N`, then a bounded connect + PING poll that also notices a
child that died, retrying on another port when it did.

The suite FLUSHALLs the target before every test: never point it at a server holding data.
"""

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free_port():
    top = max(_ephemeral_low(), 11_000)
    for _ in range(1000):
        p = random.randrange(10_000, top)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
            return p
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(2)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _rcache_bin():
    if os.environ.get("RCACHE_BIN"):
        return Path(os.environ["RCACHE_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    return target / "debug" / "rcache"


class _Process:
    """A running `rcache server` child with its output in a temporary directory."""

    def __init__(self, binary, port, logdir):
        self.port = port
        self.log = Path(logdir) / f"rcache-{port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                # The memcached door on a free port (tests find it in INFO server); the doors the
                # suite does not use stay closed, so parallel runs never race for their ports.
                # DEBUG (off by default, as in Redis) from this machine: test_introspection.py.
                [str(binary), "server", "--port", str(port), "--memcache-port", "0",
                 "--http-port", "off", "--binary-port", "off", "--enable-debug-command", "local"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=logdir,
                env={**os.environ, "NO_COLOR": "1"},
            )

    def output(self):
        return self.log.read_text(errors="replace")

    def wait_ready(self):
        """True once it answers PING; False if it exited first; raises on the deadline."""
        deadline = time.monotonic() + READY_TIMEOUT
        pause = 0.002
        while True:
            if _ping(self.port):
                return True
            if self.proc.poll() is not None:
                return False
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"rcache did not answer PING on {self.port}\n{self.output()}")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def server_addr():
    """(host, port) of the server under test, started once per session unless given."""
    target = os.environ.get("RCACHE_PY_TARGET")
    if target:
        host, _, port = target.rpartition(":")
        yield (host or "127.0.0.1", int(port))
        return
    binary = _rcache_bin()
    if not binary.exists():
        pytest.exit(f"{binary} is missing: run `cargo build -p rcache` first", returncode=2)
    with tempfile.TemporaryDirectory(prefix="rcache-py-") as logdir:
        last = ""
        for _ in range(3):
            p = _Process(binary, _free_port(), logdir)
            if p.wait_ready():
                try:
                    yield ("127.0.0.1", p.port)
                finally:
                    p.stop()
                return
            # Lost the port to someone else between the check and the bind: try another.
            last = p.output()
        raise RuntimeError(f"rcache did not start:\n{last}")


@pytest.fixture(scope="session")
def memcache_addr(server_addr):
    """(host, port) of the memcached door, from INFO server's `memcache_port`."""
    c = redis.Redis(host=server_addr[0], port=server_addr[1], decode_responses=True)
    try:
        port = int(c.info("server").get("memcache_port", 0))
    finally:
        c.close()
    if not port:
        pytest.skip("the server under test has no memcached door")
    return (server_addr[0], port)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


@pytest.fixture
def make_client(server_addr, protocol):
    """Factory of extra clients (same server and protocol), all closed after the test."""
    made = []

    def make(decode_responses=True, **kw):
        c = redis.Redis(
            host=server_addr[0],
            port=server_addr[1],
            protocol=kw.pop("protocol", protocol),
            decode_responses=decode_responses,
            socket_timeout=kw.pop("socket_timeout", 10),
            **kw,
        )
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def r(make_client):
    """The test's main client (str replies), on an emptied server."""
    c = make_client()
    c.flushall()
    return c


@pytest.fixture
def rb(make_client, r):
    """A bytes client (decode_responses=False) on the same emptied server."""
    return make_client(decode_responses=False)



def pytest_configure(config):
    """Report failures from the test's own lines, not from inside redis-py.

    A server error surfaces ten frames deep in redis-py's connection code; those frames say
    nothing about which command failed, and laying out source from its 10,000-line modules
    costs pytest a fifth of a second per failure (a minute for a suite failing wholesale).
    pytest leaves out frames whose globals hold `__tracebackhide__`; `--full-trace` shows all.
    """
    for name, module in list(sys.modules.items()):
        if name == "redis" or name.startswith("redis."):
            module.__tracebackhide__ = True
