//! The rcache test harness: real servers on `127.0.0.1:0`, ready by polling, gone on drop.
//!
//! ```text
//!  TestServer::builder().maxmemory("1mb").policy("allkeys-lru").start()
//!     └─ own thread ─► own tokio runtime ─► server::Server::bind(127.0.0.1:0) ─► run()
//!        test thread: connect + PING until it answers (never a fixed sleep)
//!  RcacheProcess::builder(env!("CARGO_BIN_EXE_rcache")).arg("--maxmemory").arg("1mb").start()
//!     └─ child process `rcache server --port <free>`; SIGTERM (then SIGKILL) on drop
//!  TestCluster::builder(env!("CARGO_BIN_EXE_rcache")).nodes(3).start()
//!     └─ N `rcache server` processes in cluster mode, joined, every one serving
//!  RawConn          bytes in, one RESP reply out, with a timeout (bad-input tests)
//!  client::connect  the `redis` crate's connection, RESP2 or 3; client::query runs a
//!                   command with error replies as values (rcache-vs-Redis comparisons)
//!  ProxyProcess     `rcache proxy` on a twemproxy YAML, with its backends (redis-server,
//!                   memcached: `Backend`; a Redis Cluster: `RedisCluster`) and the
//!                   reference `Nutcracker` (proxy.rs)
//!  require_tool     redis-cli / redis-benchmark: fail when missing, unless
//!                   RCACHE_ALLOW_MISSING_TOOLS=1 says skipping (loudly) is fine
//! ```
//!
//! Everything here panics with a message on failure: it is for tests, where a panic with
//! context is the most useful report.

pub mod client;
pub mod cluster;
pub mod process;
pub mod proxy;
pub mod raw;
pub mod server;
pub mod tools;

pub use cluster::{key_slot, ClusterNode, TestCluster, TestClusterBuilder};
pub use process::{RcacheProcess, RcacheProcessBuilder};
pub use proxy::{Backend, McConn, Nutcracker, ProxyProcess, Resp};
pub use raw::{resp, RawConn};
pub use server::{TestServer, TestServerBuilder};
pub use tools::{require_tool, run_with_input, run_with_timeout, TempDir, Tmpfs};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a server gets to become ready. Generous: CI machines have two busy cores.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Poll `f` every few milliseconds until it returns `Some`, or panic after `timeout` with
/// `what` in the message. The one way tests here wait for something to happen.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// One readiness probe: connect, send PING, and accept any complete reply line that shows
/// the request loop is running (`+PONG`, or `-NOAUTH…` when a password is set).
pub fn ping_ready(addr: SocketAddr) -> bool {
    let Ok(mut c) = RawConn::try_connect(addr, Duration::from_millis(500)) else {
        return false;
    };
    if c.try_send(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    match c.read_reply(Duration::from_secs(2)) {
        Ok(r) => r.starts_with(b"+PONG") || r.starts_with(b"-NOAUTH"),
        Err(_) => false,
    }
}
