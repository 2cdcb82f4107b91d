//! `POST /v1/commands`: any command of the command table, as JSON.
//!
//! A request is one `Session` (of the connection's client): a batch runs its commands in
//! order on it, so `MULTI … EXEC`, `SELECT` and `WATCH` work inside a batch, and end with
//! the request (a transaction left open is discarded). Every command runs as on a RESP
//! connection: a gate share, EXEC and scripts alone on the blocking pool
//! (`conn::run_exclusive`), BUSY after `busy-reply-threshold`. Replies are RESP3 and are
//! translated by `json`.
//!
//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN…) never block over HTTP: they answer at once
//! as their non-blocking form would (null when there is nothing to pop), as they do inside
//! MULTI. Subscribing (SUBSCRIBE & co.) and MONITOR need a connection that streams; they are
//! refused with an error.

use super::json::{self, Request};
use super::response::{self, Resp};
use super::ConnCtx;
use crate::conn::{run_exclusive, wait_share, Wait};
use commands::blocking::Finish;
use commands::clients::Session;
use commands::table::flags;
use commands::{Executed, ServerState};
use hyper::StatusCode;
use protocol::args::OwnedArgs;
use protocol::value::{parse_reply, RespValue};
use serde_json::{json, Value};
use std::sync::Arc;

/// Commands that stream replies a request/response API cannot carry.
const REFUSED: &[&str] = &[
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "monitor",
];

/// What one command answered: its JSON result, or its error line.
type Answer = Result<Value, String>;

/// Serve a `/v1/commands` body on `sess` (the request's, authenticated as its ACL user).
pub async fn run(ctx: &ConnCtx, mut sess: Session, body: &[u8]) -> Resp {
    let req = match json::parse_request(body) {
        Ok(r) => r,
        Err(e) => return response::error(StatusCode::BAD_REQUEST, &e),
    };
    sess.resp3 = true;
    // Push features (tracking, MONITOR, CLIENT REPLY) refuse this door; RESET keeps RESP3.
    sess.door = commands::Door::Http;
    match req {
        Request::Single(cmd) => match run_one(&ctx.state, &mut sess, cmd).await {
            Ok(v) => response::json(StatusCode::OK, &json!({ "result": v })),
            Err(e) => response::error(response::status_for_error(&e), &e),
        },
        Request::Batch(cmds) => {
            let mut out = Vec::with_capacity(cmds.len());
            for cmd in cmds {
                out.push(match run_one(&ctx.state, &mut sess, cmd).await {
                    Ok(v) => json!({ "result": v }),
                    Err(e) => json!({ "error": e }),
                });
            }
            response::json(StatusCode::OK, &Value::Array(out))
        }
    }
}

/// Run one command on `sess` as a RESP connection would, and translate its reply.
async fn run_one(state: &Arc<ServerState>, sess: &mut Session, cmd: json::Command) -> Answer {
    let owned = OwnedArgs::new(cmd);
    let args = owned.args();
    let mut out = Vec::new();
    let name = String::from_utf8_lossy(args.get(0)).to_ascii_lowercase();
    if REFUSED.contains(&name.as_str()) {
        let msg = format!("ERR {name} is not supported over HTTP; use RESP");
        commands::reply_error(sess, &msg, &mut out);
        return answer(&out);
    }
    // CLIENT PAUSE holds the command as it would hold a RESP client's.
    if state.pause.active() && commands::pause::holds(state, sess, args) {
        let s: &Session = sess;
        let still = || commands::pause::holds(state, s, args);
        if commands::pause::wait(state, &s.handle.kill_notify, still)
            .await
            .is_err()
        {
            return Err("ERR client killed".into());
        }
    }
    let spec = commands::spec_of(state, args);
    let mut share = match state.gate.try_shared() {
        Some(g) => Some(g),
        None => match wait_share(state, args).await {
            Wait::Share(g) => Some(g),
            Wait::NoGate => None,
            Wait::Busy => {
                commands::reject_busy(state, sess, args, &mut out);
                return answer(&out);
            }
        },
    };
    // Cluster mode: keys of other nodes' slots go to them over the bus (route.rs).
    if let Some(cl) = state.cluster.get() {
        // Relayed commands run there as the (trusted) bus: check the ACL user here.
        if let Err(msg) = commands::acl::check_args(state, sess, args) {
            commands::reply_error(sess, &msg, &mut out);
            return answer(&out);
        }
        loop {
            if share.is_none() {
                share = Some(state.gate.shared().await);
            }
            use crate::cluster::route::{self, Decision};
            match route::decide(state, cl, sess, args) {
                Decision::Local => break,
                Decision::Error(msg) => {
                    commands::reply_error(sess, &msg, &mut out);
                    return answer(&out);
                }
                Decision::Wait(slot) => {
                    share = None;
                    route::wait_thaw(cl, slot).await;
                }
                Decision::Forward { node, slot, .. } => {
                    let p = route::forward(cl, node, slot, args, sess.resp3, false);
                    drop(share);
                    return answer(&p.await);
                }
                Decision::Split { kind, per, groups } => {
                    let p = route::split(state, cl, sess, args, kind, per, groups);
                    drop(share);
                    return answer(&p.await);
                }
                Decision::ForwardTx(_) | Decision::AbortTx(_) => {
                    // The HTTP door refuses MULTI (REFUSED), so no transaction is open.
                    break;
                }
            }
        }
    }
    // A blocking command answers as its non-blocking form (see the module doc).
    let blocking = spec.is_some_and(|s| s.has(flags::BLOCKING));
    let deny = sess.deny_blocking;
    sess.deny_blocking = deny || blocking;
    let ran = commands::execute_in(state, sess, args, &mut out, false);
    let spec = match ran {
        Executed::Done(spec) => spec,
        Executed::NeedsExclusive => {
            share = None;
            match run_exclusive(state, sess, OwnedArgs::new(args.iter()), &mut out).await {
                Some(spec) => spec,
                None => return Err("ERR server is shutting down".into()),
            }
        }
    };
    sess.deny_blocking = deny;
    if let Some(w) = sess.blocked.take() {
        // Not reached with blocking denied; should a command block anyway, it answers as
        // on timeout (or with what served it in the meantime).
        let r = state
            .blocking
            .finish(&w, Finish::Timeout)
            .unwrap_or_default();
        out.extend_from_slice(&r);
    }
    if blocking && state.blocking.has_waiters() {
        // With blocking denied, `execute_in` left other clients' waiters alone: a BLMOVE
        // may have pushed to a list someone waits on.
        match &share {
            Some(_) => commands::blocking::serve_ready(state),
            None => {
                let _g = state.gate.shared().await;
                commands::blocking::serve_ready(state);
            }
        }
    }
    drop(share);
    // Under `appendfsync always` nothing is answered before it is on disk.
    commands::aof::wait_durable(state).await;
    // HELLO 2 would switch the session to RESP2; the translation reads either, but keep
    // typed replies for the next command of the batch.
    sess.resp3 = true;
    sess.close = false;
    state.stats.total_commands_processed.add(1);
    if let Some(spec) = spec {
        *sess.handle.last_cmd.lock() = spec.name;
    }
    answer(&out)
}

/// The JSON of a command's reply (one RESP3 reply in `out`).
fn answer(out: &[u8]) -> Answer {
    if out.is_empty() {
        // Nothing written (no command does that today): say so rather than fail.
        return Ok(Value::Null);
    }
    match parse_reply(out) {
        Ok((RespValue::Error(e), _)) => Err(String::from_utf8_lossy(e).into_owned()),
        Ok((v, _)) => Ok(json::reply_to_json(&v)),
        Err(e) => Err(format!("ERR internal: cannot read the reply ({e:?})")),
    }
}
