//! rcache proxy: a twemproxy (nutcracker) drop-in that uses every core, reloads its
//! configuration live and, when asked, moves keys so none go missing (docs/PROXY.md).
//!
//! ```text
//!  client ─► worker thread (redis.rs | memcache.rs): parse all, route by key
//!              │  pool.rs: hash (hashkit.rs) of the key or its hash_tag part,
//!              │           continuum (dist.rs: ketama, modula, random) over live servers
//!              ├─ one batch per server ─► backend.rs (pipelined connection, per worker)
//!              │                              └─ server.rs: health, ejection, counters
//!              └─ replies in request order (multi-key fragments merged) ─► client
//!  run.rs: threads, listeners, SIGHUP / POST /reload, stats port (stats.rs)
//!  rebalance.rs: after a reload that moves keys, move them (on access, and a mover)
//!  cluster.rs: cluster pools follow a Redis Cluster's slot map (MOVED, ASK)
//!  config.rs: twemproxy's YAML, validated like nutcracker;  cli.rs: its command line
//! ```

pub mod backend;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod dist;
pub mod hashkit;
pub mod memcache;
pub mod pool;
pub mod rebalance;
pub mod redis;
pub mod run;
pub mod server;
pub mod stats;
