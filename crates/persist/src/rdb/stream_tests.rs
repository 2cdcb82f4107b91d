//! Streams through the test writer and back: the sample in each stream type, empty streams,
//! nodes and deltas, every consistency rule broken once (each refusal names the key), hostile
//! sizes, and random streams (entries deleted or not, many nodes, groups, consumers,
//! pending entries) read back equal.

use proptest::prelude::*;
use storage::dump::Value;
use storage::types::stream::value::{Pairs, StreamValue};
use storage::types::stream::StreamId;

use super::tests::{read_all, stream_value};
use super::writer::{GroupSpec, StrEnc, StreamSpec, Writer};
use super::{ty, RdbError};

const TYPES: [u8; 3] = [
    ty::STREAM_LISTPACKS,
    ty::STREAM_LISTPACKS_2,
    ty::STREAM_LISTPACKS_3,
];

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn file(t: u8, spec: &StreamSpec) -> Vec<u8> {
    let mut w = Writer::new(11);
    w.stream(b"s", t, spec);
    w.finish(true)
}

fn read(f: &[u8]) -> Result<StreamValue, RdbError> {
    let (sum, mut recs) = read_all(f, 0)?;
    assert_eq!((sum.keys, recs.len()), (1, 1));
    match recs.pop().map(|r| r.value) {
        Some(Value::Stream(s)) => Ok(*s),
        other => panic!("not a stream: {other:?}"),
    }
}

/// The read fails, naming the key, with a message containing `what`.
#[track_caller]
fn refused(f: &[u8], what: &str) -> RdbError {
    let e = read_all(f, 0).expect_err("a broken stream was accepted");
    assert!(e.what.contains(what), "expected {what:?} in: {e}");
    assert!(e.what.contains("key \"s\""), "the key is not named: {e}");
    e
}

#[test]
fn the_sample_reads_in_every_stream_type() {
    let spec = StreamSpec::sample();
    for t in TYPES {
        let got = read(&file(t, &spec)).unwrap();
        assert_eq!(
            Value::Stream(Box::new(got.clone())),
            stream_value(t),
            "type {t}"
        );
        assert_eq!(got, spec.expected(t), "type {t}: the writer's model");
    }
}

#[test]
fn empty_streams_are_kept_with_their_groups() {
    // XADD then XDEL: no node left, but the last ID, counters and group stay.
    let spec = StreamSpec {
        last_id: id(9, 1),
        max_deleted: id(9, 1),
        entries_added: 4,
        node_entries: 10,
        groups: vec![GroupSpec {
            name: b"g".to_vec(),
            last_id: id(9, 1),
            entries_read: 4,
            ..GroupSpec::default()
        }],
        ..StreamSpec::default()
    };
    for t in TYPES {
        let got = read(&file(t, &spec)).unwrap();
        assert!(got.entries.is_empty());
        assert_eq!(got.last_id, id(9, 1));
        assert_eq!(got, spec.expected(t), "type {t}");
    }
    // Type 15: nothing was ever added as far as the file says, so the counter is 0.
    let got = read(&file(ty::STREAM_LISTPACKS, &spec)).unwrap();
    assert_eq!((got.entries_added, got.groups[0].entries_read), (0, 0));
}

#[test]
fn many_nodes_negative_deltas_and_integer_values() {
    let p = |v: &str| -> Pairs { vec![(b"n".to_vec(), v.as_bytes().to_vec())] };
    let spec = StreamSpec {
        entries: vec![
            (id(5, 3), p("-12"), false),
            // seq below the master's: a negative delta, as Redis writes it.
            (id(6, 0), p("9223372036854775807"), false),
            (id(6, 1), p("x"), true),
            (id(u64::MAX - 1, u64::MAX), p(""), false),
            (id(u64::MAX, 0), vec![(b"1".to_vec(), b"2".to_vec())], false),
        ],
        node_entries: 2,
        last_id: id(u64::MAX, 0),
        entries_added: 5,
        ..StreamSpec::default()
    };
    for t in TYPES {
        let got = read(&file(t, &spec)).unwrap();
        assert_eq!(got.entries.len(), 4);
        assert_eq!(got, spec.expected(t), "type {t}");
    }
}

/// One valid type-15 node (master 5-0, one entry `f`=`v`), for the node-level refusals.
fn node_file(nodes: &[(StreamId, Vec<&str>)], length: u64, last: StreamId) -> Vec<u8> {
    let nodes: Vec<(StreamId, Vec<Vec<u8>>)> = nodes
        .iter()
        .map(|(m, e)| (*m, e.iter().map(|x| x.as_bytes().to_vec()).collect()))
        .collect();
    let mut w = Writer::new(10);
    w.op(ty::STREAM_LISTPACKS)
        .str(b"s", StrEnc::Raw)
        .stream_nodes(&nodes)
        .len(length)
        .id_lens(last)
        .len(0);
    w.finish(true)
}

const GOOD: [&str; 10] = ["1", "0", "1", "f", "0", "2", "0", "0", "v", "4"];

#[test]
fn broken_nodes_are_refused_naming_the_key() {
    let m = id(5, 0);
    assert_eq!(
        read(&node_file(&[(m, GOOD.to_vec())], 1, m))
            .unwrap()
            .entries,
        vec![(m, vec![(b"f".to_vec(), b"v".to_vec())])]
    );
    let with = |k: usize, x: &'static str| {
        let mut e = GOOD.to_vec();
        e[k] = x;
        node_file(&[(m, e)], 1, m)
    };
    refused(&with(0, "2"), "counts to match its entries");
    refused(&with(1, "1"), "counts to match its entries");
    refused(&with(4, "7"), "terminator 0");
    refused(&with(5, "6"), "entry flags");
    refused(&with(5, "x"), "an integer");
    refused(&with(9, "5"), "lp-count 4");
    refused(&with(2, "99"), "field count of at most");
    // A deleted entry flagged but still counted live.
    refused(&with(5, "3"), "counts to match its entries");
    // An entry below its node's master ID (seq delta -1).
    refused(&with(6, "-1"), "not below their node's 5-0");
    // Cut short: the entry's value and lp-count missing.
    refused(
        &node_file(&[(m, GOOD[..8].to_vec())], 1, m),
        "end of the listpack",
    );
    // A live entry without fields.
    refused(
        &node_file(&[(m, vec!["1", "0", "0", "0", "2", "0", "0", "3"])], 1, m),
        "at least one field",
    );
    // An empty listpack.
    refused(&node_file(&[(m, vec![])], 0, m), "empty listpack");
    // Nodes out of order, and entries spanning into the next node's range.
    refused(
        &node_file(
            &[(id(7, 0), GOOD.to_vec()), (m, GOOD.to_vec())],
            2,
            id(7, 0),
        ),
        "ascending ID order",
    );
    let mut two = GOOD.to_vec();
    two[0] = "2";
    two.extend(["2", "5", "0", "w", "4"]); // 10-0, inside the next node's range
    refused(
        &node_file(&[(m, two), (id(8, 0), GOOD.to_vec())], 3, id(8, 0)),
        "ascending ID order",
    );
    // Two entries with the same ID in one node.
    let mut dup = GOOD.to_vec();
    dup[0] = "2";
    dup.extend(["2", "0", "0", "w", "4"]);
    refused(&node_file(&[(m, dup)], 2, m), "ascending order");
    // A master ID of the wrong size is refused before anything else.
    let mut w = Writer::new(10);
    w.op(ty::STREAM_LISTPACKS)
        .str(b"s", StrEnc::Raw)
        .len(1)
        .str(b"short", StrEnc::Raw);
    refused(&w.finish(true), "16-byte stream node ID");
}

#[test]
fn inconsistent_streams_are_refused_naming_the_key() {
    let t = ty::STREAM_LISTPACKS_2;
    let broken = |f: fn(&mut StreamSpec)| {
        let mut s = StreamSpec::sample();
        f(&mut s);
        file(t, &s)
    };
    refused(
        &broken(|s| s.length = Some(3)),
        "length equal to its live entries (2)",
    );
    refused(
        &broken(|s| s.last_id = id(1, 0)),
        "not below its last entry's",
    );
    refused(
        &broken(|s| s.entries_added = 1),
        "entries-added count not below",
    );
    // Pending entries.
    let e = refused(
        &broken(|s| s.groups[0].consumers[1].3.clear()),
        "owned by none",
    );
    assert!(e.what.contains("consumer group \"group\""), "{e}");
    refused(
        &broken(|s| s.groups[0].consumers[1].3 = vec![id(1_700_000_000_000, 0)]),
        "owned by \"alice\" and \"bob\"",
    );
    refused(
        &broken(|s| s.groups[0].consumers[0].3.push(id(1_700_000_000_000, 0))),
        "owned by \"alice\" and \"alice\"",
    );
    refused(
        &broken(|s| s.groups[0].consumers[0].3 = vec![id(1, 1)]),
        "found it missing",
    );
    refused(
        &broken(|s| s.groups[0].pel.reverse()),
        "pending entry IDs in ascending order",
    );
    // Names.
    refused(
        &broken(|s| {
            let g = s.groups[0].clone();
            s.groups.push(g);
        }),
        "distinct consumer group names, found \"group\" twice",
    );
    refused(
        &broken(|s| {
            s.groups[0].consumers[1].0 = b"alice".to_vec();
        }),
        "distinct consumer names",
    );
    // A read counter that is neither -1 nor a non-negative i64.
    refused(&broken(|s| s.groups[0].entries_read = -2), "below 2^63");
    // -1 is Redis's "unknown".
    let mut s = StreamSpec::sample();
    s.groups[0].entries_read = -1;
    assert_eq!(read(&file(t, &s)).unwrap().groups[0].entries_read, -1);
}

#[test]
fn hostile_stream_sizes_fail_at_the_end_of_the_file() {
    let head = |w: &mut Writer| {
        w.op(ty::STREAM_LISTPACKS_2).str(b"s", StrEnc::Raw);
    };
    // 2^62 nodes.
    let mut w = Writer::new(10);
    head(&mut w);
    w.len(1 << 62);
    refused(&w.b, "end of file");
    // 2^62 pending entries, then 2^62 consumers.
    for pel in [true, false] {
        let mut w = Writer::new(10);
        head(&mut w);
        w.len(0).len(0).id_lens(id(0, 0));
        w.id_lens(id(0, 0)).id_lens(id(0, 0)).len(0);
        w.len(1).str(b"g", StrEnc::Raw).id_lens(id(0, 0)).len(0);
        if pel {
            w.len(1 << 62);
        } else {
            w.len(0).len(1 << 62);
        }
        refused(&w.b, "end of file");
    }
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..12),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        (-300i64..300).prop_map(|v| v.to_string().into_bytes()),
        (1usize..3).prop_map(|n| b"repeat repeat ".repeat(n * 8)),
    ]
}

fn pairs() -> impl Strategy<Value = Pairs> {
    prop_oneof![
        // The same fields again and again: SAMEFIELDS entries.
        (bytes(), bytes()).prop_map(|(x, y)| vec![(b"a".to_vec(), x), (b"b".to_vec(), y)]),
        proptest::collection::vec((bytes(), bytes()), 1..4),
    ]
}

fn seq() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..4, 1 => (u64::MAX - 3)..=u64::MAX]
}

/// A group: name, last ID, read counter, consumers (name, seen, active), pending entries
/// (ms, seq, owner index, delivery time, delivery count).
type RawGroup = (
    Vec<u8>,
    (u64, u64),
    i64,
    Vec<(Vec<u8>, u64, u64)>,
    Vec<(u64, u64, usize, u64, u64)>,
);

fn raw_group() -> impl Strategy<Value = RawGroup> {
    (
        bytes(),
        (0u64..50, seq()),
        -1i64..100,
        proptest::collection::vec((bytes(), any::<u64>(), any::<u64>()), 1..4),
        proptest::collection::vec(
            (0u64..50, seq(), any::<usize>(), any::<u64>(), 0u64..9),
            0..6,
        ),
    )
}

fn spec() -> impl Strategy<Value = StreamSpec> {
    (
        prop_oneof![Just(0u64), Just(1_700_000_000_000), Just(u64::MAX - 64)],
        proptest::collection::btree_set((0u64..40, seq()), 0..24),
        proptest::collection::vec((pairs(), proptest::bool::weighted(0.25)), 24),
        1usize..6,
        (0u64..3, 0u64..5),
        proptest::collection::vec(raw_group(), 0..3),
    )
        .prop_map(|(base, ids, data, node_entries, (past, extra), groups)| {
            let entries: Vec<(StreamId, Pairs, bool)> = ids
                .into_iter()
                .zip(data)
                .map(|((ms, seq), (p, del))| (id(base + ms, seq), p, del))
                .collect();
            let last = entries.last().map(|e| e.0).unwrap_or(id(base, 0));
            let last_id = id(last.ms + past.min(u64::MAX - last.ms), last.seq);
            let max_deleted = entries
                .iter()
                .rev()
                .find(|e| e.2)
                .map(|e| e.0)
                .unwrap_or_default();
            let mut seen = std::collections::BTreeSet::new();
            let groups = groups
                .into_iter()
                .filter(|g| seen.insert(g.0.clone()))
                .map(|(name, (ms, sq), entries_read, consumers, pel)| {
                    let mut cs = std::collections::BTreeSet::new();
                    let consumers: Vec<(Vec<u8>, u64, u64)> = consumers
                        .into_iter()
                        .filter(|c| cs.insert(c.0.clone()))
                        .collect();
                    let pel: std::collections::BTreeMap<StreamId, (usize, u64, u64)> = pel
                        .into_iter()
                        .map(|(ms, sq, o, time, n)| {
                            (id(base + ms, sq), (o % consumers.len(), time, n))
                        })
                        .collect();
                    GroupSpec {
                        name,
                        last_id: id(base + ms, sq),
                        entries_read,
                        pel: pel.iter().map(|(i, (_, t, n))| (*i, *t, *n)).collect(),
                        consumers: consumers
                            .iter()
                            .enumerate()
                            .map(|(k, (c, seen, active))| {
                                let mine = pel
                                    .iter()
                                    .filter(|(_, (o, ..))| *o == k)
                                    .map(|(i, _)| *i)
                                    .collect();
                                (c.clone(), *seen, *active, mine)
                            })
                            .collect(),
                    }
                })
                .collect();
            StreamSpec {
                entries_added: entries.len() as u64 + extra,
                entries,
                node_entries,
                last_id,
                max_deleted,
                groups,
                length: None,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_read_back_equal(spec in spec(), t in 0usize..3) {
        let t = TYPES[t];
        let got = read(&file(t, &spec)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got, spec.expected(t));
    }

    #[test]
    fn random_streams_corrupted_never_panic(
        spec in spec(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut f = file(ty::STREAM_LISTPACKS_3, &spec);
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        let _ = read_all(&f, 0);
    }

    #[test]
    fn random_node_elements_never_panic(
        elems in proptest::collection::vec(prop_oneof![
            (-3i64..8).prop_map(|v| v.to_string()),
            Just("f".to_string()),
        ], 0..30),
    ) {
        let f = node_file(&[(id(5, 0), elems.iter().map(String::as_str).collect())], 1, id(9, 0));
        let _ = read_all(&f, 0);
    }
}
