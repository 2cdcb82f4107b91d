//! What this node believes about the cluster: the nodes it knows, the current owner and
//! epoch of every slot, and the slots it is handing off or taking in. The request path
//! reads it with one atomic load per slot (`route`); the reconciler (`apply_view`) and the
//! hand-off change it.
//!
//! ```text
//!  gossip members + their claims ──apply_view──► owner[slot], epoch[slot], nodes
//!     highest epoch wins (ties: the larger node id); a live owner keeps a slot nobody
//!     claims (a hand-off in flight); a dead owner's slot goes to its target, empty, at
//!     max epoch + 1 (counted in `slots_lost`)
//!  hand-off, source: freeze(slots) … flip(slots, to, epoch)   (or thaw on abort)
//!  hand-off, target: importing(slots) … commit(slots, epoch)  (or drop on abort)
//! ```
//! Invariant 1 of docs/CLUSTER.md (one writer) rests on the order: the source stops
//! writing (`freeze`, then the server drains commands in flight through its gate) before it
//! sends the last keys, and the target starts only at `commit`, after all of them.

use crate::membership::{state as node_state, MemberInfo};
use crate::{claims, slots, SLOTS};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::Arc;
use tokio::sync::Notify;

/// No owner known.
pub const NONE: u32 = u32::MAX;

/// Published keys with a node's addresses (besides `membership::key::RESP`).
pub mod addr_key {
    pub const BUS: &str = "addr.bus";
    pub const HTTP: &str = "addr.http";
    pub const MEMCACHE: &str = "addr.memcache";
    pub const BINARY: &str = "addr.binary";
}

/// A node as this one knows it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub id: String,
    /// Where clients reach it (RESP) and where nodes forward to (the bus).
    pub resp: Option<SocketAddr>,
    pub bus: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub memcache: Option<SocketAddr>,
    pub binary: Option<SocketAddr>,
    pub gossip: Option<SocketAddr>,
    pub state: String,
    pub weight: u32,
    pub alive: bool,
    /// When this node saw it go from alive to dead (never set for a node it never saw
    /// alive: a node just joining must not mistake an owner it has not heard yet for a
    /// dead one).
    pub dead_since: Option<std::time::Instant>,
}

/// A dead owner's slots are taken over only after it has been dead this long here.
pub const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Where a request for a slot goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Served here.
    Local,
    /// Owned here, but its writes are paused for the last step of a hand-off.
    Frozen,
    /// Owned by another node (index into the registry).
    Remote(u32),
    /// No node serves it right now (a dead owner not yet replaced, or this node has not
    /// learned the map yet): answer a retryable error.
    Down,
}

/// Counters for INFO cluster, `/v1/cluster` and the metrics.
#[derive(Default)]
pub struct Stats {
    pub forwarded: AtomicU64,
    pub forward_errors: AtomicU64,
    pub forward_latency_us: AtomicU64,
    pub moved_sent: AtomicU64,
    pub slots_lost: AtomicU64,
    pub handoffs_done: AtomicU64,
    pub handoffs_aborted: AtomicU64,
    pub slots_moved_out: AtomicU64,
    pub keys_moved_out: AtomicU64,
    pub bytes_moved_out: AtomicU64,
    pub slots_moved_in: AtomicU64,
    pub keys_moved_in: AtomicU64,
    /// Slots this node still has to hand off.
    pub moving_slots: AtomicU64,
    pub refused_bus: AtomicU64,
}

struct Registry {
    nodes: Vec<Arc<RwLock<NodeInfo>>>,
    by_id: HashMap<String, u32>,
}

/// This node's view of the cluster.
pub struct Cluster {
    /// This node's registry index (always 0).
    pub me: u32,
    pub my_id: String,
    /// Answer MOVED instead of forwarding (`cluster-redirect`).
    pub redirect: bool,
    /// The cluster secret (empty = none) for gossip and the bus.
    pub secret: Vec<u8>,
    registry: RwLock<Registry>,
    owner: Box<[AtomicU32]>,
    epoch: Box<[AtomicU64]>,
    frozen: Box<[AtomicBool]>,
    importing: Box<[AtomicBool]>,
    /// Where a slot is being handed to (NONE = not moving): CLUSTER NODES' markers.
    migrating: Box<[AtomicU32]>,
    /// The highest epoch seen anywhere: a new claim takes the next one.
    max_epoch: AtomicU64,
    /// Held by every change of `owner`/`epoch`: the reconciler's read-compare-write over
    /// the table must not interleave with a commit or a flip on another thread (it would
    /// put back an owner the commit had just replaced). Routing reads without it.
    changing: parking_lot::Mutex<()>,
    /// Woken when frozen slots thaw (writes waiting on them re-route).
    pub thaw: Notify,
    /// Woken when this node's claims change (the reconciler publishes them).
    pub claims_changed: Notify,
    /// The target map of the last view (registry indexes), for the hand-off planner.
    target: RwLock<Vec<u32>>,
    /// CLUSTER LEAVE or SIGTERM with draining: hand every slot off, then stop.
    leaving: AtomicBool,
    pub leave: Notify,
    pub stats: Stats,
}

fn atomics<T>(n: usize, f: impl Fn() -> T) -> Box<[T]> {
    (0..n).map(|_| f()).collect()
}

/// What `apply_view` changed, for the log and the server.
#[derive(Debug, Default)]
pub struct ViewChange {
    /// Slots this node owned and lost to a higher claim: their keys must go.
    pub lost: Vec<u16>,
    /// Slots whose dead owner this node replaced (they start empty).
    pub orphans_taken: usize,
    /// Nodes that appeared, died or changed state: (id, what).
    pub events: Vec<(String, String)>,
    /// Slots of a dead owner this node would take but may not: it sees no majority.
    pub no_quorum: usize,
}

impl Cluster {
    pub fn new(my_id: String, me: NodeInfo, redirect: bool, secret: Vec<u8>) -> Cluster {
        let mut by_id = HashMap::new();
        by_id.insert(my_id.clone(), 0);
        Cluster {
            me: 0,
            my_id,
            redirect,
            secret,
            registry: RwLock::new(Registry {
                nodes: vec![Arc::new(RwLock::new(me))],
                by_id,
            }),
            owner: atomics(SLOTS, || AtomicU32::new(NONE)),
            epoch: atomics(SLOTS, || AtomicU64::new(0)),
            frozen: atomics(SLOTS, || AtomicBool::new(false)),
            importing: atomics(SLOTS, || AtomicBool::new(false)),
            migrating: atomics(SLOTS, || AtomicU32::new(NONE)),
            max_epoch: AtomicU64::new(0),
            changing: parking_lot::Mutex::new(()),
            thaw: Notify::new(),
            claims_changed: Notify::new(),
            target: RwLock::new(Vec::new()),
            leaving: AtomicBool::new(false),
            leave: Notify::new(),
            stats: Stats::default(),
        }
    }

    /// Where a request for `slot` goes. One load on the common path.
    #[inline]
    pub fn route(&self, slot: u16) -> Route {
        let o = self.owner[slot as usize].load(Acquire);
        if o == self.me {
            if self.frozen[slot as usize].load(Acquire) {
                Route::Frozen
            } else {
                Route::Local
            }
        } else if o == NONE {
            Route::Down
        } else {
            Route::Remote(o)
        }
    }

    pub fn owner(&self, slot: u16) -> u32 {
        self.owner[slot as usize].load(Acquire)
    }

    pub fn epoch(&self, slot: u16) -> u64 {
        self.epoch[slot as usize].load(Acquire)
    }

    pub fn is_frozen(&self, slot: u16) -> bool {
        self.frozen[slot as usize].load(Acquire)
    }

    pub fn is_importing(&self, slot: u16) -> bool {
        self.importing[slot as usize].load(Acquire)
    }

    pub fn migrating_to(&self, slot: u16) -> u32 {
        self.migrating[slot as usize].load(Relaxed)
    }

    pub fn max_epoch(&self) -> u64 {
        self.max_epoch.load(Acquire)
    }

    fn saw_epoch(&self, e: u64) {
        self.max_epoch.fetch_max(e, Release);
    }

    /// A new epoch, above every one seen.
    pub fn next_epoch(&self) -> u64 {
        self.max_epoch.fetch_add(1, Release) + 1
    }

    /// Ask this node to leave: it hands off every slot, then stops (the server's cluster
    /// task acts on it).
    pub fn request_leave(&self) {
        self.leaving.store(true, Release);
        self.leave.notify_one();
    }

    pub fn is_leaving(&self) -> bool {
        self.leaving.load(Acquire)
    }

    /// A node by registry index.
    pub fn node(&self, idx: u32) -> Option<NodeInfo> {
        let r = self.registry.read();
        r.nodes.get(idx as usize).map(|n| n.read().clone())
    }

    /// The node whose RESP address is `addr` (a MOVED hint).
    pub fn node_by_resp(&self, addr: &str) -> Option<u32> {
        let r = self.registry.read();
        r.nodes
            .iter()
            .position(|n| n.read().resp.is_some_and(|a| a.to_string() == addr))
            .map(|i| i as u32)
    }

    /// A node another node told us about (a MOVED from the bus names the owner's id and
    /// addresses) before gossip did: registered so the request can follow at once. Gossip
    /// fills in the rest.
    pub fn learn(&self, id: &str, resp: SocketAddr, bus: SocketAddr) -> u32 {
        let mut r = self.registry.write();
        if let Some(&i) = r.by_id.get(id) {
            let mut n = r.nodes[i as usize].write();
            n.resp.get_or_insert(resp);
            n.bus.get_or_insert(bus);
            return i;
        }
        let i = r.nodes.len() as u32;
        r.nodes.push(Arc::new(RwLock::new(NodeInfo {
            id: id.to_string(),
            resp: Some(resp),
            bus: Some(bus),
            // Not "alive" until gossip says so: it must not count as a member (nor as a
            // failed one) on a MOVED's word alone.
            alive: false,
            ..NodeInfo::default()
        })));
        r.by_id.insert(id.to_string(), i);
        i
    }

    /// Every node known (dead ones included, marked so), by registry index.
    pub fn nodes(&self) -> Vec<(u32, NodeInfo)> {
        let r = self.registry.read();
        r.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32, n.read().clone()))
            .collect()
    }

    /// This node's own info.
    pub fn myself(&self) -> NodeInfo {
        self.node(self.me).unwrap_or_default()
    }

    pub fn set_my_state(&self, state: &str) {
        let r = self.registry.read();
        r.nodes[self.me as usize].write().state = state.to_string();
    }

    /// Runs of consecutive slots with one owner: (first, last, owner). Unowned runs are
    /// left out.
    pub fn ranges(&self) -> Vec<(u16, u16, u32)> {
        let mut out: Vec<(u16, u16, u32)> = Vec::new();
        for s in 0..SLOTS {
            let o = self.owner[s].load(Acquire);
            if o == NONE {
                continue;
            }
            match out.last_mut() {
                Some(r) if r.2 == o && r.1 as usize + 1 == s => r.1 = s as u16,
                _ => out.push((s as u16, s as u16, o)),
            }
        }
        out
    }

    /// Slots owned per node index.
    pub fn slot_counts(&self) -> HashMap<u32, usize> {
        let mut m = HashMap::new();
        for s in 0..SLOTS {
            let o = self.owner[s].load(Acquire);
            if o != NONE {
                *m.entry(o).or_insert(0) += 1;
            }
        }
        m
    }

    /// Slots whose owner is alive (this node, or a node gossip says is up).
    pub fn served(&self) -> usize {
        let r = self.registry.read();
        let up: Vec<bool> = r
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| i as u32 == self.me || n.read().alive)
            .collect();
        drop(r);
        (0..SLOTS)
            .filter(|&s| {
                let o = self.owner[s].load(Acquire);
                o != NONE && up.get(o as usize).copied().unwrap_or(false)
            })
            .count()
    }

    pub fn assigned(&self) -> usize {
        (0..SLOTS)
            .filter(|&s| self.owner[s].load(Acquire) != NONE)
            .count()
    }

    /// This node's claims for gossip chunk `i`.
    pub fn my_claims(&self, chunk: usize) -> String {
        claims::encode_chunk(chunk, |s| {
            (self.owner[s].load(Acquire) == self.me).then(|| self.epoch[s].load(Acquire))
        })
    }

    /// The first node of a new cluster takes every slot (epoch 1).
    pub fn found(&self) {
        let _g = self.changing.lock();
        for s in 0..SLOTS {
            self.epoch[s].store(1, Release);
            self.owner[s].store(self.me, Release);
        }
        self.saw_epoch(1);
        self.claims_changed.notify_one();
    }

    /// Take back slots at start-up that this node's previous run owned (its saved claims),
    /// when nobody has claimed them higher since: the reconciler settles the rest.
    pub fn restore_claims(&self, saved: &[(u16, u64)]) {
        let _g = self.changing.lock();
        for &(s, e) in saved {
            if (s as usize) < SLOTS && self.owner[s as usize].load(Acquire) == NONE {
                self.epoch[s as usize].store(e, Release);
                self.owner[s as usize].store(self.me, Release);
                self.saw_epoch(e);
            }
        }
        self.claims_changed.notify_one();
    }

    /// Slots this node owns with their epochs (saved at shutdown for the next start).
    pub fn owned(&self) -> Vec<(u16, u64)> {
        (0..SLOTS)
            .filter(|&s| self.owner[s].load(Acquire) == self.me)
            .map(|s| (s as u16, self.epoch[s].load(Acquire)))
            .collect()
    }

    /// The target owner of each slot by the last view (registry indexes; empty before the
    /// first view).
    pub fn targets(&self) -> Vec<u32> {
        self.target.read().clone()
    }

    // ---- hand-off, source side ----

    /// Pause writes to `slots` (they must be owned here). The caller then drains commands in
    /// flight (the server's gate) before reading the slots' last keys.
    pub fn freeze(&self, slots: &[u16], to: u32) {
        for &s in slots {
            self.migrating[s as usize].store(to, Relaxed);
            self.frozen[s as usize].store(true, Release);
        }
    }

    /// Hand-off aborted: writes resume here.
    pub fn thaw_slots(&self, slots: &[u16]) {
        for &s in slots {
            self.frozen[s as usize].store(false, Release);
            self.migrating[s as usize].store(NONE, Relaxed);
        }
        self.thaw.notify_waiters();
    }

    /// Hand-off done: `to` owns `slots` at `epoch`; writes waiting here re-route to it.
    pub fn flip(&self, slots: &[u16], to: u32, epoch: u64) {
        let g = self.changing.lock();
        self.saw_epoch(epoch);
        for &s in slots {
            self.epoch[s as usize].store(epoch, Release);
            self.owner[s as usize].store(to, Release);
            self.frozen[s as usize].store(false, Release);
            self.migrating[s as usize].store(NONE, Relaxed);
        }
        drop(g);
        self.thaw.notify_waiters();
        self.claims_changed.notify_one();
    }

    // ---- hand-off, target side ----

    pub fn set_importing(&self, slots: &[u16], on: bool) {
        for &s in slots {
            self.importing[s as usize].store(on, Release);
        }
    }

    /// The source handed `slots` over at `epoch`: this node serves them from now on.
    pub fn commit(&self, slots: &[u16], epoch: u64) {
        let _g = self.changing.lock();
        self.saw_epoch(epoch);
        for &s in slots {
            self.epoch[s as usize].store(epoch, Release);
            self.owner[s as usize].store(self.me, Release);
            self.importing[s as usize].store(false, Release);
        }
        self.claims_changed.notify_one();
    }

    /// A hint (a MOVED from the node we forwarded to): `to` owns `slot` at `epoch` (0 =
    /// not said: a client-style MOVED). Only a remote slot's route changes, and only
    /// forward in epochs, so gossip still carrying the old owner's claim does not undo it;
    /// our own slots change only by hand-off or a higher claim.
    pub fn hint(&self, slot: u16, to: u32, epoch: u64) {
        let s = slot as usize;
        let _g = self.changing.lock();
        let cur = self.owner[s].load(Acquire);
        if cur == self.me || to == self.me {
            return;
        }
        if epoch >= self.epoch[s].load(Acquire) {
            if epoch > 0 {
                self.epoch[s].store(epoch, Release);
            }
            self.owner[s].store(to, Release);
        }
    }

    // ---- the reconciler ----

    /// Fold in what gossip says: nodes, their liveness and state, and their claims.
    /// `members` are the live nodes (this one included).
    pub fn apply_view(&self, members: &[MemberInfo]) -> ViewChange {
        let mut change = ViewChange::default();
        let _g = self.changing.lock();
        let live: Vec<u32> = {
            let mut r = self.registry.write();
            let mut live = Vec::with_capacity(members.len());
            for m in members {
                let idx = match r.by_id.get(&m.node_id) {
                    Some(&i) => i,
                    None => {
                        let i = r.nodes.len() as u32;
                        r.nodes.push(Arc::new(RwLock::new(NodeInfo {
                            id: m.node_id.clone(),
                            ..NodeInfo::default()
                        })));
                        r.by_id.insert(m.node_id.clone(), i);
                        change.events.push((m.node_id.clone(), "joined".into()));
                        i
                    }
                };
                live.push(idx);
                if idx == self.me {
                    continue;
                }
                let mut n = r.nodes[idx as usize].write();
                let parse = |k: &str| m.keys.get(k).and_then(|v| v.parse().ok());
                n.resp = parse(crate::membership::key::RESP);
                n.bus = parse(addr_key::BUS);
                n.http = parse(addr_key::HTTP);
                n.memcache = parse(addr_key::MEMCACHE);
                n.binary = parse(addr_key::BINARY);
                n.gossip = Some(m.gossip);
                n.weight = m.weight();
                if n.state != m.state() {
                    if !n.state.is_empty() {
                        change
                            .events
                            .push((m.node_id.clone(), m.state().to_string()));
                    }
                    n.state = m.state().to_string();
                }
                if !n.alive {
                    n.alive = true;
                    n.dead_since = None;
                }
            }
            for (i, n) in r.nodes.iter().enumerate() {
                if i as u32 == self.me {
                    continue;
                }
                let mut n = n.write();
                if n.alive && !live.contains(&(i as u32)) {
                    n.alive = false;
                    n.dead_since = Some(std::time::Instant::now());
                    change.events.push((n.id.clone(), "failed".into()));
                }
            }
            live
        };
        // The target map over the serving live members.
        let serving: Vec<(u32, &MemberInfo)> = members
            .iter()
            .zip(&live)
            .filter(|(m, &i)| {
                if i == self.me {
                    self.myself().state == node_state::SERVING
                } else {
                    m.state() == node_state::SERVING
                }
            })
            .map(|(m, &i)| (i, m))
            .collect();
        let target: Vec<u32> = if serving.is_empty() {
            Vec::new()
        } else {
            let ms: Vec<slots::Member<'_>> = serving
                .iter()
                .map(|(_, m)| slots::Member {
                    id: &m.node_id,
                    weight: m.weight(),
                })
                .collect();
            slots::target_map(&ms)
                .into_iter()
                .map(|k| serving[k as usize].0)
                .collect()
        };
        // The best claim per slot among the other live nodes.
        let mut best: Vec<(u64, u32)> = vec![(0, NONE); SLOTS];
        let ids: HashMap<u32, &str> = members
            .iter()
            .zip(&live)
            .map(|(m, &i)| (i, m.node_id.as_str()))
            .collect();
        for (m, &idx) in members.iter().zip(&live) {
            if idx == self.me {
                continue;
            }
            for c in 0..claims::CHUNKS {
                if let Some(v) = m.keys.get(&claims::chunk_key(c)) {
                    claims::decode_chunk(v, |s, e| {
                        self.saw_epoch(e);
                        let b = &mut best[s];
                        if b.1 == NONE || e > b.0 || (e == b.0 && ids[&idx] > ids[&b.1]) {
                            *b = (e, idx);
                        }
                    });
                }
            }
        }
        let alive = |i: u32| i == self.me || live.contains(&i);
        // Owners this node saw die, long enough ago that their slots may be taken.
        let gone: std::collections::HashSet<u32> = {
            let r = self.registry.read();
            r.nodes
                .iter()
                .enumerate()
                .filter(|(i, n)| {
                    let n = n.read();
                    *i as u32 != self.me
                        && !n.alive
                        && n.dead_since.is_some_and(|t| t.elapsed() >= ORPHAN_GRACE)
                })
                .map(|(i, _)| i as u32)
                .collect()
        };
        let me_serving = self.myself().state == node_state::SERVING;
        // A dead owner's slots are taken only by a side that sees a majority of the nodes
        // that matter (the live ones and the dead ones still owning slots), as Redis Cluster
        // needs a majority of masters: a node cut off alone never claims the others' slots,
        // so healing a partition cannot drop the majority side's writes.
        let quorum = {
            let mut known: std::collections::HashSet<u32> = live.iter().copied().collect();
            for o in self.owner.iter() {
                let o = o.load(Acquire);
                if o != NONE {
                    known.insert(o);
                }
            }
            live.len() * 2 > known.len()
        };
        let mut mine_changed = false;
        for (s, &(e, n)) in best.iter().enumerate() {
            let cur = self.owner[s].load(Acquire);
            let cur_e = self.epoch[s].load(Acquire);
            if cur == self.me {
                let beats =
                    n != NONE && (e > cur_e || (e == cur_e && ids[&n] > self.my_id.as_str()));
                if beats {
                    // Another node holds a newer claim (it took the slot while we were cut
                    // off, or two takeovers raced): ours is stale and its keys must go.
                    // (A slot frozen for a hand-off to that node is simply done: its claim
                    // reached us before the commit's reply.)
                    let handing_to_it =
                        self.frozen[s].load(Acquire) && self.migrating[s].load(Relaxed) == n;
                    self.epoch[s].store(e, Release);
                    self.owner[s].store(n, Release);
                    self.frozen[s].store(false, Release);
                    if !handing_to_it {
                        change.lost.push(s as u16);
                    }
                    mine_changed = true;
                }
                continue;
            }
            if n != NONE {
                if e >= cur_e || cur == NONE || !alive(cur) {
                    self.epoch[s].store(e, Release);
                    self.owner[s].store(n, Release);
                }
                continue;
            }
            // Nobody alive claims it.
            if cur != NONE && !gone.contains(&cur) {
                // A hand-off in flight (the old owner still answers for it), or an owner
                // this node has not heard from yet, or one that died only just now.
                continue;
            }
            // Its owner died. It stays the owner on record (requests for the slot answer
            // TRYAGAIN, and it keeps counting for the majority) until the target takes it.
            if cur_e > 0 && me_serving && !quorum {
                change.no_quorum += 1;
            }
            if cur_e > 0 && me_serving && quorum && target.get(s) == Some(&self.me) {
                // A dead owner's slot (it had an epoch, so it had data somewhere): ours now,
                // empty, above every epoch seen.
                let ne = self.next_epoch();
                self.epoch[s].store(ne, Release);
                self.owner[s].store(self.me, Release);
                change.orphans_taken += 1;
                mine_changed = true;
            }
        }
        if change.orphans_taken > 0 {
            self.stats
                .slots_lost
                .fetch_add(change.orphans_taken as u64, Relaxed);
        }
        if mine_changed {
            self.thaw.notify_waiters();
            self.claims_changed.notify_one();
        }
        *self.target.write() = target;
        change
    }
}
