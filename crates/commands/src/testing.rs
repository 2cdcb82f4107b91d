//! In-process test helpers: a server state with a manual clock and a `run` that returns the
//! RESP reply as text, so a handler test reads like a redis-cli session.
//!
//! ```
//! let t = commands::testing::TestCtx::new();
//! assert_eq!(t.run(&["SET", "k", "v"]), "+OK\r\n");
//! assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
//! ```

use crate::clients::{ClientHandle, Session};
use crate::config::Settings;
use crate::ServerState;
use parking_lot::Mutex;
use std::sync::Arc;
use storage::ManualClock;

pub struct TestCtx {
    pub srv: ServerState,
    pub clock: ManualClock,
    pub sess: Mutex<Session>,
}

impl Default for TestCtx {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCtx {
    /// A fresh server at time 1_700_000_000_000 ms, one RESP2 session on db 0.
    pub fn new() -> TestCtx {
        Self::with_settings(Settings::default())
    }

    /// A fresh server with these settings. The session (id 1) is registered with the
    /// server's clients, as a connection would be, and starts authenticated; set
    /// `t.sess.lock().authenticated = false` to test AUTH.
    pub fn with_settings(settings: Settings) -> TestCtx {
        let clock = ManualClock::new(1_700_000_000_000);
        let srv = ServerState::new(Arc::new(settings), Arc::new(clock.clone()));
        let sess = Self::register(&srv);
        TestCtx {
            srv,
            clock,
            sess: Mutex::new(sess),
        }
    }

    pub(crate) fn register(srv: &ServerState) -> Session {
        let id = srv.clients.next_id();
        let h = Arc::new(ClientHandle::new(
            id,
            format!("127.0.0.1:{}", 40000 + id),
            "127.0.0.1:6379".into(),
            -1,
        ));
        srv.clients.register(h.clone());
        Session::new(h, true)
    }

    /// Another connected client (CLIENT LIST/KILL tests); run commands as it with `run_as`.
    pub fn new_session(&self) -> Session {
        Self::register(&self.srv)
    }

    /// Run a command as another session.
    pub fn run_as(&self, sess: &mut Session, args: &[&str]) -> String {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        String::from_utf8_lossy(&crate::run(&self.srv, sess, &a)).into_owned()
    }

    /// Run a command; the raw reply as a string (lossy for non-UTF-8 bytes).
    pub fn run(&self, args: &[&str]) -> String {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        String::from_utf8_lossy(&self.run_bytes(&a)).into_owned()
    }

    /// Run a command with binary arguments; the raw reply bytes.
    pub fn run_bytes(&self, args: &[&[u8]]) -> Vec<u8> {
        let mut sess = self.sess.lock();
        crate::run(&self.srv, &mut sess, args)
    }

    /// Switch the test session to RESP3 (as HELLO 3 would).
    pub fn resp3(&self) {
        self.sess.lock().resp3 = true;
    }

    /// Advance the injected clock.
    pub fn advance_ms(&self, ms: u64) {
        self.clock.advance(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_session() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["PING"]), "+PONG\r\n");
        assert_eq!(t.run(&["SET", "k", "v", "PX", "100"]), "+OK\r\n");
        assert_eq!(t.run(&["GET", "k"]), "$1\r\nv\r\n");
        t.advance_ms(100);
        assert_eq!(t.run(&["GET", "k"]), "$-1\r\n");
        assert_eq!(
            t.run(&["get"]),
            "-ERR wrong number of arguments for 'get' command\r\n"
        );
        assert_eq!(
            t.run(&["nope", "a"]),
            "-ERR unknown command 'nope', with args beginning with: 'a' \r\n"
        );
        assert_eq!(
            t.run(&["SET", "k", "v", "EX", "0"]),
            "-ERR invalid expire time in 'set' command\r\n"
        );
        assert_eq!(
            t.run(&["SET", "k", "v", "NX", "XX"]),
            "-ERR syntax error\r\n"
        );
    }
}
