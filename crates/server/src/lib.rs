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

use commands::config::Settings;
use commands::ServerState;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use storage::Clock;
use tokio::net::TcpListener;

/// A bound server, ready to serve.
pub struct Server {
    pub state: Arc<ServerState>,
    listener: TcpListener,
}

impl Server {
    /// Bind to the configured address and port (port 0 picks a free one).
    pub async fn bind(settings: Arc<Settings>, clock: Arc<dyn Clock>) -> std::io::Result<Server> {
        let bind = settings.bind.read().clone();
        let port = settings.port.load(Relaxed);
        let listener = TcpListener::bind((bind.as_str(), port)).await?;
        let state = Arc::new(ServerState::new(settings, clock));
        state
            .bound_port
            .store(listener.local_addr()?.port(), Relaxed);
        Ok(Server { state, listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serve until shutdown is requested (SHUTDOWN, or `state.shutdown.request()`), then
    /// close every client and return.
    pub async fn run(self) {
        let Server { state, listener } = self;
        let cron = tokio::spawn(cron::run(state.clone()));
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = state.shutdown.wait() => break,
                r = listener.accept() => match r {
                    Ok((sock, peer)) => {
                        state.stats.total_connections_received.fetch_add(1, Relaxed);
                        let max = state.settings.maxclients.load(Relaxed) as usize;
                        if state.clients.count() >= max {
                            state.stats.rejected_connections.fetch_add(1, Relaxed);
                            conns.spawn(conn::reject(sock, "ERR max number of clients reached"));
                            continue;
                        }
                        conns.spawn(conn::serve(state.clone(), sock, peer));
                    }
                    Err(e) => {
                        // EMFILE and friends: log, back off a little, keep serving.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        tracing::info!("shutting down: closing {} client(s)", state.clients.count());
        drop(listener);
        state.clients.kill_all();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        cron.abort();
        tracing::info!("rcache is now ready to exit, bye bye...");
    }
}
