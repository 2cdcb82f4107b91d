//! Consumer groups: XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP),
//! XACK, XPENDING, XCLAIM and XAUTOCLAIM, as Redis 7.0's t_stream.c.

use super::read::{setid_record, xclaim_record};
use super::{
    modify_stream, no_group, parse_bound, parse_id_full, parse_strict, peek_stream, read_stream,
    write_entry, write_id,
};
use crate::blocking;
use crate::client_cmd::reply_help;
use crate::effects;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, lossy, parse_int};
use crate::{cmd, dispatch_sub, Ctx};
use protocol::Args;
use std::sync::Arc;
use storage::types::stream::{self as st, Group, StreamId, ENTRIES_READ_UNKNOWN};

#[rustfmt::skip]
pub(super) const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("xgroup|create", -5, WRITE | DENYOOM, 2, 2, 1, xgroup_create, "stream", "5.0.0",
        "Creates a consumer group.", "key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]"),
    cmd!("xgroup|createconsumer", 5, WRITE | DENYOOM, 2, 2, 1, xgroup_createconsumer, "stream", "6.2.0",
        "Creates a consumer in a consumer group.", "key group consumer"),
    cmd!("xgroup|delconsumer", 5, WRITE, 2, 2, 1, xgroup_delconsumer, "stream", "5.0.0",
        "Deletes a consumer from a consumer group.", "key group consumer"),
    cmd!("xgroup|destroy", 4, WRITE, 2, 2, 1, xgroup_destroy, "stream", "5.0.0",
        "Destroys a consumer group.", "key group"),
    cmd!("xgroup|help", 2, LOADING | STALE, 0, 0, 0, xgroup_help, "stream", "5.0.0",
        "Returns helpful text about the different subcommands.", ""),
    cmd!("xgroup|setid", -5, WRITE, 2, 2, 1, xgroup_setid, "stream", "5.0.0",
        "Sets the last-delivered ID of a consumer group.", "key group <id | $> [ENTRIESREAD entries-read]"),
];

/// XGROUP <subcommand> …
pub(super) fn xgroup(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    dispatch_sub(ctx, XGROUP_SUBCOMMANDS, args)
}

fn xgroup_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        &[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

fn sub_syntax(args: Args<'_>, cmd: &str) -> CmdError {
    CmdError::Msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {cmd} HELP.",
        lossy(args.get(1))
    ))
}

/// XGROUP's shared checks (Redis's order): options, the key (WRONGTYPE; must exist unless
/// MKSTREAM), the group for the subcommands that need it.
struct GroupArgs {
    mkstream: bool,
    entries_read: i64,
}

fn group_args(args: Args<'_>, create: bool, setid: bool) -> Result<GroupArgs, CmdError> {
    let mut a = GroupArgs {
        mkstream: false,
        entries_read: ENTRIES_READ_UNKNOWN,
    };
    let mut i = 5;
    while i < args.len() {
        if create && eq_ic(args.get(i), "mkstream") {
            a.mkstream = true;
            i += 1;
        } else if (create || setid) && eq_ic(args.get(i), "entriesread") && i + 1 < args.len() {
            a.entries_read = parse_int(args.get(i + 1))?;
            if a.entries_read < 0 && a.entries_read != ENTRIES_READ_UNKNOWN {
                return Err(CmdError::Static(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(sub_syntax(args, "XGROUP"));
        }
    }
    Ok(a)
}

const NEEDS_KEY: CmdError = CmdError::Static("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");

fn no_such_group(group: &[u8], key: &[u8]) -> CmdError {
    CmdError::Msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// Look the key up for an XGROUP subcommand: exists (or MKSTREAM), and has the group when
/// `need_group`.
fn group_target(
    txn: &mut storage::Txn<'_>,
    k: &storage::Key,
    group: &[u8],
    mkstream: bool,
    need_group: bool,
) -> Result<Option<bool>, CmdError> {
    let s = peek_stream(txn, k)?;
    if mkstream {
        return Ok(s.map(|s| s.groups.contains_key(group)));
    }
    let Some(s) = s else { return Err(NEEDS_KEY) };
    let has = s.groups.contains_key(group);
    if need_group && !has {
        return Err(no_such_group(group, k.bytes));
    }
    Ok(Some(has))
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]
fn xgroup_create(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = group_args(args, true, false)?;
    if args.len() > 8 {
        return Err(sub_syntax(args, "XGROUP"));
    }
    let g = args.get(3);
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    let existing = group_target(&mut txn, &k, g, a.mkstream, false)?;
    let id = if args.get(4) == b"$" {
        peek_stream(&mut txn, &k)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_strict(args.get(4))?
    };
    if existing.is_none() {
        txn.put_entry(&k, st::new_entry(k.bytes, k.slot, txn.initial_lru()), 0);
    }
    let created = modify_stream(&mut txn, &k, |s| {
        if s.groups.contains_key(g) {
            return (false, false);
        }
        s.groups
            .insert(Arc::from(g), Group::new(id, a.entries_read));
        (true, true)
    });
    if !created {
        return Err(CmdError::Static(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    if args.get(4) == b"$" && effects::logging(ctx.srv) {
        let idb = id.to_bytes();
        let mut p: Vec<&[u8]> = args.iter().collect();
        p[4] = &idb;
        effects::rewrite(&p);
    }
    ctx.out.ok();
    Ok(())
}

/// XGROUP SETID key group id|$ [ENTRIESREAD n]
fn xgroup_setid(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = group_args(args, false, true)?;
    if args.len() != 5 && args.len() != 7 {
        return Err(sub_syntax(args, "XGROUP"));
    }
    let g = args.get(3);
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    group_target(&mut txn, &k, g, false, true)?;
    let id = if args.get(4) == b"$" {
        peek_stream(&mut txn, &k)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_id_full(args.get(4), 0, false, false)?.0
    };
    modify_stream(&mut txn, &k, |s| {
        let grp = s.groups.get_mut(g).expect("checked");
        grp.last_id = id;
        grp.entries_read = a.entries_read;
        ((), true)
    });
    if effects::logging(ctx.srv) {
        let idb = id.to_bytes();
        let mut p: Vec<&[u8]> = args.iter().collect();
        p[4] = &idb;
        effects::rewrite(&p);
    }
    ctx.out.ok();
    Ok(())
}

/// XGROUP DESTROY key group
fn xgroup_destroy(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let g = args.get(3);
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    let has = group_target(&mut txn, &k, g, false, false)?;
    if has != Some(true) {
        ctx.out.int(0);
        return Ok(());
    }
    modify_stream(&mut txn, &k, |s| (s.groups.remove(g), true));
    drop(txn);
    // Readers blocked on this group get NOGROUP (Redis signals the key).
    blocking::signal_written(ctx.srv, ctx.sess.db, k.bytes);
    ctx.out.int(1);
    Ok(())
}

/// XGROUP CREATECONSUMER key group consumer
fn xgroup_createconsumer(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (g, c) = (args.get(3), args.get(4));
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    group_target(&mut txn, &k, g, false, true)?;
    let now = txn.now();
    let created = modify_stream(&mut txn, &k, |s| {
        let grp = s.groups.get_mut(g).expect("checked");
        let (_, created) = grp.consumer(c, now);
        (created, created)
    });
    ctx.out.int(created as i64);
    Ok(())
}

/// XGROUP DELCONSUMER key group consumer
fn xgroup_delconsumer(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (g, c) = (args.get(3), args.get(4));
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    group_target(&mut txn, &k, g, false, true)?;
    let pending = modify_stream(&mut txn, &k, |s| {
        let grp = s.groups.get_mut(g).expect("checked");
        let r = grp.delete_consumer(c);
        (r, r.is_some())
    });
    ctx.out.int(pending.unwrap_or(0) as i64);
    Ok(())
}

/// XACK key group id [id …]
pub(super) fn xack(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let g = args.get(2);
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let has = read_stream(&mut txn, &k)?.is_some_and(|s| s.groups.contains_key(g));
    if !has {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = (3..args.len())
        .map(|i| parse_strict(args.get(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let n = modify_stream(&mut txn, &k, |s| {
        let grp = s.groups.get_mut(g).expect("checked");
        let n = ids.iter().filter(|&&id| grp.ack(id)).count();
        (n, n > 0)
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
pub(super) fn xpending(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    let mut min_idle: i64 = 0;
    if argc >= 6 {
        let mut at = 3;
        if eq_ic(args.get(3), "idle") {
            min_idle = parse_int(args.get(4))?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        let count = parse_int(args.get(at + 2))?.max(0) as usize;
        let start = parse_bound(args.get(at), true)?;
        let end = parse_bound(args.get(at + 1), false)?;
        let consumer = (at + 3 < argc).then(|| args.get(at + 3));
        range = Some((start, end, count, consumer));
    }
    let g = args.get(2);
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let now = txn.now();
    let Some(grp) = read_stream(&mut txn, &k)?.and_then(|s| s.groups.get(g)) else {
        return Err(no_group(k.bytes, g, ""));
    };
    let out = &mut ctx.out;
    let Some((start, end, count, consumer)) = range else {
        out.array_len(4);
        out.int(grp.pel.len() as i64);
        if grp.pel.is_empty() {
            out.null();
            out.null();
            out.null_array();
            return Ok(());
        }
        write_id(out, *grp.pel.keys().next().expect("not empty"));
        write_id(out, *grp.pel.keys().next_back().expect("not empty"));
        let with: Vec<_> = grp
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .collect();
        out.array_len(with.len());
        for (name, c) in with {
            out.array_len(2);
            out.bulk(name);
            out.bulk(c.pel.len().to_string().as_bytes());
        }
        return Ok(());
    };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(c) => match grp.consumers.get(c) {
            Some(c) => Box::new(c.pel.range(start..).copied()),
            None => {
                out.array_len(0);
                return Ok(());
            }
        },
        None => Box::new(grp.pel.range(start..).map(|(id, _)| *id)),
    };
    let mut rows = Vec::new();
    if start <= end {
        for id in ids {
            if rows.len() >= count || id > end {
                break;
            }
            let n = &grp.pel[&id];
            let idle = now.saturating_sub(n.delivery_time) as i64;
            if min_idle > 0 && idle < min_idle {
                continue;
            }
            rows.push((id, n.consumer.clone(), idle, n.delivery_count));
        }
    }
    out.array_len(rows.len());
    for (id, c, idle, dc) in rows {
        out.array_len(4);
        write_id(out, id);
        out.bulk(&c);
        out.int(idle);
        out.int(dc as i64);
    }
    Ok(())
}

fn idle_arg(b: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    parse_int(b).map_err(|_| CmdError::Static(msg))
}

/// XCLAIM key group consumer min-idle-time id [id …] [IDLE ms] [TIME ms] [RETRYCOUNT n]
/// [FORCE] [JUSTID] [LASTID id]
pub(super) fn xclaim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (g, cname) = (args.get(2), args.get(3));
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let has = read_stream(&mut txn, &k)?.is_some_and(|s| s.groups.contains_key(g));
    if !has {
        return Err(no_group(k.bytes, g, ""));
    }
    let min_idle = idle_arg(args.get(4), "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict(args.get(j)) {
            Ok(id) => ids.push((id, j)),
            Err(_) => break,
        }
        j += 1;
    }
    let now = txn.now() as i64;
    let (mut force, mut justid) = (false, false);
    let mut delivery: i64 = -1;
    let mut retry: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = args.get(j);
        if eq_ic(opt, "force") {
            force = true;
        } else if eq_ic(opt, "justid") {
            justid = true;
        } else if eq_ic(opt, "idle") && more {
            j += 1;
            delivery = now - idle_arg(args.get(j), "ERR Invalid IDLE option argument for XCLAIM")?;
        } else if eq_ic(opt, "time") && more {
            j += 1;
            delivery = idle_arg(args.get(j), "ERR Invalid TIME option argument for XCLAIM")?;
        } else if eq_ic(opt, "retrycount") && more {
            j += 1;
            retry = idle_arg(
                args.get(j),
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
        } else if eq_ic(opt, "lastid") && more {
            j += 1;
            last_id = parse_strict(args.get(j))?;
        } else {
            return Err(CmdError::Msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(opt)
            )));
        }
        j += 1;
    }
    if delivery < 0 || delivery > now {
        delivery = now;
    }
    let delivery = delivery as u64;
    let key = k.bytes;
    let srv = ctx.srv;
    let resp3 = ctx.out.is_resp3();
    let mut body = Vec::new();
    let (n, records) = modify_stream(&mut txn, &k, |s| {
        let (gname, mut grp) = s.groups.remove_entry(g).expect("checked");
        let mut records = Vec::new();
        let mut propagate_last = false;
        if last_id > grp.last_id {
            grp.last_id = last_id;
            propagate_last = true;
        }
        let mut owner: Option<Arc<[u8]>> = None;
        let mut n = 0usize;
        let mut out = protocol::Reply::new(&mut body, resp3);
        for &(id, _) in &ids {
            let entry = s.get(id);
            if entry.is_none() {
                if grp.pel.contains_key(&id) {
                    let who = grp.pel[&id].consumer.clone();
                    records.push(xclaim_record(key, &gname, &who, id, &grp));
                    propagate_last = false;
                    grp.ack(id);
                }
                continue;
            }
            let pending = grp.pel.get(&id);
            if pending.is_none() && !force {
                continue;
            }
            if let Some(p) = pending {
                // An existing entry must have been idle long enough (one FORCE creates is
                // claimed whatever its time, as in Redis).
                let idle = now as u64 - p.delivery_time.min(now as u64);
                if min_idle > 0 && (idle as i64) < min_idle {
                    continue;
                }
            }
            let who = match &owner {
                Some(o) => o.clone(),
                None => {
                    let (o, created) = grp.consumer(cname, now as u64);
                    if created {
                        let t = crate::notify::class::STREAM;
                        crate::notify::extra(srv, t, "xgroup-createconsumer", key);
                    }
                    grp.touch(cname, now as u64);
                    owner = Some(o.clone());
                    o
                }
            };
            let nack = grp.assign(id, &who, true).expect("created");
            nack.delivery_time = delivery;
            if retry >= 0 {
                nack.delivery_count = retry as u64;
            } else if !justid {
                nack.delivery_count += 1;
            }
            if justid {
                write_id(&mut out, id);
            } else if let Some(e) = &entry {
                write_entry(&mut out, e);
            }
            n += 1;
            records.push(xclaim_record(key, &gname, &who, id, &grp));
            propagate_last = false;
        }
        if propagate_last {
            records.push(setid_record(key, &gname, &grp));
        }
        s.groups.insert(gname, grp);
        let changed = !records.is_empty();
        ((n, records), changed)
    });
    effects::rewrite_many(&records);
    ctx.out.array_len(n);
    ctx.out.raw(&body);
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let min_idle = idle_arg(
        args.get(4),
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0) as u64;
    let start = parse_bound(args.get(5), true)?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq_ic(args.get(j), "count") && more {
            let c = parse_int(args.get(j + 1))
                .map_err(|_| CmdError::Static("ERR COUNT must be > 0"))?;
            if !(1..=i64::MAX / 16).contains(&c) {
                return Err(CmdError::Static("ERR COUNT must be > 0"));
            }
            count = c as u64;
            j += 1;
        } else if eq_ic(args.get(j), "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (g, cname) = (args.get(2), args.get(3));
    let k = ctx.key(args.get(1));
    let mut txn = ctx.txn1(&k);
    let has = read_stream(&mut txn, &k)?.is_some_and(|s| s.groups.contains_key(g));
    if !has {
        return Err(no_group(k.bytes, g, ""));
    }
    let now = txn.now();
    let key = k.bytes;
    let srv = ctx.srv;
    let resp3 = ctx.out.is_resp3();
    let mut body = Vec::new();
    let (claimed, deleted, next, records) = modify_stream(&mut txn, &k, |s| {
        let (gname, mut grp) = s.groups.remove_entry(g).expect("checked");
        let mut out = protocol::Reply::new(&mut body, resp3);
        let mut records = Vec::new();
        let mut deleted = Vec::new();
        let mut claimed = 0usize;
        let mut owner: Option<Arc<[u8]>> = None;
        let mut attempts = count * 10;
        let mut cursor = start;
        let mut left = count;
        let mut last_seen: Option<StreamId> = None;
        while attempts > 0 && left > 0 {
            let Some((id, prev, delivered)) = grp
                .pel
                .range(cursor..)
                .next()
                .map(|(id, n)| (*id, n.consumer.clone(), n.delivery_time))
            else {
                break;
            };
            attempts -= 1;
            last_seen = Some(id);
            cursor = id.incr().unwrap_or(StreamId::MAX);
            let entry = s.get(id);
            if entry.is_none() {
                records.push(xclaim_record(key, &gname, &prev, id, &grp));
                grp.ack(id);
                deleted.push(id);
                left -= 1;
                continue;
            }
            if min_idle > 0 && now.saturating_sub(delivered) < min_idle {
                continue;
            }
            let who = match &owner {
                Some(o) => o.clone(),
                None => {
                    let (o, created) = grp.consumer(cname, now);
                    if created {
                        let t = crate::notify::class::STREAM;
                        crate::notify::extra(srv, t, "xgroup-createconsumer", key);
                    }
                    grp.touch(cname, now);
                    owner = Some(o.clone());
                    o
                }
            };
            let n = grp.assign(id, &who, false).expect("pending");
            n.delivery_time = now;
            if !justid {
                n.delivery_count += 1;
            }
            if justid {
                write_id(&mut out, id);
            } else if let Some(e) = &entry {
                write_entry(&mut out, e);
            }
            claimed += 1;
            left -= 1;
            records.push(xclaim_record(key, &gname, &who, id, &grp));
        }
        let next = match last_seen {
            Some(l) if l < StreamId::MAX => grp
                .pel
                .range(l.incr().unwrap_or(StreamId::MAX)..)
                .next()
                .map_or(StreamId::MIN, |(id, _)| *id),
            _ => StreamId::MIN,
        };
        s.groups.insert(gname, grp);
        let changed = !records.is_empty();
        ((claimed, deleted, next, records), changed)
    });
    effects::rewrite_many(&records);
    let out = &mut ctx.out;
    out.array_len(3);
    write_id(out, next);
    out.array_len(claimed);
    out.raw(&body);
    out.array_len(deleted.len());
    for id in deleted {
        write_id(out, id);
    }
    Ok(())
}
