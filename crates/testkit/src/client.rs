//! The `redis` crate's connection as the tests that compare rcache with Redis use it: one
//! connection over RESP2 or RESP3, and commands whose error replies come back as values
//! (so a script of commands runs to the end and both servers' errors can be compared).

use redis::{Connection, Value};
use std::net::SocketAddr;

/// A synchronous connection to `addr`, over RESP3 when `resp3` (HELLO 3) else RESP2.
pub fn connect(addr: SocketAddr, resp3: bool) -> Connection {
    let url = if resp3 {
        format!("redis://{addr}/?protocol=resp3")
    } else {
        format!("redis://{addr}/")
    };
    redis::Client::open(url)
        .unwrap_or_else(|e| panic!("client for {addr}: {e}"))
        .get_connection()
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Run one command; an error reply (or a failure) becomes `SimpleString("ERR-REPLY <error>")`,
/// so two servers' replies, errors included, compare as values.
pub fn query(c: &mut Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => v,
        Err(e) => Value::SimpleString(format!("ERR-REPLY {e}")),
    }
}

/// [`query`] of a command written as one line, its arguments separated by spaces (for
/// arguments without spaces: `line(c, "XREADGROUP GROUP g a COUNT 40 STREAMS s >")`).
pub fn line(c: &mut Connection, command: &str) -> Value {
    let args: Vec<&str> = command.split_ascii_whitespace().collect();
    query(c, &args)
}
