//! The client's transport against scripted fake servers on raw `TcpListener`s: timeouts
//! (a server that never answers, a reply that comes late), proof that concurrent requests
//! are pipelined, malformed replies, and the binary protocol end to end (a tiny binary
//! server built from `protocol::binary`'s decoder and reply writers).

use protocol::binary::{self, BinValue, Decoded, RequestDecoder};
use rcache_client::{Config, Connection, Error, Pool, Proto, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

/// Read from `s` until `buf` holds `n` complete RESP requests (the client sends multibulks).
async fn read_requests(s: &mut TcpStream, buf: &mut Vec<u8>, n: usize) {
    loop {
        let mut pos = 0;
        let mut count = 0;
        while let Some(len) = testkit::raw::frame_len(&buf[pos..]) {
            pos += len;
            count += 1;
        }
        if count >= n {
            return;
        }
        let mut chunk = [0u8; 4096];
        let k = s.read(&mut chunk).await.unwrap();
        assert!(k > 0, "client closed early");
        buf.extend_from_slice(&chunk[..k]);
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut sink = Vec::new();
        // Read and never answer, until the client goes away.
        let _ = s.read_to_end(&mut sink).await;
    });
    let cfg = Config::new(addr.clone(), Proto::Resp2).with_timeout(Some(Duration::from_millis(50)));
    let c = Connection::connect(&cfg).await.unwrap();
    assert!(matches!(c.get("k").await, Err(Error::Timeout)));
    assert!(matches!(c.cmd(["PING"]).await, Err(Error::Timeout)));
    assert!(matches!(
        c.pipe().cmd(["PING"]).query().await,
        Err(Error::Timeout)
    ));
    // Still open, and counting the unanswered requests as load.
    assert!(!c.is_closed());
    assert_eq!(c.in_flight(), 3);
    drop(c);
    server.await.unwrap();

    // The handshake is bounded by the connect timeout.
    let (l, addr) = listener().await;
    let _server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink).await;
    });
    let cfg = Config::new(addr, Proto::Resp3).with_connect_timeout(Duration::from_millis(50));
    assert!(matches!(
        Connection::connect(&cfg).await,
        Err(Error::Timeout)
    ));
}

#[tokio::test]
async fn a_late_reply_is_discarded_and_replies_stay_in_step() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        // Wait for the second request (sent after the first timed out), then answer both.
        read_requests(&mut s, &mut buf, 2).await;
        s.write_all(b"$4\r\nlate\r\n$5\r\nfresh\r\n").await.unwrap();
        read_requests(&mut s, &mut buf, 3).await;
        s.write_all(b"+third\r\n").await.unwrap();
    });
    let c = Connection::connect(&Config::new(addr, Proto::Resp2))
        .await
        .unwrap();
    let short = c.with_timeout(Some(Duration::from_millis(20)));
    assert!(matches!(short.get("first").await, Err(Error::Timeout)));
    assert_eq!(c.get("second").await.unwrap(), Some(b"fresh".to_vec()));
    assert_eq!(c.cmd(["X"]).await.unwrap(), Value::Status("third".into()));
    assert_eq!(c.in_flight(), 0);
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_are_pipelined() {
    // The server answers nothing until it has all 100 requests: only a client that sends
    // requests without waiting for earlier replies can finish.
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        read_requests(&mut s, &mut buf, 100).await;
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(len) = testkit::raw::frame_len(&buf[pos..]) {
            // Echo each request's last argument back as a bulk string.
            let frame = &buf[pos..pos + len];
            let text = std::str::from_utf8(frame).unwrap();
            let last = text.trim_end_matches("\r\n").rsplit("\r\n").next().unwrap();
            out.extend_from_slice(format!("${}\r\n{last}\r\n", last.len()).as_bytes());
            pos += len;
        }
        s.write_all(&out).await.unwrap();
    });
    let c = Connection::connect(
        &Config::new(addr, Proto::Resp2).with_timeout(Some(Duration::from_secs(10))),
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                let v = c.cmd(["ECHO", &format!("task-{i}")]).await.unwrap();
                assert_eq!(v, Value::Bytes(format!("task-{i}").into_bytes()));
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    server.await.unwrap();
}

#[tokio::test]
async fn malformed_replies_and_eof_fail_the_connection() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        read_requests(&mut s, &mut buf, 1).await;
        s.write_all(b"?garbage\r\n").await.unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink).await;
    });
    let c = Connection::open(addr, Proto::Resp2).await.unwrap();
    match c.get("k").await {
        Err(Error::Protocol(m)) => assert!(m.contains("invalid RESP reply"), "{m}"),
        r => panic!("{r:?}"),
    }
    assert!(c.is_closed());
    assert!(matches!(c.get("k").await, Err(Error::Closed)));
    drop(c);
    server.await.unwrap();

    // The server hangs up with a request outstanding: Io (it may have run).
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        read_requests(&mut s, &mut buf, 1).await;
    });
    let c = Connection::open(addr, Proto::Resp2).await.unwrap();
    match c.get("k").await {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        r => panic!("{r:?}"),
    }

    // Nobody listening: the connect fails with Io.
    let (l, addr) = listener().await;
    drop(l);
    assert!(matches!(
        Connection::open(addr.clone(), Proto::Resp2).await,
        Err(Error::Io(_))
    ));
    let pool = Pool::new(addr, Proto::Resp2, 2);
    assert!(matches!(pool.cmd(["PING"]).await, Err(Error::Io(_))));
}

/// A binary-protocol server good enough for the client's tests: GET/SET/DELETE on a map,
/// HELLO, STATUS, and COMMAND for PING, ECHO and HGETALL-like replies.
async fn fake_binary_server(l: TcpListener) {
    let (mut s, _) = l.accept().await.unwrap();
    let mut store: std::collections::HashMap<Vec<u8>, Vec<u8>> = Default::default();
    let mut dec = RequestDecoder::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    loop {
        loop {
            let used = match dec.decode(&buf, true) {
                Ok(Decoded::Frame { consumed }) => consumed,
                Ok(Decoded::Incomplete { .. }) => break,
                Err(e) => panic!("fake server: {}", e.message()),
            };
            let args: Vec<Vec<u8>> = dec.args(&buf).iter().map(|a| a.to_vec()).collect();
            let reply = match dec.opcode() {
                binary::op::HELLO => {
                    BinValue::Map(vec![(BinValue::Value(b"protocol"), BinValue::Int(1))])
                }
                binary::op::GET => match store.get(&args[0]) {
                    Some(v) => BinValue::Value(v),
                    None => BinValue::NotFound,
                },
                binary::op::SET => {
                    assert!(args.len() == 2 || args[2].len() == 8);
                    store.insert(args[0].clone(), args[1].clone());
                    BinValue::Ok
                }
                binary::op::DELETE => {
                    BinValue::Int(args.iter().filter(|k| store.remove(*k).is_some()).count() as i64)
                }
                binary::op::STATUS => BinValue::Map(vec![(
                    BinValue::Value(b"keys"),
                    BinValue::Int(store.len() as i64),
                )]),
                binary::op::COMMAND => match args[0].to_ascii_uppercase().as_slice() {
                    b"PING" => BinValue::Value(b"PONG"),
                    b"ECHO" => BinValue::Value(&args[1]),
                    b"SCORE" => BinValue::Double(1.5),
                    b"FLAGS" => BinValue::Set(vec![BinValue::Bool(true), BinValue::BigNum(b"99")]),
                    _ => BinValue::Error(b"ERR unknown command"),
                },
                _ => BinValue::Error(b"ERR unknown opcode"),
            };
            binary::encode_reply(&mut out, &reply);
            buf.drain(..used);
        }
        if !out.is_empty() {
            s.write_all(&out).await.unwrap();
            out.clear();
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn binary_transport_against_a_fake_server() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(fake_binary_server(l));
    let c = Connection::open(addr, Proto::Binary).await.unwrap();
    assert_eq!(c.proto(), Proto::Binary);
    c.ping().await.unwrap();
    assert_eq!(c.get("k").await.unwrap(), None);
    c.set("k", b"\x00\xffv".as_slice()).await.unwrap();
    c.set_px("t", "1", 1500).await.unwrap();
    assert_eq!(c.get("k").await.unwrap(), Some(b"\x00\xffv".to_vec()));
    assert_eq!(c.del(["k", "nokey"]).await.unwrap(), 1);
    assert_eq!(c.cmd(["SCORE"]).await.unwrap(), Value::Double(1.5));
    assert_eq!(
        c.cmd(["FLAGS"]).await.unwrap(),
        Value::Set(vec![Value::Bool(true), Value::BigNum("99".into())])
    );
    assert_eq!(
        c.cmd(["NOPE"])
            .await
            .unwrap_err()
            .server()
            .unwrap()
            .message(),
        "ERR unknown command"
    );
    assert_eq!(
        c.status().await.unwrap(),
        Value::Map(vec![(Value::Bytes(b"keys".to_vec()), Value::Int(1))])
    );
    let mut p = c.pipe();
    for i in 0..1000 {
        p.cmd(["ECHO", &i.to_string()]);
    }
    let r = p.query().await.unwrap();
    assert_eq!(r.len(), 1000);
    assert_eq!(r[999], Value::Bytes(b"999".to_vec()));
    drop(c);
    server.await.unwrap();
}

#[tokio::test]
async fn binary_version_mismatch_is_a_protocol_error() {
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut b = [0u8; 64];
        let _ = s.read(&mut b).await;
        // A server speaking version 2 answers in its own version.
        s.write_all(b"\x02\x03\x00\x00\x00\x03ERR").await.unwrap();
    });
    match Connection::open(addr, Proto::Binary).await {
        Err(Error::Protocol(m)) => assert!(m.contains("unsupported protocol version 2"), "{m}"),
        r => panic!("{r:?}"),
    }
}
