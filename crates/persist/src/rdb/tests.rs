//! Whole-file tests of the RDB reader: each length and string encoding, every opcode, each
//! value type in each encoding (through the test writer), what is skipped and what is
//! refused, hostile sizes, truncation at every offset and single-bit flips anywhere. The
//! random-dataset proptests are in proptests.rs.

use storage::dump::Value;

use super::input::Input;
use super::writer::{LenForm, StrEnc, StreamSpec, Writer};
use super::*;

pub(super) fn read_all(bytes: &[u8], now_ms: u64) -> Result<(RdbSummary, Vec<Record>), RdbError> {
    let mut recs = Vec::new();
    let sum = read_rdb(bytes, now_ms, |r| {
        recs.push(r);
        Ok(())
    })?;
    Ok((sum, recs))
}

fn b(x: &str) -> Vec<u8> {
    x.as_bytes().to_vec()
}

fn rec(db: u32, key: &str, value: Value, expire_at_ms: Option<u64>) -> Record {
    Record {
        db,
        key: b(key),
        value,
        expire_at_ms,
        mc: None,
    }
}

fn strs(xs: &[&str]) -> Vec<Vec<u8>> {
    xs.iter().map(|x| b(x)).collect()
}

/// The sample stream (`StreamSpec::sample`) as the reader must make it of type `t`,
/// spelled out rather than derived by the writer's model.
pub(super) fn stream_value(t: u8) -> Value {
    use storage::types::stream::value::{GroupValue, StreamValue};
    use storage::types::stream::StreamId;
    let id = |ms, seq| StreamId::new(ms, seq);
    let v2 = t >= ty::STREAM_LISTPACKS_2;
    Value::Stream(Box::new(StreamValue {
        entries: vec![
            (
                id(1_700_000_000_000, 0),
                vec![(b("f"), b("1")), (b("g"), b("x"))],
            ),
            (id(1_700_000_000_005, 0), vec![(b("other"), b("-7"))]),
        ],
        last_id: id(1_700_000_000_005, 0),
        // Type 15 records no deletions and no count of entries ever added.
        max_deleted: if v2 {
            id(1_700_000_000_000, 1)
        } else {
            StreamId::MIN
        },
        entries_added: if v2 { 3 } else { 2 },
        groups: vec![GroupValue {
            name: b("group"),
            last_id: id(1_700_000_000_005, 0),
            // Type 15: at the last ID, the read counter is the length (Redis's estimate).
            entries_read: if v2 { 3 } else { 2 },
            consumers: vec![
                (b("alice"), 1_700_000_000_003),
                (b("bob"), 1_700_000_000_006),
            ],
            pending: vec![
                (id(1_700_000_000_000, 0), b("alice"), 1_700_000_000_001, 2),
                (id(1_700_000_000_000, 1), b("bob"), 1_700_000_000_002, 1),
            ],
        }],
    }))
}

/// A module type id as Redis builds it: nine name characters, then a 10-bit version.
fn module_id(name: &str) -> u64 {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    name.bytes().fold(0u64, |acc, c| {
        acc << 6 | SET.iter().position(|&x| x == c).unwrap() as u64
    }) << 10
        | 1
}

#[test]
fn crc_is_redis_crc64_jones() {
    // The check value in Redis's crc64.c.
    assert_eq!(input::CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
}

#[test]
fn length_encodings() {
    let len = |bytes: &[u8]| Input::new(bytes).len("a length");
    assert_eq!(len(&[0x2a]).unwrap(), 42);
    assert_eq!(len(&[0x7f, 0xff]).unwrap(), 16383);
    assert_eq!(len(&[0x80, 0, 1, 0, 0]).unwrap(), 65536);
    assert_eq!(len(&[0x81, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap(), 1 << 32);
    let e = len(&[0x82]).unwrap_err();
    assert_eq!((e.offset, e.what.contains("found 0x82")), (0, true), "{e}");
    assert!(len(&[0xc0, 1])
        .unwrap_err()
        .what
        .contains("string encoding marker"));
    let e = len(&[0x40]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("at byte 1: expected a length, found end of file"),
        "{e}"
    );
    for n in [
        0,
        1,
        63,
        64,
        16383,
        16384,
        u64::from(u32::MAX),
        u64::from(u32::MAX) + 1,
        u64::MAX,
    ] {
        for form in [LenForm::Minimal, LenForm::Bits32, LenForm::Bits64] {
            let mut w = Writer { b: Vec::new() };
            w.len_as(n, form);
            assert_eq!(len(&w.b).unwrap(), n, "{n} {form:?}");
        }
    }
}

#[test]
fn string_encodings() {
    let string = |bytes: &[u8]| Input::new(bytes).string("a string");
    assert_eq!(string(&[0x03, b'a', b'b', b'c']).unwrap(), b"abc");
    assert_eq!(string(&[0xc0, 0xff]).unwrap(), b"-1");
    assert_eq!(string(&[0xc1, 0x00, 0x80]).unwrap(), b"-32768");
    assert_eq!(
        string(&[0xc2, 0xff, 0xff, 0xff, 0x7f]).unwrap(),
        b"2147483647"
    );
    let long = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabc-and-some-more-abcabcabc".repeat(20);
    let mut w = Writer { b: Vec::new() };
    w.str(&long, StrEnc::Lzf);
    assert!(w.b.len() < long.len() / 4);
    assert_eq!(string(&w.b).unwrap(), long);
    // Unknown special encoding.
    assert!(string(&[0xc4]).unwrap_err().what.contains("0xc4"));
    // LZF claiming more than 88× its compressed size: refused before allocating.
    let e = string(&[0xc3, 0x01, 0x80, 0x10, 0, 0, 0, 0]).unwrap_err();
    assert!(e.what.contains("88"), "{e}");
    // A corrupt LZF body, with the offset of the bad token.
    let e = string(&[0xc3, 0x02, 0x03, 0x20, 0x00]).unwrap_err();
    assert_eq!(e.offset, 3, "{e}");
    // 2^60 bytes claimed: refused up front; 1000 claimed, 3 present: end of file.
    assert!(string(&[0x81, 0x10, 0, 0, 0, 0, 0, 0, 0])
        .unwrap_err()
        .what
        .contains("at most"));
    let e = string(&[0x43, 0xe8, b'a', b'b', b'c']).unwrap_err();
    assert!(e.what.contains("997 more bytes"), "{e}");
}

/// A file with every opcode, skipped kind and TTL form; returns it and the time its TTLs
/// are relative to.
pub(super) fn every_opcode_file() -> (Vec<u8>, u64) {
    let now = 1_700_000_000_000u64;
    let json = module_id("ReJSON-RL");
    let mut w = Writer::new(10);
    w.aux("redis-ver", "7.0.15").aux("redis-bits", "64");
    w.module_aux(json);
    w.op(op::FUNCTION2).str(
        b"#!lua name=lib1\nredis.register_function('f', function() return 1 end)",
        StrEnc::Lzf,
    );
    w.op(op::FUNCTION_PRE_GA)
        .str(b"oldlib", StrEnc::Raw)
        .str(b"LUA", StrEnc::Raw)
        .len(1);
    w.str(b"a description", StrEnc::Raw)
        .str(b"return 1", StrEnc::Raw);
    w.select(0).op(op::RESIZEDB).len(4).len(2);
    w.key(b"plain", &Value::String(b("v")), 0, StrEnc::Raw);
    w.expire_ms(now + 60_000)
        .op(op::IDLE)
        .len(100)
        .op(op::FREQ)
        .raw(&[5]);
    w.key(b"ttl-ms", &Value::List(strs(&["a", "1"])), 1, StrEnc::Raw);
    w.op(op::EXPIRETIME)
        .raw(&(((now / 1000) + 30) as i32).to_le_bytes());
    w.key(b"ttl-s", &Value::String(b("12345")), 0, StrEnc::Int);
    let sample = StreamSpec::sample();
    w.stream(b"s15", ty::STREAM_LISTPACKS, &sample)
        .stream(b"s19", ty::STREAM_LISTPACKS_2, &sample);
    w.stream(b"s21", ty::STREAM_LISTPACKS_3, &sample);
    w.module_value(b"doc", json);
    w.select(3)
        .key(b"in3", &Value::Set(strs(&["x"])), 0, StrEnc::Lzf);
    w.expire_ms(now - 1)
        .key(b"old", &Value::String(b("gone")), 0, StrEnc::Raw);
    w.op(ty::LIST).str(b"empty", StrEnc::Raw).len(0);
    (w.finish(true), now)
}

#[test]
fn every_opcode() {
    let (file, now) = every_opcode_file();
    let (sum, recs) = read_all(&file, now).unwrap();
    assert_eq!(
        recs,
        vec![
            rec(0, "plain", Value::String(b("v")), None),
            rec(
                0,
                "ttl-ms",
                Value::List(strs(&["a", "1"])),
                Some(now + 60_000)
            ),
            rec(
                0,
                "ttl-s",
                Value::String(b("12345")),
                Some((now / 1000 + 30) * 1000)
            ),
            rec(0, "s15", stream_value(ty::STREAM_LISTPACKS), None),
            rec(0, "s19", stream_value(ty::STREAM_LISTPACKS_2), None),
            rec(0, "s21", stream_value(ty::STREAM_LISTPACKS_3), None),
            rec(3, "in3", Value::Set(strs(&["x"])), None),
        ]
    );
    assert_eq!(sum.version, 10);
    assert_eq!(
        (sum.keys, sum.expired_skipped, sum.empty_skipped),
        (7, 1, 1)
    );
    assert_eq!(
        sum.functions,
        vec![b(
            "#!lua name=lib1\nredis.register_function('f', function() return 1 end)"
        )]
    );
    assert_eq!(
        sum.aux,
        vec![(b("redis-ver"), b("7.0.15")), (b("redis-bits"), b("64"))]
    );
    let skipped: Vec<(&str, u64, &[u8])> = sum
        .skipped
        .iter()
        .map(|s| (s.kind.as_str(), s.count, s.first.as_slice()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("module-aux:ReJSON-RL", 1, &b""[..]),
            ("function", 1, b"oldlib"),
            ("module:ReJSON-RL", 1, b"doc"),
        ]
    );
    assert_eq!(
        sum.dbs,
        vec![
            DbStats {
                db: 0,
                keys: 6,
                resize_hint: Some((4, 2))
            },
            DbStats {
                db: 3,
                keys: 1,
                resize_hint: None
            },
        ]
    );
    assert!(matches!(sum.checksum, Checksum::Verified(_)));
    // now_ms = 0 keeps the expired key.
    let (sum, recs) = read_all(&file, 0).unwrap();
    assert_eq!((sum.keys, sum.expired_skipped, recs.len()), (8, 0, 8));
}

#[test]
fn every_value_encoding() {
    let values = [
        Value::List(strs(&[
            "a",
            "12",
            "-5000",
            "x".repeat(30).as_str(),
            "",
            "99999999999",
        ])),
        Value::Set(strs(&["3", "-70000", "5000000000"])),
        Value::Set(strs(&["a", "7", "bb"])),
        Value::ZSet(vec![
            (b("m1"), 1.5),
            (b("m2"), -3.0),
            (b("m3"), f64::INFINITY),
            (b("m4"), f64::NEG_INFINITY),
            (b("m5"), 0.1),
            (b("7"), 1e300),
        ]),
        Value::Hash(vec![
            (b("f1"), b("v1")),
            (b("12"), b("-3")),
            (b("f3"), b("").repeat(0)),
            (b("long"), b("y").repeat(300)),
        ]),
    ];
    for v in &values {
        for enc in 0..4 {
            for s in [StrEnc::Raw, StrEnc::Int, StrEnc::Lzf] {
                let mut w = Writer::new(11);
                w.key(b"k", v, enc, s);
                let file = w.finish(true);
                let (_, recs) =
                    read_all(&file, 0).unwrap_or_else(|e| panic!("{v:?} enc {enc} {s:?}: {e}"));
                assert_eq!(recs.len(), 1);
                assert_eq!(recs[0].value.canonical(), v.canonical(), "enc {enc} {s:?}");
            }
        }
    }
}

#[test]
fn refusals_name_the_key_and_offset() {
    // A pre-GA module value cannot be stepped over.
    let mut w = Writer::new(10);
    w.key(b"fine", &Value::String(b("x")), 0, StrEnc::Raw);
    let at = w.b.len() as u64;
    w.op(ty::MODULE_PRE_GA)
        .str(b"mkey", StrEnc::Raw)
        .len(module_id("ReJSON-RL"))
        .raw(b"opaque");
    let e = read_all(&w.finish(true), 0).unwrap_err();
    assert_eq!(e.offset, at);
    assert!(
        e.what.contains("found 6") && e.what.contains("\"mkey\""),
        "{e}"
    );

    for t in [8u8, 22, 0xf4] {
        let mut w = Writer::new(10);
        // No key after it: the type is refused before a key is looked for.
        w.op(t);
        let e = read_all(&w.finish(true), 0).unwrap_err();
        assert_eq!(e.offset, 9, "{e}");
        assert!(e.what.contains(&format!("found {t}")), "{e}");
    }

    // A module item tag that does not exist.
    let mut w = Writer::new(10);
    w.op(ty::MODULE_2)
        .str(b"m", StrEnc::Raw)
        .len(module_id("ReJSON-RL"))
        .len(9);
    let e = read_all(&w.finish(true), 0).unwrap_err();
    assert!(e.what.contains("module item tag 0..=5, found 9"), "{e}");

    // A module aux whose 'when' is not tagged as an unsigned int.
    let mut w = Writer::new(10);
    w.op(op::MODULE_AUX)
        .len(module_id("ReJSON-RL"))
        .len(1)
        .len(1)
        .len(0);
    assert!(read_all(&w.finish(true), 0)
        .unwrap_err()
        .what
        .contains("'when' tag"));

    // A quicklist container that does not exist.
    let mut w = Writer::new(10);
    w.op(ty::LIST_QUICKLIST_2)
        .str(b"q", StrEnc::Raw)
        .len(1)
        .len(3)
        .str(b"x", StrEnc::Raw);
    let e = read_all(&w.finish(true), 0).unwrap_err();
    assert!(
        e.what
            .contains("container 1 (plain) or 2 (packed), found 3")
            && e.what.contains("\"q\""),
        "{e}"
    );

    // A stream node ID of the wrong size.
    let mut w = Writer::new(10);
    w.op(ty::STREAM_LISTPACKS)
        .str(b"s", StrEnc::Raw)
        .len(1)
        .str(b"short", StrEnc::Raw);
    assert!(read_all(&w.finish(true), 0)
        .unwrap_err()
        .what
        .contains("16-byte stream node ID"));
}

#[test]
fn malformed_values() {
    let one = |f: &dyn Fn(&mut Writer)| {
        let mut w = Writer::new(10);
        f(&mut w);
        read_all(&w.finish(true), 0)
    };
    // Duplicates and NaN.
    let e = one(&|w| {
        w.op(ty::SET)
            .str(b"s", StrEnc::Raw)
            .len(2)
            .str(b"a", StrEnc::Raw)
            .str(b"a", StrEnc::Raw);
    })
    .unwrap_err();
    assert!(
        e.what.contains("distinct set members, found \"a\" twice"),
        "{e}"
    );
    let e = one(&|w| {
        w.op(ty::HASH_LISTPACK)
            .str(b"h", StrEnc::Raw)
            .str(&listpack::encode(&strs(&["f", "1", "f", "2"])), StrEnc::Raw);
    })
    .unwrap_err();
    assert!(e.what.contains("distinct hash fields"), "{e}");
    let e = one(&|w| {
        w.op(ty::ZSET_2)
            .str(b"z", StrEnc::Raw)
            .len(1)
            .str(b"m", StrEnc::Raw)
            .raw(&f64::NAN.to_le_bytes());
    })
    .unwrap_err();
    assert!(e.what.contains("NaN"), "{e}");
    let e = one(&|w| {
        w.op(ty::ZSET)
            .str(b"z", StrEnc::Raw)
            .len(1)
            .str(b"m", StrEnc::Raw)
            .raw(&[253]);
    })
    .unwrap_err();
    assert!(e.what.contains("NaN"), "{e}");
    let e = one(&|w| {
        w.op(ty::ZSET_LISTPACK)
            .str(b"z", StrEnc::Raw)
            .str(&listpack::encode(&strs(&["m", "x1"])), StrEnc::Raw);
    })
    .unwrap_err();
    assert!(e.what.contains("expected a score, found \"x1\""), "{e}");
    // Odd number of hash entries.
    let e = one(&|w| {
        w.op(ty::HASH_ZIPLIST)
            .str(b"h", StrEnc::Raw)
            .str(&ziplist::encode(&strs(&["f"])), StrEnc::Raw);
    })
    .unwrap_err();
    assert!(e.what.contains("even number"), "{e}");
    // A listpack error inside an uncompressed blob points into the file…
    let mut lp = listpack::encode(&strs(&["abc"]));
    lp[6] = 0xf6;
    let mut w = Writer::new(10);
    w.op(ty::SET_LISTPACK).str(b"s", StrEnc::Raw);
    let blob_at = w.b.len() as u64 + 1;
    w.str(&lp, StrEnc::Raw);
    let e = read_all(&w.finish(true), 0).unwrap_err();
    assert_eq!(e.offset, blob_at + 6, "{e}");
    assert!(
        e.what.contains("unused 0xf6") && e.what.contains("listpack"),
        "{e}"
    );
    // …and inside a compressed one, at the string with the position inside it.
    let mut w = Writer::new(10);
    w.op(ty::SET_LISTPACK).str(b"s", StrEnc::Raw);
    let str_at = w.b.len() as u64;
    w.str(&lp, StrEnc::Lzf);
    let e = read_all(&w.finish(true), 0).unwrap_err();
    assert_eq!(e.offset, str_at, "{e}");
    assert!(e.what.contains("byte 6 of an encoded listpack"), "{e}");
}

#[test]
fn empty_collections_are_dropped_as_redis_does() {
    let mut w = Writer::new(10);
    w.op(ty::LIST_ZIPLIST)
        .str(b"a", StrEnc::Raw)
        .str(&ziplist::encode(&[]), StrEnc::Raw);
    w.op(ty::SET_LISTPACK)
        .str(b"b", StrEnc::Raw)
        .str(&listpack::encode(&[]), StrEnc::Raw);
    w.op(ty::LIST_QUICKLIST_2).str(b"c", StrEnc::Raw).len(2);
    w.len(2)
        .str(&listpack::encode(&[]), StrEnc::Raw)
        .len(2)
        .str(&listpack::encode(&[]), StrEnc::Raw);
    w.op(ty::HASH).str(b"d", StrEnc::Raw).len(0);
    // A quicklist with one empty node among full ones keeps the rest.
    w.op(ty::LIST_QUICKLIST).str(b"e", StrEnc::Raw).len(2);
    w.str(&ziplist::encode(&[]), StrEnc::Raw)
        .str(&ziplist::encode(&strs(&["x"])), StrEnc::Raw);
    let (sum, recs) = read_all(&w.finish(true), 0).unwrap();
    assert_eq!(sum.empty_skipped, 4);
    assert_eq!(recs, vec![rec(0, "e", Value::List(strs(&["x"])), None)]);
}

#[test]
fn sink_errors_stop_the_read() {
    let mut w = Writer::new(10);
    w.key(b"a", &Value::String(b("1")), 0, StrEnc::Raw);
    let at = w.b.len() as u64;
    w.key(b"b", &Value::String(b("2")), 0, StrEnc::Raw);
    w.key(b"c", &Value::String(b("3")), 0, StrEnc::Raw);
    let file = w.finish(true);
    let mut seen = Vec::new();
    let e = read_rdb(&file[..], 0, |r| {
        seen.push(r.key.clone());
        if r.key == b"b" {
            Err("no room for \"b\"".into())
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert_eq!(e.offset, at);
    assert!(e.what.contains("no room for \"b\""), "{e}");
    assert_eq!(seen, vec![b("a"), b("b")]);
}

#[test]
fn headers_versions_and_checksums() {
    let file = |v: u32, crc: bool| {
        let mut w = Writer::new(v);
        w.key(b"k", &Value::String(b("v")), 0, StrEnc::Raw);
        w.finish(crc)
    };
    assert!(matches!(
        read_all(&file(10, true), 0).unwrap().0.checksum,
        Checksum::Verified(_)
    ));
    assert_eq!(
        read_all(&file(11, false), 0).unwrap().0.checksum,
        Checksum::Disabled
    );
    assert_eq!(
        read_all(&file(4, true), 0).unwrap().0.checksum,
        Checksum::NotInVersion
    );
    assert_eq!(read_all(&file(1, true), 0).unwrap().0.version, 1);
    let e = read_all(&file(12, true), 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "at byte 5: expected an RDB version 0001..=0011, found \"0012\""
    );
    assert!(read_all(&file(0, true), 0).is_err());
    let mut bad = file(10, true);
    bad[7] = b'x';
    assert!(read_all(&bad, 0).unwrap_err().what.contains("\"00x0\""));
    bad[0] = b'X';
    assert_eq!(
        read_all(&bad, 0).unwrap_err().to_string(),
        "at byte 0: expected the magic \"REDIS\", found \"XEDIS\""
    );
    let mut bad = file(10, true);
    let n = bad.len();
    bad[n - 1] ^= 1;
    let e = read_all(&bad, 0).unwrap_err();
    assert_eq!(e.offset, n as u64 - 8);
    assert!(e.what.starts_with("expected the checksum 0x"), "{e}");
    assert!(read_all(b"", 0)
        .unwrap_err()
        .what
        .contains("found end of file"));
}

#[test]
fn hostile_sizes_fail_fast_without_allocating() {
    // A list claiming 2^62 elements, a set claiming 2^62 members, a string of 4 GiB.
    for t in [
        ty::LIST,
        ty::SET,
        ty::HASH,
        ty::ZSET_2,
        ty::LIST_QUICKLIST_2,
    ] {
        let mut w = Writer::new(10);
        w.op(t).str(b"k", StrEnc::Raw).len(1 << 62);
        let e = read_all(&w.finish(true), 0).unwrap_err();
        assert!(
            e.what.contains("end of file") || e.what.contains("expected"),
            "{e}"
        );
    }
    let mut w = Writer::new(10);
    w.op(ty::STRING)
        .str(b"k", StrEnc::Raw)
        .len(4 << 30)
        .raw(b"tiny");
    let e = read_all(&w.finish(true), 0).unwrap_err();
    assert!(
        e.what
            .contains("more bytes of a string value, found end of file"),
        "{e}"
    );
    // A stream claiming 2^62 consumer groups.
    let mut w = Writer::new(10);
    w.op(ty::STREAM_LISTPACKS)
        .str(b"s", StrEnc::Raw)
        .len(0)
        .len(0)
        .len(0)
        .len(0)
        .len(1 << 62);
    assert!(read_all(&w.finish(true), 0).is_err());
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let (file, now) = every_opcode_file();
    for cut in 0..file.len() {
        let r = read_all(&file[..cut], now);
        let e = r
            .err()
            .unwrap_or_else(|| panic!("a file cut at {cut} of {} was accepted", file.len()));
        assert!(e.offset <= cut as u64, "cut {cut}: {e}");
    }
}

#[test]
fn every_single_bit_flip_is_an_error() {
    let (file, now) = every_opcode_file();
    for at in 0..file.len() {
        for bit in 0..8 {
            let mut f = file.clone();
            f[at] ^= 1 << bit;
            assert!(
                read_all(&f, now).is_err(),
                "flip of bit {bit} at {at} was accepted"
            );
        }
    }
}

#[test]
fn library_names() {
    assert_eq!(
        library_name(b"#!lua name=mylib\nredis.register_function()"),
        b"mylib"
    );
    assert_eq!(library_name(b"#!lua  name=x engine=y\n"), b"x");
    assert_eq!(library_name(b"#!lua"), b"#!lua");
    assert_eq!(library_name(b""), b"");
}
