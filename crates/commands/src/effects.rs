//! What a command did, as the append-only log records it: the command's own arguments when
//! replaying them reproduces the change, a deterministic rewrite when it would not.
//!
//! ```text
//!  execute_in / run_queued ── begin(spec, args, db) ──► this thread remembers the args
//!       handler ─► Txn writes ─► Txn dropped (locks still held) ─► Sink::committed
//!                                   └─► log.append(db, args or rewrite)  (once per command)
//!       handler may call rewrite(&[…]) first (relative TTL → PXAT, SPOP → SREM, …)
//!  EXEC / EVAL ── begin: wrap ──► first inner record is preceded by MULTI; guard drop: EXEC
//!  expiry / eviction (storage) ─► Sink::removed ─► DEL key
//! ```
//! A command that changed nothing logs nothing (`Txn` compares the shards' change counters).
//! Commands that change the keyspace without a `Txn` (FLUSHALL, FLUSHDB, SWAPDB) hold the
//! gate alone and call `emit_pending`. The memcached door, which does not go through the
//! command table, logs the resulting value of each key it changes (`mc_key`); the HTTP
//! door's PUT and DELETE say what they do (`record`).
//!
//! Rules a handler follows (see docs/PERSISTENCE.md, "What the log holds"): if replaying
//! the same arguments on the same data could give another result — a time relative to now,
//! randomness, a "past" time that deletes — call `rewrite` with the effect **before** the
//! `Txn` is dropped.
//!
//! **Cost.** Per write command with the log on: the arguments are encoded once, straight
//! into the log's buffer, under its mutex; the log handle is cached per thread (no lock and
//! no reference count touched per command). With the log off: one relaxed load.

use crate::table::CommandSpec;
use crate::ServerState;
use parking_lot::RwLock;
use persist::aof::writer::{encode, encode_iter, Log};
use protocol::Args;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use storage::EffectSink;

/// The running log, as commands reach it: a generation number and the handle. Threads
/// cache the handle with its generation, so a command costs one relaxed load to find it.
#[derive(Default)]
pub struct LogSlot {
    on: AtomicBool,
    gen: AtomicU64,
    log: RwLock<Option<Arc<Log>>>,
}

/// Generations are unique in the process, so a cached handle never passes for another
/// server's (tests run several in one process).
static NEXT_GEN: AtomicU64 = AtomicU64::new(1);

impl LogSlot {
    /// Switch to `log` (or to none).
    pub fn set(&self, log: Option<Arc<Log>>) {
        let on = log.is_some();
        *self.log.write() = log;
        self.gen.store(NEXT_GEN.fetch_add(1, Relaxed), Relaxed);
        self.on.store(on, Relaxed);
    }

    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// The handle, shared (for work that is not per command).
    pub fn get(&self) -> Option<Arc<Log>> {
        if !self.is_on() {
            return None;
        }
        self.log.read().clone()
    }

    /// Run `f` with the log, if it is on, through this thread's cached handle.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&Log) -> R) -> Option<R> {
        if !self.is_on() {
            return None;
        }
        let gen = self.gen.load(Relaxed);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != gen {
                *c = (gen, self.log.read().clone());
            }
            c.1.as_deref().map(f)
        })
    }
}

thread_local! {
    static CACHE: RefCell<(u64, Option<Arc<Log>>)> = const { RefCell::new((0, None)) };
}

#[derive(Default)]
struct Current {
    /// The running command's arguments (borrowed for the command's duration: see `begin`).
    args: Option<Args<'static>>,
    /// A rewrite of the running command's record (RESP), replacing `args`.
    rec: Vec<u8>,
    rewritten: bool,
    /// A record is still to be logged for the running command.
    has: bool,
    db: usize,
    /// Inside EXEC or a script: records are wrapped in MULTI … EXEC.
    wrap: bool,
    /// MULTI already written for the running wrapper.
    opened: bool,
    /// The memcached door's key being changed: its resulting value is logged.
    image: Option<Vec<u8>>,
}

thread_local! {
    static CUR: RefCell<Current> = RefCell::new(Current::default());
}

/// Undoes `begin` when dropped (also if the handler panics): forgets the borrowed
/// arguments, and closes a wrapper's MULTI with EXEC.
pub enum Guard<'a> {
    None,
    Cmd,
    Wrap {
        slot: &'a LogSlot,
        prev_wrap: bool,
        prev_opened: bool,
    },
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        match self {
            Guard::None => {}
            // Inside a wrapper the outer command has no record of its own: nothing to
            // restore.
            Guard::Cmd => CUR.with(|c| {
                let mut c = c.borrow_mut();
                c.has = false;
                c.args = None;
            }),
            Guard::Wrap {
                slot,
                prev_wrap,
                prev_opened,
            } => CUR.with(|c| {
                let mut c = c.borrow_mut();
                if c.opened {
                    slot.with(|log| log.append(None, |b| encode(&[b"EXEC"], b)));
                }
                c.wrap = *prev_wrap;
                c.opened = *prev_opened;
            }),
        }
    }
}

/// Commands whose own arguments are never logged: what they ran is (wrapped in MULTI/EXEC).
fn is_wrapper(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Before a command runs: remember what to log if it writes. Cheap when the log is off.
/// The guard must be dropped before `args`' buffer is (it is a local of the caller).
#[inline]
pub fn begin<'a>(srv: &'a ServerState, spec: &CommandSpec, args: Args<'_>, db: usize) -> Guard<'a> {
    let slot = &srv.aof.slot;
    if !slot.is_on() {
        return Guard::None;
    }
    if is_wrapper(spec) {
        return CUR.with(|c| {
            let mut c = c.borrow_mut();
            if c.wrap {
                // EVAL queued inside MULTI: its writes join the outer block, whose EXEC
                // closes it.
                return Guard::None;
            }
            let g = Guard::Wrap {
                slot,
                prev_wrap: c.wrap,
                prev_opened: c.opened,
            };
            c.wrap = true;
            c.opened = false;
            g
        });
    }
    if !spec.has(crate::table::flags::WRITE) {
        return Guard::None;
    }
    // SAFETY: the arguments are only read while the command runs: `Guard::Cmd` clears them
    // when dropped, and the caller drops it before the buffer `args` borrows goes away (it
    // lives in the caller's frame for the whole call; nothing awaits in between).
    let args: Args<'static> = unsafe { std::mem::transmute::<Args<'_>, Args<'static>>(args) };
    CUR.with(|c| {
        let mut c = c.borrow_mut();
        c.args = Some(args);
        c.rewritten = false;
        c.has = true;
        c.db = db;
    });
    Guard::Cmd
}

/// Replace the running command's record with `parts` (its deterministic effect).
pub fn rewrite(parts: &[&[u8]]) {
    CUR.with(|c| {
        let mut c = c.borrow_mut();
        if c.has {
            c.rec.clear();
            encode(parts, &mut c.rec);
            c.rewritten = true;
        }
    });
}

/// Replace the running command's record with several commands, logged together (a stream
/// read by a group is logged as Redis propagates it: an XCLAIM per delivered entry, then
/// XGROUP SETID). No commands: the command logs nothing.
pub fn rewrite_many(cmds: &[Vec<Vec<u8>>]) {
    CUR.with(|c| {
        let mut c = c.borrow_mut();
        if c.has {
            c.rec.clear();
            if cmds.is_empty() {
                c.has = false;
                return;
            }
            for parts in cmds {
                let p: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                encode(&p, &mut c.rec);
            }
            c.rewritten = true;
        }
    });
}

/// Whether the running command's effects are being logged (a handler builds a rewrite
/// only then).
pub fn logging(srv: &ServerState) -> bool {
    srv.aof.slot.is_on()
}

/// A write made outside the command table (the HTTP door's PUT and DELETE): log `parts`
/// when the `Txn` that follows commits. Keep the guard until that `Txn` is dropped.
pub fn record<'a>(srv: &'a ServerState, db: usize, parts: &[&[u8]]) -> Guard<'a> {
    if !srv.aof.slot.is_on() {
        return Guard::None;
    }
    CUR.with(|c| {
        let mut c = c.borrow_mut();
        c.rec.clear();
        encode(parts, &mut c.rec);
        c.rewritten = true;
        c.args = None;
        c.has = true;
        c.db = db;
    });
    Guard::Cmd
}

/// Log the running command's record now, if it has not been (commands that change the
/// keyspace without a `Txn`, holding the gate alone).
pub fn emit_pending(srv: &ServerState) {
    CUR.with(|c| emit(&srv.aof.slot, &mut c.borrow_mut()));
}

fn emit(slot: &LogSlot, c: &mut Current) {
    if !c.has {
        return;
    }
    c.has = false;
    slot.with(|log| {
        if c.wrap && !c.opened {
            log.append(None, |b| encode(&[b"MULTI"], b));
            c.opened = true;
        }
        if c.rewritten {
            log.append(Some(c.db), |b| b.extend_from_slice(&c.rec));
        } else if let Some(a) = c.args {
            log.append(Some(c.db), |b| encode_iter(a.len(), a.iter(), b));
        }
    });
}

/// The name of the replay-only record holding a memcached item (value, flags, expiry).
pub const MC_IMAGE: &[u8] = b"RCACHE.MCIMAGE";

/// The memcached door is about to change `key` (database 0) in a `Txn`: when that `Txn`
/// commits, log what the key holds then — the value with its flags and absolute expiry, or
/// its absence — since memcached's own requests (relative times, CAS) do not replay.
#[inline]
pub fn mc_key(srv: &ServerState, key: &[u8]) {
    if srv.aof.slot.is_on() {
        CUR.with(|c| c.borrow_mut().image = Some(key.to_vec()));
    }
}

/// The memcached request is over: forget its key.
#[inline]
pub fn mc_done() {
    CUR.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.image = None;
        }
    });
}

/// Log `parts` in database `db` now (a change made outside any command: the memcached
/// door's `flush_all`).
pub fn emit_direct(srv: &ServerState, db: usize, parts: &[&[u8]]) {
    srv.aof
        .slot
        .with(|log| log.append(Some(db), |b| encode(parts, b)));
}

fn emit_mc_image(log: &Log, t: &mut storage::Txn<'_>, key: &[u8]) {
    let k = t.keyspace().key(key);
    let put = |parts: &[&[u8]]| log.append(Some(0), |b| encode(parts, b));
    match t.peek(&k) {
        None => put(&[b"DEL", key]),
        Some(e) => {
            let at = e.expire_at().to_string();
            if e.obj_type() == storage::ObjType::String {
                let flags = e.mc_meta().flags.to_string();
                put(&[MC_IMAGE, key, e.value(), flags.as_bytes(), at.as_bytes()])
            } else if e.expire_at() != 0 {
                // A collection the memcached door can only touch (its TTL).
                put(&[b"PEXPIREAT", key, at.as_bytes()])
            } else {
                put(&[b"PERSIST", key])
            }
        }
    };
}

/// The keyspace's sink, installed once; it reaches whichever log is running.
pub struct Sink(pub Arc<LogSlot>);

impl EffectSink for Sink {
    fn committed(&self, txn: &mut storage::Txn<'_>) {
        let slot = &self.0;
        CUR.with(|c| {
            let mut c = c.borrow_mut();
            if c.has {
                emit(slot, &mut c);
            } else if let Some(key) = c.image.take() {
                slot.with(|log| emit_mc_image(log, txn, &key));
            }
        });
    }

    fn removed(&self, db: usize, key: &[u8]) {
        self.0
            .with(|log| log.append(Some(db), |b| encode(&[b"DEL", key], b)));
    }
}
