//! Reading a request body under `proto-max-bulk-len`: a declared Content-Length over the
//! limit is refused (413) before a byte of the body is read; a chunked body is counted as
//! it streams and refused the moment it passes the limit.

use super::response::{self, Resp};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{HeaderMap, StatusCode};

/// Whether the request says how long its body is (Content-Length or chunked).
pub fn has_length(headers: &HeaderMap) -> bool {
    headers.contains_key(CONTENT_LENGTH) || headers.contains_key(TRANSFER_ENCODING)
}

fn too_large(max: u64) -> Resp {
    let mut r = response::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("ERR value is larger than proto-max-bulk-len ({max} bytes)"),
    );
    // The rest of the body is not read: the connection cannot carry another request.
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Check the declared length against `max` before reading anything.
pub fn check_declared(body: &Incoming, max: u64) -> Result<(), Resp> {
    use hyper::body::Body as _;
    match body.size_hint().exact() {
        Some(n) if n > max => Err(too_large(max)),
        _ => Ok(()),
    }
}

/// Read the whole body, at most `max` bytes.
pub async fn read(body: Incoming, max: u64) -> Result<Bytes, Resp> {
    check_declared(&body, max)?;
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max)),
        Err(e) => Err(response::error(
            StatusCode::BAD_REQUEST,
            &format!("cannot read request body: {e}"),
        )),
    }
}
