//! What a command did, as the append-only log records it: the command's own arguments when
//! replaying them reproduces the change, a deterministic rewrite when it would not.
//!
//! ```text
//!  execute_in / run_queued ── begin(spec, args, db) ──► this thread's record := RESP(args)
//!       handler ─► Txn writes ─► Txn dropped (locks still held) ─► Sink::committed
//!                                   └─► log.append(db, record)  (once per command)
//!       handler may call rewrite(&[…]) first (relative TTL → PXAT, SPOP → SREM, …)
//!  EXEC / EVAL ── begin: wrap ──► first inner record is preceded by MULTI; end: EXEC
//!  expiry / eviction (storage) ─► Sink::removed ─► DEL key
//! ```
//! A command that changed nothing logs nothing (`Txn` compares the shards' change counters).
//! Commands that change the keyspace without a `Txn` (FLUSHALL, FLUSHDB, SWAPDB) hold the
//! gate alone and call `emit_pending`. The memcached door, which does not go through the
//! command table, logs the resulting value of each key it changes (`emit_mc_image`).
//!
//! Rules a handler follows (see docs/PERSISTENCE.md, "What the log holds"): if replaying
//! the same arguments on the same data could give another result — a time relative to now,
//! randomness, a "past" time that deletes — call `rewrite` with the effect **before** the
//! `Txn` is dropped.

use crate::table::CommandSpec;
use crate::ServerState;
use persist::aof::writer::{encode, encode_iter, Log};
use protocol::Args;
use std::cell::RefCell;
use std::sync::Arc;
use storage::EffectSink;

#[derive(Default)]
struct Current {
    /// The running command's record (RESP), if it is still to be logged.
    rec: Vec<u8>,
    has: bool,
    db: usize,
    /// Inside EXEC or a script: records are wrapped in MULTI … EXEC.
    wrap: bool,
    /// MULTI already written for the running wrapper.
    opened: bool,
    /// The memcached door's key being changed: its resulting value is logged.
    image: Option<Vec<u8>>,
    log: Option<Arc<Log>>,
}

thread_local! {
    static CUR: RefCell<Current> = RefCell::new(Current::default());
}

/// What `begin` changed, for `end` to restore.
pub enum Token {
    None,
    Cmd,
    Wrap { prev_wrap: bool, prev_opened: bool },
}

/// Commands whose own arguments are never logged: what they ran is (wrapped in MULTI/EXEC).
fn is_wrapper(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Before a command runs: remember what to log if it writes. Cheap when the log is off.
#[inline]
pub fn begin(srv: &ServerState, spec: &CommandSpec, args: Args<'_>, db: usize) -> Token {
    let Some(log) = srv.aof.log() else {
        return Token::None;
    };
    if is_wrapper(spec) {
        return CUR.with(|c| {
            let mut c = c.borrow_mut();
            let t = Token::Wrap {
                prev_wrap: c.wrap,
                prev_opened: c.opened,
            };
            c.wrap = true;
            c.opened = false;
            c.log = Some(log);
            t
        });
    }
    if !spec.has(crate::table::flags::WRITE) {
        return Token::None;
    }
    CUR.with(|c| {
        let mut c = c.borrow_mut();
        c.rec.clear();
        encode_iter(args.len(), args.iter(), &mut c.rec);
        c.has = true;
        c.db = db;
        c.log = Some(log);
        Token::Cmd
    })
}

/// A write made outside the command table (the HTTP door's PUT and DELETE): log `parts`
/// when the `Txn` that follows commits; `end` the token after it is dropped.
pub fn record(srv: &ServerState, db: usize, parts: &[&[u8]]) -> Token {
    let Some(log) = srv.aof.log() else {
        return Token::None;
    };
    CUR.with(|c| {
        let mut c = c.borrow_mut();
        c.rec.clear();
        encode(parts, &mut c.rec);
        c.has = true;
        c.db = db;
        c.log = Some(log);
    });
    Token::Cmd
}

/// After the command: close a wrapper's MULTI with EXEC; forget an unlogged record.
#[inline]
pub fn end(t: Token) {
    match t {
        Token::None => {}
        // Inside a wrapper the outer command has no record of its own: nothing to restore.
        Token::Cmd => CUR.with(|c| c.borrow_mut().has = false),
        Token::Wrap {
            prev_wrap,
            prev_opened,
        } => CUR.with(|c| {
            let mut c = c.borrow_mut();
            if c.opened {
                if let Some(log) = &c.log {
                    let mut rec = Vec::with_capacity(16);
                    encode(&[b"EXEC"], &mut rec);
                    log.append_encoded(None, &rec);
                }
            }
            c.wrap = prev_wrap;
            c.opened = prev_opened;
        }),
    }
}

/// Replace the running command's record with `parts` (its deterministic effect).
pub fn rewrite(parts: &[&[u8]]) {
    CUR.with(|c| {
        let mut c = c.borrow_mut();
        if c.has {
            c.rec.clear();
            encode(parts, &mut c.rec);
        }
    });
}

/// Log the running command's record now, if it has not been (commands that change the
/// keyspace without a `Txn`, holding the gate alone).
pub fn emit_pending() {
    CUR.with(|c| emit(&mut c.borrow_mut()));
}

fn emit(c: &mut Current) {
    if !c.has {
        return;
    }
    c.has = false;
    let Some(log) = c.log.clone() else {
        return;
    };
    if c.wrap && !c.opened {
        let mut rec = Vec::with_capacity(16);
        encode(&[b"MULTI"], &mut rec);
        log.append_encoded(None, &rec);
        c.opened = true;
    }
    log.append_encoded(Some(c.db), &c.rec);
}

/// The name of the replay-only record holding a memcached item (value, flags, expiry).
pub const MC_IMAGE: &[u8] = b"RCACHE.MCIMAGE";

/// The memcached door is about to change `key` (database 0) in a `Txn`: when that `Txn`
/// commits, log what the key holds then — the value with its flags and absolute expiry, or
/// its absence — since memcached's own requests (relative times, CAS) do not replay.
#[inline]
pub fn mc_key(srv: &ServerState, key: &[u8]) {
    if srv.aof.is_on() {
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
    if let Some(log) = srv.aof.log() {
        log.append(db, parts);
    }
}

fn emit_mc_image(log: &Log, t: &mut storage::Txn<'_>, key: &[u8]) {
    let k = t.keyspace().key(key);
    match t.peek(&k) {
        None => {
            log.append(0, &[b"DEL", key]);
        }
        Some(e) => {
            let at = e.expire_at().to_string();
            if e.obj_type() == storage::ObjType::String {
                let flags = e.mc_meta().flags.to_string();
                log.append(
                    0,
                    &[MC_IMAGE, key, e.value(), flags.as_bytes(), at.as_bytes()],
                );
            } else if e.expire_at() != 0 {
                // A collection the memcached door can only touch (its TTL).
                log.append(0, &[b"PEXPIREAT", key, at.as_bytes()]);
            } else {
                log.append(0, &[b"PERSIST", key]);
            }
        }
    }
}

/// The keyspace's sink while the log is on.
pub struct Sink(pub Arc<Log>);

impl EffectSink for Sink {
    fn committed(&self, txn: &mut storage::Txn<'_>) {
        CUR.with(|c| {
            let mut c = c.borrow_mut();
            if c.has {
                emit(&mut c);
            } else if let Some(key) = c.image.take() {
                emit_mc_image(&self.0, txn, &key);
            }
        });
    }

    fn removed(&self, db: usize, key: &[u8]) {
        self.0.append(db, &[b"DEL", key]);
    }
}
