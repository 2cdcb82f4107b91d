//! Sorted sets through the `redis` crate against an in-process server: the typed helpers
//! (`zadd`, `zrange_withscores`, …) over RESP2, raw replies over RESP3, both encodings
//! (a small `zset-max-listpack-entries` forces the skip list), and a big set.

use redis::{Commands, Value};
use testkit::TestServer;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn resp2_typed_helpers() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let n: i64 = c
        .zadd_multiple("board", &[(10, "alice"), (20, "bob"), (15, "carol")])
        .unwrap();
    assert_eq!(n, 3);
    let top: Vec<(String, f64)> = c.zrevrange_withscores("board", 0, 1).unwrap();
    assert_eq!(top, vec![("bob".into(), 20.0), ("carol".into(), 15.0)]);
    let s: f64 = c.zincr("board", "alice", 7.5).unwrap();
    assert_eq!(s, 17.5);
    let score: Option<f64> = c.zscore("board", "alice").unwrap();
    assert_eq!(score, Some(17.5));
    let rank: Option<usize> = c.zrank("board", "alice").unwrap();
    assert_eq!(rank, Some(1));
    let in_range: Vec<String> = c.zrangebyscore("board", "(15", "+inf").unwrap();
    assert_eq!(in_range, vec!["alice", "bob"]);
    let count: usize = c.zcount("board", 15, 20).unwrap();
    assert_eq!(count, 3);
    let removed: usize = c.zrem("board", &["carol", "nobody"]).unwrap();
    assert_eq!(removed, 1);
    let card: usize = c.zcard("board").unwrap();
    assert_eq!(card, 2);
    let popped: Vec<(String, f64)> = c.zpopmin("board", 5).unwrap();
    assert_eq!(popped, vec![("alice".into(), 17.5), ("bob".into(), 20.0)]);
    let exists: bool = c.exists("board").unwrap();
    assert!(!exists, "an emptied sorted set is deleted");

    let () = c.set("str", "x").unwrap();
    let err = c.zadd::<_, _, _, i64>("str", "m", 1).unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
}

#[test]
fn resp2_store_and_algebra() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let _: i64 = c.zadd_multiple("a", &[(1, "x"), (2, "y")]).unwrap();
    let _: i64 = c.zadd_multiple("b", &[(10, "y"), (20, "z")]).unwrap();
    let n: i64 = c
        .zunionstore_weights("u", &[("a", 1.0), ("b", 2.0)])
        .unwrap();
    assert_eq!(n, 3);
    let all: Vec<(String, f64)> = c.zrange_withscores("u", 0, -1).unwrap();
    assert_eq!(
        all,
        vec![("x".into(), 1.0), ("y".into(), 22.0), ("z".into(), 40.0)]
    );
    let n: i64 = c.zinterstore_min("i", &["a", "b"]).unwrap();
    assert_eq!(n, 1);
    let v: Vec<(String, f64)> = c.zrange_withscores("i", 0, -1).unwrap();
    assert_eq!(v, vec![("y".into(), 2.0)]);
    let card: i64 = redis::cmd("ZINTERCARD")
        .arg(2)
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(card, 1);
    let stored: i64 = redis::cmd("ZRANGESTORE")
        .arg("r")
        .arg("u")
        .arg("+inf")
        .arg("(1")
        .arg("BYSCORE")
        .arg("REV")
        .query(&mut c)
        .unwrap();
    assert_eq!(stored, 2);
    let lex: Vec<String> = c.zrangebylex("r", "-", "+").unwrap();
    assert_eq!(lex, vec!["y", "z"]);
}

#[test]
fn resp2_large_skiplist_set() {
    let srv = TestServer::builder()
        .setting("zset-max-listpack-entries", "16")
        .start();
    let mut c = srv.connection();
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.zadd("big", format!("m{i:05}"), i).ignore();
    }
    let () = p.query(&mut c).unwrap();
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("big")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "skiplist");
    let rank: Option<usize> = c.zrevrank("big", "m00100").unwrap();
    assert_eq!(rank, Some(1899));
    let mid: Vec<String> = c.zrangebyscore_limit("big", 1000, "+inf", 10, 3).unwrap();
    assert_eq!(mid, vec!["m01010", "m01011", "m01012"]);
    let n: usize = c.zrembyscore("big", 500, 1499).unwrap();
    assert_eq!(n, 1000);
    let card: usize = c.zcard("big").unwrap();
    assert_eq!(card, 1000);
    // ZSCAN returns every member exactly once across its cursor.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<(String, f64)>) = redis::cmd("ZSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .unwrap();
        for (m, _) in items {
            assert!(seen.insert(m));
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 1000);
}

#[tokio::test]
async fn resp3_shapes() {
    let srv = TestServer::start();
    let mut c = TestServer::async_connection_to(&srv.url_resp3())
        .await
        .expect("RESP3 connection (HELLO 3)");
    let n: Value = redis::cmd("ZADD")
        .arg("z")
        .arg(1.5)
        .arg("a")
        .arg(2)
        .arg("b")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, Value::Int(2));
    let s: Value = redis::cmd("ZSCORE")
        .arg("z")
        .arg("a")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(s, Value::Double(1.5));
    let r: Value = redis::cmd("ZRANGE")
        .arg("z")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        r,
        Value::Array(vec![
            Value::Array(vec![bulk("a"), Value::Double(1.5)]),
            Value::Array(vec![bulk("b"), Value::Double(2.0)]),
        ])
    );
    let m: Value = redis::cmd("ZMSCORE")
        .arg("z")
        .arg("b")
        .arg("nope")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(m, Value::Array(vec![Value::Double(2.0), Value::Nil]));
    let p: Value = redis::cmd("ZMPOP")
        .arg(1)
        .arg("z")
        .arg("MAX")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        p,
        Value::Array(vec![
            bulk("z"),
            Value::Array(vec![Value::Array(vec![bulk("b"), Value::Double(2.0)])]),
        ])
    );
    let none: Value = redis::cmd("ZMPOP")
        .arg(1)
        .arg("missing")
        .arg("MIN")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(none, Value::Nil);
}
