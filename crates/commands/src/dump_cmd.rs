//! DUMP and RESTORE: a value in rcache's own payload format (`storage::dump`: typed,
//! versioned, CRC-64), so a key moves between rcache servers (or back into the same one)
//! with its type, and a damaged or foreign payload is refused with Redis's words. DUMP
//! writes element-by-element bodies (tags 0–4, which every rcache reads); RESTORE also
//! takes a small collection's compact blob (tags 0x11–0x14, checked, then one copy).
//!
//! RESTORE also takes what Redis's DUMP wrote (RDB type, RDB value, RDB version ≤ 11,
//! CRC-64: `persist::rdb::decode_dump_payload`, the dump.rdb importer's value decoder), so
//! keys move from Redis with DUMP/RESTORE (RedisShake, riot, scripts). The footer's version
//! picks the decoder. DUMP still writes rcache's format only (cluster slot hand-offs rely
//! on it).

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use persist::rdb::{self, PayloadError};
use protocol::Args;
use storage::dump::{self, DumpError};
use storage::evict;
use storage::types::generic;

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("dump", 2, READONLY, 1, 1, 1, dump_, "generic", "2.6.0",
        "Return a serialized version of the value stored at the specified key (rcache's own payload format, readable by RESTORE on rcache).",
        "key"),
    cmd!("restore", -4, WRITE | DENYOOM, 1, 1, 1, restore, "generic", "2.6.0",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"),
];

/// DUMP key: the payload, or nil for a missing key.
fn dump_(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    match txn.get(&k) {
        Some(e) => {
            let p = dump::encode(&generic::to_value(e));
            ctx.out.bulk(&p);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], checked in Redis's
/// order: options, BUSYKEY, TTL, payload version/checksum, payload body.
fn restore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let a = args.get(i);
        let more = i + 1 < args.len();
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "absttl") {
            absttl = true;
        } else if eq_ic(a, "idletime") && more && freq.is_none() {
            let v = parse_int(args.get(i + 1))?;
            if v < 0 {
                return Err(CmdError::Static("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            i += 1;
        } else if eq_ic(a, "freq") && more && idle.is_none() {
            let v = parse_int(args.get(i + 1))?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::Static(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let k = ctx.key(args.get(1));
    let limits = ctx.srv.settings.limits();
    let lfu = ctx.srv.ks.evict.policy().is_lfu();
    let mut txn = ctx.txn1(&k);
    if !replace && txn.exists(&k) {
        return Err(CmdError::Static("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_int(args.get(2))?;
    if ttl < 0 {
        return Err(CmdError::Static("ERR Invalid TTL value, must be >= 0"));
    }
    // rcache's own payload, or (its footer naming an RDB version) one from Redis's DUMP.
    let redis_value;
    let value = match dump::decode_ref(args.get(3)) {
        Ok(v) => v,
        Err(DumpError::VersionOrChecksum) if is_redis_payload(args.get(3)) => {
            match rdb::decode_dump_payload(args.get(3)) {
                Ok(p) => {
                    redis_value = p.value;
                    redis_value.as_ref()
                }
                Err(PayloadError::VersionOrChecksum) => return Err(version_or_checksum()),
                Err(PayloadError::BadFormat(_)) => {
                    return Err(CmdError::Static("ERR Bad data format"))
                }
            }
        }
        Err(DumpError::VersionOrChecksum) => return Err(version_or_checksum()),
        Err(DumpError::BadFormat) => return Err(CmdError::Static("ERR Bad data format")),
    };
    // An empty collection cannot exist (Redis deletes emptied keys), so a payload of one is
    // malformed.
    if value.is_empty_collection() {
        return Err(CmdError::Static("ERR Bad data format"));
    }
    let now = txn.now();
    let at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    if replace {
        txn.delete(&k);
    }
    if at != 0 && at <= now && !txn.keyspace().replaying() {
        // Already expired: nothing is created (an old value is gone if REPLACE), as Redis.
        crate::effects::rewrite(&[b"DEL", k.bytes]);
        ctx.out.ok();
        return Ok(());
    }
    if at != 0 && !absttl {
        // The log holds the absolute expiry.
        crate::effects::rewrite(&[
            b"RESTORE",
            k.bytes,
            at.to_string().as_bytes(),
            args.get(3),
            b"REPLACE",
            b"ABSTTL",
        ]);
    }
    let mut lru = evict::initial_lru(now, lfu);
    match (lfu, idle, freq) {
        (false, Some(s), _) => lru = evict::lru_clock(now).saturating_sub(s as u32),
        (true, _, Some(f)) => lru = (lru & !255) | f as u32,
        _ => {}
    }
    let e = generic::from_value_ref(k.bytes, k.slot, lru, &value, &limits);
    txn.put_entry(&k, e, at);
    ctx.out.ok();
    Ok(())
}

fn version_or_checksum() -> CmdError {
    CmdError::Static("ERR DUMP payload version or checksum are wrong")
}

/// A payload whose footer version is an RDB version (1..=11): one Redis's DUMP wrote.
/// rcache's own version (`dump::VERSION`, 0x7201) is far above, so the two never overlap.
fn is_redis_payload(p: &[u8]) -> bool {
    rdb::dump_payload_version(p).is_some_and(|v| (1..=rdb::MAX_VERSION).contains(&u32::from(v)))
}
