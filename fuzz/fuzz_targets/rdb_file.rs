//! Fuzz the Redis RDB reader (`persist::rdb::read_rdb`): arbitrary bytes must never panic
//! or allocate beyond a bounded multiple of their size. Each input is read as given and
//! again behind a valid header (so the fuzzer need not discover "REDIS0011" to reach the
//! opcode loop; checksums are computed but a mismatch only ends the read at the trailer).
//! When a read succeeds, what the sink saw must agree with the summary, and every value
//! must be one the keyspace can hold (no NaN scores, no duplicate members or fields; streams
//! with ascending IDs, unique group and consumer names, every pending entry owned).
//!
//! Corpus note: the reader's streams (types 15, 19, 21) and FUNCTION2 libraries are loaded,
//! not skipped, so seed the corpus with a dump.rdb holding streams with consumer groups
//! (e.g. the one `crates/rcache/tests/rdb_import.rs` makes Redis save) to reach the stream
//! decoder's deeper checks quickly.
//!
//! ```text
//! cargo +stable fuzz run rdb_file -s none
//! ```

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use persist::rdb::read_rdb;
use persist::Record;
use storage::dump::Value;

fn check(r: &Record) {
    let distinct = |names: Vec<&[u8]>| {
        let n = names.len();
        assert_eq!(
            names.into_iter().collect::<HashSet<_>>().len(),
            n,
            "duplicates in {r:?}"
        );
    };
    match &r.value {
        Value::String(_) => {}
        Value::List(items) => assert!(!items.is_empty(), "empty list {r:?}"),
        Value::Set(items) => {
            assert!(!items.is_empty(), "empty set {r:?}");
            distinct(items.iter().map(Vec::as_slice).collect());
        }
        Value::ZSet(items) => {
            assert!(!items.is_empty(), "empty zset {r:?}");
            assert!(items.iter().all(|(_, s)| !s.is_nan()), "NaN score in {r:?}");
            distinct(items.iter().map(|(m, _)| m.as_slice()).collect());
        }
        Value::Hash(items) => {
            assert!(!items.is_empty(), "empty hash {r:?}");
            distinct(items.iter().map(|(f, _)| f.as_slice()).collect());
        }
        // What storage's stream decoding checks, so `to_stream` is safe to call.
        Value::Stream(s) => {
            assert!(
                s.entries.windows(2).all(|w| w[0].0 < w[1].0),
                "IDs out of order {r:?}"
            );
            assert!(
                s.entries.iter().all(|(_, p)| !p.is_empty()),
                "entry without fields {r:?}"
            );
            assert!(
                s.entries.last().is_none_or(|(id, _)| *id <= s.last_id),
                "last ID {r:?}"
            );
            assert!(
                s.entries_added >= s.entries.len() as u64,
                "entries added {r:?}"
            );
            distinct(s.groups.iter().map(|g| g.name.as_slice()).collect());
            for g in &s.groups {
                distinct(g.consumers.iter().map(|(c, _)| c.as_slice()).collect());
                assert!(
                    g.pending.windows(2).all(|w| w[0].0 < w[1].0),
                    "PEL order {r:?}"
                );
                assert!(
                    g.pending
                        .iter()
                        .all(|p| g.consumers.iter().any(|(c, _)| *c == p.1)),
                    "pending entry without its consumer {r:?}"
                );
            }
        }
    }
}

fn read(bytes: &[u8]) {
    let mut keys = 0u64;
    let res = read_rdb(bytes, 0, |r| {
        check(&r);
        keys += 1;
        Ok(())
    });
    if let Ok(sum) = res {
        assert_eq!(sum.keys, keys);
        assert_eq!(sum.dbs.iter().map(|d| d.keys).sum::<u64>(), keys);
    }
}

fuzz_target!(|data: &[u8]| {
    read(data);
    let mut file = b"REDIS0011".to_vec();
    file.extend_from_slice(data);
    read(&file);
});
