//! `Keyspace::scan`: the cursor contract SCAN relies on.

use std::collections::HashSet;
use std::sync::Arc;
use storage::{EvictionConfig, Expiry, Keyspace, ManualClock};

fn keyspace() -> Keyspace {
    Keyspace::new(
        2,
        Arc::new(ManualClock::new(1_700_000_000_000)),
        Arc::new(EvictionConfig::default()),
    )
}

fn set(ks: &Keyspace, db: usize, key: &str) {
    let k = ks.key(key.as_bytes());
    ks.txn1(db, &k).set(&k, b"v", Expiry::Clear);
}

fn del(ks: &Keyspace, db: usize, key: &str) {
    let k = ks.key(key.as_bytes());
    assert!(ks.txn1(db, &k).delete(&k));
}

/// One call: (next cursor, keys visited).
fn scan(ks: &Keyspace, db: usize, cursor: u64, count: usize) -> (u64, Vec<String>) {
    let mut keys = Vec::new();
    let next = ks.scan(db, cursor, count, |e| {
        keys.push(String::from_utf8(e.key().to_vec()).unwrap())
    });
    (next, keys)
}

#[test]
fn empty_and_small_databases_complete_in_one_call() {
    let ks = keyspace();
    assert_eq!(scan(&ks, 0, 0, 10), (0, vec![]));
    assert_eq!(scan(&ks, 0, 0, 1), (0, vec![]));
    for k in ["a", "b", "c", "{x}1", "{x}2"] {
        set(&ks, 0, k);
    }
    let (next, mut keys) = scan(&ks, 0, 0, 10);
    keys.sort();
    assert_eq!(next, 0);
    assert_eq!(keys, ["a", "b", "c", "{x}1", "{x}2"]);
    // Another database's keys are not visited.
    assert_eq!(scan(&ks, 1, 0, 10), (0, vec![]));
}

#[test]
fn count_bounds_a_call_and_a_full_walk_visits_everything() {
    let ks = keyspace();
    for i in 0..10_000 {
        set(&ks, 1, &format!("k{i}"));
    }
    let (mut cursor, mut calls) = (0, 0);
    let mut seen = HashSet::new();
    loop {
        let (next, keys) = scan(&ks, 1, cursor, 25);
        // At least `count` entries unless the walk ended; never wildly more (a slot holds
        // about one key here).
        assert!(keys.len() <= 50, "{} keys in one call", keys.len());
        seen.extend(keys);
        calls += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 10_000);
    assert!(calls >= 10_000 / 50, "{calls} calls");
}

#[test]
fn cursors_past_the_end_finish() {
    let ks = keyspace();
    set(&ks, 0, "k");
    assert_eq!(scan(&ks, 0, u64::MAX, 10), (0, vec![]));
    assert_eq!(scan(&ks, 0, 16384 << 32, 10), (0, vec![]));
}

/// Keys present for the whole walk are visited while others are added (tables grow) and
/// deleted (entries move) between calls, including many keys in one slot.
#[test]
fn stable_keys_survive_growth_and_deletion() {
    let ks = keyspace();
    let stable: Vec<String> = (0..2000usize)
        .map(|i| {
            if i.is_multiple_of(2) {
                format!("s{i}")
            } else {
                format!("{{tag}}s{i}")
            }
        })
        .collect();
    let mut doomed: Vec<String> = (0..2000usize)
        .map(|i| {
            if i.is_multiple_of(2) {
                format!("d{i}")
            } else {
                format!("{{tag}}d{i}")
            }
        })
        .collect();
    for k in stable.iter().chain(&doomed) {
        set(&ks, 0, k);
    }
    let (mut cursor, mut added) = (0u64, 0usize);
    let mut seen = HashSet::new();
    loop {
        let (next, keys) = scan(&ks, 0, cursor, 10);
        seen.extend(keys);
        for _ in 0..30 {
            let k = if added.is_multiple_of(2) {
                format!("n{added}")
            } else {
                format!("{{tag}}n{added}")
            };
            set(&ks, 0, &k);
            added += 1;
        }
        for _ in 0..4 {
            if let Some(k) = doomed.pop() {
                del(&ks, 0, &k);
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert!(added > 2000);
    for k in &stable {
        assert!(seen.contains(k), "missed {k}");
    }
}
