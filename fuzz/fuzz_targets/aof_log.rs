//! Fuzz the AOF pieces (`persist::aof`): arbitrary bytes must never panic, hang or allocate
//! beyond a bounded multiple of their size. Each input is read as an incr file by `scan`
//! and, one byte per `read` call, by `LogReader`, and both must agree (the buffering must
//! not change what is read); and it is parsed as a manifest, which, if it parses, must
//! render to text that parses back to the same manifest (when its lines fit the limit).
//!
//! ```text
//! cargo +stable fuzz run aof_log -s none
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use persist::aof::manifest::{Manifest, MAX_LINE};
use persist::aof::reader::{scan, LogReader};
use std::io::Read;

/// Hands out one byte per call.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut seen = Vec::new();
    let s = scan(data, |c| {
        seen.push((c.offset, c.end));
        Ok(())
    });
    assert!(s.safe_end <= s.good_end && s.good_end <= data.len() as u64);
    if s.problem.is_none() && s.open_multi.is_none() {
        assert_eq!(s.safe_end, data.len() as u64);
    }

    let mut rd = LogReader::new(Trickle(data));
    let mut i = 0;
    let end = loop {
        match rd.next() {
            Ok(Some(c)) => {
                // `scan` may stop early on a misplaced MULTI/EXEC; up to there, the same.
                if let Some(&span) = seen.get(i) {
                    assert_eq!((c.offset, c.end), span);
                }
                i += 1;
            }
            Ok(None) => break None,
            Err(e) => break Some(e.offset()),
        }
    };
    assert!(i >= seen.len());
    if i == seen.len() {
        // Same stream, same stop.
        assert_eq!(end, s.problem.as_ref().map(|p| p.offset()));
    }

    if let Ok(m) = Manifest::parse(data) {
        let text = m.render();
        // Quoting can lengthen a line past the limit (a bare UTF-8 name becomes \xHH
        // escapes); Redis has the same limit, so only lines that fit must come back.
        if text.lines().all(|l| l.len() < MAX_LINE) {
            assert_eq!(Manifest::parse(text.as_bytes()).as_ref(), Ok(&m));
        }
    }
});
