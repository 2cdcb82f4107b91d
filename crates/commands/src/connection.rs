//! Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, and CLIENT.

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::parse_int;
use crate::{cmd, Ctx};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;

pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "ping",
        -1,
        FAST | STALE | LOADING,
        0,
        0,
        0,
        ping,
        "connection",
        "1.0.0",
        "Returns the server's liveliness response.",
        "[message]"
    ),
    cmd!(
        "echo",
        2,
        FAST | STALE | LOADING,
        0,
        0,
        0,
        echo,
        "connection",
        "1.0.0",
        "Returns the given string.",
        "message"
    ),
    cmd!(
        "quit",
        -1,
        FAST | STALE | LOADING | NO_AUTH | ALLOW_BUSY,
        0,
        0,
        0,
        quit,
        "connection",
        "1.0.0",
        "Closes the connection.",
        ""
    ),
    cmd!(
        "select",
        2,
        FAST | STALE | LOADING,
        0,
        0,
        0,
        select,
        "connection",
        "2.0.0",
        "Changes the selected database.",
        "index"
    ),
];

/// PING [message]
fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => return Err(CmdError::WrongArity),
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ctx.out.bulk(args.get(1));
    Ok(())
}

/// QUIT: reply OK, then close once the reply is written.
fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.ok();
    ctx.sess.close = true;
    Ok(())
}

/// SELECT index
fn select(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let i = parse_int(args.get(1)).map_err(|_| CmdError::Static("ERR invalid DB index"))?;
    if i < 0 || i as usize >= ctx.srv.ks.databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.sess.db = i as usize;
    ctx.sess.handle.db.store(i as usize, Relaxed);
    ctx.out.ok();
    Ok(())
}
