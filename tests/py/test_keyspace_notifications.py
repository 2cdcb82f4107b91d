"""Keyspace notifications through redis-py's pub/sub, over RESP2 and RESP3: the events an
application reacts to (set, expire, del, expired, lpush, hset, xadd, new) on both the
keyspace and keyevent channels, the class filter, and off. Every assertion also holds
against Redis 7.0 (RCACHE_PY_TARGET, see conftest.py)."""

import time

import pytest


@pytest.fixture
def notify(r):
    yield lambda flags: r.config_set("notify-keyspace-events", flags)
    r.config_set("notify-keyspace-events", "")


def drain(ps, until, timeout=5.0):
    """Messages until one whose data is `until` (a marker published after the commands)."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = ps.get_message(timeout=0.1)
        if m is None or m["type"] not in ("message", "pmessage"):
            continue
        if m["channel"] == "marker":
            if m["data"] == until:
                return got
            continue
        got.append((m["channel"], m["data"]))
    raise AssertionError(f"no marker; got {got}")


def test_events_on_both_channels(r, make_client, notify):
    notify("KEA")
    ps = make_client().pubsub()
    ps.psubscribe("__key*__:*")
    ps.subscribe("marker")
    r.set("k", "v")
    r.expire("k", 100)
    r.lpush("l", "a")
    r.hset("h", "f", "v")
    r.xadd("x", {"f": "v"}, id="1-1")
    r.delete("k")
    r.publish("marker", "1")
    got = drain(ps, "1")
    space = [d for c, d in got if c.startswith("__keyspace@0__:")]
    assert space == ["set", "expire", "lpush", "hset", "xadd", "del"]
    event = [(c, d) for c, d in got if c.startswith("__keyevent@0__:")]
    assert event[0] == ("__keyevent@0__:set", "k")
    assert ("__keyevent@0__:xadd", "x") in event
    ps.close()


def test_expired_and_new(r, make_client, notify):
    notify("Exn")
    ps = make_client().pubsub()
    ps.psubscribe("__keyevent@0__:*")
    ps.subscribe("marker")
    r.set("soon", "v", px=1)
    deadline = time.time() + 5
    seen = []
    while time.time() < deadline and ("__keyevent@0__:expired", "soon") not in seen:
        r.get("soon")  # a lazy expiry, if the active cycle has not been first
        r.publish("marker", "m")
        seen += drain(ps, "m")
    assert ("__keyevent@0__:new", "soon") in seen
    assert ("__keyevent@0__:expired", "soon") in seen
    ps.close()


def test_class_filter_and_off(r, make_client, notify):
    notify("Kl")
    ps = make_client().pubsub()
    ps.psubscribe("__key*__:*")
    ps.subscribe("marker")
    r.set("s", "v")
    r.rpush("l", "a")
    r.publish("marker", "a")
    assert drain(ps, "a") == [("__keyspace@0__:l", "rpush")]
    notify("")
    r.rpush("l", "b")
    r.publish("marker", "b")
    assert drain(ps, "b") == []
    assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == ""
    notify("KEA")
    assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == "AKE"
    ps.close()
