//! Engine tests: expiry (lazy and active) on an injected clock, eviction per policy, memory
//! accounting, slot operations, SCAN's guarantee, and a model-based property test.

use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use storage::{EvictionConfig, Expiry, Keyspace, ManualClock, Policy};

const T0: u64 = 1_700_000_000_000;

fn ks() -> (Keyspace, ManualClock) {
    let clock = ManualClock::new(T0);
    (
        Keyspace::new(
            16,
            Arc::new(clock.clone()),
            Arc::new(EvictionConfig::default()),
        ),
        clock,
    )
}

fn set(ks: &Keyspace, key: &str, val: &[u8], ttl: Expiry) {
    let k = ks.key(key.as_bytes());
    ks.txn1(0, &k).set(&k, val, ttl);
}

fn get(ks: &Keyspace, key: &str) -> Option<Vec<u8>> {
    let k = ks.key(key.as_bytes());
    ks.txn1(0, &k).get(&k).map(|e| e.value().to_vec())
}

fn ensure(ks: &Keyspace) -> bool {
    ks.ensure_memory().is_ok()
}

#[test]
fn accounting_returns_to_zero() {
    let (ks, _) = ks();
    assert_eq!(ks.used_memory(), 0);
    for i in 0..1000 {
        set(&ks, &format!("key:{i}"), &[7u8; 100], Expiry::Clear);
    }
    let st = ks.stats();
    assert_eq!(st.keys, 1000);
    assert_eq!(st.value_bytes, 100_000);
    assert_eq!(
        st.key_bytes,
        (0..1000)
            .map(|i| format!("key:{i}").len() as u64)
            .sum::<u64>()
    );
    // Each entry accounts its allocation plus index overhead: more than its payload, and not
    // wildly more.
    let per_key = ks.used_memory() / 1000;
    assert!((120..=220).contains(&per_key), "per-key {per_key}");
    // TTLs cost their volatile-list entry, and give it back.
    for i in 0..1000 {
        let k = format!("key:{i}");
        let kk = ks.key(k.as_bytes());
        ks.txn1(0, &kk).set_expire(&kk, T0 + 1_000_000);
    }
    assert_eq!(ks.stats().expires, 1000);
    for i in 0..1000 {
        let k = format!("key:{i}");
        let kk = ks.key(k.as_bytes());
        assert!(ks.txn1(0, &kk).delete(&kk));
    }
    let st = ks.stats();
    assert_eq!(
        (st.keys, st.expires, st.value_bytes, st.key_bytes),
        (0, 0, 0, 0)
    );
    assert_eq!(ks.used_memory(), 0);
}

#[test]
fn in_place_changes_are_accounted() {
    let (ks, _) = ks();
    let k = ks.key(b"s");
    ks.txn1(0, &k).set(&k, b"abc", Expiry::Clear);
    let before = ks.used_memory();
    ks.txn1(0, &k)
        .modify(&k, |e| e.append(&[1u8; 10_000]))
        .unwrap();
    assert!(ks.used_memory() >= before + 10_000);
    assert_eq!(ks.stats().value_bytes, 10_003);
    ks.txn1(0, &k).set(&k, b"x", Expiry::Keep);
    assert!(
        ks.used_memory() < before + 64,
        "overwrite with a small value releases memory"
    );
    ks.txn1(0, &k).delete(&k);
    assert_eq!(ks.used_memory(), 0);
}

#[test]
fn lazy_expiry_on_access() {
    let (ks, clock) = ks();
    set(&ks, "a", b"1", Expiry::At(T0 + 100));
    set(&ks, "b", b"2", Expiry::Clear);
    assert_eq!(get(&ks, "a"), Some(b"1".to_vec()));
    clock.advance(99);
    assert!(get(&ks, "a").is_some());
    clock.advance(1);
    assert_eq!(get(&ks, "a"), None);
    let st = ks.stats();
    assert_eq!((st.keys, st.expires, st.expired), (1, 0, 1));
    assert_eq!(get(&ks, "b"), Some(b"2".to_vec()));
}

#[test]
fn keep_and_clear_ttl() {
    let (ks, clock) = ks();
    set(&ks, "a", b"1", Expiry::At(T0 + 100));
    set(&ks, "a", b"2", Expiry::Keep);
    clock.advance(100);
    assert_eq!(get(&ks, "a"), None, "KEEPTTL kept the deadline");
    set(&ks, "b", b"1", Expiry::At(T0 + 200));
    set(&ks, "b", b"2", Expiry::Clear);
    clock.advance(1000);
    assert_eq!(get(&ks, "b"), Some(b"2".to_vec()));
    assert_eq!(ks.stats().expires, 0);
}

#[test]
fn active_expiry_removes_unaccessed_keys() {
    let (ks, clock) = ks();
    for i in 0..5000 {
        set(&ks, &format!("ttl:{i}"), b"v", Expiry::At(T0 + 1000));
        set(&ks, &format!("keep:{i}"), b"v", Expiry::Clear);
    }
    // Not yet due: a cycle samples and removes nothing.
    let st = ks.active_expire_cycle(Duration::from_secs(1));
    assert_eq!(st.expired, 0);
    assert!(!st.timed_out);
    clock.advance(1000);
    // All due: cycles repeat per shard while >25% of the sample expired.
    let mut total = 0;
    for _ in 0..100 {
        total += ks.active_expire_cycle(Duration::from_secs(1)).expired;
        if ks.stats().expires == 0 {
            break;
        }
    }
    assert_eq!(total, 5000);
    let st = ks.stats();
    assert_eq!((st.keys, st.expires, st.expired), (5000, 0, 5000));
}

#[test]
fn active_expiry_respects_its_budget() {
    let (ks, clock) = ks();
    for i in 0..20_000 {
        set(&ks, &format!("ttl:{i}"), b"v", Expiry::At(T0 + 1));
    }
    clock.advance(10);
    let st = ks.active_expire_cycle(Duration::ZERO);
    assert!(st.timed_out);
    assert!(st.shards_visited < 64);
}

fn fill(ks: &Keyspace, prefix: &str, n: usize, size: usize, ttl: Expiry) {
    for i in 0..n {
        let key = format!("{prefix}:{i}");
        let k = ks.key(key.as_bytes());
        if ks.ensure_memory().is_err() {
            return;
        }
        ks.txn1(0, &k).set(&k, &vec![b'x'; size], ttl);
    }
}

fn with_limit(policy: Policy, max: u64) -> (Keyspace, ManualClock) {
    let (ks, clock) = ks();
    ks.evict.set_maxmemory(max);
    ks.evict.set_policy(policy);
    (ks, clock)
}

#[test]
fn noeviction_refuses_and_keeps_data() {
    let (ks, _) = with_limit(Policy::NoEviction, 100_000);
    fill(&ks, "k", 5000, 100, Expiry::Clear);
    assert!(!ensure(&ks));
    let n = ks.stats().keys;
    assert!(n > 100 && n < 5000);
    assert_eq!(ks.stats().evicted, 0);
    assert!(
        ks.used_memory() <= 100_000 + 200,
        "at most one write past the limit"
    );
}

#[test]
fn every_evicting_policy_stays_within_the_limit() {
    for policy in Policy::ALL.into_iter().filter(|p| *p != Policy::NoEviction) {
        let (ks, clock) = with_limit(policy, 200_000);
        let ttl = Expiry::At(T0 + 3_600_000);
        // Twice the limit, in two waves, so time passes between them.
        fill(&ks, "a", 1500, 100, ttl);
        clock.advance(5000);
        fill(&ks, "b", 1500, 100, ttl);
        assert!(ensure(&ks), "{policy:?}");
        let used = ks.used_memory();
        assert!(used <= 200_000, "{policy:?}: used {used}");
        let st = ks.stats();
        assert!(st.evicted > 0, "{policy:?}");
        assert_eq!(st.keys + st.evicted, 3000, "{policy:?}");
    }
}

#[test]
fn volatile_policies_spare_keys_without_ttl() {
    for policy in [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ] {
        let (ks, _) = with_limit(policy, 300_000);
        fill(&ks, "keep", 1000, 100, Expiry::Clear);
        fill(&ks, "ttl", 3000, 100, Expiry::At(T0 + 3_600_000));
        for i in 0..1000 {
            assert!(
                get(&ks, &format!("keep:{i}")).is_some(),
                "{policy:?} evicted a key without TTL"
            );
        }
        // Only non-volatile keys left to grow into: nothing to evict.
        ks.evict.set_maxmemory(ks.used_memory() / 2);
        assert!(!ensure(&ks), "{policy:?}");
    }
}

#[test]
fn lru_keeps_recently_used_keys() {
    let (ks, clock) = with_limit(Policy::AllKeysLru, 400_000);
    fill(&ks, "k", 2000, 100, Expiry::Clear);
    let n0 = ks.stats().keys as usize;
    clock.advance(100_000);
    let hot: Vec<String> = (0..n0).step_by(10).map(|i| format!("k:{i}")).collect();
    for k in &hot {
        let _ = get(&ks, k);
    }
    clock.advance(1000);
    fill(&ks, "new", n0 / 2, 100, Expiry::Clear);
    let alive = hot.iter().filter(|k| get(&ks, k).is_some()).count();
    // Sampled LRU is approximate; hot keys must survive far better than the 50% a random
    // policy would leave.
    assert!(
        alive * 100 / hot.len() >= 80,
        "only {alive}/{} hot keys survived",
        hot.len()
    );
}

#[test]
fn lfu_keeps_frequently_used_keys() {
    let (ks, _) = with_limit(Policy::AllKeysLfu, 400_000);
    fill(&ks, "k", 2000, 100, Expiry::Clear);
    let n0 = ks.stats().keys as usize;
    let hot: Vec<String> = (0..n0).step_by(10).map(|i| format!("k:{i}")).collect();
    for _ in 0..50 {
        for k in &hot {
            let _ = get(&ks, k);
        }
    }
    fill(&ks, "new", n0 / 2, 100, Expiry::Clear);
    let alive = hot.iter().filter(|k| get(&ks, k).is_some()).count();
    assert!(
        alive * 100 / hot.len() >= 80,
        "only {alive}/{} hot keys survived",
        hot.len()
    );
}

#[test]
fn volatile_ttl_evicts_soonest_first() {
    let (ks, _) = with_limit(Policy::VolatileTtl, 300_000);
    fill(&ks, "late", 1000, 100, Expiry::At(T0 + 10_000_000));
    fill(&ks, "soon", 1000, 100, Expiry::At(T0 + 1_000));
    fill(&ks, "late2", 600, 100, Expiry::At(T0 + 10_000_000));
    let soon_left = (0..1000)
        .filter(|i| get(&ks, &format!("soon:{i}")).is_some())
        .count();
    let late_left = (0..1000)
        .filter(|i| get(&ks, &format!("late:{i}")).is_some())
        .count();
    assert!(
        late_left > soon_left * 2,
        "late {late_left} soon {soon_left}"
    );
}

#[test]
fn slots_can_be_visited_and_dropped() {
    let (ks, _) = ks();
    for i in 0..100 {
        set(&ks, &format!("{{user1}}:{i}"), b"v", Expiry::Clear);
        set(&ks, &format!("other:{i}"), b"v", Expiry::Clear);
    }
    let slot = storage::key_slot(b"user1");
    assert_eq!(ks.count_keys_in_slot(0, slot), 100);
    assert_eq!(ks.slot_keys(0, slot, 10).len(), 10);
    assert_eq!(ks.drop_slot(0, slot), 100);
    assert_eq!(ks.count_keys_in_slot(0, slot), 0);
    assert_eq!(ks.dbsize(0), 100);
}

#[test]
fn scan_returns_every_stable_key_while_the_table_grows() {
    let (ks, _) = ks();
    let stable: HashSet<Vec<u8>> = (0..2000)
        .map(|i| format!("stable:{i}").into_bytes())
        .collect();
    for k in &stable {
        let kk = ks.key(k);
        ks.txn1(0, &kk).set(&kk, b"v", Expiry::Clear);
    }
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut round = 0;
    loop {
        cursor = ks.scan(0, cursor, 10, |e| {
            seen.insert(e.key().to_vec());
        });
        // Between calls: grow the table a lot and delete some volatile keys.
        for j in 0..50 {
            let key = format!("grow:{round}:{j}");
            set(&ks, &key, b"v", Expiry::Clear);
        }
        if round % 3 == 0 {
            let dk = format!("grow:{}:0", round / 2);
            let kk = ks.key(dk.as_bytes());
            ks.txn1(0, &kk).delete(&kk);
        }
        round += 1;
        if cursor == 0 {
            break;
        }
    }
    assert!(
        stable.is_subset(&seen),
        "missed {} stable keys",
        stable.difference(&seen).count()
    );
}

#[test]
fn flush_and_swap_databases() {
    let (ks, _) = ks();
    set(&ks, "a", b"1", Expiry::Clear);
    let k = ks.key(b"b");
    ks.txn1(1, &k).set(&k, b"2", Expiry::At(T0 + 10_000));
    ks.swap_db(0, 1);
    assert_eq!(get(&ks, "b"), Some(b"2".to_vec()));
    assert_eq!(get(&ks, "a"), None);
    assert_eq!(ks.dbsize(1), 1);
    ks.flush(Some(0), false);
    assert_eq!(ks.dbsize(0), 0);
    assert_eq!(ks.dbsize(1), 1);
    ks.flush(None, true);
    assert_eq!(ks.dbsize(1), 0);
    assert_eq!(ks.used_memory(), 0);
}

#[test]
fn random_key_finds_keys() {
    let (ks, _) = ks();
    assert_eq!(ks.random_key(0), None);
    for i in 0..50 {
        set(&ks, &format!("k{i}"), b"v", Expiry::Clear);
    }
    let mut seen = HashSet::new();
    for _ in 0..500 {
        seen.insert(ks.random_key(0).unwrap());
    }
    assert!(seen.len() > 40, "random_key is not spread: {}", seen.len());
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8, Option<u16>),
    Del(u8),
    Expire(u8, u16),
    Persist(u8),
    Append(u8, u8),
    Advance(u16),
    Get(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), proptest::option::of(1u16..500)).prop_map(|(k, v, t)| Op::Set(
            k % 32,
            v,
            t
        )),
        any::<u8>().prop_map(|k| Op::Del(k % 32)),
        (any::<u8>(), 1u16..500).prop_map(|(k, t)| Op::Expire(k % 32, t)),
        any::<u8>().prop_map(|k| Op::Persist(k % 32)),
        (any::<u8>(), any::<u8>()).prop_map(|(k, n)| Op::Append(k % 32, n)),
        (0u16..300).prop_map(Op::Advance),
        any::<u8>().prop_map(|k| Op::Get(k % 32)),
    ]
}

proptest! {
    /// The keyspace behaves like a HashMap of (value, deadline) under random operations,
    /// and its accounting returns to zero once every key is gone.
    #[test]
    fn matches_a_model(ops in proptest::collection::vec(op(), 1..200)) {
        let (ks, clock) = ks();
        let mut model: HashMap<Vec<u8>, (Vec<u8>, u64)> = HashMap::new();
        let live = |m: &HashMap<Vec<u8>, (Vec<u8>, u64)>, k: &[u8], now: u64| {
            m.get(k).filter(|(_, at)| *at == 0 || *at > now).map(|(v, _)| v.clone())
        };
        for op in ops {
            let now = clock_now(&clock);
            match op {
                Op::Set(k, v, ttl) => {
                    let key = vec![b'k', k];
                    let val = vec![v; (v % 20) as usize];
                    let kk = ks.key(&key);
                    let at = ttl.map(|t| now + t as u64).unwrap_or(0);
                    ks.txn1(0, &kk).set(&kk, &val, if at == 0 { Expiry::Clear } else { Expiry::At(at) });
                    model.insert(key, (val, at));
                }
                Op::Del(k) => {
                    let key = vec![b'k', k];
                    let kk = ks.key(&key);
                    let had = ks.txn1(0, &kk).delete(&kk);
                    prop_assert_eq!(had, live(&model, &key, now).is_some());
                    model.remove(&key);
                }
                Op::Expire(k, t) => {
                    let key = vec![b'k', k];
                    let kk = ks.key(&key);
                    let ok = ks.txn1(0, &kk).set_expire(&kk, now + t as u64);
                    prop_assert_eq!(ok, live(&model, &key, now).is_some());
                    if ok { model.get_mut(&key).unwrap().1 = now + t as u64; } else { model.remove(&key); }
                }
                Op::Persist(k) => {
                    let key = vec![b'k', k];
                    let kk = ks.key(&key);
                    let ok = ks.txn1(0, &kk).set_expire(&kk, 0);
                    if ok { model.get_mut(&key).unwrap().1 = 0; } else { model.remove(&key); }
                }
                Op::Append(k, n) => {
                    let key = vec![b'k', k];
                    let kk = ks.key(&key);
                    let more = vec![n; (n % 50) as usize];
                    let ok = ks.txn1(0, &kk).modify(&kk, |e| e.append(&more)).is_some();
                    prop_assert_eq!(ok, live(&model, &key, now).is_some());
                    if ok { model.get_mut(&key).unwrap().0.extend_from_slice(&more); } else { model.remove(&key); }
                }
                Op::Advance(ms) => clock.advance(ms as u64),
                Op::Get(k) => {
                    let key = vec![b'k', k];
                    let kk = ks.key(&key);
                    let got = ks.txn1(0, &kk).get(&kk).map(|e| e.value().to_vec());
                    prop_assert_eq!(got, live(&model, &key, now));
                }
            }
        }
        let now = clock_now(&clock);
        let expected = model.keys().filter(|k| live(&model, k, now).is_some()).count();
        let mut found = 0;
        ks.for_each(0, |_| found += 1);
        prop_assert_eq!(found, expected);
        for k in model.keys() {
            let kk = ks.key(k);
            ks.txn1(0, &kk).delete(&kk);
        }
        let st = ks.stats();
        prop_assert_eq!((st.keys, st.expires, st.key_bytes, st.value_bytes), (0, 0, 0, 0));
        prop_assert_eq!(ks.used_memory(), 0);
    }
}

fn clock_now(c: &ManualClock) -> u64 {
    use storage::Clock;
    c.now_ms()
}
