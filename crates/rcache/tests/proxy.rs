//! `rcache proxy` as a real process in front of real backends (testkit's `proxy` module):
//! Debian's redis-server and memcached behind it, and Debian's nutcracker beside it as the
//! reference for placement, commands and the stats document.
//!
//! - placement: the same keys land on the same backends through nutcracker and through the
//!   proxy, for ketama (fnv1a_64; md5 with weights; murmur with server names), modula
//!   (crc32a; hsieh with names and weights) and `hash_tag` — both ways round;
//! - Redis pools: multi-key commands split and merged (MGET, DEL, UNLINK, EXISTS, TOUCH,
//!   MSET), CROSSSLOT, refused and local commands, AUTH / redis_db, a dead backend's errno
//!   text, auto-ejection and return, `timeout` on a hung (SIGSTOPped) backend;
//! - memcached pools: storage commands, noreply, get/gets split and merged, errors;
//! - live reload (SIGHUP, POST /reload) under load with no error and no dropped connection,
//!   removing a server and moving the listen address, a broken file rejected (422);
//!   rebalancing 3 → 6 servers with every key readable while keys move and none duplicated
//!   or overwritten afterwards, and chained reloads with AUTH and a database;
//! - `-t`, `-V`, `-D`, `-p`, `-o`, unix sockets, `listen: …:0` with `--ports-file`, the stats
//!   port (nutcracker's fields) and `/metrics`;
//! - cluster pools (`cluster: true`) over a Redis 7 cluster formed by `redis-cli --cluster
//!   create` and over an rcache cluster in `--cluster-redirect` mode: nodes found from one
//!   seed, keys on their slot's node, multi-key commands split per slot or CROSSSLOT, no
//!   miss or error while `redis-cli --cluster reshard` moves 3,000 slots under reads
//!   (MOVED and ASK followed), and `-t` refusing `cluster` without `redis` or with
//!   `rebalance`.
//!
//! Every wait is a bounded poll; every process dies with its handle (a paused backend gets
//! SIGCONT first). Without redis-server / nutcracker / memcached the tests fail, unless
//! RCACHE_ALLOW_MISSING_TOOLS=1, when they return early with a loud SKIPPED note (the Redis
//! Cluster tests need redis-cli too).
//!
//! Keys are shaped so that every backend gets some: fnv1a_64 (nutcracker's default hash)
//! puts keys that differ only in their last bytes close together on the ring (`k:1`…`k:120`
//! can all land on one of two servers, in nutcracker too), so the varying part is not last.
//!
//! A test that fails because of a proxy bug says so in its doc comment ("BUG:").

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::proxy::{
    cmd, pipeline, read_to_eof, run_proxy_cli, Backend, ListenMode, RedisCluster,
};
use testkit::{wait_for, McConn, Nutcracker, ProxyProcess, RawConn, Resp, TestCluster};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn redis_backends(n: usize) -> Option<Vec<Backend>> {
    (0..n).map(|_| Backend::redis()).collect()
}

fn memcached_backends(n: usize) -> Option<Vec<Backend>> {
    (0..n).map(|_| Backend::memcached()).collect()
}

/// `127.0.0.1:PORT:WEIGHT [name]` for each backend.
fn server_lines(backends: &[Backend], weights: &[u32], names: Option<&[&str]>) -> Vec<String> {
    backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let w = weights.get(i).copied().unwrap_or(1);
            match names {
                Some(n) => format!("{}:{w} {}", b.host_port(), n[i]),
                None => format!("{}:{w}", b.host_port()),
            }
        })
        .collect()
}

/// One pool of twemproxy YAML: `opts` are `key: value` lines as written.
fn pool_yaml(name: &str, listen: &str, opts: &[(&str, &str)], servers: &[String]) -> String {
    let mut s = format!("{name}:\n  listen: {listen}\n");
    for (k, v) in opts {
        s.push_str(&format!("  {k}: {v}\n"));
    }
    s.push_str("  servers:\n");
    for l in servers {
        s.push_str(&format!("   - {l}\n"));
    }
    s
}

fn val(k: &str) -> String {
    format!("value-of[{k}]")
}

fn set_cmds(keys: &[String], value: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    keys.iter()
        .map(|k| vec!["SET".to_string(), k.clone(), value(k)])
        .collect()
}

/// SET every key (pipelined, 100 a write), asserting +OK.
fn write_all(c: &mut RawConn, keys: &[String], value: impl Fn(&str) -> String + Copy, via: &str) {
    for chunk in keys.chunks(100) {
        for (k, r) in chunk.iter().zip(pipeline(c, &set_cmds(chunk, value))) {
            assert_eq!(r, Resp::Simple("OK".into()), "SET {k} through {via}");
        }
    }
}

/// GET every key (pipelined); the keys whose reply is not `value(k)`, with the reply.
fn read_all(
    c: &mut RawConn,
    keys: &[String],
    value: impl Fn(&str) -> String,
) -> Vec<(String, Resp)> {
    let mut bad = Vec::new();
    for chunk in keys.chunks(100) {
        let cmds: Vec<Vec<String>> = chunk
            .iter()
            .map(|k| vec!["GET".into(), k.clone()])
            .collect();
        for (k, r) in chunk.iter().zip(pipeline(c, &cmds)) {
            if r != Resp::Bulk(Some(value(k).into_bytes())) {
                bad.push((k.clone(), r));
            }
        }
    }
    bad
}

/// Which backend (index) holds each key, read from the backends directly (KEYS *); panics
/// on a key held twice.
fn locate(backends: &[Backend]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (i, b) in backends.iter().enumerate() {
        for k in b.keys() {
            if let Some(j) = m.insert(k.clone(), i) {
                panic!("key {k:?} is on backend {j} and on backend {i}");
            }
        }
    }
    m
}

fn dbsizes(backends: &[Backend]) -> Vec<i64> {
    backends.iter().map(|b| b.dbsize()).collect()
}

/// Keys `prefix0..` until each backend holds at least `per` of them, found by writing them
/// through the proxy and looking at the backends; returns (key, backend) pairs. The keys
/// stay written with `val(key)`.
fn keys_per_backend(
    proxy: &mut RawConn,
    backends: &[Backend],
    prefix: &str,
    per: usize,
) -> Vec<(String, usize)> {
    let keys: Vec<String> = (0..per * backends.len() * 6)
        .map(|i| format!("{prefix}{i}.k"))
        .collect();
    write_all(proxy, &keys, val, "the proxy");
    let at = locate(backends);
    let mut out = Vec::new();
    for k in &keys {
        let b = *at
            .get(k)
            .unwrap_or_else(|| panic!("{k} written through the proxy is on no backend"));
        out.push((k.clone(), b));
    }
    for i in 0..backends.len() {
        let n = out.iter().filter(|(_, b)| *b == i).count();
        assert!(
            n >= per,
            "only {n} of {} keys on backend {i}: {:?}",
            keys.len(),
            dbsizes(backends)
        );
    }
    out
}

/// The JSON of a stats document.
fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("stats are not JSON ({e}): {s}"))
}

/// Poll the proxy's stats port until `f` finds what it wants in the document.
fn wait_stats<T>(
    p: &ProxyProcess,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = p.stats_json();
        if let Some(v) = f(&json(&last)) {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last stats: {last}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn num(v: &Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).unwrap_or_else(|| panic!("no {path:?} in {v}"));
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {v}"))
}

// ---------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------

const GOOD: &str = "alpha:\n  listen: 127.0.0.1:22121\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1 one\n   - 127.0.0.1:6380:1 two\n";

/// `-t` on a good file and on bad ones (exit code, `file:line: key` in the message, and the
/// same verdict as nutcracker's `-t` when it is installed); `-V`; `-D`.
#[test]
fn cli_test_config_version_and_describe() {
    let (out, path) = run_proxy_cli(BIN, "good.yml", GOOD, &["-t"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("configuration file '{path}' syntax is ok")),
        "{err}"
    );

    // (file text, the line the error must name, the key, a word of the message)
    let bad: &[(&str, &str, &str, &str)] = &[
        (
            "a:\n  listen: 127.0.0.1:22121\n  hash: nope\n  servers:\n   - 127.0.0.1:6379:1\n",
            ":3:",
            "key 'hash'",
            "unknown hash 'nope'",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  distribution: round\n  servers:\n   - 127.0.0.1:6379:1\n",
            ":3:",
            "key 'distribution'",
            "round",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  redis: true\n  foo: bar\n  servers:\n   - 127.0.0.1:6379:1\n",
            ":4:",
            "key 'foo'",
            "unknown key",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  servers:\n   - 127.0.0.1:6379:1\n   - 127.0.0.1:6380:0\n",
            ":5:",
            "key 'servers'",
            "weight 0",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  redis: true\n",
            ":1:",
            "key 'servers'",
            "no servers",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  redis: yes\n  servers:\n   - 127.0.0.1:6379:1\n",
            ":3:",
            "key 'redis'",
            "yes",
        ),
    ];
    let nutcracker = testkit::proxy::require_backend_tool("nutcracker", "nutcracker");
    for (text, line, key, word) in bad {
        let (out, path) = run_proxy_cli(BIN, "bad.yml", text, &["-t"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "-t on {text:?}: {err}");
        let want = format!("{path}{line} {key}");
        assert!(
            err.contains(&want),
            "-t on {text:?}: want {want:?} in {err}"
        );
        assert!(err.contains(word), "-t on {text:?}: want {word:?} in {err}");
        assert!(
            err.contains(&format!("configuration file '{path}' syntax is invalid")),
            "{err}"
        );
        if let Some(nc) = &nutcracker {
            let dir = testkit::TempDir::new("nc-t");
            let f = dir.path().join("bad.yml");
            std::fs::write(&f, text).unwrap();
            let o = testkit::run_with_timeout(
                std::process::Command::new(nc).arg("-t").arg("-c").arg(&f),
                Duration::from_secs(10),
            );
            assert_eq!(o.status.code(), Some(1), "nutcracker -t accepts {text:?}");
        }
    }
    // A tab in the indentation: invalid, and the message says why.
    let (out, _) = run_proxy_cli(
        BIN,
        "tab.yml",
        "a:\n  listen: 127.0.0.1:22121\n\tredis: true\n  servers:\n   - 127.0.0.1:6379:1\n",
        &["-t"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("tab") && err.contains("syntax is invalid"),
        "{err}"
    );
    // A missing file.
    let out = testkit::run_with_timeout(
        std::process::Command::new(BIN).args(["proxy", "-t", "-c", "/nonexistent/x.yml"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // nutcracker prints these on stderr; either stream will do.
    let both = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let (out, _) = run_proxy_cli(BIN, "good.yml", GOOD, &["-V"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        text.contains("rcache proxy-") && text.contains("twemproxy"),
        "{text}"
    );
    let (out, _) = run_proxy_cli(BIN, "good.yml", GOOD, &["-D"]);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for f in [
        "client_eof",
        "server_ejects",
        "forward_error",
        "requests",
        "server_timedout",
    ] {
        assert!(text.contains(f), "-D lacks {f}: {text}");
    }
}

/// `listen: 127.0.0.1:0` binds any free port, and `--ports-file` says which (the pool's,
/// the stats port's, the metrics address's), also after a reload.
#[test]
fn listen_port_zero_and_the_ports_file() {
    let Some(backends) = redis_backends(1) else {
        return;
    };
    let servers = server_lines(&backends, &[1], None);
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true")], &servers);
    let proxy = ProxyProcess::builder(BIN, yaml)
        .listen(ListenMode::PortZero)
        .metrics()
        .start();
    assert_eq!(proxy.listen(), "127.0.0.1:0");
    let addr = proxy.pool_addr("p");
    assert_ne!(addr.port(), 0);
    assert_ne!(proxy.stats_addr().port(), 0);
    assert_ne!(proxy.metrics_addr().port(), 0);
    let mut c = proxy.raw();
    assert_eq!(cmd(&mut c, &["SET", "z", "1"]), Resp::Simple("OK".into()));
    assert_eq!(backends[0].dbsize(), 1);
    // A reload of the same file keeps the bound port (no rebind), and the connection.
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 200, "{body}");
    proxy.refresh_ports();
    assert_eq!(proxy.pool_addr("p"), addr);
    assert_eq!(cmd(&mut c, &["GET", "z"]).bulk().as_deref(), Some("1"));
}

/// Was a bug (fixed): two pools both on `127.0.0.1:0` were refused as "the same listen
/// address", though port 0 never collides (each gets its own free port). One proxy serving a
/// Redis pool and a memcached pool, both on port 0, each pool to its own backends.
#[test]
fn two_pools_on_port_zero_redis_and_memcached() {
    let Some(rs) = redis_backends(2) else { return };
    let Some(ms) = memcached_backends(2) else {
        return;
    };
    let (rl, ml) = (
        server_lines(&rs, &[1, 1], None),
        server_lines(&ms, &[1, 1], None),
    );
    let yaml = |l: &str| {
        format!(
            "{}{}",
            pool_yaml("r", l, &[("redis", "true")], &rl),
            pool_yaml("m", l, &[], &ml)
        )
    };
    let (out, path) = run_proxy_cli(BIN, "two.yml", &yaml(testkit::proxy::PROXY_LISTEN), &["-t"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "-t refuses two pools on port 0 ({path}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let proxy = ProxyProcess::builder(BIN, yaml).start();
    let (ra, ma) = (proxy.pool_addr("r"), proxy.pool_addr("m"));
    assert_ne!(ra, ma);
    let mut c = RawConn::connect(ra);
    let keys: Vec<String> = (0..40).map(|i| format!("two:{i}.x")).collect();
    write_all(&mut c, &keys, val, "pool r");
    assert_eq!(dbsizes(&rs).iter().sum::<i64>(), 40);
    let mut m = McConn::connect(ma);
    assert_eq!(m.request("set two 0 0 2\r\nmc\r\n"), "STORED\r\n");
    assert_eq!(m.request("get two\r\n"), "VALUE two 0 2\r\nmc\r\nEND\r\n");
    assert_eq!(cmd(&mut c, &["GET", "two"]), Resp::Bulk(None));
}

/// A pool listening on a unix socket (`path perm`) in front of a redis-server's unix socket
/// (`/path.sock:1 name`), with `preconnect`, `server_connections: 2`, a pid file (`-p`,
/// removed at exit) and a log file (`-o`); SIGTERM ends it with status 0.
#[test]
fn unix_sockets_pid_file_and_log_file() {
    use std::io::{Read, Write};
    let dir = testkit::TempDir::new("proxy-unix");
    let backend_sock = dir.path().join("r.sock");
    let Some(backend) = Backend::redis_with(&[
        "--unixsocket",
        &backend_sock.display().to_string(),
        "--unixsocketperm",
        "700",
    ]) else {
        return;
    };
    let listen_sock = dir.path().join("p.sock");
    let (pid_file, log_file) = (dir.path().join("proxy.pid"), dir.path().join("proxy.log"));
    let yaml = |_: &str| {
        pool_yaml(
            "u",
            &format!("{} 0600", listen_sock.display()),
            &[
                ("redis", "true"),
                ("preconnect", "true"),
                ("server_connections", "2"),
            ],
            &[format!("{}:1 unixy", backend_sock.display())],
        )
    };
    let proxy = ProxyProcess::builder(BIN, yaml)
        .threads(2)
        .arg("-p")
        .arg(pid_file.display().to_string())
        .arg("-o")
        .arg(log_file.display().to_string())
        .start();
    assert_eq!(
        proxy.bound("u").as_deref(),
        Some(listen_sock.to_str().unwrap())
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&listen_sock)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "socket permissions");
    let pid = std::fs::read_to_string(&pid_file).expect("the pid file");
    assert_eq!(pid.trim(), proxy.pid().to_string());
    // preconnect: connections to the backend before any request (2 workers x 2).
    wait_stats(
        &proxy,
        "preconnected server connections",
        Duration::from_secs(5),
        |v| (num(v, &["u", "unixy", "server_connections"]) >= 2).then_some(()),
    );
    let mut s =
        std::os::unix::net::UnixStream::connect(&listen_sock).expect("connect the pool's socket");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&testkit::resp(&["SET", "u", "1"])).unwrap();
    s.write_all(&testkit::resp(&["GET", "u"])).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < b"+OK\r\n$1\r\n1\r\n".len() {
        let n = s.read(&mut buf).expect("read the replies");
        assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"+OK\r\n$1\r\n1\r\n");
    assert_eq!(backend.dbsize(), 1);
    assert!(
        std::fs::read_to_string(&log_file)
            .unwrap_or_default()
            .contains("listens on"),
        "the log file: {:?}",
        std::fs::read_to_string(&log_file)
    );
    proxy.sigterm();
    let st = proxy
        .wait_exit(Duration::from_secs(10))
        .expect("exit on SIGTERM");
    assert!(st.success(), "{st}");
    assert!(!pid_file.exists(), "the pid file is left behind");
}

// ---------------------------------------------------------------------------------------
// Placement: the same as nutcracker's
// ---------------------------------------------------------------------------------------

/// 500 keys of assorted shapes (short, long, binary-ish, with braces).
fn placement_keys() -> Vec<String> {
    // fnv1a_64 (nutcracker's default) puts keys that differ only in their last bytes close
    // together on the ring: most shapes end with something after the number, so that every
    // backend gets keys whatever its port.
    (0..500)
        .map(|i| match i % 5 {
            0 => format!("key:{i}"),
            1 => format!("{i}:id"),
            2 => format!("long-{}-{i}-end", "x".repeat(i % 97 + 40)),
            3 => format!("sp ace ü {i} ü"),
            _ => format!("obj{{{i}}}:{i}:field"),
        })
        .collect()
}

/// Write `keys` through nutcracker and read them through the proxy, then the other way
/// round (backends flushed in between): every key found both times, and each key on the
/// same backend both times.
fn placement_case(
    opts: &[(&str, &str)],
    weights: &[u32],
    names: Option<&[&str]>,
    keys: Vec<String>,
) -> Option<BTreeMap<String, usize>> {
    let backends = redis_backends(3)?;
    let servers = server_lines(&backends, weights, names);
    let mut all_opts = vec![("redis", "true")];
    all_opts.extend_from_slice(opts);
    let yaml = |listen: &str| pool_yaml("p", listen, &all_opts, &servers);
    let nc = Nutcracker::start(yaml)?;
    let proxy = ProxyProcess::builder(BIN, yaml).threads(2).start();
    let cfg = yaml("LISTEN");

    // nutcracker writes, the proxy reads.
    write_all(&mut nc.raw(), &keys, val, "nutcracker");
    let by_nc = locate(&backends);
    assert_eq!(by_nc.len(), keys.len(), "{cfg}");
    let sizes = dbsizes(&backends);
    assert!(
        sizes.iter().all(|&n| n > 0),
        "a backend got no key from nutcracker: {sizes:?}\n{cfg}"
    );
    let bad = read_all(&mut proxy.raw(), &keys, val);
    assert!(
        bad.is_empty(),
        "{} of {} keys written through nutcracker are not found through the proxy; first: {:?} \
         (held by backend {:?})\n{cfg}",
        bad.len(),
        keys.len(),
        bad.first(),
        bad.first().map(|(k, _)| by_nc[k])
    );

    // The proxy writes, nutcracker reads.
    for b in &backends {
        b.flush();
    }
    write_all(&mut proxy.raw(), &keys, val, "the proxy");
    let by_proxy = locate(&backends);
    let moved: Vec<_> = by_nc
        .iter()
        .filter(|(k, b)| by_proxy.get(*k) != Some(b))
        .take(5)
        .collect();
    assert!(
        moved.is_empty(),
        "keys placed differently (key, nutcracker's backend) vs proxy {:?}: {moved:?}\n{cfg}",
        moved
            .iter()
            .map(|(k, _)| by_proxy.get(*k))
            .collect::<Vec<_>>()
    );
    let bad = read_all(&mut nc.raw(), &keys, val);
    assert!(
        bad.is_empty(),
        "nutcracker misses keys the proxy wrote: {:?}\n{cfg}",
        &bad[..bad.len().min(5)]
    );
    Some(by_proxy)
}

#[test]
fn placement_ketama_fnv1a_64_matches_nutcracker() {
    placement_case(
        &[("hash", "fnv1a_64"), ("distribution", "ketama")],
        &[1, 1, 1],
        None,
        placement_keys(),
    );
}

#[test]
fn placement_ketama_md5_weighted_matches_nutcracker() {
    placement_case(
        &[("hash", "md5"), ("distribution", "ketama")],
        &[1, 2, 3],
        None,
        placement_keys(),
    );
}

#[test]
fn placement_ketama_murmur_named_servers_matches_nutcracker() {
    placement_case(
        &[("hash", "murmur"), ("distribution", "ketama")],
        &[1, 1, 1],
        Some(&["alpha", "beta", "gamma"]),
        placement_keys(),
    );
}

#[test]
fn placement_modula_crc32a_matches_nutcracker() {
    placement_case(
        &[("hash", "crc32a"), ("distribution", "modula")],
        &[1, 1, 1],
        None,
        placement_keys(),
    );
}

#[test]
fn placement_modula_hsieh_named_weighted_matches_nutcracker() {
    placement_case(
        &[("hash", "hsieh"), ("distribution", "modula")],
        &[2, 1, 1],
        Some(&["red", "green", "blue"]),
        placement_keys(),
    );
}

/// `hash_tag: "{}"`: keys with the same tag on the same server, placed as nutcracker does,
/// including keys without a tag, with an empty tag or an unclosed one.
#[test]
fn placement_hash_tag_matches_nutcracker() {
    let mut keys = Vec::new();
    for i in 0..100 {
        // Tags `{42}` and, spread wider over the ring (see placement_keys), `{42.id}`.
        let tag = if i < 50 {
            format!("{i}")
        } else {
            format!("{i}.id")
        };
        keys.push(format!("user:{{{tag}}}:a"));
        keys.push(format!("user:{{{tag}}}:b"));
        keys.push(format!("{{{tag}}}.c"));
    }
    for i in 0..50 {
        keys.push(format!("plain:{i}:p"));
        keys.push(format!("empty{{}}tag:{i}:e"));
        keys.push(format!("open{{only:{i}:o"));
        keys.push(format!("{{a{i}.x}}{{b}}:{i}"));
    }
    let Some(at) = placement_case(
        &[
            ("hash", "fnv1a_64"),
            ("distribution", "ketama"),
            ("hash_tag", "\"{}\""),
        ],
        &[1, 1, 1],
        None,
        keys,
    ) else {
        return;
    };
    for i in 0..100 {
        let tag = if i < 50 {
            format!("{i}")
        } else {
            format!("{i}.id")
        };
        let a = at[&format!("user:{{{tag}}}:a")];
        assert_eq!(at[&format!("user:{{{tag}}}:b")], a, "tag {tag}");
        assert_eq!(at[&format!("{{{tag}}}.c")], a, "tag {tag}");
    }
}

/// With `hash_tag`, multi-key commands over one tag work whatever they are (RENAME,
/// SUNIONSTORE), and over tags on different servers they get CROSSSLOT.
#[test]
fn hash_tag_colocates_multi_key_commands() {
    let Some(backends) = redis_backends(3) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1, 1], None);
    let yaml = |l: &str| {
        pool_yaml(
            "p",
            l,
            &[("redis", "true"), ("hash_tag", "\"{}\"")],
            &servers,
        )
    };
    let proxy = ProxyProcess::builder(BIN, yaml).start();
    let mut c = proxy.raw();
    // Tags on different servers.
    // (fnv1a_64 puts keys that differ only in their last bytes close together on the ring,
    // in nutcracker too: the varying part is not last.)
    let tags: Vec<String> = (0..30).map(|i| format!("t{i}.tag")).collect();
    for t in &tags {
        assert_eq!(
            cmd(&mut c, &["SET", &format!("{{{t}}}:x"), "1"]),
            Resp::Simple("OK".into())
        );
    }
    let at = locate(&backends);
    let (a, b) = {
        let first = &tags[0];
        let other = tags
            .iter()
            .find(|t| at[&format!("{{{t}}}:x")] != at[&format!("{{{first}}}:x")])
            .expect("30 tags on one server");
        (first.clone(), other.clone())
    };
    let r = cmd(
        &mut c,
        &["RENAME", &format!("{{{a}}}:x"), &format!("{{{a}}}:y")],
    );
    assert_eq!(r, Resp::Simple("OK".into()));
    assert_eq!(
        cmd(&mut c, &["GET", &format!("{{{a}}}:y")])
            .bulk()
            .as_deref(),
        Some("1")
    );
    let r = cmd(
        &mut c,
        &["RENAME", &format!("{{{a}}}:y"), &format!("{{{b}}}:y")],
    );
    assert_eq!(
        r,
        Resp::Error("CROSSSLOT Keys in request don't hash to the same server".into())
    );
    cmd(&mut c, &["SADD", &format!("{{{a}}}:s1"), "m1", "m2"]);
    cmd(&mut c, &["SADD", &format!("{{{a}}}:s2"), "m2", "m3"]);
    let r = cmd(
        &mut c,
        &[
            "SUNIONSTORE",
            &format!("{{{a}}}:u"),
            &format!("{{{a}}}:s1"),
            &format!("{{{a}}}:s2"),
        ],
    );
    assert_eq!(r, Resp::Int(3));
    let r = cmd(
        &mut c,
        &["SUNIONSTORE", &format!("{{{a}}}:u"), &format!("{{{b}}}:s1")],
    );
    assert!(
        matches!(&r, Resp::Error(e) if e.starts_with("CROSSSLOT")),
        "{r:?}"
    );
    // The connection goes on.
    assert_eq!(cmd(&mut c, &["PING"]), Resp::Simple("PONG".into()));
}

// ---------------------------------------------------------------------------------------
// Redis pools: commands
// ---------------------------------------------------------------------------------------

/// MSET, MGET (order, nils, duplicates), EXISTS, TOUCH, DEL, UNLINK split over 3 servers
/// and merged; pipelined mixes come back in order; big values pass.
#[test]
fn multi_key_commands_split_and_merge() {
    let Some(backends) = redis_backends(3) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1, 1], None);
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true")], &servers);
    let proxy = ProxyProcess::builder(BIN, yaml).threads(2).start();
    let mut c = proxy.raw();
    let key = |i: usize| format!("mk:{i}.x");

    let mut mset = vec!["MSET".to_string()];
    for i in 0..150 {
        mset.push(key(i));
        mset.push(val(&key(i)));
    }
    assert_eq!(cmd(&mut c, &mset), Resp::Simple("OK".into()));
    let sizes = dbsizes(&backends);
    assert_eq!(sizes.iter().sum::<i64>(), 150, "{sizes:?}");
    assert!(
        sizes.iter().all(|&n| n > 0),
        "MSET did not reach every server: {sizes:?}"
    );

    // MGET of 200 keys (the last 50 missing), in order.
    let mut mget = vec!["MGET".to_string()];
    mget.extend((0..200).map(key));
    let got = cmd(&mut c, &mget).array();
    assert_eq!(got.len(), 200);
    for (i, r) in got.iter().enumerate() {
        let want = (i < 150).then(|| val(&key(i)));
        assert_eq!(r.bulk(), want, "MGET element {i}");
    }
    // Interleaved missing keys and duplicates.
    let got = cmd(
        &mut c,
        &[
            "MGET",
            &key(3),
            "nope:1",
            &key(3),
            &key(140),
            "nope:2",
            &key(0),
        ],
    )
    .array();
    let got: Vec<Option<String>> = got.iter().map(Resp::bulk).collect();
    assert_eq!(
        got,
        vec![
            Some(val(&key(3))),
            None,
            Some(val(&key(3))),
            Some(val(&key(140))),
            None,
            Some(val(&key(0)))
        ]
    );

    // EXISTS counts (a key named twice counts twice), TOUCH.
    let r = cmd(
        &mut c,
        &[
            "EXISTS",
            &key(1),
            &key(1),
            "nope",
            &key(2),
            &key(149),
            &key(150),
        ],
    );
    assert_eq!(r, Resp::Int(4));
    let mut touch = vec!["TOUCH".to_string()];
    touch.extend((0..20).map(key));
    touch.push("nope".into());
    assert_eq!(cmd(&mut c, &touch), Resp::Int(20));

    // A pipeline mixing split and single-key commands: replies in request order.
    let cmds: Vec<Vec<String>> = vec![
        vec!["GET".into(), key(5)],
        mget[..11].to_vec(),
        vec!["SET".into(), "solo".into(), "1".into()],
        vec!["EXISTS".into(), key(6), key(7), "nope".into()],
        vec!["INCR".into(), "solo".into()],
        vec!["MGET".into(), "nope".into(), key(9)],
    ];
    let r = pipeline(&mut c, &cmds);
    assert_eq!(r[0].bulk(), Some(val(&key(5))));
    assert_eq!(r[1].array().len(), 10);
    assert_eq!(r[1].array()[9].bulk(), Some(val(&key(9))));
    assert_eq!(r[2], Resp::Simple("OK".into()));
    assert_eq!(r[3], Resp::Int(2));
    assert_eq!(r[4], Resp::Int(2));
    assert_eq!(
        r[5].array().iter().map(Resp::bulk).collect::<Vec<_>>(),
        vec![None, Some(val(&key(9)))]
    );

    // DEL sums over servers; UNLINK too.
    let mut del = vec!["DEL".to_string()];
    del.extend((0..100).map(key));
    del.extend((0..10).map(|i| format!("nope:{i}")));
    assert_eq!(cmd(&mut c, &del), Resp::Int(100));
    let mut unlink = vec!["UNLINK".to_string()];
    unlink.extend((100..150).map(key));
    assert_eq!(cmd(&mut c, &unlink), Resp::Int(50));
    assert_eq!(
        dbsizes(&backends).iter().sum::<i64>(),
        1,
        "only `solo` is left"
    );

    // An error from a backend is relayed as it is.
    let r = cmd(&mut c, &["LPUSH", "solo", "x"]);
    assert!(
        matches!(&r, Resp::Error(e) if e.starts_with("WRONGTYPE")),
        "{r:?}"
    );
    // A value bigger than any buffer, both ways.
    let big: String = (0..(3 << 20))
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    assert_eq!(
        cmd(&mut c, &["SET", "big", &big]),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        cmd(&mut c, &["GET", "big"]).bulk().as_deref(),
        Some(big.as_str())
    );
    // An inline command.
    c.send(b"PING\r\n");
    assert_eq!(c.reply(), "+PONG\r\n");

    // The split commands were counted as fragments.
    wait_stats(&proxy, "fragments > 0", Duration::from_secs(5), |v| {
        (num(v, &["p", "fragments"]) > 0).then_some(())
    });
}

/// Keyless, blocking, transaction and pub/sub commands are refused with an error and the
/// connection goes on; PING, ECHO and QUIT are answered by the proxy; unknown commands and
/// wrong arity are errors; multi-key commands other than the split ones get CROSSSLOT when
/// their keys are on different servers.
#[test]
fn refused_local_and_crossslot_commands() {
    let Some(backends) = redis_backends(3) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1, 1], None);
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true")], &servers);
    let proxy = ProxyProcess::builder(BIN, yaml).start();
    let mut c = proxy.raw();

    assert_eq!(cmd(&mut c, &["PING"]), Resp::Simple("PONG".into()));
    assert_eq!(
        cmd(&mut c, &["PING", "hi there"]).bulk().as_deref(),
        Some("hi there")
    );
    assert_eq!(
        cmd(&mut c, &["ECHO", "echo me"]).bulk().as_deref(),
        Some("echo me")
    );
    let requests_before: u64 = {
        let v = json(&proxy.stats_json());
        v["p"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|s| s.get("requests"))
            .filter_map(Value::as_u64)
            .sum()
    };

    let refused: &[&[&str]] = &[
        &["KEYS", "*"],
        &["INFO"],
        &["FLUSHALL"],
        &["FLUSHDB"],
        &["SCAN", "0"],
        &["CONFIG", "GET", "maxmemory"],
        &["DBSIZE"],
        &["RANDOMKEY"],
        &["BLPOP", "l", "0"],
        &["BRPOP", "l", "1"],
        &["MULTI"],
        &["EXEC"],
        &["WATCH", "k"],
        &["SUBSCRIBE", "ch"],
        &["PUBLISH", "ch", "m"],
    ];
    for args in refused {
        let r = cmd(&mut c, args);
        match &r {
            Resp::Error(e) => assert!(
                e.starts_with("ERR ") && e.contains("not supported through the proxy"),
                "{args:?}: {e}"
            ),
            o => panic!("{args:?} should be refused, got {o:?}"),
        }
        assert_eq!(
            cmd(&mut c, &["PING"]),
            Resp::Simple("PONG".into()),
            "after {args:?}"
        );
    }
    let r = cmd(&mut c, &["NOSUCHCOMMAND", "a"]);
    assert!(
        matches!(&r, Resp::Error(e) if e.starts_with("ERR unknown command")),
        "{r:?}"
    );
    let r = cmd(&mut c, &["GET"]);
    assert_eq!(
        r,
        Resp::Error("ERR wrong number of arguments for 'get' command".into())
    );
    let r = cmd(&mut c, &["MSET", "a", "1", "b"]);
    assert!(
        matches!(&r, Resp::Error(e) if e.contains("wrong number of arguments")),
        "{r:?}"
    );
    // Nothing above reached a backend (the stats refresh every 100 ms: wait past one).
    std::thread::sleep(Duration::from_millis(250));
    let requests_after: u64 = {
        let v = json(&proxy.stats_json());
        v["p"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|s| s.get("requests"))
            .filter_map(Value::as_u64)
            .sum()
    };
    assert_eq!(
        requests_before, requests_after,
        "a refused or local command reached a backend"
    );

    // CROSSSLOT: keys on two servers for commands that are not split.
    let placed = keys_per_backend(&mut c, &backends, "cs:", 2);
    let a = placed.iter().find(|(_, b)| *b == 0).unwrap().0.clone();
    let a2 = placed
        .iter()
        .filter(|(_, b)| *b == 0)
        .nth(1)
        .unwrap()
        .0
        .clone();
    let b = placed.iter().find(|(_, b)| *b == 1).unwrap().0.clone();
    let crossslot = Resp::Error("CROSSSLOT Keys in request don't hash to the same server".into());
    assert_eq!(cmd(&mut c, &["RENAME", &a, &b]), crossslot);
    assert_eq!(cmd(&mut c, &["SINTERSTORE", &a, &a2, &b]), crossslot);
    assert_eq!(cmd(&mut c, &["PING"]), Resp::Simple("PONG".into()));
    // Same server: forwarded.
    assert_eq!(cmd(&mut c, &["RENAME", &a, &a2]), Resp::Simple("OK".into()));
    assert_eq!(cmd(&mut c, &["GET", &a2]).bulk(), Some(val(&a)));

    // QUIT: +OK, then the proxy closes the connection.
    assert_eq!(cmd(&mut c, &["QUIT"]), Resp::Simple("OK".into()));
    let rest = c.expect_closed(Duration::from_secs(5));
    assert_eq!(rest, "");
}

/// Was a bug (fixed): commands nutcracker 0.5.0 forwards must be forwarded too. The
/// proxy routes by rcache's own command table, so Redis commands the table lacked (GEO*,
/// PFADD / PFCOUNT / PFMERGE, LOLWUT, before rcache had them) got `-ERR unknown command`
/// although the backends are real Redis servers that support them.
#[test]
fn commands_nutcracker_forwards_are_forwarded() {
    let Some(backends) = redis_backends(2) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1], None);
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true")], &servers);
    let Some(nc) = Nutcracker::start(yaml) else {
        return;
    };
    let proxy = ProxyProcess::builder(BIN, yaml).start();
    let cmds: &[&[&str]] = &[
        &["GEOADD", "geo", "13.361389", "38.115556", "palermo"],
        &["GEODIST", "geo", "palermo", "palermo"],
        &["GEOHASH", "geo", "palermo"],
        &["GEOPOS", "geo", "palermo"],
        &["GEORADIUS", "geo", "13", "38", "200", "km"],
        &["GEORADIUSBYMEMBER", "geo", "palermo", "10", "km"],
        &[
            "GEOSEARCH",
            "geo",
            "FROMLONLAT",
            "13",
            "38",
            "BYRADIUS",
            "200",
            "km",
        ],
        &["PFADD", "hll", "a", "b", "c"],
        &["PFCOUNT", "hll"],
        &["PFMERGE", "hll", "hll"],
        // No key: both proxies send these to the server of the key "placeholder".
        &["LOLWUT"],
        &["COMMAND"],
    ];
    let (mut n, mut c) = (nc.raw(), proxy.raw());
    let mut refused = Vec::new();
    for args in cmds {
        let theirs = cmd(&mut n, args);
        assert!(!theirs.is_error(), "nutcracker: {args:?} -> {theirs:?}");
        let ours = cmd(&mut c, args);
        if ours.is_error() {
            refused.push(format!("{args:?} -> {ours:?} (nutcracker: {theirs:?})"));
        }
    }
    assert!(
        refused.is_empty(),
        "refused by the proxy, forwarded by nutcracker:\n{}",
        refused.join("\n")
    );
}

/// Was a bug (fixed): the pool's database is `redis_db` only — SELECT of another one is
/// refused — but MOVE and COPY ... DB n are forwarded and take keys out of the pool (to
/// another database of the backend, out of every client's reach). nutcracker does not
/// forward MOVE or COPY at all.
#[test]
fn keys_cannot_leave_the_pools_database() {
    let Some(backends) = redis_backends(1) else {
        return;
    };
    let servers = server_lines(&backends, &[1], None);
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true")], &servers);
    let proxy = ProxyProcess::builder(BIN, yaml).start();
    let mut c = proxy.raw();
    assert_eq!(
        cmd(&mut c, &["SET", "stay", "1"]),
        Resp::Simple("OK".into())
    );
    assert!(
        cmd(&mut c, &["SELECT", "1"]).is_error(),
        "SELECT 1 is refused"
    );
    let moved = cmd(&mut c, &["MOVE", "stay", "1"]);
    assert_eq!(
        cmd(&mut c, &["SET", "stay", "1"]),
        Resp::Simple("OK".into())
    );
    let copied = cmd(&mut c, &["COPY", "stay", "stay2", "DB", "1"]);
    let in_db1 = backends[0].dbsize_of(1);
    assert!(
        moved.is_error() && copied.is_error() && in_db1 == 0,
        "MOVE stay 1 -> {moved:?}; COPY stay stay2 DB 1 -> {copied:?}; keys in the backend's db 1: {in_db1}"
    );
    assert_eq!(cmd(&mut c, &["GET", "stay"]).bulk().as_deref(), Some("1"));
}

/// `redis_auth`: NOAUTH before AUTH, a wrong password refused (connection open), the right
/// one +OK; the proxy authenticates to the backends itself. `redis_db: 3`: the keys land
/// in database 3 of the backends; SELECT of another database is refused.
#[test]
fn redis_auth_and_redis_db() {
    let Some(b1) = Backend::redis_with(&["--requirepass", "s3cret"]) else {
        return;
    };
    let Some(b2) = Backend::redis_with(&["--requirepass", "s3cret"]) else {
        return;
    };
    let backends = [b1, b2];
    let servers = server_lines(&backends, &[1, 1], None);
    let yaml = |l: &str| {
        pool_yaml(
            "p",
            l,
            &[
                ("redis", "true"),
                ("redis_auth", "s3cret"),
                ("redis_db", "3"),
            ],
            &servers,
        )
    };
    let proxy = ProxyProcess::builder(BIN, yaml).start();
    let mut c = proxy.raw();
    // nutcracker's words; Redis adds a period. Either way clients match the prefix.
    let is_noauth =
        |r: &Resp| matches!(r, Resp::Error(e) if e.starts_with("NOAUTH Authentication required"));
    for args in [
        &["GET", "k"][..],
        &["SET", "k", "v"],
        &["PING"],
        &["MGET", "a", "b"],
    ] {
        let r = cmd(&mut c, args);
        assert!(is_noauth(&r), "{args:?} before AUTH: {r:?}");
    }
    let r = cmd(&mut c, &["AUTH", "wrong"]);
    assert!(r.is_error(), "AUTH wrong: {r:?}");
    let r = cmd(&mut c, &["GET", "k"]);
    assert!(is_noauth(&r), "still not authenticated: {r:?}");
    assert_eq!(cmd(&mut c, &["AUTH", "s3cret"]), Resp::Simple("OK".into()));
    let keys: Vec<String> = (0..60).map(|i| format!("a:{i}.x")).collect();
    write_all(&mut c, &keys, val, "the proxy");
    assert!(read_all(&mut c, &keys, val).is_empty());
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    assert_eq!(cmd(&mut c, &mget).array().len(), 60);
    // In database 3 of both backends, nothing in database 0.
    let in3: Vec<i64> = backends.iter().map(|b| b.dbsize_of(3)).collect();
    let in0: Vec<i64> = backends.iter().map(|b| b.dbsize_of(0)).collect();
    assert_eq!(in3.iter().sum::<i64>(), 60, "db 3: {in3:?}");
    assert!(in3.iter().all(|&n| n > 0), "{in3:?}");
    assert_eq!(in0, vec![0, 0]);
    assert_eq!(cmd(&mut c, &["SELECT", "3"]), Resp::Simple("OK".into()));
    assert!(cmd(&mut c, &["SELECT", "0"]).is_error());
    assert_eq!(cmd(&mut c, &["GET", "a:1.x"]).bulk(), Some(val("a:1.x")));
    // A new connection starts unauthenticated again.
    let r = cmd(&mut proxy.raw(), &["GET", "a:1.x"]);
    assert!(is_noauth(&r), "a new connection: {r:?}");
}

// ---------------------------------------------------------------------------------------
// Failures: dead, ejected, hung backends
// ---------------------------------------------------------------------------------------

/// Without auto-ejection a dead backend's keys get `-ERR <errno text>` (memcached:
/// `SERVER_ERROR <errno text>`) every time; the other backend's keys are unaffected; a
/// split command touching the dead one fails whole.
#[test]
fn dead_backend_gets_errno_text() {
    let Some(backends) = redis_backends(2) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1], None);
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true")], &servers);
    let proxy = ProxyProcess::builder(BIN, yaml).threads(1).start();
    let mut c = proxy.raw();
    let placed = keys_per_backend(&mut c, &backends, "d:", 10);
    backends[1].kill();
    let dead: Vec<&String> = placed
        .iter()
        .filter(|(_, b)| *b == 1)
        .map(|(k, _)| k)
        .collect();
    let live: Vec<&String> = placed
        .iter()
        .filter(|(_, b)| *b == 0)
        .map(|(k, _)| k)
        .collect();
    let mut replies = Vec::new();
    for (i, k) in dead.iter().take(10).enumerate() {
        let r = cmd(&mut c, &["GET", k]);
        match &r {
            // The first request may find the old connection reset before a reconnect is
            // refused.
            Resp::Error(e) if i == 0 => assert!(e.starts_with("ERR "), "{k}: {e}"),
            Resp::Error(e) => assert_eq!(e, "ERR Connection refused", "{k}"),
            o => panic!("GET {k} on a dead backend: {o:?}"),
        }
        replies.push(r);
        let l = live[i];
        assert_eq!(
            cmd(&mut c, &["GET", l]).bulk(),
            Some(val(l)),
            "a live backend's key"
        );
    }
    let r = cmd(&mut c, &["MGET", live[0], dead[0], live[1]]);
    assert_eq!(r, Resp::Error("ERR Connection refused".into()));
    assert_eq!(cmd(&mut c, &["PING"]), Resp::Simple("PONG".into()));
    wait_stats(&proxy, "forward_error >= 10", Duration::from_secs(5), |v| {
        (num(v, &["p", "forward_error"]) >= 10).then_some(())
    });

    // memcached pool.
    let Some(mcs) = memcached_backends(2) else {
        return;
    };
    let servers = server_lines(&mcs, &[1, 1], None);
    let yaml = |l: &str| pool_yaml("m", l, &[], &servers);
    let proxy = ProxyProcess::builder(BIN, yaml).threads(1).start();
    let mut m = McConn::connect(proxy.addr());
    let mut on1 = Vec::new();
    let mut on0 = Vec::new();
    for i in 0..40 {
        let k = format!("mc:{i}.x");
        assert_eq!(m.request(&format!("set {k} 0 0 1\r\nx\r\n")), "STORED\r\n");
        if mcs[1].mc().request(&format!("get {k}\r\n")) != "END\r\n" {
            on1.push(k);
        } else {
            on0.push(k);
        }
    }
    assert!(!on1.is_empty() && !on0.is_empty(), "{on0:?} {on1:?}");
    mcs[1].kill();
    for (i, k) in on1.iter().take(5).enumerate() {
        let r = m.request(&format!("get {k}\r\n"));
        if i > 0 {
            assert_eq!(r, "SERVER_ERROR Connection refused\r\n", "{k}");
        } else {
            assert!(r.starts_with("SERVER_ERROR "), "{k}: {r}");
        }
        assert_eq!(
            m.request(&format!("get {}\r\n", on0[0])),
            format!("VALUE {} 0 1\r\nx\r\nEND\r\n", on0[0])
        );
    }
    assert_eq!(
        m.request(&format!("set {} 0 0 1\r\ny\r\n", on1[0])),
        "SERVER_ERROR Connection refused\r\n"
    );
}

/// auto_eject_hosts, server_failure_limit: 2, server_retry_timeout: 1000: a killed
/// backend's keys get at most 2 errors, then are served by the live servers (the live
/// servers' keys unaffected throughout); restarted on its port, it receives its keys again
/// after the retry timeout.
#[test]
fn ejection_and_return_of_a_dead_backend() {
    let Some(backends) = redis_backends(3) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1, 1], None);
    let yaml = |l: &str| {
        pool_yaml(
            "p",
            l,
            &[
                ("redis", "true"),
                ("auto_eject_hosts", "true"),
                ("server_failure_limit", "2"),
                ("server_retry_timeout", "1000"),
                ("timeout", "2000"),
            ],
            &servers,
        )
    };
    let proxy = ProxyProcess::builder(BIN, yaml).threads(2).start();
    let mut c = proxy.raw();
    let placed = keys_per_backend(&mut c, &backends, "e:", 30);
    let on = |i: usize| -> Vec<String> {
        placed
            .iter()
            .filter(|(_, b)| *b == i)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let (dead, live): (Vec<String>, Vec<String>) = (on(1), [on(0), on(2)].concat());

    backends[1].kill();
    let killed = Instant::now();
    // Within one retry window (1 s): at most 2 errors for the dead server's keys, then the
    // live servers answer (nil: its data is gone).
    let mut errors = Vec::new();
    let mut ok_after_errors = 0;
    for (i, k) in dead.iter().enumerate() {
        let r = cmd(&mut c, &["GET", k]);
        match r {
            Resp::Error(e) => {
                assert!(e.starts_with("ERR "), "{k}: {e}");
                errors.push((killed.elapsed(), e));
            }
            Resp::Bulk(None) => ok_after_errors += 1,
            o => panic!("GET {k} after its server died: {o:?}"),
        }
        let l = &live[i % live.len()];
        assert_eq!(
            cmd(&mut c, &["GET", l]).bulk(),
            Some(val(l)),
            "live key {l} while ejecting"
        );
        if ok_after_errors >= 10 {
            break;
        }
    }
    // The 2nd error ejects it for 1 s: no 3rd error within that window (later ones are the
    // retries after it, on a slow machine).
    if errors.len() > 2 {
        let ejected = errors[1].0;
        assert!(
            errors[2..]
                .iter()
                .all(|(t, _)| *t >= ejected + Duration::from_millis(900)),
            "more than server_failure_limit errors within server_retry_timeout: {errors:?}"
        );
    }
    assert!(
        !errors.is_empty(),
        "a dead server's key got no error at all"
    );
    assert!(
        ok_after_errors >= 10,
        "the dead server's keys were not served elsewhere: {errors:?}"
    );
    // Writes of its keys go to the live servers now.
    let before: i64 = backends[0].dbsize() + backends[2].dbsize();
    for k in dead.iter().take(5) {
        assert_eq!(cmd(&mut c, &["SET", k, "moved"]), Resp::Simple("OK".into()));
        assert_eq!(cmd(&mut c, &["GET", k]).bulk().as_deref(), Some("moved"));
    }
    assert_eq!(backends[0].dbsize() + backends[2].dbsize(), before + 5);
    let v = wait_stats(&proxy, "server_ejects >= 1", Duration::from_secs(5), |v| {
        (num(v, &["p", "server_ejects"]) >= 1).then(|| v.clone())
    });
    assert!(
        num(&v, &["p", &backends[1].host_port(), "server_ejected_at"]) > 0,
        "{v}"
    );

    // Back on the same port: after the retry timeout its keys go to it again.
    backends[1].restart();
    let k0 = dead[0].clone();
    wait_for(
        "the restarted backend to receive its keys again",
        Duration::from_secs(15),
        || {
            let r = cmd(&mut c, &["SET", &k0, "back"]);
            assert!(
                r == Resp::Simple("OK".into()) || r.is_error(),
                "SET {k0}: {r:?}"
            );
            (backends[1].dbsize() > 0).then_some(())
        },
    );
    for k in &dead {
        assert_eq!(cmd(&mut c, &["SET", k, "home"]), Resp::Simple("OK".into()));
    }
    assert_eq!(
        backends[1].dbsize(),
        dead.len() as i64,
        "every key of the returned server on it"
    );
    for l in &live {
        assert_eq!(
            cmd(&mut c, &["GET", l]).bulk(),
            Some(val(l)),
            "live key {l} after the return"
        );
    }
}

/// `timeout: 300` and a hung backend (SIGSTOP): its keys get `-ERR Connection timed out`
/// (memcached: `SERVER_ERROR Connection timed out`) after about the timeout, the other
/// backend's keys answer meanwhile (also later in the same pipeline), and after SIGCONT the
/// backend serves again.
#[test]
fn timeout_on_a_hung_backend() {
    let Some(backends) = redis_backends(2) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1], None);
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true"), ("timeout", "300")], &servers);
    let proxy = ProxyProcess::builder(BIN, yaml).threads(2).start();
    let mut c = proxy.raw();
    let placed = keys_per_backend(&mut c, &backends, "t:", 3);
    let hung = placed.iter().find(|(_, b)| *b == 1).unwrap().0.clone();
    let fine = placed.iter().find(|(_, b)| *b == 0).unwrap().0.clone();

    backends[1].pause();
    let t0 = Instant::now();
    let r = cmd(&mut c, &["GET", &hung]);
    let took = t0.elapsed();
    assert_eq!(r, Resp::Error("ERR Connection timed out".into()));
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "timed out after {took:?} for timeout: 300"
    );
    // Another connection is served meanwhile.
    let mut other = proxy.raw();
    let t0 = Instant::now();
    let r = pipeline(
        &mut other,
        &[
            vec!["GET".to_string(), hung.clone()],
            vec!["GET".into(), fine.clone()],
        ],
    );
    assert_eq!(r[0], Resp::Error("ERR Connection timed out".into()));
    assert_eq!(r[1].bulk(), Some(val(&fine)));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    let t0 = Instant::now();
    assert_eq!(
        cmd(&mut proxy.raw(), &["GET", &fine]).bulk(),
        Some(val(&fine))
    );
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "a live backend's key took {:?}",
        t0.elapsed()
    );
    wait_stats(
        &proxy,
        "server_timedout >= 1",
        Duration::from_secs(5),
        |v| (num(v, &["p", &backends[1].host_port(), "server_timedout"]) >= 1).then_some(()),
    );

    backends[1].resume();
    wait_for(
        "the resumed backend to answer through the proxy",
        Duration::from_secs(10),
        || (cmd(&mut c, &["GET", &hung]).bulk() == Some(val(&hung))).then_some(()),
    );
    assert_eq!(cmd(&mut c, &["GET", &fine]).bulk(), Some(val(&fine)));

    // memcached pool: `SERVER_ERROR Connection timed out`.
    let Some(mcs) = memcached_backends(2) else {
        return;
    };
    let servers = server_lines(&mcs, &[1, 1], None);
    let proxy =
        ProxyProcess::builder(BIN, |l| pool_yaml("m", l, &[("timeout", "300")], &servers)).start();
    let mut m = McConn::connect(proxy.addr());
    let mut on = [Vec::new(), Vec::new()];
    for i in 0..40 {
        let k = format!("mt:{i}.x");
        assert_eq!(m.request(&format!("set {k} 0 0 1\r\nx\r\n")), "STORED\r\n");
        let i = usize::from(mcs[0].mc().request(&format!("get {k}\r\n")) == "END\r\n");
        on[i].push(k);
    }
    assert!(!on[0].is_empty() && !on[1].is_empty(), "{on:?}");
    mcs[1].pause();
    let t0 = Instant::now();
    assert_eq!(
        m.request(&format!("get {}\r\n", on[1][0])),
        "SERVER_ERROR Connection timed out\r\n"
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // A split get with a hung part fails whole; the connection goes on.
    let r = m.request(&format!("get {} {}\r\n", on[0][0], on[1][0]));
    assert_eq!(r, "SERVER_ERROR Connection timed out\r\n");
    assert_eq!(
        m.request(&format!("get {}\r\n", on[0][0])),
        format!("VALUE {} 0 1\r\nx\r\nEND\r\n", on[0][0])
    );
    mcs[1].resume();
    let k = on[1][0].clone();
    wait_for(
        "the resumed memcached to answer",
        Duration::from_secs(10),
        || {
            (m.request(&format!("get {k}\r\n")) == format!("VALUE {k} 0 1\r\nx\r\nEND\r\n"))
                .then_some(())
        },
    );
}

// ---------------------------------------------------------------------------------------
// Reload and rebalancing
// ---------------------------------------------------------------------------------------

/// What one load thread saw.
#[derive(Default, Debug)]
struct Load {
    ops: u64,
    ops_after_reload: u64,
    errors: Vec<String>,
}

/// 2 → 3 servers by SIGHUP while 4 clients SET and GET on persistent connections: no error,
/// no dropped connection, and the new server receives keys.
#[test]
fn reload_under_load_adds_a_server() {
    let Some(backends) = redis_backends(3) else {
        return;
    };
    let two = server_lines(&backends[..2], &[1, 1], None);
    let three = server_lines(&backends, &[1, 1, 1], None);
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &[("redis", "true")], &two))
        .threads(2)
        .start();
    let addr = proxy.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let reloaded = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (stop, reloaded, total) = (stop.clone(), reloaded.clone(), total.clone());
            std::thread::spawn(move || {
                let mut load = Load::default();
                let mut c = RawConn::connect(addr);
                let mut i = 0u64;
                while !stop.load(Relaxed) {
                    let after = reloaded.load(Relaxed);
                    let k = format!("load:{t}:{i}.x");
                    let v = format!("{t}-{i}-{}", "x".repeat((i % 50) as usize));
                    // SET and GET in one write: both parsed against the same state.
                    let mut bytes = testkit::resp(&["SET", &k, &v]);
                    bytes.extend_from_slice(&testkit::resp(&["GET", &k]));
                    if let Err(e) = c.try_send(&bytes) {
                        load.errors.push(format!("send {k}: {e}"));
                        break;
                    }
                    let mut replies = Vec::new();
                    for _ in 0..2 {
                        match c.read_reply(Duration::from_secs(10)) {
                            Ok(r) => replies.push(String::from_utf8_lossy(&r).into_owned()),
                            Err(e) => {
                                load.errors
                                    .push(format!("read {k}: {e} (connection dropped?)"));
                                return load;
                            }
                        }
                    }
                    let want_get = format!("${}\r\n{v}\r\n", v.len());
                    if replies[0] != "+OK\r\n" || replies[1] != want_get {
                        load.errors.push(format!("{k}: {replies:?}"));
                    }
                    load.ops += 1;
                    if after {
                        load.ops_after_reload += 1;
                    }
                    total.fetch_add(1, Relaxed);
                    i += 1;
                }
                load
            })
        })
        .collect();
    wait_for("load before the reload", Duration::from_secs(10), || {
        (total.load(Relaxed) >= 400).then_some(())
    });
    assert_eq!(backends[2].dbsize(), 0);

    proxy.write_config(|l| pool_yaml("p", l, &[("redis", "true")], &three));
    proxy.sighup();
    reloaded.store(true, Relaxed);
    wait_for(
        "the third server to receive keys after SIGHUP",
        Duration::from_secs(10),
        || (backends[2].dbsize() > 0).then_some(()),
    );
    let at = total.load(Relaxed);
    // Keep going a while on the new configuration.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(1) || total.load(Relaxed) < at + 400 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "load stalled after the reload"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Relaxed);
    let loads: Vec<Load> = threads
        .into_iter()
        .map(|t| t.join().expect("load thread"))
        .collect();
    for (t, l) in loads.iter().enumerate() {
        assert!(
            l.errors.is_empty(),
            "thread {t}: {} errors, first {:?}\n{}",
            l.errors.len(),
            &l.errors[..l.errors.len().min(5)],
            proxy.log()
        );
        assert!(
            l.ops_after_reload > 0,
            "thread {t} did nothing after the reload: {l:?}"
        );
    }
    assert!(proxy.log().contains("reloaded"), "{}", proxy.log());
    let v = json(&proxy.stats_json());
    assert!(
        v["p"].get(backends[2].host_port()).is_some(),
        "the new server is not in the stats: {v}"
    );
    assert!(proxy.try_wait().is_none(), "the proxy exited");
}

/// A reload with a broken file (POST /reload → 422, SIGHUP → logged) changes nothing: the
/// running configuration keeps serving; a good file then reloads (200).
#[test]
fn broken_reload_is_rejected_and_the_old_config_serves() {
    let Some(backends) = redis_backends(2) else {
        return;
    };
    let one = server_lines(&backends[..1], &[1], None);
    let two = server_lines(&backends, &[1, 1], None);
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &[("redis", "true")], &one))
        .metrics()
        .start();
    let mut c = proxy.raw();
    let keys: Vec<String> = (0..50).map(|i| format!("b:{i}")).collect();
    write_all(&mut c, &keys, val, "the proxy");
    assert_eq!(backends[0].dbsize(), 50);

    proxy.write_config(|l| pool_yaml("p", l, &[("redis", "true"), ("hash", "nope")], &two));
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("reload rejected") && body.contains("proxy.yml:4") && body.contains("nope"),
        "{body}"
    );
    assert!(
        read_all(&mut c, &keys, val).is_empty(),
        "the old configuration stopped serving"
    );
    proxy.sighup();
    wait_for(
        "SIGHUP's rejection in the log",
        Duration::from_secs(5),
        || proxy.log().contains("reload rejected").then_some(()),
    );
    assert!(read_all(&mut c, &keys, val).is_empty());
    assert!(
        read_all(&mut proxy.raw(), &keys, val).is_empty(),
        "a new connection"
    );
    assert_eq!(
        backends[1].dbsize(),
        0,
        "the rejected file's server was used"
    );
    // YAML that does not parse at all: rejected too.
    proxy.write_config(|l| format!("p:\n  listen: {l}\n  servers: [a\n"));
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 422, "{body}");

    proxy.write_config(|l| pool_yaml("p", l, &[("redis", "true")], &two));
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 200, "{body}");
    assert!(body.starts_with("reloaded: "), "{body}");
    let more: Vec<String> = (0..50).map(|i| format!("b2:{i}.x")).collect();
    write_all(&mut c, &more, val, "the proxy");
    assert!(backends[1].dbsize() > 0, "the reloaded server gets no key");
    // GET /metrics, /stats; anything else 404.
    let (code, body) = proxy.http("GET", "/metrics");
    assert_eq!(code, 200);
    assert!(
        body.contains("rcache_proxy_") && body.contains("# TYPE"),
        "{body}"
    );
    let (code, body) = proxy.http("GET", "/stats");
    assert_eq!(code, 200);
    assert!(json(&body)["p"].is_object(), "{body}");
    assert_eq!(proxy.http("GET", "/nope").0, 404);
}

/// `rebalance: true`, 3 → 6 servers with 3,000 keys (strings, some with a TTL, hashes,
/// lists): every key readable through the proxy with its value and type while keys move;
/// writes made during the move are never overwritten by the mover; afterwards each key is
/// exactly once on the backends (DBSIZE sums to 3,000), on its new server, TTLs kept.
#[test]
fn rebalance_moves_every_key_without_losing_or_overwriting() {
    let Some(backends) = redis_backends(6) else {
        return;
    };
    let three = server_lines(&backends[..3], &[1, 1, 1], None);
    let six = server_lines(&backends, &[1; 6], None);
    let opts = [
        ("redis", "true"),
        ("rebalance", "true"),
        ("rebalance_rate", "500"),
    ];
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &opts, &three))
        .metrics()
        .threads(2)
        .start();
    let mut c = proxy.raw();
    let s = |i: usize| format!("s:{i}.s");
    let h = |i: usize| format!("h:{i}.h");
    let l = |i: usize| format!("l:{i}.l");
    // 2,800 strings (every 10th with EX 100), 100 hashes, 100 lists.
    let mut cmds: Vec<Vec<String>> = Vec::new();
    for i in 0..2800 {
        let mut a = vec!["SET".to_string(), s(i), val(&s(i))];
        if i % 10 == 0 {
            a.extend(["EX".into(), "100".into()]);
        }
        cmds.push(a);
    }
    for i in 0..100 {
        cmds.push(vec![
            "HSET".into(),
            h(i),
            "f1".into(),
            format!("a{i}"),
            "f2".into(),
            format!("b{i}"),
        ]);
        cmds.push(vec![
            "RPUSH".into(),
            l(i),
            format!("x{i}"),
            format!("y{i}"),
            format!("z{i}"),
        ]);
    }
    for chunk in cmds.chunks(200) {
        for r in pipeline(&mut c, chunk) {
            assert!(!r.is_error(), "{r:?}");
        }
    }
    assert_eq!(dbsizes(&backends).iter().sum::<i64>(), 3000);
    assert_eq!(dbsizes(&backends[3..]), vec![0, 0, 0]);

    let check_all = |c: &mut RawConn, new_upto: usize| -> Vec<String> {
        let mut bad = Vec::new();
        let mut reqs: Vec<Vec<String>> = (0..2800).map(|i| vec!["GET".to_string(), s(i)]).collect();
        reqs.extend((0..100).map(|i| vec!["HGETALL".to_string(), h(i)]));
        reqs.extend((0..100).map(|i| vec!["LRANGE".to_string(), l(i), "0".into(), "-1".into()]));
        let mut got = Vec::new();
        for chunk in reqs.chunks(100) {
            got.extend(pipeline(c, chunk));
        }
        for (i, r) in got.iter().enumerate().take(2800) {
            let want = if i < new_upto {
                format!("new:{i}")
            } else {
                val(&s(i))
            };
            if r.bulk().as_deref() != Some(want.as_str()) {
                bad.push(format!("GET {}: {r:?}", s(i)));
            }
        }
        for i in 0..100 {
            let hv: Vec<String> = got[2800 + i].array().iter().map(Resp::text).collect();
            let mut pairs: Vec<(String, String)> =
                hv.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
            pairs.sort();
            if pairs
                != vec![
                    ("f1".into(), format!("a{i}")),
                    ("f2".into(), format!("b{i}")),
                ]
            {
                bad.push(format!("HGETALL {}: {hv:?}", h(i)));
            }
            let lv: Vec<String> = got[2900 + i].array().iter().map(Resp::text).collect();
            if lv != vec![format!("x{i}"), format!("y{i}"), format!("z{i}")] {
                bad.push(format!("LRANGE {}: {lv:?}", l(i)));
            }
        }
        bad
    };

    proxy.write_config(|lsn| pool_yaml("p", lsn, &opts, &six));
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 200, "{body}");
    let (_, st) = proxy.http("GET", "/stats");
    let active_at_start = num(&json(&st), &["p", "rebalance_active"]);
    // Writes right after the reload, while the mover runs: never overwritten by it.
    let writes: Vec<Vec<String>> = (0..200)
        .map(|i| vec!["SET".to_string(), s(i), format!("new:{i}")])
        .collect();
    for r in pipeline(&mut c, &writes) {
        assert_eq!(r, Resp::Simple("OK".into()));
    }
    let bad = check_all(&mut c, 200);
    let (_, st) = proxy.http("GET", "/stats");
    let during = json(&st);
    assert!(
        bad.is_empty(),
        "{} of 3000 keys wrong right after the reload (rebalance_active at start {active_at_start}); first: {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    eprintln!(
        "rebalance: active at start {active_at_start}; after the first full read: active {}, moved {}, fallbacks {}",
        num(&during, &["p", "rebalance_active"]),
        num(&during, &["p", "rebalance_moved"]),
        num(&during, &["p", "rebalance_fallbacks"])
    );
    assert_eq!(
        active_at_start, 1,
        "the mover was not running right after the reload"
    );

    // Wait for the mover to finish.
    let t0 = Instant::now();
    let done = wait_for(
        "rebalance_active to drop to 0",
        Duration::from_secs(25),
        || {
            let (_, st) = proxy.http("GET", "/stats");
            let v = json(&st);
            (num(&v, &["p", "rebalance_active"]) == 0).then_some(v)
        },
    );
    eprintln!(
        "rebalance finished {:?} after the first full read",
        t0.elapsed()
    );
    let sizes = dbsizes(&backends);
    assert_eq!(
        sizes.iter().sum::<i64>(),
        3000,
        "keys duplicated or lost: {sizes:?}"
    );
    assert!(
        sizes[3..].iter().all(|&n| n > 0),
        "a new server got nothing: {sizes:?}"
    );
    assert!(num(&done, &["p", "rebalance_moved"]) > 0, "{done}");
    // Every key found through the proxy now that it routes by the new ring alone: each
    // key is on its new server (and, with the sum above, only there).
    let bad = check_all(&mut c, 200);
    assert!(
        bad.is_empty(),
        "{} keys wrong after the move; first: {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    // How many of the rewritten keys were moved (the write check means something).
    let at = locate(&backends);
    let moved_writes = (0..200).filter(|&i| at[&s(i)] >= 3).count();
    assert!(moved_writes > 0, "no rewritten key moved to a new server");
    // TTLs kept (every 10th string), none added elsewhere.
    let ttls: Vec<Vec<String>> = (0..2800)
        .step_by(5)
        .map(|i| vec!["TTL".to_string(), s(i)])
        .collect();
    for (j, r) in pipeline(&mut c, &ttls).iter().enumerate() {
        let i = j * 5;
        let t = r.int();
        if i % 10 == 0 && i >= 200 {
            assert!(t > 0 && t <= 100, "TTL {} = {t} after the move", s(i));
        } else {
            // Rewritten by SET (TTL cleared) or never had one.
            assert_eq!(t, -1, "TTL {}", s(i));
        }
    }
    let (_, st) = proxy.http("GET", "/stats");
    eprintln!("rebalance stats: {st}");
}

/// Rebalancing with `redis_auth` and `redis_db` (the mover's DUMP / RESTORE / SCAN run in
/// the pool's database), and a second reload while keys still move (3 → 5, then 5 → 4,
/// dropping a server that has just received keys): no key lost or duplicated, the dropped
/// server drained, nothing written outside the pool's database.
#[test]
fn rebalance_chained_reloads_with_auth_and_db() {
    let Some(backends) = (0..5)
        .map(|_| Backend::redis_with(&["--requirepass", "pw"]))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let opts = [
        ("redis", "true"),
        ("redis_auth", "pw"),
        ("redis_db", "2"),
        ("rebalance", "true"),
        ("rebalance_rate", "300"),
    ];
    let lines = server_lines(&backends, &[1; 5], None);
    let first: Vec<String> = lines[..3].to_vec();
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &opts, &first))
        .metrics()
        .start();
    let mut c = proxy.raw();
    assert_eq!(cmd(&mut c, &["AUTH", "pw"]), Resp::Simple("OK".into()));
    let keys: Vec<String> = (0..1500).map(|i| format!("ch:{i}.x")).collect();
    write_all(&mut c, &keys, val, "the proxy");
    let in_db = |db: u32| -> Vec<i64> { backends.iter().map(|b| b.dbsize_of(db)).collect() };
    assert_eq!(in_db(2).iter().sum::<i64>(), 1500);

    proxy.write_config(|l| pool_yaml("p", l, &opts, &lines));
    assert_eq!(proxy.post_reload().0, 200);
    // Some keys move to servers 3 and 4 (reads bring them over), then server 4 leaves.
    let bad = read_all(&mut c, &keys[..500], val);
    assert!(
        bad.is_empty(),
        "after 3 → 5: {:?}",
        &bad[..bad.len().min(5)]
    );
    let four: Vec<String> = lines[..4].to_vec();
    proxy.write_config(|l| pool_yaml("p", l, &opts, &four));
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 200, "{body}");
    let bad = read_all(&mut c, &keys, val);
    assert!(
        bad.is_empty(),
        "after 5 → 4, while moving: {} wrong, first {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    wait_for(
        "rebalance_active to drop to 0",
        Duration::from_secs(25),
        || {
            let (_, st) = proxy.http("GET", "/stats");
            (num(&json(&st), &["p", "rebalance_active"]) == 0).then_some(())
        },
    );
    let sizes = in_db(2);
    assert_eq!(
        sizes.iter().sum::<i64>(),
        1500,
        "keys lost or duplicated: {sizes:?}"
    );
    assert_eq!(
        sizes[4], 0,
        "the dropped server still holds keys: {sizes:?}"
    );
    assert!(sizes[3] > 0, "{sizes:?}");
    assert_eq!(in_db(0), vec![0; 5], "keys written outside redis_db");
    let bad = read_all(&mut c, &keys, val);
    assert!(
        bad.is_empty(),
        "after the move: {} wrong, first {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
}

/// A reload without rebalancing that removes a server and moves the pool to another
/// address: the old connection keeps being served (by the new servers), new connections go
/// to the new address, the ports file follows; SIGTERM then ends the proxy with status 0.
#[test]
fn reload_removes_a_server_and_changes_the_listen_address() {
    let Some(backends) = redis_backends(3) else {
        return;
    };
    let three = server_lines(&backends, &[1, 1, 1], None);
    let two = server_lines(&backends[..2], &[1, 1], None);
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &[("redis", "true")], &three))
        .metrics()
        .start();
    let old_addr = proxy.addr();
    let mut c = proxy.raw();
    let placed = keys_per_backend(&mut c, &backends, "rm:", 5);
    let new_port = testkit::proxy::free_port();
    proxy.write_config(|_| {
        pool_yaml(
            "p",
            &format!("127.0.0.1:{new_port}"),
            &[("redis", "true")],
            &two,
        )
    });
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 200, "{body}");
    proxy.refresh_ports();
    assert_eq!(
        proxy.addr().port(),
        new_port,
        "the ports file after the reload"
    );
    // The old connection: keys of the kept servers still there, the removed server's keys
    // now answered by the others (empty there: no rebalancing).
    for (k, b) in &placed {
        let r = cmd(&mut c, &["GET", k]);
        if *b == 2 {
            assert_eq!(r, Resp::Bulk(None), "{k} of the removed server");
        } else {
            assert_eq!(r.bulk(), Some(val(k)), "{k}");
        }
    }
    let mut n = RawConn::connect(proxy.addr());
    let r = cmd(&mut n, &["GET", &placed[0].0]);
    assert!(!r.is_error(), "a new connection on the new address: {r:?}");
    wait_for(
        "the old address to stop accepting",
        Duration::from_secs(5),
        || {
            std::net::TcpStream::connect_timeout(&old_addr, Duration::from_millis(200))
                .is_err()
                .then_some(())
        },
    );
    let before = backends[2].dbsize();
    write_all(
        &mut n,
        &placed
            .iter()
            .map(|(k, _)| format!("{k}.2"))
            .collect::<Vec<_>>(),
        val,
        "the new address",
    );
    assert_eq!(
        backends[2].dbsize(),
        before,
        "the removed server still receives keys"
    );
    proxy.sigterm();
    let st = proxy
        .wait_exit(Duration::from_secs(10))
        .expect("the proxy exits on SIGTERM");
    assert!(st.success(), "{st}\n{}", proxy.output());
}

// ---------------------------------------------------------------------------------------
// memcached pools
// ---------------------------------------------------------------------------------------

/// A memcached pool over 2 memcached: storage commands forwarded, noreply honoured, get /
/// gets of 50 keys split over both servers and merged in key order, local and refused
/// commands.
#[test]
fn memcached_pool_commands_and_split_get() {
    let Some(mcs) = memcached_backends(2) else {
        return;
    };
    let servers = server_lines(&mcs, &[1, 1], None);
    let yaml = |l: &str| {
        pool_yaml(
            "m",
            l,
            &[("hash", "fnv1a_64"), ("distribution", "ketama")],
            &servers,
        )
    };
    let proxy = ProxyProcess::builder(BIN, yaml).threads(2).start();
    let mut m = McConn::connect(proxy.addr());
    let k = |i: usize| format!("mk{i}.m");

    for i in 0..50 {
        let v = format!("v{i}");
        assert_eq!(
            m.request(&format!("set {} {i} 0 {}\r\n{v}\r\n", k(i), v.len())),
            "STORED\r\n"
        );
    }
    let on: Vec<usize> = (0..50)
        .map(|i| {
            if mcs[0].mc().request(&format!("get {}\r\n", k(i))) == "END\r\n" {
                1
            } else {
                0
            }
        })
        .collect();
    assert!(
        on.contains(&0) && on.contains(&1),
        "every key on one server: {on:?}"
    );
    // get of 50 keys plus missing ones: merged in key order under one END.
    let mut line = String::from("get");
    let mut want = String::new();
    for i in 0..50 {
        line.push_str(&format!(" {}", k(i)));
        want.push_str(&format!(
            "VALUE {} {i} {}\r\nv{i}\r\n",
            k(i),
            format!("v{i}").len()
        ));
        if i % 10 == 0 {
            line.push_str(&format!(" missing{i}"));
        }
    }
    want.push_str("END\r\n");
    assert_eq!(m.request(&format!("{line}\r\n")), want);
    // A key asked twice, on two servers: both blocks, in order.
    let a = (0..50).find(|&i| on[i] == 0).unwrap();
    let b = (0..50).find(|&i| on[i] == 1).unwrap();
    let r = m.request(&format!("get {} {} {}\r\n", k(a), k(b), k(a)));
    let block = |i: usize| format!("VALUE {} {i} {}\r\nv{i}\r\n", k(i), format!("v{i}").len());
    assert_eq!(r, format!("{}{}{}END\r\n", block(a), block(b), block(a)));
    // gets: cas values, merged too.
    let r = m.request(&format!("gets {} {}\r\n", k(a), k(b)));
    let lines: Vec<&str> = r.split("\r\n").collect();
    assert!(
        lines[0].starts_with(&format!("VALUE {} {a} ", k(a))) && lines[0].split(' ').count() == 5,
        "{r}"
    );
    assert!(
        lines[2].starts_with(&format!("VALUE {} {b} ", k(b))) && lines[2].split(' ').count() == 5,
        "{r}"
    );
    let cas_a: u64 = lines[0].split(' ').nth(4).unwrap().parse().unwrap();
    assert_eq!(
        m.request(&format!("cas {} 0 0 2 {cas_a}\r\nc1\r\n", k(a))),
        "STORED\r\n"
    );
    assert_eq!(
        m.request(&format!("cas {} 0 0 2 {cas_a}\r\nc2\r\n", k(a))),
        "EXISTS\r\n"
    );
    assert_eq!(m.request("cas nosuchkey 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n");
    assert_eq!(
        m.request(&format!("get {}\r\n", k(a))),
        format!("VALUE {} 0 2\r\nc1\r\nEND\r\n", k(a))
    );

    // add / replace / append / prepend.
    assert_eq!(
        m.request(&format!("add {} 0 0 1\r\nx\r\n", k(b))),
        "NOT_STORED\r\n"
    );
    assert_eq!(m.request("add fresh 0 0 1\r\nf\r\n"), "STORED\r\n");
    assert_eq!(m.request("replace nosuch 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
    assert_eq!(m.request("replace fresh 5 0 2\r\nff\r\n"), "STORED\r\n");
    assert_eq!(m.request("append fresh 0 0 2\r\n>>\r\n"), "STORED\r\n");
    assert_eq!(m.request("prepend fresh 0 0 2\r\n<<\r\n"), "STORED\r\n");
    assert_eq!(
        m.request("get fresh\r\n"),
        "VALUE fresh 5 6\r\n<<ff>>\r\nEND\r\n"
    );
    // incr / decr.
    assert_eq!(m.request("set n 0 0 2\r\n10\r\n"), "STORED\r\n");
    assert_eq!(m.request("incr n 5\r\n"), "15\r\n");
    assert_eq!(m.request("decr n 20\r\n"), "0\r\n");
    assert_eq!(m.request("incr nosuch 1\r\n"), "NOT_FOUND\r\n");
    // touch / delete.
    assert_eq!(m.request("touch fresh 100\r\n"), "TOUCHED\r\n");
    assert_eq!(m.request("touch nosuch 100\r\n"), "NOT_FOUND\r\n");
    assert_eq!(m.request("delete fresh\r\n"), "DELETED\r\n");
    assert_eq!(m.request("delete fresh\r\n"), "NOT_FOUND\r\n");
    // noreply: no reply at all; the next reply is the next request's.
    m.send("set q 0 0 1 noreply\r\nz\r\n");
    m.send("set n2 0 0 1\r\n5\r\n");
    m.send("incr n2 2 noreply\r\n");
    m.send(&format!("delete {} noreply\r\n", k(b)));
    assert_eq!(m.reply(), "STORED\r\n", "set n2 (with a reply)");
    assert_eq!(
        m.request("get q n2\r\n"),
        "VALUE q 0 1\r\nz\r\nVALUE n2 0 1\r\n7\r\nEND\r\n"
    );
    assert_eq!(m.request(&format!("get {}\r\n", k(b))), "END\r\n");
    // Local and refused.
    assert!(m.request("version\r\n").starts_with("VERSION "));
    assert!(m.request("flush_all\r\n").starts_with("CLIENT_ERROR "));
    assert!(m.request("stats\r\n").starts_with("CLIENT_ERROR "));
    assert_eq!(
        m.request("get q\r\n"),
        "VALUE q 0 1\r\nz\r\nEND\r\n",
        "the connection goes on"
    );
    // A big value.
    let big = "b".repeat(500_000);
    assert_eq!(
        m.request(&format!("set big 0 0 {}\r\n{big}\r\n", big.len())),
        "STORED\r\n"
    );
    assert_eq!(
        m.request("get big\r\n"),
        format!("VALUE big 0 {}\r\n{big}\r\nEND\r\n", big.len())
    );
    wait_stats(&proxy, "fragments > 0", Duration::from_secs(5), |v| {
        (num(v, &["m", "fragments"]) > 0).then_some(())
    });
}

// ---------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------

/// The stats port serves nutcracker's document: every field nutcracker has (top level,
/// pool, server — servers keyed by name or host:port) is there, counting what happened.
#[test]
fn stats_port_has_nutcrackers_fields() {
    let Some(backends) = redis_backends(2) else {
        return;
    };
    let servers = vec![
        format!("{}:1 alpha", backends[0].host_port()),
        format!("{}:1", backends[1].host_port()),
    ];
    let yaml = |l: &str| pool_yaml("p", l, &[("redis", "true")], &servers);
    let Some(nc) = Nutcracker::start(yaml) else {
        return;
    };
    // A configured port this time (picked free by the harness): the ports file says it.
    let proxy = ProxyProcess::builder(BIN, yaml)
        .listen(ListenMode::FreePort)
        .metrics()
        .start();
    assert_eq!(proxy.addr().to_string(), proxy.listen());
    let mut c = proxy.raw();
    let mut n = nc.raw();
    let keys: Vec<String> = (0..40).map(|i| format!("st:{i}.x")).collect();
    write_all(&mut c, &keys, val, "the proxy");
    write_all(&mut n, &keys, val, "nutcracker");

    let ours = wait_stats(
        &proxy,
        "requests on both servers",
        Duration::from_secs(5),
        |v| {
            let a = v["p"]["alpha"]["requests"].as_u64().unwrap_or(0);
            let b = v["p"][backends[1].host_port()]["requests"]
                .as_u64()
                .unwrap_or(0);
            (a + b >= 40 && a > 0 && b > 0).then(|| v.clone())
        },
    );
    // nutcracker aggregates every stats interval (30 s by default): its document's shape is
    // what counts here, not its numbers.
    let theirs = json(&nc.stats_json());
    let keys_of = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let missing = |theirs: &Value, ours: &Value, at: &str| {
        let m: Vec<String> = keys_of(theirs)
            .into_iter()
            .filter(|k| ours.get(k).is_none())
            .collect();
        assert!(
            m.is_empty(),
            "{at}: nutcracker has {m:?}, the proxy does not\nours: {ours}\ntheirs: {theirs}"
        );
    };
    missing(&theirs, &ours, "top level");
    missing(&theirs["p"], &ours["p"], "pool");
    missing(&theirs["p"]["alpha"], &ours["p"]["alpha"], "server alpha");
    let hp = backends[1].host_port();
    missing(&theirs["p"][&hp], &ours["p"][&hp], "server host:port");
    assert_eq!(ours["service"], "nutcracker");
    assert_eq!(num(&ours, &["p", "client_connections"]), 1, "{ours}");
    assert!(num(&ours, &["curr_connections"]) >= 1);
    assert!(num(&ours, &["total_connections"]) >= 1);
    assert!(num(&ours, &["p", "alpha", "responses"]) > 0);
    assert!(num(&ours, &["p", "alpha", "request_bytes"]) > 0);
    assert!(num(&ours, &["p", "alpha", "server_connections"]) >= 1);
    drop(c);
    wait_stats(
        &proxy,
        "client_eof after a close",
        Duration::from_secs(5),
        |v| {
            (num(v, &["p", "client_eof"]) >= 1 && num(v, &["p", "client_connections"]) == 0)
                .then_some(())
        },
    );
    // The same counters in Prometheus text.
    let (code, body) = proxy.http("GET", "/metrics");
    assert_eq!(code, 200);
    assert!(body.contains("rcache_proxy_pool_client_eof"), "{body}");
    // The stats port is a plain TCP read-until-close (what `nc host 22222` does).
    let raw = read_to_eof(proxy.stats_addr(), Duration::from_secs(5)).unwrap();
    assert!(
        raw.starts_with('{') && raw.trim_end().ends_with('}'),
        "{raw}"
    );
}

// ---------------------------------------------------------------------------------------
// Cluster pools (`cluster: true`)
// ---------------------------------------------------------------------------------------

/// A cluster pool `p` with `seeds` (`host:port:weight` lines) as its servers.
fn cluster_yaml(listen: &str, seeds: &[String]) -> String {
    pool_yaml(
        "p",
        listen,
        &[("redis", "true"), ("cluster", "true")],
        seeds,
    )
}

/// `count` of `errorstat_<prefix>:count=N` in a Redis node's INFO errorstats (0 when the
/// node answered no such error since the last CONFIG RESETSTAT).
fn errorstat(b: &Backend, prefix: &str) -> u64 {
    let info = cmd(&mut b.conn(), &["INFO", "errorstats"]).text();
    let want = format!("errorstat_{prefix}:count=");
    info.lines()
        .find_map(|l| l.trim().strip_prefix(want.as_str()))
        .map(|n| n.split(',').next().unwrap_or(n).parse().unwrap_or(0))
        .unwrap_or(0)
}

/// Two keys in different slots that the same node owns, and one owned by another node:
/// `(a, a2, b)` with `owners` (node per slot) from the cluster.
fn cross_slot_keys(owners: &[usize], prefix: &str) -> (String, String, String) {
    let key = |i: usize| format!("{prefix}{i}");
    let slot = |k: &str| testkit::key_slot(k.as_bytes()) as usize;
    let a = key(0);
    let a2 = (1..)
        .map(key)
        .find(|k| slot(k) != slot(&a) && owners[slot(k)] == owners[slot(&a)])
        .unwrap();
    let b = (1..)
        .map(key)
        .find(|k| owners[slot(k)] != owners[slot(&a)])
        .unwrap();
    (a, a2, b)
}

/// A pool of one seed (node A of a 3-master Redis 7 cluster) finds the other two nodes
/// (CLUSTER SLOTS), puts every key on the node owning its slot, answers MGET (in order,
/// with nils), MSET, DEL, UNLINK, EXISTS and TOUCH across slots, forwards hash-tagged
/// multi-key commands, answers CROSSSLOT for other multi-key commands across slots (also
/// when one node owns both slots: Redis would refuse them) and goes on; the stats list all
/// three nodes.
#[test]
fn cluster_pool_follows_a_redis_cluster() {
    let Some(cl) = RedisCluster::start(3) else {
        return;
    };
    let owners = cl.wait_consistent(Duration::from_secs(10));
    let seeds = vec![format!("{}:1", cl.node(0).host_port())];
    let proxy = ProxyProcess::builder(BIN, |l| cluster_yaml(l, &seeds))
        .threads(2)
        .start();
    let mut c = proxy.raw();

    // The slot function is Redis's (tags, empty tags, nested braces).
    let mut direct = cl.node(0).conn();
    for k in [
        "foo",
        "{user1000}.following",
        "a{}b",
        "x{{y}}z",
        "ck:17",
        "{t}a",
    ] {
        let theirs = cmd(&mut direct, &["CLUSTER", "KEYSLOT", k]).int();
        assert_eq!(
            theirs,
            i64::from(testkit::key_slot(k.as_bytes())),
            "slot of {k}"
        );
    }

    let key = |i: usize| format!("ck:{i}");
    let keys: Vec<String> = (0..1000).map(key).collect();
    write_all(&mut c, &keys, val, "the proxy");
    let sizes = dbsizes(cl.nodes());
    assert_eq!(sizes.iter().sum::<i64>(), 1000, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n > 0), "a node got no key: {sizes:?}");
    // Each key on the node that owns its slot (a Redis node refuses any other with MOVED,
    // so this holds if the SETs said OK; checked anyway).
    let at = locate(cl.nodes());
    for k in &keys {
        let s = testkit::key_slot(k.as_bytes()) as usize;
        assert_eq!(at[k], owners[s], "{k} (slot {s}) is on the wrong node");
    }
    let bad = read_all(&mut c, &keys, val);
    assert!(
        bad.is_empty(),
        "GET through the proxy: {:?}",
        &bad[..bad.len().min(10)]
    );

    // MGET of 100 keys across slots, every other one missing: in order, with nils.
    let names: Vec<String> = (0..100)
        .map(|i| {
            if i % 2 == 0 {
                key(i * 7)
            } else {
                format!("ck-missing:{i}")
            }
        })
        .collect();
    let nodes_hit: std::collections::BTreeSet<usize> = names
        .iter()
        .map(|k| owners[testkit::key_slot(k.as_bytes()) as usize])
        .collect();
    assert_eq!(nodes_hit.len(), 3, "the MGET should span every node");
    let mut mget = vec!["MGET".to_string()];
    mget.extend(names.iter().cloned());
    let got = cmd(&mut c, &mget).array();
    assert_eq!(got.len(), 100);
    for (i, (k, r)) in names.iter().zip(&got).enumerate() {
        let want = (i % 2 == 0).then(|| val(k));
        assert_eq!(r.bulk(), want, "MGET element {i} ({k})");
    }

    // MSET across slots; EXISTS (a key twice counts twice), TOUCH, DEL and UNLINK sum.
    let mk = |i: usize| format!("mk:{i}");
    let mut mset = vec!["MSET".to_string()];
    for i in 0..60 {
        mset.extend([mk(i), val(&mk(i))]);
    }
    assert_eq!(cmd(&mut c, &mset), Resp::Simple("OK".into()));
    assert_eq!(dbsizes(cl.nodes()).iter().sum::<i64>(), 1060);
    let bad = read_all(&mut c, &(0..60).map(mk).collect::<Vec<_>>(), val);
    assert!(bad.is_empty(), "after MSET: {bad:?}");
    assert_eq!(
        cmd(
            &mut c,
            &["EXISTS", &mk(1), &mk(1), "nope", &mk(2), &mk(59), &mk(60)]
        ),
        Resp::Int(4)
    );
    let mut touch = vec!["TOUCH".to_string()];
    touch.extend((0..30).map(mk));
    touch.push("nope".into());
    assert_eq!(cmd(&mut c, &touch), Resp::Int(30));
    let mut del = vec!["DEL".to_string()];
    del.extend((0..60).map(mk));
    del.extend((0..5).map(|i| format!("nope:{i}")));
    assert_eq!(cmd(&mut c, &del), Resp::Int(60));
    let mut unlink = vec!["UNLINK".to_string()];
    unlink.extend((0..100).map(key));
    assert_eq!(cmd(&mut c, &unlink), Resp::Int(100));
    assert_eq!(dbsizes(cl.nodes()).iter().sum::<i64>(), 900);
    wait_stats(&proxy, "fragments > 0", Duration::from_secs(5), |v| {
        (num(v, &["p", "fragments"]) > 0).then_some(())
    });

    // Hash tags: one slot, forwarded as it is.
    assert_eq!(cmd(&mut c, &["SADD", "{t}a", "x", "y"]), Resp::Int(2));
    assert_eq!(cmd(&mut c, &["SADD", "{t}b", "y", "z"]), Resp::Int(2));
    assert_eq!(
        cmd(&mut c, &["SUNIONSTORE", "{t}c", "{t}a", "{t}b"]),
        Resp::Int(3)
    );
    let mut m: Vec<String> = cmd(&mut c, &["SMEMBERS", "{t}c"])
        .array()
        .iter()
        .map(Resp::text)
        .collect();
    m.sort();
    assert_eq!(m, vec!["x", "y", "z"]);
    let t_owner = owners[testkit::key_slot(b"t") as usize];
    assert_eq!(
        cmd(&mut cl.node(t_owner).conn(), &["EXISTS", "{t}c"]),
        Resp::Int(1)
    );

    // CROSSSLOT: other multi-key commands whose keys are in different slots, even on one
    // node; the connection goes on.
    let (a, a2, b) = cross_slot_keys(&owners, "cs:");
    for k in [&a, &a2, &b] {
        assert_eq!(cmd(&mut c, &["SADD", k, k]), Resp::Int(1));
    }
    let crossslot = Resp::Error("CROSSSLOT Keys in request don't hash to the same server".into());
    assert_eq!(cmd(&mut c, &["SUNION", &a, &b]), crossslot);
    assert_eq!(cmd(&mut c, &["SUNION", &a, &a2]), crossslot, "same node");
    assert_eq!(cmd(&mut c, &["RENAME", &a, &b]), crossslot);
    assert_eq!(cmd(&mut c, &["PING"]), Resp::Simple("PONG".into()));
    // In a pipeline, between forwarded requests: replies in order.
    let r = pipeline(
        &mut c,
        &[
            vec!["GET".to_string(), key(500)],
            vec!["SUNION".into(), a.clone(), b.clone()],
            vec!["SUNION".into(), "{t}a".into(), "{t}b".into()],
            vec!["GET".into(), key(999)],
        ],
    );
    assert_eq!(r[0].bulk(), Some(val(&key(500))));
    assert_eq!(r[1], crossslot);
    assert_eq!(r[2].array().len(), 3);
    assert_eq!(r[3].bulk(), Some(val(&key(999))));

    // The stats name every node, two of them learnt from the one seed.
    let hps: Vec<String> = cl.nodes().iter().map(Backend::host_port).collect();
    let st = wait_stats(
        &proxy,
        "all three nodes in the stats",
        Duration::from_secs(5),
        |v| {
            hps.iter()
                .all(|h| v["p"][h]["requests"].as_u64().is_some_and(|n| n > 0))
                .then(|| v.clone())
        },
    );
    let servers = st["p"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v.get("requests").is_some())
        .count();
    assert_eq!(servers, 3, "{st}");
}

/// 3,000 slots move from node A to node B (`redis-cli --cluster reshard`) while one client
/// reads 500 keys through the proxy in a loop: no miss and no error reply at any time
/// (MOVED followed and the map refreshed, ASK followed with ASKING), and a full pass after
/// the reshard finished. The nodes' own counters (INFO errorstats) show MOVED replies were
/// met, and that the proxy stops meeting them once its map is refreshed.
#[test]
fn cluster_pool_survives_resharding() {
    let Some(cl) = RedisCluster::start(3) else {
        return;
    };
    let before = cl.slot_counts(Duration::from_secs(10));
    let seeds = vec![format!("{}:1", cl.node(0).host_port())];
    let proxy = ProxyProcess::builder(BIN, |l| cluster_yaml(l, &seeds))
        .threads(2)
        .start();
    let mut c = proxy.raw();
    let keys: Vec<String> = (0..500).map(|i| format!("rk:{i}")).collect();
    write_all(&mut c, &keys, val, "the proxy");
    let bad = read_all(&mut c, &keys, val);
    assert!(bad.is_empty(), "before the reshard: {bad:?}");
    let sizes_before = dbsizes(cl.nodes());
    assert_eq!(sizes_before.iter().sum::<i64>(), 500);
    for n in cl.nodes() {
        assert_eq!(
            cmd(&mut n.conn(), &["CONFIG", "RESETSTAT"]),
            Resp::Simple("OK".into())
        );
    }

    let t0 = Instant::now();
    let job = cl.reshard(0, 1, 3000);
    let mut passes = 0usize;
    let mut misses: Vec<(String, Resp)> = Vec::new();
    let mut errors: Vec<(String, Resp)> = Vec::new();
    let mut note = |bad: Vec<(String, Resp)>, when: &str| {
        for (k, r) in bad {
            let e = (format!("{k} ({when})"), r);
            if e.1.is_error() {
                errors.push(e);
            } else {
                misses.push(e);
            }
        }
    };
    while job.try_wait().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(25),
            "the reshard is still running after {:?}\n{}",
            t0.elapsed(),
            job.output()
        );
        note(read_all(&mut c, &keys, val), "during");
        passes += 1;
    }
    let st = job.wait(Duration::from_secs(1));
    let took = t0.elapsed();
    assert!(
        st.success(),
        "{} failed ({st})\n{}",
        job.desc(),
        job.output()
    );
    note(read_all(&mut c, &keys, val), "after");
    eprintln!(
        "reshard of 3000 slots took {took:?}; {passes} full passes of 500 GETs meanwhile; \
         MOVED from A {}, ASK from A {}",
        errorstat(cl.node(0), "MOVED"),
        errorstat(cl.node(0), "ASK")
    );
    assert!(
        misses.is_empty() && errors.is_empty(),
        "{} misses, {} error replies over {passes} passes; first misses {:?}; first errors {:?}",
        misses.len(),
        errors.len(),
        &misses[..misses.len().min(5)],
        &errors[..errors.len().min(5)]
    );
    assert!(passes > 0, "the reshard finished before a single pass");

    // The slots and their keys moved.
    let after = cl.slot_counts(Duration::from_secs(10));
    assert_eq!(after[0], before[0] - 3000, "{before:?} -> {after:?}");
    assert_eq!(after[1], before[1] + 3000, "{before:?} -> {after:?}");
    let sizes = dbsizes(cl.nodes());
    assert_eq!(sizes.iter().sum::<i64>(), 500, "{sizes:?}");
    assert!(
        sizes[0] < sizes_before[0] && sizes[1] > sizes_before[1],
        "no key moved from A to B: {sizes_before:?} -> {sizes:?}"
    );
    // The proxy met MOVED (node A answered it for the moved slots' keys)...
    assert!(
        errorstat(cl.node(0), "MOVED") > 0,
        "node A never answered MOVED: the redirection path was not exercised"
    );
    // ...and stops meeting it once its map has caught up (refreshed after a MOVED).
    let moved = || -> u64 { cl.nodes().iter().map(|n| errorstat(n, "MOVED")).sum() };
    wait_for(
        "a full pass that meets no MOVED (the map refreshed)",
        Duration::from_secs(10),
        || {
            let m0 = moved();
            let bad = read_all(&mut c, &keys, val);
            assert!(bad.is_empty(), "after the reshard: {bad:?}");
            (moved() == m0).then_some(())
        },
    );
}

/// The same pool in front of an rcache cluster started with `--cluster-redirect` (the
/// nodes answer MOVED for other nodes' keys, as Redis Cluster does, instead of forwarding
/// them): SET / GET 300 keys, each on the node owning its slot, MGET across slots.
#[test]
fn cluster_pool_over_an_rcache_cluster() {
    let cl = TestCluster::builder(BIN).nodes(3).redirect().start();
    cl.wait_settled(Duration::from_secs(30));
    let owners = cl.slot_owners();
    // Redirect mode is on: node 0 answers MOVED for a key of another node.
    let theirs = (0..)
        .map(|i| format!("rc:{i}"))
        .find(|k| owners[testkit::key_slot(k.as_bytes()) as usize] != 0)
        .unwrap();
    let r = cmd(&mut cl.node(0).raw(), &["GET", &theirs]);
    assert!(
        matches!(&r, Resp::Error(e) if e.starts_with("MOVED ")),
        "node 0 should answer MOVED for {theirs}: {r:?}"
    );

    let seeds = vec![format!("{}:1", cl.node(0).addr())];
    let proxy = ProxyProcess::builder(BIN, |l| cluster_yaml(l, &seeds))
        .threads(2)
        .start();
    let mut c = proxy.raw();
    let key = |i: usize| format!("rk:{i}");
    let keys: Vec<String> = (0..300).map(key).collect();
    write_all(&mut c, &keys, val, "the proxy");
    let bad = read_all(&mut c, &keys, val);
    assert!(
        bad.is_empty(),
        "{} of 300 not found: {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    // Each node holds exactly the keys of its slots.
    let mut want = vec![0i64; cl.len()];
    for k in &keys {
        want[owners[testkit::key_slot(k.as_bytes()) as usize]] += 1;
    }
    let sizes: Vec<i64> = (0..cl.len())
        .map(|i| cmd(&mut cl.node(i).raw(), &["DBSIZE"]).int())
        .collect();
    assert_eq!(sizes, want, "keys per node");
    assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");

    // MGET across slots (every third key missing), in order.
    let names: Vec<String> = (0..90)
        .map(|i| {
            if i % 3 == 2 {
                format!("rk-missing:{i}")
            } else {
                key(i * 3)
            }
        })
        .collect();
    let mut mget = vec!["MGET".to_string()];
    mget.extend(names.iter().cloned());
    let got = cmd(&mut c, &mget).array();
    assert_eq!(got.len(), names.len());
    for (i, (k, r)) in names.iter().zip(&got).enumerate() {
        assert_eq!(
            r.bulk(),
            (i % 3 != 2).then(|| val(k)),
            "MGET element {i} ({k})"
        );
    }
    let mut del = vec!["DEL".to_string()];
    del.extend((0..50).map(key));
    assert_eq!(cmd(&mut c, &del), Resp::Int(50));

    // All three nodes were discovered from the one seed.
    let addrs: Vec<String> = cl.addrs().iter().map(ToString::to_string).collect();
    wait_stats(
        &proxy,
        "all three nodes in the stats",
        Duration::from_secs(5),
        |v| {
            addrs
                .iter()
                .all(|h| v["p"][h]["requests"].as_u64().is_some_and(|n| n > 0))
                .then_some(())
        },
    );
}

/// `-t` refuses `cluster: true` without `redis: true` and with `rebalance: true` (exit 1,
/// the file, the line of `cluster` and the key named), and accepts a proper cluster pool.
/// A dead first seed costs no error: the slot map is fetched from the seeds in turn before
/// the first request is routed, and kept across a reload that does not change the seeds.
#[test]
fn cluster_pool_with_a_dead_first_seed() {
    let Some(cl) = RedisCluster::start(3) else {
        return;
    };
    cl.wait_consistent(Duration::from_secs(10));
    let dead = testkit::proxy::free_port();
    let seeds = vec![
        format!("127.0.0.1:{dead}:1"),
        format!("{}:1", cl.node(0).host_port()),
    ];
    let proxy = ProxyProcess::builder(BIN, |l| cluster_yaml(l, &seeds))
        .threads(1)
        .start();
    let mut c = proxy.raw();
    let keys: Vec<String> = (0..200).map(|i| format!("dead-seed:{i}")).collect();
    write_all(&mut c, &keys, val, "the proxy");
    let bad = read_all(&mut c, &keys, val);
    assert!(bad.is_empty(), "{:?}", &bad[..bad.len().min(10)]);
    proxy.sighup();
    let mut c2 = proxy.raw();
    let bad = read_all(&mut c2, &keys, val);
    assert!(
        bad.is_empty(),
        "after a reload: {:?}",
        &bad[..bad.len().min(10)]
    );
}

#[test]
fn cluster_pool_config_is_checked() {
    let good = "a:\n  listen: 127.0.0.1:22121\n  redis: true\n  cluster: true\n  servers:\n   - 127.0.0.1:7000:1\n";
    let (out, path) = run_proxy_cli(BIN, "good.yml", good, &["-t"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("configuration file '{path}' syntax is ok")),
        "{err}"
    );
    // (file text, the line the error must name, a word of the message)
    let bad: &[(&str, &str, &str)] = &[
        (
            "a:\n  listen: 127.0.0.1:22121\n  cluster: true\n  servers:\n   - 127.0.0.1:7000:1\n",
            ":3:",
            "redis: true",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  redis: false\n  cluster: true\n  servers:\n   - 127.0.0.1:7000:1\n",
            ":4:",
            "redis: true",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  redis: true\n  cluster: true\n  rebalance: true\n  servers:\n   - 127.0.0.1:7000:1\n",
            ":4:",
            "rebalance",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  rebalance: true\n  redis: true\n  cluster: true\n  servers:\n   - 127.0.0.1:7000:1\n",
            ":5:",
            "rebalance",
        ),
        (
            "a:\n  listen: 127.0.0.1:22121\n  redis: true\n  cluster: yes\n  servers:\n   - 127.0.0.1:7000:1\n",
            ":4:",
            "yes",
        ),
        // A Redis Cluster has database 0 only.
        (
            "a:\n  listen: 127.0.0.1:22121\n  redis: true\n  redis_db: 1\n  cluster: true\n  servers:\n   - 127.0.0.1:7000:1\n",
            ":5:",
            "redis_db: 0",
        ),
    ];
    for (text, line, word) in bad {
        let (out, path) = run_proxy_cli(BIN, "bad.yml", text, &["-t"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "-t on {text:?}: {err}");
        let want = format!("{path}{line} key 'cluster'");
        assert!(
            err.contains(&want),
            "-t on {text:?}: want {want:?} in {err}"
        );
        assert!(err.contains(word), "-t on {text:?}: want {word:?} in {err}");
        assert!(
            err.contains(&format!("configuration file '{path}' syntax is invalid")),
            "{err}"
        );
    }
}

/// Rebalancing a memcached pool (2 → 3 servers): every key found right after the reload and
/// after the mover, flags and TTLs kept, a write made after the reload never overwritten,
/// every key on exactly one server at the end.
#[test]
fn memcached_rebalance_moves_every_key() {
    let Some(mcs) = memcached_backends(3) else {
        return;
    };
    let two = server_lines(&mcs[..2], &[1, 1], None);
    let three = server_lines(&mcs, &[1, 1, 1], None);
    let opts = [("rebalance", "true"), ("rebalance_rate", "500")];
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("m", l, &opts, &two))
        .metrics()
        .threads(2)
        .start();
    let mut m = McConn::connect(proxy.addr());
    let k = |i: usize| format!("mr{i}.m");
    const N: usize = 1500;
    for i in 0..N {
        let v = format!("v{i}");
        // Every 5th key expires in 300 s; flags carry the key number.
        let exp = if i % 5 == 0 { 300 } else { 0 };
        assert_eq!(
            m.request(&format!("set {} {i} {exp} {}\r\n{v}\r\n", k(i), v.len())),
            "STORED\r\n"
        );
    }
    // `stats` answers one STAT line per reply frame here, then END.
    let items = |b: &Backend| -> usize {
        let mut c = b.mc();
        c.send("stats\r\n");
        let mut n = None;
        loop {
            let l = c.reply();
            if l == "END\r\n" {
                break;
            }
            if let Some(v) = l.strip_prefix("STAT curr_items ") {
                n = v.trim().parse().ok();
            }
        }
        n.expect("curr_items in stats")
    };
    // Keys with a TTL over memcached's 30-day relative limit.
    for i in 0..30 {
        assert_eq!(
            m.request(&format!("set long{i}.m 1 3456000 1\r\nL\r\n")),
            "STORED\r\n"
        );
    }
    assert_eq!(items(&mcs[2]), 0);
    proxy.write_config(|l| pool_yaml("m", l, &opts, &three));
    let (code, body) = proxy.post_reload();
    assert_eq!(code, 200, "{body}");
    // A write right after the reload: the mover must not overwrite it.
    assert_eq!(
        m.request(&format!("set {} 7 0 3\r\nnew\r\n", k(3))),
        "STORED\r\n"
    );
    let check = |m: &mut McConn| -> Vec<String> {
        let mut bad = Vec::new();
        for i in 0..N {
            let (flags, v) = if i == 3 {
                (7, "new".to_string())
            } else {
                (i, format!("v{i}"))
            };
            let want = format!("VALUE {} {flags} {}\r\n{v}\r\nEND\r\n", k(i), v.len());
            let got = m.request(&format!("get {}\r\n", k(i)));
            if got != want {
                bad.push(format!("{}: {got:?}", k(i)));
            }
        }
        bad
    };
    let bad = check(&mut m);
    assert!(
        bad.is_empty(),
        "right after the reload: {:?}",
        &bad[..bad.len().min(10)]
    );
    wait_for("the mover", Duration::from_secs(25), || {
        let (_, st) = proxy.http("GET", "/stats");
        (num(&json(&st), &["m", "rebalance_active"]) == 0).then_some(())
    });
    let bad = check(&mut m);
    assert!(
        bad.is_empty(),
        "after the move: {:?}",
        &bad[..bad.len().min(10)]
    );
    let counts: Vec<usize> = mcs.iter().map(items).collect();
    assert_eq!(
        counts.iter().sum::<usize>(),
        N,
        "a key on two servers: {counts:?}"
    );
    assert!(counts[2] > 0, "nothing moved to the new server: {counts:?}");
    // TTLs moved: an expiring key still expires, a lasting one does not.
    let ttl = |m: &mut McConn, i: usize| -> String { m.request(&format!("mg {} t\r\n", k(i))) };
    let t = ttl(&mut m, 10);
    let secs: i64 = t
        .trim()
        .strip_prefix("HD t")
        .and_then(|s| s.parse().ok())
        .unwrap_or(-9);
    assert!((1..=300).contains(&secs), "{t:?}");
    assert_eq!(ttl(&mut m, 11), "HD t-1\r\n");
}

/// Reloads that rebuild a server object for an unchanged address (a weight change) or
/// change the hash function: with rebalancing on, no key is lost or missed, and a key that
/// stays on its server is never "moved" onto itself (which would delete it).
#[test]
fn rebalance_survives_weight_and_hash_changes() {
    let Some(backends) = redis_backends(2) else {
        return;
    };
    let opts = |hash: &'static str| {
        [
            ("redis", "true"),
            ("hash", hash),
            ("rebalance", "true"),
            ("rebalance_rate", "2000"),
        ]
    };
    let even = server_lines(&backends, &[1, 1], None);
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &opts("fnv1a_64"), &even))
        .metrics()
        .threads(1)
        .start();
    let mut c = proxy.raw();
    let keys: Vec<String> = (0..400).map(|i| format!("w:{i}.w")).collect();
    write_all(&mut c, &keys, val, "the proxy");
    let settle = |what: &str| {
        wait_for(what, Duration::from_secs(20), || {
            let (_, st) = proxy.http("GET", "/stats");
            (num(&json(&st), &["p", "rebalance_active"]) == 0).then_some(())
        });
    };
    for (step, hash, weights) in [
        ("weight 1 -> 3", "fnv1a_64", [1, 3]),
        ("hash fnv1a_64 -> murmur", "murmur", [1, 3]),
    ] {
        let servers = server_lines(&backends, &weights, None);
        proxy.write_config(|l| pool_yaml("p", l, &opts(hash), &servers));
        let (code, body) = proxy.post_reload();
        assert_eq!(code, 200, "{step}: {body}");
        let bad = read_all(&mut c, &keys, val);
        assert!(
            bad.is_empty(),
            "{step}, during the move: {:?}",
            &bad[..bad.len().min(5)]
        );
        settle(step);
        let bad = read_all(&mut c, &keys, val);
        assert!(
            bad.is_empty(),
            "{step}, after the move: {:?}",
            &bad[..bad.len().min(5)]
        );
        assert_eq!(dbsizes(&backends).iter().sum::<i64>(), 400, "{step}");
    }
    // Keys did move (the scenario is real), and none was deleted in place.
    let (_, st) = proxy.http("GET", "/stats");
    assert!(num(&json(&st), &["p", "rebalance_moved"]) > 0, "{st}");
}

/// A memcached `noreply` request with spaces after `noreply` (which memcached honours) must
/// not leave a reply owed on the shared backend connection: the next clients' replies stay
/// theirs.
#[test]
fn memcached_noreply_with_trailing_spaces_keeps_replies_in_step() {
    let Some(mcs) = memcached_backends(1) else {
        return;
    };
    let servers = server_lines(&mcs, &[1], None);
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("m", l, &[], &servers))
        .threads(1)
        .start();
    let mut a = McConn::connect(proxy.addr());
    let mut b = McConn::connect(proxy.addr());
    assert_eq!(a.request("set x 0 0 2\r\nxx\r\n"), "STORED\r\n");
    assert_eq!(a.request("set y 0 0 2\r\nyy\r\n"), "STORED\r\n");
    a.send("delete nokey noreply  \r\n");
    a.send("set z 0 0 1 noreply \r\nz\r\n");
    assert_eq!(b.request("get x\r\n"), "VALUE x 0 2\r\nxx\r\nEND\r\n");
    assert_eq!(a.request("get y\r\n"), "VALUE y 0 2\r\nyy\r\nEND\r\n");
    assert_eq!(b.request("get z\r\n"), "VALUE z 0 1\r\nz\r\nEND\r\n");
}

/// HELLO 3 in the middle of a pipeline switches the protocol from the next request on: the
/// requests before it are answered in RESP2.
#[test]
fn hello_in_a_pipeline_switches_protocol_at_its_place() {
    let Some(backends) = redis_backends(1) else {
        return;
    };
    let servers = server_lines(&backends, &[1], None);
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &[("redis", "true")], &servers))
        .threads(1)
        .start();
    let mut c = proxy.raw();
    c.send(b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(c.read_reply(Duration::from_secs(5)).unwrap(), b":1\r\n");
    c.send(b"*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n");
    let first = c.read_reply(Duration::from_secs(5)).unwrap();
    assert_eq!(
        first, b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
        "before HELLO: RESP2"
    );
    let hello = c.read_reply(Duration::from_secs(5)).unwrap();
    assert!(
        hello.starts_with(b"%7\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    let third = c.read_reply(Duration::from_secs(5)).unwrap();
    assert_eq!(
        third, b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
        "after HELLO 3: RESP3"
    );
}

/// Meta commands with a base64 key (`b` flag) are placed by the key it encodes: `mg` with
/// `b` finds every key a classic `set` stored, across servers.
#[test]
fn memcached_meta_base64_keys_route_like_plain_keys() {
    use base64::Engine;
    let Some(mcs) = memcached_backends(2) else {
        return;
    };
    let servers = server_lines(&mcs, &[1, 1], None);
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("m", l, &[], &servers))
        .threads(1)
        .start();
    let mut m = McConn::connect(proxy.addr());
    for i in 0..40 {
        let k = format!("b64-{i}.k");
        assert_eq!(
            m.request(&format!("set {k} 0 0 2\r\nv{}\r\n", i % 10)),
            "STORED\r\n"
        );
        let enc = base64::engine::general_purpose::STANDARD.encode(&k);
        // The test connection frames line by line: the VA line, then the data line.
        assert_eq!(m.request(&format!("mg {enc} b v\r\n")), "VA 2\r\n", "{k}");
        assert_eq!(m.reply(), format!("v{}\r\n", i % 10), "{k}");
    }
    assert_eq!(
        m.request("mg !!notbase64 b v\r\n"),
        "CLIENT_ERROR error decoding key\r\n"
    );
}

/// `reuseport: true`: two proxies listen on one address (SO_REUSEPORT); when one stops, the
/// other keeps serving it. (`tcpkeepalive` sets SO_KEEPALIVE on client connections; not
/// observable from here.)
#[test]
fn reuseport_lets_two_proxies_share_a_port() {
    let Some(backends) = redis_backends(1) else {
        return;
    };
    let servers = server_lines(&backends, &[1], None);
    let opts = [
        ("redis", "true"),
        ("reuseport", "true"),
        ("tcpkeepalive", "true"),
    ];
    let a = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &opts, &servers))
        .threads(1)
        .start();
    let addr = a.addr().to_string();
    let b = ProxyProcess::builder(BIN, |_| pool_yaml("p", &addr, &opts, &servers))
        .threads(1)
        .start();
    assert_eq!(b.addr(), a.addr());
    assert_eq!(
        cmd(&mut b.raw(), &["SET", "shared", "1"]),
        Resp::Simple("OK".into())
    );
    drop(a);
    let mut c = b.raw();
    assert_eq!(
        cmd(&mut c, &["GET", "shared"]),
        Resp::Bulk(Some("1".into()))
    );
}

/// `distribution: random`: a request goes whole to one server (as nutcracker sends it), so
/// multi-key commands never fail as cross-server.
#[test]
fn random_distribution_sends_a_request_whole() {
    let Some(backends) = redis_backends(3) else {
        return;
    };
    let servers = server_lines(&backends, &[1, 1, 1], None);
    let opts = [("redis", "true"), ("distribution", "random")];
    let proxy = ProxyProcess::builder(BIN, |l| pool_yaml("p", l, &opts, &servers))
        .threads(1)
        .start();
    let mut c = proxy.raw();
    for i in 0..50 {
        let r = cmd(
            &mut c,
            &["MSET", &format!("a{i}"), "1", &format!("b{i}"), "2"],
        );
        assert_eq!(r, Resp::Simple("OK".into()), "MSET {i}");
        let r = cmd(&mut c, &["SUNION", &format!("s{i}"), &format!("t{i}")]);
        assert!(!r.is_error(), "SUNION {i}: {r:?}");
    }
}
