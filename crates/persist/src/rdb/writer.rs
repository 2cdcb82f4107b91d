//! A small RDB writer for tests: every length form, every string encoding, and each value
//! type in each of its encodings, so the reader can be checked against data whose encoding
//! the test chose (a real Redis picks encodings by size and never writes the old ones).

use storage::dump::Value;

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

    /// A stream of type `t` (15, 19 or 21) with one node, one group, one consumer, one
    /// pending entry: every part of the format once.
    pub fn stream(&mut self, key: &[u8], t: u8) -> &mut Self {
        self.op(t).str(key, StrEnc::Raw);
        self.len(1).str(&[0u8; 16], StrEnc::Raw).str(
            &listpack::encode(&[b"1".to_vec(), b"f".to_vec()]),
            StrEnc::Lzf,
        );
        self.len(1).len(1700000000000).len(0);
        if t >= ty::STREAM_LISTPACKS_2 {
            self.len(1700000000000).len(0).len(0).len(0).len(1);
        }
        self.len(1)
            .str(b"group", StrEnc::Raw)
            .len(1700000000000)
            .len(0);
        if t >= ty::STREAM_LISTPACKS_2 {
            self.len(1);
        }
        self.len(1)
            .raw(&[7u8; 16])
            .raw(&1700000000001u64.to_le_bytes())
            .len(1);
        self.len(1)
            .str(b"alice", StrEnc::Raw)
            .raw(&1700000000002u64.to_le_bytes());
        if t >= ty::STREAM_LISTPACKS_3 {
            self.raw(&1700000000003u64.to_le_bytes());
        }
        self.len(1).raw(&[7u8; 16])
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
