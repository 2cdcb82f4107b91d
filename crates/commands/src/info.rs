//! INFO: the sections server, clients, memory, persistence, stats, replication, cpu,
//! commandstats, latencystats, cluster and keyspace, in Redis's `# Section\r\nfield:value\r\n`
//! format and with Redis's field names, so monitoring tools and client libraries that parse
//! INFO work unchanged. As in Redis 7, commandstats and latencystats are left out of the
//! default set and shown by `INFO all`, `INFO everything` or by name.
//!
//! rcache additions are marked in the field list: `rcache_version`, `total_keys_bytes`,
//! `total_values_bytes` and the buffer-limit disconnection counters. Process figures (RSS,
//! CPU) come from `/proc/self` without libc; elsewhere they read as 0.

use crate::connection::REDIS_VERSION;
use crate::error::CmdResult;
use crate::util::lossy;
use crate::Ctx;
use protocol::Args;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

/// Section names in output order.
pub const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Whether a section is in plain `INFO` (and `INFO default`): all but the per-command ones.
fn in_default(name: &str) -> bool {
    !matches!(name, "commandstats" | "latencystats")
}

/// INFO [section [section …]]
pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut want = [false; SECTIONS.len()];
    let default: [bool; SECTIONS.len()] = std::array::from_fn(|i| in_default(SECTIONS[i]));
    if args.len() == 1 {
        want = default;
    }
    for a in args.iter().skip(1) {
        let a = lossy(a).to_ascii_lowercase();
        match a.as_str() {
            "all" | "everything" => want = [true; SECTIONS.len()],
            "default" => {
                for (w, d) in want.iter_mut().zip(default) {
                    *w |= d;
                }
            }
            s => {
                if let Some(i) = SECTIONS.iter().position(|n| *n == s) {
                    want[i] = true;
                }
            }
        }
    }
    let text = render(ctx, &want);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// The INFO text for the selected sections (flags in `SECTIONS` order), sections separated
/// by an empty line as Redis does.
pub fn render(ctx: &Ctx<'_>, want: &[bool; SECTIONS.len()]) -> String {
    let mut out = String::new();
    for (i, name) in SECTIONS.iter().enumerate() {
        if !want[i] {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let mut f = Fields(&mut out);
        match *name {
            "server" => server(ctx, &mut f),
            "clients" => clients(ctx, &mut f),
            "memory" => memory(ctx, &mut f),
            "persistence" => persistence(ctx, &mut f),
            "stats" => stats(ctx, &mut f),
            "replication" => replication(ctx, &mut f),
            "cpu" => cpu(&mut f),
            "commandstats" => {
                f.title("Commandstats");
                for c in ctx.srv.stats.cmdstats.snapshot(ctx.srv.table) {
                    f.kv(&format!("cmdstat_{}", c.name), c.info_line());
                }
            }
            "latencystats" => {
                f.title("Latencystats");
                // As in Redis, `latency-tracking no` leaves the section empty, and the
                // percentiles shown are `latency-tracking-info-percentiles`.
                let settings = &ctx.srv.settings;
                if settings.value("latency-tracking") == "yes" {
                    let wanted = settings.value("latency-tracking-info-percentiles");
                    let percentiles: Vec<f64> =
                        wanted.split(' ').filter_map(|p| p.parse().ok()).collect();
                    for c in ctx.srv.stats.cmdstats.snapshot(ctx.srv.table) {
                        if c.calls() > 0 {
                            f.kv(
                                &format!("latency_percentiles_usec_{}", c.name),
                                c.latency_line_at(&percentiles),
                            );
                        }
                    }
                }
            }
            "cluster" => {
                f.title("Cluster");
                f.kv("cluster_enabled", u8::from(ctx.srv.cluster.get().is_some()));
            }
            "keyspace" => keyspace(ctx, &mut f),
            other => unreachable!("section {other} has no renderer"),
        }
    }
    out
}

struct Fields<'a>(&'a mut String);

impl Fields<'_> {
    fn title(&mut self, t: &str) {
        let _ = write!(self.0, "# {t}\r\n");
    }
    fn kv(&mut self, k: &str, v: impl std::fmt::Display) {
        let _ = write!(self.0, "{k}:{v}\r\n");
    }
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `2.00M`, …
pub fn human_bytes(n: u64) -> String {
    const UNITS: &[&str] = &["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut d = n as f64 / 1024.0;
    let mut u = 0;
    while d >= 1024.0 && u + 1 < UNITS.len() {
        d /= 1024.0;
        u += 1;
    }
    format!("{d:.2}{}", UNITS[u])
}

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn server(ctx: &Ctx<'_>, f: &mut Fields) {
    let srv = ctx.srv;
    let up = srv.started.elapsed().as_secs();
    let now = unix_now();
    let os = {
        let t = std::fs::read_to_string("/proc/sys/kernel/ostype").ok();
        let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok();
        match (t, r) {
            (Some(t), Some(r)) => format!("{} {} {}", t.trim(), r.trim(), std::env::consts::ARCH),
            _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    };
    let hz = srv.settings.hz.load(Relaxed);
    f.title("Server");
    f.kv("redis_version", REDIS_VERSION);
    f.kv("redis_git_sha1", "00000000");
    f.kv("redis_git_dirty", 0);
    f.kv("redis_build_id", "0");
    f.kv("redis_mode", "standalone");
    f.kv("rcache_version", env!("CARGO_PKG_VERSION"));
    f.kv("os", os);
    f.kv("arch_bits", usize::BITS);
    f.kv("monotonic_clock", "POSIX clock_gettime");
    f.kv(
        "multiplexing_api",
        if cfg!(target_os = "linux") {
            "epoll"
        } else {
            "kqueue"
        },
    );
    f.kv("process_id", std::process::id());
    f.kv("process_supervised", "no");
    f.kv("run_id", &srv.run_id);
    f.kv("tcp_port", srv.bound_port.load(Relaxed));
    for d in [
        crate::Door::Http,
        crate::Door::Binary,
        crate::Door::Memcache,
    ] {
        f.kv(
            &format!("{}_port", d.name()),
            srv.door_ports[d as usize].load(Relaxed),
        );
    }
    f.kv("server_time_usec", now.as_micros());
    f.kv("uptime_in_seconds", up);
    f.kv("uptime_in_days", up / 86400);
    f.kv("hz", hz);
    f.kv("configured_hz", hz);
    f.kv("lru_clock", now.as_secs() & ((1 << 24) - 1));
    f.kv(
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    f.kv(
        "config_file",
        srv.settings
            .config_file
            .read()
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    f.kv("io_threads_active", 0);
}

fn clients(ctx: &Ctx<'_>, f: &mut Fields) {
    let srv = ctx.srv;
    let (qmax, omax) = srv.clients.max_buffers();
    f.title("Clients");
    f.kv("connected_clients", srv.clients.count());
    f.kv("cluster_connections", 0);
    f.kv("maxclients", srv.settings.maxclients.load(Relaxed));
    f.kv("client_recent_max_input_buffer", qmax);
    f.kv("client_recent_max_output_buffer", omax);
    // Clients held by CLIENT PAUSE count as blocked, as Redis counts them.
    f.kv(
        "blocked_clients",
        srv.blocking.blocked_clients() + srv.pause.held(),
    );
    f.kv("tracking_clients", srv.tracking.clients());
    f.kv("clients_in_timeout_table", 0);
}

/// Process memory figures from `/proc`.
#[derive(Default, Debug, Clone, Copy)]
pub struct ProcMem {
    /// Resident set size in bytes (`VmRSS` of /proc/self/status, which is in kB whatever
    /// the page size, unlike /proc/self/statm's pages).
    pub rss: u64,
    /// `MemTotal` of /proc/meminfo, in bytes.
    pub total_system: u64,
}

fn kb_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let v = line[name.len()..].trim().trim_end_matches("kB").trim();
    v.parse::<u64>().ok().map(|k| k * 1024)
}

impl ProcMem {
    pub fn read() -> ProcMem {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        ProcMem {
            rss: kb_field(&status, "VmRSS:").unwrap_or(0),
            total_system: kb_field(&meminfo, "MemTotal:").unwrap_or(0),
        }
    }
}

/// jemalloc's own figures, when rcache is built with it.
#[derive(Debug, Clone, Copy)]
pub struct AllocStats {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
}

/// The allocator's statistics (`jemalloc` feature), refreshed first: jemalloc caches its
/// stats until the epoch advances.
#[cfg(feature = "jemalloc")]
pub fn allocator_stats() -> Option<AllocStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    Some(AllocStats {
        allocated: stats::allocated::read().ok()? as u64,
        active: stats::active::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
    })
}

#[cfg(not(feature = "jemalloc"))]
pub fn allocator_stats() -> Option<AllocStats> {
    None
}

fn allocator_name() -> String {
    #[cfg(feature = "jemalloc")]
    {
        if let Ok(v) = tikv_jemalloc_ctl::version::read() {
            return format!("jemalloc-{}", v.split('-').next().unwrap_or(v));
        }
    }
    "libc".into()
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "0.00".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

fn memory(ctx: &Ctx<'_>, f: &mut Fields) {
    let srv = ctx.srv;
    let st = srv.ks.stats();
    let used = st.used_memory;
    let peak = srv.stats.note_memory(used);
    let pm = ProcMem::read();
    let dataset = st.key_bytes + st.value_bytes;
    let maxmemory = srv.settings.evict.maxmemory();
    f.title("Memory");
    f.kv("used_memory", used);
    f.kv("used_memory_human", human_bytes(used));
    f.kv("used_memory_rss", pm.rss);
    f.kv("used_memory_rss_human", human_bytes(pm.rss));
    f.kv("used_memory_peak", peak);
    f.kv("used_memory_peak_human", human_bytes(peak));
    f.kv(
        "used_memory_peak_perc",
        format!("{}%", ratio(used * 100, peak)),
    );
    f.kv("used_memory_overhead", used.saturating_sub(dataset));
    f.kv("used_memory_startup", 0);
    f.kv("used_memory_dataset", dataset);
    f.kv(
        "used_memory_dataset_perc",
        format!("{}%", ratio(dataset * 100, used)),
    );
    if let Some(a) = allocator_stats() {
        f.kv("allocator_allocated", a.allocated);
        f.kv("allocator_active", a.active);
        f.kv("allocator_resident", a.resident);
        f.kv("allocator_frag_ratio", ratio(a.active, a.allocated));
        f.kv("allocator_rss_ratio", ratio(a.resident, a.active));
    }
    f.kv("total_system_memory", pm.total_system);
    f.kv("total_system_memory_human", human_bytes(pm.total_system));
    f.kv("maxmemory", maxmemory);
    f.kv("maxmemory_human", human_bytes(maxmemory));
    f.kv("maxmemory_policy", srv.settings.evict.policy().name());
    f.kv("mem_fragmentation_ratio", ratio(pm.rss, used));
    f.kv("mem_fragmentation_bytes", pm.rss as i64 - used as i64);
    f.kv("mem_not_counted_for_evict", 0);
    f.kv("mem_clients_normal", {
        let (q, o) = srv.clients.list().iter().fold((0, 0), |(q, o), c| {
            (q + c.qbuf.load(Relaxed), o + c.obuf.load(Relaxed))
        });
        q + o
    });
    f.kv("mem_allocator", allocator_name());
    f.kv("lazyfree_pending_objects", 0);
    // rcache: the bytes of keys and of values alone, without per-entry overhead.
    f.kv("total_keys_bytes", st.key_bytes);
    f.kv("total_values_bytes", st.value_bytes);
}

/// `done` of `total` as a percentage, 0 when there is nothing to do.
fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (done as f64 * 100.0 / total as f64).min(100.0)
    }
}

fn persistence(ctx: &Ctx<'_>, f: &mut Fields) {
    let p = &ctx.srv.persistence;
    f.title("Persistence");
    f.kv("loading", u8::from(p.loading.load(Relaxed)));
    f.kv("async_loading", 0);
    // No fork: nothing is copied on write beyond the slot tables a write meets unsaved.
    f.kv("current_cow_peak", 0);
    f.kv("current_cow_size", 0);
    f.kv("current_cow_size_age", 0);
    let (done, total) = match &*p.progress.lock() {
        Some((done, total)) => (done.load(Relaxed), *total),
        None => (0, 0),
    };
    f.kv("current_fork_perc", format!("{:.2}", percent(done, total)));
    f.kv("current_save_keys_processed", done);
    f.kv("current_save_keys_total", total);
    f.kv(
        "rdb_changes_since_last_save",
        crate::persistence::changes_since_save(ctx.srv),
    );
    let running = p.bgsave_running.load(Relaxed);
    f.kv("rdb_bgsave_in_progress", u8::from(running));
    f.kv("rdb_last_save_time", p.last_save.load(Relaxed));
    f.kv(
        "rdb_last_bgsave_status",
        if p.last_ok.load(Relaxed) { "ok" } else { "err" },
    );
    f.kv("rdb_last_bgsave_time_sec", p.last_bgsave_secs.load(Relaxed));
    let start = p.current_start_ms.load(Relaxed);
    let current = if running && start > 0 {
        (ctx.srv.ks.now().saturating_sub(start) / 1000) as i64
    } else {
        -1
    };
    f.kv("rdb_current_bgsave_time_sec", current);
    f.kv("rdb_saves", p.saves.load(Relaxed));
    f.kv("rdb_last_cow_size", 0);
    let (loaded, expired) = *p.last_load.lock();
    f.kv("rdb_last_load_keys_expired", expired);
    f.kv("rdb_last_load_keys_loaded", loaded);
    let a = &ctx.srv.aof;
    let rewriting = a.rewriting.load(Relaxed);
    f.kv("aof_enabled", a.is_on() as u8);
    f.kv("aof_rewrite_in_progress", rewriting as u8);
    f.kv("aof_rewrite_scheduled", a.scheduled.load(Relaxed) as u8);
    f.kv(
        "aof_last_rewrite_time_sec",
        a.last_rewrite_secs.load(Relaxed),
    );
    let start = a.rewrite_start_ms.load(Relaxed);
    let current = if rewriting && start > 0 {
        (ctx.srv.ks.now().saturating_sub(start) / 1000) as i64
    } else {
        -1
    };
    f.kv("aof_current_rewrite_time_sec", current);
    f.kv(
        "aof_last_bgrewrite_status",
        if a.consecutive_failures.load(Relaxed) == 0 {
            "ok"
        } else {
            "err"
        },
    );
    f.kv("aof_rewrites", a.rewrites.load(Relaxed));
    f.kv(
        "aof_rewrites_consecutive_failures",
        a.consecutive_failures.load(Relaxed),
    );
    let log = a.log();
    f.kv(
        "aof_last_write_status",
        if log.as_ref().is_none_or(|l| l.write_ok()) {
            "ok"
        } else {
            "err"
        },
    );
    f.kv("aof_last_cow_size", 0);
    f.kv("module_fork_in_progress", 0);
    f.kv("module_fork_last_cow_size", 0);
    if let Some(log) = log {
        let (size, base) = a.sizes();
        f.kv("aof_current_size", size);
        f.kv("aof_base_size", base);
        f.kv("aof_pending_rewrite", a.scheduled.load(Relaxed) as u8);
        f.kv("aof_buffer_length", log.buffered());
        f.kv("aof_pending_bio_fsync", 0);
        f.kv("aof_delayed_fsync", 0);
    }
}

fn stats(ctx: &Ctx<'_>, f: &mut Fields) {
    let s = &ctx.srv.stats;
    let ks = ctx.srv.ks.stats();
    f.title("Stats");
    f.kv(
        "total_connections_received",
        s.total_connections_received.load(Relaxed),
    );
    f.kv("total_commands_processed", s.total_commands_processed.get());
    f.kv(
        "instantaneous_ops_per_sec",
        s.instantaneous_ops_per_sec.load(Relaxed),
    );
    f.kv("total_net_input_bytes", s.total_net_input_bytes.get());
    f.kv("total_net_output_bytes", s.total_net_output_bytes.get());
    f.kv("total_net_repl_input_bytes", 0);
    f.kv("total_net_repl_output_bytes", 0);
    f.kv("rejected_connections", s.rejected_connections.load(Relaxed));
    f.kv("sync_full", 0);
    f.kv("sync_partial_ok", 0);
    f.kv("sync_partial_err", 0);
    f.kv("expired_keys", ks.expired);
    f.kv("evicted_keys", ks.evicted);
    f.kv("evicted_clients", 0);
    f.kv("keyspace_hits", ks.hits);
    f.kv("keyspace_misses", ks.misses);
    f.kv("pubsub_channels", ctx.srv.pubsub.channel_count());
    f.kv("pubsub_patterns", ctx.srv.pubsub.pattern_count());
    f.kv("pubsubshard_channels", ctx.srv.pubsub.shard_channel_count());
    f.kv("latest_fork_usec", 0);
    f.kv("total_forks", 0);
    f.kv("tracking_total_keys", ctx.srv.tracking.total_keys());
    f.kv("tracking_total_items", ctx.srv.tracking.total_items());
    f.kv("tracking_total_prefixes", ctx.srv.tracking.total_prefixes());
    f.kv(
        "client_query_buffer_limit_disconnections",
        s.client_query_buffer_limit_disconnections.load(Relaxed),
    );
    f.kv(
        "client_output_buffer_limit_disconnections",
        s.client_output_buffer_limit_disconnections.load(Relaxed),
    );
}

fn replication(ctx: &Ctx<'_>, f: &mut Fields) {
    f.title("Replication");
    f.kv("role", "master");
    f.kv("connected_slaves", 0);
    f.kv("master_failover_state", "no-failover");
    f.kv("master_replid", &ctx.srv.run_id);
    f.kv("master_replid2", "0000000000000000000000000000000000000000");
    f.kv("master_repl_offset", 0);
    f.kv("second_repl_offset", -1);
    f.kv("repl_backlog_active", 0);
    f.kv("repl_backlog_size", 1048576);
    f.kv("repl_backlog_first_byte_offset", 0);
    f.kv("repl_backlog_histlen", 0);
}

/// CPU seconds of this process and its waited-for children: (sys, user, sys_children,
/// user_children), from /proc/self/stat (clock ticks of 1/100 s, Linux's fixed USER_HZ).
pub fn cpu_times() -> (f64, f64, f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name (which may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let v: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(0.0) / 100.0)
        .collect();
    let g = |i: usize| v.get(i).copied().unwrap_or(0.0);
    // rest[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17.
    (g(12), g(11), g(14), g(13))
}

fn cpu(f: &mut Fields) {
    let (sys, user, csys, cuser) = cpu_times();
    f.title("CPU");
    f.kv("used_cpu_sys", format!("{sys:.6}"));
    f.kv("used_cpu_user", format!("{user:.6}"));
    f.kv("used_cpu_sys_children", format!("{csys:.6}"));
    f.kv("used_cpu_user_children", format!("{cuser:.6}"));
}

fn keyspace(ctx: &Ctx<'_>, f: &mut Fields) {
    f.title("Keyspace");
    for (i, d) in ctx.srv.ks.db_info().iter().enumerate() {
        if d.keys > 0 {
            f.kv(
                &format!("db{i}"),
                format!(
                    "keys={},expires={},avg_ttl={}",
                    d.keys, d.expires, d.avg_ttl_ms
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCtx;

    /// The text of a RESP2 bulk reply.
    fn body(r: &str) -> &str {
        let (_, rest) = r.split_once("\r\n").unwrap();
        rest.strip_suffix("\r\n").unwrap()
    }

    fn field<'a>(text: &'a str, name: &str) -> &'a str {
        text.split("\r\n")
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
            .unwrap_or_else(|| panic!("no field {name} in {text}"))
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(100 << 20), "100.00M");
        assert_eq!(human_bytes(3 << 30), "3.00G");
    }

    #[test]
    fn default_sections_and_fields() {
        let t = TestCtx::new();
        t.run(&["SET", "a", "1"]);
        t.run(&["SET", "b", "2", "EX", "100"]);
        t.run(&["GET", "a"]);
        t.run(&["GET", "nope"]);
        let r = t.run(&["INFO"]);
        assert!(r.starts_with('$'));
        let text = body(&r);
        let titles: Vec<&str> = text.split("\r\n").filter(|l| l.starts_with("# ")).collect();
        assert_eq!(
            titles,
            [
                "# Server",
                "# Clients",
                "# Memory",
                "# Persistence",
                "# Stats",
                "# Replication",
                "# CPU",
                "# Cluster",
                "# Keyspace"
            ]
        );
        assert!(text.contains("\r\n\r\n# Clients\r\n"));
        assert_eq!(field(text, "redis_version"), "7.0.15");
        assert_eq!(field(text, "redis_mode"), "standalone");
        assert_eq!(field(text, "process_id"), std::process::id().to_string());
        assert_eq!(field(text, "connected_clients"), "1");
        assert_eq!(field(text, "role"), "master");
        assert_eq!(field(text, "connected_slaves"), "0");
        assert_eq!(field(text, "loading"), "0");
        assert_eq!(field(text, "aof_enabled"), "0");
        assert_eq!(field(text, "keyspace_hits"), "1");
        assert_eq!(field(text, "keyspace_misses"), "1");
        assert_eq!(field(text, "maxmemory_policy"), "noeviction");
        assert_eq!(field(text, "total_keys_bytes"), "2");
        assert_eq!(field(text, "total_values_bytes"), "2");
        let used: u64 = field(text, "used_memory").parse().unwrap();
        assert_eq!(used, t.srv.ks.used_memory());
        assert!(field(text, "used_cpu_user").contains('.'));
        let db0 = field(text, "db0");
        assert!(db0.starts_with("keys=2,expires=1,avg_ttl="), "{db0}");
        let ttl: u64 = db0.rsplit('=').next().unwrap().parse().unwrap();
        assert!(ttl > 99_000 && ttl <= 100_000, "{db0}");
        assert!(!text.contains("db1:"));
    }

    #[test]
    fn section_selection_and_resp3() {
        let t = TestCtx::new();
        let r = t.run(&["INFO", "keyspace"]);
        assert_eq!(r, "$12\r\n# Keyspace\r\n\r\n");
        t.run(&["SET", "a", "1"]);
        let r = t.run(&["INFO", "KEYSPACE"]);
        assert_eq!(
            r,
            "$44\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n"
        );
        assert_eq!(t.run(&["INFO", "nosuch"]), "$0\r\n\r\n");
        let r = t.run(&["INFO", "cpu", "server"]);
        let text = body(&r);
        assert!(text.starts_with("# Server\r\n") && text.contains("\r\n\r\n# CPU\r\n"));
        assert!(!text.contains("# Memory"));
        for all in ["all", "everything"] {
            assert_eq!(
                body(&t.run(&["INFO", all])).matches("\r\n# ").count() + 1,
                SECTIONS.len()
            );
        }
        // As Redis 7: the per-command sections only on request.
        let default = body(&t.run(&["INFO", "default"])).to_string();
        assert_eq!(default.matches("\r\n# ").count() + 1, SECTIONS.len() - 2);
        assert!(!default.contains("# Commandstats") && !default.contains("# Latencystats"));
        let all = t.run(&["INFO", "all"]);
        let all = body(&all);
        let cpu = all.find("# CPU").unwrap();
        let cmd = all.find("# Commandstats").unwrap();
        let lat = all.find("# Latencystats").unwrap();
        let cluster = all.find("# Cluster").unwrap();
        assert!(cpu < cmd && cmd < lat && lat < cluster, "{all}");
        t.resp3();
        assert_eq!(
            t.run(&["INFO", "keyspace"]),
            "=48\r\ntxt:# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n"
        );
    }

    #[test]
    fn process_figures() {
        let pm = ProcMem::read();
        let (sys, user, _, _) = cpu_times();
        if cfg!(target_os = "linux") {
            assert!(pm.rss > 0 && pm.total_system > pm.rss);
            assert!(sys + user >= 0.0);
        }
    }
}
