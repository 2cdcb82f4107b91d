//! The append-only log (AOF) in Redis 7's multi-part layout: the pure, I/O-light pieces —
//! the manifest, the command reader, and the checker. The log writer and the replay into
//! the keyspace build on them.
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
//! ```

pub mod check;
pub mod manifest;
pub mod reader;
