//! The settings table: every setting of Redis 7.0 (its `CONFIG GET *`), plus rcache's own
//! (the door ports, `threads`, `set-max-listpack-*`), one row each. Rows are data: name,
//! alias, when it may change, what rcache does with it, its check, Redis's default, and
//! for the settings the server reads, the `Settings` field they live in.
//!
//! Order is CONFIG GET's and CONFIG REWRITE's: rcache's long-standing settings first (so
//! rewritten files keep their order), then the rest alphabetically.

use super::check::{self, Check, Check::*, I32, I64, U32, U64};
use super::{Change, Change::*, Field, Param, Status, Status::*, DOOR_OFF, REDIS_SAVE_DEFAULT};
use std::sync::atomic::Ordering::Relaxed;
use storage::Policy;

/// A value the row's check accepted; numbers are well-formed, so the fallback is never used.
fn n<T: std::str::FromStr + Default>(v: &str) -> T {
    v.parse().unwrap_or_default()
}

fn door_port(v: &str) -> i64 {
    if v == "off" {
        DOOR_OFF
    } else {
        n(v)
    }
}

fn door_port_text(v: i64) -> String {
    if v == DOOR_OFF {
        "off".into()
    } else {
        v.to_string()
    }
}

// How each implemented setting reaches the field the server reads. A setter is only handed
// a value its row's check accepted (and normalised).

/// A field that is one atomic number.
macro_rules! atomic_field {
    ($name:ident, $field:ident) => {
        const $name: Field = Field {
            get: |s| s.$field.load(Relaxed).to_string(),
            set: |s, v| s.$field.store(n(v), Relaxed),
        };
    };
}

atomic_field!(PORT, port);
atomic_field!(DATABASES, databases);
atomic_field!(HASH_ENTRIES, hash_max_listpack_entries);
atomic_field!(HASH_VALUE, hash_max_listpack_value);
atomic_field!(INTSET_ENTRIES, set_max_intset_entries);
atomic_field!(SET_ENTRIES, set_max_listpack_entries);
atomic_field!(SET_VALUE, set_max_listpack_value);
atomic_field!(ZSET_ENTRIES, zset_max_listpack_entries);
atomic_field!(ZSET_VALUE, zset_max_listpack_value);
atomic_field!(LIST_SIZE, list_max_listpack_size);
atomic_field!(BUSY_REPLY, busy_reply_threshold);
atomic_field!(HLL_SPARSE_MAX, hll_sparse_max_bytes);

/// A setting the slow-call filter derives from (`slowlog::refresh_floor`).
macro_rules! slow_field {
    ($name:ident, $field:ident) => {
        const $name: Field = Field {
            get: |s| s.$field.load(Relaxed).to_string(),
            set: |s, v| {
                s.$field.store(n(v), Relaxed);
                crate::slowlog::refresh_floor(s);
            },
        };
    };
}

slow_field!(SLOWLOG_SLOWER, slowlog_slower_than);
slow_field!(SLOWLOG_MAX_LEN, slowlog_max_len);
slow_field!(LATENCY_THRESHOLD, latency_monitor_threshold);
atomic_field!(STREAM_NODE_BYTES, stream_node_max_bytes);
atomic_field!(STREAM_NODE_ENTRIES, stream_node_max_entries);
atomic_field!(TIMEOUT, timeout);
atomic_field!(MAXCLIENTS, maxclients);
atomic_field!(PROTO_MAX_BULK_LEN, proto_max_bulk_len);
atomic_field!(QUERY_BUFFER, client_query_buffer_limit);
atomic_field!(TCP_KEEPALIVE, tcp_keepalive);
atomic_field!(THREADS, threads);

/// `notify-keyspace-events`: the class bits, shown as Redis shows them. The check keeps
/// `n` next to `A` (Redis's display drops it, its flags do not).
const NOTIFY: Field = Field {
    get: |s| crate::notify::display(s.notify_flags.load(Relaxed)),
    set: |s, v| {
        s.notify_flags
            .store(crate::notify::parse(v).unwrap_or(0), Relaxed)
    },
};
const BIND: Field = Field {
    get: |s| s.bind.read().clone(),
    set: |s, v| *s.bind.write() = v.into(),
};
const HTTP_PORT: Field = Field {
    get: |s| door_port_text(s.http_port.load(Relaxed)),
    set: |s, v| s.http_port.store(door_port(v), Relaxed),
};
const BINARY_PORT: Field = Field {
    get: |s| door_port_text(s.binary_port.load(Relaxed)),
    set: |s, v| s.binary_port.store(door_port(v), Relaxed),
};
const MEMCACHE_PORT: Field = Field {
    get: |s| door_port_text(s.memcache_port.load(Relaxed)),
    set: |s, v| s.memcache_port.store(door_port(v), Relaxed),
};
const DIR: Field = Field {
    get: |s| s.dir.read().clone(),
    set: |s, v| *s.dir.write() = v.into(),
};
const REQUIREPASS: Field = Field {
    get: |s| s.requirepass.read().clone().unwrap_or_default(),
    set: |s, v| {
        *s.requirepass.write() = (!v.is_empty()).then(|| v.to_string());
        s.requirepass_gen.fetch_add(1, Relaxed);
    },
};
const MAXMEMORY: Field = Field {
    get: |s| s.evict.maxmemory().to_string(),
    set: |s, v| s.evict.set_maxmemory(n(v)),
};
const POLICY: Field = Field {
    get: |s| s.evict.policy().name().to_string(),
    set: |s, v| {
        if let Some(p) = Policy::parse(v) {
            s.evict.set_policy(p)
        }
    },
};
const SAMPLES: Field = Field {
    get: |s| s.evict.samples().to_string(),
    set: |s, v| s.evict.set_samples(n(v)),
};
const LFU_LOG_FACTOR: Field = Field {
    get: |s| s.evict.lfu_log_factor().to_string(),
    set: |s, v| s.evict.set_lfu_log_factor(n(v)),
};
const LFU_DECAY_TIME: Field = Field {
    get: |s| s.evict.lfu_decay_time().to_string(),
    set: |s, v| s.evict.set_lfu_decay_time(n(v)),
};
const OBUF: Field = Field {
    get: |s| {
        let r = *s.replica_obuf.read();
        format!(
            "normal {} {} {} replica {} {} {} pubsub {} {} {}",
            s.obuf_hard.load(Relaxed),
            s.obuf_soft.load(Relaxed),
            s.obuf_soft_secs.load(Relaxed),
            r.0,
            r.1,
            r.2,
            s.pubsub_obuf_hard.load(Relaxed),
            s.pubsub_obuf_soft.load(Relaxed),
            s.pubsub_obuf_soft_secs.load(Relaxed)
        )
    },
    set: |s, v| {
        for (class, hard, soft, secs) in check::obuf_limits(v).unwrap_or_default() {
            match class {
                "normal" => {
                    s.obuf_hard.store(hard, Relaxed);
                    s.obuf_soft.store(soft, Relaxed);
                    s.obuf_soft_secs.store(secs, Relaxed);
                }
                "pubsub" => {
                    s.pubsub_obuf_hard.store(hard, Relaxed);
                    s.pubsub_obuf_soft.store(soft, Relaxed);
                    s.pubsub_obuf_soft_secs.store(secs, Relaxed);
                }
                _ => *s.replica_obuf.write() = (hard, soft, secs),
            }
        }
    },
};
// Redis stores hz clamped to 1..500 (CONFIG GET shows the clamped value).
const HZ: Field = Field {
    get: |s| s.hz.load(Relaxed).to_string(),
    set: |s, v| s.hz.store(n::<u32>(v).clamp(1, 500), Relaxed),
};
const LOGLEVEL: Field = Field {
    get: |s| s.loglevel.read().clone(),
    set: |s, v| *s.loglevel.write() = v.into(),
};
const SAVE: Field = Field {
    get: |s| s.save.read().clone(),
    set: |s, v| *s.save.write() = v.into(),
};
const APPENDONLY: Field = Field {
    get: |s| {
        if s.appendonly.load(Relaxed) {
            "yes"
        } else {
            "no"
        }
        .into()
    },
    set: |s, v| s.appendonly.store(v == "yes", Relaxed),
};

const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const NO_YES_LOCAL: &[&str] = &["no", "yes", "local"];
const SHUTDOWN: Check = Custom(check::shutdown_flags);
const PORT_RANGE: Check = Int(0, 65535);

// One argument per column of the table, so that each row stays one line.
#[allow(clippy::too_many_arguments)]
const fn row(
    name: &'static str,
    alias: Option<&'static str>,
    change: Change,
    status: Status,
    check: Check,
    default: &'static str,
    field: Option<&'static Field>,
    help: &'static str,
) -> Param {
    Param {
        name,
        alias,
        change,
        status,
        check,
        default,
        field,
        help,
    }
}

// Why a group of settings has no effect (docs/CONFIG.md repeats these).
const REPL: &str = "accepted; replication is not built, the node is always a master";
const CLUSTER: &str =
    "accepted; rcache's cluster has no replicas and its own failure detection (docs/CLUSTER.md)";
const TLS: &str = "accepted; TLS is not built (tls-port is refused)";
const DEFRAG: &str = "accepted; rcache does not defragment memory";
const LAZYFREE: &str = "accepted; rcache frees values in the command that drops them";

/// The settings table. `row(name, alias, change, status, check, Redis 7.0's default, field, help)`.
#[rustfmt::skip]
pub const PARAMS: &[Param] = &[
    row("bind", None, Immutable, Implemented, Text, "127.0.0.1", Some(&BIND), "address to listen on (Redis's default is every interface, \"* -::*\")"),
    row("port", None, Immutable, Implemented, PORT_RANGE, "6379", Some(&PORT), "RESP TCP port (0 = pick a free port)"),
    row("http-port", None, Immutable, Implemented, Custom(check::door_port), "7379", Some(&HTTP_PORT), "HTTP/JSON API port (0 = pick a free port, off = closed)"),
    row("binary-port", None, Immutable, Implemented, Custom(check::door_port), "7380", Some(&BINARY_PORT), "rcache binary protocol port (0 = pick a free port, off = closed)"),
    row("memcache-port", None, Immutable, Implemented, Custom(check::door_port), "11211", Some(&MEMCACHE_PORT), "memcached text protocol port (0 = pick a free port, off = closed)"),
    row("databases", None, Immutable, Implemented, Int(1, 1024), "16", Some(&DATABASES), "number of logical databases (SELECT); at most 1024 in rcache"),
    row("dir", None, Protected, Implemented, Text, ".", Some(&DIR), "data directory: the snapshot file and the lock that keeps a second server out (docs/PERSISTENCE.md)"),
    row("requirepass", None, Mutable, Implemented, Text, "", Some(&REQUIREPASS), "the default ACL user's password (empty = nopass): clients must AUTH with it"),
    row("maxmemory", None, Mutable, Implemented, Mem(0, U64), "0", Some(&MAXMEMORY), "memory limit for the dataset (bytes, or 100mb, 1gb; 0 = none)"),
    row("maxmemory-policy", None, Mutable, Implemented, Enum(POLICIES), "noeviction", Some(&POLICY), "what to evict at maxmemory: noeviction, allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl"),
    row("maxmemory-samples", None, Mutable, Implemented, Int(1, 64), "5", Some(&SAMPLES), "keys sampled per eviction (at most 64 in rcache)"),
    row("lfu-log-factor", None, Mutable, Implemented, Int(0, I32), "10", Some(&LFU_LOG_FACTOR), "LFU counter logarithm factor"),
    row("lfu-decay-time", None, Mutable, Implemented, Int(0, I32), "1", Some(&LFU_DECAY_TIME), "minutes for the LFU counter to decay by one"),
    row("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), Mutable, Implemented, Int(0, I64), "512", Some(&HASH_ENTRIES), "hashes with more fields use a hash table"),
    row("hash-max-listpack-value", Some("hash-max-ziplist-value"), Mutable, Implemented, Mem(0, I64), "64", Some(&HASH_VALUE), "hashes with a longer field or value use a hash table"),
    row("set-max-intset-entries", None, Mutable, Implemented, Int(0, I64), "512", Some(&INTSET_ENTRIES), "sets of integers with more members use a hash table"),
    row("set-max-listpack-entries", None, Mutable, Implemented, Int(0, I64), "128", Some(&SET_ENTRIES), "sets with more members use a hash table (Redis 7.2's setting)"),
    row("set-max-listpack-value", None, Mutable, Implemented, Mem(0, I64), "64", Some(&SET_VALUE), "sets with a longer member use a hash table (Redis 7.2's setting)"),
    row("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), Mutable, Implemented, Int(0, I64), "128", Some(&ZSET_ENTRIES), "sorted sets with more members use a skip list"),
    row("zset-max-listpack-value", Some("zset-max-ziplist-value"), Mutable, Implemented, Mem(0, I64), "64", Some(&ZSET_VALUE), "sorted sets with a longer member use a skip list"),
    row("list-max-listpack-size", Some("list-max-ziplist-size"), Mutable, Implemented, Int(i32::MIN as i128, I32), "-2", Some(&LIST_SIZE), "lists stay compact up to this many entries (positive) or bytes (-1..-5 = 4..64 KiB)"),
    row("busy-reply-threshold", Some("lua-time-limit"), Mutable, Implemented, Int(0, I64), "5000", Some(&BUSY_REPLY), "ms a script may run before other clients are answered BUSY (and SCRIPT KILL works)"),
    row("timeout", None, Mutable, Implemented, Int(0, I32), "0", Some(&TIMEOUT), "close a client idle this many seconds (0 = never)"),
    row("maxclients", None, Mutable, Implemented, Int(1, U32), "10000", Some(&MAXCLIENTS), "most simultaneous clients"),
    row("proto-max-bulk-len", None, Mutable, Implemented, Mem(1 << 20, I64), "536870912", Some(&PROTO_MAX_BULK_LEN), "largest single argument (bytes; default 512mb)"),
    row("client-query-buffer-limit", None, Mutable, Implemented, Mem(1 << 20, I64), "1073741824", Some(&QUERY_BUFFER), "largest unparsed input a client may buffer (default 1gb)"),
    row("client-output-buffer-limit", None, Mutable, Implemented, Custom(check::obuf_check), "normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60", Some(&OBUF), "normal|pubsub <hard> <soft> <soft-seconds>: close a client whose pending replies (or undelivered messages) pass the limit (0 = none)"),
    row("hz", None, Mutable, Implemented, Int(0, I32), "10", Some(&HZ), "background task frequency (active expiry), 1-500"),
    row("loglevel", None, Mutable, Implemented, Enum(&["debug", "verbose", "notice", "warning", "nothing"]), "notice", Some(&LOGLEVEL), "debug, verbose, notice, warning or nothing (Redis 7.2's)"),
    row("tcp-keepalive", None, Mutable, Implemented, Int(0, I32), "300", Some(&TCP_KEEPALIVE), "TCP keepalive seconds for new connections (0 = off)"),
    row("threads", None, Immutable, Implemented, Int(0, 1024), "0", Some(&THREADS), "I/O threads (0 = one per core)"),
    row("save", None, Mutable, Implemented, Custom(check::save), REDIS_SAVE_DEFAULT, Some(&SAVE), "snapshot schedule \"<seconds> <changes> ...\" (\"\" = off): a background save when, for one pair, that many seconds and changes have passed"),
    row("appendonly", None, Mutable, Implemented, Bool, "no", Some(&APPENDONLY), "keep the append-only log (docs/PERSISTENCE.md); CONFIG SET yes writes its base first, as Redis"),
    row("acl-pubsub-default", None, Mutable, Implemented, Enum(&["allchannels", "resetchannels"]), "resetchannels", None, "channels a new ACL user (or `reset`) starts with (docs/ACL.md)"),
    row("aclfile", None, Immutable, Implemented, Text, "", None, "the ACL file: loaded at start-up (an error stops the server), by ACL LOAD; written by ACL SAVE (docs/ACL.md)"),
    row("acllog-max-len", None, Mutable, Implemented, Int(0, I64), "128", None, "most entries ACL LOG keeps"),
    row("active-defrag-cycle-max", None, Mutable, NoEffect, Int(1, 99), "25", None, DEFRAG),
    row("active-defrag-cycle-min", None, Mutable, NoEffect, Int(1, 99), "1", None, DEFRAG),
    row("active-defrag-ignore-bytes", None, Mutable, NoEffect, Mem(1, I64), "104857600", None, DEFRAG),
    row("active-defrag-max-scan-fields", None, Mutable, NoEffect, Int(1, I64), "1000", None, DEFRAG),
    row("active-defrag-threshold-lower", None, Mutable, NoEffect, Int(0, 1000), "10", None, DEFRAG),
    row("active-defrag-threshold-upper", None, Mutable, NoEffect, Int(0, 1000), "100", None, DEFRAG),
    row("active-expire-effort", None, Mutable, NoEffect, Int(1, 10), "1", None, "accepted; active expiry runs hz times a second with a fixed effort"),
    row("activedefrag", None, Mutable, NoEffect, Bool, "no", None, DEFRAG),
    row("activerehashing", None, Mutable, NoEffect, Bool, "yes", None, "accepted; rcache's hash tables grow on their own"),
    row("always-show-logo", None, Immutable, NoEffect, Bool, "no", None, "accepted; rcache has no logo"),
    row("aof-disable-auto-gc", None, Mutable, NoEffect, Bool, "no", None, "accepted; files a rewrite replaces are deleted at once (no history files kept)"),
    row("aof-load-truncated", None, Mutable, Implemented, Bool, "yes", None, "a torn last record of the log is cut at start-up with a warning (no: refuse to start)"),
    row("aof-rewrite-incremental-fsync", None, Mutable, NoEffect, Bool, "yes", None, "accepted; the rewrite's base is fsynced once, when complete"),
    row("aof-timestamp-enabled", None, Mutable, Refused("the log holds no timestamp annotations"), Bool, "no", None, "refused unless no: rcache writes no timestamp annotations in the log"),
    row("aof-use-rdb-preamble", None, Mutable, NoEffect, Bool, "yes", None, "accepted; the log's base is always an rcache snapshot (the RDB preamble's role)"),
    row("aof_rewrite_cpulist", None, Immutable, NoEffect, Text, "", None, "accepted; rcache pins no thread to a CPU"),
    row("appenddirname", None, Immutable, Implemented, Custom(check::dir_name), "appendonlydir", None, "the log's directory, inside dir"),
    row("appendfilename", None, Immutable, Implemented, Custom(|v| check::file_name("appendfilename", v, false)), "appendonly.aof", None, "the prefix of the log's file names"),
    row("appendfsync", None, Mutable, Implemented, Enum(&["everysec", "always", "no"]), "everysec", None, "always: on disk before the reply (group commit); everysec: fsync once a second; no: the OS decides"),
    row("auto-aof-rewrite-min-size", None, Mutable, Implemented, Mem(0, I64), "67108864", None, "no automatic rewrite while the log is smaller"),
    row("auto-aof-rewrite-percentage", None, Mutable, Implemented, Int(0, I32), "100", None, "rewrite when the log has grown this much over its base (0 = never)"),
    row("bgsave_cpulist", None, Immutable, NoEffect, Text, "", None, "accepted; rcache pins no thread to a CPU"),
    row("bind-source-addr", None, Mutable, NoEffect, Text, "", None, REPL),
    row("bio_cpulist", None, Immutable, NoEffect, Text, "", None, "accepted; rcache pins no thread to a CPU"),
    row("cluster-allow-pubsubshard-when-down", None, Mutable, NoEffect, Bool, "yes", None, CLUSTER),
    row("cluster-allow-reads-when-down", None, Mutable, NoEffect, Bool, "no", None, CLUSTER),
    row("cluster-allow-replica-migration", None, Mutable, NoEffect, Bool, "yes", None, CLUSTER),
    row("cluster-announce-bus-port", None, Mutable, NoEffect, PORT_RANGE, "0", None, CLUSTER),
    row("cluster-announce-hostname", None, Mutable, NoEffect, Custom(check::hostname), "", None, CLUSTER),
    row("cluster-announce-ip", None, Immutable, Implemented, Text, "", None, "the address other nodes and clients are told to use for this node (default: the bind address)"),
    row("cluster-announce-port", None, Mutable, NoEffect, PORT_RANGE, "0", None, CLUSTER),
    row("cluster-announce-tls-port", None, Mutable, NoEffect, PORT_RANGE, "0", None, CLUSTER),
    row("cluster-config-file", None, Immutable, Implemented, Text, "nodes.conf", None, "file in dir keeping this node's id and the slots it owns across restarts"),
    row("cluster-drain-on-shutdown", None, Immutable, Implemented, Bool, "yes", None, "rcache: on SIGTERM/SHUTDOWN a cluster node hands its slots to the others before it exits"),
    row("cluster-enabled", None, Immutable, Implemented, Bool, "no", None, "cluster mode (docs/CLUSTER.md); also turned on by cluster-port or cluster-join"),
    row("cluster-handoff-rate", None, Mutable, Implemented, Int(0, I64), "0", None, "rcache: keys per second a node sends to each node it hands slots to (0 = as fast as it can); reads are never paused, a batch's writes are"),
    row("cluster-join", None, Immutable, Implemented, Text, "", None, "rcache: host:port[,host:port…] of cluster ports of nodes already in the cluster"),
    row("cluster-link-sendbuf-limit", None, Mutable, NoEffect, Mem(0, U64), "0", None, CLUSTER),
    row("cluster-migration-barrier", None, Mutable, NoEffect, Int(0, I32), "1", None, CLUSTER),
    row("cluster-node-timeout", None, Mutable, NoEffect, Int(0, I64), "15000", None, CLUSTER),
    row("cluster-port", None, Immutable, Implemented, PORT_RANGE, "0", None, "gossip (UDP) and bus (TCP) port; 0 = the RESP port + 10000, as Redis"),
    row("cluster-preferred-endpoint-type", None, Mutable, NoEffect, Enum(&["ip", "hostname", "unknown-endpoint"]), "ip", None, CLUSTER),
    row("cluster-redirect", None, Immutable, Implemented, Bool, "no", None, "rcache: answer MOVED for keys of other nodes (as Redis Cluster) instead of forwarding them"),
    row("cluster-replica-no-failover", Some("cluster-slave-no-failover"), Mutable, NoEffect, Bool, "no", None, CLUSTER),
    row("cluster-replica-validity-factor", Some("cluster-slave-validity-factor"), Mutable, NoEffect, Int(0, I32), "10", None, CLUSTER),
    row("cluster-require-full-coverage", None, Mutable, NoEffect, Bool, "yes", None, CLUSTER),
    row("cluster-secret", None, Immutable, Implemented, Text, "", None, "rcache: shared secret authenticating gossip and the bus; nodes without it cannot join (docs/CLUSTER.md)"),
    row("crash-log-enabled", None, Mutable, NoEffect, Bool, "yes", None, "accepted; a crash prints Rust's panic message"),
    row("crash-memcheck-enabled", None, Mutable, NoEffect, Bool, "yes", None, "accepted; a crash prints Rust's panic message"),
    row("daemonize", None, Immutable, Refused("rcache does not daemonize; run it under a service manager"), Bool, "no", None, "refused unless no: rcache stays in the foreground"),
    row("dbfilename", None, Protected, Implemented, Custom(|v| check::file_name("dbfilename", v, true)), "dump.rcsnap", None, "the snapshot's file name in dir (rcache's format; a Redis dump.rdb in dir is imported at start-up)"),
    row("disable-thp", None, Immutable, NoEffect, Bool, "yes", None, "accepted; rcache leaves transparent huge pages as the system has them"),
    row("dynamic-hz", None, Mutable, NoEffect, Bool, "yes", None, "accepted; background tasks run at hz whatever the number of clients"),
    row("enable-debug-command", None, Immutable, Implemented, Enum(NO_YES_LOCAL), "no", None, "whether DEBUG may run: yes, local (clients on 127.0.0.1/::1 only) or no (docs/COMMANDS.md lists its subcommands)"),
    row("enable-module-command", None, Immutable, NoEffect, Enum(NO_YES_LOCAL), "no", None, "accepted; there is no MODULE command"),
    row("enable-protected-configs", None, Immutable, Implemented, Enum(NO_YES_LOCAL), "no", None, "whether CONFIG SET may change dir and dbfilename (local = from 127.0.0.1/::1 only)"),
    row("hll-sparse-max-bytes", None, Mutable, Implemented, Mem(0, I64), "3000", Some(&HLL_SPARSE_MAX), "largest sparse HyperLogLog value in bytes; past it the value turns dense"),
    row("ignore-warnings", None, Mutable, NoEffect, Text, "", None, "accepted; rcache has no start-up warnings to silence"),
    row("io-threads", None, Immutable, NoEffect, Int(1, 128), "1", None, "accepted; rcache's I/O threads are set by threads"),
    row("io-threads-do-reads", None, Immutable, NoEffect, Bool, "no", None, "accepted; rcache's I/O threads always read (see threads)"),
    row("jemalloc-bg-thread", None, Mutable, NoEffect, Bool, "yes", None, "accepted; jemalloc's background thread stays as the allocator starts it"),
    row("latency-monitor-threshold", None, Mutable, Implemented, Int(0, I64), "0", Some(&LATENCY_THRESHOLD), "LATENCY records commands (events command, fast-command) and active expiry cycles (expire-cycle) that took at least this many ms (0 = off)"),
    row("latency-tracking", None, Mutable, Implemented, Bool, "yes", None, "INFO latencystats shows per-command latency percentiles"),
    row("latency-tracking-info-percentiles", None, Mutable, Implemented, Custom(check::percentiles), "50 99 99.9", None, "the percentiles INFO latencystats shows"),
    row("lazyfree-lazy-eviction", None, Mutable, NoEffect, Bool, "no", None, LAZYFREE),
    row("lazyfree-lazy-expire", None, Mutable, NoEffect, Bool, "no", None, LAZYFREE),
    row("lazyfree-lazy-server-del", None, Mutable, NoEffect, Bool, "no", None, LAZYFREE),
    row("lazyfree-lazy-user-del", None, Mutable, NoEffect, Bool, "no", None, LAZYFREE),
    row("lazyfree-lazy-user-flush", None, Mutable, NoEffect, Bool, "no", None, LAZYFREE),
    row("list-compress-depth", None, Mutable, NoEffect, Int(0, I32), "0", None, "accepted; a list is one deque, not a quicklist of nodes, so it has no interior nodes to compress"),
    row("logfile", None, Immutable, Implemented, Text, "", None, "file the log is appended to (empty = standard output)"),
    row("masterauth", None, Mutable, NoEffect, Text, "", None, REPL),
    row("masteruser", None, Mutable, NoEffect, Text, "", None, REPL),
    row("maxmemory-clients", None, Mutable, NoEffect, Custom(check::mem_or_percent), "0", None, "accepted; client buffers are not counted against a limit of their own"),
    row("maxmemory-eviction-tenacity", None, Mutable, NoEffect, Int(0, 100), "10", None, "accepted; eviction frees what the write needs, without a time budget"),
    row("min-replicas-max-lag", Some("min-slaves-max-lag"), Mutable, NoEffect, Int(0, I32), "10", None, REPL),
    row("min-replicas-to-write", Some("min-slaves-to-write"), Mutable, Refused("replication is not built, so no write could ever be accepted"), Int(0, I32), "0", None, "refused unless 0: replication is not built (Redis would refuse every write without replicas)"),
    row("no-appendfsync-on-rewrite", None, Mutable, NoEffect, Bool, "no", None, "accepted; the log keeps its fsync policy during a rewrite (no fork competes for the disk)"),
    row("notify-keyspace-events", None, Mutable, Implemented, Custom(check::keyspace_events), "", Some(&NOTIFY), "keyspace notifications published through pub/sub: classes K, E, g, $, l, s, h, z, x, e, t, m, n, A"),
    row("oom-score-adj", None, Mutable, NoEffect, Enum(&["no", "yes", "relative", "absolute"]), "no", None, "accepted; rcache leaves its OOM score alone"),
    row("oom-score-adj-values", None, Mutable, NoEffect, Custom(check::oom_values), "0 200 800", None, "accepted; rcache leaves its OOM score alone"),
    row("pidfile", None, Immutable, Implemented, Text, "", None, "file the process id is written to while the server runs (empty = none)"),
    row("proc-title-template", None, Mutable, NoEffect, Custom(check::proc_title), "{title} {listen-addr} {server-mode}", None, "accepted; the process title is left as started"),
    row("propagation-error-behavior", None, Mutable, NoEffect, Enum(&["ignore", "panic", "panic-on-replicas"]), "ignore", None, REPL),
    row("protected-mode", None, Mutable, NoEffect, Bool, "yes", None, "accepted; not enforced: rcache listens on 127.0.0.1 unless bind says otherwise"),
    row("rdb-del-sync-files", None, Mutable, Persistence, Bool, "no", None, "accepted; rcache writes no RDB files for replicas (no replication)"),
    row("rdb-save-incremental-fsync", None, Mutable, Persistence, Bool, "yes", None, "accepted; a snapshot is fsynced once, when complete, before it replaces the old one"),
    row("rdbchecksum", None, Immutable, NoEffect, Bool, "yes", None, "accepted; rcache's snapshots are always checksummed (per block and whole file)"),
    row("rdbcompression", None, Mutable, NoEffect, Bool, "yes", None, "accepted; snapshot blocks are lz4-compressed whenever that saves an eighth"),
    row("repl-backlog-size", None, Mutable, NoEffect, Custom(check::backlog_size), "1048576", None, REPL),
    row("repl-backlog-ttl", None, Mutable, NoEffect, Int(0, I64), "3600", None, REPL),
    row("repl-disable-tcp-nodelay", None, Mutable, NoEffect, Bool, "no", None, REPL),
    row("repl-diskless-load", None, Mutable, NoEffect, Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled", None, REPL),
    row("repl-diskless-sync", None, Mutable, NoEffect, Bool, "yes", None, REPL),
    row("repl-diskless-sync-delay", None, Mutable, NoEffect, Int(0, I32), "5", None, REPL),
    row("repl-diskless-sync-max-replicas", None, Mutable, NoEffect, Int(0, I32), "0", None, REPL),
    row("repl-ping-replica-period", Some("repl-ping-slave-period"), Mutable, NoEffect, Int(1, I32), "10", None, REPL),
    row("repl-timeout", None, Mutable, NoEffect, Int(1, I32), "60", None, REPL),
    row("replica-announce-ip", Some("slave-announce-ip"), Mutable, NoEffect, Text, "", None, REPL),
    row("replica-announce-port", Some("slave-announce-port"), Mutable, NoEffect, PORT_RANGE, "0", None, REPL),
    row("replica-announced", None, Mutable, NoEffect, Bool, "yes", None, REPL),
    row("replica-ignore-disk-write-errors", None, Mutable, NoEffect, Bool, "no", None, REPL),
    row("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), Mutable, NoEffect, Bool, "yes", None, REPL),
    row("replica-lazy-flush", Some("slave-lazy-flush"), Mutable, NoEffect, Bool, "no", None, REPL),
    row("replica-priority", Some("slave-priority"), Mutable, NoEffect, Int(0, I32), "100", None, REPL),
    row("replica-read-only", Some("slave-read-only"), Mutable, NoEffect, Bool, "yes", None, REPL),
    row("replica-serve-stale-data", Some("slave-serve-stale-data"), Mutable, NoEffect, Bool, "yes", None, REPL),
    row("replicaof", Some("slaveof"), Immutable, Refused("replication is not built yet"), Custom(check::replicaof), "", None, "refused unless empty: replication is not built yet (a server asked to be a replica must not run as a master)"),
    row("sanitize-dump-payload", None, Mutable, NoEffect, Enum(&["no", "yes", "clients"]), "no", None, "accepted; RESTORE always checks a payload in full (rcache's own format)"),
    row("server_cpulist", None, Immutable, NoEffect, Text, "", None, "accepted; rcache pins no thread to a CPU"),
    row("set-proc-title", None, Immutable, NoEffect, Bool, "yes", None, "accepted; the process title is left as started"),
    row("shutdown-on-sigint", None, Mutable, Implemented, SHUTDOWN, "default", None, "what SIGINT's shutdown does about the final snapshot: default (as the save policy), save, nosave; now and force change nothing"),
    row("shutdown-on-sigterm", None, Mutable, Implemented, SHUTDOWN, "default", None, "what SIGTERM's shutdown does about the final snapshot: default (as the save policy), save, nosave; now and force change nothing"),
    row("shutdown-timeout", None, Mutable, NoEffect, Int(0, I32), "10", None, "accepted; there are no replicas to wait for at shutdown"),
    row("slowlog-log-slower-than", None, Mutable, Implemented, Int(-1, I64), "10000", Some(&SLOWLOG_SLOWER), "SLOWLOG records commands that ran at least this many microseconds (-1 = off, 0 = every command)"),
    row("slowlog-max-len", None, Mutable, Implemented, Int(0, I64), "128", Some(&SLOWLOG_MAX_LEN), "entries SLOWLOG keeps (the oldest are dropped first)"),
    row("socket-mark-id", None, Immutable, NoEffect, Int(0, U32), "0", None, "accepted; sockets are not marked"),
    row("stop-writes-on-bgsave-error", None, Mutable, Implemented, Bool, "yes", None, "after a failed snapshot, writes get MISCONF until one succeeds"),
    row("stream-node-max-bytes", None, Mutable, Implemented, Mem(0, I64), "4096", Some(&STREAM_NODE_BYTES), "largest block of stream entries in bytes (0 = no limit); a new block starts past it"),
    row("stream-node-max-entries", None, Mutable, Implemented, Int(0, I64), "100", Some(&STREAM_NODE_ENTRIES), "most stream entries in one block (0 = no limit)"),
    row("supervised", None, Immutable, Refused("no upstart/systemd readiness notification"), Enum(&["upstart", "systemd", "auto", "no"]), "no", None, "refused unless no: rcache sends no readiness notification"),
    row("syslog-enabled", None, Immutable, Refused("there is no syslog output; see logfile"), Bool, "no", None, "refused unless no: logs go to standard output or logfile"),
    row("syslog-facility", None, Immutable, NoEffect, Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0", None, "accepted; there is no syslog output"),
    row("syslog-ident", None, Immutable, NoEffect, Text, "redis", None, "accepted; there is no syslog output"),
    row("tcp-backlog", None, Immutable, Implemented, Int(0, I32), "511", None, "length of the listening sockets' queue of pending connections"),
    row("tls-auth-clients", None, Mutable, NoEffect, Enum(&["no", "yes", "optional"]), "yes", None, TLS),
    row("tls-ca-cert-dir", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-ca-cert-file", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-cert-file", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-ciphers", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-ciphersuites", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-client-cert-file", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-client-key-file", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-client-key-file-pass", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-cluster", None, Mutable, NoEffect, Bool, "no", None, TLS),
    row("tls-dh-params-file", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-key-file", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-key-file-pass", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-port", None, Mutable, Refused("TLS is not built"), PORT_RANGE, "0", None, "refused unless 0: TLS is not built"),
    row("tls-prefer-server-ciphers", None, Mutable, NoEffect, Bool, "no", None, TLS),
    row("tls-protocols", None, Mutable, NoEffect, Text, "", None, TLS),
    row("tls-replication", None, Mutable, NoEffect, Bool, "no", None, TLS),
    row("tls-session-cache-size", None, Mutable, NoEffect, Int(0, I32), "20480", None, TLS),
    row("tls-session-cache-timeout", None, Mutable, NoEffect, Int(0, I32), "300", None, TLS),
    row("tls-session-caching", None, Mutable, NoEffect, Bool, "yes", None, TLS),
    row("tracking-table-max-keys", None, Mutable, Implemented, Int(0, I64), "1000000", None, "keys client-side caching remembers at most; past it random keys are invalidated (0 = no limit)"),
    row("unixsocket", None, Immutable, Refused("Unix sockets are not built"), Text, "", None, "refused unless empty: rcache listens on TCP only"),
    row("unixsocketperm", None, Immutable, NoEffect, Custom(check::octal_perm), "0", None, "accepted; rcache listens on TCP only"),
];
