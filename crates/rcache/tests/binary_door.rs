//! The rcache binary protocol door over raw TCP against an in-process server: every opcode,
//! typed COMMAND replies, pipelining, blocking commands woken from another door, MULTI/EXEC
//! and EVAL, AUTH, OOM, every error case (and that the server keeps serving others), TTLs
//! across doors on a manual clock, and the request examples of `docs/PROTOCOL.md` answered
//! byte for byte as the document shows.

#[path = "../../protocol/tests/doc_examples/mod.rs"]
mod doc_examples;

use protocol::binary::{self as bin, op, BinValue};
use redis::Commands;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;
use testkit::TestServer;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A blocking binary-protocol connection that reads whole reply frames.
struct Bin {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Bin {
    fn connect(srv: &TestServer) -> Bin {
        Bin::to(binary_addr(srv))
    }

    fn to(addr: SocketAddr) -> Bin {
        let sock = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect to binary door");
        sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        sock.set_nodelay(true).unwrap();
        Bin {
            sock,
            buf: Vec::new(),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).expect("send");
    }

    fn send(&mut self, opcode: u8, args: &[&[u8]]) {
        let mut out = Vec::new();
        bin::encode_request(&mut out, opcode, args);
        self.send_raw(&out);
    }

    /// The next reply frame's bytes.
    fn frame(&mut self) -> Vec<u8> {
        loop {
            if let Some(len) = bin::reply_frame_len(&self.buf).expect("reply version") {
                if self.buf.len() >= len {
                    return self.buf.drain(..len).collect();
                }
            }
            let mut chunk = [0u8; 16384];
            let n = self.sock.read(&mut chunk).expect("read a reply");
            assert!(
                n > 0,
                "the server closed the connection; have {:?}",
                self.buf
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn call(&mut self, opcode: u8, args: &[&[u8]]) -> Vec<u8> {
        self.send(opcode, args);
        self.frame()
    }

    fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.call(op::COMMAND, &a)
    }

    /// Read until the server closes; returns what came before the close.
    fn until_closed(&mut self) -> Vec<u8> {
        let mut all = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 4096];
        loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
                Err(e) => panic!("waiting for the server to close: {e}; have {all:?}"),
            }
        }
    }
}

fn binary_addr(srv: &TestServer) -> SocketAddr {
    srv.door_addr(commands::Door::Binary)
        .expect("the binary door is open")
}

/// Decode one whole reply frame.
fn val(frame: &[u8]) -> BinValue<'_> {
    let (v, n) = bin::decode_reply(frame)
        .expect("a valid reply")
        .expect("a whole reply");
    assert_eq!(n, frame.len());
    v
}

fn v(s: &str) -> BinValue<'_> {
    BinValue::Value(s.as_bytes())
}

fn err_text(frame: &[u8]) -> String {
    match val(frame) {
        BinValue::Error(m) => String::from_utf8_lossy(m).into_owned(),
        other => panic!("expected an ERROR, got {other:?}"),
    }
}

fn ttl(ms: u64) -> [u8; 8] {
    ms.to_be_bytes()
}

#[test]
fn native_opcodes() {
    let srv = TestServer::start();
    let mut c = Bin::connect(&srv);

    let hello = c.call(op::HELLO, &[]);
    let BinValue::Map(pairs) = val(&hello) else {
        panic!("HELLO is a MAP")
    };
    assert_eq!(pairs[0], (v("server"), v("rcache")));
    assert!(pairs.contains(&(v("protocol"), BinValue::Int(1))));

    assert_eq!(val(&c.call(op::GET, &[b"k"])), BinValue::NotFound);
    assert_eq!(val(&c.call(op::SET, &[b"k", b"v1"])), BinValue::Ok);
    assert_eq!(val(&c.call(op::GET, &[b"k"])), v("v1"));
    // Keys and values are bytes: NUL, non-UTF-8, empty.
    let key: &[u8] = b"\x00\xff\xfe key";
    assert_eq!(val(&c.call(op::SET, &[key, b""])), BinValue::Ok);
    assert_eq!(val(&c.call(op::GET, &[key])), BinValue::Value(b""));
    assert_eq!(
        val(&c.call(op::SET, &[b"bin", b"\x00\x01\r\n\xff"])),
        BinValue::Ok
    );
    assert_eq!(
        val(&c.call(op::GET, &[b"bin"])),
        BinValue::Value(b"\x00\x01\r\n\xff")
    );
    // SET replaces any type and clears the TTL, as RESP's SET.
    assert_eq!(
        val(&c.call(op::SET, &[b"k", b"v2", &ttl(100_000)])),
        BinValue::Ok
    );
    let pttl = c.cmd(&["PTTL", "k"]);
    assert!(matches!(val(&pttl), BinValue::Int(n) if n > 99_000 && n <= 100_000));
    assert_eq!(val(&c.call(op::SET, &[b"k", b"v3", &ttl(0)])), BinValue::Ok);
    assert_eq!(val(&c.cmd(&["PTTL", "k"])), BinValue::Int(-1));

    assert_eq!(
        val(&c.call(op::DELETE, &[b"k", b"nope", b"k", key])),
        BinValue::Int(2)
    );
    assert_eq!(val(&c.call(op::DELETE, &[b"bin"])), BinValue::Int(1));
    assert_eq!(val(&c.call(op::DELETE, &[b"bin"])), BinValue::Int(0));

    // GET of a list is WRONGTYPE, as RESP's GET.
    assert_eq!(val(&c.cmd(&["RPUSH", "list", "a"])), BinValue::Int(1));
    assert_eq!(
        err_text(&c.call(op::GET, &[b"list"])),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    // SET over a list replaces it.
    assert_eq!(val(&c.call(op::SET, &[b"list", b"s"])), BinValue::Ok);
    assert_eq!(val(&c.call(op::GET, &[b"list"])), v("s"));

    // Request errors answer and the connection goes on.
    assert_eq!(
        err_text(&c.call(op::SET, &[b"k", b"v", &[0u8; 9]])),
        "ERR the SET opcode's ttl must be exactly 8 bytes (u64 milliseconds)"
    );
    assert_eq!(
        err_text(&c.call(op::SET, &[b"k", b"v", &ttl(u64::MAX)])),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(val(&c.call(op::GET, &[b"k"])), BinValue::NotFound);
    assert_eq!(
        err_text(&c.call(op::SET, &[b"k"])),
        "ERR wrong number of arguments for the SET opcode"
    );
    assert_eq!(
        err_text(&c.call(op::DELETE, &[])),
        "ERR wrong number of arguments for the DELETE opcode"
    );
    assert_eq!(
        err_text(&c.call(op::STATUS, &[b"x"])),
        "ERR wrong number of arguments for the STATUS opcode"
    );
    assert_eq!(
        err_text(&c.call(op::COMMAND, &[])),
        "ERR wrong number of arguments for the COMMAND opcode"
    );

    // STATUS: the shared figures, hits and misses counted by the native GETs.
    let status = c.call(op::STATUS, &[]);
    let BinValue::Map(figs) = val(&status) else {
        panic!("STATUS is a MAP")
    };
    let fig = |name: &str| {
        figs.iter()
            .find(|(k, _)| *k == v(name))
            .unwrap_or_else(|| panic!("STATUS has no {name}"))
            .1
            .clone()
    };
    assert_eq!(fig("keys"), BinValue::Int(1));
    assert!(matches!(fig("hits"), BinValue::Int(n) if n >= 5));
    assert!(matches!(fig("misses"), BinValue::Int(n) if n >= 2));
    assert!(matches!(fig("hit_ratio"), BinValue::Double(r) if r > 0.0 && r < 1.0));
    assert_eq!(fig("connections_binary"), BinValue::Int(1));
    assert!(matches!(fig("commands_processed"), BinValue::Int(n) if n >= 20));
    // INFO agrees that native requests are commands and lookups.
    let info = c.cmd(&["INFO", "stats"]);
    let BinValue::Value(text) = val(&info) else {
        panic!("INFO is a VALUE")
    };
    let text = String::from_utf8_lossy(text);
    assert!(text.contains("keyspace_hits:"), "{text}");
}

#[test]
fn command_replies_are_typed() {
    let srv = TestServer::start();
    let mut c = Bin::connect(&srv);
    assert_eq!(val(&c.cmd(&["PING"])), v("PONG"));
    assert_eq!(val(&c.cmd(&["SET", "s", "1"])), BinValue::Ok);
    assert_eq!(val(&c.cmd(&["SET", "s", "2", "NX"])), BinValue::NotFound);
    assert_eq!(val(&c.cmd(&["INCRBY", "s", "41"])), BinValue::Int(42));
    assert_eq!(
        val(&c.cmd(&["HSET", "h", "f1", "a", "f2", "b"])),
        BinValue::Int(2)
    );
    let all = c.cmd(&["HGETALL", "h"]);
    let BinValue::Map(mut pairs) = val(&all) else {
        panic!("HGETALL is a MAP")
    };
    pairs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(pairs, vec![(v("f1"), v("a")), (v("f2"), v("b"))]);
    assert_eq!(
        val(&c.cmd(&["ZADD", "z", "1.5", "m", "2", "n"])),
        BinValue::Int(2)
    );
    assert_eq!(val(&c.cmd(&["ZSCORE", "z", "m"])), BinValue::Double(1.5));
    assert_eq!(
        val(&c.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])),
        BinValue::Array(vec![
            BinValue::Array(vec![v("m"), BinValue::Double(1.5)]),
            BinValue::Array(vec![v("n"), BinValue::Double(2.0)]),
        ])
    );
    assert_eq!(val(&c.cmd(&["SADD", "set", "x"])), BinValue::Int(1));
    assert_eq!(
        val(&c.cmd(&["SMEMBERS", "set"])),
        BinValue::Set(vec![v("x")])
    );
    assert_eq!(
        val(&c.cmd(&["MGET", "s", "missing"])),
        BinValue::Array(vec![v("42"), BinValue::NotFound])
    );
    assert_eq!(val(&c.cmd(&["EXISTS", "s", "h"])), BinValue::Int(2));
    assert_eq!(
        err_text(&c.cmd(&["HSET", "h"])),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err_text(&c.cmd(&["NOPE", "x"])),
        "ERR unknown command 'NOPE', with args beginning with: 'x' "
    );
    // Lowercase names work; a command's error keeps Redis's words.
    assert_eq!(
        err_text(&c.cmd(&["incr", "h"])),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    for name in ["SUBSCRIBE", "psubscribe", "SSUBSCRIBE", "MONITOR"] {
        let e = err_text(&c.cmd(&[name, "ch"]));
        assert_eq!(
            e,
            format!(
                "ERR {} is not supported over the binary protocol; use RESP",
                name.to_uppercase()
            )
        );
    }
    assert!(err_text(&c.cmd(&["HELLO", "2"])).contains("HELLO opcode"));
    // Still typed after all that.
    assert_eq!(val(&c.cmd(&["ZSCORE", "z", "n"])), BinValue::Double(2.0));
}

#[test]
fn pipelined_frames_in_one_write() {
    let srv = TestServer::start();
    let mut c = Bin::connect(&srv);
    let n = 2000;
    let mut out = Vec::new();
    for i in 0..n {
        let k = format!("key:{i}");
        let val = format!("value:{i}").repeat(10);
        bin::encode_request(&mut out, op::SET, &[k.as_bytes(), val.as_bytes()]);
        bin::encode_request(&mut out, op::GET, &[k.as_bytes()]);
        bin::encode_request(&mut out, op::COMMAND, &[b"STRLEN", k.as_bytes()]);
    }
    c.send_raw(&out);
    for i in 0..n {
        assert_eq!(val(&c.frame()), BinValue::Ok, "SET {i}");
        let want = format!("value:{i}").repeat(10);
        assert_eq!(val(&c.frame()), v(&want), "GET {i}");
        assert_eq!(val(&c.frame()), BinValue::Int(want.len() as i64));
    }
    // Byte by byte works too.
    let mut one = Vec::new();
    bin::encode_request(&mut one, op::GET, &[b"key:7"]);
    for b in one {
        c.send_raw(&[b]);
    }
    assert_eq!(val(&c.frame()), v(&"value:7".repeat(10)));
}

#[test]
fn blpop_is_woken_by_a_resp_client() {
    let srv = TestServer::start();
    let mut c = Bin::connect(&srv);
    c.send(op::COMMAND, &[b"BLPOP", b"queue", b"0"]);
    // Wait until the server has parked it.
    let mut r = srv.connection();
    testkit::wait_for("the binary client to block", TIMEOUT, || {
        let n: i64 = redis::cmd("INFO")
            .arg("clients")
            .query::<String>(&mut r)
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:")?.trim().parse().ok())?;
        (n == 1).then_some(())
    });
    // While it is blocked, a native SET on the awaited key from another binary client
    // takes the command path (it may have to serve waiters) and must not disturb it.
    let mut other = Bin::connect(&srv);
    assert_eq!(
        val(&other.call(op::SET, &[b"unrelated", b"x"])),
        BinValue::Ok
    );
    let () = r.rpush("queue", "job-1").unwrap();
    assert_eq!(
        val(&c.frame()),
        BinValue::Array(vec![v("queue"), v("job-1")])
    );
    // The connection goes on.
    assert_eq!(val(&c.call(op::GET, &[b"unrelated"])), v("x"));
    // A timeout answers NOT_FOUND (RESP3's null).
    assert_eq!(val(&c.cmd(&["BLPOP", "empty", "0.01"])), BinValue::NotFound);
}

#[test]
fn multi_exec_and_eval_through_command() {
    let srv = TestServer::start();
    let mut c = Bin::connect(&srv);
    assert_eq!(val(&c.cmd(&["MULTI"])), BinValue::Ok);
    // Native opcodes are queued like the commands they stand for.
    assert_eq!(
        val(&c.call(op::SET, &[b"a", b"1", &ttl(50_000)])),
        v("QUEUED")
    );
    assert_eq!(val(&c.call(op::GET, &[b"a"])), v("QUEUED"));
    assert_eq!(val(&c.cmd(&["INCR", "a"])), v("QUEUED"));
    assert_eq!(val(&c.call(op::DELETE, &[b"zz", b"a"])), v("QUEUED"));
    // STATUS and HELLO are not commands: answered at once.
    assert!(matches!(val(&c.call(op::STATUS, &[])), BinValue::Map(_)));
    assert_eq!(
        val(&c.cmd(&["EXEC"])),
        BinValue::Array(vec![
            BinValue::Ok,
            v("1"),
            BinValue::Int(2),
            BinValue::Int(1),
        ])
    );
    // WATCH sees a native SET from another connection.
    let mut other = Bin::connect(&srv);
    assert_eq!(val(&c.cmd(&["WATCH", "w"])), BinValue::Ok);
    assert_eq!(val(&other.call(op::SET, &[b"w", b"changed"])), BinValue::Ok);
    assert_eq!(val(&c.cmd(&["MULTI"])), BinValue::Ok);
    assert_eq!(val(&c.call(op::SET, &[b"w", b"mine"])), v("QUEUED"));
    assert_eq!(val(&c.cmd(&["EXEC"])), BinValue::NotFound);
    assert_eq!(val(&c.call(op::GET, &[b"w"])), v("changed"));
    // A transaction error keeps Redis's words.
    assert_eq!(val(&c.cmd(&["MULTI"])), BinValue::Ok);
    assert!(matches!(val(&c.cmd(&["NOPE"])), BinValue::Error(_)));
    assert!(err_text(&c.cmd(&["EXEC"])).starts_with("EXECABORT"));

    assert_eq!(
        val(&c.cmd(&[
            "EVAL",
            "return {1, 'two', redis.call('GET', KEYS[1])}",
            "1",
            "w"
        ])),
        BinValue::Array(vec![BinValue::Int(1), v("two"), v("changed")])
    );
    assert_eq!(
        val(&c.cmd(&[
            "EVAL",
            "return redis.call('SET', KEYS[1], ARGV[1])",
            "1",
            "e",
            "v"
        ])),
        BinValue::Ok
    );
    assert_eq!(val(&c.call(op::GET, &[b"e"])), v("v"));
}

#[test]
fn auth_is_required_when_a_password_is_set() {
    let srv = TestServer::builder().requirepass("s3cret").start();
    let mut c = Bin::connect(&srv);
    // HELLO is served before AUTH.
    assert!(matches!(val(&c.call(op::HELLO, &[])), BinValue::Map(_)));
    for (opcode, args) in [
        (op::GET, vec![&b"k"[..]]),
        (op::SET, vec![&b"k"[..], b"v"]),
        (op::DELETE, vec![&b"k"[..]]),
        (op::STATUS, vec![]),
        (op::COMMAND, vec![&b"PING"[..]]),
    ] {
        assert_eq!(
            err_text(&c.call(opcode, &args)),
            "NOAUTH Authentication required.",
            "opcode {opcode}"
        );
    }
    assert!(err_text(&c.cmd(&["AUTH", "wrong"])).starts_with("WRONGPASS"));
    assert_eq!(val(&c.cmd(&["AUTH", "s3cret"])), BinValue::Ok);
    assert_eq!(val(&c.call(op::SET, &[b"k", b"v"])), BinValue::Ok);
    assert_eq!(val(&c.call(op::GET, &[b"k"])), v("v"));
    // Authenticated: the full limits apply (20 arguments are fine).
    let args: Vec<String> = std::iter::once("MSET".to_string())
        .chain((0..20).map(|i| format!("x{i}")))
        .collect();
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(val(&c.cmd(&a)), BinValue::Ok);

    // Before AUTH, the small limits close the connection.
    let mut u = Bin::connect(&srv);
    let args: Vec<&[u8]> = vec![b"x"; 11];
    u.send(op::COMMAND, &args);
    assert_eq!(
        err_text(&u.frame()),
        "ERR Protocol error: unauthenticated argument count 11 over the limit of 10"
    );
    assert!(u.until_closed().is_empty());
    let mut u = Bin::connect(&srv);
    u.send(op::COMMAND, &[&[b'x'; 16385]]);
    assert_eq!(
        err_text(&u.frame()),
        "ERR Protocol error: unauthenticated argument length 16385 over the limit of 16384"
    );
    assert!(u.until_closed().is_empty());
}

#[test]
fn set_answers_oom_under_noeviction() {
    let srv = TestServer::builder()
        .maxmemory("1mb")
        .policy("noeviction")
        .start();
    let mut c = Bin::connect(&srv);
    let big = vec![b'x'; 64 * 1024];
    let mut oom = None;
    for i in 0..200 {
        let f = c.call(op::SET, &[format!("k{i}").as_bytes(), &big]);
        if let BinValue::Error(m) = val(&f) {
            oom = Some(String::from_utf8_lossy(m).into_owned());
            break;
        }
    }
    assert_eq!(
        oom.as_deref(),
        Some("OOM command not allowed when used memory > 'maxmemory'.")
    );
    // Reads and deletes still work; a delete makes room again.
    assert_eq!(val(&c.call(op::GET, &[b"k0"])), BinValue::Value(&big));
    let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    let k: Vec<&[u8]> = keys.iter().map(|s| s.as_bytes()).collect();
    assert!(matches!(val(&c.call(op::DELETE, &k)), BinValue::Int(n) if n > 0));
    assert_eq!(val(&c.call(op::SET, &[b"small", b"v"])), BinValue::Ok);
    // COMMAND SET takes the same check, with the same words.
    assert_eq!(val(&c.cmd(&["SET", "small2", "v"])), BinValue::Ok);
}

#[test]
fn framing_errors_close_only_their_connection() {
    let srv = TestServer::start();
    let mut bystander = Bin::connect(&srv);
    assert_eq!(val(&bystander.call(op::SET, &[b"k", b"v"])), BinValue::Ok);

    // Unknown opcode: an error, the frame is skipped, the next one is served.
    let mut c = Bin::connect(&srv);
    let mut out = Vec::new();
    bin::encode_request(&mut out, 0x7f, &[b"some", b"args"]);
    bin::encode_request(&mut out, op::GET, &[b"k"]);
    c.send_raw(&out);
    assert_eq!(err_text(&c.frame()), "ERR unknown opcode 0x7f");
    assert_eq!(val(&c.frame()), v("v"));

    // Wrong version: replies to the frames before it, the error, then close.
    let mut c = Bin::connect(&srv);
    let mut out = Vec::new();
    bin::encode_request(&mut out, op::GET, &[b"k"]);
    out.extend_from_slice(b"\x02\x01\x00\x00\x00\x00");
    c.send_raw(&out);
    assert_eq!(val(&c.frame()), v("v"));
    assert_eq!(
        err_text(&c.frame()),
        "ERR unsupported protocol version 2 (this server speaks 1)"
    );
    assert!(c.until_closed().is_empty());

    // A RESP client at the binary door gets a version error, not a hang.
    let mut c = Bin::connect(&srv);
    c.send_raw(b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(
        err_text(&c.frame()),
        "ERR unsupported protocol version 42 (this server speaks 1)"
    );
    assert!(c.until_closed().is_empty());

    // argc over the limit: answered from the header alone.
    let mut c = Bin::connect(&srv);
    c.send_raw(b"\x01\x05\x00\x10\x00\x01");
    assert_eq!(
        err_text(&c.frame()),
        "ERR Protocol error: argument count 1048577 over the limit of 1048576"
    );
    assert!(c.until_closed().is_empty());

    // An argument over proto-max-bulk-len (lowered with CONFIG SET, applied at once).
    let mut c = Bin::connect(&srv);
    assert_eq!(
        val(&c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"])),
        BinValue::Ok
    );
    c.send_raw(b"\x01\x02\x00\x00\x00\x02\x00\x00\x00\x01k\x00\x10\x00\x01");
    assert_eq!(
        err_text(&c.frame()),
        "ERR Protocol error: argument length 1048577 over proto-max-bulk-len 1048576"
    );
    assert!(c.until_closed().is_empty());

    // Truncated: the client sends part of a frame and shuts its writing half.
    let mut c = Bin::connect(&srv);
    c.send_raw(b"\x01\x01\x00\x00\x00\x01\x00\x00\x00\x05ab");
    c.sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(err_text(&c.frame()), "ERR Protocol error: truncated frame");
    assert!(c.until_closed().is_empty());
    // A truncated header counts as well.
    let mut c = Bin::connect(&srv);
    c.send_raw(b"\x01\x01\x00");
    c.sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(err_text(&c.frame()), "ERR Protocol error: truncated frame");
    assert!(c.until_closed().is_empty());
    // A clean EOF between frames is just a close.
    let mut c = Bin::connect(&srv);
    assert_eq!(val(&c.call(op::GET, &[b"k"])), v("v"));
    c.sock.shutdown(Shutdown::Write).unwrap();
    assert!(c.until_closed().is_empty());

    // The server kept serving everyone else, on every door.
    assert_eq!(val(&bystander.call(op::GET, &[b"k"])), v("v"));
    let mut r = srv.connection();
    let got: String = r.get("k").unwrap();
    assert_eq!(got, "v");
}

#[test]
fn ttl_set_through_binary_expires_for_resp() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let mut c = Bin::connect(&srv);
    assert_eq!(
        val(&c.call(op::SET, &[b"session", b"tok", &ttl(1500)])),
        BinValue::Ok
    );
    let mut r = srv.connection();
    let got: Option<String> = r.get("session").unwrap();
    assert_eq!(got.as_deref(), Some("tok"));
    let pttl: i64 = r.pttl("session").unwrap();
    assert_eq!(pttl, 1500);
    srv.advance_ms(1499);
    let got: Option<String> = r.get("session").unwrap();
    assert_eq!(got.as_deref(), Some("tok"));
    srv.advance_ms(1);
    let got: Option<String> = r.get("session").unwrap();
    assert_eq!(got, None);
    assert_eq!(val(&c.call(op::GET, &[b"session"])), BinValue::NotFound);

    // And the other way: RESP sets with PX, binary sees it vanish.
    let () = r.pset_ex("other", "x", 200).unwrap();
    assert_eq!(val(&c.call(op::GET, &[b"other"])), v("x"));
    srv.advance_ms(200);
    assert_eq!(val(&c.call(op::GET, &[b"other"])), BinValue::NotFound);
}

/// The request examples of docs/PROTOCOL.md, sent to a live server, get the reply
/// examples byte for byte.
#[test]
fn protocol_md_examples_against_a_live_server() {
    let ex = doc_examples::examples();
    let bytes = |name: &str| {
        ex.get(name)
            .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no example {name}"))
            .clone()
    };
    let srv = TestServer::start();
    let mut c = Bin::connect(&srv);
    // (request example, reply example), in this order on one connection.
    for (req, rep) in [
        ("get-request", "get-reply-not-found"),
        ("set-request", "set-reply"),
        ("get-request", "get-reply-value"),
        ("set-ttl-request", "set-reply"),
        ("pipeline-request", "pipeline-reply"),
        ("delete-request", "delete-reply"),
        ("command-request", "command-reply"),
        ("hello-request", "hello-reply"),
        ("error-arity-request", "error-arity-reply"),
        ("error-ttl-request", "error-ttl-reply"),
        ("error-refused-request", "error-refused-reply"),
        ("error-unknown-opcode-request", "error-unknown-opcode-reply"),
    ] {
        c.send_raw(&bytes(req));
        let want = bytes(rep);
        let mut got = Vec::new();
        while got.len() < want.len() {
            got.extend(c.frame());
        }
        assert_eq!(got, want, "{req} → {rep}");
    }
    assert_eq!(val(&c.cmd(&["NOPE"])), val(&bytes("error-command-reply")));
    // STATUS has the shape of its example: a MAP of named figures, keys and hit_ratio
    // among them with the example's types.
    c.send_raw(&bytes("status-request"));
    let f = c.frame();
    let BinValue::Map(figs) = val(&f) else {
        panic!("STATUS is a MAP")
    };
    assert!(figs
        .iter()
        .any(|(k, x)| *k == v("keys") && matches!(x, BinValue::Int(_))));
    assert!(figs
        .iter()
        .any(|(k, x)| *k == v("hit_ratio") && matches!(x, BinValue::Double(_))));
    // Every figure STATUS sends is in the document's table.
    let doc = std::fs::read_to_string(doc_examples::doc_path()).unwrap();
    for (k, _) in &figs {
        let BinValue::Value(name) = k else {
            panic!("a STATUS name is not a VALUE")
        };
        let name = String::from_utf8_lossy(name);
        assert!(
            doc.contains(&format!("`{name}`")),
            "STATUS figure {name} is not documented in docs/PROTOCOL.md"
        );
    }

    // Framing errors, each on its own connection, which then closes.
    for (req, rep, shutdown) in [
        ("error-version-request", "error-version-reply", false),
        ("error-argc-request", "error-argc-reply", false),
        ("error-arg-len-request", "error-arg-len-reply", false),
        ("error-truncated-request", "error-truncated-reply", true),
    ] {
        let mut c = Bin::connect(&srv);
        c.send_raw(&bytes(req));
        if shutdown {
            c.sock.shutdown(Shutdown::Write).unwrap();
        }
        assert_eq!(c.until_closed(), bytes(rep), "{req} → {rep}");
    }

    let srv = TestServer::builder().requirepass("pw").start();
    for (req, rep) in [
        ("get-request", "error-noauth-reply"),
        ("error-unauth-argc-request", "error-unauth-argc-reply"),
        ("error-unauth-arg-len-request", "error-unauth-arg-len-reply"),
    ] {
        let mut c = Bin::connect(&srv);
        c.send_raw(&bytes(req));
        assert_eq!(c.frame(), bytes(rep), "{req} → {rep}");
    }
}
