//! The internal bus, client side: a pipelined RESP connection to another node's cluster
//! port, opened with a challenge–response on the cluster secret.
//!
//! ```text
//!  connect ── RCACHE.BUSHELLO ──► nonce (random, per connection)
//!          ── RCACHE.BUSAUTH <my id> <HMAC-SHA256(secret, "rcache-bus" | nonce)> ──► +OK
//!  Link::call(request) ─► queue ─► writer task: every queued request in one write
//!                                  reader task: replies in order ─► each caller's oneshot
//! ```
//! Requests from many clients share one connection and one write per batch (the issue's
//! "pooled, pipelined"). The reader relays each reply's bytes untouched (`reply_len`), so a
//! forwarded command's reply reaches the client exactly as the owner wrote it. A broken
//! connection fails every request in flight with an error the caller turns into a
//! retryable reply; the next call reconnects.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// How long connecting and the handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The proof a node sends for `nonce`: hex HMAC-SHA256 of the cluster secret.
pub fn proof(secret: &[u8], nonce: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(b"rcache-bus");
    m.update(nonce);
    hex(&m.finalize().into_bytes())
}

/// Whether `claimed` is the proof for `nonce` (constant time).
pub fn verify(secret: &[u8], nonce: &[u8], claimed: &[u8]) -> bool {
    let Some(raw) = unhex(claimed) else {
        return false;
    };
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(b"rcache-bus");
    m.update(nonce);
    m.verify_slice(&raw).is_ok()
}

/// A fresh random nonce (hex).
pub fn nonce() -> String {
    hex(&rand::random::<[u8; 16]>())
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// Encode a request as a RESP array.
pub fn encode<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Read one whole reply (handshake and hand-off use; the link's reader does its own).
pub async fn read_reply(sock: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    loop {
        match protocol::reply_len(buf) {
            Ok(Some(n)) => {
                let r = buf[..n].to_vec();
                buf.drain(..n);
                return Ok(r);
            }
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(format!("bad reply: {e:?}"))),
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "peer closed",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Open an authenticated bus connection to `addr` (RESP3 replies when `resp3`).
pub async fn open(
    addr: SocketAddr,
    secret: &[u8],
    my_id: &str,
    resp3: bool,
) -> std::io::Result<TcpStream> {
    let go = async {
        let mut sock = TcpStream::connect(addr).await?;
        let _ = sock.set_nodelay(true);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        encode(&[b"RCACHE.BUSHELLO".as_slice()], &mut out);
        sock.write_all(&out).await?;
        let r = read_reply(&mut sock, &mut buf).await?;
        let nonce = match protocol::parse_reply(&r) {
            Ok((protocol::RespValue::Bulk(n), _)) => n.to_vec(),
            _ => {
                return Err(std::io::Error::other(format!(
                    "{addr} is not an rcache cluster port: {}",
                    String::from_utf8_lossy(&r).trim_end()
                )))
            }
        };
        out.clear();
        encode(
            &[
                b"RCACHE.BUSAUTH".as_slice(),
                my_id.as_bytes(),
                proof(secret, &nonce).as_bytes(),
            ],
            &mut out,
        );
        if resp3 {
            encode(&[b"HELLO".as_slice(), b"3"], &mut out);
        }
        sock.write_all(&out).await?;
        let r = read_reply(&mut sock, &mut buf).await?;
        if !r.starts_with(b"+OK") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{addr} refused this node: {}",
                    String::from_utf8_lossy(&r).trim_end()
                ),
            ));
        }
        if resp3 {
            read_reply(&mut sock, &mut buf).await?;
        }
        Ok(sock)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, go).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{addr}: no answer in {CONNECT_TIMEOUT:?}"),
        )),
    }
}

/// What a forwarded request gets back: the reply's bytes, or why the link failed.
pub type Answer = Result<Vec<u8>, String>;

struct Pending {
    req: Vec<u8>,
    /// How many requests `req` holds: their replies come back concatenated, in one answer.
    n: usize,
    reply: oneshot::Sender<Answer>,
}

/// A caller waiting for `left` more replies, gathered in `got`.
struct Waiter {
    left: usize,
    got: Vec<u8>,
    reply: oneshot::Sender<Answer>,
}

/// A pipelined connection to one node. Cheap to clone; the tasks run on the runtime that
/// opened it.
#[derive(Clone)]
pub struct Link {
    tx: mpsc::UnboundedSender<Pending>,
    dead: Arc<AtomicBool>,
}

impl Link {
    pub async fn connect(
        addr: SocketAddr,
        secret: &[u8],
        my_id: &str,
        resp3: bool,
    ) -> std::io::Result<Link> {
        let sock = open(addr, secret, my_id, resp3).await?;
        let (mut rd, mut wr) = sock.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
        let dead = Arc::new(AtomicBool::new(false));
        let waiting: Arc<parking_lot::Mutex<VecDeque<Waiter>>> = Arc::default();
        let (w2, d2) = (waiting.clone(), dead.clone());
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(16 * 1024);
            while let Some(first) = rx.recv().await {
                buf.clear();
                {
                    let mut q = w2.lock();
                    buf.extend_from_slice(&first.req);
                    q.push_back(Waiter {
                        left: first.n,
                        got: Vec::new(),
                        reply: first.reply,
                    });
                    while buf.len() < 1 << 20 {
                        match rx.try_recv() {
                            Ok(p) => {
                                buf.extend_from_slice(&p.req);
                                q.push_back(Waiter {
                                    left: p.n,
                                    got: Vec::new(),
                                    reply: p.reply,
                                });
                            }
                            Err(_) => break,
                        }
                    }
                }
                if let Err(e) = wr.write_all(&buf).await {
                    tracing::debug!("bus link to {addr}: write failed: {e}");
                    break;
                }
            }
            d2.store(true, Relaxed);
            // The reader fails what is queued when the connection closes.
            let _ = wr.shutdown().await;
        });
        let (w3, d3) = (waiting, dead.clone());
        tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
            let mut start = 0usize;
            let why = loop {
                let mut chunk = [0u8; 16 * 1024];
                match rd.read(&mut chunk).await {
                    Ok(0) => break "connection closed".to_string(),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => break e.to_string(),
                }
                loop {
                    match protocol::reply_len(&buf[start..]) {
                        Ok(Some(n)) => {
                            let r = &buf[start..start + n];
                            start += n;
                            let mut q = w3.lock();
                            if let Some(w) = q.front_mut() {
                                w.got.extend_from_slice(r);
                                w.left = w.left.saturating_sub(1);
                                if w.left == 0 {
                                    if let Some(w) = q.pop_front() {
                                        let _ = w.reply.send(Ok(w.got));
                                    }
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            d3.store(true, Relaxed);
                            start = buf.len();
                            tracing::warn!("bus link to {addr}: bad reply: {e:?}");
                            break;
                        }
                    }
                }
                if start == buf.len() {
                    buf.clear();
                    start = 0;
                } else if start > 64 * 1024 {
                    buf.drain(..start);
                    start = 0;
                }
                if d3.load(Relaxed) {
                    break "bad reply".to_string();
                }
            };
            d3.store(true, Relaxed);
            for w in w3.lock().drain(..) {
                let _ = w.reply.send(Err(why.clone()));
            }
        });
        Ok(Link { tx, dead })
    }

    /// Whether the connection broke (a new one is needed).
    pub fn is_dead(&self) -> bool {
        self.dead.load(Relaxed) || self.tx.is_closed()
    }

    /// Send an encoded request; the reply arrives on the receiver.
    pub fn send(&self, req: Vec<u8>) -> oneshot::Receiver<Answer> {
        self.send_many(req, 1)
    }

    /// Send `n` encoded requests at once; their `n` replies come back concatenated.
    pub fn send_many(&self, req: Vec<u8>, n: usize) -> oneshot::Receiver<Answer> {
        let (reply, rx) = oneshot::channel();
        if let Err(e) = self.tx.send(Pending { req, n, reply }) {
            let _ = e.0.reply.send(Err("link closed".into()));
        }
        rx
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn proof_verifies_only_with_the_secret() {
        let p = super::proof(b"s3cret", b"abcd");
        assert!(super::verify(b"s3cret", b"abcd", p.as_bytes()));
        assert!(!super::verify(b"other", b"abcd", p.as_bytes()));
        assert!(!super::verify(b"s3cret", b"abce", p.as_bytes()));
        assert!(!super::verify(b"s3cret", b"abcd", b"zz"));
        assert!(!super::verify(b"s3cret", b"abcd", b""));
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(super::nonce(), super::nonce());
        assert_eq!(super::nonce().len(), 32);
    }
}
