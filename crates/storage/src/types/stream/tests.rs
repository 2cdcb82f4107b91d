//! The stream against a model (an ordered map of entries), under random appends, deletes
//! and trims with small blocks; and the DUMP body's round trip and refusals.

use super::value::{self, StreamValue};
use super::*;
use crate::dump::Reader;
use proptest::prelude::*;

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;
type Model = BTreeMap<StreamId, Pairs>;

#[derive(Debug, Clone)]
enum Op {
    Add { dms: u64, fields: u8, val: u8 },
    Del(prop::sample::Index),
    MaxLen { n: u64, approx: bool, limit: u64 },
    MinId(prop::sample::Index, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..3, 1u8..4, any::<u8>()).prop_map(|(dms, fields, val)| Op::Add { dms, fields, val }),
        2 => any::<prop::sample::Index>().prop_map(Op::Del),
        1 => (0u64..20, any::<bool>(), 0u64..10).prop_map(|(n, approx, limit)| Op::MaxLen { n, approx, limit }),
        1 => (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(i, a)| Op::MinId(i, a)),
    ]
}

fn pairs_of(fields: u8, val: u8) -> Pairs {
    // Field names repeat (same-fields compression) unless `val` says otherwise.
    (0..fields)
        .map(|i| {
            let f = if val.is_multiple_of(3) {
                format!("g{i}")
            } else {
                format!("f{i}")
            };
            (f.into_bytes(), vec![val; (val % 7) as usize])
        })
        .collect()
}

fn live(s: &StreamObj, rev: bool) -> Vec<(StreamId, Pairs)> {
    let mut v = Vec::new();
    s.range(StreamId::MIN, StreamId::MAX, rev, |e| {
        v.push((e.id, e.to_pairs()));
        true
    });
    v
}

proptest! {
    #[test]
    fn matches_a_model(ops in prop::collection::vec(op(), 1..120), entries in 1usize..6) {
        let lim = NodeLimits { max_bytes: 200, max_entries: entries };
        let mut s = StreamObj::new();
        let mut m: Model = BTreeMap::new();
        let mut ms = 1u64;
        for o in ops {
            match o {
                Op::Add { dms, fields, val } => {
                    ms += dms;
                    let id = s.next_id(ms).unwrap();
                    let p = pairs_of(fields, val);
                    let r: Vec<(&[u8], &[u8])> = p.iter().map(|(a, b)| (a.as_slice(), b.as_slice())).collect();
                    s.append(id, &r, lim);
                    m.insert(id, p);
                }
                Op::Del(i) => {
                    if !m.is_empty() {
                        let id = *m.keys().nth(i.index(m.len())).unwrap();
                        prop_assert!(s.delete(id));
                        prop_assert!(!s.delete(id));
                        m.remove(&id);
                    }
                }
                Op::MaxLen { n, approx, limit } => {
                    let before = m.len() as u64;
                    let removed = s.trim(Trim::MaxLen(n), approx, if approx { limit } else { 0 });
                    if approx {
                        // Whole blocks only: never below the bound, and the oldest go first.
                        prop_assert!(before - removed >= n.min(before));
                        for _ in 0..removed { let k = *m.keys().next().unwrap(); m.remove(&k); }
                    } else {
                        prop_assert_eq!(removed, before.saturating_sub(n));
                        while m.len() as u64 > n { let k = *m.keys().next().unwrap(); m.remove(&k); }
                    }
                }
                Op::MinId(i, approx) => {
                    let min = if m.is_empty() { StreamId::new(ms, 0) } else { *m.keys().nth(i.index(m.len())).unwrap() };
                    let removed = s.trim(Trim::MinId(min), approx, 0);
                    let below = m.range(..min).count() as u64;
                    if approx { prop_assert!(removed <= below); } else { prop_assert_eq!(removed, below); }
                    for _ in 0..removed { let k = *m.keys().next().unwrap(); m.remove(&k); }
                }
            }
            prop_assert_eq!(s.len(), m.len() as u64);
            let want: Vec<_> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
            prop_assert_eq!(&live(&s, false), &want);
            let mut rev = want.clone();
            rev.reverse();
            prop_assert_eq!(&live(&s, true), &rev);
            prop_assert_eq!(s.first_id, m.keys().next().copied().unwrap_or_default());
            prop_assert_eq!(s.edge_id(true), m.keys().next_back().copied());
        }
        // Sub-ranges agree with the model too.
        if let (Some(a), Some(b)) = (m.keys().next().copied(), m.keys().next_back().copied()) {
            let mid = StreamId::new((a.ms + b.ms) / 2, 0);
            let mut got = Vec::new();
            s.range(mid, b, false, |e| { got.push(e.id); true });
            let want: Vec<_> = m.range(mid..=b).map(|(k, _)| *k).collect();
            prop_assert_eq!(got, want);
        }
        // The body round-trips.
        let mut body = Vec::new();
        value::write_body(&s, &mut body);
        let mut r = Reader { b: &body, pos: 0 };
        let v = value::decode(&mut r).unwrap();
        prop_assert_eq!(r.pos, body.len());
        prop_assert_eq!(&v, &StreamValue::of(&s));
        let back = v.to_stream(lim);
        prop_assert_eq!(live(&back, false), live(&s, false));
        prop_assert_eq!(back.last_id, s.last_id);
    }

    #[test]
    fn garbage_bodies_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut r = Reader { b: &b, pos: 0 };
        let _ = value::decode(&mut r);
    }
}

#[test]
fn groups_round_trip_and_pending_owners_are_checked() {
    let mut s = StreamObj::new();
    let lim = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };
    for i in 1..=5 {
        s.append(StreamId::new(i, 0), &[(b"f", b"v")], lim);
    }
    let mut g = Group::new(StreamId::new(3, 0), 3);
    let (alice, _) = g.consumer(b"alice", 10);
    let (bob, _) = g.consumer(b"bob", 11);
    g.deliver(StreamId::new(1, 0), &alice, 100);
    g.deliver(StreamId::new(2, 0), &bob, 101);
    g.deliver(StreamId::new(3, 0), &alice, 102);
    s.groups.insert(Arc::from(&b"g1"[..]), g);
    s.refresh_mem();
    let mut body = Vec::new();
    value::write_body(&s, &mut body);
    let v = value::decode(&mut Reader { b: &body, pos: 0 }).unwrap();
    assert_eq!(
        v.groups[0].pending[1],
        (StreamId::new(2, 0), b"bob".to_vec(), 101, 1)
    );
    let back = v.to_stream(lim);
    let g = &back.groups[&b"g1"[..]];
    assert_eq!(g.consumers[&b"alice"[..]].pel.len(), 2);
    assert_eq!(g.pel[&StreamId::new(2, 0)].consumer.as_ref(), b"bob");
    assert!(back.mem_usage() > 0);
    // A pending entry naming consumer #7 of 2 is refused.
    let mut bad = StreamValue::of(&back);
    bad.groups[0].pending.clear();
    let mut body = Vec::new();
    bad.encode(&mut body);
    let tail = body.len();
    body.truncate(tail - 1); // drop the empty pending count
    body.push(1);
    body.extend_from_slice(&[1, 0, 7, 0, 0]);
    assert!(value::decode(&mut Reader { b: &body, pos: 0 }).is_err());
}

#[test]
fn ids_step_and_format() {
    assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
    assert_eq!(StreamId::MAX.incr(), None);
    assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
    assert_eq!(StreamId::MIN.decr(), None);
    assert_eq!(StreamId::new(5, 7).to_bytes(), b"5-7");
    let mut s = StreamObj::new();
    assert_eq!(s.next_id(100), Some(StreamId::new(100, 0)));
    s.last_id = StreamId::new(200, 4);
    assert_eq!(s.next_id(100), Some(StreamId::new(200, 5)));
    s.last_id = StreamId::MAX;
    assert_eq!(s.next_id(100), None);
}
