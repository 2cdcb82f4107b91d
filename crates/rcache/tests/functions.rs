//! Redis 7's functions against Debian's real redis-server (7.0): the same command sequences —
//! FUNCTION LOAD in both register_function forms, every load-time and run-time error, LIST,
//! STATS, FCALL / FCALL_RO, DELETE, FLUSH, DUMP → RESTORE with each policy, `maxmemory` with
//! and without `allow-oom` — give the same replies over RESP2 and RESP3 (FUNCTION LIST
//! sorted: Redis lists in hash order, rcache by name; a DUMP payload is each server's own,
//! so it is restored where it was dumped). FUNCTION KILL of a busy no-writes function is
//! compared step by step. Then what only rcache can show: libraries surviving a `kill -9`
//! through a snapshot, through the append-only log (LOAD, DELETE, FLUSH, RESTORE replayed)
//! and through a log rewrite whose base carries them.

use redis::{Connection, Value};
use std::net::SocketAddr;
use std::time::Duration;
use testkit::client::connect;
use testkit::proxy::Backend;
use testkit::{wait_for, RawConn, RcacheProcess, TempDir, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

/// Run one command; `@PAYLOAD` stands for the last FUNCTION DUMP this connection took.
fn run(c: &mut Connection, args: &[&str], payload: &[u8]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        if *a == "@PAYLOAD" {
            cmd.arg(payload);
        } else {
            cmd.arg(*a);
        }
    }
    match cmd.query::<Value>(c) {
        Ok(v) => v,
        Err(e) => Value::SimpleString(format!("ERR-REPLY {e}")),
    }
}

/// FUNCTION LIST in a canonical order: libraries, and each library's functions, sorted
/// (their shapes — RESP2 arrays or RESP3 maps — are left as they are).
fn sorted(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(sorted).collect();
            if !items.is_empty()
                && items
                    .iter()
                    .all(|x| matches!(x, Value::Array(_) | Value::Map(_)))
            {
                items.sort_by_key(|x| format!("{x:?}"));
            }
            Value::Array(items)
        }
        Value::Map(pairs) => Value::Map(pairs.into_iter().map(|(k, x)| (k, sorted(x))).collect()),
        v => v,
    }
}

/// Run `script` on both servers (functions and keys flushed first) and compare every reply.
/// `["@DUMP"]` takes a FUNCTION DUMP on each server, for a later `@PAYLOAD`.
fn compare(redis: &Backend, srv: &TestServer, resp3: bool, name: &str, script: &[&[&str]]) {
    let mut r = connect(redis.addr(), resp3);
    let mut o = connect(srv.addr(), resp3);
    let (mut pr, mut po) = (Vec::new(), Vec::new());
    for c in [&mut r, &mut o] {
        let _: () = redis::cmd("FLUSHALL").query(c).unwrap();
        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(c).unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg("0")
            .query(c)
            .unwrap();
    }
    for (i, cmd) in script.iter().enumerate() {
        if cmd == &["@DUMP"] {
            pr = redis::cmd("FUNCTION").arg("DUMP").query(&mut r).unwrap();
            po = redis::cmd("FUNCTION").arg("DUMP").query(&mut o).unwrap();
            continue;
        }
        let (mut a, mut b) = (run(&mut r, cmd, &pr), run(&mut o, cmd, &po));
        if cmd.len() > 1
            && cmd[0].eq_ignore_ascii_case("function")
            && cmd[1].eq_ignore_ascii_case("list")
        {
            (a, b) = (sorted(a), sorted(b));
        }
        assert_eq!(
            a, b,
            "{name} (resp3 {resp3}) step {i}: {cmd:?}\n redis: {a:?}\nrcache: {b:?}"
        );
    }
}

const LIB_TEST: &str =
    "#!lua name=test\nredis.register_function('test', function(keys, args) return 'hello' end)";
const LIB_TEST1: &str =
    "#!lua name=test\nredis.register_function('test', function(keys, args) return 'hello1' end)";
const LIB_KV: &str = "#!lua name=kv\nredis.register_function('kv', function(keys, args) return {keys[1], args[1], #keys, #args} end)";
const LIB_TWO: &str = "#!lua name=two\nlocal function add1(a) return a + 1 end\nredis.register_function('f1', function() return add1(1) end)\nredis.register_function('f2', function() return add1(2) end)";
const LIB_FLAGS: &str = "#!lua name=flagged\nredis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes', 'allow-stale'}, description='reads a key'}\nredis.register_function{function_name='rw', callback=function(keys) return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}\nredis.register_function{function_name='w', callback=function(keys) return redis.call('set', keys[1], 'w') end}\nredis.register_function{function_name='oom', callback=function(keys) return redis.call('set', keys[1], 'o') end, flags={'allow-oom', 'allow-cross-slot-keys', 'no-cluster'}}";
const LIB_ERRORS: &str = "#!lua name=errs\nredis.register_function('g', function() return KEYS end)\nredis.register_function('e', function() error('oops') end)\nredis.register_function('c', function() return redis.call('nosuch') end)\nredis.register_function('t', function() return {err='MY custom'} end)\nredis.register_function('v', function() return redis.REDIS_VERSION end)\nredis.register_function('x', function() x = 5 end)\nredis.register_function('r', function() return redis.register_function end)\nredis.register_function('p', function() return redis.pcall('incr', 'str') end)";

const LOADS: &[&[&str]] = &[
    &["FUNCTION", "LOAD", LIB_TEST],
    &["FCALL", "test", "0"],
    &["FCALL", "TEST", "0"],
    &["FUNCTION", "LOAD", LIB_TEST1],
    &["FUNCTION", "LOAD", "REPLACE", LIB_TEST1],
    &["FCALL", "test", "0"],
    &["FUNCTION", "LOAD", "REPLACE", "#!lua name=test\nerror"],
    &["FCALL", "test", "0"],
    &["FUNCTION", "LOAD", "foo", "bar", LIB_TEST],
    &["FUNCTION", "LOAD", "REPLACE"],
    &["FUNCTION", "LOAD", "REPLACE", "replace", LIB_TEST],
    &["FUNCTION", "LOAD"],
    &["FUNCTION", "LOAD", ""],
    &["FUNCTION", "LOAD", "x"],
    &["FUNCTION", "LOAD", "#!lua name=lib"],
    &["FUNCTION", "LOAD", "#!lua name=a name=b\n"],
    &["FUNCTION", "LOAD", "#!lua foo=bar name=x\n"],
    &["FUNCTION", "LOAD", "#!lua\n"],
    &["FUNCTION", "LOAD", "#!lua name=a-b\n"],
    &["FUNCTION", "LOAD", "#!lua name=\"q x\"\n"],
    &["FUNCTION", "LOAD", "#!lua name=\"qx\n"],
    &["FUNCTION", "LOAD", "#! name=x\n"],
    &["FUNCTION", "LOAD", "#!bad_engine name=x\n"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=\"quoted\"\nredis.register_function('quoted', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!LuA  Name=mixed  \nredis.register_function('mixed', function() return 2 end)",
    ],
    &["FCALL", "quoted", "0"],
    &["FCALL", "mixed", "0"],
    &["FUNCTION", "LOAD", "#!lua name=bad\nbad script"],
    &["FUNCTION", "LOAD", "#!lua name=bad\nlocal a = 1"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=other\nredis.register_function('TEST', function() return 1 end)",
    ],
    &["FUNCTION", "LOAD", LIB_KV],
    &["FCALL", "kv", "1", "k", "a", "b"],
    &["FCALL", "kv", "0"],
    &["FUNCTION", "LOAD", LIB_TWO],
    &["FCALL", "f1", "0"],
    &["FCALL", "f2", "0"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "LIST", "WITHCODE"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "t*"],
    &["FUNCTION", "LIST", "libraryname", "TW?", "withcode"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"],
    &["FUNCTION", "LIST", "bad_argument"],
    &["FUNCTION", "LIST", "libraryname"],
    &["FUNCTION", "LIST", "withcode", "withcode"],
    &[
        "FUNCTION",
        "LIST",
        "withcode",
        "libraryname",
        "foo",
        "libraryname",
        "foo",
    ],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "DELETE", "two"],
    &["FUNCTION", "DELETE", "two"],
    &["FUNCTION", "DELETE"],
    &["FCALL", "f1", "0"],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "KILL"],
    &["FUNCTION", "HELP"],
    &["FUNCTION", "NOPE"],
    &["FUNCTION"],
    &["FUNCTION", "FLUSH", "bad_arg"],
    &["FUNCTION", "flush", "sync", "extra_arg"],
    &["FUNCTION", "FLUSH", "ASYNC"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "STATS"],
];

const SANDBOX: &[&[&str]] = &[
    &["FUNCTION", "LOAD", "#!lua name=lib\na = 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nreturn math.random()"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nreturn redis.call('ping')"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nreturn redis.setresp(3)"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nreturn redis.set_repl(redis.REPL_NONE)"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nerror('boom')"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nmt = getmetatable(_G)"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nreturn _G"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.math.random()"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.redis.call('ping')"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nlocal r = redis\nr.x = 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function()"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f1')"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f1', function() return 1 end, {}, 'description', 'extra arg')"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function(nil, function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f2', 'not a function')"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('test\\0test', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f1', function() return 1 end)\nredis.register_function('f1', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name=function() return 1 end, callback=function() return 'hello' end, description='some desc'}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', callback='bad', description='some desc'}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 'hello' end, description=function() return 1 end}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 'hello' end, description='desc', some_unknown='unknown'}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{callback=function() return 'hello' end, description='desc'}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', description='desc'}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 1 end, flags='bad flags type'}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={function() return 1 end}}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={'unknown'}}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={1}}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{[1]=7, callback=function() return 1 end}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{[true]=7, callback=function() return 1 end}"],
    &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{FUNCTION_NAME=7, Callback=function() return 7 end, description=5, flags={'NO-WRITES', nil, 'bogus'}}"],
    &["FCALL", "7", "0"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "LOAD", "#!lua name=lib2\nredis.log(redis.LOG_WARNING, 'hi')\nlocal n = redis.LOG_NOTICE\nredis.register_function('n', function() return {n, redis.REDIS_VERSION_NUM} end)"],
    &["FCALL", "n", "0"],
    &["FUNCTION", "LOAD", "#!lua name=sneaky\nlocal lib = redis\nlib.register_function('s', function() lib.redis = redis end)\nlib.register_function('s2', function() lib.register_function('t', function() end) end)"],
    &["FCALL", "s", "0"],
    &["FCALL", "s2", "0"],
    &["FUNCTION", "LOAD", LIB_ERRORS],
    &["SET", "str", "abc"],
    &["FCALL", "g", "0"],
    &["FCALL", "e", "0"],
    &["FCALL", "c", "0"],
    &["FCALL", "t", "0"],
    &["FCALL", "v", "0"],
    &["FCALL", "x", "0"],
    &["FCALL", "r", "0"],
    &["FCALL", "p", "0"],
    &["FUNCTION", "STATS"],
];

const CALLS: &[&[&str]] = &[
    &["FUNCTION", "LOAD", LIB_TEST],
    &["FCALL", "nope", "0"],
    &["FCALL", "nope", "x"],
    &["FCALL", "test", "bad_arg"],
    &["FCALL", "test", "10", "key1"],
    &["FCALL", "test", "-1", "key1"],
    &["FCALL", "test"],
    &["FCALL_RO", "test", "0"],
    &["FUNCTION", "LOAD", LIB_FLAGS],
    &["FUNCTION", "LIST", "LIBRARYNAME", "flagged"],
    &["SET", "k", "v"],
    &["FCALL_RO", "ro", "1", "k"],
    &["FCALL", "ro", "1", "k"],
    &["FCALL", "rw", "1", "k"],
    &["FCALL_RO", "rw", "1", "k"],
    &["FCALL_RO", "w", "1", "k"],
    &["FCALL", "w", "1", "k"],
    &["GET", "k"],
    &["FCALL", "oom", "1", "k"],
    &["GET", "k"],
    &["COMMAND", "GETKEYS", "FCALL", "test", "1", "x", "foo"],
    &["COMMAND", "GETKEYS", "FCALL_RO", "test", "1", "x", "foo"],
    // Past maxmemory: a writing function is refused before it runs; `no-writes` and
    // `allow-oom` ones run; LOAD and RESTORE are refused.
    &["CONFIG", "SET", "maxmemory", "1"],
    &["FCALL", "w", "1", "k"],
    &["FCALL_RO", "w", "1", "k"],
    &["FCALL", "ro", "1", "k"],
    &["FCALL_RO", "ro", "1", "k"],
    &["FCALL", "oom", "1", "k2"],
    &["GET", "k2"],
    &["@DUMP"],
    &["FUNCTION", "LOAD", "REPLACE", LIB_TEST],
    &["FUNCTION", "RESTORE", "@PAYLOAD", "REPLACE"],
    &["CONFIG", "SET", "maxmemory", "0"],
    &["FCALL", "w", "1", "k"],
    &["GET", "k"],
];

const DUMP_RESTORE: &[&[&str]] = &[
    &["FUNCTION", "LOAD", LIB_TEST],
    &["@DUMP"],
    &["FUNCTION", "DELETE", "test"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "RESTORE", "@PAYLOAD"],
    &["FUNCTION", "LIST"],
    &["FCALL", "test", "0"],
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "RESTORE", "@PAYLOAD", "FLUSH"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "RESTORE", "@PAYLOAD", "APPEND"],
    &["FUNCTION", "LOAD", "REPLACE", LIB_TEST1],
    &["FCALL", "test", "0"],
    &["FUNCTION", "RESTORE", "@PAYLOAD", "REPLACE"],
    &["FCALL", "test", "0"],
    &["FUNCTION", "RESTORE", "bad_payload"],
    &["FUNCTION", "RESTORE", "@PAYLOAD", "bad"],
    &["FUNCTION", "RESTORE", "arg1", "args2", "arg3"],
    &["FUNCTION", "LIST"],
    // A function name another library holds refuses the whole payload, REPLACE or not.
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "LOAD", LIB_TWO],
    &["FUNCTION", "LOAD", LIB_KV],
    &["@DUMP"],
    &["FUNCTION", "FLUSH"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=two\nredis.register_function('f6', function() return 7 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib2\nredis.register_function('f2', function() return 5 end)",
    ],
    &["FUNCTION", "RESTORE", "@PAYLOAD"],
    &["FUNCTION", "RESTORE", "@PAYLOAD", "REPLACE"],
    &["FCALL", "f2", "0"],
    &["FCALL", "f6", "0"],
    &["FUNCTION", "RESTORE", "@PAYLOAD", "FLUSH"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "STATS"],
    // FLUSHALL and SCRIPT FLUSH leave functions alone.
    &["FLUSHALL"],
    &["SCRIPT", "FLUSH"],
    &["FCALL", "f1", "0"],
];

#[test]
fn replies_match_redis_over_resp2_and_resp3() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    for resp3 in [false, true] {
        for (name, script) in [
            ("loads", LOADS),
            ("sandbox", SANDBOX),
            ("calls", CALLS),
            ("dump_restore", DUMP_RESTORE),
        ] {
            compare(&redis, &srv, resp3, name, script);
        }
    }
}

const BUSY_FN: &str =
    "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";

/// FUNCTION KILL of a long-running no-writes function, on `addr`: every reply in order
/// (FUNCTION STATS's duration masked).
fn kill_flow(addr: SocketAddr) -> Vec<String> {
    let mut admin = RawConn::connect(addr);
    let mut out = vec![
        admin.request(&["FUNCTION", "FLUSH"]),
        admin.request(&["CONFIG", "SET", "busy-reply-threshold", "50"]),
        admin.request(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function{function_name='spin', callback=function(keys, args) local a = 1 while true do a = a + 1 end end, flags={'no-writes'}}",
        ]),
        admin.request(&["FUNCTION", "KILL"]),
    ];
    let mut runner = RawConn::connect(addr);
    runner.send_cmd(&["FCALL", "spin", "1", "k", "a"]);
    wait_for("BUSY", Duration::from_secs(10), || {
        (admin.request(&["PING"]) == BUSY_FN).then_some(())
    });
    let stats = admin.request(&["FUNCTION", "STATS"]);
    let cut = stats.find("duration_ms").expect("a running script");
    out.push(stats[..cut].to_string());
    out.push(admin.request(&["SCRIPT", "KILL"]));
    out.push(admin.request(&["FUNCTION", "KILL"]));
    out.push(runner.reply());
    wait_for("the function to stop", Duration::from_secs(10), || {
        (admin.request(&["PING"]) == "+PONG\r\n").then_some(())
    });
    out.push(admin.request(&["FUNCTION", "STATS"]));
    out.push(admin.request(&["CONFIG", "SET", "busy-reply-threshold", "5000"]));
    out
}

#[test]
fn function_kill_stops_a_busy_no_writes_function() {
    let srv = TestServer::start();
    let got = kill_flow(srv.addr());
    assert_eq!(got[5], "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n");
    assert_eq!(got[6], "+OK\r\n");
    assert_eq!(
        got[7],
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
    assert!(
        got[4].contains("$4\r\nspin\r\n$7\r\ncommand\r\n*5\r\n$5\r\nFCALL\r\n"),
        "{}",
        got[4]
    );
    if let Some(redis) = Backend::redis() {
        assert_eq!(kill_flow(redis.addr()), got, "the same replies as Redis");
    }
}

fn start(dir: &std::path::Path, aof: bool) -> RcacheProcess {
    let mut b =
        RcacheProcess::builder(BIN).args(["--dir", &dir.display().to_string(), "--save", ""]);
    if aof {
        b = b.args(["--appendonly", "yes", "--appendfsync", "always"]);
    }
    b.start()
}

fn cmd(c: &mut Connection, args: &[&str]) -> Value {
    run(c, args, &[])
}

/// What the server holds that functions are about: FUNCTION LIST WITHCODE, STATS, and
/// what calling each function gives.
fn state(c: &mut Connection) -> Vec<Value> {
    vec![
        cmd(c, &["FUNCTION", "LIST", "WITHCODE"]),
        cmd(c, &["FUNCTION", "STATS"]),
        cmd(c, &["FCALL", "test", "0"]),
        cmd(c, &["FCALL", "ro", "1", "k"]),
        cmd(c, &["FCALL", "kv", "1", "a", "b"]),
        cmd(c, &["FCALL", "f1", "0"]),
        cmd(c, &["GET", "k"]),
    ]
}

/// LOAD, REPLACE, DELETE, FLUSH and RESTORE, and a function's writes: what the log must
/// replay and a snapshot hold.
fn workload(c: &mut Connection) {
    for step in [
        &["FUNCTION", "LOAD", LIB_TWO][..],
        &["FUNCTION", "LOAD", LIB_TEST],
        &["FUNCTION", "LOAD", "REPLACE", LIB_TEST1],
        &["FUNCTION", "DELETE", "two"],
        &["FUNCTION", "LOAD", LIB_FLAGS],
        &["FCALL", "w", "1", "k"],
    ] {
        let r = cmd(c, step);
        assert!(
            !matches!(&r, Value::SimpleString(s) if s.starts_with("ERR-REPLY")),
            "{step:?}: {r:?}"
        );
    }
    let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(c).unwrap();
    assert_eq!(cmd(c, &["FUNCTION", "FLUSH"]), Value::Okay);
    assert_eq!(cmd(c, &["FUNCTION", "LIST"]), Value::Array(vec![]));
    let ok: Value = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(&payload)
        .query(c)
        .unwrap();
    assert_eq!(ok, Value::Okay);
    assert_eq!(
        cmd(c, &["FUNCTION", "LOAD", LIB_KV]),
        Value::BulkString(b"kv".to_vec())
    );
    assert_eq!(
        cmd(c, &["FCALL", "kv", "1", "a", "b"]),
        Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"b".to_vec()),
            Value::Int(1),
            Value::Int(1),
        ])
    );
}

/// Functions survive `kill -9` through the append-only log (every change replayed), through
/// a log rewrite (the base holds them), and through a snapshot with the log off.
#[test]
fn the_log_rewrites_and_snapshots_keep_functions() {
    let dir = TempDir::new("rcache-functions");
    let p = start(dir.path(), true);
    let mut c = connect(p.addr(), false);
    workload(&mut c);
    let before = state(&mut c);
    assert_eq!(
        before[2],
        Value::BulkString(b"hello1".to_vec()),
        "{before:?}"
    );
    drop(c);
    p.sigkill();

    let p = start(dir.path(), true);
    let mut c = connect(p.addr(), false);
    assert_eq!(state(&mut c), before, "after replaying the log");
    // A rewrite: the new base carries the libraries; the incr after it is empty.
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    wait_for("the rewrite to end", Duration::from_secs(60), || {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        (info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrites:1"))
            .then_some(())
    });
    drop(c);
    p.sigkill();

    let p = start(dir.path(), true);
    let mut c = connect(p.addr(), false);
    assert_eq!(state(&mut c), before, "after the rewrite's base");
    // A change after the rewrite is replayed on top of the base.
    assert_eq!(cmd(&mut c, &["FUNCTION", "DELETE", "kv"]), Value::Okay);
    let after_delete = state(&mut c);
    drop(c);
    p.sigkill();
    let p = start(dir.path(), true);
    let mut c = connect(p.addr(), false);
    assert_eq!(state(&mut c), after_delete, "base + incr");
    assert_eq!(
        cmd(&mut c, &["FUNCTION", "LOAD", LIB_KV]),
        Value::BulkString(b"kv".to_vec())
    );

    // A snapshot, with the log off, keeps them too; check-snapshot names them.
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "appendonly", "no"]),
        Value::Okay
    );
    assert_eq!(cmd(&mut c, &["SAVE"]), Value::Okay);
    drop(c);
    p.sigkill();
    std::fs::remove_dir_all(dir.path().join("appendonlydir")).unwrap();
    let report = std::process::Command::new(BIN)
        .arg("check-snapshot")
        .arg(dir.path().join("dump.rcsnap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{text}");
    assert!(
        text.contains("format version 3")
            && text.contains("functions: 3 libraries (flagged, kv, test)"),
        "{text}"
    );
    let p = start(dir.path(), false);
    let mut c = connect(p.addr(), false);
    assert_eq!(state(&mut c), before, "after the snapshot");
}

/// DUMP → FLUSH → RESTORE on a real server, and RESTORE of a payload cut or flipped.
#[test]
fn dump_flush_restore() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    workload(&mut c);
    let before = state(&mut c);
    let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut c).unwrap();
    assert_eq!(cmd(&mut c, &["FUNCTION", "FLUSH"]), Value::Okay);
    for bad in [payload[..payload.len() - 1].to_vec(), {
        let mut b = payload.clone();
        b[5] ^= 0x20;
        b
    }] {
        let err = redis::cmd("FUNCTION")
            .arg("RESTORE")
            .arg(&bad)
            .query::<Value>(&mut c)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("DUMP payload version or checksum are wrong"),
            "{err}"
        );
    }
    let ok: Value = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(&payload)
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, Value::Okay);
    assert_eq!(state(&mut c), before);
}
