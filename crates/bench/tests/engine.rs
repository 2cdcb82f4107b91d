//! The engine against a real in-process rcache (testkit's TestServer, every door open):
//! the counts add up, pipelining and threads change no totals, every protocol works
//! against its door, and errors of each kind are counted rather than hidden.

use commands::Door;
use rcache_bench::{run, Dist, Op, Proto, Stats, Stop, Target, Workload};
use std::net::TcpListener;
use std::time::Duration;
use testkit::TestServer;

fn target(addr: std::net::SocketAddr) -> Target {
    Target {
        name: "t".into(),
        addr: addr.to_string(),
    }
}

fn go(t: &Target, w: &Workload) -> Stats {
    let st = run(t, w, |_| {}).expect("the run starts");
    // The invariants every run keeps, whatever else it tests.
    assert_eq!(st.sent, st.received + st.lost, "{st:?}");
    assert_eq!(
        st.received,
        st.gets + st.sets + st.others + st.server_errors,
        "{st:?}"
    );
    assert_eq!(st.gets, st.hits + st.misses, "{st:?}");
    assert_eq!(st.hist.len(), st.received);
    assert_eq!(st.per_second.iter().sum::<u64>(), st.received);
    st
}

fn small(proto: Proto, op: Op, prefix: &str) -> Workload {
    Workload {
        proto,
        op,
        keyspace: 500,
        data_min: 16,
        data_max: 64,
        key_prefix: prefix.into(),
        connections: 4,
        pipeline: 4,
        threads: 2,
        stop: Stop::Requests(2000),
        ..Workload::default()
    }
}

#[test]
fn counts_add_up_and_a_populated_keyspace_has_no_misses() {
    let srv = TestServer::start();
    let t = target(srv.addr());
    let set = go(&t, &small(Proto::Resp, Op::Set, "c:"));
    assert_eq!((set.sent, set.received, set.sets), (2000, 2000, 2000));
    assert_eq!(set.errors(), 0);
    assert!(set.value_bytes >= 2000 * 16 && set.value_bytes <= 2000 * 64);

    // A fresh prefix: every GET misses.
    let miss = go(&t, &small(Proto::Resp, Op::Get, "fresh:"));
    assert_eq!((miss.gets, miss.misses, miss.hits), (2000, 2000, 0));

    let w = small(Proto::Resp, Op::Get, "pop:");
    let pop = go(&t, &w.populate());
    assert_eq!(pop.sets, 500);
    let get = go(&t, &w);
    assert_eq!((get.gets, get.hits, get.misses), (2000, 2000, 0));
    assert_eq!(get.errors(), 0);
}

#[test]
fn pipelining_and_threads_give_the_same_totals() {
    let srv = TestServer::start();
    let t = target(srv.addr());
    // Sequential keys and per-connection seeds: the same requests whatever the pipeline
    // depth and thread count, so the same totals.
    let base = Workload {
        dist: Dist::Sequential,
        ..small(Proto::Resp, Op::Mixed { get: 1, set: 1 }, "pt:")
    };
    let mut seen = Vec::new();
    for (pipeline, threads) in [(1, 1), (16, 1), (1, 4), (16, 4)] {
        let w = Workload {
            pipeline,
            threads,
            ..base.clone()
        };
        let st = go(&t, &w);
        assert_eq!(st.sent, 2000);
        assert_eq!(st.errors(), 0);
        seen.push((st.sent, st.received, st.gets, st.sets));
    }
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
}

#[test]
fn every_protocol_works_against_its_door() {
    let srv = TestServer::start();
    for (proto, addr) in [
        (Proto::Resp, srv.addr()),
        (Proto::Resp3, srv.addr()),
        (Proto::Binary, srv.door_addr(Door::Binary).unwrap()),
        (Proto::Http, srv.door_addr(Door::Http).unwrap()),
        (Proto::Memcache, srv.door_addr(Door::Memcache).unwrap()),
    ] {
        let t = target(addr);
        let prefix = format!("{}:", proto.name());
        let w = small(proto, Op::Get, &prefix);
        let pop = go(&t, &w.populate());
        assert_eq!((pop.sets, pop.errors()), (500, 0), "{proto:?}: {pop:?}");
        let st = go(&t, &w);
        assert_eq!((st.hits, st.misses, st.errors()), (2000, 0, 0), "{proto:?}");
        // Hits carry the populated values (16–64 bytes each).
        assert!(st.value_bytes >= 2000 * 16, "{proto:?}");
        let mixed = go(&t, &small(proto, Op::Mixed { get: 9, set: 1 }, &prefix));
        assert_eq!(mixed.sent, 2000, "{proto:?}");
        assert_eq!(mixed.errors(), 0, "{proto:?}: {mixed:?}");
        assert!(mixed.sets > 0 && mixed.gets > 0, "{proto:?}");
    }
}

#[test]
fn other_operations_templates_and_the_open_loop() {
    let srv = TestServer::start();
    let t = target(srv.addr());
    let b = target(srv.door_addr(Door::Binary).unwrap());
    for (op, prefix) in [
        (Op::Incr, "incr:"),
        (Op::Lpush, "lpush:"),
        (Op::Hset, "hset:"),
        (Op::Zadd, "zadd:"),
    ] {
        let st = go(&b, &small(Proto::Binary, op.clone(), prefix));
        assert_eq!((st.others, st.errors()), (2000, 0), "{op:?}");
    }
    let tpl = Op::Template(vec!["SET".into(), "__key__".into(), "v-__data__".into()]);
    let st = go(&t, &small(Proto::Resp, tpl, "tpl:"));
    assert_eq!((st.others, st.errors()), (2000, 0));
    let st = go(
        &t,
        &Workload {
            rate: Some(4000.0),
            stop: Stop::Requests(400),
            ..small(Proto::Resp, Op::Set, "open:")
        },
    );
    assert_eq!((st.sent, st.received, st.sets), (400, 400, 400));
    let st = go(
        &t,
        &Workload {
            stop: Stop::Duration(Duration::from_millis(300)),
            warmup: Duration::from_millis(100),
            ..small(Proto::Resp, Op::Set, "dur:")
        },
    );
    assert!(st.sent > 0 && st.warmup_requests > 0);
}

#[test]
fn errors_are_counted_by_kind() {
    let srv = TestServer::start();
    let t = target(srv.addr());
    // Refused commands: error replies, the connection goes on.
    let bad = Op::Template(vec!["NOSUCHCOMMAND".into(), "__key__".into()]);
    let st = go(&t, &small(Proto::Resp, bad, "err:"));
    assert_eq!((st.received, st.server_errors), (2000, 2000));
    assert!(st.first_error.unwrap().contains("unknown command"));

    // A server that accepts and never answers: every connection times out, the requests
    // in flight are lost.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let w = Workload {
        timeout: Duration::from_millis(200),
        ..small(Proto::Resp, Op::Set, "x:")
    };
    let st = go(&target(silent.local_addr().unwrap()), &w);
    assert_eq!((st.timeouts, st.received), (4, 0));
    assert_eq!(st.lost, 16);

    // A server that closes every connection after accepting it: dropped connections.
    let closer = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closer.local_addr().unwrap();
    let th = std::thread::spawn(move || {
        for _ in 0..4 {
            let (s, _) = closer.accept().unwrap();
            drop(s);
        }
    });
    let st = go(&target(addr), &small(Proto::Resp, Op::Set, "x:"));
    th.join().unwrap();
    assert_eq!(st.dropped, 4);
    assert_eq!(st.received, 0);

    // Nothing listening: the run cannot start, and says why.
    drop(silent);
    let gone = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = run(&target(gone), &w, |_| {}).unwrap_err();
    assert!(e.contains("connect"), "{e}");
}
