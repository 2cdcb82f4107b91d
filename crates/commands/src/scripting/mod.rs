//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and the SCRIPT container (LOAD,
//! EXISTS, FLUSH, KILL, HELP), and Redis 7's functions (FUNCTION …, FCALL, FCALL_RO:
//! `functions.rs`, `function_cmd.rs`), with Redis 7's semantics.
//!
//! ```text
//!  EVAL ──(EXCLUSIVE: holds the gate alone)──► Engine::run ──► Lua state (sandbox.lua)
//!        redis.call ──► ScriptCall::prepare (Redis's checks) ──► execute_in ──► RESP bytes
//!                   ◄── convert::reply_to_lua ◄── protocol::parse_reply ◄──┘
//!  script result ──► convert::lua_to_reply ──► caller's reply
//!  FCALL ──(EXCLUSIVE)──► Functions::find ──► Engine::run_in ──► the libraries' Lua state
//!        (sandbox.lua + functions.lua), callback(keys, args), the same redis.call path
//! ```
//!
//! EVAL and friends are flagged `EXCLUSIVE`: a script runs atomically, like MULTI/EXEC, on a
//! blocking-pool thread while other clients wait (and are answered BUSY past
//! `busy-reply-threshold`). SCRIPT KILL is `ALLOW_BUSY`, so it runs beside the script and
//! stops it through the engine's run state (`engine.rs`).
//!
//! Redis 7.0's `cjson`, `cmsgpack`, `struct` and `bit` libraries are `libs/` (Rust), wrapped
//! and published read-only by sandbox.lua.
//!
//! Not provided: SCRIPT DEBUG is an unknown subcommand; script flags in an EVAL script's `#!lua` shebang are not parsed (the
//! line is a Lua syntax error; function libraries' shebangs are, `functions.rs`).

mod convert;
pub mod engine;
pub mod function_cmd;
#[cfg(test)]
mod function_tests;
pub mod functions;
mod libs;
#[cfg(test)]
mod tests;

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, dispatch_sub, Ctx};
use engine::{sha1_hex, KillRefusal, ScriptError, BUSY_FUNCTION_MSG};
use protocol::Args;

/// The stack size for threads that run scripts (the runtimes' blocking pools): the cjson
/// and cmsgpack codecs recurse once per nesting level, up to the ~8,000 levels Redis's Lua
/// stack allows, and a debug build's frames are large. Only touched pages are committed.
pub const SCRIPT_THREAD_STACK: usize = 64 << 20;

const EVAL_FLAGS: u32 = NOSCRIPT | STALE | NO_MANDATORY_KEYS | MOVABLE_KEYS | EXCLUSIVE;

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("eval", -3, EVAL_FLAGS, 0, 0, 0, eval, "scripting", "2.6.0",
        "Executes a server-side Lua script.", "script numkeys [key [key ...]] [arg [arg ...]]"),
    cmd!("evalsha", -3, EVAL_FLAGS, 0, 0, 0, evalsha, "scripting", "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.", "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    cmd!("eval_ro", -3, READONLY | EVAL_FLAGS, 0, 0, 0, eval_ro, "scripting", "7.0.0",
        "Executes a read-only server-side Lua script.", "script numkeys [key [key ...]] [arg [arg ...]]"),
    cmd!("evalsha_ro", -3, READONLY | EVAL_FLAGS, 0, 0, 0, evalsha_ro, "scripting", "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
        "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    CommandSpec {
        subcommands: SCRIPT_SUBCOMMANDS,
        ..cmd!("script", -2, 0, 0, 0, 0, script, "scripting", "2.6.0",
            "A container for Lua scripts management commands.", "")
    },
];

#[rustfmt::skip]
const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("script|exists", -3, NOSCRIPT, 0, 0, 0, script_exists, "scripting", "2.6.0",
        "Determines whether server-side Lua scripts exist in the script cache.", "sha1 [sha1 ...]"),
    cmd!("script|flush", -2, NOSCRIPT, 0, 0, 0, script_flush, "scripting", "2.6.0",
        "Removes all server-side Lua scripts from the script cache.", "[ASYNC | SYNC]"),
    cmd!("script|help", 2, LOADING | STALE, 0, 0, 0, script_help, "scripting", "5.0.0",
        "Returns helpful text about the different subcommands.", ""),
    cmd!("script|kill", 2, NOSCRIPT | ALLOW_BUSY, 0, 0, 0, script_kill, "scripting", "2.6.0",
        "Terminates a server-side Lua script during execution.", ""),
    cmd!("script|load", 3, NOSCRIPT | STALE, 0, 0, 0, script_load, "scripting", "2.6.0",
        "Loads a server-side Lua script to the script cache.", "script"),
];

fn eval(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, true, true)
}

/// EVAL[SHA][_RO] script|sha1 numkeys [key …] [arg …]
fn eval_generic(ctx: &mut Ctx<'_>, args: Args<'_>, by_sha: bool, read_only: bool) -> CmdResult {
    let numkeys = parse_int(args.get(2))?;
    if numkeys < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    let rest: Vec<&[u8]> = args.iter().skip(3).collect();
    if numkeys as u64 > rest.len() as u64 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, argv) = rest.split_at(numkeys as usize);
    let (sha, body) = if by_sha {
        let s = args.get(1);
        if s.len() != 40 {
            return Err(CmdError::Static(NOSCRIPT_MSG));
        }
        (String::from_utf8_lossy(s).to_ascii_lowercase(), None)
    } else {
        (sha1_hex(args.get(1)), Some(args.get(1)))
    };
    let srv = ctx.srv;
    srv.scripting
        .run(
            srv,
            ctx.sess,
            &mut ctx.out,
            &sha,
            body,
            keys,
            argv,
            read_only,
        )
        .map_err(script_error)
}

const NOSCRIPT_MSG: &str = "NOSCRIPT No matching script. Please use EVAL.";

pub(super) fn script_error(e: ScriptError) -> CmdError {
    match e {
        ScriptError::NoScript => CmdError::Static(NOSCRIPT_MSG),
        ScriptError::Compile(m) => CmdError::Msg(m),
    }
}

/// SCRIPT <subcommand> …
fn script(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    dispatch_sub(ctx, SCRIPT_SUBCOMMANDS, args)
}

/// SCRIPT EXISTS sha1 [sha1 …]
fn script_exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ctx.out.array_len(args.len() - 2);
    for s in args.iter().skip(2) {
        let sha = String::from_utf8_lossy(s).to_ascii_lowercase();
        let found = ctx.srv.scripting.exists(&sha);
        ctx.out.int(found as i64);
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC | SYNC]: both modes drop the cache at once (it is small).
fn script_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let ok = match args.len() {
        2 => true,
        3 => eq_ic(args.get(2), "async") || eq_ic(args.get(2), "sync"),
        _ => false,
    };
    if !ok {
        return Err(CmdError::Static(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.srv.scripting.flush();
    ctx.out.ok();
    Ok(())
}

pub(super) const UNKILLABLE_MSG: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// SCRIPT KILL: stop the running script if it has not written yet (a running function is
/// FUNCTION KILL's: BUSY, as Redis answers).
fn script_kill(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    match ctx.srv.scripting.kill_kind(false) {
        Ok(()) => ctx.out.ok(),
        Err(KillRefusal::Unkillable) => return Err(CmdError::Static(UNKILLABLE_MSG)),
        Err(KillRefusal::OtherKind) => return Err(CmdError::Static(BUSY_FUNCTION_MSG)),
        Err(KillRefusal::NotBusy) => {
            return Err(CmdError::Static(
                "NOTBUSY No scripts in execution right now.",
            ))
        }
    }
    Ok(())
}

/// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let sha = ctx.srv.scripting.load(args.get(2)).map_err(script_error)?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT HELP
fn script_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    crate::client_cmd::reply_help(ctx, LINES);
    Ok(())
}
