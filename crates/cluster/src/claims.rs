//! Slot claims as gossip carries them: each node publishes the slots it owns with the
//! epoch of each, in sixteen keys (`slots.0` … `slots.15`, 1024 slots each) so no value
//! outgrows a gossip datagram however fragmented the ownership gets.
//!
//! Value format: `epoch:range,range;epoch:range…` with `range` = `a` or `a-b` (absolute
//! slot numbers), e.g. `1:0-1023` or `7:12-40,900;9:41`. Empty = no slot of the chunk.

/// Slots per published key.
pub const CHUNK: usize = 1024;
/// Published keys (`slots.<i>`).
pub const CHUNKS: usize = crate::SLOTS / CHUNK;

/// The gossip key of chunk `i`.
pub fn chunk_key(i: usize) -> String {
    format!("slots.{i}")
}

/// Encode the claims of chunk `chunk`: `owned(slot)` gives the epoch of an owned slot.
pub fn encode_chunk(chunk: usize, owned: impl Fn(usize) -> Option<u64>) -> String {
    // epoch → sorted ranges
    let mut by_epoch: std::collections::BTreeMap<u64, Vec<(usize, usize)>> = Default::default();
    let start = chunk * CHUNK;
    for s in start..start + CHUNK {
        let Some(e) = owned(s) else { continue };
        let ranges = by_epoch.entry(e).or_default();
        match ranges.last_mut() {
            Some(r) if r.1 + 1 == s => r.1 = s,
            _ => ranges.push((s, s)),
        }
    }
    let mut out = String::new();
    for (e, ranges) in by_epoch {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(&e.to_string());
        out.push(':');
        for (i, (a, b)) in ranges.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if a == b {
                out.push_str(&a.to_string());
            } else {
                out.push_str(&format!("{a}-{b}"));
            }
        }
    }
    out
}

/// Decode one chunk's value into `(slot, epoch)` pairs. Malformed parts are skipped (a
/// peer running a newer format must not crash this one); slots out of range are dropped.
pub fn decode_chunk(value: &str, mut f: impl FnMut(usize, u64)) {
    for group in value.split(';').filter(|g| !g.is_empty()) {
        let Some((e, ranges)) = group.split_once(':') else {
            continue;
        };
        let Ok(e) = e.parse::<u64>() else { continue };
        for r in ranges.split(',') {
            let (a, b) = match r.split_once('-') {
                Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
                None => (r.parse::<usize>(), r.parse::<usize>()),
            };
            let (Ok(a), Ok(b)) = (a, b) else { continue };
            if a > b || b >= crate::SLOTS || b - a >= CHUNK {
                continue;
            }
            for s in a..=b {
                f(s, e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_is_ranges_grouped_by_epoch() {
        let v = encode_chunk(0, |s| match s {
            0..=9 => Some(1),
            12 => Some(1),
            20..=21 => Some(3),
            _ => None,
        });
        assert_eq!(v, "1:0-9,12;3:20-21");
        assert_eq!(encode_chunk(1, |_| None), "");
    }

    proptest! {
        /// Whatever a chunk holds comes back the same.
        #[test]
        fn roundtrip(chunk in 0usize..CHUNKS, owned in proptest::collection::vec(proptest::option::of(1u64..5), CHUNK)) {
            let base = chunk * CHUNK;
            let v = encode_chunk(chunk, |s| owned[s - base]);
            let mut back = vec![None; CHUNK];
            decode_chunk(&v, |s, e| back[s - base] = Some(e));
            prop_assert_eq!(back, owned);
        }

        /// Garbage never panics.
        #[test]
        fn garbage_is_ignored(s in ".{0,200}") {
            decode_chunk(&s, |slot, _| assert!(slot < crate::SLOTS));
        }
    }
}
