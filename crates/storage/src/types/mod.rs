//! Collection values: hashes, lists, sets and sorted sets.
//!
//! A small collection lives inline in its entry as a compact blob (`compact`: a count and
//! length-prefixed elements, like Redis's listpack); past a size threshold (Redis's
//! `*-max-listpack-*` settings, `Limits`) it converts to a boxed `Collection` with the
//! structure each type needs for large sizes. Each type's module holds both encodings' code
//! and the conversion; commands reach values only through these modules. `checked` vets a
//! compact blob read from a file or a RESTORE payload before an entry takes it as it is.

pub mod checked;
pub mod compact;
pub mod dense;
pub mod generic;
pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;

use crate::entry::ObjType;

/// A large collection, owned by its entry through a pointer (`Enc::Boxed`).
#[derive(Clone, Debug)]
pub enum Collection {
    List(list::ListObj),
    Set(set::SetObj),
    ZSet(zset::ZSetObj),
    Hash(hash::HashObj),
    Stream(stream::StreamObj),
}

impl Collection {
    pub fn obj_type(&self) -> ObjType {
        match self {
            Collection::List(_) => ObjType::List,
            Collection::Set(_) => ObjType::Set,
            Collection::ZSet(_) => ObjType::ZSet,
            Collection::Hash(_) => ObjType::Hash,
            Collection::Stream(_) => ObjType::Stream,
        }
    }

    /// Heap bytes this collection holds (beyond the entry), kept up to date incrementally so
    /// accounting stays O(1) per write.
    pub fn mem_usage(&self) -> usize {
        match self {
            Collection::List(c) => c.mem_usage(),
            Collection::Set(c) => c.mem_usage(),
            Collection::ZSet(c) => c.mem_usage(),
            Collection::Hash(c) => c.mem_usage(),
            Collection::Stream(c) => c.mem_usage(),
        }
    }

    /// Number of elements (fields for a hash).
    pub fn len(&self) -> usize {
        match self {
            Collection::List(c) => c.len(),
            Collection::Set(c) => c.len(),
            Collection::ZSet(c) => c.len(),
            Collection::Hash(c) => c.len(),
            Collection::Stream(c) => c.len() as usize,
        }
    }

    /// Whether the collection is empty and so must be deleted (Redis deletes emptied
    /// keys). Never for a stream: Redis keeps an empty stream (its last ID and groups).
    pub fn is_empty(&self) -> bool {
        !matches!(self, Collection::Stream(_)) && self.len() == 0
    }
}

/// Encoding thresholds, with Redis's setting names and defaults. Commands pass the current
/// settings in; a collection converts to its large encoding when it passes either bound
/// (and, as in Redis, never converts back).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `hash-max-listpack-entries` / `hash-max-listpack-value`
    pub hash_entries: usize,
    pub hash_value: usize,
    /// `set-max-intset-entries` (all-integer sets) / `set-max-listpack-entries` / `-value`
    pub set_intset_entries: usize,
    pub set_entries: usize,
    pub set_value: usize,
    /// `zset-max-listpack-entries` / `zset-max-listpack-value`
    pub zset_entries: usize,
    pub zset_value: usize,
    /// `list-max-listpack-size`: positive = max entries, negative = -1..-5 → 4..64 KiB.
    pub list_size: i64,
    /// `stream-node-max-bytes` / `stream-node-max-entries` (0 = no limit)
    pub stream_node_bytes: usize,
    pub stream_node_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_entries: 512,
            hash_value: 64,
            set_intset_entries: 512,
            set_entries: 128,
            set_value: 64,
            zset_entries: 128,
            zset_value: 64,
            list_size: -2,
            stream_node_bytes: 4096,
            stream_node_entries: 100,
        }
    }
}

/// The name OBJECT ENCODING reports for a collection entry: Redis's names for the layout we
/// really use (a compact blob is what Redis calls a listpack; sets of integers in a compact
/// blob report "intset" only when the set owner says so).
pub fn encoding_name(e: &crate::Entry) -> &'static str {
    use crate::entry::Enc;
    match (e.obj_type(), e.enc()) {
        (ObjType::String, _) => "raw",
        (ObjType::Stream, _) => "stream",
        (ObjType::Set, Enc::Compact) => set::compact_encoding_name(e.value()),
        (_, Enc::Compact | Enc::Raw | Enc::Meta) => "listpack",
        (ObjType::List, Enc::Boxed) => "quicklist",
        (ObjType::Set | ObjType::Hash, Enc::Boxed) => "hashtable",
        (ObjType::ZSet, Enc::Boxed) => "skiplist",
    }
}
