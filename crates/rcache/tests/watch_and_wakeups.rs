//! Which writes count as a change, and which wake blocked clients, as Redis 7 decides:
//! every expectation below was first observed on Debian's Redis 7.0.15.
//!
//! * WATCH: a write that changes nothing (SADD of a member already there, SMOVE into a set
//!   that has the member, SETBIT to the bit's value, BITFIELD SET of the same value, ZADD of
//!   the same score…) touches no watcher, so an unrelated EXEC still runs; some writes
//!   count even when nothing changed (LTRIM of the whole list, EXPIRE to the same time).
//! * Wake-ups: MOVE, COPY … DB, SWAPDB and SORT … STORE make a key exist for a client
//!   blocked in BLPOP/BLMPOP/BZPOPMIN, which is then served.
//! * FLUSHALL fails the EXEC of a client watching several keys only if one of them existed;
//!   SHUTDOWN in MULTI is refused and aborts the transaction; a CONFIG SET that fails inside
//!   EXEC fails alone.

use redis::Value;
use std::time::Duration;
use testkit::{wait_for, RawConn, TestServer};

/// Run `setup` (one command per string, split on spaces), WATCH k, run `write` on a second
/// connection, then MULTI/PING/EXEC: whether EXEC was refused (the watched key changed).
fn watch_fired(srv: &TestServer, setup: &str, write: &str) -> bool {
    let mut c1 = srv.connection();
    let mut c2 = srv.connection();
    let () = redis::cmd("FLUSHALL").query(&mut c1).unwrap();
    for cmd in setup.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let _: Value = redis::Cmd::new()
            .arg(cmd.split(' ').collect::<Vec<_>>())
            .query(&mut c1)
            .unwrap_or_else(|e| panic!("{setup}: {cmd}: {e}"));
    }
    let () = redis::cmd("WATCH").arg("k").query(&mut c1).unwrap();
    let _: Value = redis::Cmd::new()
        .arg(write.split(' ').collect::<Vec<_>>())
        .query(&mut c2)
        .unwrap_or_else(|e| panic!("{write}: {e}"));
    let r: Option<(String,)> = redis::pipe().atomic().ping().query(&mut c1).unwrap();
    r.is_none()
}

#[test]
fn writes_that_change_nothing_touch_no_watcher() {
    let srv = TestServer::start();
    // (setup, write on another client): Redis 7 does not fail the EXEC.
    let unchanged = [
        ("SADD k a", "SADD k a"),
        ("SADD k a", "SREM k b"),
        ("SADD k a b", "SREM k z y"),
        ("SADD s a; SADD k a", "SMOVE s k a"),
        ("SADD s a; SADD k b", "SMOVE k s z"),
        ("HSET k f v", "HSETNX k f w"),
        ("HSET k f v", "HDEL k g"),
        ("ZADD k 1 a", "ZADD k 1 a"),
        ("ZADD k 1 a", "ZADD k NX 2 a"),
        ("ZADD k 1 a", "ZADD k XX 2 b"),
        ("ZADD k 1 a", "ZADD k GT 0 a"),
        ("ZADD k 1 a", "ZADD k CH 1 a"),
        ("ZADD k 1 a", "ZREM k b"),
        ("ZADD k 1 a", "ZINCRBY k 0 a"),
        ("ZADD k 1 a", "ZREMRANGEBYSCORE k 5 6"),
        ("ZADD k 1 a", "ZREMRANGEBYRANK k 5 6"),
        ("ZADD k 1 a", "ZREMRANGEBYLEX k [x [z"),
        ("ZADD k 1 a", "ZPOPMIN k 0"),
        ("RPUSH k a b", "LREM k 0 z"),
        ("RPUSH k a b", "LINSERT k BEFORE z x"),
        ("SET k x", "SETBIT k 1 1"),
        ("SET k x", "SETBIT k 0 0"),
        ("SET k x", "BITFIELD k SET u8 0 120"),
        ("SET k x", "BITFIELD k INCRBY u8 0 0"),
        ("SET k x", "BITFIELD k OVERFLOW FAIL INCRBY u8 0 200"),
        ("SET k x", "BITFIELD k GET u8 100"),
        ("SET k x", "SETRANGE k 0 "),
        ("SET k x", "SETRANGE k 5 "),
        ("SET k x", "PERSIST k"),
        ("SET k x EX 100", "EXPIRE k 200 LT"),
        ("SET k x", "SET k y NX"),
        ("SET k x; SET j y", "COPY j k"),
    ];
    for (setup, write) in unchanged {
        assert!(
            !watch_fired(&srv, setup, write),
            "{setup} / {write}: an unchanged key failed the EXEC"
        );
    }
    // And the writes that do count (some although nothing visible changed).
    let changed = [
        ("SADD k a", "SADD k a b"),
        ("SADD s a", "SMOVE s k a"),
        ("HSET k f v", "HSET k f v"),
        ("ZADD k 1 a", "ZINCRBY k 1 a"),
        ("RPUSH k a b", "LTRIM k 0 -1"),
        ("RPUSH k a b", "LTRIM k 0 5"),
        ("RPUSH k a b", "LSET k 0 a"),
        ("SET k x", "SETBIT k 100 0"),
        ("SET k x", "BITFIELD k SET u8 100 0"),
        ("SET k x", "BITFIELD k SET u8 0 121"),
        ("SET k x", "SETRANGE k 0 x"),
        ("SET k x", "APPEND k y"),
        ("SET k 1", "INCRBY k 0"),
        ("SET k x", "SET k x"),
        ("SET k x EX 100", "EXPIRE k 100 XX"),
    ];
    for (setup, write) in changed {
        assert!(
            watch_fired(&srv, setup, write),
            "{setup} / {write}: a write Redis signals did not fail the EXEC"
        );
    }
}

#[test]
fn flushall_fails_exec_only_when_a_watched_key_existed() {
    let srv = TestServer::start();
    assert!(watch_fired(&srv, "SET k 1", "FLUSHALL"));
    let mut c1 = srv.connection();
    let mut c2 = srv.connection();
    let () = redis::cmd("WATCH")
        .arg(&["nokey1", "nokey2", "other"])
        .query(&mut c1)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("other")
        .arg("x")
        .query(&mut c2)
        .unwrap();
    // `other` changed (it was created): the EXEC fails.
    let r: Option<(String,)> = redis::pipe().atomic().ping().query(&mut c1).unwrap();
    assert!(r.is_none());
    let () = redis::cmd("WATCH")
        .arg(&["nokey1", "nokey2"])
        .query(&mut c1)
        .unwrap();
    let () = redis::cmd("FLUSHALL").query(&mut c2).unwrap();
    let r: Option<(String,)> = redis::pipe().atomic().ping().query(&mut c1).unwrap();
    assert_eq!(r, Some(("PONG".into(),)), "no watched key existed");
}

#[test]
fn shutdown_and_config_set_inside_multi() {
    let srv = TestServer::start();
    let mut c = srv.raw();
    assert_eq!(c.request(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        c.request(&["SHUTDOWN", "NOSAVE"]),
        "-ERR Command not allowed inside a transaction\r\n"
    );
    assert_eq!(c.request(&["PING"]), "+QUEUED\r\n");
    assert_eq!(
        c.request(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // A CONFIG SET that fails when EXEC runs it fails alone; the rest of EXEC runs.
    assert_eq!(c.request(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        c.request(&["CONFIG", "SET", "maxmemory", "abc"]),
        "+QUEUED\r\n"
    );
    assert_eq!(c.request(&["SET", "k", "v"]), "+QUEUED\r\n");
    let r = c.request(&["EXEC"]);
    assert!(r.starts_with("*2\r\n-ERR CONFIG SET failed"), "{r}");
    assert!(r.ends_with("+OK\r\n"), "{r}");
    assert_eq!(c.request(&["GET", "k"]), "$1\r\nv\r\n");
    assert!(!srv.state().shutdown.is_requested());
}

/// Send a blocking command on its own connection and wait until the server holds it blocked.
fn blocked(srv: &TestServer, args: &[&str]) -> RawConn {
    let state = srv.state();
    let before = state.blocking.blocked_clients();
    let mut c = srv.raw();
    c.send_cmd(args);
    wait_for("the client to block", Duration::from_secs(10), || {
        (state.blocking.blocked_clients() > before).then_some(())
    });
    c
}

#[test]
fn move_copy_swapdb_and_sort_store_wake_blocked_clients() {
    let srv = TestServer::start();
    let mut w = srv.raw();

    let mut b = blocked(&srv, &["BLPOP", "l", "10"]);
    assert_eq!(w.request(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(w.request(&["RPUSH", "l", "a"]), ":1\r\n");
    assert_eq!(w.request(&["MOVE", "l", "0"]), ":1\r\n");
    assert_eq!(b.reply(), "*2\r\n$1\r\nl\r\n$1\r\na\r\n", "MOVE");

    let mut b = blocked(&srv, &["BLPOP", "l", "10"]);
    assert_eq!(w.request(&["RPUSH", "l", "b"]), ":1\r\n");
    assert_eq!(w.request(&["COPY", "l", "l", "DB", "0"]), ":1\r\n");
    assert_eq!(b.reply(), "*2\r\n$1\r\nl\r\n$1\r\nb\r\n", "COPY … DB");

    // SWAPDB: db 1 still holds l = [b]; after the swap db 0 does.
    let mut b = blocked(&srv, &["BZPOPMIN", "z", "10"]);
    let mut b2 = blocked(&srv, &["BLPOP", "l", "10"]);
    assert_eq!(w.request(&["ZADD", "z", "1", "m"]), ":1\r\n");
    assert_eq!(w.request(&["SWAPDB", "0", "1"]), "+OK\r\n");
    assert_eq!(
        b.reply(),
        "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$1\r\n1\r\n",
        "SWAPDB"
    );
    assert_eq!(b2.reply(), "*2\r\n$1\r\nl\r\n$1\r\nb\r\n", "SWAPDB");

    // SORT … STORE creates the list a client waits on (BLPOP and BLMPOP).
    assert_eq!(w.request(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(w.request(&["RPUSH", "src", "3", "1", "2"]), ":3\r\n");
    let mut b = blocked(&srv, &["BLMPOP", "10", "1", "dst", "LEFT", "COUNT", "2"]);
    assert_eq!(w.request(&["SORT", "src", "STORE", "dst"]), ":3\r\n");
    assert_eq!(
        b.reply(),
        "*2\r\n$3\r\ndst\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
        "SORT STORE"
    );
}
