//! Lua scripting through the `redis` crate against a real server: EVAL/EVALSHA, the script
//! cache, a read-compute-write script, errors, and a runaway script that other clients see
//! as BUSY until SCRIPT KILL stops it.

use redis::{Commands, Value};
use std::time::{Duration, Instant};
use testkit::TestServer;

#[test]
fn eval_evalsha_and_the_script_cache() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let v: Vec<String> = redis::cmd("EVAL")
        .arg("return {KEYS[1], ARGV[1]}")
        .arg(1)
        .arg("k")
        .arg("a")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["k", "a"]);

    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return redis.call('get', KEYS[1])")
        .query(&mut c)
        .unwrap();
    assert_eq!(sha.len(), 40);
    let () = c.set("k", "v").unwrap();
    let got: String = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(1)
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, "v");
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .arg("0000000000000000000000000000000000000000")
        .query(&mut c)
        .unwrap();
    assert_eq!(exists, [1, 0]);

    let () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    let err = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(0)
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(err.code(), Some("NOSCRIPT"), "{err}");

    // redis::Script tries EVALSHA, then loads the script on NOSCRIPT.
    let script = redis::Script::new("return tonumber(ARGV[1]) * 2");
    let n: i64 = script.arg(21).invoke(&mut c).unwrap();
    assert_eq!(n, 42);
    let n: i64 = script.arg(5).invoke(&mut c).unwrap();
    assert_eq!(n, 10);
}

#[test]
fn read_compute_write_is_atomic() {
    let srv = TestServer::start();
    // INCR only while below a limit: many clients at once never pass it.
    const LIMIT: i64 = 50;
    let script = "local v = tonumber(redis.call('get', KEYS[1]) or '0')
                  if v >= tonumber(ARGV[1]) then return false end
                  return redis.call('incr', KEYS[1])";
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mut c = srv.connection();
            std::thread::spawn(move || {
                let mut granted = 0;
                for _ in 0..30 {
                    let r: Option<i64> = redis::cmd("EVAL")
                        .arg(script)
                        .arg(1)
                        .arg("counter")
                        .arg(LIMIT)
                        .query(&mut c)
                        .unwrap();
                    granted += r.is_some() as i64;
                }
                granted
            })
        })
        .collect();
    let granted: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(granted, LIMIT);
    let mut c = srv.connection();
    let v: i64 = c.get("counter").unwrap();
    assert_eq!(v, LIMIT);
}

#[test]
fn errors_and_resp3() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let () = c.set("s", "abc").unwrap();
    let err = redis::cmd("EVAL")
        .arg("return redis.call('incr', KEYS[1])")
        .arg(1)
        .arg("s")
        .query::<Value>(&mut c)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("value is not an integer or out of range"),
        "{msg}"
    );
    assert!(msg.contains("on @user_script:1."), "{msg}");
    let err = redis::cmd("EVAL_RO")
        .arg("return redis.call('set', 'x', 'y')")
        .arg(0)
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Write commands are not allowed from read-only scripts"),
        "{err}"
    );
    let err = redis::cmd("EVAL")
        .arg("x = 1")
        .arg(0)
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Attempt to modify a readonly table"),
        "{err}"
    );
    // The connection goes on.
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");

    // A RESP3 caller gets RESP3 types from table conventions.
    let mut c3 = srv.client_resp3().get_connection().unwrap();
    let v: Value = redis::cmd("EVAL")
        .arg("return {double=1.5}")
        .arg(0)
        .query(&mut c3)
        .unwrap();
    assert_eq!(v, Value::Double(1.5));
    let v: Value = redis::cmd("EVAL")
        .arg("return nil")
        .arg(0)
        .query(&mut c3)
        .unwrap();
    assert_eq!(v, Value::Nil);
}

/// Poll `f` until it returns true, failing after 10 s.
fn poll(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn runaway_script_busy_then_script_kill() {
    let srv = TestServer::start();
    let mut admin = srv.connection();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(100)
        .query(&mut admin)
        .unwrap();
    let err = redis::cmd("SCRIPT")
        .arg("KILL")
        .query::<Value>(&mut admin)
        .unwrap_err();
    assert_eq!(err.code(), Some("NOTBUSY"), "{err}");

    let mut runner = srv.connection();
    let script = std::thread::spawn(move || {
        redis::cmd("EVAL")
            .arg("local i = 0 while true do i = i + 1 end")
            .arg(0)
            .query::<Value>(&mut runner)
    });

    // Once the script has run past the threshold, other clients are answered BUSY.
    poll("BUSY", || {
        match redis::cmd("PING").query::<String>(&mut admin) {
            Ok(_) => false,
            Err(e) => {
                assert_eq!(e.code(), Some("BUSY"), "{e}");
                true
            }
        }
    });
    let () = redis::cmd("SCRIPT").arg("KILL").query(&mut admin).unwrap();
    let err = script.join().unwrap().unwrap_err();
    assert!(
        err.to_string()
            .contains("Script killed by user with SCRIPT KILL..."),
        "{err}"
    );
    poll("PONG", || {
        redis::cmd("PING").query::<String>(&mut admin).is_ok()
    });

    // A script that wrote cannot be killed; it runs to its end.
    let mut runner = srv.connection();
    let script = std::thread::spawn(move || {
        redis::cmd("EVAL")
            .arg("redis.call('set', 'w', '1') local i = 0 while i < 3e7 do i = i + 1 end return i")
            .arg(0)
            .query::<i64>(&mut runner)
    });
    let state = srv.state();
    poll("the script's write", || {
        state.scripting.run_state() == commands::scripting::engine::WROTE || script.is_finished()
    });
    match redis::cmd("SCRIPT").arg("KILL").query::<Value>(&mut admin) {
        Err(e) if e.code() == Some("UNKILLABLE") => {}
        // The script may have ended just before SCRIPT KILL arrived.
        Err(e) if e.code() == Some("NOTBUSY") => {}
        other => panic!("unexpected SCRIPT KILL answer {other:?}"),
    }
    assert_eq!(script.join().unwrap().unwrap(), 30_000_000);
    let w: String = admin.get("w").unwrap();
    assert_eq!(w, "1");
}
