"""MULTI/EXEC/DISCARD/WATCH/UNWATCH the ways redis-py drives them.

`pipeline(transaction=True)` sends MULTI … EXEC in one write; `pipeline()` + `watch()` is the
optimistic-locking pattern; `single` (one dedicated connection) drives the commands by hand
for the error cases a pipeline hides.
"""

import pytest
import redis
from helpers import wait_for


class Raw:
    """One dedicated connection, replies as parsed by redis-py without its per-command
    callbacks (which would turn QUEUED into False), errors raised as ResponseError."""

    def __init__(self, client):
        self.conn = client.connection

    def __call__(self, *args):
        self.conn.send_command(*args)
        return self.conn.read_response()


@pytest.fixture
def single(make_client, r):
    return Raw(make_client(single_connection_client=True))


def test_transaction_pipeline(r, protocol):
    with r.pipeline(transaction=True) as p:
        p.set("a", "1").incr("a").rpush("l", "x", "y").hset("h", "f", "v").sadd("s", "m")
        p.zadd("z", {"m": 1}).get("a").lrange("l", 0, -1).hgetall("h").smembers("s")
        p.zrange("z", 0, -1, withscores=True)
        assert p.execute() == [
            True, 2, 2, 1, 1, 1, "2", ["x", "y"], {"f": "v"}, {"m"},
            [("m", 1.0)] if protocol == 2 else [["m", 1.0]],
        ]


def test_empty_transaction(r):
    with r.pipeline(transaction=True) as p:
        assert p.execute() == []


def test_runtime_error_inside_exec_does_not_roll_back(r):
    with r.pipeline(transaction=True) as p:
        p.set("a", "b").lpush("a", "x").incr("a").set("c", "d")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            p.execute()
    assert r.get("a") == "b" and r.get("c") == "d"
    with r.pipeline(transaction=True) as p:
        p.set("a", "b").lpush("a", "x").incr("a").set("c", "e")
        res = p.execute(raise_on_error=False)
    assert res[0] is True and res[3] is True
    assert isinstance(res[1], redis.ResponseError) and "WRONGTYPE" in str(res[1])
    assert isinstance(res[2], redis.ResponseError) and "not an integer" in str(res[2])
    assert r.get("c") == "e"


def test_queueing_error_aborts_whole_transaction(r):
    with r.pipeline(transaction=True) as p:
        p.set("a", "1").execute_command("SET", "b").set("c", "3")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            p.execute()
    assert r.exists("a", "b", "c") == 0
    with r.pipeline(transaction=True) as p:
        p.set("a", "1").execute_command("NOSUCHCOMMAND", "x")
        with pytest.raises(redis.ResponseError, match="unknown command"):
            p.execute()
    assert r.exists("a") == 0


def test_watch_conflict_raises_watch_error(r, make_client):
    other = make_client()
    r.set("balance", "10")
    with r.pipeline() as p:
        p.watch("balance")
        current = int(p.get("balance"))
        other.set("balance", "0")  # a second client changes the watched key
        p.multi()
        p.set("balance", current + 5)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("balance") == "0"


def test_watch_without_conflict_commits(r):
    r.set("balance", "10")
    with r.pipeline() as p:
        p.watch("balance", "missing")
        current = int(p.get("balance"))
        p.multi()
        p.set("balance", current + 5)
        assert p.execute() == [True]
    assert r.get("balance") == "15"


def test_transaction_helper_retries_until_it_wins(r, make_client):
    other = make_client()
    r.set("counter", "0")
    attempts = []

    def bump(p):
        value = int(p.get("counter"))
        attempts.append(value)
        if len(attempts) == 1:
            other.incr("counter")  # spoil the first attempt
        p.multi()
        p.set("counter", value + 1)

    assert r.transaction(bump, "counter") == [True]
    assert attempts == [0, 1]
    assert r.get("counter") == "2"


def test_watch_sees_changes_by_the_same_client_and_other_families(r, single):
    for setup, change in [
        (lambda: r.rpush("k", "a"), lambda: single("RPUSH", "k", "b")),
        (lambda: r.hset("k", "f", "v"), lambda: single("HDEL", "k", "f")),
        (lambda: r.sadd("k", "m"), lambda: single("SPOP", "k")),
        (lambda: r.zadd("k", {"m": 1}), lambda: single("ZINCRBY", "k", 1, "m")),
        (lambda: r.set("k", "v"), lambda: single("EXPIRE", "k", 100)),
        (lambda: None, lambda: single("SET", "k", "created")),
    ]:
        r.delete("k")
        setup()
        assert single("WATCH", "k") == "OK"
        change()
        assert single("MULTI") == "OK"
        assert single("GET", "x") == "QUEUED"
        assert single("EXEC") is None


def test_watch_then_flush_or_expiry_aborts(r, make_client, single):
    other = make_client()
    r.set("k", "v")
    single("WATCH", "k")
    other.flushall()
    single("MULTI")
    single("SET", "k", "mine")
    assert single("EXEC") is None
    assert r.exists("k") == 0

    # A key that expires while watched aborts EXEC (one already expired when WATCHed does
    # not): retry until WATCH provably came first, which a loaded machine may delay.
    for _ in range(10):
        r.set("k", "v", px=50)
        single("WATCH", "k")
        if single("PTTL", "k") > 0:
            break
        single("UNWATCH")
    else:
        pytest.fail("could not WATCH the key before it expired")
    wait_for("the key to expire", lambda: other.exists("k") == 0)
    single("MULTI")
    single("SET", "k", "mine")
    assert single("EXEC") is None


def test_unwatch_and_exec_forget_watched_keys(r, make_client, single):
    other = make_client()
    r.set("k", "v")
    single("WATCH", "k")
    assert single("UNWATCH") == "OK"
    other.set("k", "changed")
    single("MULTI")
    single("SET", "k", "mine")
    assert single("EXEC") == ["OK"]
    # EXEC unwatched: a later change does not abort the next transaction.
    single("WATCH", "k")
    single("MULTI")
    single("EXEC")
    other.set("k", "again")
    single("MULTI")
    single("SET", "k", "last")
    assert single("EXEC") == ["OK"]
    assert r.get("k") == "last"


def test_discard_and_error_words(r, single):
    assert single("MULTI") == "OK"
    assert single("SET", "a", "1") == "QUEUED"
    assert single("DISCARD") == "OK"
    assert r.exists("a") == 0
    with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
        single("EXEC")
    with pytest.raises(redis.ResponseError, match="DISCARD without MULTI"):
        single("DISCARD")
    single("MULTI")
    with pytest.raises(redis.ResponseError, match="MULTI calls can not be nested"):
        single("MULTI")
    with pytest.raises(redis.ResponseError, match="WATCH inside MULTI is not allowed"):
        single("WATCH", "a")
    single("SET", "a", "1")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        single("GET")
    # EXECABORT is the error prefix: redis-py maps it to ExecAbortError.
    with pytest.raises(redis.exceptions.ExecAbortError, match="Transaction discarded because of previous errors"):
        single("EXEC")
    assert r.exists("a") == 0
    # Still usable after the abort.
    assert single("PING") == "PONG"


def test_exec_is_atomic_for_other_clients(r, make_client):
    # Many increments in one transaction while another client reads: the reader sees either
    # none or all of them, never a partial state.
    r.set("a", "0")
    r.set("b", "0")
    reader = make_client()
    with r.pipeline(transaction=True) as p:
        for _ in range(200):
            p.incr("a").incr("b")
        p.execute()
    a, b = reader.mget("a", "b")
    assert a == b == "200"
