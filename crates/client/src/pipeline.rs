//! [`Pipeline`]: an explicit batch of commands sent in one write, answered as one
//! `Vec<Value>`.
//!
//! The batch travels as a single request through the connection's queue, so its frames are
//! written back to back — no other caller's command lands between them — which is what
//! makes [`Pipeline::atomic`] (MULTI … EXEC) safe on a shared connection.

use crate::codec;
use crate::connection::{check_command, Connection};
use crate::error::{Error, Result};
use crate::value::Value;

/// A batch of commands for one connection. Build it with [`Connection::pipe`], add commands,
/// then [`query`](Pipeline::query):
///
/// ```no_run
/// # async fn demo(conn: rcache_client::Connection) -> rcache_client::Result<()> {
/// use rcache_client::Value;
///
/// let replies = conn
///     .pipe()
///     .set("a", "1")
///     .cmd(["INCR", "a"])
///     .get("a")
///     .query()
///     .await?;
/// assert_eq!(replies[1], Value::Int(2));
///
/// let mut p = conn.pipe();
/// for i in 0..1000 {
///     p.cmd(["RPUSH", "list", &i.to_string()]);
/// }
/// assert_eq!(p.query().await?.len(), 1000);
/// # Ok(())
/// # }
/// ```
pub struct Pipeline<'c> {
    conn: &'c Connection,
    buf: Vec<u8>,
    n: usize,
    atomic: bool,
    /// The first command refused while building (reported by `query`).
    refused: Option<Error>,
}

impl<'c> Pipeline<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Pipeline<'c> {
        Pipeline {
            conn,
            buf: Vec::new(),
            n: 0,
            atomic: false,
            refused: None,
        }
    }

    /// Commands in the batch.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Wrap the batch in MULTI … EXEC: `query` then returns EXEC's replies (one per command),
    /// and a command the server refuses while queueing fails the whole batch (EXECABORT).
    pub fn atomic(&mut self) -> &mut Self {
        self.atomic = true;
        self
    }

    /// Add any command (as [`Connection::cmd`]).
    pub fn cmd<I, A>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<A> = args.into_iter().collect();
        let proto = self.conn.proto();
        match check_command(&args) {
            Ok(()) => self.push_raw(|out| codec::encode_command(proto, &args, out)),
            Err(e) => {
                self.refused.get_or_insert(e);
                self
            }
        }
    }

    /// Add `GET key` (the binary GET opcode on a binary connection).
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        let proto = self.conn.proto();
        self.push_raw(|out| codec::encode_get(proto, key.as_ref(), out))
    }

    /// Add `SET key value` (the binary SET opcode on a binary connection).
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        let proto = self.conn.proto();
        self.push_raw(|out| codec::encode_set(proto, key.as_ref(), value.as_ref(), None, out))
    }

    /// Add `DEL key` (the binary DELETE opcode on a binary connection).
    pub fn del(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        let proto = self.conn.proto();
        self.push_raw(|out| codec::encode_del(proto, &[key.as_ref()], out))
    }

    /// Add one already-encoded frame.
    pub(crate) fn push_raw(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        encode(&mut self.buf);
        self.n += 1;
        self
    }

    /// Send the batch and wait for all its replies, in order. A command's error reply stays
    /// in its place as [`Value::Error`] (the others still ran); use
    /// [`Value::into_result`] on the items, or [`query_strict`](Pipeline::query_strict).
    /// The pipeline is empty again afterwards, ready for reuse.
    pub async fn query(&mut self) -> Result<Vec<Value>> {
        if let Some(e) = self.refused.take() {
            self.clear();
            return Err(e);
        }
        let proto = self.conn.proto();
        let (bytes, n, atomic) = (std::mem::take(&mut self.buf), self.n, self.atomic);
        self.clear();
        if !atomic {
            return self.conn.request_many(bytes, n).await;
        }
        let mut framed = Vec::with_capacity(bytes.len() + 32);
        codec::encode_command(proto, &["MULTI"], &mut framed);
        framed.extend_from_slice(&bytes);
        codec::encode_command(proto, &["EXEC"], &mut framed);
        let mut replies = self.conn.request_many(framed, n + 2).await?;
        // MULTI's OK, then QUEUED (or a queueing error, which EXEC reports as EXECABORT).
        match replies.pop().map(Value::into_result).transpose()? {
            Some(Value::Nil) => Err(Error::Protocol(
                "EXEC answered nil: the transaction was aborted (a WATCHed key changed)".into(),
            )),
            Some(v) => {
                let kind = v.kind();
                v.into_items()
                    .ok_or_else(|| Error::Protocol(format!("unexpected {kind} reply to EXEC")))
            }
            None => Err(Error::Protocol("no reply to EXEC".into())),
        }
    }

    /// As [`query`](Pipeline::query), but the first error reply fails the whole call.
    pub async fn query_strict(&mut self) -> Result<Vec<Value>> {
        self.query()
            .await?
            .into_iter()
            .map(Value::into_result)
            .collect()
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.n = 0;
        self.atomic = false;
    }
}
