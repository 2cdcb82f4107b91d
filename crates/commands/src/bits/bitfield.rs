//! BITFIELD / BITFIELD_RO: integers of 1..=64 bits (signed) or 1..=63 bits (unsigned) at
//! any bit offset of a string.
//!
//! ```text
//! BITFIELD key [GET type offset] [OVERFLOW WRAP|SAT|FAIL] [SET type offset value]
//!              [INCRBY type offset increment] ...      type = i1..i64 | u1..u63
//!                                                      offset = N | #N (N * width)
//! ```
//! The whole line is parsed before anything runs; the string is then grown once to the
//! farthest bit any SET/INCRBY touches (even one that FAILs, as Redis), and the operations
//! run in order, each seeing the previous ones' writes. The overflow checks are a line-by-
//! line port of Redis's, quirks included (`OVERFLOW SAT SET i8 0 <i64::MIN>` stores 127).

use super::{bit_offset, with_grown_string};
use crate::error::{CmdError, CmdResult};
use crate::strings::{check_string, max_string_len};
use crate::util::{eq_ic, parse_int};
use crate::Ctx;
use protocol::{Args, Reply};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy, Debug)]
struct Op {
    kind: Kind,
    signed: bool,
    bits: u32,
    offset: u64,
    /// SET's value or INCRBY's increment.
    arg: i64,
    overflow: Overflow,
}

const BAD_TYPE: CmdError = CmdError::Static(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);

/// `i1`..`i64` or `u1`..`u63` (lowercase prefix only, as Redis).
fn parse_type(a: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE),
    };
    match protocol::resp::parse_i64(&a[1..]) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(BAD_TYPE),
    }
}

/// Parse the operations; also the highest bit a write touches (`None` if read-only).
fn parse_ops(args: Args<'_>, limit: u64) -> Result<(Vec<Op>, Option<u64>), CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = args.get(j);
        let kind = if eq_ic(sub, "get") && remaining >= 2 {
            Kind::Get
        } else if eq_ic(sub, "set") && remaining >= 3 {
            Kind::Set
        } else if eq_ic(sub, "incrby") && remaining >= 3 {
            Kind::IncrBy
        } else if eq_ic(sub, "overflow") && remaining >= 1 {
            let t = args.get(j + 1);
            overflow = if eq_ic(t, "wrap") {
                Overflow::Wrap
            } else if eq_ic(t, "sat") {
                Overflow::Sat
            } else if eq_ic(t, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::Static("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = parse_type(args.get(j + 1))?;
        let offset = bit_offset(limit, args.get(j + 2), Some(bits))?;
        let mut arg = 0;
        if kind != Kind::Get {
            let last = offset + bits as u64 - 1;
            highest = Some(highest.map_or(last, |h| h.max(last)));
            arg = parse_int(args.get(j + 3))?;
        }
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            arg,
            overflow,
        });
        j += if kind == Kind::Get { 3 } else { 4 };
    }
    Ok((ops, highest))
}

/// `bits` bits at `offset`, MSB first, as an unsigned number (zero past the end).
fn get_unsigned(v: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0, |acc, i| acc << 1 | super::bit_at(v, offset + i) as u64)
}

fn get_signed(v: &[u8], offset: u64, bits: u32) -> i64 {
    let u = get_unsigned(v, offset, bits);
    if bits < 64 && u & (1 << (bits - 1)) != 0 {
        (u | (u64::MAX << bits)) as i64
    } else {
        u as i64
    }
}

/// Store the low `bits` bits of `value` at `offset` (inside `v`).
fn set_bits(v: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let on = value >> (bits as u64 - 1 - i) & 1 == 1;
        let off = offset + i;
        let (byte, mask) = ((off >> 3) as usize, 0x80u8 >> (off & 7));
        if on {
            v[byte] |= mask;
        } else {
            v[byte] &= !mask;
        }
    }
}

/// Redis's `checkSignedBitfieldOverflow`: whether `value + incr` leaves the type's range,
/// and the wrapped or saturated result to store instead.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    // As in C these may wrap; they are only meaningful once `value` is in range.
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Wrap { wrap() } else { max })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Wrap { wrap() } else { min })
    } else {
        None
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max: u64 = (1u64 << bits) - 1; // bits <= 63
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrap = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Wrap { wrap() } else { max })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Wrap { wrap() } else { 0 })
    } else {
        None
    }
}

/// Run one SET or INCRBY on the (grown) string; answers the old value (SET), the new value
/// (INCRBY), or nil when OVERFLOW FAIL refused the write.
/// Run a SET or INCRBY; whether it changed the stored bits (WATCH sees only a change).
fn write_op(v: &mut [u8], op: &Op, out: &mut Reply<'_>) -> bool {
    let before = get_unsigned_any(v, op);
    let (store, reply) = if op.signed {
        let old = get_signed(v, op.offset, op.bits);
        let (new, ovf) = match op.kind {
            Kind::IncrBy => {
                let w = signed_overflow(old, op.arg, op.bits, op.overflow);
                (w.unwrap_or(old.wrapping_add(op.arg)), w.is_some())
            }
            _ => {
                let w = signed_overflow(op.arg, 0, op.bits, op.overflow);
                (w.unwrap_or(op.arg), w.is_some())
            }
        };
        let reply = if op.kind == Kind::IncrBy { new } else { old };
        (
            (!(ovf && op.overflow == Overflow::Fail)).then_some(new as u64),
            reply,
        )
    } else {
        let old = get_unsigned(v, op.offset, op.bits);
        let (new, ovf) = match op.kind {
            Kind::IncrBy => {
                let w = unsigned_overflow(old, op.arg, op.bits, op.overflow);
                (w.unwrap_or(old.wrapping_add(op.arg as u64)), w.is_some())
            }
            _ => {
                let w = unsigned_overflow(op.arg as u64, 0, op.bits, op.overflow);
                (w.unwrap_or(op.arg as u64), w.is_some())
            }
        };
        let reply = if op.kind == Kind::IncrBy { new } else { old };
        (
            (!(ovf && op.overflow == Overflow::Fail)).then_some(new),
            reply as i64,
        )
    };
    match store {
        Some(new) => {
            out.int(reply);
            set_bits(v, op.offset, op.bits, new);
            get_unsigned_any(v, op) != before
        }
        None => {
            out.null();
            false
        }
    }
}

/// The raw bits of `op`'s field, whatever its sign (i64 reads all 64 bits).
fn get_unsigned_any(v: &[u8], op: &Op) -> u64 {
    if op.bits == 64 {
        get_signed(v, op.offset, 64) as u64
    } else {
        get_unsigned(v, op.offset, op.bits)
    }
}

fn read_op(v: &[u8], op: &Op, out: &mut Reply<'_>) {
    if op.signed {
        out.int(get_signed(v, op.offset, op.bits));
    } else {
        out.int(get_unsigned(v, op.offset, op.bits) as i64);
    }
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: Args<'_>, ro_command: bool) -> CmdResult {
    let (ops, highest) = parse_ops(args, max_string_len(ctx))?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(highest) = highest else {
        // Only GETs: a read; a missing key reads as zeros and is not created.
        let v = match txn.get(&k) {
            Some(e) => {
                check_string(e)?;
                e.value()
            }
            None => b"",
        };
        ctx.out.array_len(ops.len());
        for op in &ops {
            read_op(v, op, &mut ctx.out);
        }
        return Ok(());
    };
    if ro_command {
        return Err(CmdError::Static(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let out = &mut ctx.out;
    with_grown_string(&mut txn, &k, (highest >> 3) as usize + 1, |v| {
        out.array_len(ops.len());
        let mut changed = false;
        for op in &ops {
            match op.kind {
                Kind::Get => read_op(v, op, out),
                Kind::Set | Kind::IncrBy => changed |= write_op(v, op, out),
            }
        }
        ((), changed)
    })
}

/// BITFIELD key [GET …] [OVERFLOW …] [SET …] [INCRBY …] …
pub(super) fn bitfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

/// BITFIELD_RO key [GET encoding offset …]
pub(super) fn bitfield_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use crate::testing::TestCtx;

    #[test]
    fn get_set_incrby() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["BITFIELD", "bf"]), "*0\r\n");
        assert_eq!(
            t.run(&["BITFIELD", "bf", "GET", "i8", "0", "SET", "u8", "0", "255", "GET", "u8", "0"]),
            "*3\r\n:0\r\n:0\r\n:255\r\n"
        );
        assert_eq!(
            t.run(&[
                "BITFIELD", "bf", "INCRBY", "u8", "0", "10", "OVERFLOW", "SAT", "INCRBY", "u8",
                "0", "1000", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1"
            ]),
            "*3\r\n:9\r\n:255\r\n$-1\r\n"
        );
        // The doc example: two 5-bit counters.
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["BITFIELD", "mykey", "INCRBY", "i5", "100", "1", "GET", "u4", "0"]),
            "*2\r\n:1\r\n:0\r\n"
        );
        assert_eq!(t.run(&["STRLEN", "mykey"]), ":14\r\n");
        for want in [":1\r\n", ":2\r\n", ":3\r\n", ":3\r\n"] {
            let r = t.run(&[
                "BITFIELD", "cnt", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "1",
            ]);
            assert_eq!(r, format!("*1\r\n{want}"));
        }
        assert_eq!(
            t.run(&["BITFIELD", "cnt", "OVERFLOW", "FAIL", "INCRBY", "u2", "102", "1"]),
            "*1\r\n$-1\r\n"
        );
        t.resp3();
        assert_eq!(
            t.run(&["BITFIELD", "cnt", "OVERFLOW", "FAIL", "INCRBY", "u2", "102", "1"]),
            "*1\r\n_\r\n"
        );
    }

    #[test]
    fn overflow_modes_match_redis() {
        // Replies recorded from Redis 7.0.15 for the same line.
        let t = TestCtx::new();
        let line = [
            "BITFIELD",
            "bf",
            "OVERFLOW",
            "SAT",
            "SET",
            "i8",
            "0",
            "-9223372036854775808",
            "GET",
            "i8",
            "0",
            "OVERFLOW",
            "WRAP",
            "SET",
            "i8",
            "0",
            "-9223372036854775807",
            "GET",
            "i8",
            "0",
            "OVERFLOW",
            "SAT",
            "SET",
            "i8",
            "0",
            "-1000",
            "GET",
            "i8",
            "0",
            "SET",
            "i8",
            "0",
            "9223372036854775807",
            "GET",
            "i8",
            "0",
            "OVERFLOW",
            "SAT",
            "INCRBY",
            "i64",
            "8",
            "-9223372036854775808",
            "INCRBY",
            "i64",
            "8",
            "-1",
            "OVERFLOW",
            "WRAP",
            "INCRBY",
            "i64",
            "8",
            "-1",
            "OVERFLOW",
            "SAT",
            "SET",
            "u8",
            "0",
            "-1",
            "GET",
            "u8",
            "0",
            "OVERFLOW",
            "WRAP",
            "SET",
            "u8",
            "0",
            "-1",
            "GET",
            "u8",
            "0",
            "OVERFLOW",
            "SAT",
            "INCRBY",
            "u8",
            "0",
            "-300",
        ];
        let want = [
            "0",
            "127",
            "127",
            "1",
            "1",
            "-128",
            "-128",
            "127",
            "-9223372036854775808",
            "-9223372036854775808",
            "9223372036854775807",
            "127",
            "255",
            "255",
            "255",
            "0",
        ];
        let expect: String = format!("*{}\r\n", want.len())
            + &want.iter().map(|w| format!(":{w}\r\n")).collect::<String>();
        assert_eq!(t.run(&line), expect);
        // i64 wraps through the sign; FAIL leaves the value alone.
        let t = TestCtx::new();
        assert_eq!(
            t.run(&[
                "BITFIELD",
                "k",
                "SET",
                "i64",
                "0",
                "9223372036854775807",
                "INCRBY",
                "i64",
                "0",
                "1",
                "OVERFLOW",
                "FAIL",
                "INCRBY",
                "i64",
                "0",
                "-1",
                "GET",
                "i64",
                "0"
            ]),
            "*4\r\n:0\r\n:-9223372036854775808\r\n$-1\r\n:-9223372036854775808\r\n"
        );
        // u63 maximum, then WRAP.
        assert_eq!(
            t.run(&[
                "BITFIELD",
                "u",
                "SET",
                "u63",
                "0",
                "9223372036854775807",
                "OVERFLOW",
                "WRAP",
                "INCRBY",
                "u63",
                "0",
                "5",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "u63",
                "0",
                "-10"
            ]),
            "*3\r\n:0\r\n:4\r\n:0\r\n"
        );
        // Signed WRAP on small widths.
        assert_eq!(
            t.run(&[
                "BITFIELD", "s", "SET", "i4", "0", "7", "INCRBY", "i4", "0", "1", "INCRBY", "i4",
                "0", "-9"
            ]),
            "*3\r\n:0\r\n:-8\r\n:-1\r\n"
        );
    }

    #[test]
    fn offsets_and_growth() {
        let t = TestCtx::new();
        // #N multiplies by the width.
        assert_eq!(
            t.run(&[
                "BITFIELD", "k", "SET", "u8", "#1", "200", "GET", "u8", "8", "GET", "u16", "#0"
            ]),
            "*3\r\n:0\r\n:200\r\n:200\r\n"
        );
        assert_eq!(t.run(&["STRLEN", "k"]), ":2\r\n");
        // Reads do not create the key; a FAILed write still grows it (as Redis).
        assert_eq!(
            t.run(&["BITFIELD", "nf2", "GET", "u8", "100"]),
            "*1\r\n:0\r\n"
        );
        assert_eq!(t.run(&["STRLEN", "nf2"]), ":0\r\n");
        assert_eq!(
            t.run(&["BITFIELD", "nf", "OVERFLOW", "FAIL", "SET", "u2", "100", "9"]),
            "*1\r\n$-1\r\n"
        );
        assert_eq!(t.run(&["STRLEN", "nf"]), ":13\r\n");
        // Keeps the TTL.
        t.run(&["SET", "t", "a", "PX", "1000"]);
        let at = crate::strings::tests::expire_of(&t, "t");
        t.run(&["BITFIELD", "t", "SET", "u8", "16", "1"]);
        assert_eq!(crate::strings::tests::expire_of(&t, "t"), at);
    }

    #[test]
    fn errors() {
        let t = TestCtx::new();
        let bad_type = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
        for ty in ["I8", "u64", "i65", "i0", "u", "x8", "i-1", ""] {
            assert_eq!(t.run(&["BITFIELD", "k", "GET", ty, "0"]), bad_type, "{ty}");
        }
        let bad_off = "-ERR bit offset is not an integer or out of range\r\n";
        for off in [
            "-1",
            "#-1",
            "#",
            "#a",
            "+1",
            "4294967296",
            "#1152921504606846976",
        ] {
            assert_eq!(
                t.run(&["BITFIELD", "k", "GET", "i8", off]),
                bad_off,
                "{off}"
            );
        }
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "i8", "4294967295"]),
            "*1\r\n:0\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "i8", "#536870911"]),
            "*1\r\n:0\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "GET", "i64", "#3"]),
            "*1\r\n:0\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD", "k", "OVERFLOW", "FOO"]),
            "-ERR Invalid OVERFLOW type specified\r\n"
        );
        for line in [
            &["BITFIELD", "k", "OVERFLOW"][..],
            &["BITFIELD", "k", "GET", "i8"],
            &["BITFIELD", "k", "SET", "i8", "0"],
            &["BITFIELD", "k", "FOO"],
        ] {
            assert_eq!(t.run(line), "-ERR syntax error\r\n", "{line:?}");
        }
        assert_eq!(
            t.run(&["BITFIELD", "k", "SET", "i8", "0", "abc"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        // Parse errors come before anything is written.
        assert_eq!(
            t.run(&["BITFIELD", "k", "SET", "i8", "0", "1", "GET", "x", "0"]),
            bad_type
        );
        assert_eq!(t.run(&["STRLEN", "k"]), ":0\r\n");
    }

    #[test]
    fn read_only_variant() {
        let t = TestCtx::new();
        t.run(&["SET", "k", "\u{7f}"]);
        assert_eq!(
            t.run(&[
                "BITFIELD_RO",
                "k",
                "GET",
                "u8",
                "0",
                "GET",
                "i4",
                "0",
                "GET",
                "u63",
                "0"
            ]),
            "*3\r\n:127\r\n:7\r\n:4575657221408423936\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD_RO", "k", "SET", "i8", "0", "1"]),
            "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
        );
        assert_eq!(
            t.run(&["BITFIELD_RO", "k", "INCRBY", "i8", "0", "abc"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(&["BITFIELD_RO", "k"]), "*0\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$1\r\n\u{7f}\r\n");
    }
}
