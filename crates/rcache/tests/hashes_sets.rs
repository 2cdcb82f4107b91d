//! Hashes and sets through the `redis` crate (redis-rs) against an in-process server: typed
//! client helpers over RESP2, reply shapes over RESP3, and both encodings (small thresholds
//! so a few dozen elements reach the table encoding and its cursor scans).

use redis::{Commands, Value};
use std::collections::{HashMap, HashSet};
use testkit::TestServer;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn small_thresholds() -> TestServer {
    TestServer::builder()
        .setting("hash-max-listpack-entries", "8")
        .setting("set-max-listpack-entries", "8")
        .setting("set-max-intset-entries", "16")
        .start()
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap()
}

// ---------------------------------------------------------------- RESP2, synchronous client

#[test]
fn resp2_hash_commands() {
    let srv = small_thresholds();
    let mut c = srv.connection();
    let () = c.hset_multiple("h", &[("a", "1"), ("b", "2")]).unwrap();
    let added: i64 = c.hset("h", "c", "3").unwrap();
    assert_eq!(added, 1);
    let v: String = c.hget("h", "a").unwrap();
    assert_eq!(v, "1");
    let none: Option<String> = c.hget("h", "zz").unwrap();
    assert_eq!(none, None);
    let all: HashMap<String, String> = c.hgetall("h").unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all["b"], "2");
    let n: i64 = c.hincr("h", "a", 41).unwrap();
    assert_eq!(n, 42);
    let f: f64 = c.hincr("h", "f", 1.5).unwrap();
    assert_eq!(f, 1.5);
    let vals: Vec<Option<String>> = redis::cmd("HMGET")
        .arg("h")
        .arg("a")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(vals, vec![Some("42".to_string()), None]);
    assert!(c.hexists::<_, _, bool>("h", "c").unwrap());
    let len: usize = c.hlen("h").unwrap();
    assert_eq!(len, 4);
    let mut keys: Vec<String> = c.hkeys("h").unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c", "f"]);
    let removed: i64 = c.hdel("h", &["a", "nope"]).unwrap();
    assert_eq!(removed, 1);
    assert_eq!(encoding(&mut c, "h"), "listpack");

    // Past the threshold: a table, scanned with the client's cursor iterator.
    for i in 0..40 {
        let _: i64 = c.hset("h", format!("k{i}"), i).unwrap();
    }
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    let scanned: HashMap<String, String> = c.hscan::<_, (String, String)>("h").unwrap().collect();
    assert_eq!(scanned.len(), 43);
    assert_eq!(scanned["k7"], "7");
    let matched: Vec<(String, String)> = c.hscan_match("h", "k1*").unwrap().collect();
    assert_eq!(matched.len(), 11);
    let picks: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(5)
        .query(&mut c)
        .unwrap();
    assert_eq!(picks.iter().collect::<HashSet<_>>().len(), 5);

    // Errors in Redis's words; the connection goes on.
    let () = c.set("str", "v").unwrap();
    let err = c.hget::<_, _, Value>("str", "a").unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    let err = c.hincr::<_, _, _, i64>("h", "b", "x").unwrap_err();
    assert!(err.to_string().contains("not an integer"), "{err}");
    let len: usize = c.hlen("h").unwrap();
    assert_eq!(len, 43);
}

#[test]
fn resp2_set_commands() {
    let srv = small_thresholds();
    let mut c = srv.connection();
    let n: i64 = c.sadd("s", &["3", "1", "2"]).unwrap();
    assert_eq!(n, 3);
    assert_eq!(encoding(&mut c, "s"), "intset");
    let members: Vec<String> = c.smembers("s").unwrap();
    assert_eq!(members, ["1", "2", "3"]);
    let n: i64 = c.sadd("s", "x").unwrap();
    assert_eq!(n, 1);
    assert_eq!(encoding(&mut c, "s"), "listpack");
    assert!(c.sismember::<_, _, bool>("s", "x").unwrap());
    let card: usize = c.scard("s").unwrap();
    assert_eq!(card, 4);
    let _: i64 = c.sadd("t", &["2", "3", "4"]).unwrap();
    let inter: HashSet<String> = c.sinter(&["s", "t"]).unwrap();
    assert_eq!(inter, HashSet::from(["2".to_string(), "3".to_string()]));
    let union: HashSet<String> = c.sunion(&["s", "t"]).unwrap();
    assert_eq!(union.len(), 5);
    let diff: HashSet<String> = c.sdiff(&["s", "t"]).unwrap();
    assert_eq!(diff, HashSet::from(["1".to_string(), "x".to_string()]));
    let stored: i64 = c.sunionstore("u", &["s", "t"]).unwrap();
    assert_eq!(stored, 5);
    let card: i64 = redis::cmd("SINTERCARD")
        .arg(2)
        .arg("s")
        .arg("t")
        .arg("LIMIT")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(card, 1);
    let moved: bool = c.smove("s", "t", "x").unwrap();
    assert!(moved);
    let popped: String = c.spop("s").unwrap();
    assert!(["1", "2", "3"].contains(&popped.as_str()));
    let rand: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("u")
        .arg(-10)
        .query(&mut c)
        .unwrap();
    assert_eq!(rand.len(), 10);

    // A table, scanned while members come and go.
    for i in 0..60 {
        let _: i64 = c.sadd("big", format!("m{i}")).unwrap();
    }
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let all: HashSet<String> = c.sscan::<_, String>("big").unwrap().collect();
    assert_eq!(all.len(), 60);
    let popped: Vec<String> = redis::cmd("SPOP").arg("big").arg(60).query(&mut c).unwrap();
    let popped: HashSet<String> = popped.into_iter().collect();
    assert_eq!(popped, all);
    let exists: bool = c.exists("big").unwrap();
    assert!(!exists);

    let () = c.set("str", "v").unwrap();
    let err = c.sadd::<_, _, i64>("str", "a").unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
}

// ---------------------------------------------------------------- RESP3, async client

#[tokio::test]
async fn resp3_reply_shapes() {
    let srv = TestServer::start();
    let mut c = TestServer::async_connection_to(&srv.url_resp3())
        .await
        .expect("RESP3 connection (HELLO 3)");
    let q = |args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd
    };
    let n: Value = q(&["HSET", "h", "a", "1"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, Value::Int(1));
    let all: Value = q(&["HGETALL", "h"]).query_async(&mut c).await.unwrap();
    assert_eq!(all, Value::Map(vec![(bulk("a"), bulk("1"))]));
    let pairs: Value = q(&["HRANDFIELD", "h", "-2", "WITHVALUES"])
        .query_async(&mut c)
        .await
        .unwrap();
    let pair = Value::Array(vec![bulk("a"), bulk("1")]);
    assert_eq!(pairs, Value::Array(vec![pair.clone(), pair]));
    let nil: Value = q(&["HGET", "h", "zz"]).query_async(&mut c).await.unwrap();
    assert_eq!(nil, Value::Nil);
    let f: Value = q(&["HINCRBYFLOAT", "h", "a", "0.5"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(f, bulk("1.5"));

    let _: Value = q(&["SADD", "s", "x"]).query_async(&mut c).await.unwrap();
    let members: Value = q(&["SMEMBERS", "s"]).query_async(&mut c).await.unwrap();
    assert_eq!(members, Value::Set(vec![bulk("x")]));
    let inter: Value = q(&["SINTER", "s", "nokey"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(inter, Value::Set(vec![]));
    let rand: Value = q(&["SRANDMEMBER", "s", "-2"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(rand, Value::Array(vec![bulk("x"), bulk("x")]));
    let popped: Value = q(&["SPOP", "s", "3"]).query_async(&mut c).await.unwrap();
    assert_eq!(popped, Value::Set(vec![bulk("x")]));
    let none: Value = q(&["SPOP", "s"]).query_async(&mut c).await.unwrap();
    assert_eq!(none, Value::Nil);
    let scan: Value = q(&["HSCAN", "h", "0"]).query_async(&mut c).await.unwrap();
    assert_eq!(
        scan,
        Value::Array(vec![bulk("0"), Value::Array(vec![bulk("a"), bulk("1.5")])])
    );
}
