//! The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, DRYRUN,
//! LOG, LOAD, SAVE, HELP, with Redis 7.0.15's replies and error words.

use super::cats::{self, category, CATEGORIES};
use super::check::Denied;
use super::rules::{self, has_spaces, User};
use super::{aclfile, disconnect_subscribers, disconnect_users, file, pubsub_all};
use crate::client_cmd::reply_help;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{lossy, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use std::sync::Arc;

const ADM: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const PLAIN: u32 = NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    subcommands: SUBCOMMANDS,
    ..cmd!(
        "acl",
        -2,
        0,
        0,
        0,
        0,
        acl,
        "server",
        "6.0.0",
        "A container for Access List Control commands.",
        ""
    )
}];

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("acl|cat", -2, PLAIN, 0, 0, 0, cat, "server", "6.0.0",
        "Lists the ACL categories, or the commands inside a category.", "[category]"),
    cmd!("acl|deluser", -3, ADM, 0, 0, 0, deluser, "server", "6.0.0",
        "Deletes ACL users, and terminates their connections.", "username [username ...]"),
    cmd!("acl|dryrun", -4, ADM, 0, 0, 0, dryrun, "server", "7.0.0",
        "Simulates the execution of a command by a user, without executing the command.",
        "username command [arg [arg ...]]"),
    cmd!("acl|genpass", -2, PLAIN, 0, 0, 0, genpass, "server", "6.0.0",
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
        "[bits]"),
    cmd!("acl|getuser", 3, ADM, 0, 0, 0, getuser, "server", "6.0.0",
        "Lists the ACL rules of a user.", "username"),
    cmd!("acl|help", 2, LOADING | STALE, 0, 0, 0, help, "server", "6.0.0",
        "Returns helpful text about the different subcommands.", ""),
    cmd!("acl|list", 2, ADM, 0, 0, 0, list, "server", "6.0.0",
        "Dumps the effective rules in ACL file format.", ""),
    cmd!("acl|load", 2, ADM, 0, 0, 0, load, "server", "6.0.0",
        "Reloads the rules from the configured ACL file.", ""),
    cmd!("acl|log", -2, ADM, 0, 0, 0, log, "server", "6.0.0",
        "Lists recent security events generated due to ACL rules.", "[count | RESET]"),
    cmd!("acl|save", 2, ADM, 0, 0, 0, save, "server", "6.0.0",
        "Saves the effective ACL rules in the configured ACL file.", ""),
    cmd!("acl|setuser", -3, ADM, 0, 0, 0, setuser, "server", "6.0.0",
        "Creates and modifies an ACL user and its rules.", "username [rule [rule ...]]"),
    cmd!("acl|users", 2, ADM, 0, 0, 0, users, "server", "6.0.0",
        "Lists all ACL users.", ""),
    cmd!("acl|whoami", 2, PLAIN, 0, 0, 0, whoami, "server", "6.0.0",
        "Returns the authenticated username of the current connection.", ""),
];

/// ACL <subcommand> …
fn acl(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    super::sync_requirepass(ctx.srv);
    crate::dispatch_sub(ctx, SUBCOMMANDS, args)
}

/// ACL SETUSER username [rule …]: all rules apply, or none.
fn setuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let name = args.get(2);
    if has_spaces(name) {
        return Err(CmdError::Static(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let rules: Vec<&[u8]> = args.iter().skip(3).collect();
    let all = pubsub_all(ctx.srv);
    let (old, new) = ctx
        .srv
        .acl
        .store
        .update(|users| {
            let old = users.get(name).cloned();
            let base = old
                .as_deref()
                .cloned()
                .unwrap_or_else(|| User::new(name, all));
            let new = Arc::new(rules::set_user(base, &rules, all)?);
            users.insert(name.into(), new.clone());
            Ok::<_, String>((old, new))
        })
        .map_err(|e| CmdError::Msg(format!("ERR {e}")))?;
    if let Some(old) = old {
        disconnect_subscribers(ctx.srv, ctx.sess, &old, &new);
    }
    ctx.out.ok();
    Ok(())
}

/// ACL GETUSER username: a map of flags, passwords, the root selector's commands, keys
/// and channels, and the other selectors; null for an unknown user.
fn getuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let Some(u) = ctx.srv.acl.user(args.get(2)) else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut ctx.out;
    out.map_len(6);
    out.bulk(b"flags");
    let flags = u.flag_names();
    out.set_len(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array_len(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    let describe = |out: &mut protocol::Reply<'_>, s: &rules::Selector| {
        out.bulk(b"commands");
        out.bulk(s.describe_commands().as_bytes());
        out.bulk(b"keys");
        out.bulk(s.describe_keys().as_bytes());
        out.bulk(b"channels");
        out.bulk(s.describe_channels().as_bytes());
    };
    describe(out, u.root());
    out.bulk(b"selectors");
    out.array_len(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        out.map_len(3);
        describe(out, s);
    }
    Ok(())
}

/// ACL DELUSER username [username …]: how many existed; their clients are disconnected.
fn deluser(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let names: Vec<&[u8]> = args.iter().skip(2).collect();
    if names.contains(&&b"default"[..]) {
        return Err(CmdError::Static("ERR The 'default' user cannot be removed"));
    }
    let removed: Vec<Box<[u8]>> = ctx.srv.acl.store.update(|users| {
        names
            .iter()
            .filter_map(|n| users.remove(*n).map(|u| u.name.clone()))
            .collect()
    });
    disconnect_users(ctx.srv, ctx.sess, |n| removed.iter().any(|r| **r == *n));
    ctx.out.int(removed.len() as i64);
    Ok(())
}

/// ACL LIST: `user <name> <rules>` for each user.
fn list(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let users = ctx.srv.acl.store.all();
    ctx.out.array_len(users.len());
    for u in users {
        let mut line = b"user ".to_vec();
        line.extend_from_slice(&u.name);
        line.push(b' ');
        line.extend_from_slice(u.describe().as_bytes());
        ctx.out.bulk(&line);
    }
    Ok(())
}

/// ACL USERS
fn users(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let users = ctx.srv.acl.store.all();
    ctx.out.array_len(users.len());
    for u in users {
        ctx.out.bulk(&u.name);
    }
    Ok(())
}

/// ACL WHOAMI
fn whoami(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let name = ctx.sess.acl.name().to_vec();
    ctx.out.bulk(&name);
    Ok(())
}

/// ACL CAT [category]: the categories, or the commands (and subcommands) of one.
fn cat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() == 2 {
        ctx.out.array_len(CATEGORIES.len());
        for c in CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(());
    }
    if args.len() > 3 {
        return Err(crate::util::subcommand_syntax_error(args));
    }
    let name = args.get(2);
    let Some(mask) = category(name) else {
        let shown: String = lossy(name).chars().take(128).collect();
        return Err(CmdError::Msg(format!("ERR Unknown category '{shown}'")));
    };
    let ix = cats::index();
    let names: Vec<&str> = ix
        .walk()
        .filter(|&id| ix.cats(id) & mask != 0)
        .map(|id| ix.spec(id).name)
        .collect();
    ctx.out.array_len(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// ACL GENPASS [bits]: `bits` (default 256) random bits as hex.
fn genpass(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(crate::util::subcommand_syntax_error(args));
    }
    let bits = match args.try_get(2) {
        Some(b) => parse_int(b).map_err(|_| CmdError::NotInteger)?,
        None => 256,
    };
    if bits <= 0 || bits > 4096 {
        return Err(CmdError::Static(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        ));
    }
    let chars = (bits as usize).div_ceil(4);
    let hex: Vec<u8> = (0..chars)
        .map(|_| b"0123456789abcdef"[(rand::random::<u8>() & 15) as usize])
        .collect();
    ctx.out.bulk(&hex);
    Ok(())
}

/// ACL DRYRUN username command [arg …]: OK, or why the user may not run it (a bulk
/// string, as Redis answers).
fn dryrun(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let name = args.get(2);
    let Some(u) = ctx.srv.acl.user(name) else {
        return Err(CmdError::Msg(format!(
            "ERR User '{}' not found",
            lossy(name)
        )));
    };
    let inner = args.skip(3);
    let table = ctx.srv.table;
    let not_found = || CmdError::Msg(format!("ERR Command '{}' not found", lossy(inner.get(0))));
    let row = table.lookup_row(inner.get(0)).ok_or_else(not_found)?;
    let (id, spec) = if !row.spec.subcommands.is_empty() && inner.len() > 1 {
        let id = table.stat_id(row, inner).ok_or_else(not_found)?;
        (id, table.stat_spec(id).ok_or_else(not_found)?)
    } else {
        (row.stat, row.spec)
    };
    if !spec.arity_ok(inner.len()) {
        return Err(CmdError::Msg(format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        )));
    }
    match u.check(id, spec, inner) {
        Ok(()) => ctx.out.ok(),
        Err(d) => {
            let msg = match d {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    spec.name
                ),
                Denied::Key(p) => format!(
                    "This user has no permissions to access the '{}' key",
                    lossy(inner.get(p))
                ),
                Denied::Channel(p) => format!(
                    "This user has no permissions to access the '{}' channel",
                    lossy(inner.get(p))
                ),
            };
            ctx.out.bulk(msg.as_bytes());
        }
    }
    Ok(())
}

/// ACL LOG [count | RESET]
fn log(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(crate::util::subcommand_syntax_error(args));
    }
    let mut count = 10;
    if let Some(a) = args.try_get(2) {
        if a.eq_ignore_ascii_case(b"reset") {
            ctx.srv.acl.log.lock().reset();
            ctx.out.ok();
            return Ok(());
        }
        count = parse_int(a).map_err(|_| CmdError::NotInteger)?.max(0);
    }
    let now = ctx.srv.ks.now();
    ctx.srv
        .acl
        .log
        .lock()
        .reply(&mut ctx.out, count as usize, now);
    Ok(())
}

pub(super) const NO_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// ACL LOAD: replace every user with the file's, or change nothing. Clients of the
/// replaced users (all but `default`) are disconnected, as in Redis.
fn load(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let f = aclfile(ctx.srv).ok_or(CmdError::Static(NO_FILE))?;
    let users = file::load(std::path::Path::new(&f), &f, pubsub_all(ctx.srv))
        .map_err(|e| CmdError::Msg(format!("ERR {e}")))?;
    let old: Vec<Box<[u8]>> = ctx.srv.acl.store.update(|u| {
        let old = u.keys().filter(|n| &***n != b"default").cloned().collect();
        *u = users;
        old
    });
    disconnect_users(ctx.srv, ctx.sess, |n| old.iter().any(|o| **o == *n));
    ctx.out.ok();
    Ok(())
}

/// ACL SAVE: write every user to the file.
fn save(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let f = aclfile(ctx.srv).ok_or(CmdError::Static(NO_FILE))?;
    let text = file::render(&ctx.srv.acl.store.all());
    if let Err(e) = file::save(std::path::Path::new(&f), &text) {
        tracing::warn!("ACL SAVE: writing {f}: {e}");
        return Err(CmdError::Static(
            "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}
