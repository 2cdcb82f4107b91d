//! Incremental parser for memcached's text protocol (memcached 1.6): the classic commands
//! (`set`/`add`/`replace`/`append`/`prepend`/`cas`, `get`/`gets`/`gat`/`gats`, `delete`,
//! `incr`/`decr`, `touch`, `flush_all`, `version`, `verbosity`, `quit`, `stats`,
//! `cache_memlimit`) and the meta commands (`mg`, `ms`, `md`, `ma`, `mn`, `me`).
//!
//! ```text
//! request = line [data]        line = tokens separated by spaces, ended by LF (CR optional)
//! data    = <bytes> bytes CRLF  (storage commands and ms only)
//! ```
//! The parser is pure and zero-copy: a parsed `Request` holds `Span`s (offsets into the
//! frame `parse` was handed), never copies. It is resumable: a storage command whose data
//! has not all arrived is remembered (line parsed once, `Incomplete { want }` asks for the
//! whole block), and a line still missing its LF is not rescanned from its start.
//!
//! Errors use memcached's words. A malformed request is answered and the connection goes
//! on (`Request::Error`), as memcached does; only a line that never ends (over `MAX_LINE`
//! without LF, or `MAX_GET_LINE` for retrieval commands) is fatal (`LineTooLong`), and a line
//! that looks like an HTTP request closes the connection unanswered (`Request::Http`). A
//! value over the limit is answered `SERVER_ERROR object too large for cache` and its data
//! is skipped as it arrives (never buffered whole); a length memcached cannot even allocate
//! (over `MAX_DATA_LEN`) is a bad command line, with no data expected after it.

use memchr::memchr;

/// Longest key (memcached's KEY_MAX_LENGTH).
pub const MAX_KEY_LEN: usize = 250;
/// Longest command line other than retrieval (memcached closes a connection whose line
/// passes 2048 bytes without LF).
pub const MAX_LINE: usize = 2048;
/// Longest `get`/`gets`/`gat`/`gats` line: many keys (memcached grows its buffer for them).
pub const MAX_GET_LINE: usize = 1 << 20;
/// Default largest value: memcached's default item size limit (`-I 1m`).
pub const DEFAULT_MAX_VALUE: usize = 1 << 20;
/// Largest data block before authentication (the credentials of `set`).
pub const MAX_UNAUTH_VALUE: usize = 16 * 1024;
/// Most tokens on a non-retrieval line (memcached's MAX_TOKENS).
pub const MAX_TOKENS: usize = 24;
/// Longest meta opaque token (`O`).
pub const MAX_OPAQUE: usize = 32;
/// Largest data length a storage command may declare (memcached's `INT_MAX - 2`: the length
/// plus its CRLF must fit an `int`). A longer one is `CLIENT_ERROR bad command line format`
/// at once, and what follows the line is read as commands; a length up to this but over
/// the value limit is `SERVER_ERROR object too large for cache` and its data is skipped.
pub const MAX_DATA_LEN: i64 = i32::MAX as i64 - 2;
/// Smallest `cache_memlimit`, in megabytes (memcached's).
pub const MIN_MEMLIMIT_MB: u64 = 8;
/// Largest `cache_memlimit` memcached takes for megabytes; more looks like bytes.
pub const MAX_MEMLIMIT_MB: u64 = 1_000_000_000;

/// A byte range of the frame: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    /// The bytes of this span in `frame`.
    #[inline]
    pub fn of<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        &frame[self.start as usize..self.end as usize]
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetOp {
    Get,
    Gets,
    Gat,
    Gats,
}

impl GetOp {
    /// Whether the reply carries CAS uniques.
    pub fn with_cas(self) -> bool {
        matches!(self, GetOp::Gets | GetOp::Gats)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaOp {
    /// `mg <key> <flags>*`
    Get,
    /// `ms <key> <datalen> <flags>*` + data
    Set,
    /// `md <key> <flags>*`
    Delete,
    /// `ma <key> <flags>*`
    Arith,
    /// `mn`
    Noop,
    /// `me <key>`
    Debug,
}

impl MetaOp {
    /// The flags memcached 1.6 defines for this command.
    fn allowed(self) -> &'static [u8] {
        match self {
            MetaOp::Get => b"bcfhklOqstvENRTu",
            // memcached 1.6.18 refuses `s` and `S` on ms (the data length is positional).
            MetaOp::Set => b"bcCEFIkOqTM",
            MetaOp::Delete => b"bCEIkOqTx",
            MetaOp::Arith => b"bCENJDTMOqtcvk",
            MetaOp::Noop | MetaOp::Debug => b"",
        }
    }
}

/// `ms` modes (`M` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetMode {
    Set,
    Add,
    Append,
    Prepend,
    Replace,
}

/// The flags of a meta command: every flag in request order with its token, plus the
/// numeric ones already parsed.
#[derive(Debug, Clone, Default)]
pub struct MetaFlags {
    /// (flag letter, token after the letter), in request order.
    pub order: Vec<(u8, Span)>,
    seen: u64,
    /// `T`: new TTL.
    pub ttl: Option<i64>,
    /// `N`: vivify on miss with this TTL.
    pub vivify: Option<i64>,
    /// `R`: recache (win token) when the TTL left is below this.
    pub recache: Option<i64>,
    /// `F`: client flags.
    pub client_flags: Option<u32>,
    /// `C`: compare CAS.
    pub compare_cas: Option<u64>,
    /// `E`: the CAS to give the item.
    pub new_cas: Option<u64>,
    /// `J`: initial value for `ma` autovivify.
    pub initial: Option<u64>,
    /// `D`: `ma` delta.
    pub delta: Option<u64>,
    /// `M`: mode letter (`ms`: E A P R S; `ma`: I + D -), already validated.
    pub mode: Option<u8>,
}

fn bit(c: u8) -> u64 {
    match c {
        b'a'..=b'z' => 1 << (c - b'a'),
        b'A'..=b'Z' => 1 << (26 + c - b'A'),
        _ => 0,
    }
}

impl MetaFlags {
    /// Whether flag `c` was given.
    #[inline]
    pub fn has(&self, c: u8) -> bool {
        self.seen & bit(c) != 0
    }
    /// The token of flag `c`, if given.
    pub fn token(&self, c: u8) -> Option<Span> {
        self.order.iter().find(|(f, _)| *f == c).map(|(_, s)| *s)
    }
    /// `ms`'s mode (default set).
    pub fn set_mode(&self) -> SetMode {
        match self.mode {
            Some(b'E' | b'e') => SetMode::Add,
            Some(b'A' | b'a') => SetMode::Append,
            Some(b'P' | b'p') => SetMode::Prepend,
            Some(b'R' | b'r') => SetMode::Replace,
            _ => SetMode::Set,
        }
    }
    /// `ma`'s direction: true = increment (default).
    pub fn incr(&self) -> bool {
        !matches!(self.mode, Some(b'D' | b'd' | b'-'))
    }
    fn clear(&mut self) {
        self.order.clear();
        *self = MetaFlags {
            order: std::mem::take(&mut self.order),
            ..Default::default()
        };
    }
}

/// One parsed request. Spans are offsets into the frame (`Frame::Native`'s bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Store {
        op: StoreOp,
        key: Span,
        flags: u32,
        exptime: i64,
        /// `cas` only.
        cas: u64,
        noreply: bool,
        data: Span,
    },
    Get {
        op: GetOp,
        /// `gat`/`gats` only.
        exptime: i64,
        /// The keys, space separated (iterate with `keys`).
        keys: Span,
    },
    Delete {
        key: Span,
        noreply: bool,
    },
    Arith {
        incr: bool,
        key: Span,
        delta: u64,
        noreply: bool,
    },
    Touch {
        key: Span,
        exptime: i64,
        noreply: bool,
    },
    FlushAll {
        delay: i64,
        noreply: bool,
    },
    Version,
    Verbosity {
        noreply: bool,
    },
    Quit,
    /// `stats [args]`.
    Stats {
        args: Span,
    },
    /// `cache_memlimit <megabytes> [noreply]`, the value already checked (8 ..= 10^9).
    CacheMemlimit {
        megabytes: u64,
        noreply: bool,
    },
    /// A line that looks like an HTTP request (`GET / HTTP/1.1`): close the connection at
    /// once without a byte, as memcached does, so that a request a web page makes a
    /// browser send to this port (cross-protocol scripting) gets nothing back.
    Http,
    /// A meta command; its flags are in `Parser::meta`.
    Meta {
        op: MetaOp,
        key: Span,
        /// `ms`'s data (empty otherwise).
        data: Span,
    },
    /// A value over the limit: `SERVER_ERROR object too large for cache`; its data is being
    /// skipped. A `set` (or `ms` in set mode) also drops the key's old value, as memcached
    /// does so that a failed set never leaves stale data.
    TooLarge {
        key: Span,
        drops_old: bool,
        noreply: bool,
        /// `ms` (answer with meta flags `O`/`k`) rather than a classic command.
        meta: bool,
    },
    /// Answer this error line (unless `noreply`); the connection goes on.
    Error {
        msg: &'static str,
        noreply: bool,
    },
}

pub const ERROR: &str = "ERROR";
pub const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";
pub const BAD_CHUNK: &str = "CLIENT_ERROR bad data chunk";
pub const BAD_EXPTIME: &str = "CLIENT_ERROR invalid exptime argument";
pub const BAD_DELTA: &str = "CLIENT_ERROR invalid numeric delta argument";
pub const DELETE_USAGE: &str =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
pub const UNAUTHENTICATED: &str = "CLIENT_ERROR unauthenticated";
pub const INVALID_FLAG: &str = "CLIENT_ERROR invalid flag";
pub const DUPLICATE_FLAG: &str = "CLIENT_ERROR duplicate flag";
pub const INVALID_OR_DUP_FLAG: &str = "CLIENT_ERROR invalid or duplicate flag";
pub const BAD_TOKEN: &str = "CLIENT_ERROR bad token in command line format";
pub const OPAQUE_TOO_LONG: &str = "CLIENT_ERROR opaque token too long";
pub const BAD_MS_MODE: &str = "CLIENT_ERROR invalid mode for ms M token";
pub const BAD_MA_MODE: &str = "CLIENT_ERROR invalid mode for ma M token";
pub const TOO_LARGE: &str = "SERVER_ERROR object too large for cache";
pub const MEMLIMIT_TOO_SMALL: &str = "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m";
pub const MEMLIMIT_NOT_BYTES: &str = "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes";

/// What `Parser::parse` found at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes needed; the buffer should hold `want` bytes.
    Incomplete { want: usize },
    /// Data of a refused value skipped: drop `consumed` bytes, nothing to answer.
    Skipped { consumed: usize },
    /// A request of `consumed` bytes: read it with `Parser::request`.
    Request { consumed: usize },
}

/// A fatal framing error: the line never ended. Answer `CLIENT_ERROR line too long`, close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// A waiting storage command: its line is parsed, its data not all here yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    line_len: usize,
    total: usize,
}

/// The resumable parser. One per connection.
#[derive(Debug)]
pub struct Parser {
    /// Largest value accepted (`DEFAULT_MAX_VALUE`, or less with `proto-max-bulk-len`).
    pub max_value: usize,
    req: Request,
    /// The flags of the last meta request.
    pub meta: MetaFlags,
    pending: Option<Pending>,
    /// Bytes of a refused value still to skip.
    swallow: usize,
    /// Bytes already searched for LF in a line still incomplete.
    scanned: usize,
    tokens: [Span; MAX_TOKENS],
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

fn is_get_line(line: &[u8]) -> bool {
    let l = trim_start(line);
    l.starts_with(b"get ")
        || l.starts_with(b"gets ")
        || l.starts_with(b"gat ")
        || l.starts_with(b"gats ")
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ').count();
    &b[n..]
}

/// Whether `k` is a valid memcached key: 1..=250 bytes, no space (it separates tokens), CR,
/// LF or NUL. Other control characters are accepted, as memcached 1.6 accepts them (its
/// tokenizer splits on spaces only) and clients rely on it: memaslap's keys carry 0x10 bytes.
#[inline]
pub fn valid_key(k: &[u8]) -> bool {
    !k.is_empty()
        && k.len() <= MAX_KEY_LEN
        && k.iter().all(|&c| !matches!(c, b' ' | b'\r' | b'\n' | 0))
}

/// memcached's `safe_strtoul` for 32-bit fields: decimal digits only.
pub fn parse_u32(b: &[u8]) -> Option<u32> {
    parse_u64(b).and_then(|v| u32::try_from(v).ok())
}

/// Decimal digits only, no sign, no overflow.
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// A signed 32-bit decimal, as memcached's `safe_strtol` accepts for exptime and lengths.
pub fn parse_i32(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let v = parse_u64(digits)? as i64;
    let v = if neg { -v } else { v };
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&v)
        .then_some(v)
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            max_value: DEFAULT_MAX_VALUE,
            req: Request::Version,
            meta: MetaFlags::default(),
            pending: None,
            swallow: 0,
            scanned: 0,
            tokens: [Span::default(); MAX_TOKENS],
        }
    }

    /// The request the last `Parsed::Request` found.
    pub fn request(&self) -> &Request {
        &self.req
    }

    /// Whether a request is partly read.
    pub fn in_progress(&self) -> bool {
        self.pending.is_some() || self.swallow > 0 || self.scanned > 0
    }

    /// Parse the request at the front of `buf`. `authed`: before authentication only
    /// `set` (carrying the credentials) is parsed; anything else is `unauthenticated`.
    pub fn parse(&mut self, buf: &[u8], authed: bool) -> Result<Parsed, LineTooLong> {
        if self.swallow > 0 {
            if buf.is_empty() {
                return Ok(Parsed::Incomplete { want: 1 });
            }
            let n = buf.len().min(self.swallow);
            self.swallow -= n;
            return Ok(Parsed::Skipped { consumed: n });
        }
        if let Some(p) = self.pending {
            return Ok(self.finish_data(buf, p));
        }
        let Some(nl) = memchr(b'\n', &buf[self.scanned.min(buf.len())..]) else {
            self.scanned = buf.len();
            let limit = if is_get_line(buf) {
                MAX_GET_LINE
            } else {
                MAX_LINE
            };
            if buf.len() > limit {
                return Err(LineTooLong);
            }
            return Ok(Parsed::Incomplete {
                want: buf.len() + 1,
            });
        };
        let nl = self.scanned.min(buf.len()) + nl;
        self.scanned = 0;
        let line_len = nl + 1;
        let end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if end > MAX_GET_LINE {
            // A whole line arrived in one read, longer than any we accept.
            return Err(LineTooLong);
        }
        let req = self.parse_line(buf, end, authed);
        match req {
            LineResult::Done(r) => {
                self.req = r;
                Ok(Parsed::Request { consumed: line_len })
            }
            LineResult::Data { req, len } => {
                self.req = req;
                let p = Pending {
                    line_len,
                    total: line_len + len + 2,
                };
                self.pending = Some(p);
                Ok(self.finish_data(buf, p))
            }
            LineResult::Swallow { req, len } => {
                self.req = req;
                self.swallow = len.saturating_add(2);
                Ok(Parsed::Request { consumed: line_len })
            }
        }
    }

    /// A storage command's data: wait for all of it, then check its CRLF.
    fn finish_data(&mut self, buf: &[u8], p: Pending) -> Parsed {
        if buf.len() < p.total {
            return Parsed::Incomplete { want: p.total };
        }
        self.pending = None;
        if &buf[p.total - 2..p.total] != b"\r\n" {
            let noreply = match self.req {
                Request::Store { noreply, .. } => noreply,
                _ => false,
            };
            self.req = Request::Error {
                msg: BAD_CHUNK,
                noreply,
            };
        } else {
            let data = Span::new(p.line_len, p.total - 2);
            match &mut self.req {
                Request::Store { data: d, .. } | Request::Meta { data: d, .. } => *d = data,
                _ => {}
            }
        }
        Parsed::Request { consumed: p.total }
    }

    /// Split `buf[..end]` into tokens (at most `MAX_TOKENS`; `None` past that).
    fn tokenize(&mut self, buf: &[u8], from: usize, end: usize) -> Option<usize> {
        let mut n = 0;
        let mut i = from;
        while i < end {
            while i < end && buf[i] == b' ' {
                i += 1;
            }
            if i >= end {
                break;
            }
            let s = i;
            while i < end && buf[i] != b' ' {
                i += 1;
            }
            if n == MAX_TOKENS {
                return None;
            }
            self.tokens[n] = Span::new(s, i);
            n += 1;
        }
        Some(n)
    }

    fn parse_line(&mut self, buf: &[u8], end: usize, authed: bool) -> LineResult {
        use LineResult::Done;
        let line = &buf[..end];
        let lead = line.iter().take_while(|&&c| c == b' ').count();
        let name_end = memchr(b' ', &line[lead..]).map_or(end, |i| lead + i);
        let name = &line[lead..name_end];
        if !authed && name != b"set" {
            return Done(err(UNAUTHENTICATED, false));
        }
        // Retrieval commands take any number of keys: not tokenized into the array.
        let get = match name {
            b"get" => Some(GetOp::Get),
            b"gets" => Some(GetOp::Gets),
            b"gat" => Some(GetOp::Gat),
            b"gats" => Some(GetOp::Gats),
            _ => None,
        };
        if let Some(op) = get {
            return Done(self.parse_get(buf, op, name_end, end));
        }
        let Some(n) = self.tokenize(buf, name_end, end) else {
            return Done(unknown(name, line));
        };
        let tok = |i: usize| self.tokens[i].of(buf);
        let noreply = n > 0 && tok(n - 1) == b"noreply";
        let store = match name {
            b"set" => Some(StoreOp::Set),
            b"add" => Some(StoreOp::Add),
            b"replace" => Some(StoreOp::Replace),
            b"append" => Some(StoreOp::Append),
            b"prepend" => Some(StoreOp::Prepend),
            b"cas" => Some(StoreOp::Cas),
            _ => None,
        };
        if let Some(op) = store {
            return self.parse_store(buf, op, n, authed);
        }
        match name {
            b"delete" => {
                // delete <key> [0] [noreply]: the legacy time argument must be 0. As in
                // memcached, a trailing `noreply` counts once there is more than the key
                // (`delete noreply` deletes the key "noreply"), and it silences the errors
                // after it too: a quiet client expects no line, whatever the line said.
                if !(1..=3).contains(&n) {
                    return Done(err(ERROR, false));
                }
                let noreply = n > 1 && noreply;
                let zero = n > 1 && tok(1) == b"0";
                let valid = match n {
                    2 => zero || noreply,
                    3 => zero && noreply,
                    _ => true,
                };
                if !valid {
                    return Done(err(DELETE_USAGE, noreply));
                }
                let key = self.tokens[0];
                if !valid_key(key.of(buf)) {
                    return Done(err(BAD_FORMAT, noreply));
                }
                Done(Request::Delete { key, noreply })
            }
            b"incr" | b"decr" => {
                // memcached ignores a third token that is not `noreply`.
                if !(2..=3).contains(&n) {
                    return Done(err(ERROR, false));
                }
                let key = self.tokens[0];
                // A bad key with `noreply` is silent, as in memcached (checked against 1.6.18).
                if !valid_key(key.of(buf)) {
                    return Done(err(BAD_FORMAT, noreply));
                }
                match parse_u64(tok(1)) {
                    Some(delta) => Done(Request::Arith {
                        incr: name == b"incr",
                        key,
                        delta,
                        noreply,
                    }),
                    None => Done(err(BAD_DELTA, noreply)),
                }
            }
            b"touch" => {
                if n != 2 + usize::from(noreply) {
                    return Done(err(ERROR, false));
                }
                let key = self.tokens[0];
                if !valid_key(key.of(buf)) {
                    return Done(err(BAD_FORMAT, noreply));
                }
                match parse_i32(tok(1)) {
                    Some(exptime) => Done(Request::Touch {
                        key,
                        exptime,
                        noreply,
                    }),
                    None => Done(err(BAD_EXPTIME, noreply)),
                }
            }
            b"flush_all" => {
                let rest = n - usize::from(noreply);
                if rest > 1 {
                    return Done(err(ERROR, false));
                }
                let delay = if rest == 1 {
                    match parse_i32(tok(0)) {
                        Some(d) => d,
                        None => return Done(err(BAD_EXPTIME, noreply)),
                    }
                } else {
                    0
                };
                Done(Request::FlushAll { delay, noreply })
            }
            // memcached ignores extra tokens after these two.
            b"version" => Done(Request::Version),
            b"quit" => Done(Request::Quit),
            b"verbosity" => {
                // memcached: one or two arguments, the level first (even `verbosity
                // noreply` is a bad level, answered only without noreply).
                if !(1..=2).contains(&n) {
                    return Done(err(ERROR, false));
                }
                if parse_u32(tok(0)).is_none() {
                    return Done(err(BAD_FORMAT, noreply));
                }
                Done(Request::Verbosity { noreply })
            }
            b"stats" => Done(Request::Stats {
                args: Span::new(name_end, end),
            }),
            b"cache_memlimit" => {
                // memcached: one or two arguments, the megabytes first; a last `noreply`
                // (even alone, where it is the bad number) silences the answer.
                if !(1..=2).contains(&n) {
                    return Done(err(ERROR, false));
                }
                let reply = |msg| Done(err(msg, noreply));
                match parse_u64(tok(0)) {
                    None => reply(ERROR),
                    Some(mb) if mb < MIN_MEMLIMIT_MB => reply(MEMLIMIT_TOO_SMALL),
                    Some(mb) if mb > MAX_MEMLIMIT_MB => reply(MEMLIMIT_NOT_BYTES),
                    Some(megabytes) => Done(Request::CacheMemlimit { megabytes, noreply }),
                }
            }
            b"mn" => Done(Request::Meta {
                op: MetaOp::Noop,
                key: Span::default(),
                data: Span::default(),
            }),
            b"mg" => self.parse_meta(buf, MetaOp::Get, n),
            b"ms" => self.parse_meta(buf, MetaOp::Set, n),
            b"md" => self.parse_meta(buf, MetaOp::Delete, n),
            b"ma" => self.parse_meta(buf, MetaOp::Arith, n),
            b"me" => self.parse_meta(buf, MetaOp::Debug, n),
            _ => Done(unknown(name, line)),
        }
    }

    fn parse_get(&mut self, buf: &[u8], op: GetOp, from: usize, end: usize) -> Request {
        let mut i = from;
        let mut exptime = 0;
        if matches!(op, GetOp::Gat | GetOp::Gats) {
            let rest = &buf[i..end];
            let s = i + rest.iter().take_while(|&&c| c == b' ').count();
            let e = memchr(b' ', &buf[s..end]).map_or(end, |j| s + j);
            if s == e {
                return err(ERROR, false);
            }
            match parse_i32(&buf[s..e]) {
                Some(t) => exptime = t,
                None => return err(BAD_EXPTIME, false),
            }
            i = e;
        }
        let keys = Span::new(i, end);
        let mut any = false;
        for k in keys_of(keys.of(buf)) {
            if !valid_key(k) {
                return err(BAD_FORMAT, false);
            }
            any = true;
        }
        if !any {
            return err(ERROR, false);
        }
        Request::Get { op, exptime, keys }
    }

    fn parse_store(&mut self, buf: &[u8], op: StoreOp, n: usize, authed: bool) -> LineResult {
        use LineResult::Done;
        let want = if op == StoreOp::Cas { 5 } else { 4 };
        let tok = |i: usize| self.tokens[i].of(buf);
        // memcached takes a last `noreply` as the flag before checking anything, even where
        // a number belongs (`set k 0 0 noreply` is a quiet bad line).
        let noreply = n > 0 && tok(n - 1) == b"noreply";
        // One token more than the command needs is `noreply` or, as memcached 1.6.18 has it,
        // ignored (`set k 0 0 1 foo` stores); two more is an error.
        if n != want && n != want + 1 {
            return Done(err(ERROR, false));
        }
        let key = self.tokens[0];
        let (flags, exptime, len) = (parse_u32(tok(1)), parse_i32(tok(2)), parse_i32(tok(3)));
        let cas = if op == StoreOp::Cas {
            parse_u64(tok(4))
        } else {
            Some(0)
        };
        // memcached reads `noreply` before checking anything, so a quiet client's bad line
        // stays quiet. No data is expected after a bad line: what follows is read as
        // commands, as memcached reads it (a length it could never allocate included).
        let (Some(flags), Some(exptime), Some(len), Some(cas)) = (flags, exptime, len, cas) else {
            return Done(err(BAD_FORMAT, noreply));
        };
        if !(0..=MAX_DATA_LEN).contains(&len) || !valid_key(key.of(buf)) {
            return Done(err(BAD_FORMAT, noreply));
        }
        let len = len as usize;
        let max = if authed {
            self.max_value
        } else {
            MAX_UNAUTH_VALUE
        };
        if len > max {
            return LineResult::Swallow {
                req: Request::TooLarge {
                    key,
                    drops_old: op == StoreOp::Set,
                    noreply,
                    meta: false,
                },
                len,
            };
        }
        LineResult::Data {
            req: Request::Store {
                op,
                key,
                flags,
                exptime,
                cas,
                noreply,
                data: Span::default(),
            },
            len,
        }
    }

    fn parse_meta(&mut self, buf: &[u8], op: MetaOp, n: usize) -> LineResult {
        use LineResult::Done;
        self.meta.clear();
        if n == 0 {
            return Done(err(ERROR, false));
        }
        let key = self.tokens[0];
        let mut first_flag = 1;
        let mut datalen = None;
        if op == MetaOp::Set {
            match self
                .tokens
                .get(1)
                .filter(|_| n > 1)
                .and_then(|t| parse_i32(t.of(buf)))
            {
                Some(l) if (0..=MAX_DATA_LEN).contains(&l) => datalen = Some(l as usize),
                _ => return Done(err(BAD_FORMAT, false)),
            }
            first_flag = 2;
        }
        // An error after the data length is known skips the data (memcached swallows it).
        let fail = |msg: &'static str| match datalen {
            Some(len) => LineResult::Swallow {
                req: err(msg, false),
                len,
            },
            None => Done(err(msg, false)),
        };
        for i in first_flag..n {
            let t = self.tokens[i];
            let tb = t.of(buf);
            let c = tb[0];
            if bit(c) == 0 || !op.allowed().contains(&c) {
                return fail(if op == MetaOp::Delete {
                    INVALID_OR_DUP_FLAG
                } else {
                    INVALID_FLAG
                });
            }
            if self.meta.has(c) {
                return fail(if matches!(op, MetaOp::Delete | MetaOp::Arith) {
                    INVALID_OR_DUP_FLAG
                } else {
                    DUPLICATE_FLAG
                });
            }
            self.meta.seen |= bit(c);
            let tok = Span::new(t.start as usize + 1, t.end as usize);
            self.meta.order.push((c, tok));
            let v = tok.of(buf);
            let m = &mut self.meta;
            let ok = match c {
                b'T' => parse_i32(v).map(|x| m.ttl = Some(x)).is_some(),
                b'N' => parse_i32(v).map(|x| m.vivify = Some(x)).is_some(),
                b'R' => parse_i32(v).map(|x| m.recache = Some(x)).is_some(),
                b'F' => match parse_u32(v) {
                    Some(x) => {
                        m.client_flags = Some(x);
                        true
                    }
                    None => return fail(BAD_FORMAT),
                },
                b'C' => parse_u64(v).map(|x| m.compare_cas = Some(x)).is_some(),
                b'E' => parse_u64(v).map(|x| m.new_cas = Some(x)).is_some(),
                b'J' | b'D' => match parse_u64(v) {
                    Some(x) if c == b'J' => {
                        m.initial = Some(x);
                        true
                    }
                    Some(x) => {
                        m.delta = Some(x);
                        true
                    }
                    None => return fail(INVALID_OR_DUP_FLAG),
                },
                b'M' => {
                    let valid: &[u8] = if op == MetaOp::Set {
                        b"EAPRSeaprs"
                    } else {
                        b"I+D-id"
                    };
                    match v {
                        [m0] if valid.contains(m0) => {
                            m.mode = Some(*m0);
                            true
                        }
                        _ => {
                            return fail(if op == MetaOp::Set {
                                BAD_MS_MODE
                            } else {
                                BAD_MA_MODE
                            })
                        }
                    }
                }
                b'O' => {
                    if v.len() > MAX_OPAQUE {
                        return fail(OPAQUE_TOO_LONG);
                    }
                    true
                }
                _ => true,
            };
            if !ok {
                return fail(BAD_TOKEN);
            }
        }
        // Keys: base64 (`b`) keys are checked once decoded; others here.
        let kb = key.of(buf);
        let key_ok = if self.meta.has(b'b') {
            !kb.is_empty() && kb.len() <= MAX_KEY_LEN.div_ceil(3) * 4
        } else {
            valid_key(kb)
        };
        if !key_ok {
            return fail(BAD_FORMAT);
        }
        match datalen {
            Some(len) if len > self.max_value => LineResult::Swallow {
                req: Request::TooLarge {
                    key,
                    drops_old: self.meta.set_mode() == SetMode::Set,
                    noreply: false,
                    meta: true,
                },
                len,
            },
            Some(len) => LineResult::Data {
                req: Request::Meta {
                    op,
                    key,
                    data: Span::default(),
                },
                len,
            },
            None => Done(Request::Meta {
                op,
                key,
                data: Span::default(),
            }),
        }
    }
}

/// What a line asks for next.
enum LineResult {
    Done(Request),
    /// A data block of `len` bytes (+ CRLF) follows.
    Data {
        req: Request,
        len: usize,
    },
    /// Answer `req`, then skip `len` bytes (+ CRLF) of data.
    Swallow {
        req: Request,
        len: usize,
    },
}

fn err(msg: &'static str, noreply: bool) -> Request {
    Request::Error { msg, noreply }
}

/// A line whose command rcache does not run: `ERROR`, or `Request::Http` when memcached
/// would take it for an HTTP request. memcached checks only lines its dispatcher routes
/// nowhere (a bad line of one of its commands is answered, even `delete HTTP/1.1`): the
/// name is at least two bytes, not a two-letter `m…` (meta) name, does not start with a
/// letter it routes by (`g s a c i d t`) and is none of its other commands. The line is
/// HTTP-like when its last token starts with `HTTP/`; memcached keeps at most 23 tokens of
/// a line (the command included), so past that it is the 23rd that counts.
fn unknown(name: &[u8], line: &[u8]) -> Request {
    let routed = match name {
        [] | [_] | [b'm', _] => true,
        [b'g' | b's' | b'a' | b'c' | b'i' | b'd' | b't', ..] => true,
        _ => matches!(
            name,
            b"replace"
                | b"prepend"
                | b"bget"
                | b"flush_all"
                | b"version"
                | b"quit"
                | b"lru_crawler"
                | b"watch"
                | b"verbosity"
                | b"lru"
                | b"extstore"
                | b"refresh_certs"
        ),
    };
    let last = keys_of(line).take(23).last().unwrap_or_default();
    if !routed && last.starts_with(b"HTTP/") {
        Request::Http
    } else {
        err(ERROR, false)
    }
}

/// The keys of a retrieval line (`Request::Get::keys`).
pub fn keys_of(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|&c| c == b' ').filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests;
