//! DEBUG: the subcommands tests and tools rely on, with Redis's replies and errors.
//!
//! | subcommand | what it does |
//! |---|---|
//! | `HELP` | the subcommands below |
//! | `SLEEP <seconds>` | blocks the server that long (decimals allowed), as Redis does |
//! | `OBJECT <key>` | Redis's line: `Value at:… refcount:1 encoding:… serializedlength:… lru:… lru_seconds_idle:…` |
//! | `SET-ACTIVE-EXPIRE <0\|1>` | turns the active expiry cycle off / on (keys then expire only when accessed) |
//! | `ERROR <string>` | replies `<string>` as an error |
//! | `LOG <message>` | writes the message to the server log |
//! | `RELOAD [MERGE] [NOFLUSH] [NOSAVE]` | saves the snapshot, empties the keyspace, loads the snapshot back |
//!
//! Every other DEBUG subcommand of Redis (SEGFAULT, DIGEST, POPULATE, JMAP-like tools of
//! other servers…) answers `ERR unknown subcommand or wrong number of arguments for '…'.
//! Try DEBUG HELP.`, never a fake OK.
//!
//! DEBUG is `protected`: it runs only as `enable-debug-command` allows (default `no`;
//! `local`: clients on the loopback interface), else `execute_in` refuses it before it runs
//! with Redis's words (`NOT_ALLOWED`). It is also `EXCLUSIVE`: it runs holding the gate
//! alone, so DEBUG SLEEP stops every client as it stops Redis's single thread (without
//! BUSY: that is for scripts), and RELOAD replaces the dataset between two commands.

use crate::client_cmd::reply_help;
use crate::clients::Session;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, lossy};
use crate::{cmd, Ctx, ServerState};
use protocol::Args;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use storage::ObjType;

pub const COMMANDS: &[CommandSpec] = &[cmd!(
    "debug",
    -2,
    ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED | EXCLUSIVE,
    0,
    0,
    0,
    debug,
    "server",
    "1.0.0",
    "A container for debugging commands.",
    ""
)];

/// Redis's refusal when `enable-debug-command` does not allow this client.
pub const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// What DEBUG switches at run time.
pub struct DebugState {
    /// DEBUG SET-ACTIVE-EXPIRE: whether the cron runs the active expiry cycle.
    active_expire: AtomicBool,
    /// Cron ticks that reached the active expiry step (run or skipped): lets a test wait
    /// for "the cycle had its chance" by polling instead of sleeping.
    pub expire_ticks: AtomicU64,
}

impl Default for DebugState {
    fn default() -> Self {
        DebugState {
            active_expire: AtomicBool::new(true),
            expire_ticks: AtomicU64::new(0),
        }
    }
}

impl DebugState {
    /// Whether the cron should run the active expiry cycle.
    pub fn active_expire(&self) -> bool {
        self.active_expire.load(Relaxed)
    }

    pub fn set_active_expire(&self, on: bool) {
        self.active_expire.store(on, Relaxed);
    }
}

/// Whether `enable-debug-command` lets this client run DEBUG (Redis's `allowProtectedAction`:
/// `yes`, or `local` for a client on 127.0.0.1 / ::1).
pub fn allowed(srv: &ServerState, sess: &Session) -> bool {
    match srv.settings.value("enable-debug-command").as_str() {
        "yes" => true,
        "local" => sess
            .handle
            .addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback()),
        _ => false,
    }
}

/// DEBUG <subcommand> [args]
fn debug(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let sub = args.get(1);
    let n = args.len();
    if n == 2 && eq_ic(sub, "help") {
        reply_help(ctx, HELP);
    } else if n == 3 && eq_ic(sub, "sleep") {
        sleep(ctx.srv, strtod(args.get(2)));
        ctx.out.ok();
    } else if n == 3 && eq_ic(sub, "object") {
        object(ctx, args.get(2))?;
    } else if n == 3 && eq_ic(sub, "set-active-expire") {
        ctx.srv.debug.set_active_expire(atoi(args.get(2)) != 0);
        ctx.out.ok();
    } else if n == 3 && eq_ic(sub, "error") {
        ctx.out.error(&lossy(args.get(2)));
    } else if n == 3 && eq_ic(sub, "log") {
        tracing::warn!("DEBUG LOG: {}", lossy(args.get(2)));
        ctx.out.ok();
    } else if eq_ic(sub, "reload") {
        reload(ctx, args)?;
    } else {
        return Err(crate::util::subcommand_syntax_error(args));
    }
    Ok(())
}

/// C's `strtod` as Redis applies it: the longest prefix that reads as a number, else 0.
fn strtod(b: &[u8]) -> f64 {
    let s = lossy(b);
    let s = s.trim_start();
    let end = s
        .char_indices()
        .take(64)
        .map(|(i, c)| i + c.len_utf8())
        .filter(|&i| s[..i].parse::<f64>().is_ok())
        .last();
    end.map_or(0.0, |i| s[..i].parse().unwrap_or(0.0))
}

/// C's `atoi`: optional sign, then digits, stopping at the first other character.
fn atoi(b: &[u8]) -> i64 {
    let s = lossy(b);
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            acc.saturating_mul(10).saturating_add((d - b'0') as i64)
        });
    if neg {
        -v
    } else {
        v
    }
}

/// DEBUG SLEEP: the server stops for `secs` (this command holds the gate alone). Nothing
/// for zero, negative or non-finite times (Redis's nanosleep refuses those too). Ends early
/// when the server shuts down.
fn sleep(srv: &ServerState, secs: f64) {
    if !(secs.is_finite() && secs > 0.0) {
        return;
    }
    let until = std::time::Instant::now() + Duration::from_secs_f64(secs.min(1e9));
    loop {
        let now = std::time::Instant::now();
        if now >= until || srv.shutdown.is_requested() {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}

/// DEBUG OBJECT key: Redis's status line. `Value at` is the entry's address; `encoding` is
/// what OBJECT ENCODING says; `serializedlength` the bytes of the value's DUMP body (rcache's
/// serialisation, where Redis gives its RDB's); `lru` the entry's access clock (seconds,
/// 24 bits as Redis shows it) and `lru_seconds_idle` the seconds since. The key is not
/// touched, and a missing key is `ERR no such key`.
fn object(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult {
    let k = ctx.key(key);
    let mut txn = ctx.txn1(&k);
    let now = txn.now();
    let Some(e) = txn.peek(&k) else {
        return Err(CmdError::NoSuchKey);
    };
    let encoding = if matches!(e.obj_type(), ObjType::String) {
        crate::object::string_encoding(e.value())
    } else {
        storage::types::encoding_name(e)
    };
    let serialized = storage::dump::encode(&storage::types::generic::to_value(e)).len();
    // The payload is `tag | body | version (2) | CRC-64 (8)`: the body alone is the value's
    // serialisation.
    let serialized = serialized.saturating_sub(11);
    let line = format!(
        "Value at:{:p} refcount:1 encoding:{encoding} serializedlength:{serialized} lru:{} lru_seconds_idle:{}",
        e as *const storage::Entry,
        e.lru() & 0x00FF_FFFF,
        storage::evict::idle_ms(e.lru(), now) / 1000
    );
    drop(txn);
    ctx.out.simple(&line);
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the snapshot (unless NOSAVE), empty the
/// keyspace (unless NOFLUSH), load the snapshot file back. Runs holding the gate alone.
///
/// Unlike Redis, the file is verified in full before anything is emptied, so a missing or
/// damaged file (NOSAVE) leaves the data as it was; and with NOFLUSH a key in both is
/// replaced by the file's whether or not MERGE is given (Redis stops the server on such a
/// key without MERGE). Neither the emptying nor the load is written to the append-only log:
/// after a save the dataset is the one before the reload; after NOSAVE the log is rewritten
/// from the loaded data (Redis leaves its log describing the data before the reload).
fn reload(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut save, mut flush) = (true, true);
    for opt in args.iter().skip(2) {
        if eq_ic(opt, "merge") {
        } else if eq_ic(opt, "noflush") {
            flush = false;
        } else if eq_ic(opt, "nosave") {
            save = false;
        } else {
            return Err(CmdError::Static(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let srv = ctx.srv;
    let p = &srv.persistence;
    if p.bgsave_running.load(Relaxed) {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    if save {
        crate::persistence::save_now(srv).map_err(|e| CmdError::Msg(format!("ERR {e}")))?;
    } else {
        crate::persistence::lock_dir(srv).map_err(|e| CmdError::Msg(format!("ERR {e}")))?;
    }
    let path = crate::persistence::snapshot_path(srv);
    let load_error = |e: &dyn std::fmt::Display| {
        CmdError::Msg(format!("ERR Error trying to load the RDB dump: {e}"))
    };
    persist::snapshot::inspect(&path, srv.ks.now()).map_err(|e| load_error(&e))?;
    if flush {
        srv.ks.flush(None, false);
    }
    let limits = srv.settings.limits();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // The function libraries first, as Redis empties and reloads them too (NOFLUSH: the
    // file's replace those of the same names).
    let sum =
        persist::snapshot::load_with(&path, &srv.ks, &limits, srv.ks.now(), workers, |libs| {
            crate::persistence::load_functions(srv, libs, flush)
        })
        .map_err(|e| load_error(&e))?;
    // What is loaded is what is on disk.
    p.changes_at_save.store(srv.ks.changes(), Relaxed);
    *p.last_load.lock() = (sum.records - sum.expired, sum.expired);
    // NOSAVE put back older data than the append-only log describes: rebase the log on
    // what was loaded (a rewrite, whose instant is now: the gate is still held alone).
    if !save && srv.aof.is_on() {
        if let Err(e) = crate::aof::rewrite_start(srv) {
            tracing::warn!("append-only log rewrite after DEBUG RELOAD NOSAVE: {e}");
        }
    }
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "RELOAD [option ...]",
    "    Save the snapshot on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from the snapshot.",
    "    * NOFLUSH: the existing database will not be removed before load; conflicting",
    "      keys are loaded from the snapshot.",
    "    * NOSAVE: the database will be loaded from the existing snapshot file.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests;
