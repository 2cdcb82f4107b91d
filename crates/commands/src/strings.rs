//! String commands: GET, SET and its variants, MGET/MSET, counters, ranges, LCS.

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use storage::{Expiry, ObjType};

pub const COMMANDS: &[CommandSpec] = &[
    cmd!("get", 2, READONLY | FAST, 1, 1, 1, get, "string", "1.0.0", "Returns the string value of a key.", "key"),
    cmd!("set", -3, WRITE | DENYOOM, 1, 1, 1, set, "string", "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"),
];

/// GET key
fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.get(&k) {
        None => ctx.out.null(),
        Some(e) if e.obj_type() != ObjType::String => return Err(CmdError::WrongType),
        Some(e) => ctx.out.bulk(e.value()),
    }
    Ok(())
}

/// Parsed SET/GETEX-style expiry options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlOpt {
    None,
    Keep,
    /// Absolute expiry in ms since the epoch.
    At(u64),
    Persist,
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

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms | KEEPTTL]
fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, value) = (args.get(1), args.get(2));
    let (mut nx, mut xx, mut get, mut ttl) = (false, false, false, TtlOpt::None);
    let now = ctx.srv.ks.now();
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "nx") && !xx {
            nx = true;
        } else if eq_ic(a, "xx") && !nx {
            xx = true;
        } else if eq_ic(a, "get") {
            get = true;
        } else if eq_ic(a, "keepttl") && ttl == TtlOpt::None {
            ttl = TtlOpt::Keep;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && ttl == TtlOpt::None
            && i + 1 < args.len()
        {
            ttl = TtlOpt::At(expire_at(a, args.get(i + 1), now)?);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let k = ctx.key(key);
    let mut txn = ctx.txn1(&k);
    if !get && !nx && !xx {
        // The common case needs no look at the old value: one lookup, not two.
        write_value(&mut txn, &k, value, ttl);
        ctx.out.ok();
        return Ok(());
    }
    let old = txn.peek(&k);
    if get {
        match old {
            Some(e) if e.obj_type() != ObjType::String => return Err(CmdError::WrongType),
            Some(e) => ctx.out.bulk(e.value()),
            None => ctx.out.null(),
        }
    }
    let exists = old.is_some();
    if (nx && exists) || (xx && !exists) {
        if !get {
            ctx.out.null();
        }
        return Ok(());
    }
    write_value(&mut txn, &k, value, ttl);
    if !get {
        ctx.out.ok();
    }
    Ok(())
}

/// Store a string with SET's TTL semantics. An expiry already in the past removes the key,
/// as Redis 7 does.
pub fn write_value(txn: &mut storage::Txn<'_>, k: &storage::Key<'_>, value: &[u8], ttl: TtlOpt) {
    match ttl {
        TtlOpt::At(at) if at <= txn.now() => {
            txn.delete(k);
        }
        TtlOpt::At(at) => {
            txn.set(k, value, Expiry::At(at));
        }
        TtlOpt::Keep => {
            txn.set(k, value, Expiry::Keep);
        }
        TtlOpt::None | TtlOpt::Persist => {
            txn.set(k, value, Expiry::Clear);
        }
    }
}
