//! Streams (Redis 7.0): XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID here; reading
//! with and without groups (XREAD, XREADGROUP, blocking) in `stream/read.rs`; consumer
//! groups (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) in `stream/groups.rs`; XINFO in
//! `stream/info.rs`. The data structure is storage's `types::stream`.
//!
//! Replies, error words and argument rules follow Redis 7.0's t_stream.c, checked against
//! Debian's redis-server (crates/rcache/tests/stream.rs). Times (`*` IDs, delivery times,
//! idle times) come from the keyspace clock, so tests can move time.
//!
//! What the append-only log records is what Redis propagates: XADD with the ID it chose and
//! an approximate trim made exact (`MAXLEN = <len>`), XREADGROUP as one XCLAIM … FORCE JUSTID
//! LASTID per delivered entry plus XGROUP SETID, XCLAIM/XAUTOCLAIM likewise — so replaying
//! the log rebuilds the same stream and the same pending entries with their times.

mod groups;
mod info;
mod read;
#[cfg(test)]
mod tests;

use crate::coll;
use crate::effects;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::{Args, Reply};
use storage::types::stream::{self as st, EntryRef, NodeLimits, StreamId, StreamObj, Trim};
use storage::{Key, ObjType, Txn};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("xadd", -5, WRITE | DENYOOM | FAST, 1, 1, 1, xadd, "stream", "5.0.0",
        "Appends a new message to a stream. Creates the key if it doesn't exist.",
        "key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]"),
    cmd!("xlen", 2, READONLY | FAST, 1, 1, 1, xlen, "stream", "5.0.0",
        "Return the number of messages in a stream.", "key"),
    cmd!("xrange", -4, READONLY, 1, 1, 1, xrange, "stream", "5.0.0",
        "Returns the messages from a stream within a range of IDs.", "key start end [COUNT count]"),
    cmd!("xrevrange", -4, READONLY, 1, 1, 1, xrevrange, "stream", "5.0.0",
        "Returns the messages from a stream within a range of IDs in reverse order.",
        "key end start [COUNT count]"),
    cmd!("xdel", -3, WRITE | FAST, 1, 1, 1, xdel, "stream", "5.0.0",
        "Returns the number of messages after removing them from a stream.", "key id [id ...]"),
    cmd!("xtrim", -4, WRITE, 1, 1, 1, xtrim, "stream", "5.0.0",
        "Deletes messages from the beginning of a stream.",
        "key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]"),
    cmd!("xsetid", -3, WRITE | DENYOOM | FAST, 1, 1, 1, xsetid, "stream", "5.0.0",
        "An internal command for replicating stream values.",
        "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]"),
    cmd!("xread", -4, READONLY | BLOCKING | MOVABLE_KEYS, 0, 0, 0, read::xread, "stream", "5.0.0",
        "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
        "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"),
    cmd!("xreadgroup", -7, WRITE | BLOCKING | MOVABLE_KEYS, 0, 0, 0, read::xreadgroup, "stream", "5.0.0",
        "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
        "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]"),
    cmd!("xack", -4, WRITE | FAST, 1, 1, 1, groups::xack, "stream", "5.0.0",
        "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
        "key group id [id ...]"),
    cmd!("xpending", -3, READONLY, 1, 1, 1, groups::xpending, "stream", "5.0.0",
        "Returns the information and entries from a stream consumer group's pending entries list.",
        "key group [[IDLE min-idle-time] start end count [consumer]]"),
    cmd!("xclaim", -6, WRITE | FAST, 1, 1, 1, groups::xclaim, "stream", "5.0.0",
        "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
        "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]"),
    cmd!("xautoclaim", -6, WRITE | FAST, 1, 1, 1, groups::xautoclaim, "stream", "6.2.0",
        "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
        "key group consumer min-idle-time start [COUNT count] [JUSTID]"),
    CommandSpec {
        subcommands: groups::XGROUP_SUBCOMMANDS,
        ..cmd!("xgroup", -2, 0, 0, 0, 0, groups::xgroup, "stream", "5.0.0",
            "A container for consumer groups commands.", "")
    },
    CommandSpec {
        subcommands: info::XINFO_SUBCOMMANDS,
        ..cmd!("xinfo", -2, 0, 0, 0, 0, info::xinfo, "stream", "5.0.0",
            "A container for stream introspection commands.", "")
    },
];

pub(crate) const INVALID_ID: CmdError =
    CmdError::Static("ERR Invalid stream ID specified as stream command argument");

/// Parse an ID: `ms-seq`, `ms` (seq = `missing_seq`), `-`/`+` unless `strict`, and with
/// `allow_auto_seq` the `ms-*` form (returned with `seq_given` false). Redis's
/// `streamGenericParseIDOrReply`.
pub(crate) fn parse_id_full(
    b: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<(StreamId, bool), CmdError> {
    if b.len() > 127 {
        return Err(INVALID_ID);
    }
    if b == b"-" || b == b"+" {
        if strict {
            return Err(INVALID_ID);
        }
        return Ok((
            if b == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    // Redis's string2ull: digits only, no sign, no leading junk (a lone "0" is fine).
    let num = |s: &[u8]| protocol::memcache::parse_u64(s).ok_or(INVALID_ID);
    match b.iter().position(|&c| c == b'-') {
        None => Ok((StreamId::new(num(b)?, missing_seq), true)),
        Some(i) => {
            let ms = num(&b[..i])?;
            let rest = &b[i + 1..];
            if allow_auto_seq && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            Ok((StreamId::new(ms, num(rest)?), true))
        }
    }
}

/// A strict ID (no `-`/`+`), missing seq 0.
pub(crate) fn parse_strict(b: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_full(b, 0, true, false).map(|x| x.0)
}

/// A range bound: `(` for exclusive (strict after it), else `-`/`+`/IDs; the returned ID
/// is already moved past an exclusive bound. `start` picks the direction and error words.
pub(crate) fn parse_bound(b: &[u8], start: bool) -> Result<StreamId, CmdError> {
    let missing = if start { 0 } else { u64::MAX };
    if b.len() > 1 && b[0] == b'(' {
        let id = parse_id_full(&b[1..], missing, true, false)?.0;
        return if start {
            id.incr()
                .ok_or(CmdError::Static("ERR invalid start ID for the interval"))
        } else {
            id.decr()
                .ok_or(CmdError::Static("ERR invalid end ID for the interval"))
        };
    }
    Ok(parse_id_full(b, missing, false, false)?.0)
}

pub(crate) fn write_id(out: &mut Reply<'_>, id: StreamId) {
    let mut b = itoa::Buffer::new();
    let ms = b.format(id.ms).as_bytes().to_vec();
    let seq = b.format(id.seq);
    out.bulk_parts(&[&ms, b"-", seq.as_bytes()]);
}

/// One entry as Redis replies it: `[id, [field, value, …]]`.
pub(crate) fn write_entry(out: &mut Reply<'_>, e: &EntryRef<'_>) {
    out.array_len(2);
    write_id(out, e.id);
    out.array_len(e.len() * 2);
    e.for_each(|f, v| {
        out.bulk(f);
        out.bulk(v);
    });
}

/// Entries of `s` in `[start, end]` (reverse with `rev`), at most `count` (0 = all), as an
/// array.
pub(crate) fn write_range(
    out: &mut Reply<'_>,
    s: &StreamObj,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let mut v: Vec<EntryRef<'_>> = Vec::new();
    s.range(start, end, rev, |e| {
        v.push(e);
        count == 0 || v.len() < count
    });
    out.array_len(v.len());
    for e in &v {
        write_entry(out, e);
    }
    v.len()
}

pub(crate) fn node_limits(ctx: &Ctx<'_>) -> NodeLimits {
    NodeLimits::from(&ctx.srv.settings.limits())
}

/// The stream at `k` for reading (counts a hit or miss), WRONGTYPE for another type.
pub(crate) fn read_stream<'t>(
    txn: &'t mut Txn<'_>,
    k: &Key,
) -> Result<Option<&'t StreamObj>, CmdError> {
    Ok(coll::read(txn, k, ObjType::Stream)?.map(st::of))
}

/// The stream at `k` without counting a hit (a write's own lookup).
pub(crate) fn peek_stream<'t>(
    txn: &'t mut Txn<'_>,
    k: &Key,
) -> Result<Option<&'t StreamObj>, CmdError> {
    match txn.peek(k) {
        Some(e) if e.obj_type() != ObjType::Stream => Err(CmdError::WrongType),
        Some(e) => Ok(Some(st::of(e))),
        None => Ok(None),
    }
}

/// Change the stream at `k` (which exists) with `f`; only a change touches watchers.
pub(crate) fn modify_stream<R>(
    txn: &mut Txn<'_>,
    k: &Key,
    f: impl FnOnce(&mut StreamObj) -> (R, bool),
) -> R {
    txn.modify_if(k, |e| {
        let s = st::of_mut(e);
        let r = f(s);
        s.refresh_mem();
        r
    })
    .expect("the stream was looked up under this Txn")
}

/// The trimming options of XADD and XTRIM.
#[derive(Default)]
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Argument index of the threshold (for the log's rewrite).
    arg: usize,
}

/// XADD's options before the ID, and the ID's position: Redis's
/// `streamParseAddOrTrimArgsOrReply`.
struct AddArgs {
    trim: TrimArgs,
    nomkstream: bool,
    /// (id, seq given) when not `*`.
    id: Option<(StreamId, bool)>,
    idpos: usize,
}

fn parse_add_or_trim(ctx: &Ctx<'_>, args: Args<'_>, xadd: bool) -> Result<AddArgs, CmdError> {
    let mut a = AddArgs {
        trim: TrimArgs::default(),
        nomkstream: false,
        id: None,
        idpos: 0,
    };
    let mut limit_given = false;
    let n = args.len();
    let mut i = 2;
    while i < n {
        let more = n - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && more > 0 {
            if a.trim.how.is_some() {
                return Err(CmdError::Static(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            let maxlen = eq_ic(opt, "maxlen");
            a.trim.approx = false;
            let next = args.get(i + 1);
            if more >= 2 && next == b"~" {
                a.trim.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let v = args.get(i + 1);
            a.trim.how = Some(if maxlen {
                let m = parse_int(v)?;
                if m < 0 {
                    return Err(CmdError::Static("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(m as u64)
            } else {
                Trim::MinId(parse_strict(v)?)
            });
            i += 1;
            a.trim.arg = i;
        } else if eq_ic(opt, "limit") && more > 0 {
            let l = parse_int(args.get(i + 1))?;
            if l < 0 {
                return Err(CmdError::Static("ERR The LIMIT argument must be >= 0."));
            }
            a.trim.limit = l as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    a.idpos = i;
    if a.trim.limit > 0 && a.trim.how.is_none() {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.how.is_none() {
        return Err(CmdError::Static(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !a.trim.approx {
            return Err(CmdError::Static(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if a.trim.approx {
        let per = ctx.srv.settings.limits().stream_node_entries as u64;
        a.trim.limit = (100 * per).clamp(1, 1_000_000);
        if per == 0 {
            a.trim.limit = 10_000;
        }
    } else {
        a.trim.limit = 0;
    }
    Ok(a)
}

/// Apply a parsed trim to `s`; entries removed.
fn apply_trim(s: &mut StreamObj, t: &TrimArgs) -> u64 {
    match t.how {
        Some(how) => s.trim(how, t.approx, t.limit),
        None => 0,
    }
}

/// The log's record of a trim: an approximate one made exact (`= <len>` or `= <first ID>`),
/// as Redis rewrites it so replay trims the same entries.
fn exact_trim_parts(parts: &mut [Vec<u8>], t: &TrimArgs, s: &StreamObj) {
    if !t.approx {
        return;
    }
    parts[t.arg - 1] = b"=".to_vec();
    parts[t.arg] = match t.how {
        Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
        _ => s.edge_id(false).unwrap_or_default().to_bytes(),
    };
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value …
fn xadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = parse_add_or_trim(ctx, args, true)?;
    let fpos = a.idpos + 1;
    let n = args.len();
    if n < fpos + 2 || (n - fpos) % 2 == 1 {
        return Err(CmdError::WrongArity);
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(CmdError::Static(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let lim = node_limits(ctx);
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let now = txn.now();
    let last = match peek_stream(&mut txn, &k)? {
        Some(s) => Some(s.last_id),
        None if a.nomkstream => {
            ctx.out.null();
            return Ok(());
        }
        None => None,
    };
    let last_id = last.unwrap_or_default();
    if last_id == StreamId::MAX {
        return Err(CmdError::Static(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let too_small = CmdError::Static(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
    let id = match a.id {
        Some((id, true)) => id,
        Some((id, false)) => {
            if last_id.ms == id.ms {
                if last_id.seq == u64::MAX {
                    return Err(too_small);
                }
                StreamId::new(id.ms, last_id.seq + 1)
            } else {
                id
            }
        }
        // `*`: the clock if it is ahead of the last ID, else the last ID's successor.
        None if now > last_id.ms => StreamId::new(now, 0),
        None => last_id.incr().unwrap_or(StreamId::MAX),
    };
    if id <= last_id {
        return Err(too_small);
    }
    if last.is_none() {
        txn.put_entry(&k, st::new_entry(k.bytes, k.slot, txn.initial_lru()), 0);
    }
    let pairs: Vec<(&[u8], &[u8])> = (fpos..n)
        .step_by(2)
        .map(|i| (args.get(i), args.get(i + 1)))
        .collect();
    let logging = effects::logging(ctx.srv);
    let rec = modify_stream(&mut txn, &k, |s| {
        s.append(id, &pairs, lim);
        if apply_trim(s, &a.trim) > 0 {
            crate::notify::extra(ctx.srv, crate::notify::class::STREAM, "xtrim", k.bytes);
        }
        let rec = logging.then(|| {
            let mut parts: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
            parts[a.idpos] = id.to_bytes();
            exact_trim_parts(&mut parts, &a.trim, s);
            parts
        });
        (rec, true)
    });
    if let Some(parts) = rec {
        let p: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        effects::rewrite(&p);
    }
    write_id(&mut ctx.out, id);
    Ok(())
}

/// XLEN key
fn xlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let n = read_stream(&mut txn, &k)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn range_cmd(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> CmdResult {
    let (sa, ea) = if rev { (3, 2) } else { (2, 3) };
    let start = parse_bound(args.get(sa), true)?;
    let end = parse_bound(args.get(ea), false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if eq_ic(args.get(j), "count") && j + 1 < args.len() {
            count = parse_int(args.get(j + 1))?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(s) = read_stream(&mut txn, &k)? else {
        ctx.out.array_len(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
    } else {
        let c = if count < 0 { 0 } else { count as usize };
        write_range(&mut ctx.out, s, start, end, c, rev);
    }
    Ok(())
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_cmd(ctx, args, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    range_cmd(ctx, args, true)
}

/// XDEL key id [id …]
fn xdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    if peek_stream(&mut txn, &k)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = (2..args.len())
        .map(|i| parse_strict(args.get(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = modify_stream(&mut txn, &k, |s| {
        let mut n = 0;
        for &id in &ids {
            if s.delete(id) {
                if id > s.max_deleted {
                    s.max_deleted = id;
                }
                n += 1;
            }
        }
        (n, n > 0)
    });
    ctx.out.int(deleted);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = parse_add_or_trim(ctx, args, false)?;
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    if peek_stream(&mut txn, &k)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let logging = effects::logging(ctx.srv);
    let (deleted, rec) = modify_stream(&mut txn, &k, |s| {
        let d = apply_trim(s, &a.trim);
        let rec = (logging && d > 0).then(|| {
            let mut parts: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
            exact_trim_parts(&mut parts, &a.trim, s);
            parts
        });
        ((d, rec), d > 0)
    });
    if let Some(parts) = rec {
        let p: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        effects::rewrite(&p);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
fn xsetid(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let id = parse_strict(args.get(2))?;
    let mut added: i64 = -1;
    let mut max_del = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let opt = args.get(i);
        if eq_ic(opt, "entriesadded") && more {
            added = parse_int(args.get(i + 1))?;
            if added < 0 {
                return Err(CmdError::Static("ERR entries_added must be positive"));
            }
        } else if eq_ic(opt, "maxdeletedid") && more {
            max_del = parse_strict(args.get(i + 1))?;
            if id < max_del {
                return Err(CmdError::Static(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let Some(s) = peek_stream(&mut txn, &k)? else {
        return Err(CmdError::NoSuchKey);
    };
    if !s.is_empty() {
        let top = s.edge_id(true).unwrap_or_default();
        if id < top {
            return Err(CmdError::Static(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if added != -1 && s.len() > added as u64 {
            return Err(CmdError::Static(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    modify_stream(&mut txn, &k, |s| {
        s.last_id = id;
        if added != -1 {
            s.entries_added = added as u64;
        }
        if !max_del.is_zero() {
            s.max_deleted = max_del;
        }
        ((), true)
    });
    ctx.out.ok();
    Ok(())
}

/// Redis's words for a missing group in XREADGROUP, XPENDING, XCLAIM…
pub(crate) fn no_group(key: &[u8], group: &[u8], suffix: &str) -> CmdError {
    CmdError::Msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}
