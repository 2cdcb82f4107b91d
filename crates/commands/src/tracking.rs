//! Client-side caching (Redis 6+'s server-assisted caching): CLIENT TRACKING, CACHING,
//! GETREDIR, TRACKINGINFO, and the invalidation messages they ask for.
//!
//! ```text
//!  read by a tracking client (execute_in, before the handler) ─► remember: key → client ids
//!  any change to a key, on any door, by expiry or eviction (storage `Watches::touch`, under
//!  the shard lock) ─► Shared::changed
//!     ├─ default mode: the key's ids taken ─► each client: `>2 invalidate [key]` in its
//!     │  outbox, or to its REDIRECT client (a push, or RESP2 `message __redis__:invalidate`)
//!     └─ BCAST: the key queued on every matching prefix ─► flush_bcast (end of each batch
//!        of commands, and the cron) ─► one `invalidate [keys…]` per prefix and client
//!  FLUSHDB / FLUSHALL / memcached flush_all ─► Shared::flushed ─► a null to every client
//! ```
//!
//! **The table** maps a key (any database: tracking is not per database, as in Redis) to the
//! ids of the clients that may hold it; sixteen mutexes split it by key hash so readers on
//! several threads rarely meet. A key's entry goes with its first invalidation. Ids of
//! clients that stopped tracking are dropped lazily, when their key is invalidated.
//!
//! **No lost invalidation.** Redis runs one command at a time; here a write on another
//! thread could slip between a tracked read and its registration. So keys are registered
//! *before* the read runs: a write that comes after the registration invalidates, a write
//! that came before was already read. A write racing the registration at worst sends an
//! invalidation the client did not need.
//!
//! **Order.** Messages go to the client's outbox (`pubsub::Outbox`), which the connection
//! writes after the replies of the batch it is running: a client's own write invalidates
//! after its reply, as Redis's `tracking_pending_keys` arranges.
//!
//! **Delivered before the write is answered.** Redis writes an invalidation in the same
//! event-loop turn as the reply to the write that caused it, so once a writer has its
//! answer the tracking client's socket holds the invalidation (redis-py's cache checks its
//! socket before serving a cached value, and relies on this). Here the tracking client's
//! connection may be on another thread: the outboxes a command pushed to are noted on the
//! thread (`take_sent`), and the writer's connection waits, before it writes its replies,
//! until those bytes are written (`wait_delivered`, at most `DELIVERY_WAIT`). It waits only
//! for tracking connections idle between requests (the case of a client about to consult
//! its cache: one running a batch sends the push with that batch's replies), not for one
//! already behind (blocked, paused, not reading), and not when the writer has a push
//! channel itself (two such writers would wait for each other).
//!
//! **Cost when nobody tracks**: the keyspace's listening bit is off, so a write costs the one
//! relaxed load WATCH already made; a command checks `Session::tracking` (not an atomic).

use crate::clients::{ClientHandle, Session, TRACK_BCAST, TRACK_BROKEN_REDIR, TRACK_ON};
use crate::config::Settings;
use crate::error::{CmdError, CmdResult};
use crate::pubsub::{Outbox, OutboxLimits};
use crate::table::{flags, CommandSpec};
use crate::util::{eq_ic, lossy};
use crate::{Ctx, Door, ServerState};
use parking_lot::{Mutex, RwLock};
use protocol::{Args, Reply};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

/// `Tracker::flags` bits (Redis's CLIENT_TRACKING_* flags).
const BCAST: u32 = 1;
const OPTIN: u32 = 2;
const OPTOUT: u32 = 4;
const NOLOOP: u32 = 8;
const BROKEN_REDIR: u32 = 16;

const TABLE_SHARDS: usize = 16;

/// The pub/sub channel RESP2 clients receive invalidations on (through REDIRECT).
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// One part of the tracking table: key → ids of the clients that may cache it.
type KeyTable = Mutex<FastMap<Box<[u8]>, Vec<u64>>>;
/// BCAST keys changed since the last flush: key → id of its last writer (0 = none).
type ChangedKeys = BTreeMap<Box<[u8]>, u64>;

thread_local! {
    /// The tracking client whose command runs on this thread (0 = none): NOLOOP spares it
    /// its own changes, BCAST records it as a key's last writer.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// Whether the reads of that command are remembered (default mode, CACHING rules): a
    /// script's or EXEC's inner commands read for their caller.
    static REMEMBER: Cell<bool> = const { Cell::new(false) };
    /// Outboxes this thread's commands pushed invalidations to, and up to which byte: the
    /// writer's connection waits for them (`take_sent`, `wait_delivered`).
    static SENT: RefCell<Vec<(Arc<Outbox>, u64)>> = const { RefCell::new(Vec::new()) };
}

/// The longest a writer waits for its invalidations to reach the tracking clients' sockets.
pub const DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Move the deliveries this thread's commands made into `into` (the connection's batch).
/// Call right after a command ran, on its thread. A TLS read when there are none.
#[inline]
pub fn take_sent(into: &mut Vec<(Arc<Outbox>, u64)>) {
    SENT.with(|s| {
        let mut s = s.borrow_mut();
        if !s.is_empty() {
            into.append(&mut s);
        }
    });
}

/// Hand deliveries made on another thread (EXEC and scripts run on the blocking pool) to
/// this one, for `take_sent`.
pub fn put_sent(v: Vec<(Arc<Outbox>, u64)>) {
    if !v.is_empty() {
        SENT.with(|s| s.borrow_mut().extend(v));
    }
}

/// Before a writer's replies go out: wait until its invalidations are on the tracking
/// clients' sockets (see the module doc). `own`: the writer's push channel, if it has one
/// (then it does not wait). Empties `sent`.
pub async fn wait_delivered(sent: &mut Vec<(Arc<Outbox>, u64)>, own: Option<&Arc<Outbox>>) {
    if own.is_none() {
        let deadline = tokio::time::Instant::now() + DELIVERY_WAIT;
        for (o, upto) in sent.iter() {
            o.delivered_up_to(*upto, deadline).await;
        }
    }
    sent.clear();
}

/// Note a delivery for the writer to wait for: only to a connection waiting for its client
/// with nothing left unwritten. A connection running a batch writes the push with that
/// batch's replies, before its client can look at its cache again; one already behind
/// (blocked, paused, not reading) is not waited for.
fn note_sent(o: &Arc<Outbox>, caught_up: bool) {
    if !caught_up || !o.is_idle() {
        return;
    }
    let (upto, _) = o.pushed_mark();
    SENT.with(|s| {
        let mut s = s.borrow_mut();
        match s.iter_mut().find(|(x, _)| Arc::ptr_eq(x, o)) {
            Some(e) => e.1 = e.1.max(upto),
            None => s.push((o.clone(), upto)),
        }
    });
}

/// The server's tracking state (`ServerState::tracking`).
pub struct Tracking {
    shared: Arc<Shared>,
}

/// What the keyspace listener needs; shared with it and with every tracking session.
struct Shared {
    /// Clients with tracking on (INFO `tracking_clients`).
    clients: AtomicUsize,
    /// Serialises turning tracking on and off (the keyspace's listening switch).
    switch: Mutex<()>,
    /// Default mode: key → ids of clients that may cache it, split by key hash.
    table: Box<[KeyTable]>,
    hasher: foldhash::fast::FixedState,
    /// INFO `tracking_total_keys` / `tracking_total_items`.
    keys: AtomicUsize,
    items: AtomicUsize,
    /// BCAST: prefix → subscribed clients and the keys changed since the last flush.
    prefixes: Mutex<BTreeMap<Box<[u8]>, Bcast>>,
    nprefixes: AtomicUsize,
    bcast_pending: AtomicBool,
    /// Tracking clients by id.
    reg: RwLock<FastMap<u64, Arc<Tracker>>>,
    settings: Arc<Settings>,
    /// The keyspace's change hook, switched on while a client tracks (weak: it holds us).
    watches: Weak<storage::Watches>,
    /// The server, for the output-buffer cut-off counter (set by `ServerState::new_shared`).
    srv: OnceLock<Weak<ServerState>>,
    /// `tracking-table-max-keys` (0 = no limit), refreshed by the cron and CLIENT TRACKING.
    max_keys: AtomicU64,
    /// Rounds in a row the table stayed over the limit (Redis's `timeout_counter`).
    over_rounds: AtomicU32,
    evict_cursor: AtomicUsize,
}

/// One BCAST prefix.
#[derive(Default)]
struct Bcast {
    clients: BTreeSet<u64>,
    /// Key → id of the client that changed it last (0 = none): NOLOOP leaves its own out.
    keys: ChangedKeys,
}

/// One tracking client, as other threads reach it.
pub struct Tracker {
    id: u64,
    handle: Arc<ClientHandle>,
    outbox: Arc<Outbox>,
    flags: AtomicU32,
    /// REDIRECT client id (0 = none) and its handle.
    redirect: AtomicU64,
    redirect_to: Mutex<Weak<ClientHandle>>,
    /// BCAST prefixes (TRACKINGINFO, and to leave the prefix table when tracking stops).
    prefixes: Mutex<BTreeSet<Box<[u8]>>>,
}

/// A session's tracking: dropping it (CLIENT TRACKING OFF, RESET, disconnect) turns
/// tracking off.
pub struct SessionTracking {
    tracker: Arc<Tracker>,
    shared: Arc<Shared>,
    /// CLIENT CACHING yes|no was given (Redis's CLIENT_TRACKING_CACHING): applies to the
    /// next command, or to the next transaction.
    caching: bool,
    /// Keep `caching` past the command now running (a CLIENT command, or one in MULTI).
    keep: bool,
}

impl Drop for SessionTracking {
    fn drop(&mut self) {
        self.shared.disable(&self.tracker);
    }
}

/// What an invalidation message carries.
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// Every key (after a flush).
    All,
}

impl Tracking {
    /// The tracking state, listening to `ks`'s changes once a client tracks.
    pub fn new(settings: Arc<Settings>, ks: &storage::Keyspace) -> Tracking {
        let max = parse_max(&settings);
        let shared = Arc::new(Shared {
            clients: AtomicUsize::new(0),
            switch: Mutex::new(()),
            table: (0..TABLE_SHARDS).map(|_| Mutex::default()).collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x7261_6368),
            keys: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            prefixes: Mutex::default(),
            nprefixes: AtomicUsize::new(0),
            bcast_pending: AtomicBool::new(false),
            reg: RwLock::default(),
            settings,
            watches: Arc::downgrade(&ks.watches),
            srv: OnceLock::new(),
            max_keys: AtomicU64::new(max),
            over_rounds: AtomicU32::new(0),
            evict_cursor: AtomicUsize::new(0),
        });
        ks.watches.install_listener(shared.clone());
        Tracking { shared }
    }

    /// Tell the tracking state its server (for the output-buffer cut-off counter).
    pub fn set_server(&self, srv: Weak<ServerState>) {
        let _ = self.shared.srv.set(srv);
    }

    /// Clients with tracking on (INFO `tracking_clients`).
    pub fn clients(&self) -> usize {
        self.shared.clients.load(Relaxed)
    }

    /// Keys in the table (INFO `tracking_total_keys`).
    pub fn total_keys(&self) -> usize {
        self.shared.keys.load(Relaxed)
    }

    /// (key, client) pairs in the table (INFO `tracking_total_items`).
    pub fn total_items(&self) -> usize {
        self.shared.items.load(Relaxed)
    }

    /// BCAST prefixes (INFO `tracking_total_prefixes`).
    pub fn total_prefixes(&self) -> usize {
        self.shared.nprefixes.load(Relaxed)
    }

    /// Whether BCAST invalidations wait to be sent (one relaxed load).
    #[inline]
    pub fn bcast_pending(&self) -> bool {
        self.shared.bcast_pending.load(Relaxed)
    }

    /// Send the BCAST invalidations queued since the last call (Redis does it before the
    /// event loop sleeps): after every batch of commands, and from the cron.
    pub fn flush_bcast(&self) {
        self.shared.flush_bcast();
    }

    /// The cron's share (hz times a second): `tracking-table-max-keys` and the pending
    /// BCAST invalidations of changes no command made (active expiry, HTTP writes).
    pub fn cron(&self) {
        let s = &self.shared;
        s.max_keys.store(parse_max(&s.settings), Relaxed);
        if s.clients.load(Relaxed) > 0 {
            s.limit_keys();
        }
        if self.bcast_pending() {
            s.flush_bcast();
        }
    }
}

fn parse_max(settings: &Settings) -> u64 {
    settings
        .value("tracking-table-max-keys")
        .parse()
        .unwrap_or(1_000_000)
}

impl storage::KeyListener for Shared {
    fn changed(&self, key: &[u8]) {
        if self.nprefixes.load(Relaxed) > 0 {
            self.queue_bcast(key);
        }
        self.invalidate(key, CURRENT.get());
    }

    fn flushed(&self) {
        let trackers: Vec<Arc<Tracker>> = self.reg.read().values().cloned().collect();
        for t in &trackers {
            self.send(t, Payload::All);
        }
        for shard in self.table.iter() {
            let mut m = shard.lock();
            let items: usize = m.values().map(Vec::len).sum();
            self.keys.fetch_sub(m.len(), Relaxed);
            self.items.fetch_sub(items, Relaxed);
            *m = FastMap::default();
        }
    }
}

impl Shared {
    fn shard(&self, key: &[u8]) -> &KeyTable {
        &self.table[self.hasher.hash_one(key) as usize % TABLE_SHARDS]
    }

    /// Remember that client `id` may cache `keys` (default mode).
    fn remember<'k>(&self, id: u64, keys: impl Iterator<Item = &'k [u8]>) {
        for k in keys {
            let mut m = self.shard(k).lock();
            match m.get_mut(k) {
                Some(ids) => {
                    if !ids.contains(&id) {
                        ids.push(id);
                        self.items.fetch_add(1, Relaxed);
                    }
                }
                None => {
                    m.insert(k.into(), vec![id]);
                    self.keys.fetch_add(1, Relaxed);
                    self.items.fetch_add(1, Relaxed);
                }
            }
        }
        let max = self.max_keys.load(Relaxed);
        if max != 0 && self.keys.load(Relaxed) as u64 > max {
            self.limit_keys();
        }
    }

    /// `key` changed: every client that may cache it is told (default mode), and forgotten.
    /// `writer` (0 = none) is spared when it asked NOLOOP.
    fn invalidate(&self, key: &[u8], writer: u64) {
        let ids = self.shard(key).lock().remove(key);
        let Some(ids) = ids else { return };
        self.keys.fetch_sub(1, Relaxed);
        self.items.fetch_sub(ids.len(), Relaxed);
        let targets: Vec<Arc<Tracker>> = {
            let reg = self.reg.read();
            ids.iter().filter_map(|id| reg.get(id).cloned()).collect()
        };
        for t in &targets {
            let f = t.flags.load(Relaxed);
            // A client that switched to BCAST since it read the key gets BCAST messages only.
            if f & BCAST != 0 || (f & NOLOOP != 0 && t.id == writer) {
                continue;
            }
            self.send(t, Payload::Keys(&[key]));
        }
    }

    /// `tracking-table-max-keys`: forget random keys (telling their clients, as if they
    /// changed) until the table is within the limit, with Redis's growing effort.
    fn limit_keys(&self) {
        let max = self.max_keys.load(Relaxed);
        if max == 0 || self.keys.load(Relaxed) as u64 <= max {
            self.over_rounds.store(0, Relaxed);
            return;
        }
        let mut effort = 100 * (self.over_rounds.load(Relaxed) as usize + 1);
        while effort > 0 {
            effort -= 1;
            let s = self.evict_cursor.fetch_add(1, Relaxed) % TABLE_SHARDS;
            let key = self.table[s].lock().keys().next().cloned();
            if let Some(key) = key {
                self.invalidate(&key, 0);
            }
            if self.keys.load(Relaxed) as u64 <= max {
                self.over_rounds.store(0, Relaxed);
                return;
            }
        }
        self.over_rounds.fetch_add(1, Relaxed);
    }

    /// BCAST: queue `key` on every prefix it matches.
    fn queue_bcast(&self, key: &[u8]) {
        let writer = CURRENT.get();
        let mut any = false;
        let mut p = self.prefixes.lock();
        for (prefix, bs) in p.iter_mut() {
            if key.starts_with(prefix) {
                bs.keys.insert(key.into(), writer);
                any = true;
            }
        }
        drop(p);
        if any {
            self.bcast_pending.store(true, Relaxed);
        }
    }

    /// Send each prefix's queued keys to its clients, one message per prefix and client.
    fn flush_bcast(&self) {
        if !self.bcast_pending.swap(false, Relaxed) {
            return;
        }
        let work: Vec<(Vec<u64>, ChangedKeys)> = {
            let mut p = self.prefixes.lock();
            p.values_mut()
                .filter(|bs| !bs.keys.is_empty())
                .map(|bs| {
                    (
                        bs.clients.iter().copied().collect(),
                        std::mem::take(&mut bs.keys),
                    )
                })
                .collect()
        };
        for (clients, keys) in work {
            let all: Vec<&[u8]> = keys.keys().map(|k| &k[..]).collect();
            let targets: Vec<Arc<Tracker>> = {
                let reg = self.reg.read();
                clients
                    .iter()
                    .filter_map(|id| reg.get(id).cloned())
                    .collect()
            };
            for t in &targets {
                if t.flags.load(Relaxed) & NOLOOP != 0 {
                    let mine: Vec<&[u8]> = keys
                        .iter()
                        .filter(|(_, w)| **w != t.id)
                        .map(|(k, _)| &k[..])
                        .collect();
                    if !mine.is_empty() {
                        self.send(t, Payload::Keys(&mine));
                    }
                } else {
                    self.send(t, Payload::Keys(&all));
                }
            }
        }
    }

    /// Deliver one invalidation for tracker `t`, as Redis's `sendTrackingMessage`: to its
    /// REDIRECT client if it has one (a RESP3 push, or a pub/sub message on
    /// `__redis__:invalidate` to a subscribed RESP2 client), else to itself if RESP3 (a RESP2
    /// client without REDIRECT gets nothing: RESP2 has no pushes).
    fn send(&self, t: &Tracker, payload: Payload<'_>) {
        let tracker_resp3 = t.handle.resp.load(Relaxed) == 3;
        let redirect = t.redirect.load(Relaxed);
        let (target, outbox) = if redirect != 0 {
            let to = t.redirect_to.lock().upgrade();
            match to.filter(|h| !h.gone.load(Relaxed)) {
                Some(h) => {
                    // A RESP3 target gets the push even with no push channel yet (Redis
                    // delivers it whatever the target is doing); a RESP2 one only if it
                    // subscribed (it has a channel then).
                    let ob = if h.resp.load(Relaxed) == 3 {
                        h.push_channel()
                    } else {
                        h.outbox.lock().clone()
                    };
                    (h, ob)
                }
                None => {
                    // The redirect client went away: say so to the tracking client (RESP3).
                    t.flags.fetch_or(BROKEN_REDIR, Relaxed);
                    t.handle.tracking.fetch_or(TRACK_BROKEN_REDIR, Relaxed);
                    if tracker_resp3 {
                        let mut f = Vec::with_capacity(48);
                        let mut r = Reply::new(&mut f, true);
                        r.push_len(2);
                        r.bulk(b"tracking-redir-broken");
                        r.int(redirect as i64);
                        t.outbox
                            .push_frame(&f, &self.limits(&t.handle), || self.cut());
                    }
                    return;
                }
            }
        } else {
            (t.handle.clone(), Some(t.outbox.clone()))
        };
        let Some(outbox) = outbox else { return };
        let subscribed = target.subs.load(Relaxed) + target.psubs.load(Relaxed) > 0;
        let mut f = Vec::with_capacity(64);
        let mut r = Reply::new(&mut f, true);
        if target.resp.load(Relaxed) == 3 {
            r.push_len(2);
            r.bulk(b"invalidate");
        } else if redirect != 0 && subscribed {
            r.array_len(3);
            r.bulk(b"message");
            r.bulk(CHANNEL);
        } else {
            return;
        }
        match payload {
            Payload::Keys(keys) => {
                r.array_len(keys.len());
                for k in keys {
                    r.bulk(k);
                }
            }
            // A null in the tracking client's own protocol, as Redis's `shared.null[resp]`.
            Payload::All if tracker_resp3 => r.raw(b"_\r\n"),
            Payload::All => r.raw(b"$-1\r\n"),
        }
        let (_, caught_up) = outbox.pushed_mark();
        outbox.push_frame(&f, &self.limits(&target), || self.cut());
        note_sent(&outbox, caught_up);
    }

    /// The output-buffer limit of the receiving client's class (pub/sub or normal).
    fn limits(&self, to: &ClientHandle) -> OutboxLimits {
        let s = &self.settings;
        if to.subs.load(Relaxed) + to.psubs.load(Relaxed) > 0 {
            OutboxLimits {
                hard: s.pubsub_obuf_hard.load(Relaxed) as usize,
                soft: s.pubsub_obuf_soft.load(Relaxed) as usize,
                soft_secs: s.pubsub_obuf_soft_secs.load(Relaxed),
            }
        } else {
            OutboxLimits {
                hard: s.obuf_hard.load(Relaxed) as usize,
                soft: s.obuf_soft.load(Relaxed) as usize,
                soft_secs: s.obuf_soft_secs.load(Relaxed),
            }
        }
    }

    /// A client cut off by its output-buffer limit.
    fn cut(&self) {
        if let Some(srv) = self.srv.get().and_then(Weak::upgrade) {
            srv.stats
                .client_output_buffer_limit_disconnections
                .fetch_add(1, Relaxed);
        }
    }

    /// Subscribe tracker `t` to BCAST `prefix`.
    fn add_prefix(&self, t: &Tracker, prefix: &[u8]) {
        let mut p = self.prefixes.lock();
        let bs = p.entry(prefix.into()).or_default();
        if bs.clients.insert(t.id) {
            t.prefixes.lock().insert(prefix.into());
        }
        self.nprefixes.store(p.len(), Relaxed);
    }

    /// A tracking client turned tracking on.
    fn register(&self, t: &Arc<Tracker>) {
        let _g = self.switch.lock();
        self.reg.write().insert(t.id, t.clone());
        if self.clients.fetch_add(1, Relaxed) == 0 {
            if let Some(w) = self.watches.upgrade() {
                w.set_listening(true);
            }
        }
    }

    /// Tracking turned off for `t`: leave its prefixes and the registry. The table keeps
    /// its id until the keys are invalidated (Redis does the same), unless no client tracks
    /// any more, which empties it.
    fn disable(&self, t: &Tracker) {
        let _g = self.switch.lock();
        {
            let mut p = self.prefixes.lock();
            for prefix in t.prefixes.lock().iter() {
                if let Some(bs) = p.get_mut(prefix) {
                    bs.clients.remove(&t.id);
                    if bs.clients.is_empty() {
                        p.remove(prefix);
                    }
                }
            }
            self.nprefixes.store(p.len(), Relaxed);
        }
        t.handle.tracking.store(0, Relaxed);
        t.handle.redir.store(-1, Relaxed);
        let removed = self.reg.write().remove(&t.id).is_some();
        if removed && self.clients.fetch_sub(1, Relaxed) == 1 {
            if let Some(w) = self.watches.upgrade() {
                w.set_listening(false);
            }
            for shard in self.table.iter() {
                let mut m = shard.lock();
                self.keys.fetch_sub(m.len(), Relaxed);
                self.items
                    .fetch_sub(m.values().map(Vec::len).sum::<usize>(), Relaxed);
                *m = FastMap::default();
            }
        }
    }
}

// ------------------------------------------------------------------- the command path

/// What `before_handler` changed on this thread, restored by `after_handler`.
pub struct Restore {
    current: u64,
    remember: bool,
}

impl SessionTracking {
    /// The rules of CLIENT CACHING, at the start of every command of the session: the flag
    /// lasts for the command after CLIENT CACHING (CLIENT commands keep it), or for the
    /// whole of a transaction (Redis's `resetClient`).
    fn start(&mut self, name: &[u8], in_multi: bool) {
        if !self.keep {
            self.caching = false;
        }
        self.keep = eq_ic(name, "client")
            || eq_ic(name, "multi")
            || (in_multi
                && !(eq_ic(name, "exec") || eq_ic(name, "discard") || eq_ic(name, "reset")));
    }

    /// Whether this client's reads are remembered now (default mode; OPTIN after CACHING
    /// yes; OPTOUT unless CACHING no).
    fn remembers(&self) -> bool {
        let f = self.tracker.flags.load(Relaxed);
        if f & BCAST != 0 {
            return false;
        }
        if f & OPTIN != 0 {
            return self.caching;
        }
        if f & OPTOUT != 0 {
            return !self.caching;
        }
        true
    }
}

/// Top of `execute_in` for a tracking session (before any check: Redis applies its CACHING
/// rule to refused commands too).
#[inline]
pub fn command_start(sess: &mut Session, name: &[u8]) {
    let in_multi = sess.multi.is_some();
    if let Some(t) = sess.tracking.as_deref_mut() {
        t.start(name, in_multi);
    }
}

/// Whether a read command's keys are remembered (Redis: READONLY, not the read-only script
/// commands whose inner commands are remembered instead, not pub/sub).
fn remembered_command(spec: &CommandSpec) -> bool {
    spec.has(flags::READONLY)
        && !spec.has(flags::PUBSUB)
        && !matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
}

fn remember_args(srv: &ServerState, id: u64, spec: &CommandSpec, args: Args<'_>) {
    let pos = crate::cluster_cmd::key_positions(spec, args);
    if !pos.is_empty() {
        srv.tracking
            .shared
            .remember(id, pos.into_iter().map(|p| args.get(p)));
    }
}

/// Just before a handler runs, for a tracking session or a script's: record who runs on
/// this thread (NOLOOP, BCAST writers) and remember the keys a read will fetch.
pub fn before_handler(
    srv: &ServerState,
    sess: &Session,
    spec: &CommandSpec,
    args: Args<'_>,
) -> Option<Restore> {
    if let Some(t) = sess.tracking.as_deref() {
        let remember = t.remembers();
        let prev = Restore {
            current: CURRENT.replace(sess.id),
            remember: REMEMBER.replace(remember),
        };
        if remember && remembered_command(spec) {
            remember_args(srv, sess.id, spec, args);
        }
        return Some(prev);
    }
    // A script's command (or EXEC's, through `nested_read`): read for the caller.
    nested_read(srv, spec, args);
    None
}

/// A command run inside another (EXEC's queued commands, a script's `redis.call`): its
/// reads are remembered for the client running the outer command, if it tracks.
#[inline]
pub fn nested_read(srv: &ServerState, spec: &CommandSpec, args: Args<'_>) {
    let id = CURRENT.get();
    if id != 0 && REMEMBER.get() && remembered_command(spec) {
        remember_args(srv, id, spec, args);
    }
}

/// After the handler: restore what `before_handler` changed.
#[inline]
pub fn after_handler(prev: Restore) {
    CURRENT.set(prev.current);
    REMEMBER.set(prev.remember);
}

// ------------------------------------------------------------------------ commands

/// Push features need a connection that carries pushes.
fn require_resp(ctx: &Ctx<'_>, what: &str) -> CmdResult {
    if ctx.sess.door == Door::Resp {
        return Ok(());
    }
    Err(CmdError::Msg(format!(
        "ERR {what} is not supported over the {} door; use RESP",
        ctx.sess.door.name()
    )))
}

/// CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix …] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]: Redis's checks, in Redis's order and words.
pub fn client_tracking(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    require_resp(ctx, "CLIENT TRACKING")?;
    let mut redir: i64 = 0;
    let mut opts = 0u32;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut target = None;
    let mut j = 3;
    while j < args.len() {
        let a = args.get(j);
        let more = j + 1 < args.len();
        if eq_ic(a, "redirect") && more {
            j += 1;
            if redir != 0 {
                return Err(CmdError::Static(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            redir = crate::util::parse_int(args.get(j))?;
            target = u64::try_from(redir)
                .ok()
                .and_then(|id| ctx.srv.clients.get(id));
            if target.is_none() {
                return Err(CmdError::Static(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
        } else if eq_ic(a, "bcast") {
            opts |= BCAST;
        } else if eq_ic(a, "optin") {
            opts |= OPTIN;
        } else if eq_ic(a, "optout") {
            opts |= OPTOUT;
        } else if eq_ic(a, "noloop") {
            opts |= NOLOOP;
        } else if eq_ic(a, "prefix") && more {
            j += 1;
            prefixes.push(args.get(j));
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let mode = args.get(2);
    if eq_ic(mode, "off") {
        ctx.sess.tracking = None;
        ctx.out.ok();
        return Ok(());
    }
    if !eq_ic(mode, "on") {
        return Err(CmdError::Syntax);
    }
    if opts & BCAST == 0 && !prefixes.is_empty() {
        return Err(CmdError::Static(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    let cur = ctx
        .sess
        .tracking
        .as_ref()
        .map(|t| t.tracker.flags.load(Relaxed));
    if let Some(cur) = cur {
        if (cur & BCAST != 0) != (opts & BCAST != 0) {
            return Err(CmdError::Static(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
    }
    if opts & BCAST != 0 && opts & (OPTIN | OPTOUT) != 0 {
        return Err(CmdError::Static(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if opts & OPTIN != 0 && opts & OPTOUT != 0 {
        return Err(CmdError::Static(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    let cur = cur.unwrap_or(0);
    if (opts & OPTIN != 0 && cur & OPTOUT != 0) || (opts & OPTOUT != 0 && cur & OPTIN != 0) {
        return Err(CmdError::Static(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if opts & BCAST != 0 {
        let existing: Vec<Box<[u8]>> = match &ctx.sess.tracking {
            Some(t) => t.tracker.prefixes.lock().iter().cloned().collect(),
            None => Vec::new(),
        };
        check_prefixes(&existing, &prefixes)?;
    }
    enable(ctx, redir as u64, target, opts, &prefixes);
    ctx.out.ok();
    Ok(())
}

/// Two prefixes overlap when one starts the other: a key could match both.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Redis's `checkPrefixCollisionsOrReply`. (Redis 7.0 answers a collision among the new
/// prefixes past the first one with the error *and* then OK; rcache answers the error.)
fn check_prefixes(existing: &[Box<[u8]>], new: &[&[u8]]) -> CmdResult {
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err(CmdError::Msg(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                lossy(p),
                lossy(e)
            )));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(CmdError::Msg(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                lossy(p),
                lossy(q)
            )));
        }
    }
    Ok(())
}

/// Redis's `enableTracking`: turn tracking on, or change its options (the BCAST prefixes
/// given are added to the ones the client has).
fn enable(
    ctx: &mut Ctx<'_>,
    redir: u64,
    target: Option<Arc<ClientHandle>>,
    opts: u32,
    prefixes: &[&[u8]],
) {
    let srv = ctx.srv;
    let shared = srv.tracking.shared.clone();
    shared.max_keys.store(parse_max(&shared.settings), Relaxed);
    let tracker = match &ctx.sess.tracking {
        Some(t) => t.tracker.clone(),
        None => {
            let outbox = ctx.sess.outbox();
            let t = Arc::new(Tracker {
                id: ctx.sess.id,
                handle: ctx.sess.handle.clone(),
                outbox,
                flags: AtomicU32::new(0),
                redirect: AtomicU64::new(0),
                redirect_to: Mutex::new(Weak::new()),
                prefixes: Mutex::default(),
            });
            shared.register(&t);
            ctx.sess.tracking = Some(Box::new(SessionTracking {
                tracker: t.clone(),
                shared: shared.clone(),
                caching: false,
                keep: true,
            }));
            t
        }
    };
    tracker.flags.store(opts, Relaxed);
    tracker.redirect.store(redir, Relaxed);
    *tracker.redirect_to.lock() = target.as_ref().map_or_else(Weak::new, Arc::downgrade);
    if opts & BCAST != 0 {
        if prefixes.is_empty() {
            shared.add_prefix(&tracker, b"");
        }
        for p in prefixes {
            shared.add_prefix(&tracker, p);
        }
    }
    let h = &ctx.sess.handle;
    let bits = TRACK_ON | if opts & BCAST != 0 { TRACK_BCAST } else { 0 };
    h.tracking.store(bits, Relaxed);
    h.redir.store(redir as i64, Relaxed);
}

/// CLIENT CACHING <YES | NO>
pub fn client_caching(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let Some(t) = ctx.sess.tracking.as_deref_mut() else {
        return Err(CmdError::Static(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    let f = t.tracker.flags.load(Relaxed);
    let opt = args.get(2);
    if eq_ic(opt, "yes") {
        if f & OPTIN == 0 {
            return Err(CmdError::Static(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if eq_ic(opt, "no") {
        if f & OPTOUT == 0 {
            return Err(CmdError::Static(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    t.caching = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: the REDIRECT id (0 without one), -1 when not tracking.
pub fn client_getredir(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let r = match &ctx.sess.tracking {
        Some(t) => t.tracker.redirect.load(Relaxed) as i64,
        None => -1,
    };
    ctx.out.int(r);
    Ok(())
}

/// CLIENT TRACKINGINFO: `flags` (a set), `redirect`, `prefixes`, as Redis.
pub fn client_trackinginfo(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let mut names: Vec<&str> = Vec::new();
    let (redirect, prefixes) = match &ctx.sess.tracking {
        None => {
            names.push("off");
            (-1, Vec::new())
        }
        Some(t) => {
            let f = t.tracker.flags.load(Relaxed);
            names.push("on");
            if f & BCAST != 0 {
                names.push("bcast");
            }
            if f & OPTIN != 0 {
                names.push("optin");
                if t.caching {
                    names.push("caching-yes");
                }
            }
            if f & OPTOUT != 0 {
                names.push("optout");
                if t.caching {
                    names.push("caching-no");
                }
            }
            if f & NOLOOP != 0 {
                names.push("noloop");
            }
            if f & BROKEN_REDIR != 0 {
                names.push("broken_redirect");
            }
            let p: Vec<Box<[u8]>> = t.tracker.prefixes.lock().iter().cloned().collect();
            (t.tracker.redirect.load(Relaxed) as i64, p)
        }
    };
    let out = &mut ctx.out;
    out.map_len(3);
    out.bulk(b"flags");
    out.set_len(names.len());
    for n in names {
        out.bulk(n.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(redirect);
    out.bulk(b"prefixes");
    out.array_len(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
