//! `cjson` (Lua CJSON 2.1.0, Redis's lua_cjson.c): JSON encode/decode with its settings.
//!
//! Numbers are written with C's `%.<precision>g` (14 by default) and read with C's `strtod`
//! (the C library's own, so "0x1A", "inf", "1e400" read as Redis reads them); the empty
//! table is `{}`; a table whose keys are all positive integers is an array (holes are
//! `null`) unless it is "excessively sparse"; JSON null decodes to `cjson.null`, the NULL
//! light userdata. The settings live with each cjson table (`cjson.new()` makes another)
//! and last for the Lua state's life, as in Redis.

use super::{arg_error, check_bytes, check_integer, msg, multi, raw, Fail, LibResult};
use mlua::{LightUserData, Lua, Table, Value};
use parking_lot::Mutex;
use std::ffi::{c_char, c_double, c_int};
use std::sync::Arc;

extern "C" {
    fn snprintf(s: *mut c_char, n: usize, format: *const c_char, ...) -> c_int;
    fn strtod(s: *const c_char, end: *mut *mut c_char) -> c_double;
}

/// The per-table settings (json_config_t).
#[derive(Clone)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 off (error), 1 on ("inf", "nan"), 2 null.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: bool,
    decode_invalid_numbers: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: true,
            decode_invalid_numbers: true,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

/// `cjson.null`.
pub(super) fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// `%.<precision>g`, as C's printf writes it.
pub(super) fn fmt_g(n: f64, precision: i32) -> Vec<u8> {
    let fmt = format!("%.{precision}g\0");
    let mut buf = [0u8; 64];
    // SAFETY: the buffer's size is passed; the format takes one double.
    let len = unsafe {
        snprintf(
            buf.as_mut_ptr() as *mut c_char,
            buf.len(),
            fmt.as_ptr() as *const c_char,
            n,
        )
    };
    buf[..(len.max(0) as usize).min(buf.len() - 1)].to_vec()
}

/// C's `strtod` at `s[at..]` (`s` ends with a NUL): the number and where it stopped.
fn c_strtod(s: &[u8], at: usize) -> (f64, usize) {
    debug_assert_eq!(s.last(), Some(&0));
    let start = s[at..].as_ptr() as *const c_char;
    let mut end: *mut c_char = std::ptr::null_mut();
    // SAFETY: `s` is NUL-terminated, so strtod stops inside it.
    let v = unsafe { strtod(start, &mut end) };
    (v, at + (end as usize - start as usize))
}

// ---- Encoding ----

const ESCAPES: [&[u8]; 32] = [
    b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006", b"\\u0007",
    b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f", b"\\u0010",
    b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016", b"\\u0017", b"\\u0018",
    b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d", b"\\u001e", b"\\u001f",
];

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            0..=31 => out.extend_from_slice(ESCAPES[c as usize]),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            127 => out.extend_from_slice(b"\\u007f"),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode_error(type_name: &str, reason: &str) -> Fail {
    msg(format!("Cannot serialise {type_name}: {reason}"))
}

fn append_number(cfg: &Config, out: &mut Vec<u8>, n: f64) -> LibResult<()> {
    match cfg.encode_invalid_numbers {
        0 => {
            if !n.is_finite() {
                return Err(encode_error("number", "must not be NaN or Inf"));
            }
        }
        1 => {
            if n.is_nan() {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
        }
        _ => {
            if !n.is_finite() {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(&fmt_g(n, cfg.encode_number_precision));
    Ok(())
}

/// `lua_array_length`: `Some(max)` for an array (all keys integers ≥ 1), `None` for an
/// object; an excessively sparse array is an error unless converting is on.
fn array_length(cfg: &Config, t: &Table) -> LibResult<Option<i32>> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    let mut array = true;
    t.for_each(|k: Value, _: Value| {
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => f64::NAN,
        };
        if array && k != 0.0 && k.floor() == k && k >= 1.0 {
            // C compares the double, then stores it into the int (x86-64's conversion).
            if k > max as f64 {
                max = super::c_f64_to_i32(k);
            }
            items = items.wrapping_add(1);
        } else {
            array = false;
        }
        Ok(())
    })?;
    if !array {
        return Ok(None);
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(encode_error("table", "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

/// LUAI_MAXCSTACK: Redis's encoder and decoder keep their path on the Lua stack, so nesting
/// ends there whatever the depth settings say (and so does our recursion).
const MAX_C_STACK: usize = 8000;

/// `top`: the Lua stack slots Redis's C encoder would hold here (its `lua_checkstack(3)`).
/// `refs`: the mlua references the enclosing levels hold (`super::MAX_REFS`).
fn append_data(
    cfg: &Config,
    depth: i32,
    top: usize,
    refs: usize,
    out: &mut Vec<u8>,
    v: &Value,
) -> LibResult<()> {
    match v {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(i) => append_number(cfg, out, *i as f64)?,
        Value::Number(n) => append_number(cfg, out, *n)?,
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth || top + 3 > MAX_C_STACK || refs > super::MAX_REFS {
                return Err(msg(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_length(cfg, t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let e: Value = t.raw_get(i)?;
                        append_data(cfg, depth, top + 1, refs + 1, out, &e)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    let mut err = None;
                    t.for_each(|k: Value, val: Value| {
                        if err.is_some() {
                            return Ok(());
                        }
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        let r = (|| {
                            match &k {
                                Value::Integer(_) | Value::Number(_) => {
                                    let n = match k {
                                        Value::Integer(i) => i as f64,
                                        Value::Number(n) => n,
                                        _ => 0.0,
                                    };
                                    out.push(b'"');
                                    append_number(cfg, out, n)?;
                                    out.extend_from_slice(b"\":");
                                }
                                Value::String(s) => {
                                    append_string(out, &s.as_bytes());
                                    out.push(b':');
                                }
                                other => {
                                    return Err(encode_error(
                                        super::type_name(Some(other)),
                                        "table key must be a number or string",
                                    ))
                                }
                            }
                            append_data(cfg, depth, top + 2, refs + 3, out, &val)
                        })();
                        if let Err(e) = r {
                            err = Some(e);
                        }
                        Ok(())
                    })?;
                    if let Some(e) = err {
                        return Err(e);
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(encode_error(
                super::type_name(Some(other)),
                "type not supported",
            ))
        }
    }
    Ok(())
}

/// `cjson.encode(value)`.
fn encode_value(v: &Value, cfg_shared: &Shared) -> LibResult<Vec<u8>> {
    let cfg = cfg_shared.lock().clone();
    let mut out = Vec::new();
    append_data(&cfg, 0, 1, 0, &mut out, v)?;
    Ok(out)
}

// ---- Decoding ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number => "T_NUMBER",
            Tok::Boolean => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error => "T_ERROR",
        }
    }
}

struct Token {
    kind: Tok,
    index: usize,
    err: &'static str,
    number: f64,
    boolean: bool,
}

struct Parser<'a> {
    /// The input with a NUL after it (a NUL inside ends it too, as in C).
    data: &'a [u8],
    ptr: usize,
    tmp: Vec<u8>,
    cfg: &'a Config,
    depth: i32,
}

fn hexdigit(c: u8) -> i32 {
    match c {
        b'0'..=b'9' => (c - b'0') as i32,
        _ => {
            let c = c | 0x20;
            if (b'a'..=b'f').contains(&c) {
                10 + (c - b'a') as i32
            } else {
                -1
            }
        }
    }
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn hex4(&self, at: usize) -> i32 {
        let mut v = 0;
        for i in 0..4 {
            let d = hexdigit(self.at(at + i));
            if d < 0 {
                return -1;
            }
            v = (v << 4) | d;
        }
        v
    }

    fn unicode_escape(&mut self) -> bool {
        let mut cp = self.hex4(self.ptr + 2);
        let mut len = 6;
        if cp < 0 {
            return false;
        }
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let low = self.hex4(self.ptr + 8);
            if low < 0 || low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let cp = cp as u32;
        if cp <= 0x7F {
            self.tmp.push(cp as u8);
        } else if cp <= 0x7FF {
            self.tmp.push(((cp >> 6) | 0xC0) as u8);
            self.tmp.push(((cp & 0x3F) | 0x80) as u8);
        } else if cp <= 0xFFFF {
            self.tmp.push(((cp >> 12) | 0xE0) as u8);
            self.tmp.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            self.tmp.push(((cp & 0x3F) | 0x80) as u8);
        } else {
            self.tmp.push(((cp >> 18) | 0xF0) as u8);
            self.tmp.push((((cp >> 12) & 0x3F) | 0x80) as u8);
            self.tmp.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            self.tmp.push(((cp & 0x3F) | 0x80) as u8);
        }
        self.ptr += len;
        true
    }

    fn error_token(&self, tok: &mut Token, what: &'static str) {
        tok.kind = Tok::Error;
        tok.index = self.ptr;
        tok.err = what;
    }

    fn string_token(&mut self, tok: &mut Token) {
        self.ptr += 1;
        self.tmp.clear();
        loop {
            let ch = self.at(self.ptr);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error_token(tok, "unexpected end of string");
            }
            let mut out = ch;
            if ch == b'\\' {
                out = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return self.error_token(tok, "invalid unicode escape code");
                    }
                    _ => return self.error_token(tok, "invalid escape code"),
                };
                self.ptr += 1;
            }
            self.tmp.push(out);
            self.ptr += 1;
        }
        self.ptr += 1;
        tok.kind = Tok::Str;
    }

    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let three = |s: &[u8]| (0..3).all(|i| self.at(p + i).to_ascii_lowercase() == s[i]);
        three(b"inf") || three(b"nan")
    }

    fn number_token(&mut self, tok: &mut Token) {
        tok.kind = Tok::Number;
        let (v, end) = c_strtod(self.data, self.ptr);
        if end == self.ptr {
            self.error_token(tok, "invalid number");
        } else {
            tok.number = v;
            self.ptr = end;
        }
    }

    fn next_token(&mut self) -> Token {
        let mut tok = Token {
            kind: Tok::End,
            index: 0,
            err: "",
            number: 0.0,
            boolean: false,
        };
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        tok.index = self.ptr;
        let ch = self.at(self.ptr);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            0 => return tok,
            _ => None,
        };
        if let Some(k) = single {
            tok.kind = k;
            self.ptr += 1;
            return tok;
        }
        let starts = |s: &[u8]| (0..s.len()).all(|i| self.at(self.ptr + i) == s[i]);
        match ch {
            b'"' => self.string_token(&mut tok),
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid_numbers && self.is_invalid_number() {
                    self.error_token(&mut tok, "invalid number");
                } else {
                    self.number_token(&mut tok);
                }
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if starts(b"true") {
                    tok.kind = Tok::Boolean;
                    tok.boolean = true;
                    self.ptr += 4;
                } else if starts(b"false") {
                    tok.kind = Tok::Boolean;
                    self.ptr += 5;
                } else if starts(b"null") {
                    tok.kind = Tok::Null;
                    self.ptr += 4;
                } else if self.cfg.decode_invalid_numbers && self.is_invalid_number() {
                    self.number_token(&mut tok);
                } else {
                    self.error_token(&mut tok, "invalid token");
                }
            }
            _ => self.error_token(&mut tok, "invalid token"),
        }
        tok
    }

    fn parse_error(&self, expected: &str, tok: &Token) -> Fail {
        let found = if tok.kind == Tok::Error {
            tok.err
        } else {
            tok.kind.name()
        };
        msg(format!(
            "Expected {expected} but found {found} at character {}",
            tok.index + 1
        ))
    }

    /// `json_decode_descend(slots)` with `top` slots in use.
    fn descend(&mut self, top: usize, slots: usize, refs: usize) -> LibResult<()> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth
            || top + slots > MAX_C_STACK
            || refs > super::MAX_REFS
        {
            return Err(msg(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.ptr
            )));
        }
        Ok(())
    }

    fn value(&mut self, lua: &Lua, tok: &Token, top: usize, refs: usize) -> LibResult<Value> {
        Ok(match tok.kind {
            Tok::Str => Value::String(lua.create_string(&self.tmp)?),
            Tok::Number => Value::Number(tok.number),
            Tok::Boolean => Value::Boolean(tok.boolean),
            Tok::Null => null(),
            Tok::ObjBegin => {
                self.descend(top, 3, refs)?;
                let t = lua.create_table()?;
                let mut tok = self.next_token();
                if tok.kind != Tok::ObjEnd {
                    loop {
                        if tok.kind != Tok::Str {
                            return Err(self.parse_error("object key string", &tok));
                        }
                        let key = lua.create_string(&self.tmp)?;
                        tok = self.next_token();
                        if tok.kind != Tok::Colon {
                            return Err(self.parse_error("colon", &tok));
                        }
                        tok = self.next_token();
                        let v = self.value(lua, &tok, top + 2, refs + 2)?;
                        t.raw_set(key, v)?;
                        tok = self.next_token();
                        if tok.kind == Tok::ObjEnd {
                            break;
                        }
                        if tok.kind != Tok::Comma {
                            return Err(self.parse_error("comma or object end", &tok));
                        }
                        tok = self.next_token();
                    }
                }
                self.depth -= 1;
                Value::Table(t)
            }
            Tok::ArrBegin => {
                self.descend(top, 2, refs)?;
                let t = lua.create_table()?;
                let mut tok = self.next_token();
                if tok.kind != Tok::ArrEnd {
                    let mut i = 1usize;
                    loop {
                        let v = self.value(lua, &tok, top + 1, refs + 1)?;
                        t.raw_seti(i, v)?;
                        i += 1;
                        tok = self.next_token();
                        if tok.kind == Tok::ArrEnd {
                            break;
                        }
                        if tok.kind != Tok::Comma {
                            return Err(self.parse_error("comma or array end", &tok));
                        }
                        tok = self.next_token();
                    }
                }
                self.depth -= 1;
                Value::Table(t)
            }
            _ => return Err(self.parse_error("value", tok)),
        })
    }
}

/// `cjson.decode(text)`.
fn decode(lua: &Lua, text: &[u8], cfg: &Config) -> LibResult<Value> {
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut data = Vec::with_capacity(text.len() + 1);
    data.extend_from_slice(text);
    data.push(0);
    let mut p = Parser {
        data: &data,
        ptr: 0,
        tmp: Vec::new(),
        cfg,
        depth: 0,
    };
    let tok = p.next_token();
    let v = p.value(lua, &tok, 1, 0)?;
    let tok = p.next_token();
    if tok.kind != Tok::End {
        return Err(p.parse_error("the end", &tok));
    }
    Ok(v)
}

// ---- Settings ----

/// `json_arg_init`: at most `n` arguments.
fn arg_init(args: &[Value], n: usize) -> LibResult<()> {
    if args.len() > n {
        return Err(arg_error(n as i64 + 1, "found too many arguments"));
    }
    Ok(())
}

fn is_nil(args: &[Value], i: usize) -> bool {
    matches!(args.get(i - 1), None | Some(Value::Nil))
}

/// `json_integer_option`.
fn integer_option(
    lua: &Lua,
    args: &[Value],
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    if !is_nil(args, i) {
        let v = check_integer(lua, args, i)? as i32;
        if !(min <= v && v <= max) {
            return Err(arg_error(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = v;
    }
    Ok(Value::Integer(*setting as i64))
}

/// `json_enum_option` with `bool_true` 1: a boolean, or one of `options` by name.
fn enum_option(
    lua: &Lua,
    args: &[Value],
    i: usize,
    setting: &mut i32,
    options: &[&str],
) -> LibResult<Value> {
    match args.get(i - 1) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = *b as i32,
        Some(_) => {
            let name = check_bytes(lua, args, i)?;
            match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(p) => *setting = p as i32,
                None => {
                    let mut m = b"invalid option '".to_vec();
                    m.extend_from_slice(&name);
                    m.push(b'\'');
                    return Err(arg_error(i as i64, m));
                }
            }
        }
    }
    Ok(if *setting == 0 || *setting == 1 {
        Value::Boolean(*setting == 1)
    } else {
        Value::String(lua.create_string(options[*setting as usize])?)
    })
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

fn config_fn(
    lua: &Lua,
    cfg: &Shared,
    f: fn(&Lua, &[Value], &mut Config) -> LibResult<Vec<Value>>,
) -> mlua::Result<mlua::Function> {
    let cfg = cfg.clone();
    raw(lua, move |lua, a| {
        let a = a.into_vec();
        let mut c = cfg.lock();
        Ok(multi(f(lua, &a, &mut c)?))
    })
}

/// A raw cjson table with its own settings.
pub(super) fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.set(
        "encode",
        raw(lua, move |lua, a| {
            if a.len() != 1 {
                return Err(arg_error(1, "expected 1 argument"));
            }
            let out = encode_value(&a[0], &c)?;
            Ok(multi(vec![Value::String(lua.create_string(out)?)]))
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode",
        raw(lua, move |lua, a| {
            let a = a.into_vec();
            if a.len() != 1 {
                return Err(arg_error(1, "expected 1 argument"));
            }
            let cfg = c.lock().clone();
            let text = check_bytes(lua, &a, 1)?;
            Ok(multi(vec![decode(lua, &text, &cfg)?]))
        })?,
    )?;
    t.set(
        "encode_sparse_array",
        config_fn(lua, &cfg, |lua, a, c| {
            arg_init(a, 3)?;
            let mut conv = c.sparse_convert as i32;
            let r1 = enum_option(lua, a, 1, &mut conv, BOOL_OPTIONS)?;
            c.sparse_convert = conv != 0;
            let r2 = integer_option(lua, a, 2, &mut c.sparse_ratio, 0, i32::MAX)?;
            let r3 = integer_option(lua, a, 3, &mut c.sparse_safe, 0, i32::MAX)?;
            Ok(vec![r1, r2, r3])
        })?,
    )?;
    t.set(
        "encode_max_depth",
        config_fn(lua, &cfg, |lua, a, c| {
            arg_init(a, 1)?;
            Ok(vec![integer_option(
                lua,
                a,
                1,
                &mut c.encode_max_depth,
                1,
                i32::MAX,
            )?])
        })?,
    )?;
    t.set(
        "decode_max_depth",
        config_fn(lua, &cfg, |lua, a, c| {
            arg_init(a, 1)?;
            Ok(vec![integer_option(
                lua,
                a,
                1,
                &mut c.decode_max_depth,
                1,
                i32::MAX,
            )?])
        })?,
    )?;
    t.set(
        "encode_number_precision",
        config_fn(lua, &cfg, |lua, a, c| {
            arg_init(a, 1)?;
            Ok(vec![integer_option(
                lua,
                a,
                1,
                &mut c.encode_number_precision,
                1,
                14,
            )?])
        })?,
    )?;
    t.set(
        "encode_keep_buffer",
        config_fn(lua, &cfg, |lua, a, c| {
            arg_init(a, 1)?;
            let mut v = c.encode_keep_buffer as i32;
            let r = enum_option(lua, a, 1, &mut v, BOOL_OPTIONS)?;
            c.encode_keep_buffer = v != 0;
            Ok(vec![r])
        })?,
    )?;
    t.set(
        "encode_invalid_numbers",
        config_fn(lua, &cfg, |lua, a, c| {
            arg_init(a, 1)?;
            Ok(vec![enum_option(
                lua,
                a,
                1,
                &mut c.encode_invalid_numbers,
                &["off", "on", "null"],
            )?])
        })?,
    )?;
    t.set(
        "decode_invalid_numbers",
        config_fn(lua, &cfg, |lua, a, c| {
            arg_init(a, 1)?;
            let mut v = c.decode_invalid_numbers as i32;
            let r = enum_option(lua, a, 1, &mut v, BOOL_OPTIONS)?;
            c.decode_invalid_numbers = v != 0;
            Ok(vec![r])
        })?,
    )?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    t.set(
        "new",
        raw(lua, |lua, _| Ok(multi(vec![Value::Table(raw_table(lua)?)])))?,
    )?;
    Ok(t)
}
