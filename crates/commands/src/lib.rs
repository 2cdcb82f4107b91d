//! The command layer: the command table, each command's parsing and execution, and the
//! shared server state commands read (keyspace, settings, clients, counters).
//!
//! ```text
//!  connection ──► execute(args) ──► table lookup ─► auth / arity / OOM checks ─► handler
//!                                                         handler ──► storage::Txn
//!                                                         handler ──► Reply (RESP2/3 bytes)
//! ```
//! Handlers are grouped by family: `strings.rs`, `bits.rs`, `keys.rs`, `object.rs`,
//! `connection.rs` (+ `client_cmd.rs`), `server.rs` (+ `info.rs`, `config_cmd.rs`),
//! `introspect.rs` (COMMAND, with `docs.rs`), `tx.rs` (MULTI/EXEC/WATCH), `pubsub.rs`;
//! diagnostics: `slowlog.rs` (fed by `execute_in`), `latency.rs`, `debug.rs`, `role.rs`,
//! `lolwut.rs`, `memory_diag.rs` (MEMORY STATS/DOCTOR/MALLOC-STATS/PURGE).
//! Each family exports `COMMANDS`; `FAMILIES` lists them. Containers (CLIENT, CONFIG,
//! MEMORY, OBJECT, COMMAND, PUBSUB) keep their subcommand rows in `CommandSpec::subcommands`
//! and dispatch with `dispatch_sub`.

pub mod acl;
pub mod aof;
pub mod aof_load;
pub mod bits;
pub mod blocking;
pub mod client_cmd;
pub mod clients;
pub mod cluster_cmd;
pub mod cmdstats;
pub mod coll;
pub mod config;
pub mod config_cmd;
pub mod connection;
pub mod debug;
pub mod docs;
pub mod dump_cmd;
pub mod effects;
pub mod error;
pub mod gate;
pub mod geo;
pub mod glob;
pub mod hashes;
pub mod hll;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod keyspec;
pub mod latency;
pub mod lists;
pub mod lolwut;
pub mod memory_diag;
pub mod monitor;
pub mod notify;
pub mod object;
pub mod pause;
pub mod persistence;
pub mod pubsub;
pub mod reset;
pub mod role;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod slowlog;
pub mod sort;
#[cfg(test)]
mod sort_dump_tests;
pub mod stats;
pub mod stream;
pub mod strings;
pub mod table;
pub mod testing;
pub mod tracking;
pub mod tx;
pub mod util;
pub mod zset;

use clients::{ClientRegistry, Session};
use config::Settings;
pub use error::{CmdError, CmdResult};
use protocol::{Args, Reply};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use storage::{Clock, Key, Keyspace, Txn};
use table::{CommandSpec, CommandTable};

/// Every command family, in the order COMMAND lists groups.
pub const FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    reset::COMMANDS,
    server::COMMANDS,
    monitor::COMMANDS,
    acl::COMMANDS,
    persistence::COMMANDS,
    aof::COMMANDS,
    slowlog::COMMANDS,
    latency::COMMANDS,
    debug::COMMANDS,
    role::COMMANDS,
    lolwut::COMMANDS,
    introspect::COMMANDS,
    keys::COMMANDS,
    object::COMMANDS,
    dump_cmd::COMMANDS,
    sort::COMMANDS,
    strings::COMMANDS,
    bits::COMMANDS,
    hll::COMMANDS,
    hashes::COMMANDS,
    lists::COMMANDS,
    sets::COMMANDS,
    zset::COMMANDS,
    stream::COMMANDS,
    geo::COMMANDS,
    scripting::COMMANDS,
    scripting::function_cmd::COMMANDS,
    tx::COMMANDS,
    pubsub::COMMANDS,
    cluster_cmd::COMMANDS,
];

/// A counter split over cache lines by thread, so worker threads counting every batch never
/// contend; reading sums the parts.
#[derive(Default)]
pub struct ShardedCounter([PaddedU64; 16]);

#[derive(Default)]
#[repr(align(128))]
struct PaddedU64(AtomicU64);

thread_local! {
    static COUNTER_SLOT: usize = {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        NEXT.fetch_add(1, Relaxed) % 16
    };
}

impl ShardedCounter {
    #[inline]
    pub fn add(&self, n: u64) {
        let i = COUNTER_SLOT.with(|s| *s);
        self.0[i].0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.iter().map(|c| c.0.load(Relaxed)).sum()
    }
    pub fn reset(&self) {
        for c in &self.0 {
            c.0.store(0, Relaxed);
        }
    }
}

/// The front doors a client can come through. All reach the same keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    Resp = 0,
    Http = 1,
    Binary = 2,
    Memcache = 3,
}

impl Door {
    pub const ALL: [Door; 4] = [Door::Resp, Door::Http, Door::Binary, Door::Memcache];

    /// The name stats, metrics and logs use.
    pub fn name(self) -> &'static str {
        match self {
            Door::Resp => "resp",
            Door::Http => "http",
            Door::Binary => "binary",
            Door::Memcache => "memcache",
        }
    }
}

/// Connections per door: open now, and accepted since start (or CONFIG RESETSTAT).
#[derive(Default)]
pub struct DoorStats {
    pub connected: [AtomicU64; 4],
    pub received: [AtomicU64; 4],
}

impl DoorStats {
    pub fn opened(&self, d: Door) {
        self.connected[d as usize].fetch_add(1, Relaxed);
        self.received[d as usize].fetch_add(1, Relaxed);
    }
    pub fn closed(&self, d: Door) {
        self.connected[d as usize].fetch_sub(1, Relaxed);
    }
    pub fn connected(&self, d: Door) -> u64 {
        self.connected[d as usize].load(Relaxed)
    }
    pub fn received(&self, d: Door) -> u64 {
        self.received[d as usize].load(Relaxed)
    }
}

/// Counters the server keeps beyond the keyspace's own.
#[derive(Default)]
pub struct ServerStats {
    /// Connections per front door.
    pub doors: DoorStats,
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands_processed: ShardedCounter,
    pub total_net_input_bytes: ShardedCounter,
    pub total_net_output_bytes: ShardedCounter,
    /// Clients closed for passing the query or output buffer limit.
    pub client_query_buffer_limit_disconnections: AtomicU64,
    pub client_output_buffer_limit_disconnections: AtomicU64,
    /// Instantaneous ops/sec, refreshed by the server's cron.
    pub instantaneous_ops_per_sec: AtomicU64,
    /// Highest `used_memory` seen (cron samples it; INFO and MEMORY STATS too).
    pub used_memory_peak: AtomicU64,
    /// Per-command calls, time, failures, rejections and latency (`cmdstats.rs`).
    pub cmdstats: cmdstats::CmdStats,
    /// The memcached door's counters (its `stats`).
    pub memcache: stats::MemcacheStats,
}

impl ServerStats {
    /// Record a `used_memory` sample; returns the peak including it.
    pub fn note_memory(&self, used: u64) -> u64 {
        self.used_memory_peak.fetch_max(used, Relaxed).max(used)
    }

    /// CONFIG RESETSTAT: zero the counters Redis resets (not the connected-client figures).
    pub fn reset(&self) {
        self.total_connections_received.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
        self.total_commands_processed.reset();
        self.total_net_input_bytes.reset();
        self.total_net_output_bytes.reset();
        self.client_query_buffer_limit_disconnections
            .store(0, Relaxed);
        self.client_output_buffer_limit_disconnections
            .store(0, Relaxed);
        self.instantaneous_ops_per_sec.store(0, Relaxed);
        self.used_memory_peak.store(0, Relaxed);
        self.memcache.reset();
        for r in &self.doors.received {
            r.store(0, Relaxed);
        }
        self.cmdstats.reset();
    }
}

/// How the server was asked to stop.
#[derive(Default)]
pub struct Shutdown {
    requested: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Shutdown {
    pub fn request(&self) {
        self.requested.store(true, Relaxed);
        self.notify.notify_waiters();
    }
    pub fn is_requested(&self) -> bool {
        self.requested.load(Relaxed)
    }
    /// Resolves once shutdown is requested.
    pub async fn wait(&self) {
        loop {
            let n = self.notify.notified();
            if self.is_requested() {
                return;
            }
            n.await;
        }
    }
}

/// Everything commands share. One per server process.
pub struct ServerState {
    pub ks: Keyspace,
    pub settings: Arc<Settings>,
    pub clients: ClientRegistry,
    pub stats: ServerStats,
    pub table: &'static CommandTable,
    pub started: Instant,
    pub run_id: String,
    pub shutdown: Shutdown,
    /// The TCP port actually bound (differs from the setting when it was 0).
    pub bound_port: std::sync::atomic::AtomicU16,
    /// Ports the front doors actually bound, indexed by `Door` (0 = door closed).
    pub door_ports: [std::sync::atomic::AtomicU16; 4],
    /// Whole-command exclusion for EXEC and scripts (`gate.rs`).
    pub gate: gate::Gate,
    /// Clients blocked in BLPOP & co. (`blocking.rs`).
    pub blocking: blocking::Blocking,
    /// The Lua engine and script cache (`scripting/engine.rs`).
    pub scripting: scripting::engine::Engine,
    /// Channel and pattern subscribers (`pubsub.rs`).
    pub pubsub: Arc<pubsub::PubSub>,
    /// Snapshot state: loading, background saves, the save policy (`persistence.rs`).
    pub persistence: persistence::Persistence,
    /// The append-only log (`aof.rs`).
    pub aof: aof::Aof,
    /// This state's own `Arc`, for work that outlives a command (a background save); set
    /// by `new_shared`, empty for states built by hand (tests).
    pub me: std::sync::OnceLock<std::sync::Weak<ServerState>>,
    /// This node's cluster view, in cluster mode (set once at start-up, before serving).
    pub cluster: std::sync::OnceLock<Arc<cluster::Cluster>>,
    /// SLOWLOG's entries (`slowlog.rs`).
    pub slowlog: slowlog::SlowLog,
    /// The latency monitor's events (`latency.rs`).
    pub latency: latency::Monitor,
    /// What DEBUG switches (active expiry on/off) (`debug.rs`).
    pub debug: debug::DebugState,
    /// ACL users, the ACL log (`acl.rs`).
    pub acl: acl::Acl,
    /// Client-side caching: tracking clients and what they may cache (`tracking.rs`).
    pub tracking: tracking::Tracking,
    /// CLIENT PAUSE (`pause.rs`).
    pub pause: pause::Pause,
    /// MONITOR clients (`monitor.rs`).
    pub monitors: monitor::Monitors,
}

impl ServerState {
    pub fn new(settings: Arc<Settings>, clock: Arc<dyn Clock>) -> ServerState {
        let dbs = settings.databases.load(Relaxed) as usize;
        let ks = Keyspace::new(dbs, clock, settings.evict.clone());
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", rand::random::<u8>() & 15))
            .collect();
        let acl = acl::Acl::new(&settings);
        let tracking = tracking::Tracking::new(settings.clone(), &ks);
        let srv = ServerState {
            ks,
            settings,
            clients: ClientRegistry::default(),
            stats: ServerStats::default(),
            table: CommandTable::get(),
            started: Instant::now(),
            run_id,
            shutdown: Shutdown::default(),
            bound_port: std::sync::atomic::AtomicU16::new(0),
            door_ports: Default::default(),
            gate: gate::Gate::default(),
            blocking: blocking::Blocking::default(),
            scripting: scripting::engine::Engine::default(),
            pubsub: Arc::default(),
            persistence: persistence::Persistence::default(),
            aof: aof::Aof::default(),
            me: std::sync::OnceLock::new(),
            cluster: std::sync::OnceLock::new(),
            slowlog: slowlog::SlowLog::default(),
            latency: latency::Monitor::default(),
            debug: debug::DebugState::default(),
            acl,
            tracking,
            pause: pause::Pause::default(),
            monitors: monitor::Monitors::default(),
        };
        // Keyspace notifications configured at start-up start recording now.
        notify::sync(&srv);
        srv
    }

    /// A state shared by the server's threads, which knows its own `Arc` (`me`).
    pub fn new_shared(settings: Arc<Settings>, clock: Arc<dyn Clock>) -> Arc<ServerState> {
        let st = Arc::new(ServerState::new(settings, clock));
        let _ = st.me.set(Arc::downgrade(&st));
        st.tracking.set_server(Arc::downgrade(&st));
        st
    }

    /// Begin shutting down (SHUTDOWN, SIGTERM, SIGINT): stop a running script, written or
    /// not, so that nothing keeps a thread busy, then wake everything that waits for
    /// shutdown. Scripts that would start later are refused.
    pub fn request_shutdown(&self) {
        if self.scripting.abort_for_shutdown() {
            // A snapshot now could hold half of the script's writes: the last complete
            // snapshot stays instead (docs/PERSISTENCE.md).
            self.persistence
                .skip_shutdown_save
                .store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!("shutdown: stopping the running script; no final snapshot is taken");
        }
        self.shutdown.request();
    }

    /// Whether new clients must AUTH before other commands: the default ACL user has a
    /// password (`requirepass`) or is off.
    pub fn auth_required(&self) -> bool {
        acl::sync_requirepass(self);
        self.acl.auth_required()
    }
}

/// What a handler works with: the server, its client's session and the reply writer.
pub struct Ctx<'a> {
    pub srv: &'a ServerState,
    pub sess: &'a mut Session,
    pub out: Reply<'a>,
}

impl<'a> Ctx<'a> {
    #[inline]
    pub fn key<'k>(&self, b: &'k [u8]) -> Key<'k> {
        self.srv.ks.key(b)
    }

    /// Lock one key's shard in the client's database.
    #[inline]
    pub fn txn1(&self, k: &Key) -> Txn<'a> {
        let mut t = self.srv.ks.txn1(self.sess.db, k);
        if self.sess.no_touch {
            t.set_no_touch(true);
        }
        t
    }

    /// Lock the shards of several keys (ascending order) in the client's database.
    pub fn txn(&self, keys: &[Key]) -> Txn<'a> {
        let mut t = self.srv.ks.txn(self.sess.db, keys);
        if self.sess.no_touch {
            t.set_no_touch(true);
        }
        t
    }
}

/// Run one command and append its reply to `out`. Returns the command's table row, if the
/// name was known. Runs every command inline, exclusive ones included: for in-process callers
/// that hold no gate share (tests, `run`). Connections use `execute_in`.
pub fn execute(
    srv: &ServerState,
    sess: &mut Session,
    args: Args<'_>,
    out: &mut Vec<u8>,
) -> Option<&'static CommandSpec> {
    match execute_in(srv, sess, args, out, true) {
        Executed::Done(spec) => spec,
        Executed::NeedsExclusive => unreachable!("exclusive access was granted"),
    }
}

/// What `execute_in` did.
pub enum Executed {
    /// Ran (or was refused with an error reply); the row, if the name was known.
    Done(Option<&'static CommandSpec>),
    /// Nothing ran: the command must run holding the gate alone (`flags::EXCLUSIVE`). The
    /// caller takes `srv.gate.exclusive()` and calls again with `exclusive` true.
    NeedsExclusive,
}

/// Look up a command's row by name (for callers deciding how to run it): a container's
/// subcommand row when one matches (`SCRIPT KILL` is ALLOW_BUSY, `SCRIPT LOAD` is not).
pub fn spec_of(srv: &ServerState, args: Args<'_>) -> Option<&'static CommandSpec> {
    let spec = srv.table.lookup(args.get(0))?;
    if !spec.subcommands.is_empty() && args.len() > 1 {
        if let Some(sub) = table::find_sub(spec, args.get(1)) {
            return Some(sub);
        }
    }
    Some(spec)
}

/// Run one command as `execute` does; `exclusive` says whether the caller holds the gate
/// alone. The caller holds a gate share (or exclusivity) for the duration.
pub fn execute_in(
    srv: &ServerState,
    sess: &mut Session,
    args: Args<'_>,
    out: &mut Vec<u8>,
    exclusive: bool,
) -> Executed {
    let resp3 = sess.resp3;
    let name = args.get(0);
    let Some(row) = srv.table.lookup_row(name) else {
        let mut r = Reply::new(out, resp3);
        tx::reject(sess, None, &mut r, &unknown_command_message(args));
        return Executed::Done(None);
    };
    let spec = row.spec;
    // What the call counts under in INFO commandstats (`client|list`; none for an unknown
    // subcommand), and how refusals are counted there.
    let stat = srv.table.stat_id(row, args);
    let rejected = || {
        if let Some(id) = stat {
            srv.stats.cmdstats.rejected(id);
        }
    };
    let mut r = Reply::new(out, resp3);
    if !sess.authenticated {
        if !acl::auth_required(srv, sess) {
            // The default user no longer needs a password: the connection is its, as a new
            // one would be (Redis asks `authRequired` at every command).
            sess.authenticated = true;
        } else if !spec.has(table::flags::NO_AUTH) {
            tx::reject(sess, Some(spec), &mut r, "NOAUTH Authentication required.");
            rejected();
            return Executed::Done(Some(spec));
        }
    }
    // A container's subcommand (`CLIENT SETNAME`) has its own arity; refusing it here,
    // not in `dispatch_sub`, counts it as Redis does (rejected, not failed).
    let checked = match stat {
        Some(id) if !spec.subcommands.is_empty() => srv.table.stat_spec(id).unwrap_or(spec),
        _ => spec,
    };
    if !checked.arity_ok(args.len()) {
        tx::reject(
            sess,
            Some(spec),
            &mut r,
            &CmdError::WrongArity.message(checked.name),
        );
        rejected();
        return Executed::Done(Some(spec));
    }
    // DEBUG runs only as `enable-debug-command` allows (Redis's protected commands).
    if spec.has(table::flags::PROTECTED) && !debug::allowed(srv, sess) {
        tx::reject(sess, Some(spec), &mut r, debug::NOT_ALLOWED);
        rejected();
        return Executed::Done(Some(spec));
    }
    // ACL: one relaxed load and a compare while the user may run everything (`acl.rs`).
    // Refused in MULTI too, which dooms the transaction, as Redis refuses when queueing.
    if !sess.acl.free_at(srv.acl.epoch()) {
        // An unknown subcommand runs nothing: Redis answers it before the ACL check.
        let checked_acl = match stat {
            Some(id) => acl::check_command(srv, sess, id, checked, args),
            None => Err(CmdError::UnknownSubcommand(util::lossy(args.get(1))).message(spec.name)),
        };
        if let Err(msg) = checked_acl {
            tx::reject(sess, Some(spec), &mut r, &msg);
            rejected();
            return Executed::Done(Some(spec));
        }
    }
    // While the start-up load runs, only commands flagged `loading` are served (Redis).
    if srv.persistence.loading.load(Relaxed) && !spec.has(table::flags::LOADING) {
        tx::reject(sess, Some(spec), &mut r, persistence::LOADING_MSG);
        rejected();
        return Executed::Done(Some(spec));
    }
    // After a failed snapshot, writes are refused until one succeeds (Redis's MISCONF,
    // `stop-writes-on-bgsave-error`). One relaxed load on the common path.
    // Write checks read the subcommand's row (`XGROUP CREATE` writes; `XGROUP` has no flags).
    if checked.has(table::flags::WRITE)
        && !srv.persistence.last_ok.load(Relaxed)
        && persistence::writes_refused(srv)
    {
        tx::reject(sess, Some(spec), &mut r, persistence::MISCONF_MSG);
        rejected();
        return Executed::Done(Some(spec));
    }
    // The log cannot be written (disk full…): writes are refused until it can, as Redis.
    if checked.has(table::flags::WRITE) && srv.aof.refusing_writes() {
        tx::reject(sess, Some(spec), &mut r, &srv.aof.misconf_message());
        rejected();
        return Executed::Done(Some(spec));
    }
    // A MONITOR client is a replica to Redis: the keyspace is not its to touch.
    if sess.monitor.is_some() {
        if let Some(msg) = monitor::refuse_for_monitor(spec, checked) {
            tx::reject(sess, Some(spec), &mut r, msg);
            rejected();
            return Executed::Done(Some(spec));
        }
    }
    // In MULTI every command but EXEC/DISCARD/… is queued, exclusive ones (EVAL) included,
    // so this comes before the EXCLUSIVE check.
    if sess.multi.is_some() || sess.pubsub.is_some() {
        match tx::intercept(srv, sess, spec, args, &mut r) {
            tx::Intercepted::Run => {}
            tx::Intercepted::Queued => return Executed::Done(Some(spec)),
            tx::Intercepted::Refused => {
                rejected();
                return Executed::Done(Some(spec));
            }
        }
    }
    // EXEC outside MULTI is only an error: no need to wait for the gate.
    if !exclusive
        && spec.has(table::flags::EXCLUSIVE)
        && (sess.multi.is_some() || spec.name != "exec")
    {
        return Executed::NeedsExclusive;
    }
    // CLIENT CACHING's one-command rule, for tracking clients (`tracking.rs`).
    if sess.tracking.is_some() {
        tracking::command_start(sess, name);
    }
    let needs_memory =
        checked.has(table::flags::DENYOOM) || (spec.name == "exec" && tx::exec_needs_memory(sess));
    if needs_memory && !sess.allow_oom && srv.ks.ensure_memory().is_err() {
        tx::reject(sess, Some(spec), &mut r, &CmdError::Oom.message(spec.name));
        rejected();
        return Executed::Done(Some(spec));
    }
    // Client-side caching: who runs here, and the keys a tracked read will fetch.
    let tracked = if sess.tracking.is_some() || sess.in_script {
        tracking::before_handler(srv, sess, checked, args)
    } else {
        None
    };
    // MONITOR: a script shows before the commands it runs (one relaxed load).
    if srv.monitors.active() && monitor::is_script(spec) {
        monitor::before_script(srv, sess, args);
    }
    let mut ctx = Ctx {
        srv,
        sess: &mut *sess,
        out: r,
    };
    let mark = ctx.out.len();
    let started = cmdstats::clock::now();
    let logged = effects::begin(srv, checked, args, ctx.sess.db);
    if let Err(e) = (spec.handler)(&mut ctx, args) {
        // A handler that failed half-way through a reply must not leave a partial frame.
        ctx.out.truncate(mark);
        ctx.out.error(&e.message(spec.name));
    }
    drop(logged);
    if let Some(prev) = tracked {
        tracking::after_handler(prev);
    }
    if let Some(id) = stat {
        // Failed = answered an error, as Redis counts it (scripts write theirs directly).
        let failed = matches!(out.get(mark), Some(b'-' | b'!'));
        let nanos = cmdstats::clock::nanos_since(started);
        srv.stats.cmdstats.record(id, nanos, failed);
        // SLOWLOG and the latency monitor: one relaxed load unless the call was slow.
        if nanos >= srv.settings.slow_floor_ns.load(Relaxed) {
            slowlog::after_slow_call(srv, sess, id, args, nanos);
        }
    }
    // MONITOR: the command as it ran (one relaxed load when nobody monitors).
    if srv.monitors.active() {
        monitor::after_command(srv, sess, spec, checked, sess.db, args);
    }
    // Keyspace notifications for what it did (one relaxed load when they are off).
    notify::after_command(srv, sess.db, spec, args);
    // Wake clients blocked on keys this command wrote (one relaxed load when none wait).
    if srv.blocking.has_waiters() {
        blocking::after_command(srv, sess, spec, args);
    }
    Executed::Done(Some(spec))
}

/// Replay one command of the append-only log (start-up): no AUTH, LOADING, MISCONF or
/// memory checks, and never blocks (the session denies blocking); MULTI queues and EXEC
/// runs as for a client. A command that answers an error is left at that, as Redis does;
/// an unknown one is an error (this log was not written by rcache, or is damaged).
pub fn execute_replay(
    srv: &ServerState,
    sess: &mut Session,
    args: Args<'_>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let Some(row) = srv.table.lookup_row(args.get(0)) else {
        return Err(format!(
            "unknown command '{}' in the append only file",
            String::from_utf8_lossy(args.get(0))
        ));
    };
    let spec = row.spec;
    let mut r = Reply::new(out, false);
    if sess.multi.is_some() {
        match tx::intercept(srv, sess, spec, args, &mut r) {
            tx::Intercepted::Run => {}
            tx::Intercepted::Queued | tx::Intercepted::Refused => return Ok(()),
        }
    }
    let mut ctx = Ctx {
        srv,
        sess: &mut *sess,
        out: r,
    };
    if let Err(e) = (spec.handler)(&mut ctx, args) {
        ctx.out.error(&e.message(spec.name));
    }
    Ok(())
}

/// Refuse a command before it runs, from outside the command layer (a front door that does
/// not carry it): answers `msg` as an error, and inside MULTI flags the transaction as Redis
/// does for any refused command.
pub fn reply_error(sess: &mut Session, msg: &str, out: &mut Vec<u8>) {
    let mut r = Reply::new(out, sess.resp3);
    tx::reject(sess, None, &mut r, msg);
}

/// Redis's answer to a command sent while a script is busy.
pub const BUSY_MSG: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Refuse a command because a script has run past `busy-reply-threshold` (the connection
/// decides that while it waits for the gate): Redis's BUSY error, counted as a rejected
/// call. Inside MULTI the refusal poisons the transaction, and EXEC itself answers
/// EXECABORT and leaves MULTI, as Redis's `rejectCommand` does.
pub fn reject_busy(srv: &ServerState, sess: &mut Session, args: Args<'_>, out: &mut Vec<u8>) {
    let row = srv.table.lookup_row(args.get(0));
    if let Some(id) = row.and_then(|row| srv.table.stat_id(row, args)) {
        srv.stats.cmdstats.rejected(id);
    }
    let mut r = Reply::new(out, sess.resp3);
    tx::reject(
        sess,
        row.map(|row| row.spec),
        &mut r,
        srv.scripting.busy_message(),
    );
}

/// How long a script may run before other clients are answered BUSY
/// (`busy-reply-threshold`, Redis's default 5 s).
pub fn busy_reply_threshold(srv: &ServerState) -> std::time::Duration {
    std::time::Duration::from_millis(srv.settings.busy_reply_threshold.load(Relaxed))
}

/// Dispatch a container command's subcommand (`CLIENT SETNAME`, `CONFIG GET`…), checking
/// the subcommand's arity with Redis's `'client|setname'` wording.
pub fn dispatch_sub(ctx: &mut Ctx<'_>, subs: &'static [CommandSpec], args: Args<'_>) -> CmdResult {
    let sub = args.get(1);
    let Some(spec) = subs.iter().find(|c| {
        let short = c.name.rsplit('|').next().unwrap_or(c.name);
        short.as_bytes().eq_ignore_ascii_case(sub)
    }) else {
        return Err(CmdError::UnknownSubcommand(util::lossy(sub)));
    };
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::Msg(CmdError::WrongArity.message(spec.name)));
    }
    (spec.handler)(ctx, args)
}

/// Redis's words for an unknown command, quoting up to 128 bytes of its arguments.
pub fn unknown_command_message(args: Args<'_>) -> String {
    let name = String::from_utf8_lossy(args.get(0));
    let name: String = name.chars().take(128).collect();
    let mut rest = String::new();
    for a in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        let s = String::from_utf8_lossy(a);
        let s: String = s.chars().take(room).collect();
        rest.push_str(&format!("'{s}' "));
    }
    format!("ERR unknown command '{name}', with args beginning with: {rest}")
}

/// Run a command in-process, returning the raw RESP reply (tests, the HTTP door later).
pub fn run(srv: &ServerState, sess: &mut Session, args: &[&[u8]]) -> Vec<u8> {
    let owned = protocol::args::OwnedArgs::new(args.iter().copied());
    let mut out = Vec::new();
    execute(srv, sess, owned.args(), &mut out);
    out
}
