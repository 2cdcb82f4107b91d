//! `Dense`: the large encoding shared by hashes and sets — a dense vector of items plus a
//! hash index of their positions (the keyspace's own `SlotTable` trick).
//!
//! * Each item is one `Box<[u8]>`: a set member, or a hash's `varint(field len) | field |
//!   value` (`K::key` says which bytes are the lookup key). One allocation per element, 16
//!   bytes in the vector and ~5.7 bytes of index: less than Redis's dictEntry (24) + bucket
//!   (8) + sds headers.
//! * The dense vector gives O(1) uniform random picks (SPOP, SRANDMEMBER, HRANDFIELD).
//! * Cursor scans (SSCAN, HSCAN) walk positions from the highest down; removal moves only the
//!   last item into the hole and growth appends, so an item present for the whole scan is
//!   never moved past the cursor: it is returned at least once. Cursor = how many of the
//!   lowest positions remain to visit (0 = done, or start when passed in).
//! * `mem_usage` is O(1): the items' heap bytes (by jemalloc size class) are kept as a running
//!   sum; the vector's and index's are derived from their capacities.

use crate::entry::alloc_class;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use rand::Rng;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::sync::OnceLock;

/// Which bytes of an item are its lookup key.
pub trait KeyOf {
    fn key(item: &[u8]) -> &[u8];
}

/// One hasher for every collection, seeded randomly per process (collisions cannot be
/// planned from outside), shared so a cloned collection hashes the same way.
#[inline]
fn hash(b: &[u8]) -> u64 {
    static H: OnceLock<FixedState> = OnceLock::new();
    H.get_or_init(|| FixedState::with_seed(rand::random()))
        .hash_one(b)
}

pub struct Dense<K> {
    index: HashTable<u32>,
    items: Vec<Box<[u8]>>,
    /// Sum of the items' allocations, by size class.
    heap: usize,
    _k: PhantomData<K>,
}

impl<K> Clone for Dense<K> {
    fn clone(&self) -> Self {
        Dense {
            index: self.index.clone(),
            items: self.items.clone(),
            heap: self.heap,
            _k: PhantomData,
        }
    }
}

impl<K> Default for Dense<K> {
    fn default() -> Self {
        Dense {
            index: HashTable::new(),
            items: Vec::new(),
            heap: 0,
            _k: PhantomData,
        }
    }
}

impl<K: KeyOf> std::fmt::Debug for Dense<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dense")
            .field("len", &self.items.len())
            .field("mem", &self.mem_usage())
            .finish()
    }
}

/// Heap bytes of one item.
#[inline]
fn item_heap(item: &[u8]) -> usize {
    if item.is_empty() {
        0
    } else {
        alloc_class(item.len())
    }
}

impl<K: KeyOf> Dense<K> {
    pub fn with_capacity(n: usize) -> Self {
        Dense {
            index: HashTable::with_capacity(n),
            items: Vec::with_capacity(n),
            heap: 0,
            _k: PhantomData,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes held: items, vector and index (an approximation of hashbrown's layout: one
    /// control byte and one 4-byte slot per bucket, buckets = capacity * 8/7 rounded up to a
    /// power of two).
    pub fn mem_usage(&self) -> usize {
        let vec = self.items.capacity() * std::mem::size_of::<Box<[u8]>>();
        let cap = self.index.capacity();
        let idx = if cap == 0 {
            0
        } else {
            let buckets = (cap * 8 / 7).max(4).next_power_of_two();
            buckets * 5 + 16
        };
        self.heap + alloc_class(vec.max(1)) + alloc_class(idx.max(1))
    }

    /// Make room for `n` more items without rehashing.
    pub fn reserve(&mut self, n: usize) {
        self.items.reserve(n);
        let items = &self.items;
        self.index.reserve(n, |&j| hash(K::key(&items[j as usize])));
    }

    /// Position of the item whose key is `key`.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(hash(key), |&i| K::key(&items[i as usize]) == key)
            .map(|&i| i as usize)
    }

    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        &self.items[i]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.items.iter().map(|b| &b[..])
    }

    /// The items in position order (the order scans walk, reversed).
    #[inline]
    pub fn items(&self) -> &[Box<[u8]>] {
        &self.items
    }

    /// Add an item whose key is known to be absent. Returns its position.
    pub fn insert_new(&mut self, item: Box<[u8]>) -> usize {
        let i = self.items.len();
        let h = hash(K::key(&item));
        self.heap += item_heap(&item);
        self.items.push(item);
        let items = &self.items;
        self.index
            .insert_unique(h, i as u32, |&j| hash(K::key(&items[j as usize])));
        i
    }

    /// Replace the item at `i` with one of the same key (a hash field's new value).
    pub fn replace(&mut self, i: usize, item: Box<[u8]>) {
        debug_assert_eq!(K::key(&item), K::key(&self.items[i]));
        self.heap = self.heap - item_heap(&self.items[i]) + item_heap(&item);
        self.items[i] = item;
    }

    /// Remove the item at `i`; the last item takes its place (see the module doc on scans).
    pub fn swap_remove(&mut self, i: usize) -> Box<[u8]> {
        let h = hash(K::key(&self.items[i]));
        match self.index.find_entry(h, |&j| j as usize == i) {
            Ok(occ) => {
                occ.remove();
            }
            Err(_) => debug_assert!(false, "index out of sync"),
        }
        let last = self.items.len() - 1;
        if i != last {
            let hl = hash(K::key(&self.items[last]));
            if let Some(p) = self.index.find_mut(hl, |&j| j as usize == last) {
                *p = i as u32;
            }
        }
        let item = self.items.swap_remove(i);
        self.heap -= item_heap(&item);
        // Give memory back after mass removal, not on every removal.
        if self.items.capacity() > 16 && self.items.len() * 4 < self.items.capacity() {
            self.items.shrink_to(self.items.len() * 2);
            let items = &self.items;
            self.index
                .shrink_to(items.len(), |&j| hash(K::key(&items[j as usize])));
        }
        item
    }

    /// Remove the item with key `key`, if present.
    pub fn remove(&mut self, key: &[u8]) -> Option<Box<[u8]>> {
        let i = self.find(key)?;
        Some(self.swap_remove(i))
    }

    /// A uniformly random position. The table must not be empty.
    #[inline]
    pub fn random_index(&self, rng: &mut impl Rng) -> usize {
        rng.random_range(0..self.items.len())
    }

    /// Visit items from `cursor` (see the module doc) until `count` were visited; returns the
    /// next cursor, 0 when the scan is complete.
    pub fn scan<'s>(&'s self, cursor: u64, count: usize, mut visit: impl FnMut(&'s [u8])) -> u64 {
        let len = self.items.len();
        let mut i = if cursor == 0 {
            len
        } else {
            usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
        };
        let count = count.max(1);
        let mut seen = 0;
        while i > 0 {
            i -= 1;
            visit(&self.items[i]);
            seen += 1;
            if seen >= count && i > 0 {
                return i as u64;
            }
        }
        0
    }
}

/// `count` distinct positions out of `0..n` (count ≤ n), uniformly: a partial shuffle when
/// the sample is a large part of `n`, rejection with a small set otherwise (so a few picks
/// from a huge collection cost O(count), not O(n)).
pub fn distinct_indices(n: usize, count: usize, rng: &mut impl Rng) -> Vec<usize> {
    debug_assert!(count <= n);
    if count.saturating_mul(3) > n {
        let mut all: Vec<usize> = (0..n).collect();
        for k in 0..count {
            let j = rng.random_range(k..n);
            all.swap(k, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen = hashbrown::HashSet::with_capacity_and_hasher(count, FixedState::default());
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let j = rng.random_range(0..n);
        if seen.insert(j) {
            out.push(j);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default)]
    struct Whole;
    impl KeyOf for Whole {
        fn key(item: &[u8]) -> &[u8] {
            item
        }
    }

    #[test]
    fn insert_find_remove_keep_index_in_sync() {
        let mut d: Dense<Whole> = Dense::default();
        for i in 0..1000u32 {
            d.insert_new(i.to_string().into_bytes().into_boxed_slice());
        }
        for i in (0..1000u32).step_by(3) {
            assert!(d.remove(i.to_string().as_bytes()).is_some());
        }
        for i in 0..1000u32 {
            assert_eq!(
                d.find(i.to_string().as_bytes()).is_some(),
                i % 3 != 0,
                "{i}"
            );
        }
        let heap: usize = d.iter().map(item_heap).sum();
        assert_eq!(heap, d.heap);
    }

    #[test]
    fn scan_sees_every_item_present_throughout() {
        let mut d: Dense<Whole> = Dense::default();
        for i in 0..200u32 {
            d.insert_new(i.to_string().into_bytes().into_boxed_slice());
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            cursor = d.scan(cursor, 7, |b| {
                seen.insert(b.to_vec());
            });
            // Churn: remove some items (never the stable ones, < 100) and add new ones.
            let victim = format!("{}", 100 + (round * 13) % 100);
            d.remove(victim.as_bytes());
            d.insert_new(format!("new{round}").into_bytes().into_boxed_slice());
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100u32 {
            assert!(seen.contains(i.to_string().as_bytes()), "{i}");
        }
    }

    #[test]
    fn distinct_indices_are_distinct_and_in_range() {
        let mut rng = rand::rng();
        for (n, c) in [(10, 10), (10, 3), (1000, 5), (1000, 900), (1, 0)] {
            let v = distinct_indices(n, c, &mut rng);
            assert_eq!(v.len(), c);
            let s: std::collections::HashSet<_> = v.iter().collect();
            assert_eq!(s.len(), c);
            assert!(v.iter().all(|&i| i < n));
        }
    }
}
