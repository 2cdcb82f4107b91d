//! A pipelined connection to one backend server (Redis or memcached), owned by one worker
//! thread.
//!
//! ```text
//!  client tasks ── Batch{bytes of n requests, oneshot} ──► channel ──► connection task
//!  connection task: connect (+ AUTH, SELECT) ─► write every queued batch in one write
//!                   read replies, frame them (RESP or memcached) ─► each batch's oneshot
//!                   the oldest batch past `timeout` ─► every batch in flight fails, close
//! ```
//! Replies come back as the backend wrote them (byte for byte) with their boundaries, so the
//! client side relays them untouched or merges fragments. A failure (refused, reset,
//! timed out, a reply that does not parse) fails every batch in flight with one
//! `BackendError` and is reported to the server's health (ejection, `server.rs`); the next
//! batch reconnects.

use crate::server::{Core as Server, Endpoint};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// Which protocol a backend speaks (how its replies are framed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Redis,
    Memcache,
}

/// Why a batch got no replies. The client side turns it into twemproxy's error reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendError {
    /// Connecting failed (the OS error's text, e.g. "Connection refused").
    Connect(String),
    /// The connection broke while requests were in flight.
    Io(String),
    /// No reply within the pool's `timeout`.
    Timeout,
    /// The backend sent bytes that are not a reply.
    Protocol,
    /// AUTH or SELECT on a new connection was refused (the backend's error line).
    Init(String),
}

impl BackendError {
    /// The text after `-ERR ` / `SERVER_ERROR ` (twemproxy shows the errno text).
    pub fn text(&self) -> String {
        match self {
            BackendError::Connect(e) | BackendError::Io(e) => e.clone(),
            BackendError::Timeout => "Connection timed out".into(),
            BackendError::Protocol => "Invalid argument".into(),
            // The server's own error line; its `ERR ` is the one the client gets.
            BackendError::Init(e) => e.strip_prefix("ERR ").unwrap_or(e).to_string(),
        }
    }
}

/// Replies to a batch: `buf[ends[i-1]..ends[i]]` is reply i.
#[derive(Debug, Default)]
pub struct Replies {
    pub buf: Vec<u8>,
    pub ends: Vec<usize>,
}

impl Replies {
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Replace reply i by `with` (a followed redirection).
    pub fn replace(&mut self, i: usize, with: &[u8]) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let end = self.ends[i];
        self.buf.splice(start..end, with.iter().copied());
        let delta = with.len() as isize - (end - start) as isize;
        for e in &mut self.ends[i..] {
            *e = (*e as isize + delta) as usize;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

pub type Answer = Result<Replies, BackendError>;

/// Encoded requests for one server with the number of replies they produce.
pub struct Batch {
    pub bytes: Vec<u8>,
    /// Requests in `bytes` (counted in the server's stats).
    pub requests: usize,
    /// Replies expected (memcached `noreply` requests have none).
    pub expect: usize,
    pub reply: oneshot::Sender<Answer>,
}

/// The sending side of a connection task. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Batch>,
}

impl Handle {
    /// Start a connection task for `server` on the current runtime. It connects lazily, on
    /// its first batch, and again after a failure.
    pub fn spawn(server: Arc<Server>, resp3: bool) -> Handle {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(server, rx, resp3));
        Handle { tx }
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queue a batch; the answer arrives on the returned receiver.
    pub fn send(
        &self,
        bytes: Vec<u8>,
        requests: usize,
        expect: usize,
    ) -> oneshot::Receiver<Answer> {
        let (reply, rx) = oneshot::channel();
        if let Err(e) = self.tx.send(Batch {
            bytes,
            requests,
            expect,
            reply,
        }) {
            let _ =
                e.0.reply
                    .send(Err(BackendError::Io("connection task stopped".into())));
        }
        rx
    }
}

/// Wait for the answers of batches sent together (all in flight at once), in order.
pub async fn gather(rxs: Vec<oneshot::Receiver<Answer>>) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(rxs.len());
    for rx in rxs {
        answers.push(
            rx.await
                .unwrap_or_else(|_| Err(BackendError::Io("connection task stopped".into()))),
        );
    }
    answers
}

/// A batch written and waiting for `left` more replies.
struct Waiter {
    left: usize,
    /// Replies and request bytes it counts for in the server's `out_queue` gauges.
    queued: (usize, usize),
    got: Replies,
    since: Instant,
    reply: oneshot::Sender<Answer>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How long a connect (with AUTH/SELECT) may take when the pool sets no `timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn connect(server: &Server, resp3: bool) -> Result<Box<dyn Stream>, BackendError> {
    let limit = server.opts.timeout.unwrap_or(CONNECT_TIMEOUT);
    let go = async {
        let mut s: Box<dyn Stream> = match &server.endpoint {
            Endpoint::Tcp { host, port } => {
                let sock = tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|e| BackendError::Connect(os_text(&e)))?;
                let _ = sock.set_nodelay(true);
                Box::new(sock)
            }
            Endpoint::Unix(path) => Box::new(
                tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| BackendError::Connect(os_text(&e)))?,
            ),
        };
        init(server, &mut s, resp3).await?;
        Ok(s)
    };
    match tokio::time::timeout(limit, go).await {
        Ok(r) => r,
        Err(_) => Err(BackendError::Timeout),
    }
}

/// AUTH and SELECT on a new Redis connection, as twemproxy does for `redis_auth` and
/// `redis_db`: every request on this connection then runs authenticated, in that database
/// (AUTH first: twemproxy's SELECT-before-AUTH fails on a password-protected server).
/// HELLO 3 for the connections that serve RESP3 clients.
async fn init(server: &Server, s: &mut Box<dyn Stream>, resp3: bool) -> Result<(), BackendError> {
    if server.opts.proto != Proto::Redis {
        return Ok(());
    }
    let mut out = Vec::new();
    let mut n = 0;
    if let Some(pw) = &server.opts.auth {
        protocol::resp::encode_request(&[b"AUTH".as_slice(), pw.as_bytes()], &mut out);
        n += 1;
    }
    if server.opts.db != 0 {
        let db = server.opts.db.to_string();
        protocol::resp::encode_request(&[b"SELECT".as_slice(), db.as_bytes()], &mut out);
        n += 1;
    }
    if resp3 {
        protocol::resp::encode_request(&[b"HELLO".as_slice(), b"3"], &mut out);
        n += 1;
    }
    if n == 0 {
        return Ok(());
    }
    s.write_all(&out)
        .await
        .map_err(|e| BackendError::Io(os_text(&e)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut seen = 0;
    while seen < n {
        match protocol::reply_len(&buf) {
            Ok(Some(len)) => {
                if buf[0] == b'-' {
                    let line = String::from_utf8_lossy(&buf[1..len - 2]).into_owned();
                    return Err(BackendError::Init(line));
                }
                buf.drain(..len);
                seen += 1;
                continue;
            }
            Ok(None) => {}
            Err(_) => return Err(BackendError::Protocol),
        }
        let r = s
            .read(&mut chunk)
            .await
            .map_err(|e| BackendError::Io(os_text(&e)))?;
        if r == 0 {
            return Err(BackendError::Io("Connection reset by peer".into()));
        }
        buf.extend_from_slice(&chunk[..r]);
    }
    Ok(())
}

/// The errno text twemproxy would show (`strerror`), without Rust's " (os error N)".
pub fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The connection task: serves batches until every sender is gone.
async fn run(server: Arc<Server>, mut rx: mpsc::UnboundedReceiver<Batch>, resp3: bool) {
    while let Some(batch) = rx.recv().await {
        let sock = match connect(&server, resp3).await {
            Ok(s) => {
                server.connected();
                s
            }
            Err(e) => {
                server.failed(&e);
                let _ = batch.reply.send(Err(e.clone()));
                // Everything already queued fails the same way, not one by one with a
                // connect timeout each.
                while let Ok(b) = rx.try_recv() {
                    let _ = b.reply.send(Err(e.clone()));
                }
                continue;
            }
        };
        let end = serve(&server, sock, batch, &mut rx).await;
        server.disconnected();
        match end {
            Ok(()) => return,
            Err(Some(e)) => server.failed(&e),
            // The backend closed an idle connection (its own `timeout`): not a failure.
            Err(None) => {}
        }
    }
}

/// Serve one connection until it fails (`Err(None)`: closed by the backend while idle) or
/// the channel closes (`Ok`). Writes and reads run in one loop, so a backend that stops
/// reading until its replies are read (memcached does) never deadlocks a large batch.
async fn serve(
    server: &Server,
    sock: Box<dyn Stream>,
    first: Batch,
    rx: &mut mpsc::UnboundedReceiver<Batch>,
) -> Result<(), Option<BackendError>> {
    let (mut rd, mut wr) = tokio::io::split(sock);
    let mut waiting: VecDeque<Waiter> = VecDeque::new();
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut written = 0usize;
    let mut inbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut start = 0usize;
    let timeout = server.opts.timeout;
    let proto = server.opts.proto;
    let mut pending = Some(first);
    let mut open = true;
    let mut framer = RespFramer::default();
    let fail = |waiting: &mut VecDeque<Waiter>, e: BackendError| {
        for w in waiting.drain(..) {
            server.dequeued(w.queued.0, w.queued.1);
            let _ = w.reply.send(Err(e.clone()));
        }
        Err(Some(e))
    };
    loop {
        // Gather every batch queued right now behind what is still unwritten.
        let now = Instant::now();
        while let Some(b) = pending.take().or_else(|| rx.try_recv().ok()) {
            server.sent(b.requests, b.bytes.len());
            if written == out.len() {
                out.clear();
                written = 0;
            }
            out.extend_from_slice(&b.bytes);
            if b.expect == 0 {
                let _ = b.reply.send(Ok(Replies::default()));
            } else {
                server.queued(b.expect, b.bytes.len());
                waiting.push_back(Waiter {
                    left: b.expect,
                    queued: (b.expect, b.bytes.len()),
                    got: Replies::default(),
                    since: now,
                    reply: b.reply,
                });
            }
        }
        if !open && waiting.is_empty() && written == out.len() {
            return Ok(());
        }
        let deadline = match (timeout, waiting.front()) {
            (Some(t), Some(w)) => Some(tokio::time::Instant::from_std(w.since + t)),
            _ => None,
        };
        let mut chunk = [0u8; 16 * 1024];
        tokio::select! {
            biased;
            r = rd.read(&mut chunk) => {
                let n = match r {
                    Ok(0) if waiting.is_empty() => return Err(None),
                    Ok(0) => return fail(&mut waiting, BackendError::Io("Connection reset by peer".into())),
                    Ok(n) => n,
                    Err(e) => return fail(&mut waiting, BackendError::Io(os_text(&e))),
                };
                inbuf.extend_from_slice(&chunk[..n]);
                loop {
                    let framed = match proto {
                        Proto::Redis => framer.frame(&inbuf[start..]),
                        Proto::Memcache => mc_reply_len(&inbuf[start..]),
                    };
                    match framed {
                        Ok(Some(len)) => {
                            let r = &inbuf[start..start + len];
                            start += len;
                            // A reply nobody asked for: the stream is out of step.
                            let Some(w) = waiting.front_mut() else {
                                return fail(&mut waiting, BackendError::Protocol);
                            };
                            w.got.buf.extend_from_slice(r);
                            w.got.ends.push(w.got.buf.len());
                            w.left -= 1;
                            if w.left == 0 {
                                let w = waiting.pop_front().expect("front exists");
                                server.received(w.got.len(), w.got.buf.len());
                                server.dequeued(w.queued.0, w.queued.1);
                                let _ = w.reply.send(Ok(w.got));
                            }
                        }
                        Ok(None) => break,
                        Err(BadReply) => return fail(&mut waiting, BackendError::Protocol),
                    }
                }
                if start == inbuf.len() {
                    inbuf.clear();
                    start = 0;
                } else if start > 64 * 1024 {
                    inbuf.drain(..start);
                    start = 0;
                }
            }
            w = wr.write(&out[written..]), if written < out.len() => match w {
                Ok(0) => return fail(&mut waiting, BackendError::Io("Broken pipe".into())),
                Ok(n) => written += n,
                Err(e) => return fail(&mut waiting, BackendError::Io(os_text(&e))),
            },
            b = rx.recv(), if open => match b {
                Some(b) => pending = Some(b),
                // The pool went away (reload): finish the replies still owed, then stop.
                None => open = false,
            },
            _ = sleep_until(deadline) => {
                server.timed_out();
                return fail(&mut waiting, BackendError::Timeout);
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Frames RESP replies like `protocol::reply_len`, but resumes where the last call stopped:
/// a reply of a million elements arriving 16 KiB at a time is walked once, not once per
/// read (which made large replies quadratic and could time a healthy server out).
#[derive(Default)]
struct RespFramer {
    /// Offset (from the reply's start) of the next element not yet walked.
    pos: usize,
    /// Elements still to walk per open aggregate.
    todo: Vec<u64>,
}

/// Aggregates nested deeper than this are refused (as `protocol::reply_len`).
const MAX_DEPTH: usize = 128;

impl RespFramer {
    /// The length of the reply at the front of `buf` (the same front as the previous call's
    /// while it returned `Ok(None)`).
    fn frame(&mut self, buf: &[u8]) -> Result<Option<usize>, BadReply> {
        loop {
            let pos = self.pos;
            let Some(&tag) = buf.get(pos) else {
                return Ok(None);
            };
            let Some(nl) = memchr::memmem::find(&buf[pos..], b"\r\n") else {
                return Ok(None);
            };
            let head = &buf[pos + 1..pos + nl];
            let mut next = pos + nl + 2;
            let n = || protocol::resp::parse_i64(head).ok_or(BadReply);
            let elems: u64 = match tag {
                b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => 0,
                b'$' | b'=' | b'!' => {
                    let len = n()?;
                    if len >= 0 {
                        next = next
                            .checked_add(len as usize)
                            .and_then(|x| x.checked_add(2))
                            .ok_or(BadReply)?;
                        if next > buf.len() {
                            return Ok(None);
                        }
                    }
                    0
                }
                b'*' | b'~' | b'>' => n()?.max(0) as u64,
                b'%' | b'|' => n()?.max(0) as u64 * 2,
                _ => return Err(BadReply),
            };
            // This element's header (and body) is walked: never again.
            self.pos = next;
            if elems > 0 {
                if self.todo.len() >= MAX_DEPTH {
                    return Err(BadReply);
                }
                self.todo.push(elems);
                continue;
            }
            loop {
                match self.todo.last_mut() {
                    None => break,
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.todo.pop();
                    }
                }
            }
            if self.todo.is_empty() {
                let len = self.pos;
                self.pos = 0;
                return Ok(Some(len));
            }
        }
    }
}

/// A backend reply that cannot be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadReply;

/// Where a data block of `bytes` starting at `at` ends, its CRLF included (a length from
/// the wire: checked).
fn data_end(at: usize, bytes: usize) -> Result<usize, BadReply> {
    at.checked_add(bytes)
        .and_then(|x| x.checked_add(2))
        .ok_or(BadReply)
}

/// The length of the memcached reply at the front of `buf` (`Ok(None)` while incomplete):
/// a retrieval's `VALUE` blocks up to `END`, a `stats` listing up to `END`, or one line.
/// `Err` for a `VALUE` line that does not parse (the stream cannot be framed any more).
pub fn mc_reply_len(buf: &[u8]) -> Result<Option<usize>, BadReply> {
    let mut pos = 0usize;
    loop {
        let Some(nl) = memchr::memmem::find(&buf[pos..], b"\r\n") else {
            return Ok(None);
        };
        let line = &buf[pos..pos + nl];
        let next = pos + nl + 2;
        if line.starts_with(b"VALUE ") {
            // VALUE <key> <flags> <bytes> [<cas>]
            let bytes = line
                .split(|&c| c == b' ')
                .filter(|t| !t.is_empty())
                .nth(3)
                .and_then(|t| std::str::from_utf8(t).ok()?.parse::<usize>().ok())
                .ok_or(BadReply)?;
            let end = data_end(next, bytes)?;
            if buf.len() < end {
                return Ok(None);
            }
            pos = end;
        } else if pos == 0 && line.starts_with(b"VA ") {
            // Meta get with a value: VA <bytes> <flags>*, the data, and nothing more.
            let bytes = line
                .split(|&c| c == b' ')
                .filter(|t| !t.is_empty())
                .nth(1)
                .and_then(|t| std::str::from_utf8(t).ok()?.parse::<usize>().ok())
                .ok_or(BadReply)?;
            let end = data_end(next, bytes)?;
            return Ok((buf.len() >= end).then_some(end));
        } else if line.starts_with(b"STAT ") {
            pos = next;
        } else if line == b"END" || pos == 0 {
            return Ok(Some(next));
        } else {
            // A line after VALUE/STAT lines that is neither: an error line ends the reply.
            return Ok(Some(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mc_reply_len;

    #[test]
    fn resp_framing_resumes_and_agrees_with_reply_len() {
        let replies: Vec<&[u8]> = vec![
            b"+OK\r\n",
            b"$3\r\nabc\r\n",
            b"$-1\r\n",
            b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$-1\r\n",
            b"%2\r\n+a\r\n:1\r\n+b\r\n*0\r\n",
            b"*0\r\n",
            b"-ERR x\r\n",
        ];
        let mut all = Vec::new();
        for r in &replies {
            all.extend_from_slice(r);
        }
        // Fed one byte at a time, each reply is found whole and only then.
        let mut f = super::RespFramer::default();
        let mut start = 0;
        let mut got = Vec::new();
        for end in 1..=all.len() {
            while let Some(n) = f.frame(&all[start..end]).unwrap() {
                assert_eq!(protocol::reply_len(&all[start..end]).unwrap(), Some(n));
                got.push(all[start..start + n].to_vec());
                start += n;
            }
        }
        assert_eq!(got, replies.iter().map(|r| r.to_vec()).collect::<Vec<_>>());
        assert!(super::RespFramer::default().frame(b"?x\r\n").is_err());
    }

    #[test]
    fn memcached_replies_are_framed() {
        assert_eq!(mc_reply_len(b"STORED\r\n"), Ok(Some(8)));
        assert_eq!(mc_reply_len(b"STORED\r"), Ok(None));
        assert_eq!(mc_reply_len(b"END\r\n"), Ok(Some(5)));
        let hit = b"VALUE k 0 3\r\nabc\r\nVALUE kk 1 2 9\r\nxy\r\nEND\r\nSTORED\r\n";
        assert_eq!(mc_reply_len(hit), Ok(Some(hit.len() - 8)));
        for cut in 0..hit.len() - 8 {
            assert_eq!(mc_reply_len(&hit[..cut]), Ok(None), "cut at {cut}");
        }
        // Data that contains a line ending is skipped by length, not scanned.
        let tricky = b"VALUE k 0 5\r\nEN\r\nD\r\nEND\r\n";
        assert_eq!(mc_reply_len(tricky), Ok(Some(tricky.len())));
        assert_eq!(mc_reply_len(b"VALUE k 0 x\r\n"), Err(super::BadReply));
        assert_eq!(
            mc_reply_len(b"STAT pid 1\r\nSTAT x 2\r\nEND\r\n"),
            Ok(Some(27))
        );
        assert_eq!(
            mc_reply_len(b"SERVER_ERROR out of memory\r\n"),
            Ok(Some(28))
        );
        assert_eq!(mc_reply_len(b"VA 2 f0\r\nhi\r\nHD\r\n"), Ok(Some(13)));
        assert_eq!(mc_reply_len(b"VA 2 f0\r\nhi"), Ok(None));
        assert_eq!(mc_reply_len(b"HD\r\n"), Ok(Some(4)));
    }
}
