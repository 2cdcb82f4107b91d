//! The rcache keyspace: what a key is, where it lives, when it expires and what is evicted.
//!
//! ```text
//! Keyspace ── 64 shards, each a Mutex<ShardData> (the seed's "segment locks")
//!   ShardData ── per logical database (16): DbPart
//!     DbPart ── 256 SlotTables (the hash slots s with s % 64 == shard), volatile-key list
//!       SlotTable ── index (HashTable<u32>) + entries (Vec<Entry>), one per hash slot
//!         Entry ── one allocation: 24-byte header | key | value
//! ```
//! A key's hash slot (CRC16-XMODEM mod 16384, `{tag}`-aware) picks both its shard and its
//! slot table, so one slot's keys can be visited or dropped in time proportional to that
//! slot (cluster migration), and SCAN walks slots in order with a cursor that never skips a
//! key present for the whole scan. Commands lock the shards they touch (several in ascending
//! order) through a `Txn`; nothing here knows about sockets or the wire.

pub mod clock;
pub mod dump;
pub mod effects;
pub mod entry;
pub mod evict;
pub mod expire;
pub mod keyevents;
pub mod keyspace;
pub mod shard;
pub mod slot;
pub mod snapshot;
pub mod table;
pub mod types;
pub mod watch;

pub use clock::{Clock, ManualClock, SystemClock};
pub use effects::EffectSink;
pub use entry::{next_cas, Enc, Entry, Expiry, McMeta, ObjType};
pub use evict::{EvictionConfig, Oom, Policy};
pub use keyspace::{DbInfo, Key, Keyspace, KeyspaceStats, McView, Txn};
pub use slot::{key_slot, SLOTS};
pub use snapshot::SlotSink;
pub use types::{Collection, Limits};
pub use watch::{KeyListener, WatchFlag, Watches};

/// Number of shards (a power of two). 64 gives 32 per core on the 2-core target and keeps
/// lock contention negligible; each owns 16384/64 = 256 hash slots.
pub const SHARDS: usize = 64;
/// Hash slots per shard.
pub const SLOTS_PER_SHARD: usize = SLOTS / SHARDS;
