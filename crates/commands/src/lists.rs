//! List commands: pushes, pops, reads and edits (this file); moves, multi-key pops and the
//! blocking variants (`lists/moves.rs`, built on `blocking.rs`).
//!
//! Values live in `storage::types::list` (compact blob while small, boxed deque when large);
//! a list that loses its last element is deleted, as Redis never keeps empty keys. Argument
//! parsing follows Redis's order (some commands parse numbers before looking the key up,
//! others after), because that order decides which error a client sees.

mod moves;
#[cfg(test)]
mod tests;

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use storage::types::list;
use storage::{Entry, Key, ObjType, Txn};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("lpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, lpush, "list", "1.0.0",
        "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        "key element [element ...]"),
    cmd!("rpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, rpush, "list", "1.0.0",
        "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        "key element [element ...]"),
    cmd!("lpushx", -3, WRITE | DENYOOM | FAST, 1, 1, 1, lpushx, "list", "2.2.0",
        "Prepends one or more elements to a list only when the list exists.",
        "key element [element ...]"),
    cmd!("rpushx", -3, WRITE | DENYOOM | FAST, 1, 1, 1, rpushx, "list", "2.2.0",
        "Appends an element to a list only when the list exists.",
        "key element [element ...]"),
    cmd!("lpop", -2, WRITE | FAST, 1, 1, 1, lpop, "list", "1.0.0",
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        "key [count]"),
    cmd!("rpop", -2, WRITE | FAST, 1, 1, 1, rpop, "list", "1.0.0",
        "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        "key [count]"),
    cmd!("llen", 2, READONLY | FAST, 1, 1, 1, llen, "list", "1.0.0",
        "Returns the length of a list.", "key"),
    cmd!("lrange", 4, READONLY, 1, 1, 1, lrange, "list", "1.0.0",
        "Returns a range of elements from a list.", "key start stop"),
    cmd!("lindex", 3, READONLY, 1, 1, 1, lindex, "list", "1.0.0",
        "Returns an element from a list by its index.", "key index"),
    cmd!("lset", 4, WRITE | DENYOOM, 1, 1, 1, lset, "list", "1.0.0",
        "Sets the value of an element in a list by its index.", "key index element"),
    cmd!("linsert", 5, WRITE | DENYOOM, 1, 1, 1, linsert, "list", "2.2.0",
        "Inserts an element before or after another element in a list.",
        "key <BEFORE | AFTER> pivot element"),
    cmd!("lrem", 4, WRITE, 1, 1, 1, lrem, "list", "1.0.0",
        "Removes elements from a list. Deletes the list if the last element was removed.",
        "key count element"),
    cmd!("ltrim", 4, WRITE, 1, 1, 1, ltrim, "list", "1.0.0",
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        "key start stop"),
    cmd!("lpos", -3, READONLY, 1, 1, 1, lpos, "list", "6.0.6",
        "Returns the index of matching elements in a list.",
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    cmd!("rpoplpush", 3, WRITE | DENYOOM, 1, 2, 1, moves::rpoplpush, "list", "1.2.0",
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        "source destination"),
    cmd!("lmove", 5, WRITE | DENYOOM, 1, 2, 1, moves::lmove, "list", "6.2.0",
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        "source destination <LEFT | RIGHT> <LEFT | RIGHT>"),
    cmd!("lmpop", -4, WRITE | MOVABLE_KEYS, 0, 0, 0, moves::lmpop, "list", "7.0.0",
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
    cmd!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, 1, -2, 1, moves::blpop, "list", "2.0.0",
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "key [key ...] timeout"),
    cmd!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, 1, -2, 1, moves::brpop, "list", "2.0.0",
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "key [key ...] timeout"),
    cmd!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, 1, 2, 1, moves::brpoplpush, "list", "2.2.0",
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        "source destination timeout"),
    cmd!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, 1, 2, 1, moves::blmove, "list", "6.2.0",
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout"),
    cmd!("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, 0, 0, 0, moves::blmpop, "list", "7.0.0",
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
];

/// `WRONGTYPE` unless the entry is a list.
#[inline]
fn check_list(e: &Entry) -> Result<(), CmdError> {
    if e.obj_type() == ObjType::List {
        Ok(())
    } else {
        Err(CmdError::WrongType)
    }
}

/// Push `elems` onto the list at `k`, creating it. The caller checked the type. Returns the
/// new length.
fn push_into<'e>(
    ctx: &Ctx<'_>,
    txn: &mut Txn<'_>,
    k: &Key,
    elems: impl IntoIterator<Item = &'e [u8]>,
    front: bool,
) -> usize {
    let limits = ctx.srv.settings.limits();
    if txn.exists(k) {
        return txn
            .modify(k, |e| list::push(e, elems, front, &limits))
            .unwrap_or(0);
    }
    let lfu = ctx.srv.ks.evict.policy().is_lfu();
    let lru = storage::evict::initial_lru(txn.now(), lfu);
    let e = list::new_entry(k.bytes, elems, front, k.slot, lru, &limits);
    let n = list::len(&e);
    txn.put_entry(k, e, 0);
    n
}

/// Pop up to `n` elements from one end of the list at `k` (type already checked), deleting
/// the key when it empties.
fn pop_from(txn: &mut Txn<'_>, k: &Key, front: bool, n: usize) -> Vec<Vec<u8>> {
    let (v, empty) = txn
        .modify(k, |e| {
            let v = list::pop_many(e, front, n);
            (v, list::len(e) == 0)
        })
        .unwrap_or_default();
    if empty {
        txn.delete(k);
    }
    v
}

fn push_generic(ctx: &mut Ctx<'_>, args: Args<'_>, front: bool, only_existing: bool) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.peek(&k) {
        Some(e) => check_list(e)?,
        None if only_existing => {
            ctx.out.int(0);
            return Ok(());
        }
        None => {}
    }
    let n = push_into(ctx, &mut txn, &k, args.iter().skip(2), front);
    ctx.out.int(n as i64);
    Ok(())
}

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, true, false)
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, false, false)
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, true, true)
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, false, true)
}

/// Parse a pop count (LPOP/RPOP's `count`): a non-negative integer.
fn parse_pop_count(b: &[u8]) -> Result<usize, CmdError> {
    match parse_int(b) {
        Ok(n) if n >= 0 => Ok(n as usize),
        _ => Err(CmdError::Static(
            "ERR value is out of range, must be positive",
        )),
    }
}

fn pop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, front: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::WrongArity);
    }
    let count = match args.try_get(2) {
        Some(c) => Some(parse_pop_count(c)?),
        None => None,
    };
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.peek(&k) {
        None => {
            // Without a count: a null bulk; with one: a null array (RESP3: both `_`).
            if count.is_some() {
                ctx.out.null_array();
            } else {
                ctx.out.null();
            }
            return Ok(());
        }
        Some(e) => check_list(e)?,
    }
    match count {
        None => {
            let v = pop_from(&mut txn, &k, front, 1);
            ctx.out.bulk(&v[0]);
        }
        Some(n) => {
            let v = if n == 0 {
                Vec::new()
            } else {
                pop_from(&mut txn, &k, front, n)
            };
            ctx.out.array_len(v.len());
            for x in &v {
                ctx.out.bulk(x);
            }
        }
    }
    Ok(())
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    pop_generic(ctx, args, true)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    pop_generic(ctx, args, false)
}

/// LLEN key
fn llen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = match txn.get(&k) {
        None => 0,
        Some(e) => {
            check_list(e)?;
            list::len(e)
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let start = parse_int(args.get(2))?;
    let stop = parse_int(args.get(3))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(e) = txn.get(&k) else {
        ctx.out.array_len(0);
        return Ok(());
    };
    check_list(e)?;
    match list::clamp_range(start, stop, list::len(e)) {
        None => ctx.out.array_len(0),
        Some((s, t)) => {
            ctx.out.array_len(t - s + 1);
            list::for_range(e, s, t, |v| ctx.out.bulk(v));
        }
    }
    Ok(())
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(e) = txn.get(&k) else {
        ctx.out.null();
        return Ok(());
    };
    check_list(e)?;
    let i = parse_int(args.get(2))?;
    match list::resolve_index(i, list::len(e)).and_then(|i| list::get(e, i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LSET key index element
fn lset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = match txn.peek(&k) {
        None => return Err(CmdError::NoSuchKey),
        Some(e) => {
            check_list(e)?;
            list::len(e)
        }
    };
    let i = parse_int(args.get(2))?;
    let Some(i) = list::resolve_index(i, n) else {
        return Err(CmdError::Static("ERR index out of range"));
    };
    let limits = ctx.srv.settings.limits();
    txn.modify(&k, |e| list::set(e, i, args.get(3), &limits));
    ctx.out.ok();
    Ok(())
}

/// LINSERT key <BEFORE | AFTER> pivot element
fn linsert(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let before = match args.get(2) {
        w if eq_ic(w, "before") => true,
        w if eq_ic(w, "after") => false,
        _ => return Err(CmdError::Syntax),
    };
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.peek(&k) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) => check_list(e)?,
    }
    let limits = ctx.srv.settings.limits();
    // A missing pivot inserts nothing: no change for WATCH.
    let r = txn
        .modify_if(&k, |e| {
            let r = list::insert(e, args.get(3), args.get(4), before, &limits);
            let changed = r.is_some();
            (r, changed)
        })
        .flatten();
    ctx.out.int(r.map_or(-1, |n| n as i64));
    Ok(())
}

/// LREM key count element
fn lrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let count = parse_int(args.get(2))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.peek(&k) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) => check_list(e)?,
    }
    let (n, empty) = txn
        .modify_if(&k, |e| {
            let n = list::rem(e, count, args.get(3));
            ((n, list::len(e) == 0), n > 0)
        })
        .unwrap_or_default();
    if empty {
        txn.delete(&k);
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let start = parse_int(args.get(2))?;
    let stop = parse_int(args.get(3))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = match txn.peek(&k) {
        None => {
            ctx.out.ok();
            return Ok(());
        }
        Some(e) => {
            check_list(e)?;
            list::len(e)
        }
    };
    match list::clamp_range(start, stop, n) {
        None => {
            txn.delete(&k);
        }
        // Nothing to trim, but Redis signals the key all the same (WATCH sees a change).
        Some((s, t)) if s == 0 && t + 1 == n => txn.signal_modified(&k),
        Some((s, t)) => {
            txn.modify(&k, |e| list::trim(e, s, t));
        }
    }
    ctx.out.ok();
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        let Some(val) = args.try_get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if eq_ic(opt, "rank") {
            rank = parse_int(val)?;
            if rank == 0 {
                return Err(CmdError::Static("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
        } else if eq_ic(opt, "count") {
            // Redis answers any unusable COUNT/MAXLEN (negative or not a number) this way.
            match parse_int(val) {
                Ok(c) if c >= 0 => count = Some(c),
                _ => return Err(CmdError::Static("ERR COUNT can't be negative")),
            }
        } else if eq_ic(opt, "maxlen") {
            match parse_int(val) {
                Ok(m) if m >= 0 => maxlen = m,
                _ => return Err(CmdError::Static("ERR MAXLEN can't be negative")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(e) = txn.get(&k) else {
        match count {
            Some(_) => ctx.out.array_len(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    check_list(e)?;
    let elems = list::elements(e);
    let n = elems.len();
    let want = args.get(2);
    let limit = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(c) => c as usize,
    };
    let scan = if maxlen == 0 {
        n
    } else {
        (maxlen as usize).min(n)
    };
    let mut skip = rank.unsigned_abs() - 1;
    let mut found: Vec<usize> = Vec::new();
    for step in 0..scan {
        let idx = if rank > 0 { step } else { n - 1 - step };
        if elems[idx] == want {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            found.push(idx);
            if found.len() >= limit {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            ctx.out.array_len(found.len());
            for x in found {
                ctx.out.int(x as i64);
            }
        }
        None => match found.first() {
            Some(&x) => ctx.out.int(x as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}
