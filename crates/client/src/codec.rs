//! Frame encoding and reply decoding for each [`Proto`], on top of the `protocol` crate's
//! codecs (`protocol::resp::encode_request`, `protocol::parse_reply`,
//! `protocol::binary::{encode_request, decode_reply}`): this module only chooses between
//! them and converts borrowed replies into owned [`Value`]s.
//!
//! It is public for tools that drive sockets themselves (the `load` example): they encode
//! with [`encode_command`] and skip replies with [`reply_len`] without building values.

use crate::config::Proto;
use crate::error::ServerError;
use crate::value::Value;
use protocol::binary::{self, BinValue};
use protocol::value::ReplyError;
use protocol::RespValue;

/// Append one command (`args[0]` is its name) as a request frame: a RESP multibulk, or a
/// binary COMMAND frame.
pub fn encode_command<A: AsRef<[u8]>>(proto: Proto, args: &[A], out: &mut Vec<u8>) {
    match proto {
        Proto::Resp2 | Proto::Resp3 => protocol::resp::encode_request(args, out),
        Proto::Binary => {
            binary::encode_request_header(out, binary::op::COMMAND, args.len() as u32);
            for a in args {
                binary::encode_arg(out, a.as_ref());
            }
        }
    }
}

/// Append `GET key`: the binary GET opcode, or the RESP command.
pub fn encode_get(proto: Proto, key: &[u8], out: &mut Vec<u8>) {
    match proto {
        Proto::Binary => binary::encode_request(out, binary::op::GET, &[key]),
        _ => protocol::resp::encode_request(&[b"GET".as_slice(), key], out),
    }
}

/// Append `SET key value [PX ttl_ms]`: the binary SET opcode (ttl as 8 bytes), or RESP.
/// A `ttl_ms` of 0 is refused by the caller, not here (binary would read it as "none").
pub fn encode_set(proto: Proto, key: &[u8], value: &[u8], ttl_ms: Option<u64>, out: &mut Vec<u8>) {
    match (proto, ttl_ms) {
        (Proto::Binary, None) => binary::encode_request(out, binary::op::SET, &[key, value]),
        (Proto::Binary, Some(ms)) => {
            binary::encode_request(out, binary::op::SET, &[key, value, &ms.to_be_bytes()])
        }
        (_, None) => protocol::resp::encode_request(&[b"SET".as_slice(), key, value], out),
        (_, Some(ms)) => {
            let mut b = itoa::Buffer::new();
            let ms = b.format(ms).as_bytes();
            protocol::resp::encode_request(&[b"SET".as_slice(), key, value, b"PX", ms], out)
        }
    }
}

/// Append `DEL keys…`: the binary DELETE opcode, or RESP.
pub fn encode_del<K: AsRef<[u8]>>(proto: Proto, keys: &[K], out: &mut Vec<u8>) {
    match proto {
        Proto::Binary => {
            binary::encode_request_header(out, binary::op::DELETE, keys.len() as u32);
            for k in keys {
                binary::encode_arg(out, k.as_ref());
            }
        }
        _ => {
            let mut args: Vec<&[u8]> = Vec::with_capacity(keys.len() + 1);
            args.push(b"DEL");
            args.extend(keys.iter().map(|k| k.as_ref()));
            protocol::resp::encode_request(&args, out)
        }
    }
}

/// Append a binary request with `opcode` (HELLO, STATUS). Binary connections only.
pub(crate) fn encode_binary_op(opcode: u8, args: &[&[u8]], out: &mut Vec<u8>) {
    binary::encode_request(out, opcode, args)
}

/// What the reader found at the front of its buffer.
pub(crate) enum Decoded {
    /// A reply to the oldest outstanding request.
    Reply(Value),
    /// A RESP3 push message (out of band, not a reply): skipped.
    Push,
}

/// Decode one reply at the front of `buf`: `Ok(None)` while incomplete, with the number
/// of bytes it used. An `Err` is a framing error: the stream cannot be read further.
pub(crate) fn decode(proto: Proto, buf: &[u8]) -> Result<Option<(Decoded, usize)>, String> {
    match proto {
        Proto::Resp2 | Proto::Resp3 => match protocol::parse_reply(buf) {
            Ok((RespValue::Push(_), n)) => Ok(Some((Decoded::Push, n))),
            Ok((v, n)) => Ok(Some((Decoded::Reply(Value::from_resp(&v)), n))),
            Err(ReplyError::Incomplete) => Ok(None),
            Err(ReplyError::Invalid(why)) => Err(format!("invalid RESP reply: {why}")),
        },
        Proto::Binary => match binary::decode_reply(buf) {
            Ok(Some((v, n))) => Ok(Some((Decoded::Reply(from_binary(&v)), n))),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// How many more bytes the reply at the front of `buf` needs at least, when the transport
/// says (binary frames carry their length): lets the reader reserve a large reply once.
pub(crate) fn frame_hint(proto: Proto, buf: &[u8]) -> Option<usize> {
    match proto {
        Proto::Binary => binary::reply_frame_len(buf).ok().flatten(),
        _ => None,
    }
}

/// The length of the complete reply at the front of `buf` (`Ok(None)` while incomplete),
/// and whether it is an error reply — without building an owned value. For load tools.
pub fn reply_len(proto: Proto, buf: &[u8]) -> Result<Option<(usize, bool)>, String> {
    match proto {
        Proto::Resp2 | Proto::Resp3 => match protocol::parse_reply(buf) {
            Ok((v, n)) => Ok(Some((n, matches!(v, RespValue::Error(_))))),
            Err(ReplyError::Incomplete) => Ok(None),
            Err(ReplyError::Invalid(why)) => Err(format!("invalid RESP reply: {why}")),
        },
        Proto::Binary => match binary::reply_frame_len(buf) {
            Ok(Some(n)) if buf.len() >= n => Ok(Some((n, buf[1] == binary::code::ERROR))),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Convert a borrowed binary reply into an owned value.
pub fn from_binary(v: &BinValue<'_>) -> Value {
    match v {
        BinValue::Ok => Value::Ok,
        BinValue::Value(b) => Value::Bytes(b.to_vec()),
        BinValue::NotFound => Value::Nil,
        BinValue::Error(m) => Value::Error(ServerError::new(String::from_utf8_lossy(m))),
        BinValue::Int(n) => Value::Int(*n),
        BinValue::Double(d) => Value::Double(*d),
        BinValue::Bool(b) => Value::Bool(*b),
        BinValue::Array(items) => Value::Array(items.iter().map(from_binary).collect()),
        BinValue::Set(items) => Value::Set(items.iter().map(from_binary).collect()),
        BinValue::Map(pairs) => Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (from_binary(k), from_binary(v)))
                .collect(),
        ),
        BinValue::BigNum(d) => Value::BigNum(String::from_utf8_lossy(d).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(proto: Proto, buf: &[u8]) -> (Value, usize) {
        match decode(proto, buf).unwrap().unwrap() {
            (Decoded::Reply(v), n) => (v, n),
            (Decoded::Push, _) => panic!("push"),
        }
    }

    #[test]
    fn binary_frames_match_the_spec() {
        let mut out = Vec::new();
        encode_get(Proto::Binary, b"k", &mut out);
        assert_eq!(out, b"\x01\x01\x00\x00\x00\x01\x00\x00\x00\x01k");
        out.clear();
        encode_set(Proto::Binary, b"k", b"v", Some(1500), &mut out);
        assert_eq!(
            out,
            b"\x01\x02\x00\x00\x00\x03\x00\x00\x00\x01k\x00\x00\x00\x01v\x00\x00\x00\x08\0\0\0\0\0\0\x05\xdc"
        );
        out.clear();
        encode_command(Proto::Binary, &["PING"], &mut out);
        assert_eq!(out, b"\x01\x05\x00\x00\x00\x01\x00\x00\x00\x04PING");
        out.clear();
        encode_del(Proto::Binary, &["a", "b"], &mut out);
        assert_eq!(
            out,
            b"\x01\x03\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x01b"
        );
    }

    #[test]
    fn resp_frames() {
        let mut out = Vec::new();
        encode_set(Proto::Resp2, b"k", b"v", Some(5), &mut out);
        assert_eq!(
            out,
            b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$1\r\n5\r\n"
        );
        out.clear();
        encode_del(Proto::Resp3, &["a"], &mut out);
        assert_eq!(out, b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n");
    }

    #[test]
    fn decodes_binary_replies_and_waits_for_whole_frames() {
        let mut buf = Vec::new();
        binary::encode_reply(
            &mut buf,
            &BinValue::Map(vec![(BinValue::Value(b"a"), BinValue::Int(1))]),
        );
        let whole = buf.len();
        binary::encode_reply(&mut buf, &BinValue::NotFound);
        for cut in 0..whole {
            assert!(
                decode(Proto::Binary, &buf[..cut]).unwrap().is_none(),
                "{cut}"
            );
            assert!(reply_len(Proto::Binary, &buf[..cut]).unwrap().is_none());
        }
        let (v, n) = one(Proto::Binary, &buf);
        assert_eq!(n, whole);
        assert_eq!(
            v,
            Value::Map(vec![(Value::Bytes(b"a".to_vec()), Value::Int(1))])
        );
        assert_eq!(one(Proto::Binary, &buf[n..]).0, Value::Nil);
        assert!(decode(Proto::Binary, b"\x02\x00\0\0\0\0").is_err());
        let mut err = Vec::new();
        binary::encode_reply(&mut err, &BinValue::Error(b"ERR x"));
        assert_eq!(
            reply_len(Proto::Binary, &err).unwrap(),
            Some((err.len(), true))
        );
    }

    #[test]
    fn resp_pushes_are_not_replies() {
        assert!(matches!(
            decode(Proto::Resp3, b">2\r\n+a\r\n+b\r\n").unwrap(),
            Some((Decoded::Push, 12))
        ));
        assert_eq!(one(Proto::Resp3, b"-ERR no\r\n").0.kind(), "error");
        assert!(decode(Proto::Resp2, b"?\r\n").is_err());
        assert_eq!(
            reply_len(Proto::Resp2, b"$1\r\nx\r\n").unwrap(),
            Some((7, false))
        );
        assert_eq!(reply_len(Proto::Resp2, b"$1\r\nx\r").unwrap(), None);
    }
}
