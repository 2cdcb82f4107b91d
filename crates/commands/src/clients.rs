//! Connected clients: the per-connection `Session` (owned by the connection task) and the
//! shared `ClientHandle` that CLIENT LIST / INFO / KILL read. The handle is updated with
//! relaxed atomics once per batch of commands, so keeping it costs the hot path nothing.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// What other connections may see of, and do to, one client.
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub created: Instant,
    /// ms since `created` of the last command.
    pub last_active_ms: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub qbuf: AtomicUsize,
    pub obuf: AtomicUsize,
    pub last_cmd: Mutex<&'static str>,
    pub name: Mutex<Option<String>>,
    pub lib_name: Mutex<Option<String>>,
    pub lib_ver: Mutex<Option<String>>,
    /// CLIENT NO-EVICT: shown as flag `e`. rcache never evicts clients (there is no
    /// `maxmemory-clients`), so every client is in effect protected; the flag is recorded.
    pub no_evict: AtomicBool,
    /// CLIENT NO-TOUCH: shown as flag `T`; the session's copy is what commands read.
    pub no_touch: AtomicBool,
    /// Set by CLIENT KILL or shutdown; the connection closes at its next wake-up.
    pub killed: AtomicBool,
    pub kill_notify: Notify,
    /// Channel, pattern and shard channel subscriptions (CLIENT LIST `sub=`, `psub=`,
    /// `ssub=`, flag `P`).
    pub subs: AtomicUsize,
    pub psubs: AtomicUsize,
    pub ssubs: AtomicUsize,
    /// Commands queued in MULTI, -1 outside one (CLIENT LIST `multi=`, flag `x`).
    pub multi: AtomicI64,
    /// The client's push channel (`Session::outbox`), for others to deliver to (tracking
    /// redirects): it holds this handle, so unregistering the client clears it.
    pub outbox: Mutex<Option<Arc<crate::pubsub::Outbox>>>,
    /// Another client made this client's push channel (`push_channel`: a RESP3 tracking
    /// REDIRECT target that had none); its connection adopts it when `wake` fires.
    pub outbox_offered: AtomicBool,
    pub wake: Notify,
    /// CLIENT TRACKING as CLIENT LIST shows it: `TRACK_*` bits (flags `t`, `R`, `B`) and
    /// `redir=` (`tracking.rs` keeps them).
    pub tracking: AtomicU8,
    pub redir: AtomicI64,
    /// In MONITOR mode (flag `O`).
    pub monitor: AtomicBool,
    /// Set when the connection is gone (unregistered): a tracking redirect to it is broken.
    pub gone: AtomicBool,
    /// The ACL user the client is authenticated as (CLIENT LIST `user=`; ACL DELUSER
    /// disconnects the clients of the users it deletes).
    pub user: Mutex<Box<[u8]>>,
}

impl ClientHandle {
    /// This client's push channel, made if it has none — Redis delivers invalidations to a
    /// RESP3 REDIRECT target whatever it is doing — and its connection woken to adopt it.
    /// None once the client is gone (a made channel would hold the handle forever).
    pub fn push_channel(self: &Arc<Self>) -> Option<Arc<crate::pubsub::Outbox>> {
        let mut slot = self.outbox.lock();
        // Checked under the lock: `unregister` sets `gone` before it empties the slot.
        if self.gone.load(Relaxed) {
            return None;
        }
        if let Some(o) = slot.as_ref() {
            return Some(o.clone());
        }
        let o = Arc::new(crate::pubsub::Outbox::new(self.clone()));
        *slot = Some(o.clone());
        drop(slot);
        self.outbox_offered.store(true, Relaxed);
        self.wake.notify_one();
        Some(o)
    }
}

/// `ClientHandle::tracking` bits.
pub const TRACK_ON: u8 = 1;
pub const TRACK_BROKEN_REDIR: u8 = 2;
pub const TRACK_BCAST: u8 = 4;

impl ClientHandle {
    pub fn new(id: u64, addr: String, laddr: String, fd: i64) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            qbuf: AtomicUsize::new(0),
            obuf: AtomicUsize::new(0),
            last_cmd: Mutex::new("NULL"),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            subs: AtomicUsize::new(0),
            psubs: AtomicUsize::new(0),
            ssubs: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            outbox: Mutex::new(None),
            outbox_offered: AtomicBool::new(false),
            wake: Notify::new(),
            tracking: AtomicU8::new(0),
            redir: AtomicI64::new(-1),
            monitor: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            user: Mutex::new(b"default"[..].into()),
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill_notify.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }

    /// Seconds since connect.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let since = self.created.elapsed().as_millis() as u64;
        since.saturating_sub(self.last_active_ms.load(Relaxed)) / 1000
    }

    /// CLIENT LIST's `flags=` letters, in Redis's order: `O` monitor, `P` subscribed, `x` in
    /// MULTI, `t` tracking, `R` broken tracking redirect, `B` tracking in BCAST mode, `e`
    /// no-evict, `T` no-touch, `N` when none is set.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.monitor.load(Relaxed) {
            f.push('O');
        }
        if self.subs.load(Relaxed) + self.psubs.load(Relaxed) + self.ssubs.load(Relaxed) > 0 {
            f.push('P');
        }
        if self.multi.load(Relaxed) >= 0 {
            f.push('x');
        }
        let t = self.tracking.load(Relaxed);
        if t & TRACK_ON != 0 {
            f.push('t');
        }
        if t & TRACK_BROKEN_REDIR != 0 {
            f.push('R');
        }
        if t & TRACK_BCAST != 0 {
            f.push('B');
        }
        if self.no_evict.load(Relaxed) {
            f.push('e');
        }
        if self.no_touch.load(Relaxed) {
            f.push('T');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// The client's name, or "" when none was set.
    pub fn name(&self) -> String {
        self.name.lock().clone().unwrap_or_default()
    }

    /// One CLIENT LIST / CLIENT INFO line, Redis 7.2's fields in Redis's order (without the
    /// trailing newline). Fields rcache has no counterpart for (tracking)
    /// show Redis's values for a client that does not use them.
    pub fn info_line(&self) -> String {
        self.info_line_running(None)
    }

    /// `info_line`, with `cmd=` showing `running` (the caller's own line: the connection
    /// records its last command only after each batch).
    pub fn info_line_running(&self, running: Option<&str>) -> String {
        let name = self.name();
        let lib_name = self.lib_name.lock().clone().unwrap_or_default();
        let lib_ver = self.lib_ver.lock().clone().unwrap_or_default();
        let cmd = running.unwrap_or(*self.last_cmd.lock());
        let qbuf = self.qbuf.load(Relaxed);
        let obuf = self.obuf.load(Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl={} oll=0 omem=0 tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            self.age_secs(),
            self.idle_secs(),
            self.flags(),
            self.db.load(Relaxed),
            self.subs.load(Relaxed),
            self.psubs.load(Relaxed),
            self.ssubs.load(Relaxed),
            self.multi.load(Relaxed),
            qbuf,
            obuf,
            qbuf + obuf + 16384,
            cmd,
            String::from_utf8_lossy(&self.user.lock()),
            self.redir.load(Relaxed),
            self.resp.load(Relaxed),
            lib_name,
            lib_ver
        )
    }
}

/// Per-connection state, owned by the connection task.
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    /// CLIENT NO-TOUCH: reads and writes leave keys' LRU/LFU as they were (TOUCH still
    /// touches). `Ctx::txn1`/`Ctx::txn` pass it to the storage `Txn`.
    pub no_touch: bool,
    /// Close after flushing replies (QUIT, CLIENT KILL of self, a fatal error).
    pub close: bool,
    /// Blocking commands answer as their non-blocking form instead of blocking (Redis's
    /// CLIENT_DENY_BLOCKING): set by EXEC and scripts around the commands they run.
    pub deny_blocking: bool,
    /// A function flagged `allow-oom` runs its commands: write commands skip the
    /// `maxmemory` check (`execute_in`), as Redis lets such a function write past it.
    pub allow_oom: bool,
    /// Set by a blocking command that found nothing: the connection parks on this waiter
    /// (`blocking.rs`) before running the next command.
    pub blocked: Option<Arc<crate::blocking::Waiter>>,
    pub handle: Arc<ClientHandle>,
    /// MULTI: the queued commands (`tx.rs`); `None` outside a transaction.
    pub multi: Option<Box<crate::tx::Multi>>,
    /// WATCHed keys (`tx.rs`); dropping it unregisters them (disconnect included).
    pub watching: Option<Box<crate::tx::WatchSet>>,
    /// True while EXEC runs the queued commands: blocking commands must not block
    /// (they answer as on timeout, as in Redis).
    pub in_exec: bool,
    /// Channel and pattern subscriptions (`pubsub.rs`); dropping it unsubscribes
    /// everything (disconnect included).
    pub pubsub: Option<Box<crate::pubsub::Subscriptions>>,
    /// A connection to the cluster port (`cluster_cmd::BusSession`); `None` for clients.
    pub bus: Option<Box<crate::cluster_cmd::BusSession>>,
    /// The front door this session came through (set by the door; RESP by default). Push
    /// features (tracking, MONITOR, CLIENT REPLY) need RESP; RESET keeps the door's protocol.
    pub door: crate::Door,
    /// The push channel (pub/sub messages, invalidations, MONITOR lines): created by the
    /// first feature that needs one (`outbox()`), drained by the connection loop.
    pub outbox: Option<Arc<crate::pubsub::Outbox>>,
    /// CLIENT TRACKING (`tracking.rs`); dropping it turns tracking off (disconnect included).
    pub tracking: Option<Box<crate::tracking::SessionTracking>>,
    /// CLIENT REPLY (`REPLY_*` bits): replies the connection loop drops.
    pub reply: u8,
    /// MONITOR (`monitor.rs`); dropping it stops the feed (disconnect included).
    pub monitor: Option<Box<crate::monitor::Monitoring>>,
    /// A script's session (`redis.call`): MONITOR shows its commands as `lua`, client-side
    /// caching remembers their reads for the script's caller.
    pub in_script: bool,
    /// The ACL user, cached with the user store's epoch (`acl.rs`).
    pub acl: crate::acl::SessionAcl,
}

/// `Session::reply` bits (Redis's CLIENT_REPLY_OFF / _SKIP_NEXT / _SKIP).
pub const REPLY_OFF: u8 = 1;
pub const REPLY_SKIP_NEXT: u8 = 2;
pub const REPLY_SKIP: u8 = 4;

impl Session {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Session {
        Session {
            id: handle.id,
            db: 0,
            resp3: false,
            authenticated,
            no_touch: false,
            close: false,
            deny_blocking: false,
            allow_oom: false,
            blocked: None,
            handle,
            multi: None,
            watching: None,
            in_exec: false,
            pubsub: None,
            bus: None,
            door: crate::Door::Resp,
            outbox: None,
            tracking: None,
            reply: 0,
            monitor: None,
            in_script: false,
            acl: crate::acl::SessionAcl::default_user(),
        }
    }

    /// The session's push channel, created on first use and published on its handle so
    /// other clients can deliver to it (tracking redirects).
    /// (One another client made for it — `ClientHandle::push_channel` — is adopted.)
    pub fn outbox(&mut self) -> Arc<crate::pubsub::Outbox> {
        if let Some(o) = &self.outbox {
            return o.clone();
        }
        let handle = &self.handle;
        let o = handle
            .outbox
            .lock()
            .get_or_insert_with(|| Arc::new(crate::pubsub::Outbox::new(handle.clone())))
            .clone();
        handle.outbox_offered.store(false, Relaxed);
        self.outbox = Some(o.clone());
        o
    }

    /// CLIENT REPLY after a command, as Redis's `resetClient`: a SKIP covers the command
    /// after CLIENT REPLY SKIP only. Returns whether this command's reply is dropped.
    #[inline]
    pub fn reply_dropped(&mut self) -> bool {
        let r = self.reply;
        let dropped = r & (REPLY_OFF | REPLY_SKIP) != 0;
        let mut next = r & !(REPLY_SKIP | REPLY_SKIP_NEXT);
        if r & REPLY_SKIP_NEXT != 0 {
            next |= REPLY_SKIP;
        }
        self.reply = next;
        dropped
    }

    /// A session for in-process callers and tests.
    pub fn detached(id: u64) -> Session {
        Session::new(
            Arc::new(ClientHandle::new(
                id,
                "in-process:0".into(),
                "in-process:0".into(),
                -1,
            )),
            true,
        )
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    pub fn register(&self, h: Arc<ClientHandle>) {
        self.clients.lock().insert(h.id, h);
    }

    pub fn unregister(&self, id: u64) {
        let gone = self.clients.lock().remove(&id);
        if let Some(h) = gone {
            h.gone.store(true, Relaxed);
            // The outbox holds the handle: break the cycle.
            h.outbox.lock().take();
        }
    }

    pub fn count(&self) -> usize {
        self.clients.lock().len()
    }

    /// A snapshot of the handles, in id order.
    pub fn list(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// The highest query and output buffer sizes among clients (INFO clients).
    pub fn max_buffers(&self) -> (usize, usize) {
        self.clients.lock().values().fold((0, 0), |(q, o), c| {
            (q.max(c.qbuf.load(Relaxed)), o.max(c.obuf.load(Relaxed)))
        })
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Ask every client to close (shutdown).
    pub fn kill_all(&self) {
        for c in self.clients.lock().values() {
            c.kill();
        }
    }
}
