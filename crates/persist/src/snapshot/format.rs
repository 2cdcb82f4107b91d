//! The snapshot file format, version 3: constants, the header, block framing, the
//! function-library block and the record codec. Pure functions over bytes; the writer and
//! reader add the I/O.
//!
//! ```text
//! file    = header functions* block* end
//! header  = magic "RCSNAP\r\n" | version u16 | reserved u16 (0) | created_ms u64
//!           | databases u32 | crc32c(header so far) u32                       (28 bytes)
//! functions = tag 0x02 | libraries u32 | len u32 | crc32c(bytes) u32 | bytes    (13 + n)
//!           bytes = (varint length, a library's code as FUNCTION LOAD took it)*
//! block   = tag 0x01 | codec u8 (0 raw, 1 lz4) | raw_len u32 | stored_len u32
//!           | records u32 | crc32c(stored bytes) u32 | stored bytes             (18 + n)
//! end     = tag 0xFF | records u64 | blocks u64 | crc64(every byte before this end's tag)
//! record  = db varint | value tag u8 | flags u8 | [expire_at_ms u64] | [mc flags u32 cas u64
//!           bits u32] | key (varint len, bytes) | body (varint len, DUMP body bytes)
//! ```
//! Integers are little-endian; varints are LEB128. The value tag and `body` are exactly a
//! DUMP payload's (`storage::dump::Tag`: 0–4 element by element, 0x06 a stream, 0x11–0x14 a small
//! collection's compact blob as its entry holds it), so the snapshot, DUMP/RESTORE and
//! (later) slot migration share one entry serialisation. Version 2 added the compact tags;
//! version 3 the function-library blocks (Redis 7's functions: FUNCTION LOAD's text, one
//! entry per library), which come right after the header so a loader has the libraries
//! before the first key; a version-1 or 2 file (which has neither) reads as before, and an
//! older reader refuses a version-3 file at its header. Values on disk are explicit and never
//! reused: a new layout takes a new version, tag, codec or flag bit. Readers refuse what
//! they do not know.

use crate::record::{Record, RecordRef};
use storage::dump::{self, Tag, ValueRef};
use storage::types::generic;
use storage::McMeta;

pub const MAGIC: &[u8; 8] = b"RCSNAP\r\n";
/// The version written. 2: value tags 0x11–0x14 (compact blobs). 3: function-library
/// blocks (`TAG_FUNCTIONS`) after the header.
pub const VERSION: u16 = 3;
/// The first version that may hold function-library blocks.
pub const FUNCTIONS_VERSION: u16 = 3;
/// The oldest version read. 1: value tags 0–4 only.
pub const MIN_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 28;

/// Block tags.
pub const TAG_RECORDS: u8 = 0x01;
/// Function libraries (version 3 on): only directly after the header, before any records.
pub const TAG_FUNCTIONS: u8 = 0x02;
pub const TAG_END: u8 = 0xFF;
pub const BLOCK_HEADER_LEN: usize = 18;
/// A functions block's framing: tag, libraries, length, checksum.
pub const FUNCTIONS_HEADER_LEN: usize = 13;
pub const END_LEN: usize = 25;

/// Block codecs.
pub const CODEC_RAW: u8 = 0;
pub const CODEC_LZ4: u8 = 1;

/// Record flag bits.
pub const FLAG_TTL: u8 = 1;
pub const FLAG_MC: u8 = 2;
const KNOWN_FLAGS: u8 = FLAG_TTL | FLAG_MC;

/// A block's raw bytes are capped so a reader never allocates more than this per block,
/// whatever a corrupt header says (writers cut blocks far below it).
pub const MAX_BLOCK: usize = 64 << 20;

pub const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
pub const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// The file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `VERSION` when writing; what the file says when read.
    pub version: u16,
    pub created_ms: u64,
    pub databases: u32,
}

pub fn encode_header(h: &Header) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[..8].copy_from_slice(MAGIC);
    b[8..10].copy_from_slice(&h.version.to_le_bytes());
    b[12..20].copy_from_slice(&h.created_ms.to_le_bytes());
    b[20..24].copy_from_slice(&h.databases.to_le_bytes());
    let crc = CRC32.checksum(&b[..24]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    b
}

pub fn decode_header(b: &[u8]) -> Result<Header, String> {
    if b.len() < HEADER_LEN {
        return Err(format!(
            "a {HEADER_LEN}-byte header, found {} bytes",
            b.len()
        ));
    }
    if &b[..8] != MAGIC {
        return Err("the magic \"RCSNAP\\r\\n\" (not an rcache snapshot)".into());
    }
    let version = u16::from_le_bytes([b[8], b[9]]);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(format!(
            "format version {MIN_VERSION} to {VERSION}, found {version} (written by another \
             rcache version)"
        ));
    }
    let crc = u32::from_le_bytes(b[24..28].try_into().expect("4 bytes"));
    if crc != CRC32.checksum(&b[..24]) {
        return Err("a header whose checksum matches".into());
    }
    Ok(Header {
        version,
        created_ms: u64::from_le_bytes(b[12..20].try_into().expect("8 bytes")),
        databases: u32::from_le_bytes(b[20..24].try_into().expect("4 bytes")),
    })
}

/// A block's framing, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    pub codec: u8,
    pub raw_len: u32,
    pub stored_len: u32,
    pub records: u32,
    pub crc: u32,
}

/// Frame `raw` (the encoded records) as a block: lz4 when it saves at least an eighth.
pub fn encode_block(raw: &[u8], records: u32, out: &mut Vec<u8>) {
    let packed = lz4_flex::block::compress(raw);
    let (codec, stored): (u8, &[u8]) = if packed.len() < raw.len() - raw.len() / 8 {
        (CODEC_LZ4, &packed)
    } else {
        (CODEC_RAW, raw)
    };
    out.push(TAG_RECORDS);
    out.push(codec);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&CRC32.checksum(stored).to_le_bytes());
    out.extend_from_slice(stored);
}

/// Decode a block header (after its tag byte, which the caller read).
pub fn decode_block_header(b: &[u8; BLOCK_HEADER_LEN - 1]) -> Result<BlockHeader, String> {
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    let h = BlockHeader {
        codec: b[0],
        raw_len: u32_at(1),
        stored_len: u32_at(5),
        records: u32_at(9),
        crc: u32_at(13),
    };
    if h.codec != CODEC_RAW && h.codec != CODEC_LZ4 {
        return Err(format!("block codec 0 or 1, found {}", h.codec));
    }
    if h.raw_len as usize > MAX_BLOCK || h.stored_len as usize > MAX_BLOCK {
        return Err(format!(
            "a block of at most {MAX_BLOCK} bytes, found {} / {}",
            h.raw_len, h.stored_len
        ));
    }
    if h.codec == CODEC_RAW && h.raw_len != h.stored_len {
        return Err("a raw block whose stored and raw lengths agree".into());
    }
    Ok(h)
}

/// The raw records of a block from its stored bytes (checksum already verified).
pub fn unpack_block(h: &BlockHeader, stored: &[u8]) -> Result<Vec<u8>, String> {
    match h.codec {
        CODEC_LZ4 => {
            let raw = lz4_flex::block::decompress(stored, h.raw_len as usize)
                .map_err(|e| format!("lz4 data that decompresses ({e})"))?;
            if raw.len() != h.raw_len as usize {
                return Err(format!(
                    "{} bytes after decompression, found {}",
                    h.raw_len,
                    raw.len()
                ));
            }
            Ok(raw)
        }
        _ => Ok(stored.to_vec()),
    }
}

/// Frame function libraries (each its FUNCTION LOAD text) as functions blocks, each at most
/// `MAX_BLOCK` bytes. No libraries: nothing. Errors when one library alone is too large.
pub fn encode_functions(libraries: &[Vec<u8>], out: &mut Vec<u8>) -> Result<(), String> {
    let mut bytes = Vec::new();
    let mut count = 0u32;
    let flush = |bytes: &mut Vec<u8>, count: &mut u32, out: &mut Vec<u8>| {
        if *count == 0 {
            return;
        }
        out.push(TAG_FUNCTIONS);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&CRC32.checksum(bytes).to_le_bytes());
        out.extend_from_slice(bytes);
        bytes.clear();
        *count = 0;
    };
    for code in libraries {
        let mut entry = Vec::with_capacity(code.len() + 10);
        put_varint(&mut entry, code.len() as u64);
        entry.extend_from_slice(code);
        if entry.len() > MAX_BLOCK {
            return Err(format!(
                "a function library of {} bytes does not fit a {MAX_BLOCK}-byte block",
                code.len()
            ));
        }
        if bytes.len() + entry.len() > MAX_BLOCK {
            flush(&mut bytes, &mut count, out);
        }
        bytes.extend_from_slice(&entry);
        count += 1;
    }
    flush(&mut bytes, &mut count, out);
    Ok(())
}

/// A functions block's framing (after its tag byte): (libraries, length, crc32c).
pub fn decode_functions_header(
    b: &[u8; FUNCTIONS_HEADER_LEN - 1],
) -> Result<(u32, u32, u32), String> {
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    let (libraries, len, crc) = (u32_at(0), u32_at(4), u32_at(8));
    if len as usize > MAX_BLOCK {
        return Err(format!(
            "a functions block of at most {MAX_BLOCK} bytes, found {len}"
        ));
    }
    Ok((libraries, len, crc))
}

/// The libraries of a verified functions block's bytes: exactly `libraries` entries.
pub fn decode_functions(libraries: u32, b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut r = RecordReader::new(b);
    let mut out = Vec::new();
    while !r.at_end() {
        let n = r.varint("a function library's length")?;
        out.push(r.take(n, "a function library's code")?.to_vec());
    }
    if out.len() != libraries as usize {
        return Err(format!(
            "{libraries} function libraries as the block says, found {}",
            out.len()
        ));
    }
    Ok(out)
}

/// A library's name as its first line says (`#!lua name=mylib`), for reports; the server's
/// own parser (FUNCTION LOAD's) decides what a library is.
pub fn library_name(code: &[u8]) -> String {
    let line = code.split(|&c| c == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line)
        .split_ascii_whitespace()
        .find_map(|part| {
            let (k, v) = part.split_once('=')?;
            k.eq_ignore_ascii_case("name")
                .then(|| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// The end marker: totals and the checksum of everything before it.
pub fn encode_end(records: u64, blocks: u64, crc: u64) -> [u8; END_LEN] {
    let mut b = [0u8; END_LEN];
    b[0] = TAG_END;
    b[1..9].copy_from_slice(&records.to_le_bytes());
    b[9..17].copy_from_slice(&blocks.to_le_bytes());
    b[17..25].copy_from_slice(&crc.to_le_bytes());
    b
}

pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Encode one entry as a record. Strings are written straight from the entry's bytes; a
/// small collection as its compact blob (read back with one copy); a large one element by
/// element, straight from the entry (`generic::write_body`).
pub fn encode_entry(db: usize, e: &storage::Entry, out: &mut Vec<u8>) {
    put_varint(out, db as u64);
    let ty = e.obj_type();
    let tag = generic::body_tag(e, true);
    out.push(tag as u8);
    let at = e.expire_at();
    let mc = (e.enc() == storage::Enc::Meta).then(|| e.mc_meta());
    let flags = if at != 0 { FLAG_TTL } else { 0 } | if mc.is_some() { FLAG_MC } else { 0 };
    out.push(flags);
    if at != 0 {
        out.extend_from_slice(&at.to_le_bytes());
    }
    if let Some(m) = mc {
        put_mc(out, &m);
    }
    put_varint(out, e.key().len() as u64);
    out.extend_from_slice(e.key());
    if ty == storage::ObjType::String {
        // A string's DUMP body is its length and bytes: the body's own length prefix and
        // the string's are the same number plus the varint's size.
        let v = e.value();
        let mut inner = Vec::with_capacity(10);
        put_varint(&mut inner, v.len() as u64);
        put_varint(out, (inner.len() + v.len()) as u64);
        out.extend_from_slice(&inner);
        out.extend_from_slice(v);
    } else if tag.is_compact() {
        put_varint(out, e.value().len() as u64);
        generic::write_body(e, tag, out);
    } else {
        // The body's length comes first but is known only once written: write the body,
        // then move it up behind its length (one memmove, for large collections only).
        let start = out.len();
        generic::write_body(e, tag, out);
        let mut len = Vec::with_capacity(10);
        put_varint(&mut len, (out.len() - start) as u64);
        out.splice(start..start, len);
    }
}

/// Encode a record (the loader's form): what `encode_entry` writes for the same key.
pub fn encode_record(r: &Record, out: &mut Vec<u8>) {
    put_varint(out, r.db as u64);
    out.push(r.value.obj_type() as u8);
    let flags = if r.expire_at_ms.is_some() {
        FLAG_TTL
    } else {
        0
    } | if r.mc.is_some() { FLAG_MC } else { 0 };
    out.push(flags);
    if let Some(at) = r.expire_at_ms {
        out.extend_from_slice(&at.to_le_bytes());
    }
    if let Some(m) = &r.mc {
        put_mc(out, m);
    }
    put_varint(out, r.key.len() as u64);
    out.extend_from_slice(&r.key);
    let mut body = Vec::new();
    dump::encode_body(&r.value, &mut body);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(&body);
}

fn put_mc(out: &mut Vec<u8>, m: &McMeta) {
    out.extend_from_slice(&m.flags.to_le_bytes());
    out.extend_from_slice(&m.cas.to_le_bytes());
    out.extend_from_slice(&m.bits.to_le_bytes());
}

/// A cursor over a block's raw bytes. Errors name what was expected; the caller adds the
/// block's file offset.
pub struct RecordReader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> RecordReader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        RecordReader { b, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// Offset within the block's raw bytes.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn varint(&mut self, what: &str) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .b
                .get(self.pos)
                .ok_or_else(|| format!("{what} (a varint), found the end of the block"))?;
            self.pos += 1;
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(format!("{what} (a varint of at most 10 bytes)"))
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], String> {
        let left = (self.b.len() - self.pos) as u64;
        if n > left {
            return Err(format!(
                "{what} of {n} bytes, found {left} left in the block"
            ));
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    /// The next record.
    pub fn next_record(&mut self) -> Result<Record, String> {
        self.next_record_ref().map(|r| r.to_owned())
    }

    /// The next record, borrowed from the block.
    pub fn next_record_ref(&mut self) -> Result<RecordRef<'a>, String> {
        let db = self.varint("a database index")?;
        let db = u32::try_from(db).map_err(|_| format!("a database index, found {db}"))?;
        let ty = self.u8("a value tag")?;
        if Tag::from_u8(ty).is_none() {
            return Err(format!("a value tag (0–4 or 0x11–0x14), found {ty:#04x}"));
        }
        let flags = self.u8("a flags byte")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(format!(
                "record flags within {KNOWN_FLAGS:#x}, found {flags:#x}"
            ));
        }
        let expire_at_ms = if flags & FLAG_TTL != 0 {
            Some(self.u64("an expiry time")?)
        } else {
            None
        };
        let mc = if flags & FLAG_MC != 0 {
            Some(McMeta {
                flags: self.u32("memcached flags")?,
                cas: self.u64("a memcached CAS")?,
                bits: self.u32("memcached item bits")?,
            })
        } else {
            None
        };
        let klen = self.varint("a key length")?;
        let key = self.take(klen, "a key")?;
        let blen = self.varint("a value length")?;
        let body = self.take(blen, "a value")?;
        let value = dump::decode_body_why(ty, body).map_err(|why| {
            format!(
                "a well-formed value for key {:?}: {why}",
                String::from_utf8_lossy(key)
            )
        })?;
        if mc.is_some() && !matches!(value, ValueRef::String(_)) {
            return Err("memcached metadata on a string only".into());
        }
        Ok(RecordRef {
            db,
            key,
            value,
            expire_at_ms,
            mc,
        })
    }
}
