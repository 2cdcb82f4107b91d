//! Helpers shared by the persistence tests (`persistence.rs`, `aof.rs`): a `redis` crate
//! connection to an `RcacheProcess`, and one field of INFO persistence.

use std::time::Duration;
use testkit::RcacheProcess;

pub fn client(p: &RcacheProcess) -> redis::Connection {
    redis::Client::open(p.url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap()
}

pub fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}
