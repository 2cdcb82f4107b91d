//! ZRANGE (by rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES), its legacy forms
//! (ZRANGEBYSCORE, ZREVRANGE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX) and
//! ZRANGESTORE: one parser and one range computation, as Redis's zrangeGenericCommand.

use super::{parse_lex_range, parse_score_range, rank_window, read_zset, store_result, PairWriter};
use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_int};
use crate::Ctx;
use protocol::Args;
use storage::types::zset::{LexRange, ScoreRange, ZRef};

#[derive(Clone, Copy, PartialEq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range request.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct Request {
    range: Range,
    rev: bool,
    offset: i64,
    /// -1 = no limit.
    limit: i64,
    withscores: bool,
}

/// Parse `min max [options]` starting at the source key `src` (index of the key in args).
/// `by` and `rev` are fixed by the legacy commands and `None`/`Auto` for ZRANGE(STORE).
fn parse(
    args: Args<'_>,
    src: usize,
    store: bool,
    mut by: By,
    rev: Option<bool>,
) -> Result<Request, CmdError> {
    let mut dir = rev;
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if !store && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = parse_int(args.get(j + 1))?;
            limit = parse_int(args.get(j + 2))?;
            j += 2;
        } else if dir.is_none() && eq_ic(a, "rev") {
            dir = Some(true);
        } else if by == By::Auto && eq_ic(a, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && eq_ic(a, "byscore") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = dir.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (args.get(src + 1), args.get(src + 2));
    if rev && by != By::Rank {
        // Reverse score and lex ranges are given as max, min.
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match by {
        By::Auto | By::Rank => Range::Rank(parse_int(lo)?, parse_int(hi)?),
        By::Score => Range::Score(parse_score_range(lo, hi)?),
        By::Lex => Range::Lex(parse_lex_range(lo, hi)?),
    };
    Ok(Request {
        range,
        rev,
        offset,
        limit,
        withscores,
    })
}

/// The forward rank window `[a, b)` a request selects (iterated backwards when `rev`).
fn window(z: &ZRef<'_>, q: &Request) -> (usize, usize) {
    let len = z.len();
    let (a, b) = match &q.range {
        Range::Rank(s, e) => {
            let (a, b) = rank_window(*s, *e, len);
            return if q.rev { (len - b, len - a) } else { (a, b) };
        }
        Range::Score(r) => z.score_range(r),
        Range::Lex(r) => z.lex_range(r),
    };
    if q.offset < 0 {
        return (0, 0);
    }
    let n = b - a;
    let skip = (q.offset as u64).min(n as u64) as usize;
    let take = if q.limit < 0 {
        n - skip
    } else {
        (q.limit as u64).min((n - skip) as u64) as usize
    };
    if q.rev {
        (b - skip - take, b - skip)
    } else {
        (a + skip, a + skip + take)
    }
}

fn generic(ctx: &mut Ctx<'_>, args: Args<'_>, by: By, rev: Option<bool>) -> CmdResult {
    let q = parse(args, 1, false, by, rev)?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let w = PairWriter {
        withscores: q.withscores,
    };
    let Some(z) = read_zset(&mut txn, &k)? else {
        ctx.out.array_len(0);
        return Ok(());
    };
    let (a, b) = window(&z, &q);
    w.header(&mut ctx.out, b - a);
    z.for_range(a, b, q.rev, |m, s| w.item(&mut ctx.out, m, s));
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub(super) fn zrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, By::Auto, None)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, By::Score, Some(false))
}

/// ZREVRANGE key start stop [WITHSCORES]
pub(super) fn zrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, By::Rank, Some(true))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, By::Score, Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, By::Lex, Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, By::Lex, Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]: the range is
/// stored in its iteration order's set (scores kept), replacing `dst`; an empty range (or a
/// missing source) deletes `dst`. Replies the stored count.
pub(super) fn zrangestore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let q = parse(args, 2, true, By::Auto, None)?;
    let (dk, sk) = (ctx.key(args.get(1)), ctx.key(args.get(2)));
    let mut txn = ctx.txn(&[dk, sk]);
    let picked: Vec<(Vec<u8>, f64)> = match read_zset(&mut txn, &sk)? {
        None => Vec::new(),
        Some(z) => {
            let (a, b) = window(&z, &q);
            let mut v = Vec::with_capacity(b - a);
            // Stored in set order whatever the direction: a set has one order.
            z.for_range(a, b, false, |m, s| v.push((m.to_vec(), s)));
            v
        }
    };
    let sorted: Vec<(&[u8], f64)> = picked.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
    store_result(ctx, &mut txn, &dk, &sorted);
    ctx.out.int(sorted.len() as i64);
    Ok(())
}
