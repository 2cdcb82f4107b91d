"""`rcache proxy` (the twemproxy drop-in) driven by the Python clients applications use:
redis-py through a Redis pool of two redis-servers, pymemcache through a memcached pool of two
memcacheds. An application that talked to nutcracker moves to the proxy unchanged.

The module starts its own backends (Debian's redis-server and memcached, each on a port picked
free, ready by a bounded poll) and one `rcache proxy` per pool (`listen: 127.0.0.1:0`, the
bound address read back from `--ports-file`), and kills them all at the end.

Without redis-server or memcached the tests fail, unless RCACHE_ALLOW_MISSING_TOOLS=1, when they
are skipped (the same rule as the Rust tests: CI never sets it, so nothing passes by not
running). Skipped when RCACHE_PY_TARGET points the suite at an existing server (the rcache
binary may not be built then).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from pymemcache.client.base import Client

from conftest import READY_TIMEOUT, _free_port, _ping, _rcache_bin
from helpers import wait_for

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("RCACHE_PY_TARGET")),
    reason="starts its own proxy and backends; RCACHE_PY_TARGET names an existing server",
)


def _tool(name, package):
    """The path of a backend tool, or skip (RCACHE_ALLOW_MISSING_TOOLS=1) / fail."""
    found = shutil.which(name)
    if not found:
        for d in ("/usr/sbin", "/usr/bin"):
            p = Path(d) / name
            if p.exists() and os.access(p, os.X_OK):
                found = str(p)
                break
    if found:
        return found
    msg = f"`{name}` is not installed (Debian: apt-get install {package})"
    if os.environ.get("RCACHE_ALLOW_MISSING_TOOLS") == "1":
        pytest.skip(f"SKIPPED: {msg}; RCACHE_ALLOW_MISSING_TOOLS=1")
    pytest.fail(f"{msg}; or set RCACHE_ALLOW_MISSING_TOOLS=1 to skip the tests that need it")


def _memcached_ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(2)
            s.sendall(b"version\r\n")
            return s.recv(64).startswith(b"VERSION ")
    except OSError:
        return False


class _Child:
    """A child process with its output in `logdir`, killed by stop()."""

    def __init__(self, argv, logdir, name):
        self.argv = argv
        self.log = Path(logdir) / f"{name}.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=logdir,
                                         env={**os.environ, "NO_COLOR": "1"})

    def output(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait(self, ready):
        """True once ready() holds; False if the child exited first; raises on the deadline."""
        deadline = time.monotonic() + READY_TIMEOUT
        pause = 0.002
        while True:
            if ready():
                return True
            if self.proc.poll() is not None:
                return False
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"{self.argv} not ready in {READY_TIMEOUT}s\n{self.output()}")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _backend(kind, logdir):
    """A redis-server or memcached on a free port: (child, port)."""
    if kind == "redis":
        binary = _tool("redis-server", "redis-server")
    else:
        binary = _tool("memcached", "memcached")
    last = ""
    for _ in range(3):
        port = _free_port()
        if kind == "redis":
            argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", logdir]
            ready = lambda: _ping(port)  # noqa: E731
        else:
            argv = [binary, "-p", str(port), "-U", "0", "-l", "127.0.0.1"]
            if os.geteuid() == 0:
                argv += ["-u", "root"]  # memcached refuses root without naming the user
            ready = lambda: _memcached_ready(port)  # noqa: E731
        child = _Child(argv, logdir, f"{kind}-{port}")
        if child.wait(ready):
            return child, port
        last = child.output()  # most likely the port was taken meanwhile: try another
    raise RuntimeError(f"{kind} did not start:\n{last}")


def _proxy(pool_yaml, logdir, name):
    """`rcache proxy` on a one-pool config: (child, (host, port) of the pool)."""
    binary = _rcache_bin()
    if not binary.exists():
        pytest.exit(f"{binary} is missing: run `cargo build -p rcache` first", returncode=2)
    conf = Path(logdir) / f"{name}.yml"
    conf.write_text(pool_yaml)
    ports = Path(logdir) / f"{name}.ports"
    child = _Child([str(binary), "proxy", "-c", str(conf), "-s", "0", "-a", "127.0.0.1",
                    "-i", "100", "--ports-file", str(ports)], logdir, name)

    def bound():
        try:
            lines = ports.read_text().splitlines()
        except OSError:
            return None
        return dict(line.split(" ", 1) for line in lines if " " in line)

    if not child.wait(lambda: bool(bound()) and "stats" in bound()):
        raise RuntimeError(f"rcache proxy exited:\n{child.output()}")
    host, _, port = bound()[name].rpartition(":")
    return child, (host, int(port))


@pytest.fixture(scope="module")
def proxies():
    """Two redis-servers behind pool `redis`, two memcacheds behind pool `mc`."""
    children = []
    with tempfile.TemporaryDirectory(prefix="rcache-py-proxy-") as logdir:
        try:
            env = {"redis_ports": [], "mc_ports": []}
            for _ in range(2):
                c, p = _backend("redis", logdir)
                children.append(c)
                env["redis_ports"].append(p)
            for _ in range(2):
                c, p = _backend("memcached", logdir)
                children.append(c)
                env["mc_ports"].append(p)
            servers = "".join(f"   - 127.0.0.1:{p}:1\n" for p in env["redis_ports"])
            c, env["redis"] = _proxy(
                "redis:\n  listen: 127.0.0.1:0\n  redis: true\n  hash: fnv1a_64\n"
                f"  distribution: ketama\n  timeout: 5000\n  servers:\n{servers}",
                logdir, "redis")
            children.append(c)
            servers = "".join(f"   - 127.0.0.1:{p}:1\n" for p in env["mc_ports"])
            c, env["mc"] = _proxy(
                "mc:\n  listen: 127.0.0.1:0\n  hash: fnv1a_64\n  distribution: ketama\n"
                f"  timeout: 5000\n  servers:\n{servers}",
                logdir, "mc")
            children.append(c)
            yield env
        finally:
            for c in reversed(children):
                c.stop()


@pytest.fixture
def backends(proxies):
    """Direct clients of the two redis-servers, emptied before the test."""
    made = [redis.Redis(host="127.0.0.1", port=p, decode_responses=True, socket_timeout=10)
            for p in proxies["redis_ports"]]
    for b in made:
        b.flushall()
    yield made
    for b in made:
        b.close()


@pytest.fixture
def r(proxies, backends, protocol):
    """redis-py through the proxy, one connection, RESP2 and RESP3 (conftest's `protocol`:
    the proxy answers HELLO itself; nutcracker has no HELLO, so RESP2 is what its users
    speak)."""
    host, port = proxies["redis"]
    c = redis.Redis(host=host, port=port, protocol=protocol, decode_responses=True,
                    socket_timeout=10, single_connection_client=True)
    yield c
    c.close()


@pytest.fixture
def mc_backends(proxies):
    made = [Client(("127.0.0.1", p), default_noreply=False, connect_timeout=5, timeout=10)
            for p in proxies["mc_ports"]]
    for b in made:
        b.flush_all()
    yield made
    for b in made:
        b.close()


@pytest.fixture
def mc(proxies, mc_backends):
    c = Client(proxies["mc"], default_noreply=False, connect_timeout=5, timeout=10)
    yield c
    c.close()


def key(i):
    # The varying part is not last: fnv1a_64 (twemproxy's default) places keys that differ
    # only in their last bytes close together on the ring, so they would share a server.
    return f"py:{i}:key"


# ---------------------------------------------------------------------------------------------
# redis-py
# ---------------------------------------------------------------------------------------------


def test_set_get_mget_delete_exists(r, backends):
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == "hello"
    assert r.get("missing") is None
    assert r.mset({key(i): f"v{i}" for i in range(100)}) is True
    sizes = [b.dbsize() for b in backends]
    assert sum(sizes) == 101 and all(sizes), sizes
    names = [key(i) for i in range(100)] + ["nope:1", "nope:2"]
    assert r.mget(names) == [f"v{i}" for i in range(100)] + [None, None]
    assert r.mget(key(5), "nope", key(5)) == ["v5", None, "v5"]
    assert r.exists(key(1), key(2), "nope", key(1)) == 3
    assert r.delete(*[key(i) for i in range(50)], "nope") == 50
    assert r.mget(key(0), key(99)) == [None, "v99"]
    assert r.unlink(*[key(i) for i in range(50, 100)]) == 50
    assert sum(b.dbsize() for b in backends) == 1
    assert r.ping() is True
    assert r.echo("hi") == "hi"


def test_pipeline_of_100_commands(r, backends):
    p = r.pipeline(transaction=False)
    for i in range(25):
        p.set(key(i), i)
        p.incr(key(i))
        p.get(key(i))
        p.mget(key(i), key(i + 1))
    got = p.execute()
    assert len(got) == 100
    for i in range(25):
        s, n, g, m = got[4 * i:4 * i + 4]
        assert (s, n, g) == (True, i + 1, str(i + 1))
        assert m[0] == str(i + 1)
    assert all(b.dbsize() for b in backends)


def test_transaction_pipeline_is_refused_and_the_connection_survives(r):
    # MULTI/EXEC cannot work on shared backend connections: the proxy refuses them.
    with pytest.raises(redis.ResponseError):
        with r.pipeline(transaction=True) as p:
            p.set("t", "1")
            p.execute()
    assert r.ping() is True
    r.set("after", "ok")
    assert r.get("after") == "ok"


def test_hashes_lists_sets(r):
    assert r.hset("user:1", mapping={"name": "ada", "lang": "en"}) == 2
    assert r.hgetall("user:1") == {"name": "ada", "lang": "en"}
    assert r.hincrby("user:1", "visits", 3) == 3
    assert r.hget("user:1", "visits") == "3"
    assert r.hdel("user:1", "lang") == 1
    assert sorted(r.hkeys("user:1")) == ["name", "visits"]
    assert r.rpush("queue", "a", "b", "c") == 3
    assert r.lrange("queue", 0, -1) == ["a", "b", "c"]
    assert r.lpop("queue") == "a"
    assert r.sadd("tags", "x", "y", "x") == 2
    assert r.smembers("tags") == {"x", "y"}
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("user:1", "z")


def test_counters(r):
    assert r.incr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decr("n") == 10
    assert r.decrby("n", 4) == 6
    assert r.incrbyfloat("f", 1.5) == 1.5
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError):
        r.incr("s")


def test_expire_and_ttl(r):
    assert r.set("e", "v", ex=100) is True
    assert 0 < r.ttl("e") <= 100
    r.set("p", "v")
    assert r.ttl("p") == -1
    assert r.expire("p", 50) is True
    assert 0 < r.ttl("p") <= 50
    assert 0 < r.pttl("p") <= 50_000
    assert r.persist("p") is True
    assert r.ttl("p") == -1
    assert r.ttl("missing") == -2
    assert r.set("gone", "v", px=1) is True
    wait_for("a 1 ms key to expire", lambda: r.get("gone") is None, timeout=5)


@pytest.mark.parametrize("call", [
    lambda r: r.keys("*"),
    lambda r: r.info(),
    lambda r: r.flushall(),
    lambda r: r.dbsize(),
    lambda r: r.scan(0),
    lambda r: r.blpop(["l"], timeout=1),
    lambda r: r.config_get("maxmemory"),
], ids=["keys", "info", "flushall", "dbsize", "scan", "blpop", "config"])
def test_refused_command_raises_and_the_connection_still_works(r, call):
    r.set("kept", "1")
    with pytest.raises(redis.ResponseError, match="not supported through the proxy"):
        call(r)
    # Same connection (single_connection_client): still serving.
    assert r.ping() is True
    assert r.get("kept") == "1"


def test_crossslot_for_multi_key_commands_over_two_servers(r, backends):
    names = [key(i) for i in range(40)]
    r.mset({k: "1" for k in names})
    on0 = set(backends[0].keys("*"))
    a = next(k for k in names if k in on0)
    b = next(k for k in names if k not in on0)
    # redis-py turns `-CROSSSLOT ...` into ClusterCrossSlotError (a ResponseError), without
    # the code in the message.
    with pytest.raises(redis.ResponseError, match="don't hash to the same server") as e:
        r.rename(a, b)
    assert isinstance(e.value, redis.exceptions.ClusterCrossSlotError)
    a2 = next(k for k in names if k in on0 and k != a)
    assert r.rename(a, a2) is True


# ---------------------------------------------------------------------------------------------
# pymemcache
# ---------------------------------------------------------------------------------------------


def test_memcached_set_get_many_delete(mc, mc_backends):
    assert mc.set("k", b"hello", flags=7) is True
    assert mc.get("k") == b"hello"
    assert mc.get("missing") is None
    values = {f"mc:{i}:key": f"v{i}".encode() for i in range(60)}
    assert mc.set_many(values) == []
    # Both servers hold some of them.
    counts = [len(b.get_many(list(values))) for b in mc_backends]
    assert sum(counts) == 60 and all(counts), counts
    got = mc.get_many(list(values) + ["nope1", "nope2"])
    assert got == values
    assert mc.delete("mc:0:key") is True
    assert mc.delete("mc:0:key") is False
    assert mc.delete_many(["mc:1:key", "mc:2:key"]) is True
    assert mc.get_many(["mc:0:key", "mc:1:key", "mc:3:key"]) == {"mc:3:key": b"v3"}


def test_memcached_add_replace_append_prepend(mc):
    assert mc.add("a", b"1") is True
    assert mc.add("a", b"2") is False
    assert mc.replace("a", b"3") is True
    assert mc.replace("nope", b"3") is False
    assert mc.append("a", b">") is True
    assert mc.prepend("a", b"<") is True
    assert mc.get("a") == b"<3>"


def test_memcached_incr_decr(mc):
    mc.set("n", b"10")
    assert mc.incr("n", 5) == 15
    assert mc.decr("n", 3) == 12
    assert mc.decr("n", 100) == 0
    assert mc.incr("nope", 1) is None


def test_memcached_cas_and_touch(mc):
    mc.set("c", b"one")
    value, cas = mc.gets("c")
    assert value == b"one"
    assert mc.cas("c", b"two", cas) is True
    assert mc.cas("c", b"three", cas) is False  # the cas token is stale now
    assert mc.get("c") == b"two"
    assert mc.cas("nope", b"x", cas) is None
    got = mc.gets_many(["c", "nope"])
    assert list(got) == ["c"] and got["c"][0] == b"two"
    assert mc.touch("c", 100) is True
    assert mc.touch("nope", 100) is False


def test_memcached_noreply(mc, proxies):
    quiet = Client(proxies["mc"], default_noreply=True, connect_timeout=5, timeout=10)
    try:
        assert quiet.set("q", b"quiet") is True  # noreply: pymemcache does not wait
        assert quiet.set_many({f"q:{i}:key": b"x" for i in range(20)}) == []
        assert quiet.delete("q:0:key") is True
        # The same connection's next reply is the get's: no stray STORED / DELETED.
        assert quiet.get("q") == b"quiet"
        assert quiet.get("q:0:key") is None
        assert quiet.get("q:1:key") == b"x"
    finally:
        quiet.close()
    assert mc.get("q") == b"quiet"


def test_memcached_keyless_commands_are_refused(mc):
    mc.set("k", b"v")
    assert mc.version().startswith(b"rcache-proxy")
    with pytest.raises(Exception):
        mc.flush_all(noreply=False)
    assert mc.get("k") == b"v"
