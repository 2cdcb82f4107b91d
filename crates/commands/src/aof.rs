//! The append-only log as Redis users drive it: `appendonly`, `appendfsync`, BGREWRITEAOF
//! and the automatic rewrite, loading at start-up, `-MISCONF` after a failed write, and
//! INFO persistence's `aof_*` figures.
//!
//! ```text
//!  dir/appendonlydir/
//!    appendonly.aof.manifest          which files make the log, renamed in last
//!    appendonly.aof.<n>.base.rcsnap   a point-in-time snapshot (persist::snapshot)
//!    appendonly.aof.<m>.incr.aof      RESP commands after it (effects.rs → persist writer)
//!
//!  enable (start-up, CONFIG SET appendonly yes)   rewrite with no log running yet
//!  rewrite (BGREWRITEAOF, auto)  gate alone: new incr file, manifest += it, log.rotate,
//!      snapshot instant ── thread: base written ── manifest := new base + new incr,
//!      old files deleted
//!  start-up with a manifest: base, then every incr replayed (aof_load.rs), then the log
//!      continues in the last incr file
//! ```
//! The incr file opened at the rewrite's instant holds exactly the writes after the base's
//! instant, so base + incr is the dataset at any crash point; the manifest that lists both
//! is renamed in only when the base is complete, and until then the previous manifest
//! (old base + old incrs + the new incr) describes the same data.

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::{cmd, Ctx, ServerState};
use parking_lot::Mutex;
use persist::aof::manifest::{self, FileKind, Manifest, ManifestEntry};
use persist::aof::writer::{Fsync, Hooks, Log, Writer};
use protocol::Args;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

pub const COMMANDS: &[CommandSpec] = &[cmd!(
    "bgrewriteaof",
    1,
    ADMIN | NOSCRIPT | EXCLUSIVE,
    0,
    0,
    0,
    bgrewriteaof,
    "server",
    "1.0.0",
    "Asynchronously rewrites the append-only file to disk.",
    ""
)];

/// The log's state. One per server.
#[derive(Default)]
pub struct Aof {
    /// The running log, as commands reach it (`effects.rs`); shared with the keyspace's sink.
    pub slot: Arc<crate::effects::LogSlot>,
    /// The sink is installed in the keyspace (once).
    sink_installed: AtomicBool,
    writer: Mutex<Option<Writer>>,
    /// Woken after each fsync: connections waiting to answer under `appendfsync always`.
    pub durable: Arc<tokio::sync::Notify>,
    /// The current manifest and file sizes.
    files: Mutex<Files>,
    pub rewriting: AtomicBool,
    /// BGREWRITEAOF while a snapshot ran, or a failed enable to retry: start one when free.
    pub scheduled: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    /// Seconds the last rewrite took (-1 = none yet).
    pub last_rewrite_secs: AtomicI64,
    /// Unix ms when the running rewrite started (0 = none).
    pub rewrite_start_ms: AtomicU64,
    /// Unix seconds of the last failed rewrite, for the retry delay.
    last_fail: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Commands replayed at start-up.
    pub loaded_commands: AtomicU64,
}

#[derive(Default)]
struct Files {
    manifest: Manifest,
    /// Bytes of the base file, and of the incr files before the current one.
    base_size: u64,
    older_incrs: u64,
}

impl Aof {
    /// The running log, if `appendonly` is on (one relaxed load when it is off).
    pub fn log(&self) -> Option<Arc<Log>> {
        self.slot.get()
    }

    #[inline]
    pub fn is_on(&self) -> bool {
        self.slot.is_on()
    }

    /// Writes are refused while the log cannot be written (everysec / no; under always a
    /// failed write stops the server).
    #[inline]
    pub fn refusing_writes(&self) -> bool {
        self.slot.with(|l| !l.write_ok()).unwrap_or(false)
    }

    /// The error for a refused write: Redis's words.
    pub fn misconf_message(&self) -> String {
        let e = self
            .log()
            .and_then(|l| l.status().error)
            .unwrap_or_else(|| "unknown error".into());
        format!("MISCONF Errors writing to the AOF file: {e}")
    }

    /// Total size of the log's files (`aof_current_size`) and of its base (`aof_base_size`).
    pub fn sizes(&self) -> (u64, u64) {
        let f = self.files.lock();
        let cur = self.log().map_or(0, |l| l.file_size());
        (f.base_size + f.older_incrs + cur, f.base_size)
    }
}

/// `appenddirname` inside `dir`.
pub fn aof_dir(srv: &ServerState) -> PathBuf {
    let name = srv.settings.value("appenddirname");
    crate::persistence::data_dir(srv).join(if name.is_empty() {
        "appendonlydir".to_string()
    } else {
        name
    })
}

/// `appendfilename`: the prefix of every file in the directory.
pub fn prefix(srv: &ServerState) -> String {
    let p = srv.settings.value("appendfilename");
    if p.is_empty() {
        "appendonly.aof".into()
    } else {
        p
    }
}

pub fn manifest_name(srv: &ServerState) -> String {
    manifest::manifest_name(&prefix(srv))
}

/// The configured `appendfsync`.
pub fn fsync_policy(srv: &ServerState) -> Fsync {
    Fsync::parse(&srv.settings.value("appendfsync")).unwrap_or(Fsync::EverySec)
}

/// Whether `appendonly` says yes.
pub fn wanted(srv: &ServerState) -> bool {
    srv.settings.appendonly.load(Relaxed)
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn open_append(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let len = f.metadata()?.len();
    Ok((f, len))
}

/// A new file: never one a crashed run left behind (its stale records must not be
/// appended to).
fn create_fresh(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let f = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)?;
    Ok((f, 0))
}

/// The next base and incr names after `m`'s, skipping names a crashed run left in `dir`.
fn fresh_names(dir: &Path, pre: &str, m: &Manifest) -> (String, u64, String, u64) {
    let mut base_seq = m.next_seq_base();
    while dir
        .join(manifest::base_name(pre, base_seq, "rcsnap"))
        .exists()
    {
        base_seq += 1;
    }
    let mut incr_seq = m.next_seq_incr();
    while dir.join(manifest::incr_name(pre, incr_seq)).exists() {
        incr_seq += 1;
    }
    (
        manifest::base_name(pre, base_seq, "rcsnap"),
        base_seq,
        manifest::incr_name(pre, incr_seq),
        incr_seq,
    )
}

/// Enabling the log over a directory that holds an old one: remove its manifest (the
/// files it lists become history, deleted once the new base is complete) and keep its
/// numbers, so new names never meet old ones.
fn retire_stale_manifest(srv: &ServerState, dir: &Path, files: &mut Files) -> Result<(), String> {
    let name = manifest_name(srv);
    let old = match manifest::read(dir, &name) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(()),
        Err(e) => {
            tracing::warn!("an unreadable old manifest is replaced: {e}");
            Manifest::default()
        }
    };
    std::fs::remove_file(dir.join(&name)).map_err(|e| e.to_string())?;
    let _ = sync_dir(dir);
    tracing::info!("the old append-only log's manifest is retired: a new log starts");
    for e in old.entries {
        files.manifest.entries.push(ManifestEntry {
            kind: FileKind::History,
            ..e
        });
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Start the writer on `file` and install the effect sink: from here on every write is
/// logged. The caller holds the gate alone, or no client runs yet.
fn start_log(srv: &ServerState, file: std::fs::File, len: u64) -> std::io::Result<()> {
    let notify = srv.aof.durable.clone();
    let hooks = Hooks {
        on_durable: Box::new(move || notify.notify_waiters()),
        on_fatal: Box::new(|e| {
            // Redis's rule: under `always` a write that is not on disk must not be
            // acknowledged, and it has already happened in memory.
            tracing::error!(
                "Can't recover from an append-only log write error when appendfsync is \
                 'always' ({e}). Exiting..."
            );
            std::process::exit(1);
        }),
    };
    let w = Log::start(file, len, fsync_policy(srv), hooks)?;
    let log = w.log().clone();
    *srv.aof.writer.lock() = Some(w);
    srv.aof.slot.set(Some(log));
    if !srv.aof.sink_installed.swap(true, Relaxed) {
        srv.ks
            .install_effect_sink(Arc::new(crate::effects::Sink(srv.aof.slot.clone())));
    }
    srv.ks.set_effects_on(true);
    Ok(())
}

/// Stop logging: write and fsync what is pending, close the file. The files stay (a
/// restart with `appendonly yes` loads them).
pub fn stop_log(srv: &ServerState) {
    srv.ks.set_effects_on(false);
    // Drain and fsync first: a client waiting under `always` is answered only after.
    if let Some(w) = srv.aof.writer.lock().take() {
        if let Err(e) = w.stop() {
            tracing::error!("append-only log: the last write failed: {e}");
        }
    }
    srv.aof.slot.set(None);
    srv.aof.durable.notify_waiters();
}

/// Wait for a running rewrite to end (SAVE, shutdown).
pub fn wait_rewrite(srv: &ServerState) {
    if let Some(t) = srv.aof.thread.lock().take() {
        let _ = t.join();
    }
}

/// Under `appendfsync always`: wait until everything appended so far is on disk, before a
/// connection sends replies (nothing a client sees may be lost by a crash). Free otherwise.
pub async fn wait_durable(srv: &ServerState) {
    // The common cases (log off, or not `always`) cost no lock and no reference count.
    if srv
        .aof
        .slot
        .with(|l| l.policy() == Fsync::Always && l.durable() < l.appended())
        != Some(true)
    {
        return;
    }
    // The same log for the number and the wait (an off/on switch in between makes a new one).
    let Some(log) = srv.aof.log() else {
        return;
    };
    let need = log.appended();
    loop {
        let n = srv.aof.durable.notified();
        tokio::pin!(n);
        n.as_mut().enable();
        if log.durable() >= need || !srv.aof.is_on() {
            return;
        }
        n.await;
    }
}

/// Begin a rewrite: the caller holds the gate alone (the base's instant falls between
/// commands). With the log running, a new incr file takes the writes from this instant;
/// with it off (enabling), the log starts on that file. `Err` in Redis's words.
pub fn rewrite_start(srv: &ServerState) -> Result<(), String> {
    let a = &srv.aof;
    if a.rewriting.load(Relaxed) {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    if srv.persistence.bgsave_running.load(Relaxed) {
        a.scheduled.store(true, Relaxed);
        return Err("scheduled".into());
    }
    let Some(me) = srv.me.get().and_then(|w| w.upgrade()) else {
        return Err("ERR rewriting needs a running server".into());
    };
    crate::persistence::lock_dir(srv).map_err(|e| format!("ERR {e}"))?;
    wait_rewrite(srv);
    let dir = aof_dir(srv);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("ERR cannot create {}: {e}", dir.display()))?;
    let pre = prefix(srv);
    let logging = a.is_on();
    let mut files = a.files.lock();
    if !logging {
        // Enabling: a manifest left by an earlier run describes an old dataset. It goes now
        // (its files after the new base is written), so a crash before the base is complete
        // loads the snapshot instead of bringing old data back; its numbering goes on.
        retire_stale_manifest(srv, &dir, &mut files)
            .map_err(|e| format!("ERR cannot retire the old manifest: {e}"))?;
    }
    let cur = files.manifest.clone();
    let (base, base_seq, incr, incr_seq) = fresh_names(&dir, &pre, &cur);
    let (file, len) =
        create_fresh(&dir.join(&incr)).map_err(|e| format!("ERR cannot create {incr}: {e}"))?;
    if logging {
        // Crash-safe from here: the manifest lists the new incr after the old ones.
        let mut m = cur.clone();
        m.entries.push(ManifestEntry {
            name: incr.clone(),
            seq: incr_seq,
            kind: FileKind::Incr,
        });
        manifest::write_atomic(&dir, &manifest_name(srv), &m)
            .map_err(|e| format!("ERR cannot write the manifest: {e}"))?;
        if let Some(log) = a.log() {
            let cur_size = log.file_size();
            log.rotate(file);
            files.older_incrs += cur_size;
        }
        files.manifest = m;
    } else {
        start_log(srv, file, len).map_err(|e| format!("ERR cannot start the log: {e}"))?;
        files.older_incrs = 0;
    }
    drop(files);
    let now = srv.ks.now();
    // The function libraries at the base's instant (the gate is held alone).
    let running = match persist::snapshot::start_with(
        &srv.ks,
        &dir.join(&base),
        now,
        persist::snapshot::Pace::Background,
        &srv.scripting.functions.codes(),
    ) {
        Ok(r) => r,
        Err(e) => {
            rewrite_failed(srv, &format!("cannot start the base file: {e}"));
            return Err(format!(
                "ERR Background append only file rewriting failed: {e}"
            ));
        }
    };
    a.rewriting.store(true, Relaxed);
    a.scheduled.store(false, Relaxed);
    a.rewrite_start_ms.store(now, Relaxed);
    tracing::info!("Background append only file rewriting started");
    let t = std::thread::Builder::new()
        .name("rcache-aof-rewrite".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let r = running.finish(&me.ks, 1);
            let srv = &*me;
            srv.aof
                .last_rewrite_secs
                .store(started.elapsed().as_secs() as i64, Relaxed);
            match r.map_err(|e| e.to_string()).and_then(|st| {
                finish_rewrite(srv, &dir, &base, base_seq, &incr, incr_seq).map(|()| st)
            }) {
                Ok(st) => {
                    srv.aof.last_rewrite_ok.store(true, Relaxed);
                    srv.aof.consecutive_failures.store(0, Relaxed);
                    srv.aof.rewrites.fetch_add(1, Relaxed);
                    tracing::info!(
                        keys = st.keys,
                        bytes = st.bytes,
                        "Background AOF rewrite finished successfully in {:.3} s",
                        st.took.as_secs_f64()
                    );
                }
                Err(e) => rewrite_failed(srv, &e),
            }
            srv.aof.rewrite_start_ms.store(0, Relaxed);
            srv.aof.rewriting.store(false, Relaxed);
        });
    match t {
        Ok(t) => {
            *a.thread.lock() = Some(t);
            Ok(())
        }
        Err(e) => {
            a.rewriting.store(false, Relaxed);
            Err(format!("ERR cannot start the rewrite: {e}"))
        }
    }
}

fn rewrite_failed(srv: &ServerState, e: &str) {
    let a = &srv.aof;
    a.last_rewrite_ok.store(false, Relaxed);
    a.consecutive_failures.fetch_add(1, Relaxed);
    a.last_fail.store(unix_secs(), Relaxed);
    // Enabling has no loadable log until a base exists: try again (the cron waits first).
    if a.files.lock().manifest.base().is_none() && a.is_on() {
        a.scheduled.store(true, Relaxed);
    }
    tracing::error!("Background AOF rewrite failed: {e}");
}

/// The base is on disk: the manifest becomes new base + new incr (renamed in atomically),
/// then the files it no longer lists are deleted.
fn finish_rewrite(
    srv: &ServerState,
    dir: &Path,
    base: &str,
    base_seq: u64,
    incr: &str,
    incr_seq: u64,
) -> Result<(), String> {
    let mut files = srv.aof.files.lock();
    let mut m = Manifest::default();
    m.entries.push(ManifestEntry {
        name: base.into(),
        seq: base_seq,
        kind: FileKind::Base,
    });
    // The log may have been turned off meanwhile: then the new incr holds what was
    // written until then, and still belongs after the base.
    m.entries.push(ManifestEntry {
        name: incr.into(),
        seq: incr_seq,
        kind: FileKind::Incr,
    });
    manifest::write_atomic(dir, &manifest_name(srv), &m)
        .map_err(|e| format!("cannot write the manifest: {e}"))?;
    for old in &files.manifest.entries {
        if old.name != base && old.name != incr {
            if let Err(e) = std::fs::remove_file(dir.join(&old.name)) {
                tracing::warn!("cannot remove the replaced log file {}: {e}", old.name);
            }
        }
    }
    let _ = sync_dir(dir);
    files.base_size = std::fs::metadata(dir.join(base)).map_or(0, |m| m.len());
    files.older_incrs = 0;
    files.manifest = m;
    Ok(())
}

/// BGREWRITEAOF
fn bgrewriteaof(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let a = &ctx.srv.aof;
    if a.rewriting.load(Relaxed) {
        return Err(CmdError::Static(
            "ERR Background append only file rewriting already in progress",
        ));
    }
    if ctx.srv.persistence.bgsave_running.load(Relaxed) || ctx.sess.in_exec {
        a.scheduled.store(true, Relaxed);
        ctx.out
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    rewrite_start(ctx.srv).map_err(CmdError::Msg)?;
    ctx.out
        .simple("Background append only file rewriting started");
    Ok(())
}

/// After a failed rewrite, the cron waits this long before trying again.
const RETRY_S: u64 = 5;

/// The cron's question, every tick: is there log work that needs the gate alone (enable
/// the log, a scheduled or automatic rewrite)? Cheap when there is none.
pub fn needs_gate(srv: &ServerState) -> bool {
    let a = &srv.aof;
    if srv.persistence.loading.load(Relaxed) || a.rewriting.load(Relaxed) {
        return false;
    }
    if srv.persistence.bgsave_running.load(Relaxed) {
        return false;
    }
    if wanted(srv) && !a.is_on() {
        return true;
    }
    if a.scheduled.load(Relaxed) {
        return unix_secs() >= a.last_fail.load(Relaxed) + RETRY_S;
    }
    a.is_on() && auto_rewrite_due(srv)
}

/// `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`, as Redis computes them.
fn auto_rewrite_due(srv: &ServerState) -> bool {
    let pct: u64 = srv
        .settings
        .value("auto-aof-rewrite-percentage")
        .parse()
        .unwrap_or(100);
    if pct == 0 {
        return false;
    }
    let min: u64 = srv
        .settings
        .value("auto-aof-rewrite-min-size")
        .parse()
        .unwrap_or(64 << 20);
    let (size, base) = srv.aof.sizes();
    if size < min {
        return false;
    }
    let base = base.max(1);
    size.saturating_sub(base) * 100 / base >= pct
        && unix_secs() >= srv.aof.last_fail.load(Relaxed) + RETRY_S
}

/// The cron's work with the gate held alone: enable the log, or start a due rewrite.
pub fn cron_exclusive(srv: &ServerState) {
    if wanted(srv) && !srv.aof.is_on() {
        tracing::info!("appendonly yes: writing the base of the append-only log");
        if let Err(e) = rewrite_start(srv) {
            tracing::warn!("enabling the append-only log: {e}");
        }
        return;
    }
    if srv.aof.is_on() || srv.aof.scheduled.load(Relaxed) {
        if let Err(e) = rewrite_start(srv) {
            if e != "scheduled" {
                tracing::warn!("append-only log rewrite: {e}");
            }
        }
    }
}

/// The cron's work that needs no gate: `appendonly no` stops the log; `appendfsync`
/// changes reach the writer.
pub fn cron(srv: &ServerState) {
    if !wanted(srv) && srv.aof.is_on() && !srv.aof.rewriting.load(Relaxed) {
        tracing::info!("appendonly no: the append-only log is closed");
        stop_log(srv);
        return;
    }
    if let Some(log) = srv.aof.log() {
        let p = fsync_policy(srv);
        if log.policy() != p {
            log.set_policy(p);
        }
    }
}

/// Start-up, after the data is in: continue the loaded log, or (no log yet) write its
/// first base now, before clients come, as Redis 7 does.
pub fn start_at_startup(srv: &ServerState, loaded: Option<Manifest>) -> Result<(), String> {
    if !wanted(srv) {
        return Ok(());
    }
    let dir = aof_dir(srv);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if let Some(m) = loaded {
        if let Some(last) = m.last_incr() {
            let path = dir.join(&last.name);
            let (file, len) =
                open_append(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let mut files = srv.aof.files.lock();
            files.base_size = m
                .base()
                .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
                .map_or(0, |x| x.len());
            files.older_incrs = m
                .incrs()
                .filter(|e| e.name != last.name)
                .filter_map(|e| std::fs::metadata(dir.join(&e.name)).ok())
                .map(|x| x.len())
                .sum();
            files.manifest = m.clone();
            drop(files);
            start_log(srv, file, len).map_err(|e| format!("cannot start the log: {e}"))?;
            return Ok(());
        }
        srv.aof.files.lock().manifest = m;
    }
    // No incr to continue: a new base and incr, synchronously (no client is connected).
    let pre = prefix(srv);
    let cur = srv.aof.files.lock().manifest.clone();
    let (base, base_seq, incr, incr_seq) = fresh_names(&dir, &pre, &cur);
    let (file, len) =
        create_fresh(&dir.join(&incr)).map_err(|e| format!("cannot create {incr}: {e}"))?;
    start_log(srv, file, len).map_err(|e| format!("cannot start the log: {e}"))?;
    persist::snapshot::save_with(
        &srv.ks,
        &dir.join(&base),
        srv.ks.now(),
        2,
        &srv.scripting.functions.codes(),
    )
    .map_err(|e| format!("cannot write the log's base {base}: {e}"))?;
    finish_rewrite(srv, &dir, &base, base_seq, &incr, incr_seq)?;
    tracing::info!("Creating AOF base file {base} on server start");
    Ok(())
}
