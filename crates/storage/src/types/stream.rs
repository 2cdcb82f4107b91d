//! Streams: an append-only log of entries with IDs, and its consumer groups.
//!
//! Layout (as Redis's rax of listpacks): an ordered tree of packed blocks (`block`), keyed by
//! each block's first entry ID, each holding up to `stream-node-max-entries` entries /
//! `stream-node-max-bytes` bytes with field names shared by entries that repeat them. A
//! stream is always a boxed collection (`Collection::Stream`) and, unlike other types, is
//! kept when it has no entries (Redis keeps empty streams: their last ID and groups matter).
//!
//! ```text
//! StreamObj ─ blocks: BTreeMap<first ID, Block>   entries, deleted ones flagged in place
//!           ─ len, last_id, first_id, max_deleted, entries_added   (Redis's stream fields)
//!           ─ groups: BTreeMap<name, Group>   (`group`: PEL + consumers)
//! ```
//! `value` holds the DUMP/snapshot body of a stream. Commands (crates/commands/src/stream*)
//! implement Redis's semantics over the operations here; memory is accounted incrementally
//! for entries and per command for groups (`refresh_mem`, O(groups + consumers)).

mod block;
pub mod group;
#[cfg(test)]
mod tests;
pub mod value;

use crate::entry::{Entry, ObjType};
use crate::types::{Collection, Limits};
use block::Block;
pub use block::EntryRef;
pub use group::{Consumer, Group, Nack, ENTRIES_READ_UNKNOWN};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A stream entry ID: milliseconds and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, or None past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, or None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// `ms-seq`, as Redis writes IDs.
    pub fn format(self, out: &mut Vec<u8>) {
        let mut b = itoa::Buffer::new();
        out.extend_from_slice(b.format(self.ms).as_bytes());
        out.push(b'-');
        out.extend_from_slice(b.format(self.seq).as_bytes());
    }

    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        self.format(&mut v);
        v
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// How blocks are sized: `stream-node-max-bytes` and `stream-node-max-entries` (0 = no
/// limit on that side, as Redis).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl From<&Limits> for NodeLimits {
    fn from(l: &Limits) -> NodeLimits {
        NodeLimits {
            max_bytes: l.stream_node_bytes,
            max_entries: l.stream_node_entries,
        }
    }
}

/// A trim request (XADD's and XTRIM's MAXLEN / MINID options).
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Debug, Default)]
pub struct StreamObj {
    blocks: BTreeMap<StreamId, Block>,
    len: u64,
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty), as Redis's `first_id`.
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Arc<[u8]>, Group>,
    blocks_mem: usize,
    groups_mem: usize,
}

impl StreamObj {
    pub fn new() -> StreamObj {
        StreamObj::default()
    }

    /// Live entries.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Blocks in the tree (XINFO's `radix-tree-keys`).
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    pub fn mem_usage(&self) -> usize {
        self.blocks_mem + self.groups_mem
    }

    /// Recount the groups' share of memory (after a command changed groups).
    pub fn refresh_mem(&mut self) {
        self.groups_mem = self.groups.iter().map(|(k, g)| g.mem(k.len())).sum();
    }

    /// The ID `*` gives at `now_ms`: the clock if it is ahead of the last ID, else the last
    /// ID's successor. None when the stream has used the last possible ID.
    pub fn next_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.incr()
        }
    }

    /// Append an entry with `id` (greater than `last_id`: the caller checked).
    pub fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])], lim: NodeLimits) {
        debug_assert!(id > self.last_id || (self.last_id.is_zero() && self.entries_added == 0));
        let need = Block::entry_size(pairs);
        let fits = self.blocks.last_key_value().is_some_and(|(_, b)| {
            (lim.max_entries == 0 || (b.total as usize) < lim.max_entries)
                && (lim.max_bytes == 0 || b.buf.len() + need <= lim.max_bytes)
        });
        if fits {
            let mut e = self.blocks.last_entry().expect("checked");
            let master = *e.key();
            let b = e.get_mut();
            let before = b.mem();
            b.push(master, id, pairs);
            self.blocks_mem = self.blocks_mem + b.mem() - before;
        } else {
            // The tail block is sealed: give back its slack.
            if let Some(mut e) = self.blocks.last_entry() {
                let b = e.get_mut();
                let before = b.mem();
                b.buf.shrink_to_fit();
                self.blocks_mem = self.blocks_mem + b.mem() - before;
            }
            let b = Block::new(id, pairs);
            self.blocks_mem += b.mem();
            self.blocks.insert(id, b);
        }
        if self.len == 0 {
            self.first_id = id;
        }
        self.len += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Visit live entries with IDs in `[start, end]`, ascending (or descending with `rev`);
    /// `f` returns false to stop.
    pub fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(EntryRef<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        // The block holding `start` is the last one keyed at or before it.
        let from = self
            .blocks
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        if !rev {
            for (master, b) in self.blocks.range(from..=end) {
                if b.live == 0 || b.last < start {
                    continue;
                }
                let go = b.scan(*master, |e| {
                    if e.id > end {
                        return false;
                    }
                    if e.deleted || e.id < start {
                        return true;
                    }
                    f(e)
                });
                if !go {
                    return;
                }
            }
        } else {
            for (master, b) in self.blocks.range(from..=end).rev() {
                if b.live == 0 || b.last < start {
                    continue;
                }
                let go = b.scan_rev(*master, |e| {
                    if e.id < start {
                        return false;
                    }
                    if e.deleted || e.id > end {
                        return true;
                    }
                    f(e)
                });
                if !go {
                    return;
                }
            }
        }
    }

    /// The live entry with this ID.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let mut found = None;
        self.range(id, id, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The first (or last) live entry's ID.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        let mut found = None;
        self.range(StreamId::MIN, StreamId::MAX, last, |e| {
            found = Some(e.id);
            false
        });
        found
    }

    /// Delete one entry. Whether it was there (live). Keeps `first_id` and `len`; the caller
    /// (XDEL) updates `max_deleted`.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, _)) = self.blocks.range(..=id).next_back() else {
            return false;
        };
        let b = self.blocks.get_mut(&master).expect("found");
        let mut at = None;
        b.scan(master, |e| {
            if e.id == id {
                if !e.deleted {
                    at = Some(e.at);
                }
                return false;
            }
            e.id < id
        });
        let Some(at) = at else { return false };
        b.mark_deleted(at);
        let empty = b.live == 0;
        if empty {
            let b = self.blocks.remove(&master).expect("found");
            self.blocks_mem -= b.mem();
        }
        self.len -= 1;
        if self.len == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.edge_id(false).unwrap_or_default();
        }
        true
    }

    /// Trim from the oldest entries (Redis's `streamTrim`): whole blocks while they are
    /// entirely past the bound, then — unless `approx` — entries inside the next block.
    /// `limit` (> 0) caps the entries removed with whole blocks. Returns entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some(mut e) = self.blocks.first_entry() {
            if let Trim::MaxLen(max) = how {
                if self.len <= max {
                    break;
                }
            }
            let master = *e.key();
            let b = e.get_mut();
            let entries = b.live as u64;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len - entries >= max,
                Trim::MinId(min) => b.last < min,
            };
            if whole {
                let b = e.remove();
                self.blocks_mem -= b.mem();
                self.len -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut marks = Vec::new();
            let mut len = self.len;
            b.scan(master, |x| {
                let stop = match how {
                    Trim::MaxLen(max) => len <= max,
                    Trim::MinId(min) => x.id >= min,
                };
                if stop {
                    return false;
                }
                if !x.deleted {
                    marks.push(x.at);
                    len -= 1;
                }
                true
            });
            for at in &marks {
                b.mark_deleted(*at);
            }
            let n = marks.len() as u64;
            self.len -= n;
            deleted += n;
            if b.live == 0 {
                let b = e.remove();
                self.blocks_mem -= b.mem();
            }
            break;
        }
        if self.len == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(false).unwrap_or_default();
        }
        deleted
    }

    /// Whether `[start, end]` may hold a deleted entry (Redis's `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.len == 0 || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// The logical read counter of `id` when it can be known (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`), else `ENTRIES_READ_UNKNOWN`.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.len == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        }
        if id > self.last_id {
            return ENTRIES_READ_UNKNOWN;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.len) as i64;
            }
            if id == self.first_id {
                return (self.entries_added - self.len + 1) as i64;
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// A group's lag (entries not yet delivered to it), when it can be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN
            && !self.range_has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != ENTRIES_READ_UNKNOWN).then(|| self.entries_added as i64 - read)
    }

    /// A group moves its last delivered ID to `id` (delivering it): Redis's counter update.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.range_has_tombstones(id, StreamId::MAX) {
            g.entries_read += 1;
        } else if self.entries_added > 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
    }
}

/// A new empty stream entry for `key`.
pub fn new_entry(key: &[u8], slot: u16, lru: u32) -> Entry {
    Entry::new_boxed(
        key,
        Box::new(Collection::Stream(StreamObj::new())),
        slot,
        lru,
    )
}

/// The stream an entry holds (the caller checked the type).
pub fn of(e: &Entry) -> &StreamObj {
    match e.collection() {
        Some(Collection::Stream(s)) => s,
        _ => panic!("not a stream entry: {:?}", e.obj_type()),
    }
}

/// The stream an entry holds, mutably.
pub fn of_mut(e: &mut Entry) -> &mut StreamObj {
    debug_assert_eq!(e.obj_type(), ObjType::Stream);
    match e.collection_mut() {
        Some(Collection::Stream(s)) => s,
        _ => panic!("not a stream entry"),
    }
}
