//! MONITOR: every command the server runs, from every door, streamed to the clients that
//! asked, one line each in Redis's format:
//!
//! ```text
//!  +1700000000.123456 [0 127.0.0.1:54321] "SET" "k" "v"
//!  +1700000000.123501 [0 lua] "get" "k"                      (a script's redis.call)
//! ```
//!
//! ```text
//!  execute_in / EXEC's queued commands, after the handler ──┐
//!  EVAL & co., before the handler (their script's commands   ├─► feed: line built once ─►
//!   follow them, as in Redis's evalCommand)                  │   each monitor's outbox
//!  memcached / binary native requests, HTTP key routes ─────┘
//! ```
//!
//! As Redis 7.0 (`call()` → `replicationFeedMonitors`): a command is shown once it ran, so
//! refused ones (unknown, wrong arity, NOAUTH) and commands queued by MULTI are not, while
//! EXEC shows its commands then itself; ADMIN commands (CONFIG, CLIENT LIST, DEBUG…) are
//! never shown; AUTH's and HELLO AUTH's credentials read `(redacted)`; nothing is fed
//! while the data set loads. Arguments are quoted as Redis's `sdscatrepr`. A monitor is in
//! Redis's replica class: it may run commands that do not touch the keyspace (PING, CLIENT,
//! RESET, QUIT…), others are refused (`Replica can't interact with the keyspace`), and its
//! output buffer has the `replica` limits.
//!
//! Lines from the other doors use their own words: a memcached request shows its command
//! line's words and data (`"set" "k" "0" "0" "1" "v"`), a binary-protocol request its
//! opcode (`"GET" "k"`), an HTTP key route its method and key (`"PUT" "k"`).
//!
//! **Cost when nobody monitors**: one relaxed load per command.

use crate::clients::Session;
use crate::error::{CmdError, CmdResult};
use crate::pubsub::{Outbox, OutboxLimits};
use crate::table::{flags, CommandSpec};
use crate::util::eq_ic;
use crate::{cmd, Ctx, Door, ServerState};
use parking_lot::Mutex;
use protocol::Args;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

pub const COMMANDS: &[CommandSpec] = &[cmd!(
    "monitor",
    1,
    flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
    0,
    0,
    0,
    monitor,
    "server",
    "1.0.0",
    "Listens for all requests received by the server in real-time.",
    ""
)];

/// The monitors of a server (`ServerState::monitors`).
#[derive(Default)]
pub struct Monitors {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Monitors connected: the request path's only load.
    count: AtomicUsize,
    list: Mutex<Vec<(u64, Arc<Outbox>)>>,
}

/// A session in MONITOR mode; dropping it (RESET, disconnect) stops the feed.
pub struct Monitoring {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Monitoring {
    fn drop(&mut self) {
        let mut l = self.inner.list.lock();
        l.retain(|(id, _)| *id != self.id);
        self.inner.count.store(l.len(), Relaxed);
    }
}

impl Monitors {
    /// Whether anyone monitors (one relaxed load).
    #[inline]
    pub fn active(&self) -> bool {
        self.inner.count.load(Relaxed) != 0
    }

    /// Monitors connected.
    pub fn len(&self) -> usize {
        self.inner.count.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a command came from, as the line's brackets show it.
pub enum Source<'a> {
    /// A client connection: its `ip:port`.
    Client(&'a str),
    /// A script's `redis.call`.
    Lua,
}

/// Append `arg` quoted as Redis's `sdscatrepr`.
pub fn repr(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            // isprint: space through tilde.
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Which arguments Redis redacts: AUTH's (the first always, the second in the three-word
/// form; none when AUTH has too many arguments, which Redis refuses before redacting) and
/// HELLO's AUTH username and password (when the version was accepted).
fn redacted(args: &[&[u8]]) -> Vec<usize> {
    let name = args[0];
    if eq_ic(name, "auth") {
        return match args.len() {
            2 => vec![1],
            3 => vec![1, 2],
            _ => vec![],
        };
    }
    if !eq_ic(name, "hello") {
        return vec![];
    }
    let mut next = 1;
    if args.len() >= 2 {
        let ok = std::str::from_utf8(args[1])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .is_some_and(|v| v == 2 || v == 3);
        if !ok {
            return vec![];
        }
        next = 2;
    }
    let mut v = vec![];
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(args[j], "auth") && more >= 2 {
            v.push(j + 1);
            v.push(j + 2);
            j += 3;
        } else if eq_ic(args[j], "setname") && more >= 1 {
            j += 2;
        } else {
            break;
        }
    }
    v
}

/// One MONITOR line (`+secs.micros [db source] "arg" …\r\n`).
pub fn line(db: usize, src: Source<'_>, args: &[&[u8]]) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(48 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.extend_from_slice(
        format!("+{}.{:06} [{db} ", now.as_secs(), now.subsec_micros()).as_bytes(),
    );
    match src {
        Source::Client(addr) => out.extend_from_slice(addr.as_bytes()),
        Source::Lua => out.extend_from_slice(b"lua"),
    }
    out.extend_from_slice(b"] ");
    let hide = if args.is_empty() {
        vec![]
    } else {
        redacted(args)
    };
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        if hide.contains(&i) {
            repr(&mut out, b"(redacted)");
        } else {
            repr(&mut out, a);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Send `args` (run by `sess` in database `db`) to every monitor. Call when `active`.
pub fn feed_args(srv: &ServerState, sess: &Session, db: usize, args: &[&[u8]]) {
    let src = if sess.in_script {
        Source::Lua
    } else {
        Source::Client(&sess.handle.addr)
    };
    feed(srv, src, db, args);
}

/// `feed_args` for a request that has no session (an HTTP key route).
pub fn feed_from(srv: &ServerState, addr: &str, db: usize, args: &[&[u8]]) {
    feed(srv, Source::Client(addr), db, args);
}

fn feed(srv: &ServerState, src: Source<'_>, db: usize, args: &[&[u8]]) {
    if srv.persistence.loading.load(Relaxed) {
        return;
    }
    let l = line(db, src, args);
    let r = *srv.settings.replica_obuf.read();
    let lim = OutboxLimits {
        hard: r.0 as usize,
        soft: r.1 as usize,
        soft_secs: r.2,
    };
    let monitors: Vec<Arc<Outbox>> = srv
        .monitors
        .inner
        .list
        .lock()
        .iter()
        .map(|(_, o)| o.clone())
        .collect();
    for o in monitors {
        o.push_frame(&l, &lim, || {
            srv.stats
                .client_output_buffer_limit_disconnections
                .fetch_add(1, Relaxed);
        });
    }
}

/// The script commands, which feed themselves before they run (their script's commands
/// follow them) instead of after.
pub fn is_script(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// A command ran (`execute_in`, EXEC's queued commands): feed it unless Redis hides it
/// (ADMIN; the scripts, fed before they ran). `checked` is the subcommand's row when there
/// is one. Call when `active`.
pub fn after_command(
    srv: &ServerState,
    sess: &Session,
    spec: &CommandSpec,
    checked: &CommandSpec,
    db: usize,
    args: Args<'_>,
) {
    if checked.has(flags::ADMIN) || spec.has(flags::ADMIN) || is_script(spec) {
        return;
    }
    let a: Vec<&[u8]> = args.iter().collect();
    feed_args(srv, sess, db, &a);
}

/// Before a script command runs (Redis's `evalCommand` feeds itself first).
pub fn before_script(srv: &ServerState, sess: &Session, args: Args<'_>) {
    let a: Vec<&[u8]> = args.iter().collect();
    feed_args(srv, sess, sess.db, &a);
}

/// A monitor client may only run commands that do not touch the keyspace (Redis:
/// "Replica can't interact with the keyspace"); the refusal, if any.
pub fn refuse_for_monitor(spec: &CommandSpec, checked: &CommandSpec) -> Option<&'static str> {
    let touches = |s: &CommandSpec| s.has(flags::WRITE | flags::READONLY | flags::MAY_REPLICATE);
    (touches(spec) || touches(checked) || is_script(spec) || spec.name == "publish")
        .then_some("ERR Replica can't interact with the keyspace")
}

/// MONITOR
pub fn monitor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.sess.door != Door::Resp {
        return Err(CmdError::Msg(format!(
            "ERR MONITOR is not supported over the {} door; use RESP",
            ctx.sess.door.name()
        )));
    }
    if ctx.sess.deny_blocking {
        // Inside EXEC or a script: the client expects one reply per command.
        return Err(CmdError::Static(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx.sess.monitor.is_some() {
        // Already monitoring: ignored, no reply (Redis returns without one).
        return Ok(());
    }
    let outbox = ctx.sess.outbox();
    let inner = ctx.srv.monitors.inner.clone();
    {
        let mut l = inner.list.lock();
        l.push((ctx.sess.id, outbox));
        inner.count.store(l.len(), Relaxed);
    }
    ctx.sess.handle.monitor.store(true, Relaxed);
    ctx.sess.monitor = Some(Box::new(Monitoring {
        inner,
        id: ctx.sess.id,
    }));
    ctx.out.ok();
    Ok(())
}

/// Leave MONITOR mode (RESET).
pub fn stop(sess: &mut Session) {
    if sess.monitor.take().is_some() {
        sess.handle.monitor.store(false, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCtx;

    fn drain(s: &mut Session) -> String {
        let mut v = Vec::new();
        if let Some(o) = &s.outbox {
            o.drain_into(&mut v);
        }
        String::from_utf8_lossy(&v).into_owned()
    }

    /// The line without its timestamp.
    fn strip(l: &str) -> Vec<String> {
        l.lines()
            .map(|l| {
                let (ts, rest) = l.split_once(' ').unwrap();
                assert!(ts.starts_with('+') && ts.contains('.'), "{l}");
                assert_eq!(ts.split_once('.').unwrap().1.len(), 6, "{l}");
                rest.to_string()
            })
            .collect()
    }

    #[test]
    fn quoting_as_sdscatrepr() {
        let mut v = Vec::new();
        repr(&mut v, b"a\"b\\c\n\r\t\x07\x08\x01\xff ~");
        assert_eq!(v, b"\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x01\\xff ~\"");
    }

    #[test]
    fn redaction() {
        let r = |a: &[&str]| redacted(&a.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());
        assert_eq!(r(&["AUTH", "pw"]), vec![1]);
        assert_eq!(r(&["auth", "user", "pw"]), vec![1, 2]);
        assert_eq!(r(&["AUTH", "a", "b", "c"]), Vec::<usize>::new());
        assert_eq!(
            r(&["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"]),
            vec![3, 4]
        );
        assert_eq!(
            r(&["HELLO", "3", "SETNAME", "n", "AUTH", "u", "p"]),
            vec![5, 6]
        );
        assert_eq!(r(&["HELLO", "4", "AUTH", "u", "p"]), Vec::<usize>::new());
        assert_eq!(r(&["HELLO"]), Vec::<usize>::new());
        assert_eq!(r(&["GET", "k"]), Vec::<usize>::new());
    }

    #[test]
    fn feeds_what_ran_in_redis_order() {
        let t = TestCtx::new();
        let mut m = t.new_session();
        assert_eq!(t.run_as(&mut m, &["MONITOR"]), "+OK\r\n");
        assert!(m.handle.flags().contains('O'));
        assert!(t.srv.monitors.active());
        t.run(&["SET", "k", "v"]);
        t.run(&["GET"]); // refused: not shown
        t.run(&["CONFIG", "GET", "port"]); // admin: not shown
        t.run(&["CLIENT", "ID"]);
        t.run(&["MULTI"]);
        t.run(&["INCR", "n"]);
        t.run(&["EXEC"]);
        t.run(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"]);
        t.run(&["SELECT", "3"]);
        t.run(&["AUTH", "secret"]);
        let lines = strip(&drain(&mut m));
        assert_eq!(
            lines,
            vec![
                "[0 127.0.0.1:40001] \"SET\" \"k\" \"v\"",
                "[0 127.0.0.1:40001] \"CLIENT\" \"ID\"",
                "[0 127.0.0.1:40001] \"MULTI\"",
                "[0 127.0.0.1:40001] \"INCR\" \"n\"",
                "[0 127.0.0.1:40001] \"EXEC\"",
                "[0 127.0.0.1:40001] \"EVAL\" \"return redis.call('get', KEYS[1])\" \"1\" \"k\"",
                "[0 lua] \"get\" \"k\"",
                "[3 127.0.0.1:40001] \"SELECT\" \"3\"",
                "[3 127.0.0.1:40001] \"AUTH\" \"(redacted)\"",
            ]
        );
        // A monitor may not touch the keyspace; RESET leaves MONITOR mode.
        assert_eq!(
            t.run_as(&mut m, &["GET", "k"]),
            "-ERR Replica can't interact with the keyspace\r\n"
        );
        assert_eq!(t.run_as(&mut m, &["PING"]), "+PONG\r\n");
        assert_eq!(t.run_as(&mut m, &["RESET"]), "+RESET\r\n");
        assert!(!t.srv.monitors.active());
        assert!(!m.handle.flags().contains('O'));
        drain(&mut m);
        t.run(&["SET", "k", "v"]);
        assert_eq!(drain(&mut m), "");
    }

    #[test]
    fn disconnect_stops_the_feed() {
        let t = TestCtx::new();
        let mut m = t.new_session();
        t.run_as(&mut m, &["MONITOR"]);
        assert_eq!(
            t.run_as(&mut m, &["MONITOR"]),
            "",
            "a second MONITOR is ignored"
        );
        drop(m);
        assert!(!t.srv.monitors.active());
    }
}
