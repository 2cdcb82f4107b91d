//! `SlotTable`: the keys of one hash slot in one database.
//!
//! An index (`HashTable<u32>`, 5 bytes a bucket) over a dense `Vec<Entry>` (8 bytes an
//! entry). The dense vector gives O(1) random sampling (eviction, RANDOMKEY) and a stable
//! SCAN order: entries are visited from the highest position down, and removal moves only the
//! last entry into the hole, so an entry not yet visited never moves past the cursor.

use crate::entry::Entry;
use hashbrown::HashTable;

#[derive(Default)]
pub struct SlotTable {
    index: HashTable<u32>,
    entries: Vec<Entry>,
}

impl SlotTable {
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Position of `key` (whose hash is `hash`), if present.
    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash, |&i| entries[i as usize].key() == key)
            .map(|&i| i as usize)
    }

    #[inline]
    pub fn get(&self, i: usize) -> &Entry {
        &self.entries[i]
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut Entry {
        &mut self.entries[i]
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Add an entry whose key is known to be absent. Returns its position.
    pub fn insert_new(&mut self, hash: u64, e: Entry, hasher: &impl Fn(&[u8]) -> u64) -> usize {
        let i = self.entries.len();
        self.entries.push(e);
        let entries = &self.entries;
        self.index
            .insert_unique(hash, i as u32, |&j| hasher(entries[j as usize].key()));
        i
    }

    /// Remove the entry at `i` (whose key hashes to `hash`); the last entry takes its place.
    pub fn swap_remove(&mut self, i: usize, hash: u64, hasher: &impl Fn(&[u8]) -> u64) -> Entry {
        if let Ok(occ) = self.index.find_entry(hash, |&j| j as usize == i) {
            occ.remove();
        } else {
            debug_assert!(false, "index out of sync");
        }
        let last = self.entries.len() - 1;
        if i != last {
            let h = hasher(self.entries[last].key());
            if let Some(p) = self.index.find_mut(h, |&j| j as usize == last) {
                *p = i as u32;
            }
        }
        let e = self.entries.swap_remove(i);
        // Give memory back after mass deletion, not on every removal.
        if self.entries.capacity() > 64 && self.entries.len() * 4 < self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
            let entries = &self.entries;
            self.index
                .shrink_to(entries.len(), |&j| hasher(entries[j as usize].key()));
        }
        e
    }

    /// Take every entry out, leaving the table empty (FLUSHDB, dropping a slot).
    pub fn take_all(&mut self) -> Vec<Entry> {
        self.index = HashTable::new();
        std::mem::take(&mut self.entries)
    }

    /// Bytes of the index structures themselves (not the entries' allocations).
    pub fn overhead_bytes(&self) -> usize {
        self.index.capacity() * 5 + self.entries.capacity() * 8
    }
}
