"""Lua scripting through redis-py: EVAL/EVALSHA(_RO), register_script, SCRIPT *, conversions.

Error texts are Redis 7.0's: `ERR <message> script: <sha>, on @user_script:<line>.` for a
failing redis.call, the caller sees them as redis.ResponseError.
"""

import hashlib

import pytest
import redis
from helpers import Background, wait_for

SHA = r"[0-9a-f]{40}"


def sha1(body):
    return hashlib.sha1(body.encode()).hexdigest()


def test_eval_keys_and_argv(r):
    assert r.eval("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", 2, "k1", "k2", "a1", "a2") == [
        "k1", "k2", "a1", "a2",
    ]
    assert r.eval("return #KEYS + 10 * #ARGV", 1, "k", "a", "b") == 21
    assert r.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "k", "v") == "OK"
    assert r.get("k") == "v"


def test_lua_to_redis_conversions(r):
    assert r.eval("return 42", 0) == 42
    assert r.eval("return 3.99", 0) == 3  # numbers truncate to integers
    assert r.eval("return -2.5", 0) == -2
    assert r.eval("return 'text'", 0) == "text"
    assert r.eval("return true", 0) == 1
    assert r.eval("return false", 0) is None
    assert r.eval("return nil", 0) is None
    assert r.eval("return {1, 'two', {3, 'four'}}", 0) == [1, "two", [3, "four"]]
    assert r.eval("return {1, 2, nil, 4}", 0) == [1, 2]  # an array stops at the first nil
    assert r.eval("return {}", 0) == []
    assert r.eval("return {ok = 'FINE'}", 0) == "FINE"
    assert r.eval("return redis.status_reply('ALSO FINE')", 0) == "ALSO FINE"
    with pytest.raises(redis.ResponseError, match="^MY custom error$"):
        r.eval("return redis.error_reply('MY custom error')", 0)
    with pytest.raises(redis.ResponseError, match="^BAD thing$"):
        r.eval("return {err = 'BAD thing'}", 0)


def test_redis_to_lua_conversions(r):
    r.set("s", "v")
    r.rpush("l", "a", "b")
    r.hset("h", "f", "1")
    r.zadd("z", {"m": 1.5})
    assert r.eval("return type(redis.call('GET', 'nokey'))", 0) == "boolean"
    assert r.eval("return redis.call('GET', 'nokey') == false", 0) == 1
    assert r.eval("return type(redis.call('INCR', 'n'))", 0) == "number"
    assert r.eval("return redis.call('INCR', 'n') + 10", 0) == 12
    assert r.eval("return type(redis.call('GET', 's'))", 0) == "string"
    assert r.eval("return redis.call('LRANGE', 'l', 0, -1)", 0) == ["a", "b"]
    assert r.eval("return redis.call('HGETALL', 'h')", 0) == ["f", "1"]
    assert r.eval("return redis.call('ZRANGE', 'z', 0, -1, 'WITHSCORES')", 0) == ["m", "1.5"]
    assert r.eval("return redis.call('HGETALL', 'nokey')", 0) == []
    assert r.eval("local s = redis.call('SET', 's', 'w'); return s.ok", 0) == "OK"
    assert r.eval("return redis.call('SMEMBERS', 'nokey')", 0) == []
    # redis.pcall hands the error back as a table instead of raising.
    assert r.eval("local e = redis.pcall('INCR', 's'); return e.err", 0) == "ERR value is not an integer or out of range"


def test_errors_from_scripts(r):
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match=f"^value is not an integer or out of range script: {SHA}, on @user_script:1.$"):
        r.eval("return redis.call('INCR', KEYS[1])", 1, "s")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against a key holding the wrong kind of value script"):
        r.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, "s")
    with pytest.raises(redis.ResponseError, match="Unknown Redis command called from script"):
        r.eval("return redis.call('NOSUCHCOMMAND')", 0)
    with pytest.raises(redis.ResponseError, match="user_script:1: boom script"):
        r.eval("error('boom')", 0)
    with pytest.raises(redis.ResponseError, match="Error compiling script"):
        r.eval("this is not lua", 0)
    with pytest.raises(redis.ResponseError, match="Number of keys can't be negative"):
        r.eval("return 1", -1)
    with pytest.raises(redis.ResponseError, match="Number of keys can't be greater than number of args"):
        r.eval("return 1", 3, "a")
    with pytest.raises(redis.ResponseError, match="This Redis command is not allowed from script"):
        r.eval("return redis.call('EVAL', 'return 1', 0)", 0)
    with pytest.raises(redis.ResponseError, match="This Redis command is not allowed from script"):
        r.eval("return redis.call('SUBSCRIBE', 'ch')", 0)


def test_sandbox(r):
    with pytest.raises(redis.ResponseError, match="Script attempted to access nonexistent global variable 'os'"):
        r.eval("return os.time()", 0)
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("leaked = 1", 0)
    assert r.eval("local x = 5; return x", 0) == 5
    assert r.eval("return redis.sha1hex('')", 0) == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert r.eval("return string.format('%d-%s', 7, 'x')", 0) == "7-x"
    assert r.eval("return tostring(math.floor(2.7)) .. table.concat({'a', 'b'}, ',')", 0) == "2a,b"


def test_blocking_commands_in_scripts(r):
    # Redis 7 refuses the old blocking pops in scripts and runs the *MPOP ones without blocking.
    with pytest.raises(redis.ResponseError, match="This Redis command is not allowed from script"):
        r.eval("return redis.call('BLPOP', 'nokey', 0)", 0)
    assert r.eval("return redis.call('BLMPOP', 0, 1, 'nokey', 'LEFT')", 0) is None
    assert r.eval("return redis.call('BZMPOP', 0, 1, 'nokey', 'MIN')", 0) is None
    r.rpush("l", "x")
    assert r.eval("return redis.call('BLMPOP', 0, 1, 'l', 'LEFT')", 0) == ["l", ["x"]]


def test_evalsha_and_script_cache(r):
    body = "return ARGV[1] .. '!'"
    sha = r.script_load(body)
    assert sha == sha1(body)
    assert r.evalsha(sha, 0, "hi") == "hi!"
    # EVAL caches its script too.
    other = "return 7"
    assert r.eval(other, 0) == 7
    assert r.script_exists(sha, sha1(other), "0" * 40) == [True, True, False]
    assert r.evalsha(sha1(other), 0) == 7
    assert r.evalsha(sha.upper(), 0, "x") == "x!"
    assert r.script_flush() is True
    assert r.script_exists(sha) == [False]
    with pytest.raises(redis.exceptions.NoScriptError, match="No matching script. Please use EVAL."):
        r.evalsha(sha, 0, "hi")
    r.script_load(body)
    assert r.script_flush("SYNC") is True
    r.script_load(body)
    assert r.script_flush("ASYNC") is True
    assert r.script_exists(sha) == [False]


def test_register_script_reloads_after_flush(r):
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    r.script_flush()
    # redis-py's Script catches NOSCRIPT, loads the body and retries.
    assert incr_by(keys=["n"], args=[2]) == 7
    assert r.script_exists(incr_by.sha) == [True]
    # Scripts run inside transaction pipelines too.
    with r.pipeline(transaction=True) as p:
        incr_by(keys=["n"], args=[1], client=p)
        p.get("n")
        assert p.execute() == [8, "8"]


def test_read_compute_write_script(r):
    # A rate limiter: read a counter, decide, write with a TTL, atomically.
    limiter = r.register_script(
        """
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        local limit = tonumber(ARGV[1])
        if current >= limit then
            return {0, current}
        end
        current = redis.call('INCR', KEYS[1])
        if current == 1 then
            redis.call('EXPIRE', KEYS[1], ARGV[2])
        end
        return {1, current}
        """
    )
    results = [limiter(keys=["rl"], args=[3, 60]) for _ in range(5)]
    assert results == [[1, 1], [1, 2], [1, 3], [0, 3], [0, 3]]
    assert 0 < r.ttl("rl") <= 60
    # Move a member between collections of every family in one script.
    r.hset("h", "f", "10")
    r.sadd("s", "m")
    r.zadd("z", {"m": 2})
    out = r.eval(
        """
        local v = tonumber(redis.call('HGET', KEYS[1], 'f'))
        local score = tonumber(redis.call('ZSCORE', KEYS[3], 'm'))
        redis.call('SREM', KEYS[2], 'm')
        redis.call('RPUSH', KEYS[4], v * score)
        return redis.call('LRANGE', KEYS[4], 0, -1)
        """,
        4, "h", "s", "z", "out",
    )
    assert out == ["20"]
    assert r.exists("s") == 0


def test_eval_ro_and_evalsha_ro(r):
    r.set("k", "v")
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, "k") == "v"
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only scripts"):
        r.eval_ro("return redis.call('SET', KEYS[1], 'x')", 1, "k")
    sha = r.script_load("return redis.call('GET', KEYS[1])")
    assert r.evalsha_ro(sha, 1, "k") == "v"
    wsha = r.script_load("return redis.call('DEL', KEYS[1])")
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only scripts"):
        r.evalsha_ro(wsha, 1, "k")
    assert r.get("k") == "v"


def test_script_kill(r, make_client):
    with pytest.raises(redis.ResponseError, match="NOTBUSY No scripts in execution right now."):
        r.script_kill()
    old = r.config_get("busy-reply-threshold")["busy-reply-threshold"]
    # Other clients are answered BUSY (and SCRIPT KILL served) only past this threshold.
    r.config_set("busy-reply-threshold", 20)
    try:
        looper = Background(make_client().eval, "while true do end", 0)
        killer = make_client()

        def kill():
            if looper.done():
                looper.join()
                raise AssertionError(f"the endless script returned {looper.result!r}")
            try:
                return killer.script_kill()
            except redis.ResponseError as e:
                if "NOTBUSY" in str(e):
                    return False  # not started yet
                raise

        wait_for("the script to run", kill)
        with pytest.raises(redis.ResponseError, match="Script killed by user with SCRIPT KILL"):
            looper.join()
        assert r.ping() is True
    finally:
        r.config_set("busy-reply-threshold", old)


def test_busy_reply_while_a_script_runs(r, make_client):
    old = r.config_get("busy-reply-threshold")["busy-reply-threshold"]
    r.config_set("busy-reply-threshold", 20)
    try:
        looper = Background(make_client().eval, "while true do end", 0)
        other = make_client()

        def busy():
            if looper.done():
                looper.join()  # raises the script's error
                raise AssertionError(f"the endless script returned {looper.result!r}")
            try:
                other.get("x")
                return False
            except redis.exceptions.BusyLoadingError:
                return True  # redis-py maps BUSY replies to BusyLoadingError
            except redis.ResponseError as e:
                return "BUSY" in str(e)

        wait_for("a BUSY reply", busy)
        wait_for("the kill", lambda: _try_kill(other))
        with pytest.raises(redis.ResponseError, match="Script killed"):
            looper.join()
    finally:
        r.config_set("busy-reply-threshold", old)


def _try_kill(c):
    try:
        return c.script_kill()
    except redis.ResponseError:
        return False
