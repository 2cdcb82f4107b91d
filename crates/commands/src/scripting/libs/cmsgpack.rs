//! `cmsgpack` (lua-cmsgpack 0.4.0, Redis's lua_cmsgpack.c): MessagePack pack/unpack.
//!
//! Type choices are Redis's: a number that is an exact int64 is packed as the smallest
//! integer form (fixnum, uint/int 8…64), any other number as a float32 when that keeps it
//! exactly, else a float64; strings are fixstr/str8/16/32; a table whose keys are exactly
//! 1..n is an array (so `{}` is an empty array), anything else a map in `next` order; tables
//! 16 deep, functions, userdata and nil are nil. Unpacking gives numbers (uint64 above 2^63
//! wraps negative, as Redis's `lua_pushinteger` does), and bin/ext types are "Bad data
//! format". The Lua stack bound (LUAI_MAXCSTACK, 8000 slots) is counted as Redis's C code
//! would use it, so deep or long inputs fail with its "stack overflow (…)" words instead of
//! recursing without limit.

use super::{
    arg_error, c_f64_to_i32, c_f64_to_i64, check_bytes, check_integer, msg, multi, opt_integer,
    raw, Fail, LibResult,
};
use mlua::{Lua, MultiValue, Table, Value};

const MAX_PACK_NESTING: u32 = 16;
/// LUAI_MAXCSTACK in Redis's luaconf.h.
const MAX_C_STACK: usize = 8000;

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_double(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if d == f as f64 {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_header(out: &mut Vec<u8>, n: usize, fix: u8, b16: u8, b32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 65535 {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    let i = c_f64_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(out, i);
    } else {
        encode_double(out, n);
    }
}

/// `table_is_an_array`: every key a positive number that is an exact `int`, and as many
/// keys as the largest.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max, mut array) = (0i32, 0i32, true);
    t.for_each(|k: Value, _: Value| {
        if !array {
            return Ok(());
        }
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => {
                array = false;
                return Ok(());
            }
        };
        if n <= 0.0 || c_f64_to_i32(n) as f64 != n {
            array = false;
            return Ok(());
        }
        max = max.max(n as i32);
        count = count.wrapping_add(1);
        Ok(())
    })?;
    Ok(array && max == count)
}

pub(super) fn encode(out: &mut Vec<u8>, v: &Value, level: u32) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_PACK_NESTING => {
            if is_array(t)? {
                let len = t.raw_len();
                encode_header(out, len, 0x90, 0xdc, 0xdd);
                for j in 1..=len {
                    let e: Value = t.get(j)?;
                    encode(out, &e, level + 1)?;
                }
            } else {
                // Count, then encode pair by pair (holding no more than one pair at a time).
                let mut n = 0usize;
                t.for_each(|_: Value, _: Value| {
                    n += 1;
                    Ok(())
                })?;
                encode_header(out, n, 0x80, 0xde, 0xdf);
                t.for_each(|k: Value, v: Value| {
                    encode(out, &k, level + 1)?;
                    encode(out, &v, level + 1)
                })?;
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

// ---- Unpacking ----

struct Cursor<'a> {
    s: &'a [u8],
    p: usize,
    /// The mlua references the open tables hold (`super::MAX_REFS`).
    refs: usize,
}

enum DecodeError {
    Eof,
    BadFormat,
    Fail(Fail),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> DecodeError {
        DecodeError::Fail(Fail::Lua(e))
    }
}

fn stack_overflow(what: &str) -> DecodeError {
    DecodeError::Fail(msg(format!("stack overflow ({what})")))
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.s.len() - self.p
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.left() < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    fn be(&self, at: usize, n: usize) -> u64 {
        self.s[self.p + at..self.p + at + n]
            .iter()
            .fold(0u64, |a, &b| (a << 8) | b as u64)
    }

    fn bytes(&mut self, lua: &Lua, hdr: usize, len: usize) -> Result<Value, DecodeError> {
        self.need(hdr + len)?;
        let v = lua.create_string(&self.s[self.p + hdr..self.p + hdr + len])?;
        self.p += hdr + len;
        Ok(Value::String(v))
    }

    /// One value; `top` is how many stack slots Redis's C function uses before pushing it.
    fn value(&mut self, lua: &Lua, top: usize) -> Result<Value, DecodeError> {
        self.need(1)?;
        if top + 1 > MAX_C_STACK {
            return Err(stack_overflow(
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        let b = self.s[self.p];
        let num = |this: &mut Self, n: usize, v: f64| {
            this.p += n;
            Ok(Value::Number(v))
        };
        match b {
            0xcc => {
                self.need(2)?;
                num(self, 2, self.be(1, 1) as f64)
            }
            0xd0 => {
                self.need(2)?;
                num(self, 2, self.s[self.p + 1] as i8 as f64)
            }
            0xcd => {
                self.need(3)?;
                num(self, 3, self.be(1, 2) as f64)
            }
            0xd1 => {
                self.need(3)?;
                num(self, 3, self.be(1, 2) as u16 as i16 as f64)
            }
            0xce => {
                self.need(5)?;
                num(self, 5, self.be(1, 4) as f64)
            }
            0xd2 => {
                self.need(5)?;
                num(self, 5, self.be(1, 4) as u32 as i32 as f64)
            }
            0xcf | 0xd3 => {
                self.need(9)?;
                num(self, 9, self.be(1, 8) as i64 as f64)
            }
            0xc0 => {
                self.p += 1;
                Ok(Value::Nil)
            }
            0xc3 | 0xc2 => {
                self.p += 1;
                Ok(Value::Boolean(b == 0xc3))
            }
            0xca => {
                self.need(5)?;
                num(self, 5, f32::from_bits(self.be(1, 4) as u32) as f64)
            }
            0xcb => {
                self.need(9)?;
                num(self, 9, f64::from_bits(self.be(1, 8)))
            }
            0xd9 => {
                self.need(2)?;
                let l = self.be(1, 1) as usize;
                self.bytes(lua, 2, l)
            }
            0xda => {
                self.need(3)?;
                let l = self.be(1, 2) as usize;
                self.bytes(lua, 3, l)
            }
            0xdb => {
                self.need(5)?;
                let l = self.be(1, 4) as usize;
                self.p += 5;
                self.bytes(lua, 0, l)
            }
            0xdc..=0xdf => {
                let h = if b == 0xdc || b == 0xde { 3 } else { 5 };
                self.need(h)?;
                let l = self.be(1, h - 1) as usize;
                self.p += h;
                self.nested(lua, top, l, b <= 0xdd)
            }
            _ if b & 0x80 == 0 => num(self, 1, b as f64),
            _ if b & 0xe0 == 0xe0 => num(self, 1, b as i8 as f64),
            _ if b & 0xe0 == 0xa0 => self.bytes(lua, 1, (b & 0x1f) as usize),
            _ if b & 0xf0 == 0x90 => {
                self.p += 1;
                self.nested(lua, top, (b & 0xf) as usize, true)
            }
            _ if b & 0xf0 == 0x80 => {
                self.p += 1;
                self.nested(lua, top, (b & 0xf) as usize, false)
            }
            _ => Err(DecodeError::BadFormat),
        }
    }

    fn nested(
        &mut self,
        lua: &Lua,
        top: usize,
        len: usize,
        array: bool,
    ) -> Result<Value, DecodeError> {
        let held = if array { 1 } else { 2 };
        if self.refs + held > super::MAX_REFS {
            return Err(stack_overflow("in function mp_decode_to_lua_array"));
        }
        self.refs += held;
        let r = if array {
            self.array(lua, top, len)
        } else {
            self.map(lua, top, len)
        };
        self.refs -= held;
        r
    }

    fn array(&mut self, lua: &Lua, top: usize, len: usize) -> Result<Value, DecodeError> {
        // The new table, then luaL_checkstack(1) for the index.
        let t = lua.create_table()?;
        if top + 2 > MAX_C_STACK {
            return Err(stack_overflow("in function mp_decode_to_lua_array"));
        }
        for i in 1..=len {
            let v = self.value(lua, top + 2)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, top: usize, len: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table()?;
        for _ in 0..len {
            let k = self.value(lua, top + 1)?;
            let v = self.value(lua, top + 2)?;
            match &k {
                Value::Nil => {
                    return Err(DecodeError::Fail(Fail::Plain(
                        b"table index is nil".to_vec(),
                    )))
                }
                Value::Number(n) if n.is_nan() => {
                    return Err(DecodeError::Fail(Fail::Plain(
                        b"table index is NaN".to_vec(),
                    )))
                }
                _ => t.raw_set(k, v)?,
            }
        }
        Ok(Value::Table(t))
    }
}

/// `mp_unpack_full`: `limit` values from `offset` (both 0: all, and no offset returned).
fn unpack_full(lua: &Lua, args: &[Value], limit: i64, offset: i64) -> LibResult<MultiValue> {
    let s = check_bytes(lua, args, 1)?;
    let len = s.len();
    if offset < 0 || limit < 0 {
        return Err(msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset as u64 > len as u64 {
        return Err(msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor {
        s: &s,
        p: offset as usize,
        refs: 0,
    };
    // The values go into a table as they come (the sandbox unpacks it): holding thousands
    // of values at once would exhaust mlua's reference slots.
    let out = lua.create_table()?;
    let first = if decode_all { 1 } else { 2 };
    let mut cnt = 0usize;
    while c.left() > 0 && (cnt as i64) < limit {
        match c.value(lua, 1 + cnt) {
            Ok(v) => out.raw_set(first + cnt, v)?,
            Err(DecodeError::Eof) => return Err(msg("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(msg("Bad data format in input.")),
            Err(DecodeError::Fail(f)) => return Err(f),
        }
        cnt += 1;
    }
    if !decode_all {
        let next = if c.left() == 0 { -1 } else { c.p as i64 };
        out.raw_set(1, next)?;
        cnt += 1;
    }
    Ok(multi(vec![Value::Table(out), Value::Integer(cnt as i64)]))
}

pub(super) fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        raw(lua, |lua, a| {
            if a.is_empty() {
                return Err(arg_error(0, "MessagePack pack needs input."));
            }
            // lua_checkstack(L, nargs) with the arguments already on the stack.
            if a.len() * 2 > MAX_C_STACK {
                return Err(arg_error(0, "Too many arguments for MessagePack pack."));
            }
            let mut out = Vec::new();
            for v in a.iter() {
                encode(&mut out, v, 0)?;
            }
            Ok(multi(vec![Value::String(lua.create_string(out)?)]))
        })?,
    )?;
    t.set(
        "unpack",
        raw(lua, |lua, a| unpack_full(lua, &a.into_vec(), 0, 0))?,
    )?;
    t.set(
        "unpack_one",
        raw(lua, |lua, a| {
            let a = a.into_vec();
            let offset = opt_integer(lua, &a, 2, 0)?;
            unpack_full(lua, &a, 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        raw(lua, |lua, a| {
            let a = a.into_vec();
            let limit = check_integer(lua, &a, 2)?;
            let offset = opt_integer(lua, &a, 3, 0)?;
            unpack_full(lua, &a, limit, offset)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}
