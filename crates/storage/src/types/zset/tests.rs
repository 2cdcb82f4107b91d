//! Tests of the sorted-set storage: both encodings against a simple model.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

fn limits(entries: usize, value: usize) -> Limits {
    Limits {
        zset_entries: entries,
        zset_value: value,
        ..Limits::default()
    }
}

fn sorted_model(m: &HashMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

fn contents(e: &Entry) -> Vec<(Vec<u8>, f64)> {
    ZRef::of(e)
        .to_vec()
        .into_iter()
        .map(|(m, s)| (m.to_vec(), s))
        .collect()
}

fn check_entry(e: &Entry) {
    if let Some(Collection::ZSet(z)) = e.collection() {
        z.check();
    }
}

#[test]
fn compact_insert_update_remove() {
    let l = limits(128, 64);
    let mut e = new_entry(b"k", 0, 0);
    assert_eq!(set(&mut e, b"b", 2.0, &l), None);
    assert_eq!(set(&mut e, b"a", 2.0, &l), None);
    assert_eq!(set(&mut e, b"c", f64::NEG_INFINITY, &l), None);
    assert_eq!(set(&mut e, b"d", f64::INFINITY, &l), None);
    let names: Vec<_> = contents(&e).into_iter().map(|p| p.0).collect();
    assert_eq!(
        names,
        vec![b"c".to_vec(), b"a".to_vec(), b"b".to_vec(), b"d".to_vec()]
    );
    assert_eq!(set(&mut e, b"c", 3.0, &l), Some(f64::NEG_INFINITY));
    assert_eq!(ZRef::of(&e).rank(b"c"), Some((2, 3.0)));
    assert_eq!(remove(&mut e, b"a"), Some(2.0));
    assert_eq!(remove(&mut e, b"a"), None);
    assert_eq!(ZRef::of(&e).len(), 3);
    assert_eq!(e.enc(), Enc::Compact);
}

#[test]
fn converts_past_limits() {
    let l = limits(2, 4);
    let mut e = new_entry(b"k", 0, 0);
    set(&mut e, b"a", 1.0, &l);
    set(&mut e, b"b", 2.0, &l);
    assert_eq!(e.enc(), Enc::Compact);
    set(&mut e, b"c", 0.5, &l);
    assert_eq!(e.enc(), Enc::Boxed);
    assert_eq!(crate::types::encoding_name(&e), "skiplist");
    let mut e2 = new_entry(b"k", 0, 0);
    set(&mut e2, b"toolong", 1.0, &l);
    assert_eq!(e2.enc(), Enc::Boxed);
    check_entry(&e);
    assert_eq!(ZRef::of(&e).rank(b"c"), Some((0, 0.5)));
}

#[test]
fn score_and_lex_ranges() {
    for entries in [128, 0] {
        let l = limits(entries, 64);
        let mut e = new_entry(b"k", 0, 0);
        for (m, s) in [
            ("a", 1.0),
            ("b", 2.0),
            ("c", 2.0),
            ("d", 3.0),
            ("e", f64::INFINITY),
        ] {
            set(&mut e, m.as_bytes(), s, &l);
        }
        let z = ZRef::of(&e);
        let r = |min, minex, max, maxex| {
            z.score_range(&ScoreRange {
                min,
                max,
                minex,
                maxex,
            })
        };
        assert_eq!(r(2.0, false, 2.0, false), (1, 3));
        assert_eq!(r(2.0, true, 3.0, false), (3, 4));
        assert_eq!(r(1.0, true, 3.0, true), (1, 3));
        assert_eq!(r(f64::NEG_INFINITY, false, f64::INFINITY, false), (0, 5));
        assert_eq!(r(f64::INFINITY, false, f64::INFINITY, false), (4, 5));
        assert_eq!(r(f64::INFINITY, true, f64::INFINITY, false), (5, 5));
        assert_eq!(r(3.0, false, 1.0, false), (3, 3));
        let lex = |min, max| z.lex_range(&LexRange { min, max });
        use LexBound::*;
        assert_eq!(lex(NegInf, PosInf), (0, 5));
        assert_eq!(lex(Incl(b"b".to_vec()), Excl(b"d".to_vec())), (1, 3));
        assert_eq!(lex(Excl(b"b".to_vec()), Incl(b"d".to_vec())), (2, 4));
        assert_eq!(lex(PosInf, NegInf), (5, 5));
        let mut rev = Vec::new();
        z.for_range(1, 4, true, |m, _| rev.push(m.to_vec()));
        assert_eq!(rev, vec![b"d".to_vec(), b"c".to_vec(), b"b".to_vec()]);
    }
}

#[test]
fn pop_and_remove_range() {
    for entries in [128, 0] {
        let l = limits(entries, 64);
        let mut e = new_entry(b"k", 0, 0);
        for i in 0..10 {
            set(&mut e, format!("m{i}").as_bytes(), i as f64, &l);
        }
        let p = pop(&mut e, 2, true);
        assert_eq!(p, vec![(b"m9".to_vec(), 9.0), (b"m8".to_vec(), 8.0)]);
        let p = pop(&mut e, 1, false);
        assert_eq!(p, vec![(b"m0".to_vec(), 0.0)]);
        assert_eq!(remove_range(&mut e, 1, 3), 2);
        let names: Vec<_> = contents(&e).into_iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            vec![
                b"m1".to_vec(),
                b"m4".to_vec(),
                b"m5".to_vec(),
                b"m6".to_vec(),
                b"m7".to_vec()
            ]
        );
        assert_eq!(pop(&mut e, 100, false).len(), 5);
        assert!(ZRef::of(&e).is_empty());
        check_entry(&e);
    }
}

#[test]
fn big_scan_is_stable() {
    let l = limits(0, 64);
    let mut e = new_entry(b"k", 0, 0);
    for i in 0..100 {
        set(&mut e, format!("m{i}").as_bytes(), i as f64, &l);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    let mut step = 0;
    loop {
        cursor = scan(&e, cursor, 7, |m, _| {
            seen.insert(m.to_vec());
        });
        // Churn between steps: removals and insertions of other members.
        step += 1;
        remove(&mut e, format!("m{}", 99 - step).as_bytes());
        set(&mut e, format!("new{step}").as_bytes(), step as f64, &l);
        if cursor == 0 {
            break;
        }
    }
    for i in 0..(99 - step) {
        assert!(seen.contains(format!("m{i}").as_bytes()), "m{i}");
    }
}

#[test]
fn mem_usage_tracks_growth() {
    let l = limits(0, 64);
    let mut e = new_entry(b"k", 0, 0);
    set(&mut e, b"x", 1.0, &l);
    let small = e.mem_usage();
    for i in 0..1000 {
        set(&mut e, format!("member-{i:04}").as_bytes(), i as f64, &l);
    }
    let big = e.mem_usage();
    // 1000 members of 11 bytes: at least their bytes plus per-node structure.
    assert!(big > small + 1000 * 40, "{small} {big}");
    assert!(big < small + 1000 * 200, "{small} {big}");
    check_entry(&e);
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8),
    Remove(u8),
    RemoveRange(u8, u8),
    Pop(u8, bool),
}

const MEMBERS: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "h", "long1", "long2"];
const SCORES: [f64; 7] = [f64::NEG_INFINITY, -1.5, 0.0, 1.0, 2.0, 2.5, f64::INFINITY];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..10, 0u8..7).prop_map(|(m, s)| Op::Set(m, s)),
        2 => (0u8..10).prop_map(Op::Remove),
        1 => (0u8..6, 0u8..6).prop_map(|(a, b)| Op::RemoveRange(a, b)),
        1 => (0u8..4, any::<bool>()).prop_map(|(n, m)| Op::Pop(n, m)),
    ]
}

proptest! {
    #[test]
    fn matches_model(ops in proptest::collection::vec(op(), 1..80), entries in 0usize..6) {
        let l = limits(entries, 4);
        let mut e = new_entry(b"k", 0, 0);
        let mut model: HashMap<Vec<u8>, f64> = HashMap::new();
        for op in ops {
            match op {
                Op::Set(m, s) => {
                    let (m, s) = (MEMBERS[m as usize].as_bytes(), SCORES[s as usize]);
                    prop_assert_eq!(set(&mut e, m, s, &l), model.insert(m.to_vec(), s));
                }
                Op::Remove(m) => {
                    let m = MEMBERS[m as usize].as_bytes();
                    prop_assert_eq!(remove(&mut e, m), model.remove(m));
                }
                Op::RemoveRange(a, b) => {
                    let sorted = sorted_model(&model);
                    let (a, b) = (a as usize, b as usize);
                    let n = remove_range(&mut e, a, b);
                    let want = b.min(sorted.len()).saturating_sub(a);
                    prop_assert_eq!(n, want);
                    for (m, _) in sorted.iter().skip(a).take(want) {
                        model.remove(m);
                    }
                }
                Op::Pop(n, max) => {
                    let mut sorted = sorted_model(&model);
                    if max {
                        sorted.reverse();
                    }
                    let got = pop(&mut e, n as usize, max);
                    let want: Vec<_> = sorted.into_iter().take(n as usize).collect();
                    for (m, _) in &want {
                        model.remove(m);
                    }
                    prop_assert_eq!(got, want);
                }
            }
            check_entry(&e);
            let sorted = sorted_model(&model);
            prop_assert_eq!(contents(&e), sorted.clone());
            let z = ZRef::of(&e);
            prop_assert_eq!(z.len(), sorted.len());
            if sorted.len() > entries {
                prop_assert_eq!(e.enc(), Enc::Boxed);
            }
            for (i, (m, s)) in sorted.iter().enumerate() {
                prop_assert_eq!(z.rank(m), Some((i, *s)));
                prop_assert_eq!(z.score(m), Some(*s));
                prop_assert_eq!(z.at(i), Some((m.as_slice(), *s)));
            }
            for (si, &lo) in SCORES.iter().enumerate() {
                for &hi in &SCORES[si..] {
                    for (minex, maxex) in [(false, false), (true, false), (false, true), (true, true)] {
                        let r = ScoreRange { min: lo, max: hi, minex, maxex };
                        let want: Vec<_> = sorted.iter().filter(|(_, s)| !r.below(*s) && !r.above(*s)).cloned().collect();
                        let (a, b) = z.score_range(&r);
                        let mut got = Vec::new();
                        z.for_range(a, b, false, |m, s| got.push((m.to_vec(), s)));
                        prop_assert_eq!(got, want);
                    }
                }
            }
            let mut all = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = scan(&e, cursor, 3, |m, s| all.push((m.to_vec(), s)));
                if cursor == 0 { break; }
            }
            all.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
            prop_assert_eq!(all, sorted);
        }
    }
}

// ------------------------------------------------------------------ the skip list alone

/// Member `i`: short (inline in the node) or, for every third, longer than the inline limit.
fn big_member(i: u16) -> Vec<u8> {
    if i.is_multiple_of(3) {
        format!("a-member-too-long-to-be-inline-{i:05}").into_bytes()
    } else {
        format!("m{i}").into_bytes()
    }
}

#[derive(Debug, Clone)]
enum BigOp {
    /// Set member to score (a few scores, so ties are common, or any integer).
    Set(u16, i32),
    Remove(u16),
    /// count_while(score < x), then walk the next `n` ranks (forward or backward).
    Range(i32, u8, bool),
    /// Rank and element-by-rank queries.
    Rank(u16),
    At(u16),
}

fn big_op() -> impl Strategy<Value = BigOp> {
    let score = prop_oneof![3 => -2i32..3, 1 => any::<i32>()];
    prop_oneof![
        8 => (0u16..400, score.clone()).prop_map(|(m, s)| BigOp::Set(m, s)),
        3 => (0u16..400).prop_map(BigOp::Remove),
        2 => (score, any::<u8>(), any::<bool>()).prop_map(|(x, n, r)| BigOp::Range(x, n, r)),
        2 => (0u16..400).prop_map(BigOp::Rank),
        1 => (0u16..400).prop_map(BigOp::At),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random inserts, score changes, removes and rank/range queries on `ZSetObj` against a
    /// sorted model; the structure's invariants (spans on every level, level runs, index)
    /// checked along the way and at the end.
    #[test]
    fn skiplist_matches_model(ops in proptest::collection::vec(big_op(), 1..700)) {
        let mut z = ZSetObj::new();
        let mut model: HashMap<Vec<u8>, f64> = HashMap::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                BigOp::Set(m, s) => {
                    let m = big_member(m);
                    let s = s as f64;
                    if model.contains_key(&m) || step % 2 == 0 {
                        prop_assert_eq!(z.set(&m, s), model.insert(m, s));
                    } else {
                        z.insert(&m, s);
                        model.insert(m, s);
                    }
                }
                BigOp::Remove(m) => {
                    let m = big_member(m);
                    prop_assert_eq!(z.remove(&m), model.remove(&m));
                }
                BigOp::Range(x, n, rev) => {
                    let sorted = sorted_model(&model);
                    let x = x as f64;
                    let start = z.count_while(|_, s| s < x);
                    prop_assert_eq!(start, sorted.iter().take_while(|p| p.1 < x).count());
                    let (a, b) = if rev {
                        (start.saturating_sub(n as usize), start)
                    } else {
                        (start, start + n as usize)
                    };
                    let mut got = Vec::new();
                    z.for_range(a, b, rev, |m, s| got.push((m.to_vec(), s)));
                    let mut want: Vec<_> = sorted.iter().skip(a).take(b - a).cloned().collect();
                    if rev {
                        want.reverse();
                    }
                    prop_assert_eq!(got, want);
                }
                BigOp::Rank(m) => {
                    let m = big_member(m);
                    let sorted = sorted_model(&model);
                    let want = sorted.iter().position(|p| p.0 == m).map(|i| (i, sorted[i].1));
                    prop_assert_eq!(z.rank(&m), want);
                    prop_assert_eq!(z.score(&m), model.get(&m).copied());
                }
                BigOp::At(r) => {
                    let sorted = sorted_model(&model);
                    let want = sorted.get(r as usize).map(|p| (p.0.as_slice(), p.1));
                    prop_assert_eq!(z.at(r as usize), want);
                }
            }
            prop_assert_eq!(z.len(), model.len());
            if step % 50 == 0 {
                z.check();
            }
        }
        z.check();
        let sorted = sorted_model(&model);
        let mut got = Vec::new();
        z.for_range(0, z.len(), false, |m, s| got.push((m.to_vec(), s)));
        prop_assert_eq!(&got, &sorted);
        for (i, (m, s)) in sorted.iter().enumerate() {
            prop_assert_eq!(z.rank(m), Some((i, *s)));
        }
        let c = z.clone();
        c.check();
    }
}

/// Enough members for tall nodes (levels kept outside the node): fill, churn scores,
/// empty half, refill; invariants and memory accounting hold throughout.
#[test]
fn skiplist_tall_nodes_and_reuse() {
    let mut z = ZSetObj::new();
    let n = 20_000u32;
    for i in 0..n {
        let s = (i.wrapping_mul(2_654_435_761) % 1000) as f64;
        assert_eq!(z.set(&big_member(i as u16), s), None);
    }
    z.check();
    for i in (0..n).step_by(3) {
        let m = big_member(i as u16);
        let s = z.score(&m).unwrap();
        assert_eq!(z.set(&m, -s - 1.0), Some(s));
    }
    z.check();
    let before = z.mem_usage();
    for i in (0..n).filter(|i| i % 2 == 0) {
        assert!(z.remove(&big_member(i as u16)).is_some());
    }
    z.check();
    for i in (0..n).filter(|i| i % 2 == 0) {
        z.insert(&big_member(i as u16), i as f64 / 7.0);
    }
    z.check();
    assert_eq!(z.len(), n as usize);
    // Freed slots and level runs were reused: the arena did not grow.
    assert!(
        z.mem_usage() <= before + before / 20,
        "{before} {}",
        z.mem_usage()
    );
}
