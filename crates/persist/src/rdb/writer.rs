//! A small RDB writer for tests: every length form, every string encoding, and each value
//! type in each of its encodings, so the reader can be checked against data whose encoding
//! the test chose (a real Redis picks encodings by size and never writes the old ones).

use storage::dump::Value;
use storage::types::stream::value::{GroupValue, Pairs, StreamValue};
use storage::types::stream::{NodeLimits, StreamId};

use super::input::CRC64 as CRC;
use super::{canonical_int, intset, listpack, lzf, op, ty, ziplist, zipmap};

/// How a string is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrEnc {
    Raw,
    /// INT8/16/32 when the text is a canonical integer in range, else raw.
    Int,
    /// LZF, always (even when it does not shrink).
    Lzf,
}

/// Forced length forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LenForm {
    Minimal,
    Bits32,
    Bits64,
}

pub(super) struct Writer {
    pub b: Vec<u8>,
}

impl Writer {
    pub fn new(version: u32) -> Writer {
        Writer {
            b: format!("REDIS{version:04}").into_bytes(),
        }
    }

    pub fn op(&mut self, o: u8) -> &mut Self {
        self.b.push(o);
        self
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.b.extend_from_slice(bytes);
        self
    }

    pub fn len(&mut self, n: u64) -> &mut Self {
        self.len_as(n, LenForm::Minimal)
    }

    pub fn len_as(&mut self, n: u64, form: LenForm) -> &mut Self {
        match form {
            LenForm::Minimal if n < 1 << 6 => self.b.push(n as u8),
            LenForm::Minimal if n < 1 << 14 => {
                self.b.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8])
            }
            LenForm::Minimal | LenForm::Bits32 if n <= u64::from(u32::MAX) => {
                self.b.push(0x80);
                self.b.extend_from_slice(&(n as u32).to_be_bytes());
            }
            LenForm::Minimal | LenForm::Bits32 | LenForm::Bits64 => {
                self.b.push(0x81);
                self.b.extend_from_slice(&n.to_be_bytes());
            }
        }
        self
    }

    pub fn str(&mut self, s: &[u8], enc: StrEnc) -> &mut Self {
        match (enc, canonical_int(s)) {
            (StrEnc::Int, Some(v)) if i8::try_from(v).is_ok() => {
                self.b.push(0xc0);
                self.b.push(v as u8);
            }
            (StrEnc::Int, Some(v)) if i16::try_from(v).is_ok() => {
                self.b.push(0xc1);
                self.b.extend_from_slice(&(v as i16).to_le_bytes());
            }
            (StrEnc::Int, Some(v)) if i32::try_from(v).is_ok() => {
                self.b.push(0xc2);
                self.b.extend_from_slice(&(v as i32).to_le_bytes());
            }
            (StrEnc::Lzf, _) => {
                let c = lzf::compress(s);
                self.b.push(0xc3);
                self.len(c.len() as u64).len(s.len() as u64);
                self.b.extend_from_slice(&c);
            }
            (StrEnc::Raw | StrEnc::Int, _) => {
                self.len(s.len() as u64);
                self.b.extend_from_slice(s);
            }
        }
        self
    }

    pub fn select(&mut self, db: u32) -> &mut Self {
        self.op(op::SELECTDB).len(u64::from(db))
    }

    pub fn expire_ms(&mut self, ms: u64) -> &mut Self {
        self.op(op::EXPIRETIME_MS).raw(&ms.to_le_bytes())
    }

    pub fn aux(&mut self, k: &str, v: &str) -> &mut Self {
        self.op(op::AUX)
            .str(k.as_bytes(), StrEnc::Raw)
            .str(v.as_bytes(), StrEnc::Int)
    }

    /// A key of `v` written in encoding number `enc` (modulo the type's encodings; see
    /// `encodings`), strings inside written with `s`.
    pub fn key(&mut self, key: &[u8], v: &Value, enc: usize, s: StrEnc) -> &mut Self {
        let blob = |w: &mut Writer, t: u8, b: Vec<u8>| {
            w.op(t)
                .str(key, s)
                .str(&b, if s == StrEnc::Int { StrEnc::Raw } else { s });
        };
        match v {
            Value::Stream(_) => panic!("test writer: streams are written with `stream`"),
            Value::String(x) => {
                self.op(ty::STRING).str(key, s).str(x, s);
            }
            Value::List(items) => match enc % 4 {
                0 => {
                    self.op(ty::LIST).str(key, s).len(items.len() as u64);
                    for i in items {
                        self.str(i, s);
                    }
                }
                1 => blob(self, ty::LIST_ZIPLIST, ziplist::encode(items)),
                2 => {
                    let nodes: Vec<&[Vec<u8>]> = items.chunks(3).collect();
                    self.op(ty::LIST_QUICKLIST)
                        .str(key, s)
                        .len(nodes.len() as u64);
                    for n in nodes {
                        self.str(
                            &ziplist::encode(n),
                            if s == StrEnc::Lzf { s } else { StrEnc::Raw },
                        );
                    }
                }
                _ => {
                    // Long elements get PLAIN nodes, the rest packed three to a listpack.
                    let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
                    let mut pack: Vec<Vec<u8>> = Vec::new();
                    for i in items {
                        if i.len() > 20 {
                            if !pack.is_empty() {
                                nodes.push((2, listpack::encode(&std::mem::take(&mut pack))));
                            }
                            nodes.push((1, i.clone()));
                        } else {
                            pack.push(i.clone());
                            if pack.len() == 3 {
                                nodes.push((2, listpack::encode(&std::mem::take(&mut pack))));
                            }
                        }
                    }
                    if !pack.is_empty() {
                        nodes.push((2, listpack::encode(&pack)));
                    }
                    self.op(ty::LIST_QUICKLIST_2)
                        .str(key, s)
                        .len(nodes.len() as u64);
                    for (container, data) in nodes {
                        self.len(container)
                            .str(&data, if s == StrEnc::Lzf { s } else { StrEnc::Raw });
                    }
                }
            },
            Value::Set(items) => {
                let ints: Option<Vec<i64>> = items.iter().map(|i| canonical_int(i)).collect();
                match (enc % 3, ints) {
                    (1, Some(ints)) => blob(
                        self,
                        ty::SET_INTSET,
                        intset::encode(&ints, intset::width_for(&ints)),
                    ),
                    (2, _) => blob(self, ty::SET_LISTPACK, listpack::encode(items)),
                    _ => {
                        self.op(ty::SET).str(key, s).len(items.len() as u64);
                        for i in items {
                            self.str(i, s);
                        }
                    }
                }
            }
            Value::ZSet(items) => match enc % 4 {
                e @ (0 | 1) => {
                    self.op(if e == 0 { ty::ZSET } else { ty::ZSET_2 })
                        .str(key, s)
                        .len(items.len() as u64);
                    for (m, score) in items {
                        self.str(m, s);
                        if e == 1 {
                            self.raw(&score.to_le_bytes());
                        } else if *score == f64::INFINITY {
                            self.b.push(254);
                        } else if *score == f64::NEG_INFINITY {
                            self.b.push(255);
                        } else {
                            let t = score_text(*score);
                            self.b.push(t.len() as u8);
                            self.raw(t.as_bytes());
                        }
                    }
                }
                e => {
                    let flat: Vec<Vec<u8>> = items
                        .iter()
                        .flat_map(|(m, score)| [m.clone(), score_text(*score).into_bytes()])
                        .collect();
                    if e == 2 {
                        blob(self, ty::ZSET_ZIPLIST, ziplist::encode(&flat));
                    } else {
                        blob(self, ty::ZSET_LISTPACK, listpack::encode(&flat));
                    }
                }
            },
            Value::Hash(items) => match enc % 4 {
                0 => {
                    self.op(ty::HASH).str(key, s).len(items.len() as u64);
                    for (f, v) in items {
                        self.str(f, s).str(v, s);
                    }
                }
                1 => blob(self, ty::HASH_ZIPMAP, zipmap::encode(items)),
                e => {
                    let flat: Vec<Vec<u8>> = items
                        .iter()
                        .flat_map(|(f, v)| [f.clone(), v.clone()])
                        .collect();
                    if e == 2 {
                        blob(self, ty::HASH_ZIPLIST, ziplist::encode(&flat));
                    } else {
                        blob(self, ty::HASH_LISTPACK, listpack::encode(&flat));
                    }
                }
            },
        }
        self
    }

    /// A stream of type `t` (15, 19 or 21) laid out as Redis lays it out (see stream.rs):
    /// `spec.node_entries` entries to a node, the node's first entry's field names as its
    /// master fields, SAMEFIELDS entries where they repeat them, deleted entries flagged in
    /// place, nodes whose entries are all deleted left out (Redis frees them).
    pub fn stream(&mut self, key: &[u8], t: u8, spec: &StreamSpec) -> &mut Self {
        let nodes: Vec<(StreamId, Vec<Vec<u8>>)> = spec
            .entries
            .chunks(spec.node_entries.max(1))
            .filter(|n| n.iter().any(|(_, _, deleted)| !deleted))
            .map(|n| (n[0].0, node_elems(n)))
            .collect();
        self.op(t).str(key, StrEnc::Raw);
        self.stream_nodes(&nodes);
        let live: Vec<StreamId> = spec
            .entries
            .iter()
            .filter(|(_, _, d)| !d)
            .map(|(id, _, _)| *id)
            .collect();
        self.len(spec.length.unwrap_or(live.len() as u64))
            .id_lens(spec.last_id);
        if t >= ty::STREAM_LISTPACKS_2 {
            self.id_lens(live.first().copied().unwrap_or_default())
                .id_lens(spec.max_deleted)
                .len(spec.entries_added);
        }
        self.len(spec.groups.len() as u64);
        for g in &spec.groups {
            self.str(&g.name, StrEnc::Raw).id_lens(g.last_id);
            if t >= ty::STREAM_LISTPACKS_2 {
                // Redis writes its -1 ("unknown") through an unsigned length.
                self.len(g.entries_read as u64);
            }
            self.len(g.pel.len() as u64);
            for (id, time, count) in &g.pel {
                self.raw_id(*id).raw(&time.to_le_bytes()).len(*count);
            }
            self.len(g.consumers.len() as u64);
            for (name, seen, active, pel) in &g.consumers {
                self.str(name, StrEnc::Raw).raw(&seen.to_le_bytes());
                if t >= ty::STREAM_LISTPACKS_3 {
                    self.raw(&active.to_le_bytes());
                }
                self.len(pel.len() as u64);
                for id in pel {
                    self.raw_id(*id);
                }
            }
        }
        self
    }

    /// A stream's nodes: the count, then each master ID and listpack of `elems` (the
    /// listpack's LZF-compressed when that makes it smaller, as Redis does).
    pub fn stream_nodes(&mut self, nodes: &[(StreamId, Vec<Vec<u8>>)]) -> &mut Self {
        self.len(nodes.len() as u64);
        for (master, elems) in nodes {
            let lp = listpack::encode(elems);
            let enc = if lzf::compress(&lp).len() < lp.len() {
                StrEnc::Lzf
            } else {
                StrEnc::Raw
            };
            self.str(&id_bytes(*master), StrEnc::Raw).str(&lp, enc);
        }
        self
    }

    /// An ID as two lengths (ms, seq).
    pub fn id_lens(&mut self, id: StreamId) -> &mut Self {
        self.len(id.ms).len(id.seq)
    }

    /// An ID as 16 raw bytes (ms, seq big-endian).
    pub fn raw_id(&mut self, id: StreamId) -> &mut Self {
        self.raw(&id_bytes(id))
    }

    /// A `MODULE_2` value with one item of every tag.
    pub fn module_value(&mut self, key: &[u8], id: u64) -> &mut Self {
        self.op(ty::MODULE_2).str(key, StrEnc::Raw).len(id);
        self.module_items()
    }

    pub fn module_aux(&mut self, id: u64) -> &mut Self {
        self.op(op::MODULE_AUX).len(id).len(2).len(1);
        self.module_items()
    }

    fn module_items(&mut self) -> &mut Self {
        self.len(1).len(5); // SINT
        self.len(2).len(1 << 40); // UINT
        self.len(3).raw(&1.5f32.to_le_bytes()); // FLOAT
        self.len(4).raw(&2.5f64.to_le_bytes()); // DOUBLE
        self.len(5).str(b"module bytes", StrEnc::Lzf); // STRING
        self.len(0) // EOF
    }

    /// EOF and the checksum (real, or zero for "disabled"; none before version 5).
    pub fn finish(&mut self, checksum: bool) -> Vec<u8> {
        self.b.push(op::EOF);
        let version: u32 = std::str::from_utf8(&self.b[5..9]).unwrap().parse().unwrap();
        if version >= 5 {
            let crc = if checksum { CRC.checksum(&self.b) } else { 0 };
            self.b.extend_from_slice(&crc.to_le_bytes());
        }
        std::mem::take(&mut self.b)
    }
}

/// A Redis DUMP payload of the one key `write` writes, named "" and with its strings in
/// `s` (the key is taken out: a payload has none), then `version` and the CRC-64.
pub(super) fn dump_payload(version: u16, s: StrEnc, write: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let key_len = Writer { b: Vec::new() }.str(b"", s).b.len();
    let mut w = Writer { b: Vec::new() };
    write(&mut w);
    w.b.drain(1..1 + key_len);
    w.b.extend_from_slice(&version.to_le_bytes());
    let crc = CRC.checksum(&w.b);
    w.b.extend_from_slice(&crc.to_le_bytes());
    w.b
}

/// A score as text that parses back to the same f64: integers as integers (so listpacks
/// store them as ints, as Redis does), others in the shortest round-trip form.
pub(super) fn score_text(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    format!("{f:e}")
}

/// A stream for the writer: what Redis's file holds, deleted entries included.
#[derive(Debug, Clone, Default)]
pub(super) struct StreamSpec {
    /// Every entry the nodes hold, in ID order; `true` marks a deleted one.
    pub entries: Vec<(StreamId, Pairs, bool)>,
    /// Entries to a node (Redis's `stream-node-max-entries`).
    pub node_entries: usize,
    pub last_id: StreamId,
    /// Written by types 19 and 21 only.
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: Vec<GroupSpec>,
    /// A length to write instead of the live entries' count (for hostile files).
    pub length: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct GroupSpec {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    /// Written by types 19 and 21 only.
    pub entries_read: i64,
    /// (ID, delivery time, delivery count), in ID order.
    pub pel: Vec<(StreamId, u64, u64)>,
    /// (name, seen time, active time (type 21), the IDs of its pending entries).
    pub consumers: Vec<(Vec<u8>, u64, u64, Vec<StreamId>)>,
}

impl StreamSpec {
    /// One node of three entries (the middle one deleted, the last with fields of its own),
    /// one group with two consumers and two pending entries: every part of the format.
    pub fn sample() -> StreamSpec {
        let id = |ms, seq| StreamId::new(ms, seq);
        let pairs = |kv: &[(&str, &str)]| -> Pairs {
            kv.iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect()
        };
        StreamSpec {
            entries: vec![
                (
                    id(1_700_000_000_000, 0),
                    pairs(&[("f", "1"), ("g", "x")]),
                    false,
                ),
                (
                    id(1_700_000_000_000, 1),
                    pairs(&[("f", "2"), ("g", "y")]),
                    true,
                ),
                (id(1_700_000_000_005, 0), pairs(&[("other", "-7")]), false),
            ],
            node_entries: 100,
            last_id: id(1_700_000_000_005, 0),
            max_deleted: id(1_700_000_000_000, 1),
            entries_added: 3,
            groups: vec![GroupSpec {
                name: b"group".to_vec(),
                last_id: id(1_700_000_000_005, 0),
                entries_read: 3,
                pel: vec![
                    (id(1_700_000_000_000, 0), 1_700_000_000_001, 2),
                    (id(1_700_000_000_000, 1), 1_700_000_000_002, 1),
                ],
                consumers: vec![
                    (
                        b"alice".to_vec(),
                        1_700_000_000_003,
                        1_700_000_000_004,
                        vec![id(1_700_000_000_000, 0)],
                    ),
                    (
                        b"bob".to_vec(),
                        1_700_000_000_006,
                        1_700_000_000_007,
                        vec![id(1_700_000_000_000, 1)],
                    ),
                ],
            }],
            length: None,
        }
    }

    /// What the reader should make of this stream written as type `t`.
    pub fn expected(&self, t: u8) -> StreamValue {
        let entries: Vec<(StreamId, Pairs)> = self
            .entries
            .iter()
            .filter(|(_, _, d)| !d)
            .map(|(id, p, _)| (*id, p.clone()))
            .collect();
        let v2 = t >= ty::STREAM_LISTPACKS_2;
        let mut sv = StreamValue {
            last_id: self.last_id,
            max_deleted: if v2 { self.max_deleted } else { StreamId::MIN },
            entries_added: if v2 {
                self.entries_added
            } else {
                entries.len() as u64
            },
            entries,
            groups: Vec::new(),
        };
        // Type 15 has no read counters: Redis estimates them, as storage's streams do.
        let built = sv.to_stream(NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        });
        let mut groups: Vec<GroupValue> = self
            .groups
            .iter()
            .map(|g| {
                let owner = |id: &StreamId| {
                    g.consumers
                        .iter()
                        .find(|c| c.3.contains(id))
                        .map(|c| c.0.clone())
                        .unwrap_or_default()
                };
                let mut consumers: Vec<(Vec<u8>, u64)> =
                    g.consumers.iter().map(|c| (c.0.clone(), c.1)).collect();
                consumers.sort();
                GroupValue {
                    name: g.name.clone(),
                    last_id: g.last_id,
                    entries_read: if v2 {
                        g.entries_read
                    } else {
                        built.estimate_distance(g.last_id)
                    },
                    consumers,
                    pending: g
                        .pel
                        .iter()
                        .map(|(id, time, count)| (*id, owner(id), *time, *count))
                        .collect(),
                }
            })
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        sv.groups = groups;
        sv
    }
}

fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// The listpack elements of one node, as Redis's `streamAppendItem` and XDEL leave them.
fn node_elems(node: &[(StreamId, Pairs, bool)]) -> Vec<Vec<u8>> {
    let num = |n: i64| n.to_string().into_bytes();
    let master = node[0].0;
    let master_fields: Vec<&[u8]> = node[0].1.iter().map(|(f, _)| f.as_slice()).collect();
    let deleted = node.iter().filter(|(_, _, d)| *d).count() as i64;
    let mut e = vec![
        num(node.len() as i64 - deleted),
        num(deleted),
        num(master_fields.len() as i64),
    ];
    e.extend(master_fields.iter().map(|f| f.to_vec()));
    e.push(num(0));
    for (id, pairs, del) in node {
        let same = pairs.len() == master_fields.len()
            && pairs.iter().zip(&master_fields).all(|((f, _), m)| f == m);
        e.push(num(i64::from(*del) | if same { 2 } else { 0 }));
        e.push(num(id.ms.wrapping_sub(master.ms) as i64));
        e.push(num(id.seq.wrapping_sub(master.seq) as i64));
        let n = pairs.len() as i64;
        if same {
            e.extend(pairs.iter().map(|(_, v)| v.clone()));
            e.push(num(n + 3));
        } else {
            e.push(num(n));
            for (f, v) in pairs {
                e.push(f.clone());
                e.push(v.clone());
            }
            e.push(num(2 * n + 4));
        }
    }
    e
}
