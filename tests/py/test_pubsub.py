"""Pub/sub through redis-py's PubSub object (RESP2 and RESP3 push frames), PUBSUB introspection."""

import pytest
import redis
from helpers import wait_for


def msg(ps, timeout=5):
    """The next message; fails instead of returning None when none comes in `timeout`."""
    m = ps.get_message(timeout=timeout)
    assert m is not None, "no message arrived"
    return m


def no_more(ps):
    assert ps.get_message(timeout=0.01) is None


def m(kind, channel, data, pattern=None):
    return {"type": kind, "pattern": pattern, "channel": channel, "data": data}


def test_subscribe_publish_receive(r):
    with r.pubsub() as ps:
        ps.subscribe("ch1", "ch2")
        assert msg(ps) == m("subscribe", "ch1", 1)
        assert msg(ps) == m("subscribe", "ch2", 2)
        assert r.publish("ch1", "hello") == 1
        assert r.publish("ch2", "world") == 1
        assert r.publish("nobody", "x") == 0
        assert msg(ps) == m("message", "ch1", "hello")
        assert msg(ps) == m("message", "ch2", "world")
        no_more(ps)
        ps.unsubscribe("ch1")
        assert msg(ps) == m("unsubscribe", "ch1", 1)
        assert r.publish("ch1", "lost") == 0
        ps.unsubscribe()
        assert msg(ps) == m("unsubscribe", "ch2", 0)
        no_more(ps)


def test_psubscribe_patterns(r):
    with r.pubsub() as ps:
        ps.psubscribe("news.*", "h?llo", "[ab]c")
        assert [msg(ps)["data"] for _ in range(3)] == [1, 2, 3]
        assert r.publish("news.tech", "n1") == 1
        assert r.publish("hallo", "n2") == 1
        assert r.publish("bc", "n3") == 1
        assert r.publish("cc", "none") == 0
        assert r.publish("news", "none") == 0
        assert msg(ps) == m("pmessage", "news.tech", "n1", "news.*")
        assert msg(ps) == m("pmessage", "hallo", "n2", "h?llo")
        assert msg(ps) == m("pmessage", "bc", "n3", "[ab]c")
        no_more(ps)
        ps.punsubscribe("h?llo")
        assert msg(ps) == m("punsubscribe", "h?llo", 2)
        ps.punsubscribe()
        assert sorted(msg(ps)["channel"] for _ in range(2)) == ["[ab]c", "news.*"]


def test_publish_counts_every_receiver(r, make_client):
    other = make_client()
    with r.pubsub() as a, other.pubsub() as b:
        a.subscribe("ch")
        a.psubscribe("c*")
        b.subscribe("ch")
        for ps, n in ((a, 2), (b, 1)):
            for _ in range(n):
                msg(ps)
        # One channel subscription each, plus a's matching pattern.
        assert r.publish("ch", "x") == 3
        assert msg(a) == m("message", "ch", "x")
        assert msg(a) == m("pmessage", "ch", "x", "c*")
        assert msg(b) == m("message", "ch", "x")


def test_pubsub_introspection(r, make_client):
    assert r.pubsub_channels() == []
    assert r.pubsub_numpat() == 0
    assert r.pubsub_numsub("a") == [("a", 0)]
    with r.pubsub() as p1, make_client().pubsub() as p2:
        p1.subscribe("a", "b")
        p2.subscribe("a", "other")
        p2.psubscribe("x*", "y*")
        for ps, n in ((p1, 2), (p2, 4)):
            for _ in range(n):
                msg(ps)
        assert sorted(r.pubsub_channels()) == ["a", "b", "other"]
        assert sorted(r.pubsub_channels("[ab]")) == ["a", "b"]
        assert r.pubsub_numsub("a", "b", "nope") == [("a", 2), ("b", 1), ("nope", 0)]
        assert r.pubsub_numpat() == 2
    # Closed subscribers are forgotten.
    wait_for("the subscribers to go", lambda: r.pubsub_channels() == [] and r.pubsub_numpat() == 0)


def test_many_messages_arrive_in_order(r):
    with r.pubsub() as ps:
        ps.subscribe("ch")
        assert msg(ps)["type"] == "subscribe"
        with r.pipeline(transaction=False) as p:
            for i in range(500):
                p.publish("ch", f"m{i}")
            assert p.execute() == [1] * 500
        got = [msg(ps)["data"] for _ in range(500)]
        assert got == [f"m{i}" for i in range(500)]


def test_binary_payloads(rb):
    with rb.pubsub() as ps:
        ps.subscribe(b"bin\x00ch")
        msg(ps)
        assert rb.publish(b"bin\x00ch", b"\x00\xff\r\n") == 1
        assert msg(ps)["data"] == b"\x00\xff\r\n"


def test_resp2_subscribed_mode_allows_only_pubsub_commands(r, protocol):
    if protocol != 2:
        pytest.skip("RESP2 only: RESP3 clients may run any command while subscribed")
    with r.pubsub() as ps:
        ps.subscribe("ch")
        msg(ps)
        ps.ping()
        assert msg(ps) == m("pong", None, "")
        ps.ping("hi")
        assert msg(ps) == m("pong", None, "hi")
        with pytest.raises(redis.ResponseError, match=r"Can't execute 'get': only \(P\|S\)SUBSCRIBE / \(P\|S\)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"):
            ps.execute_command("GET", "x")
            msg(ps)


def test_resp3_commands_while_subscribed(make_client, r, protocol):
    if protocol != 3:
        pytest.skip("RESP3 only")
    c = make_client(single_connection_client=True).connection
    c.send_command("SUBSCRIBE", "ch")
    assert c.read_response(push_request=True) == ["subscribe", "ch", 1]
    r.set("k", "v")
    c.send_command("GET", "k")
    assert c.read_response() == "v"
    c.send_command("PING")
    assert c.read_response() == "PONG"
    assert r.publish("ch", "pushed") == 1
    assert c.read_response(push_request=True) == ["message", "ch", "pushed"]
    c.send_command("UNSUBSCRIBE")
    assert c.read_response(push_request=True) == ["unsubscribe", "ch", 0]
