//! The scripting libraries Redis 7.0 gives scripts — cjson, cmsgpack, struct, bit — side by
//! side with Redis: every case runs as the same EVAL on Debian's redis-server 7.0.15 and on
//! rcache, and the replies (packed bytes, JSON text, error words) must be equal. A property
//! test sends random Lua values through cjson and cmsgpack on both.
//! Skipped when redis-server is not installed.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use redis::{Connection, Value};
use testkit::client::connect;
use testkit::proxy::Backend;
use testkit::TestServer;

/// A Lua prelude: `dump(v)` writes any value deterministically (numbers with 17 digits,
/// strings quoted, table keys sorted, cjson.null as `null`), `all(...)` dumps every value.
const PRELUDE: &str = r#"local function dump(v, d) d = d or 0 if d > 40 then return '...' end local t = type(v) if t == 'table' then local keys = {} for k in pairs(v) do keys[#keys + 1] = k end table.sort(keys, function(a, b) local ta, tb = type(a), type(b) if ta ~= tb then return ta < tb end if ta == 'number' or ta == 'string' then return a < b end return tostring(a) < tostring(b) end) local parts = {} for _, k in ipairs(keys) do parts[#parts + 1] = '[' .. dump(k, d + 1) .. ']=' .. dump(v[k], d + 1) end return '{' .. table.concat(parts, ',') .. '}' elseif t == 'number' then return string.format('%.17g', v) elseif t == 'string' then return string.format('%q', v) elseif t == 'userdata' then if v == cjson.null then return 'null' end return 'userdata' else return tostring(v) end end local function all(...) local r = {} for i = 1, select('#', ...) do r[i] = dump((select(i, ...))) end return select('#', ...) .. ': ' .. table.concat(r, ' | ') end "#;

struct Pair {
    redis: Connection,
    rcache: Connection,
    checked: usize,
}

impl Pair {
    fn eval(c: &mut Connection, script: &str, args: &[&[u8]]) -> Value {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(0);
        for a in args {
            cmd.arg(*a);
        }
        match cmd.query::<Value>(c) {
            Ok(v) => v,
            Err(e) => Value::SimpleString(format!("ERR-REPLY {e}")),
        }
    }

    /// The script's reply on both servers; they must be equal.
    fn same_with(&mut self, script: &str, args: &[&[u8]]) -> Value {
        let a = Self::eval(&mut self.redis, script, args);
        let b = Self::eval(&mut self.rcache, script, args);
        assert_eq!(b, a, "script: {script}\nargs: {args:?}");
        self.checked += 1;
        a
    }

    fn same(&mut self, script: &str) -> Value {
        self.same_with(script, &[])
    }

    /// `expr` (a Lua expression list) through `all(pcall(...))`: values or error words.
    fn expr(&mut self, expr: &str) -> Value {
        self.same(&format!(
            "{PRELUDE}return all(pcall(function() return {expr} end))"
        ))
    }

    /// `body` (Lua statements ending in a return) through `all(pcall(...))`.
    fn body(&mut self, body: &str) -> Value {
        self.same(&format!(
            "{PRELUDE}return all(pcall(function() {body} end))"
        ))
    }

    /// `expr` with ARGV set to `args` (binary inputs).
    fn expr_args(&mut self, expr: &str, args: &[&[u8]]) -> Value {
        self.same_with(
            &format!("{PRELUDE}return all(pcall(function() return {expr} end))"),
            args,
        )
    }
}

fn pair() -> Option<(Backend, TestServer, Pair)> {
    let redis = Backend::redis()?;
    let srv = TestServer::start();
    let p = Pair {
        redis: connect(redis.addr(), false),
        rcache: connect(srv.addr(), false),
        checked: 0,
    };
    Some((redis, srv, p))
}

const ENCODE_VALUES: &[&str] = &[
    "nil",
    "true",
    "false",
    "0",
    "-0",
    "1",
    "-1",
    "0.1",
    "-0.5",
    "1/3",
    "2/3",
    "1e300",
    "-1e300",
    "1e-300",
    "5e-324",
    "1.7976931348623157e308",
    "2^31",
    "2^32",
    "2^53",
    "2^53+1",
    "2^63",
    "2^64",
    "-2^63",
    "123456789012345678",
    "12345678901234",
    "123456789012345",
    "0.000001",
    "0.0000001",
    "1e14",
    "1e15",
    "1e16",
    "3.14159265358979",
    "100",
    "1e2",
    "1/0",
    "-1/0",
    "0/0",
    "''",
    "'abc'",
    "'a\"b'",
    "'a\\\\b'",
    "'a/b'",
    "'\\0'",
    "'\\1\\2\\3\\8\\9\\10\\11\\12\\13\\14\\31\\32'",
    "'\\127\\128\\255'",
    "'héllo wörld ☃ 😀'",
    "'\\226\\130'",
    "{}",
    "{{}}",
    "{{},{}}",
    "{1,2,3}",
    "{1,nil,3}",
    "{nil,nil,3}",
    "{[1]=1,[2]=2,[4]=4}",
    "{[10]=1}",
    "{[11]=1}",
    "{[1]=1,[12]=12}",
    "{[1]=1,[2]=2,[3]=3,[7]=7}",
    "{[0]=1}",
    "{[-1]=1}",
    "{[1.5]=1}",
    "{a=1}",
    "{a={b={c={}}}}",
    "{1,2,a=3}",
    "{['1']=1}",
    "{[1]='x',['2']='y'}",
    "{true}",
    "{false,false}",
    "{cjson.null}",
    "cjson.null",
    "{x=cjson.null}",
    "{[1e300]=1}",
    "{[0.5]='half'}",
    "{[2^53]=1}",
    "{[-0.5]=1}",
    "{[true]=1}",
    "{[{}]=1}",
    "function() end",
    "{f=function() end}",
    "{1,2,3,function() end}",
    "coroutine.create(function() end)",
    "{{{{{{{{{{1}}}}}}}}}}",
    "{'a',{'b',{'c',{d='e'}}}}",
    "{[1]=1,[3]=3}",
    "{[2]=2}",
    "{[3]=3}",
    "{[1]=1,[2]=2,[30]=30}",
    "string.rep('x', 1000)",
    "{string.rep('\\1', 5)}",
];

#[test]
fn cjson_encode_matches_redis() {
    let Some((_r, _s, mut p)) = pair() else {
        return;
    };
    for v in ENCODE_VALUES {
        p.expr(&format!("cjson.encode({v})"));
    }
    // The argument checks, and errors raised straight to the caller.
    p.expr("cjson.encode()");
    p.expr("cjson.encode(1, 2)");
    p.same("return cjson.encode({1, function() end})");
    p.same("return cjson.encode()");
    p.same("local enc = cjson.encode return enc(1, 2)");
    p.same("return cjson.encode(0/0)");
    // Nesting limits.
    p.body(
        "local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end return cjson.encode(t)",
    );
    p.body(
        "local t = {} local c = t for i = 1, 1000 do c[1] = {} c = c[1] end return cjson.encode(t)",
    );
    p.body("local t = {} t[1] = t return cjson.encode(t)");
    assert!(p.checked > 90);
}

#[test]
fn cjson_settings_match_redis() {
    let Some((_r, _s, mut p)) = pair() else {
        return;
    };
    let cases = [
        "cjson.encode_sparse_array()",
        "cjson.encode_sparse_array(true, 2, 10)",
        "cjson.encode_max_depth()",
        "cjson.decode_max_depth()",
        "cjson.encode_number_precision()",
        "cjson.encode_keep_buffer()",
        "cjson.encode_invalid_numbers()",
        "cjson.decode_invalid_numbers()",
        "cjson.encode_max_depth(0)",
        "cjson.encode_max_depth('x')",
        "cjson.encode_max_depth(1, 2)",
        "cjson.encode_number_precision(15)",
        "cjson.encode_number_precision(0)",
        "cjson.encode_keep_buffer('maybe')",
        "cjson.encode_keep_buffer({})",
        "cjson.encode_invalid_numbers('sometimes')",
        "cjson.encode_sparse_array(1, 2, 3, 4)",
        "cjson.encode_sparse_array(nil, -1)",
        "cjson._NAME, cjson._VERSION, type(cjson.new), type(cjson.null)",
        "cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION",
        "cjson.new().encode({1,2})",
    ];
    for c in cases {
        p.expr(c);
    }
    // Settings changed and restored inside one script (they last for the Lua state).
    let settings = [
        ("cjson.encode_number_precision(3)", "cjson.encode({1/3, 12345.678, 1e20})", "cjson.encode_number_precision(14)"),
        ("cjson.encode_number_precision('5')", "cjson.encode(math.pi)", "cjson.encode_number_precision(14)"),
        ("cjson.encode_invalid_numbers(true)", "cjson.encode({1/0, -1/0, 0/0})", "cjson.encode_invalid_numbers(false)"),
        ("cjson.encode_invalid_numbers('null')", "cjson.encode({1/0, -1/0, 0/0, [1/0] = 1})", "cjson.encode_invalid_numbers('off')"),
        ("cjson.encode_invalid_numbers('on')", "cjson.encode({[0/0] = 1}), cjson.encode_invalid_numbers()", "cjson.encode_invalid_numbers('off')"),
        ("cjson.encode_sparse_array(true)", "cjson.encode({[1]=1, [40]=2})", "cjson.encode_sparse_array(false)"),
        ("cjson.encode_sparse_array(false, 0)", "cjson.encode({[1000]=1})", "cjson.encode_sparse_array(false, 2, 10)"),
        ("cjson.encode_sparse_array(false, 1, 1)", "cjson.encode({[1]=1, [3]=3})", "cjson.encode_sparse_array(false, 2, 10)"),
        ("cjson.encode_max_depth(2)", "cjson.encode({{1}}), pcall(cjson.encode, {{{1}}})", "cjson.encode_max_depth(1000)"),
        ("cjson.decode_max_depth(2)", "cjson.decode('[[1]]'), pcall(cjson.decode, '[[[1]]]')", "cjson.decode_max_depth(1000)"),
        ("cjson.decode_max_depth(3)", "pcall(cjson.decode, '{\"a\":{\"b\":{\"c\":{}}}}')", "cjson.decode_max_depth(1000)"),
        ("cjson.decode_invalid_numbers(false)", "pcall(cjson.decode, '0x10'), pcall(cjson.decode, 'NaN'), pcall(cjson.decode, '+1'), pcall(cjson.decode, '01'), pcall(cjson.decode, '-Inf'), cjson.decode('1.5')", "cjson.decode_invalid_numbers(true)"),
        ("cjson.encode_keep_buffer(false)", "cjson.encode({a=1}), cjson.encode_keep_buffer()", "cjson.encode_keep_buffer(true)"),
    ];
    for (set, use_, reset) in settings {
        p.body(&format!(
            "local a = {{pcall(function() return {set} end)}} local r = {{pcall(function() return {use_} end)}} {reset} return dump(a), dump(r)"
        ));
    }
    // Past the depth settings, the Lua stack's own bound (Redis's words, no crash).
    // (rcache stops at 7,000 Lua stack slots, Redis at 8,000.)
    p.body("cjson.encode_max_depth(2000) local t = {} t[1] = t local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return e");
    p.body("cjson.decode_max_depth(2000) local ok, e = pcall(cjson.decode, string.rep('[', 3000)) cjson.decode_max_depth(1000) return e");
    // Objects nested thousands deep: rcache stops earlier than Redis (libs/mod.rs, MAX_REFS)
    // with the same words; checked on rcache alone.
    for (script, expect) in [
        ("cjson.encode_max_depth(100000) local u = {} u.a = u local ok, e = pcall(cjson.encode, u) cjson.encode_max_depth(1000) return e", "Cannot serialise, excessive nesting ("),
        ("cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('{\"a\":', 5000)) cjson.decode_max_depth(1000) return e", "Found too many nested data structures ("),
        ("return select(2, pcall(cmsgpack.unpack, string.rep('\\129\\161a', 3500) .. '\\1'))", "stack overflow ("),
    ] {
        let got = Pair::eval(&mut p.rcache, script, &[]);
        let Value::BulkString(b) = &got else {
            panic!("{script}: {got:?}");
        };
        assert!(String::from_utf8_lossy(b).contains(expect), "{script}: {got:?}");
    }
    p.body("cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[', 6000) .. string.rep(']', 6000)) cjson.decode_max_depth(1000) return ok");
    // A table from cjson.new() has settings of its own, and is not read-only.
    p.body("local j = cjson.new() j.encode_number_precision(2) j.x = 1 return j.encode(1/3), cjson.encode(1/3), j.x");
    p.same("cjson.encode = nil return 1");
    p.same("cjson.null = 1 return 1");
    p.same("return cjson.null");
    p.same("return {1, cjson.null, 3}");
    p.same("return cjson.decode('[1,null,3]')");
    p.same("return bit.x");
}

const DECODE_TEXTS: &[&str] = &[
    "",
    " ",
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1",
    "-1",
    "1.5",
    "1e3",
    "1E+3",
    "1e-3",
    "-1.25e-7",
    "123456789012345678901234567890",
    "1e400",
    "-1e400",
    "1e-400",
    "0x1A",
    "0X1a",
    "-0x10",
    "+1",
    "+",
    "-",
    "--1",
    "01",
    "-01",
    "00",
    "0.",
    ".5",
    "1.",
    "1.5e",
    "1e+",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "infinity",
    "INF",
    "nan",
    "NaN",
    "-nan",
    "nan(123)",
    "nil",
    "tru",
    "truex",
    "true false",
    "nul",
    "fals",
    "True",
    "NULL",
    "\"\"",
    "\"abc\"",
    "\"a\\\"b\"",
    "\"a\\\\b\"",
    "\"a\\/b\"",
    "\"\\b\\f\\n\\r\\t\"",
    "\"\\u0041\"",
    "\"\\u00e9\"",
    "\"\\u20AC\"",
    "\"\\ud83d\\ude00\"",
    "\"\\uD83D\\uDE00\"",
    "\"\\ud83d\"",
    "\"\\ude00\"",
    "\"\\ud83d\\u0041\"",
    "\"\\ud83dx\"",
    "\"\\u12\"",
    "\"\\u12G4\"",
    "\"\\u0000\"",
    "\"\\x41\"",
    "\"\\a\"",
    "\"abc",
    "\"a\nb\"",
    "\"\t\"",
    "\"é\"",
    "[",
    "]",
    "[]",
    "[ ]",
    "[1]",
    "[1,]",
    "[,1]",
    "[1 2]",
    "[1,,2]",
    "[[[]]]",
    "[1,[2,[3,[4]]]]",
    "[null]",
    "[null,null]",
    "[1,null,3]",
    "{}",
    "{ }",
    "{\"a\":1}",
    "{\"a\" : 1 , \"b\" : [true,false,null]}",
    "{\"a\":1,}",
    "{,}",
    "{\"a\"}",
    "{\"a\":}",
    "{\"a\" 1}",
    "{1:2}",
    "{a:1}",
    "{\"a\":1 \"b\":2}",
    "{\"a\":1,\"a\":2}",
    "{\"\":0}",
    "{\"a\":null}",
    "{\"1\":1,\"2\":2}",
    "}",
    ":",
    ",",
    "1 2",
    "[1] x",
    "{} {}",
    "  [1]  ",
    "\t\n\r[1]\r\n",
    "'a'",
    "[1]\u{0}garbage",
    "/* c */ 1",
    "[\"a\",{\"b\":[1,2,{\"c\":\"d\"}]}]",
    "123abc",
    "1.2.3",
    "-x",
    "[-]",
    "[1e]",
    "[0x]",
    "[\"\\u00\"]",
    "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}",
    "[1.7976931348623157e308]",
    "[2.2250738585072014e-308]",
    "[5e-324]",
    "[9007199254740993]",
    "[-9223372036854775809]",
];

#[test]
fn cjson_decode_matches_redis() {
    let Some((_r, _s, mut p)) = pair() else {
        return;
    };
    for text in DECODE_TEXTS {
        p.expr_args("cjson.decode(ARGV[1])", &[text.as_bytes()]);
    }
    // Binary and odd inputs.
    for raw in [
        &b"\0"[..],
        b"\0\0",
        b"1\0",
        b"\"\0\"",
        b"[1,\0]",
        b"\"\xff\xfe\"",
        b"\xef\xbb\xbf[1]",
        b"\x01",
    ] {
        p.expr_args("cjson.decode(ARGV[1])", &[raw]);
    }
    p.expr("cjson.decode()");
    p.expr("cjson.decode('1', '2')");
    p.expr("cjson.decode({})");
    p.expr("cjson.decode(nil)");
    p.expr("cjson.decode(12.5)");
    p.expr("cjson.decode(true)");
    p.same("return cjson.decode('[')");
    p.same("return cjson.decode('{\"a\":[1,2,3.5]}').a");
    p.body("local t = {} for i = 1, 1001 do t[i] = '[' end return cjson.decode(table.concat(t))");
    p.body("local t = {} for i = 1, 1000 do t[i] = '[' end for i = 1, 1000 do t[#t + 1] = ']' end return #cjson.encode(cjson.decode(table.concat(t)))");
    // Round trips through both.
    for v in ENCODE_VALUES {
        p.body(&format!(
            "local ok, s = pcall(cjson.encode, {v}) if not ok then return s end return s, cjson.decode(s)"
        ));
    }
}

const PACK_VALUES: &[&str] = &[
    "nil",
    "true",
    "false",
    "0",
    "-0",
    "1",
    "127",
    "128",
    "255",
    "256",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "2^53",
    "2^53+2",
    "2^62",
    "2^63",
    "2^64",
    "-1",
    "-31",
    "-32",
    "-33",
    "-127",
    "-128",
    "-129",
    "-32767",
    "-32768",
    "-32769",
    "-2147483648",
    "-2147483649",
    "-2^53",
    "-2^63",
    "-2^63-4096",
    "-2^64",
    "0.5",
    "-0.5",
    "0.1",
    "1/3",
    "1.5",
    "3.25",
    "1e300",
    "1e-300",
    "5e-324",
    "3.4028234663852886e38",
    "3.4028235677973366e38",
    "1e39",
    "1.401298464324817e-45",
    "1/0",
    "-1/0",
    "0/0",
    "''",
    "'a'",
    "string.rep('x', 31)",
    "string.rep('x', 32)",
    "string.rep('x', 255)",
    "string.rep('x', 256)",
    "string.rep('x', 65535)",
    "string.rep('x', 65536)",
    "'\\0\\1\\255'",
    "'héllo ☃'",
    "{}",
    "{1}",
    "{1,2,3}",
    "{1,nil,3}",
    "{[1]=1,[3]=3}",
    "{[2]=2}",
    "{[0]=0}",
    "{[-1]=1}",
    "{[1.5]=1}",
    "{a=1}",
    "{a=1,b=2,c=3}",
    "{1,2,a=3}",
    "{[2^31]=1}",
    "{[2^32]=1}",
    "{['1']=1}",
    "{[true]=false}",
    "{[{}]=1}",
    "{{}}",
    "{{{{}}}}",
    "{x={y={z={1,2,{}}}}}",
    "function() end",
    "{function() end}",
    "{f=function() end}",
    "cjson.null",
    "{cjson.null}",
    "coroutine.create(function() end)",
    "(function() local t = {} for i = 1, 15 do t[i] = i end return t end)()",
    "(function() local t = {} for i = 1, 16 do t[i] = i end return t end)()",
    "(function() local t = {} for i = 1, 65536 do t[i] = i end return t end)()",
    "(function() local t = {} for i = 1, 15 do t['k'..i] = i end return t end)()",
    "(function() local t = {} for i = 1, 16 do t['k'..i] = i end return t end)()",
    "(function() local t = {} for i = 1, 70000 do t['k'..i] = i end return t end)()",
    "(function() local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return t end)()",
    "(function() local t = {} t[1] = t return t end)()",
    "1, 2, 3",
    "'a', {b=1}, nil, true",
];

#[test]
fn cmsgpack_matches_redis() {
    let Some((_r, _s, mut p)) = pair() else {
        return;
    };
    for v in PACK_VALUES {
        // The packed bytes themselves, byte for byte, and what unpacking them gives.
        p.same(&format!("return cmsgpack.pack({v})"));
        p.body(&format!(
            "local s = cmsgpack.pack({v}) return #s, cmsgpack.unpack(s)"
        ));
    }
    p.expr("cmsgpack.pack()");
    p.same("return cmsgpack.pack()");
    p.same("return cmsgpack.unpack()");
    p.expr("cmsgpack.unpack({})");
    p.expr("cmsgpack.unpack('')");
    p.expr("cmsgpack.unpack(1)");
    p.expr("cmsgpack.unpack(-1)");
    // Hand-made inputs: every type byte, truncations, bad formats.
    let inputs: Vec<Vec<u8>> = vec![
        vec![0xc0],
        vec![0xc1],
        vec![0xc2],
        vec![0xc3],
        vec![0xc4, 1, 0x41],
        vec![0xc7, 1, 1, 0],
        vec![0xd4, 1, 1],
        vec![0xca, 0x3f, 0x80, 0, 0],
        vec![0xca, 0x7f, 0xc0, 0, 0],
        vec![0xca, 0x3f],
        vec![0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0],
        vec![0xcb, 0x3f],
        vec![0xcc, 0xff],
        vec![0xcc],
        vec![0xcd, 0xff, 0xff],
        vec![0xce, 0xff, 0xff, 0xff, 0xff],
        vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0],
        vec![0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 1],
        vec![0xd0, 0x80],
        vec![0xd1, 0x80, 0x00],
        vec![0xd1, 0xff, 0x7f],
        vec![0xd2, 0x80, 0, 0, 0],
        vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
        vec![0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0xd9, 3, b'a', b'b', b'c'],
        vec![0xd9, 3, b'a'],
        vec![0xda, 0, 2, b'h', b'i'],
        vec![0xdb, 0, 0, 0, 1, b'z'],
        vec![0xdb, 0xff, 0xff, 0xff, 0xff],
        vec![0xdc, 0, 2, 1, 2],
        vec![0xdc, 0, 3, 1, 2],
        vec![0xdd, 0, 0, 0, 1, 0xc0],
        vec![0xde, 0, 1, 0xa1, b'k', 1],
        vec![0xdf, 0, 0, 0, 1, 1, 2],
        vec![0x81, 0xc0, 1],
        vec![0x81, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 1],
        vec![0x81, 1, 0xc0],
        vec![0x82, 1, 2, 1, 3],
        vec![0x93, 1, 0xc0, 3],
        vec![0x91, 0x91, 0x91, 0x90],
        vec![0x80],
        vec![0x90],
        vec![0x7f, 0xe0, 0xff, 0xa0],
        vec![0xa5, b'a'],
        vec![1, 2, 3, 4, 5],
        vec![0x92, 1],
        vec![0x82, 1],
    ];
    for inp in &inputs {
        p.expr_args("cmsgpack.unpack(ARGV[1])", &[inp]);
        p.expr_args("cmsgpack.unpack_one(ARGV[1])", &[inp]);
        p.expr_args("cmsgpack.unpack_limit(ARGV[1], 2)", &[inp]);
    }
    // unpack_one / unpack_limit with offsets.
    let stream = b"\x01\x02\xa3abc\x93\x01\x02\x03\xc3";
    for call in [
        "cmsgpack.unpack_one(ARGV[1])",
        "cmsgpack.unpack_one(ARGV[1], 0)",
        "cmsgpack.unpack_one(ARGV[1], 1)",
        "cmsgpack.unpack_one(ARGV[1], 2)",
        "cmsgpack.unpack_one(ARGV[1], 6)",
        "cmsgpack.unpack_one(ARGV[1], 10)",
        "cmsgpack.unpack_one(ARGV[1], 11)",
        "cmsgpack.unpack_one(ARGV[1], 12)",
        "cmsgpack.unpack_one(ARGV[1], -1)",
        "cmsgpack.unpack_one(ARGV[1], 3)",
        "cmsgpack.unpack_one(ARGV[1], '2')",
        "cmsgpack.unpack_one(ARGV[1], 'x')",
        "cmsgpack.unpack_one(ARGV[1], 2.7)",
        "cmsgpack.unpack_limit(ARGV[1], 0)",
        "cmsgpack.unpack_limit(ARGV[1], 0, 0)",
        "cmsgpack.unpack_limit(ARGV[1], 0, 1)",
        "cmsgpack.unpack_limit(ARGV[1], 1)",
        "cmsgpack.unpack_limit(ARGV[1], 2, 2)",
        "cmsgpack.unpack_limit(ARGV[1], 100)",
        "cmsgpack.unpack_limit(ARGV[1], 100, 6)",
        "cmsgpack.unpack_limit(ARGV[1], -1)",
        "cmsgpack.unpack_limit(ARGV[1], 1, -5)",
        "cmsgpack.unpack_limit(ARGV[1])",
        "cmsgpack.unpack_limit(ARGV[1], 'x')",
        "cmsgpack.unpack_limit()",
        "cmsgpack.unpack_one()",
        "cmsgpack.unpack(ARGV[1])",
    ] {
        p.expr_args(call, &[stream]);
    }
    // A loop over a stream, as scripts read one.
    p.body("local s = cmsgpack.pack(1, 'two', {3}, {four=4}) local out, off = {}, 0 while off >= 0 do local v off, v = cmsgpack.unpack_one(s, off) out[#out + 1] = v end return out");
    // Many top-level values, and deep nesting (Lua stack limits).
    for n in [3999, 4000, 4001, 5000, 7990] {
        p.body(&format!("local t = {{}} for i = 1, {n} do t[i] = i end local s = cmsgpack.pack(unpack(t)) return #s, select('#', cmsgpack.unpack(s))"));
    }
    for n in [7997, 7998, 7999, 8000] {
        p.body(&format!(
            "return select('#', cmsgpack.unpack(string.rep('\\1', {n})))"
        ));
        p.body(&format!(
            "return select('#', cmsgpack.unpack(string.rep('\\161x', {n})))"
        ));
    }
    p.body("return cmsgpack.unpack(string.rep('\\1', 8000))");
    p.body("return #cmsgpack.pack(cmsgpack.unpack(string.rep('\\145', 3000) .. '\\1'))");
    p.body("return cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1')");
    p.body("return cmsgpack.unpack(string.rep('\\129\\1', 3000) .. '\\1')");
    p.same("cmsgpack.pack = nil return 1");
}

#[test]
fn struct_matches_redis() {
    let Some((_r, _s, mut p)) = pair() else {
        return;
    };
    let packs = [
        "'b', 1",
        "'b', -1",
        "'b', 255",
        "'b', 256",
        "'B', -1",
        "'h', 1",
        "'>h', 1",
        "'<h', -2",
        "'H', 65535",
        "'H', 65536",
        "'i', 1",
        "'>i', 1",
        "'i', -1",
        "'I', 2^32-1",
        "'i', 2^31",
        "'l', 1",
        "'>l', -2",
        "'L', 2^53",
        "'L', 2^63",
        "'L', 2^64",
        "'L', -1",
        "'l', 2^63",
        "'l', -2^63",
        "'l', -2^64",
        "'l', 0/0",
        "'L', 1/0",
        "'T', 5",
        "'i1', 300",
        "'i2', 1",
        "'i3', 65536*2+1",
        "'>i3', -2",
        "'i5', -1",
        "'i8', -1",
        "'i9', -1",
        "'>i9', -1",
        "'i16', 1",
        "'i16', -1",
        "'>i16', -1",
        "'i32', 7",
        "'i33', 1",
        "'i0', 1",
        "'f', 1.5",
        "'>f', 1.5",
        "'f', 1/3",
        "'f', 1e300",
        "'d', 1/3",
        "'>d', -0.0",
        "'d', 1/0",
        "'c', 'abc'",
        "'c2', 'abc'",
        "'c0', 'abc'",
        "'c5', 'abc'",
        "'s', 'abc'",
        "'s', ''",
        "'s', 'a\\0b'",
        "'x'",
        "'xxb', 1",
        "'bhb', 1, 2, 3",
        "'!bh', 1, 2",
        "'!4bi', 1, 2",
        "'!8bd', 1, 2",
        "'!2bl', 1, 2",
        "'!3b', 1",
        "'!16bl', 1, 2",
        "'! b', 1",
        "'>!4bhi', 1, 2, 3",
        "'< > b', 1",
        "'q', 1",
        "'b'",
        "'b', 'x'",
        "'b', '12'",
        "'b', {}",
        "'c', 12",
        "'s', {}",
        "''",
        "nil",
        "'i99999999999', 1",
        "'c99999999999', 'a'",
        "'bb\\0bb', 1, 2, 3, 4",
        "'b', 1, 2",
        "'d', '1.5'",
        "'Ix', 1",
    ];
    for a in packs {
        p.expr(&format!("struct.pack({a})"));
    }
    let unpacks = [
        "'b', '\\255'",
        "'B', '\\255'",
        "'h', '\\1\\2'",
        "'>h', '\\255\\254'",
        "'H', '\\255\\255'",
        "'i', '\\1\\0\\0\\128'",
        "'I', '\\1\\0\\0\\128'",
        "'l', string.rep('\\255', 8)",
        "'L', string.rep('\\255', 8)",
        "'>L', '\\128' .. string.rep('\\0', 7)",
        "'i3', '\\255\\255\\255'",
        "'I3', '\\255\\255\\255'",
        "'i9', string.rep('\\255', 9)",
        "'I9', string.rep('\\255', 9)",
        "'>i16', string.rep('\\255', 16)",
        "'i16', string.rep('\\1', 16)",
        "'i0', ''",
        "'f', struct.pack('f', 1.5)",
        "'>f', struct.pack('>f', -2.25)",
        "'d', struct.pack('d', 1/3)",
        "'>d', struct.pack('>d', 1e300)",
        "'c3', 'abcdef'",
        "'c3c2', 'abcdef'",
        "'bc0', '\\3abcdef'",
        "'c0', 'abc'",
        "'c1c0', '3abcd'",
        "'c1c0', 'xabcd'",
        "'s', 'abc\\0def'",
        "'ss', 'a\\0b\\0'",
        "'s', 'abc'",
        "'xb', '\\1\\2'",
        "'!4bi', struct.pack('!4bi', 1, 2)",
        "'!8bd', struct.pack('!8bd', 1, 2)",
        "'b', ''",
        "'h', '\\1'",
        "'b', 'ab', 2",
        "'b', 'ab', 3",
        "'b', 'ab', 0",
        "'b', 'ab', -1",
        "'b', 'ab', 'x'",
        "'b'",
        "'q', 'a'",
        "'bbbb', 'abc'",
        "'b', 123",
        "'b', 'a', 1.9",
        "'>I2<I2', '\\1\\2\\1\\2'",
    ];
    for a in unpacks {
        p.expr(&format!("struct.unpack({a})"));
    }
    let sizes = [
        "'b'", "'bhilT'", "'!bhilT'", "'!4bd'", "'c10'", "'c0'", "'s'", "'i7'", "'i33'", "'!3'",
        "'q'", "'bq?'", "'>'", "''", "'x!8d'", "'!2bi3'", "nil", "{}", "'f d'",
    ];
    for a in sizes {
        p.expr(&format!("struct.size({a})"));
    }
    // Round trips.
    p.body("local s = struct.pack('>!4bhiLfdc3s', -1, -2, -3, 2^40, 1.5, 1/3, 'abc', 'zz') return #s, struct.unpack('>!4bhiLfdc3s', s)");
    p.same("return struct.pack('q', 1)");
    p.same("return struct.unpack('b', '')");
}

#[test]
fn bit_matches_redis() {
    let Some((_r, _s, mut p)) = pair() else {
        return;
    };
    let numbers = [
        "0",
        "1",
        "-1",
        "2^31",
        "2^31-1",
        "-2^31",
        "-2^31-1",
        "2^32",
        "2^32+1",
        "2^32-1",
        "2^40+5",
        "-2^40-5",
        "2^52",
        "2^52+0.5",
        "2^53",
        "2^53+2",
        "2^60+7",
        "2^64",
        "0.5",
        "1.5",
        "2.5",
        "-0.5",
        "-1.5",
        "0.4999999",
        "1e300",
        "-1e300",
        "1/0",
        "-1/0",
        "0/0",
        "0xdeadbeef",
        "0x12345678",
        "'12'",
        "'0x10'",
        "'  7  '",
    ];
    for n in numbers {
        p.expr(&format!(
            "bit.tobit({n}), bit.bnot({n}), bit.bswap({n}), bit.tohex({n})"
        ));
        p.expr(&format!(
            "bit.band({n}, 0xff), bit.bor({n}, 1), bit.bxor({n}, -1), bit.lshift(1, {n}), bit.rshift(-1, {n}), bit.arshift(-256, {n}), bit.rol(0x12345678, {n}), bit.ror(0x12345678, {n})"
        ));
    }
    let cases = [
        "bit.band()",
        "bit.band(1)",
        "bit.band(0xff, 0xf0, 0x30)",
        "bit.bor(1, 2, 4, 8)",
        "bit.bxor(1, 3, 7)",
        "bit.band(1, 'x')",
        "bit.band('x', 1)",
        "bit.band(1, nil)",
        "bit.bor({}, 1)",
        "bit.tobit()",
        "bit.tobit('abc')",
        "bit.tobit(true)",
        "bit.lshift(1)",
        "bit.lshift(1, 31)",
        "bit.lshift(1, 32)",
        "bit.lshift(1, 33)",
        "bit.lshift(1, -1)",
        "bit.rshift(0x80000000, 31)",
        "bit.arshift(0x80000000, 31)",
        "bit.arshift(-1, 100)",
        "bit.rol(1, 0)",
        "bit.ror(1, 0)",
        "bit.ror(1, 1)",
        "bit.tohex(255, 2)",
        "bit.tohex(255, -2)",
        "bit.tohex(255, 0)",
        "bit.tohex(255, 9)",
        "bit.tohex(255, -9)",
        "bit.tohex(-1, 3)",
        "bit.tohex(0x12345678, 4)",
        "bit.tohex(1, nil)",
        "bit.tohex(1, 'x')",
        "bit.tohex(1, 2^32+3)",
        "bit.bswap(0x12345678)",
        "bit.bnot(0)",
        "bit.band(2^32+5, 2^33+7)",
        "type(bit.band(1, 1))",
    ];
    for c in cases {
        p.expr(c);
    }
    p.same("return bit.band(1, 'x')");
    p.same("bit.band = nil return 1");
    p.same("return bit.tobit(2^32 + 17)");
}

/// The libraries in functions: present when the function runs, absent while the library
/// loads (Redis 7.0 gives the load only the `redis` API).
#[test]
fn libraries_in_functions_match_redis() {
    let Some((_r, _s, mut p)) = pair() else {
        return;
    };
    let lib = "#!lua name=libs\nredis.register_function('j', function(keys, args) return {cjson.encode({a = {1, 2}}), cmsgpack.pack(1, 'x'), struct.pack('>h', 7), bit.band(7, 3)} end)";
    for c in [&mut p.redis, &mut p.rcache] {
        let _: Value = redis::cmd("FUNCTION").arg("FLUSH").query(c).unwrap();
        let _: Value = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg(lib)
            .query(c)
            .unwrap();
    }
    let call = |c: &mut Connection, args: &[&str]| -> Value {
        match redis::cmd(args[0]).arg(&args[1..]).query::<Value>(c) {
            Ok(v) => v,
            Err(e) => Value::SimpleString(format!("ERR-REPLY {e}")),
        }
    };
    let a = call(&mut p.redis, &["FCALL", "j", "0"]);
    let b = call(&mut p.rcache, &["FCALL", "j", "0"]);
    assert_eq!(b, a);
    let load_time = "#!lua name=bad\nlocal x = cjson.encode({})\nredis.register_function('b', function() return 1 end)";
    let a = call(&mut p.redis, &["FUNCTION", "LOAD", load_time]);
    let b = call(&mut p.rcache, &["FUNCTION", "LOAD", load_time]);
    assert_eq!(b, a);
    for c in [&mut p.redis, &mut p.rcache] {
        let _: Value = redis::cmd("FUNCTION").arg("FLUSH").query(c).unwrap();
    }
}

/// Lua source for a random value: numbers (integers, fractions, extremes), strings of any
/// bytes, arrays, maps and sparse tables, nested a few levels.
fn lua_value() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<i32>().prop_map(|i| i.to_string()),
        any::<i64>().prop_map(|i| format!("{i}")),
        (-1_000_000i64..1_000_000).prop_map(|i| format!("{}", i as f64 / 64.0)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        prop_oneof![
            Just("2^53".to_string()),
            Just("2^53+1".to_string()),
            Just("2^63".to_string()),
            Just("-2^63".to_string()),
            Just("2^64".to_string()),
            Just("-0".to_string()),
            Just("1e300".to_string()),
            Just("5e-324".to_string()),
            Just("(1/0)".to_string()),
            Just("(0/0)".to_string()),
        ],
    ];
    let string = proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| {
        let mut s = String::from("'");
        for c in b {
            s.push_str(&format!("\\{c}"));
        }
        s.push('\'');
        s
    });
    let leaf = prop_oneof![
        4 => number,
        4 => string,
        1 => Just("true".to_string()),
        1 => Just("false".to_string()),
        1 => Just("cjson.null".to_string()),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8)
                .prop_map(|v| format!("{{{}}}", v.join(","))),
            proptest::collection::vec(("[a-z]{1,6}", inner.clone()), 0..6).prop_map(|v| {
                let items: Vec<String> =
                    v.into_iter().map(|(k, v)| format!("['{k}']={v}")).collect();
                format!("{{{}}}", items.join(","))
            }),
            proptest::collection::vec((1u32..40, inner), 0..6).prop_map(|v| {
                let items: Vec<String> = v.into_iter().map(|(k, v)| format!("[{k}]={v}")).collect();
                format!("{{{}}}", items.join(","))
            }),
        ]
    })
}

/// Random values through cjson (encode, then decode what it wrote) and cmsgpack (the packed
/// bytes, then unpacking them): the same on both servers.
#[test]
fn random_values_round_trip_like_redis() {
    let Some((_r, _s, p)) = pair() else {
        return;
    };
    let p = std::cell::RefCell::new(p);
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&lua_value(), |v| {
            let mut p = p.borrow_mut();
            p.body(&format!(
                "local v = {v} local ok, s = pcall(cjson.encode, v) if not ok then return 'encode error', s end return s, cjson.decode(s)"
            ));
            p.same(&format!("return cmsgpack.pack({v})"));
            p.body(&format!("local s = cmsgpack.pack({v}) return cmsgpack.unpack(s)"));
            Ok(())
        })
        .unwrap();
}
