"""ACL users through redis-py (`username=`/`password=`), RESP2 and RESP3: users, rules,
NOPERM refusals, the ACL log, DRYRUN, requirepass as the default user's password, and a
deleted user's connection closed. Every assertion holds against Redis 7.0 too.

The suite shares one server, so each test leaves the users as it found them: the `acl`
fixture works through an administrator user of its own and, whatever happens, deletes the
users the test made, restores the default user and clears requirepass and the log.
"""

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

ADMIN = ("acl-test-admin", "adminpw")


@pytest.fixture
def acl(r, make_client):
    """An administrator client (its own user, unaffected by what the test does to
    `default`); cleans up after the test."""
    r.acl_setuser(ADMIN[0], enabled=True, passwords=["+" + ADMIN[1]], keys=["*"],
                  channels=["*"], commands=["+@all"], reset=True)
    admin = make_client(username=ADMIN[0], password=ADMIN[1])
    yield admin
    admin.config_set("requirepass", "")
    admin.execute_command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
    for u in admin.acl_users():
        if u not in ("default", ADMIN[0]):
            admin.acl_deluser(u)
    admin.acl_log_reset()
    admin.acl_deluser(ADMIN[0])


def user_client(make_client, name, password, **kw):
    return make_client(username=name, password=password, **kw)


# Clients expected to fail: no reconnect-and-retry rounds.
NO_RETRY = {"retry": Retry(NoBackoff(), 0)}


def test_user_with_key_pattern(acl, make_client):
    acl.acl_setuser("app", enabled=True, passwords=["+apppw"], keys=["app:*"],
                    commands=["+@read", "+@write", "-@dangerous"], reset=True)
    c = user_client(make_client, "app", "apppw")
    assert c.set("app:1", "v") is True
    assert c.get("app:1") == "v"
    with pytest.raises(redis.exceptions.NoPermissionError) as e:
        c.get("other")
    assert "no permissions to access one of the keys" in str(e.value)
    with pytest.raises(redis.exceptions.NoPermissionError) as e:
        c.flushall()
    assert "'flushall' command" in str(e.value)
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.mget("app:1", "other")
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.execute_command("ACL", "WHOAMI")
    # The administrator sees who is connected as whom.
    assert any(cl["user"] == "app" for cl in acl.client_list())


def test_read_and_write_patterns(acl, make_client):
    acl.acl_setuser("rw", enabled=True, passwords=["+pw"],
                    keys=["%R~r:*", "%W~w:*", "%RW~both:*"], commands=["+get", "+set"],
                    reset=True)
    acl.set("r:1", "x")
    c = user_client(make_client, "rw", "pw")
    assert c.get("r:1") == "x"
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.set("r:1", "y")
    assert c.set("w:1", "y") is True
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.get("w:1")
    assert c.set("both:1", "z") is True and c.get("both:1") == "z"


def test_access_per_key(acl, make_client):
    """Redis 7's key specs: a command needs read access to the keys it reads and write
    access to those it changes, key by key."""
    acl.acl_setuser("pk", enabled=True, passwords=["+pw"], keys=["%R~r:*", "%W~w:*"],
                    commands=["+@all"], reset=True)
    acl.set("r:n", "1")
    acl.set("w:n", "1")
    acl.rpush("r:l", "a", "b")
    acl.rpush("w:l", "c")
    acl.sadd("r:s", "x", "y")
    c = user_client(make_client, "pk", "pw")
    # Read and written: INCR, GETSET, GETDEL, LPOP, SET … GET need both.
    for call in (("INCR", "w:n"), ("GETSET", "w:n", "2"), ("GETDEL", "w:n"),
                 ("LPOP", "w:l"), ("SET", "w:n", "3", "GET"), ("INCR", "r:n")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.execute_command(*call)
    # Only overwritten: SET (without GET) and APPEND need write access alone.
    assert c.set("w:n", "4") is True
    assert c.append("w:n", "5") == 2
    # A source read, a destination written.
    assert c.copy("r:n", "w:c") is True
    assert c.sunionstore("w:u", "r:s") == 2
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.copy("w:n", "r:c")
    # LMOVE's source is written too (an element leaves it): read-only is not enough.
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.lmove("r:l", "w:l", "LEFT", "RIGHT")
    assert c.sort("r:l", alpha=True, store="w:s") == 2
    # EVAL may do anything to its keys: it needs both; EVAL_RO reads.
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.eval("return 1", 1, "r:n")
    assert c.execute_command("EVAL_RO", "return redis.call('get', KEYS[1])", 1, "r:n") == "1"
    assert acl.execute_command("ACL", "DRYRUN", "pk", "INCR", "w:n") == \
        "This user has no permissions to access the 'w:n' key"


def test_wrong_password_and_disabled_user(acl, make_client):
    acl.acl_setuser("u1", enabled=True, passwords=["+pw"], commands=["+@all"], keys=["*"],
                    reset=True)
    with pytest.raises(redis.exceptions.AuthenticationError):
        user_client(make_client, "u1", "bad", **NO_RETRY).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        user_client(make_client, "nobody", "pw", **NO_RETRY).ping()
    acl.acl_setuser("u1", enabled=False)
    with pytest.raises(redis.exceptions.AuthenticationError):
        user_client(make_client, "u1", "pw", **NO_RETRY).ping()
    log = acl.acl_log()
    assert log[0]["reason"] == "auth" and log[0]["username"] == "u1"
    assert log[0]["object"].lower() in ("auth", "hello")


def test_getuser_shape(acl):
    acl.acl_setuser("shape", enabled=True, passwords=["+p1"], keys=["key:*"],
                    channels=["news.*"], commands=["+@read", "-keys", "+client|setname"],
                    reset=True)
    u = acl.acl_getuser("shape")
    assert u["enabled"] is True
    assert "on" in u["flags"]
    assert u["passwords"] == ["f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"]
    assert u["keys"] == ["~key:*"]
    assert u["channels"] == ["&news.*"]
    assert u["categories"][:2] == ["-@all", "+@read"]
    assert "-keys" in u["commands"] and "+client|setname" in u["commands"]
    assert u["selectors"] == []
    assert acl.acl_getuser("nobody") is None
    line = [x for x in acl.acl_list() if x.startswith("user shape ")][0]
    assert line.startswith(
        "user shape on sanitize-payload #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a "
        "~key:* resetchannels &news.* -@all +@read ")
    assert "shape" in acl.acl_users()


def test_setuser_errors(acl):
    with pytest.raises(redis.exceptions.ResponseError) as e:
        acl.execute_command("ACL", "SETUSER", "bad", "+nosuch")
    assert str(e.value) == ("Error in ACL SETUSER modifier '+nosuch': "
                            "Unknown command or category name in ACL")
    with pytest.raises(redis.exceptions.ResponseError) as e:
        acl.execute_command("ACL", "SETUSER", "bad", "allkeys", "~x")
    assert "Adding a pattern after the * pattern" in str(e.value)
    with pytest.raises(redis.exceptions.ResponseError) as e:
        acl.execute_command("ACL", "SETUSER", "bad", "nonsense")
    assert str(e.value) == "Error in ACL SETUSER modifier 'nonsense': Syntax error"
    # Nothing was created by the failed commands.
    assert acl.acl_getuser("bad") is None
    with pytest.raises(redis.exceptions.ResponseError) as e:
        acl.acl_deluser("default")
    assert str(e.value) == "The 'default' user cannot be removed"


def test_cat_genpass_dryrun(acl):
    cats = acl.acl_cat()
    assert len(cats) == 21 and cats[0] == "keyspace" and "sortedset" in cats
    read = acl.acl_cat("read")
    assert "get" in read and "zscore" in read and "set" not in read
    assert len(acl.acl_genpass()) == 64
    assert len(acl.acl_genpass(5)) == 2
    acl.acl_setuser("dry", keys=["k*"], commands=["+get"], reset=True)
    assert acl.acl_dryrun("dry", "get", "k1") == "OK"
    assert acl.acl_dryrun("dry", "get", "x") == "This user has no permissions to access the 'x' key"
    assert acl.acl_dryrun("dry", "set", "k1", "v") == \
        "This user has no permissions to run the 'set' command"
    with pytest.raises(redis.exceptions.ResponseError):
        acl.acl_dryrun("nobody", "get", "x")


def test_log_entries(acl, make_client):
    acl.acl_log_reset()
    acl.acl_setuser("logged", enabled=True, passwords=["+pw"], keys=["k*"], commands=["+get"],
                    reset=True)
    c = user_client(make_client, "logged", "pw")
    for _ in range(3):
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.set("k1", "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.get("other")
    # (redis-py's CLIENT SETINFO at connect is refused too where the server has it: 7.2+.)
    log = [e for e in acl.acl_log() if not e["object"].startswith("client")]
    assert len(log) == 2
    assert log[0]["reason"] == "key" and log[0]["object"] == "other" and log[0]["count"] == 1
    assert log[1]["reason"] == "command" and log[1]["object"] == "set" and log[1]["count"] == 3
    for e in log:
        assert e["username"] == "logged" and e["context"] == "toplevel"
        assert e["age-seconds"] >= 0
        info = e["client-info"]
        user = info["user"] if isinstance(info, dict) else info.split(" user=")[1].split()[0]
        assert user == "logged"
    assert len(acl.acl_log(count=1)) == 1
    assert acl.acl_log_reset() is True and acl.acl_log() == []


def test_transaction_refused_when_queued(acl, make_client):
    acl.acl_setuser("tx", enabled=True, passwords=["+pw"], keys=["*"],
                    commands=["+@all", "-flushall"], reset=True)
    c = user_client(make_client, "tx", "pw")
    p = c.pipeline(transaction=True)
    p.set("a", "1")
    p.flushall()
    with pytest.raises((redis.exceptions.ExecAbortError, redis.exceptions.NoPermissionError,
                        redis.exceptions.ResponseError)):
        p.execute()
    assert c.get("a") is None


def test_script_checked_as_its_caller(acl, make_client):
    acl.acl_setuser("sc", enabled=True, passwords=["+pw"], keys=["k*"],
                    commands=["+@all", "-lpush"], reset=True)
    c = user_client(make_client, "sc", "pw")
    with pytest.raises(redis.exceptions.ResponseError) as e:
        c.eval("return redis.call('lpush', 'k1', 'x')", 0)
    assert "The user executing the script can't run this command or subcommand" in str(e.value)
    assert c.eval("return redis.call('set', KEYS[1], 'v')", 1, "k1") == "OK"
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.eval("return 1", 1, "other")
    assert any(e["context"] == "lua" for e in acl.acl_log())


def test_channels(acl, make_client):
    acl.acl_setuser("ps", enabled=True, passwords=["+pw"], commands=["+@all"],
                    channels=["news.*"], reset=True)
    c = user_client(make_client, "ps", "pw")
    assert c.publish("news.a", "x") == 0
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.publish("other", "x")
    p = c.pubsub()
    with pytest.raises(redis.exceptions.NoPermissionError):
        p.subscribe("other")
        p.get_message(timeout=1)
    p.close()


def test_requirepass_is_the_default_users_password(acl, make_client):
    acl.config_set("requirepass", "sekret")
    u = acl.acl_getuser("default")
    assert "nopass" not in u["flags"]
    assert u["passwords"] == ["bb757689c39373a6cac9ef6ba55616c6249d7500ca4d443f1130c4766453a412"]
    with pytest.raises(redis.exceptions.AuthenticationError):
        make_client(**NO_RETRY).ping()
    assert make_client(password="sekret").ping() is True
    assert make_client(username="default", password="sekret").ping() is True
    assert acl.config_get("requirepass") == {"requirepass": "sekret"}
    acl.config_set("requirepass", "")
    assert "nopass" in acl.acl_getuser("default")["flags"]
    assert make_client().ping() is True


def test_restricted_default_user(acl, make_client):
    acl.acl_setuser("default", enabled=True, nopass=True, commands=["-@all", "+ping", "+get"])
    c = make_client()
    assert c.ping() is True
    assert c.get("x") is None
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.set("x", "1")


def test_deleted_users_connection_is_closed(acl, make_client):
    acl.acl_setuser("gone", enabled=True, passwords=["+pw"], commands=["+@all"], keys=["*"],
                    reset=True)
    c = user_client(make_client, "gone", "pw", **NO_RETRY)
    assert c.ping() is True
    assert acl.acl_deluser("gone") == 1
    # The server closed the connection: redis-py reconnects and its AUTH now fails.
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.AuthenticationError)):
        c.ping()
