//! The key routes: `GET|HEAD|PUT|POST|DELETE /v1/keys/{key}` and the seed's root paths
//! (`/{key}`). The value is the raw body (`application/octet-stream`).
//!
//! Each request is one storage transaction on database 0, holding a gate share like any
//! command: a read gets the value and its TTL under one shard lock, and a conditional
//! write checks and writes under the same lock. Writes pass the same memory check as
//! RESP's SET (`ensure_memory`, which evicts under an eviction policy) and reads count
//! keyspace hits and misses.

use super::response::{self, Resp, OCTETS, X_TTL_MS};
use super::{body, url, ConnCtx};
use bytes::Bytes;
use commands::ServerState;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, IF_MATCH, IF_NONE_MATCH, LOCATION};
use hyper::{Method, Request, StatusCode};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use storage::entry::{Expiry, ObjType};

/// HTTP key operations address database 0, as a fresh RESP client does.
const DB: usize = 0;

pub const ALLOW: &str = "GET, HEAD, PUT, POST, DELETE";

const NO_SUCH_KEY: &str = "ERR no such key";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Which API a key route was reached through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `/v1/keys/{key}`: writes answer 201 (created) or 204 (replaced).
    V1,
    /// `/{key}`, the seed's API: writes answer 200 with the value echoed, as its server did.
    Root,
}

/// Serve a key route for `key` (already percent-decoded).
pub async fn route(ctx: &ConnCtx, req: Request<Incoming>, key: Vec<u8>, api: Api) -> Resp {
    // Cluster mode: a key of another node's slot is served by that node (cluster.rs).
    let req = match ctx.state.cluster.get() {
        Some(cl) => match super::cluster::route_key(cl, req, &key).await {
            super::cluster::KeyRoute::Here(req) => req,
            super::cluster::KeyRoute::Done(r) => return r,
        },
        None => req,
    };
    let method = req.method().clone();
    // CLIENT PAUSE: writes (every request under ALL) wait for its end, as RESP's do.
    if ctx.state.pause.active() {
        let write = !matches!(method, Method::GET | Method::HEAD);
        let still = || commands::pause::holds_native(&ctx.state, None, write);
        if still()
            && commands::pause::wait(&ctx.state, &ctx.handle.kill_notify, still)
                .await
                .is_err()
        {
            return response::error(StatusCode::SERVICE_UNAVAILABLE, "ERR client killed");
        }
    }
    let monitored = ctx.state.monitors.active().then(|| key.clone());
    let r = match method {
        Method::GET => read(&ctx.state, &key, false, req.uri().query()).await,
        Method::HEAD => read(&ctx.state, &key, true, req.uri().query()).await,
        Method::PUT | Method::POST => write(ctx, req, key, api).await,
        Method::DELETE => delete(&ctx.state, &key, req.uri().query()).await,
        _ => return response::method_not_allowed(ALLOW),
    };
    // Its invalidations reach tracking clients before the answer (`commands::tracking`).
    let mut sent = Vec::new();
    commands::tracking::take_sent(&mut sent);
    if !sent.is_empty() {
        commands::tracking::wait_delivered(&mut sent, None).await;
    }
    // MONITOR shows a key route as its method and key.
    if let Some(key) = monitored {
        let m = method.as_str().as_bytes();
        commands::monitor::feed_from(&ctx.state, &ctx.handle.addr, DB, &[m, &key]);
    }
    r
}

/// A gate share (`commands::gate`): waits while EXEC or a script runs, and answers 503 BUSY
/// once a script has run past `busy-reply-threshold`, as RESP does.
async fn share(state: &ServerState) -> Result<commands::gate::Shared<'_>, Resp> {
    // While the start-up load runs, keys are answered as RESP answers them: LOADING (a
    // write now would be overwritten by the load, or missed by the log).
    if state
        .persistence
        .loading
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Err(response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            commands::persistence::LOADING_MSG,
        ));
    }
    if let Some(g) = state.gate.try_shared() {
        return Ok(g);
    }
    let shared = state.gate.shared();
    tokio::pin!(shared);
    loop {
        tokio::select! {
            g = &mut shared => return Ok(g),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if state.gate.busy_since().is_some_and(|t| t >= commands::busy_reply_threshold(state)) {
                    return Err(response::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        commands::BUSY_MSG,
                    ));
                }
            }
        }
    }
}

/// The 400 for a query string on a method that takes none.
fn unexpected_query(query: Option<&str>) -> Option<Resp> {
    match query {
        Some(q) if !q.is_empty() => Some(response::error(
            StatusCode::BAD_REQUEST,
            &format!("unknown query parameters '{q}' (this method takes none)"),
        )),
        _ => None,
    }
}

/// GET and HEAD: the value, `X-TTL-Ms` when it expires.
async fn read(state: &ServerState, key: &[u8], head: bool, query: Option<&str>) -> Resp {
    if let Some(r) = unexpected_query(query) {
        return r;
    }
    let found = {
        let _g = match share(state).await {
            Ok(g) => g,
            Err(r) => return r,
        };
        let k = state.ks.key(key);
        let mut t = state.ks.txn1(DB, &k);
        let now = t.now();
        match t.get(&k) {
            None => None,
            Some(e) if e.obj_type() != ObjType::String => Some(Err(())),
            Some(e) => {
                let ttl = (e.expire_at() != 0).then(|| e.expire_at().saturating_sub(now));
                let value = if head {
                    Bytes::new()
                } else {
                    Bytes::copy_from_slice(e.value())
                };
                Some(Ok((value, e.value_len(), ttl)))
            }
        }
    };
    // A miss is a "keymiss" keyspace notification (nothing recorded when they are off).
    commands::notify::after_door(state, "set");
    // Under `appendfsync always` a value read is one that is on disk (as RESP replies).
    commands::aof::wait_durable(state).await;
    state.stats.total_commands_processed.add(1);
    match found {
        None => response::error(StatusCode::NOT_FOUND, NO_SUCH_KEY),
        Some(Err(())) => response::error(StatusCode::CONFLICT, WRONGTYPE),
        Some(Ok((value, len, ttl))) => {
            let mut r = response::with_body(StatusCode::OK, OCTETS, value);
            if head {
                r.headers_mut()
                    .insert(CONTENT_LENGTH, response::number(len as u64));
            }
            if let Some(ms) = ttl {
                r.headers_mut().insert(X_TTL_MS, response::number(ms));
            }
            r
        }
    }
}

/// What a write's query string and conditional headers ask for.
#[derive(Debug, Default, PartialEq)]
struct WriteOpts {
    /// TTL in ms (`?ttl=<s>` or `?px=<ms>`); none = the key does not expire (as SET).
    ttl_ms: Option<u64>,
    /// Only if the key does not exist (`?nx`, `If-None-Match: *`).
    nx: bool,
    /// Only if the key exists (`?xx`, `If-Match: *`).
    xx: bool,
}

fn flag(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(format!(
            "invalid value '{v}' for '{name}' (use {name}, {name}=1 or {name}=0)"
        )),
    }
}

fn positive(name: &str, v: &str, unit_ms: u64) -> Result<u64, String> {
    // Redis's words for a TTL that is not a positive integer or overflows.
    let bad = || "ERR invalid expire time in 'set' command".to_string();
    let n: i64 = v
        .parse()
        .map_err(|_| format!("ERR value is not an integer or out of range ('{name}={v}')"))?;
    if n <= 0 {
        return Err(bad());
    }
    (n as u64)
        .checked_mul(unit_ms)
        .filter(|&ms| ms <= i64::MAX as u64 / 2)
        .ok_or_else(bad)
}

fn parse_write_opts(query: Option<&str>, req: &hyper::HeaderMap) -> Result<WriteOpts, String> {
    let mut o = WriteOpts::default();
    for (name, v) in url::query_pairs(query.unwrap_or(""))? {
        match name.as_str() {
            "ttl" | "px" if o.ttl_ms.is_some() => {
                return Err("ERR syntax error (give one of 'ttl' and 'px')".into())
            }
            "ttl" => o.ttl_ms = Some(positive("ttl", &v, 1000)?),
            "px" => o.ttl_ms = Some(positive("px", &v, 1)?),
            "nx" => o.nx = flag("nx", &v)?,
            "xx" => o.xx = flag("xx", &v)?,
            _ => {
                return Err(format!(
                    "unknown query parameter '{name}' (writes take ttl, px, nx, xx)"
                ))
            }
        }
    }
    let star = |h| {
        req.get(h)
            .map(|v: &HeaderValue| v.as_bytes().trim_ascii() == b"*")
    };
    match star(IF_NONE_MATCH) {
        Some(true) => o.nx = true,
        Some(false) => return Err("If-None-Match: only '*' is supported".into()),
        None => {}
    }
    match star(IF_MATCH) {
        Some(true) => o.xx = true,
        Some(false) => return Err("If-Match: only '*' is supported".into()),
        None => {}
    }
    if o.nx && o.xx {
        return Err("ERR syntax error (nx and xx exclude each other)".into());
    }
    Ok(o)
}

/// PUT and POST: store the body as the key's value.
async fn write(ctx: &ConnCtx, req: Request<Incoming>, key: Vec<u8>, api: Api) -> Resp {
    let state = &ctx.state;
    let opts = match parse_write_opts(req.uri().query(), req.headers()) {
        Ok(o) => o,
        Err(e) => return response::error(StatusCode::BAD_REQUEST, &e),
    };
    if !body::has_length(req.headers()) {
        return response::error(
            StatusCode::LENGTH_REQUIRED,
            "a value needs a Content-Length (or chunked transfer encoding)",
        );
    }
    let max = state.settings.proto_max_bulk_len.load(Relaxed).max(0) as u64;
    let value = match body::read(req.into_body(), max).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let outcome = {
        let _g = match share(state).await {
            Ok(g) => g,
            Err(r) => return r,
        };
        if let Some(msg) = commands::persistence::write_refusal(state) {
            Err(response::error(StatusCode::SERVICE_UNAVAILABLE, &msg))
        } else if state.ks.ensure_memory().is_err() {
            Err(response::error(
                StatusCode::INSUFFICIENT_STORAGE,
                "OOM command not allowed when used memory > 'maxmemory'.",
            ))
        } else {
            let k = state.ks.key(&key);
            let mut t = state.ks.txn1(DB, &k);
            let exists = (opts.nx || opts.xx) && t.exists(&k);
            if opts.nx && exists {
                Err(response::error(
                    StatusCode::PRECONDITION_FAILED,
                    "key exists (nx / If-None-Match: *)",
                ))
            } else if opts.xx && !exists {
                Err(response::error(
                    StatusCode::PRECONDITION_FAILED,
                    "key does not exist (xx / If-Match: *)",
                ))
            } else {
                let ttl = match opts.ttl_ms {
                    Some(ms) => Expiry::At(t.now() + ms),
                    None => Expiry::Clear,
                };
                // The log holds the effect: the value and its absolute expiry.
                let at = match ttl {
                    Expiry::At(at) => at.to_string(),
                    _ => String::new(),
                };
                let logged = if at.is_empty() {
                    commands::effects::record(state, DB, &[b"SET", &key, &value])
                } else {
                    commands::effects::record(
                        state,
                        DB,
                        &[b"SET", &key, &value, b"PXAT", at.as_bytes()],
                    )
                };
                let existed = t.set(&k, &value, ttl);
                drop(t);
                drop(logged);
                commands::notify::after_door(state, "set");
                Ok(existed)
            }
        }
    };
    // Under `appendfsync always` the answer waits for the write to be on disk.
    commands::aof::wait_durable(state).await;
    state.stats.total_commands_processed.add(1);
    let existed = match outcome {
        Ok(e) => e,
        Err(r) => return r,
    };
    let mut r = match (api, existed) {
        (Api::Root, _) => response::with_body(StatusCode::OK, OCTETS, value),
        (Api::V1, true) => response::empty(StatusCode::NO_CONTENT),
        (Api::V1, false) => {
            let mut r = response::empty(StatusCode::CREATED);
            let loc = format!("/v1/keys/{}", url::percent_encode(&key));
            if let Ok(v) = HeaderValue::from_str(&loc) {
                r.headers_mut().insert(LOCATION, v);
            }
            r
        }
    };
    if let Some(ms) = opts.ttl_ms {
        r.headers_mut().insert(X_TTL_MS, response::number(ms));
    }
    r
}

/// DELETE: 204 when the key was removed, 404 when there was none.
async fn delete(state: &ServerState, key: &[u8], query: Option<&str>) -> Resp {
    if let Some(r) = unexpected_query(query) {
        return r;
    }
    if let Some(msg) = commands::persistence::write_refusal(state) {
        return response::error(StatusCode::SERVICE_UNAVAILABLE, &msg);
    }
    let removed = {
        let _g = match share(state).await {
            Ok(g) => g,
            Err(r) => return r,
        };
        let k = state.ks.key(key);
        let logged = commands::effects::record(state, DB, &[b"DEL", key]);
        let removed = state.ks.txn1(DB, &k).delete(&k);
        drop(logged);
        commands::notify::after_door(state, "del");
        removed
    };
    commands::aof::wait_durable(state).await;
    state.stats.total_commands_processed.add(1);
    if removed {
        response::empty(StatusCode::NO_CONTENT)
    } else {
        response::error(StatusCode::NOT_FOUND, NO_SUCH_KEY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &str, headers: &[(&str, &str)]) -> Result<WriteOpts, String> {
        let mut h = hyper::HeaderMap::new();
        for (n, v) in headers {
            h.insert(
                hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        parse_write_opts(Some(q), &h)
    }

    #[test]
    fn write_options() {
        assert_eq!(opts("", &[]), Ok(WriteOpts::default()));
        assert_eq!(opts("ttl=2", &[]).unwrap().ttl_ms, Some(2000));
        assert_eq!(opts("px=5", &[]).unwrap().ttl_ms, Some(5));
        assert!(opts("nx", &[]).unwrap().nx);
        assert!(opts("nx=1", &[]).unwrap().nx);
        assert!(!opts("nx=0", &[]).unwrap().nx);
        assert!(opts("xx=true", &[]).unwrap().xx);
        assert!(opts("", &[("if-none-match", "*")]).unwrap().nx);
        assert!(opts("", &[("if-match", " * ")]).unwrap().xx);
        for bad in [
            "ttl=0",
            "ttl=-1",
            "ttl=x",
            "px=1&ttl=1",
            "nx&xx",
            "nx=maybe",
            "foo=1",
        ] {
            assert!(opts(bad, &[]).is_err(), "{bad}");
        }
        assert!(opts("ttl=99999999999999999999", &[]).is_err());
        assert!(opts("", &[("if-none-match", "\"abc\"")]).is_err());
        assert_eq!(
            opts("ttl=0", &[]).unwrap_err(),
            "ERR invalid expire time in 'set' command"
        );
    }
}
