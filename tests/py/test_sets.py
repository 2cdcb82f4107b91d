"""Sets through redis-py: SADD … SSCAN, the algebra and STORE forms, encodings."""

import pytest
import redis
from helpers import config_int


def test_sadd_srem_members(r):
    assert r.sadd("s", "a", "b", "a") == 2
    assert r.sadd("s", "b", "c") == 1
    assert r.smembers("s") == {"a", "b", "c"}
    assert r.smembers("nokey") == set()
    assert r.scard("s") == 3
    assert r.scard("nokey") == 0
    assert r.sismember("s", "a") == 1
    assert r.sismember("s", "z") == 0
    assert r.sismember("nokey", "a") == 0
    assert r.smismember("s", ["a", "z", "c"]) == [1, 0, 1]
    assert r.smismember("nokey", "a", "b") == [0, 0]
    assert r.srem("s", "a", "z") == 1
    assert r.srem("s", "b", "c") == 2
    assert r.exists("s") == 0
    assert r.srem("s", "a") == 0
    r.sadd("s", "x")
    assert r.type("s") == "set"


def test_spop_srandmember(r):
    members = {f"m{i}" for i in range(10)}
    r.sadd("s", *members)
    assert r.srandmember("s") in members
    distinct = r.srandmember("s", 4)
    assert len(distinct) == 4 and len(set(distinct)) == 4 and set(distinct) <= members
    assert set(r.srandmember("s", 100)) == members
    repeated = r.srandmember("s", -25)
    assert len(repeated) == 25 and set(repeated) <= members
    assert r.srandmember("s", 0) == []
    assert r.scard("s") == 10
    popped = r.spop("s")
    assert popped in members
    several = r.spop("s", 3)
    assert len(several) == 3 and popped not in several
    assert r.scard("s") == 6
    rest = r.spop("s", 100)
    assert set(rest) | set(several) | {popped} == members
    assert r.exists("s") == 0
    assert r.spop("s") is None
    assert r.spop("s", 2) == []
    assert r.srandmember("s") is None
    assert r.srandmember("s", 2) == []
    r.sadd("s", "a")
    with pytest.raises(redis.ResponseError, match="value is out of range, must be positive"):
        r.spop("s", -1)


def test_smove(r):
    r.sadd("a", "x", "y")
    r.sadd("b", "z")
    assert r.smove("a", "b", "x") is True
    assert r.smove("a", "b", "nope") is False
    assert r.smove("nokey", "b", "x") is False
    assert r.smembers("b") == {"x", "z"}
    assert r.smove("a", "c", "y") is True
    assert r.exists("a") == 0
    assert r.smembers("c") == {"y"}
    r.set("str", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.smove("c", "str", "y")
    assert r.smembers("c") == {"y"}


def test_algebra(r):
    r.sadd("a", "1", "2", "3", "4")
    r.sadd("b", "3", "4", "5")
    r.sadd("c", "4", "6")
    assert r.sinter("a", "b") == {"3", "4"}
    assert r.sinter("a", "b", "c") == {"4"}
    assert r.sinter("a", "nokey") == set()
    assert r.sunion("a", "b", "c") == {"1", "2", "3", "4", "5", "6"}
    assert r.sunion("nokey") == set()
    assert r.sdiff("a", "b") == {"1", "2"}
    assert r.sdiff("a", "b", "c") == {"1", "2"}
    assert r.sdiff("nokey", "a") == set()
    assert r.sdiff("a", "nokey") == {"1", "2", "3", "4"}
    assert r.sintercard(2, ["a", "b"]) == 2
    assert r.sintercard(2, ["a", "b"], limit=1) == 1
    assert r.sintercard(2, ["a", "b"], limit=0) == 2
    assert r.sintercard(2, ["a", "nokey"]) == 0
    with pytest.raises(redis.ResponseError, match="numkeys should be greater than 0"):
        r.execute_command("SINTERCARD", 0, "a")
    with pytest.raises(redis.ResponseError, match="can't be greater than number of args"):
        r.execute_command("SINTERCARD", 3, "a")
    with pytest.raises(redis.ResponseError, match="LIMIT can't be negative"):
        r.sintercard(1, ["a"], limit=-1)


def test_store_forms(r):
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    assert r.sinterstore("dst", ["a", "b"]) == 2
    assert r.smembers("dst") == {"2", "3"}
    assert r.sunionstore("dst", ["a", "b"]) == 4
    assert r.smembers("dst") == {"1", "2", "3", "4"}
    assert r.sdiffstore("dst", ["a", "b"]) == 1
    assert r.smembers("dst") == {"1"}
    # The destination is replaced whatever its type, and its TTL goes with it.
    r.set("str", "v", ex=100)
    assert r.sunionstore("str", ["a"]) == 3
    assert r.type("str") == "set"
    assert r.ttl("str") == -1
    # An empty result deletes the destination.
    assert r.sinterstore("dst", ["a", "nokey"]) == 0
    assert r.exists("dst") == 0
    # The destination may be one of the sources.
    assert r.sdiffstore("a", ["a", "b"]) == 1
    assert r.smembers("a") == {"1"}


def test_sscan(r):
    members = {f"m{i}" for i in range(500)}
    r.sadd("s", *members)
    assert set(r.sscan_iter("s", count=50)) == members
    assert set(r.sscan_iter("s", match="m4?")) == {f"m4{i}" for i in range(10)}
    assert r.sscan("nokey") == (0, [])
    r.sadd("small", "a", "b")
    cursor, got = r.sscan("small")
    assert cursor == 0 and sorted(got) == ["a", "b"]


def test_encodings(r):
    intset_max = config_int(r, "set-max-intset-entries")
    r.sadd("i", *range(intset_max))
    assert r.object("encoding", "i") == "intset"
    r.sadd("i", intset_max)
    assert r.object("encoding", "i") == "hashtable"
    r.sadd("mixed", 1, 2, 3)
    assert r.object("encoding", "mixed") == "intset"
    r.sadd("mixed", "x")
    # Redis 7.0 has no listpack sets (7.2 does): only "not intset" holds for both.
    assert r.object("encoding", "mixed") in {"listpack", "hashtable"}
    r.sadd("big", *[f"m{i}" for i in range(1000)])
    assert r.object("encoding", "big") == "hashtable"


def test_integers_and_binary_members(r, rb):
    r.sadd("s", "1", "01", "-5", "9223372036854775807")
    assert r.smembers("s") == {"1", "01", "-5", "9223372036854775807"}
    assert r.sismember("s", "01") == 1
    rb.sadd(b"b", b"\x00", b"\xff\xfe")
    assert rb.smembers(b"b") == {b"\x00", b"\xff\xfe"}
