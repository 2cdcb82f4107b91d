//! Conversions between Redis replies and Lua values, with Redis 7's rules.
//!
//! Reply → Lua (what `redis.call` returns): integer → number, bulk → string, null bulk or
//! null array → false, array → table, status → `{ok=…}`, error → `{err=…}`; with
//! `redis.setresp(3)` also map → `{map={…}}`, set → `{set={k=true}}`, double →
//! `{double=n}`, boolean → boolean, RESP3 null → nil, big number → `{big_number=…}`,
//! verbatim → `{verbatim_string={format=…, string=…}}`.
//!
//! Lua → reply (what the script returns): number → integer (truncated), string → bulk,
//! true → 1, false/nil → null, table with `err` → error, with `ok` → status, with
//! `double`/`big_number`/`map`/`set` → those types, otherwise an array up to the first nil.

use mlua::{Lua, Table, Value};
use protocol::{Reply, RespValue};

/// Lua tables nest at most this deep in a script's reply (Redis stops at its Lua stack limit).
const MAX_DEPTH: usize = 1000;

/// A reply as the Lua value `redis.call` returns.
pub fn reply_to_lua(lua: &Lua, v: &RespValue<'_>) -> mlua::Result<Value> {
    Ok(match v {
        RespValue::Simple(s) => single(lua, "ok", Value::String(lua.create_string(s)?))?,
        RespValue::Error(s) => single(lua, "err", Value::String(lua.create_string(s)?))?,
        RespValue::Int(n) => Value::Number(*n as f64),
        RespValue::Bulk(s) => Value::String(lua.create_string(s)?),
        RespValue::NullBulk | RespValue::NullArray => Value::Boolean(false),
        RespValue::Null => Value::Nil,
        RespValue::Array(items) | RespValue::Push(items) => Value::Table(array(lua, items)?),
        RespValue::Set(items) => {
            let t = lua.create_table_with_capacity(0, items.len())?;
            for it in items {
                t.raw_set(reply_to_lua(lua, it)?, true)?;
            }
            single(lua, "set", Value::Table(t))?
        }
        RespValue::Map(pairs) => {
            let t = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, val) in pairs {
                t.raw_set(reply_to_lua(lua, k)?, reply_to_lua(lua, val)?)?;
            }
            single(lua, "map", Value::Table(t))?
        }
        RespValue::Double(d) => single(lua, "double", Value::Number(*d))?,
        RespValue::Bool(b) => Value::Boolean(*b),
        RespValue::BigNumber(s) => single(lua, "big_number", Value::String(lua.create_string(s)?))?,
        RespValue::Verbatim(format, text) => {
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(format)?)?;
            t.raw_set("string", lua.create_string(text)?)?;
            single(lua, "verbatim_string", Value::Table(t))?
        }
    })
}

fn single(lua: &Lua, key: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(key, v)?;
    Ok(Value::Table(t))
}

fn array(lua: &Lua, items: &[RespValue<'_>]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, it) in items.iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, it)?)?;
    }
    Ok(t)
}

/// Write a script's result as the caller's reply.
pub fn lua_to_reply(out: &mut Reply<'_>, v: &Value) -> mlua::Result<()> {
    write(out, v, 0)
}

fn write(out: &mut Reply<'_>, v: &Value, depth: usize) -> mlua::Result<()> {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return Ok(());
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        // Lua 5.1 numbers are doubles; Redis truncates them to integers (3.99 → 3).
        Value::Number(n) => out.int(*n as i64),
        Value::Integer(n) => out.int(*n),
        Value::Boolean(true) => out.int(1),
        Value::Boolean(false) | Value::Nil => out.null(),
        Value::Table(t) => write_table(out, t, depth)?,
        // Functions, userdata, threads: Redis answers a null.
        _ => out.null(),
    }
    Ok(())
}

fn write_table(out: &mut Reply<'_>, t: &Table, depth: usize) -> mlua::Result<()> {
    if let Value::String(e) = t.raw_get::<Value>("err")? {
        out.error(&String::from_utf8_lossy(&e.as_bytes()));
        return Ok(());
    }
    if let Value::String(s) = t.raw_get::<Value>("ok")? {
        out.simple(&String::from_utf8_lossy(&s.as_bytes()));
        return Ok(());
    }
    let double = match t.raw_get::<Value>("double")? {
        Value::Number(d) => Some(d),
        Value::Integer(d) => Some(d as f64),
        _ => None,
    };
    if let Some(d) = double {
        out.double(d);
        return Ok(());
    }
    if let Value::String(s) = t.raw_get::<Value>("big_number")? {
        if out.is_resp3() {
            let mut line = Vec::with_capacity(s.as_bytes().len() + 3);
            line.push(b'(');
            line.extend(s.as_bytes().iter().filter(|&&c| c != b'\r' && c != b'\n'));
            line.extend_from_slice(b"\r\n");
            out.raw(&line);
        } else {
            out.bulk(&s.as_bytes());
        }
        return Ok(());
    }
    if let Value::Table(m) = t.raw_get::<Value>("map")? {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
        out.map_len(pairs.len());
        for (k, v) in &pairs {
            write(out, k, depth + 1)?;
            write(out, v, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(s) = t.raw_get::<Value>("set")? {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .map(|p| p.map(|(k, _)| k))
            .collect::<mlua::Result<_>>()?;
        out.set_len(keys.len());
        for k in &keys {
            write(out, k, depth + 1)?;
        }
        return Ok(());
    }
    // An array: elements 1, 2, … up to the first nil.
    let mut items = Vec::new();
    loop {
        let v = t.raw_get::<Value>(items.len() + 1)?;
        if v.is_nil() {
            break;
        }
        items.push(v);
    }
    out.array_len(items.len());
    for it in &items {
        write(out, it, depth + 1)?;
    }
    Ok(())
}
