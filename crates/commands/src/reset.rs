//! RESET: a connection back to the state it had when it connected, as Redis's
//! `clearClientConnectionState`.
//!
//! In Redis's order: out of MONITOR mode, tracking off, database 0, RESP2, the default user
//! (authenticated only if it needs no password: `acl::reset_session`), MULTI discarded and
//! every WATCH dropped, every (pattern) subscription dropped without confirmations, the
//! name cleared, CLIENT REPLY back ON. rcache's additions follow Redis 7.2: CLIENT NO-TOUCH
//! is turned off (NO-EVICT stays, as in 7.0). A session of another door keeps the protocol
//! its door speaks to the command layer. The answer is `+RESET`.

use crate::error::CmdResult;
use crate::table::{flags::*, CommandSpec};
use crate::{cmd, Ctx, Door};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;

pub const COMMANDS: &[CommandSpec] = &[cmd!(
    "reset",
    1,
    NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
    0,
    0,
    0,
    reset,
    "connection",
    "6.2.0",
    "Resets the connection.",
    ""
)];

/// RESET
fn reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let sess = &mut *ctx.sess;
    crate::monitor::stop(sess);
    sess.tracking = None;
    sess.db = 0;
    sess.handle.db.store(0, Relaxed);
    // Sessions of the other doors speak RESP3 to the command layer (their replies are
    // translated from it): they keep it.
    sess.resp3 = sess.door != Door::Resp;
    sess.handle
        .resp
        .store(if sess.resp3 { 3 } else { 2 }, Relaxed);
    crate::acl::reset_session(srv, sess);
    // DISCARD and UNWATCH.
    let _ = crate::tx::take_for_forward(sess);
    sess.watching = None;
    // Unsubscribe from everything, without confirmations; messages already queued are
    // still delivered (the outbox stays with the session).
    sess.pubsub = None;
    sess.handle.subs.store(0, Relaxed);
    sess.handle.psubs.store(0, Relaxed);
    *sess.handle.name.lock() = None;
    sess.reply = 0;
    sess.no_touch = false;
    sess.handle.no_touch.store(false, Relaxed);
    ctx.out.simple("RESET");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::TestCtx;

    #[test]
    fn back_to_a_fresh_connection() {
        let t = TestCtx::new();
        t.run(&["SELECT", "2"]);
        t.run(&["CLIENT", "SETNAME", "x"]);
        t.run(&["CLIENT", "NO-TOUCH", "on"]);
        t.run(&["WATCH", "k"]);
        t.run(&["MULTI"]);
        t.run(&["SET", "k", "v"]);
        t.resp3();
        t.run(&["SUBSCRIBE", "ch"]);
        t.run(&["CLIENT", "TRACKING", "on"]);
        // RESET runs at once inside MULTI (it is not queued).
        assert_eq!(t.run(&["RESET"]), "+RESET\r\n");
        {
            let s = t.sess.lock();
            assert_eq!(s.db, 0);
            assert!(!s.resp3 && s.multi.is_none() && s.watching.is_none());
            assert!(s.pubsub.is_none() && s.tracking.is_none() && !s.no_touch);
            assert_eq!(s.handle.name(), "");
            assert_eq!(s.handle.flags(), "N");
        }
        assert!(t.srv.ks.watches.is_empty());
        assert_eq!(t.srv.tracking.clients(), 0);
        assert_eq!(
            t.run(&["GET", "k"]),
            "$-1\r\n",
            "the transaction was discarded"
        );
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$-1\r\n");
        assert_eq!(
            t.run(&["PUBSUB", "NUMSUB", "ch"]),
            "*2\r\n$2\r\nch\r\n:0\r\n"
        );
    }

    #[test]
    fn reset_deauthenticates_when_a_password_is_set() {
        let t = TestCtx::new();
        t.run(&["CONFIG", "SET", "requirepass", "pw"]);
        assert_eq!(t.run(&["RESET"]), "+RESET\r\n");
        assert!(t.run(&["GET", "k"]).starts_with("-NOAUTH"));
        assert_eq!(t.run(&["AUTH", "pw"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$-1\r\n");
    }

    #[test]
    fn reset_turns_replies_back_on() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["CLIENT", "REPLY", "OFF"]), "");
        t.run(&["RESET"]);
        assert_eq!(t.sess.lock().reply, 0);
    }
}
