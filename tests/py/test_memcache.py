"""The memcached door driven by pymemcache, the Python memcached client: every classic
command it offers (with and without noreply), the meta commands through raw lines, and the
same keys read back over RESP with redis-py.

Each assertion is memcached 1.6's answer (checked against Debian's memcached 1.6.18), except
where a comment says rcache differs on purpose (docs/MEMCACHE.md)."""

import socket

import pytest
import redis
from pymemcache.client.base import Client
from pymemcache.exceptions import (
    MemcacheClientError,
    MemcacheIllegalInputError,
    MemcacheUnknownError,
)


@pytest.fixture
def mc(memcache_addr, server_addr):
    rr = redis.Redis(host=server_addr[0], port=server_addr[1])
    rr.flushall()
    rr.close()
    c = Client(memcache_addr, default_noreply=False, connect_timeout=5, timeout=10)
    yield c
    c.close()


@pytest.fixture
def rr(server_addr):
    c = redis.Redis(host=server_addr[0], port=server_addr[1])
    yield c
    c.close()


def raw(addr, data, until):
    """Send raw bytes, read until the reply ends with `until`."""
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(data)
        got = b""
        while not got.endswith(until):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_set_get_flags(mc, rr):
    assert mc.set("k", b"hello", flags=42) is True
    assert mc.get("k") == b"hello"
    assert mc.get("missing") is None
    assert mc.get("missing", default=b"d") == b"d"
    # Flags travel with the value; RESP sees the bytes only.
    assert mc.raw_command(b"get k", b"END\r\n") == b"VALUE k 42 5\r\nhello\r\n"
    assert rr.get("k") == b"hello"
    rr.set("r", "from-resp")
    assert mc.get("r") == b"from-resp"
    assert mc.set("q", b"quiet", noreply=True) is True
    assert mc.get("q") == b"quiet"


def test_get_many_set_many_delete_many(mc):
    assert mc.set_many({"a": b"1", "b": b"2", "c": b"3"}) == []
    assert mc.get_many(["a", "b", "c", "zz"]) == {"a": b"1", "b": b"2", "c": b"3"}
    assert mc.delete_many(["a", "b"]) is True
    assert mc.get_many(["a", "b", "c"]) == {"c": b"3"}


def test_gets_and_cas(mc, rr):
    assert mc.cas("k", b"x", b"1") is None  # NOT_FOUND
    mc.set("k", b"v1")
    value, cas = mc.gets("k")
    assert value == b"v1" and int(cas) > 0
    assert mc.cas("k", b"v2", cas) is True
    assert mc.cas("k", b"v3", cas) is False  # EXISTS: the CAS changed
    _, cas2 = mc.gets("k")
    rr.append("k", "!")  # a write through RESP changes it too
    assert mc.cas("k", b"v4", cas2) is False
    _, cas3 = mc.gets("k")
    assert mc.cas("k", b"v5", cas3, noreply=True) is True
    assert mc.get("k") == b"v5"
    assert mc.gets_many(["k", "none"])["k"][0] == b"v5"


def test_add_replace_append_prepend(mc):
    assert mc.add("k", b"a") is True
    assert mc.add("k", b"b") is False
    assert mc.replace("none", b"x") is False
    assert mc.replace("k", b"c", flags=3) is True
    assert mc.append("k", b"de") is True
    assert mc.prepend("k", b"ab") is True
    assert mc.get("k") == b"abcde"
    assert mc.append("none", b"x") is False
    assert mc.prepend("none", b"x") is False
    for f in (mc.add, mc.replace, mc.append, mc.prepend):
        assert f("k", b"z", noreply=True) is True


def test_delete(mc):
    mc.set("k", b"v")
    assert mc.delete("k") is True
    assert mc.delete("k") is False
    mc.set("k", b"v")
    assert mc.delete("k", noreply=True) is True
    assert mc.get("k") is None


def test_incr_decr(mc, rr):
    assert mc.incr("n", 1) is None
    mc.set("n", b"10")
    assert mc.incr("n", 5) == 15
    assert mc.decr("n", 100) == 0  # floors at 0
    mc.set("n", b"18446744073709551615")
    assert mc.incr("n", 2) == 1  # wraps at 2^64
    assert mc.incr("n", 1, noreply=True) is None
    assert mc.decr("n", 1, noreply=True) is None
    assert mc.get("n") == b"1"
    assert rr.incr("n") == 2
    mc.set("s", b"abc")
    with pytest.raises(MemcacheClientError, match="non-numeric"):
        mc.incr("s", 1)


def test_touch_gat_gats_ttl_across_doors(mc, rr):
    mc.set("k", b"v", expire=100)
    assert 99 <= rr.ttl("k") <= 100
    assert mc.touch("k", 10) is True
    assert mc.touch("none", 10) is False
    assert mc.touch("k", 20, noreply=True) is True
    assert 19 <= rr.ttl("k") <= 20
    # pymemcache 4 has no gat/gats methods: raw lines.
    assert mc.raw_command(b"gat 0 k", b"END\r\n") == b"VALUE k 0 1\r\nv\r\n"
    assert rr.ttl("k") == -1
    head = mc.raw_command(b"gats 30 k none", b"END\r\n").split(b"\r\n")[0].split()
    assert head[:4] == [b"VALUE", b"k", b"0", b"1"] and int(head[4]) > 0
    assert 29 <= rr.ttl("k") <= 30
    assert mc.raw_command(b"gat 5 none", b"END\r\n") == b""
    # Negative expiry: gone at once.
    mc.set("gone", b"v", expire=-1)
    assert mc.get("gone") is None


def test_flush_all_version_stats_verbosity(mc):
    mc.set("k", b"v")
    assert mc.flush_all() is True
    assert mc.get("k") is None
    mc.set("k", b"v")
    assert mc.flush_all(noreply=True) is True
    assert mc.get("k") is None
    assert mc.version().startswith(b"1.6.")
    mc.get("k")
    stats = mc.stats()
    for name in (b"pid", b"uptime", b"version", b"curr_connections", b"cmd_get", b"cmd_set",
                 b"get_hits", b"get_misses", b"curr_items", b"bytes", b"limit_maxbytes",
                 b"threads", b"evictions"):
        assert name in stats, name
    assert stats[b"cmd_get"] >= 1
    assert b"item_size_max" in mc.stats("settings")
    assert mc.raw_command(b"verbosity 1", b"\r\n") == b"OK"


def test_illegal_keys_are_refused(mc):
    with pytest.raises(MemcacheIllegalInputError):
        mc.set("k" * 251, b"v")
    # Through raw lines the server says it in memcached's words.
    with pytest.raises(MemcacheClientError, match="bad command line format"):
        mc.raw_command(b"get " + b"k" * 251, b"\r\n")


def test_big_values_and_too_large(mc):
    big = bytes(range(256)) * 4096  # 1 MiB
    assert mc.set("big", big) is True
    assert mc.get("big") == big
    with pytest.raises(Exception, match="object too large"):
        mc.set("big", big + b"x")
    assert mc.get("big") is None  # a failed set drops the old value, as memcached does


def test_meta_commands_raw(memcache_addr, mc):
    a = memcache_addr
    assert raw(a, b"ms m 3 F7 T60\r\nabc\r\n", b"\r\n") == b"HD\r\n"
    assert raw(a, b"mg m v f t s k Oop\r\n", b"abc\r\n") == b"VA 3 f7 t60 s3 km Oop\r\nabc\r\n"
    assert raw(a, b"mg nope v q\r\nmg nope v\r\nmn\r\n", b"MN\r\n") == b"EN\r\nMN\r\n"
    assert raw(a, b"ma c N0 J5 v\r\nma c D3 v\r\nma c MD D100 v\r\n", b"VA 1\r\n0\r\n") == \
        b"VA 1\r\n5\r\nVA 1\r\n8\r\nVA 1\r\n0\r\n"
    assert raw(a, b"md m q\r\nmd m\r\nmn\r\n", b"MN\r\n") == b"NF\r\nMN\r\n"
    assert raw(a, b"ms Zm9v 3 b\r\nbar\r\nmg Zm9v b k v\r\n", b"bar\r\n") == b"HD\r\nVA 3 kZm9v b\r\nbar\r\n"
    assert mc.get("foo") == b"bar"
    assert raw(a, b"mg k zz\r\n", b"\r\n") == b"CLIENT_ERROR invalid flag\r\n"
    assert raw(a, b"bogus\r\n", b"\r\n") == b"ERROR\r\n"


def test_stats_slabs_items_cachedump_conns(mc):
    # Empty: no items, no slab class (memcached before its first item).
    assert mc.stats("items") == {}
    assert mc.stats("slabs")[b"active_slabs"] == 0
    mc.set("a", b"hello")
    hits = mc.stats()[b"get_hits"]  # the door's counters run across tests
    mc.get("a")
    slabs = mc.stats("slabs")
    assert slabs[b"active_slabs"] == 1
    assert slabs[b"1:used_chunks"] == 1 and slabs[b"1:get_hits"] == hits + 1
    assert slabs[b"total_malloced"] > 0
    items = mc.stats("items")
    assert items[b"items:1:number"] == 1 and len(items) == 28
    assert mc.stats("cachedump", "1", "0") == {b"a": b"[5 b; 0 s]"}
    assert mc.stats("cachedump", "2", "0") == {}
    assert mc.stats("sizes") == {b"sizes_status": b"disabled"}
    conns = mc.stats("conns")
    state = [v for k, v in conns.items() if k.endswith(b":state")]
    assert state.count(b"conn_parse_cmd") == 1  # this client's own connection


def test_cache_memlimit_sets_maxmemory(mc, rr):
    old = rr.config_get("maxmemory")["maxmemory"]
    try:
        assert mc.cache_memlimit(100) is True
        assert rr.config_get("maxmemory") == {"maxmemory": str(100 << 20)}
        assert mc.stats("settings")[b"maxbytes"] == 100 << 20
        assert mc.stats()[b"limit_maxbytes"] == 100 << 20
        with pytest.raises(MemcacheUnknownError, match="MEMLIMIT_TOO_SMALL"):
            mc.cache_memlimit(7)
        with pytest.raises(MemcacheUnknownError, match="MEMLIMIT_ADJUST_FAILED"):
            mc.cache_memlimit(10**9 + 1)
        assert rr.config_get("maxmemory") == {"maxmemory": str(100 << 20)}
    finally:
        rr.config_set("maxmemory", old)


def test_http_request_lines_close_unanswered(memcache_addr):
    # memcached closes such a connection without a byte (cross-protocol requests).
    with socket.create_connection(memcache_addr, timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert s.recv(100) == b""


def test_quiet_bad_lines_keep_replies_in_step(memcache_addr, mc):
    mc.set("dk", b"x")
    assert raw(memcache_addr, b"delete dk 10 noreply\r\nget dk\r\n", b"END\r\n") == \
        b"VALUE dk 0 1\r\nx\r\nEND\r\n"
    # A length memcached could never allocate: a bad line at once, no data awaited.
    assert raw(memcache_addr, b"set k 0 0 2147483647\r\nab\r\nmn\r\n", b"MN\r\n") == \
        b"CLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n"
