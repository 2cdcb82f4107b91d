//! The rcache binary protocol, version 1: a pure codec for both sides of the wire (no
//! sockets, no storage). `docs/PROTOCOL.md` is the byte-exact specification; its hex
//! examples are checked against this module by `crates/protocol/tests/protocol_doc.rs`.
//!
//! ```text
//! request  = version u8 (0x01) | opcode u8 | argc u32 | argc × (len u32 | len bytes)
//! reply    = version u8 (0x01) | value
//! value    = code u8 | len u32 | body (len bytes)
//! ARRAY/SET body = count u32 | count × value;  MAP body = count u32 | count × (value value)
//! ```
//! All integers are big-endian. Every frame and every value says its own length, so a reader
//! can skip what it does not understand (an unknown opcode costs one error reply, not the
//! connection).
//!
//! Server side: `RequestDecoder` finds one request at the front of a buffer, resumably (a
//! request arriving over many reads is scanned once) and without copying: the arguments are
//! ranges into the caller's buffer (`Args`). Replies are written with the `put_*` writers
//! straight into the output buffer, or translated from a RESP3 reply by `transcode_resp`.
//!
//! Client side: `encode_request`, and `decode_reply` into a borrowed `BinValue`.

use crate::args::Args;
use crate::value::RespValue;
use std::ops::Range;

/// The protocol version this module speaks.
pub const VERSION: u8 = 1;

/// Request opcodes.
pub mod op {
    /// `GET key` → VALUE or NOT_FOUND.
    pub const GET: u8 = 0x01;
    /// `SET key value [ttl]` (ttl: exactly 8 bytes, u64 milliseconds, 0 = none) → OK.
    pub const SET: u8 = 0x02;
    /// `DELETE key…` → INT (keys removed).
    pub const DELETE: u8 = 0x03;
    /// `STATUS` → MAP of the server's figures.
    pub const STATUS: u8 = 0x04;
    /// `COMMAND name arg…`: any command of the command table → its typed reply.
    pub const COMMAND: u8 = 0x05;
    /// `HELLO` → MAP describing the server.
    pub const HELLO: u8 = 0x06;
}

/// Reply (value) codes.
pub mod code {
    /// Empty body.
    pub const OK: u8 = 0x00;
    /// Body: the bytes of a string.
    pub const VALUE: u8 = 0x01;
    /// Empty body: a null.
    pub const NOT_FOUND: u8 = 0x02;
    /// Body: the error message (Redis's words).
    pub const ERROR: u8 = 0x03;
    /// Body: 8 bytes, i64.
    pub const INT: u8 = 0x04;
    /// Body: 8 bytes, IEEE-754 f64.
    pub const DOUBLE: u8 = 0x05;
    /// Body: 1 byte, 0 or 1.
    pub const BOOL: u8 = 0x06;
    /// Body: count u32, then count values.
    pub const ARRAY: u8 = 0x07;
    /// Body: count u32 of pairs, then key value key value…
    pub const MAP: u8 = 0x08;
    /// Body: as ARRAY.
    pub const SET: u8 = 0x09;
    /// Body: an ASCII decimal integer of any size.
    pub const BIGNUM: u8 = 0x0A;
}

/// The name of a request opcode, for errors and logs; `None` for an unknown one.
pub fn opcode_name(opcode: u8) -> Option<&'static str> {
    Some(match opcode {
        op::GET => "GET",
        op::SET => "SET",
        op::DELETE => "DELETE",
        op::STATUS => "STATUS",
        op::COMMAND => "COMMAND",
        op::HELLO => "HELLO",
        _ => return None,
    })
}

/// Bytes before the first argument of a request: version, opcode, argc.
pub const REQUEST_HEADER_LEN: usize = 6;
/// Bytes before a reply's body: version, code, len.
pub const REPLY_HEADER_LEN: usize = 6;
/// Bytes before a value's body: code, len.
pub const VALUE_HEADER_LEN: usize = 5;

/// Most arguments one request may carry.
pub const MAX_ARGC: u32 = 1 << 20;
/// Largest argument by default (`proto-max-bulk-len`, 512 MiB).
pub const DEFAULT_MAX_ARG_LEN: u64 = 512 * 1024 * 1024;
/// Before AUTH (when a password is required): most arguments, as RESP.
pub const UNAUTH_MAX_ARGC: u32 = 10;
/// Before AUTH: largest argument, as RESP.
pub const UNAUTH_MAX_ARG_LEN: u32 = 16 * 1024;

/// Values nest at most this deep (as `value::parse_reply`): a guard against stack exhaustion.
pub const MAX_DEPTH: usize = 512;

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Append one request frame to `out`.
pub fn encode_request(out: &mut Vec<u8>, opcode: u8, args: &[&[u8]]) {
    let len: usize = args.iter().map(|a| 4 + a.len()).sum();
    out.reserve(REQUEST_HEADER_LEN + len);
    encode_request_header(out, opcode, args.len() as u32);
    for a in args {
        encode_arg(out, a);
    }
}

/// Append a request's header; `argc` calls to `encode_arg` must follow.
pub fn encode_request_header(out: &mut Vec<u8>, opcode: u8, argc: u32) {
    out.push(VERSION);
    out.push(opcode);
    out.extend_from_slice(&argc.to_be_bytes());
}

/// Append one argument (`len u32 | bytes`).
pub fn encode_arg(out: &mut Vec<u8>, arg: &[u8]) {
    out.extend_from_slice(&(arg.len() as u32).to_be_bytes());
    out.extend_from_slice(arg);
}

/// The request decoder's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most arguments in one request.
    pub max_argc: u32,
    /// Largest argument (`proto-max-bulk-len`).
    pub max_arg_len: u64,
    /// Most arguments before the client authenticates.
    pub unauth_max_argc: u32,
    /// Largest argument before the client authenticates.
    pub unauth_max_arg_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_argc: MAX_ARGC,
            max_arg_len: DEFAULT_MAX_ARG_LEN,
            unauth_max_argc: UNAUTH_MAX_ARGC,
            unauth_max_arg_len: UNAUTH_MAX_ARG_LEN,
        }
    }
}

/// What one `RequestDecoder::decode` call found at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Not enough bytes yet: the buffer should hold `want` bytes for progress (a large
    /// argument asks for all of itself, so the caller can reserve once).
    Incomplete { want: usize },
    /// A whole request of a known opcode, `consumed` bytes long: read it with
    /// `RequestDecoder::opcode` and `args`.
    Frame { consumed: usize },
}

/// A request that cannot be served as framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fatal: answer `message()` and close the connection (the stream cannot be trusted).
    Fatal(FrameError),
    /// Skippable: the frame was read whole (`consumed` bytes) but its opcode is unknown.
    /// Answer `message()` and go on with the next frame.
    UnknownOpcode { opcode: u8, consumed: usize },
}

/// A framing error: after it the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The first byte of a frame is not a version this side speaks.
    BadVersion(u8),
    /// argc over `Limits::max_argc`.
    TooManyArgs { argc: u32, max: u32 },
    /// An argument over `Limits::max_arg_len`.
    ArgTooLong { len: u32, max: u64 },
    /// argc over the unauthenticated limit.
    UnauthenticatedArgc { argc: u32, max: u32 },
    /// An argument over the unauthenticated limit.
    UnauthenticatedArgLen { len: u32, max: u32 },
    /// The peer closed in the middle of a frame.
    Truncated,
}

impl FrameError {
    /// The ERROR reply's message.
    pub fn message(&self) -> String {
        match *self {
            FrameError::BadVersion(v) => {
                format!("ERR unsupported protocol version {v} (this server speaks {VERSION})")
            }
            FrameError::TooManyArgs { argc, max } => {
                format!("ERR Protocol error: argument count {argc} over the limit of {max}")
            }
            FrameError::ArgTooLong { len, max } => {
                format!("ERR Protocol error: argument length {len} over proto-max-bulk-len {max}")
            }
            FrameError::UnauthenticatedArgc { argc, max } => format!(
                "ERR Protocol error: unauthenticated argument count {argc} over the limit of {max}"
            ),
            FrameError::UnauthenticatedArgLen { len, max } => format!(
                "ERR Protocol error: unauthenticated argument length {len} over the limit of {max}"
            ),
            FrameError::Truncated => "ERR Protocol error: truncated frame".to_string(),
        }
    }
}

impl DecodeError {
    /// The ERROR reply's message.
    pub fn message(&self) -> String {
        match self {
            DecodeError::Fatal(e) => e.message(),
            DecodeError::UnknownOpcode { opcode, .. } => unknown_opcode_message(*opcode),
        }
    }

    /// Whether the connection must close after the error reply.
    pub fn is_fatal(&self) -> bool {
        matches!(self, DecodeError::Fatal(_))
    }
}

/// `ERR unknown opcode 0x07`.
pub fn unknown_opcode_message(opcode: u8) -> String {
    format!("ERR unknown opcode 0x{opcode:02x}")
}

/// Resumable request decoder. Feed it the unconsumed front of the read buffer; after
/// `Decoded::Frame` (or a skippable error) the caller consumes that many bytes before the
/// next call. Between calls it keeps its place inside a partly received frame.
#[derive(Debug)]
pub struct RequestDecoder {
    pub limits: Limits,
    /// Inside a frame whose header has been read.
    in_frame: bool,
    opcode: u8,
    /// Arguments still to read.
    remaining: u32,
    /// Scan position within the current frame.
    pos: usize,
    ranges: Vec<Range<usize>>,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            in_frame: false,
            opcode: 0,
            remaining: 0,
            pos: 0,
            ranges: Vec::with_capacity(8),
        }
    }

    /// Whether a frame is partly read (a peer that leaves now left mid-frame).
    pub fn in_progress(&self) -> bool {
        self.in_frame
    }

    /// Decode the request at the front of `buf`. `authed` selects the limits: a client that
    /// must still authenticate gets the small ones.
    pub fn decode(&mut self, buf: &[u8], authed: bool) -> Result<Decoded, DecodeError> {
        if !self.in_frame {
            // Check the version as soon as it arrives: a peer speaking another version may
            // frame differently, so nothing after it can be trusted.
            match buf.first() {
                None => return Ok(Decoded::Incomplete { want: 1 }),
                Some(&v) if v != VERSION => {
                    return Err(DecodeError::Fatal(FrameError::BadVersion(v)))
                }
                Some(_) => {}
            }
            if buf.len() < REQUEST_HEADER_LEN {
                return Ok(Decoded::Incomplete {
                    want: REQUEST_HEADER_LEN,
                });
            }
            let argc = be_u32(&buf[2..6]);
            if argc > self.limits.max_argc {
                return Err(DecodeError::Fatal(FrameError::TooManyArgs {
                    argc,
                    max: self.limits.max_argc,
                }));
            }
            if !authed && argc > self.limits.unauth_max_argc {
                return Err(DecodeError::Fatal(FrameError::UnauthenticatedArgc {
                    argc,
                    max: self.limits.unauth_max_argc,
                }));
            }
            self.opcode = buf[1];
            self.remaining = argc;
            self.pos = REQUEST_HEADER_LEN;
            self.ranges.clear();
            // Never trust a large count for the reservation: grow as arguments arrive.
            self.ranges.reserve(argc.min(1024) as usize);
            self.in_frame = true;
        }
        while self.remaining > 0 {
            let p = self.pos;
            if buf.len() < p + 4 {
                return Ok(Decoded::Incomplete { want: p + 4 });
            }
            let len = be_u32(&buf[p..p + 4]);
            if len as u64 > self.limits.max_arg_len {
                self.reset();
                return Err(DecodeError::Fatal(FrameError::ArgTooLong {
                    len,
                    max: self.limits.max_arg_len,
                }));
            }
            if !authed && len > self.limits.unauth_max_arg_len {
                self.reset();
                return Err(DecodeError::Fatal(FrameError::UnauthenticatedArgLen {
                    len,
                    max: self.limits.unauth_max_arg_len,
                }));
            }
            let start = p + 4;
            let end = start + len as usize;
            if buf.len() < end {
                return Ok(Decoded::Incomplete { want: end });
            }
            self.ranges.push(start..end);
            self.pos = end;
            self.remaining -= 1;
        }
        let consumed = self.pos;
        self.in_frame = false;
        self.pos = 0;
        if opcode_name(self.opcode).is_none() {
            return Err(DecodeError::UnknownOpcode {
                opcode: self.opcode,
                consumed,
            });
        }
        Ok(Decoded::Frame { consumed })
    }

    /// The opcode of the frame just decoded.
    pub fn opcode(&self) -> u8 {
        self.opcode
    }

    /// The arguments of the frame just decoded. `buf` must be the slice given to `decode`
    /// (or any slice starting at the same frame): the arguments are ranges into it.
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        Args::new(buf, &self.ranges)
    }

    fn reset(&mut self) {
        self.in_frame = false;
        self.pos = 0;
        self.remaining = 0;
        self.ranges.clear();
    }
}

#[inline]
fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

// ---------------------------------------------------------------------------------------
// Replies: writers
// ---------------------------------------------------------------------------------------

/// Append a value with a raw body.
#[inline]
pub fn put_raw(out: &mut Vec<u8>, code: u8, body: &[u8]) {
    out.reserve(VALUE_HEADER_LEN + body.len());
    out.push(code);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// Append OK.
#[inline]
pub fn put_ok(out: &mut Vec<u8>) {
    put_raw(out, code::OK, b"");
}

/// Append VALUE with `bytes`.
#[inline]
pub fn put_value(out: &mut Vec<u8>, bytes: &[u8]) {
    put_raw(out, code::VALUE, bytes);
}

/// Append NOT_FOUND.
#[inline]
pub fn put_not_found(out: &mut Vec<u8>) {
    put_raw(out, code::NOT_FOUND, b"");
}

/// Append ERROR with `msg`.
#[inline]
pub fn put_error(out: &mut Vec<u8>, msg: &[u8]) {
    put_raw(out, code::ERROR, msg);
}

/// Append INT.
#[inline]
pub fn put_int(out: &mut Vec<u8>, n: i64) {
    put_raw(out, code::INT, &n.to_be_bytes());
}

/// Append DOUBLE.
#[inline]
pub fn put_double(out: &mut Vec<u8>, d: f64) {
    put_raw(out, code::DOUBLE, &d.to_bits().to_be_bytes());
}

/// Append BOOL.
#[inline]
pub fn put_bool(out: &mut Vec<u8>, b: bool) {
    put_raw(out, code::BOOL, &[b as u8]);
}

/// Append BIGNUM (ASCII decimal digits).
#[inline]
pub fn put_bignum(out: &mut Vec<u8>, digits: &[u8]) {
    put_raw(out, code::BIGNUM, digits);
}

/// Start an ARRAY, MAP or SET: writes its header with room for the lengths. Append the
/// elements (for a MAP, key and value alternately), then call `end_container`.
#[inline]
pub fn begin_container(out: &mut Vec<u8>, code: u8) -> usize {
    let mark = out.len();
    out.push(code);
    out.extend_from_slice(&[0; 8]);
    mark
}

/// Finish the container started at `mark` with `count` elements (pairs for a MAP).
#[inline]
pub fn end_container(out: &mut [u8], mark: usize, count: u32) {
    let body = (out.len() - mark - VALUE_HEADER_LEN) as u32;
    out[mark + 1..mark + 5].copy_from_slice(&body.to_be_bytes());
    out[mark + 5..mark + 9].copy_from_slice(&count.to_be_bytes());
}

// ---------------------------------------------------------------------------------------
// Replies: values
// ---------------------------------------------------------------------------------------

/// One reply value, borrowing its bytes from the decoded buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum BinValue<'a> {
    Ok,
    /// A string (RESP's bulk, simple or verbatim string).
    Value(&'a [u8]),
    /// A null.
    NotFound,
    /// An error message, Redis's words (UTF-8 text; it may quote request bytes as sent).
    Error(&'a [u8]),
    Int(i64),
    Double(f64),
    Bool(bool),
    Array(Vec<BinValue<'a>>),
    Map(Vec<(BinValue<'a>, BinValue<'a>)>),
    Set(Vec<BinValue<'a>>),
    /// ASCII decimal digits (with an optional '-').
    BigNum(&'a [u8]),
}

/// Append `v` as a value (no version byte).
pub fn encode_value(out: &mut Vec<u8>, v: &BinValue<'_>) {
    match v {
        BinValue::Ok => put_ok(out),
        BinValue::Value(b) => put_value(out, b),
        BinValue::NotFound => put_not_found(out),
        BinValue::Error(m) => put_error(out, m),
        BinValue::Int(n) => put_int(out, *n),
        BinValue::Double(d) => put_double(out, *d),
        BinValue::Bool(b) => put_bool(out, *b),
        BinValue::Array(items) | BinValue::Set(items) => {
            let c = if matches!(v, BinValue::Array(_)) {
                code::ARRAY
            } else {
                code::SET
            };
            let mark = begin_container(out, c);
            for it in items {
                encode_value(out, it);
            }
            end_container(out, mark, items.len() as u32);
        }
        BinValue::Map(pairs) => {
            let mark = begin_container(out, code::MAP);
            for (k, val) in pairs {
                encode_value(out, k);
                encode_value(out, val);
            }
            end_container(out, mark, pairs.len() as u32);
        }
        BinValue::BigNum(d) => put_bignum(out, d),
    }
}

/// Append a reply frame: the version byte, then `v`.
pub fn encode_reply(out: &mut Vec<u8>, v: &BinValue<'_>) {
    out.push(VERSION);
    encode_value(out, v);
}

/// Why a reply could not be decoded. Either way the stream cannot be read further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// The reply's first byte is not a version this side speaks.
    BadVersion(u8),
    /// Not a valid value (with what was wrong).
    Invalid(&'static str),
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::BadVersion(v) => {
                write!(f, "unsupported protocol version {v} (expected {VERSION})")
            }
            ReplyError::Invalid(why) => write!(f, "invalid reply: {why}"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// The length of the reply frame at the front of `buf`, once its header is there
/// (`None` = fewer than 6 bytes). Lets a reader wait for the whole frame.
pub fn reply_frame_len(buf: &[u8]) -> Result<Option<usize>, ReplyError> {
    match buf.first() {
        None => return Ok(None),
        Some(&v) if v != VERSION => return Err(ReplyError::BadVersion(v)),
        Some(_) => {}
    }
    if buf.len() < REPLY_HEADER_LEN {
        return Ok(None);
    }
    Ok(Some(REPLY_HEADER_LEN + be_u32(&buf[2..6]) as usize))
}

/// Decode the reply frame at the front of `buf`: the value and the frame's length, or
/// `None` while the frame is incomplete. Never panics, whatever the bytes.
pub fn decode_reply(buf: &[u8]) -> Result<Option<(BinValue<'_>, usize)>, ReplyError> {
    let Some(len) = reply_frame_len(buf)? else {
        return Ok(None);
    };
    if buf.len() < len {
        return Ok(None);
    }
    let mut pos = 1;
    let v = decode_at(&buf[..len], &mut pos, 0)?;
    debug_assert_eq!(pos, len);
    Ok(Some((v, len)))
}

/// Decode one whole value (no version byte) that fills `buf` exactly.
pub fn decode_value(buf: &[u8]) -> Result<BinValue<'_>, ReplyError> {
    let mut pos = 0;
    let v = decode_at(buf, &mut pos, 0)?;
    if pos != buf.len() {
        return Err(ReplyError::Invalid("bytes after the value"));
    }
    Ok(v)
}

/// Decode the value at `buf[*pos..]`, which must lie wholly inside `buf` (the enclosing
/// frame or container), advancing `pos` past it.
fn decode_at<'a>(buf: &'a [u8], pos: &mut usize, depth: usize) -> Result<BinValue<'a>, ReplyError> {
    if depth > MAX_DEPTH {
        return Err(ReplyError::Invalid("reply nested too deeply"));
    }
    let p = *pos;
    if buf.len() - p < VALUE_HEADER_LEN {
        return Err(ReplyError::Invalid("value header overruns its container"));
    }
    let c = buf[p];
    let len = be_u32(&buf[p + 1..p + 5]) as usize;
    let start = p + VALUE_HEADER_LEN;
    if buf.len() - start < len {
        return Err(ReplyError::Invalid("value body overruns its container"));
    }
    let body = &buf[start..start + len];
    *pos = start + len;
    let fixed = |n: usize, what: &'static str| {
        if len == n {
            Ok(())
        } else {
            Err(ReplyError::Invalid(what))
        }
    };
    Ok(match c {
        code::OK => {
            fixed(0, "OK with a body")?;
            BinValue::Ok
        }
        code::VALUE => BinValue::Value(body),
        code::NOT_FOUND => {
            fixed(0, "NOT_FOUND with a body")?;
            BinValue::NotFound
        }
        code::ERROR => BinValue::Error(body),
        code::INT => {
            fixed(8, "INT body is not 8 bytes")?;
            BinValue::Int(i64::from_be_bytes(body.try_into().unwrap_or([0; 8])))
        }
        code::DOUBLE => {
            fixed(8, "DOUBLE body is not 8 bytes")?;
            BinValue::Double(f64::from_bits(u64::from_be_bytes(
                body.try_into().unwrap_or([0; 8]),
            )))
        }
        code::BOOL => match body {
            [0] => BinValue::Bool(false),
            [1] => BinValue::Bool(true),
            _ => return Err(ReplyError::Invalid("BOOL body is not one byte 0 or 1")),
        },
        code::ARRAY | code::SET | code::MAP => {
            if len < 4 {
                return Err(ReplyError::Invalid("container body shorter than its count"));
            }
            let count = be_u32(&body[..4]) as usize;
            let mut q = 4;
            // Each value takes at least 5 bytes: never trust the count for the allocation.
            let room = (len - 4) / VALUE_HEADER_LEN;
            let v = if c == code::MAP {
                let mut pairs = Vec::with_capacity(count.min(room / 2));
                for _ in 0..count {
                    let k = decode_at(body, &mut q, depth + 1)?;
                    let val = decode_at(body, &mut q, depth + 1)?;
                    pairs.push((k, val));
                }
                BinValue::Map(pairs)
            } else {
                let mut items = Vec::with_capacity(count.min(room));
                for _ in 0..count {
                    items.push(decode_at(body, &mut q, depth + 1)?);
                }
                if c == code::ARRAY {
                    BinValue::Array(items)
                } else {
                    BinValue::Set(items)
                }
            };
            if q != len {
                return Err(ReplyError::Invalid(
                    "container body longer than its elements",
                ));
            }
            v
        }
        code::BIGNUM => BinValue::BigNum(body),
        _ => return Err(ReplyError::Invalid("unknown reply code")),
    })
}

// ---------------------------------------------------------------------------------------
// RESP3 → binary
// ---------------------------------------------------------------------------------------

/// Append the binary value for a RESP3 reply (no version byte): simple string "OK" → OK;
/// other simple, bulk and verbatim strings → VALUE (a verbatim string without its format);
/// nulls → NOT_FOUND; errors → ERROR; integers, doubles, booleans, big numbers, arrays, maps
/// and sets → their own codes. A push (never sent to a binary client: pub/sub is refused)
/// would become an ARRAY.
pub fn transcode_resp(out: &mut Vec<u8>, v: &RespValue<'_>) {
    match v {
        RespValue::Simple(b"OK") => put_ok(out),
        RespValue::Simple(s) | RespValue::Bulk(s) | RespValue::Verbatim(_, s) => put_value(out, s),
        RespValue::Null | RespValue::NullBulk | RespValue::NullArray => put_not_found(out),
        RespValue::Error(m) => put_error(out, m),
        RespValue::Int(n) => put_int(out, *n),
        RespValue::Double(d) => put_double(out, *d),
        RespValue::Bool(b) => put_bool(out, *b),
        RespValue::BigNumber(d) => put_bignum(out, d),
        RespValue::Array(items) | RespValue::Push(items) | RespValue::Set(items) => {
            let c = if matches!(v, RespValue::Set(_)) {
                code::SET
            } else {
                code::ARRAY
            };
            let mark = begin_container(out, c);
            for it in items {
                transcode_resp(out, it);
            }
            end_container(out, mark, items.len() as u32);
        }
        RespValue::Map(pairs) => {
            let mark = begin_container(out, code::MAP);
            for (k, val) in pairs {
                transcode_resp(out, k);
                transcode_resp(out, val);
            }
            end_container(out, mark, pairs.len() as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One decoded request: opcode and arguments.
    type Req = (u8, Vec<Vec<u8>>);

    /// Decode every request in `buf` given as one slice: (opcode, args) per frame, or the
    /// first error.
    fn decode_all(buf: &[u8]) -> Result<Vec<Req>, DecodeError> {
        let mut d = RequestDecoder::default();
        let mut off = 0;
        let mut out = Vec::new();
        loop {
            match d.decode(&buf[off..], true)? {
                Decoded::Incomplete { .. } => return Ok(out),
                Decoded::Frame { consumed } => {
                    let args = d.args(&buf[off..]).iter().map(|a| a.to_vec()).collect();
                    out.push((d.opcode(), args));
                    off += consumed;
                }
            }
        }
    }

    /// Feed `buf` in two reads split at `at`, as a connection would.
    fn decode_split(buf: &[u8], at: usize) -> Vec<Req> {
        let mut d = RequestDecoder::default();
        let mut rbuf = buf[..at].to_vec();
        let mut rest = &buf[at..];
        let mut out = Vec::new();
        loop {
            let mut off = 0;
            while let Decoded::Frame { consumed } = d.decode(&rbuf[off..], true).unwrap() {
                let args = d.args(&rbuf[off..]).iter().map(|a| a.to_vec()).collect();
                out.push((d.opcode(), args));
                off += consumed;
            }
            rbuf.drain(..off);
            if rest.is_empty() {
                assert!(rbuf.is_empty() && !d.in_progress());
                return out;
            }
            rbuf.extend_from_slice(rest);
            rest = &[];
        }
    }

    fn encode(frames: &[Req]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (op, args) in frames {
            let a: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            encode_request(&mut buf, *op, &a);
        }
        buf
    }

    #[test]
    fn request_bytes() {
        let mut buf = Vec::new();
        encode_request(&mut buf, op::GET, &[b"k"]);
        assert_eq!(buf, [1, 1, 0, 0, 0, 1, 0, 0, 0, 1, b'k']);
        let mut d = RequestDecoder::default();
        assert_eq!(d.decode(&buf, true), Ok(Decoded::Frame { consumed: 11 }));
        assert_eq!(d.opcode(), op::GET);
        assert_eq!(d.args(&buf).get(0), b"k");
    }

    #[test]
    fn incomplete_asks_for_whole_argument() {
        let mut d = RequestDecoder::default();
        assert_eq!(d.decode(b"", true), Ok(Decoded::Incomplete { want: 1 }));
        assert_eq!(
            d.decode(b"\x01\x02", true),
            Ok(Decoded::Incomplete { want: 6 })
        );
        let buf = b"\x01\x02\x00\x00\x00\x02\x00\x00\x00\x01k\x00\x00\x01\x00ab";
        assert_eq!(
            d.decode(buf, true),
            Ok(Decoded::Incomplete { want: 15 + 256 })
        );
        assert!(d.in_progress());
    }

    #[test]
    fn framing_errors() {
        let mut d = RequestDecoder::default();
        assert_eq!(
            d.decode(b"\x02", true),
            Err(DecodeError::Fatal(FrameError::BadVersion(2)))
        );
        assert_eq!(
            d.decode(b"\x01\x01\x00\x10\x00\x01", true),
            Err(DecodeError::Fatal(FrameError::TooManyArgs {
                argc: (1 << 20) + 1,
                max: 1 << 20
            }))
        );
        assert_eq!(
            d.decode(b"\x01\x01\x00\x00\x00\x0b", false),
            Err(DecodeError::Fatal(FrameError::UnauthenticatedArgc {
                argc: 11,
                max: 10
            }))
        );
        assert_eq!(
            d.decode(b"\x01\x01\x00\x00\x00\x01\x00\x00\x40\x01", false),
            Err(DecodeError::Fatal(FrameError::UnauthenticatedArgLen {
                len: 16385,
                max: 16384
            }))
        );
        assert!(!d.in_progress());
        let mut d = RequestDecoder::new(Limits {
            max_arg_len: 3,
            ..Limits::default()
        });
        assert_eq!(
            d.decode(b"\x01\x01\x00\x00\x00\x01\x00\x00\x00\x04", true),
            Err(DecodeError::Fatal(FrameError::ArgTooLong {
                len: 4,
                max: 3
            }))
        );
        assert_eq!(
            FrameError::BadVersion(2).message(),
            "ERR unsupported protocol version 2 (this server speaks 1)"
        );
    }

    #[test]
    fn unknown_opcode_is_skipped() {
        let mut buf = Vec::new();
        encode_request(&mut buf, 0x7f, &[b"ab", b"c"]);
        encode_request(&mut buf, op::STATUS, &[]);
        let mut d = RequestDecoder::default();
        let e = d.decode(&buf, true).unwrap_err();
        assert_eq!(
            e,
            DecodeError::UnknownOpcode {
                opcode: 0x7f,
                consumed: 6 + 6 + 5
            }
        );
        assert!(!e.is_fatal());
        assert_eq!(e.message(), "ERR unknown opcode 0x7f");
        assert_eq!(
            d.decode(&buf[17..], true),
            Ok(Decoded::Frame { consumed: 6 })
        );
        assert_eq!(d.opcode(), op::STATUS);
    }

    #[test]
    fn reply_bytes_and_errors() {
        let mut out = Vec::new();
        encode_reply(&mut out, &BinValue::Value(b"hi"));
        assert_eq!(out, [1, 1, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(decode_reply(&out), Ok(Some((BinValue::Value(b"hi"), 8))));
        for n in 0..out.len() {
            assert_eq!(decode_reply(&out[..n]), Ok(None));
        }
        assert_eq!(decode_reply(b"\x02"), Err(ReplyError::BadVersion(2)));
        for bad in [
            &b"\x01\x00\x00\x00\x00\x01x"[..],
            b"\x01\x04\x00\x00\x00\x01x",
            b"\x01\x06\x00\x00\x00\x01\x02",
            b"\x01\x0b\x00\x00\x00\x00",
            b"\x01\x07\x00\x00\x00\x02\x00\x00",
            // ARRAY of count 1 with no element.
            b"\x01\x07\x00\x00\x00\x04\x00\x00\x00\x01",
            // ARRAY of count 0 with a trailing byte.
            b"\x01\x07\x00\x00\x00\x05\x00\x00\x00\x00\x00",
        ] {
            assert!(
                matches!(decode_reply(bad), Err(ReplyError::Invalid(_))),
                "{bad:?}"
            );
        }
        // A hostile count does not allocate up front.
        assert!(decode_reply(b"\x01\x07\x00\x00\x00\x04\xff\xff\xff\xff").is_err());
        // Nothing nests without limit.
        let mut v = BinValue::Int(1);
        for _ in 0..MAX_DEPTH + 2 {
            v = BinValue::Array(vec![v]);
        }
        let mut out = Vec::new();
        encode_reply(&mut out, &v);
        assert!(matches!(decode_reply(&out), Err(ReplyError::Invalid(_))));
    }

    #[test]
    fn transcodes_resp3() {
        let resp = b"*9\r\n+OK\r\n+PONG\r\n$2\r\nab\r\n_\r\n-ERR x\r\n:5\r\n,1.5\r\n#t\r\n%1\r\n=7\r\ntxt:abc\r\n~1\r\n(12\r\n";
        let (rv, _) = crate::value::parse_reply(resp).unwrap();
        let mut out = Vec::new();
        transcode_resp(&mut out, &rv);
        assert_eq!(
            decode_value(&out).unwrap(),
            BinValue::Array(vec![
                BinValue::Ok,
                BinValue::Value(b"PONG"),
                BinValue::Value(b"ab"),
                BinValue::NotFound,
                BinValue::Error(b"ERR x"),
                BinValue::Int(5),
                BinValue::Double(1.5),
                BinValue::Bool(true),
                BinValue::Map(vec![(
                    BinValue::Value(b"abc"),
                    BinValue::Set(vec![BinValue::BigNum(b"12")])
                )]),
            ])
        );
    }

    fn arb_frames() -> impl Strategy<Value = Vec<Req>> {
        let arg = proptest::collection::vec(any::<u8>(), 0..40);
        let frame = (1u8..=6, proptest::collection::vec(arg, 0..5));
        proptest::collection::vec(frame, 1..6)
    }

    fn arb_value() -> impl Strategy<Value = BinValue<'static>> {
        let bytes = || {
            proptest::collection::vec(any::<u8>(), 0..12)
                .prop_map(|v| &*Box::leak(v.into_boxed_slice()))
        };
        let leaf = prop_oneof![
            Just(BinValue::Ok),
            Just(BinValue::NotFound),
            bytes().prop_map(BinValue::Value),
            bytes().prop_map(BinValue::Error),
            any::<i64>().prop_map(BinValue::Int),
            any::<f64>()
                .prop_filter("NaN != NaN", |d| !d.is_nan())
                .prop_map(BinValue::Double),
            any::<bool>().prop_map(BinValue::Bool),
            bytes().prop_map(BinValue::BigNum),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(BinValue::Array),
                proptest::collection::vec(inner.clone(), 0..5).prop_map(BinValue::Set),
                proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(BinValue::Map),
            ]
        })
    }

    proptest! {
        /// encode → decode is the identity for requests, whatever bytes the arguments hold.
        #[test]
        fn request_roundtrip(frames in arb_frames()) {
            prop_assert_eq!(decode_all(&encode(&frames)).unwrap(), frames);
        }

        /// A pipelined buffer split at every byte decodes to the same frames.
        #[test]
        fn request_every_split_point(frames in arb_frames()) {
            let buf = encode(&frames);
            for at in 0..=buf.len() {
                prop_assert_eq!(&decode_split(&buf, at), &frames);
            }
        }

        /// encode → decode is the identity for replies; every proper prefix is incomplete.
        #[test]
        fn reply_roundtrip(vals in proptest::collection::vec(arb_value(), 1..4)) {
            let mut buf = Vec::new();
            for v in &vals { encode_reply(&mut buf, v); }
            let mut off = 0;
            for v in &vals {
                let (got, n) = decode_reply(&buf[off..]).unwrap().unwrap();
                prop_assert_eq!(&got, v);
                for k in 0..n {
                    prop_assert_eq!(decode_reply(&buf[off..off + k]), Ok(None));
                }
                off += n;
            }
            prop_assert_eq!(off, buf.len());
        }

        /// Arbitrary bytes never panic either decoder.
        #[test]
        fn garbage_never_panics(mut buf in proptest::collection::vec(any::<u8>(), 0..200), ver: bool) {
            if ver && !buf.is_empty() { buf[0] = VERSION; }
            let _ = decode_all(&buf);
            let _ = decode_reply(&buf);
            let _ = decode_value(&buf);
        }
    }
}
