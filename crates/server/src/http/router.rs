//! Routing: which handler a request goes to, and the checks every route shares
//! (authentication, ACL permissions). Paths are matched before percent-decoding, so
//! `/size` is the seed's count while `/%73ize` is the key `size`.
//!
//! Every route but the probes runs as an ACL user (docs/ACL.md): the one named by
//! `Authorization: Bearer <user>:<password>` (or `Basic`), the default user for
//! `Bearer <password>`, and without credentials the default user when it needs no
//! password. A key route is checked as the command it does (GET/HEAD as GET, PUT/POST as
//! SET, DELETE as DEL), `/size` as DBSIZE, `/v1/stats` and `/metrics` as INFO;
//! `/v1/commands` runs each command as that user. 401 for missing or wrong credentials,
//! 403 (`NOPERM …`) for what the user may not do.
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
use base64::Engine as _;
use commands::clients::Session;
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
    let mut sess = match authorize(ctx, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Some(raw) = rest.strip_prefix("v1/keys/") {
        return match decode_key(raw) {
            Some(key) => match forbid_key(ctx, &mut sess, req.method(), &key) {
                Some(r) => r,
                None => keys::route(ctx, req, key, Api::V1).await,
            },
            None => bad_key(),
        };
    }
    let checked_as = match rest {
        "size" => Some("dbsize"),
        "v1/stats" | "metrics" => Some("info"),
        "v1/cluster" => Some("cluster|info"),
        _ => None,
    };
    if let Some(name) = checked_as {
        let (cmd, sub) = name
            .split_once('|')
            .map_or((name, None), |(c, s)| (c, Some(s)));
        let args: Vec<&[u8]> = sub.map(str::as_bytes).into_iter().collect();
        if let Err(msg) = commands::acl::check_as(&ctx.state, &mut sess, cmd, &args) {
            return response::error(StatusCode::FORBIDDEN, &msg);
        }
    }
    match rest {
        "v1/commands" => commands_route(ctx, req, sess).await,
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
                Some(key) => match forbid_key(ctx, &mut sess, req.method(), &key) {
                    Some(r) => r,
                    None => keys::route(ctx, req, key, Api::Root).await,
                },
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

/// The credentials of a request: (user, password) from `Authorization: Bearer
/// <user>:<password>` (`Bearer <password>` is the default user's, as is a token whose part
/// before `:` names no user) or `Basic base64(<user>:<password>)`.
fn credentials(ctx: &ConnCtx, header: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if let Some(token) = header.strip_prefix(b"Bearer ") {
        if let Some(i) = token.iter().position(|&b| b == b':') {
            if ctx.state.acl.user(&token[..i]).is_some() {
                return Some((token[..i].to_vec(), token[i + 1..].to_vec()));
            }
        }
        return Some((b"default".to_vec(), token.to_vec()));
    }
    let b64 = header.strip_prefix(b"Basic ")?;
    let plain = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let i = plain.iter().position(|&b| b == b':')?;
    Some((plain[..i].to_vec(), plain[i + 1..].to_vec()))
}

/// The request's session: authenticated as the user its credentials name, or as the
/// default user when that needs no password. Err: the 401 (NOAUTH without credentials
/// when they are needed, WRONGPASS for wrong ones).
fn authorize(ctx: &ConnCtx, req: &Request<Incoming>) -> Result<Session, Box<Resp>> {
    let mut sess = Session::new(ctx.handle.clone(), true);
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| credentials(ctx, v.as_bytes()));
    let msg = match given {
        Some((user, pass)) => {
            match commands::acl::authenticate_door(&ctx.state, &mut sess, &user, &pass) {
                Ok(()) => return Ok(sess),
                Err(msg) => msg,
            }
        }
        None if !ctx.state.auth_required() => {
            *ctx.handle.user.lock() = b"default"[..].into();
            return Ok(sess);
        }
        None => "NOAUTH Authentication required.",
    };
    let mut r = response::error(StatusCode::UNAUTHORIZED, msg);
    r.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"rcache\""),
    );
    Err(Box::new(r))
}

/// A key route the user may not take: 403 with the NOPERM words. A key route is checked
/// as the command it does.
fn forbid_key(ctx: &ConnCtx, sess: &mut Session, method: &Method, key: &[u8]) -> Option<Resp> {
    let name = match *method {
        Method::GET | Method::HEAD => "get",
        Method::PUT | Method::POST => "set",
        Method::DELETE => "del",
        _ => return None,
    };
    commands::acl::check_as(&ctx.state, sess, name, &[key])
        .err()
        .map(|msg| response::error(StatusCode::FORBIDDEN, &msg))
}

async fn commands_route(ctx: &ConnCtx, req: Request<Incoming>, sess: Session) -> Resp {
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
        Ok(b) => super::commands::run(ctx, sess, &b).await,
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
