//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! An HLL is a plain string value in Redis's own layout (`hll/format.rs`), so values move
//! between Redis and rcache with GET/SET, DUMP or a snapshot import and keep working.
//! Like SETBIT, the commands edit the string in place and keep its TTL.
//!
//! ```text
//!  PFADD   key ele…   hash each element → (register, run length) → raise the register
//!                     (sparse opcodes edited as Redis does; dense past 32 or the size limit)
//!  PFCOUNT key        cached cardinality, or estimate and cache it (a write, as in Redis)
//!  PFCOUNT k1 k2 …    merge into a scratch register array; nothing cached
//!  PFMERGE dst src…   register-wise max into dst (dense if any input is dense)
//! ```
//!
//! **PFCOUNT writes.** Like Redis, PFCOUNT is a read command that may store the
//! cardinality it computed in the value's header: that is a change (WATCH sees it, as
//! Redis signals the key) and is logged to the append-only file as `PFCOUNT key`, which
//! replays to the same bytes. `hll-sparse-max-bytes` (default 3000) bounds a sparse value.

pub mod format;

use crate::error::{CmdError, CmdResult};
use crate::strings::check_string;
use crate::table::{flags::*, CommandSpec};
use crate::util::eq_ic;
use crate::{cmd, Ctx};
use format::{Corrupt, HDR, REGISTERS};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;
use storage::{Entry, Expiry, Key};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("pfadd", -2, WRITE | DENYOOM | FAST, 1, 1, 1, pfadd, "hyperloglog", "2.8.9",
        "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
        "key [element [element ...]]"),
    cmd!("pfcount", -2, READONLY | MAY_REPLICATE, 1, -1, 1, pfcount, "hyperloglog", "2.8.9",
        "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
        "key [key ...]"),
    cmd!("pfmerge", -2, WRITE | DENYOOM, 1, -1, 1, pfmerge, "hyperloglog", "2.8.9",
        "Merges one or more HyperLogLog values into a single key.",
        "destkey [sourcekey [sourcekey ...]]"),
    cmd!("pfdebug", 3, WRITE | DENYOOM | ADMIN, 2, 2, 1, pfdebug, "hyperloglog", "2.8.9",
        "Internal commands for debugging HyperLogLog values.",
        "subcommand key"),
    cmd!("pfselftest", 1, ADMIN, 0, 0, 0, pfselftest, "hyperloglog", "2.8.9",
        "An internal command for testing HyperLogLog values.", ""),
];

/// A string that is not an HLL (Redis's words, WRONGTYPE code included).
pub(crate) const NOT_HLL: CmdError =
    CmdError::Static("WRONGTYPE Key is not a valid HyperLogLog string value.");
/// An HLL whose sparse opcodes do not cover exactly 16384 registers.
pub(crate) const INVALID: CmdError = CmdError::Static("INVALIDOBJ Corrupted HLL object detected");

/// `INVALIDOBJ` for a corrupt value. (A `From` impl would make `?` ambiguous in other
/// families' closures, so conversions are spelled out.)
fn invalid(_: Corrupt) -> CmdError {
    INVALID
}

/// `hll-sparse-max-bytes`.
fn sparse_max(ctx: &Ctx<'_>) -> u64 {
    ctx.srv.settings.hll_sparse_max_bytes.load(Relaxed)
}

/// The key's value is a string in HLL layout (Redis's `isHLLObjectOrReply`).
fn check_hll(e: &Entry) -> CmdResult {
    check_string(e)?;
    if !format::is_hll(e.value()) {
        return Err(NOT_HLL);
    }
    Ok(())
}

/// PFADD into an existing entry: whether a register changed, and the write to report.
/// A dense value is raised in place; a sparse one (at most a few KB) is edited in a copy
/// that replaces the value. On a corrupt sparse value the registers raised before the
/// error stay raised, as Redis leaves them, but the key is not signalled.
fn add_to_entry<'e>(
    e: &mut Entry,
    elems: impl Iterator<Item = &'e [u8]>,
    max: u64,
) -> (Result<bool, CmdError>, bool) {
    if let Err(err) = check_hll(e) {
        return (Err(err), false);
    }
    if format::is_dense(e.value()) {
        let v = e.value_mut();
        let mut any = false;
        for ele in elems {
            let (i, c) = format::pat_len(ele);
            any |= format::dense_raise(&mut v[HDR..], i, c);
        }
        if any {
            format::invalidate(v);
        }
        return (Ok(any), any);
    }
    let mut v = e.value().to_vec();
    let mut any = false;
    for ele in elems {
        match format::add(&mut v, ele, max) {
            Ok(ch) => any |= ch,
            Err(Corrupt) => {
                if any {
                    e.set_value(&v);
                }
                return (Err(INVALID), false);
            }
        }
    }
    if any {
        format::invalidate(&mut v);
        e.set_value(&v);
    }
    (Ok(any), any)
}

/// PFADD key [element ...] → 1 if the key was created or a register changed, else 0.
fn pfadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let max = sparse_max(ctx);
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let updated = match txn.modify_if(&k, |e| add_to_entry(e, args.iter().skip(2), max)) {
        Some(r) => r?,
        None => {
            let mut v = format::new_sparse();
            for ele in args.iter().skip(2) {
                format::add(&mut v, ele, max).map_err(invalid)?;
            }
            // Creating the key is an update: its cache is marked stale, as in Redis.
            format::invalidate(&mut v);
            txn.set(&k, &v, Expiry::Clear);
            true
        }
    };
    ctx.out.int(updated as i64);
    Ok(())
}

/// PFCOUNT key [key ...]. One key: the cached cardinality, or the estimate, then cached.
/// Several: the cardinality of their union, nothing cached. Missing keys are empty.
fn pfcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 2 {
        return pfcount_union(ctx, args);
    }
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(e) = txn.get(&k) else {
        ctx.out.int(0);
        return Ok(());
    };
    check_hll(e)?;
    let v = e.value();
    if let Some(card) = format::cached(v) {
        ctx.out.int(card as i64);
        return Ok(());
    }
    let card = format::estimate(&format::histogram(v).map_err(invalid)?);
    // Storing the cache changes the value: log it as Redis propagates it, as the command
    // itself (replaying it stores the same bytes).
    let logged = crate::effects::record(ctx.srv, ctx.sess.db, &[b"PFCOUNT", args.get(1)]);
    txn.modify(&k, |e| format::set_cached(e.value_mut(), card));
    drop(txn);
    drop(logged);
    ctx.out.int(card as i64);
    Ok(())
}

/// Fold every existing key among `keys` into `max`; whether any of them is dense.
/// Type errors and corruption stop at the first offending key, in argument order.
fn merge_keys(
    txn: &mut storage::Txn<'_>,
    keys: &[Key],
    max: &mut [u8; REGISTERS],
) -> Result<bool, CmdError> {
    let mut dense = false;
    for k in keys {
        if let Some(e) = txn.get(k) {
            check_hll(e)?;
            dense |= format::is_dense(e.value());
            format::merge_into(max, e.value()).map_err(invalid)?;
        }
    }
    Ok(dense)
}

fn pfcount_union(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys: Vec<Key> = args.iter().skip(1).map(|a| ctx.key(a)).collect();
    let mut txn = ctx.txn(&keys);
    let mut max = Box::new([0u8; REGISTERS]);
    merge_keys(&mut txn, &keys, &mut max)?;
    drop(txn);
    ctx.out
        .int(format::estimate(&format::raw_histogram(&max)) as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...] → OK. destkey counts as a source too. The result is
/// dense if any input was; else the sparse destination is raised register by register
/// (and may turn dense on the way), as Redis 7.0 does. destkey keeps its TTL.
fn pfmerge(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let limit = sparse_max(ctx);
    let keys: Vec<Key> = args.iter().skip(1).map(|a| ctx.key(a)).collect();
    let mut txn = ctx.txn(&keys);
    let mut max = Box::new([0u8; REGISTERS]);
    let dense = merge_keys(&mut txn, &keys, &mut max)?;
    let dest = &keys[0];
    let existing = txn.peek(dest).map(|e| e.value().to_vec());
    let mut v = match &existing {
        Some(v) => v.clone(),
        None => format::new_sparse(),
    };
    if dense {
        // The destination is one of the inputs, so `max` already holds every register's
        // final value: write them all at once (the bytes Redis's register-by-register
        // raise produces).
        v = format::to_dense(&v).map_err(invalid)?;
        format::pack_dense(&max, &mut v[HDR..]);
    } else {
        for (i, &m) in max.iter().enumerate() {
            // Redis ignores a failed sparse edit here: every input was vetted above.
            if m != 0 {
                let _ = format::raise(&mut v, i, m, limit);
            }
        }
    }
    format::invalidate(&mut v);
    if existing.is_some() {
        txn.modify(dest, |e| e.set_value(&v));
    } else {
        txn.set(dest, &v, Expiry::Clear);
    }
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG <GETREG | DECODE | ENCODING | TODENSE> key. GETREG and TODENSE turn a sparse
/// value dense (a logged change).
fn pfdebug(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let sub = args.get(1);
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    let Some(e) = txn.peek(&k) else {
        return Err(CmdError::Static("ERR The specified key does not exist"));
    };
    check_hll(e)?;
    let v = e.value();
    let getreg = eq_ic(sub, "getreg");
    if getreg || eq_ic(sub, "todense") {
        let converted = !format::is_dense(v);
        let d = format::to_dense(v).map_err(invalid)?;
        if converted {
            txn.modify(&k, |e| e.set_value(&d));
        }
        drop(txn);
        if getreg {
            ctx.out.array_len(REGISTERS);
            for i in 0..REGISTERS {
                ctx.out.int(format::dense_get(&d[HDR..], i) as i64);
            }
        } else {
            ctx.out.int(converted as i64);
        }
    } else if eq_ic(sub, "decode") {
        if format::is_dense(v) {
            return Err(CmdError::Static("ERR HLL encoding is not sparse"));
        }
        let text = format::decode_text(v);
        drop(txn);
        ctx.out.bulk(text.as_bytes());
    } else if eq_ic(sub, "encoding") {
        let enc = if format::is_dense(v) {
            "dense"
        } else {
            "sparse"
        };
        drop(txn);
        ctx.out.simple(enc);
    } else {
        return Err(CmdError::Msg(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

/// PFSELFTEST → OK, or a `TESTFAILED …` error: Redis's own check of the register packing
/// and of the estimator's error, dense and sparse side by side, up to 10 million elements.
fn pfselftest(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    selftest(1000, 10_000_000, sparse_max(ctx)).map_err(CmdError::Msg)?;
    ctx.out.ok();
    Ok(())
}

/// The self-test with its sizes as parameters (unit tests run a smaller one).
pub(crate) fn selftest(cycles: usize, elements: u64, max_bytes: u64) -> Result<(), String> {
    use rand::Rng;
    let mut rng = rand::rng();
    // 1: every register keeps its value and leaves its neighbours alone.
    let mut dense = vec![0u8; format::DENSE_LEN];
    let mut want = vec![0u8; REGISTERS];
    for _ in 0..cycles {
        for (i, w) in want.iter_mut().enumerate() {
            *w = rng.random::<u8>() & 63;
            format::dense_set(&mut dense[HDR..], i, *w);
        }
        for (i, &w) in want.iter().enumerate() {
            let got = format::dense_get(&dense[HDR..], i);
            if got != w {
                return Err(format!(
                    "TESTFAILED Register {i} should be {w} but is {got}"
                ));
            }
        }
    }
    // 2: the estimate stays within six standard errors, dense and sparse agree.
    dense[HDR..].fill(0);
    dense[4] = format::DENSE;
    let mut sparse = format::new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.random();
    let mut checkpoint = 1u64;
    for j in 1..=elements {
        let ele = (j ^ seed).to_le_bytes();
        let (i, c) = format::pat_len(&ele);
        format::dense_raise(&mut dense[HDR..], i, c);
        format::add(&mut sparse, &ele, max_bytes).map_err(|_| "TESTFAILED corrupted sparse")?;
        if j != checkpoint {
            continue;
        }
        if j < max_bytes / 2 && format::is_dense(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let est = |v: &[u8]| format::histogram(v).map(|h| format::estimate(&h));
        let d = est(&dense).map_err(|_| "TESTFAILED dense corrupted")?;
        if Ok(d) != est(&sparse) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(d);
        // At 10 a collision is likely enough to allow one off, as Redis does.
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
