//! Property tests of the RDB reader: random datasets (every type, strings raw / integer /
//! LZF, each collection in each of its encodings, TTLs, several databases, skipped items
//! mixed in; streams are in stream_tests.rs) written by the test writer and read back equal; garbage and corrupted files
//! never panic.

use std::collections::BTreeSet;

use proptest::prelude::*;
use storage::dump::Value;

use super::tests::{every_opcode_file, read_all};
use super::writer::{StrEnc, Writer};
use super::{op, ty};

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        (-300i64..300).prop_map(|v| v.to_string().into_bytes()),
        (1usize..4, any::<u8>()).prop_map(|(n, c)| vec![c; 25 * n]),
        (0usize..3).prop_map(|n| b"compress me please ".repeat(n + 2)),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("NaN", |f| !f.is_nan()),
        (-1000i64..1000).prop_map(|v| v as f64),
        (-1000i64..1000).prop_map(|v| v as f64 / 8.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.1),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        bytes().prop_map(Value::String),
        proptest::collection::vec(bytes(), 1..12).prop_map(Value::List),
        proptest::collection::btree_set(bytes(), 1..12)
            .prop_map(|s| Value::Set(s.into_iter().collect())),
        proptest::collection::btree_set(any::<i64>(), 1..12)
            .prop_map(|s| Value::Set(s.into_iter().map(|v| v.to_string().into_bytes()).collect())),
        proptest::collection::btree_map(bytes(), score(), 1..10)
            .prop_map(|m| Value::ZSet(m.into_iter().collect())),
        proptest::collection::btree_map(bytes(), bytes(), 1..10)
            .prop_map(|m| Value::Hash(m.into_iter().collect())),
    ]
}

type Entry = (u32, Vec<u8>, Value, usize, usize, Option<u64>);

fn entry() -> impl Strategy<Value = Entry> {
    (
        0u32..3,
        bytes(),
        value(),
        0usize..4,
        0usize..3,
        proptest::option::of(2_000u64..1 << 45),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_datasets_read_back_equal(
        entries in proptest::collection::vec(entry(), 0..16),
        version in 7u32..=11,
        checksum in any::<bool>(),
        extras in any::<bool>(),
    ) {
        let mut seen = BTreeSet::new();
        let entries: Vec<Entry> = entries.into_iter().filter(|e| seen.insert((e.0, e.1.clone()))).collect();
        let mut w = Writer::new(version);
        w.aux("redis-ver", "7.0.15");
        if extras {
            w.op(op::FUNCTION2).str(b"#!lua name=x\n", StrEnc::Raw);
            w.op(ty::MODULE_2).str(b"a module value", StrEnc::Raw).len(1 << 10).len(0);
        }
        let mut db = None;
        for (d, key, v, enc, s, ttl) in &entries {
            if db != Some(*d) {
                w.select(*d);
                db = Some(*d);
            }
            if let Some(t) = ttl {
                w.expire_ms(*t);
            }
            let s = [StrEnc::Raw, StrEnc::Int, StrEnc::Lzf][*s];
            w.key(key, v, *enc, s);
        }
        let file = w.finish(checksum);
        let (sum, recs) = read_all(&file, 1_000).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(sum.keys as usize, entries.len());
        prop_assert_eq!(sum.skipped.len(), if extras { 1 } else { 0 });
        prop_assert_eq!(sum.functions.len(), if extras { 1 } else { 0 });
        prop_assert_eq!(recs.len(), entries.len());
        for (r, (d, key, v, _, _, ttl)) in recs.iter().zip(&entries) {
            prop_assert_eq!(r.db, *d);
            prop_assert_eq!(&r.key, key);
            prop_assert_eq!(r.expire_at_ms, *ttl);
            prop_assert_eq!(r.value.canonical(), v.canonical());
        }
    }

    #[test]
    fn garbage_after_a_header_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&body);
        let _ = read_all(&f, 0);
    }

    #[test]
    fn random_corruption_of_a_valid_file_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let (mut f, now) = every_opcode_file();
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        let _ = read_all(&f, now);
    }
}
