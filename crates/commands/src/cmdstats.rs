//! Per-command statistics: calls, time spent, failed and rejected calls, and a latency
//! histogram per command, read by INFO `commandstats`/`latencystats` and `/metrics`.
//!
//! Recording is on the path of every command, so it writes no cache line another thread
//! writes and takes no lock:
//!
//! ```text
//!  I/O thread A ─► thread-local Block ─┐            (only A writes it: plain load + store)
//!  I/O thread B ─► thread-local Block ─┼─ Shared::threads (registered once per thread)
//!  blocking pool ► thread-local Block ─┘        ▲
//!                        thread exit ─► retired │ reader: lock, sum blocks + retired
//!                                               │         − baseline (CONFIG RESETSTAT)
//! ```
//!
//! * Each thread that runs commands for a server owns a `Block`: one lazily allocated
//!   `Counters` per command id (`CommandTable::stat_id`; subcommands count apart, as Redis's
//!   `cmdstat_client|list`). Only the owner writes, so an increment is a relaxed load and a
//!   relaxed store — no locked instruction — and readers sum every block's atomics.
//! * Counters only grow. CONFIG RESETSTAT does not touch them (a reader's store could race
//!   the owner's load/store); it records the current totals as a baseline that readers
//!   subtract.
//! * A thread that ends (tokio's blocking pool retires idle threads) folds its block into
//!   `retired` under the same lock readers take, so nothing is lost or counted twice.
//! * Several servers in one process (tests) each have their own `CmdStats`; a thread keeps
//!   one block per server it has served, the last one used first in its list.
//!
//! Latency buckets are log-spaced from 100 ns to 10 s (10 per decade: 1, 1.25, 1.5, 2, 2.5,
//! 3, 4, 5, 6, 8), fine enough for percentiles within a few percent; Prometheus gets the
//! 1-2.5-5 subset from 1 µs (`EXPORT_BOUNDS_NS`), every one of which is a bound here, so
//! the exported buckets are exact sums.

pub mod clock;

use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

/// Upper bounds (inclusive) of the latency buckets, in nanoseconds; one more bucket above
/// the last holds everything slower than 10 s.
pub const BOUNDS_NS: [u64; 81] = bounds();

/// Buckets per command: one per bound plus the overflow bucket.
pub const BUCKETS: usize = BOUNDS_NS.len() + 1;

/// The bounds `/metrics` exposes (`le` in seconds): 1, 2.5, 5 per decade, 1 µs … 10 s.
pub const EXPORT_BOUNDS_NS: [u64; 22] = export_bounds();

/// The percentiles INFO latencystats shows (Redis 7's default
/// `latency-tracking-info-percentiles`).
pub const INFO_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];

const fn bounds() -> [u64; 81] {
    const MANTISSA: [u64; 10] = [100, 125, 150, 200, 250, 300, 400, 500, 600, 800];
    let mut out = [0u64; 81];
    let mut scale = 1;
    let mut i = 0;
    while i < 80 {
        out[i] = MANTISSA[i % 10] * scale;
        i += 1;
        if i % 10 == 0 {
            scale *= 10;
        }
    }
    out[80] = 10_000_000_000;
    out
}

const fn export_bounds() -> [u64; 22] {
    let mut out = [0u64; 22];
    let mut scale = 1_000;
    let mut i = 0;
    while i < 21 {
        out[i] = scale;
        out[i + 1] = scale * 5 / 2;
        out[i + 2] = scale * 5;
        scale *= 10;
        i += 3;
    }
    out[21] = 10_000_000_000;
    out
}

/// The bucket a duration falls in: the first whose bound is ≥ `ns`.
#[inline]
pub fn bucket_of(ns: u64) -> usize {
    BOUNDS_NS.partition_point(|&b| b < ns)
}

/// One command's counters in one thread's block. Written only by the owning thread.
struct Counters {
    calls: AtomicU64,
    nanos: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    hist: [AtomicU64; BUCKETS],
}

impl Counters {
    fn new() -> Counters {
        Counters {
            calls: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            hist: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Single-writer increment: the owner is the only thread that stores, so load + store is
/// exact and avoids a locked read-modify-write; readers see each value whole.
#[inline(always)]
fn bump(a: &AtomicU64, n: u64) {
    a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
}

/// One thread's counters for one server, one slot per command id.
struct Block {
    slots: Box<[OnceLock<Box<Counters>>]>,
}

impl Block {
    fn new(n: usize) -> Block {
        Block {
            slots: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    #[inline]
    fn counters(&self, id: u32) -> Option<&Counters> {
        let slot = self.slots.get(id as usize)?;
        Some(slot.get_or_init(|| Box::new(Counters::new())))
    }

    fn add_into(&self, totals: &mut BTreeMap<u32, Raw>) {
        for (id, slot) in self.slots.iter().enumerate() {
            if let Some(c) = slot.get() {
                totals.entry(id as u32).or_default().add(c);
            }
        }
    }
}

/// Plain totals of one command (sums, baselines, retired threads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raw {
    pub calls: u64,
    pub nanos: u64,
    pub failed: u64,
    pub rejected: u64,
    pub hist: [u64; BUCKETS],
}

impl Default for Raw {
    fn default() -> Raw {
        Raw {
            calls: 0,
            nanos: 0,
            failed: 0,
            rejected: 0,
            hist: [0; BUCKETS],
        }
    }
}

impl Raw {
    fn add(&mut self, c: &Counters) {
        self.calls += c.calls.load(Relaxed);
        self.nanos += c.nanos.load(Relaxed);
        self.failed += c.failed.load(Relaxed);
        self.rejected += c.rejected.load(Relaxed);
        for (h, a) in self.hist.iter_mut().zip(&c.hist) {
            *h += a.load(Relaxed);
        }
    }

    fn sub_raw(&mut self, o: &Raw) {
        self.calls = self.calls.saturating_sub(o.calls);
        self.nanos = self.nanos.saturating_sub(o.nanos);
        self.failed = self.failed.saturating_sub(o.failed);
        self.rejected = self.rejected.saturating_sub(o.rejected);
        for (h, x) in self.hist.iter_mut().zip(&o.hist) {
            *h = h.saturating_sub(*x);
        }
    }

    fn is_zero(&self) -> bool {
        self.calls == 0 && self.failed == 0 && self.rejected == 0
    }
}

/// What readers share with the recording threads.
#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Blocks of the threads alive that have recorded for this server.
    threads: Vec<Arc<Block>>,
    /// Totals of threads that have ended.
    retired: BTreeMap<u32, Raw>,
    /// Totals at the last CONFIG RESETSTAT.
    baseline: BTreeMap<u32, Raw>,
}

impl Inner {
    fn raw_totals(&self) -> BTreeMap<u32, Raw> {
        let mut t = self.retired.clone();
        for b in &self.threads {
            b.add_into(&mut t);
        }
        t
    }
}

/// A thread's attachment to one server's statistics.
struct Attached {
    server: u64,
    shared: Weak<Shared>,
    block: Arc<Block>,
}

/// The blocks of the current thread, the one used last first.
struct Local {
    attached: RefCell<Vec<Attached>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        for a in self.attached.get_mut().drain(..) {
            if let Some(shared) = a.shared.upgrade() {
                let mut g = shared.inner.lock();
                let Inner {
                    threads, retired, ..
                } = &mut *g;
                a.block.add_into(retired);
                threads.retain(|b| !Arc::ptr_eq(b, &a.block));
            }
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            attached: RefCell::new(Vec::new()),
        }
    };
}

static NEXT_SERVER: AtomicU64 = AtomicU64::new(1);

/// A server's per-command statistics.
pub struct CmdStats {
    /// Tells this server's blocks apart from another's in a thread's list.
    server: u64,
    /// Command ids (`CommandTable::stat_count`).
    len: usize,
    shared: Arc<Shared>,
}

impl Default for CmdStats {
    fn default() -> CmdStats {
        CmdStats::new(crate::table::CommandTable::get().stat_count())
    }
}

impl CmdStats {
    /// Statistics for `len` command ids.
    pub fn new(len: usize) -> CmdStats {
        clock::init();
        CmdStats {
            server: NEXT_SERVER.fetch_add(1, Relaxed),
            len,
            shared: Arc::default(),
        }
    }

    /// Run `f` on this thread's counters for command `id`. Nothing happens for an id out of
    /// range or while the thread is being torn down.
    #[inline]
    fn with_counters(&self, id: u32, f: impl FnOnce(&Counters)) {
        let _ = LOCAL.try_with(|l| {
            {
                let list = l.attached.borrow();
                if let Some(a) = list.first().filter(|a| a.server == self.server) {
                    if let Some(c) = a.block.counters(id) {
                        f(c);
                    }
                    return;
                }
            }
            self.attach(l);
            if let Some(c) = l.attached.borrow()[0].block.counters(id) {
                f(c);
            }
        });
    }

    /// Put this server's block first in the thread's list, creating and registering it on
    /// the thread's first command for this server. Drops blocks of servers that are gone.
    #[cold]
    fn attach(&self, l: &Local) {
        let mut list = l.attached.borrow_mut();
        if let Some(i) = list.iter().position(|a| a.server == self.server) {
            let a = list.remove(i);
            list.insert(0, a);
            return;
        }
        list.retain(|a| a.shared.strong_count() > 0);
        let block = Arc::new(Block::new(self.len));
        self.shared.inner.lock().threads.push(block.clone());
        list.insert(
            0,
            Attached {
                server: self.server,
                shared: Arc::downgrade(&self.shared),
                block,
            },
        );
    }

    /// A command ran for `nanos`; `failed` when it answered an error.
    #[inline]
    pub fn record(&self, id: u32, nanos: u64, failed: bool) {
        self.with_counters(id, |c| {
            bump(&c.calls, 1);
            bump(&c.nanos, nanos);
            bump(&c.hist[bucket_of(nanos)], 1);
            if failed {
                bump(&c.failed, 1);
            }
        });
    }

    /// A command was refused before it ran (NOAUTH, arity, OOM, not allowed in MULTI…).
    pub fn rejected(&self, id: u32) {
        self.with_counters(id, |c| bump(&c.rejected, 1));
    }

    /// CONFIG RESETSTAT: from now on every figure counts from zero.
    pub fn reset(&self) {
        let mut g = self.shared.inner.lock();
        g.baseline = g.raw_totals();
    }

    /// The totals since start (or the last reset) of every command id with at least one
    /// call, failure or rejection.
    pub fn totals(&self) -> BTreeMap<u32, Raw> {
        let g = self.shared.inner.lock();
        let mut t = g.raw_totals();
        for (id, base) in &g.baseline {
            if let Some(r) = t.get_mut(id) {
                r.sub_raw(base);
            }
        }
        t.retain(|_, r| !r.is_zero());
        t
    }

    /// The figures of every command with at least one call, failure or rejection, by name.
    pub fn snapshot(&self, table: &crate::table::CommandTable) -> Vec<CmdFigures> {
        let mut v: Vec<CmdFigures> = self
            .totals()
            .into_iter()
            .filter_map(|(id, raw)| {
                Some(CmdFigures {
                    name: table.stat_spec(id)?.name,
                    raw,
                })
            })
            .collect();
        v.sort_by_key(|f| f.name);
        v
    }

    #[cfg(test)]
    fn live_threads(&self) -> usize {
        self.shared.inner.lock().threads.len()
    }
}

/// One command's figures.
#[derive(Clone, Debug)]
pub struct CmdFigures {
    /// Redis's name: `get`, `client|list`.
    pub name: &'static str,
    pub raw: Raw,
}

impl CmdFigures {
    /// Calls that ran (failed ones included, rejected ones not), as Redis counts `calls`.
    pub fn calls(&self) -> u64 {
        self.raw.calls
    }
    pub fn failed(&self) -> u64 {
        self.raw.failed
    }
    pub fn rejected(&self) -> u64 {
        self.raw.rejected
    }
    /// Time spent running the command, in microseconds.
    pub fn usec(&self) -> u64 {
        self.raw.nanos / 1000
    }
    /// Time spent in seconds (`/metrics`' histogram `_sum`).
    pub fn seconds(&self) -> f64 {
        self.raw.nanos as f64 / 1e9
    }
    /// Mean microseconds per call, 0 before any.
    pub fn usec_per_call(&self) -> f64 {
        if self.raw.calls == 0 {
            0.0
        } else {
            self.raw.nanos as f64 / 1000.0 / self.raw.calls as f64
        }
    }

    /// The `p`th percentile of the latency, in microseconds (0 before any call).
    pub fn percentile_usec(&self, p: f64) -> f64 {
        percentile_ns(&self.raw.hist, p) / 1000.0
    }

    /// The exported buckets: (upper bound in seconds, calls in that bucket — not
    /// cumulative), each of `EXPORT_BOUNDS_NS` then `+Inf` (as `f64::MAX`).
    pub fn export_buckets(&self) -> Vec<(f64, u64)> {
        let mut out = Vec::with_capacity(EXPORT_BOUNDS_NS.len() + 1);
        let mut fine = 0;
        for &b in &EXPORT_BOUNDS_NS {
            let mut n = 0;
            while fine < BOUNDS_NS.len() && BOUNDS_NS[fine] <= b {
                n += self.raw.hist[fine];
                fine += 1;
            }
            out.push((b as f64 / 1e9, n));
        }
        let rest = self.raw.hist[fine..].iter().sum();
        out.push((f64::MAX, rest));
        out
    }

    /// Redis's `cmdstat_<name>` value.
    pub fn info_line(&self) -> String {
        format!(
            "calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
            self.calls(),
            self.usec(),
            self.usec_per_call(),
            self.rejected(),
            self.failed()
        )
    }

    /// Redis's `latency_percentiles_usec_<name>` value, at Redis's default percentiles.
    pub fn latency_line(&self) -> String {
        self.latency_line_at(&INFO_PERCENTILES)
    }

    /// The same at these percentiles (`latency-tracking-info-percentiles`), each named as
    /// Redis names it (`p99.9`, `p12.345679`).
    pub fn latency_line_at(&self, percentiles: &[f64]) -> String {
        let mut s = String::new();
        for &p in percentiles {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(&format!(
                "p{}={:.3}",
                crate::config::fmt_percentile(p),
                self.percentile_usec(p)
            ));
        }
        s
    }
}

/// The `p`th percentile (0–100) of a histogram over `BOUNDS_NS`, in nanoseconds: the bucket
/// holding the rank, interpolated linearly inside it (a bucket's only sample reads as its
/// upper bound). 0 for an empty histogram.
pub fn percentile_ns(hist: &[u64; BUCKETS], p: f64) -> f64 {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((p / 100.0) * total as f64).ceil().clamp(1.0, total as f64) as u64;
    let mut below = 0u64;
    for (i, &n) in hist.iter().enumerate() {
        if n > 0 && below + n >= rank {
            let lo = if i == 0 { 0 } else { BOUNDS_NS[i - 1] } as f64;
            // Past 10 s there is no upper bound: report the bound.
            let hi = BOUNDS_NS.get(i).map_or(lo, |&b| b as f64);
            return lo + (hi - lo) * (rank - below) as f64 / n as f64;
        }
        below += n;
    }
    BOUNDS_NS[BOUNDS_NS.len() - 1] as f64
}

#[cfg(test)]
mod tests;
