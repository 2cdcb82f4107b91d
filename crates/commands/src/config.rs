//! Run-time settings and their table: one row per setting, with Redis's names. The same
//! table serves the command-line flags, the TOML file (`--config`), CONFIG GET/SET/REWRITE
//! and INFO, so a setting cannot mean different things in different places.

use crate::glob::glob_match;
use crate::util::parse_memory;
use parking_lot::RwLock;
use std::path::PathBuf;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed,
};
use std::sync::Arc;
use storage::{EvictionConfig, Policy};

pub struct Settings {
    pub bind: RwLock<String>,
    pub port: AtomicU16,
    /// The other front doors' ports (`DOOR_OFF` = closed, 0 = pick a free port).
    pub http_port: AtomicI64,
    pub binary_port: AtomicI64,
    pub memcache_port: AtomicI64,
    pub databases: AtomicU32,
    pub dir: RwLock<String>,
    pub requirepass: RwLock<Option<String>>,
    /// Idle seconds before a client is closed; 0 = never.
    pub timeout: AtomicU64,
    pub maxclients: AtomicU64,
    pub proto_max_bulk_len: AtomicI64,
    pub client_query_buffer_limit: AtomicU64,
    /// `client-output-buffer-limit normal <hard> <soft> <soft-seconds>`; 0 = no limit.
    pub obuf_hard: AtomicU64,
    pub obuf_soft: AtomicU64,
    pub obuf_soft_secs: AtomicU64,
    /// `client-output-buffer-limit pubsub <hard> <soft> <soft-seconds>` (Redis's default
    /// 32mb 8mb 60): a subscriber whose undelivered messages pass it is disconnected.
    pub pubsub_obuf_hard: AtomicU64,
    pub pubsub_obuf_soft: AtomicU64,
    pub pubsub_obuf_soft_secs: AtomicU64,
    pub hz: AtomicU32,
    pub loglevel: RwLock<String>,
    pub tcp_keepalive: AtomicU64,
    pub threads: AtomicU32,
    pub save: RwLock<String>,
    pub appendonly: AtomicBool,
    pub evict: Arc<EvictionConfig>,
    /// The TOML file the server was started with (CONFIG REWRITE writes it back).
    pub config_file: RwLock<Option<PathBuf>>,
    /// Compact-encoding thresholds (`*-max-listpack-*`), see `storage::Limits`.
    pub hash_max_listpack_entries: AtomicU64,
    pub hash_max_listpack_value: AtomicU64,
    pub set_max_intset_entries: AtomicU64,
    pub set_max_listpack_entries: AtomicU64,
    pub set_max_listpack_value: AtomicU64,
    pub zset_max_listpack_entries: AtomicU64,
    pub zset_max_listpack_value: AtomicU64,
    pub list_max_listpack_size: AtomicI64,
    /// `busy-reply-threshold` (ms): how long a script runs before others get BUSY.
    pub busy_reply_threshold: AtomicU64,
}

impl Settings {
    /// The compact-encoding thresholds now in force.
    pub fn limits(&self) -> storage::Limits {
        storage::Limits {
            hash_entries: self.hash_max_listpack_entries.load(Relaxed) as usize,
            hash_value: self.hash_max_listpack_value.load(Relaxed) as usize,
            set_intset_entries: self.set_max_intset_entries.load(Relaxed) as usize,
            set_entries: self.set_max_listpack_entries.load(Relaxed) as usize,
            set_value: self.set_max_listpack_value.load(Relaxed) as usize,
            zset_entries: self.zset_max_listpack_entries.load(Relaxed) as usize,
            zset_value: self.zset_max_listpack_value.load(Relaxed) as usize,
            list_size: self.list_max_listpack_size.load(Relaxed),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: RwLock::new("127.0.0.1".into()),
            port: AtomicU16::new(6379),
            http_port: AtomicI64::new(DEFAULT_HTTP_PORT),
            binary_port: AtomicI64::new(DEFAULT_BINARY_PORT),
            memcache_port: AtomicI64::new(DEFAULT_MEMCACHE_PORT),
            databases: AtomicU32::new(16),
            dir: RwLock::new(".".into()),
            requirepass: RwLock::new(None),
            timeout: AtomicU64::new(0),
            maxclients: AtomicU64::new(10000),
            proto_max_bulk_len: AtomicI64::new(512 << 20),
            client_query_buffer_limit: AtomicU64::new(1 << 30),
            obuf_hard: AtomicU64::new(0),
            obuf_soft: AtomicU64::new(0),
            obuf_soft_secs: AtomicU64::new(0),
            pubsub_obuf_hard: AtomicU64::new(32 << 20),
            pubsub_obuf_soft: AtomicU64::new(8 << 20),
            pubsub_obuf_soft_secs: AtomicU64::new(60),
            hz: AtomicU32::new(10),
            loglevel: RwLock::new("notice".into()),
            tcp_keepalive: AtomicU64::new(300),
            threads: AtomicU32::new(0),
            save: RwLock::new(crate::persistence::DEFAULT_SAVE.into()),
            appendonly: AtomicBool::new(false),
            evict: Arc::new(EvictionConfig::default()),
            config_file: RwLock::new(None),
            hash_max_listpack_entries: AtomicU64::new(512),
            hash_max_listpack_value: AtomicU64::new(64),
            set_max_intset_entries: AtomicU64::new(512),
            set_max_listpack_entries: AtomicU64::new(128),
            set_max_listpack_value: AtomicU64::new(64),
            zset_max_listpack_entries: AtomicU64::new(128),
            zset_max_listpack_value: AtomicU64::new(64),
            list_max_listpack_size: AtomicI64::new(-2),
            busy_reply_threshold: AtomicU64::new(5000),
        }
    }
}

type Getter = fn(&Settings) -> String;
type Setter = fn(&Settings, &str) -> Result<(), String>;

/// One setting.
pub struct Param {
    pub name: &'static str,
    /// Changeable by CONFIG SET (all are settable at start-up).
    pub mutable: bool,
    pub help: &'static str,
    pub get: Getter,
    pub set: Setter,
}

fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse::<T>()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

fn mem(v: &str) -> Result<u64, String> {
    parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// A door port setting's value when the door is closed (`--http-port off`).
pub const DOOR_OFF: i64 = -1;
/// Default ports of the HTTP/JSON API (webdis's, the usual HTTP front of Redis), the rcache
/// binary protocol, and the memcached text protocol (memcached's own).
pub const DEFAULT_HTTP_PORT: i64 = 7379;
pub const DEFAULT_BINARY_PORT: i64 = 7380;
pub const DEFAULT_MEMCACHE_PORT: i64 = 11211;

fn door_port_get(v: i64) -> String {
    if v == DOOR_OFF {
        "off".into()
    } else {
        v.to_string()
    }
}

fn door_port_set(v: &str) -> Result<i64, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "off" | "no" | "-1" => Ok(DOOR_OFF),
        t => t
            .parse::<u16>()
            .map(i64::from)
            .map_err(|_| "port must be 0-65535 or off".into()),
    }
}

/// The settings table. Order is CONFIG GET's and CONFIG REWRITE's.
pub const PARAMS: &[Param] = &[
    Param { name: "bind", mutable: false, help: "address to listen on", get: |s| s.bind.read().clone(), set: |s, v| { *s.bind.write() = v.to_string(); Ok(()) } },
    Param { name: "port", mutable: false, help: "RESP TCP port (0 = pick a free port)", get: |s| s.port.load(Relaxed).to_string(), set: |s, v| { s.port.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "http-port", mutable: false, help: "HTTP/JSON API port (0 = pick a free port, off = closed)", get: |s| door_port_get(s.http_port.load(Relaxed)), set: |s, v| { s.http_port.store(door_port_set(v)?, Relaxed); Ok(()) } },
    Param { name: "binary-port", mutable: false, help: "rcache binary protocol port (0 = pick a free port, off = closed)", get: |s| door_port_get(s.binary_port.load(Relaxed)), set: |s, v| { s.binary_port.store(door_port_set(v)?, Relaxed); Ok(()) } },
    Param { name: "memcache-port", mutable: false, help: "memcached text protocol port (0 = pick a free port, off = closed)", get: |s| door_port_get(s.memcache_port.load(Relaxed)), set: |s, v| { s.memcache_port.store(door_port_set(v)?, Relaxed); Ok(()) } },
    Param { name: "databases", mutable: false, help: "number of logical databases (SELECT)", get: |s| s.databases.load(Relaxed).to_string(), set: |s, v| {
        let n: u32 = num(v)?;
        if !(1..=1024).contains(&n) { return Err("argument must be between 1 and 1024 inclusive".into()); }
        s.databases.store(n, Relaxed); Ok(())
    } },
    Param { name: "dir", mutable: false, help: "working directory for data files", get: |s| s.dir.read().clone(), set: |s, v| { *s.dir.write() = v.to_string(); Ok(()) } },
    Param { name: "requirepass", mutable: true, help: "password clients must AUTH with (empty = none)", get: |s| s.requirepass.read().clone().unwrap_or_default(), set: |s, v| {
        *s.requirepass.write() = if v.is_empty() { None } else { Some(v.to_string()) }; Ok(())
    } },
    Param { name: "maxmemory", mutable: true, help: "memory limit for the dataset (bytes, or 100mb, 1gb; 0 = none)", get: |s| s.evict.maxmemory().to_string(), set: |s, v| { s.evict.set_maxmemory(mem(v)?); Ok(()) } },
    Param { name: "maxmemory-policy", mutable: true, help: "what to evict at maxmemory: noeviction, allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl", get: |s| s.evict.policy().name().to_string(), set: |s, v| {
        let p = Policy::parse(v).ok_or_else(|| "argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, volatile-random, allkeys-random, volatile-ttl, noeviction".to_string())?;
        s.evict.set_policy(p); Ok(())
    } },
    Param { name: "maxmemory-samples", mutable: true, help: "keys sampled per eviction", get: |s| s.evict.samples().to_string(), set: |s, v| {
        let n: u32 = num(v)?;
        if !(1..=64).contains(&n) { return Err("argument must be between 1 and 64 inclusive".into()); }
        s.evict.set_samples(n); Ok(())
    } },
    Param { name: "lfu-log-factor", mutable: true, help: "LFU counter logarithm factor", get: |s| s.evict.lfu_log_factor().to_string(), set: |s, v| { s.evict.set_lfu_log_factor(num(v)?); Ok(()) } },
    Param { name: "lfu-decay-time", mutable: true, help: "minutes for the LFU counter to decay by one", get: |s| s.evict.lfu_decay_time().to_string(), set: |s, v| { s.evict.set_lfu_decay_time(num(v)?); Ok(()) } },
    Param { name: "hash-max-listpack-entries", mutable: true, help: "hashes with more fields use a hash table", get: |s| s.hash_max_listpack_entries.load(Relaxed).to_string(), set: |s, v| { s.hash_max_listpack_entries.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "hash-max-listpack-value", mutable: true, help: "hashes with a longer field or value use a hash table", get: |s| s.hash_max_listpack_value.load(Relaxed).to_string(), set: |s, v| { s.hash_max_listpack_value.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "set-max-intset-entries", mutable: true, help: "sets of integers with more members use a hash table", get: |s| s.set_max_intset_entries.load(Relaxed).to_string(), set: |s, v| { s.set_max_intset_entries.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "set-max-listpack-entries", mutable: true, help: "sets with more members use a hash table", get: |s| s.set_max_listpack_entries.load(Relaxed).to_string(), set: |s, v| { s.set_max_listpack_entries.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "set-max-listpack-value", mutable: true, help: "sets with a longer member use a hash table", get: |s| s.set_max_listpack_value.load(Relaxed).to_string(), set: |s, v| { s.set_max_listpack_value.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "zset-max-listpack-entries", mutable: true, help: "sorted sets with more members use a skip list", get: |s| s.zset_max_listpack_entries.load(Relaxed).to_string(), set: |s, v| { s.zset_max_listpack_entries.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "zset-max-listpack-value", mutable: true, help: "sorted sets with a longer member use a skip list", get: |s| s.zset_max_listpack_value.load(Relaxed).to_string(), set: |s, v| { s.zset_max_listpack_value.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "list-max-listpack-size", mutable: true, help: "lists stay compact up to this many entries (positive) or bytes (-1..-5 = 4..64 KiB)", get: |s| s.list_max_listpack_size.load(Relaxed).to_string(), set: |s, v| { s.list_max_listpack_size.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "busy-reply-threshold", mutable: true, help: "ms a script may run before other clients are answered BUSY (and SCRIPT KILL works)", get: |s| s.busy_reply_threshold.load(Relaxed).to_string(), set: |s, v| { s.busy_reply_threshold.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "timeout", mutable: true, help: "close a client idle this many seconds (0 = never)", get: |s| s.timeout.load(Relaxed).to_string(), set: |s, v| { s.timeout.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "maxclients", mutable: true, help: "most simultaneous clients", get: |s| s.maxclients.load(Relaxed).to_string(), set: |s, v| {
        let n: u64 = num(v)?;
        if n < 1 { return Err("argument must be between 1 and 4294967295 inclusive".into()); }
        s.maxclients.store(n, Relaxed); Ok(())
    } },
    Param { name: "proto-max-bulk-len", mutable: true, help: "largest single argument (bytes; default 512mb)", get: |s| s.proto_max_bulk_len.load(Relaxed).to_string(), set: |s, v| {
        let n = mem(v)?;
        if n < 1024 * 1024 { return Err("argument must be a memory value bigger than 1mb".into()); }
        s.proto_max_bulk_len.store(n as i64, Relaxed); Ok(())
    } },
    Param { name: "client-query-buffer-limit", mutable: true, help: "largest unparsed input a client may buffer (default 1gb)", get: |s| s.client_query_buffer_limit.load(Relaxed).to_string(), set: |s, v| {
        let n = mem(v)?;
        if n < 1024 * 1024 { return Err("argument must be a memory value bigger than 1mb".into()); }
        s.client_query_buffer_limit.store(n, Relaxed); Ok(())
    } },
    Param { name: "client-output-buffer-limit", mutable: true, help: "normal|pubsub <hard> <soft> <soft-seconds>: close a client whose pending replies (or undelivered messages) pass the limit (0 = none)", get: |s| format!(
        "normal {} {} {} replica 268435456 67108864 60 pubsub {} {} {}",
        s.obuf_hard.load(Relaxed), s.obuf_soft.load(Relaxed), s.obuf_soft_secs.load(Relaxed),
        s.pubsub_obuf_hard.load(Relaxed), s.pubsub_obuf_soft.load(Relaxed), s.pubsub_obuf_soft_secs.load(Relaxed)
    ), set: |s, v| {
        let parts: Vec<&str> = v.split_whitespace().collect();
        if parts.is_empty() || !parts.len().is_multiple_of(4) { return Err("Wrong number of arguments in buffer limit configuration.".into()); }
        for c in parts.chunks(4) {
            let class = c[0].to_ascii_lowercase();
            let hard = mem(c[1])?; let soft = mem(c[2])?; let secs: u64 = num(c[3])?;
            match class.as_str() {
                "normal" => { s.obuf_hard.store(hard, Relaxed); s.obuf_soft.store(soft, Relaxed); s.obuf_soft_secs.store(secs, Relaxed); }
                "pubsub" => { s.pubsub_obuf_hard.store(hard, Relaxed); s.pubsub_obuf_soft.store(soft, Relaxed); s.pubsub_obuf_soft_secs.store(secs, Relaxed); }
                "replica" | "slave" => {}
                _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
            }
        }
        Ok(())
    } },
    Param { name: "hz", mutable: true, help: "background task frequency (active expiry), 1-500", get: |s| s.hz.load(Relaxed).to_string(), set: |s, v| { s.hz.store(num::<u32>(v)?.clamp(1, 500), Relaxed); Ok(()) } },
    Param { name: "loglevel", mutable: true, help: "debug, verbose, notice or warning", get: |s| s.loglevel.read().clone(), set: |s, v| {
        let l = v.to_ascii_lowercase();
        if !["debug", "verbose", "notice", "warning", "nothing"].contains(&l.as_str()) { return Err("argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into()); }
        *s.loglevel.write() = l; Ok(())
    } },
    Param { name: "tcp-keepalive", mutable: true, help: "TCP keepalive seconds", get: |s| s.tcp_keepalive.load(Relaxed).to_string(), set: |s, v| { s.tcp_keepalive.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "threads", mutable: false, help: "I/O threads (0 = one per core)", get: |s| s.threads.load(Relaxed).to_string(), set: |s, v| { s.threads.store(num(v)?, Relaxed); Ok(()) } },
    Param { name: "save", mutable: true, help: "snapshot schedule \"<seconds> <changes> ...\" (\"\" = off)", get: |s| s.save.read().clone(), set: |s, v| {
        let pairs = crate::persistence::parse_policy(v)?;
        *s.save.write() = pairs.iter().map(|(a, b)| format!("{a} {b}")).collect::<Vec<_>>().join(" "); Ok(())
    } },
    Param { name: "appendonly", mutable: true, help: "append-only log; only no until the log ships", get: |s| if s.appendonly.load(Relaxed) { "yes".into() } else { "no".into() }, set: |s, v| {
        if yes_no(v)? { return Err("the append-only log is not supported yet: only appendonly no is accepted".into()); }
        s.appendonly.store(false, Relaxed); Ok(())
    } },
];

/// Look a setting up by name (case-insensitive). Redis's alias `slave-*`/`replica-*` aside,
/// names are exact.
pub fn find(name: &str) -> Option<&'static Param> {
    let name = ALIASES
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name))
        .map_or(name, |(_, to)| to);
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Redis's older names that still work with CONFIG GET/SET.
const ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
];

impl Settings {
    /// Apply one setting. `startup` allows immutable ones (flags and the config file).
    /// The error is the part after `ERR CONFIG SET failed (possibly related to argument 'x') - `.
    pub fn set(&self, name: &str, value: &str, startup: bool) -> Result<(), SetError> {
        let p = find(name).ok_or(SetError::Unknown)?;
        if !p.mutable && !startup {
            return Err(SetError::Invalid(
                p.name,
                "can't set immutable config".into(),
            ));
        }
        (p.set)(self, value).map_err(|e| SetError::Invalid(p.name, e))
    }

    /// All (name, value) pairs whose name matches a glob pattern.
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        PARAMS
            .iter()
            .filter(|p| glob_match(pattern, p.name.as_bytes(), true))
            .map(|p| (p.name, (p.get)(self)))
            .collect()
    }

    /// The current settings as a TOML document (CONFIG REWRITE, and the example file).
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# rcache configuration. Names are Redis's; values as CONFIG SET takes them.\n",
        );
        for p in PARAMS {
            let v = (p.get)(self);
            out.push_str(&format!(
                "# {}\n{} = {}\n",
                p.help,
                p.name,
                toml::Value::String(v)
            ));
        }
        out
    }

    /// Apply a TOML document: every key must be a known setting; values may be strings,
    /// integers or booleans (`true` = yes).
    pub fn apply_toml(&self, text: &str) -> Result<(), String> {
        let table: toml::Table = text.parse().map_err(|e| format!("invalid TOML: {e}"))?;
        for (k, v) in table {
            let value = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => {
                    if b {
                        "yes".into()
                    } else {
                        "no".into()
                    }
                }
                other => return Err(format!("setting '{k}': unsupported value {other}")),
            };
            self.set(&k, &value, true).map_err(|e| match e {
                SetError::Unknown => format!("unknown setting '{k}'"),
                SetError::Invalid(n, why) => format!("setting '{n}': {why}"),
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
pub enum SetError {
    Unknown,
    Invalid(&'static str, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_toml_roundtrip() {
        let s = Settings::default();
        s.set("maxmemory", "100mb", false).unwrap();
        s.set("MAXMEMORY-POLICY", "allkeys-lru", false).unwrap();
        assert_eq!(
            s.get_matching(b"maxmemory"),
            vec![("maxmemory", (100u64 << 20).to_string())]
        );
        assert!(matches!(
            s.set("port", "1", false),
            Err(SetError::Invalid("port", _))
        ));
        assert_eq!(s.set("nope", "1", false), Err(SetError::Unknown));
        assert!(s.set("maxmemory-policy", "lru", false).is_err());
        let t = s.to_toml();
        let s2 = Settings::default();
        s2.apply_toml(&t).unwrap();
        assert_eq!(s2.evict.maxmemory(), 100 << 20);
        assert_eq!(s2.evict.policy(), Policy::AllKeysLru);
        assert!(s2
            .apply_toml("bogus = 1")
            .unwrap_err()
            .contains("unknown setting"));
    }
}
