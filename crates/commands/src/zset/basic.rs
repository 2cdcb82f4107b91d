//! Single-key sorted-set commands: ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT,
//! ZLEXCOUNT, ZRANK, ZREVRANK, ZREMRANGEBYRANK/SCORE/LEX, ZRANDMEMBER, ZSCAN.

use super::{
    parse_lex_range, parse_score_range, rank_window, read_zset, reply_score, write_zset_if,
    PairWriter,
};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::util::{eq_ic, parse_float, parse_int};
use crate::Ctx;
use protocol::reply::format_double;
use protocol::{Args, Reply};
use rand::Rng;
use storage::types::zset::{self, ZRef};

const NAN_SCORE: CmdError = CmdError::Static("ERR resulting score is not a number (NaN)");

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
///
/// Checks run in Redis's order: pair count (syntax error), XX+NX, GT/LT/NX combinations,
/// INCR with several pairs, then every score is parsed before anything is written.
pub(super) fn zadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "nx") {
            nx = true;
        } else if eq_ic(a, "xx") {
            xx = true;
        } else if eq_ic(a, "gt") {
            gt = true;
        } else if eq_ic(a, "lt") {
            lt = true;
        } else if eq_ic(a, "ch") {
            ch = true;
        } else if eq_ic(a, "incr") {
            incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if nx && xx {
        return Err(CmdError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if ((gt || lt) && nx) || (gt && lt) {
        return Err(CmdError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && elements > 2 {
        return Err(CmdError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let scores = (0..elements / 2)
        .map(|j| parse_float(args.get(i + 2 * j)))
        .collect::<Result<Vec<f64>, _>>()?;
    let limits = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let r = write_zset_if(
        ctx,
        &mut txn,
        &k,
        !xx,
        |e| {
            let (mut added, mut updated, mut processed, mut last) = (0i64, 0i64, 0, 0.0);
            if e.enc() == storage::Enc::Compact {
                // Grow a small set once for the whole command, not once per member: fewer
                // reallocations, less memory left behind in the allocator.
                let more: usize = (0..scores.len())
                    .map(|j| {
                        storage::types::compact::encoded_len(args.get(i + 2 * j + 1).len()) + 9
                    })
                    .sum();
                e.reserve_value_exact(more);
            }
            for (j, &score) in scores.iter().enumerate() {
                let m = args.get(i + 2 * j + 1);
                match ZRef::of(e).score(m) {
                    Some(cur) => {
                        if nx {
                            continue;
                        }
                        let mut s = score;
                        if incr {
                            s += cur;
                            if s.is_nan() {
                                return Err(NAN_SCORE);
                            }
                        }
                        if (lt && s >= cur) || (gt && s <= cur) {
                            continue;
                        }
                        processed += 1;
                        last = s;
                        if s != cur {
                            zset::set(e, m, s, &limits);
                            updated += 1;
                        }
                    }
                    None => {
                        if xx {
                            continue;
                        }
                        zset::set(e, m, score, &limits);
                        added += 1;
                        processed += 1;
                        last = score;
                    }
                }
            }
            Ok((added, updated, processed, last))
        },
        |r| {
            r.as_ref()
                .is_ok_and(|&(added, updated, ..)| added + updated > 0)
        },
    )?;
    let (added, updated, processed, last) = match r {
        Some(r) => r?,
        None => (0, 0, 0, 0.0),
    };
    if incr {
        if processed > 0 {
            reply_score(&mut ctx.out, last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

/// ZINCRBY key increment member: ZADD INCR without options; replies the new score.
pub(super) fn zincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = parse_float(args.get(2))?;
    let m = args.get(3);
    let limits = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let (s, _) = write_zset_if(
        ctx,
        &mut txn,
        &k,
        true,
        |e| {
            let cur = ZRef::of(e).score(m);
            let s = cur.map_or(by, |cur| cur + by);
            if s.is_nan() {
                return Err(NAN_SCORE);
            }
            if cur == Some(s) {
                // An increment that leaves the score as it was changes nothing.
                return Ok((s, false));
            }
            zset::set(e, m, s, &limits);
            Ok((s, true))
        },
        |r| r.as_ref().is_ok_and(|&(_, changed)| changed),
    )?
    .expect("created")?;
    reply_score(&mut ctx.out, s);
    Ok(())
}

/// ZREM key member [member ...]: how many were removed.
pub(super) fn zrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = write_zset_if(
        ctx,
        &mut txn,
        &k,
        false,
        |e| {
            let mut n = 0;
            for m in args.iter().skip(2) {
                if zset::remove(e, m).is_some() {
                    n += 1;
                }
                if ZRef::of(e).is_empty() {
                    break;
                }
            }
            n
        },
        |&n| n > 0,
    )?;
    ctx.out.int(n.unwrap_or(0));
    Ok(())
}

/// ZSCORE key member: a double, or null.
pub(super) fn zscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match read_zset(&mut txn, &k)?.and_then(|z| z.score(args.get(2))) {
        Some(s) => reply_score(&mut ctx.out, s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]: an array of doubles or nulls.
pub(super) fn zmscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let z = read_zset(&mut txn, &k)?;
    ctx.out.array_len(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => reply_score(&mut ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ZCARD key
pub(super) fn zcard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = read_zset(&mut txn, &k)?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// ZCOUNT key min max
pub(super) fn zcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let r = parse_score_range(args.get(2), args.get(3))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = read_zset(&mut txn, &k)?.map_or(0, |z| {
        let (a, b) = z.score_range(&r);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
pub(super) fn zlexcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let r = parse_lex_range(args.get(2), args.get(3))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = read_zset(&mut txn, &k)?.map_or(0, |z| {
        let (a, b) = z.lex_range(&r);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn rank_generic(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let z = read_zset(&mut txn, &k)?;
    match z.and_then(|z| z.rank(args.get(2)).map(|(r, _)| (r, z.len()))) {
        Some((r, len)) => ctx.out.int(if rev { len - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZRANK key member
pub(super) fn zrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rank_generic(ctx, args, false)
}

/// ZREVRANK key member
pub(super) fn zrevrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// Remove the rank window `window(set)` from the set at `args[1]`; reply the count.
fn remrange(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    window: impl FnOnce(&ZRef<'_>) -> (usize, usize),
) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = write_zset_if(
        ctx,
        &mut txn,
        &k,
        false,
        |e| {
            let (a, b) = window(&ZRef::of(e));
            zset::remove_range(e, a, b)
        },
        |&n| n > 0,
    )?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (s, t) = (parse_int(args.get(2))?, parse_int(args.get(3))?);
    remrange(ctx, args, |z| rank_window(s, t, z.len()))
}

/// ZREMRANGEBYSCORE key min max
pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let r = parse_score_range(args.get(2), args.get(3))?;
    remrange(ctx, args, |z| z.score_range(&r))
}

/// ZREMRANGEBYLEX key min max
pub(super) fn zremrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let r = parse_lex_range(args.get(2), args.get(3))?;
    remrange(ctx, args, |z| z.lex_range(&r))
}

/// ZRANDMEMBER key [count [WITHSCORES]]
///
/// No count: one member or null. A positive count gives distinct members (the whole set
/// when count ≥ size); a negative count may repeat members, as Redis.
pub(super) fn zrandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() == 2 {
        let k = ctx.key(args.get(1));
        let mut txn = ctx.txn1(&k);
        match read_zset(&mut txn, &k)? {
            Some(z) => {
                let r = rand::rng().random_range(0..z.len());
                let (m, _) = z.at(r).expect("rank in range");
                ctx.out.bulk(m);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let withscores = match args.len() {
        3 => false,
        4 if eq_ic(args.get(3), "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    let count = parse_int(args.get(2))?;
    if count == i64::MIN {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if withscores && count < -i64::MAX / 2 {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let w = PairWriter { withscores };
    let Some(z) = read_zset(&mut txn, &k)? else {
        ctx.out.array_len(0);
        return Ok(());
    };
    let len = z.len();
    // Small sets are read once into a vector so each pick is O(1).
    let all = matches!(z, ZRef::Compact(_)).then(|| z.to_vec());
    let pick = |r: usize| match &all {
        Some(v) => v[r],
        None => z.at(r).expect("rank in range"),
    };
    let mut rng = rand::rng();
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        w.header(&mut ctx.out, n);
        for _ in 0..n {
            let (m, s) = pick(rng.random_range(0..len));
            w.item(&mut ctx.out, m, s);
        }
    } else if count as u64 >= len as u64 {
        w.header(&mut ctx.out, len);
        z.for_range(0, len, false, |m, s| w.item(&mut ctx.out, m, s));
    } else {
        let n = count as usize;
        w.header(&mut ctx.out, n);
        for r in rand::seq::index::sample(&mut rng, len, n) {
            let (m, s) = pick(r);
            w.item(&mut ctx.out, m, s);
        }
    }
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: `[next-cursor, [member, score, ...]]`,
/// scores as bulk strings in both protocols (as Redis). A compact set is returned whole
/// with cursor 0; a large one is walked with a cursor stable under concurrent writes
/// (`storage::types::zset` explains why).
pub(super) fn zscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cursor =
        crate::keys::parse_cursor(args.get(2)).ok_or(CmdError::Static("ERR invalid cursor"))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let e = match txn.get(&k) {
        None => {
            ctx.out.array_len(2);
            ctx.out.bulk(b"0");
            ctx.out.array_len(0);
            return Ok(());
        }
        Some(e) if e.obj_type() != storage::ObjType::ZSet => return Err(CmdError::WrongType),
        Some(e) => e,
    };
    // Options are read after the key, as Redis's scanGenericCommand does.
    let opts = crate::coll::parse_scan(args)?;
    let (pat, count) = (opts.pattern, opts.count);
    let mut buf = Vec::new();
    let mut n = 0usize;
    let next = {
        let mut w = Reply::new(&mut buf, ctx.out.is_resp3());
        let mut tmp = [0u8; 64];
        zset::scan(e, cursor, count, |m, s| {
            if pat.is_some_and(|p| !glob_match(p, m, false)) {
                return;
            }
            w.bulk(m);
            w.bulk(format_double(s, &mut tmp));
            n += 2;
        })
    };
    ctx.out.array_len(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array_len(n);
    ctx.out.raw(&buf);
    Ok(())
}
