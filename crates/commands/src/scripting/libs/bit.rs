//! `bit` (LuaBitOp 1.0, Redis's lua_bit.c): 32-bit operations on Lua numbers. An argument
//! is made 32 bits the library's way — add 2^52+2^51 and keep the low word of the double,
//! which rounds to nearest-even and wraps modulo 2^32 — and results are signed 32-bit.

use super::{multi, raw, to_number, type_error, LibResult};
use mlua::{Lua, MultiValue, Table, Value};

/// `barg`: argument `narg` (1-based) as 32 bits; a non-number is a type error.
fn barg(lua: &Lua, args: &[Value], narg: usize) -> LibResult<u32> {
    let n = to_number(lua, args.get(narg - 1))?.unwrap_or(0.0);
    let b = (n + 6_755_399_441_055_744.0).to_bits() as u32;
    if b == 0 && to_number(lua, args.get(narg - 1))?.is_none() {
        return Err(type_error(args, narg, "number"));
    }
    Ok(b)
}

fn ret(b: u32) -> LibResult<MultiValue> {
    Ok(multi(vec![Value::Number(b as i32 as f64)]))
}

fn fold(lua: &Lua, args: &[Value], op: fn(u32, u32) -> u32) -> LibResult<MultiValue> {
    let mut b = barg(lua, args, 1)?;
    // Redis's loop reads the arguments from the last to the second.
    for i in (2..=args.len()).rev() {
        b = op(b, barg(lua, args, i)?);
    }
    ret(b)
}

fn shift(lua: &Lua, args: &[Value], op: fn(u32, u32) -> u32) -> LibResult<MultiValue> {
    let b = barg(lua, args, 1)?;
    let n = barg(lua, args, 2)? & 31;
    ret(op(b, n))
}

fn tohex(lua: &Lua, args: &[Value]) -> LibResult<MultiValue> {
    let mut b = barg(lua, args, 1)?;
    let mut n = if args.len() < 2 {
        8
    } else {
        barg(lua, args, 2)? as i32
    };
    let mut digits: &[u8; 16] = b"0123456789abcdef";
    if n < 0 {
        n = n.wrapping_neg();
        digits = b"0123456789ABCDEF";
    }
    // -(INT_MIN) stays negative in C: `n > 8` is false and the loop writes nothing.
    let n = if n > 8 { 8 } else { n.max(0) as usize };
    let mut buf = vec![0u8; n];
    for slot in buf.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ok(multi(vec![Value::String(lua.create_string(buf)?)]))
}

pub(super) fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let v = |a: MultiValue| a.into_vec();
    t.set("tobit", raw(lua, move |lua, a| ret(barg(lua, &v(a), 1)?))?)?;
    t.set("bnot", raw(lua, move |lua, a| ret(!barg(lua, &v(a), 1)?))?)?;
    t.set(
        "band",
        raw(lua, move |lua, a| fold(lua, &v(a), |x, y| x & y))?,
    )?;
    t.set(
        "bor",
        raw(lua, move |lua, a| fold(lua, &v(a), |x, y| x | y))?,
    )?;
    t.set(
        "bxor",
        raw(lua, move |lua, a| fold(lua, &v(a), |x, y| x ^ y))?,
    )?;
    t.set(
        "lshift",
        raw(lua, move |lua, a| shift(lua, &v(a), |b, n| b << n))?,
    )?;
    t.set(
        "rshift",
        raw(lua, move |lua, a| shift(lua, &v(a), |b, n| b >> n))?,
    )?;
    t.set(
        "arshift",
        raw(lua, move |lua, a| {
            shift(lua, &v(a), |b, n| ((b as i32) >> n) as u32)
        })?,
    )?;
    t.set(
        "rol",
        raw(lua, move |lua, a| {
            shift(lua, &v(a), |b, n| b.rotate_left(n))
        })?,
    )?;
    t.set(
        "ror",
        raw(lua, move |lua, a| {
            shift(lua, &v(a), |b, n| b.rotate_right(n))
        })?,
    )?;
    t.set(
        "bswap",
        raw(lua, move |lua, a| ret(barg(lua, &v(a), 1)?.swap_bytes()))?,
    )?;
    t.set("tohex", raw(lua, move |lua, a| tohex(lua, &v(a)))?)?;
    Ok(t)
}
