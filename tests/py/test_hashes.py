"""Hashes through redis-py: HSET … HSCAN, reply shapes over RESP2 and RESP3, encodings."""

import pytest
import redis
from helpers import config_int


def test_hset_hget_hgetall(r):
    assert r.hset("h", "f", "v") == 1
    assert r.hset("h", "f", "w") == 0
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "c", "3", mapping={"d": "4"}, items=["e", "5"]) == 3
    assert r.hget("h", "f") == "w"
    assert r.hget("h", "missing") is None
    assert r.hget("nokey", "f") is None
    assert r.hgetall("h") == {"f": "w", "a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    assert r.hgetall("nokey") == {}
    assert r.hlen("h") == 6
    assert r.hlen("nokey") == 0
    assert r.type("h") == "hash"


def test_hmset_hmget_hsetnx(r):
    assert r.hmset("h", {"a": "1", "b": "2"}) is True
    assert r.hmget("h", ["a", "x", "b"]) == ["1", None, "2"]
    assert r.hmget("h", "a", "b") == ["1", "2"]
    assert r.hmget("nokey", "a") == [None]
    assert r.hsetnx("h", "a", "9") == 0
    assert r.hsetnx("h", "c", "3") == 1
    assert r.hget("h", "a") == "1"


def test_hdel_hexists_keys_vals_strlen(r):
    r.hset("h", mapping={"a": "1", "bb": "22", "ccc": "333"})
    assert r.hexists("h", "a") is True
    assert r.hexists("h", "z") is False
    assert r.hexists("nokey", "a") is False
    assert sorted(r.hkeys("h")) == ["a", "bb", "ccc"]
    assert sorted(r.hvals("h")) == ["1", "22", "333"]
    assert r.hkeys("nokey") == []
    assert r.hstrlen("h", "ccc") == 3
    assert r.hstrlen("h", "zz") == 0
    assert r.hdel("h", "a", "zz") == 1
    assert r.hdel("h", "bb", "ccc") == 2
    # The last field gone, the key is gone (Redis never keeps an empty hash).
    assert r.exists("h") == 0
    assert r.hdel("h", "a") == 0


def test_hincrby_hincrbyfloat(r):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    assert r.hincrbyfloat("h", "f", 1.5) == 1.5
    assert r.hincrbyfloat("h", "f", "0.25") == 1.75
    assert r.hget("h", "f") == "1.75"
    assert r.hincrbyfloat("h", "n", 0.5) == -1.5
    r.hset("h", "big", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.hincrby("h", "big", 1)
    r.hset("h", "s", "abc")
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        r.hincrby("h", "s", 1)
    with pytest.raises(redis.ResponseError, match="hash value is not a float"):
        r.hincrbyfloat("h", "s", 1)
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.hincrby("h", "n", "x")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.hincrbyfloat("h", "n", "x")


def test_hrandfield(r, protocol):
    assert r.hrandfield("nokey") is None
    assert r.hrandfield("nokey", 3) == []
    fields = {"a": "1", "b": "2", "c": "3"}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in fields
    distinct = r.hrandfield("h", 10)
    assert sorted(distinct) == ["a", "b", "c"]
    assert len(r.hrandfield("h", 2)) == 2
    repeated = r.hrandfield("h", -7)
    assert len(repeated) == 7 and set(repeated) <= set(fields)
    with_values = r.hrandfield("h", 3, withvalues=True)
    if protocol == 2:
        # RESP2: a flat field, value, field, value array.
        pairs = list(zip(with_values[::2], with_values[1::2]))
    else:
        # RESP3: an array of [field, value] pairs.
        pairs = [tuple(p) for p in with_values]
    assert sorted(pairs) == sorted(fields.items())
    assert r.hrandfield("h", 0) == []


def test_hscan(r):
    data = {f"f{i}": str(i) for i in range(300)}
    r.hset("h", mapping=data)
    assert dict(r.hscan_iter("h", count=20)) == data
    assert dict(r.hscan_iter("h", match="f1?")) == {f"f1{i}": f"1{i}" for i in range(10)}
    cursor, small = r.hscan("nokey")
    assert (cursor, small) == (0, {})
    r.hset("small", mapping={"a": "1", "b": "2"})
    assert r.hscan("small") == (0, {"a": "1", "b": "2"})


def test_encodings(r):
    entries = config_int(r, "hash-max-listpack-entries")
    value = config_int(r, "hash-max-listpack-value")
    r.hset("h", mapping={f"f{i}": "v" for i in range(entries)})
    assert r.object("encoding", "h") == "listpack"
    r.hset("h", "one-more", "v")
    assert r.object("encoding", "h") == "hashtable"
    r.hset("long", "f", "v" * value)
    assert r.object("encoding", "long") == "listpack"
    r.hset("long", "g", "v" * (value + 1))
    assert r.object("encoding", "long") == "hashtable"
    # Converted for good: shrinking does not go back.
    r.hdel("long", "g")
    assert r.object("encoding", "long") == "hashtable"


def test_large_hash_round_trip(r):
    data = {f"field:{i}": f"value:{i}" * 3 for i in range(2000)}
    r.hset("big", mapping=data)
    assert r.hlen("big") == 2000
    assert r.hgetall("big") == data
    assert r.hdel("big", *[f"field:{i}" for i in range(0, 2000, 2)]) == 1000
    assert r.hlen("big") == 1000
    assert r.hget("big", "field:1") == "value:1" * 3


def test_binary_fields(rb):
    rb.hset(b"h", b"\x00\xff", b"\x01\x02\x00")
    assert rb.hget(b"h", b"\x00\xff") == b"\x01\x02\x00"
    assert rb.hgetall(b"h") == {b"\x00\xff": b"\x01\x02\x00"}
