//! Server commands: INFO (built in `info.rs`), CONFIG (in `config_cmd.rs`), DBSIZE, FLUSHDB,
//! FLUSHALL, SWAPDB, TIME, SHUTDOWN and MEMORY (USAGE, HELP; STATS, DOCTOR, MALLOC-STATS and
//! PURGE are in `memory_diag.rs`).

use crate::client_cmd::reply_help;
use crate::error::{CmdError, CmdResult};
use crate::info;
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use std::time::{SystemTime, UNIX_EPOCH};

pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "info",
        -1,
        LOADING | STALE,
        0,
        0,
        0,
        info::info,
        "server",
        "1.0.0",
        "Returns information and statistics about the server.",
        "[section [section ...]]"
    ),
    CommandSpec {
        subcommands: crate::config_cmd::SUBCOMMANDS,
        ..cmd!(
            "config",
            -2,
            0,
            0,
            0,
            0,
            crate::config_cmd::config,
            "server",
            "2.0.0",
            "A container for server configuration commands.",
            ""
        )
    },
    cmd!(
        "dbsize",
        1,
        READONLY | FAST,
        0,
        0,
        0,
        dbsize,
        "server",
        "1.0.0",
        "Returns the number of keys in the database.",
        ""
    ),
    cmd!(
        "flushdb",
        -1,
        WRITE | EXCLUSIVE,
        0,
        0,
        0,
        flushdb,
        "server",
        "1.0.0",
        "Removes all keys from the current database.",
        "[ASYNC | SYNC]"
    ),
    cmd!(
        "flushall",
        -1,
        WRITE | EXCLUSIVE,
        0,
        0,
        0,
        flushall,
        "server",
        "1.0.0",
        "Removes all keys from all databases.",
        "[ASYNC | SYNC]"
    ),
    cmd!(
        "swapdb",
        3,
        WRITE | FAST | EXCLUSIVE,
        0,
        0,
        0,
        swapdb,
        "server",
        "4.0.0",
        "Swaps two databases.",
        "index1 index2"
    ),
    cmd!(
        "time",
        1,
        LOADING | STALE | FAST,
        0,
        0,
        0,
        time,
        "server",
        "2.6.0",
        "Returns the server time.",
        ""
    ),
    cmd!(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        0,
        0,
        0,
        shutdown,
        "server",
        "1.0.0",
        "Shuts down the server.",
        "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"
    ),
    CommandSpec {
        subcommands: MEMORY_SUBCOMMANDS,
        ..cmd!(
            "memory",
            -2,
            0,
            0,
            0,
            0,
            memory,
            "server",
            "4.0.0",
            "A container for memory diagnostics commands.",
            ""
        )
    },
];

const MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!(
        "memory|usage",
        -3,
        READONLY,
        2,
        2,
        1,
        memory_usage,
        "server",
        "4.0.0",
        "Estimates the memory usage of a key.",
        "key [SAMPLES count]"
    ),
    cmd!(
        "memory|stats",
        2,
        0,
        0,
        0,
        0,
        crate::memory_diag::stats,
        "server",
        "4.0.0",
        "Returns details about memory usage.",
        ""
    ),
    cmd!(
        "memory|doctor",
        2,
        0,
        0,
        0,
        0,
        crate::memory_diag::doctor,
        "server",
        "4.0.0",
        "Outputs a memory problems report.",
        ""
    ),
    cmd!(
        "memory|malloc-stats",
        2,
        0,
        0,
        0,
        0,
        crate::memory_diag::malloc_stats,
        "server",
        "4.0.0",
        "Returns the allocator statistics.",
        ""
    ),
    cmd!(
        "memory|purge",
        2,
        0,
        0,
        0,
        0,
        crate::memory_diag::purge,
        "server",
        "4.0.0",
        "Asks the allocator to release memory.",
        ""
    ),
    cmd!(
        "memory|help",
        2,
        LOADING | STALE,
        0,
        0,
        0,
        memory_help,
        "server",
        "4.0.0",
        "Returns helpful text about the different subcommands.",
        ""
    ),
];

/// DBSIZE
fn dbsize(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.int(ctx.srv.ks.dbsize(ctx.sess.db) as i64);
    Ok(())
}

/// `[ASYNC | SYNC]` of FLUSHDB/FLUSHALL: whether to free memory in the background.
fn flush_mode(args: Args<'_>) -> Result<bool, CmdError> {
    match args.len() {
        1 => Ok(false),
        2 if eq_ic(args.get(1), "async") => Ok(true),
        2 if eq_ic(args.get(1), "sync") => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lazy = flush_mode(args)?;
    ctx.srv.ks.flush(Some(ctx.sess.db), lazy);
    // No `Txn` wrote: log it here (the gate is held alone, so the flush has one place in
    // the stream).
    crate::effects::emit_pending(ctx.srv);
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lazy = flush_mode(args)?;
    ctx.srv.ks.flush(None, lazy);
    crate::effects::emit_pending(ctx.srv);
    ctx.out.ok();
    Ok(())
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = parse_int(args.get(1)).map_err(|_| CmdError::Static("ERR invalid first DB index"))?;
    let b = parse_int(args.get(2)).map_err(|_| CmdError::Static("ERR invalid second DB index"))?;
    let n = ctx.srv.ks.databases() as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.srv.ks.swap_db(a as usize, b as usize);
    crate::effects::emit_pending(ctx.srv);
    // Clients blocked in either database may find their key there now (Redis's
    // `scanDatabaseForReadyKeys`): they are served when SWAPDB ends.
    if ctx.srv.blocking.has_waiters() {
        ctx.srv.blocking.signal_db(a as usize);
        ctx.srv.blocking.signal_db(b as usize);
    }
    ctx.out.ok();
    Ok(())
}

/// TIME: [unix seconds, microseconds], from the system clock (not the keyspace's clock,
/// which has only millisecond resolution).
fn time(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array_len(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
///
/// The connection closes without a reply, as Redis's does; the server then takes the final
/// snapshot (with a save policy, or SAVE; never with NOSAVE: `persistence::save_on_shutdown`)
/// and exits. ABORT finds no shutdown in progress, since none is ever pending.
/// While a script is busy (past `busy-reply-threshold`) only NOSAVE stops the server, as in
/// Redis; it stops the script too, even one that has written (`request_shutdown`).
fn shutdown(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for a in args.iter().skip(1) {
        if eq_ic(a, "nosave") {
            nosave = true;
        } else if eq_ic(a, "save") {
            save = true;
        } else if eq_ic(a, "now") || eq_ic(a, "force") {
            other = true;
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (nosave && save) || (abort && (nosave || save || other)) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::Static("ERR No shutdown in progress."));
    }
    if !nosave
        && ctx
            .srv
            .gate
            .busy_since()
            .is_some_and(|t| t >= crate::busy_reply_threshold(ctx.srv))
    {
        return Err(CmdError::Static(ctx.srv.scripting.busy_message()));
    }
    let p = &ctx.srv.persistence;
    p.skip_shutdown_save
        .store(nosave, std::sync::atomic::Ordering::Relaxed);
    p.force_shutdown_save
        .store(save, std::sync::atomic::Ordering::Relaxed);
    ctx.srv.request_shutdown();
    ctx.sess.close = true;
    Ok(())
}

/// MEMORY <subcommand> …
fn memory(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    crate::dispatch_sub(ctx, MEMORY_SUBCOMMANDS, args)
}

/// MEMORY USAGE key [SAMPLES count]: the bytes the key's entry accounts for (its one
/// allocation plus index overhead), or nil. SAMPLES is accepted and checked; string values
/// are measured exactly, so it changes nothing.
fn memory_usage(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut i = 3;
    while i < args.len() {
        if eq_ic(args.get(i), "samples") && i + 1 < args.len() {
            let n = parse_int(args.get(i + 1))?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    match txn.peek(&k) {
        Some(e) => ctx.out.int(e.mem_usage() as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

fn memory_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(ctx, MEMORY_HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::TestCtx;

    #[test]
    fn dbsize_flush_swap() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
        t.run(&["SET", "a", "1"]);
        t.run(&["SET", "b", "2"]);
        assert_eq!(t.run(&["DBSIZE"]), ":2\r\n");
        assert_eq!(
            t.run(&["DBSIZE", "x"]),
            "-ERR wrong number of arguments for 'dbsize' command\r\n"
        );
        assert_eq!(t.run(&["SWAPDB", "0", "1"]), "+OK\r\n");
        assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
        assert_eq!(t.run(&["SELECT", "1"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "a"]), "$1\r\n1\r\n");
        assert_eq!(
            t.run(&["SWAPDB", "a", "1"]),
            "-ERR invalid first DB index\r\n"
        );
        assert_eq!(
            t.run(&["SWAPDB", "0", "b"]),
            "-ERR invalid second DB index\r\n"
        );
        assert_eq!(
            t.run(&["SWAPDB", "0", "16"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            t.run(&["SWAPDB", "-1", "0"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(t.run(&["FLUSHDB", "foo"]), "-ERR syntax error\r\n");
        assert_eq!(t.run(&["FLUSHDB", "SYNC", "x"]), "-ERR syntax error\r\n");
        t.run(&["SET", "c", "3"]);
        t.run(&["SELECT", "2"]);
        t.run(&["SET", "d", "4"]);
        assert_eq!(t.run(&["FLUSHDB", "async"]), "+OK\r\n");
        assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
        t.run(&["SELECT", "1"]);
        assert_eq!(t.run(&["DBSIZE"]), ":3\r\n");
        assert_eq!(t.run(&["FLUSHALL", "SYNC"]), "+OK\r\n");
        assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
        assert_eq!(t.srv.ks.used_memory(), 0);
        assert_eq!(t.run(&["FLUSHALL"]), "+OK\r\n");
        assert_eq!(t.run(&["FLUSHALL", "a", "b"]), "-ERR syntax error\r\n");
    }

    #[test]
    fn time_reply() {
        let t = TestCtx::new();
        let r = t.run(&["TIME"]);
        let parts: Vec<&str> = r.split("\r\n").collect();
        assert_eq!(parts[0], "*2");
        let secs: u64 = parts[2].parse().unwrap();
        let us: u64 = parts[4].parse().unwrap();
        assert!(secs > 1_700_000_000 && us < 1_000_000, "{r}");
    }

    #[test]
    fn shutdown_forms() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["SHUTDOWN", "ABORT"]),
            "-ERR No shutdown in progress.\r\n"
        );
        assert_eq!(t.run(&["SHUTDOWN", "foo"]), "-ERR syntax error\r\n");
        assert_eq!(
            t.run(&["SHUTDOWN", "NOSAVE", "SAVE"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["SHUTDOWN", "NOW", "ABORT"]),
            "-ERR syntax error\r\n"
        );
        assert!(!t.srv.shutdown.is_requested());
        // NOSAVE / SAVE decide the final snapshot (`persistence::save_on_shutdown`).
        assert_eq!(t.run(&["SHUTDOWN", "NOSAVE", "NOW", "FORCE"]), "");
        assert!(t
            .srv
            .persistence
            .skip_shutdown_save
            .load(std::sync::atomic::Ordering::Relaxed));
        assert!(t.srv.shutdown.is_requested());
        assert!(t.sess.lock().close);
    }

    #[test]
    fn memory_usage_and_stats() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["MEMORY", "USAGE", "nokey"]), "$-1\r\n");
        t.run(&["SET", "k", "value"]);
        let r = t.run(&["MEMORY", "USAGE", "k"]);
        let n: i64 = r.trim_start_matches(':').trim().parse().unwrap();
        assert!((30..200).contains(&n), "{r}");
        assert_eq!(t.run(&["MEMORY", "USAGE", "k", "SAMPLES", "0"]), r);
        assert_eq!(
            t.run(&["MEMORY", "USAGE", "k", "SAMPLES"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["MEMORY", "USAGE", "k", "SAMPLES", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["MEMORY", "USAGE", "k", "foo"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["MEMORY", "FOO"]),
            "-ERR unknown subcommand 'FOO'. Try MEMORY HELP.\r\n"
        );
        assert!(t
            .run(&["MEMORY", "HELP"])
            .starts_with("*14\r\n+MEMORY <subcommand>"));
        let s = t.run(&["MEMORY", "STATS"]);
        assert!(
            s.starts_with('*') && s.contains("$10\r\nkeys.count\r\n:1\r\n"),
            "{s}"
        );
        t.resp3();
        let s = t.run(&["MEMORY", "STATS"]);
        assert!(
            s.starts_with('%') && s.contains("fragmentation\r\n,"),
            "{s}"
        );
    }
}
