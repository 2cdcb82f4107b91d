//! Incremental RESP request parser (multibulk and inline), with Redis's limits and error words.
//!
//! Grammar (RESP2 requests; RESP3 clients send the same):
//! ```text
//! request   = multibulk / inline
//! multibulk = "*" count CRLF *( "$" len CRLF bytes CRLF )
//! inline    = line terminated by LF (optional CR), split by `inline::split_args`
//! ```
//! The parser keeps its position between calls, so a request that arrives in many reads is
//! scanned once (a 1M-argument MSET is not re-parsed from its start on every read). Argument
//! bytes are never copied for multibulk requests: `Args` borrows them from the read buffer.

use crate::args::Args;
use crate::inline::split_args;
use std::ops::Range;

/// Largest inline request and largest `*`/`$` header line (Redis's PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Limits a not-yet-authenticated client must stay within (as Redis 7).
const UNAUTH_MAX_ARGS: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// Protocol limits, Redis's defaults.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: largest single argument (512mb).
    pub max_bulk_len: i64,
    /// Largest multibulk count (Redis: INT_MAX).
    pub max_multibulk_len: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as i64,
        }
    }
}

/// A malformed request. The connection answers `-ERR Protocol error: <msg>` and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
    ExpectedDollar(u8),
    TooBigMbulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
}

impl ParseError {
    /// The message after `ERR Protocol error: `, Redis's words.
    pub fn message(&self) -> String {
        match self {
            ParseError::InvalidMultibulkLength => "invalid multibulk length".into(),
            ParseError::InvalidBulkLength => "invalid bulk length".into(),
            ParseError::UnauthenticatedMultibulkLength => "unauthenticated multibulk length".into(),
            ParseError::UnauthenticatedBulkLength => "unauthenticated bulk length".into(),
            ParseError::ExpectedDollar(c) => format!("expected '$', got '{}'", *c as char),
            ParseError::TooBigMbulkCount => "too big mbulk count string".into(),
            ParseError::TooBigBulkCount => "too big bulk count string".into(),
            ParseError::TooBigInline => "too big inline request".into(),
            ParseError::UnbalancedQuotes => "unbalanced quotes in request".into(),
        }
    }
}

/// What one `parse` call found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet. `want` is how many bytes the buffer should hold for progress
    /// (lets the caller reserve once for a large bulk).
    Incomplete { want: usize },
    /// A command of `consumed` bytes; read its arguments with `RequestParser::args`.
    Command { consumed: usize },
    /// An empty request (`*0`, `*-1`, a blank inline line) of `consumed` bytes: skip it.
    Empty { consumed: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Idle,
    Multibulk,
    Inline,
}

/// Resumable request parser. Feed it the unconsumed front of the read buffer; after
/// `Parsed::Command`, the caller consumes that many bytes before the next call.
pub struct RequestParser {
    pub limits: Limits,
    mode: Mode,
    /// Multibulk: arguments still expected.
    remaining: i64,
    /// Multibulk: scan position within the current request.
    pos: usize,
    ranges: Vec<Range<usize>>,
    /// Inline arguments are unescaped into here.
    scratch: Vec<u8>,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            mode: Mode::Idle,
            remaining: 0,
            pos: 0,
            ranges: Vec::with_capacity(8),
            scratch: Vec::new(),
        }
    }

    /// Whether a request is partly parsed (a client that disconnects now disconnected mid-frame).
    pub fn in_progress(&self) -> bool {
        self.mode == Mode::Multibulk
    }

    /// Parse the request at the front of `buf`. `authed` applies Redis's stricter limits to
    /// clients that have not authenticated yet.
    pub fn parse(&mut self, buf: &[u8], authed: bool) -> Result<Parsed, ParseError> {
        if self.mode == Mode::Inline {
            // The previous command was inline; its arguments are no longer needed.
            self.mode = Mode::Idle;
        }
        if self.mode == Mode::Idle {
            if buf.is_empty() {
                return Ok(Parsed::Incomplete { want: 1 });
            }
            if buf[0] != b'*' {
                return self.parse_inline(buf);
            }
            let Some(nl) = find_crlf(buf, 0) else {
                if buf.len() > INLINE_MAX {
                    return Err(ParseError::TooBigMbulkCount);
                }
                return Ok(Parsed::Incomplete {
                    want: buf.len() + 1,
                });
            };
            let n = parse_i64(&buf[1..nl]).ok_or(ParseError::InvalidMultibulkLength)?;
            if n > self.limits.max_multibulk_len {
                return Err(ParseError::InvalidMultibulkLength);
            }
            if n <= 0 {
                return Ok(Parsed::Empty { consumed: nl + 2 });
            }
            if n > UNAUTH_MAX_ARGS && !authed {
                return Err(ParseError::UnauthenticatedMultibulkLength);
            }
            self.ranges.clear();
            // Do not trust a huge count for the reservation: grow as arguments arrive.
            self.ranges.reserve(n.min(1024) as usize);
            self.remaining = n;
            self.pos = nl + 2;
            self.mode = Mode::Multibulk;
        }
        while self.remaining > 0 {
            let p = self.pos;
            if p >= buf.len() {
                return Ok(Parsed::Incomplete { want: p + 1 });
            }
            if buf[p] != b'$' {
                let c = buf[p];
                self.reset();
                return Err(ParseError::ExpectedDollar(c));
            }
            let Some(nl) = find_crlf(buf, p) else {
                if buf.len() - p > INLINE_MAX {
                    self.reset();
                    return Err(ParseError::TooBigBulkCount);
                }
                return Ok(Parsed::Incomplete {
                    want: buf.len() + 1,
                });
            };
            let len = match parse_i64(&buf[p + 1..nl]) {
                Some(l) if l >= 0 && l <= self.limits.max_bulk_len => l,
                _ => {
                    self.reset();
                    return Err(ParseError::InvalidBulkLength);
                }
            };
            if len > UNAUTH_MAX_BULK && !authed {
                self.reset();
                return Err(ParseError::UnauthenticatedBulkLength);
            }
            let start = nl + 2;
            let end = start + len as usize;
            if end + 2 > buf.len() {
                return Ok(Parsed::Incomplete { want: end + 2 });
            }
            // Like Redis, the two bytes after the payload are skipped, not checked.
            self.ranges.push(start..end);
            self.pos = end + 2;
            self.remaining -= 1;
        }
        let consumed = self.pos;
        self.mode = Mode::Idle;
        self.pos = 0;
        Ok(Parsed::Command { consumed })
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Parsed, ParseError> {
        let Some(nl) = memchr::memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX {
                return Err(ParseError::TooBigInline);
            }
            return Ok(Parsed::Incomplete {
                want: buf.len() + 1,
            });
        };
        if nl > INLINE_MAX {
            return Err(ParseError::TooBigInline);
        }
        let mut line = &buf[..nl];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        self.scratch.clear();
        self.ranges.clear();
        split_args(line, &mut self.scratch, &mut self.ranges)
            .map_err(|_| ParseError::UnbalancedQuotes)?;
        if self.ranges.is_empty() {
            return Ok(Parsed::Empty { consumed: nl + 1 });
        }
        self.mode = Mode::Inline;
        Ok(Parsed::Command { consumed: nl + 1 })
    }

    /// The arguments of the command just parsed. `buf` must be the same slice given to
    /// `parse` (multibulk arguments are ranges into it).
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        if self.mode == Mode::Inline {
            Args::new(&self.scratch, &self.ranges)
        } else {
            Args::new(buf, &self.ranges)
        }
    }

    fn reset(&mut self) {
        self.mode = Mode::Idle;
        self.pos = 0;
        self.remaining = 0;
        self.ranges.clear();
    }
}

#[inline]
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    // Headers are short: search for '\r' and require '\n' after it.
    let i = memchr::memchr(b'\r', &buf[from..])? + from;
    if i + 1 < buf.len() {
        if buf[i + 1] == b'\n' {
            Some(i)
        } else {
            // A lone CR inside a header makes the number invalid; report it at that spot.
            Some(i)
        }
    } else {
        None
    }
}

/// Strict decimal i64 (Redis's string2ll: optional '-', no '+', no spaces, no leading zeros).
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Encode a command as a RESP multibulk request (clients, tests, benchmarks).
pub fn encode_request<T: AsRef<[u8]>>(args: &[T], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parse every command in `buf` (fed as one slice), returning the argument lists.
    fn parse_all(buf: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let mut p = RequestParser::default();
        let mut off = 0;
        let mut out = Vec::new();
        loop {
            match p.parse(&buf[off..], true)? {
                Parsed::Incomplete { .. } => return Ok(out),
                Parsed::Empty { consumed } => off += consumed,
                Parsed::Command { consumed } => {
                    out.push(p.args(&buf[off..]).iter().map(|a| a.to_vec()).collect());
                    off += consumed;
                }
            }
        }
    }

    /// Feed `buf` in two reads split at `at`, as a connection would.
    fn parse_split(buf: &[u8], at: usize) -> Vec<Vec<Vec<u8>>> {
        let mut p = RequestParser::default();
        let mut rbuf: Vec<u8> = buf[..at].to_vec();
        let mut rest = &buf[at..];
        let mut out = Vec::new();
        loop {
            let mut off = 0;
            loop {
                match p.parse(&rbuf[off..], true).unwrap() {
                    Parsed::Incomplete { .. } => break,
                    Parsed::Empty { consumed } => off += consumed,
                    Parsed::Command { consumed } => {
                        out.push(p.args(&rbuf[off..]).iter().map(|a| a.to_vec()).collect());
                        off += consumed;
                    }
                }
            }
            rbuf.drain(..off);
            if rest.is_empty() {
                return out;
            }
            rbuf.extend_from_slice(rest);
            rest = &[];
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*0\r\n\r\nECHO \"a b\"\r\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        assert_eq!(cmds[2], vec![b"ECHO".to_vec(), b"a b".to_vec()]);
    }

    #[test]
    fn errors_use_redis_words() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err(ParseError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n+a\r\n"),
            Err(ParseError::ExpectedDollar(b'+'))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n"),
            Err(ParseError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$536870913\r\n"),
            Err(ParseError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*3000000000\r\n"),
            Err(ParseError::InvalidMultibulkLength)
        );
        assert_eq!(parse_all(b"set \"a\r\n"), Err(ParseError::UnbalancedQuotes));
        let big = vec![b'a'; INLINE_MAX + 10];
        assert_eq!(parse_all(&big), Err(ParseError::TooBigInline));
        let mut big = b"*".to_vec();
        big.extend(vec![b'1'; INLINE_MAX + 10]);
        assert_eq!(parse_all(&big), Err(ParseError::TooBigMbulkCount));
        assert_eq!(
            ParseError::ExpectedDollar(b'+').message(),
            "expected '$', got '+'"
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::default();
        assert_eq!(
            p.parse(b"*11\r\n", false),
            Err(ParseError::UnauthenticatedMultibulkLength)
        );
        let mut p = RequestParser::default();
        assert_eq!(
            p.parse(b"*1\r\n$20000\r\n", false),
            Err(ParseError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn incomplete_wants_whole_bulk() {
        let mut p = RequestParser::default();
        let buf = b"*2\r\n$3\r\nSET\r\n$100\r\nab";
        match p.parse(buf, true).unwrap() {
            Parsed::Incomplete { want } => assert_eq!(want, 4 + 9 + 6 + 100 + 2),
            other => panic!("{other:?}"),
        }
        assert!(p.in_progress());
    }

    #[test]
    fn parse_i64_is_strict() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b"+1"[..], b" 1", b"01", b"-0", b"", b"1a", b"-"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    fn arb_cmds() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
        let arg = proptest::collection::vec(any::<u8>(), 0..40);
        let cmd = proptest::collection::vec(arg, 1..6);
        proptest::collection::vec(cmd, 1..6)
    }

    proptest! {
        /// encode → parse is the identity, for any bytes in the arguments.
        #[test]
        fn roundtrip(cmds in arb_cmds()) {
            let mut buf = Vec::new();
            for c in &cmds { encode_request(c, &mut buf); }
            prop_assert_eq!(parse_all(&buf).unwrap(), cmds);
        }

        /// A pipelined buffer split at every byte parses to the same commands.
        #[test]
        fn every_split_point(cmds in arb_cmds()) {
            let mut buf = Vec::new();
            for c in &cmds { encode_request(c, &mut buf); }
            for at in 0..=buf.len() {
                prop_assert_eq!(&parse_split(&buf, at), &cmds);
            }
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn garbage_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_all(&buf);
        }
    }
}
