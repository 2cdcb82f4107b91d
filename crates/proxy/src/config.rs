//! twemproxy (nutcracker) configuration: reads a `nutcracker.yml` as it is and validates it
//! the way nutcracker 0.5 does (`src/nc_conf.c`), so a file nutcracker accepts is accepted
//! here and a file it rejects is rejected here — with a better message: every error names
//! the file, the 1-based line and the key (`nutcracker.yml:7: key 'hash': unknown hash ...`),
//! where nutcracker only logs `conf: directive "hash" is not a valid hash` (and with `-t`
//! not even that: it prints only "syntax is invalid").
//!
//! The file is a mapping of pool names to pools; a pool is a mapping of directives with
//! scalar values plus one `servers:` list:
//!
//! ```yaml
//! alpha:
//!   listen: 127.0.0.1:22121        # or "/tmp/alpha.sock 0666"
//!   hash: fnv1a_64
//!   redis: true
//!   servers:
//!    - 127.0.0.1:6379:1 server1    # host:port:weight [name], or /path.sock:weight [name]
//! ```
//!
//! How it is read. nutcracker never types YAML values: libyaml hands it each scalar's text
//! and every directive parses that text itself (`redis: yes` is rejected, `timeout: "400"`
//! is 400). So this module does not deserialize into typed structs; it walks the YAML
//! *events* from the parser inside serde-saphyr (`serde_saphyr::granit_parser`, re-exported
//! by serde-saphyr, so no new dependency) and keeps every scalar as text with the line it
//! starts on. That gives exact line numbers for every key and value, and lets us refuse
//! the YAML features nutcracker refuses (`conf_validate_tokens`): `---`/`...` markers,
//! `%` directives, anchors/aliases, tags and flow collections (`[a, b]`, `{a: b}`).
//!
//! What differs from nutcracker, on purpose (each also noted where it happens):
//! - rcache extension keys `rebalance`, `rebalance_rate` and `cluster` are accepted;
//!   nutcracker rejects them as unknown directives, so a file using them is rcache-only.
//! - `reuseport` (twemproxy master, after 0.5.0) is accepted; Debian's 0.5.0 rejects it.
//! - the listen host is not resolved here (nutcracker resolves it while loading and fails
//!   on a name that does not resolve); the caller resolves when it binds.
//! - `[v6addr]:port` is accepted for `listen` and servers, brackets stripped (nutcracker
//!   passes the brackets to getaddrinfo, which fails); the bare `::1:22121` form works in both.
//! - a few values nutcracker's `-t` lets through but that can never work are rejected:
//!   numbers that overflow a C `int` (nutcracker silently wraps them, `4294967297` → 1), an
//!   empty server host (`:6379:1`), an over-long unix socket path for a server, an empty
//!   server name (`"host:6379:1 "`), and two pools on the same address written differently
//!   (`:22121` vs `:022121`, or the same socket with different permissions).
//! - a directive given as a one-item list (`hash:\n  - md5`) is rejected; nutcracker takes
//!   it only in the contrived case where `servers` is then written as a single scalar.

use serde_saphyr::granit_parser::{Event, Options, Parser, Span, StructureStyle};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The hash names twemproxy knows (`HASH_CODEC` in `hashkit/nc_hashkit.h`), in its order.
pub const HASH_NAMES: [&str; 12] = [
    "one_at_a_time",
    "md5",
    "crc16",
    "crc32",
    "crc32a",
    "fnv1_64",
    "fnv1a_64",
    "fnv1_32",
    "fnv1a_32",
    "hsieh",
    "murmur",
    "jenkins",
];

/// The distribution names twemproxy knows (`DIST_CODEC`).
pub const DISTRIBUTION_NAMES: [&str; 3] = ["ketama", "modula", "random"];

/// The keys of a twemproxy pool: `conf_commands` in nc_conf.c, plus `reuseport` (twemproxy
/// master, after 0.5.0).
pub const TWEMPROXY_KEYS: [&str; 18] = [
    "listen",
    "hash",
    "hash_tag",
    "distribution",
    "timeout",
    "backlog",
    "client_connections",
    "redis",
    "tcpkeepalive",
    "reuseport",
    "redis_auth",
    "redis_db",
    "preconnect",
    "auto_eject_hosts",
    "server_connections",
    "server_retry_timeout",
    "server_failure_limit",
    "servers",
];

/// rcache's own pool keys; nutcracker rejects a file that has any of them.
pub const RCACHE_KEYS: [&str; 3] = ["rebalance", "rebalance_rate", "cluster"];

// Defaults: `CONF_DEFAULT_*` in nc_conf.h.
pub const DEFAULT_HASH: &str = "fnv1a_64";
pub const DEFAULT_DISTRIBUTION: &str = "ketama";
pub const DEFAULT_BACKLOG: u32 = 512;
pub const DEFAULT_SERVER_CONNECTIONS: u32 = 1;
pub const DEFAULT_SERVER_RETRY_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_SERVER_FAILURE_LIMIT: u32 = 2;
/// A server on this port is placed by its host alone (`CONF_DEFAULT_KETAMA_PORT`, kept by
/// twemproxy for libmemcached compatibility).
pub const KETAMA_DEFAULT_PORT: u16 = 11211;

/// `sizeof(sockaddr_un.sun_path)`: nutcracker refuses a listen path of this many bytes or
/// more (`nc_resolve_unix`: `name->len >= NC_UNIX_ADDRSTRLEN`).
const UNIX_PATH_MAX: usize = if cfg!(any(target_os = "linux", target_os = "android")) {
    108
} else {
    104
};

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// In file order.
    pub pools: Vec<PoolConfig>,
}

/// Where a pool listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `host:port`. `host` is as written (a name, an IPv4 address or an IPv6 address, with
    /// the brackets of `[::1]:22121` removed); it is not resolved here.
    Tcp { host: String, port: u16 },
    /// `/path` or `/path perm` (octal, as `chmod`). `perm` is `None` when not given or
    /// 0: nutcracker then leaves the socket's mode alone (`if (pool->perm) chmod(..)`).
    Unix { path: PathBuf, perm: Option<u32> },
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Listen::Tcp { host, port } => write!(f, "{host}:{port}"),
            Listen::Unix { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

/// One pool (a top-level key of the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    pub name: String,
    pub listen: Listen,
    /// One of [`HASH_NAMES`]; default `fnv1a_64`.
    pub hash: String,
    /// The two bytes of `hash_tag` (nutcracker counts bytes, so a 2-byte UTF-8 character
    /// is accepted too).
    pub hash_tag: Option<[u8; 2]>,
    /// One of [`DISTRIBUTION_NAMES`]; default `ketama`.
    pub distribution: String,
    /// `timeout` in ms. `None`: wait forever — nutcracker's default (-1), and also what it
    /// does for `timeout: 0` (`msg_tmo_insert` skips timeouts `<= 0`).
    pub timeout_ms: Option<u64>,
    /// Default 512.
    pub backlog: u32,
    /// As written; 0 (default) = unlimited. NB: nutcracker 0.5 parses this and then ignores
    /// it (`conf_validate_pool` overwrites it with 0).
    pub client_connections: u32,
    /// `SO_KEEPALIVE` on server connections; default false.
    pub tcpkeepalive: bool,
    /// `SO_REUSEPORT` on the listen socket (twemproxy master); default false.
    pub reuseport: bool,
    /// Redis protocol; default false (memcache).
    pub redis: bool,
    pub redis_auth: Option<String>,
    pub redis_db: u32,
    pub preconnect: bool,
    pub auto_eject_hosts: bool,
    /// Default 1; 0 rejected.
    pub server_connections: u32,
    /// Default 30000.
    pub server_retry_timeout_ms: u64,
    /// Default 2.
    pub server_failure_limit: u32,
    /// In file order; at least one.
    pub servers: Vec<ServerConfig>,
    /// rcache extension (nutcracker rejects the key): move keys to their new server in the
    /// background after the ring changes. Default false.
    pub rebalance: bool,
    /// rcache extension: keys per second for the background mover; `None`: the mover's
    /// default. Only with `rebalance: true`.
    pub rebalance_rate: Option<u64>,
    /// rcache extension: the servers are seeds of a Redis Cluster whose slot map decides
    /// placement (hash/distribution are then not used). Needs `redis: true`. Default false.
    pub cluster: bool,
}

/// One line of a pool's `servers:` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Host as written (brackets of `[v6]` removed), not resolved; for a unix socket server
    /// the socket path.
    pub host: String,
    /// 0 for a unix socket server.
    pub port: u16,
    /// > 0.
    pub weight: u32,
    /// The optional name after the address (`127.0.0.1:6379:1 server1`).
    pub name: Option<String>,
    /// 1-based line of the entry in the file, for messages.
    pub line: usize,
    /// `Some(path)` for a unix socket server (`/tmp/redis.sock:1`).
    pub unix: Option<PathBuf>,
}

impl ServerConfig {
    /// The name twemproxy knows this server by: what ketama hashes and what duplicate
    /// detection compares (`conf_add_server`): the explicit name if given; else `host`
    /// when the port is 11211, `host:port` otherwise; for a unix socket `path:` (twemproxy
    /// adds the `:` even though there is no port). Same as `dist::default_name` /
    /// `dist::default_unix_name`. (nutcracker uses the port *as written*, so a port written
    /// with leading zeros would hash differently there; nobody writes that.)
    pub fn twemproxy_name(&self) -> String {
        if let Some(name) = &self.name {
            name.clone()
        } else if self.unix.is_some() {
            format!("{}:", self.host)
        } else if self.port == KETAMA_DEFAULT_PORT {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given to [`ProxyConfig::load`] / [`ProxyConfig::parse`].
    pub file: String,
    /// 1-based line, when the error is about a place in the file.
    pub line: Option<usize>,
    /// The key concerned: a directive (`hash`, `servers`, ...) or, for errors about a whole
    /// pool, the pool's name.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key '{key}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ProxyConfig {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<ProxyConfig, ConfigError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            key: None,
            message: format!("cannot read the configuration: {e}"),
        })?;
        // libyaml (so nutcracker) only reads UTF-8/UTF-16; twemproxy configs are UTF-8.
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            ConfigError {
                file: file.clone(),
                line: Some(line),
                key: None,
                message: "the file is not valid UTF-8".to_owned(),
            }
        })?;
        ProxyConfig::parse(&text, &file)
    }

    /// Validates a configuration's text; `file_name` is only used in messages.
    pub fn parse(text: &str, file_name: &str) -> Result<ProxyConfig, ConfigError> {
        let cx = Cx { file: file_name };
        let root = read_yaml(text, &cx)?;
        let Some(root) = root else {
            // nutcracker: "'f' must contain only 1 document; found 0 documents" (also for a
            // file of comments only).
            return Err(cx.err(
                None,
                None,
                "the configuration is empty: expected at least one pool".to_owned(),
            ));
        };
        let entries = match root.kind {
            Kind::Map(entries) => entries,
            // nutcracker: "has invalid empty "key:" at depth 0" for a scalar, "has sequence
            // at depth 0 instead of 2" for a list.
            Kind::Scalar(_) | Kind::Seq(_) => {
                return Err(cx.err(
                    Some(root.line),
                    None,
                    format!(
                        "the top level must be a mapping of pool names to pools, not {}",
                        root.kind.what()
                    ),
                ))
            }
        };

        let mut pools: Vec<PoolConfig> = Vec::with_capacity(entries.len());
        let mut pool_lines: Vec<usize> = Vec::with_capacity(entries.len());
        let mut listen_lines: Vec<usize> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let name = match key.kind {
                Kind::Scalar(s) if !s.is_empty() => s,
                // nutcracker: an empty scalar fails `conf_push_scalar` (no message at all).
                Kind::Scalar(_) => {
                    return Err(cx.err(Some(key.line), None, "empty pool name".to_owned()))
                }
                other => {
                    return Err(cx.err(
                        Some(key.line),
                        None,
                        format!("a pool name must be a plain string, not {}", other.what()),
                    ))
                }
            };
            // nutcracker: "'f' has pools with same name a'" (checked after parsing).
            if let Some(i) = pools.iter().position(|p| p.name == name) {
                return Err(cx.err(
                    Some(key.line),
                    Some(&name),
                    format!(
                        "duplicate pool name '{name}' (first defined on line {})",
                        pool_lines[i]
                    ),
                ));
            }
            let (pool, listen_line) = parse_pool(&cx, name, key.line, value)?;
            // nutcracker: "pools 'a' and 'b' have the same listen address '...'". It compares
            // the strings as written; we compare the parsed address, so `:22121` and
            // `:022121`, or one socket path with two permissions, are also caught (nutcracker
            // would fail to bind the second at startup).
            // Port 0 (any free port) never collides.
            let any_port = matches!(pool.listen, Listen::Tcp { port: 0, .. });
            if let Some(i) = pools.iter().position(|p| {
                !any_port && (p.listen == pool.listen || same_socket(&p.listen, &pool.listen))
            }) {
                return Err(cx.err(
                    Some(listen_line),
                    Some("listen"),
                    format!(
                        "pools '{}' and '{}' have the same listen address '{}' (line {})",
                        pools[i].name, pool.name, pool.listen, listen_lines[i]
                    ),
                ));
            }
            pools.push(pool);
            pool_lines.push(key.line);
            listen_lines.push(listen_line);
        }
        if pools.is_empty() {
            // Unreachable with block YAML (an empty block mapping is not a mapping), kept
            // for completeness: nutcracker says "'f' has no pools".
            return Err(cx.err(Some(root.line), None, "no pools".to_owned()));
        }
        Ok(ProxyConfig { pools })
    }
}

fn same_socket(a: &Listen, b: &Listen) -> bool {
    matches!((a, b), (Listen::Unix { path: p, .. }, Listen::Unix { path: q, .. }) if p == q)
}

/// Error context: the file name.
struct Cx<'a> {
    file: &'a str,
}

impl Cx<'_> {
    fn err(&self, line: Option<usize>, key: Option<&str>, message: String) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            line,
            key: key.map(str::to_owned),
            message,
        }
    }
}

// ---------------------------------------------------------------------------------------
// YAML: events → a small tree of scalars (text + line), lists and mappings.

struct Node {
    kind: Kind,
    /// 1-based line where the node starts.
    line: usize,
}

enum Kind {
    Scalar(String),
    Seq(Vec<Node>),
    /// Entries in file order; duplicate keys are kept (YAML parsers do not reject them and
    /// nutcracker reports them itself: "is a duplicate").
    Map(Vec<(Node, Node)>),
}

impl Kind {
    fn what(&self) -> &'static str {
        match self {
            Kind::Scalar(s) if s.is_empty() => "empty",
            Kind::Scalar(_) => "a single value",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

enum Frame {
    Seq(Node),
    Map(Node, Option<Node>),
}

/// Parses the whole text first, so a YAML syntax error anywhere is reported before any
/// validation error (nutcracker also loads the whole document first,
/// `conf_validate_document`), then builds the tree, refusing what `conf_validate_tokens`
/// refuses. Returns `None` for a stream without a document (empty, or comments only).
fn read_yaml(text: &str, cx: &Cx) -> Result<Option<Node>, ConfigError> {
    let mut options = Options::default();
    // Behave as libyaml where the two differ in what text a scalar gets.
    options.block_scalar_eof_without_line_feed = true;
    options.bom_inside_document_as_content = true;
    let mut events: Vec<(Event<'_>, Span)> = Vec::new();
    for next in Parser::new_from_str_with_options(text, options) {
        match next {
            Ok(ev) => events.push(ev),
            Err(e) => {
                // nutcracker: "conf: failed (err 3) to get the next yaml document" — no line.
                let info = format!("{} (column {})", e.info(), e.marker().col() + 1);
                let message = if text.as_bytes().contains(&b'\t') && info.contains("tab") {
                    format!("YAML syntax error: {info}; indent with spaces, not tabs")
                } else {
                    format!("YAML syntax error: {info}")
                };
                return Err(cx.err(Some(e.marker().line()), None, message));
            }
        }
    }

    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut stack: Vec<Frame> = Vec::new();
    for (event, span) in events {
        let line = span.start.line();
        let refuse = |what: &str| {
            Err(cx.err(
                Some(line),
                None,
                format!("{what} not allowed in a twemproxy configuration (nutcracker refuses it)"),
            ))
        };
        let node = match event {
            Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentStart(explicit, version) => {
                if version.is_some() {
                    return refuse("a %YAML directive is");
                }
                if explicit {
                    return refuse("a document start marker '---' is");
                }
                documents += 1;
                if documents > 1 {
                    // Unreachable without '---' or '...', which are refused above and below.
                    return refuse("more than one YAML document is");
                }
                continue;
            }
            Event::DocumentEnd => {
                if span.start.index() != span.end.index() {
                    return refuse("a document end marker '...' is");
                }
                continue;
            }
            Event::Alias(_) | Event::Anchor(..) | Event::UnresolvedAlias(_) => {
                return refuse("an alias ('*name') is");
            }
            Event::Scalar(value, _style, anchor, tag) => {
                if anchor != 0 {
                    return refuse("an anchor ('&name') is");
                }
                if tag.is_some() {
                    return refuse("a tag ('!...') is");
                }
                // An absent value (`hash:`) comes as a plain `~` (null) with an empty span;
                // nutcracker gets "" from libyaml and refuses it, so keep it as "" to refuse
                // it too. A `~` actually written stays `~`, as for nutcracker.
                let absent = span.start.index() == span.end.index();
                Node {
                    kind: Kind::Scalar(if absent {
                        String::new()
                    } else {
                        value.into_owned()
                    }),
                    line,
                }
            }
            Event::SequenceStart(style, anchor, ref tag)
            | Event::MappingStart(style, anchor, ref tag) => {
                if style == StructureStyle::Flow {
                    return refuse("a flow collection ('[..]' or '{..}') is");
                }
                if anchor != 0 {
                    return refuse("an anchor ('&name') is");
                }
                if tag.is_some() {
                    return refuse("a tag ('!...') is");
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(Node {
                        kind: Kind::Seq(Vec::new()),
                        line,
                    })
                } else {
                    Frame::Map(
                        Node {
                            kind: Kind::Map(Vec::new()),
                            line,
                        },
                        None,
                    )
                });
                continue;
            }
            // (A mapping never ends on a key without its value: the parser gives an empty
            // scalar for a missing value.)
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(node)) | Some(Frame::Map(node, _)) => node,
                None => continue,
            },
            // Comments (and anything a newer parser adds) carry no data.
            #[allow(unreachable_patterns)]
            _ => continue,
        };
        match stack.last_mut() {
            Some(Frame::Seq(seq)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        entries.push((key, node));
                    }
                }
            },
            None => root = Some(node),
        }
    }
    Ok(root)
}

// ---------------------------------------------------------------------------------------
// A pool.

/// A directive's value: its text and line.
struct Val {
    text: String,
    line: usize,
}

/// Parses one pool; also returns the line of its `listen:` for cross-pool messages.
fn parse_pool(
    cx: &Cx,
    name: String,
    name_line: usize,
    body: Node,
) -> Result<(PoolConfig, usize), ConfigError> {
    let entries = match body.kind {
        Kind::Map(entries) => entries,
        // nutcracker: "has invalid mapping "key:" at depth 1" (`alpha:` with nothing, or
        // `alpha: value`), "has sequence at depth 1 instead of 2" for a list.
        other => {
            return Err(cx.err(
                Some(name_line),
                Some(&name),
                format!(
                    "pool '{name}' must be a mapping of settings (listen:, servers:, ...), not {}",
                    other.what()
                ),
            ))
        }
    };

    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    let mut values: HashMap<&'static str, Val> = HashMap::new();
    let mut servers: Option<Vec<ServerConfig>> = None;
    for (key, value) in entries {
        let k = match key.kind {
            Kind::Scalar(s) if !s.is_empty() => s,
            // nutcracker: an empty scalar fails `conf_push_scalar` (no message).
            Kind::Scalar(_) => {
                return Err(cx.err(Some(key.line), None, format!("empty key in pool '{name}'")))
            }
            other => {
                return Err(cx.err(
                    Some(key.line),
                    None,
                    format!(
                        "a key in pool '{name}' must be a plain string, not {}",
                        other.what()
                    ),
                ))
            }
        };
        // nutcracker: `conf: directive "bogus" is unknown`.
        let Some(&known) = TWEMPROXY_KEYS
            .iter()
            .chain(&RCACHE_KEYS)
            .find(|&&known| known == k)
        else {
            return Err(cx.err(
                Some(key.line),
                Some(&k),
                format!(
                    "unknown key in pool '{name}' (twemproxy keys: {}; rcache: {})",
                    TWEMPROXY_KEYS.join(", "),
                    RCACHE_KEYS.join(", ")
                ),
            ));
        };
        // nutcracker: every `conf_set_*` answers "is a duplicate" for a key set twice; for
        // `servers` twice it is "has more than one sequence directive".
        if let Some(first) = seen.get(known) {
            return Err(cx.err(
                Some(key.line),
                Some(known),
                format!("duplicate key in pool '{name}' (first set on line {first})"),
            ));
        }
        seen.insert(known, key.line);

        if known == "servers" {
            let items = match value.kind {
                Kind::Seq(items) => items,
                // nutcracker: "missing sequence directive at depth 2" for a pool without a
                // list (`servers:` empty or a single value).
                other => {
                    return Err(cx.err(
                        Some(key.line),
                        Some("servers"),
                        format!(
                            "servers of pool '{name}' must be a list of \
                             '- host:port:weight [name]' lines, not {}",
                            other.what()
                        ),
                    ))
                }
            };
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                let text = match item.kind {
                    Kind::Scalar(s) if !s.is_empty() => s,
                    // nutcracker: empty scalar → `conf_push_scalar` fails, no message.
                    Kind::Scalar(_) => {
                        return Err(cx.err(
                            Some(item.line),
                            Some("servers"),
                            format!("empty server entry in pool '{name}'"),
                        ))
                    }
                    // nutcracker: "has a depth greater than 2" (mapping), "has more than
                    // one sequence directive" (nested list).
                    other => {
                        return Err(cx.err(
                            Some(item.line),
                            Some("servers"),
                            format!(
                                "a server of pool '{name}' must be a 'host:port:weight [name]' \
                                 string, not {}",
                                other.what()
                            ),
                        ))
                    }
                };
                let server = parse_server(&text, item.line).map_err(|m| {
                    cx.err(
                        Some(item.line),
                        Some("servers"),
                        format!("{m} in pool '{name}'"),
                    )
                })?;
                list.push(server);
            }
            servers = Some(list);
            continue;
        }

        let text = match value.kind {
            Kind::Scalar(s) => s,
            // nutcracker: a nested mapping is "has a depth greater than 2". A list under
            // another key is accepted by nutcracker only when `servers` is then not a list
            // (one list per pool), which is never what is meant: refused here.
            other => {
                return Err(cx.err(
                    Some(key.line),
                    Some(known),
                    format!("takes a single value, not {} (pool '{name}')", other.what()),
                ))
            }
        };
        if text.is_empty() {
            // nutcracker: `conf_push_scalar` refuses an empty scalar (no message).
            return Err(cx.err(
                Some(key.line),
                Some(known),
                format!("empty value in pool '{name}'"),
            ));
        }
        values.insert(
            known,
            Val {
                text,
                line: value.line,
            },
        );
    }

    // Each value, converted as its `conf_set_*` does.
    let err = |key: &str, line: usize, m: String| {
        cx.err(Some(line), Some(key), format!("{m} in pool '{name}'"))
    };
    let get = |key: &str| values.get(key);
    let num = |key: &'static str| -> Result<Option<u32>, ConfigError> {
        match get(key) {
            None => Ok(None),
            Some(v) => match nc_atoi(&v.text) {
                Some(n) => Ok(Some(n)),
                None => Err(err(
                    key,
                    v.line,
                    format!(
                        "'{}' is not a number (digits only, at most {})",
                        v.text,
                        i32::MAX
                    ),
                )),
            },
        }
    };
    let boolean = |key: &'static str| -> Result<bool, ConfigError> {
        match get(key) {
            None => Ok(false),
            Some(v) => parse_bool(&v.text).ok_or_else(|| {
                err(
                    key,
                    v.line,
                    format!("'{}' is not \"true\" or \"false\"", v.text),
                )
            }),
        }
    };

    // listen: `conf_set_listen`; missing: `directive "listen:" is missing`.
    let Some(listen_val) = get("listen") else {
        return Err(cx.err(
            Some(name_line),
            Some("listen"),
            format!("pool '{name}' has no listen: address"),
        ));
    };
    let listen = parse_listen(&listen_val.text).map_err(|m| err("listen", listen_val.line, m))?;
    let listen_line = listen_val.line;

    // hash / distribution: `conf_set_hash` / `conf_set_distribution`: exact names,
    // case-sensitive ("is not a valid hash").
    let hash = match get("hash") {
        None => DEFAULT_HASH.to_owned(),
        Some(v) if HASH_NAMES.contains(&v.text.as_str()) => v.text.clone(),
        Some(v) => {
            return Err(err(
                "hash",
                v.line,
                format!(
                    "unknown hash '{}' (one of: {})",
                    v.text,
                    HASH_NAMES.join(", ")
                ),
            ))
        }
    };
    let distribution = match get("distribution") {
        None => DEFAULT_DISTRIBUTION.to_owned(),
        Some(v) if DISTRIBUTION_NAMES.contains(&v.text.as_str()) => v.text.clone(),
        Some(v) => {
            return Err(err(
                "distribution",
                v.line,
                format!(
                    "unknown distribution '{}' (one of: {})",
                    v.text,
                    DISTRIBUTION_NAMES.join(", ")
                ),
            ))
        }
    };
    // hash_tag: `conf_set_hashtag`: `value->len != 2` → "is not a valid hash tag string
    // with two characters". Bytes, not characters.
    let hash_tag = match get("hash_tag") {
        None => None,
        Some(v) => match v.text.as_bytes() {
            &[a, b] => Some([a, b]),
            _ => {
                return Err(err(
                    "hash_tag",
                    v.line,
                    format!(
                        "'{}' is not a hash tag: it must be exactly two characters, \
                         like \"{{}}\"",
                        v.text
                    ),
                ))
            }
        },
    };

    let timeout_ms = num("timeout")?.filter(|&t| t > 0).map(u64::from);
    let backlog = num("backlog")?.unwrap_or(DEFAULT_BACKLOG);
    let client_connections = num("client_connections")?.unwrap_or(0);
    let redis = boolean("redis")?;
    let tcpkeepalive = boolean("tcpkeepalive")?;
    let reuseport = boolean("reuseport")?;
    let redis_db = num("redis_db")?.unwrap_or(0);
    let preconnect = boolean("preconnect")?;
    let auto_eject_hosts = boolean("auto_eject_hosts")?;
    // `conf_validate_pool`: "directive "server_connections:" cannot be 0".
    let server_connections = match num("server_connections")? {
        None => DEFAULT_SERVER_CONNECTIONS,
        Some(0) => {
            let line = get("server_connections").map_or(name_line, |v| v.line);
            return Err(err(
                "server_connections",
                line,
                "server_connections cannot be 0".to_owned(),
            ));
        }
        Some(n) => n,
    };
    let server_retry_timeout_ms = num("server_retry_timeout")?
        .map(u64::from)
        .unwrap_or(DEFAULT_SERVER_RETRY_TIMEOUT_MS);
    let server_failure_limit = num("server_failure_limit")?.unwrap_or(DEFAULT_SERVER_FAILURE_LIMIT);

    // redis_auth: `conf_set_string` takes any text; `conf_validate_pool`: "directive
    // "redis_auth:" is only valid for a redis pool".
    let redis_auth = match get("redis_auth") {
        None => None,
        Some(v) if !redis => {
            return Err(err(
                "redis_auth",
                v.line,
                "redis_auth needs redis: true (memcache has no AUTH)".to_owned(),
            ))
        }
        Some(v) => Some(v.text.clone()),
    };

    // rcache extensions; values parsed like nutcracker's (strict true/false, digits).
    let rebalance = boolean("rebalance")?;
    let cluster = boolean("cluster")?;
    let rebalance_rate = match get("rebalance_rate") {
        None => None,
        Some(v) => match v.text.parse::<u64>() {
            Ok(n) if n > 0 && v.text.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => {
                return Err(err(
                    "rebalance_rate",
                    v.line,
                    format!("'{}' is not a positive number of keys per second", v.text),
                ))
            }
        },
    };
    // Like redis_auth without redis: a setting that would silently do nothing is refused.
    if let (Some(_), false) = (rebalance_rate, rebalance) {
        let line = get("rebalance_rate").map_or(name_line, |v| v.line);
        return Err(err(
            "rebalance_rate",
            line,
            "rebalance_rate needs rebalance: true".to_owned(),
        ));
    }
    if cluster {
        let line = get("cluster").map_or(name_line, |v| v.line);
        // A Redis Cluster speaks Redis; memcache has no cluster protocol.
        if !redis {
            return Err(err(
                "cluster",
                line,
                "cluster: true needs redis: true".to_owned(),
            ));
        }
        // Redis Cluster has database 0 only (SELECT is refused in cluster mode).
        if redis_db != 0 {
            return Err(err(
                "cluster",
                line,
                "cluster: true needs redis_db: 0 (a Redis Cluster has one database)".to_owned(),
            ));
        }
        // The cluster moves its own slots; a mover of ours would fight it.
        if rebalance {
            return Err(err(
                "cluster",
                line,
                "cluster: true and rebalance: true exclude each other (the cluster moves \
                 its own slots)"
                    .to_owned(),
            ));
        }
    }
    // `random` puts a key anywhere: there is no "right" server to move it to.
    if rebalance && distribution == "random" {
        let line = get("rebalance").map_or(name_line, |v| v.line);
        return Err(err(
            "rebalance",
            line,
            "rebalance: true does not work with distribution: random".to_owned(),
        ));
    }

    // servers: the structure check ("missing sequence directive at depth 2") and
    // `conf_validate_server` ("has no servers").
    let Some(servers) = servers else {
        return Err(cx.err(
            Some(name_line),
            Some("servers"),
            format!("pool '{name}' has no servers: list"),
        ));
    };
    if servers.is_empty() {
        return Err(cx.err(
            Some(name_line),
            Some("servers"),
            format!("pool '{name}' has no servers"),
        ));
    }
    // `conf_validate_server`: "pool 'a' has servers with same name 'x'" — the name being
    // the explicit name or else host:port (host alone on 11211), so two unnamed lines for
    // one address with different weights clash, and two names for one address do not.
    let mut names: HashMap<String, usize> = HashMap::new();
    for s in &servers {
        let n = s.twemproxy_name();
        if let Some(first) = names.get(&n) {
            return Err(cx.err(
                Some(s.line),
                Some("servers"),
                format!(
                    "pool '{name}' has two servers named '{n}' (lines {first} and {}); each \
                     server needs its own name or address",
                    s.line
                ),
            ));
        }
        names.insert(n, s.line);
    }

    Ok((
        PoolConfig {
            name,
            listen,
            hash,
            hash_tag,
            distribution,
            timeout_ms,
            backlog,
            client_connections,
            tcpkeepalive,
            reuseport,
            redis,
            redis_auth,
            redis_db,
            preconnect,
            auto_eject_hosts,
            server_connections,
            server_retry_timeout_ms,
            server_failure_limit,
            servers,
            rebalance,
            rebalance_rate,
            cluster,
        },
        listen_line,
    ))
}

// ---------------------------------------------------------------------------------------
// Values.

/// `conf_set_bool`: exactly `true` or `false` (quoted or not); not `yes`, `True`, `1`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// `nc_atoi` as `conf_set_num` uses it: ASCII digits only (no sign, space or `0x`; leading
/// zeros are decimal), result a non-negative C `int`. nutcracker computes in a wrapping
/// `int` and only refuses a *negative* result, so some overflowing numbers pass there with a
/// garbage value (`4294967297` → 1); anything above `i32::MAX` is refused here.
fn nc_atoi(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = s.bytes().try_fold(0u64, |acc, b| {
        let n = acc * 10 + u64::from(b - b'0');
        (n <= i32::MAX as u64).then_some(n)
    })?;
    u32::try_from(n).ok()
}

/// A port as nutcracker reads one: `nc_atoi` then `nc_valid_port` (1..=65535).
fn parse_port(s: &str) -> Option<u16> {
    nc_atoi(s)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p > 0)
}

/// Removes the brackets of `[v6addr]` (rcache extension, see the module doc).
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `conf_set_listen`: `/path [perm]` when it starts with `/`, else `host:port` split at the
/// *last* `:` (so `::1:22121` is host `::1`).
fn parse_listen(v: &str) -> Result<Listen, String> {
    if v.starts_with('/') {
        // The permission is whatever follows the last space, read by `strtol(.., 8)`.
        let (path, perm) = match v.rfind(' ') {
            None => (v, 0),
            Some(i) => {
                let perm = strtol_octal(&v[i + 1..])
                    .filter(|&p| p <= 0o777)
                    .ok_or_else(|| {
                        format!(
                            "invalid socket permission '{}' in '{v}' (octal, at most 0777)",
                            &v[i + 1..]
                        )
                    })?;
                (&v[..i], perm)
            }
        };
        // `nc_resolve_unix`: the path must fit `sun_path` with its NUL.
        if path.len() >= UNIX_PATH_MAX {
            return Err(format!(
                "unix socket path '{path}' is too long ({} bytes, at most {})",
                path.len(),
                UNIX_PATH_MAX - 1
            ));
        }
        return Ok(Listen::Unix {
            path: PathBuf::from(path),
            perm: (perm != 0).then_some(perm),
        });
    }
    let Some(i) = v.rfind(':') else {
        return Err(format!(
            "'{v}' is not a 'host:port' address or an absolute unix socket path"
        ));
    };
    // Port 0 (any free port, reported by `--ports-file`) is an rcache extension for tests
    // and scripts; nutcracker refuses it.
    let port = match &v[i + 1..] {
        "0" => 0,
        p => parse_port(p).ok_or_else(|| format!("invalid port '{p}' in '{v}' (0 to 65535)"))?,
    };
    let host = unbracket(&v[..i]);
    // nutcracker resolves the host at load time; an empty one fails there
    // ("address resolution of node '' ... failed"). Other names are resolved at bind.
    if host.is_empty() {
        return Err(format!("no host in '{v}' (use 0.0.0.0 for every address)"));
    }
    Ok(Listen::Tcp {
        host: host.to_owned(),
        port,
    })
}

/// `strtol(s, NULL, 8)` as `conf_set_listen` uses it: leading white space, a sign, then
/// octal digits up to the first other character; no digits at all is 0 (so `0999` and `abc`
/// are 0 — nutcracker accepts those and does not chmod). `None` where nutcracker refuses:
/// overflow (`errno`), or a negative value, which becomes a huge `mode_t` (> 0777).
fn strtol_octal(s: &str) -> Option<u32> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: u64 = 0;
    for b in digits.bytes().take_while(|b| (b'0'..=b'7').contains(b)) {
        n = n * 8 + u64::from(b - b'0');
        if n > i64::MAX as u64 {
            return None;
        }
    }
    if negative && n != 0 {
        return None;
    }
    u32::try_from(n).ok()
}

/// `conf_add_server`: `host:port:weight [name]` or `/path:weight [name]`, split from the
/// end: the name after the last space, the weight after the last `:`, then (not for a
/// socket) the port after the next `:` from the end; the host is the rest, `:`s included.
fn parse_server(v: &str, line: usize) -> Result<ServerConfig, String> {
    const FORMAT: &str = "is not 'host:port:weight [name]' or '/path/unix.sock:weight [name]'";
    let unix = v.starts_with('/');
    let (addr_part, name) = match v.rfind(' ') {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let Some(i) = addr_part.rfind(':') else {
        return Err(format!("server '{v}' {FORMAT}"));
    };
    let (rest, weight) = (&addr_part[..i], &addr_part[i + 1..]);
    let (host, port) = if unix {
        // nutcracker expects exactly one ':' in a socket line: a path with ':' is refused.
        if rest.contains(':') {
            return Err(format!("server '{v}' {FORMAT}"));
        }
        (rest, None)
    } else {
        let Some(j) = rest.rfind(':') else {
            return Err(format!("server '{v}' {FORMAT}"));
        };
        (&rest[..j], Some(&rest[j + 1..]))
    };
    // Weight before port, as nutcracker checks them.
    let weight = match nc_atoi(weight) {
        Some(0) => return Err(format!("server '{v}' has weight 0 (must be at least 1)")),
        Some(w) => w,
        None => return Err(format!("server '{v}' has an invalid weight '{weight}'")),
    };
    let port = match port {
        None => 0,
        Some(p) => parse_port(p)
            .ok_or_else(|| format!("server '{v}' has an invalid port '{p}' (1 to 65535)"))?,
    };
    // nutcracker takes an empty name (`"host:1:1 "`, quoted) as the name "": refused here.
    if name == Some("") {
        return Err(format!("server '{v}' has an empty name after the space"));
    }
    let host = unbracket(host);
    if unix {
        // nutcracker would fail each connect (`nc_resolve_unix`); refused at load here.
        if host.len() >= UNIX_PATH_MAX {
            return Err(format!(
                "unix socket path '{host}' is too long ({} bytes, at most {})",
                host.len(),
                UNIX_PATH_MAX - 1
            ));
        }
    } else if host.is_empty() {
        // nutcracker loads `:6379:1` and then fails every connect.
        return Err(format!("server '{v}' has no host"));
    }
    Ok(ServerConfig {
        host: host.to_owned(),
        port,
        weight,
        name: name.map(str::to_owned),
        line,
        unix: unix.then(|| PathBuf::from(host)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// twemproxy's conf/nutcracker.yml (master).
    const NUTCRACKER_YML: &str = "\
alpha:
  listen: 127.0.0.1:22121
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: true
  redis: true
  server_retry_timeout: 2000
  server_failure_limit: 1
  servers:
   - 127.0.0.1:6379:1

beta:
  listen: 127.0.0.1:22122
  hash: fnv1a_64
  hash_tag: \"{}\"
  distribution: ketama
  auto_eject_hosts: false
  timeout: 400
  redis: true
  servers:
   - 127.0.0.1:6380:1 server1
   - 127.0.0.1:6381:1 server2
   - 127.0.0.1:6382:1 server3
   - 127.0.0.1:6383:1 server4

gamma:
  listen: 127.0.0.1:22123
  hash: fnv1a_64
  distribution: ketama
  timeout: 400
  backlog: 1024
  preconnect: true
  auto_eject_hosts: true
  server_retry_timeout: 2000
  server_failure_limit: 3
  servers:
   - 127.0.0.1:11212:1
   - 127.0.0.1:11213:1

delta:
  listen: 127.0.0.1:22124
  hash: fnv1a_64
  distribution: ketama
  timeout: 100
  auto_eject_hosts: true
  server_retry_timeout: 2000
  server_failure_limit: 1
  servers:
   - 127.0.0.1:11214:1
   - 127.0.0.1:11215:1
   - 127.0.0.1:11216:1
   - 127.0.0.1:11217:1
   - 127.0.0.1:11218:1
   - 127.0.0.1:11219:1
   - 127.0.0.1:11220:1
   - 127.0.0.1:11221:1
   - 127.0.0.1:11222:1
   - 127.0.0.1:11223:1

omega:
  listen: /tmp/gamma
  hash: hsieh
  distribution: ketama
  auto_eject_hosts: false
  servers:
   - 127.0.0.1:11214:100000
   - 127.0.0.1:11215:1
";

    fn parse(text: &str) -> Result<ProxyConfig, ConfigError> {
        ProxyConfig::parse(text, "nutcracker.yml")
    }

    fn tcp(host: &str, port: u16) -> Listen {
        Listen::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    fn server(host: &str, port: u16, weight: u32, name: Option<&str>, line: usize) -> ServerConfig {
        ServerConfig {
            host: host.to_owned(),
            port,
            weight,
            name: name.map(str::to_owned),
            line,
            unix: None,
        }
    }

    /// A pool with nutcracker's defaults and one server on line 4.
    fn defaults(name: &str, listen: Listen) -> PoolConfig {
        PoolConfig {
            name: name.to_owned(),
            listen,
            hash: "fnv1a_64".to_owned(),
            hash_tag: None,
            distribution: "ketama".to_owned(),
            timeout_ms: None,
            backlog: 512,
            client_connections: 0,
            tcpkeepalive: false,
            reuseport: false,
            redis: false,
            redis_auth: None,
            redis_db: 0,
            preconnect: false,
            auto_eject_hosts: false,
            server_connections: 1,
            server_retry_timeout_ms: 30_000,
            server_failure_limit: 2,
            servers: vec![server("127.0.0.1", 6379, 1, None, 4)],
            rebalance: false,
            rebalance_rate: None,
            cluster: false,
        }
    }

    /// `a:` listening on 127.0.0.1:22121, `extra` lines (indented by the caller) and one
    /// server on the last line.
    fn pool_with(extra: &str) -> String {
        format!("a:\n  listen: 127.0.0.1:22121\n{extra}  servers:\n   - 127.0.0.1:6379:1\n")
    }

    /// Asserts an error's line, key and a part of its message.
    #[track_caller]
    fn fails(text: &str, line: Option<usize>, key: Option<&str>, part: &str) -> ConfigError {
        let e = parse(text).expect_err("should be rejected");
        assert_eq!(e.file, "nutcracker.yml");
        assert_eq!((e.line, e.key.as_deref()), (line, key), "{e}");
        assert!(e.message.contains(part), "{e:?} lacks {part:?}");
        e
    }

    #[test]
    fn twemproxy_example_parses_with_every_field() {
        let c = parse(NUTCRACKER_YML).unwrap();
        let names: Vec<&str> = c.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta", "gamma", "delta", "omega"]);

        let mut alpha = defaults("alpha", tcp("127.0.0.1", 22121));
        alpha.auto_eject_hosts = true;
        alpha.redis = true;
        alpha.server_retry_timeout_ms = 2000;
        alpha.server_failure_limit = 1;
        alpha.servers = vec![server("127.0.0.1", 6379, 1, None, 10)];
        assert_eq!(c.pools[0], alpha);

        let mut beta = defaults("beta", tcp("127.0.0.1", 22122));
        beta.hash_tag = Some(*b"{}");
        beta.timeout_ms = Some(400);
        beta.redis = true;
        beta.servers = (0..4)
            .map(|i| {
                let name = format!("server{}", i + 1);
                server("127.0.0.1", 6380 + i as u16, 1, Some(&name), 21 + i)
            })
            .collect();
        assert_eq!(c.pools[1], beta);

        let mut gamma = defaults("gamma", tcp("127.0.0.1", 22123));
        gamma.timeout_ms = Some(400);
        gamma.backlog = 1024;
        gamma.preconnect = true;
        gamma.auto_eject_hosts = true;
        gamma.server_retry_timeout_ms = 2000;
        gamma.server_failure_limit = 3;
        gamma.servers = vec![
            server("127.0.0.1", 11212, 1, None, 37),
            server("127.0.0.1", 11213, 1, None, 38),
        ];
        assert_eq!(c.pools[2], gamma);

        let mut delta = defaults("delta", tcp("127.0.0.1", 22124));
        delta.timeout_ms = Some(100);
        delta.auto_eject_hosts = true;
        delta.server_retry_timeout_ms = 2000;
        delta.server_failure_limit = 1;
        delta.servers = (0..10)
            .map(|i| server("127.0.0.1", 11214 + i as u16, 1, None, 49 + i))
            .collect();
        assert_eq!(c.pools[3], delta);

        let mut omega = defaults(
            "omega",
            Listen::Unix {
                path: "/tmp/gamma".into(),
                perm: None,
            },
        );
        omega.hash = "hsieh".to_owned();
        omega.servers = vec![
            server("127.0.0.1", 11214, 100000, None, 66),
            server("127.0.0.1", 11215, 1, None, 67),
        ];
        assert_eq!(c.pools[4], omega);

        assert_eq!(c.pools[1].servers[0].twemproxy_name(), "server1");
        assert_eq!(c.pools[2].servers[0].twemproxy_name(), "127.0.0.1:11212");
    }

    #[test]
    fn load_reads_a_file_and_names_it() {
        let dir = std::env::temp_dir().join(format!("rcache-proxy-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.yml");
        std::fs::write(&good, NUTCRACKER_YML).unwrap();
        assert_eq!(ProxyConfig::load(&good).unwrap().pools.len(), 5);
        let bad = dir.join("bad.yml");
        std::fs::write(&bad, pool_with("  hash: foo\n")).unwrap();
        let e = ProxyConfig::load(&bad).unwrap_err();
        assert_eq!(e.file, bad.display().to_string());
        assert_eq!(e.line, Some(3));
        let missing = ProxyConfig::load(&dir.join("missing.yml")).unwrap_err();
        assert_eq!(missing.line, None);
        assert!(missing.message.contains("cannot read"), "{missing}");
        std::fs::write(&bad, b"a:\n  listen: \xff\n").unwrap();
        assert_eq!(ProxyConfig::load(&bad).unwrap_err().line, Some(2));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn display_names_file_line_and_key() {
        let e = fails(
            &pool_with("  hash: foo\n"),
            Some(3),
            Some("hash"),
            "unknown hash 'foo'",
        );
        assert_eq!(
            e.to_string(),
            "nutcracker.yml:3: key 'hash': unknown hash 'foo' (one of: one_at_a_time, md5, \
             crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, \
             jenkins) in pool 'a'"
        );
        let e = fails("", None, None, "empty");
        assert_eq!(
            e.to_string(),
            "nutcracker.yml: the configuration is empty: expected at least one pool"
        );
        let _: &dyn std::error::Error = &e;
    }

    #[test]
    fn defaults_are_twemproxys() {
        let c = parse(&pool_with("")).unwrap();
        assert_eq!(c.pools, [defaults("a", tcp("127.0.0.1", 22121))]);
    }

    #[test]
    fn every_twemproxy_key() {
        let c = parse(&pool_with(
            "  hash: murmur\n  hash_tag: \"$$\"\n  distribution: modula\n  timeout: 0400\n  \
             backlog: 0\n  client_connections: 100\n  redis: \"true\"\n  tcpkeepalive: true\n  \
             reuseport: true\n  redis_auth: 12345\n  redis_db: 3\n  preconnect: true\n  \
             auto_eject_hosts: true\n  server_connections: 4\n  server_retry_timeout: 0\n  \
             server_failure_limit: 0\n",
        ))
        .unwrap();
        let p = &c.pools[0];
        assert_eq!(p.hash, "murmur");
        assert_eq!(p.hash_tag, Some(*b"$$"));
        assert_eq!(p.distribution, "modula");
        assert_eq!(p.timeout_ms, Some(400)); // leading zeros are decimal, as nc_atoi
        assert_eq!(p.backlog, 0);
        assert_eq!(p.client_connections, 100);
        assert!(p.redis && p.tcpkeepalive && p.reuseport && p.preconnect && p.auto_eject_hosts);
        assert_eq!(p.redis_auth.as_deref(), Some("12345")); // text, not a YAML int
        assert_eq!(p.redis_db, 3);
        assert_eq!(p.server_connections, 4);
        assert_eq!(p.server_retry_timeout_ms, 0);
        assert_eq!(p.server_failure_limit, 0);
        assert_eq!(p.servers[0].line, 20);
    }

    #[test]
    fn timeout_zero_means_none() {
        let c = parse(&pool_with("  timeout: 0\n")).unwrap();
        assert_eq!(c.pools[0].timeout_ms, None);
    }

    #[test]
    fn every_hash_and_distribution_name() {
        for h in HASH_NAMES {
            let c = parse(&pool_with(&format!("  hash: {h}\n"))).unwrap();
            assert_eq!(c.pools[0].hash, h);
        }
        for d in DISTRIBUTION_NAMES {
            let c = parse(&pool_with(&format!("  distribution: {d}\n"))).unwrap();
            assert_eq!(c.pools[0].distribution, d);
        }
        fails(
            &pool_with("  hash: MD5\n"),
            Some(3),
            Some("hash"),
            "unknown hash 'MD5'",
        );
        fails(
            &pool_with("  distribution: consistent\n"),
            Some(3),
            Some("distribution"),
            "unknown distribution 'consistent' (one of: ketama, modula, random)",
        );
    }

    #[test]
    fn listen_forms() {
        let listen = |v: &str| {
            parse(&format!("a:\n  listen: {v}\n  servers:\n   - h:1:1\n"))
                .map(|c| c.pools[0].listen.clone())
        };
        assert_eq!(listen("localhost:22121").unwrap(), tcp("localhost", 22121));
        assert_eq!(listen("0.0.0.0:1").unwrap(), tcp("0.0.0.0", 1));
        assert_eq!(listen("\"::1:22121\"").unwrap(), tcp("::1", 22121));
        assert_eq!(listen("\"[::1]:22121\"").unwrap(), tcp("::1", 22121));
        assert_eq!(
            listen("\"[::1]:22121\"").unwrap().to_string(),
            "[::1]:22121"
        );
        assert_eq!(
            listen("/tmp/x.sock 0666").unwrap(),
            Listen::Unix {
                path: "/tmp/x.sock".into(),
                perm: Some(0o666)
            }
        );
        assert_eq!(
            listen("/tmp/a dir/x.sock 600").unwrap(),
            Listen::Unix {
                path: "/tmp/a dir/x.sock".into(),
                perm: Some(0o600)
            }
        );
        // strtol(.., 8) reads what it can: nutcracker accepts these and does not chmod.
        for lenient in ["/tmp/x.sock 0999", "/tmp/x.sock abc", "\"/tmp/x.sock \""] {
            assert_eq!(
                listen(lenient).unwrap(),
                Listen::Unix {
                    path: "/tmp/x.sock".into(),
                    perm: None
                },
                "{lenient}"
            );
        }
        let path107 = format!("/{}", "x".repeat(106));
        assert!(listen(&path107).is_ok());
        let path108 = format!("/{}", "x".repeat(107));
        assert!(listen(&path108).unwrap_err().message.contains("too long"));
        for (v, part) in [
            ("/tmp/x.sock 1777", "permission"),
            ("/tmp/x.sock -1", "permission"),
            ("127.0.0.1", "not a 'host:port'"),
            ("127.0.0.1:00x", "invalid port"),
            ("127.0.0.1:65536", "invalid port"),
            ("\"127.0.0.1:22121 \"", "invalid port"),
            ("127.0.0.1:+1", "invalid port"),
            ("\":22121\"", "no host"),
        ] {
            let e = listen(v).unwrap_err();
            assert_eq!(
                (e.line, e.key.as_deref()),
                (Some(2), Some("listen")),
                "{v}: {e}"
            );
            assert!(e.message.contains(part), "{v}: {e}");
        }
    }

    #[test]
    fn servers_with_and_without_names_and_unix() {
        let c = parse(
            "a:\n  listen: 127.0.0.1:22121\n  servers:\n   - 10.0.0.1:6379:2\n   - \
             10.0.0.2:6379:1 cache-2\n   - /tmp/redis.sock:1\n   - /tmp/r2.sock:3 r2\n   - \
             ::1:6380:1\n   - \"[::1]:6381:1\"\n   - mc.local:11211:1\n",
        )
        .unwrap();
        let s = &c.pools[0].servers;
        assert_eq!(s[0], server("10.0.0.1", 6379, 2, None, 4));
        assert_eq!(s[1], server("10.0.0.2", 6379, 1, Some("cache-2"), 5));
        assert_eq!(
            s[2],
            ServerConfig {
                host: "/tmp/redis.sock".into(),
                port: 0,
                weight: 1,
                name: None,
                line: 6,
                unix: Some("/tmp/redis.sock".into())
            }
        );
        assert_eq!(s[3].unix.as_deref(), Some(Path::new("/tmp/r2.sock")));
        assert_eq!((s[3].weight, s[3].name.as_deref()), (3, Some("r2")));
        assert_eq!(s[4], server("::1", 6380, 1, None, 8));
        assert_eq!(s[5], server("::1", 6381, 1, None, 9));
        let names: Vec<String> = s.iter().map(ServerConfig::twemproxy_name).collect();
        assert_eq!(
            names,
            [
                "10.0.0.1:6379",
                "cache-2",
                "/tmp/redis.sock:",
                "r2",
                "::1:6380",
                "::1:6381",
                "mc.local"
            ]
        );
    }

    #[test]
    fn bad_servers() {
        let one = |v: &str| {
            format!("a:\n  listen: 127.0.0.1:22121\n  servers:\n   - 10.0.0.9:1:1\n   - {v}\n")
        };
        for (v, part) in [
            ("127.0.0.1:6379", "is not 'host:port:weight"),
            ("127.0.0.1:6379:0", "weight 0"),
            ("127.0.0.1:6379:-1", "invalid weight"),
            ("127.0.0.1:6379:4294967297", "invalid weight"),
            ("127.0.0.1:70000:1", "invalid port '70000'"),
            ("127.0.0.1:0:1", "invalid port '0'"),
            ("127.0.0.1:6379:1 my name", "invalid weight '1 my'"),
            ("\" 127.0.0.1:6379:1\"", "is not 'host:port:weight"),
            ("\"127.0.0.1:6379:1 \"", "empty name"),
            ("/tmp/redis.sock", "is not 'host:port:weight"),
            ("/tmp/a:b.sock:1", "is not 'host:port:weight"),
            (":6379:1", "no host"),
            ("\"\"", "empty server entry"),
            ("host: 1", "not a mapping"),
        ] {
            let e = parse(&one(v)).expect_err(v);
            assert_eq!(
                (e.line, e.key.as_deref()),
                (Some(5), Some("servers")),
                "{v}: {e}"
            );
            assert!(e.message.contains(part), "{v}: {e}");
        }
    }

    #[test]
    fn duplicate_servers_as_nutcracker() {
        let two = |a: &str, b: &str| {
            format!("a:\n  listen: 127.0.0.1:22121\n  servers:\n   - {a}\n   - {b}\n")
        };
        // Same host:port, other weight: same name.
        fails(
            &two("127.0.0.1:6379:1", "127.0.0.1:6379:2"),
            Some(5),
            Some("servers"),
            "'127.0.0.1:6379' (lines 4 and 5)",
        );
        fails(
            &two("127.0.0.1:6379:1 x", "127.0.0.1:6380:1 x"),
            Some(5),
            Some("servers"),
            "named 'x'",
        );
        // An explicit name equal to another server's default name.
        fails(
            &two("127.0.0.1:6379:1", "127.0.0.1:6380:1 127.0.0.1:6379"),
            Some(5),
            Some("servers"),
            "named '127.0.0.1:6379'",
        );
        fails(
            &two("/tmp/r.sock:1", "/tmp/r.sock:2"),
            Some(5),
            Some("servers"),
            "named '/tmp/r.sock:'",
        );
        // One address under two names is fine for nutcracker.
        assert!(parse(&two("127.0.0.1:6379:1 x", "127.0.0.1:6379:1 y")).is_ok());
        // 11211 is placed by host alone, so these differ.
        assert!(parse(&two("h:11211:1", "h:11212:1")).is_ok());
    }

    #[test]
    fn pool_level_rules() {
        // listen missing: reported on the pool's line.
        fails(
            "a:\n  hash: md5\n  servers:\n   - h:1:1\n",
            Some(1),
            Some("listen"),
            "no listen",
        );
        // servers missing / not a list / empty.
        fails(
            "a:\n  listen: 127.0.0.1:1\n",
            Some(1),
            Some("servers"),
            "no servers",
        );
        fails(
            "a:\n  listen: 127.0.0.1:1\n  servers: h:1:1\n",
            Some(3),
            Some("servers"),
            "must be a list",
        );
        fails(
            "a:\n  listen: 127.0.0.1:1\n  servers:\n",
            Some(3),
            Some("servers"),
            "not empty",
        );
        // redis_auth only with redis.
        fails(
            &pool_with("  redis_auth: pw\n"),
            Some(3),
            Some("redis_auth"),
            "needs redis: true",
        );
        assert_eq!(
            parse(&pool_with("  redis_auth: pw\n  redis: true\n"))
                .unwrap()
                .pools[0]
                .redis_auth
                .as_deref(),
            Some("pw")
        );
        fails(
            &pool_with("  server_connections: 0\n"),
            Some(3),
            Some("server_connections"),
            "cannot be 0",
        );
        fails(
            &pool_with("  hash_tag: \"{}}\"\n"),
            Some(3),
            Some("hash_tag"),
            "exactly two",
        );
        fails(
            &pool_with("  hash_tag: \"{\"\n"),
            Some(3),
            Some("hash_tag"),
            "exactly two",
        );
        // Two bytes, as nutcracker counts.
        assert_eq!(
            parse(&pool_with("  hash_tag: \"é\"\n")).unwrap().pools[0].hash_tag,
            Some([0xc3, 0xa9])
        );
    }

    #[test]
    fn duplicates() {
        fails(
            &pool_with("  hash: md5\n  hash: md5\n"),
            Some(4),
            Some("hash"),
            "first set on line 3",
        );
        fails(
            "a:\n  listen: 127.0.0.1:1\n  servers:\n   - h:1:1\n  servers:\n   - h:2:1\n",
            Some(5),
            Some("servers"),
            "duplicate key",
        );
        let two = |l1: &str, name2: &str, l2: &str| {
            format!(
                "a:\n  listen: {l1}\n  servers:\n   - h:1:1\n\
                 {name2}:\n  listen: {l2}\n  servers:\n   - h:1:1\n"
            )
        };
        fails(
            &two("127.0.0.1:1", "a", "127.0.0.1:2"),
            Some(5),
            Some("a"),
            "duplicate pool name 'a' (first defined on line 1)",
        );
        fails(
            &two("127.0.0.1:1", "b", "127.0.0.1:1"),
            Some(6),
            Some("listen"),
            "pools 'a' and 'b' have the same listen address '127.0.0.1:1' (line 2)",
        );
        fails(
            &two("127.0.0.1:1", "b", "127.0.0.1:01"),
            Some(6),
            Some("listen"),
            "same listen",
        );
        fails(
            &two("/tmp/s 0600", "b", "/tmp/s 0666"),
            Some(6),
            Some("listen"),
            "same listen",
        );
        assert!(parse(&two("127.0.0.1:1", "b", "127.0.0.2:1")).is_ok());
    }

    #[test]
    fn numbers_and_booleans_as_nutcracker() {
        for bad in [
            "-1",
            "+5",
            "0x10",
            "1e3",
            "4.5",
            "\"4 \"",
            "2147483648",
            "4294967296",
            "abc",
        ] {
            fails(
                &pool_with(&format!("  timeout: {bad}\n")),
                Some(3),
                Some("timeout"),
                "not a number",
            );
        }
        assert_eq!(
            parse(&pool_with("  timeout: 2147483647\n")).unwrap().pools[0].timeout_ms,
            Some(2147483647)
        );
        assert_eq!(
            parse(&pool_with("  timeout: \"400\"\n")).unwrap().pools[0].timeout_ms,
            Some(400)
        );
        for bad in ["yes", "True", "TRUE", "1", "on", "~"] {
            fails(
                &pool_with(&format!("  redis: {bad}\n")),
                Some(3),
                Some("redis"),
                "not \"true\" or \"false\"",
            );
        }
        assert!(parse(&pool_with("  preconnect: 'true'\n")).unwrap().pools[0].preconnect);
        assert!(!parse(&pool_with("  preconnect: false\n")).unwrap().pools[0].preconnect);
    }

    #[test]
    fn unknown_and_empty_keys() {
        let e = fails(
            &pool_with("  bogus: 1\n"),
            Some(3),
            Some("bogus"),
            "unknown key in pool 'a'",
        );
        assert!(e.message.contains("server_failure_limit"), "{e}");
        fails(
            &pool_with("  dyn_read_consistency: 1\n"),
            Some(3),
            Some("dyn_read_consistency"),
            "unknown key",
        );
        fails(&pool_with("  \"\": 1\n"), Some(3), None, "empty key");
        fails(
            &pool_with("  hash:\n"),
            Some(3),
            Some("hash"),
            "empty value",
        );
        fails(
            &pool_with("  hash: \"\"\n"),
            Some(3),
            Some("hash"),
            "empty value",
        );
        fails(
            &pool_with("  foo:\n    bar: 1\n"),
            Some(3),
            Some("foo"),
            "unknown key",
        );
        fails(
            &pool_with("  hash:\n    md5: 1\n"),
            Some(3),
            Some("hash"),
            "not a mapping",
        );
        fails(
            &pool_with("  hash:\n   - md5\n"),
            Some(3),
            Some("hash"),
            "not a list",
        );
    }

    #[test]
    fn rcache_extensions() {
        let p = &parse(&pool_with(
            "  redis: true\n  rebalance: true\n  rebalance_rate: 5000\n",
        ))
        .unwrap()
        .pools[0];
        assert!(p.rebalance && !p.cluster);
        assert_eq!(p.rebalance_rate, Some(5000));
        let p = &parse(&pool_with("  redis: true\n  rebalance: true\n"))
            .unwrap()
            .pools[0];
        assert_eq!((p.rebalance, p.rebalance_rate), (true, None));
        let p = &parse(&pool_with("  redis: true\n  cluster: true\n"))
            .unwrap()
            .pools[0];
        assert!(p.cluster && !p.rebalance);
        fails(
            &pool_with("  cluster: true\n"),
            Some(3),
            Some("cluster"),
            "needs redis: true",
        );
        fails(
            &pool_with("  redis: true\n  cluster: true\n  rebalance: true\n"),
            Some(4),
            Some("cluster"),
            "exclude each other",
        );
        let p = &parse(&pool_with("  rebalance: true\n")).unwrap().pools[0];
        assert!(p.rebalance && !p.redis);
        fails(
            &pool_with("  rebalance: yes\n"),
            Some(3),
            Some("rebalance"),
            "not \"true\"",
        );
        fails(
            &pool_with("  rebalance: true\n  rebalance_rate: 0\n"),
            Some(4),
            Some("rebalance_rate"),
            "positive",
        );
        fails(
            &pool_with("  rebalance: true\n  rebalance_rate: -3\n"),
            Some(4),
            Some("rebalance_rate"),
            "positive",
        );
        fails(
            &pool_with("  rebalance_rate: 10\n"),
            Some(3),
            Some("rebalance_rate"),
            "needs rebalance: true",
        );
        fails(
            &pool_with("  redis: true\n  distribution: random\n  rebalance: true\n"),
            Some(5),
            Some("rebalance"),
            "random",
        );
    }

    #[test]
    fn empty_and_comment_only_files() {
        fails("", None, None, "empty");
        fails("# just a comment\n\n", None, None, "empty");
        fails("\n\n", None, None, "empty");
    }

    #[test]
    fn top_level_must_be_a_mapping() {
        fails("hello\n", Some(1), None, "not a single value");
        fails("- a\n- b\n", Some(1), None, "not a list");
        fails(
            "a: b\n",
            Some(1),
            Some("a"),
            "must be a mapping of settings",
        );
        fails("a:\n", Some(1), Some("a"), "not empty");
        fails("a:\n  - x\n", Some(1), Some("a"), "not a list");
    }

    #[test]
    fn yaml_features_nutcracker_refuses() {
        let ok = pool_with("");
        fails(&format!("---\n{ok}"), Some(1), None, "'---'");
        fails(&format!("{ok}...\n"), Some(5), None, "'...'");
        fails(
            &format!("%YAML 1.1\n---\n{ok}"),
            Some(2),
            None,
            "not allowed",
        );
        fails(
            &pool_with("  hash: &h md5\n  distribution: *h\n"),
            Some(3),
            None,
            "anchor",
        );
        fails(&pool_with("  hash: !!str md5\n"), Some(3), None, "tag");
        fails(
            "a:\n  listen: 127.0.0.1:1\n  servers: [h:1:1]\n",
            Some(3),
            None,
            "flow collection",
        );
        fails(
            "{a: {listen: 127.0.0.1:1}}\n",
            Some(1),
            None,
            "flow collection",
        );
    }

    #[test]
    fn yaml_syntax_errors_give_the_line() {
        let e = fails(
            "a:\n  listen: 127.0.0.1:22121\n   hash: md5\n  servers:\n   - h:1:1\n",
            Some(3),
            None,
            "YAML syntax error",
        );
        assert!(
            e.to_string()
                .starts_with("nutcracker.yml:3: YAML syntax error"),
            "{e}"
        );
        let e = parse("a:\n  listen: 127.0.0.1:22121\n  hash: \"md5\n  servers:\n   - h:1:1\n")
            .unwrap_err();
        assert!(
            e.message.contains("YAML syntax error") && e.line.is_some(),
            "{e}"
        );
        // A syntax error late in the file wins over a bad value earlier, as in nutcracker.
        let e = parse(&format!(
            "{}b:\n  listen: x:1\n   bad: indent\n",
            pool_with("  hash: foo\n")
        ))
        .unwrap_err();
        assert!(e.message.contains("YAML syntax error"), "{e}");
    }

    #[test]
    fn tabs() {
        // A tab indent is a YAML error (libyaml too).
        let e = fails(
            "a:\n\tlisten: 127.0.0.1:22121\n  servers:\n   - h:1:1\n",
            Some(2),
            None,
            "YAML syntax error",
        );
        assert!(e.message.contains("tab"), "{e}");
        // A tab after "key:" separates, as in libyaml; nutcracker accepts it.
        let c = parse("a:\n  listen:\t127.0.0.1:22121\n  servers:\n   - h:1:1\n").unwrap();
        assert_eq!(c.pools[0].listen, tcp("127.0.0.1", 22121));
    }

    #[test]
    fn yaml_forms_nutcracker_accepts() {
        // CRLF, a BOM, quoted keys and names, explicit keys, block scalars, folded plain.
        let crlf = pool_with("").replace('\n', "\r\n");
        assert_eq!(
            parse(&crlf).unwrap().pools[0],
            defaults("a", tcp("127.0.0.1", 22121))
        );
        assert!(parse(&format!("\u{feff}{}", pool_with(""))).is_ok());
        let c = parse(concat!(
            "\"a b\":\n",
            "  \"listen\": 127.0.0.1:1\n",
            "  ? servers\n",
            "  :\n",
            "   - h:1:1\n",
            "1:\n",
            "  listen: |-\n",
            "    127.0.0.1:2\n",
            "  redis: true\n",
            "  redis_auth: foo\n",
            "    bar\n",
            "  servers:\n",
            "   - h:1:1\n",
        ))
        .unwrap();
        assert_eq!(c.pools[0].name, "a b");
        assert_eq!(c.pools[1].name, "1");
        assert_eq!(c.pools[1].listen, tcp("127.0.0.1", 2));
        assert_eq!(c.pools[1].redis_auth.as_deref(), Some("foo bar"));
        // Comments anywhere.
        assert!(parse(concat!(
            "# pools\n",
            "a: # the a pool\n",
            "  listen: 127.0.0.1:1 # here\n",
            "  servers:\n",
            "   # one\n",
            "   - h:1:1 # server\n",
        ))
        .is_ok());
    }
}
