//! The rcache server: accepts connections, runs the request loop, owns background tasks.
//!
//! ```text
//!  TcpListener ──accept──► conn::serve (one task per client; RESP, binary, memcached)
//!               └─ HTTP ──► http::serve on the next I/O thread (round-robin; hyper)
//!       read into rbuf ─► parse every complete request ─► commands::execute ─► wbuf
//!       ─► one write per batch (pipelining) ─► repeat
//!  cron: active expiry (hz), ops/sec sampling        shutdown: SIGTERM/SIGINT or SHUTDOWN
//! ```

pub mod binary;
pub mod cli;
pub mod cluster;
pub mod conn;
pub mod cron;
pub mod door;
pub mod http;
pub mod io;
pub mod memcache;
pub mod metrics;
pub mod sock;

use commands::config::Settings;
use commands::{Door, ServerState};
use io::{Inbound, IoThreads};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use storage::Clock;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

/// A bound server, ready to serve.
///
/// Threading: one current-thread tokio runtime per I/O thread (`threads`, default one per
/// core). Thread 0 accepts; connections move to other threads only while the machine has
/// idle CPU (`io`), and otherwise never leave their thread (no work stealing, no
/// cross-thread wake-ups). Measured in docs/BENCHMARKS.md. All threads share one
/// `ServerState`; the keyspace's shard locks are the only synchronisation on the request
/// path.
pub struct Server {
    pub state: Arc<ServerState>,
    /// Every open door's listener, RESP's first.
    listeners: Vec<(Door, std::net::TcpListener)>,
    addr: SocketAddr,
    /// Cluster mode: the bus listener and the cluster thread's set-up (`cluster`).
    cluster: Option<cluster::Setup>,
}

/// The TCP doors this build serves besides RESP, each with its port setting and default.
/// (A door is listed here once its codec is in `door::AnyCodec` or it has its own server.)
const EXTRA_DOORS: &[Door] = &[Door::Http, Door::Binary, Door::Memcache];

/// A door's configured port (`DOOR_OFF` = closed) and its default.
fn door_port(settings: &Settings, door: Door) -> (i64, i64) {
    use commands::config as c;
    match door {
        Door::Resp => (i64::from(settings.port.load(Relaxed)), 6379),
        Door::Http => (settings.http_port.load(Relaxed), c::DEFAULT_HTTP_PORT),
        Door::Binary => (settings.binary_port.load(Relaxed), c::DEFAULT_BINARY_PORT),
        Door::Memcache => (
            settings.memcache_port.load(Relaxed),
            c::DEFAULT_MEMCACHE_PORT,
        ),
    }
}

/// A listening socket (SO_REUSEADDR, so a restart does not wait for TIME_WAIT; no
/// SO_REUSEPORT, so a second server on the same port fails with "address in use") with
/// `tcp-backlog` pending connections (the kernel caps it at net.core.somaxconn).
pub(crate) fn bind_listener(
    addr: SocketAddr,
    backlog: i32,
) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

impl Server {
    /// Bind to the configured address and port (port 0 picks a free one).
    pub fn bind(settings: Arc<Settings>, clock: Arc<dyn Clock>) -> std::io::Result<Server> {
        let bind = settings.bind.read().clone();
        let port = settings.port.load(Relaxed);
        let addr = (bind.as_str(), port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("cannot resolve {bind}"),
                )
            })?;
        let backlog = settings.value("tcp-backlog").parse().unwrap_or(511);
        let listener = bind_listener(addr, backlog)?;
        let addr = listener.local_addr()?;
        let state = ServerState::new_shared(settings.clone(), clock);
        // The ACL file (`aclfile`): any error in it stops the server, as in Redis.
        commands::acl::load_at_startup(&state)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        state.bound_port.store(addr.port(), Relaxed);
        let mut listeners = vec![(Door::Resp, listener)];
        let cluster_on = cluster::enabled(&settings);
        for &door in EXTRA_DOORS {
            let (port, default) = door_port(&settings, door);
            if port == commands::config::DOOR_OFF {
                continue;
            }
            let at = SocketAddr::new(addr.ip(), port as u16);
            match bind_listener(at, backlog) {
                Ok(l) => {
                    let bound = l.local_addr()?;
                    state.door_ports[door as usize].store(bound.port(), Relaxed);
                    listeners.push((door, l));
                }
                // A default port that is taken (a second rcache, a real memcached) closes
                // that door with a warning; a port the user chose is an error.
                Err(e) if port == default => tracing::warn!(
                    "{} door closed: cannot listen on {at}: {e} (set --{}-port)",
                    door.name(),
                    door.name()
                ),
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("{} door: cannot listen on {at}: {e}", door.name()),
                    ))
                }
            }
        }
        let cluster = if cluster_on {
            let http = listeners
                .iter()
                .find(|(d, _)| *d == Door::Http)
                .and_then(|(_, l)| l.local_addr().ok());
            let setup = cluster::setup(&state, addr, http, backlog)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            Some(setup)
        } else {
            None
        };
        Ok(Server {
            state,
            listeners,
            addr,
            cluster,
        })
    }

    /// The address a door listens on, if open.
    pub fn door_addr(&self, door: Door) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(d, _)| *d == door)
            .and_then(|(_, l)| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The number of I/O threads `run` will use.
    pub fn io_threads(&self) -> usize {
        match self.state.settings.threads.load(Relaxed) {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n as usize,
        }
    }

    /// Serve until shutdown is requested (SHUTDOWN, or `state.request_shutdown()`), then
    /// close every client and return. The calling task serves as I/O thread 0 (it accepts
    /// and runs the balancer); the others run on threads of their own. See `io`.
    pub async fn run(self) {
        let n = self.io_threads();
        let Server {
            state,
            listeners,
            addr: _,
            cluster,
        } = self;
        let mut bus = None;
        let mut cluster_thread = None;
        if let Some(setup) = cluster {
            match cluster::start(state.clone(), &setup) {
                Ok(t) => cluster_thread = Some(t),
                Err(e) => {
                    tracing::error!("cannot start the cluster thread: {e}");
                    state.request_shutdown();
                }
            }
            bus = Some(setup.bus);
        }
        let (io, mut receivers) = IoThreads::new(n);
        let io = Arc::new(io);
        let rx0 = receivers.remove(0);
        let mut threads = Vec::new();
        for (i, rx) in receivers.into_iter().enumerate() {
            let (st, io2) = (state.clone(), io.clone());
            let t = std::thread::Builder::new()
                .name(format!("rcache-io-{}", i + 1))
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .thread_stack_size(commands::scripting::SCRIPT_THREAD_STACK)
                        .build()
                    {
                        Ok(rt) => rt.block_on(io_thread(st, io2, i + 1, rx, Vec::new(), None)),
                        Err(e) => tracing::error!("I/O thread: cannot start runtime: {e}"),
                    }
                });
            match t {
                Ok(t) => threads.push(t),
                Err(e) => tracing::warn!("cannot start I/O thread {}: {e}", i + 1),
            }
        }
        load_snapshot(&state);
        let cron = tokio::spawn(cron::run(state.clone()));
        let balancer = (n > 1).then(|| {
            let st = state.clone();
            tokio::spawn(io::balance(io.clone(), move || {
                st.stats.total_commands_processed.get()
            }))
        });
        io_thread(state.clone(), io.clone(), 0, rx0, listeners, bus).await;
        if let Some(t) = cluster_thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        for t in threads {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        cron.abort();
        if let Some(b) = balancer {
            b.abort();
        }
        // Every client is gone: the final snapshot (save policy or SHUTDOWN SAVE).
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            commands::persistence::save_on_shutdown(&st);
            // The log's last writes reach the disk before the process goes.
            commands::aof::stop_log(&st);
        })
        .await;
        tracing::info!("rcache is now ready to exit, bye bye...");
    }
}

/// Load the data directory's snapshot, if any, on a thread of its own while the server
/// starts serving: commands answer LOADING until it is done. A file that cannot be read
/// stops the server (`load_failed`), so it never runs with part of its data.
fn load_snapshot(state: &Arc<ServerState>) {
    let p = &state.persistence;
    if !commands::persistence::has_startup_file(state) {
        // Nothing to load: no LOADING window at all; only the directory's lock to take.
        if let Err(e) = commands::persistence::load_at_startup(state) {
            tracing::error!("{e}");
            p.load_failed.store(true, Relaxed);
            state.request_shutdown();
        }
        return;
    }
    p.loading.store(true, Relaxed);
    let st = state.clone();
    let r = std::thread::Builder::new()
        .name("rcache-load".into())
        .spawn(move || match commands::persistence::load_at_startup(&st) {
            Ok(_) => st.persistence.loading.store(false, Relaxed),
            Err(e) => {
                tracing::error!("{e}");
                tracing::error!(
                    "refusing to start with part of the data: repair or move the file \
                     (`rcache check-snapshot FILE` says what is wrong)"
                );
                st.persistence.load_failed.store(true, Relaxed);
                st.request_shutdown();
            }
        });
    if let Err(e) = r {
        tracing::error!("cannot start the loader thread: {e}");
        p.load_failed.store(true, Relaxed);
        state.request_shutdown();
    }
}

/// Accept on whichever listener has a connection first.
async fn accept_any(
    listeners: &[(Door, TcpListener)],
) -> (Door, std::io::Result<(tokio::net::TcpStream, SocketAddr)>) {
    std::future::poll_fn(|cx| {
        for (door, l) in listeners {
            if let std::task::Poll::Ready(r) = l.poll_accept(cx) {
                return std::task::Poll::Ready((*door, r));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// One I/O thread: serves the connections handed to it (and, on thread 0, accepts new ones
/// on every door) until shutdown; then closes them.
async fn io_thread(
    state: Arc<ServerState>,
    io: Arc<IoThreads>,
    me: usize,
    mut handoffs: UnboundedReceiver<Inbound>,
    listeners: Vec<(Door, std::net::TcpListener)>,
    bus: Option<std::net::TcpListener>,
) {
    let bus = match bus.map(TcpListener::from_std).transpose() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot register the cluster bus listener: {e}");
            state.request_shutdown();
            return;
        }
    };
    let listeners: Vec<(Door, TcpListener)> = match listeners
        .into_iter()
        .map(|(d, l)| TcpListener::from_std(l).map(|l| (d, l)))
        .collect()
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot register listener: {e}");
            state.request_shutdown();
            return;
        }
    };
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = state.shutdown.wait() => break,
            (door, r) = accept_any(&listeners), if !listeners.is_empty() => match r {
                Ok((sock, peer)) => {
                    state.stats.total_connections_received.fetch_add(1, Relaxed);
                    let max = state.settings.maxclients.load(Relaxed) as usize;
                    if state.clients.count() >= max {
                        state.stats.rejected_connections.fetch_add(1, Relaxed);
                        if door == Door::Http {
                            conns.spawn(http::reject(sock));
                        } else {
                            conns.spawn(conn::reject(sock, door, "ERR max number of clients reached"));
                        }
                        continue;
                    }
                    if door == Door::Http {
                        // Dealt round-robin over the I/O threads (`IoThreads::dealt_at_accept`).
                        let to = io.next_round_robin();
                        if to == me {
                            conns.spawn(http::serve(state.clone(), io.clone(), me, sock, peer));
                        } else if let Ok(sock) = sock.into_std() {
                            io.send_http(to, sock, peer);
                        }
                        continue;
                    }
                    conns.spawn(conn::serve(state.clone(), io.clone(), me, door, sock, peer, false));
                }
                Err(e) => {
                    // EMFILE and friends: log, back off a little, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            r = async { bus.as_ref().expect("guarded").accept().await }, if bus.is_some() => match r {
                Ok((sock, peer)) => {
                    conns.spawn(conn::serve(state.clone(), io.clone(), me, Door::Resp, sock, peer, true));
                }
                Err(e) => {
                    tracing::warn!("cluster bus: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(inbound) = handoffs.recv() => match inbound {
                Inbound::Moved(h) => {
                    conns.spawn(conn::drive(state.clone(), io.clone(), me, *h));
                }
                Inbound::Http(sock, peer) => {
                    conns.spawn(http::serve_std(state.clone(), io.clone(), me, sock, peer));
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listeners);
    handoffs.close();
    while let Ok(inbound) = handoffs.try_recv() {
        if let Inbound::Moved(h) = inbound {
            state.clients.unregister(h.sess.id);
        }
    }
    state.clients.kill_all();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}
