//! `ShardData`: everything one shard lock protects — its slice of every database, its
//! counters and its random source. Methods here keep three things in step on every change:
//! the slot tables, the volatile-key list (keys with a TTL, for active expiry and volatile-*
//! eviction) and the memory accounting.

use crate::effects::EffectHook;
use crate::entry::{Entry, NO_VOL};
use crate::snapshot::SnapState;
use crate::table::SlotTable;
use crate::watch::Watches;
use crate::SHARDS;
use crate::SLOTS_PER_SHARD;
use foldhash::fast::FixedState;
use rand::rngs::SmallRng;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// A key with a TTL, listed so active expiry can sample TTL keys directly.
pub(crate) struct VolKey {
    pub key: Box<[u8]>,
    pub hash: u64,
    pub slot: u16,
}

impl VolKey {
    fn mem(&self) -> usize {
        32 + ((self.key.len() + 15) & !15)
    }
}

/// One database's keys within one shard.
#[derive(Default)]
pub struct DbPart {
    /// The shard's 256 slot tables; empty until the first key is written.
    pub(crate) slots: Vec<SlotTable>,
    pub(crate) keys: usize,
    pub(crate) volatile: Vec<VolKey>,
    pub(crate) key_bytes: usize,
    pub(crate) value_bytes: usize,
    /// Per local slot, the snapshot epoch its table was last saved in (`snapshot.rs`);
    /// empty until a snapshot first saves a table here.
    pub(crate) snap_marks: Vec<u32>,
}

impl DbPart {
    #[inline]
    pub(crate) fn table(&self, slot: u16) -> Option<&SlotTable> {
        self.slots.get(slot as usize / SHARDS)
    }

    pub(crate) fn table_mut(&mut self, slot: u16) -> &mut SlotTable {
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS_PER_SHARD, SlotTable::default);
        }
        &mut self.slots[slot as usize / SHARDS]
    }

    pub fn keys(&self) -> usize {
        self.keys
    }
}

/// Counters kept under the shard lock, so counting a hit costs no atomic operation.
#[derive(Default, Clone, Copy, Debug)]
pub struct ShardCounters {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

pub struct ShardData {
    pub(crate) dbs: Vec<DbPart>,
    pub(crate) counters: ShardCounters,
    pub(crate) rng: SmallRng,
    /// Accounted bytes held by this shard (entries, volatile list).
    pub(crate) mem: usize,
    pub(crate) hasher: FixedState,
    /// WATCH registry (`watch.rs`): every insert, removal and TTL change here touches it.
    pub(crate) watches: Arc<Watches>,
    /// The running snapshot, if any (`snapshot.rs`): every change here saves its slot
    /// table first.
    pub(crate) snap: Arc<SnapState>,
    /// The write-effect hook (`effects.rs`): expiry and eviction report removals to it.
    pub(crate) effects: Arc<EffectHook>,
    /// Keys changed so far (each insert, removal, TTL change or value change counts one,
    /// a write that changes nothing none): the `save <seconds> <changes>` policy's counter,
    /// Redis's `server.dirty`. Never reset, unlike `counters`.
    pub(crate) changes: u64,
}

impl ShardData {
    pub(crate) fn new(
        ndbs: usize,
        hasher: FixedState,
        rng: SmallRng,
        watches: Arc<Watches>,
        snap: Arc<SnapState>,
        effects: Arc<EffectHook>,
    ) -> Self {
        ShardData {
            dbs: (0..ndbs).map(|_| DbPart::default()).collect(),
            counters: ShardCounters::default(),
            rng,
            mem: 0,
            hasher,
            watches,
            snap,
            effects,
            changes: 0,
        }
    }

    /// Called before any change to `slot`'s table of `db`: while a snapshot runs, save the
    /// table as it is now if this snapshot has not saved it yet. One relaxed load otherwise.
    #[inline]
    pub(crate) fn before_write(&mut self, db: usize, slot: u16) {
        let ep = self.snap.epoch.load(std::sync::atomic::Ordering::Relaxed);
        if ep != 0 {
            self.save_table(db, slot as usize / SHARDS, ep);
        }
    }

    /// Before a whole-database change (FLUSHDB, SWAPDB): save every table of `db` the
    /// running snapshot has not saved yet.
    pub(crate) fn before_db_write(&mut self, db: usize) {
        let ep = self.snap.epoch.load(std::sync::atomic::Ordering::Relaxed);
        if ep != 0 {
            for local in 0..SLOTS_PER_SHARD {
                self.save_table(db, local, ep);
            }
        }
    }

    /// Save the table at `local` of `db` for epoch `ep` unless already saved; returns how
    /// many entries it held (0 when already saved or empty).
    #[cold]
    pub(crate) fn save_table(&mut self, db: usize, local: usize, ep: u32) -> usize {
        let part = &mut self.dbs[db];
        if part.snap_marks.is_empty() {
            part.snap_marks.resize(SLOTS_PER_SHARD, 0);
        }
        if part.snap_marks[local] == ep {
            return 0;
        }
        part.snap_marks[local] = ep;
        let Some(t) = part.slots.get(local).filter(|t| !t.is_empty()) else {
            return 0;
        };
        if let Some(sink) = self.snap.sink() {
            sink.slot(db, t.entries());
        }
        t.len()
    }

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Position of a live key in its slot table, expiring it first if its time has passed.
    /// Returns the accounting delta through `delta`.
    #[inline]
    pub(crate) fn lookup(
        &mut self,
        db: usize,
        hash: u64,
        slot: u16,
        key: &[u8],
        now: u64,
        delta: &mut isize,
    ) -> Option<usize> {
        let t = self.dbs[db].table(slot)?;
        let i = t.find(hash, key)?;
        if t.get(i).is_expired(now) && !self.effects.replaying.load(Relaxed) {
            if self.watches.expiry_paused() {
                // CLIENT PAUSE: missing to the reader, removed once the pause ends (Redis).
                return None;
            }
            *delta += self.remove_at(db, slot, i, hash).1;
            self.counters.expired += 1;
            crate::keyevents::record(&self.effects, db, crate::keyevents::KeyEvent::Expired, key);
            self.effects.removed(db, key);
            return None;
        }
        Some(i)
    }

    #[inline]
    pub(crate) fn entry(&self, db: usize, slot: u16, i: usize) -> &Entry {
        self.dbs[db].table(slot).expect("slot table").get(i)
    }

    #[inline]
    pub(crate) fn entry_mut(&mut self, db: usize, slot: u16, i: usize) -> &mut Entry {
        self.dbs[db].table_mut(slot).get_mut(i)
    }

    /// Insert an entry whose key is absent. Returns (position, accounting delta).
    pub(crate) fn insert_new(&mut self, db: usize, hash: u64, entry: Entry) -> (usize, isize) {
        let mut hidden = 0;
        if self.watches.expiry_paused() {
            // An expired key a pause hid from `lookup` is still in the table: a write that
            // found the key absent replaces it (only writes exempt from the pause get here).
            let slot = entry.slot();
            if let Some(i) = self.dbs[db]
                .table(slot)
                .and_then(|t| t.find(hash, entry.key()))
            {
                hidden = self.remove_at(db, slot, i, hash).1;
                self.counters.expired += 1;
                self.effects.removed(db, entry.key());
            }
        }
        let (i, d) = self.insert_absent(db, hash, entry);
        (i, d + hidden)
    }

    /// `insert_new` once the key is known to be absent from the table.
    fn insert_absent(&mut self, db: usize, hash: u64, entry: Entry) -> (usize, isize) {
        self.before_write(db, entry.slot());
        self.changes += 1;
        let mem = entry.mem_usage();
        self.watches.touch(db, entry.key());
        crate::keyevents::record(
            &self.effects,
            db,
            crate::keyevents::KeyEvent::New,
            entry.key(),
        );
        let slot = entry.slot();
        let (kl, vl) = (entry.key_len(), entry.value_len());
        let hasher = self.hasher.clone();
        let d = &mut self.dbs[db];
        let i = d
            .table_mut(slot)
            .insert_new(hash, entry, &|k| hasher.hash_one(k));
        d.keys += 1;
        d.key_bytes += kl;
        d.value_bytes += vl;
        self.mem += mem;
        (i, mem as isize)
    }

    /// Remove the entry at position `i` of `slot`'s table. Returns it and the accounting delta.
    pub(crate) fn remove_at(
        &mut self,
        db: usize,
        slot: u16,
        i: usize,
        hash: u64,
    ) -> (Entry, isize) {
        self.before_write(db, slot);
        self.changes += 1;
        let mut delta = 0isize;
        let vol = self.entry(db, slot, i).vol_idx();
        if vol != NO_VOL {
            delta -= self.vol_remove(db, vol as usize) as isize;
        }
        let hasher = self.hasher.clone();
        let d = &mut self.dbs[db];
        let e = d
            .table_mut(slot)
            .swap_remove(i, hash, &|k| hasher.hash_one(k));
        d.keys -= 1;
        d.key_bytes -= e.key_len();
        d.value_bytes -= e.value_len();
        self.watches.touch(db, e.key());
        let m = e.mem_usage();
        self.mem -= m;
        delta -= m as isize;
        (e, delta)
    }

    /// Set (at > 0) or clear (at == 0) the TTL of the entry at `i`. Returns the delta.
    pub(crate) fn set_expire_at(&mut self, db: usize, slot: u16, i: usize, at: u64) -> isize {
        if self.entry(db, slot, i).expire_at() != at {
            self.before_write(db, slot);
            self.changes += 1;
            let k = self.entry(db, slot, i).key();
            if self.watches.active() {
                self.watches.touch(db, k);
            }
            crate::keyevents::record(&self.effects, db, crate::keyevents::KeyEvent::Changed, k);
        }
        let e = self.entry_mut(db, slot, i);
        e.set_expire_raw(at);
        let vol = e.vol_idx();
        if at != 0 && vol == NO_VOL {
            let key: Box<[u8]> = e.key().into();
            let hash = self.hash(&key);
            let v = VolKey { key, hash, slot };
            let m = v.mem();
            let d = &mut self.dbs[db];
            d.volatile.push(v);
            let idx = (d.volatile.len() - 1) as u32;
            d.table_mut(slot).get_mut(i).set_vol_idx(idx);
            self.mem += m;
            m as isize
        } else if at == 0 && vol != NO_VOL {
            let m = self.vol_remove(db, vol as usize);
            self.entry_mut(db, slot, i).set_vol_idx(NO_VOL);
            -(m as isize)
        } else {
            0
        }
    }

    /// Drop volatile-list position `idx`, fixing the index of the entry moved into it.
    /// Returns the bytes released.
    fn vol_remove(&mut self, db: usize, idx: usize) -> usize {
        let d = &mut self.dbs[db];
        let v = d.volatile.swap_remove(idx);
        if idx < d.volatile.len() {
            let moved = &d.volatile[idx];
            let (h, s) = (moved.hash, moved.slot);
            let key: &[u8] = &moved.key;
            let t = &d.slots[s as usize / SHARDS];
            if let Some(p) = t.find(h, key) {
                d.slots[s as usize / SHARDS]
                    .get_mut(p)
                    .set_vol_idx(idx as u32);
            }
        }
        if d.volatile.capacity() > 64 && d.volatile.len() * 4 < d.volatile.capacity() {
            d.volatile.shrink_to(d.volatile.len() * 2);
        }
        let m = v.mem();
        self.mem -= m;
        m
    }

    /// Account a size change of an entry in place (value rewritten, appended, resized).
    pub(crate) fn account_change(
        &mut self,
        db: usize,
        mem_before: usize,
        vlen_before: usize,
        mem_after: usize,
        vlen_after: usize,
    ) -> isize {
        let d = &mut self.dbs[db];
        d.value_bytes = d.value_bytes - vlen_before + vlen_after;
        self.mem = self.mem - mem_before + mem_after;
        mem_after as isize - mem_before as isize
    }

    /// Empty one database of this shard. Returns the entries (so the caller may drop them
    /// elsewhere) and the delta.
    pub(crate) fn clear_db(&mut self, db: usize) -> (DbPart, isize) {
        self.before_db_write(db);
        self.changes += self.dbs[db].keys as u64;
        let mut old = std::mem::take(&mut self.dbs[db]);
        // The marks stay with the position: tables created here later during the same
        // snapshot are new keys, not to be saved.
        self.dbs[db].snap_marks = std::mem::take(&mut old.snap_marks);
        let mut m = 0usize;
        for t in &old.slots {
            for e in t.entries() {
                m += e.mem_usage();
            }
        }
        for v in &old.volatile {
            m += v.mem();
        }
        self.mem -= m;
        (old, -(m as isize))
    }
}
