//! Tests of Redis DUMP payload decoding (payload.rs): every type and encoding through the
//! test writer, streams, the footer checks, trailing bytes, truncation, refusals, and
//! random values.

use proptest::prelude::*;
use storage::dump::Value;

use super::tests::stream_value;
use super::writer::{dump_payload, StrEnc, StreamSpec};
use super::*;

fn b(x: &str) -> Vec<u8> {
    x.as_bytes().to_vec()
}

fn payload(v: &Value, enc: usize, s: StrEnc) -> Vec<u8> {
    dump_payload(10, s, |w| {
        w.key(b"", v, enc, s);
    })
}

/// The CRC recomputed after an edit of the payload's bytes before the footer.
fn recrc(p: &mut [u8]) {
    let n = p.len() - 8;
    let crc = input::CRC64.checksum(&p[..n]);
    p[n..].copy_from_slice(&crc.to_le_bytes());
}

fn bad_format(p: &[u8]) -> RdbError {
    match decode_dump_payload(p) {
        Err(PayloadError::BadFormat(e)) => e,
        other => panic!("expected a bad format, got {other:?}"),
    }
}

fn samples() -> Vec<Value> {
    vec![
        Value::String(b("hello")),
        Value::String(b("-12345")),
        Value::String(b("")),
        Value::String(b("compress me ").repeat(20)),
        Value::List(vec![
            b("a"),
            b("12"),
            b("-5000"),
            b("x").repeat(30),
            b(""),
            b("99999999999"),
        ]),
        Value::Set(vec![b("3"), b("-70000"), b("5000000000")]),
        Value::Set(vec![b("a"), b("7"), b("bb")]),
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
            (b("f3"), b("")),
            (b("long"), b("y").repeat(300)),
        ]),
    ]
}

#[test]
fn every_type_and_encoding_decodes() {
    for v in &samples() {
        for enc in 0..4 {
            for s in [StrEnc::Raw, StrEnc::Int, StrEnc::Lzf] {
                let p = payload(v, enc, s);
                let d = decode_dump_payload(&p)
                    .unwrap_or_else(|e| panic!("{v:?} enc {enc} {s:?}: {e:?}"));
                assert_eq!(d.value.canonical(), v.canonical(), "enc {enc} {s:?}");
                assert_eq!(d.rdb_type, p[0]);
                assert_eq!(d.rdb_version, 10);
            }
        }
    }
}

#[test]
fn streams_decode_in_every_stream_type() {
    for t in [
        ty::STREAM_LISTPACKS,
        ty::STREAM_LISTPACKS_2,
        ty::STREAM_LISTPACKS_3,
    ] {
        let p = dump_payload(11, StrEnc::Raw, |w| {
            w.stream(b"", t, &StreamSpec::sample());
        });
        let d = decode_dump_payload(&p).unwrap_or_else(|e| panic!("type {t}: {e:?}"));
        assert_eq!(d.value, stream_value(t), "type {t}");
        // RESTORE's next step (and the fuzz target's check): an entry that reads back equal.
        let lim = storage::Limits::default();
        let e = storage::types::generic::from_value_ref(b"k", 0, 0, &d.value.as_ref(), &lim);
        assert_eq!(storage::types::generic::to_value(&e), d.value, "type {t}");
        assert_eq!(d.rdb_type, t);
    }
}

#[test]
fn a_string_payload_laid_out_by_hand() {
    // What `SET k hello` then `DUMP k` gives on Redis 7.0: type 0, "hello", version 10, CRC.
    let mut p = vec![0u8, 5];
    p.extend_from_slice(b"hello");
    p.extend_from_slice(&10u16.to_le_bytes());
    let crc = input::CRC64.checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        decode_dump_payload(&p).unwrap().value,
        Value::String(b("hello"))
    );
    assert_eq!(dump_payload_version(&p), Some(10));
}

#[test]
fn footer_checks() {
    let good = payload(&Value::String(b("v")), 0, StrEnc::Raw);
    assert!(decode_dump_payload(&good).is_ok());
    // A wrong CRC, anywhere.
    for i in 0..good.len() {
        let mut p = good.clone();
        p[i] ^= 0x10;
        assert_eq!(
            decode_dump_payload(&p),
            Err(PayloadError::VersionOrChecksum),
            "flip at {i}"
        );
    }
    // A zero CRC is not "disabled" in a payload.
    let mut p = good.clone();
    let n = p.len();
    p[n - 8..].fill(0);
    assert_eq!(
        decode_dump_payload(&p),
        Err(PayloadError::VersionOrChecksum)
    );
    // Versions: 1..=11 are read, 0 and 12 (Redis 7.4) and rcache's own are not, even with
    // a matching CRC.
    for (version, ok) in [
        (0u16, false),
        (1, true),
        (9, true),
        (11, true),
        (12, false),
        (0x7201, false),
    ] {
        let p = dump_payload(version, StrEnc::Raw, |w| {
            w.key(b"", &Value::String(b("v")), 0, StrEnc::Raw);
        });
        assert_eq!(dump_payload_version(&p), Some(version));
        let r = decode_dump_payload(&p);
        if ok {
            assert!(r.is_ok(), "version {version}: {r:?}");
        } else {
            assert_eq!(r, Err(PayloadError::VersionOrChecksum), "version {version}");
        }
    }
    // Too short to hold a footer.
    for n in 0..10 {
        assert_eq!(
            decode_dump_payload(&good[..n.min(good.len())]),
            Err(PayloadError::VersionOrChecksum)
        );
        assert_eq!(dump_payload_version(&good[..n]), None);
    }
}

#[test]
fn truncation_and_trailing_bytes() {
    for v in &samples() {
        let good = payload(v, 3, StrEnc::Lzf);
        let body = &good[..good.len() - 10];
        // Every shorter body, with a valid footer, is a bad format (the value is cut).
        for n in 0..body.len() {
            let mut p = body[..n].to_vec();
            p.extend_from_slice(&10u16.to_le_bytes());
            p.extend_from_slice(&[0; 8]);
            recrc(&mut p);
            bad_format(&p);
        }
        // Bytes after the value.
        let mut p = body.to_vec();
        p.push(0);
        p.extend_from_slice(&10u16.to_le_bytes());
        p.extend_from_slice(&[0; 8]);
        recrc(&mut p);
        let e = bad_format(&p);
        assert!(e.what.contains("1 more bytes"), "{e}");
    }
}

#[test]
fn refusals_are_bad_formats() {
    let wrap = |body: &[u8]| {
        let mut p = body.to_vec();
        p.extend_from_slice(&10u16.to_le_bytes());
        p.extend_from_slice(&[0; 8]);
        recrc(&mut p);
        p
    };
    // Unknown types, module values (both formats), an empty collection, nothing at all.
    for t in [8u8, 22, 0xf5, 0xff] {
        bad_format(&wrap(&[t, 0]));
    }
    let module = dump_payload(10, StrEnc::Raw, |w| {
        w.module_value(b"", 1 << 10);
    });
    assert!(bad_format(&module).what.contains("module"));
    bad_format(&wrap(&[ty::MODULE_PRE_GA, 1, 0]));
    assert!(bad_format(&wrap(&[ty::LIST, 0])).what.contains("empty"));
    bad_format(&wrap(&[]));
    // Duplicates and NaN, as the importer refuses them.
    bad_format(&wrap(&[ty::SET, 2, 1, b'a', 1, b'a']));
    let mut z = vec![ty::ZSET_2, 1, 1, b'a'];
    z.extend_from_slice(&f64::NAN.to_le_bytes());
    bad_format(&wrap(&z));
    // Hostile sizes fail at the end of the payload.
    let e = bad_format(&wrap(&[ty::STRING, 0x81, 0, 0, 0, 0, 0x7f, 0, 0, 0]));
    assert!(
        e.what.contains("end of file") || e.what.contains("longest"),
        "{e}"
    );
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        (-300i64..300).prop_map(|v| v.to_string().into_bytes()),
        (1usize..4, any::<u8>()).prop_map(|(n, c)| vec![c; 25 * n]),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let score = prop_oneof![
        any::<f64>().prop_filter("NaN", |f| !f.is_nan()),
        (-1000i64..1000).prop_map(|v| v as f64 / 8.0),
        Just(f64::INFINITY),
    ];
    prop_oneof![
        bytes().prop_map(Value::String),
        proptest::collection::vec(bytes(), 1..12).prop_map(Value::List),
        proptest::collection::btree_set(bytes(), 1..12)
            .prop_map(|s| Value::Set(s.into_iter().collect())),
        proptest::collection::btree_set(any::<i64>(), 1..12)
            .prop_map(|s| Value::Set(s.into_iter().map(|v| v.to_string().into_bytes()).collect())),
        proptest::collection::btree_map(bytes(), score, 1..10)
            .prop_map(|m| Value::ZSet(m.into_iter().collect())),
        proptest::collection::btree_map(bytes(), bytes(), 1..10)
            .prop_map(|m| Value::Hash(m.into_iter().collect())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_values_decode_equal(v in value(), enc in 0usize..4, s in 0usize..3, version in 7u16..=11) {
        let s = [StrEnc::Raw, StrEnc::Int, StrEnc::Lzf][s];
        let p = dump_payload(version, s, |w| { w.key(b"", &v, enc, s); });
        let d = decode_dump_payload(&p).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(d.value.canonical(), v.canonical());
    }

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200), fix in any::<bool>()) {
        let mut p = body;
        if fix {
            p.extend_from_slice(&10u16.to_le_bytes());
            p.extend_from_slice(&[0; 8]);
            recrc(&mut p);
        }
        let _ = decode_dump_payload(&p);
    }
}
