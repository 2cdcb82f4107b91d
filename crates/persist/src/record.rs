//! `Record`: one key as a loader yields it, in the encoding-independent form DUMP/RESTORE
//! uses (`storage::dump::Value`), with its expiry as an absolute time; and `insert` /
//! `Loader`, the one way a loaded key enters the keyspace.

use storage::dump::{Value, ValueRef};
use storage::types::generic;
use storage::{Keyspace, Limits, McMeta, Txn};

/// One key read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The logical database (SELECT index).
    pub db: u32,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry, unix milliseconds; `None` = no TTL.
    pub expire_at_ms: Option<u64>,
    /// memcached flags and CAS of a string written through the memcached door.
    pub mc: Option<McMeta>,
}

/// A record borrowed from the bytes it was decoded from (the snapshot loader's, so that
/// loading allocates per key, not per element).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRef<'a> {
    pub db: u32,
    pub key: &'a [u8],
    pub value: ValueRef<'a>,
    pub expire_at_ms: Option<u64>,
    pub mc: Option<McMeta>,
}

impl RecordRef<'_> {
    pub fn to_owned(&self) -> Record {
        Record {
            db: self.db,
            key: self.key.to_vec(),
            value: self.value.to_owned(),
            expire_at_ms: self.expire_at_ms,
            mc: self.mc,
        }
    }
}

impl Record {
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            db: self.db,
            key: &self.key,
            value: self.value.as_ref(),
            expire_at_ms: self.expire_at_ms,
            mc: self.mc,
        }
    }
}

/// Why a record cannot be put into the keyspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertError {
    /// Its database index is past `databases`.
    NoSuchDb(u32),
}

/// Put `r` into `ks`, replacing any key of the same name, in the encoding the current
/// thresholds (`limits`) choose. The caller drops records already expired.
pub fn insert(ks: &Keyspace, limits: &Limits, r: &Record) -> Result<(), InsertError> {
    insert_ref(ks, limits, &r.as_ref())
}

/// `insert` for a borrowed record.
pub fn insert_ref(ks: &Keyspace, limits: &Limits, r: &RecordRef<'_>) -> Result<(), InsertError> {
    Loader::new(ks, limits).insert(r)
}

/// Inserts a run of records, keeping the last record's shard locked while the next ones
/// fall in the same shard and database: a snapshot block holds one shard's keys, so a block
/// costs one lock, one clock read and one update of the shared memory counter instead of
/// one per key. Dropping it releases the lock; loaders drop it after each block, so no other
/// thread waits on a shard for longer than a block takes.
pub struct Loader<'k> {
    ks: &'k Keyspace,
    limits: &'k Limits,
    /// The open transaction: its database and shard.
    held: Option<(usize, usize, Txn<'k>)>,
}

impl<'k> Loader<'k> {
    pub fn new(ks: &'k Keyspace, limits: &'k Limits) -> Self {
        Loader {
            ks,
            limits,
            held: None,
        }
    }

    /// Put `r` into the keyspace, replacing any key of the same name, in the encoding the
    /// limits choose. The caller drops records already expired.
    pub fn insert(&mut self, r: &RecordRef<'_>) -> Result<(), InsertError> {
        let db = r.db as usize;
        if db >= self.ks.databases() {
            return Err(InsertError::NoSuchDb(r.db));
        }
        let k = self.ks.key(r.key);
        let txn = match &mut self.held {
            Some((d, s, txn)) if *d == db && *s == k.shard() => txn,
            held => {
                // Release the old lock before taking the next: a loader holds one shard
                // lock at a time, so loader threads cannot deadlock on each other.
                *held = None;
                &mut held.insert((db, k.shard(), self.ks.txn1(db, &k))).2
            }
        };
        let lru = txn.initial_lru();
        let e = match (&r.value, r.mc) {
            (ValueRef::String(s), Some(meta)) => {
                storage::Entry::new_string_meta(r.key, s, meta, k.slot, lru)
            }
            (v, _) => generic::from_value_ref(r.key, k.slot, lru, v, self.limits),
        };
        txn.put_entry(&k, e, r.expire_at_ms.unwrap_or(0));
        Ok(())
    }
}
