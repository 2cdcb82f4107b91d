//! INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT: numbers stored as strings.
//!
//! The value is rewritten in place (`Txn::modify`), so the key keeps its TTL; a missing key
//! counts from 0. Integers are formatted with `itoa` on the stack: the INCR hot path
//! allocates nothing beyond what the entry itself needs.

use super::check_string;
use super::longdouble::{self, Ld};
use crate::error::{CmdError, CmdResult};
use crate::util::parse_int;
use crate::Ctx;
use protocol::Args;
use storage::Expiry;

/// The stored value as Redis's `string2ll` reads it: no spaces, no `+`, no leading zeros.
#[inline]
fn value_as_int(v: &[u8]) -> Result<i64, CmdError> {
    protocol::resp::parse_i64(v).ok_or(CmdError::NotInteger)
}

/// Add `delta` to the integer at `key`; answers the new value.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> CmdResult {
    let k = ctx.key(key);
    let mut txn = ctx.txn1(&k);
    let mut buf = itoa::Buffer::new();
    let r = txn.modify(&k, |e| -> Result<i64, CmdError> {
        check_string(e)?;
        let n = value_as_int(e.value())?
            .checked_add(delta)
            .ok_or(CmdError::Overflow)?;
        e.set_value(buf.format(n).as_bytes());
        Ok(n)
    });
    let n = match r {
        Some(r) => r?,
        None => {
            txn.set(&k, buf.format(delta).as_bytes(), Expiry::Keep);
            delta
        }
    };
    ctx.out.int(n);
    Ok(())
}

/// INCR key
pub(super) fn incr(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    incr_by(ctx, args.get(1), 1)
}

/// DECR key
pub(super) fn decr(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    incr_by(ctx, args.get(1), -1)
}

/// INCRBY key increment
pub(super) fn incrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = parse_int(args.get(2))?;
    incr_by(ctx, args.get(1), by)
}

/// DECRBY key decrement
pub(super) fn decrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = parse_int(args.get(2))?;
    if by == i64::MIN {
        // -i64::MIN does not exist; Redis's own words.
        return Err(CmdError::Static("ERR decrement would overflow"));
    }
    incr_by(ctx, args.get(1), -by)
}

/// The sum as Redis stores it, or its error.
fn float_sum(value: Ld, incr: &[u8]) -> Result<Vec<u8>, CmdError> {
    let incr = longdouble::parse(incr).ok_or(CmdError::NotFloat)?;
    longdouble::format(longdouble::add(value, incr)).ok_or(CmdError::Static(
        "ERR increment would produce NaN or Infinity",
    ))
}

/// INCRBYFLOAT key increment → the new value as a bulk string (both protocols), computed in
/// x87 long double and printed as Redis does (see `longdouble`).
pub(super) fn incrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let incr = args.get(2);
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let r = txn.modify(&k, |e| -> Result<Vec<u8>, CmdError> {
        check_string(e)?;
        let v = longdouble::parse(e.value()).ok_or(CmdError::NotFloat)?;
        let s = float_sum(v, incr)?;
        e.set_value(&s);
        Ok(s)
    });
    let s = match r {
        Some(r) => r?,
        None => {
            let s = float_sum(Ld::Zero { neg: false }, incr)?;
            txn.set(&k, &s, Expiry::Keep);
            s
        }
    };
    ctx.out.bulk(&s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::strings::tests::expire_of;
    use crate::testing::TestCtx;

    #[test]
    fn incr_decr_basics() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["INCR", "n"]), ":1\r\n");
        assert_eq!(t.run(&["INCR", "n"]), ":2\r\n");
        assert_eq!(t.run(&["DECR", "n"]), ":1\r\n");
        assert_eq!(t.run(&["INCRBY", "n", "41"]), ":42\r\n");
        assert_eq!(t.run(&["DECRBY", "n", "50"]), ":-8\r\n");
        assert_eq!(t.run(&["GET", "n"]), "$2\r\n-8\r\n");
        assert_eq!(t.run(&["DECR", "fresh"]), ":-1\r\n");
        assert_eq!(t.run(&["INCRBY", "fresh2", "-5"]), ":-5\r\n");
        assert_eq!(
            t.run(&["INCR"]),
            "-ERR wrong number of arguments for 'incr' command\r\n"
        );
        assert_eq!(
            t.run(&["INCRBY", "n"]),
            "-ERR wrong number of arguments for 'incrby' command\r\n"
        );
    }

    #[test]
    fn incr_rejects_non_integers() {
        let t = TestCtx::new();
        let not_int = "-ERR value is not an integer or out of range\r\n";
        for v in [
            " 1",
            "1 ",
            "01",
            "+1",
            "-0",
            "1.0",
            "abc",
            "",
            "9223372036854775808",
        ] {
            t.run(&["SET", "n", v]);
            assert_eq!(t.run(&["INCR", "n"]), not_int, "{v:?}");
            assert!(t.run(&["GET", "n"]).ends_with(&format!("{v}\r\n")));
        }
        t.run(&["SET", "n", "5"]);
        for by in ["1.0", " 1", "x", "99999999999999999999"] {
            assert_eq!(t.run(&["INCRBY", "n", by]), not_int);
            assert_eq!(t.run(&["DECRBY", "n", by]), not_int);
        }
        assert_eq!(t.run(&["GET", "n"]), "$1\r\n5\r\n");
    }

    #[test]
    fn overflow_edges() {
        let t = TestCtx::new();
        let ovf = "-ERR increment or decrement would overflow\r\n";
        t.run(&["SET", "n", "9223372036854775807"]);
        assert_eq!(t.run(&["INCR", "n"]), ovf);
        assert_eq!(t.run(&["DECRBY", "n", "-1"]), ovf);
        assert_eq!(t.run(&["INCRBY", "n", "0"]), ":9223372036854775807\r\n");
        assert_eq!(t.run(&["DECR", "n"]), ":9223372036854775806\r\n");
        t.run(&["SET", "n", "-9223372036854775808"]);
        assert_eq!(t.run(&["DECR", "n"]), ovf);
        assert_eq!(t.run(&["INCRBY", "n", "-9223372036854775808"]), ovf);
        assert_eq!(t.run(&["INCRBY", "n", "9223372036854775807"]), ":-1\r\n");
        assert_eq!(
            t.run(&["DECRBY", "n", "-9223372036854775808"]),
            "-ERR decrement would overflow\r\n"
        );
        assert_eq!(
            t.run(&["INCRBY", "m", "-9223372036854775808"]),
            ":-9223372036854775808\r\n"
        );
        assert_eq!(t.run(&["GET", "m"]), "$20\r\n-9223372036854775808\r\n");
    }

    #[test]
    fn counters_keep_the_ttl() {
        let t = TestCtx::new();
        t.run(&["SET", "n", "10", "PX", "5000"]);
        let at = expire_of(&t, "n");
        assert_eq!(at, Some(t.srv.ks.now() + 5000));
        t.advance_ms(1000);
        assert_eq!(t.run(&["INCR", "n"]), ":11\r\n");
        assert_eq!(t.run(&["INCRBY", "n", "4"]), ":15\r\n");
        assert_eq!(t.run(&["DECR", "n"]), ":14\r\n");
        assert_eq!(t.run(&["INCRBYFLOAT", "n", "0.5"]), "$4\r\n14.5\r\n");
        assert_eq!(expire_of(&t, "n"), at);
        t.advance_ms(4000);
        assert_eq!(t.run(&["GET", "n"]), "$-1\r\n");
        // Expired: counting restarts from 0 without a TTL.
        assert_eq!(t.run(&["INCR", "n"]), ":1\r\n");
        assert_eq!(expire_of(&t, "n"), Some(0));
    }

    #[test]
    fn incrbyfloat_like_redis() {
        let t = TestCtx::new();
        t.run(&["SET", "f", "10.50"]);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "0.1"]), "$4\r\n10.6\r\n");
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "-5"]), "$3\r\n5.6\r\n");
        t.run(&["SET", "f", "5.0e3"]);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "2.0e2"]), "$4\r\n5200\r\n");
        assert_eq!(t.run(&["GET", "f"]), "$4\r\n5200\r\n");
        t.run(&["SET", "f", "0.1"]);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "0.2"]), "$3\r\n0.3\r\n");
        assert_eq!(t.run(&["INCRBYFLOAT", "g", "1e-20"]), "$1\r\n0\r\n");
        assert_eq!(t.run(&["INCRBYFLOAT", "h", "3.0"]), "$1\r\n3\r\n");
        t.run(&["SET", "i", "1"]);
        assert_eq!(t.run(&["INCRBYFLOAT", "i", "1"]), "$1\r\n2\r\n");
        assert_eq!(t.run(&["INCRBYFLOAT", "i", "-2"]), "$1\r\n0\r\n");
        // RESP3 still answers a bulk string, as Redis does.
        t.resp3();
        assert_eq!(t.run(&["INCRBYFLOAT", "i", "1.5"]), "$3\r\n1.5\r\n");
    }

    #[test]
    fn incrbyfloat_errors() {
        let t = TestCtx::new();
        let not_float = "-ERR value is not a valid float\r\n";
        let nan_inf = "-ERR increment would produce NaN or Infinity\r\n";
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "abc"]), not_float);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", " 1"]), not_float);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "nan"]), not_float);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "1e5000"]), not_float);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "inf"]), nan_inf);
        assert_eq!(t.run(&["GET", "f"]), "$-1\r\n");
        t.run(&["SET", "f", "1.5x"]);
        assert_eq!(t.run(&["INCRBYFLOAT", "f", "1"]), not_float);
        // A NUL inside the value is not the end of the number.
        t.run_bytes(&[b"SET", b"z", b"1\x002"]);
        assert_eq!(t.run(&["INCRBYFLOAT", "z", "1"]), not_float);
        t.run(&["SET", "f", "1.18973149535723176502e4932"]);
        assert_eq!(
            t.run(&["INCRBYFLOAT", "f", "1.18973149535723176502e4932"]),
            nan_inf
        );
    }
}
