//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER,
//! SMOVE, SINTER, SINTERCARD, SUNION, SDIFF, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, SSCAN.
//!
//! Values live in `storage::types::set` (an intset- or listpack-like compact blob while
//! small, a table past Redis's `set-max-*` limits). Writes go through `coll::write`, which
//! creates the set when needed and deletes it when the last member goes. The *STORE commands
//! replace the destination whatever it held, TTL included, and delete it when the result is
//! empty, as Redis does. Multi-key commands lock every key's shard at once.

#[cfg(test)]
mod tests;

use crate::coll::{self, parse_rand_count, parse_scan};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use rand::Rng;
use std::collections::HashSet;
use storage::types::dense::distinct_indices;
use storage::types::set::{self, Built, SetRef};
use storage::{Entry, Key, ObjType};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("sadd", -3, WRITE | DENYOOM | FAST, 1, 1, 1, sadd, "set", "1.0.0",
        "Adds one or more members to a set. Creates the key if it doesn't exist.", "key member [member ...]"),
    cmd!("srem", -3, WRITE | FAST, 1, 1, 1, srem, "set", "1.0.0",
        "Removes one or more members from a set. Deletes the set if the last member was removed.",
        "key member [member ...]"),
    cmd!("smembers", 2, READONLY, 1, 1, 1, smembers, "set", "1.0.0",
        "Returns all members of a set.", "key"),
    cmd!("sismember", 3, READONLY | FAST, 1, 1, 1, sismember, "set", "1.0.0",
        "Determines whether a member belongs to a set.", "key member"),
    cmd!("smismember", -3, READONLY | FAST, 1, 1, 1, smismember, "set", "6.2.0",
        "Determines whether multiple members belong to a set.", "key member [member ...]"),
    cmd!("scard", 2, READONLY | FAST, 1, 1, 1, scard, "set", "1.0.0",
        "Returns the number of members in a set.", "key"),
    cmd!("spop", -2, WRITE | FAST, 1, 1, 1, spop, "set", "1.0.0",
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        "key [count]"),
    cmd!("srandmember", -2, READONLY, 1, 1, 1, srandmember, "set", "1.0.0",
        "Get one or multiple random members from a set", "key [count]"),
    cmd!("smove", 4, WRITE | FAST, 1, 2, 1, smove, "set", "1.0.0",
        "Moves a member from one set to another.", "source destination member"),
    cmd!("sinter", -2, READONLY, 1, -1, 1, sinter, "set", "1.0.0",
        "Returns the intersect of multiple sets.", "key [key ...]"),
    cmd!("sintercard", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, sintercard, "set", "7.0.0",
        "Returns the number of members of the intersect of multiple sets.",
        "numkeys key [key ...] [LIMIT limit]"),
    cmd!("sunion", -2, READONLY, 1, -1, 1, sunion, "set", "1.0.0",
        "Returns the union of multiple sets.", "key [key ...]"),
    cmd!("sdiff", -2, READONLY, 1, -1, 1, sdiff, "set", "1.0.0",
        "Returns the difference of multiple sets.", "key [key ...]"),
    cmd!("sinterstore", -3, WRITE | DENYOOM, 1, -1, 1, sinterstore, "set", "1.0.0",
        "Stores the intersect of multiple sets in a key.", "destination key [key ...]"),
    cmd!("sunionstore", -3, WRITE | DENYOOM, 1, -1, 1, sunionstore, "set", "1.0.0",
        "Stores the union of multiple sets in a key.", "destination key [key ...]"),
    cmd!("sdiffstore", -3, WRITE | DENYOOM, 1, -1, 1, sdiffstore, "set", "1.0.0",
        "Stores the difference of multiple sets in a key.", "destination key [key ...]"),
    cmd!("sscan", -3, READONLY, 1, 1, 1, sscan, "set", "2.8.0",
        "Iterates over members of a set.", "key cursor [MATCH pattern] [COUNT count]"),
];

/// SADD key member [member ...] → members added.
fn sadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lim = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let hint = args.len() - 2;
    let first = args.get(2);
    let mut txn = ctx.txn1(&k);
    let make = |lru| set::new_entry(k.bytes, k.slot, lru, first, hint, &lim);
    let n = coll::write_if(
        &mut txn,
        &k,
        ObjType::Set,
        Some(&make),
        |e| {
            set::maybe_convert(e, hint, &lim);
            let mut n = 0;
            for m in args.iter().skip(2) {
                n += set::add(e, m, &lim) as i64;
            }
            Ok(n)
        },
        |&n| n > 0,
    )?;
    ctx.out.int(n.unwrap_or(0));
    Ok(())
}

/// SREM key member [member ...] → members removed; the key goes with its last member.
fn srem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = coll::write_if(
        &mut txn,
        &k,
        ObjType::Set,
        None,
        |e| {
            let mut n = 0;
            for m in args.iter().skip(2) {
                n += set::remove(e, m) as i64;
                if coll::is_empty(e) {
                    break;
                }
            }
            Ok(n)
        },
        |&n| n > 0,
    )?;
    ctx.out.int(n.unwrap_or(0));
    Ok(())
}

/// Reply with members as a set (`~` in RESP3, an array in RESP2).
fn reply_set<'a>(ctx: &mut Ctx<'_>, n: usize, members: impl Iterator<Item = &'a [u8]>) {
    ctx.out.set_len(n);
    for m in members {
        ctx.out.bulk(m);
    }
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match coll::read(&mut txn, &k, ObjType::Set)?.map(SetRef::of) {
        Some(s) => reply_set(ctx, s.len(), s.iter()),
        None => ctx.out.set_len(0),
    }
    Ok(())
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let found = coll::read(&mut txn, &k, ObjType::Set)?
        .is_some_and(|e| SetRef::of(e).contains(args.get(2)));
    ctx.out.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...] → 1 or 0 per member.
fn smismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let s = coll::read(&mut txn, &k, ObjType::Set)?.map(SetRef::of);
    ctx.out.array_len(args.len() - 2);
    for m in args.iter().skip(2) {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

/// SCARD key
fn scard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = coll::read(&mut txn, &k, ObjType::Set)?.map_or(0, |e| SetRef::of(e).len());
    ctx.out.int(n as i64);
    Ok(())
}

/// SPOP key [count]: one random member removed (null when missing), or up to `count`
/// distinct ones as a set; popping the whole set deletes the key.
fn spop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => match parse_int(args.get(2)) {
            Ok(c) if c >= 0 => Some(c as u64),
            _ => {
                return Err(CmdError::Static(
                    "ERR value is out of range, must be positive",
                ))
            }
        },
        _ => return Err(CmdError::Syntax),
    };
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let mut rng = rand::rng();
    let Some(count) = count else {
        let m = coll::write(&mut txn, &k, ObjType::Set, None, |e| {
            Ok(set::pop_random(e, &mut rng))
        })?;
        match m {
            Some(m) => {
                // Which member went is chance: the log names it.
                crate::effects::rewrite(&[b"SREM", k.bytes, &m]);
                ctx.out.bulk(&m)
            }
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let size = match coll::check_type(&mut txn, &k, ObjType::Set)? {
        true => txn.peek(&k).map_or(0, |e| SetRef::of(e).len()),
        false => 0,
    };
    if size == 0 || count == 0 {
        ctx.out.set_len(0);
        return Ok(());
    }
    if count >= size as u64 {
        crate::effects::rewrite(&[b"DEL", k.bytes]);
        let e = txn.remove(&k).expect("checked above");
        let s = SetRef::of(&e);
        reply_set(ctx, s.len(), s.iter());
        return Ok(());
    }
    let popped = coll::write(&mut txn, &k, ObjType::Set, None, |e| {
        Ok((0..count)
            .map(|_| set::pop_random(e, &mut rng))
            .collect::<Vec<_>>())
    })?
    .unwrap_or_default();
    let mut srem: Vec<&[u8]> = vec![b"SREM", k.bytes];
    srem.extend(popped.iter().map(|m| &m[..]));
    crate::effects::rewrite(&srem);
    reply_set(ctx, popped.len(), popped.iter().map(|m| &m[..]));
    Ok(())
}

/// SRANDMEMBER key [count]: one random member (null when missing); with a count, that many
/// distinct members (capped at the size) or, negative, that many picks that may repeat.
/// Always an array (also in RESP3, as Redis).
fn srandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(parse_rand_count(args.get(2))?),
        _ => return Err(CmdError::Syntax),
    };
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let s = coll::read(&mut txn, &k, ObjType::Set)?.map(SetRef::of);
    let mut rng = rand::rng();
    let Some((count, distinct)) = count else {
        match s {
            Some(s) => {
                let i = rng.random_range(0..s.len());
                ctx.out.bulk(member_at(&s, &compact_members(&s), i));
            }
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(s) = s.filter(|_| count > 0) else {
        ctx.out.array_len(0);
        return Ok(());
    };
    let n = s.len();
    let members = compact_members(&s);
    if distinct && count >= n as u64 {
        ctx.out.array_len(n);
        for m in s.iter() {
            ctx.out.bulk(m);
        }
    } else if distinct {
        let idx = distinct_indices(n, count as usize, &mut rng);
        ctx.out.array_len(idx.len());
        for i in idx {
            ctx.out.bulk(member_at(&s, &members, i));
        }
    } else {
        ctx.out.array_len(count as usize);
        for _ in 0..count {
            let i = rng.random_range(0..n);
            ctx.out.bulk(member_at(&s, &members, i));
        }
    }
    Ok(())
}

/// A compact set's members, for random access (empty for a table, which has its own).
fn compact_members<'a>(s: &SetRef<'a>) -> Vec<&'a [u8]> {
    match s {
        SetRef::Compact(_) => s.iter().collect(),
        SetRef::Boxed(_) => Vec::new(),
    }
}

fn member_at<'a>(s: &SetRef<'a>, compact: &[&'a [u8]], i: usize) -> &'a [u8] {
    match s {
        SetRef::Compact(_) => compact[i],
        SetRef::Boxed(o) => o.member_at(i),
    }
}

/// SMOVE source destination member → 1 if moved (or already in a set moved to itself).
fn smove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lim = ctx.srv.settings.limits();
    let (src, dst, m) = (ctx.key(args.get(1)), ctx.key(args.get(2)), args.get(3));
    let mut txn = ctx.txn(&[src, dst]);
    if txn.peek(&src).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    coll::check_type(&mut txn, &src, ObjType::Set)?;
    coll::check_type(&mut txn, &dst, ObjType::Set)?;
    if src.bytes == dst.bytes {
        let found = txn.peek(&src).is_some_and(|e| SetRef::of(e).contains(m));
        ctx.out.int(found as i64);
        return Ok(());
    }
    let removed = coll::write_if(
        &mut txn,
        &src,
        ObjType::Set,
        None,
        |e| Ok(set::remove(e, m)),
        |&r| r,
    )?;
    if removed != Some(true) {
        ctx.out.int(0);
        return Ok(());
    }
    // A member already in the destination leaves it unchanged: its watchers are not
    // touched (Redis signals the destination only when the member was added).
    let make = |lru| set::new_entry(dst.bytes, dst.slot, lru, m, 1, &lim);
    coll::write_if(
        &mut txn,
        &dst,
        ObjType::Set,
        Some(&make),
        |e| Ok(set::add(e, m, &lim)),
        |&added| added,
    )?;
    ctx.out.int(1);
    Ok(())
}

/// The set operations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// Load `keys` (hits and misses counted), `WRONGTYPE` if any holds another type.
fn load<'t>(
    txn: &'t mut storage::Txn<'_>,
    keys: &[Key],
) -> Result<Vec<Option<SetRef<'t>>>, CmdError> {
    txn.get_many(keys)
        .into_iter()
        .map(|e| match e {
            Some(e) if e.obj_type() != ObjType::Set => Err(CmdError::WrongType),
            e => Ok(e.map(SetRef::of)),
        })
        .collect()
}

type Seen<'a> = HashSet<&'a [u8], foldhash::fast::RandomState>;

/// The members of the result, each once. `limit` (> 0) stops an intersection early.
fn compute<'a>(sets: &[Option<SetRef<'a>>], op: SetOp, limit: usize) -> Vec<&'a [u8]> {
    match op {
        SetOp::Inter => {
            let Some(mut all) = sets.iter().copied().collect::<Option<Vec<SetRef<'a>>>>() else {
                return Vec::new();
            };
            // Walk the smallest set, probe the others from small to large.
            all.sort_by_key(|s| s.len());
            let (first, rest) = all.split_first().expect("at least one key");
            let mut out = Vec::new();
            for m in first.iter() {
                if rest.iter().all(|s| s.contains(m)) {
                    out.push(m);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            out
        }
        SetOp::Union => {
            let mut seen = Seen::default();
            let mut out = Vec::new();
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    if seen.insert(m) {
                        out.push(m);
                    }
                }
            }
            out
        }
        SetOp::Diff => {
            let Some(first) = sets[0] else {
                return Vec::new();
            };
            let rest: Vec<SetRef<'a>> = sets[1..].iter().flatten().copied().collect();
            first
                .iter()
                .filter(|m| !rest.iter().any(|s| s.contains(m)))
                .collect()
        }
    }
}

/// SINTER / SUNION / SDIFF key [key ...] → the result as a set.
fn combine(ctx: &mut Ctx<'_>, args: Args<'_>, op: SetOp) -> CmdResult {
    let keys: Vec<Key> = args.iter().skip(1).map(|b| ctx.key(b)).collect();
    let mut txn = ctx.txn(&keys);
    let sets = load(&mut txn, &keys)?;
    let out = compute(&sets, op, 0);
    reply_set(ctx, out.len(), out.into_iter());
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    combine(ctx, args, SetOp::Inter)
}

fn sunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    combine(ctx, args, SetOp::Union)
}

fn sdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    combine(ctx, args, SetOp::Diff)
}

/// SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key [key ...] → the result's size.
/// The destination is replaced (any type, TTL dropped), or deleted when the result is empty.
fn store(ctx: &mut Ctx<'_>, args: Args<'_>, op: SetOp) -> CmdResult {
    let lim = ctx.srv.settings.limits();
    let dst = ctx.key(args.get(1));
    let keys: Vec<Key> = args.iter().skip(2).map(|b| ctx.key(b)).collect();
    let mut all = keys.clone();
    all.push(dst);
    let mut txn = ctx.txn(&all);
    let (n, built) = {
        let sets = load(&mut txn, &keys)?;
        let out = compute(&sets, op, 0);
        (out.len(), (!out.is_empty()).then(|| set::build(&out, &lim)))
    };
    match built {
        None => {
            txn.delete(&dst);
        }
        Some(b) => {
            let lru = txn.initial_lru();
            let e = match b {
                Built::Compact(blob) => {
                    Entry::new_compact(dst.bytes, ObjType::Set, &blob, dst.slot, lru)
                }
                Built::Boxed(c) => Entry::new_boxed(dst.bytes, c, dst.slot, lru),
            };
            txn.put_entry(&dst, e, 0);
        }
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn sinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    store(ctx, args, SetOp::Inter)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    store(ctx, args, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    store(ctx, args, SetOp::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit] → the intersection's size, counting
/// stopped at `limit` when it is not 0.
fn sintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let numkeys = match parse_int(args.get(1)) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err(CmdError::Static("ERR numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let nk = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + nk;
    while i < args.len() {
        if eq_ic(args.get(i), "limit") && i + 1 < args.len() {
            limit = match parse_int(args.get(i + 1)) {
                Ok(l) if l >= 0 => usize::try_from(l).unwrap_or(usize::MAX),
                _ => return Err(CmdError::Static("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<Key> = args.iter().skip(2).take(nk).map(|b| ctx.key(b)).collect();
    let mut txn = ctx.txn(&keys);
    let sets = load(&mut txn, &keys)?;
    let n = compute(&sets, SetOp::Inter, limit).len();
    ctx.out.int(n as i64);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count] → [next cursor, [member, …]]. A compact
/// set is returned whole with cursor 0 (as Redis does for intsets and listpacks); a table is
/// walked with the stable cursor of `Dense::scan`.
fn sscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_scan(args)?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let s = coll::read(&mut txn, &k, ObjType::Set)?.map(SetRef::of);
    let keep = |m: &[u8]| o.pattern.is_none_or(|p| glob_match(p, m, false));
    let mut found: Vec<&[u8]> = Vec::new();
    let next = match s {
        None => 0,
        Some(s @ SetRef::Compact(_)) => {
            found.extend(s.iter().filter(|m| keep(m)));
            0
        }
        Some(SetRef::Boxed(t)) => t.table().scan(o.cursor, o.count, |m| {
            if keep(m) {
                found.push(m);
            }
        }),
    };
    ctx.out.array_len(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array_len(found.len());
    for m in found {
        ctx.out.bulk(m);
    }
    Ok(())
}
