//! `TestServer`: an rcache server inside the test process, on its own thread and tokio
//! runtime (plus the server's other I/O threads), bound to `127.0.0.1:0`.
//!
//! ```
//! let srv = testkit::TestServer::builder()
//!     .maxmemory("1mb")
//!     .policy("allkeys-lru")
//!     .setting("proto-max-bulk-len", "2mb")
//!     .start();
//! let mut c = srv.raw();
//! assert_eq!(c.request(&["PING"]), "+PONG\r\n");
//! // Dropping `srv` stops the server and joins its thread.
//! ```
//!
//! Settings go straight into `commands::config::Settings` through the same table the flags,
//! the TOML file and CONFIG SET use, so a test does not depend on CONFIG being implemented.

use crate::raw::RawConn;
use commands::config::{SetError, Settings};
use commands::ServerState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use storage::{Clock, ManualClock, SystemClock};

/// Builds a `TestServer`. Every setting uses Redis's name and value form.
pub struct TestServerBuilder {
    settings: Vec<(String, String)>,
    threads: usize,
    clock: Option<ManualClock>,
}

impl TestServerBuilder {
    /// `maxmemory`: bytes or a size such as `1mb`.
    pub fn maxmemory(self, size: &str) -> Self {
        self.setting("maxmemory", size)
    }

    /// `maxmemory-policy`: `noeviction`, `allkeys-lru`…
    pub fn policy(self, policy: &str) -> Self {
        self.setting("maxmemory-policy", policy)
    }

    /// `requirepass`: clients must AUTH first.
    pub fn requirepass(self, password: &str) -> Self {
        self.setting("requirepass", password)
    }

    /// Any setting of `commands::config::PARAMS`, applied as at start-up (so immutable ones
    /// such as `databases` work too). An unknown name or bad value panics at `start`.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_string(), value.to_string()));
        self
    }

    /// I/O threads of the server (the `threads` setting; default 2, the CI machine's cores).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Run on a manual clock starting at `start_ms` (ms since the epoch); move it with
    /// `TestServer::advance_ms`, so TTL tests never sleep.
    pub fn manual_clock(mut self, start_ms: u64) -> Self {
        self.clock = Some(ManualClock::new(start_ms));
        self
    }

    /// Start the server and wait until it answers PING. Panics if it cannot.
    pub fn start(self) -> TestServer {
        let settings = Settings::default();
        // The port is always ours to pick: 0, so parallel tests never collide. Every door
        // is open, on a free port, unless the test closes it (`setting("http-port", "off")`).
        // No snapshots unless the test asks (`setting("save", …)` with its own `dir`): the
        // working directory is shared by every test of the process.
        for (name, value) in [
            ("http-port", "0"),
            ("binary-port", "0"),
            ("memcache-port", "0"),
            ("save", ""),
        ]
        .into_iter()
        .chain(self.settings.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .chain([("bind", "127.0.0.1"), ("port", "0")])
        {
            if let Err(e) = settings.set(name, value, true) {
                match e {
                    SetError::Unknown => panic!("TestServer: unknown setting '{name}'"),
                    SetError::Invalid(n, why) => {
                        panic!("TestServer: setting '{n}' = '{value}': {why}")
                    }
                }
            }
        }
        settings
            .threads
            .store(self.threads as u32, std::sync::atomic::Ordering::Relaxed);
        let settings = Arc::new(settings);
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(c) => Arc::new(c.clone()),
            None => Arc::new(SystemClock),
        };
        let srv = server::Server::bind(settings, clock)
            .unwrap_or_else(|e| panic!("TestServer: cannot bind 127.0.0.1:0: {e}"));
        let addr = srv.local_addr();
        let state = srv.state.clone();
        // `run` serves on the calling thread (I/O thread 0, a current-thread runtime, as the
        // server's design has it) and starts the other I/O threads itself.
        let thread = std::thread::Builder::new()
            .name("rcache-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_stack_size(commands::scripting::SCRIPT_THREAD_STACK)
                    .build()
                    .expect("TestServer: build the runtime");
                rt.block_on(srv.run());
            })
            .expect("spawn the test server thread");
        crate::wait_for(
            &format!("the test server on {addr} to answer PING"),
            crate::READY_TIMEOUT,
            || crate::ping_ready(addr).then_some(()),
        );
        TestServer {
            addr,
            state,
            clock: self.clock,
            thread: Some(thread),
        }
    }
}

/// A running in-process server. Dropping it requests shutdown and joins its thread.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    clock: Option<ManualClock>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            settings: Vec::new(),
            threads: 2,
            clock: None,
        }
    }

    /// A server with default settings.
    pub fn start() -> TestServer {
        Self::builder().start()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// `redis://127.0.0.1:PORT/?protocol=resp3`: the redis crate then opens with HELLO 3.
    pub fn url_resp3(&self) -> String {
        format!("redis://{}/?protocol=resp3", self.addr)
    }

    /// Where a front door listens (HTTP, binary, memcached), if this build serves it and the
    /// test left it open.
    pub fn door_addr(&self, door: commands::Door) -> Option<SocketAddr> {
        let port = self.state.door_ports[door as usize].load(std::sync::atomic::Ordering::Relaxed);
        (port != 0).then(|| SocketAddr::new(self.addr.ip(), port))
    }

    /// The server's shared state: keyspace, settings, clients, counters.
    pub fn state(&self) -> Arc<ServerState> {
        self.state.clone()
    }

    /// A raw socket to the server.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr)
    }

    /// A `redis` crate client for `url()`.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("redis client for the test server")
    }

    /// A `redis` crate client for `url_resp3()`.
    pub fn client_resp3(&self) -> redis::Client {
        redis::Client::open(self.url_resp3()).expect("redis client for the test server")
    }

    /// A synchronous `redis` crate connection (RESP2), with 10 s timeouts so a server that
    /// stops answering fails the test instead of hanging it.
    pub fn connection(&self) -> redis::Connection {
        let t = Duration::from_secs(10);
        let c = self
            .client()
            .get_connection_with_timeout(t)
            .expect("connect to the test server");
        c.set_read_timeout(Some(t)).expect("set read timeout");
        c.set_write_timeout(Some(t)).expect("set write timeout");
        c
    }

    /// An async multiplexed `redis` crate connection to `url` (from `url()` or
    /// `url_resp3()`), with 10 s connect and response timeouts.
    pub async fn async_connection_to(
        url: &str,
    ) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Duration::from_secs(10))
            .set_response_timeout(Duration::from_secs(10));
        redis::Client::open(url)?
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
    }

    /// Move the manual clock forward. Panics unless built with `manual_clock`.
    pub fn advance_ms(&self, ms: u64) {
        self.clock
            .as_ref()
            .expect("TestServer::advance_ms needs TestServer::builder().manual_clock(..)")
            .advance(ms);
    }

    /// Stop the server and wait for its thread (what Drop does, made explicit).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.state.request_shutdown();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() && !std::thread::panicking() {
                panic!("the test server thread panicked");
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
