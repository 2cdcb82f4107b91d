//! The libraries Redis 7.0 loads into every script's Lua state besides Lua's own: `cjson`,
//! `cmsgpack`, `struct` and `bit`, written in Rust after Redis 7.0.15's C ones (lua_cjson.c
//! with strbuf/fpconv, lua_cmsgpack.c, lua_struct.c, lua_bit.c), with their outputs, their
//! type choices and their error words.
//!
//! ```text
//!  raw_libraries() ─► { cjson = {encode = raw, …}, cmsgpack = …, struct = …, bit = … }
//!        sandbox.lua wraps each raw function: raw(…) → true, results… | false, msg[, narg]
//!        and raises msg (with the caller's position, "user_script:1: …", as luaL_error
//!        does; `bad argument #n to '<name>'` gets the name the caller used) ─► as_c ─► protect
//! ```
//!
//! A raw function never raises a Lua error itself: mlua would raise a userdata, and a script
//! catching it with `pcall` must get Redis's plain string.

mod bit;
mod cjson;
mod cmsgpack;
mod lstruct;
#[cfg(test)]
mod tests;

use mlua::{Lua, MultiValue, Table, Value};

/// Why a library call failed: a Lua error with Redis's words, or an mlua failure (memory).
pub(super) enum Fail {
    /// `luaL_error(msg)`.
    Msg(Vec<u8>),
    /// `luaL_argerror(narg, extramsg)`: "bad argument #narg to '<name>' (extramsg)".
    Arg(i64, Vec<u8>),
    /// An error the Lua core raises inside the C function (`lua_settable`'s "table index is
    /// nil"): no position.
    Plain(Vec<u8>),
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Fail {
        Fail::Lua(e)
    }
}

pub(super) fn msg(m: impl Into<Vec<u8>>) -> Fail {
    Fail::Msg(m.into())
}

pub(super) fn arg_error(narg: i64, m: impl Into<Vec<u8>>) -> Fail {
    Fail::Arg(narg, m.into())
}

pub(super) type LibResult<T> = Result<T, Fail>;

/// How deep the codecs follow nesting, in the mlua references the levels hold (`refs`: one
/// per array level, two or three per map or object level). mlua has about 8,000 references
/// in all and panics past them; Redis stops only at its Lua stack's bound (8,000 slots: one
/// per array level, two per object level). So an array nests as deep as in Redis, and a map
/// or object stops at 2,000–3,000 levels where Redis allows ~4,000 — which only scripts that
/// raise cjson's depth settings past their default 1000 can reach.
pub(super) const MAX_REFS: usize = 6000;

/// A raw library function: `true, results…`, or `false, message[, narg | false]` (an
/// argument error, or a message without position).
fn raw<F>(lua: &Lua, f: F) -> mlua::Result<mlua::Function>
where
    F: Fn(&Lua, MultiValue) -> LibResult<MultiValue> + Send + 'static,
{
    lua.create_function(move |lua, args: MultiValue| match f(lua, args) {
        Ok(mut out) => {
            out.push_front(Value::Boolean(true));
            Ok(out)
        }
        Err(Fail::Msg(m)) => Ok(MultiValue::from_vec(vec![
            Value::Boolean(false),
            Value::String(lua.create_string(m)?),
        ])),
        Err(Fail::Arg(n, m)) => Ok(MultiValue::from_vec(vec![
            Value::Boolean(false),
            Value::String(lua.create_string(m)?),
            Value::Integer(n),
        ])),
        Err(Fail::Plain(m)) => Ok(MultiValue::from_vec(vec![
            Value::Boolean(false),
            Value::String(lua.create_string(m)?),
            Value::Boolean(false),
        ])),
        Err(Fail::Lua(e)) => Err(e),
    })
}

/// The raw libraries, for sandbox.lua to wrap, protect and publish.
pub(super) fn raw_libraries(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("cjson", cjson::raw_table(lua)?)?;
    t.set("cmsgpack", cmsgpack::raw_table(lua)?)?;
    t.set("struct", lstruct::raw_table(lua)?)?;
    t.set("bit", bit::raw_table(lua)?)?;
    Ok(t)
}

// ---- What the C API's argument helpers do (Lua 5.1's lauxlib) ----

/// Lua's name of a value's type (`lua_typename`); a missing argument is "no value".
pub(super) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::LightUserData(_)) | Some(Value::UserData(_)) => "userdata",
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_typerror`: "<expected> expected, got <type>".
pub(super) fn type_error(args: &[Value], narg: usize, expected: &str) -> Fail {
    arg_error(
        narg as i64,
        format!("{expected} expected, got {}", type_name(args.get(narg - 1))),
    )
}

/// A number as `lua_tonumber` sees it (numbers, and strings that read as numbers).
pub(super) fn to_number(lua: &Lua, v: Option<&Value>) -> LibResult<Option<f64>> {
    Ok(match v {
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
        _ => None,
    })
}

/// `luaL_checknumber(narg)` (1-based).
pub(super) fn check_number(lua: &Lua, args: &[Value], narg: usize) -> LibResult<f64> {
    to_number(lua, args.get(narg - 1))?.ok_or_else(|| type_error(args, narg, "number"))
}

/// `luaL_checkinteger(narg)`: the number truncated as Lua 5.1 does on x86-64.
pub(super) fn check_integer(lua: &Lua, args: &[Value], narg: usize) -> LibResult<i64> {
    Ok(c_f64_to_i64(check_number(lua, args, narg)?))
}

/// `luaL_optinteger(narg, def)`.
pub(super) fn opt_integer(lua: &Lua, args: &[Value], narg: usize, def: i64) -> LibResult<i64> {
    match args.get(narg - 1) {
        None | Some(Value::Nil) => Ok(def),
        _ => check_integer(lua, args, narg),
    }
}

/// `luaL_checklstring(narg)`: strings, and numbers as Lua writes them.
pub(super) fn check_bytes(lua: &Lua, args: &[Value], narg: usize) -> LibResult<Vec<u8>> {
    match args.get(narg - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => Ok(lua
            .coerce_string(v.clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()),
        _ => Err(type_error(args, narg, "string")),
    }
}

/// `(int64_t)d` as x86-64 computes it (cvttsd2si): out of range and NaN give `i64::MIN`.
pub(super) fn c_f64_to_i64(d: f64) -> i64 {
    if d > -9.223_372_036_854_778e18 && d < 9.223_372_036_854_776e18 {
        d as i64
    } else {
        i64::MIN
    }
}

/// `(int)d` as x86-64 computes it: out of range and NaN give `i32::MIN`.
pub(super) fn c_f64_to_i32(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// `(unsigned long)d` as gcc compiles it on x86-64 (values from 2^63 through a subtraction).
pub(super) fn c_f64_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO63 {
        (c_f64_to_i64(d - TWO63) as u64) ^ (1 << 63)
    } else {
        c_f64_to_i64(d) as u64
    }
}

/// Values into a `MultiValue`.
pub(super) fn multi(v: Vec<Value>) -> MultiValue {
    MultiValue::from_vec(v)
}
