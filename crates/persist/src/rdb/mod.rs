//! Reading Redis's `dump.rdb` into [`Record`]s, so a Redis user can bring their data over.
//!
//! Hand-written from the format (Redis's rdb.h/rdb.c and the encodings' headers), streaming:
//! the file is read once through a buffer and each key is handed to the caller's sink as
//! soon as it is decoded, so memory holds one key at a time, never the file.
//!
//! ```text
//!  mod.rs       read_rdb: header, the opcode loop, CRC-64 trailer; summary and errors
//!  input.rs     byte source: offsets, CRC, length encodings, strings (int / LZF)
//!  value.rs     one value of each RDB type into storage::dump::Value
//!  payload.rs   Redis's DUMP payload (type, value, version, CRC-64): RESTORE of Redis keys
//!  stream.rs    streams (types 15, 19, 21): the rax of listpacks, groups, PELs, consumers
//!  skip.rs      what is parsed only to be stepped over: module values and aux data,
//!               pre-release function libraries (0xF6)
//!  lzf.rs  listpack.rs  ziplist.rs  intset.rs  zipmap.rs    the encodings inside strings
//!  writer.rs    (tests) an RDB writer, to generate every encoding
//!  tests.rs  proptests.rs  stream_tests.rs   (tests) whole files: hand-made, hostile, random
//! ```
//!
//! # File layout
//!
//! ```text
//! "REDIS" <4 ASCII digits: version>
//! ( AUX 0xFA <key> <value>                      metadata (redis-ver, ctime…): kept in the summary
//! | SELECTDB 0xFE <len db> | RESIZEDB 0xFB <len keys> <len expires>
//! | EXPIRETIME_MS 0xFC <i64 LE ms> | EXPIRETIME 0xFD <i32 LE s>   apply to the next key
//! | IDLE 0xF8 <len> | FREQ 0xF9 <u8>            eviction hints: read and dropped
//! | FUNCTION2 0xF5 <code>                     a function library: kept in the summary
//! | MODULE_AUX 0xF7 … | FUNCTION 0xF6 …        skipped, reported
//! | <type 0..=21> <key: string> <value> )*
//! EOF 0xFF <CRC-64 LE of everything before it: version ≥ 5; 0 = checksumming disabled>
//! ```
//!
//! Lengths: `00xxxxxx` (6 bits), `01xxxxxx yyyyyyyy` (14 bits, big-endian), `0x80` + u32 BE,
//! `0x81` + u64 BE. Strings: a length and bytes, or `0xC0`/`0xC1`/`0xC2` + an int8/16/32
//! LE (loaded as its decimal text, as Redis does), or `0xC3` + compressed length +
//! uncompressed length + LZF data.
//!
//! # Versions
//!
//! RDB versions 1 to 11 are read: 10 is what Redis 7.0 writes, 11 what 7.2 writes (its only
//! additions are value types 20 and 21, both handled here, so accepting it costs nothing).
//! Version 12 (Redis 7.4: hash fields with their own TTLs, types 22–25) is refused in the
//! header, with the version named, rather than failing on its first unknown type.
//!
//! # What is loaded, skipped, refused
//!
//! * Loaded: strings, lists, sets, sorted sets and hashes in every encoding Redis ever
//!   wrote (types 0–5, 9–14, 16–18, 20), with their TTLs; streams (types 15, 19, 21:
//!   entries, deleted entries left out, last / max-deleted IDs, entries added, consumer
//!   groups with their read counters, pending entries and consumers; see stream.rs), kept
//!   even when empty, as Redis keeps them.
//! * Handed over in [`RdbSummary::functions`]: function libraries (FUNCTION2, 0xF5), each
//!   its code as FUNCTION LOAD takes it. This crate cannot compile them: the caller loads
//!   them (and refuses the file when one fails, naming it with [`library_name`]).
//! * Skipped and reported in [`RdbSummary::skipped`] (key count and first key), loading
//!   goes on: module values of type 7 (`MODULE_2`) — every item a module writes there is
//!   tagged, so the value can be stepped over without the module (this is how
//!   redis-check-rdb reads them); module aux data (0xF7, same tagging); function libraries
//!   in the Redis 7.0 release-candidate format (0xF6: no release wrote it) — the library
//!   name is reported.
//! * Dropped silently, as Redis does: keys whose value is an empty collection (old Redis
//!   bugs could write them), counted in [`RdbSummary::empty_skipped`]; keys already expired
//!   at `now_ms`, counted in [`RdbSummary::expired_skipped`]; IDLE/FREQ hints; RESIZEDB
//!   hints (kept in [`RdbSummary::dbs`]).
//! * Refused (the load stops with an error naming the key): module values of type 6, the
//!   Redis 4.0 release-candidate format — it carries no tags and no length, so nothing
//!   short of the module itself knows where it ends and the rest of the file cannot be
//!   found. Unknown opcodes and types are errors too: anything else would be a guess.
//!
//! # Hostile input
//!
//! Every failure is an [`RdbError`] with the byte offset and what was expected; nothing
//! panics. Memory follows the bytes actually read: strings grow as their bytes arrive,
//! counts are never used to preallocate more than a small amount, an LZF string may not
//! claim more than 88× its compressed size (LZF's best case), and every structure inside a
//! string (listpack, ziplist, intset, zipmap) is bounds-checked against that string. Every
//! loop consumes input, so time is bounded by the file's size too. Duplicate members,
//! fields and NaN scores are refused (they would make a value the keyspace cannot hold);
//! duplicate *keys* are the sink's business (detecting them here would mean remembering
//! every key of a 10 GB file). A stream must be consistent as Redis relies on it (IDs
//! ascending, counts matching its entries, every pending entry owned by exactly one
//! consumer…): one that is not is refused like any other invalid value, naming the key.

mod input;
mod intset;
mod listpack;
mod lzf;
mod payload;
mod skip;
mod stream;
mod value;
mod ziplist;
mod zipmap;

#[cfg(test)]
mod payload_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod writer;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use crate::Record;
use input::Input;
pub use payload::{decode_dump_payload, dump_payload_version, DumpPayload, PayloadError};
use value::Decoded;

/// The newest RDB version read (Redis 7.2's).
pub const MAX_VERSION: u32 = 11;
const MAGIC: &[u8; 5] = b"REDIS";
/// The trailer CRC exists from this version on.
const FIRST_CHECKSUM_VERSION: u32 = 5;

/// Opcodes: the byte before each item that is not a key (`RDB_OPCODE_*`).
mod op {
    pub const FUNCTION2: u8 = 245;
    /// Function libraries as Redis 7.0 release candidates wrote them.
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Value types: the byte before each key (`RDB_TYPE_*`). 8 was never used.
mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// What a read found besides the keys it handed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdbSummary {
    /// The RDB version in the header.
    pub version: u32,
    /// Keys handed to the sink.
    pub keys: u64,
    /// Keys not handed over because their expiry was before `now_ms` (any type).
    pub expired_skipped: u64,
    /// Keys not handed over because their value was an empty collection (Redis drops
    /// these on load too).
    pub empty_skipped: u64,
    /// Items stepped over, one entry per kind, in the order first met.
    pub skipped: Vec<Skipped>,
    /// Function libraries (FUNCTION2 opcodes), each its code (`#!lua name=…\n…`) as
    /// FUNCTION LOAD takes it, in file order: for the caller to load, since compiling them
    /// is not this crate's business.
    pub functions: Vec<Vec<u8>>,
    /// AUX fields (redis-ver, redis-bits, ctime, used-mem, repl-id…), in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every database that was selected or had keys, by number.
    pub dbs: Vec<DbStats>,
    pub checksum: Checksum,
}

/// A kind of item that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `"module:<type name>"` (a module value, e.g. `module:ReJSON-RL`),
    /// `"module-aux:<type name>"` (a module's data outside the keyspace) or `"function"`
    /// (a function library in the pre-release 0xF6 format).
    pub kind: String,
    pub count: u64,
    /// The first key of this kind; for `"function"` the first library's name; empty for
    /// module aux data.
    pub first: Vec<u8>,
}

/// Per-database counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbStats {
    pub db: u32,
    /// Keys handed to the sink from this database.
    pub keys: u64,
    /// The RESIZEDB hint: (keys, keys with an expiry), if the file had one.
    pub resize_hint: Option<(u64, u64)>,
}

/// What became of the trailer checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Checksum {
    /// It matched the CRC-64 of the file.
    Verified(u64),
    /// It was zero: the writer had `rdbchecksum no`.
    Disabled,
    /// Versions before 5 have none.
    #[default]
    NotInVersion,
}

/// Why a read stopped. `what` reads "expected …, found …", plus the key when in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    /// Offset in the file of the byte (or the item) where the problem is.
    pub offset: u64,
    pub what: String,
}

impl RdbError {
    fn new(offset: u64, what: impl Into<String>) -> Self {
        RdbError {
            offset,
            what: what.into(),
        }
    }

    fn in_key(mut self, key: &[u8], db: u32) -> Self {
        self.what = format!(
            "{} (in the value of key {} in db {db})",
            self.what,
            show(key)
        );
        self
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for RdbError {}

/// A problem at byte `at` of an encoded structure (listpack…); the caller knows where the
/// structure sits in the file and turns it into an [`RdbError`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bad {
    at: usize,
    what: String,
}

impl Bad {
    fn new(at: usize, what: impl Into<String>) -> Self {
        Bad {
            at,
            what: what.into(),
        }
    }
}

/// One element of a listpack or ziplist.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// As Redis hands it out: integers as their decimal text.
    fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(i) => i.to_string().into_bytes(),
        }
    }
}

/// Bytes for a message: quoted, escaped, cut at 64 bytes.
fn show(b: &[u8]) -> String {
    const MAX: usize = 64;
    let mut s = String::from("\"");
    for &c in b.iter().take(MAX) {
        s.extend(std::ascii::escape_default(c).map(char::from));
    }
    s.push('"');
    if b.len() > MAX {
        s.push_str(&format!("… ({} bytes)", b.len()));
    }
    s
}

/// `Some(v)` when `b` is the canonical decimal text of `v` (what Redis stores as an integer).
#[cfg(test)]
fn canonical_int(b: &[u8]) -> Option<i64> {
    let v: i64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    (v.to_string().as_bytes() == b).then_some(v)
}

/// Read an RDB file, handing each live key to `sink` as it is decoded. Keys whose expiry
/// (unix ms) is before `now_ms` are counted, not handed over (`now_ms = 0` keeps them all).
/// A sink error stops the read; it is returned at the offset of the key it refused.
///
/// The trailer checksum can only be checked at the end, after every key has been handed
/// over: a caller that wants all-or-nothing stages what the sink receives (a fresh
/// keyspace swapped in on success) rather than trusting keys as they arrive.
///
/// Expiry times are read little-endian, as every Redis on a little-endian machine wrote
/// them (before RDB 9 they were in the writer's byte order).
pub fn read_rdb<R: Read>(
    r: R,
    now_ms: u64,
    mut sink: impl FnMut(Record) -> Result<(), String>,
) -> Result<RdbSummary, RdbError> {
    let mut inp = Input::new(r);
    let version = header(&mut inp)?;
    let mut sum = RdbSummary {
        version,
        ..RdbSummary::default()
    };
    let mut dbs: BTreeMap<u32, DbStats> = BTreeMap::new();
    let mut db = 0u32;
    // Set by EXPIRETIME(_MS) for the next key only.
    let mut expire_ms: Option<i64> = None;
    loop {
        let at = inp.pos();
        let t = inp.u8("an opcode or a value type")?;
        match t {
            op::EOF => break,
            op::SELECTDB => {
                let n = inp.len("a database number")?;
                db = u32::try_from(n).map_err(|_| {
                    RdbError::new(
                        at + 1,
                        format!("expected a database number below 2^32, found {n}"),
                    )
                })?;
                db_stats(&mut dbs, db);
            }
            op::RESIZEDB => {
                let keys = inp.len("the RESIZEDB key count")?;
                let expires = inp.len("the RESIZEDB expiry count")?;
                db_stats(&mut dbs, db).resize_hint = Some((keys, expires));
            }
            op::EXPIRETIME_MS => {
                expire_ms = Some(i64::from_le_bytes(inp.array("an 8-byte expiry time (ms)")?));
            }
            op::EXPIRETIME => {
                let s = i32::from_le_bytes(inp.array("a 4-byte expiry time (s)")?);
                expire_ms = Some(i64::from(s) * 1000);
            }
            op::IDLE => {
                inp.len("an LRU idle time")?;
            }
            op::FREQ => {
                inp.u8("an LFU frequency")?;
            }
            op::AUX => {
                let k = inp.string("an AUX field name")?;
                let v = inp.string("an AUX field value")?;
                sum.aux.push((k, v));
            }
            op::MODULE_AUX => {
                let name = skip::module_aux(&mut inp)?;
                note_skip(&mut sum, format!("module-aux:{name}"), b"");
            }
            op::FUNCTION2 => {
                sum.functions.push(inp.string("a function library's code")?);
            }
            op::FUNCTION_PRE_GA => {
                let name = skip::function_pre_ga(&mut inp)?;
                note_skip(&mut sum, "function".into(), &name);
            }
            0..=244 => {
                // An unknown type is refused before its "key" is read: past it, nothing
                // about the bytes is known.
                value::check_type(t, at)?;
                let key = inp.string("a key")?;
                let decoded = value::read(&mut inp, t, at).map_err(|e| e.in_key(&key, db))?;
                // Negative expiries (before 1970) are long past, whatever `now_ms` is.
                let expired = expire_ms.is_some_and(|e| e < 0 || (e as u64) < now_ms);
                if expired {
                    sum.expired_skipped += 1;
                } else {
                    match decoded {
                        Decoded::Skipped(kind) => note_skip(&mut sum, kind, &key),
                        Decoded::Empty => sum.empty_skipped += 1,
                        Decoded::Value(value) => {
                            let expire_at_ms = expire_ms.map(|e| e as u64);
                            let rec = Record {
                                db,
                                key,
                                value,
                                expire_at_ms,
                                mc: None,
                            };
                            // The sink has the key in hand, so its message names it; here the
                            // offset of the key's type byte does.
                            sink(rec).map_err(|msg| {
                                RdbError::new(
                                    at,
                                    format!("the sink refused this key (db {db}): {msg}"),
                                )
                            })?;
                            sum.keys += 1;
                            db_stats(&mut dbs, db).keys += 1;
                        }
                    }
                }
                expire_ms = None;
            }
        }
    }
    sum.checksum = trailer(&mut inp, version)?;
    sum.dbs = dbs.into_values().collect();
    Ok(sum)
}

/// "REDIS" and the four-digit version.
fn header<R: Read>(inp: &mut Input<R>) -> Result<u32, RdbError> {
    let magic: [u8; 5] = inp.array("the magic \"REDIS\"")?;
    if &magic != MAGIC {
        return Err(RdbError::new(
            0,
            format!("expected the magic \"REDIS\", found {}", show(&magic)),
        ));
    }
    let digits: [u8; 4] = inp.array("a four-digit RDB version")?;
    let version = std::str::from_utf8(&digits)
        .ok()
        .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse::<u32>().ok());
    match version {
        Some(v @ 1..=MAX_VERSION) => Ok(v),
        _ => Err(RdbError::new(
            5,
            format!(
                "expected an RDB version 0001..={MAX_VERSION:04}, found {}",
                show(&digits)
            ),
        )),
    }
}

/// After EOF: the CRC-64 of everything before it (version ≥ 5).
fn trailer<R: Read>(inp: &mut Input<R>, version: u32) -> Result<Checksum, RdbError> {
    if version < FIRST_CHECKSUM_VERSION {
        return Ok(Checksum::NotInVersion);
    }
    let computed = inp.crc();
    let at = inp.pos();
    let stored = u64::from_le_bytes(inp.array("the 8-byte CRC-64 after EOF")?);
    match stored {
        0 => Ok(Checksum::Disabled),
        s if s == computed => Ok(Checksum::Verified(s)),
        s => Err(RdbError::new(
            at,
            format!("expected the checksum 0x{computed:016x}, found 0x{s:016x}"),
        )),
    }
}

/// The name of a function library from its code: the `name=` of its shebang line
/// (`#!lua name=mylib`), or the line itself when there is none; at most 128 bytes.
pub fn library_name(code: &[u8]) -> Vec<u8> {
    const KEEP: usize = 128;
    let line = code.split(|&c| c == b'\n').next().unwrap_or_default();
    let name = line
        .split(|c| c.is_ascii_whitespace())
        .find_map(|w| w.strip_prefix(b"name="))
        .unwrap_or(line);
    name[..name.len().min(KEEP)].to_vec()
}

fn db_stats(dbs: &mut BTreeMap<u32, DbStats>, db: u32) -> &mut DbStats {
    dbs.entry(db).or_insert_with(|| DbStats {
        db,
        ..DbStats::default()
    })
}

fn note_skip(sum: &mut RdbSummary, kind: String, first: &[u8]) {
    match sum.skipped.iter_mut().find(|s| s.kind == kind) {
        Some(s) => s.count += 1,
        None => sum.skipped.push(Skipped {
            kind,
            count: 1,
            first: first.to_vec(),
        }),
    }
}
