//! Redis streams (RDB types 15, 19 and 21) into storage's `StreamValue`.
//!
//! ```text
//! <len nodes> (<string: master ID, 16 bytes: ms, seq big-endian> <string: listpack>)*
//! <len length> <len last-id ms> <len last-id seq>
//! [19+: <len first-id ms> <len seq> <len max-deleted ms> <len seq> <len entries-added>]
//! <len groups> ( <string name> <len last-id ms> <len seq> [19+: <len entries-read>]
//!     <len pending> (<16-byte raw ID> <i64 LE delivery ms> <len delivery count>)*
//!     <len consumers> ( <string name> <i64 LE seen ms> [21: <i64 LE active ms>]
//!         <len pending> (<16-byte raw ID: one of the group's pending entries>)* )* )*
//!
//! a node's listpack (every number an integer element):
//!   count deleted nfields field{nfields} 0                   the master entry
//!   ( flags ms-delta seq-delta                               one per entry, deleted ones too
//!     ( value{nfields}                       flags & SAMEFIELDS: the master's field names
//!     | n (field value){n} )
//!     lp-count )*                            elements before it: 3+nfields, or 4+2n
//! flags: 1 DELETED (skipped), 2 SAMEFIELDS; ID = master ID + deltas (wrapping, as Redis)
//! ```
//!
//! Everything a stream relies on is checked, and a stream that breaks it is refused (the
//! caller names the key): node IDs ascending, entries ascending and not before their node,
//! the node counts and each `lp-count` matching the entries, the length matching the live
//! entries, the last ID not below them, `entries-added` not below the length; group and
//! consumer names unique, pending IDs ascending, every consumer's pending ID one of its
//! group's, owned by one consumer, and every group pending entry owned by one. Type 15 has
//! no entries-added, max-deleted ID or read counters: they are derived as Redis does.
//! The first ID (19+) and the consumers' active times (21) are read and dropped: rcache
//! derives the first ID from the entries and keeps no active time.

use std::collections::BTreeSet;
use std::io::Read;

use storage::types::stream::value::{GroupValue, Pairs, StreamValue};
use storage::types::stream::{StreamId, ENTRIES_READ_UNKNOWN};

use super::input::{Blob, Input};
use super::{listpack, show, ty, Bad, Elem, RdbError};

/// A stream ID in its raw form: ms and seq, big-endian.
const ID_SIZE: usize = 16;
/// Entry flags (`STREAM_ITEM_FLAG_*`).
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// A count is trusted for preallocation only up to this.
const PREALLOC_ITEMS: u64 = 1024;

/// The stream value after its key (type byte `t`).
pub(super) fn read<R: Read>(inp: &mut Input<R>, t: u8) -> Result<StreamValue, RdbError> {
    let v2 = t >= ty::STREAM_LISTPACKS_2;
    let v3 = t >= ty::STREAM_LISTPACKS_3;
    let nodes = inp.len("a stream's listpack count")?;
    let mut entries: Vec<(StreamId, Pairs)> = Vec::new();
    // The last entry read, deleted ones included: the order spans nodes.
    let mut prev: Option<StreamId> = None;
    for _ in 0..nodes {
        let at = inp.pos();
        let key = inp.blob("a stream node's master ID")?;
        let master = raw_id(&key.data).ok_or_else(|| {
            RdbError::new(
                at,
                format!(
                    "expected a {ID_SIZE}-byte stream node ID, found {} bytes",
                    key.data.len()
                ),
            )
        })?;
        if let Some(p) = prev.filter(|p| *p >= master) {
            return Err(RdbError::new(
                at,
                format!(
                    "expected stream nodes in ascending ID order, found node {master} after \
                     entry {p}"
                ),
            ));
        }
        let lp = inp.blob("a stream node's listpack")?;
        node(&lp, master, &mut entries, &mut prev)?;
    }

    let at = inp.pos();
    let length = inp.len("a stream's length")?;
    let last_id = len_id(inp, "a stream's last ID")?;
    let (max_deleted, entries_added) = if v2 {
        len_id(inp, "a stream's first ID")?;
        let max_deleted = len_id(inp, "a stream's max deleted ID")?;
        (max_deleted, inp.len("a stream's entries-added count")?)
    } else {
        (StreamId::MIN, length)
    };
    if length != entries.len() as u64 {
        return Err(RdbError::new(
            at,
            format!(
                "expected a stream length equal to its live entries ({}), found {length}",
                entries.len()
            ),
        ));
    }
    if let Some((id, _)) = entries.last().filter(|(id, _)| *id > last_id) {
        return Err(RdbError::new(
            at,
            format!("expected a stream last ID not below its last entry's {id}, found {last_id}"),
        ));
    }
    if entries_added < length {
        return Err(RdbError::new(
            at,
            format!(
                "expected a stream entries-added count not below its length {length}, found \
                 {entries_added}"
            ),
        ));
    }

    let first_id = entries.first().map(|(id, _)| *id);
    let ngroups = inp.len("a stream's consumer group count")?;
    let mut groups: Vec<GroupValue> = Vec::with_capacity(ngroups.min(PREALLOC_ITEMS) as usize);
    let mut names: BTreeSet<Vec<u8>> = BTreeSet::new();
    for _ in 0..ngroups {
        let at = inp.pos();
        let name = inp.string("a consumer group name")?;
        if !names.insert(name.clone()) {
            return Err(RdbError::new(
                at,
                format!(
                    "expected distinct consumer group names, found {} twice",
                    show(&name)
                ),
            ));
        }
        let g = group(inp, name, v2, v3, |id| {
            estimate_v1(length, last_id, first_id, id)
        })?;
        groups.push(g);
    }
    // Redis writes groups in name order already; rcache keeps them so too.
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(StreamValue {
        entries,
        last_id,
        max_deleted,
        entries_added,
        groups,
    })
}

/// One consumer group, after its name. `estimate` gives the read counter of a type-15 file.
fn group<R: Read>(
    inp: &mut Input<R>,
    name: Vec<u8>,
    v2: bool,
    v3: bool,
    estimate: impl Fn(StreamId) -> i64,
) -> Result<GroupValue, RdbError> {
    let in_group = |e: RdbError| RdbError {
        what: format!("{} (in consumer group {})", e.what, show(&name)),
        ..e
    };
    let last_id = len_id(inp, "a consumer group's last ID").map_err(in_group)?;
    let entries_read = if v2 {
        let at = inp.pos();
        match inp
            .len("a consumer group's entries-read count")
            .map_err(in_group)?
        {
            // Redis writes its "unknown" (-1) through an unsigned length.
            u64::MAX => ENTRIES_READ_UNKNOWN,
            n => i64::try_from(n).map_err(|_| {
                in_group(RdbError::new(
                    at,
                    format!("expected an entries-read count below 2^63 (or -1), found {n}"),
                ))
            })?,
        }
    } else {
        estimate(last_id)
    };

    // The group's pending entries: (ID, delivery time, delivery count, owner).
    let npel = inp
        .len("a consumer group's pending count")
        .map_err(in_group)?;
    let mut pel: Vec<(StreamId, u64, u64, Option<usize>)> =
        Vec::with_capacity(npel.min(PREALLOC_ITEMS) as usize);
    for _ in 0..npel {
        let at = inp.pos();
        let id = pending_id(inp, "a pending entry's ID").map_err(in_group)?;
        let time = ms_time(inp, "a pending entry's delivery time").map_err(in_group)?;
        let count = inp
            .len("a pending entry's delivery count")
            .map_err(in_group)?;
        if let Some((p, ..)) = pel.last().filter(|(p, ..)| *p >= id) {
            return Err(in_group(RdbError::new(
                at,
                format!("expected pending entry IDs in ascending order, found {id} after {p}"),
            )));
        }
        pel.push((id, time, count, None));
    }

    let nconsumers = inp
        .len("a consumer group's consumer count")
        .map_err(in_group)?;
    let mut consumers: Vec<(Vec<u8>, u64)> =
        Vec::with_capacity(nconsumers.min(PREALLOC_ITEMS) as usize);
    let mut seen: BTreeSet<Vec<u8>> = BTreeSet::new();
    for _ in 0..nconsumers {
        let at = inp.pos();
        let cname = inp.string("a consumer name").map_err(in_group)?;
        if !seen.insert(cname.clone()) {
            return Err(in_group(RdbError::new(
                at,
                format!(
                    "expected distinct consumer names, found {} twice",
                    show(&cname)
                ),
            )));
        }
        let index = consumers.len();
        let seen_time = ms_time(inp, "a consumer's seen time").map_err(in_group)?;
        if v3 {
            ms_time(inp, "a consumer's active time").map_err(in_group)?;
        }
        consumers.push((cname, seen_time));
        let n = inp.len("a consumer's pending count").map_err(in_group)?;
        for _ in 0..n {
            let at = inp.pos();
            let id = pending_id(inp, "a consumer's pending entry ID").map_err(in_group)?;
            let owner = match pel.binary_search_by(|(p, ..)| p.cmp(&id)) {
                Ok(i) => &mut pel[i].3,
                Err(_) => {
                    return Err(in_group(RdbError::new(
                        at,
                        format!(
                            "expected consumer {}'s pending entry {id} in its group's pending \
                             entries, found it missing",
                            show(&consumers[index].0)
                        ),
                    )))
                }
            };
            if let Some(other) = owner.replace(index) {
                return Err(in_group(RdbError::new(
                    at,
                    format!(
                        "expected each pending entry owned by one consumer, found {id} owned \
                         by {} and {}",
                        show(&consumers[other].0),
                        show(&consumers[index].0)
                    ),
                )));
            }
        }
    }
    let at = inp.pos();
    let mut pending = Vec::with_capacity(pel.len());
    for (id, time, count, owner) in pel {
        let Some(owner) = owner else {
            return Err(in_group(RdbError::new(
                at,
                format!(
                    "expected every pending entry owned by a consumer, found {id} owned by none"
                ),
            )));
        };
        pending.push((id, consumers[owner].0.clone(), time, count));
    }
    consumers.sort();
    Ok(GroupValue {
        name,
        last_id,
        entries_read,
        consumers,
        pending,
    })
}

/// The read counter of a group whose last delivered ID is `id`, in a type-15 stream (no
/// deletions recorded, entries added = length): Redis's
/// `streamEstimateDistanceFromFirstEverEntry` for that case.
fn estimate_v1(length: u64, last: StreamId, first: Option<StreamId>, id: StreamId) -> i64 {
    let Some(first) = first.filter(|_| length > 0) else {
        return 0;
    };
    let length = i64::try_from(length).unwrap_or(i64::MAX);
    if id == last {
        length
    } else if id > last {
        ENTRIES_READ_UNKNOWN
    } else if id < first {
        0
    } else if id == first {
        1
    } else {
        ENTRIES_READ_UNKNOWN
    }
}

/// A stream ID from 16 big-endian bytes.
fn raw_id(b: &[u8]) -> Option<StreamId> {
    let b: &[u8; ID_SIZE] = b.try_into().ok()?;
    let (ms, seq) = b.split_at(8);
    Some(StreamId::new(
        u64::from_be_bytes(ms.try_into().ok()?),
        u64::from_be_bytes(seq.try_into().ok()?),
    ))
}

fn pending_id<R: Read>(inp: &mut Input<R>, what: &str) -> Result<StreamId, RdbError> {
    let b: [u8; ID_SIZE] = inp.array(what)?;
    Ok(raw_id(&b).unwrap_or_default())
}

/// An ID written as two lengths (ms, seq).
fn len_id<R: Read>(inp: &mut Input<R>, what: &str) -> Result<StreamId, RdbError> {
    let ms = inp.len(&format!("{what} (ms)"))?;
    let seq = inp.len(&format!("{what} (seq)"))?;
    Ok(StreamId::new(ms, seq))
}

/// A millisecond time: 8 bytes little-endian, signed in Redis (kept as its bits, so a
/// negative time reads back as the same negative number).
fn ms_time<R: Read>(inp: &mut Input<R>, what: &str) -> Result<u64, RdbError> {
    Ok(i64::from_le_bytes(inp.array(what)?) as u64)
}

/// The elements of a node's listpack, walked with errors that say which entry.
struct Walk<'a> {
    elems: Vec<Elem<'a>>,
    i: usize,
    /// The entry being read (0 = the master entry), for messages.
    entry: usize,
}

impl<'a> Walk<'a> {
    fn next(&mut self, what: &str) -> Result<Elem<'a>, String> {
        let e = self.elems.get(self.i).copied().ok_or_else(|| {
            format!(
                "expected {what} (element {} of entry {}), found the end of the listpack",
                self.i, self.entry
            )
        })?;
        self.i += 1;
        Ok(e)
    }

    fn int(&mut self, what: &str) -> Result<i64, String> {
        match self.next(what)? {
            Elem::Int(v) => Ok(v),
            // Redis always writes these as integers, and reads text ones too.
            Elem::Str(s) => std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| {
                    format!(
                        "expected {what} (an integer; element {} of entry {}), found {}",
                        self.i - 1,
                        self.entry,
                        show(s)
                    )
                }),
        }
    }

    /// A count that the rest of the listpack can hold (`per` elements each).
    fn count(&mut self, what: &str, per: usize) -> Result<usize, String> {
        let n = self.int(what)?;
        let left = (self.elems.len() - self.i) / per;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| {
                format!(
                    "expected {what} of at most {left} (what the listpack holds; entry {}), \
                     found {n}",
                    self.entry
                )
            })
    }
}

/// One node: its listpack's entries (with IDs relative to `master`) appended to `entries`.
fn node(
    lp: &Blob,
    master: StreamId,
    entries: &mut Vec<(StreamId, Pairs)>,
    prev: &mut Option<StreamId>,
) -> Result<(), RdbError> {
    const KIND: &str = "stream node listpack";
    let elems = listpack::parse(&lp.data).map_err(|b| lp.err(KIND, b))?;
    if elems.is_empty() {
        return Err(lp.err(
            KIND,
            Bad::new(0, "expected a master entry, found an empty listpack"),
        ));
    }
    let mut w = Walk {
        elems,
        i: 0,
        entry: 0,
    };
    walk(&mut w, master, entries, prev).map_err(|what| lp.err(KIND, Bad::new(0, what)))
}

fn walk(
    w: &mut Walk<'_>,
    master: StreamId,
    entries: &mut Vec<(StreamId, Pairs)>,
    prev: &mut Option<StreamId>,
) -> Result<(), String> {
    let count = w.int("the master entry's live count")?;
    let deleted = w.int("the master entry's deleted count")?;
    let nfields = w.count("the master entry's field count", 1)?;
    let mut master_fields = Vec::with_capacity(nfields);
    for _ in 0..nfields {
        master_fields.push(w.next("a master entry field")?.to_vec());
    }
    let zero = w.int("the master entry's terminator 0")?;
    if zero != 0 {
        return Err(format!(
            "expected the master entry's terminator 0, found {zero}"
        ));
    }
    let (mut live, mut dead) = (0i64, 0i64);
    while w.i < w.elems.len() {
        w.entry += 1;
        let flags = w.int("an entry's flags")?;
        if flags & !(FLAG_DELETED | FLAG_SAMEFIELDS) != 0 {
            return Err(format!(
                "expected entry flags of bits 1 (deleted) and 2 (same fields), found {flags} \
                 (entry {})",
                w.entry
            ));
        }
        let ms = master.ms.wrapping_add(w.int("an entry's ms delta")? as u64);
        let seq = master
            .seq
            .wrapping_add(w.int("an entry's seq delta")? as u64);
        let id = StreamId::new(ms, seq);
        if id < master {
            return Err(format!(
                "expected entry IDs not below their node's {master}, found {id} (entry {})",
                w.entry
            ));
        }
        if let Some(p) = prev.filter(|p| *p >= id) {
            return Err(format!(
                "expected entry IDs in ascending order, found {id} after {p} (entry {})",
                w.entry
            ));
        }
        *prev = Some(id);
        let mut pairs: Pairs = Vec::new();
        if flags & FLAG_SAMEFIELDS != 0 {
            pairs.reserve(master_fields.len());
            for f in &master_fields {
                pairs.push((f.clone(), w.next("an entry's value")?.to_vec()));
            }
        } else {
            let n = w.count("an entry's field count", 2)?;
            pairs.reserve(n);
            for _ in 0..n {
                let f = w.next("an entry's field")?.to_vec();
                pairs.push((f, w.next("an entry's value")?.to_vec()));
            }
        }
        let n = pairs.len() as i64;
        let want = if flags & FLAG_SAMEFIELDS != 0 {
            3 + n
        } else {
            4 + 2 * n
        };
        let lp_count = w.int("an entry's lp-count")?;
        if lp_count != want {
            return Err(format!(
                "expected the lp-count {want} (the entry's elements), found {lp_count} (entry {})",
                w.entry
            ));
        }
        if flags & FLAG_DELETED != 0 {
            dead += 1;
            continue;
        }
        if pairs.is_empty() {
            return Err(format!(
                "expected a live entry with at least one field, found none (entry {id})"
            ));
        }
        live += 1;
        entries.push((id, pairs));
    }
    if (live, dead) != (count, deleted) {
        return Err(format!(
            "expected the master entry's counts to match its entries ({live} live, {dead} \
             deleted), found {count} live, {deleted} deleted"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_15_read_counters_are_estimated_as_redis_does() {
        let first = Some(StreamId::new(5, 0));
        let last = StreamId::new(9, 0);
        assert_eq!(estimate_v1(0, StreamId::MIN, None, StreamId::MIN), 0);
        assert_eq!(estimate_v1(3, last, first, last), 3);
        assert_eq!(estimate_v1(3, last, first, StreamId::new(10, 0)), -1);
        assert_eq!(estimate_v1(3, last, first, StreamId::new(1, 0)), 0);
        assert_eq!(estimate_v1(3, last, first, StreamId::new(5, 0)), 1);
        assert_eq!(estimate_v1(3, last, first, StreamId::new(6, 0)), -1);
    }

    #[test]
    fn raw_ids_are_big_endian() {
        let mut b = [0u8; 16];
        b[7] = 1;
        b[15] = 2;
        assert_eq!(raw_id(&b), Some(StreamId::new(1, 2)));
        assert_eq!(raw_id(&b[..15]), None);
    }
}
