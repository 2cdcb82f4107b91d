//! The compact blob small collections use inline in their entry (Redis's listpack, simpler):
//!
//! ```text
//! count: u32 LE | element* ;  element = len: LEB128 varint | bytes
//! ```
//! A hash stores field, value, field, value…; a sorted set member, score (8 bytes, f64 LE)…;
//! `count` is the number of *elements* (so a hash's field count is count / 2). Lookups are
//! linear scans, fine below the size thresholds (`Limits`), and every element costs its
//! length plus one byte for lengths under 128.
//!
//! **This layout is on disk**: snapshots write a small collection's blob as it is (value
//! tags 0x11–0x14, `dump::Tag`), and RESTORE reads it. Changing it (or a type's use of it,
//! such as the sorted set's score elements) takes new tags, with the old ones still read.
//! Blobs from outside go through `checked` first: `iter` trusts its input.

/// An empty blob.
pub const EMPTY: [u8; 4] = [0; 4];

#[inline]
pub fn count(blob: &[u8]) -> usize {
    u32::from_le_bytes(blob[..4].try_into().unwrap()) as usize
}

#[inline]
pub fn set_count(blob: &mut [u8], n: usize) {
    blob[..4].copy_from_slice(&(n as u32).to_le_bytes());
}

/// Encode one element (varint length + bytes) onto `out`.
#[inline]
pub fn put(out: &mut Vec<u8>, elem: &[u8]) {
    let mut n = elem.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(elem);
}

/// Bytes `put` would write for an element of `len` bytes.
#[inline]
pub fn encoded_len(len: usize) -> usize {
    let mut n = len;
    let mut h = 1;
    while n >= 0x80 {
        n >>= 7;
        h += 1;
    }
    h + len
}

/// Build a blob from elements.
pub fn build<'a>(elems: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = EMPTY.to_vec();
    let mut n = 0;
    for e in elems {
        put(&mut out, e);
        n += 1;
    }
    set_count(&mut out, n);
    out
}

/// Iterate a blob's elements, each with its byte range in the blob (element header included)
/// so callers can splice.
pub fn iter(blob: &[u8]) -> Iter<'_> {
    Iter { blob, pos: 4 }
}

pub struct Iter<'a> {
    blob: &'a [u8],
    pos: usize,
}

/// One element: its bytes and the range `start..end` it occupies in the blob.
#[derive(Clone, Copy, Debug)]
pub struct Elem<'a> {
    pub bytes: &'a [u8],
    pub start: usize,
    pub end: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;
    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.pos >= self.blob.len() {
            return None;
        }
        let start = self.pos;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = self.blob[self.pos];
            self.pos += 1;
            len |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let bytes = &self.blob[self.pos..self.pos + len];
        self.pos += len;
        Some(Elem {
            bytes,
            start,
            end: self.pos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let long = vec![7u8; 300];
        let elems: Vec<&[u8]> = vec![b"", b"a", &long, b"xyz"];
        let blob = build(elems.iter().copied());
        assert_eq!(count(&blob), 4);
        let got: Vec<&[u8]> = iter(&blob).map(|e| e.bytes).collect();
        assert_eq!(got, elems);
        assert_eq!(
            blob.len(),
            4 + elems.iter().map(|e| encoded_len(e.len())).sum::<usize>()
        );
    }
}
