//! The memcached door's `stats` family: general statistics, `settings`, `slabs`, `items`,
//! `sizes`, `conns`, `cachedump`, `reset`, in memcached 1.6.18's shape (`STAT <name>
//! <value>` lines, then `END`), with figures from rcache's own accounting.
//!
//! rcache has no slab allocator and one LRU, so it reports its whole database 0 as one slab
//! class, class 1 (as `me` reports `cls=1`): `stats slabs`, `stats items` and `stats
//! cachedump 1 <n>` describe that class; figures rcache does not keep (LRU segments, the
//! crawler, per-class ages) are printed as 0 so that tools reading memcached's names find
//! every one. docs/MEMCACHE.md lists what each figure means here.

use super::{Exec, VERSION};
use commands::clients::Session;
use commands::stats::Mc;
use commands::Door;
use protocol::memcache::{self as mc, keys_of};
use std::sync::atomic::Ordering::Relaxed;
use storage::ObjType;

/// The slab class every item is reported in.
const CLASS: u32 = 1;
/// memcached's number of slab class ids (`MAX_NUMBER_OF_SLAB_CLASSES`): `cachedump` of a
/// class id past it is `CLIENT_ERROR Illegal slab id`, one below it an empty dump.
const SLAB_CLASSES: u32 = 64;
/// memcached caps a `cachedump` reply at 2 MB, `END` included.
const CACHEDUMP_MAX: usize = 2 * 1024 * 1024;

/// `Mc` in `Mc::NAMES` order.
const MC_ORDER: [Mc; Mc::COUNT] = [
    Mc::CmdGet,
    Mc::CmdSet,
    Mc::CmdFlush,
    Mc::CmdTouch,
    Mc::CmdMeta,
    Mc::GetHits,
    Mc::GetMisses,
    Mc::GetExpired,
    Mc::DeleteMisses,
    Mc::DeleteHits,
    Mc::IncrMisses,
    Mc::IncrHits,
    Mc::DecrMisses,
    Mc::DecrHits,
    Mc::CasMisses,
    Mc::CasHits,
    Mc::CasBadval,
    Mc::TouchHits,
    Mc::TouchMisses,
    Mc::StoreTooLarge,
    Mc::StoreNoMemory,
    Mc::AuthCmds,
    Mc::AuthErrors,
    Mc::TotalItems,
];

impl Exec<'_> {
    /// `stats [<sub> [args]]`. As in memcached, words after the ones a subcommand reads are
    /// ignored. `max_value` is the value limit the connection applies (`item_size_max`).
    pub(super) fn stats(&mut self, args: &[u8], sess: &Session, max_value: usize) {
        let mut words = keys_of(args);
        let Some(sub) = words.next() else {
            return self.general_stats();
        };
        match sub {
            b"reset" => {
                self.ms.reset();
                self.line("RESET\r\n");
            }
            b"settings" => self.settings_stats(max_value),
            b"slabs" => self.slabs_stats(max_value),
            b"items" => self.items_stats(),
            // memcached tracks sizes only when started with -o track_sizes; rcache never.
            b"sizes" => self.line("STAT sizes_status disabled\r\nEND\r\n"),
            b"conns" => self.conns_stats(sess),
            b"cachedump" => self.cachedump(words.next(), words.next()),
            b"detail" => self.line("CLIENT_ERROR usage: stats detail on|off|dump\r\n"),
            // Debian's memcached 1.6.18 is built with extstore (not configured: nothing to
            // report) and without the proxy (an unknown subcommand).
            b"extstore" => self.line("END\r\n"),
            _ => self.line("ERROR\r\n"),
        }
    }

    fn stat(&mut self, name: &str, v: impl std::fmt::Display) {
        use std::io::Write;
        let _ = write!(self.out, "STAT {name} {v}\r\n");
    }

    /// The I/O threads serving connections (`threads`, 0 = one per core).
    fn threads(&self) -> u64 {
        match self.st.settings.threads.load(Relaxed) {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2) as u64,
            n => u64::from(n),
        }
    }

    fn general_stats(&mut self) {
        let st = self.st;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (sys, user, _, _) = commands::info::cpu_times();
        let ks = st.ks.stats();
        self.stat("pid", std::process::id());
        self.stat("uptime", st.started.elapsed().as_secs());
        self.stat("time", now);
        self.stat("version", VERSION);
        self.stat("pointer_size", usize::BITS);
        self.stat("rusage_user", format!("{user:.6}"));
        self.stat("rusage_system", format!("{sys:.6}"));
        self.stat("max_connections", st.settings.maxclients.load(Relaxed));
        self.stat("curr_connections", st.stats.doors.connected(Door::Memcache));
        self.stat("total_connections", st.stats.doors.received(Door::Memcache));
        self.stat(
            "rejected_connections",
            st.stats.rejected_connections.load(Relaxed),
        );
        for (i, name) in Mc::NAMES.iter().enumerate() {
            if name == &"total_items" {
                continue;
            }
            let c = MC_ORDER[i];
            self.stat(name, self.ms.get(c));
        }
        self.stat("bytes_read", st.stats.total_net_input_bytes.get());
        self.stat("bytes_written", st.stats.total_net_output_bytes.get());
        self.stat("limit_maxbytes", st.settings.evict.maxmemory());
        self.stat("accepting_conns", 1);
        self.stat("threads", self.threads());
        self.stat("bytes", ks.used_memory);
        self.stat("curr_items", st.ks.dbsize(0));
        self.stat("total_items", self.ms.get(Mc::TotalItems));
        self.stat("expired_unfetched", 0);
        self.stat("evictions", ks.evicted);
        self.stat("reclaimed", ks.expired);
        self.line("END\r\n");
    }

    /// The settings rcache has a counterpart for, in memcached's order.
    fn settings_stats(&mut self, max_value: usize) {
        let st = self.st;
        self.stat("maxbytes", st.settings.evict.maxmemory());
        self.stat("maxconns", st.settings.maxclients.load(Relaxed));
        self.stat(
            "tcpport",
            st.door_ports[Door::Memcache as usize].load(Relaxed),
        );
        self.stat("udpport", 0);
        self.stat(
            "evictions",
            if st.settings.evict.policy() == storage::Policy::NoEviction {
                "off"
            } else {
                "on"
            },
        );
        self.stat("num_threads", self.threads());
        self.stat("detail_enabled", "no");
        self.stat("cas_enabled", "yes");
        self.stat("binding_protocol", "ascii");
        self.stat("auth_enabled_sasl", "no");
        self.stat(
            "auth_enabled_ascii",
            if st.auth_required() { "yes" } else { "no" },
        );
        self.stat("item_size_max", max_value);
        self.stat("flush_enabled", "yes");
        self.stat("dump_enabled", "yes");
        self.stat("idle_timeout", st.settings.timeout.load(Relaxed));
        self.line("END\r\n");
    }

    /// Database 0 as slab class 1: every item its own chunk and page (rcache allocates per
    /// item), the class's chunk size the largest value it holds; the hit counters are this
    /// door's. No class while database 0 is empty, as memcached before its first item.
    fn slabs_stats(&mut self, max_value: usize) {
        let items = self.st.ks.dbsize(0);
        if items > 0 {
            let c = CLASS;
            self.stat(&format!("{c}:chunk_size"), max_value);
            self.stat(&format!("{c}:chunks_per_page"), 1);
            self.stat(&format!("{c}:total_pages"), items);
            self.stat(&format!("{c}:total_chunks"), items);
            self.stat(&format!("{c}:used_chunks"), items);
            self.stat(&format!("{c}:free_chunks"), 0);
            self.stat(&format!("{c}:free_chunks_end"), 0);
            for (name, m) in [
                ("get_hits", Mc::GetHits),
                ("cmd_set", Mc::CmdSet),
                ("delete_hits", Mc::DeleteHits),
                ("incr_hits", Mc::IncrHits),
                ("decr_hits", Mc::DecrHits),
                ("cas_hits", Mc::CasHits),
                ("cas_badval", Mc::CasBadval),
                ("touch_hits", Mc::TouchHits),
            ] {
                self.stat(&format!("{c}:{name}"), self.ms.get(m));
            }
        }
        self.stat("active_slabs", u64::from(items > 0));
        self.stat("total_malloced", self.st.ks.used_memory());
        self.line("END\r\n");
    }

    /// Database 0 as the items of class 1, all in one (cold) LRU. Nothing while it is empty,
    /// as memcached.
    fn items_stats(&mut self) {
        let items = self.st.ks.dbsize(0);
        if items > 0 {
            let ks = self.st.ks.stats();
            let hits = self.ms.get(Mc::GetHits);
            let no_memory = self.ms.get(Mc::StoreNoMemory);
            for (name, v) in [
                ("number", items as u64),
                ("number_hot", 0),
                ("number_warm", 0),
                ("number_cold", items as u64),
                ("age_hot", 0),
                ("age_warm", 0),
                ("age", 0),
                ("mem_requested", ks.used_memory),
                ("evicted", ks.evicted),
                ("evicted_nonzero", 0),
                ("evicted_time", 0),
                ("outofmemory", no_memory),
                ("tailrepairs", 0),
                ("reclaimed", ks.expired),
                ("expired_unfetched", 0),
                ("evicted_unfetched", 0),
                ("evicted_active", 0),
                ("crawler_reclaimed", 0),
                ("crawler_items_checked", 0),
                ("lrutail_reflocked", 0),
                ("moves_to_cold", 0),
                ("moves_to_warm", 0),
                ("moves_within_lru", 0),
                ("direct_reclaims", 0),
                ("hits_to_hot", 0),
                ("hits_to_warm", 0),
                ("hits_to_cold", hits),
                ("hits_to_temp", 0),
            ] {
                self.stat(&format!("items:{CLASS}:{name}"), v);
            }
        }
        self.line("END\r\n");
    }

    /// This door's connections, by socket fd as memcached numbers them. The asking one is
    /// parsing its command; the others wait for theirs (`conn_read`, the state memcached
    /// shows for an idle connection). Listening sockets are not listed.
    fn conns_stats(&mut self, sess: &Session) {
        let port = self.st.door_ports[Door::Memcache as usize].load(Relaxed);
        // A door is one listening port, so a client's local port tells its door.
        let ours = |laddr: &str| {
            laddr
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                == Some(port)
        };
        let tcp = |a: &str| if a.starts_with('[') { "tcp6" } else { "tcp" };
        for c in self.st.clients.list() {
            if !ours(&c.laddr) {
                continue;
            }
            let me = c.id == sess.handle.id;
            let fd = c.fd;
            self.stat(
                &format!("{fd}:addr"),
                format!("{}:{}", tcp(&c.addr), c.addr),
            );
            self.stat(
                &format!("{fd}:listen_addr"),
                format!("{}:{}", tcp(&c.laddr), c.laddr),
            );
            self.stat(
                &format!("{fd}:state"),
                if me { "conn_parse_cmd" } else { "conn_read" },
            );
            self.stat(
                &format!("{fd}:secs_since_last_cmd"),
                if me { 0 } else { c.idle_secs() },
            );
        }
        self.line("END\r\n");
    }

    /// `stats cachedump <class> <limit>`: up to `limit` items (0 = all) of class 1, that is
    /// of database 0, as `ITEM <key> [<bytes> b; <expiry unix time, 0 = none> s]`, in the
    /// keyspace's order (memcached: most recently used first). Like memcached, keys that
    /// would not print (here: any that is not a valid memcached key, such as a RESP key
    /// holding a space) and values that are not strings are left out, and the reply stops
    /// at 2 MB.
    fn cachedump(&mut self, class: Option<&[u8]>, limit: Option<&[u8]>) {
        let (Some(class), Some(limit)) = (class, limit) else {
            return self.line("CLIENT_ERROR bad command line\r\n");
        };
        let (Some(class), Some(limit)) = (mc::parse_u32(class), mc::parse_u32(limit)) else {
            return self.line("CLIENT_ERROR bad command line format\r\n");
        };
        if class >= SLAB_CLASSES {
            return self.line("CLIENT_ERROR Illegal slab id\r\n");
        }
        if class == CLASS {
            let ks = &self.st.ks;
            let out = &mut *self.out;
            let start = out.len();
            let mut shown = 0u32;
            let mut full = false;
            let mut cursor = 0;
            loop {
                cursor = ks.scan(0, cursor, 256, |e| {
                    if full
                        || (limit != 0 && shown >= limit)
                        || e.obj_type() != ObjType::String
                        || !mc::valid_key(e.key())
                    {
                        return;
                    }
                    let mark = out.len();
                    let mut n = itoa::Buffer::new();
                    out.extend_from_slice(b"ITEM ");
                    out.extend_from_slice(e.key());
                    out.extend_from_slice(b" [");
                    out.extend_from_slice(n.format(e.value_len()).as_bytes());
                    out.extend_from_slice(b" b; ");
                    out.extend_from_slice(n.format(e.expire_at() / 1000).as_bytes());
                    out.extend_from_slice(b" s]\r\n");
                    if out.len() - start + b"END\r\n".len() > CACHEDUMP_MAX {
                        out.truncate(mark);
                        full = true;
                    } else {
                        shown += 1;
                    }
                });
                if cursor == 0 || full || (limit != 0 && shown >= limit) {
                    break;
                }
            }
        }
        self.line("END\r\n");
    }
}
