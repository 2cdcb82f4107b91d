//! Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, and the CLIENT container
//! (its subcommands live in `client_cmd.rs`).
//!
//! AUTH and HELLO … AUTH authenticate as an ACL user (`acl.rs`); the one-argument AUTH is
//! the `default` user, whose password is `requirepass`. While the default user is
//! `nopass`, any password opens it, and the one-argument form answers Redis's "called
//! without any password configured" error.

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, lossy, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use std::sync::atomic::Ordering::Relaxed;

/// The version HELLO and INFO report: the Redis release whose behaviour rcache follows.
pub const REDIS_VERSION: &str = "7.0.15";

pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "ping",
        -1,
        FAST,
        0,
        0,
        0,
        ping,
        "connection",
        "1.0.0",
        "Returns the server's liveliness response.",
        "[message]"
    ),
    cmd!(
        "echo",
        2,
        FAST | STALE | LOADING,
        0,
        0,
        0,
        echo,
        "connection",
        "1.0.0",
        "Returns the given string.",
        "message"
    ),
    cmd!(
        "quit",
        -1,
        FAST | STALE | LOADING | NOSCRIPT | NO_AUTH | ALLOW_BUSY,
        0,
        0,
        0,
        quit,
        "connection",
        "1.0.0",
        "Closes the connection.",
        ""
    ),
    cmd!(
        "select",
        2,
        FAST | STALE | LOADING,
        0,
        0,
        0,
        select,
        "connection",
        "2.0.0",
        "Changes the selected database.",
        "index"
    ),
    cmd!(
        "auth",
        -2,
        FAST | STALE | LOADING | NOSCRIPT | NO_AUTH | ALLOW_BUSY,
        0,
        0,
        0,
        auth,
        "connection",
        "1.0.0",
        "Authenticates the connection.",
        "[username] password"
    ),
    cmd!(
        "hello",
        -1,
        FAST | STALE | LOADING | NOSCRIPT | NO_AUTH | ALLOW_BUSY,
        0,
        0,
        0,
        hello,
        "connection",
        "6.0.0",
        "Handshakes with the server: selects the protocol version, optionally authenticates and names the connection.",
        "[protover [AUTH username password] [SETNAME clientname]]"
    ),
    CommandSpec {
        subcommands: crate::client_cmd::SUBCOMMANDS,
        ..cmd!(
            "client",
            -2,
            0,
            0,
            0,
            0,
            client,
            "connection",
            "2.4.0",
            "A container for client connection commands.",
            ""
        )
    },
];

/// PING [message]. A subscribed RESP2 client gets `["pong", message or ""]`, as Redis.
fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() <= 2 && !ctx.out.is_resp3() && crate::pubsub::is_subscribed(ctx.sess) {
        ctx.out.array_len(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.try_get(1).unwrap_or(b""));
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => return Err(CmdError::WrongArity),
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ctx.out.bulk(args.get(1));
    Ok(())
}

/// QUIT: reply OK, then close once the reply is written.
fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.ok();
    ctx.sess.close = true;
    Ok(())
}

/// SELECT index
fn select(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let i = parse_int(args.get(1)).map_err(|_| CmdError::Static("ERR invalid DB index"))?;
    if i < 0 || i as usize >= ctx.srv.ks.databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.sess.db = i as usize;
    ctx.sess.handle.db.store(i as usize, Relaxed);
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Check a username/password pair against the ACL users; on success the session is
/// theirs and authenticated. Err is the WRONGPASS error (and an ACL LOG entry).
fn authenticate(ctx: &mut Ctx<'_>, command: &[u8], user: &[u8], pass: &[u8]) -> CmdResult {
    crate::acl::authenticate(ctx.srv, ctx.sess, command, user, pass)
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    match args.len() {
        2 => {
            if crate::acl::default_is_nopass(ctx.srv) {
                return Err(CmdError::Static(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            authenticate(ctx, args.get(0), b"default", args.get(1))?;
        }
        3 => authenticate(ctx, args.get(0), args.get(1), args.get(2))?,
        _ => return Err(CmdError::Syntax),
    }
    ctx.out.ok();
    Ok(())
}

/// Redis's rule for client names and library attributes: printable ASCII, no spaces.
pub fn valid_client_attr(b: &[u8]) -> bool {
    b.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Set (or with "" clear) the connection's name, with Redis's validation.
pub fn set_client_name(ctx: &mut Ctx<'_>, name: &[u8]) -> CmdResult {
    if !valid_client_attr(name) {
        return Err(CmdError::Static(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *ctx.sess.handle.name.lock() = (!name.is_empty()).then(|| lossy(name));
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
///
/// Answers, in the protocol it switches to, the map Redis 7 sends: server, version, proto,
/// id, mode, role, modules. A client that must authenticate may HELLO only with AUTH.
fn hello(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut ver = None;
    let mut i = 1;
    if args.len() >= 2 {
        let v = parse_int(args.get(1)).map_err(|_| {
            CmdError::Static("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Static("NOPROTO unsupported protocol version"));
        }
        ver = Some(v);
        i = 2;
    }
    let mut creds = None;
    let mut name = None;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if eq_ic(opt, "auth") && more >= 2 {
            creds = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if eq_ic(opt, "setname") && more >= 1 {
            let n = args.get(i + 1);
            if !valid_client_attr(n) {
                return Err(CmdError::Static(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            name = Some(n);
            i += 2;
        } else {
            return Err(CmdError::Msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                lossy(opt)
            )));
        }
    }
    if let Some((user, pass)) = creds {
        authenticate(ctx, args.get(0), user, pass)?;
    }
    if crate::acl::auth_required(ctx.srv, ctx.sess) {
        return Err(CmdError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        set_client_name(ctx, n)?;
    }
    if let Some(v) = ver {
        ctx.sess.resp3 = v == 3;
        ctx.sess.handle.resp.store(v as u8, Relaxed);
        ctx.out.set_resp3(v == 3);
    }
    let out = &mut ctx.out;
    out.map_len(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if ctx.sess.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.sess.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array_len(0);
    Ok(())
}

/// CLIENT <subcommand> …
fn client(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    crate::dispatch_sub(ctx, crate::client_cmd::SUBCOMMANDS, args)
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::testing::TestCtx;

    const HELLO2: &str = "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    const HELLO3: &str = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

    #[test]
    fn ping_echo_select_quit() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");
        assert_eq!(t.run(&["PING", "hi"]), "$2\r\nhi\r\n");
        assert_eq!(
            t.run(&["PING", "a", "b"]),
            "-ERR wrong number of arguments for 'ping' command\r\n"
        );
        assert_eq!(t.run(&["ECHO", "x"]), "$1\r\nx\r\n");
        assert_eq!(t.run(&["SELECT", "1"]), "+OK\r\n");
        assert_eq!(t.sess.lock().db, 1);
        assert_eq!(
            t.run(&["SELECT", "16"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(t.run(&["SELECT", "x"]), "-ERR invalid DB index\r\n");
        assert_eq!(t.run(&["QUIT"]), "+OK\r\n");
        assert!(t.sess.lock().close);
    }

    #[test]
    fn hello_switches_protocol_and_answers_in_the_new_one() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["HELLO"]), HELLO2);
        assert_eq!(t.run(&["HELLO", "3"]), HELLO3);
        assert!(t.sess.lock().resp3);
        assert_eq!(t.run(&["HELLO"]), HELLO3);
        assert_eq!(t.run(&["HELLO", "2"]), HELLO2);
        assert!(!t.sess.lock().resp3);
        assert_eq!(
            t.run(&["HELLO", "4"]),
            "-NOPROTO unsupported protocol version\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "x"]),
            "-ERR Protocol version is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "3", "FOO"]),
            "-ERR Syntax error in HELLO option 'FOO'\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "3", "AUTH", "default"]),
            "-ERR Syntax error in HELLO option 'AUTH'\r\n"
        );
        assert_eq!(
            t.run(&["HELLO", "3", "SETNAME", "a b"]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        // A failed HELLO leaves the protocol as it was.
        assert!(!t.sess.lock().resp3);
        assert_eq!(t.run(&["HELLO", "2", "SETNAME", "app"]), HELLO2);
        assert_eq!(t.run(&["CLIENT", "GETNAME"]), "$3\r\napp\r\n");
        // Without a password, the default user takes any password (nopass).
        assert_eq!(t.run(&["HELLO", "2", "AUTH", "default", "x"]), HELLO2);
        assert_eq!(
            t.run(&["HELLO", "2", "AUTH", "bob", "x"]),
            format!("-{}\r\n", super::WRONGPASS)
        );
    }

    fn locked() -> TestCtx {
        let s = Settings::default();
        s.set("requirepass", "sekret", true).unwrap();
        let t = TestCtx::with_settings(s);
        t.sess.lock().authenticated = false;
        t
    }

    #[test]
    fn auth_flow() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["AUTH", "x"]),
            "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
        );
        assert_eq!(t.run(&["AUTH", "default", "x"]), "+OK\r\n");
        assert_eq!(t.run(&["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n");

        let t = locked();
        let wrong = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
        assert_eq!(t.run(&["PING"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(
            t.run(&["CLIENT", "ID"]),
            "-NOAUTH Authentication required.\r\n"
        );
        assert_eq!(t.run(&["AUTH", "bad"]), wrong);
        assert_eq!(t.run(&["AUTH", "sekre"]), wrong);
        assert_eq!(t.run(&["AUTH", "default", "bad"]), wrong);
        assert_eq!(t.run(&["AUTH", "other", "sekret"]), wrong);
        assert!(!t.sess.lock().authenticated);
        assert_eq!(t.run(&["AUTH", "sekret"]), "+OK\r\n");
        assert!(t.sess.lock().authenticated);
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");

        let t = locked();
        assert_eq!(t.run(&["AUTH", "default", "sekret"]), "+OK\r\n");
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");
    }

    #[test]
    fn hello_with_auth_on_a_locked_server() {
        let t = locked();
        assert!(t
            .run(&["HELLO", "3"])
            .starts_with("-NOAUTH HELLO must be called"));
        assert_eq!(
            t.run(&["HELLO", "3", "AUTH", "default", "bad"]),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert!(!t.sess.lock().resp3);
        assert_eq!(
            t.run(&["HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "n1"]),
            HELLO3
        );
        let s = t.sess.lock();
        assert!(s.authenticated && s.resp3);
        assert_eq!(s.handle.name().as_str(), "n1");
        assert_eq!(s.handle.resp.load(std::sync::atomic::Ordering::Relaxed), 3);
    }
}
