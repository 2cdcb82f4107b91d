//! JSON ⇄ the command layer: request bodies of `/v1/commands` into argument lists, and
//! RESP3 replies into JSON (the table in docs/HTTP.md).
//!
//! | RESP3 reply                    | JSON                                                  |
//! |--------------------------------|-------------------------------------------------------|
//! | simple / bulk / verbatim string| string; `{"base64": "..."}` when not UTF-8            |
//! | integer                        | number                                                |
//! | double                         | number; `"inf"`, `"-inf"`, `"nan"` as strings          |
//! | big number                     | string of its digits                                  |
//! | boolean                        | `true` / `false`                                      |
//! | null (any kind)                | `null`                                                |
//! | array, set, push               | array                                                 |
//! | map                            | object when every key is a UTF-8 string, else an array of `[key, value]` pairs |
//! | error (inside an array)        | `{"error": "..."}`                                     |

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::value::RespValue;
use serde_json::{Map, Value};

/// A string reply: text when UTF-8, else `{"base64": ...}`.
pub fn bytes_to_json(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => serde_json::json!({ "base64": B64.encode(b) }),
    }
}

/// A reply as JSON. A top-level error is the caller's to turn into `{"error"}`; nested
/// errors (EXEC's results) become `{"error": "..."}` objects.
pub fn reply_to_json(v: &RespValue<'_>) -> Value {
    match v {
        RespValue::Simple(s) | RespValue::Bulk(s) | RespValue::Verbatim(_, s) => bytes_to_json(s),
        RespValue::Error(e) => serde_json::json!({ "error": String::from_utf8_lossy(e) }),
        RespValue::Int(n) => Value::from(*n),
        RespValue::Double(d) => double(*d),
        RespValue::Bool(b) => Value::Bool(*b),
        RespValue::BigNumber(s) => Value::String(String::from_utf8_lossy(s).into_owned()),
        RespValue::Null | RespValue::NullBulk | RespValue::NullArray => Value::Null,
        RespValue::Array(items) | RespValue::Set(items) | RespValue::Push(items) => {
            Value::Array(items.iter().map(reply_to_json).collect())
        }
        RespValue::Map(pairs) => {
            fn text_key<'a>(k: &RespValue<'a>) -> Option<&'a str> {
                match k {
                    RespValue::Simple(s) | RespValue::Bulk(s) | RespValue::Verbatim(_, s) => {
                        std::str::from_utf8(s).ok()
                    }
                    _ => None,
                }
            }
            if pairs.iter().all(|(k, _)| text_key(k).is_some()) {
                let mut m = Map::with_capacity(pairs.len());
                for (k, v) in pairs {
                    m.insert(
                        text_key(k).unwrap_or_default().to_string(),
                        reply_to_json(v),
                    );
                }
                Value::Object(m)
            } else {
                Value::Array(
                    pairs
                        .iter()
                        .map(|(k, v)| Value::Array(vec![reply_to_json(k), reply_to_json(v)]))
                        .collect(),
                )
            }
        }
    }
}

fn double(d: f64) -> Value {
    match serde_json::Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None if d.is_nan() => Value::String("nan".into()),
        None if d > 0.0 => Value::String("inf".into()),
        None => Value::String("-inf".into()),
    }
}

/// One command's arguments, name first.
pub type Command = Vec<Vec<u8>>;

/// What a `/v1/commands` body asks for.
#[derive(Debug, PartialEq)]
pub enum Request {
    /// `["SET", "k", "v"]` → `{"result": ...}`
    Single(Command),
    /// `[["SET", "k", "v"], ["GET", "k"]]` → `[{"result": ...}, ...]`
    Batch(Vec<Command>),
}

/// Parse a `/v1/commands` body. Err is the message of a 400 answer; nothing runs then.
pub fn parse_request(body: &[u8]) -> Result<Request, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Array(items) = v else {
        return Err(
            "expected a JSON array: a command [\"GET\",\"k\"] or a batch [[\"SET\",\"k\",\"v\"],[\"GET\",\"k\"]]"
                .into(),
        );
    };
    if items.is_empty() {
        return Err("empty command".into());
    }
    if items.iter().any(Value::is_array) {
        let mut batch = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Value::Array(args) = item else {
                return Err(format!(
                    "batch item {i} is not an array (a batch is an array of commands)"
                ));
            };
            batch.push(parse_command(args).map_err(|e| format!("batch item {i}: {e}"))?);
        }
        Ok(Request::Batch(batch))
    } else {
        parse_command(&items).map(Request::Single)
    }
}

fn parse_command(args: &[Value]) -> Result<Command, String> {
    if args.is_empty() {
        return Err("empty command".into());
    }
    args.iter()
        .enumerate()
        .map(|(i, a)| parse_arg(a).map_err(|e| format!("argument {i}: {e}")))
        .collect()
}

/// An argument: a string, a number (its JSON text), or `{"base64": "..."}` for any bytes.
fn parse_arg(a: &Value) -> Result<Vec<u8>, String> {
    match a {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Number(n) => Ok(n.to_string().into_bytes()),
        Value::Object(m) => match (m.len(), m.get("base64")) {
            (1, Some(Value::String(s))) => {
                B64.decode(s).map_err(|e| format!("invalid base64: {e}"))
            }
            _ => Err("an object argument must be {\"base64\": \"...\"}".into()),
        },
        _ => Err("must be a string, a number or {\"base64\": \"...\"}".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::value::parse_reply;
    use serde_json::json;

    fn j(resp: &[u8]) -> Value {
        let (v, n) = parse_reply(resp).expect("valid reply");
        assert_eq!(n, resp.len());
        reply_to_json(&v)
    }

    #[test]
    fn scalars() {
        assert_eq!(j(b"+OK\r\n"), json!("OK"));
        assert_eq!(j(b"$3\r\nabc\r\n"), json!("abc"));
        assert_eq!(j(b"$2\r\n\xff\x00\r\n"), json!({"base64": "/wA="}));
        assert_eq!(j(b"=7\r\ntxt:hi!\r\n"), json!("hi!"));
        assert_eq!(j(b":-42\r\n"), json!(-42));
        assert_eq!(j(b",1.5\r\n"), json!(1.5));
        assert_eq!(j(b",inf\r\n"), json!("inf"));
        assert_eq!(j(b",-inf\r\n"), json!("-inf"));
        assert_eq!(j(b",nan\r\n"), json!("nan"));
        assert_eq!(j(b"#t\r\n"), json!(true));
        assert_eq!(j(b"#f\r\n"), json!(false));
        assert_eq!(j(b"_\r\n"), Value::Null);
        assert_eq!(j(b"$-1\r\n"), Value::Null);
        assert_eq!(j(b"*-1\r\n"), Value::Null);
        assert_eq!(
            j(b"(3492890328409238509324850943850943825024385\r\n"),
            json!("3492890328409238509324850943850943825024385")
        );
    }

    #[test]
    fn containers() {
        assert_eq!(j(b"*2\r\n:1\r\n$1\r\na\r\n"), json!([1, "a"]));
        assert_eq!(j(b"~2\r\n+x\r\n+y\r\n"), json!(["x", "y"]));
        assert_eq!(j(b"*0\r\n"), json!([]));
        assert_eq!(
            j(b"%2\r\n$4\r\nname\r\n$3\r\nada\r\n+n\r\n:1\r\n"),
            json!({"name": "ada", "n": 1})
        );
        // Integer keys (or non-UTF-8 ones) cannot be JSON object keys: pairs instead.
        assert_eq!(
            j(b"%2\r\n:1\r\n+a\r\n$1\r\n\xff\r\n+b\r\n"),
            json!([[1, "a"], [{"base64": "/w=="}, "b"]])
        );
        assert_eq!(
            j(b"*2\r\n+OK\r\n-ERR boom\r\n"),
            json!(["OK", {"error": "ERR boom"}])
        );
    }

    #[test]
    fn map_keeps_reply_order() {
        assert_eq!(
            serde_json::to_string(&j(b"%2\r\n+z\r\n:1\r\n+a\r\n:2\r\n")).unwrap(),
            r#"{"z":1,"a":2}"#
        );
    }

    #[test]
    fn requests() {
        assert_eq!(
            parse_request(br#"["SET","k",{"base64":"/wA="},10,1.5]"#),
            Ok(Request::Single(vec![
                b"SET".to_vec(),
                b"k".to_vec(),
                vec![0xff, 0],
                b"10".to_vec(),
                b"1.5".to_vec()
            ]))
        );
        assert_eq!(
            parse_request(br#"[["PING"],["GET","a"]]"#),
            Ok(Request::Batch(vec![
                vec![b"PING".to_vec()],
                vec![b"GET".to_vec(), b"a".to_vec()]
            ]))
        );
        for bad in [
            &b"not json"[..],
            b"{}",
            b"[]",
            b"[[]]",
            b"[[\"GET\"],\"x\"]",
            b"[\"GET\",null]",
            b"[\"GET\",true]",
            b"[\"GET\",[\"x\"]]",
            b"[{\"base64\":\"!!\"}]",
            b"[{\"b64\":\"AA==\"}]",
        ] {
            assert!(
                parse_request(bad).is_err(),
                "{} should be refused",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
