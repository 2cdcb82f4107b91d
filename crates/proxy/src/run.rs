//! The proxy process: worker threads, listeners, the stats port, signals and live reload.
//!
//! ```text
//!  main thread (control runtime): one acceptor per pool ─ round robin ─► worker 0..N-1
//!                                 stats port, /metrics + /reload, SIGHUP → reload,
//!                                 rebalancing movers
//!  worker thread i (its own single-threaded runtime): client connections, and its own
//!                                 pipelined connections to every backend
//! ```
//! A reload parses the file first (a bad file changes nothing), binds any new listen
//! address next (a failed bind changes nothing), then swaps each pool's state: requests
//! already parsed finish on the state they started with, later ones use the new one;
//! no client connection is closed. Servers that did not change keep their connections and
//! counters.

use crate::backend::Proto;
use crate::cli::ProxyArgs;
use crate::config::{Listen, PoolConfig, ProxyConfig};
use crate::pool::{Pool, PoolState, Previous};
use crate::server::{BackendOpts, Endpoint, Server};
use crate::stats::{self, Global};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Work handed to a worker thread.
enum Job {
    Tcp(std::net::TcpStream, Arc<Pool>),
    Unix(std::os::unix::net::UnixStream, Arc<Pool>),
    /// Open this worker's connections to every server of the pool (`preconnect`).
    Preconnect(Arc<Pool>),
}

/// A pool being served: its listener's stop switch and bound address.
struct Served {
    pool: Arc<Pool>,
    listen: Listen,
    bound: String,
    stop: Option<oneshot::Sender<()>>,
}

pub struct Proxy {
    conf: std::path::PathBuf,
    workers: Vec<mpsc::UnboundedSender<Job>>,
    served: Mutex<Vec<Served>>,
    pub global: Global,
    next_worker: AtomicUsize,
    started: Instant,
    snapshot: Mutex<String>,
    ports_file: Option<std::path::PathBuf>,
    extra_ports: Mutex<Vec<(String, String)>>,
}

enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

fn bind(listen: &Listen, backlog: u32, reuseport: bool) -> std::io::Result<(Listener, String)> {
    match listen {
        Listen::Tcp { host, port } => {
            use std::net::ToSocketAddrs;
            let h = host.trim_start_matches('[').trim_end_matches(']');
            let addr = (h, *port).to_socket_addrs()?.next().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("cannot resolve {host}"),
                )
            })?;
            let sock = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )?;
            sock.set_reuse_address(true)?;
            // `reuseport: true`: several proxies may listen on the same address.
            if reuseport {
                sock.set_reuse_port(true)?;
            }
            sock.set_nonblocking(true)?;
            sock.bind(&addr.into())?;
            sock.listen(backlog.clamp(1, i32::MAX as u32) as i32)?;
            let l = tokio::net::TcpListener::from_std(sock.into())?;
            let bound = l.local_addr()?.to_string();
            Ok((Listener::Tcp(l), bound))
        }
        Listen::Unix { path, perm } => {
            if let Ok(m) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt;
                if m.file_type().is_socket() {
                    let _ = std::fs::remove_file(path);
                }
            }
            let l = tokio::net::UnixListener::bind(path)?;
            if let Some(p) = perm {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(*p))?;
            }
            Ok((Listener::Unix(l), path.display().to_string()))
        }
    }
}

fn opts_of(cfg: &PoolConfig) -> BackendOpts {
    BackendOpts {
        proto: if cfg.redis {
            Proto::Redis
        } else {
            Proto::Memcache
        },
        auth: cfg.redis_auth.clone(),
        db: cfg.redis_db,
        timeout: cfg.timeout_ms.map(Duration::from_millis),
        connections: cfg.server_connections.max(1) as usize,
        auto_eject: cfg.auto_eject_hosts,
        failure_limit: cfg.server_failure_limit,
        retry_timeout: Duration::from_millis(cfg.server_retry_timeout_ms),
    }
}

/// The placement-relevant shape of a pool (a reload that changes it moves keys).
fn placement_of(cfg: &PoolConfig, servers: &[Arc<Server>]) -> String {
    let mut s = format!("{}|{}|{:?}", cfg.hash, cfg.distribution, cfg.hash_tag);
    for sv in servers {
        s.push_str(&format!("|{}:{}@{}", sv.name, sv.weight, sv.endpoint));
    }
    s
}

/// A pool state for `cfg`, keeping the unchanged servers of `old`.
fn build_state(
    cfg: PoolConfig,
    old: Option<&Pool>,
    health: &Arc<AtomicU64>,
    slots: usize,
) -> PoolState {
    let opts = opts_of(&cfg);
    let old_state = old.map(|p| p.state());
    let servers: Vec<Arc<Server>> = cfg
        .servers
        .iter()
        .map(|sc| {
            let endpoint = match &sc.unix {
                Some(p) => Endpoint::Unix(p.clone()),
                None => Endpoint::Tcp {
                    host: sc.host.clone(),
                    port: sc.port,
                },
            };
            let name = sc.twemproxy_name();
            let label = sc.name.clone().unwrap_or_else(|| endpoint.to_string());
            if let Some(prev) = old_state.as_ref().and_then(|st| {
                st.servers.iter().find(|s| {
                    s.endpoint == endpoint
                        && s.name == name
                        && s.label == label
                        && s.weight == sc.weight
                        && s.opts == opts
                })
            }) {
                return prev.clone();
            }
            Arc::new(Server::new(
                endpoint,
                name,
                label,
                sc.weight,
                opts.clone(),
                slots,
                health.clone(),
            ))
        })
        .collect();
    // Rebalancing: where keys were, when placement changes.
    let previous = match (&old_state, cfg.rebalance) {
        (Some(o), true) if placement_of(&o.cfg, &o.servers) != placement_of(&cfg, &servers) => {
            let mut sources = vec![o.as_source()];
            if let Some(p) = &o.previous {
                if !p.done.load(Relaxed) {
                    sources.extend(p.sources.iter().map(|s| crate::pool::Source {
                        servers: s.servers.clone(),
                        continuum: s.continuum.clone(),
                        hash: s.hash,
                        tag: s.tag,
                    }));
                }
            }
            Some(Arc::new(Previous {
                sources,
                done: AtomicBool::new(false),
            }))
        }
        (Some(o), true) => o.previous.clone(),
        _ => None,
    };
    // A cluster pool keeps its slot map (and discovered nodes) across a reload that does
    // not change its seeds or connection options.
    let kept = old_state
        .as_ref()
        .and_then(|o| o.cluster.clone())
        .filter(|m| cfg.cluster && m.same_seeds(&servers, &opts));
    let cluster = kept.or_else(|| {
        cfg.cluster.then(|| {
            Arc::new(crate::cluster::SlotMap::new(
                servers.clone(),
                opts.clone(),
                slots,
                health.clone(),
            ))
        })
    });
    PoolState::new(cfg, servers, health.clone(), previous, cluster)
}

impl Proxy {
    fn worker_for(&self) -> &mpsc::UnboundedSender<Job> {
        let i = self.next_worker.fetch_add(1, Relaxed) % self.workers.len();
        &self.workers[i]
    }

    /// The slot index the control runtime uses in each server's connection table.
    fn control_slot(&self) -> usize {
        self.workers.len()
    }

    fn start_acceptor(self: &Arc<Self>, l: Listener, pool: Arc<Pool>) -> oneshot::Sender<()> {
        let (stop_tx, mut stop) = oneshot::channel::<()>();
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let job = tokio::select! {
                    _ = &mut stop => return,
                    r = accept(&l, &pool) => r,
                };
                match job {
                    Ok(job) => {
                        let _ = me.worker_for().send(job);
                    }
                    Err(e) => {
                        tracing::warn!("pool {}: accept failed: {e}", pool.name);
                        // Out of file descriptors and the like: do not spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
        stop_tx
    }

    /// Start or reload every pool from the config file. `Err` leaves everything as it was.
    pub fn load(self: &Arc<Self>) -> Result<String, String> {
        let cfg = ProxyConfig::load(&self.conf).map_err(|e| e.to_string())?;
        let mut served = self.served.lock();
        // Bind what is new first: a failure here changes nothing.
        let mut binds: Vec<Option<(Listener, String)>> = Vec::new();
        for pc in &cfg.pools {
            let same = served
                .iter()
                .any(|s| s.pool.name == pc.name && same_listen(&s.listen, &pc.listen));
            if same {
                binds.push(None);
            } else {
                // A pool moving to a listen address another pool is leaving: bind after
                // that one stops (not supported in one reload; say so).
                let l = bind(&pc.listen, pc.backlog, pc.reuseport).map_err(|e| {
                    format!(
                        "pool {}: cannot listen on {}: {e}",
                        pc.name,
                        show(&pc.listen)
                    )
                })?;
                binds.push(Some(l));
            }
        }
        let slots = self.workers.len() + 1;
        let mut next: Vec<Served> = Vec::new();
        let mut changes = Vec::new();
        for (pc, bound) in cfg.pools.into_iter().zip(binds) {
            let existing = served.iter().position(|s| s.pool.name == pc.name);
            let preconnect = pc.preconnect;
            let pool = match existing {
                Some(i) => {
                    let old = served.remove(i);
                    let st =
                        build_state(pc.clone(), Some(&old.pool), &old.pool.health_epoch, slots);
                    old.pool.set_state(st);
                    changes.push(format!("pool {} updated", pc.name));
                    match bound {
                        None => {
                            // Same socket; a changed permission is applied in place (a
                            // rebind would unlink the path the running listener has).
                            if let Listen::Unix {
                                path,
                                perm: Some(p),
                            } = &pc.listen
                            {
                                use std::os::unix::fs::PermissionsExt;
                                let _ = std::fs::set_permissions(
                                    path,
                                    std::fs::Permissions::from_mode(*p),
                                );
                            }
                            let mut old = old;
                            old.listen = pc.listen.clone();
                            next.push(old);
                            next.last().expect("pushed").pool.clone()
                        }
                        Some((l, addr)) => {
                            drop(old.stop);
                            let stop = self.start_acceptor(l, old.pool.clone());
                            changes.push(format!("pool {} now listens on {addr}", pc.name));
                            next.push(Served {
                                pool: old.pool.clone(),
                                listen: pc.listen.clone(),
                                bound: addr,
                                stop: Some(stop),
                            });
                            old.pool
                        }
                    }
                }
                None => {
                    let health = Arc::new(AtomicU64::new(0));
                    let st = build_state(pc.clone(), None, &health, slots);
                    let pool = Arc::new(Pool::new(pc.name.clone(), st, health));
                    let (l, addr) = bound.expect("a new pool was bound");
                    let stop = self.start_acceptor(l, pool.clone());
                    changes.push(format!("pool {} listens on {addr}", pc.name));
                    next.push(Served {
                        pool: pool.clone(),
                        listen: pc.listen.clone(),
                        bound: addr,
                        stop: Some(stop),
                    });
                    pool
                }
            };
            let st = pool.state();
            if st.previous.as_ref().is_some_and(|p| !p.done.load(Relaxed)) {
                tokio::spawn(crate::rebalance::mover(
                    pool.clone(),
                    st,
                    self.control_slot(),
                ));
            }
            if preconnect {
                for w in &self.workers {
                    let _ = w.send(Job::Preconnect(pool.clone()));
                }
            }
        }
        // Pools no longer in the file stop listening; their clients keep being served.
        for gone in served.drain(..) {
            changes.push(format!("pool {} removed", gone.pool.name));
            if let Listen::Unix { path, .. } = &gone.listen {
                let _ = std::fs::remove_file(path);
            }
        }
        *served = next;
        drop(served);
        self.refresh_snapshot();
        self.write_ports();
        Ok(changes.join("; "))
    }

    pub fn pools(&self) -> Vec<Arc<Pool>> {
        self.served.lock().iter().map(|s| s.pool.clone()).collect()
    }

    fn refresh_snapshot(&self) {
        let j = stats::json(&self.pools(), &self.global, self.started);
        *self.snapshot.lock() = j;
    }

    fn write_ports(&self) {
        let Some(path) = &self.ports_file else { return };
        let mut s = String::new();
        for sv in self.served.lock().iter() {
            s.push_str(&format!("{} {}\n", sv.pool.name, sv.bound));
        }
        for (k, v) in self.extra_ports.lock().iter() {
            s.push_str(&format!("{k} {v}\n"));
        }
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, s).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

/// The same listening socket: equal TCP addresses, or the same unix path (whatever the
/// permission).
fn same_listen(a: &Listen, b: &Listen) -> bool {
    match (a, b) {
        (Listen::Unix { path: p, .. }, Listen::Unix { path: q, .. }) => p == q,
        _ => a == b,
    }
}

fn show(l: &Listen) -> String {
    match l {
        Listen::Tcp { host, port } => format!("{host}:{port}"),
        Listen::Unix { path, .. } => path.display().to_string(),
    }
}

async fn accept(l: &Listener, pool: &Arc<Pool>) -> std::io::Result<Job> {
    match l {
        Listener::Tcp(l) => {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            // `tcpkeepalive: true`, as nutcracker: SO_KEEPALIVE on client connections.
            if pool.state().cfg.tcpkeepalive {
                let _ = socket2::SockRef::from(&s).set_keepalive(true);
            }
            Ok(Job::Tcp(s.into_std()?, pool.clone()))
        }
        Listener::Unix(l) => {
            let (s, _) = l.accept().await?;
            Ok(Job::Unix(s.into_std()?, pool.clone()))
        }
    }
}

/// One client connection on a worker.
async fn client<S>(sock: S, pool: Arc<Pool>, worker: usize, conn_no: usize, global: Arc<Proxy>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // `client_connections` is not enforced: nutcracker 0.5.0 parses it and then resets it
    // to 0 (unlimited), and configs in the wild rely on that.
    pool.stats.client_connections.fetch_add(1, Relaxed);
    global.global.total_connections.fetch_add(1, Relaxed);
    global.global.curr_connections.fetch_add(1, Relaxed);
    if pool.state().cfg.redis {
        crate::redis::serve(
            sock,
            crate::redis::Client::new(pool.clone(), worker, conn_no),
        )
        .await;
    } else {
        crate::memcache::serve(sock, pool.clone(), worker, conn_no).await;
    }
    pool.stats.client_connections.fetch_sub(1, Relaxed);
    global.global.curr_connections.fetch_sub(1, Relaxed);
}

fn worker(i: usize, mut rx: mpsc::UnboundedReceiver<Job>, proxy: Arc<Proxy>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a worker runtime");
    rt.block_on(async move {
        let mut n = 0usize;
        while let Some(job) = rx.recv().await {
            n = n.wrapping_add(1);
            match job {
                Job::Tcp(s, pool) => match tokio::net::TcpStream::from_std(s) {
                    Ok(s) => {
                        tokio::spawn(client(s, pool, i, n, proxy.clone()));
                    }
                    Err(e) => tracing::warn!("worker {i}: {e}"),
                },
                Job::Unix(s, pool) => match tokio::net::UnixStream::from_std(s) {
                    Ok(s) => {
                        tokio::spawn(client(s, pool, i, n, proxy.clone()));
                    }
                    Err(e) => tracing::warn!("worker {i}: {e}"),
                },
                Job::Preconnect(pool) => {
                    for s in &pool.state().all_servers() {
                        for c in 0..s.opts.connections {
                            // Nobody waits for the (immediate) answer: the batch only opens the connection.
                            drop(s.handle(i, c).send(Vec::new(), 0, 0));
                        }
                    }
                }
            }
        }
    });
}

/// Serve the stats port: every connection gets the latest JSON document and is closed.
async fn stats_port(l: tokio::net::TcpListener, proxy: Arc<Proxy>) {
    use tokio::io::AsyncWriteExt;
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let doc = proxy.snapshot.lock().clone();
        tokio::spawn(async move {
            let _ = s.write_all(doc.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

/// `GET /metrics` (Prometheus) and `POST /reload` on the metrics address.
async fn metrics_port(l: tokio::net::TcpListener, proxy: Arc<Proxy>) {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::{Method, Response, StatusCode};
    loop {
        let Ok((s, _)) = l.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let proxy = proxy.clone();
                    async move {
                        let (code, body) = match (req.method(), req.uri().path()) {
                            (&Method::GET, "/metrics") => (
                                StatusCode::OK,
                                stats::prometheus(&proxy.pools(), &proxy.global),
                            ),
                            (&Method::GET, "/stats") => (
                                StatusCode::OK,
                                stats::json(&proxy.pools(), &proxy.global, proxy.started),
                            ),
                            (&Method::POST, "/reload") => match proxy.load() {
                                Ok(c) => (StatusCode::OK, format!("reloaded: {c}\n")),
                                Err(e) => (
                                    StatusCode::UNPROCESSABLE_ENTITY,
                                    format!(
                                        "reload rejected, the running configuration stays: {e}\n"
                                    ),
                                ),
                            },
                            _ => (
                                StatusCode::NOT_FOUND,
                                "GET /metrics, GET /stats, POST /reload\n".into(),
                            ),
                        };
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(code)
                                .header("content-type", "text/plain; charset=utf-8")
                                .body(Full::new(Bytes::from(body)))
                                .expect("a valid response"),
                        )
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                .await;
        });
    }
}

fn log_filter(v: u8) -> &'static str {
    match v {
        0..=3 => "error",
        4 => "warn",
        5 | 6 => "info",
        7 | 8 => "debug",
        _ => "trace",
    }
}

/// `rcache proxy …`: the process's exit code.
pub fn main(args: ProxyArgs) -> i32 {
    if args.version {
        // On stderr, as nutcracker prints it.
        eprintln!(
            "This is rcache proxy-{} (twemproxy {} compatible)",
            env!("CARGO_PKG_VERSION"),
            crate::cli::TWEMPROXY_VERSION
        );
        return 0;
    }
    if args.describe_stats {
        eprint!("{}", stats::describe());
        return 0;
    }
    let file = args.conf_file.display().to_string();
    let cfg = ProxyConfig::load(&args.conf_file);
    if args.test_conf {
        return match cfg {
            Ok(_) => {
                eprintln!("rcache proxy: configuration file '{file}' syntax is ok");
                0
            }
            Err(e) => {
                eprintln!("{e}");
                eprintln!("rcache proxy: configuration file '{file}' syntax is invalid");
                1
            }
        };
    }
    if let Err(e) = cfg {
        eprintln!("{e}");
        eprintln!("rcache proxy: configuration file '{file}' syntax is invalid");
        return 1;
    }
    if args.daemonize {
        return daemonize();
    }
    init_logging(&args);
    if let Some(p) = &args.pid_file {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            eprintln!("rcache proxy: cannot write pid file {}: {e}", p.display());
            return 1;
        }
    }
    let code = serve(args.clone());
    if let Some(p) = &args.pid_file {
        let _ = std::fs::remove_file(p);
    }
    code
}

/// `-d`: start the same command without `-d` in the background, detached from this
/// terminal's process group, and return.
fn daemonize() -> i32 {
    use std::os::unix::process::CommandExt;
    let me = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rcache proxy: cannot daemonize: {e}");
            return 1;
        }
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "-d" && a != "--daemonize")
        .collect();
    match std::process::Command::new(me)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
    {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("rcache proxy: cannot daemonize: {e}");
            1
        }
    }
}

fn init_logging(args: &ProxyArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(args.verbose)));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    match &args.output {
        Some(p) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => {
                let _ = b.with_writer(std::sync::Mutex::new(f)).try_init();
            }
            Err(e) => {
                eprintln!(
                    "rcache proxy: cannot open log file {}: {e}; logging to stderr",
                    p.display()
                );
                let _ = b.with_writer(std::io::stderr).try_init();
            }
        },
        None => {
            let _ = b.with_writer(std::io::stderr).try_init();
        }
    }
}

fn serve(args: ProxyArgs) -> i32 {
    // Default: one worker per core but one, at least one. The control thread (accepts,
    // reloads, stats, movers) and the kernel's network work need a core too; on 2 cores
    // shared with backends and clients one worker beats two (docs/BENCHMARKS.md).
    let n = args
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1))
        })
        .max(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the control runtime");
    let mut txs = Vec::new();
    let mut rxs = Vec::new();
    for _ in 0..n {
        let (tx, rx) = mpsc::unbounded_channel();
        txs.push(tx);
        rxs.push(rx);
    }
    let proxy = Arc::new(Proxy {
        conf: args.conf_file.clone(),
        workers: txs,
        served: Mutex::new(Vec::new()),
        global: Global::default(),
        next_worker: AtomicUsize::new(0),
        started: Instant::now(),
        snapshot: Mutex::new(String::new()),
        ports_file: args.ports_file.clone(),
        extra_ports: Mutex::new(Vec::new()),
    });
    for (i, rx) in rxs.into_iter().enumerate() {
        let p = proxy.clone();
        std::thread::Builder::new()
            .name(format!("proxy-worker-{i}"))
            .spawn(move || worker(i, rx, p))
            .expect("a worker thread");
    }
    rt.block_on(async move {
        let stats_addr = format!("{}:{}", args.stats_addr, args.stats_port);
        match tokio::net::TcpListener::bind(&stats_addr).await {
            Ok(l) => {
                if let Ok(a) = l.local_addr() {
                    proxy.extra_ports.lock().push(("stats".into(), a.to_string()));
                }
                tokio::spawn(stats_port(l, proxy.clone()));
            }
            Err(e) => {
                tracing::error!("cannot listen for stats on {stats_addr}: {e}");
                return 1;
            }
        }
        if let Some(m) = &args.metrics_addr {
            match tokio::net::TcpListener::bind(m).await {
                Ok(l) => {
                    if let Ok(a) = l.local_addr() {
                        proxy.extra_ports.lock().push(("metrics".into(), a.to_string()));
                    }
                    tokio::spawn(metrics_port(l, proxy.clone()));
                }
                Err(e) => {
                    tracing::error!("cannot listen for metrics on {m}: {e}");
                    return 1;
                }
            }
        }
        match proxy.load() {
            Ok(c) => tracing::info!(
                "rcache proxy {} started with {} worker threads: {c}",
                env!("CARGO_PKG_VERSION"),
                n
            ),
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("rcache proxy: {e}");
                return 1;
            }
        }
        let interval = Duration::from_millis(args.stats_interval.max(1));
        let p2 = proxy.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                p2.refresh_snapshot();
            }
        });
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return 1;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => match proxy.load() {
                    Ok(c) => tracing::info!("configuration reloaded: {c}"),
                    Err(e) => tracing::error!("reload rejected, the running configuration stays: {e}"),
                },
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        tracing::info!("rcache proxy exiting");
        // Unix listen sockets are files: leave none behind.
        for sv in proxy.served.lock().iter() {
            if let Listen::Unix { path, .. } = &sv.listen {
                let _ = std::fs::remove_file(path);
            }
        }
        0
    })
}
