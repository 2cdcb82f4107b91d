//! Lists and blocking commands over the wire with the `redis` crate: reply shapes in RESP2
//! and RESP3, and two-client blocking (wake-up by push, FIFO order, timeouts, disconnects,
//! BLMOVE chains). Tests learn that a client is blocked by polling INFO `blocked_clients`;
//! none sleeps and hopes.

use redis::{Commands, Connection, Value};
use std::thread;
use std::time::Duration;
use testkit::{wait_for, TestServer};

const WAIT: Duration = Duration::from_secs(20);

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn blocked_clients(c: &mut Connection) -> usize {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

fn wait_blocked(c: &mut Connection, n: usize) {
    wait_for(&format!("{n} blocked clients"), WAIT, || {
        (blocked_clients(c) == n).then_some(())
    });
}

#[test]
fn list_commands_resp2_and_resp3() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let n: usize = c.rpush("l", &["a", "b", "c"]).unwrap();
    assert_eq!(n, 3);
    let n: usize = c.lpush("l", "z").unwrap();
    assert_eq!(n, 4);
    let all: Vec<String> = c.lrange("l", 0, -1).unwrap();
    assert_eq!(all, ["z", "a", "b", "c"]);
    let v: String = c.lindex("l", -1).unwrap();
    assert_eq!(v, "c");
    let () = c.lset("l", 0, "y").unwrap();
    let n: i64 = c.linsert_after("l", "a", "a2").unwrap();
    assert_eq!(n, 5);
    let p: Option<usize> = c.lpos("l", "b", redis::LposOptions::default()).unwrap();
    assert_eq!(p, Some(3));
    let two: Vec<String> = redis::cmd("RPOP").arg("l").arg(2).query(&mut c).unwrap();
    assert_eq!(two, ["c", "b"]);
    let moved: String = redis::cmd("LMOVE")
        .arg("l")
        .arg("m")
        .arg("LEFT")
        .arg("RIGHT")
        .query(&mut c)
        .unwrap();
    assert_eq!(moved, "y");
    let r: Value = redis::cmd("LMPOP")
        .arg(2)
        .arg("nx")
        .arg("l")
        .arg("LEFT")
        .arg("COUNT")
        .arg(10)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        r,
        Value::Array(vec![bulk("l"), Value::Array(vec![bulk("a"), bulk("a2")])])
    );
    // Nil shapes: null bulk without a count, null array with one.
    let nil: Value = redis::cmd("LPOP").arg("l").query(&mut c).unwrap();
    assert_eq!(nil, Value::Nil);
    let mut raw = srv.raw();
    assert_eq!(raw.request(&["LPOP", "l"]), "$-1\r\n");
    assert_eq!(raw.request(&["LPOP", "l", "1"]), "*-1\r\n");
    let err = redis::cmd("LPUSH")
        .arg("l")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string().contains("wrong number of arguments"),
        "{err}"
    );

    let mut c3 = srv.client_resp3().get_connection().unwrap();
    let nil: Value = redis::cmd("LPOP").arg("l").arg(1).query(&mut c3).unwrap();
    assert_eq!(nil, Value::Nil);
    let nil: Value = redis::cmd("BLPOP")
        .arg("l")
        .arg(0.01)
        .query(&mut c3)
        .unwrap();
    assert_eq!(nil, Value::Nil);
}

#[test]
fn push_from_another_client_wakes_blocked_one() {
    let srv = TestServer::start();
    let mut waiter = srv.connection();
    let mut ctl = srv.connection();
    let h = thread::spawn(move || {
        let r: (String, String) = waiter.blpop("q", 0.0).unwrap();
        r
    });
    wait_blocked(&mut ctl, 1);
    let n: usize = ctl.rpush("q", "job").unwrap();
    assert_eq!(n, 1);
    assert_eq!(h.join().unwrap(), ("q".to_string(), "job".to_string()));
    let len: usize = ctl.llen("q").unwrap();
    assert_eq!(len, 0);
    assert_eq!(blocked_clients(&mut ctl), 0);
}

#[test]
fn three_blocked_clients_are_served_in_order() {
    let srv = TestServer::start();
    let mut ctl = srv.connection();
    let mut handles = Vec::new();
    for i in 0..3 {
        let mut c = srv.connection();
        handles.push(thread::spawn(move || {
            let r: (String, String) = c.brpop("q", 0.0).unwrap();
            r.1
        }));
        // Each blocks before the next starts, so the blocking order is known.
        wait_blocked(&mut ctl, i + 1);
    }
    let _: usize = ctl.rpush("q", "first").unwrap();
    // Only the first waiter is served by one element.
    wait_blocked(&mut ctl, 2);
    let _: usize = ctl.rpush("q", &["second", "third"]).unwrap();
    let got: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // BRPOP pops from the tail: the second waiter gets "third", the third "second".
    assert_eq!(got, ["first", "third", "second"]);
}

#[test]
fn timeout_returns_nil() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let r: Value = redis::cmd("BLPOP")
        .arg("q")
        .arg(0.05)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, Value::Nil);
    let mut raw = srv.raw();
    assert_eq!(raw.request(&["BLPOP", "q", "0.01"]), "*-1\r\n");
    assert_eq!(raw.request(&["BRPOPLPUSH", "q", "d", "0.01"]), "*-1\r\n");
    assert_eq!(
        raw.request(&["BLMPOP", "0.01", "1", "q", "LEFT"]),
        "*-1\r\n"
    );
    // The connection goes on after a timeout.
    assert_eq!(raw.request(&["PING"]), "+PONG\r\n");
}

#[test]
fn disconnect_while_blocked_keeps_the_element() {
    let srv = TestServer::start();
    let mut ctl = srv.connection();
    {
        let mut raw = srv.raw();
        raw.send_cmd(&["BLPOP", "q", "0"]);
        wait_blocked(&mut ctl, 1);
    } // dropped: the socket closes
    wait_blocked(&mut ctl, 0);
    let _: usize = ctl.rpush("q", "precious").unwrap();
    let all: Vec<String> = ctl.lrange("q", 0, -1).unwrap();
    assert_eq!(all, ["precious"]);
}

#[test]
fn killed_while_blocked_leaves_nothing() {
    let srv = TestServer::start();
    let mut ctl = srv.connection();
    let mut raw = srv.raw();
    let id: i64 = {
        let r = raw.request(&["CLIENT", "ID"]);
        r.trim().trim_start_matches(':').parse().unwrap()
    };
    raw.send_cmd(&["BLPOP", "q", "0"]);
    wait_blocked(&mut ctl, 1);
    let n: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query(&mut ctl)
        .unwrap();
    assert_eq!(n, 1);
    wait_blocked(&mut ctl, 0);
    let _: usize = ctl.rpush("q", "x").unwrap();
    let len: usize = ctl.llen("q").unwrap();
    assert_eq!(len, 1);
}

#[test]
fn blmove_chain() {
    let srv = TestServer::start();
    let mut ctl = srv.connection();
    let mut a = srv.connection();
    let mut b = srv.connection();
    let ha = thread::spawn(move || {
        let v: String = redis::cmd("BLMOVE")
            .arg("l1")
            .arg("l2")
            .arg("RIGHT")
            .arg("LEFT")
            .arg(0)
            .query(&mut a)
            .unwrap();
        v
    });
    wait_blocked(&mut ctl, 1);
    let hb = thread::spawn(move || {
        let v: String = redis::cmd("BLMOVE")
            .arg("l2")
            .arg("l3")
            .arg("RIGHT")
            .arg("LEFT")
            .arg(0)
            .query(&mut b)
            .unwrap();
        v
    });
    wait_blocked(&mut ctl, 2);
    let _: usize = ctl.rpush("l1", "v").unwrap();
    assert_eq!(ha.join().unwrap(), "v");
    assert_eq!(hb.join().unwrap(), "v");
    let l3: Vec<String> = ctl.lrange("l3", 0, -1).unwrap();
    assert_eq!(l3, ["v"]);
    let n: usize = redis::cmd("EXISTS")
        .arg("l1")
        .arg("l2")
        .query(&mut ctl)
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn pipelined_commands_after_a_blocking_one_wait_for_it() {
    let srv = TestServer::start();
    let mut ctl = srv.connection();
    let mut raw = srv.raw();
    raw.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*2\r\n$4\r\nECHO\r\n$5\r\nafter\r\n");
    wait_blocked(&mut ctl, 1);
    let _: usize = ctl.rpush("q", "x").unwrap();
    assert_eq!(raw.reply(), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert_eq!(raw.reply(), "$5\r\nafter\r\n");
}

#[test]
fn client_unblock_over_the_wire() {
    let srv = TestServer::start();
    let mut ctl = srv.connection();
    let mut raw = srv.raw();
    let id = raw.request(&["CLIENT", "ID"]);
    let id = id.trim().trim_start_matches(':').to_string();
    raw.send_cmd(&["BRPOP", "q", "0"]);
    wait_blocked(&mut ctl, 1);
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .arg("ERROR")
        .query(&mut ctl)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        raw.reply(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
}

#[test]
fn bzpopmin_and_bzmpop_are_woken_by_zadd() {
    let srv = TestServer::start();
    let mut w1 = srv.connection();
    let mut w2 = srv.connection();
    let mut ctl = srv.connection();
    let h1 = thread::spawn(move || {
        let r: (String, String, f64) = redis::cmd("BZPOPMIN")
            .arg("z")
            .arg(0)
            .query(&mut w1)
            .unwrap();
        r
    });
    wait_blocked(&mut ctl, 1);
    let h2 = thread::spawn(move || {
        let r: Value = redis::cmd("BZMPOP")
            .arg(0)
            .arg(1)
            .arg("z")
            .arg("MAX")
            .arg("COUNT")
            .arg(5)
            .query(&mut w2)
            .unwrap();
        r
    });
    wait_blocked(&mut ctl, 2);
    // One ZADD of three members: the first waiter (FIFO) gets the lowest, the second the rest.
    let _: usize = redis::cmd("ZADD")
        .arg("z")
        .arg(3)
        .arg("c")
        .arg(1)
        .arg("a")
        .arg(2)
        .arg("b")
        .query(&mut ctl)
        .unwrap();
    assert_eq!(h1.join().unwrap(), ("z".into(), "a".into(), 1.0));
    let v = h2.join().unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            bulk("z"),
            Value::Array(vec![
                Value::Array(vec![bulk("c"), bulk("3")]),
                Value::Array(vec![bulk("b"), bulk("2")]),
            ]),
        ])
    );
    let exists: bool = ctl.exists("z").unwrap();
    assert!(!exists);
}
