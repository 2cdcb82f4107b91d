//! The HTTP/JSON front door: a hyper HTTP/1.1 server on the same keyspace as RESP.
//!
//! ```text
//!  accept (I/O thread 0) ──round-robin──► I/O thread t ──► http::serve (one task per
//!  connection, hyper http1: keep-alive, pipelined requests answered in order)
//!     └─► router::handle ─┬─ /v1/keys/{key}, /{key} ─► keys (storage Txn, one lock)
//!                         ├─ /v1/commands           ─► commands (the command table, RESP3
//!                         │                            reply ─► json)
//!                         └─ /v1/stats, /size, /health, /ready
//! ```
//!
//! Unlike the other doors, HTTP does not run on the shared loop in `conn.rs`: hyper owns
//! the socket. Connections are spread over the I/O threads when accepted and then stay on
//! their thread (each thread's current-thread runtime serves them). Each connection is a
//! client of `ClientRegistry` (CLIENT LIST shows it, CLIENT KILL closes it, `maxclients`
//! counts it); each request to `/v1/commands` runs on a fresh `Session` of that client.
//! The routes, statuses and JSON mapping are documented in docs/HTTP.md.

mod body;
mod cluster;
mod commands;
pub mod json;
mod keys;
mod response;
mod router;
pub mod url;

use crate::io::IoThreads;
use ::commands::clients::ClientHandle;
use ::commands::{Door, ServerState};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What every request of one connection shares.
pub(crate) struct ConnCtx {
    pub state: Arc<ServerState>,
    pub handle: Arc<ClientHandle>,
}

/// Serve an HTTP connection handed over from the accepting thread.
pub async fn serve_std(
    state: Arc<ServerState>,
    io: Arc<IoThreads>,
    thread: usize,
    sock: std::net::TcpStream,
    peer: SocketAddr,
) {
    match TcpStream::from_std(sock) {
        Ok(sock) => serve(state, io, thread, sock, peer).await,
        Err(e) => tracing::debug!("HTTP: cannot register socket from {peer}: {e}"),
    }
}

/// Serve one HTTP connection on I/O thread `thread` until the client closes it, it is
/// killed (CLIENT KILL), or the server shuts down.
pub async fn serve(
    state: Arc<ServerState>,
    io: Arc<IoThreads>,
    thread: usize,
    sock: TcpStream,
    peer: SocketAddr,
) {
    let handle = crate::conn::register_client(&state, &sock, peer);
    let id = handle.id;
    // Replies to /v1/commands are RESP3 underneath (`commands`): CLIENT LIST says so.
    handle.resp.store(3, std::sync::atomic::Ordering::Relaxed);
    state.stats.doors.opened(Door::Http);
    io.conn_started(thread);

    let ctx = Arc::new(ConnCtx {
        state: state.clone(),
        handle: handle.clone(),
    });
    let service = hyper::service::service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(router::handle(&ctx, req).await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        // Pipelined requests: responses queued while more requests are already buffered
        // go out in one write.
        .pipeline_flush(true)
        .serve_connection(TokioIo::new(sock), service);
    tokio::pin!(conn);
    if !handle.is_killed() {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(client = id, "HTTP connection closed: {e}");
                }
            }
            _ = handle.kill_notify.notified() => {
                // Finish the request in flight, then close (idle keep-alive closes at once).
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.as_mut()).await;
            }
        }
    }
    io.conn_left(thread);
    state.stats.doors.closed(Door::Http);
    state.clients.unregister(id);
}

/// The body `reject` answers when `maxclients` is reached.
const FULL: &str = r#"{"error":"ERR max number of clients reached"}"#;

/// Answer 503 and close: the server has `maxclients` clients already. The request is read
/// (briefly) after the answer so closing does not reset the connection before the client
/// has read it.
pub async fn reject(mut sock: TcpStream) {
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        FULL.len()
    );
    if sock.write_all(head.as_bytes()).await.is_err()
        || sock.write_all(FULL.as_bytes()).await.is_err()
    {
        return;
    }
    let _ = sock.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut total = 0;
        while let Ok(n) = sock.read(&mut sink).await {
            total += n;
            if n == 0 || total > 1 << 20 {
                break;
            }
        }
    })
    .await;
}
