//! Intset decoding: the blob of RDB type 11, a set of integers stored sorted.
//!
//! ```text
//! <encoding: u32 LE, the width of every member: 2, 4 or 8> <length: u32 LE> <members, LE>
//! ```
//!
//! The blob must be exactly header + length × width, and the members strictly ascending
//! (which is also what makes them distinct).

use super::Bad;

const HEADER_SIZE: usize = 8;
const ENC_INT16: u32 = 2;
const ENC_INT32: u32 = 4;
const ENC_INT64: u32 = 8;

pub(super) fn parse(b: &[u8]) -> Result<Vec<i64>, Bad> {
    if b.len() < HEADER_SIZE {
        return Err(Bad::new(
            0,
            format!(
                "expected an intset header of {HEADER_SIZE} bytes, found {}",
                b.len()
            ),
        ));
    }
    let enc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let width = match enc {
        ENC_INT16 | ENC_INT32 | ENC_INT64 => enc as usize,
        _ => {
            return Err(Bad::new(
                0,
                format!("expected an intset encoding of 2, 4 or 8, found {enc}"),
            ))
        }
    };
    let want = (len as u64) * width as u64 + HEADER_SIZE as u64;
    if want != b.len() as u64 {
        return Err(Bad::new(
            4,
            format!(
                "expected {want} bytes for {len} members of {width} bytes, found {}",
                b.len()
            ),
        ));
    }
    let mut out: Vec<i64> = Vec::with_capacity(len as usize);
    for (k, m) in b[HEADER_SIZE..].chunks_exact(width).enumerate() {
        let v = super::listpack::sign_extend_le(m);
        if let Some(&prev) = out.last() {
            if v <= prev {
                return Err(Bad::new(
                    HEADER_SIZE + k * width,
                    format!("expected members in ascending order, found {v} after {prev}"),
                ));
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// An intset of `members` (sorted and deduplicated here) at the given width, for tests.
#[cfg(test)]
pub(super) fn encode(members: &[i64], width: u32) -> Vec<u8> {
    let mut m = members.to_vec();
    m.sort_unstable();
    m.dedup();
    let mut b = width.to_le_bytes().to_vec();
    b.extend_from_slice(&(m.len() as u32).to_le_bytes());
    for v in m {
        b.extend_from_slice(&v.to_le_bytes()[..width as usize]);
    }
    b
}

/// The narrowest width holding all of `members`, as Redis picks it.
#[cfg(test)]
pub(super) fn width_for(members: &[i64]) -> u32 {
    let fits = |w: u32| {
        members
            .iter()
            .all(|&v| super::listpack::sign_extend_le(&v.to_le_bytes()[..w as usize]) == v)
    };
    [ENC_INT16, ENC_INT32, ENC_INT64]
        .into_iter()
        .find(|&w| fits(w))
        .unwrap_or(ENC_INT64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_width() {
        let b = [
            &[2u8, 0, 0, 0, 3, 0, 0, 0][..],
            &[0x00, 0x80, 0xff, 0xff, 0x05, 0x00],
        ]
        .concat();
        assert_eq!(parse(&b).unwrap(), vec![-32768, -1, 5]);
        let b = [&[4u8, 0, 0, 0, 1, 0, 0, 0][..], &[0x00, 0x00, 0x01, 0x00]].concat();
        assert_eq!(parse(&b).unwrap(), vec![65536]);
        let b = [
            &[8u8, 0, 0, 0, 1, 0, 0, 0][..],
            &[0, 0, 0, 0, 0, 0, 0, 0x80],
        ]
        .concat();
        assert_eq!(parse(&b).unwrap(), vec![i64::MIN]);
    }

    #[test]
    fn malformed() {
        assert!(parse(&[2, 0, 0]).is_err());
        assert!(parse(&[3, 0, 0, 0, 0, 0, 0, 0])
            .unwrap_err()
            .what
            .contains("encoding"));
        // Claims 2^32-1 members in 8 bytes: refused before any allocation.
        assert!(parse(&[8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
            .unwrap_err()
            .what
            .contains("expected"));
        let unsorted = [&[2u8, 0, 0, 0, 2, 0, 0, 0][..], &[5, 0, 5, 0]].concat();
        assert!(parse(&unsorted).unwrap_err().what.contains("ascending"));
    }

    proptest! {
        #[test]
        fn roundtrip(m in proptest::collection::vec(any::<i64>(), 0..50), narrow in any::<bool>()) {
            let m: Vec<i64> = if narrow { m.iter().map(|v| v % 30000).collect() } else { m };
            let w = width_for(&m);
            let mut want = m.clone();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(parse(&encode(&m, w)).unwrap(), want);
        }
    }
}
