//! Fuzz `protocol::resp::RequestParser`: arbitrary bytes, split at arbitrary points, must never
//! panic, must stay in bounds, and must parse the same however the bytes are split.
//!
//! Run from the repository root (stable toolchain, no sanitizer):
//!
//! ```text
//! cargo +stable fuzz run resp_parser -s none
//! ```
//!
//! The property lives in `crates/protocol/tests/split_check/mod.rs`, which the workspace's
//! proptest (`crates/protocol/tests/parser_splits.rs`) also runs, so CI exercises it without
//! cargo-fuzz.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/protocol/tests/split_check/mod.rs"]
mod split_check;

fuzz_target!(|data: &[u8]| {
    split_check::check(data);
});
