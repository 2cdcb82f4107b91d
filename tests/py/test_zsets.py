"""Sorted sets through redis-py: ZADD … ZSCAN, BZPOPMIN/BZPOPMAX/BZMPOP.

redis-py shapes scored replies differently per protocol (its RESP2 callbacks build tuples and
floats, its RESP3 path keeps the server's [member, score] arrays, and a few RESP2 replies stay
raw strings): `scored` and the explicit per-protocol branches below are what an application
written against redis-py sees from Redis 7, so rcache must produce the same.
"""

import math

import pytest
import redis
from helpers import Background, config_int, wait_blocked

INF = float("inf")


def scored(protocol, *pairs):
    """A WITHSCORES reply as redis-py returns it: tuples over RESP2, lists over RESP3."""
    return [(m, s) if protocol == 2 else [m, s] for m, s in pairs]


def test_zadd_basics(r):
    assert r.zadd("z", {"a": 1, "b": 2}) == 2
    assert r.zadd("z", {"a": 5, "c": 3}) == 1
    assert r.zscore("z", "a") == 5.0
    assert r.zscore("z", "nope") is None
    assert r.zscore("nokey", "a") is None
    assert r.zcard("z") == 3
    assert r.zcard("nokey") == 0
    assert r.type("z") == "zset"
    assert r.zmscore("z", ["a", "nope", "c"]) == [5.0, None, 3.0]
    assert r.zmscore("nokey", ["a", "b"]) == [None, None]


def test_zadd_options(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zadd("z", {"a": 10, "c": 3}, nx=True) == 1
    assert r.zscore("z", "a") == 1.0
    assert r.zadd("z", {"a": 10, "d": 4}, xx=True) == 0
    assert r.zscore("z", "a") == 10.0 and r.zscore("z", "d") is None
    assert r.zadd("z", {"a": 5, "b": 7}, gt=True, ch=True) == 1
    assert r.zscore("z", "a") == 10.0 and r.zscore("z", "b") == 7.0
    assert r.zadd("z", {"a": 5, "b": 9, "e": 1}, lt=True, ch=True) == 2
    assert r.zscore("z", "a") == 5.0 and r.zscore("z", "e") == 1.0
    assert r.zadd("z", {"a": 1}, ch=True) == 1
    assert r.zadd("z", {"a": 1}, ch=True) == 0
    # INCR: the new score, or None when NX/XX/GT/LT refused the update.
    assert r.zadd("z", {"a": 2.5}, incr=True) == 3.5
    assert r.zadd("z", {"a": 1}, nx=True, incr=True) is None
    assert r.zadd("z", {"new": 1}, xx=True, incr=True) is None
    assert r.zadd("z", {"a": -1}, gt=True, incr=True) is None
    with pytest.raises(redis.ResponseError, match="XX and NX options at the same time are not compatible"):
        r.execute_command("ZADD", "z", "NX", "XX", 1, "a")
    with pytest.raises(redis.ResponseError, match="GT, LT, and/or NX options at the same time are not compatible"):
        r.execute_command("ZADD", "z", "GT", "LT", 1, "a")
    with pytest.raises(redis.ResponseError, match="GT, LT, and/or NX options at the same time are not compatible"):
        r.execute_command("ZADD", "z", "NX", "GT", 1, "a")
    with pytest.raises(redis.ResponseError, match="INCR option supports a single increment-element pair"):
        r.execute_command("ZADD", "z", "INCR", 1, "a", 2, "b")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.execute_command("ZADD", "z", "abc", "a")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.execute_command("ZADD", "z", "nan", "a")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("ZADD", "z", 1)


def test_infinite_scores(r, protocol):
    r.zadd("z", {"lo": "-inf", "mid": 0, "hi": "+inf"})
    assert r.zscore("z", "hi") == INF
    assert r.zscore("z", "lo") == -INF
    assert r.zrange("z", 0, -1, withscores=True) == scored(protocol, ("lo", -INF), ("mid", 0.0), ("hi", INF))
    assert r.zrangebyscore("z", "-inf", "+inf") == ["lo", "mid", "hi"]
    assert r.zrangebyscore("z", "(-inf", "(inf") == ["mid"]
    assert r.zcount("z", "-inf", "+inf") == 3
    assert r.zincrby("z", 1, "hi") == INF
    with pytest.raises(redis.ResponseError, match="resulting score is not a number"):
        r.zincrby("z", "-inf", "hi")
    assert r.zscore("z", "hi") == INF


def test_zincrby_zrem(r):
    assert r.zincrby("z", 2.5, "a") == 2.5
    assert r.zincrby("z", -1, "a") == 1.5
    assert r.zincrby("z", 1, "b") == 1.0
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.zincrby("z", "abc", "a")
    assert r.zrem("z", "a", "nope") == 1
    assert r.zrem("z", "b") == 1
    assert r.exists("z") == 0
    assert r.zrem("z", "a") == 0


def test_zrange_by_rank_score_lex(r, protocol):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zrange("z", 0, -1) == ["a", "b", "c", "d"]
    assert r.zrange("z", 1, 2, withscores=True) == scored(protocol, ("b", 2.0), ("c", 3.0))
    assert r.zrange("z", 0, 0, desc=True) == ["d"]
    assert r.zrange("z", 10, 20) == []
    assert r.zrange("nokey", 0, -1) == []
    assert r.zrange("z", "(1", 3, byscore=True) == ["b", "c"]
    assert r.zrange("z", 4, 2, byscore=True, desc=True, withscores=True) == scored(protocol, ("d", 4.0), ("c", 3.0), ("b", 2.0))
    assert r.zrange("z", "-inf", "+inf", byscore=True, offset=1, num=2) == ["b", "c"]
    assert r.zrevrange("z", 0, 1) == ["d", "c"]
    assert r.zrevrange("z", 0, 0, withscores=True) == scored(protocol, ("d", 4.0))
    assert r.zrangebyscore("z", 2, 3) == ["b", "c"]
    assert r.zrangebyscore("z", "(2", "+inf", withscores=True) == scored(protocol, ("c", 3.0), ("d", 4.0))
    assert r.zrangebyscore("z", "-inf", "+inf", start=1, num=1) == ["b"]
    assert r.zrevrangebyscore("z", "+inf", "(2") == ["d", "c"]
    assert r.zrevrangebyscore("z", 4, 1, start=0, num=2, withscores=True) == scored(protocol, ("d", 4.0), ("c", 3.0))
    assert r.zcount("z", 2, "(4") == 2
    with pytest.raises(redis.ResponseError, match="min or max is not a float"):
        r.zrangebyscore("z", "(a", 3)
    with pytest.raises(redis.ResponseError, match="LIMIT is only supported in combination with either BYSCORE or BYLEX"):
        r.execute_command("ZRANGE", "z", 0, -1, "LIMIT", 0, 1)
    with pytest.raises(redis.ResponseError, match="WITHSCORES not supported in combination with BYLEX"):
        r.execute_command("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES")


def test_lex_ranges(r):
    r.zadd("z", {m: 0 for m in "abcdefg"})
    assert r.zrangebylex("z", "-", "+") == list("abcdefg")
    assert r.zrangebylex("z", "[b", "(e") == ["b", "c", "d"]
    assert r.zrangebylex("z", "-", "+", start=2, num=2) == ["c", "d"]
    assert r.zrevrangebylex("z", "+", "[e") == ["g", "f", "e"]
    assert r.zrevrangebylex("z", "(g", "-", start=0, num=2) == ["f", "e"]
    assert r.zrange("z", "[c", "[d", bylex=True) == ["c", "d"]
    assert r.zrange("z", "+", "(e", bylex=True, desc=True) == ["g", "f"]
    assert r.zlexcount("z", "-", "+") == 7
    assert r.zlexcount("z", "(a", "[c") == 2
    assert r.zremrangebylex("z", "[a", "(c") == 2
    assert r.zrange("z", 0, -1) == list("cdefg")
    with pytest.raises(redis.ResponseError, match="min or max not valid string range item"):
        r.zrangebylex("z", "a", "b")


def test_rank_and_remove_ranges(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert r.zrank("z", "a") == 0
    assert r.zrank("z", "e") == 4
    assert r.zrevrank("z", "e") == 0
    assert r.zrank("z", "nope") is None
    assert r.zrank("nokey", "a") is None
    assert r.zremrangebyrank("z", 0, 1) == 2
    assert r.zrange("z", 0, -1) == ["c", "d", "e"]
    assert r.zremrangebyscore("z", "(3", 4) == 1
    assert r.zrange("z", 0, -1) == ["c", "e"]
    assert r.zremrangebyrank("z", 0, -1) == 2
    assert r.exists("z") == 0
    assert r.zremrangebyscore("z", "-inf", "+inf") == 0


def test_zrangestore(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert r.zrangestore("dst", "z", 0, 1) == 2
    assert r.zrange("dst", 0, -1, withscores=True, score_cast_func=int) in ([("a", 1), ("b", 2)], [["a", 1], ["b", 2]])
    assert r.zrangestore("dst", "z", 2, 3, byscore=True) == 2
    assert r.zrange("dst", 0, -1) == ["b", "c"]
    assert r.zrangestore("dst", "z", "[c", "+", bylex=True) == 1
    assert r.zrangestore("dst", "z", 5, 10) == 0
    assert r.exists("dst") == 0


def test_pops(r, protocol):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    if protocol == 2:
        assert r.zpopmin("z") == [("a", 1.0)]
        assert r.zpopmax("z") == [("d", 4.0)]
    else:
        # RESP3 without a count: one flat [member, score] pair.
        assert r.zpopmin("z") == ["a", 1.0]
        assert r.zpopmax("z") == ["d", 4.0]
    assert r.zpopmin("z", 5) == scored(protocol, ("b", 2.0), ("c", 3.0))
    assert r.exists("z") == 0
    assert r.zpopmin("z") == []
    assert r.zpopmax("z", 3) == []
    r.zadd("z", {"a": 1})
    with pytest.raises(redis.ResponseError, match="value is out of range, must be positive"):
        r.zpopmin("z", -1)


def test_zmpop(r, protocol):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    # redis-py has no RESP2 callback for ZMPOP: scores stay strings there.
    assert r.zmpop(2, ["nokey", "z"], min=True) == (["z", [["a", "1"]]] if protocol == 2 else ["z", [["a", 1.0]]])
    assert r.zmpop(1, ["z"], max=True, count=5) == (
        ["z", [["c", "3"], ["b", "2"]]] if protocol == 2 else ["z", [["c", 3.0], ["b", 2.0]]]
    )
    assert r.zmpop(1, ["z"], min=True) is None
    with pytest.raises(redis.ResponseError, match="count should be greater than 0"):
        r.execute_command("ZMPOP", 1, "z", "MIN", "COUNT", 0)
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("ZMPOP", 1, "z", "UP")


def test_zrandmember(r, protocol):
    members = {"a": 1.0, "b": 2.0, "c": 3.0}
    r.zadd("z", members)
    assert r.zrandmember("z") in members
    assert sorted(r.zrandmember("z", 10)) == ["a", "b", "c"]
    repeated = r.zrandmember("z", -8)
    assert len(repeated) == 8 and set(repeated) <= set(members)
    got = r.zrandmember("z", 3, withscores=True)
    if protocol == 2:
        # Flat member, score strings (redis-py applies no callback here).
        pairs = {m: float(s) for m, s in zip(got[::2], got[1::2])}
    else:
        pairs = {m: s for m, s in got}
    assert pairs == members
    assert r.zrandmember("nokey") is None
    assert r.zrandmember("nokey", 2) == []


def test_union_inter_diff(r, protocol):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.zadd("b", {"y": 10, "z": 20, "w": 5})
    r.sadd("plain", "z", "v")  # plain sets count as score 1
    assert r.zunion(["a", "b"]) == ["x", "w", "y", "z"]
    assert r.zunion(["a", "b"], withscores=True) == scored(protocol, ("x", 1.0), ("w", 5.0), ("y", 12.0), ("z", 23.0))
    assert r.zinter(["a", "b"], aggregate="MIN", withscores=True) == scored(protocol, ("y", 2.0), ("z", 3.0))
    assert r.zinter({"a": 2, "b": 1}, aggregate="MAX") == ["y", "z"]
    assert r.zinter(["a", "plain"], withscores=True) == scored(protocol, ("z", 4.0))
    assert r.zdiff(["a", "b"]) == ["x"]
    if protocol == 2:
        assert r.zdiff(["a", "b"], withscores=True) == ["x", "1"]
    else:
        assert r.zdiff(["a", "b"], withscores=True) == [["x", 1.0]]
    assert r.zunionstore("dst", {"a": 1, "b": 0.5}) == 4
    assert r.zscore("dst", "z") == 13.0
    assert r.zinterstore("dst", ["a", "b"], aggregate="MAX") == 2
    assert r.zrange("dst", 0, -1, withscores=True) == scored(protocol, ("y", 10.0), ("z", 20.0))
    assert r.zdiffstore("dst", ["a", "b"]) == 1
    assert r.zrange("dst", 0, -1) == ["x"]
    assert r.zinterstore("dst", ["a", "nokey"]) == 0
    assert r.exists("dst") == 0
    assert r.zintercard(2, ["a", "b"]) == 2
    assert r.zintercard(2, ["a", "b"], limit=1) == 1
    with pytest.raises(redis.ResponseError, match="at least 1 input key is needed"):
        r.execute_command("ZUNIONSTORE", "d", 0, "a")
    with pytest.raises(redis.ResponseError, match="weight value is not a float"):
        r.execute_command("ZUNIONSTORE", "d", 1, "a", "WEIGHTS", "x")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("ZUNIONSTORE", "d", 1, "a", "AGGREGATE", "foo")
    with pytest.raises(redis.ResponseError, match="LIMIT can't be negative"):
        r.execute_command("ZINTERCARD", 1, "a", "LIMIT", -1)


def test_equal_scores_order_by_member(r):
    r.zadd("z", {"b": 1, "a": 1, "c": 1, "aa": 1})
    assert r.zrange("z", 0, -1) == ["a", "aa", "b", "c"]
    assert r.zrevrange("z", 0, -1) == ["c", "b", "aa", "a"]


def test_zscan(r):
    members = {f"m{i}": float(i) for i in range(300)}
    r.zadd("z", members)
    assert dict(r.zscan_iter("z", count=30)) == members
    assert dict(r.zscan_iter("z", match="m1?")) == {f"m1{i}": float(10 + i) for i in range(10)}
    assert r.zscan("nokey") == (0, [])
    r.zadd("small", {"a": 1.5})
    assert r.zscan("small") == (0, [("a", 1.5)])


def test_encodings(r):
    entries = config_int(r, "zset-max-listpack-entries")
    value = config_int(r, "zset-max-listpack-value")
    r.zadd("z", {f"m{i}": i for i in range(entries)})
    assert r.object("encoding", "z") == "listpack"
    r.zadd("z", {"one-more": 0})
    assert r.object("encoding", "z") == "skiplist"
    r.zadd("long", {"x" * value: 1})
    assert r.object("encoding", "long") == "listpack"
    r.zadd("long", {"y" * (value + 1): 2})
    assert r.object("encoding", "long") == "skiplist"


def test_large_zset(r):
    r.zadd("z", {f"m{i:05}": i for i in range(5000)})
    assert r.zcard("z") == 5000
    assert r.zrank("z", "m04321") == 4321
    assert r.zrange("z", 2500, 2502) == ["m02500", "m02501", "m02502"]
    assert r.zcount("z", 1000, "(2000") == 1000
    assert r.zremrangebyscore("z", 0, 999) == 1000
    assert r.zrange("z", 0, 0) == ["m01000"]


def test_float_scores_round_trip(r):
    values = [0.1, -2.5, 1e-300, 123456789.125, 3.0, 1.7976931348623157e308]
    r.zadd("z", {f"m{i}": v for i, v in enumerate(values)})
    for i, v in enumerate(values):
        assert r.zscore("z", f"m{i}") == v
    assert math.isclose(r.zincrby("z", 0.2, "m0"), 0.30000000000000004)


# ---------------------------------------------------------------------- blocking pops


def test_bzpop_served_at_once_and_timeout(r, protocol):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    expect = (lambda *t: t) if protocol == 2 else (lambda *t: list(t))
    assert r.bzpopmin(["nokey", "z"], timeout=1) == expect("z", "a", 1.0)
    assert r.bzpopmax("z", timeout=1) == expect("z", "c", 3.0)
    assert r.bzmpop(1, 1, ["z"], min=True) == (["z", [["b", "2"]]] if protocol == 2 else ["z", [["b", 2.0]]])
    assert r.bzpopmin("z", timeout=0.05) is None
    assert r.bzpopmax(["z", "other"], timeout=0.05) is None
    assert r.bzmpop(0.05, 1, ["z"], max=True) is None
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.bzpopmin("z", timeout=-1)


def test_bzpopmin_woken_by_zadd(r, make_client, protocol):
    waiter = Background(make_client().bzpopmin, ["z"], timeout=10)
    wait_blocked(r, 1, waiter)
    r.zadd("z", {"b": 2, "a": 1})
    got = waiter.join()
    assert list(got) == ["z", "a", 1.0]
    assert isinstance(got, tuple if protocol == 2 else list)
    assert r.zrange("z", 0, -1) == ["b"]


def test_bzpopmax_and_bzmpop_fifo(r, make_client):
    w1 = Background(make_client().bzpopmax, ["z"], timeout=10)
    wait_blocked(r, 1, w1)
    w2 = Background(make_client().bzmpop, 10, 1, ["z"], min=True, count=2)
    wait_blocked(r, 2, w1, w2)
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert list(w1.join()) == ["z", "d", 4.0]
    got = w2.join()
    assert got[0] == "z" and [m for m, _ in got[1]] == ["a", "b"]
    assert r.zrange("z", 0, -1) == ["c"]
