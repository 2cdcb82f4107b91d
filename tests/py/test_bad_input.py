"""Bad input an application may send: wrong types, non-numbers, out-of-range indexes, huge
counts. Each must answer Redis's error (or Redis's lenient result) and leave the data as it was.
"""

import pytest
import redis

I64_MAX = 9223372036854775807
I64_MIN = -9223372036854775808

# One writer per type, and the commands of each family that must refuse another type's key.
CREATE = {
    "string": lambda r, k: r.set(k, "v"),
    "list": lambda r, k: r.rpush(k, "a"),
    "hash": lambda r, k: r.hset(k, "f", "v"),
    "set": lambda r, k: r.sadd(k, "m"),
    "zset": lambda r, k: r.zadd(k, {"m": 1}),
}

FAMILY_COMMANDS = {
    "string": [
        ("GET", "{k}"), ("APPEND", "{k}", "x"), ("INCR", "{k}"), ("STRLEN", "{k}"),
        ("GETRANGE", "{k}", 0, 1), ("SETRANGE", "{k}", 0, "x"), ("INCRBYFLOAT", "{k}", 1),
    ],
    "list": [
        ("LPUSH", "{k}", "x"), ("RPUSH", "{k}", "x"), ("LPUSHX", "{k}", "x"), ("RPUSHX", "{k}", "x"),
        ("LPOP", "{k}"), ("RPOP", "{k}", 2), ("LLEN", "{k}"), ("LRANGE", "{k}", 0, -1),
        ("LINDEX", "{k}", 0), ("LSET", "{k}", 0, "x"), ("LINSERT", "{k}", "BEFORE", "a", "b"),
        ("LREM", "{k}", 0, "a"), ("LTRIM", "{k}", 0, 1), ("LPOS", "{k}", "a"),
        ("RPOPLPUSH", "{k}", "dst"), ("LMOVE", "{k}", "dst", "LEFT", "LEFT"),
        ("LMPOP", 1, "{k}", "LEFT"), ("BLPOP", "{k}", 0.01), ("BRPOP", "{k}", 0.01),
        ("BLMOVE", "{k}", "dst", "LEFT", "LEFT", 0.01), ("BRPOPLPUSH", "{k}", "dst", 0.01),
        ("BLMPOP", 0.01, 1, "{k}", "LEFT"),
    ],
    "hash": [
        ("HSET", "{k}", "f", "v"), ("HSETNX", "{k}", "f", "v"), ("HGET", "{k}", "f"),
        ("HMSET", "{k}", "f", "v"), ("HMGET", "{k}", "f"), ("HGETALL", "{k}"), ("HDEL", "{k}", "f"),
        ("HEXISTS", "{k}", "f"), ("HLEN", "{k}"), ("HKEYS", "{k}"), ("HVALS", "{k}"),
        ("HSTRLEN", "{k}", "f"), ("HINCRBY", "{k}", "f", 1), ("HINCRBYFLOAT", "{k}", "f", 1),
        ("HRANDFIELD", "{k}"), ("HSCAN", "{k}", 0),
    ],
    "set": [
        ("SADD", "{k}", "m"), ("SREM", "{k}", "m"), ("SMEMBERS", "{k}"), ("SISMEMBER", "{k}", "m"),
        ("SMISMEMBER", "{k}", "m"), ("SCARD", "{k}"), ("SPOP", "{k}"), ("SRANDMEMBER", "{k}", 2),
        ("SMOVE", "{k}", "dst", "m"), ("SINTER", "{k}"), ("SINTERCARD", 1, "{k}"),
        ("SUNION", "{k}"), ("SDIFF", "{k}"), ("SINTERSTORE", "dst", "{k}"),
        ("SUNIONSTORE", "dst", "{k}"), ("SDIFFSTORE", "dst", "{k}"), ("SSCAN", "{k}", 0),
    ],
    "zset": [
        ("ZADD", "{k}", 1, "m"), ("ZREM", "{k}", "m"), ("ZSCORE", "{k}", "m"), ("ZMSCORE", "{k}", "m"),
        ("ZINCRBY", "{k}", 1, "m"), ("ZCARD", "{k}"), ("ZCOUNT", "{k}", 0, 1),
        ("ZLEXCOUNT", "{k}", "-", "+"), ("ZRANGE", "{k}", 0, -1), ("ZRANGESTORE", "dst", "{k}", 0, -1),
        ("ZRANGEBYSCORE", "{k}", 0, 1), ("ZREVRANGE", "{k}", 0, -1), ("ZREVRANGEBYSCORE", "{k}", 1, 0),
        ("ZRANGEBYLEX", "{k}", "-", "+"), ("ZREVRANGEBYLEX", "{k}", "+", "-"), ("ZRANK", "{k}", "m"),
        ("ZREVRANK", "{k}", "m"), ("ZREMRANGEBYRANK", "{k}", 0, 1), ("ZREMRANGEBYSCORE", "{k}", 0, 1),
        ("ZREMRANGEBYLEX", "{k}", "-", "+"), ("ZPOPMIN", "{k}"), ("ZPOPMAX", "{k}"),
        ("ZMPOP", 1, "{k}", "MIN"), ("ZRANDMEMBER", "{k}"), ("ZUNION", 1, "{k}"), ("ZINTER", 1, "{k}"),
        ("ZDIFF", 1, "{k}"), ("ZUNIONSTORE", "dst", 1, "{k}"), ("ZINTERSTORE", "dst", 1, "{k}"),
        ("ZDIFFSTORE", "dst", 1, "{k}"), ("ZINTERCARD", 1, "{k}"), ("ZSCAN", "{k}", 0),
        ("BZPOPMIN", "{k}", 0.01), ("BZPOPMAX", "{k}", 0.01), ("BZMPOP", 0.01, 1, "{k}", "MIN"),
    ],
}

# Sets count as sorted sets with score 1 in ZUNION/ZINTER/ZDIFF(STORE) and ZINTERCARD.
ZSET_COMMANDS_TAKING_SETS = {"ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"}


@pytest.mark.parametrize("held", sorted(CREATE))
def test_wrongtype_across_every_family(r, held):
    CREATE[held](r, "k")
    checked = 0
    for family, commands in FAMILY_COMMANDS.items():
        if family == held:
            continue
        for cmd in commands:
            if held == "set" and cmd[0] in ZSET_COMMANDS_TAKING_SETS:
                continue
            args = [a.replace("{k}", "k") if isinstance(a, str) else a for a in cmd]
            with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against a key holding the wrong kind of value$"):
                r.execute_command(*args)
            checked += 1
    assert checked >= 60  # guards against the table shrinking by mistake
    assert r.type("k") == held
    assert r.exists("dst") == 0


def test_wrongtype_destinations_leave_the_source_alone(r):
    r.set("str", "v")
    r.rpush("l", "a", "b")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.rpoplpush("l", "str")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lmove("l", "str")
    assert r.lrange("l", 0, -1) == ["a", "b"]
    r.sadd("s", "m")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sunion("s", "str")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sinterstore("dst", ["s", "l"])
    r.zadd("z", {"m": 1})
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.zunionstore("dst", ["z", "l"])
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.zinter(["z", "str"])
    assert r.exists("dst") == 0


def test_non_numeric_scores_and_increments(r):
    r.zadd("z", {"m": 1})
    r.hset("h", "f", "1")
    r.rpush("l", "a")
    cases = [
        (("ZADD", "z", "one", "m"), "value is not a valid float"),
        (("ZADD", "z", "1.5.5", "m"), "value is not a valid float"),
        (("ZADD", "z", "", "m"), "value is not a valid float"),
        (("ZINCRBY", "z", "x", "m"), "value is not a valid float"),
        (("ZCOUNT", "z", "a", "b"), "min or max is not a float"),
        (("ZRANGEBYSCORE", "z", "(x", 1), "min or max is not a float"),
        (("ZREMRANGEBYSCORE", "z", "x", 1), "min or max is not a float"),
        (("ZREMRANGEBYRANK", "z", "a", 1), "value is not an integer or out of range"),
        (("ZRANGEBYLEX", "z", "a", "+"), "min or max not valid string range item"),
        (("ZUNIONSTORE", "d", 1, "z", "WEIGHTS", "heavy"), "weight value is not a float"),
        (("HINCRBY", "h", "f", "1.5"), "value is not an integer or out of range"),
        (("HINCRBY", "h", "f", I64_MAX + 1), "value is not an integer or out of range"),
        (("HINCRBYFLOAT", "h", "f", "abc"), "value is not a valid float"),
        (("HINCRBYFLOAT", "h", "f", "inf"), "value is NaN or Infinity"),
        (("LRANGE", "l", "a", 1), "value is not an integer or out of range"),
        (("LTRIM", "l", 0, "x"), "value is not an integer or out of range"),
        (("LREM", "l", "x", "a"), "value is not an integer or out of range"),
        (("LINDEX", "l", "x"), "value is not an integer or out of range"),
        (("SRANDMEMBER", "s", "x"), "value is not an integer or out of range"),
        (("EVAL", "return 1", "x"), "value is not an integer or out of range"),
        (("BLPOP", "l", "soon"), "timeout is not a float or out of range"),
    ]
    for args, error in cases:
        with pytest.raises(redis.ResponseError, match=error):
            r.execute_command(*args)
    assert r.zscore("z", "m") == 1.0 and r.hget("h", "f") == "1" and r.lrange("l", 0, -1) == ["a"]


def test_out_of_range_indexes(r):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 3) is None
    assert r.lindex("l", -4) is None
    assert r.lindex("l", I64_MAX) is None
    assert r.lrange("l", I64_MIN, I64_MAX) == ["a", "b", "c"]
    assert r.lrange("l", 5, 10) == []
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset("l", -4, "x")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("LINDEX", "l", "99999999999999999999")
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zrange("z", -100, 100) == ["a", "b"]
    assert r.zrange("z", 2, I64_MAX) == []
    assert r.zremrangebyrank("z", 5, 10) == 0
    assert r.execute_command("ZRANGE", "z", 0, 1, "LIMIT", 0, -1) == ["a", "b"]  # rank ranges ignore nothing
    assert r.zrangebyscore("z", "-inf", "+inf", start=0, num=-1) == ["a", "b"]
    assert r.zrangebyscore("z", "-inf", "+inf", start=5, num=1) == []
    assert r.getrange("nokey", 0, I64_MAX) == ""


def test_huge_counts(r):
    r.rpush("l", "a", "b")
    r.sadd("s", "a", "b")
    r.hset("h", mapping={"f": "1", "g": "2"})
    r.zadd("z", {"a": 1, "b": 2})
    assert sorted(r.srandmember("s", I64_MAX)) == ["a", "b"]
    assert sorted(r.hrandfield("h", I64_MAX)) == ["f", "g"]
    assert sorted(r.zrandmember("z", I64_MAX)) == ["a", "b"]
    for args, error in [
        (("SRANDMEMBER", "s", I64_MIN), "value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        (("HRANDFIELD", "h", I64_MIN), "value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        (("ZRANDMEMBER", "z", I64_MIN), "value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        (("HRANDFIELD", "h", -I64_MAX, "WITHVALUES"), "value is out of range"),
        (("ZRANDMEMBER", "z", -I64_MAX, "WITHSCORES"), "value is out of range"),
        (("SPOP", "s", I64_MAX + 1), "value is out of range, must be positive"),
        (("LPOP", "l", I64_MAX + 1), "value is out of range, must be positive"),
        (("LPOP", "l", -1), "value is out of range, must be positive"),
        (("SINTERCARD", I64_MAX, "s"), "Number of keys can't be greater than number of args"),
        (("ZUNIONSTORE", "d", I64_MAX, "z"), "syntax error"),
        (("LMPOP", I64_MAX, "l", "LEFT"), "syntax error"),
    ]:
        with pytest.raises(redis.ResponseError, match=error):
            r.execute_command(*args)
    assert r.lpos("l", "a", count=I64_MAX, maxlen=I64_MAX) == [0]
    assert r.zrangebyscore("z", "-inf", "+inf", start=0, num=I64_MAX) == ["a", "b"]
    assert r.sort("l", alpha=True, start=0, num=I64_MAX) == ["a", "b"]
    assert r.zpopmin("z", I64_MAX) is not None
    assert r.exists("z") == 0
    assert r.lpop("l", I64_MAX) == ["a", "b"]
    assert r.exists("l") == 0
    assert sorted(r.spop("s", I64_MAX)) == ["a", "b"]


def test_syntax_errors(r):
    r.rpush("l", "a")
    r.zadd("z", {"m": 1})
    for args, error in [
        (("ZADD", "z", 1, "a", 2), "syntax error"),
        (("ZADD", "z", "INF"), "wrong number of arguments for 'zadd' command"),
        (("ZINCRBY", "z", 1), "wrong number of arguments for 'zincrby' command"),
        (("LINSERT", "l", "MIDDLE", "a", "b"), "syntax error"),
        (("ZRANGESTORE", "d", "z", 0, -1, "BYSCORE", "LIMIT", 0), "syntax error"),
        (("ZINTER", 1, "z", "WEIGHTS", 1, 2), "syntax error"),
        (("ZINTERSTORE", "d", 2, "z"), "syntax error"),
        (("HSET", "h", "f"), "wrong number of arguments for 'hset' command"),
        (("HMSET", "h", "f", "v", "g"), "wrong number of arguments for 'hmset' command"),
        (("SADD", "s"), "wrong number of arguments for 'sadd' command"),
        (("LPUSH", "l"), "wrong number of arguments for 'lpush' command"),
        (("SCRIPT", "NOPE"), "unknown subcommand"),
        (("PUBSUB", "NOPE"), "unknown subcommand"),
    ]:
        with pytest.raises(redis.ResponseError, match=error):
            r.execute_command(*args)
