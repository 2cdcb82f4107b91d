"""The libraries Redis 7.0 gives Lua scripts — cjson, cmsgpack, struct, bit — through
redis-py, as applications use them (JSON documents kept in keys, packed blobs, flags).
Every assertion was first checked against Redis 7.0.15."""

import json

HEX = "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end "

import pytest
import redis


def test_cjson_documents_in_keys(r):
    script = r.register_script(
        "local doc = cjson.decode(redis.call('GET', KEYS[1]) or '{}') "
        "doc.count = (doc.count or 0) + tonumber(ARGV[1]) "
        "doc.tags = doc.tags or {} table.insert(doc.tags, ARGV[2]) "
        "local s = cjson.encode(doc) redis.call('SET', KEYS[1], s) return s"
    )
    script(keys=["doc"], args=[2, "a"])
    out = script(keys=["doc"], args=[3, "b/c"])
    assert json.loads(out) == {"count": 5, "tags": ["a", "b/c"]}
    assert "b\\/c" in out
    assert r.eval("return cjson.encode({1, 2.5, {}, cjson.null, 1/3})", 0) == "[1,2.5,{},null,0.33333333333333]"
    assert r.eval("return cjson.decode(ARGV[1]).a[2]", 0, '{"a":[1,"x"]}') == "x"


def test_cjson_errors(r):
    with pytest.raises(redis.ResponseError, match="Expected value but found invalid token at character 1"):
        r.eval("return cjson.decode(ARGV[1])", 0, "nope")
    with pytest.raises(redis.ResponseError, match="Cannot serialise function: type not supported"):
        r.eval("return cjson.encode({f = function() end})", 0)
    assert r.eval("return select(2, pcall(cjson.decode, '[1,]'))", 0) == (
        "Expected value but found T_ARR_END at character 4"
    )
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("cjson.encode = nil", 0)


def test_cmsgpack_bytes(r):
    packed = r.eval(HEX + "return hex(cmsgpack.pack({1, 2, 3}, 'ab', -1, 1.5, 2^40))", 0)
    assert bytes.fromhex(packed) == b"\x93\x01\x02\x03\xa2ab\xff\xca\x3f\xc0\x00\x00\xcf\x00\x00\x01\x00\x00\x00\x00\x00"
    assert r.eval("local t = cmsgpack.unpack(ARGV[1]) return {t[1], t[3]}", 0, b"\x93\x01\x02\x03") == [1, 3]
    with pytest.raises(redis.ResponseError, match="Missing bytes in input."):
        r.eval("return cmsgpack.unpack(ARGV[1])", 0, b"\xcd\x01")


def test_struct_and_bit(r):
    packed = r.eval(HEX + "return hex(struct.pack('>I2i4', 513, -2))", 0)
    assert bytes.fromhex(packed) == b"\x02\x01\xff\xff\xff\xfe"
    assert r.eval("return {struct.unpack('>I2i4', ARGV[1])}", 0, b"\x02\x01\xff\xff\xff\xfe") == [513, -2, 7]
    assert r.eval("return struct.size('>I2i4d')", 0) == 14
    assert r.eval("return {bit.band(0xff, 0x0f), bit.bnot(0), bit.lshift(1, 31), bit.tobit(2^32 + 3)}", 0) == [
        15, -1, -2147483648, 3,
    ]
    assert r.eval("return bit.tohex(65535, -4)", 0) == "FFFF"
