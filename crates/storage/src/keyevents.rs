//! Which keys a command created, changed or removed, and which expired or were evicted:
//! recorded per thread while something listens (keyspace notifications,
//! `commands::notify`), and taken by the command layer when the command ends.
//!
//! ```text
//!  shard.insert_new ─► New        Txn::remove ─► Removed       lookup of an expired key ─► Expired
//!  Txn writes (modify, TTL, signal_modified) ─► Changed          eviction ─► Evicted
//!  a read that finds no key ─► Miss
//!  execute_in (after the handler) / the expiry cron ─► take() ─► events published
//! ```
//! Records are made under the shard locks of the change, on the thread running it, so a
//! command's records are its own. **Cost when off**: one relaxed load per change.

use crate::effects::EffectHook;
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// Created (Redis's `dbAdd`).
    New,
    /// Changed in place (value, TTL, or a write Redis counts as a change).
    Changed,
    /// Removed by the command (DEL, an emptied collection, the source of RENAME…).
    Removed,
    /// Found expired and removed (lazily or by the active cycle).
    Expired,
    /// Evicted to stay under maxmemory.
    Evicted,
    /// Looked up by a read and not found (Redis's "keymiss").
    Miss,
}

/// One record: database, what happened, key.
pub type Record = (usize, KeyEvent, Vec<u8>);

thread_local! {
    static RECORDS: RefCell<Vec<Record>> = const { RefCell::new(Vec::new()) };
}

#[inline]
pub(crate) fn record(hook: &EffectHook, db: usize, ev: KeyEvent, key: &[u8]) {
    if hook.notify.load(Relaxed) {
        RECORDS.with(|r| r.borrow_mut().push((db, ev, key.to_vec())));
    }
}

/// This thread's records so far, oldest first (and forget them).
pub fn take() -> Vec<Record> {
    RECORDS.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// Whether this thread has records waiting (cheap: no allocation).
pub fn pending() -> bool {
    RECORDS.with(|r| !r.borrow().is_empty())
}
