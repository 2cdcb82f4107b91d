//! The byte source of an RDB read: a buffered reader that counts the offset of every byte
//! (for error messages), feeds every byte to the CRC-64 (for the trailer check), and decodes
//! RDB's length and string encodings.
//!
//! Nothing here allocates ahead of the data: a string is read into a vector that grows as
//! its bytes actually arrive, so a header claiming 2^60 bytes in a 20-byte file fails with
//! "found end of file" after allocating at most the file's size.

use std::io::{self, BufRead, BufReader, Read};

use crc::{Crc, Digest, Table, CRC_64_REDIS};

use super::{lzf, RdbError};

/// Redis's RDB checksum: CRC-64/Jones ("crc-64-jones" in Redis's crc64.c: poly
/// 0xad93d23594c935a9, reflected, init 0, xorout 0, check 0xe9c6d914c4b8d9ca), which is the
/// catalogue's CRC-64/REDIS. Sixteen-lane tables: this runs over every byte of the file.
pub(super) static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// Length encoding, selected by the two high bits of the first byte.
const LEN_6BIT: u8 = 0b00; // 00xxxxxx: the length is the low six bits
const LEN_14BIT: u8 = 0b01; // 01xxxxxx yyyyyyyy: fourteen bits, big-endian
const LEN_ENCVAL: u8 = 0b11; // 11xxxxxx: a specially encoded string, kind in the low bits
/// 10xxxxxx: only these two full bytes are valid (RDB_32BITLEN, RDB_64BITLEN).
const LEN_32BIT: u8 = 0x80; // then a u32, big-endian
const LEN_64BIT: u8 = 0x81; // then a u64, big-endian

/// String encodings after an `11xxxxxx` byte (RDB_ENC_*).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// The longest string accepted. Redis's own limit is 512 MB by default (proto-max-bulk-len
/// can raise it); this only refuses absurd claims up front. Memory for a string still grows
/// only with the bytes actually read.
pub(super) const MAX_STRING_LEN: u64 = 4 << 30;

/// How much a string read reserves before its bytes arrive.
const PREALLOC: u64 = 64 << 10;

/// LZF's best case: a three-byte back-reference copies 264 bytes. A claimed uncompressed
/// length beyond this many times the compressed one cannot be honest.
const LZF_MAX_RATIO: u64 = 88;

/// A string's header: its length, or one of the special encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrHeader {
    Raw(u64),
    /// INT8/16/32: the value, already read.
    Int(i64),
    /// LZF: compressed and uncompressed lengths.
    Lzf {
        clen: u64,
        ulen: u64,
    },
}

/// A string read whole, with where it came from so a structure decoded from it (listpack,
/// ziplist…) can report a file offset.
pub(super) struct Blob {
    pub data: Vec<u8>,
    /// Offset of the string's first header byte.
    pub header_at: u64,
    /// Offset of its first data byte when the data is in the file verbatim; `None` when it
    /// was decoded (LZF, or an integer encoding), so offsets inside it are not file offsets.
    pub data_at: Option<u64>,
}

impl Blob {
    /// Turn an error at byte `bad.at` of this blob, decoded as a `kind`, into a file error.
    pub fn err(&self, kind: &str, bad: super::Bad) -> RdbError {
        match self.data_at {
            Some(at) => RdbError::new(at + bad.at as u64, format!("{} (in a {kind})", bad.what)),
            None => RdbError::new(
                self.header_at,
                format!("{} (byte {} of an encoded {kind})", bad.what, bad.at),
            ),
        }
    }
}

pub(super) struct Input<R> {
    r: BufReader<R>,
    pos: u64,
    crc: Digest<'static, u64, Table<16>>,
}

impl<R: Read> Input<R> {
    pub fn new(r: R) -> Self {
        Self::with_capacity(r, 128 << 10)
    }

    /// With a smaller buffer, for a source already in memory (a DUMP payload).
    pub fn with_capacity(r: R, cap: usize) -> Self {
        Input {
            r: BufReader::with_capacity(cap, r),
            pos: 0,
            crc: CRC64.digest(),
        }
    }

    /// Offset of the next byte.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// The CRC-64 of every byte consumed so far.
    pub fn crc(&self) -> u64 {
        self.crc.clone().finalize()
    }

    fn io_err(&self, what: &str, e: io::Error) -> RdbError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            RdbError::new(self.pos, format!("expected {what}, found end of file"))
        } else {
            RdbError::new(
                self.pos,
                format!("expected {what}, found a read error: {e}"),
            )
        }
    }

    fn consumed(&mut self, b: &[u8]) {
        self.crc.update(b);
        self.pos += b.len() as u64;
    }

    pub fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), RdbError> {
        self.r.read_exact(buf).map_err(|e| self.io_err(what, e))?;
        self.consumed(buf);
        Ok(())
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.exact(&mut b, what)?;
        Ok(b)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, RdbError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// `n` bytes into a vector that grows only as they arrive.
    pub fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, RdbError> {
        if n > MAX_STRING_LEN {
            return Err(RdbError::new(
                self.pos,
                format!("expected {what} of at most {MAX_STRING_LEN} bytes, found a length of {n}"),
            ));
        }
        // Fast path, most strings: already in the buffer.
        if let Ok(buf) = self.r.fill_buf() {
            if let Some(bytes) = usize::try_from(n).ok().and_then(|n| buf.get(..n)) {
                let v = bytes.to_vec();
                self.r.consume(v.len());
                self.consumed(&v);
                return Ok(v);
            }
        }
        let mut v = Vec::with_capacity(n.min(PREALLOC) as usize);
        let got = match self.r.by_ref().take(n).read_to_end(&mut v) {
            Ok(got) => got as u64,
            Err(e) => return Err(self.io_err(what, e)),
        };
        self.consumed(&v);
        if got < n {
            return Err(RdbError::new(
                self.pos,
                format!(
                    "expected {} more bytes of {what}, found end of file",
                    n - got
                ),
            ));
        }
        Ok(v)
    }

    /// Consume `n` bytes without keeping them (they still count for the CRC).
    pub fn skip(&mut self, mut n: u64, what: &str) -> Result<(), RdbError> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let chunk = n.min(buf.len() as u64) as usize;
            self.exact(&mut buf[..chunk], what)?;
            n -= chunk as u64;
        }
        Ok(())
    }

    /// A length, or a string's special encoding marker (`Err(kind)` for `11xxxxxx`).
    fn len_or_enc(&mut self, what: &str) -> Result<Result<u64, u8>, RdbError> {
        let at = self.pos;
        let b = self.u8(what)?;
        Ok(Ok(match b >> 6 {
            LEN_6BIT => u64::from(b & 0x3f),
            LEN_14BIT => (u64::from(b & 0x3f) << 8) | u64::from(self.u8(what)?),
            LEN_ENCVAL => return Ok(Err(b & 0x3f)),
            _ => match b {
                LEN_32BIT => u64::from(u32::from_be_bytes(self.array(what)?)),
                LEN_64BIT => u64::from_be_bytes(self.array(what)?),
                _ => {
                    return Err(RdbError::new(
                        at,
                        format!(
                            "expected {what} (a length: 00xxxxxx, 01xxxxxx, 0x80 or 0x81), \
                             found 0x{b:02x}"
                        ),
                    ))
                }
            },
        }))
    }

    /// A plain length (a count, a db number…): special encodings are an error here.
    pub fn len(&mut self, what: &str) -> Result<u64, RdbError> {
        let at = self.pos;
        match self.len_or_enc(what)? {
            Ok(n) => Ok(n),
            Err(kind) => Err(RdbError::new(
                at,
                format!(
                    "expected {what} (a length), found a string encoding marker 0x{:02x}",
                    0xc0 | kind
                ),
            )),
        }
    }

    pub fn str_header(&mut self, what: &str) -> Result<StrHeader, RdbError> {
        let at = self.pos;
        Ok(match self.len_or_enc(what)? {
            Ok(n) => StrHeader::Raw(n),
            Err(ENC_INT8) => StrHeader::Int(i64::from(i8::from_le_bytes(self.array(what)?))),
            Err(ENC_INT16) => StrHeader::Int(i64::from(i16::from_le_bytes(self.array(what)?))),
            Err(ENC_INT32) => StrHeader::Int(i64::from(i32::from_le_bytes(self.array(what)?))),
            Err(ENC_LZF) => {
                let clen = self.len("the compressed length of an LZF string")?;
                let ulen = self.len("the uncompressed length of an LZF string")?;
                if ulen > MAX_STRING_LEN || ulen > clen.saturating_mul(LZF_MAX_RATIO) {
                    return Err(RdbError::new(
                        at,
                        format!(
                            "expected an LZF string whose length ≤ {LZF_MAX_RATIO} × its \
                             compressed length {clen} (and ≤ {MAX_STRING_LEN}), found {ulen}"
                        ),
                    ));
                }
                StrHeader::Lzf { clen, ulen }
            }
            Err(kind) => {
                return Err(RdbError::new(
                    at,
                    format!(
                        "expected {what} (string encodings 0xc0..=0xc3), found 0x{:02x}",
                        0xc0 | kind
                    ),
                ))
            }
        })
    }

    /// A string, whatever its encoding, as bytes (integers in decimal, as Redis loads them).
    pub fn string(&mut self, what: &str) -> Result<Vec<u8>, RdbError> {
        Ok(self.blob(what)?.data)
    }

    /// A string with its provenance (for the structures stored inside strings).
    pub fn blob(&mut self, what: &str) -> Result<Blob, RdbError> {
        let header_at = self.pos;
        let (data, data_at) = match self.str_header(what)? {
            StrHeader::Raw(n) => {
                let at = self.pos;
                (self.bytes(n, what)?, Some(at))
            }
            StrHeader::Int(i) => (i.to_string().into_bytes(), None),
            StrHeader::Lzf { clen, ulen } => {
                let data_at = self.pos;
                let packed = self.bytes(clen, what)?;
                let ulen = usize::try_from(ulen).map_err(|_| {
                    RdbError::new(
                        header_at,
                        format!("expected {what} this machine can hold, found {ulen} bytes"),
                    )
                })?;
                let data = lzf::decompress(&packed, ulen).map_err(|bad| {
                    RdbError::new(
                        data_at + bad.at as u64,
                        format!("{} (in the LZF data of {what})", bad.what),
                    )
                })?;
                (data, None)
            }
        };
        Ok(Blob {
            data,
            header_at,
            data_at,
        })
    }

    /// Consume a string without keeping it; its length (uncompressed) is returned.
    pub fn skip_string(&mut self, what: &str) -> Result<u64, RdbError> {
        match self.str_header(what)? {
            StrHeader::Raw(n) => self.skip(n, what).map(|()| n),
            StrHeader::Int(_) => Ok(0),
            StrHeader::Lzf { clen, ulen } => self.skip(clen, what).map(|()| ulen),
        }
    }

    /// A string kept only up to `keep` bytes (names for reports).
    pub fn string_prefix(&mut self, keep: usize, what: &str) -> Result<Vec<u8>, RdbError> {
        let s = self.string(what)?;
        Ok(if s.len() > keep {
            s[..keep].to_vec()
        } else {
            s
        })
    }
}
