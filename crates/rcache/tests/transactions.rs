//! MULTI/EXEC/WATCH through the `redis` crate against an in-process server: optimistic
//! locking across clients, EXECABORT, runtime errors inside EXEC, expiry of a watched key,
//! and EXEC's atomicity with respect to other clients.

use redis::{Commands, Value};
use std::time::Duration;
use testkit::{wait_for, TestServer};

#[test]
fn watch_then_another_client_writes_makes_exec_return_null() {
    let srv = TestServer::start();
    let mut c1 = srv.connection();
    let mut c2 = srv.connection();
    let () = c1.set("balance", 100).unwrap();

    let () = redis::cmd("WATCH").arg("balance").query(&mut c1).unwrap();
    let () = c2.incr("balance", 5).map(|_: i64| ()).unwrap();
    let r: Option<(String,)> = redis::pipe()
        .atomic()
        .set("balance", 0)
        .query(&mut c1)
        .unwrap();
    assert_eq!(r, None, "EXEC after a watched key changed is a null array");
    let v: i64 = c1.get("balance").unwrap();
    assert_eq!(v, 105);

    // Without interference the same transaction runs (EXEC forgot the old watch).
    let () = redis::cmd("WATCH").arg("balance").query(&mut c1).unwrap();
    let cur: i64 = c1.get("balance").unwrap();
    let r: Option<(String,)> = redis::pipe()
        .atomic()
        .set("balance", cur - 5)
        .query(&mut c1)
        .unwrap();
    assert_eq!(r, Some(("OK".to_string(),)));
    let v: i64 = c2.get("balance").unwrap();
    assert_eq!(v, 100);
}

#[test]
fn resp3_exec_null_after_watch() {
    let srv = TestServer::start();
    let mut c1 = srv.client_resp3().get_connection().unwrap();
    let mut c2 = srv.connection();
    let () = redis::cmd("WATCH").arg("k").query(&mut c1).unwrap();
    let () = c2.set("k", "theirs").unwrap();
    let () = redis::cmd("MULTI").query(&mut c1).unwrap();
    let q: Value = redis::cmd("SET")
        .arg("k")
        .arg("mine")
        .query(&mut c1)
        .unwrap();
    assert_eq!(q, Value::SimpleString("QUEUED".into()));
    let r: Value = redis::cmd("EXEC").query(&mut c1).unwrap();
    assert_eq!(r, Value::Nil);
    let v: String = c1.get("k").unwrap();
    assert_eq!(v, "theirs");
}

#[test]
fn execabort_after_a_queueing_error() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let () = redis::cmd("MULTI").query(&mut c).unwrap();
    let q: Value = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    assert_eq!(q, Value::SimpleString("QUEUED".into()));
    let e = redis::cmd("SET")
        .arg("a")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("wrong number of arguments"), "{e}");
    let e = redis::cmd("EXEC").query::<Value>(&mut c).unwrap_err();
    assert_eq!(e.code(), Some("EXECABORT"), "{e}");
    let v: Option<String> = c.get("a").unwrap();
    assert_eq!(v, None, "nothing ran");
    let e = redis::cmd("EXEC").query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("EXEC without MULTI"), "{e}");
}

#[test]
fn a_runtime_error_keeps_the_other_commands() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let () = c.set("text", "hello").unwrap();
    let () = redis::cmd("MULTI").query(&mut c).unwrap();
    for cmd in [
        redis::cmd("SET").arg("before").arg("1").clone(),
        redis::cmd("INCR").arg("text").clone(),
        redis::cmd("SET").arg("after").arg("2").clone(),
    ] {
        let q: Value = cmd.query(&mut c).unwrap();
        assert_eq!(q, Value::SimpleString("QUEUED".into()));
    }
    // The crate turns an error inside EXEC's array into an error for the whole reply; the
    // other two commands still ran.
    let e = redis::cmd("EXEC").query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("not an integer"), "{e}");
    let v: Vec<Option<String>> = c.mget(&["before", "after"]).unwrap();
    assert_eq!(v, vec![Some("1".into()), Some("2".into())]);
}

#[test]
fn a_watched_key_that_expires_aborts_exec() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let mut c = srv.connection();
    let () = redis::cmd("SET")
        .arg("lease")
        .arg("me")
        .arg("PX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let () = redis::cmd("WATCH").arg("lease").query(&mut c).unwrap();
    srv.advance_ms(100);
    let r: Option<(String,)> = redis::pipe()
        .atomic()
        .set("lease", "again")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
}

#[test]
fn a_watched_key_expiring_on_the_real_clock_aborts_exec() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let mut other = srv.connection();
    let () = redis::cmd("SET")
        .arg("lease")
        .arg("me")
        .arg("PX")
        .arg(30)
        .query(&mut c)
        .unwrap();
    let () = redis::cmd("WATCH").arg("lease").query(&mut c).unwrap();
    // Poll from another client until the key is gone (no assumption on timing).
    wait_for("the key to expire", Duration::from_secs(10), || {
        let n: i64 = other.exists("lease").unwrap();
        (n == 0).then_some(())
    });
    let r: Option<(String,)> = redis::pipe()
        .atomic()
        .set("lease", "again")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
}

#[test]
fn flushdb_aborts_watchers_and_closing_forgets_watches() {
    let srv = TestServer::start();
    let mut c1 = srv.connection();
    let mut c2 = srv.connection();
    let () = c1.set("k", 1).unwrap();
    let () = redis::cmd("WATCH")
        .arg("k")
        .arg("x")
        .query(&mut c1)
        .unwrap();
    let () = redis::cmd("FLUSHDB").query(&mut c2).unwrap();
    let r: Option<(i64,)> = redis::pipe().atomic().incr("k", 1).query(&mut c1).unwrap();
    assert_eq!(r, None);

    let () = redis::cmd("WATCH")
        .arg("a")
        .arg("b")
        .query(&mut c1)
        .unwrap();
    let state = srv.state();
    assert_eq!(state.ks.watches.len(), 2);
    drop(c1);
    wait_for(
        "the closed client's watches to go",
        Duration::from_secs(10),
        || state.ks.watches.is_empty().then_some(()),
    );
}

/// Two writers increment a and b together in transactions while a reader reads both with
/// separate GETs inside its own transactions: EXEC holds every other client off, so the
/// reader never sees one increment without the other.
#[test]
fn exec_is_atomic_with_respect_to_other_clients() {
    let srv = TestServer::start();
    let mut setup = srv.connection();
    let () = redis::cmd("MSET")
        .arg("a")
        .arg(0)
        .arg("b")
        .arg(0)
        .query(&mut setup)
        .unwrap();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = srv.connection();
            std::thread::spawn(move || {
                for _ in 0..300 {
                    let (_, _): (i64, i64) = redis::pipe()
                        .atomic()
                        .incr("a", 1)
                        .incr("b", 1)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    let mut r = srv.connection();
    for _ in 0..300 {
        let (a, b): (i64, i64) = redis::pipe()
            .atomic()
            .get("a")
            .get("b")
            .query(&mut r)
            .unwrap();
        assert_eq!(a, b, "a transaction was seen half-done");
    }
    for w in writers {
        w.join().unwrap();
    }
    let v: Vec<i64> = setup.mget(&["a", "b"]).unwrap();
    assert_eq!(v, vec![600, 600]);
}

/// Optimistic locking (WATCH/GET/MULTI/SET/EXEC with retry) from several clients at once
/// never loses an update.
#[test]
fn optimistic_locking_never_loses_an_update() {
    let srv = TestServer::start();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = srv.connection();
            std::thread::spawn(move || {
                let mut retries = 0;
                for _ in 0..100 {
                    loop {
                        let () = redis::cmd("WATCH").arg("counter").query(&mut c).unwrap();
                        let cur: Option<i64> = c.get("counter").unwrap();
                        let r: Option<(String,)> = redis::pipe()
                            .atomic()
                            .set("counter", cur.unwrap_or(0) + 1)
                            .query(&mut c)
                            .unwrap();
                        if r.is_some() {
                            break;
                        }
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut c = srv.connection();
    let v: i64 = c.get("counter").unwrap();
    assert_eq!(v, 400);
}
