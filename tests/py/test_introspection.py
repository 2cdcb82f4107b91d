"""SLOWLOG, LATENCY, ROLE, LOLWUT, DEBUG and MEMORY's diagnostics through redis-py, RESP2
and RESP3. Every assertion holds against Debian's redis-server 7.0 started with
`--enable-debug-command yes` (or `local`), as the suite's own server is (conftest.py).
"""

import re
import time

import pytest
import redis

from helpers import wait_for

SETTINGS = ("slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold")


@pytest.fixture
def rx(r):
    """`r`, with the settings these tests change put back and the logs emptied after."""
    saved = {k: r.config_get(k)[k] for k in SETTINGS}
    r.slowlog_reset()
    r.latency_reset()
    yield r
    for k, v in saved.items():
        r.config_set(k, v)
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    r.slowlog_reset()
    r.latency_reset()


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def slowlog(r, *count):
    """SLOWLOG GET as redis-py parses it, its strings decoded (redis-py never decodes them)."""
    return [{k: text(v) for k, v in e.items()} for e in r.slowlog_get(*count)]


def commands(entries):
    return [e["command"] for e in entries]


def debug_object(r, key):
    """DEBUG OBJECT's fields: redis-py parses them over RESP2, hands the line over RESP3."""
    o = r.debug_object(key)
    if isinstance(o, dict):
        return o
    fields = dict(kv.split(":", 1) for kv in ("type:" + text(o)).split())
    for f in ("refcount", "serializedlength", "lru", "lru_seconds_idle"):
        fields[f] = int(fields[f])
    return fields


def test_slowlog_records_a_slow_command(rx, make_client):
    rx.config_set("slowlog-log-slower-than", 10000)
    rx.client_setname("sleeper")
    rx.execute_command("DEBUG", "SLEEP", "0.05")
    for i in range(10):
        rx.set(f"k{i}", "v")
    entries = slowlog(rx)
    assert commands(entries) == ["DEBUG SLEEP 0.05"]
    e = entries[0]
    assert e["duration"] >= 50_000
    assert abs(e["start_time"] - time.time()) < 60
    assert e["client_name"] == "sleeper"
    assert e["client_address"] == rx.client_info()["addr"]
    assert rx.slowlog_len() == 1
    # Every client sees the one log.
    assert make_client().slowlog_len() == 1


def test_slowlog_threshold_zero_trims_arguments_and_length(rx):
    rx.config_set("slowlog-log-slower-than", 0)
    rx.slowlog_reset()
    rx.set("big", "x" * 200)
    rx.rpush("l", *[f"e{i}" for i in range(50)])
    entries = slowlog(rx, 2)
    # 31 arguments kept, the 32nd says how many more there were (52 - 32 + 1).
    kept, _, more = entries[0]["command"].partition(" ... (")
    assert len(kept.split(" ")) == 31
    assert kept.split(" ")[:3] == ["RPUSH", "l", "e0"]
    assert more == "21 more arguments)"
    assert entries[0]["command"].endswith("e28 ... (21 more arguments)")
    assert entries[1]["command"] == "SET big " + "x" * 128 + "... (72 more bytes)"
    assert entries[0]["id"] == entries[1]["id"] + 1
    rx.config_set("slowlog-max-len", 3)
    for i in range(10):
        rx.set(f"k{i}", i)
    assert rx.slowlog_len() == 3
    assert commands(slowlog(rx, -1))[1:] == ["SET k9 9", "SET k8 8"]
    assert rx.slowlog_reset()
    # RESET itself is logged afterwards, at threshold 0.
    assert commands(slowlog(rx)) == ["SLOWLOG RESET"]
    rx.config_set("slowlog-log-slower-than", -1)
    rx.slowlog_reset()
    rx.execute_command("DEBUG", "SLEEP", "0.02")
    assert rx.slowlog_len() == 0


def test_slowlog_errors(r):
    with pytest.raises(redis.ResponseError, match="count should be greater than or equal to -1"):
        r.execute_command("SLOWLOG", "GET", "-2")
    with pytest.raises(redis.ResponseError, match="unknown subcommand or wrong number of arguments for 'GET'"):
        r.execute_command("SLOWLOG", "GET", "1", "2")
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'NOPE'. Try SLOWLOG HELP."):
        r.execute_command("SLOWLOG", "NOPE")
    assert r.execute_command("SLOWLOG", "HELP")[0].startswith("SLOWLOG <subcommand>")


def test_latency_after_a_slow_command(rx):
    assert rx.latency_latest() == []
    rx.config_set("latency-monitor-threshold", 10)
    rx.execute_command("DEBUG", "SLEEP", "0.03")
    latest = rx.latency_latest()
    assert len(latest) == 1
    name, at, ms, worst = latest[0]
    assert name == "command"
    assert abs(at - time.time()) < 60
    assert ms >= 30 and worst >= ms
    history = rx.latency_history("command")
    assert len(history) == 1 and history[0][1] == ms
    assert rx.latency_history("nosuch") == []
    graph = rx.execute_command("LATENCY", "GRAPH", "command")
    assert graph.startswith("command - high ")
    doctor = rx.execute_command("LATENCY", "DOCTOR")
    assert "Dave, I have observed latency spikes" in doctor
    assert "1. command: 1 latency spikes" in doctor
    with pytest.raises(redis.ResponseError, match="No samples available for event 'nosuch'"):
        rx.execute_command("LATENCY", "GRAPH", "nosuch")
    assert rx.latency_reset("nosuch") == 0
    assert rx.latency_reset() == 1
    assert rx.latency_latest() == []


def test_latency_doctor_when_off(rx):
    rx.config_set("latency-monitor-threshold", 0)
    doctor = rx.execute_command("LATENCY", "DOCTOR")
    assert doctor.startswith("I'm sorry, Dave, I can't do that. Latency monitoring is disabled")


def test_role(r):
    assert r.role() == ["master", 0, []]


def test_lolwut(r):
    version = r.info("server")["redis_version"]
    assert r.lolwut() == f"Redis ver. {version}\n"
    art = r.lolwut(5)
    assert art.endswith(f"Georg Nees - schotter, plotter on paper, 1968. Redis ver. {version}\n")
    assert len(art.splitlines()) > 10
    assert r.lolwut(6).endswith(f"Redis ver. {version}\n")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("LOLWUT", "VERSION", "x")


def test_debug_object(r):
    r.set("s", "bar")
    r.set("n", "12345")
    o = debug_object(r, "s")
    assert o["refcount"] == 1
    assert o["encoding"] == "embstr"
    assert o["serializedlength"] > 0
    assert o["lru_seconds_idle"] == 0
    assert re.fullmatch(r"0x[0-9a-f]+", o["at"])
    assert debug_object(r, "n")["encoding"] == "int"
    with pytest.raises(redis.ResponseError, match="no such key"):
        debug_object(r, "nosuch")


def test_debug_set_active_expire(rx):
    rx.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for i in range(20):
        rx.set(f"t{i}", "v", px=10)
    # Well past the keys' expiry and several active-expiry periods (hz 10): with the cycle
    # off, they are all still there.
    deadline = time.monotonic() + 0.4
    wait_for("400 ms to pass", lambda: time.monotonic() >= deadline)
    assert rx.dbsize() == 20
    # An access expires the key it touches.
    assert rx.get("t0") is None
    assert rx.dbsize() == 19
    rx.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    wait_for("the active cycle to remove the keys", lambda: rx.dbsize() == 0)


def test_debug_errors_and_subcommands(r):
    assert r.execute_command("DEBUG", "SLEEP", "0")
    with pytest.raises(redis.ResponseError, match="unknown subcommand or wrong number of arguments for 'JMAP'. Try DEBUG HELP."):
        r.execute_command("DEBUG", "JMAP")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("DEBUG", "ERROR", "Custom failure")
    assert str(e.value) == "Custom failure"
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'debug' command"):
        r.execute_command("DEBUG")
    assert r.execute_command("DEBUG", "HELP")[0].startswith("DEBUG <subcommand>")


def test_memory_diagnostics(r):
    r.set("k", "v")
    doctor = r.execute_command("MEMORY", "DOCTOR")
    assert doctor.startswith(("Hi Sam", "Sam, I detected"))
    stats = r.memory_stats()
    for field in (
        "peak.allocated", "total.allocated", "startup.allocated", "replication.backlog",
        "clients.slaves", "clients.normal", "cluster.links", "aof.buffer", "lua.caches",
        "functions.caches", "overhead.total", "keys.count", "keys.bytes-per-key",
        "dataset.bytes", "dataset.percentage", "peak.percentage", "allocator.allocated",
        "allocator.active", "allocator.resident", "allocator-fragmentation.ratio",
        "allocator-fragmentation.bytes", "allocator-rss.ratio", "allocator-rss.bytes",
        "rss-overhead.ratio", "rss-overhead.bytes", "fragmentation", "fragmentation.bytes",
    ):
        assert field in stats, field
    assert stats["keys.count"] == 1
    assert "db.0" in stats
    malloc = r.execute_command("MEMORY", "MALLOC-STATS")
    assert "jemalloc" in malloc or malloc == "Stats not supported for the current allocator"
    assert r.execute_command("MEMORY", "PURGE")
