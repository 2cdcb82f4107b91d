//! Checking a compact blob that comes from outside the process (a snapshot record or a
//! RESTORE payload in a compact encoding, `dump::Tag::*Compact`) so it can become an entry's
//! value with one copy, instead of being rebuilt element by element.
//!
//! Every compact-encoding operation trusts its blob: `compact::iter` does not bounds-check,
//! a hash reads field/value pairs, a sorted set's ranks and range scans assume order. So a
//! blob from outside is walked once here and refused, with the reason, unless it holds what
//! those in-memory invariants need:
//!
//! | type | checked |
//! |---|---|
//! | all  | a 4-byte count; each element a varint length of at most 9 bytes and that many bytes; exactly `count` elements, nothing after them |
//! | list | nothing more: any elements, in any order, repeats allowed |
//! | set  | members distinct |
//! | hash | an even count (field, value, …); fields distinct |
//! | zset | an even count; each score element 0–8 bytes, an 8-byte one not NaN; pairs strictly ascending by (score, member), the order ranks and range scans walk; members distinct (order alone allows one member under two scores) |
//!
//! Not checked, because nothing relies on it: that varints and integer scores take their
//! shortest form (operations work from each element's actual byte range and decoded
//! score), and that an all-integer set is sorted (here "intset" is a property of the
//! content, and a set whose other members were removed is all-integer in insertion order;
//! see `set`). Whether a blob fits the current `*-max-listpack-*` settings is not a question
//! of validity: `CompactRef::fits` answers it, and a loader converts what does not fit, as
//! an element-by-element value would have been built in the large encoding.
//!
//! Cost: one pass, plus one hash per member or field checked for distinctness (a table on
//! the stack for up to `SMALL` of them, no allocation).

use super::{compact, list, set, zset, Limits};
use crate::dump::Value;
use crate::entry::ObjType;
use foldhash::fast::{FixedState, RandomState};
use smallvec::SmallVec;
use std::hash::BuildHasher;

/// A compact blob that passed `check`. `check` is the only way to make one, so whoever
/// holds one may store its bytes as an entry's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactRef<'a> {
    ty: ObjType,
    blob: &'a [u8],
    /// The longest element a `*-max-listpack-value` setting bounds: fields and values of a
    /// hash, members of a set or sorted set (lists are bounded by bytes, not elements).
    longest: usize,
}

impl<'a> CompactRef<'a> {
    pub fn obj_type(&self) -> ObjType {
        self.ty
    }

    /// The blob, as an entry holds it.
    pub fn blob(&self) -> &'a [u8] {
        self.blob
    }

    /// Elements (a hash's or sorted set's pairs count two each).
    pub fn elements(&self) -> usize {
        compact::count(self.blob)
    }

    /// Whether the blob may stay compact under `lim`: the rule a value rebuilt element by
    /// element follows (`list::push`, `set::build`, `hash::set`, `zset::entry_from_sorted`).
    pub fn fits(&self, lim: &Limits) -> bool {
        let n = self.elements();
        match self.ty {
            ObjType::List => !list::over(lim, n, self.blob.len()),
            ObjType::Set => {
                (n <= lim.set_entries && self.longest <= lim.set_value)
                    || (n <= lim.set_intset_entries
                        && compact::iter(self.blob).all(|e| set::as_int(e.bytes).is_some()))
            }
            ObjType::Hash => n / 2 <= lim.hash_entries && self.longest <= lim.hash_value,
            ObjType::ZSet => n / 2 <= lim.zset_entries && self.longest <= lim.zset_value,
            ObjType::String | ObjType::Stream => unreachable!("check refuses strings and streams"),
        }
    }

    /// The value in owned, encoding-independent form.
    pub fn to_value(&self) -> Value {
        let items = || compact::iter(self.blob).map(|e| e.bytes.to_vec()).collect();
        match self.ty {
            ObjType::List => Value::List(items()),
            ObjType::Set => Value::Set(items()),
            ObjType::Hash => {
                let mut it = compact::iter(self.blob);
                let mut v = Vec::with_capacity(self.elements() / 2);
                while let (Some(f), Some(x)) = (it.next(), it.next()) {
                    v.push((f.bytes.to_vec(), x.bytes.to_vec()));
                }
                Value::Hash(v)
            }
            ObjType::ZSet => Value::ZSet(
                zset::pairs(self.blob)
                    .map(|p| (p.member.to_vec(), p.score))
                    .collect(),
            ),
            ObjType::String | ObjType::Stream => unreachable!("check refuses strings and streams"),
        }
    }
}

/// Check `blob` as the compact encoding of a `ty` (see the module doc). The error says what
/// was expected.
pub fn check(ty: ObjType, blob: &[u8]) -> Result<CompactRef<'_>, &'static str> {
    if blob.len() < 4 {
        return Err("a compact value of at least 4 bytes (its element count)");
    }
    let n = compact::count(blob);
    // Every element takes at least one byte: a larger count is a lie, refused before it
    // sizes anything.
    if n > blob.len() - 4 {
        return Err("an element count the compact value's bytes can hold");
    }
    let mut w = Walk { b: blob, pos: 4 };
    let mut longest = 0;
    match ty {
        ObjType::String => return Err("a collection (a string has no compact encoding)"),
        ObjType::Stream => return Err("a compact collection (a stream has no compact encoding)"),
        ObjType::List => {
            for _ in 0..n {
                w.next()?;
            }
        }
        ObjType::Set => {
            let mut seen = Distinct::new(n);
            for _ in 0..n {
                let m = w.next()?;
                longest = longest.max(m.len());
                if !seen.insert(m) {
                    return Err("set members that are distinct (a member repeats)");
                }
            }
        }
        ObjType::Hash => {
            if !n.is_multiple_of(2) {
                return Err("an even element count in a compact hash (field, value pairs)");
            }
            let mut seen = Distinct::new(n / 2);
            for _ in 0..n / 2 {
                let f = w.next()?;
                let v = w.next()?;
                longest = longest.max(f.len()).max(v.len());
                if !seen.insert(f) {
                    return Err("hash fields that are distinct (a field repeats)");
                }
            }
        }
        ObjType::ZSet => {
            if !n.is_multiple_of(2) {
                return Err("an even element count in a compact sorted set (member, score)");
            }
            let mut seen = Distinct::new(n / 2);
            let mut prev: Option<(f64, &[u8])> = None;
            for _ in 0..n / 2 {
                let m = w.next()?;
                let s = w.next()?;
                if s.len() > 8 {
                    return Err("a score element of at most 8 bytes");
                }
                let score = zset::decode_score(s);
                if score.is_nan() {
                    return Err("a score that is a number (not NaN)");
                }
                if let Some((ps, pm)) = prev {
                    if !zset::before(ps, pm, score, m) {
                        return Err("sorted-set pairs in ascending (score, member) order");
                    }
                }
                prev = Some((score, m));
                longest = longest.max(m.len());
                if !seen.insert(m) {
                    return Err("sorted-set members that are distinct (a member repeats)");
                }
            }
        }
    }
    if w.pos != blob.len() {
        return Err("the end of the compact value after its last counted element");
    }
    Ok(CompactRef { ty, blob, longest })
}

/// A bounds-checked walk over a blob's elements.
struct Walk<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Walk<'a> {
    #[inline]
    fn next(&mut self) -> Result<&'a [u8], &'static str> {
        let mut len = 0u64;
        let mut shift = 0;
        loop {
            let Some(&byte) = self.b.get(self.pos) else {
                return Err("an element length, found the end of the compact value");
            };
            self.pos += 1;
            len |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            // 9 bytes carry 63 bits: more than any blob holds, and `compact::iter`'s
            // shifts stay in range.
            if shift > 56 {
                return Err("an element length of at most 9 varint bytes");
            }
        }
        let left = self.b.len() - self.pos;
        if len > left as u64 {
            return Err("an element whose bytes fit in the compact value");
        }
        let e = &self.b[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(e)
    }
}

/// Up to this many items are checked for distinctness in a table on the stack.
const SMALL: usize = 64;

/// A set of byte strings that only answers "seen before?".
// The small variant is large on purpose: it lives on the stack for one `check`, and boxing
// it would cost the allocation it exists to avoid.
#[allow(clippy::large_enum_variant)]
enum Distinct<'a> {
    /// Open addressing over `2 * SMALL` slots (at most half full): slot = index into `items`
    /// plus one, 0 = empty. A fixed hash seed is fine here: a crafted collision costs at
    /// most `SMALL`² comparisons.
    Small {
        slots: [u8; 2 * SMALL],
        items: SmallVec<[&'a [u8]; SMALL]>,
    },
    Large(hashbrown::HashSet<&'a [u8], RandomState>),
}

impl<'a> Distinct<'a> {
    fn new(n: usize) -> Self {
        if n <= SMALL {
            Distinct::Small {
                slots: [0; 2 * SMALL],
                items: SmallVec::new(),
            }
        } else {
            Distinct::Large(hashbrown::HashSet::with_capacity_and_hasher(
                n,
                RandomState::default(),
            ))
        }
    }

    /// Add `x`; false when it was already there.
    #[inline]
    fn insert(&mut self, x: &'a [u8]) -> bool {
        match self {
            Distinct::Small { slots, items } => {
                const MASK: usize = 2 * SMALL - 1;
                let mut s = FixedState::with_seed(0x5eed).hash_one(x) as usize & MASK;
                loop {
                    match slots[s] {
                        0 => {
                            // `new` sized this for the caller's count, at most SMALL.
                            debug_assert!(items.len() < SMALL);
                            items.push(x);
                            slots[s] = items.len() as u8;
                            return true;
                        }
                        i if items[i as usize - 1] == x => return false,
                        _ => s = (s + 1) & MASK,
                    }
                }
            }
            Distinct::Large(h) => h.insert(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(elems: &[&[u8]]) -> Vec<u8> {
        compact::build(elems.iter().copied())
    }

    #[test]
    fn good_blobs_pass() {
        let l = blob(&[b"a", b"a", b""]);
        assert_eq!(check(ObjType::List, &l).unwrap().elements(), 3);
        let s = blob(&[b"x", b"y", b"10"]);
        assert_eq!(check(ObjType::Set, &s).unwrap().longest, 2);
        let h = blob(&[b"f", b"v", b"g", b"v"]);
        assert!(check(ObjType::Hash, &h).is_ok());
        let z = zset::build_blob([(&b"b"[..], 1.0), (b"a", 2.5), (b"c", 2.5)]);
        assert!(check(ObjType::ZSet, &z).is_ok());
        assert!(check(ObjType::Set, &compact::EMPTY).is_ok());
    }

    #[test]
    fn bad_blobs_are_refused() {
        let bad = |ty, b: &[u8], why: &str| {
            let e = check(ty, b).expect_err("refused");
            assert!(e.contains(why), "{e}");
        };
        bad(ObjType::List, &[1, 0, 0], "at least 4 bytes");
        bad(ObjType::List, &[9, 0, 0, 0, 0], "count");
        bad(ObjType::List, &[1, 0, 0, 0, 5, b'a'], "fit");
        bad(
            ObjType::List,
            &[1, 0, 0, 0, 0, 0],
            "end of the compact value after",
        );
        bad(ObjType::List, &[1, 0, 0, 0, 0x80], "found the end");
        let mut long = vec![1, 0, 0, 0];
        long.extend([0x80; 9]);
        long.push(0);
        bad(ObjType::List, &long, "9 varint bytes");
        bad(ObjType::String, &compact::EMPTY, "collection");
        bad(ObjType::Set, &blob(&[b"a", b"b", b"a"]), "member repeats");
        bad(
            ObjType::Hash,
            &blob(&[b"f", b"1", b"f", b"2"]),
            "field repeats",
        );
        bad(ObjType::Hash, &blob(&[b"f", b"1", b"g"]), "even");
        bad(ObjType::ZSet, &blob(&[b"m"]), "even");
        bad(ObjType::ZSet, &blob(&[b"m", &[0; 9]]), "8 bytes");
        bad(
            ObjType::ZSet,
            &blob(&[b"m", &f64::NAN.to_le_bytes()]),
            "NaN",
        );
        let z = zset::build_blob([(&b"b"[..], 2.0), (b"a", 1.0)]);
        bad(ObjType::ZSet, &z, "ascending");
        let z = zset::build_blob([(&b"a"[..], 1.0), (b"a", 1.0)]);
        bad(ObjType::ZSet, &z, "ascending");
        let z = zset::build_blob([(&b"a"[..], 1.0), (b"b", 2.0), (b"a", 3.0)]);
        bad(ObjType::ZSet, &z, "member repeats");
    }

    #[test]
    fn distinct_small_and_large() {
        for n in [0usize, 1, 2, 63, 64, 65, 300] {
            let items: Vec<Vec<u8>> = (0..n).map(|i| i.to_string().into_bytes()).collect();
            let mut d = Distinct::new(n);
            assert!(items.iter().all(|x| d.insert(x)), "{n}");
            if n > 1 {
                // The last of the n is a repeat of the first.
                let mut d = Distinct::new(n);
                for x in &items[..n - 1] {
                    assert!(d.insert(x));
                }
                assert!(!d.insert(&items[0]), "{n}");
            }
        }
    }

    #[test]
    fn fits_follows_the_limits() {
        let lim = Limits::default();
        let ints: Vec<Vec<u8>> = (0..200).map(|i: i32| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = ints.iter().map(Vec::as_slice).collect();
        // 200 integers: past set-max-listpack-entries (128), within the intset's 512.
        let b = blob(&refs);
        assert!(check(ObjType::Set, &b).unwrap().fits(&lim));
        let mut with_text = refs.clone();
        with_text[0] = b"text";
        let b = blob(&with_text);
        assert!(!check(ObjType::Set, &b).unwrap().fits(&lim));
        let long = vec![b'x'; 65];
        let b = blob(&[b"f", &long]);
        assert!(!check(ObjType::Hash, &b).unwrap().fits(&lim));
        assert!(check(ObjType::Hash, &blob(&[b"f", b"v"]))
            .unwrap()
            .fits(&lim));
    }
}
