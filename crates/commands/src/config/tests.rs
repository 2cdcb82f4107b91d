//! The settings table against Redis 7.0.15 (`redis-7.0.15.tsv`: every name its `CONFIG GET *`
//! answers, with its default), and the machinery over it: aliases, globs, checks, TOML,
//! and docs/CONFIG.md's generated tables.

use super::*;
use storage::Policy;

/// (name, default) of every setting Redis 7.0.15 knows.
fn redis70() -> Vec<(&'static str, &'static str)> {
    include_str!("redis-7.0.15.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_once('\t').expect("name<TAB>value"))
        .collect()
}

/// Where rcache's default is deliberately not Redis's (docs/CONFIG.md says why).
const OWN_DEFAULTS: &[(&str, &str)] = &[
    // Loopback only: a cache with no password should not listen on every interface.
    ("bind", "127.0.0.1"),
    // rcache's own snapshot format: writing it as dump.rdb would overwrite a Redis file that
    // Redis could then no longer read (a dump.rdb in dir is imported instead).
    ("dbfilename", "dump.rcsnap"),
    // The class Redis 7.0 still calls `slave`, by its newer name (both are accepted).
    (
        "client-output-buffer-limit",
        "normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
];

#[test]
fn every_redis_name_is_answered_with_redis_default() {
    let s = Settings::default();
    let names = redis70();
    assert_eq!(names.len(), 192);
    for (name, redis_default) in names {
        let got = s.get_matching(name.as_bytes());
        assert_eq!(got.len(), 1, "CONFIG GET {name}: {got:?}");
        assert_eq!(got[0].0, name);
        let want = OWN_DEFAULTS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(redis_default, |(_, v)| v);
        assert_eq!(got[0].1, want, "default of {name}");
    }
}

#[test]
fn table_is_well_formed() {
    let s = Settings::default();
    let mut seen = std::collections::HashSet::new();
    for (name, _) in names() {
        assert!(seen.insert(name), "{name} is in the table twice");
        assert_eq!(name, name.to_ascii_lowercase());
    }
    for p in PARAMS {
        // Each default passes its own check unchanged, and fields start at it.
        assert_eq!(
            p.check.apply(p.default).as_deref(),
            Ok(p.default),
            "{}",
            p.name
        );
        assert_eq!(s.get(p), p.default, "{}", p.name);
        assert!(!p.help.is_empty());
        if p.field.is_some() {
            // A field is only worth having when the server reads it.
            assert_ne!(p.status, Status::NoEffect, "{}", p.name);
        }
    }
}

/// Redis's aliases, each checked on Redis 7.0.15 (setting one changes the other).
#[test]
fn aliases_are_names_of_their_own() {
    let aliases: Vec<(&str, &str)> = PARAMS
        .iter()
        .filter_map(|p| p.alias.map(|a| (a, p.name)))
        .collect();
    assert_eq!(aliases.len(), 19);
    let s = Settings::default();
    // By name: answered under the spelling asked, as Redis does.
    assert_eq!(
        s.get_matching(b"hash-max-ziplist-value"),
        vec![("hash-max-ziplist-value".to_string(), "64".to_string())]
    );
    assert_eq!(
        s.get_matching(b"HASH-MAX-ZIPLIST-VALUE"),
        vec![("HASH-MAX-ZIPLIST-VALUE".to_string(), "64".to_string())]
    );
    // By glob: both names, each with the value.
    let names: Vec<String> = s
        .get_matching(b"*max-*-entries*")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "hash-max-listpack-entries",
            "hash-max-ziplist-entries",
            "set-max-intset-entries",
            "set-max-listpack-entries",
            "zset-max-listpack-entries",
            "zset-max-ziplist-entries"
        ]
    );
    assert_eq!(s.get_matching(b"slave*").len(), 8);
    // Set through either name, read through both.
    for (alias, name) in aliases {
        let p = find(alias).unwrap();
        assert_eq!(p.name, name);
        let v = match p.check {
            // A refused setting takes only its default, through either name.
            _ if matches!(p.status, Status::Refused(_)) => p.default.to_string(),
            Check::Bool => "no".to_string(),
            Check::Int(..) | Check::Mem(..) => "7".to_string(),
            Check::Text => "10.0.0.1".to_string(),
            Check::Custom(_) => "10.0.0.1 6380".to_string(),
            Check::Enum(w) => w[0].to_string(),
        };
        s.set(alias, &v, true).unwrap();
        assert_eq!(s.get_matching(name.as_bytes())[0].1, v, "{alias}");
        assert_eq!(s.get_matching(alias.as_bytes())[0].1, v, "{alias}");
    }
    // Errors name the alias used.
    assert_eq!(
        s.set("HASH-MAX-ZIPLIST-VALUE", "abc", false),
        Err(SetError::Invalid(
            "hash-max-ziplist-value",
            "argument must be a memory value".into()
        ))
    );
}

#[test]
fn kept_settings_are_checked_and_reported() {
    let s = Settings::default();
    s.set("list-compress-depth", "1", false).unwrap();
    assert_eq!(s.value("list-compress-depth"), "1");
    assert_eq!(
        s.set("list-compress-depth", "-1", false),
        Err(SetError::Invalid(
            "list-compress-depth",
            "argument must be between 0 and 2147483647 inclusive".into()
        ))
    );
    s.set("notify-keyspace-events", "KEA", false).unwrap();
    assert_eq!(s.value("notify-keyspace-events"), "AKE");
    assert_eq!(
        s.set("replica-read-only", "maybe", false),
        Err(SetError::Invalid(
            "replica-read-only",
            "argument must be 'yes' or 'no'".into()
        ))
    );
    assert_eq!(
        s.set("appendfsync", "sometimes", false),
        Err(SetError::Invalid(
            "appendfsync",
            "argument(s) must be one of the following: everysec, always, no".into()
        ))
    );
    s.set("appendfsync", "ALWAYS", false).unwrap();
    assert_eq!(s.value("appendfsync"), "always");
    s.set("save", "60 10", false).unwrap();
    assert_eq!(s.value("save"), "60 10");
    s.set("appendonly", "yes", false).unwrap();
    assert_eq!(s.value("appendonly"), "yes");
    // Timestamp annotations are not written: asking for them is an error, never a no-op.
    assert!(matches!(
        s.set("aof-timestamp-enabled", "yes", false),
        Err(SetError::Invalid("aof-timestamp-enabled", e)) if e.contains("timestamp")
    ));
    s.set("appendonly", "no", false).unwrap();
    assert_eq!(s.value("appendonly"), "no");
    assert!(matches!(
        s.set("io-threads", "4", false),
        Err(SetError::Invalid("io-threads", e)) if e == "can't set immutable config"
    ));
    assert!(matches!(
        s.set("dir", "/tmp", false),
        Err(SetError::Invalid("dir", e)) if e == "can't set protected config"
    ));
    s.set("io-threads", "4", true).unwrap();
    assert_eq!(s.value("io-threads"), "4");
}

#[test]
fn refused_settings_take_only_their_default() {
    let s = Settings::default();
    let refused: Vec<&Param> = PARAMS
        .iter()
        .filter(|p| matches!(p.status, Status::Refused(_)))
        .collect();
    assert!(!refused.is_empty());
    for p in refused {
        s.set(p.name, p.default, true).unwrap();
        let other = match p.check {
            Check::Bool => "yes",
            Check::Int(..) => "6380",
            Check::Enum(_) => "systemd",
            _ if p.name == "replicaof" => "10.0.0.1 6380",
            _ => "/tmp/x",
        };
        match s.set(p.name, other, true) {
            Err(SetError::Invalid(_, why)) => {
                assert!(why.starts_with("not supported by rcache"), "{why}")
            }
            r => panic!("{} {other}: {r:?}", p.name),
        }
        // The value is still checked as Redis checks it first.
        if matches!(p.check, Check::Bool) {
            assert_eq!(
                s.set(p.name, "maybe", true),
                Err(SetError::Invalid(
                    p.name,
                    "argument must be 'yes' or 'no'".into()
                ))
            );
        }
    }
    assert_eq!(
        s.set("tls-port", "6380", false),
        Err(SetError::Invalid(
            "tls-port",
            "not supported by rcache (TLS is not built); only '0' is accepted".into()
        ))
    );
}

#[test]
fn existing_settings_keep_their_values_with_redis_checks() {
    let s = Settings::default();
    s.set("maxmemory", "100mb", false).unwrap();
    s.set("MAXMEMORY-POLICY", "allkeys-lru", false).unwrap();
    assert_eq!(
        s.get_matching(b"maxmemory"),
        vec![("maxmemory".to_string(), (100u64 << 20).to_string())]
    );
    assert_eq!(s.evict.policy(), Policy::AllKeysLru);
    assert!(matches!(
        s.set("port", "1", false),
        Err(SetError::Invalid("port", _))
    ));
    assert_eq!(s.set("nope", "1", false), Err(SetError::Unknown));
    // Redis's words and ranges.
    for (name, value, why) in [
        (
            "hz",
            "-1",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "proto-max-bulk-len",
            "1kb",
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (
            "timeout",
            " 1",
            "argument couldn't be parsed into an integer",
        ),
        ("maxmemory", "-1", "argument must be a memory value"),
        (
            "maxclients",
            "0",
            "argument must be between 1 and 4294967295 inclusive",
        ),
        (
            "client-output-buffer-limit",
            "normal 1 2 x",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
    ] {
        assert_eq!(
            s.set(name, value, false),
            Err(SetError::Invalid(find(name).unwrap().name, why.into())),
            "{name} {value}"
        );
    }
    s.set("hz", "1000", false).unwrap();
    assert_eq!(s.value("hz"), "500");
    s.set("hash-max-listpack-value", "1kb", false).unwrap();
    assert_eq!(s.value("hash-max-listpack-value"), "1024");
    s.set("client-output-buffer-limit", "slave 1 2 3", false)
        .unwrap();
    assert_eq!(
        s.value("client-output-buffer-limit"),
        "normal 0 0 0 replica 1 2 3 pubsub 33554432 8388608 60"
    );
}

#[test]
fn toml_writes_implemented_settings_and_changed_others() {
    let s = Settings::default();
    s.set("maxmemory", "100mb", false).unwrap();
    s.set("notify-keyspace-events", "Kx", false).unwrap();
    s.set("slave-read-only", "no", false).unwrap();
    let t = s.to_toml();
    assert!(t.contains("notify-keyspace-events = \"xK\""), "{t}");
    assert!(t.contains("replica-read-only = \"no\""), "{t}");
    assert!(!t.contains("list-compress-depth"), "{t}");
    let s2 = Settings::default();
    s2.apply_toml(&t).unwrap();
    assert_eq!(s2.evict.maxmemory(), 100 << 20);
    assert_eq!(s2.value("notify-keyspace-events"), "xK");
    assert_eq!(s2.to_toml(), t);
    // Old names and any Redis setting work in the file too.
    s2.apply_toml(
        "hash-max-ziplist-entries = 7\nlist-compress-depth = 2\nactiverehashing = false\n",
    )
    .unwrap();
    assert_eq!(s2.value("hash-max-listpack-entries"), "7");
    assert_eq!(s2.value("list-compress-depth"), "2");
    assert_eq!(s2.value("activerehashing"), "no");
    let err = s2.apply_toml("daemonize = true").unwrap_err();
    assert!(err.contains("not supported by rcache"), "{err}");
    assert!(s2
        .apply_toml("bogus = 1")
        .unwrap_err()
        .contains("unknown setting"));
}

/// `user` lines (one string or a list) are kept for the ACL and written back by REWRITE.
#[test]
fn toml_user_lines() {
    let s = Settings::default();
    s.apply_toml("user = \"a on nopass +@all\"\n").unwrap();
    s.apply_toml("user = [\"b off\", \"c on >x ~k:*\"]\n")
        .unwrap();
    assert_eq!(
        *s.acl_users.read(),
        ["a on nopass +@all", "b off", "c on >x ~k:*"]
    );
    let t = s.to_toml();
    let s2 = Settings::default();
    s2.apply_toml(&t).unwrap();
    assert_eq!(*s2.acl_users.read(), *s.acl_users.read());
    assert!(s.apply_toml("user = 1\n").unwrap_err().contains("'user'"));
    assert!(s.apply_toml("user = [1]\n").unwrap_err().contains("'user'"));
}

/// docs/CONFIG.md's tables are generated from the table; `UPDATE_CONFIG_DOCS=1` rewrites them
/// after a row changes.
#[test]
fn config_docs_are_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    const START: &str =
        "<!-- settings tables: generated by crates/commands/src/config/tests.rs -->\n";
    const END: &str = "<!-- end of generated tables -->\n";
    let (head, rest) = text.split_once(START).unwrap_or((&text, ""));
    let tail = rest.split_once(END).map_or("", |(_, t)| t);
    let want = format!("{head}{START}{}{END}{tail}", docs_tables());
    if std::env::var_os("UPDATE_CONFIG_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(path, &want).unwrap();
    }
    assert!(
        text == want,
        "docs/CONFIG.md is out of date; regenerate it with \
         UPDATE_CONFIG_DOCS=1 cargo test -p commands --lib config_docs"
    );
}

fn docs_tables() -> String {
    type Pick = fn(&Status) -> bool;
    let groups: [(&str, Pick); 3] = [
        ("Implemented", |s| *s == Status::Implemented),
        ("Accepted, no effect", |s| {
            matches!(s, Status::NoEffect | Status::Persistence)
        }),
        ("Refused (only the default is accepted)", |s| {
            matches!(s, Status::Refused(_))
        }),
    ];
    let mut out = String::new();
    for (title, pick) in groups {
        let rows: Vec<&Param> = PARAMS.iter().filter(|p| pick(&p.status)).collect();
        out.push_str(&format!(
            "\n### {title}: {} settings\n\n| setting | default | CONFIG SET | notes |\n|---|---|---|---|\n",
            rows.len()
        ));
        let mut rows = rows;
        rows.sort_by_key(|p| p.name);
        for p in rows {
            let name = match p.alias {
                Some(a) => format!("`{}` (alias `{a}`)", p.name),
                None => format!("`{}`", p.name),
            };
            let default = if p.default.is_empty() {
                "\"\"".to_string()
            } else {
                format!("`{}`", p.default)
            };
            let change = match p.change {
                Change::Mutable => "yes",
                Change::Immutable => "start-up only",
                Change::Protected => "protected",
            };
            out.push_str(&format!(
                "| {name} | {default} | {change} | {} |\n",
                p.help
                    .replace('|', "\\|")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            ));
        }
    }
    out.push('\n');
    out
}
