"""Non-transactional pipelines: many commands of every family in one write, replies in order."""

import redis
from helpers import Background


def test_mixed_families_in_one_pipeline(r, protocol):
    with r.pipeline(transaction=False) as p:
        p.set("s", "1").incr("s").get("s")
        p.rpush("l", "a", "b").lpop("l").lrange("l", 0, -1)
        p.hset("h", mapping={"f": "v"}).hget("h", "f").hgetall("h")
        p.sadd("set", "x", "y").sismember("set", "x").scard("set")
        p.zadd("z", {"m": 2}).zincrby("z", 1, "m").zrange("z", 0, -1, withscores=True)
        p.type("s").type("l").type("h").type("set").type("z").type("nokey")
        p.delete("s", "l", "h", "set", "z")
        assert p.execute() == [
            True, 2, "2",
            2, "a", ["b"],
            1, "v", {"f": "v"},
            2, 1, 2,
            1, 3.0, [("m", 3.0)] if protocol == 2 else [["m", 3.0]],
            "string", "list", "hash", "set", "zset", "none",
            5,
        ]


def test_errors_stay_in_place(r):
    r.set("str", "v")
    with r.pipeline(transaction=False) as p:
        p.incr("n").lpush("str", "x").hget("str", "f").incr("n")
        res = p.execute(raise_on_error=False)
    assert res[0] == 1 and res[3] == 2
    assert all(isinstance(e, redis.ResponseError) and "WRONGTYPE" in str(e) for e in res[1:3])


def test_large_pipeline(r):
    n = 10_000
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.hset(f"h{i % 100}", f"f{i}", i)
            p.zadd("scores", {f"m{i}": i})
            p.rpush("log", i)
        res = p.execute()
    assert len(res) == 3 * n
    assert res[1::3] == [1] * n
    assert res[-1] == n
    with r.pipeline(transaction=False) as p:
        for i in range(100):
            p.hlen(f"h{i}")
        p.zcard("scores").llen("log").zrange("scores", -1, -1).lindex("log", 5000)
        res = p.execute()
    assert res[:100] == [100] * 100
    assert res[100:] == [n, n, [f"m{n - 1}"], "5000"]


def test_large_values_in_pipeline(rb):
    big = bytes(range(256)) * 4096  # 1 MiB
    with rb.pipeline(transaction=False) as p:
        p.set(b"big", big).rpush(b"bl", big, big).hset(b"bh", b"f", big).sadd(b"bs", big)
        p.get(b"big").lindex(b"bl", 1).hget(b"bh", b"f").smembers(b"bs")
        res = p.execute()
    assert res[4:7] == [big, big, big]
    assert res[7] == {big}


def test_pipelines_from_several_clients_interleave_correctly(r, make_client):
    clients = [make_client() for _ in range(4)]
    pipes = [c.pipeline(transaction=False) for c in clients]
    for n, p in enumerate(pipes):
        for i in range(500):
            p.rpush(f"l{n}", i).incr("shared")
    # Sent at the same time from threads: each client's replies stay its own and in order.
    running = [Background(p.execute) for p in pipes]
    results = [b.join() for b in running]
    for n, res in enumerate(results):
        assert res[::2] == list(range(1, 501))
        assert r.lrange(f"l{n}", 0, 2) == ["0", "1", "2"]
    assert r.get("shared") == "2000"
