//! Connection settings: where, which protocol, who, which database, how long to wait.

use std::time::Duration;

/// The wire protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// RESP2: what every Redis client speaks; no handshake beyond AUTH/SELECT.
    Resp2,
    /// RESP3, negotiated with `HELLO 3`: maps, sets, doubles and booleans keep their type.
    Resp3,
    /// The rcache binary protocol v1 (the server's `binary-port`), see docs/PROTOCOL.md.
    Binary,
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Proto, String> {
        match s.to_ascii_lowercase().as_str() {
            "resp" | "resp2" => Ok(Proto::Resp2),
            "resp3" => Ok(Proto::Resp3),
            "binary" | "bin" => Ok(Proto::Binary),
            _ => Err(format!(
                "unknown protocol '{s}' (expected resp2, resp3 or binary)"
            )),
        }
    }
}

/// Everything needed to open a connection. Build with [`Config::new`] and the `with_*`
/// methods:
///
/// ```
/// use rcache_client::{Config, Proto};
/// use std::time::Duration;
///
/// let cfg = Config::new("127.0.0.1:6379", Proto::Resp3)
///     .with_password("secret")
///     .with_db(2)
///     .with_timeout(Some(Duration::from_secs(1)));
/// assert_eq!(cfg.db, 2);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port`, resolved at every (re)connect.
    pub addr: String,
    pub proto: Proto,
    /// ACL user name for AUTH (none: the default user).
    pub username: Option<String>,
    /// Password for AUTH, sent during the handshake (none: no AUTH).
    pub password: Option<String>,
    /// Database selected during the handshake (0: no SELECT is sent).
    pub db: u32,
    /// `CLIENT SETNAME` during the handshake.
    pub client_name: Option<String>,
    /// How long connecting (TCP plus handshake) may take.
    pub connect_timeout: Duration,
    /// The default per-request timeout of connections made from this config (none: wait
    /// forever). A handle can override it with [`Connection::with_timeout`](crate::Connection::with_timeout).
    pub timeout: Option<Duration>,
    /// Set TCP_NODELAY (default true: requests are already batched by the client).
    pub nodelay: bool,
}

impl Config {
    pub fn new(addr: impl Into<String>, proto: Proto) -> Config {
        Config {
            addr: addr.into(),
            proto,
            username: None,
            password: None,
            db: 0,
            client_name: None,
            connect_timeout: Duration::from_secs(10),
            timeout: None,
            nodelay: true,
        }
    }

    pub fn with_password(mut self, password: impl Into<String>) -> Config {
        self.password = Some(password.into());
        self
    }

    pub fn with_user(mut self, username: impl Into<String>, password: impl Into<String>) -> Config {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    pub fn with_db(mut self, db: u32) -> Config {
        self.db = db;
        self
    }

    pub fn with_client_name(mut self, name: impl Into<String>) -> Config {
        self.client_name = Some(name.into());
        self
    }

    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.timeout = timeout;
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Config {
        self.connect_timeout = timeout;
        self
    }
}
