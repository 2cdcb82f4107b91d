//! The owned reply type, [`Value`], and the conversions the typed helpers use.
//!
//! One `Value` shape covers every transport: RESP2, RESP3 and the rcache binary protocol
//! all decode into it, so code written against one works against the others. Where a
//! transport has less detail (RESP2 has no maps, doubles or booleans; the binary protocol
//! has no simple strings besides `OK`), the value is what that transport said; the
//! `as_*`/`into_*` helpers accept every spelling of the same thing.

use crate::error::{Error, ServerError};
use protocol::RespValue;

/// One reply from the server, owning its data.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A null: RESP2 `$-1`/`*-1`, RESP3 `_`, binary NOT_FOUND.
    Nil,
    /// `+OK` (RESP) or the binary OK code.
    Ok,
    /// Any other simple string (`+PONG`, `+QUEUED`, …).
    Status(String),
    /// A bulk string (also RESP3 verbatim strings, without their format prefix, and binary
    /// VALUE bodies).
    Bytes(Vec<u8>),
    /// An integer.
    Int(i64),
    /// A double (RESP3 `,` or binary DOUBLE).
    Double(f64),
    /// A boolean (RESP3 `#` or binary BOOL).
    Bool(bool),
    /// An array (also RESP2's answer where RESP3 would give a map or set).
    Array(Vec<Value>),
    /// A map, in the server's order (RESP3 `%` or binary MAP).
    Map(Vec<(Value, Value)>),
    /// A set (RESP3 `~` or binary SET).
    Set(Vec<Value>),
    /// A big number, as its decimal digits.
    BigNum(String),
    /// An error *inside* a reply: an element of an EXEC result, or one command's answer in
    /// a [`Pipeline`](crate::Pipeline). A top-level error reply to a single command is
    /// returned as [`Error::Server`] instead, never as this variant.
    Error(ServerError),
}

impl Value {
    /// Convert a borrowed RESP reply (from `protocol::parse_reply`) into an owned value.
    /// RESP3 push messages are not replies and never reach this function.
    pub fn from_resp(v: &RespValue<'_>) -> Value {
        match v {
            RespValue::Simple(s) if *s == b"OK" => Value::Ok,
            RespValue::Simple(s) => Value::Status(String::from_utf8_lossy(s).into_owned()),
            RespValue::Error(e) => Value::Error(ServerError::new(String::from_utf8_lossy(e))),
            RespValue::Int(n) => Value::Int(*n),
            RespValue::Bulk(b) => Value::Bytes(b.to_vec()),
            RespValue::NullBulk | RespValue::NullArray | RespValue::Null => Value::Nil,
            RespValue::Array(items) | RespValue::Push(items) => {
                Value::Array(items.iter().map(Value::from_resp).collect())
            }
            RespValue::Set(items) => Value::Set(items.iter().map(Value::from_resp).collect()),
            RespValue::Map(pairs) => Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (Value::from_resp(k), Value::from_resp(v)))
                    .collect(),
            ),
            RespValue::Double(d) => Value::Double(*d),
            RespValue::Bool(b) => Value::Bool(*b),
            RespValue::BigNumber(n) => Value::BigNum(String::from_utf8_lossy(n).into_owned()),
            RespValue::Verbatim(_, text) => Value::Bytes(text.to_vec()),
        }
    }

    /// `Err(Error::Server)` for an error value, the value itself otherwise.
    pub fn into_result(self) -> Result<Value, Error> {
        match self {
            Value::Error(e) => Err(Error::Server(e)),
            v => Ok(v),
        }
    }

    /// True for [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The bytes of a string-like value (bulk, status, `OK`), if it is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::Status(s) => Some(s.as_bytes()),
            Value::Ok => Some(b"OK"),
            _ => None,
        }
    }

    /// The text of a string-like value, if it is one and is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// An integer value, or a string holding one (RESP2 sends some numbers as bulks).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Bool(b) => Some(*b as i64),
            Value::Bytes(_) | Value::Status(_) | Value::BigNum(_) => self.as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// A double, or a string/integer holding one (RESP2 sends scores as bulks).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(d) => Some(*d),
            Value::Int(n) => Some(*n as f64),
            Value::Bytes(_) | Value::Status(_) => match self.as_str()? {
                "inf" | "+inf" => Some(f64::INFINITY),
                "-inf" => Some(f64::NEG_INFINITY),
                s => s.parse().ok(),
            },
            _ => None,
        }
    }

    /// The elements of an array or set; a map's keys and values flattened in order (which
    /// is what RESP2 sends for the same reply).
    pub fn into_items(self) -> Option<Vec<Value>> {
        match self {
            Value::Array(v) | Value::Set(v) => Some(v),
            Value::Map(pairs) => Some(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
            _ => None,
        }
    }

    /// Key/value pairs of a map, or of a flat array of even length (RESP2's spelling).
    pub fn into_pairs(self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Map(pairs) => Some(pairs),
            Value::Array(v) if v.len() % 2 == 0 => {
                let mut out = Vec::with_capacity(v.len() / 2);
                let mut it = v.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    out.push((k, v));
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// The owned bytes of a string-like value.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::Status(s) => Some(s.into_bytes()),
            Value::Ok => Some(b"OK".to_vec()),
            _ => None,
        }
    }

    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Ok => "OK",
            Value::Status(_) => "status",
            Value::Bytes(_) => "bytes",
            Value::Int(_) => "integer",
            Value::Double(_) => "double",
            Value::Bool(_) => "boolean",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Set(_) => "set",
            Value::BigNum(_) => "big number",
            Value::Error(_) => "error",
        }
    }
}

/// An error for a reply of the wrong shape for what a typed helper expects.
pub(crate) fn unexpected(what: &str, v: &Value) -> Error {
    Error::Protocol(format!("unexpected {} reply to {what}", v.kind()))
}

/// Conversions the typed helpers apply to a reply.
pub(crate) mod conv {
    use super::{unexpected, Value};
    use crate::Error;

    pub fn ok(what: &str, v: Value) -> Result<(), Error> {
        match v {
            Value::Ok | Value::Status(_) => Ok(()),
            v => Err(unexpected(what, &v)),
        }
    }

    pub fn int(what: &str, v: Value) -> Result<i64, Error> {
        v.as_int().ok_or_else(|| unexpected(what, &v))
    }

    pub fn boolean(what: &str, v: Value) -> Result<bool, Error> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Int(n) => Ok(n != 0),
            // SET … NX answers OK or nil.
            Value::Ok => Ok(true),
            Value::Nil => Ok(false),
            v => Err(unexpected(what, &v)),
        }
    }

    pub fn opt_bytes(what: &str, v: Value) -> Result<Option<Vec<u8>>, Error> {
        match v {
            Value::Nil => Ok(None),
            v => match v.into_bytes() {
                Some(b) => Ok(Some(b)),
                None => Err(Error::Protocol(format!("unexpected reply to {what}"))),
            },
        }
    }

    pub fn items(what: &str, v: Value) -> Result<Vec<Value>, Error> {
        match v {
            Value::Array(_) | Value::Set(_) | Value::Map(_) => {
                Ok(v.into_items().unwrap_or_default())
            }
            v => Err(unexpected(what, &v)),
        }
    }

    pub fn bytes_list(what: &str, v: Value) -> Result<Vec<Vec<u8>>, Error> {
        items(what, v)?
            .into_iter()
            .map(|v| {
                let err = unexpected(what, &v);
                v.into_bytes().ok_or(err)
            })
            .collect()
    }

    pub fn opt_bytes_list(what: &str, v: Value) -> Result<Vec<Option<Vec<u8>>>, Error> {
        items(what, v)?
            .into_iter()
            .map(|v| opt_bytes(what, v))
            .collect()
    }

    pub fn pairs(what: &str, v: Value) -> Result<Vec<crate::BytesPair>, Error> {
        let err = unexpected(what, &v);
        let pairs = v.into_pairs().ok_or(err)?;
        pairs
            .into_iter()
            .map(|(k, v)| match (k.into_bytes(), v.into_bytes()) {
                (Some(k), Some(v)) => Ok((k, v)),
                _ => Err(Error::Protocol(format!("unexpected reply to {what}"))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_resp_covers_every_shape() {
        let cases: Vec<(&[u8], Value)> = vec![
            (b"+OK\r\n", Value::Ok),
            (b"+PONG\r\n", Value::Status("PONG".into())),
            (b":-3\r\n", Value::Int(-3)),
            (b"$2\r\nab\r\n", Value::Bytes(b"ab".to_vec())),
            (b"$-1\r\n", Value::Nil),
            (b"*-1\r\n", Value::Nil),
            (b"_\r\n", Value::Nil),
            (b",2.5\r\n", Value::Double(2.5)),
            (b"#f\r\n", Value::Bool(false)),
            (b"(123\r\n", Value::BigNum("123".into())),
            (b"=7\r\ntxt:abc\r\n", Value::Bytes(b"abc".to_vec())),
            (
                b"-WRONGTYPE bad\r\n",
                Value::Error(ServerError::new("WRONGTYPE bad")),
            ),
            (
                b"*2\r\n:1\r\n~1\r\n+a\r\n",
                Value::Array(vec![
                    Value::Int(1),
                    Value::Set(vec![Value::Status("a".into())]),
                ]),
            ),
            (
                b"%1\r\n$1\r\nk\r\n:1\r\n",
                Value::Map(vec![(Value::Bytes(b"k".to_vec()), Value::Int(1))]),
            ),
        ];
        for (wire, want) in cases {
            let (v, _) = protocol::parse_reply(wire).unwrap();
            assert_eq!(Value::from_resp(&v), want, "{wire:?}");
        }
    }

    #[test]
    fn accessors_accept_every_spelling() {
        assert_eq!(Value::Bytes(b"12".to_vec()).as_int(), Some(12));
        assert_eq!(Value::Bytes(b"1.5".to_vec()).as_f64(), Some(1.5));
        assert_eq!(
            Value::Bytes(b"-inf".to_vec()).as_f64(),
            Some(f64::NEG_INFINITY)
        );
        assert_eq!(Value::Ok.as_str(), Some("OK"));
        let flat = Value::Array(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(
            flat.clone().into_pairs(),
            Some(vec![(Value::Int(1), Value::Int(2))])
        );
        let map = Value::Map(vec![(Value::Int(1), Value::Int(2))]);
        assert_eq!(map.into_items(), flat.into_items());
        assert!(Value::Array(vec![Value::Nil]).into_pairs().is_none());
        assert!(matches!(
            Value::Error(ServerError::new("ERR x")).into_result(),
            Err(Error::Server(_))
        ));
    }
}
