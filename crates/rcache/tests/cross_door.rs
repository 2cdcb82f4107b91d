//! One keyspace behind four doors: a key written through any door (RESP with the `redis`
//! crate, HTTP with reqwest, the binary protocol over a raw socket, memcached's text protocol
//! over a raw socket) reads back byte for byte through every other, TTLs included (on a
//! manual clock), and deletes and type errors are seen the same way everywhere.

use commands::Door;
use protocol::binary::{self as bin, op, BinValue};
use redis::Commands;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use testkit::TestServer;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A raw binary-protocol connection.
struct Bin(TcpStream, Vec<u8>);

impl Bin {
    fn connect(srv: &TestServer) -> Bin {
        let s = TcpStream::connect(srv.door_addr(Door::Binary).expect("binary door")).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Bin(s, Vec::new())
    }

    /// Send one request; the reply's code and body (containers are not needed here).
    fn call(&mut self, opcode: u8, args: &[&[u8]]) -> (u8, Vec<u8>) {
        let mut out = Vec::new();
        bin::encode_request(&mut out, opcode, args);
        self.0.write_all(&out).unwrap();
        loop {
            if let Some((v, n)) = bin::decode_reply(&self.1).expect("a valid reply") {
                let r = match v {
                    BinValue::Ok => (bin::code::OK, vec![]),
                    BinValue::Value(b) => (bin::code::VALUE, b.to_vec()),
                    BinValue::NotFound => (bin::code::NOT_FOUND, vec![]),
                    BinValue::Error(m) => (bin::code::ERROR, m.to_vec()),
                    BinValue::Int(i) => (bin::code::INT, i.to_be_bytes().to_vec()),
                    other => panic!("unexpected reply {other:?}"),
                };
                self.1.drain(..n);
                return r;
            }
            let mut chunk = [0u8; 4096];
            let n = self.0.read(&mut chunk).unwrap();
            assert!(n > 0, "binary door closed the connection");
            self.1.extend_from_slice(&chunk[..n]);
        }
    }

    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        match self.call(op::GET, &[key]) {
            (bin::code::VALUE, v) => Some(v),
            (bin::code::NOT_FOUND, _) => None,
            (c, body) => panic!("GET: code {c}: {}", String::from_utf8_lossy(&body)),
        }
    }
}

/// A raw memcached text-protocol connection.
struct Mc(BufReader<TcpStream>);

impl Mc {
    fn connect(srv: &TestServer) -> Mc {
        let s = TcpStream::connect(srv.door_addr(Door::Memcache).expect("memcache door")).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Mc(BufReader::new(s))
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.0.read_line(&mut l).unwrap();
        l
    }

    fn send(&mut self, bytes: &[u8]) {
        self.0.get_mut().write_all(bytes).unwrap();
    }

    fn set(&mut self, key: &str, flags: u32, exptime: i64, value: &[u8]) {
        let mut req = format!("set {key} {flags} {exptime} {}\r\n", value.len()).into_bytes();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
        self.send(&req);
        assert_eq!(self.line(), "STORED\r\n");
    }

    /// `get`: (flags, value) or None.
    fn get(&mut self, key: &str) -> Option<(u32, Vec<u8>)> {
        self.send(format!("get {key}\r\n").as_bytes());
        let head = self.line();
        if head == "END\r\n" {
            return None;
        }
        let parts: Vec<&str> = head.split_whitespace().collect();
        assert_eq!(parts[0], "VALUE", "{head}");
        let flags = parts[2].parse().unwrap();
        let len: usize = parts[3].parse().unwrap();
        let mut v = vec![0u8; len + 2];
        self.0.read_exact(&mut v).unwrap();
        v.truncate(len);
        assert_eq!(self.line(), "END\r\n");
        Some((flags, v))
    }
}

fn http(srv: &TestServer, key: &str) -> String {
    format!(
        "http://{}/v1/keys/{key}",
        srv.door_addr(Door::Http).expect("http door")
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
        .unwrap()
}

async fn http_get(c: &reqwest::Client, srv: &TestServer, key: &str) -> Option<Vec<u8>> {
    let r = c.get(http(srv, key)).send().await.unwrap();
    match r.status().as_u16() {
        200 => Some(r.bytes().await.unwrap().to_vec()),
        404 => None,
        s => panic!("HTTP GET {key}: {s} {}", r.text().await.unwrap_or_default()),
    }
}

/// A value no door may mangle: every byte value, CR LF in the middle, a NUL.
fn tricky_value(tag: &str) -> Vec<u8> {
    let mut v = tag.as_bytes().to_vec();
    v.extend_from_slice(b"\r\nEND\r\n\0");
    v.extend((0..=255u8).rev());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_written_through_any_door_reads_the_same_through_every_door() {
    let srv = TestServer::start();
    let mut resp = srv.connection();
    let mut b = Bin::connect(&srv);
    let mut mc = Mc::connect(&srv);
    let h = client();

    // One key per writing door.
    let v_resp = tricky_value("resp");
    let _: () = resp.set("k:resp", &v_resp).unwrap();
    let v_http = tricky_value("http");
    let r = h
        .put(http(&srv, "k:http"))
        .body(v_http.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let v_bin = tricky_value("binary");
    assert_eq!(b.call(op::SET, &[b"k:binary", &v_bin]).0, bin::code::OK);
    let v_mc = tricky_value("memcache");
    mc.set("k:memcache", 42, 0, &v_mc);

    for (key, want) in [
        ("k:resp", &v_resp),
        ("k:http", &v_http),
        ("k:binary", &v_bin),
        ("k:memcache", &v_mc),
    ] {
        let got: Vec<u8> = resp.get(key).unwrap();
        assert_eq!(&got, want, "RESP read of {key}");
        assert_eq!(
            http_get(&h, &srv, key).await.as_ref(),
            Some(want),
            "HTTP read of {key}"
        );
        assert_eq!(
            b.get(key.as_bytes()).as_ref(),
            Some(want),
            "binary read of {key}"
        );
        let (flags, v) = mc.get(key).expect("memcache read");
        assert_eq!(&v, want, "memcache read of {key}");
        // Client flags are memcached's own: set through it, they come back; 0 otherwise.
        assert_eq!(flags, if key == "k:memcache" { 42 } else { 0 });
    }

    // The stats every door reports count the same keys.
    let n: i64 = redis::cmd("DBSIZE").query(&mut resp).unwrap();
    assert_eq!(n, 4);

    // A delete through one door is seen by all.
    let (code, body) = b.call(op::DELETE, &[b"k:memcache", b"k:http"]);
    assert_eq!((code, body), (bin::code::INT, 2i64.to_be_bytes().to_vec()));
    assert_eq!(mc.get("k:memcache"), None);
    assert_eq!(http_get(&h, &srv, "k:http").await, None);
    let gone: Option<Vec<u8>> = resp.get("k:memcache").unwrap();
    assert_eq!(gone, None);
    mc.send(b"delete k:resp\r\n");
    assert_eq!(mc.line(), "DELETED\r\n");
    assert_eq!(b.get(b"k:resp"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls_cross_doors_on_a_manual_clock() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let mut resp = srv.connection();
    let mut b = Bin::connect(&srv);
    let mut mc = Mc::connect(&srv);
    let h = client();

    // Set with a TTL through HTTP; it lives through binary and memcached, then expires.
    let r = h
        .put(format!("{}?px=1500", http(&srv, "session")))
        .body("alive")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let pttl: i64 = resp.pttl("session").unwrap();
    assert_eq!(pttl, 1500);
    srv.advance_ms(1000);
    assert_eq!(b.get(b"session"), Some(b"alive".to_vec()));
    assert_eq!(mc.get("session").map(|(_, v)| v), Some(b"alive".to_vec()));
    srv.advance_ms(600);
    assert_eq!(b.get(b"session"), None, "expired for the binary door");
    assert_eq!(mc.get("session"), None);
    assert_eq!(http_get(&h, &srv, "session").await, None);

    // memcached's relative exptime is seconds; RESP sees the TTL.
    mc.set("mc-ttl", 0, 30, b"x");
    let ttl: i64 = resp.ttl("mc-ttl").unwrap();
    assert_eq!(ttl, 30);
    // The binary SET's TTL (u64 ms) is seen by HTTP's TTL header.
    let ttl_ms = 90_000u64.to_be_bytes();
    assert_eq!(
        b.call(op::SET, &[b"bin-ttl", b"y", &ttl_ms]).0,
        bin::code::OK
    );
    let r = h.get(http(&srv, "bin-ttl")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ttl-ms"], "90000");
    // RESP EXPIRE changes what memcached's `mg t` reports.
    let _: bool = resp.expire("mc-ttl", 100).unwrap();
    mc.send(b"mg mc-ttl t\r\n");
    assert_eq!(mc.line(), "HD t100\r\n");
    // memcached `touch` shortens a TTL RESP set.
    let _: () = resp.set_ex("resp-ttl", "z", 500).unwrap();
    mc.send(b"touch resp-ttl 5\r\n");
    assert_eq!(mc.line(), "TOUCHED\r\n");
    srv.advance_ms(5_001);
    let gone: Option<String> = resp.get("resp-ttl").unwrap();
    assert_eq!(gone, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_and_counters_across_doors() {
    let srv = TestServer::start();
    let mut resp = srv.connection();
    let mut b = Bin::connect(&srv);
    let mut mc = Mc::connect(&srv);
    let h = client();

    // A hash set through RESP is the wrong type for every string read.
    let _: () = resp.hset("user:1", "name", "ada").unwrap();
    let (code, msg) = b.call(op::GET, &[b"user:1"]);
    assert_eq!(code, bin::code::ERROR);
    assert!(msg.starts_with(b"WRONGTYPE"));
    let r = h.get(http(&srv, "user:1")).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        mc.get("user:1"),
        None,
        "memcached sees a non-string as a miss"
    );
    // ...and read through the binary door's COMMAND and HTTP's /v1/commands.
    let (code, v) = b.call(op::COMMAND, &[b"HGET", b"user:1", b"name"]);
    assert_eq!((code, v), (bin::code::VALUE, b"ada".to_vec()));

    // A counter incremented through three doors.
    mc.set("hits", 0, 0, b"10");
    mc.send(b"incr hits 5\r\n");
    assert_eq!(mc.line(), "15\r\n");
    let n: i64 = resp.incr("hits", 1).unwrap();
    assert_eq!(n, 16);
    let (code, v) = b.call(op::COMMAND, &[b"INCRBY", b"hits", b"4"]);
    assert_eq!((code, v), (bin::code::INT, 20i64.to_be_bytes().to_vec()));
    let r = h
        .post(format!(
            "http://{}/v1/commands",
            srv.door_addr(Door::Http).unwrap()
        ))
        .body(r#"["INCR","hits"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"result":21}"#);
    assert_eq!(mc.get("hits").map(|(_, v)| v), Some(b"21".to_vec()));
}
