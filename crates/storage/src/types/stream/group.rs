//! Consumer groups of a stream: the group's last delivered ID and read counter, its pending
//! entries list (PEL: delivered, not yet acknowledged), and its consumers, each with its own
//! view of the PEL. As in Redis, a pending entry is indexed twice — in the group's PEL (by
//! ID, with owner, delivery time and count) and in its owner's PEL — so XACK, XPENDING for
//! one consumer and XCLAIM are all ordered-map operations.
//!
//! Names are `Arc<[u8]>`: a pending entry names its owner without an allocation of its own.

use super::StreamId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Redis's SCG_INVALID_ENTRIES_READ: the group's read counter is not known.
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

#[derive(Clone, Debug)]
pub struct Nack {
    pub consumer: Arc<[u8]>,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Unix ms the consumer was last seen (read or claimed).
    pub seen_time: u64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries read by the group, or `ENTRIES_READ_UNKNOWN`.
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Arc<[u8]>, Consumer>,
}

/// Bytes accounted per pending entry (two tree slots), per consumer and per group, beyond
/// names.
pub(crate) const NACK_MEM: usize = 80;
pub(crate) const CONSUMER_MEM: usize = 96;
pub(crate) const GROUP_MEM: usize = 128;

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer's name as the group holds it, creating the consumer (seen `now`) if
    /// missing. Returns the name and whether it was created.
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (Arc<[u8]>, bool) {
        if let Some((k, c)) = self.consumers.get_key_value(name) {
            let k = k.clone();
            let _ = c;
            return (k, false);
        }
        let k: Arc<[u8]> = Arc::from(name);
        self.consumers.insert(
            k.clone(),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        (k, true)
    }

    /// Mark `name` seen at `now` (a lookup that refreshes, as Redis's SLC_DEFAULT).
    pub fn touch(&mut self, name: &[u8], now: u64) {
        if let Some(c) = self.consumers.get_mut(name) {
            c.seen_time = now;
        }
    }

    /// Record a delivery of `id` to `owner` at `now`: a new pending entry with count 1, or
    /// an existing one reassigned to `owner` with its count reset to 1 (Redis: the admin
    /// may have moved the group's last ID back with SETID).
    pub fn deliver(&mut self, id: StreamId, owner: &Arc<[u8]>, now: u64) {
        let nack = Nack {
            consumer: owner.clone(),
            delivery_time: now,
            delivery_count: 1,
        };
        if let Some(old) = self.pel.insert(id, nack) {
            if let Some(c) = self.consumers.get_mut(&old.consumer) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(owner) {
            c.pel.insert(id);
        }
    }

    /// Acknowledge `id`: whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Give pending entry `id` to `owner` (already a consumer), creating it when `create`
    /// (XCLAIM FORCE). Returns the entry, or None when it is not pending and not created.
    pub fn assign(&mut self, id: StreamId, owner: &Arc<[u8]>, create: bool) -> Option<&mut Nack> {
        if let std::collections::btree_map::Entry::Vacant(v) = self.pel.entry(id) {
            if !create {
                return None;
            }
            v.insert(Nack {
                consumer: owner.clone(),
                delivery_time: 0,
                // As Redis's streamCreateNACK: a new pending entry starts at one delivery.
                delivery_count: 1,
            });
            if let Some(c) = self.consumers.get_mut(owner) {
                c.pel.insert(id);
            }
        }
        let n = self.pel.get_mut(&id).expect("present");
        if n.consumer != *owner {
            if let Some(c) = self.consumers.get_mut(&n.consumer) {
                c.pel.remove(&id);
            }
            n.consumer = owner.clone();
            if let Some(c) = self.consumers.get_mut(owner) {
                c.pel.insert(id);
            }
        }
        Some(n)
    }

    /// Delete a consumer and its pending entries; the number it had, or None if unknown.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Bytes this group accounts for (O(consumers)).
    pub(crate) fn mem(&self, name_len: usize) -> usize {
        GROUP_MEM
            + name_len
            + self.pel.len() * NACK_MEM
            + self
                .consumers
                .keys()
                .map(|k| CONSUMER_MEM + k.len())
                .sum::<usize>()
    }
}
