//! The client against a real in-process rcache (`testkit::TestServer`) over RESP2 and
//! RESP3: typed helpers, generic commands, batches, coalescing, the pool, AUTH, databases
//! and error replies.

use rcache_client::{Config, Connection, Error, Pool, Proto, Value};
use std::time::Duration;
use testkit::TestServer;

const PROTOS: [Proto; 2] = [Proto::Resp2, Proto::Resp3];

fn cfg(srv: &TestServer, proto: Proto) -> Config {
    Config::new(srv.addr().to_string(), proto).with_timeout(Some(Duration::from_secs(10)))
}

async fn open(srv: &TestServer, proto: Proto) -> Connection {
    Connection::connect(&cfg(srv, proto))
        .await
        .expect("connect")
}

/// Poll `f` until true (no fixed sleeps), or panic after 10 s.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn typed_helpers() {
    let srv = TestServer::start();
    for proto in PROTOS {
        let c = open(&srv, proto).await;
        c.flushdb().await.unwrap();
        c.ping().await.unwrap();
        assert_eq!(c.get("nokey").await.unwrap(), None);
        c.set("k", "v").await.unwrap();
        assert_eq!(c.get("k").await.unwrap(), Some(b"v".to_vec()));
        c.set(b"bin\x00\xff".as_slice(), b"\x00\x01\xfe".as_slice())
            .await
            .unwrap();
        assert_eq!(
            c.get(b"bin\x00\xff").await.unwrap(),
            Some(b"\x00\x01\xfe".to_vec())
        );
        assert!(!c.set_nx("k", "other").await.unwrap());
        assert!(c.set_nx("fresh", "1").await.unwrap());
        c.set_ex("ex", "1", 100).await.unwrap();
        let ttl = c.ttl("ex").await.unwrap();
        assert!((1..=100).contains(&ttl), "{ttl}");
        c.set_px("px", "1", 100_000).await.unwrap();
        assert!(c.pttl("px").await.unwrap() > 1000);
        assert_eq!(c.ttl("k").await.unwrap(), -1);
        assert_eq!(c.ttl("nokey").await.unwrap(), -2);
        let e = c.set_px("zero", "1", 0).await.unwrap_err();
        assert!(e.to_string().contains("invalid expire time"), "{e}");
        assert!(c.expire("k", 50).await.unwrap());
        assert!(!c.expire("nokey", 50).await.unwrap());
        assert!(c.pexpire("k", 50_000).await.unwrap());
        assert_eq!(c.exists(["k", "fresh", "nokey"]).await.unwrap(), 2);
        assert_eq!(c.del(["k", "fresh", "nokey"]).await.unwrap(), 2);
        assert_eq!(c.incr("n").await.unwrap(), 1);
        assert_eq!(c.incr_by("n", 41).await.unwrap(), 42);
        assert_eq!(c.decr_by("n", 2).await.unwrap(), 40);
        c.mset([("a", "1"), ("b", "2")]).await.unwrap();
        assert_eq!(
            c.mget(["a", "nokey", "b"]).await.unwrap(),
            vec![Some(b"1".to_vec()), None, Some(b"2".to_vec())]
        );
        assert_eq!(c.hset("h", "f1", "v1").await.unwrap(), 1);
        assert_eq!(
            c.hset_many("h", [("f2", "v2"), ("f1", "x")]).await.unwrap(),
            1
        );
        assert_eq!(c.hget("h", "f1").await.unwrap(), Some(b"x".to_vec()));
        assert_eq!(c.hget("h", "nofield").await.unwrap(), None);
        let mut all = c.hgetall("h").await.unwrap();
        all.sort();
        assert_eq!(
            all,
            vec![
                (b"f1".to_vec(), b"x".to_vec()),
                (b"f2".to_vec(), b"v2".to_vec())
            ]
        );
        assert_eq!(c.rpush("l", ["b", "c"]).await.unwrap(), 2);
        assert_eq!(c.lpush("l", ["a"]).await.unwrap(), 3);
        assert_eq!(
            c.lrange("l", 0, -1).await.unwrap(),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(c.sadd("s", ["x", "y", "x"]).await.unwrap(), 2);
        let mut m = c.smembers("s").await.unwrap();
        m.sort();
        assert_eq!(m, vec![b"x".to_vec(), b"y".to_vec()]);
        assert_eq!(c.zadd("z", 2.5, "b").await.unwrap(), 1);
        assert_eq!(
            c.zadd_many("z", [(1.0, "a"), (f64::INFINITY, "c")])
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            c.zrange("z", 0, -1).await.unwrap(),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(
            c.zrange_withscores("z", 0, 1).await.unwrap(),
            vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.5)]
        );
        assert_eq!(
            c.zrange_withscores("z", -1, -1).await.unwrap(),
            vec![(b"c".to_vec(), f64::INFINITY)]
        );
        assert!(c
            .zrange_withscores("nokey", 0, -1)
            .await
            .unwrap()
            .is_empty());
        assert!(c.zadd("z", f64::NAN, "n").await.is_err());
        assert!(matches!(c.status().await, Err(Error::Unsupported(_))));
    }
}

#[tokio::test]
async fn generic_cmd_and_resp3_types() {
    let srv = TestServer::start();
    let c2 = open(&srv, Proto::Resp2).await;
    let c3 = open(&srv, Proto::Resp3).await;
    assert_eq!(
        c2.cmd(["HSET", "user:1", "name", "ada", "age", "36"])
            .await
            .unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        c2.cmd(["PING"]).await.unwrap(),
        Value::Status("PONG".into())
    );
    assert_eq!(c2.cmd(["SET", "x", "1"]).await.unwrap(), Value::Ok);
    assert_eq!(c2.cmd(["GET", "missing"]).await.unwrap(), Value::Nil);
    // RESP2 flattens the hash; RESP3 answers a map.
    match c2.cmd(["HGETALL", "user:1"]).await.unwrap() {
        Value::Array(items) => assert_eq!(items.len(), 4),
        v => panic!("RESP2 HGETALL: {v:?}"),
    }
    let map = match c3.cmd(["HGETALL", "user:1"]).await.unwrap() {
        Value::Map(pairs) => pairs,
        v => panic!("RESP3 HGETALL: {v:?}"),
    };
    assert!(map.contains(&(
        Value::Bytes(b"name".to_vec()),
        Value::Bytes(b"ada".to_vec())
    )));
    c3.cmd(["SADD", "s", "a"]).await.unwrap();
    assert!(matches!(
        c3.cmd(["SMEMBERS", "s"]).await.unwrap(),
        Value::Set(_)
    ));
    c3.cmd(["ZADD", "z", "1.5", "m"]).await.unwrap();
    assert_eq!(
        c3.cmd(["ZSCORE", "z", "m"]).await.unwrap(),
        Value::Double(1.5)
    );
    assert_eq!(
        c2.cmd(["ZSCORE", "z", "m"]).await.unwrap(),
        Value::Bytes(b"1.5".to_vec())
    );
    assert_eq!(c3.cmd(["GET", "missing"]).await.unwrap(), Value::Nil);
    // Byte-slice arguments work the same, by value or as `&[&[u8]]`.
    let key: &[u8] = b"x";
    assert_eq!(
        c3.cmd([b"GET".as_slice(), key]).await.unwrap(),
        Value::Bytes(b"1".to_vec())
    );
    let args: &[&[u8]] = &[b"GET", key];
    assert_eq!(c2.cmd(args).await.unwrap(), Value::Bytes(b"1".to_vec()));
    let owned: Vec<String> = vec!["EXISTS".into(), "x".into()];
    assert_eq!(c2.cmd(&owned).await.unwrap(), Value::Int(1));
}

#[tokio::test]
async fn server_errors_are_typed() {
    let srv = TestServer::start();
    for proto in PROTOS {
        let c = open(&srv, proto).await;
        c.cmd(["RPUSH", "list", "a"]).await.unwrap();
        let e = c.get("list").await.unwrap_err();
        let se = e.server().expect("a server error");
        assert_eq!(se.code(), "WRONGTYPE");
        assert_eq!(
            se.message(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        let e = c.cmd(["NOSUCHCOMMAND"]).await.unwrap_err();
        assert_eq!(e.server().unwrap().code(), "ERR");
        // The connection is still in step afterwards.
        c.ping().await.unwrap();
        for bad in ["SUBSCRIBE", "monitor", "PSubscribe"] {
            assert!(matches!(
                c.cmd([bad, "x"]).await,
                Err(Error::Unsupported(_))
            ));
        }
        assert!(matches!(
            c.cmd(Vec::<&str>::new()).await,
            Err(Error::Unsupported(_))
        ));
    }
}

#[tokio::test]
async fn pipelines() {
    let srv = TestServer::start();
    for proto in PROTOS {
        let c = open(&srv, proto).await;
        c.del(["p:list", "p:n"]).await.unwrap();
        let mut p = c.pipe();
        for i in 0..1000 {
            p.cmd(["RPUSH", "p:list", &i.to_string()]);
        }
        let replies = p.query().await.unwrap();
        assert_eq!(replies.len(), 1000);
        for (i, r) in replies.iter().enumerate() {
            assert_eq!(*r, Value::Int(i as i64 + 1));
        }
        assert!(p.is_empty());
        let all = c.lrange("p:list", 0, -1).await.unwrap();
        assert_eq!(all.len(), 1000);
        assert_eq!(all[999], b"999".to_vec());

        // Errors stay in place; the other commands ran.
        let r = c
            .pipe()
            .set("p:n", "1")
            .cmd(["LPUSH", "p:n", "x"])
            .cmd(["INCR", "p:n"])
            .get("p:n")
            .query()
            .await
            .unwrap();
        assert_eq!(r[0], Value::Ok);
        assert!(matches!(&r[1], Value::Error(e) if e.code() == "WRONGTYPE"));
        assert_eq!(r[2], Value::Int(2));
        assert_eq!(r[3], Value::Bytes(b"2".to_vec()));
        let strict = c
            .pipe()
            .cmd(["INCR", "p:n"])
            .cmd(["LPUSH", "p:n", "x"])
            .query_strict()
            .await;
        assert!(matches!(strict, Err(Error::Server(_))));
        assert!(c.pipe().query().await.unwrap().is_empty());
        assert!(matches!(
            c.pipe()
                .cmd(["PING"])
                .cmd(["SUBSCRIBE", "ch"])
                .query()
                .await,
            Err(Error::Unsupported(_))
        ));

        // MULTI/EXEC: EXEC's replies, one per command.
        let r = c
            .pipe()
            .atomic()
            .cmd(["INCR", "p:n"])
            .cmd(["INCR", "p:n"])
            .query()
            .await
            .unwrap();
        assert_eq!(r, vec![Value::Int(4), Value::Int(5)]);
        let e = c
            .pipe()
            .atomic()
            .cmd(["INCR", "p:n"])
            .cmd(["NOSUCHCOMMAND"])
            .query()
            .await
            .unwrap_err();
        assert_eq!(e.server().unwrap().code(), "EXECABORT");
        assert_eq!(c.get("p:n").await.unwrap(), Some(b"5".to_vec()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_on_one_connection_get_their_own_replies() {
    let srv = TestServer::start();
    for proto in PROTOS {
        let c = open(&srv, proto).await;
        let mut tasks = Vec::new();
        for i in 0..100 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..20 {
                    let key = format!("task:{i}");
                    let val = format!("{i}:{round}");
                    c.set(&key, &val).await.unwrap();
                    assert_eq!(c.get(&key).await.unwrap(), Some(val.into_bytes()));
                    // A batch from one task interleaves with other tasks' single commands.
                    let r = c
                        .pipe()
                        .cmd(["ECHO", &format!("{i}-{round}-a")])
                        .cmd(["ECHO", &format!("{i}-{round}-b")])
                        .query()
                        .await
                        .unwrap();
                    assert_eq!(r[0].as_str().unwrap(), format!("{i}-{round}-a"));
                    assert_eq!(r[1].as_str().unwrap(), format!("{i}-{round}-b"));
                    c.incr("shared").await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(c.in_flight(), 0);
        let n = c.get("shared").await.unwrap().unwrap();
        let want = if proto == Proto::Resp2 { 2000 } else { 4000 };
        assert_eq!(String::from_utf8(n).unwrap(), want.to_string());
    }
}

#[tokio::test]
async fn auth_and_database_selection() {
    let srv = TestServer::builder().requirepass("s3cret").start();
    for proto in PROTOS {
        // Without a password, commands are refused with Redis's words.
        match proto {
            Proto::Resp2 => {
                let c = open(&srv, proto).await;
                let e = c.get("k").await.unwrap_err();
                assert_eq!(e.server().unwrap().code(), "NOAUTH");
            }
            // HELLO 3 without AUTH is itself refused.
            _ => {
                let e = Connection::connect(&cfg(&srv, proto)).await.unwrap_err();
                assert_eq!(e.server().unwrap().code(), "NOAUTH", "{e}");
            }
        }
        let e = Connection::connect(&cfg(&srv, proto).with_password("wrong"))
            .await
            .unwrap_err();
        assert_eq!(e.server().unwrap().code(), "WRONGPASS", "{e}");
        let c = Connection::connect(
            &cfg(&srv, proto)
                .with_password("s3cret")
                .with_db(3)
                .with_client_name("tester"),
        )
        .await
        .unwrap();
        c.set("dbkey", "in-3").await.unwrap();
        assert_eq!(
            c.cmd(["CLIENT", "GETNAME"]).await.unwrap().as_str(),
            Some("tester")
        );
        let c0 = Connection::connect(&cfg(&srv, proto).with_user("default", "s3cret"))
            .await
            .unwrap();
        assert_eq!(c0.get("dbkey").await.unwrap(), None);
        assert_eq!(c0.cmd(["SELECT", "3"]).await.unwrap(), Value::Ok);
        assert_eq!(c0.get("dbkey").await.unwrap(), Some(b"in-3".to_vec()));
    }
    // An unknown database fails the connect.
    let e = Connection::connect(
        &cfg(&srv, Proto::Resp2)
            .with_password("s3cret")
            .with_db(100_000),
    )
    .await
    .unwrap_err();
    assert!(e.server().is_some(), "{e}");
}

#[tokio::test]
async fn pool_reconnects_after_client_kill() {
    let srv = TestServer::start();
    for proto in PROTOS {
        let pool = Pool::with_config(cfg(&srv, proto), 1);
        pool.connect_all().await.unwrap();
        let conn = pool.get().await.unwrap();
        let id = conn.cmd(["CLIENT", "ID"]).await.unwrap().as_int().unwrap();
        let admin = open(&srv, proto).await;
        assert_eq!(
            admin
                .cmd(["CLIENT", "KILL", "ID", &id.to_string()])
                .await
                .unwrap(),
            Value::Int(1)
        );
        eventually("the killed connection to notice", || conn.is_closed()).await;
        assert!(matches!(conn.ping().await, Err(Error::Closed)));
        // The pool heals on the next request.
        assert_eq!(
            pool.cmd(["PING"]).await.unwrap(),
            Value::Status("PONG".into())
        );
        let again = pool.get().await.unwrap();
        let id2 = again.cmd(["CLIENT", "ID"]).await.unwrap().as_int().unwrap();
        assert_ne!(id, id2);
        assert!(!again.is_closed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_spreads_load_and_runs_batches() {
    let srv = TestServer::start();
    let pool = Pool::with_config(cfg(&srv, Proto::Resp3), 4);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..20 {
                let k = format!("pk:{i}:{j}");
                pool.cmd(["SET", &k, "v"]).await.unwrap();
                let r = pool
                    .pipeline(|p| {
                        p.get(&k).del(&k);
                    })
                    .await
                    .unwrap();
                assert_eq!(r, vec![Value::Bytes(b"v".to_vec()), Value::Int(1)]);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Every slot was filled along the way; each is a distinct client.
    let mut ids = std::collections::HashSet::new();
    for _ in 0..pool.size() {
        let c = pool.get().await.unwrap();
        ids.insert(c.cmd(["CLIENT", "ID"]).await.unwrap().as_int().unwrap());
    }
    assert_eq!(ids.len(), pool.size());
}

#[tokio::test]
async fn connection_closed_by_the_server() {
    let srv = TestServer::start();
    let c = open(&srv, Proto::Resp2).await;
    assert_eq!(c.cmd(["QUIT"]).await.unwrap(), Value::Ok);
    eventually("QUIT to close the connection", || c.is_closed()).await;
    assert!(matches!(c.get("k").await, Err(Error::Closed)));
    assert!(c.get("k").await.unwrap_err().is_connection_lost());
}
