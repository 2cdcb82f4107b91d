//! Tests of the generic key commands (`keys.rs`), in redis-cli style against `TestCtx`.
//! Doubtful replies were checked against redis-server 7.0.15.

use super::parse_cursor;
use crate::testing::TestCtx;
use std::collections::BTreeSet;

/// A decoded reply, enough for the shapes these commands answer.
#[derive(Debug, PartialEq)]
enum V {
    Int(i64),
    Bulk(Vec<u8>),
    Arr(Vec<V>),
    Other(Vec<u8>),
}

fn parse(b: &[u8]) -> V {
    let (v, rest) = parse_one(b);
    assert!(rest.is_empty(), "trailing bytes after reply");
    v
}

fn parse_one(b: &[u8]) -> (V, &[u8]) {
    let eol = b.windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let (head, rest) = (&b[1..eol], &b[eol + 2..]);
    let n = || std::str::from_utf8(head).unwrap().parse::<i64>().unwrap();
    match b[0] {
        b':' => (V::Int(n()), rest),
        b'$' => {
            let len = n() as usize;
            (V::Bulk(rest[..len].to_vec()), &rest[len + 2..])
        }
        b'*' => {
            let mut items = Vec::new();
            let mut rest = rest;
            for _ in 0..n() {
                let (v, r) = parse_one(rest);
                items.push(v);
                rest = r;
            }
            (V::Arr(items), rest)
        }
        _ => (V::Other(b[..eol].to_vec()), rest),
    }
}

/// The keys of a KEYS reply (or of SCAN's inner array), sorted.
fn key_set(v: &V) -> BTreeSet<Vec<u8>> {
    let V::Arr(items) = v else {
        panic!("not an array: {v:?}")
    };
    items
        .iter()
        .map(|i| match i {
            V::Bulk(b) => b.clone(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect()
}

fn keys_of(t: &TestCtx, pat: &str) -> BTreeSet<String> {
    key_set(&parse(t.run(&["KEYS", pat]).as_bytes()))
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// One SCAN call: (next cursor, keys).
fn scan_once(t: &TestCtx, args: &[&str]) -> (u64, BTreeSet<Vec<u8>>) {
    let mut a = vec!["SCAN"];
    a.extend_from_slice(args);
    let V::Arr(parts) = parse(t.run(&a).as_bytes()) else {
        panic!("SCAN reply is not an array")
    };
    assert_eq!(parts.len(), 2);
    let V::Bulk(c) = &parts[0] else {
        panic!("cursor is not a bulk string")
    };
    let c = std::str::from_utf8(c).unwrap().parse().unwrap();
    (c, key_set(&parts[1]))
}

/// A whole SCAN iteration with extra options.
fn scan_all(t: &TestCtx, opts: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let c = cursor.to_string();
        let mut a = vec![c.as_str()];
        a.extend_from_slice(opts);
        let (next, keys) = scan_once(t, &a);
        out.extend(keys.into_iter().map(|k| String::from_utf8(k).unwrap()));
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

#[test]
fn del_unlink_exists_touch_type() {
    let t = TestCtx::new();
    for k in ["a", "b", "c"] {
        t.run(&["SET", k, "v"]);
    }
    assert_eq!(t.run(&["EXISTS", "a", "a", "a", "nokey"]), ":3\r\n");
    assert_eq!(t.run(&["TOUCH", "a", "a", "x"]), ":2\r\n");
    assert_eq!(t.run(&["TYPE", "a"]), "+string\r\n");
    assert_eq!(t.run(&["TYPE", "nokey"]), "+none\r\n");
    assert_eq!(t.run(&["DEL", "a", "a", "nokey"]), ":1\r\n");
    assert_eq!(t.run(&["UNLINK", "b", "c", "b"]), ":2\r\n");
    assert_eq!(t.run(&["EXISTS", "a", "b", "c"]), ":0\r\n");
    assert_eq!(t.run(&["DEL", "a"]), ":0\r\n");
    for c in ["DEL", "UNLINK", "EXISTS", "TOUCH", "TYPE"] {
        assert_eq!(
            t.run(&[c]),
            format!(
                "-ERR wrong number of arguments for '{}' command\r\n",
                c.to_lowercase()
            )
        );
    }
    assert_eq!(
        t.run(&["TYPE", "a", "b"]),
        "-ERR wrong number of arguments for 'type' command\r\n"
    );
    // An expired key is gone for all of them.
    t.run(&["SET", "e", "v", "PX", "10"]);
    t.advance_ms(10);
    assert_eq!(t.run(&["EXISTS", "e"]), ":0\r\n");
    assert_eq!(t.run(&["TYPE", "e"]), "+none\r\n");
    assert_eq!(t.run(&["DEL", "e"]), ":0\r\n");
}

#[test]
fn binary_keys() {
    let t = TestCtx::new();
    let k1: &[u8] = b"bin\x00\xff\r\nkey";
    let k2: &[u8] = b"\x00";
    t.run_bytes(&[b"SET", k1, b"v"]);
    t.run_bytes(&[b"SET", k2, b"w"]);
    assert_eq!(t.run_bytes(&[b"EXISTS", k1, k2, b"bin"]), b":2\r\n");
    let all = key_set(&parse(&t.run_bytes(&[b"KEYS", b"*"])));
    assert_eq!(all, [k1.to_vec(), k2.to_vec()].into_iter().collect());
    let m = key_set(&parse(&t.run_bytes(&[b"KEYS", b"bin?\xff*"])));
    assert_eq!(m, [k1.to_vec()].into_iter().collect());
    let V::Arr(parts) = parse(&t.run_bytes(&[b"SCAN", b"0", b"COUNT", b"1000"])) else {
        panic!()
    };
    assert_eq!(key_set(&parts[1]).len(), 2);
    assert_eq!(t.run_bytes(&[b"RENAME", k1, b"\x01\x02"]), b"+OK\r\n");
    assert_eq!(t.run_bytes(&[b"GET", b"\x01\x02"]), b"$1\r\nv\r\n");
    assert_eq!(t.run_bytes(&[b"COPY", k2, k1]), b":1\r\n");
    assert_eq!(t.run_bytes(&[b"GET", k1]), b"$1\r\nw\r\n");
    assert_eq!(t.run_bytes(&[b"MOVE", k1, b"3"]), b":1\r\n");
    assert_eq!(t.run_bytes(&[b"EXPIRE", k2, b"5"]), b":1\r\n");
    assert_eq!(t.run_bytes(&[b"TTL", k2]), b":5\r\n");
    assert_eq!(t.run_bytes(&[b"DEL", k2, b"\x01\x02"]), b":2\r\n");
    assert_eq!(t.run_bytes(&[b"RANDOMKEY"]), b"$-1\r\n");
}

#[test]
fn keys_patterns() {
    let t = TestCtx::new();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "user:1", "user:42", "",
    ] {
        t.run(&["SET", k, "v"]);
    }
    assert_eq!(keys_of(&t, "h?llo"), set(&["hello", "hallo", "hxllo"]));
    assert_eq!(
        keys_of(&t, "h*llo"),
        set(&["hello", "hallo", "hxllo", "hllo", "heeeello"])
    );
    assert_eq!(keys_of(&t, "h[ae]llo"), set(&["hello", "hallo"]));
    assert_eq!(keys_of(&t, "h[^e]llo"), set(&["hallo", "hxllo"]));
    assert_eq!(keys_of(&t, "user:[0-9]*"), set(&["user:1", "user:42"]));
    assert_eq!(keys_of(&t, "HELLO"), set(&[]));
    assert_eq!(keys_of(&t, "*").len(), 8, "the empty key matches *");
    t.run(&["SET", "gone", "v", "PX", "5"]);
    assert!(keys_of(&t, "gone").contains("gone"));
    t.advance_ms(5);
    assert_eq!(keys_of(&t, "gone"), set(&[]));
    assert_eq!(
        t.run(&["KEYS"]),
        "-ERR wrong number of arguments for 'keys' command\r\n"
    );
    t.resp3();
    assert_eq!(t.run(&["KEYS", "hll*"]), "*1\r\n$4\r\nhllo\r\n");
    assert_eq!(t.run(&["KEYS", "none*"]), "*0\r\n");
}

#[test]
fn keys_in_a_large_db() {
    let t = TestCtx::new();
    for i in 0..5000 {
        t.run(&["SET", &format!("k:{i}"), "v"]);
    }
    assert_eq!(keys_of(&t, "*").len(), 5000);
    assert_eq!(keys_of(&t, "k:4??9").len(), 100);
    assert_eq!(keys_of(&t, "k:49?").len(), 10);
}

#[test]
fn scan_options() {
    let t = TestCtx::new();
    for i in 0..100 {
        t.run(&["SET", &format!("key:{i}"), "v"]);
        t.run(&["SET", &format!("other:{i}"), "v"]);
    }
    assert_eq!(scan_all(&t, &[]).len(), 200);
    assert_eq!(scan_all(&t, &["COUNT", "1"]).len(), 200);
    assert_eq!(scan_all(&t, &["COUNT", "100000"]).len(), 200);
    let (c, keys) = scan_once(&t, &["0", "COUNT", "100000"]);
    assert_eq!((c, keys.len()), (0, 200));
    let m = scan_all(&t, &["MATCH", "key:1*", "COUNT", "7"]);
    assert_eq!(m.len(), 11);
    assert!(m.iter().all(|k| k.starts_with("key:1")));
    assert_eq!(scan_all(&t, &["MATCH", "*"]).len(), 200);
    assert_eq!(scan_all(&t, &["TYPE", "string"]).len(), 200);
    assert_eq!(scan_all(&t, &["type", "STRING"]).len(), 200);
    assert_eq!(scan_all(&t, &["TYPE", "list"]).len(), 0);
    assert_eq!(scan_all(&t, &["TYPE", "nosuchtype"]).len(), 0);
    // Repeated options: the last wins, as in Redis.
    let m = scan_all(&t, &["MATCH", "nope", "MATCH", "other:5?", "COUNT", "3"]);
    assert_eq!(m.len(), 10);

    let e = "-ERR syntax error\r\n";
    assert_eq!(t.run(&["SCAN", "0", "COUNT", "0"]), e);
    assert_eq!(t.run(&["SCAN", "0", "COUNT", "-1"]), e);
    assert_eq!(t.run(&["SCAN", "0", "MATCH"]), e);
    assert_eq!(t.run(&["SCAN", "0", "COUNT", "0", "foo"]), e);
    assert_eq!(t.run(&["SCAN", "0", "foo", "bar"]), e);
    let ni = "-ERR value is not an integer or out of range\r\n";
    assert_eq!(t.run(&["SCAN", "0", "COUNT", "x"]), ni);
    assert_eq!(t.run(&["SCAN", "0", "COUNT", "9999999999999999999"]), ni);
    let ic = "-ERR invalid cursor\r\n";
    for bad in [
        "x",
        " 1",
        "1x",
        "--1",
        "+",
        "-",
        "18446744073709551616",
        "1.5",
    ] {
        assert_eq!(t.run(&["SCAN", bad]), ic, "{bad:?}");
    }
    // The cursor is checked before the options.
    assert_eq!(t.run(&["SCAN", "x", "COUNT", "0"]), ic);
    assert_eq!(
        t.run(&["SCAN"]),
        "-ERR wrong number of arguments for 'scan' command\r\n"
    );
    // A cursor past the end ends the iteration.
    assert_eq!(
        t.run(&["SCAN", "18446744073709551615"]),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
}

#[test]
fn scan_cursor_is_read_as_redis_7_0_does() {
    assert_eq!(parse_cursor(b"0"), Some(0));
    assert_eq!(parse_cursor(b""), Some(0));
    assert_eq!(parse_cursor(b"+12"), Some(12));
    assert_eq!(parse_cursor(b"-0"), Some(0));
    assert_eq!(parse_cursor(b"007"), Some(7));
    assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
    assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_cursor(b"-18446744073709551615"), Some(1));
    for bad in [
        &b" 1"[..],
        b"1 ",
        b"0x10",
        b"--1",
        b"+",
        b"18446744073709551616",
    ] {
        assert_eq!(parse_cursor(bad), None, "{bad:?}");
    }
}

#[test]
fn scan_reply_shape() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
    t.resp3();
    assert_eq!(t.run(&["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
    t.run(&["SET", "e", "v", "PX", "1"]);
    t.advance_ms(1);
    assert_eq!(
        t.run(&["SCAN", "0", "MATCH", "e"]),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
}

/// SCAN's guarantee: a key present for the whole iteration is returned at least once, while
/// thousands of keys are added between calls (the slot tables grow and their indexes
/// rehash) and others are deleted (entries move inside the tables). A third of all keys
/// share the `{hot}` hash tag, so one slot table holds thousands of keys and is walked over
/// many calls while it grows and shrinks under the cursor.
#[test]
fn scan_returns_every_stable_key_while_the_table_changes() {
    let t = TestCtx::new();
    let name = |kind: &str, i: usize| {
        if i.is_multiple_of(3) {
            format!("{{hot}}{kind}:{i}")
        } else {
            format!("{kind}:{i}")
        }
    };
    let stable: Vec<String> = (0..3000).map(|i| name("stable", i)).collect();
    for k in &stable {
        t.run(&["SET", k, "v"]);
    }
    let mut doomed: Vec<String> = (0..3000).map(|i| name("doomed", i)).collect();
    for k in &doomed {
        t.run(&["SET", k, "v"]);
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let (mut cursor, mut added, mut calls) = (0u64, 0usize, 0usize);
    loop {
        let (next, keys) = scan_once(&t, &[&cursor.to_string(), "COUNT", "20"]);
        seen.extend(keys.into_iter().map(|k| String::from_utf8(k).unwrap()));
        calls += 1;
        // Between calls: add 40 new keys and delete 5 keys not in the stable set.
        for _ in 0..40 {
            t.run(&["SET", &name("new", added), "v"]);
            added += 1;
        }
        for _ in 0..5 {
            if let Some(k) = doomed.pop() {
                assert_eq!(t.run(&["DEL", &k]), ":1\r\n");
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert!(calls > 100, "the scan took {calls} calls");
    assert!(added > 4000, "only {added} keys were added");
    let missing: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "SCAN missed {} stable keys",
        missing.len()
    );
}

#[test]
fn randomkey() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["RANDOMKEY"]), "$-1\r\n");
    t.run(&["SET", "only", "v"]);
    assert_eq!(t.run(&["RANDOMKEY"]), "$4\r\nonly\r\n");
    t.run(&["SET", "other", "v"]);
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        seen.insert(t.run(&["RANDOMKEY"]));
    }
    assert_eq!(seen.len(), 2);
    assert_eq!(
        t.run(&["RANDOMKEY", "x"]),
        "-ERR wrong number of arguments for 'randomkey' command\r\n"
    );
    t.run(&["SELECT", "1"]);
    t.resp3();
    assert_eq!(t.run(&["RANDOMKEY"]), "_\r\n");
}

#[test]
fn rename_and_renamenx() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["RENAME", "nokey", "x"]), "-ERR no such key\r\n");
    assert_eq!(t.run(&["RENAMENX", "nokey", "x"]), "-ERR no such key\r\n");
    assert_eq!(t.run(&["RENAME", "nokey", "nokey"]), "-ERR no such key\r\n");
    t.run(&["SET", "a", "1"]);
    assert_eq!(t.run(&["RENAME", "a", "a"]), "+OK\r\n");
    assert_eq!(t.run(&["RENAMENX", "a", "a"]), ":0\r\n");
    assert_eq!(t.run(&["GET", "a"]), "$1\r\n1\r\n");
    // RENAME keeps the TTL.
    t.run(&["PEXPIRE", "a", "5000"]);
    assert_eq!(t.run(&["RENAME", "a", "b"]), "+OK\r\n");
    assert_eq!(t.run(&["EXISTS", "a"]), ":0\r\n");
    assert_eq!(t.run(&["PTTL", "b"]), ":5000\r\n");
    // Overwriting a destination that has a TTL: the destination takes the source's (none).
    t.run(&["SET", "c", "3"]);
    t.run(&["SET", "d", "4", "EX", "100"]);
    assert_eq!(t.run(&["RENAME", "c", "d"]), "+OK\r\n");
    assert_eq!(t.run(&["GET", "d"]), "$1\r\n3\r\n");
    assert_eq!(t.run(&["TTL", "d"]), ":-1\r\n");
    // RENAMENX.
    assert_eq!(t.run(&["RENAMENX", "b", "d"]), ":0\r\n");
    assert_eq!(t.run(&["RENAMENX", "b", "e"]), ":1\r\n");
    assert_eq!(t.run(&["PTTL", "e"]), ":5000\r\n");
    assert_eq!(keys_of(&t, "*"), set(&["d", "e"]));
    // The renamed key still expires.
    t.advance_ms(5000);
    assert_eq!(t.run(&["EXISTS", "e"]), ":0\r\n");
    assert_eq!(t.run(&["RENAME", "e", "f"]), "-ERR no such key\r\n");
    assert_eq!(
        t.run(&["RENAME", "a"]),
        "-ERR wrong number of arguments for 'rename' command\r\n"
    );
}

#[test]
fn copy_within_and_across_databases() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["COPY", "nokey", "x"]), ":0\r\n");
    t.run(&["SET", "src", "v1", "PX", "7000"]);
    t.run(&["SET", "dst", "old"]);
    assert_eq!(t.run(&["COPY", "src", "dst"]), ":0\r\n");
    assert_eq!(t.run(&["GET", "dst"]), "$3\r\nold\r\n");
    assert_eq!(t.run(&["COPY", "src", "dst", "REPLACE"]), ":1\r\n");
    assert_eq!(t.run(&["GET", "dst"]), "$2\r\nv1\r\n");
    assert_eq!(t.run(&["PTTL", "dst"]), ":7000\r\n", "COPY copies the TTL");
    assert_eq!(t.run(&["GET", "src"]), "$2\r\nv1\r\n");
    assert_eq!(t.run(&["COPY", "src", "fresh"]), ":1\r\n");
    // The copy is independent of the source.
    t.run(&["SET", "src", "changed", "KEEPTTL"]);
    assert_eq!(t.run(&["GET", "fresh"]), "$2\r\nv1\r\n");
    // Across databases.
    assert_eq!(t.run(&["COPY", "src", "src", "DB", "1"]), ":1\r\n");
    assert_eq!(t.run(&["COPY", "src", "src", "db", "1"]), ":0\r\n");
    assert_eq!(
        t.run(&["COPY", "src", "src", "DB", "1", "REPLACE"]),
        ":1\r\n"
    );
    assert_eq!(t.run(&["COPY", "dst", "x", "DB", "3", "DB", "2"]), ":1\r\n");
    t.run(&["SELECT", "1"]);
    assert_eq!(t.run(&["GET", "src"]), "$7\r\nchanged\r\n");
    assert_eq!(t.run(&["PTTL", "src"]), ":7000\r\n");
    assert_eq!(t.run(&["EXISTS", "dst", "fresh"]), ":0\r\n");
    // From db 1 back into db 0.
    t.run(&["SET", "one", "1"]);
    assert_eq!(t.run(&["COPY", "one", "zero", "DB", "0"]), ":1\r\n");
    t.run(&["SELECT", "2"]);
    assert_eq!(t.run(&["GET", "x"]), "$2\r\nv1\r\n");
    t.run(&["SELECT", "0"]);
    assert_eq!(t.run(&["GET", "zero"]), "$1\r\n1\r\n");
    assert_eq!(t.run(&["EXISTS", "one"]), ":0\r\n");
    // The copies expire with their TTL.
    t.advance_ms(7000);
    assert_eq!(t.run(&["EXISTS", "src", "dst", "fresh"]), ":0\r\n");

    let same = "-ERR source and destination objects are the same\r\n";
    assert_eq!(t.run(&["COPY", "a", "a"]), same);
    assert_eq!(t.run(&["COPY", "a", "a", "DB", "0"]), same);
    let range = "-ERR DB index is out of range\r\n";
    assert_eq!(t.run(&["COPY", "a", "b", "DB", "16"]), range);
    assert_eq!(t.run(&["COPY", "a", "b", "DB", "-1"]), range);
    assert_eq!(
        t.run(&["COPY", "a", "b", "DB", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.run(&["COPY", "a", "b", "DB", "99999999999"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(t.run(&["COPY", "a", "b", "DB"]), "-ERR syntax error\r\n");
    assert_eq!(t.run(&["COPY", "a", "b", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.run(&["COPY", "a"]),
        "-ERR wrong number of arguments for 'copy' command\r\n"
    );
}

#[test]
fn move_between_databases() {
    let t = TestCtx::new();
    t.run(&["SET", "k", "v", "EX", "100"]);
    assert_eq!(t.run(&["MOVE", "k", "1"]), ":1\r\n");
    assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(
        t.run(&["MOVE", "k", "1"]),
        ":0\r\n",
        "missing in the source"
    );
    t.run(&["SELECT", "1"]);
    assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":100\r\n", "MOVE keeps the TTL");
    // The destination already has the key: nothing moves.
    t.run(&["SELECT", "0"]);
    t.run(&["SET", "k", "zero"]);
    assert_eq!(t.run(&["MOVE", "k", "1"]), ":0\r\n");
    assert_eq!(t.run(&["GET", "k"]), "$4\r\nzero\r\n");
    // Back from db 1 to db 2.
    t.run(&["SELECT", "1"]);
    assert_eq!(t.run(&["MOVE", "k", "2"]), ":1\r\n");
    assert_eq!(keys_of(&t, "*"), set(&[]));
    t.run(&["SELECT", "2"]);
    assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
    t.advance_ms(100_000);
    assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");

    let same = "-ERR source and destination objects are the same\r\n";
    assert_eq!(t.run(&["MOVE", "nokey", "2"]), same);
    let range = "-ERR DB index is out of range\r\n";
    assert_eq!(t.run(&["MOVE", "k", "16"]), range);
    assert_eq!(t.run(&["MOVE", "k", "-1"]), range);
    assert_eq!(
        t.run(&["MOVE", "k", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.run(&["MOVE", "k", "-99999999999"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(
        t.run(&["MOVE", "k"]),
        "-ERR wrong number of arguments for 'move' command\r\n"
    );
}

#[test]
fn expire_family_sets_ttls() {
    let t = TestCtx::new();
    let now = 1_700_000_000_000u64;
    assert_eq!(t.run(&["EXPIRE", "nokey", "10"]), ":0\r\n");
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["EXPIRE", "k", "10"]), ":1\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":10\r\n");
    assert_eq!(t.run(&["PTTL", "k"]), ":10000\r\n");
    assert_eq!(t.run(&["PEXPIRE", "k", "2500"]), ":1\r\n");
    assert_eq!(t.run(&["PTTL", "k"]), ":2500\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":3\r\n", "TTL rounds to nearest");
    t.advance_ms(1001);
    assert_eq!(t.run(&["TTL", "k"]), ":1\r\n");
    let at = (now / 1000 + 100).to_string();
    assert_eq!(t.run(&["EXPIREAT", "k", &at]), ":1\r\n");
    assert_eq!(t.run(&["EXPIRETIME", "k"]), format!(":{at}\r\n"));
    assert_eq!(t.run(&["PEXPIRETIME", "k"]), format!(":{at}000\r\n"));
    assert_eq!(t.run(&["PEXPIREAT", "k", "2000000000499"]), ":1\r\n");
    assert_eq!(t.run(&["EXPIRETIME", "k"]), ":2000000000\r\n");
    assert_eq!(t.run(&["PEXPIREAT", "k", "2000000000500"]), ":1\r\n");
    assert_eq!(t.run(&["EXPIRETIME", "k"]), ":2000000001\r\n");
    assert_eq!(t.run(&["PEXPIRETIME", "k"]), ":2000000000500\r\n");
    // The largest absolute time is accepted.
    assert_eq!(t.run(&["PEXPIREAT", "k", &i64::MAX.to_string()]), ":1\r\n");
    assert_eq!(t.run(&["EXPIRETIME", "k"]), ":9223372036854776\r\n");
    // PERSIST.
    assert_eq!(t.run(&["PERSIST", "k"]), ":1\r\n");
    assert_eq!(t.run(&["PERSIST", "k"]), ":0\r\n");
    assert_eq!(t.run(&["PERSIST", "nokey"]), ":0\r\n");
    for c in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(t.run(&[c, "k"]), ":-1\r\n", "{c}");
        assert_eq!(t.run(&[c, "nokey"]), ":-2\r\n", "{c}");
    }
    // A key expires at its time, not a millisecond before.
    t.run(&["PEXPIRE", "k", "10"]);
    t.advance_ms(9);
    assert_eq!(t.run(&["PTTL", "k"]), ":1\r\n");
    t.advance_ms(1);
    assert_eq!(t.run(&["PTTL", "k"]), ":-2\r\n");
    // SET without KEEPTTL clears the TTL set by EXPIRE.
    t.run(&["SET", "k", "v"]);
    t.run(&["EXPIRE", "k", "10"]);
    t.run(&["SET", "k", "w"]);
    assert_eq!(t.run(&["TTL", "k"]), ":-1\r\n");
}

#[test]
fn expiry_in_the_past_deletes() {
    let t = TestCtx::new();
    for cmd in [
        &["EXPIRE", "k", "0"][..],
        &["EXPIRE", "k", "-1"],
        &["PEXPIRE", "k", "0"],
        &["PEXPIRE", "k", "-9223372036854775808"],
        &["EXPIREAT", "k", "100"],
        &["PEXPIREAT", "k", "1700000000000"],
        &["EXPIREAT", "k", "-5"],
    ] {
        t.run(&["SET", "k", "v"]);
        assert_eq!(t.run(cmd), ":1\r\n", "{cmd:?}");
        assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n", "{cmd:?}");
    }
    // One millisecond in the future is kept.
    t.run(&["SET", "k", "v"]);
    assert_eq!(t.run(&["PEXPIREAT", "k", "1700000000001"]), ":1\r\n");
    assert_eq!(t.run(&["PTTL", "k"]), ":1\r\n");
}

#[test]
fn expire_options() {
    let t = TestCtx::new();
    t.run(&["SET", "k", "v"]);
    // No TTL: XX and GT refuse, NX and LT set.
    assert_eq!(t.run(&["EXPIRE", "k", "100", "XX"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "100", "GT"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "100", "xx", "gt"]), ":0\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":-1\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "100", "LT"]), ":1\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":100\r\n");
    t.run(&["PERSIST", "k"]);
    assert_eq!(t.run(&["EXPIRE", "k", "50", "nx"]), ":1\r\n");
    // With a TTL of 50: NX refuses, XX sets.
    assert_eq!(t.run(&["EXPIRE", "k", "60", "NX"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "60", "NX", "NX"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "60", "XX"]), ":1\r\n");
    // GT: only later; LT: only earlier; equal is refused by both.
    assert_eq!(t.run(&["EXPIRE", "k", "60", "GT"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "60", "LT"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "30", "GT"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "90", "XX", "GT"]), ":1\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":90\r\n");
    assert_eq!(t.run(&["PEXPIRE", "k", "20000", "LT"]), ":1\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":20\r\n");
    let at = (1_700_000_000 + 10).to_string();
    assert_eq!(t.run(&["EXPIREAT", "k", &at, "LT", "XX"]), ":1\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":10\r\n");
    // LT into the past deletes.
    assert_eq!(t.run(&["PEXPIREAT", "k", "1", "LT"]), ":1\r\n");
    assert_eq!(t.run(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(t.run(&["EXPIRE", "k", "10", "LT"]), ":0\r\n");

    let nx = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    for opts in [["NX", "XX"], ["nx", "gt"], ["LT", "NX"]] {
        assert_eq!(t.run(&["EXPIRE", "k", "10", opts[0], opts[1]]), nx);
    }
    assert_eq!(t.run(&["EXPIRE", "nokey", "x", "NX", "XX"]), nx);
    assert_eq!(
        t.run(&["PEXPIRE", "k", "10", "GT", "LT"]),
        "-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_eq!(
        t.run(&["EXPIRE", "k", "10", "foo"]),
        "-ERR Unsupported option foo\r\n"
    );
    assert_eq!(
        t.run(&["EXPIRE", "k", "x", "foo"]),
        "-ERR Unsupported option foo\r\n"
    );
    assert_eq!(
        t.run(&["EXPIRE", "k", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.run(&["EXPIRE", "k"]),
        "-ERR wrong number of arguments for 'expire' command\r\n"
    );
}

#[test]
fn expire_overflow() {
    let t = TestCtx::new();
    t.run(&["SET", "k", "v"]);
    let max = i64::MAX.to_string();
    let min = i64::MIN.to_string();
    for (cmd, n) in [
        ("EXPIRE", &max),
        ("EXPIRE", &min),
        ("EXPIRE", &"9223372036854776".to_string()),
        ("PEXPIRE", &max),
        ("EXPIREAT", &max),
        ("EXPIREAT", &min),
    ] {
        assert_eq!(
            t.run(&[cmd, "k", n]),
            format!(
                "-ERR invalid expire time in '{}' command\r\n",
                cmd.to_lowercase()
            )
        );
    }
    // The overflow error comes before the key is looked up.
    assert_eq!(
        t.run(&["EXPIRE", "nokey", &max]),
        "-ERR invalid expire time in 'expire' command\r\n"
    );
    // Valid up to now + seconds*1000 <= i64::MAX.
    assert_eq!(
        t.run(&["EXPIRE", "k", "9223372036854775"]),
        "-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_eq!(t.run(&["EXPIRE", "k", "9223372036854"]), ":1\r\n");
    assert_eq!(t.run(&["TTL", "k"]), ":9223372036854\r\n");
    // EXPIREAT adds no base time: the largest seconds value that fits in ms is accepted.
    assert_eq!(t.run(&["EXPIREAT", "k", "9223372036854775"]), ":1\r\n");
    assert_eq!(t.run(&["EXPIRETIME", "k"]), ":9223372036854775\r\n");
}

#[test]
fn ttl_commands_do_not_create_or_touch() {
    let t = TestCtx::new();
    for c in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"] {
        t.run(&[c, "nokey"]);
    }
    assert_eq!(keys_of(&t, "*"), set(&[]));
    t.resp3();
    assert_eq!(t.run(&["TTL", "nokey"]), ":-2\r\n");
}

/// Write lookups refresh the access time (Redis's lookupKeyWrite); TTL, TYPE and EXISTS do
/// not (LOOKUP_NOTOUCH). Checked against redis-server 7.0.15 with OBJECT IDLETIME.
#[test]
fn write_lookups_refresh_the_access_time() {
    let t = TestCtx::new();
    for k in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        t.run(&["SET", k, "v"]);
    }
    t.run(&["SET", "ttlk", "v", "EX", "1000"]);
    t.advance_ms(3000);
    t.run(&["EXPIRE", "a", "100"]);
    t.run(&["RENAME", "b", "b2"]);
    t.run(&["MOVE", "c", "1"]);
    t.run(&["PERSIST", "ttlk"]);
    t.run(&["COPY", "d", "d2"]);
    t.run(&["TTL", "e"]);
    t.run(&["TYPE", "f"]);
    t.run(&["EXISTS", "g"]);
    // Refused by GT (no TTL), but the key was still looked up for writing.
    assert_eq!(t.run(&["EXPIRE", "h", "10", "GT"]), ":0\r\n");
    for (k, idle) in [
        ("a", 0),
        ("b2", 0),
        ("ttlk", 0),
        ("d", 0),
        ("d2", 0),
        ("e", 3),
        ("f", 3),
        ("g", 3),
        ("h", 0),
    ] {
        assert_eq!(
            t.run(&["OBJECT", "IDLETIME", k]),
            format!(":{idle}\r\n"),
            "{k}"
        );
    }
    t.run(&["SELECT", "1"]);
    assert_eq!(t.run(&["OBJECT", "IDLETIME", "c"]), ":0\r\n");
}

#[test]
fn inspections_count_hits_and_misses_without_touching() {
    let t = TestCtx::new();
    t.run(&["SET", "k", "v"]);
    t.run(&["CONFIG", "RESETSTAT"]);
    for cmd in [
        &["TYPE", "k"][..],
        &["EXISTS", "k"],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["OBJECT", "ENCODING", "k"],
    ] {
        t.run(cmd);
    }
    t.run(&["TYPE", "nope"]);
    t.run(&["EXISTS", "nope"]);
    let st = t.srv.ks.stats();
    assert_eq!((st.hits, st.misses), (5, 2));
    // Not touched: idle time keeps growing.
    t.advance_ms(10_000);
    t.run(&["TYPE", "k"]);
    assert_eq!(t.run(&["OBJECT", "IDLETIME", "k"]), ":10\r\n");
}
