//! ACL users and their rules: the rule parser (ACL SETUSER's modifiers, one at a time, in
//! Redis 7.0's words and order of checks), and the inverse, the rule string ACL LIST,
//! ACL GETUSER and the ACL file show.
//!
//! ```text
//!  User ── flags (on/off, nopass, sanitize-payload), passwords (SHA-256, hex)
//!    └─ selectors[0] = the root selector, then `(…)` selectors
//!         Selector ── command bits (one per command id, `cats.rs`) + first-args
//!                  ── key patterns (~ %R~ %W~) ── channel patterns (&)
//! ```
//!
//! A `User` is immutable once stored: ACL SETUSER works on a copy and swaps it in whole
//! (`store.rs`), so connections checking with the old copy never see half a change.
//! Describing follows Redis 7.0's algorithm (`ACLDescribeSelectorCommandRules`): start
//! from `+@all` or `-@all`, greedily add the categories that best fit the user's command
//! bits, then list single commands to make up the difference. Single commands come in
//! name order, where Redis's come in its hash table's (random per start) order.

use super::cats::{self, category, CATEGORIES};
use super::pattern::Glob;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Key pattern permissions (`%R~`, `%W~`; `~` is both).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

/// Why a modifier was refused: Redis's errno, and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// EINVAL
    Syntax,
    /// ENOENT
    Unknown,
    /// EEXIST
    KeysAfterAll,
    /// EISDIR
    ChannelsAfterAll,
    /// ENODEV
    NoSuchPassword,
    /// EBADMSG
    BadHash,
    /// ECHILD
    FirstArgOfSubcommand,
}

impl RuleError {
    /// Redis's `ACLSetUserStringError`.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::KeysAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelsAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// A key pattern with its permissions (`READ | WRITE` for `~`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub flags: u8,
    pub glob: Glob,
}

/// One set of permissions: the root selector, or one of `(…)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub root: bool,
    pub allkeys: bool,
    pub allchannels: bool,
    pub allcommands: bool,
    /// Redis's reserved "future commands" bit: set by `+@all`, cleared only by `-@all`;
    /// decides whether the description starts from `+@all` or from `-@all`.
    future: bool,
    /// One bit per command id.
    bits: Vec<u64>,
    /// `+select|0`: first arguments allowed for a command whose bit is off.
    firstargs: BTreeMap<u32, Vec<Box<[u8]>>>,
    pub keys: Vec<KeyPattern>,
    pub channels: Vec<Glob>,
}

/// Whether `b` holds a space (C's `isspace`) or a NUL: refused in names and patterns.
pub fn has_spaces(b: &[u8]) -> bool {
    b.iter()
        .any(|&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0))
}

impl Selector {
    /// An empty selector (no commands, keys or channels), with `allchannels` as
    /// `acl-pubsub-default` says.
    pub fn new(root: bool, pubsub_all: bool) -> Selector {
        Selector {
            root,
            allkeys: false,
            allchannels: pubsub_all,
            allcommands: false,
            future: false,
            bits: vec![0; cats::index().len().div_ceil(64)],
            firstargs: BTreeMap::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    #[inline]
    pub fn bit(&self, id: u32) -> bool {
        self.bits
            .get(id as usize >> 6)
            .is_some_and(|w| w >> (id & 63) & 1 == 1)
    }

    /// The first arguments allowed for command `id` (empty when none).
    #[inline]
    pub fn firstargs(&self, id: u32) -> &[Box<[u8]>] {
        self.firstargs.get(&id).map_or(&[], |v| v.as_slice())
    }

    fn set_bit(&mut self, id: u32, on: bool) {
        let (w, b) = (id as usize >> 6, id & 63);
        if on {
            self.bits[w] |= 1 << b;
        } else {
            self.bits[w] &= !(1 << b);
            self.allcommands = false;
        }
    }

    /// Allow or deny a command; a container carries its subcommands along.
    fn change(&mut self, id: u32, on: bool) {
        self.set_bit(id, on);
        self.firstargs.remove(&id);
        for sub in cats::index().subs(id) {
            self.set_bit(sub, on);
        }
    }

    /// `+@cat` / `-@cat`: every command (and subcommand) in the category.
    fn change_category(&mut self, mask: u32, on: bool) {
        let ix = cats::index();
        for &id in ix.top() {
            if ix.cats(id) & mask != 0 {
                self.change(id, on);
            }
            for sub in ix.subs(id) {
                if ix.cats(sub) & mask != 0 {
                    self.change(sub, on);
                }
            }
        }
    }

    fn all_commands(&mut self, on: bool) {
        let fill = if on { u64::MAX } else { 0 };
        self.bits.iter_mut().for_each(|w| *w = fill);
        self.allcommands = on;
        self.future = on;
        self.firstargs.clear();
    }

    /// (allowed, denied) commands of a category.
    fn count(&self, mask: u32) -> (usize, usize) {
        let ix = cats::index();
        let (mut on, mut off) = (0, 0);
        for id in ix.walk() {
            if ix.cats(id) & mask != 0 {
                if self.bit(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// Apply one selector modifier (Redis's `ACLSetSelector`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Err(RuleError::Syntax);
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("allkeys") || op == b"~*" {
            self.allkeys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.allkeys = false;
            self.keys.clear();
        } else if is("allchannels") || op == b"&*" {
            self.allchannels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.all_commands(true);
        } else if is("nocommands") || is("-@all") {
            self.all_commands(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.allchannels {
                return Err(RuleError::ChannelsAfterAll);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|g| g.text() == pat) {
                self.channels.push(Glob::new(pat));
            }
            self.allchannels = false;
        } else if op[0] == b'+' && op.get(1) != Some(&b'@') {
            self.allow_command(&op[1..])?;
        } else if op[0] == b'-' && op.get(1) != Some(&b'@') {
            let id = cats::index().id_of(&op[1..]).ok_or(RuleError::Unknown)?;
            self.change(id, false);
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let mask = category(&op[2..]).ok_or(RuleError::Unknown)?;
            self.change_category(mask, op[0] == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.allkeys {
            return Err(RuleError::KeysAfterAll);
        }
        let mut flags = 0;
        let mut at = 1;
        if op[0] == b'%' {
            while at < op.len() {
                match op[at].to_ascii_uppercase() {
                    b'R' if flags & READ == 0 => flags |= READ,
                    b'W' if flags & WRITE == 0 => flags |= WRITE,
                    b'~' => {
                        at += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                at += 1;
            }
            // Redis 7.0.15 refuses a `%` without a permission (`%~x`).
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
        } else {
            flags = READ | WRITE;
        }
        let pat = &op[at..];
        if has_spaces(pat) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.glob.text() == pat) {
            Some(k) => k.flags |= flags,
            None => self.keys.push(KeyPattern {
                flags,
                glob: Glob::new(pat),
            }),
        }
        self.allkeys = false;
        Ok(())
    }

    /// `+name`, `+container|sub`, `+command|first-arg`.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let ix = cats::index();
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let id = ix.id_of(name).ok_or(RuleError::Unknown)?;
            self.change(id, true);
            return Ok(());
        };
        let (cmd, sub) = (&name[..bar], &name[bar + 1..]);
        let id = ix.id_of(cmd).ok_or(RuleError::Unknown)?;
        if ix.parent(id).is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !ix.subs(id).is_empty() {
            let sid = ix.id_of(name).ok_or(RuleError::Unknown)?;
            self.change(sid, true);
        } else {
            // Redis warns this is a deprecated misuse; it still allows it.
            let list = self.firstargs.entry(id).or_default();
            if !list.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                list.push(sub.into());
            }
        }
        Ok(())
    }

    /// The command rules, as `ACLDescribeSelectorCommandRules` writes them.
    pub fn describe_commands(&self) -> String {
        let ix = cats::index();
        let additive = !self.future;
        let mut rules = String::new();
        let mut fake = Selector::new(false, false);
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.all_commands(true);
        }
        // Categories that fit: more commands in common than different, fewest
        // differences first, then most in common.
        let mut temp = self.clone();
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, _) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count(1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            fake.change_category(1 << j, additive);
            temp.change_category(1 << j, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(CATEGORIES[j]);
            rules.push(' ');
            applied[j] = true;
        }
        // Single commands make up the difference.
        for &id in ix.top() {
            for id in std::iter::once(id).chain(ix.subs(id)) {
                let user = self.bit(id);
                if user != fake.bit(id) {
                    rules.push(if user { '+' } else { '-' });
                    rules.push_str(ix.spec(id).name);
                    rules.push(' ');
                    fake.change(id, user);
                }
                if !user {
                    for a in self.firstargs(id) {
                        rules.push('+');
                        rules.push_str(ix.spec(id).name);
                        rules.push('|');
                        rules.push_str(&String::from_utf8_lossy(a));
                        rules.push(' ');
                    }
                }
            }
        }
        debug_assert_eq!(
            fake.bits, self.bits,
            "description does not rebuild the rules"
        );
        rules.pop();
        rules
    }

    /// Key patterns as GETUSER shows them: `~*`, or `~a %R~b`.
    pub fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let v: Vec<String> = self.keys.iter().map(key_rule).collect();
        v.join(" ")
    }

    /// Channel patterns as GETUSER shows them: `&*`, or `&a &b`.
    pub fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let v: Vec<String> = self
            .channels
            .iter()
            .map(|g| format!("&{}", String::from_utf8_lossy(g.text())))
            .collect();
        v.join(" ")
    }

    /// The whole selector as rules (`ACLDescribeSelector`).
    fn describe(&self) -> String {
        let mut s = String::new();
        if self.allkeys {
            s.push_str("~* ");
        } else {
            for k in &self.keys {
                s.push_str(&key_rule(k));
                s.push(' ');
            }
        }
        if self.allchannels {
            s.push_str("&* ");
        } else {
            s.push_str("resetchannels ");
            for c in &self.channels {
                s.push('&');
                s.push_str(&String::from_utf8_lossy(c.text()));
                s.push(' ');
            }
        }
        s.push_str(&self.describe_commands());
        s
    }
}

fn key_rule(k: &KeyPattern) -> String {
    let prefix = match k.flags {
        READ => "%R~",
        WRITE => "%W~",
        _ => "~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(k.glob.text()))
}

/// `sanitize-payload` / `skip-sanitize-payload`: recorded and shown (RESTORE always
/// checks payloads in rcache).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sanitize {
    Unset,
    Check,
    Skip,
}

/// One ACL user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: Box<[u8]>,
    pub enabled: bool,
    pub nopass: bool,
    pub sanitize: Sanitize,
    /// SHA-256 of each password, lowercase hex (Redis's storage and ACL LIST form).
    pub passwords: Vec<String>,
    /// `[0]` is the root selector.
    pub selectors: Vec<Selector>,
}

/// SHA-256 of a password, lowercase hex.
pub fn hash_password(p: &[u8]) -> String {
    let d = Sha256::digest(p);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
        s.push(char::from(b"0123456789abcdef"[(b & 15) as usize]));
    }
    s
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compare without an early exit, so timing does not reveal how much matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl User {
    /// A new user as Redis creates one: off, no password, no permissions.
    pub fn new(name: &[u8], pubsub_all: bool) -> User {
        User {
            name: name.into(),
            enabled: false,
            nopass: false,
            sanitize: Sanitize::Unset,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, pubsub_all)],
        }
    }

    /// The default user as Redis creates it: `on nopass ~* &* +@all`.
    pub fn new_default() -> User {
        let mut u = User::new(b"default", false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(op.as_bytes(), false).expect("valid rules");
        }
        u
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// Whether this user may run every command on every key and channel: the sessions of
    /// such a user skip the permission check (one branch per command).
    pub fn unrestricted(&self) -> bool {
        let r = self.root();
        self.selectors.len() == 1 && r.allcommands && r.allkeys && r.allchannels
    }

    /// Whether `password` opens this user (an enabled user; `nopass` takes any).
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash_password(password);
        // Every stored hash is compared, so timing does not say which one matched.
        self.passwords
            .iter()
            .fold(false, |ok, p| same(p.as_bytes(), h.as_bytes()) | ok)
    }

    /// Apply one modifier (Redis's `ACLSetUser`). `pubsub_all`: `acl-pubsub-default` is
    /// `allchannels` (new selectors and `reset` start with every channel).
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Sanitize::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = Sanitize::Check;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let h = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&h) {
                self.passwords.push(h);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let h = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let at = self.passwords.iter().position(|p| *p == h);
            self.passwords.remove(at.ok_or(RuleError::NoSuchPassword)?);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::new(false, pubsub_all);
            for a in split_selector(&op[1..op.len() - 1]) {
                s.apply(&a)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply(op.as_bytes(), pubsub_all)?;
            }
            if pubsub_all {
                self.apply(b"allchannels", pubsub_all)?;
            }
            for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply(op.as_bytes(), pubsub_all)?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The user's rules without the name (`ACLDescribeUser`): flags, password hashes,
    /// the root selector, then ` (…)` for each other selector.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for f in self.flag_names() {
            s.push_str(f);
            s.push(' ');
        }
        for p in &self.passwords {
            s.push('#');
            s.push_str(p);
            s.push(' ');
        }
        for sel in &self.selectors {
            if sel.root {
                s.push_str(&sel.describe());
            } else {
                s.push_str(" (");
                s.push_str(&sel.describe());
                s.push(')');
            }
        }
        s
    }

    /// GETUSER's `flags`, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.sanitize {
            Sanitize::Skip => v.push("skip-sanitize-payload"),
            Sanitize::Check => v.push("sanitize-payload"),
            Sanitize::Unset => {}
        }
        v
    }
}

/// A selector's inner text split as `sdssplitargs` splits it; unbalanced quotes give no
/// arguments (an empty selector), as in Redis.
fn split_selector(inner: &[u8]) -> Vec<Vec<u8>> {
    let mut scratch = Vec::new();
    let mut ranges = Vec::new();
    match protocol::inline::split_args(inner, &mut scratch, &mut ranges) {
        Ok(()) => ranges.into_iter().map(|r| scratch[r].to_vec()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Join selector definitions spread over several arguments (`(~a` `+get)` → `(~a +get)`),
/// as `ACLMergeSelectorArguments`. Err: the argument that opened an unclosed selector.
pub fn merge_selector_args<'a>(
    args: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut out = Vec::new();
    let mut open: Option<(Vec<u8>, Vec<u8>)> = None;
    for op in args {
        if let Some((sel, _)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(open.take().expect("open").0);
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((op.to_vec(), op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((_, start)) => Err(start),
        None => Ok(out),
    }
}

/// ACL SETUSER's rules applied to `base` (a copy of the user, or a new one): all or
/// nothing. Err is the reply's message (without `ERR `).
pub fn set_user(base: User, args: &[&[u8]], pubsub_all: bool) -> Result<User, String> {
    let merged = merge_selector_args(args.iter().copied()).map_err(|start| {
        format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&start)
        )
    })?;
    let mut u = base;
    for op in &merged {
        u.apply(op, pubsub_all).map_err(|e| {
            format!(
                "Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(op),
                e.message()
            )
        })?;
    }
    Ok(u)
}
