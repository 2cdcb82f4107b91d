//! Snapshots as Redis users drive them: SAVE, BGSAVE [SCHEDULE], LASTSAVE, the
//! `save <seconds> <changes> …` policy, the snapshot at shutdown, loading at start-up with
//! `-LOADING` meanwhile, `-MISCONF` after a failed save, and INFO persistence's figures.
//!
//! ```text
//!  SAVE     (EXCLUSIVE: holds the gate alone, like Redis's blocking SAVE) ─► persist::save
//!  BGSAVE   (EXCLUSIVE only for the instant) ─► persist::start ─► thread ─► finish
//!  cron     policy due? / BGSAVE SCHEDULE pending? ─► bgsave()
//! ```
//! The file itself (point in time without fork, format, checksums) is the `persist` crate's;
//! this module owns the state Redis reports and the rules for when to save.

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::eq_ic;
use crate::{cmd, Ctx, ServerState};
use parking_lot::Mutex;
use protocol::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_MULTI | EXCLUSIVE,
        0,
        0,
        0,
        save,
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk.",
        ""
    ),
    cmd!(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT | EXCLUSIVE,
        0,
        0,
        0,
        bgsave,
        "server",
        "1.0.0",
        "Asynchronously saves the database(s) to disk.",
        "[SCHEDULE]"
    ),
    cmd!(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        0,
        0,
        0,
        lastsave,
        "server",
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
        ""
    ),
];

/// Redis's words for a write refused after a failed save.
pub const MISCONF_MSG: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const LOADING_MSG: &str = "LOADING Redis is loading the dataset in memory";

/// After a failed background save, the policy tries again only this much later (Redis's
/// CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_S: u64 = 5;

/// What INFO persistence reports, and the policy's memory.
pub struct Persistence {
    /// The start-up load is running: commands without the `loading` flag answer LOADING.
    pub loading: AtomicBool,
    pub bgsave_running: AtomicBool,
    /// BGSAVE SCHEDULE while one ran: start another when it ends.
    pub scheduled: AtomicBool,
    /// Unix seconds of the last successful save (or of start-up).
    pub last_save: AtomicU64,
    /// Unix seconds of the last attempt (successful or not), for the retry delay.
    pub last_try: AtomicU64,
    pub last_ok: AtomicBool,
    /// Seconds the last background save took (-1 = none yet).
    pub last_bgsave_secs: AtomicI64,
    /// Unix ms when the running background save started (0 = none).
    pub current_start_ms: AtomicU64,
    /// `Keyspace::changes()` when the last successful save began.
    pub changes_at_save: AtomicU64,
    pub saves: AtomicU64,
    /// The start-up load failed: the server stops (and must not save over the file).
    pub load_failed: AtomicBool,
    /// The final save at shutdown failed (the process exits non-zero).
    pub final_save_failed: AtomicBool,
    /// SHUTDOWN NOSAVE: skip the snapshot the save policy would take on the way out.
    pub skip_shutdown_save: AtomicBool,
    /// SHUTDOWN SAVE: take one even with no save policy.
    pub force_shutdown_save: AtomicBool,
    /// The running background save's thread.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The data directory's lock, taken before the first file is read or written there.
    dir_lock: Mutex<Option<persist::dirlock::DirLock>>,
    /// `--load-rdb FILE`: a Redis RDB file to import at start-up instead of the directory's.
    pub load_rdb: Mutex<Option<PathBuf>>,
    /// `--start-empty-if-corrupt`: a snapshot that cannot be read is moved aside and the
    /// server starts empty, instead of refusing to start.
    pub start_empty_if_corrupt: AtomicBool,
    /// The running background save's progress: keys encoded, keys at its start.
    pub progress: Mutex<Option<(std::sync::Arc<AtomicU64>, u64)>>,
    /// The start-up load: keys loaded and keys dropped as already expired.
    pub last_load: Mutex<(u64, u64)>,
}

impl Default for Persistence {
    fn default() -> Self {
        let now = unix_secs();
        Persistence {
            loading: AtomicBool::new(false),
            bgsave_running: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            last_save: AtomicU64::new(now),
            last_try: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            current_start_ms: AtomicU64::new(0),
            changes_at_save: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            load_failed: AtomicBool::new(false),
            final_save_failed: AtomicBool::new(false),
            skip_shutdown_save: AtomicBool::new(false),
            force_shutdown_save: AtomicBool::new(false),
            thread: Mutex::new(None),
            dir_lock: Mutex::new(None),
            load_rdb: Mutex::new(None),
            start_empty_if_corrupt: AtomicBool::new(false),
            progress: Mutex::new(None),
            last_load: Mutex::new((0, 0)),
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A setting's current text through the settings table (so a name means one thing).
fn setting(srv: &ServerState, name: &str) -> String {
    srv.settings.value(name)
}

/// The snapshot file: `dir` / `dbfilename`.
pub fn snapshot_path(srv: &ServerState) -> PathBuf {
    let name = setting(srv, "dbfilename");
    let name = if name.is_empty() {
        DEFAULT_DBFILENAME.to_string()
    } else {
        name
    };
    data_dir(srv).join(name)
}

/// rcache's snapshot file name (not Redis's `dump.rdb`, which holds Redis's format: a
/// `dump.rdb` in the directory is imported instead, see the server's start-up).
pub const DEFAULT_DBFILENAME: &str = "dump.rcsnap";

/// The save policy: (seconds, changes) pairs; empty = no automatic snapshots.
pub fn save_policy(srv: &ServerState) -> Vec<(u64, u64)> {
    parse_policy(&srv.settings.save.read()).unwrap_or_default()
}

/// Parse Redis's `save` value: `""` or pairs of numbers.
pub fn parse_policy(v: &str) -> Result<Vec<(u64, u64)>, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if !parts.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    parts
        .chunks(2)
        .map(|p| match (p[0].parse::<u64>(), p[1].parse::<u64>()) {
            (Ok(s), Ok(c)) => Ok((s, c)),
            _ => Err("Invalid save parameters".into()),
        })
        .collect()
}

/// Whether writes are refused: the last save failed, a policy is set and
/// `stop-writes-on-bgsave-error` is on (Redis's rule).
pub fn writes_refused(srv: &ServerState) -> bool {
    !srv.persistence.last_ok.load(Relaxed)
        && setting(srv, "stop-writes-on-bgsave-error") != "no"
        && !srv.settings.save.read().trim().is_empty()
}

/// Why a write must be refused now, in Redis's words (a failed snapshot with
/// `stop-writes-on-bgsave-error`, or a log that cannot be written), for doors that write
/// without the command table (HTTP PUT/DELETE).
pub fn write_refusal(srv: &ServerState) -> Option<String> {
    if !srv.persistence.last_ok.load(Relaxed) && writes_refused(srv) {
        return Some(MISCONF_MSG.to_string());
    }
    srv.aof.refusing_writes().then(|| srv.aof.misconf_message())
}

/// The data directory (`dir`; empty = the working directory).
pub fn data_dir(srv: &ServerState) -> PathBuf {
    let dir = srv.settings.dir.read().clone();
    PathBuf::from(if dir.is_empty() { ".".into() } else { dir })
}

/// Hold the data directory's lock (`persist::dirlock`), taking it if not held yet: two
/// servers never read or write one directory's files. `Err` names the holder.
pub fn lock_dir(srv: &ServerState) -> Result<(), String> {
    let mut g = srv.persistence.dir_lock.lock();
    if g.is_none() {
        let dir = data_dir(srv);
        // A new user's `--dir /var/lib/rcache` need not exist yet (Redis would refuse to
        // start; creating it loses nothing).
        if !dir.exists() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
            tracing::info!("created the data directory {}", dir.display());
        }
        *g = Some(persist::dirlock::DirLock::acquire(&dir)?);
    }
    Ok(())
}

/// At start-up: take the data directory's lock if this server will read or write files
/// there (a save policy is set, or a snapshot file is there to load). Returns whether it
/// did; `Err` when another server holds the directory. A server with persistence off and
/// nothing to load leaves the directory alone (it still locks it at its first SAVE).
pub fn claim_dir(srv: &ServerState) -> Result<bool, String> {
    if save_policy(srv).is_empty()
        && !snapshot_path(srv).exists()
        && !data_dir(srv).join(REDIS_DBFILENAME).exists()
    {
        return Ok(false);
    }
    lock_dir(srv)?;
    Ok(true)
}

/// A server killed in the middle of a save leaves its temporary file (`temp-<pid>.rcsnap`);
/// holding the directory's lock, we know no save of another process is writing one.
fn remove_stale_temp_files(srv: &ServerState) {
    let Ok(entries) = std::fs::read_dir(data_dir(srv)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("temp-") && name.ends_with(".rcsnap") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => tracing::info!("removed {name}, left by an interrupted save"),
                Err(err) => tracing::warn!("cannot remove {name}: {err}"),
            }
        }
    }
}

/// `--start-empty-if-corrupt`: drop what was loaded, keep the bad file under another name
/// (nothing is ever saved over it), and start empty, loudly.
fn start_empty(srv: &ServerState, path: &std::path::Path, why: &str) -> Result<Startup, String> {
    srv.ks.flush(None, false);
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{}", unix_secs()));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside).map_err(|e| {
        format!(
            "{why}; and it cannot be moved aside to {}: {e}",
            aside.display()
        )
    })?;
    tracing::error!("{why}");
    tracing::error!(
        "STARTING EMPTY (--start-empty-if-corrupt): the unreadable snapshot was moved to {}",
        aside.display()
    );
    srv.persistence
        .changes_at_save
        .store(srv.ks.changes(), Relaxed);
    Ok(Startup::Empty)
}

/// Whether `path` starts with Redis's RDB magic ("REDIS").
fn is_redis_rdb(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"REDIS")
}

/// The threads a save uses: every core.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn record_result(srv: &ServerState, r: &std::io::Result<persist::snapshot::SaveStats>, base: u64) {
    let p = &srv.persistence;
    p.last_try.store(unix_secs(), Relaxed);
    match r {
        Ok(st) => {
            p.last_ok.store(true, Relaxed);
            p.last_save.store(unix_secs(), Relaxed);
            p.changes_at_save.store(base, Relaxed);
            p.saves.fetch_add(1, Relaxed);
            tracing::info!(
                keys = st.keys,
                bytes = st.bytes,
                "DB saved on disk in {:.3} s",
                st.took.as_secs_f64()
            );
        }
        Err(e) => {
            p.last_ok.store(false, Relaxed);
            tracing::error!("snapshot to {} failed: {e}", snapshot_path(srv).display());
        }
    }
}

/// Save now, on this thread (SAVE, shutdown). The caller holds the gate alone or no client
/// runs; a background save must not be running.
pub fn save_now(srv: &ServerState) -> std::io::Result<persist::snapshot::SaveStats> {
    lock_dir(srv).map_err(std::io::Error::other)?;
    // One snapshot at a time: a running log rewrite is one.
    crate::aof::wait_rewrite(srv);
    let base = srv.ks.changes();
    let r = persist::snapshot::save_with(
        &srv.ks,
        &snapshot_path(srv),
        srv.ks.now(),
        workers(),
        &srv.scripting.functions.codes(),
    );
    record_result(srv, &r, base);
    r
}

/// Start a background save. The caller holds the gate alone (the instant must fall between
/// commands). `Err` with Redis's words when one runs already or the file cannot be created.
pub fn bgsave_start(srv: &ServerState) -> Result<(), String> {
    let p = &srv.persistence;
    if srv.aof.rewriting.load(Relaxed) {
        return Err("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
    }
    if p.bgsave_running.swap(true, Relaxed) {
        return Err("ERR Background save already in progress".into());
    }
    let Some(me) = srv.me.get().and_then(|w| w.upgrade()) else {
        p.bgsave_running.store(false, Relaxed);
        return Err("ERR background saving needs a running server".into());
    };
    if let Err(e) = lock_dir(srv) {
        p.bgsave_running.store(false, Relaxed);
        return Err(format!("ERR {e}"));
    }
    // A finished thread's handle, if any, is collected here.
    if let Some(t) = p.thread.lock().take() {
        let _ = t.join();
    }
    let base = srv.ks.changes();
    p.current_start_ms.store(srv.ks.now(), Relaxed);
    // The function libraries at the same instant as the keys (the gate is held alone).
    let running = match persist::snapshot::start_with(
        &srv.ks,
        &snapshot_path(srv),
        srv.ks.now(),
        persist::snapshot::Pace::Background,
        &srv.scripting.functions.codes(),
    ) {
        Ok(r) => r,
        Err(e) => {
            p.bgsave_running.store(false, Relaxed);
            p.current_start_ms.store(0, Relaxed);
            let msg = format!("ERR Background save failed: {e}");
            record_result(srv, &Err(e), base);
            return Err(msg);
        }
    };
    *p.progress.lock() = Some((running.progress(), srv.ks.stats().keys));
    tracing::info!("Background saving started");
    let t = std::thread::Builder::new()
        .name("rcache-bgsave".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            // One worker, at low priority: the clients keep the cores (`Pace::Background`).
            let r = running.finish(&me.ks, 1);
            let p = &me.persistence;
            p.last_bgsave_secs
                .store(started.elapsed().as_secs() as i64, Relaxed);
            record_result(&me, &r, base);
            *p.progress.lock() = None;
            p.current_start_ms.store(0, Relaxed);
            p.bgsave_running.store(false, Relaxed);
        });
    match t {
        Ok(t) => {
            *p.thread.lock() = Some(t);
            Ok(())
        }
        Err(e) => {
            p.bgsave_running.store(false, Relaxed);
            Err(format!("ERR cannot start the background save: {e}"))
        }
    }
}

/// Wait for a running background save to end (shutdown).
pub fn wait_bgsave(srv: &ServerState) {
    if let Some(t) = srv.persistence.thread.lock().take() {
        let _ = t.join();
    }
}

/// The cron's question, once a second: is a background save due (the policy, or a
/// scheduled BGSAVE)? Then the caller takes the gate alone and calls `bgsave_start`.
pub fn bgsave_due(srv: &ServerState) -> bool {
    let p = &srv.persistence;
    if p.bgsave_running.load(Relaxed) || p.loading.load(Relaxed) || srv.aof.rewriting.load(Relaxed)
    {
        return false;
    }
    if p.scheduled.load(Relaxed) {
        return true;
    }
    let now = unix_secs();
    if !p.last_ok.load(Relaxed) && now < p.last_try.load(Relaxed) + RETRY_DELAY_S {
        return false;
    }
    let changed = srv
        .ks
        .changes()
        .saturating_sub(p.changes_at_save.load(Relaxed));
    let since = now.saturating_sub(p.last_save.load(Relaxed));
    save_policy(srv)
        .iter()
        .any(|&(secs, changes)| changed >= changes && since >= secs)
}

/// Changes since the last successful save (INFO `rdb_changes_since_last_save`).
pub fn changes_since_save(srv: &ServerState) -> u64 {
    srv.ks
        .changes()
        .saturating_sub(srv.persistence.changes_at_save.load(Relaxed))
}

/// SAVE
fn save(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    if ctx.srv.persistence.bgsave_running.load(Relaxed) {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    match save_now(ctx.srv) {
        Ok(_) => ctx.out.ok(),
        Err(e) => return Err(CmdError::Msg(format!("ERR {e}"))),
    }
    Ok(())
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let schedule = match args.len() {
        1 => false,
        2 if eq_ic(args.get(1), "schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    let p = &ctx.srv.persistence;
    // Inside EXEC, Redis schedules the save for after the transaction.
    let busy = p.bgsave_running.load(Relaxed) || ctx.srv.aof.rewriting.load(Relaxed);
    if busy && !schedule && ctx.srv.aof.rewriting.load(Relaxed) {
        return Err(CmdError::Static("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
    }
    if busy || ctx.sess.in_exec {
        if schedule || ctx.sess.in_exec {
            p.scheduled.store(true, Relaxed);
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    p.scheduled.store(false, Relaxed);
    bgsave_start(ctx.srv).map_err(CmdError::Msg)?;
    ctx.out.simple("Background saving started");
    Ok(())
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out
        .int(ctx.srv.persistence.last_save.load(Relaxed) as i64);
    Ok(())
}

/// A shutdown signal's flags, from `shutdown-on-sigterm` / `shutdown-on-sigint` (`setting`),
/// as Redis reads them: `nosave` skips the final snapshot, `save` takes one even without a
/// save policy, `default` follows the policy; `now` and `force` change nothing here (there
/// are no replicas to wait for, and a failed final save never keeps rcache running).
pub fn on_shutdown_signal(srv: &ServerState, setting: &str) {
    let words = srv.settings.value(setting);
    let has = |w: &str| words.split_ascii_whitespace().any(|x| x == w);
    let p = &srv.persistence;
    p.skip_shutdown_save.store(has("nosave"), Relaxed);
    p.force_shutdown_save.store(has("save"), Relaxed);
}

/// The snapshot taken on the way out: with a save policy (unless SHUTDOWN NOSAVE), or when
/// SHUTDOWN SAVE asked. Waits for a running background save first. Returns false when a
/// save was wanted and failed (Redis then refuses to exit on SHUTDOWN; a signal exits).
pub fn save_on_shutdown(srv: &ServerState) -> bool {
    let p = &srv.persistence;
    let wanted = p.force_shutdown_save.load(Relaxed)
        || (!p.skip_shutdown_save.load(Relaxed) && !save_policy(srv).is_empty());
    wait_bgsave(srv);
    crate::aof::wait_rewrite(srv);
    if !wanted || p.loading.load(Relaxed) {
        return true;
    }
    tracing::info!("saving the final snapshot before exiting");
    let ok = save_now(srv).is_ok();
    if !ok {
        p.final_save_failed.store(true, Relaxed);
    }
    ok
}

/// What start-up found in the data directory.
pub enum Startup {
    /// No snapshot file: start empty.
    Empty,
    /// Loaded this many keys (expired ones dropped) from the file.
    Loaded(persist::snapshot::Summary),
    /// Imported a Redis RDB file.
    Imported(persist::rdb::RdbSummary),
    /// Loaded the append-only log (base and increments).
    Log(crate::aof_load::Loaded),
}

/// Redis's snapshot name: found in `dir` when rcache has no snapshot of its own there, it is
/// imported (a Redis user points `--dir` at Redis's data directory).
pub const REDIS_DBFILENAME: &str = "dump.rdb";

/// Whether start-up has a file to load (then the server answers LOADING until it is in).
pub fn has_startup_file(srv: &ServerState) -> bool {
    // With the log on there is always work before serving: load it, or write its base.
    crate::aof::wanted(srv) || startup_file(srv).is_some()
}

/// Which file start-up loads: rcache's snapshot (`dbfilename`), else Redis's `dump.rdb`
/// in the same directory; `--load-rdb FILE` names a Redis file explicitly.
fn startup_file(srv: &ServerState) -> Option<PathBuf> {
    if let Some(f) = srv.persistence.load_rdb.lock().clone() {
        return Some(f);
    }
    let own = snapshot_path(srv);
    if own.exists() {
        return Some(own);
    }
    let redis = data_dir(srv).join(REDIS_DBFILENAME);
    redis.exists().then_some(redis)
}

/// Import a Redis RDB file into the keyspace (`persist::rdb`), streams included, and its
/// function libraries into FUNCTION's registry (replacing any, as a snapshot's do). A library
/// rcache cannot load refuses the file, naming the library: a Redis user's data does not
/// come over with part of its code missing. Module values (and the 7.0 release candidates'
/// function format) are skipped, each kind logged with its count and first key.
fn import_rdb(srv: &ServerState, path: &std::path::Path) -> Result<Startup, String> {
    let started = std::time::Instant::now();
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let limits = srv.settings.limits();
    let ks = &srv.ks;
    let sum = persist::rdb::read_rdb(
        std::io::BufReader::with_capacity(1 << 20, file),
        ks.now(),
        |rec| {
            persist::record::insert(ks, &limits, &rec).map_err(|e| match e {
                persist::record::InsertError::NoSuchDb(db) => format!(
                    "key {:?} is in database {db}, past the {} databases configured \
                     (raise --databases)",
                    String::from_utf8_lossy(&rec.key),
                    ks.databases()
                ),
            })
        },
    )
    .map_err(|e| format!("cannot import the Redis file {}: {e}", path.display()))?;
    import_functions(srv, &sum.functions)
        .map_err(|e| format!("cannot import the Redis file {}: {e}", path.display()))?;
    for sk in &sum.skipped {
        tracing::warn!(
            "skipped {} {} item(s) rcache does not import (first: {:?})",
            sk.count,
            sk.kind,
            String::from_utf8_lossy(&sk.first)
        );
    }
    srv.persistence
        .changes_at_save
        .store(srv.ks.changes(), Relaxed);
    *srv.persistence.last_load.lock() = (sum.keys, sum.expired_skipped);
    tracing::info!(
        keys = sum.keys,
        expired = sum.expired_skipped,
        functions = sum.functions.len(),
        version = sum.version,
        "imported Redis RDB {} in {:.3} s; snapshots will be written to {}",
        path.display(),
        started.elapsed().as_secs_f64(),
        snapshot_path(srv).display()
    );
    Ok(Startup::Imported(sum))
}

/// Load the function libraries of a Redis RDB file: every loaded library goes first (as a
/// snapshot's libraries replace them), then each is loaded as FUNCTION LOAD would, one at a
/// time so a failure names its library; a library named twice is refused, as Redis refuses
/// such a file.
fn import_functions(srv: &ServerState, libs: &[Vec<u8>]) -> Result<(), String> {
    use crate::scripting::functions::Policy;
    let functions = &srv.scripting.functions;
    functions.flush(|| {});
    for code in libs {
        functions
            .install(std::slice::from_ref(code), Policy::Append, || {})
            .map_err(|e| {
                format!(
                    "function library {:?} does not load in rcache: {e}",
                    String::from_utf8_lossy(&persist::rdb::library_name(code))
                )
            })?;
    }
    Ok(())
}

/// Put a snapshot's function libraries in (before its keys): replacing every loaded one
/// (`flush`: start-up, DEBUG RELOAD) or only those of the same names (DEBUG RELOAD
/// NOFLUSH). An error refuses the file.
pub fn load_functions(srv: &ServerState, libs: &[Vec<u8>], flush: bool) -> Result<(), String> {
    use crate::scripting::functions::Policy;
    let policy = if flush {
        Policy::Flush
    } else {
        Policy::Replace
    };
    srv.scripting.functions.install(libs, policy, || {})
}

/// Load the snapshot file at start-up, if there is one: takes the directory lock first.
/// Commands answer LOADING meanwhile (`loading` is set by the caller before serving). A
/// file that cannot be read is an error naming the file, the offset and what was expected:
/// the server refuses to start rather than run with part of its data.
pub fn load_at_startup(srv: &ServerState) -> Result<Startup, String> {
    // Loading is not a stream of keyspace events (Redis publishes none): storage records
    // nothing until it is done.
    srv.ks.set_key_events(false);
    let r = load_at_startup_quietly(srv);
    crate::notify::sync(srv);
    r
}

fn load_at_startup_quietly(srv: &ServerState) -> Result<Startup, String> {
    // `appendonly yes`: the log, if it exists, holds the newest data (Redis's load order).
    if crate::aof::wanted(srv) && srv.persistence.load_rdb.lock().is_none() {
        lock_dir(srv)?;
        remove_stale_temp_files(srv);
        if let Some((m, loaded)) = crate::aof_load::load(srv)? {
            crate::aof::start_at_startup(srv, Some(m))?;
            return Ok(Startup::Log(loaded));
        }
        let r = load_snapshot_or_rdb(srv)?;
        crate::aof::start_at_startup(srv, None)?;
        return Ok(r);
    }
    let r = load_snapshot_or_rdb(srv)?;
    if crate::aof::wanted(srv) {
        crate::aof::start_at_startup(srv, None)?;
    }
    Ok(r)
}

fn load_snapshot_or_rdb(srv: &ServerState) -> Result<Startup, String> {
    let explicit = srv.persistence.load_rdb.lock().is_some();
    if !claim_dir(srv)? && !explicit {
        return Ok(Startup::Empty);
    }
    remove_stale_temp_files(srv);
    let Some(path) = startup_file(srv) else {
        return Ok(Startup::Empty);
    };
    // The format is told by the file's first bytes, not its name: a Redis user's config may
    // well say `dbfilename dump.rdb`.
    if explicit || is_redis_rdb(&path) {
        return import_rdb(srv, &path);
    }
    let started = std::time::Instant::now();
    let limits = srv.settings.limits();
    let sum = match persist::snapshot::load_with(
        &path,
        &srv.ks,
        &limits,
        srv.ks.now(),
        workers(),
        |libs| load_functions(srv, libs, true),
    ) {
        Ok(sum) => sum,
        Err(e) => {
            let msg = format!("cannot load the snapshot {}: {e}", path.display());
            if !srv.persistence.start_empty_if_corrupt.load(Relaxed) {
                return Err(msg);
            }
            return start_empty(srv, &path, &msg);
        }
    };
    // What was loaded is what is on disk: no change since the last save.
    srv.persistence
        .changes_at_save
        .store(srv.ks.changes(), Relaxed);
    *srv.persistence.last_load.lock() = (sum.records - sum.expired, sum.expired);
    tracing::info!(
        keys = sum.records - sum.expired,
        expired = sum.expired,
        "DB loaded from {} in {:.3} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Startup::Loaded(sum))
}
