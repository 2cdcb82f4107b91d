//! Point-in-time snapshots without fork: copy a slot table out before the first write that
//! would change it after the snapshot began (Dragonfly's way), so the saved dataset is the
//! one of a single instant while clients keep being served.
//!
//! ```text
//!  begin_snapshot(sink)   every shard locked: epoch := next, sink installed   (the instant)
//!  a write to (db, slot)  ─► ShardData::before_write: epoch set and the table not yet
//!                             saved in this epoch → sink.slot(db, entries) first, mark it
//!  save_shard(s, ep)      a background worker walks shard s table by table, saving the
//!                             tables no write has saved yet (one lock hold per batch)
//!  end_snapshot()         epoch := 0, sink dropped
//! ```
//!
//! **Granularity.** One hash slot's table of one database: at 1 M keys about 60 entries,
//! so a client whose write meets an unsaved table waits for those few entries only. Marks
//! live in `DbPart::snap_marks` (one `u32` epoch per local slot) under the shard lock, so
//! "saved in this epoch?" needs no atomic beyond the epoch itself; a new epoch invalidates
//! every old mark at once.
//!
//! **Which writes.** Every path that changes a table calls `before_write` first: inserting
//! (`insert_new`), removing (`remove_at`: DEL, lazy and active expiry, eviction, slot
//! drops), TTL changes (`set_expire_at`), in-place changes (`Txn::modify_if`, `get_mc`), and
//! whole-database changes (`clear_db` for FLUSHDB/FLUSHALL, SWAPDB), which save every table
//! of the database not yet saved before they proceed. LRU/LFU refreshes are not writes: the
//! snapshot does not hold access times.
//!
//! **Atomicity across keys.** `begin_snapshot` holds every shard lock while it sets the
//! epoch, so no single-shard write straddles the instant. A command spanning shards (MSET,
//! EXEC, a script) is whole on one side only if no command runs at the instant: the caller
//! (BGSAVE) holds the exclusion gate alone around `begin_snapshot`.
//!
//! **Cost when no snapshot runs**: one relaxed load of the epoch per table write.

use crate::entry::Entry;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Where saved slot tables go (the snapshot writer). Called under the shard's lock, from
/// client threads (a write met an unsaved table) and from the background workers: it should
/// encode the entries and hand the bytes on, not block on I/O.
pub trait SlotSink: Send + Sync {
    /// The entries of one slot table of `db` as they were at the snapshot's instant. Expired
    /// entries are included; the reader drops them by their absolute expiry.
    fn slot(&self, db: usize, entries: &[Entry]);
}

/// The running snapshot, shared by every shard.
#[derive(Default)]
pub(crate) struct SnapState {
    /// The running snapshot's epoch; 0 = none.
    pub(crate) epoch: AtomicU32,
    /// The last epoch handed out (epochs are never reused while marks may hold them).
    last: AtomicU32,
    pub(crate) sink: RwLock<Option<Arc<dyn SlotSink>>>,
}

impl SnapState {
    /// The next epoch: never 0.
    pub(crate) fn next_epoch(&self) -> u32 {
        let mut e = self.last.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if e == 0 {
            e = self.last.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        }
        e
    }

    pub(crate) fn sink(&self) -> Option<Arc<dyn SlotSink>> {
        self.sink.read().clone()
    }
}
