//! Keyspace notifications against Debian's real redis-server (7.0): the same commands, with
//! `notify-keyspace-events` set alike, publish the same `__keyspace@…` / `__keyevent@…`
//! messages in the same order on both — every family, keys created and emptied, store
//! commands, moves, expiries, misses. Then what only rcache has: writes through the
//! memcached and HTTP doors, the active expiry cycle, eviction, and no recording when off.

use redis::{Connection, PubSub, Value};
use std::time::{Duration, Instant};
use testkit::proxy::Backend;
use testkit::TestServer;

fn connect(addr: std::net::SocketAddr) -> Connection {
    testkit::client::connect(addr, false)
}

fn run(c: &mut Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c).unwrap_or(Value::Nil)
}

const BARRIER: &str = "test-barrier";

/// A subscriber to every keyspace/keyevent channel, and a way to collect what one command
/// published: the command's connection PUBLISHes a marker after it, and messages from one
/// connection arrive in order.
struct Listener {
    ps: PubSub<'static>,
    seq: u64,
}

impl Listener {
    fn new(addr: std::net::SocketAddr) -> Listener {
        let c = Box::leak(Box::new(connect(addr)));
        let mut ps = c.as_pubsub();
        ps.psubscribe("__key*__:*").unwrap();
        ps.subscribe(BARRIER).unwrap();
        ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Listener { ps, seq: 0 }
    }

    /// Messages published since the last call, up to the marker `c` publishes now.
    fn collect(&mut self, c: &mut Connection) -> Vec<(String, String)> {
        self.seq += 1;
        let mark = self.seq.to_string();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(BARRIER)
            .arg(&mark)
            .query(c)
            .unwrap();
        let mut got = Vec::new();
        loop {
            let m = self.ps.get_message().expect("a message before the marker");
            let ch = m.get_channel_name().to_string();
            let payload: String = m.get_payload().unwrap();
            if ch == BARRIER {
                if payload == mark {
                    return got;
                }
                continue;
            }
            got.push((ch, payload));
        }
    }
}

const SCRIPT: &[&[&str]] = &[
    &["SET", "s", "1"],
    &["SET", "s", "2", "EX", "100"],
    &["SETEX", "s2", "100", "v"],
    &["SETNX", "s", "x"],
    &["SETNX", "s3", "x"],
    &["GETSET", "s3", "y"],
    &["MSET", "m1", "a", "m2", "b"],
    &["INCR", "n"],
    &["INCRBY", "n", "5"],
    &["DECR", "n"],
    &["INCRBYFLOAT", "n", "1.5"],
    &["APPEND", "s", "x"],
    &["SETRANGE", "s", "0", "z"],
    &["SETBIT", "b", "7", "1"],
    &["BITFIELD", "b", "SET", "u8", "0", "3"],
    &["BITOP", "OR", "bo", "b", "s"],
    &["BITOP", "AND", "bo", "nokey1", "nokey2"],
    &["GETDEL", "m2"],
    &["GETEX", "m1", "PX", "100000"],
    &["GETEX", "m1", "PERSIST"],
    &["PFADD", "h", "a", "b"],
    &["PFMERGE", "h2", "h"],
    &["LPUSH", "l", "a", "b", "c"],
    &["RPUSH", "l", "d"],
    &["LPUSHX", "nolist", "a"],
    &["LINSERT", "l", "BEFORE", "a", "x"],
    &["LSET", "l", "0", "q"],
    &["LREM", "l", "1", "x"],
    &["LTRIM", "l", "0", "2"],
    &["LPOP", "l"],
    &["RPOP", "l"],
    &["RPUSH", "l2", "one"],
    &["RPOPLPUSH", "l2", "l3"],
    &["LMOVE", "l3", "l3", "LEFT", "RIGHT"],
    &["LMOVE", "l3", "l4", "LEFT", "RIGHT"],
    &["LMPOP", "1", "l", "LEFT"],
    &["LPOP", "l"],
    &["SADD", "st", "a", "b", "c"],
    &["SADD", "st", "a"],
    &["SREM", "st", "a"],
    &["SMOVE", "st", "st2", "b"],
    &["SPOP", "st"],
    &["SADD", "sa", "1", "2"],
    &["SADD", "sb", "2", "3"],
    &["SINTERSTORE", "si", "sa", "sb"],
    &["SUNIONSTORE", "su", "sa", "sb"],
    &["SDIFFSTORE", "si", "nokey", "sa"],
    &["HSET", "hh", "f", "v", "g", "w"],
    &["HSETNX", "hh", "f", "x"],
    &["HINCRBY", "hh", "n", "2"],
    &["HINCRBYFLOAT", "hh", "n", "0.5"],
    &["HDEL", "hh", "f", "nope"],
    &["HDEL", "hh", "g", "n"],
    &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    &["ZADD", "z", "INCR", "5", "a"],
    &["ZINCRBY", "z", "1", "b"],
    &["ZREM", "z", "c"],
    &["ZADD", "z2", "1", "x", "2", "y", "3", "zz"],
    &["ZREMRANGEBYSCORE", "z2", "1", "1"],
    &["ZREMRANGEBYRANK", "z2", "0", "0"],
    &["ZADD", "zl", "0", "a", "0", "b"],
    &["ZREMRANGEBYLEX", "zl", "[a", "[a"],
    &["ZPOPMIN", "z"],
    &["ZPOPMAX", "z"],
    &["ZADD", "za", "1", "a"],
    &["ZUNIONSTORE", "zu", "2", "za", "zl"],
    &["ZINTERSTORE", "zi", "2", "za", "zl"],
    &["ZRANGESTORE", "zr", "zu", "0", "-1"],
    &["ZMPOP", "1", "zr", "MAX", "COUNT", "5"],
    &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
    &["EXPIRE", "s", "1000"],
    &["PEXPIREAT", "s", "99999999999999"],
    &["PERSIST", "s"],
    &["EXPIRE", "s3", "-1"],
    &["RENAME", "s", "s4"],
    &["RENAMENX", "s4", "s2"],
    &["COPY", "s4", "s5"],
    &["MOVE", "s5", "1"],
    &["DEL", "s4", "s2", "nokey"],
    &["UNLINK", "hh", "n"],
    &["GET", "nokey"],
    &["XADD", "x", "1-1", "f", "v"],
    &["XADD", "x", "MAXLEN", "1", "2-1", "f", "v"],
    &["XTRIM", "x", "MAXLEN", "0"],
    &["XDEL", "x", "2-1"],
    &["XADD", "x", "3-1", "f", "v"],
    &["XGROUP", "CREATE", "x", "g", "0"],
    &["XGROUP", "CREATE", "xnew", "g", "$", "MKSTREAM"],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "x", ">"],
    &["XGROUP", "CREATECONSUMER", "x", "g", "c2"],
    &["XCLAIM", "x", "g", "c3", "0", "3-1"],
    &["XACK", "x", "g", "3-1"],
    &["XGROUP", "DELCONSUMER", "x", "g", "c2"],
    &["XGROUP", "SETID", "x", "g", "0"],
    &["XSETID", "x", "9-9"],
    &["XGROUP", "DESTROY", "x", "g"],
    &["SORT", "sa", "STORE", "sorted"],
    &["SORT", "nokey", "STORE", "sorted"],
    &["APPEND", "newa", "x"],
    &["SETRANGE", "newr", "2", "x"],
    &["SET", "newa", "y", "KEEPTTL", "GET"],
    &["PEXPIRE", "newr", "0"],
    &["EXPIRE", "nokey", "10"],
    &["DEL", "nokey"],
    &["HSET", "newh", "f", "v"],
    &["SPOP", "sb", "5"],
    &["GEOADD", "g", "15.087269", "37.502669", "Catania"],
    &[
        "GEOSEARCHSTORE",
        "gs",
        "g",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "ASC",
    ],
    &[
        "GEOSEARCHSTORE",
        "gs",
        "g",
        "FROMLONLAT",
        "0",
        "0",
        "BYRADIUS",
        "1",
        "km",
        "ASC",
    ],
    &["ZADD", "zz", "GT", "CH", "1", "a"],
    &["RPUSH", "lm", "a"],
    &["LMPOP", "1", "lm", "RIGHT", "COUNT", "3"],
    &["SET", "dumped", "v"],
    &["RENAME", "dumped", "dumped2"],
    &["MULTI"],
    &["SET", "t1", "v"],
    &["INCR", "t2"],
    &["EXEC"],
    &[
        "EVAL",
        "redis.call('set', KEYS[1], 'v') redis.call('del', KEYS[1])",
        "1",
        "ev",
    ],
    &["FLUSHDB"],
];

fn compare_with(flags: &str) {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let mut listeners = Vec::new();
    let mut conns = Vec::new();
    for addr in [redis.addr(), srv.addr()] {
        let mut c = connect(addr);
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg(flags)
            .query(&mut c)
            .unwrap();
        listeners.push(Listener::new(addr));
        conns.push(c);
    }
    let mut in_multi = false;
    for cmd in SCRIPT {
        // Inside MULTI the marker would be queued: a transaction is compared at EXEC.
        match cmd[0] {
            "MULTI" => in_multi = true,
            "EXEC" => in_multi = false,
            _ => {}
        }
        let mut seen = Vec::new();
        for (c, l) in conns.iter_mut().zip(listeners.iter_mut()) {
            run(c, cmd);
            if !in_multi {
                seen.push(l.collect(c));
            }
        }
        if in_multi {
            continue;
        }
        assert_eq!(
            seen[0], seen[1],
            "{flags}: {cmd:?}\n redis: {:?}\nrcache: {:?}",
            seen[0], seen[1]
        );
    }
}

#[test]
fn events_match_redis_with_kea() {
    compare_with("KEA");
}

#[test]
fn events_match_redis_with_new_and_keymiss() {
    compare_with("KEAnm");
}

#[test]
fn classes_filter_and_off_publishes_nothing() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    for flags in ["Kl", "E$", "Kg", "Ez", "Kt", "Ex", ""] {
        let mut seen = Vec::new();
        for addr in [redis.addr(), srv.addr()] {
            let mut c = connect(addr);
            let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("notify-keyspace-events")
                .arg(flags)
                .query(&mut c)
                .unwrap();
            let mut l = Listener::new(addr);
            let mut all = Vec::new();
            for cmd in [
                &["LPUSH", "l", "a"][..],
                &["SET", "s", "v"],
                &["DEL", "s"],
                &["ZADD", "z", "1", "a"],
                &["XADD", "x", "1-1", "f", "v"],
                &["LPOP", "l"],
            ] {
                run(&mut c, cmd);
                all.extend(l.collect(&mut c));
            }
            seen.push(all);
        }
        assert_eq!(seen[0], seen[1], "flags {flags:?}");
    }
}

/// Writes through the memcached and HTTP doors publish as their Redis equivalents; the
/// active expiry cycle publishes "expired"; eviction publishes "evicted".
#[test]
fn other_doors_expiry_and_eviction_publish() {
    let srv = TestServer::start();
    let mut c = srv.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut c)
        .unwrap();
    let mut l = Listener::new(srv.addr());
    // memcached: set then delete.
    let mc = srv
        .door_addr(commands::Door::Memcache)
        .expect("memcached door");
    let mut s = std::net::TcpStream::connect(mc).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"set mk 0 0 1\r\nv\r\ndelete mk\r\n").unwrap();
    let mut buf = [0u8; 64];
    let mut got = String::new();
    while !got.contains("DELETED") {
        let n = s.read(&mut buf).unwrap();
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    let ev = l.collect(&mut c);
    let names: Vec<&str> = ev
        .iter()
        .filter(|(ch, _)| ch.starts_with("__keyspace"))
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(names, ["set", "del"], "{ev:?}");
    // HTTP PUT.
    let http = srv.door_addr(commands::Door::Http).expect("http door");
    let mut h = std::net::TcpStream::connect(http).unwrap();
    h.write_all(
        b"PUT /v1/keys/hk HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\nconnection: close\r\n\r\nv",
    )
    .unwrap();
    let mut resp = String::new();
    h.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 2"), "{resp}");
    let ev = l.collect(&mut c);
    assert!(
        ev.contains(&("__keyspace@0__:hk".into(), "set".into())),
        "{ev:?}"
    );
    // Active expiry: a key nobody reads again.
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let t0 = Instant::now();
    loop {
        let ev = l.collect(&mut c);
        if ev.contains(&("__keyevent@0__:expired".into(), "gone".into())) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no expired event: {ev:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Eviction.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-random")
        .query(&mut c)
        .unwrap();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("big{i}"))
            .arg("x".repeat(10_000))
            .query(&mut c)
            .unwrap();
    }
    let used: u64 = {
        let info: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg((used / 2).to_string())
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("trigger")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let ev = l.collect(&mut c);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query(&mut c)
        .unwrap();
    assert!(
        ev.iter().any(|(ch, _)| ch == "__keyevent@0__:evicted"),
        "{ev:?}"
    );
}
