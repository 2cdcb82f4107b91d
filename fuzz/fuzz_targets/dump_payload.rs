//! Fuzz the DUMP/RESTORE payload decoder (`storage::dump`): arbitrary bytes must never panic
//! or allocate beyond their size; a body that decodes must re-encode to a payload that
//! decodes to the same value.
//!
//! ```text
//! cargo +stable fuzz run dump_payload -s none
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use storage::dump;

fuzz_target!(|data: &[u8]| {
    let _ = dump::decode(data);
    if let Some((&ty, body)) = data.split_first() {
        if let Ok(v) = dump::decode_body(ty % 5, body) {
            let p = dump::encode(&v);
            assert_eq!(dump::decode(&p).ok(), Some(v));
        }
    }
});
