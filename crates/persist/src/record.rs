//! `Record`: one key as a loader yields it, in the encoding-independent form DUMP/RESTORE
//! uses (`storage::dump::Value`), with its expiry as an absolute time; and `insert`, the one
//! way a loaded key enters the keyspace.

use storage::dump::Value;
use storage::types::generic;
use storage::{Keyspace, Limits, McMeta};

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

/// Why a record cannot be put into the keyspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertError {
    /// Its database index is past `databases`.
    NoSuchDb(u32),
}

/// Put `r` into `ks`, replacing any key of the same name, in the encoding the current
/// thresholds (`limits`) choose. The caller drops records already expired.
pub fn insert(ks: &Keyspace, limits: &Limits, r: &Record) -> Result<(), InsertError> {
    let db = r.db as usize;
    if db >= ks.databases() {
        return Err(InsertError::NoSuchDb(r.db));
    }
    let k = ks.key(&r.key);
    let mut txn = ks.txn1(db, &k);
    let lru = txn.initial_lru();
    let e = match (&r.value, r.mc) {
        (Value::String(s), Some(meta)) => {
            storage::Entry::new_string_meta(&r.key, s, meta, k.slot, lru)
        }
        (v, _) => generic::from_value(&r.key, k.slot, lru, v, limits),
    };
    txn.put_entry(&k, e, r.expire_at_ms.unwrap_or(0));
    Ok(())
}
