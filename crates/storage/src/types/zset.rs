//! Sorted-set values: the compact (inline blob) and large (boxed) encodings, and the
//! operations commands use on either.
//!
//! **Compact** (Redis's listpack): the entry's value is a `types::compact` blob of
//! `member, score` element pairs, the score an 8-byte little-endian f64, kept sorted by
//! (score, member) so every range is one forward scan and rank is a position.
//!
//! **Large** (`ZSetObj`, Redis's skiplist encoding, in `zset/skiplist.rs`): an indexable
//! skip list with spans, as Redis's `zskiplist`, giving O(log n) insert, delete, rank,
//! element-by-rank and lower-bound by score or by member (lex); plus a member → node index
//! for O(1) ZSCORE. The nodes live in an arena of 64-byte slots addressed by `u32` (no
//! `unsafe`), each holding its score, levels 0–2 and a member of up to 22 bytes inline, so
//! a search step reads one cache line; see that module for the layout.
//!
//! Ranges are reduced to *rank* ranges: `count_while(pred)` returns how many leading
//! elements satisfy a monotone predicate ("below the min bound"), so a score or lex range
//! is `[count_while(below min), count_while(not above max))` and then a walk by rank.
//!
//! ZSCAN over the large encoding uses the arena position as its cursor: an element keeps
//! its slot for as long as it is present (a score change relinks the same node) and the
//! arena only grows, so a scan from slot 0 upwards returns every element present for the
//! whole scan exactly once.
//!
//! Conversion to the large encoding happens when a compact set would pass
//! `zset-max-listpack-entries` or a member would pass `zset-max-listpack-value`; never back
//! (as Redis), except that freshly built results (ZUNIONSTORE…) pick their encoding by size.

use crate::entry::{Enc, Entry, ObjType};
use crate::types::{compact, Collection, Limits};

mod skiplist;
pub use skiplist::ZSetObj;

/// (score, member) strictly before (score2, member2) in sorted-set order.
#[inline]
pub(crate) fn before(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> bool {
    s1 < s2 || (s1 == s2 && m1 < m2)
}

// ------------------------------------------------------------------ compact blob helpers

/// One compact element pair: member bytes, score, and the pair's byte range in the blob.
#[derive(Clone, Copy, Debug)]
pub struct Pair<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub start: usize,
    pub end: usize,
}

/// Iterate a compact blob's (member, score) pairs in order.
pub fn pairs(blob: &[u8]) -> impl Iterator<Item = Pair<'_>> {
    let mut it = compact::iter(blob);
    std::iter::from_fn(move || {
        let m = it.next()?;
        let s = it.next()?;
        Some(Pair {
            member: m.bytes,
            score: decode_score(s.bytes),
            start: m.start,
            end: s.end,
        })
    })
}

fn encode_pair(out: &mut Vec<u8>, member: &[u8], score: f64) {
    compact::put(out, member);
    let mut b = [0u8; 8];
    let n = encode_score(score, &mut b);
    compact::put(out, &b[..n]);
}

/// A compact blob's score element: an integral score within ±2^55 (not -0) as its shortest
/// little-endian two's-complement bytes (0 to 7; zero is empty), anything else as the 8-byte
/// f64. Integer scores — the common case — cost 1-2 bytes instead of 9 (as Redis's listpack
/// stores them as integers). Returns the bytes used in `b`.
fn encode_score(score: f64, b: &mut [u8; 8]) -> usize {
    const LIM: f64 = (1u64 << 55) as f64;
    if score.fract() == 0.0 && score.abs() < LIM && !(score == 0.0 && score.is_sign_negative()) {
        let i = score as i64;
        let mut n = 0;
        while n < 7 {
            let bits = 8 * n as u32;
            let fits = if n == 0 {
                i == 0
            } else {
                let half = 1i64 << (bits - 1);
                (-half..half).contains(&i)
            };
            if fits {
                break;
            }
            n += 1;
        }
        b[..n].copy_from_slice(&i.to_le_bytes()[..n]);
        return n;
    }
    *b = score.to_le_bytes();
    8
}

/// A score element's value. The caller guarantees at most 8 bytes (`types::checked` does
/// for blobs from outside).
pub(crate) fn decode_score(b: &[u8]) -> f64 {
    match b.len() {
        8 => f64::from_le_bytes(b.try_into().expect("8 bytes")),
        0 => 0.0,
        n => {
            let mut full = [0u8; 8];
            full[..n].copy_from_slice(b);
            // Sign-extend from the top byte used.
            let shift = 64 - 8 * n as u32;
            ((i64::from_le_bytes(full) << shift) >> shift) as f64
        }
    }
}

#[cfg(test)]
#[test]
fn score_encoding_roundtrips() {
    for s in [
        0.0,
        -0.0,
        1.0,
        -1.0,
        127.0,
        128.0,
        -128.0,
        -129.0,
        1e15,
        -1e15,
        3.5e16,
        0.5,
        -2.25,
        f64::INFINITY,
        f64::NEG_INFINITY,
        36028797018963967.0,
        -36028797018963968.0,
    ] {
        let mut b = [0u8; 8];
        let n = encode_score(s, &mut b);
        let d = decode_score(&b[..n]);
        assert_eq!(d.to_bits(), s.to_bits(), "{s}");
    }
    let mut b = [0u8; 8];
    assert_eq!(encode_score(5.0, &mut b), 1);
    assert_eq!(encode_score(0.0, &mut b), 0);
    assert_eq!(encode_score(1000.0, &mut b), 2);
}

/// A compact blob from pairs already in (score, member) order.
pub fn build_blob<'a>(sorted: impl IntoIterator<Item = (&'a [u8], f64)>) -> Vec<u8> {
    let mut out = compact::EMPTY.to_vec();
    let mut n = 0;
    for (m, s) in sorted {
        encode_pair(&mut out, m, s);
        n += 2;
    }
    compact::set_count(&mut out, n);
    out
}

/// A read view of a sorted set in either encoding.
#[derive(Clone, Copy)]
pub enum ZRef<'a> {
    Compact(&'a [u8]),
    Big(&'a ZSetObj),
}

impl<'a> ZRef<'a> {
    /// The view of a zset entry (the caller checked the type).
    pub fn of(e: &'a Entry) -> ZRef<'a> {
        match e.collection() {
            Some(Collection::ZSet(z)) => ZRef::Big(z),
            Some(_) => panic!("not a zset entry"),
            None => ZRef::Compact(e.value()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZRef::Compact(b) => compact::count(b) / 2,
            ZRef::Big(z) => z.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZRef::Compact(b) => pairs(b).find(|p| p.member == member).map(|p| p.score),
            ZRef::Big(z) => z.score(member),
        }
    }

    /// 0-based rank of `member` and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZRef::Compact(b) => pairs(b)
                .enumerate()
                .find(|(_, p)| p.member == member)
                .map(|(i, p)| (i, p.score)),
            ZRef::Big(z) => z.rank(member),
        }
    }

    /// How many leading elements satisfy the prefix predicate `pred`.
    pub fn count_while(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match self {
            ZRef::Compact(b) => pairs(b).take_while(|p| pred(p.member, p.score)).count(),
            ZRef::Big(z) => z.count_while(pred),
        }
    }

    /// The rank range `[start, end)` of the elements inside a score range.
    pub fn score_range(&self, r: &ScoreRange) -> (usize, usize) {
        let start = self.count_while(|_, s| r.below(s));
        let end = self.count_while(|_, s| !r.above(s));
        (start, end.max(start))
    }

    /// The rank range `[start, end)` of the elements inside a lex range.
    pub fn lex_range(&self, r: &LexRange) -> (usize, usize) {
        let start = self.count_while(|m, _| r.below(m));
        let end = self.count_while(|m, _| !r.above(m));
        (start, end.max(start))
    }

    /// Visit ranks `start..end`, forward or (when `rev`) from `end - 1` down.
    pub fn for_range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&'a [u8], f64)) {
        match *self {
            ZRef::Compact(b) => {
                if rev {
                    let v: Vec<Pair<'a>> = pairs(b)
                        .skip(start)
                        .take(end.saturating_sub(start))
                        .collect();
                    for p in v.iter().rev() {
                        f(p.member, p.score);
                    }
                } else {
                    for p in pairs(b).skip(start).take(end.saturating_sub(start)) {
                        f(p.member, p.score);
                    }
                }
            }
            ZRef::Big(z) => z.for_range(start, end, rev, f),
        }
    }

    /// Every element, in order, collected (set algebra, random picks of small sets).
    pub fn to_vec(&self) -> Vec<(&'a [u8], f64)> {
        let mut v = Vec::with_capacity(self.len());
        self.for_range(0, self.len(), false, |m, s| v.push((m, s)));
        v
    }

    /// The element at rank `r`.
    pub fn at(&self, r: usize) -> Option<(&'a [u8], f64)> {
        match *self {
            ZRef::Compact(b) => pairs(b).nth(r).map(|p| (p.member, p.score)),
            ZRef::Big(z) => z.at(r),
        }
    }
}

/// A score interval with Redis's exclusive flags (`(1.5`), as ZRANGEBYSCORE parses it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    /// `s` is below the interval's lower end.
    #[inline]
    pub fn below(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }
    /// `s` is above the interval's upper end.
    #[inline]
    pub fn above(&self, s: f64) -> bool {
        if self.maxex {
            s >= self.max
        } else {
            s > self.max
        }
    }
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A lex interval (ZRANGEBYLEX).
#[derive(Clone, Debug, PartialEq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// `m` is below the lower end.
    pub fn below(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m < b.as_slice(),
            LexBound::Excl(b) => m <= b.as_slice(),
        }
    }
    /// `m` is above the upper end.
    pub fn above(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m > b.as_slice(),
            LexBound::Excl(b) => m >= b.as_slice(),
        }
    }
}

// ------------------------------------------------------------------ entry-level writes

/// A new, empty compact zset entry (fill it, then store it only if non-empty).
pub fn new_entry(key: &[u8], slot: u16, lru: u32) -> Entry {
    Entry::new_compact(key, ObjType::ZSet, &compact::EMPTY, slot, lru)
}

/// A zset entry from pairs sorted by (score, member), in the encoding their size calls for.
pub fn entry_from_sorted(
    key: &[u8],
    slot: u16,
    lru: u32,
    sorted: &[(&[u8], f64)],
    limits: &Limits,
) -> Entry {
    let big = sorted.len() > limits.zset_entries
        || sorted.iter().any(|(m, _)| m.len() > limits.zset_value);
    if big {
        let mut z = ZSetObj::new();
        for (m, s) in sorted {
            z.insert(m, *s);
        }
        Entry::new_boxed(key, Box::new(Collection::ZSet(z)), slot, lru)
    } else {
        let blob = build_blob(sorted.iter().copied());
        Entry::new_compact(key, ObjType::ZSet, &blob, slot, lru)
    }
}

fn big_mut(e: &mut Entry) -> Option<&mut ZSetObj> {
    match e.collection_mut() {
        Some(Collection::ZSet(z)) => Some(z),
        Some(_) => panic!("not a zset entry"),
        None => None,
    }
}

/// Convert a compact zset entry to the large encoding.
pub fn convert(e: &mut Entry) {
    if e.enc() != Enc::Compact {
        return;
    }
    let mut z = ZSetObj::new();
    for p in pairs(e.value()) {
        z.insert(p.member, p.score);
    }
    e.set_boxed(Box::new(Collection::ZSet(z)));
}

/// Set `member`'s score (inserting it if absent), converting the entry when it passes the
/// limits. Returns the previous score.
pub fn set(e: &mut Entry, member: &[u8], score: f64, limits: &Limits) -> Option<f64> {
    if let Some(z) = big_mut(e) {
        return z.set(member, score);
    }
    let mut old = None;
    let mut at = None;
    let mut insert_pos = None;
    for p in pairs(e.value()) {
        if p.member == member {
            old = Some(p.score);
            at = Some(p.start..p.end);
        }
        if insert_pos.is_none() && !before(p.score, p.member, score, member) && p.member != member {
            insert_pos = Some(p.start);
        }
    }
    if old == Some(score) {
        return old;
    }
    let n = compact::count(e.value()) / 2;
    if old.is_none() && (n + 1 > limits.zset_entries || member.len() > limits.zset_value) {
        convert(e);
        return big_mut(e).expect("converted").set(member, score);
    }
    let mut enc = Vec::with_capacity(compact::encoded_len(member.len()) + 9);
    encode_pair(&mut enc, member, score);
    let end = e.value_len();
    let ins = insert_pos.unwrap_or(end);
    match at {
        Some(r) => {
            // Insert the new pair first (at a position computed before removal), then remove
            // the old one, adjusting for the shift.
            e.splice_value(ins..ins, &enc);
            let (s, t) = if ins <= r.start {
                (r.start + enc.len(), r.end + enc.len())
            } else {
                (r.start, r.end)
            };
            e.splice_value(s..t, &[]);
        }
        None => {
            e.splice_value(ins..ins, &enc);
            compact::set_count(e.value_mut(), 2 * (n + 1));
        }
    }
    old
}

/// Remove `member`; its score if it was present. The caller deletes the key when empty.
pub fn remove(e: &mut Entry, member: &[u8]) -> Option<f64> {
    if let Some(z) = big_mut(e) {
        return z.remove(member);
    }
    let (start, end, score) = pairs(e.value())
        .find(|p| p.member == member)
        .map(|p| (p.start, p.end, p.score))?;
    let n = compact::count(e.value());
    e.splice_value(start..end, &[]);
    compact::set_count(e.value_mut(), n - 2);
    Some(score)
}

/// Remove ranks `start..end`; how many were removed.
pub fn remove_range(e: &mut Entry, start: usize, end: usize) -> usize {
    let len = ZRef::of(e).len();
    let end = end.min(len);
    if start >= end {
        return 0;
    }
    if let Some(z) = big_mut(e) {
        let victims: Vec<Box<[u8]>> = {
            let mut v = Vec::with_capacity(end - start);
            z.for_range(start, end, false, |m, _| v.push(m.into()));
            v
        };
        for m in victims {
            z.remove(&m);
        }
        return end - start;
    }
    let (a, b) = {
        let mut it = pairs(e.value()).skip(start);
        let first = it.next().expect("in range");
        let last = it.take(end - start - 1).last().unwrap_or(first);
        (first.start, last.end)
    };
    let n = compact::count(e.value());
    e.splice_value(a..b, &[]);
    compact::set_count(e.value_mut(), n - 2 * (end - start));
    end - start
}

/// Remove and return up to `count` elements from the low end (or the high end when `max`),
/// in pop order.
pub fn pop(e: &mut Entry, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
    let z = ZRef::of(e);
    let len = z.len();
    let k = count.min(len);
    let mut out = Vec::with_capacity(k);
    if max {
        z.for_range(len - k, len, true, |m, s| out.push((m.to_vec(), s)));
        remove_range(e, len - k, len);
    } else {
        z.for_range(0, k, false, |m, s| out.push((m.to_vec(), s)));
        remove_range(e, 0, k);
    }
    out
}

/// ZSCAN step: the compact encoding is returned whole (cursor 0), as Redis does for
/// listpacks; the large one is walked by arena slot.
pub fn scan(e: &Entry, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
    match ZRef::of(e) {
        ZRef::Compact(b) => {
            for p in pairs(b) {
                f(p.member, p.score);
            }
            0
        }
        ZRef::Big(z) => z.scan(cursor, count, f),
    }
}

#[cfg(test)]
mod tests;
