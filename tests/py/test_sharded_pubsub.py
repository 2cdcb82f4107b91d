"""Sharded pub/sub (Redis 7.0) through redis-py: PubSub.ssubscribe / r.spublish in RESP2 and
RESP3, PUBSUB SHARDCHANNELS / SHARDNUMSUB, and the separation from ordinary channels."""

from helpers import wait_for


def msg(ps, timeout=5):
    """The next message; fails instead of returning None when none comes in `timeout`."""
    m = ps.get_message(timeout=timeout)
    assert m is not None, "no message arrived"
    return m


def no_more(ps):
    assert ps.get_message(timeout=0.01) is None


def m(kind, channel, data):
    return {"type": kind, "pattern": None, "channel": channel, "data": data}


def test_ssubscribe_spublish_receive(r):
    with r.pubsub() as ps:
        ps.ssubscribe("{s}1", "{s}2")
        assert msg(ps) == m("ssubscribe", "{s}1", 1)
        assert msg(ps) == m("ssubscribe", "{s}2", 2)
        assert r.spublish("{s}1", "hello") == 1
        assert r.spublish("{s}2", "world") == 1
        assert r.spublish("nobody", "x") == 0
        assert msg(ps) == m("smessage", "{s}1", "hello")
        assert msg(ps) == m("smessage", "{s}2", "world")
        no_more(ps)
        ps.sunsubscribe("{s}1")
        assert msg(ps) == m("sunsubscribe", "{s}1", 1)
        assert r.spublish("{s}1", "lost") == 0
        ps.sunsubscribe()
        assert msg(ps) == m("sunsubscribe", "{s}2", 0)
        no_more(ps)


def test_shard_channels_are_a_namespace_of_their_own(r):
    with r.pubsub() as shard, r.pubsub() as plain:
        shard.ssubscribe("ch")
        assert msg(shard) == m("ssubscribe", "ch", 1)
        plain.subscribe("ch")
        assert msg(plain) == m("subscribe", "ch", 1)
        plain.psubscribe("c*")
        assert msg(plain)["type"] == "psubscribe"
        # PUBLISH reaches the channel and the pattern, SPUBLISH the shard subscriber only.
        assert r.publish("ch", "p") == 2
        assert r.spublish("ch", "s") == 1
        assert msg(shard) == m("smessage", "ch", "s")
        no_more(shard)
        assert msg(plain) == m("message", "ch", "p")
        assert msg(plain)["type"] == "pmessage"
        no_more(plain)


def test_pubsub_shardchannels_and_shardnumsub(r):
    with r.pubsub() as a, r.pubsub() as b:
        a.ssubscribe("news.tech", "news.art")
        b.ssubscribe("news.tech")
        for ps, n in ((a, 2), (b, 1)):
            for _ in range(n):
                assert msg(ps)["type"] == "ssubscribe"
        assert sorted(r.pubsub_shardchannels()) == ["news.art", "news.tech"]
        assert r.pubsub_shardchannels("*tech") == ["news.tech"]
        assert r.pubsub_shardnumsub("news.tech", "news.art", "none") == [
            ("news.tech", 2),
            ("news.art", 1),
            ("none", 0),
        ]
        # Ordinary channels see none of it.
        assert r.pubsub_channels() == []
        assert r.pubsub_numsub("news.tech") == [("news.tech", 0)]
    # Closing the subscribers drops their shard channels.
    wait_for("shard channels gone", lambda: r.pubsub_shardchannels() == [])


def test_client_list_counts_shard_subscriptions(r):
    with r.pubsub() as ps:
        ps.ssubscribe("x", "y")
        msg(ps)
        msg(ps)
        me = [c for c in r.client_list() if int(c["ssub"]) == 2]
        assert len(me) == 1
        assert me[0]["sub"] == "0" and me[0]["psub"] == "0" and "P" in me[0]["flags"]
        assert r.info("stats")["pubsubshard_channels"] == 2
