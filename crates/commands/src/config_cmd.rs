//! CONFIG subcommands: GET, SET, RESETSTAT, REWRITE, HELP, over the settings table of
//! `config.rs`.
//!
//! CONFIG SET is atomic, as Redis 7's: every name is checked first, then every value is
//! validated on a scratch copy of the settings, and only then applied; if applying still
//! fails, the values changed so far are restored.

use crate::client_cmd::reply_help;
use crate::config::{self, SetError, Settings};
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

/// CONFIG GET pattern [pattern …]: a map of every setting matching any pattern, each once.
fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for pat in args.iter().skip(2) {
        for (name, value) in ctx.srv.settings.get_matching(pat) {
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, value));
            }
        }
    }
    ctx.out.map_len(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

fn set_failed(name: &str, why: &str) -> CmdError {
    CmdError::Msg(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
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
    // 1. Names: all known (the first unknown one is reported), settable, not repeated.
    let mut params: Vec<&'static config::Param> = Vec::with_capacity(pairs.len());
    let mut problem: Option<CmdError> = None;
    for (name, _) in &pairs {
        let Some(p) = config::find(name) else {
            return Err(CmdError::Msg(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        if problem.is_none() {
            if !p.mutable {
                problem = Some(set_failed(name, "can't set immutable config"));
            } else if params.iter().any(|q| std::ptr::eq(*q, p)) {
                problem = Some(set_failed(name, "duplicate parameter"));
            }
        }
        params.push(p);
    }
    if let Some(e) = problem {
        return Err(e);
    }
    // 2. Values: validate every one on a scratch copy, so nothing changes on error.
    let scratch = Settings::default();
    for (p, (_, value)) in params.iter().zip(&pairs) {
        if let Err(e) = scratch.set(p.name, value, false) {
            return Err(set_error(p.name, e));
        }
    }
    // 3. Apply, restoring earlier values should a setting still refuse.
    let settings = &ctx.srv.settings;
    let old: Vec<String> = params.iter().map(|p| (p.get)(settings)).collect();
    for (i, (p, (_, value))) in params.iter().zip(&pairs).enumerate() {
        if let Err(e) = settings.set(p.name, value, false) {
            for (q, v) in params[..i].iter().zip(&old) {
                let _ = settings.set(q.name, v, true);
            }
            return Err(set_error(p.name, e));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn set_error(name: &str, e: SetError) -> CmdError {
    match e {
        SetError::Unknown => CmdError::Msg(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
        )),
        SetError::Invalid(n, why) => set_failed(n, &why),
    }
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
        assert!(r.starts_with(&format!("*{}\r\n", 2 * crate::config::PARAMS.len())));
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
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, volatile-random, allkeys-random, volatile-ttl, noeviction\r\n"
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
