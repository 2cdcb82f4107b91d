//! Unit tests for cjson, cmsgpack, struct and bit, run as EVAL scripts; the expected
//! replies were checked against Redis 7.0.15.

use crate::testing::TestCtx;

fn eval(t: &TestCtx, script: &str) -> String {
    t.run(&["EVAL", script, "0"])
}

/// The script's string result in hex (`return hex(…)`).
fn eval_hex(t: &TestCtx, expr: &str) -> String {
    let r = eval(
        t,
        &format!(
            "return (({expr}):gsub('.', function(c) return string.format('%02x', c:byte()) end))"
        ),
    );
    r.lines().nth(1).unwrap_or("").to_string()
}

#[test]
fn cjson_encodes_and_decodes_like_redis() {
    let t = TestCtx::new();
    assert_eq!(
        eval(
            &t,
            "return cjson.encode({1, 2.5, 'a\"/', {}, cjson.null, 1e300, -0})"
        ),
        "$33\r\n[1,2.5,\"a\\\"\\/\",{},null,1e+300,-0]\r\n"
    );
    assert_eq!(
        eval(&t, "return cjson.encode(1/3)"),
        "$16\r\n0.33333333333333\r\n"
    );
    assert_eq!(
        eval(&t, "return select(2, pcall(cjson.decode, 'x'))"),
        "$53\r\nExpected value but found invalid token at character 1\r\n"
    );
    assert_eq!(
        eval(
            &t,
            "return cjson.decode('{\"a\":[1,null,\"\\\\u00e9\"]}').a[3]"
        ),
        "$2\r\né\r\n"
    );
    assert_eq!(
        eval(&t, "return cjson.decode('[null]')[1] == cjson.null"),
        ":1\r\n"
    );
    assert!(eval(&t, "return cjson.encode(function() end)")
        .contains("user_script:1: Cannot serialise function: type not supported"));
    assert!(eval(&t, "cjson.encode = 1").contains("Attempt to modify a readonly table"));
}

#[test]
fn cmsgpack_packs_like_redis() {
    let t = TestCtx::new();
    // 1, -1, 300, 1.5 (float32), 0.1 (float64), "ab", {} (an empty array), {a=true}.
    assert_eq!(
        eval_hex(
            &t,
            "cmsgpack.pack(1, -1, 300, 1.5, 0.1, 'ab', {}, {a=true})"
        ),
        "01ffcd012cca3fc00000cb3fb999999999999aa26162908 1a161c3".replace(' ', "")
    );
    assert_eq!(
        eval(&t, "local a, b = cmsgpack.unpack(cmsgpack.pack({1, 2, {x = 'y'}}, 2^40)) return {a[3].x, b == 2^40}"),
        "*2\r\n$1\r\ny\r\n:1\r\n"
    );
    assert_eq!(
        eval(
            &t,
            "local off, v = cmsgpack.unpack_one(cmsgpack.pack(7, 8)) return {off, v}"
        ),
        "*2\r\n:1\r\n:7\r\n"
    );
    assert!(eval(&t, "return cmsgpack.unpack('\\193')").contains("Bad data format in input."));
    assert!(eval(&t, "return cmsgpack.unpack('\\205\\1')").contains("Missing bytes in input."));
}

#[test]
fn struct_packs_like_redis() {
    let t = TestCtx::new();
    assert_eq!(eval_hex(&t, "struct.pack('>hB', -2, 255)"), "fffeff");
    assert_eq!(
        eval(
            &t,
            "return {struct.unpack('<i2c0', struct.pack('<i2', 3) .. 'abc')}"
        ),
        "*2\r\n$3\r\nabc\r\n:6\r\n"
    );
    assert_eq!(eval(&t, "return struct.size('!4bi')"), ":8\r\n");
    assert!(eval(&t, "return struct.pack('q')")
        .contains("bad argument #1 to 'pack' (invalid format option 'q')"));
}

#[test]
fn bit_is_32_bit_like_redis() {
    let t = TestCtx::new();
    assert_eq!(eval(&t, "return bit.tobit(2^32 + 5)"), ":5\r\n");
    assert_eq!(eval(&t, "return bit.bnot(0)"), ":-1\r\n");
    assert_eq!(eval(&t, "return bit.lshift(1, 31)"), ":-2147483648\r\n");
    assert_eq!(eval(&t, "return bit.arshift(-256, 4)"), ":-16\r\n");
    assert_eq!(eval(&t, "return bit.tohex(-1, -4)"), "$4\r\nFFFF\r\n");
    assert_eq!(eval(&t, "return bit.band(0xff, 0x0f, 0x3c)"), ":12\r\n");
    assert!(eval(&t, "return bit.bor('x')")
        .contains("bad argument #1 to 'bor' (number expected, got string)"));
}

#[test]
fn libraries_cannot_reach_the_host() {
    let t = TestCtx::new();
    // No way from the libraries to os/io/debug, and nothing of theirs is writable.
    for name in ["os", "io", "debug", "package", "require"] {
        assert!(eval(&t, &format!("return {name}")).contains("nonexistent global variable"));
    }
    assert_eq!(
        eval(&t, "return type(cjson.new().encode)"),
        "$8\r\nfunction\r\n"
    );
    assert_eq!(eval(&t, "return getmetatable(cjson)"), "$-1\r\n");
    assert!(eval(&t, "struct.pack = nil").contains("Attempt to modify a readonly table"));
}
