//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS and XINFO HELP, in Redis
//! 7.0's shapes (maps in RESP3, flat arrays in RESP2).
//!
//! `radix-tree-keys` is the number of entry blocks (Redis's listpack nodes);
//! `radix-tree-nodes` is that plus one (our tree has no radix nodes; this matches Redis for
//! empty and one-block streams, the common case tools look at).

use super::{read_stream, write_entry, write_id, write_range};
use crate::client_cmd::reply_help;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, lossy, parse_int};
use crate::{cmd, dispatch_sub, Ctx};
use protocol::{Args, Reply};
use storage::types::stream::{Group, StreamId, StreamObj, ENTRIES_READ_UNKNOWN};

#[rustfmt::skip]
pub(super) const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("xinfo|consumers", 4, READONLY, 2, 2, 1, consumers, "stream", "5.0.0",
        "Returns a list of the consumers in a consumer group.", "key group"),
    cmd!("xinfo|groups", 3, READONLY, 2, 2, 1, groups, "stream", "5.0.0",
        "Returns a list of the consumer groups of a stream.", "key"),
    cmd!("xinfo|help", 2, LOADING | STALE, 0, 0, 0, help, "stream", "5.0.0",
        "Returns helpful text about the different subcommands.", ""),
    cmd!("xinfo|stream", -3, READONLY, 2, 2, 1, stream, "stream", "5.0.0",
        "Returns information about a stream.", "key [FULL [COUNT count]]"),
];

/// XINFO <subcommand> …
pub(super) fn xinfo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    dispatch_sub(ctx, XINFO_SUBCOMMANDS, args)
}

fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        &[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

fn with_stream(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    f: impl FnOnce(&mut Reply<'_>, &StreamObj, u64) -> CmdResult,
) -> CmdResult {
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    let now = txn.now();
    let Some(s) = read_stream(&mut txn, &k)? else {
        return Err(CmdError::NoSuchKey);
    };
    f(&mut ctx.out, s, now)
}

fn entries_read(out: &mut Reply<'_>, g: &Group) {
    if g.entries_read == ENTRIES_READ_UNKNOWN {
        out.null();
    } else {
        out.int(g.entries_read);
    }
}

fn lag(out: &mut Reply<'_>, s: &StreamObj, g: &Group) {
    match s.lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

/// XINFO CONSUMERS key group
fn consumers(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let g = args.get(3);
    let key = args.get(2);
    with_stream(ctx, args, |out, s, now| {
        let Some(grp) = s.groups.get(g) else {
            return Err(CmdError::Msg(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                lossy(g),
                lossy(key)
            )));
        };
        out.array_len(grp.consumers.len());
        for (name, c) in &grp.consumers {
            out.map_len(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int(now.saturating_sub(c.seen_time) as i64);
        }
        Ok(())
    })
}

/// XINFO GROUPS key
fn groups(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    with_stream(ctx, args, |out, s, _| {
        out.array_len(s.groups.len());
        for (name, g) in &s.groups {
            out.map_len(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            write_id(out, g.last_id);
            out.bulk(b"entries-read");
            entries_read(out, g);
            out.bulk(b"lag");
            lag(out, s, g);
        }
        Ok(())
    })
}

fn sub_syntax(args: Args<'_>) -> CmdError {
    CmdError::Msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
        lossy(args.get(1))
    ))
}

/// XINFO STREAM key [FULL [COUNT count]]
fn stream(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let optc = args.len() - 3;
    let mut full = false;
    let mut count: i64 = 10;
    if optc > 0 {
        if (optc != 1 && optc != 3) || !eq_ic(args.get(3), "full") {
            return Err(sub_syntax(args));
        }
        full = true;
        if optc == 3 {
            if !eq_ic(args.get(4), "count") {
                return Err(sub_syntax(args));
            }
            count = parse_int(args.get(5))?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let count = count as usize;
    with_stream(ctx, args, |out, s, _| {
        out.map_len(if full { 9 } else { 10 });
        out.bulk(b"length");
        out.int(s.len() as i64);
        out.bulk(b"radix-tree-keys");
        out.int(s.blocks() as i64);
        out.bulk(b"radix-tree-nodes");
        out.int(s.blocks() as i64 + 1);
        out.bulk(b"last-generated-id");
        write_id(out, s.last_id);
        out.bulk(b"max-deleted-entry-id");
        write_id(out, s.max_deleted);
        out.bulk(b"entries-added");
        out.int(s.entries_added as i64);
        out.bulk(b"recorded-first-entry-id");
        write_id(out, s.first_id);
        if !full {
            out.bulk(b"groups");
            out.int(s.groups.len() as i64);
            for (name, last) in [(&b"first-entry"[..], false), (&b"last-entry"[..], true)] {
                out.bulk(name);
                let mut found = None;
                s.range(StreamId::MIN, StreamId::MAX, last, |e| {
                    found = Some(e);
                    false
                });
                match found {
                    Some(e) => write_entry(out, &e),
                    None => out.null(),
                }
            }
            return Ok(());
        }
        out.bulk(b"entries");
        write_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
        out.bulk(b"groups");
        out.array_len(s.groups.len());
        let take = |n: usize| if count == 0 { n } else { n.min(count) };
        for (name, g) in &s.groups {
            out.map_len(7);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"last-delivered-id");
            write_id(out, g.last_id);
            out.bulk(b"entries-read");
            entries_read(out, g);
            out.bulk(b"lag");
            lag(out, s, g);
            out.bulk(b"pel-count");
            out.int(g.pel.len() as i64);
            out.bulk(b"pending");
            out.array_len(take(g.pel.len()));
            for (id, n) in g.pel.iter().take(take(g.pel.len())) {
                out.array_len(4);
                write_id(out, *id);
                out.bulk(&n.consumer);
                out.int(n.delivery_time as i64);
                out.int(n.delivery_count as i64);
            }
            out.bulk(b"consumers");
            out.array_len(g.consumers.len());
            for (cname, c) in &g.consumers {
                out.map_len(4);
                out.bulk(b"name");
                out.bulk(cname);
                out.bulk(b"seen-time");
                out.int(c.seen_time as i64);
                out.bulk(b"pel-count");
                out.int(c.pel.len() as i64);
                out.bulk(b"pending");
                out.array_len(take(c.pel.len()));
                for id in c.pel.iter().take(take(c.pel.len())) {
                    let n = &g.pel[id];
                    out.array_len(3);
                    write_id(out, *id);
                    out.int(n.delivery_time as i64);
                    out.int(n.delivery_count as i64);
                }
            }
        }
        Ok(())
    })
}
