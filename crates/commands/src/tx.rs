//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the checks `execute_in` makes
//! while a client is in MULTI or subscribed (`intercept`, `reject`).
//!
//! ```text
//!  MULTI ─► session.multi = queue       every command ─► checks ─► queued (+QUEUED)
//!  EXEC (flag EXCLUSIVE: runs holding the gate alone, see gate.rs)
//!     ├─ a command was refused while queueing  ─► -EXECABORT
//!     ├─ a WATCHed key changed (storage/watch.rs) ─► null array
//!     └─ run every queued command in order      ─► array of their replies
//! ```
//!
//! Redis's rules, kept here: a command refused while queueing (unknown, wrong arity,
//! NOAUTH, `no_multi`, OOM) is answered with its error and makes EXEC answer EXECABORT; a
//! queued command that fails when run (WRONGTYPE…) fails alone, the others keep their
//! effects; EXEC and DISCARD forget the watched keys. EXEC is atomic with respect to every
//! other client because it holds the exclusion gate alone (`flags::EXCLUSIVE`); the queued
//! commands then run through `run_queued`, without the per-command OOM check (EXEC made it
//! once, as Redis does), and with `Session::in_exec` set so blocking commands do not block.

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::{cmd, Ctx, ServerState};
use protocol::args::OwnedArgs;
use protocol::{Args, Reply};
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use storage::{WatchFlag, Watches};

const TX: u32 = NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "multi",
        1,
        TX | FAST | ALLOW_BUSY,
        0,
        0,
        0,
        multi,
        "transactions",
        "1.2.0",
        "Starts a transaction.",
        ""
    ),
    cmd!(
        "exec",
        1,
        TX | SKIP_SLOWLOG | EXCLUSIVE,
        0,
        0,
        0,
        exec,
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
        ""
    ),
    cmd!(
        "discard",
        1,
        TX | FAST | ALLOW_BUSY,
        0,
        0,
        0,
        discard,
        "transactions",
        "2.0.0",
        "Discards a transaction.",
        ""
    ),
    cmd!(
        "watch",
        -2,
        TX | FAST | ALLOW_BUSY,
        1,
        -1,
        1,
        watch,
        "transactions",
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        "key [key ...]"
    ),
    cmd!(
        "unwatch",
        1,
        TX | FAST | ALLOW_BUSY,
        0,
        0,
        0,
        unwatch,
        "transactions",
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        ""
    ),
];

/// A transaction being queued (MULTI … EXEC).
#[derive(Default)]
pub struct Multi {
    queue: Vec<OwnedArgs>,
    /// Union of the queued commands' flags: EXEC refuses under OOM if one is `denyoom`.
    flags: u32,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    aborted: bool,
}

/// A client's watched keys and its dirty flag. Dropping it unregisters every key, so a
/// session that ends (disconnect, kill) leaves nothing behind in the registry.
pub struct WatchSet {
    watches: Arc<Watches>,
    flag: Arc<WatchFlag>,
    keys: HashSet<(usize, Box<[u8]>)>,
}

impl Drop for WatchSet {
    fn drop(&mut self) {
        for (db, k) in &self.keys {
            self.watches.remove(*db, k, &self.flag);
        }
    }
}

/// Commands that run at once in MULTI instead of being queued (Redis's list).
fn runs_in_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Commands a RESP2 client may send while subscribed.
fn allowed_subscribed(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "quit"
            | "reset"
    )
}

/// End the session's transaction (if any) and forget its watched keys.
fn end_transaction(sess: &mut crate::clients::Session) -> Option<Box<Multi>> {
    sess.watching = None;
    sess.handle.multi.store(-1, Relaxed);
    sess.multi.take()
}

/// The queued commands of the open transaction (cluster routing looks at their keys when
/// EXEC comes).
pub fn queued(sess: &crate::clients::Session) -> Option<&[OwnedArgs]> {
    sess.multi.as_deref().map(|m| m.queue.as_slice())
}

/// End the transaction to run it elsewhere (cluster mode: its slot's owner): its queued
/// commands and whether a refusal while queueing doomed it (EXECABORT). WATCHed keys are
/// given up; the caller refuses EXEC when there were some.
pub fn take_for_forward(
    sess: &mut crate::clients::Session,
) -> Option<(Vec<OwnedArgs>, bool, bool)> {
    let watched = sess.watching.is_some();
    end_transaction(sess).map(|m| (m.queue, m.aborted, watched))
}

/// Refuse a command before it runs, as Redis's `rejectCommand`: inside MULTI the
/// transaction is flagged, and a refused EXEC discards it with EXECABORT.
pub(crate) fn reject(
    sess: &mut crate::clients::Session,
    spec: Option<&CommandSpec>,
    r: &mut Reply<'_>,
    msg: &str,
) {
    if let Some(m) = sess.multi.as_mut() {
        if spec.is_some_and(|s| s.name == "exec") {
            end_transaction(sess);
            let why = msg.strip_prefix("ERR ").unwrap_or(msg);
            r.error(&format!(
                "EXECABORT Transaction discarded because of: {why}"
            ));
            return;
        }
        m.aborted = true;
    }
    r.error(msg);
}

/// What `intercept` did with a command.
pub(crate) enum Intercepted {
    /// Nothing: run it.
    Run,
    /// Queued for EXEC (answered `+QUEUED`).
    Queued,
    /// Refused with an error (counted as a rejected call).
    Refused,
}

/// The checks of a client in MULTI or subscribed (the caller tests that first, so other
/// clients pay one branch): `no_multi`, OOM while queueing, the RESP2 subscribed-mode
/// whitelist, then queueing.
pub(crate) fn intercept(
    srv: &ServerState,
    sess: &mut crate::clients::Session,
    spec: &'static CommandSpec,
    args: Args<'_>,
    r: &mut Reply<'_>,
) -> Intercepted {
    // A container's subcommand is refused at queueing time too, as Redis resolves it then.
    let mut sub = None;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        sub = crate::table::find_sub(spec, args.get(1));
    }
    if sess.multi.is_some() {
        if !spec.subcommands.is_empty() && args.len() >= 2 {
            match sub {
                None => {
                    let e = CmdError::UnknownSubcommand(crate::util::lossy(args.get(1)));
                    reject(sess, Some(spec), r, &e.message(spec.name));
                    return Intercepted::Refused;
                }
                Some(s) if !s.arity_ok(args.len()) => {
                    reject(sess, Some(spec), r, &CmdError::WrongArity.message(s.name));
                    return Intercepted::Refused;
                }
                Some(_) => {}
            }
        }
        if spec.has(NO_MULTI) || sub.is_some_and(|s| s.has(NO_MULTI)) {
            reject(
                sess,
                Some(spec),
                r,
                "ERR Command not allowed inside a transaction",
            );
            return Intercepted::Refused;
        }
        // Queueing may take any amount of memory: every command but EXEC/DISCARD/QUIT is
        // refused over maxmemory (EXEC is checked when it runs).
        // (Not while the log is replayed: what was written is loaded whatever the limit.)
        if !matches!(spec.name, "exec" | "discard" | "quit" | "reset")
            && !srv.ks.replaying()
            && srv.ks.ensure_memory().is_err()
        {
            reject(sess, Some(spec), r, &CmdError::Oom.message(spec.name));
            return Intercepted::Refused;
        }
    }
    if !sess.resp3 && crate::pubsub::is_subscribed(sess) && !allowed_subscribed(spec.name) {
        let name = sub.map_or(spec.name, |s| s.name);
        let msg = format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
        reject(sess, Some(spec), r, &msg);
        return Intercepted::Refused;
    }
    if let Some(m) = sess.multi.as_mut() {
        if !runs_in_multi(spec.name) {
            m.queue.push(OwnedArgs::new(args.iter()));
            m.flags |= spec.flags | sub.map_or(0, |s| s.flags);
            sess.handle.multi.store(m.queue.len() as i64, Relaxed);
            r.simple("QUEUED");
            return Intercepted::Queued;
        }
    }
    Intercepted::Run
}

/// Whether EXEC must be refused under OOM: one of its queued commands is `denyoom`.
pub(crate) fn exec_needs_memory(sess: &crate::clients::Session) -> bool {
    sess.multi.as_ref().is_some_and(|m| m.flags & DENYOOM != 0)
}

/// MULTI
fn multi(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(CmdError::Static("ERR MULTI calls can not be nested"));
    }
    ctx.sess.multi = Some(Box::default());
    ctx.sess.handle.multi.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// DISCARD
fn discard(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.sess.multi.is_none() {
        return Err(CmdError::Static("ERR DISCARD without MULTI"));
    }
    end_transaction(ctx.sess);
    ctx.out.ok();
    Ok(())
}

/// EXEC: runs holding the gate alone (the connection saw `flags::EXCLUSIVE`).
fn exec(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.sess.multi.is_none() {
        return Err(CmdError::Static("ERR EXEC without MULTI"));
    }
    let watching = ctx.sess.watching.take();
    let m = end_transaction(ctx.sess).expect("in MULTI");
    if m.aborted {
        return Err(CmdError::Static(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if let Some(w) = &watching {
        // Redis 7: a watched key whose time has passed since WATCH is a change. Looking it
        // up removes it, and the removal marks the flag (storage/watch.rs).
        let ks = &ctx.srv.ks;
        for (db, key) in &w.keys {
            let k = ks.key(key);
            ks.txn1(*db, &k).exists(&k);
        }
        if w.flag.is_dirty() {
            ctx.out.null_array();
            return Ok(());
        }
    }
    drop(watching);
    let Ctx { srv, sess, out } = ctx;
    out.array_len(m.queue.len());
    let mut replies = Vec::new();
    // Blocking commands answer at once inside EXEC (`in_exec`, `deny_blocking`); the
    // waiters its writes readied are served when EXEC itself ends (`blocking.rs`).
    sess.in_exec = true;
    let deny = std::mem::replace(&mut sess.deny_blocking, true);
    for a in &m.queue {
        run_queued(srv, sess, a.args(), &mut replies);
    }
    sess.deny_blocking = deny;
    sess.in_exec = false;
    out.raw(&replies);
    Ok(())
}

/// Run one queued command inside EXEC (the checks were made when it was queued).
fn run_queued(
    srv: &ServerState,
    sess: &mut crate::clients::Session,
    args: Args<'_>,
    out: &mut Vec<u8>,
) {
    let resp3 = sess.resp3;
    let Some(row) = srv.table.lookup_row(args.get(0)) else {
        // Unknown commands abort the transaction when queued; nothing unknown is queued.
        Reply::new(out, resp3).error(&crate::unknown_command_message(args));
        return;
    };
    let spec = row.spec;
    // The ACL rules may have changed since the command was queued (Redis checks again).
    if !sess.acl.free_at(srv.acl.epoch()) {
        if let Err(msg) = crate::acl::recheck_queued(srv, sess, args) {
            Reply::new(out, resp3).error(&msg);
            return;
        }
    }
    let mut ctx = Ctx {
        srv,
        sess: &mut *sess,
        out: Reply::new(out, resp3),
    };
    let mark = ctx.out.len();
    let started = std::time::Instant::now();
    // Logged by the subcommand's row when it has one (`XGROUP CREATE` writes).
    let row_spec = crate::spec_of(srv, args).unwrap_or(spec);
    // Client-side caching remembers a tracking client's reads inside EXEC too.
    if ctx.sess.tracking.is_some() {
        crate::tracking::nested_read(srv, row_spec, args);
    }
    if srv.monitors.active() && crate::monitor::is_script(spec) {
        crate::monitor::before_script(srv, ctx.sess, args);
    }
    let logged = crate::effects::begin(srv, row_spec, args, ctx.sess.db);
    if let Err(e) = (spec.handler)(&mut ctx, args) {
        ctx.out.truncate(mark);
        ctx.out.error(&e.message(spec.name));
    }
    drop(logged);
    // Each queued command counts in INFO commandstats, as in Redis.
    if let Some(id) = srv.table.stat_id(row, args) {
        let failed = matches!(out.get(mark), Some(b'-' | b'!'));
        let nanos = started.elapsed().as_nanos() as u64;
        srv.stats.cmdstats.record(id, nanos, failed);
        // EXEC itself skips the slow log: its commands are logged one by one, as Redis.
        if nanos
            >= srv
                .settings
                .slow_floor_ns
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            crate::slowlog::after_slow_call(srv, sess, id, args, nanos);
        }
    }
    // MONITOR shows each queued command as it runs, before EXEC itself.
    if srv.monitors.active() {
        crate::monitor::after_command(srv, sess, spec, row_spec, sess.db, args);
    }
    crate::notify::after_command(srv, sess.db, spec, args);
    // Mark the keys this write readied for blocked clients; they are served when EXEC ends.
    if srv.blocking.has_waiters() {
        crate::blocking::after_command(srv, sess, spec, args);
    }
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(CmdError::Static("ERR WATCH inside MULTI is not allowed"));
    }
    let ks = &ctx.srv.ks;
    let db = ctx.sess.db;
    let w = ctx.sess.watching.get_or_insert_with(|| {
        Box::new(WatchSet {
            watches: ks.watches.clone(),
            flag: Arc::new(WatchFlag::default()),
            keys: HashSet::new(),
        })
    });
    for key in args.iter().skip(1) {
        let id = (db, Box::<[u8]>::from(key));
        if w.keys.contains(&id) {
            continue;
        }
        let k = ks.key(key);
        ks.txn1(db, &k).watch(&k, &w.flag);
        w.keys.insert(id);
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.sess.watching = None;
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests;
