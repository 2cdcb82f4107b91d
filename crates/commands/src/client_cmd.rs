//! CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL, SETINFO, NO-EVICT, NO-TOUCH,
//! UNBLOCK, REPLY, HELP. They read and change the shared `ClientHandle`s of
//! `ServerState::clients`. TRACKING, CACHING, GETREDIR and TRACKINGINFO live in
//! `tracking.rs`, PAUSE and UNPAUSE in `pause.rs`.
//!
//! Every rcache client is a `normal` client of the `default` user: the types `master`,
//! `replica`/`slave` and `pubsub` are accepted in filters and match nobody.

use crate::clients::ClientHandle;
use crate::connection::{set_client_name, valid_client_attr};
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, lossy, parse_int};
use crate::{cmd, Ctx, ServerState};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;

const CONN: u32 = NOSCRIPT | LOADING | STALE;

pub const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("client|id", 2, CONN, 0, 0, 0, id, "connection", "5.0.0",
        "Returns the unique client ID of the connection.", ""),
    cmd!("client|setname", 3, CONN, 0, 0, 0, setname, "connection", "2.6.9",
        "Sets the connection name.", "connection-name"),
    cmd!("client|getname", 2, CONN, 0, 0, 0, getname, "connection", "2.6.9",
        "Returns the name of the connection.", ""),
    cmd!("client|list", -2, ADMIN | CONN, 0, 0, 0, list, "connection", "2.4.0",
        "Lists open connections.",
        "[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]"),
    cmd!("client|info", 2, CONN, 0, 0, 0, info, "connection", "6.2.0",
        "Returns information about the connection.", ""),
    cmd!("client|kill", -3, ADMIN | CONN, 0, 0, 0, kill, "connection", "2.4.0",
        "Terminates open connections.",
        "<ip:port | <ID client-id | TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB> | USER username | ADDR ip:port | LADDR ip:port | SKIPME <YES | NO> | MAXAGE maxage> ...>"),
    cmd!("client|setinfo", 4, CONN, 0, 0, 0, setinfo, "connection", "7.2.0",
        "Sets information specific to the client or connection.",
        "<LIB-NAME libname | LIB-VER libver>"),
    cmd!("client|no-evict", 3, ADMIN | CONN, 0, 0, 0, no_evict, "connection", "7.0.0",
        "Sets the client eviction mode of the connection.", "<ON | OFF>"),
    cmd!("client|no-touch", 3, CONN, 0, 0, 0, no_touch, "connection", "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "<ON | OFF>"),
    cmd!("client|unblock", -3, ADMIN | CONN, 0, 0, 0, unblock, "connection", "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
        "client-id [TIMEOUT | ERROR]"),
    cmd!("client|tracking", -3, CONN, 0, 0, 0, crate::tracking::client_tracking, "connection", "6.0.0",
        "Controls server-assisted client-side caching for the connection.",
        "<ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"),
    cmd!("client|caching", 3, CONN, 0, 0, 0, crate::tracking::client_caching, "connection", "6.0.0",
        "Instructs the server whether to track the keys in the next request.", "<YES | NO>"),
    cmd!("client|getredir", 2, CONN, 0, 0, 0, crate::tracking::client_getredir, "connection", "6.0.0",
        "Returns the client ID to which the connection's tracking notifications are redirected.", ""),
    cmd!("client|trackinginfo", 2, CONN, 0, 0, 0, crate::tracking::client_trackinginfo, "connection", "6.2.0",
        "Returns information about server-assisted client-side caching for the connection.", ""),
    cmd!("client|pause", -3, ADMIN | CONN, 0, 0, 0, crate::pause::client_pause, "connection", "2.9.50",
        "Suspends commands processing.", "timeout [WRITE | ALL]"),
    cmd!("client|unpause", 2, ADMIN | CONN, 0, 0, 0, crate::pause::client_unpause, "connection", "6.2.0",
        "Resumes processing commands from paused clients.", ""),
    cmd!("client|reply", 3, CONN, 0, 0, 0, reply, "connection", "3.2.0",
        "Instructs the server whether to reply to commands.", "<ON | OFF | SKIP>"),
    cmd!("client|help", 2, LOADING | STALE, 0, 0, 0, help, "connection", "5.0.0",
        "Returns helpful text about the different subcommands.", ""),
];

const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients with the specified IDs.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

/// Reply a HELP text as Redis does: an array of status lines.
pub fn reply_help(ctx: &mut Ctx<'_>, lines: &[&str]) {
    ctx.out.array_len(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
}

fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

fn id(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.int(ctx.sess.id as i64);
    Ok(())
}

fn setname(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    set_client_name(ctx, args.get(2))?;
    ctx.out.ok();
    Ok(())
}

fn getname(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    match ctx.sess.handle.name.lock().as_deref() {
        Some(n) => ctx.out.bulk(n.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// The client classes Redis names. rcache clients are all `Normal`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

fn client_type(b: &[u8]) -> Result<ClientType, CmdError> {
    let t = if eq_ic(b, "normal") {
        ClientType::Normal
    } else if eq_ic(b, "replica") || eq_ic(b, "slave") {
        ClientType::Replica
    } else if eq_ic(b, "master") {
        ClientType::Master
    } else if eq_ic(b, "pubsub") {
        ClientType::PubSub
    } else {
        return Err(CmdError::Msg(format!(
            "ERR Unknown client type '{}'",
            lossy(b)
        )));
    };
    Ok(t)
}

/// The `info_line`s of `clients`, each followed by a newline; `me`'s shows `client|list`
/// as its running command, as Redis's does.
fn lines(clients: &[std::sync::Arc<ClientHandle>], me: u64) -> String {
    let mut s = String::new();
    for c in clients {
        s.push_str(&c.info_line_running((c.id == me).then_some("client|list")));
        s.push('\n');
    }
    s
}

/// CLIENT LIST [TYPE type] [ID id [id …]]
fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let clients = ctx.srv.clients.list();
    let text = if args.len() == 2 {
        lines(&clients, ctx.sess.id)
    } else if args.len() == 4 && eq_ic(args.get(2), "type") {
        match client_type(args.get(3))? {
            ClientType::Normal => lines(&clients, ctx.sess.id),
            _ => String::new(),
        }
    } else if args.len() > 3 && eq_ic(args.get(2), "id") {
        let mut found = Vec::new();
        for a in args.iter().skip(3) {
            let id = parse_int(a).map_err(|_| CmdError::Static("ERR Invalid client ID"))?;
            if let Some(c) = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.srv.clients.get(id))
            {
                found.push(c);
            }
        }
        lines(&found, ctx.sess.id)
    } else {
        return Err(CmdError::Syntax);
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// CLIENT INFO: this connection's line.
fn info(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let mut line = ctx.sess.handle.info_line_running(Some("client|info"));
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

/// What CLIENT KILL's new form selects: every given filter must match.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    ty: Option<ClientType>,
    addr: Option<String>,
    laddr: Option<String>,
    /// The clients authenticated as this ACL user (Redis: that user, by identity; a
    /// client's user is its name here).
    user: Option<Box<[u8]>>,
    max_age: Option<u64>,
    skip_me: bool,
}

impl KillFilter {
    fn matches(&self, c: &ClientHandle, me: u64) -> bool {
        self.id.is_none_or(|id| c.id == id)
            && self.ty.is_none_or(|t| t == ClientType::Normal)
            && self.addr.as_deref().is_none_or(|a| c.addr == a)
            && self.laddr.as_deref().is_none_or(|a| c.laddr == a)
            && self.user.as_deref().is_none_or(|u| **c.user.lock() == *u)
            && self.max_age.is_none_or(|m| c.age_secs() >= m)
            && !(self.skip_me && c.id == me)
    }
}

fn parse_kill_filter(srv: &ServerState, args: Args<'_>) -> Result<KillFilter, CmdError> {
    let mut f = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i + 1 < args.len() {
        let (opt, v) = (args.get(i), args.get(i + 1));
        if eq_ic(opt, "id") {
            match parse_int(v) {
                Ok(n) if n > 0 => f.id = Some(n as u64),
                _ => return Err(CmdError::Static("ERR client-id should be greater than 0")),
            }
        } else if eq_ic(opt, "type") {
            f.ty = Some(client_type(v)?);
        } else if eq_ic(opt, "addr") {
            f.addr = Some(lossy(v));
        } else if eq_ic(opt, "laddr") {
            f.laddr = Some(lossy(v));
        } else if eq_ic(opt, "user") {
            if srv.acl.store.get(v).is_none() {
                return Err(CmdError::Msg(format!("ERR No such user '{}'", lossy(v))));
            }
            f.user = Some(v.into());
        } else if eq_ic(opt, "skipme") {
            f.skip_me = if eq_ic(v, "yes") {
                true
            } else if eq_ic(v, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if eq_ic(opt, "maxage") {
            match parse_int(v) {
                Ok(n) if n > 0 => f.max_age = Some(n as u64),
                Ok(_) => return Err(CmdError::Static("ERR maxage should be greater than 0")),
                Err(_) => {
                    return Err(CmdError::Static(
                        "ERR maxage is not an integer or out of range",
                    ))
                }
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(f)
}

/// Close `c`: this connection after its reply, another at its next wake-up.
fn kill_one(ctx: &mut Ctx<'_>, c: &ClientHandle) {
    if c.id == ctx.sess.id {
        ctx.sess.close = true;
    } else {
        c.kill();
    }
}

/// CLIENT KILL ip:port (old form: OK or `ERR No such client`)
/// CLIENT KILL <filter value> … (new form: the number of clients killed)
fn kill(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() == 3 {
        let addr = args.get(2);
        let Some(c) = ctx
            .srv
            .clients
            .list()
            .into_iter()
            .find(|c| c.addr.as_bytes() == addr)
        else {
            return Err(CmdError::Static("ERR No such client"));
        };
        kill_one(ctx, &c);
        ctx.out.ok();
        return Ok(());
    }
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let f = parse_kill_filter(ctx.srv, args)?;
    let mut n = 0;
    for c in ctx.srv.clients.list() {
        if f.matches(&c, ctx.sess.id) {
            kill_one(ctx, &c);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// CLIENT SETINFO <LIB-NAME name | LIB-VER version>
fn setinfo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (attr, v) = (args.get(2), args.get(3));
    let slot = if eq_ic(attr, "lib-name") {
        &ctx.sess.handle.lib_name
    } else if eq_ic(attr, "lib-ver") {
        &ctx.sess.handle.lib_ver
    } else {
        return Err(CmdError::Msg(format!(
            "ERR Unrecognized option '{}'",
            lossy(attr)
        )));
    };
    if !valid_client_attr(v) {
        return Err(CmdError::Msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            lossy(attr)
        )));
    }
    *slot.lock() = (!v.is_empty()).then(|| lossy(v));
    ctx.out.ok();
    Ok(())
}

fn on_off(b: &[u8]) -> Result<bool, CmdError> {
    if eq_ic(b, "on") {
        Ok(true)
    } else if eq_ic(b, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// CLIENT REPLY <ON | OFF | SKIP>: OFF and SKIP answer nothing themselves; the connection
/// drops the replies they cover (`Session::reply_dropped`). Only over RESP: the other
/// doors answer every request.
fn reply(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    use crate::clients::{REPLY_OFF, REPLY_SKIP, REPLY_SKIP_NEXT};
    if ctx.sess.door != crate::Door::Resp {
        return Err(CmdError::Msg(format!(
            "ERR CLIENT REPLY is not supported over the {} door; use RESP",
            ctx.sess.door.name()
        )));
    }
    let m = args.get(2);
    if eq_ic(m, "on") {
        ctx.sess.reply &= !(REPLY_SKIP | REPLY_OFF);
        ctx.out.ok();
    } else if eq_ic(m, "off") {
        ctx.sess.reply |= REPLY_OFF;
    } else if eq_ic(m, "skip") {
        if ctx.sess.reply & REPLY_OFF == 0 {
            ctx.sess.reply |= REPLY_SKIP_NEXT;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// CLIENT NO-EVICT <ON | OFF>
fn no_evict(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let on = on_off(args.get(2))?;
    ctx.sess.handle.no_evict.store(on, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT NO-TOUCH <ON | OFF>
fn no_touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let on = on_off(args.get(2))?;
    ctx.sess.no_touch = on;
    ctx.sess.handle.no_touch.store(on, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: wake a blocked client as if its timeout passed, or
/// with an UNBLOCKED error. 1 if it was blocked.
fn unblock(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::Static(
            "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.",
        ));
    }
    let id = parse_int(args.get(2))?;
    let error = match args.try_get(3) {
        None => false,
        Some(r) if eq_ic(r, "timeout") => false,
        Some(r) if eq_ic(r, "error") => true,
        Some(_) => {
            return Err(CmdError::Static(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let n = id > 0 && ctx.srv.blocking.unblock(id as u64, error);
    ctx.out.int(n as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::TestCtx;

    #[test]
    fn id_name_and_info() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["CLIENT", "ID"]), ":1\r\n");
        assert_eq!(t.run(&["client", "getname"]), "$-1\r\n");
        assert_eq!(t.run(&["CLIENT", "SETNAME", "web-1"]), "+OK\r\n");
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$5\r\nweb-1\r\n");
        assert_eq!(
            t.run(&["CLIENT", "SETNAME", "a b"]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "SETNAME", "é"]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        let info = t.run(&["CLIENT", "INFO"]);
        assert!(info.starts_with("$"), "{info}");
        assert!(
            info.contains("id=1 ") && info.contains(" name=web-1 "),
            "{info}"
        );
        assert!(info.ends_with("\n\r\n"));
        assert_eq!(t.run(&["CLIENT", "SETNAME", ""]), "+OK\r\n");
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$-1\r\n");
        t.resp3();
        assert!(t.run(&["CLIENT", "INFO"]).starts_with("="));
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "_\r\n");
    }

    #[test]
    fn subcommand_errors() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["CLIENT", "FOO"]),
            "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT"]),
            "-ERR wrong number of arguments for 'client' command\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "SETNAME"]),
            "-ERR wrong number of arguments for 'client|setname' command\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "ID", "x"]),
            "-ERR wrong number of arguments for 'client|id' command\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "LIST", "TYPE", "foo"]),
            "-ERR Unknown client type 'foo'\r\n"
        );
        assert_eq!(t.run(&["CLIENT", "LIST", "foo"]), "-ERR syntax error\r\n");
        assert_eq!(t.run(&["CLIENT", "LIST", "ID"]), "-ERR syntax error\r\n");
        assert_eq!(
            t.run(&["CLIENT", "LIST", "ID", "1", "x"]),
            "-ERR Invalid client ID\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "NO-EVICT", "maybe"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "SETINFO", "LIB-FOO", "x"]),
            "-ERR Unrecognized option 'LIB-FOO'\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "SETINFO", "lib-name", "a b"]),
            "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
        );
        let help = t.run(&["CLIENT", "HELP"]);
        assert!(help.starts_with("*60\r\n+CLIENT <subcommand>"), "{help}");
    }

    #[test]
    fn list_filters_and_flags() {
        let t = TestCtx::new();
        let other = t.new_session();
        let l = t.run(&["CLIENT", "LIST"]);
        assert!(l.contains("id=1 ") && l.contains("id=2 "), "{l}");
        assert!(
            l.contains(" cmd=client|list ") && l.contains(" cmd=NULL "),
            "{l}"
        );
        assert_eq!(
            l.matches('\n').count(),
            4,
            "header, two lines, final CRLF: {l}"
        );
        let l = t.run(&["CLIENT", "LIST", "ID", "2", "99"]);
        assert!(l.contains("id=2 ") && !l.contains("id=1 "), "{l}");
        assert_eq!(t.run(&["CLIENT", "LIST", "ID", "99"]), "$0\r\n\r\n");
        assert!(t
            .run(&["CLIENT", "LIST", "TYPE", "normal"])
            .contains("id=2 "));
        assert_eq!(t.run(&["CLIENT", "LIST", "TYPE", "pubsub"]), "$0\r\n\r\n");
        assert_eq!(t.run(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
        assert!(t.run(&["CLIENT", "INFO"]).contains(" flags=e "));
        assert_eq!(t.run(&["CLIENT", "NO-TOUCH", "ON"]), "+OK\r\n");
        assert!(t.sess.lock().no_touch);
        assert!(t.run(&["CLIENT", "INFO"]).contains(" flags=eT "));
        assert_eq!(t.run(&["CLIENT", "NO-EVICT", "off"]), "+OK\r\n");
        assert_eq!(t.run(&["CLIENT", "NO-TOUCH", "off"]), "+OK\r\n");
        assert!(t.run(&["CLIENT", "INFO"]).contains(" flags=N "));
        assert_eq!(
            t.run(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
            "+OK\r\n"
        );
        assert_eq!(t.run(&["CLIENT", "SETINFO", "lib-ver", "5.0"]), "+OK\r\n");
        let info = t.run(&["CLIENT", "INFO"]);
        assert!(info.contains(" lib-name=redis-py lib-ver=5.0\n"), "{info}");
        drop(other);
    }

    #[test]
    fn kill_forms() {
        let t = TestCtx::new();
        let other = t.new_session();
        let third = t.new_session();
        assert_eq!(
            t.run(&["CLIENT", "KILL", "1.2.3.4:5"]),
            "-ERR No such client\r\n"
        );
        assert_eq!(t.run(&["CLIENT", "KILL", "ID"]), "-ERR No such client\r\n");
        assert_eq!(
            t.run(&["CLIENT", "KILL", "ID", "0"]),
            "-ERR client-id should be greater than 0\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "KILL", "TYPE", "x"]),
            "-ERR Unknown client type 'x'\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "KILL", "USER", "bob"]),
            "-ERR No such user 'bob'\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "KILL", "SKIPME", "maybe"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "KILL", "FOO", "bar"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "KILL", "ID", "2", "SKIPME"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["CLIENT", "KILL", "MAXAGE", "0"]),
            "-ERR maxage should be greater than 0\r\n"
        );
        assert_eq!(t.run(&["CLIENT", "KILL", "ID", "99"]), ":0\r\n");
        assert_eq!(t.run(&["CLIENT", "KILL", "ID", "2"]), ":1\r\n");
        assert!(other.handle.is_killed() && !third.handle.is_killed());
        // SKIPME defaults to yes: a TYPE filter kills everyone else.
        assert_eq!(t.run(&["CLIENT", "KILL", "TYPE", "master"]), ":0\r\n");
        assert_eq!(
            t.run(&["CLIENT", "KILL", "TYPE", "normal", "USER", "default"]),
            ":2\r\n"
        );
        assert!(third.handle.is_killed() && !t.sess.lock().close);
        // The old form and SKIPME no may kill the caller: it closes after the reply.
        assert_eq!(
            t.run(&["CLIENT", "KILL", "ID", "1", "SKIPME", "no"]),
            ":1\r\n"
        );
        assert!(t.sess.lock().close);
        t.sess.lock().close = false;
        let addr = third.handle.addr.clone();
        assert_eq!(t.run(&["CLIENT", "KILL", &addr]), "+OK\r\n");
    }

    #[test]
    fn no_touch_leaves_lru_alone() {
        let t = TestCtx::new();
        let lru = |t: &TestCtx| {
            let k = t.srv.ks.key(b"k");
            let mut txn = t.srv.ks.txn1(0, &k);
            txn.peek(&k).unwrap().lru()
        };
        t.run(&["SET", "k", "v"]);
        let before = lru(&t);
        t.advance_ms(5_000);
        assert_eq!(t.run(&["CLIENT", "NO-TOUCH", "on"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
        assert_eq!(lru(&t), before);
        assert_eq!(t.run(&["CLIENT", "NO-TOUCH", "off"]), "+OK\r\n");
        t.run(&["GET", "k"]);
        assert_ne!(lru(&t), before);
    }
}
