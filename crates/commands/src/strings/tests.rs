//! Tests of the string family (counters and LCS test themselves in their own files).

use crate::testing::TestCtx;
use std::sync::atomic::Ordering::Relaxed;

/// A key's absolute expiry as stored: `None` if missing, `Some(0)` if it has no TTL.
pub(crate) fn expire_of(t: &TestCtx, key: &str) -> Option<u64> {
    let k = t.srv.ks.key(key.as_bytes());
    let mut txn = t.srv.ks.txn1(0, &k);
    txn.peek(&k).map(|e| e.expire_at())
}

const NIL: &str = "$-1\r\n";
const OK: &str = "+OK\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";

#[test]
fn get_set_basics() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["GET", "k"]), NIL);
    assert_eq!(t.run(&["SET", "k", "v"]), OK);
    assert_eq!(t.run(&["get", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.run(&["SET", "k", ""]), OK);
    assert_eq!(t.run(&["GET", "k"]), "$0\r\n\r\n");
    t.resp3();
    assert_eq!(t.run(&["GET", "missing"]), "_\r\n");
}

#[test]
fn binary_safe_values() {
    let t = TestCtx::new();
    let v: &[u8] = b"a\x00b\r\n\xff";
    assert_eq!(t.run_bytes(&[b"SET", b"k\x00\xfe", v]), b"+OK\r\n");
    assert_eq!(
        t.run_bytes(&[b"GET", b"k\x00\xfe"]),
        b"$6\r\na\x00b\r\n\xff\r\n"
    );
    assert_eq!(t.run_bytes(&[b"APPEND", b"k\x00\xfe", b"\x00"]), b":7\r\n");
    assert_eq!(
        t.run_bytes(&[b"GETRANGE", b"k\x00\xfe", b"1", b"2"]),
        b"$2\r\n\x00b\r\n"
    );
    assert_eq!(
        t.run_bytes(&[b"MGET", b"k\x00\xfe", b"nope"]),
        b"*2\r\n$7\r\na\x00b\r\n\xff\x00\r\n$-1\r\n"
    );
    assert_eq!(t.run_bytes(&[b"STRLEN", b"k\x00\xfe"]), b":7\r\n");
}

#[test]
fn set_options() {
    let t = TestCtx::new();
    let now = t.srv.ks.now();
    assert_eq!(t.run(&["SET", "k", "v", "NX"]), OK);
    assert_eq!(t.run(&["SET", "k", "w", "NX"]), NIL);
    assert_eq!(t.run(&["SET", "k", "w", "XX"]), OK);
    assert_eq!(t.run(&["SET", "j", "w", "XX"]), NIL);
    assert_eq!(t.run(&["GET", "j"]), NIL);
    assert_eq!(t.run(&["SET", "k", "x", "GET"]), "$1\r\nw\r\n");
    assert_eq!(t.run(&["SET", "j", "x", "GET"]), NIL);
    assert_eq!(t.run(&["GET", "j"]), "$1\r\nx\r\n");
    // NX with GET: the old value, and no write.
    assert_eq!(t.run(&["SET", "j", "y", "NX", "GET"]), "$1\r\nx\r\n");
    assert_eq!(t.run(&["GET", "j"]), "$1\r\nx\r\n");
    assert_eq!(t.run(&["SET", "k", "v", "EX", "10"]), OK);
    assert_eq!(expire_of(&t, "k"), Some(now + 10_000));
    assert_eq!(t.run(&["SET", "k", "v", "PX", "10"]), OK);
    assert_eq!(expire_of(&t, "k"), Some(now + 10));
    assert_eq!(
        t.run(&["SET", "k", "v", "EXAT", &(now / 1000 + 50).to_string()]),
        OK
    );
    assert_eq!(expire_of(&t, "k"), Some((now / 1000 + 50) * 1000));
    assert_eq!(
        t.run(&["SET", "k", "v", "PXAT", &(now + 77).to_string()]),
        OK
    );
    assert_eq!(expire_of(&t, "k"), Some(now + 77));
    assert_eq!(t.run(&["SET", "k", "v2", "KEEPTTL"]), OK);
    assert_eq!(expire_of(&t, "k"), Some(now + 77));
    assert_eq!(t.run(&["SET", "k", "v3"]), OK);
    assert_eq!(expire_of(&t, "k"), Some(0));
    // As Redis: the last of repeated same-kind options wins; the value is checked last.
    assert_eq!(t.run(&["SET", "k", "v", "EX", "0", "EX", "20"]), OK);
    assert_eq!(expire_of(&t, "k"), Some(now + 20_000));
    assert_eq!(
        t.run(&["SET", "k", "v", "KEEPTTL", "KEEPTTL", "GET", "GET"]),
        "$1\r\nv\r\n"
    );
    assert_eq!(t.run(&["set", "k", "v", "nx", "nx"]), NIL);
    // An expiry in the past removes the key.
    assert_eq!(t.run(&["SET", "k", "v", "PXAT", "1"]), OK);
    assert_eq!(expire_of(&t, "k"), None);
    assert_eq!(t.run(&["SET", "k", "v", "EXAT", "1", "GET"]), NIL);
    assert_eq!(expire_of(&t, "k"), None);
}

#[test]
fn set_errors() {
    let t = TestCtx::new();
    let bad_expire = "-ERR invalid expire time in 'set' command\r\n";
    for args in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "EX", "10", "PX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "PX", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
        // Syntax is checked before the expiry value.
        &["SET", "k", "v", "EX", "abc", "NX", "XX"],
    ] {
        assert_eq!(t.run(args), SYNTAX, "{args:?}");
    }
    assert_eq!(t.run(&["SET", "k", "v", "EX", "abc"]), NOT_INT);
    assert_eq!(t.run(&["SET", "k", "v", "EX", "0"]), bad_expire);
    assert_eq!(t.run(&["SET", "k", "v", "PX", "-1"]), bad_expire);
    assert_eq!(
        t.run(&["SET", "k", "v", "EX", "9223372036854775807"]),
        bad_expire
    );
    assert_eq!(
        t.run(&["SET", "k", "v", "PX", "9223372036854775807"]),
        bad_expire
    );
    assert_eq!(t.run(&["SET", "k", "v", "NX", "EX", "0"]), bad_expire);
    assert_eq!(t.run(&["GET", "k"]), NIL);
    assert_eq!(
        t.run(&["SET", "k"]),
        "-ERR wrong number of arguments for 'set' command\r\n"
    );
}

#[test]
fn setnx_setex_psetex_getset() {
    let t = TestCtx::new();
    let now = t.srv.ks.now();
    assert_eq!(t.run(&["SETNX", "k", "a"]), ":1\r\n");
    assert_eq!(t.run(&["SETNX", "k", "b"]), ":0\r\n");
    assert_eq!(t.run(&["GET", "k"]), "$1\r\na\r\n");
    assert_eq!(t.run(&["SETEX", "k", "10", "b"]), OK);
    assert_eq!(expire_of(&t, "k"), Some(now + 10_000));
    assert_eq!(t.run(&["GET", "k"]), "$1\r\nb\r\n");
    assert_eq!(t.run(&["PSETEX", "k", "1500", "c"]), OK);
    assert_eq!(expire_of(&t, "k"), Some(now + 1500));
    t.advance_ms(1499);
    assert_eq!(t.run(&["GET", "k"]), "$1\r\nc\r\n");
    t.advance_ms(1);
    assert_eq!(t.run(&["GET", "k"]), NIL);
    assert_eq!(t.run(&["SETNX", "k", "d"]), ":1\r\n");
    assert_eq!(
        t.run(&["SETEX", "k", "0", "v"]),
        "-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_eq!(
        t.run(&["PSETEX", "k", "-5", "v"]),
        "-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_eq!(t.run(&["SETEX", "k", "x", "v"]), NOT_INT);
    assert_eq!(t.run(&["GET", "k"]), "$1\r\nd\r\n");
    // GETSET answers the old value and clears the TTL.
    t.run(&["SETEX", "k", "100", "e"]);
    assert_eq!(t.run(&["GETSET", "k", "f"]), "$1\r\ne\r\n");
    assert_eq!(expire_of(&t, "k"), Some(0));
    assert_eq!(t.run(&["GETSET", "new", "g"]), NIL);
    assert_eq!(t.run(&["GET", "new"]), "$1\r\ng\r\n");
}

#[test]
fn getdel_and_getex() {
    let t = TestCtx::new();
    let now = t.srv.ks.now();
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["GETDEL", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.run(&["GETDEL", "k"]), NIL);
    assert_eq!(expire_of(&t, "k"), None);

    assert_eq!(t.run(&["GETEX", "k"]), NIL);
    t.run(&["SET", "k", "v", "PX", "500"]);
    assert_eq!(t.run(&["GETEX", "k"]), "$1\r\nv\r\n");
    assert_eq!(expire_of(&t, "k"), Some(now + 500));
    assert_eq!(t.run(&["GETEX", "k", "EX", "10"]), "$1\r\nv\r\n");
    assert_eq!(expire_of(&t, "k"), Some(now + 10_000));
    assert_eq!(
        t.run(&["GETEX", "k", "PX", "10", "PX", "20"]),
        "$1\r\nv\r\n"
    );
    assert_eq!(expire_of(&t, "k"), Some(now + 20));
    assert_eq!(
        t.run(&["GETEX", "k", "PXAT", &(now + 99).to_string()]),
        "$1\r\nv\r\n"
    );
    assert_eq!(expire_of(&t, "k"), Some(now + 99));
    assert_eq!(
        t.run(&["GETEX", "k", "EXAT", &(now / 1000 + 9).to_string()]),
        "$1\r\nv\r\n"
    );
    assert_eq!(expire_of(&t, "k"), Some((now / 1000 + 9) * 1000));
    assert_eq!(t.run(&["GETEX", "k", "PERSIST", "PERSIST"]), "$1\r\nv\r\n");
    assert_eq!(expire_of(&t, "k"), Some(0));
    // EXAT in the past: the value, then the key is gone.
    assert_eq!(t.run(&["GETEX", "k", "EXAT", "1"]), "$1\r\nv\r\n");
    assert_eq!(expire_of(&t, "k"), None);

    t.run(&["SET", "k", "v"]);
    for args in [
        &["GETEX", "k", "EX", "10", "PERSIST"][..],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "EX"],
        &["GETEX", "k", "EX", "1", "PX", "1"],
        &["GETEX", "missing", "FOO"],
    ] {
        assert_eq!(t.run(args), SYNTAX, "{args:?}");
    }
    assert_eq!(t.run(&["GETEX", "k", "EX", "abc"]), NOT_INT);
    assert_eq!(
        t.run(&["GETEX", "k", "EX", "0"]),
        "-ERR invalid expire time in 'getex' command\r\n"
    );
    // A missing key answers nil before the expiry value is looked at (as Redis).
    assert_eq!(t.run(&["GETEX", "missing", "EX", "abc"]), NIL);
    assert_eq!(expire_of(&t, "k"), Some(0));
}

#[test]
fn mget_mset_msetnx() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["MSET", "a", "1", "b", "2", "{x}c", "3"]), OK);
    assert_eq!(
        t.run(&["MGET", "a", "nope", "b", "{x}c"]),
        "*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    t.resp3();
    assert_eq!(t.run(&["MGET", "nope", "a"]), "*2\r\n_\r\n$1\r\n1\r\n");
    t.sess.lock().resp3 = false;
    assert_eq!(
        t.run(&["MSET", "a"]),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(
        t.run(&["MSET", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(
        t.run(&["MSETNX", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
    // MSETNX writes nothing when any key exists.
    assert_eq!(t.run(&["MSETNX", "n1", "x", "a", "y"]), ":0\r\n");
    assert_eq!(t.run(&["GET", "n1"]), NIL);
    assert_eq!(
        t.run(&["MSETNX", "n1", "x", "n2", "y", "n1", "z"]),
        ":1\r\n"
    );
    assert_eq!(t.run(&["MGET", "n1", "n2"]), "*2\r\n$1\r\nz\r\n$1\r\ny\r\n");
    // MSET clears TTLs; duplicates: the last wins.
    t.run(&["SET", "a", "v", "EX", "100"]);
    assert_eq!(t.run(&["MSET", "a", "1", "a", "2"]), OK);
    assert_eq!(t.run(&["GET", "a"]), "$1\r\n2\r\n");
    assert_eq!(expire_of(&t, "a"), Some(0));
    // Many keys over many shards.
    let mut args: Vec<String> = vec!["MSET".into()];
    for i in 0..200 {
        args.push(format!("key:{i}"));
        args.push(format!("val:{i}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(t.run(&a), OK);
    let got = t.run(&["MGET", "key:0", "key:199", "key:200"]);
    assert_eq!(got, "*3\r\n$5\r\nval:0\r\n$7\r\nval:199\r\n$-1\r\n");
}

#[test]
fn append_and_strlen() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["STRLEN", "k"]), ":0\r\n");
    assert_eq!(t.run(&["APPEND", "k", "Hello"]), ":5\r\n");
    assert_eq!(t.run(&["APPEND", "k", " World"]), ":11\r\n");
    assert_eq!(t.run(&["GET", "k"]), "$11\r\nHello World\r\n");
    assert_eq!(t.run(&["STRLEN", "k"]), ":11\r\n");
    assert_eq!(t.run(&["APPEND", "k", ""]), ":11\r\n");
    // APPEND keeps the TTL.
    t.run(&["SET", "t", "a", "PX", "100"]);
    let at = expire_of(&t, "t");
    assert_eq!(t.run(&["APPEND", "t", "b"]), ":2\r\n");
    assert_eq!(expire_of(&t, "t"), at);
    for _ in 0..1000 {
        t.run(&["APPEND", "big", "0123456789"]);
    }
    assert_eq!(t.run(&["STRLEN", "big"]), ":10000\r\n");
}

#[test]
fn getrange_and_substr() {
    let t = TestCtx::new();
    t.run(&["SET", "s", "This is a string"]);
    for (s, e, want) in [
        ("0", "3", "This"),
        ("-3", "-1", "ing"),
        ("0", "-1", "This is a string"),
        ("10", "100", "string"),
        ("-100", "100", "This is a string"),
        ("0", "-100", "T"),
        ("-1", "-5", ""),
        ("5", "3", ""),
        ("100", "200", ""),
        (
            "-9223372036854775808",
            "9223372036854775807",
            "This is a string",
        ),
    ] {
        let r = t.run(&["GETRANGE", "s", s, e]);
        assert_eq!(r, format!("${}\r\n{want}\r\n", want.len()), "{s} {e}");
        assert_eq!(t.run(&["SUBSTR", "s", s, e]), r);
    }
    assert_eq!(t.run(&["GETRANGE", "missing", "0", "-1"]), "$0\r\n\r\n");
    t.run(&["SET", "e", ""]);
    assert_eq!(t.run(&["GETRANGE", "e", "0", "-1"]), "$0\r\n\r\n");
    assert_eq!(t.run(&["GETRANGE", "s", "x", "1"]), NOT_INT);
    assert_eq!(t.run(&["GETRANGE", "missing", "0", "1.5"]), NOT_INT);
}

#[test]
fn setrange() {
    let t = TestCtx::new();
    t.run(&["SET", "k", "Hello World"]);
    assert_eq!(t.run(&["SETRANGE", "k", "6", "Redis"]), ":11\r\n");
    assert_eq!(t.run(&["GET", "k"]), "$11\r\nHello Redis\r\n");
    assert_eq!(t.run(&["SETRANGE", "n", "3", "ab"]), ":5\r\n");
    assert_eq!(t.run_bytes(&[b"GET", b"n"]), b"$5\r\n\x00\x00\x00ab\r\n");
    assert_eq!(t.run(&["SETRANGE", "n", "1", "Z"]), ":5\r\n");
    assert_eq!(t.run_bytes(&[b"GET", b"n"]), b"$5\r\n\x00Z\x00ab\r\n");
    // Empty value: the length, never a new key, no range check.
    assert_eq!(t.run(&["SETRANGE", "m", "10", ""]), ":0\r\n");
    assert_eq!(expire_of(&t, "m"), None);
    assert_eq!(t.run(&["SETRANGE", "k", "999999999999", ""]), ":11\r\n");
    let oor = "-ERR offset is out of range\r\n";
    assert_eq!(t.run(&["SETRANGE", "k", "-1", "x"]), oor);
    assert_eq!(t.run(&["SETRANGE", "m", "-1", ""]), oor);
    assert_eq!(t.run(&["SETRANGE", "k", "x", "x"]), NOT_INT);
    // Keeps the TTL.
    t.run(&["SET", "t", "abc", "EX", "100"]);
    let at = expire_of(&t, "t");
    assert_eq!(t.run(&["SETRANGE", "t", "1", "X"]), ":3\r\n");
    assert_eq!(expire_of(&t, "t"), at);
}

#[test]
fn growth_past_proto_max_bulk_len() {
    let t = TestCtx::new();
    t.srv.settings.proto_max_bulk_len.store(100, Relaxed);
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    assert_eq!(t.run(&["SETRANGE", "k", "99", "x"]), ":100\r\n");
    assert_eq!(t.run(&["SETRANGE", "k", "99", "xy"]), too_big);
    assert_eq!(t.run(&["SETRANGE", "j", "100", "x"]), too_big);
    assert_eq!(expire_of(&t, "j"), None);
    assert_eq!(t.run(&["APPEND", "k", "x"]), too_big);
    assert_eq!(t.run(&["STRLEN", "k"]), ":100\r\n");
    // The 512MB default: offsets past it are refused without allocating.
    t.srv.settings.proto_max_bulk_len.store(512 << 20, Relaxed);
    assert_eq!(t.run(&["SETRANGE", "k", "536870911", "xy"]), too_big);
    assert_eq!(
        t.run(&["SETRANGE", "k", "9223372036854775807", "x"]),
        too_big
    );
}

#[test]
fn denyoom_rows_are_refused_at_maxmemory() {
    let t = TestCtx::new();
    t.run(&["SET", "k", &"x".repeat(1000)]);
    t.srv.ks.evict.set_maxmemory(1);
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    for args in [
        &["SET", "a", "b"][..],
        &["SETNX", "a", "b"],
        &["APPEND", "k", "b"],
        &["INCR", "n"],
        &["MSET", "a", "b"],
        &["SETRANGE", "k", "0", "x"],
        &["GETSET", "k", "x"],
    ] {
        assert_eq!(t.run(args), oom, "{args:?}");
    }
    // Reads and shrinking writes still work.
    assert_eq!(t.run(&["STRLEN", "k"]), ":1000\r\n");
    assert_eq!(t.run(&["GETDEL", "k"]).len(), 1000 + 9);
}

#[test]
fn table_rows() {
    use crate::table::{flags::*, CommandTable};
    let tab = CommandTable::get();
    let row = |n: &str| tab.lookup(n.as_bytes()).unwrap();
    assert_eq!(row("mset").key_positions(5).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(
        row("mget").key_positions(4).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(row("lcs").key_positions(5).collect::<Vec<_>>(), vec![1, 2]);
    for name in ["get", "mget", "strlen", "getrange", "substr", "lcs"] {
        assert!(row(name).has(READONLY) && !row(name).has(WRITE), "{name}");
    }
    for name in [
        "set",
        "setnx",
        "append",
        "incr",
        "incrbyfloat",
        "setrange",
        "msetnx",
    ] {
        assert!(
            row(name).has(WRITE | DENYOOM) && row(name).has(DENYOOM),
            "{name}"
        );
    }
    assert!(!row("getdel").has(DENYOOM) && !row("getex").has(DENYOOM));
    for spec in super::COMMANDS {
        assert!(!spec.summary.is_empty() && !spec.since.is_empty() && !spec.syntax.is_empty());
        assert_eq!(spec.group, "string");
    }
}
