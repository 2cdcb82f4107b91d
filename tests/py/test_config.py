"""CONFIG GET/SET through redis-py: Redis 7.0's settings, their old names, their checks.

Every assertion holds against Redis 7.0.15 too (RCACHE_PY_TARGET=host:port). Each test puts
back what it changes: the server is shared by the whole session.
"""

from pathlib import Path

import pytest
import redis

# Every name Redis 7.0.15 answers in `CONFIG GET *`, with its default: the data file the
# settings table's Rust tests read (its header says how it was taken).
REDIS70 = Path(__file__).resolve().parents[2] / "crates/commands/src/config/redis-7.0.15.tsv"

# Redis 7.0's old names, each with the setting it stands for (checked on Redis 7.0.15:
# setting one changes the other).
ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "lua-time-limit": "busy-reply-threshold",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "slave-read-only": "replica-read-only",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "slave-lazy-flush": "replica-lazy-flush",
    "slave-priority": "replica-priority",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "min-slaves-to-write": "min-replicas-to-write",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "cluster-slave-validity-factor": "cluster-replica-validity-factor",
    "cluster-slave-no-failover": "cluster-replica-no-failover",
}


def redis70_names():
    lines = REDIS70.read_text().splitlines()
    return [line.split("\t")[0] for line in lines if line and not line.startswith("#")]


def other_value(value):
    if value in ("yes", "no"):
        return "no" if value == "yes" else "yes"
    if value.lstrip("-").isdigit():
        return str(int(value) + 1)
    return "10.0.0.9"


def test_every_redis70_setting_is_answered_by_name(r):
    names = redis70_names()
    assert len(names) == 192
    for name in names:
        got = r.config_get(name)
        assert list(got) == [name], name


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_save_and_restore_by_old_name(r, old):
    """What tools do: read a setting by the name they know, change it, put it back."""
    new = ALIASES[old]
    saved = r.config_get(old)
    assert list(saved) == [old]
    saved = saved[old]
    assert r.config_get(new) == {new: saved}
    changed = other_value(saved)
    try:
        try:
            assert r.config_set(old, changed)
        except redis.ResponseError as e:
            # rcache refuses what it cannot do (min-slaves-to-write > 0 without replication)
            # in so many words; Redis accepts it. Restoring still works, below.
            assert "not supported by rcache" in str(e), e
        else:
            assert r.config_get(new) == {new: changed}
            assert r.config_get(old) == {old: changed}
    finally:
        assert r.config_set(old, saved)
    assert r.config_get(new) == {new: saved}


def test_a_glob_answers_old_and_new_names(r):
    got = r.config_get("*max-*-entries*")
    for name in ["hash-max-listpack-entries", "hash-max-ziplist-entries",
                 "zset-max-listpack-entries", "zset-max-ziplist-entries",
                 "set-max-intset-entries"]:
        assert name in got, got
    assert got["hash-max-ziplist-entries"] == got["hash-max-listpack-entries"]
    assert got["zset-max-ziplist-entries"] == got["zset-max-listpack-entries"]
    # Only names matching the pattern, each with its own value.
    assert all("max-" in n and "-entries" in n for n in got)
    for name, value in got.items():
        assert r.config_get(name) == {name: value}
    everything = r.config_get("*")
    for old, new in ALIASES.items():
        assert old in everything and new in everything, old


def test_an_alias_by_name_keeps_the_spelling_asked(r):
    assert r.execute_command("CONFIG", "GET", "HASH-MAX-ZIPLIST-VALUE") in (
        ["HASH-MAX-ZIPLIST-VALUE", r.config_get("hash-max-listpack-value")["hash-max-listpack-value"]],
        {"HASH-MAX-ZIPLIST-VALUE": r.config_get("hash-max-listpack-value")["hash-max-listpack-value"]},
    )


def test_list_compress_depth(r):
    assert r.config_get("list-compress-depth") == {"list-compress-depth": "0"}
    try:
        assert r.config_set("list-compress-depth", 1)
        assert r.config_get("list-compress-depth") == {"list-compress-depth": "1"}
        with pytest.raises(redis.ResponseError, match="argument must be between 0 and 2147483647 inclusive"):
            r.config_set("list-compress-depth", -1)
        r.rpush("l", *range(100))
        assert r.lrange("l", 0, -1) == [str(i) for i in range(100)]
    finally:
        r.config_set("list-compress-depth", 0)


def test_notify_keyspace_events_is_normalised(r):
    saved = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    try:
        assert r.config_set("notify-keyspace-events", "KEA")
        assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
        assert r.config_set("notify-keyspace-events", "Kx")
        assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "xK"}
        with pytest.raises(redis.ResponseError, match=r"Invalid event class character\. Use 'Ag\$lshzxeKEtmdn'\."):
            r.config_set("notify-keyspace-events", "b")
        assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "xK"}
    finally:
        r.config_set("notify-keyspace-events", saved)


def test_values_are_checked_as_redis_checks_them(r):
    cases = [
        ("slave-read-only", "maybe", "argument must be 'yes' or 'no'"),
        ("appendfsync", "sometimes", r"argument\(s\) must be one of the following: everysec, always, no"),
        ("timeout", "-1", "argument must be between 0 and 2147483647 inclusive"),
        ("timeout", "1k", "argument couldn't be parsed into an integer"),
        ("hash-max-ziplist-value", "abc", "argument must be a memory value"),
        ("save", "3600", "Invalid save parameters"),
        ("shutdown-on-sigint", "save nosave", "shutdown options SAVE and NOSAVE can't be used simultaneously"),
    ]
    for name, value, why in cases:
        with pytest.raises(redis.ResponseError, match=f"argument '{name}'\\) - {why}"):
            r.config_set(name, value)
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("io-threads", 4)
    with pytest.raises(redis.ResponseError, match="Unknown option or number of arguments for CONFIG SET - 'no-such-setting'"):
        r.config_set("no-such-setting", 1)
