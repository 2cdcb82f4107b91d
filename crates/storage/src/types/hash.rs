//! Hash values: the compact encoding (inline blob of field, value, field, value…; Redis's
//! listpack) and the large one (`HashObj`, a `Dense` table), the conversion between them, and
//! the writes commands make.
//!
//! Conversion follows Redis 7.2 (`hashTypeTryConversion`, `hashTypeSet`): a compact hash
//! becomes a table when a write would give it more than `hash-max-listpack-entries` fields,
//! or a field or value longer than `hash-max-listpack-value` bytes; never back.

use super::compact::{self, Elem};
use super::dense::{Dense, KeyOf};
use super::{Collection, Limits};
use crate::entry::{Enc, Entry, ObjType};

/// A table item: `varint(field len) | field | value`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FieldKey;

impl KeyOf for FieldKey {
    #[inline]
    fn key(item: &[u8]) -> &[u8] {
        split_item(item).0
    }
}

/// The field and value of a table item.
#[inline]
pub fn split_item(item: &[u8]) -> (&[u8], &[u8]) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut p = 0;
    loop {
        let b = item[p];
        p += 1;
        len |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&item[p..p + len], &item[p + len..])
}

fn make_item(field: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut v = Vec::with_capacity(compact::encoded_len(field.len()) + value.len());
    compact::put(&mut v, field);
    v.extend_from_slice(value);
    v.into_boxed_slice()
}

/// The large encoding of a hash.
#[derive(Clone, Debug, Default)]
pub struct HashObj {
    t: Dense<FieldKey>,
}

impl HashObj {
    pub fn with_capacity(n: usize) -> HashObj {
        HashObj {
            t: Dense::with_capacity(n),
        }
    }

    /// Heap bytes held, maintained incrementally.
    pub fn mem_usage(&self) -> usize {
        self.t.mem_usage()
    }
    pub fn len(&self) -> usize {
        self.t.len()
    }
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.t.find(field).map(|i| split_item(self.t.get(i)).1)
    }

    /// Set a field; true when it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let item = make_item(field, value);
        match self.t.find(field) {
            Some(i) => {
                self.t.replace(i, item);
                false
            }
            None => {
                self.t.insert_new(item);
                true
            }
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.t.remove(field).is_some()
    }

    /// The field and value at position `i` (random picks).
    #[inline]
    pub fn pair_at(&self, i: usize) -> (&[u8], &[u8]) {
        split_item(self.t.get(i))
    }

    pub fn table(&self) -> &Dense<FieldKey> {
        &self.t
    }
}

/// Read access to a hash entry, whatever its encoding.
#[derive(Clone, Copy)]
pub enum HashRef<'a> {
    Compact(&'a [u8]),
    Boxed(&'a HashObj),
}

impl<'a> HashRef<'a> {
    /// The hash an entry holds (the caller checked its type).
    pub fn of(e: &'a Entry) -> HashRef<'a> {
        match e.collection() {
            Some(Collection::Hash(h)) => HashRef::Boxed(h),
            _ => HashRef::Compact(e.value()),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashRef::Compact(b) => compact::count(b) / 2,
            HashRef::Boxed(h) => h.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&'a [u8]> {
        match self {
            HashRef::Compact(b) => compact_find(b, field).map(|(_, v)| v.bytes),
            HashRef::Boxed(h) => h.get(field),
        }
    }

    /// Every (field, value), in storage order.
    pub fn iter(&self) -> Pairs<'a> {
        match self {
            HashRef::Compact(b) => Pairs::Compact(compact::iter(b)),
            HashRef::Boxed(h) => Pairs::Boxed(h.t.items().iter()),
        }
    }
}

/// Iterator over a hash's (field, value) pairs.
pub enum Pairs<'a> {
    Compact(compact::Iter<'a>),
    Boxed(std::slice::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Pairs::Compact(it) => {
                let f = it.next()?;
                let v = it.next()?;
                Some((f.bytes, v.bytes))
            }
            Pairs::Boxed(it) => it.next().map(|b| split_item(b)),
        }
    }
}

/// The field and value elements of `field` in a compact blob.
fn compact_find<'a>(blob: &'a [u8], field: &[u8]) -> Option<(Elem<'a>, Elem<'a>)> {
    let mut it = compact::iter(blob);
    while let Some(f) = it.next() {
        let v = it.next()?;
        if f.bytes == field {
            return Some((f, v));
        }
    }
    None
}

/// A new, empty hash entry (compact); the caller adds fields before anyone sees it.
pub fn new_entry(key: &[u8], slot: u16, lru: u32) -> Entry {
    Entry::new_compact(key, ObjType::Hash, &compact::EMPTY, slot, lru)
}

/// Turn a compact hash into a table (no-op when already one).
pub fn convert(e: &mut Entry) {
    if e.enc() != Enc::Compact {
        return;
    }
    let blob = e.value();
    let mut h = HashObj::with_capacity(compact::count(blob) / 2 + 1);
    let mut it = compact::iter(blob);
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        h.t.insert_new(make_item(f.bytes, v.bytes));
    }
    e.set_boxed(Box::new(Collection::Hash(h)));
}

/// Redis's `hashTypeTryConversion`, before a write of `new_fields` pairs whose arguments have
/// the byte lengths `lens`: convert when the pairs alone pass the entry limit, or any
/// argument passes the value limit.
pub fn prepare(
    e: &mut Entry,
    new_fields: usize,
    mut lens: impl Iterator<Item = usize>,
    lim: &Limits,
) {
    if e.enc() != Enc::Compact {
        return;
    }
    if new_fields > lim.hash_entries || lens.any(|l| l > lim.hash_value) {
        convert(e);
    }
}

/// Set `field` to `value` (Redis's `hashTypeSet`); true when the field is new.
pub fn set(e: &mut Entry, field: &[u8], value: &[u8], lim: &Limits) -> bool {
    if e.enc() == Enc::Compact && (field.len() > lim.hash_value || value.len() > lim.hash_value) {
        convert(e);
    }
    if let Some(Collection::Hash(h)) = e.collection_mut() {
        return h.set(field, value);
    }
    match compact_find(e.value(), field) {
        Some((_, v)) => {
            let (start, end) = (v.start, v.end);
            let mut enc = Vec::with_capacity(compact::encoded_len(value.len()));
            compact::put(&mut enc, value);
            if enc.len() > end - start {
                e.reserve_value_exact(enc.len() - (end - start));
            }
            e.splice_value(start..end, &enc);
            false
        }
        None => {
            let mut enc = Vec::with_capacity(
                compact::encoded_len(field.len()) + compact::encoded_len(value.len()),
            );
            compact::put(&mut enc, field);
            compact::put(&mut enc, value);
            e.reserve_value_exact(enc.len());
            e.append(&enc);
            let n = compact::count(e.value()) + 2;
            compact::set_count(e.value_mut(), n);
            if n / 2 > lim.hash_entries {
                convert(e);
            }
            true
        }
    }
}

/// Remove `field`; true when it was there. The caller deletes the key when it empties.
pub fn remove(e: &mut Entry, field: &[u8]) -> bool {
    if let Some(Collection::Hash(h)) = e.collection_mut() {
        return h.remove(field);
    }
    match compact_find(e.value(), field) {
        Some((f, v)) => {
            let (start, end) = (f.start, v.end);
            e.splice_value(start..end, &[]);
            let n = compact::count(e.value()) - 2;
            compact::set_count(e.value_mut(), n);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn lim(entries: usize, value: usize) -> Limits {
        Limits {
            hash_entries: entries,
            hash_value: value,
            ..Limits::default()
        }
    }

    fn snapshot(e: &Entry) -> HashMap<Vec<u8>, Vec<u8>> {
        HashRef::of(e)
            .iter()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn compact_then_converted() {
        let l = lim(3, 8);
        let mut e = new_entry(b"k", 0, 0);
        assert!(set(&mut e, b"a", b"1", &l));
        assert!(set(&mut e, b"b", b"2", &l));
        assert!(!set(&mut e, b"a", b"111", &l));
        assert_eq!(e.enc(), Enc::Compact);
        assert_eq!(HashRef::of(&e).get(b"a"), Some(&b"111"[..]));
        assert!(set(&mut e, b"c", b"3", &l));
        assert_eq!(e.enc(), Enc::Compact);
        assert!(set(&mut e, b"d", b"4", &l));
        assert_eq!(e.enc(), Enc::Boxed);
        assert_eq!(HashRef::of(&e).len(), 4);
        assert_eq!(HashRef::of(&e).get(b"a"), Some(&b"111"[..]));
        // A long value converts at once.
        let mut e = new_entry(b"k", 0, 0);
        set(&mut e, b"a", b"123456789", &l);
        assert_eq!(e.enc(), Enc::Boxed);
        assert!(remove(&mut e, b"a"));
        assert!(HashRef::of(&e).is_empty());
    }

    #[test]
    fn mem_usage_tracks_the_table() {
        let l = lim(1, 64);
        let mut e = new_entry(b"k", 0, 0);
        for i in 0..1000 {
            set(&mut e, format!("field{i}").as_bytes(), b"some value", &l);
        }
        let big = e.mem_usage();
        assert!(big > 1000 * 40, "{big}");
        for i in 0..1000 {
            remove(&mut e, format!("field{i}").as_bytes());
        }
        assert!(e.mem_usage() < big / 10, "{}", e.mem_usage());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8),
        Del(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..24, 0u8..12).prop_map(|(f, v)| Op::Set(f, v)),
            1 => (0u8..24).prop_map(Op::Del),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec(op(), 1..200)) {
            let l = lim(6, 6);
            let mut e = new_entry(b"k", 0, 0);
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            for o in ops {
                match o {
                    Op::Set(f, v) => {
                        let f = format!("f{f}").into_bytes();
                        let v = "v".repeat(v as usize).into_bytes();
                        let new = set(&mut e, &f, &v, &l);
                        prop_assert_eq!(new, model.insert(f, v).is_none());
                    }
                    Op::Del(f) => {
                        let f = format!("f{f}").into_bytes();
                        prop_assert_eq!(remove(&mut e, &f), model.remove(&f).is_some());
                    }
                }
                prop_assert_eq!(HashRef::of(&e).len(), model.len());
                prop_assert_eq!(snapshot(&e), model.clone());
                if e.enc() == Enc::Compact {
                    prop_assert!(model.len() <= 6);
                    prop_assert!(model.values().all(|v| v.len() <= 6));
                }
            }
        }
    }
}
