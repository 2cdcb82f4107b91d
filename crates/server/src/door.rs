//! What differs between the TCP front doors (RESP, the rcache binary protocol, memcached's
//! text protocol) on the one connection loop in `conn.rs`: framing, which requests the door
//! runs itself, and how a reply is written.
//!
//! ```text
//!  rbuf ─► Codec::parse ─┬─ Frame::Command ─► commands::execute_in (RESP reply into wbuf)
//!                        │                     ─► Codec::finish_reply (re-frame it in place)
//!                        └─ Frame::Native  ─► Codec::run_native (the door's own fast path)
//! ```
//!
//! The loop is generic over the codec (monomorphised), so RESP pays nothing for the others.
//! Everything else — gate shares, EXEC and scripts on the blocking pool, blocked clients,
//! limits, kills, idle timeouts, moving between I/O threads — is the loop's and the same for
//! every door. HTTP is not here: hyper owns its connections (`http`).

use commands::clients::Session;
use commands::{Door, ServerState};
use protocol::resp::RequestParser;
use protocol::Args;

/// What one `Codec::parse` call found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet; the buffer should hold `want` bytes for progress.
    Incomplete { want: usize },
    /// Nothing to run (an empty request): skip `consumed` bytes.
    Empty { consumed: usize },
    /// A command of the command table, `consumed` bytes long: read it with `Codec::args`.
    Command { consumed: usize },
    /// A request the door runs itself (`Codec::run_native`), `consumed` bytes long.
    Native { consumed: usize },
}

/// A framing error: answered with `Codec::protocol_error`, then the connection closes.
#[derive(Debug, Clone)]
pub struct FrameError(pub String);

/// What a native request asks of the connection afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Continue,
    /// Close once the replies so far are written (memcached's `quit`).
    Close,
    /// Close at once, dropping the replies not yet written: memcached's answer to a line
    /// that looks like HTTP, which gets nothing back, not even the replies before it that
    /// were still buffered.
    Abort,
}

/// One door's protocol on the shared connection loop.
pub trait Codec: Send + Sized + 'static {
    /// Which door this is. Sessions of every door but RESP speak RESP3 to the command layer
    /// (`conn::serve`), so `finish_reply` sees typed replies (maps, doubles, nulls).
    const DOOR: Door;

    /// The largest value (bulk argument) a request may carry: `proto-max-bulk-len`, read
    /// before every batch so CONFIG SET applies at once.
    fn set_max_bulk_len(&mut self, n: i64);
    /// Parse the request at the front of `buf`.
    fn parse(&mut self, buf: &[u8], authed: bool) -> Result<Frame, FrameError>;
    /// After `Frame::Command`: the command's arguments (name first).
    fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a>;
    /// Whether a request is partly read (a client that leaves now left mid-frame).
    fn in_progress(&self) -> bool;
    /// After `Frame::Native`: run the request in `frame`, appending the reply to `out`.
    /// Called holding a gate share, like a command.
    fn run_native(
        &mut self,
        _state: &ServerState,
        _sess: &mut Session,
        _frame: &[u8],
        _out: &mut Vec<u8>,
    ) -> After {
        unreachable!("this door has no native requests")
    }
    /// A command's RESP reply was appended at `out[mark..]`: rewrite it in this door's
    /// framing. RESP leaves it.
    fn finish_reply(&mut self, _out: &mut Vec<u8>, _mark: usize) {}
    /// Answer a framing error (the connection closes after it).
    fn protocol_error(&mut self, msg: &str, out: &mut Vec<u8>);
    /// The client stopped sending in the middle of a frame (read EOF while `in_progress`):
    /// answer it if the door says so; the connection closes after. RESP stays silent, as
    /// Redis does.
    fn truncated_error(&mut self, _out: &mut Vec<u8>) {}
    /// Whether this door refuses a command of the table (an error message to answer).
    fn refuse(&self, _args: Args<'_>) -> Option<&'static str> {
        None
    }
    /// After `Frame::Native`, in cluster mode: the keys the request touches (their slots
    /// route it, `cluster/route.rs`) and whether it writes. None = keyless, runs here.
    fn native_keys(&self, _frame: &[u8]) -> Option<NativeKeys> {
        None
    }
    /// After `Frame::Native`, while CLIENT PAUSE is on: whether the request changes data
    /// (a WRITE pause holds it).
    fn native_is_write(&self, frame: &[u8]) -> bool {
        self.native_keys(frame).is_some_and(|k| k.write)
    }
    /// After `run_native`, while a client is in MONITOR: show the request
    /// (`commands::monitor::feed_args`) unless the door fed it already.
    fn monitor_native(&self, _state: &ServerState, _sess: &Session, _frame: &[u8]) {}
    /// After `Frame::Native`, in cluster mode, for an ACL user with restrictions: check the
    /// request before it is relayed to its keys' owner (which runs it as the bus, trusted).
    /// Whether a refusal was answered into `out` (the request is then done).
    fn acl_refuse(
        &mut self,
        _state: &ServerState,
        _sess: &mut Session,
        _frame: &[u8],
        _out: &mut Vec<u8>,
    ) -> bool {
        false
    }
}

/// A native request's keys, for cluster routing.
pub struct NativeKeys {
    pub keys: Vec<Vec<u8>>,
    pub write: bool,
    /// A multi-key retrieval (memcached `get k1 k2 …`): the command word (and `gat`'s
    /// exptime) that a part for a subset of the keys is rebuilt with.
    pub multi_get: Option<Vec<u8>>,
}

/// RESP2/RESP3: the codec is the request parser; replies are already RESP.
impl Codec for RequestParser {
    const DOOR: Door = Door::Resp;

    #[inline]
    fn set_max_bulk_len(&mut self, n: i64) {
        self.limits.max_bulk_len = n;
    }

    #[inline]
    fn parse(&mut self, buf: &[u8], authed: bool) -> Result<Frame, FrameError> {
        use protocol::resp::Parsed;
        match RequestParser::parse(self, buf, authed) {
            Ok(Parsed::Incomplete { want }) => Ok(Frame::Incomplete { want }),
            Ok(Parsed::Empty { consumed }) => Ok(Frame::Empty { consumed }),
            Ok(Parsed::Command { consumed }) => Ok(Frame::Command { consumed }),
            Err(e) => Err(FrameError(e.message())),
        }
    }

    #[inline]
    fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        RequestParser::args(self, buf)
    }

    fn in_progress(&self) -> bool {
        RequestParser::in_progress(self)
    }

    fn protocol_error(&mut self, msg: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"-ERR Protocol error: ");
        out.extend_from_slice(msg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// A connection's codec while it moves between I/O threads (`io::Handoff`). One variant per
/// TCP door.
pub enum AnyCodec {
    Resp(RequestParser),
    Binary(crate::binary::BinaryCodec),
    /// Boxed: its parser holds a token array and meta flags (~460 bytes).
    Memcache(Box<crate::memcache::McCodec>),
}

impl From<RequestParser> for AnyCodec {
    fn from(p: RequestParser) -> Self {
        AnyCodec::Resp(p)
    }
}

impl From<crate::binary::BinaryCodec> for AnyCodec {
    fn from(c: crate::binary::BinaryCodec) -> Self {
        AnyCodec::Binary(c)
    }
}

impl From<crate::memcache::McCodec> for AnyCodec {
    fn from(c: crate::memcache::McCodec) -> Self {
        AnyCodec::Memcache(Box::new(c))
    }
}
