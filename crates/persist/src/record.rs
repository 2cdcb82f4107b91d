//! `Record`: one key as a loader yields it, in the encoding-independent form DUMP/RESTORE
//! uses (`storage::dump::Value`), with its expiry as an absolute time.

use storage::dump::Value;

/// One key read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The logical database (SELECT index).
    pub db: u32,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry, unix milliseconds; `None` = no TTL.
    pub expire_at_ms: Option<u64>,
}
