//! HyperLogLog values are interchangeable with Redis's: the same PFADDs give byte-identical
//! values on Debian's real `redis-server` and on rcache (sparse and dense, cache header
//! included), a value copied either way with GET/SET keeps growing identically, and
//! PFCOUNT agrees to the unit, for one key and for unions.

use redis::{Connection, Value};
use std::net::SocketAddr;
use testkit::proxy::Backend;
use testkit::TestServer;

/// Debian's redis-server on a free port, without persistence (the proxy tests' harness).
fn start_redis() -> Option<Backend> {
    Backend::redis()
}

fn connect(addr: SocketAddr) -> Connection {
    testkit::client::connect(addr, false)
}

fn get(c: &mut Connection, key: &str) -> Vec<u8> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

fn pfadd(c: &mut Connection, key: &str, elems: &[String]) -> i64 {
    // In batches, so each server sees the same sequence of commands.
    let mut any = 0;
    for chunk in elems.chunks(500) {
        let n: i64 = redis::cmd("PFADD").arg(key).arg(chunk).query(c).unwrap();
        any |= n;
    }
    any
}

fn pfcount(c: &mut Connection, keys: &[&str]) -> i64 {
    redis::cmd("PFCOUNT").arg(keys).query(c).unwrap()
}

fn elems(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

fn encoding(c: &mut Connection, key: &str) -> String {
    match redis::cmd("PFDEBUG")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap()
    {
        Value::SimpleString(s) => s,
        Value::Okay => "ok".into(),
        v => panic!("{v:?}"),
    }
}

/// The same additions, in the same batches, give the same bytes; after PFCOUNT (which
/// caches the cardinality in the header) too.
#[test]
fn same_additions_same_bytes() {
    let Some(redis) = start_redis() else { return };
    let srv = TestServer::start();
    let (mut r, mut o) = (connect(redis.addr()), srv.connection());
    let sizes = [0usize, 1, 5, 40, 200, 700, 1500, 3000, 20_000, 200_000];
    for &n in &sizes {
        let key = format!("h{n}");
        let e = elems(&key, n);
        let (a, b) = if n == 0 {
            let a: i64 = redis::cmd("PFADD").arg(&key).query(&mut r).unwrap();
            let b: i64 = redis::cmd("PFADD").arg(&key).query(&mut o).unwrap();
            (a, b)
        } else {
            (pfadd(&mut r, &key, &e), pfadd(&mut o, &key, &e))
        };
        assert_eq!(a, b, "PFADD reply, {n} elements");
        let (vr, vo) = (get(&mut r, &key), get(&mut o, &key));
        assert!(vr.starts_with(b"HYLL"), "{n}: {vr:?}");
        assert_eq!(vr, vo, "{n} elements: values differ before PFCOUNT");
        assert_eq!(encoding(&mut r, &key), encoding(&mut o, &key), "{n}");
        assert_eq!(pfcount(&mut r, &[&key]), pfcount(&mut o, &[&key]), "{n}");
        assert_eq!(get(&mut r, &key), get(&mut o, &key), "{n}: after PFCOUNT");
        // Adding what is already there changes nothing on either side.
        if n > 0 {
            assert_eq!(pfadd(&mut r, &key, &e[..1]), 0);
            assert_eq!(pfadd(&mut o, &key, &e[..1]), 0);
        }
    }
    // Both encodings were exercised.
    assert_eq!(encoding(&mut o, "h40"), "sparse");
    assert_eq!(encoding(&mut o, "h200000"), "dense");
    // Unions agree, and so does PFMERGE's result, byte for byte.
    let all: Vec<String> = sizes.iter().map(|n| format!("h{n}")).collect();
    let keys: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
    for w in [
        &keys[..3],
        &keys[2..6],
        &keys[..],
        &["h40", "nosuch", "h700"],
    ] {
        assert_eq!(pfcount(&mut r, w), pfcount(&mut o, w), "{w:?}");
    }
    for (dest, srcs) in [
        ("m-sparse", &["h5", "h40", "h200"][..]),
        ("m-dense", &["h200", "h20000"][..]),
        ("h700", &["h1500"][..]),
    ] {
        for c in [&mut r, &mut o] {
            let _: () = redis::cmd("PFMERGE").arg(dest).arg(srcs).query(c).unwrap();
        }
        assert_eq!(get(&mut r, dest), get(&mut o, dest), "PFMERGE {dest}");
        assert_eq!(pfcount(&mut r, &[dest]), pfcount(&mut o, &[dest]));
        assert_eq!(
            get(&mut r, dest),
            get(&mut o, dest),
            "PFMERGE {dest} counted"
        );
    }
}

/// A value copied from one server to the other keeps growing as it would have at home.
#[test]
fn values_move_both_ways() {
    let Some(redis) = start_redis() else { return };
    let srv = TestServer::start();
    let (mut r, mut o) = (connect(redis.addr()), srv.connection());
    for (n, more) in [(30usize, 60usize), (400, 2000), (5000, 50_000)] {
        let key = format!("mv{n}");
        let first = elems(&key, n);
        let then = elems(&format!("{key}+"), more);
        // Redis → rcache.
        pfadd(&mut r, &key, &first);
        let v = get(&mut r, &key);
        let _: () = redis::cmd("SET").arg(&key).arg(&v).query(&mut o).unwrap();
        assert_eq!(pfcount(&mut r, &[&key]), pfcount(&mut o, &[&key]));
        pfadd(&mut r, &key, &then);
        pfadd(&mut o, &key, &then);
        assert_eq!(get(&mut r, &key), get(&mut o, &key), "Redis → rcache, {n}");
        assert_eq!(pfcount(&mut r, &[&key]), pfcount(&mut o, &[&key]));
        // rcache → Redis.
        let back = format!("{key}:back");
        pfadd(&mut o, &back, &first);
        let v = get(&mut o, &back);
        let _: () = redis::cmd("SET").arg(&back).arg(&v).query(&mut r).unwrap();
        pfadd(&mut r, &back, &then);
        pfadd(&mut o, &back, &then);
        assert_eq!(
            get(&mut r, &back),
            get(&mut o, &back),
            "rcache → Redis, {n}"
        );
        assert_eq!(pfcount(&mut r, &[&back]), pfcount(&mut o, &[&back]));
    }
}

/// Error replies match Redis's word for word.
#[test]
fn errors_match_redis() {
    let Some(redis) = start_redis() else { return };
    let srv = TestServer::start();
    let (mut r, mut o) = (connect(redis.addr()), srv.connection());
    let err = |c: &mut Connection, args: &[&[u8]]| -> String {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(*a);
        }
        match cmd.query::<Value>(c) {
            Err(e) => e.to_string(),
            Ok(v) => format!("ok {v:?}"),
        }
    };
    let mut corrupt = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
    corrupt.extend_from_slice(&[0x7f, 0xfe]); // XZERO covering 16383 registers
    let setup: &[&[&[u8]]] = &[
        &[b"SET", b"str", b"not an hll at all"],
        &[b"RPUSH", b"list", b"a"],
        &[b"SET", b"bad", &corrupt],
        &[
            b"SET",
            b"densebad",
            b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00xx",
        ],
    ];
    for s in setup {
        err(&mut r, s);
        err(&mut o, s);
    }
    let cases: &[&[&[u8]]] = &[
        &[b"PFADD", b"str", b"a"],
        &[b"PFADD", b"list", b"a"],
        &[b"PFCOUNT", b"str"],
        &[b"PFCOUNT", b"list"],
        &[b"PFCOUNT", b"densebad"],
        &[b"PFCOUNT", b"bad"],
        &[b"PFCOUNT", b"bad", b"bad"],
        &[b"PFADD", b"bad", b"x", b"y"],
        &[b"PFMERGE", b"dst", b"bad"],
        &[b"PFMERGE", b"dst", b"str"],
        &[b"PFCOUNT"],
        &[b"PFADD"],
        &[b"PFMERGE"],
        &[b"PFDEBUG", b"GETREG", b"nosuch"],
        &[b"PFDEBUG", b"NOPE", b"bad"],
        &[b"PFDEBUG", b"ENCODING"],
    ];
    for c in cases {
        assert_eq!(err(&mut r, c), err(&mut o, c), "{c:?}");
    }
}
