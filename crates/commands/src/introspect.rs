//! COMMAND (COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP): the table described
//! to clients, in Redis 7's shapes. ACL categories are derived from each row's flags and
//! group, key specs are the row's (`keyspec.rs`); docs come from `docs.rs`.

use crate::client_cmd::reply_help;
use crate::docs;
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::keyspec::{self, Begin, Find, KeySpec};
use crate::table::{find_sub, flags::*, CommandSpec, CommandTable};
use crate::util::{eq_ic, lossy};
use crate::{cmd, Ctx};
use protocol::{Args, Reply};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    subcommands: SUBCOMMANDS,
    ..cmd!(
        "command",
        -1,
        LOADING | STALE,
        0,
        0,
        0,
        command,
        "server",
        "2.8.13",
        "Returns detailed information about all commands.",
        ""
    )
}];

const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!(
        "command|count",
        2,
        LOADING | STALE,
        0,
        0,
        0,
        count,
        "server",
        "2.8.13",
        "Returns a count of commands.",
        ""
    ),
    cmd!(
        "command|docs",
        -2,
        LOADING | STALE,
        0,
        0,
        0,
        docs_cmd,
        "server",
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        "[command-name [command-name ...]]"
    ),
    cmd!(
        "command|getkeys",
        -4,
        LOADING | STALE,
        0,
        0,
        0,
        getkeys,
        "server",
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
        "command [arg [arg ...]]"
    ),
    cmd!(
        "command|getkeysandflags",
        -4,
        LOADING | STALE,
        0,
        0,
        0,
        getkeys_and_flags,
        "server",
        "7.0.0",
        "Extracts the key names and access flags for an arbitrary command.",
        "command [arg [arg ...]]"
    ),
    cmd!(
        "command|info",
        -2,
        LOADING | STALE,
        0,
        0,
        0,
        info,
        "server",
        "2.8.13",
        "Returns information about one, multiple or all commands.",
        "[command-name [command-name ...]]"
    ),
    cmd!(
        "command|list",
        -2,
        LOADING | STALE,
        0,
        0,
        0,
        list,
        "server",
        "7.0.0",
        "Returns a list of command names.",
        "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]"
    ),
    cmd!(
        "command|help",
        2,
        LOADING | STALE,
        0,
        0,
        0,
        help,
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        ""
    ),
];

/// Commands Redis puts in @dangerous without the admin flag.
const DANGEROUS: &[&str] = &[
    "flushdb",
    "flushall",
    "swapdb",
    "keys",
    "info",
    "sort",
    "migrate",
    "restore",
    "restore-asking",
    "role",
    "lastsave",
    "monitor",
    "debug",
    "sync",
    "psync",
    "replconf",
    "bgsave",
    "bgrewriteaof",
    "save",
    "sort_ro",
    "failover",
    "replicaof",
    "slaveof",
    "pfdebug",
    "pfselftest",
];

/// The ACL categories of a command or subcommand, in Redis's order (`@read`, `@string`,
/// `@fast`…), derived from its flags, group and name. The one source of categories: COMMAND
/// INFO shows them and ACL rules (`+@read`, ACL CAT) use them (`acl/cats.rs`). Checked
/// against Redis 7.0.15's COMMAND output for every command rcache has.
pub fn acl_categories(c: &CommandSpec) -> Vec<&'static str> {
    let top = c.name.split('|').next().unwrap_or(c.name);
    let mut v = vec![];
    if !c.subcommands.is_empty() {
        // Containers carry only @slow (COMMAND also @connection), as in Redis.
        v.push("@slow");
        if top == "command" {
            v.push("@connection");
        }
        return v;
    }
    // SORT's categories are the types it sorts, not @keyspace (Redis's table says so).
    let sort = matches!(top, "sort" | "sort_ro");
    if !sort
        && (c.group == "generic" || matches!(top, "dbsize" | "flushdb" | "flushall" | "swapdb"))
    {
        v.push("@keyspace");
    }
    // Scripts are not @read even when read-only (Redis's setImplicitACLCategories).
    if c.has(READONLY) && c.group != "scripting" {
        v.push("@read");
    }
    if c.has(WRITE) {
        v.push("@write");
    }
    if sort {
        v.extend(["@set", "@sortedset", "@list"]);
    }
    v.extend(match c.group {
        "set" => Some("@set"),
        "sorted-set" | "sorted_set" => Some("@sortedset"),
        "list" => Some("@list"),
        "hash" => Some("@hash"),
        "string" => Some("@string"),
        "bitmap" => Some("@bitmap"),
        "hyperloglog" => Some("@hyperloglog"),
        "geo" => Some("@geo"),
        "stream" => Some("@stream"),
        // PUBSUB HELP lacks the pubsub flag in Redis.
        "pubsub" if c.name != "pubsub|help" => Some("@pubsub"),
        _ => None,
    });
    // LASTSAVE and ROLE are @admin in Redis's table without the admin flag.
    let admin = c.has(ADMIN) || matches!(top, "lastsave" | "role");
    if admin {
        v.push("@admin");
    }
    v.push(if c.has(FAST) { "@fast" } else { "@slow" });
    if c.has(BLOCKING) {
        v.push("@blocking");
    }
    if admin || DANGEROUS.contains(&top) {
        v.push("@dangerous");
    }
    if c.group == "connection" || matches!(top, "command" | "asking" | "readonly" | "readwrite") {
        v.push("@connection");
    }
    if c.group == "transactions" {
        v.push("@transaction");
    }
    if c.group == "scripting" {
        v.push("@scripting");
    }
    v
}

/// A command by name; `container|sub` names a subcommand.
pub fn find_command(table: &CommandTable, name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        Some(i) => find_sub(table.lookup(&name[..i])?, &name[i + 1..]),
        None => table.lookup(name),
    }
}

fn simple_set(out: &mut Reply<'_>, items: &[&str]) {
    out.set_len(items.len());
    for i in items {
        out.simple(i);
    }
}

/// A set of key-spec flag names (Redis's `addReplyFlagsForKeyArgs`).
fn key_flag_set(out: &mut Reply<'_>, f: u16) {
    out.set_len(keyspec::names(f).count());
    for n in keyspec::names(f) {
        out.simple(n);
    }
}

/// COMMAND INFO's key specs: the row's (Redis 7.0.15's, `keyspec.rs`), in Redis's shape.
/// A command Redis does not have shows one spec derived from first/last/step.
fn reply_key_specs(out: &mut Reply<'_>, c: &CommandSpec) {
    if !c.key_specs.is_empty() {
        out.set_len(c.key_specs.len());
        for s in c.key_specs {
            reply_key_spec(out, s);
        }
        return;
    }
    if c.first_key <= 0 {
        out.set_len(0);
        return;
    }
    let lastkey = if c.last_key < 0 {
        c.last_key
    } else {
        c.last_key - c.first_key
    };
    let f = if c.has(WRITE) {
        keyspec::flags::RW | keyspec::flags::UPDATE
    } else if c.has(READONLY) {
        keyspec::flags::RO | keyspec::flags::ACCESS
    } else {
        keyspec::flags::RO
    };
    out.set_len(1);
    reply_key_spec(
        out,
        &KeySpec {
            flags: f,
            notes: "",
            begin: Begin::Index(c.first_key),
            find: Find::Range(lastkey, c.step, 0),
        },
    );
}

/// One key spec: Redis's `addReplyCommandKeySpecs`.
fn reply_key_spec(out: &mut Reply<'_>, s: &KeySpec) {
    out.map_len(if s.notes.is_empty() { 3 } else { 4 });
    if !s.notes.is_empty() {
        out.bulk(b"notes");
        out.bulk(s.notes.as_bytes());
    }
    out.bulk(b"flags");
    key_flag_set(out, s.flags);
    out.bulk(b"begin_search");
    out.map_len(2);
    out.bulk(b"type");
    match s.begin {
        Begin::BeginUnknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map_len(0);
        }
        Begin::Index(i) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map_len(1);
            out.bulk(b"index");
            out.int(i as i64);
        }
        Begin::Keyword(kw, from) => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map_len(2);
            out.bulk(b"keyword");
            out.bulk(kw.as_bytes());
            out.bulk(b"startfrom");
            out.int(from as i64);
        }
    }
    out.bulk(b"find_keys");
    out.map_len(2);
    out.bulk(b"type");
    let ints: [(&[u8], i32); 3] = match s.find {
        Find::FindUnknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map_len(0);
            return;
        }
        Find::Range(last, step, limit) => {
            out.bulk(b"range");
            [(b"lastkey", last), (b"keystep", step), (b"limit", limit)]
        }
        Find::Keynum(idx, first, step) => {
            out.bulk(b"keynum");
            [
                (b"keynumidx", idx),
                (b"firstkey", first),
                (b"keystep", step),
            ]
        }
    };
    out.bulk(b"spec");
    out.map_len(3);
    for (k, v) in ints {
        out.bulk(k);
        out.int(v as i64);
    }
}

/// COMMAND INFO's 10-element entry: name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specs, subcommands.
pub fn reply_info(out: &mut Reply<'_>, c: &CommandSpec) {
    out.array_len(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    simple_set(out, &docs::flag_names(c));
    out.int(c.first_key as i64);
    out.int(c.last_key as i64);
    out.int(c.step as i64);
    simple_set(out, &acl_categories(c));
    out.set_len(0);
    reply_key_specs(out, c);
    if c.subcommands.is_empty() {
        out.set_len(0);
    } else {
        out.array_len(c.subcommands.len());
        for s in c.subcommands {
            reply_info(out, s);
        }
    }
}

/// COMMAND: every command's info. COMMAND <subcommand> …: dispatched.
fn command(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 1 {
        return crate::dispatch_sub(ctx, SUBCOMMANDS, args);
    }
    let all = ctx.srv.table.all();
    ctx.out.array_len(all.len());
    for c in all {
        reply_info(&mut ctx.out, c);
    }
    Ok(())
}

/// COMMAND COUNT
fn count(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.int(ctx.srv.table.all().len() as i64);
    Ok(())
}

/// COMMAND INFO [name …]: an entry per name (nil for unknown ones); all without names.
fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() == 2 {
        let all = ctx.srv.table.all();
        ctx.out.array_len(all.len());
        for c in all {
            reply_info(&mut ctx.out, c);
        }
        return Ok(());
    }
    ctx.out.array_len(args.len() - 2);
    for name in args.iter().skip(2) {
        match find_command(ctx.srv.table, name) {
            Some(c) => reply_info(&mut ctx.out, c),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// COMMAND DOCS [name …]: a map name → docs of the known names; all without names.
fn docs_cmd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let found: Vec<&CommandSpec> = if args.len() == 2 {
        ctx.srv.table.all().to_vec()
    } else {
        args.iter()
            .skip(2)
            .filter_map(|n| find_command(ctx.srv.table, n))
            .collect()
    };
    ctx.out.map_len(found.len());
    for c in found {
        ctx.out.bulk(c.name.as_bytes());
        docs::reply_docs(&mut ctx.out, c);
    }
    Ok(())
}

/// Every command and subcommand.
fn all_with_subs(table: &CommandTable) -> impl Iterator<Item = &'static CommandSpec> + '_ {
    table
        .all()
        .iter()
        .flat_map(|c| std::iter::once(*c).chain(c.subcommands.iter()))
}

/// COMMAND LIST [FILTERBY <MODULE name | ACLCAT category | PATTERN pattern>]
fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let table = ctx.srv.table;
    let names: Vec<&str> = match args.len() {
        2 => all_with_subs(table).map(|c| c.name).collect(),
        5 if eq_ic(args.get(2), "filterby") => {
            let (kind, v) = (args.get(3), args.get(4));
            if eq_ic(kind, "module") {
                Vec::new()
            } else if eq_ic(kind, "aclcat") {
                let want = format!("@{}", lossy(v));
                all_with_subs(table)
                    .filter(|c| {
                        acl_categories(c)
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(&want))
                    })
                    .map(|c| c.name)
                    .collect()
            } else if eq_ic(kind, "pattern") {
                all_with_subs(table)
                    .filter(|c| glob_match(v, c.name.as_bytes(), true))
                    .map(|c| c.name)
                    .collect()
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    ctx.out.array_len(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// The command a GETKEYS names (a subcommand when it is a container's) and its keys
/// within `args[2..]` with their flags, as Redis's `getKeysSubcommandImpl` finds them
/// (the row's key specs, `keyspec::for_each_key`).
fn keys_of(ctx: &Ctx<'_>, args: Args<'_>) -> Result<Vec<(usize, u16)>, CmdError> {
    let inner = args.skip(2);
    let table = ctx.srv.table;
    let mut spec = table
        .lookup(inner.get(0))
        .ok_or(CmdError::Static("ERR Invalid command specified"))?;
    if !spec.subcommands.is_empty() && inner.len() >= 2 {
        spec = find_sub(spec, inner.get(1))
            .ok_or(CmdError::Static("ERR Invalid command specified"))?;
    }
    if !keyspec::has_keys(spec) {
        return Err(CmdError::Static("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(inner.len()) {
        return Err(CmdError::Static(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let mut keys = Vec::new();
    keyspec::for_each_key(spec, inner, |p, f| {
        keys.push((p, f));
        true
    });
    if keys.is_empty() && !spec.has(NO_MANDATORY_KEYS) {
        return Err(CmdError::Static(
            "ERR Invalid arguments specified for command",
        ));
    }
    Ok(keys)
}

/// COMMAND GETKEYS command [arg …]
fn getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys = keys_of(ctx, args)?;
    ctx.out.array_len(keys.len());
    for (p, _) in keys {
        ctx.out.bulk(args.get(2 + p));
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg …]: [[key, [flags]] …]
fn getkeys_and_flags(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let keys = keys_of(ctx, args)?;
    ctx.out.array_len(keys.len());
    for (p, f) in keys {
        ctx.out.array_len(2);
        ctx.out.bulk(args.get(2 + p));
        key_flag_set(&mut ctx.out, f);
    }
    Ok(())
}

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCtx;

    #[test]
    fn count_and_list() {
        let t = TestCtx::new();
        let n = CommandTable::get().all().len();
        assert_eq!(t.run(&["COMMAND", "COUNT"]), format!(":{n}\r\n"));
        assert_eq!(
            t.run(&["COMMAND", "COUNT", "x"]),
            "-ERR wrong number of arguments for 'command|count' command\r\n"
        );
        let all = t.run(&["COMMAND", "LIST"]);
        assert!(all.contains("\r\n$14\r\nclient|setname\r\n") && all.contains("$4\r\nping\r\n"));
        assert_eq!(
            t.run(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG|*set*"]),
            "*2\r\n$10\r\nconfig|set\r\n$16\r\nconfig|resetstat\r\n"
        );
        let conn = t.run(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "CONNECTION"]);
        assert!(conn.contains("$4\r\nauth\r\n") && conn.contains("$13\r\ncommand|count\r\n"));
        assert!(!conn.contains("$6\r\nclient\r\n") && !conn.contains("$4\r\ninfo\r\n"));
        assert_eq!(
            t.run(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nope"]),
            "*0\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]),
            "*0\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "LIST", "FILTERBY", "foo", "x"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(t.run(&["COMMAND", "LIST", "x"]), "-ERR syntax error\r\n");
        assert_eq!(
            t.run(&["COMMAND", "FOO"]),
            "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"
        );
        assert!(t
            .run(&["COMMAND", "HELP"])
            .starts_with("*21\r\n+COMMAND <subcommand>"));
    }

    #[test]
    fn info_shape_like_redis() {
        let t = TestCtx::new();
        // DBSIZE as Redis 7.0.15 answers it, but with an empty tips set.
        let dbsize = "*10\r\n$6\r\ndbsize\r\n:1\r\n*2\r\n+readonly\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@keyspace\r\n+@read\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n";
        assert_eq!(
            t.run(&["COMMAND", "INFO", "dbsize", "nosuch"]),
            format!("*2\r\n{dbsize}$-1\r\n")
        );
        let usage = t.run(&["COMMAND", "INFO", "memory|usage"]);
        assert_eq!(
            usage,
            "*1\r\n*10\r\n$12\r\nmemory|usage\r\n:-3\r\n*1\r\n+readonly\r\n:2\r\n:2\r\n:1\r\n*2\r\n+@read\r\n+@slow\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*1\r\n+RO\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
        );
        let client = t.run(&["COMMAND", "INFO", "client"]);
        assert!(client.starts_with("*1\r\n*10\r\n$6\r\nclient\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*18\r\n*10\r\n$9\r\nclient|id\r\n"), "{client}");
        let all = t.run(&["COMMAND"]);
        let n = CommandTable::get().all().len();
        assert!(all.starts_with(&format!("*{n}\r\n*10\r\n")));
        assert_eq!(t.run(&["COMMAND", "INFO"]), all);
        t.resp3();
        let r = t.run(&["COMMAND", "INFO", "dbsize", "nosuch"]);
        assert_eq!(
            r,
            "*2\r\n*10\r\n$6\r\ndbsize\r\n:1\r\n~2\r\n+readonly\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~3\r\n+@keyspace\r\n+@read\r\n+@fast\r\n~0\r\n~0\r\n~0\r\n_\r\n"
        );
    }

    #[test]
    fn categories() {
        let t = CommandTable::get();
        let cat = |n: &str| acl_categories(find_command(t, n.as_bytes()).unwrap());
        assert_eq!(cat("ping"), ["@fast", "@connection"]);
        assert_eq!(cat("info"), ["@slow", "@dangerous"]);
        assert_eq!(
            cat("flushall"),
            ["@keyspace", "@write", "@slow", "@dangerous"]
        );
        assert_eq!(
            cat("swapdb"),
            ["@keyspace", "@write", "@fast", "@dangerous"]
        );
        assert_eq!(cat("shutdown"), ["@admin", "@slow", "@dangerous"]);
        assert_eq!(cat("config|set"), ["@admin", "@slow", "@dangerous"]);
        assert_eq!(
            cat("client|list"),
            ["@admin", "@slow", "@dangerous", "@connection"]
        );
        assert_eq!(cat("command|docs"), ["@slow", "@connection"]);
        assert_eq!(cat("time"), ["@fast"]);
        assert_eq!(cat("get"), ["@read", "@string", "@fast"]);
    }

    #[test]
    fn getkeys() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "SET", "k", "v"]),
            "*1\r\n$1\r\nk\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "memory", "usage", "k"]),
            "*1\r\n$1\r\nk\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "GETKEYSANDFLAGS", "memory", "usage", "k"]),
            "*1\r\n*2\r\n$1\r\nk\r\n*1\r\n+RO\r\n"
        );
        // Per key, as Redis 7.0.15: COPY reads its source and overwrites its destination.
        assert_eq!(
            t.run(&["COMMAND", "GETKEYSANDFLAGS", "copy", "a", "b"]),
            "*2\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+OW\r\n+update\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "zunion", "0", "a"]),
            "-ERR Invalid arguments specified for command\r\n"
        );
        assert_eq!(t.run(&["COMMAND", "GETKEYS", "eval", "s", "0"]), "*0\r\n");
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "set", "a"]),
            "-ERR Invalid number of arguments specified for command\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "nope", "a"]),
            "-ERR Invalid command specified\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "client", "list"]),
            "-ERR The command has no key arguments\r\n"
        );
        assert_eq!(
            t.run(&["COMMAND", "GETKEYS", "ping"]),
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
        );
    }
}
