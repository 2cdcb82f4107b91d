//! DEBUG: the `enable-debug-command` gate, each subcommand, and Redis's errors.

use super::{atoi, strtod, NOT_ALLOWED};
use crate::clients::{ClientHandle, Session};
use crate::config::Settings;
use crate::testing::TestCtx;
use std::sync::Arc;

fn with_debug(value: &str) -> TestCtx {
    let s = Settings::default();
    s.set("enable-debug-command", value, true).unwrap();
    TestCtx::with_settings(s)
}

/// A client connected from another machine.
fn remote(t: &TestCtx) -> Session {
    let h = Arc::new(ClientHandle::new(
        t.srv.clients.next_id(),
        "10.1.2.3:5000".into(),
        "10.0.0.1:6379".into(),
        -1,
    ));
    t.srv.clients.register(h.clone());
    Session::new(h, true)
}

#[test]
fn refused_unless_enabled() {
    let t = TestCtx::new();
    let refused = format!("-{NOT_ALLOWED}\r\n");
    assert_eq!(t.run(&["DEBUG", "SLEEP", "0"]), refused);
    assert_eq!(t.run(&["debug", "help"]), refused);
    // Counted as rejected, as Redis's rejectCommand does.
    let info = t.run(&["INFO", "commandstats"]);
    assert!(
        info.contains(
            "cmdstat_debug:calls=0,usec=0,usec_per_call=0.00,rejected_calls=2,failed_calls=0"
        ),
        "{info}"
    );
    // Inside MULTI the refusal aborts the transaction.
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["DEBUG", "SLEEP", "0"]), refused);
    assert!(t.run(&["EXEC"]).starts_with("-EXECABORT"));
    // Arity is checked first, as Redis.
    assert_eq!(
        t.run(&["DEBUG"]),
        "-ERR wrong number of arguments for 'debug' command\r\n"
    );

    let t = with_debug("local");
    assert_eq!(t.run(&["DEBUG", "SLEEP", "0"]), "+OK\r\n");
    let mut far = remote(&t);
    assert_eq!(t.run_as(&mut far, &["DEBUG", "SLEEP", "0"]), refused);

    let t = with_debug("yes");
    let mut far = remote(&t);
    assert_eq!(t.run_as(&mut far, &["DEBUG", "SLEEP", "0"]), "+OK\r\n");
    // The setting is start-up only, as in Redis.
    assert!(t
        .run(&["CONFIG", "SET", "enable-debug-command", "no"])
        .contains("can't set immutable config"));
}

#[test]
fn sleep_parses_like_strtod() {
    assert_eq!(strtod(b"1.5"), 1.5);
    assert_eq!(strtod(b" 0.25s"), 0.25);
    assert_eq!(strtod(b"abc"), 0.0);
    assert_eq!(strtod(b"-3"), -3.0);
    assert_eq!(strtod(b""), 0.0);
    assert_eq!(atoi(b"0"), 0);
    assert_eq!(atoi(b"1"), 1);
    assert_eq!(atoi(b"12abc"), 12);
    assert_eq!(atoi(b"-7"), -7);
    assert_eq!(atoi(b"x"), 0);
    let t = with_debug("yes");
    for quick in ["0", "-1", "abc", "nan", "inf"] {
        let started = std::time::Instant::now();
        assert_eq!(t.run(&["DEBUG", "SLEEP", quick]), "+OK\r\n", "{quick}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{quick}"
        );
    }
    let started = std::time::Instant::now();
    assert_eq!(t.run(&["DEBUG", "SLEEP", "0.05"]), "+OK\r\n");
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
}

/// The fields of a DEBUG OBJECT line.
fn object_fields(line: &str) -> Vec<(String, String)> {
    let body = line
        .strip_prefix('+')
        .and_then(|l| l.strip_suffix("\r\n"))
        .unwrap_or_else(|| panic!("{line}"));
    // "Value at" is the one key with a space.
    let body = body.replacen("Value at:", "Value_at:", 1);
    body.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once(':').unwrap_or_else(|| panic!("{line}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn object_line() {
    let t = with_debug("yes");
    t.run(&["SET", "s", "bar"]);
    t.run(&["SET", "n", "12345"]);
    t.run(&["SET", "r", &"x".repeat(100)]);
    t.run(&["RPUSH", "l", "a", "b", "c"]);
    let f = object_fields(&t.run(&["DEBUG", "OBJECT", "s"]));
    let keys: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "Value_at",
            "refcount",
            "encoding",
            "serializedlength",
            "lru",
            "lru_seconds_idle"
        ]
    );
    assert!(f[0].1.starts_with("0x"), "{f:?}");
    assert_eq!(f[1].1, "1");
    assert_eq!(f[2].1, "embstr");
    let len: usize = f[3].1.parse().unwrap();
    assert!((3..=8).contains(&len), "{f:?}");
    assert!(f[4].1.parse::<u32>().unwrap() < 1 << 24);
    assert_eq!(f[5].1, "0");
    assert_eq!(object_fields(&t.run(&["DEBUG", "OBJECT", "n"]))[2].1, "int");
    let r = object_fields(&t.run(&["DEBUG", "OBJECT", "r"]));
    assert_eq!(r[2].1, "raw");
    assert!(r[3].1.parse::<usize>().unwrap() >= 100, "{r:?}");
    let l = object_fields(&t.run(&["DEBUG", "object", "l"]));
    assert_eq!(
        l[2].1,
        t.run(&["OBJECT", "ENCODING", "l"]).lines().nth(1).unwrap()
    );
    // Idle time grows, and DEBUG OBJECT does not touch the key.
    t.advance_ms(5_000);
    assert_eq!(object_fields(&t.run(&["DEBUG", "OBJECT", "s"]))[5].1, "5");
    assert_eq!(object_fields(&t.run(&["DEBUG", "OBJECT", "s"]))[5].1, "5");
    t.run(&["GET", "s"]);
    assert_eq!(object_fields(&t.run(&["DEBUG", "OBJECT", "s"]))[5].1, "0");
    assert_eq!(t.run(&["DEBUG", "OBJECT", "nokey"]), "-ERR no such key\r\n");
    t.resp3();
    assert!(t.run(&["DEBUG", "OBJECT", "s"]).starts_with("+Value at:0x"));
}

#[test]
fn set_active_expire_and_error_and_log() {
    let t = with_debug("yes");
    assert!(t.srv.debug.active_expire());
    assert_eq!(t.run(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    assert!(!t.srv.debug.active_expire());
    assert_eq!(t.run(&["debug", "set-active-expire", "1"]), "+OK\r\n");
    assert!(t.srv.debug.active_expire());
    // atoi: anything that does not start with a non-zero number turns it off, as Redis.
    assert_eq!(t.run(&["DEBUG", "SET-ACTIVE-EXPIRE", "no"]), "+OK\r\n");
    assert!(!t.srv.debug.active_expire());
    assert_eq!(
        t.run(&["DEBUG", "ERROR", "hello world"]),
        "-hello world\r\n"
    );
    assert_eq!(t.run(&["DEBUG", "ERROR", "a\r\nb"]), "-a  b\r\n");
    assert_eq!(t.run(&["DEBUG", "LOG", "hi"]), "+OK\r\n");
}

#[test]
fn unknown_subcommands_and_help() {
    let t = with_debug("yes");
    for (args, sub) in [
        (&["DEBUG", "JMAP"][..], "JMAP"),
        (&["DEBUG", "segfault"], "segfault"),
        (&["DEBUG", "DIGEST"], "DIGEST"),
        (&["DEBUG", "OBJECT"], "OBJECT"),
        (&["DEBUG", "OBJECT", "a", "b"], "OBJECT"),
        (&["DEBUG", "SLEEP"], "SLEEP"),
        (&["DEBUG", "HELP", "x"], "HELP"),
        (&["DEBUG", "SET-ACTIVE-EXPIRE"], "SET-ACTIVE-EXPIRE"),
    ] {
        assert_eq!(
            t.run(args),
            format!(
                "-ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP.\r\n"
            ),
            "{args:?}"
        );
    }
    let h = t.run(&["DEBUG", "HELP"]);
    assert!(
        h.starts_with("*22\r\n+DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"),
        "{h}"
    );
    assert!(h.ends_with("+HELP\r\n+    Prints this help.\r\n"), "{h}");
}

/// A data directory of its own, removed at the end.
struct Dir(std::path::PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!(
            "rcache-debug-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn reloadable(dir: &Dir) -> TestCtx {
    let s = Settings::default();
    s.set("enable-debug-command", "yes", true).unwrap();
    s.set("dir", dir.0.to_str().unwrap(), true).unwrap();
    s.set("save", "", true).unwrap();
    TestCtx::with_settings(s)
}

#[test]
fn reload_saves_and_loads_back() {
    let dir = Dir::new("reload");
    let t = reloadable(&dir);
    // Nothing saved yet: NOSAVE refuses and keeps the data.
    t.run(&["SET", "keep", "me"]);
    let r = t.run(&["DEBUG", "RELOAD", "NOSAVE"]);
    assert!(
        r.starts_with("-ERR Error trying to load the RDB dump"),
        "{r}"
    );
    assert_eq!(t.run(&["GET", "keep"]), "$2\r\nme\r\n");
    t.run(&["RPUSH", "l", "a", "b", "c"]);
    t.run(&["HSET", "h", "f", "v"]);
    t.run(&["SADD", "s", "1", "2"]);
    t.run(&["ZADD", "z", "1.5", "m"]);
    t.run(&["SET", "ttl", "v", "PX", "100000"]);
    t.run(&["SELECT", "2"]);
    t.run(&["SET", "other", "db"]);
    t.run(&["SELECT", "0"]);
    let before: Vec<String> = ["keep", "l", "h", "s", "z"]
        .iter()
        .map(|k| t.run(&["DUMP", k]))
        .collect();
    assert_eq!(t.run(&["DEBUG", "RELOAD"]), "+OK\r\n");
    let after: Vec<String> = ["keep", "l", "h", "s", "z"]
        .iter()
        .map(|k| t.run(&["DUMP", k]))
        .collect();
    assert_eq!(before, after);
    assert_eq!(t.run(&["DBSIZE"]), ":6\r\n");
    let ttl: i64 = t.run(&["PTTL", "ttl"])[1..].trim().parse().unwrap();
    assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
    t.run(&["SELECT", "2"]);
    assert_eq!(t.run(&["GET", "other"]), "$2\r\ndb\r\n");
    t.run(&["SELECT", "0"]);
    // Nothing changed since the save that RELOAD made.
    assert!(t
        .run(&["INFO", "persistence"])
        .contains("rdb_changes_since_last_save:0\r\n"));
    // NOSAVE: back to the file; without NOFLUSH what is not in the file goes.
    t.run(&["SET", "new", "1"]);
    t.run(&["DEL", "keep"]);
    assert_eq!(t.run(&["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
    assert_eq!(t.run(&["EXISTS", "new"]), ":0\r\n");
    assert_eq!(t.run(&["GET", "keep"]), "$2\r\nme\r\n");
    // NOFLUSH (MERGE): what is not in the file stays, the file's keys win.
    t.run(&["SET", "new", "1"]);
    t.run(&["SET", "keep", "changed"]);
    assert_eq!(
        t.run(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]),
        "+OK\r\n"
    );
    assert_eq!(t.run(&["GET", "new"]), "$1\r\n1\r\n");
    assert_eq!(t.run(&["GET", "keep"]), "$2\r\nme\r\n");
    assert_eq!(
        t.run(&["DEBUG", "RELOAD", "FAST"]),
        "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
}
