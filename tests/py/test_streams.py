"""Streams through redis-py, over RESP2 and RESP3: XADD/XRANGE/XREVRANGE/XLEN/XDEL/XTRIM,
a work queue with a consumer group (XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO),
two consumers blocking in XREADGROUP woken by XADD from a third client, and the error words.
Every assertion also holds against Redis 7.0 (RCACHE_PY_TARGET, see conftest.py)."""

import threading
import time

import pytest
import redis


def test_add_range_len_del_trim(r):
    ids = [r.xadd("s", {"n": i, "kind": "ev"}) for i in range(10)]
    assert all(a < b for a, b in zip(ids, ids[1:])) or len(set(ids)) == 10
    assert r.xlen("s") == 10
    got = r.xrange("s")
    assert [e[1]["n"] for e in got] == [str(i) for i in range(10)]
    assert [e[0] for e in r.xrevrange("s", count=3)] == ids[::-1][:3]
    assert r.xrange("s", min=ids[2], max=ids[4]) == got[2:5]
    assert r.xrange("s", min="(" + ids[2], max="+", count=1)[0][0] == ids[3]
    assert r.xdel("s", ids[0], ids[1], "1-1") == 2
    assert r.xlen("s") == 8
    assert r.xtrim("s", maxlen=5) == 0  # "~" (the default): whole blocks only
    assert r.xtrim("s", maxlen=5, approximate=False) == 3
    assert [e[0] for e in r.xrange("s")] == ids[5:]
    assert r.xtrim("s", minid=ids[7], approximate=False) == 2
    assert r.xlen("s") == 3
    assert r.type("s") == "stream"
    assert r.xlen("missing") == 0
    assert r.xrange("missing") == []


def test_explicit_ids_and_maxlen(r):
    assert r.xadd("e", {"f": "v"}, id="5-1") == "5-1"
    assert r.xadd("e", {"f": "v"}, id="5-*") == "5-2"
    with pytest.raises(redis.ResponseError, match="equal or smaller"):
        r.xadd("e", {"f": "v"}, id="5-1")
    with pytest.raises(redis.ResponseError, match="greater than 0-0"):
        r.xadd("z", {"f": "v"}, id="0-0")
    with pytest.raises(redis.ResponseError, match="Invalid stream ID"):
        r.xadd("e", {"f": "v"}, id="x-1")
    for i in range(20):
        r.xadd("capped", {"i": i}, maxlen=5, approximate=False)
    assert r.xlen("capped") == 5
    assert r.xadd("nomk", {"f": "v"}, nomkstream=True) is None
    assert r.exists("nomk") == 0


def test_xread_many_streams(r):
    r.xadd("a", {"x": 1}, id="1-1")
    r.xadd("b", {"y": 2}, id="2-1")
    res = r.xread({"a": "0", "b": "0"})
    # RESP2: [[key, entries]]; RESP3: {key: [entries]} — redis-py gives each its shape.
    if isinstance(res, dict):
        assert res["a"] == [[("1-1", {"x": "1"})]] or res["a"][0][0] == ("1-1", {"x": "1"})
        assert set(res) == {"a", "b"}
    else:
        assert res == [["a", [("1-1", {"x": "1"})]], ["b", [("2-1", {"y": "2"})]]]
    assert not r.xread({"a": "$"})
    assert not r.xread({"a": "$"}, block=20)


def test_consumer_group_work_queue(r):
    r.xgroup_create("jobs", "workers", id="0", mkstream=True)
    for i in range(6):
        r.xadd("jobs", {"job": i}, id=f"1-{i + 1}")
    first = r.xreadgroup("workers", "alice", {"jobs": ">"}, count=2)
    second = r.xreadgroup("workers", "bob", {"jobs": ">"}, count=10)
    entries = lambda res: (res["jobs"][0] if isinstance(res, dict) else res[0][1])
    a, b = entries(first), entries(second)
    assert [e[0] for e in a] == ["1-1", "1-2"]
    assert [e[0] for e in b] == ["1-3", "1-4", "1-5", "1-6"]
    p = r.xpending("jobs", "workers")
    assert p["pending"] == 6 and p["min"] == "1-1" and p["max"] == "1-6"
    assert sorted((c["name"], c["pending"]) for c in p["consumers"]) == [("alice", 2), ("bob", 4)]
    assert r.xack("jobs", "workers", "1-1", "1-3", "9-9") == 2
    rows = r.xpending_range("jobs", "workers", min="-", max="+", count=10, consumername="bob")
    assert [row["message_id"] for row in rows] == ["1-4", "1-5", "1-6"]
    assert rows[0]["times_delivered"] == 1
    # Bob's history: his own pending entries again.
    hist = entries(r.xreadgroup("workers", "bob", {"jobs": "0"}))
    assert [e[0] for e in hist] == ["1-4", "1-5", "1-6"]
    # Alice takes over one of bob's, then everything idle with XAUTOCLAIM.
    claimed = r.xclaim("jobs", "workers", "alice", min_idle_time=0, message_ids=["1-4"])
    assert [e[0] for e in claimed] == ["1-4"]
    assert r.xclaim("jobs", "workers", "alice", 0, ["1-5"], justid=True) == ["1-5"]
    nxt, got, deleted = r.xautoclaim("jobs", "workers", "carol", 0, start_id="0-0", count=10)[:3]
    assert nxt == "0-0" and [e[0] for e in got] == ["1-2", "1-4", "1-5", "1-6"] and deleted == []
    groups = r.xinfo_groups("jobs")
    assert groups[0]["name"] == "workers" and groups[0]["pending"] == 4
    assert groups[0]["last-delivered-id"] == "1-6" and groups[0]["lag"] == 0
    consumers = {c["name"]: c["pending"] for c in r.xinfo_consumers("jobs", "workers")}
    assert consumers == {"alice": 0, "bob": 0, "carol": 4}
    info = r.xinfo_stream("jobs")
    assert info["length"] == 6 and info["groups"] == 1
    assert info["first-entry"][0] == "1-1" and info["last-entry"][0] == "1-6"
    full = r.xinfo_stream("jobs", full=True)
    assert full["groups"][0]["pel-count"] == 4
    assert r.xgroup_delconsumer("jobs", "workers", "carol") == 4
    assert r.xgroup_createconsumer("jobs", "workers", "dave") == 1
    assert r.xgroup_setid("jobs", "workers", "0") is True
    assert r.xgroup_destroy("jobs", "workers") == 1


def test_blocking_consumers_share_the_work(r, make_client):
    r.xgroup_create("q", "g", id="$", mkstream=True)
    results = {}

    def consume(name):
        c = make_client()
        res = c.xreadgroup("g", name, {"q": ">"}, count=1, block=5000)
        results[name] = res

    threads = [threading.Thread(target=consume, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while r.info("clients")["blocked_clients"] < 2:
        assert time.time() < deadline, "consumers never blocked"
        time.sleep(0.005)
    r.xadd("q", {"task": "a"}, id="1-1")
    r.xadd("q", {"task": "b"}, id="1-2")
    for t in threads:
        t.join(10)
    got = []
    for res in results.values():
        entries = res["q"][0] if isinstance(res, dict) else res[0][1]
        got += [e[0] for e in entries]
    assert sorted(got) == ["1-1", "1-2"]
    assert r.xpending("q", "g")["pending"] == 2


def test_errors(r):
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.xadd("str", {"f": "v"})
    with pytest.raises(redis.ResponseError, match="BUSYGROUP"):
        r.xgroup_create("s", "g", mkstream=True)
        r.xgroup_create("s", "g")
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        r.xreadgroup("nog", "c", {"s": ">"})
    with pytest.raises(redis.ResponseError, match="requires the key to exist"):
        r.xgroup_create("nokey", "g")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.xinfo_stream("nokey")
    with pytest.raises(redis.ResponseError, match="MAXLEN and MINID"):
        r.execute_command("XTRIM", "s", "MAXLEN", "1", "MINID", "1")
    with pytest.raises(redis.ResponseError, match="Unbalanced"):
        r.execute_command("XREAD", "STREAMS", "a", "b", "0")
