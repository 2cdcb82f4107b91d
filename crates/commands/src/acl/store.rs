//! The user store: every ACL user by name, and the epoch that tells sessions their cached
//! copy of a user may be stale.
//!
//! ```text
//!  ACL SETUSER / DELUSER / LOAD, CONFIG SET requirepass
//!     └─ write lock ─► replace Arc<User> ─► epoch += 1 (Release)
//!  every command ─► session.epoch == epoch (one relaxed load) ─► cached Arc<User>
//!                   └─ differs ─► read lock, fetch the user again (once per change)
//! ```
//!
//! Users are immutable behind their `Arc`; a change stores a new one. The epoch sits on a
//! cache line of its own, so the load every command makes never shares a line with
//! counters other threads write.

use super::rules::User;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The users, in name order (ACL LIST / USERS / SAVE order, as Redis's radix tree).
pub type Users = BTreeMap<Box<[u8]>, Arc<User>>;

#[repr(align(128))]
struct Epoch(AtomicU64);

/// Every user, the change epoch, and what new connections need to know about `default`.
pub struct Store {
    epoch: Epoch,
    users: RwLock<Users>,
    /// The default user has a password or is off: new connections must AUTH (Redis's
    /// `authRequired`).
    default_needs_auth: AtomicBool,
    /// The default user is `nopass` (one-argument AUTH is then an error).
    default_nopass: AtomicBool,
}

impl Store {
    /// A store holding only the default user (`on nopass ~* &* +@all`), with `requirepass`
    /// as its password when one is set.
    pub fn new(requirepass: Option<&str>) -> Store {
        let mut d = User::new_default();
        set_default_password(&mut d, requirepass);
        let mut users = Users::new();
        users.insert(d.name.clone(), Arc::new(d));
        let s = Store {
            epoch: Epoch(AtomicU64::new(1)),
            users: RwLock::new(users),
            default_needs_auth: AtomicBool::new(false),
            default_nopass: AtomicBool::new(true),
        };
        s.changed(&s.users.read());
        s
    }

    /// The epoch: it changes whenever any user does.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.0.load(Ordering::Relaxed)
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// The user and the epoch it was read at, consistently.
    pub fn get_at(&self, name: &[u8]) -> (Option<Arc<User>>, u64) {
        let users = self.users.read();
        (users.get(name).cloned(), self.epoch())
    }

    /// Every user, by name.
    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    pub fn auth_required(&self) -> bool {
        self.default_needs_auth.load(Ordering::Relaxed)
    }

    pub fn default_nopass(&self) -> bool {
        self.default_nopass.load(Ordering::Relaxed)
    }

    /// Change the users under the write lock; `f` returns what the caller wants back. The
    /// epoch moves on whether or not `f` changed anything.
    pub fn update<T>(&self, f: impl FnOnce(&mut Users) -> T) -> T {
        let mut users = self.users.write();
        let r = f(&mut users);
        self.changed(&users);
        r
    }

    fn changed(&self, users: &Users) {
        if let Some(d) = users.get(&b"default"[..]) {
            self.default_needs_auth
                .store(!d.nopass || !d.enabled, Ordering::Relaxed);
            self.default_nopass.store(d.nopass, Ordering::Relaxed);
        }
        // Release: a session that sees the new epoch and takes the read lock finds the
        // new users (the lock orders that anyway; this keeps the epoch honest on its own).
        self.epoch.0.fetch_add(1, Ordering::Release);
    }
}

/// `requirepass` applied to the default user, as Redis's `ACLUpdateDefaultUserPassword`:
/// `resetpass`, then `>password`, or `nopass` when there is none.
pub fn set_default_password(d: &mut User, requirepass: Option<&str>) {
    let _ = d.apply(b"resetpass", false);
    match requirepass {
        Some(p) => {
            let mut op = b">".to_vec();
            op.extend_from_slice(p.as_bytes());
            let _ = d.apply(&op, false);
        }
        None => {
            let _ = d.apply(b"nopass", false);
        }
    }
}
