//! The `redis` crate (redis-rs) against an in-process server, over RESP2 and RESP3.
//!
//! RESP3 is what `redis://…/?protocol=resp3` asks for: the client opens with `HELLO 3`, then
//! expects RESP3 types back (`_` for null, `%` maps…).

use redis::{Commands, Value};
use testkit::TestServer;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

// ---------------------------------------------------------------- RESP2, synchronous client

#[test]
fn resp2_set_get() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let () = c.set("greeting", "hello").unwrap();
    let v: String = c.get("greeting").unwrap();
    assert_eq!(v, "hello");
    let missing: Option<String> = c.get("missing").unwrap();
    assert_eq!(missing, None);

    // SET's options: NX refuses an existing key (null reply), XX GET swaps and returns the old.
    let nx: Value = redis::cmd("SET")
        .arg("greeting")
        .arg("x")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(nx, Value::Nil);
    let old: Value = redis::cmd("SET")
        .arg("greeting")
        .arg("world")
        .arg("XX")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old, bulk("hello"));
    let v: String = c.get("greeting").unwrap();
    assert_eq!(v, "world");

    // An error reply is an error, and the connection goes on.
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(0)
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid expire time in 'set' command"),
        "{err}"
    );
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn resp2_pipeline() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let (a, b, none): (String, String, Option<String>) = redis::pipe()
        .set("a", "1")
        .ignore()
        .set("b", "2")
        .ignore()
        .get("a")
        .get("b")
        .get("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!((a.as_str(), b.as_str(), none), ("1", "2", None));

    // A long pipeline with replies large enough to need several writes (the server flushes
    // every 64 KiB): every reply arrives, in order.
    let n = 2000;
    let mut p = redis::pipe();
    for i in 0..n {
        p.set(format!("key:{i}"), format!("{i}:{}", "v".repeat(i % 300)))
            .ignore();
    }
    for i in 0..n {
        p.get(format!("key:{i}"));
    }
    let vals: Vec<String> = p.query(&mut c).unwrap();
    assert_eq!(vals.len(), n);
    for (i, v) in vals.iter().enumerate() {
        assert_eq!(*v, format!("{i}:{}", "v".repeat(i % 300)));
    }
}

#[test]
fn resp2_binary_safe_keys_and_values() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let keys: Vec<Vec<u8>> = vec![
        b"k\0\r\n\xff".to_vec(),
        b"\r\n".to_vec(),
        b"".to_vec(),
        all_bytes.clone(),
        "ключ-🔑".as_bytes().to_vec(),
    ];
    let values: Vec<Vec<u8>> = vec![
        all_bytes.clone(),
        b"".to_vec(),
        b"$3\r\nfoo\r\n*1\r\n".to_vec(),
        (0..1_000_000u64).map(|i| (i * 7919 % 251) as u8).collect(),
        b"\0".to_vec(),
    ];
    for (k, v) in keys.iter().zip(&values) {
        let () = c.set(k.as_slice(), v.as_slice()).unwrap();
    }
    for (k, v) in keys.iter().zip(&values) {
        let got: Vec<u8> = c.get(k.as_slice()).unwrap();
        assert_eq!(&got, v, "key {k:?}");
    }
}

/// INCR, MSET, MGET (the strings family).
#[test]
fn resp2_counters_and_multi_key() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let n: i64 = c.incr("counter", 1).unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("INCR").arg("counter").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let n: i64 = c.get("counter").unwrap();
    assert_eq!(n, 2);
    let () = c.mset(&[("a", "1"), ("b", "2"), ("c\0bin", "3")]).unwrap();
    let vals: Vec<Option<String>> = c.mget(&["a", "b", "missing", "c\0bin"]).unwrap();
    assert_eq!(
        vals,
        vec![Some("1".into()), Some("2".into()), None, Some("3".into())]
    );
}

/// EXPIRE, TTL, DEL (the keys family), on a manual clock: no sleeping.
#[test]
fn resp2_expire_ttl_del() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let mut c = srv.connection();
    let () = c.set("k", "v").unwrap();
    let ttl: i64 = c.ttl("k").unwrap();
    assert_eq!(ttl, -1, "no TTL yet");
    let ttl: i64 = c.ttl("missing").unwrap();
    assert_eq!(ttl, -2, "missing key");
    let set: bool = c.expire("k", 100).unwrap();
    assert!(set);
    let set: bool = c.expire("missing", 100).unwrap();
    assert!(!set);
    let ttl: i64 = c.ttl("k").unwrap();
    assert_eq!(ttl, 100);
    srv.advance_ms(40_000);
    let ttl: i64 = c.ttl("k").unwrap();
    assert_eq!(ttl, 60);
    srv.advance_ms(60_001);
    let v: Option<String> = c.get("k").unwrap();
    assert_eq!(v, None, "expired");
    let ttl: i64 = c.ttl("k").unwrap();
    assert_eq!(ttl, -2);

    let () = c.set("d1", "x").unwrap();
    let () = c.set("d2", "x").unwrap();
    let n: i64 = c.del(&["d1", "d2", "d3"]).unwrap();
    assert_eq!(n, 2);
    let n: i64 = c.del("d1").unwrap();
    assert_eq!(n, 0);
}

// ---------------------------------------------------------------- RESP3, async client

#[tokio::test]
async fn resp3_set_get_counters_and_nulls() {
    let srv = TestServer::start();
    let mut c = TestServer::async_connection_to(&srv.url_resp3())
        .await
        .expect("RESP3 connection (HELLO 3)");
    let ok: Value = redis::cmd("SET")
        .arg("k")
        .arg(b"v\0\xff")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ok, Value::Okay);
    let v: Value = redis::cmd("GET")
        .arg("k")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, Value::BulkString(b"v\0\xff".to_vec()));
    let none: Value = redis::cmd("GET")
        .arg("missing")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(none, Value::Nil);
    let n: Value = redis::cmd("INCR")
        .arg("n")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, Value::Int(1));
    let ok: Value = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ok, Value::Okay);
    let vals: Value = redis::cmd("MGET")
        .arg("a")
        .arg("nope")
        .arg("b")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(vals, Value::Array(vec![bulk("1"), Value::Nil, bulk("2")]));
    let set: Value = redis::cmd("EXPIRE")
        .arg("a")
        .arg(50)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(set, Value::Int(1));
    let ttl: i64 = redis::cmd("TTL")
        .arg("a")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!((49..=50).contains(&ttl), "ttl {ttl}");
    let n: i64 = redis::cmd("DEL")
        .arg("a")
        .arg("b")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn resp3_pipeline() {
    let srv = TestServer::start();
    let mut c = TestServer::async_connection_to(&srv.url_resp3())
        .await
        .expect("RESP3 connection (HELLO 3)");
    let mut p = redis::pipe();
    for i in 0..500 {
        p.set(format!("p:{i}"), i).ignore();
    }
    for i in 0..500 {
        p.get(format!("p:{i}"));
    }
    p.get("p:missing");
    let vals: Vec<Option<i64>> = p.query_async(&mut c).await.unwrap();
    assert_eq!(vals.len(), 501);
    for (i, v) in vals.iter().take(500).enumerate() {
        assert_eq!(*v, Some(i as i64));
    }
    assert_eq!(vals[500], None);
}

/// `HELLO 3` answers a map with Redis's seven fields, in Redis's order, and switches the
/// connection to RESP3; `HELLO 2` answers the same fields as a flat array.
#[tokio::test]
async fn hello3_map_shape() {
    let srv = TestServer::start();
    let mut c = TestServer::async_connection_to(&srv.url_resp3())
        .await
        .expect("RESP3 connection (HELLO 3)");
    let v: Value = redis::cmd("HELLO")
        .arg(3)
        .query_async(&mut c)
        .await
        .unwrap();
    let Value::Map(fields) = v else {
        panic!("HELLO 3 should answer a map, got {v:?}");
    };
    let names: Vec<String> = fields
        .iter()
        .map(|(k, _)| match k {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            other => panic!("map key {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        ["server", "version", "proto", "id", "mode", "role", "modules"]
    );
    let field = |name: &str| &fields[names.iter().position(|n| n == name).unwrap()].1;
    assert_eq!(*field("proto"), Value::Int(3));
    assert!(matches!(field("id"), Value::Int(id) if *id > 0));
    assert_eq!(*field("mode"), bulk("standalone"));
    assert_eq!(*field("role"), bulk("master"));
    assert_eq!(*field("modules"), Value::Array(vec![]));
    assert!(matches!(field("server"), Value::BulkString(_)));
    assert!(matches!(field("version"), Value::BulkString(_)));

    // The same on the wire, byte for byte where Redis fixes the bytes.
    let mut raw = srv.raw();
    let r = raw.request(&["HELLO", "3"]);
    assert!(r.starts_with("%7\r\n$6\r\nserver\r\n"), "{r:?}");
    assert!(r.contains("$5\r\nproto\r\n:3\r\n"), "{r:?}");
    assert!(
        r.ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"),
        "{r:?}"
    );
    // RESP3 null after HELLO 3; RESP2 null after HELLO 2.
    assert_eq!(raw.request(&["GET", "missing"]), "_\r\n");
    let r = raw.request(&["HELLO", "2"]);
    assert!(r.starts_with("*14\r\n$6\r\nserver\r\n"), "{r:?}");
    assert_eq!(raw.request(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(
        raw.request(&["HELLO", "4"]),
        "-NOPROTO unsupported protocol version\r\n"
    );
}
