//! Fuzz `protocol::memcache::Parser`: arbitrary bytes (the first byte picks a split point
//! and whether the client is authenticated) must never panic, every request must consume
//! bytes within the buffer, and feeding the input in two pieces must parse the same
//! requests as feeding it whole.
//!
//! ```text
//! cargo +stable fuzz run memcache_parser -s none
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::memcache::{Parsed, Parser, Request};

/// Every request parsed from `chunks` fed in order, with its frame bytes.
fn run(chunks: &[&[u8]], authed: bool) -> Vec<(Request, Vec<u8>)> {
    let mut p = Parser::new();
    p.max_value = 256;
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match p.parse(&buf, authed) {
                Ok(Parsed::Incomplete { want }) => {
                    assert!(want > buf.len());
                    break;
                }
                Ok(Parsed::Skipped { consumed }) => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    buf.drain(..consumed);
                }
                Ok(Parsed::Request { consumed }) => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    out.push((p.request().clone(), buf[..consumed].to_vec()));
                    buf.drain(..consumed);
                }
                Err(_) => return out,
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let authed = first & 0x80 == 0;
    let cut = (first as usize & 0x7f) * rest.len() / 128;
    let whole = run(&[rest], authed);
    let split = run(&[&rest[..cut], &rest[cut..]], authed);
    // A line over the limit is fatal in both; before that, the same requests.
    let n = whole.len().min(split.len());
    assert_eq!(whole[..n], split[..n]);
});
