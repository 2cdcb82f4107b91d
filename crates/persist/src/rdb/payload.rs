//! Redis's DUMP payload (what `DUMP` on Redis returns and `RESTORE` on Redis takes), so a key
//! can be moved from Redis into rcache with DUMP/RESTORE:
//!
//! ```text
//! <RDB value type: u8> <the value, RDB-encoded> <RDB version: u16 LE> <CRC-64 LE of everything before it>
//! ```
//!
//! (Redis 7.0's `createDumpPayload` / `verifyDumpPayload` in cluster.c.) The value is decoded
//! by the same code as a dump.rdb's values (value.rs, stream.rs), so every type and encoding
//! the importer reads is read here, with the same hostile-input guarantees.
//!
//! Checked as Redis checks it, and a little stricter:
//! * the version must be 1..=[`MAX_VERSION`] (Redis refuses a payload newer than its own
//!   RDB version; 11 is Redis 7.2's, whose payloads carry nothing 7.0's do not read here);
//! * the CRC-64 must match. A zero CRC is not "checksumming disabled" here: that exception
//!   is a dump.rdb's only, `verifyDumpPayload` always compares;
//! * exactly one value, consuming every byte before the footer (Redis ignores trailing
//!   bytes; none of its payloads has any);
//! * module values (types 6 and 7), unknown types, empty collections (Redis refuses them
//!   too: its loader reports an empty key) and anything the importer would refuse are a
//!   bad format.

use storage::dump::Value;

use super::input::{Input, CRC64};
use super::value::{self, Decoded};
use super::{RdbError, MAX_VERSION};

/// A decoded Redis DUMP payload.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpPayload {
    /// The RDB value type byte (0 string, 18 quicklist-2 list, 21 stream…).
    pub rdb_type: u8,
    /// The RDB version in the footer (10 for Redis 7.0, 11 for 7.2).
    pub rdb_version: u16,
    pub value: Value,
}

/// Why a payload was refused: the two cases RESTORE tells apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Shorter than a footer, a version that is not an RDB version this reader knows, or a
    /// CRC-64 that does not match (`ERR DUMP payload version or checksum are wrong`).
    VersionOrChecksum,
    /// The footer is fine but the value is not one RDB value of a loadable type
    /// (`ERR Bad data format`); what was wrong, with the offset in the payload.
    BadFormat(RdbError),
}

/// Type byte, version and CRC: the smallest payload (an empty string) is 1 + 1 + 10 bytes,
/// but Redis checks only that the footer is there.
const FOOTER: usize = 10;

/// The footer's version, when `p` is long enough to have a footer: lets a caller that also
/// reads another payload format pick the decoder.
pub fn dump_payload_version(p: &[u8]) -> Option<u16> {
    (p.len() >= FOOTER).then(|| u16::from_le_bytes([p[p.len() - 10], p[p.len() - 9]]))
}

/// Check a Redis DUMP payload's footer (version ≤ 11, CRC-64) and decode its one value.
pub fn decode_dump_payload(p: &[u8]) -> Result<DumpPayload, PayloadError> {
    let version = dump_payload_version(p).ok_or(PayloadError::VersionOrChecksum)?;
    if version == 0 || u32::from(version) > MAX_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (data, crc) = p.split_at(p.len() - 8);
    if CRC64.checksum(data) != u64::from_le_bytes(crc.try_into().expect("8 bytes")) {
        return Err(PayloadError::VersionOrChecksum);
    }
    let body = &data[..data.len() - 2];
    let bad = PayloadError::BadFormat;
    let mut inp = Input::with_capacity(body, body.len().clamp(1, 64 << 10));
    let t = inp.u8("a value type").map_err(bad)?;
    value::check_type(t, 0).map_err(bad)?;
    let v = match value::read(&mut inp, t, 0).map_err(bad)? {
        Decoded::Value(v) => v,
        Decoded::Empty => {
            return Err(bad(RdbError::new(
                0,
                "expected a value, found an empty collection",
            )))
        }
        Decoded::Skipped(kind) => {
            return Err(bad(RdbError::new(
                0,
                format!("expected a value rcache can hold, found a {kind} value"),
            )))
        }
    };
    if inp.pos() != body.len() as u64 {
        return Err(bad(RdbError::new(
            inp.pos(),
            format!(
                "expected the footer after the value, found {} more bytes",
                body.len() as u64 - inp.pos()
            ),
        )));
    }
    Ok(DumpPayload {
        rdb_type: t,
        rdb_version: version,
        value: v,
    })
}
