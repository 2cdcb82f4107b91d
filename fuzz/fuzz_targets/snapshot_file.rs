//! Fuzz rcache's snapshot reader (`persist::snapshot`): arbitrary bytes must never panic or
//! allocate beyond a bounded multiple of their size. Each input is read four ways: as a
//! whole file; as the records of one block (`RecordReader`); wrapped as a valid file around
//! one raw block holding it, with correct checksums, so the fuzzer reaches the record
//! decoder through the framing without having to forge a CRC; and as the bytes of a
//! functions block (version 3) with correct checksums, reaching the library decoder. A file
//! that reads must count as many records as the sink saw.
//!
//! ```text
//! cargo +stable fuzz run snapshot_file -s none
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use persist::snapshot::{format, reader};

fn read(bytes: &[u8]) {
    let mut seen = 0u64;
    if let Ok(sum) = reader::read(bytes, 0, |_| seen += 1) {
        assert_eq!(sum.records, seen + sum.expired);
    }
}

fuzz_target!(|data: &[u8]| {
    read(data);
    let mut rr = format::RecordReader::new(data);
    while !rr.at_end() {
        if rr.next_record().is_err() {
            break;
        }
    }
    // A valid file around `data` as one raw block of one record.
    let mut file = format::encode_header(&format::Header {
        version: format::VERSION,
        created_ms: 0,
        databases: 16,
    })
    .to_vec();
    file.push(format::TAG_RECORDS);
    file.push(format::CODEC_RAW);
    file.extend_from_slice(&(data.len() as u32).to_le_bytes());
    file.extend_from_slice(&(data.len() as u32).to_le_bytes());
    file.extend_from_slice(&1u32.to_le_bytes());
    file.extend_from_slice(&format::CRC32.checksum(data).to_le_bytes());
    file.extend_from_slice(data);
    let crc = format::CRC64.checksum(&file);
    file.extend_from_slice(&format::encode_end(1, 1, crc));
    read(&file);
    // A valid file whose functions block holds `data` (the count taken from its first
    // byte, so both agreeing and disagreeing counts are reached).
    let mut file = format::encode_header(&format::Header {
        version: format::VERSION,
        created_ms: 0,
        databases: 16,
    })
    .to_vec();
    let count = u32::from(data.first().copied().unwrap_or(0) & 7);
    file.push(format::TAG_FUNCTIONS);
    file.extend_from_slice(&count.to_le_bytes());
    file.extend_from_slice(&(data.len() as u32).to_le_bytes());
    file.extend_from_slice(&format::CRC32.checksum(data).to_le_bytes());
    file.extend_from_slice(data);
    let crc = format::CRC64.checksum(&file);
    file.extend_from_slice(&format::encode_end(0, 0, crc));
    if let Ok(sum) = reader::read(&file[..], 0, |_| {}) {
        assert_eq!(sum.libraries.len() as u32, count);
    }
});
