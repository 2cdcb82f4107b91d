//! I/O threads and the connection balancer.
//!
//! Every connection starts on I/O thread 0 (the one that accepts). Each I/O thread is a
//! current-thread tokio runtime, so a connection's requests run without cross-thread
//! wake-ups. The balancer moves connections to other I/O threads **only while the machine
//! has idle CPU** (read from /proc/stat every 100 ms): when clients and other processes
//! already keep every core busy, spreading connections over more threads only makes the
//! threads fight them for cores (measured: redis-benchmark with 100 plain connections on
//! the same 2-core box lost 18% that way); when a core is idle — pipelining clients, or
//! clients on other machines — it is put to work. A connection moves between two batches,
//! with its buffers, parser and session (`Handoff`).

use bytes::BytesMut;
use commands::clients::Session;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// What an I/O thread receives from the others.
pub enum Inbound {
    /// A connection of the shared loop moving here (`conn::drive`).
    Moved(Box<Handoff>),
    /// A freshly accepted HTTP connection to serve here (`http::serve`): HTTP connections
    /// are spread over the threads at accept, round-robin, and never move afterwards.
    Http(std::net::TcpStream, std::net::SocketAddr),
}

/// A connection in flight between I/O threads.
pub struct Handoff {
    pub sock: std::net::TcpStream,
    pub rbuf: BytesMut,
    /// The door's codec and its parse state.
    pub codec: crate::door::AnyCodec,
    pub sess: Session,
    /// Placed as a pipelining connection (counted in its thread's `pipelined`).
    pub placed: bool,
}

#[derive(Default)]
struct PerThread {
    conns: AtomicUsize,
    /// Pipelining connections placed on this thread.
    pipelined: AtomicUsize,
    /// Connections this thread should hand to `target`.
    quota: AtomicUsize,
    target: AtomicUsize,
}

pub struct IoThreads {
    threads: Vec<PerThread>,
    senders: Vec<UnboundedSender<Inbound>>,
    /// Whether the balancer lets connections move now.
    spread: std::sync::atomic::AtomicBool,
    /// The thread the next HTTP connection goes to (round-robin).
    next_rr: AtomicUsize,
}

/// Request/response connections spread when nearly a whole core stays idle. Request/response connections
/// are cheapest batched on one event loop: spread over two threads on a machine whose other
/// core is busy with the clients themselves, they lost 18% (redis-benchmark -c 100, 2 cores),
/// while the idle share under that load swings between 0 and 45% from one 100 ms sample to
/// the next.
const IDLE_TO_SPREAD_ANY: f64 = 0.40;
/// A connection counts as pipelining when one read carried at least this many commands.
pub const PIPELINED_BATCH: u64 = 4;

impl IoThreads {
    pub fn new(n: usize) -> (IoThreads, Vec<UnboundedReceiver<Inbound>>) {
        let mut senders = Vec::with_capacity(n);
        let mut receivers = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            senders.push(tx);
            receivers.push(rx);
        }
        let threads = (0..n).map(|_| PerThread::default()).collect();
        (
            IoThreads {
                threads,
                senders,
                spread: std::sync::atomic::AtomicBool::new(false),
                next_rr: AtomicUsize::new(0),
            },
            receivers,
        )
    }

    pub fn len(&self) -> usize {
        self.threads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    pub fn conn_started(&self, t: usize) {
        self.threads[t].conns.fetch_add(1, Relaxed);
    }

    pub fn conn_left(&self, t: usize) {
        self.threads[t].conns.fetch_sub(1, Relaxed);
    }

    /// Count (`+1`) or uncount (`-1`) a pipelining connection on thread `t`.
    pub fn pipelined_add(&self, t: usize, delta: isize) {
        if delta > 0 {
            self.threads[t].pipelined.fetch_add(1, Relaxed);
        } else {
            self.threads[t].pipelined.fetch_sub(1, Relaxed);
        }
    }

    /// A connection on thread `t` just sent its first pipelined batch: the thread with the
    /// fewest pipelining connections, if not `t`. Pipelining connections carry many commands
    /// per wake-up, so spreading them over cores pays even on a machine whose clients share
    /// the cores (measured: redis-benchmark -P 16 on 2 cores, 1.0x Redis on one I/O thread,
    /// 1.3-1.4x spread over two); placing them at once matters because the balancer below
    /// needs a few hundred ms to see a trend.
    /// Returns the chosen thread (possibly `t`), already counted there.
    pub fn place_pipelined(&self, t: usize) -> usize {
        let counts = self.threads.iter().map(|th| th.pipelined.load(Relaxed));
        let best = counts
            .enumerate()
            .min_by_key(|(i, c)| (*c, *i != t))
            .map_or(t, |(i, _)| i);
        self.pipelined_add(best, 1);
        best
    }

    /// Called by a connection on thread `t` between batches: the thread to move to, if the
    /// balancer asked this thread to give up a connection.
    #[inline]
    pub fn take_migration(&self, t: usize) -> Option<usize> {
        let th = &self.threads[t];
        if th.quota.load(Relaxed) == 0 || !self.spread.load(Relaxed) {
            return None;
        }
        th.quota
            .fetch_update(Relaxed, Relaxed, |q| q.checked_sub(1))
            .ok()?;
        let to = th.target.load(Relaxed);
        (to != t && to < self.threads.len()).then_some(to)
    }

    /// Send a connection to thread `to`; false if that thread is gone (shutdown), and the
    /// connection is dropped (closed).
    pub fn send(&self, to: usize, h: Handoff) -> bool {
        self.senders[to].send(Inbound::Moved(Box::new(h))).is_ok()
    }

    /// Whether `door`'s connections are dealt round-robin over the I/O threads at accept
    /// (`next_round_robin`) and then stay put, instead of starting on the accepting thread
    /// and following the balancer.
    pub fn dealt_at_accept(door: commands::Door) -> bool {
        matches!(door, commands::Door::Http | commands::Door::Memcache)
    }

    /// The thread that serves the next connection dealt round-robin at accept: HTTP (its
    /// requests cost more CPU than RESP's: headers, responses) and memcached (as memcached
    /// deals connections to its workers; measured in `conn::serve`), rather than waiting for
    /// the balancer.
    pub fn next_round_robin(&self) -> usize {
        self.next_rr.fetch_add(1, Relaxed) % self.threads.len()
    }

    /// Send a freshly accepted HTTP connection to thread `to`; false if that thread is gone.
    pub fn send_http(
        &self,
        to: usize,
        sock: std::net::TcpStream,
        peer: std::net::SocketAddr,
    ) -> bool {
        self.senders[to].send(Inbound::Http(sock, peer)).is_ok()
    }

    /// One balancing decision: with enough idle CPU, ask the busiest thread to move half
    /// the difference in connections to the least busy one.
    /// `idle_share` is the idle share sustained over the last samples (0 when not sustained).
    pub fn rebalance(&self, idle_share: f64) {
        let spread = idle_share >= IDLE_TO_SPREAD_ANY;
        self.spread.store(spread, Relaxed);
        if self.threads.len() < 2 || !spread {
            for t in &self.threads {
                t.quota.store(0, Relaxed);
            }
            return;
        }
        let counts: Vec<usize> = self.threads.iter().map(|t| t.conns.load(Relaxed)).collect();
        let (hi, &max) = counts
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .expect("threads");
        let (lo, &min) = counts
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| **c)
            .expect("threads");
        if max >= min + 2 {
            tracing::debug!(
                from = hi,
                to = lo,
                idle_share,
                "moving {} connection(s) to an idle core",
                (max - min) / 2
            );
            self.threads[hi].target.store(lo, Relaxed);
            self.threads[hi].quota.store((max - min) / 2, Relaxed);
        }
    }
}

/// Share of all CPU time that was idle between two /proc/stat readings.
pub struct CpuIdle {
    last: Option<(u64, u64)>,
}

impl CpuIdle {
    pub fn new() -> CpuIdle {
        CpuIdle {
            last: read_proc_stat(),
        }
    }

    /// Idle share since the previous call (1.0 when /proc/stat is unreadable, so a machine
    /// without it still spreads connections).
    pub fn sample(&mut self) -> f64 {
        let now = read_proc_stat();
        let share = match (self.last, now) {
            (Some((i0, t0)), Some((i1, t1))) if t1 > t0 => {
                (i1.saturating_sub(i0)) as f64 / (t1 - t0) as f64
            }
            _ => 1.0,
        };
        self.last = now;
        share
    }
}

impl Default for CpuIdle {
    fn default() -> Self {
        Self::new()
    }
}

/// (idle + iowait, total) jiffies from the first line of /proc/stat. One read of 512 bytes
/// covers that line: `read_to_string` would read the whole file (per-CPU lines, interrupt
/// counts) in growing chunks, seven syscalls every 100 ms.
fn read_proc_stat() -> Option<(u64, u64)> {
    use std::io::Read;
    let mut buf = [0u8; 512];
    let n = std::fs::File::open("/proc/stat")
        .ok()?
        .read(&mut buf)
        .ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    // A first line cut by the buffer would lose fields: only a complete one counts.
    let line = text.split_once('\n')?.0;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    Some((v[3] + v[4], v.iter().sum()))
}

/// Idle CPU must last this many consecutive 100 ms samples before connections spread (the
/// least idle share of the streak decides which connections may move): the
/// moment a client opens its connections leaves a brief idle blip (measured: one sample of
/// 20% idle, then 0-5%, for redis-benchmark with 100 plain connections on 2 cores), and
/// connections spread for a blip would never come back.
const IDLE_STREAK: u32 = 3;

/// A sample counts towards the streak only under real traffic (commands in 100 ms): a
/// machine idle because clients are between runs says nothing about how they will load it.
const BUSY_COMMANDS: u64 = 1000;

/// The balancer task (runs on I/O thread 0). `commands` reads the server's total of
/// commands processed.
pub async fn balance(io: std::sync::Arc<IoThreads>, commands: impl Fn() -> u64) {
    let mut idle = CpuIdle::new();
    let mut recent = [0.0f64; IDLE_STREAK as usize];
    let mut last = commands();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let share = idle.sample();
        let now = commands();
        let busy = now.saturating_sub(last) >= BUSY_COMMANDS;
        last = now;
        recent.rotate_left(1);
        recent[IDLE_STREAK as usize - 1] = if busy { share } else { 0.0 };
        let sustained = recent.iter().copied().fold(f64::INFINITY, f64::min);
        tracing::trace!(share, busy, sustained, "balancer sample");
        io.rebalance(sustained);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_only_with_idle_cpu() {
        let (io, _rx) = IoThreads::new(2);
        for _ in 0..10 {
            io.conn_started(0);
        }
        io.rebalance(0.05);
        assert_eq!(io.take_migration(0), None, "busy machine: stay put");
        io.rebalance(0.2);
        assert_eq!(
            io.take_migration(0),
            None,
            "some idle: request/response stays"
        );
        io.rebalance(0.5);
        let moved = std::iter::from_fn(|| io.take_migration(0)).count();
        assert_eq!(moved, 5, "a core idle: half the difference moves");
        assert_eq!(io.take_migration(1), None);
    }

    #[test]
    fn pipelining_connections_are_placed_evenly() {
        let (io, _rx) = IoThreads::new(2);
        let mut on = [0usize; 2];
        for _ in 0..10 {
            on[io.place_pipelined(0)] += 1;
        }
        assert_eq!(on, [5, 5]);
    }

    #[test]
    fn http_connections_go_round_robin() {
        let (io, _rx) = IoThreads::new(3);
        let picks: Vec<usize> = (0..6).map(|_| io.next_round_robin()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn proc_stat_is_readable_here() {
        let mut c = CpuIdle::new();
        let s = c.sample();
        assert!((0.0..=1.0).contains(&s));
        #[cfg(target_os = "linux")]
        {
            let (idle, total) = read_proc_stat().expect("the cpu line of /proc/stat");
            assert!(total > 0 && idle <= total, "{idle} {total}");
        }
    }
}
