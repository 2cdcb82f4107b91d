//! The command table: one row per command. Dispatch, arity checks, COMMAND INFO/DOCS,
//! key positions (cluster routing, later the proxy), key access (ACL, `keyspec.rs`) and
//! docs/COMMANDS.md derive from it.
//!
//! Each family file exports `pub const COMMANDS: &[CommandSpec]`; `FAMILIES` lists them and
//! `CommandTable::build` indexes them by lowercase name. Adding a command is one handler, one
//! row, one test.

use crate::error::CmdResult;
use crate::Ctx;
use std::collections::HashMap;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use protocol::Args;
use std::sync::OnceLock;

pub type Handler = fn(&mut Ctx<'_>, Args<'_>) -> CmdResult;

/// Command flags, with Redis's COMMAND INFO names.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const MAY_REPLICATE: u32 = 1 << 11;
    pub const NO_MULTI: u32 = 1 << 12;
    pub const MOVABLE_KEYS: u32 = 1 << 13;
    pub const ALLOW_BUSY: u32 = 1 << 14;
    pub const SKIP_SLOWLOG: u32 = 1 << 15;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 16;
    /// rcache-internal (not in COMMAND INFO): runs holding the gate alone (`gate.rs`), off
    /// the I/O thread: EXEC, EVAL… so they are atomic with respect to every other client.
    pub const EXCLUSIVE: u32 = 1 << 24;
    /// Redis's `protected` (hidden from COMMAND INFO, as Redis hides it): DEBUG runs only
    /// as `enable-debug-command` allows (`debug::allowed`), else it is refused before it runs.
    pub const PROTECTED: u32 = 1 << 25;

    /// (flag, name) in the order COMMAND INFO lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// One row of the table.
pub struct CommandSpec {
    /// Lowercase name (`get`; subcommands `client|setname`).
    pub name: &'static str,
    /// Redis arity: N = exactly N arguments (name included), -N = at least N.
    pub arity: i32,
    pub flags: u32,
    /// Key positions: first key, last key (negative counts from the end), step. 0,0,0 = none.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// Redis 7.0's key specs: where each key is and what the command does to it (read,
    /// update, insert, delete…). `cmd!` fills them by name from `keyspec/specs.rs`
    /// (generated from Redis's JSON); empty for commands Redis does not have.
    pub key_specs: &'static [crate::keyspec::KeySpec],
    pub handler: Handler,
    /// Redis's command group (`string`, `generic`, `server`, `connection`…).
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    /// Argument syntax after the name, Redis docs style (`key value [NX | XX]`).
    pub syntax: &'static str,
    /// Subcommands of a container command (CLIENT, CONFIG…); dispatched by its handler.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Whether `argc` arguments satisfy the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        if a >= 0 {
            argc == a as usize
        } else {
            argc >= (-a) as usize
        }
    }

    /// The key argument positions for `argc` arguments, per first/last/step.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let first = self.first_key.max(0) as usize;
        let last = if self.last_key < 0 {
            argc as i64 + self.last_key as i64
        } else {
            self.last_key as i64
        };
        let last = last.min(argc as i64 - 1).max(-1);
        let step = self.step.max(1) as usize;
        let end = if first == 0 {
            0
        } else {
            (last + 1).max(0) as usize
        };
        (first..end.max(first)).step_by(step)
    }
}

/// The table, built once from the family lists.
pub struct CommandTable {
    by_name: FastMap<&'static str, Row>,
    all: Vec<&'static CommandSpec>,
    /// Every row with a statistics id (its index here): each command, then its subcommands,
    /// so `client|list` counts apart from `client|kill` (`cmdstats.rs`).
    stat_specs: Vec<&'static CommandSpec>,
}

/// A command's row with its statistics ids.
#[derive(Clone, Copy)]
pub struct Row {
    pub spec: &'static CommandSpec,
    /// The command's statistics id.
    pub stat: u32,
    /// Its first subcommand's id (the others follow in `spec.subcommands` order).
    sub_base: u32,
}

impl CommandTable {
    pub fn get() -> &'static CommandTable {
        static T: OnceLock<CommandTable> = OnceLock::new();
        T.get_or_init(|| CommandTable::build(crate::FAMILIES))
    }

    pub fn build(families: &[&'static [CommandSpec]]) -> CommandTable {
        let mut by_name = FastMap::default();
        let mut all = Vec::new();
        let mut stat_specs = Vec::new();
        for fam in families {
            for c in fam.iter() {
                let stat = stat_specs.len() as u32;
                stat_specs.push(c);
                let sub_base = stat_specs.len() as u32;
                stat_specs.extend(c.subcommands.iter());
                let row = Row {
                    spec: c,
                    stat,
                    sub_base,
                };
                let prev = by_name.insert(c.name, row);
                assert!(prev.is_none(), "command {} defined twice", c.name);
                all.push(c);
            }
        }
        all.sort_by_key(|c| c.name);
        CommandTable {
            by_name,
            all,
            stat_specs,
        }
    }

    /// Look up a command by name, case-insensitively, without allocating.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.lookup_row(name).map(|r| r.spec)
    }

    /// The statistics id a call counts under: a container's subcommand when one is named
    /// (`CLIENT LIST` → `client|list`), none for an unknown subcommand (Redis does not count
    /// those either), else the command's own.
    #[inline]
    pub fn stat_id(&self, row: Row, args: Args<'_>) -> Option<u32> {
        if row.spec.subcommands.is_empty() || args.len() < 2 {
            return Some(row.stat);
        }
        let sub = args.get(1);
        row.spec
            .subcommands
            .iter()
            .position(|c| sub_matches(c, sub))
            .map(|i| row.sub_base + i as u32)
    }

    /// How many statistics ids there are.
    pub fn stat_count(&self) -> usize {
        self.stat_specs.len()
    }

    /// The row a statistics id stands for.
    pub fn stat_spec(&self, id: u32) -> Option<&'static CommandSpec> {
        self.stat_specs.get(id as usize).copied()
    }

    /// Look up a command's row and statistics ids by name, as `lookup`.
    #[inline]
    pub fn lookup_row(&self, name: &[u8]) -> Option<Row> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let s = std::str::from_utf8(&buf[..name.len()]).ok()?;
        self.by_name.get(s).copied()
    }

    /// Every command, sorted by name.
    pub fn all(&self) -> &[&'static CommandSpec] {
        &self.all
    }
}

/// Find a subcommand of `parent` by name (case-insensitive).
pub fn find_sub(parent: &'static CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
    parent.subcommands.iter().find(|c| sub_matches(c, sub))
}

/// Whether subcommand row `c` (`client|list`) is named `sub` (`LIST`), case-insensitively.
fn sub_matches(c: &CommandSpec, sub: &[u8]) -> bool {
    let short = c.name.rsplit('|').next().unwrap_or(c.name);
    short.as_bytes().eq_ignore_ascii_case(sub)
}

/// Shorthand for a table row: `cmd!(name, arity, flags, first, last, step, handler, group,
/// since, summary, syntax)`.
#[macro_export]
macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $fk:expr, $lk:expr, $st:expr, $h:expr, $group:literal, $since:literal, $summary:literal, $syntax:literal) => {
        $crate::table::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $fk,
            last_key: $lk,
            step: $st,
            key_specs: $crate::keyspec::of($name),
            handler: $h,
            group: $group,
            summary: $summary,
            since: $since,
            syntax: $syntax,
            subcommands: &[],
        }
    };
}
