//! Ziplist decoding: the blob inside the pre-7.0 RDB types 10, 12, 13 (list, zset, hash)
//! and inside type-14 quicklist nodes. Redis 7 no longer writes ziplists but still reads
//! them, and so do we.
//!
//! ```text
//! <zlbytes: u32 LE> <zltail: u32 LE, offset of the last entry> <zllen: u16 LE, 65535 =
//! unknown> <entry>* <0xFF>
//! entry = <prevlen: 1 byte if < 254, else 0xFE + u32 LE> <encoding> <data>
//!
//! encoding                         data
//! 00pppppp                         6-bit length string
//! 01pppppp qqqqqqqq                14-bit length (big-endian) string
//! 10______ <u32 BE>                32-bit length string (Redis ignores the low six bits)
//! 11000000 / 11010000 / 11100000   int16 / int32 / int64, LE
//! 11110000                         int24, LE
//! 11111110                         int8
//! 1111xxxx (0001..1101)            immediate 0..=12 (xxxx − 1), no data
//! 11111111                         end of ziplist
//! any other 11xxxxxx               an error
//! ```
//!
//! As Redis's integrity check does, every entry's prevlen must equal the previous entry's
//! size, zltail must point at the last entry and zllen must match (unless unknown).

use super::listpack::sign_extend_le;
use super::{Bad, Elem};

const HEADER_SIZE: usize = 10;
const END: u8 = 0xff;
/// A prevlen first byte of this value means a u32 follows.
const BIG_PREVLEN: u8 = 254;
const LEN_UNKNOWN: u16 = u16::MAX;

const INT_16B: u8 = 0xc0;
const INT_32B: u8 = 0xd0;
const INT_64B: u8 = 0xe0;
const INT_24B: u8 = 0xf0;
const INT_8B: u8 = 0xfe;
const INT_IMM_MIN: u8 = 0xf1;
const INT_IMM_MAX: u8 = 0xfd;

pub(super) fn parse(b: &[u8]) -> Result<Vec<Elem<'_>>, Bad> {
    if b.len() < HEADER_SIZE + 1 {
        return Err(Bad::new(
            0,
            format!(
                "expected a ziplist of at least {} bytes, found {}",
                HEADER_SIZE + 1,
                b.len()
            ),
        ));
    }
    let zlbytes = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if usize::try_from(zlbytes).ok() != Some(b.len()) {
        return Err(Bad::new(
            0,
            format!("expected zlbytes {}, found {zlbytes}", b.len()),
        ));
    }
    let zltail = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    let zllen = u16::from_le_bytes([b[8], b[9]]);
    let end = b.len() - 1;
    if b[end] != END {
        return Err(Bad::new(
            end,
            format!("expected the end marker 0xff, found 0x{:02x}", b[end]),
        ));
    }
    let body = &b[..end];
    let mut out = Vec::with_capacity(if zllen == LEN_UNKNOWN {
        0
    } else {
        usize::from(zllen)
    });
    let (mut p, mut prev_size, mut last) = (HEADER_SIZE, 0usize, None);
    while p < end {
        let (elem, size) = entry(body, p, prev_size)?;
        out.push(elem);
        last = Some(p);
        prev_size = size;
        p += size;
    }
    if let Some(last) = last {
        if zltail != last {
            return Err(Bad::new(
                4,
                format!("expected zltail {last} (the last entry), found {zltail}"),
            ));
        }
    }
    if zllen != LEN_UNKNOWN && usize::from(zllen) != out.len() {
        return Err(Bad::new(
            8,
            format!("expected {zllen} entries (zllen), found {}", out.len()),
        ));
    }
    Ok(out)
}

/// The entry at `p` of `b` (which stops before the end marker): its element and total size.
fn entry(b: &[u8], p: usize, prev_size: usize) -> Result<(Elem<'_>, usize), Bad> {
    let need = |from: usize, n: usize, what: &str| -> Result<&[u8], Bad> {
        b.get(from..).and_then(|r| r.get(..n)).ok_or_else(|| {
            Bad::new(
                from,
                format!(
                    "expected {n} bytes of {what}, found {} before the end marker",
                    b.len().saturating_sub(from)
                ),
            )
        })
    };
    let (prevlen, q) = match b[p] {
        BIG_PREVLEN => {
            let d = need(p + 1, 4, "a 32-bit prevlen")?;
            (u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize, p + 5)
        }
        END => {
            return Err(Bad::new(
                p,
                "expected an entry, found the end marker 0xff before the last byte",
            ))
        }
        small => (usize::from(small), p + 1),
    };
    if prevlen != prev_size {
        return Err(Bad::new(
            p,
            format!("expected prevlen {prev_size} (the previous entry's size), found {prevlen}"),
        ));
    }
    let e = need(q, 1, "an entry encoding")?[0];
    let string = |hdr: usize, len: usize| -> Result<(Elem<'_>, usize), Bad> {
        let d = need(q + hdr, len, "a string entry")?;
        Ok((Elem::Str(d), q + hdr + len - p))
    };
    let int = |n: usize| -> Result<(Elem<'_>, usize), Bad> {
        let d = need(q + 1, n, "an integer entry")?;
        Ok((Elem::Int(sign_extend_le(d)), q + 1 + n - p))
    };
    match e {
        0x00..=0x3f => string(1, usize::from(e & 0x3f)),
        0x40..=0x7f => {
            let d = need(q, 2, "a 14-bit string length")?;
            string(2, (usize::from(e & 0x3f) << 8) | usize::from(d[1]))
        }
        0x80..=0xbf => {
            let d = need(q, 5, "a 32-bit string length")?;
            string(5, u32::from_be_bytes([d[1], d[2], d[3], d[4]]) as usize)
        }
        INT_16B => int(2),
        INT_32B => int(4),
        INT_64B => int(8),
        INT_24B => int(3),
        INT_8B => int(1),
        INT_IMM_MIN..=INT_IMM_MAX => Ok((Elem::Int(i64::from(e & 0x0f) - 1), q + 1 - p)),
        0xc1..=0xcf | 0xd1..=0xdf | 0xe1..=0xef => Err(Bad::new(
            q,
            format!("expected a ziplist entry encoding, found 0x{e:02x}"),
        )),
        END => Err(Bad::new(
            q,
            "expected an entry encoding, found the end marker 0xff",
        )),
    }
}

/// A ziplist of `elems` as Redis would store it, for tests.
#[cfg(test)]
pub(super) fn encode(elems: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0; HEADER_SIZE];
    let (mut prev, mut last) = (0usize, HEADER_SIZE);
    for e in elems {
        let start = b.len();
        last = start;
        if prev < usize::from(BIG_PREVLEN) {
            b.push(prev as u8);
        } else {
            b.push(BIG_PREVLEN);
            b.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match super::canonical_int(e) {
            Some(v @ 0..=12) => b.push(INT_IMM_MIN + v as u8),
            Some(v) if i8::try_from(v).is_ok() => {
                b.push(INT_8B);
                b.push(v as u8);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                b.push(INT_16B);
                b.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v @ -8388608..=8388607) => {
                b.push(INT_24B);
                b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                b.push(INT_32B);
                b.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                b.push(INT_64B);
                b.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                match e.len() {
                    0..=63 => b.push(e.len() as u8),
                    64..=16383 => {
                        b.extend_from_slice(&[0x40 | (e.len() >> 8) as u8, e.len() as u8])
                    }
                    _ => {
                        b.push(0x80);
                        b.extend_from_slice(&(e.len() as u32).to_be_bytes());
                    }
                }
                b.extend_from_slice(e);
            }
        }
        prev = b.len() - start;
    }
    b.push(END);
    let n = b.len() as u32;
    b[0..4].copy_from_slice(&n.to_le_bytes());
    b[4..8].copy_from_slice(&(last as u32).to_le_bytes());
    let len = u16::try_from(elems.len()).unwrap_or(LEN_UNKNOWN);
    b[8..10].copy_from_slice(&len.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hand-made: every encoding, including a big prevlen.
    #[test]
    fn every_encoding() {
        let entries: Vec<Vec<u8>> = vec![
            vec![0x03, b'a', b'b', b'c'],                     // 6-bit string
            [&[0x41u8, 0x2c][..], &[b'm'; 300]].concat(),     // 14-bit string, 300 bytes
            vec![0xc0, 0xff, 0x7f],                           // int16 32767
            vec![0xd0, 0x00, 0x00, 0x00, 0x80],               // int32 min
            vec![0xe0, 1, 0, 0, 0, 0, 0, 0, 0],               // int64 1
            vec![0xf0, 0xff, 0xff, 0xff],                     // int24 -1
            vec![0xfe, 0x80],                                 // int8 -128
            vec![0xf1],                                       // immediate 0
            vec![0xfd],                                       // immediate 12
            [&[0x80u8, 0, 0, 0, 2][..], &b"zz"[..]].concat(), // 32-bit length string
        ];
        let mut zl = vec![0u8; HEADER_SIZE];
        let (mut prev, mut last) = (0usize, 0);
        for e in &entries {
            last = zl.len();
            let start = zl.len();
            if prev < 254 {
                zl.push(prev as u8);
            } else {
                zl.push(BIG_PREVLEN);
                zl.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            zl.extend_from_slice(e);
            prev = zl.len() - start;
        }
        zl.push(END);
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&(last as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        let got = parse(&zl).unwrap();
        assert_eq!(
            got,
            vec![
                Elem::Str(b"abc"),
                Elem::Str(&[b'm'; 300]),
                Elem::Int(32767),
                Elem::Int(i64::from(i32::MIN)),
                Elem::Int(1),
                Elem::Int(-1),
                Elem::Int(-128),
                Elem::Int(0),
                Elem::Int(12),
                Elem::Str(b"zz"),
            ]
        );
        // The entry after the 300-byte string has a 5-byte prevlen.
        assert_eq!(zl[HEADER_SIZE + 5 + 303], BIG_PREVLEN);
    }

    #[test]
    fn malformed() {
        let ok = encode(&[b"hello".to_vec(), b"7".to_vec()]);
        assert!(parse(&ok).is_ok());
        let mut bad = ok.clone();
        bad[4] = 0; // zltail
        assert!(parse(&bad).unwrap_err().what.contains("zltail"));
        let mut bad = ok.clone();
        bad[8] = 3; // zllen
        assert!(parse(&bad).unwrap_err().what.contains("zllen"));
        let mut bad = ok.clone();
        bad[HEADER_SIZE + 7] = 3; // prevlen of the second entry
        assert!(parse(&bad).unwrap_err().what.contains("prevlen"));
        let mut bad = ok.clone();
        bad[HEADER_SIZE + 8] = 0xc5; // unknown int encoding
        assert!(parse(&bad).unwrap_err().what.contains("0xc5"));
        let mut bad = ok;
        bad[HEADER_SIZE + 1] = 0x3f; // string longer than the ziplist
        assert!(parse(&bad).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(elems in proptest::collection::vec(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::collection::vec(any::<u8>(), 250..300),
            any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            (-300i64..300).prop_map(|v| v.to_string().into_bytes()),
        ], 0..30)) {
            let zl = encode(&elems);
            let got: Vec<Vec<u8>> = parse(&zl).unwrap().into_iter().map(Elem::to_vec).collect();
            prop_assert_eq!(got, elems);
        }

        #[test]
        fn garbage_never_panics(mut b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse(&b);
            if b.len() >= 11 {
                let n = b.len() as u32;
                b[0..4].copy_from_slice(&n.to_le_bytes());
                b[10] = 0;
                *b.last_mut().unwrap() = END;
                let _ = parse(&b);
            }
        }
    }
}
