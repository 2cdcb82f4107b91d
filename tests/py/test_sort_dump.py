"""SORT / SORT_RO (BY, GET, LIMIT, ALPHA, STORE) and DUMP / RESTORE round trips.

rcache serialises DUMP payloads in its own format, so nothing here compares payload bytes with
Redis's: every payload goes back into the *same* server and the value read back is compared.
"""

import time

import pytest
import redis


def test_sort_numbers_and_alpha(r):
    r.rpush("l", "3", "10", "1", "2")
    assert r.sort("l") == ["1", "2", "3", "10"]
    assert r.sort("l", desc=True) == ["10", "3", "2", "1"]
    assert r.sort("l", alpha=True) == ["1", "10", "2", "3"]
    assert r.sort("l", start=1, num=2) == ["2", "3"]
    assert r.sort("l", start=10, num=2) == []
    assert r.sort("nokey") == []
    r.sadd("s", "banana", "apple", "cherry")
    assert r.sort("s", alpha=True) == ["apple", "banana", "cherry"]
    assert r.sort("s", alpha=True, desc=True, start=0, num=1) == ["cherry"]
    with pytest.raises(redis.ResponseError, match="One or more scores can't be converted into double"):
        r.sort("s")
    r.zadd("z", {"x": 3, "y": 1, "w": 2})
    assert r.sort("z", alpha=True) == ["w", "x", "y"]
    assert r.sort("z", by="nosort") == ["y", "w", "x"]  # a sorted set keeps its score order


def test_sort_by_and_get(r):
    r.rpush("ids", "1", "2", "3")
    r.mset({"weight_1": "30", "weight_2": "10", "weight_3": "20"})
    r.mset({"name_1": "one", "name_2": "two"})
    r.hset("obj_1", mapping={"w": "3", "title": "t1"})
    r.hset("obj_2", mapping={"w": "1", "title": "t2"})
    r.hset("obj_3", mapping={"w": "2", "title": "t3"})
    assert r.sort("ids", by="weight_*") == ["2", "3", "1"]
    assert r.sort("ids", by="obj_*->w", desc=True) == ["1", "3", "2"]
    assert r.sort("ids", by="weight_*", get="name_*") == ["two", None, "one"]
    assert r.sort("ids", by="weight_*", get=["#", "name_*", "obj_*->title"]) == [
        "2", "two", "t2", "3", None, "t3", "1", "one", "t1",
    ]
    assert r.sort("ids", by="weight_*", get=["#", "name_*"], groups=True) == [
        ("2", "two"), ("3", None), ("1", "one"),
    ]
    # Missing BY keys weigh 0; equal weights order by the element itself.
    assert r.sort("ids", by="missing_*") == ["1", "2", "3"]
    assert r.sort("ids", by="nosort", get="obj_*->title") == ["t1", "t2", "t3"]


def test_sort_store_and_sort_ro(r):
    r.rpush("l", "3", "1", "2")
    assert r.sort("l", store="dst") == 3
    assert r.lrange("dst", 0, -1) == ["1", "2", "3"]
    assert r.type("dst") == "list"
    r.set("str", "v", ex=100)
    assert r.sort("l", desc=True, store="str") == 3
    assert r.lrange("str", 0, -1) == ["3", "2", "1"]
    assert r.ttl("str") == -1
    # An empty result deletes the destination.
    assert r.sort("nokey", store="dst") == 0
    assert r.exists("dst") == 0
    assert r.sort_ro("l") == ["1", "2", "3"]
    assert r.sort_ro("l", by="nosort", start=0, num=2) == ["3", "1"]
    assert r.sort_ro("l", alpha=True, desc=True) == ["3", "2", "1"]
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SORT_RO", "l", "STORE", "dst")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SORT", "l", "LIMIT", 0, "x")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sort("s")


def populate_every_type(r):
    """One key per type and encoding; returns {key: reader} to compare after a round trip."""
    r.set("str", "hello")
    r.set("int", "12345")
    r.set("raw", "x" * 200)
    r.rpush("list", "a", "b", "c")
    r.rpush("biglist", *[f"e{i}" for i in range(2000)])
    r.sadd("intset", 1, 2, 3)
    r.sadd("set", "a", "b", "c")
    r.sadd("bigset", *[f"m{i}" for i in range(1000)])
    r.hset("hash", mapping={"f": "v", "g": "w"})
    r.hset("bighash", mapping={f"f{i}": f"v{i}" for i in range(1000)})
    r.zadd("zset", {"a": 1, "b": 2.5, "c": float("inf")})
    r.zadd("bigzset", {f"m{i}": i / 3 for i in range(1000)})
    return {
        "str": r.get, "int": r.get, "raw": r.get,
        "list": lambda k: r.lrange(k, 0, -1), "biglist": lambda k: r.lrange(k, 0, -1),
        "intset": r.smembers, "set": r.smembers, "bigset": r.smembers,
        "hash": r.hgetall, "bighash": r.hgetall,
        "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
        "bigzset": lambda k: r.zrange(k, 0, -1, withscores=True),
    }


def test_dump_restore_round_trip_every_type(r):
    readers = populate_every_type(r)
    for key, read in readers.items():
        before = read(key)
        kind = r.type(key)
        encoding = r.object("encoding", key)
        payload = r.dump(key)
        assert isinstance(payload, bytes) and payload
        assert r.restore(f"{key}:copy", 0, payload)
        assert read(f"{key}:copy") == before, key
        assert r.type(f"{key}:copy") == kind
        assert r.object("encoding", f"{key}:copy") == encoding, key
        assert r.ttl(f"{key}:copy") == -1
    assert r.dump("nokey") is None


def test_restore_options(r):
    r.rpush("l", "a", "b")
    payload = r.dump("l")
    with pytest.raises(redis.ResponseError, match="Target key name already exists"):
        r.restore("l", 0, payload)
    r.rpush("l", "extra")
    assert r.restore("l", 0, payload, replace=True)
    assert r.lrange("l", 0, -1) == ["a", "b"]
    # A relative TTL in milliseconds.
    assert r.restore("ttl", 50_000, payload)
    assert 0 < r.pttl("ttl") <= 50_000
    # ABSTTL: an absolute unix time in milliseconds.
    at = int(time.time() * 1000) + 100_000
    assert r.restore("abs", at, payload, absttl=True)
    assert 90_000 < r.pttl("abs") <= 100_000
    # An absolute time already past: nothing is created.
    assert r.restore("past", 1, payload, absttl=True)
    assert r.exists("past") == 0
    assert r.restore("idle", 0, payload, idletime=1000)
    assert r.object("idletime", "idle") >= 1000
    with pytest.raises(redis.ResponseError, match="Invalid TTL value, must be >= 0"):
        r.restore("x", -1, payload)
    with pytest.raises(redis.ResponseError, match="Invalid IDLETIME value, must be >= 0"):
        r.execute_command("RESTORE", "x", 0, payload, "IDLETIME", -1)


def test_restore_garbage(r):
    for garbage in [b"garbage", b"", b"\xff" * 64]:
        with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
            r.restore("k", 0, garbage)
    # A real payload with one byte flipped fails its checksum.
    r.set("s", "value")
    payload = bytearray(r.dump("s"))
    payload[1] ^= 0xFF
    with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
        r.restore("k", 0, bytes(payload))
    assert r.exists("k") == 0


def test_dump_restore_across_databases(r, make_client):
    r.hset("h", mapping={"a": "1"})
    payload = r.dump("h")
    other = make_client(db=3)
    assert other.restore("h", 0, payload)
    assert other.hgetall("h") == {"a": "1"}
