//! Fuzz the Redis RDB reader (`persist::rdb::read_rdb`): arbitrary bytes must never panic
//! or allocate beyond a bounded multiple of their size. Each input is read as given and
//! again behind a valid header (so the fuzzer need not discover "REDIS0011" to reach the
//! opcode loop; checksums are computed but a mismatch only ends the read at the trailer).
//! When a read succeeds, what the sink saw must agree with the summary, and every value
//! must be one the keyspace can hold (no NaN scores, no duplicate members or fields).
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
