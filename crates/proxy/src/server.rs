//! One backend server of a pool: where it is, its health (twemproxy's auto-ejection), its
//! counters (the stats port's per-server fields) and its connections, one set per worker
//! thread.
//!
//! Health follows twemproxy: every failed request or connect counts; `server_failure_limit`
//! consecutive failures with `auto_eject_hosts` eject the server until
//! `server_retry_timeout` has passed, then it is placed again and tried; one success
//! clears the count. The pool rebuilds its continuum when the set of live servers changes
//! (`pool.rs`).

use crate::backend::{BackendError, Handle, Proto};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Where a backend listens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// How connections to the backends of one pool behave. Servers are kept across a reload
/// only when these are equal (a changed password or database needs new connections).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendOpts {
    pub proto: Proto,
    pub auth: Option<String>,
    pub db: u32,
    pub timeout: Option<Duration>,
    /// Connections per server per worker thread (`server_connections`).
    pub connections: usize,
    pub auto_eject: bool,
    pub failure_limit: u32,
    pub retry_timeout: Duration,
}

/// Per-server counters, twemproxy's names (`nc_stats.h`).
#[derive(Default, Debug)]
pub struct ServerStats {
    pub server_eof: AtomicU64,
    pub server_err: AtomicU64,
    pub server_timedout: AtomicU64,
    pub server_connections: AtomicU64,
    pub server_ejected_at: AtomicU64,
    pub requests: AtomicU64,
    pub request_bytes: AtomicU64,
    pub responses: AtomicU64,
    pub response_bytes: AtomicU64,
    /// Requests sent and waiting for their replies, and their bytes.
    pub out_queue: AtomicU64,
    pub out_queue_bytes: AtomicU64,
}

/// A server with its per-worker connections. The connection tasks hold only the `Core`,
/// so dropping the last `Server` (a reload removed it) closes their channels and ends
/// them.
pub struct Server {
    core: Arc<Core>,
    /// Connection handles: `workers × connections`, filled lazily by each worker.
    conns: Box<[Mutex<Option<Handle>>]>,
    /// The same for RESP3 clients (connections opened with HELLO 3, so replies relay
    /// byte for byte in the client's protocol).
    conns3: Box<[Mutex<Option<Handle>>]>,
}

impl std::ops::Deref for Server {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

/// What a server is and how it is doing.
pub struct Core {
    pub endpoint: Endpoint,
    /// The string ketama hashes (the config line's name, else twemproxy's default).
    pub name: String,
    /// How the stats port names it (the name if one was given, else `host:port`).
    pub label: String,
    pub weight: u32,
    pub opts: BackendOpts,
    pub stats: ServerStats,
    /// Consecutive failures.
    failures: AtomicU64,
    /// Milliseconds since the Unix epoch until which it is ejected; 0 when placed.
    ejected_until: AtomicU64,
    /// Bumped on every ejection, so the pool knows to rebuild (shared by its servers).
    pub health_epoch: Arc<AtomicU64>,
    /// Rebalancing found this server unreachable: requests do not look for keys on it
    /// until then (ms since the epoch), so a dead previous server stalls nobody.
    rebalance_skip_until: AtomicU64,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Server {
    pub fn new(
        endpoint: Endpoint,
        name: String,
        label: String,
        weight: u32,
        opts: BackendOpts,
        workers: usize,
        health_epoch: Arc<AtomicU64>,
    ) -> Server {
        let n = workers.max(1) * opts.connections.max(1);
        Server {
            core: Arc::new(Core {
                endpoint,
                name,
                label,
                weight,
                opts,
                stats: ServerStats::default(),
                failures: AtomicU64::new(0),
                ejected_until: AtomicU64::new(0),
                health_epoch,
                rebalance_skip_until: AtomicU64::new(0),
            }),
            conns: (0..n).map(|_| Mutex::new(None)).collect(),
            conns3: (0..n).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// A connection for worker `worker`, spreading requests over its `server_connections`
    /// by `spread` (the client connection's number). Must be called on that worker's
    /// runtime: the connection task runs there.
    pub fn handle(&self, worker: usize, spread: usize) -> Handle {
        self.handle_proto(worker, spread, false)
    }

    /// `handle` for a client speaking RESP3 (`resp3`) or RESP2.
    pub fn handle_proto(&self, worker: usize, spread: usize, resp3: bool) -> Handle {
        let per = self.opts.connections.max(1);
        let i = (worker * per + spread % per) % self.conns.len();
        let mut slot = if resp3 { &self.conns3 } else { &self.conns }[i].lock();
        match &*slot {
            Some(h) if !h.is_closed() => h.clone(),
            _ => {
                let h = Handle::spawn(self.core.clone(), resp3);
                *slot = Some(h.clone());
                h
            }
        }
    }
}

impl Core {
    /// The same backend (address, database, protocol), whatever the object: a reload
    /// rebuilds the object of a server whose weight or options changed.
    pub fn same_backend(&self, other: &Core) -> bool {
        self.endpoint == other.endpoint
            && self.opts.db == other.opts.db
            && self.opts.proto == other.opts.proto
    }

    /// Rebalancing could not reach it: skip it for `for_ms`.
    pub fn rebalance_skip(&self, for_ms: u64) {
        self.rebalance_skip_until.store(now_ms() + for_ms, Relaxed);
    }

    pub fn rebalance_skipped(&self, now: u64) -> bool {
        self.rebalance_skip_until.load(Relaxed) > now
    }

    /// Whether it is placed right now (not ejected, or its retry time came).
    pub fn live(&self, now: u64) -> bool {
        let until = self.ejected_until.load(Relaxed);
        until == 0 || until <= now
    }

    /// Ejected until (ms since the epoch), 0 if not ejected.
    pub fn ejected_until(&self) -> u64 {
        self.ejected_until.load(Relaxed)
    }

    pub fn connected(&self) {
        self.stats.server_connections.fetch_add(1, Relaxed);
    }

    pub fn disconnected(&self) {
        let _ = self
            .stats
            .server_connections
            .fetch_update(Relaxed, Relaxed, |v| v.checked_sub(1));
    }

    /// Requests now waiting for replies (`out_queue`).
    pub fn queued(&self, requests: usize, bytes: usize) {
        self.stats.out_queue.fetch_add(requests as u64, Relaxed);
        self.stats.out_queue_bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// Requests answered or failed.
    pub fn dequeued(&self, requests: usize, bytes: usize) {
        self.stats.out_queue.fetch_sub(requests as u64, Relaxed);
        self.stats.out_queue_bytes.fetch_sub(bytes as u64, Relaxed);
    }

    pub fn sent(&self, requests: usize, bytes: usize) {
        self.stats.requests.fetch_add(requests as u64, Relaxed);
        self.stats.request_bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// Replies arrived: the server works, its failure count starts over.
    pub fn received(&self, responses: usize, bytes: usize) {
        self.stats.responses.fetch_add(responses as u64, Relaxed);
        self.stats.response_bytes.fetch_add(bytes as u64, Relaxed);
        if self.failures.load(Relaxed) != 0 {
            self.failures.store(0, Relaxed);
        }
        if self.ejected_until.load(Relaxed) != 0 {
            // Back after its retry time and answering: placed for good.
            self.ejected_until.store(0, Relaxed);
        }
    }

    pub fn timed_out(&self) {
        self.stats.server_timedout.fetch_add(1, Relaxed);
    }

    /// A connect or a request failed: count it, and eject after `server_failure_limit`
    /// consecutive failures when the pool ejects.
    pub fn failed(&self, e: &BackendError) {
        match e {
            BackendError::Io(_) => self.stats.server_eof.fetch_add(1, Relaxed),
            _ => self.stats.server_err.fetch_add(1, Relaxed),
        };
        let n = self.failures.fetch_add(1, Relaxed) + 1;
        if !self.opts.auto_eject || n < u64::from(self.opts.failure_limit.max(1)) {
            return;
        }
        let now = now_ms();
        let until = now + self.opts.retry_timeout.as_millis() as u64;
        self.failures.store(0, Relaxed);
        let was = self.ejected_until.swap(until, Relaxed);
        self.stats.server_ejected_at.store(now * 1000, Relaxed);
        if was == 0 || was <= now {
            tracing::warn!(
                "server {} ({}) ejected for {:?} after {} failures: {}",
                self.label,
                self.endpoint,
                self.opts.retry_timeout,
                self.opts.failure_limit,
                e.text()
            );
        }
        self.health_epoch.fetch_add(1, Relaxed);
    }
}
