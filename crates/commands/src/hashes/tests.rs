//! Tests of the hash family: replies in both protocols, Redis's error words, encodings and
//! their conversion, random picks and cursor scans.

use crate::strings::tests::expire_of;
use crate::testing::TestCtx;

pub(crate) const WRONGTYPE: &str =
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
pub(crate) const SYNTAX: &str = "-ERR syntax error\r\n";
pub(crate) const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";

/// The bulk strings of a reply, in order (nested arrays flattened).
pub(crate) fn bulks(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n");
    while let Some(l) = lines.next() {
        if l.starts_with('$') && l != "$-1" {
            out.push(lines.next().unwrap_or_default().to_string());
        }
    }
    out
}

/// A reply's bulk strings, sorted (for orders Redis does not promise).
pub(crate) fn sorted(reply: &str) -> Vec<String> {
    let mut v = bulks(reply);
    v.sort();
    v
}

/// A small-threshold server, so both encodings are exercised by short tests.
pub(crate) fn small() -> TestCtx {
    let t = TestCtx::new();
    for (k, v) in [
        ("hash-max-listpack-entries", "4"),
        ("hash-max-listpack-value", "8"),
        ("set-max-intset-entries", "6"),
        ("set-max-listpack-entries", "4"),
        ("set-max-listpack-value", "8"),
    ] {
        assert_eq!(t.run(&["CONFIG", "SET", k, v]), "+OK\r\n");
    }
    t
}

#[test]
fn set_get_and_friends() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["HSET", "h", "a", "1", "b", "2"]), ":2\r\n");
    assert_eq!(t.run(&["HSET", "h", "a", "10", "c", "3"]), ":1\r\n");
    assert_eq!(t.run(&["HGET", "h", "a"]), "$2\r\n10\r\n");
    assert_eq!(t.run(&["HGET", "h", "zz"]), "$-1\r\n");
    assert_eq!(t.run(&["HGET", "nokey", "a"]), "$-1\r\n");
    assert_eq!(t.run(&["HLEN", "h"]), ":3\r\n");
    assert_eq!(t.run(&["HLEN", "nokey"]), ":0\r\n");
    assert_eq!(t.run(&["HEXISTS", "h", "b"]), ":1\r\n");
    assert_eq!(t.run(&["HEXISTS", "h", "x"]), ":0\r\n");
    assert_eq!(t.run(&["HSTRLEN", "h", "a"]), ":2\r\n");
    assert_eq!(t.run(&["HSTRLEN", "h", "x"]), ":0\r\n");
    assert_eq!(
        t.run(&["HMGET", "h", "a", "x", "c"]),
        "*3\r\n$2\r\n10\r\n$-1\r\n$1\r\n3\r\n"
    );
    assert_eq!(t.run(&["HMGET", "nokey", "a", "b"]), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(
        t.run(&["HGETALL", "h"]),
        "*6\r\n$1\r\na\r\n$2\r\n10\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        t.run(&["HKEYS", "h"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.run(&["HVALS", "h"]),
        "*3\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(t.run(&["HGETALL", "nokey"]), "*0\r\n");
    assert_eq!(t.run(&["HMSET", "h", "d", "4"]), "+OK\r\n");
    assert_eq!(t.run(&["HSETNX", "h", "d", "5"]), ":0\r\n");
    assert_eq!(t.run(&["HSETNX", "h", "e", "5"]), ":1\r\n");
    assert_eq!(t.run(&["HSETNX", "new", "f", "v"]), ":1\r\n");
    assert_eq!(t.run(&["HGET", "h", "d"]), "$1\r\n4\r\n");
    assert_eq!(t.run(&["TYPE", "h"]), "+hash\r\n");
    // HDEL counts removed fields and drops the key with its last field.
    assert_eq!(t.run(&["HDEL", "h", "a", "a", "zz", "b"]), ":2\r\n");
    assert_eq!(t.run(&["HDEL", "nokey", "a"]), ":0\r\n");
    assert_eq!(t.run(&["HDEL", "h", "c", "d", "e"]), ":3\r\n");
    assert_eq!(t.run(&["EXISTS", "h"]), ":0\r\n");
}

#[test]
fn arity_and_wrong_type() {
    let t = TestCtx::new();
    for c in ["hset", "hmset"] {
        assert_eq!(
            t.run(&[c, "h", "a", "1", "b"]),
            format!("-ERR wrong number of arguments for '{c}' command\r\n")
        );
    }
    assert_eq!(t.run(&["EXISTS", "h"]), ":0\r\n");
    t.run(&["SET", "s", "v"]);
    for cmd in [
        &["HSET", "s", "a", "1"][..],
        &["HSETNX", "s", "a", "1"],
        &["HMSET", "s", "a", "1"],
        &["HGET", "s", "a"],
        &["HMGET", "s", "a"],
        &["HGETALL", "s"],
        &["HDEL", "s", "a"],
        &["HEXISTS", "s", "a"],
        &["HLEN", "s"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HSTRLEN", "s", "a"],
        &["HINCRBY", "s", "a", "1"],
        &["HINCRBYFLOAT", "s", "a", "1"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
        &["HSCAN", "s", "0"],
    ] {
        assert_eq!(t.run(cmd), WRONGTYPE, "{cmd:?}");
    }
    assert_eq!(t.run(&["GET", "s"]), "$1\r\nv\r\n");
    t.run(&["HSET", "h", "a", "1"]);
    assert_eq!(t.run(&["GET", "h"]), WRONGTYPE);
}

#[test]
fn resp3_shapes() {
    let t = TestCtx::new();
    t.resp3();
    t.run(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(
        t.run(&["HGETALL", "h"]),
        "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(t.run(&["HGETALL", "nokey"]), "%0\r\n");
    assert_eq!(t.run(&["HGET", "h", "x"]), "_\r\n");
    assert_eq!(t.run(&["HMGET", "h", "a", "x"]), "*2\r\n$1\r\n1\r\n_\r\n");
    assert_eq!(t.run(&["HRANDFIELD", "nokey"]), "_\r\n");
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "5", "WITHVALUES"]),
        "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    let r = t.run(&["HRANDFIELD", "h", "-3", "withvalues"]);
    assert!(r.starts_with("*3\r\n*2\r\n"), "{r}");
    assert_eq!(r.matches("*2\r\n").count(), 3);
    assert_eq!(
        t.run(&["HSCAN", "h", "0"]),
        "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "a", "0.5"]), "$3\r\n1.5\r\n");
}

#[test]
fn hincrby_like_redis() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(t.run(&["HINCRBY", "h", "n", "-7"]), ":-2\r\n");
    assert_eq!(t.run(&["HINCRBY", "h", "n", "x"]), NOT_INT);
    assert_eq!(
        t.run(&["HINCRBY", "h", "n", "9223372036854775808"]),
        NOT_INT
    );
    t.run(&[
        "HSET",
        "h",
        "s",
        "str",
        "z",
        "01",
        "big",
        "9223372036854775807",
    ]);
    let not_int = "-ERR hash value is not an integer\r\n";
    assert_eq!(t.run(&["HINCRBY", "h", "s", "1"]), not_int);
    assert_eq!(t.run(&["HINCRBY", "h", "z", "1"]), not_int);
    assert_eq!(
        t.run(&["HINCRBY", "h", "big", "1"]),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        t.run(&["HGET", "h", "big"]),
        "$19\r\n9223372036854775807\r\n"
    );
    // A failed increment on a missing key leaves no key behind.
    assert_eq!(t.run(&["HINCRBY", "fresh", "f", "x"]), NOT_INT);
    assert_eq!(t.run(&["EXISTS", "fresh"]), ":0\r\n");
}

#[test]
fn hincrbyfloat_like_redis() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "f", "10.5"]), "$4\r\n10.5\r\n");
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "f", "0.1"]), "$4\r\n10.6\r\n");
    t.run(&["HSET", "h", "e", "1e2", "n", "5"]);
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "e", "1"]), "$3\r\n101\r\n");
    assert_eq!(t.run(&["HINCRBY", "h", "e", "1"]), ":102\r\n");
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "n", "-5"]), "$1\r\n0\r\n");
    t.run(&["HSET", "h", "s", "abc"]);
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "s", "1"]),
        "-ERR hash value is not a float\r\n"
    );
    let not_float = "-ERR value is not a valid float\r\n";
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "f", "x"]), not_float);
    assert_eq!(t.run(&["HINCRBYFLOAT", "h", "f", "1e5000"]), not_float);
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "f", "inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    t.run(&["HSET", "h", "m", "1.18973149535723176502e4932"]);
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "m", "1.18973149535723176502e4932"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "nokey", "f", "inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    assert_eq!(t.run(&["EXISTS", "nokey"]), ":0\r\n");
}

#[test]
fn hrandfield_counts() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["HRANDFIELD", "nokey"]), "$-1\r\n");
    assert_eq!(t.run(&["HRANDFIELD", "nokey", "3"]), "*0\r\n");
    assert_eq!(
        t.run(&["HRANDFIELD", "nokey", "-3", "WITHVALUES"]),
        "*0\r\n"
    );
    t.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(t.run(&["HRANDFIELD", "h", "0"]), "*0\r\n");
    assert_eq!(t.run(&["HRANDFIELD", "h", "1", "foo"]), SYNTAX);
    assert_eq!(t.run(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]), SYNTAX);
    assert_eq!(t.run(&["HRANDFIELD", "h", "x"]), NOT_INT);
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        t.run(&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]),
        "-ERR value is out of range\r\n"
    );
    let one = bulks(&t.run(&["HRANDFIELD", "h"]));
    assert!(["a", "b", "c"].contains(&one[0].as_str()));
    // Positive counts: distinct, capped at the size.
    assert_eq!(sorted(&t.run(&["HRANDFIELD", "h", "10"])), ["a", "b", "c"]);
    for _ in 0..20 {
        let two = bulks(&t.run(&["HRANDFIELD", "h", "2"]));
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
    }
    // Negative counts: exactly that many, repeats allowed, values paired with their fields.
    let r = bulks(&t.run(&["HRANDFIELD", "h", "-20", "WITHVALUES"]));
    assert_eq!(r.len(), 40);
    for p in r.chunks(2) {
        let want = match p[0].as_str() {
            "a" => "1",
            "b" => "2",
            _ => "3",
        };
        assert_eq!(p[1], want);
    }
}

#[test]
fn hrandfield_on_a_table() {
    let t = small();
    for i in 0..50 {
        t.run(&["HSET", "h", &format!("f{i}"), &format!("v{i}")]);
    }
    assert_eq!(t.run(&["OBJECT", "ENCODING", "h"]), "$9\r\nhashtable\r\n");
    let r = bulks(&t.run(&["HRANDFIELD", "h", "45", "WITHVALUES"]));
    assert_eq!(r.len(), 90);
    let fields: std::collections::HashSet<_> = r.chunks(2).map(|p| p[0].clone()).collect();
    assert_eq!(fields.len(), 45);
    for p in r.chunks(2) {
        assert_eq!(p[1], p[0].replace('f', "v"));
    }
    assert_eq!(bulks(&t.run(&["HRANDFIELD", "h", "5"])).len(), 5);
    assert_eq!(bulks(&t.run(&["HRANDFIELD", "h", "-100"])).len(), 100);
}

#[test]
fn encodings_convert_once() {
    let t = small();
    t.run(&["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "h"]), "$8\r\nlistpack\r\n");
    t.run(&["HSET", "h", "e", "5"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "h"]), "$9\r\nhashtable\r\n");
    t.run(&["HDEL", "h", "a", "b", "c", "d"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "h"]), "$9\r\nhashtable\r\n");
    // A long value or field converts at once; so do more pairs than fit in one command.
    t.run(&["HSET", "v", "a", "123456789"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "v"]), "$9\r\nhashtable\r\n");
    t.run(&["HSET", "f", "123456789", "a"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "f"]), "$9\r\nhashtable\r\n");
    t.run(&[
        "HSET", "n", "a", "1", "b", "2", "c", "3", "d", "4", "a", "5",
    ]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "n"]), "$9\r\nhashtable\r\n");
    assert_eq!(t.run(&["HLEN", "n"]), ":4\r\n");
    // HINCRBYFLOAT's long result converts too.
    t.run(&["HSET", "i", "x", "1"]);
    t.run(&["HINCRBYFLOAT", "i", "x", "0.123456789"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "i"]), "$9\r\nhashtable\r\n");
    assert_eq!(t.run(&["HGET", "i", "x"]), "$11\r\n1.123456789\r\n");
}

#[test]
fn writes_keep_the_ttl() {
    let t = TestCtx::new();
    t.run(&["HSET", "h", "a", "1"]);
    t.run(&["PEXPIRE", "h", "5000"]);
    let at = expire_of(&t, "h");
    t.run(&["HSET", "h", "b", "2"]);
    t.run(&["HINCRBY", "h", "n", "1"]);
    t.run(&["HDEL", "h", "a"]);
    assert_eq!(expire_of(&t, "h"), at);
    t.advance_ms(5000);
    assert_eq!(t.run(&["HLEN", "h"]), ":0\r\n");
}

#[test]
fn hscan_returns_everything() {
    let t = small();
    t.run(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(t.run(&["HSCAN", "h", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(t.run(&["HSCAN", "h", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(t.run(&["HSCAN", "h", "0", "MATCH"]), SYNTAX);
    assert_eq!(t.run(&["HSCAN", "h", "0", "NOVALUES"]), SYNTAX);
    assert_eq!(t.run(&["HSCAN", "h", "0", "COUNT", "x"]), NOT_INT);
    assert_eq!(t.run(&["HSCAN", "nokey", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(
        t.run(&["HSCAN", "h", "0", "MATCH", "b*"]),
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    for i in 0..100 {
        t.run(&["HSET", "big", &format!("f{i}"), &i.to_string()]);
    }
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashMap::new();
    let mut calls = 0;
    loop {
        let r = bulks(&t.run(&["HSCAN", "big", &cursor, "COUNT", "7"]));
        cursor = r[0].clone();
        for p in r[1..].chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 10);
    assert_eq!(seen.len(), 100);
    assert_eq!(seen["f42"], "42");
    let m = bulks(&t.run(&["HSCAN", "big", "0", "MATCH", "f1?", "COUNT", "1000"]));
    assert_eq!(m.len(), 1 + 20);
}

#[test]
fn memory_is_accounted_and_returned() {
    let t = small();
    let base = t.srv.ks.used_memory();
    for i in 0..200 {
        t.run(&["HSET", "big", &format!("field{i}"), "some value"]);
        t.run(&["HSET", &format!("small{i}"), "f", "v"]);
    }
    let used = t.srv.ks.used_memory() - base;
    assert!(used > 200 * 30, "{used}");
    for i in 0..200 {
        t.run(&["HDEL", "big", &format!("field{i}")]);
        t.run(&["DEL", &format!("small{i}")]);
    }
    assert_eq!(t.run(&["EXISTS", "big"]), ":0\r\n");
    assert_eq!(t.srv.ks.used_memory(), base);
}

/// The memory target: many small hashes must not cost more than Redis's listpacks
/// (Redis 7.0: ~309 bytes of used_memory per 10-field hash of this shape).
#[test]
fn small_hashes_are_compact() {
    let t = TestCtx::new();
    let base = t.srv.ks.used_memory();
    for i in 0..1000 {
        let mut args = vec!["HSET".to_string(), format!("user:{i}")];
        for f in 0..10 {
            args.push(format!("field{f}"));
            args.push(format!("value-{i:05}"));
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        t.run(&a);
    }
    let per_key = (t.srv.ks.used_memory() - base) / 1000;
    assert!(per_key <= 290, "{per_key} bytes per hash");
}
