//! Type-independent views of a value, for commands that treat every type alike: DUMP and
//! RESTORE (`dump::Value`), snapshots (`body_tag`, `write_body`: a value's DUMP body written
//! straight from the entry), SORT (its elements, hash-field lookups for BY/GET patterns).
//! They dispatch on the entry's type and encoding to each type's module.

use super::hash::HashRef;
use super::set::SetRef;
use super::zset::ZRef;
use super::{hash, list, set, stream, zset, Limits};
use crate::dump::{self, Tag, Value, ValueRef};
use crate::entry::{Enc, Entry, ObjType};
use foldhash::fast::RandomState;

/// The value of an entry in owned, encoding-independent form.
pub fn to_value(e: &Entry) -> Value {
    match e.obj_type() {
        ObjType::String => Value::String(e.value().to_vec()),
        ObjType::List => Value::List(list::elements(e).into_iter().map(<[u8]>::to_vec).collect()),
        ObjType::ZSet => Value::ZSet(
            ZRef::of(e)
                .to_vec()
                .into_iter()
                .map(|(m, s)| (m.to_vec(), s))
                .collect(),
        ),
        ObjType::Set => Value::Set(SetRef::of(e).iter().map(<[u8]>::to_vec).collect()),
        ObjType::Hash => Value::Hash(
            HashRef::of(e)
                .iter()
                .map(|(f, v)| (f.to_vec(), v.to_vec()))
                .collect(),
        ),
        ObjType::Stream => Value::Stream(Box::new(stream::value::StreamValue::of(stream::of(e)))),
    }
}

/// The tag `write_body` writes `e` under. With `compact`, a collection held in its compact
/// encoding gets its compact-blob tag (snapshots: loaded back with one copy); otherwise, and
/// always for large collections and strings, the element-by-element tag (DUMP: readable by
/// every rcache's RESTORE).
pub fn body_tag(e: &Entry, compact: bool) -> Tag {
    let ty = e.obj_type();
    match Tag::compact(ty) {
        Some(t) if compact && e.enc() == Enc::Compact => t,
        _ => Tag::elements(ty),
    }
}

/// Append `e`'s DUMP body for `tag` (from `body_tag`) to `out`, straight from the entry:
/// the compact blob as it is, or the elements without building a `Value`.
pub fn write_body(e: &Entry, tag: Tag, out: &mut Vec<u8>) {
    debug_assert_eq!(tag, body_tag(e, tag.is_compact()));
    if tag.is_compact() {
        out.extend_from_slice(e.value());
        return;
    }
    match e.obj_type() {
        ObjType::String => dump::put_bytes(out, e.value()),
        ObjType::List => {
            dump::put_len(out, list::len(e));
            let n = list::len(e);
            if n > 0 {
                list::for_range(e, 0, n - 1, |v| dump::put_bytes(out, v));
            }
        }
        ObjType::Set => {
            let s = SetRef::of(e);
            dump::put_len(out, s.len());
            s.iter().for_each(|m| dump::put_bytes(out, m));
        }
        ObjType::ZSet => {
            let z = ZRef::of(e);
            dump::put_len(out, z.len());
            z.for_range(0, z.len(), false, |m, sc| {
                dump::put_bytes(out, m);
                out.extend_from_slice(&sc.to_le_bytes());
            });
        }
        ObjType::Stream => stream::value::write_body(stream::of(e), out),
        ObjType::Hash => {
            let h = HashRef::of(e);
            dump::put_len(out, h.len());
            h.iter().for_each(|(f, v)| {
                dump::put_bytes(out, f);
                dump::put_bytes(out, v);
            });
        }
    }
}

/// Build an entry for `key` holding `v`, in the encoding the thresholds call for.
pub fn from_value(key: &[u8], slot: u16, lru: u32, v: &Value, limits: &Limits) -> Entry {
    from_value_ref(key, slot, lru, &v.as_ref(), limits)
}

/// `from_value` for a borrowed value (a loader's, decoded in place).
pub fn from_value_ref(key: &[u8], slot: u16, lru: u32, v: &ValueRef<'_>, limits: &Limits) -> Entry {
    match v {
        ValueRef::String(s) => Entry::new_string(key, s, slot, lru),
        ValueRef::List(items) => {
            list::new_entry(key, items.iter().copied(), false, slot, lru, limits)
        }
        ValueRef::ZSet(items) => {
            // A payload's pairs may come in any order and repeat a member: the last score
            // wins, then the blob or skip list is built sorted.
            let mut last: hashbrown::HashMap<&[u8], f64, RandomState> =
                hashbrown::HashMap::with_capacity_and_hasher(items.len(), RandomState::default());
            for &(m, sc) in items {
                last.insert(m, sc);
            }
            let mut sorted: Vec<(&[u8], f64)> = last.into_iter().collect();
            sorted.sort_by(|a, b| {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.0.cmp(b.0))
            });
            zset::entry_from_sorted(key, slot, lru, &sorted, limits)
        }
        ValueRef::Set(items) => {
            let mut seen: hashbrown::HashSet<&[u8], RandomState> =
                hashbrown::HashSet::with_capacity_and_hasher(items.len(), RandomState::default());
            let members: Vec<&[u8]> = items.iter().copied().filter(|m| seen.insert(*m)).collect();
            match set::build(&members, limits) {
                set::Built::Compact(blob) => {
                    Entry::new_compact(key, ObjType::Set, &blob, slot, lru)
                }
                set::Built::Boxed(c) => Entry::new_boxed(key, c, slot, lru),
            }
        }
        ValueRef::Hash(items) => {
            let mut e = hash::new_entry(key, slot, lru);
            for &(f, v) in items {
                hash::set(&mut e, f, v, limits);
            }
            e
        }
        ValueRef::Stream(s) => Entry::new_boxed(
            key,
            Box::new(super::Collection::Stream(s.to_stream(limits.into()))),
            slot,
            lru,
        ),
        ValueRef::Compact(c) => {
            // One copy of the checked blob; converted (rarely: the settings were lowered
            // since the save) when the current limits would not keep it compact.
            let ty = c.obj_type();
            let mut e = Entry::new_compact(key, ty, c.blob(), slot, lru);
            if !c.fits(limits) {
                match ty {
                    ObjType::List => list::convert(&mut e),
                    ObjType::Set => set::convert(&mut e, 0),
                    ObjType::ZSet => zset::convert(&mut e),
                    ObjType::Hash => hash::convert(&mut e),
                    ObjType::String | ObjType::Stream => {
                        unreachable!("a compact value is a collection")
                    }
                }
            }
            e
        }
    }
}

/// A collection's elements in SORT's input order: a list's order, a set's iteration order,
/// a sorted set's ascending score order. `None` for a string (SORT answers WRONGTYPE).
pub fn sort_input(e: &Entry) -> Option<Vec<Vec<u8>>> {
    match to_value(e) {
        Value::String(_) | Value::Hash(_) | Value::Stream(_) => None,
        Value::List(v) | Value::Set(v) => Some(v),
        Value::ZSet(v) => Some(v.into_iter().map(|(m, _)| m).collect()),
    }
}

/// A hash's field (SORT's `key->field` patterns).
pub fn hash_field(e: &Entry, field: &[u8]) -> Option<Vec<u8>> {
    if e.obj_type() != ObjType::Hash {
        return None;
    }
    HashRef::of(e).get(field).map(<[u8]>::to_vec)
}
