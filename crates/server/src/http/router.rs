//! Routing: which handler a request goes to, and the checks every route shares
//! (authentication). Paths are matched before percent-decoding, so `/size` is the seed's
//! count while `/%73ize` is the key `size`.
//!
//! | path              | methods                     | what                                   |
//! |-------------------|-----------------------------|----------------------------------------|
//! | `/health`         | GET, HEAD                   | alive (never needs auth)               |
//! | `/ready`          | GET, HEAD                   | serving; 503 while shutting down       |
//! | `/metrics`        | GET                         | Prometheus/OpenMetrics text            |
//! | `/size`           | GET, HEAD, POST             | number of keys (db 0), plain text      |
//! | `/v1/keys/{key}`  | GET, HEAD, PUT, POST, DELETE| the key's value                        |
//! | `/v1/commands`    | POST                        | run commands (JSON)                    |
//! | `/v1/stats`       | GET, HEAD                   | the stats snapshot (JSON)              |
//! | `/{key}`          | as `/v1/keys/{key}`         | the seed's API                         |

use super::keys::{self, Api};
use super::response::{self, Resp, TEXT};
use super::{body, url, ConnCtx};
use commands::stats::{self, Figure};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering::Relaxed;

/// Root paths that are not keys.
const RESERVED: &[&str] = &["", "health", "ready", "metrics", "size", "v1"];

/// Answer one request.
pub async fn handle(ctx: &ConnCtx, req: Request<Incoming>) -> Resp {
    let h = &ctx.handle;
    h.last_active_ms
        .store(h.created.elapsed().as_millis() as u64, Relaxed);
    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix('/').unwrap_or(&path);
    match rest {
        "health" => return probe(&req, true, "ok"),
        "ready" => {
            let serving = !ctx.state.shutdown.is_requested();
            return probe(
                &req,
                serving,
                if serving { "ready" } else { "shutting down" },
            );
        }
        _ => {}
    }
    if let Some(r) = refuse_unauthorized(ctx, &req) {
        return r;
    }
    if let Some(raw) = rest.strip_prefix("v1/keys/") {
        return match decode_key(raw) {
            Some(key) => keys::route(ctx, req, key, Api::V1).await,
            None => bad_key(),
        };
    }
    match rest {
        "v1/commands" => commands_route(ctx, req).await,
        "v1/cluster" => match (req.method().clone(), ctx.state.cluster.get()) {
            (Method::GET | Method::HEAD, Some(cl)) => super::cluster::describe(&ctx.state, cl),
            (Method::GET | Method::HEAD, None) => response::error(
                StatusCode::NOT_FOUND,
                "this node is not in cluster mode (docs/CLUSTER.md)",
            ),
            _ => response::method_not_allowed("GET, HEAD"),
        },
        "v1/stats" => match *req.method() {
            Method::GET | Method::HEAD => stats_json(ctx),
            _ => response::method_not_allowed("GET, HEAD"),
        },
        "size" => match *req.method() {
            Method::GET | Method::HEAD | Method::POST => {
                let n = ctx.state.ks.dbsize(0);
                ctx.state.stats.total_commands_processed.add(1);
                response::with_body(StatusCode::OK, TEXT, n.to_string())
            }
            _ => response::method_not_allowed("GET, HEAD, POST"),
        },
        "metrics" => match *req.method() {
            Method::GET | Method::HEAD => response::with_body(
                StatusCode::OK,
                HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
                crate::metrics::render(&ctx.state),
            ),
            _ => response::method_not_allowed("GET, HEAD"),
        },
        "" => response::error(
            StatusCode::NOT_FOUND,
            "no key in the path: use /v1/keys/{key} (see docs/HTTP.md)",
        ),
        r if r == "v1" || r.starts_with("v1/") => response::error(
            StatusCode::NOT_FOUND,
            &format!("unknown endpoint {path} (see docs/HTTP.md)"),
        ),
        raw => {
            debug_assert!(!RESERVED.contains(&raw));
            match decode_key(raw) {
                Some(key) => keys::route(ctx, req, key, Api::Root).await,
                None => bad_key(),
            }
        }
    }
}

fn decode_key(raw: &str) -> Option<Vec<u8>> {
    url::percent_decode(raw.as_bytes(), false).map(|k| k.into_owned())
}

fn bad_key() -> Resp {
    response::error(
        StatusCode::BAD_REQUEST,
        "invalid percent-encoding in the key (use %XX with two hex digits)",
    )
}

/// `/health` and `/ready`: open to everyone (load balancers and orchestrators probe them
/// without credentials), GET or HEAD.
fn probe(req: &Request<Incoming>, up: bool, status: &str) -> Resp {
    match *req.method() {
        Method::GET | Method::HEAD => {
            let code = if up {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            response::json(code, &json!({ "status": status }))
        }
        _ => response::method_not_allowed("GET, HEAD"),
    }
}

/// With `requirepass` set, every route but the probes needs `Authorization: Bearer <pw>`.
/// The 401 for a request without the right credentials, if it lacks them.
fn refuse_unauthorized(ctx: &ConnCtx, req: &Request<Incoming>) -> Option<Resp> {
    let pass = ctx.state.settings.requirepass.read();
    let pass = pass.as_deref()?;
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| v.strip_prefix(b"Bearer "));
    let msg = match given {
        Some(p) if constant_time_eq(p, pass.as_bytes()) => return None,
        Some(_) => "WRONGPASS invalid username-password pair or user is disabled.",
        None => "NOAUTH Authentication required.",
    };
    let mut r = response::error(StatusCode::UNAUTHORIZED, msg);
    r.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"rcache\""),
    );
    Some(r)
}

/// Compare without an early exit, so the time taken does not reveal the matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn commands_route(ctx: &ConnCtx, req: Request<Incoming>) -> Resp {
    if req.method() != Method::POST {
        return response::method_not_allowed("POST");
    }
    if !body::has_length(req.headers()) {
        return response::error(
            StatusCode::LENGTH_REQUIRED,
            "a command needs a body with a Content-Length (or chunked transfer encoding)",
        );
    }
    // A command carries values, so the same limit applies, plus room for the JSON around.
    let max = ctx.state.settings.proto_max_bulk_len.load(Relaxed).max(0) as u64;
    let max = max.saturating_mul(2).saturating_add(1 << 20);
    match body::read(req.into_body(), max).await {
        Ok(b) => super::commands::run(ctx, &b).await,
        Err(r) => r,
    }
}

/// `/v1/stats`: every figure of `commands::stats::snapshot`, and connections per door.
fn stats_json(ctx: &ConnCtx) -> Resp {
    let snap = stats::snapshot(&ctx.state);
    let mut m = Map::new();
    for s in &snap.figures {
        let v = match s.value {
            Figure::Int(n) => Value::from(n),
            Figure::Float(f) => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        };
        m.insert(s.name.to_string(), v);
    }
    let mut doors = Map::new();
    for d in &snap.doors {
        doors.insert(
            d.door.name().to_string(),
            json!({ "connected": d.connected, "received": d.received }),
        );
    }
    m.insert("connections_per_door".into(), Value::Object(doors));
    response::json(StatusCode::OK, &Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secrets"));
        assert!(constant_time_eq(b"", b""));
    }
}
