//! ZPOPMIN, ZPOPMAX and ZMPOP, and their non-blocking core (`pop_first_nonempty`), which the
//! blocking BZPOPMIN/BZPOPMAX/BZMPOP reuse once the blocking machinery is wired in.

use super::{read_zset_type_only, write_zset_if};
use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_int};
use crate::Ctx;
use protocol::{Args, Reply};
use storage::types::zset;

/// What a pop took: the key it came from and the (member, score) pairs in pop order.
#[derive(Debug, Clone, PartialEq)]
pub struct PopResult {
    pub key: Vec<u8>,
    pub items: Vec<(Vec<u8>, f64)>,
}

/// Pop up to `count` elements (lowest scores, or highest when `max`) from the first of
/// `keys` that exists, as Redis's genericZpopCommand: keys are tried in order, a missing
/// key is skipped, the first existing one must be a sorted set (`WRONGTYPE` otherwise) and
/// is the one popped. `Ok(None)` when no key exists. A set emptied by the pop is deleted.
/// All keys' shards are locked together, so the pop is atomic.
pub fn pop_first_nonempty(
    ctx: &Ctx<'_>,
    keys: &[&[u8]],
    count: usize,
    max: bool,
) -> Result<Option<PopResult>, CmdError> {
    let ks: Vec<storage::Key> = keys.iter().map(|k| ctx.key(k)).collect();
    let mut txn = ctx.txn(&ks);
    pop_first_nonempty_locked(ctx, &mut txn, &ks, count, max, false)
}

/// `pop_first_nonempty` under the caller's `Txn` (the blocking forms keep it to register a
/// waiter atomically). `skip_wrong_type`: when serving a blocked client, keys of another type
/// are passed over (the client stays blocked), as Redis does.
pub fn pop_first_nonempty_locked(
    ctx: &Ctx<'_>,
    txn: &mut storage::Txn<'_>,
    ks: &[storage::Key],
    count: usize,
    max: bool,
    skip_wrong_type: bool,
) -> Result<Option<PopResult>, CmdError> {
    let txn = &mut *txn;
    for k in ks {
        let ready = match read_zset_type_only(txn, k) {
            Err(_) if skip_wrong_type => false,
            r => r?,
        };
        if !ready {
            continue;
        }
        let items = write_zset_if(
            ctx,
            txn,
            k,
            false,
            |e| zset::pop(e, count, max),
            |items| !items.is_empty(),
        )?
        .unwrap_or_default();
        return Ok(Some(PopResult {
            key: k.bytes.to_vec(),
            items,
        }));
    }
    Ok(None)
}

/// ZPOPMIN/ZPOPMAX's reply: a flat array `member, score, …`; in RESP3, when a count was
/// given, an array of `[member, score]` pairs.
pub fn reply_pop(out: &mut Reply<'_>, items: &[(Vec<u8>, f64)], count_given: bool) {
    if out.is_resp3() && count_given {
        out.array_len(items.len());
        for (m, s) in items {
            out.array_len(2);
            out.bulk(m);
            out.double(*s);
        }
    } else {
        out.array_len(items.len() * 2);
        for (m, s) in items {
            out.bulk(m);
            out.double(*s);
        }
    }
}

/// ZMPOP's reply: `[key, [[member, score], …]]`, or a null array when nothing was popped.
pub fn reply_mpop(out: &mut Reply<'_>, r: Option<&PopResult>) {
    match r {
        None => out.null_array(),
        Some(r) => {
            out.array_len(2);
            out.bulk(&r.key);
            out.array_len(r.items.len());
            for (m, s) in &r.items {
                out.array_len(2);
                out.bulk(m);
                out.double(*s);
            }
        }
    }
}

fn zpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count_given = args.len() == 3;
    let count = if count_given {
        let c = parse_int(args.get(2))?;
        if c < 0 {
            return Err(CmdError::Static(
                "ERR value is out of range, must be positive",
            ));
        }
        c as usize
    } else {
        1
    };
    let r = pop_first_nonempty(ctx, &[args.get(1)], count, max)?;
    let items = r.map(|r| r.items).unwrap_or_default();
    reply_pop(&mut ctx.out, &items, count_given);
    Ok(())
}

/// ZPOPMIN key [count]
pub(super) fn zpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zpop_generic(ctx, args, false)
}

/// ZPOPMAX key [count]
pub(super) fn zpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zpop_generic(ctx, args, true)
}

/// ZMPOP's arguments after the command name: numkeys, keys, MIN|MAX, [COUNT n]. Shared with
/// BZMPOP (whose arguments start one later, after the timeout): `first` is numkeys' index.
pub fn parse_mpop<'a>(
    args: &Args<'a>,
    first: usize,
) -> Result<(Vec<&'a [u8]>, bool, usize), CmdError> {
    const NUMKEYS: CmdError = CmdError::Static("ERR numkeys should be greater than 0");
    let n = parse_int(args.get(first)).map_err(|_| NUMKEYS)?;
    if n < 1 {
        return Err(NUMKEYS);
    }
    let n = n as u64;
    if n > (args.len() - first - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let n = n as usize;
    let keys: Vec<&[u8]> = (first + 1..first + 1 + n).map(|i| args.get(i)).collect();
    let wi = first + 1 + n;
    if wi >= args.len() {
        return Err(CmdError::Syntax);
    }
    let max = if eq_ic(args.get(wi), "min") {
        false
    } else if eq_ic(args.get(wi), "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = wi + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(args.get(j), "count") && j + 1 < args.len() {
            const COUNT: CmdError = CmdError::Static("ERR count should be greater than 0");
            let c = parse_int(args.get(j + 1)).map_err(|_| COUNT)?;
            if c < 1 {
                return Err(COUNT);
            }
            count = Some(c as usize);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((keys, max, count.unwrap_or(1)))
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
pub(super) fn zmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (keys, max, count) = parse_mpop(&args, 1)?;
    let r = pop_first_nonempty(ctx, &keys, count, max)?;
    reply_mpop(&mut ctx.out, r.as_ref());
    Ok(())
}
