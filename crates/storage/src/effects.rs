//! The write-effect hook: how the append-only log (and, later, replicas and slot hand-off)
//! learns what changed, in the order it changed.
//!
//! ```text
//!  Txn (a command's locked shards) ── dropped after a write ──► sink.committed(txn)
//!  lazy expiry (lookup) / active expiry / eviction ───────────► sink.removed(db, key)
//! ```
//! Both calls come **under the shard locks** of the change, so two changes to one key reach
//! the sink in the order they were made: the log's order is the keyspace's order per key.
//! What a committed command did (its arguments, or a deterministic rewrite) is known only
//! above this layer; the sink asks the command layer (`commands::effects`).
//!
//! **Replay.** While a log is replayed, keys never expire (`replaying`): a key that expired
//! while the log was written is removed by the DEL the log holds for it, at the same point
//! in the stream, so replay reaches the state the writer had (Redis does the same when it
//! loads an AOF).
//!
//! **Cost when off**: one relaxed load per transaction and per expiry or eviction.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// Where write effects go. Called with the changed shards locked: append, do not block on
/// I/O.
pub trait EffectSink: Send + Sync {
    /// A transaction that changed the keyspace is about to release its locks; it may still
    /// be read (to log a key's resulting value).
    fn committed(&self, txn: &mut crate::Txn<'_>);
    /// A key of database `db` was removed by expiry (lazy or active) or eviction.
    fn removed(&self, db: usize, key: &[u8]);
}

/// The installed sink and the replay switch, shared by every shard.
#[derive(Default)]
pub(crate) struct EffectHook {
    /// The sink listens: transactions track whether they wrote.
    pub(crate) on: AtomicBool,
    /// Installed once for the keyspace's life (reading it on every write costs no atomic
    /// read-modify-write, unlike a lock or an `Arc` clone); `on` switches it.
    sink: OnceLock<Arc<dyn EffectSink>>,
    /// A log is being replayed: nothing expires.
    pub(crate) replaying: AtomicBool,
    /// Key events are recorded (`keyevents.rs`): keyspace notifications are on.
    pub(crate) notify: AtomicBool,
}

impl EffectHook {
    /// Install the sink (the first one stays: a keyspace has one effect stream).
    pub(crate) fn install(&self, sink: Arc<dyn EffectSink>) {
        let _ = self.sink.set(sink);
    }

    pub(crate) fn set_on(&self, on: bool) {
        self.on.store(on && self.sink.get().is_some(), Relaxed);
    }

    #[inline]
    pub(crate) fn sink(&self) -> Option<&Arc<dyn EffectSink>> {
        if !self.on.load(Relaxed) {
            return None;
        }
        self.sink.get()
    }

    /// Report a removal by expiry or eviction, if a sink listens.
    #[inline]
    pub(crate) fn removed(&self, db: usize, key: &[u8]) {
        if let Some(s) = self.sink() {
            s.removed(db, key);
        }
    }
}
