//! `Keyspace` and `Txn`: the locked view commands work through.
//!
//! A command computes its keys (`Keyspace::key`: hash and slot, once), opens a `Txn` that
//! locks the shards of those keys in ascending order (no deadlock between multi-key
//! commands), reads and writes, and drops the `Txn`, which publishes its memory delta.
//! Locks are never held across an `.await`: `Txn` is not `Send`.

use crate::clock::Clock;
use crate::effects::{EffectHook, EffectSink};
use crate::entry::{Entry, Expiry, McMeta, NO_VOL};
use crate::evict::{self, EvictionConfig, Oom, Policy};
use crate::shard::{DbPart, ShardCounters, ShardData};
use crate::slot::{key_slot, SLOTS};
use crate::snapshot::{SlotSink, SnapState};
use crate::watch::{WatchFlag, Watches};
use crate::{SHARDS, SLOTS_PER_SHARD};
use foldhash::fast::FixedState;
use parking_lot::{Mutex, MutexGuard};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use smallvec::SmallVec;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// One shard's lock on its own cache lines, so two cores never fight over a line they do
/// not share a key in.
#[repr(align(128))]
struct Padded(Mutex<ShardData>);

pub struct Keyspace {
    shards: Box<[Padded]>,
    hasher: FixedState,
    clock: Arc<dyn Clock>,
    used: AtomicI64,
    pub evict: Arc<EvictionConfig>,
    ndbs: usize,
    evict_cursor: AtomicUsize,
    pub(crate) expire_cursor: AtomicUsize,
    /// Watched keys (WATCH, `watch.rs`); shared with every shard's write paths.
    pub watches: Arc<Watches>,
    /// The running point-in-time snapshot (`snapshot.rs`); shared with every shard.
    snap: Arc<SnapState>,
    /// The write-effect hook (`effects.rs`); shared with every shard.
    effects: Arc<EffectHook>,
}

/// A key with its hash and slot, computed once per command.
#[derive(Clone, Copy, Debug)]
pub struct Key<'k> {
    pub bytes: &'k [u8],
    pub hash: u64,
    pub slot: u16,
}

impl Key<'_> {
    #[inline]
    pub fn shard(&self) -> usize {
        self.slot as usize % SHARDS
    }
}

/// Whole-keyspace figures for INFO and stats.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyspaceStats {
    pub keys: u64,
    pub expires: u64,
    pub used_memory: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

/// One database's line of INFO keyspace.
#[derive(Debug, Default, Clone, Copy)]
pub struct DbInfo {
    pub keys: u64,
    pub expires: u64,
    pub avg_ttl_ms: u64,
}

impl Keyspace {
    pub fn new(ndbs: usize, clock: Arc<dyn Clock>, evict: Arc<EvictionConfig>) -> Keyspace {
        let seed: u64 = rand::rng().random();
        let hasher = FixedState::with_seed(seed);
        let watches = Arc::new(Watches::default());
        let snap = Arc::new(SnapState::default());
        let effects = Arc::new(EffectHook::default());
        let shards = (0..SHARDS)
            .map(|i| {
                Padded(Mutex::new(ShardData::new(
                    ndbs,
                    hasher.clone(),
                    SmallRng::seed_from_u64(seed ^ i as u64),
                    watches.clone(),
                    snap.clone(),
                    effects.clone(),
                )))
            })
            .collect();
        Keyspace {
            shards,
            hasher,
            clock,
            used: AtomicI64::new(0),
            evict,
            ndbs,
            evict_cursor: AtomicUsize::new(0),
            expire_cursor: AtomicUsize::new(0),
            watches,
            snap,
            effects,
        }
    }

    /// Install the sink of write effects (`effects.rs`), once for the keyspace's life (a
    /// second call keeps the first); `set_effects_on` switches it on and off.
    pub fn install_effect_sink(&self, sink: Arc<dyn EffectSink>) {
        self.effects.install(sink);
    }

    /// Start or stop reporting write effects to the installed sink. Transactions opened
    /// before the change keep the tracking they started with.
    pub fn set_effects_on(&self, on: bool) {
        self.effects.set_on(on);
    }

    /// While a log is replayed, keys do not expire (`effects.rs`).
    pub fn set_replaying(&self, on: bool) {
        self.effects.replaying.store(on, Relaxed);
    }

    /// Record key events on the threads that make them (`keyevents.rs`): keyspace
    /// notifications are on.
    pub fn set_key_events(&self, on: bool) {
        self.effects.notify.store(on, Relaxed);
    }

    /// Whether a log is being replayed: commands must not treat a time in the past as
    /// "already expired" (the log's own DEL says when a key went).
    #[inline]
    pub fn replaying(&self) -> bool {
        self.effects.replaying.load(Relaxed)
    }

    /// Start a point-in-time snapshot (`snapshot.rs`): from now on every write saves its
    /// slot table to `sink` first, unless already saved. Holds every shard lock while it
    /// switches, so the instant falls between writes; the caller holds the exclusion gate
    /// alone when multi-key atomicity matters. Returns the snapshot's epoch, for
    /// `save_shard`. Panics if a snapshot is already running (the caller serialises them).
    pub fn begin_snapshot(&self, sink: Arc<dyn SlotSink>) -> u32 {
        let guards: Vec<_> = self.shards.iter().map(|s| s.0.lock()).collect();
        assert_eq!(
            self.snap.epoch.load(Relaxed),
            0,
            "a snapshot is already running"
        );
        let ep = self.snap.next_epoch();
        *self.snap.sink.write() = Some(sink);
        self.snap.epoch.store(ep, Relaxed);
        drop(guards);
        ep
    }

    /// Save every table of `shard` that snapshot `ep` has not saved yet, holding the shard
    /// lock for at most about `batch` entries at a time (clients wait between batches, not
    /// for the whole shard); `between` runs after each batch, with no lock held (the caller
    /// paces itself there). Returns the entries saved by this call.
    pub fn save_shard(
        &self,
        shard: usize,
        ep: u32,
        batch: usize,
        between: &mut dyn FnMut(),
    ) -> usize {
        let mut total = 0;
        for db in 0..self.ndbs {
            let mut local = 0;
            while local < SLOTS_PER_SHARD {
                let mut g = self.shards[shard].0.lock();
                if g.dbs[db].keys == 0 && g.dbs[db].snap_marks.is_empty() {
                    // Nothing here at the instant, or ever written since: nothing to save.
                    break;
                }
                let mut held = 0;
                while local < SLOTS_PER_SHARD && held < batch {
                    held += g.save_table(db, local, ep) + 1;
                    local += 1;
                }
                drop(g);
                total += held;
                between();
            }
        }
        total
    }

    /// End the running snapshot: writes no longer save tables, and the sink is dropped.
    pub fn end_snapshot(&self) {
        let guards: Vec<_> = self.shards.iter().map(|s| s.0.lock()).collect();
        self.snap.epoch.store(0, Relaxed);
        *self.snap.sink.write() = None;
        drop(guards);
    }

    /// Keys changed since the server started (Redis's `server.dirty`): the snapshot
    /// policy compares it with its value at the last save.
    pub fn changes(&self) -> u64 {
        self.shards.iter().map(|s| s.0.lock().changes).sum()
    }

    /// Count one change that is not a key's (a function library loaded, deleted or
    /// restored: Redis's `server.dirty++`), so the snapshot policy saves it too. Outside
    /// any `Txn`: it logs nothing and touches no watcher.
    pub fn count_change(&self) {
        self.shards[0].0.lock().changes += 1;
    }

    /// Whether a snapshot is running.
    pub fn snapshot_running(&self) -> bool {
        self.snap.epoch.load(Relaxed) != 0
    }

    pub fn databases(&self) -> usize {
        self.ndbs
    }

    #[inline]
    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    #[inline]
    pub fn key<'k>(&self, bytes: &'k [u8]) -> Key<'k> {
        Key {
            bytes,
            hash: self.hasher.hash_one(bytes),
            slot: key_slot(bytes),
        }
    }

    /// Lock the shards of `keys` (ascending shard order) for database `db`.
    pub fn txn(&self, db: usize, keys: &[Key]) -> Txn<'_> {
        let mut ids: SmallVec<[usize; 8]> = keys.iter().map(|k| k.shard()).collect();
        ids.sort_unstable();
        ids.dedup();
        self.txn_shards(db, &ids)
    }

    /// Lock one key's shard: the fast path of single-key commands.
    #[inline]
    pub fn txn1(&self, db: usize, key: &Key) -> Txn<'_> {
        let s = key.shard();
        let mut guards = SmallVec::new();
        guards.push((s, self.shards[s].0.lock()));
        self.make_txn(db, guards)
    }

    /// Lock the given shards, which must be sorted and distinct.
    pub fn txn_shards(&self, db: usize, ids: &[usize]) -> Txn<'_> {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let guards = ids.iter().map(|&s| (s, self.shards[s].0.lock())).collect();
        self.make_txn(db, guards)
    }

    /// Lock every shard (SWAPDB, transactions that must see one consistent keyspace).
    pub fn txn_all(&self, db: usize) -> Txn<'_> {
        let ids: Vec<usize> = (0..SHARDS).collect();
        self.txn_shards(db, &ids)
    }

    fn make_txn<'a>(
        &'a self,
        db: usize,
        guards: SmallVec<[(usize, MutexGuard<'a, ShardData>); 2]>,
    ) -> Txn<'a> {
        let effects_base = self.effects.on.load(Relaxed).then(|| own_changes(&guards));
        Txn {
            ks: self,
            db,
            now: self.clock.now_ms(),
            lfu: self.evict.policy().is_lfu(),
            no_touch: false,
            guards,
            delta: 0,
            effects_base,
        }
    }

    /// Memory the dataset accounts for, in bytes.
    #[inline]
    pub fn used_memory(&self) -> u64 {
        self.used.load(Relaxed).max(0) as u64
    }

    #[inline]
    fn apply_delta(&self, d: isize) {
        if d != 0 {
            self.used.fetch_add(d as i64, Relaxed);
        }
    }

    /// Make room before a write that may need memory: evict per `maxmemory-policy` until the
    /// dataset is within `maxmemory`, or fail with `Oom` when the policy frees nothing.
    pub fn ensure_memory(&self) -> Result<(), Oom> {
        let max = self.evict.maxmemory();
        if max == 0 || self.used_memory() <= max {
            return Ok(());
        }
        if self.watches.expiry_paused() {
            // CLIENT PAUSE: nothing is evicted meanwhile, and nothing refused (Redis's
            // `isSafeToPerformEvictions`).
            return Ok(());
        }
        let policy = self.evict.policy();
        if policy == Policy::NoEviction {
            return Err(Oom);
        }
        let mut barren = 0;
        while self.used_memory() > max {
            let s = self.evict_cursor.fetch_add(1, Relaxed) % SHARDS;
            let mut g = self.shards[s].0.lock();
            match self.evict_one(&mut g, policy) {
                Some(d) => {
                    drop(g);
                    self.apply_delta(d);
                    barren = 0;
                }
                None => {
                    barren += 1;
                    if barren >= SHARDS {
                        return Err(Oom);
                    }
                }
            }
        }
        Ok(())
    }

    /// Evict the best of `maxmemory-samples` candidates from one shard. Returns the delta.
    fn evict_one(&self, sd: &mut ShardData, policy: Policy) -> Option<isize> {
        let now = self.clock.now_ms();
        let samples = self.evict.samples();
        let decay = self.evict.lfu_decay_time();
        let mut best: Option<(u64, usize, u16, usize)> = None;
        for _ in 0..samples {
            let Some((db, slot, i)) = sample(sd, policy.volatile_only()) else {
                break;
            };
            let e = sd.entry(db, slot, i);
            let score = match policy {
                Policy::AllKeysLru | Policy::VolatileLru => evict::idle_ms(e.lru(), now),
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - evict::lfu_decayed(e.lru(), now, decay) as u64
                }
                Policy::VolatileTtl => u64::MAX - e.expire_at(),
                Policy::AllKeysRandom | Policy::VolatileRandom | Policy::NoEviction => 0,
            };
            if best.is_none_or(|b| score > b.0) {
                best = Some((score, db, slot, i));
            }
            if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
                break;
            }
        }
        let (_, db, slot, i) = best?;
        let hash = sd.hash(sd.entry(db, slot, i).key());
        let (e, d) = sd.remove_at(db, slot, i, hash);
        sd.counters.evicted += 1;
        sd.effects.removed(db, e.key());
        crate::keyevents::record(
            &sd.effects,
            db,
            crate::keyevents::KeyEvent::Evicted,
            e.key(),
        );
        Some(d)
    }

    /// Keys in database `db`.
    pub fn dbsize(&self, db: usize) -> usize {
        self.shards.iter().map(|s| s.0.lock().dbs[db].keys).sum()
    }

    /// Empty database `db` (or all with `None`). With `lazy`, the memory is released on a
    /// background thread (FLUSHDB ASYNC), so the caller is not blocked by a large drop.
    pub fn flush(&self, db: Option<usize>, lazy: bool) {
        let dbs: Vec<usize> = match db {
            Some(d) => vec![d],
            None => (0..self.ndbs).collect(),
        };
        self.touch_watched_existing(&dbs);
        let mut garbage: Vec<DbPart> = Vec::new();
        for s in self.shards.iter() {
            let mut g = s.0.lock();
            let range = match db {
                Some(d) => d..d + 1,
                None => 0..self.ndbs,
            };
            for d in range {
                let (part, delta) = g.clear_db(d);
                self.apply_delta(delta);
                garbage.push(part);
            }
        }
        // Client-side caching: every tracked key is invalid now (Redis sends a null), told
        // once the data is gone so a client re-reading at once cannot cache what was.
        self.watches.flushed();
        if lazy {
            std::thread::spawn(move || drop(garbage));
        }
    }

    /// Before a flush of `dbs`: watched keys that exist now are changed by it (Redis marks
    /// only those); one created after this check marks its watchers itself when inserted.
    fn touch_watched_existing(&self, dbs: &[usize]) {
        if !self.watches.active() {
            return;
        }
        for (d, key) in self.watches.keys_in(dbs) {
            let k = self.key(&key);
            let g = self.shards[k.shard()].0.lock();
            if g.dbs[d]
                .table(k.slot)
                .and_then(|t| t.find(k.hash, &key))
                .is_some()
            {
                self.watches.touch(d, &key);
            }
        }
    }

    /// Empty database `db` holding every shard lock at once, and run `under_locks` before
    /// releasing them: a change made outside the command gate (the memcached door's
    /// `flush_all`) whose log record must not be overtaken by a write to an emptied shard.
    pub fn flush_locked(&self, db: usize, under_locks: impl FnOnce()) {
        self.touch_watched_existing(&[db]);
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.0.lock()).collect();
        let mut garbage = Vec::with_capacity(guards.len());
        for g in guards.iter_mut() {
            let (part, delta) = g.clear_db(db);
            self.apply_delta(delta);
            garbage.push(part);
        }
        under_locks();
        drop(guards);
        self.watches.flushed();
        drop(garbage);
    }

    /// Swap two databases atomically (every shard locked).
    pub fn swap_db(&self, a: usize, b: usize) {
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.0.lock()).collect();
        for g in guards.iter_mut() {
            g.before_db_write(a);
            g.before_db_write(b);
        }
        if self.watches.active() {
            // As Redis: a key watched in either database changes if it exists in either.
            for (d, key) in self.watches.keys_in(&[a, b]) {
                let k = self.key(&key);
                let g = &guards[k.shard()];
                let present = |db: usize| {
                    g.dbs[db]
                        .table(k.slot)
                        .and_then(|t| t.find(k.hash, &key))
                        .is_some()
                };
                if present(a) || present(b) {
                    self.watches.touch(d, &key);
                }
            }
        }
        for g in guards.iter_mut() {
            g.dbs.swap(a, b);
        }
    }

    /// Visit live keys of `db` in SCAN order from `cursor`, passing each to `visit`, until
    /// at least `count` keys were visited. Returns the next cursor (0 when done).
    ///
    /// Cursor = slot << 32 | remaining, where `remaining` (when non-zero) is how many of the
    /// slot's lowest positions are still to visit. Every key present for the whole scan is
    /// visited at least once (see `SlotTable`); keys may be visited twice.
    ///
    /// Slots are walked shard-major (every slot of shard 0, then of shard 1, …): one lock
    /// covers a shard's run of slots, so empty slots and shards without keys cost no lock
    /// each, and a small or empty database completes in one call, as in Redis. Like Redis's
    /// `maxiterations`, a call also stops after `count * 10` steps (non-empty slots and
    /// locked shards with keys) even if few keys were found.
    pub fn scan(&self, db: usize, cursor: u64, count: usize, mut visit: impl FnMut(&Entry)) -> u64 {
        let now = self.now();
        let start = (cursor >> 32) as usize;
        if start >= SLOTS {
            return 0;
        }
        let mut inner = (cursor & 0xFFFF_FFFF) as usize;
        let count = count.max(1);
        let budget = count.saturating_mul(10);
        let (mut seen, mut steps) = (0usize, 0usize);
        let (mut shard, mut local) = (start % SHARDS, start / SHARDS);
        while shard < SHARDS {
            let g = self.shards[shard].0.lock();
            let part = &g.dbs[db];
            if part.keys == 0 {
                local = SLOTS_PER_SHARD;
            } else {
                steps += 1;
            }
            while local < SLOTS_PER_SHARD {
                let slot = local * SHARDS + shard;
                if let Some(t) = part.slots.get(local).filter(|t| !t.is_empty()) {
                    steps += 1;
                    let mut i = if inner == 0 {
                        t.len()
                    } else {
                        inner.min(t.len())
                    };
                    while i > 0 {
                        i -= 1;
                        let e = t.get(i);
                        if !e.is_expired(now) {
                            visit(e);
                        }
                        seen += 1;
                        if seen >= count && i > 0 {
                            return ((slot as u64) << 32) | i as u64;
                        }
                    }
                }
                local += 1;
                inner = 0;
                if seen >= count || steps >= budget {
                    return scan_cursor_at(shard, local);
                }
            }
            drop(g);
            shard += 1;
            local = 0;
            inner = 0;
        }
        0
    }

    /// Visit every live key of `db` (KEYS). Holds one shard lock at a time.
    pub fn for_each(&self, db: usize, mut visit: impl FnMut(&Entry)) {
        let now = self.now();
        for s in self.shards.iter() {
            let g = s.0.lock();
            for t in &g.dbs[db].slots {
                for e in t.entries() {
                    if !e.is_expired(now) {
                        visit(e);
                    }
                }
            }
        }
    }

    /// A uniformly random live key of `db`.
    pub fn random_key(&self, db: usize) -> Option<Vec<u8>> {
        let now = self.now();
        for _ in 0..100 {
            let counts: Vec<usize> = self
                .shards
                .iter()
                .map(|s| s.0.lock().dbs[db].keys)
                .collect();
            let total: usize = counts.iter().sum();
            if total == 0 {
                return None;
            }
            let mut r = rand::rng().random_range(0..total);
            let s = counts.iter().position(|&c| {
                if r < c {
                    true
                } else {
                    r -= c;
                    false
                }
            })?;
            let g = self.shards[s].0.lock();
            if let Some((slot, i)) = nth_key(&g.dbs[db], r) {
                let e = g.entry(db, slot, i);
                if !e.is_expired(now) {
                    return Some(e.key().to_vec());
                }
            }
        }
        None
    }

    /// Figures for INFO and stats.
    pub fn stats(&self) -> KeyspaceStats {
        let mut st = KeyspaceStats {
            used_memory: self.used_memory(),
            ..Default::default()
        };
        for s in self.shards.iter() {
            let g = s.0.lock();
            let c: ShardCounters = g.counters;
            st.hits += c.hits;
            st.misses += c.misses;
            st.expired += c.expired;
            st.evicted += c.evicted;
            for d in &g.dbs {
                st.keys += d.keys as u64;
                st.expires += d.volatile.len() as u64;
                st.key_bytes += d.key_bytes as u64;
                st.value_bytes += d.value_bytes as u64;
            }
        }
        st
    }

    /// Per-database key counts, TTL counts and an average TTL estimated from a sample.
    pub fn db_info(&self) -> Vec<DbInfo> {
        let now = self.now();
        let mut out = vec![DbInfo::default(); self.ndbs];
        let mut ttl_sum = vec![(0u128, 0u64); self.ndbs];
        for s in self.shards.iter() {
            let g = s.0.lock();
            for (d, part) in g.dbs.iter().enumerate() {
                out[d].keys += part.keys as u64;
                out[d].expires += part.volatile.len() as u64;
                for v in part.volatile.iter().take(16) {
                    if let Some(t) = part.table(v.slot) {
                        if let Some(i) = t.find(v.hash, &v.key) {
                            let at = t.get(i).expire_at();
                            ttl_sum[d].0 += at.saturating_sub(now) as u128;
                            ttl_sum[d].1 += 1;
                        }
                    }
                }
            }
        }
        for (d, (sum, n)) in ttl_sum.into_iter().enumerate() {
            if n > 0 {
                out[d].avg_ttl_ms = (sum / n as u128) as u64;
            }
        }
        out
    }

    /// Zero the hit/miss/expired/evicted counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        for s in self.shards.iter() {
            s.0.lock().counters = ShardCounters::default();
        }
    }

    /// Keys of one hash slot in `db` (cluster migration; O(keys in that slot)).
    pub fn slot_keys(&self, db: usize, slot: u16, max: usize) -> Vec<Vec<u8>> {
        let g = self.shards[slot as usize % SHARDS].0.lock();
        g.dbs[db]
            .table(slot)
            .map(|t| {
                t.entries()
                    .iter()
                    .take(max)
                    .map(|e| e.key().to_vec())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of keys in one hash slot.
    pub fn count_keys_in_slot(&self, db: usize, slot: u16) -> usize {
        let g = self.shards[slot as usize % SHARDS].0.lock();
        g.dbs[db].table(slot).map_or(0, |t| t.len())
    }

    /// Remove every key of one hash slot; returns how many. O(keys in that slot).
    pub fn drop_slot(&self, db: usize, slot: u16) -> usize {
        let mut g = self.shards[slot as usize % SHARDS].0.lock();
        let mut n = 0;
        let mut delta = 0;
        while let Some(t) = g.dbs[db].table(slot) {
            if t.is_empty() {
                break;
            }
            let i = t.len() - 1;
            let hash = g.hash(t.get(i).key());
            delta += g.remove_at(db, slot, i, hash).1;
            n += 1;
        }
        drop(g);
        self.apply_delta(delta);
        n
    }

    pub(crate) fn shard_lock(&self, s: usize) -> MutexGuard<'_, ShardData> {
        self.shards[s].0.lock()
    }

    pub(crate) fn publish_delta(&self, d: isize) {
        self.apply_delta(d);
    }
}

/// The SCAN cursor of the start of local slot `local` of `shard` (shard-major order), 0 past
/// the end.
fn scan_cursor_at(shard: usize, local: usize) -> u64 {
    let (shard, local) = if local >= SLOTS_PER_SHARD {
        (shard + 1, 0)
    } else {
        (shard, local)
    };
    if shard >= SHARDS {
        0
    } else {
        ((local * SHARDS + shard) as u64) << 32
    }
}

/// The `r`-th entry of a database part, walking its slot tables.
fn nth_key(part: &DbPart, mut r: usize) -> Option<(u16, usize)> {
    for (local, t) in part.slots.iter().enumerate() {
        if r < t.len() {
            // The table at local index `local` holds slot local*SHARDS + shard; recover
            // the slot from the entry itself.
            return Some((t.get(r).slot(), r)).filter(|_| local < part.slots.len());
        }
        r -= t.len();
    }
    None
}

/// A random eviction candidate of a shard: (db, slot, position).
fn sample(sd: &mut ShardData, volatile_only: bool) -> Option<(usize, u16, usize)> {
    let weights: SmallVec<[usize; 16]> = sd
        .dbs
        .iter()
        .map(|d| {
            if volatile_only {
                d.volatile.len()
            } else {
                d.keys
            }
        })
        .collect();
    let total: usize = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut r = sd.rng.random_range(0..total);
    let db = weights.iter().position(|&w| {
        if r < w {
            true
        } else {
            r -= w;
            false
        }
    })?;
    let part = &sd.dbs[db];
    if volatile_only {
        let v = &part.volatile[r];
        let i = part.table(v.slot)?.find(v.hash, &v.key)?;
        return Some((db, v.slot, i));
    }
    // Dense shards: a few random slot tables find a key at once; sparse ones fall back to
    // walking to the r-th key.
    for _ in 0..4 {
        let local = sd.rng.random_range(0..part.slots.len());
        let t = &part.slots[local];
        if !t.is_empty() {
            let i = sd.rng.random_range(0..t.len());
            return Some((db, t.get(i).slot(), i));
        }
    }
    nth_key(part, r).map(|(slot, i)| (db, slot, i))
}

/// The shards of one command, locked. See the module doc.
pub struct Txn<'a> {
    ks: &'a Keyspace,
    /// The database commands address (SELECT); MOVE/COPY switch it briefly.
    pub db: usize,
    now: u64,
    lfu: bool,
    /// CLIENT NO-TOUCH: accesses leave LRU/LFU alone (`touch_key`, i.e. TOUCH, still sets it).
    no_touch: bool,
    guards: SmallVec<[(usize, MutexGuard<'a, ShardData>); 2]>,
    delta: isize,
    /// With an effect sink installed: the locked shards' changes (less expirations) when
    /// the transaction began, to tell at the end whether it wrote (`effects.rs`).
    effects_base: Option<u64>,
}

/// An entry seen through `Txn::get_mc`: its value and metadata readable, only its memcached
/// metadata writable.
pub struct McView<'e>(&'e mut Entry);

impl McView<'_> {
    #[inline]
    pub fn entry(&self) -> &Entry {
        self.0
    }

    /// Store memcached metadata on a string (`Entry::set_mc_meta`); collections are left
    /// alone.
    pub fn set_meta(&mut self, meta: McMeta) {
        if self.0.obj_type() == crate::ObjType::String {
            self.0.set_mc_meta(meta);
        }
    }
}

impl<'a> Drop for Txn<'a> {
    fn drop(&mut self) {
        if let Some(base) = self.effects_base {
            // Still holding the locks: the effect is ordered with every other change to
            // these shards.
            if own_changes(&self.guards) != base {
                let ks: &'a Keyspace = self.ks;
                if let Some(sink) = ks.effects.sink() {
                    // Reads from here on must not count as a new write.
                    self.effects_base = None;
                    sink.committed(self);
                }
            }
        }
        self.ks.apply_delta(self.delta);
    }
}

/// Changes made by commands to the locked shards: every change less the removals of
/// expired keys (which the sink hears of as they happen).
#[inline]
fn own_changes(guards: &[(usize, MutexGuard<'_, ShardData>)]) -> u64 {
    guards
        .iter()
        .map(|(_, g)| g.changes.wrapping_sub(g.counters.expired))
        .fold(0u64, u64::wrapping_add)
}

impl<'a> Txn<'a> {
    #[inline]
    fn sd(&mut self, shard: usize) -> &mut ShardData {
        for (s, g) in self.guards.iter_mut() {
            if *s == shard {
                return g;
            }
        }
        panic!("shard {shard} is not locked by this command");
    }

    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    /// The time this command runs at (read once, as Redis does per command).
    #[inline]
    pub fn now(&self) -> u64 {
        self.now
    }

    #[inline]
    fn locate(&mut self, k: &Key) -> Option<usize> {
        let (db, now) = (self.db, self.now);
        let mut delta = 0;
        let r = self
            .sd(k.shard())
            .lookup(db, k.hash, k.slot, k.bytes, now, &mut delta);
        self.delta += delta;
        r
    }

    /// The LRU/LFU field a key created now starts with, for entries the caller builds and
    /// inserts with `put_entry` (new collections).
    #[inline]
    pub fn initial_lru(&self) -> u32 {
        evict::initial_lru(self.now, self.lfu)
    }

    /// Stop this command's accesses from refreshing keys' LRU/LFU (CLIENT NO-TOUCH).
    pub fn set_no_touch(&mut self, on: bool) {
        self.no_touch = on;
    }

    fn touch(&mut self, k: &Key, i: usize) {
        if !self.no_touch {
            self.touch_always(k, i);
        }
    }

    fn touch_always(&mut self, k: &Key, i: usize) {
        let (db, now, lfu) = (self.db, self.now, self.lfu);
        let cfg = &self.ks.evict;
        let sd = self.sd(k.shard());
        let field = sd.entry(db, k.slot, i).lru();
        let nf = evict::touched(field, now, lfu, cfg, &mut sd.rng);
        sd.entry_mut(db, k.slot, i).set_lru(nf);
    }

    /// Read a key as a read command does: counts a hit or miss and refreshes its LRU/LFU.
    #[inline]
    pub fn get(&mut self, k: &Key) -> Option<&Entry> {
        let db = self.db;
        match self.locate(k) {
            Some(i) => {
                self.touch(k, i);
                let sd = self.sd(k.shard());
                sd.counters.hits += 1;
                Some(sd.entry(db, k.slot, i))
            }
            None => {
                let db = self.db;
                let sd = self.sd(k.shard());
                sd.counters.misses += 1;
                crate::keyevents::record(
                    &sd.effects,
                    db,
                    crate::keyevents::KeyEvent::Miss,
                    k.bytes,
                );
                None
            }
        }
    }

    /// Read several keys at once, each as `get` does (hit or miss, LRU/LFU), for commands
    /// that combine values (SINTER, SUNION…). Expired keys are removed by a first pass, so
    /// the positions the second pass finds stay valid while the entries are borrowed.
    pub fn get_many(&mut self, keys: &[Key]) -> Vec<Option<&Entry>> {
        for k in keys {
            self.locate(k);
        }
        let mut found: SmallVec<[Option<usize>; 8]> = SmallVec::new();
        for k in keys {
            let i = self.get(k).is_some().then(|| self.locate(k)).flatten();
            found.push(i);
        }
        let db = self.db;
        keys.iter()
            .zip(found)
            .map(|(k, i)| {
                let i = i?;
                let g = self.guards.iter().find(|(s, _)| *s == k.shard())?;
                Some(g.1.entry(db, k.slot, i))
            })
            .collect()
    }

    /// Read a key as Redis's LOOKUP_NOTOUCH does (TYPE, EXISTS, the TTL family, OBJECT):
    /// counts a keyspace hit or miss but leaves the LRU/LFU field alone.
    #[inline]
    pub fn inspect(&mut self, k: &Key) -> Option<&Entry> {
        let db = self.db;
        match self.locate(k) {
            Some(i) => {
                let sd = self.sd(k.shard());
                sd.counters.hits += 1;
                Some(sd.entry(db, k.slot, i))
            }
            None => {
                let db = self.db;
                let sd = self.sd(k.shard());
                sd.counters.misses += 1;
                crate::keyevents::record(
                    &sd.effects,
                    db,
                    crate::keyevents::KeyEvent::Miss,
                    k.bytes,
                );
                None
            }
        }
    }

    /// Read a key without counting or touching it (writes' own lookups, SET … GET).
    #[inline]
    pub fn peek(&mut self, k: &Key) -> Option<&Entry> {
        let db = self.db;
        let i = self.locate(k)?;
        Some(self.sd(k.shard()).entry(db, k.slot, i))
    }

    #[inline]
    pub fn exists(&mut self, k: &Key) -> bool {
        self.locate(k).is_some()
    }

    /// Refresh a key's LRU/LFU without reading it (TOUCH; even under CLIENT NO-TOUCH).
    pub fn touch_key(&mut self, k: &Key) -> bool {
        match self.locate(k) {
            Some(i) => {
                self.touch_always(k, i);
                true
            }
            None => false,
        }
    }

    /// Change a key's value in place; accounting follows the size change. The key counts
    /// as changed (WATCH); `modify_if` is for writes that may change nothing.
    #[inline]
    pub fn modify<R>(&mut self, k: &Key, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        self.modify_if(k, |e| (f(e), true))
    }

    /// `modify` for a write that may leave the value as it was (SADD of a member already
    /// there, SETBIT to the bit's value…): `f` says whether it changed anything, and only a
    /// change touches the key's watchers, as Redis signals a key only when it was modified.
    pub fn modify_if<R>(&mut self, k: &Key, f: impl FnOnce(&mut Entry) -> (R, bool)) -> Option<R> {
        let i = self.locate(k)?;
        self.touch(k, i);
        let db = self.db;
        let sd = self.sd(k.shard());
        sd.before_write(db, k.slot);
        let e = sd.entry_mut(db, k.slot, i);
        let (m0, v0) = (e.mem_usage(), e.value_len());
        let (r, changed) = f(e);
        e.fit();
        let (m1, v1) = (e.mem_usage(), e.value_len());
        let d = sd.account_change(db, m0, v0, m1, v1);
        if changed {
            sd.changes += 1;
            // After the change, still under the shard lock: a watcher sees it either way.
            self.ks.watches.touch(db, k.bytes);
            crate::keyevents::record(
                &self.ks.effects,
                db,
                crate::keyevents::KeyEvent::Changed,
                k.bytes,
            );
        }
        self.delta += d;
        Some(r)
    }

    /// Write a string value. Returns whether the key existed (live) before.
    pub fn set(&mut self, k: &Key, value: &[u8], ttl: Expiry) -> bool {
        self.write_string(
            k,
            ttl,
            |e| e.set_value(value),
            |lru| Entry::new_string(k.bytes, value, k.slot, lru),
        )
    }

    /// Write a string with memcached metadata (the memcached door's storage commands).
    /// Returns whether the key existed (live) before.
    pub fn set_meta(&mut self, k: &Key, value: &[u8], meta: McMeta, ttl: Expiry) -> bool {
        self.write_string(
            k,
            ttl,
            |e| e.set_value_meta(value, meta),
            |lru| Entry::new_string_meta(k.bytes, value, meta, k.slot, lru),
        )
    }

    /// `set` and `set_meta`: `update` an existing entry in place or insert `make(lru)`,
    /// then apply `ttl`. Returns whether the key existed. (Generic, so each caller compiles
    /// to the straight-line code it had before.)
    #[inline(always)]
    fn write_string(
        &mut self,
        k: &Key,
        ttl: Expiry,
        update: impl FnOnce(&mut Entry),
        make: impl FnOnce(u32) -> Entry,
    ) -> bool {
        let db = self.db;
        match self.locate(k) {
            Some(i) => {
                self.modify_at(k, i, update);
                self.touch(k, i);
                match ttl {
                    Expiry::Keep => {}
                    Expiry::Clear => self.set_expire_at(k, i, 0),
                    Expiry::At(at) => self.set_expire_at(k, i, at),
                }
                true
            }
            None => {
                let e = make(evict::initial_lru(self.now, self.lfu));
                let sd = self.sd(k.shard());
                let (i, d) = sd.insert_new(db, k.hash, e);
                self.delta += d;
                if let Expiry::At(at) = ttl {
                    self.set_expire_at(k, i, at);
                }
                false
            }
        }
    }

    /// Read a key as `get` does (hit or miss, LRU/LFU) and hand `f` a view that may update
    /// its memcached metadata but not its value: stamp a CAS on a string that has none
    /// (`gets`), mark it fetched or its win token sent (meta commands). The value does not
    /// change, so watchers are not touched; accounting follows the prefix a plain string
    /// gains when first stamped.
    pub fn get_mc<R>(&mut self, k: &Key, f: impl FnOnce(&mut McView<'_>) -> R) -> Option<R> {
        let Some(i) = self.locate(k) else {
            let db = self.db;
            let sd = self.sd(k.shard());
            sd.counters.misses += 1;
            crate::keyevents::record(&sd.effects, db, crate::keyevents::KeyEvent::Miss, k.bytes);
            return None;
        };
        let db = self.db;
        let sd = self.sd(k.shard());
        sd.counters.hits += 1;
        // `f` may stamp metadata (a CAS): a change the running snapshot must not see.
        sd.before_write(db, k.slot);
        let e = sd.entry_mut(db, k.slot, i);
        let (m0, v0) = (e.mem_usage(), e.value_len());
        // `f` runs before the LRU/LFU refresh, so it can report the idle time (meta `l`).
        let r = f(&mut McView(e));
        let (m1, v1) = (e.mem_usage(), e.value_len());
        if m1 != m0 {
            let d = sd.account_change(db, m0, v0, m1, v1);
            self.delta += d;
        }
        self.touch(k, i);
        Some(r)
    }

    /// Keys found expired (and removed) so far in `k`'s shard: the memcached door compares
    /// it around a read to count `get_expired`.
    pub fn expired_count(&mut self, k: &Key) -> u64 {
        self.sd(k.shard()).counters.expired
    }

    fn modify_at(&mut self, k: &Key, i: usize, f: impl FnOnce(&mut Entry)) {
        let db = self.db;
        self.ks.watches.touch(db, k.bytes);
        let sd = self.sd(k.shard());
        crate::keyevents::record(
            &sd.effects,
            db,
            crate::keyevents::KeyEvent::Changed,
            k.bytes,
        );
        sd.before_write(db, k.slot);
        sd.changes += 1;
        let e = sd.entry_mut(db, k.slot, i);
        let (m0, v0) = (e.mem_usage(), e.value_len());
        f(e);
        let (m1, v1) = (e.mem_usage(), e.value_len());
        let d = sd.account_change(db, m0, v0, m1, v1);
        self.delta += d;
    }

    fn set_expire_at(&mut self, k: &Key, i: usize, at: u64) {
        let db = self.db;
        let d = self.sd(k.shard()).set_expire_at(db, k.slot, i, at);
        self.delta += d;
    }

    /// Put a whole entry under key `k` (RENAME, COPY, MOVE), replacing any value there.
    /// The entry must have been built for `k` (`Entry::clone_as`); `expire_at` 0 = no TTL.
    pub fn put_entry(&mut self, k: &Key, mut e: Entry, expire_at: u64) {
        self.delete(k);
        e.fit();
        e.set_expire_raw(0);
        e.set_vol_idx(NO_VOL);
        let db = self.db;
        let (i, d) = self.sd(k.shard()).insert_new(db, k.hash, e);
        self.delta += d;
        if expire_at != 0 {
            self.set_expire_at(k, i, expire_at);
        }
    }

    /// Remove a key, returning its entry.
    pub fn remove(&mut self, k: &Key) -> Option<Entry> {
        let i = self.locate(k)?;
        let db = self.db;
        let sd = self.sd(k.shard());
        let (e, d) = sd.remove_at(db, k.slot, i, k.hash);
        crate::keyevents::record(
            &sd.effects,
            db,
            crate::keyevents::KeyEvent::Removed,
            k.bytes,
        );
        self.delta += d;
        Some(e)
    }

    /// Remove a key; whether it existed.
    pub fn delete(&mut self, k: &Key) -> bool {
        self.remove(k).is_some()
    }

    /// Set (`at` > 0, absolute ms) or clear (`at` == 0) a key's TTL. False if no such key.
    pub fn set_expire(&mut self, k: &Key, at: u64) -> bool {
        match self.locate(k) {
            Some(i) => {
                self.set_expire_at(k, i, at);
                true
            }
            None => false,
        }
    }

    /// Tell `k`'s watchers it changed, for a write Redis counts as a change although the
    /// stored value may be as it was (EXPIRE to the same instant, LTRIM that keeps the
    /// whole list): Redis's `signalModifiedKey`.
    pub fn signal_modified(&mut self, k: &Key) {
        self.ks.watches.touch(self.db, k.bytes);
        let db = self.db;
        let sd = self.sd(k.shard());
        sd.changes += 1;
        crate::keyevents::record(
            &sd.effects,
            db,
            crate::keyevents::KeyEvent::Changed,
            k.bytes,
        );
    }

    /// WATCH `k` with a client's flag: looks the key up first (an already expired key is
    /// removed now, so its later deletion is no change), then registers while the key's
    /// shard is locked, so no write can slip between (see `watch.rs`). The caller keeps
    /// its registrations unique and removes them with `Watches::remove`.
    pub fn watch(&mut self, k: &Key, flag: &Arc<WatchFlag>) {
        let _ = self.locate(k);
        self.ks.watches.add(self.db, k.bytes, flag);
    }

    /// Count a keyspace miss for a read that found a key of no use (e.g. wrong type).
    pub fn count_miss(&mut self, k: &Key) {
        self.sd(k.shard()).counters.misses += 1;
    }
}
