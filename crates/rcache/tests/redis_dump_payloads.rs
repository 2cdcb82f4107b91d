//! Keys move from Redis to rcache with DUMP/RESTORE (as RedisShake, riot and scripts move
//! them): a real redis-server 7.0 builds keys of every type in every encoding it uses
//! (strings raw / int / LZF-compressed, lists small and multi-node with a plain node, sets as
//! intset and hash table, hashes and sorted sets as listpack and hash table / skiplist, a
//! stream with consumer groups and pending entries), some with TTLs; each is DUMPed from
//! Redis and RESTOREd into rcache with its PTTL, and both servers then answer the same
//! TYPE, contents, TTL (within a tolerance) and XINFO STREAM FULL (times masked). RESTORE's
//! options work with Redis payloads, and a corrupted one is refused with Redis's error.
//!
//! redis-server missing: see `testkit::require_tool` (RCACHE_ALLOW_MISSING_TOOLS=1 skips).

use std::time::Duration;

use redis::Value;
use testkit::proxy::Backend;
use testkit::TestServer;

fn conn(url: String) -> redis::Connection {
    redis::Client::open(url)
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap()
}

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

fn restore(c: &mut redis::Connection, key: &str, ttl: i64, p: &[u8], extra: &[&str]) -> String {
    let mut cmd = redis::cmd("RESTORE");
    cmd.arg(key).arg(ttl).arg(p);
    for a in extra {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error: {}", e.detail().unwrap_or_default()),
    }
}

fn dump(c: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query::<Vec<u8>>(c).unwrap()
}

/// Sort an array's items (set members), or its pairs (hash fields and values).
fn sorted(v: Value, pairs: bool) -> Value {
    let Value::Array(items) = v else { return v };
    let key = |v: &Value| format!("{v:?}");
    if pairs {
        let mut ps: Vec<(Value, Value)> = items
            .chunks(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect();
        ps.sort_by_key(|p| key(&p.0));
        Value::Array(ps.into_iter().flat_map(|(a, b)| [a, b]).collect())
    } else {
        let mut items = items;
        items.sort_by_key(key);
        Value::Array(items)
    }
}

/// ZRANGE … WITHSCORES with its scores as numbers (both servers print `%.17g` now; numbers
/// keep the comparison about the restored values, not their text).
fn scores(v: Value) -> Value {
    let Value::Array(items) = v else { return v };
    let num = |v: &Value| match v {
        Value::BulkString(b) => {
            let f: f64 = std::str::from_utf8(b).unwrap().parse().unwrap();
            Value::BulkString(format!("{f:?}").into_bytes())
        }
        v => v.clone(),
    };
    Value::Array(
        items
            .chunks(2)
            .flat_map(|c| [c[0].clone(), num(&c[1])])
            .collect(),
    )
}

/// Times (unix ms) and idle times are not the same on the two servers.
fn mask_times(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut out = Vec::new();
            let mut it = items.into_iter().peekable();
            while let Some(x) = it.next() {
                // Drop the radix-tree figures (Redis's internal layout) with their values.
                if matches!(&x, Value::BulkString(b) if b.starts_with(b"radix-tree-")) {
                    it.next();
                    continue;
                }
                out.push(mask_times(x));
            }
            Value::Array(out)
        }
        Value::Int(t) if t > 1_000_000_000_000 => Value::Nil,
        v => v,
    }
}

/// Build the keys in Redis; returns their names.
fn fill(c: &mut redis::Connection) -> Vec<String> {
    let mut keys = Vec::new();
    let mut add = |c: &mut redis::Connection, key: &str, cmds: Vec<Vec<String>>| {
        for a in cmds {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            q(c, &a);
        }
        keys.push(key.to_string());
    };
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let many = |cmd: &str, key: &str, n: usize, f: &dyn Fn(usize) -> Vec<String>| {
        let mut a = v(&[cmd, key]);
        for i in 0..n {
            a.extend(f(i));
        }
        a
    };
    // Strings: embstr, raw, int-encoded (positive, negative, large), LZF-compressed.
    add(c, "s:short", vec![v(&["SET", "s:short", "hello"])]);
    add(c, "s:int", vec![v(&["SET", "s:int", "12345"])]);
    add(c, "s:neg", vec![v(&["SET", "s:neg", "-70000"])]);
    add(c, "s:i64", vec![v(&["SET", "s:i64", "9007199254740993"])]);
    add(c, "s:empty", vec![v(&["SET", "s:empty", ""])]);
    let big = "abcdefgh".repeat(500);
    add(
        c,
        "s:lzf",
        vec![
            v(&["SET", "s:lzf", &big]),
            v(&["PEXPIRE", "s:lzf", "500000"]),
        ],
    );
    add(
        c,
        "s:bin",
        vec![v(&["SET", "s:bin", "\u{0}\u{1}\r\n\u{ff}"])],
    );
    // Lists: one listpack node; many nodes; a plain node (element over 8 KB).
    add(
        c,
        "l:small",
        vec![v(&["RPUSH", "l:small", "a", "1", "-2", "bb"])],
    );
    add(
        c,
        "l:big",
        vec![
            many("RPUSH", "l:big", 2000, &|i| vec![format!("element-{i}")]),
            v(&["EXPIRE", "l:big", "1000"]),
        ],
    );
    let huge = "z".repeat(10_000);
    add(
        c,
        "l:plain",
        vec![v(&["RPUSH", "l:plain", "x", &huge, "y", "12"])],
    );
    // Sets: intset (16-, 32-, 64-bit), hash table of strings, big intset → hash table.
    add(
        c,
        "set:int16",
        vec![v(&["SADD", "set:int16", "1", "2", "-300"])],
    );
    add(
        c,
        "set:int64",
        vec![v(&["SADD", "set:int64", "1", "5000000000", "-70000"])],
    );
    add(
        c,
        "set:str",
        vec![v(&["SADD", "set:str", "a", "b", "7", "cc"])],
    );
    add(
        c,
        "set:bigint",
        vec![many("SADD", "set:bigint", 600, &|i| vec![i.to_string()])],
    );
    add(
        c,
        "set:big",
        vec![
            many("SADD", "set:big", 300, &|i| vec![format!("member:{i}")]),
            v(&["PEXPIRE", "set:big", "123456"]),
        ],
    );
    // Hashes: listpack; hash table (many fields, and a long value).
    add(
        c,
        "h:small",
        vec![v(&["HSET", "h:small", "f", "v", "n", "42", "e", ""])],
    );
    add(
        c,
        "h:big",
        vec![many("HSET", "h:big", 300, &|i| {
            vec![format!("field{i}"), format!("value{i}")]
        })],
    );
    add(
        c,
        "h:long",
        vec![v(&["HSET", "h:long", "f", &"q".repeat(100)])],
    );
    // Sorted sets: listpack; skiplist; special scores.
    add(
        c,
        "z:small",
        vec![v(&[
            "ZADD", "z:small", "1", "a", "2.5", "b", "-inf", "lo", "+inf", "hi", "0.1", "c",
        ])],
    );
    add(
        c,
        "z:big",
        vec![
            many("ZADD", "z:big", 300, &|i| {
                vec![format!("{}", i as f64 / 3.0), format!("m{i}")]
            }),
            v(&["EXPIRE", "z:big", "2000"]),
        ],
    );
    add(
        c,
        "z:longmember",
        vec![v(&["ZADD", "z:longmember", "3", &"m".repeat(100)])],
    );
    // A stream: entries, a deletion, two groups, pending entries, an idle consumer.
    let mut x = Vec::new();
    for i in 1..=20 {
        x.push(v(&[
            "XADD",
            "x",
            &format!("{i}-0"),
            "f",
            &i.to_string(),
            "g",
            "text",
        ]));
    }
    x.push(v(&["XADD", "x", "21-0", "other", "field"]));
    x.push(v(&["XDEL", "x", "5-0"]));
    x.push(v(&["XGROUP", "CREATE", "x", "g1", "0"]));
    x.push(v(&["XGROUP", "CREATE", "x", "g2", "$"]));
    x.push(v(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "x",
        ">",
    ]));
    x.push(v(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "x",
        ">",
    ]));
    x.push(v(&["XACK", "x", "g1", "2-0"]));
    x.push(v(&["XGROUP", "CREATECONSUMER", "x", "g2", "idle"]));
    x.push(v(&["PEXPIRE", "x", "900000"]));
    add(c, "x", x);
    add(
        c,
        "x:empty",
        vec![
            v(&["XADD", "x:empty", "1-1", "a", "b"]),
            v(&["XDEL", "x:empty", "1-1"]),
        ],
    );
    keys
}

/// Everything a key holds, read with commands whose replies are deterministic.
fn contents(c: &mut redis::Connection, key: &str) -> Vec<Value> {
    let Value::SimpleString(t) = q(c, &["TYPE", key]) else {
        panic!("TYPE {key}")
    };
    let mut out = vec![Value::SimpleString(t.clone())];
    match t.as_str() {
        "string" => out.push(q(c, &["GET", key])),
        "list" => out.push(q(c, &["LRANGE", key, "0", "-1"])),
        "set" => out.push(sorted(q(c, &["SMEMBERS", key]), false)),
        "hash" => out.push(sorted(q(c, &["HGETALL", key]), true)),
        "zset" => out.push(scores(q(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]))),
        "stream" => {
            out.push(q(c, &["XRANGE", key, "-", "+"]));
            out.push(mask_times(q(c, &["XINFO", "STREAM", key, "FULL"])));
            out.push(mask_times(q(c, &["XINFO", "GROUPS", key])));
            for g in ["g1", "g2"] {
                if let Ok(v) = redis::cmd("XPENDING").arg(key).arg(g).query::<Value>(c) {
                    out.push(v);
                }
            }
        }
        other => panic!("type {other}"),
    }
    out
}

fn pttl(c: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(c).unwrap()
}

#[test]
fn redis_payloads_restore_into_rcache() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let mut r = conn(format!("redis://{}", redis.addr()));
    let mut rc = srv.connection();
    let keys = fill(&mut r);
    for k in &keys {
        let p = dump(&mut r, k);
        let ttl = pttl(&mut r, k).max(0);
        assert_eq!(restore(&mut rc, k, ttl, &p, &[]), "ok", "RESTORE {k}");
        assert_eq!(contents(&mut rc, k), contents(&mut r, k), "{k}");
        let (want, got) = (pttl(&mut r, k), pttl(&mut rc, k));
        if want < 0 {
            assert_eq!(got, want, "PTTL {k}");
        } else {
            assert!(
                (got - want).abs() < 2_000,
                "PTTL {k}: rcache {got}, Redis {want}"
            );
        }
    }

    // The options, with Redis payloads.
    let p = dump(&mut r, "h:small");
    assert_eq!(
        restore(&mut rc, "s:short", 0, &p, &[]),
        "error: Target key name already exists."
    );
    assert_eq!(restore(&mut rc, "s:short", 0, &p, &["REPLACE"]), "ok");
    assert_eq!(contents(&mut rc, "s:short"), contents(&mut r, "h:small"));
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 100_000;
    assert_eq!(restore(&mut rc, "abs", at, &p, &["ABSTTL"]), "ok");
    let t = pttl(&mut rc, "abs");
    assert!((90_000..=100_000).contains(&t), "ABSTTL: {t}");
    assert_eq!(restore(&mut rc, "gone", 1, &p, &["ABSTTL"]), "ok");
    assert_eq!(q(&mut rc, &["EXISTS", "gone"]), Value::Int(0));
    assert_eq!(restore(&mut rc, "idle", 0, &p, &["IDLETIME", "1000"]), "ok");
    assert_eq!(
        q(&mut rc, &["OBJECT", "IDLETIME", "idle"]),
        Value::Int(1000)
    );

    // A corrupted payload: refused by both with Redis's words, nothing created.
    let mut bad = dump(&mut r, "l:small");
    bad[3] ^= 0x40;
    let want = restore(&mut r, "bad", 0, &bad, &[]);
    assert_eq!(want, "error: DUMP payload version or checksum are wrong");
    assert_eq!(restore(&mut rc, "bad", 0, &bad, &[]), want);
    assert_eq!(q(&mut rc, &["EXISTS", "bad"]), Value::Int(0));

    // rcache's own payloads still round-trip.
    let own = dump(&mut rc, "l:big");
    assert_eq!(restore(&mut rc, "copy", 0, &own, &[]), "ok");
    assert_eq!(contents(&mut rc, "copy"), contents(&mut r, "l:big"));
}
