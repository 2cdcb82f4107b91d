//! `rcache-bench`: the engine behind `rcache bench`, a load generator for rcache's four
//! doors (RESP, binary, HTTP, memcached) and for Redis, memcached and twemproxy.
//!
//! * [`workload`] — what to run (protocol, operation, keys, sizes, concurrency, stop).
//! * [`engine`] — runs it: per-thread current-thread runtimes, closed or open loop.
//! * [`report`] — turns [`engine::Stats`] into the text report, JSON and CSV.
//! * [`plot`] — the SVG plot (latency percentile curve, throughput over time).
//! * [`cli`] — the `rcache bench` arguments, progress line and comparison mode.

pub mod cli;
pub mod engine;
pub mod keys;
pub mod plot;
pub mod report;
pub mod wire;
pub mod workload;

pub use engine::{run, Progress, Stats};
pub use workload::{Dist, Op, Proto, Stop, Target, Workload};
