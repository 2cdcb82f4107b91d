//! Reading a request body under `proto-max-bulk-len`: a declared Content-Length over the
//! limit is refused (413) before a byte of the body is read; a chunked body is counted as
//! it streams and refused the moment it passes the limit.

use super::response::{self, Resp};
use bytes::Bytes;
use bytes::BytesMut;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{HeaderMap, StatusCode};
use std::time::Duration;

/// Whether the request says how long its body is (Content-Length or chunked).
pub fn has_length(headers: &HeaderMap) -> bool {
    headers.contains_key(CONTENT_LENGTH) || headers.contains_key(TRANSFER_ENCODING)
}

/// How much of a body past the limit is read and dropped so the 413 reaches the client:
/// closing a socket with unread data makes the kernel reset the connection, and the client
/// would see a reset instead of the answer.
const DRAIN_MAX: u64 = 16 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(2);

fn too_large(max: u64, close: bool) -> Resp {
    let mut r = response::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("ERR value is larger than proto-max-bulk-len ({max} bytes)"),
    );
    if close {
        // The rest of the body is not read: the connection cannot carry another request.
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Read the whole body, at most `max` bytes. A declared Content-Length over `max` is
/// refused before anything is read; a streamed (chunked) body is refused once it passes
/// `max`, after dropping what follows (up to `DRAIN_MAX`), so the connection stays usable.
pub async fn read(mut body: Incoming, max: u64) -> Result<Bytes, Resp> {
    use hyper::body::Body as _;
    if body.size_hint().exact().is_some_and(|n| n > max) {
        return Err(too_large(max, true));
    }
    let mut buf = BytesMut::new();
    let mut first: Option<Bytes> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            response::error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let have = first.as_ref().map_or(0, |b| b.len()) + buf.len();
        if (have + data.len()) as u64 > max {
            return Err(drain(body, max).await);
        }
        // A body in one frame (the common case) is kept without a copy.
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            None => buf.extend_from_slice(&data),
            Some(f) => {
                buf.reserve(f.len() + data.len());
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

/// Drop the rest of an over-long body (bounded in size and time), then answer 413.
async fn drain(mut body: Incoming, max: u64) -> Resp {
    let mut dropped = 0u64;
    let ended = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(d) = frame.into_data() {
                dropped += d.len() as u64;
                if dropped > DRAIN_MAX {
                    return false;
                }
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    too_large(max, !ended)
}
