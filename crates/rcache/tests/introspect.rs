//! The introspection commands against a real server, through the `redis` crate and raw
//! sockets: SLOWLOG (after DEBUG SLEEP, with threshold 0, trimming, RESET), LATENCY after a
//! slow command, DEBUG SET-ACTIVE-EXPIRE on a manual clock, DEBUG RELOAD (with the
//! append-only log too), ROLE, and the same replies byte for byte as Debian's redis-server
//! for errors and fixed shapes.

use redis::{Connection, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use testkit::proxy::Backend;
use testkit::{wait_for, RawConn, RcacheProcess, TempDir, TestServer};

fn debug_server() -> TestServer {
    TestServer::builder()
        .setting("enable-debug-command", "local")
        .start()
}

fn cmd<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// One SLOWLOG GET entry.
#[derive(Debug)]
struct Entry {
    id: i64,
    micros: i64,
    args: Vec<String>,
    peer: String,
    name: String,
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

fn slowlog(c: &mut Connection, count: i64) -> Vec<Entry> {
    let v: Value = cmd(c, &["SLOWLOG", "GET", &count.to_string()]);
    let Value::Array(items) = v else {
        panic!("{v:?}")
    };
    items
        .into_iter()
        .map(|e| {
            let Value::Array(f) = e else { panic!("{e:?}") };
            assert_eq!(f.len(), 6, "{f:?}");
            let int = |v: &Value| match v {
                Value::Int(n) => *n,
                other => panic!("{other:?}"),
            };
            let Value::Array(args) = &f[3] else {
                panic!("{f:?}")
            };
            assert!(int(&f[1]) > 1_600_000_000, "{f:?}");
            Entry {
                id: int(&f[0]),
                micros: int(&f[2]),
                args: args.iter().map(text).collect(),
                peer: text(&f[4]),
                name: text(&f[5]),
            }
        })
        .collect()
}

/// `addr=` of this connection's CLIENT INFO line.
fn my_addr(c: &mut Connection) -> String {
    let info: String = cmd(c, &["CLIENT", "INFO"]);
    info.split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string()
}

#[test]
fn slowlog_records_a_slow_debug_sleep_at_the_default_threshold() {
    let srv = debug_server();
    let mut c = srv.connection();
    let _: () = cmd(&mut c, &["CLIENT", "SETNAME", "sleeper"]);
    assert_eq!(cmd::<i64>(&mut c, &["SLOWLOG", "LEN"]), 0);
    let _: () = cmd(&mut c, &["DEBUG", "SLEEP", "0.05"]);
    // Fast commands stay out at the default 10 ms.
    for i in 0..20 {
        let _: () = cmd(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    let e = slowlog(&mut c, -1);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].args, ["DEBUG", "SLEEP", "0.05"]);
    assert!(e[0].micros >= 50_000, "{e:?}");
    assert_eq!(e[0].peer, my_addr(&mut c));
    assert_eq!(e[0].name, "sleeper");
    // Another client sees the same log.
    let mut other = srv.connection();
    assert_eq!(cmd::<i64>(&mut other, &["SLOWLOG", "LEN"]), 1);
}

#[test]
fn slowlog_with_threshold_zero_trims_arguments_and_length() {
    let srv = debug_server();
    let mut c = srv.connection();
    let _: () = cmd(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _: () = cmd(&mut c, &["SLOWLOG", "RESET"]);
    let long = "v".repeat(300);
    let _: () = cmd(&mut c, &["SET", "big", &long]);
    let mut push = vec!["RPUSH".to_string(), "list".to_string()];
    push.extend((0..98).map(|i| format!("e{i}")));
    let refs: Vec<&str> = push.iter().map(String::as_str).collect();
    let _: i64 = cmd(&mut c, &refs);
    let e = slowlog(&mut c, 2);
    assert_eq!(e[0].args.len(), 32, "{e:?}");
    assert_eq!(e[0].args[..3], ["RPUSH", "list", "e0"]);
    assert_eq!(e[0].args[30], "e28");
    assert_eq!(e[0].args[31], "... (69 more arguments)");
    assert_eq!(
        e[1].args,
        [
            "SET".to_string(),
            "big".into(),
            format!("{}... (172 more bytes)", "v".repeat(128))
        ]
    );
    assert_eq!(e[0].id, e[1].id + 1);
    // The log keeps slowlog-max-len entries, newest first.
    let _: () = cmd(&mut c, &["CONFIG", "SET", "slowlog-max-len", "5"]);
    for i in 0..20 {
        let _: () = cmd(&mut c, &["SET", &format!("k{i}"), "x"]);
    }
    assert_eq!(cmd::<i64>(&mut c, &["SLOWLOG", "LEN"]), 5);
    let e = slowlog(&mut c, 10);
    assert_eq!(e.len(), 5, "{e:?}");
    assert_eq!(e[0].args, ["SLOWLOG", "LEN"]);
    assert_eq!(e[1].args, ["SET", "k19", "x"]);
    // RESET empties it (and is then logged itself, threshold 0).
    let _: () = cmd(&mut c, &["SLOWLOG", "RESET"]);
    assert_eq!(cmd::<i64>(&mut c, &["SLOWLOG", "LEN"]), 1);
    // -1: nothing more is logged.
    let _: () = cmd(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let _: () = cmd(&mut c, &["SLOWLOG", "RESET"]);
    let _: () = cmd(&mut c, &["DEBUG", "SLEEP", "0.02"]);
    assert_eq!(cmd::<i64>(&mut c, &["SLOWLOG", "LEN"]), 0);
}

#[test]
fn latency_latest_after_a_slow_command() {
    let srv = debug_server();
    let mut c = srv.connection();
    let v: Value = cmd(&mut c, &["LATENCY", "LATEST"]);
    assert_eq!(v, Value::Array(vec![]));
    // Off by default: a slow command leaves no event.
    let _: () = cmd(&mut c, &["DEBUG", "SLEEP", "0.03"]);
    assert_eq!(
        cmd::<Value>(&mut c, &["LATENCY", "LATEST"]),
        Value::Array(vec![])
    );
    let _: () = cmd(
        &mut c,
        &["CONFIG", "SET", "latency-monitor-threshold", "10"],
    );
    let _: () = cmd(&mut c, &["DEBUG", "SLEEP", "0.03"]);
    let v: Value = cmd(&mut c, &["LATENCY", "LATEST"]);
    let Value::Array(events) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(events.len(), 1, "{v:?}");
    let Value::Array(ev) = &events[0] else {
        panic!("{v:?}")
    };
    assert_eq!(text(&ev[0]), "command");
    let (Value::Int(at), Value::Int(ms), Value::Int(max)) = (&ev[1], &ev[2], &ev[3]) else {
        panic!("{v:?}")
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - at).abs() < 60, "{v:?}");
    assert!(*ms >= 30 && max >= ms, "{v:?}");
    let h: Value = cmd(&mut c, &["LATENCY", "HISTORY", "command"]);
    let Value::Array(h) = h else { panic!("{h:?}") };
    assert_eq!(h.len(), 1);
    let graph: String = cmd(&mut c, &["LATENCY", "GRAPH", "command"]);
    assert!(graph.starts_with("command - high "), "{graph}");
    let doctor: String = cmd(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    assert_eq!(cmd::<i64>(&mut c, &["LATENCY", "RESET"]), 1);
    assert_eq!(
        cmd::<Value>(&mut c, &["LATENCY", "LATEST"]),
        Value::Array(vec![])
    );
}

#[test]
fn active_expire_off_keeps_expired_keys_until_they_are_accessed() {
    let srv = TestServer::builder()
        .setting("enable-debug-command", "local")
        .manual_clock(1_700_000_000_000)
        .start();
    let state = srv.state();
    let mut c = srv.connection();
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for i in 0..10 {
        let _: () = cmd(&mut c, &["SET", &format!("k{i}"), "v", "PX", "100"]);
    }
    srv.advance_ms(1_000);
    // Let the cron pass the expiry step a few times: with the cycle on, these keys would go.
    let ticks = state.debug.expire_ticks.load(Relaxed);
    wait_for("three cron ticks", Duration::from_secs(10), || {
        (state.debug.expire_ticks.load(Relaxed) >= ticks + 3).then_some(())
    });
    assert_eq!(cmd::<i64>(&mut c, &["DBSIZE"]), 10);
    // Accessing a key expires it, as always.
    assert_eq!(cmd::<Option<String>>(&mut c, &["GET", "k0"]), None);
    assert_eq!(cmd::<i64>(&mut c, &["DBSIZE"]), 9);
    // Back on: the cycle removes the rest.
    let _: () = cmd(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    wait_for(
        "the active cycle to expire the keys",
        Duration::from_secs(10),
        || (cmd::<i64>(&mut c, &["DBSIZE"]) == 0).then_some(()),
    );
}

#[test]
fn debug_reload_round_trips_the_dataset() {
    let dir = TempDir::new("introspect-reload");
    let srv = TestServer::builder()
        .setting("enable-debug-command", "yes")
        .setting("dir", dir.path().to_str().unwrap())
        .start();
    let mut c = srv.connection();
    let _: () = cmd(&mut c, &["SET", "s", "v"]);
    let _: i64 = cmd(&mut c, &["RPUSH", "l", "a", "b"]);
    let _: i64 = cmd(&mut c, &["HSET", "h", "f", "v"]);
    let _: () = cmd(&mut c, &["SET", "t", "v", "EX", "1000"]);
    let _: () = cmd(&mut c, &["DEBUG", "RELOAD"]);
    assert_eq!(cmd::<i64>(&mut c, &["DBSIZE"]), 4);
    assert_eq!(cmd::<String>(&mut c, &["GET", "s"]), "v");
    assert_eq!(
        cmd::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]),
        ["a", "b"]
    );
    assert_eq!(cmd::<String>(&mut c, &["HGET", "h", "f"]), "v");
    let ttl: i64 = cmd(&mut c, &["TTL", "t"]);
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert!(dir.path().join("dump.rcsnap").exists());
}

/// DEBUG RELOAD NOSAVE puts older data back than the append-only log holds; the log is then
/// rewritten from it, so a restart (which loads the log) finds what RELOAD loaded.
#[test]
fn debug_reload_nosave_rebases_the_append_only_log() {
    let dir = TempDir::new("introspect-reload-aof");
    let d = dir.path().display().to_string();
    let start = || {
        RcacheProcess::builder(env!("CARGO_BIN_EXE_rcache"))
            .args(["--dir", &d, "--save", "", "--appendonly", "yes"])
            .args(["--enable-debug-command", "local"])
            .start()
    };
    let p = start();
    let mut c = redis::Client::open(p.url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap();
    let persistence = |c: &mut Connection, field: &str| -> String {
        let info: String = cmd(c, &["INFO", "persistence"]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{field} in {info}"))
            .trim()
            .to_string()
    };
    let _: () = cmd(&mut c, &["SET", "a", "1"]);
    let _: () = cmd(&mut c, &["SAVE"]);
    let _: () = cmd(&mut c, &["SET", "a", "2"]);
    let _: () = cmd(&mut c, &["SET", "b", "only-in-the-log"]);
    let _: () = cmd(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]);
    assert_eq!(cmd::<String>(&mut c, &["GET", "a"]), "1");
    assert_eq!(cmd::<i64>(&mut c, &["EXISTS", "b"]), 0);
    wait_for("the log's rewrite", Duration::from_secs(30), || {
        (persistence(&mut c, "aof_rewrite_in_progress") == "0"
            && persistence(&mut c, "aof_last_bgrewrite_status") == "ok")
            .then_some(())
    });
    let _: () = cmd(&mut c, &["SET", "c", "after"]);
    drop(c);
    p.sigterm();
    assert!(p.wait_exit(Duration::from_secs(30)).is_some());
    let p = start();
    let mut c = redis::Client::open(p.url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap();
    assert_eq!(cmd::<String>(&mut c, &["GET", "a"]), "1");
    assert_eq!(cmd::<i64>(&mut c, &["EXISTS", "b"]), 0);
    assert_eq!(cmd::<String>(&mut c, &["GET", "c"]), "after");
}

#[test]
fn role_is_a_master_without_replicas() {
    let srv = TestServer::start();
    let want = Value::Array(vec![
        Value::BulkString(b"master".to_vec()),
        Value::Int(0),
        Value::Array(vec![]),
    ]);
    assert_eq!(cmd::<Value>(&mut srv.connection(), &["ROLE"]), want);
    let mut c3 = srv
        .client_resp3()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap();
    assert_eq!(cmd::<Value>(&mut c3, &["ROLE"]), want);
}

#[test]
fn debug_is_refused_unless_enabled() {
    let srv = TestServer::start();
    let mut c = srv.raw();
    assert_eq!(
        c.request(&["DEBUG", "SLEEP", "0"]),
        "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"
    );
    let srv = debug_server();
    assert_eq!(srv.raw().request(&["DEBUG", "SLEEP", "0"]), "+OK\r\n");
}

/// A DEBUG SLEEP stops every client, as Redis's does: while it sleeps, another
/// connection's PING waits for it.
#[test]
fn debug_sleep_stops_the_server() {
    let srv = debug_server();
    let mut sleeper = srv.raw();
    let mut other = srv.raw();
    let started = std::time::Instant::now();
    sleeper.send_cmd(&["DEBUG", "SLEEP", "1"]);
    // PING until one is held up by the sleep (bounded: a sleep that blocks nobody fails).
    let held = loop {
        let t = std::time::Instant::now();
        assert_eq!(other.request(&["PING"]), "+PONG\r\n");
        if t.elapsed() >= Duration::from_millis(300) {
            break true;
        }
        if started.elapsed() >= Duration::from_secs(5) {
            break false;
        }
    };
    assert!(held, "no PING waited for DEBUG SLEEP");
    assert_eq!(sleeper.reply(), "+OK\r\n");
    assert!(started.elapsed() >= Duration::from_secs(1));
}

/// Replies that must be byte for byte Redis's (Debian's redis-server 7.0, DEBUG enabled),
/// over RESP2 and RESP3.
#[test]
fn same_replies_as_redis() {
    let Some(redis) = Backend::redis_with(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let srv = TestServer::builder()
        .setting("enable-debug-command", "yes")
        .start();
    let cases: &[&[&str]] = &[
        &["SLOWLOG", "GET", "x"],
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "GET", "1", "2"],
        &["SLOWLOG", "FOO"],
        &["SLOWLOG"],
        &["SLOWLOG", "LEN", "x"],
        &["SLOWLOG", "RESET"],
        &["SLOWLOG", "HELP"],
        &["LATENCY", "FOO"],
        &["LATENCY", "HISTORY"],
        &["LATENCY", "HISTORY", "nosuch"],
        &["LATENCY", "GRAPH", "nosuch"],
        &["LATENCY", "RESET", "nosuch"],
        &["LATENCY", "LATEST"],
        &["LATENCY", "DOCTOR"],
        &["LATENCY", "HELP"],
        &["LATENCY", "HISTOGRAM", "nosuch"],
        &["ROLE"],
        &["ROLE", "x"],
        &["LOLWUT"],
        &["LOLWUT", "foo"],
        &["LOLWUT", "VERSION", "x"],
        &["LOLWUT", "VERSION", "7"],
        &["DEBUG"],
        &["DEBUG", "JMAP"],
        &["DEBUG", "OBJECT"],
        &["DEBUG", "OBJECT", "nokey"],
        &["DEBUG", "ERROR", "Custom error"],
        &["DEBUG", "SLEEP", "0"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
        &["DEBUG", "RELOAD", "FAST"],
        &["MEMORY", "DOCTOR"],
        &["MEMORY", "DOCTOR", "x"],
        &["MEMORY", "HELP"],
        &["MEMORY", "PURGE"],
    ];
    for resp3 in [false, true] {
        let (mut theirs, mut ours) = (RawConn::connect(redis.addr()), srv.raw());
        if resp3 {
            theirs.request(&["HELLO", "3"]);
            ours.request(&["HELLO", "3"]);
        }
        for args in cases {
            let (a, b) = (theirs.request(args), ours.request(args));
            assert_eq!(b, a, "{args:?} (resp3: {resp3})");
        }
    }
    // Shapes that hold data: compare everything but times and addresses.
    let (mut theirs, mut ours) = (RawConn::connect(redis.addr()), srv.raw());
    for c in [&mut theirs, &mut ours] {
        c.request(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        c.request(&["SLOWLOG", "RESET"]);
        c.request(&["SET", "k", &"x".repeat(200)]);
    }
    let strip = |r: String| -> String {
        // Entry: *6, :id, :time, :micros, *args…, $addr, $name. Keep the args.
        r.split("\r\n")
            .filter(|l| !l.starts_with(':') && !l.contains("127.0.0.1:"))
            .filter(|l| !l.starts_with('$') || l == &"$0")
            .collect::<Vec<_>>()
            .join("|")
    };
    let (a, b) = (
        strip(theirs.request(&["SLOWLOG", "GET", "2"])),
        strip(ours.request(&["SLOWLOG", "GET", "2"])),
    );
    assert_eq!(b, a);
}

/// The key specs of every command both servers have are Redis 7.0.15's (COMMAND INFO's
/// key-spec element, notes, flags, begin_search and find_keys, over RESP3), and COMMAND
/// GETKEYS / GETKEYSANDFLAGS find the same keys with the same flags: the per-key access
/// ACL `%R~` / `%W~` patterns are checked against (crates/commands/src/keyspec.rs).
#[test]
fn key_specs_and_flags_are_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let open = |addr: std::net::SocketAddr| {
        redis::Client::open(format!("redis://{addr}/?protocol=resp3"))
            .unwrap()
            .get_connection()
            .unwrap()
    };
    let (mut theirs, mut ours) = (open(redis.addr()), open(srv.addr()));
    let names = |c: &mut Connection| -> std::collections::BTreeSet<String> {
        match cmd::<Value>(c, &["COMMAND", "LIST"]) {
            Value::Array(v) => v.iter().map(text).collect(),
            v => panic!("{v:?}"),
        }
    };
    let common: Vec<String> = names(&mut theirs)
        .intersection(&names(&mut ours))
        .cloned()
        .collect();
    assert!(common.len() > 300, "{}", common.len());
    let specs = |c: &mut Connection, name: &str| -> Value {
        match cmd::<Value>(c, &["COMMAND", "INFO", name]) {
            Value::Array(mut v) => match v.remove(0) {
                Value::Array(mut info) => info.remove(8),
                v => panic!("{name}: {v:?}"),
            },
            v => panic!("{name}: {v:?}"),
        }
    };
    let mut with_keys = 0;
    for name in &common {
        let (a, b) = (specs(&mut theirs, name), specs(&mut ours, name));
        assert_eq!(b, a, "COMMAND INFO {name}: key specs");
        with_keys += usize::from(!matches!(a, Value::Set(ref v) if v.is_empty()));
    }
    assert!(with_keys > 150, "{with_keys}");
    eprintln!(
        "key specs: {} commands compared, {with_keys} with keys",
        common.len()
    );
    let calls: &[&[&str]] = &[
        &["get", "k"],
        &["incr", "k"],
        &["getset", "k", "v"],
        &["getdel", "k"],
        &["getex", "k", "persist"],
        &["lpop", "k"],
        &["rpush", "k", "v"],
        &["set", "k", "v"],
        &["set", "k", "v", "GET"],
        &["set", "k", "v", "nx", "get", "ex", "10"],
        &["set", "k", "get"],
        &["setnx", "k", "v"],
        &["append", "k", "v"],
        &["del", "a", "b"],
        &["exists", "a"],
        &["copy", "a", "b", "replace"],
        &["rename", "a", "b"],
        &["lmove", "a", "b", "left", "right"],
        &["blmove", "a", "b", "left", "right", "0"],
        &["rpoplpush", "a", "b"],
        &["smove", "a", "b", "m"],
        &["sunionstore", "d", "a", "b"],
        &["sinterstore", "d", "a"],
        &["bitop", "or", "d", "a", "b"],
        &["zunionstore", "d", "2", "a", "b"],
        &["zunionstore", "d", "x", "a", "b"],
        &["zrangestore", "d", "s", "0", "1"],
        &["zinter", "2", "a", "b"],
        &["zunion", "0", "a"],
        &["sintercard", "2", "a", "b"],
        &["lmpop", "2", "a", "b", "left"],
        &["bzmpop", "0", "1", "a", "max"],
        &["pfmerge", "d", "a", "b"],
        &["pfcount", "a", "b"],
        &[
            "geosearchstore",
            "d",
            "s",
            "frommember",
            "m",
            "byradius",
            "1",
            "km",
        ],
        &[
            "georadius",
            "k",
            "0",
            "0",
            "1",
            "km",
            "store",
            "d",
            "storedist",
            "e",
        ],
        &["georadius", "k", "0", "0", "1", "km", "store"],
        &["georadiusbymember", "k", "m", "1", "km", "storedist", "e"],
        &["sort", "k"],
        &["sort", "k", "by", "w_*", "get", "#", "store", "d"],
        &["sort", "k", "store", "d1", "store", "d2"],
        &["sort", "k", "limit", "0", "1", "store", "d"],
        &["sort", "k", "store"],
        &["sort_ro", "k", "by", "x"],
        &["eval", "return 1", "2", "a", "b", "x"],
        &["eval", "return 1", "0"],
        &["eval", "return 1", "3", "a"],
        &["eval_ro", "return 1", "1", "a"],
        &["evalsha", "abc", "1", "a"],
        &["fcall", "f", "1", "a"],
        &["fcall_ro", "f", "1", "a"],
        &["bitfield", "k", "get", "u8", "0"],
        &["bitfield", "k", "get", "u8", "0", "set", "u8", "0", "1"],
        &["bitfield", "k", "overflow", "wrap"],
        &["bitfield", "k", "nosuch"],
        &["bitfield_ro", "k", "get", "u8", "0"],
        &["xread", "count", "1", "streams", "a", "b", "0", "0"],
        &["xreadgroup", "group", "g", "c", "streams", "a", "0"],
        &["xadd", "k", "*", "f", "v"],
        &["xgroup", "create", "k", "g", "$"],
        &["xinfo", "stream", "k"],
        &["object", "encoding", "k"],
        &["memory", "usage", "k"],
        &["mset", "a", "1", "b", "2"],
        &["msetnx", "a", "1", "b", "2"],
        &["hset", "h", "f", "v"],
        &["lcs", "a", "b"],
        &["watch", "a", "b"],
        &["touch", "a"],
        &["restore", "k", "0", "x"],
        &["dump", "k"],
        &["expire", "k", "1"],
        &["ping"],
        &["client", "list"],
        &["nosuch", "k"],
    ];
    let (mut theirs, mut ours) = (RawConn::connect(redis.addr()), srv.raw());
    for call in calls {
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let args: Vec<&str> = ["COMMAND", sub]
                .iter()
                .chain(call.iter())
                .copied()
                .collect();
            assert_eq!(ours.request(&args), theirs.request(&args), "{args:?}");
        }
    }
}
