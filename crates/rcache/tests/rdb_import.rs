//! A Redis 7 user's dump.rdb with streams and functions comes over whole: a real
//! redis-server builds streams with XADD / XGROUP / XREADGROUP / XACK / XCLAIM / XDEL /
//! XTRIM (several nodes, deleted entries, pending entries of deleted entries, an idle
//! consumer, an emptied stream, a big LZF-compressed one) and loads two function libraries;
//! it SAVEs and keeps running, rcache imports the file, and both answer XINFO STREAM FULL,
//! XINFO GROUPS, XRANGE, XPENDING, FUNCTION LIST and FCALL the same — and keep answering
//! the same after the same new writes (but for the times those writes stamp). A library rcache cannot load refuses the file, by
//! name.
//!
//! redis-server missing: see `testkit::require_tool` (RCACHE_ALLOW_MISSING_TOOLS=1 skips).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis::Value;
use testkit::{wait_for, RcacheProcess, TempDir};

#[allow(dead_code)] // info_field is for the other persistence tests
mod common;
use common::client;

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

const LIB1: &str = "#!lua name=mylib\n\
    redis.register_function('getk', function(keys, args) return redis.call('GET', keys[1]) end)\n\
    redis.register_function{function_name='echo_ro', callback=function(keys, args) return args[1] end, flags={'no-writes'}, description='echoes'}";
const LIB2: &str =
    "#!lua name=lib2\nredis.register_function('xlen', function(keys) return redis.call('XLEN', keys[1]) end)";

/// redis-server on a free port writing to `dir`; killed on drop.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(bin: &Path, dir: &Path) -> (Redis, redis::Connection) {
    let port = testkit::process::free_port();
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Redis(child);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    wait_for("redis-server", Duration::from_secs(20), || {
        testkit::ping_ready(addr).then_some(())
    });
    let c = redis::Client::open(format!("redis://{addr}"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap();
    (r, c)
}

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

/// Build the streams and libraries in Redis.
fn fill(c: &mut redis::Connection) {
    // A big stream first, with Redis's default node size: large listpacks, LZF-compressed.
    for i in 0..300 {
        let v = format!("value number {i} of a rather repetitive stream entry");
        q(
            c,
            &[
                "XADD",
                "big",
                &format!("{}-{}", 1000 + i / 7, i % 7),
                "payload",
                &v,
                "n",
                &i.to_string(),
            ],
        );
    }
    q(c, &["XDEL", "big", "1000-3", "1010-0"]);
    q(c, &["XGROUP", "CREATE", "big", "readers", "0"]);
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "readers",
            "r1",
            "COUNT",
            "150",
            "STREAMS",
            "big",
            ">",
        ],
    );

    // Small nodes from here on: several per stream.
    q(c, &["CONFIG", "SET", "stream-node-max-entries", "4"]);
    for i in 1..=12u64 {
        let id = format!("{i}-{}", i % 3);
        match i % 4 {
            0 => q(c, &["XADD", "s", &id, "c", "only", "d", &i.to_string()]),
            1 => q(
                c,
                &[
                    "XADD",
                    "s",
                    &id,
                    "a",
                    &i.to_string(),
                    "b",
                    "text",
                    "e",
                    "3.5",
                ],
            ),
            _ => q(
                c,
                &[
                    "XADD",
                    "s",
                    &id,
                    "a",
                    &(-(i as i64)).to_string(),
                    "b",
                    "text",
                ],
            ),
        };
    }
    q(c, &["XDEL", "s", "1-1", "6-0"]);
    q(c, &["XGROUP", "CREATE", "s", "g1", "0"]);
    q(c, &["XGROUP", "CREATE", "s", "g2", "$"]);
    q(c, &["XGROUP", "CREATE", "s", "g3", "5-2"]);
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    );
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
    );
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g3",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
    );
    q(c, &["XACK", "s", "g1", "3-0"]);
    q(c, &["XGROUP", "CREATECONSUMER", "s", "g1", "carol"]);
    // A pending entry whose entry is deleted, and one claimed by another consumer.
    q(c, &["XDEL", "s", "5-2"]);
    q(c, &["XCLAIM", "s", "g1", "carol", "0", "2-2"]);
    q(c, &["XADD", "s", "20-0", "z", "1"]);
    q(
        c,
        &["XREADGROUP", "GROUP", "g2", "dave", "STREAMS", "s", ">"],
    );

    // An emptied stream that keeps its group and a pending entry.
    q(c, &["XADD", "empty", "1-0", "f", "v"]);
    q(c, &["XGROUP", "CREATE", "empty", "g", "0"]);
    q(
        c,
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "empty", ">"],
    );
    q(c, &["XDEL", "empty", "1-0"]);

    // A trimmed stream.
    for i in 1..=10 {
        q(
            c,
            &["XADD", "trimmed", &format!("{i}-0"), "i", &i.to_string()],
        );
    }
    q(c, &["XTRIM", "trimmed", "MAXLEN", "4"]);
    q(c, &["XGROUP", "CREATE", "trimmed", "late", "0"]);

    q(c, &["SET", "plain", "a string"]);
    q(c, &["FUNCTION", "LOAD", LIB1]);
    q(c, &["FUNCTION", "LOAD", LIB2]);
}

/// A reply with the parts that may differ dropped: the rax shape in XINFO STREAM (rcache's
/// blocks are not Redis's nodes) and the idle times in XPENDING's extended form.
fn strip_radix(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut out = Vec::new();
            let mut it = items.into_iter();
            while let Some(k) = it.next() {
                let drop = matches!(&k, Value::BulkString(b) if b.starts_with(b"radix-tree-"));
                let v = it.next();
                if !drop {
                    out.push(k);
                    out.extend(v);
                }
            }
            Value::Array(out)
        }
        v => v,
    }
}

fn strip_idle(v: Value) -> Value {
    match v {
        Value::Array(rows) => Value::Array(
            rows.into_iter()
                .map(|r| match r {
                    // [id, consumer, idle ms, deliveries]
                    Value::Array(mut f) if f.len() == 4 => {
                        f[2] = Value::Nil;
                        Value::Array(f)
                    }
                    r => r,
                })
                .collect(),
        ),
        v => v,
    }
}

/// FUNCTION LIST with its lists in a fixed order (Redis lists them in dictionary order).
fn sorted(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(sorted).collect();
            if items.iter().all(|i| matches!(i, Value::Array(_)))
                || items.iter().all(|i| matches!(i, Value::BulkString(_))) && items.len() < 4
            {
                items.sort_by_key(|i| format!("{i:?}"));
            }
            Value::Array(items)
        }
        v => v,
    }
}

/// A reply with its unix-ms times (seen and delivery times) masked: writes made on each
/// server separately stamp each its own clock.
fn mask_times(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(mask_times).collect()),
        Value::Int(t) if t > 1_000_000_000_000 => Value::Nil,
        v => v,
    }
}

/// Where two replies first differ (a path of array indexes, and the two sides), if they do.
fn first_difference(got: &Value, want: &Value, at: String) -> Option<String> {
    match (got, want) {
        (Value::Array(g), Value::Array(w)) => {
            for (k, (a, b)) in g.iter().zip(w).enumerate() {
                if let Some(d) = first_difference(a, b, format!("{at}[{k}]")) {
                    return Some(d);
                }
            }
            (g.len() != w.len())
                .then(|| format!("{at}: rcache has {} items, Redis {}", g.len(), w.len()))
        }
        (g, w) => (g != w).then(|| format!("{at}: rcache {g:?}, Redis {w:?}")),
    }
}

/// What a comparison does to both replies first.
type Normalize = fn(Value) -> Value;

/// Every comparison, on both servers.
fn compare(redis: &mut redis::Connection, rc: &mut redis::Connection, when: &str, times: bool) {
    let streams: [(&str, &[&str]); 4] = [
        ("big", &["readers"]),
        ("s", &["g1", "g2", "g3"]),
        ("empty", &["g"]),
        ("trimmed", &["late"]),
    ];
    let mut checks: Vec<(Vec<String>, Normalize)> = Vec::new();
    let id = |v: Value| v;
    for (key, groups) in streams {
        let k = key.to_string();
        let cmd = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        checks.push((
            cmd(&["XINFO", "STREAM", &k, "FULL", "COUNT", "0"]),
            strip_radix,
        ));
        checks.push((cmd(&["XINFO", "STREAM", &k]), strip_radix));
        checks.push((cmd(&["XINFO", "GROUPS", &k]), id));
        checks.push((cmd(&["XRANGE", &k, "-", "+"]), id));
        checks.push((cmd(&["XREVRANGE", &k, "+", "-", "COUNT", "5"]), id));
        checks.push((cmd(&["XLEN", &k]), id));
        checks.push((cmd(&["TYPE", &k]), id));
        for g in groups {
            checks.push((cmd(&["XPENDING", &k, g]), id));
            checks.push((cmd(&["XPENDING", &k, g, "-", "+", "1000"]), strip_idle));
        }
    }
    checks.push((
        vec!["FUNCTION".into(), "LIST".into(), "WITHCODE".into()],
        sorted,
    ));
    checks.push((
        vec!["FCALL".into(), "getk".into(), "1".into(), "plain".into()],
        id,
    ));
    checks.push((
        vec!["FCALL_RO".into(), "echo_ro".into(), "0".into(), "hi".into()],
        id,
    ));
    checks.push((
        vec!["FCALL".into(), "xlen".into(), "1".into(), "s".into()],
        id,
    ));
    for (args, norm) in checks {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mask = |v: Value| if times { v } else { mask_times(v) };
        let want = mask(norm(q(redis, &a)));
        let got = mask(norm(q(rc, &a)));
        if let Some(d) = first_difference(&got, &want, String::new()) {
            panic!("{when}: {}: rcache and Redis differ at {d}", args.join(" "));
        }
    }
}

#[test]
fn streams_and_functions_come_over_from_a_redis_dump_rdb() {
    let Some(redis_server) = testkit::require_tool("redis-server") else {
        return;
    };
    let rdir = TempDir::new("rcache-import-redis");
    let (_redis, mut r) = start_redis(&redis_server, rdir.path());
    fill(&mut r);
    q(&mut r, &["SAVE"]);
    let dump = rdir.path().join("dump.rdb");

    let dir = TempDir::new("rcache-import");
    let p = RcacheProcess::builder(BIN)
        .args(["--dir", &dir.path().display().to_string()])
        .args(["--load-rdb", &dump.display().to_string()])
        .start();
    let mut c = client(&p);
    assert!(
        !p.output().contains("skipped"),
        "nothing is skipped: {}",
        p.output()
    );
    compare(&mut r, &mut c, "after the import", true);

    // The same writes on both: the imported streams and groups behave as Redis's.
    for conn in [&mut r, &mut c] {
        q(conn, &["XADD", "s", "30-0", "a", "1", "b", "text"]);
        q(conn, &["XADD", "empty", "2-0", "f", "again"]);
        q(
            conn,
            &["XREADGROUP", "GROUP", "g2", "dave", "STREAMS", "s", ">"],
        );
        q(
            conn,
            &[
                "XREADGROUP",
                "GROUP",
                "g1",
                "erin",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ],
        );
        q(
            conn,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "empty", ">"],
        );
        q(conn, &["XACK", "s", "g1", "2-2", "4-1"]);
        q(conn, &["XCLAIM", "s", "g1", "alice", "0", "7-1", "JUSTID"]);
        q(conn, &["XDEL", "big", "1020-1"]);
        q(
            conn,
            &[
                "XREADGROUP",
                "GROUP",
                "readers",
                "r2",
                "COUNT",
                "10",
                "STREAMS",
                "big",
                ">",
            ],
        );
    }
    compare(&mut r, &mut c, "after the same writes", false);
}

#[test]
fn a_library_rcache_cannot_load_refuses_the_file_by_name() {
    // REDIS0010, FUNCTION2 with code that is not Lua, a string key, EOF, checksum 0
    // (disabled).
    let code = b"#!lua name=broken\nthis is not lua at all";
    let mut f = b"REDIS0010".to_vec();
    f.push(0xF5);
    f.push(code.len() as u8);
    f.extend_from_slice(code);
    f.extend_from_slice(&[0x00, 1, b'k', 1, b'v', 0xFF]);
    f.extend_from_slice(&[0; 8]);
    let dir = TempDir::new("rcache-import-bad");
    let path = dir.path().join("dump.rdb");
    std::fs::write(&path, &f).unwrap();
    let p = RcacheProcess::builder(BIN)
        .args(["--dir", &dir.path().display().to_string()])
        .no_wait()
        .start();
    let status = p
        .wait_exit(Duration::from_secs(20))
        .expect("the server must refuse to start");
    assert!(!status.success());
    let log = p.output();
    assert!(log.contains("function library \"broken\""), "{log}");
    assert!(log.contains(&path.display().to_string()), "{log}");
}
