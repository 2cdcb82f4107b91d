//! CLIENT PAUSE / CLIENT UNPAUSE: hold clients' commands (not refuse them) until a pause
//! ends, and keep the dataset still meanwhile, as Redis 7.0 does.
//!
//! ```text
//!  CLIENT PAUSE ms [WRITE|ALL] ─► Pause { kind, end } + storage `expiry_paused`
//!  conn.rs / HTTP, before a command: pause active? (one relaxed load) ─► holds()? ─► drop
//!      the gate share, write the replies so far, wait for UNPAUSE, the end time or a kill
//!  CLIENT UNPAUSE, or the end time seen by a waiter, the cron or the next check ─► off,
//!      every held client woken (it checks again: a new pause may hold it still)
//! ```
//!
//! **What waits.** ALL: every command. WRITE: commands that write or may replicate (Redis's
//! `may_replicate`: PUBLISH, EVAL/EVALSHA/FCALL, PFCOUNT), and EXEC when a queued command
//! does. A command Redis answers before its pause check is answered at once: an unknown
//! command or subcommand, a wrong arity, NOAUTH, LOADING, a RESP2 subscriber's disallowed
//! command. MONITOR clients and cluster-bus connections are never held (Redis exempts
//! replicas, which monitors are). A transaction already running (EXEC) finishes: CLIENT
//! PAUSE inside MULTI takes effect after EXEC, as in Redis. The memcached and binary doors'
//! writes (and, under ALL, every request) and the HTTP key routes wait the same way.
//!
//! **The dataset stays still**: while paused, an expired key reads as missing but is not
//! removed, the active expiry cycle and eviction do nothing (storage `Watches`), so no key
//! vanishes during a failover-style pause; they resume when it ends.
//!
//! **Cost when no pause**: one relaxed load per command (`active`).

use crate::clients::Session;
use crate::error::{CmdError, CmdResult};
use crate::table::{self, flags};
use crate::util::{eq_ic, parse_int};
use crate::{Ctx, ServerState};
use parking_lot::Mutex;
use protocol::Args;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// No pause.
pub const OFF: u8 = 0;
/// CLIENT PAUSE … WRITE.
pub const WRITE: u8 = 1;
/// CLIENT PAUSE … ALL (the default).
pub const ALL: u8 = 2;

/// The pause in force. One per server (`ServerState::pause`).
#[derive(Default)]
pub struct Pause {
    /// `OFF`, `WRITE` or `ALL`: the request path's only load.
    kind: AtomicU8,
    /// The kind and the end, changed together.
    state: Mutex<State>,
    /// Woken when a pause ends (or becomes less strict): held clients check again.
    changed: Notify,
    /// Clients held now (INFO `blocked_clients`, as Redis counts paused clients).
    held: AtomicUsize,
}

#[derive(Default, Clone, Copy)]
struct State {
    kind: u8,
    end: Option<Instant>,
}

impl Pause {
    /// Whether a pause may be in force (its end may have passed: `current` says).
    #[inline]
    pub fn active(&self) -> bool {
        self.kind.load(Relaxed) != OFF
    }

    /// Pause `kind` until `end`. A pause in force keeps the stricter kind and the later
    /// end (Redis's `pauseClients`).
    fn start(&self, ks: &storage::Keyspace, kind: u8, end: Instant) {
        let mut st = self.state.lock();
        if st.end.is_some_and(|e| e <= Instant::now()) {
            *st = State::default();
        }
        st.kind = st.kind.max(kind);
        st.end = Some(st.end.map_or(end, |e| e.max(end)));
        ks.watches.set_expiry_paused(true);
        self.kind.store(st.kind, Relaxed);
    }

    /// End the pause (CLIENT UNPAUSE, or its time passed) and wake the held clients.
    pub fn stop(&self, ks: &storage::Keyspace) {
        let mut st = self.state.lock();
        *st = State::default();
        self.kind.store(OFF, Relaxed);
        ks.watches.set_expiry_paused(false);
        drop(st);
        self.changed.notify_waiters();
    }

    /// The kind in force and its end; a pause whose end has passed is ended first (Redis's
    /// `checkClientPauseTimeoutAndReturnIfPaused`).
    pub fn current(&self, ks: &storage::Keyspace) -> (u8, Option<Instant>) {
        if !self.active() {
            return (OFF, None);
        }
        let st = *self.state.lock();
        if st.end.is_some_and(|e| e <= Instant::now()) {
            self.stop(ks);
            return (OFF, None);
        }
        (st.kind, st.end)
    }

    /// The cron's share: end a pause whose time has passed even if no client is held.
    pub fn cron(&self, ks: &storage::Keyspace) {
        if self.active() {
            self.current(ks);
        }
    }

    /// Clients held now.
    pub fn held(&self) -> usize {
        self.held.load(Relaxed)
    }
}

/// Whether a command that writes or may replicate (Redis's `is_may_replicate_command`).
/// (Our table does not flag PUBLISH and the scripts `may_replicate`, whose name COMMAND
/// INFO would show, while Redis hides the flag; hence the names.)
fn may_replicate(spec: &table::CommandSpec, checked: &table::CommandSpec) -> bool {
    checked.has(flags::WRITE | flags::MAY_REPLICATE)
        || spec.has(flags::WRITE | flags::MAY_REPLICATE)
        || matches!(
            spec.name,
            "publish" | "spublish" | "eval" | "evalsha" | "fcall" | "pfcount"
        )
}

/// Whether `args` from `sess` must wait for the pause in force to end. Call when `active`.
pub fn holds(srv: &ServerState, sess: &Session, args: Args<'_>) -> bool {
    let (kind, _) = srv.pause.current(&srv.ks);
    if kind == OFF || exempt(sess) {
        return false;
    }
    // What Redis answers before its pause check is answered now.
    let Some(row) = srv.table.lookup_row(args.get(0)) else {
        return false;
    };
    let spec = row.spec;
    let mut checked = spec;
    if !spec.subcommands.is_empty() && args.len() > 1 {
        match table::find_sub(spec, args.get(1)) {
            Some(s) => checked = s,
            None => return false,
        }
    }
    if !checked.arity_ok(args.len())
        || (!sess.authenticated && !spec.has(flags::NO_AUTH))
        || (srv.persistence.loading.load(Relaxed) && !spec.has(flags::LOADING))
        || (!sess.resp3
            && crate::pubsub::is_subscribed(sess)
            && !matches!(
                spec.name,
                "ping"
                    | "subscribe"
                    | "unsubscribe"
                    | "psubscribe"
                    | "punsubscribe"
                    | "quit"
                    | "reset"
            ))
    {
        return false;
    }
    if kind == ALL {
        return true;
    }
    if spec.name == "exec" {
        // EXEC waits when one of its queued commands would.
        return crate::tx::queued(sess).is_some_and(|q| {
            q.iter().any(|a| {
                let a = a.args();
                srv.table.lookup(a.get(0)).is_some_and(|s| {
                    let c = crate::spec_of(srv, a).unwrap_or(s);
                    may_replicate(s, c)
                })
            })
        });
    }
    may_replicate(spec, checked)
}

/// Whether a request of another door (memcached, binary natives; HTTP key routes) must
/// wait: `write` says whether it changes data. Call when `active`.
pub fn holds_native(srv: &ServerState, sess: Option<&Session>, write: bool) -> bool {
    let (kind, _) = srv.pause.current(&srv.ks);
    if kind == OFF || sess.is_some_and(exempt) {
        return false;
    }
    kind == ALL || write
}

/// MONITOR clients and cluster-bus connections are never held (Redis never pauses
/// replicas, and a monitor is one).
fn exempt(sess: &Session) -> bool {
    sess.monitor.is_some() || sess.bus.is_some()
}

/// Wait while `still_held()` says so: until the pause ends or changes, or its end time.
/// `Err` when `kill` fires (the caller closes the connection).
pub async fn wait(
    srv: &ServerState,
    kill: &Notify,
    still_held: impl Fn() -> bool,
) -> Result<(), ()> {
    srv.pause.held.fetch_add(1, Relaxed);
    let r = loop {
        let changed = srv.pause.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !still_held() {
            break Ok(());
        }
        let (_, end) = srv.pause.current(&srv.ks);
        // No end means the pause ended between the two checks: look again.
        let Some(end) = end else { continue };
        tokio::select! {
            _ = &mut changed => {}
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = kill.notified() => break Err(()),
        }
    };
    srv.pause.held.fetch_sub(1, Relaxed);
    r
}

/// CLIENT PAUSE timeout [WRITE | ALL]
pub fn client_pause(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 4 {
        // Redis's addReplySubcommandSyntaxError: the subcommand as the client typed it.
        return Err(CmdError::Msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            crate::util::lossy(args.get(1))
        )));
    }
    let kind = match args.try_get(3) {
        None => ALL,
        Some(m) if eq_ic(m, "write") => WRITE,
        Some(m) if eq_ic(m, "all") => ALL,
        Some(_) => {
            return Err(CmdError::Static(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ))
        }
    };
    let ms = parse_int(args.get(2))
        .map_err(|_| CmdError::Static("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let now = Instant::now();
    // 0 ends at once (Redis stores an absolute end of 0); a huge timeout is ~forever.
    let end = now
        .checked_add(Duration::from_millis(ms as u64))
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
    ctx.srv.pause.start(&ctx.srv.ks, kind, end);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
pub fn client_unpause(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.srv.pause.stop(&ctx.srv.ks);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCtx;
    use protocol::args::OwnedArgs;

    fn held(t: &TestCtx, args: &[&str]) -> bool {
        let a = OwnedArgs::new(args.iter().map(|s| s.as_bytes()));
        let sess = t.sess.lock();
        holds(&t.srv, &sess, a.args())
    }

    #[test]
    fn errors_as_redis() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "10", "READ"]),
            "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "x"]),
            "-ERR timeout is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "-1"]),
            "-ERR timeout is negative\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "PAUSE", "1", "ALL", "x"]),
            "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "PAUSE"]),
            "-ERR wrong number of arguments for 'client|pause' command\r\n"
        );
        assert!(!t.srv.pause.active());
    }

    #[test]
    fn write_pause_holds_writes_only() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["CLIENT", "PAUSE", "100000", "WRITE"]), "+OK\r\n");
        assert!(held(&t, &["SET", "k", "v"]));
        assert!(held(&t, &["PUBLISH", "c", "m"]));
        assert!(held(&t, &["EVAL", "return 1", "0"]));
        assert!(held(&t, &["PFCOUNT", "h"]));
        assert!(!held(&t, &["GET", "k"]));
        assert!(!held(&t, &["EVAL_RO", "return 1", "0"]));
        assert!(!held(&t, &["CLIENT", "UNPAUSE"]));
        // Answered at once: arity, unknown command or subcommand.
        assert!(!held(&t, &["SET", "k"]));
        assert!(!held(&t, &["NOPE"]));
        assert!(!held(&t, &["CLIENT", "NOPE"]));
        // EXEC waits when a queued command would.
        t.run(&["MULTI"]);
        t.run(&["GET", "k"]);
        assert!(!held(&t, &["EXEC"]));
        t.run(&["DISCARD"]);
        t.run(&["MULTI"]);
        assert!(held(&t, &["SET", "k", "v"]), "queueing a write waits too");
        t.run(&["INCR", "n"]);
        assert!(held(&t, &["EXEC"]));
        t.run(&["DISCARD"]);
        // A stricter pause wins; UNPAUSE ends it.
        t.run(&["CLIENT", "PAUSE", "10", "ALL"]);
        assert!(held(&t, &["GET", "k"]));
        assert_eq!(t.run(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        assert!(!held(&t, &["SET", "k", "v"]));
        assert!(!t.srv.pause.active());
    }

    #[test]
    fn zero_timeout_ends_at_once() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["CLIENT", "PAUSE", "0"]), "+OK\r\n");
        assert!(!held(&t, &["SET", "k", "v"]));
        assert!(!t.srv.pause.active());
    }

    #[test]
    fn expiry_waits_for_the_pause() {
        let t = TestCtx::new();
        t.run(&["SET", "k", "v", "PX", "10"]);
        t.run(&["CLIENT", "PAUSE", "100000", "WRITE"]);
        t.advance_ms(20);
        // Missing to readers, but not removed (not counted as expired).
        assert_eq!(t.run(&["GET", "k"]), "$-1\r\n");
        assert_eq!(t.run(&["DBSIZE"]), ":1\r\n");
        assert_eq!(t.srv.ks.stats().expired, 0);
        assert_eq!(
            t.srv
                .ks
                .active_expire_cycle(Duration::from_millis(5))
                .expired,
            0
        );
        // A write the pause let through replaces the hidden key.
        assert_eq!(t.run(&["SET", "k", "w"]), "+OK\r\n");
        assert_eq!(t.run(&["DBSIZE"]), ":1\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$1\r\nw\r\n");
        t.run(&["SET", "j", "v", "PX", "10"]);
        t.advance_ms(20);
        assert_eq!(t.run(&["GET", "j"]), "$-1\r\n");
        t.run(&["CLIENT", "UNPAUSE"]);
        let before = t.srv.ks.stats().expired;
        assert_eq!(t.run(&["GET", "j"]), "$-1\r\n");
        assert_eq!(t.srv.ks.stats().expired, before + 1);
        assert_eq!(t.run(&["DBSIZE"]), ":1\r\n");
    }
}
