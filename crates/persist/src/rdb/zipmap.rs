//! Zipmap decoding: the blob of RDB type 9, small hashes as Redis ≤ 2.4 stored them.
//!
//! ```text
//! <zmlen: 1 byte, the pair count; 254 = unknown> (<len>field <len><free>value <free bytes>)* <0xFF>
//! len  = 1 byte if < 254, else 254 followed by a u32 LE; 255 is the end marker instead
//! free = 1 byte: unused bytes after the value, skipped
//! ```

use super::Bad;

const BIGLEN: u8 = 254;
const END: u8 = 0xff;

pub(super) type Pair<'a> = (&'a [u8], &'a [u8]);

pub(super) fn parse(b: &[u8]) -> Result<Vec<Pair<'_>>, Bad> {
    if b.len() < 2 {
        return Err(Bad::new(
            0,
            format!("expected a zipmap of at least 2 bytes, found {}", b.len()),
        ));
    }
    let end = b.len() - 1;
    if b[end] != END {
        return Err(Bad::new(
            end,
            format!("expected the end marker 0xff, found 0x{:02x}", b[end]),
        ));
    }
    let body = &b[..end];
    let mut out = Vec::new();
    let mut p = 1;
    while p < end {
        let field = string(body, &mut p, false)?;
        let value = string(body, &mut p, true)?;
        out.push((field, value));
    }
    let zmlen = b[0];
    if zmlen != BIGLEN && usize::from(zmlen) != out.len() {
        return Err(Bad::new(
            0,
            format!("expected {zmlen} pairs (zmlen), found {}", out.len()),
        ));
    }
    Ok(out)
}

/// One length-prefixed string at `*p` (a value also has a free-byte count and padding).
fn string<'a>(b: &'a [u8], p: &mut usize, value: bool) -> Result<&'a [u8], Bad> {
    let at = *p;
    let what = if value { "value" } else { "field" };
    let short = |n: usize| {
        Bad::new(
            at,
            format!(
                "expected a zipmap {what} of {n} bytes, found {} before the end marker",
                b.len() - at
            ),
        )
    };
    let (len, hdr) = match b.get(at).copied() {
        None => return Err(short(1)),
        Some(BIGLEN) => {
            let d = b.get(at + 1..at + 5).ok_or_else(|| short(5))?;
            (u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize, 5)
        }
        Some(END) => {
            return Err(Bad::new(
                at,
                format!("expected a zipmap {what} length, found the end marker"),
            ))
        }
        Some(n) => (usize::from(n), 1),
    };
    let mut start = at + hdr;
    let mut free = 0;
    if value {
        free = usize::from(*b.get(start).ok_or_else(|| short(hdr + 1))?);
        start += 1;
    }
    let stop = start
        .checked_add(len)
        .and_then(|s| s.checked_add(free))
        .filter(|&s| s <= b.len());
    let Some(stop) = stop else {
        return Err(short((start - at).saturating_add(len).saturating_add(free)));
    };
    *p = stop;
    Ok(&b[start..start + len])
}

/// A zipmap of `pairs` (with one free byte after each value), for tests.
#[cfg(test)]
pub(super) fn encode(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![u8::try_from(pairs.len())
        .ok()
        .filter(|&n| n < BIGLEN)
        .unwrap_or(BIGLEN)];
    let len = |b: &mut Vec<u8>, n: usize| {
        if n < usize::from(BIGLEN) {
            b.push(n as u8);
        } else {
            b.push(BIGLEN);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
    };
    for (f, v) in pairs {
        len(&mut b, f.len());
        b.extend_from_slice(f);
        len(&mut b, v.len());
        b.push(1);
        b.extend_from_slice(v);
        b.push(0xaa); // the free byte's padding: skipped by the reader
    }
    b.push(END);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_example_and_big_lengths() {
        // The example from Redis's zipmap.c: "foo" => "bar", "hello" => "world".
        let b = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        assert_eq!(
            parse(b).unwrap(),
            vec![(&b"foo"[..], &b"bar"[..]), (&b"hello"[..], &b"world"[..])]
        );
        let big = vec![b'v'; 300];
        let pairs = vec![(b"f".to_vec(), big.clone()), (big.clone(), Vec::new())];
        let enc = encode(&pairs);
        let got: Vec<(Vec<u8>, Vec<u8>)> = parse(&enc)
            .unwrap()
            .into_iter()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(got, pairs);
    }

    #[test]
    fn malformed() {
        assert!(parse(b"\x01").is_err());
        assert!(parse(b"\x02\x03foo\x03\x00bar\xff")
            .unwrap_err()
            .what
            .contains("zmlen"));
        assert!(parse(b"\x01\x03foo\x09\x00bar\xff").is_err());
        assert!(parse(b"\x01\x03foo\xff").is_err());
        assert!(parse(b"\x01\x03foo\x03\x05bar\xff").is_err()); // free bytes past the end
    }
}
