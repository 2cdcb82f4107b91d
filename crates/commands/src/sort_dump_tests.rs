//! Unit tests for SORT/SORT_RO and DUMP/RESTORE, every type, both encodings.

use crate::testing::TestCtx;

fn bulk_of(reply: &str) -> Vec<u8> {
    // "$<n>\r\n<bytes>\r\n" → bytes (payloads are binary; TestCtx::run_bytes keeps them raw).
    let b = reply.as_bytes();
    let nl = b.iter().position(|&c| c == b'\n').unwrap();
    b[nl + 1..b.len() - 2].to_vec()
}

fn dump(t: &TestCtx, key: &str) -> Vec<u8> {
    let raw = t.run_bytes(&[b"DUMP", key.as_bytes()]);
    assert_eq!(raw[0], b'$', "{}", String::from_utf8_lossy(&raw));
    let nl = raw.iter().position(|&c| c == b'\n').unwrap();
    raw[nl + 1..raw.len() - 2].to_vec()
}

fn restore(t: &TestCtx, key: &str, ttl: &str, p: &[u8], extra: &[&str]) -> String {
    let mut a: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), p];
    a.extend(extra.iter().map(|s| s.as_bytes()));
    String::from_utf8_lossy(&t.run_bytes(&a)).into_owned()
}

#[test]
fn dump_restore_roundtrips_every_type_and_encoding() {
    let t = TestCtx::new();
    t.run(&["CONFIG", "SET", "hash-max-listpack-entries", "4"]);
    t.run(&["CONFIG", "SET", "set-max-listpack-entries", "4"]);
    t.run(&["CONFIG", "SET", "set-max-intset-entries", "4"]);
    t.run(&["CONFIG", "SET", "zset-max-listpack-entries", "4"]);
    t.run(&["CONFIG", "SET", "list-max-listpack-size", "4"]);
    t.run(&["SET", "s", "hello"]);
    t.run(&["RPUSH", "l1", "a", "b"]);
    t.run(&["RPUSH", "l2", "a", "b", "c", "d", "e", "f"]);
    t.run(&["SADD", "s1", "x", "y"]);
    t.run(&["SADD", "s2", "1", "2", "3", "4", "5", "6"]);
    t.run(&["ZADD", "z1", "1", "a", "2.5", "b"]);
    t.run(&[
        "ZADD", "z2", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "-inf", "m",
    ]);
    t.run(&["HSET", "h1", "f", "v"]);
    t.run(&[
        "HSET", "h2", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5",
    ]);
    let reads: &[(&str, &[&str])] = &[
        ("s", &["GET"]),
        ("l1", &["LRANGE", "", "0", "-1"]),
        ("l2", &["LRANGE", "", "0", "-1"]),
        ("s1", &["SORT", "", "ALPHA"]),
        ("s2", &["SORT", ""]),
        ("z1", &["ZRANGE", "", "0", "-1", "WITHSCORES"]),
        ("z2", &["ZRANGE", "", "0", "-1", "WITHSCORES"]),
        ("h1", &["HGET", "", "f"]),
        ("h2", &["HLEN", ""]),
    ];
    for (k, read) in reads {
        let mut cmd: Vec<&str> = read.to_vec();
        if cmd.len() == 1 {
            cmd.push(k);
        } else {
            cmd[1] = k;
        }
        let before = t.run(&cmd);
        let enc = t.run(&["OBJECT", "ENCODING", k]);
        let p = dump(&t, k);
        assert_eq!(
            restore(&t, k, "0", &p, &[]),
            "-BUSYKEY Target key name already exists.\r\n"
        );
        assert_eq!(restore(&t, k, "0", &p, &["REPLACE"]), "+OK\r\n");
        assert_eq!(t.run(&cmd), before, "{k}");
        assert_eq!(t.run(&["OBJECT", "ENCODING", k]), enc, "{k}");
        t.run(&["DEL", "copy"]);
        assert_eq!(restore(&t, "copy", "0", &p, &[]), "+OK\r\n");
        assert_eq!(t.run(&["TYPE", "copy"]), t.run(&["TYPE", k]));
    }
}

/// The compact-blob payload (tags 0x11–0x14, what snapshots write) of a key, built from
/// its DUMP: RESTORE reads it as DUMP's own.
fn compact_payload(t: &TestCtx, key: &str) -> Option<Vec<u8>> {
    use storage::types::generic;
    let v = storage::dump::decode(&dump(t, key)).unwrap();
    let e = generic::from_value(b"x", 0, 0, &v, &t.srv.settings.limits());
    let tag = generic::body_tag(&e, true);
    let mut body = Vec::new();
    generic::write_body(&e, tag, &mut body);
    tag.is_compact().then(|| storage::dump::payload(tag, &body))
}

#[test]
fn dump_writes_elements_and_restore_reads_compact_blobs() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "l", "a", "b", "a"]);
    t.run(&["SADD", "s", "x", "1", "y"]);
    t.run(&["SADD", "i", "3", "1", "2"]);
    t.run(&["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c"]);
    t.run(&["HSET", "h", "f", "v", "g", "w"]);
    for (k, read) in [
        ("l", vec!["LRANGE", "l", "0", "-1"]),
        ("s", vec!["SMEMBERS", "s"]),
        ("i", vec!["SMEMBERS", "i"]),
        ("z", vec!["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ("h", vec!["HGETALL", "h"]),
    ] {
        // DUMP keeps the element-by-element tags every rcache's RESTORE reads.
        let p = dump(&t, k);
        assert!(p[0] <= 4, "{k}: tag {:#x}", p[0]);
        let c = compact_payload(&t, k).expect("a small collection is compact");
        assert!((0x11..=0x14).contains(&c[0]), "{k}");
        assert_eq!(restore(&t, "copy", "0", &c, &["REPLACE"]), "+OK\r\n", "{k}");
        let mut copy = read.clone();
        copy[1] = "copy";
        assert_eq!(t.run(&copy), t.run(&read), "{k}");
        assert_eq!(
            t.run(&["OBJECT", "ENCODING", "copy"]),
            t.run(&["OBJECT", "ENCODING", k]),
            "{k}"
        );
        // A compact blob past the current limits is converted, as an element-by-element
        // payload would be.
        t.run(&["CONFIG", "SET", "hash-max-listpack-entries", "1"]);
        t.run(&["CONFIG", "SET", "set-max-listpack-entries", "1"]);
        t.run(&["CONFIG", "SET", "set-max-intset-entries", "1"]);
        t.run(&["CONFIG", "SET", "zset-max-listpack-entries", "1"]);
        t.run(&["CONFIG", "SET", "list-max-listpack-size", "1"]);
        assert_eq!(restore(&t, "copy", "0", &c, &["REPLACE"]), "+OK\r\n", "{k}");
        assert_eq!(t.run(&copy), t.run(&read), "{k}");
        let enc = t.run(&["OBJECT", "ENCODING", "copy"]);
        assert!(
            ["quicklist", "hashtable", "skiplist"]
                .iter()
                .any(|x| enc.contains(x)),
            "{k}: {enc}"
        );
        t.run(&["CONFIG", "SET", "hash-max-listpack-entries", "128"]);
        t.run(&["CONFIG", "SET", "set-max-listpack-entries", "128"]);
        t.run(&["CONFIG", "SET", "set-max-intset-entries", "512"]);
        t.run(&["CONFIG", "SET", "zset-max-listpack-entries", "128"]);
        t.run(&["CONFIG", "SET", "list-max-listpack-size", "-2"]);
    }
    // A compact blob whose checksum is right but whose contents break the type's rules.
    let dup = storage::types::compact::build([&b"a"[..], b"b", b"a"]);
    for tag in [
        storage::dump::Tag::SetCompact,
        storage::dump::Tag::HashCompact,
        storage::dump::Tag::ZSetCompact,
    ] {
        let p = storage::dump::payload(tag, &dup);
        assert_eq!(
            restore(&t, "bad", "0", &p, &[]),
            "-ERR Bad data format\r\n",
            "{tag:?}"
        );
    }
    let p = storage::dump::payload(storage::dump::Tag::ListCompact, &dup[..dup.len() - 1]);
    assert_eq!(restore(&t, "bad", "0", &p, &[]), "-ERR Bad data format\r\n");
    // An empty collection cannot exist.
    let p = storage::dump::payload(storage::dump::Tag::ListCompact, &[0, 0, 0, 0]);
    assert_eq!(restore(&t, "bad", "0", &p, &[]), "-ERR Bad data format\r\n");
    assert_eq!(t.run(&["EXISTS", "bad"]), ":0\r\n");
}

#[test]
fn restore_options_and_errors() {
    let t = TestCtx::new();
    t.run(&["SET", "k", "v"]);
    let p = dump(&t, "k");
    assert_eq!(t.run(&["DUMP", "missing"]), "$-1\r\n");
    assert_eq!(
        restore(&t, "k2", "-1", &p, &[]),
        "-ERR Invalid TTL value, must be >= 0\r\n"
    );
    assert_eq!(
        restore(&t, "k2", "x", &p, &[]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        restore(&t, "k2", "0", b"garbage-garbage", &[]),
        "-ERR DUMP payload version or checksum are wrong\r\n"
    );
    let mut bad = p.clone();
    bad[1] ^= 1;
    assert_eq!(
        restore(&t, "k2", "0", &bad, &[]),
        "-ERR DUMP payload version or checksum are wrong\r\n"
    );
    assert_eq!(
        restore(&t, "k2", "0", &p, &["BOGUS"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        restore(&t, "k2", "0", &p, &["IDLETIME", "-1"]),
        "-ERR Invalid IDLETIME value, must be >= 0\r\n"
    );
    assert_eq!(
        restore(&t, "k2", "0", &p, &["FREQ", "256"]),
        "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"
    );
    assert_eq!(
        restore(&t, "k2", "0", &p, &["IDLETIME", "1", "FREQ", "1"]),
        "-ERR syntax error\r\n"
    );
    // A relative TTL; an absolute one in the past creates nothing.
    assert_eq!(restore(&t, "k2", "5000", &p, &[]), "+OK\r\n");
    assert_eq!(t.run(&["PTTL", "k2"]), ":5000\r\n");
    assert_eq!(restore(&t, "k3", "1", &p, &["ABSTTL"]), "+OK\r\n");
    assert_eq!(t.run(&["EXISTS", "k3"]), ":0\r\n");
    // IDLETIME sets the idle time OBJECT IDLETIME reports.
    assert_eq!(restore(&t, "k4", "0", &p, &["IDLETIME", "1000"]), "+OK\r\n");
    assert_eq!(t.run(&["OBJECT", "IDLETIME", "k4"]), ":1000\r\n");
    assert_eq!(t.run(&["GET", "k4"]), "$1\r\nv\r\n");
    let _ = bulk_of("$1\r\nv\r\n");
}

#[test]
fn sort_numeric_alpha_limit_desc() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "l", "3", "1", "2", "10"]);
    assert_eq!(
        t.run(&["SORT", "l"]),
        "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n"
    );
    assert_eq!(
        t.run(&["SORT", "l", "ALPHA"]),
        "*4\r\n$1\r\n1\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        t.run(&["SORT", "l", "DESC", "LIMIT", "1", "2"]),
        "*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        t.run(&["SORT", "l", "LIMIT", "-5", "-1"]),
        t.run(&["SORT", "l"])
    );
    t.run(&["RPUSH", "bad", "1", "x"]);
    assert_eq!(
        t.run(&["SORT", "bad"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.run(&["SORT", "missing"]), "*0\r\n");
    t.run(&["SET", "str", "x"]);
    assert!(t.run(&["SORT", "str"]).starts_with("-WRONGTYPE"));
    t.run(&["HSET", "h", "a", "1"]);
    assert!(t.run(&["SORT", "h"]).starts_with("-WRONGTYPE"));
    assert_eq!(t.run(&["SORT", "l", "LIMIT", "1"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.run(&["SORT_RO", "l", "STORE", "d"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn sort_by_get_and_store() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "ids", "1", "2", "3"]);
    t.run(&["MSET", "w_1", "30", "w_2", "10", "w_3", "20"]);
    t.run(&["HSET", "user:1", "name", "ada"]);
    t.run(&["HSET", "user:2", "name", "bob"]);
    assert_eq!(
        t.run(&["SORT", "ids", "BY", "w_*"]),
        "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        t.run(&[
            "SORT",
            "ids",
            "BY",
            "w_*",
            "GET",
            "#",
            "GET",
            "user:*->name"
        ]),
        "*6\r\n$1\r\n2\r\n$3\r\nbob\r\n$1\r\n3\r\n$-1\r\n$1\r\n1\r\n$3\r\nada\r\n"
    );
    // BY nosort keeps the list order; a missing weight key counts as 0.
    assert_eq!(
        t.run(&["SORT", "ids", "BY", "nosort"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    t.run(&["DEL", "w_3"]);
    assert_eq!(
        t.run(&["SORT", "ids", "BY", "w_*"]),
        "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n"
    );
    // STORE makes a list (replacing any type) and answers its length; empty deletes.
    t.run(&["SET", "dst", "x"]);
    assert_eq!(t.run(&["SORT", "ids", "DESC", "STORE", "dst"]), ":3\r\n");
    assert_eq!(
        t.run(&["LRANGE", "dst", "0", "-1"]),
        "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n"
    );
    assert_eq!(t.run(&["SORT", "missing", "STORE", "dst"]), ":0\r\n");
    assert_eq!(t.run(&["EXISTS", "dst"]), ":0\r\n");
    // Sets and sorted sets sort too.
    t.run(&["SADD", "s", "b", "a", "c"]);
    assert_eq!(
        t.run(&["SORT", "s", "ALPHA", "DESC"]),
        "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    t.run(&["ZADD", "z", "1", "x", "2", "y"]);
    assert_eq!(
        t.run(&["SORT", "z", "BY", "nosort", "DESC"]),
        "*2\r\n$1\r\ny\r\n$1\r\nx\r\n"
    );
}

/// A Redis DUMP payload around an RDB type and value: RDB version 10 (Redis 7.0), CRC-64.
fn redis_payload(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn restore_takes_redis_payloads() {
    let t = TestCtx::new();
    // Type 0 string, 1 list, 2 set, 4 hash, 5 zset (binary scores), written element by element.
    let s = redis_payload(b"\x00\x05hello", 10);
    assert_eq!(restore(&t, "s", "0", &s, &[]), "+OK\r\n");
    assert_eq!(t.run(&["GET", "s"]), "$5\r\nhello\r\n");
    let l = redis_payload(b"\x01\x02\x01a\xc0\x07", 10);
    assert_eq!(restore(&t, "l", "0", &l, &[]), "+OK\r\n");
    assert_eq!(
        t.run(&["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\n7\r\n"
    );
    let st = redis_payload(b"\x02\x02\x01x\x01y", 9);
    assert_eq!(restore(&t, "st", "0", &st, &[]), "+OK\r\n");
    assert_eq!(t.run(&["SCARD", "st"]), ":2\r\n");
    let h = redis_payload(b"\x04\x01\x01f\x01v", 11);
    assert_eq!(restore(&t, "h", "0", &h, &[]), "+OK\r\n");
    assert_eq!(t.run(&["HGET", "h", "f"]), "$1\r\nv\r\n");
    let mut zb = b"\x05\x01\x01m".to_vec();
    zb.extend_from_slice(&2.5f64.to_le_bytes());
    let z = redis_payload(&zb, 10);
    assert_eq!(restore(&t, "z", "0", &z, &[]), "+OK\r\n");
    assert_eq!(t.run(&["ZSCORE", "z", "m"]), "$3\r\n2.5\r\n");
    // Options as for rcache's payloads.
    assert_eq!(
        restore(&t, "s", "0", &l, &[]),
        "-BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(restore(&t, "s", "5000", &l, &["REPLACE"]), "+OK\r\n");
    assert_eq!(t.run(&["TYPE", "s"]), "+list\r\n");
    assert_eq!(t.run(&["PTTL", "s"]), ":5000\r\n");
    assert_eq!(restore(&t, "i", "0", &s, &["IDLETIME", "100"]), "+OK\r\n");
    assert_eq!(t.run(&["OBJECT", "IDLETIME", "i"]), ":100\r\n");
    // A bad CRC, a zero CRC, a version newer than 11: the footer's error.
    let mut bad = s.clone();
    bad[2] ^= 1;
    let mut zero = s.clone();
    let n = zero.len();
    zero[n - 8..].fill(0);
    for p in [bad, zero, redis_payload(b"\x00\x05hello", 12)] {
        assert_eq!(
            restore(&t, "x", "0", &p, &[]),
            "-ERR DUMP payload version or checksum are wrong\r\n"
        );
    }
    // A good footer around a value that is not one: module, unknown type, empty list,
    // trailing bytes, a cut value.
    for body in [
        &b"\x07\x01\x00"[..],
        b"\x16\x00",
        b"\x01\x00",
        b"\x00\x01ab",
        b"\x00\x05hel",
    ] {
        assert_eq!(
            restore(&t, "x", "0", &redis_payload(body, 10), &[]),
            "-ERR Bad data format\r\n",
            "{body:?}"
        );
    }
    assert_eq!(t.run(&["EXISTS", "x"]), ":0\r\n");
}
