"""HyperLogLog through redis-py: PFADD, PFCOUNT (one key and a union), PFMERGE, the values
as strings (GET/SET round trips keep counting), and the error words, over RESP2 and RESP3."""

import pytest
import redis


def test_pfadd_pfcount(r):
    assert r.pfadd("h", "a", "b", "c") == 1
    assert r.pfadd("h", "a") == 0
    assert r.pfcount("h") == 3
    assert r.pfcount("nokey") == 0
    assert r.pfadd("empty") == 1
    assert r.pfcount("empty") == 0
    assert r.type("h") == "string"


def test_estimate_and_union(r):
    r.pfadd("a", *[f"x{i}" for i in range(5000)])
    r.pfadd("b", *[f"x{i}" for i in range(2500, 7500)])
    assert abs(r.pfcount("a") - 5000) < 150
    union = r.pfcount("a", "b", "nokey")
    assert abs(union - 7500) < 225
    assert r.pfmerge("u", "a", "b") is True
    assert r.pfcount("u") == union


def test_values_are_strings(rb):
    rb.pfadd("h", *[f"e{i}" for i in range(100)])
    v = rb.get("h")
    assert v[:4] == b"HYLL" and v[4] == 1  # sparse
    rb.set("copy", v)
    assert rb.pfcount("copy") == rb.pfcount("h")
    rb.pfadd("copy", "new")
    rb.pfadd("h", "new")
    assert rb.get("copy") == rb.get("h")
    assert rb.execute_command("PFDEBUG", "ENCODING", "h") in (b"sparse", "sparse")


def test_errors(r):
    r.set("s", "definitely not a hyperloglog")
    r.rpush("l", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE Key is not a valid HyperLogLog string value"):
        r.pfadd("s", "a")
    with pytest.raises(redis.ResponseError, match="wrong kind of value"):
        r.pfcount("l")
    bad = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe"
    r.set("bad", bad)
    with pytest.raises(redis.ResponseError, match="Corrupted HLL object detected"):
        r.pfcount("bad")
    with pytest.raises(redis.ResponseError, match="Corrupted HLL object detected"):
        r.pfmerge("d", "bad")
