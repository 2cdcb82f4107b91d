//! SLOWLOG against Redis 7.0's behaviour: thresholds, entry shape, trimming of arguments
//! and of the log, RESET, redaction, EXEC, errors.

use super::{floor_ns, MAX_ARGC};
use crate::config::Settings;
use crate::testing::TestCtx;
use protocol::value::{parse_reply, RespValue};
use std::sync::atomic::Ordering::Relaxed;

/// One SLOWLOG GET entry, decoded.
#[derive(Debug)]
struct Entry {
    id: i64,
    time: i64,
    micros: i64,
    args: Vec<String>,
    peer: String,
    name: String,
}

fn s(v: &RespValue<'_>) -> String {
    match v {
        RespValue::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk: {other:?}"),
    }
}

fn entries(t: &TestCtx, count: Option<&str>) -> Vec<Entry> {
    let mut cmd = vec!["SLOWLOG", "GET"];
    cmd.extend(count);
    let raw = t.run(&cmd);
    let (v, _) = parse_reply(raw.as_bytes()).unwrap();
    let RespValue::Array(items) = v else {
        panic!("{raw}")
    };
    items
        .iter()
        .map(|e| {
            let RespValue::Array(f) = e else {
                panic!("{raw}")
            };
            assert_eq!(f.len(), 6, "{raw}");
            let int = |v: &RespValue<'_>| match v {
                RespValue::Int(n) => *n,
                other => panic!("not an int: {other:?}"),
            };
            let RespValue::Array(args) = &f[3] else {
                panic!("{raw}")
            };
            Entry {
                id: int(&f[0]),
                time: int(&f[1]),
                micros: int(&f[2]),
                args: args.iter().map(s).collect(),
                peer: s(&f[4]),
                name: s(&f[5]),
            }
        })
        .collect()
}

/// A server that logs every command (threshold 0), its log emptied.
fn logging_all() -> TestCtx {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        "+OK\r\n"
    );
    assert_eq!(t.run(&["SLOWLOG", "RESET"]), "+OK\r\n");
    t
}

#[test]
fn defaults_and_floor() {
    let s = Settings::default();
    assert_eq!(s.slowlog_slower_than.load(Relaxed), 10_000);
    assert_eq!(s.slowlog_max_len.load(Relaxed), 128);
    assert_eq!(s.latency_monitor_threshold.load(Relaxed), 0);
    // The field's initial value is what the setters would compute.
    assert_eq!(s.slow_floor_ns.load(Relaxed), floor_ns(&s));
    assert_eq!(floor_ns(&s), 10_000_000);
    s.set("slowlog-log-slower-than", "-1", false).unwrap();
    assert_eq!(s.slow_floor_ns.load(Relaxed), u64::MAX);
    s.set("latency-monitor-threshold", "5", false).unwrap();
    assert_eq!(s.slow_floor_ns.load(Relaxed), 5_000_000);
    s.set("slowlog-log-slower-than", "100", false).unwrap();
    assert_eq!(s.slow_floor_ns.load(Relaxed), 100_000);
    // A log of length 0 logs nothing: only the monitor's threshold is left.
    s.set("slowlog-max-len", "0", false).unwrap();
    assert_eq!(s.slow_floor_ns.load(Relaxed), 5_000_000);
    s.set("latency-monitor-threshold", "0", false).unwrap();
    assert_eq!(s.slow_floor_ns.load(Relaxed), u64::MAX);
    assert_eq!(s.value("slowlog-max-len"), "0");
    assert!(s.set("slowlog-log-slower-than", "-2", false).is_err());
    assert!(s.set("slowlog-max-len", "-1", false).is_err());
}

#[test]
fn threshold_zero_logs_every_command_newest_first() {
    let t = logging_all();
    // RESET itself ran before it was logged, so the log holds it alone.
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":1\r\n");
    t.run(&["CLIENT", "SETNAME", "tester"]);
    t.run(&["SET", "k", "v"]);
    t.run(&["GET", "k"]);
    let e = entries(&t, None);
    // GET, SET, CLIENT SETNAME, SLOWLOG LEN, SLOWLOG RESET.
    assert_eq!(e.len(), 5, "{e:?}");
    assert_eq!(e[0].args, ["GET", "k"]);
    assert_eq!(e[1].args, ["SET", "k", "v"]);
    assert_eq!(e[4].args, ["SLOWLOG", "RESET"]);
    for w in e.windows(2) {
        assert_eq!(w[0].id, w[1].id + 1, "{e:?}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - e[0].time).abs() < 60, "{e:?}");
    assert!(e[0].micros >= 0);
    assert_eq!(e[0].peer, "127.0.0.1:40001");
    // The name a client had when the command ran.
    assert_eq!(e[0].name, "tester");
    assert_eq!(e[3].name, "");
    // COUNT: default 10, -1 all, 0 none.
    assert_eq!(entries(&t, Some("2")).len(), 2);
    assert_eq!(entries(&t, Some("0")).len(), 0);
    let all = entries(&t, Some("-1")).len();
    assert!(all >= 8, "{all}");
    // (The SLOWLOG GET -1 just run is one more.)
    assert_eq!(entries(&t, None).len(), (all + 1).min(10));
}

#[test]
fn arguments_are_trimmed_as_redis_trims_them() {
    let t = logging_all();
    let long = "x".repeat(200);
    t.run(&["SET", "k", &long]);
    let e = entries(&t, Some("1"));
    assert_eq!(
        e[0].args[2],
        format!("{}... (72 more bytes)", "x".repeat(128))
    );
    let exact = "y".repeat(128);
    t.run(&["SET", "k", &exact]);
    assert_eq!(entries(&t, Some("1"))[0].args[2], exact);
    // 40 arguments: 31 kept, then how many more (40 - 32 + 1 = 9).
    let mut cmd = vec!["RPUSH".to_string(), "l".to_string()];
    cmd.extend((0..38).map(|i| i.to_string()));
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    t.run(&refs);
    let a = &entries(&t, Some("1"))[0].args;
    assert_eq!(a.len(), MAX_ARGC);
    assert_eq!(a[..3], ["RPUSH", "l", "0"]);
    assert_eq!(a[30], "28");
    assert_eq!(a[31], "... (9 more arguments)");
    // Exactly 32 arguments are kept whole.
    let refs32: Vec<&str> = refs[..32].to_vec();
    t.run(&refs32);
    let a = &entries(&t, Some("1"))[0].args;
    assert_eq!(a.len(), 32);
    assert_eq!(a[31], "29");
}

#[test]
fn max_len_keeps_the_newest() {
    let t = logging_all();
    t.run(&["CONFIG", "SET", "slowlog-max-len", "3"]);
    for i in 0..10 {
        t.run(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":3\r\n");
    let e = entries(&t, None);
    // SLOWLOG LEN is logged too, after it answered.
    assert_eq!(e[0].args, ["SLOWLOG", "LEN"]);
    assert_eq!(e[1].args, ["SET", "k9", "v"]);
    assert_eq!(e[2].args, ["SET", "k8", "v"]);
    // Shrinking the length trims at once (Redis trims on the next command).
    t.run(&["CONFIG", "SET", "slowlog-max-len", "1"]);
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":1\r\n");
    // Length 0 stops logging but keeps what is there, as Redis.
    t.run(&["CONFIG", "SET", "slowlog-max-len", "0"]);
    t.run(&["SET", "a", "b"]);
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":1\r\n");
}

#[test]
fn reset_keeps_counting_ids_and_thresholds_apply() {
    let t = logging_all();
    t.run(&["PING"]);
    let before = entries(&t, Some("1"))[0].id;
    assert_eq!(t.run(&["SLOWLOG", "RESET"]), "+OK\r\n");
    let after = entries(&t, None);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after[0].id > before);
    // -1 turns logging off; existing entries stay.
    t.run(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    t.run(&["SLOWLOG", "RESET"]);
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":0\r\n");
    // A threshold above the calls' time leaves them out (1 s: no scheduling hiccup of a
    // busy test machine reaches it).
    t.run(&["CONFIG", "SET", "slowlog-log-slower-than", "1000000"]);
    for _ in 0..10 {
        t.run(&["SET", "k", "v"]);
    }
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":0\r\n");
}

#[test]
fn slow_command_is_logged_at_the_default_threshold() {
    let settings = Settings::default();
    settings.set("enable-debug-command", "yes", true).unwrap();
    let t = TestCtx::with_settings(settings);
    assert_eq!(t.run(&["DEBUG", "SLEEP", "0.02"]), "+OK\r\n");
    let e = entries(&t, None);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].args, ["DEBUG", "SLEEP", "0.02"]);
    assert!(e[0].micros >= 20_000, "{e:?}");
}

#[test]
fn secrets_are_redacted() {
    let t = logging_all();
    t.run(&["AUTH", "secret"]);
    t.run(&["AUTH", "user", "secret"]);
    t.run(&["HELLO", "2", "AUTH", "default", "secret", "SETNAME", "n"]);
    t.run(&[
        "CONFIG",
        "SET",
        "requirepass",
        "secret",
        "maxmemory-samples",
        "5",
    ]);
    t.run(&["CONFIG", "SET", "requirepass", ""]);
    t.run(&["ACL", "SETUSER", "bob", "on", ">secret"]);
    let e = entries(&t, None);
    let has = |args: &[&str]| e.iter().any(|e| e.args == args);
    assert!(has(&["AUTH", "(redacted)"]), "{e:?}");
    assert!(has(&["AUTH", "(redacted)", "(redacted)"]), "{e:?}");
    assert!(
        has(&[
            "HELLO",
            "2",
            "AUTH",
            "(redacted)",
            "(redacted)",
            "SETNAME",
            "n"
        ]),
        "{e:?}"
    );
    assert_eq!(
        e.iter()
            .find(|e| e.args.len() == 6 && e.args[0] == "CONFIG")
            .unwrap()
            .args,
        [
            "CONFIG",
            "SET",
            "requirepass",
            "(redacted)",
            "maxmemory-samples",
            "5"
        ]
    );
    assert!(
        has(&["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)"]),
        "{e:?}"
    );
    assert!(!format!("{e:?}").contains("secret"));
    // MIGRATE is not a command of rcache (never logged), but its form is known.
    let args = protocol::args::OwnedArgs::new(
        [
            "MIGRATE", "h", "1", "k", "0", "10", "AUTH2", "u", "secret", "KEYS", "a",
        ]
        .iter()
        .map(|a| a.as_bytes()),
    );
    let kept: Vec<String> = super::entry_args(args.args())
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(
        kept,
        [
            "MIGRATE",
            "h",
            "1",
            "k",
            "0",
            "10",
            "AUTH2",
            "(redacted)",
            "(redacted)",
            "KEYS",
            "a"
        ]
    );
}

#[test]
fn exec_logs_its_commands_not_itself() {
    let t = logging_all();
    t.run(&["MULTI"]);
    t.run(&["SET", "a", "1"]);
    t.run(&["INCR", "a"]);
    t.run(&["EXEC"]);
    let names: Vec<String> = entries(&t, None).iter().map(|e| e.args.join(" ")).collect();
    assert_eq!(
        names[..4],
        ["INCR a", "SET a 1", "MULTI", "SLOWLOG RESET"],
        "{names:?}"
    );
}

#[test]
fn errors_and_help() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["SLOWLOG", "GET", "1", "2"]),
        "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.\r\n"
    );
    assert_eq!(
        t.run(&["slowlog", "get", "1", "2"]),
        "-ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.\r\n"
    );
    for bad in ["x", "-2", "1.5", ""] {
        assert_eq!(
            t.run(&["SLOWLOG", "GET", bad]),
            "-ERR count should be greater than or equal to -1\r\n",
            "{bad}"
        );
    }
    assert_eq!(
        t.run(&["SLOWLOG", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.\r\n"
    );
    assert_eq!(
        t.run(&["SLOWLOG"]),
        "-ERR wrong number of arguments for 'slowlog' command\r\n"
    );
    assert_eq!(
        t.run(&["SLOWLOG", "LEN", "x"]),
        "-ERR wrong number of arguments for 'slowlog|len' command\r\n"
    );
    assert_eq!(
        t.run(&["SLOWLOG", "RESET", "x"]),
        "-ERR wrong number of arguments for 'slowlog|reset' command\r\n"
    );
    let h = t.run(&["SLOWLOG", "HELP"]);
    assert!(
        h.starts_with(
            "*12\r\n+SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ),
        "{h}"
    );
    assert!(h.ends_with("+HELP\r\n+    Prints this help.\r\n"));
    // RESP3: the same arrays and integers.
    t.resp3();
    assert_eq!(t.run(&["SLOWLOG", "GET"]), "*0\r\n");
    assert_eq!(t.run(&["SLOWLOG", "LEN"]), ":0\r\n");
}
