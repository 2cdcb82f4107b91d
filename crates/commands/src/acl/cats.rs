//! The command side of ACL rules: Redis's category names, and an index of the command
//! table by command id.
//!
//! A command's id is its statistics id in the table (`CommandTable::stat_id`): every
//! command and every subcommand has one, dense from 0, a container's subcommands right
//! after it. That is Redis's `cmd->id`, so a user's allowed commands are one bit per id.
//! Each id's categories come from `introspect::acl_categories` (what COMMAND INFO shows),
//! computed once here as a bit mask, so a `+@read` rule never allocates and there is one
//! list of categories in the code base.

use crate::introspect::acl_categories;
use crate::table::{CommandSpec, CommandTable};
use std::ops::Range;
use std::sync::OnceLock;

/// Redis's ACL categories, in its order (ACL CAT, COMMAND INFO, the describe algorithm).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of a category name (case-insensitive, without the `@`).
pub fn category(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The command table seen by command id.
pub struct Index {
    /// Every row by id (commands and subcommands).
    specs: Vec<&'static CommandSpec>,
    /// Category mask per id.
    cats: Vec<u32>,
    /// The container of a subcommand id.
    parent: Vec<Option<u32>>,
    /// The subcommand ids of a container (empty for others).
    subs: Vec<Range<u32>>,
    /// Top-level command ids in the order rules are described and CAT lists them (by
    /// name; Redis's order is its hash table's, which changes with every start).
    top: Vec<u32>,
}

impl Index {
    fn build(table: &'static CommandTable) -> Index {
        let n = table.stat_count();
        let mut specs = Vec::with_capacity(n);
        let mut cats = Vec::with_capacity(n);
        let mut parent = vec![None; n];
        let mut subs = vec![0..0; n];
        let mut id = 0u32;
        while (id as usize) < n {
            let spec = table.stat_spec(id).expect("dense ids");
            let nsub = spec.subcommands.len() as u32;
            subs[id as usize] = id + 1..id + 1 + nsub;
            for (i, sub) in spec.subcommands.iter().enumerate() {
                let sid = id + 1 + i as u32;
                // The table lays a container's subcommands out right after it.
                debug_assert!(std::ptr::eq(table.stat_spec(sid).unwrap(), sub));
                parent[sid as usize] = Some(id);
            }
            id += 1 + nsub;
        }
        for id in 0..n as u32 {
            let spec = table.stat_spec(id).expect("dense ids");
            specs.push(spec);
            let mut mask = 0;
            // rcache's internal cluster-bus commands (`rcache.import`…) are in no category,
            // as Redis leaves module commands out: a category means Redis's commands, and
            // only the (trusted) bus runs those.
            if !spec.name.starts_with("rcache.") {
                for c in acl_categories(spec) {
                    mask |= category(c.trim_start_matches('@').as_bytes()).unwrap_or(0);
                }
            }
            cats.push(mask);
        }
        let top = table
            .all()
            .iter()
            .filter_map(|c| table.lookup_row(c.name.as_bytes()).map(|r| r.stat))
            .collect();
        Index {
            specs,
            cats,
            parent,
            subs,
            top,
        }
    }

    /// How many command ids there are.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn spec(&self, id: u32) -> &'static CommandSpec {
        self.specs[id as usize]
    }

    pub fn cats(&self, id: u32) -> u32 {
        self.cats[id as usize]
    }

    pub fn parent(&self, id: u32) -> Option<u32> {
        self.parent[id as usize]
    }

    pub fn subs(&self, id: u32) -> Range<u32> {
        self.subs[id as usize].clone()
    }

    /// Top-level command ids, by name.
    pub fn top(&self) -> &[u32] {
        &self.top
    }

    /// Every id, a container followed by its subcommands (the order of ACL CAT and of
    /// the describe algorithm's command pass).
    pub fn walk(&self) -> impl Iterator<Item = u32> + '_ {
        self.top
            .iter()
            .flat_map(move |&id| std::iter::once(id).chain(self.subs(id)))
    }

    /// The id of `name` (`get`, `client|setname`), case-insensitively, as Redis's
    /// `ACLLookupCommand`: `a|b` is a subcommand only when `a` has subcommands.
    pub fn id_of(&self, name: &[u8]) -> Option<u32> {
        let table = CommandTable::get();
        match name.iter().position(|&b| b == b'|') {
            None => table.lookup_row(name).map(|r| r.stat),
            Some(i) => {
                let row = table.lookup_row(&name[..i])?;
                let sub = &name[i + 1..];
                let pos = row.spec.subcommands.iter().position(|c| {
                    let short = c.name.rsplit('|').next().unwrap_or(c.name);
                    short.as_bytes().eq_ignore_ascii_case(sub)
                })?;
                Some(row.stat + 1 + pos as u32)
            }
        }
    }
}

/// The index of the server's command table, built on first use.
pub fn index() -> &'static Index {
    static I: OnceLock<Index> = OnceLock::new();
    I.get_or_init(|| Index::build(CommandTable::get()))
}
