//! The rcache server: accepts connections, runs the request loop, owns background tasks.
//!
//! ```text
//!  TcpListener ──accept──► conn::serve (one task per client)
//!       read into rbuf ─► parse every complete request ─► commands::execute ─► wbuf
//!       ─► one write per batch (pipelining) ─► repeat
//!  cron: active expiry (hz), ops/sec sampling        shutdown: SIGTERM/SIGINT or SHUTDOWN
//! ```

pub mod cli;
pub mod conn;
pub mod cron;
pub mod io;
pub mod sock;

use commands::config::Settings;
use commands::ServerState;
use io::{Handoff, IoThreads};
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
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

/// A listening socket (SO_REUSEADDR, so a restart does not wait for TIME_WAIT; no
/// SO_REUSEPORT, so a second server on the same port fails with "address in use").
fn bind_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
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
        let listener = bind_listener(addr)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ServerState::new(settings, clock));
        state.bound_port.store(addr.port(), Relaxed);
        Ok(Server {
            state,
            listener,
            addr,
        })
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

    /// Serve until shutdown is requested (SHUTDOWN, or `state.shutdown.request()`), then
    /// close every client and return. The calling task serves as I/O thread 0 (it accepts
    /// and runs the balancer); the others run on threads of their own. See `io`.
    pub async fn run(self) {
        let n = self.io_threads();
        let Server {
            state,
            listener,
            addr: _,
        } = self;
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
                        .build()
                    {
                        Ok(rt) => rt.block_on(io_thread(st, io2, i + 1, rx, None)),
                        Err(e) => tracing::error!("I/O thread: cannot start runtime: {e}"),
                    }
                });
            match t {
                Ok(t) => threads.push(t),
                Err(e) => tracing::warn!("cannot start I/O thread {}: {e}", i + 1),
            }
        }
        let cron = tokio::spawn(cron::run(state.clone()));
        let balancer = (n > 1).then(|| {
            let st = state.clone();
            tokio::spawn(io::balance(io.clone(), move || {
                st.stats.total_commands_processed.get()
            }))
        });
        io_thread(state.clone(), io.clone(), 0, rx0, Some(listener)).await;
        for t in threads {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        cron.abort();
        if let Some(b) = balancer {
            b.abort();
        }
        tracing::info!("rcache is now ready to exit, bye bye...");
    }
}

/// One I/O thread: serves the connections handed to it (and, on thread 0, accepts new ones)
/// until shutdown; then closes them.
async fn io_thread(
    state: Arc<ServerState>,
    io: Arc<IoThreads>,
    me: usize,
    mut handoffs: UnboundedReceiver<Handoff>,
    listener: Option<std::net::TcpListener>,
) {
    let listener = match listener.map(TcpListener::from_std).transpose() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot register listener: {e}");
            state.shutdown.request();
            return;
        }
    };
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = state.shutdown.wait() => break,
            r = async { listener.as_ref().expect("guarded").accept().await }, if listener.is_some() => match r {
                Ok((sock, peer)) => {
                    state.stats.total_connections_received.fetch_add(1, Relaxed);
                    let max = state.settings.maxclients.load(Relaxed) as usize;
                    if state.clients.count() >= max {
                        state.stats.rejected_connections.fetch_add(1, Relaxed);
                        conns.spawn(conn::reject(sock, "ERR max number of clients reached"));
                        continue;
                    }
                    conns.spawn(conn::serve(state.clone(), io.clone(), me, sock, peer));
                }
                Err(e) => {
                    // EMFILE and friends: log, back off a little, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(h) = handoffs.recv() => {
                conns.spawn(conn::drive(state.clone(), io.clone(), me, h));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    handoffs.close();
    while let Ok(h) = handoffs.try_recv() {
        state.clients.unregister(h.sess.id);
    }
    state.clients.kill_all();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}
