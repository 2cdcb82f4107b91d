//! Set values: the compact encoding (inline blob of members) and the large one (`SetObj`, a
//! `Dense` table), the conversion between them, and the writes commands make.
//!
//! Encoding rules follow Redis 7.2 (`setTypeCreate`, `setTypeAdd`, `setTypeMaybeConvert`):
//! * A compact set whose members are all integers (canonical `i64` text) is Redis's
//!   *intset*: kept sorted by value, and compact up to `set-max-intset-entries` members.
//!   OBJECT ENCODING says "intset".
//! * Otherwise it is Redis's *listpack*: insertion order, compact while it has at most
//!   `set-max-listpack-entries` members of at most `set-max-listpack-value` bytes.
//! * Past those bounds it becomes a table ("hashtable"), never back.
//!
//! Unlike Redis, which remembers the encoding, "intset" here is a property of the content: a
//! listpack set whose non-integer members were all removed counts as an intset again.

use super::compact;
use super::dense::{Dense, KeyOf};
use super::{Collection, Limits};
use crate::entry::{Enc, Entry, ObjType};
use rand::Rng;

/// A table item is the member itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Whole;

impl KeyOf for Whole {
    #[inline]
    fn key(item: &[u8]) -> &[u8] {
        item
    }
}

/// The large encoding of a set.
#[derive(Clone, Debug, Default)]
pub struct SetObj {
    t: Dense<Whole>,
}

impl SetObj {
    pub fn with_capacity(n: usize) -> SetObj {
        SetObj {
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

    pub fn contains(&self, m: &[u8]) -> bool {
        self.t.find(m).is_some()
    }

    /// Add a member; true when it is new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if self.contains(m) {
            return false;
        }
        self.t.insert_new(Box::from(m));
        true
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        self.t.remove(m).is_some()
    }

    /// The member at position `i` (random picks).
    #[inline]
    pub fn member_at(&self, i: usize) -> &[u8] {
        self.t.get(i)
    }

    pub fn table(&self) -> &Dense<Whole> {
        &self.t
    }
}

/// Read access to a set entry, whatever its encoding.
#[derive(Clone, Copy)]
pub enum SetRef<'a> {
    Compact(&'a [u8]),
    Boxed(&'a SetObj),
}

impl<'a> SetRef<'a> {
    /// The set an entry holds (the caller checked its type).
    pub fn of(e: &'a Entry) -> SetRef<'a> {
        match e.collection() {
            Some(Collection::Set(s)) => SetRef::Boxed(s),
            _ => SetRef::Compact(e.value()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetRef::Compact(b) => compact::count(b),
            SetRef::Boxed(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetRef::Compact(b) => compact::iter(b).any(|e| e.bytes == m),
            SetRef::Boxed(s) => s.contains(m),
        }
    }

    /// Every member, in storage order.
    pub fn iter(&self) -> Members<'a> {
        match self {
            SetRef::Compact(b) => Members::Compact(compact::iter(b)),
            SetRef::Boxed(s) => Members::Boxed(s.t.items().iter()),
        }
    }
}

/// Iterator over a set's members.
pub enum Members<'a> {
    Compact(compact::Iter<'a>),
    Boxed(std::slice::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Members<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Members::Compact(it) => it.next().map(|e| e.bytes),
            Members::Boxed(it) => it.next().map(|b| &b[..]),
        }
    }
}

/// Redis's `string2ll` acceptance: optional `-`, digits without leading zeros, fits i64,
/// and not `-0`. Such members are what an intset can hold (and print back identically).
pub fn as_int(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        let d = (d - b'0') as i64;
        v = v.checked_mul(10)?.checked_add(if neg { -d } else { d })?;
    }
    Some(v)
}

/// OBJECT ENCODING of a compact set blob: "intset" when every member is an integer.
pub fn compact_encoding_name(blob: &[u8]) -> &'static str {
    if compact::iter(blob).all(|e| as_int(e.bytes).is_some()) {
        "intset"
    } else {
        "listpack"
    }
}

/// A new, empty set entry, encoded as Redis's `setTypeCreate(first, size_hint)` would: compact
/// unless the command is about to add more members than a compact set may hold.
pub fn new_entry(
    key: &[u8],
    slot: u16,
    lru: u32,
    first: &[u8],
    size_hint: usize,
    lim: &Limits,
) -> Entry {
    let intset = as_int(first).is_some() && size_hint <= lim.set_intset_entries;
    if intset || size_hint <= lim.set_entries {
        Entry::new_compact(key, ObjType::Set, &compact::EMPTY, slot, lru)
    } else {
        let c = Collection::Set(SetObj::with_capacity(size_hint));
        Entry::new_boxed(key, Box::new(c), slot, lru)
    }
}

/// Turn a compact set into a table (no-op when already one), room for `extra` more members.
pub fn convert(e: &mut Entry, extra: usize) {
    if e.enc() != Enc::Compact {
        return;
    }
    let blob = e.value();
    let mut s = SetObj::with_capacity(compact::count(blob) + extra);
    for m in compact::iter(blob) {
        s.t.insert_new(Box::from(m.bytes));
    }
    e.set_boxed(Box::new(Collection::Set(s)));
}

/// Redis's `setTypeMaybeConvert`: before adding `size_hint` members, convert a compact set
/// that could not hold that many anyway.
pub fn maybe_convert(e: &mut Entry, size_hint: usize, lim: &Limits) {
    if e.enc() != Enc::Compact {
        return;
    }
    let bound = if compact_encoding_name(e.value()) == "intset" {
        lim.set_intset_entries
    } else {
        lim.set_entries
    };
    if size_hint > bound {
        convert(e, size_hint);
    }
}

/// What adding to a compact blob needs.
enum CompactAdd {
    Present,
    /// Insert the encoded member at this byte offset.
    At(usize),
    /// The set must become a table first.
    Convert,
}

fn plan_compact_add(blob: &[u8], m: &[u8], lim: &Limits) -> CompactAdd {
    let n = compact::count(blob);
    let mi = as_int(m);
    let mut all_int = true;
    let mut max_len = 0;
    let mut sorted_at = None;
    for el in compact::iter(blob) {
        if el.bytes == m {
            return CompactAdd::Present;
        }
        if all_int {
            match as_int(el.bytes) {
                Some(v) => {
                    max_len = max_len.max(el.bytes.len());
                    if sorted_at.is_none() && mi.is_some_and(|x| v > x) {
                        sorted_at = Some(el.start);
                    }
                }
                None => all_int = false,
            }
        }
    }
    if all_int && mi.is_some() {
        // intsetAdd, then maybeConvertIntset.
        return if n < lim.set_intset_entries {
            CompactAdd::At(sorted_at.unwrap_or(blob.len()))
        } else {
            CompactAdd::Convert
        };
    }
    // A listpack add (or an intset turning into a listpack): room for one more short member.
    if n < lim.set_entries && m.len() <= lim.set_value && max_len <= lim.set_value {
        CompactAdd::At(blob.len())
    } else {
        CompactAdd::Convert
    }
}

/// Add a member (Redis's `setTypeAdd`); true when it is new.
pub fn add(e: &mut Entry, m: &[u8], lim: &Limits) -> bool {
    if e.enc() == Enc::Compact {
        match plan_compact_add(e.value(), m, lim) {
            CompactAdd::Present => return false,
            CompactAdd::At(at) => {
                let mut enc = Vec::with_capacity(compact::encoded_len(m.len()));
                compact::put(&mut enc, m);
                e.reserve_value_exact(enc.len());
                e.splice_value(at..at, &enc);
                let n = compact::count(e.value()) + 1;
                compact::set_count(e.value_mut(), n);
                return true;
            }
            CompactAdd::Convert => convert(e, 1),
        }
    }
    match e.collection_mut() {
        Some(Collection::Set(s)) => s.insert(m),
        _ => unreachable!("set entry of another type"),
    }
}

/// Remove a member; true when it was there. The caller deletes the key when it empties.
pub fn remove(e: &mut Entry, m: &[u8]) -> bool {
    if let Some(Collection::Set(s)) = e.collection_mut() {
        return s.remove(m);
    }
    match compact::iter(e.value()).find(|x| x.bytes == m) {
        Some(x) => {
            let (start, end) = (x.start, x.end);
            remove_compact_range(e, start..end);
            true
        }
        None => false,
    }
}

fn remove_compact_range(e: &mut Entry, r: std::ops::Range<usize>) {
    e.splice_value(r, &[]);
    let n = compact::count(e.value()) - 1;
    compact::set_count(e.value_mut(), n);
}

/// Remove and return a uniformly random member. The set must not be empty.
pub fn pop_random(e: &mut Entry, rng: &mut impl Rng) -> Vec<u8> {
    if let Some(Collection::Set(s)) = e.collection_mut() {
        let i = s.t.random_index(rng);
        return s.t.swap_remove(i).into_vec();
    }
    let n = compact::count(e.value());
    let i = rng.random_range(0..n);
    let x = compact::iter(e.value()).nth(i).expect("count matches blob");
    let (out, range) = (x.bytes.to_vec(), x.start..x.end);
    remove_compact_range(e, range);
    out
}

/// What a store command (SINTERSTORE…) writes: the members' encoding as adding them one by
/// one to a new intset would end up with.
pub enum Built {
    Compact(Vec<u8>),
    Boxed(Box<Collection>),
}

pub fn build(members: &[&[u8]], lim: &Limits) -> Built {
    let ints: Option<Vec<i64>> = members.iter().map(|m| as_int(m)).collect();
    if let Some(mut ints) = ints.filter(|_| members.len() <= lim.set_intset_entries) {
        ints.sort_unstable();
        let texts: Vec<String> = ints.iter().map(|v| v.to_string()).collect();
        return Built::Compact(compact::build(texts.iter().map(|s| s.as_bytes())));
    }
    if members.len() <= lim.set_entries && members.iter().all(|m| m.len() <= lim.set_value) {
        return Built::Compact(compact::build(members.iter().copied()));
    }
    let mut s = SetObj::with_capacity(members.len());
    for m in members {
        s.insert(m);
    }
    Built::Boxed(Box::new(Collection::Set(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn lim(intset: usize, entries: usize, value: usize) -> Limits {
        Limits {
            set_intset_entries: intset,
            set_entries: entries,
            set_value: value,
            ..Limits::default()
        }
    }

    fn members(e: &Entry) -> Vec<Vec<u8>> {
        SetRef::of(e).iter().map(|m| m.to_vec()).collect()
    }

    fn enc_name(e: &Entry) -> &'static str {
        crate::types::encoding_name(e)
    }

    #[test]
    fn integers() {
        for (s, v) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
        ] {
            assert_eq!(as_int(s.as_bytes()), v, "{s}");
        }
        for s in [
            "",
            "-",
            "-0",
            "01",
            "+1",
            " 1",
            "1.0",
            "9223372036854775808",
            "99999999999999999999",
        ] {
            assert_eq!(as_int(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn intset_is_sorted_then_listpack_then_table() {
        let l = lim(5, 4, 8);
        let mut e = new_entry(b"k", 0, 0, b"3", 1, &l);
        for m in ["3", "1", "-7", "2", "1"] {
            add(&mut e, m.as_bytes(), &l);
        }
        assert_eq!(
            members(&e),
            vec![b"-7".to_vec(), b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
        );
        assert_eq!(enc_name(&e), "intset");
        // An intset with 4 members cannot become a listpack of at most 4: a table.
        add(&mut e, b"x", &l);
        assert_eq!(enc_name(&e), "hashtable");
        assert_eq!(SetRef::of(&e).len(), 5);

        let mut e = new_entry(b"k", 0, 0, b"1", 2, &l);
        add(&mut e, b"1", &l);
        add(&mut e, b"abc", &l);
        assert_eq!(enc_name(&e), "listpack");
        add(&mut e, b"0", &l);
        add(&mut e, b"z", &l);
        assert_eq!(enc_name(&e), "listpack");
        add(&mut e, b"y", &l);
        assert_eq!(enc_name(&e), "hashtable");

        let mut e = new_entry(b"k", 0, 0, b"a", 1, &l);
        add(&mut e, b"abcdefghi", &l);
        assert_eq!(enc_name(&e), "hashtable");
        // Large hints start as a table.
        let e = new_entry(b"k", 0, 0, b"a", 5, &l);
        assert_eq!(enc_name(&e), "hashtable");
        let e = new_entry(b"k", 0, 0, b"1", 5, &l);
        assert_eq!(e.enc(), Enc::Compact);
    }

    #[test]
    fn build_picks_the_encoding() {
        let l = lim(3, 2, 4);
        let name = |b: Built| match b {
            Built::Compact(blob) => compact_encoding_name(&blob),
            Built::Boxed(_) => "hashtable",
        };
        assert_eq!(name(build(&[b"3", b"1", b"2"], &l)), "intset");
        assert_eq!(name(build(&[b"3", b"1", b"2", b"4"], &l)), "hashtable");
        assert_eq!(name(build(&[b"a", b"1"], &l)), "listpack");
        assert_eq!(name(build(&[b"a", b"1", b"b"], &l)), "hashtable");
        assert_eq!(name(build(&[b"abcde"], &l)), "hashtable");
        match build(&[b"10", b"-2"], &l) {
            Built::Compact(blob) => {
                let v: Vec<&[u8]> = compact::iter(&blob).map(|e| e.bytes).collect();
                assert_eq!(v, vec![&b"-2"[..], b"10"]);
            }
            Built::Boxed(_) => panic!("compact expected"),
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, bool),
        Rem(u8, bool),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..30, any::<bool>()).prop_map(|(v, s)| Op::Add(v, s)),
            2 => (0u8..30, any::<bool>()).prop_map(|(v, s)| Op::Rem(v, s)),
            1 => Just(Op::Pop),
        ]
    }

    fn member(v: u8, text: bool) -> Vec<u8> {
        if text {
            format!("m{}", "x".repeat(v as usize % 9)).into_bytes()
        } else {
            (v as i64 - 10).to_string().into_bytes()
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_hashset(ops in proptest::collection::vec(op(), 1..200)) {
            let l = lim(8, 5, 6);
            let mut rng = rand::rng();
            let mut e: Option<Entry> = None;
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            for o in ops {
                match o {
                    Op::Add(v, t) => {
                        let m = member(v, t);
                        let ent = e.get_or_insert_with(|| new_entry(b"k", 0, 0, &m, 1, &l));
                        prop_assert_eq!(add(ent, &m, &l), model.insert(m));
                    }
                    Op::Rem(v, t) => {
                        let m = member(v, t);
                        if let Some(ent) = e.as_mut() {
                            prop_assert_eq!(remove(ent, &m), model.remove(&m));
                        }
                    }
                    Op::Pop => {
                        if let Some(ent) = e.as_mut() {
                            let m = pop_random(ent, &mut rng);
                            prop_assert!(model.remove(&m));
                        }
                    }
                }
                if let Some(ent) = e.as_ref() {
                    if SetRef::of(ent).is_empty() {
                        e = None;
                        continue;
                    }
                    let got: HashSet<Vec<u8>> = members(ent).into_iter().collect();
                    prop_assert_eq!(SetRef::of(ent).len(), model.len());
                    prop_assert_eq!(&got, &model);
                    for m in &model {
                        prop_assert!(SetRef::of(ent).contains(m));
                    }
                    match enc_name(ent) {
                        "intset" => prop_assert!(model.len() <= 8),
                        "listpack" => {
                            prop_assert!(model.len() <= 5);
                            prop_assert!(model.iter().all(|m| m.len() <= 6));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
