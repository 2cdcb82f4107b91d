//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, Redis 7's sharded
//! SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, and PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/
//! SHARDNUMSUB/HELP, with the registry that delivers messages.
//!
//! ```text
//!  PUBLISH ch msg ─► PubSub.channels[ch] ─┐                     ┌─► Outbox (bytes, per client)
//!                  └► PubSub.patterns (glob) ─► encode once per ┘      │ notify
//!  SPUBLISH ch msg ─► PubSub.shard[ch] ─────►   protocol                ▼
//!                               connection loop (server/conn.rs) drains it into its socket
//! ```
//!
//! **Shard channels** are a namespace of their own (`PubSub::shard`, `Subscriptions::shard`),
//! as in Redis 7.0: PUBLISH never reaches an SSUBSCRIBE subscriber nor SPUBLISH a SUBSCRIBE
//! or PSUBSCRIBE one; messages are `smessage`, confirmations `ssubscribe`/`sunsubscribe`,
//! whose count is the client's shard channels only (SUBSCRIBE's counts channels and
//! patterns). Any subscription of the three kinds puts a RESP2 client in subscribed mode.
//! The channel is the command's key for slot purposes (COMMAND INFO's 1/-1/1, a NOT_KEY key
//! spec): in cluster mode the routing (`server/cluster/route.rs`) refuses channels of
//! several slots with CROSSSLOT, answers MOVED in redirect mode, and relays SPUBLISH to
//! every node as PUBLISH (docs/CLUSTER.md); standalone, slots are not looked at.
//!
//! **Delivery.** Each subscribed session owns an `Outbox`: a byte buffer of encoded message
//! frames (RESP2 arrays or RESP3 pushes, per the subscriber's protocol at publish time) and a
//! `Notify`. PUBLISH appends to every subscriber's outbox under that outbox's small mutex and
//! wakes it; the connection's loop `select!`s on the notify and the socket and writes
//! messages as they come. The registry lives in `ServerState` behind read/write locks: only
//! (un)subscribing writes. A message a client publishes to itself is written straight into
//! its own reply stream, before PUBLISH's reply, as Redis orders them.
//!
//! **Slow subscribers.** `client-output-buffer-limit pubsub <hard> <soft> <secs>` (Redis's
//! default 32mb 8mb 60) bounds an outbox plus what its connection is writing: passing the
//! hard limit, or staying over the soft one for more than `secs`, drops the buffered
//! messages, marks the outbox dead and kills the client (counted in
//! `client_output_buffer_limit_disconnections`), so memory never grows without bound.
//!
//! **Lifetime.** `Session::pubsub` holds the subscriptions; dropping it (disconnect, kill,
//! shutdown, RESET) unsubscribes everything. The outbox is the session's push channel
//! (`Session::outbox`, shared with client-side caching's invalidations and MONITOR): it
//! stays with the session even with no subscription left, so messages already buffered are
//! still delivered. Moving a connection between I/O threads moves the session, so the
//! outbox moves with it.
//!

use crate::clients::ClientHandle;
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::table::{flags::*, CommandSpec};
use crate::{cmd, Ctx, ServerState};
use parking_lot::{Mutex, RwLock};
use protocol::{Args, Reply};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Subscribers by channel (or by pattern).
type SubMap = RwLock<HashMap<Box<[u8]>, Vec<Arc<Outbox>>, foldhash::fast::RandomState>>;

const PS: u32 = PUBSUB | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "subscribe",
        -2,
        PS | NOSCRIPT,
        0,
        0,
        0,
        subscribe,
        "pubsub",
        "2.0.0",
        "Listens for messages published to channels.",
        "channel [channel ...]"
    ),
    cmd!(
        "unsubscribe",
        -1,
        PS | NOSCRIPT,
        0,
        0,
        0,
        unsubscribe,
        "pubsub",
        "2.0.0",
        "Stops listening to messages posted to channels.",
        "[channel [channel ...]]"
    ),
    cmd!(
        "psubscribe",
        -2,
        PS | NOSCRIPT,
        0,
        0,
        0,
        psubscribe,
        "pubsub",
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
        "pattern [pattern ...]"
    ),
    cmd!(
        "punsubscribe",
        -1,
        PS | NOSCRIPT,
        0,
        0,
        0,
        punsubscribe,
        "pubsub",
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
        "[pattern [pattern ...]]"
    ),
    cmd!(
        "publish",
        3,
        PS | FAST,
        0,
        0,
        0,
        publish,
        "pubsub",
        "2.0.0",
        "Posts a message to a channel.",
        "channel message"
    ),
    cmd!(
        "ssubscribe",
        -2,
        PS | NOSCRIPT,
        1,
        -1,
        1,
        ssubscribe,
        "pubsub",
        "7.0.0",
        "Listens for messages published to shard channels.",
        "shardchannel [shardchannel ...]"
    ),
    cmd!(
        "sunsubscribe",
        -1,
        PS | NOSCRIPT,
        1,
        -1,
        1,
        sunsubscribe,
        "pubsub",
        "7.0.0",
        "Stops listening to messages posted to shard channels.",
        "[shardchannel [shardchannel ...]]"
    ),
    cmd!(
        "spublish",
        3,
        PS | FAST,
        1,
        1,
        1,
        spublish,
        "pubsub",
        "7.0.0",
        "Post a message to a shard channel",
        "shardchannel message"
    ),
    CommandSpec {
        subcommands: SUBCOMMANDS,
        ..cmd!(
            "pubsub",
            -2,
            0,
            0,
            0,
            0,
            pubsub,
            "pubsub",
            "2.8.0",
            "A container for Pub/Sub commands.",
            ""
        )
    },
];

pub const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!(
        "pubsub|channels",
        -2,
        PS,
        0,
        0,
        0,
        channels,
        "pubsub",
        "2.8.0",
        "Returns the active channels.",
        "[pattern]"
    ),
    cmd!(
        "pubsub|numsub",
        -2,
        PS,
        0,
        0,
        0,
        numsub,
        "pubsub",
        "2.8.0",
        "Returns a count of subscribers to channels.",
        "[channel [channel ...]]"
    ),
    cmd!(
        "pubsub|numpat",
        2,
        PS,
        0,
        0,
        0,
        numpat,
        "pubsub",
        "2.8.0",
        "Returns a count of unique pattern subscriptions.",
        ""
    ),
    cmd!(
        "pubsub|shardchannels",
        -2,
        PS,
        0,
        0,
        0,
        shardchannels,
        "pubsub",
        "7.0.0",
        "Returns the active shard channels.",
        "[pattern]"
    ),
    cmd!(
        "pubsub|shardnumsub",
        -2,
        PS,
        0,
        0,
        0,
        shardnumsub,
        "pubsub",
        "7.0.0",
        "Returns the count of subscribers of shard channels.",
        "[shardchannel [shardchannel ...]]"
    ),
    cmd!(
        "pubsub|help",
        2,
        LOADING | STALE,
        0,
        0,
        0,
        help,
        "pubsub",
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        ""
    ),
];

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

// ------------------------------------------------------------------------------ registry

/// Subscribers by channel, by pattern and by shard channel. One per server
/// (`ServerState::pubsub`).
#[derive(Default)]
pub struct PubSub {
    channels: SubMap,
    patterns: SubMap,
    shard: SubMap,
}

/// The three kinds of subscription: each has its own registry map, session set and
/// confirmation words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// The output-buffer limit of pub/sub clients, read at each PUBLISH.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutboxLimits {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

impl OutboxLimits {
    pub fn of(srv: &ServerState) -> OutboxLimits {
        let s = &srv.settings;
        OutboxLimits {
            hard: s.pubsub_obuf_hard.load(Relaxed) as usize,
            soft: s.pubsub_obuf_soft.load(Relaxed) as usize,
            soft_secs: s.pubsub_obuf_soft_secs.load(Relaxed),
        }
    }
}

fn add_sub(map: &SubMap, name: &[u8], o: &Arc<Outbox>) {
    map.write().entry(name.into()).or_default().push(o.clone());
}

fn remove_sub(map: &SubMap, name: &[u8], o: &Arc<Outbox>) {
    let mut m = map.write();
    if let Some(v) = m.get_mut(name) {
        v.retain(|x| !Arc::ptr_eq(x, o));
        if v.is_empty() {
            m.remove(name);
        }
    }
}

/// A message frame: `[kind, (pattern,) channel, message]` as a RESP2 array or RESP3 push.
fn frame(resp3: bool, kind: &[u8], pattern: Option<&[u8]>, channel: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(48 + kind.len() + channel.len() + msg.len());
    let mut r = Reply::new(&mut v, resp3);
    r.push_len(if pattern.is_some() { 4 } else { 3 });
    r.bulk(kind);
    if let Some(p) = pattern {
        r.bulk(p);
    }
    r.bulk(channel);
    r.bulk(msg);
    v
}

/// Lazily encoded frames of one delivery, in both protocols.
struct Frames<'a> {
    kind: &'static [u8],
    pattern: Option<&'a [u8]>,
    channel: &'a [u8],
    msg: &'a [u8],
    enc: [Option<Vec<u8>>; 2],
}

impl<'a> Frames<'a> {
    fn new(
        kind: &'static [u8],
        pattern: Option<&'a [u8]>,
        channel: &'a [u8],
        msg: &'a [u8],
    ) -> Self {
        Frames {
            kind,
            pattern,
            channel,
            msg,
            enc: [None, None],
        }
    }

    fn get(&mut self, resp3: bool) -> &[u8] {
        let (kind, p, c, m) = (self.kind, self.pattern, self.channel, self.msg);
        self.enc[resp3 as usize].get_or_insert_with(|| frame(resp3, kind, p, c, m))
    }
}

impl PubSub {
    /// Deliver `msg` on `channel` to its subscribers and matching patterns; returns the
    /// number of deliveries (Redis's receiver count). `me` is the publishing session, whose
    /// own copy is written into `own` (its reply stream) instead of its outbox.
    pub fn publish(
        &self,
        srv: &ServerState,
        channel: &[u8],
        msg: &[u8],
        me: Option<(u64, &mut Reply<'_>)>,
    ) -> usize {
        self.deliver(srv, false, channel, msg, me)
    }

    /// `publish` for a shard channel (SPUBLISH): its subscribers only, as `smessage`;
    /// patterns never match shard channels.
    pub fn publish_shard(
        &self,
        srv: &ServerState,
        channel: &[u8],
        msg: &[u8],
        me: Option<(u64, &mut Reply<'_>)>,
    ) -> usize {
        self.deliver(srv, true, channel, msg, me)
    }

    fn deliver(
        &self,
        srv: &ServerState,
        shard: bool,
        channel: &[u8],
        msg: &[u8],
        me: Option<(u64, &mut Reply<'_>)>,
    ) -> usize {
        let lim = OutboxLimits::of(srv);
        let mut me = me;
        let mut n = 0;
        let mut deliver = |o: &Arc<Outbox>, f: &mut Frames<'_>| {
            n += 1;
            match &mut me {
                Some((id, out)) if *id == o.handle.id => {
                    let resp3 = out.is_resp3();
                    out.raw(f.get(resp3));
                }
                _ => o.push(f.get(o.resp3()), &lim, srv),
            }
        };
        let (map, kind): (_, &[u8]) = if shard {
            (&self.shard, b"smessage")
        } else {
            (&self.channels, b"message")
        };
        if let Some(subs) = map.read().get(channel) {
            let mut f = Frames::new(kind, None, channel, msg);
            for o in subs {
                deliver(o, &mut f);
            }
        }
        if shard {
            return n;
        }
        for (pat, subs) in self.patterns.read().iter() {
            if glob_match(pat, channel, false) {
                let mut f = Frames::new(b"pmessage", Some(pat), channel, msg);
                for o in subs {
                    deliver(o, &mut f);
                }
            }
        }
        n
    }

    /// Channels with at least one subscriber (PUBSUB CHANNELS).
    pub fn channel_count(&self) -> usize {
        self.channels.read().len()
    }

    /// Distinct subscribed patterns (PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }

    /// Shard channels with at least one subscriber (INFO's `pubsubshard_channels`).
    pub fn shard_channel_count(&self) -> usize {
        self.shard.read().len()
    }

    fn map(&self, kind: Kind) -> &SubMap {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    /// Visit every subscription: (subscriber, channel or pattern, whether a pattern); shard
    /// channels count as channels. ACL SETUSER uses it to disconnect subscribers whose
    /// channels were revoked (Redis checks shard channels too).
    pub fn for_each_subscription(&self, mut f: impl FnMut(&ClientHandle, &[u8], bool)) {
        for (map, pattern) in [
            (&self.channels, false),
            (&self.patterns, true),
            (&self.shard, false),
        ] {
            for (name, subs) in map.read().iter() {
                for o in subs {
                    f(&o.handle, name, pattern);
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------ outbox

/// One subscriber's undelivered messages. See the module doc.
pub struct Outbox {
    handle: Arc<ClientHandle>,
    pending: Mutex<Pending>,
    /// Woken when messages arrive in an empty outbox.
    pub notify: Notify,
    /// Bytes the connection took from the outbox and is still writing.
    inflight: AtomicUsize,
    /// Cut off for passing the limit: further messages are dropped.
    dead: AtomicBool,
    /// Bytes ever pushed, taken by the connection, and written by it: a sender can wait
    /// until what it pushed is on the wire (`delivered_up_to`, client-side caching).
    pushed: AtomicU64,
    drained: AtomicU64,
    written: AtomicU64,
    /// Woken when the connection finished writing what it took.
    delivered: Notify,
    /// The connection waits for its client's next request (no batch running).
    idle: AtomicBool,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Since when the buffer has been over the soft limit.
    over_soft_since: Option<Instant>,
}

impl Outbox {
    pub fn new(handle: Arc<ClientHandle>) -> Outbox {
        Outbox {
            handle,
            pending: Mutex::default(),
            notify: Notify::new(),
            inflight: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
            pushed: AtomicU64::new(0),
            drained: AtomicU64::new(0),
            written: AtomicU64::new(0),
            delivered: Notify::new(),
            idle: AtomicBool::new(false),
        }
    }

    pub(crate) fn resp3(&self) -> bool {
        self.handle.resp.load(Relaxed) == 3
    }

    /// Append one frame, or cut the client off if that passes the limit.
    fn push(&self, frame: &[u8], lim: &OutboxLimits, srv: &ServerState) {
        self.push_frame(frame, lim, || {
            srv.stats
                .client_output_buffer_limit_disconnections
                .fetch_add(1, Relaxed);
        })
    }

    /// `push` for senders without the server at hand (client-side caching's invalidations,
    /// MONITOR): `on_cut` counts a client cut off.
    pub(crate) fn push_frame(&self, frame: &[u8], lim: &OutboxLimits, on_cut: impl FnOnce()) {
        if self.dead.load(Relaxed) {
            return;
        }
        let mut p = self.pending.lock();
        let total = p.buf.len() + self.inflight.load(Relaxed) + frame.len();
        let over_soft = lim.soft > 0 && total > lim.soft;
        let mut cut = lim.hard > 0 && total > lim.hard;
        if over_soft {
            let since = *p.over_soft_since.get_or_insert_with(Instant::now);
            cut |= since.elapsed().as_secs() > lim.soft_secs;
        } else {
            p.over_soft_since = None;
        }
        if cut {
            self.dead.store(true, Relaxed);
            p.buf = Vec::new();
            drop(p);
            on_cut();
            self.handle.kill();
            return;
        }
        let was_empty = p.buf.is_empty();
        p.buf.extend_from_slice(frame);
        self.pushed.fetch_add(frame.len() as u64, Relaxed);
        self.handle.obuf.store(p.buf.len(), Relaxed);
        drop(p);
        if was_empty {
            // A stored permit wakes the connection even if it is not waiting yet.
            self.notify.notify_one();
        }
    }

    /// Move the buffered messages to the end of `wbuf`; whether there were any. The caller
    /// then reports what it is writing with `set_inflight`.
    pub fn drain_into(&self, wbuf: &mut Vec<u8>) -> bool {
        let mut p = self.pending.lock();
        if p.buf.is_empty() {
            return false;
        }
        self.drained.fetch_add(p.buf.len() as u64, Relaxed);
        if wbuf.is_empty() {
            std::mem::swap(&mut p.buf, wbuf);
        } else {
            wbuf.extend_from_slice(&p.buf);
            p.buf.clear();
        }
        if p.buf.capacity() > 1 << 20 {
            p.buf = Vec::new();
        }
        self.handle.obuf.store(0, Relaxed);
        true
    }

    /// Bytes the connection is writing now (counted against the limit), 0 when done.
    pub fn set_inflight(&self, n: usize) {
        self.inflight.store(n, Relaxed);
        if n == 0 {
            // Everything taken so far is written now.
            self.written.store(self.drained.load(Relaxed), Relaxed);
            self.delivered.notify_waiters();
        }
    }

    /// The connection is waiting for its client's next request (true), or running a batch.
    #[inline]
    pub fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Relaxed);
    }

    /// Whether the connection waits for its client (it writes a push as soon as it comes).
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.load(Relaxed)
    }

    /// Bytes pushed so far, and whether all of them were written before (a connection
    /// keeping up with its pushes).
    pub(crate) fn pushed_mark(&self) -> (u64, bool) {
        let pushed = self.pushed.load(Relaxed);
        (pushed, self.written.load(Relaxed) >= pushed)
    }

    /// Wait until the first `upto` bytes ever pushed are written to the socket, the
    /// client is cut off, or `deadline`.
    pub async fn delivered_up_to(&self, upto: u64, deadline: tokio::time::Instant) {
        loop {
            let n = self.delivered.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.written.load(Relaxed) >= upto || self.is_dead() || self.handle.is_killed() {
                return;
            }
            tokio::select! {
                _ = &mut n => {}
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Whether the limit cut this subscriber off.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Relaxed)
    }
}

// ------------------------------------------------------------------------------ session

/// A session's subscriptions. Dropping it unsubscribes everything.
pub struct Subscriptions {
    registry: Arc<PubSub>,
    pub outbox: Arc<Outbox>,
    channels: BTreeSet<Box<[u8]>>,
    patterns: BTreeSet<Box<[u8]>>,
    shard: BTreeSet<Box<[u8]>>,
}

impl Subscriptions {
    /// Channels plus patterns subscribed (what (P)(UN)SUBSCRIBE replies count; shard
    /// channels are counted apart, as Redis).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Shard channels subscribed (what S(UN)SUBSCRIBE replies count).
    pub fn shard_count(&self) -> usize {
        self.shard.len()
    }

    /// Subscriptions of every kind: more than 0 is Redis's subscribed mode.
    pub fn total(&self) -> usize {
        self.count() + self.shard.len()
    }

    /// What a confirmation of `kind` counts.
    fn count_of(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.count(),
            Kind::Shard => self.shard_count(),
        }
    }

    /// The session's set of `kind` and the registry's map.
    fn parts(&mut self, kind: Kind) -> (&mut BTreeSet<Box<[u8]>>, &SubMap) {
        match kind {
            Kind::Channel => (&mut self.channels, &self.registry.channels),
            Kind::Pattern => (&mut self.patterns, &self.registry.patterns),
            Kind::Shard => (&mut self.shard, &self.registry.shard),
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            let outbox = self.outbox.clone();
            let (set, map) = self.parts(kind);
            for c in set.iter() {
                remove_sub(map, c, &outbox);
            }
        }
    }
}

/// Whether `sess` has at least one subscription (channel, pattern or shard channel).
pub fn is_subscribed(sess: &crate::clients::Session) -> bool {
    sess.pubsub.as_ref().is_some_and(|p| p.total() > 0)
}

fn subs<'s>(ctx: &'s mut Ctx<'_>) -> &'s mut Subscriptions {
    if ctx.sess.pubsub.is_none() {
        // The session's push channel, shared with client-side caching and MONITOR.
        let outbox = ctx.sess.outbox();
        ctx.sess.pubsub = Some(Box::new(Subscriptions {
            registry: ctx.srv.pubsub.clone(),
            outbox,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            shard: BTreeSet::new(),
        }));
    }
    ctx.sess.pubsub.as_mut().expect("just set")
}

fn publish_counts(ctx: &Ctx<'_>) {
    if let Some(s) = &ctx.sess.pubsub {
        let h = &ctx.sess.handle;
        h.subs.store(s.channels.len(), Relaxed);
        h.psubs.store(s.patterns.len(), Relaxed);
        h.ssubs.store(s.shard.len(), Relaxed);
    }
}

/// One (un)subscribe confirmation: `[kind, name or nil, count]`, a push in RESP3.
fn confirm(out: &mut Reply<'_>, kind: &[u8], name: Option<&[u8]>, count: usize) {
    out.push_len(3);
    out.bulk(kind);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE
fn subscribe_any(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    // Redis refuses SSUBSCRIBE to a client that must get one reply per command (its
    // CLIENT_DENY_BLOCKING: inside EXEC); SUBSCRIBE and PSUBSCRIBE are let through there
    // for backward compatibility.
    if kind == Kind::Shard && ctx.sess.in_exec {
        return Err(CmdError::Msg(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client".into(),
        ));
    }
    let s = subs(ctx);
    let outbox = s.outbox.clone();
    let mut replies: Vec<(Box<[u8]>, usize)> = Vec::with_capacity(args.len() - 1);
    for name in args.iter().skip(1) {
        let (set, map) = s.parts(kind);
        if set.insert(name.into()) {
            add_sub(map, name, &outbox);
        }
        replies.push((name.into(), s.count_of(kind)));
    }
    publish_counts(ctx);
    for (name, n) in replies {
        confirm(&mut ctx.out, kind.subscribe_word(), Some(&name), n);
    }
    Ok(())
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE (no names: every one of that kind).
fn unsubscribe_any(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    let word = kind.unsubscribe_word();
    let Some(s) = ctx.sess.pubsub.as_mut() else {
        if args.len() == 1 {
            confirm(&mut ctx.out, word, None, 0);
        } else {
            for name in args.iter().skip(1) {
                confirm(&mut ctx.out, word, Some(name), 0);
            }
        }
        return Ok(());
    };
    let outbox = s.outbox.clone();
    let names: Vec<Box<[u8]>> = if args.len() == 1 {
        s.parts(kind).0.iter().cloned().collect()
    } else {
        args.iter().skip(1).map(Box::from).collect()
    };
    let mut replies = Vec::with_capacity(names.len());
    for name in names {
        let (set, map) = s.parts(kind);
        if set.remove(&name) {
            remove_sub(map, &name, &outbox);
        }
        replies.push((name, s.count_of(kind)));
    }
    let total = s.count_of(kind);
    publish_counts(ctx);
    if replies.is_empty() {
        confirm(&mut ctx.out, word, None, total);
    }
    for (name, n) in replies {
        confirm(&mut ctx.out, word, Some(&name), n);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_any(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_any(ctx, args, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_any(ctx, args, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_any(ctx, args, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_any(ctx, args, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_any(ctx, args, Kind::Shard)
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    publish_any(ctx, args, false)
}

/// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    publish_any(ctx, args, true)
}

fn publish_any(ctx: &mut Ctx<'_>, args: Args<'_>, shard: bool) -> CmdResult {
    let srv = ctx.srv;
    // Our own copy goes before PUBLISH's reply, as in Redis; inside EXEC it would land in
    // the middle of EXEC's array, so it takes the outbox path instead.
    let me = (!ctx.sess.in_exec).then_some(ctx.sess.id);
    let me = me.map(|id| (id, &mut ctx.out));
    let n = srv.pubsub.deliver(srv, shard, args.get(1), args.get(2), me);
    ctx.out.int(n as i64);
    Ok(())
}

/// PUBSUB <subcommand> …
fn pubsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    crate::dispatch_sub(ctx, SUBCOMMANDS, args)
}

/// PUBSUB CHANNELS [pattern]
fn channels(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    channel_list(ctx, args, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
fn shardchannels(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    channel_list(ctx, args, Kind::Shard)
}

/// PUBSUB CHANNELS / SHARDCHANNELS: the names of `kind`'s map matching the pattern.
fn channel_list(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            crate::util::lossy(args.get(1))
        )));
    }
    let pat = args.try_get(2);
    let names: Vec<Box<[u8]>> = ctx
        .srv
        .pubsub
        .map(kind)
        .read()
        .keys()
        .filter(|c| pat.is_none_or(|p| glob_match(p, c, false)))
        .cloned()
        .collect();
    ctx.out.array_len(names.len());
    for n in &names {
        ctx.out.bulk(n);
    }
    Ok(())
}

/// PUBSUB NUMSUB [channel ...]
fn numsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    count_subs(ctx, args, Kind::Channel)
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
fn shardnumsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    count_subs(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB / SHARDNUMSUB: a flat array of channel, count (in RESP3 too, as Redis).
fn count_subs(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    let m = ctx.srv.pubsub.map(kind).read();
    let counts: Vec<usize> = args
        .iter()
        .skip(2)
        .map(|c| m.get(c).map_or(0, |v| v.len()))
        .collect();
    drop(m);
    ctx.out.array_len(2 * counts.len());
    for (c, n) in args.iter().skip(2).zip(counts) {
        ctx.out.bulk(c);
        ctx.out.int(n as i64);
    }
    Ok(())
}

/// PUBSUB NUMPAT
fn numpat(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.int(ctx.srv.pubsub.pattern_count() as i64);
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    crate::client_cmd::reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests;
