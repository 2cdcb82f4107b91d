//! A pool at run time: its servers and where each key goes.
//!
//! ```text
//!  Pool (stable across reloads: name, counters)
//!   └─ state: Arc<PoolState>   swapped whole by a reload
//!        ├─ servers: [Arc<Server>]          kept across reloads when unchanged
//!        ├─ placement: Continuum             rebuilt when a server is ejected or returns
//!        └─ previous: Option<Previous>       rebalancing: where keys were before the reload
//! ```
//! A key's server is `continuum.pick(hash(tag(key)))`, as twemproxy computes it: the pool's
//! hash function over the key (or the part inside `hash_tag`), looked up on the continuum
//! of the pool's distribution built over the live servers.

use crate::config::PoolConfig;
use crate::dist::{Continuum, DistKind, Member};
use crate::hashkit::HashKind;
use crate::server::{now_ms, Server};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Per-pool counters, twemproxy's names (`nc_stats.h`).
#[derive(Default, Debug)]
pub struct PoolStats {
    pub client_eof: AtomicU64,
    pub client_err: AtomicU64,
    pub client_connections: AtomicU64,
    pub forward_error: AtomicU64,
    pub fragments: AtomicU64,
    /// rcache: keys moved by rebalancing (read fallback and the mover).
    pub rebalance_moved: AtomicU64,
    /// rcache: keys the mover looked at.
    pub rebalance_scanned: AtomicU64,
    /// rcache: requests served from a key's previous server.
    pub rebalance_fallbacks: AtomicU64,
}

/// Read more of a client's requests into `inbuf` (both client loops). False when the client
/// closed the connection or it failed (counted as twemproxy counts them).
pub async fn read_more<S: tokio::io::AsyncRead + Unpin>(
    sock: &mut S,
    inbuf: &mut Vec<u8>,
    stats: &PoolStats,
) -> bool {
    use tokio::io::AsyncReadExt;
    if inbuf.capacity() - inbuf.len() < 4096 {
        inbuf.reserve(16 * 1024);
    }
    match sock.read_buf(inbuf).await {
        Ok(0) => {
            stats.client_eof.fetch_add(1, Relaxed);
            false
        }
        Ok(_) => true,
        Err(_) => {
            stats.client_err.fetch_add(1, Relaxed);
            false
        }
    }
}

/// A configured pool. Client connections hold it; a reload swaps its `state`.
pub struct Pool {
    pub name: String,
    state: RwLock<Arc<PoolState>>,
    pub stats: PoolStats,
    /// Bumped by every ejection of one of its servers (also twemproxy's `server_ejects`);
    /// shared with the servers, kept across reloads.
    pub health_epoch: Arc<AtomicU64>,
}

impl Pool {
    pub fn new(name: String, state: PoolState, health_epoch: Arc<AtomicU64>) -> Pool {
        Pool {
            name,
            state: RwLock::new(Arc::new(state)),
            stats: PoolStats::default(),
            health_epoch,
        }
    }

    /// The state requests are routed by now.
    pub fn state(&self) -> Arc<PoolState> {
        self.state.read().clone()
    }

    pub fn set_state(&self, s: PoolState) {
        *self.state.write() = Arc::new(s);
    }
}

/// One earlier placement: the servers and continuum keys were placed by.
pub struct Source {
    pub servers: Vec<Arc<Server>>,
    /// Over every configured server, ejected or not: where keys were written when all
    /// were up (an ejected server's keys are still on it).
    pub continuum: Continuum,
    /// The hash and tag keys were placed with (a reload may change them).
    pub hash: HashKind,
    pub tag: Option<[u8; 2]>,
}

/// Where keys were placed before reloads changed placement (newest first; a reload during
/// an unfinished move keeps the older ones): requests look there and the mover drains them.
pub struct Previous {
    pub sources: Vec<Source>,
    /// Set when the mover has visited every key of every source: requests stop looking.
    pub done: AtomicBool,
}

/// One version of a pool's configuration with its live placement.
pub struct PoolState {
    pub cfg: PoolConfig,
    pub hash: HashKind,
    pub dist: DistKind,
    pub servers: Vec<Arc<Server>>,
    placement: RwLock<Continuum>,
    /// The continuum over every configured server (ejection ignored): where keys belong.
    /// Rebalancing moves keys only to their configured server.
    configured: Continuum,
    /// The servers' shared health epoch, and the value the placement was built at.
    health_epoch: Arc<AtomicU64>,
    built_at: AtomicU64,
    /// When an ejected server's retry time comes (ms since the epoch; u64::MAX: none).
    next_return: AtomicU64,
    pub previous: Option<Arc<Previous>>,
    /// Cluster pools: the cluster's slot map (placement by slot instead of the continuum).
    pub cluster: Option<Arc<crate::cluster::SlotMap>>,
}

/// No server can take the key: every server is ejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoServer;

/// The bytes of `key` that are hashed: the part between the first `tag[0]` and the next
/// `tag[1]` after it when there is one and it is not empty (twemproxy), else the key.
pub fn hashed_part(key: &[u8], tag: Option<[u8; 2]>) -> &[u8] {
    let Some([open, close]) = tag else {
        return key;
    };
    let Some(a) = memchr::memchr(open, key) else {
        return key;
    };
    match memchr::memchr(close, &key[a + 1..]) {
        Some(b) if b > 0 => &key[a + 1..a + 1 + b],
        _ => key,
    }
}

impl PoolState {
    pub fn new(
        cfg: PoolConfig,
        servers: Vec<Arc<Server>>,
        health_epoch: Arc<AtomicU64>,
        previous: Option<Arc<Previous>>,
        cluster: Option<Arc<crate::cluster::SlotMap>>,
    ) -> PoolState {
        let hash = HashKind::from_name(&cfg.hash).unwrap_or(HashKind::Fnv1a_64);
        let dist = DistKind::from_name(&cfg.distribution).unwrap_or(DistKind::Ketama);
        let s = PoolState {
            hash,
            dist,
            placement: RwLock::new(Continuum::build(dist, &[])),
            configured: {
                let members: Vec<Member> = servers
                    .iter()
                    .map(|s| Member {
                        name: s.name.as_bytes(),
                        weight: s.weight,
                        live: true,
                    })
                    .collect();
                Continuum::build(dist, &members)
            },
            built_at: AtomicU64::new(u64::MAX),
            next_return: AtomicU64::new(u64::MAX),
            health_epoch,
            servers,
            previous,
            cluster,
            cfg,
        };
        s.rebuild(now_ms());
        s
    }

    /// Build the continuum over the servers live at `now`.
    fn rebuild(&self, now: u64) {
        let epoch = self.health_epoch.load(Relaxed);
        let members: Vec<Member> = self
            .servers
            .iter()
            .map(|s| Member {
                name: s.name.as_bytes(),
                weight: s.weight,
                live: s.live(now),
            })
            .collect();
        let next = self
            .servers
            .iter()
            .map(|s| s.ejected_until())
            .filter(|&u| u > now)
            .min()
            .unwrap_or(u64::MAX);
        *self.placement.write() = Continuum::build(self.dist, &members);
        self.next_return.store(next, Relaxed);
        self.built_at.store(epoch, Relaxed);
    }

    /// The server that holds `key` now, and its group: requests for keys of one group may
    /// go as one command (the server's index in a continuum pool; the slot in a cluster
    /// pool, where a command's keys must share a slot).
    pub fn locate(&self, key: &[u8]) -> Result<(Arc<Server>, u32), NoServer> {
        match &self.cluster {
            Some(map) => {
                let slot = crate::cluster::slot_of(key);
                map.node_for(slot)
                    .map(|s| (s, u32::from(slot)))
                    .ok_or(NoServer)
            }
            None => self.route(key).map(|i| (self.servers[i].clone(), i as u32)),
        }
    }

    /// Every server requests may go to (a cluster pool's nodes as discovered).
    pub fn all_servers(&self) -> Vec<Arc<Server>> {
        match &self.cluster {
            Some(map) => map.nodes(),
            None => self.servers.clone(),
        }
    }

    /// The index of the server that holds `key` now. Per request: no allocation, no
    /// reference count touched, a read lock held for the lookup only.
    pub fn route(&self, key: &[u8]) -> Result<usize, NoServer> {
        self.rebuild_if_stale();
        self.placement
            .read()
            .pick_key(self.hash, hashed_part(key, self.cfg.hash_tag))
            .ok_or(NoServer)
    }

    /// Rebuild the live continuum if a server was ejected or its retry time came.
    fn rebuild_if_stale(&self) {
        if self.health_epoch.load(Relaxed) != self.built_at.load(Relaxed)
            || self.next_return.load(Relaxed) <= now_ms()
        {
            self.rebuild(now_ms());
        }
    }

    /// Where `key` may still be, while a rebalance is under way: its server in each earlier
    /// placement, when that differs from its server `now` (newest placement first).
    /// Empty when the key is not served by its configured server right now (that server
    /// is ejected: the request goes to a stand-in, and moving the key there would strand it
    /// when the server returns), and servers the mover found unreachable are skipped for a
    /// while (`Core::rebalance_skip`). Servers are compared by address and database, never
    /// by object: a reload may rebuild the object of an unchanged backend.
    pub fn previous_for(&self, key: &[u8], now: usize) -> Vec<Arc<Server>> {
        let Some(prev) = self.previous.as_ref() else {
            return Vec::new();
        };
        if prev.done.load(Relaxed) {
            return Vec::new();
        }
        let here = &self.servers[now];
        let configured = self
            .configured
            .pick_key(self.hash, hashed_part(key, self.cfg.hash_tag));
        if configured != Some(now) {
            return Vec::new();
        }
        let t = now_ms();
        let mut v: Vec<Arc<Server>> = Vec::new();
        for src in &prev.sources {
            let Some(i) = src.continuum.pick_key(src.hash, hashed_part(key, src.tag)) else {
                continue;
            };
            let old = &src.servers[i];
            if !old.same_backend(here)
                && !old.rebalance_skipped(t)
                && !v.iter().any(|s| s.same_backend(old))
            {
                v.push(old.clone());
            }
        }
        v
    }

    /// Where `key` belongs by configuration (ejection ignored), for the mover.
    pub fn configured_server(&self, key: &[u8]) -> Option<&Arc<Server>> {
        self.configured
            .pick_key(self.hash, hashed_part(key, self.cfg.hash_tag))
            .map(|i| &self.servers[i])
    }

    /// The placement as configured now, as a source for the next reload's rebalancing.
    pub fn as_source(&self) -> Source {
        Source {
            servers: self.servers.clone(),
            continuum: self.configured.clone(),
            hash: self.hash,
            tag: self.cfg.hash_tag,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hashed_part;

    #[test]
    fn hash_tag_takes_the_part_between_the_braces() {
        let t = Some(*b"{}");
        assert_eq!(hashed_part(b"user:{42}:name", t), b"42");
        assert_eq!(hashed_part(b"{a}{b}", t), b"a");
        assert_eq!(hashed_part(b"no-tag", t), b"no-tag");
        assert_eq!(hashed_part(b"open{only", t), b"open{only");
        assert_eq!(hashed_part(b"empty{}tag", t), b"empty{}tag");
        assert_eq!(hashed_part(b"x{y}", None), b"x{y}");
        assert_eq!(hashed_part(b"a:b:c", Some(*b"::")), b"b");
    }
}
