"""Strings and the generic key commands through redis-py, as an application uses them."""

import pytest
import redis


def test_set_get_and_options(r):
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.get("missing") is None
    assert r.set("k", "x", nx=True) is None
    assert r.set("other", "x", xx=True) is None
    assert r.set("k", "w", xx=True, get=True) == "v"
    assert r.get("k") == "w"
    assert r.setnx("k", "z") is False
    assert r.setnx("n", "z") is True
    assert r.getset("n", "y") == "z"
    assert r.getdel("n") == "y"
    assert r.exists("n") == 0


def test_expiry_family(r):
    r.set("k", "v", ex=100)
    assert 0 < r.ttl("k") <= 100
    assert 0 < r.pttl("k") <= 100_000
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.ttl("missing") == -2
    assert r.expire("k", 50) is True
    assert r.expiretime("k") > 0
    assert r.pexpire("k", 50_000) is True
    assert r.getex("k", persist=True) == "v"
    assert r.ttl("k") == -1
    r.setex("s", 30, "v")
    r.psetex("p", 30_000, "v")
    assert r.ttl("s") > 0 and r.pttl("p") > 0
    # A past expiry deletes the key at once.
    assert r.pexpireat("s", 1) is True
    assert r.exists("s") == 0


def test_counters(r):
    assert r.incr("c") == 1
    assert r.incrby("c", 10) == 11
    assert r.decr("c") == 10
    assert r.decrby("c", 5) == 5
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.incrbyfloat("f", "2.25") == 3.75
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError, match="not an integer or out of range"):
        r.incr("s")
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.incrbyfloat("s", 1)


def test_multi_key_strings(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "nope") == ["1", "2", None]
    assert r.msetnx({"b": "x", "c": "3"}) is False
    assert r.msetnx({"c": "3", "d": "4"}) is True
    assert r.append("a", "23") == 3
    assert r.strlen("a") == 3
    assert r.getrange("a", 1, -1) == "23"
    assert r.setrange("a", 5, "z") == 6
    assert r.get("a") == "123\x00\x00z"


def test_keys_scan_type_rename(r):
    r.mset({"user:1": "a", "user:2": "b", "other": "c"})
    assert sorted(r.keys("user:*")) == ["user:1", "user:2"]
    assert sorted(r.scan_iter(match="user:*", count=1)) == ["user:1", "user:2"]
    assert r.dbsize() == 3
    assert r.type("user:1") == "string"
    assert r.type("missing") == "none"
    assert r.exists("user:1", "user:2", "missing") == 2
    assert r.rename("other", "moved") is True
    assert r.renamenx("moved", "user:1") is False
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.rename("missing", "x")
    assert r.copy("moved", "copied") is True
    assert r.get("copied") == "c"
    assert r.delete("user:1", "missing") == 1
    assert r.unlink("user:2") == 1
    assert r.touch("moved", "copied", "missing") == 2
    assert r.randomkey() in {"moved", "copied"}


def test_object_encoding_strings(r):
    r.set("i", "12345")
    r.set("e", "short")
    r.set("raw", "x" * 100)
    assert r.object("encoding", "i") == "int"
    assert r.object("encoding", "e") == "embstr"
    assert r.object("encoding", "raw") == "raw"
    assert r.object("encoding", "missing") is None


def test_select_and_flush(make_client, r):
    r.set("k", "0")
    other = make_client(db=1)
    assert other.get("k") is None
    other.set("k", "1")
    assert r.move("k", 1) is False
    other.flushdb()
    assert r.move("k", 1) is True
    assert other.get("k") == "0"
    r.flushall()
    assert other.dbsize() == 0


def test_binary_values(rb):
    blob = bytes(range(256))
    rb.set(b"\x00bin\xff", blob)
    assert rb.get(b"\x00bin\xff") == blob
    assert rb.strlen(b"\x00bin\xff") == 256
