"""Lists through redis-py: LPUSH … LMPOP and the blocking commands (BLPOP … BLMPOP).

Blocking tests run the blocked call on a second client in a thread, wait (bounded poll of
INFO blocked_clients) until the server has parked it, then act from the main client.
"""

import pytest
import redis
from helpers import Background, wait_blocked
from redis.backoff import NoBackoff
from redis.retry import Retry


def pair(protocol, key, value):
    """BLPOP/BRPOP's reply as redis-py returns it: a tuple over RESP2, a list over RESP3."""
    return (key, value) if protocol == 2 else [key, value]


def test_push_pop_len_range(r):
    assert r.lpush("l", "b", "a") == 2
    assert r.rpush("l", "c", "d") == 4
    assert r.lrange("l", 0, -1) == ["a", "b", "c", "d"]
    assert r.lrange("l", -2, 100) == ["c", "d"]
    assert r.lrange("l", 3, 1) == []
    assert r.lrange("nokey", 0, -1) == []
    assert r.llen("l") == 4
    assert r.llen("nokey") == 0
    assert r.lpushx("nokey", "a") == 0
    assert r.rpushx("nokey", "a") == 0
    assert r.exists("nokey") == 0
    assert r.lpushx("l", "z") == 5
    assert r.rpushx("l", "y") == 6
    assert r.lpop("l") == "z"
    assert r.rpop("l") == "y"
    assert r.lpop("l", 2) == ["a", "b"]
    assert r.rpop("l", 5) == ["d", "c"]
    assert r.exists("l") == 0
    assert r.lpop("l") is None
    assert r.rpop("l") is None
    # The count form answers a null array for a missing key: redis-py gives None too.
    assert r.lpop("l", 2) is None
    assert r.type("l") == "none"
    r.rpush("l", "x")
    assert r.type("l") == "list"
    assert r.lpop("l", 0) == []


def test_lindex_lset_linsert(r):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 0) == "a"
    assert r.lindex("l", -1) == "c"
    assert r.lindex("l", 3) is None
    assert r.lindex("nokey", 0) is None
    assert r.lset("l", 1, "B") is True
    assert r.lset("l", -1, "C") is True
    assert r.lrange("l", 0, -1) == ["a", "B", "C"]
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset("l", 3, "x")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.lset("nokey", 0, "x")
    assert r.linsert("l", "BEFORE", "B", "x") == 4
    assert r.linsert("l", "AFTER", "C", "y") == 5
    assert r.linsert("l", "AFTER", "nope", "z") == -1
    assert r.linsert("nokey", "AFTER", "a", "z") == 0
    assert r.lrange("l", 0, -1) == ["a", "x", "B", "C", "y"]


def test_lrem_ltrim(r):
    r.rpush("l", "a", "b", "a", "c", "a", "b")
    assert r.lrem("l", 2, "a") == 2
    assert r.lrange("l", 0, -1) == ["b", "c", "a", "b"]
    assert r.lrem("l", -1, "b") == 1
    assert r.lrange("l", 0, -1) == ["b", "c", "a"]
    assert r.lrem("l", 0, "zzz") == 0
    assert r.lrem("nokey", 0, "a") == 0
    r.rpush("l", "d", "e")
    assert r.ltrim("l", 1, -2) is True
    assert r.lrange("l", 0, -1) == ["c", "a", "d"]
    assert r.ltrim("l", 5, 10) is True
    assert r.exists("l") == 0
    assert r.lrem("l", 0, "a") == 0


def test_lpos(r):
    r.rpush("l", "a", "b", "c", "b", "a", "b")
    assert r.lpos("l", "b") == 1
    assert r.lpos("l", "z") is None
    assert r.lpos("nokey", "a") is None
    assert r.lpos("l", "b", rank=2) == 3
    assert r.lpos("l", "b", rank=-1) == 5
    assert r.lpos("l", "b", count=0) == [1, 3, 5]
    assert r.lpos("l", "b", count=2) == [1, 3]
    assert r.lpos("l", "b", rank=-1, count=2) == [5, 3]
    assert r.lpos("l", "b", count=0, maxlen=4) == [1, 3]
    assert r.lpos("l", "z", count=3) == []
    with pytest.raises(redis.ResponseError, match="RANK can't be zero"):
        r.lpos("l", "a", rank=0)
    with pytest.raises(redis.ResponseError, match="COUNT can't be negative"):
        r.lpos("l", "a", count=-1)
    with pytest.raises(redis.ResponseError, match="MAXLEN can't be negative"):
        r.lpos("l", "a", maxlen=-1)


def test_rpoplpush_lmove_lmpop(r):
    r.rpush("src", "a", "b", "c")
    assert r.rpoplpush("src", "dst") == "c"
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == "a"
    assert r.lrange("dst", 0, -1) == ["c", "a"]
    assert r.lmove("src", "src", "LEFT", "RIGHT") == "b"
    assert r.lmove("src", "dst", "RIGHT", "LEFT") == "b"
    assert r.exists("src") == 0
    assert r.rpoplpush("src", "dst") is None
    assert r.lmove("nokey", "dst") is None
    # Rotation through the same key.
    assert r.rpoplpush("dst", "dst") == "a"
    assert r.lrange("dst", 0, -1) == ["a", "b", "c"]
    assert r.lmpop(2, "nokey", "dst", direction="LEFT") == ["dst", ["a"]]
    assert r.lmpop(1, "dst", direction="RIGHT", count=10) == ["dst", ["c", "b"]]
    assert r.lmpop(1, "dst", direction="LEFT") is None
    with pytest.raises(redis.ResponseError, match="numkeys should be greater than 0"):
        r.execute_command("LMPOP", 0, "dst", "LEFT")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("LMPOP", 1, "dst", "UP")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("LMOVE", "a", "b", "UP", "LEFT")


def test_encoding_and_large_list(r):
    r.rpush("big", *[f"element-{i:05}" for i in range(5000)])
    assert r.object("encoding", "big") == "quicklist"
    assert r.llen("big") == 5000
    assert r.lindex("big", 2500) == "element-02500"
    assert r.lrange("big", 4998, -1) == ["element-04998", "element-04999"]
    assert r.lrem("big", 0, "element-00007") == 1
    assert r.lindex("big", 7) == "element-00008"
    assert r.ltrim("big", 100, 199) is True
    assert r.llen("big") == 100


# ---------------------------------------------------------------------- blocking commands


def test_blpop_served_at_once_when_data_exists(r, protocol):
    r.rpush("b", "x")
    r.rpush("a", "1", "2")
    # Keys are tried in the order given.
    assert r.blpop(["nokey", "a", "b"], timeout=1) == pair(protocol, "a", "1")
    assert r.brpop(["b", "a"], timeout=1) == pair(protocol, "b", "x")
    assert r.brpoplpush("a", "c", timeout=1) == "2"
    assert r.blmove("c", "d", timeout=1, src="LEFT", dest="LEFT") == "2"
    assert r.blmpop(1, 2, "nokey", "d", direction="LEFT", count=3) == ["d", ["2"]]


def test_blpop_times_out_with_none(r):
    assert r.blpop("nokey", timeout=0.05) is None
    assert r.brpop(["n1", "n2"], timeout=0.05) is None
    assert r.brpoplpush("nokey", "dst", timeout=0.05) is None
    assert r.blmove("nokey", "dst", timeout=0.05) is None
    assert r.blmpop(0.05, 1, "nokey", direction="LEFT") is None
    assert r.exists("dst") == 0


def test_blpop_woken_by_push_from_another_client(r, make_client, protocol):
    waiter = Background(make_client().blpop, ["q"], timeout=10)
    wait_blocked(r, 1, waiter)
    assert r.rpush("q", "job") == 1
    assert waiter.join() == pair(protocol, "q", "job")
    assert r.exists("q") == 0
    wait_blocked(r, 0)


def test_blocked_clients_are_served_fifo(r, make_client, protocol):
    waiters = []
    for i in range(3):
        waiters.append(Background(make_client().blpop, ["q"], timeout=10))
        # Wait for each one to be parked so the blocking order is known.
        wait_blocked(r, i + 1, *waiters)
    for job in ["j1", "j2", "j3"]:
        r.rpush("q", job)
    assert [w.join() for w in waiters] == [
        pair(protocol, "q", "j1"),
        pair(protocol, "q", "j2"),
        pair(protocol, "q", "j3"),
    ]


def test_one_push_of_several_elements_serves_several_waiters(r, make_client, protocol):
    waiters = []
    for i in range(2):
        waiters.append(Background(make_client().brpop, ["q"], timeout=10))
        wait_blocked(r, i + 1, *waiters)
    # Three elements: each waiter takes one from the tail, one stays in the list.
    r.rpush("q", "a", "b", "c")
    assert [w.join() for w in waiters] == [pair(protocol, "q", "c"), pair(protocol, "q", "b")]
    assert r.lrange("q", 0, -1) == ["a"]


def test_blocking_on_several_keys(r, make_client, protocol):
    waiter = Background(make_client().blpop, ["k1", "k2", "k3"], timeout=10)
    wait_blocked(r, 1, waiter)
    r.lpush("k2", "v")
    assert waiter.join() == pair(protocol, "k2", "v")


def test_brpoplpush_blmove_blmpop_woken(r, make_client):
    w1 = Background(make_client().brpoplpush, "src", "dst", timeout=10)
    wait_blocked(r, 1, w1)
    r.rpush("src", "a", "b")
    assert w1.join() == "b"
    assert r.lrange("dst", 0, -1) == ["b"]

    w2 = Background(make_client().blmove, "empty", "dst", 10, "RIGHT", "LEFT")
    wait_blocked(r, 1, w2)
    r.rpush("empty", "c")
    assert w2.join() == "c"
    assert r.lrange("dst", 0, -1) == ["c", "b"]

    w3 = Background(make_client().blmpop, 10, 2, "x", "y", direction="RIGHT", count=2)
    wait_blocked(r, 1, w3)
    r.rpush("y", "1", "2", "3")
    assert w3.join() == ["y", ["3", "2"]]
    assert r.lrange("y", 0, -1) == ["1"]


def test_lmove_into_a_watched_for_key_wakes_its_waiter(r, make_client, protocol):
    waiter = Background(make_client().blpop, ["dst"], timeout=10)
    wait_blocked(r, 1, waiter)
    r.rpush("src", "moved")
    assert r.lmove("src", "dst") == "moved"
    assert waiter.join() == pair(protocol, "dst", "moved")
    assert r.exists("src", "dst") == 0


def test_push_inside_multi_wakes_after_exec(r, make_client, protocol):
    waiter = Background(make_client().blpop, ["q"], timeout=10)
    wait_blocked(r, 1, waiter)
    with r.pipeline(transaction=True) as p:
        p.rpush("q", "a").rpush("q", "b").llen("q")
        # Inside the transaction the waiter has not taken anything yet.
        assert p.execute() == [1, 2, 2]
    assert waiter.join() == pair(protocol, "q", "a")
    assert r.lrange("q", 0, -1) == ["b"]


def test_blocking_commands_inside_multi_do_not_block(r):
    with r.pipeline(transaction=True) as p:
        p.blpop("nokey", 0).brpop("nokey", 0).blmove("nokey", "d", 0).blmpop(0, 1, "nokey", direction="LEFT")
        assert p.execute() == [None, None, None, None]


def test_wrong_type_at_wake_up(r, make_client):
    waiter = Background(make_client().blpop, ["k"], timeout=10)
    wait_blocked(r, 1, waiter)
    # A string at the key does not wake the waiter (not a list)...
    r.set("k", "str")
    r.delete("k")
    r.rpush("k", "v")
    assert waiter.join()[1] == "v"


def test_disconnected_waiter_loses_nothing(r, make_client):
    # No retries: a retried BLPOP after the kill would pop the element this test checks.
    victim = make_client(retry=Retry(NoBackoff(), 0))
    victim_id = victim.client_id()
    waiter = Background(victim.blpop, ["q"], timeout=10)
    wait_blocked(r, 1, waiter)
    assert r.client_kill_filter(_id=victim_id) == 1
    with pytest.raises(redis.ConnectionError):
        waiter.join()
    wait_blocked(r, 0)
    r.rpush("q", "kept")
    assert r.lrange("q", 0, -1) == ["kept"]


def test_timeout_arguments(r):
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.blpop("k", timeout=-1)
    with pytest.raises(redis.ResponseError, match="timeout is not a float or out of range"):
        r.execute_command("BLPOP", "k", "abc")
    with pytest.raises(redis.ResponseError, match="timeout is not a float or out of range"):
        r.execute_command("BLMOVE", "a", "b", "LEFT", "LEFT", "nan")
    with pytest.raises(redis.ResponseError, match="numkeys should be greater than 0"):
        r.execute_command("BLMPOP", 1, 0, "k", "LEFT")
