//! String commands: GET, SET and its variants, MGET/MSET, counters, ranges, LCS.
//!
//! Counters (INCR…, INCRBYFLOAT and its x87 long double) live in `strings/counters.rs`,
//! LCS in `strings/lcs.rs`; every row is in the one table below. Write commands that may
//! grow memory carry DENYOOM, so the dispatcher refuses them at `maxmemory` under
//! `noeviction`. Commands that rewrite a value in place (APPEND, SETRANGE, INCR…) keep the
//! key's TTL; commands that replace it (SET, GETSET, MSET…) clear it, as Redis does.

mod counters;
mod lcs;
pub mod longdouble;

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;
use storage::{Entry, Expiry, Key, ObjType};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("get", 2, READONLY | FAST, 1, 1, 1, get, "string", "1.0.0", "Returns the string value of a key.", "key"),
    cmd!("set", -3, WRITE | DENYOOM, 1, 1, 1, set, "string", "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"),
    cmd!("setnx", 3, WRITE | DENYOOM | FAST, 1, 1, 1, setnx, "string", "1.0.0",
        "Set the string value of a key only when the key doesn't exist.", "key value"),
    cmd!("setex", 4, WRITE | DENYOOM, 1, 1, 1, setex, "string", "2.0.0",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "key seconds value"),
    cmd!("psetex", 4, WRITE | DENYOOM, 1, 1, 1, psetex, "string", "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        "key milliseconds value"),
    cmd!("getset", 3, WRITE | DENYOOM | FAST, 1, 1, 1, getset, "string", "1.0.0",
        "Returns the previous string value of a key after setting it to a new value.", "key value"),
    cmd!("getdel", 2, WRITE | FAST, 1, 1, 1, getdel, "string", "6.2.0",
        "Returns the string value of a key after deleting the key.", "key"),
    cmd!("getex", -2, WRITE | FAST, 1, 1, 1, getex, "string", "6.2.0",
        "Returns the string value of a key after setting its expiration time.",
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"),
    cmd!("mget", -2, READONLY | FAST, 1, -1, 1, mget, "string", "1.0.0",
        "Atomically returns the string values of one or more keys.", "key [key ...]"),
    cmd!("mset", -3, WRITE | DENYOOM, 1, -1, 2, mset, "string", "1.0.1",
        "Atomically creates or modifies the string values of one or more keys.", "key value [key value ...]"),
    cmd!("msetnx", -3, WRITE | DENYOOM, 1, -1, 2, msetnx, "string", "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        "key value [key value ...]"),
    cmd!("incr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, counters::incr, "string", "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "key"),
    cmd!("decr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, counters::decr, "string", "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "key"),
    cmd!("incrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, counters::incrby, "string", "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "key increment"),
    cmd!("decrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, counters::decrby, "string", "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        "key decrement"),
    cmd!("incrbyfloat", 3, WRITE | DENYOOM | FAST, 1, 1, 1, counters::incrbyfloat, "string", "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "key increment"),
    cmd!("append", 3, WRITE | DENYOOM | FAST, 1, 1, 1, append, "string", "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.", "key value"),
    cmd!("strlen", 2, READONLY | FAST, 1, 1, 1, strlen, "string", "2.2.0",
        "Returns the length of a string value.", "key"),
    cmd!("getrange", 4, READONLY, 1, 1, 1, getrange, "string", "2.4.0",
        "Returns a substring of the string stored at a key.", "key start end"),
    cmd!("substr", 4, READONLY, 1, 1, 1, getrange, "string", "1.0.0",
        "Returns a substring from a string value.", "key start end"),
    cmd!("setrange", 4, WRITE | DENYOOM, 1, 1, 1, setrange, "string", "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        "key offset value"),
    cmd!("lcs", -3, READONLY, 1, 2, 1, lcs::lcs, "string", "7.0.0",
        "Finds the longest common substring.",
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"),
];

/// `WRONGTYPE` unless the entry holds a string. Only strings exist today; the check stays so
/// other types fit in later without touching every command.
#[inline]
pub(crate) fn check_string(e: &Entry) -> Result<(), CmdError> {
    if e.obj_type() != ObjType::String {
        return Err(CmdError::WrongType);
    }
    Ok(())
}

/// The largest string a command may build (`proto-max-bulk-len`).
#[inline]
pub(crate) fn max_string_len(ctx: &Ctx<'_>) -> u64 {
    ctx.srv.settings.proto_max_bulk_len.load(Relaxed).max(0) as u64
}

/// Redis's `checkStringLength`: a string of `size + append` bytes must fit the limit.
pub(crate) fn check_string_length(limit: u64, size: u64, append: u64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= limit => Ok(()),
        _ => Err(CmdError::Static(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

/// GET key
fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.get(&k) {
        None => ctx.out.null(),
        Some(e) => {
            check_string(e)?;
            ctx.out.bulk(e.value());
        }
    }
    Ok(())
}

/// Turn `EX n` / `PX n` / `EXAT n` / `PXAT n` into an absolute ms time, with Redis's checks
/// (positive, no overflow). `now` is the command's time.
pub fn expire_at(unit: &[u8], n: &[u8], now: u64) -> Result<u64, CmdError> {
    let v = parse_int(n)?;
    if v <= 0 {
        return Err(CmdError::InvalidExpire);
    }
    let v = v as u64;
    let ms = if eq_ic(unit, "ex") || eq_ic(unit, "exat") {
        v.checked_mul(1000).ok_or(CmdError::InvalidExpire)?
    } else {
        v
    };
    let at = if eq_ic(unit, "ex") || eq_ic(unit, "px") {
        ms.checked_add(now).ok_or(CmdError::InvalidExpire)?
    } else {
        ms
    };
    if at > i64::MAX as u64 {
        return Err(CmdError::InvalidExpire);
    }
    Ok(at)
}

/// Options of SET and GETEX, parsed as Redis's `parseExtendedStringArgumentsOrReply`: the
/// expiry value is only checked after the whole line parsed, a repeated option of the same
/// kind is allowed (the last `EX n` wins), conflicting ones are a syntax error.
#[derive(Default)]
struct ExtOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// (unit as written: EX/PX/EXAT/PXAT, value)
    expire: Option<(&'a [u8], &'a [u8])>,
}

fn parse_ext_opts<'a>(args: Args<'a>, from: usize, is_set: bool) -> Result<ExtOpts<'a>, CmdError> {
    let mut o = ExtOpts::default();
    let mut j = from;
    while j < args.len() {
        let a = args.get(j);
        let unit = ["ex", "px", "exat", "pxat"].iter().find(|u| eq_ic(a, u));
        if is_set && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq_ic(a, "get") {
            o.get = true;
        } else if is_set && eq_ic(a, "keepttl") && !o.persist && o.expire.is_none() {
            o.keepttl = true;
        } else if !is_set && eq_ic(a, "persist") && !o.keepttl && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(u), Some(n)) = (unit, args.try_get(j + 1)) {
            let same_or_none = o.expire.is_none_or(|(prev, _)| eq_ic(prev, u));
            if o.keepttl || o.persist || !same_or_none {
                return Err(CmdError::Syntax);
            }
            o.expire = Some((a, n));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// How a successful (or skipped) SET-family write answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetReply {
    /// `+OK`, or nil when NX/XX prevented the write (SET, SETEX, PSETEX).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

/// Redis's `setGenericCommand`.
fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: &[u8],
    o: &ExtOpts<'_>,
    reply: SetReply,
) -> CmdResult {
    let k = ctx.key(key);
    let mut txn = ctx.txn1(&k);
    let at = match o.expire {
        Some((unit, n)) => Some(expire_at(unit, n, txn.now())?),
        None => None,
    };
    // Plain SET needs no look at the old value: one lookup, not two.
    let exists = if o.get {
        match txn.get(&k) {
            Some(e) => {
                check_string(e)?;
                ctx.out.bulk(e.value());
                true
            }
            None => {
                ctx.out.null();
                false
            }
        }
    } else {
        (o.nx || o.xx) && txn.exists(&k)
    };
    if (o.nx && exists) || (o.xx && !exists) {
        match (o.get, reply) {
            (true, _) => {}
            (false, SetReply::Ok) => ctx.out.null(),
            (false, SetReply::Int) => ctx.out.int(0),
        }
        return Ok(());
    }
    match at {
        // An expiry already in the past: the key is gone at once, as Redis 7 shows it.
        // (Not while the log is replayed: the time was in the future when it was written.)
        Some(at) if at <= txn.now() && !txn.keyspace().replaying() => {
            crate::effects::rewrite(&[b"DEL", key]);
            txn.delete(&k);
        }
        Some(at) => {
            // The log holds the absolute time, never "10 s from now".
            crate::effects::rewrite(&[b"SET", key, value, b"PXAT", at.to_string().as_bytes()]);
            txn.set(&k, value, Expiry::At(at));
        }
        None if o.keepttl => {
            txn.set(&k, value, Expiry::Keep);
        }
        None => {
            txn.set(&k, value, Expiry::Clear);
        }
    }
    match (o.get, reply) {
        (true, _) => {}
        (false, SetReply::Ok) => ctx.out.ok(),
        (false, SetReply::Int) => ctx.out.int(1),
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms | KEEPTTL]
fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_ext_opts(args, 3, true)?;
    set_generic(ctx, args.get(1), args.get(2), &o, SetReply::Ok)
}

/// SETNX key value → 1 if set, 0 if the key existed.
fn setnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = ExtOpts {
        nx: true,
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(2), &o, SetReply::Int)
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = ExtOpts {
        expire: Some((b"ex", args.get(2))),
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(3), &o, SetReply::Ok)
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = ExtOpts {
        expire: Some((b"px", args.get(2))),
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(3), &o, SetReply::Ok)
}

/// GETSET key value: SET key value GET.
fn getset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = ExtOpts {
        get: true,
        ..Default::default()
    };
    set_generic(ctx, args.get(1), args.get(2), &o, SetReply::Ok)
}

/// GETDEL key
fn getdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.get(&k) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => {
            check_string(e)?;
            ctx.out.bulk(e.value());
        }
    }
    txn.delete(&k);
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms | PERSIST]. Without options the TTL is left
/// as it is. As in Redis, a missing key answers nil before the expiry value is checked.
fn getex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_ext_opts(args, 2, false)?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let now = txn.now();
    let at = match txn.get(&k) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => {
            check_string(e)?;
            let at = match o.expire {
                Some((unit, n)) => Some(expire_at(unit, n, now)?),
                None => None,
            };
            ctx.out.bulk(e.value());
            at
        }
    };
    let key = args.get(1);
    match at {
        Some(at) if at <= now && !txn.keyspace().replaying() => {
            crate::effects::rewrite(&[b"DEL", key]);
            txn.delete(&k);
        }
        Some(at) => {
            crate::effects::rewrite(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
            txn.set_expire(&k, at);
        }
        None if o.persist => {
            crate::effects::rewrite(&[b"PERSIST", key]);
            txn.set_expire(&k, 0);
        }
        None => {}
    }
    Ok(())
}

/// MGET key [key ...]: nil for missing keys and keys of other types.
fn mget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys: Vec<Key> = args.iter().skip(1).map(|a| ctx.key(a)).collect();
    let mut txn = ctx.txn(&keys);
    ctx.out.array_len(keys.len());
    for k in &keys {
        match txn.get(k) {
            Some(e) if e.obj_type() == ObjType::String => ctx.out.bulk(e.value()),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET / MSETNX: all keys' shards locked at once, so the write is atomic.
fn mset_generic(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) -> CmdResult {
    if args.len() & 1 == 0 {
        return Err(CmdError::WrongArity);
    }
    let keys: Vec<Key> = args.iter().skip(1).step_by(2).map(|a| ctx.key(a)).collect();
    let mut txn = ctx.txn(&keys);
    if nx && keys.iter().any(|k| txn.exists(k)) {
        ctx.out.int(0);
        return Ok(());
    }
    for (i, k) in keys.iter().enumerate() {
        txn.set(k, args.get(2 + 2 * i), Expiry::Clear);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    mset_generic(ctx, args, false)
}

/// MSETNX key value [key value ...] → 1 if all were set, 0 if any key existed.
fn msetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    mset_generic(ctx, args, true)
}

/// APPEND key value → the new length. Keeps the TTL.
fn append(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let more = args.get(2);
    let limit = max_string_len(ctx);
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let r = txn.modify(&k, |e| -> Result<usize, CmdError> {
        check_string(e)?;
        check_string_length(limit, e.value_len() as u64, more.len() as u64)?;
        e.append(more);
        Ok(e.value_len())
    });
    let len = match r {
        Some(r) => r?,
        None => {
            txn.set(&k, more, Expiry::Clear);
            more.len()
        }
    };
    ctx.out.int(len as i64);
    Ok(())
}

/// STRLEN key → 0 for a missing key.
fn strlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = match txn.get(&k) {
        None => 0,
        Some(e) => {
            check_string(e)?;
            e.value_len()
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// Redis's inclusive `start..=end` range over `len` items with negative indexes from the
/// end, clamped; `None` when empty. GETRANGE, and BITCOUNT/BITPOS after their own checks.
pub(crate) fn clamp_range(mut start: i64, mut end: i64, len: i64) -> Option<(u64, u64)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start = len.saturating_add(start);
    }
    if end < 0 {
        end = len.saturating_add(end);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as u64, end as u64))
}

/// GETRANGE key start end (and SUBSTR): an empty string for a missing key or empty range.
fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let start = parse_int(args.get(2))?;
    let end = parse_int(args.get(3))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.get(&k) {
        None => ctx.out.bulk(b""),
        Some(e) => {
            check_string(e)?;
            let v = e.value();
            match clamp_range(start, end, v.len() as i64) {
                Some((s, e)) => ctx.out.bulk(&v[s as usize..=e as usize]),
                None => ctx.out.bulk(b""),
            }
        }
    }
    Ok(())
}

/// Write `value` at `offset`, zero-padding any gap. The caller checked the length limit.
pub(crate) fn write_at(e: &mut Entry, offset: usize, value: &[u8]) {
    let end = offset + value.len();
    if end > e.value_len() {
        e.resize_value(end);
    }
    e.value_mut()[offset..end].copy_from_slice(value);
}

/// SETRANGE key offset value → the new length. Keeps the TTL; an empty value never creates
/// the key.
fn setrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let offset = parse_int(args.get(2))?;
    if offset < 0 {
        return Err(CmdError::Static("ERR offset is out of range"));
    }
    let (offset, value) = (offset as u64, args.get(3));
    let limit = max_string_len(ctx);
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    // An empty value writes nothing: no change for WATCH (Redis returns before signalling).
    let r = txn.modify_if(&k, |e| {
        let r = (|| {
            check_string(e)?;
            if !value.is_empty() {
                check_string_length(limit, offset, value.len() as u64)?;
                write_at(e, offset as usize, value);
            }
            Ok(e.value_len())
        })();
        let changed = r.is_ok() && !value.is_empty();
        (r, changed)
    });
    let len = match r {
        Some(r) => r?,
        None if value.is_empty() => 0,
        None => {
            check_string_length(limit, offset, value.len() as u64)?;
            txn.set(&k, b"", Expiry::Clear);
            txn.modify(&k, |e| write_at(e, offset as usize, value));
            offset as usize + value.len()
        }
    };
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
