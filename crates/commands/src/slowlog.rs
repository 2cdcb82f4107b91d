//! SLOWLOG (GET, LEN, RESET, HELP), and the hook through which `execute_in` feeds it and
//! the latency monitor (`latency.rs`).
//!
//! ```text
//!  execute_in / EXEC's queued commands: call timed (cmdstats clock) ─► nanos
//!     nanos < settings.slow_floor_ns ──► nothing more (one relaxed load, no lock)
//!     else after_slow_call ─► latency::note_command  (latency-monitor-threshold, ms)
//!                          └► SlowLog::push          (slowlog-log-slower-than, µs)
//! ```
//!
//! `slow_floor_ns` is the smaller of the two thresholds (`u64::MAX` when both are off),
//! recomputed whenever one of the three settings changes (`refresh_floor`); the slow path
//! checks each threshold again exactly, so the floor only has to be low enough.
//!
//! Entries are Redis's: `[id, unix time, microseconds, args, client addr, client name]`,
//! newest first, at most `slowlog-max-len` of them, ids never reused (RESET keeps counting).
//! Arguments are trimmed as Redis trims them (32 arguments, the last saying how many more;
//! 128 bytes each, then how many more bytes), and secrets are redacted as Redis redacts
//! them (AUTH, HELLO … AUTH, ACL SETUSER, MIGRATE … AUTH/AUTH2, CONFIG SET
//! requirepass/masterauth/masteruser). Commands
//! flagged `skip_slowlog` (EXEC: its commands are logged one by one) and commands that
//! blocked are not logged.

use crate::client_cmd::reply_help;
use crate::clients::Session;
use crate::config::Settings;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx, ServerState};
use parking_lot::Mutex;
use protocol::Args;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    subcommands: SUBCOMMANDS,
    ..cmd!(
        "slowlog",
        -2,
        0,
        0,
        0,
        0,
        slowlog,
        "server",
        "2.2.12",
        "A container for slow log commands.",
        ""
    )
}];

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("slowlog|get", -2, ADMIN | LOADING | STALE, 0, 0, 0, get, "server", "2.2.12",
        "Returns the slow log's entries.", "[count]"),
    cmd!("slowlog|len", 2, ADMIN | LOADING | STALE, 0, 0, 0, len, "server", "2.2.12",
        "Returns the number of entries in the slow log.", ""),
    cmd!("slowlog|reset", 2, ADMIN | LOADING | STALE, 0, 0, 0, reset, "server", "2.2.12",
        "Clears all entries from the slow log.", ""),
    cmd!("slowlog|help", 2, LOADING | STALE, 0, 0, 0, help, "server", "6.2.0",
        "Show helpful text about the different subcommands", ""),
];

/// Arguments an entry keeps (the last one of a longer command says how many more there were).
pub const MAX_ARGC: usize = 32;
/// Bytes an argument keeps (then "... (N more bytes)").
pub const MAX_ARG_BYTES: usize = 128;

/// One logged call.
struct Entry {
    id: u64,
    unix_secs: i64,
    micros: u64,
    args: Vec<Box<[u8]>>,
    peer: String,
    name: String,
}

#[derive(Default)]
struct Inner {
    /// Newest first.
    entries: VecDeque<Entry>,
    next_id: u64,
}

/// The slow log of one server.
#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<Inner>,
}

/// Recompute `slow_floor_ns` from the slow log's and the latency monitor's thresholds.
/// Called by the three settings' setters; serialised so that two concurrent CONFIG SETs
/// cannot leave a floor computed from a stale value.
pub fn refresh_floor(s: &Settings) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one_at_a_time = LOCK.lock();
    s.slow_floor_ns.store(floor_ns(s), Relaxed);
}

fn floor_ns(s: &Settings) -> u64 {
    let slower = s.slowlog_slower_than.load(Relaxed);
    let slow = if slower >= 0 && s.slowlog_max_len.load(Relaxed) > 0 {
        (slower as u64).saturating_mul(1000)
    } else {
        u64::MAX
    };
    let lat_ms = s.latency_monitor_threshold.load(Relaxed);
    let lat = if lat_ms > 0 {
        lat_ms.saturating_mul(1_000_000)
    } else {
        u64::MAX
    };
    slow.min(lat)
}

/// A call took `nanos`, at least `slow_floor_ns`: give it to the latency monitor and the
/// slow log, each of which applies its own threshold. `id` is the call's statistics id
/// (the subcommand's row for a container: its flags decide, as Redis's `real_cmd`).
#[cold]
#[inline(never)]
pub fn after_slow_call(srv: &ServerState, sess: &Session, id: u32, args: Args<'_>, nanos: u64) {
    let Some(spec) = srv.table.stat_spec(id) else {
        return;
    };
    let micros = nanos / 1000;
    crate::latency::note_command(srv, spec.has(FAST), micros / 1000);
    // A blocked command is not logged (Redis logs it when it is served; rcache does not:
    // docs/COMMANDS.md).
    if spec.has(SKIP_SLOWLOG) || sess.blocked.is_some() {
        return;
    }
    srv.slowlog.push(&srv.settings, sess, args, micros);
}

impl SlowLog {
    /// Log a call that ran `micros` if the threshold says so (Redis's
    /// `slowlogPushEntryIfNeeded`).
    pub fn push(&self, s: &Settings, sess: &Session, args: Args<'_>, micros: u64) {
        let slower = s.slowlog_slower_than.load(Relaxed);
        let max = s.slowlog_max_len.load(Relaxed);
        if slower < 0 || max == 0 || micros < slower as u64 {
            return;
        }
        // Everything is built before the lock is taken.
        let args = entry_args(args);
        let peer = sess.handle.addr.clone();
        let name = sess.handle.name();
        let unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut g = self.inner.lock();
        let id = g.next_id;
        g.next_id += 1;
        g.entries.push_front(Entry {
            id,
            unix_secs,
            micros,
            args,
            peer,
            name,
        });
        trim(&mut g, max);
    }

    /// Entries now, after trimming to `slowlog-max-len` as Redis would have on its last call.
    fn current(&self, s: &Settings) -> parking_lot::MutexGuard<'_, Inner> {
        let mut g = self.inner.lock();
        // Redis trims on every call while the log is enabled (and never while it is off).
        let max = s.slowlog_max_len.load(Relaxed);
        if s.slowlog_slower_than.load(Relaxed) >= 0 && max > 0 {
            trim(&mut g, max);
        }
        g
    }

    /// How many entries the log holds.
    pub fn len(&self, s: &Settings) -> usize {
        self.current(s).entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self, s: &Settings) -> bool {
        self.len(s) == 0
    }

    /// Drop every entry (ids keep counting).
    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }
}

fn trim(g: &mut Inner, max: u64) {
    while g.entries.len() as u64 > max {
        g.entries.pop_back();
    }
}

/// The arguments an entry keeps: Redis's trimming and redaction.
fn entry_args(args: Args<'_>) -> Vec<Box<[u8]>> {
    let argc = args.len();
    let kept = argc.min(MAX_ARGC);
    let secret = secret_positions(args);
    let mut out = Vec::with_capacity(kept);
    for (i, a) in args.iter().take(kept).enumerate() {
        if kept < argc && i == kept - 1 {
            out.push(
                format!("... ({} more arguments)", argc - kept + 1)
                    .into_bytes()
                    .into(),
            );
        } else if secret(i) {
            out.push(Box::from(&b"(redacted)"[..]));
        } else if a.len() > MAX_ARG_BYTES {
            let mut v = a[..MAX_ARG_BYTES].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_BYTES).as_bytes());
            out.push(v.into());
        } else {
            out.push(a.into());
        }
    }
    out
}

/// Which argument positions hold secrets, as Redis redacts them from the slow log: AUTH's
/// arguments, HELLO's `AUTH username password`, ACL SETUSER's arguments, MIGRATE's
/// `AUTH password` / `AUTH2 username password`, the value of a sensitive setting in
/// CONFIG SET.
fn secret_positions(args: Args<'_>) -> impl Fn(usize) -> bool {
    let mut secret = Vec::new();
    let name = args.get(0);
    if eq_ic(name, "auth") {
        secret.extend(1..args.len());
    } else if eq_ic(name, "hello") {
        let mut i = 2;
        while i < args.len() {
            if eq_ic(args.get(i), "auth") && i + 2 < args.len() {
                secret.extend([i + 1, i + 2]);
                i += 3;
            } else if eq_ic(args.get(i), "setname") && i + 1 < args.len() {
                i += 2;
            } else {
                i += 1;
            }
        }
    } else if eq_ic(name, "acl") && args.len() > 2 && eq_ic(args.get(1), "setuser") {
        // The user's name and every rule (passwords among them), as Redis.
        secret.extend(2..args.len());
    } else if eq_ic(name, "migrate") {
        let mut i = 6;
        while i < args.len() {
            if eq_ic(args.get(i), "auth") && i + 1 < args.len() {
                secret.push(i + 1);
                i += 2;
            } else if eq_ic(args.get(i), "auth2") && i + 2 < args.len() {
                secret.extend([i + 1, i + 2]);
                i += 3;
            } else {
                i += 1;
            }
        }
    } else if eq_ic(name, "config") && args.len() > 3 && eq_ic(args.get(1), "set") {
        let mut i = 2;
        while i + 1 < args.len() {
            let setting = args.get(i);
            if ["requirepass", "masterauth", "masteruser"]
                .iter()
                .any(|s| eq_ic(setting, s))
            {
                secret.push(i + 1);
            }
            i += 2;
        }
    }
    move |i| secret.contains(&i)
}

/// SLOWLOG <subcommand> …
fn slowlog(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    crate::dispatch_sub(ctx, SUBCOMMANDS, args)
}

/// SLOWLOG GET [count]: the newest `count` entries (default 10, -1 = all).
fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(crate::util::subcommand_syntax_error(args));
    }
    let count = if args.len() == 3 {
        match parse_int(args.get(2)) {
            Ok(n) if n >= -1 => n,
            _ => {
                return Err(CmdError::Static(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        }
    } else {
        10
    };
    let g = ctx.srv.slowlog.current(&ctx.srv.settings);
    let n = if count < 0 {
        g.entries.len()
    } else {
        g.entries.len().min(count as usize)
    };
    let out = &mut ctx.out;
    out.array_len(n);
    for e in g.entries.iter().take(n) {
        out.array_len(6);
        out.int(e.id as i64);
        out.int(e.unix_secs);
        out.int(e.micros as i64);
        out.array_len(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.peer.as_bytes());
        out.bulk(e.name.as_bytes());
    }
    Ok(())
}

/// SLOWLOG LEN
fn len(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let n = ctx.srv.slowlog.len(&ctx.srv.settings);
    ctx.out.int(n as i64);
    Ok(())
}

/// SLOWLOG RESET
fn reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// SLOWLOG HELP
fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests;
