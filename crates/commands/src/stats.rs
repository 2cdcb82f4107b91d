//! One snapshot of the server's figures, shared by every door that reports them: HTTP's
//! `/v1/stats` (JSON) and `/metrics` (Prometheus), and the binary protocol's STATUS. Names
//! are fixed here once, so the doors cannot drift apart.

use crate::{Door, ServerState};
use std::sync::atomic::Ordering::Relaxed;

/// A figure's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    /// A count or size.
    Int(u64),
    /// A ratio or a rate.
    Float(f64),
}

/// Whether a figure only grows (a Prometheus counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One named figure with its help text.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub value: Figure,
}

/// Connections through one door.
#[derive(Debug, Clone, Copy)]
pub struct DoorFigures {
    pub door: Door,
    /// Open now.
    pub connected: u64,
    /// Accepted since start (or CONFIG RESETSTAT).
    pub received: u64,
}

/// Everything the stats endpoints report, read at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub figures: Vec<Stat>,
    pub doors: Vec<DoorFigures>,
}

/// Read the server's figures now. Costs one lock of each keyspace shard (as INFO does).
pub fn snapshot(srv: &ServerState) -> Snapshot {
    let ks = srv.ks.stats();
    let lookups = ks.hits + ks.misses;
    let hit_ratio = if lookups == 0 {
        0.0
    } else {
        ks.hits as f64 / lookups as f64
    };
    let s = &srv.stats;
    use Figure::{Float, Int};
    use Kind::{Counter, Gauge};
    let stat = |name, kind, help, value| Stat {
        name,
        kind,
        help,
        value,
    };
    let figures = vec![
        stat("keys", Gauge, "Keys in all databases", Int(ks.keys)),
        stat("expiring_keys", Gauge, "Keys with a TTL", Int(ks.expires)),
        stat(
            "used_memory_bytes",
            Gauge,
            "Memory used by the dataset, as maxmemory counts it",
            Int(ks.used_memory),
        ),
        stat(
            "maxmemory_bytes",
            Gauge,
            "The memory limit (0 = none)",
            Int(srv.settings.evict.maxmemory()),
        ),
        stat("key_bytes", Gauge, "Bytes of all keys", Int(ks.key_bytes)),
        stat(
            "value_bytes",
            Gauge,
            "Bytes of all values",
            Int(ks.value_bytes),
        ),
        stat(
            "hits",
            Counter,
            "Key lookups that found the key",
            Int(ks.hits),
        ),
        stat(
            "misses",
            Counter,
            "Key lookups that found nothing",
            Int(ks.misses),
        ),
        stat(
            "hit_ratio",
            Gauge,
            "hits / (hits + misses), 0 before any lookup",
            Float(hit_ratio),
        ),
        stat(
            "evictions",
            Counter,
            "Keys evicted by maxmemory",
            Int(ks.evicted),
        ),
        stat(
            "expirations",
            Counter,
            "Keys removed because their TTL passed",
            Int(ks.expired),
        ),
        stat(
            "commands_processed",
            Counter,
            "Commands run through every door",
            Int(s.total_commands_processed.get()),
        ),
        stat(
            "ops_per_sec",
            Gauge,
            "Commands per second, sampled by the server's cron",
            Int(s.instantaneous_ops_per_sec.load(Relaxed)),
        ),
        stat(
            "connections",
            Gauge,
            "Open client connections, every door",
            Int(srv
                .stats
                .doors
                .connected
                .iter()
                .map(|c| c.load(Relaxed))
                .sum()),
        ),
        stat(
            "uptime_seconds",
            Gauge,
            "Seconds since the server started",
            Int(srv.started.elapsed().as_secs()),
        ),
    ];
    let doors = Door::ALL
        .iter()
        .map(|&door| DoorFigures {
            door,
            connected: s.doors.connected(door),
            received: s.doors.received(door),
        })
        .collect();
    Snapshot { figures, doors }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCtx;

    #[test]
    fn snapshot_counts_keys_hits_and_misses() {
        let t = TestCtx::new();
        t.run(&["SET", "a", "1"]);
        t.run(&["SET", "b", "22", "EX", "100"]);
        t.run(&["GET", "a"]);
        t.run(&["GET", "nope"]);
        let snap = snapshot(&t.srv);
        let get = |n: &str| {
            snap.figures
                .iter()
                .find(|s| s.name == n)
                .unwrap_or_else(|| panic!("no figure {n}"))
                .value
        };
        assert_eq!(get("keys"), Figure::Int(2));
        assert_eq!(get("expiring_keys"), Figure::Int(1));
        assert_eq!(get("hits"), Figure::Int(1));
        assert_eq!(get("misses"), Figure::Int(1));
        assert_eq!(get("hit_ratio"), Figure::Float(0.5));
        assert_eq!(get("key_bytes"), Figure::Int(2));
        assert_eq!(get("value_bytes"), Figure::Int(3));
        assert_eq!(snap.doors.len(), 4);
    }
}

/// memcached's own counters, reported by the memcached door's `stats` under memcached's
/// names. Split per thread like `ShardedCounter` (one lookup of the thread's slot, then
/// that thread's own cache lines), since every get and set counts.
#[derive(Default)]
pub struct MemcacheStats {
    parts: [McPart; 16],
    /// A pending delayed `flush_all`: absolute ms, 0 = none.
    pub flush_at: std::sync::atomic::AtomicU64,
}

#[repr(align(128))]
#[derive(Default)]
struct McPart([std::sync::atomic::AtomicU64; Mc::COUNT]);

/// One memcached counter; `Mc::NAMES` holds the names `stats` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Mc {
    CmdGet,
    CmdSet,
    CmdFlush,
    CmdTouch,
    CmdMeta,
    GetHits,
    GetMisses,
    GetExpired,
    DeleteMisses,
    DeleteHits,
    IncrMisses,
    IncrHits,
    DecrMisses,
    DecrHits,
    CasMisses,
    CasHits,
    CasBadval,
    TouchHits,
    TouchMisses,
    StoreTooLarge,
    StoreNoMemory,
    AuthCmds,
    AuthErrors,
    TotalItems,
}

impl Mc {
    pub const COUNT: usize = 24;
    /// In `Mc` order: memcached's field names.
    pub const NAMES: [&'static str; Mc::COUNT] = [
        "cmd_get",
        "cmd_set",
        "cmd_flush",
        "cmd_touch",
        "cmd_meta",
        "get_hits",
        "get_misses",
        "get_expired",
        "delete_misses",
        "delete_hits",
        "incr_misses",
        "incr_hits",
        "decr_misses",
        "decr_hits",
        "cas_misses",
        "cas_hits",
        "cas_badval",
        "touch_hits",
        "touch_misses",
        "store_too_large",
        "store_no_memory",
        "auth_cmds",
        "auth_errors",
        "total_items",
    ];
}

impl MemcacheStats {
    #[inline]
    pub fn add(&self, c: Mc, n: u64) {
        let i = crate::COUNTER_SLOT.with(|s| *s);
        self.parts[i].0[c as usize].fetch_add(n, Relaxed);
    }
    #[inline]
    pub fn incr(&self, c: Mc) {
        self.add(c, 1);
    }
    pub fn get(&self, c: Mc) -> u64 {
        self.parts
            .iter()
            .map(|p| p.0[c as usize].load(Relaxed))
            .sum()
    }
    /// `stats reset` and CONFIG RESETSTAT.
    pub fn reset(&self) {
        for p in &self.parts {
            for c in &p.0 {
                c.store(0, Relaxed);
            }
        }
    }
}
