//! The permission check: may this user run this command, on these keys and channels?
//! Redis 7.0's `ACLSelectorCheckCmd` and `ACLCheckAllUserCommandPerm`, over the compiled
//! rules of `rules.rs`.
//!
//! ```text
//!  execute_in ─► SessionAcl::free_at(epoch)?  yes ─► run (the default user: one load)
//!                     │ no
//!                     └─► check: command bit (or first-arg) ─► keys (each key's position
//!                         and flags from the row's key specs) ─► channels (pub/sub commands)
//! ```
//!
//! Key access is per key, as Redis 7's key specs say (`keyspec.rs`, Redis's
//! `ACLSelectorCheckKey`): a key the command reads (ACCESS: GET's, INCR's, COPY's source)
//! needs `%R~` or `~`; one it changes (INSERT, UPDATE, DELETE: SET's, INCR's, COPY's
//! destination) needs `%W~` or `~`; INCR's needs both; a key with neither (EXISTS's) any
//! pattern that matches. Nothing here allocates for a command with fixed key positions
//! (GET, SET, MGET…), nor for the numkeys ones (EVAL, ZUNIONSTORE…).

use super::rules::{Selector, User};
use crate::keyspec;
use crate::table::{flags, CommandSpec};
use protocol::Args;
use std::sync::{Arc, OnceLock};

/// Why a command was refused, with the argument at fault (Redis's order of importance:
/// a channel beats a key beats the command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(p) => (2, p),
            Denied::Channel(p) => (4, p),
        }
    }
}

/// Which arguments of a pub/sub command are channels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Channels {
    None,
    /// SUBSCRIBE: every argument, matched against the user's patterns.
    All,
    /// PSUBSCRIBE: every argument, compared literally with the user's patterns.
    AllPatterns,
    /// PUBLISH: the first argument.
    First,
}

fn channels_of(spec: &CommandSpec) -> Channels {
    if !spec.has(flags::PUBSUB) {
        return Channels::None;
    }
    match spec.name {
        "subscribe" | "ssubscribe" => Channels::All,
        "psubscribe" => Channels::AllPatterns,
        "publish" | "spublish" => Channels::First,
        _ => Channels::None,
    }
}

/// Whether `key` may be accessed with `need` (READ and/or WRITE) through `sel`.
#[inline]
fn key_ok(sel: &Selector, key: &[u8], need: u8) -> bool {
    sel.allkeys
        || sel
            .keys
            .iter()
            .any(|k| k.flags & need == need && k.glob.matches(key))
}

/// A channel (or, `pattern`, a PSUBSCRIBE pattern taken literally) against a selector.
pub fn channel_ok(sel: &Selector, channel: &[u8], pattern: bool) -> bool {
    sel.allchannels
        || sel.channels.iter().any(|g| {
            if pattern {
                g.text() == channel
            } else {
                g.matches(channel)
            }
        })
}

fn check_selector(
    sel: &Selector,
    id: u32,
    spec: &CommandSpec,
    args: Args<'_>,
) -> Result<(), Denied> {
    if !sel.allcommands && !spec.has(flags::NO_AUTH) && !sel.bit(id) {
        // `+select|0`: the command is allowed with that first argument only.
        let idx = if spec.name.contains('|') { 2 } else { 1 };
        let first = sel.firstargs(id);
        let ok = args.len() > 1
            && args
                .try_get(idx)
                .is_some_and(|a| first.iter().any(|f| f.eq_ignore_ascii_case(a)));
        if !ok {
            return Err(Denied::Command);
        }
    }
    if !sel.allkeys && keyspec::has_keys(spec) {
        let mut denied = None;
        keyspec::for_each_key(spec, args, |p, f| {
            let ok = key_ok(sel, args.get(p), keyspec::need(f));
            if !ok {
                denied = Some(p);
            }
            ok
        });
        if let Some(p) = denied {
            return Err(Denied::Key(p));
        }
    }
    if !sel.allchannels {
        let (from, to, pattern) = match channels_of(spec) {
            Channels::None => return Ok(()),
            Channels::All => (1, args.len(), false),
            Channels::AllPatterns => (1, args.len(), true),
            Channels::First => (1, 2.min(args.len()), false),
        };
        for p in from..to {
            if !channel_ok(sel, args.get(p), pattern) {
                return Err(Denied::Channel(p));
            }
        }
    }
    Ok(())
}

impl User {
    /// May this user run command `id` (its row `spec`) with `args`? Any selector that
    /// allows it is enough; otherwise the most telling refusal (Redis's rule).
    pub fn check(&self, id: u32, spec: &CommandSpec, args: Args<'_>) -> Result<(), Denied> {
        let mut worst = Denied::Command;
        for sel in &self.selectors {
            match check_selector(sel, id, spec, args) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if d.rank() > worst.rank() {
                        worst = d;
                    }
                }
            }
        }
        Err(worst)
    }

    /// Whether a selector that allows this call may also access every key with `need`
    /// (`allkeys`, or the pattern `*` with that access): Redis's
    /// `ACLUserCheckCmdWithUnrestrictedKeyAccess`, which SORT's BY and GET patterns need
    /// (they name keys no key spec shows).
    pub fn check_unrestricted_keys(
        &self,
        id: u32,
        spec: &CommandSpec,
        args: Args<'_>,
        need: u8,
    ) -> bool {
        self.selectors.iter().any(|s| {
            check_selector(s, id, spec, args).is_ok()
                && (s.allkeys
                    || s.keys
                        .iter()
                        .any(|k| k.flags & need == need && k.glob.is_star()))
        })
    }
}

/// Before the first command, and never equal to a store epoch: forces a refresh.
const STALE: u64 = u64::MAX;

/// A connection's user, as its session caches it. `free` (the user may run everything) is
/// copied from the user when it is fetched, so the default user costs one relaxed load
/// and a compare per command.
#[derive(Clone)]
pub struct SessionAcl {
    epoch: u64,
    free: bool,
    user: Arc<User>,
    /// The session of a script's `redis.call` (the command running the script, for the
    /// log): checked there (`check_script`), with the script's words and the `lua`
    /// context, not again by `execute_in`.
    pub(crate) script: Option<&'static str>,
    /// Not a user's: the cluster bus, and scripts it runs (the node the client is
    /// connected to checked the request before relaying it).
    pub(crate) trusted: bool,
}

impl Default for SessionAcl {
    fn default() -> Self {
        Self::default_user()
    }
}

impl SessionAcl {
    /// The default user, fetched from the store at the first command.
    pub fn default_user() -> SessionAcl {
        static NOBODY: OnceLock<Arc<User>> = OnceLock::new();
        SessionAcl {
            epoch: STALE,
            free: false,
            // A placeholder without permissions, named as the user to fetch.
            user: NOBODY
                .get_or_init(|| Arc::new(User::new(b"default", false)))
                .clone(),
            script: None,
            trusted: false,
        }
    }

    /// Whether the session's user may run everything and is current at `epoch`.
    #[inline]
    pub fn free_at(&self, epoch: u64) -> bool {
        self.free && self.epoch == epoch
    }

    /// The user's name.
    pub fn name(&self) -> &[u8] {
        &self.user.name
    }

    /// The cached user (check `fresh` first).
    pub fn user(&self) -> &Arc<User> {
        &self.user
    }

    pub fn fresh(&self, epoch: u64) -> bool {
        self.epoch == epoch
    }

    /// Use `user`, as read at `epoch`.
    pub fn set(&mut self, user: Arc<User>, epoch: u64) {
        self.free = user.unrestricted();
        self.user = user;
        self.epoch = epoch;
    }

    /// A user that no longer exists: nothing is allowed any more.
    pub fn revoke(&mut self, epoch: u64) {
        let name = self.user.name.clone();
        self.set(Arc::new(User::new(&name, false)), epoch);
    }
}
