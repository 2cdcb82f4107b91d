//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HEXISTS, HLEN, HKEYS,
//! HVALS, HSTRLEN, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.
//!
//! Values live in `storage::types::hash` (compact blob while small, a table past Redis's
//! `hash-max-listpack-*` limits). Writes go through `coll::write`, which creates the hash
//! when needed and deletes it when the last field goes, and keep the key's TTL (as Redis:
//! a hash is modified in place, never replaced).

#[cfg(test)]
pub(crate) mod tests;

use crate::coll::{self, parse_rand_count, parse_scan};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::strings::longdouble::{self, Ld};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use rand::Rng;
use storage::types::dense::distinct_indices;
use storage::types::hash::{self, split_item, HashRef};
use storage::{Entry, ObjType};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("hset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, hset, "hash", "2.0.0",
        "Creates or modifies the value of a field in a hash.", "key field value [field value ...]"),
    cmd!("hsetnx", 4, WRITE | DENYOOM | FAST, 1, 1, 1, hsetnx, "hash", "2.0.0",
        "Sets the value of a field in a hash only when the field doesn't exist.", "key field value"),
    cmd!("hmset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, hmset, "hash", "2.0.0",
        "Sets the values of multiple fields.", "key field value [field value ...]"),
    cmd!("hget", 3, READONLY | FAST, 1, 1, 1, hget, "hash", "2.0.0",
        "Returns the value of a field in a hash.", "key field"),
    cmd!("hmget", -3, READONLY | FAST, 1, 1, 1, hmget, "hash", "2.0.0",
        "Returns the values of all fields in a hash.", "key field [field ...]"),
    cmd!("hgetall", 2, READONLY, 1, 1, 1, hgetall, "hash", "2.0.0",
        "Returns all fields and values in a hash.", "key"),
    cmd!("hdel", -3, WRITE | FAST, 1, 1, 1, hdel, "hash", "2.0.0",
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        "key field [field ...]"),
    cmd!("hexists", 3, READONLY | FAST, 1, 1, 1, hexists, "hash", "2.0.0",
        "Determines whether a field exists in a hash.", "key field"),
    cmd!("hlen", 2, READONLY | FAST, 1, 1, 1, hlen, "hash", "2.0.0",
        "Returns the number of fields in a hash.", "key"),
    cmd!("hkeys", 2, READONLY, 1, 1, 1, hkeys, "hash", "2.0.0",
        "Returns all fields in a hash.", "key"),
    cmd!("hvals", 2, READONLY, 1, 1, 1, hvals, "hash", "2.0.0",
        "Returns all values in a hash.", "key"),
    cmd!("hstrlen", 3, READONLY | FAST, 1, 1, 1, hstrlen, "hash", "3.2.0",
        "Returns the length of the value of a field.", "key field"),
    cmd!("hincrby", 4, WRITE | DENYOOM | FAST, 1, 1, 1, hincrby, "hash", "2.0.0",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        "key field increment"),
    cmd!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, 1, 1, 1, hincrbyfloat, "hash", "2.6.0",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        "key field increment"),
    cmd!("hrandfield", -2, READONLY, 1, 1, 1, hrandfield, "hash", "6.2.0",
        "Returns one or more random fields from a hash.", "key [count [WITHVALUES]]"),
    cmd!("hscan", -3, READONLY, 1, 1, 1, hscan, "hash", "2.8.0",
        "Iterates over fields and values of a hash.", "key cursor [MATCH pattern] [COUNT count]"),
];

/// A new, empty hash for the key being written.
fn creator<'k>(key: &'k [u8], slot: u16) -> impl Fn(u32) -> Entry + 'k {
    move |lru| hash::new_entry(key, slot, lru)
}

/// HSET / HMSET: set every pair; the number of new fields.
fn set_pairs(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<i64, CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity);
    }
    let lim = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let make = creator(k.bytes, k.slot);
    let added = coll::write(&mut txn, &k, ObjType::Hash, Some(&make), |e| {
        let pairs = (args.len() - 2) / 2;
        hash::prepare(e, pairs, args.iter().skip(2).map(<[u8]>::len), &lim);
        let mut added = 0;
        for i in (2..args.len()).step_by(2) {
            added += hash::set(e, args.get(i), args.get(i + 1), &lim) as i64;
        }
        Ok(added)
    })?;
    Ok(added.unwrap_or(0))
}

/// HSET key field value [field value ...] → fields added.
fn hset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let n = set_pairs(ctx, args)?;
    ctx.out.int(n);
    Ok(())
}

/// HMSET key field value [field value ...] → OK.
fn hmset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    set_pairs(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

/// HSETNX key field value → 1 if set, 0 if the field existed.
fn hsetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (field, value) = (args.get(2), args.get(3));
    let lim = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let make = creator(k.bytes, k.slot);
    let r = coll::write_if(
        &mut txn,
        &k,
        ObjType::Hash,
        Some(&make),
        |e| {
            if HashRef::of(e).get(field).is_some() {
                return Ok(0);
            }
            hash::prepare(e, 1, [field.len(), value.len()].into_iter(), &lim);
            hash::set(e, field, value, &lim);
            Ok(1)
        },
        |&n| n > 0,
    )?;
    ctx.out.int(r.unwrap_or(0));
    Ok(())
}

/// HGET key field
fn hget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match coll::read(&mut txn, &k, ObjType::Hash)?.and_then(|e| HashRef::of(e).get(args.get(2))) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...] → one value or null per field (all null for a missing key).
fn hmget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let h = coll::read(&mut txn, &k, ObjType::Hash)?.map(HashRef::of);
    ctx.out.array_len(args.len() - 2);
    for f in args.iter().skip(2) {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// What HGETALL, HKEYS and HVALS list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Both,
    Fields,
    Values,
}

fn list_all(ctx: &mut Ctx<'_>, args: Args<'_>, part: Part) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let h = coll::read(&mut txn, &k, ObjType::Hash)?.map(HashRef::of);
    let n = h.map_or(0, |h| h.len());
    match part {
        Part::Both => ctx.out.map_len(n),
        Part::Fields | Part::Values => ctx.out.array_len(n),
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if part != Part::Values {
                ctx.out.bulk(f);
            }
            if part != Part::Fields {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

/// HGETALL key → a map (RESP3) or flat field, value array (RESP2).
fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    list_all(ctx, args, Part::Both)
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    list_all(ctx, args, Part::Fields)
}

/// HVALS key
fn hvals(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    list_all(ctx, args, Part::Values)
}

/// HDEL key field [field ...] → fields removed; the key goes with its last field.
fn hdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = coll::write_if(
        &mut txn,
        &k,
        ObjType::Hash,
        None,
        |e| {
            let mut n = 0;
            for f in args.iter().skip(2) {
                n += hash::remove(e, f) as i64;
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

/// HEXISTS key field
fn hexists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let found = coll::read(&mut txn, &k, ObjType::Hash)?
        .is_some_and(|e| HashRef::of(e).get(args.get(2)).is_some());
    ctx.out.int(found as i64);
    Ok(())
}

/// HLEN key
fn hlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = coll::read(&mut txn, &k, ObjType::Hash)?.map_or(0, |e| HashRef::of(e).len());
    ctx.out.int(n as i64);
    Ok(())
}

/// HSTRLEN key field → the value's length, 0 when missing.
fn hstrlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = coll::read(&mut txn, &k, ObjType::Hash)?
        .and_then(|e| HashRef::of(e).get(args.get(2)))
        .map_or(0, <[u8]>::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// HINCRBY key field increment → the new value. The field's value must be an integer as
/// Redis's `string2ll` reads it.
fn hincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = parse_int(args.get(3))?;
    let field = args.get(2);
    let lim = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let make = creator(k.bytes, k.slot);
    let n = coll::write(&mut txn, &k, ObjType::Hash, Some(&make), |e| {
        let cur = match HashRef::of(e).get(field) {
            Some(v) => protocol::resp::parse_i64(v)
                .ok_or(CmdError::Static("ERR hash value is not an integer"))?,
            None => 0,
        };
        let n = cur.checked_add(by).ok_or(CmdError::Overflow)?;
        hash::set(e, field, itoa::Buffer::new().format(n).as_bytes(), &lim);
        Ok(n)
    })?;
    ctx.out.int(n.unwrap_or(0));
    Ok(())
}

/// HINCRBYFLOAT key field increment → the new value as a bulk string, computed and printed
/// as INCRBYFLOAT does (x87 long double, `strings::longdouble`).
fn hincrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let incr = longdouble::parse(args.get(3)).ok_or(CmdError::NotFloat)?;
    if matches!(incr, Ld::Inf { .. } | Ld::NaN) {
        return Err(CmdError::Static("ERR value is NaN or Infinity"));
    }
    let field = args.get(2);
    let lim = ctx.srv.settings.limits();
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let make = creator(k.bytes, k.slot);
    let s = coll::write(&mut txn, &k, ObjType::Hash, Some(&make), |e| {
        let cur = match HashRef::of(e).get(field) {
            Some(v) => {
                longdouble::parse(v).ok_or(CmdError::Static("ERR hash value is not a float"))?
            }
            None => Ld::Zero { neg: false },
        };
        let s = longdouble::format(longdouble::add(cur, incr)).ok_or(CmdError::Static(
            "ERR increment would produce NaN or Infinity",
        ))?;
        hash::set(e, field, &s, &lim);
        Ok(s)
    })?;
    ctx.out.bulk(&s.unwrap_or_default());
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]: one random field (null when missing); with a count,
/// that many distinct fields (capped at the size), or with a negative count that many picks
/// that may repeat. WITHVALUES pairs each with its value: flat in RESP2, [field, value]
/// arrays in RESP3.
fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let withvalues = match args.len() {
        2 | 3 => false,
        4 if eq_ic(args.get(3), "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    let count = match args.try_get(2) {
        Some(c) => Some(parse_rand_count(c)?),
        None => None,
    };
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let h = coll::read(&mut txn, &k, ObjType::Hash)?.map(HashRef::of);
    let mut rng = rand::rng();
    let Some((count, distinct)) = count else {
        match h {
            Some(h) => {
                let i = rng.random_range(0..h.len());
                ctx.out.bulk(pair_at(&h, &compact_pairs(&h), i).0);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(h) = h.filter(|_| count > 0) else {
        ctx.out.array_len(0);
        return Ok(());
    };
    let n = h.len();
    let pairs = compact_pairs(&h);
    let resp3 = ctx.out.is_resp3();
    let emit = |ctx: &mut Ctx<'_>, (f, v): (&[u8], &[u8])| {
        if withvalues && resp3 {
            ctx.out.array_len(2);
        }
        ctx.out.bulk(f);
        if withvalues {
            ctx.out.bulk(v);
        }
    };
    let len = |m: usize| if withvalues && !resp3 { 2 * m } else { m };
    if distinct && count as usize >= n {
        ctx.out.array_len(len(n));
        for p in h.iter() {
            emit(ctx, p);
        }
    } else if distinct {
        let idx = distinct_indices(n, count as usize, &mut rng);
        ctx.out.array_len(len(idx.len()));
        for i in idx {
            emit(ctx, pair_at(&h, &pairs, i));
        }
    } else {
        ctx.out.array_len(len(count as usize));
        for _ in 0..count {
            let i = rng.random_range(0..n);
            emit(ctx, pair_at(&h, &pairs, i));
        }
    }
    Ok(())
}

/// A compact hash's pairs, for random access (empty for a table, which has its own).
fn compact_pairs<'a>(h: &HashRef<'a>) -> Vec<(&'a [u8], &'a [u8])> {
    match h {
        HashRef::Compact(_) => h.iter().collect(),
        HashRef::Boxed(_) => Vec::new(),
    }
}

fn pair_at<'a>(
    h: &HashRef<'a>,
    compact: &[(&'a [u8], &'a [u8])],
    i: usize,
) -> (&'a [u8], &'a [u8]) {
    match h {
        HashRef::Compact(_) => compact[i],
        HashRef::Boxed(o) => o.pair_at(i),
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] → [next cursor, [field, value, …]]. A
/// compact hash is returned whole with cursor 0 (as Redis does for listpacks); a table is
/// walked with the stable cursor of `Dense::scan`. MATCH applies to fields.
fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_scan(args)?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let h = coll::read(&mut txn, &k, ObjType::Hash)?.map(HashRef::of);
    let keep = |f: &[u8]| o.pattern.is_none_or(|p| glob_match(p, f, false));
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let next = match h {
        None => 0,
        Some(h @ HashRef::Compact(_)) => {
            found.extend(h.iter().filter(|(f, _)| keep(f)));
            0
        }
        Some(HashRef::Boxed(t)) => t.table().scan(o.cursor, o.count, |item| {
            let (f, v) = split_item(item);
            if keep(f) {
                found.push((f, v));
            }
        }),
    };
    ctx.out.array_len(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array_len(found.len() * 2);
    for (f, v) in found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}
