//! WATCH: which clients watch which keys, and the hook every write calls so that a change to
//! a watched key makes those clients' next EXEC fail.
//!
//! ```text
//!  Keyspace ── Arc<Watches> ── key bytes → [(db, Arc<WatchFlag>) …]   (one flag per client)
//!  ShardData::{insert_new, remove_at, set_expire_at}, Txn::{modify, set} ──► Watches::touch
//!  Keyspace::{flush, swap_db}                                           ──► touch existing
//! ```
//!
//! **Cost when nobody watches.** Every write path checks `Watches::active()`: one relaxed
//! load of a counter of watched keys (under the shard lock already held), and nothing else.
//! Only while some key is watched does a write take the registry's mutex and look its key up.
//!
//! **Where the hooks are.** At the storage choke points, not in commands, so every way a key
//! changes is seen, including the ones no command asked for: inserting an entry
//! (`insert_new`: SET of a new key, RENAME/COPY/MOVE targets, `put_entry` of any collection),
//! removing one (`remove_at`: DEL, lazy expiry, active expiry, eviction, slot drops),
//! changing a TTL (`set_expire_at`), changing a value in place (`Txn::modify`, `Txn::set`),
//! and FLUSHDB/FLUSHALL/SWAPDB (watched keys that existed, as Redis's
//! `touchAllWatchedKeysInDb`). Reads and LRU/LFU refreshes are not changes.
//!
//! **Races.** A client registers a key while holding that key's shard lock
//! (`Txn::watch`), and writers mark flags under the same lock, so a write either happened
//! before the WATCH (not a change) or is seen. EXEC checks the flag while holding the
//! exclusion gate alone (`commands::gate`), when no other command runs.
//!
//! **Listeners.** The same hook tells one `KeyListener` (client-side caching's invalidation,
//! `commands::tracking`) of every change and of every flush, while it listens: the listening
//! flag is a bit of the same counter, so a write still costs one relaxed load when nobody
//! watches and nobody tracks.
//!
//! **Pauses.** CLIENT PAUSE keeps the dataset still: while `expiry_paused` is set, a lookup
//! hides an expired key without removing it, the active cycle and eviction do nothing
//! (Redis's `checkClientPauseTimeoutAndReturnIfPaused` in `expireIfNeeded`,
//! `activeExpireCycle` and `performEvictions`).
//!
//! **Expiry.** WATCH looks the key up first, which removes it if its time has passed (Redis:
//! a key already expired when watched is no change when it is later deleted). A watched key
//! that expires afterwards is removed by lazy or active expiry, or by EXEC's own lookup of
//! its watched keys, and either removal marks the watchers (Redis 7: EXEC fails).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// One client's "something I watch changed" flag (Redis's CLIENT_DIRTY_CAS).
#[derive(Debug, Default)]
pub struct WatchFlag(AtomicBool);

impl WatchFlag {
    pub fn is_dirty(&self) -> bool {
        self.0.load(Relaxed)
    }

    pub fn mark(&self) {
        self.0.store(true, Relaxed);
    }

    pub fn clear(&self) {
        self.0.store(false, Relaxed);
    }
}

type Watchers = Vec<(usize, Arc<WatchFlag>)>;

/// Who hears of key changes besides WATCH: client-side caching (`commands::tracking`).
/// Called under the shard lock(s) of the change, on the thread making it: record and
/// queue, never block, never take a shard lock.
pub trait KeyListener: Send + Sync {
    /// `key` changed (any database: tracking is not per database, as in Redis).
    fn changed(&self, key: &[u8]);
    /// One or every database was emptied (FLUSHDB, FLUSHALL, memcached `flush_all`).
    fn flushed(&self);
}

/// The bit of `Watches::count` that says the listener listens.
const LISTENING: usize = 1 << (usize::BITS - 2);

/// The registry of watched keys. See the module doc.
#[derive(Default)]
pub struct Watches {
    /// Number of (key, db, client) registrations, plus `LISTENING` while the listener
    /// listens: the hot path's only check.
    count: AtomicUsize,
    map: Mutex<HashMap<Box<[u8]>, Watchers, foldhash::fast::RandomState>>,
    /// Installed once; `set_listening` switches it.
    listener: OnceLock<Arc<dyn KeyListener>>,
    /// CLIENT PAUSE: nothing expires or is evicted (see the module doc).
    paused: AtomicBool,
}

impl Watches {
    /// Whether any key is watched, or the listener listens.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Relaxed) != 0
    }

    /// A write changed `key` in database `db`: mark its watchers, tell the listener.
    #[inline]
    pub fn touch(&self, db: usize, key: &[u8]) {
        if self.active() {
            self.touch_slow(db, key);
        }
    }

    #[cold]
    fn touch_slow(&self, db: usize, key: &[u8]) {
        let c = self.count.load(Relaxed);
        if c & !LISTENING != 0 {
            if let Some(ws) = self.map.lock().get(key) {
                for (d, f) in ws {
                    if *d == db {
                        f.mark();
                    }
                }
            }
        }
        if c & LISTENING != 0 {
            if let Some(l) = self.listener.get() {
                l.changed(key);
            }
        }
    }

    /// Install the listener (the first one stays); it hears nothing until `set_listening`.
    pub fn install_listener(&self, l: Arc<dyn KeyListener>) {
        let _ = self.listener.set(l);
    }

    /// Start or stop telling the listener of changes.
    pub fn set_listening(&self, on: bool) {
        if on {
            self.count.fetch_or(LISTENING, Relaxed);
        } else {
            self.count.fetch_and(!LISTENING, Relaxed);
        }
    }

    /// A flush emptied one or every database: tell the listener.
    pub fn flushed(&self) {
        if self.count.load(Relaxed) & LISTENING != 0 {
            if let Some(l) = self.listener.get() {
                l.flushed();
            }
        }
    }

    /// CLIENT PAUSE began (true) or ended (false): expiry and eviction wait meanwhile.
    pub fn set_expiry_paused(&self, on: bool) {
        self.paused.store(on, Relaxed);
    }

    /// Whether expiry and eviction wait for a pause to end.
    #[inline]
    pub fn expiry_paused(&self) -> bool {
        self.paused.load(Relaxed)
    }

    /// Register `flag` as watching `key` in `db`. Call with the key's shard locked
    /// (`Txn::watch`); the caller keeps registrations unique per client.
    pub(crate) fn add(&self, db: usize, key: &[u8], flag: &Arc<WatchFlag>) {
        let mut m = self.map.lock();
        m.entry(key.into()).or_default().push((db, flag.clone()));
        self.count.fetch_add(1, Relaxed);
    }

    /// Drop one registration made by `add`.
    pub fn remove(&self, db: usize, key: &[u8], flag: &Arc<WatchFlag>) {
        let mut m = self.map.lock();
        if let Some(ws) = m.get_mut(key) {
            if let Some(p) = ws
                .iter()
                .position(|(d, f)| *d == db && Arc::ptr_eq(f, flag))
            {
                ws.swap_remove(p);
                self.count.fetch_sub(1, Relaxed);
            }
            if ws.is_empty() {
                m.remove(key);
            }
        }
    }

    /// Number of registrations (tests, INFO).
    pub fn len(&self) -> usize {
        self.count.load(Relaxed) & !LISTENING
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The watched keys of the databases `dbs` (distinct (db, key) pairs).
    pub(crate) fn keys_in(&self, dbs: &[usize]) -> Vec<(usize, Box<[u8]>)> {
        let m = self.map.lock();
        let mut out = Vec::new();
        for (k, ws) in m.iter() {
            for &d in dbs {
                if ws.iter().any(|(wd, _)| *wd == d) {
                    out.push((d, k.clone()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_marks_only_matching_db_and_key() {
        let w = Watches::default();
        assert!(!w.active());
        let a = Arc::new(WatchFlag::default());
        let b = Arc::new(WatchFlag::default());
        w.add(0, b"k", &a);
        w.add(1, b"k", &b);
        assert!(w.active());
        w.touch(0, b"other");
        w.touch(2, b"k");
        assert!(!a.is_dirty() && !b.is_dirty());
        w.touch(0, b"k");
        assert!(a.is_dirty() && !b.is_dirty());
        w.remove(0, b"k", &a);
        w.remove(1, b"k", &b);
        assert!(!w.active() && w.map.lock().is_empty());
        // Removing what is not registered is harmless.
        w.remove(1, b"k", &b);
        assert_eq!(w.len(), 0);
    }

    fn keyspace() -> (crate::Keyspace, crate::ManualClock) {
        let clock = crate::ManualClock::new(1_000_000);
        let ks = crate::Keyspace::new(
            16,
            Arc::new(clock.clone()),
            Arc::new(crate::EvictionConfig::default()),
        );
        (ks, clock)
    }

    /// Watch `key` in `db` with a fresh flag.
    fn watch(ks: &crate::Keyspace, db: usize, key: &[u8]) -> Arc<WatchFlag> {
        let f = Arc::new(WatchFlag::default());
        let k = ks.key(key);
        ks.txn1(db, &k).watch(&k, &f);
        f
    }

    #[test]
    fn every_write_path_marks_watchers() {
        use crate::entry::Expiry;
        use crate::Clock;
        let (ks, clock) = keyspace();
        let k = ks.key(b"k");
        // A new key, an overwrite, a TTL change, a removal, an in-place change.
        type Write<'a> = Box<dyn Fn(&mut crate::Txn) + 'a>;
        let writes: Vec<Write> = vec![
            Box::new(|t| {
                t.set(&k, b"v", Expiry::Keep);
            }),
            Box::new(|t| {
                t.set(&k, b"w", Expiry::Keep);
            }),
            Box::new(|t| {
                t.set_expire(&k, 5_000_000);
            }),
            Box::new(|t| {
                t.modify(&k, |e| e.set_value(b"xyz"));
            }),
            Box::new(|t| {
                t.delete(&k);
            }),
        ];
        for w in &writes {
            let f = watch(&ks, 0, b"k");
            let other = watch(&ks, 1, b"k");
            w(&mut ks.txn1(0, &k));
            assert!(f.is_dirty());
            assert!(!other.is_dirty(), "another database's key is another key");
            ks.watches.remove(0, b"k", &f);
            ks.watches.remove(1, b"k", &other);
            if !ks.txn1(0, &k).exists(&k) {
                ks.txn1(0, &k).set(&k, b"v", Expiry::Keep);
            }
        }
        assert!(ks.watches.is_empty());

        // Reads, and writes that change nothing, are not changes.
        let f = watch(&ks, 0, b"k");
        ks.txn1(0, &k).get(&k);
        ks.txn1(0, &k).set_expire(&k, 0);
        let other = ks.key(b"other");
        ks.txn1(0, &other).set(&other, b"v", Expiry::Keep);
        assert!(!f.is_dirty());

        // Expiry: the key's time passes and a lookup removes it.
        ks.txn1(0, &k).set_expire(&k, clock.now_ms() + 10);
        f.clear();
        clock.advance(10);
        assert!(!ks.txn1(0, &k).exists(&k));
        assert!(f.is_dirty());
    }

    #[test]
    fn already_expired_key_is_removed_when_watched() {
        use crate::entry::Expiry;
        use crate::Clock;
        let (ks, clock) = keyspace();
        let k = ks.key(b"k");
        ks.txn1(0, &k).set(&k, b"v", Expiry::At(clock.now_ms() + 5));
        clock.advance(5);
        let f = watch(&ks, 0, b"k");
        // Its deletion happened at WATCH: no later change.
        assert!(!ks.txn1(0, &k).exists(&k));
        assert!(!f.is_dirty());
    }

    #[test]
    fn flush_and_swapdb_mark_watched_keys_that_exist() {
        use crate::entry::Expiry;
        let (ks, _clock) = keyspace();
        let (a, b) = (ks.key(b"a"), ks.key(b"b"));
        ks.txn1(0, &a).set(&a, b"1", Expiry::Keep);
        ks.txn1(1, &b).set(&b, b"1", Expiry::Keep);
        let fa = watch(&ks, 0, b"a");
        let fb = watch(&ks, 0, b"b");
        let fmissing = watch(&ks, 0, b"missing");
        ks.flush(Some(0), false);
        assert!(fa.is_dirty());
        assert!(!fb.is_dirty() && !fmissing.is_dirty());
        // SWAPDB 0 1: "b" exists in db 1, so a watcher of db 0's "b" sees a change.
        ks.swap_db(0, 1);
        assert!(fb.is_dirty());
        assert!(!fmissing.is_dirty());
        fa.clear();
        ks.flush(None, false);
        assert!(!fa.is_dirty(), "a was already gone");
        assert!(fb.is_dirty());
    }
}
