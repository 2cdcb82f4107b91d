//! Writing the append-only log: the shared buffer commands append their effects to, and the
//! writer thread that writes it to the current incremental file and fsyncs it as
//! `appendfsync` says.
//!
//! ```text
//!  command (shard locks held) ─► append(db, args) ─► pending ops: Bytes… Rotate(file) Bytes…
//!                                                     │ (one mutex, SELECT when db changes)
//!  writer thread ◄───────────── wakes ────────────────┘
//!     write(2) each op in order to the current file; Rotate: fsync it, switch to the new one
//!     always:   fdatasync, then `durable` := written, on_durable()   (group commit)
//!     everysec: fdatasync at most once a second
//!     no:       never fsyncs; the OS decides
//! ```
//!
//! **Group commit.** Under `always` a connection answers its batch only when `durable`
//! covers what was appended when the batch ended (`appended()`; the connection waits on
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
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
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

fn push_num(out: &mut Vec<u8>, n: usize) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    let mut n = n;
    loop {
        i -= 1;
        b[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
    out.extend_from_slice(b"\r\n");
}

enum Op {
    Bytes(Vec<u8>),
    /// Continue in this file (a new incremental file) from here on.
    Rotate(File),
}

#[derive(Default)]
struct Pending {
    ops: Vec<Op>,
    /// The database the stream is in, as the reader will see it; `None` at a file's start.
    db: Option<usize>,
    /// The writer waits for a notification (nothing was pending when it looked).
    writer_idle: bool,
    stop: bool,
}

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
    pending: Mutex<Pending>,
    wake: Condvar,
    policy: AtomicU8,
    /// Bytes appended to the stream since the log started (records and SELECTs).
    appended: AtomicU64,
    /// Bytes written to files (page cache).
    written: AtomicU64,
    /// Bytes known to be on disk (fdatasync returned); under `no`, written ones.
    durable: AtomicU64,
    /// Size of the current incremental file.
    file_size: AtomicU64,
    ok: AtomicBool,
    status: Mutex<Status>,
    hooks: Hooks,
    /// fsyncs done (`aof_fsyncs`, for tests and benchmarks: group commit shares them).
    pub fsyncs: AtomicU64,
}

/// The writer thread's handle: `stop` drains, fsyncs and joins it.
pub struct Writer {
    log: Arc<Log>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Log {
    /// Start logging to `file` (an incremental file, opened for append, `len` bytes long).
    pub fn start(file: File, len: u64, policy: Fsync, hooks: Hooks) -> std::io::Result<Writer> {
        let log = Arc::new(Log {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            policy: AtomicU8::new(policy as u8),
            appended: AtomicU64::new(0),
            written: AtomicU64::new(0),
            durable: AtomicU64::new(0),
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

    /// Append one record for database `db` (a SELECT first if the stream is elsewhere).
    /// Called with the changed shards locked. Returns the stream position after it.
    pub fn append(&self, db: usize, args: &[&[u8]]) -> u64 {
        self.append_with(Some(db), |buf| encode(args, buf))
    }

    /// Append an already encoded record (`encode`); `db` `None` for records that do not
    /// depend on the database (MULTI, EXEC).
    pub fn append_encoded(&self, db: Option<usize>, rec: &[u8]) -> u64 {
        self.append_with(db, |buf| buf.extend_from_slice(rec))
    }

    fn append_with(&self, db: Option<usize>, put: impl FnOnce(&mut Vec<u8>)) -> u64 {
        let mut p = self.pending.lock();
        let select = db.filter(|&d| p.db != Some(d));
        if select.is_some() {
            p.db = select;
        }
        let buf = bytes_op(&mut p.ops);
        let before = buf.len();
        // One SELECT per change of database, as Redis writes it.
        if let Some(d) = select {
            let mut num = Vec::with_capacity(8);
            push_num(&mut num, d);
            num.truncate(num.len() - 2);
            encode(&[b"SELECT", &num], buf);
        }
        put(buf);
        let added = buf.len() - before;
        let idle = std::mem::replace(&mut p.writer_idle, false);
        let at = self.appended.fetch_add(added as u64, Relaxed) + added as u64;
        drop(p);
        if idle {
            self.wake.notify_one();
        }
        at
    }

    /// Continue the stream in `file` (a new, empty incremental file) from this point: what
    /// was appended before goes to the current file, which is fsynced and closed first.
    pub fn rotate(&self, file: File) {
        let mut p = self.pending.lock();
        p.ops.push(Op::Rotate(file));
        // The new file starts in database 0 for its reader.
        p.db = None;
        let idle = std::mem::replace(&mut p.writer_idle, false);
        drop(p);
        if idle {
            self.wake.notify_one();
        }
    }

    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Relaxed))
    }

    pub fn set_policy(&self, p: Fsync) {
        self.policy.store(p as u8, Relaxed);
        self.wake.notify_one();
    }

    /// Stream position of everything appended so far.
    #[inline]
    pub fn appended(&self) -> u64 {
        self.appended.load(Relaxed)
    }

    /// Stream position known to be on disk.
    #[inline]
    pub fn durable(&self) -> u64 {
        self.durable.load(Relaxed)
    }

    /// Bytes appended but not yet written (`aof_buffer_length`).
    pub fn buffered(&self) -> u64 {
        self.appended().saturating_sub(self.written.load(Relaxed))
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

fn bytes_op(ops: &mut Vec<Op>) -> &mut Vec<u8> {
    if !matches!(ops.last(), Some(Op::Bytes(_))) {
        ops.push(Op::Bytes(Vec::with_capacity(16 << 10)));
    }
    match ops.last_mut() {
        Some(Op::Bytes(b)) => b,
        _ => unreachable!("just pushed"),
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
        self.log.pending.lock().stop = true;
        self.log.wake.notify_one();
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
const GATHER: Duration = Duration::from_millis(1);
/// Retry interval after a failed write.
const RETRY: Duration = Duration::from_secs(1);

fn writer_loop(log: &Log, mut file: File) {
    let mut size = log.file_size.load(Relaxed);
    let mut last_sync = Instant::now();
    // Written but not yet fsynced (stream position).
    let mut synced_to = 0u64;
    let mut written_to = 0u64;
    // Ops taken from the queue and not yet written (after a failure).
    let mut backlog: Vec<Op> = Vec::new();
    loop {
        let policy = log.policy();
        let stop;
        {
            let mut p = log.pending.lock();
            if p.ops.is_empty() && backlog.is_empty() && !p.stop {
                let pending_sync = policy == Fsync::EverySec && synced_to < written_to;
                p.writer_idle = true;
                let limit = if pending_sync {
                    RETRY.saturating_sub(last_sync.elapsed())
                } else {
                    Duration::from_secs(3600)
                };
                log.wake.wait_for(&mut p, limit);
                p.writer_idle = false;
            }
            stop = p.stop;
            backlog.append(&mut p.ops);
        }
        // Write what is pending, in order.
        let mut failed: Option<String> = None;
        let mut i = 0;
        while i < backlog.len() {
            match &mut backlog[i] {
                Op::Bytes(b) => match write_cut_back(&mut file, size, b) {
                    Ok(()) => {
                        size += b.len() as u64;
                        written_to += b.len() as u64;
                        i += 1;
                    }
                    Err((e, fatal)) => {
                        if fatal {
                            (log.hooks.on_fatal)(&e);
                        }
                        failed = Some(e);
                        break;
                    }
                },
                Op::Rotate(_) => {
                    if let Err(e) = file.sync_data() {
                        failed = Some(format!("fsync: {e}"));
                        break;
                    }
                    log.fsyncs.fetch_add(1, Relaxed);
                    synced_to = written_to;
                    let Op::Rotate(f) = backlog.remove(i) else {
                        unreachable!()
                    };
                    file = f;
                    size = 0;
                }
            }
        }
        backlog.drain(..i);
        log.file_size.store(size, Relaxed);
        log.written.store(written_to, Relaxed);
        let want_sync = match policy {
            Fsync::Always => synced_to < written_to,
            Fsync::EverySec => synced_to < written_to && (stop || last_sync.elapsed() >= RETRY),
            Fsync::No => stop && synced_to < written_to,
        };
        if failed.is_none() && want_sync {
            match file.sync_data() {
                Ok(()) => {
                    log.fsyncs.fetch_add(1, Relaxed);
                    synced_to = written_to;
                    last_sync = Instant::now();
                }
                Err(e) => failed = Some(format!("fsync: {e}")),
            }
        }
        // Under `no` written bytes count as durable: nobody waits for them.
        let durable = if policy == Fsync::No {
            written_to
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
                if stop && backlog.is_empty() && log.pending.lock().ops.is_empty() {
                    return;
                }
                if policy != Fsync::Always && written_to > 0 {
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
