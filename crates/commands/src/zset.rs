//! Sorted-set commands (Redis's `sorted_set` group), over `storage::types::zset`.
//!
//! Files: `zset/basic.rs` (ZADD, ZINCRBY, ZREM, scores, ranks, counts, ZREMRANGEBY*,
//! ZRANDMEMBER, ZSCAN), `zset/range.rs` (ZRANGE and its legacy forms, ZRANGESTORE),
//! `zset/pop.rs` (ZPOPMIN/ZPOPMAX/ZMPOP and the non-blocking core the blocking forms will
//! reuse), `zset/algebra.rs` (ZUNION/ZINTER/ZDIFF, their STORE forms, ZINTERCARD).
//!
//! Scores are IEEE doubles parsed as Redis parses them (`inf`, `-inf`, no NaN) and written
//! with `protocol::reply::format_double`: bulk strings in RESP2, doubles in RESP3 (ZSCAN
//! keeps bulk strings in both, as Redis). Score ranges take `(` for exclusive ends; lex
//! ranges take `[`/`(`/`-`/`+`. Write commands delete a key whose set becomes empty.

mod algebra;
mod basic;
mod bpop;
mod pop;
mod range;
#[cfg(test)]
mod tests;

pub use pop::{parse_mpop, pop_first_nonempty, reply_mpop, reply_pop, PopResult};

use crate::error::CmdError;
use crate::table::{flags::*, CommandSpec};
use crate::util::parse_float;
use crate::{cmd, Ctx};
use protocol::Reply;
use storage::types::zset::{self, LexBound, LexRange, ScoreRange, ZRef};
use storage::{Entry, Key, ObjType, Txn};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("zadd", -4, WRITE | DENYOOM | FAST, 1, 1, 1, basic::zadd, "sorted_set", "1.2.0",
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"),
    cmd!("zincrby", 4, WRITE | DENYOOM | FAST, 1, 1, 1, basic::zincrby, "sorted_set", "1.2.0",
        "Increments the score of a member in a sorted set.", "key increment member"),
    cmd!("zrem", -3, WRITE | FAST, 1, 1, 1, basic::zrem, "sorted_set", "1.2.0",
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        "key member [member ...]"),
    cmd!("zscore", 3, READONLY | FAST, 1, 1, 1, basic::zscore, "sorted_set", "1.2.0",
        "Returns the score of a member in a sorted set.", "key member"),
    cmd!("zmscore", -3, READONLY | FAST, 1, 1, 1, basic::zmscore, "sorted_set", "6.2.0",
        "Returns the score of one or more members in a sorted set.", "key member [member ...]"),
    cmd!("zcard", 2, READONLY | FAST, 1, 1, 1, basic::zcard, "sorted_set", "1.2.0",
        "Returns the number of members in a sorted set.", "key"),
    cmd!("zcount", 4, READONLY | FAST, 1, 1, 1, basic::zcount, "sorted_set", "2.0.0",
        "Returns the count of members in a sorted set that have scores within a range.", "key min max"),
    cmd!("zlexcount", 4, READONLY | FAST, 1, 1, 1, basic::zlexcount, "sorted_set", "2.8.9",
        "Returns the number of members in a sorted set within a lexicographical range.", "key min max"),
    cmd!("zrank", 3, READONLY | FAST, 1, 1, 1, basic::zrank, "sorted_set", "2.0.0",
        "Returns the index of a member in a sorted set ordered by ascending scores.", "key member"),
    cmd!("zrevrank", 3, READONLY | FAST, 1, 1, 1, basic::zrevrank, "sorted_set", "2.0.0",
        "Returns the index of a member in a sorted set ordered by descending scores.", "key member"),
    cmd!("zrange", -4, READONLY, 1, 1, 1, range::zrange, "sorted_set", "1.2.0",
        "Returns members in a sorted set within a range of indexes.",
        "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    cmd!("zrangestore", -5, WRITE | DENYOOM, 1, 2, 1, range::zrangestore, "sorted_set", "6.2.0",
        "Stores a range of members from sorted set in a key.",
        "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"),
    cmd!("zrangebyscore", -4, READONLY, 1, 1, 1, range::zrangebyscore, "sorted_set", "1.0.5",
        "Returns members in a sorted set within a range of scores.",
        "key min max [WITHSCORES] [LIMIT offset count]"),
    cmd!("zrevrange", -4, READONLY, 1, 1, 1, range::zrevrange, "sorted_set", "1.2.0",
        "Returns members in a sorted set within a range of indexes in reverse order.",
        "key start stop [WITHSCORES]"),
    cmd!("zrevrangebyscore", -4, READONLY, 1, 1, 1, range::zrevrangebyscore, "sorted_set", "2.2.0",
        "Returns members in a sorted set within a range of scores in reverse order.",
        "key max min [WITHSCORES] [LIMIT offset count]"),
    cmd!("zrangebylex", -4, READONLY, 1, 1, 1, range::zrangebylex, "sorted_set", "2.8.9",
        "Returns members in a sorted set within a lexicographical range.",
        "key min max [LIMIT offset count]"),
    cmd!("zrevrangebylex", -4, READONLY, 1, 1, 1, range::zrevrangebylex, "sorted_set", "2.8.9",
        "Returns members in a sorted set within a lexicographical range in reverse order.",
        "key max min [LIMIT offset count]"),
    cmd!("zremrangebyrank", 4, WRITE, 1, 1, 1, basic::zremrangebyrank, "sorted_set", "2.0.0",
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        "key start stop"),
    cmd!("zremrangebyscore", 4, WRITE, 1, 1, 1, basic::zremrangebyscore, "sorted_set", "1.2.0",
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        "key min max"),
    cmd!("zremrangebylex", 4, WRITE, 1, 1, 1, basic::zremrangebylex, "sorted_set", "2.8.9",
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        "key min max"),
    cmd!("zpopmin", -2, WRITE | FAST, 1, 1, 1, pop::zpopmin, "sorted_set", "5.0.0",
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "key [count]"),
    cmd!("zpopmax", -2, WRITE | FAST, 1, 1, 1, pop::zpopmax, "sorted_set", "5.0.0",
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "key [count]"),
    cmd!("zmpop", -4, WRITE | MOVABLE_KEYS, 0, 0, 0, pop::zmpop, "sorted_set", "7.0.0",
        "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
        "numkeys key [key ...] MIN | MAX [COUNT count]"),
    cmd!("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, 1, -2, 1, bpop::bzpopmin, "sorted_set", "5.0.0",
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        "key [key ...] timeout"),
    cmd!("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, 1, -2, 1, bpop::bzpopmax, "sorted_set", "5.0.0",
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
        "key [key ...] timeout"),
    cmd!("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, 0, 0, 0, bpop::bzmpop, "sorted_set", "7.0.0",
        "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        "timeout numkeys key [key ...] MIN | MAX [COUNT count]"),
    cmd!("zrandmember", -2, READONLY, 1, 1, 1, basic::zrandmember, "sorted_set", "6.2.0",
        "Returns one or more random members from a sorted set.", "key [count [WITHSCORES]]"),
    cmd!("zunion", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, algebra::zunion, "sorted_set", "6.2.0",
        "Returns the union of multiple sorted sets.",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]"),
    cmd!("zinter", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, algebra::zinter, "sorted_set", "6.2.0",
        "Returns the intersect of multiple sorted sets.",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]"),
    cmd!("zdiff", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, algebra::zdiff, "sorted_set", "6.2.0",
        "Returns the difference between multiple sorted sets.", "numkeys key [key ...] [WITHSCORES]"),
    cmd!("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, algebra::zunionstore, "sorted_set", "2.0.0",
        "Stores the union of multiple sorted sets in a key.",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]"),
    cmd!("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, algebra::zinterstore, "sorted_set", "2.0.0",
        "Stores the intersect of multiple sorted sets in a key.",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]"),
    cmd!("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, algebra::zdiffstore, "sorted_set", "6.2.0",
        "Stores the difference of multiple sorted sets in a key.", "destination numkeys key [key ...]"),
    cmd!("zintercard", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, algebra::zintercard, "sorted_set", "7.0.0",
        "Returns the number of members of the intersect of multiple sorted sets.",
        "numkeys key [key ...] [LIMIT limit]"),
    cmd!("zscan", -3, READONLY, 1, 1, 1, basic::zscan, "sorted_set", "2.8.0",
        "Iterates over members and scores of a sorted set.", "key cursor [MATCH pattern] [COUNT count]"),
];

/// A sorted set to read: `None` when the key is missing, `WRONGTYPE` for another type.
/// Counts a keyspace hit or miss, as Redis's lookupKeyRead.
pub(crate) fn read_zset<'t>(txn: &'t mut Txn<'_>, k: &Key) -> Result<Option<ZRef<'t>>, CmdError> {
    match txn.get(k) {
        None => Ok(None),
        Some(e) if e.obj_type() != ObjType::ZSet => Err(CmdError::WrongType),
        Some(e) => Ok(Some(ZRef::of(e))),
    }
}

/// Whether a sorted set exists at `k`, as a write command looks it up (no hit/miss
/// counted): `WRONGTYPE` for another type.
pub(crate) fn read_zset_type_only(txn: &mut Txn<'_>, k: &Key) -> Result<bool, CmdError> {
    match txn.peek(k) {
        None => Ok(false),
        Some(e) if e.obj_type() != ObjType::ZSet => Err(CmdError::WrongType),
        Some(_) => Ok(true),
    }
}

/// The LRU/LFU field a newly created key starts with.
pub(crate) fn new_lru(ctx: &Ctx<'_>, txn: &Txn<'_>) -> u32 {
    storage::evict::initial_lru(txn.now(), ctx.srv.settings.evict.policy().is_lfu())
}

/// Run `f` on the sorted set at `k`, creating an empty one first when the key is missing
/// and `create` is set; afterwards the key is stored if new and non-empty, or deleted if it
/// became empty. `None` when the key is missing and `create` is false.
///
/// For a command that may change nothing (ZREM of absent members, ZADD of an
/// unchanged score…): only when `changed` says so from `f`'s result are the key's watchers
/// touched, as Redis signals a key only when it was modified.
pub(crate) fn write_zset_if<R>(
    ctx: &Ctx<'_>,
    txn: &mut Txn<'_>,
    k: &Key,
    create: bool,
    f: impl FnOnce(&mut Entry) -> R,
    changed: impl FnOnce(&R) -> bool,
) -> Result<Option<R>, CmdError> {
    match txn.peek(k) {
        Some(e) if e.obj_type() != ObjType::ZSet => Err(CmdError::WrongType),
        Some(_) => {
            let r = txn
                .modify_if(k, |e| {
                    let r = f(e);
                    let ch = changed(&r);
                    (r, ch)
                })
                .expect("key present");
            if txn.peek(k).is_some_and(|e| ZRef::of(e).is_empty()) {
                txn.delete(k);
            }
            Ok(Some(r))
        }
        None if create => {
            let mut e = zset::new_entry(k.bytes, k.slot, new_lru(ctx, txn));
            let r = f(&mut e);
            if !ZRef::of(&e).is_empty() {
                txn.put_entry(k, e, 0);
            }
            Ok(Some(r))
        }
        None => Ok(None),
    }
}

/// Replace `dst` (whatever it held, TTL included) with the sorted set `sorted`, or delete it
/// when `sorted` is empty: what every *STORE command does.
pub(crate) fn store_result(ctx: &Ctx<'_>, txn: &mut Txn<'_>, dst: &Key, sorted: &[(&[u8], f64)]) {
    if sorted.is_empty() {
        txn.delete(dst);
        return;
    }
    let limits = ctx.srv.settings.limits();
    let e = zset::entry_from_sorted(dst.bytes, dst.slot, new_lru(ctx, txn), sorted, &limits);
    txn.put_entry(dst, e, 0);
}

/// A score as ZSCORE, ZINCRBY… reply it: a double in RESP3, a bulk string in RESP2.
#[inline]
pub(crate) fn reply_score(out: &mut Reply<'_>, s: f64) {
    out.double(s);
}

/// Members (and scores) as ranges reply them: a flat array in RESP2 (member, score, …);
/// with scores in RESP3, an array of [member, score] pairs.
pub(crate) struct PairWriter {
    pub withscores: bool,
}

impl PairWriter {
    pub fn header(&self, out: &mut Reply<'_>, n: usize) {
        if self.withscores && !out.is_resp3() {
            out.array_len(n * 2);
        } else {
            out.array_len(n);
        }
    }
    pub fn item(&self, out: &mut Reply<'_>, m: &[u8], s: f64) {
        if !self.withscores {
            out.bulk(m);
            return;
        }
        if out.is_resp3() {
            out.array_len(2);
        }
        out.bulk(m);
        out.double(s);
    }
}

/// One end of a score range: `(x` exclusive, otherwise inclusive; Redis reads it with
/// strtod, so `inf`/`-inf`/`+inf` work and NaN does not.
fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (ex, num) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    parse_float(num).ok().map(|v| (v, ex))
}

/// `min max` as a score range (`ERR min or max is not a float`).
pub(crate) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        }),
        _ => Err(CmdError::Static("ERR min or max is not a float")),
    }
}

fn parse_lex_bound(b: &[u8]) -> Option<LexBound> {
    match b.first() {
        Some(b'+') if b.len() == 1 => Some(LexBound::PosInf),
        Some(b'-') if b.len() == 1 => Some(LexBound::NegInf),
        Some(b'[') => Some(LexBound::Incl(b[1..].to_vec())),
        Some(b'(') => Some(LexBound::Excl(b[1..].to_vec())),
        _ => None,
    }
}

/// `min max` as a lex range (`ERR min or max not valid string range item`).
pub(crate) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::Static(
            "ERR min or max not valid string range item",
        )),
    }
}

/// Redis's rank-range sanitising (ZRANGE, ZREMRANGEBYRANK): negative indexes count from
/// the end; the result is an inclusive-exclusive window `[start, end)`, empty when the
/// range misses the set.
pub(crate) fn rank_window(start: i64, end: i64, len: usize) -> (usize, usize) {
    let llen = len as i64;
    let mut s = if start < 0 { llen + start } else { start };
    let mut e = if end < 0 { llen + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return (0, 0);
    }
    if e >= llen {
        e = llen - 1;
    }
    (s as usize, e as usize + 1)
}

/// An input of ZUNION/ZINTER/ZDIFF… read as (member, score) pairs: a sorted set, or a plain
/// set whose members all score 1.
///
pub(crate) fn input_pairs(e: &Entry) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    match e.obj_type() {
        ObjType::ZSet => Ok(ZRef::of(e)
            .to_vec()
            .into_iter()
            .map(|(m, s)| (m.to_vec(), s))
            .collect()),
        ObjType::Set => Ok(storage::types::set::SetRef::of(e)
            .iter()
            .map(|m| (m.to_vec(), 1.0))
            .collect()),
        _ => Err(CmdError::WrongType),
    }
}
