//! MEMORY STATS, DOCTOR, MALLOC-STATS and PURGE (the MEMORY container and USAGE live in
//! `server.rs`): Redis 7.0's fields and report shapes over rcache's figures.
//!
//! ```text
//!  Keyspace::stats (accounted bytes: used, keys, values) ─┐
//!  jemalloc (allocated / active / resident)               ├─► Overhead ─► STATS / DOCTOR
//!  /proc/self/status (RSS), clients' buffers              ┘
//! ```
//!
//! Where rcache has no counterpart of a Redis figure it reports 0: `startup.allocated`,
//! `replication.backlog`, `clients.slaves`, `cluster.links`, `aof.buffer`, `lua.caches`,
//! `functions.caches`, and each database's `overhead.hashtable.expires` and
//! `…slot-to-keys` (those indexes are inside the per-key overhead). A database's
//! `overhead.hashtable.main` is its share, by key count, of `overhead.total`. Without
//! jemalloc (builds without the `jemalloc` feature) the allocator figures are 0 and
//! MALLOC-STATS says so, as Redis does with libc malloc.

use crate::error::{CmdError, CmdResult};
use crate::info::{self, ProcMem};
use crate::{Ctx, ServerState};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;

/// Everything MEMORY STATS and DOCTOR read, gathered once.
struct Overhead {
    peak: u64,
    used: u64,
    clients: u64,
    clients_count: u64,
    keys: u64,
    dataset: u64,
    /// Keys per database that has any: (db, keys).
    dbs: Vec<(usize, u64)>,
    allocated: u64,
    active: u64,
    resident: u64,
    rss: u64,
}

impl Overhead {
    fn read(srv: &ServerState) -> Overhead {
        let st = srv.ks.stats();
        let clients = srv.clients.list();
        let buffers: usize = clients
            .iter()
            .map(|c| c.qbuf.load(Relaxed) + c.obuf.load(Relaxed))
            .sum();
        let alloc = info::allocator_stats();
        let dbs = srv
            .ks
            .db_info()
            .iter()
            .enumerate()
            .filter(|(_, d)| d.keys > 0)
            .map(|(i, d)| (i, d.keys))
            .collect();
        Overhead {
            peak: srv.stats.note_memory(st.used_memory),
            used: st.used_memory,
            clients: buffers as u64,
            clients_count: clients.len() as u64,
            keys: st.keys,
            dataset: st.key_bytes + st.value_bytes,
            dbs,
            allocated: alloc.map_or(0, |a| a.allocated),
            active: alloc.map_or(0, |a| a.active),
            resident: alloc.map_or(0, |a| a.resident),
            rss: ProcMem::read().rss,
        }
    }

    fn overhead_total(&self) -> u64 {
        self.used.saturating_sub(self.dataset)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// `a - b` as Redis reports these differences (signed: RSS may be below the allocations).
fn diff(a: u64, b: u64) -> i64 {
    a as i64 - b as i64
}

/// MEMORY STATS: Redis 7.0's 27 fields and a map per database with keys, in its order.
pub fn stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let m = Overhead::read(ctx.srv);
    let overhead = m.overhead_total();
    let out = &mut ctx.out;
    out.map_len(27 + m.dbs.len());
    let int = |out: &mut protocol::Reply<'_>, k: &str, v: i64| {
        out.bulk(k.as_bytes());
        out.int(v);
    };
    int(out, "peak.allocated", m.peak as i64);
    int(out, "total.allocated", m.used as i64);
    int(out, "startup.allocated", 0);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients as i64);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for &(db, keys) in &m.dbs {
        out.bulk(format!("db.{db}").as_bytes());
        out.map_len(3);
        let share = (overhead as u128 * keys as u128 / m.keys.max(1) as u128) as i64;
        int(out, "overhead.hashtable.main", share);
        int(out, "overhead.hashtable.expires", 0);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", overhead as i64);
    int(out, "keys.count", m.keys as i64);
    int(
        out,
        "keys.bytes-per-key",
        m.used.checked_div(m.keys).unwrap_or(0) as i64,
    );
    int(out, "dataset.bytes", m.dataset as i64);
    let dbl = |out: &mut protocol::Reply<'_>, k: &str, v: f64| {
        out.bulk(k.as_bytes());
        out.double(v);
    };
    dbl(out, "dataset.percentage", ratio(m.dataset * 100, m.used));
    dbl(out, "peak.percentage", ratio(m.used * 100, m.peak));
    int(out, "allocator.allocated", m.allocated as i64);
    int(out, "allocator.active", m.active as i64);
    int(out, "allocator.resident", m.resident as i64);
    dbl(
        out,
        "allocator-fragmentation.ratio",
        ratio(m.active, m.allocated),
    );
    int(
        out,
        "allocator-fragmentation.bytes",
        diff(m.active, m.allocated),
    );
    dbl(out, "allocator-rss.ratio", ratio(m.resident, m.active));
    int(out, "allocator-rss.bytes", diff(m.resident, m.active));
    dbl(out, "rss-overhead.ratio", ratio(m.rss, m.resident));
    int(out, "rss-overhead.bytes", diff(m.rss, m.resident));
    dbl(out, "fragmentation", ratio(m.rss, m.used));
    int(out, "fragmentation.bytes", diff(m.rss, m.used));
    Ok(())
}

const MB: u64 = 1 << 20;

/// MEMORY DOCTOR: Redis's report (the same opening sentences), from these checks:
///
/// * under 5 MB of data: too little to judge;
/// * the peak is above 150% of what is used now;
/// * the allocator's external fragmentation (active / allocated), its RSS overhead
///   (resident / active) and the process's beyond the allocator (RSS / resident) above
///   1.1 and 10 MB each; the RSS against the allocator's allocations above 1.4 and 10 MB
///   (rcache's `used_memory` counts the dataset alone, so that check uses the allocator's
///   figure, not it);
/// * clients buffering more than 200 KB each on average.
pub fn doctor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let report = doctor_report(&Overhead::read(ctx.srv));
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

fn doctor_report(m: &Overhead) -> String {
    if m.used < 5 * MB {
        return "Hi Sam, this instance is empty or is using very little memory, my issues \
                detector can't be used in these conditions. Please, leave for your mission on \
                Earth and fill it with some data. The new Sam and I will be back to our \
                programming as soon as I finished rebooting.\n"
            .into();
    }
    let over = |a: u64, b: u64, r: f64| b > 0 && ratio(a, b) > r && a.saturating_sub(b) > 10 * MB;
    let mut found: Vec<&str> = Vec::new();
    if ratio(m.peak, m.used) > 1.5 {
        found.push(
            " * Peak memory: this instance once used more than 150% of the memory it uses \
             now. The allocator seldom gives memory back after a peak, so the resident size \
             stays high; it is reused as the dataset grows again. MEMORY PURGE asks the \
             allocator to return what it can; otherwise only a restart gives it back.",
        );
    }
    let base = if m.allocated > 0 { m.allocated } else { m.used };
    if over(m.rss, base, 1.4) {
        found.push(
            " * High total RSS: the process's resident size is more than 1.4 times what the \
             allocator has handed out. After a peak this is harmless; otherwise the workload \
             fragments memory (many values of changing sizes).",
        );
    }
    if over(m.active, m.allocated, 1.1) {
        found.push(
            " * High allocator fragmentation: the allocator's active pages hold more than 1.1 \
             times the bytes allocated in them, usually after a peak or with values of very \
             different sizes. rcache does not defragment memory; MEMORY PURGE releases the \
             free pages.",
        );
    }
    if over(m.resident, m.active, 1.1) {
        found.push(
            " * High allocator RSS overhead: the allocator keeps more than 1.1 times its \
             active pages resident, usually after a peak. MEMORY PURGE returns them.",
        );
    }
    if over(m.rss, m.resident, 1.1) {
        found.push(
            " * High process RSS overhead: the process holds more than 1.1 times what the \
             allocator keeps resident (thread stacks, Lua, the binary itself).",
        );
    }
    if m.clients_count > 0 && m.clients / m.clients_count > 200 * 1024 {
        found.push(
            " * Big client buffers: clients buffer more than 200K each on average: slow \
             readers of large replies or of pub/sub messages, or very long pipelines. CLIENT \
             LIST shows each client's qbuf and obl.",
        );
    }
    if found.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account \
                for what occurs on this base.\n"
            .into();
    }
    let mut s =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for f in found {
        s.push_str(f);
        s.push_str("\n\n");
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

/// MEMORY MALLOC-STATS: jemalloc's own statistics report.
pub fn malloc_stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    match jemalloc::stats_text() {
        Some(text) => ctx.out.verbatim(text.as_bytes()),
        None => ctx
            .out
            .bulk(b"Stats not supported for the current allocator"),
    }
    Ok(())
}

/// MEMORY PURGE: ask jemalloc to return every arena's dirty pages to the system.
pub fn purge(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if jemalloc::purge() {
        ctx.out.ok();
        Ok(())
    } else {
        Err(CmdError::Static("ERR Error purging dirty pages"))
    }
}

#[cfg(feature = "jemalloc")]
mod jemalloc {
    use std::ffi::{c_char, c_void, CStr};

    /// jemalloc's `malloc_stats_print`, collected into a string.
    pub fn stats_text() -> Option<String> {
        extern "C" fn append(opaque: *mut c_void, text: *const c_char) {
            // SAFETY: `opaque` is the `String` passed below, alive for the whole call;
            // jemalloc hands a NUL-terminated string.
            unsafe {
                let out = &mut *(opaque as *mut String);
                out.push_str(&CStr::from_ptr(text).to_string_lossy());
            }
        }
        let mut out = String::new();
        // SAFETY: the callback only appends to `out`, which outlives the call; a null
        // options string asks for the default report.
        unsafe {
            tikv_jemalloc_sys::malloc_stats_print(
                Some(append),
                &mut out as *mut String as *mut c_void,
                std::ptr::null(),
            );
        }
        Some(out)
    }

    /// `arena.<MALLCTL_ARENAS_ALL>.purge`: true when jemalloc did it.
    pub fn purge() -> bool {
        // MALLCTL_ARENAS_ALL is 4096.
        let name = b"arena.4096.purge\0";
        // SAFETY: a void control: no old or new value is passed, as jemalloc requires.
        let r = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr() as *const c_char,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        r == 0
    }
}

#[cfg(not(feature = "jemalloc"))]
mod jemalloc {
    pub fn stats_text() -> Option<String> {
        None
    }

    /// Nothing to purge with the system allocator: done, as Redis answers without jemalloc.
    pub fn purge() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCtx;

    fn m(used: u64) -> Overhead {
        Overhead {
            peak: used,
            used,
            clients: 0,
            clients_count: 1,
            keys: 10,
            dataset: used / 2,
            dbs: vec![(0, 10)],
            allocated: used,
            active: used,
            resident: used,
            rss: used,
        }
    }

    #[test]
    fn doctor_reports() {
        assert!(doctor_report(&m(MB)).starts_with("Hi Sam, this instance is empty"));
        assert!(doctor_report(&m(100 * MB)).starts_with("Hi Sam, I can't find any memory issue"));
        let mut peaked = m(100 * MB);
        peaked.peak = 200 * MB;
        let r = doctor_report(&peaked);
        assert!(r.starts_with("Sam, I detected a few issues"), "{r}");
        assert!(
            r.contains(" * Peak memory:") && !r.contains("fragmentation"),
            "{r}"
        );
        assert!(r.ends_with("I'm here to keep you safe, Sam. I want to help you.\n"));
        let mut frag = m(100 * MB);
        frag.active = 200 * MB;
        frag.resident = 200 * MB;
        frag.rss = 200 * MB;
        let r = doctor_report(&frag);
        assert!(r.contains("High allocator fragmentation"), "{r}");
        assert!(r.contains("High total RSS"), "{r}");
        assert!(!r.contains("allocator RSS overhead"), "{r}");
        let mut clients = m(100 * MB);
        clients.clients = 10 * MB;
        clients.clients_count = 2;
        assert!(doctor_report(&clients).contains("Big client buffers"));
    }

    #[test]
    fn memory_subcommands() {
        let t = TestCtx::new();
        let r = t.run(&["MEMORY", "DOCTOR"]);
        assert!(
            r.starts_with("$") && r.contains("Hi Sam, this instance is empty"),
            "{r}"
        );
        t.run(&["SET", "a", "1"]);
        t.run(&["SELECT", "3"]);
        t.run(&["SET", "b", "1"]);
        let s = t.run(&["MEMORY", "STATS"]);
        // 27 fields and db.0, db.3: 29 pairs.
        assert!(s.starts_with("*58\r\n"), "{s}");
        let names: Vec<&str> = s
            .split("\r\n")
            .filter(|l| l.contains('.') && !l.starts_with(['$', ':', '*']))
            .collect();
        assert_eq!(
            names[..11],
            [
                "peak.allocated",
                "total.allocated",
                "startup.allocated",
                "replication.backlog",
                "clients.slaves",
                "clients.normal",
                "cluster.links",
                "aof.buffer",
                "lua.caches",
                "functions.caches",
                "db.0"
            ]
        );
        assert!(
            s.contains("$4\r\ndb.3\r\n*6\r\n$23\r\noverhead.hashtable.main\r\n:"),
            "{s}"
        );
        assert!(
            s.ends_with("$19\r\nfragmentation.bytes\r\n") || s.contains("fragmentation.bytes\r\n:"),
            "{s}"
        );
        t.resp3();
        let s = t.run(&["MEMORY", "STATS"]);
        assert!(
            s.starts_with("%29\r\n") && s.contains("db.0\r\n%3\r\n"),
            "{s}"
        );
        assert!(s.contains("allocator-rss.ratio\r\n,"), "{s}");
        let r = t.run(&["MEMORY", "MALLOC-STATS"]);
        #[cfg(not(feature = "jemalloc"))]
        assert_eq!(
            r,
            "$45\r\nStats not supported for the current allocator\r\n"
        );
        #[cfg(feature = "jemalloc")]
        assert!(r.contains("jemalloc"), "{r}");
        assert_eq!(t.run(&["MEMORY", "PURGE"]), "+OK\r\n");
        assert_eq!(
            t.run(&["MEMORY", "DOCTOR", "x"]),
            "-ERR wrong number of arguments for 'memory|doctor' command\r\n"
        );
    }
}
