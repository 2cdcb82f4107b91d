//! List values: the compact (inline blob) and large (boxed) encodings, and every list
//! operation over an `Entry` holding either.
//!
//! * **Compact** (OBJECT ENCODING "listpack"): the `compact` blob inline in the entry, head
//!   first. Pushing at the tail appends; pushing at the head, popping and editing splice or
//!   rebuild the blob, which is O(n) but bounded by `list-max-listpack-size` (as Redis's
//!   listpack memmoves are).
//! * **Boxed** (OBJECT ENCODING "quicklist"): a `VecDeque<Box<[u8]>>`. Chosen over a deque of
//!   compact chunks (Redis's quicklist) because it gives O(1) push/pop at both ends *and*
//!   O(1) LINDEX/LSET/LRANGE start with no chunk bookkeeping; the price is 16 bytes of
//!   pointer plus one allocation (rounded to its size class) per element, i.e. roughly
//!   2× Redis's quicklist for lists of tiny elements and about the same for elements over
//!   ~64 bytes. `mem` tracks the elements' heap bytes incrementally; the deque's buffer is
//!   added from its capacity, so `mem_usage` is O(1) and honest.
//!
//! A list converts compact → boxed when a push/insert/set passes `list_size` (`Limits`):
//! positive = most entries (and, as Redis, never more than 8 KiB of blob), negative -1..-5 =
//! most blob bytes 4/8/16/32/64 KiB. It never converts back. Callers delete the key when a
//! list becomes empty (`len(e) == 0`).

use super::{compact, Collection, Limits};
use crate::entry::{alloc_class, Enc, Entry, ObjType};
use std::collections::VecDeque;

/// The large encoding of a list.
#[derive(Clone, Debug, Default)]
pub struct ListObj {
    items: VecDeque<Box<[u8]>>,
    /// Heap bytes of the elements themselves (allocator size classes).
    elem_mem: usize,
}

#[inline]
fn elem_cost(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        alloc_class(len)
    }
}

impl ListObj {
    /// Heap bytes held: the elements plus the deque's buffer (16-byte fat pointers).
    pub fn mem_usage(&self) -> usize {
        let cap = self.items.capacity();
        let buf = if cap == 0 { 0 } else { alloc_class(cap * 16) };
        self.elem_mem + buf + std::mem::size_of::<ListObj>()
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn push_back(&mut self, v: &[u8]) {
        self.elem_mem += elem_cost(v.len());
        self.items.push_back(v.into());
    }
    pub fn push_front(&mut self, v: &[u8]) {
        self.elem_mem += elem_cost(v.len());
        self.items.push_front(v.into());
    }
    pub fn pop_front(&mut self) -> Option<Box<[u8]>> {
        let v = self.items.pop_front()?;
        self.elem_mem -= elem_cost(v.len());
        self.maybe_shrink();
        Some(v)
    }
    pub fn pop_back(&mut self) -> Option<Box<[u8]>> {
        let v = self.items.pop_back()?;
        self.elem_mem -= elem_cost(v.len());
        self.maybe_shrink();
        Some(v)
    }
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.items.get(i).map(|b| &b[..])
    }
    fn set(&mut self, i: usize, v: &[u8]) {
        let old = std::mem::replace(&mut self.items[i], v.into());
        self.elem_mem = self.elem_mem - elem_cost(old.len()) + elem_cost(v.len());
    }
    fn insert(&mut self, i: usize, v: &[u8]) {
        self.elem_mem += elem_cost(v.len());
        self.items.insert(i, v.into());
    }
    /// Keep only the elements for which `keep` says so (LREM, LTRIM).
    fn retain_indexed(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) {
        let mut i = 0;
        let mut freed = 0;
        self.items.retain(|v| {
            let k = keep(i, v);
            i += 1;
            if !k {
                freed += elem_cost(v.len());
            }
            k
        });
        self.elem_mem -= freed;
        self.maybe_shrink();
    }
    /// Give back the buffer of a list that shrank to under a quarter of it.
    fn maybe_shrink(&mut self) {
        if self.items.capacity() > 64 && self.items.len() * 4 < self.items.capacity() {
            self.items.shrink_to(self.items.len() * 2);
        }
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|b| &b[..])
    }
}

/// The most blob bytes a compact list may hold under `list_size`.
fn max_bytes(list_size: i64) -> usize {
    match list_size {
        -1 => 4096,
        -2 => 8192,
        -3 => 16384,
        -4 => 32768,
        s if s <= -5 => 65536,
        // Positive sizes count entries; Redis still caps a node at 8 KiB (SIZE_SAFETY_LIMIT).
        _ => 8192,
    }
}

/// Whether a compact list of `count` elements in `bytes` of blob is past the threshold.
pub(crate) fn over(limits: &Limits, count: usize, bytes: usize) -> bool {
    let s = limits.list_size;
    (s > 0 && count > s as usize) || bytes > max_bytes(s)
}

fn list_obj(e: &Entry) -> &ListObj {
    match e.collection() {
        Some(Collection::List(l)) => l,
        _ => unreachable!("not a boxed list"),
    }
}

fn list_obj_mut(e: &mut Entry) -> &mut ListObj {
    match e.collection_mut() {
        Some(Collection::List(l)) => l,
        _ => unreachable!("not a boxed list"),
    }
}

/// Convert a compact list to the boxed encoding if it passed the threshold.
fn maybe_convert(e: &mut Entry, limits: &Limits) {
    if e.enc() != Enc::Compact {
        return;
    }
    let blob = e.value();
    if over(limits, compact::count(blob), blob.len()) {
        convert(e);
    }
}

/// Convert a compact list to the boxed encoding (no-op when already boxed).
pub fn convert(e: &mut Entry) {
    if e.enc() != Enc::Compact {
        return;
    }
    let blob = e.value();
    let mut l = ListObj::default();
    l.items.reserve(compact::count(blob));
    for el in compact::iter(blob) {
        l.push_back(el.bytes);
    }
    e.set_boxed(Box::new(Collection::List(l)));
}

/// A new list entry holding `elems` pushed in order at the head (`front`, LPUSH: the last
/// one ends first) or the tail.
pub fn new_entry<'a>(
    key: &[u8],
    elems: impl IntoIterator<Item = &'a [u8]>,
    front: bool,
    slot: u16,
    lru: u32,
    limits: &Limits,
) -> Entry {
    let mut e = Entry::new_compact(key, ObjType::List, &compact::EMPTY, slot, lru);
    push(&mut e, elems, front, limits);
    e
}

/// Number of elements.
pub fn len(e: &Entry) -> usize {
    match e.enc() {
        Enc::Boxed => list_obj(e).len(),
        Enc::Compact | Enc::Raw | Enc::Meta => compact::count(e.value()),
    }
}

/// Push elements one by one at the head (`front`) or tail. Returns the new length.
pub fn push<'a>(
    e: &mut Entry,
    elems: impl IntoIterator<Item = &'a [u8]>,
    front: bool,
    limits: &Limits,
) -> usize {
    if e.enc() == Enc::Compact {
        let mut enc = Vec::new();
        let mut n = 0;
        let mut parts: Vec<&[u8]> = Vec::new();
        for v in elems {
            if front {
                parts.push(v);
            } else {
                compact::put(&mut enc, v);
            }
            n += 1;
        }
        if front {
            for v in parts.iter().rev() {
                compact::put(&mut enc, v);
            }
            e.splice_value(4..4, &enc);
        } else {
            e.reserve_value_exact(enc.len());
            e.append(&enc);
        }
        let c = compact::count(e.value()) + n;
        compact::set_count(e.value_mut(), c);
        maybe_convert(e, limits);
        return len(e);
    }
    let l = list_obj_mut(e);
    for v in elems {
        if front {
            l.push_front(v);
        } else {
            l.push_back(v);
        }
    }
    l.len()
}

/// The last element of a compact blob.
fn compact_last(blob: &[u8]) -> Option<compact::Elem<'_>> {
    compact::iter(blob).last()
}

/// Pop one element from the head (`front`) or tail.
pub fn pop(e: &mut Entry, front: bool) -> Option<Vec<u8>> {
    if e.enc() == Enc::Boxed {
        let l = list_obj_mut(e);
        let v = if front { l.pop_front() } else { l.pop_back() };
        return v.map(Vec::from);
    }
    let blob = e.value();
    let el = if front {
        compact::iter(blob).next()?
    } else {
        compact_last(blob)?
    };
    let v = el.bytes.to_vec();
    let (s, t) = (el.start, el.end);
    e.splice_value(s..t, &[]);
    let c = compact::count(e.value()) - 1;
    compact::set_count(e.value_mut(), c);
    Some(v)
}

/// Pop up to `n` elements from one end, in pop order.
pub fn pop_many(e: &mut Entry, front: bool, n: usize) -> Vec<Vec<u8>> {
    let n = n.min(len(e));
    if e.enc() == Enc::Compact && n > 1 {
        // One rebuild instead of n splices.
        let all: Vec<Vec<u8>> = compact::iter(e.value()).map(|x| x.bytes.to_vec()).collect();
        let total = all.len();
        let (taken, kept): (Vec<Vec<u8>>, &[Vec<u8>]) = if front {
            (all[..n].to_vec(), &all[n..])
        } else {
            (
                all[total - n..].iter().rev().cloned().collect(),
                &all[..total - n],
            )
        };
        let blob = compact::build(kept.iter().map(|v| &v[..]));
        e.set_compact(ObjType::List, &blob);
        return taken;
    }
    (0..n).filter_map(|_| pop(e, front)).collect()
}

/// Element at index `i` (0 = head), if in range.
pub fn get(e: &Entry, i: usize) -> Option<&[u8]> {
    match e.enc() {
        Enc::Boxed => list_obj(e).get(i),
        _ => compact::iter(e.value()).nth(i).map(|x| x.bytes),
    }
}

/// Visit elements `start..=stop` (already clamped to the list) in order.
pub fn for_range(e: &Entry, start: usize, stop: usize, mut f: impl FnMut(&[u8])) {
    if start > stop {
        return;
    }
    let n = stop - start + 1;
    match e.enc() {
        Enc::Boxed => list_obj(e).items.range(start..=stop).for_each(|v| f(v)),
        _ => compact::iter(e.value())
            .skip(start)
            .take(n)
            .for_each(|x| f(x.bytes)),
    }
}

/// All elements as slices, head first (for scans that go backwards too: LPOS).
pub fn elements(e: &Entry) -> Vec<&[u8]> {
    match e.enc() {
        Enc::Boxed => list_obj(e).iter().collect(),
        _ => compact::iter(e.value()).map(|x| x.bytes).collect(),
    }
}

/// Rebuild a compact list from `f`'s output over its current elements.
fn rebuild_compact(e: &mut Entry, f: impl FnOnce(Vec<&[u8]>) -> Vec<Vec<u8>>) {
    let items: Vec<&[u8]> = compact::iter(e.value()).map(|x| x.bytes).collect();
    let out = f(items);
    let blob = compact::build(out.iter().map(|v| &v[..]));
    e.set_compact(ObjType::List, &blob);
}

/// Replace element `i` (must be in range).
pub fn set(e: &mut Entry, i: usize, v: &[u8], limits: &Limits) {
    if e.enc() == Enc::Boxed {
        list_obj_mut(e).set(i, v);
        return;
    }
    let el = compact::iter(e.value()).nth(i).expect("index in range");
    let mut enc = Vec::with_capacity(v.len() + 5);
    compact::put(&mut enc, v);
    e.splice_value(el.start..el.end, &enc);
    maybe_convert(e, limits);
}

/// Insert `v` before or after the first element equal to `pivot`. Returns the new length,
/// or `None` when the pivot is not found.
pub fn insert(
    e: &mut Entry,
    pivot: &[u8],
    v: &[u8],
    before: bool,
    limits: &Limits,
) -> Option<usize> {
    if e.enc() == Enc::Boxed {
        let l = list_obj_mut(e);
        let i = l.iter().position(|x| x == pivot)?;
        l.insert(if before { i } else { i + 1 }, v);
        return Some(l.len());
    }
    let el = compact::iter(e.value()).find(|x| x.bytes == pivot)?;
    let at = if before { el.start } else { el.end };
    let mut enc = Vec::with_capacity(v.len() + 5);
    compact::put(&mut enc, v);
    e.splice_value(at..at, &enc);
    let c = compact::count(e.value()) + 1;
    compact::set_count(e.value_mut(), c);
    maybe_convert(e, limits);
    Some(len(e))
}

/// Remove elements equal to `v`: `count` > 0 the first `count` from the head, < 0 from the
/// tail, 0 all. Returns how many were removed.
pub fn rem(e: &mut Entry, count: i64, v: &[u8]) -> usize {
    let n = len(e);
    let elems = elements(e);
    // Indices to remove, decided over a snapshot so both encodings share the rule.
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    let mut doomed = vec![false; n];
    let mut removed = 0;
    let idx: Box<dyn Iterator<Item = usize>> = if count < 0 {
        Box::new((0..n).rev())
    } else {
        Box::new(0..n)
    };
    for i in idx {
        if removed == limit {
            break;
        }
        if elems[i] == v {
            doomed[i] = true;
            removed += 1;
        }
    }
    if removed == 0 {
        return 0;
    }
    if e.enc() == Enc::Boxed {
        list_obj_mut(e).retain_indexed(|i, _| !doomed[i]);
    } else {
        rebuild_compact(e, |items| {
            items
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !doomed[*i])
                .map(|(_, x)| x.to_vec())
                .collect()
        });
    }
    removed
}

/// Keep only elements `start..=stop` (already clamped; `start > stop` empties the list).
pub fn trim(e: &mut Entry, start: usize, stop: usize) {
    let keep = |i: usize| start <= stop && i >= start && i <= stop;
    if e.enc() == Enc::Boxed {
        let l = list_obj_mut(e);
        if start > stop {
            l.retain_indexed(|_, _| false);
            return;
        }
        // Pops at the ends are O(removed), cheaper than a retain over the whole list.
        let n = l.len();
        for _ in (stop + 1)..n {
            l.pop_back();
        }
        for _ in 0..start {
            l.pop_front();
        }
        return;
    }
    rebuild_compact(e, |items| {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, x)| x.to_vec())
            .collect()
    });
}

/// Redis's index normalisation for LRANGE/LTRIM: negative counts from the tail; returns
/// the clamped inclusive range or `None` when it is empty.
pub fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let n = len as i64;
    let mut s = if start < 0 { n + start } else { start };
    let mut t = if stop < 0 { n + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if s > t || s >= n {
        return None;
    }
    if t >= n {
        t = n - 1;
    }
    Some((s as usize, t as usize))
}

/// Resolve a Redis index (negative from the tail) to a position, if in range.
pub fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let n = len as i64;
    let j = if i < 0 { n.checked_add(i)? } else { i };
    (0..n).contains(&j).then_some(j as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(limits: &Limits, elems: &[&[u8]]) -> Entry {
        new_entry(b"k", elems.iter().copied(), false, 0, 0, limits)
    }

    fn contents(e: &Entry) -> Vec<Vec<u8>> {
        elements(e).into_iter().map(|x| x.to_vec()).collect()
    }

    #[test]
    fn push_pop_both_ends_and_conversion() {
        let lim = Limits {
            list_size: 3,
            ..Default::default()
        };
        let mut e = entry(&lim, &[b"b"]);
        assert_eq!(push(&mut e, [&b"a"[..]], true, &lim), 2);
        assert_eq!(push(&mut e, [&b"c"[..]], false, &lim), 3);
        assert_eq!(e.enc(), Enc::Compact);
        assert_eq!(
            contents(&e),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        push(&mut e, [&b"d"[..]], false, &lim);
        assert_eq!(e.enc(), Enc::Boxed);
        assert_eq!(crate::types::encoding_name(&e), "quicklist");
        assert_eq!(pop(&mut e, true).unwrap(), b"a");
        assert_eq!(pop(&mut e, false).unwrap(), b"d");
        assert_eq!(get(&e, 1).unwrap(), b"c");
    }

    #[test]
    fn lpush_many_reverses() {
        let lim = Limits::default();
        let mut e = entry(&lim, &[b"x"]);
        push(&mut e, [&b"1"[..], b"2", b"3"], true, &lim);
        assert_eq!(
            contents(&e),
            vec![b"3".to_vec(), b"2".to_vec(), b"1".to_vec(), b"x".to_vec()]
        );
    }

    #[test]
    fn byte_threshold_converts_on_big_element() {
        let lim = Limits {
            list_size: -1,
            ..Default::default()
        };
        let mut e = entry(&lim, &[b"small"]);
        assert_eq!(e.enc(), Enc::Compact);
        push(&mut e, [&vec![b'x'; 5000][..]], false, &lim);
        assert_eq!(e.enc(), Enc::Boxed);
    }

    #[test]
    fn mem_usage_tracks_elements() {
        let lim = Limits {
            list_size: 1,
            ..Default::default()
        };
        let mut e = entry(&lim, &[b"a", b"b"]);
        let m0 = e.mem_usage();
        for _ in 0..1000 {
            push(&mut e, [&[7u8; 100][..]], false, &lim);
        }
        let m1 = e.mem_usage();
        assert!(m1 - m0 >= 1000 * 112, "{m0} {m1}");
        for _ in 0..1000 {
            pop(&mut e, false);
        }
        assert!(e.mem_usage() < m0 + 4096, "{} vs {m0}", e.mem_usage());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        PopMany(bool, usize),
        Set(usize, Vec<u8>),
        Insert(u8, Vec<u8>, bool),
        Rem(i64, u8),
        Trim(i64, i64),
    }

    fn elem() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (0u8..4).prop_map(|b| vec![b'a' + b]),
            1 => (1usize..200).prop_map(|n| vec![b'z'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), elem()).prop_map(|(f, v)| Op::Push(f, v)),
            2 => any::<bool>().prop_map(Op::Pop),
            1 => (any::<bool>(), 0usize..4).prop_map(|(f, n)| Op::PopMany(f, n)),
            1 => (0usize..8, elem()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (0u8..4, elem(), any::<bool>()).prop_map(|(p, v, b)| Op::Insert(p, v, b)),
            1 => (-3i64..3, 0u8..4).prop_map(|(c, v)| Op::Rem(c, v)),
            1 => (-6i64..6, -6i64..6).prop_map(|(s, t)| Op::Trim(s, t)),
        ]
    }

    proptest! {
        #[test]
        fn matches_vecdeque_model(size in prop_oneof![Just(1i64), Just(2), Just(5), Just(-1)],
                                  ops in proptest::collection::vec(op(), 1..60)) {
            let lim = Limits { list_size: size, ..Default::default() };
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            let mut e: Option<Entry> = None;
            for op in ops {
                match op {
                    Op::Push(front, v) => {
                        match e.as_mut() {
                            Some(en) => { push(en, [&v[..]], front, &lim); }
                            None => e = Some(new_entry(b"k", [&v[..]], front, 0, 0, &lim)),
                        }
                        if front { model.push_front(v) } else { model.push_back(v) }
                    }
                    Op::Pop(front) => {
                        let want = if front { model.pop_front() } else { model.pop_back() };
                        let got = e.as_mut().and_then(|en| pop(en, front));
                        prop_assert_eq!(got, want);
                    }
                    Op::PopMany(front, n) => {
                        let mut want = Vec::new();
                        for _ in 0..n {
                            if let Some(v) = if front { model.pop_front() } else { model.pop_back() } {
                                want.push(v);
                            }
                        }
                        let got = e.as_mut().map(|en| pop_many(en, front, n)).unwrap_or_default();
                        prop_assert_eq!(got, want);
                    }
                    Op::Set(i, v) => {
                        if i < model.len() {
                            model[i] = v.clone();
                            set(e.as_mut().unwrap(), i, &v, &lim);
                        }
                    }
                    Op::Insert(p, v, before) => {
                        let pivot = vec![b'a' + p];
                        let want = model.iter().position(|x| *x == pivot).map(|i| {
                            model.insert(if before { i } else { i + 1 }, v.clone());
                            model.len()
                        });
                        let got = e.as_mut().and_then(|en| insert(en, &pivot, &v, before, &lim));
                        prop_assert_eq!(got, want);
                    }
                    Op::Rem(c, x) => {
                        let x = vec![b'a' + x];
                        let mut idx: Vec<usize> = (0..model.len()).filter(|&i| model[i] == x).collect();
                        if c < 0 { idx.reverse(); }
                        if c != 0 { idx.truncate(c.unsigned_abs() as usize); }
                        idx.sort_unstable();
                        for i in idx.iter().rev() { model.remove(*i); }
                        let got = e.as_mut().map(|en| rem(en, c, &x)).unwrap_or(0);
                        prop_assert_eq!(got, idx.len());
                    }
                    Op::Trim(s, t) => {
                        if let Some(en) = e.as_mut() {
                            match clamp_range(s, t, model.len()) {
                                Some((a, b)) => {
                                    trim(en, a, b);
                                    model = model.iter().skip(a).take(b - a + 1).cloned().collect();
                                }
                                None => { trim(en, 1, 0); model.clear(); }
                            }
                        }
                    }
                }
                if let Some(en) = e.as_ref() {
                    prop_assert_eq!(len(en), model.len());
                    let all: Vec<Vec<u8>> = model.iter().cloned().collect();
                    prop_assert_eq!(contents(en), all);
                    for (i, v) in model.iter().enumerate() {
                        prop_assert_eq!(get(en, i), Some(&v[..]));
                    }
                    // Compact lists never exceed the thresholds.
                    if en.enc() == Enc::Compact {
                        prop_assert!(!over(&lim, len(en), en.value().len()));
                    } else {
                        // Boxed mem_usage equals a fresh recount.
                        let fresh: usize = model.iter().map(|v| elem_cost(v.len())).sum();
                        prop_assert_eq!(list_obj(en).elem_mem, fresh);
                    }
                    if model.is_empty() { e = None; }
                }
            }
        }
    }
}
