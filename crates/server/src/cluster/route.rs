//! Routing a request in cluster mode: serve it here, forward it to its slot's owner over
//! the bus, split it over several owners, wait for a frozen slot, or refuse it.
//!
//! ```text
//!  decide(args)  keys ─► slot(s) ─► Cluster::route
//!     client   Local | Forward(owner) | Split(groups) | Wait(slot) | Error(MOVED, CROSSSLOT…)
//!     peer     Local | Wait(slot) | Error(MOVED / TRYAGAIN)       (never forwarded again)
//!  forward   encoded once, sent at once on this I/O thread's link to the owner (requests
//!            of every client of the thread share it); the reply is awaited when the batch's
//!            replies are flushed, so a pipelined batch costs one round trip, not one each
//!  MOVED from the owner (the slot moved on): the hint is taken and the request re-sent,
//!            a few times at most; a broken link answers TRYAGAIN (never re-sent: the
//!            write may have been applied)
//! ```

use cluster::link::{self, Link};
use cluster::{Cluster, Route};
use commands::clients::Session;
use commands::cluster_cmd::{self, Keys, Split};
use commands::table::{flags, CommandSpec};
use commands::ServerState;
use protocol::args::OwnedArgs;
use protocol::Args;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many times a request follows MOVED / TRYAGAIN before the client gets it: with
/// `backoff`, about 1.5 s, longer than gossip takes to settle the map after a hand-off.
const MAX_ROUNDS: u32 = 14;

fn backoff(round: u32) -> Duration {
    Duration::from_millis((2u64 << round.min(10)).min(150))
}

/// A forwarded reply, resolved when the batch's replies are written.
pub type Pending = Pin<Box<dyn Future<Output = Vec<u8>> + Send>>;

/// What to do with one request.
pub enum Decision {
    Local,
    /// Answer this error line (without the `-`).
    Error(String),
    /// The slot's writes are paused for a hand-off: wait for it to thaw, then decide again.
    Wait(u16),
    Forward {
        node: u32,
        slot: u16,
        blocking: bool,
    },
    Split {
        kind: Split,
        per: usize,
        /// (owner, key indexes) in first-seen order.
        groups: Vec<(u32, Vec<usize>)>,
    },
    /// EXEC of a transaction whose keys are all on another node: run it there, whole.
    ForwardTx(u32),
    /// EXEC of a transaction that cannot run anywhere as one: end it with this error.
    AbortTx(String),
}

/// Commands a bus connection may send before it has proved the secret.
fn bus_preauth(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"rcache.bushello")
        || name.eq_ignore_ascii_case(b"rcache.busauth")
        || name.eq_ignore_ascii_case(b"quit")
}

/// Decide where a request goes. Called holding a gate share (so a hand-off's freeze is
/// either seen or not begun: `handoff.rs` drains the gate after freezing).
pub fn decide(state: &ServerState, cl: &Cluster, sess: &Session, args: Args<'_>) -> Decision {
    if let Some(bus) = sess.bus.as_deref() {
        if bus.peer.is_none() {
            if bus_preauth(args.get(0)) {
                return Decision::Local;
            }
            return Decision::Error(
                "NOAUTH this is a cluster bus port: prove the cluster secret first".into(),
            );
        }
        let Some(spec) = commands::spec_of(state, args) else {
            return Decision::Local;
        };
        if !spec.arity_ok(args.len()) {
            return Decision::Local;
        }
        // Every slot of the request that is not ours goes into one MOVED line (the first
        // as Redis words it, the others appended for the sending node), so a multi-key
        // part that met several moved slots is re-split in one round.
        let mut seen: Vec<u16> = Vec::new();
        let mut moved = String::new();
        let mut wait = None;
        for p in cluster_cmd::key_positions(spec, args) {
            let s = storage::key_slot(args.get(p));
            if seen.contains(&s) {
                continue;
            }
            seen.push(s);
            match cluster_cmd::peer_route(cl, bus, s) {
                Ok(Route::Local) => {}
                Ok(_) => wait = wait.or(Some(s)),
                Err(line) if line.starts_with("MOVED ") => {
                    if moved.is_empty() {
                        moved = line;
                    } else {
                        moved.push(' ');
                        moved.push_str(&line["MOVED ".len()..]);
                    }
                }
                Err(line) => return Decision::Error(line),
            }
        }
        if !moved.is_empty() {
            return Decision::Error(moved);
        }
        if let Some(s) = wait {
            return Decision::Wait(s);
        }
        return Decision::Local;
    }
    let Some(spec) = commands::spec_of(state, args) else {
        return Decision::Local;
    };
    if !spec.arity_ok(args.len()) {
        return Decision::Local; // execute_in answers the arity error
    }
    if spec.name == "select" && args.get(1) != b"0" {
        return Decision::Error("ERR SELECT is not allowed in cluster mode".into());
    }
    if cluster_cmd::is_shard_pubsub(spec) {
        return shard_pubsub(cl, spec, args);
    }
    if sess.multi.is_some() {
        return in_transaction(state, cl, sess, spec, args);
    }
    match cluster_cmd::keys_of(spec, args) {
        Keys::None => Decision::Local,
        Keys::One(slot) => {
            // A script's calls are checked against the user running it, which the owner,
            // running a relayed request as the trusted bus, does not know: a restricted
            // user is sent there (MOVED, as Redis Cluster answers), to run it as itself.
            if is_script(spec) && restricted(state, sess) {
                if let Route::Remote(o) = cl.route(slot) {
                    cl.stats.moved_sent.fetch_add(1, Relaxed);
                    return Decision::Error(cluster_cmd::moved(cl, slot, o));
                }
            }
            one(cl, sess, spec, slot)
        }
        Keys::Cross => cross(cl, sess, spec, args),
    }
}

/// Commands whose effects the ACL checks only as they run (a script's `redis.call`s).
fn is_script(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Whether the session's user has ACL restrictions (or may have: a stale cache).
fn restricted(state: &ServerState, sess: &Session) -> bool {
    !sess.acl.free_at(state.acl.epoch())
}

/// Inside MULTI commands are queued here whatever their slot (a command's own keys must
/// share one slot); EXEC decides where the transaction runs: here when every key is ours,
/// on the owner when every key is another node's (sent there whole, MULTI … EXEC, on a
/// connection of its own), else it is refused.
fn in_transaction(
    state: &ServerState,
    cl: &Cluster,
    sess: &Session,
    spec: &CommandSpec,
    args: Args<'_>,
) -> Decision {
    if spec.name == "watch" {
        if let Keys::One(slot) = cluster_cmd::keys_of(spec, args) {
            if let Route::Remote(o) = cl.route(slot) {
                return Decision::Error(cluster_cmd::moved(cl, slot, o));
            }
        }
    }
    if spec.name != "exec" {
        return match cluster_cmd::keys_of(spec, args) {
            Keys::Cross => {
                Decision::Error("CROSSSLOT Keys in request don't hash to the same slot".into())
            }
            _ => Decision::Local,
        };
    }
    let Some(queue) = commands::tx::queued(sess) else {
        return Decision::Local;
    };
    let mut node: Option<u32> = None;
    for q in queue {
        let qa = q.args();
        let Some(qs) = commands::spec_of(state, qa) else {
            continue;
        };
        if cluster_cmd::is_shard_pubsub(qs) {
            continue; // runs wherever the transaction does (`shard_pubsub`)
        }
        let Keys::One(slot) = cluster_cmd::keys_of(qs, qa) else {
            continue;
        };
        let here = match cl.route(slot) {
            Route::Local => cl.me,
            Route::Frozen => return Decision::Wait(slot),
            Route::Remote(o) => o,
            Route::Down => {
                return Decision::AbortTx(format!(
                    "CLUSTERDOWN Hash slot {slot} not served; transaction discarded"
                ))
            }
        };
        match node {
            None => node = Some(here),
            Some(n) if n != here => {
                return Decision::AbortTx(
                    "CROSSSLOT the transaction's keys live on several nodes; transaction discarded"
                        .into(),
                )
            }
            _ => {}
        }
    }
    match node {
        Some(o) if o != cl.me => {
            // The owner runs the transaction as the trusted bus: a restricted user's
            // scripts could call anything there (`decide`).
            let scripts = || {
                queue
                    .iter()
                    .any(|q| commands::spec_of(state, q.args()).is_some_and(is_script))
            };
            if cl.redirect || (restricted(state, sess) && scripts()) {
                return Decision::AbortTx(
                    "MOVED the transaction's keys are on another node; transaction discarded"
                        .into(),
                );
            }
            Decision::ForwardTx(o)
        }
        _ => Decision::Local,
    }
}

/// Run a whole transaction on node `o`: MULTI, the queued commands, EXEC on a bus
/// connection of its own (a shared link would mix other clients' requests into it); the
/// client gets EXEC's reply.
pub fn forward_tx(cl: &Arc<Cluster>, o: u32, queue: Vec<OwnedArgs>, resp3: bool) -> Pending {
    let mut req = Vec::new();
    link::encode(&[b"MULTI".as_slice()], &mut req);
    for q in &queue {
        let parts: Vec<&[u8]> = q.args().iter().collect();
        link::encode(&parts, &mut req);
    }
    link::encode(&[b"EXEC".as_slice()], &mut req);
    let n = queue.len() + 2;
    cl.stats.forwarded.fetch_add(1, Relaxed);
    let cl = cl.clone();
    Box::pin(async move {
        let Some(addr) = cl.node(o).and_then(|n| n.bus) else {
            return error_line("TRYAGAIN the transaction's node has no bus address");
        };
        let go = async {
            let mut sock = link::open(addr, &cl.secret, &cl.my_id, resp3).await?;
            use tokio::io::AsyncWriteExt;
            sock.write_all(&req).await?;
            let mut buf = Vec::new();
            let mut last = Vec::new();
            for _ in 0..n {
                last = link::read_reply(&mut sock, &mut buf).await?;
            }
            Ok::<_, std::io::Error>(last)
        };
        match go.await {
            // A slot that moved between EXEC's check and its arrival there: MOVED inside
            // the transaction aborts it (EXECABORT), which the client sees and may retry.
            Ok(r) => r,
            Err(e) => {
                cl.stats.forward_errors.fetch_add(1, Relaxed);
                error_line(&format!(
                    "TRYAGAIN cannot reach the transaction's node: {e}"
                ))
            }
        }
    })
}

/// SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH (in MULTI too): channels of several slots are
/// refused with CROSSSLOT as in Redis Cluster; in redirect mode a slot of another node
/// answers MOVED; else they run here, whoever owns the slot: a subscription is this
/// connection's, and SPUBLISH is relayed to every node (`relay_publish`), as PUBLISH. A
/// slot that is down or handed off does not matter (Redis's
/// `cluster-allow-pubsubshard-when-down yes`).
fn shard_pubsub(cl: &Cluster, spec: &CommandSpec, args: Args<'_>) -> Decision {
    match cluster_cmd::keys_of(spec, args) {
        Keys::None => Decision::Local,
        Keys::Cross => {
            Decision::Error("CROSSSLOT Keys in request don't hash to the same slot".into())
        }
        Keys::One(slot) => match cl.route(slot) {
            Route::Remote(o) if cl.redirect => {
                cl.stats.moved_sent.fetch_add(1, Relaxed);
                Decision::Error(cluster_cmd::moved(cl, slot, o))
            }
            _ => Decision::Local,
        },
    }
}

fn one(cl: &Cluster, sess: &Session, spec: &CommandSpec, slot: u16) -> Decision {
    match cl.route(slot) {
        Route::Local => Decision::Local,
        Route::Frozen => {
            if spec.has(flags::WRITE) || sess.multi.is_some() {
                Decision::Wait(slot)
            } else {
                Decision::Local // reads are served from the data still here
            }
        }
        Route::Down => Decision::Error(format!(
            "CLUSTERDOWN Hash slot {slot} not served (its owner failed or the map is not known yet)"
        )),
        Route::Remote(o) => {
            // What cannot run on another node's shared link: WATCH (its state is this
            // connection's), and nothing is forwarded in redirect mode.
            if cl.redirect || spec.name == "watch" {
                cl.stats.moved_sent.fetch_add(1, Relaxed);
                return Decision::Error(cluster_cmd::moved(cl, slot, o));
            }
            Decision::Forward {
                node: o,
                slot,
                blocking: spec.has(flags::BLOCKING),
            }
        }
    }
}

fn cross(cl: &Cluster, sess: &Session, spec: &CommandSpec, args: Args<'_>) -> Decision {
    const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
    let Some((kind, per)) = cluster_cmd::splittable(spec) else {
        return Decision::Error(CROSSSLOT.into());
    };
    if cl.redirect || sess.multi.is_some() {
        return Decision::Error(CROSSSLOT.into());
    }
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    let nkeys = (args.len() - 1) / per;
    for i in 0..nkeys {
        let slot = storage::key_slot(args.get(1 + i * per));
        let owner = match cl.route(slot) {
            Route::Local => cl.me,
            Route::Frozen if spec.has(flags::WRITE) => return Decision::Wait(slot),
            Route::Frozen => cl.me,
            Route::Remote(o) => o,
            Route::Down => {
                return Decision::Error(format!("CLUSTERDOWN Hash slot {slot} not served"))
            }
        };
        match groups.iter_mut().find(|g| g.0 == owner) {
            Some(g) => g.1.push(i),
            None => groups.push((owner, vec![i])),
        }
    }
    if groups.len() == 1 && groups[0].0 == cl.me {
        return Decision::Local;
    }
    Decision::Split { kind, per, groups }
}

/// Wait until `slot` is no longer frozen (its hand-off finished or aborted).
pub async fn wait_thaw(cl: &Cluster, slot: u16) {
    loop {
        let n = cl.thaw.notified();
        tokio::pin!(n);
        n.as_mut().enable();
        if !cl.is_frozen(slot) {
            return;
        }
        n.await;
    }
}

thread_local! {
    /// This I/O thread's links, by (node, RESP3).
    static LINKS: RefCell<HashMap<(u32, bool), Link>> = RefCell::new(HashMap::new());
}

fn cached_link(node: u32, resp3: bool) -> Option<Link> {
    LINKS.with(|l| {
        l.borrow()
            .get(&(node, resp3))
            .filter(|k| !k.is_dead())
            .cloned()
    })
}

async fn link_to(cl: &Cluster, node: u32, resp3: bool) -> Result<Link, String> {
    if let Some(l) = cached_link(node, resp3) {
        return Ok(l);
    }
    let addr = cl
        .node(node)
        .and_then(|n| n.bus)
        .ok_or_else(|| format!("node {node} has no bus address"))?;
    let l = Link::connect(addr, &cl.secret, &cl.my_id, resp3)
        .await
        .map_err(|e| e.to_string())?;
    LINKS.with(|m| m.borrow_mut().insert((node, resp3), l.clone()));
    Ok(l)
}

fn encode(args: Args<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(args.byte_len() + 16 * args.len());
    let parts: Vec<&[u8]> = args.iter().collect();
    link::encode(&parts, &mut out);
    out
}

/// A MOVED line's slot and the owner's registry index (learning the node from the line's
/// id and bus address when gossip has not brought it yet).
fn follow_moved(cl: &Cluster, reply: &[u8]) -> Option<(u16, Option<u32>)> {
    let line = std::str::from_utf8(reply.strip_prefix(b"-MOVED ")?).ok()?;
    let words: Vec<&str> = line.trim_end().split(' ').collect();
    let mut first = None;
    // `slot addr` as Redis words it, or `slot addr id bus epoch` repeated between nodes.
    let step = if words.len() >= 5 { 5 } else { 2 };
    for w in words.chunks(step) {
        let (Some(slot), Some(addr)) = (w.first().and_then(|s| s.parse::<u16>().ok()), w.get(1))
        else {
            break;
        };
        let to = match (cl.node_by_resp(addr), w.get(2), w.get(3)) {
            (Some(i), _, _) => Some(i),
            (None, Some(id), Some(bus)) => match (addr.parse(), bus.parse()) {
                (Ok(r), Ok(b)) => Some(cl.learn(id, r, b)),
                _ => None,
            },
            _ => None,
        };
        if let Some(to) = to {
            let epoch = w.get(4).and_then(|e| e.parse().ok()).unwrap_or(0);
            cl.hint(slot, to, epoch);
        }
        first.get_or_insert((slot, to));
    }
    first
}

/// A MOVED line as Redis clients know it: the extra fields between nodes are dropped.
fn client_moved(reply: &[u8]) -> Vec<u8> {
    let line = String::from_utf8_lossy(reply);
    let mut it = line.trim_end().splitn(4, ' ');
    match (it.next(), it.next(), it.next()) {
        (Some(m), Some(s), Some(a)) => format!("{m} {s} {a}\r\n").into_bytes(),
        _ => reply.to_vec(),
    }
}

fn error_line(msg: &str) -> Vec<u8> {
    format!("-{msg}\r\n").into_bytes()
}

/// Forward a request to `node` (its reply comes back byte for byte). Sent now when this
/// thread has a link to the node, else when first awaited.
pub fn forward(
    cl: &Arc<Cluster>,
    node: u32,
    slot: u16,
    args: Args<'_>,
    resp3: bool,
    blocking: bool,
) -> Pending {
    cl.stats.forwarded.fetch_add(1, Relaxed);
    forward_encoded(cl, node, slot, encode(args), resp3, blocking)
}

/// `forward` of a request already encoded (a bundled request sent again after MOVED).
fn forward_encoded(
    cl: &Arc<Cluster>,
    node: u32,
    slot: u16,
    req: Vec<u8>,
    resp3: bool,
    blocking: bool,
) -> Pending {
    let cl = cl.clone();
    if blocking {
        // A blocking command holds its connection until served: a connection of its own,
        // so it never stalls the shared link's other requests.
        return Box::pin(async move { blocking_call(&cl, node, &req, resp3).await });
    }
    let first = cached_link(node, resp3).map(|l| l.send(req.clone()));
    Box::pin(async move {
        let t0 = Instant::now();
        let mut rx = first;
        let mut node = node;
        for attempt in 0..=MAX_ROUNDS {
            let ans = match rx.take() {
                Some(rx) => rx.await.unwrap_or_else(|_| Err("link closed".into())),
                None => match link_to(&cl, node, resp3).await {
                    Ok(l) => l
                        .send(req.clone())
                        .await
                        .unwrap_or_else(|_| Err("link closed".into())),
                    Err(e) => Err(e),
                },
            };
            let bytes = match ans {
                Ok(b) => b,
                Err(e) => {
                    cl.stats.forward_errors.fetch_add(1, Relaxed);
                    let addr = cl.node(node).and_then(|n| n.resp).map(|a| a.to_string());
                    return error_line(&format!(
                        "TRYAGAIN cannot reach the owner of slot {slot} ({}): {e}",
                        addr.unwrap_or_default()
                    ));
                }
            };
            let moved = bytes.starts_with(b"-MOVED ");
            let tryagain = bytes.starts_with(b"-TRYAGAIN") || bytes.starts_with(b"-CLUSTERDOWN");
            if !moved && !tryagain {
                cl.stats
                    .forward_latency_us
                    .fetch_add(t0.elapsed().as_micros() as u64, Relaxed);
                return bytes;
            }
            if attempt == MAX_ROUNDS {
                tracing::warn!(
                    "cluster: slot {slot} still elsewhere after {attempt} tries: {} (route {:?}, node {node})",
                    String::from_utf8_lossy(&bytes).trim_end(),
                    cl.route(slot)
                );
                return client_moved(&bytes);
            }
            // The slot moved on (or is between owners): follow the hint and send again.
            let followed = moved && follow_moved(&cl, &bytes).is_some_and(|(_, to)| to.is_some());
            if !followed || attempt >= 2 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            node = match cl.route(slot) {
                Route::Remote(o) => o,
                // Ours now (or frozen here): our own bus serves it like any peer request.
                _ => cl.me,
            };
        }
        error_line("TRYAGAIN the slot kept moving")
    })
}

async fn blocking_call(cl: &Cluster, node: u32, req: &[u8], resp3: bool) -> Vec<u8> {
    let mut node = node;
    for round in 0..=MAX_ROUNDS {
        let Some(addr) = cl.node(node).and_then(|n| n.bus) else {
            return error_line("TRYAGAIN the slot's owner has no bus address");
        };
        let go = async {
            let mut sock = link::open(addr, &cl.secret, &cl.my_id, resp3).await?;
            use tokio::io::AsyncWriteExt;
            sock.write_all(req).await?;
            let mut buf = Vec::new();
            link::read_reply(&mut sock, &mut buf).await
        };
        let r = match go.await {
            Ok(r) => r,
            Err(e) => {
                cl.stats.forward_errors.fetch_add(1, Relaxed);
                return error_line(&format!("TRYAGAIN cannot reach the slot's owner: {e}"));
            }
        };
        // The slot moved while the client waited (or before): wait at its new owner.
        if round < MAX_ROUNDS && retryable(&r) {
            if let Some((_, Some(to))) = follow_moved(cl, &r) {
                node = to; // this node's own bus when the slot came here
                continue;
            }
            tokio::time::sleep(backoff(round)).await;
            continue;
        }
        return if r.starts_with(b"-MOVED ") {
            client_moved(&r)
        } else {
            r
        };
    }
    error_line("TRYAGAIN the slot kept moving")
}

/// Split a multi-key command over the owners of its keys: this node's part runs now, the
/// others are forwarded; the replies merge in key order. A part answered MOVED (its slot
/// moved on meanwhile) is split again by the map as it is then.
pub fn split(
    state: &ServerState,
    cl: &Arc<Cluster>,
    sess: &mut Session,
    args: Args<'_>,
    kind: Split,
    per: usize,
    groups: Vec<(u32, Vec<usize>)>,
) -> Pending {
    let nkeys = (args.len() - 1) / per;
    let name = args.get(0).to_vec();
    // Each key with its value(s): MSET's pairs travel together.
    let items: Arc<Vec<Vec<Vec<u8>>>> = Arc::new(
        (0..nkeys)
            .map(|i| {
                (0..per)
                    .map(|j| args.get(1 + i * per + j).to_vec())
                    .collect()
            })
            .collect(),
    );
    let resp3 = sess.resp3;
    let mut parts: Vec<(Vec<usize>, Pending)> = Vec::with_capacity(groups.len());
    for (owner, idx) in groups {
        let p: Pending = if owner == cl.me {
            let mut sub: Vec<&[u8]> = vec![&name];
            for &i in &idx {
                sub.extend(items[i].iter().map(|v| v.as_slice()));
            }
            let owned = OwnedArgs::new(sub.iter().copied());
            let mut out = Vec::new();
            commands::execute_in(state, sess, owned.args(), &mut out, false);
            Box::pin(async move { out })
        } else {
            send_part(cl, owner, &name, &items, &idx, resp3)
        };
        parts.push((idx, p));
    }
    let cl = cl.clone();
    let parts = parts
        .into_iter()
        .map(|(idx, p)| (idx.clone(), idx, p))
        .collect();
    Box::pin(async move {
        let replies = gather(&cl, &name, &items, kind, resp3, parts, 1).await;
        merge(kind, nkeys, replies)
    })
}

/// Await split parts — (positions in the merged reply, keys, reply) — re-splitting any
/// part answered MOVED at round `depth`.
async fn gather(
    cl: &Arc<Cluster>,
    name: &[u8],
    items: &Arc<Vec<Vec<Vec<u8>>>>,
    kind: Split,
    resp3: bool,
    parts: Vec<(Vec<usize>, Vec<usize>, Pending)>,
    depth: u32,
) -> Vec<(Vec<usize>, Vec<u8>)> {
    let mut replies = Vec::with_capacity(parts.len());
    for (pos, keys, p) in parts {
        let r = p.await;
        let r = if retryable(&r) {
            let again = resplit(
                cl.clone(),
                name.to_vec(),
                items.clone(),
                kind,
                keys,
                resp3,
                &r,
                depth,
            );
            again.await
        } else {
            r
        };
        replies.push((pos, r));
    }
    replies
}

/// Keys grouped by their slot's owner as the map says now (this node's own slots, frozen
/// ones included, under this node: its own bus serves them): (owner, positions).
fn by_owner<'k>(cl: &Cluster, keys: impl Iterator<Item = &'k [u8]>) -> Vec<(u32, Vec<usize>)> {
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    for (p, k) in keys.enumerate() {
        let owner = match cl.route(storage::key_slot(k)) {
            Route::Remote(o) => o,
            _ => cl.me,
        };
        match groups.iter_mut().find(|g| g.0 == owner) {
            Some(g) => g.1.push(p),
            None => groups.push((owner, vec![p])),
        }
    }
    groups
}

/// Whether a part's reply says its keys are elsewhere now.
fn retryable(r: &[u8]) -> bool {
    r.starts_with(b"-MOVED ") || r.starts_with(b"-TRYAGAIN") || r.starts_with(b"-CLUSTERDOWN")
}

/// Send the keys `idx` (with their values) to `node`, once.
fn send_part(
    cl: &Arc<Cluster>,
    node: u32,
    name: &[u8],
    items: &[Vec<Vec<u8>>],
    idx: &[usize],
    resp3: bool,
) -> Pending {
    let mut parts: Vec<&[u8]> = vec![name];
    for &i in idx {
        parts.extend(items[i].iter().map(|v| v.as_slice()));
    }
    let mut req = Vec::new();
    link::encode(&parts, &mut req);
    cl.stats.forwarded.fetch_add(1, Relaxed);
    let first = cached_link(node, resp3).map(|l| l.send(req.clone()));
    let cl = cl.clone();
    Box::pin(async move {
        let ans = match first {
            Some(rx) => rx.await.unwrap_or_else(|_| Err("link closed".into())),
            None => match link_to(&cl, node, resp3).await {
                Ok(l) => l
                    .send(req)
                    .await
                    .unwrap_or_else(|_| Err("link closed".into())),
                Err(e) => Err(e),
            },
        };
        ans.unwrap_or_else(|e| {
            cl.stats.forward_errors.fetch_add(1, Relaxed);
            error_line(&format!("TRYAGAIN cannot reach another node: {e}"))
        })
    })
}

/// Split the keys `idx` again by the current map (after a MOVED) and merge their replies
/// in `idx` order. Gives up after a few rounds with the last answer.
#[allow(clippy::too_many_arguments)]
fn resplit(
    cl: Arc<Cluster>,
    name: Vec<u8>,
    items: Arc<Vec<Vec<Vec<u8>>>>,
    kind: Split,
    idx: Vec<usize>,
    resp3: bool,
    why: &[u8],
    depth: u32,
) -> Pending {
    let f = follow_moved(&cl, why);
    let followed = f.is_some_and(|(_, to)| to.is_some());
    let why = why.to_vec();
    Box::pin(async move {
        if depth > MAX_ROUNDS {
            let slot = storage::key_slot(&items[idx[0]][0]);
            tracing::warn!(
                "cluster: keys still elsewhere after {depth} rounds: {} (slot {slot}: route {:?} {:?}, epoch {})",
                String::from_utf8_lossy(&why).trim_end(),
                cl.route(slot),
                cl.node(cl.owner(slot)).map(|n| n.resp),
                cl.epoch(slot),
            );
            return client_moved(&why);
        }
        if !followed || depth >= 3 {
            tokio::time::sleep(backoff(depth)).await;
        }
        // Positions within `idx`, grouped by owner (this node's own bus serves ours).
        let groups = by_owner(&cl, idx.iter().map(|&i| items[i][0].as_slice()));
        let mut sent = Vec::with_capacity(groups.len());
        for (owner, pos) in groups {
            let keys: Vec<usize> = pos.iter().map(|&p| idx[p]).collect();
            sent.push((
                pos,
                keys.clone(),
                send_part(&cl, owner, &name, &items, &keys, resp3),
            ));
        }
        let replies = gather(&cl, &name, &items, kind, resp3, sent, depth + 1).await;
        merge(kind, idx.len(), replies)
    })
}

/// Merge split replies: MGET's arrays into one in key order, sums, or OK.
fn merge(kind: Split, nkeys: usize, replies: Vec<(Vec<usize>, Vec<u8>)>) -> Vec<u8> {
    if let Some((_, e)) = replies.iter().find(|(_, r)| r.first() == Some(&b'-')) {
        return e.clone();
    }
    match kind {
        Split::Ok => b"+OK\r\n".to_vec(),
        Split::Sum => {
            let mut n = 0i64;
            for (_, r) in &replies {
                let v = std::str::from_utf8(r.get(1..r.len().saturating_sub(2)).unwrap_or(b""))
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok());
                match (r.first(), v) {
                    (Some(b':'), Some(v)) => n += v,
                    _ => return error_line("ERR unexpected reply from another node"),
                }
            }
            format!(":{n}\r\n").into_bytes()
        }
        Split::Array => {
            let mut elems: Vec<Option<&[u8]>> = vec![None; nkeys];
            for (idx, r) in &replies {
                let Some(body) = array_body(r, idx.len()) else {
                    return error_line("ERR unexpected reply from another node");
                };
                for (k, e) in idx.iter().zip(body) {
                    elems[*k] = Some(e);
                }
            }
            let mut out = format!("*{nkeys}\r\n").into_bytes();
            for e in elems {
                match e {
                    Some(e) => out.extend_from_slice(e),
                    None => return error_line("ERR unexpected reply from another node"),
                }
            }
            out
        }
    }
}

/// The element byte ranges of an array reply of `n` elements.
fn array_body(r: &[u8], n: usize) -> Option<Vec<&[u8]>> {
    let head = format!("*{n}\r\n");
    let mut rest = r.strip_prefix(head.as_bytes())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = protocol::reply_len(rest).ok()??;
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    rest.is_empty().then_some(out)
}

/// After a PUBLISH (or, `shard`, an SPUBLISH) ran here: relay it to every other live
/// node, whose subscribers get it too (Redis Cluster's semantics for PUBLISH; SPUBLISH's
/// subscribers may be on any node here). Fire and forget: the reply counts this node's
/// receivers, as in Redis Cluster.
pub fn relay_publish(cl: &Arc<Cluster>, args: Args<'_>, shard: bool) {
    let name: &[u8] = if shard {
        b"RCACHE.SPUBLISH"
    } else {
        b"RCACHE.PUBLISH"
    };
    let mut req = Vec::new();
    link::encode(&[name, args.get(1), args.get(2)], &mut req);
    for (i, n) in cl.nodes() {
        if i == cl.me || !n.alive {
            continue;
        }
        let (cl, req) = (cl.clone(), req.clone());
        tokio::spawn(async move {
            if let Ok(l) = link_to(&cl, i, false).await {
                let _ = l.send(req).await;
            }
        });
    }
}

/// One connection's forwarded requests of the batch being run: single-key requests are
/// gathered per owner and sent as one bundle (one channel message, one answer, one write)
/// when the batch's replies are due; splits, blocking commands and transactions are
/// futures of their own. Every reply goes back to the place its request had (`at`, the
/// offset in `wbuf` then; `seq` orders requests at the same offset).
#[derive(Default)]
pub struct Forwards {
    singles: Vec<(usize, u32, Pending)>,
    /// Gathered, not sent yet: one bundle per (node, RESP3).
    gathering: Vec<Bundle>,
    /// Sent, with the answer that brings their replies back concatenated.
    sent: Vec<(Bundle, Pending)>,
    seq: u32,
}

/// Requests for one node: (node, RESP3, the encoded requests, where each reply goes).
type Bundle = (u32, bool, Vec<u8>, Vec<Item>);

#[derive(Clone)]
struct Item {
    at: usize,
    seq: u32,
    slot: u16,
    req: std::ops::Range<usize>,
    /// A request of another door relayed whole (`RCACHE.MC`, `RCACHE.BIN`): its reply is
    /// that door's answer, unwrapped (`unwrap_relayed`).
    relayed: Option<commands::Door>,
}

impl Forwards {
    pub fn is_empty(&self) -> bool {
        self.singles.is_empty() && self.gathering.is_empty() && self.sent.is_empty()
    }

    /// A single-key request for `node`, its reply due at `at`.
    pub fn add(
        &mut self,
        cl: &Cluster,
        node: u32,
        slot: u16,
        args: Args<'_>,
        resp3: bool,
        at: usize,
    ) {
        self.add_item(cl, node, slot, args, resp3, at, None);
    }

    /// A memcached or binary-protocol request (its raw bytes) for `node`: relayed whole as
    /// `RCACHE.MC` / `RCACHE.BIN`; the owner's answer in that protocol goes back as it is.
    pub fn add_relayed(
        &mut self,
        cl: &Cluster,
        door: commands::Door,
        node: u32,
        slot: u16,
        frame: &[u8],
        at: usize,
    ) {
        let owned = OwnedArgs::new([relay_command(door), frame]);
        self.add_item(cl, node, slot, owned.args(), false, at, Some(door));
    }

    #[allow(clippy::too_many_arguments)]
    fn add_item(
        &mut self,
        cl: &Cluster,
        node: u32,
        slot: u16,
        args: Args<'_>,
        resp3: bool,
        at: usize,
        relayed: Option<commands::Door>,
    ) {
        cl.stats.forwarded.fetch_add(1, Relaxed);
        let i = match self
            .gathering
            .iter()
            .position(|g| g.0 == node && g.1 == resp3)
        {
            Some(i) => i,
            None => {
                self.gathering
                    .push((node, resp3, Vec::with_capacity(4096), Vec::new()));
                self.gathering.len() - 1
            }
        };
        let g = &mut self.gathering[i];
        let start = g.2.len();
        let parts: Vec<&[u8]> = args.iter().collect();
        link::encode(&parts, &mut g.2);
        let end = g.2.len();
        self.seq += 1;
        g.3.push(Item {
            at,
            seq: self.seq,
            slot,
            req: start..end,
            relayed,
        });
    }

    /// A future of its own (a split, a blocking command, a transaction), its reply due at
    /// `at`. What was gathered goes out first, so the owner sees this client's requests in
    /// the order they were sent.
    pub fn push(&mut self, cl: &Arc<Cluster>, at: usize, p: Pending) {
        self.send_gathered(cl);
        self.seq += 1;
        self.singles.push((at, self.seq, p));
    }

    /// Send every gathered bundle now (each one message on this thread's link).
    pub fn send_gathered(&mut self, cl: &Arc<Cluster>) {
        for (node, resp3, buf, items) in self.gathering.drain(..) {
            let n = items.len();
            let first = cached_link(node, resp3).map(|l| l.send_many(buf.clone(), n));
            let (cl2, req) = (cl.clone(), buf.clone());
            let p: Pending = Box::pin(async move {
                let ans = match first {
                    Some(rx) => rx.await.unwrap_or_else(|_| Err("link closed".into())),
                    None => match link_to(&cl2, node, resp3).await {
                        Ok(l) => l
                            .send_many(req, n)
                            .await
                            .unwrap_or_else(|_| Err("link closed".into())),
                        Err(e) => Err(e),
                    },
                };
                match ans {
                    Ok(b) => b,
                    Err(e) => {
                        // Every request of the bundle gets the same retryable error.
                        cl2.stats.forward_errors.fetch_add(n as u64, Relaxed);
                        let line = error_line(&format!(
                            "TRYAGAIN cannot reach the owner of these keys: {e}"
                        ));
                        line.repeat(n)
                    }
                }
            });
            self.sent.push(((node, resp3, buf, items), p));
        }
    }

    /// Wait for every reply and put each in its place in `wbuf`.
    pub async fn resolve(&mut self, cl: &Arc<Cluster>, wbuf: &mut Vec<u8>) {
        if self.is_empty() {
            return;
        }
        self.send_gathered(cl);
        let mut out: Vec<(usize, u32, Vec<u8>)> = Vec::new();
        for (at, seq, p) in self.singles.drain(..) {
            out.push((at, seq, p.await));
        }
        let t0 = Instant::now();
        for ((_node, resp3, buf, items), p) in self.sent.drain(..) {
            let all = p.await;
            let mut rest = all.as_slice();
            for it in items {
                let len = match protocol::reply_len(rest) {
                    Ok(Some(n)) => n,
                    _ => rest.len(),
                };
                let one = &rest[..len];
                rest = &rest[len..];
                let reply = if retryable(one) {
                    // The slot moved on: this request alone follows the MOVED.
                    let _ = follow_moved(cl, one);
                    let node = match cl.route(it.slot) {
                        Route::Remote(o) => o,
                        _ => cl.me,
                    };
                    let req = buf[it.req.clone()].to_vec();
                    forward_encoded(cl, node, it.slot, req, resp3, false).await
                } else {
                    one.to_vec()
                };
                let reply = match it.relayed {
                    Some(door) => unwrap_relayed(door, &reply),
                    None => reply,
                };
                out.push((it.at, it.seq, reply));
            }
        }
        cl.stats
            .forward_latency_us
            .fetch_add(t0.elapsed().as_micros() as u64, Relaxed);
        out.sort_by_key(|(at, seq, _)| (*at, *seq));
        let extra: usize = out.iter().map(|o| o.2.len()).sum();
        let mut merged = Vec::with_capacity(wbuf.len() + extra);
        let mut last = 0;
        for (at, _, r) in out {
            merged.extend_from_slice(&wbuf[last..at]);
            merged.extend_from_slice(&r);
            last = at;
        }
        merged.extend_from_slice(&wbuf[last..]);
        *wbuf = merged;
    }
}

/// The bus command that relays a request of `door` whole.
pub fn relay_command(door: commands::Door) -> &'static [u8] {
    match door {
        commands::Door::Binary => b"RCACHE.BIN",
        _ => b"RCACHE.MC",
    }
}

/// An error line in `door`'s own words (memcached `SERVER_ERROR`, a binary error frame).
pub fn door_error(door: commands::Door, msg: &str) -> Vec<u8> {
    match door {
        commands::Door::Binary => {
            let mut out = vec![protocol::binary::VERSION];
            protocol::binary::put_error(&mut out, msg.as_bytes());
            out
        }
        _ => format!("SERVER_ERROR {msg}\r\n").into_bytes(),
    }
}

/// The door's answer inside a relay's reply (a bulk string); an error from the bus (no
/// owner reachable, the slot kept moving) becomes that door's error.
pub fn unwrap_relayed(door: commands::Door, reply: &[u8]) -> Vec<u8> {
    if let Ok((protocol::RespValue::Bulk(b), _)) = protocol::parse_reply(reply) {
        return b.to_vec();
    }
    let msg = String::from_utf8_lossy(reply.strip_prefix(b"-").unwrap_or(reply));
    door_error(door, msg.trim_end())
}

/// A memcached multi-get whose keys live on several nodes: one `get k…` per owner (this
/// node's own bus serves its part), the hits concatenated, one END. Parts answered MOVED
/// are grouped again by the map as it is then.
pub fn mc_multi_get(cl: &Arc<Cluster>, head: Vec<u8>, keys: Vec<Vec<u8>>, depth: u32) -> Pending {
    let groups = by_owner(cl, keys.iter().map(|k| k.as_slice()));
    let mut parts = Vec::with_capacity(groups.len());
    for (owner, idx) in groups {
        let mut line = head.clone();
        for &i in &idx {
            line.push(b' ');
            line.extend_from_slice(&keys[i]);
        }
        line.extend_from_slice(b"\r\n");
        let items = vec![vec![line]];
        let p = send_part(cl, owner, b"RCACHE.MC", &items, &[0], false);
        parts.push((idx, p));
    }
    let cl = cl.clone();
    Box::pin(async move {
        let mut out = Vec::new();
        for (idx, p) in parts {
            let r = p.await;
            let body = if retryable(&r) && depth < MAX_ROUNDS {
                let _ = follow_moved(&cl, &r);
                tokio::time::sleep(backoff(depth)).await;
                let sub: Vec<Vec<u8>> = idx.iter().map(|&i| keys[i].clone()).collect();
                mc_multi_get(&cl, head.clone(), sub, depth + 1).await
            } else {
                unwrap_relayed(commands::Door::Memcache, &r)
            };
            match body.strip_suffix(b"END\r\n") {
                Some(hits) => out.extend_from_slice(hits),
                None => return body, // an error line: the client gets it
            }
        }
        out.extend_from_slice(b"END\r\n");
        out
    })
}
