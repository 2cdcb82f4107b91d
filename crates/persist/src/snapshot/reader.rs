//! Reading a snapshot: verify the header, every block's checksum, the end marker's totals
//! and the whole file's checksum, and hand the function libraries (first) and each record
//! on. Any corruption or truncation is
//! an error naming the file offset and what was expected there; nothing past a bad byte is
//! used. Loading into the keyspace decodes blocks on every core.

use super::format::{self, BlockHeader, Header, RecordReader};
use crate::record::{self, Record, RecordRef};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use storage::{Keyspace, Limits};

/// A refusal: where in the file, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub offset: u64,
    pub expected: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: expected {}", self.offset, self.expected)
    }
}

/// What a file holds, for `rcache check-snapshot` and the start-up log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The file's format version (`format::MIN_VERSION..=format::VERSION`).
    pub version: u16,
    pub created_ms: u64,
    pub databases: u32,
    pub blocks: u64,
    pub records: u64,
    /// Records whose expiry had passed at read time (not loaded).
    pub expired: u64,
    /// Per database: keys by type (string, list, set, zset, hash) and keys with a TTL.
    pub per_db: Vec<DbSummary>,
    pub bytes: u64,
    /// The function libraries (each its FUNCTION LOAD text), in file order.
    pub libraries: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbSummary {
    pub db: u32,
    /// Keys per `ObjType` number (string 0 … hash 4, stream 6; 5 is unused).
    pub by_type: [u64; 7],
    pub with_ttl: u64,
}

impl Summary {
    /// The figures the framing gives (header, end marker, size).
    fn set_framing(&mut self, h: &Header, records: u64, blocks: u64, bytes: u64) {
        self.version = h.version;
        self.created_ms = h.created_ms;
        self.databases = h.databases;
        self.records = records;
        self.blocks = blocks;
        self.bytes = bytes;
    }

    /// Count `rec` and say whether it is still alive at `now_ms` (to be loaded).
    fn take(&mut self, rec: &RecordRef<'_>, now_ms: u64) -> bool {
        self.count(rec);
        if rec.expire_at_ms.is_some_and(|at| at <= now_ms) {
            self.expired += 1;
            false
        } else {
            true
        }
    }

    fn count(&mut self, r: &RecordRef<'_>) {
        let i = match self.per_db.binary_search_by_key(&r.db, |d| d.db) {
            Ok(i) => i,
            Err(i) => {
                self.per_db.insert(
                    i,
                    DbSummary {
                        db: r.db,
                        ..Default::default()
                    },
                );
                i
            }
        };
        let d = &mut self.per_db[i];
        d.by_type[r.value.obj_type() as usize] += 1;
        d.with_ttl += u64::from(r.expire_at_ms.is_some());
    }
}

/// A reader that counts its offset, so every error can say where it happened.
struct Counting<R> {
    inner: R,
    offset: u64,
    crc: crc::Digest<'static, u64>,
}

impl<R: Read> Counting<R> {
    /// Read exactly `buf.len()` bytes; `what` names them for the error.
    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), ReadError> {
        let at = self.offset;
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(ReadError {
                        offset: at + got as u64,
                        expected: format!(
                            "{what} ({} bytes), found the end of the file (truncated)",
                            buf.len()
                        ),
                    })
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(ReadError {
                        offset: at + got as u64,
                        expected: format!("{what}, but reading failed: {e}"),
                    })
                }
            }
        }
        self.offset += buf.len() as u64;
        self.crc.update(buf);
        Ok(())
    }
}

/// One verified block: where it starts and its raw record bytes.
struct Block {
    offset: u64,
    records: u32,
    raw: Vec<u8>,
}

/// Read and verify the framing of `r`: the function libraries go to `functions` once, before
/// the first block of records (an empty list when the file has none), then each verified
/// block to `f`. Returns the header and the end marker's totals.
fn read_blocks<R: Read>(
    r: R,
    mut functions: impl FnMut(Vec<Vec<u8>>) -> Result<(), String>,
    mut f: impl FnMut(Block) -> Result<(), ReadError>,
) -> Result<(Header, u64, u64, u64), ReadError> {
    let mut c = Counting {
        inner: r,
        offset: 0,
        crc: format::CRC64.digest(),
    };
    let mut hb = [0u8; format::HEADER_LEN];
    c.exact(&mut hb, "the snapshot header")?;
    let header = format::decode_header(&hb).map_err(|expected| ReadError {
        offset: 0,
        expected,
    })?;
    let (mut records, mut blocks) = (0u64, 0u64);
    // The libraries, until handed on at the first block of records or the end marker.
    let mut libraries = Some(Vec::new());
    let functions_at = c.offset;
    loop {
        let at = c.offset;
        let crc_before = c.crc.clone().finalize();
        let mut tag = [0u8; 1];
        c.exact(&mut tag, "a block tag or the end marker")?;
        if tag[0] != format::TAG_FUNCTIONS {
            if let Some(libs) = libraries.take() {
                functions(libs).map_err(|e| ReadError {
                    offset: functions_at,
                    expected: format!("function libraries that load ({e})"),
                })?;
            }
        }
        match tag[0] {
            format::TAG_FUNCTIONS if header.version >= format::FUNCTIONS_VERSION => {
                let Some(libs) = libraries.as_mut() else {
                    return Err(ReadError {
                        offset: at,
                        expected:
                            "a block tag (0x01) or the end marker (0xff), found 0x02 (function \
                                   libraries come before the first block of records)"
                                .into(),
                    });
                };
                let mut hb = [0u8; format::FUNCTIONS_HEADER_LEN - 1];
                c.exact(&mut hb, "a functions block header")?;
                let (n, len, crc) =
                    format::decode_functions_header(&hb).map_err(|expected| ReadError {
                        offset: at,
                        expected,
                    })?;
                let mut bytes = vec![0u8; len as usize];
                c.exact(&mut bytes, "the functions block's bytes")?;
                if format::CRC32.checksum(&bytes) != crc {
                    return Err(ReadError {
                        offset: at,
                        expected: "a functions block whose checksum matches (the block is corrupt)"
                            .into(),
                    });
                }
                let got = format::decode_functions(n, &bytes).map_err(|expected| ReadError {
                    offset: at,
                    expected,
                })?;
                libs.extend(got);
            }
            format::TAG_RECORDS => {
                let mut hb = [0u8; format::BLOCK_HEADER_LEN - 1];
                c.exact(&mut hb, "a block header")?;
                let h: BlockHeader =
                    format::decode_block_header(&hb).map_err(|expected| ReadError {
                        offset: at,
                        expected,
                    })?;
                let mut stored = vec![0u8; h.stored_len as usize];
                c.exact(&mut stored, "the block's bytes")?;
                if format::CRC32.checksum(&stored) != h.crc {
                    return Err(ReadError {
                        offset: at,
                        expected: "a block whose checksum matches (the block is corrupt)".into(),
                    });
                }
                let raw = format::unpack_block(&h, &stored).map_err(|expected| ReadError {
                    offset: at,
                    expected,
                })?;
                records += u64::from(h.records);
                blocks += 1;
                f(Block {
                    offset: at,
                    records: h.records,
                    raw,
                })?;
            }
            format::TAG_END => {
                let mut eb = [0u8; format::END_LEN - 1];
                c.exact(&mut eb, "the end marker")?;
                let want_records = u64::from_le_bytes(eb[0..8].try_into().expect("8"));
                let want_blocks = u64::from_le_bytes(eb[8..16].try_into().expect("8"));
                let want_crc = u64::from_le_bytes(eb[16..24].try_into().expect("8"));
                if (want_records, want_blocks) != (records, blocks) {
                    return Err(ReadError {
                        offset: at,
                        expected: format!(
                            "{want_records} records in {want_blocks} blocks as the end marker \
                             says, found {records} in {blocks}"
                        ),
                    });
                }
                if want_crc != crc_before {
                    return Err(ReadError {
                        offset: at,
                        expected: "a file checksum that matches (the file is corrupt)".into(),
                    });
                }
                let mut extra = [0u8; 1];
                if c.inner.read(&mut extra).unwrap_or(0) != 0 {
                    return Err(ReadError {
                        offset: c.offset,
                        expected: "the end of the file after the end marker".into(),
                    });
                }
                return Ok((header, records, blocks, c.offset));
            }
            t => {
                let what = if header.version >= format::FUNCTIONS_VERSION {
                    "a block tag (0x01 or 0x02)"
                } else {
                    "a block tag (0x01)"
                };
                return Err(ReadError {
                    offset: at,
                    expected: format!("{what} or the end marker (0xff), found {t:#04x}"),
                });
            }
        }
    }
}

/// Decode a verified block's records, handing each to `f`.
fn decode_block(b: &Block, mut f: impl FnMut(RecordRef<'_>)) -> Result<(), ReadError> {
    let mut rr = RecordReader::new(&b.raw);
    let mut n = 0u32;
    while !rr.at_end() {
        let r = rr.next_record_ref().map_err(|e| ReadError {
            offset: b.offset,
            expected: format!(
                "{e} (record {n} of the block, byte {} of its data)",
                rr.pos()
            ),
        })?;
        f(r);
        n += 1;
    }
    if n != b.records {
        return Err(ReadError {
            offset: b.offset,
            expected: format!("{} records as its header says, found {n}", b.records),
        });
    }
    Ok(())
}

/// Read a whole snapshot, verifying everything, and hand every record that has not expired
/// by `now_ms` to `f`. Returns what the file holds (the function libraries included).
pub fn read<R: Read>(r: R, now_ms: u64, mut f: impl FnMut(Record)) -> Result<Summary, ReadError> {
    let mut sum = Summary::default();
    let mut libraries = Vec::new();
    let (h, records, blocks, bytes) = read_blocks(
        r,
        |libs| {
            libraries = libs;
            Ok(())
        },
        |b| {
            decode_block(&b, |rec| {
                if sum.take(&rec, now_ms) {
                    f(rec.to_owned());
                }
            })
        },
    )?;
    sum.set_framing(&h, records, blocks, bytes);
    sum.libraries = libraries;
    Ok(sum)
}

/// Verify a snapshot file and say what it holds (`rcache check-snapshot`).
pub fn inspect(path: &Path, now_ms: u64) -> Result<Summary, ReadError> {
    let file = File::open(path).map_err(|e| ReadError {
        offset: 0,
        expected: format!("a readable file: {e}"),
    })?;
    read(BufReader::with_capacity(1 << 20, file), now_ms, |_| {})
}

/// Load a snapshot file that holds no function libraries into `ks`: `load_with` refusing
/// a file that has some (a server loads them with `load_with`; nothing is dropped silently).
pub fn load(
    path: &Path,
    ks: &Keyspace,
    limits: &Limits,
    now_ms: u64,
    threads: usize,
) -> Result<Summary, ReadError> {
    load_with(path, ks, limits, now_ms, threads, |libs| {
        if libs.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "none: this loader cannot hold the file's {} function libraries",
                libs.len()
            ))
        }
    })
}

/// Load a snapshot file into `ks` (which should be empty), decoding and inserting blocks on
/// `threads` threads while this one reads and verifies. The function libraries go to
/// `functions` first, before any key is read (an empty list for a file without any); its
/// error refuses the file. Keys already expired at `now_ms` are not loaded. On error, what
/// was loaded so far stays: the caller refuses to start.
pub fn load_with(
    path: &Path,
    ks: &Keyspace,
    limits: &Limits,
    now_ms: u64,
    threads: usize,
    mut functions: impl FnMut(&[Vec<u8>]) -> Result<(), String>,
) -> Result<Summary, ReadError> {
    let file = File::open(path).map_err(|e| ReadError {
        offset: 0,
        expected: format!("a readable file: {e}"),
    })?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(threads * 2);
    let rx = parking_lot::Mutex::new(rx);
    let threads = threads.max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<Summary, ReadError> {
                    let mut sum = Summary::default();
                    loop {
                        let b = match rx.lock().recv() {
                            Ok(b) => b,
                            Err(_) => return Ok(sum),
                        };
                        let mut bad = None;
                        // A block holds one shard's keys (the writer fills a chunk per
                        // shard): one lock for the block, released before the next.
                        let mut into = record::Loader::new(ks, limits);
                        decode_block(&b, |rec| {
                            if sum.take(&rec, now_ms) {
                                if let Err(e) = into.insert(&rec) {
                                    bad.get_or_insert(e);
                                }
                            }
                        })?;
                        drop(into);
                        if let Some(record::InsertError::NoSuchDb(db)) = bad {
                            return Err(ReadError {
                                offset: b.offset,
                                expected: format!(
                                    "database indexes below {} (the `databases` setting), \
                                     found {db}",
                                    ks.databases()
                                ),
                            });
                        }
                    }
                })
            })
            .collect();
        let mut libraries = Vec::new();
        let framing = read_blocks(
            BufReader::with_capacity(1 << 20, file),
            |libs| {
                functions(&libs)?;
                libraries = libs;
                Ok(())
            },
            |b| {
                // A worker that failed stops receiving: the send then fails, and its error
                // wins.
                tx.send(b).map_err(|_| ReadError {
                    offset: 0,
                    expected: "a decoder still running".into(),
                })
            },
        );
        drop(tx);
        let mut total = Summary::default();
        let mut first_err = None;
        for w in workers {
            match w.join().expect("decoder thread") {
                Ok(s) => merge(&mut total, s),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        let (h, records, blocks, bytes) = framing?;
        total.set_framing(&h, records, blocks, bytes);
        total.libraries = libraries;
        Ok(total)
    })
}

fn merge(into: &mut Summary, s: Summary) {
    into.expired += s.expired;
    for d in s.per_db {
        match into.per_db.binary_search_by_key(&d.db, |x| x.db) {
            Ok(i) => {
                let x = &mut into.per_db[i];
                for t in 0..x.by_type.len() {
                    x.by_type[t] += d.by_type[t];
                }
                x.with_ttl += d.with_ttl;
            }
            Err(i) => into.per_db.insert(i, d),
        }
    }
}

/// The text `rcache check-snapshot` prints for a verified file.
pub fn report(path: &Path, s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", path.display());
    let _ = writeln!(
        out,
        "format version {}, written at unix ms {}, {} databases configured",
        s.version, s.created_ms, s.databases
    );
    let _ = writeln!(
        out,
        "{} bytes, {} blocks, {} keys ({} already expired, not loaded)",
        s.bytes, s.blocks, s.records, s.expired
    );
    if !s.libraries.is_empty() {
        let names: Vec<String> = s
            .libraries
            .iter()
            .map(|c| format::library_name(c))
            .collect();
        let _ = writeln!(
            out,
            "functions: {} libraries ({})",
            s.libraries.len(),
            names.join(", ")
        );
    }
    for d in &s.per_db {
        let [st, li, se, zs, ha, _, sm] = d.by_type;
        let _ = writeln!(
            out,
            "db{}: keys={} strings={st} lists={li} sets={se} zsets={zs} hashes={ha} streams={sm} with_ttl={}",
            d.db,
            d.by_type.iter().sum::<u64>(),
            d.with_ttl
        );
    }
    out
}
