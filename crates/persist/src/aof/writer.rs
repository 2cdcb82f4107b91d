//! Writing the append-only log: the per-thread buffers commands append their effects to,
//! and the writer thread that merges them in order, writes them to the current incremental
//! file and fsyncs it as `appendfsync` says.
//!
//! ```text
//!  command (shard locks held) ─► append(db, record): seq := next (one atomic add),
//!        record + (seq, db) into this thread's own buffer (its own, rarely contended lock)
//!  writer thread, each round: hi := next seq; take every thread's buffer; merge the records
//!        with seq < hi by seq (the rest wait for the next round); SELECT when the database
//!        changes; write(2) to the current file (a Rotate marker switches files)
//!     always:   fdatasync, then `durable` := hi, on_durable()   (group commit)
//!     everysec: fdatasync at most once a second
//!     no:       never fsyncs; the OS decides
//! ```
//!
//! **Order.** A record's sequence number is taken while the command holds its keys' shard
//! locks, so two changes to one key are numbered in the order they happened, and the merge
//! writes them in that order. The number is taken while the thread's buffer is locked, and
//! the writer reads `hi` before it takes the buffers: every record numbered below `hi` is
//! in a buffer by then. Each thread writing to its own buffer keeps cores from fighting
//! over one buffer and one lock (measured: a shared buffer cost 30% of SET throughput under
//! `-P 16`; docs/BENCHMARKS.md).
//!
//! **Group commit.** Under `always` a connection answers its batch only when `durable`
//! covers every number taken when the batch ended (`appended()`; it waits on
//! `on_durable`). The writer takes everything appended while it was busy in one write and
//! one fdatasync, so many clients and pipelines share each fsync.
//!
//! **Failures.** A write that fails is cut back (`set_len`) so the file never holds half a
//! record; its bytes stay pending and are retried every second. Under `always` nothing
//! that is not on disk may be acknowledged, and the write already happened in memory, so
//! the writer calls `on_fatal` (the server exits, as Redis does); under `everysec` and
//! `no` it reports the error (`status`) and the command layer refuses writes with
//! `-MISCONF` until a retry succeeds.

use parking_lot::{Condvar, Mutex};
use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always = 0,
    EverySec = 1,
    No = 2,
}

impl Fsync {
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::EverySec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            1 => Fsync::EverySec,
            _ => Fsync::No,
        }
    }
}

pub use super::reader::encode;

/// `encode` for arguments that come as an iterator of `n` items (a request's `Args`).
pub fn encode_iter<'a>(n: usize, args: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    out.push(b'*');
    push_num(out, n);
    for a in args {
        out.push(b'$');
        push_num(out, a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A length and its line end, as RESP writes it.
fn push_num(out: &mut Vec<u8>, n: usize) {
    super::reader::push_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// One thread's records: `[seq u64][db u32 (u32::MAX = none)][len u32][bytes]` each, in
/// the order the thread appended them (increasing seq). On a cache line of its own: two
/// threads' buffers never share one.
#[derive(Default)]
#[repr(align(128))]
struct ThreadBuf {
    buf: Mutex<Vec<u8>>,
}

/// A value on a cache line of its own (the record counter, written by every appending
/// thread, must not slow the reads of the fields beside it).
#[derive(Default)]
#[repr(align(128))]
struct Line<T>(T);

const HDR: usize = 16;
const NO_DB: u32 = u32::MAX;
/// A record of this length is a rotation marker: the file is in `Log::rotations`.
const ROTATE: u32 = u32::MAX;

/// What the writer last saw (INFO persistence's `aof_last_write_status`).
#[derive(Default, Clone)]
pub struct Status {
    /// The last write or fsync failed and is being retried.
    pub error: Option<String>,
    /// Seconds since the epoch of the last error (0 = none yet).
    pub failed_at: u64,
}

/// Called by the writer thread: `on_durable` after each fsync that advanced `durable`;
/// `on_fatal` when a write fails under `appendfsync always`.
pub struct Hooks {
    pub on_durable: Box<dyn Fn() + Send + Sync>,
    pub on_fatal: Box<dyn Fn(&str) + Send + Sync>,
}

/// The running log: one per server while `appendonly` is on.
pub struct Log {
    /// Unique in the process: threads cache their buffer per log.
    id: u64,
    /// The next record's number.
    seq: Line<AtomicU64>,
    threads: Mutex<Vec<Arc<ThreadBuf>>>,
    /// Files to continue in, by the number of their marker record.
    rotations: Mutex<Vec<(u64, File)>>,
    /// The writer sleeps until woken (nothing was pending when it looked); read by every
    /// append, written about a thousand times a second at most.
    idle: Line<AtomicBool>,
    stop: AtomicBool,
    wake_lock: Mutex<()>,
    wake: Condvar,
    policy: AtomicU8,
    /// Records below this number are written to files (page cache).
    written: AtomicU64,
    /// Records below this number are on disk (fdatasync returned); under `no`, written.
    durable: AtomicU64,
    /// Bytes taken from the buffers and not yet written (`aof_buffer_length`).
    buffered: AtomicU64,
    /// Size of the current incremental file.
    file_size: AtomicU64,
    ok: AtomicBool,
    status: Mutex<Status>,
    hooks: Hooks,
    /// fsyncs done (group commit shares them: fewer than batches under `always`).
    pub fsyncs: AtomicU64,
}

/// The writer thread's handle: `stop` drains, fsyncs and joins it.
pub struct Writer {
    log: Arc<Log>,
    thread: Option<std::thread::JoinHandle<()>>,
}

static NEXT_LOG: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's buffer in the log it last appended to.
    static MINE: RefCell<(u64, Option<Arc<ThreadBuf>>)> = const { RefCell::new((0, None)) };
}

impl Log {
    /// Start logging to `file` (an incremental file, opened for append, `len` bytes long).
    pub fn start(file: File, len: u64, policy: Fsync, hooks: Hooks) -> std::io::Result<Writer> {
        let log = Arc::new(Log {
            id: NEXT_LOG.fetch_add(1, Relaxed),
            seq: Line(AtomicU64::new(0)),
            threads: Mutex::new(Vec::new()),
            rotations: Mutex::new(Vec::new()),
            idle: Line(AtomicBool::new(false)),
            stop: AtomicBool::new(false),
            wake_lock: Mutex::new(()),
            wake: Condvar::new(),
            policy: AtomicU8::new(policy as u8),
            written: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            buffered: AtomicU64::new(0),
            file_size: AtomicU64::new(len),
            ok: AtomicBool::new(true),
            status: Mutex::new(Status::default()),
            hooks,
            fsyncs: AtomicU64::new(0),
        });
        let l = log.clone();
        let thread = std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || writer_loop(&l, file))?;
        Ok(Writer {
            log,
            thread: Some(thread),
        })
    }

    /// Append one record for database `db` (`None` for records that do not depend on it:
    /// MULTI, EXEC): `put` encodes it straight into this thread's buffer (`encode`). Called
    /// with the changed shards locked. Returns the record's number.
    #[inline]
    pub fn append(&self, db: Option<usize>, put: impl FnOnce(&mut Vec<u8>)) -> u64 {
        let db = db.map_or(NO_DB, |d| d as u32);
        let seq = self.with_buf(|b| {
            let at = b.len();
            b.extend_from_slice(&[0u8; HDR]);
            put(b);
            let len = (b.len() - at - HDR) as u32;
            // Numbered with the buffer locked (see the module doc).
            let seq = self.seq.0.fetch_add(1, SeqCst);
            b[at..at + 8].copy_from_slice(&seq.to_le_bytes());
            b[at + 8..at + 12].copy_from_slice(&db.to_le_bytes());
            b[at + 12..at + 16].copy_from_slice(&len.to_le_bytes());
            seq
        });
        self.kick();
        seq
    }

    /// Continue the stream in `file` (a new, empty incremental file) from this point: what
    /// was appended before goes to the current file, which is fsynced and closed first.
    pub fn rotate(&self, file: File) {
        let mut r = self.rotations.lock();
        let seq = self.with_buf(|b| {
            let seq = self.seq.0.fetch_add(1, Relaxed);
            b.extend_from_slice(&seq.to_le_bytes());
            b.extend_from_slice(&NO_DB.to_le_bytes());
            b.extend_from_slice(&ROTATE.to_le_bytes());
            seq
        });
        r.push((seq, file));
        drop(r);
        self.kick();
    }

    fn with_buf<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        MINE.with(|m| {
            let mut m = m.borrow_mut();
            if m.0 != self.id || m.1.is_none() {
                let tb = Arc::new(ThreadBuf::default());
                self.threads.lock().push(tb.clone());
                *m = (self.id, Some(tb));
            }
            let tb = m.1.as_ref().expect("just set");
            let mut b = tb.buf.lock();
            f(&mut b)
        })
    }

    /// Wake the writer if it sleeps (a load of a flag otherwise).
    #[inline]
    fn kick(&self) {
        if self.idle.0.load(SeqCst) && self.idle.0.swap(false, SeqCst) {
            let _g = self.wake_lock.lock();
            self.wake.notify_one();
        }
    }

    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Relaxed))
    }

    pub fn set_policy(&self, p: Fsync) {
        self.policy.store(p as u8, Relaxed);
        self.idle.0.store(false, Relaxed);
        let _g = self.wake_lock.lock();
        self.wake.notify_one();
    }

    /// The number every record appended so far is below.
    #[inline]
    pub fn appended(&self) -> u64 {
        self.seq.0.load(Relaxed)
    }

    /// Records below this number are on disk.
    #[inline]
    pub fn durable(&self) -> u64 {
        self.durable.load(Relaxed)
    }

    /// Bytes appended but not yet written (`aof_buffer_length`).
    pub fn buffered(&self) -> u64 {
        let inbufs: usize = self.threads.lock().iter().map(|t| t.buf.lock().len()).sum();
        inbufs as u64 + self.buffered.load(Relaxed)
    }

    /// Size of the current incremental file.
    pub fn file_size(&self) -> u64 {
        self.file_size.load(Relaxed)
    }

    /// Whether the last write and fsync succeeded.
    #[inline]
    pub fn write_ok(&self) -> bool {
        self.ok.load(Relaxed)
    }

    pub fn status(&self) -> Status {
        self.status.lock().clone()
    }
}

impl Writer {
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// Write and fsync everything appended, then stop the thread (shutdown, `appendonly
    /// no`). Returns the last error if the final write failed.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), String> {
        self.log.stop.store(true, Relaxed);
        {
            let _g = self.log.wake_lock.lock();
            self.log.wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        match self.log.status().error {
            Some(e) if !self.log.write_ok() => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// How long the writer lets appends gather under `everysec` / `no` before writing them:
/// about a thousand writes a second at most, instead of one wake-up per command.
const GATHER: Duration = Duration::from_millis(2);
/// Retry interval after a failed write.
const RETRY: Duration = Duration::from_secs(1);
/// The longest the writer sleeps without looking (a backstop; appends wake it).
const IDLE_MAX: Duration = Duration::from_secs(1);

/// One record taken from a thread's buffer: chunk `chunk` of `Round::chunks`, bytes
/// `at..at + len`.
struct Rec {
    seq: u64,
    db: u32,
    chunk: usize,
    at: usize,
    len: u32,
}

/// The writer's state between rounds.
struct Round {
    /// The buffers taken from the threads this round (their records are not copied), and
    /// the records not written yet (numbered past the round's `hi`) carried in chunk 0.
    chunks: Vec<Vec<u8>>,
    recs: Vec<Rec>,
    /// Emptied buffers, handed back to threads in exchange for full ones: their capacity
    /// stays, so appending threads do not regrow a buffer every round.
    spares: Vec<Vec<u8>>,
    /// The next record number to write.
    next: u64,
    /// The output stream's database; `None` at a file's start.
    db: Option<u32>,
    /// Encoded output waiting to be written (a failed write keeps it).
    out: Vec<u8>,
    /// The out bytes belong to records below this number.
    out_to: u64,
    /// A rotation reached in the stream: the new file, switched to once everything before
    /// the marker is written and fsynced to the old one (kept across failed rounds).
    rotate: Option<File>,
}

fn body_len(len: u32) -> usize {
    if len == ROTATE {
        0
    } else {
        len as usize
    }
}

/// Take the records out of the threads' buffers, sorted by number.
fn collect(log: &Log, r: &mut Round) {
    let threads: Vec<Arc<ThreadBuf>> = {
        let mut t = log.threads.lock();
        // Buffers of threads that are gone (only the registry holds them) and are empty.
        t.retain(|tb| Arc::strong_count(tb) > 1 || !tb.buf.lock().is_empty());
        t.clone()
    };
    for tb in threads {
        let mut taken = r.spares.pop().unwrap_or_default();
        {
            let mut b = tb.buf.lock();
            if b.is_empty() {
                r.spares.push(taken);
                continue;
            }
            // Counted as the writer's before it leaves the thread's buffer, so `buffered`
            // (INFO aof_buffer_length) never reads 0 while these bytes are in neither place.
            log.buffered.fetch_add(b.len() as u64, Relaxed);
            std::mem::swap(&mut *b, &mut taken);
        }
        let chunk = r.chunks.len();
        let mut i = 0;
        while i + HDR <= taken.len() {
            let seq = u64::from_le_bytes(taken[i..i + 8].try_into().expect("8 bytes"));
            let db = u32::from_le_bytes(taken[i + 8..i + 12].try_into().expect("4 bytes"));
            let len = u32::from_le_bytes(taken[i + 12..i + 16].try_into().expect("4 bytes"));
            r.recs.push(Rec {
                seq,
                db,
                chunk,
                at: i + HDR,
                len,
            });
            i += HDR + body_len(len);
        }
        r.chunks.push(taken);
    }
    r.recs.sort_unstable_by_key(|x| x.seq);
}

/// After a round wrote the first `used` records: carry the rest into a chunk of their own
/// and give the emptied buffers back to the pool.
fn carry_over(r: &mut Round, used: usize) {
    let rest: Vec<Rec> = r.recs.drain(used..).collect();
    let mut carry = r.spares.pop().unwrap_or_default();
    carry.clear();
    let mut kept = Vec::with_capacity(rest.len());
    for x in rest {
        let at = carry.len();
        carry.extend_from_slice(&r.chunks[x.chunk][x.at..x.at + body_len(x.len)]);
        kept.push(Rec { chunk: 0, at, ..x });
    }
    r.recs = kept;
    for mut c in r.chunks.drain(..) {
        c.clear();
        if r.spares.len() < 16 {
            r.spares.push(c);
        }
    }
    r.chunks.push(carry);
}

fn writer_loop(log: &Log, mut file: File) {
    let mut size = log.file_size.load(Relaxed);
    let mut last_sync = Instant::now();
    let mut synced_to = 0u64;
    let mut r = Round {
        chunks: Vec::new(),
        recs: Vec::new(),
        spares: Vec::new(),
        next: 0,
        db: None,
        out: Vec::new(),
        out_to: 0,
        rotate: None,
    };
    loop {
        let policy = log.policy();
        let stop = log.stop.load(Relaxed);
        if !stop && log.seq.0.load(SeqCst) == r.next && r.out.is_empty() && r.rotate.is_none() {
            // Nothing new: sleep until an append kicks (or the fsync second is due).
            let pending_sync = policy == Fsync::EverySec && synced_to < r.out_to;
            let limit = if pending_sync {
                RETRY.saturating_sub(last_sync.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            let mut g = log.wake_lock.lock();
            // SeqCst with the appender's number and its look at `idle` (`kick`): one of the
            // two sees the other, so a record never waits for a wake-up that never comes.
            log.idle.0.store(true, SeqCst);
            if log.seq.0.load(SeqCst) == r.next && !log.stop.load(Relaxed) {
                log.wake.wait_for(&mut g, limit.min(IDLE_MAX));
            }
            log.idle.0.store(false, Relaxed);
            drop(g);
        }
        let hi = log.seq.0.load(SeqCst);
        collect(log, &mut r);
        // Encode what is below `hi`, in order; a rotation ends the round at it, and nothing
        // after it is encoded until the switch is done.
        let mut used = 0;
        for rec in &r.recs {
            if rec.seq >= hi || r.rotate.is_some() {
                break;
            }
            debug_assert_eq!(rec.seq, r.next, "records are numbered without gaps");
            used += 1;
            r.next = rec.seq + 1;
            if rec.len == ROTATE {
                let mut rot = log.rotations.lock();
                if let Some(p) = rot.iter().position(|(s, _)| *s == rec.seq) {
                    r.rotate = Some(rot.remove(p).1);
                }
                continue;
            }
            if rec.db != NO_DB && r.db != Some(rec.db) {
                // One SELECT per change of database, as Redis writes it.
                let n = rec.db.to_string();
                encode(&[b"SELECT", n.as_bytes()], &mut r.out);
                r.db = Some(rec.db);
            }
            r.out
                .extend_from_slice(&r.chunks[rec.chunk][rec.at..rec.at + rec.len as usize]);
        }
        r.out_to = r.next;
        // Keep the records not written yet (numbered at or past `hi`).
        carry_over(&mut r, used);
        log.buffered
            .store((r.out.len() + r.chunks[0].len()) as u64, Relaxed);
        let mut failed: Option<String> = None;
        if !r.out.is_empty() {
            match write_cut_back(&mut file, size, &r.out) {
                Ok(()) => {
                    size += r.out.len() as u64;
                    r.out.clear();
                    log.written.store(r.out_to, Relaxed);
                    // Written: in the kernel now (a killed process loses none of it).
                    log.buffered
                        .store(r.chunks.first().map_or(0, |c| c.len()) as u64, Relaxed);
                }
                Err((e, fatal)) => {
                    if fatal {
                        (log.hooks.on_fatal)(&e);
                    }
                    failed = Some(e);
                }
            }
        } else {
            log.written.store(r.out_to, Relaxed);
        }
        let written = if failed.is_none() {
            r.out_to
        } else {
            log.written.load(Relaxed)
        };
        if failed.is_none() && r.out.is_empty() {
            if let Some(f) = r.rotate.take() {
                match file.sync_data() {
                    Ok(()) => {
                        log.fsyncs.fetch_add(1, Relaxed);
                        synced_to = written;
                        file = f;
                        size = 0;
                        // The new file starts in database 0 for its reader.
                        r.db = None;
                    }
                    Err(e) => {
                        // Not switched: the records after the marker wait, and the old file
                        // is fsynced again on the next try.
                        r.rotate = Some(f);
                        failed = Some(format!("fsync: {e}"));
                    }
                }
            }
        }
        log.file_size.store(size, Relaxed);
        let want_sync = match policy {
            Fsync::Always => synced_to < written,
            Fsync::EverySec => synced_to < written && (stop || last_sync.elapsed() >= RETRY),
            Fsync::No => stop && synced_to < written,
        };
        if failed.is_none() && want_sync {
            match file.sync_data() {
                Ok(()) => {
                    log.fsyncs.fetch_add(1, Relaxed);
                    synced_to = written;
                    last_sync = Instant::now();
                }
                Err(e) => failed = Some(format!("fsync: {e}")),
            }
        }
        // Under `no` written records count as durable: nobody waits for them.
        let durable = if policy == Fsync::No {
            written
        } else {
            synced_to
        };
        if durable > log.durable.load(Relaxed) {
            log.durable.store(durable, Relaxed);
            (log.hooks.on_durable)();
        }
        match failed {
            Some(e) => {
                if log.ok.swap(false, Relaxed) {
                    tracing::error!("append-only log: {e}; retrying every second");
                }
                {
                    let mut s = log.status.lock();
                    s.error = Some(e.clone());
                    s.failed_at = unix_secs();
                }
                if policy == Fsync::Always {
                    (log.hooks.on_fatal)(&e);
                }
                if stop {
                    return;
                }
                std::thread::sleep(RETRY);
            }
            None => {
                if !log.ok.swap(true, Relaxed) {
                    tracing::warn!("append-only log: writing again");
                }
                if stop
                    && log.seq.0.load(SeqCst) == r.next
                    && r.out.is_empty()
                    && r.rotate.is_none()
                {
                    return;
                }
                if policy != Fsync::Always && written > 0 {
                    // Let appends gather (a bounded number of wake-ups per second).
                    std::thread::sleep(GATHER);
                }
            }
        }
    }
}
/// Write all of `b` at the end of `file` (now `size` long); on failure cut the file back to
/// `size`, so no half record stays, and say what failed.
/// The error is fatal when the cut failed too: the file may end in half a record, and a
/// retry would append after it, corrupting the middle of the log.
fn write_cut_back(file: &mut File, size: u64, b: &[u8]) -> Result<(), (String, bool)> {
    match file.write_all(b) {
        Ok(()) => Ok(()),
        Err(e) => match file.set_len(size) {
            Ok(()) => Err((format!("write: {e}"), false)),
            Err(t) => Err((
                format!("write: {e}; and cutting the partial write back failed: {t}"),
                true,
            )),
        },
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
