//! The client's error type: one enum whose variants say *where* a request failed — the
//! socket, the bytes, the server, the clock, or a connection already gone.

use std::fmt;

/// An error reply from the server (`-ERR …`, binary ERROR), with Redis's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    message: String,
}

impl ServerError {
    pub fn new(message: impl Into<String>) -> ServerError {
        ServerError {
            message: message.into(),
        }
    }

    /// The whole message, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error code: the message's first word (`ERR`, `WRONGTYPE`, `NOAUTH`, `OOM`, …).
    pub fn code(&self) -> &str {
        self.message.split(' ').next().unwrap_or("")
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a request did not produce a reply value.
#[derive(Debug)]
pub enum Error {
    /// The socket failed (connect, read or write), or the server closed the connection
    /// while this request was outstanding: it may or may not have been executed.
    Io(std::io::Error),
    /// The server sent bytes that are not a valid reply, or a reply of the wrong shape
    /// for a typed helper. The connection is closed after a framing error.
    Protocol(String),
    /// The server answered with an error reply.
    Server(ServerError),
    /// No reply within the request's timeout (or no connection within the connect timeout).
    Timeout,
    /// The connection was already closed: the request was never sent, so retrying it on a
    /// new connection is safe.
    Closed,
    /// Something this client or transport does not do (e.g. SUBSCRIBE, MONITOR).
    Unsupported(String),
}

impl Error {
    /// The server's error, if this is one.
    pub fn server(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// True when the connection this error came from can no longer be used.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Error::Io(_) | Error::Closed)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::Timeout => f.write_str("timed out waiting for the server"),
            Error::Closed => f.write_str("connection closed"),
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
