//! Keyspace notifications (`notify-keyspace-events`): what Redis publishes on
//! `__keyspace@<db>__:<key>` (the event name) and `__keyevent@<db>__:<event>` (the key) when
//! commands change keys, when keys expire and when they are evicted.
//!
//! ```text
//!  storage (keyevents.rs): New / Changed / Removed / Expired / Evicted per key, recorded on
//!     the thread making the change while notifications are on
//!  execute_in, EXEC's queued commands, a served blocked command ─► after_command(spec, args)
//!     ─► per key, in the order first touched: "new", the command's event(s), "del"
//!  handlers ─► extra(class, event, key) for events the records cannot tell (XADD's "xtrim",
//!     a consumer created by XREADGROUP)
//!  expiry cron ─► after_background: "expired"
//!  memcached / HTTP doors ─► after_door(event): their writes as Redis's equivalents
//! ```
//! The event names and classes are Redis 7.0's, per command (`event_of`); checked against
//! Debian's redis-server in crates/rcache/tests/notify.rs. **Cost when off**: nothing is
//! recorded (one relaxed load per change in storage) and one relaxed load per command here.

use crate::table::CommandSpec;
use crate::util::eq_ic;
use crate::ServerState;
use protocol::Args;
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;
use storage::keyevents::{self, KeyEvent};

/// Redis's NOTIFY_* bits.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// `A`: every class but K, E, m and n.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

const LETTERS: &[(char, u32)] = &[
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('d', class::MODULE),
    ('n', class::NEW),
    ('K', class::KEYSPACE),
    ('E', class::KEYEVENT),
    ('m', class::KEY_MISS),
];

/// The flags a `notify-keyspace-events` value sets (None for a letter Redis refuses).
pub fn parse(v: &str) -> Option<u32> {
    let mut f = 0;
    for c in v.chars() {
        f |= match c {
            'A' => class::ALL,
            c => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(f)
}

/// The value as Redis shows it (`keyspaceEventsFlagsToString`): `A` for all of
/// `g$lshzxetd` (and then `n` is not shown), else the class letters; `K`, `E`, `m` last.
pub fn display(f: u32) -> String {
    let mut out = String::new();
    if f & class::ALL == class::ALL {
        out.push('A');
    } else {
        for &(c, bit) in &LETTERS[..11] {
            if f & bit != 0 {
                out.push(c);
            }
        }
    }
    for &(c, bit) in &LETTERS[11..] {
        if f & bit != 0 {
            out.push(c);
        }
    }
    out
}

/// Switch storage's recording on or off to match the setting (start-up, CONFIG SET).
pub fn sync(srv: &ServerState) {
    // Redis publishes only when K or E is set along with some class.
    let f = srv.settings.notify_flags.load(Relaxed);
    let on = f & (class::KEYSPACE | class::KEYEVENT) != 0
        && f & !(class::KEYSPACE | class::KEYEVENT) != 0;
    srv.ks.set_key_events(on);
}

thread_local! {
    /// Events a handler adds (`extra`), fired after the ones its key records give.
    static EXTRA: RefCell<Vec<(u32, &'static str, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
}

/// Fire `event` of `class` on `key` after the running command (events its records cannot
/// tell: XADD's "xtrim", a consumer created as a side effect). Free when notifications are
/// off.
pub fn extra(srv: &ServerState, cls: u32, event: &'static str, key: &[u8]) {
    if srv.settings.notify_flags.load(Relaxed) & cls != 0 {
        EXTRA.with(|e| e.borrow_mut().push((cls, event, key.to_vec())));
    }
}

/// Publish one event.
pub fn fire(srv: &ServerState, cls: u32, event: &str, key: &[u8], db: usize) {
    let f = srv.settings.notify_flags.load(Relaxed);
    if f & cls == 0 {
        return;
    }
    if f & class::KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        srv.pubsub.publish(srv, &ch, event.as_bytes(), None);
    }
    if f & class::KEYEVENT != 0 {
        let ch = format!("__keyevent@{db}__:{event}");
        srv.pubsub.publish(srv, ch.as_bytes(), key, None);
    }
}

/// A key's story in one command: in which database, whether it existed before (its first
/// record is not `New`) and after (its last record is not `Removed`).
struct Story {
    db: usize,
    key: Vec<u8>,
    existed: bool,
    exists: bool,
}

/// Take this thread's records: fire expired/evicted at once, and gather the rest per key in
/// the order the keys were first touched.
fn stories(srv: &ServerState) -> Vec<Story> {
    let mut out: Vec<Story> = Vec::new();
    for (db, ev, key) in keyevents::take() {
        match ev {
            KeyEvent::Expired => fire(srv, class::EXPIRED, "expired", &key, db),
            KeyEvent::Evicted => fire(srv, class::EVICTED, "evicted", &key, db),
            KeyEvent::Miss => fire(srv, class::KEY_MISS, "keymiss", &key, db),
            _ => {
                let gone = ev == KeyEvent::Removed;
                match out.iter_mut().find(|s| s.db == db && s.key == key) {
                    Some(s) => s.exists = !gone,
                    None => out.push(Story {
                        db,
                        existed: ev != KeyEvent::New,
                        exists: !gone,
                        key,
                    }),
                }
            }
        }
    }
    out
}

/// After a command ran (execute_in, EXEC's queued commands, a served blocked command):
/// publish what it did to its keys.
pub fn after_command(srv: &ServerState, db: usize, spec: &CommandSpec, args: Args<'_>) {
    if srv.settings.notify_flags.load(Relaxed) == 0 {
        if keyevents::pending() {
            keyevents::take();
        }
        return;
    }
    let spec = crate::spec_of(srv, args).unwrap_or(spec);
    let mut stories = stories(srv);
    if matches!(spec.name, "rpoplpush" | "brpoplpush" | "lmove" | "blmove") {
        // Redis pushes (and notifies) the destination before it notifies the pop.
        stories.sort_by_key(|s| role_of(spec.name, args, &s.key, false) != Role::Dest);
    }
    // RENAME and MOVE create the destination before they notify anything.
    let news_first = matches!(spec.name, "rename" | "renamenx" | "move");
    if news_first {
        for s in stories.iter().filter(|s| !s.existed && s.exists) {
            fire(srv, class::NEW, "new", &s.key, s.db);
        }
    }
    for s in stories {
        if !s.existed && s.exists && !news_first {
            fire(srv, class::NEW, "new", &s.key, s.db);
        }
        let role = role_of(spec.name, args, &s.key, s.db != db);
        if s.exists {
            for (cls, ev) in events(spec.name, args, role) {
                fire(srv, cls, ev, &s.key, s.db);
            }
        } else if s.existed {
            for (cls, ev) in removal(spec.name, args, role) {
                fire(srv, cls, ev, &s.key, s.db);
            }
        }
    }
    let extra = EXTRA.with(|e| std::mem::take(&mut *e.borrow_mut()));
    for (cls, ev, key) in extra {
        fire(srv, cls, ev, &key, db);
    }
}

/// After expiry or eviction outside any command (the active-expiry cycle).
pub fn after_background(srv: &ServerState) {
    if keyevents::pending() {
        if srv.settings.notify_flags.load(Relaxed) == 0 {
            keyevents::take();
            return;
        }
        // Only expirations (and evictions) happen outside commands; `stories` fires them.
        stories(srv);
    }
}

/// After a write by a door outside the command table (memcached, HTTP) in database `db`:
/// `event` ($ class) for keys changed, "new" for keys created, "del" for keys removed.
pub fn after_door(srv: &ServerState, event: &'static str) {
    if !keyevents::pending() {
        return;
    }
    if srv.settings.notify_flags.load(Relaxed) == 0 {
        keyevents::take();
        return;
    }
    for s in stories(srv) {
        if !s.existed && s.exists {
            fire(srv, class::NEW, "new", &s.key, s.db);
        }
        if s.exists {
            let cls = if event == "expire" {
                class::GENERIC
            } else {
                class::STRING
            };
            fire(srv, cls, event, &s.key, s.db);
        } else if s.existed {
            fire(srv, class::GENERIC, "del", &s.key, s.db);
        }
    }
}

/// Which of a command's keys this is, for commands whose keys get different events.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Only,
    /// The source of a move (RENAME, SMOVE, LMOVE, MOVE's key in its first database).
    Source,
    /// The destination.
    Dest,
}

fn role_of(name: &str, args: Args<'_>, key: &[u8], other_db: bool) -> Role {
    match name {
        "rename" | "renamenx" | "smove" | "rpoplpush" | "brpoplpush" | "lmove" | "blmove"
        | "copy" => {
            // When source and destination are the same key, the destination's event wins
            // for the key's final state (both happened; Redis sends both — see events()).
            if args.get(2) == key {
                Role::Dest
            } else {
                Role::Source
            }
        }
        "move" => {
            if other_db {
                Role::Dest
            } else {
                Role::Source
            }
        }
        _ => Role::Only,
    }
}

fn has_opt(args: Args<'_>, from: usize, opts: &[&str]) -> bool {
    (from..args.len()).any(|i| opts.iter().any(|o| eq_ic(args.get(i), o)))
}

fn side(b: &[u8], left: &'static str, right: &'static str) -> &'static str {
    if eq_ic(b, "left") {
        left
    } else {
        right
    }
}

use class::{GENERIC as G, HASH as H, LIST as L, SET as S, STREAM as T, STRING as ST, ZSET as Z};

/// The events of a command on a key it changed (the key exists after it).
fn events(name: &str, args: Args<'_>, role: Role) -> Vec<(u32, &'static str)> {
    let one = |c, e| vec![(c, e)];
    match name {
        "set" => {
            let mut v = vec![(ST, "set")];
            if has_opt(args, 3, &["ex", "px", "exat", "pxat"]) {
                v.push((G, "expire"));
            }
            v
        }
        "setex" | "psetex" => vec![(ST, "set"), (G, "expire")],
        "setnx" | "getset" | "mset" | "msetnx" | "bitop" => one(ST, "set"),
        "getex" => {
            if has_opt(args, 2, &["persist"]) {
                one(G, "persist")
            } else if has_opt(args, 2, &["ex", "px", "exat", "pxat"]) {
                one(G, "expire")
            } else {
                vec![]
            }
        }
        "incr" | "decr" | "incrby" | "decrby" => one(ST, "incrby"),
        "incrbyfloat" => one(ST, "incrbyfloat"),
        "append" => one(ST, "append"),
        "setrange" => one(ST, "setrange"),
        "setbit" | "bitfield" => one(ST, "setbit"),
        "pfadd" | "pfmerge" => one(ST, "pfadd"),
        "lpush" | "lpushx" => one(L, "lpush"),
        "rpush" | "rpushx" => one(L, "rpush"),
        "linsert" => one(L, "linsert"),
        "lset" => one(L, "lset"),
        "ltrim" => one(L, "ltrim"),
        "lrem" => one(L, "lrem"),
        "lpop" | "blpop" => one(L, "lpop"),
        "rpop" | "brpop" => one(L, "rpop"),
        "lmpop" => one(L, side(args.get(2 + num(args, 1)), "lpop", "rpop")),
        "blmpop" => one(L, side(args.get(3 + num(args, 2)), "lpop", "rpop")),
        "rpoplpush" | "brpoplpush" => match role {
            Role::Dest if args.get(1) == args.get(2) => vec![(L, "lpush"), (L, "rpop")],
            Role::Dest => one(L, "lpush"),
            _ => one(L, "rpop"),
        },
        "lmove" | "blmove" => {
            let pop = side(args.get(3), "lpop", "rpop");
            let push = side(args.get(4), "lpush", "rpush");
            match role {
                Role::Dest if args.get(1) == args.get(2) => vec![(L, push), (L, pop)],
                Role::Dest => one(L, push),
                _ => one(L, pop),
            }
        }
        "sort" | "sort_ro" => one(L, "sortstore"),
        "sadd" => one(S, "sadd"),
        "srem" => one(S, "srem"),
        "spop" => one(S, "spop"),
        "smove" => match role {
            Role::Dest => one(S, "sadd"),
            _ => one(S, "srem"),
        },
        "sinterstore" => one(S, "sinterstore"),
        "sunionstore" => one(S, "sunionstore"),
        "sdiffstore" => one(S, "sdiffstore"),
        "zadd" => one(
            Z,
            if has_opt(args, 2, &["incr"]) {
                "zincr"
            } else {
                "zadd"
            },
        ),
        "geoadd" => one(Z, "zadd"),
        "zincrby" => one(Z, "zincr"),
        "zrem" => one(Z, "zrem"),
        "zremrangebyscore" => one(Z, "zremrangebyscore"),
        "zremrangebyrank" => one(Z, "zremrangebyrank"),
        "zremrangebylex" => one(Z, "zremrangebylex"),
        "zpopmin" | "bzpopmin" => one(Z, "zpopmin"),
        "zpopmax" | "bzpopmax" => one(Z, "zpopmax"),
        "zmpop" => one(
            Z,
            if eq_ic(args.get(2 + num(args, 1)), "min") {
                "zpopmin"
            } else {
                "zpopmax"
            },
        ),
        "bzmpop" => one(
            Z,
            if eq_ic(args.get(3 + num(args, 2)), "min") {
                "zpopmin"
            } else {
                "zpopmax"
            },
        ),
        "zunionstore" => one(Z, "zunionstore"),
        "zinterstore" => one(Z, "zinterstore"),
        "zdiffstore" => one(Z, "zdiffstore"),
        "zrangestore" => one(Z, "zrangestore"),
        "georadius" | "georadiusbymember" => one(Z, "georadiusstore"),
        "geosearchstore" => one(Z, "geosearchstore"),
        "hset" | "hmset" | "hsetnx" => one(H, "hset"),
        "hincrby" => one(H, "hincrby"),
        "hincrbyfloat" => one(H, "hincrbyfloat"),
        "hdel" => one(H, "hdel"),
        "expire" | "pexpire" | "expireat" | "pexpireat" => one(G, "expire"),
        "persist" => one(G, "persist"),
        "rename" | "renamenx" => one(G, "rename_to"),
        "move" => one(G, "move_to"),
        "copy" => one(G, "copy_to"),
        "restore" => one(G, "restore"),
        "xadd" => one(T, "xadd"),
        "xtrim" => one(T, "xtrim"),
        "xdel" => one(T, "xdel"),
        "xsetid" => one(T, "xsetid"),
        "xgroup|create" => one(T, "xgroup-create"),
        "xgroup|createconsumer" => one(T, "xgroup-createconsumer"),
        "xgroup|delconsumer" => one(T, "xgroup-delconsumer"),
        "xgroup|destroy" => one(T, "xgroup-destroy"),
        "xgroup|setid" => one(T, "xgroup-setid"),
        // Changes without an event of their own (XREADGROUP's deliveries, XACK, XCLAIM,
        // PFCOUNT's cache…); side effects with one come through `extra`.
        _ => vec![],
    }
}

/// The events of a command on a key it removed.
fn removal(name: &str, args: Args<'_>, role: Role) -> Vec<(u32, &'static str)> {
    match (name, role) {
        ("rename" | "renamenx", _) => vec![(G, "rename_from")],
        ("move", _) => vec![(G, "move_from")],
        // Overwriting commands that found nothing to store, deletions, past expiries: "del".
        (
            "del" | "unlink" | "getdel" | "getex" | "set" | "expire" | "pexpire" | "expireat"
            | "pexpireat" | "bitop" | "sort" | "sinterstore" | "sunionstore" | "sdiffstore"
            | "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" | "georadius"
            | "georadiusbymember" | "geosearchstore" | "restore",
            _,
        ) => vec![(G, "del")],
        // A command that emptied a collection: its own event, then "del".
        _ => {
            let mut v = events(name, args, role);
            v.push((G, "del"));
            v
        }
    }
}

/// A numkeys argument.
fn num(args: Args<'_>, at: usize) -> usize {
    args.try_get(at)
        .and_then(protocol::resp::parse_i64)
        .map_or(0, |n| n.max(0) as usize)
}
