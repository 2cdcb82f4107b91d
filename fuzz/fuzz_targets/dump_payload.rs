//! Fuzz the DUMP/RESTORE payload decoder (`storage::dump`): arbitrary bytes must never panic
//! or allocate beyond their size; a body that decodes must re-encode to a payload that
//! decodes to the same value, and build an entry (RESTORE's path, which takes a compact
//! blob as it is after `types::checked`, or rebuilds a stream block by block) that reads
//! back as that value. The same bytes go to Redis's payload decoder
//! (`persist::rdb::decode_dump_payload`, RESTORE's other path), as given and again with a
//! valid Redis footer (RDB version 10, the right CRC-64) so the fuzzer reaches the value
//! decoder: it must never panic, and a value it accepts must build an entry that reads back
//! as that value.
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

/// `data` as a Redis DUMP payload: RDB version 10 and the CRC-64 of everything before it.
fn redis_footer(data: &[u8]) -> Vec<u8> {
    let mut p = data.to_vec();
    p.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn redis_payload(p: &[u8]) {
    if let Ok(d) = persist::rdb::decode_dump_payload(p) {
        let lim = storage::Limits::default();
        let e = generic::from_value_ref(b"k", 0, 0, &d.value.as_ref(), &lim);
        assert_eq!(generic::to_value(&e).canonical(), d.value.canonical());
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = dump::decode(data);
    redis_payload(data);
    redis_payload(&redis_footer(data));
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
