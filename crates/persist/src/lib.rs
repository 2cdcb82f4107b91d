//! Persistence: what rcache writes to disk and reads back.
//!
//! ```text
//!  record.rs   Record: one key as every loader yields it (db, key, value, absolute expiry)
//!  rdb.rs      reading Redis's dump.rdb (RDB version ≤ 10) into Records
//! ```
//!
//! Every loader — rcache's own snapshot, the append-only log, a Redis RDB file — yields the
//! same `Record`s, and one function puts them into the keyspace, so "what a loaded key looks
//! like" has one definition. This crate depends only on `storage`; the commands (SAVE,
//! BGSAVE…) and the server's start-up call into it.

pub mod record;

pub use record::Record;
