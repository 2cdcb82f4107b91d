//! Building responses: JSON bodies and errors (`{"error": "..."}`), raw values, and the
//! headers every route shares. Nothing here can fail, so no handler unwraps.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Response, StatusCode};

pub type Body = Full<Bytes>;
pub type Resp = Response<Body>;

pub const JSON: HeaderValue = HeaderValue::from_static("application/json");
pub const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");
pub const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
/// The remaining time to live of a key, in milliseconds (absent: the key does not expire).
pub const X_TTL_MS: HeaderName = HeaderName::from_static("x-ttl-ms");

/// A response with `status`, a body and its content type.
pub fn with_body(status: StatusCode, ctype: HeaderValue, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, ctype);
    r
}

/// An empty response (201, 204…).
pub fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// A JSON body.
pub fn json(status: StatusCode, v: &serde_json::Value) -> Resp {
    // Serialising a `Value` cannot fail (its map keys are strings).
    let body = serde_json::to_vec(v).unwrap_or_default();
    with_body(status, JSON, body)
}

/// `{"error": msg}` with `status`.
pub fn error(status: StatusCode, msg: &str) -> Resp {
    json(status, &serde_json::json!({ "error": msg }))
}

/// 405 with the methods the route allows.
pub fn method_not_allowed(allow: &'static str) -> Resp {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed here; allowed: {allow}"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// A header value of digits.
pub fn number(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

/// The HTTP status an error reply from a command maps to, by its Redis error code.
pub fn status_for_error(msg: &str) -> StatusCode {
    let code = msg.split(' ').next().unwrap_or("");
    match code {
        "WRONGTYPE" => StatusCode::CONFLICT,
        "OOM" => StatusCode::INSUFFICIENT_STORAGE,
        "BUSY" | "LOADING" | "MASTERDOWN" => StatusCode::SERVICE_UNAVAILABLE,
        "NOAUTH" | "WRONGPASS" => StatusCode::UNAUTHORIZED,
        "NOPERM" => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_statuses() {
        let s = |m| status_for_error(m).as_u16();
        assert_eq!(
            s("WRONGTYPE Operation against a key holding the wrong kind of value"),
            409
        );
        assert_eq!(
            s("OOM command not allowed when used memory > 'maxmemory'."),
            507
        );
        assert_eq!(s("BUSY Redis is busy running a script."), 503);
        assert_eq!(s("ERR syntax error"), 400);
        assert_eq!(s(""), 400);
    }
}
