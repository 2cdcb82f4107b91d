//! LZF decompression, for RDB strings stored with the `0xC3` encoding (Redis compresses
//! strings over 20 bytes when `rdbcompression` is on, and compressed quicklist nodes).
//!
//! The format is a sequence of tokens, each starting with a control byte:
//!
//! ```text
//! 000LLLLL  <L+1 literal bytes>                    copy L+1 bytes (1..=32)
//! LLLOOOOO  oooooooo                               L in 1..=6: copy L+2 bytes from
//!                                                   distance ((O << 8) | o) + 1 back
//! 111OOOOO  llllllll oooooooo                      copy l+9 bytes (9..=264), same distance
//! ```
//!
//! A back-reference may overlap the bytes it produces (distance 1 repeats one byte), so it
//! is copied forwards byte by byte when it does. The output length is known up front (the
//! RDB header carries it) and the output must come out exactly that long.

use super::Bad;

/// Control bytes below this are literal runs.
const LITERAL_LIMIT: u8 = 1 << 5;
/// A back-reference length field of this value means "an extra length byte follows".
const LONG_REF: usize = 7;

/// Decompress `input` into exactly `out_len` bytes. `out_len` must already be bounded by
/// the caller (it is allocated up front).
pub(super) fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, Bad> {
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    let byte = |i: usize, what: &str| {
        input
            .get(i)
            .copied()
            .ok_or_else(|| Bad::new(i, format!("expected {what}, found the end of the LZF data")))
    };
    while i < input.len() {
        let at = i;
        let ctrl = input[i];
        i += 1;
        if ctrl < LITERAL_LIMIT {
            let n = usize::from(ctrl) + 1;
            let Some(lit) = input.get(i..i + n) else {
                return Err(Bad::new(
                    i,
                    format!("expected {n} literal bytes, found {}", input.len() - i),
                ));
            };
            if out.len() + n > out_len {
                return Err(Bad::new(
                    at,
                    format!(
                        "expected at most {out_len} bytes of output, found a literal run past it"
                    ),
                ));
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut n = usize::from(ctrl >> 5);
            if n == LONG_REF {
                n += usize::from(byte(i, "the length byte of a long back-reference")?);
                i += 1;
            }
            n += 2;
            let dist = (usize::from(ctrl & 0x1f) << 8)
                + usize::from(byte(i, "the offset byte of a back-reference")?)
                + 1;
            i += 1;
            if dist > out.len() {
                return Err(Bad::new(
                    at,
                    format!(
                        "expected a back-reference within the {} bytes decoded so far, found distance {dist}",
                        out.len()
                    ),
                ));
            }
            if out.len() + n > out_len {
                return Err(Bad::new(at, format!("expected at most {out_len} bytes of output, found a back-reference past it")));
            }
            let from = out.len() - dist;
            if dist >= n {
                out.extend_from_within(from..from + n);
            } else {
                // Overlapping: each byte may be one this very copy produced.
                for k in from..from + n {
                    out.push(out[k]);
                }
            }
        }
    }
    if out.len() != out_len {
        return Err(Bad::new(
            input.len(),
            format!(
                "expected {out_len} bytes of decompressed output, found {}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// A simple greedy LZF compressor, for tests that need Redis-shaped compressed strings.
#[cfg(test)]
pub(super) fn compress(data: &[u8]) -> Vec<u8> {
    const MAX_DIST: usize = 1 << 13;
    const MAX_LEN: usize = 264;
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 1);
    let mut table = vec![usize::MAX; 1 << 12];
    let mut lit_start = 0;
    let flush = |out: &mut Vec<u8>, lits: &[u8]| {
        for chunk in lits.chunks(32) {
            out.push((chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
    };
    let mut i = 0;
    while i < data.len() {
        if i + 3 <= data.len() {
            let h = ((usize::from(data[i]) << 8
                ^ usize::from(data[i + 1]) << 4
                ^ usize::from(data[i + 2]))
                * 2654435761)
                >> 20
                & 0xfff;
            let cand = table[h];
            table[h] = i;
            if cand != usize::MAX && i - cand <= MAX_DIST && data[cand..cand + 3] == data[i..i + 3]
            {
                let mut len = 3;
                while i + len < data.len() && len < MAX_LEN && data[cand + len] == data[i + len] {
                    len += 1;
                }
                flush(&mut out, &data[lit_start..i]);
                let (l, off) = (len - 2, i - cand - 1);
                if l < LONG_REF {
                    out.push((l << 5 | off >> 8) as u8);
                } else {
                    out.push((LONG_REF << 5 | off >> 8) as u8);
                    out.push((l - LONG_REF) as u8);
                }
                out.push(off as u8);
                i += len;
                lit_start = i;
                continue;
            }
        }
        i += 1;
    }
    flush(&mut out, &data[lit_start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literals_and_references() {
        // "abc" literal, then copy 6 bytes from distance 3: "abcabcabc".
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&input, 9).unwrap(), b"abcabcabc");
        // Distance 1, overlapping: one byte repeated.
        assert_eq!(decompress(&[0, b'x', (1 << 5), 0], 4).unwrap(), b"xxxx");
        // Long reference: 7 in the length field, then 255 → 264 bytes.
        let out = decompress(&[0, b'z', 7 << 5, 255, 0], 265).unwrap();
        assert_eq!(out, vec![b'z'; 265]);
    }

    #[test]
    fn errors_carry_positions() {
        // Reference before any output.
        let e = decompress(&[1 << 5, 0], 3).unwrap_err();
        assert_eq!(e.at, 0);
        assert!(
            e.what.contains("back-reference within the 0 bytes"),
            "{}",
            e.what
        );
        // Literal run cut short.
        let e = decompress(&[3, b'a'], 4).unwrap_err();
        assert!(
            e.what.contains("expected 4 literal bytes, found 1"),
            "{}",
            e.what
        );
        // Output longer or shorter than announced.
        assert!(decompress(&[0, b'a'], 0).is_err());
        assert!(decompress(&[0, b'a'], 2)
            .unwrap_err()
            .what
            .contains("expected 2 bytes"));
        // Missing offset / length bytes.
        assert!(decompress(&[0, b'a', 1 << 5], 4).is_err());
        assert!(decompress(&[0, b'a', 7 << 5], 40).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..3000)) {
            let c = compress(&data);
            prop_assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), n in 0usize..1000) {
            let _ = decompress(&data, n);
        }
    }
}
