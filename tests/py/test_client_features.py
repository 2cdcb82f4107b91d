"""Redis 7's client features through redis-py: its own client-side cache (cache_config, RESP3),
CLIENT TRACKING with a RESP2 redirect to a pub/sub connection, CLIENT PAUSE / UNPAUSE, CLIENT
REPLY, RESET and MONITOR. Every assertion also holds against Redis 7.0."""

import socket

import pytest
import redis
from redis.cache import CacheConfig

from helpers import Background, blocked_clients, wait_for


@pytest.fixture
def csc_allowed(monkeypatch):
    """redis-py enables its cache only for servers announcing 7.4 or later (a client policy:
    CLIENT TRACKING and RESP3 invalidation pushes are Redis 6's). rcache, like Redis 7.0.15,
    announces 7.0.15, so the floor is lowered for these tests; they pass against both."""
    monkeypatch.setattr(redis.connection.CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")


def cached_client(server_addr, **kw):
    """A RESP3 client with redis-py's client-side cache (server-assisted: CLIENT TRACKING)."""
    return redis.Redis(
        host=server_addr[0],
        port=server_addr[1],
        protocol=3,
        cache_config=CacheConfig(),
        decode_responses=True,
        socket_timeout=10,
        **kw,
    )


def test_client_side_cache_sees_another_clients_write(server_addr, r, csc_allowed):
    """The user's view of server-assisted caching: cached reads, then fresh ones after another
    client (any protocol) changes the key."""
    c = cached_client(server_addr)
    try:
        r.set("k", "1")
        assert c.get("k") == "1"
        cache = c.get_cache()
        assert cache.size == 1
        assert c.get("k") == "1"  # served from the cache
        r.set("k", "2")
        assert c.get("k") == "2"
        r.delete("k")
        assert c.get("k") is None
        r.set("k", "3")
        assert c.get("k") == "3"
        # A hash, a flush of everything (a null invalidation empties the cache).
        r.hset("h", mapping={"a": "1"})
        assert c.hgetall("h") == {"a": "1"}
        r.hset("h", "a", "2")
        assert c.hgetall("h") == {"a": "2"}
        assert c.get("k") == "3"
        r.flushall()
        assert c.get("k") is None
        assert c.hgetall("h") == {}
    finally:
        c.close()


def test_client_side_cache_sees_expiry(server_addr, r, csc_allowed):
    c = cached_client(server_addr)
    try:
        r.set("t", "v", px=50)
        assert c.get("t") == "v"
        wait_for("the key to expire", lambda: c.get("t") is None, timeout=5)
    finally:
        c.close()


def test_tracking_redirect_to_a_resp2_subscriber(server_addr, make_client, r):
    """RESP2 has no pushes: invalidations go to a connection subscribed to
    __redis__:invalidate, named by REDIRECT."""
    sub = raw(server_addr)
    try:
        sub.sendall(b"CLIENT ID\r\n")
        sub_id = int(read_until(sub, b"\r\n")[1:-2])
        sub.sendall(b"SUBSCRIBE __redis__:invalidate\r\n")
        read_until(sub, b":1\r\n")
        tracker = make_client(protocol=2, single_connection_client=True)
        assert tracker.client_tracking_on(clientid=sub_id) in (True, "OK")
        assert tracker.client_getredir() == sub_id
        r.set("k", "v")
        assert tracker.get("k") == "v"
        r.set("k", "w")
        assert read_until(sub, b"k\r\n") == (
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
        )
        r.flushall()
        assert read_until(sub, b"$-1\r\n") == (
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
        )
    finally:
        sub.close()


def test_tracking_info_and_errors(make_client):
    c = make_client(single_connection_client=True)
    info = c.client_trackinginfo()
    flags = info["flags"] if isinstance(info, dict) else info[1]
    assert list(flags) == ["off"]
    assert c.client_getredir() == -1
    with pytest.raises(redis.ResponseError, match="PREFIX option requires BCAST mode"):
        c.execute_command("CLIENT", "TRACKING", "ON", "PREFIX", "a")
    with pytest.raises(redis.ResponseError, match="overlaps with another provided prefix"):
        c.client_tracking_on(bcast=True, prefix=["ab", "a"])
    assert c.client_tracking_on(bcast=True, prefix=["user:"]) in (True, "OK")
    info = c.client_trackinginfo()
    flags = info["flags"] if isinstance(info, dict) else info[1]
    assert sorted(flags) == ["bcast", "on"]
    assert c.client_tracking_off() in (True, "OK")


def test_pause_write_holds_writes_until_unpause(make_client, r):
    r.set("k", "old")
    writer = make_client()
    reader = make_client()
    assert r.client_pause(100_000, all=False) is True
    try:
        held = Background(writer.set, "k", "new")
        wait_for("the write to be held", lambda: blocked_clients(r) == 1)
        assert reader.get("k") == "old"  # reads go on
        assert not held.done()
    finally:
        assert r.client_unpause() in (True, "OK")
    held.join(5)
    assert held.result is True
    assert reader.get("k") == "new"


def test_pause_ends_by_its_timeout(make_client, r):
    writer = make_client()
    assert r.client_pause(200, all=False) is True
    assert writer.set("k", "v") is True  # waited for the pause to end
    assert r.get("k") == "v"


def raw(server_addr):
    s = socket.create_connection(server_addr, timeout=5)
    return s


def read_until(s, suffix):
    buf = b""
    while not buf.endswith(suffix):
        chunk = s.recv(4096)
        assert chunk, f"connection closed after {buf!r}"
        buf += chunk
    return buf


def test_client_reply_off_and_skip(server_addr, r):
    s = raw(server_addr)
    try:
        s.sendall(
            b"CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\n"
            b"CLIENT REPLY OFF\r\nSET b 2\r\nGET b\r\nCLIENT REPLY ON\r\nGET b\r\n"
        )
        assert read_until(s, b"$1\r\n2\r\n") == b"$1\r\n1\r\n+OK\r\n$1\r\n2\r\n"
    finally:
        s.close()
    assert r.get("b") == "2"


def test_reset_returns_to_a_fresh_connection(server_addr, make_client, r):
    """RESET: database 0, no name, MULTI discarded, subscriptions dropped, RESP2 again."""
    c = make_client(protocol=2, single_connection_client=True)
    c.execute_command("SELECT", 5)
    c.set("in5", "x")
    c.client_setname("named")
    assert c.execute_command("RESET") in ("RESET", b"RESET")
    assert "db=0 " in c.execute_command("CLIENT", "INFO")
    assert c.client_getname() is None
    assert c.get("in5") is None
    # After MULTI, SUBSCRIBE and HELLO 3 (raw, so the wire shows the protocol).
    s = raw(server_addr)
    try:
        s.sendall(b"MULTI\r\nSET q 1\r\nRESET\r\nGET q\r\nSUBSCRIBE ch\r\nRESET\r\nPING\r\n")
        got = read_until(s, b"+PONG\r\n")
        assert got == (
            b"+OK\r\n+QUEUED\r\n+RESET\r\n$-1\r\n"
            b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n+RESET\r\n+PONG\r\n"
        )
        s.sendall(b"HELLO 3\r\n")
        read_until(s, b"modules\r\n*0\r\n")
        s.sendall(b"RESET\r\nCONFIG GET maxmemory-policy\r\n")
        assert read_until(s, b"noeviction\r\n") == (
            b"+RESET\r\n*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"
        )
    finally:
        s.close()
    assert r.pubsub_numsub("ch") == [("ch", 0)]


def test_monitor_sees_commands(make_client, r):
    other = make_client()
    with r.monitor() as m:
        other.set("mk", "v v")
        other.get("mk")
        cmds = []
        while len(cmds) < 2:
            c = m.next_command()
            if c["command"].startswith(("SET mk", "GET mk")):
                cmds.append(c)
    assert cmds[0]["command"] == "SET mk v v"
    assert cmds[0]["db"] == 0 and cmds[0]["client_type"] == "tcp"
    assert cmds[1]["command"] == "GET mk"
    assert isinstance(cmds[0]["time"], float)
