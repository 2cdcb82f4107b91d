//! Helpers shared by the collection families (hashes, sets): typed lookups, the
//! create-or-modify write that deletes a key left empty (Redis never keeps empty
//! collections), HSCAN/SSCAN options, and random-count parsing.

use crate::error::CmdError;
use crate::keys::parse_cursor;
use crate::util::{eq_ic, parse_int};
use protocol::Args;
use storage::types::compact;
use storage::{Enc, Entry, Key, ObjType, Txn};

/// A read of a key that must hold `ty`: counts a hit or miss and refreshes LRU (as Redis's
/// `lookupKeyRead`), `WRONGTYPE` for another type.
pub(crate) fn read<'t>(
    txn: &'t mut Txn<'_>,
    k: &Key,
    ty: ObjType,
) -> Result<Option<&'t Entry>, CmdError> {
    match txn.get(k) {
        Some(e) if e.obj_type() != ty => Err(CmdError::WrongType),
        r => Ok(r),
    }
}

/// Whether a collection entry holds no element.
pub(crate) fn is_empty(e: &Entry) -> bool {
    match e.enc() {
        Enc::Compact => compact::count(e.value()) == 0,
        Enc::Boxed => e.collection().is_none_or(|c| c.is_empty()),
        Enc::Raw | Enc::Meta => false,
    }
}

/// Check that `k`, if present, holds `ty` (a write's own lookup: no hit/miss counted).
pub(crate) fn check_type(txn: &mut Txn<'_>, k: &Key, ty: ObjType) -> Result<bool, CmdError> {
    match txn.peek(k) {
        Some(e) if e.obj_type() != ty => Err(CmdError::WrongType),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// Change the collection at `k` (of type `ty`) with `f`. A missing key is created with
/// `create(lru)` when given, else left alone (`Ok(None)`). Whatever `f` returns, a collection
/// it left empty is deleted — so a failed write on a new key leaves no key behind.
pub(crate) fn write<R>(
    txn: &mut Txn<'_>,
    k: &Key,
    ty: ObjType,
    create: Option<&dyn Fn(u32) -> Entry>,
    f: impl FnOnce(&mut Entry) -> Result<R, CmdError>,
) -> Result<Option<R>, CmdError> {
    write_if(txn, k, ty, create, f, |_| true)
}

/// `write` for a command that may change nothing (SADD of members already there, HDEL of
/// missing fields…): `changed` tells from `f`'s result whether the collection changed, and
/// only then are the key's watchers touched (Redis signals a key only when modified). A
/// failed `f` changes nothing. Creating or deleting the key is always a change.
pub(crate) fn write_if<R>(
    txn: &mut Txn<'_>,
    k: &Key,
    ty: ObjType,
    create: Option<&dyn Fn(u32) -> Entry>,
    f: impl FnOnce(&mut Entry) -> Result<R, CmdError>,
    changed: impl FnOnce(&R) -> bool,
) -> Result<Option<R>, CmdError> {
    if !check_type(txn, k, ty)? {
        let Some(make) = create else {
            return Ok(None);
        };
        let e = make(txn.initial_lru());
        txn.put_entry(k, e, 0);
    }
    let (r, empty) = txn
        .modify_if(k, |e| {
            let r = f(e);
            let ch = r.as_ref().is_ok_and(changed);
            ((r, is_empty(e)), ch)
        })
        .expect("the key was just checked or created");
    if empty {
        txn.delete(k);
    }
    r.map(Some)
}

/// HSCAN/SSCAN arguments after the key: cursor [MATCH pattern] [COUNT count].
pub(crate) struct ScanOpts<'a> {
    pub cursor: u64,
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
}

pub(crate) fn parse_scan(args: Args<'_>) -> Result<ScanOpts<'_>, CmdError> {
    let cursor = parse_cursor(args.get(2)).ok_or(CmdError::Static("ERR invalid cursor"))?;
    let mut o = ScanOpts {
        cursor,
        pattern: None,
        count: 10,
    };
    let mut i = 3;
    while i < args.len() {
        let (opt, more) = (args.get(i), i + 1 < args.len());
        if eq_ic(opt, "count") && more {
            let c = parse_int(args.get(i + 1))?;
            if c < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = usize::try_from(c).unwrap_or(usize::MAX);
        } else if eq_ic(opt, "match") && more {
            let p = args.get(i + 1);
            o.pattern = (p != b"*").then_some(p);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

/// Largest magnitude of a negative (repeating) random count we answer. Redis accepts up
/// to `LONG_MAX` and then tries to build the reply (a large enough count exhausts its
/// memory); we refuse counts past the protocol's own array limit instead.
pub(crate) const MAX_REPEAT_COUNT: u64 = i32::MAX as u64;

/// The count of SRANDMEMBER/HRANDFIELD: `(count, distinct)`. Redis's
/// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)` words, then our repeat bound.
pub(crate) fn parse_rand_count(b: &[u8]) -> Result<(u64, bool), CmdError> {
    let l = parse_int(b)?;
    if l == i64::MIN {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if l >= 0 {
        return Ok((l as u64, true));
    }
    let n = l.unsigned_abs();
    if n > MAX_REPEAT_COUNT {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    Ok((n, false))
}
