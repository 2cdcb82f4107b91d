//! `Reply`: appends RESP2 or RESP3 replies to an output buffer.
//!
//! Handlers call the typed methods (`bulk`, `int`, `map_len`, …) and the protocol version
//! decides the bytes: a RESP3 map is a flat array in RESP2, a double is a bulk string, a null
//! is `$-1` or `*-1` (RESP2) or `_` (RESP3). Nothing here allocates beyond the buffer itself.

/// Reply writer over the connection's output buffer.
pub struct Reply<'a> {
    buf: &'a mut Vec<u8>,
    resp3: bool,
}

const CRLF: &[u8] = b"\r\n";

impl<'a> Reply<'a> {
    pub fn new(buf: &'a mut Vec<u8>, resp3: bool) -> Self {
        Reply { buf, resp3 }
    }

    #[inline]
    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    /// Switch protocol mid-batch (HELLO answers in the protocol it switches to).
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// Bytes written so far (the output-buffer limit is checked against this).
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drop what was written after `mark` (a handler that fails after starting a reply).
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    #[inline]
    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(CRLF);
    }

    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string. Must not contain CR or LF (they are replaced by spaces).
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.push_line(s.as_bytes());
    }

    /// An error line, given in full with its code (`ERR …`, `WRONGTYPE …`).
    pub fn error(&mut self, s: &str) {
        self.buf.push(b'-');
        self.push_line(s.as_bytes());
    }

    fn push_line(&mut self, s: &[u8]) {
        for &c in s {
            self.buf
                .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(CRLF);
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        // One capacity check and three copies: LRANGE writes hundreds of these per reply.
        let mut hdr = [0u8; 24];
        hdr[0] = b'$';
        let h = if b.len() < 10 {
            hdr[1] = b'0' + b.len() as u8;
            2
        } else {
            let mut ib = itoa::Buffer::new();
            let d = ib.format(b.len()).as_bytes();
            hdr[1..1 + d.len()].copy_from_slice(d);
            1 + d.len()
        };
        hdr[h..h + 2].copy_from_slice(CRLF);
        let h = h + 2;
        let total = h + b.len() + 2;
        self.buf.reserve(total);
        let len = self.buf.len();
        // SAFETY: `reserve` made room for `total` more bytes; the three sources are distinct
        // from the vector's spare capacity; every byte up to the new length is written.
        unsafe {
            let dst = self.buf.as_mut_ptr().add(len);
            std::ptr::copy_nonoverlapping(hdr.as_ptr(), dst, h);
            std::ptr::copy_nonoverlapping(b.as_ptr(), dst.add(h), b.len());
            std::ptr::copy_nonoverlapping(CRLF.as_ptr(), dst.add(h + b.len()), 2);
            self.buf.set_len(len + total);
        }
    }

    /// A bulk string built from parts, without concatenating them first.
    pub fn bulk_parts(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.header(b'$', len as i64);
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.buf.extend_from_slice(CRLF);
    }

    /// Integer as a bulk string (INCRBYFLOAT and friends answer numbers as strings).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(n);
        self.bulk(s.as_bytes());
    }

    /// Null bulk: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    #[inline]
    pub fn array_len(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, an array of 2n in RESP2.
    pub fn map_len(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set_len(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// An out-of-band push: `>n` in RESP3, an array in RESP2.
    pub fn push_len(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double: `,1.5` in RESP3, a bulk string in RESP2. Formatted as Redis does:
    /// shortest round-trip digits, `inf`/`-inf`/`nan`.
    pub fn double(&mut self, d: f64) {
        let mut tmp = [0u8; 64];
        let s = format_double(d, &mut tmp);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(CRLF);
        } else {
            self.bulk(s);
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim text (INFO, CLIENT LIST): `=n\r\ntxt:…` in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(CRLF);
        } else {
            self.bulk(text);
        }
    }

    /// Raw, already-encoded RESP bytes.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
}

/// Format a double as Redis 7.0 shows it (`addReplyDouble`, and the scores a listpack
/// keeps): C's `%.17g` — 17 significant digits, trailing zeros dropped, an exponent
/// (`e+19`, `e-08`) below 1e-4 or from 1e17 on; `inf`, `-inf`, `nan`. So 0.1 is
/// `0.10000000000000001`, as redis-cli shows it from Redis 7.0 (7.2 went to the shortest
/// form).
pub fn format_double(d: f64, tmp: &mut [u8; 64]) -> &[u8] {
    use std::io::Write;
    const P: i32 = 17;
    let n = {
        let mut cur = std::io::Cursor::new(&mut tmp[..]);
        if d.is_nan() {
            let _ = cur.write_all(b"nan");
        } else if d.is_infinite() {
            let _ = cur.write_all(if d > 0.0 { b"inf" } else { b"-inf" });
        } else if d == 0.0 {
            // -0 too: Redis answers ZADD z -0.0 m; ZSCORE z m with "0".
            let _ = cur.write_all(b"0");
        } else {
            // Rust's `{:e}` rounds exactly, as glibc's printf does: the 17 digits first, then
            // %g's choice of notation by the (rounded) exponent.
            let sci = format!("{:.*e}", (P - 1) as usize, d);
            let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
            let x: i32 = exp.parse().unwrap_or(0);
            if !(-4..P).contains(&x) {
                let m = strip_zeros(mant);
                let sign = if x < 0 { '-' } else { '+' };
                let _ = write!(cur, "{m}e{sign}{:02}", x.abs());
            } else {
                let fixed = format!("{:.*}", (P - 1 - x) as usize, d);
                let _ = cur.write_all(strip_zeros(&fixed).as_bytes());
            }
        }
        cur.position() as usize
    };
    &tmp[..n]
}

/// %g's trailing-zero removal: "1.2500" → "1.25", "3.000" → "3" (no '.' → unchanged).
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(resp3: bool, f: impl FnOnce(&mut Reply)) -> String {
        let mut v = Vec::new();
        let mut r = Reply::new(&mut v, resp3);
        f(&mut r);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn resp2_vs_resp3() {
        assert_eq!(out(false, |r| r.null()), "$-1\r\n");
        assert_eq!(out(true, |r| r.null()), "_\r\n");
        assert_eq!(out(false, |r| r.map_len(2)), "*4\r\n");
        assert_eq!(out(true, |r| r.map_len(2)), "%2\r\n");
        assert_eq!(out(false, |r| r.double(1.5)), "$3\r\n1.5\r\n");
        assert_eq!(out(true, |r| r.double(1.5)), ",1.5\r\n");
        assert_eq!(out(true, |r| r.boolean(true)), "#t\r\n");
        assert_eq!(out(false, |r| r.boolean(true)), ":1\r\n");
        assert_eq!(out(true, |r| r.verbatim(b"hi")), "=6\r\ntxt:hi\r\n");
        assert_eq!(out(false, |r| r.error("ERR a\r\nb")), "-ERR a  b\r\n");
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.14159 is a value checked on Redis, not π
    fn doubles() {
        let mut t = [0u8; 64];
        assert_eq!(format_double(10.6, &mut t), b"10.6");
        assert_eq!(format_double(5200.0, &mut t), b"5200");
        assert_eq!(format_double(f64::INFINITY, &mut t), b"inf");
        assert_eq!(format_double(-0.5, &mut t), b"-0.5");
        // Redis 7.0.15's ZSCORE for each of these (its %.17g), read off redis-server
        // (`ZADD z <d> m`, `ZSCORE z m`).
        for (d, redis) in [
            (1000.0, "1000"),
            (-0.25, "-0.25"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (1e-7, "9.9999999999999995e-08"),
            (1e22, "1e+22"),
            (0.1, "0.10000000000000001"),
            (3.14159, "3.1415899999999999"),
            (3479099956230698.0, "3479099956230698"),
            (1e17, "1e+17"),
            (99999999999999990.0, "99999999999999984"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (-0.0, "0"),
            (0.0, "0"),
        ] {
            assert_eq!(
                std::str::from_utf8(format_double(d, &mut t)).unwrap(),
                redis,
                "{d}"
            );
        }
    }
}
