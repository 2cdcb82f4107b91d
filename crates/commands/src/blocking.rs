//! Blocking commands (BLPOP, BLMOVE, BLMPOP…, later BZPOPMIN/BZMPOP): the registry of
//! waiting clients per (db, key), FIFO, and the hand-off that serves them.
//!
//! ## How a handler blocks
//! A blocking command's handler first tries its non-blocking core under its `Txn`. When
//! nothing is there it:
//! 1. answers as the non-blocking form if `deny(ctx)` (inside MULTI/EXEC or a script —
//!    `Session::deny_blocking`, which EXEC and the script runner set around inner commands);
//! 2. otherwise calls `block(ctx, keys, deadline, args, serve)` **while still holding its
//!    `Txn`**, writes no reply, and returns `Ok(())`. `serve` is the command's non-blocking
//!    core as a `ServeFn`: run with the waiter's db/protocol, it writes the full reply and
//!    returns `Ok(true)`, or writes nothing and returns `Ok(false)` when every key is still
//!    empty (or of another type: Redis leaves such waiters blocked); an `Err` is delivered
//!    to the waiter as its reply (e.g. WRONGTYPE for BLMOVE's destination).
//!
//! Registering under the shard lock closes the lost-wake-up window: a pusher takes that lock
//! after us, so by the time it looks for waiters we are in the registry.
//!
//! ## How waiters are woken
//! After every command `execute_in` checks `has_waiters()` — one relaxed atomic load, the
//! only cost on the hot path when nobody is blocked. If some client waits, `after_command`
//! marks the command's key arguments ready when it is a write (so LPUSH, LMOVE's
//! destination, RENAME, COPY… all wake waiters; a key written elsewhere — MOVE's and COPY's
//! target database, SORT … STORE's destination — is marked by its handler through
//! `signal_written`, and SWAPDB marks every waited key of both databases), then, unless the
//! session denies blocking
//! (i.e. we are inside EXEC or a script, which serve at their own end, as Redis does),
//! `serve_ready` serves: for each ready key, the first waiter in FIFO order is locked, its
//! `serve` runs **on the pushing thread, under the shard locks**, and its reply is stored in
//! the waiter, which is then removed from the registry and notified. The next waiter is
//! tried while the key still has data. A served write (BLMOVE) marks its own keys ready, so
//! chains proceed.
//!
//! ## Never lose an element
//! A waiter's `state` mutex guards Waiting → Done(reply) | Cancelled. The server only pops for
//! a waiter it holds in `Waiting`; a timeout, disconnect, CLIENT KILL or CLIENT UNBLOCK moves
//! it out of `Waiting` under the same mutex (and deregisters it), so nothing is popped for a
//! client that is gone. When a timeout races a serve, the served reply wins (nothing popped
//! is dropped).
//!
//! ## The connection side
//! `conn.rs` sees `Session::blocked` set after a command, drops its gate share, flushes the
//! replies so far and awaits `Waiter::served` against the deadline (`Waiter::deadline`), the
//! client's CLIENT KILL and its socket (EOF = disconnect); then it calls `finish` and appends
//! the reply before continuing with the commands buffered behind the blocking one.
//! Lock order: waiter state → shard locks → registry mutex (the registry mutex is a leaf).

use crate::clients::{ClientHandle, Session};
use crate::error::CmdError;
use crate::table::{flags, CommandSpec};
use crate::{Ctx, ServerState};
use parking_lot::Mutex;
use protocol::args::OwnedArgs;
use protocol::{Args, Reply};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A blocking command's non-blocking core, run for a waiter: `Ok(true)` wrote the reply,
/// `Ok(false)` wrote nothing (keep waiting).
pub type ServeFn = fn(&mut Ctx<'_>, Args<'_>) -> Result<bool, CmdError>;

enum State {
    Waiting,
    Done(Vec<u8>),
    Cancelled,
}

/// One blocked client.
pub struct Waiter {
    pub client: u64,
    db: usize,
    keys: Vec<Vec<u8>>,
    resp3: bool,
    handle: Arc<ClientHandle>,
    args: OwnedArgs,
    serve: ServeFn,
    deadline: Option<Instant>,
    state: Mutex<State>,
    notify: Notify,
}

impl Waiter {
    /// When the wait times out; `None` = forever (timeout 0).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The reply, once the waiter was served (or unblocked).
    pub async fn served(&self) -> Vec<u8> {
        loop {
            if let State::Done(r) = &mut *self.state.lock() {
                return std::mem::take(r);
            }
            // `notify_one` stores a permit, so a serve between the check and here is seen.
            self.notify.notified().await;
        }
    }

    fn null_reply(&self) -> Vec<u8> {
        let mut v = Vec::new();
        Reply::new(&mut v, self.resp3).null_array();
        v
    }
}

/// How a wait ended on the client's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// The deadline passed: reply null (unless served meanwhile).
    Timeout,
    /// The client disconnected or was killed: no reply, nothing popped.
    Gone,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
    by_client: HashMap<u64, Arc<Waiter>>,
    /// Keys with waiters written since the last serve (deduplicated, in signal order).
    ready: Vec<(usize, Vec<u8>)>,
}

/// The registry of blocked clients. One per server (`ServerState::blocking`).
#[derive(Default)]
pub struct Blocking {
    waiting: AtomicUsize,
    inner: Mutex<Inner>,
}

impl Blocking {
    /// Whether any client is blocked: the hot path's only check.
    #[inline]
    pub fn has_waiters(&self) -> bool {
        self.waiting.load(Relaxed) != 0
    }

    /// Blocked clients (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.waiting.load(Relaxed)
    }

    fn register(&self, w: &Arc<Waiter>) {
        let mut g = self.inner.lock();
        for k in &w.keys {
            let q = g.by_key.entry((w.db, k.clone())).or_default();
            // A key named twice (BLPOP a a 0) queues the waiter once.
            if !q.iter().any(|x| Arc::ptr_eq(x, w)) {
                q.push_back(w.clone());
            }
        }
        g.by_client.insert(w.client, w.clone());
        self.waiting.fetch_add(1, Relaxed);
    }

    fn deregister(&self, w: &Arc<Waiter>) {
        let mut g = self.inner.lock();
        for k in &w.keys {
            let key = (w.db, k.clone());
            if let Some(q) = g.by_key.get_mut(&key) {
                q.retain(|x| !Arc::ptr_eq(x, w));
                if q.is_empty() {
                    g.by_key.remove(&key);
                }
            }
        }
        // The client may already wait again (a new waiter): only this one's entry goes.
        if g.by_client
            .get(&w.client)
            .is_some_and(|x| Arc::ptr_eq(x, w))
        {
            g.by_client.remove(&w.client);
            if self.waiting.fetch_sub(1, Relaxed) == 1 {
                g.ready.clear();
            }
        }
    }

    /// Mark `key` of `db` ready if some client waits on it.
    pub fn signal(&self, db: usize, key: &[u8]) {
        let mut g = self.inner.lock();
        let k = (db, key.to_vec());
        if g.by_key.contains_key(&k) && !g.ready.contains(&k) {
            g.ready.push(k);
        }
    }

    /// Mark every key of `db` that some client waits on ready (SWAPDB: any of them may
    /// exist now). Waiters whose key is still empty stay blocked when served.
    pub fn signal_db(&self, db: usize) {
        let mut g = self.inner.lock();
        let Inner { by_key, ready, .. } = &mut *g;
        for k in by_key.keys().filter(|(d, _)| *d == db) {
            if !ready.contains(k) {
                ready.push(k.clone());
            }
        }
    }

    fn front(&self, key: &(usize, Vec<u8>)) -> Option<Arc<Waiter>> {
        self.inner
            .lock()
            .by_key
            .get(key)
            .and_then(|q| q.front().cloned())
    }

    /// End a wait from the client's side. Returns the reply to send: the served reply if a
    /// serve won the race, null for a timeout, nothing for a client that is gone.
    pub fn finish(&self, w: &Arc<Waiter>, how: Finish) -> Option<Vec<u8>> {
        let mut st = w.state.lock();
        match std::mem::replace(&mut *st, State::Cancelled) {
            State::Done(r) => Some(r),
            State::Waiting | State::Cancelled => {
                drop(st);
                self.deregister(w);
                (how == Finish::Timeout).then(|| w.null_reply())
            }
        }
    }

    /// Cluster hand-off: wake every client blocked on a key of database 0 for which `moved`
    /// gives a reply (the `-MOVED` line of the slot's new owner), as Redis Cluster does for
    /// a slot that left. Returns how many were woken.
    pub fn redirect(&self, moved: impl Fn(&[u8]) -> Option<Vec<u8>>) -> usize {
        let waiters: Vec<(Arc<Waiter>, Vec<u8>)> = {
            let g = self.inner.lock();
            let mut out: Vec<(Arc<Waiter>, Vec<u8>)> = Vec::new();
            for ((db, key), ws) in &g.by_key {
                if *db != 0 {
                    continue;
                }
                if let Some(reply) = moved(key) {
                    for w in ws {
                        if !out.iter().any(|(o, _)| Arc::ptr_eq(o, w)) {
                            out.push((w.clone(), reply.clone()));
                        }
                    }
                }
            }
            out
        };
        let mut n = 0;
        for (w, reply) in waiters {
            let mut st = w.state.lock();
            if !matches!(*st, State::Waiting) {
                continue;
            }
            *st = State::Done(reply);
            drop(st);
            self.deregister(&w);
            w.notify.notify_one();
            n += 1;
        }
        n
    }

    /// CLIENT UNBLOCK: wake `client` with a timeout's null or an UNBLOCKED error. Whether it
    /// was blocked.
    pub fn unblock(&self, client: u64, error: bool) -> bool {
        let Some(w) = self.inner.lock().by_client.get(&client).cloned() else {
            return false;
        };
        let mut st = w.state.lock();
        if !matches!(*st, State::Waiting) {
            return false;
        }
        let reply = if error {
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec()
        } else {
            w.null_reply()
        };
        *st = State::Done(reply);
        drop(st);
        self.deregister(&w);
        w.notify.notify_one();
        true
    }
}

/// Whether this session must not block (inside MULTI/EXEC or a script): the handler then
/// answers as the non-blocking form would.
#[inline]
pub fn deny(ctx: &Ctx<'_>) -> bool {
    ctx.sess.deny_blocking
}

/// Block the calling client on `keys` until `deadline` (`None` = forever), to be served by
/// `serve` run over `args` (the command itself). Call while still holding the `Txn` that
/// found the keys empty; write no reply. See the module doc.
pub fn block(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    deadline: Option<Instant>,
    args: Args<'_>,
    serve: ServeFn,
) {
    let w = Arc::new(Waiter {
        client: ctx.sess.id,
        db: ctx.sess.db,
        keys: keys.iter().map(|k| k.to_vec()).collect(),
        resp3: ctx.sess.resp3,
        handle: ctx.sess.handle.clone(),
        args: OwnedArgs::new(args.iter()),
        serve,
        deadline,
        state: Mutex::new(State::Waiting),
        notify: Notify::new(),
    });
    ctx.srv.blocking.register(&w);
    ctx.sess.blocked = Some(w);
}

/// Parse a blocking timeout in seconds (fractions allowed) with Redis's words; `None` = 0 =
/// forever. Like Redis, the value is truncated to whole milliseconds, and values too large
/// for a 64-bit millisecond count read as negative (Redis's cast on x86).
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Instant>, CmdError> {
    let secs = crate::util::parse_float(arg)
        .map_err(|_| CmdError::Static("ERR timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    if !(ms > -9.223_372_036_854_776e18 && ms < 9.223_372_036_854_776e18) || ms <= -1.0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let ms = ms.trunc() as i64;
    if ms <= 0 {
        return Ok(None);
    }
    Instant::now()
        .checked_add(Duration::from_millis(ms as u64))
        .map(Some)
        .ok_or(CmdError::Static("ERR timeout is out of range"))
}

/// Called by `execute_in` after a command when `has_waiters()`: mark a write's keys ready
/// and, outside EXEC/scripts, serve ready keys.
pub fn after_command(srv: &ServerState, sess: &Session, spec: &CommandSpec, args: Args<'_>) {
    if spec.has(flags::WRITE) {
        signal_keys(srv, sess.db, spec, args);
    }
    if !sess.deny_blocking {
        serve_ready(srv);
    }
}

/// Mark a key a command wrote outside its key positions in the caller's database ready:
/// MOVE's and COPY's target database, SORT … STORE's destination. One relaxed load when
/// nobody is blocked; serving happens when the command ends (`after_command`).
pub fn signal_written(srv: &ServerState, db: usize, key: &[u8]) {
    if srv.blocking.has_waiters() {
        srv.blocking.signal(db, key);
    }
}

fn signal_keys(srv: &ServerState, db: usize, spec: &CommandSpec, args: Args<'_>) {
    for i in spec.key_positions(args.len()) {
        srv.blocking.signal(db, args.get(i));
    }
}

thread_local! {
    /// The key whose waiters `serve_ready` is serving on this thread (empty otherwise).
    static SERVING: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// While a waiter is being served: the ready key it is served for. A command waiting on
/// several keys answers for that one only, as Redis serves a blocked XREAD with the stream
/// that was written.
pub fn serving_key<R>(f: impl FnOnce(Option<&[u8]>) -> R) -> R {
    SERVING.with(|s| f(s.borrow().as_deref()))
}

/// Serve waiters of every ready key, FIFO per key, while their commands find data.
pub fn serve_ready(srv: &ServerState) {
    loop {
        let next = {
            let mut g = srv.blocking.inner.lock();
            if g.ready.is_empty() {
                None
            } else {
                Some(g.ready.remove(0))
            }
        };
        let Some(key) = next else { return };
        SERVING.with(|s| *s.borrow_mut() = Some(key.1.clone()));
        while let Some(w) = srv.blocking.front(&key) {
            if !serve_one(srv, &w) {
                break;
            }
        }
        SERVING.with(|s| *s.borrow_mut() = None);
    }
}

/// Try to serve one waiter. False when its command found nothing (stop serving this key).
fn serve_one(srv: &ServerState, w: &Arc<Waiter>) -> bool {
    let mut st = w.state.lock();
    if !matches!(*st, State::Waiting) {
        // Finished meanwhile; `finish`/`unblock` deregister it. Make sure, and go on.
        drop(st);
        srv.blocking.deregister(w);
        return true;
    }
    let mut sess = Session::new(w.handle.clone(), true);
    sess.db = w.db;
    sess.resp3 = w.resp3;
    sess.deny_blocking = true;
    let mut out = Vec::new();
    let args = w.args.args();
    let spec = srv.table.lookup(args.get(0));
    let served = {
        let mut ctx = Ctx {
            srv,
            sess: &mut sess,
            out: Reply::new(&mut out, w.resp3),
        };
        // The pop is a write: logged as the blocking command, which replays (never
        // blocking) to the same pop on the same data.
        let _logged = spec.map(|s| crate::effects::begin(srv, s, args, w.db));
        match (w.serve)(&mut ctx, args) {
            Ok(true) => true,
            Ok(false) => false,
            Err(e) => {
                ctx.out.truncate(0);
                ctx.out.error(&e.message(spec.map_or("", |s| s.name)));
                true
            }
        }
    };
    if let Some(spec) = spec {
        // What the served command did, as keyspace notifications (nothing if it found
        // nothing: its records are dropped).
        crate::notify::after_command(srv, w.db, spec, args);
    }
    if !served {
        return false;
    }
    *st = State::Done(out);
    drop(st);
    srv.blocking.deregister(w);
    w.notify.notify_one();
    if let Some(spec) = spec.filter(|s| s.has(flags::WRITE)) {
        signal_keys(srv, w.db, spec, args);
    }
    true
}
