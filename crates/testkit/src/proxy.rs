//! Real processes for `rcache proxy`'s integration tests: the proxy itself, nutcracker (the
//! reference it must match), and the backends it fronts (Debian's redis-server, memcached).
//!
//! ```text
//!  Backend::redis() / Backend::memcached()   a backend on a free port, ready by polling;
//!                                            kill / restart (same port) / pause (SIGSTOP)
//!  Nutcracker::start(|listen| yaml)          /usr/sbin/nutcracker on free ports
//!  ProxyProcess::builder(bin, |listen| yaml) `rcache proxy -c f.yml -s 0 -i 100
//!                                            --ports-file f`, ready when the ports file is
//!                                            written; reload by SIGHUP or POST /reload;
//!                                            listens on `127.0.0.1:0`, or on a free port
//!                                            the harness picks (`ListenMode::FreePort`)
//!  Resp / McConn                             parsed RESP replies, memcached text replies
//!  RedisCluster::start(3)                    redis-servers in cluster mode (bus on a second
//!                                            free port), joined by `redis-cli --cluster
//!                                            create`, ready when every node says
//!                                            cluster_state:ok and all agree on the slot map;
//!                                            `reshard` runs `redis-cli --cluster reshard` in
//!                                            the background (`CliJob`)
//! ```
//!
//! Every process is killed (SIGCONT first, for a paused backend) when its handle drops, and
//! every wait is a bounded poll. A pool's YAML is written by a closure that gets the listen
//! address, so one config text serves nutcracker and the proxy; the address the proxy
//! bound is read back from its ports file either way.

use crate::raw::{resp, RawConn};
use crate::tools::{run_with_timeout, TempDir, ALLOW_MISSING_ENV};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::process::free_port;

/// The listen address of [`ListenMode::PortZero`]: any free port, read back from
/// `--ports-file`.
pub const PROXY_LISTEN: &str = "127.0.0.1:0";

/// Find a tool the proxy tests drive (`redis-server`, `nutcracker`, `memcached`) on PATH or
/// in /usr/sbin, /usr/bin (nutcracker lives in /usr/sbin, not on every user's PATH). Missing:
/// panic, unless `RCACHE_ALLOW_MISSING_TOOLS=1`, then a loud SKIPPED note and `None` (the
/// test returns early): the same rule as `require_tool`, with the right Debian package named.
pub fn require_backend_tool(name: &str, package: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")];
    if let Some(p) = on_path
        .iter()
        .chain(extra.iter())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
    {
        return Some(p);
    }
    if std::env::var(ALLOW_MISSING_ENV).is_ok_and(|v| v == "1") {
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPED: `{name}` is not installed and {ALLOW_MISSING_ENV}=1, so this \
             test did NOT run. Install it (Debian: apt-get install {package}; scripts/test.sh \
             does this) to run it. !!!!!!!!\n"
        );
        return None;
    }
    panic!(
        "`{name}` is not installed. Install it (Debian: apt-get install {package}), or set \
         {ALLOW_MISSING_ENV}=1 to skip the tests that need it."
    );
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn send_signal(child: &mut Child, sig: libc::c_int) -> bool {
    if !matches!(child.try_wait(), Ok(None)) {
        // Exited and reaped: the pid may be someone else's by now.
        return false;
    }
    // SAFETY: kill(2) on our own child, not yet reaped; no memory is involved.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) == 0 }
}

fn kill_and_reap(child: &mut Child) {
    let _ = send_signal(child, libc::SIGCONT);
    let _ = child.kill();
    let _ = child.wait();
}

fn read_log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Poll every few ms until `ok()` or `deadline`; `Err` with the reason when `dead()` says the
/// process exited first or the deadline passed.
fn poll_ready(
    what: &str,
    timeout: Duration,
    mut ok: impl FnMut() -> bool,
    mut dead: impl FnMut() -> Option<ExitStatus>,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if ok() {
            return Ok(());
        }
        if let Some(st) = dead() {
            return Err(format!("{what} exited ({st}) before it was ready"));
        }
        if Instant::now() >= deadline {
            return Err(format!("{what} was not ready within {timeout:?}"));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

// ---------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Redis,
    Memcached,
}

/// A redis-server or memcached child on 127.0.0.1. Dropping it kills it (SIGCONT first).
pub struct Backend {
    kind: BackendKind,
    bin: PathBuf,
    args: Vec<String>,
    password: Option<String>,
    port: u16,
    /// Cluster mode: the cluster bus port (`--cluster-port`).
    bus_port: Option<u16>,
    child: Mutex<Option<Child>>,
    dir: TempDir,
}

impl Backend {
    /// redis-server on a free port (no persistence); `None` when it is not installed and
    /// missing tools may be skipped.
    pub fn redis() -> Option<Backend> {
        Self::redis_with(&[])
    }

    /// redis-server with extra arguments (`["--requirepass", "pw"]`).
    pub fn redis_with(extra: &[&str]) -> Option<Backend> {
        let bin = require_backend_tool("redis-server", "redis-server")?;
        let password = extra
            .iter()
            .position(|a| *a == "--requirepass")
            .and_then(|i| extra.get(i + 1))
            .map(|s| s.to_string());
        Some(Self::start(
            BackendKind::Redis,
            bin,
            extra.iter().map(|s| s.to_string()).collect(),
            password,
            false,
        ))
    }

    /// redis-server in cluster mode on a free port: `--cluster-enabled yes`, its nodes file
    /// `nodes-PORT.conf` in its own temp dir, the bus on a second free port
    /// (`--cluster-port`, not PORT + 10000, which may be taken). Not part of any cluster
    /// yet: see [`RedisCluster`].
    pub fn redis_cluster_node() -> Option<Backend> {
        let bin = require_backend_tool("redis-server", "redis-server")?;
        Some(Self::start(BackendKind::Redis, bin, Vec::new(), None, true))
    }

    /// memcached (TCP only) on a free port.
    pub fn memcached() -> Option<Backend> {
        let bin = require_backend_tool("memcached", "memcached")?;
        Some(Self::start(
            BackendKind::Memcached,
            bin,
            Vec::new(),
            None,
            false,
        ))
    }

    fn start(
        kind: BackendKind,
        bin: PathBuf,
        args: Vec<String>,
        password: Option<String>,
        cluster: bool,
    ) -> Backend {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let bus_port = cluster.then(|| loop {
                let p = free_port();
                if p != port {
                    break p;
                }
            });
            let b = Backend {
                kind,
                bin: bin.clone(),
                args: args.clone(),
                password: password.clone(),
                port,
                bus_port,
                child: Mutex::new(None),
                dir: TempDir::new("rcache-backend"),
            };
            match b.spawn_and_wait() {
                Ok(()) => return b,
                // Most likely the port was taken meanwhile: try another.
                Err(e) => last = e,
            }
        }
        panic!("{last}")
    }

    fn argv(&self) -> Vec<String> {
        let port = self.port.to_string();
        let mut v: Vec<String> = match self.kind {
            BackendKind::Redis => vec![
                "--port".into(),
                port,
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                "".into(),
                "--appendonly".into(),
                "no".into(),
                "--daemonize".into(),
                "no".into(),
                "--logfile".into(),
                "".into(),
                "--dir".into(),
                self.dir.path().display().to_string(),
            ]
            .into_iter()
            .chain(self.bus_port.into_iter().flat_map(|bus| {
                let nodes = self.dir.path().join(format!("nodes-{}.conf", self.port));
                [
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    nodes.display().to_string(),
                    "--cluster-port".into(),
                    bus.to_string(),
                ]
            }))
            .collect(),
            BackendKind::Memcached => {
                let mut v: Vec<String> = vec![
                    "-p".into(),
                    port,
                    "-U".into(),
                    "0".into(),
                    "-l".into(),
                    "127.0.0.1".into(),
                ];
                // SAFETY: geteuid has no preconditions.
                if unsafe { libc::geteuid() } == 0 {
                    // memcached refuses to run as root without naming the user.
                    v.extend(["-u".into(), "root".into()]);
                }
                v
            }
        };
        v.extend(self.args.iter().cloned());
        v
    }

    fn spawn_and_wait(&self) -> Result<(), String> {
        let argv = self.argv();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("output.log"))
            .expect("backend log");
        let child = Command::new(&self.bin)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .current_dir(self.dir.path())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {argv:?}: {e}", self.bin.display()));
        *self.child.lock().unwrap() = Some(child);
        let addr = self.addr();
        let kind = self.kind;
        poll_ready(
            &format!("{} {argv:?}", self.bin.display()),
            crate::READY_TIMEOUT,
            || match kind {
                BackendKind::Redis => crate::ping_ready(addr),
                BackendKind::Memcached => memcached_ready(addr),
            },
            || self.try_wait(),
        )
        .map_err(|e| format!("{e}\n{}", self.output()))
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster bus port of a [`Backend::redis_cluster_node`].
    pub fn bus_port(&self) -> Option<u16> {
        self.bus_port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:PORT`
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn output(&self) -> String {
        read_log(self.dir.path(), "output.log")
    }

    fn try_wait(&self) -> Option<ExitStatus> {
        let mut g = self.child.lock().unwrap();
        g.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL and reap (a crashed backend: connections reset, the port refuses).
    pub fn kill(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            kill_and_reap(&mut c);
        }
    }

    /// Start it again on the same port, after `kill`, and wait until it answers.
    pub fn restart(&self) {
        self.kill();
        // The port can be briefly unavailable; the poll notices the child exiting.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!("restart on {}: {e}", self.port),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// SIGSTOP: the backend hangs (connections still accepted by the kernel, no replies).
    pub fn pause(&self) {
        let mut g = self.child.lock().unwrap();
        let c = g.as_mut().expect("a running backend");
        assert!(send_signal(c, libc::SIGSTOP), "SIGSTOP {}", c.id());
    }

    /// SIGCONT after `pause` (also done on drop).
    pub fn resume(&self) {
        let mut g = self.child.lock().unwrap();
        if let Some(c) = g.as_mut() {
            let _ = send_signal(c, libc::SIGCONT);
        }
    }

    /// A Redis connection to this backend directly (AUTHed when it has a password).
    pub fn conn(&self) -> RawConn {
        assert_eq!(
            self.kind,
            BackendKind::Redis,
            "conn() is for redis backends"
        );
        let mut c = RawConn::connect(self.addr());
        if let Some(pw) = &self.password {
            assert_eq!(c.request(&["AUTH", pw]), "+OK\r\n");
        }
        c
    }

    /// A memcached connection to this backend directly.
    pub fn mc(&self) -> McConn {
        McConn::connect(self.addr())
    }

    /// DBSIZE of database `db`.
    pub fn dbsize_of(&self, db: u32) -> i64 {
        let mut c = self.conn();
        if db != 0 {
            assert_eq!(c.request(&["SELECT", &db.to_string()]), "+OK\r\n");
        }
        cmd(&mut c, &["DBSIZE"]).int()
    }

    pub fn dbsize(&self) -> i64 {
        self.dbsize_of(0)
    }

    /// Every key of database 0 (KEYS *).
    pub fn keys(&self) -> Vec<String> {
        let mut c = self.conn();
        cmd(&mut c, &["KEYS", "*"])
            .array()
            .into_iter()
            .map(|k| k.text())
            .collect()
    }

    /// Empty it (FLUSHALL, or flush_all for memcached).
    pub fn flush(&self) {
        match self.kind {
            BackendKind::Redis => assert_eq!(self.conn().request(&["FLUSHALL"]), "+OK\r\n"),
            BackendKind::Memcached => assert_eq!(self.mc().request("flush_all\r\n"), "OK\r\n"),
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

fn memcached_ready(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"version\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"VERSION "))
}

// ---------------------------------------------------------------------------------------
// Redis Cluster
// ---------------------------------------------------------------------------------------

/// Redis Cluster's slot count.
pub const CLUSTER_SLOTS: usize = 16384;

/// Debian's redis-server in cluster mode, `n` masters without replicas, formed by
/// `redis-cli --cluster create`. Dropping it kills every node (and each node's temp dir,
/// its nodes file with it, goes).
pub struct RedisCluster {
    nodes: Vec<Backend>,
    cli: PathBuf,
}

impl RedisCluster {
    /// Start `n` (at least 3: redis-cli's minimum of masters) cluster-mode redis-servers on
    /// free ports, join them with `redis-cli --cluster create … --cluster-replicas 0
    /// --cluster-yes`, and wait until every node says `cluster_state:ok`, knows all `n`,
    /// and all of them agree on who owns every slot. `None` when redis-server or redis-cli
    /// is missing and missing tools may be skipped.
    pub fn start(n: usize) -> Option<RedisCluster> {
        assert!(
            n >= 3,
            "redis-cli --cluster create needs at least 3 masters"
        );
        let cli = require_backend_tool("redis-cli", "redis-tools")?;
        let nodes = (0..n)
            .map(|_| Backend::redis_cluster_node())
            .collect::<Option<Vec<_>>>()?;
        let cl = RedisCluster { nodes, cli };
        let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
        args.extend(cl.nodes.iter().map(Backend::host_port));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"].map(String::from));
        let out = cl.cli(&args, Duration::from_secs(60));
        assert!(
            out.status.success(),
            "redis-cli {args:?} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            cl.report()
        );
        cl.wait_consistent(crate::READY_TIMEOUT);
        Some(cl)
    }

    pub fn node(&self, i: usize) -> &Backend {
        &self.nodes[i]
    }

    pub fn nodes(&self) -> &[Backend] {
        &self.nodes
    }

    /// Node `i`'s id (CLUSTER MYID).
    pub fn id(&self, i: usize) -> String {
        cmd(&mut self.nodes[i].conn(), &["CLUSTER", "MYID"]).text()
    }

    /// Run redis-cli with `args` to completion (killed and a panic after `timeout`).
    pub fn cli<T: AsRef<std::ffi::OsStr>>(&self, args: &[T], timeout: Duration) -> Output {
        run_with_timeout(Command::new(&self.cli).args(args), timeout)
    }

    /// `redis-cli --cluster reshard <node from> --cluster-from <id> --cluster-to <id>
    /// --cluster-slots <slots> --cluster-yes`, running in the background.
    pub fn reshard(&self, from: usize, to: usize, slots: usize) -> CliJob {
        let args: Vec<String> = vec![
            "--cluster".into(),
            "reshard".into(),
            self.nodes[from].host_port(),
            "--cluster-from".into(),
            self.id(from),
            "--cluster-to".into(),
            self.id(to),
            "--cluster-slots".into(),
            slots.to_string(),
            "--cluster-yes".into(),
        ];
        CliJob::spawn(&self.cli, &args)
    }

    /// For every slot, the index of the node that owns it, once every node says
    /// `cluster_state:ok`, knows every node and has the same map as the others (polled
    /// until `timeout`, then a panic with what each node showed).
    pub fn wait_consistent(&self, timeout: Duration) -> Vec<usize> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            for (i, n) in self.nodes.iter().enumerate() {
                if let Some(st) = n.try_wait() {
                    panic!(
                        "cluster node {i} ({}) exited ({st})\n{}",
                        n.host_port(),
                        n.output()
                    );
                }
            }
            let last = match self.try_owners() {
                Ok(owners) => return owners,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for the Redis Cluster to agree \
                     (cluster_state:ok, every node known, one slot map)\nlast seen: {last}\n{}",
                    self.report()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// How many slots each node owns (once the map is agreed, as `wait_consistent`).
    pub fn slot_counts(&self, timeout: Duration) -> Vec<usize> {
        let mut counts = vec![0; self.nodes.len()];
        for o in self.wait_consistent(timeout) {
            counts[o] += 1;
        }
        counts
    }

    fn index_of(&self, addr: &str) -> Option<usize> {
        let port: u16 = addr.rsplit_once(':')?.1.parse().ok()?;
        self.nodes.iter().position(|n| n.port == port)
    }

    fn try_owners(&self) -> Result<Vec<usize>, String> {
        let want = self.nodes.len().to_string();
        let mut agreed: Option<Vec<usize>> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            let info = crate::cluster::try_cluster_info(n.addr())
                .ok_or_else(|| format!("node {i}: no answer to CLUSTER INFO"))?;
            let f = |k: &str| info.get(k).map_or("?", String::as_str).to_string();
            if f("cluster_state") != "ok" || f("cluster_known_nodes") != want {
                return Err(format!(
                    "node {i}: cluster_state:{} cluster_known_nodes:{}",
                    f("cluster_state"),
                    f("cluster_known_nodes")
                ));
            }
            let text = crate::cluster::try_cluster_nodes(n.addr())
                .ok_or_else(|| format!("node {i}: no answer to CLUSTER NODES"))?;
            let mut owner = vec![usize::MAX; CLUSTER_SLOTS];
            for l in crate::cluster::parse_nodes(&text) {
                if !l.flags.iter().any(|f| f == "master") {
                    continue;
                }
                let Some(j) = self.index_of(&l.addr) else {
                    return Err(format!("node {i} lists an unknown node {}", l.addr));
                };
                for s in l.slots {
                    owner[s as usize] = j;
                }
            }
            if let Some(s) = owner.iter().position(|&o| o == usize::MAX) {
                return Err(format!("node {i}: slot {s} (maybe more) has no owner"));
            }
            match &agreed {
                None => agreed = Some(owner),
                Some(a) if *a == owner => {}
                Some(a) => {
                    let s = (0..CLUSTER_SLOTS).find(|&s| a[s] != owner[s]).unwrap_or(0);
                    return Err(format!(
                        "node {i} says slot {s} is node {}'s, node 0 says node {}'s",
                        owner[s], a[s]
                    ));
                }
            }
        }
        agreed.ok_or_else(|| "no nodes".to_string())
    }

    /// Each node's CLUSTER INFO state, its CLUSTER NODES and its log, for a failure
    /// message.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            out.push_str(&format!(
                "=== redis cluster node {i} {} (bus {:?})\n",
                n.host_port(),
                n.bus_port
            ));
            match crate::cluster::try_cluster_info(n.addr()) {
                Some(info) => out.push_str(&format!(
                    "cluster_state:{} cluster_known_nodes:{}\n",
                    info.get("cluster_state").map_or("?", String::as_str),
                    info.get("cluster_known_nodes").map_or("?", String::as_str)
                )),
                None => out.push_str("(no answer to CLUSTER INFO)\n"),
            }
            if let Some(t) = crate::cluster::try_cluster_nodes(n.addr()) {
                out.push_str(&t);
                out.push('\n');
            }
            let log = n.output();
            let lines: Vec<&str> = log.lines().collect();
            out.push_str(&lines[lines.len().saturating_sub(15)..].join("\n"));
            out.push('\n');
        }
        out
    }
}

/// A command running in the background (`RedisCluster::reshard`): output to files, killed
/// on drop if it is still running.
pub struct CliJob {
    child: Mutex<Child>,
    desc: String,
    dir: TempDir,
}

impl CliJob {
    fn spawn(bin: &Path, args: &[String]) -> CliJob {
        let dir = TempDir::new("rcache-cli-job");
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout log");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr log");
        let desc = format!("{} {}", bin.display(), args.join(" "));
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
        CliJob {
            child: Mutex::new(child),
            desc,
            dir,
        }
    }

    /// Its exit status, once it has exited.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        self.child.lock().unwrap().try_wait().ok().flatten()
    }

    /// Wait for it to exit; past `timeout` kill it and panic with its output.
    pub fn wait(&self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait() {
                return st;
            }
            if Instant::now() >= deadline {
                kill_and_reap(&mut self.child.lock().unwrap());
                panic!(
                    "{} still running after {timeout:?}; killed\n{}",
                    self.desc,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What it printed (stdout, then stderr).
    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            read_log(self.dir.path(), "stdout.log"),
            read_log(self.dir.path(), "stderr.log")
        )
    }

    pub fn desc(&self) -> &str {
        &self.desc
    }
}

impl Drop for CliJob {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child.lock().unwrap());
    }
}

// ---------------------------------------------------------------------------------------
// nutcracker
// ---------------------------------------------------------------------------------------

/// `/usr/sbin/nutcracker -c conf -s <free> -a 127.0.0.1` with its pool listening on a free
/// port. Dropping it kills it.
pub struct Nutcracker {
    child: Mutex<Child>,
    addr: SocketAddr,
    stats: SocketAddr,
    dir: TempDir,
}

impl Nutcracker {
    /// `yaml` gets the listen address (`127.0.0.1:PORT`) and returns the config text (one
    /// pool). `None` when nutcracker is not installed and missing tools may be skipped.
    pub fn start(yaml: impl Fn(&str) -> String) -> Option<Nutcracker> {
        let bin = require_backend_tool("nutcracker", "nutcracker")?;
        let mut last = String::new();
        for _ in 0..3 {
            let dir = TempDir::new("rcache-nutcracker");
            let port = free_port();
            let mut stats_port = free_port();
            while stats_port == port {
                stats_port = free_port();
            }
            let conf = dir.path().join("nutcracker.yml");
            std::fs::write(&conf, yaml(&format!("127.0.0.1:{port}"))).expect("write conf");
            let log = std::fs::File::create(dir.path().join("output.log")).expect("log");
            let child = Command::new(&bin)
                .arg("-c")
                .arg(&conf)
                .args(["-s", &stats_port.to_string(), "-a", "127.0.0.1"])
                .arg("-o")
                .arg(dir.path().join("nutcracker.log"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let n = Nutcracker {
                child: Mutex::new(child),
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                stats: SocketAddr::from(([127, 0, 0, 1], stats_port)),
                dir,
            };
            let ready = poll_ready(
                "nutcracker",
                crate::READY_TIMEOUT,
                || {
                    TcpStream::connect_timeout(&n.addr, Duration::from_millis(500)).is_ok()
                        && read_to_eof(n.stats, Duration::from_secs(2))
                            .is_ok_and(|s| s.contains("\"service\""))
                },
                || n.child.lock().unwrap().try_wait().ok().flatten(),
            );
            match ready {
                Ok(()) => return Some(n),
                Err(e) => last = format!("{e}\n{}", n.output()),
            }
        }
        panic!("nutcracker did not start: {last}")
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr)
    }

    /// Its stats port's JSON document.
    pub fn stats_json(&self) -> String {
        read_to_eof(self.stats, Duration::from_secs(10)).expect("nutcracker stats")
    }

    pub fn output(&self) -> String {
        format!(
            "{}{}",
            read_log(self.dir.path(), "output.log"),
            read_log(self.dir.path(), "nutcracker.log")
        )
    }
}

impl Drop for Nutcracker {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child.lock().unwrap());
    }
}

// ---------------------------------------------------------------------------------------
// rcache proxy
// ---------------------------------------------------------------------------------------

/// How the proxy's pool listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenMode {
    /// A port picked free by the harness (`free_port`), retried on another when taken.
    FreePort,
    /// `127.0.0.1:0`: the proxy binds any free port and says which in `--ports-file`.
    PortZero,
}

pub struct ProxyBuilder<'a> {
    bin: PathBuf,
    yaml: Box<dyn Fn(&str) -> String + 'a>,
    args: Vec<String>,
    metrics: bool,
    threads: Option<usize>,
    listen: ListenMode,
}

impl ProxyBuilder<'_> {
    /// One more argument after `rcache proxy -c f.yml ...`.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Serve `--metrics-addr 127.0.0.1:0` (GET /metrics, GET /stats, POST /reload).
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// `--threads n` (default: one per core, as the binary decides).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// How the pool listens (default [`ListenMode::PortZero`]).
    pub fn listen(mut self, mode: ListenMode) -> Self {
        self.listen = mode;
        self
    }

    /// Spawn it and wait until its ports file is written (every pool bound, stats up).
    /// With a harness-picked port that turned out taken, it tries another (3 times).
    pub fn start(self) -> ProxyProcess {
        let attempts = if self.listen == ListenMode::FreePort {
            3
        } else {
            1
        };
        for attempt in 1..=attempts {
            let listen = match self.listen {
                ListenMode::FreePort => format!("127.0.0.1:{}", free_port()),
                ListenMode::PortZero => PROXY_LISTEN.to_string(),
            };
            let p = self.spawn(listen);
            let r = poll_ready(
                "rcache proxy",
                crate::READY_TIMEOUT,
                || {
                    p.read_ports()
                        .is_some_and(|v| v.iter().any(|(k, _)| k == "stats"))
                },
                || p.try_wait(),
            );
            match r {
                Ok(()) => {
                    *p.ports.lock().unwrap() = p.read_ports().expect("ports");
                    return p;
                }
                Err(e) if attempt < attempts && p.log().contains("in use") => {
                    eprintln!("rcache proxy did not start ({e}); retrying on another port");
                }
                Err(e) => panic!("rcache {:?}: {e}\n{}", p.argv, p.output()),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn spawn(&self, listen: String) -> ProxyProcess {
        let dir = TempDir::new("rcache-proxy");
        let conf = dir.path().join("proxy.yml");
        let ports_file = dir.path().join("ports");
        std::fs::write(&conf, (self.yaml)(&listen)).expect("write proxy.yml");
        let mut argv: Vec<String> = vec![
            "proxy".into(),
            "-c".into(),
            conf.display().to_string(),
            "-s".into(),
            "0".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-i".into(),
            "100".into(),
            "--ports-file".into(),
            ports_file.display().to_string(),
        ];
        if self.metrics {
            argv.extend(["--metrics-addr".into(), "127.0.0.1:0".into()]);
        }
        if let Some(n) = self.threads {
            argv.extend(["--threads".into(), n.to_string()]);
        }
        argv.extend(self.args.iter().cloned());
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout log");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr log");
        let child = Command::new(&self.bin)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .env("NO_COLOR", "1")
            .current_dir(dir.path())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {argv:?}: {e}", self.bin.display()));
        ProxyProcess {
            child: Mutex::new(child),
            conf,
            ports_file,
            ports: Mutex::new(Vec::new()),
            listen,
            argv,
            dir,
        }
    }
}

/// A running `rcache proxy`. Dropping it sends SIGTERM, then SIGKILL after 10 s.
pub struct ProxyProcess {
    child: Mutex<Child>,
    conf: PathBuf,
    ports_file: PathBuf,
    /// `(name, host:port)` from the ports file: pools, then `stats`, `metrics`.
    ports: Mutex<Vec<(String, String)>>,
    /// The listen address the config was written with (reloads keep it).
    listen: String,
    argv: Vec<String>,
    dir: TempDir,
}

impl ProxyProcess {
    /// `yaml` gets the listen address and returns the config text; it is called again for
    /// each start attempt.
    pub fn builder<'a>(
        bin: impl AsRef<Path>,
        yaml: impl Fn(&str) -> String + 'a,
    ) -> ProxyBuilder<'a> {
        ProxyBuilder {
            bin: bin.as_ref().to_path_buf(),
            yaml: Box::new(yaml),
            args: Vec::new(),
            metrics: false,
            threads: None,
            listen: ListenMode::PortZero,
        }
    }

    /// The listen address written in the config (`127.0.0.1:PORT`, or `127.0.0.1:0`).
    pub fn listen(&self) -> &str {
        &self.listen
    }

    fn read_ports(&self) -> Option<Vec<(String, String)>> {
        let s = std::fs::read_to_string(&self.ports_file).ok()?;
        Some(
            s.lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    /// Re-read the ports file (after a reload that added a pool).
    pub fn refresh_ports(&self) {
        if let Some(v) = self.read_ports() {
            *self.ports.lock().unwrap() = v;
        }
    }

    fn port_of(&self, name: &str) -> Option<SocketAddr> {
        self.ports
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.parse().unwrap_or_else(|e| panic!("address {v:?}: {e}")))
    }

    /// The address pool `name` listens on.
    pub fn pool_addr(&self, name: &str) -> SocketAddr {
        self.port_of(name).unwrap_or_else(|| {
            panic!(
                "no pool {name:?} in the ports file {:?}",
                self.ports.lock().unwrap()
            )
        })
    }

    /// What the ports file says for `name`, as written (`host:port`, or a unix socket's
    /// path).
    pub fn bound(&self, name: &str) -> Option<String> {
        self.ports
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The first pool's address.
    pub fn addr(&self) -> SocketAddr {
        let first = self.ports.lock().unwrap()[0].1.clone();
        first.parse().expect("pool address")
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr())
    }

    pub fn stats_addr(&self) -> SocketAddr {
        self.port_of("stats").expect("a stats port")
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.port_of("metrics")
            .expect("no metrics address: start with .metrics()")
    }

    /// The stats port's JSON document (refreshed every 100 ms: `-i 100`).
    pub fn stats_json(&self) -> String {
        read_to_eof(self.stats_addr(), Duration::from_secs(10)).expect("proxy stats")
    }

    /// One HTTP/1.1 request to the metrics address: (status, body).
    pub fn http(&self, method: &str, path: &str) -> (u16, String) {
        http(self.metrics_addr(), method, path)
    }

    /// `POST /reload`: (status, body).
    pub fn post_reload(&self) -> (u16, String) {
        self.http("POST", "/reload")
    }

    pub fn config_path(&self) -> &Path {
        &self.conf
    }

    /// Replace the config file (atomically: a reload never reads half a file); `yaml` gets
    /// the same listen address as at the start.
    pub fn write_config(&self, yaml: impl Fn(&str) -> String) {
        let tmp = self.dir.path().join("proxy.yml.new");
        std::fs::write(&tmp, yaml(&self.listen)).expect("write proxy.yml.new");
        std::fs::rename(&tmp, &self.conf).expect("rename proxy.yml");
    }

    pub fn sighup(&self) {
        assert!(
            send_signal(&mut self.child.lock().unwrap(), libc::SIGHUP),
            "SIGHUP: the proxy is not running\n{}",
            self.output()
        );
    }

    pub fn sigterm(&self) {
        let _ = send_signal(&mut self.child.lock().unwrap(), libc::SIGTERM);
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    pub fn try_wait(&self) -> Option<ExitStatus> {
        self.child.lock().unwrap().try_wait().ok().flatten()
    }

    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What it printed (stdout, then stderr: its log).
    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            read_log(self.dir.path(), "stdout.log"),
            read_log(self.dir.path(), "stderr.log")
        )
    }

    /// Its log so far (stderr).
    pub fn log(&self) -> String {
        read_log(self.dir.path(), "stderr.log")
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        self.sigterm();
        if self.wait_exit(Duration::from_secs(10)).is_none() {
            kill_and_reap(&mut self.child.lock().unwrap());
        }
    }
}

/// `rcache proxy <args> -c <file>` with `yaml` written to `<dir>/<file_name>`, run to
/// completion (`-t`, `-V`): its output and the config's path.
pub fn run_proxy_cli(
    bin: impl AsRef<Path>,
    file_name: &str,
    yaml: &str,
    args: &[&str],
) -> (Output, String) {
    let dir = TempDir::new("rcache-proxy-cli");
    let path = dir.path().join(file_name);
    std::fs::write(&path, yaml).expect("write config");
    let out = run_with_timeout(
        Command::new(bin.as_ref())
            .arg("proxy")
            .args(args)
            .arg("-c")
            .arg(&path)
            .env("NO_COLOR", "1"),
        Duration::from_secs(30),
    );
    (out, path.display().to_string())
}

/// Connect, read until the peer closes (a stats port).
pub fn read_to_eof(addr: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    let mut v = Vec::new();
    s.read_to_end(&mut v)?;
    Ok(String::from_utf8_lossy(&v).into_owned())
}

/// A minimal HTTP/1.1 client: one request with `Connection: close`, (status, body).
pub fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send request");
    let mut v = Vec::new();
    s.read_to_end(&mut v)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let text = String::from_utf8_lossy(&v).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: not HTTP: {text:?}"));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status in {head:?}"));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

// ---------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------

/// A parsed RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// Parse one complete frame (as `RawConn::read_reply` returns it).
    pub fn parse(b: &[u8]) -> Resp {
        let (r, n) =
            parse_at(b).unwrap_or_else(|| panic!("not RESP: {:?}", String::from_utf8_lossy(b)));
        assert_eq!(
            n,
            b.len(),
            "trailing bytes after a reply: {:?}",
            String::from_utf8_lossy(b)
        );
        r
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Resp::Error(_))
    }

    pub fn int(&self) -> i64 {
        match self {
            Resp::Int(n) => *n,
            o => panic!("expected an integer, got {o:?}"),
        }
    }

    /// A bulk string's or simple string's text (lossy); panics on anything else.
    pub fn text(&self) -> String {
        match self {
            Resp::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Resp::Simple(s) => s.clone(),
            o => panic!("expected a string, got {o:?}"),
        }
    }

    /// A bulk string, `None` for nil.
    pub fn bulk(&self) -> Option<String> {
        match self {
            Resp::Bulk(b) => b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
            o => panic!("expected a bulk string, got {o:?}"),
        }
    }

    pub fn array(&self) -> Vec<Resp> {
        match self {
            Resp::Array(Some(v)) => v.clone(),
            o => panic!("expected an array, got {o:?}"),
        }
    }
}

fn parse_at(b: &[u8]) -> Option<(Resp, usize)> {
    let nl = b.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&b[1..nl]).ok()?;
    let after = nl + 2;
    match *b.first()? {
        b'+' => Some((Resp::Simple(line.to_string()), after)),
        b'-' => Some((Resp::Error(line.to_string()), after)),
        b':' => Some((Resp::Int(line.parse().ok()?), after)),
        b'$' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((Resp::Bulk(None), after));
            }
            let end = after + n as usize;
            (b.len() >= end + 2).then(|| (Resp::Bulk(Some(b[after..end].to_vec())), end + 2))
        }
        b'*' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((Resp::Array(None), after));
            }
            let mut off = after;
            let mut v = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let (r, used) = parse_at(&b[off..])?;
                v.push(r);
                off += used;
            }
            Some((Resp::Array(Some(v)), off))
        }
        _ => None,
    }
}

/// Send one command, parse its reply.
pub fn cmd<T: AsRef<[u8]>>(c: &mut RawConn, args: &[T]) -> Resp {
    c.send_cmd(args);
    let r = c
        .read_reply(crate::raw::REPLY_TIMEOUT)
        .unwrap_or_else(|e| panic!("reply to {:?}: {e}", show_args(args)));
    Resp::parse(&r)
}

/// Send every command in one write, then read one reply per command.
pub fn pipeline<T: AsRef<[u8]>>(c: &mut RawConn, cmds: &[Vec<T>]) -> Vec<Resp> {
    let mut bytes = Vec::new();
    for a in cmds {
        bytes.extend_from_slice(&resp(a));
    }
    c.send(&bytes);
    (0..cmds.len())
        .map(|i| {
            let r = c
                .read_reply(crate::raw::REPLY_TIMEOUT)
                .unwrap_or_else(|e| panic!("reply {i} of a pipeline of {}: {e}", cmds.len()));
            Resp::parse(&r)
        })
        .collect()
}

fn show_args<T: AsRef<[u8]>>(args: &[T]) -> Vec<String> {
    args.iter()
        .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
        .collect()
}

/// A memcached text-protocol connection: one request's bytes in, its whole reply out.
pub struct McConn {
    sock: TcpStream,
    pending: Vec<u8>,
}

impl McConn {
    pub fn connect(addr: SocketAddr) -> McConn {
        let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        sock.set_nodelay(true).unwrap();
        McConn {
            sock,
            pending: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &str) {
        self.sock.write_all(bytes.as_bytes()).expect("send");
    }

    /// Send `req`, return one complete reply (a line, or VALUE blocks through END).
    pub fn request(&mut self, req: &str) -> String {
        self.send(req);
        self.reply()
    }

    /// The next complete reply, or panic after 10 s.
    pub fn reply(&mut self) -> String {
        self.try_reply(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("memcached reply: {e}"))
    }

    /// The next complete reply within `timeout`.
    pub fn try_reply(&mut self, timeout: Duration) -> std::io::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = mc_frame_len(&self.pending) {
                let rest = self.pending.split_off(n);
                let r = std::mem::replace(&mut self.pending, rest);
                return Ok(String::from_utf8_lossy(&r).into_owned());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no complete reply; got {:?}",
                        String::from_utf8_lossy(&self.pending)
                    ),
                ));
            }
            self.sock.set_read_timeout(Some(deadline - now))?;
            let mut chunk = [0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("closed; got {:?}", String::from_utf8_lossy(&self.pending)),
                    ))
                }
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The length of the complete memcached reply at the start of `b`: VALUE blocks up to and
/// including END, or one line.
fn mc_frame_len(b: &[u8]) -> Option<usize> {
    let mut pos = 0;
    if !b.starts_with(b"VALUE ") {
        return b.windows(2).position(|w| w == b"\r\n").map(|n| n + 2);
    }
    loop {
        let rest = &b[pos..];
        let nl = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = &rest[..nl];
        if line == b"END" {
            return Some(pos + nl + 2);
        }
        if !line.starts_with(b"VALUE ") {
            // Something else after VALUE blocks: treat the line as the end.
            return Some(pos + nl + 2);
        }
        let len: usize = std::str::from_utf8(line)
            .ok()?
            .split_whitespace()
            .nth(3)?
            .parse()
            .ok()?;
        let end = pos + nl + 2 + len + 2;
        if b.len() < end {
            return None;
        }
        pos = end;
    }
}
