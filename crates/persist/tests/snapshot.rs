//! The snapshot file, end to end through a real keyspace: `load(save(x)) == x` over random
//! datasets of every type, encoding, TTL and database; the point-in-time guarantee (writes
//! made after the instant are not in the file, whichever of client or worker saves the
//! table first); and bad files (truncated at every offset, every byte flipped) refused with
//! an offset, never a panic and never a silent partial result.

use persist::snapshot::{self, format};
use persist::Record;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use storage::dump::Value;
use storage::types::generic;
use storage::{EvictionConfig, Expiry, Keyspace, Limits, ManualClock, McMeta};

const NOW: u64 = 1_700_000_000_000;

fn keyspace() -> Keyspace {
    Keyspace::new(
        16,
        Arc::new(ManualClock::new(NOW)),
        Arc::new(EvictionConfig::default()),
    )
}

/// Every live key of `ks`: (db, key) → (value, expiry, memcached meta).
type Dump = BTreeMap<(usize, Vec<u8>), (Value, u64, Option<McMeta>)>;

fn dump(ks: &Keyspace) -> Dump {
    let mut out = BTreeMap::new();
    for db in 0..ks.databases() {
        ks.for_each(db, |e| {
            let mc = (e.enc() == storage::Enc::Meta).then(|| e.mc_meta());
            let v = generic::to_value(e).canonical();
            out.insert((db, e.key().to_vec()), (v, e.expire_at(), mc));
        });
    }
    out
}

fn tmpdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "rcache-persist-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn value_strategy() -> impl Strategy<Value = Value> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
    // Sizes on both sides of the compact-encoding thresholds (128 for sets/zsets).
    let n = || 1usize..200;
    prop_oneof![
        bytes().prop_map(Value::String),
        (1000u64..100_000).prop_map(|i| Value::String(i.to_string().into_bytes())),
        proptest::collection::vec(bytes(), n()).prop_map(Value::List),
        proptest::collection::btree_set(bytes(), n())
            .prop_map(|s| Value::Set(s.into_iter().collect())),
        proptest::collection::btree_set(0i64..1_000_000, n())
            .prop_map(|s| Value::Set(s.into_iter().map(|i| i.to_string().into_bytes()).collect())),
        proptest::collection::btree_map(bytes(), -1e9f64..1e9, n())
            .prop_map(|m| Value::ZSet(m.into_iter().collect())),
        proptest::collection::btree_map(bytes(), bytes(), n())
            .prop_map(|m| Value::Hash(m.into_iter().collect())),
    ]
}

fn record_strategy() -> impl Strategy<Value = Record> {
    (
        0u32..16,
        proptest::collection::vec(any::<u8>(), 1..20),
        value_strategy(),
        prop_oneof![Just(None), (NOW + 1..NOW + 1_000_000).prop_map(Some)],
        any::<bool>(),
        any::<u32>(),
    )
        .prop_map(|(db, key, value, ttl, mc, flags)| {
            let mc = (mc && matches!(value, Value::String(_))).then_some(McMeta {
                flags,
                cas: 7,
                bits: 0,
            });
            Record {
                db,
                key,
                value,
                expire_at_ms: ttl,
                mc,
            }
        })
}

fn fill(ks: &Keyspace, records: &[Record]) {
    let lim = Limits::default();
    for r in records {
        persist::record::insert(ks, &lim, r).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn load_of_save_is_the_dataset(records in proptest::collection::vec(record_strategy(), 0..60)) {
        let a = keyspace();
        fill(&a, &records);
        let dir = tmpdir();
        let path = dir.join("dump.rcsnap");
        let st = snapshot::save(&a, &path, NOW, 2).unwrap();
        prop_assert_eq!(st.keys as usize, dump(&a).len());
        let b = keyspace();
        let sum = snapshot::load(&path, &b, &Limits::default(), NOW, 2).unwrap();
        prop_assert_eq!(sum.records, st.keys);
        prop_assert_eq!(dump(&a), dump(&b));
        // The inspector agrees with what was written.
        let sum = snapshot::inspect(&path, NOW).unwrap();
        let by_type: u64 = sum.per_db.iter().map(|d| d.by_type.iter().sum::<u64>()).sum();
        prop_assert_eq!(by_type, st.keys);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every record the codec writes reads back equal, and a buffer of records read in any
    /// split of blocks reads the same (the record codec is self-delimiting).
    #[test]
    fn record_codec_round_trips(records in proptest::collection::vec(record_strategy(), 1..20)) {
        let mut buf = Vec::new();
        for r in &records {
            format::encode_record(r, &mut buf);
        }
        let mut rr = format::RecordReader::new(&buf);
        for r in &records {
            let got = rr.next_record().unwrap();
            prop_assert_eq!(&got, r);
        }
        prop_assert!(rr.at_end());
    }
}

#[test]
fn keys_expired_at_load_are_not_loaded() {
    let a = keyspace();
    let lim = Limits::default();
    for (k, at) in [(b"soon".as_ref(), NOW + 10), (b"later", NOW + 100_000)] {
        persist::record::insert(
            &a,
            &lim,
            &Record {
                db: 0,
                key: k.to_vec(),
                value: Value::String(b"v".to_vec()),
                expire_at_ms: Some(at),
                mc: None,
            },
        )
        .unwrap();
    }
    let dir = tmpdir();
    let path = dir.join("dump.rcsnap");
    snapshot::save(&a, &path, NOW, 1).unwrap();
    let b = keyspace();
    let sum = snapshot::load(&path, &b, &lim, NOW + 50, 1).unwrap();
    assert_eq!((sum.records, sum.expired), (2, 1));
    let keys: Vec<_> = dump(&b).into_keys().map(|(_, k)| k).collect();
    assert_eq!(keys, vec![b"later".to_vec()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writes_after_the_instant_are_not_in_the_snapshot() {
    let ks = keyspace();
    // Enough keys that most slot tables are saved by the worker, not the writes.
    for i in 0..20_000u32 {
        let key = format!("k{i}");
        let k = ks.key(key.as_bytes());
        ks.txn1(0, &k).set(&k, b"before", Expiry::Clear);
    }
    let before = dump(&ks);
    let dir = tmpdir();
    let path = dir.join("dump.rcsnap");
    let running = snapshot::start(&ks, &path, NOW, snapshot::Pace::Background).unwrap();
    // After the instant: overwrite some, delete some, add some, flush a whole database.
    for i in (0..20_000u32).step_by(7) {
        let key = format!("k{i}");
        let k = ks.key(key.as_bytes());
        let mut t = ks.txn1(0, &k);
        if i % 2 == 0 {
            t.set(&k, b"after", Expiry::Clear);
        } else {
            t.delete(&k);
        }
    }
    for i in 0..500u32 {
        let key = format!("new{i}");
        let k = ks.key(key.as_bytes());
        ks.txn1(0, &k).set(&k, b"after", Expiry::Clear);
    }
    let k = ks.key(b"k1");
    ks.txn1(0, &k).set_expire(&k, NOW + 5);
    ks.swap_db(0, 3);
    ks.flush(Some(3), false);
    let st = running.finish(&ks, 2).unwrap();
    assert_eq!(st.keys, 20_000);
    let loaded = keyspace();
    snapshot::load(&path, &loaded, &Limits::default(), NOW, 2).unwrap();
    assert_eq!(
        dump(&loaded),
        before,
        "the file is the dataset at the instant"
    );
    // And writes go on being saved only while a snapshot runs.
    assert!(!ks.snapshot_running());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small valid file to break.
fn small_file() -> Vec<u8> {
    let ks = keyspace();
    fill(
        &ks,
        &[
            Record {
                db: 0,
                key: b"s".to_vec(),
                value: Value::String(b"hello".to_vec()),
                expire_at_ms: Some(NOW + 9_999_999),
                mc: None,
            },
            Record {
                db: 2,
                key: b"h".to_vec(),
                value: Value::Hash(vec![(b"f".to_vec(), b"v".to_vec())]),
                expire_at_ms: None,
                mc: None,
            },
        ],
    );
    let dir = tmpdir();
    let path = dir.join("dump.rcsnap");
    snapshot::save(&ks, &path, NOW, 1).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

#[test]
fn a_truncated_file_is_refused_at_every_length() {
    let good = small_file();
    assert!(snapshot::reader::read(&good[..], NOW, |_| {}).is_ok());
    for len in 0..good.len() {
        let err = snapshot::reader::read(&good[..len], NOW, |_| {})
            .expect_err("a truncated file must be refused");
        assert!(err.offset <= len as u64, "{len}: {err}");
        assert!(!err.expected.is_empty());
    }
    let mut longer = good.clone();
    longer.push(0);
    let err = snapshot::reader::read(&longer[..], NOW, |_| {}).unwrap_err();
    assert_eq!(err.offset, good.len() as u64, "{err}");
}

#[test]
fn every_flipped_byte_is_refused() {
    let good = small_file();
    for i in 0..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= bit;
            let mut seen = 0;
            let r = snapshot::reader::read(&bad[..], NOW, |_| seen += 1);
            assert!(r.is_err(), "byte {i} ^ {bit:#x} was accepted");
        }
    }
}

#[test]
fn a_file_that_is_not_a_snapshot_says_so() {
    let err = snapshot::reader::read(&b"REDIS0010\xfa\x09redis-ver"[..], NOW, |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("truncated") || err.expected.contains("magic"),
        "{err}"
    );
    let mut junk = [0u8; 64];
    junk[..5].copy_from_slice(b"REDIS");
    let err = snapshot::reader::read(&junk[..], NOW, |_| {}).unwrap_err();
    assert!(err.expected.contains("not an rcache snapshot"), "{err}");
}
