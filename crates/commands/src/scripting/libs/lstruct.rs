//! `struct` (Roberto Ierusalimschy's struct 1.7, Redis's lua_struct.c): binary pack/unpack
//! with its format language, for x86-64 as Redis is built there — native little endian,
//! `short` 2, `int` 4, `long`/`size_t` 8 bytes, maximum alignment 8:
//!
//! `>` big endian, `<` little endian, `![n]` alignment, `x` padding, `b/B h/H l/L T i/In`
//! integers (n ≤ 32 bytes), `cn` n chars (`c0`: the whole string when packing, the previous
//! number's length when unpacking), `s` zero-terminated string, `f` float, `d` double,
//! spaces ignored. Integers wider than 8 bytes behave as the C code does on x86-64 (the
//! value occupies the low 8 bytes).

use super::{
    arg_error, c_f64_to_i64, c_f64_to_u64, check_bytes, check_number, msg, multi, opt_integer, raw,
    LibResult,
};
use mlua::{Lua, MultiValue, Table, Value};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;
const MAX_C_STACK: usize = 8000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// The format string up to its first NUL (it is a C string to the library).
fn format_of(lua: &Lua, args: &[Value]) -> LibResult<Vec<u8>> {
    let mut f = check_bytes(lua, args, 1)?;
    if let Some(p) = f.iter().position(|&c| c == 0) {
        f.truncate(p);
    }
    Ok(f)
}

fn getnum(fmt: &[u8], at: &mut usize, df: usize) -> LibResult<usize> {
    if !fmt.get(*at).is_some_and(u8::is_ascii_digit) {
        return Ok(df);
    }
    let mut a: i32 = 0;
    while let Some(&c) = fmt.get(*at).filter(|c| c.is_ascii_digit()) {
        let d = (c - b'0') as i32;
        if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
            return Err(msg("integral size overflow"));
        }
        a = a * 10 + d;
        *at += 1;
    }
    Ok(a as usize)
}

fn optsize(opt: u8, fmt: &[u8], at: &mut usize) -> LibResult<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => getnum(fmt, at, 1)?,
        b'i' | b'I' => {
            let sz = getnum(fmt, at, 4)?;
            if sz > MAXINTSIZE {
                return Err(msg(format!(
                    "integral size {sz} is larger than limit of {MAXINTSIZE}"
                )));
            }
            sz
        }
        _ => 0,
    })
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

fn controloptions(opt: u8, fmt: &[u8], at: &mut usize, h: &mut Header) -> LibResult<()> {
    match opt {
        b' ' => {}
        b'>' => h.endian = Endian::Big,
        b'<' => h.endian = Endian::Little,
        b'!' => {
            let a = getnum(fmt, at, MAXALIGN)?;
            if a == 0 || a & (a - 1) != 0 {
                return Err(msg(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
        }
        _ => {
            let mut m = b"invalid format option '".to_vec();
            m.push(opt);
            m.push(b'\'');
            return Err(arg_error(1, m));
        }
    }
    Ok(())
}

fn is_int_opt(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

fn pack(lua: &Lua, args: &[Value]) -> LibResult<MultiValue> {
    let fmt = format_of(lua, args)?;
    // b_pack pushes a nil after its arguments: one argument too many is "got nil".
    let mut padded = args.to_vec();
    padded.push(Value::Nil);
    let args = &padded[..];
    let mut h = Header::new();
    let mut arg = 2;
    let mut total = 0usize;
    let mut out = Vec::new();
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = optsize(opt, &fmt, &mut at)?;
        let toalign = gettoalign(total, &h, opt, size);
        total = total.wrapping_add(toalign);
        out.resize(out.len() + toalign, 0);
        match opt {
            _ if is_int_opt(opt) => {
                let n = check_number(lua, args, arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    c_f64_to_i64(n) as u64
                } else {
                    c_f64_to_u64(n)
                };
                let mut buf = vec![0u8; size];
                let mut put = |i: usize| {
                    buf[i] = value as u8;
                    value >>= 8;
                };
                if h.endian == Endian::Little {
                    (0..size).for_each(&mut put);
                } else {
                    (0..size).rev().for_each(&mut put);
                }
                out.extend_from_slice(&buf);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&match h.endian {
                    Endian::Little => f.to_le_bytes(),
                    Endian::Big => f.to_be_bytes(),
                });
            }
            b'd' => {
                let d = check_number(lua, args, arg)?;
                arg += 1;
                out.extend_from_slice(&match h.endian {
                    Endian::Little => d.to_le_bytes(),
                    Endian::Big => d.to_be_bytes(),
                });
            }
            b'c' | b's' => {
                let s = check_bytes(lua, args, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_error(arg as i64, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => controloptions(opt, &fmt, &mut at, &mut h)?,
        }
        total = total.wrapping_add(size);
    }
    Ok(multi(vec![Value::String(lua.create_string(out)?)]))
}

fn getinteger(b: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let mut take = |i: usize| l = (l << 8) | b[i] as u64;
    if endian == Endian::Big {
        (0..size).for_each(&mut take);
    } else {
        (0..size).rev().for_each(&mut take);
    }
    if !signed {
        return l as f64;
    }
    // `~0 << (size*8 - 1)`: x86-64 takes the shift count modulo 64.
    let mask = u64::MAX.wrapping_shl((size as u32).wrapping_mul(8).wrapping_sub(1));
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: &[Value]) -> LibResult<MultiValue> {
    let fmt = format_of(lua, args)?;
    let data = check_bytes(lua, args, 2)?;
    let ld = data.len();
    let mut pos = opt_integer(lua, args, 3, 1)? as usize;
    if pos == 0 {
        return Err(arg_error(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut h = Header::new();
    let mut out: Vec<Value> = Vec::new();
    let too_short = || arg_error(2, "data string too short");
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = optsize(opt, &fmt, &mut at)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short());
        }
        if args.len().max(2) + out.len() + 2 > MAX_C_STACK {
            return Err(msg("stack overflow (too many results)"));
        }
        match opt {
            _ if is_int_opt(opt) => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(getinteger(
                    &data[pos..],
                    h.endian,
                    signed,
                    size,
                )));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                let f = match h.endian {
                    Endian::Little => f32::from_le_bytes(b),
                    Endian::Big => f32::from_be_bytes(b),
                };
                out.push(Value::Number(f as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                let d = match h.endian {
                    Endian::Little => f64::from_le_bytes(b),
                    Endian::Big => f64::from_be_bytes(b),
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::Integer(i)) => Some(*i as f64),
                        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(msg("format 'c0' needs a previous size"));
                    };
                    size = c_f64_to_u64(n) as usize;
                    out.pop();
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(msg("unfinished string in data"));
                };
                size = e + 1;
                out.push(Value::String(lua.create_string(&data[pos..pos + e])?));
            }
            _ => controloptions(opt, &fmt, &mut at, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Integer(pos.wrapping_add(1) as i64));
    // As a table the sandbox unpacks (see cmsgpack's unpack_full).
    let n = out.len();
    let t = lua.create_table_with_capacity(n, 0)?;
    for (i, v) in out.into_iter().enumerate() {
        t.raw_set(i + 1, v)?;
    }
    Ok(multi(vec![Value::Table(t), Value::Integer(n as i64)]))
}

fn size(lua: &Lua, args: &[Value]) -> LibResult<MultiValue> {
    let fmt = format_of(lua, args)?;
    let mut h = Header::new();
    let mut pos = 0usize;
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let size = optsize(opt, &fmt, &mut at)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(opt, &fmt, &mut at, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(multi(vec![Value::Integer(pos as i64)]))
}

pub(super) fn raw_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", raw(lua, |lua, a| pack(lua, &a.into_vec()))?)?;
    t.set("unpack", raw(lua, |lua, a| unpack(lua, &a.into_vec()))?)?;
    t.set("size", raw(lua, |lua, a| size(lua, &a.into_vec()))?)?;
    Ok(t)
}
