//! The key specs against the table: every command with keys has Redis's specs, the specs
//! find the keys the table's positions (and cluster routing) find, and the flags of the
//! calls that matter to ACL users are Redis 7.0.15's (checked there with COMMAND
//! GETKEYSANDFLAGS; every spec is compared with a live redis-server's COMMAND INFO in
//! crates/rcache/tests/introspect.rs).

use super::flags::*;
use super::*;
use crate::table::CommandTable;
use protocol::args::OwnedArgs;

fn row(name: &str) -> &'static CommandSpec {
    crate::introspect::find_command(CommandTable::get(), name.as_bytes()).unwrap()
}

fn keys(call: &[&str]) -> Vec<(usize, u16)> {
    let owned = OwnedArgs::new(call.iter().map(|s| s.as_bytes()));
    let args = owned.args();
    let mut spec = row(call[0]);
    let mut inner = args;
    if !spec.subcommands.is_empty() {
        spec = crate::table::find_sub(spec, call[1].as_bytes()).unwrap();
        inner = args; // subcommands count the container's name too
    }
    let mut v = Vec::new();
    for_each_key(spec, inner, |p, f| {
        v.push((p, f));
        true
    });
    v
}

fn every_row() -> impl Iterator<Item = &'static CommandSpec> {
    CommandTable::get()
        .all()
        .iter()
        .flat_map(|c| std::iter::once(*c).chain(c.subcommands.iter()))
}

#[test]
fn the_generated_table_is_sorted_and_found() {
    for w in specs::SPECS.windows(2) {
        assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
    }
    for (name, s) in specs::SPECS {
        assert_eq!(of(name), *s, "{name}");
    }
    assert!(of("nosuch").is_empty());
    assert!(of("ping").is_empty());
}

#[test]
fn every_row_with_keys_has_redis_specs() {
    // rcache's own commands (Redis has none of these names).
    let ours_only = ["rcache.", "client|no-touch"];
    let mut missing = vec![];
    for c in every_row() {
        let keys = c.first_key > 0 || c.has(crate::table::flags::MOVABLE_KEYS);
        if keys && c.key_specs.is_empty() && !ours_only.iter().any(|p| c.name.starts_with(p)) {
            missing.push(c.name);
        }
        assert_eq!(c.key_specs, of(c.name), "{}", c.name);
    }
    assert!(missing.is_empty(), "no key specs: {missing:?}");
}

/// Calls whose keys the specs and the table's positions must agree on.
const CALLS: &[&[&str]] = &[
    &["get", "k"],
    &["set", "k", "v", "get"],
    &["mset", "a", "1", "b", "2"],
    &["mget", "a", "b", "c"],
    &["del", "a", "b"],
    &["copy", "s", "d", "replace"],
    &["lmove", "s", "d", "left", "right"],
    &["blmove", "s", "d", "left", "right", "0"],
    &["rpoplpush", "s", "d"],
    &["smove", "s", "d", "m"],
    &["sunionstore", "d", "a", "b"],
    &["sdiffstore", "d", "a"],
    &["bitop", "and", "d", "a", "b"],
    &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"],
    &["zinter", "2", "a", "b"],
    &["zrangestore", "d", "s", "0", "-1"],
    &["sintercard", "2", "a", "b", "limit", "1"],
    &["lmpop", "2", "a", "b", "left"],
    &["blmpop", "0", "2", "a", "b", "left"],
    &["bzmpop", "0", "1", "a", "min"],
    &["eval", "return 1", "2", "a", "b", "x"],
    &["evalsha_ro", "abc", "1", "a"],
    &["fcall", "f", "1", "a", "x"],
    &["xread", "count", "1", "streams", "a", "b", "0", "0"],
    &["xreadgroup", "group", "g", "c", "streams", "a", "0"],
    &[
        "georadius",
        "k",
        "0",
        "0",
        "1",
        "km",
        "store",
        "d",
        "storedist",
        "e",
    ],
    &["georadiusbymember", "k", "m", "1", "km", "storedist", "e"],
    &[
        "geosearchstore",
        "d",
        "s",
        "frommember",
        "m",
        "byradius",
        "1",
        "km",
    ],
    &["sort", "k", "by", "w_*", "get", "#", "store", "d"],
    &["sort", "k", "limit", "0", "1", "store", "d"],
    &["sort_ro", "k", "by", "x"],
    &["pfmerge", "d", "a", "b"],
    &["rename", "a", "b"],
    &["object", "encoding", "k"],
    &["memory", "usage", "k"],
    &["xinfo", "stream", "k"],
    &["xgroup", "create", "k", "g", "$"],
    &["lcs", "a", "b"],
    &["msetnx", "a", "1", "b", "2"],
    &["watch", "a", "b"],
    &["exists", "a", "b"],
];

#[test]
fn specs_find_the_tables_keys() {
    for call in CALLS {
        let owned = OwnedArgs::new(call.iter().map(|s| s.as_bytes()));
        let mut spec = row(call[0]);
        if !spec.subcommands.is_empty() {
            spec = crate::table::find_sub(spec, call[1].as_bytes()).unwrap();
        }
        let mut ours: Vec<usize> = keys(call).into_iter().map(|(p, _)| p).collect();
        let mut table = crate::cluster_cmd::key_positions(spec, owned.args());
        ours.sort_unstable();
        table.sort_unstable();
        assert_eq!(ours, table, "{call:?}");
    }
}

/// Flags as Redis 7.0.15's COMMAND GETKEYSANDFLAGS gives them (checked there).
#[test]
fn flags_are_redis_per_key() {
    let cases: &[(&[&str], &[u16])] = &[
        (&["get", "k"], &[RO | ACCESS]),
        (&["incr", "k"], &[RW | ACCESS | UPDATE]),
        (&["getset", "k", "v"], &[RW | ACCESS | UPDATE]),
        (&["getdel", "k"], &[RW | ACCESS | DELETE]),
        (&["lpop", "k"], &[RW | ACCESS | DELETE]),
        (&["set", "k", "v"], &[OW | UPDATE]),
        (&["set", "k", "v", "nx", "GET"], &[RW | ACCESS | UPDATE]),
        (&["set", "k", "get", "nx"], &[OW | UPDATE]),
        (&["copy", "s", "d"], &[RO | ACCESS, OW | UPDATE]),
        (
            &["lmove", "s", "d", "left", "left"],
            &[RW | ACCESS | DELETE, RW | INSERT],
        ),
        (
            &["sunionstore", "d", "a", "b"],
            &[OW | UPDATE, RO | ACCESS, RO | ACCESS],
        ),
        (&["sort", "k", "store", "d"], &[RO | ACCESS, OW | UPDATE]),
        (&["sort", "k", "get", "store"], &[RO | ACCESS]),
        (&["eval", "s", "1", "k"], &[RW | ACCESS | UPDATE]),
        (&["eval_ro", "s", "1", "k"], &[RO | ACCESS]),
        (&["eval", "s", "3", "k"], &[]),
        (&["eval", "s", "x", "k"], &[]),
        (&["bitfield", "k", "get", "u8", "0"], &[RO | ACCESS]),
        (
            &["bitfield", "k", "get", "u8", "0", "incrby", "u8", "0", "1"],
            &[RW | ACCESS | UPDATE],
        ),
        (&["exists", "k"], &[RO]),
        (&["del", "k"], &[RM | DELETE]),
        (&["append", "k", "v"], &[RW | INSERT]),
        (
            &["georadius", "k", "0", "0", "1", "km", "store"],
            &[RO | ACCESS],
        ),
        (&["xread", "streams", "a"], &[]),
    ];
    for (call, want) in cases {
        let got: Vec<u16> = keys(call).into_iter().map(|(_, f)| f).collect();
        assert_eq!(&got, want, "{call:?}");
    }
}

#[test]
fn need_is_redis_acl_permission() {
    use crate::acl::{READ, WRITE};
    assert_eq!(need(RO | ACCESS), READ);
    assert_eq!(need(RW | ACCESS | UPDATE), READ | WRITE);
    assert_eq!(need(OW | UPDATE), WRITE);
    assert_eq!(need(RM | DELETE), WRITE);
    assert_eq!(need(RW | INSERT), WRITE);
    assert_eq!(need(RO), 0);
}

/// `for_each_key` resolves a call's specs into a stack array of `MAX_SPECS`.
#[test]
fn no_command_has_more_specs_than_the_stack_array() {
    for c in crate::table::CommandTable::get().all() {
        assert!(c.key_specs.len() <= super::MAX_SPECS, "{}", c.name);
        for sub in c.subcommands {
            assert!(sub.key_specs.len() <= super::MAX_SPECS, "{}", sub.name);
        }
    }
}
