//! The append-only log (AOF) in Redis 7's multi-part layout: the manifest, the command
//! reader, the checker and the writer. The replay into the keyspace and the rules of when
//! to rewrite are the command layer's (`commands::aof`, `commands::aof_load`).
//!
//! ```text
//!  appendonlydir/                       (`appenddirname`)
//!    appendonly.aof.manifest            which files make up the log, in order
//!    appendonly.aof.1.base.rcsnap       the base: our snapshot (Redis: .base.rdb / .base.aof)
//!    appendonly.aof.1.incr.aof          RESP multibulk commands appended after the base
//!    appendonly.aof.2.incr.aof          …
//!
//!  manifest.rs  the manifest's grammar (Redis's quoting), parse/render, file names,
//!               atomic rewrite, read
//!  reader.rs    LogReader: commands with their byte offsets, Torn vs Corrupt; `encode`;
//!               `scan`: a whole file, transactions followed, how far it is safe to keep
//!  check.rs     `rcache check-aof [--fix]`: verify a directory, manifest or one file,
//!               and cut a torn tail off the last incr file
//!  writer.rs    Log: the shared buffer effects are appended to, the writer thread,
//!               appendfsync (group commit under always), rotation, failure handling
//! ```

pub mod check;
pub mod manifest;
pub mod reader;
pub mod writer;
