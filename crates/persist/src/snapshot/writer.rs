//! Writing a snapshot: the `SlotSink` that encodes saved slot tables into blocks, the
//! writer thread that frames, compresses, checksums and writes them, and the workers that
//! save every table no client write has saved yet.
//!
//! ```text
//!  start()   temp file + header, writer thread, ks.begin_snapshot(sink)   (the instant)
//!  clients' writes ──► sink.slot() ─┐
//!  workers: ks.save_shard(s) ───────┴─► encode records ─► 256 KiB chunks ─► queue
//!  writer thread: queue ─► lz4 (when it pays) + crc32c ─► temp file (crc64 running)
//!  finish()  workers joined, ks.end_snapshot(), end marker, fsync, rename, fsync(dir)
//! ```
//!
//! Encoding happens in the thread that saves a table (a client's, for the one table its
//! write met; a worker's otherwise), under that shard's lock, and costs about a copy of the
//! table's bytes. Compression and I/O are the writer thread's. Clients never wait for the
//! writer: the queue is unbounded for them; workers wait while more than `QUEUE_LIMIT` bytes
//! are queued, so memory stays near the dataset even when the disk is slow.
//!
//! A failed write (disk full, I/O error) is remembered; the writer keeps draining (and
//! dropping) chunks so nothing waits for ever, `finish` removes the temp file and returns
//! the error, and the previous snapshot file is untouched.

use super::format::{self, Header};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::{Entry, Keyspace, SlotSink};

/// Raw bytes per block (before compression).
const CHUNK: usize = 256 << 10;
/// Queued bytes past which workers wait for the writer.
const QUEUE_LIMIT: usize = 64 << 20;
/// Entries a worker saves per shard-lock hold.
const BATCH: usize = 2_000;

#[derive(Default)]
struct Queue {
    cur: Vec<u8>,
    cur_records: u32,
    ready: VecDeque<(Vec<u8>, u32)>,
    ready_bytes: usize,
    closed: bool,
}

struct Shared {
    q: Mutex<Queue>,
    /// Signalled when a chunk is ready or the queue closes (the writer waits on it).
    more: Condvar,
    /// Signalled when the writer took a chunk (workers wait on it).
    room: Condvar,
}

impl Shared {
    fn push(&self, bytes: &[u8], records: u32) {
        let mut q = self.q.lock();
        q.cur.extend_from_slice(bytes);
        q.cur_records += records;
        if q.cur.len() >= CHUNK {
            let chunk = std::mem::replace(&mut q.cur, Vec::with_capacity(CHUNK + (CHUNK >> 2)));
            let n = std::mem::take(&mut q.cur_records);
            q.ready_bytes += chunk.len();
            q.ready.push_back((chunk, n));
            drop(q);
            self.more.notify_one();
        }
    }

    fn wait_for_room(&self) {
        let mut q = self.q.lock();
        while q.ready_bytes > QUEUE_LIMIT && !q.closed {
            self.room.wait(&mut q);
        }
    }
}

/// The sink the keyspace saves tables into.
struct Sink(Arc<Shared>);

impl SlotSink for Sink {
    fn slot(&self, db: usize, entries: &[Entry]) {
        let mut buf = Vec::with_capacity(entries.len() * 64);
        for e in entries {
            format::encode_entry(db, e, &mut buf);
        }
        self.0.push(&buf, entries.len() as u32);
    }
}

/// What a finished snapshot wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct SaveStats {
    /// Records written (expired keys included until the reader drops them).
    pub keys: u64,
    pub blocks: u64,
    pub bytes: u64,
    pub took: Duration,
}

/// What the writer thread ends with.
struct Written {
    records: u64,
    blocks: u64,
    bytes: u64,
    crc: u64,
    file: Option<BufWriter<File>>,
    error: Option<std::io::Error>,
}

/// A snapshot that has begun: its instant is fixed, writes save tables into it.
pub struct Running {
    epoch: u32,
    shared: Arc<Shared>,
    writer: std::thread::JoinHandle<Written>,
    tmp: PathBuf,
    dest: PathBuf,
    started: Instant,
}

/// Begin a snapshot of `ks` to `dest` (written to a temp file beside it, renamed when
/// complete). The instant is when this returns; see the module doc. The caller holds the
/// exclusion gate alone around this call when multi-key atomicity matters.
pub fn start(ks: &Keyspace, dest: &Path, created_ms: u64) -> std::io::Result<Running> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!("temp-{}.rcsnap", std::process::id()));
    let file = File::create(&tmp)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let header = format::encode_header(&Header {
        created_ms,
        databases: ks.databases() as u32,
    });
    if let Err(e) = out.write_all(&header) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let shared = Arc::new(Shared {
        q: Mutex::new(Queue::default()),
        more: Condvar::new(),
        room: Condvar::new(),
    });
    let sh = shared.clone();
    let writer = std::thread::Builder::new()
        .name("rcache-snapshot-writer".into())
        .spawn(move || write_loop(&sh, out, &header))?;
    let epoch = ks.begin_snapshot(Arc::new(Sink(shared.clone())));
    Ok(Running {
        epoch,
        shared,
        writer,
        tmp,
        dest: dest.to_path_buf(),
        started: Instant::now(),
    })
}

/// The writer thread: frame every chunk as it comes, until the queue closes.
fn write_loop(sh: &Shared, out: BufWriter<File>, header: &[u8]) -> Written {
    let mut crc = format::CRC64.digest();
    crc.update(header);
    let mut w = Written {
        records: 0,
        blocks: 0,
        bytes: header.len() as u64,
        crc: 0,
        file: Some(out),
        error: None,
    };
    let mut block = Vec::with_capacity(CHUNK + 64);
    loop {
        let next = {
            let mut q = sh.q.lock();
            loop {
                if let Some((c, n)) = q.ready.pop_front() {
                    q.ready_bytes -= c.len();
                    break Some((c, n));
                }
                if q.closed {
                    let rest = std::mem::take(&mut q.cur);
                    let n = std::mem::take(&mut q.cur_records);
                    break (!rest.is_empty()).then_some((rest, n));
                }
                sh.more.wait(&mut q);
            }
        };
        sh.room.notify_all();
        let Some((raw, n)) = next else { break };
        if w.error.is_some() {
            continue; // drain: producers must never wait for a writer that gave up
        }
        block.clear();
        format::encode_block(&raw, n, &mut block);
        crc.update(&block);
        if let Err(e) = w
            .file
            .as_mut()
            .expect("open until the end")
            .write_all(&block)
        {
            w.error = Some(e);
            continue;
        }
        w.records += u64::from(n);
        w.blocks += 1;
        w.bytes += block.len() as u64;
    }
    w.crc = crc.finalize();
    w
}

impl Running {
    /// Save every table not saved yet with `workers` threads, end the snapshot, and make
    /// the file durable under its final name. On error the temp file is removed and the
    /// previous file at `dest` is left as it was.
    pub fn finish(self, ks: &Keyspace, workers: usize) -> std::io::Result<SaveStats> {
        let workers = workers.clamp(1, storage::SHARDS);
        let (ep, sh) = (self.epoch, &self.shared);
        std::thread::scope(|s| {
            for w in 0..workers {
                s.spawn(move || {
                    for shard in (w..storage::SHARDS).step_by(workers) {
                        sh.wait_for_room();
                        ks.save_shard(shard, ep, BATCH);
                    }
                });
            }
        });
        ks.end_snapshot();
        {
            let mut q = self.shared.q.lock();
            q.closed = true;
        }
        self.shared.more.notify_all();
        let mut w = self
            .writer
            .join()
            .map_err(|_| std::io::Error::other("the snapshot writer thread panicked"))?;
        let result = match (w.error.take(), w.file.take()) {
            (Some(e), _) => Err(e),
            (None, Some(file)) => seal(file, &w, &self.tmp, &self.dest),
            (None, None) => Err(std::io::Error::other("the snapshot file was lost")),
        };
        match result {
            Ok(()) => Ok(SaveStats {
                keys: w.records,
                blocks: w.blocks,
                bytes: w.bytes + format::END_LEN as u64,
                took: self.started.elapsed(),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&self.tmp);
                Err(e)
            }
        }
    }
}

/// End marker, flush, fsync, rename over `dest`, fsync the directory.
fn seal(mut out: BufWriter<File>, w: &Written, tmp: &Path, dest: &Path) -> std::io::Result<()> {
    out.write_all(&format::encode_end(w.records, w.blocks, w.crc))?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, dest)?;
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty());
    File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

/// Write a snapshot of `ks` to `dest` now: `start` then `finish`. With no other writer
/// running (SAVE holds the gate alone), this is the whole keyspace at this instant.
pub fn save(
    ks: &Keyspace,
    dest: &Path,
    created_ms: u64,
    workers: usize,
) -> std::io::Result<SaveStats> {
    start(ks, dest, created_ms)?.finish(ks, workers)
}
