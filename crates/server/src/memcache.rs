//! The memcached text protocol door (`--memcache-port`): memcached 1.6's classic commands
//! and meta commands, run directly against the keyspace (database 0).
//!
//! ```text
//!  rbuf ─► protocol::memcache::Parser ─► Request (spans of rbuf) ─► McCodec::run_native
//!        ─► Txn on db 0 (get_mc / set_meta / modify / delete) ─► memcached reply lines
//! ```
//!
//! Every request is `Frame::Native`: nothing goes through the command table, so a get or a
//! set costs one shard lock and no RESP round trip. Values written here are strings with
//! memcached metadata (`storage::McMeta`: client flags, CAS, item bits) that RESP reads as
//! plain strings; a string written through RESP reads here with flags 0, and gets a CAS
//! stamped the first time `gets`/`mg c` asks for one. docs/MEMCACHE.md lists what is
//! supported and every difference from memcached.
//!
//! Choices (documented there too):
//! * A key holding a Redis collection (list, hash…) is a miss for reads and value updates
//!   (get/gets/gat/mg miss; append, prepend, cas, incr, decr, ma find no value), but it is
//!   still a key for whole-key operations: set/replace/ms overwrite it as Redis's SET does,
//!   add fails, delete and touch act on it.
//! * Writes run `Keyspace::ensure_memory` first, as Redis's `denyoom` commands do; a refusal
//!   is `SERVER_ERROR out of memory storing object`.
//! * The value limit is memcached's default item size, 1 MiB, or `proto-max-bulk-len` if
//!   smaller.

use crate::door::{After, Codec, Frame, FrameError};
use base64::Engine as _;
use commands::clients::Session;
use commands::stats::{Mc, MemcacheStats};
use commands::{Door, ServerState};
use protocol::memcache::{
    self as mc, keys_of, GetOp, MetaFlags, MetaOp, Parsed, Parser, Request, SetMode, StoreOp,
};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;
use storage::entry::{MC_FETCHED, MC_STALE, MC_WIN_SENT};
use storage::{next_cas, Expiry, Key, McMeta, ObjType, Txn};

/// The version `version` and `stats` report: the memcached release whose protocol we speak,
/// then ours.
pub const VERSION: &str = concat!("1.6.18 rcache-", env!("CARGO_PKG_VERSION"));
/// memcached's limit between relative and absolute expiry times: 30 days in seconds.
const REL_MAX: i64 = 60 * 60 * 24 * 30;
const OOM: &str = "SERVER_ERROR out of memory storing object";
const NON_NUMERIC: &str = "CLIENT_ERROR cannot increment or decrement non-numeric value";
const AUTH_FAILED: &str = "CLIENT_ERROR authentication failure";
const KEY_DECODE: &str = "CLIENT_ERROR error decoding key";
/// The line a connection over `maxclients` gets before it is closed.
pub const TOO_MANY_CONNECTIONS: &str = "SERVER_ERROR too many open connections";

/// The memcached door's codec: the parser and a buffer for base64-decoded meta keys.
#[derive(Default)]
pub struct McCodec {
    p: Parser,
    kbuf: Vec<u8>,
}

impl McCodec {
    pub fn new() -> McCodec {
        McCodec::default()
    }
}

impl Codec for McCodec {
    const DOOR: Door = Door::Memcache;

    fn set_max_bulk_len(&mut self, n: i64) {
        self.p.max_value = usize::try_from(n).unwrap_or(0).min(mc::DEFAULT_MAX_VALUE);
    }

    #[inline]
    fn parse(&mut self, buf: &[u8], authed: bool) -> Result<Frame, FrameError> {
        match self.p.parse(buf, authed) {
            Ok(Parsed::Incomplete { want }) => Ok(Frame::Incomplete { want }),
            Ok(Parsed::Skipped { consumed }) => Ok(Frame::Empty { consumed }),
            Ok(Parsed::Request { consumed }) => Ok(Frame::Native { consumed }),
            Err(mc::LineTooLong) => Err(FrameError("line too long".into())),
        }
    }

    fn args<'a>(&'a self, _buf: &'a [u8]) -> Args<'a> {
        unreachable!("every memcached request is native")
    }

    fn in_progress(&self) -> bool {
        self.p.in_progress()
    }

    /// CLIENT PAUSE WRITE holds the keyed writes and `flush_all`.
    fn native_is_write(&self, frame: &[u8]) -> bool {
        matches!(self.p.request(), Request::FlushAll { .. })
            || self.native_keys(frame).is_some_and(|k| k.write)
    }

    /// MONITOR shows a memcached request as its command line's words, then its data.
    fn monitor_native(&self, state: &ServerState, sess: &Session, frame: &[u8]) {
        let line = frame.split(|&b| b == b'\n').next().unwrap_or(frame);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut words: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        match self.p.request() {
            Request::Store { data, .. } | Request::Meta { data, .. }
                if !data.of(frame).is_empty() =>
            {
                words.push(data.of(frame));
            }
            _ => {}
        }
        if !words.is_empty() {
            commands::monitor::feed_args(state, sess, 0, &words);
        }
    }

    fn native_keys(&self, frame: &[u8]) -> Option<crate::door::NativeKeys> {
        use crate::door::NativeKeys;
        let one = |key: &[u8], write: bool| {
            Some(NativeKeys {
                keys: vec![key.to_vec()],
                write,
                multi_get: None,
            })
        };
        match self.p.request() {
            Request::Store { key, .. } => one(key.of(frame), true),
            Request::Delete { key, .. }
            | Request::Arith { key, .. }
            | Request::Touch { key, .. } => one(key.of(frame), true),
            Request::Get { op, exptime, keys } => {
                let word: &[u8] = match op {
                    GetOp::Get => b"get",
                    GetOp::Gets => b"gets",
                    GetOp::Gat => b"gat",
                    GetOp::Gats => b"gats",
                };
                let mut head = word.to_vec();
                if matches!(op, GetOp::Gat | GetOp::Gats) {
                    head.push(b' ');
                    head.extend_from_slice(exptime.to_string().as_bytes());
                }
                Some(NativeKeys {
                    keys: keys_of(keys.of(frame)).map(|k| k.to_vec()).collect(),
                    write: matches!(op, GetOp::Gat | GetOp::Gats),
                    multi_get: Some(head),
                })
            }
            Request::Meta { op, key, .. } if *op != MetaOp::Noop => {
                let raw = key.of(frame);
                let key = if self.p.meta.has(b'b') {
                    match base64::engine::general_purpose::STANDARD.decode(raw) {
                        Ok(k) => k,
                        Err(_) => return None, // answered here: CLIENT_ERROR
                    }
                } else {
                    raw.to_vec()
                };
                // mg may touch or vivify; only md/ms/ma are sure writes, but a frozen
                // slot's reads are served here anyway, so mg counts as a write only when
                // it changes something (T, N, E flags).
                let write = match op {
                    MetaOp::Get => {
                        self.p.meta.has(b'T') || self.p.meta.has(b'N') || self.p.meta.has(b'E')
                    }
                    _ => true,
                };
                one(&key, write)
            }
            Request::TooLarge { .. } | Request::Error { .. } => None,
            _ => None,
        }
    }

    fn run_native(
        &mut self,
        state: &ServerState,
        sess: &mut Session,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> After {
        flush_if_due(state);
        let req = self.p.request().clone();
        // While the start-up load runs, data requests are refused (RESP answers LOADING): a
        // write now would be overwritten by the load, or missed by the log.
        if state.persistence.loading.load(Relaxed)
            && !matches!(
                req,
                Request::Version
                    | Request::Quit
                    | Request::Verbosity { .. }
                    | Request::Stats { .. }
                    | Request::Http
                    | Request::Error { .. }
            )
        {
            out.extend_from_slice(b"SERVER_ERROR LOADING the dataset is being loaded\r\n");
            return After::Continue;
        }
        // The Redis event this request's writes publish as (keyspace notifications).
        let event = match &req {
            Request::Store {
                op: mc::StoreOp::Append | mc::StoreOp::Prepend,
                ..
            } => "append",
            Request::Arith { .. } => "incrby",
            Request::Touch { .. } | Request::Get { .. } => "expire",
            _ => "set",
        };
        // An ACL user with restrictions: each request is checked as the Redis command it
        // does (one relaxed load for an unrestricted user).
        if sess.authenticated
            && !sess.acl.free_at(state.acl.epoch())
            && self.acl_refuse(state, sess, frame, out)
        {
            return After::Continue;
        }
        let mut x = Exec {
            st: state,
            ms: &state.stats.memcache,
            frame,
            out,
        };
        match req {
            Request::Store {
                op,
                key,
                flags,
                exptime,
                cas,
                noreply,
                data,
            } => {
                if !sess.authenticated {
                    x.auth(sess, data.of(frame));
                } else {
                    x.store(
                        op,
                        key.of(frame),
                        flags,
                        exptime,
                        cas,
                        noreply,
                        data.of(frame),
                    );
                }
            }
            Request::Get { op, exptime, keys } => x.get(op, exptime, keys.of(frame)),
            Request::Delete { key, noreply } => x.delete(key.of(frame), noreply),
            Request::Arith {
                incr,
                key,
                delta,
                noreply,
            } => x.arith(incr, key.of(frame), delta, noreply),
            Request::Touch {
                key,
                exptime,
                noreply,
            } => x.touch(key.of(frame), exptime, noreply),
            Request::FlushAll { delay, noreply } => x.flush_all(delay, noreply),
            Request::Version => {
                x.line("VERSION ");
                x.line(VERSION);
                x.line("\r\n");
            }
            Request::Verbosity { noreply } => x.reply(noreply, "OK"),
            Request::Quit => return After::Close,
            Request::Stats { args } => x.stats(args.of(frame), sess, self.p.max_value),
            Request::CacheMemlimit { megabytes, noreply } => x.cache_memlimit(megabytes, noreply),
            Request::Http => return After::Abort,
            Request::Meta { op, key, data } => {
                x.ms.incr(Mc::CmdMeta);
                let flags = &self.p.meta;
                x.meta(op, key.of(frame), data.of(frame), flags, &mut self.kbuf);
            }
            Request::TooLarge {
                key,
                drops_old,
                noreply,
                meta,
            } => {
                x.ms.incr(Mc::StoreTooLarge);
                if drops_old {
                    // memcached drops the old value, so a failed set never leaves it stale.
                    let k = state.ks.key(key.of(frame));
                    commands::effects::mc_key(state, k.bytes);
                    state.ks.txn1(0, &k).delete(&k);
                    commands::effects::mc_done();
                }
                let _ = meta;
                x.reply(noreply, mc::TOO_LARGE);
            }
            Request::Error { msg, noreply } => x.reply(noreply, msg),
        }
        commands::notify::after_door(state, event);
        commands::effects::mc_done();
        After::Continue
    }

    fn acl_refuse(
        &mut self,
        state: &ServerState,
        sess: &mut Session,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let req = self.p.request();
        match acl_refusal(state, sess, req, frame, &self.p.meta) {
            Some(msg) => {
                if !noreply_of(req) {
                    out.extend_from_slice(msg.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                true
            }
            None => false,
        }
    }

    fn protocol_error(&mut self, msg: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"CLIENT_ERROR ");
        out.extend_from_slice(msg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether a request asked for no reply (a refusal is then silent too, as memcached
/// suppresses every reply to `noreply`).
fn noreply_of(req: &Request) -> bool {
    match req {
        Request::Store { noreply, .. }
        | Request::Delete { noreply, .. }
        | Request::Arith { noreply, .. }
        | Request::Touch { noreply, .. }
        | Request::FlushAll { noreply, .. }
        | Request::CacheMemlimit { noreply, .. }
        | Request::TooLarge { noreply, .. }
        | Request::Error { noreply, .. } => *noreply,
        _ => false,
    }
}

/// The ACL refusal of a request, as `CLIENT_ERROR NOPERM …`: each request is checked as
/// the Redis command it does (docs/MEMCACHE.md): get/gets as MGET, gat/gats as GETEX,
/// set/add/replace/cas as SET, append/prepend as APPEND, incr/decr as INCRBY/DECRBY,
/// delete as DEL, touch as EXPIRE, flush_all as FLUSHDB, stats as INFO, cache_memlimit
/// as CONFIG SET; meta commands likewise (mg as GET, or GETEX with T; with N as SET and
/// GET (or GETEX) both: it answers an existing item).
fn acl_refusal(
    state: &ServerState,
    sess: &mut Session,
    req: &Request,
    frame: &[u8],
    meta: &MetaFlags,
) -> Option<String> {
    use commands::acl::check_as;
    let r = match req {
        Request::Store { op, key, .. } => {
            let name = match op {
                StoreOp::Append | StoreOp::Prepend => "append",
                _ => "set",
            };
            check_as(state, sess, name, &[key.of(frame)])
        }
        Request::Get { op, keys, .. } => {
            let keys: Vec<&[u8]> = keys_of(keys.of(frame)).collect();
            match op {
                GetOp::Get | GetOp::Gets => check_as(state, sess, "mget", &keys),
                GetOp::Gat | GetOp::Gats => keys
                    .iter()
                    .try_for_each(|k| check_as(state, sess, "getex", &[k])),
            }
        }
        Request::Delete { key, .. } => check_as(state, sess, "del", &[key.of(frame)]),
        Request::Arith { incr, key, .. } => {
            let name = if *incr { "incrby" } else { "decrby" };
            check_as(state, sess, name, &[key.of(frame)])
        }
        Request::Touch { key, .. } => check_as(state, sess, "expire", &[key.of(frame)]),
        Request::FlushAll { .. } => check_as(state, sess, "flushdb", &[]),
        Request::Stats { .. } => check_as(state, sess, "info", &[]),
        Request::CacheMemlimit { .. } => check_as(state, sess, "config", &[b"set"]),
        Request::TooLarge {
            key,
            drops_old: true,
            ..
        } => check_as(state, sess, "set", &[key.of(frame)]),
        Request::Meta { op, key, .. } if *op != MetaOp::Noop => {
            let raw = key.of(frame);
            let decoded;
            let key = if meta.has(b'b') {
                match base64::engine::general_purpose::STANDARD.decode(raw) {
                    Ok(k) => {
                        decoded = k;
                        &decoded[..]
                    }
                    // The request answers its own decoding error, touching nothing.
                    Err(_) => return None,
                }
            } else {
                raw
            };
            let name = match op {
                // N creates the item when missing, and answers it when not: the user must
                // be allowed both (a write-only user reads nothing, as SET … GET).
                MetaOp::Get if meta.vivify.is_some() => {
                    let read = if meta.ttl.is_some() { "getex" } else { "get" };
                    return check_as(state, sess, "set", &[key])
                        .and_then(|()| check_as(state, sess, read, &[key]))
                        .err()
                        .map(|m| format!("CLIENT_ERROR {m}"));
                }
                MetaOp::Get if meta.ttl.is_some() => "getex",
                MetaOp::Get | MetaOp::Debug => "get",
                MetaOp::Set => match meta.set_mode() {
                    SetMode::Append | SetMode::Prepend => "append",
                    _ => "set",
                },
                MetaOp::Delete => "del",
                MetaOp::Arith if meta.incr() => "incrby",
                MetaOp::Arith => "decrby",
                MetaOp::Noop => return None,
            };
            check_as(state, sess, name, &[key])
        }
        _ => Ok(()),
    };
    r.err().map(|m| format!("CLIENT_ERROR {m}"))
}

/// Run a delayed `flush_all` whose time has come (checked before every memcached request
/// and by the cron).
pub fn flush_if_due(state: &ServerState) {
    let flag = &state.stats.memcache.flush_at;
    let at = flag.load(Relaxed);
    if at != 0 && state.ks.now() >= at && flag.compare_exchange(at, 0, Relaxed, Relaxed).is_ok() {
        // Logged with every shard locked, so no write slips between the flush and its record.
        state.ks.flush_locked(0, || {
            commands::effects::emit_direct(state, 0, &[b"FLUSHDB"])
        });
    }
}

/// A memcached expiry time, resolved against `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ttl {
    Never,
    At(u64),
    /// Negative, or an absolute time already past: the item is gone at once.
    Gone,
}

/// Give key `k` the expiry `ttl` (deleting it when already gone); whether the key existed.
fn apply_ttl(t: &mut storage::Txn<'_>, k: &storage::Key<'_>, ttl: Ttl) -> bool {
    match ttl {
        Ttl::Gone => t.delete(k),
        Ttl::Never => t.set_expire(k, 0),
        Ttl::At(at) => t.set_expire(k, at),
    }
}

/// memcached's rule: 0 = never; up to 30 days = seconds from now; more = a unix time;
/// negative = already expired.
fn ttl_of(exptime: i64, now_ms: u64) -> Ttl {
    if exptime == 0 {
        Ttl::Never
    } else if exptime < 0 {
        Ttl::Gone
    } else if exptime <= REL_MAX {
        Ttl::At(now_ms + exptime as u64 * 1000)
    } else {
        let at = exptime as u64 * 1000;
        if at <= now_ms {
            Ttl::Gone
        } else {
            Ttl::At(at)
        }
    }
}

impl Ttl {
    fn expiry(self) -> Expiry {
        match self {
            Ttl::At(at) => Expiry::At(at),
            _ => Expiry::Clear,
        }
    }
}

/// Seconds left before `expire_at` (0 = no TTL): memcached's `t` / `exp=` figure, -1 = none.
fn ttl_left(expire_at: u64, now: u64) -> i64 {
    if expire_at == 0 {
        -1
    } else {
        (expire_at.saturating_sub(now).div_ceil(1000)) as i64
    }
}

/// memcached's `safe_strtoull` over a stored value (incr/decr): optional leading
/// whitespace, digits, then whitespace or the end.
fn parse_counter(v: &[u8]) -> Option<u64> {
    let s = v.iter().position(|c| !c.is_ascii_whitespace())?;
    let digits = v[s..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let rest = &v[s + digits..];
    if rest.first().is_some_and(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    mc::parse_u64(&v[s..s + digits])
}

/// One request's execution context.
struct Exec<'a> {
    st: &'a ServerState,
    ms: &'a MemcacheStats,
    frame: &'a [u8],
    out: &'a mut Vec<u8>,
}

impl<'a> Exec<'a> {
    #[inline]
    fn line(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    #[inline]
    fn num(&mut self, n: u64) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// Answer one line unless `noreply`.
    fn reply(&mut self, noreply: bool, s: &str) {
        if !noreply {
            self.line(s);
            self.line("\r\n");
        }
    }

    /// Lock `k` for a request that may change it: with the log on, the key's resulting
    /// value is what gets logged (`commands::effects::mc_key`).
    fn txn(&self, k: &Key) -> Txn<'a> {
        commands::effects::mc_key(self.st, k.bytes);
        self.st.ks.txn1(0, k)
    }

    /// Before authentication: a `set` whose data is `<user> <password>`, an ACL user. A
    /// name that is no ACL user (memcached clients send some name; before ACL users
    /// rcache ignored it), or data without a space, is the default user's password.
    fn auth(&mut self, sess: &mut Session, data: &[u8]) {
        self.ms.incr(Mc::AuthCmds);
        let (user, pass) = match data.iter().position(|&c| c == b' ') {
            Some(i) if self.st.acl.user(&data[..i]).is_some() => (&data[..i], &data[i + 1..]),
            Some(i) => (&b"default"[..], &data[i + 1..]),
            None => (&b"default"[..], data),
        };
        if commands::acl::authenticate_door(self.st, sess, user, pass).is_ok() {
            self.line("STORED\r\n");
        } else {
            self.ms.incr(Mc::AuthErrors);
            self.line(AUTH_FAILED);
            self.line("\r\n");
        }
    }

    /// set / add / replace / append / prepend / cas.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        op: StoreOp,
        key: &[u8],
        flags: u32,
        exptime: i64,
        cas: u64,
        noreply: bool,
        data: &[u8],
    ) {
        self.ms.incr(Mc::CmdSet);
        if self.st.ks.ensure_memory().is_err() {
            self.ms.incr(Mc::StoreNoMemory);
            return self.reply(noreply, OOM);
        }
        let k = self.st.ks.key(key);
        let mut t = self.txn(&k);
        // (exists, is a string, its metadata)
        let cur = t
            .peek(&k)
            .map(|e| (e.obj_type() == ObjType::String, e.mc_meta()));
        let ttl = ttl_of(exptime, t.now());
        let stored = match op {
            StoreOp::Set => true,
            StoreOp::Add => cur.is_none(),
            StoreOp::Replace => cur.is_some(),
            StoreOp::Append | StoreOp::Prepend => {
                if !matches!(cur, Some((true, _))) {
                    drop(t);
                    return self.reply(noreply, "NOT_STORED");
                }
                // The command's flags and exptime are ignored, as memcached does.
                t.modify(&k, |e| {
                    if op == StoreOp::Append {
                        e.append(data);
                    } else {
                        let mut v = Vec::with_capacity(data.len() + e.value_len());
                        v.extend_from_slice(data);
                        v.extend_from_slice(e.value());
                        let m = e.mc_meta();
                        e.set_value_meta(
                            &v,
                            McMeta {
                                cas: 0,
                                bits: 0,
                                ..m
                            },
                        );
                    }
                });
                drop(t);
                self.ms.incr(Mc::TotalItems);
                return self.reply(noreply, "STORED");
            }
            StoreOp::Cas => match cur {
                Some((true, m)) if m.cas != 0 && m.cas == cas => {
                    self.ms.incr(Mc::CasHits);
                    true
                }
                Some((true, _)) => {
                    drop(t);
                    self.ms.incr(Mc::CasBadval);
                    return self.reply(noreply, "EXISTS");
                }
                _ => {
                    drop(t);
                    self.ms.incr(Mc::CasMisses);
                    return self.reply(noreply, "NOT_FOUND");
                }
            },
        };
        if !stored {
            drop(t);
            return self.reply(noreply, "NOT_STORED");
        }
        if ttl == Ttl::Gone {
            t.delete(&k);
        } else {
            let meta = McMeta {
                flags,
                cas: 0,
                bits: 0,
            };
            t.set_meta(&k, data, meta, ttl.expiry());
        }
        drop(t);
        self.ms.incr(Mc::TotalItems);
        self.reply(noreply, "STORED");
    }

    /// get / gets / gat / gats.
    fn get(&mut self, op: GetOp, exptime: i64, keys: &[u8]) {
        let touch = matches!(op, GetOp::Gat | GetOp::Gats);
        let with_cas = op.with_cas();
        for key in keys_of(keys) {
            self.ms.incr(Mc::CmdGet);
            if touch {
                self.ms.incr(Mc::CmdTouch);
            }
            let k = self.st.ks.key(key);
            let mut t = self.txn(&k);
            let expired0 = t.expired_count(&k);
            let out = &mut *self.out;
            let hit = t
                .get_mc(&k, |v| {
                    let e = v.entry();
                    if e.obj_type() != ObjType::String {
                        return false;
                    }
                    let mut m = e.mc_meta();
                    if with_cas && m.cas == 0 {
                        m.cas = next_cas();
                        v.set_meta(m);
                    }
                    let e = v.entry();
                    let is_meta = e.enc() == storage::Enc::Meta;
                    let mut n = itoa::Buffer::new();
                    out.reserve(key.len() + e.value_len() + 64);
                    out.extend_from_slice(b"VALUE ");
                    out.extend_from_slice(key);
                    out.push(b' ');
                    out.extend_from_slice(n.format(m.flags).as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(n.format(e.value_len()).as_bytes());
                    if with_cas {
                        out.push(b' ');
                        out.extend_from_slice(n.format(m.cas).as_bytes());
                    }
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(e.value());
                    out.extend_from_slice(b"\r\n");
                    // Plain strings gain no prefix just to remember a fetch.
                    if m.bits & MC_FETCHED == 0 && is_meta {
                        v.set_meta(McMeta {
                            bits: m.bits | MC_FETCHED,
                            ..m
                        });
                    }
                    true
                })
                .unwrap_or(false);
            if hit {
                self.ms.incr(Mc::GetHits);
                if touch {
                    self.ms.incr(Mc::TouchHits);
                    let now = t.now();
                    apply_ttl(&mut t, &k, ttl_of(exptime, now));
                }
            } else {
                self.ms.incr(Mc::GetMisses);
                if touch {
                    self.ms.incr(Mc::TouchMisses);
                }
                if t.expired_count(&k) != expired0 {
                    self.ms.incr(Mc::GetExpired);
                }
            }
        }
        self.line("END\r\n");
    }

    fn delete(&mut self, key: &[u8], noreply: bool) {
        let k = self.st.ks.key(key);
        let found = self.txn(&k).delete(&k);
        if found {
            self.ms.incr(Mc::DeleteHits);
            self.reply(noreply, "DELETED");
        } else {
            self.ms.incr(Mc::DeleteMisses);
            self.reply(noreply, "NOT_FOUND");
        }
    }

    /// incr / decr: 64-bit unsigned; incr wraps, decr stops at 0.
    fn arith(&mut self, incr: bool, key: &[u8], delta: u64, noreply: bool) {
        if self.st.ks.ensure_memory().is_err() {
            self.ms.incr(Mc::StoreNoMemory);
            return self.reply(noreply, OOM);
        }
        let k = self.st.ks.key(key);
        let r = apply_delta(&mut self.txn(&k), &k, incr, delta, None);
        let (hits, misses) = if incr {
            (Mc::IncrHits, Mc::IncrMisses)
        } else {
            (Mc::DecrHits, Mc::DecrMisses)
        };
        match r {
            Delta::Done(n, _) => {
                self.ms.incr(hits);
                if !noreply {
                    self.num(n);
                    self.line("\r\n");
                }
            }
            Delta::Missing => {
                self.ms.incr(misses);
                self.reply(noreply, "NOT_FOUND");
            }
            Delta::NonNumeric => self.reply(noreply, NON_NUMERIC),
            Delta::CasMismatch => unreachable!("no CAS given"),
        }
    }

    fn touch(&mut self, key: &[u8], exptime: i64, noreply: bool) {
        self.ms.incr(Mc::CmdTouch);
        let k = self.st.ks.key(key);
        let mut t = self.txn(&k);
        let now = t.now();
        let found = apply_ttl(&mut t, &k, ttl_of(exptime, now));
        drop(t);
        if found {
            self.ms.incr(Mc::TouchHits);
            self.reply(noreply, "TOUCHED");
        } else {
            self.ms.incr(Mc::TouchMisses);
            self.reply(noreply, "NOT_FOUND");
        }
    }

    /// flush_all [delay]: database 0 now, or at `delay` (memcached's expiry rules).
    fn flush_all(&mut self, delay: i64, noreply: bool) {
        self.ms.incr(Mc::CmdFlush);
        let now = self.st.ks.now();
        match ttl_of(delay, now) {
            Ttl::At(at) => self.ms.flush_at.store(at, Relaxed),
            Ttl::Never | Ttl::Gone => {
                self.ms.flush_at.store(0, Relaxed);
                let st = self.st;
                st.ks
                    .flush_locked(0, || commands::effects::emit_direct(st, 0, &[b"FLUSHDB"]));
            }
        }
        self.reply(noreply, "OK");
    }

    /// `cache_memlimit <MB>`: memcached's memory limit is rcache's `maxmemory`, so this
    /// sets that setting as CONFIG SET maxmemory does (the parser checked the range).
    fn cache_memlimit(&mut self, megabytes: u64, noreply: bool) {
        let bytes = (megabytes << 20).to_string();
        match self.st.settings.set("maxmemory", &bytes, false) {
            Ok(()) => self.reply(noreply, "OK"),
            Err(_) => self.reply(
                noreply,
                "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust",
            ),
        }
    }

    /// The meta commands.
    fn meta(&mut self, op: MetaOp, raw_key: &[u8], data: &[u8], f: &MetaFlags, kbuf: &mut Vec<u8>) {
        if op == MetaOp::Noop {
            return self.line("MN\r\n");
        }
        let key: &[u8] = if f.has(b'b') {
            kbuf.clear();
            match base64::engine::general_purpose::STANDARD.decode_vec(raw_key, kbuf) {
                Ok(()) if !kbuf.is_empty() && kbuf.len() <= mc::MAX_KEY_LEN => {}
                _ => {
                    self.line(KEY_DECODE);
                    return self.line("\r\n");
                }
            }
            &kbuf[..]
        } else {
            raw_key
        };
        let mut m = MetaReply {
            raw_key,
            f,
            frame: self.frame,
        };
        match op {
            MetaOp::Get => self.meta_get(key, &mut m),
            MetaOp::Set => self.meta_set(key, data, &mut m),
            MetaOp::Delete => self.meta_delete(key, &mut m),
            MetaOp::Arith => self.meta_arith(key, &mut m),
            MetaOp::Debug => self.meta_debug(key),
            MetaOp::Noop => unreachable!(),
        }
    }

    /// Answer a meta status code (`HD`, `NS`, `EX`, `NF`, `EN`) with the flags every meta
    /// reply echoes (`O`, `k`), unless `quiet`.
    fn meta_status(&mut self, code: &str, m: &MetaReply<'_>, quiet: bool) {
        if quiet {
            return;
        }
        self.line(code);
        m.echo(self.out);
        self.line("\r\n");
    }

    fn meta_get(&mut self, key: &[u8], m: &mut MetaReply<'_>) {
        let f = m.f;
        self.ms.incr(Mc::CmdGet);
        // Room for an autovivified item is made before the key's shard is locked:
        // eviction locks shards itself.
        let mem_ok = m.f.vivify.is_none() || self.st.ks.ensure_memory().is_ok();
        let k = self.st.ks.key(key);
        let mut t = self.txn(&k);
        let now = t.now();
        let lfu = self.st.settings.evict.policy().is_lfu();
        let new_ttl = f.ttl.map(|x| ttl_of(x, now));
        let mut hit = false;
        let mut vivified = false;
        // The item's line is written inside the lookup (the value is borrowed there).
        let body = |v: &mut storage::McView<'_>, out: &mut Vec<u8>, fresh: bool| {
            let e = v.entry();
            if e.obj_type() != ObjType::String {
                return false;
            }
            let mut meta = e.mc_meta();
            let before = meta;
            if f.has(b'c') && meta.cas == 0 {
                meta.cas = f.new_cas.unwrap_or_else(next_cas);
            }
            let expire_at = match new_ttl {
                Some(Ttl::At(at)) => at,
                Some(_) => 0,
                None => e.expire_at(),
            };
            // Win / stale / token-sent decisions, as memcached makes them.
            let sent = meta.bits & MC_WIN_SENT != 0;
            let stale = meta.bits & MC_STALE != 0;
            let mut win = fresh;
            if !sent {
                if stale {
                    win = true;
                }
                if let Some(r) = f.recache {
                    if expire_at != 0 && ttl_left(expire_at, now) < r {
                        win = true;
                    }
                }
            }
            if win {
                meta.bits |= MC_WIN_SENT;
            }
            let h = meta.bits & MC_FETCHED != 0;
            meta.bits |= MC_FETCHED;
            let mut n = itoa::Buffer::new();
            if f.has(b'v') {
                out.extend_from_slice(b"VA ");
                out.extend_from_slice(n.format(e.value_len()).as_bytes());
            } else {
                out.extend_from_slice(b"HD");
            }
            for &(c, tok) in &f.order {
                let mut flag = |s: &[u8]| {
                    out.push(b' ');
                    out.push(c);
                    out.extend_from_slice(s);
                };
                match c {
                    b'c' => flag(n.format(meta.cas).as_bytes()),
                    b'f' => flag(n.format(meta.flags).as_bytes()),
                    b'h' => flag(if h && !fresh { b"1" } else { b"0" }),
                    b'l' => {
                        let idle = if lfu || fresh {
                            0
                        } else {
                            storage::evict::idle_ms(e.lru(), now) / 1000
                        };
                        flag(n.format(idle).as_bytes())
                    }
                    b's' => flag(n.format(e.value_len()).as_bytes()),
                    b't' => flag(n.format(ttl_left(expire_at, now)).as_bytes()),
                    b'k' => {
                        flag(m.raw_key);
                        if f.has(b'b') {
                            out.extend_from_slice(b" b");
                        }
                    }
                    b'O' => flag(tok.of(m.frame)),
                    _ => {}
                }
            }
            if sent {
                out.extend_from_slice(b" Z");
            }
            if stale {
                out.extend_from_slice(b" X");
            }
            if win {
                out.extend_from_slice(b" W");
            }
            out.extend_from_slice(b"\r\n");
            if f.has(b'v') {
                out.extend_from_slice(e.value());
                out.extend_from_slice(b"\r\n");
            }
            if meta != before {
                v.set_meta(meta);
            }
            true
        };
        let out = &mut *self.out;
        let mark = out.len();
        let found = t.get_mc(&k, |v| body(v, out, false));
        match found {
            Some(true) => hit = true,
            Some(false) => {
                // A collection: a miss, and nothing to vivify over.
                out.truncate(mark);
            }
            None => {
                if let Some(n) = f.vivify {
                    // Autovivify: an empty item whose TTL is N's; this client wins.
                    if mem_ok {
                        let ttl = ttl_of(n, now);
                        let meta = McMeta::default();
                        t.set_meta(&k, b"", meta, ttl.expiry());
                        vivified = t.get_mc(&k, |v| body(v, out, true)) == Some(true);
                        self.ms.incr(Mc::TotalItems);
                    }
                }
            }
        }
        if hit {
            self.ms.incr(Mc::GetHits);
            if let Some(ttl) = new_ttl {
                self.ms.incr(Mc::CmdTouch);
                self.ms.incr(Mc::TouchHits);
                apply_ttl(&mut t, &k, ttl);
            }
        } else {
            self.ms.incr(Mc::GetMisses);
        }
        drop(t);
        if !hit && !vivified {
            self.meta_status("EN", m, f.has(b'q'));
        }
    }

    fn meta_set(&mut self, key: &[u8], data: &[u8], m: &mut MetaReply<'_>) {
        let f = m.f;
        self.ms.incr(Mc::CmdSet);
        if self.st.ks.ensure_memory().is_err() {
            self.ms.incr(Mc::StoreNoMemory);
            return self.line("SERVER_ERROR out of memory storing object\r\n");
        }
        let k = self.st.ks.key(key);
        let mut t = self.txn(&k);
        let now = t.now();
        let cur = t
            .peek(&k)
            .map(|e| (e.obj_type() == ObjType::String, e.mc_meta()));
        let mode = f.set_mode();
        let ok = match mode {
            SetMode::Set => true,
            SetMode::Add => cur.is_none(),
            SetMode::Replace => cur.is_some(),
            SetMode::Append | SetMode::Prepend => matches!(cur, Some((true, _))),
        };
        if !ok {
            drop(t);
            return self.meta_status("NS", m, false);
        }
        let mut bits = 0;
        if let Some(c) = f.compare_cas {
            match cur {
                None => {
                    drop(t);
                    self.ms.incr(Mc::CasMisses);
                    return self.meta_status("NF", m, false);
                }
                Some((_, cm)) if cm.cas != 0 && cm.cas == c => self.ms.incr(Mc::CasHits),
                // Invalidate mode: an older CAS still stores, marking the item stale.
                Some((_, cm)) if f.has(b'I') && cm.cas != 0 && c < cm.cas => {
                    bits = MC_STALE | (cm.bits & MC_WIN_SENT);
                }
                Some(_) => {
                    drop(t);
                    self.ms.incr(Mc::CasBadval);
                    return self.meta_status("EX", m, false);
                }
            }
        }
        let cas = match f.new_cas {
            Some(c) => c,
            None if f.has(b'c') => next_cas(),
            None => 0,
        };
        let mut cas_out = cas;
        match mode {
            SetMode::Append | SetMode::Prepend => {
                t.modify(&k, |e| {
                    let old = e.mc_meta();
                    let mut v = Vec::with_capacity(data.len() + e.value_len());
                    if mode == SetMode::Append {
                        v.extend_from_slice(e.value());
                        v.extend_from_slice(data);
                    } else {
                        v.extend_from_slice(data);
                        v.extend_from_slice(e.value());
                    }
                    e.set_value_meta(
                        &v,
                        McMeta {
                            flags: old.flags,
                            cas,
                            bits,
                        },
                    );
                });
                if let Some(x) = f.ttl {
                    apply_ttl(&mut t, &k, ttl_of(x, now));
                }
            }
            _ => {
                let ttl = ttl_of(f.ttl.unwrap_or(0), now);
                if ttl == Ttl::Gone {
                    t.delete(&k);
                    cas_out = cas;
                } else {
                    let meta = McMeta {
                        flags: f.client_flags.unwrap_or(0),
                        cas,
                        bits,
                    };
                    t.set_meta(&k, data, meta, ttl.expiry());
                }
            }
        }
        drop(t);
        self.ms.incr(Mc::TotalItems);
        if f.has(b'q') {
            return;
        }
        self.line("HD");
        m.echo_with(self.out, |c, out| {
            if c == b'c' {
                out.extend_from_slice(b" c");
                out.extend_from_slice(itoa::Buffer::new().format(cas_out).as_bytes());
            }
        });
        self.line("\r\n");
    }

    fn meta_delete(&mut self, key: &[u8], m: &mut MetaReply<'_>) {
        let f = m.f;
        let k = self.st.ks.key(key);
        let mut t = self.txn(&k);
        let now = t.now();
        let Some((is_str, cur)) = t
            .peek(&k)
            .map(|e| (e.obj_type() == ObjType::String, e.mc_meta()))
        else {
            drop(t);
            self.ms.incr(Mc::DeleteMisses);
            return self.meta_status("NF", m, false);
        };
        if let Some(c) = f.compare_cas {
            if cur.cas == 0 || cur.cas != c {
                drop(t);
                self.ms.incr(Mc::CasBadval);
                return self.meta_status("EX", m, false);
            }
        }
        if is_str && (f.has(b'I') || f.has(b'x')) {
            // Keep the item: stale (I, its win token re-armed) and/or emptied (x).
            let cas = f.new_cas.unwrap_or(0);
            t.modify(&k, |e| {
                let mut meta = e.mc_meta();
                meta.cas = cas;
                if f.has(b'I') {
                    meta.bits = (meta.bits | MC_STALE) & !MC_WIN_SENT;
                }
                if f.has(b'x') {
                    meta.flags = 0;
                    e.set_value_meta(b"", meta);
                } else {
                    e.set_mc_meta(meta);
                }
            });
            if let Some(x) = f.ttl {
                apply_ttl(&mut t, &k, ttl_of(x, now));
            }
        } else {
            t.delete(&k);
        }
        drop(t);
        self.ms.incr(Mc::DeleteHits);
        self.meta_status("HD", m, f.has(b'q'));
    }

    fn meta_arith(&mut self, key: &[u8], m: &mut MetaReply<'_>) {
        let f = m.f;
        if self.st.ks.ensure_memory().is_err() {
            self.ms.incr(Mc::StoreNoMemory);
            return self.line("SERVER_ERROR out of memory storing object\r\n");
        }
        let incr = f.incr();
        let (hits, misses) = if incr {
            (Mc::IncrHits, Mc::IncrMisses)
        } else {
            (Mc::DecrHits, Mc::DecrMisses)
        };
        let k = self.st.ks.key(key);
        let mut t = self.txn(&k);
        let now = t.now();
        let new_cas = f
            .new_cas
            .unwrap_or_else(|| if f.has(b'c') { next_cas() } else { 0 });
        let mut r = apply_delta(
            &mut t,
            &k,
            incr,
            f.delta.unwrap_or(1),
            Some((f.compare_cas, new_cas)),
        );
        if r == Delta::Missing {
            if let Some(n) = f.vivify {
                // Autovivify with J (default 0); the delta is not applied.
                let init = f.initial.unwrap_or(0);
                let ttl = ttl_of(n, now);
                let meta = McMeta {
                    flags: 0,
                    cas: new_cas,
                    bits: 0,
                };
                if ttl != Ttl::Gone {
                    t.set_meta(
                        &k,
                        itoa::Buffer::new().format(init).as_bytes(),
                        meta,
                        ttl.expiry(),
                    );
                }
                self.ms.incr(Mc::TotalItems);
                r = Delta::Done(init, new_cas);
            }
        } else if matches!(r, Delta::Done(..)) {
            if let Some(x) = f.ttl {
                apply_ttl(&mut t, &k, ttl_of(x, now));
            }
        }
        let expire_at = t.peek(&k).map_or(0, |e| e.expire_at());
        drop(t);
        match r {
            Delta::Missing => {
                self.ms.incr(misses);
                self.meta_status("NF", m, false)
            }
            Delta::NonNumeric => {
                self.line(NON_NUMERIC);
                self.line("\r\n")
            }
            Delta::CasMismatch => {
                self.ms.incr(Mc::CasBadval);
                self.meta_status("EX", m, false)
            }
            Delta::Done(n, cas) => {
                self.ms.incr(hits);
                if f.has(b'q') && !f.has(b'v') {
                    return;
                }
                let mut nb = itoa::Buffer::new();
                let digits = nb.format(n);
                if f.has(b'v') {
                    self.line("VA ");
                    self.num(digits.len() as u64);
                } else {
                    self.line("HD");
                }
                m.echo_with(self.out, |c, out| {
                    let mut b = itoa::Buffer::new();
                    match c {
                        b'c' => {
                            out.extend_from_slice(b" c");
                            out.extend_from_slice(b.format(cas).as_bytes());
                        }
                        b't' => {
                            out.extend_from_slice(b" t");
                            out.extend_from_slice(b.format(ttl_left(expire_at, now)).as_bytes());
                        }
                        _ => {}
                    }
                });
                self.line("\r\n");
                if f.has(b'v') {
                    self.line(digits);
                    self.line("\r\n");
                }
            }
        }
    }

    /// `me <key>`: memcached's debug line for one item.
    fn meta_debug(&mut self, key: &[u8]) {
        let k = self.st.ks.key(key);
        let mut t = self.txn(&k);
        let now = t.now();
        let lfu = self.st.settings.evict.policy().is_lfu();
        let line = t
            .peek(&k)
            .filter(|e| e.obj_type() == ObjType::String)
            .map(|e| {
                let m = e.mc_meta();
                let la = if lfu {
                    0
                } else {
                    storage::evict::idle_ms(e.lru(), now) / 1000
                };
                format!(
                    "ME {} exp={} la={} cas={} fetch={} cls=1 size={}\r\n",
                    String::from_utf8_lossy(key),
                    ttl_left(e.expire_at(), now),
                    la,
                    m.cas,
                    if m.bits & MC_FETCHED != 0 {
                        "yes"
                    } else {
                        "no"
                    },
                    e.value_len() + key.len() + 48,
                )
            });
        drop(t);
        match line {
            Some(l) => self.line(&l),
            None => self.line("EN\r\n"),
        }
    }
}

/// What a meta reply echoes of its request.
struct MetaReply<'a> {
    raw_key: &'a [u8],
    f: &'a MetaFlags,
    frame: &'a [u8],
}

impl MetaReply<'_> {
    /// ` O<opaque>` and ` k<key>[ b]`, in request order.
    fn echo(&self, out: &mut Vec<u8>) {
        self.echo_with(out, |_, _| {});
    }

    /// As `echo`, with `more` writing the command's own return flags in their place.
    fn echo_with(&self, out: &mut Vec<u8>, mut more: impl FnMut(u8, &mut Vec<u8>)) {
        for &(c, tok) in &self.f.order {
            match c {
                b'O' => {
                    out.extend_from_slice(b" O");
                    out.extend_from_slice(tok.of(self.frame));
                }
                b'k' => {
                    out.extend_from_slice(b" k");
                    out.extend_from_slice(self.raw_key);
                    if self.f.has(b'b') {
                        out.extend_from_slice(b" b");
                    }
                }
                _ => more(c, out),
            }
        }
    }
}

/// The outcome of incr/decr/ma on one key.
#[derive(Debug, PartialEq, Eq)]
enum Delta {
    /// The new value and the item's CAS afterwards (0 = none stamped).
    Done(u64, u64),
    Missing,
    NonNumeric,
    CasMismatch,
}

/// Apply a delta in place: 64-bit unsigned, incr wraps, decr floors at 0. The flags stay;
/// the CAS becomes `cas.1` (0 = stamp lazily). With `cas.0`, only if the item's CAS matches.
fn apply_delta(
    t: &mut Txn<'_>,
    k: &Key,
    incr: bool,
    delta: u64,
    cas: Option<(Option<u64>, u64)>,
) -> Delta {
    let Some(e) = t.peek(k) else {
        return Delta::Missing;
    };
    if e.obj_type() != ObjType::String {
        return Delta::Missing;
    }
    let meta = e.mc_meta();
    let Some(cur) = parse_counter(e.value()) else {
        return Delta::NonNumeric;
    };
    let (want, new_cas) = cas.unwrap_or((None, 0));
    if let Some(c) = want {
        if meta.cas == 0 || meta.cas != c {
            return Delta::CasMismatch;
        }
    }
    let n = if incr {
        cur.wrapping_add(delta)
    } else {
        cur.saturating_sub(delta)
    };
    t.modify(k, |e| {
        e.set_value_meta(
            itoa::Buffer::new().format(n).as_bytes(),
            McMeta {
                flags: meta.flags,
                cas: new_cas,
                bits: 0,
            },
        )
    });
    Delta::Done(n, new_cas)
}

mod stats;

#[cfg(test)]
mod tests;
