//! BZPOPMIN, BZPOPMAX and BZMPOP: the blocking forms of ZPOPMIN/ZPOPMAX/ZMPOP, on the list
//! family's blocking machinery (`crate::blocking`): try the non-blocking core under the
//! keys' `Txn`; if every key is empty, register the client as a waiter while still holding
//! it (no push can slip in between), or answer null inside MULTI/EXEC and scripts.

use super::pop::{parse_mpop, pop_first_nonempty_locked, reply_mpop};
use crate::blocking;
use crate::error::{CmdError, CmdResult};
use crate::Ctx;
use protocol::Args;
use storage::Key;

/// BZPOPMIN/BZPOPMAX key [key ...] timeout → [key, member, score] (score a double in RESP3).
fn bzpop_locked(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    max: bool,
    serving: bool,
) -> Result<bool, CmdError> {
    let keys: Vec<Key> = (1..args.len() - 1).map(|i| ctx.key(args.get(i))).collect();
    let mut txn = ctx.txn(&keys);
    match pop_first_nonempty_locked(ctx, &mut txn, &keys, 1, max, serving)? {
        Some(r) => {
            drop(txn);
            let (m, s) = &r.items[0];
            ctx.out.array_len(3);
            ctx.out.bulk(&r.key);
            ctx.out.bulk(m);
            ctx.out.double(*s);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn bzpop(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool, serve: blocking::ServeFn) -> CmdResult {
    let deadline = blocking::parse_timeout(args.get(args.len() - 1))?;
    let raw: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let keys: Vec<Key> = raw.iter().map(|k| ctx.key(k)).collect();
    let mut txn = ctx.txn(&keys);
    if let Some(r) = pop_first_nonempty_locked(ctx, &mut txn, &keys, 1, max, false)? {
        drop(txn);
        let (m, s) = &r.items[0];
        ctx.out.array_len(3);
        ctx.out.bulk(&r.key);
        ctx.out.bulk(m);
        ctx.out.double(*s);
        return Ok(());
    }
    if blocking::deny(ctx) {
        ctx.out.null_array();
    } else {
        blocking::block(ctx, &raw, deadline, args, serve);
    }
    drop(txn);
    Ok(())
}

/// BZPOPMIN key [key ...] timeout
pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bzpop(ctx, args, false, serve_bzpopmin)
}

fn serve_bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    bzpop_locked(ctx, args, false, true)
}

/// BZPOPMAX key [key ...] timeout
pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bzpop(ctx, args, true, serve_bzpopmax)
}

fn serve_bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    bzpop_locked(ctx, args, true, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
pub(super) fn bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let deadline = blocking::parse_timeout(args.get(1))?;
    let (raw, max, count) = parse_mpop(&args, 2)?;
    let keys: Vec<Key> = raw.iter().map(|k| ctx.key(k)).collect();
    let mut txn = ctx.txn(&keys);
    if let Some(r) = pop_first_nonempty_locked(ctx, &mut txn, &keys, count, max, false)? {
        drop(txn);
        reply_mpop(&mut ctx.out, Some(&r));
        return Ok(());
    }
    if blocking::deny(ctx) {
        ctx.out.null_array();
    } else {
        blocking::block(ctx, &raw, deadline, args, serve_bzmpop);
    }
    drop(txn);
    Ok(())
}

fn serve_bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    let (raw, max, count) = parse_mpop(&args, 2)?;
    let keys: Vec<Key> = raw.iter().map(|k| ctx.key(k)).collect();
    let mut txn = ctx.txn(&keys);
    match pop_first_nonempty_locked(ctx, &mut txn, &keys, count, max, true)? {
        Some(r) => {
            drop(txn);
            reply_mpop(&mut ctx.out, Some(&r));
            Ok(true)
        }
        None => Ok(false),
    }
}
