//! The cluster as commands see it: Redis Cluster's CLUSTER subcommands, ASKING /
//! READONLY / READWRITE, the internal bus's handshake and hand-off commands, and which
//! slots a command's keys are in (routing, `keys_of`).
//!
//! ```text
//!  CLUSTER INFO|MYID|SLOTS|SHARDS|NODES|KEYSLOT|COUNTKEYSINSLOT|GETKEYSINSLOT|LINKS|LEAVE
//!  RCACHE.BUSHELLO / RCACHE.BUSAUTH id proof     the bus's challenge–response (link.rs)
//!  RCACHE.IMPORT BEGIN|COMMIT epoch|ABORT|STATUS slot…   the target side of a hand-off
//!  RCACHE.PUBLISH channel message                 a PUBLISH relayed from another node
//!  RCACHE.SPUBLISH shardchannel message           an SPUBLISH relayed from another node
//! ```
//! Without cluster mode CLUSTER and friends answer Redis's "cluster support disabled".

use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::CommandSpec;
use crate::{cmd, Ctx, ServerState};
use cluster::state::{Route, NONE};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

const DISABLED: &str = "ERR This instance has cluster support disabled";
const CL: u32 = LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        subcommands: SUBCOMMANDS,
        ..cmd!(
            "cluster",
            -2,
            0,
            0,
            0,
            0,
            cluster_,
            "cluster",
            "3.0.0",
            "A container for Redis Cluster commands.",
            ""
        )
    },
    cmd!(
        "asking",
        1,
        FAST,
        0,
        0,
        0,
        ok_in_cluster,
        "cluster",
        "3.0.0",
        "Signals that a cluster client is following an -ASK redirect.",
        ""
    ),
    cmd!(
        "readonly",
        1,
        FAST | LOADING | STALE,
        0,
        0,
        0,
        ok_in_cluster,
        "cluster",
        "3.0.0",
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
        ""
    ),
    cmd!(
        "readwrite",
        1,
        FAST | LOADING | STALE,
        0,
        0,
        0,
        ok_in_cluster,
        "cluster",
        "3.0.0",
        "Enables read-write queries for a connection to a Reids Cluster replica node.",
        ""
    ),
    cmd!(
        "rcache.bushello",
        1,
        NO_AUTH | LOADING | STALE | FAST,
        0,
        0,
        0,
        bus_hello,
        "cluster",
        "0.1.0",
        "rcache internal: opens a bus connection (answers a nonce).",
        ""
    ),
    cmd!(
        "rcache.busauth",
        3,
        NO_AUTH | LOADING | STALE | FAST,
        0,
        0,
        0,
        bus_auth,
        "cluster",
        "0.1.0",
        "rcache internal: proves the cluster secret on a bus connection.",
        "node-id proof"
    ),
    cmd!(
        "rcache.import",
        -2,
        WRITE | LOADING | STALE,
        0,
        0,
        0,
        import,
        "cluster",
        "0.1.0",
        "rcache internal: the receiving side of a slot hand-off.",
        "BEGIN|COMMIT epoch|ABORT|STATUS slot [slot ...]"
    ),
    cmd!(
        "rcache.dropslot",
        2,
        WRITE | LOADING | STALE,
        0,
        0,
        0,
        dropslot,
        "cluster",
        "0.1.0",
        "rcache internal: drops every key of a hash slot (a slot handed to another node; written to the append-only log so a replay drops them too).",
        "slot"
    ),
    cmd!(
        "rcache.publish",
        3,
        PUBSUB | LOADING | STALE | FAST,
        0,
        0,
        0,
        relay_publish,
        "cluster",
        "0.1.0",
        "rcache internal: delivers a message published on another node to this node's subscribers.",
        "channel message"
    ),
    cmd!(
        "rcache.spublish",
        3,
        PUBSUB | LOADING | STALE | FAST,
        0,
        0,
        0,
        relay_spublish,
        "cluster",
        "0.1.0",
        "rcache internal: delivers a message published with SPUBLISH on another node to this node's shard channel subscribers.",
        "shardchannel message"
    ),
];

#[rustfmt::skip]
pub const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("cluster|info", 2, CL, 0, 0, 0, info, "cluster", "3.0.0", "Returns information about the state of a node.", ""),
    cmd!("cluster|myid", 2, CL, 0, 0, 0, myid, "cluster", "3.0.0", "Returns the ID of a node.", ""),
    cmd!("cluster|slots", 2, CL, 0, 0, 0, slots, "cluster", "3.0.0", "Returns the mapping of cluster slots to nodes.", ""),
    cmd!("cluster|shards", 2, CL, 0, 0, 0, shards, "cluster", "7.0.0", "Returns the mapping of cluster slots to shards.", ""),
    cmd!("cluster|nodes", 2, CL, 0, 0, 0, nodes, "cluster", "3.0.0", "Returns the cluster configuration for a node.", ""),
    cmd!("cluster|keyslot", 3, CL, 0, 0, 0, keyslot, "cluster", "3.0.0", "Returns the hash slot for a key.", "key"),
    cmd!("cluster|countkeysinslot", 3, CL, 0, 0, 0, countkeys, "cluster", "3.0.0", "Returns the number of keys in a hash slot.", "slot"),
    cmd!("cluster|getkeysinslot", 4, CL, 0, 0, 0, getkeys, "cluster", "3.0.0", "Returns the key names in a hash slot.", "slot count"),
    cmd!("cluster|links", 2, CL, 0, 0, 0, links, "cluster", "7.0.0", "Returns a list of all TCP links to and from peer nodes.", ""),
    cmd!("cluster|leave", 2, ADMIN, 0, 0, 0, leave, "cluster", "0.1.0", "rcache: hands every slot of this node to the others, then stops it.", ""),
    cmd!("cluster|help", 2, CL, 0, 0, 0, help, "cluster", "5.0.0", "Returns helpful text about the different subcommands.", ""),
];

fn the(srv: &ServerState) -> Result<&Arc<cluster::Cluster>, CmdError> {
    srv.cluster.get().ok_or(CmdError::Static(DISABLED))
}

fn cluster_(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if !args.get(1).eq_ignore_ascii_case(b"help") && !args.get(1).eq_ignore_ascii_case(b"keyslot") {
        the(ctx.srv)?;
    }
    crate::dispatch_sub(ctx, SUBCOMMANDS, args)
}

fn ok_in_cluster(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    the(ctx.srv)?;
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let lines = [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "LEAVE",
        "    (rcache) Hand every slot of this node to the others, then stop it.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node.",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "SLOTS",
        "    Return information about slots range mappings.",
        "HELP",
        "    Print this help.",
    ];
    crate::client_cmd::reply_help(ctx, &lines);
    Ok(())
}

/// `ip`, `port` of a node's RESP address.
fn endpoint(n: &cluster::NodeInfo) -> (String, u16) {
    match n.resp {
        Some(a) => (a.ip().to_string(), a.port()),
        None => (String::new(), 0),
    }
}

/// The text of CLUSTER INFO (also `INFO cluster`'s extra lines).
pub fn info_text(srv: &ServerState, cl: &cluster::Cluster) -> String {
    let assigned = cl.assigned();
    let nodes = cl.nodes();
    let known = nodes.iter().filter(|(_, n)| n.alive).count();
    let size = cl.slot_counts().len();
    let s = &cl.stats;
    let my_epoch = cl.owned().iter().map(|(_, e)| *e).max().unwrap_or(0);
    let _ = srv;
    let mut t = String::new();
    let served = cl.served();
    let ok = served == cluster::SLOTS;
    let kv = |t: &mut String, k: &str, v: String| {
        t.push_str(k);
        t.push(':');
        t.push_str(&v);
        t.push_str("\r\n");
    };
    kv(
        &mut t,
        "cluster_state",
        if ok { "ok" } else { "fail" }.into(),
    );
    kv(&mut t, "cluster_slots_assigned", assigned.to_string());
    kv(&mut t, "cluster_slots_ok", assigned.to_string());
    kv(&mut t, "cluster_slots_pfail", "0".into());
    kv(
        &mut t,
        "cluster_slots_fail",
        (cluster::SLOTS - assigned).to_string(),
    );
    kv(&mut t, "cluster_known_nodes", known.to_string());
    kv(&mut t, "cluster_size", size.to_string());
    kv(&mut t, "cluster_current_epoch", cl.max_epoch().to_string());
    kv(&mut t, "cluster_my_epoch", my_epoch.to_string());
    kv(&mut t, "cluster_stats_messages_sent", "0".into());
    kv(&mut t, "cluster_stats_messages_received", "0".into());
    kv(
        &mut t,
        "total_cluster_links_buffer_limit_exceeded",
        "0".into(),
    );
    // rcache's own figures.
    kv(
        &mut t,
        "cluster_mode",
        if cl.redirect { "redirect" } else { "forward" }.into(),
    );
    kv(&mut t, "cluster_my_state", cl.myself().state);
    kv(
        &mut t,
        "cluster_forwarded_requests",
        s.forwarded.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_forward_errors",
        s.forward_errors.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_moved_sent",
        s.moved_sent.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_slots_lost",
        s.slots_lost.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_handoffs_done",
        s.handoffs_done.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_handoffs_aborted",
        s.handoffs_aborted.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_slots_moved_out",
        s.slots_moved_out.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_keys_moved_out",
        s.keys_moved_out.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_slots_moved_in",
        s.slots_moved_in.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_keys_moved_in",
        s.keys_moved_in.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_moving_slots",
        s.moving_slots.load(Relaxed).to_string(),
    );
    kv(
        &mut t,
        "cluster_bus_refused",
        s.refused_bus.load(Relaxed).to_string(),
    );
    t
}

fn info(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?;
    let t = info_text(ctx.srv, cl);
    ctx.out.verbatim(t.as_bytes());
    Ok(())
}

fn myid(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?;
    ctx.out.bulk(cl.my_id.as_bytes());
    Ok(())
}

/// CLUSTER SLOTS: [start, end, [ip, port, id, []]] per run of slots.
fn slots(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?;
    let ranges = cl.ranges();
    let nodes = cl.nodes();
    ctx.out.array_len(ranges.len());
    for (a, b, o) in ranges {
        let n = &nodes[o as usize].1;
        let (ip, port) = endpoint(n);
        ctx.out.array_len(3);
        ctx.out.int(a as i64);
        ctx.out.int(b as i64);
        ctx.out.array_len(4);
        ctx.out.bulk(ip.as_bytes());
        ctx.out.int(port as i64);
        ctx.out.bulk(n.id.as_bytes());
        ctx.out.map_len(0);
    }
    Ok(())
}

/// CLUSTER SHARDS: one shard per node owning slots (no replicas yet).
fn shards(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?;
    let ranges = cl.ranges();
    let nodes = cl.nodes();
    let mut by_node: std::collections::BTreeMap<u32, Vec<(u16, u16)>> = Default::default();
    for (a, b, o) in ranges {
        by_node.entry(o).or_default().push((a, b));
    }
    for (i, n) in &nodes {
        if n.alive && n.state == cluster::membership::state::SERVING {
            by_node.entry(*i).or_default();
        }
    }
    ctx.out.array_len(by_node.len());
    for (o, rs) in by_node {
        let n = &nodes[o as usize].1;
        let (ip, port) = endpoint(n);
        ctx.out.map_len(2);
        ctx.out.bulk(b"slots");
        ctx.out.array_len(rs.len() * 2);
        for (a, b) in rs {
            ctx.out.int(a as i64);
            ctx.out.int(b as i64);
        }
        ctx.out.bulk(b"nodes");
        ctx.out.array_len(1);
        ctx.out.map_len(7);
        ctx.out.bulk(b"id");
        ctx.out.bulk(n.id.as_bytes());
        ctx.out.bulk(b"port");
        ctx.out.int(port as i64);
        ctx.out.bulk(b"ip");
        ctx.out.bulk(ip.as_bytes());
        ctx.out.bulk(b"endpoint");
        ctx.out.bulk(ip.as_bytes());
        ctx.out.bulk(b"role");
        ctx.out.bulk(b"master");
        ctx.out.bulk(b"replication-offset");
        ctx.out.int(0);
        ctx.out.bulk(b"health");
        ctx.out.bulk(if n.alive {
            b"online".as_slice()
        } else {
            b"failed"
        });
    }
    Ok(())
}

/// The CLUSTER NODES text (Redis's line format, migrating/importing markers included).
pub fn nodes_text(cl: &cluster::Cluster) -> String {
    let nodes = cl.nodes();
    let ranges = cl.ranges();
    let mut out = String::new();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    for (i, n) in &nodes {
        if !n.alive && ranges.iter().all(|r| r.2 != *i) {
            continue; // a dead node that owns nothing is of no interest
        }
        let (ip, port) = endpoint(n);
        let bus = n.bus.map_or(0, |b| b.port());
        let mut flags = String::new();
        if *i == cl.me {
            flags.push_str("myself,");
        }
        flags.push_str("master");
        if !n.alive {
            flags.push_str(",fail");
        }
        let epoch = ranges
            .iter()
            .filter(|r| r.2 == *i)
            .map(|r| cl.epoch(r.0))
            .max()
            .unwrap_or(0);
        let link = if n.alive { "connected" } else { "disconnected" };
        out.push_str(&format!(
            "{} {ip}:{port}@{bus} {flags} - 0 {now_ms} {epoch} {link}",
            n.id
        ));
        for r in ranges.iter().filter(|r| r.2 == *i) {
            if r.0 == r.1 {
                out.push_str(&format!(" {}", r.0));
            } else {
                out.push_str(&format!(" {}-{}", r.0, r.1));
            }
        }
        if *i == cl.me {
            for s in 0..cluster::SLOTS as u16 {
                let to = cl.migrating_to(s);
                if to != NONE {
                    if let Some(t) = cl.node(to) {
                        out.push_str(&format!(" [{s}->-{}]", t.id));
                    }
                }
                if cl.is_importing(s) {
                    if let Some(f) = cl.node(cl.owner(s)) {
                        out.push_str(&format!(" [{s}-<-{}]", f.id));
                    }
                }
            }
        }
        out.push('\n');
    }
    out
}

fn nodes(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?;
    ctx.out.verbatim(nodes_text(cl).as_bytes());
    Ok(())
}

fn keyslot(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ctx.out.int(storage::key_slot(args.get(2)) as i64);
    Ok(())
}

fn parse_slot(b: &[u8]) -> Result<u16, CmdError> {
    let n = crate::util::parse_int(b).map_err(|_| CmdError::Static("ERR Invalid slot"))?;
    if !(0..cluster::SLOTS as i64).contains(&n) {
        return Err(CmdError::Static("ERR Invalid slot"));
    }
    Ok(n as u16)
}

fn countkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let s = parse_slot(args.get(2))?;
    ctx.out.int(ctx.srv.ks.count_keys_in_slot(0, s) as i64);
    Ok(())
}

fn getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let s = parse_slot(args.get(2))?;
    let n = crate::util::parse_int(args.get(3))?;
    if n < 0 {
        return Err(CmdError::Static("ERR Invalid number of keys"));
    }
    let keys = ctx.srv.ks.slot_keys(0, s, n as usize);
    ctx.out.array_len(keys.len());
    for k in keys {
        ctx.out.bulk(&k);
    }
    Ok(())
}

/// CLUSTER LINKS: one outgoing link per live peer (the bus connections are opened on
/// demand per I/O thread; this lists the peers they go to).
fn links(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?;
    let peers: Vec<_> = cl
        .nodes()
        .into_iter()
        .filter(|(i, n)| *i != cl.me && n.alive)
        .collect();
    ctx.out.array_len(peers.len());
    for (_, n) in peers {
        ctx.out.map_len(6);
        ctx.out.bulk(b"direction");
        ctx.out.bulk(b"to");
        ctx.out.bulk(b"node");
        ctx.out.bulk(n.id.as_bytes());
        ctx.out.bulk(b"create-time");
        ctx.out.int(0);
        ctx.out.bulk(b"events");
        ctx.out.bulk(b"rw");
        ctx.out.bulk(b"send-buffer-allocated");
        ctx.out.int(0);
        ctx.out.bulk(b"send-buffer-used");
        ctx.out.int(0);
    }
    Ok(())
}

fn leave(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?;
    cl.request_leave();
    ctx.out.ok();
    Ok(())
}

// ---- the bus ----

fn bus_hello(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let Some(bus) = ctx.sess.bus.as_mut() else {
        return Err(CmdError::Static("ERR only on the cluster port"));
    };
    let n = cluster::link::nonce();
    ctx.out.bulk(n.as_bytes());
    bus.nonce = Some(n);
    Ok(())
}

fn bus_auth(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?.clone();
    let Some(bus) = ctx.sess.bus.as_mut() else {
        return Err(CmdError::Static("ERR only on the cluster port"));
    };
    let Some(nonce) = bus.nonce.take() else {
        return Err(CmdError::Static("ERR send RCACHE.BUSHELLO first"));
    };
    if !cluster::link::verify(&cl.secret, nonce.as_bytes(), args.get(2)) {
        cl.stats.refused_bus.fetch_add(1, Relaxed);
        tracing::warn!(
            "cluster bus: refused a connection from {} (wrong cluster secret)",
            ctx.sess.handle.addr
        );
        ctx.sess.close = true;
        return Err(CmdError::Static(
            "ERR wrong cluster secret: this node does not belong to the cluster",
        ));
    }
    bus.peer = Some(String::from_utf8_lossy(args.get(1)).into_owned());
    ctx.sess.authenticated = true;
    ctx.out.ok();
    Ok(())
}

fn parse_slots(args: Args<'_>, from: usize) -> Result<Vec<u16>, CmdError> {
    (from..args.len())
        .map(|i| parse_slot(args.get(i)))
        .collect()
}

/// RCACHE.IMPORT BEGIN slot… | COMMIT epoch slot… | ABORT slot… | STATUS slot
fn import(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cl = the(ctx.srv)?.clone();
    let Some(bus) = ctx.sess.bus.as_mut().filter(|b| b.peer.is_some()) else {
        return Err(CmdError::Static(
            "ERR only on an authenticated bus connection",
        ));
    };
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"begin" => {
            let slots = parse_slots(args, 2)?;
            if let Some(s) = slots.iter().find(|&&s| cl.owner(s) == cl.me) {
                return Err(CmdError::Msg(format!("ERR slot {s} is already mine")));
            }
            // Leftovers of an aborted attempt (or of a time this node owned the slot)
            // must not mix with what arrives.
            for &s in &slots {
                drop_slot(ctx.srv, s);
            }
            cl.set_importing(&slots, true);
            bus.importing.extend_from_slice(&slots);
            ctx.out.ok();
        }
        b"commit" => {
            let epoch = crate::util::parse_int(args.get(2))? as u64;
            let slots = parse_slots(args, 3)?;
            if let Some(s) = slots.iter().find(|s| !bus.importing.contains(s)) {
                return Err(CmdError::Msg(format!(
                    "ERR slot {s} is not being imported here"
                )));
            }
            cl.commit(&slots, epoch);
            bus.importing.retain(|s| !slots.contains(s));
            cl.stats
                .slots_moved_in
                .fetch_add(slots.len() as u64, Relaxed);
            tracing::info!(
                "cluster: took over {} slots from {} at epoch {epoch}",
                slots.len(),
                bus.peer.as_deref().unwrap_or("?")
            );
            ctx.out.ok();
        }
        b"abort" => {
            let slots = parse_slots(args, 2)?;
            abort_import(ctx.srv, &cl, &slots);
            bus.importing.retain(|s| !slots.contains(s));
            ctx.out.ok();
        }
        b"status" => {
            let s = parse_slot(args.get(2))?;
            let st = if cl.owner(s) == cl.me {
                format!("owner {}", cl.epoch(s))
            } else if cl.is_importing(s) {
                "importing".to_string()
            } else {
                "none".to_string()
            };
            ctx.out.simple(&st);
        }
        _ => return Err(CmdError::Syntax),
    }
    Ok(())
}

/// Drop what arrived for slots whose hand-off did not complete (the source still owns
/// them): invariant 6, clean abort.
pub fn abort_import(srv: &ServerState, cl: &cluster::Cluster, slots: &[u16]) {
    for &s in slots {
        if cl.is_importing(s) && cl.owner(s) != cl.me {
            cl.set_importing(&[s], false);
            drop_slot(srv, s);
        }
    }
}

/// Drop every key of `slot` (database 0) and say so in the append-only log, so a replay
/// drops them at the same point: a slot that left this node and came back must not bring
/// back keys deleted while it was away (invariant 4 across restarts).
pub fn drop_slot(srv: &ServerState, slot: u16) -> usize {
    if srv.ks.count_keys_in_slot(0, slot) == 0 {
        return 0;
    }
    let s = slot.to_string();
    crate::effects::emit_direct(srv, 0, &[b"RCACHE.DROPSLOT", s.as_bytes()]);
    srv.ks.drop_slot(0, slot)
}

/// RCACHE.DROPSLOT slot: the log's record of a dropped slot (replayed at start-up), or a
/// peer's request on the bus. Refused to clients.
fn dropslot(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bus = ctx.sess.bus.as_ref().is_some_and(|b| b.peer.is_some());
    if !bus && !ctx.srv.ks.replaying() {
        return Err(CmdError::Static(
            "ERR RCACHE.DROPSLOT is internal to the cluster",
        ));
    }
    let s = parse_slot(args.get(1))?;
    let n = if ctx.srv.ks.replaying() {
        ctx.srv.ks.drop_slot(0, s)
    } else {
        drop_slot(ctx.srv, s)
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// RCACHE.PUBLISH / RCACHE.SPUBLISH come from a peer on the bus only: a client's would
/// publish on channels its ACL user may not (they are checked as the PUBLISH the sending
/// node relays).
fn from_peer(ctx: &Ctx<'_>, name: &str) -> Result<(), CmdError> {
    if ctx.sess.bus.as_ref().is_some_and(|b| b.peer.is_some()) {
        Ok(())
    } else {
        Err(CmdError::Msg(format!(
            "ERR {name} is internal to the cluster"
        )))
    }
}

fn relay_publish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    from_peer(ctx, "RCACHE.PUBLISH")?;
    let srv = ctx.srv;
    let n = srv.pubsub.publish(srv, args.get(1), args.get(2), None);
    ctx.out.int(n as i64);
    Ok(())
}

fn relay_spublish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    from_peer(ctx, "RCACHE.SPUBLISH")?;
    let srv = ctx.srv;
    let n = srv
        .pubsub
        .publish_shard(srv, args.get(1), args.get(2), None);
    ctx.out.int(n as i64);
    Ok(())
}

/// Sharded pub/sub (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH): their channels are keys for the
/// slot checks (CROSSSLOT, MOVED in redirect mode) but the commands always run on the
/// node the client talks to, never forwarded (docs/CLUSTER.md).
pub fn is_shard_pubsub(spec: &CommandSpec) -> bool {
    matches!(spec.name, "ssubscribe" | "sunsubscribe" | "spublish")
}

// ---- routing: which slots a command's keys are in ----

/// Where a command's keys are.
#[derive(Debug, PartialEq, Eq)]
pub enum Keys {
    /// No key (keyless commands run where they are sent).
    None,
    /// Every key in this slot.
    One(u16),
    /// Keys in several slots.
    Cross,
}

/// How a multi-key command that spans slots can be split and its replies merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// MGET: one array, elements in key order.
    Array,
    /// DEL, UNLINK, EXISTS, TOUCH: the sum of the integers.
    Sum,
    /// MSET: OK when every part is.
    Ok,
}

/// Whether `name` can be split over nodes, and how many arguments go with each key.
pub fn splittable(spec: &CommandSpec) -> Option<(Split, usize)> {
    match spec.name {
        "mget" => Some((Split::Array, 1)),
        "del" | "unlink" | "exists" | "touch" => Some((Split::Sum, 1)),
        "mset" => Some((Split::Ok, 2)),
        _ => None,
    }
}

/// The argument positions of a command's keys (movable keys included for the commands
/// rcache has: EVAL & co., Z*STORE, *INTERCARD, *MPOP, SORT … STORE, GEORADIUS … STORE).
pub fn key_positions(spec: &CommandSpec, args: Args<'_>) -> Vec<usize> {
    movable_positions(spec, args).unwrap_or_else(|| spec.key_positions(args.len()).collect())
}

/// The key positions of the commands whose keys the table's first/last/step cannot say.
fn movable_positions(spec: &CommandSpec, args: Args<'_>) -> Option<Vec<usize>> {
    let n = args.len();
    let numkeys = |at: usize| -> usize {
        args.try_get(at)
            .and_then(protocol::resp::parse_i64)
            .filter(|&k| k >= 0)
            .map_or(0, |k| k as usize)
    };
    let run = |from: usize, k: usize| -> Vec<usize> { (from..(from + k).min(n)).collect() };
    Some(match spec.name {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => run(3, numkeys(2)),
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            let mut v = vec![1];
            v.extend(run(3, numkeys(2)));
            v
        }
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            run(2, numkeys(1))
        }
        "blmpop" | "bzmpop" => run(3, numkeys(2)),
        // The keys are the first half of what follows STREAMS (the IDs are the rest).
        "xread" | "xreadgroup" => {
            match (1..n).find(|&i| args.get(i).eq_ignore_ascii_case(b"streams")) {
                Some(at) => run(at + 1, (n - at - 1) / 2),
                None => Vec::new(),
            }
        }
        // Redis's key specs: the argument after the first STORE, and after the first
        // STOREDIST, searched from the first optional argument.
        "georadius" | "georadiusbymember" => {
            let from = if spec.name == "georadius" { 6 } else { 5 };
            let mut v = vec![1];
            for kw in [&b"store"[..], b"storedist"] {
                let at =
                    (from..n.saturating_sub(1)).find(|&i| args.get(i).eq_ignore_ascii_case(kw));
                if let Some(i) = at {
                    v.push(i + 1);
                }
            }
            v
        }
        "sort" | "sort_ro" => {
            let mut v = vec![1];
            for i in 2..n.saturating_sub(1) {
                if args.get(i).eq_ignore_ascii_case(b"store") {
                    v.push(i + 1);
                }
            }
            v
        }
        _ => return None,
    })
}

/// The slot(s) of a command's keys. No allocation for the table's fixed key positions
/// (GET, SET…: this runs for every command in cluster mode).
pub fn keys_of(spec: &CommandSpec, args: Args<'_>) -> Keys {
    match movable_positions(spec, args) {
        Some(v) => slots_at(v.into_iter(), args),
        None => slots_at(spec.key_positions(args.len()), args),
    }
}

fn slots_at(positions: impl Iterator<Item = usize>, args: Args<'_>) -> Keys {
    let mut slot = None;
    for p in positions {
        let s = storage::key_slot(args.get(p));
        match slot {
            None => slot = Some(s),
            Some(x) if x != s => return Keys::Cross,
            _ => {}
        }
    }
    slot.map_or(Keys::None, Keys::One)
}

/// What a bus connection is.
#[derive(Debug, Default)]
pub struct BusSession {
    /// The nonce sent by RCACHE.BUSHELLO, until RCACHE.BUSAUTH.
    pub nonce: Option<String>,
    /// The peer's node id, once it proved the secret.
    pub peer: Option<String>,
    /// Slots this connection is handing over to us (RCACHE.IMPORT BEGIN).
    pub importing: Vec<u16>,
}

/// A route for a bus session: served here (owned, or being imported on this connection)
/// or the MOVED / TRYAGAIN line.
pub fn peer_route(cl: &cluster::Cluster, bus: &BusSession, slot: u16) -> Result<Route, String> {
    match cl.route(slot) {
        Route::Local => Ok(Route::Local),
        Route::Frozen => Ok(Route::Frozen),
        _ if bus.importing.contains(&slot) => Ok(Route::Local),
        Route::Remote(o) => {
            cl.stats.moved_sent.fetch_add(1, Relaxed);
            // Between nodes the MOVED line also names the owner's id and bus address, so a
            // node that has not heard of it by gossip yet can follow at once.
            Err(match cl.node(o) {
                Some(n) => match (n.resp, n.bus) {
                    (Some(r), Some(b)) => {
                        format!("MOVED {slot} {r} {} {b} {}", n.id, cl.epoch(slot))
                    }
                    _ => moved(cl, slot, o),
                },
                None => moved(cl, slot, o),
            })
        }
        Route::Down => Err(format!("TRYAGAIN slot {slot} is not served right now")),
    }
}

/// The MOVED line for `slot` owned by node `o`.
pub fn moved(cl: &cluster::Cluster, slot: u16, o: u32) -> String {
    match cl.node(o).and_then(|n| n.resp) {
        Some(a) => format!("MOVED {slot} {a}"),
        None => format!("TRYAGAIN slot {slot} is moving"),
    }
}

/// A value bigger than this (bytes, `Entry::mem_usage`) is sent in pieces
/// (`BigKey`), never as one DUMP payload: no shard lock is held while a huge value is
/// encoded, and no payload of its size is built.
pub const BIG_VALUE: usize = 1 << 20;

/// The keys of `slot` as RESTORE commands (`RESTORE key pttl payload REPLACE`, the
/// DUMP/snapshot entry format, remaining TTL in ms as Redis's MIGRATE sends it), appended to
/// `out`. Keys already expired are left out; keys whose value is bigger than `BIG_VALUE`
/// go to `big` instead (send them with `BigKey`). Returns the number of RESTOREs written.
/// The caller has frozen the slot, so nothing writes it meanwhile.
pub fn dump_slot(srv: &ServerState, slot: u16, out: &mut Vec<u8>, big: &mut Vec<Vec<u8>>) -> usize {
    let keys = srv.ks.slot_keys(0, slot, usize::MAX);
    let mut n = 0;
    for k in keys {
        let key = srv.ks.key(&k);
        let mut txn = srv.ks.txn1(0, &key);
        txn.set_no_touch(true);
        let now = txn.now();
        let Some(e) = txn.inspect(&key) else { continue };
        let at = e.expire_at();
        if at != 0 && at <= now {
            continue;
        }
        if e.mem_usage() > BIG_VALUE {
            drop(txn);
            big.push(k);
            continue;
        }
        let pttl = if at == 0 { 0 } else { at - now };
        let payload = storage::dump::encode(&storage::types::generic::to_value(e));
        drop(txn);
        let pttl = pttl.to_string();
        cluster::link::encode(
            &[
                b"RESTORE".as_slice(),
                &k,
                pttl.as_bytes(),
                &payload,
                b"REPLACE",
            ],
            out,
        );
        n += 1;
    }
    n
}

/// A big value sent in pieces: `DEL key`, then its elements a thousand at a time (RPUSH,
/// SADD, HSET, ZADD; a string as SET then APPENDs of 1 MiB), then its TTL. Each piece is
/// read with the type's own range or scan command, so the shard lock is held for one piece
/// only. The slot is frozen, so the value does not change between pieces.
pub struct BigKey<'a> {
    srv: &'a ServerState,
    sess: crate::clients::Session,
    key: Vec<u8>,
    kind: Option<String>,
    pos: u64,
    cursor: Vec<u8>,
    done: bool,
}

const PIECE: u64 = 1000;
const STRING_PIECE: u64 = 1 << 20;

impl<'a> BigKey<'a> {
    pub fn new(srv: &'a ServerState, key: Vec<u8>) -> BigKey<'a> {
        BigKey {
            srv,
            sess: crate::clients::Session::detached(0),
            key,
            kind: None,
            pos: 0,
            cursor: b"0".to_vec(),
            done: false,
        }
    }

    fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.sess.no_touch = true;
        crate::run(self.srv, &mut self.sess, args)
    }

    /// The next piece: encoded commands and how many. `None` when the value is all sent.
    pub fn next_piece(&mut self) -> Option<(Vec<u8>, usize)> {
        use protocol::RespValue as V;
        if self.done {
            return None;
        }
        let key = self.key.clone();
        let mut out = Vec::new();
        let mut n = 0;
        let mut emit = |parts: &[&[u8]], out: &mut Vec<u8>| {
            cluster::link::encode(parts, out);
            n += 1;
        };
        if self.kind.is_none() {
            let t = self.call(&[b"TYPE", &key]);
            let kind = match protocol::parse_reply(&t) {
                Ok((V::Simple(s), _)) => String::from_utf8_lossy(s).into_owned(),
                _ => "none".into(),
            };
            if kind == "none" {
                self.done = true;
                return None;
            }
            self.kind = Some(kind);
            emit(&[b"DEL", &key], &mut out);
        }
        let kind = self.kind.clone().unwrap_or_default();
        let (from, to) = (self.pos.to_string(), (self.pos + PIECE - 1).to_string());
        let finished = match kind.as_str() {
            "list" | "zset" => {
                let r = if kind == "list" {
                    self.call(&[b"LRANGE", &key, from.as_bytes(), to.as_bytes()])
                } else {
                    self.call(&[
                        b"ZRANGE",
                        &key,
                        from.as_bytes(),
                        to.as_bytes(),
                        b"WITHSCORES",
                    ])
                };
                let items: Vec<Vec<u8>> = match protocol::parse_reply(&r) {
                    Ok((V::Array(a), _)) => a.iter().filter_map(bytes_of).collect(),
                    _ => Vec::new(),
                };
                if !items.is_empty() {
                    let mut parts: Vec<&[u8]> = Vec::with_capacity(items.len() + 2);
                    if kind == "list" {
                        parts.push(b"RPUSH");
                        parts.push(&key);
                        parts.extend(items.iter().map(|v| v.as_slice()));
                        self.pos += items.len() as u64;
                    } else {
                        parts.push(b"ZADD");
                        parts.push(&key);
                        // WITHSCORES gives member, score: ZADD takes score, member.
                        for pair in items.chunks(2) {
                            if let [m, sc] = pair {
                                parts.push(sc);
                                parts.push(m);
                            }
                        }
                        self.pos += (items.len() / 2) as u64;
                    }
                    emit(&parts, &mut out);
                }
                let per = if kind == "list" { PIECE } else { PIECE * 2 };
                (items.len() as u64) < per
            }
            "set" | "hash" => {
                let (scan, add): (&[u8], &[u8]) = if kind == "set" {
                    (b"SSCAN", b"SADD")
                } else {
                    (b"HSCAN", b"HSET")
                };
                let count = PIECE.to_string();
                let cursor = self.cursor.clone();
                let r = self.call(&[scan, &key, &cursor, b"COUNT", count.as_bytes()]);
                let (next, items): (Vec<u8>, Vec<Vec<u8>>) = match protocol::parse_reply(&r) {
                    Ok((V::Array(a), _)) if a.len() == 2 => (
                        bytes_of(&a[0]).unwrap_or_else(|| b"0".to_vec()),
                        match &a[1] {
                            V::Array(x) => x.iter().filter_map(bytes_of).collect(),
                            _ => Vec::new(),
                        },
                    ),
                    _ => (b"0".to_vec(), Vec::new()),
                };
                if !items.is_empty() {
                    let mut parts: Vec<&[u8]> = vec![add, &key];
                    parts.extend(items.iter().map(|v| v.as_slice()));
                    emit(&parts, &mut out);
                }
                self.cursor = next;
                self.cursor == b"0"
            }
            _ => {
                // A string: SET the first MiB, APPEND the rest.
                let (from, to) = (
                    self.pos.to_string(),
                    (self.pos + STRING_PIECE - 1).to_string(),
                );
                let r = self.call(&[b"GETRANGE", &key, from.as_bytes(), to.as_bytes()]);
                let chunk = match protocol::parse_reply(&r) {
                    Ok((V::Bulk(b), _)) => b.to_vec(),
                    _ => Vec::new(),
                };
                if self.pos == 0 {
                    emit(&[b"SET", &key, &chunk], &mut out);
                } else if !chunk.is_empty() {
                    emit(&[b"APPEND", &key, &chunk], &mut out);
                }
                self.pos += chunk.len() as u64;
                (chunk.len() as u64) < STRING_PIECE
            }
        };
        if finished {
            self.done = true;
            let r = self.call(&[b"PTTL", &key]);
            if let Ok((V::Int(ms), _)) = protocol::parse_reply(&r) {
                if ms > 0 {
                    emit(&[b"PEXPIRE", &key, ms.to_string().as_bytes()], &mut out);
                }
            }
        }
        Some((out, n))
    }
}

fn bytes_of(v: &protocol::RespValue<'_>) -> Option<Vec<u8>> {
    match v {
        protocol::RespValue::Bulk(b) | protocol::RespValue::Simple(b) => Some(b.to_vec()),
        protocol::RespValue::Int(i) => Some(i.to_string().into_bytes()),
        protocol::RespValue::Double(d) => Some(d.to_string().into_bytes()),
        _ => None,
    }
}
