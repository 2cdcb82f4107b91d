//! `RawConn`: a plain TCP socket for tests that must control every byte (malformed frames,
//! partial requests, huge arguments) and read replies exactly as the server wrote them.
//!
//! Replies are returned as raw RESP bytes, one complete frame at a time, so a test compares
//! against the wire text (`"+PONG\r\n"`, `"-ERR Protocol error: …\r\n"`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Default wait for one reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RawConn {
    sock: TcpStream,
    /// Bytes read but not yet returned (the start of the next reply).
    pending: Vec<u8>,
}

impl RawConn {
    /// Connect or panic.
    pub fn connect(addr: SocketAddr) -> RawConn {
        Self::try_connect(addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
    }

    pub fn try_connect(addr: SocketAddr, timeout: Duration) -> io::Result<RawConn> {
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_nodelay(true)?;
        sock.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(RawConn {
            sock,
            pending: Vec::new(),
        })
    }

    /// The underlying socket (to shut down one direction, say).
    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// Write all of `bytes` or panic.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("send {} bytes: {e}", bytes.len()));
    }

    /// Write all of `bytes`; the error is the test's to judge (a server that closes the
    /// connection mid-write is expected in some tests).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sock.write_all(bytes)?;
        self.sock.flush()
    }

    /// Send one command as a RESP multibulk request.
    pub fn send_cmd<T: AsRef<[u8]>>(&mut self, args: &[T]) {
        self.send(&resp(args));
    }

    /// Send one command and return its reply as text (lossy UTF-8), e.g. `"+OK\r\n"`.
    pub fn request<T: AsRef<[u8]>>(&mut self, args: &[T]) -> String {
        self.send_cmd(args);
        self.reply()
    }

    /// The next reply as text (lossy UTF-8), or panic after `REPLY_TIMEOUT`.
    pub fn reply(&mut self) -> String {
        let r = self
            .read_reply(REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("reading a reply: {e}"));
        String::from_utf8_lossy(&r).into_owned()
    }

    /// Read exactly one complete RESP2/RESP3 reply frame (raw bytes, CRLFs included).
    /// Errors: `TimedOut` when no complete frame arrived in time, `UnexpectedEof` when the
    /// server closed the connection first (the partial bytes are in the message).
    pub fn read_reply(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = frame_len(&self.pending) {
                let rest = self.pending.split_off(n);
                return Ok(std::mem::replace(&mut self.pending, rest));
            }
            match self.read_some(deadline)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "connection closed; partial reply {:?}",
                            String::from_utf8_lossy(&self.pending)
                        ),
                    ))
                }
                _ => continue,
            }
        }
    }

    /// Read until the server closes the connection; returns every byte received before the
    /// close (an error reply, say). A reset counts as a close. Errors with `TimedOut` if the
    /// connection is still open after `timeout`.
    pub fn read_until_closed(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_some(deadline) {
                Ok(0) => return Ok(std::mem::take(&mut self.pending)),
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Ok(std::mem::take(&mut self.pending))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Assert the server closes the connection within `timeout`; returns what it sent first.
    pub fn expect_closed(&mut self, timeout: Duration) -> String {
        match self.read_until_closed(timeout) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => panic!(
                "expected the server to close the connection: {e}; received so far {:?}",
                String::from_utf8_lossy(&self.pending)
            ),
        }
    }

    /// One read into `pending`, waiting no later than `deadline`.
    fn read_some(&mut self, deadline: Instant) -> io::Result<usize> {
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no complete reply in time; received {:?}",
                    String::from_utf8_lossy(&self.pending)
                ),
            ));
        }
        self.sock
            .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 64 * 1024];
        match self.sock.read(&mut chunk) {
            Ok(n) => {
                self.pending.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no complete reply in time; received {:?}",
                        String::from_utf8_lossy(&self.pending)
                    ),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(1),
            Err(e) => Err(e),
        }
    }
}

/// A command encoded as a RESP multibulk request.
pub fn resp<T: AsRef<[u8]>>(args: &[T]) -> Vec<u8> {
    let mut buf = Vec::new();
    protocol::resp::encode_request(args, &mut buf);
    buf
}

/// The length of the complete RESP2/RESP3 frame at the start of `buf`, if it is complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let (&t, _) = buf.split_first()?;
    let nl = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[1..nl];
    let after = nl + 2;
    let num = || -> Option<i64> { std::str::from_utf8(line).ok()?.parse().ok() };
    match t {
        // Simple string, error, integer, null, double, boolean, big number.
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        // Bulk string, bulk error, verbatim string; `$-1` is RESP2's null.
        b'$' | b'!' | b'=' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        // Array, set, push (n frames); map and attribute (2n frames). `*-1` is RESP2's null.
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let items = if matches!(t, b'%' | b'|') { 2 * n } else { n };
            let mut off = after;
            for _ in 0..items {
                off += frame_len(&buf[off..])?;
            }
            if t == b'|' {
                // An attribute is followed by the value it describes.
                off += frame_len(&buf[off..])?;
            }
            Some(off)
        }
        // Not RESP: an inline or garbage line; return it whole so a test can show it.
        _ => Some(after),
    }
}

#[cfg(test)]
mod tests {
    use super::frame_len;

    #[test]
    fn frames() {
        assert_eq!(frame_len(b"+OK\r\n+x"), Some(5));
        assert_eq!(frame_len(b"$3\r\nabc\r\n"), Some(9));
        assert_eq!(frame_len(b"$3\r\nab"), None);
        assert_eq!(frame_len(b"$-1\r\n"), Some(5));
        assert_eq!(frame_len(b"*2\r\n:1\r\n$1\r\na\r\n:9\r\n"), Some(15));
        assert_eq!(frame_len(b"*2\r\n:1\r\n"), None);
        assert_eq!(frame_len(b"%1\r\n+a\r\n:1\r\n"), Some(12));
        assert_eq!(frame_len(b"|1\r\n+a\r\n:1\r\n+v\r\n"), Some(16));
        assert_eq!(frame_len(b"*0\r\n"), Some(4));
        assert_eq!(frame_len(b""), None);
    }
}
