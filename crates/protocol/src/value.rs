//! A RESP2/RESP3 *reply* parser: turns the bytes a handler wrote into a tree of borrowed
//! values. The server itself never needs it on the request path (requests are parsed by
//! `resp.rs`); in-process callers that must inspect a reply do: Lua's `redis.call` converts
//! the command's reply into Lua values, and later front doors translate replies from it.

/// One reply, borrowing its strings from the parsed buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum RespValue<'a> {
    /// `+OK`
    Simple(&'a [u8]),
    /// `-ERR …` (the line without the `-`)
    Error(&'a [u8]),
    /// `:n`
    Int(i64),
    /// `$n` bulk string
    Bulk(&'a [u8]),
    /// `$-1` (RESP2 null bulk)
    NullBulk,
    /// `*-1` (RESP2 null array)
    NullArray,
    /// `_` (RESP3 null)
    Null,
    /// `*n`
    Array(Vec<RespValue<'a>>),
    /// `%n` (RESP3)
    Map(Vec<(RespValue<'a>, RespValue<'a>)>),
    /// `~n` (RESP3)
    Set(Vec<RespValue<'a>>),
    /// `>n` (RESP3 out-of-band push)
    Push(Vec<RespValue<'a>>),
    /// `,1.5` (RESP3)
    Double(f64),
    /// `#t` / `#f` (RESP3)
    Bool(bool),
    /// `(123…` (RESP3)
    BigNumber(&'a [u8]),
    /// `=n\r\ntxt:…` (RESP3): the three-byte format and the text.
    Verbatim(&'a [u8], &'a [u8]),
}

/// Why a reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// The buffer ends before the reply does.
    Incomplete,
    /// Not valid RESP (with what was wrong).
    Invalid(&'static str),
}

/// Replies nest at most this deep (a guard against stack exhaustion on hostile input).
const MAX_DEPTH: usize = 512;

/// Parse one complete reply at the start of `buf`; returns it and the bytes it used.
pub fn parse_reply(buf: &[u8]) -> Result<(RespValue<'_>, usize), ReplyError> {
    let mut pos = 0;
    let v = parse_at(buf, &mut pos, 0)?;
    Ok((v, pos))
}

/// Parse every reply in `buf` (which must hold only complete replies).
pub fn parse_replies(buf: &[u8]) -> Result<Vec<RespValue<'_>>, ReplyError> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        out.push(parse_at(buf, &mut pos, 0)?);
    }
    Ok(out)
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], ReplyError> {
    let rest = &buf[*pos..];
    let Some(i) = memchr::memchr(b'\r', rest) else {
        return Err(ReplyError::Incomplete);
    };
    match rest.get(i + 1) {
        None => return Err(ReplyError::Incomplete),
        Some(b'\n') => {}
        Some(_) => return Err(ReplyError::Invalid("CR not followed by LF")),
    }
    *pos += i + 2;
    Ok(&rest[..i])
}

fn int(s: &[u8]) -> Result<i64, ReplyError> {
    crate::resp::parse_i64(s).ok_or(ReplyError::Invalid("bad integer"))
}

fn count(s: &[u8]) -> Result<usize, ReplyError> {
    let n = int(s)?;
    usize::try_from(n).map_err(|_| ReplyError::Invalid("bad length"))
}

fn payload<'a>(buf: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8], ReplyError> {
    let end = pos
        .checked_add(len)
        .ok_or(ReplyError::Invalid("bad length"))?;
    if buf.len() < end + 2 {
        return Err(ReplyError::Incomplete);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ReplyError::Invalid("bulk not terminated by CRLF"));
    }
    let s = &buf[*pos..end];
    *pos = end + 2;
    Ok(s)
}

fn items<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    n: usize,
    depth: usize,
) -> Result<Vec<RespValue<'a>>, ReplyError> {
    // Never trust a header's count for the allocation: each element takes ≥ 3 bytes.
    let mut v = Vec::with_capacity(n.min((buf.len() - *pos) / 3 + 1));
    for _ in 0..n {
        v.push(parse_at(buf, pos, depth + 1)?);
    }
    Ok(v)
}

fn parse_at<'a>(buf: &'a [u8], pos: &mut usize, depth: usize) -> Result<RespValue<'a>, ReplyError> {
    if depth > MAX_DEPTH {
        return Err(ReplyError::Invalid("reply nested too deeply"));
    }
    let Some(&kind) = buf.get(*pos) else {
        return Err(ReplyError::Incomplete);
    };
    *pos += 1;
    let head = line(buf, pos)?;
    Ok(match kind {
        b'+' => RespValue::Simple(head),
        b'-' => RespValue::Error(head),
        b':' => RespValue::Int(int(head)?),
        b'$' if head == b"-1" => RespValue::NullBulk,
        b'$' => RespValue::Bulk(payload(buf, pos, count(head)?)?),
        b'*' if head == b"-1" => RespValue::NullArray,
        b'*' => RespValue::Array(items(buf, pos, count(head)?, depth)?),
        b'~' => RespValue::Set(items(buf, pos, count(head)?, depth)?),
        b'>' => RespValue::Push(items(buf, pos, count(head)?, depth)?),
        b'%' => {
            let n = count(head)?;
            let mut v = Vec::with_capacity(n.min((buf.len() - *pos) / 6 + 1));
            for _ in 0..n {
                let k = parse_at(buf, pos, depth + 1)?;
                let val = parse_at(buf, pos, depth + 1)?;
                v.push((k, val));
            }
            RespValue::Map(v)
        }
        b'_' if head.is_empty() => RespValue::Null,
        b'#' => match head {
            b"t" => RespValue::Bool(true),
            b"f" => RespValue::Bool(false),
            _ => return Err(ReplyError::Invalid("bad boolean")),
        },
        b',' => {
            let s = std::str::from_utf8(head).map_err(|_| ReplyError::Invalid("bad double"))?;
            RespValue::Double(match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => s.parse().map_err(|_| ReplyError::Invalid("bad double"))?,
            })
        }
        b'(' => RespValue::BigNumber(head),
        b'=' => {
            let body = payload(buf, pos, count(head)?)?;
            if body.len() < 4 || body[3] != b':' {
                return Err(ReplyError::Invalid("bad verbatim string"));
            }
            RespValue::Verbatim(&body[..3], &body[4..])
        }
        _ => return Err(ReplyError::Invalid("unknown reply type")),
    })
}

/// The length of the complete reply at the front of `buf` without building it (`Ok(None)`
/// while incomplete): for relaying replies byte for byte (cluster forwarding). Nesting is
/// bounded as in `parse_reply`.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, ReplyError> {
    // Elements still to skip per open aggregate; a stack instead of recursion.
    let mut pos = 0usize;
    let mut todo: Vec<u64> = Vec::new();
    loop {
        let Some(&tag) = buf.get(pos) else {
            return Ok(None);
        };
        let Some(nl) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let head = &buf[pos + 1..pos + nl];
        pos += nl + 2;
        let n = || -> Result<i64, ReplyError> {
            crate::resp::parse_i64(head).ok_or(ReplyError::Invalid("bad length"))
        };
        let elems: u64 = match tag {
            b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => 0,
            b'$' | b'=' | b'!' => {
                let len = n()?;
                if len >= 0 {
                    pos += len as usize + 2;
                    if pos > buf.len() {
                        return Ok(None);
                    }
                }
                0
            }
            b'*' | b'~' | b'>' => n()?.max(0) as u64,
            b'%' | b'|' => n()?.max(0) as u64 * 2,
            _ => return Err(ReplyError::Invalid("unknown reply type")),
        };
        if elems > 0 {
            if todo.len() >= MAX_DEPTH {
                return Err(ReplyError::Invalid("nested too deep"));
            }
            todo.push(elems);
            continue;
        }
        // One element done: close every aggregate it completes.
        loop {
            match todo.last_mut() {
                None => return Ok(Some(pos)),
                Some(left) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    todo.pop();
                }
            }
        }
        if todo.is_empty() {
            return Ok(Some(pos));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reply;

    #[test]
    fn scalars() {
        assert_eq!(
            parse_reply(b"+OK\r\n").unwrap(),
            (RespValue::Simple(b"OK"), 5)
        );
        assert_eq!(
            parse_reply(b"-ERR bad thing\r\n").unwrap().0,
            RespValue::Error(b"ERR bad thing")
        );
        assert_eq!(parse_reply(b":-42\r\n").unwrap().0, RespValue::Int(-42));
        assert_eq!(
            parse_reply(b"$3\r\na\r\n\r\n").unwrap().0,
            RespValue::Bulk(b"a\r\n")
        );
        assert_eq!(parse_reply(b"$0\r\n\r\n").unwrap().0, RespValue::Bulk(b""));
        assert_eq!(parse_reply(b"$-1\r\n").unwrap().0, RespValue::NullBulk);
        assert_eq!(parse_reply(b"*-1\r\n").unwrap().0, RespValue::NullArray);
        assert_eq!(parse_reply(b"_\r\n").unwrap().0, RespValue::Null);
        assert_eq!(parse_reply(b"#t\r\n").unwrap().0, RespValue::Bool(true));
        assert_eq!(parse_reply(b",1.5\r\n").unwrap().0, RespValue::Double(1.5));
        assert_eq!(
            parse_reply(b",-inf\r\n").unwrap().0,
            RespValue::Double(f64::NEG_INFINITY)
        );
        assert_eq!(
            parse_reply(b"(12345678901234567890\r\n").unwrap().0,
            RespValue::BigNumber(b"12345678901234567890")
        );
        assert_eq!(
            parse_reply(b"=7\r\ntxt:abc\r\n").unwrap().0,
            RespValue::Verbatim(b"txt", b"abc")
        );
    }

    #[test]
    fn aggregates() {
        let (v, n) = parse_reply(b"*3\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n+rest").unwrap();
        assert_eq!(n, 24);
        assert_eq!(
            v,
            RespValue::Array(vec![
                RespValue::Int(1),
                RespValue::Array(vec![RespValue::Bulk(b"x")]),
                RespValue::NullBulk
            ])
        );
        assert_eq!(
            parse_reply(b"%1\r\n$1\r\na\r\n:1\r\n").unwrap().0,
            RespValue::Map(vec![(RespValue::Bulk(b"a"), RespValue::Int(1))])
        );
        assert_eq!(
            parse_reply(b"~1\r\n+a\r\n").unwrap().0,
            RespValue::Set(vec![RespValue::Simple(b"a")])
        );
        assert_eq!(
            parse_replies(b":1\r\n:2\r\n").unwrap(),
            vec![RespValue::Int(1), RespValue::Int(2)]
        );
    }

    #[test]
    fn incomplete_and_invalid() {
        for partial in [
            &b""[..],
            b"+OK",
            b"+OK\r",
            b"$3\r\nab",
            b"$3\r\nabc\r",
            b"*2\r\n:1\r\n",
            b"%1\r\n:1\r\n",
        ] {
            assert_eq!(
                parse_reply(partial),
                Err(ReplyError::Incomplete),
                "{partial:?}"
            );
        }
        for bad in [
            &b"?x\r\n"[..],
            b":1x\r\n",
            b"$3\r\nabcde\r\n",
            b"#x\r\n",
            b",abc\r\n",
            b"+a\rb\r\n",
            b"*-2\r\n",
            b"=2\r\nab\r\n",
        ] {
            assert!(
                matches!(parse_reply(bad), Err(ReplyError::Invalid(_))),
                "{bad:?}"
            );
        }
        // A hostile count does not allocate up front.
        assert_eq!(
            parse_reply(b"*9223372036854775807\r\n"),
            Err(ReplyError::Incomplete)
        );
        // Nothing nests without limit.
        let deep: Vec<u8> = b"*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(matches!(parse_reply(&deep), Err(ReplyError::Invalid(_))));
    }

    #[test]
    fn round_trips_the_reply_writer() {
        for resp3 in [false, true] {
            let mut buf = Vec::new();
            let mut r = Reply::new(&mut buf, resp3);
            r.map_len(1);
            r.bulk(b"k");
            r.double(2.5);
            r.set_len(1);
            r.int(7);
            r.null();
            r.boolean(true);
            r.verbatim(b"info");
            r.error("ERR x");
            let vals = parse_replies(&buf).unwrap();
            assert_eq!(vals.len(), 6);
            if resp3 {
                assert_eq!(
                    vals[0],
                    RespValue::Map(vec![(RespValue::Bulk(b"k"), RespValue::Double(2.5))])
                );
                assert_eq!(vals[2], RespValue::Null);
                assert_eq!(vals[3], RespValue::Bool(true));
                assert_eq!(vals[4], RespValue::Verbatim(b"txt", b"info"));
            } else {
                assert_eq!(
                    vals[0],
                    RespValue::Array(vec![RespValue::Bulk(b"k"), RespValue::Bulk(b"2.5")])
                );
                assert_eq!(vals[2], RespValue::NullBulk);
                assert_eq!(vals[3], RespValue::Int(1));
                assert_eq!(vals[4], RespValue::Bulk(b"info"));
            }
            assert_eq!(vals[5], RespValue::Error(b"ERR x"));
        }
    }
    /// `reply_len` agrees with `parse_reply` on every reply shape, and says incomplete for
    /// every proper prefix.
    #[test]
    fn reply_len_matches_parse() {
        let cases: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR x\r\n",
            b":12\r\n",
            b"$3\r\nabc\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            b"%1\r\n+k\r\n*2\r\n_\r\n,1.5\r\n",
            b">2\r\n+a\r\n$0\r\n\r\n",
        ];
        for c in cases {
            let (_, n) = parse_reply(c).unwrap();
            assert_eq!(
                super::reply_len(c),
                Ok(Some(n)),
                "{:?}",
                String::from_utf8_lossy(c)
            );
            for cut in 0..c.len() {
                assert_eq!(super::reply_len(&c[..cut]), Ok(None), "{:?} cut {cut}", c);
            }
            let mut two = c.to_vec();
            two.extend_from_slice(b"+next\r\n");
            assert_eq!(super::reply_len(&two), Ok(Some(n)));
        }
        assert!(super::reply_len(b"?\r\n").is_err());
    }
}
