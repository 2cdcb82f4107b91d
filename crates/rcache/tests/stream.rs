//! Streams against Debian's real redis-server (7.0): the same command sequences — entries,
//! ranges, trimming, consumer groups, pending lists, claims, XINFO, every error — give the
//! same replies over RESP2 and RESP3 (times masked: idle and delivery times differ by the
//! milliseconds between the two servers). Then what Redis cannot be compared on: blocking
//! reads woken by XADD from another client, DUMP/RESTORE, and the append-only log replaying
//! group reads to the same pending entries.

use redis::{Connection, Value};
use std::time::Duration;
use testkit::client::{connect, line, query as run};
use testkit::proxy::Backend;
use testkit::TestServer;

/// Replace times (unix-ms values and idle/seen times) with 0 so two servers compare, and
/// `radix-tree-nodes` (Redis's radix tree has inner nodes ours has not: docs/COMMANDS.md).
fn mask(v: Value, cmd: &str) -> Value {
    fn walk(v: Value, xpending: bool) -> Value {
        match v {
            Value::Int(n) if n > 1_000_000_000_000 => Value::Int(0),
            Value::Array(items) => {
                // XPENDING's extended rows: [id, consumer, idle, count].
                let row = xpending
                    && items.len() == 4
                    && matches!(items[0], Value::BulkString(_))
                    && matches!(items[2], Value::Int(_));
                let mut out: Vec<Value> = Vec::with_capacity(items.len());
                let mut prev_key: Option<Vec<u8>> = None;
                for (i, x) in items.into_iter().enumerate() {
                    let x = if (row && i == 2) || is_time_key(&prev_key) {
                        match x {
                            Value::Int(_) => Value::Int(0),
                            x => walk(x, xpending),
                        }
                    } else {
                        walk(x, xpending)
                    };
                    prev_key = match &x {
                        Value::BulkString(b) => Some(b.clone()),
                        _ => None,
                    };
                    out.push(x);
                }
                Value::Array(out)
            }
            Value::Map(pairs) => Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, x)| {
                        let key = match &k {
                            Value::BulkString(b) => Some(b.clone()),
                            _ => None,
                        };
                        let x = match x {
                            Value::Int(_) if is_time_key(&key) => Value::Int(0),
                            x => walk(x, xpending),
                        };
                        (k, x)
                    })
                    .collect(),
            ),
            v => v,
        }
    }
    fn is_time_key(k: &Option<Vec<u8>>) -> bool {
        matches!(
            k.as_deref(),
            Some(b"idle" | b"seen-time" | b"radix-tree-nodes")
        )
    }
    walk(v, cmd.eq_ignore_ascii_case("xpending"))
}

/// Run `script` on both servers (keys made unique per run) and compare every reply.
fn compare(redis: &Backend, srv: &TestServer, resp3: bool, name: &str, script: &[&[&str]]) {
    let mut r = connect(redis.addr(), resp3);
    let mut o = connect(srv.addr(), resp3);
    for c in [&mut r, &mut o] {
        let _: () = redis::cmd("FLUSHALL").query(c).unwrap();
    }
    for (i, cmd) in script.iter().enumerate() {
        let a = mask(run(&mut r, cmd), cmd[0]);
        let b = mask(run(&mut o, cmd), cmd[0]);
        assert_eq!(
            a, b,
            "{name} (resp3 {resp3}) step {i}: {cmd:?}\n redis: {a:?}\nrcache: {b:?}"
        );
    }
}

const BASICS: &[&[&str]] = &[
    &["XADD", "s", "1-1", "a", "1", "b", "2"],
    &["XADD", "s", "1-*", "a", "3", "b", "4"],
    &["XADD", "s", "2", "c", "5"],
    &["XADD", "s", "3-0", "a", "6", "b", "7"],
    &["XADD", "s", "3-5", "x", "y"],
    &["XLEN", "s"],
    &["XLEN", "nokey"],
    &["XRANGE", "s", "-", "+"],
    &["XRANGE", "s", "1", "2"],
    &["XRANGE", "s", "(1-1", "+", "COUNT", "2"],
    &["XRANGE", "s", "-", "(3-0"],
    &["XRANGE", "s", "-", "+", "COUNT", "0"],
    &["XRANGE", "s", "-", "+", "COUNT", "-5"],
    &["XRANGE", "nokey", "-", "+", "COUNT", "0"],
    &["XRANGE", "s", "5", "1"],
    &["XREVRANGE", "s", "+", "-"],
    &["XREVRANGE", "s", "+", "-", "COUNT", "1"],
    &["XREVRANGE", "s", "(3-5", "(1-1"],
    &[
        "XRANGE",
        "s",
        "(18446744073709551615-18446744073709551615",
        "+",
    ],
    &["XRANGE", "s", "-", "(0-0"],
    &["XRANGE", "s", "(-", "+"],
    &["XRANGE", "s", "abc", "+"],
    &["XRANGE", "s", "-", "+", "COUNT"],
    &["XRANGE", "s", "-", "+", "LIMIT", "1"],
    &["XADD", "s", "3-5", "x", "y"],
    &["XADD", "s", "2-9", "x", "y"],
    &["XADD", "s", "0-0", "x", "y"],
    &["XADD", "s", "0", "x", "y"],
    &["XADD", "s", "1-2-3", "x", "y"],
    &["XADD", "s", "-", "x", "y"],
    &["XADD", "s", "+", "x", "y"],
    &["XADD", "s", "9-1", "x"],
    &["XADD", "s", "9-1", "x", "y", "z"],
    &["XADD", "s", "NOMKSTREAM", "9-1", "x", "y"],
    &["XADD", "fresh", "NOMKSTREAM", "9-1", "x", "y"],
    &["EXISTS", "fresh"],
    &["XDEL", "s", "1-2", "3-0", "7-7"],
    &["XDEL", "s", "1-2"],
    &["XDEL", "s", "bad"],
    &["XDEL", "nokey", "bad"],
    &["XRANGE", "s", "-", "+"],
    &["XLEN", "s"],
    &["SET", "str", "x"],
    &["XADD", "str", "1-1", "a", "b"],
    &["XLEN", "str"],
    &["XRANGE", "str", "-", "+"],
    &["XDEL", "str", "1-1"],
    &["TYPE", "s"],
    &["OBJECT", "ENCODING", "s"],
    &[
        "XADD",
        "big",
        "18446744073709551615-18446744073709551615",
        "f",
        "v",
    ],
    &["XADD", "big", "*", "f", "v"],
    &[
        "XADD",
        "big2",
        "18446744073709551615-18446744073709551614",
        "f",
        "v",
    ],
    &["XADD", "big2", "18446744073709551615-*", "f", "v"],
    &["XINFO", "STREAM", "s"],
    &["XINFO", "STREAM", "nokey"],
    &["XINFO", "STREAM", "str"],
    &["XINFO", "STREAM", "s", "FULL"],
    &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"],
    &["XINFO", "STREAM", "s", "PARTIAL"],
    &["XINFO", "STREAM", "s", "FULL", "LIMIT", "1"],
    &["XSETID", "s", "3-6"],
    &["XSETID", "s", "1-0"],
    &["XSETID", "s", "9-9", "ENTRIESADDED", "1"],
    &[
        "XSETID",
        "s",
        "9-9",
        "ENTRIESADDED",
        "100",
        "MAXDELETEDID",
        "9-10",
    ],
    &[
        "XSETID",
        "s",
        "9-9",
        "ENTRIESADDED",
        "100",
        "MAXDELETEDID",
        "8-0",
    ],
    &["XSETID", "nokey", "1-1"],
    &["XSETID", "s", "9-9", "FOO"],
    &["XINFO", "STREAM", "s"],
];

const TRIMMING: &[&[&str]] = &[
    &["CONFIG", "SET", "stream-node-max-entries", "4"],
    &["XADD", "t", "1", "f", "1"],
    &["XADD", "t", "2", "f", "2"],
    &["XADD", "t", "3", "f", "3"],
    &["XADD", "t", "4", "f", "4"],
    &["XADD", "t", "5", "f", "5"],
    &["XADD", "t", "6", "f", "6"],
    &["XADD", "t", "7", "f", "7"],
    &["XADD", "t", "8", "f", "8"],
    &["XADD", "t", "9", "f", "9"],
    &["XADD", "t", "10", "g", "10"],
    &["XINFO", "STREAM", "t"],
    &["XTRIM", "t", "MAXLEN", "~", "7"],
    &["XLEN", "t"],
    &["XTRIM", "t", "MAXLEN", "~", "4"],
    &["XLEN", "t"],
    &["XRANGE", "t", "-", "+"],
    &["XTRIM", "t", "MAXLEN", "=", "4"],
    &["XTRIM", "t", "MAXLEN", "3"],
    &["XRANGE", "t", "-", "+"],
    &["XADD", "t", "MAXLEN", "2", "11", "f", "11"],
    &["XRANGE", "t", "-", "+"],
    &["XADD", "t", "MINID", "11", "12", "f", "12"],
    &["XRANGE", "t", "-", "+"],
    &[
        "XADD", "t", "MAXLEN", "~", "1", "LIMIT", "1", "13", "f", "13",
    ],
    &["XLEN", "t"],
    &["XTRIM", "t", "MINID", "~", "13"],
    &["XTRIM", "t", "MINID", "=", "13"],
    &["XRANGE", "t", "-", "+"],
    &["XTRIM", "t", "MAXLEN", "1", "LIMIT", "1"],
    &["XTRIM", "t", "LIMIT", "1"],
    &["XTRIM", "t", "FOO", "1"],
    &["XTRIM", "t", "MAXLEN", "-1"],
    &["XTRIM", "t", "MAXLEN", "abc"],
    &["XTRIM", "t", "MAXLEN", "1", "MINID", "1"],
    &["XTRIM", "t", "MAXLEN", "~", "1", "LIMIT", "-1"],
    &["XTRIM", "t", "MINID", "bad"],
    &["XTRIM", "nokey", "MAXLEN", "1"],
    &["XADD", "t", "MAXLEN", "1", "LIMIT", "5", "20", "f", "v"],
    &["XADD", "t", "LIMIT", "5", "20", "f", "v"],
    &["XADD", "t", "MAXLEN", "0", "21", "f", "v"],
    &["XLEN", "t"],
    &["EXISTS", "t"],
    &["XINFO", "STREAM", "t"],
    &["XTRIM", "t", "MAXLEN", "0"],
    &["CONFIG", "SET", "stream-node-max-entries", "100"],
];

const GROUPS: &[&[&str]] = &[
    &["XGROUP", "CREATE", "q", "g", "$"],
    &["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"],
    &["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"],
    &["XGROUP", "CREATE", "q", "g2", "0", "ENTRIESREAD", "-2"],
    &["XGROUP", "CREATE", "q", "g2", "0", "BOGUS"],
    &["XGROUP", "CREATE", "q", "g2", "bad"],
    &["XINFO", "STREAM", "q"],
    &["XINFO", "GROUPS", "q"],
    &["XADD", "q", "1-1", "job", "a"],
    &["XADD", "q", "1-2", "job", "b"],
    &["XADD", "q", "1-3", "job", "c"],
    &["XADD", "q", "1-4", "job", "d"],
    &["XGROUP", "CREATE", "q", "g2", "0"],
    &["XINFO", "GROUPS", "q"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "1",
        "STREAMS",
        "q",
        ">",
    ],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "q",
        ">",
    ],
    &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", ">"],
    &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", ">"],
    &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", "0"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "1",
        "STREAMS",
        "q",
        "1-2",
    ],
    &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "q", "0"],
    &[
        "XREADGROUP",
        "GROUP",
        "g2",
        "dave",
        "NOACK",
        "STREAMS",
        "q",
        ">",
    ],
    &["XINFO", "GROUPS", "q"],
    &["XINFO", "CONSUMERS", "q", "g"],
    &["XINFO", "CONSUMERS", "q", "nog"],
    &["XPENDING", "q", "g"],
    &["XPENDING", "q", "g2"],
    &["XPENDING", "q", "g", "-", "+", "10"],
    &["XPENDING", "q", "g", "-", "+", "10", "bob"],
    &["XPENDING", "q", "g", "-", "+", "10", "nobody"],
    &["XPENDING", "q", "g", "(1-1", "+", "1"],
    &["XPENDING", "q", "g", "IDLE", "0", "-", "+", "10"],
    &["XPENDING", "q", "g", "IDLE", "1000000", "-", "+", "10"],
    &["XPENDING", "q", "g", "-", "+"],
    &["XPENDING", "q", "g", "IDLE", "5", "-", "+"],
    &["XPENDING", "q", "nog"],
    &["XPENDING", "nokey", "g"],
    &["XACK", "q", "g", "1-1", "1-1", "9-9"],
    &["XACK", "q", "g", "bad"],
    &["XACK", "q", "nog", "1-2"],
    &["XACK", "nokey", "g", "1-2"],
    &["XPENDING", "q", "g"],
    &["XDEL", "q", "1-3"],
    &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", "0"],
    &["XINFO", "GROUPS", "q"],
    &["XCLAIM", "q", "g", "carol", "0", "1-2", "1-3", "JUSTID"],
    &["XPENDING", "q", "g", "-", "+", "10"],
    &["XCLAIM", "q", "g", "alice", "0", "1-2", "RETRYCOUNT", "7"],
    &["XPENDING", "q", "g", "-", "+", "10"],
    &["XCLAIM", "q", "g", "alice", "3600000", "1-2"],
    &["XCLAIM", "q", "g", "alice", "0", "1-1", "FORCE"],
    &["XPENDING", "q", "g", "-", "+", "10"],
    &[
        "XCLAIM", "q", "g", "alice", "0", "1-4", "FORCE", "JUSTID", "LASTID", "1-9",
    ],
    &["XINFO", "GROUPS", "q"],
    &["XCLAIM", "q", "g", "alice", "0", "1-4", "BOGUS"],
    &["XCLAIM", "q", "g", "alice", "abc", "1-4"],
    &["XCLAIM", "q", "g", "alice", "0", "1-4", "IDLE", "x"],
    &["XCLAIM", "q", "nog", "alice", "0", "1-4"],
    &[
        "XCLAIM", "q", "g", "alice", "0", "1-4", "IDLE", "10", "TIME", "1", "JUSTID",
    ],
    &["XGROUP", "SETID", "q", "g", "0"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "erin",
        "COUNT",
        "1",
        "STREAMS",
        "q",
        ">",
    ],
    &["XPENDING", "q", "g", "-", "+", "10"],
    &["XAUTOCLAIM", "q", "g", "frank", "0", "0", "COUNT", "2"],
    &[
        "XAUTOCLAIM",
        "q",
        "g",
        "frank",
        "0",
        "0",
        "COUNT",
        "1",
        "JUSTID",
    ],
    &["XAUTOCLAIM", "q", "g", "frank", "3600000", "0"],
    &["XAUTOCLAIM", "q", "g", "frank", "0", "(1-1"],
    &["XAUTOCLAIM", "q", "g", "frank", "0", "0", "COUNT", "0"],
    &["XAUTOCLAIM", "q", "g", "frank", "x", "0"],
    &["XAUTOCLAIM", "q", "g", "frank", "0", "0", "BOGUS"],
    &["XAUTOCLAIM", "q", "nog", "frank", "0", "0"],
    &["XADD", "q", "2-1", "job", "e"],
    &["XDEL", "q", "1-2"],
    &["XAUTOCLAIM", "q", "g", "gina", "0", "0"],
    &["XPENDING", "q", "g"],
    &["XINFO", "CONSUMERS", "q", "g"],
    &["XGROUP", "CREATECONSUMER", "q", "g", "hank"],
    &["XGROUP", "CREATECONSUMER", "q", "g", "hank"],
    &["XGROUP", "CREATECONSUMER", "q", "nog", "hank"],
    &["XGROUP", "DELCONSUMER", "q", "g", "frank"],
    &["XGROUP", "DELCONSUMER", "q", "g", "nobody"],
    &["XGROUP", "SETID", "q", "g", "$", "ENTRIESREAD", "3"],
    &["XGROUP", "SETID", "q", "g", "1-1", "FOO", "1"],
    &["XGROUP", "SETID", "q", "nog", "1-1"],
    &["XINFO", "GROUPS", "q"],
    &["XINFO", "STREAM", "q", "FULL"],
    &["XGROUP", "DESTROY", "q", "g2"],
    &["XGROUP", "DESTROY", "q", "g2"],
    &["XGROUP", "DESTROY", "nokey", "g2"],
    &["XGROUP", "CREATECONSUMER", "nokey", "g", "x"],
    &["XGROUP", "FOO", "q", "g"],
    &["XGROUP", "CREATE", "q"],
    &["XGROUP", "HELP"],
    &["XINFO", "HELP"],
    &["XINFO", "FOO", "q"],
    &["XINFO", "GROUPS"],
    &["XREADGROUP", "GROUP", "nog", "x", "STREAMS", "q", ">"],
    &["XREADGROUP", "GROUP", "g", "x", "STREAMS", "nokey", ">"],
    &["XREADGROUP", "GROUP", "g", "x", "STREAMS", "q", "$"],
    &["XREADGROUP", "GROUP", "g", "x", "STREAMS", "q"],
    &["XREADGROUP", "COUNT", "1", "STREAMS", "q", ">"],
    &["XREADGROUP", "GROUP", "g", "x", "STREAMS", "q", "bad"],
    &["SET", "str", "v"],
    &["XREADGROUP", "GROUP", "g", "x", "STREAMS", "str", ">"],
    &["XGROUP", "CREATE", "str", "g", "$"],
    &["XACK", "str", "g", "1-1"],
];

const READS: &[&[&str]] = &[
    &["XADD", "a", "1-1", "f", "1"],
    &["XADD", "a", "2-1", "f", "2"],
    &["XADD", "b", "5-1", "f", "3"],
    &["XREAD", "STREAMS", "a", "0"],
    &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"],
    &["XREAD", "STREAMS", "a", "b", "1-1", "5-1"],
    &["XREAD", "STREAMS", "a", "b", "$", "$"],
    &["XREAD", "STREAMS", "nokey", "0"],
    &["XREAD", "STREAMS", "a", "nokey", "0", "0"],
    &["XREAD", "BLOCK", "10", "STREAMS", "a", "$"],
    &["XREAD", "STREAMS", "a"],
    &["XREAD", "STREAMS", "a", "b", "0"],
    &["XREAD", "STREAMS", "a", ">"],
    &["XREAD", "STREAMS", "a", "bad"],
    &["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"],
    &["XREAD", "NOACK", "STREAMS", "a", "0"],
    &["XREAD", "COUNT", "x", "STREAMS", "a", "0"],
    &["XREAD", "BLOCK", "x", "STREAMS", "a", "0"],
    &["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"],
    &["XREAD", "FOO", "STREAMS", "a", "0"],
    &["XREAD", "COUNT", "1", "a", "0"],
    &["SET", "str", "x"],
    &["XREAD", "STREAMS", "str", "0"],
    &["MULTI"],
    &["XREAD", "BLOCK", "0", "STREAMS", "a", "$"],
    &["EXEC"],
];

fn all_scripts() -> [(&'static str, &'static [&'static [&'static str]]); 4] {
    [
        ("basics", BASICS),
        ("trimming", TRIMMING),
        ("groups", GROUPS),
        ("reads", READS),
    ]
}

#[test]
fn replies_match_redis_over_resp2_and_resp3() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    for resp3 in [false, true] {
        for (name, script) in all_scripts() {
            compare(&redis, &srv, resp3, name, script);
        }
    }
}

fn cmd(c: &mut Connection, args: &[&str]) -> Value {
    run(c, args)
}

/// Poll INFO until exactly `n` clients are blocked (bounded; never a blind sleep).
fn wait_blocked(c: &mut Connection, n: usize) {
    let t0 = std::time::Instant::now();
    let want = format!("blocked_clients:{n}\r");
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        if info.contains(&want) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "never {n} blocked: {info}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two consumers block in XREADGROUP and one in XREAD `$`; XADDs from a third client wake
/// them: each group reader gets a different entry, the plain reader gets the new one.
#[test]
fn blocked_readers_are_woken_by_xadd() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    cmd(&mut c, &["XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM"]);
    let addr = srv.addr();
    let spawn = |args: Vec<&'static str>| {
        std::thread::spawn(move || {
            let mut c = connect(addr, false);
            run(&mut c, &args)
        })
    };
    let a = spawn(vec![
        "XREADGROUP",
        "GROUP",
        "g",
        "w1",
        "BLOCK",
        "5000",
        "STREAMS",
        "jobs",
        ">",
    ]);
    let b = spawn(vec![
        "XREADGROUP",
        "GROUP",
        "g",
        "w2",
        "BLOCK",
        "5000",
        "STREAMS",
        "jobs",
        ">",
    ]);
    let x = spawn(vec!["XREAD", "BLOCK", "5000", "STREAMS", "jobs", "$"]);
    // Readiness: all three are blocked (polled, never slept blind).
    wait_blocked(&mut c, 3);
    cmd(&mut c, &["XADD", "jobs", "1-1", "n", "1"]);
    cmd(&mut c, &["XADD", "jobs", "1-2", "n", "2"]);
    let (ra, rb, rx) = (a.join().unwrap(), b.join().unwrap(), x.join().unwrap());
    let ids = |v: &Value| -> Vec<String> {
        let s = format!("{v:?}");
        ["1-1", "1-2"]
            .iter()
            .filter(|id| s.contains(*id))
            .map(|s| s.to_string())
            .collect()
    };
    let (ia, ib) = (ids(&ra), ids(&rb));
    assert_eq!(
        ia.len() + ib.len(),
        2,
        "each entry to exactly one consumer: {ra:?} {rb:?}"
    );
    assert!(
        !ia.is_empty() && !ib.is_empty(),
        "both consumers served: {ra:?} {rb:?}"
    );
    assert!(ids(&rx).contains(&"1-1".to_string()), "{rx:?}");
    let pending = cmd(&mut c, &["XPENDING", "jobs", "g"]);
    match &pending {
        Value::Array(v) => assert_eq!(v[0], Value::Int(2), "{pending:?}"),
        v => panic!("{v:?}"),
    }
    // A blocked group reader whose group is destroyed gets NOGROUP.
    let d = spawn(vec![
        "XREADGROUP",
        "GROUP",
        "g",
        "w3",
        "BLOCK",
        "5000",
        "STREAMS",
        "jobs",
        ">",
    ]);
    wait_blocked(&mut c, 1);
    cmd(&mut c, &["XGROUP", "DESTROY", "jobs", "g"]);
    let rd = d.join().unwrap();
    assert!(format!("{rd:?}").contains("NOGROUP"), "{rd:?}");
    // A blocked group reader whose stream is deleted gets UNBLOCKED (Redis 7.0).
    cmd(&mut c, &["XGROUP", "CREATE", "jobs", "g2", "$"]);
    let e = spawn(vec![
        "XREADGROUP",
        "GROUP",
        "g2",
        "w4",
        "BLOCK",
        "5000",
        "STREAMS",
        "jobs",
        ">",
    ]);
    wait_blocked(&mut c, 1);
    cmd(&mut c, &["DEL", "jobs"]);
    let re = e.join().unwrap();
    let re = format!("{re:?}");
    assert!(
        re.contains("UNBLOCKED") && re.contains("the stream key no longer exists"),
        "{re}"
    );
    // A timeout answers a null.
    let t = run(&mut c, &["XREAD", "BLOCK", "50", "STREAMS", "jobs", "$"]);
    assert_eq!(t, Value::Nil);
}

/// DUMP/RESTORE and COPY keep entries, IDs, groups and pending entries.
#[test]
fn dump_restore_and_copy_keep_groups() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    for i in 1..=300 {
        let id = format!("{i}-1");
        cmd(&mut c, &["XADD", "s", &id, "f", "v", "n", &i.to_string()]);
    }
    cmd(&mut c, &["XDEL", "s", "7-1"]);
    cmd(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
    cmd(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "10",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let payload: Vec<u8> = redis::cmd("DUMP").arg("s").query(&mut c).unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("s2")
        .arg(0)
        .arg(payload)
        .query(&mut c)
        .unwrap();
    cmd(&mut c, &["COPY", "s", "s3"]);
    for k in ["s", "s2", "s3"] {
        assert_eq!(cmd(&mut c, &["XLEN", k]), Value::Int(299), "{k}");
        let p = mask(
            cmd(&mut c, &["XPENDING", k, "g", "-", "+", "100"]),
            "xpending",
        );
        assert_eq!(
            p,
            mask(
                cmd(&mut c, &["XPENDING", "s", "g", "-", "+", "100"]),
                "xpending"
            )
        );
        let info = cmd(&mut c, &["XINFO", "GROUPS", k]);
        assert!(format!("{info:?}").contains("11-1"), "{k}: {info:?}");
    }
    assert_eq!(
        cmd(&mut c, &["XRANGE", "s2", "-", "+"]),
        cmd(&mut c, &["XRANGE", "s", "-", "+"])
    );
    let info = format!("{:?}", cmd(&mut c, &["XINFO", "STREAM", "s2"]));
    assert!(info.contains("7-1"), "max deleted id kept: {info}");
}

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

/// XINFO STREAM FULL with consumers' seen-time masked (Redis does not log it either: a
/// replayed XCLAIM sees the consumer at replay time).
fn full_info(c: &mut Connection, key: &str) -> Value {
    fn walk(v: Value) -> Value {
        match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut seen = false;
                for x in items {
                    let x = match x {
                        Value::Int(_) if seen => Value::Int(0),
                        x => walk(x),
                    };
                    seen = matches!(&x, Value::BulkString(b) if b == b"seen-time");
                    out.push(x);
                }
                Value::Array(out)
            }
            v => v,
        }
    }
    walk(run(c, &["XINFO", "STREAM", key, "FULL", "COUNT", "0"]))
}

fn workload(c: &mut Connection) {
    for i in 0..500 {
        line(c, &format!("XADD log MAXLEN ~ 300 * n {i} kind event"));
        line(c, &format!("XADD jobs * job {i}"));
    }
    for cmd in [
        "XGROUP CREATE jobs workers 0",
        "XGROUP CREATE jobs audit $",
        "XREADGROUP GROUP workers a COUNT 40 STREAMS jobs >",
        "XREADGROUP GROUP workers b COUNT 30 STREAMS jobs >",
        "XREADGROUP GROUP workers n NOACK COUNT 5 STREAMS jobs >",
        "XREADGROUP GROUP workers a STREAMS jobs 0",
    ] {
        line(c, cmd);
    }
    let first = match run(c, &["XRANGE", "jobs", "-", "+", "COUNT", "3"]) {
        Value::Array(v) => v
            .into_iter()
            .map(|e| match e {
                Value::Array(mut p) => match p.remove(0) {
                    Value::BulkString(b) => String::from_utf8(b).unwrap(),
                    v => panic!("{v:?}"),
                },
                v => panic!("{v:?}"),
            })
            .collect::<Vec<_>>(),
        v => panic!("{v:?}"),
    };
    let (a, b, c2) = (&first[0], &first[1], &first[2]);
    line(c, &format!("XACK jobs workers {a}"));
    line(c, &format!("XCLAIM jobs workers b 0 {b} {c2}"));
    line(c, &format!("XDEL jobs {c2}"));
    line(c, "XAUTOCLAIM jobs workers c 0 0 COUNT 10");
    line(c, "XTRIM jobs MAXLEN ~ 400");
    line(c, "XGROUP CREATECONSUMER jobs audit idle");
}

/// The append-only log replays streams to the same entries, groups, pending entries
/// (owners, delivery times and counts), read counters and IDs; a snapshot keeps them too.
#[test]
fn the_log_and_snapshots_keep_streams_and_groups() {
    let dir = testkit::TempDir::new("rcache-stream");
    let d = dir.path().display().to_string();
    let start = |aof: bool| {
        let mut b = testkit::RcacheProcess::builder(BIN).args(["--dir", &d, "--save", ""]);
        if aof {
            b = b.args(["--appendonly", "yes", "--appendfsync", "always"]);
        }
        b.start()
    };
    let p = start(true);
    let mut c = connect(p.addr(), false);
    workload(&mut c);
    let keys = ["log", "jobs"];
    let before: Vec<Value> = keys.iter().map(|k| full_info(&mut c, k)).collect();
    let ranges: Vec<Value> = keys
        .iter()
        .map(|k| run(&mut c, &["XRANGE", k, "-", "+"]))
        .collect();
    p.sigkill();
    let p = start(true);
    let mut c = connect(p.addr(), false);
    same_as_before(&mut c, &keys, &before, "after replaying the log");
    for (k, range) in keys.iter().zip(&ranges) {
        assert_eq!(&run(&mut c, &["XRANGE", k, "-", "+"]), range, "{k}");
    }
    // A snapshot (the log off) keeps them as well.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    drop(c);
    p.sigkill();
    std::fs::remove_dir_all(dir.path().join("appendonlydir")).ok();
    let p = start(false);
    let mut c = connect(p.addr(), false);
    same_as_before(&mut c, &keys, &before, "after the snapshot");
}

/// Each stream's XINFO STREAM FULL equals what it was before the restart.
fn same_as_before(c: &mut Connection, keys: &[&str], before: &[Value], when: &str) {
    for (k, was) in keys.iter().zip(before) {
        let now = full_info(c, k);
        assert!(now == *was, "{k} {when}: {}", first_diff(was, &now));
    }
}

/// Where two replies first differ (a path of indexes and both sides there).
fn first_diff(a: &Value, b: &Value) -> String {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return format!("[{i}] {}", first_diff(p, q));
                }
            }
            format!("lengths {} vs {}", x.len(), y.len())
        }
        _ => format!("{a:?} vs {b:?}"),
    }
}

/// A reader blocked on several streams is served for the stream that was written, alone —
/// even when one transaction writes two of them, and for a group reader whose other stream
/// was deleted meanwhile — byte for byte as Redis 7.0 answers.
#[test]
fn a_reader_blocked_on_several_streams_gets_the_written_one() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let script = |addr: std::net::SocketAddr| -> Vec<String> {
        let mut c = connect(addr, false);
        let mut out = Vec::new();
        line(&mut c, "FLUSHALL");
        line(&mut c, "XADD a 1-1 f v");
        line(&mut c, "XADD b 1-1 f v");
        // (setup, the blocked read, the writes that serve it)
        let cases: [(&[&str], &str, &[&str]); 3] = [
            (
                &[],
                "XREAD BLOCK 5000 STREAMS a b $ $",
                &["MULTI", "XADD a 2-1 f v", "XADD b 2-1 f v", "EXEC"],
            ),
            (&[], "XREAD BLOCK 5000 STREAMS a b $ $", &["XADD b 3-1 f v"]),
            (
                &["XGROUP CREATE a g $", "XGROUP CREATE b g $"],
                "XREADGROUP GROUP g c BLOCK 5000 STREAMS a b > >",
                &["DEL b", "XADD a 4-1 f v"],
            ),
        ];
        for (setup, block, writes) in cases {
            for w in setup {
                line(&mut c, w);
            }
            let mut r = testkit::RawConn::connect(addr);
            r.send_cmd(&block.split(' ').collect::<Vec<_>>());
            wait_blocked(&mut c, 1);
            for w in writes {
                line(&mut c, w);
            }
            out.push(format!("{block} → {}", r.reply()));
        }
        out
    };
    assert_eq!(script(srv.addr()), script(redis.addr()));
}
