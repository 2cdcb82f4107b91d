"""redis-py's RedisCluster against a 3-node rcache cluster, in forward mode (any node serves any
key) and in redirect mode (`--cluster-redirect`: MOVED, as Redis Cluster).

The cluster is started here, once per mode (module fixture), the way crates/testkit's
TestCluster does it: every node with `--port 0 --cluster-port 0` (ports picked by the kernel),
its own temporary --dir, the first put in cluster mode by its config file
(`cluster-enabled = "yes"`), the others `--join`ing its bus port (the `@port` of its CLUSTER
NODES `myself` line). Readiness and settling are bounded polls of CLUSTER INFO / CLUSTER NODES.

Skipped when RCACHE_PY_TARGET points the suite at an existing server.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from conftest import _rcache_bin

READY_TIMEOUT = 30.0
SETTLE_TIMEOUT = 40.0
QUIET = 2.0  # the slot map must stay still this long (10 gossip rounds) to count as settled

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("RCACHE_PY_TARGET")),
    reason="starts its own rcache cluster; RCACHE_PY_TARGET names an existing server",
)


def _raw(port, *args):
    """One command on a fresh connection, the reply without redis-py's parsing (CLUSTER NODES
    and CLUSTER INFO have response callbacks), or None when the node does not answer."""
    try:
        c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, socket_connect_timeout=1,
                        decode_responses=True)
        conn = c.connection_pool.get_connection()
        try:
            conn.send_command(*args)
            return conn.read_response()
        finally:
            c.connection_pool.release(conn)
            c.close()
    except (redis.RedisError, OSError):
        return None


def _info(port):
    text = _raw(port, "CLUSTER", "INFO")
    if not isinstance(text, str):
        return None
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _myself(port):
    text = _raw(port, "CLUSTER", "NODES")
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 8 and "myself" in w[2].split(","):
            return w
    return None


class _Node:
    def __init__(self, binary, args, cluster_enabled):
        self.dir = tempfile.mkdtemp(prefix="rcache-py-cluster-")
        argv = [str(binary), "server"]
        if cluster_enabled:
            conf = Path(self.dir) / "rcache.toml"
            conf.write_text('cluster-enabled = "yes"\n')
            argv += ["--config", str(conf)]
        argv += ["--port", "0", "--cluster-port", "0", "--dir", self.dir, "--save", "",
                 "--http-port", "off", "--binary-port", "off", "--memcache-port", "0"] + args
        self.argv = argv
        self.log = Path(self.dir) / "rcache.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         env={**os.environ, "NO_COLOR": "1"})
        self.port, self.bus = self._addresses()

    def output(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def _addresses(self):
        """The RESP port (start-up log line) and the bus port (CLUSTER NODES myself line)."""
        deadline = time.monotonic() + READY_TIMEOUT
        port = None
        pause = 0.005
        while True:
            if port is None:
                m = re.search(r"ready to accept connections on [0-9.]+:(\d+) \(resp\)",
                              self.output())
                port = int(m.group(1)) if m else None
            if port is not None:
                me = _myself(port)
                if me:
                    bus = int(me[1].split("@")[1].split(",")[0])
                    if bus:
                        return port, bus
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv} exited ({self.proc.returncode}):\n{self.output()}")
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{self.argv} not ready in {READY_TIMEOUT}s:\n{self.output()}")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()  # the test is over: no graceful hand-off round
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _report(nodes):
    out = []
    for n in nodes:
        info = _info(n.port) or {}
        keys = ("cluster_state", "cluster_my_state", "cluster_known_nodes", "cluster_moving_slots")
        out.append(f"node :{n.port} " + " ".join(f"{k}={info.get(k)}" for k in keys))
        out.append("\n".join(n.output().splitlines()[-15:]))
    return "\n".join(out)


def _poll(what, nodes, timeout, check):
    """Call check() until it returns True; fail with `what` and each node's view on timeout."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        for n in nodes:
            if n.proc.poll() is not None:
                raise AssertionError(f"node :{n.port} exited while waiting for {what}\n"
                                     f"{_report(nodes)}")
        if check():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{_report(nodes)}")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _start_cluster(binary, count, extra):
    nodes = [_Node(binary, extra, cluster_enabled=True)]
    try:
        seed = f"127.0.0.1:{nodes[0].bus}"
        for _ in range(count - 1):
            nodes.append(_Node(binary, extra + ["--join", seed], cluster_enabled=False))

        def formed():
            infos = [_info(n.port) for n in nodes]
            return all(i and i.get("cluster_state") == "ok"
                       and i.get("cluster_my_state") == "serving"
                       and i.get("cluster_known_nodes") == str(count) for i in infos)

        _poll(f"{count} nodes serving and seeing each other", nodes, READY_TIMEOUT, formed)

        # Settled: no slot left to move anywhere, every node owning some, and the map still
        # for QUIET (a node that has not heard yet that another serves reports nothing to
        # move for a moment).
        state = {"since": None, "counts": None}

        def settled():
            infos = [_info(n.port) for n in nodes]
            if not all(i and i.get("cluster_state") == "ok"
                       and i.get("cluster_moving_slots") == "0" for i in infos):
                state["since"] = None
                return False
            counts = []
            for n in nodes:
                me = _myself(n.port)
                if me is None:
                    return False
                c = 0
                for r in me[8:]:
                    if r.startswith("["):
                        continue
                    a, _, b = r.partition("-")
                    c += int(b or a) - int(a) + 1
                counts.append(c)
            if sum(counts) != 16384 or 0 in counts:
                state["since"] = None
                return False
            if counts != state["counts"]:
                state["since"], state["counts"] = time.monotonic(), counts
                return False
            return time.monotonic() - state["since"] >= QUIET

        _poll("the slot map settled", nodes, SETTLE_TIMEOUT, settled)
        return nodes
    except BaseException:
        for n in nodes:
            n.stop()
        raise


@pytest.fixture(scope="module", params=["forward", "redirect"])
def cluster(request):
    """(mode, [resp ports]) of a settled 3-node cluster."""
    binary = _rcache_bin()
    if not binary.exists():
        pytest.exit(f"{binary} is missing: run `cargo build -p rcache` first", returncode=2)
    extra = ["--cluster-redirect"] if request.param == "redirect" else []
    nodes = _start_cluster(binary, 3, extra)
    try:
        yield request.param, [n.port for n in nodes]
    finally:
        for n in nodes:
            n.stop()


@pytest.fixture
def rc(cluster):
    """A RedisCluster client (str replies) started from the second node, on emptied nodes."""
    _, ports = cluster
    for p in ports:
        plain = redis.Redis(host="127.0.0.1", port=p)
        plain.flushall()
        plain.close()
    c = RedisCluster(host="127.0.0.1", port=ports[1], decode_responses=True, socket_timeout=10)
    yield c
    c.close()


def test_cluster_client_sees_three_masters(rc, cluster):
    mode, ports = cluster
    masters = rc.get_primaries()
    assert sorted(n.port for n in masters) == sorted(ports)
    info = rc.cluster_info(target_nodes=RedisCluster.RANDOM)
    assert info["cluster_state"] == "ok"
    assert info["cluster_mode"] == mode


def test_set_get_mget(rc, cluster):
    _, ports = cluster
    keys = [f"user:{i}" for i in range(300)]
    for i, k in enumerate(keys):
        assert rc.set(k, f"v{i}") is True
    for i, k in enumerate(keys):
        assert rc.get(k) == f"v{i}"
    # Across slots: redis-py splits by slot and puts the replies back in order.
    assert rc.mget_nonatomic(keys + ["missing:1"]) == [f"v{i}" for i in range(300)] + [None]
    # One slot (a hashtag): a real MGET.
    tagged = [f"{{cart}}:{i}" for i in range(50)]
    assert rc.mset({k: k.upper() for k in tagged}) is True
    assert rc.mget(tagged) == [k.upper() for k in tagged]
    assert rc.delete(*keys[:10]) == 10
    assert rc.exists(*keys[:20]) == 10
    # The keys are spread over the three nodes.
    sizes = []
    for p in ports:
        plain = redis.Redis(host="127.0.0.1", port=p)
        sizes.append(plain.dbsize())
        plain.close()
    assert sum(sizes) == 290 + 50
    assert all(s > 30 for s in sizes), sizes


def test_pipeline(rc):
    with rc.pipeline() as p:
        for i in range(300):
            p.set(f"p:{i}", i)
            p.incr(f"c:{i % 7}")
        replies = p.execute()
    assert replies[0::2] == [True] * 300
    with rc.pipeline() as p:
        for i in range(300):
            p.get(f"p:{i}")
        for j in range(7):
            p.get(f"c:{j}")
        vals = p.execute()
    assert vals[:300] == [str(i) for i in range(300)]
    assert sum(int(v) for v in vals[300:]) == 300


def test_plain_client_on_every_node(rc, cluster):
    """Forward mode: a plain client gets every key from any node. Redirect mode: MOVED to the
    key's owner for keys it does not hold."""
    mode, ports = cluster
    keys = [f"plain:{i}" for i in range(100)]
    for k in keys:
        rc.set(k, k)
    for p in ports:
        plain = redis.Redis(host="127.0.0.1", port=p, decode_responses=True, socket_timeout=10)
        try:
            if mode == "forward":
                assert plain.mget(keys) == keys  # split over the owners, merged here
                for k in keys[:20]:
                    assert plain.get(k) == k
            else:
                served = moved = 0
                for k in keys:
                    owner = rc.get_node_from_key(k)
                    if owner.port == p:
                        assert plain.get(k) == k
                        served += 1
                    else:
                        with pytest.raises(redis.exceptions.MovedError) as e:
                            plain.get(k)
                        slot = rc.keyslot(k)
                        assert str(e.value) == f"{slot} 127.0.0.1:{owner.port}"
                        moved += 1
                assert served > 0 and moved > 0
        finally:
            plain.close()


def _memcache_ports(ports):
    out = []
    for p in ports:
        c = redis.Redis(host="127.0.0.1", port=p, decode_responses=True)
        out.append(int(c.info("server")["memcache_port"]))
        c.close()
    return out


def test_memcached_door_serves_every_key_through_every_node(cluster):
    """The memcached door in cluster mode: a key set through one node is read, counted,
    compared-and-swapped and deleted through the others; a multi-get spanning every node
    comes back whole."""
    from pymemcache.client.base import Client

    _, ports = cluster
    for p in ports:
        plain = redis.Redis(host="127.0.0.1", port=p)
        plain.flushall()
        plain.close()
    # Acknowledged writes (pymemcache sends `noreply` by default: such a write through one
    # node is not ordered before a read through another).
    clients = [
        Client(("127.0.0.1", p), timeout=10, default_noreply=False)
        for p in _memcache_ports(ports)
    ]
    try:
        keys = [f"mc:{i}" for i in range(300)]
        for i, k in enumerate(keys):
            assert clients[i % 3].set(k, f"v{i}".encode(), expire=300)
        for c in clients:
            for i, k in enumerate(keys):
                assert c.get(k) == f"v{i}".encode(), k
        many = clients[1].get_many(keys)
        assert len(many) == len(keys)
        assert all(many[k] == f"v{i}".encode() for i, k in enumerate(keys))
        assert clients[0].set("mc:n", b"5")
        assert clients[2].incr("mc:n", 3) == 8
        value, cas = clients[1].gets("mc:0")
        assert clients[2].cas("mc:0", b"new", cas)
        assert clients[0].get("mc:0") == b"new"
        assert clients[2].delete("mc:1")
        assert clients[0].get("mc:1") is None
        # The same keys through RESP: one keyspace.
        r = RedisCluster(host="127.0.0.1", port=ports[0], socket_timeout=10)
        assert r.get("mc:2") == b"v2"
        r.close()
    finally:
        for c in clients:
            c.close()
