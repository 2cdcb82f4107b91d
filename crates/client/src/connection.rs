//! [`Connection`]: one socket, shared by any number of callers, with automatic pipelining.
//!
//! ```text
//!  caller ─┐  encode frame         ┌───────────── background task (one per socket) ─────────────┐
//!  caller ─┼─► mpsc (bounded) ──►  │ writer: take every queued request (recv_many), push their   │
//!  caller ─┘                       │   reply slots on `pending` (FIFO), write all frames at once │
//!     ▲                            │ reader: read, decode every complete reply, hand each to the │
//!     └──── oneshot ◄──────────────│   oldest pending slot                                       │
//!                                  └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! Requests that arrive while a write is in progress queue up and go out together in the
//! next write: concurrent callers are pipelined without asking. Replies come back in
//! request order (RESP and the binary protocol both guarantee it), so matching them is a
//! FIFO pop. The reply slot is pushed on `pending` *before* the frame is written, so the
//! reader always finds the slot for the reply it just decoded.
//!
//! Timeouts are the caller's: a request that times out returns [`Error::Timeout`] and drops
//! its reply slot; the slot stays in the FIFO and the late reply, when it comes, is read and
//! discarded. The connection stays usable and in step — a timeout never shifts replies onto
//! the wrong request. (A server that never answers again makes every later request on the
//! connection time out too; the pool counts such requests as load and prefers other
//! connections.)
//!
//! When the socket fails or the server closes it, every outstanding request fails with
//! [`Error::Io`] (it may have run), every queued-but-unsent request with [`Error::Closed`]
//! (it did not run), and the connection reports [`Connection::is_closed`].

use crate::codec::{self, Decoded};
use crate::config::{Config, Proto};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::value::Value;
use bytes::{Buf, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Requests that may wait for the writer before callers are made to wait in `send`.
const QUEUE_DEPTH: usize = 4096;
/// Requests the writer takes per write (their frames are concatenated).
const BATCH: usize = 512;
/// The reader's minimum free space before a read.
const READ_CHUNK: usize = 16 * 1024;
/// Write buffers above this are released after use instead of kept.
const KEEP_WRITE_BUF: usize = 1 << 20;

/// A request on its way to the writer: its frames and where its replies go.
pub(crate) struct Request {
    pub bytes: Vec<u8>,
    pub reply: Replier,
}

/// Where the replies to one request (one command, or a batch) go.
pub(crate) enum Replier {
    /// One command: a top-level error reply becomes `Err(Error::Server)`.
    One(oneshot::Sender<Result<Value>>),
    /// A batch of `n` commands: errors stay in place as `Value::Error`.
    Many {
        n: usize,
        got: Vec<Value>,
        tx: oneshot::Sender<Result<Vec<Value>>>,
    },
}

impl Replier {
    /// Deliver the request's last reply (a dropped receiver — a timed-out caller — is fine).
    fn finish(self, last: Value) {
        match self {
            Replier::One(tx) => {
                let _ = tx.send(last.into_result());
            }
            Replier::Many { mut got, tx, .. } => {
                got.push(last);
                let _ = tx.send(Ok(got));
            }
        }
    }

    fn fail(self, e: Error) {
        match self {
            Replier::One(tx) => {
                let _ = tx.send(Err(e));
            }
            Replier::Many { tx, .. } => {
                let _ = tx.send(Err(e));
            }
        }
    }
}

/// State shared by the handles and the connection's task. The task must not hold the
/// request sender: the channel closing (every handle dropped) is what ends it.
struct Inner {
    proto: Proto,
    peer: Option<SocketAddr>,
    closed: AtomicBool,
    /// Requests written and not yet answered (the pool's load figure).
    in_flight: AtomicUsize,
}

/// A connection to one server. Cheap to clone: clones share the socket, and requests from
/// all of them are pipelined together.
///
/// ```no_run
/// # async fn demo() -> rcache_client::Result<()> {
/// use rcache_client::{Connection, Proto};
///
/// let conn = Connection::open("127.0.0.1:6379", Proto::Resp3).await?;
/// conn.set("greeting", "hello").await?;
/// assert_eq!(conn.get("greeting").await?, Some(b"hello".to_vec()));
///
/// // 100 tasks on clones of one connection: their requests share writes.
/// let mut tasks = Vec::new();
/// for i in 0..100 {
///     let c = conn.clone();
///     tasks.push(tokio::spawn(async move { c.incr_by("counter", i).await }));
/// }
/// for t in tasks {
///     t.await.unwrap()?;
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::Sender<Request>,
    inner: Arc<Inner>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("proto", &self.inner.proto)
            .field("peer", &self.inner.peer)
            .field("closed", &self.is_closed())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Connection {
    /// Connect to `addr` with default settings (no AUTH, db 0, no request timeout).
    pub async fn open(addr: impl Into<String>, proto: Proto) -> Result<Connection> {
        Connection::connect(&Config::new(addr, proto)).await
    }

    /// Connect and run the handshake `cfg` asks for: `HELLO 3` for RESP3 (a binary
    /// connection sends the binary HELLO, which checks the server speaks version 1), then
    /// AUTH, SELECT and CLIENT SETNAME as configured. Bounded by `cfg.connect_timeout`.
    pub async fn connect(cfg: &Config) -> Result<Connection> {
        let fut = async {
            let stream = TcpStream::connect(cfg.addr.as_str()).await?;
            stream.set_nodelay(cfg.nodelay)?;
            let conn = Connection::from_stream(stream, cfg.proto);
            conn.handshake(cfg).await?;
            Ok(conn.with_timeout(cfg.timeout))
        };
        match tokio::time::timeout(cfg.connect_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Wrap a connected socket without any handshake (the server must already expect
    /// `proto`; for RESP3 send `HELLO 3` yourself). Spawns the connection's task on the
    /// current tokio runtime.
    pub fn from_stream(stream: TcpStream, proto: Proto) -> Connection {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let inner = Arc::new(Inner {
            proto,
            peer: stream.peer_addr().ok(),
            closed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        });
        tokio::spawn(run(stream, rx, inner.clone()));
        Connection {
            tx,
            inner,
            timeout: None,
        }
    }

    async fn handshake(&self, cfg: &Config) -> Result<()> {
        let mut p = Pipeline::new(self);
        let name = cfg.client_name.as_deref();
        match cfg.proto {
            Proto::Resp3 => {
                let mut args: Vec<&[u8]> = vec![b"HELLO", b"3"];
                if let Some(pass) = cfg.password.as_deref() {
                    let user = cfg.username.as_deref().unwrap_or("default");
                    args.extend([b"AUTH".as_slice(), user.as_bytes(), pass.as_bytes()]);
                }
                if let Some(name) = name {
                    args.extend([b"SETNAME".as_slice(), name.as_bytes()]);
                }
                p.cmd(args);
            }
            Proto::Resp2 | Proto::Binary => {
                if cfg.proto == Proto::Binary {
                    p.push_raw(|out| {
                        codec::encode_binary_op(protocol::binary::op::HELLO, &[], out)
                    });
                }
                match (cfg.username.as_deref(), cfg.password.as_deref()) {
                    (Some(u), Some(pass)) => p.cmd(["AUTH", u, pass]),
                    (None, Some(pass)) => p.cmd(["AUTH", pass]),
                    _ => &mut p,
                };
                if let Some(name) = name {
                    p.cmd(["CLIENT", "SETNAME", name]);
                }
            }
        }
        if cfg.db != 0 {
            p.cmd(["SELECT", itoa::Buffer::new().format(cfg.db)]);
        }
        if p.is_empty() {
            return Ok(());
        }
        // The handshake's errors (bad password, unknown db, a server without HELLO 3)
        // fail the connect.
        for v in p.query().await? {
            v.into_result()?;
        }
        Ok(())
    }

    /// A handle on the same connection whose requests time out after `timeout` (`None`:
    /// wait forever). See the module docs for what a timeout leaves behind.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Connection {
        Connection {
            tx: self.tx.clone(),
            inner: self.inner.clone(),
            timeout,
        }
    }

    /// The protocol this connection speaks.
    pub fn proto(&self) -> Proto {
        self.inner.proto
    }

    /// The server's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer
    }

    /// True once the socket has failed or been closed; every request then fails with
    /// [`Error::Closed`]. Make a new connection (a [`Pool`](crate::Pool) does it for you).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Requests written and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Start an explicit batch: its commands go out in one write and its replies come back
    /// as one `Vec<Value>`.
    pub fn pipe(&self) -> Pipeline<'_> {
        Pipeline::new(self)
    }

    /// Run any command: `conn.cmd(["HSET", "user:1", "name", "ada"])`, or with byte slices
    /// `conn.cmd([b"GET".as_slice(), key])`. An error reply is `Err(Error::Server)`.
    ///
    /// Commands that turn the connection into a stream of pushes (SUBSCRIBE, PSUBSCRIBE,
    /// SSUBSCRIBE, MONITOR, SYNC, PSYNC) are refused with [`Error::Unsupported`]: their
    /// replies cannot be matched one-to-one with requests.
    pub async fn cmd<I, A>(&self, args: I) -> Result<Value>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<A> = args.into_iter().collect();
        check_command(&args)?;
        let mut bytes = Vec::with_capacity(64);
        codec::encode_command(self.inner.proto, &args, &mut bytes);
        self.request(bytes).await
    }

    /// Send one encoded frame, wait for its one reply.
    pub(crate) async fn request(&self, bytes: Vec<u8>) -> Result<Value> {
        let (tx, rx) = oneshot::channel();
        self.send(
            Request {
                bytes,
                reply: Replier::One(tx),
            },
            rx,
        )
        .await
    }

    /// Send `n` encoded frames as one request, wait for their `n` replies.
    pub(crate) async fn request_many(&self, bytes: Vec<u8>, n: usize) -> Result<Vec<Value>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let (tx, rx) = oneshot::channel();
        let reply = Replier::Many {
            n,
            got: Vec::with_capacity(n),
            tx,
        };
        self.send(Request { bytes, reply }, rx).await
    }

    async fn send<T>(&self, req: Request, rx: oneshot::Receiver<Result<T>>) -> Result<T> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let fut = async {
            self.tx.send(req).await.map_err(|_| Error::Closed)?;
            // The task always answers a request it took; a dropped sender means it ended
            // before taking it.
            rx.await.unwrap_or(Err(Error::Closed))
        };
        match self.timeout {
            None => fut.await,
            Some(d) => tokio::time::timeout(d, fut)
                .await
                .unwrap_or(Err(Error::Timeout)),
        }
    }
}

/// Refuse commands whose replies are not one per request.
pub(crate) fn check_command<A: AsRef<[u8]>>(args: &[A]) -> Result<()> {
    let Some(name) = args.first() else {
        return Err(Error::Unsupported("an empty command".into()));
    };
    let name = name.as_ref();
    for bad in [
        "SUBSCRIBE",
        "PSUBSCRIBE",
        "SSUBSCRIBE",
        "MONITOR",
        "SYNC",
        "PSYNC",
    ] {
        if name.eq_ignore_ascii_case(bad.as_bytes()) {
            return Err(Error::Unsupported(format!(
                "{bad}: replies that are not one per request (pub/sub, monitor, replication)"
            )));
        }
    }
    Ok(())
}

/// Why the connection's task ended.
enum End {
    /// Every handle was dropped: nothing is waiting.
    Dropped,
    Eof,
    Io(std::io::Error),
    Protocol(String),
}

impl End {
    fn error(&self) -> Error {
        match self {
            End::Dropped => Error::Closed,
            End::Eof => Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            )),
            End::Io(e) => Error::Io(std::io::Error::new(e.kind(), e.to_string())),
            End::Protocol(m) => Error::Protocol(m.clone()),
        }
    }
}

type Pending = Mutex<VecDeque<Replier>>;

/// The connection's task: a writer and a reader on the same socket, until either ends.
async fn run(mut stream: TcpStream, mut rx: mpsc::Receiver<Request>, inner: Arc<Inner>) {
    let pending: Pending = Mutex::new(VecDeque::new());
    let (rd, wr) = stream.split();
    let end = tokio::select! {
        e = writer(wr, &mut rx, &pending, &inner) => e,
        e = reader(rd, &pending, &inner) => e,
    };
    inner.closed.store(true, Ordering::Release);
    rx.close();
    let outstanding: Vec<Replier> = pending.lock().unwrap().drain(..).collect();
    inner
        .in_flight
        .fetch_sub(outstanding.len(), Ordering::Relaxed);
    for r in outstanding {
        r.fail(end.error());
    }
    while let Ok(req) = rx.try_recv() {
        req.reply.fail(Error::Closed);
    }
    let _ = stream.shutdown().await;
}

async fn writer(
    mut wr: tokio::net::tcp::WriteHalf<'_>,
    rx: &mut mpsc::Receiver<Request>,
    pending: &Pending,
    inner: &Inner,
) -> End {
    let mut batch: Vec<Request> = Vec::with_capacity(BATCH);
    let mut out: Vec<u8> = Vec::new();
    loop {
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            return End::Dropped;
        }
        // The reply slots go on the FIFO before the bytes go out (see the module docs).
        let one = if batch.len() == 1 {
            let req = batch.pop().expect("one request");
            pending.lock().unwrap().push_back(req.reply);
            inner.in_flight.fetch_add(1, Ordering::Relaxed);
            Some(req.bytes)
        } else {
            let mut p = pending.lock().unwrap();
            inner.in_flight.fetch_add(batch.len(), Ordering::Relaxed);
            for req in batch.drain(..) {
                out.extend_from_slice(&req.bytes);
                p.push_back(req.reply);
            }
            None
        };
        let res = match &one {
            Some(bytes) => wr.write_all(bytes).await,
            None => wr.write_all(&out).await,
        };
        if let Err(e) = res {
            return End::Io(e);
        }
        out.clear();
        if out.capacity() > KEEP_WRITE_BUF {
            out = Vec::new();
        }
    }
}

async fn reader(mut rd: tokio::net::tcp::ReadHalf<'_>, pending: &Pending, inner: &Inner) -> End {
    let proto = inner.proto;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        // Every complete reply in the buffer, in order.
        loop {
            let (item, used) = match codec::decode(proto, &buf) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(m) => return End::Protocol(m),
            };
            buf.advance(used);
            let Decoded::Reply(v) = item else {
                continue;
            };
            let mut p = pending.lock().unwrap();
            match p.front_mut() {
                None => {
                    return End::Protocol(format!(
                        "a reply with no request outstanding ({})",
                        v.kind()
                    ))
                }
                Some(Replier::Many { n, got, .. }) if got.len() + 1 < *n => {
                    got.push(v);
                    continue;
                }
                Some(_) => {}
            }
            let r = p.pop_front().expect("front exists");
            drop(p);
            inner.in_flight.fetch_sub(1, Ordering::Relaxed);
            r.finish(v);
        }
        let want = codec::frame_hint(proto, &buf)
            .map(|n| n.saturating_sub(buf.len()))
            .unwrap_or(0)
            .max(READ_CHUNK);
        buf.reserve(want);
        match rd.read_buf(&mut buf).await {
            Ok(0) => return End::Eof,
            Ok(_) => {}
            Err(e) => return End::Io(e),
        }
    }
}
