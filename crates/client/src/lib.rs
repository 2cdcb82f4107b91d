//! An async ([tokio]) client for rcache — and for Redis, over RESP.
//!
//! * **Transports**: RESP2, RESP3 (negotiated with `HELLO 3`) and the rcache binary protocol
//!   v1 (the server's `binary-port`, see `docs/PROTOCOL.md`). Replies from all of them decode
//!   into one owned [`Value`].
//! * **Automatic pipelining**: a [`Connection`] is a cheap handle on one socket; any number
//!   of tasks may use clones of it at once, and requests that queue up while a write is in
//!   progress go out together in the next write.
//! * **Explicit batches**: [`Connection::pipe`] → [`Pipeline`] (optionally MULTI/EXEC).
//! * **Timeouts** per request ([`Config::timeout`], [`Connection::with_timeout`]).
//! * **A pool** ([`Pool`]) that picks the least loaded connection and reconnects broken ones.
//! * **Typed helpers** for the common commands (`get`, `set`, `set_ex`, `incr`, `hgetall`,
//!   `zrange_withscores`, …) plus the generic [`Connection::cmd`].
//! * **Errors** as one enum, [`Error`]: `Io`, `Protocol`, `Server` (the server's own words),
//!   `Timeout`, `Closed`, `Unsupported`.
//!
//! ```no_run
//! use rcache_client::{Connection, Proto, Value};
//!
//! # async fn demo() -> rcache_client::Result<()> {
//! let conn = Connection::open("127.0.0.1:6379", Proto::Resp3).await?;
//!
//! conn.set_ex("session:1", "ada", 60).await?;
//! assert_eq!(conn.get("session:1").await?, Some(b"ada".to_vec()));
//!
//! conn.hset("user:1", "name", "ada").await?;
//! let v = conn.cmd(["HGETALL", "user:1"]).await?; // RESP3: a Value::Map
//! assert!(matches!(v, Value::Map(_)));
//!
//! // A server error is an Err, with Redis's words:
//! let err = conn.cmd(["INCR", "user:1"]).await.unwrap_err();
//! assert_eq!(err.server().unwrap().code(), "WRONGTYPE");
//! # Ok(())
//! # }
//! ```
//!
//! The binary protocol is the same API with [`Proto::Binary`] and the binary port; GET, SET
//! and DEL then use its own opcodes, everything else its COMMAND opcode:
//!
//! ```no_run
//! # async fn demo() -> rcache_client::Result<()> {
//! use rcache_client::{Connection, Proto};
//! let conn = Connection::open("127.0.0.1:7379", Proto::Binary).await?;
//! conn.set_px("k", "v", 1500).await?;
//! println!("{:?}", conn.status().await?); // the binary STATUS map
//! # Ok(())
//! # }
//! ```
//!
//! Not supported: pub/sub (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE), MONITOR and replication
//! commands — they are refused with [`Error::Unsupported`] — and RESP3 push messages, which
//! are read and dropped. WATCH is unsafe on a shared connection (other callers' commands
//! interleave); use a connection of its own for it. TLS and Redis Cluster are not provided.

pub mod codec;
mod commands;
mod config;
mod connection;
mod error;
mod pipeline;
mod pool;
mod value;

pub use config::{Config, Proto};
pub use connection::Connection;
pub use error::{Error, Result, ServerError};
pub use pipeline::Pipeline;
pub use pool::Pool;
pub use value::Value;

/// A (field, value) pair of byte strings, as [`Connection::hgetall`] returns them.
pub type BytesPair = (Vec<u8>, Vec<u8>);
