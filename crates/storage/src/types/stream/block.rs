//! One packed block of stream entries (Redis's listpack node of a stream's rax).
//!
//! A block is one allocation holding up to `stream-node-max-entries` entries (or
//! `stream-node-max-bytes`), keyed in the stream's tree by its first entry's ID (the
//! "master" ID). Its first entry's field names are stored once in the header; an entry with
//! the same field names stores only its values (Redis's SAMEFIELDS compression), which is
//! what makes a stream of uniform records cost ~20 bytes an entry instead of an allocation
//! per entry.
//!
//! ```text
//! header: nfields (field)*                       the master entry's field names
//! entry:  flags u8 | ms-delta | seq | body        flags: 1 = deleted, 2 = same fields
//!   ms-delta = ms - master.ms; seq = seq - master.seq when ms-delta is 0, else seq
//!   body (same fields): (value)* , nfields of them
//!   body (other fields): npairs (field value)*
//! varints are LEB128; a field or value is varint length + bytes
//! ```
//! Deleting an entry flips its flag in place (XDEL, trimming inside a block), as Redis marks
//! listpack entries; a block whose entries are all deleted is dropped by the stream.

use super::StreamId;

pub(crate) const F_DELETED: u8 = 1;
pub(crate) const F_SAME: u8 = 2;

#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub buf: Vec<u8>,
    /// Entries not deleted.
    pub live: u32,
    /// Entries stored, deleted ones included.
    pub total: u32,
    /// The ID of the last entry stored (deleted or not).
    pub last: StreamId,
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[inline]
pub(crate) fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let x = b[*pos];
        *pos += 1;
        n |= ((x & 0x7f) as u64) << shift;
        if x < 0x80 {
            return n;
        }
        shift += 7;
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

#[inline]
fn get_str<'a>(b: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let n = get_varint(b, pos) as usize;
    let s = &b[*pos..*pos + n];
    *pos += n;
    s
}

/// One decoded entry: its ID, where its flag byte is, and its field/value pairs.
pub struct EntryRef<'a> {
    pub id: StreamId,
    pub(crate) at: usize,
    pub deleted: bool,
    pairs: Pairs<'a>,
}

#[derive(Clone, Copy)]
enum Pairs<'a> {
    /// Values only, after `pos`; the fields are the header's (after `hdr`).
    Same {
        buf: &'a [u8],
        hdr: usize,
        pos: usize,
        n: usize,
    },
    /// `n` (field, value) pairs after `pos`.
    Own { buf: &'a [u8], pos: usize, n: usize },
}

impl<'a> EntryRef<'a> {
    /// Number of field/value pairs.
    pub fn len(&self) -> usize {
        match self.pairs {
            Pairs::Same { n, .. } | Pairs::Own { n, .. } => n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Visit each (field, value) pair in order.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(&'a [u8], &'a [u8])) {
        match self.pairs {
            Pairs::Same { buf, hdr, pos, n } => {
                let (mut h, mut p) = (hdr, pos);
                for _ in 0..n {
                    let fld = get_str(buf, &mut h);
                    let v = get_str(buf, &mut p);
                    f(fld, v);
                }
            }
            Pairs::Own { buf, pos, n } => {
                let mut p = pos;
                for _ in 0..n {
                    let fld = get_str(buf, &mut p);
                    let v = get_str(buf, &mut p);
                    f(fld, v);
                }
            }
        }
    }

    /// The pairs, owned.
    pub fn to_pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(|f, x| v.push((f.to_vec(), x.to_vec())));
        v
    }
}

impl Block {
    /// A new block whose master entry is `id` with `pairs` (its field names become the
    /// header).
    pub fn new(id: StreamId, pairs: &[(&[u8], &[u8])]) -> Block {
        let mut buf = Vec::with_capacity(64);
        put_varint(&mut buf, pairs.len() as u64);
        for (f, _) in pairs {
            put_str(&mut buf, f);
        }
        let mut b = Block {
            buf,
            live: 0,
            total: 0,
            last: id,
        };
        b.push(id, id, pairs);
        b
    }

    /// Bytes `push` would add for an entry (an upper bound, for the size limit).
    pub fn entry_size(pairs: &[(&[u8], &[u8])]) -> usize {
        1 + 20
            + pairs
                .iter()
                .map(|(f, v)| f.len() + v.len() + 10)
                .sum::<usize>()
    }

    fn header_fields(&self) -> (usize, usize) {
        let mut p = 0;
        let n = get_varint(&self.buf, &mut p) as usize;
        let hdr = p;
        for _ in 0..n {
            let l = get_varint(&self.buf, &mut p) as usize;
            p += l;
        }
        (n, hdr)
    }

    /// Offset of the first entry (past the header).
    fn first_entry(&self) -> usize {
        let (n, mut p) = self.header_fields();
        for _ in 0..n {
            let l = get_varint(&self.buf, &mut p) as usize;
            p += l;
        }
        p
    }

    fn same_fields(&self, pairs: &[(&[u8], &[u8])]) -> bool {
        let (n, mut p) = self.header_fields();
        if n != pairs.len() {
            return false;
        }
        pairs.iter().all(|(f, _)| get_str(&self.buf, &mut p) == *f)
    }

    /// Append an entry (`id` greater than every stored one; `master` is the block's key).
    pub fn push(&mut self, master: StreamId, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same = self.same_fields(pairs);
        let need = Block::entry_size(pairs);
        if self.buf.capacity() - self.buf.len() < need {
            // Grow by half again (not double): a sealed block is shrunk to fit anyway, and
            // the growing tail block is the only one with slack.
            let want = (self.buf.len() / 2).max(need).max(64);
            self.buf.reserve_exact(want);
        }
        self.buf.push(if same { F_SAME } else { 0 });
        let dms = id.ms - master.ms;
        put_varint(&mut self.buf, dms);
        put_varint(
            &mut self.buf,
            if dms == 0 {
                id.seq - master.seq
            } else {
                id.seq
            },
        );
        if same {
            for (_, v) in pairs {
                put_str(&mut self.buf, v);
            }
        } else {
            put_varint(&mut self.buf, pairs.len() as u64);
            for (f, v) in pairs {
                put_str(&mut self.buf, f);
                put_str(&mut self.buf, v);
            }
        }
        self.live += 1;
        self.total += 1;
        self.last = id;
    }

    /// Decode the entry at `pos`; returns it and the offset of the next one.
    #[inline]
    fn decode_at(
        &self,
        master: StreamId,
        hdr: (usize, usize),
        pos: usize,
    ) -> (EntryRef<'_>, usize) {
        let b = &self.buf[..];
        let mut p = pos;
        let flags = b[p];
        p += 1;
        let dms = get_varint(b, &mut p);
        let s = get_varint(b, &mut p);
        let id = if dms == 0 {
            StreamId::new(master.ms, master.seq + s)
        } else {
            StreamId::new(master.ms + dms, s)
        };
        let (pairs, end) = if flags & F_SAME != 0 {
            let start = p;
            for _ in 0..hdr.0 {
                let l = get_varint(b, &mut p) as usize;
                p += l;
            }
            (
                Pairs::Same {
                    buf: b,
                    hdr: hdr.1,
                    pos: start,
                    n: hdr.0,
                },
                p,
            )
        } else {
            let n = get_varint(b, &mut p) as usize;
            let start = p;
            for _ in 0..2 * n {
                let l = get_varint(b, &mut p) as usize;
                p += l;
            }
            (
                Pairs::Own {
                    buf: b,
                    pos: start,
                    n,
                },
                p,
            )
        };
        (
            EntryRef {
                id,
                at: pos,
                deleted: flags & F_DELETED != 0,
                pairs,
            },
            end,
        )
    }

    /// Visit every entry (deleted ones too) in ID order; `f` returns false to stop.
    pub fn scan<'a>(&'a self, master: StreamId, mut f: impl FnMut(EntryRef<'a>) -> bool) -> bool {
        let hdr = self.header_fields();
        let mut pos = self.first_entry();
        while pos < self.buf.len() {
            let (e, next) = self.decode_at(master, hdr, pos);
            if !f(e) {
                return false;
            }
            pos = next;
        }
        true
    }

    /// Visit every entry in reverse ID order; `f` returns false to stop.
    pub fn scan_rev<'a>(
        &'a self,
        master: StreamId,
        mut f: impl FnMut(EntryRef<'a>) -> bool,
    ) -> bool {
        let hdr = self.header_fields();
        let mut offsets: Vec<usize> = Vec::with_capacity(self.total as usize);
        let mut pos = self.first_entry();
        while pos < self.buf.len() {
            offsets.push(pos);
            let (_, next) = self.decode_at(master, hdr, pos);
            pos = next;
        }
        for &at in offsets.iter().rev() {
            let (e, _) = self.decode_at(master, hdr, at);
            if !f(e) {
                return false;
            }
        }
        true
    }

    /// Mark the entry whose flag byte is at `at` deleted. False if it already was.
    pub fn mark_deleted(&mut self, at: usize) -> bool {
        if self.buf[at] & F_DELETED != 0 {
            return false;
        }
        self.buf[at] |= F_DELETED;
        self.live -= 1;
        true
    }

    /// Heap bytes this block holds.
    pub fn mem(&self) -> usize {
        self.buf.capacity() + BLOCK_OVERHEAD
    }
}

/// Bytes of a block's tree slot and bookkeeping beyond its buffer.
pub(crate) const BLOCK_OVERHEAD: usize = 64;
