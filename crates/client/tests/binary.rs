//! The client over the rcache binary protocol against a real in-process server's binary
//! door. Each test returns early (saying so) when this build has no binary door yet;
//! `transport.rs` covers the binary transport against a fake server regardless.

use commands::Door;
use rcache_client::{Config, Connection, Pool, Proto, Value};
use std::time::Duration;
use testkit::TestServer;

fn binary_cfg(srv: &TestServer) -> Option<Config> {
    let Some(addr) = srv.door_addr(Door::Binary) else {
        eprintln!("skipped: this build serves no binary door");
        return None;
    };
    Some(Config::new(addr.to_string(), Proto::Binary).with_timeout(Some(Duration::from_secs(10))))
}

#[tokio::test]
async fn binary_door_typed_helpers_and_commands() {
    let srv = TestServer::start();
    let Some(cfg) = binary_cfg(&srv) else { return };
    let c = Connection::connect(&cfg).await.unwrap();
    let resp = Connection::open(srv.addr().to_string(), Proto::Resp3)
        .await
        .unwrap();
    c.ping().await.unwrap();
    assert_eq!(c.get("b:k").await.unwrap(), None);
    c.set("b:k", b"\x00bin\xff".as_slice()).await.unwrap();
    // One keyspace: what the binary door wrote, RESP reads.
    assert_eq!(
        resp.get("b:k").await.unwrap(),
        Some(b"\x00bin\xff".to_vec())
    );
    c.set_px("b:t", "1", 100_000).await.unwrap();
    assert!(resp.pttl("b:t").await.unwrap() > 1000);
    assert!(c.set_px("b:z", "1", 0).await.is_err());
    assert_eq!(c.del(["b:k", "b:t", "b:none"]).await.unwrap(), 2);
    assert_eq!(c.hset("b:h", "f", "v").await.unwrap(), 1);
    assert!(matches!(
        c.cmd(["HGETALL", "b:h"]).await.unwrap(),
        Value::Map(_)
    ));
    assert_eq!(
        c.hgetall("b:h").await.unwrap(),
        vec![(b"f".to_vec(), b"v".to_vec())]
    );
    let e = c.incr("b:h").await.unwrap_err();
    assert_eq!(e.server().unwrap().code(), "WRONGTYPE");
    assert!(matches!(c.status().await.unwrap(), Value::Map(_)));
    let mut p = c.pipe();
    for i in 0..1000 {
        p.cmd(["RPUSH", "b:list", &i.to_string()]);
    }
    let r = p.query().await.unwrap();
    assert_eq!(r[999], Value::Int(1000));
}

#[tokio::test]
async fn binary_door_auth_and_pool() {
    let srv = TestServer::builder().requirepass("pw").start();
    let Some(cfg) = binary_cfg(&srv) else { return };
    let bare = Connection::connect(&cfg).await.unwrap();
    assert_eq!(
        bare.get("k").await.unwrap_err().server().unwrap().code(),
        "NOAUTH"
    );
    let pool = Pool::with_config(cfg.with_password("pw").with_db(2), 2);
    pool.cmd(["SET", "k", "v"]).await.unwrap();
    let c = pool.get().await.unwrap();
    assert_eq!(c.get("k").await.unwrap(), Some(b"v".to_vec()));
}
