//! A stream in owned, encoding-independent form (`StreamValue`), and its DUMP/snapshot body
//! (tag 0x06, `ObjType::Stream`):
//!
//! ```text
//! nentries (ms seq npairs (field value)*)*          live entries, ascending IDs
//! last_id.ms last_id.seq max_deleted.ms max_deleted.seq entries_added
//! ngroups (name last.ms last.seq entries_read+1
//!          nconsumers (name seen_time)*
//!          npending (ms seq consumer_index delivery_time delivery_count)*)*
//! ```
//! Numbers are LEB128 varints (up to 10 bytes). A pending entry names its consumer by index
//! into the group's consumer list. Decoding checks everything a stream relies on — IDs
//! ascending and not past the last ID, `entries_added` not below the length, unique group
//! and consumer names, pending entries ascending with a known owner — so a hostile payload
//! is refused instead of building a stream that breaks later.

use super::{Group, NodeLimits, StreamId, StreamObj};
use crate::dump::{put_bytes, put_len, Reader, Why};
use std::sync::Arc;

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct StreamValue {
    pub entries: Vec<(StreamId, Pairs)>,
    pub last_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: Vec<GroupValue>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct GroupValue {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    pub entries_read: i64,
    /// (name, seen time)
    pub consumers: Vec<(Vec<u8>, u64)>,
    /// (ID, consumer name, delivery time, delivery count)
    pub pending: Vec<(StreamId, Vec<u8>, u64, u64)>,
}

fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_u64(out, id.ms);
    put_u64(out, id.seq);
}

/// Write the body of `s` straight from the stream.
pub fn write_body(s: &StreamObj, out: &mut Vec<u8>) {
    put_len(out, s.len() as usize);
    s.range(StreamId::MIN, StreamId::MAX, false, |e| {
        put_id(out, e.id);
        put_len(out, e.len());
        e.for_each(|f, v| {
            put_bytes(out, f);
            put_bytes(out, v);
        });
        true
    });
    put_id(out, s.last_id);
    put_id(out, s.max_deleted);
    put_u64(out, s.entries_added);
    put_len(out, s.groups.len());
    for (name, g) in &s.groups {
        put_bytes(out, name);
        put_id(out, g.last_id);
        put_u64(out, (g.entries_read + 1) as u64);
        put_len(out, g.consumers.len());
        let mut index = std::collections::HashMap::with_capacity(g.consumers.len());
        for (i, (c, info)) in g.consumers.iter().enumerate() {
            put_bytes(out, c);
            put_u64(out, info.seen_time);
            index.insert(&c[..], i);
        }
        put_len(out, g.pel.len());
        for (id, n) in &g.pel {
            put_id(out, *id);
            put_len(out, index.get(&n.consumer[..]).copied().unwrap_or(0));
            put_u64(out, n.delivery_time);
            put_u64(out, n.delivery_count);
        }
    }
}

impl StreamValue {
    /// The owned form of a stream.
    pub fn of(s: &StreamObj) -> StreamValue {
        let mut entries = Vec::with_capacity(s.len() as usize);
        s.range(StreamId::MIN, StreamId::MAX, false, |e| {
            entries.push((e.id, e.to_pairs()));
            true
        });
        let groups = s
            .groups
            .iter()
            .map(|(name, g)| GroupValue {
                name: name.to_vec(),
                last_id: g.last_id,
                entries_read: g.entries_read,
                consumers: g
                    .consumers
                    .iter()
                    .map(|(c, i)| (c.to_vec(), i.seen_time))
                    .collect(),
                pending: g
                    .pel
                    .iter()
                    .map(|(id, n)| (*id, n.consumer.to_vec(), n.delivery_time, n.delivery_count))
                    .collect(),
            })
            .collect();
        StreamValue {
            entries,
            last_id: s.last_id,
            max_deleted: s.max_deleted,
            entries_added: s.entries_added,
            groups,
        }
    }

    /// Encode as `write_body` does.
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_body(
            &self.to_stream(NodeLimits {
                max_bytes: 4096,
                max_entries: 100,
            }),
            out,
        );
    }

    /// Build the stream (the value was checked by `decode` or built by us).
    pub fn to_stream(&self, lim: NodeLimits) -> StreamObj {
        let mut s = StreamObj::new();
        for (id, pairs) in &self.entries {
            let p: Vec<(&[u8], &[u8])> = pairs
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect();
            s.append(*id, &p, lim);
        }
        s.last_id = self.last_id;
        s.max_deleted = self.max_deleted;
        s.entries_added = self.entries_added;
        for gv in &self.groups {
            let mut g = Group::new(gv.last_id, gv.entries_read);
            for (c, seen) in &gv.consumers {
                let (_, _) = g.consumer(c, *seen);
            }
            for (id, c, time, count) in &gv.pending {
                let owner: Arc<[u8]> = g
                    .consumers
                    .get_key_value(c.as_slice())
                    .map(|(k, _)| k.clone())
                    .unwrap_or_else(|| Arc::from(c.as_slice()));
                g.deliver(*id, &owner, *time);
                if let Some(n) = g.pel.get_mut(id) {
                    n.delivery_count = *count;
                }
            }
            s.groups.insert(Arc::from(gv.name.as_slice()), g);
        }
        s.refresh_mem();
        s
    }
}

fn get_id(r: &mut Reader<'_>) -> Result<StreamId, Why> {
    Ok(StreamId::new(r.u64()?, r.u64()?))
}

/// Decode and check a stream body; the whole slice must be consumed by the caller's reader.
pub(crate) fn decode(r: &mut Reader<'_>) -> Result<StreamValue, Why> {
    let n = r.count(3)?;
    let mut entries = Vec::with_capacity(n);
    let mut prev: Option<StreamId> = None;
    for _ in 0..n {
        let id = get_id(r)?;
        if prev.is_some_and(|p| id <= p) {
            return Err("stream entry IDs in ascending order");
        }
        prev = Some(id);
        let np = r.count(2)?;
        let mut pairs = Vec::with_capacity(np);
        for _ in 0..np {
            let f = r.bytes()?.to_vec();
            let v = r.bytes()?.to_vec();
            pairs.push((f, v));
        }
        if pairs.is_empty() {
            return Err("a stream entry with at least one field");
        }
        entries.push((id, pairs));
    }
    let last_id = get_id(r)?;
    if prev.is_some_and(|p| p > last_id) {
        return Err("a stream last ID not below its entries'");
    }
    let max_deleted = get_id(r)?;
    let entries_added = r.u64()?;
    if entries_added < entries.len() as u64 {
        return Err("a stream's added-entries count not below its length");
    }
    let ng = r.count(4)?;
    let mut groups: Vec<GroupValue> = Vec::with_capacity(ng);
    let mut names: Vec<Vec<u8>> = Vec::with_capacity(ng);
    for _ in 0..ng {
        let name = r.bytes()?.to_vec();
        if names.last().is_some_and(|p: &Vec<u8>| *p >= name) {
            return Err("consumer group names unique and in order");
        }
        names.push(name.clone());
        let last = get_id(r)?;
        let er = r.u64()?;
        if er > i64::MAX as u64 {
            return Err("a group read counter that fits 63 bits");
        }
        let entries_read = er as i64 - 1;
        let nc = r.count(2)?;
        let mut consumers: Vec<(Vec<u8>, u64)> = Vec::with_capacity(nc);
        for _ in 0..nc {
            let c = r.bytes()?.to_vec();
            let seen = r.u64()?;
            if consumers.last().is_some_and(|(p, _)| *p >= c) {
                return Err("consumer names unique and in order");
            }
            consumers.push((c, seen));
        }
        let np = r.count(5)?;
        let mut pending = Vec::with_capacity(np);
        let mut prev: Option<StreamId> = None;
        for _ in 0..np {
            let id = get_id(r)?;
            if prev.is_some_and(|p| id <= p) {
                return Err("pending entry IDs in ascending order");
            }
            prev = Some(id);
            let idx = r.len()?;
            let Some((c, _)) = consumers.get(idx) else {
                return Err("a pending entry owned by a known consumer");
            };
            let c = c.clone();
            let time = r.u64()?;
            let count = r.u64()?;
            pending.push((id, c, time, count));
        }
        groups.push(GroupValue {
            name,
            last_id: last,
            entries_read,
            consumers,
            pending,
        });
    }
    Ok(StreamValue {
        entries,
        last_id,
        max_deleted,
        entries_added,
        groups,
    })
}
