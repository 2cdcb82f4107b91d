//! Writing a snapshot: the `SlotSink` that encodes saved slot tables into blocks, the
//! writer thread that frames, compresses, checksums and writes them, and the workers that
//! save every table no client write has saved yet.
//!
//! ```text
//!  start()   temp file + header + function libraries, writer thread,
//!            ks.begin_snapshot(sink)                                        (the instant)
//!  clients' writes ──► sink.slot() ─┐
//!  workers: ks.save_shard(s) ───────┴─► records encoded into the shard's 256 KiB chunk ─► queue
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::{Entry, Keyspace, SlotSink};

/// Raw bytes per block (before compression).
const CHUNK: usize = 256 << 10;
/// Queued bytes past which workers wait for the writer.
const QUEUE_LIMIT: usize = 16 << 20;
/// Entries a worker saves per shard-lock hold: at ~50 ns an entry, a client waits at most
/// some 25 µs for a worker.
const BATCH: usize = 500;

#[derive(Default)]
struct Queue {
    ready: VecDeque<(Vec<u8>, u32)>,
    ready_bytes: usize,
    closed: bool,
}

/// A chunk being filled: records encoded straight into it.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    records: u32,
}

struct Shared {
    /// One chunk per shard: the sink is called under that shard's lock, so its chunk is
    /// never contended, and records are encoded straight into it (one copy). Only a full
    /// chunk goes through the shared queue.
    chunks: Box<[Mutex<Chunk>]>,
    q: Mutex<Queue>,
    /// Keys encoded so far (INFO `current_save_keys_processed`).
    encoded: Arc<AtomicU64>,
    /// Signalled when a chunk is ready or the queue closes (the writer waits on it).
    more: Condvar,
    /// Signalled when the writer took a chunk (workers wait on it).
    room: Condvar,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            chunks: (0..storage::SHARDS).map(|_| Mutex::default()).collect(),
            q: Mutex::new(Queue::default()),
            encoded: Arc::default(),
            more: Condvar::new(),
            room: Condvar::new(),
        }
    }

    /// Hand a chunk to the writer.
    fn ready(&self, chunk: Chunk) {
        if chunk.bytes.is_empty() {
            return;
        }
        let mut q = self.q.lock();
        q.ready_bytes += chunk.bytes.len();
        q.ready.push_back((chunk.bytes, chunk.records));
        drop(q);
        self.more.notify_one();
    }

    /// Every partly filled chunk to the writer (the snapshot has ended).
    fn flush_chunks(&self) {
        for c in self.chunks.iter() {
            let chunk = std::mem::take(&mut *c.lock());
            self.ready(chunk);
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
        let Some(first) = entries.first() else { return };
        let shard = first.slot() as usize % storage::SHARDS;
        let mut c = self.0.chunks[shard].lock();
        if c.bytes.capacity() == 0 {
            c.bytes.reserve(CHUNK + (CHUNK >> 2));
        }
        for e in entries {
            format::encode_entry(db, e, &mut c.bytes);
        }
        c.records += entries.len() as u32;
        self.0
            .encoded
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        if c.bytes.len() >= CHUNK {
            let full = std::mem::take(&mut *c);
            drop(c);
            self.0.ready(full);
        }
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

/// How hard a snapshot may use the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as possible (SAVE: clients are waiting for it anyway).
    Full,
    /// Behind the clients (BGSAVE): one worker (the caller's choice), and the writer thread
    /// — compression and I/O, the bulk of the CPU — at a lower scheduling priority, so the
    /// server's I/O threads keep their cores. Workers keep normal priority: they hold shard
    /// locks, and a low-priority lock holder would stall the clients waiting on it.
    Background,
}

/// A background save's worker rests this many times as long as each batch took: it uses
/// at most an eighth of a core, however busy the clients are.
const BACKGROUND_REST: u32 = 7;

/// The nice value of a background save's threads (0 = normal, 19 = lowest).
const BACKGROUND_NICE: i32 = 10;

/// Lower the calling thread's scheduling priority (Linux: a thread is its own task).
fn be_background() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers; no memory is shared.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE);
    }
}

/// A snapshot that has begun: its instant is fixed, writes save tables into it.
pub struct Running {
    epoch: u32,
    pace: Pace,
    shared: Arc<Shared>,
    writer: std::thread::JoinHandle<Written>,
    tmp: PathBuf,
    dest: PathBuf,
    started: Instant,
}

/// Begin a snapshot of `ks` to `dest` (written to a temp file beside it, renamed when
/// complete), with no function libraries: `start_with` for a server's snapshots.
pub fn start(ks: &Keyspace, dest: &Path, created_ms: u64, pace: Pace) -> std::io::Result<Running> {
    start_with(ks, dest, created_ms, pace, &[])
}

/// Begin a snapshot of `ks` and of `functions` (each library's FUNCTION LOAD text, written
/// right after the header) to `dest`. The instant is when this returns; see the module doc.
/// The caller holds the exclusion gate alone around this call when multi-key atomicity
/// matters, and took `functions` at the same instant.
pub fn start_with(
    ks: &Keyspace,
    dest: &Path,
    created_ms: u64,
    pace: Pace,
    functions: &[Vec<u8>],
) -> std::io::Result<Running> {
    let mut header = format::encode_header(&Header {
        version: format::VERSION,
        created_ms,
        databases: ks.databases() as u32,
    })
    .to_vec();
    format::encode_functions(functions, &mut header).map_err(std::io::Error::other)?;
    let dir = dest.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!("temp-{}.rcsnap", std::process::id()));
    let file = File::create(&tmp)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    if let Err(e) = out.write_all(&header) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let shared = Arc::new(Shared::new());
    let sh = shared.clone();
    let writer = std::thread::Builder::new()
        .name("rcache-snapshot-writer".into())
        .spawn(move || {
            if pace == Pace::Background {
                be_background();
            }
            write_loop(&sh, out, &header)
        })
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    let epoch = ks.begin_snapshot(Arc::new(Sink(shared.clone())));
    Ok(Running {
        epoch,
        pace,
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
                    break None;
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
    /// Keys encoded so far; stays valid after `finish`.
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.shared.encoded.clone()
    }

    /// Save every table not saved yet with `workers` threads, end the snapshot, and make
    /// the file durable under its final name. On error the temp file is removed and the
    /// previous file at `dest` is left as it was.
    pub fn finish(self, ks: &Keyspace, workers: usize) -> std::io::Result<SaveStats> {
        let workers = workers.clamp(1, storage::SHARDS);
        let (ep, sh, pace) = (self.epoch, &self.shared, self.pace);
        std::thread::scope(|s| {
            for w in 0..workers {
                s.spawn(move || {
                    // Background: rest `BACKGROUND_REST` times as long as each batch took,
                    // so the save takes a bounded share of a core from the clients.
                    let mut last = Instant::now();
                    let mut between = || {
                        if pace == Pace::Background {
                            std::thread::sleep(last.elapsed() * BACKGROUND_REST);
                        }
                        last = Instant::now();
                    };
                    for shard in (w..storage::SHARDS).step_by(workers) {
                        sh.wait_for_room();
                        ks.save_shard(shard, ep, BATCH, &mut between);
                    }
                });
            }
        });
        ks.end_snapshot();
        // No table is saved after this: the partly filled chunks are the last ones.
        self.shared.flush_chunks();
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
/// running (SAVE holds the gate alone), this is the whole keyspace at this instant. No
/// function libraries: `save_with` for a server's snapshots.
pub fn save(
    ks: &Keyspace,
    dest: &Path,
    created_ms: u64,
    workers: usize,
) -> std::io::Result<SaveStats> {
    save_with(ks, dest, created_ms, workers, &[])
}

/// `save` with the server's function libraries (`start_with`).
pub fn save_with(
    ks: &Keyspace,
    dest: &Path,
    created_ms: u64,
    workers: usize,
    functions: &[Vec<u8>],
) -> std::io::Result<SaveStats> {
    start_with(ks, dest, created_ms, Pace::Full, functions)?.finish(ks, workers)
}
