//! Request encoding and reply framing for the four protocols, without building values:
//! RESP and binary through `rcache_client::codec` (the protocol crate's codecs), HTTP/1.1
//! and memcached text by hand (minimal: only what `/v1/keys/{key}` GET/PUT and memcached
//! `get`/`set` answer). A reply is classified as ok / hit (with its value's length) / miss /
//! error, which is all the counters need.

use crate::workload::Proto;
use rcache_client::codec;
use rcache_client::Proto as ClientProto;

/// What a request was, for the counters: GETs have hits and misses, SETs carry value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Set,
    Other,
}

/// A complete reply, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Ok,
    /// A value came back: its length in bytes.
    Hit(usize),
    /// Nil / NOT_FOUND / 404 / memcached `END` without a value.
    Miss,
    /// The server refused the request (RESP/binary error, HTTP ≥ 400 other than a GET's
    /// 404, memcached ERROR / CLIENT_ERROR / SERVER_ERROR / NOT_STORED …).
    Error,
}

pub fn client_proto(p: Proto) -> ClientProto {
    match p {
        Proto::Resp3 => ClientProto::Resp3,
        Proto::Binary => ClientProto::Binary,
        _ => ClientProto::Resp2,
    }
}

/// Append `GET key`.
pub fn encode_get(p: Proto, key: &[u8], http_headers: &[u8], out: &mut Vec<u8>) {
    match p {
        Proto::Http => {
            out.extend_from_slice(b"GET /v1/keys/");
            percent_encode(key, out);
            out.extend_from_slice(b" HTTP/1.1\r\nHost: rcache\r\n");
            out.extend_from_slice(http_headers);
            out.extend_from_slice(b"\r\n");
        }
        Proto::Memcache => {
            out.extend_from_slice(b"get ");
            out.extend_from_slice(key);
            out.extend_from_slice(b"\r\n");
        }
        _ => codec::encode_get(client_proto(p), key, out),
    }
}

/// Append `SET key value`.
pub fn encode_set(p: Proto, key: &[u8], value: &[u8], http_headers: &[u8], out: &mut Vec<u8>) {
    let mut b = itoa::Buffer::new();
    match p {
        Proto::Http => {
            out.extend_from_slice(b"PUT /v1/keys/");
            percent_encode(key, out);
            out.extend_from_slice(b" HTTP/1.1\r\nHost: rcache\r\nContent-Length: ");
            out.extend_from_slice(b.format(value.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(http_headers);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(value);
        }
        Proto::Memcache => {
            out.extend_from_slice(b"set ");
            out.extend_from_slice(key);
            out.extend_from_slice(b" 0 0 ");
            out.extend_from_slice(b.format(value.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        _ => codec::encode_set(client_proto(p), key, value, None, out),
    }
}

/// Append any command (RESP and binary only; validation keeps other protocols away).
pub fn encode_command<A: AsRef<[u8]>>(p: Proto, args: &[A], out: &mut Vec<u8>) {
    codec::encode_command(client_proto(p), args, out)
}

/// Path bytes: unreserved characters and `:` as they are, everything else `%XX`.
fn percent_encode(key: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in key {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        }
    }
}

/// The complete reply at the front of `buf`: its length and class; `Ok(None)` while
/// incomplete. An `Err` is a framing error: the connection cannot be read further.
pub fn parse_reply(p: Proto, buf: &[u8]) -> Result<Option<(usize, Reply)>, String> {
    match p {
        Proto::Resp | Proto::Resp3 => {
            let Some((n, is_err)) = codec::reply_len(client_proto(p), buf)? else {
                return Ok(None);
            };
            let r = if is_err {
                Reply::Error
            } else if buf.starts_with(b"$-1\r\n") || buf.starts_with(b"_\r\n") {
                Reply::Miss
            } else if buf[0] == b'$' {
                // `$<len>\r\n<value>\r\n`: the value is what is left after the header line
                // and the final CRLF.
                let head = memchr::memchr(b'\n', buf).unwrap_or(0) + 1;
                Reply::Hit(n.saturating_sub(head + 2))
            } else {
                Reply::Ok
            };
            Ok(Some((n, r)))
        }
        Proto::Binary => {
            let Some((n, is_err)) = codec::reply_len(ClientProto::Binary, buf)? else {
                return Ok(None);
            };
            let r = match buf[1] {
                _ if is_err => Reply::Error,
                protocol::binary::code::NOT_FOUND => Reply::Miss,
                protocol::binary::code::VALUE => Reply::Hit(n - protocol::binary::REPLY_HEADER_LEN),
                _ => Reply::Ok,
            };
            Ok(Some((n, r)))
        }
        Proto::Http => parse_http(buf),
        Proto::Memcache => parse_memcache(buf),
    }
}

fn parse_http(buf: &[u8]) -> Result<Option<(usize, Reply)>, String> {
    let Some(head_end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            return Err("HTTP response header over 64 KiB".into());
        }
        return Ok(None);
    };
    let head = &buf[..head_end];
    if !head.starts_with(b"HTTP/1.") || head.len() < 12 {
        return Err(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&head[..head.len().min(40)])
        ));
    }
    let status: u16 = std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("bad HTTP status line")?;
    let mut body = 0usize;
    for line in head.split(|&c| c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            body = std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("bad Content-Length")?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err("chunked HTTP responses are not supported by the bench client".into());
        }
    }
    let n = head_end + 4 + body;
    if buf.len() < n {
        return Ok(None);
    }
    let r = match status {
        200 => Reply::Hit(body),
        201 | 204 => Reply::Ok,
        404 => Reply::Miss,
        _ => Reply::Error,
    };
    Ok(Some((n, r)))
}

fn parse_memcache(buf: &[u8]) -> Result<Option<(usize, Reply)>, String> {
    let Some(eol) = memchr::memchr(b'\n', buf) else {
        if buf.len() > 64 * 1024 {
            return Err("memcached reply line over 64 KiB".into());
        }
        return Ok(None);
    };
    let line = &buf[..eol];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(rest) = line.strip_prefix(b"VALUE ") {
        // VALUE <key> <flags> <bytes> [<cas>]
        let bytes: usize = rest
            .split(|&c| c == b' ')
            .nth(2)
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse().ok())
            .ok_or("bad memcached VALUE line")?;
        let n = eol + 1 + bytes + 2 + 5;
        if buf.len() < n {
            return Ok(None);
        }
        if &buf[n - 5..n] != b"END\r\n" {
            return Err("memcached: expected END after one value".into());
        }
        return Ok(Some((n, Reply::Hit(bytes))));
    }
    let r = match line {
        b"END" => Reply::Miss,
        b"STORED" => Reply::Ok,
        l if !l.is_empty() && l.iter().all(u8::is_ascii_digit) => Reply::Ok,
        _ => Reply::Error,
    };
    Ok(Some((eol + 1, r)))
}

/// The text of an error reply, for the report's first error.
pub fn error_text(p: Proto, frame: &[u8]) -> String {
    let body = match p {
        Proto::Binary => frame
            .get(protocol::binary::REPLY_HEADER_LEN..)
            .unwrap_or_default(),
        Proto::Http => frame.split(|&c| c == b'\r').next().unwrap_or_default(),
        _ => frame,
    };
    String::from_utf8_lossy(body).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memcache_replies() {
        let r = b"VALUE k 0 3\r\nabc\r\nEND\r\nEND\r\nSTORED\r\nSERVER_ERROR x\r\n";
        let (n, v) = parse_reply(Proto::Memcache, r).unwrap().unwrap();
        assert_eq!((n, v), (23, Reply::Hit(3)));
        assert_eq!(
            parse_reply(Proto::Memcache, &r[n..]).unwrap(),
            Some((5, Reply::Miss))
        );
        assert_eq!(
            parse_reply(Proto::Memcache, &r[n + 5..]).unwrap(),
            Some((8, Reply::Ok))
        );
        assert_eq!(
            parse_reply(Proto::Memcache, &r[n + 13..]).unwrap(),
            Some((16, Reply::Error))
        );
        for cut in 0..n {
            assert_eq!(parse_reply(Proto::Memcache, &r[..cut]).unwrap(), None);
        }
    }

    #[test]
    fn http_replies() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let (n, v) = parse_reply(Proto::Http, r).unwrap().unwrap();
        assert_eq!(v, Reply::Hit(3));
        assert_eq!(parse_reply(Proto::Http, &r[..n - 1]).unwrap(), None);
        assert_eq!(
            parse_reply(Proto::Http, &r[n..]).unwrap().unwrap().1,
            Reply::Miss
        );
        let mut out = Vec::new();
        encode_get(Proto::Http, b"a b:c", b"", &mut out);
        assert!(out.starts_with(b"GET /v1/keys/a%20b:c HTTP/1.1\r\n"));
    }

    #[test]
    fn resp_and_binary_replies() {
        assert_eq!(
            parse_reply(Proto::Resp, b"$3\r\nabc\r\n").unwrap(),
            Some((9, Reply::Hit(3)))
        );
        assert_eq!(
            parse_reply(Proto::Resp, b"$-1\r\n").unwrap(),
            Some((5, Reply::Miss))
        );
        assert_eq!(
            parse_reply(Proto::Resp, b"-ERR x\r\n").unwrap(),
            Some((8, Reply::Error))
        );
        let mut b = Vec::new();
        protocol::binary::encode_reply(&mut b, &protocol::binary::BinValue::Value(b"abcd"));
        assert_eq!(
            parse_reply(Proto::Binary, &b).unwrap(),
            Some((b.len(), Reply::Hit(4)))
        );
    }
}
