//! Run-time settings: the values, and the machinery over the settings table
//! (`config/table.rs`, one row per setting under Redis's name). The same table serves the
//! command-line flags, the TOML file (`--config`), CONFIG GET/SET/REWRITE and INFO, so a
//! setting cannot mean different things in different places.
//!
//! Every setting of Redis 7.0 is a row, whether rcache acts on it or not (docs/CONFIG.md
//! lists which): values rcache reads live in fields of `Settings`; the others are kept as
//! checked text in `Settings::kept` and only reported. A row's `Check` validates and
//! normalises every value the way Redis does (`config/check.rs`).

mod check;
mod table;
#[cfg(test)]
mod tests;

pub use check::{fmt_percentile, Check};
pub use table::PARAMS;

use crate::glob::glob_match;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed,
};
use std::sync::Arc;
use storage::EvictionConfig;

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
    /// Counts changes of `requirepass`: the ACL default user takes the new password when it
    /// sees this move (`acl::sync_requirepass`), however the setting was changed.
    pub requirepass_gen: AtomicU64,
    /// The configuration file's `user` lines (Redis's `user` directive, without the word
    /// `user`): ACL users loaded at start-up (`acl::load_at_startup`).
    pub acl_users: RwLock<Vec<String>>,
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
    /// The `replica` class: there are no replicas yet, but CONFIG GET reports what was set.
    pub replica_obuf: RwLock<(u64, u64, u64)>,
    pub hz: AtomicU32,
    pub loglevel: RwLock<String>,
    pub tcp_keepalive: AtomicU64,
    pub threads: AtomicU32,
    /// Persistence settings (not acted on until persistence ships).
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
    /// `hll-sparse-max-bytes`: the largest sparse HyperLogLog value (header included).
    pub hll_sparse_max_bytes: AtomicU64,
    /// `notify-keyspace-events` as `notify::class` bits (0 = off).
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// `slowlog-log-slower-than` (µs; -1 = off, 0 = every command) and `slowlog-max-len`.
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicU64,
    /// `latency-monitor-threshold` (ms; 0 = off).
    pub latency_monitor_threshold: AtomicU64,
    /// The shortest call (ns) that SLOWLOG or the latency monitor may want, derived from the
    /// three above (`slowlog::refresh_floor`): `execute_in` compares each call's time with
    /// it, one relaxed load, and does nothing more for a faster call.
    pub slow_floor_ns: AtomicU64,
    /// `stream-node-max-bytes` / `stream-node-max-entries`: a stream block's bounds.
    pub stream_node_max_bytes: AtomicU64,
    pub stream_node_max_entries: AtomicU64,
    /// Rows without a field: their value as last set (normalised), by the row's name.
    /// Absent = the row's default. Read with `Settings::value`.
    pub kept: RwLock<HashMap<&'static str, String>>,
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
            stream_node_bytes: self.stream_node_max_bytes.load(Relaxed) as usize,
            stream_node_entries: self.stream_node_max_entries.load(Relaxed) as usize,
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
            requirepass_gen: AtomicU64::new(0),
            acl_users: RwLock::new(Vec::new()),
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
            replica_obuf: RwLock::new((256 << 20, 64 << 20, 60)),
            hz: AtomicU32::new(10),
            loglevel: RwLock::new("notice".into()),
            tcp_keepalive: AtomicU64::new(300),
            threads: AtomicU32::new(0),
            save: RwLock::new(REDIS_SAVE_DEFAULT.into()),
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
            hll_sparse_max_bytes: AtomicU64::new(3000),
            notify_flags: std::sync::atomic::AtomicU32::new(0),
            slowlog_slower_than: AtomicI64::new(10_000),
            slowlog_max_len: AtomicU64::new(128),
            latency_monitor_threshold: AtomicU64::new(0),
            // 10 000 µs: the slow log's default threshold (the latency monitor is off).
            slow_floor_ns: AtomicU64::new(10_000_000),
            stream_node_max_bytes: AtomicU64::new(4096),
            stream_node_max_entries: AtomicU64::new(100),
            kept: RwLock::new(HashMap::new()),
        }
    }
}

/// Redis's snapshot schedule when no `save` is configured.
pub const REDIS_SAVE_DEFAULT: &str = "3600 1 300 100 60 10000";

/// A door port setting's value when the door is closed (`--http-port off`).
pub const DOOR_OFF: i64 = -1;
/// Default ports of the HTTP/JSON API (webdis's, the usual HTTP front of Redis), the rcache
/// binary protocol, and the memcached text protocol (memcached's own).
pub const DEFAULT_HTTP_PORT: i64 = 7379;
pub const DEFAULT_BINARY_PORT: i64 = 7380;
pub const DEFAULT_MEMCACHE_PORT: i64 = 11211;

/// Reads a field's current value as text.
pub type Getter = fn(&Settings) -> String;
/// Stores a value that the row's `Check` has already accepted (and normalised).
pub type Setter = fn(&Settings, &str);

/// A setting the server reads from a field of `Settings`.
pub struct Field {
    pub get: Getter,
    pub set: Setter,
}

/// When a setting may change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Change {
    /// CONFIG SET may change it.
    Mutable,
    /// Only at start-up (flags, the TOML file): Redis's `can't set immutable config`.
    Immutable,
    /// CONFIG SET only when `enable-protected-configs` allows it (Redis's protected configs).
    Protected,
}

/// What rcache does with a setting; docs/CONFIG.md groups the rows by it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// The server acts on it.
    Implemented,
    /// Accepted, checked and reported, but nothing in rcache changes (the row's help says why).
    NoEffect,
    /// Accepted, checked and reported; persistence is not built yet.
    Persistence,
    /// Only the default is accepted: any other value asks for something rcache does not do.
    /// The text names it, for the error.
    Refused(&'static str),
}

/// One setting.
pub struct Param {
    pub name: &'static str,
    /// Redis's other name for it (`hash-max-ziplist-entries`, `slave-read-only`, …): a name of
    /// its own to CONFIG GET, as in Redis.
    pub alias: Option<&'static str>,
    pub change: Change,
    pub status: Status,
    pub check: Check,
    /// The default, as CONFIG GET shows it: Redis 7.0's, except where docs/CONFIG.md says why
    /// not (a test holds the table to Redis's list).
    pub default: &'static str,
    /// Where the server reads it; `None`: kept as text in `Settings::kept`.
    pub field: Option<&'static Field>,
    pub help: &'static str,
}

impl Param {
    /// Whether CONFIG SET may change it without `enable-protected-configs`.
    pub fn mutable(&self) -> bool {
        self.change == Change::Mutable
    }

    /// The value to store for `v`, or why not.
    fn accept(&self, v: &str) -> Result<String, String> {
        let v = self.check.apply(v)?;
        if let Status::Refused(what) = self.status {
            if v != self.default {
                return Err(format!(
                    "not supported by rcache ({what}); only '{}' is accepted",
                    self.default
                ));
            }
        }
        Ok(v)
    }
}

/// Look a setting up by name or alias (case-insensitive): the name as the table spells it
/// (the alias when that matched, as Redis reports it), and the row.
pub fn lookup(name: &str) -> Option<(&'static str, &'static Param)> {
    names().find(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The row a name or alias belongs to.
pub fn find(name: &str) -> Option<&'static Param> {
    lookup(name).map(|(_, p)| p)
}

/// Every name a setting answers to, each with its row: names, then aliases.
pub fn names() -> impl Iterator<Item = (&'static str, &'static Param)> {
    let aliases = PARAMS.iter().filter_map(|p| p.alias.map(|a| (a, p)));
    PARAMS.iter().map(|p| (p.name, p)).chain(aliases)
}

impl Settings {
    /// A setting's current value, as CONFIG GET reports it.
    pub fn get(&self, p: &Param) -> String {
        match p.field {
            Some(f) => (f.get)(self),
            None => self
                .kept
                .read()
                .get(p.name)
                .cloned()
                .unwrap_or_else(|| p.default.to_string()),
        }
    }

    /// The current value of the setting named `name` (a table name: a typo panics in tests,
    /// and reads "" in release builds).
    pub fn value(&self, name: &str) -> String {
        match find(name) {
            Some(p) => self.get(p),
            None => {
                debug_assert!(false, "no setting {name}");
                String::new()
            }
        }
    }

    /// Apply one setting. `startup` allows immutable and protected ones (flags and the
    /// config file). The error is the part after
    /// `ERR CONFIG SET failed (possibly related to argument 'x') - `, with the name as the
    /// table spells it (the alias when that was used, as Redis does).
    pub fn set(&self, name: &str, value: &str, startup: bool) -> Result<(), SetError> {
        let (name, p) = lookup(name).ok_or(SetError::Unknown)?;
        if !p.mutable() && !startup {
            let why = match p.change {
                Change::Protected => "can't set protected config",
                _ => "can't set immutable config",
            };
            return Err(SetError::Invalid(name, why.into()));
        }
        self.set_param(p, value)
            .map_err(|e| SetError::Invalid(name, e))
    }

    /// Check `value` with the row's rules and store it.
    pub fn set_param(&self, p: &Param, value: &str) -> Result<(), String> {
        let v = p.accept(value)?;
        match p.field {
            Some(f) => (f.set)(self, &v),
            None => {
                self.kept.write().insert(p.name, v);
            }
        }
        Ok(())
    }

    /// All (name, value) pairs whose name or alias matches a glob pattern, in table order.
    /// A pattern without `*`, `?` or `[` names one setting and is answered under the
    /// spelling asked (as Redis does); a glob is answered with the table's spellings.
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            let asked = String::from_utf8_lossy(pattern);
            return lookup(&asked)
                .map(|(_, p)| (asked.into_owned(), self.get(p)))
                .into_iter()
                .collect();
        }
        let mut out: Vec<(String, String)> = names()
            .filter(|(n, _)| glob_match(pattern, n.as_bytes(), true))
            .map(|(n, p)| (n.to_string(), self.get(p)))
            .collect();
        // Aliases after their own rows, not after the whole table.
        let order = |n: &str| {
            PARAMS
                .iter()
                .position(|p| p.name == n || p.alias == Some(n))
                .unwrap_or(usize::MAX)
        };
        out.sort_by_key(|(n, _)| order(n));
        out
    }

    /// The current settings as a TOML document (CONFIG REWRITE, and the example file):
    /// every implemented setting, and any other whose value is not its default.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# rcache configuration. Names are Redis's; values as CONFIG SET takes them.\n\
             # Every other Redis 7.0 setting is accepted too (docs/CONFIG.md); CONFIG REWRITE\n\
             # writes those only when they differ from the default.\n",
        );
        for p in PARAMS {
            let v = self.get(p);
            if p.status != Status::Implemented && v == p.default {
                continue;
            }
            out.push_str(&format!(
                "# {}\n{} = {}\n",
                p.help,
                p.name,
                toml::Value::String(v)
            ));
        }
        let users = self.acl_users.read();
        if !users.is_empty() {
            let list = toml::Value::Array(users.iter().cloned().map(toml::Value::String).collect());
            out.push_str(&format!(
                "# ACL users loaded at start-up (Redis's `user` directive; docs/ACL.md)\nuser = {list}\n"
            ));
        }
        out
    }

    /// Apply a TOML document: every key must be a known setting; values may be strings,
    /// integers or booleans (`true` = yes). `user` (a string or a list of strings) adds ACL
    /// users, as Redis's `user` directive.
    pub fn apply_toml(&self, text: &str) -> Result<(), String> {
        let table: toml::Table = text.parse().map_err(|e| format!("invalid TOML: {e}"))?;
        for (k, v) in table {
            if k == "user" {
                // `user = "alice on >pw ~* +@all"` or a list of such lines.
                let lines = match v {
                    toml::Value::String(s) => vec![s],
                    toml::Value::Array(a) => a
                        .into_iter()
                        .map(|x| match x {
                            toml::Value::String(s) => Ok(s),
                            other => Err(format!("setting 'user': {other} is not a string")),
                        })
                        .collect::<Result<_, _>>()?,
                    other => return Err(format!("setting 'user': unsupported value {other}")),
                };
                self.acl_users.write().extend(lines);
                continue;
            }
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
