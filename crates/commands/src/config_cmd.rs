//! CONFIG subcommands: GET, SET, RESETSTAT, REWRITE, HELP, over the settings table of
//! `config.rs`.
//!
//! CONFIG SET is atomic, as Redis 7's: every name is checked first, then every value is
//! validated on a scratch copy of the settings, and only then applied; if applying still
//! fails, the values changed so far are restored.

use crate::client_cmd::reply_help;
use crate::config::{self, Change, Param, Settings};
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::lossy;
use crate::{cmd, Ctx};
use protocol::Args;

const ADM: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!(
        "config|get",
        -3,
        ADM,
        0,
        0,
        0,
        get,
        "server",
        "2.0.0",
        "Returns the effective values of configuration parameters.",
        "parameter [parameter ...]"
    ),
    cmd!(
        "config|set",
        -4,
        ADM,
        0,
        0,
        0,
        set,
        "server",
        "2.0.0",
        "Sets configuration parameters in-flight.",
        "parameter value [parameter value ...]"
    ),
    cmd!(
        "config|resetstat",
        2,
        ADM,
        0,
        0,
        0,
        resetstat,
        "server",
        "2.0.0",
        "Resets the server's statistics.",
        ""
    ),
    cmd!(
        "config|rewrite",
        2,
        ADM,
        0,
        0,
        0,
        rewrite,
        "server",
        "2.8.0",
        "Persists the effective configuration to file.",
        ""
    ),
    cmd!(
        "config|help",
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

/// CONFIG <subcommand> …
pub fn config(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    crate::dispatch_sub(ctx, SUBCOMMANDS, args)
}

/// CONFIG GET pattern [pattern …]: a map of every setting matching any pattern, each name
/// once (names compare case-insensitively; an alias is a name of its own, as in Redis).
fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut found: Vec<(String, String)> = Vec::new();
    for pat in args.iter().skip(2) {
        for (name, value) in ctx.srv.settings.get_matching(pat) {
            if !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                found.push((name, value));
            }
        }
    }
    ctx.out.map_len(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        // Clients must not learn the cluster secret (they know requirepass; the secret is
        // what keeps them off the bus): only whether one is set.
        if name.eq_ignore_ascii_case("cluster-secret") && !value.is_empty() {
            ctx.out.bulk(b"(set)");
        } else {
            ctx.out.bulk(value.as_bytes());
        }
    }
    Ok(())
}

fn set_failed(name: &str, why: &str) -> CmdError {
    CmdError::Msg(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

/// Whether this client may change protected settings (`dir`, `dbfilename`): Redis's
/// `enable-protected-configs` yes, or local for a client on the loopback interface.
fn protected_allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.srv.settings.value("enable-protected-configs").as_str() {
        "yes" => true,
        "local" => ctx
            .sess
            .handle
            .addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback()),
        _ => false,
    }
}

/// CONFIG SET name value [name value …]
fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(String, String)> = (2..args.len())
        .step_by(2)
        .map(|i| (lossy(args.get(i)), lossy(args.get(i + 1))))
        .collect();
    // 1. Names: known, settable, not repeated. As in Redis the first problem is reported,
    // naming the argument as sent; an alias and its setting are different names.
    let mut params: Vec<(&'static str, &'static Param)> = Vec::with_capacity(pairs.len());
    for (name, _) in &pairs {
        let Some((table_name, p)) = config::lookup(name) else {
            return Err(CmdError::Msg(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        let why = match p.change {
            Change::Immutable => Some("can't set immutable config"),
            Change::Protected if !protected_allowed(ctx) => Some("can't set protected config"),
            _ if params.iter().any(|(n, _)| *n == table_name) => Some("duplicate parameter"),
            _ => None,
        };
        if let Some(why) = why {
            return Err(set_failed(name, why));
        }
        params.push((table_name, p));
    }
    // 2. Values: validate every one on a scratch copy, so nothing changes on error. A value
    // is reported under the table's spelling of the name used (the alias, if that was it).
    let scratch = Settings::default();
    for ((name, p), (_, value)) in params.iter().zip(&pairs) {
        if let Err(e) = scratch.set_param(p, value) {
            return Err(set_failed(name, &e));
        }
    }
    // 3. Apply, restoring earlier values should a setting still refuse.
    let settings = &ctx.srv.settings;
    let old: Vec<String> = params.iter().map(|(_, p)| settings.get(p)).collect();
    for (i, ((name, p), (_, value))) in params.iter().zip(&pairs).enumerate() {
        if let Err(e) = settings.set_param(p, value) {
            for ((_, q), v) in params[..i].iter().zip(&old) {
                let _ = settings.set_param(q, v);
            }
            return Err(set_failed(name, &e));
        }
    }
    // requirepass is the default ACL user's password (Redis's ACLUpdateDefaultUserPassword).
    if params.iter().any(|(n, _)| *n == "requirepass") {
        crate::acl::sync_requirepass(ctx.srv);
    }
    // `appendfsync` reaches the log's writer at once, `appendonly no` closes the log now
    // (turning it on needs the gate alone: the cron does it within a tick).
    if params.iter().any(|(n, _)| n.starts_with("append")) {
        crate::aof::cron(ctx.srv);
    }
    // Keyspace notifications: storage records key events only while they are on.
    crate::notify::sync(ctx.srv);
    ctx.out.ok();
    Ok(())
}

/// CONFIG RESETSTAT: zero the keyspace's hit/miss/expired/evicted counters and the server's.
fn resetstat(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.srv.ks.reset_stats();
    ctx.srv.stats.reset();
    ctx.out.ok();
    Ok(())
}

/// Write `text` to `path` through a temporary file in the same directory and a rename, so
/// a crash mid-write never leaves a truncated configuration behind.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let r = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// CONFIG REWRITE: write the effective settings, as TOML, to the file the server was
/// started with. Unlike Redis, the file is regenerated (comments are rcache's own).
fn rewrite(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let settings = &ctx.srv.settings;
    let Some(path) = settings.config_file.read().clone() else {
        return Err(CmdError::Static(
            "ERR The server is running without a config file",
        ));
    };
    write_atomically(&path, &settings.to_toml()).map_err(|e| {
        CmdError::Msg(format!(
            "ERR Rewriting config file: {e} ({})",
            path.display()
        ))
    })?;
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::testing::TestCtx;

    #[test]
    fn get_shapes_resp2_and_resp3() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["CONFIG", "GET", "maxmemory"]),
            "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
        );
        assert_eq!(t.run(&["CONFIG", "GET", "nothing"]), "*0\r\n");
        let r = t.run(&["CONFIG", "GET", "maxmemory", "MAXMEMORY", "maxmemory-p*"]);
        assert_eq!(
            r,
            "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"
        );
        let r = t.run(&["CONFIG", "GET", "*"]);
        assert!(r.starts_with(&format!("*{}\r\n", 2 * crate::config::names().count())));
        t.resp3();
        assert_eq!(
            t.run(&["CONFIG", "GET", "maxmemory"]),
            "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
        );
        assert_eq!(t.run(&["CONFIG", "GET", "nothing"]), "%0\r\n");
    }

    #[test]
    fn set_is_atomic_with_redis_errors() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&[
                "CONFIG",
                "SET",
                "maxmemory",
                "10mb",
                "maxmemory-policy",
                "allkeys-lru"
            ]),
            "+OK\r\n"
        );
        assert_eq!(t.srv.settings.evict.maxmemory(), 10 << 20);
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory", "1mb", "bogus", "1"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'bogus'\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy", "lru"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory", "abc"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "timeout", "5", "port", "1"]),
            "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"
        );
        // Nothing of the failed commands was applied.
        assert_eq!(t.srv.settings.evict.maxmemory(), 10 << 20);
        assert_eq!(
            t.srv
                .settings
                .timeout
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory", "10", "timeout"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory"]),
            "-ERR wrong number of arguments for 'config|set' command\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "MaxMemory", "0", "hz", "20"]),
            "+OK\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "GET", "hz"]),
            "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
        );
    }

    /// What tools do with a setting they change for a while: CONFIG GET it by the name they
    /// know (often the old one), CONFIG SET it, then CONFIG SET the saved value back. Each
    /// answer below is Redis 7.0.15's.
    #[test]
    fn aliases_answer_as_redis_does() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["CONFIG", "GET", "hash-max-ziplist-value"]),
            "*2\r\n$22\r\nhash-max-ziplist-value\r\n$2\r\n64\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "hash-max-ziplist-value", "128"]),
            "+OK\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "GET", "hash-max-listpack-value"]),
            "*2\r\n$23\r\nhash-max-listpack-value\r\n$3\r\n128\r\n"
        );
        assert_eq!(t.srv.settings.limits().hash_value, 128);
        assert_eq!(
            t.run(&["CONFIG", "SET", "hash-max-ziplist-value", "64"]),
            "+OK\r\n"
        );
        // Asked by name, a setting is answered under the spelling asked.
        assert_eq!(
            t.run(&["CONFIG", "GET", "SLAVE-READ-ONLY"]),
            "*2\r\n$15\r\nSLAVE-READ-ONLY\r\n$3\r\nyes\r\n"
        );
        // A glob matches old and new names alike; a name already answered is not repeated.
        let r = t.run(&["CONFIG", "GET", "*max-*-entries*"]);
        assert!(r.starts_with("*12\r\n"), "{r}");
        for name in ["hash-max-ziplist-entries", "zset-max-listpack-entries"] {
            assert!(r.contains(name), "{r}");
        }
        assert!(t
            .run(&["CONFIG", "GET", "hash-max-ziplist-value", "hash-max-*"])
            .starts_with("*8\r\n$22\r\nhash-max-ziplist-value\r\n"));
        // An alias and its setting are two names: no duplicate, the later one wins.
        assert_eq!(
            t.run(&[
                "CONFIG",
                "SET",
                "hash-max-ziplist-value",
                "1",
                "hash-max-listpack-value",
                "2"
            ]),
            "+OK\r\n"
        );
        assert_eq!(t.srv.settings.limits().hash_value, 2);
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory", "1", "MAXMEMORY", "2"]),
            "-ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "HASH-MAX-ZIPLIST-VALUE", "x"]),
            "-ERR CONFIG SET failed (possibly related to argument 'hash-max-ziplist-value') - argument must be a memory value\r\n"
        );
    }

    /// Every Redis 7.0 setting is known; the first problem in argument order is reported.
    #[test]
    fn redis_settings_are_known() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["CONFIG", "SET", "list-compress-depth", "1"]),
            "+OK\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "GET", "list-compress-depth"]),
            "*2\r\n$19\r\nlist-compress-depth\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            "+OK\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "GET", "notify-keyspace-events"]),
            "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "notify-keyspace-events", "b"]),
            "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "databases", "1", "bogus", "1"]),
            "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "maxmemory", "abc", "bogus", "1"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'bogus'\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "dir", "/tmp"]),
            "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "SET", "tls-port", "6380"]),
            "-ERR CONFIG SET failed (possibly related to argument 'tls-port') - not supported by rcache (TLS is not built); only '0' is accepted\r\n"
        );
        assert_eq!(t.run(&["CONFIG", "SET", "tls-port", "0"]), "+OK\r\n");
        let s = Settings::default();
        s.set("enable-protected-configs", "yes", true).unwrap();
        let t = TestCtx::with_settings(s);
        assert_eq!(t.run(&["CONFIG", "SET", "dir", "/tmp"]), "+OK\r\n");
        assert_eq!(*t.srv.settings.dir.read(), "/tmp");
    }

    #[test]
    fn other_subcommands() {
        let t = TestCtx::new();
        assert_eq!(
            t.run(&["CONFIG", "FOO"]),
            "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "GET"]),
            "-ERR wrong number of arguments for 'config|get' command\r\n"
        );
        assert_eq!(
            t.run(&["CONFIG", "RESETSTAT", "x"]),
            "-ERR wrong number of arguments for 'config|resetstat' command\r\n"
        );
        assert!(t
            .run(&["CONFIG", "HELP"])
            .starts_with("*11\r\n+CONFIG <subcommand>"));
        assert_eq!(
            t.run(&["CONFIG", "REWRITE"]),
            "-ERR The server is running without a config file\r\n"
        );
        t.run(&["SET", "a", "1"]);
        t.run(&["GET", "a"]);
        t.run(&["GET", "b"]);
        t.srv.stats.total_commands_processed.add(5);
        assert_eq!(t.run(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
        let st = t.srv.ks.stats();
        assert_eq!((st.hits, st.misses), (0, 0));
        assert_eq!(t.srv.stats.total_commands_processed.get(), 0);
        assert_eq!(t.run(&["DBSIZE"]), ":1\r\n");
    }

    #[test]
    fn rewrite_writes_a_file_that_parses_back() {
        let path = std::env::temp_dir().join(format!(
            "rcache-rewrite-{}-{:?}.toml",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, "maxmemory = \"1mb\"\n").unwrap();
        let s = Settings::default();
        s.apply_toml(&std::fs::read_to_string(&path).unwrap())
            .unwrap();
        *s.config_file.write() = Some(path.clone());
        let t = TestCtx::with_settings(s);
        assert_eq!(
            t.run(&[
                "CONFIG",
                "SET",
                "maxmemory",
                "64mb",
                "maxmemory-policy",
                "allkeys-lfu",
                "timeout",
                "30"
            ]),
            "+OK\r\n"
        );
        assert_eq!(t.run(&["CONFIG", "REWRITE"]), "+OK\r\n");
        let text = std::fs::read_to_string(&path).unwrap();
        let back = Settings::default();
        back.apply_toml(&text).unwrap();
        assert_eq!(back.evict.maxmemory(), 64 << 20);
        assert_eq!(back.evict.policy(), storage::Policy::AllKeysLfu);
        assert_eq!(back.timeout.load(std::sync::atomic::Ordering::Relaxed), 30);
        assert_eq!(back.to_toml(), t.srv.settings.to_toml());
        std::fs::remove_file(&path).unwrap();
        // A file that cannot be written is reported, not ignored.
        *t.srv.settings.config_file.write() =
            Some(std::env::temp_dir().join("no-such-dir-rcache/x.toml"));
        assert!(t
            .run(&["CONFIG", "REWRITE"])
            .starts_with("-ERR Rewriting config file"));
    }

    /// rcache.example.toml at the repository root is `Settings::default().to_toml()` and
    /// parses back. `UPDATE_EXAMPLE_CONFIG=1` rewrites it after a setting changes.
    #[test]
    fn example_config_is_current_and_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rcache.example.toml");
        let want = Settings::default().to_toml();
        if std::env::var_os("UPDATE_EXAMPLE_CONFIG").is_some_and(|v| v == "1") {
            std::fs::write(path, &want).unwrap();
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let s = Settings::default();
        s.apply_toml(&text).unwrap();
        assert_eq!(s.to_toml(), want);
        assert!(
            text == want,
            "rcache.example.toml is out of date; regenerate it with \
             UPDATE_EXAMPLE_CONFIG=1 cargo test -p commands --lib example_config"
        );
    }
}
