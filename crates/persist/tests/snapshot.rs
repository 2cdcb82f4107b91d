//! The snapshot file, end to end through a real keyspace: `load(save(x)) == x` over random
//! datasets of every type, encoding, TTL and database (compact collections written as their
//! blobs and loaded back compact, or converted when the settings were lowered; large ones
//! element by element); version-1 files (element-by-element records only, the encoder
//! before compact blobs) still load; the point-in-time guarantee (writes made after the
//! instant are not in the file, whichever of client or worker saves the table first); and
//! bad files (truncated at every offset, every byte flipped, compact blobs that are cut
//! short or break their type's rules behind good checksums) refused with an offset, never a
//! panic and never a silent partial result. Function libraries (version 3): saved and read
//! back in order before any key, only where the format allows them, refused when damaged.

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

/// Every live key's OBJECT ENCODING.
fn encodings(ks: &Keyspace) -> BTreeMap<(usize, Vec<u8>), &'static str> {
    let mut out = BTreeMap::new();
    for db in 0..ks.databases() {
        ks.for_each(db, |e| {
            out.insert((db, e.key().to_vec()), storage::types::encoding_name(e));
        });
    }
    out
}

/// Limits under which every collection of the strategies below is large (but a list of one
/// element: `list-max-listpack-size` counts from 1).
fn tiny_limits() -> Limits {
    Limits {
        hash_entries: 0,
        hash_value: 0,
        set_intset_entries: 0,
        set_entries: 0,
        set_value: 0,
        zset_entries: 0,
        zset_value: 0,
        list_size: 1,
        stream_node_bytes: 0,
        stream_node_entries: 1,
    }
}

/// Limits under which every collection of the strategies below would be built compact.
fn roomy_limits() -> Limits {
    Limits {
        hash_entries: 1000,
        hash_value: 1000,
        set_intset_entries: 1000,
        set_entries: 1000,
        set_value: 1000,
        zset_entries: 1000,
        zset_value: 1000,
        list_size: -5,
        stream_node_bytes: 0,
        stream_node_entries: 0,
    }
}

/// A complete file around raw record bytes (one block, checksums right), with the header
/// saying `version`: what the writer would frame, for records written by hand.
fn file_of(version: u16, blocks: &[(Vec<u8>, u32)]) -> Vec<u8> {
    let mut file = format::encode_header(&format::Header {
        version,
        created_ms: NOW,
        databases: 16,
    })
    .to_vec();
    let mut records = 0u64;
    for (raw, n) in blocks {
        format::encode_block(raw, *n, &mut file);
        records += u64::from(*n);
    }
    let crc = format::CRC64.checksum(&file);
    file.extend_from_slice(&format::encode_end(records, blocks.len() as u64, crc));
    file
}

/// One record with the value tag and body given, as `format::encode_entry` lays it out.
fn raw_record(key: &[u8], tag: u8, body: &[u8], out: &mut Vec<u8>) {
    format::put_varint(out, 0);
    out.push(tag);
    out.push(0);
    format::put_varint(out, key.len() as u64);
    out.extend_from_slice(key);
    format::put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
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
        prop_assert_eq!(sum.version, format::VERSION);
        prop_assert_eq!(dump(&a), dump(&b));
        // Under the same settings every key keeps its encoding: compact blobs come back as
        // they were, large collections are rebuilt large.
        prop_assert_eq!(encodings(&a), encodings(&b));
        // Settings lowered since the save: every compact blob is converted at load.
        let c = keyspace();
        snapshot::load(&path, &c, &tiny_limits(), NOW, 2).unwrap();
        prop_assert_eq!(dump(&a), dump(&c));
        let values = dump(&c);
        for (k, enc) in encodings(&c) {
            // A list of one element is within any `list-max-listpack-size`.
            let single = matches!(&values[&k].0, Value::List(l) if l.len() == 1);
            prop_assert!(
                ["raw", "quicklist", "hashtable", "skiplist"].contains(&enc) || single,
                "{:?} loaded as {}", k, enc
            );
        }
        // Settings raised: the data is the same whatever the encodings.
        let d = keyspace();
        snapshot::load(&path, &d, &roomy_limits(), NOW, 1).unwrap();
        prop_assert_eq!(dump(&a), dump(&d));
        // The inspector agrees with what was written.
        let sum = snapshot::inspect(&path, NOW).unwrap();
        let by_type: u64 = sum.per_db.iter().map(|d| d.by_type.iter().sum::<u64>()).sum();
        prop_assert_eq!(by_type, st.keys);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A version-1 file, written as the encoder before compact blobs did (every value
    /// element by element: `format::encode_record`), loads into the same dataset, in the
    /// encodings the settings choose. The writer's element-by-element path still writes
    /// exactly those bytes for large collections.
    #[test]
    fn version_1_files_still_load(records in proptest::collection::vec(record_strategy(), 0..40)) {
        let a = keyspace();
        fill(&a, &records);
        // Records in the keyspace's form (later duplicates of a key replaced earlier ones).
        let mut raw = Vec::new();
        let mut n = 0u32;
        for db in 0..a.databases() {
            a.for_each(db, |e| {
                let r = Record {
                    db: db as u32,
                    key: e.key().to_vec(),
                    value: generic::to_value(e),
                    expire_at_ms: (e.expire_at() != 0).then(|| e.expire_at()),
                    mc: (e.enc() == storage::Enc::Meta).then(|| e.mc_meta()),
                };
                let start = raw.len();
                format::encode_record(&r, &mut raw);
                if e.enc() != storage::Enc::Compact {
                    let mut now = Vec::new();
                    format::encode_entry(db, e, &mut now);
                    assert_eq!(now, raw[start..], "{:?}", r.key);
                }
                n += 1;
            });
        }
        let file = file_of(1, &[(raw, n)]);
        let dir = tmpdir();
        let path = dir.join("dump.rcsnap");
        std::fs::write(&path, &file).unwrap();
        let b = keyspace();
        let sum = snapshot::load(&path, &b, &Limits::default(), NOW, 2).unwrap();
        prop_assert_eq!(sum.version, 1);
        prop_assert_eq!(dump(&a), dump(&b));
        prop_assert_eq!(encodings(&a), encodings(&b));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A compact blob that is cut short, miscounted, or repeats a member or field (for a
    /// list, a repeat is fine) is refused by name behind good checksums, never loaded.
    #[test]
    fn corrupt_compact_blobs_are_refused(
        value in value_strategy(),
        cut in any::<prop::sample::Index>(),
        how in 0u8..4,
    ) {
        let ks = keyspace();
        let e = generic::from_value(b"k", 0, 0, &value, &Limits::default());
        let tag = generic::body_tag(&e, true);
        prop_assume!(tag.is_compact());
        let blob = e.value().to_vec();
        let count = u32::from_le_bytes(blob[..4].try_into().unwrap());
        let mut bad = blob.clone();
        match how {
            0 => bad.truncate(cut.index(blob.len())),
            1 => bad[..4].copy_from_slice(&(count + 1).to_le_bytes()),
            2 => bad[..4].copy_from_slice(&(count - 1).to_le_bytes()),
            _ => {
                // Repeat the first element (a hash's or sorted set's first pair).
                let per = if matches!(tag, storage::dump::Tag::HashCompact
                    | storage::dump::Tag::ZSetCompact) { 2 } else { 1 };
                let elems: Vec<_> = storage::types::compact::iter(&blob).collect();
                bad.extend_from_slice(&blob[elems[0].start..elems[per - 1].end]);
                bad[..4].copy_from_slice(&(count + per as u32).to_le_bytes());
            }
        }
        let mut raw = Vec::new();
        raw_record(b"good", 0, &[2, b'o', b'k'], &mut raw);
        raw_record(b"bad", tag as u8, &bad, &mut raw);
        let file = file_of(format::VERSION, &[(raw, 2)]);
        let r = snapshot::reader::read(&file[..], NOW, |_| {});
        if how == 3 && tag == storage::dump::Tag::ListCompact {
            prop_assert!(r.is_ok(), "a list may repeat an element");
            return Ok(());
        }
        let err = r.expect_err("a corrupt compact blob must be refused");
        prop_assert!(err.expected.contains("well-formed value for key \"bad\""), "{}", err);
        // The loader refuses it too (and says where).
        let dir = tmpdir();
        let path = dir.join("dump.rcsnap");
        std::fs::write(&path, &file).unwrap();
        let err = snapshot::load(&path, &ks, &Limits::default(), NOW, 2).unwrap_err();
        prop_assert_eq!(err.offset, format::HEADER_LEN as u64);
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
    // With function libraries, so every byte of their block is broken too.
    snapshot::save_with(&ks, &path, NOW, 1, &small_libraries()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

fn small_libraries() -> Vec<Vec<u8>> {
    vec![
        b"#!lua name=lib1\nredis.register_function('f1', function() return 1 end)".to_vec(),
        b"#!lua name=lib2\nredis.register_function('f2', function() return 2 end)".to_vec(),
    ]
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

fn library_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-z_][a-z0-9_]{0,8}",
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(name, body)| {
            let mut code = format!("#!lua name={name}\n").into_bytes();
            code.extend_from_slice(&body);
            code
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Function libraries come back as they were written, in order, before any key is
    /// loaded, beside the same dataset.
    #[test]
    fn function_libraries_round_trip(
        records in proptest::collection::vec(record_strategy(), 0..20),
        libraries in proptest::collection::vec(library_strategy(), 0..6),
    ) {
        let a = keyspace();
        fill(&a, &records);
        let dir = tmpdir();
        let path = dir.join("dump.rcsnap");
        snapshot::save_with(&a, &path, NOW, 2, &libraries).unwrap();
        let b = keyspace();
        let mut got = None;
        let sum = snapshot::load_with(&path, &b, &Limits::default(), NOW, 2, |libs| {
            // The libraries arrive before the first key is loaded.
            assert_eq!(dump(&b).len(), 0);
            got = Some(libs.to_vec());
            Ok(())
        })
        .unwrap();
        prop_assert_eq!(got.as_ref(), Some(&libraries));
        prop_assert_eq!(&sum.libraries, &libraries);
        prop_assert_eq!(dump(&a), dump(&b));
        let seen = snapshot::inspect(&path, NOW).unwrap();
        prop_assert_eq!(&seen.libraries, &libraries);
        // A loader that cannot hold libraries refuses a file that has some, and only then.
        let c = keyspace();
        let plain = snapshot::load(&path, &c, &Limits::default(), NOW, 1);
        prop_assert_eq!(plain.is_ok(), libraries.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The functions block codec alone: whatever libraries, encode → decode is the identity.
    #[test]
    fn functions_block_round_trips(libraries in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..200), 0..10)) {
        let mut file = format::encode_header(&format::Header {
            version: format::VERSION,
            created_ms: NOW,
            databases: 16,
        })
        .to_vec();
        format::encode_functions(&libraries, &mut file).unwrap();
        let crc = format::CRC64.checksum(&file);
        file.extend_from_slice(&format::encode_end(0, 0, crc));
        let sum = snapshot::reader::read(&file[..], NOW, |_| {}).unwrap();
        prop_assert_eq!(sum.libraries, libraries);
    }
}

/// A file whose header says `version`, with `functions` (already framed) after it, then
/// records blocks, then more framed bytes, with every checksum right.
fn file_with(version: u16, functions: &[u8], blocks: &[(Vec<u8>, u32)], after: &[u8]) -> Vec<u8> {
    let mut file = format::encode_header(&format::Header {
        version,
        created_ms: NOW,
        databases: 16,
    })
    .to_vec();
    file.extend_from_slice(functions);
    let mut records = 0u64;
    for (raw, n) in blocks {
        format::encode_block(raw, *n, &mut file);
        records += u64::from(*n);
    }
    file.extend_from_slice(after);
    let crc = format::CRC64.checksum(&file);
    file.extend_from_slice(&format::encode_end(records, blocks.len() as u64, crc));
    file
}

#[test]
fn function_blocks_only_where_the_format_allows_them() {
    let mut fb = Vec::new();
    format::encode_functions(&small_libraries(), &mut fb).unwrap();
    let mut raw = Vec::new();
    raw_record(b"k", 0, b"\x01v", &mut raw);
    // Version 3: right after the header.
    let ok = file_with(3, &fb, &[(raw.clone(), 1)], &[]);
    let sum = snapshot::reader::read(&ok[..], NOW, |_| {}).unwrap();
    assert_eq!(sum.libraries, small_libraries());
    assert_eq!(sum.records, 1);
    // Versions 1 and 2 have no functions blocks: refused as an unknown tag.
    for v in [1, 2] {
        let bad = file_with(v, &fb, &[(raw.clone(), 1)], &[]);
        let err = snapshot::reader::read(&bad[..], NOW, |_| {}).unwrap_err();
        assert_eq!(err.offset, format::HEADER_LEN as u64, "{err}");
        assert!(err.expected.contains("found 0x02"), "{err}");
        // Without them, they read as before.
        let plain = file_with(v, &[], &[(raw.clone(), 1)], &[]);
        let sum = snapshot::reader::read(&plain[..], NOW, |_| {}).unwrap();
        assert_eq!((sum.version, sum.records), (v, 1));
        assert!(sum.libraries.is_empty());
    }
    // After a block of records: refused (a loader must have them before the first key).
    let late = file_with(3, &[], &[(raw.clone(), 1)], &fb);
    let err = snapshot::reader::read(&late[..], NOW, |_| {}).unwrap_err();
    assert!(
        err.expected.contains("before the first block of records"),
        "{err}"
    );
    // A count that disagrees with the entries, behind a good checksum.
    let mut miscounted = fb.clone();
    miscounted[1] = 3;
    let bad = file_with(3, &miscounted, &[], &[]);
    let err = snapshot::reader::read(&bad[..], NOW, |_| {}).unwrap_err();
    assert!(err.expected.contains("3 function libraries"), "{err}");
    // A version newer than this reader: refused at the header, naming both.
    let newer = file_with(format::VERSION + 1, &[], &[], &[]);
    let err = snapshot::reader::read(&newer[..], NOW, |_| {}).unwrap_err();
    assert_eq!(err.offset, 0);
    assert!(
        err.expected
            .contains(&format!("found {}", format::VERSION + 1)),
        "{err}"
    );
}

#[test]
fn a_library_that_does_not_load_refuses_the_file_before_any_key() {
    let dir = tmpdir();
    let path = dir.join("dump.rcsnap");
    std::fs::write(&path, small_file()).unwrap();
    let ks = keyspace();
    let err = snapshot::load_with(&path, &ks, &Limits::default(), NOW, 2, |libs| {
        assert_eq!(libs.len(), 2);
        Err("ERR Error compiling function: nope".into())
    })
    .unwrap_err();
    assert_eq!(err.offset, format::HEADER_LEN as u64, "{err}");
    assert!(err.expected.contains("nope"), "{err}");
    assert!(dump(&ks).is_empty(), "no key is loaded after a refusal");
    // `check-snapshot` names them.
    let sum = snapshot::inspect(&path, NOW).unwrap();
    let report = snapshot::reader::report(&path, &sum);
    assert!(
        report.contains("functions: 2 libraries (lib1, lib2)"),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
