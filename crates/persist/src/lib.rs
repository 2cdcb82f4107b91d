//! Persistence: what rcache writes to disk and reads back.
//!
//! ```text
//!  record.rs   Record: one key as every loader yields it (db, key, value, absolute expiry,
//!              memcached metadata), and `insert`, the one way a loaded key enters the keyspace
//!  snapshot/   rcache's point-in-time snapshot: format, writer (no fork), reader/loader
//!  dirlock.rs  one server per data directory (an flock held for the process's life)
//! ```
//!
//! Every loader — rcache's own snapshot, the append-only log, a Redis RDB file — yields the
//! same `Record`s, and one function puts them into the keyspace, so "what a loaded key looks
//! like" has one definition. This crate depends only on `storage`; the commands (SAVE,
//! BGSAVE…) and the server's start-up call into it.

pub mod dirlock;
pub mod record;
pub mod snapshot;

pub use record::Record;
