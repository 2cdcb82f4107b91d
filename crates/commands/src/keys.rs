//! Generic key commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, KEYS, SCAN, RANDOMKEY, RENAME,
//! RENAMENX, COPY, MOVE, the EXPIRE/TTL family and PERSIST. (OBJECT is in `object.rs`.)
//!
//! Semantics, replies and error words follow Redis 7.0 (checked against redis-server 7.0.15).
//! Multi-key commands lock every shard they touch at once (`Ctx::txn`), so DEL a b c or
//! RENAME a b is atomic against other clients. MOVE and COPY … DB n switch `Txn::db` inside
//! the same locked shards: a key's shard is the same in every database.

use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, lossy, parse_int};
use crate::{cmd, Ctx};
use protocol::{Args, Reply};
use storage::{Entry, Key};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("del", -2, WRITE, 1, -1, 1, del, "generic", "1.0.0",
        "Delete a key", "key [key ...]"),
    cmd!("unlink", -2, WRITE | FAST, 1, -1, 1, del, "generic", "4.0.0",
        "Delete a key. In rcache the same as DEL: a value is one allocation, freed at once, so there is nothing to reclaim in the background.",
        "key [key ...]"),
    cmd!("exists", -2, READONLY | FAST, 1, -1, 1, exists, "generic", "1.0.0",
        "Determine if a key exists", "key [key ...]"),
    cmd!("touch", -2, READONLY | FAST, 1, -1, 1, touch, "generic", "3.2.1",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "key [key ...]"),
    cmd!("type", 2, READONLY | FAST, 1, 1, 1, type_, "generic", "1.0.0",
        "Determine the type stored at key", "key"),
    cmd!("keys", 2, READONLY, 0, 0, 0, keys, "generic", "1.0.0",
        "Find all keys matching the given pattern", "pattern"),
    cmd!("scan", -2, READONLY, 0, 0, 0, scan, "generic", "2.8.0",
        "Incrementally iterate the keys space",
        "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    cmd!("randomkey", 1, READONLY, 0, 0, 0, randomkey, "generic", "1.0.0",
        "Return a random key from the keyspace", ""),
    cmd!("rename", 3, WRITE, 1, 2, 1, rename, "generic", "1.0.0",
        "Rename a key", "key newkey"),
    cmd!("renamenx", 3, WRITE | FAST, 1, 2, 1, renamenx, "generic", "1.0.0",
        "Rename a key, only if the new key does not exist", "key newkey"),
    cmd!("copy", -3, WRITE | DENYOOM, 1, 2, 1, copy, "generic", "6.2.0",
        "Copy a key", "source destination [DB destination-db] [REPLACE]"),
    cmd!("move", 3, WRITE | FAST, 1, 1, 1, move_, "generic", "1.0.0",
        "Move a key to another database", "key db"),
    cmd!("expire", -3, WRITE | FAST, 1, 1, 1, expire, "generic", "1.0.0",
        "Set a key's time to live in seconds", "key seconds [NX | XX | GT | LT]"),
    cmd!("pexpire", -3, WRITE | FAST, 1, 1, 1, pexpire, "generic", "2.6.0",
        "Set a key's time to live in milliseconds", "key milliseconds [NX | XX | GT | LT]"),
    cmd!("expireat", -3, WRITE | FAST, 1, 1, 1, expireat, "generic", "1.2.0",
        "Set the expiration for a key as a UNIX timestamp",
        "key unix-time-seconds [NX | XX | GT | LT]"),
    cmd!("pexpireat", -3, WRITE | FAST, 1, 1, 1, pexpireat, "generic", "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        "key unix-time-milliseconds [NX | XX | GT | LT]"),
    cmd!("ttl", 2, READONLY | FAST, 1, 1, 1, ttl, "generic", "1.0.0",
        "Get the time to live for a key in seconds", "key"),
    cmd!("pttl", 2, READONLY | FAST, 1, 1, 1, pttl, "generic", "2.6.0",
        "Get the time to live for a key in milliseconds", "key"),
    cmd!("expiretime", 2, READONLY | FAST, 1, 1, 1, expiretime, "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key", "key"),
    cmd!("pexpiretime", 2, READONLY | FAST, 1, 1, 1, pexpiretime, "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds", "key"),
    cmd!("persist", 2, WRITE | FAST, 1, 1, 1, persist, "generic", "2.2.0",
        "Remove the expiration from a key", "key"),
];

const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// The keys of arguments `from..`, hashed once.
fn keys_from<'k>(ctx: &Ctx<'_>, args: Args<'k>, from: usize) -> Vec<Key<'k>> {
    args.iter().skip(from).map(|a| ctx.key(a)).collect()
}

/// DEL key [key ...] / UNLINK key [key ...]: how many keys were removed (a key named twice
/// counts once). UNLINK is DEL here: an entry is a single allocation (key, header and value
/// together), so freeing it inline costs one `free`, not a walk over a large structure.
fn del(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys = keys_from(ctx, args, 1);
    let mut txn = ctx.txn(&keys);
    let n = keys.iter().filter(|k| txn.delete(k)).count();
    ctx.out.int(n as i64);
    Ok(())
}

/// EXISTS key [key ...]: how many of the named keys exist; a key named twice counts twice.
fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys = keys_from(ctx, args, 1);
    let mut txn = ctx.txn(&keys);
    let n = keys.iter().filter(|k| txn.inspect(k).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

/// TOUCH key [key ...]: refresh each key's LRU/LFU; how many exist (duplicates count twice).
fn touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys = keys_from(ctx, args, 1);
    let mut txn = ctx.txn(&keys);
    let n = keys.iter().filter(|k| txn.touch_key(k)).count();
    ctx.out.int(n as i64);
    Ok(())
}

/// TYPE key: `+string` (etc.), `+none` when missing. Does not touch the key.
///
/// The read-only inspections (TYPE, EXISTS, TTL family, OBJECT) use `Txn::inspect`, which
/// counts a keyspace hit or miss but does not refresh the access time (Redis's
/// LOOKUP_NOTOUCH). Write lookups (EXPIRE, PERSIST, RENAME, MOVE, COPY's
/// destination) refresh the access time without counting, as Redis's lookupKeyWrite.
fn type_(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let name = txn.inspect(&k).map_or("none", |e| e.obj_type().name());
    ctx.out.simple(name);
    Ok(())
}

/// KEYS pattern: every live key matching the glob, in no particular order.
///
/// `Keyspace::for_each` holds one shard lock at a time; matching keys are encoded straight
/// into a side buffer under that lock (one growing buffer, no allocation per key), so a
/// large database blocks each shard only for the time it takes to walk it.
fn keys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let pat = args.get(1);
    let all = pat == b"*";
    let mut buf = Vec::new();
    let mut n = 0usize;
    {
        let mut w = Reply::new(&mut buf, ctx.out.is_resp3());
        ctx.srv.ks.for_each(ctx.sess.db, |e| {
            if all || glob_match(pat, e.key(), false) {
                w.bulk(e.key());
                n += 1;
            }
        });
    }
    ctx.out.array_len(n);
    ctx.out.raw(&buf);
    Ok(())
}

/// A SCAN cursor as Redis 7.0 reads it (`strtoul`, base 10): an optional sign then digits;
/// a leading space, trailing junk or overflow is invalid; `-n` wraps as in C; an empty
/// string is 0. Clients only ever send back cursors they were given, which are plain
/// decimal u64s.
pub(crate) fn parse_cursor(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: `[next-cursor, [key ...]]`.
///
/// The cursor is the storage's opaque u64 (slot and position within the slot), printed in
/// decimal; `0` starts and ends a full iteration. Every key present for the whole iteration
/// is returned at least once, however the tables grow or shrink between calls; a key may
/// be returned more than once. COUNT is a hint of work per call (default 10). MATCH and
/// TYPE filter after the keys are fetched, so a call may return fewer keys, even none,
/// while the iteration goes on. An unknown TYPE name matches nothing (Redis 7.0).
fn scan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cursor = parse_cursor(args.get(1)).ok_or(CmdError::Static("ERR invalid cursor"))?;
    let (mut pat, mut count, mut typ): (Option<&[u8]>, usize, Option<&[u8]>) = (None, 10, None);
    let mut i = 2;
    while i < args.len() {
        let (opt, more) = (args.get(i), i + 1 < args.len());
        if eq_ic(opt, "count") && more {
            let c = parse_int(args.get(i + 1))?;
            if c < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(c).unwrap_or(usize::MAX);
        } else if eq_ic(opt, "match") && more {
            let p = args.get(i + 1);
            pat = (p != b"*").then_some(p);
        } else if eq_ic(opt, "type") && more {
            typ = Some(args.get(i + 1));
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut buf = Vec::new();
    let mut n = 0usize;
    let next = {
        let mut w = Reply::new(&mut buf, ctx.out.is_resp3());
        ctx.srv.ks.scan(ctx.sess.db, cursor, count, |e| {
            let key = e.key();
            if pat.is_some_and(|p| !glob_match(p, key, false)) {
                return;
            }
            if typ.is_some_and(|t| !eq_ic(t, e.obj_type().name())) {
                return;
            }
            w.bulk(key);
            n += 1;
        })
    };
    ctx.out.array_len(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array_len(n);
    ctx.out.raw(&buf);
    Ok(())
}

/// RANDOMKEY: a random live key, or a null when the database is empty.
fn randomkey(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    match ctx.srv.ks.random_key(ctx.sess.db) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RENAME key newkey: `ERR no such key` when `key` is missing; overwrites `newkey`;
/// the value keeps its TTL and its LFU counter (its access time is refreshed, as Redis's
/// write lookup does). Renaming a key to itself is OK.
fn rename(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rename_generic(ctx, args, false)
}

/// RENAMENX key newkey: 1 if renamed, 0 if `newkey` exists (or is `key` itself).
fn renamenx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rename_generic(ctx, args, true)
}

fn rename_generic(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) -> CmdResult {
    let (src, dst) = (ctx.key(args.get(1)), ctx.key(args.get(2)));
    let mut txn = ctx.txn(&[src, dst]);
    // Write lookups refresh the access time, as Redis's lookupKeyWrite does.
    if !txn.touch_key(&src) {
        return Err(CmdError::NoSuchKey);
    }
    if src.bytes == dst.bytes || (nx && txn.touch_key(&dst)) {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    let e = txn.remove(&src).expect("checked above under the same lock");
    let at = e.expire_at();
    txn.put_entry(&dst, e.clone_as(dst.bytes, dst.slot), at);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// A database index argument (MOVE, COPY … DB): Redis's int range check, then the
/// configured number of databases.
fn parse_db(ctx: &Ctx<'_>, b: &[u8]) -> Result<usize, CmdError> {
    let v = parse_int(b)?;
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    if v < 0 || v as usize >= ctx.srv.ks.databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(v as usize)
}

/// COPY source destination [DB destination-db] [REPLACE]: 1 if copied, 0 if `source` is
/// missing or `destination` exists without REPLACE. The copy keeps the TTL; like a new
/// object in Redis it starts with a fresh access time.
fn copy(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let src_db = ctx.sess.db;
    let (mut dst_db, mut replace) = (src_db, false);
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if eq_ic(opt, "replace") {
            replace = true;
        } else if eq_ic(opt, "db") && i + 1 < args.len() {
            dst_db = parse_db(ctx, args.get(i + 1))?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if src_db == dst_db && args.get(1) == args.get(2) {
        return Err(CmdError::Static(SAME_OBJECT));
    }
    let (src, dst) = (ctx.key(args.get(1)), ctx.key(args.get(2)));
    let mut txn = ctx.txn(&[src, dst]);
    let Some(e) = txn.get(&src) else {
        ctx.out.int(0);
        return Ok(());
    };
    let (copy, at): (Entry, u64) = (e.clone_as(dst.bytes, dst.slot), e.expire_at());
    txn.db = dst_db;
    if !replace && txn.touch_key(&dst) {
        ctx.out.int(0);
        return Ok(());
    }
    txn.put_entry(&dst, copy, at);
    txn.touch_key(&dst);
    // The destination may be in another database than the caller's: wake its waiters.
    crate::blocking::signal_written(ctx.srv, dst_db, dst.bytes);
    ctx.out.int(1);
    Ok(())
}

/// MOVE key db: 1 if moved, 0 if `key` is missing or already exists in `db`. The key keeps
/// its TTL; its access time is refreshed (a write lookup). Errors (bad index, same
/// database) come before the key is looked at.
fn move_(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let dst_db = parse_db(ctx, args.get(2))?;
    let src_db = ctx.sess.db;
    if dst_db == src_db {
        return Err(CmdError::Static(SAME_OBJECT));
    }
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    if !txn.touch_key(&k) {
        ctx.out.int(0);
        return Ok(());
    }
    txn.db = dst_db;
    if txn.touch_key(&k) {
        ctx.out.int(0);
        return Ok(());
    }
    txn.db = src_db;
    let e = txn.remove(&k).expect("checked above under the same lock");
    let at = e.expire_at();
    txn.db = dst_db;
    // Same key bytes and slot: the entry moves as it is, without a copy.
    txn.put_entry(&k, e, at);
    // Clients blocked on the key in the target database are woken.
    crate::blocking::signal_written(ctx.srv, dst_db, k.bytes);
    ctx.out.int(1);
    Ok(())
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, 1000, true)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, 1, true)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, 1000, false)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, 1, false)
}

/// The EXPIRE family, as Redis 7's expireGenericCommand: options are checked first (an
/// unknown one is `ERR Unsupported option x`), then the time (negative allowed; overflow of
/// the unit conversion or of the addition of now is `ERR invalid expire time`). Replies 1
/// when the TTL was set, 0 when the key is missing or an option's condition fails:
/// NX = only without a TTL, XX = only with one, GT = only to a later time (a key without a
/// TTL counts as infinite, so GT never applies to it), LT = only to an earlier time (always
/// applies to a key without a TTL). A time not in the future deletes the key (reply 1).
fn expire_generic(ctx: &mut Ctx<'_>, args: Args<'_>, unit: i64, relative: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args.iter().skip(3) {
        if eq_ic(opt, "nx") {
            nx = true;
        } else if eq_ic(opt, "xx") {
            xx = true;
        } else if eq_ic(opt, "gt") {
            gt = true;
        } else if eq_ic(opt, "lt") {
            lt = true;
        } else {
            return Err(CmdError::Msg(format!(
                "ERR Unsupported option {}",
                lossy(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::Static(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::Static(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let when = parse_int(args.get(2))?;
    let when = when.checked_mul(unit).ok_or(CmdError::InvalidExpire)?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let now = txn.now() as i64;
    let when = if relative {
        when.checked_add(now).ok_or(CmdError::InvalidExpire)?
    } else {
        when
    };
    let Some(e) = txn.peek(&k) else {
        ctx.out.int(0);
        return Ok(());
    };
    let current = match e.expire_at() {
        0 => None,
        at => Some(at as i64),
    };
    // A write lookup refreshes the access time even when an option refuses the change.
    txn.touch_key(&k);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        ctx.out.int(0);
        return Ok(());
    }
    if when <= now && !txn.keyspace().replaying() {
        crate::effects::rewrite(&[b"DEL", k.bytes]);
        txn.delete(&k);
    } else {
        // Relative or not, with options or not: the log holds the instant it set.
        crate::effects::rewrite(&[b"PEXPIREAT", k.bytes, when.to_string().as_bytes()]);
        txn.set_expire(&k, when as u64);
        // A new TTL equal to the old one (same millisecond) is still a change to Redis.
        txn.signal_modified(&k);
    }
    ctx.out.int(1);
    Ok(())
}

/// TTL key: seconds to live, rounded to nearest; -2 missing, -1 no TTL.
fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

/// PTTL key: milliseconds to live; -2 missing, -1 no TTL.
fn pttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

/// EXPIRETIME key: absolute Unix time in seconds (rounded, as Redis); -2 / -1.
fn expiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

/// PEXPIRETIME key: absolute Unix time in ms; -2 / -1.
fn pexpiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

fn ttl_generic(ctx: &mut Ctx<'_>, args: Args<'_>, ms: bool, absolute: bool) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let now = txn.now();
    let reply = match txn.inspect(&k).map(|e| e.expire_at()) {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let t = if absolute { at } else { at.saturating_sub(now) };
            let t = if ms { t } else { t.saturating_add(500) / 1000 };
            t.min(i64::MAX as u64) as i64
        }
    };
    ctx.out.int(reply);
    Ok(())
}

/// PERSIST key: 1 if a TTL was removed, 0 if the key is missing or has none.
fn persist(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let volatile = txn.peek(&k).is_some_and(|e| e.expire_at() != 0);
    txn.touch_key(&k);
    if volatile {
        txn.set_expire(&k, 0);
    }
    ctx.out.int(volatile as i64);
    Ok(())
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
