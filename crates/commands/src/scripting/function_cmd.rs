//! The FUNCTION container (LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE, STATS, KILL, HELP)
//! and FCALL / FCALL_RO, with Redis 7's replies and error words. The libraries themselves
//! are `functions.rs`'s; running a function is the engine's (`engine::run_in`).
//!
//! FCALL is `EXCLUSIVE` like EVAL: a function runs atomically on a blocking-pool thread
//! while other clients wait (BUSY past `busy-reply-threshold`, naming FUNCTION KILL).
//! FUNCTION STATS and KILL are `ALLOW_BUSY`: they run beside it and touch neither the Lua
//! state nor anything a running function holds. The commands that change the libraries
//! (LOAD, DELETE, FLUSH, RESTORE) are `write`: the append-only log records them as sent,
//! under the registry's lock so in the order they took effect, and each counts as one change
//! for the snapshot policy (Redis's `server.dirty++`). FLUSHALL leaves functions alone.

use super::engine::{Invocation, KillRefusal};
use super::functions::{self, flags as fflags, Policy};
use super::{script_error, UNKILLABLE_MSG};
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, lossy};
use crate::{cmd, dispatch_sub, Ctx, ServerState};
use protocol::Args;

const FCALL_FLAGS: u32 = NOSCRIPT | STALE | NO_MANDATORY_KEYS | MOVABLE_KEYS | EXCLUSIVE;

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("fcall", -3, FCALL_FLAGS | MAY_REPLICATE, 0, 0, 0, fcall, "scripting", "7.0.0",
        "Invokes a function.", "function numkeys [key [key ...]] [arg [arg ...]]"),
    cmd!("fcall_ro", -3, READONLY | FCALL_FLAGS, 0, 0, 0, fcall_ro, "scripting", "7.0.0",
        "Invokes a read-only function.", "function numkeys [key [key ...]] [arg [arg ...]]"),
    CommandSpec {
        subcommands: FUNCTION_SUBCOMMANDS,
        ..cmd!("function", -2, 0, 0, 0, 0, function, "scripting", "7.0.0",
            "A container for function commands.", "")
    },
];

#[rustfmt::skip]
const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("function|delete", 3, NOSCRIPT | WRITE, 0, 0, 0, function_delete, "scripting", "7.0.0",
        "Deletes a library and its functions.", "library-name"),
    cmd!("function|dump", 2, NOSCRIPT, 0, 0, 0, function_dump, "scripting", "7.0.0",
        "Dumps all libraries into a serialized binary payload.", ""),
    cmd!("function|flush", -2, NOSCRIPT | WRITE, 0, 0, 0, function_flush, "scripting", "7.0.0",
        "Deletes all libraries and functions.", "[ASYNC | SYNC]"),
    cmd!("function|help", 2, LOADING | STALE, 0, 0, 0, function_help, "scripting", "7.0.0",
        "Returns helpful text about the different subcommands.", ""),
    cmd!("function|kill", 2, NOSCRIPT | ALLOW_BUSY, 0, 0, 0, function_kill, "scripting", "7.0.0",
        "Terminates a function during execution.", ""),
    cmd!("function|list", -2, NOSCRIPT, 0, 0, 0, function_list, "scripting", "7.0.0",
        "Returns information about all libraries.", "[LIBRARYNAME library-name-pattern] [WITHCODE]"),
    cmd!("function|load", -3, NOSCRIPT | WRITE | DENYOOM, 0, 0, 0, function_load, "scripting", "7.0.0",
        "Creates a library.", "[REPLACE] function-code"),
    cmd!("function|restore", -3, NOSCRIPT | WRITE | DENYOOM, 0, 0, 0, function_restore, "scripting",
        "7.0.0", "Restores all libraries from a payload.",
        "serialized-value [FLUSH | APPEND | REPLACE]"),
    cmd!("function|stats", 2, NOSCRIPT | ALLOW_BUSY, 0, 0, 0, function_stats, "scripting", "7.0.0",
        "Returns information about a function during execution.", ""),
];

/// FUNCTION <subcommand> …
fn function(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    dispatch_sub(ctx, FUNCTION_SUBCOMMANDS, args)
}

/// Redis's addReplySubcommandSyntaxError, for FUNCTION's subcommands.
fn syntax_error(args: Args<'_>) -> CmdError {
    let sub: String = lossy(args.get(1)).chars().take(128).collect();
    CmdError::Msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
    ))
}

/// A change to the libraries took effect: one change for the snapshot policy, and the
/// command into the append-only log (as sent). Runs under the registry's lock.
fn changed(srv: &ServerState) {
    srv.ks.count_change();
    crate::effects::emit_pending(srv);
}

/// FUNCTION LOAD [REPLACE] function-code
fn function_load(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut replace = false;
    let mut at = 2;
    // Everything but the last argument is an option (so `LOAD REPLACE` alone is code).
    while at < args.len() - 1 {
        let a = args.get(at);
        at += 1;
        if eq_ic(a, "replace") {
            replace = true;
            continue;
        }
        return Err(CmdError::Msg(format!(
            "ERR Unknown option given: {}",
            lossy(a)
        )));
    }
    let srv = ctx.srv;
    let name = srv
        .scripting
        .functions
        .load(args.get(at), replace, srv.ks.replaying(), || changed(srv))
        .map_err(CmdError::Msg)?;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    if !srv.scripting.functions.delete(args.get(2), || changed(srv)) {
        return Err(CmdError::Static("ERR Library not found"));
    }
    ctx.out.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC | SYNC]: both drop the libraries at once.
fn function_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_error(args));
    }
    if args.len() == 3 && !eq_ic(args.get(2), "sync") && !eq_ic(args.get(2), "async") {
        return Err(CmdError::Static(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    let srv = ctx.srv;
    srv.scripting.functions.flush(|| changed(srv));
    ctx.out.ok();
    Ok(())
}

/// FUNCTION DUMP
fn function_dump(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let payload = ctx.srv.scripting.functions.dump();
    ctx.out.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
fn function_restore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 4 {
        return Err(syntax_error(args));
    }
    let policy =
        match args.try_get(3) {
            None => Policy::Append,
            Some(p) if eq_ic(p, "append") => Policy::Append,
            Some(p) if eq_ic(p, "replace") => Policy::Replace,
            Some(p) if eq_ic(p, "flush") => Policy::Flush,
            Some(_) => return Err(CmdError::Static(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let codes = functions::parse_dump(args.get(2)).map_err(CmdError::Msg)?;
    let srv = ctx.srv;
    srv.scripting
        .functions
        .install(&codes, policy, || changed(srv))
        .map_err(CmdError::Msg)?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]: libraries in name order, each a map of
/// library_name, engine, functions (name, description, flags) and, with WITHCODE,
/// library_code. The pattern matches names case-insensitively, as Redis's does.
fn function_list(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if !with_code && eq_ic(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(a, "libraryname") {
            if i + 1 >= args.len() {
                return Err(CmdError::Static("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(args.get(i));
        } else {
            return Err(CmdError::Msg(format!("ERR Unknown argument {}", lossy(a))));
        }
        i += 1;
    }
    let mut libs = Vec::new();
    ctx.srv.scripting.functions.for_each(|lib| {
        if pattern.is_none_or(|p| crate::glob::glob_match(p, lib.name.as_bytes(), true)) {
            libs.push(list_entry(lib, with_code));
        }
    });
    let out = &mut ctx.out;
    out.array_len(libs.len());
    for lib in &libs {
        out.map_len(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(functions::ENGINE.as_bytes());
        out.bulk(b"functions");
        out.array_len(lib.functions.len());
        for (name, desc, flags) in &lib.functions {
            out.map_len(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"description");
            match desc {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = fflags::NAMES
                .iter()
                .filter(|(bit, _)| flags & bit != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set_len(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if let Some(code) = &lib.code {
            out.bulk(b"library_code");
            out.bulk(code);
        }
    }
    Ok(())
}

/// What FUNCTION LIST shows of a library, copied out of the registry's lock.
struct ListEntry {
    name: String,
    /// (name, description, flags) per function, in registration order.
    functions: Vec<(String, Option<Vec<u8>>, u8)>,
    code: Option<Vec<u8>>,
}

fn list_entry(lib: &functions::Library, with_code: bool) -> ListEntry {
    ListEntry {
        name: lib.name.clone(),
        functions: lib
            .functions
            .iter()
            .map(|f| (f.name.clone(), f.description.clone(), f.flags))
            .collect(),
        code: with_code.then(|| lib.code.clone()),
    }
}

/// FUNCTION STATS: the running function (name, command, duration_ms) or null, and the
/// engine's library and function counts. While an EVAL script runs: BUSY, as Redis.
fn function_stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let engine = &ctx.srv.scripting;
    let running = engine.running();
    if running.as_ref().is_some_and(|r| !r.function) {
        return Err(CmdError::Static(crate::BUSY_MSG));
    }
    let (libraries, functions) = engine.functions.counts();
    let out = &mut ctx.out;
    out.map_len(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(r) => {
            out.map_len(3);
            out.bulk(b"name");
            out.bulk(r.name.as_bytes());
            out.bulk(b"command");
            out.array_len(r.command.len());
            for a in &r.command {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(r.started.elapsed().as_millis() as i64);
        }
    }
    out.bulk(b"engines");
    out.map_len(1);
    out.bulk(functions::ENGINE.as_bytes());
    out.map_len(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
    Ok(())
}

/// FUNCTION KILL: stop the running function if it has not written.
fn function_kill(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    match ctx.srv.scripting.kill_kind(true) {
        Ok(()) => ctx.out.ok(),
        Err(KillRefusal::NotBusy) => {
            return Err(CmdError::Static(
                "NOTBUSY No scripts in execution right now.",
            ))
        }
        Err(KillRefusal::Unkillable) => return Err(CmdError::Static(UNKILLABLE_MSG)),
        Err(KillRefusal::OtherKind) => return Err(CmdError::Static(crate::BUSY_MSG)),
    }
    Ok(())
}

/// FUNCTION HELP
fn function_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    const LINES: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    crate::client_cmd::reply_help(ctx, LINES);
    Ok(())
}

fn fcall(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    fcall_generic(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    fcall_generic(ctx, args, true)
}

/// FCALL[_RO] function numkeys [key …] [arg …], with Redis's checks in its order: the
/// function; then what Redis's processCommand checks with the function's flags (a function
/// without `no-writes` is a write command, and without `allow-oom` too a `denyoom` one);
/// the key count; then scriptPrepareForRun's (`no-cluster`, a write function by FCALL_RO).
fn fcall_generic(ctx: &mut Ctx<'_>, args: Args<'_>, ro: bool) -> CmdResult {
    let srv = ctx.srv;
    let engine = &srv.scripting;
    let Some(called) = engine.functions.find(args.get(1)) else {
        return Err(CmdError::Static("ERR Function not found"));
    };
    let writes = called.flags & fflags::NO_WRITES == 0;
    let allow_oom = called.flags & fflags::ALLOW_OOM != 0;
    if writes && !allow_oom && srv.ks.ensure_memory().is_err() {
        return Err(CmdError::Oom);
    }
    if writes {
        use std::sync::atomic::Ordering::Relaxed;
        if !srv.persistence.last_ok.load(Relaxed) && crate::persistence::writes_refused(srv) {
            return Err(CmdError::Static(crate::persistence::MISCONF_MSG));
        }
        if srv.aof.refusing_writes() {
            return Err(CmdError::Msg(srv.aof.misconf_message()));
        }
    }
    let numkeys = crate::util::parse_int(args.get(2))
        .map_err(|_| CmdError::Static("ERR Bad number of keys provided"))?;
    let rest: Vec<&[u8]> = args.iter().skip(3).collect();
    if numkeys > rest.len() as i64 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    if called.flags & fflags::NO_CLUSTER != 0 && srv.cluster.get().is_some() {
        return Err(CmdError::Static(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    if writes && ro {
        return Err(CmdError::Static(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let (keys, argv) = rest.split_at(numkeys as usize);
    let name = called.name.clone();
    let inv = Invocation {
        name: &name,
        read_only: ro || !writes,
        allow_oom,
        function: true,
        command: args.iter().map(<[u8]>::to_vec).collect(),
    };
    let (sess, out) = (&*ctx.sess, &mut ctx.out);
    engine
        .functions
        .run(called, |lua, runner, f| {
            engine.run_in(srv, sess, out, lua, runner, f, keys, argv, inv)
        })
        .map_err(CmdError::Msg)?
        .map_err(script_error)
}
