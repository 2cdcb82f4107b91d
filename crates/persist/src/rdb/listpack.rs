//! Listpack decoding: the blob inside RDB types 16–18 and 20 (hash, zset, quicklist-2 node,
//! set), and inside streams (which are only skipped, so never decoded).
//!
//! ```text
//! <total-bytes: u32 LE> <num-elements: u16 LE, 65535 = unknown> <entry>* <0xFF>
//! entry = <encoding+data> <backlen: 1..=5 bytes, the size of encoding+data>
//!
//! encoding byte          data
//! 0xxxxxxx               —                    7-bit unsigned int
//! 10xxxxxx               len (6 bits) bytes   short string
//! 110xxxxx yyyyyyyy      —                    13-bit signed int
//! 1110xxxx yyyyyyyy      len (12 bits) bytes  string
//! 11110000 <u32 LE len>  len bytes            long string
//! 11110001/2/3/4         2/3/4/8 bytes LE     16/24/32/64-bit signed int
//! 11110101..11111110     —                    unused: an error
//! 11111111               —                    end of listpack
//! ```
//!
//! Every entry must lie inside the blob, its back-length must be the one Redis writes for
//! its size, and the element count must match the header (unless the header says unknown).

use super::{Bad, Elem};

const HEADER_SIZE: usize = 6;
const END: u8 = 0xff;
/// num-elements value meaning "too many to count here; walk the entries".
const NUM_UNKNOWN: u16 = u16::MAX;

const ENC_32BIT_STR: u8 = 0xf0;
const ENC_INT16: u8 = 0xf1;
const ENC_INT24: u8 = 0xf2;
const ENC_INT32: u8 = 0xf3;
const ENC_INT64: u8 = 0xf4;

/// All elements of a listpack, in order.
pub(super) fn parse(b: &[u8]) -> Result<Vec<Elem<'_>>, Bad> {
    if b.len() < HEADER_SIZE + 1 {
        return Err(Bad::new(
            0,
            format!(
                "expected a listpack of at least {} bytes, found {}",
                HEADER_SIZE + 1,
                b.len()
            ),
        ));
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if usize::try_from(total).ok() != Some(b.len()) {
        return Err(Bad::new(
            0,
            format!("expected total-bytes {}, found {total}", b.len()),
        ));
    }
    let num = u16::from_le_bytes([b[4], b[5]]);
    let end = b.len() - 1;
    if b[end] != END {
        return Err(Bad::new(
            end,
            format!("expected the end marker 0xff, found 0x{:02x}", b[end]),
        ));
    }
    let mut out = Vec::with_capacity(if num == NUM_UNKNOWN {
        0
    } else {
        usize::from(num)
    });
    let mut p = HEADER_SIZE;
    while p < end {
        let (elem, size) = entry(&b[..end], p)?;
        let bl = backlen(size);
        let back = &bl[..backlen_size(size)];
        let at = p + size;
        if b.get(at..at + back.len())
            .filter(|_| at + back.len() <= end)
            != Some(back)
        {
            return Err(Bad::new(
                at,
                format!(
                    "expected the back-length {back:02x?} of a {size}-byte entry, found {:02x?}",
                    &b[at..(at + back.len()).min(end)]
                ),
            ));
        }
        out.push(elem);
        p = at + back.len();
    }
    if num != NUM_UNKNOWN && usize::from(num) != out.len() {
        return Err(Bad::new(
            4,
            format!(
                "expected {num} elements (the header's count), found {}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// The entry at `p` of `b` (which ends before the end marker): the element and the size of
/// its encoding and data.
fn entry(b: &[u8], p: usize) -> Result<(Elem<'_>, usize), Bad> {
    let e = b[p];
    let need = |n: usize| -> Result<&[u8], Bad> {
        b.get(p..).and_then(|r| r.get(..n)).ok_or_else(|| {
            Bad::new(p, format!("expected a {n}-byte entry (encoding 0x{e:02x}), found {} bytes before the end marker", b.len() - p))
        })
    };
    let int = |n: usize| -> Result<(Elem<'static>, usize), Bad> {
        let d = need(1 + n)?;
        Ok((Elem::Int(sign_extend_le(&d[1..])), 1 + n))
    };
    let string = |hdr: usize, len: usize| -> Result<(Elem<'_>, usize), Bad> {
        let d = need(hdr.saturating_add(len))?;
        Ok((Elem::Str(&d[hdr..]), hdr + len))
    };
    match e {
        0x00..=0x7f => Ok((Elem::Int(i64::from(e)), 1)),
        0x80..=0xbf => string(1, usize::from(e & 0x3f)),
        0xc0..=0xdf => {
            let d = need(2)?;
            let u = (i64::from(e & 0x1f) << 8) | i64::from(d[1]);
            // Thirteen-bit two's complement.
            Ok((Elem::Int(if u >= 1 << 12 { u - (1 << 13) } else { u }), 2))
        }
        0xe0..=0xef => {
            let d = need(2)?;
            string(2, (usize::from(e & 0x0f) << 8) | usize::from(d[1]))
        }
        ENC_32BIT_STR => {
            let d = need(5)?;
            let len = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            string(5, usize::try_from(len).unwrap_or(usize::MAX))
        }
        ENC_INT16 => int(2),
        ENC_INT24 => int(3),
        ENC_INT32 => int(4),
        ENC_INT64 => int(8),
        0xf5..=0xfe => Err(Bad::new(
            p,
            format!("expected a listpack entry encoding, found the unused 0x{e:02x}"),
        )),
        END => Err(Bad::new(
            p,
            "expected an entry, found the end marker 0xff before the last byte",
        )),
    }
}

/// A little-endian two's-complement integer of 1..=8 bytes.
pub(super) fn sign_extend_le(d: &[u8]) -> i64 {
    let mut v = [0u8; 8];
    v[..d.len()].copy_from_slice(d);
    let shift = 64 - 8 * d.len() as u32;
    (i64::from_le_bytes(v) << shift) >> shift
}

/// How many bytes Redis uses for the back-length of an entry of `size` bytes (note the
/// strict `<`: 16383 takes three bytes, as `lpEncodeBacklen` writes it).
fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// The back-length bytes in file order: the most significant 7-bit group first, plain;
/// every following group has the high bit set (so reading backwards, a clear high bit ends
/// the number).
pub(super) fn backlen(size: usize) -> [u8; 5] {
    let n = backlen_size(size);
    let mut out = [0u8; 5];
    for (k, o) in out.iter_mut().enumerate().take(n) {
        let group = ((size as u64) >> (7 * (n - 1 - k))) & 0x7f;
        *o = group as u8 | if k == 0 { 0 } else { 0x80 };
    }
    out
}

/// A listpack of `elems`, each as Redis would store it (integers when the string is a
/// canonical integer), for tests.
#[cfg(test)]
pub(super) fn encode(elems: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0; HEADER_SIZE];
    for e in elems {
        let start = b.len();
        match super::canonical_int(e) {
            Some(v) => encode_int(&mut b, v),
            None => encode_str(&mut b, e),
        }
        let size = b.len() - start;
        b.extend_from_slice(&backlen(size)[..backlen_size(size)]);
    }
    b.push(END);
    let total = b.len() as u32;
    b[0..4].copy_from_slice(&total.to_le_bytes());
    let num = u16::try_from(elems.len()).unwrap_or(NUM_UNKNOWN);
    b[4..6].copy_from_slice(&num.to_le_bytes());
    b
}

#[cfg(test)]
fn encode_int(b: &mut Vec<u8>, v: i64) {
    match v {
        0..=127 => b.push(v as u8),
        -4096..=4095 => {
            let u = (v as u16) & 0x1fff;
            b.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        }
        _ if i16::try_from(v).is_ok() => {
            b.push(ENC_INT16);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        }
        -8388608..=8388607 => {
            b.push(ENC_INT24);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        _ if i32::try_from(v).is_ok() => {
            b.push(ENC_INT32);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        }
        _ => {
            b.push(ENC_INT64);
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
fn encode_str(b: &mut Vec<u8>, s: &[u8]) {
    match s.len() {
        0..=63 => b.push(0x80 | s.len() as u8),
        64..=4095 => b.extend_from_slice(&[0xe0 | (s.len() >> 8) as u8, s.len() as u8]),
        _ => {
            b.push(ENC_32BIT_STR);
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
    }
    b.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hand-made: one entry of every encoding, as Redis writes them.
    #[test]
    fn every_encoding() {
        let mut body: Vec<u8> = vec![];
        let mut push = |entry: &[u8]| {
            body.extend_from_slice(entry);
            body.extend_from_slice(&backlen(entry.len())[..backlen_size(entry.len())]);
        };
        push(&[0x05]); // 7-bit uint 5
        push(&[0x83, b'a', b'b', b'c']); // 6-bit string "abc"
        push(&[0xdf, 0xff]); // 13-bit int -1
        push(&[0xc1, 0x00]); // 13-bit int 256
        let s12 = [&[0xe0u8, 0x40][..], &[b'x'; 64]].concat();
        push(&s12); // 12-bit string, 64 bytes
        let s32 = [&[0xf0u8, 0x00, 0x10, 0x00, 0x00][..], &vec![b'y'; 4096]].concat();
        push(&s32); // 32-bit string, 4096 bytes
        push(&[0xf1, 0x00, 0x80]); // int16 -32768
        push(&[0xf2, 0x00, 0x00, 0x80]); // int24 -8388608
        push(&[0xf3, 0xff, 0xff, 0xff, 0x7f]); // int32 2^31-1
        push(&[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80]); // int64 min
        let mut lp = vec![0u8; 6];
        lp.extend_from_slice(&body);
        lp.push(END);
        let total = lp.len() as u32;
        lp[0..4].copy_from_slice(&total.to_le_bytes());
        lp[4..6].copy_from_slice(&10u16.to_le_bytes());
        let got = parse(&lp).unwrap();
        assert_eq!(
            got,
            vec![
                Elem::Int(5),
                Elem::Str(b"abc"),
                Elem::Int(-1),
                Elem::Int(256),
                Elem::Str(&[b'x'; 64]),
                Elem::Str(&[b'y'; 4096]),
                Elem::Int(-32768),
                Elem::Int(-8388608),
                Elem::Int(i64::from(i32::MAX)),
                Elem::Int(i64::MIN),
            ]
        );
        // Unknown count is accepted; a wrong count is not.
        lp[4..6].copy_from_slice(&NUM_UNKNOWN.to_le_bytes());
        assert_eq!(parse(&lp).unwrap().len(), 10);
        lp[4..6].copy_from_slice(&9u16.to_le_bytes());
        assert!(parse(&lp).unwrap_err().what.contains("expected 9 elements"));
    }

    #[test]
    fn backlen_matches_redis() {
        assert_eq!(&backlen(5)[..1], &[5]);
        assert_eq!(&backlen(127)[..1], &[127]);
        assert_eq!(&backlen(128)[..2], &[1, 0x80]);
        assert_eq!(backlen_size(16382), 2);
        assert_eq!(&backlen(16383)[..3], &[0, 0xff, 0xff]);
        assert_eq!(backlen_size(1 << 30), 5);
    }

    #[test]
    fn malformed() {
        let ok = encode(&[b"hello".to_vec(), b"7".to_vec()]);
        assert!(parse(&ok).is_ok());
        assert!(parse(&ok[..6]).is_err());
        let mut bad = ok.clone();
        bad[0] += 1;
        assert!(parse(&bad).unwrap_err().what.contains("total-bytes"));
        let mut bad = ok.clone();
        *bad.last_mut().unwrap() = 0;
        assert!(parse(&bad).unwrap_err().what.contains("end marker"));
        let mut bad = ok.clone();
        bad[6] = 0xf5;
        assert!(parse(&bad).unwrap_err().what.contains("unused 0xf5"));
        let mut bad = ok.clone();
        bad[6] = 0x8f; // string longer than the listpack
        assert_eq!(parse(&bad).unwrap_err().at, 6);
        let mut bad = ok.clone();
        bad[12] = 9; // wrong back-length of "hello"
        assert!(parse(&bad).unwrap_err().what.contains("back-length"));
        let mut bad = ok;
        bad[6] = END; // end marker too early
        assert!(parse(&bad).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(elems in proptest::collection::vec(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::collection::vec(any::<u8>(), 4000..4200),
            any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            (-5000i64..5000).prop_map(|v| v.to_string().into_bytes()),
        ], 0..30)) {
            let lp = encode(&elems);
            let got: Vec<Vec<u8>> = parse(&lp).unwrap().into_iter().map(Elem::to_vec).collect();
            prop_assert_eq!(got, elems);
        }

        #[test]
        fn garbage_never_panics(mut b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse(&b);
            // With a consistent header, so the entry walk is reached.
            if b.len() >= 7 {
                let n = b.len() as u32;
                b[0..4].copy_from_slice(&n.to_le_bytes());
                *b.last_mut().unwrap() = END;
                let _ = parse(&b);
            }
        }
    }
}
