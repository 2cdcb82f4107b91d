//! ACL users, as Redis 7.0: users with passwords and rules, checked on every command of
//! every door, the ACL command, the ACL file and the ACL log. docs/ACL.md is the user's
//! page.
//!
//! ```text
//!  AUTH / HELLO AUTH / HTTP bearer / memcached auth ─► authenticate ─► Session::acl
//!  execute_in ─► (arity) ─► SessionAcl::free_at(epoch) ── yes ─► run   (default user)
//!                                 │ no
//!                                 └─► check_command ─► User::check ─► NOPERM + ACL LOG
//!  ACL SETUSER/DELUSER/LOAD ─► store (copy-on-write users, epoch += 1) ─► kill clients
//!  CONFIG SET requirepass ─► the default user's password
//! ```
//!
//! Parts: `rules.rs` (users, selectors, the modifier parser and the describer), `cats.rs`
//! (categories and command ids from the command table), `pattern.rs` (compiled globs),
//! `check.rs` (the check and the session's cached user), `store.rs` (the users and the
//! epoch), `log.rs` (ACL LOG), `file.rs` (aclfile), `cmd.rs` (the ACL command).
//!
//! Cost: a session caches its user (an `Arc`) with the store's epoch. While nothing
//! changes and the user may run everything, a command costs one relaxed load and a
//! compare. A restricted user's check reads compiled rules through that `Arc`, with no
//! lock and no allocation for commands with fixed key positions.

mod cats;
mod check;
mod cmd;
mod file;
mod log;
mod pattern;
mod rules;
mod store;
#[cfg(test)]
mod tests;

pub use check::{Denied, SessionAcl};
pub use cmd::COMMANDS;
pub use rules::{User, READ, WRITE};

use crate::clients::Session;
use crate::config::Settings;
use crate::error::CmdError;
use crate::table::CommandSpec;
use crate::ServerState;
use log::{Context, Entry, Log, Reason};
use parking_lot::Mutex;
use protocol::args::OwnedArgs;
use protocol::Args;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// The server's ACL state (`ServerState::acl`).
pub struct Acl {
    pub(crate) store: store::Store,
    log: Mutex<Log>,
    /// The `requirepass` generation (`Settings::requirepass_gen`) the default user has.
    requirepass_seen: AtomicU64,
}

impl Acl {
    /// The default user alone, with `requirepass` as its password.
    pub fn new(settings: &Settings) -> Acl {
        let gen = settings.requirepass_gen.load(Relaxed);
        let pass = settings.requirepass.read().clone();
        Acl {
            store: store::Store::new(pass.as_deref()),
            log: Mutex::new(Log::default()),
            requirepass_seen: AtomicU64::new(gen),
        }
    }

    /// Changes whenever a user does (`store.rs`).
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.store.epoch()
    }

    /// Whether a new connection must authenticate (the default user has a password or is
    /// off): Redis's `authRequired` for a client that has not.
    #[inline]
    pub fn auth_required(&self) -> bool {
        self.store.auth_required()
    }

    /// A user by name.
    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.store.get(name)
    }

    /// Entries in the ACL log.
    #[cfg(test)]
    pub fn log_len(&self) -> usize {
        self.log.lock().len()
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Redis 7.0.15's refusal of a command.
fn noperm(d: Denied, spec: &CommandSpec) -> String {
    match d {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            spec.name
        ),
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }
}

fn reason(d: Denied) -> Reason {
    match d {
        Denied::Command => Reason::Command,
        Denied::Key(_) => Reason::Key,
        Denied::Channel(_) => Reason::Channel,
    }
}

fn context(sess: &Session) -> Context {
    if sess.acl.script.is_some() {
        Context::Lua
    } else if sess.multi.is_some() || sess.in_exec {
        Context::Multi
    } else {
        Context::Toplevel
    }
}

/// Add an event to the ACL log.
fn log_event(
    srv: &ServerState,
    sess: &Session,
    reason: Reason,
    context: Context,
    object: &[u8],
    username: &[u8],
    running: Option<&str>,
) {
    let max = srv
        .settings
        .value("acllog-max-len")
        .parse::<usize>()
        .unwrap_or(128);
    let e = Entry {
        count: 1,
        reason,
        context,
        object: object.to_vec(),
        username: username.to_vec(),
        at_ms: srv.ks.now(),
        client_info: sess.handle.info_line_running(running),
    };
    srv.acl.log.lock().add(e, max);
}

/// Log a refusal of `spec` with `args` by the session's user.
fn log_denied(srv: &ServerState, sess: &Session, d: Denied, spec: &CommandSpec, args: Args<'_>) {
    let object = match d {
        Denied::Command => spec.name.as_bytes(),
        Denied::Key(p) | Denied::Channel(p) => args.get(p),
    };
    // CLIENT INFO's `cmd=` is the client's command: EVAL for a script's calls, EXEC for
    // a transaction's.
    let running = match sess.acl.script {
        Some(caller) => caller,
        None if sess.in_exec => "exec",
        None => spec.name,
    };
    log_event(
        srv,
        sess,
        reason(d),
        context(sess),
        object,
        sess.acl.name(),
        Some(running),
    );
}

/// Fetch the session's user again after a change. A user that is gone (deleted, or not
/// in a reloaded file) may do nothing more, and its connection closes after this command,
/// as Redis disconnects the clients of a deleted user.
fn refresh(srv: &ServerState, sess: &mut Session) {
    let (user, epoch) = srv.acl.store.get_at(sess.acl.name());
    match user {
        Some(u) => sess.acl.set(u, epoch),
        None => {
            sess.acl.revoke(epoch);
            sess.close = true;
        }
    }
}

/// The command id and row a call is checked as: a container's subcommand when named
/// (`client|setname`), else the command (an unknown subcommand: the container).
fn resolve(srv: &ServerState, args: Args<'_>) -> Option<(u32, &'static CommandSpec)> {
    let row = srv.table.lookup_row(args.get(0))?;
    Some(match srv.table.stat_id(row, args) {
        Some(id) => (id, srv.table.stat_spec(id).unwrap_or(row.spec)),
        None => (row.stat, row.spec),
    })
}

/// `execute_in`'s check when the session's user is not known to be unrestricted: `id`
/// and `spec` are the call's (`resolve`). Err: the refusal, logged.
#[inline(never)]
pub(crate) fn check_command(
    srv: &ServerState,
    sess: &mut Session,
    id: u32,
    spec: &'static CommandSpec,
    args: Args<'_>,
) -> Result<(), String> {
    // The cluster bus is not a user (it proved the cluster secret); a script's calls are
    // checked by the script (`check_script`).
    if sess.bus.is_some() || sess.acl.trusted || sess.acl.script.is_some() {
        return Ok(());
    }
    if !sess.acl.fresh(srv.acl.epoch()) {
        refresh(srv, sess);
    }
    if sess.acl.free_at(srv.acl.epoch()) {
        return Ok(());
    }
    sess.acl.user().check(id, spec, args).map_err(|d| {
        log_denied(srv, sess, d, spec, args);
        noperm(d, spec)
    })
}

/// EXEC runs its queued commands only if the user may still run them (Redis checks again
/// in case the rules changed since they were queued).
pub(crate) fn recheck_queued(
    srv: &ServerState,
    sess: &mut Session,
    args: Args<'_>,
) -> Result<(), String> {
    if sess.acl.free_at(srv.acl.epoch()) || sess.bus.is_some() || sess.acl.trusted {
        return Ok(());
    }
    let Some((id, spec)) = resolve(srv, args) else {
        return Ok(());
    };
    if !sess.acl.fresh(srv.acl.epoch()) {
        refresh(srv, sess);
    }
    sess.acl.user().check(id, spec, args).map_err(|d| {
        log_denied(srv, sess, d, spec, args);
        let why = match d {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"
        )
    })
}

/// A script's `redis.call`: checked against the user that runs the script, with Redis's
/// script words (the script raises them as errors) and the `lua` log context.
pub(crate) fn check_script(
    srv: &ServerState,
    sess: &Session,
    spec: &'static CommandSpec,
    args: Args<'_>,
) -> Result<(), &'static str> {
    let epoch = srv.acl.epoch();
    if sess.acl.free_at(epoch) || sess.bus.is_some() || sess.acl.trusted {
        return Ok(());
    }
    let user = if sess.acl.fresh(epoch) {
        sess.acl.user().clone()
    } else {
        match srv.acl.store.get(sess.acl.name()) {
            Some(u) => u,
            None => {
                return Err(
                    "ERR The user executing the script can't run this command or subcommand",
                )
            }
        }
    };
    let Some((id, _)) = resolve(srv, args) else {
        return Ok(());
    };
    user.check(id, spec, args).map_err(|d| {
        log_denied(srv, sess, d, spec, args);
        match d {
            Denied::Command => "ERR The user executing the script can't run this command or subcommand",
            Denied::Key(_) => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
            Denied::Channel(_) => "ERR The user executing the script can't publish to the channel mentioned in the command",
        }
    })
}

/// `redis.acl_check_cmd(cmd, arg…)`: whether the user running the script may run this call
/// (its command, keys and channels), as Redis's ACLCheckAllUserCommandPerm answers it:
/// nothing is logged. `None`: no such command or subcommand
/// (the script raises Redis's "Invalid command passed to redis.acl_check_cmd()").
pub(crate) fn script_may_run(srv: &ServerState, sess: &Session, args: Args<'_>) -> Option<bool> {
    let row = srv.table.lookup_row(args.get(0))?;
    let id = srv.table.stat_id(row, args)?;
    let spec = srv.table.stat_spec(id).unwrap_or(row.spec);
    let epoch = srv.acl.epoch();
    if sess.acl.free_at(epoch) || sess.bus.is_some() || sess.acl.trusted {
        return Some(true);
    }
    let user = if sess.acl.fresh(epoch) {
        sess.acl.user().clone()
    } else {
        match srv.acl.store.get(sess.acl.name()) {
            Some(u) => u,
            None => return Some(false),
        }
    };
    // The checks below find keys by position; a call too short for its command (which
    // Redis reads past its arguments for) may not run, so it is not allowed.
    Some(spec.arity_ok(args.len()) && user.check(id, spec, args).is_ok())
}

/// SORT's BY and GET patterns read keys that no key spec names, so Redis lets only a user
/// that may read every key use them (`sortCommandGeneric`): one of its selectors must allow
/// this call and have `allkeys`, `~*` or `%R~*`. The user is the session's (a script's
/// caller's); the cluster bus is trusted (the node relaying checked, `check_args`).
pub(crate) fn may_read_every_key(srv: &ServerState, sess: &Session, args: Args<'_>) -> bool {
    let epoch = srv.acl.epoch();
    if sess.acl.free_at(epoch) || sess.bus.is_some() || sess.acl.trusted {
        return true;
    }
    let user = if sess.acl.fresh(epoch) {
        sess.acl.user().clone()
    } else {
        match srv.acl.store.get(sess.acl.name()) {
            Some(u) => u,
            None => return false,
        }
    };
    let Some((id, spec)) = resolve(srv, args) else {
        return false;
    };
    user.check_unrestricted_keys(id, spec, args, READ)
}

/// Check a request that is not a table command but does what `name` does (`get`, `set`,
/// `del`, `info`…) to `keys`: the memcached, HTTP and binary doors' native requests. Err:
/// the NOPERM refusal, logged.
pub fn check_as(
    srv: &ServerState,
    sess: &mut Session,
    name: &str,
    keys: &[&[u8]],
) -> Result<(), String> {
    let epoch = srv.acl.epoch();
    if sess.acl.free_at(epoch) || sess.bus.is_some() || sess.acl.trusted {
        return Ok(());
    }
    if !sess.acl.fresh(epoch) {
        refresh(srv, sess);
        if sess.acl.free_at(srv.acl.epoch()) {
            return Ok(());
        }
    }
    let owned = OwnedArgs::new(std::iter::once(name.as_bytes()).chain(keys.iter().copied()));
    let args = owned.args();
    let Some((id, spec)) = resolve(srv, args) else {
        debug_assert!(false, "no command {name}");
        return Err(format!(
            "NOPERM this user has no permissions to run the '{name}' command"
        ));
    };
    sess.acl.user().check(id, spec, args).map_err(|d| {
        log_denied(srv, sess, d, spec, args);
        noperm(d, spec)
    })
}

/// Check a command of the table before something other than `execute_in` runs it (cluster
/// mode: a command relayed to another node runs there as the bus). Unknown commands and
/// wrong arities pass: whoever runs them answers those errors first.
pub fn check_args(srv: &ServerState, sess: &mut Session, args: Args<'_>) -> Result<(), String> {
    match resolve(srv, args) {
        Some((id, spec)) if spec.arity_ok(args.len()) => {
            check_command(srv, sess, id, spec, args)?;
            // SORT's BY / GET patterns: the owner runs them as the trusted bus.
            match spec.name {
                "sort" | "sort_ro" => crate::sort::acl_refusal(srv, sess, args),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Whether the session's user may run everything (brought up to date first): the binary
/// door keeps its native fast path for such users only. One relaxed load when it may.
#[inline]
pub fn unrestricted(srv: &ServerState, sess: &mut Session) -> bool {
    sess.acl.free_at(srv.acl.epoch()) || unrestricted_slow(srv, sess)
}

#[inline(never)]
fn unrestricted_slow(srv: &ServerState, sess: &mut Session) -> bool {
    if sess.bus.is_some() || sess.acl.trusted {
        return true;
    }
    if !sess.acl.fresh(srv.acl.epoch()) {
        refresh(srv, sess);
    }
    sess.acl.free_at(srv.acl.epoch())
}

/// Make `user` the session's, authenticated (and its client's, for CLIENT LIST and for
/// disconnecting the clients of a deleted user).
pub fn login(srv: &ServerState, sess: &mut Session, user: Arc<User>) {
    *sess.handle.user.lock() = user.name.clone();
    let epoch = srv.acl.epoch();
    sess.acl.set(user, epoch);
    sess.authenticated = true;
}

/// The user `name` if `password` opens it (Redis's `ACLCheckUserCredentials`).
pub fn credentials(srv: &ServerState, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
    sync_requirepass(srv);
    srv.acl.store.get(name).filter(|u| u.password_ok(password))
}

/// AUTH / HELLO … AUTH: authenticate the session as `name`. A failure is logged (reason
/// `auth`, object the command as sent) and answered WRONGPASS.
pub fn authenticate(
    srv: &ServerState,
    sess: &mut Session,
    command: &[u8],
    name: &[u8],
    password: &[u8],
) -> Result<(), CmdError> {
    match credentials(srv, name, password) {
        Some(u) => {
            login(srv, sess, u);
            Ok(())
        }
        None => {
            let ctx = context(sess);
            let running = String::from_utf8_lossy(command).to_ascii_lowercase();
            log_event(srv, sess, Reason::Auth, ctx, command, name, Some(&running));
            Err(CmdError::Static(WRONGPASS))
        }
    }
}

/// Authenticate a door's credentials that are not a command (HTTP's bearer token,
/// memcached's auth `set`), logging a failure as Redis logs a failed AUTH.
pub fn authenticate_door(
    srv: &ServerState,
    sess: &mut Session,
    name: &[u8],
    password: &[u8],
) -> Result<(), &'static str> {
    authenticate(srv, sess, b"AUTH", name, password).map_err(|_| WRONGPASS)
}

/// Whether the one-argument AUTH is refused: the default user is `nopass`.
pub fn default_is_nopass(srv: &ServerState) -> bool {
    sync_requirepass(srv);
    srv.acl.store.default_nopass()
}

/// Whether this session must authenticate before other commands (Redis's
/// `authRequired`): it has not, and the default user needs a password or is off. Bus
/// connections must always prove the cluster secret.
#[inline]
pub fn auth_required(srv: &ServerState, sess: &Session) -> bool {
    !sess.authenticated && (sess.bus.is_some() || srv.auth_required())
}

/// A connection back to its state at connect (RESET): the default user, authenticated
/// only if the default user needs no password.
pub fn reset_session(srv: &ServerState, sess: &mut Session) {
    *sess.handle.user.lock() = b"default"[..].into();
    sess.acl = SessionAcl::default_user();
    sess.authenticated = !srv.acl.auth_required();
}

/// After `requirepass` changed (CONFIG SET, or any other way the setting is set): the
/// default user's passwords become that one (`nopass` when empty), as Redis's
/// `ACLUpdateDefaultUserPassword`. Connections stay as they are. One relaxed load when
/// nothing changed; called wherever the default user's password matters (new
/// connections, AUTH, the ACL command).
pub fn sync_requirepass(srv: &ServerState) {
    let gen = srv.settings.requirepass_gen.load(Relaxed);
    if gen == srv.acl.requirepass_seen.load(Relaxed) {
        return;
    }
    srv.acl.store.update(|users| {
        let gen = srv.settings.requirepass_gen.load(Relaxed);
        if gen == srv.acl.requirepass_seen.load(Relaxed) {
            return;
        }
        let pass = srv.settings.requirepass.read().clone();
        if let Some(d) = users.get(&b"default"[..]) {
            let mut d = User::clone(d);
            store::set_default_password(&mut d, pass.as_deref());
            users.insert(d.name.clone(), Arc::new(d));
        }
        srv.acl.requirepass_seen.store(gen, Relaxed);
    });
}

/// `acl-pubsub-default allchannels`: new users start with every channel.
fn pubsub_all(srv: &ServerState) -> bool {
    srv.settings.value("acl-pubsub-default") == "allchannels"
}

/// The configured ACL file (`aclfile`), if any.
fn aclfile(srv: &ServerState) -> Option<String> {
    Some(srv.settings.value("aclfile")).filter(|f| !f.is_empty())
}

/// At start-up: load `aclfile` when one is set. Err: why the server must not start
/// (Redis exits on any error in the file, a missing file included).
pub fn load_at_startup(srv: &ServerState) -> Result<(), String> {
    let lines = srv.settings.acl_users.read().clone();
    if !lines.is_empty() {
        return load_configured_users(srv, &lines);
    }
    let Some(f) = aclfile(srv) else {
        return Ok(());
    };
    let users = file::load(std::path::Path::new(&f), &f, pubsub_all(srv))
        .map_err(|e| format!("Aborting rcache startup because of ACL errors: {e}"))?;
    srv.acl.store.update(|u| *u = users);
    Ok(())
}

/// The configuration file's `user` lines (Redis's `ACLLoadConfiguredUsers`): each defines a
/// user, all or nothing; together with `aclfile` they are refused, as in Redis. The default
/// user, unless a line defines it, stays as it is (with `requirepass`'s password).
fn load_configured_users(srv: &ServerState, lines: &[String]) -> Result<(), String> {
    if aclfile(srv).is_some() {
        return Err(
            "Configuring rcache with users defined in the configuration file and at \
                    the same time an ACL file path is invalid: define either an ACL file \
                    (aclfile) or `user` lines in the configuration file, not both"
                .into(),
        );
    }
    let text: String = lines.iter().map(|l| format!("user {l}\n")).collect();
    let mut users = file::parse("configuration file", text.as_bytes(), pubsub_all(srv))
        .map_err(|e| format!("Aborting rcache startup because of ACL errors: {e}"))?;
    let names_default = lines.iter().any(|l| l.split(' ').next() == Some("default"));
    if !names_default {
        if let Some(d) = srv.acl.store.get(b"default") {
            users.insert(b"default"[..].into(), d);
        }
    }
    srv.acl.store.update(|u| *u = users);
    Ok(())
}

/// Close the connections authenticated as any of `names` (deleted users); the calling
/// session closes after its reply.
fn disconnect_users(srv: &ServerState, sess: &mut Session, gone: impl Fn(&[u8]) -> bool) {
    for h in srv.clients.list() {
        if !gone(&h.user.lock()) {
            continue;
        }
        if h.id == sess.id {
            sess.close = true;
        } else {
            h.kill();
        }
    }
    if gone(sess.acl.name()) {
        sess.close = true;
    }
}

/// After `name`'s channels changed from `old` to `new`: disconnect its subscribers whose
/// subscriptions the new rules no longer allow (Redis's `ACLKillPubsubClientsIfNeeded`).
fn disconnect_subscribers(srv: &ServerState, sess: &mut Session, old: &User, new: &User) {
    if new.selectors.iter().any(|s| s.allchannels) {
        return;
    }
    let upcoming: Vec<&pattern::Glob> = new.selectors.iter().flat_map(|s| &s.channels).collect();
    let superset = old.selectors.iter().all(|s| {
        !s.allchannels
            && s.channels
                .iter()
                .all(|c| upcoming.iter().any(|u| u.text() == c.text()))
    });
    if superset {
        return;
    }
    let allowed = |ch: &[u8], pattern: bool| {
        upcoming.iter().any(|g| {
            if pattern {
                g.text() == ch
            } else {
                g.matches(ch)
            }
        })
    };
    let mut doomed = Vec::new();
    srv.pubsub.for_each_subscription(|h, ch, pattern| {
        if *h.user.lock() == new.name && !allowed(ch, pattern) && !doomed.contains(&h.id) {
            doomed.push(h.id);
        }
    });
    for id in doomed {
        if id == sess.id {
            sess.close = true;
        } else if let Some(h) = srv.clients.get(id) {
            h.kill();
        }
    }
}
