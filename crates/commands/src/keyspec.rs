//! Key specs: where each key of a command is and what the command does to it, as Redis
//! 7.0's key specs say (`src/commands/*.json`, `getKeysFromCommandWithSpecs` in db.c).
//!
//! Each row of the command table carries its specs (`CommandSpec::key_specs`, filled by
//! `cmd!` from the generated `keyspec/specs.rs` at compile time), so the table stays the
//! one source. They drive three things:
//!
//! * ACL key permissions (`acl/check.rs`): a key whose flags say ACCESS must be readable
//!   (`%R~`), INSERT/UPDATE/DELETE writable (`%W~`); INCR needs both, COPY's source only
//!   read, SET without GET only write (Redis's `ACLSelectorCheckKey`);
//! * COMMAND GETKEYSANDFLAGS, and COMMAND INFO's key specs (`introspect.rs`);
//! * nothing else: cluster routing keeps the table's first/last/step and
//!   `cluster_cmd::key_positions` (the unit tests check both find the same keys).
//!
//! ```text
//!  for_each_key(row, args, f)
//!     ├─ no specs (rcache's own commands): the table's positions, flags from the row
//!     ├─ SET, BITFIELD (variable flags): Redis's setGetKeys / bitfieldGetKeys
//!     ├─ every spec valid: each spec's keys with its flags, in spec order
//!     └─ else (SORT's unknown specs, a bad numkeys…): Redis's getkeys procs
//! ```
//!
//! Nothing here allocates (but rcache's own movable-key commands, which have no specs).

use crate::table::CommandSpec;
use protocol::Args;

mod specs;

/// Key-spec flags, Redis's `CMD_KEY_*`.
pub mod flags {
    pub const RO: u16 = 1 << 0;
    pub const RW: u16 = 1 << 1;
    pub const OW: u16 = 1 << 2;
    pub const RM: u16 = 1 << 3;
    pub const ACCESS: u16 = 1 << 4;
    pub const UPDATE: u16 = 1 << 5;
    pub const INSERT: u16 = 1 << 6;
    pub const DELETE: u16 = 1 << 7;
    pub const NOT_KEY: u16 = 1 << 8;
    pub const INCOMPLETE: u16 = 1 << 9;
    pub const VARIABLE_FLAGS: u16 = 1 << 10;

    /// (flag, name) in the order Redis replies them (`addReplyFlagsForKeyArgs`).
    pub const NAMES: &[(u16, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}
use flags::*;

/// Where a spec's first key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// Not known from the arguments' shape (SORT's BY/GET/STORE): the command's own
    /// procedure finds them.
    BeginUnknown,
    /// At this argument.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword(&'static str, i32),
}

/// How many keys follow the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Find {
    FindUnknown,
    /// `(lastkey, step, limit)`: up to `lastkey` after the first (negative: from the end;
    /// with `limit`, 1/limit of what remains).
    Range(i32, i32, i32),
    /// `(keynumidx, firstkey, step)`: a count at `keynumidx` after the begin, the keys from
    /// `firstkey` after it.
    Keynum(i32, i32, i32),
}

/// One key spec of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub flags: u16,
    /// Redis's notes ("" = none): COMMAND INFO shows them.
    pub notes: &'static str,
    pub begin: Begin,
    pub find: Find,
}

pub(crate) const fn ks(flags: u16, notes: &'static str, begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        flags,
        notes,
        begin,
        find,
    }
}

/// The key specs of the command named `name` (`get`, `object|encoding`): Redis 7.0.15's,
/// none for a command Redis does not have. A const fn, so `cmd!` fills each row when the
/// table is compiled.
pub const fn of(name: &str) -> &'static [KeySpec] {
    let (mut lo, mut hi) = (0, specs::SPECS.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        match cmp(specs::SPECS[mid].0.as_bytes(), name.as_bytes()) {
            0 => return specs::SPECS[mid].1,
            c if c < 0 => lo = mid + 1,
            _ => hi = mid,
        }
    }
    &[]
}

/// Byte-wise comparison, usable in a const fn: -1, 0 or 1.
const fn cmp(a: &[u8], b: &[u8]) -> i32 {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] { -1 } else { 1 };
        }
        i += 1;
    }
    if a.len() == b.len() {
        0
    } else if a.len() < b.len() {
        -1
    } else {
        1
    }
}

/// The access a key with these flags needs, as ACL permission bits (`acl::rules::READ`
/// for ACCESS, `WRITE` for INSERT, DELETE or UPDATE): Redis's `ACLSelectorCheckKey`.
#[inline]
pub fn need(f: u16) -> u8 {
    use crate::acl::{READ, WRITE};
    let mut n = 0;
    if f & ACCESS != 0 {
        n |= READ;
    }
    if f & (INSERT | DELETE | UPDATE) != 0 {
        n |= WRITE;
    }
    n
}

/// The flag names of `f`, in Redis's order.
pub fn names(f: u16) -> impl Iterator<Item = &'static str> {
    NAMES
        .iter()
        .filter(move |(b, _)| f & b != 0)
        .map(|(_, n)| *n)
}

/// Whether a command names keys at all (Redis's `doesCommandHaveKeys`).
pub fn has_keys(c: &CommandSpec) -> bool {
    if c.key_specs.is_empty() {
        c.first_key > 0 || c.has(crate::table::flags::MOVABLE_KEYS)
    } else {
        c.key_specs.iter().any(|s| s.flags & NOT_KEY == 0)
    }
}

/// What one spec finds in `args`.
enum Span {
    /// Not a key, or its keyword is absent.
    Skip,
    /// Keys from `first` to `last` (inclusive), every `step`.
    Keys(usize, usize, usize),
    /// The spec cannot say (unknown, incomplete, a bad count): Redis then asks the
    /// command's own procedure.
    Invalid,
}

/// Redis's `getKeysUsingKeySpecs` for one spec.
fn span(s: &KeySpec, args: Args<'_>) -> Span {
    if s.flags & NOT_KEY != 0 {
        return Span::Skip;
    }
    let argc = args.len() as i64;
    let mut first: i64 = match s.begin {
        Begin::BeginUnknown => return Span::Invalid,
        Begin::Index(p) => p as i64,
        Begin::Keyword(kw, from) => {
            let from = from as i64;
            let (start, end) = if from > 0 {
                (from, argc - 1)
            } else {
                (argc + from, 1)
            };
            let mut i = start;
            let mut found = 0;
            while i != end {
                if i >= argc || i < 1 {
                    break;
                }
                if args.get(i as usize).eq_ignore_ascii_case(kw.as_bytes()) {
                    found = i + 1;
                    break;
                }
                i += if start <= end { 1 } else { -1 };
            }
            if found == 0 {
                return Span::Skip;
            }
            found
        }
    };
    let (last, step) = match s.find {
        Find::FindUnknown => return Span::Invalid,
        Find::Range(lastkey, step, limit) => {
            let lastkey = lastkey as i64;
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit as i64 + lastkey)
            };
            (last, step)
        }
        Find::Keynum(idx, firstkey, step) => {
            let at = first + idx as i64;
            if at >= argc {
                return Span::Invalid;
            }
            let Some(n) = protocol::resp::parse_i64(args.get(at as usize)).filter(|&n| n >= 0)
            else {
                return Span::Invalid;
            };
            first += firstkey as i64;
            (first + n - 1, step)
        }
    };
    if last >= argc || last < first || first >= argc || s.flags & INCOMPLETE != 0 {
        return Span::Invalid;
    }
    Span::Keys(first as usize, last as usize, step.max(1) as usize)
}

/// Call `f(position, flags)` for every key of `args` (a call of row `c`, arity checked),
/// in Redis's order, until `f` answers false. Returns false if `f` stopped it.
pub fn for_each_key(
    c: &CommandSpec,
    args: Args<'_>,
    mut f: impl FnMut(usize, u16) -> bool,
) -> bool {
    let specs = c.key_specs;
    if specs.is_empty() {
        return legacy(c, args, f);
    }
    match c.name {
        "set" => return f(1, set_flags(args)),
        "bitfield" => return f(1, bitfield_flags(args)),
        _ => {}
    }
    // Every spec is resolved before any key is reported (an invalid one hands the whole
    // call to the fallback), each once; no command has more than MAX_SPECS (checked by a
    // test), so this stays on the stack.
    let mut found = [(0usize, 0usize, 1usize, 0u16); MAX_SPECS];
    let mut n = 0;
    for s in specs {
        match span(s, args) {
            Span::Invalid => return fallback(c, args, f),
            Span::Skip => {}
            Span::Keys(first, last, step) => {
                found[n] = (first, last, step, s.flags);
                n += 1;
            }
        }
    }
    for &(first, last, step, flags) in &found[..n] {
        let mut i = first;
        while i <= last {
            if !f(i, flags) {
                return false;
            }
            i += step;
        }
    }
    true
}

/// The most key specs any command has (SORT: 3).
const MAX_SPECS: usize = 4;

/// A command Redis does not have: the table's positions, flags from the row (a `write`
/// command updates its keys, a `readonly` one reads them).
fn legacy(c: &CommandSpec, args: Args<'_>, mut f: impl FnMut(usize, u16) -> bool) -> bool {
    use crate::table::flags as cf;
    let fl = if c.has(cf::WRITE) {
        RW | UPDATE
    } else if c.has(cf::READONLY) {
        RO | ACCESS
    } else {
        RO
    };
    if c.has(cf::MOVABLE_KEYS) {
        crate::cluster_cmd::key_positions(c, args)
            .into_iter()
            .all(|p| f(p, fl))
    } else {
        c.key_positions(args.len()).all(|p| f(p, fl))
    }
}

/// The specs could not say: Redis's getkeys procedures (`sortGetKeys`…); the others
/// (numkeys commands) find no key when their specs fail. (Keyword specs never fail: a
/// keyword is only looked for where a key can follow it.)
fn fallback(c: &CommandSpec, args: Args<'_>, mut f: impl FnMut(usize, u16) -> bool) -> bool {
    match c.name {
        "sort_ro" => f(1, RO | ACCESS),
        "sort" => {
            if !f(1, RO | ACCESS) {
                return false;
            }
            // The last STORE; LIMIT takes 2 arguments, GET and BY one (not STORE: the
            // word after it is looked at again, as Redis does).
            let n = args.len();
            let mut store = None;
            let mut i = 2;
            while i < n {
                let a = args.get(i);
                if a.eq_ignore_ascii_case(b"limit") {
                    i += 2;
                } else if a.eq_ignore_ascii_case(b"store") && i + 1 < n {
                    store = Some(i + 1);
                } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
                    i += 1;
                }
                i += 1;
            }
            store.is_none_or(|p| f(p, OW | UPDATE))
        }
        _ => true,
    }
}

/// SET's key: read and written with GET (`setGetKeys`), else only overwritten.
fn set_flags(args: Args<'_>) -> u16 {
    if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
        RW | ACCESS | UPDATE
    } else {
        OW | UPDATE
    }
}

/// BITFIELD's key: only read when every operation is GET (`bitfieldGetKeys`).
fn bitfield_flags(args: Args<'_>) -> u16 {
    let n = args.len();
    let mut i = 2;
    while i < n {
        let rem = n - i - 1;
        let a = args.get(i);
        if a.eq_ignore_ascii_case(b"get") && rem >= 2 {
            i += 2;
        } else if (a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby")) && rem >= 3
        {
            return RW | ACCESS | UPDATE;
        } else if a.eq_ignore_ascii_case(b"overflow") && rem >= 1 {
            i += 1;
        } else {
            return RW | ACCESS | UPDATE;
        }
        i += 1;
    }
    RO | ACCESS
}

#[cfg(test)]
mod tests;
