//! Reading an append-only file's commands one at a time, each with its byte offsets, and
//! the encoder that writes them. No keyspace here: the caller decides what a command does.
//!
//! ```text
//! file     = ( command | annotation )*
//! command  = "*" count CRLF ( "$" len CRLF <len bytes> CRLF ){count}
//! count    = 1 ..= 1048576 (decimal digits)    len = 0 ..= 512 MiB (proto-max-bulk-len)
//! annotation = "#" <bytes> LF, 1024 bytes at most   (Redis's `aof-timestamp-enabled`
//!                                              lines, skipped as Redis's loader skips them)
//! ```
//! A byte that cannot continue the grammar is [`ReadError::Corrupt`] at that byte's offset.
//! The end of the input between commands is a clean end; inside one (everything read so far
//! a valid prefix) it is [`ReadError::Torn`] at the command's first byte — the state a crash
//! mid-append leaves, which `aof-load-truncated` cuts off. Memory follows the bytes that
//! actually arrive, never what a length claims.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// Most arguments in one command (Redis's multibulk limit for a loaded command).
pub const MAX_ARGS: u64 = 1 << 20;
/// Longest argument: Redis's `proto-max-bulk-len` default.
pub const MAX_BULK: u64 = 512 << 20;
/// Longest annotation line, its `\n` included (Redis's `AOF_ANNOTATION_LINE_MAX_LEN`).
pub const MAX_ANNOTATION: u64 = 1024;
const BUF: usize = 64 << 10;
/// Reserved up front for one argument; a longer one grows as its bytes arrive.
const RESERVE: usize = 64 << 10;

/// One command as it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub args: Vec<Vec<u8>>,
    /// The offset of its `*`.
    pub offset: u64,
    /// One past its last byte: where the next command starts.
    pub end: u64,
}

impl Command {
    /// Is this command `name` (ASCII case-insensitive)?
    pub fn is(&self, name: &str) -> bool {
        self.args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The input ended inside the command (or annotation line) starting at `offset`.
    Torn { offset: u64, what: String },
    /// The byte at `offset` cannot continue the grammar (or, from [`scan`], a transaction
    /// out of order).
    Corrupt { offset: u64, expected: String },
    /// [`scan`]'s callback refused the command at `offset`.
    Apply { offset: u64, msg: String },
    /// Reading the byte at `offset` failed.
    Io { offset: u64, err: io::Error },
}

impl ReadError {
    pub fn offset(&self) -> u64 {
        match self {
            ReadError::Torn { offset, .. }
            | ReadError::Corrupt { offset, .. }
            | ReadError::Apply { offset, .. }
            | ReadError::Io { offset, .. } => *offset,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Torn { offset, what } => {
                write!(f, "offset {offset}: truncated command ({what})")
            }
            ReadError::Corrupt { offset, expected } => {
                write!(f, "offset {offset}: expected {expected}")
            }
            ReadError::Apply { offset, msg } => write!(f, "offset {offset}: {msg}"),
            ReadError::Io { offset, err } => write!(f, "offset {offset}: read failed: {err}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// `'x'`, `'\r'`, `'\xff'`: a byte as error messages show it.
fn show(b: u8) -> String {
    format!("'{}'", b.escape_ascii())
}

/// Reads commands from `R` through a `BufReader`, so a `Read` that hands over one byte per
/// call works (slowly) and a bare `File` works well.
pub struct LogReader<R> {
    inner: BufReader<R>,
    /// The file offset of the next byte `inner` yields.
    offset: u64,
    /// The end of the last complete command or annotation.
    good: u64,
    /// Set after the end or an error: later calls return `Ok(None)`.
    done: bool,
}

impl<R: Read> LogReader<R> {
    pub fn new(inner: R) -> Self {
        LogReader {
            inner: BufReader::with_capacity(BUF, inner),
            offset: 0,
            good: 0,
            done: false,
        }
    }

    /// The offset of the next byte to read: after `next` returned a command, its `end`.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The end of the last complete item (command or annotation): after an error, where
    /// the failing item began, so the file is whole up to here.
    pub fn good_end(&self) -> u64 {
        self.good
    }

    /// The next command; `Ok(None)` at a clean end. After an error or the end the reader
    /// is spent and returns `Ok(None)`.
    #[allow(clippy::should_implement_trait)] // Not an Iterator: errors end the stream.
    pub fn next(&mut self) -> Result<Option<Command>, ReadError> {
        if self.done {
            return Ok(None);
        }
        let r = self.command();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    /// The buffered bytes, reading more if none are; empty at the end of the input.
    fn fill(&mut self) -> Result<&[u8], ReadError> {
        loop {
            match self.inner.fill_buf() {
                Ok(_) => return Ok(self.inner.buffer()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    return Err(ReadError::Io {
                        offset: self.offset,
                        err,
                    })
                }
            }
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        Ok(self.fill()?.first().copied())
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.offset += n as u64;
    }

    fn torn(&self, start: u64, expected: &str) -> ReadError {
        ReadError::Torn {
            offset: start,
            what: format!(
                "expected {expected} at offset {}, found the end of the file",
                self.offset
            ),
        }
    }

    fn corrupt(&self, expected: impl fmt::Display, found: u8) -> ReadError {
        ReadError::Corrupt {
            offset: self.offset,
            expected: format!("{expected}, found {}", show(found)),
        }
    }

    /// Take the byte `want` or fail.
    fn byte(&mut self, start: u64, want: u8) -> Result<(), ReadError> {
        match self.peek()? {
            None => Err(self.torn(start, &show(want))),
            Some(b) if b == want => {
                self.consume(1);
                Ok(())
            }
            Some(b) => Err(self.corrupt(show(want), b)),
        }
    }

    /// Decimal digits then CRLF, the value in `min..=max`. A digit that takes the value
    /// past `max` is the bad byte; a value below `min` is found at the `\r`.
    fn number(&mut self, start: u64, what: &str, min: u64, max: u64) -> Result<u64, ReadError> {
        let (mut n, mut digits) = (0u64, 0u32);
        loop {
            let expected = if digits == 0 {
                "a digit"
            } else {
                "a digit or '\\r'"
            };
            match self.peek()? {
                None => return Err(self.torn(start, expected)),
                Some(d @ b'0'..=b'9') => {
                    n = n * 10 + u64::from(d - b'0');
                    if n > max {
                        return Err(ReadError::Corrupt {
                            offset: self.offset,
                            expected: format!("{what} of at most {max}, found {n}"),
                        });
                    }
                    digits += 1;
                    self.consume(1);
                }
                Some(b'\r') if digits > 0 => {
                    if n < min {
                        return Err(ReadError::Corrupt {
                            offset: self.offset,
                            expected: format!("{what} of at least {min}, found {n}"),
                        });
                    }
                    self.consume(1);
                    break;
                }
                Some(b) => return Err(self.corrupt(expected, b)),
            }
        }
        self.byte(start, b'\n')?;
        Ok(n)
    }

    /// `#…\n`, skipped. The `\n` must come within [`MAX_ANNOTATION`] bytes.
    fn annotation(&mut self, start: u64) -> Result<(), ReadError> {
        // The last offset the '\n' may be at.
        let last = start + MAX_ANNOTATION - 1;
        loop {
            let room = (last - self.offset) as usize + 1;
            let chunk = self.fill()?;
            if chunk.is_empty() {
                return Err(self.torn(start, "the end of the annotation line ('\\n')"));
            }
            let look = &chunk[..chunk.len().min(room)];
            if let Some(i) = look.iter().position(|&b| b == b'\n') {
                self.consume(i + 1);
                return Ok(());
            }
            let n = look.len();
            if n == room {
                let b = look[n - 1];
                self.consume(n - 1);
                return Err(self.corrupt(
                    format!("'\\n' within {MAX_ANNOTATION} bytes of the annotation's '#'"),
                    b,
                ));
            }
            self.consume(n);
        }
    }

    fn command(&mut self) -> Result<Option<Command>, ReadError> {
        let start = loop {
            let start = self.offset;
            match self.peek()? {
                None => return Ok(None),
                Some(b'*') => break start,
                Some(b'#') => {
                    self.annotation(start)?;
                    self.good = self.offset;
                }
                Some(b) => return Err(self.corrupt("'*'", b)),
            }
        };
        self.consume(1);
        let count = self.number(start, "an argument count", 1, MAX_ARGS)?;
        let mut args = Vec::with_capacity(count.min(64) as usize);
        for _ in 0..count {
            self.byte(start, b'$')?;
            let len = self.number(start, "an argument length", 0, MAX_BULK)? as usize;
            let mut arg = Vec::with_capacity(len.min(RESERVE));
            while arg.len() < len {
                let chunk = self.fill()?;
                if chunk.is_empty() {
                    let what = format!("{} more bytes of a {len}-byte argument", len - arg.len());
                    return Err(self.torn(start, &what));
                }
                let n = chunk.len().min(len - arg.len());
                arg.extend_from_slice(&chunk[..n]);
                self.consume(n);
            }
            self.byte(start, b'\r')?;
            self.byte(start, b'\n')?;
            args.push(arg);
        }
        self.good = self.offset;
        Ok(Some(Command {
            args,
            offset: start,
            end: self.offset,
        }))
    }
}

/// Append `args` as one RESP multibulk command to `out` (what the log writer writes).
/// No allocation beyond `out`'s growth.
pub fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.reserve(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.push(b'*');
    push_decimal(out, args.len());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        push_decimal(out, a.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// What [`scan`] found in one file.
#[derive(Debug)]
pub struct FileScan {
    /// Commands read and accepted by the callback.
    pub commands: u64,
    /// Where the file stops being whole: the end of the last complete command or
    /// annotation before the problem (the file's length when there is none).
    pub good_end: u64,
    /// `good_end`, or the offset of the MULTI still open there: cutting the file here
    /// loses no complete transaction. (Annotations count as whole, as redis-check-aof
    /// counts them.)
    pub safe_end: u64,
    /// RESP lines before `safe_end` (a command of n arguments is 1 + 2n lines; annotations
    /// not counted): what redis-check-aof reports as `ok_up_to_line`, less one.
    pub safe_lines: u64,
    /// Why the scan stopped before the end, if it did.
    pub problem: Option<ReadError>,
    /// The offset of a MULTI with no EXEC yet where the scan stopped.
    pub open_multi: Option<u64>,
}

/// Read every command of `r`, handing each to `f`, and say how far the file is good.
///
/// Transactions are followed as redis-check-aof does: MULTI opens one, EXEC closes it; a
/// MULTI inside one or an EXEC outside one is [`ReadError::Corrupt`] at that command. `f`
/// sees MULTI and EXEC too (a replayer queues what comes between, as Redis's loading
/// client does). An `Err` from `f` stops the scan as [`ReadError::Apply`] at that command,
/// which is then not counted.
pub fn scan<R: Read>(r: R, mut f: impl FnMut(&Command) -> Result<(), String>) -> FileScan {
    let mut rd = LogReader::new(r);
    let mut s = FileScan {
        commands: 0,
        good_end: 0,
        safe_end: 0,
        safe_lines: 0,
        problem: None,
        open_multi: None,
    };
    let mut lines = 0u64;
    // Stop at `at` (whole up to there), for `problem` if any.
    let stop = |mut s: FileScan, at: u64, lines: u64, problem: Option<ReadError>| {
        s.good_end = at;
        if s.open_multi.is_none() {
            (s.safe_end, s.safe_lines) = (at, lines);
        }
        s.problem = problem;
        s
    };
    loop {
        let c = match rd.next() {
            Ok(Some(c)) => c,
            Ok(None) => return stop(s, rd.good_end(), lines, None),
            Err(e) => return stop(s, rd.good_end(), lines, Some(e)),
        };
        let (multi, exec) = (c.is("multi"), c.is("exec"));
        let misplaced = match s.open_multi {
            Some(at) if multi => Some(format!(
                "EXEC for the MULTI at offset {at}, found another MULTI"
            )),
            None if exec => Some("a MULTI before EXEC, found EXEC alone".to_string()),
            _ => None,
        };
        if let Some(expected) = misplaced {
            let problem = ReadError::Corrupt {
                offset: c.offset,
                expected,
            };
            return stop(s, c.offset, lines, Some(problem));
        }
        if let Err(msg) = f(&c) {
            let problem = ReadError::Apply {
                offset: c.offset,
                msg,
            };
            return stop(s, c.offset, lines, Some(problem));
        }
        s.commands += 1;
        lines += 1 + 2 * c.args.len() as u64;
        if multi {
            s.open_multi = Some(c.offset);
        } else if exec {
            s.open_multi = None;
        }
        if s.open_multi.is_none() {
            (s.safe_end, s.safe_lines) = (c.end, lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let mut out = Vec::new();
        encode(&a, &mut out);
        out
    }

    fn err_of(bytes: &[u8]) -> ReadError {
        let mut rd = LogReader::new(bytes);
        loop {
            match rd.next() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error in {:?}", bytes.escape_ascii().to_string()),
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn encodes_like_redis() {
        assert_eq!(
            cmd(&["SET", "k", "v"]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        assert_eq!(cmd(&[""]), b"*1\r\n$0\r\n\r\n");
        let long = "x".repeat(1234567);
        assert!(cmd(&[&long]).starts_with(b"*1\r\n$1234567\r\n"));
    }

    #[test]
    fn reads_with_offsets_and_skips_annotations() {
        let mut f = b"#TS:1628217470\r\n".to_vec();
        f.extend(cmd(&["SELECT", "0"]));
        let second = f.len() as u64;
        f.extend(cmd(&["SET", "k", "a\r\nb"]));
        let mut rd = LogReader::new(&f[..]);
        let c = rd.next().unwrap().unwrap();
        assert_eq!((c.offset, c.args[0].as_slice()), (16, &b"SELECT"[..]));
        assert_eq!(c.end, second);
        let c = rd.next().unwrap().unwrap();
        assert_eq!(c.args[2], b"a\r\nb");
        assert_eq!((c.offset, c.end), (second, f.len() as u64));
        assert!(rd.next().unwrap().is_none());
        assert_eq!(rd.offset(), f.len() as u64);
    }

    #[test]
    fn corruption_names_the_bad_byte() {
        let e = err_of(b"*1\r\n$3\r\nGET\r\n*1\r\nx");
        assert_eq!(e.to_string(), "offset 17: expected '$', found 'x'");
        let cases: &[(&[u8], u64, &str)] = &[
            (b"x", 0, "'*', found 'x'"),
            (b"*0\r\n", 2, "an argument count of at least 1, found 0"),
            (
                b"*1048577\r\n",
                7,
                "an argument count of at most 1048576, found 1048577",
            ),
            (b"*-1\r\n", 1, "a digit, found '-'"),
            (b"*1\n", 2, "a digit or '\\r', found '\\n'"),
            (b"*1\r\r", 3, "'\\n', found '\\r'"),
            (
                b"*1\r\n$536870913\r\n",
                13,
                "an argument length of at most 536870912, found 536870913",
            ),
            (b"*1\r\n$1\r\nab\r\n", 9, "'\\r', found 'b'"),
            (b"*1\r\n$1\r\na\rx", 10, "'\\n', found 'x'"),
        ];
        for (bytes, offset, expected) in cases {
            match err_of(bytes) {
                ReadError::Corrupt {
                    offset: o,
                    expected: e,
                } => assert_eq!((o, e.as_str()), (*offset, *expected)),
                other => panic!("{other}"),
            }
        }
        let long = format!("#{}\n", "t".repeat(1100));
        assert_eq!(err_of(long.as_bytes()).offset(), MAX_ANNOTATION - 1);
    }

    #[test]
    fn torn_names_the_command_start() {
        let mut f = cmd(&["SET", "k", "v"]);
        f.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n$");
        match err_of(&f) {
            ReadError::Torn { offset, what } => {
                assert_eq!(offset, 27);
                assert_eq!(
                    what,
                    "expected a digit at offset 41, found the end of the file"
                );
            }
            other => panic!("{other}"),
        }
        // A huge claimed length with few bytes behind it: torn, and nothing huge allocated.
        let e = err_of(b"*1\r\n$536870912\r\nabc");
        assert!(e.to_string().contains("536870909 more bytes"), "{e}");
        assert!(matches!(
            err_of(b"#TS:1"),
            ReadError::Torn { offset: 0, .. }
        ));
    }

    fn scan_of(bytes: &[u8]) -> FileScan {
        scan(bytes, |_| Ok(()))
    }

    #[test]
    fn scan_follows_transactions() {
        let mut f = cmd(&["SET", "a", "1"]);
        let multi = f.len() as u64;
        f.extend(cmd(&["multi"]));
        f.extend(cmd(&["INCR", "a"]));
        let s = scan_of(&f);
        assert!(s.problem.is_none());
        assert_eq!((s.commands, s.good_end), (3, f.len() as u64));
        assert_eq!(
            (s.safe_end, s.open_multi, s.safe_lines),
            (multi, Some(multi), 7)
        );
        f.extend(cmd(&["EXEC"]));
        let s = scan_of(&f);
        assert_eq!((s.safe_end, s.open_multi), (f.len() as u64, None));
        assert_eq!(s.safe_lines, 7 + 3 + 5 + 3);

        // Torn inside a transaction: safe at the MULTI.
        let mut g = f.clone();
        g.extend(cmd(&["MULTI"]));
        g.extend_from_slice(b"*1\r\n$4\r\nEX");
        let s = scan_of(&g);
        assert!(matches!(s.problem, Some(ReadError::Torn { .. })));
        assert_eq!(
            (s.good_end, s.safe_end),
            (f.len() as u64 + 15, f.len() as u64)
        );

        let mut nested = cmd(&["MULTI"]);
        nested.extend(cmd(&["MULTI"]));
        let s = scan_of(&nested);
        assert_eq!(s.problem.unwrap().offset(), 15);
        assert_eq!(s.safe_end, 0);
        let s = scan_of(&cmd(&["exec"]));
        assert!(matches!(
            s.problem,
            Some(ReadError::Corrupt { offset: 0, .. })
        ));
    }

    #[test]
    fn a_whole_annotation_is_kept_a_torn_one_is_not() {
        // As redis-check-aof: a cut after a complete annotation keeps it.
        let mut f = cmd(&["SET", "a", "1"]);
        f.extend_from_slice(b"#TS:1700000000\r\n");
        let after = f.len() as u64;
        f.extend_from_slice(b"*2\r\n$3\r\nDEL");
        let s = scan_of(&f);
        assert!(matches!(s.problem, Some(ReadError::Torn { offset, .. }) if offset == after));
        assert_eq!((s.good_end, s.safe_end, s.commands), (after, after, 1));
        // A torn annotation is cut (unlike Redis, which keeps it and then appends the next
        // command to the unterminated line).
        let s = scan_of(&f[..after as usize - 3]);
        assert_eq!((s.good_end, s.safe_end), (27, 27));
    }

    #[test]
    fn scan_stops_where_the_callback_refuses() {
        let mut f = cmd(&["SET", "a", "1"]);
        f.extend(cmd(&["BOGUS"]));
        f.extend(cmd(&["SET", "b", "2"]));
        let mut seen = 0;
        let s = scan(&f[..], |c| {
            seen += 1;
            if c.is("bogus") {
                Err("ERR unknown command 'BOGUS'".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(seen, 2);
        assert_eq!((s.commands, s.good_end, s.safe_end), (1, 27, 27));
        assert_eq!(
            s.problem.unwrap().to_string(),
            "offset 27: ERR unknown command 'BOGUS'"
        );
    }
}
