//! Set algebra over sorted sets (and plain sets, whose members score 1): ZUNION, ZINTER,
//! ZDIFF, their STORE forms, and ZINTERCARD, with WEIGHTS and AGGREGATE SUM|MIN|MAX.
//!
//! Arithmetic follows Redis's zunionInterGenericCommand exactly, NaN included: a weighted
//! score that is NaN (inf × 0) counts as 0 for the first set an element is seen in; a SUM
//! that becomes NaN (inf + -inf) is 0; MIN/MAX compare with `<`/`>`, so a NaN operand
//! leaves the current value. Union and intersection visit inputs smallest first, as Redis.

use super::{input_pairs, store_result, PairWriter};
use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_float, parse_int};
use crate::Ctx;
use protocol::Args;
use std::collections::HashMap;
use storage::ObjType;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// One input: its pairs (empty when the key is missing) and weight.
struct Src {
    pairs: Vec<(Vec<u8>, f64)>,
    weight: f64,
}

/// `name` is the command's name for Redis's "at least 1 input key" message; `dst` whether
/// args[1] is a destination key; `card` for ZINTERCARD.
fn generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    name: &str,
    op: Op,
    dst: bool,
    card: bool,
) -> CmdResult {
    let ni = if dst { 2 } else { 1 };
    let setnum = parse_int(args.get(ni))?;
    if setnum < 1 {
        return Err(CmdError::Msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum as u64 > (args.len() - ni - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let mut keys: Vec<storage::Key> = (ni + 1..ni + 1 + setnum)
        .map(|i| ctx.key(args.get(i)))
        .collect();
    let dk = dst.then(|| ctx.key(args.get(1)));
    if let Some(d) = dk {
        keys.push(d);
    }
    let mut txn = ctx.txn(&keys);
    // Inputs are read (and type-checked) before the options are parsed, as Redis does.
    let mut srcs = Vec::with_capacity(setnum);
    for k in &keys[..setnum] {
        let pairs = match txn.get(k) {
            None => Vec::new(),
            Some(e) if !matches!(e.obj_type(), ObjType::ZSet | ObjType::Set) => {
                return Err(CmdError::WrongType)
            }
            Some(e) => input_pairs(e)?,
        };
        srcs.push(Src { pairs, weight: 1.0 });
    }
    let (mut agg, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let mut j = ni + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args.get(j);
        if op != Op::Diff && !card && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for s in srcs.iter_mut() {
                s.weight = parse_float(args.get(j))
                    .map_err(|_| CmdError::Static("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != Op::Diff && !card && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = args.get(j + 1);
            agg = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !dst && !card && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && eq_ic(a, "limit") {
            const NEG: CmdError = CmdError::Static("ERR LIMIT can't be negative");
            let l = parse_int(args.get(j + 1)).map_err(|_| NEG)?;
            if l < 0 {
                return Err(NEG);
            }
            limit = l as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }

    let result: Vec<(Vec<u8>, f64)> = match op {
        Op::Union => union(srcs, agg),
        Op::Inter => {
            if card {
                let n = inter_count(srcs, limit);
                ctx.out.int(n as i64);
                return Ok(());
            }
            inter(srcs, agg)
        }
        Op::Diff => diff(srcs),
    };
    let mut sorted: Vec<(&[u8], f64)> = result.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    match dk {
        Some(d) => {
            store_result(ctx, &mut txn, &d, &sorted);
            ctx.out.int(sorted.len() as i64);
        }
        None => {
            let w = PairWriter { withscores };
            w.header(&mut ctx.out, sorted.len());
            for (m, s) in sorted {
                w.item(&mut ctx.out, m, s);
            }
        }
    }
    Ok(())
}

fn weighted(score: f64, w: f64) -> f64 {
    let v = score * w;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn union(mut srcs: Vec<Src>, agg: Aggregate) -> Vec<(Vec<u8>, f64)> {
    srcs.sort_by_key(|s| s.pairs.len());
    let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
    for s in srcs {
        for (m, score) in s.pairs {
            let v = weighted(score, s.weight);
            match acc.get_mut(&m) {
                Some(t) => aggregate(t, v, agg),
                None => {
                    acc.insert(m, v);
                }
            }
        }
    }
    acc.into_iter().collect()
}

/// The intersection's members with their aggregated scores, visiting the smallest input.
fn inter_iter(mut srcs: Vec<Src>, agg: Aggregate, mut f: impl FnMut(Vec<u8>, f64) -> bool) {
    if srcs.iter().any(|s| s.pairs.is_empty()) {
        return;
    }
    srcs.sort_by_key(|s| s.pairs.len());
    let first = srcs.remove(0);
    let others: Vec<(HashMap<&[u8], f64>, f64)> = srcs
        .iter()
        .map(|s| {
            (
                s.pairs.iter().map(|(m, v)| (m.as_slice(), *v)).collect(),
                s.weight,
            )
        })
        .collect();
    'next: for (m, score) in first.pairs {
        let mut t = weighted(score, first.weight);
        for (map, w) in &others {
            match map.get(m.as_slice()) {
                Some(v) => aggregate(&mut t, v * w, agg),
                None => continue 'next,
            }
        }
        if !f(m, t) {
            return;
        }
    }
}

fn inter(srcs: Vec<Src>, agg: Aggregate) -> Vec<(Vec<u8>, f64)> {
    let mut out = Vec::new();
    inter_iter(srcs, agg, |m, s| {
        out.push((m, s));
        true
    });
    out
}

/// ZINTERCARD: the intersection's size, stopping at `limit` (0 = no limit).
fn inter_count(srcs: Vec<Src>, limit: usize) -> usize {
    let mut n = 0;
    inter_iter(srcs, Aggregate::Sum, |_, _| {
        n += 1;
        limit == 0 || n < limit
    });
    n
}

fn diff(mut srcs: Vec<Src>) -> Vec<(Vec<u8>, f64)> {
    let first = srcs.remove(0);
    let others: Vec<std::collections::HashSet<&[u8]>> = srcs
        .iter()
        .map(|s| s.pairs.iter().map(|(m, _)| m.as_slice()).collect())
        .collect();
    first
        .pairs
        .into_iter()
        .filter(|(m, _)| !others.iter().any(|o| o.contains(m.as_slice())))
        .collect()
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub(super) fn zunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, "zunion", Op::Union, false, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub(super) fn zinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, "zinter", Op::Inter, false, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub(super) fn zdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, "zdiff", Op::Diff, false, false)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE …]
pub(super) fn zunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, "zunionstore", Op::Union, true, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE …]
pub(super) fn zinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, "zinterstore", Op::Inter, true, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, "zdiffstore", Op::Diff, true, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub(super) fn zintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    generic(ctx, args, "zintercard", Op::Inter, false, true)
}
