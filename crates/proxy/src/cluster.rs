//! Cluster pools (`cluster: true`): the backends are a Redis Cluster (real Redis or an
//! rcache cluster) and the proxy follows its slot map, so plain clients that do not speak
//! the cluster protocol can use it and growing the cluster needs no proxy change.
//!
//! ```text
//!  key ─► slot (CRC16 of the key or its {tag}, mod 16384) ─► the slot's node (slot map)
//!  slot map: CLUSTER SLOTS from any known node (the seeds first), on start, after a MOVED,
//!            and every REFRESH while the pool is used
//!  reply -MOVED <slot> <host:port> ─► re-send to that node, refresh the map
//!  reply -ASK <slot> <host:port>   ─► ASKING + the request to that node (the map stays)
//! ```
//! Nodes are `Server`s like any pool's (pipelined connections per worker, counters, errors),
//! created as the map names them.

use crate::backend::BackendError;
use crate::server::{BackendOpts, Endpoint, Server};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

pub const SLOTS: usize = 16384;
/// No node known for the slot: the request goes to a seed, which answers MOVED.
const UNKNOWN: u16 = u16::MAX;
/// How often the map is refreshed while requests flow, besides after a MOVED (ms).
const REFRESH_MS: u64 = 5_000;
/// Redirections followed for one request before answering the last one to the client.
pub const MAX_REDIRECTS: usize = 5;

/// A cluster pool's view of the cluster.
pub struct SlotMap {
    opts: BackendOpts,
    slots_per_server: usize,
    health: Arc<AtomicU64>,
    /// Every node seen (seeds first); indices are stable.
    nodes: RwLock<Vec<Arc<Server>>>,
    /// Node index per slot.
    table: RwLock<Box<[u16]>>,
    refreshing: AtomicBool,
    last_refresh: AtomicU64,
    /// A map has been installed at least once.
    loaded: AtomicBool,
}

/// The slot of a key, as Redis Cluster computes it.
pub fn slot_of(key: &[u8]) -> u16 {
    storage::key_slot(key)
}

impl SlotMap {
    pub fn new(
        seeds: Vec<Arc<Server>>,
        opts: BackendOpts,
        slots_per_server: usize,
        health: Arc<AtomicU64>,
    ) -> SlotMap {
        SlotMap {
            opts,
            slots_per_server,
            health,
            nodes: RwLock::new(seeds),
            table: RwLock::new(vec![UNKNOWN; SLOTS].into_boxed_slice()),
            refreshing: AtomicBool::new(false),
            last_refresh: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
        }
    }

    /// Whether this map was built for these seeds and connection options (a reload that
    /// changes neither keeps the map it has).
    pub fn same_seeds(&self, seeds: &[Arc<Server>], opts: &BackendOpts) -> bool {
        let nodes = self.nodes.read();
        self.opts == *opts
            && seeds.len() <= nodes.len()
            && seeds
                .iter()
                .zip(nodes.iter())
                .all(|(a, b)| a.endpoint == b.endpoint)
    }

    /// Before the first request of a new pool: fetch the map (trying every seed in turn, so
    /// a dead first seed costs no error), or wait a moment for the task already fetching
    /// it. Bounded: without an answer requests go to a seed and follow its MOVED.
    pub async fn ensure_loaded(&self, worker: usize) {
        if self.loaded.load(Relaxed) {
            return;
        }
        if !self.refreshing.swap(true, Relaxed) {
            self.refresh(worker).await;
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while !self.loaded.load(Relaxed) && self.refreshing.load(Relaxed) {
            if std::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// The node serving `slot` (while the map does not know it, the first node not
    /// ejected, which answers MOVED).
    pub fn node_for(&self, slot: u16) -> Option<Arc<Server>> {
        let i = self.table.read()[slot as usize];
        let nodes = self.nodes.read();
        if i == UNKNOWN {
            let now = crate::server::now_ms();
            return nodes
                .iter()
                .find(|n| n.live(now))
                .or(nodes.first())
                .cloned();
        }
        nodes.get(i as usize).cloned()
    }

    /// Every node seen so far (stats).
    pub fn nodes(&self) -> Vec<Arc<Server>> {
        self.nodes.read().clone()
    }

    /// The node at `host:port`, created when new.
    pub fn node_at(&self, addr: &str) -> Option<Arc<Server>> {
        let (host, port) = addr.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Some(self.intern(&host, port).1)
    }

    fn intern(&self, host: &str, port: u16) -> (u16, Arc<Server>) {
        let ep = Endpoint::Tcp {
            host: host.to_string(),
            port,
        };
        if let Some(i) = self.nodes.read().iter().position(|n| n.endpoint == ep) {
            return (i as u16, self.nodes.read()[i].clone());
        }
        let mut nodes = self.nodes.write();
        if let Some(i) = nodes.iter().position(|n| n.endpoint == ep) {
            return (i as u16, nodes[i].clone());
        }
        let label = ep.to_string();
        let s = Arc::new(Server::new(
            ep,
            label.clone(),
            label,
            1,
            self.opts.clone(),
            self.slots_per_server,
            self.health.clone(),
        ));
        nodes.push(s.clone());
        ((nodes.len() - 1) as u16, s)
    }

    /// Whether a periodic refresh is due (and claim it).
    pub fn refresh_due(&self) -> bool {
        let now = crate::server::now_ms();
        now.saturating_sub(self.last_refresh.load(Relaxed)) >= REFRESH_MS
            && !self.refreshing.swap(true, Relaxed)
    }

    /// Claim a refresh after a MOVED (at most one at a time, and not more than every 100 ms).
    pub fn claim_refresh(&self) -> bool {
        let now = crate::server::now_ms();
        now.saturating_sub(self.last_refresh.load(Relaxed)) >= 100
            && !self.refreshing.swap(true, Relaxed)
    }

    /// Ask the nodes for CLUSTER SLOTS until one answers, and install the map. Call after
    /// claiming (`refresh_due` / `claim_refresh`); runs on a worker (`worker` picks its
    /// connections).
    pub async fn refresh(&self, worker: usize) {
        let mut bytes = Vec::new();
        protocol::resp::encode_request(&[b"CLUSTER".as_slice(), b"SLOTS"], &mut bytes);
        let nodes = self.nodes();
        let mut done = false;
        for n in nodes {
            let r = n
                .handle(worker, 0)
                .send(bytes.clone(), 1, 1)
                .await
                .unwrap_or_else(|_| Err(BackendError::Io("stopped".into())));
            let Ok(r) = r else { continue };
            if let Some(ranges) = parse_slots(r.get(0)) {
                let mut table = vec![UNKNOWN; SLOTS].into_boxed_slice();
                for (a, b, host, port) in ranges {
                    let (i, _) = self.intern(&host, port);
                    for s in a..=b.min(SLOTS as u16 - 1) {
                        table[s as usize] = i;
                    }
                }
                *self.table.write() = table;
                self.loaded.store(true, Relaxed);
                done = true;
                break;
            }
        }
        if !done {
            tracing::warn!("cluster pool: no node answered CLUSTER SLOTS; keeping the last map");
        }
        self.last_refresh.store(crate::server::now_ms(), Relaxed);
        self.refreshing.store(false, Relaxed);
    }
}

/// A redirection in a reply: (ASK rather than MOVED, the node's address).
pub fn redirect(reply: &[u8]) -> Option<(bool, String)> {
    let ask = if reply.starts_with(b"-MOVED ") {
        false
    } else if reply.starts_with(b"-ASK ") {
        true
    } else {
        return None;
    };
    let line = std::str::from_utf8(reply).ok()?.trim_end();
    let addr = line.split_whitespace().nth(2)?;
    Some((ask, addr.to_string()))
}

/// CLUSTER SLOTS: (first slot, last slot, master host, master port) per range.
fn parse_slots(r: &[u8]) -> Option<Vec<(u16, u16, String, u16)>> {
    let (v, _) = protocol::parse_reply(r).ok()?;
    let protocol::RespValue::Array(ranges) = v else {
        return None;
    };
    let mut out = Vec::new();
    for range in ranges {
        let protocol::RespValue::Array(f) = range else {
            return None;
        };
        let (Some(protocol::RespValue::Int(a)), Some(protocol::RespValue::Int(b))) =
            (f.first(), f.get(1))
        else {
            return None;
        };
        let Some(protocol::RespValue::Array(master)) = f.get(2) else {
            return None;
        };
        let host = match master.first() {
            Some(protocol::RespValue::Bulk(h)) => String::from_utf8_lossy(h).into_owned(),
            _ => return None,
        };
        let port = match master.get(1) {
            Some(protocol::RespValue::Int(p)) => u16::try_from(*p).ok()?,
            _ => return None,
        };
        out.push((u16::try_from(*a).ok()?, u16::try_from(*b).ok()?, host, port));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_and_slot_maps_are_read() {
        assert_eq!(
            redirect(b"-MOVED 3999 127.0.0.1:6381\r\n"),
            Some((false, "127.0.0.1:6381".into()))
        );
        assert_eq!(
            redirect(b"-ASK 3999 10.0.0.2:7000\r\n"),
            Some((true, "10.0.0.2:7000".into()))
        );
        assert_eq!(redirect(b"-ERR x\r\n"), None);
        assert_eq!(redirect(b"$3\r\nabc\r\n"), None);
        let r = b"*2\r\n*3\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n*4\r\n:5461\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n";
        let v = parse_slots(r).unwrap();
        assert_eq!(v[0], (0, 5460, "127.0.0.1".into(), 7000));
        assert_eq!(v[1], (5461, 16383, "127.0.0.1".into(), 7001));
        assert_eq!(
            parse_slots(b"-ERR This instance has cluster support disabled\r\n"),
            None
        );
        assert_eq!(slot_of(b"foo"), 12182);
        assert_eq!(slot_of(b"{user1000}.following"), slot_of(b"user1000"));
    }
}
