//! XREAD and XREADGROUP, with BLOCK (Redis's `xreadCommand`).
//!
//! A read serves every listed stream that has something for it, synchronously; when none
//! has and BLOCK was given, the client blocks on the stream keys through the blocking
//! registry (`crate::blocking`) with its command as the serve function. `$` is resolved to
//! the stream's last ID before blocking (the stored command carries the resolved IDs), `>`
//! stays: a served XREADGROUP reads past the group's last delivered ID at that moment. A
//! served read that was given no COUNT returns at most 1000 entries per stream, as Redis,
//! and answers for the stream that was written only (`blocking::serving_key`), as Redis
//! serves a blocked reader from the key that became ready.
//!
//! Group reads deliver entries: the group's last ID and read counter move, and (without
//! NOACK) each entry joins the group's and the consumer's pending lists. History reads
//! (an ID other than `>`) return the consumer's own pending entries, a deleted one as
//! `[id, nil]`.

use super::{no_group, parse_strict, write_entry, write_id, INVALID_ID};
use crate::blocking;
use crate::effects;
use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_int};
use crate::Ctx;
use protocol::args::OwnedArgs;
use protocol::{Args, Reply};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::types::stream::{self as st, EntryRef, StreamId};
use storage::{Key, ObjType};

const UNBLOCKED_DELETED: CmdError = CmdError::Static("UNBLOCKED the stream key no longer exists");

/// Count a served blocked read uses when the client gave none (Redis's
/// XREAD_BLOCKED_DEFAULT_COUNT).
const BLOCKED_DEFAULT_COUNT: usize = 1000;

struct ReadArgs<'a> {
    count: usize,
    /// None: no BLOCK; Some(None): block forever.
    block: Option<Option<Instant>>,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    /// Index of the first key, and the number of streams.
    keys_at: usize,
    n: usize,
}

fn parse<'a>(ctx: &Ctx<'_>, args: Args<'a>, grouped: bool) -> Result<ReadArgs<'a>, CmdError> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        noack: false,
        group: None,
        keys_at: 0,
        n: 0,
    };
    let name = if grouped { "XREADGROUP" } else { "XREAD" };
    let argc = args.len();
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let o = args.get(i);
        if eq_ic(o, "block") && more > 0 {
            i += 1;
            let ms = parse_int(args.get(i))
                .map_err(|_| CmdError::Static("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(CmdError::Static("ERR timeout is negative"));
            }
            r.block = Some(if ms == 0 {
                None
            } else {
                Some(
                    Instant::now()
                        .checked_add(Duration::from_millis(ms as u64))
                        .ok_or(CmdError::Static("ERR timeout is out of range"))?,
                )
            });
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            r.count = parse_int(args.get(i))?.max(0) as usize;
        } else if eq_ic(o, "streams") && more > 0 {
            r.keys_at = i + 1;
            let rest = argc - r.keys_at;
            if !rest.is_multiple_of(2) {
                return Err(CmdError::Static(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.n = rest / 2;
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !grouped {
                return Err(CmdError::Static(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args.get(i + 1), args.get(i + 2)));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !grouped {
                return Err(CmdError::Static(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if r.keys_at == 0 {
        return Err(CmdError::Syntax);
    }
    if grouped && r.group.is_none() {
        return Err(CmdError::Static("ERR Missing GROUP option for XREADGROUP"));
    }
    let _ = (ctx, name);
    Ok(r)
}

/// What a stream is read from: after this ID, or (`>`) the group's new entries.
#[derive(Clone, Copy, PartialEq)]
enum From {
    After(StreamId),
    New,
}

/// XREAD [COUNT count] [BLOCK ms] STREAMS key … id …
pub(super) fn xread(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, false, false).map(|_| ())
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key … id …
pub(super) fn xreadgroup(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    run(ctx, args, true, false).map(|_| ())
}

fn serve_xread(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    run(ctx, args, false, true)
}

fn serve_xreadgroup(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    run(ctx, args, true, true)
}

/// Read (or, for a blocked client being served, try to). Returns whether a reply was
/// written (a served waiter that found nothing writes none and keeps waiting).
fn run(ctx: &mut Ctx<'_>, args: Args<'_>, grouped: bool, serving: bool) -> Result<bool, CmdError> {
    let r = parse(ctx, args, grouped)?;
    let raw: Vec<&[u8]> = (0..r.n).map(|i| args.get(r.keys_at + i)).collect();
    let keys: Vec<Key> = raw.iter().map(|k| ctx.key(k)).collect();
    let mut txn = ctx.txn(&keys);
    let now = txn.now();
    let srv = ctx.srv;
    // A served waiter answers for the stream that was written only (Redis 7.0): the other
    // streams it waits on are neither checked nor read.
    let only = if serving {
        blocking::serving_key(|k| k.and_then(|k| raw.iter().position(|r| *r == k)))
    } else {
        None
    };
    let skip = |i: usize| only.is_some_and(|j| j != i);
    // Resolve each stream's starting point, checking types and groups in key order.
    let mut from = Vec::with_capacity(r.n);
    for (i, k) in keys.iter().enumerate() {
        if skip(i) {
            from.push(From::After(StreamId::MAX));
            continue;
        }
        let idarg = args.get(r.keys_at + r.n + i);
        let s = match txn.get(k) {
            // A served group reader whose stream was deleted (and maybe recreated as
            // another type) is told so, as Redis 7.0 does; a plain reader keeps waiting.
            Some(e) if e.obj_type() != ObjType::Stream && serving && grouped => {
                return Err(UNBLOCKED_DELETED)
            }
            Some(e) if e.obj_type() != ObjType::Stream && serving => return Ok(false),
            Some(e) if e.obj_type() != ObjType::Stream => return Err(CmdError::WrongType),
            Some(e) => Some(st::of(e)),
            None if serving && grouped => return Err(UNBLOCKED_DELETED),
            None => None,
        };
        if let Some((g, _)) = r.group {
            if !s.is_some_and(|s| s.groups.contains_key(g)) {
                if serving {
                    return Err(CmdError::Static(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
                return Err(no_group(k.bytes, g, " in XREADGROUP with GROUP option"));
            }
        }
        if idarg == b"$" {
            if grouped {
                return Err(CmdError::Static(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            from.push(From::After(s.map_or(StreamId::MIN, |s| s.last_id)));
        } else if idarg == b">" {
            if !grouped {
                return Err(CmdError::Static(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            from.push(From::New);
        } else {
            from.push(From::After(parse_strict(idarg).map_err(|_| INVALID_ID)?));
        }
    }
    let count = if serving && r.count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        r.count
    };
    let resp3 = ctx.out.is_resp3();
    let mut body = Vec::new();
    let mut served = 0usize;
    let mut records: Vec<Vec<Vec<u8>>> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        if skip(i) {
            continue;
        }
        // What the stream has past the read's starting point (no borrow kept).
        let (top, glast) = match txn.peek(k) {
            None => continue,
            Some(e) => {
                let s = st::of(e);
                (s.edge_id(true), r.group.map(|(g, _)| s.groups[g].last_id))
            }
        };
        match (r.group, from[i]) {
            (None, From::After(after)) => {
                if top.is_none_or(|t| t <= after) {
                    continue;
                }
                served += 1;
                let mut out = Reply::new(&mut body, resp3);
                stream_header(&mut out, k.bytes);
                let start = after.incr().unwrap_or(StreamId::MAX);
                let s = st::of(txn.peek(k).expect("just seen"));
                super::write_range(&mut out, s, start, StreamId::MAX, count, false);
            }
            (Some((g, c)), from_id) => {
                if from_id == From::New && top.zip(glast).is_none_or(|(t, l)| t <= l) {
                    continue;
                }
                served += 1;
                stream_header(&mut Reply::new(&mut body, resp3), k.bytes);
                let key = k.bytes;
                let noack = r.noack;
                super::modify_stream(&mut txn, k, |s| {
                    let (gname, mut grp) = s.groups.remove_entry(g).expect("checked");
                    let (owner, created) = grp.consumer(c, now);
                    if created {
                        let t = crate::notify::class::STREAM;
                        crate::notify::extra(srv, t, "xgroup-createconsumer", key);
                    }
                    grp.touch(c, now);
                    let mut out = Reply::new(&mut body, resp3);
                    if let From::After(after) = from_id {
                        // Re-deliveries are logged too (Redis does not: its replicas keep the
                        // old delivery times and counts), so replay gives the same PEL.
                        for id in history_read(&mut out, s, &mut grp, &owner, after, count, now) {
                            records.push(xclaim_record(key, &gname, &owner, id, &grp));
                        }
                    } else {
                        let start = grp.last_id.incr().unwrap_or(StreamId::MAX);
                        let mut got: Vec<EntryRef<'_>> = Vec::new();
                        s.range(start, StreamId::MAX, false, |e| {
                            got.push(e);
                            count == 0 || got.len() < count
                        });
                        out.array_len(got.len());
                        for e in &got {
                            write_entry(&mut out, e);
                        }
                        let ids: Vec<StreamId> = got.iter().map(|e| e.id).collect();
                        drop(got);
                        let before = grp.last_id;
                        for &id in &ids {
                            s.advance_group(&mut grp, id);
                            if !noack {
                                grp.deliver(id, &owner, now);
                                records.push(xclaim_record(key, &gname, &owner, id, &grp));
                            }
                        }
                        if noack {
                            if created {
                                records.push(vec![
                                    b"XGROUP".to_vec(),
                                    b"CREATECONSUMER".to_vec(),
                                    key.to_vec(),
                                    gname.to_vec(),
                                    owner.to_vec(),
                                ]);
                            }
                            if grp.last_id != before {
                                records.push(setid_record(key, &gname, &grp));
                            }
                        }
                    }
                    s.groups.insert(gname, grp);
                    ((), true)
                });
            }
            (None, From::New) => unreachable!("`>` is refused without a group"),
        }
    }
    if grouped {
        effects::rewrite_many(&records);
    }
    if served > 0 {
        if resp3 {
            ctx.out.map_len(served);
        } else {
            ctx.out.array_len(served);
        }
        ctx.out.raw(&body);
        return Ok(true);
    }
    if serving {
        return Ok(false);
    }
    match r.block {
        Some(deadline) if !blocking::deny(ctx) => {
            // Block with `$` resolved to the IDs it meant now.
            let mut owned: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
            for (i, f) in from.iter().enumerate() {
                if let From::After(id) = f {
                    owned[r.keys_at + r.n + i] = id.to_bytes();
                }
            }
            let stored = OwnedArgs::new(owned.iter().map(Vec::as_slice));
            let serve = if grouped {
                serve_xreadgroup
            } else {
                serve_xread
            };
            blocking::block(ctx, &raw, deadline, stored.args(), serve);
        }
        _ => ctx.out.null_array(),
    }
    Ok(true)
}

/// The start of one stream's part of the reply: `[key, …` (RESP2) or the map key (RESP3).
fn stream_header(out: &mut Reply<'_>, key: &[u8]) {
    if !out.is_resp3() {
        out.array_len(2);
    }
    out.bulk(key);
}

/// A consumer's own pending entries after `after` (Redis's
/// `streamReplyWithRangeFromConsumerPEL`): each one still in the stream is sent and counted
/// as delivered again; a deleted one is sent as `[id, nil]`. Returns the re-delivered IDs.
fn history_read(
    out: &mut Reply<'_>,
    s: &st::StreamObj,
    grp: &mut st::Group,
    owner: &Arc<[u8]>,
    after: StreamId,
    count: usize,
    now: u64,
) -> Vec<StreamId> {
    let Some(start) = after.incr() else {
        out.array_len(0);
        return Vec::new();
    };
    let ids: Vec<StreamId> = grp
        .consumers
        .get(owner)
        .map(|c| {
            c.pel
                .range(start..)
                .take(if count == 0 { usize::MAX } else { count })
                .copied()
                .collect()
        })
        .unwrap_or_default();
    out.array_len(ids.len());
    let mut again = Vec::with_capacity(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                write_entry(out, &e);
                if let Some(n) = grp.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                    again.push(id);
                }
            }
            None => {
                out.array_len(2);
                write_id(out, id);
                out.null_array();
            }
        }
    }
    again
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`: how a
/// delivery is logged (Redis's `streamPropagateXCLAIM`).
pub(super) fn xclaim_record(
    key: &[u8],
    group: &[u8],
    owner: &[u8],
    id: StreamId,
    grp: &st::Group,
) -> Vec<Vec<u8>> {
    let n = &grp.pel[&id];
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        owner.to_vec(),
        b"0".to_vec(),
        id.to_bytes(),
        b"TIME".to_vec(),
        n.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        n.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        grp.last_id.to_bytes(),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n` (Redis's `streamPropagateGroupID`).
pub(super) fn setid_record(key: &[u8], group: &[u8], grp: &st::Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        grp.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        grp.entries_read.to_string().into_bytes(),
    ]
}
