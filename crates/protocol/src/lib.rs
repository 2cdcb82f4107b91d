//! Wire codecs for rcache. Pure functions over byte buffers: no sockets, no storage.
//!
//! ```text
//!  socket bytes ──► resp::RequestParser ──► Args (borrowed slices) ──► commands
//!  commands ──► reply::Reply (RESP2 or RESP3 bytes appended to one output buffer) ──► socket
//! ```
//!
//! The RESP reply bytes are the one reply representation every front door starts from:
//! the RESP door writes them as they are; other doors (HTTP, binary, memcached, added by
//! later issues) translate from them.

pub mod args;
pub mod binary;
pub mod inline;
pub mod memcache;
pub mod reply;
pub mod resp;
pub mod value;

pub use args::Args;
pub use reply::Reply;
pub use resp::{Limits, ParseError, Parsed, RequestParser};
pub use value::{parse_reply, reply_len, RespValue};
