//! `rcache server` flags. Every flag is a setting of `commands::config::PARAMS` under Redis's
//! name; values are applied after the TOML file, so flags win. The other settings (every
//! Redis 7.0 one, docs/CONFIG.md) are taken from the TOML file.

use clap::Args;
use commands::config::Settings;

/// Start a cache node. Settings use Redis's names and value forms (`--maxmemory 100mb`).
#[derive(Args, Debug, Default, Clone)]
pub struct ServerArgs {
    /// TOML file with settings under Redis's names (see rcache.example.toml); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on (default 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// RESP (Redis protocol) TCP port (default 6379; 0 picks a free port).
    #[arg(long, short = 'p', value_name = "PORT")]
    pub port: Option<String>,
    /// HTTP/JSON API port (default 7379; 0 picks a free port; off closes the door).
    #[arg(long, value_name = "PORT|off")]
    pub http_port: Option<String>,
    /// rcache binary protocol port (default 7380; 0 picks a free port; off closes the door).
    #[arg(long, value_name = "PORT|off")]
    pub binary_port: Option<String>,
    /// memcached text protocol port (default 11211; 0 picks a free port; off closes the door).
    #[arg(long, value_name = "PORT|off")]
    pub memcache_port: Option<String>,
    /// Memory limit for the dataset: bytes or a size such as 100mb, 2gb (0 = no limit).
    #[arg(long, value_name = "SIZE")]
    pub maxmemory: Option<String>,
    /// What to evict at the limit: noeviction, allkeys-lru, volatile-lru, allkeys-lfu,
    /// volatile-lfu, allkeys-random, volatile-random, volatile-ttl.
    #[arg(long, value_name = "POLICY")]
    pub maxmemory_policy: Option<String>,
    /// Keys sampled for each eviction (1-64, default 5).
    #[arg(long, value_name = "N")]
    pub maxmemory_samples: Option<String>,
    /// Password clients must send with AUTH (or HELLO … AUTH).
    #[arg(long, value_name = "PASSWORD")]
    pub requirepass: Option<String>,
    /// Data directory: the snapshot (dump.rcsnap) and its lock live here; a Redis dump.rdb
    /// found here is imported at start-up (default: the working directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<String>,
    /// Import this Redis RDB file at start-up (Redis 7.x and older), instead of what --dir
    /// holds. Snapshots are still written to --dir.
    #[arg(long, value_name = "FILE")]
    pub load_rdb: Option<std::path::PathBuf>,
    /// If the snapshot in --dir cannot be read, move it aside (to <name>.corrupt-<time>) and
    /// start empty, with an error in the log, instead of refusing to start.
    #[arg(long)]
    pub start_empty_if_corrupt: bool,
    /// The snapshot's file name in --dir (default dump.rcsnap).
    #[arg(long, value_name = "NAME")]
    pub dbfilename: Option<String>,
    /// Number of logical databases for SELECT (default 16).
    #[arg(long, value_name = "N")]
    pub databases: Option<String>,
    /// Close clients idle for this many seconds (0 = never).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<String>,
    /// Most simultaneous clients (default 10000).
    #[arg(long, value_name = "N")]
    pub maxclients: Option<String>,
    /// Largest single request argument (default 512mb).
    #[arg(long, value_name = "SIZE")]
    pub proto_max_bulk_len: Option<String>,
    /// Largest unparsed input one client may buffer (default 1gb).
    #[arg(long, value_name = "SIZE")]
    pub client_query_buffer_limit: Option<String>,
    /// Background task frequency, 1-500 (default 10).
    #[arg(long, value_name = "HZ")]
    pub hz: Option<String>,
    /// Log level: debug, verbose, notice, warning.
    #[arg(long, value_name = "LEVEL")]
    pub loglevel: Option<String>,
    /// Snapshot schedule "<seconds> <changes> ..." (default Redis's "3600 1 300 100 60
    /// 10000"; "" = no automatic snapshots). docs/PERSISTENCE.md.
    #[arg(long, value_name = "SCHEDULE")]
    pub save: Option<String>,
    /// Keep an append-only log of every write in `<dir>/appendonlydir` (docs/PERSISTENCE.md).
    #[arg(long, value_name = "yes|no")]
    pub appendonly: Option<String>,
    /// When the log is fsynced: always (before each reply; batches share one fsync),
    /// everysec (Redis's default), or no (the OS decides).
    #[arg(long, value_name = "always|everysec|no")]
    pub appendfsync: Option<String>,
    /// I/O threads (0 = one per core). Pipelining clients are spread over them at once;
    /// request/response clients only when a core is idle (docs/ARCHITECTURE.md).
    #[arg(long, value_name = "N")]
    pub threads: Option<String>,
    /// Cluster mode: this node's gossip (UDP) and bus (TCP) port (0 = the RESP port +
    /// 10000, as Redis). docs/CLUSTER.md.
    #[arg(long, value_name = "PORT")]
    pub cluster_port: Option<String>,
    /// Join the cluster these nodes are in (their cluster ports, host:port, comma-separated
    /// or repeated); implies cluster mode. Without it a cluster node starts a new cluster.
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',')]
    pub join: Vec<String>,
    /// Shared secret for gossip and the bus: nodes without it cannot join or talk to the
    /// cluster (set the same on every node).
    #[arg(long, value_name = "SECRET")]
    pub cluster_secret: Option<String>,
    /// The address other nodes and clients are told to use for this node (default: the
    /// bind address).
    #[arg(long, value_name = "IP")]
    pub cluster_announce_ip: Option<String>,
    /// Answer MOVED for other nodes' keys, as Redis Cluster does, instead of forwarding.
    #[arg(long)]
    pub cluster_redirect: bool,
    /// Allow DEBUG: yes, local (clients on 127.0.0.1/::1 only) or no (the default, as Redis).
    #[arg(long, value_name = "no|yes|local")]
    pub enable_debug_command: Option<String>,
}

impl ServerArgs {
    /// Defaults, then the config file, then the flags.
    pub fn settings(&self) -> Result<Settings, String> {
        let s = Settings::default();
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            s.apply_toml(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            *s.config_file.write() = Some(path.clone());
        }
        let join = (!self.join.is_empty()).then(|| self.join.join(","));
        // `--cluster-port` turns cluster mode on, 0 included (a free port with `--port 0`).
        let cluster_on = self.cluster_port.as_ref().map(|_| "yes".to_string());
        let redirect = self.cluster_redirect.then(|| "yes".to_string());
        let flags: [(&str, &Option<String>); 29] = [
            ("bind", &self.bind),
            ("port", &self.port),
            ("http-port", &self.http_port),
            ("binary-port", &self.binary_port),
            ("memcache-port", &self.memcache_port),
            ("maxmemory", &self.maxmemory),
            ("maxmemory-policy", &self.maxmemory_policy),
            ("maxmemory-samples", &self.maxmemory_samples),
            ("requirepass", &self.requirepass),
            ("dir", &self.dir),
            ("dbfilename", &self.dbfilename),
            ("databases", &self.databases),
            ("timeout", &self.timeout),
            ("maxclients", &self.maxclients),
            ("proto-max-bulk-len", &self.proto_max_bulk_len),
            ("client-query-buffer-limit", &self.client_query_buffer_limit),
            ("hz", &self.hz),
            ("loglevel", &self.loglevel),
            ("save", &self.save),
            ("appendonly", &self.appendonly),
            ("appendfsync", &self.appendfsync),
            ("threads", &self.threads),
            ("cluster-port", &self.cluster_port),
            ("cluster-enabled", &cluster_on),
            ("cluster-join", &join),
            ("cluster-secret", &self.cluster_secret),
            ("cluster-announce-ip", &self.cluster_announce_ip),
            ("cluster-redirect", &redirect),
            ("enable-debug-command", &self.enable_debug_command),
        ];
        for (name, v) in flags {
            if let Some(v) = v {
                s.set(name, v, true).map_err(|e| match e {
                    commands::config::SetError::Unknown => format!("unknown setting --{name}"),
                    commands::config::SetError::Invalid(n, why) => format!("--{n} {v}: {why}"),
                })?;
            }
        }
        Ok(s)
    }
}
