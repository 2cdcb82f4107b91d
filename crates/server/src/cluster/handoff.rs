//! Slot hand-off, source side: moving the slots this node owns to their target owners.
//!
//! ```text
//!  plan (every tick)   slots owned here whose target is another serving node, grouped by
//!                      target; one batch at a time per target (several targets at once)
//!  batch               bus connection ─► RCACHE.IMPORT BEGIN slots (target drops leftovers)
//!                      freeze slots, drain commands in flight (the gate, exclusively)
//!                      RESTORE … REPLACE for every key (pipelined)  ─► all +OK
//!                      RCACHE.IMPORT COMMIT epoch slots ─► +OK ─► flip: target owns them,
//!                      waiting writes re-route to it; our copy is dropped
//!  failure before COMMIT's +OK: ABORT (the target drops what it got), thaw, retry later
//!  COMMIT sent but no answer: slots stay frozen until STATUS says which side owns them
//! ```
//! Reads of a moving slot are served here throughout (the data is here until the flip);
//! writes wait for the batch (milliseconds: a batch is sized by keys, `BATCH_KEYS`).
//! Invariants 1, 3, 4, 5 and 6 of docs/CLUSTER.md hold by this order.

use cluster::link;
use cluster::membership::state as node_state;
use cluster::state::NONE;
use cluster::Cluster;
use commands::ServerState;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A batch holds slots until about this many keys (the writes to its slots wait for it),
/// fewer under a low `cluster-handoff-rate` (about a tenth of a second's worth).
const BATCH_KEYS: usize = 2048;
/// And at most this many slots.
const BATCH_SLOTS: usize = 512;
/// After a failed batch, that target is left alone this long.
const BACKOFF: Duration = Duration::from_secs(1);
/// One batch's whole exchange must finish within this.
const BATCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The hand-offs running, one per target.
#[derive(Default)]
pub struct Planner {
    running: HashMap<u32, tokio::task::JoinHandle<Result<usize, String>>>,
    retry_at: HashMap<u32, Instant>,
}

impl Planner {
    /// Start a batch towards every target that has slots to receive and no batch running.
    pub fn plan(&mut self, state: &Arc<ServerState>, cl: &Arc<Cluster>) {
        // Collect finished batches.
        let done: Vec<u32> = self
            .running
            .iter()
            .filter(|(_, h)| h.is_finished())
            .map(|(t, _)| *t)
            .collect();
        // `cluster-handoff-rate`: keys per second to each target; a batch of n keys is
        // followed by n / rate seconds before that target's next one.
        let rate: u64 = state
            .settings
            .value("cluster-handoff-rate")
            .parse()
            .unwrap_or(0);
        for t in done {
            if let Some(h) = self.running.remove(&t) {
                match futures_now(h) {
                    Some(Ok(Err(e))) => {
                        tracing::warn!("cluster: hand-off to node {t} failed: {e}; retrying later");
                        self.retry_at.insert(t, Instant::now() + BACKOFF);
                    }
                    Some(Ok(Ok(keys))) if rate > 0 => {
                        let pause = Duration::from_secs_f64(keys as f64 / rate as f64);
                        self.retry_at.insert(t, Instant::now() + pause);
                    }
                    _ => {}
                }
            }
        }
        let targets = cl.targets();
        if targets.len() != cluster::SLOTS {
            return;
        }
        let nodes = cl.nodes();
        let mut by_target: HashMap<u32, Vec<u16>> = HashMap::new();
        for s in 0..cluster::SLOTS as u16 {
            let t = targets[s as usize];
            if t == cl.me || t == NONE || cl.owner(s) != cl.me || cl.is_frozen(s) {
                continue;
            }
            let Some((_, n)) = nodes.get(t as usize) else {
                continue;
            };
            if !n.alive || n.state != node_state::SERVING || n.bus.is_none() {
                continue;
            }
            by_target.entry(t).or_default().push(s);
        }
        let mut moving = 0u64;
        for (t, slots) in by_target {
            moving += slots.len() as u64;
            if self.running.contains_key(&t)
                || self.retry_at.get(&t).is_some_and(|at| Instant::now() < *at)
            {
                continue;
            }
            // Size the batch by keys, so the pause of its writes stays short.
            let max_keys = match rate {
                0 => BATCH_KEYS,
                r => (r as usize / 10).clamp(1, BATCH_KEYS),
            };
            let mut batch = Vec::new();
            let mut keys = 0;
            for s in slots {
                keys += state.ks.count_keys_in_slot(0, s);
                batch.push(s);
                if keys >= max_keys || batch.len() >= BATCH_SLOTS {
                    break;
                }
            }
            let (st, c) = (state.clone(), cl.clone());
            self.running.insert(
                t,
                tokio::spawn(async move { move_batch(&st, &c, t, batch).await }),
            );
        }
        cl.stats.moving_slots.store(moving, Relaxed);
    }

    /// Stop every batch (shutdown): a batch cut off before COMMIT leaves the slots here.
    pub fn stop(&mut self) {
        for (_, h) in self.running.drain() {
            h.abort();
        }
    }
}

/// The result of a finished task, without waiting.
fn futures_now<T>(h: tokio::task::JoinHandle<T>) -> Option<Result<T, tokio::task::JoinError>> {
    use std::future::Future;
    use std::task::{Context, Poll};
    let mut h = h;
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    match std::pin::Pin::new(&mut h).poll(&mut cx) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => None,
    }
}

/// Send one request and read its reply; an error reply is an error.
async fn ask(sock: &mut TcpStream, buf: &mut Vec<u8>, args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    link::encode(args, &mut out);
    sock.write_all(&out).await.map_err(|e| e.to_string())?;
    let r = link::read_reply(sock, buf)
        .await
        .map_err(|e| e.to_string())?;
    if r.first() == Some(&b'-') {
        return Err(String::from_utf8_lossy(&r[1..]).trim_end().to_string());
    }
    Ok(r)
}

fn slot_args(head: &[&[u8]], slots: &[u16]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = head.iter().map(|h| h.to_vec()).collect();
    v.extend(slots.iter().map(|s| s.to_string().into_bytes()));
    v
}

async fn ask_owned(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
    args: &[Vec<u8>],
) -> Result<Vec<u8>, String> {
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    ask(sock, buf, &refs).await
}

/// Move `slots` to node `to`. Returns the keys moved.
async fn move_batch(
    state: &Arc<ServerState>,
    cl: &Arc<Cluster>,
    to: u32,
    slots: Vec<u16>,
) -> Result<usize, String> {
    let node = cl.node(to).ok_or("unknown node")?;
    let addr = node.bus.ok_or("node has no bus address")?;
    let mut sock = link::open(addr, &cl.secret, &cl.my_id, false)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    ask_owned(
        &mut sock,
        &mut buf,
        &slot_args(&[b"RCACHE.IMPORT", b"BEGIN"], &slots),
    )
    .await?;
    let t0 = Instant::now();
    cl.freeze(&slots, to);
    // Every command that passed the routing check before the freeze is done once the gate
    // is ours alone; every later one sees the slots frozen (route.rs) and waits.
    drop(state.gate.exclusive().await);
    let sent =
        tokio::time::timeout(BATCH_TIMEOUT, send_keys(state, &mut sock, &mut buf, &slots)).await;
    let keys = match sent {
        Ok(Ok(n)) => n,
        failed => {
            let e = match failed {
                Ok(Err(e)) => e,
                _ => "timed out".to_string(),
            };
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                ask_owned(
                    &mut sock,
                    &mut buf,
                    &slot_args(&[b"RCACHE.IMPORT", b"ABORT"], &slots),
                ),
            )
            .await;
            cl.thaw_slots(&slots);
            cl.stats.handoffs_aborted.fetch_add(1, Relaxed);
            return Err(format!("sending keys: {e}"));
        }
    };
    let epoch = cl.next_epoch();
    let commit = slot_args(
        &[b"RCACHE.IMPORT", b"COMMIT", epoch.to_string().as_bytes()],
        &slots,
    );
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        ask_owned(&mut sock, &mut buf, &commit),
    )
    .await;
    match r {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if !e.contains("closed") && !e.contains("reset") => {
            // The target answered and refused: nothing changed there.
            cl.thaw_slots(&slots);
            cl.stats.handoffs_aborted.fetch_add(1, Relaxed);
            return Err(format!("commit refused: {e}"));
        }
        _ => {
            // Sent, unanswered: the target may own them now. Ask until one side is sure.
            if !settle(cl, to, addr, &slots, epoch).await {
                cl.thaw_slots(&slots);
                cl.stats.handoffs_aborted.fetch_add(1, Relaxed);
                return Err("commit unanswered; the target does not own the slots".into());
            }
        }
    }
    cl.flip(&slots, to, epoch);
    let paused = t0.elapsed();
    // Reads of a frozen slot are served here; one routed just before the flip may still be
    // running. Once the gate has been ours alone, every command routed before the flip is
    // done, and every later one goes to the new owner: only then do our copies go.
    drop(state.gate.exclusive().await);
    // Clients blocked here on keys of the moved slots (BLPOP & co.) are told where the keys
    // went, as Redis Cluster does; a node that forwarded one follows it (route.rs).
    if state.blocking.has_waiters() {
        let woken = state.blocking.redirect(|key| {
            let slot = storage::key_slot(key);
            slots.contains(&slot).then(|| {
                format!("-{}\r\n", commands::cluster_cmd::moved(cl, slot, to)).into_bytes()
            })
        });
        if woken > 0 {
            tracing::info!("cluster: {woken} blocked clients redirected to the slots' new owner");
        }
    }
    for &s in &slots {
        commands::cluster_cmd::drop_slot(state, s);
    }
    let st = &cl.stats;
    st.handoffs_done.fetch_add(1, Relaxed);
    st.slots_moved_out.fetch_add(slots.len() as u64, Relaxed);
    st.keys_moved_out.fetch_add(keys as u64, Relaxed);
    tracing::info!(
        "cluster: handed {} slots ({keys} keys) to {} at epoch {epoch}; writes paused {paused:?}",
        slots.len(),
        node.id
    );
    Ok(keys)
}

/// Dump and send every key of the frozen slots; read every reply. Big values go in pieces
/// (`cluster_cmd::BigKey`), written as they are read.
async fn send_keys(
    state: &Arc<ServerState>,
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
    slots: &[u16],
) -> Result<usize, String> {
    let mut keys = 0usize;
    let mut commands = 0usize;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut big = Vec::new();
    for &s in slots {
        let n = commands::cluster_cmd::dump_slot(state, s, &mut out, &mut big);
        keys += n;
        commands += n;
        if out.len() >= 256 * 1024 {
            sock.write_all(&out).await.map_err(|e| e.to_string())?;
            state_bytes(state, out.len());
            out.clear();
        }
    }
    if !out.is_empty() {
        sock.write_all(&out).await.map_err(|e| e.to_string())?;
        state_bytes(state, out.len());
    }
    for k in big {
        let mut piece = commands::cluster_cmd::BigKey::new(state, k);
        let mut sent_any = false;
        while let Some((bytes, n)) = piece.next_piece() {
            sock.write_all(&bytes).await.map_err(|e| e.to_string())?;
            state_bytes(state, bytes.len());
            commands += n;
            sent_any = true;
            // Let the target's replies drain as a big value goes out.
            while commands > 256 {
                let r = link::read_reply(sock, buf)
                    .await
                    .map_err(|e| e.to_string())?;
                if r.first() == Some(&b'-') {
                    return Err(String::from_utf8_lossy(&r[1..]).trim_end().to_string());
                }
                commands -= 1;
            }
        }
        keys += usize::from(sent_any);
    }
    for _ in 0..commands {
        let r = link::read_reply(sock, buf)
            .await
            .map_err(|e| e.to_string())?;
        if r.first() == Some(&b'-') {
            return Err(String::from_utf8_lossy(&r[1..]).trim_end().to_string());
        }
    }
    Ok(keys)
}

fn state_bytes(state: &ServerState, n: usize) {
    if let Some(cl) = state.cluster.get() {
        cl.stats.bytes_moved_out.fetch_add(n as u64, Relaxed);
    }
}

/// After an unanswered COMMIT: poll the target's STATUS (fresh connections) until it says
/// whether it owns the slots. `true` = it does (flip). A target that stays unreachable
/// until gossip calls it dead never served the slots to anyone but its importer: `false`.
async fn settle(
    cl: &Cluster,
    to: u32,
    addr: std::net::SocketAddr,
    slots: &[u16],
    epoch: u64,
) -> bool {
    let probe = slots[0];
    loop {
        if let Ok(mut sock) = link::open(addr, &cl.secret, &cl.my_id, false).await {
            let mut buf = Vec::new();
            let s = probe.to_string();
            if let Ok(r) = ask(
                &mut sock,
                &mut buf,
                &[b"RCACHE.IMPORT", b"STATUS", s.as_bytes()],
            )
            .await
            {
                let r = String::from_utf8_lossy(&r).to_string();
                return r.starts_with(&format!("+owner {epoch}"));
            }
        }
        if cl.node(to).is_none_or(|n| !n.alive) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
