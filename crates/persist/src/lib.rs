//! Persistence: what rcache writes to disk and reads back.
//!
//! ```text
//!  record.rs   Record: one key as every loader yields it (db, key, value, absolute expiry,
//!              memcached metadata), and `insert`, the one way a loaded key enters the keyspace
//!  snapshot/   rcache's point-in-time snapshot (keys and function libraries): format, writer
//!              (no fork), reader/loader
//!  aof/        the append-only log in Redis 7's multi-part layout (directory + manifest +
//!              base + incr files): the pieces without a keyspace
//!    manifest.rs   the manifest: Redis's grammar and quoting, parse/render, names, atomic write
//!    reader.rs     LogReader (RESP commands with offsets; torn vs corrupt), encode, scan
//!    check.rs      `rcache check-aof [--fix]`: verify a directory, cut a torn tail
//!  dirlock.rs  one server per data directory (an flock held for the process's life)
//!  rdb/        reading Redis's dump.rdb (RDB versions 1–11: Redis ≤ 7.2) into Records,
//!              streaming; function libraries handed up in the summary; module values
//!              skipped and reported
//!    mod.rs        read_rdb, RdbSummary, RdbError; the opcode loop and CRC-64 trailer
//!    input.rs      offsets, CRC, length and string encodings (int, LZF)
//!    value.rs      each RDB value type into storage::dump::Value
//!    stream.rs     streams (types 15, 19, 21) into storage's StreamValue
//!    skip.rs       module values / aux data, pre-release function libraries
//!    lzf.rs listpack.rs ziplist.rs intset.rs zipmap.rs   encodings inside strings
//! ```
//!
//! Every loader — rcache's own snapshot, the append-only log, a Redis RDB file — yields the
//! same `Record`s, and one function puts them into the keyspace, so "what a loaded key looks
//! like" has one definition. This crate depends only on `storage`; the commands (SAVE,
//! BGSAVE…) and the server's start-up call into it.

pub mod aof;
pub mod dirlock;
pub mod rdb;
pub mod record;
pub mod snapshot;

pub use record::Record;
