//! The HTTP door in cluster mode: a key request for a slot another node owns is relayed to
//! that node's HTTP door (the request as it came, marked so it is never relayed twice), and
//! `GET /v1/cluster` describes the cluster.
//!
//! ```text
//!  /v1/keys/{key}, /{key}   slot owned here ─► served here (keys.rs)
//!                           owned elsewhere ─► the same request to the owner's HTTP door
//!                           frozen (hand-off) ─► writes wait for the flip; reads served here
//!  /v1/cluster              nodes, states, addresses, slots per node, hand-offs, counters
//! ```

use super::response::{self, Resp};
use bytes::Bytes;
use cluster::{Cluster, Route};
use commands::ServerState;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderName;
use hyper::{Method, Request, StatusCode};
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Set on a relayed request: its receiver serves it or answers 421, never relays again.
pub const RELAYED: HeaderName = HeaderName::from_static("x-rcache-relayed");

/// What to do with a key request in cluster mode.
pub enum KeyRoute {
    Here(Request<Incoming>),
    Done(Resp),
}

/// Route a key request: served here, relayed, or refused (421 when relayed to the wrong
/// node, 503 while no node serves the slot).
pub async fn route_key(cl: &Cluster, req: Request<Incoming>, key: &[u8]) -> KeyRoute {
    let slot = storage::key_slot(key);
    let write = !matches!(*req.method(), Method::GET | Method::HEAD);
    loop {
        match cl.route(slot) {
            Route::Local => return KeyRoute::Here(req),
            Route::Frozen if !write => return KeyRoute::Here(req),
            Route::Frozen => crate::cluster::route::wait_thaw(cl, slot).await,
            Route::Down => {
                return KeyRoute::Done(response::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("CLUSTERDOWN Hash slot {slot} not served"),
                ))
            }
            Route::Remote(o) => {
                if req.headers().contains_key(&RELAYED) {
                    let mut r = response::error(
                        StatusCode::MISDIRECTED_REQUEST,
                        &commands::cluster_cmd::moved(cl, slot, o),
                    );
                    if let Some(h) = cl.node(o).and_then(|n| n.http) {
                        if let Ok(v) = h.to_string().parse() {
                            r.headers_mut().insert(hyper::header::LOCATION, v);
                        }
                    }
                    return KeyRoute::Done(r);
                }
                return KeyRoute::Done(relay(cl, o, slot, req).await);
            }
        }
    }
}

/// Send the request to node `o`'s HTTP door and hand its answer back; a 421 (the slot
/// moved on meanwhile) is followed a few times.
async fn relay(cl: &Cluster, o: u32, slot: u16, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return response::error(StatusCode::BAD_REQUEST, &format!("reading the body: {e}"))
        }
    };
    let mut node = o;
    for round in 0..8u32 {
        let Some(addr) = cl.node(node).and_then(|n| n.http) else {
            return response::error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the owner of slot {slot} has no HTTP door"),
            );
        };
        let mut b = Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone())
            .version(hyper::Version::HTTP_11);
        for (k, v) in parts.headers.iter() {
            if k != hyper::header::HOST && k != hyper::header::CONNECTION {
                b = b.header(k, v);
            }
        }
        let out = b
            .header(hyper::header::HOST, addr.to_string())
            .header(&RELAYED, "1")
            .body(Full::new(body.clone()));
        let Ok(out) = out else {
            return response::error(StatusCode::BAD_REQUEST, "cannot relay this request");
        };
        cl.stats.forwarded.fetch_add(1, Relaxed);
        match send(addr, out).await {
            Ok((status, headers, bytes))
                if status == StatusCode::MISDIRECTED_REQUEST && round < 7 =>
            {
                // The slot moved on: ask the map again (gossip or the next hint).
                tokio::time::sleep(Duration::from_millis(10 << round.min(4))).await;
                node = match cl.route(slot) {
                    Route::Remote(n) => n,
                    _ => {
                        let _ = (headers, bytes);
                        return response::error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "TRYAGAIN the slot is moving; retry",
                        );
                    }
                };
            }
            Ok((status, headers, bytes)) => {
                let mut r = hyper::Response::new(Full::new(bytes));
                *r.status_mut() = status;
                for (k, v) in headers.iter() {
                    if k != hyper::header::CONNECTION && k != hyper::header::TRANSFER_ENCODING {
                        r.headers_mut().insert(k.clone(), v.clone());
                    }
                }
                return r;
            }
            Err(e) => {
                cl.stats.forward_errors.fetch_add(1, Relaxed);
                return response::error(
                    StatusCode::BAD_GATEWAY,
                    &format!("TRYAGAIN cannot reach the owner of slot {slot} ({addr}): {e}"),
                );
            }
        }
    }
    response::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "TRYAGAIN the slot kept moving",
    )
}

async fn send(
    addr: std::net::SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, hyper::HeaderMap, Bytes), String> {
    let go = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    };
    match tokio::time::timeout(Duration::from_secs(10), go).await {
        Ok(r) => r,
        Err(_) => Err("no answer in 10 s".into()),
    }
}

/// `GET /v1/cluster`: the cluster as this node sees it.
pub fn describe(state: &ServerState, cl: &Cluster) -> Resp {
    let counts = cl.slot_counts();
    let s = &cl.stats;
    let nodes: Vec<serde_json::Value> = cl
        .nodes()
        .into_iter()
        .filter(|(i, n)| n.alive || counts.contains_key(i) || *i == cl.me)
        .map(|(i, n)| {
            json!({
                "id": n.id,
                "myself": i == cl.me,
                "state": if i == cl.me { cl.myself().state } else if n.alive { n.state.clone() } else { "failed".into() },
                "alive": i == cl.me || n.alive,
                "resp": n.resp.map(|a| a.to_string()),
                "http": n.http.map(|a| a.to_string()),
                "memcache": n.memcache.map(|a| a.to_string()),
                "binary": n.binary.map(|a| a.to_string()),
                "bus": n.bus.map(|a| a.to_string()),
                "weight": n.weight.max(1),
                "slots": counts.get(&i).copied().unwrap_or(0),
            })
        })
        .collect();
    let assigned = cl.assigned();
    let served = cl.served();
    let body = json!({
        "cluster_state": if served == cluster::SLOTS { "ok" } else { "fail" },
        "slots_served": served,
        "mode": if cl.redirect { "redirect" } else { "forward" },
        "myself": cl.my_id,
        "current_epoch": cl.max_epoch(),
        "slots_assigned": assigned,
        "keys_here": state.ks.dbsize(0),
        "nodes": nodes,
        "migrations": {
            "slots_to_move": s.moving_slots.load(Relaxed),
            "handoffs_done": s.handoffs_done.load(Relaxed),
            "handoffs_aborted": s.handoffs_aborted.load(Relaxed),
            "slots_moved_out": s.slots_moved_out.load(Relaxed),
            "keys_moved_out": s.keys_moved_out.load(Relaxed),
            "bytes_moved_out": s.bytes_moved_out.load(Relaxed),
            "slots_moved_in": s.slots_moved_in.load(Relaxed),
        },
        "forwarding": {
            "forwarded": s.forwarded.load(Relaxed),
            "errors": s.forward_errors.load(Relaxed),
            "moved_sent": s.moved_sent.load(Relaxed),
            "latency_us_total": s.forward_latency_us.load(Relaxed),
        },
        "slots_lost": s.slots_lost.load(Relaxed),
        "bus_refused": s.refused_bus.load(Relaxed),
    });
    response::json(StatusCode::OK, &body)
}
