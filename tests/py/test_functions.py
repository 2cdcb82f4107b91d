"""Redis 7 functions through redis-py: function_load / fcall / fcall_ro / function_list /
function_stats / function_delete / function_flush / function_dump / function_restore /
function_kill, over RESP2 and RESP3.

Every assertion holds against Redis 7.0 too (FUNCTION LIST is compared as dicts: Redis lists
libraries and functions in hash order). Error texts are Redis's, e.g. `ERR Library 'x'
already exists`, and a failing redis.call inside a function ends with
`script: <function>, on @user_function:<line>.`
"""

import pytest
import redis
from helpers import Background, wait_for

HELLO = "#!lua name=hello\nredis.register_function('hello', function(keys, args) return 'hello ' .. (args[1] or '') end)"

FLAGGED = """#!lua name=flagged
redis.register_function{
    function_name = 'get_it',
    callback = function(keys) return redis.call('GET', keys[1]) end,
    flags = {'no-writes'},
    description = 'reads a key',
}
redis.register_function{
    function_name = 'set_it',
    callback = function(keys, args) return redis.call('SET', keys[1], args[1]) end,
}
redis.register_function{
    function_name = 'set_anyway',
    callback = function(keys, args) return redis.call('SET', keys[1], args[1]) end,
    flags = {'allow-oom'},
}
redis.register_function{
    function_name = 'sneaky_write',
    callback = function(keys) return redis.call('SET', keys[1], 'x') end,
    flags = {'no-writes'},
}
"""


def pairs(x):
    """A RESP3 map (dict) or its RESP2 flat list, as a dict."""
    if isinstance(x, dict):
        return dict(x)
    return dict(zip(x[::2], x[1::2]))


def libraries(r, **kw):
    """FUNCTION LIST as {library: (engine, {function: (description, flags)}, code)}."""
    out = {}
    for lib in r.function_list(**kw):
        lib = pairs(lib)
        fns = {}
        for f in lib["functions"]:
            f = pairs(f)
            fns[f["name"]] = (f["description"], sorted(f["flags"]))
        out[lib["library_name"]] = (lib["engine"], fns, lib.get("library_code"))
    return out


def stats(r):
    """FUNCTION STATS as (running_script, libraries_count, functions_count)."""
    s = pairs(r.function_stats())
    lua = pairs(pairs(s["engines"])["LUA"])
    return s["running_script"], lua["libraries_count"], lua["functions_count"]


@pytest.fixture
def f(r):
    """The main client on a server with no keys and no function libraries."""
    r.function_flush()
    yield r
    r.config_set("maxmemory", 0)
    r.function_flush()


def test_load_and_call(f):
    assert f.function_load(HELLO) == "hello"
    assert f.fcall("hello", 0, "world") == "hello world"
    assert f.fcall("HELLO", 0) == "hello "  # function names are case-insensitive
    assert f.function_load(FLAGGED) == "flagged"
    f.set("k", "v")
    assert f.fcall_ro("get_it", 1, "k") == "v"
    assert f.fcall("get_it", 1, "k") == "v"
    assert f.fcall("set_it", 1, "k", "w") == "OK"
    assert f.get("k") == "w"
    # The callback gets keys and args as parameters; there are no KEYS/ARGV globals.
    f.function_load(
        "#!lua name=shape\nredis.register_function('shape', function(keys, args) "
        "return {#keys, #args, keys[1], args[2]} end)\n"
        "redis.register_function('globals', function() return KEYS end)"
    )
    assert f.fcall("shape", 2, "a", "b", "c", "d") == [2, 2, "a", "d"]
    with pytest.raises(
        redis.ResponseError,
        match=r"nonexistent global variable 'KEYS' script: globals, on @user_function:3\.$",
    ):
        f.fcall("globals", 0)
    # REPLACE swaps a library's code; FLUSHALL leaves functions alone.
    f.function_load(HELLO.replace("'hello '", "'hi '"), replace=True)
    assert f.fcall("hello", 0, "x") == "hi x"
    f.flushall()
    assert f.fcall("hello", 0, "x") == "hi x"


def test_list_and_stats(f):
    assert f.function_list() == []
    assert stats(f) == (None, 0, 0)
    f.function_load(HELLO)
    f.function_load(FLAGGED)
    assert libraries(f) == {
        "hello": ("LUA", {"hello": (None, [])}, None),
        "flagged": (
            "LUA",
            {
                "get_it": ("reads a key", ["no-writes"]),
                "set_it": (None, []),
                "set_anyway": (None, ["allow-oom"]),
                "sneaky_write": (None, ["no-writes"]),
            },
            None,
        ),
    }
    assert libraries(f, library="hel*", withcode=True) == {
        "hello": ("LUA", {"hello": (None, [])}, HELLO)
    }
    assert libraries(f, library="nomatch") == {}
    assert stats(f) == (None, 2, 5)


def test_errors_in_redis_words(f):
    f.function_load(HELLO)
    cases = [
        (lambda: f.function_load(HELLO), r"^Library 'hello' already exists$"),
        (lambda: f.function_load("return 1"), r"^Missing library metadata$"),
        (lambda: f.function_load("#!lua name=x"), r"^Invalid library metadata$"),
        (lambda: f.function_load("#!lua\n"), r"^Library name was not given$"),
        (lambda: f.function_load("#!lua name=x foo=bar\n"), r"^Invalid metadata value given: foo=bar$"),
        (lambda: f.function_load("#!js name=x\n"), r"^Engine 'js' not found$"),
        (lambda: f.function_load("#!lua name=a-b\n"), r"^Library names can only contain letters"),
        (lambda: f.function_load("#!lua name=x\nbad script"), r"^Error compiling function: user_function:2: "),
        (lambda: f.function_load("#!lua name=x\nlocal a = 1"), r"^No functions registered$"),
        (
            lambda: f.function_load("#!lua name=x\nredis.register_function('HELLO', function() end)"),
            r"^Function HELLO already exists$",
        ),
        (
            lambda: f.function_load("#!lua name=x\nreturn redis.call('PING')"),
            r"^Error registering functions: ERR user_function:2: Script attempted to access "
            r"nonexistent global variable 'call'$",
        ),
        (
            lambda: f.function_load("#!lua name=x\nredis.register_function('f')"),
            r"^Error registering functions: ERR calling redis.register_function with a single "
            r"argument is only applicable to Lua table",
        ),
        (
            lambda: f.function_load(
                "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}"
            ),
            r"^Error registering functions: ERR unknown flag given$",
        ),
        (lambda: f.fcall("nope", 0), r"^Function not found$"),
        (lambda: f.fcall("hello", "x"), r"^Bad number of keys provided$"),
        (lambda: f.fcall("hello", 2, "a"), r"^Number of keys can't be greater than number of args$"),
        (lambda: f.fcall("hello", -1), r"^Number of keys can't be negative$"),
        (lambda: f.fcall_ro("hello", 0), r"^Can not execute a script with write flag using \*_ro command\.$"),
        (lambda: f.function_delete("nope"), r"^Library not found$"),
    ]
    for call, pattern in cases:
        with pytest.raises(redis.ResponseError, match=pattern):
            call()
    f.function_load(FLAGGED)
    for call in (lambda: f.fcall("sneaky_write", 1, "k"), lambda: f.fcall_ro("sneaky_write", 1, "k")):
        with pytest.raises(
            redis.ResponseError,
            match=r"^Write commands are not allowed from read-only scripts\. "
            r"script: sneaky_write, on @user_function:\d+\.$",
        ):
            call()
    assert f.exists("k") == 0
    # A failed REPLACE keeps the library that was there.
    with pytest.raises(redis.ResponseError, match="^Error registering functions"):
        f.function_load("#!lua name=hello\nerror('x')", replace=True)
    assert f.fcall("hello", 0, "again") == "hello again"


def test_delete_and_flush(f):
    f.function_load(HELLO)
    f.function_load(FLAGGED)
    assert f.function_delete("hello")
    with pytest.raises(redis.ResponseError, match="^Function not found$"):
        f.fcall("hello", 0)
    assert stats(f) == (None, 1, 4)
    assert f.function_flush("ASYNC")
    assert f.function_list() == []
    f.function_load(HELLO)
    assert f.function_flush("SYNC")
    assert stats(f) == (None, 0, 0)


def test_dump_and_restore(f, make_client):
    rb = make_client(decode_responses=False)
    f.function_load(HELLO)
    f.function_load(FLAGGED)
    before = libraries(f, withcode=True)
    payload = rb.function_dump()
    assert isinstance(payload, bytes)
    f.function_flush()
    assert rb.function_restore(payload) is True
    assert libraries(f, withcode=True) == before
    # APPEND (the default) refuses a library that is there; REPLACE replaces it.
    with pytest.raises(redis.ResponseError, match="^Library (hello|flagged) already exists$"):
        rb.function_restore(payload, "APPEND")
    f.function_load(HELLO.replace("'hello '", "'hi '"), replace=True)
    assert rb.function_restore(payload, "REPLACE") is True
    assert f.fcall("hello", 0, "x") == "hello x"
    # FLUSH drops the others first.
    f.function_load("#!lua name=other\nredis.register_function('other', function() return 1 end)")
    assert rb.function_restore(payload, "FLUSH") is True
    assert libraries(f, withcode=True) == before
    for bad in (b"bad_payload", payload[:-1], payload[:3] + bytes([payload[3] ^ 1]) + payload[4:]):
        with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong$"):
            rb.function_restore(bad)
    with pytest.raises(redis.ResponseError, match="^Wrong restore policy given"):
        rb.function_restore(payload, "MERGE")
    assert libraries(f, withcode=True) == before


def test_maxmemory_and_allow_oom(f):
    f.function_load(FLAGGED)
    f.set("k", "v")
    f.config_set("maxmemory", 1)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            f.fcall("set_it", 1, "k", "no")
        # no-writes functions run; allow-oom ones may write.
        assert f.fcall("get_it", 1, "k") == "v"
        assert f.fcall("set_anyway", 1, "k2", "yes") == "OK"
        assert f.get("k2") == "yes"
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            f.function_load(HELLO)
    finally:
        f.config_set("maxmemory", 0)
    assert f.fcall("set_it", 1, "k", "now") == "OK"


def test_function_kill_stops_a_busy_function(f, make_client):
    threshold = f.config_get("busy-reply-threshold")["busy-reply-threshold"]
    f.config_set("busy-reply-threshold", 50)
    try:
        with pytest.raises(redis.ResponseError, match="^NOTBUSY No scripts in execution right now.$"):
            f.function_kill()
        f.function_load(
            "#!lua name=spin\nredis.register_function{function_name='spin', "
            "callback=function() local a = 1 while true do a = a + 1 end end, flags={'no-writes'}}"
        )
        looper = Background(make_client().fcall, "spin", 0)
        other = make_client()

        def busy():
            if looper.done():
                looper.join()
                raise AssertionError(f"the endless function returned {looper.result!r}")
            try:
                other.ping()
                return False
            except redis.ResponseError as e:
                # redis-py maps only the EVAL wording of BUSY to BusyLoadingError.
                assert str(e).startswith("BUSY") and "FUNCTION KILL" in str(e), e
                return True

        wait_for("BUSY", busy, timeout=10)
        running, _, _ = stats(other)
        running = pairs(running)
        assert running["name"] == "spin"
        assert [c.lower() for c in running["command"]] == ["fcall", "spin", "0"]
        # SCRIPT KILL is for EVAL scripts: BUSY, naming FUNCTION KILL.
        with pytest.raises(redis.ResponseError, match="^BUSY .*FUNCTION KILL"):
            other.script_kill()
        assert other.function_kill()
        with pytest.raises(redis.ResponseError, match=r"^Script killed by user with SCRIPT KILL\.\.\. "):
            looper.join()
        wait_for("PONG", lambda: other.ping(), timeout=10)
        assert stats(other)[0] is None
    finally:
        f.config_set("busy-reply-threshold", threshold)
