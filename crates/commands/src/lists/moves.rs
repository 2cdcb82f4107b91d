//! Moves and multi-key pops (RPOPLPUSH, LMOVE, LMPOP) and their blocking forms (BLPOP,
//! BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP).
//!
//! Each blocking command has one core that runs under a `Txn` locking all its keys. The
//! handler runs it once; if nothing was there it blocks through `blocking::block` (still
//! holding the `Txn`, so no push can slip between the check and the registration), or, in
//! MULTI/EXEC and scripts, answers its non-blocking null. The same core, as a `ServeFn`,
//! serves the waiter later on the pushing client's thread; in that mode a source key of
//! another type is skipped (Redis leaves the waiter blocked) while a destination of another
//! type answers WRONGTYPE (as Redis does at wake-up).

use super::{check_list, pop_from, push_into};
use crate::blocking;
use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_int};
use crate::Ctx;
use protocol::Args;
use std::time::Instant;
use storage::types::list;
use storage::{Key, ObjType, Txn};

/// LEFT (head, true) or RIGHT (tail, false).
fn parse_side(b: &[u8]) -> Result<bool, CmdError> {
    if eq_ic(b, "left") {
        Ok(true)
    } else if eq_ic(b, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Whether a source key holds a list to pop from: `Ok(false)` when missing, or (when
/// `serving`) of another type.
fn source_ready(txn: &mut Txn<'_>, k: &Key, serving: bool) -> Result<bool, CmdError> {
    match txn.peek(k) {
        None => Ok(false),
        Some(e) if e.obj_type() != ObjType::List => {
            if serving {
                Ok(false)
            } else {
                Err(CmdError::WrongType)
            }
        }
        Some(_) => Ok(true),
    }
}

/// Move one element from `src` to `dst` under `txn` (which locks both). `None` when there
/// is nothing to move.
fn move_locked(
    ctx: &Ctx<'_>,
    txn: &mut Txn<'_>,
    src: &Key,
    dst: &Key,
    from_front: bool,
    to_front: bool,
    serving: bool,
) -> Result<Option<Vec<u8>>, CmdError> {
    if !source_ready(txn, src, serving)? {
        return Ok(None);
    }
    if let Some(e) = txn.peek(dst) {
        check_list(e)?;
    }
    // Pop without deleting, push, then delete an emptied source: with src == dst a
    // one-element list rotates in place and keeps its TTL, as in Redis.
    let Some(v) = txn.modify(src, |e| list::pop(e, from_front)).flatten() else {
        return Ok(None);
    };
    push_into(ctx, txn, dst, [&v[..]], to_front);
    if txn.peek(src).is_some_and(|e| list::len(e) == 0) {
        txn.delete(src);
    }
    Ok(Some(v))
}

fn move_cmd(ctx: &mut Ctx<'_>, args: Args<'_>, from_front: bool, to_front: bool) -> CmdResult {
    let (ks, kd) = (ctx.key(args.get(1)), ctx.key(args.get(2)));
    let mut txn = ctx.txn(&[ks, kd]);
    match move_locked(ctx, &mut txn, &ks, &kd, from_front, to_front, false)? {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RPOPLPUSH source destination
pub(super) fn rpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    move_cmd(ctx, args, false, true)
}

/// LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>
pub(super) fn lmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let from = parse_side(args.get(3))?;
    let to = parse_side(args.get(4))?;
    move_cmd(ctx, args, from, to)
}

/// The blocking move: sides and timeout parsed by the caller.
fn bmove(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    sides: (bool, bool),
    deadline: Option<Instant>,
    serve: blocking::ServeFn,
) -> CmdResult {
    let (ks, kd) = (ctx.key(args.get(1)), ctx.key(args.get(2)));
    let mut txn = ctx.txn(&[ks, kd]);
    match move_locked(ctx, &mut txn, &ks, &kd, sides.0, sides.1, false)? {
        Some(v) => ctx.out.bulk(&v),
        // In MULTI/scripts: RPOPLPUSH's null bulk.
        None if blocking::deny(ctx) => ctx.out.null(),
        None => blocking::block(ctx, &[args.get(1)], deadline, args, serve),
    }
    Ok(())
}

fn serve_move(ctx: &mut Ctx<'_>, args: Args<'_>, from: bool, to: bool) -> Result<bool, CmdError> {
    let (ks, kd) = (ctx.key(args.get(1)), ctx.key(args.get(2)));
    let mut txn = ctx.txn(&[ks, kd]);
    match move_locked(ctx, &mut txn, &ks, &kd, from, to, true)? {
        Some(v) => {
            ctx.out.bulk(&v);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// BRPOPLPUSH source destination timeout
pub(super) fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let deadline = blocking::parse_timeout(args.get(3))?;
    bmove(ctx, args, (false, true), deadline, serve_brpoplpush)
}

fn serve_brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    serve_move(ctx, args, false, true)
}

/// BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout
pub(super) fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let from = parse_side(args.get(3))?;
    let to = parse_side(args.get(4))?;
    let deadline = blocking::parse_timeout(args.get(5))?;
    bmove(ctx, args, (from, to), deadline, serve_blmove)
}

fn serve_blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    let from = parse_side(args.get(3))?;
    let to = parse_side(args.get(4))?;
    serve_move(ctx, args, from, to)
}

/// BLPOP/BRPOP's core: pop one element from the first non-empty list of `keys` and reply
/// [key, element]. False when all are empty.
fn bpop_locked(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_>,
    keys: &[Key],
    front: bool,
    serving: bool,
) -> Result<bool, CmdError> {
    for k in keys {
        if source_ready(txn, k, serving)? {
            let v = pop_from(txn, k, front, 1);
            ctx.out.array_len(2);
            ctx.out.bulk(k.bytes);
            ctx.out.bulk(&v[0]);
            return Ok(true);
        }
    }
    Ok(false)
}

fn bpop(ctx: &mut Ctx<'_>, args: Args<'_>, front: bool, serve: blocking::ServeFn) -> CmdResult {
    let deadline = blocking::parse_timeout(args.get(args.len() - 1))?;
    let raw: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let keys: Vec<Key> = raw.iter().map(|k| ctx.key(k)).collect();
    let mut txn = ctx.txn(&keys);
    if bpop_locked(ctx, &mut txn, &keys, front, false)? {
        return Ok(());
    }
    if blocking::deny(ctx) {
        ctx.out.null_array();
    } else {
        blocking::block(ctx, &raw, deadline, args, serve);
    }
    Ok(())
}

fn serve_bpop(ctx: &mut Ctx<'_>, args: Args<'_>, front: bool) -> Result<bool, CmdError> {
    let keys: Vec<Key> = (1..args.len() - 1).map(|i| ctx.key(args.get(i))).collect();
    let mut txn = ctx.txn(&keys);
    bpop_locked(ctx, &mut txn, &keys, front, true)
}

/// BLPOP key [key ...] timeout
pub(super) fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bpop(ctx, args, true, serve_blpop)
}

fn serve_blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    serve_bpop(ctx, args, true)
}

/// BRPOP key [key ...] timeout
pub(super) fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bpop(ctx, args, false, serve_brpop)
}

fn serve_brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    serve_bpop(ctx, args, false)
}

/// LMPOP/BLMPOP arguments after the numkeys position.
struct Mpop {
    keys: std::ops::Range<usize>,
    front: bool,
    count: usize,
}

/// Parse `numkeys key [key ...] <LEFT | RIGHT> [COUNT count]` starting at `at`.
fn parse_mpop(args: Args<'_>, at: usize) -> Result<Mpop, CmdError> {
    let numkeys = match parse_int(args.get(at)) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err(CmdError::Static("ERR numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - at - 2) as u64 {
        return Err(CmdError::Syntax);
    }
    let first = at + 1;
    let side_at = first + numkeys as usize;
    let front = parse_side(args.get(side_at))?;
    let mut count = None;
    let mut i = side_at + 1;
    while i < args.len() {
        if count.is_none() && eq_ic(args.get(i), "count") && i + 1 < args.len() {
            match parse_int(args.get(i + 1)) {
                Ok(c) if c > 0 => count = Some(c as usize),
                _ => return Err(CmdError::Static("ERR count should be greater than 0")),
            }
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(Mpop {
        keys: first..side_at,
        front,
        count: count.unwrap_or(1),
    })
}

/// LMPOP/BLMPOP's core: pop up to `count` from the first non-empty list and reply
/// [key, [elements]]. False when all are empty.
fn mpop_locked(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_>,
    keys: &[Key],
    m: &Mpop,
    serving: bool,
) -> Result<bool, CmdError> {
    for k in keys {
        if source_ready(txn, k, serving)? {
            let v = pop_from(txn, k, m.front, m.count);
            ctx.out.array_len(2);
            ctx.out.bulk(k.bytes);
            ctx.out.array_len(v.len());
            for x in &v {
                ctx.out.bulk(x);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
pub(super) fn lmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let m = parse_mpop(args, 1)?;
    let keys: Vec<Key> = m.keys.clone().map(|i| ctx.key(args.get(i))).collect();
    let mut txn = ctx.txn(&keys);
    if !mpop_locked(ctx, &mut txn, &keys, &m, false)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
pub(super) fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let deadline = blocking::parse_timeout(args.get(1))?;
    let m = parse_mpop(args, 2)?;
    let raw: Vec<&[u8]> = m.keys.clone().map(|i| args.get(i)).collect();
    let keys: Vec<Key> = raw.iter().map(|k| ctx.key(k)).collect();
    let mut txn = ctx.txn(&keys);
    if mpop_locked(ctx, &mut txn, &keys, &m, false)? {
        return Ok(());
    }
    if blocking::deny(ctx) {
        ctx.out.null_array();
    } else {
        blocking::block(ctx, &raw, deadline, args, serve_blmpop);
    }
    Ok(())
}

fn serve_blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    let m = parse_mpop(args, 2)?;
    let keys: Vec<Key> = m.keys.clone().map(|i| ctx.key(args.get(i))).collect();
    let mut txn = ctx.txn(&keys);
    mpop_locked(ctx, &mut txn, &keys, &m, true)
}
