//! Fuzz the DUMP/RESTORE payload decoder (`storage::dump`): arbitrary bytes must never panic
//! or allocate beyond their size; a body that decodes must re-encode to a payload that
//! decodes to the same value, and build an entry (RESTORE's path, which takes a compact
//! blob as it is after `types::checked`, or rebuilds a stream block by block) that reads
//! back as that value.
//!
//! ```text
//! cargo +stable fuzz run dump_payload -s none
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use storage::dump::{self, ValueRef};
use storage::types::generic;

/// Every tag a reader knows, and a few it must refuse.
const TAGS: [u8; 13] = [0, 1, 2, 3, 4, 5, 6, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15];

fuzz_target!(|data: &[u8]| {
    let _ = dump::decode(data);
    if let Some((&ty, body)) = data.split_first() {
        let tag = TAGS[ty as usize % TAGS.len()];
        if let Ok(v) = dump::decode_body_ref(tag, body) {
            let owned = v.to_owned();
            let p = dump::encode(&owned);
            assert_eq!(dump::decode(&p).ok(), Some(owned.clone()));
            if matches!(v, ValueRef::Compact(_) | ValueRef::Stream(_)) {
                let lim = storage::Limits::default();
                let e = generic::from_value_ref(b"k", 0, 0, &v, &lim);
                assert_eq!(generic::to_value(&e).canonical(), owned.canonical());
            }
        }
    }
});
