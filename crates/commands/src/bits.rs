//! Bit commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD.
//!
//! Bit 0 is the most significant bit of byte 0, as in Redis. Reads past the end see zero
//! bits; writes grow the string with zero bytes (and keep its TTL). Bit offsets are limited
//! to `proto-max-bulk-len` bytes, so a write never grows a string past the bulk limit.
//! BITFIELD lives in `bits/bitfield.rs`.

mod bitfield;

use crate::error::{CmdError, CmdResult};
use crate::strings::{check_string, clamp_range, max_string_len};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use storage::{Expiry, Key, Txn};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("setbit", 4, WRITE | DENYOOM, 1, 1, 1, setbit, "bitmap", "2.2.0",
        "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
        "key offset value"),
    cmd!("getbit", 3, READONLY | FAST, 1, 1, 1, getbit, "bitmap", "2.2.0",
        "Returns a bit value by offset.", "key offset"),
    cmd!("bitcount", -2, READONLY, 1, 1, 1, bitcount, "bitmap", "2.6.0",
        "Counts the number of set bits (population counting) in a string.",
        "key [start end [BYTE | BIT]]"),
    cmd!("bitpos", -3, READONLY, 1, 1, 1, bitpos, "bitmap", "2.8.7",
        "Finds the first set (1) or clear (0) bit in a string.",
        "key bit [start [end [BYTE | BIT]]]"),
    cmd!("bitop", -4, WRITE | DENYOOM, 2, -1, 1, bitop, "bitmap", "2.6.0",
        "Performs bitwise operations on multiple strings, and stores the result.",
        "<AND | OR | XOR | NOT> destkey key [key ...]"),
    cmd!("bitfield", -2, WRITE | DENYOOM, 1, 1, 1, bitfield::bitfield, "bitmap", "3.2.0",
        "Performs arbitrary bitfield integer operations on strings.",
        "key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> ...]]"),
    cmd!("bitfield_ro", -2, READONLY | FAST, 1, 1, 1, bitfield::bitfield_ro, "bitmap", "6.0.0",
        "Performs arbitrary read-only bitfield integer operations on strings.",
        "key [GET encoding offset [GET encoding offset ...]]"),
];

const BAD_OFFSET: CmdError = CmdError::Static("ERR bit offset is not an integer or out of range");

/// A bit offset argument, as Redis's `getBitOffsetFromArgument`: a non-negative integer whose
/// byte lies below `proto-max-bulk-len`; with `hash_bits`, `#N` means `N * bits`.
pub(crate) fn bit_offset(limit: u64, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, CmdError> {
    let (digits, mul) = match hash_bits {
        Some(bits) if arg.len() > 1 && arg[0] == b'#' => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let off = protocol::resp::parse_i64(digits)
        .and_then(|n| n.checked_mul(mul))
        .ok_or(BAD_OFFSET)?;
    if off < 0 || (off as u64 >> 3) >= limit {
        return Err(BAD_OFFSET);
    }
    Ok(off as u64)
}

/// Redis's `lookupStringForBitCommand` plus the write: the string at `k` (created if
/// missing) grown with zero bytes to at least `len`, handed to `f`, which says whether it
/// changed any bit. Keeps the TTL. Creating or growing the string is a change too; a write
/// that leaves every byte as it was touches no watcher, as in Redis.
pub(crate) fn with_grown_string<R>(
    txn: &mut Txn<'_>,
    k: &Key,
    len: usize,
    f: impl FnOnce(&mut [u8]) -> (R, bool),
) -> Result<R, CmdError> {
    if !txn.exists(k) {
        txn.set(k, b"", Expiry::Clear);
    }
    txn.modify_if(k, |e| {
        if let Err(err) = check_string(e) {
            return (Err(err), false);
        }
        let grown = e.value_len() < len;
        if grown {
            e.resize_value(len);
        }
        let (r, changed) = f(e.value_mut());
        (Ok(r), grown || changed)
    })
    .unwrap_or(Err(CmdError::NoSuchKey))
}

/// The bit at `off` (0 past the end).
#[inline]
pub(crate) fn bit_at(v: &[u8], off: u64) -> bool {
    v.get((off >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (off & 7)) != 0)
}

/// SETBIT key offset value → the bit's previous value.
fn setbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let off = bit_offset(max_string_len(ctx), args.get(2), None)?;
    let on = match protocol::resp::parse_i64(args.get(3)) {
        Some(b @ (0 | 1)) => b == 1,
        _ => {
            return Err(CmdError::Static(
                "ERR bit is not an integer or out of range",
            ))
        }
    };
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let old = with_grown_string(&mut txn, &k, (off >> 3) as usize + 1, |v| {
        let (byte, mask) = ((off >> 3) as usize, 0x80u8 >> (off & 7));
        let old = v[byte] & mask != 0;
        if on {
            v[byte] |= mask;
        } else {
            v[byte] &= !mask;
        }
        (old, old != on)
    })?;
    ctx.out.int(old as i64);
    Ok(())
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let off = bit_offset(max_string_len(ctx), args.get(2), None)?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let bit = match txn.get(&k) {
        None => false,
        Some(e) => {
            check_string(e)?;
            bit_at(e.value(), off)
        }
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// Set bits of a byte slice, eight bytes at a time.
fn popcount(v: &[u8]) -> u64 {
    let mut chunks = v.chunks_exact(8);
    let mut n: u64 = (&mut chunks)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// The mask of bits `from..=to` (0 = MSB) within one byte.
#[inline]
fn byte_mask(from: u64, to: u64) -> u8 {
    (0xFFu8 >> (from & 7)) & (0xFFu8 << (7 - (to & 7)))
}

/// Set bits in the inclusive bit range `[s, e]` (within the string).
fn count_range(v: &[u8], s: u64, e: u64) -> u64 {
    let (sb, eb) = ((s >> 3) as usize, (e >> 3) as usize);
    if sb == eb {
        return (v[sb] & byte_mask(s, e)).count_ones() as u64;
    }
    (v[sb] & byte_mask(s, 7)).count_ones() as u64
        + popcount(&v[sb + 1..eb])
        + (v[eb] & byte_mask(0, e)).count_ones() as u64
}

/// Whether a BYTE | BIT unit argument says BIT.
fn unit_is_bit(a: &[u8]) -> Result<bool, CmdError> {
    if eq_ic(a, "bit") {
        Ok(true)
    } else if eq_ic(a, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]. As Redis, a missing key answers 0 before the
/// range is even parsed.
fn bitcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(e) = txn.get(&k) else {
        ctx.out.int(0);
        return Ok(());
    };
    check_string(e)?;
    let v = e.value();
    let len = v.len() as i64;
    let n = match args.len() {
        2 => popcount(v),
        4 | 5 => {
            let start = parse_int(args.get(2))?;
            let end = parse_int(args.get(3))?;
            let isbit = args.len() == 5 && unit_is_bit(args.get(4))?;
            let total = if isbit { len * 8 } else { len };
            match clamp_range(start, end, total) {
                None => 0,
                Some((s, e)) if isbit => count_range(v, s, e),
                Some((s, e)) => count_range(v, s * 8, e * 8 + 7),
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// The first bit equal to `want` in the inclusive bit range `[s, e]`.
fn find_bit(v: &[u8], s: u64, e: u64, want: bool) -> Option<u64> {
    let flip = if want { 0 } else { 0xFF };
    let (sb, eb) = ((s >> 3) as usize, (e >> 3) as usize);
    let hit = |i: usize, mask: u8| -> Option<u64> {
        let b = (v[i] ^ flip) & mask;
        (b != 0).then(|| i as u64 * 8 + b.leading_zeros() as u64)
    };
    if sb == eb {
        return hit(sb, byte_mask(s, e));
    }
    if let Some(p) = hit(sb, byte_mask(s, 7)) {
        return Some(p);
    }
    if let Some(i) = v[sb + 1..eb].iter().position(|&b| b != flip) {
        return hit(sb + 1 + i, 0xFF);
    }
    hit(eb, byte_mask(0, e))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]. A missing key is all zeros: 0 for a clear
/// bit, -1 for a set one. Looking for a clear bit without an explicit end finds the first
/// bit past the string when the range is all ones.
fn bitpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bit = parse_int(args.get(2))?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::Static("ERR The bit argument must be 1 or 0."));
    }
    let want = bit == 1;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(e) = txn.get(&k) else {
        ctx.out.int(if want { -1 } else { 0 });
        return Ok(());
    };
    check_string(e)?;
    let v = e.value();
    let len = v.len() as i64;
    let (mut start, mut end, mut isbit, mut end_given) = (0, len - 1, false, false);
    match args.len() {
        3 => {}
        4..=6 => {
            start = parse_int(args.get(3))?;
            if args.len() == 6 {
                isbit = unit_is_bit(args.get(5))?;
            }
            if args.len() >= 5 {
                end = parse_int(args.get(4))?;
                end_given = true;
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    let total = if isbit { len * 8 } else { len };
    if start < 0 {
        start = total.saturating_add(start);
    }
    if end < 0 {
        end = total.saturating_add(end);
    }
    let (start, end) = (start.max(0), end.max(0).min(total - 1));
    if start > end {
        ctx.out.int(-1);
        return Ok(());
    }
    let (s, e) = if isbit {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    };
    let pos = match find_bit(v, s, e, want) {
        Some(p) => p as i64,
        None if want || end_given => -1,
        None => (e / 8 + 1) as i64 * 8,
    };
    ctx.out.int(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP <AND | OR | XOR | NOT> destkey key [key ...] → the length of the result. Missing
/// sources are empty strings, shorter ones are zero-padded; an empty result deletes
/// destkey. The result replaces destkey (its TTL is cleared). All shards locked at once.
fn bitop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let name = args.get(1);
    let op = if eq_ic(name, "and") {
        BitOp::And
    } else if eq_ic(name, "or") {
        BitOp::Or
    } else if eq_ic(name, "xor") {
        BitOp::Xor
    } else if eq_ic(name, "not") {
        BitOp::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::Static(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let keys: Vec<Key> = args.iter().skip(2).map(|a| ctx.key(a)).collect();
    let (dest, srcs) = (&keys[0], &keys[1..]);
    let mut txn = ctx.txn(&keys);
    // First pass, as Redis's lookups: type checks, hit/miss counting, the longest length.
    let mut maxlen = 0;
    for k in srcs {
        if let Some(e) = txn.get(k) {
            check_string(e)?;
            maxlen = maxlen.max(e.value_len());
        }
    }
    if maxlen == 0 {
        txn.delete(dest);
        ctx.out.int(0);
        return Ok(());
    }
    let mut res = vec![0u8; maxlen];
    for (j, k) in srcs.iter().enumerate() {
        let v = txn.peek(k).map(|e| e.value()).unwrap_or(b"");
        let (head, tail) = res.split_at_mut(v.len());
        match op {
            BitOp::Not => head.iter_mut().zip(v).for_each(|(r, s)| *r = !s),
            _ if j == 0 => head.copy_from_slice(v),
            BitOp::And => {
                head.iter_mut().zip(v).for_each(|(r, s)| *r &= s);
                tail.fill(0);
            }
            BitOp::Or => head.iter_mut().zip(v).for_each(|(r, s)| *r |= s),
            BitOp::Xor => head.iter_mut().zip(v).for_each(|(r, s)| *r ^= s),
        }
    }
    txn.set(dest, &res, Expiry::Clear);
    ctx.out.int(maxlen as i64);
    Ok(())
}

#[cfg(test)]
mod tests;
