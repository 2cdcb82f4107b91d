//! Loading the append-only log at start-up: the manifest's base (rcache's snapshot, a
//! Redis RDB, or RESP commands), then every incremental file's commands replayed through
//! the command table, in order.
//!
//! Replay runs with expiry paused (`Keyspace::set_replaying`): a key that expired while
//! the log was written went with a DEL the log holds, and a TTL that was in the future when
//! it was written must not delete the key early because the clock has moved on. The base is
//! loaded the same way, expired keys included; what is expired once the load is over goes
//! by the usual lazy and active expiry.
//!
//! A torn last record, or a MULTI never closed, at the end of the **last** file is what a
//! crash mid-write leaves: with `aof-load-truncated yes` (the default) the file is cut back
//! to the last whole command outside a transaction, with a warning. Anything else stops
//! start-up with the file, the offset and what was expected.

use crate::aof::{aof_dir, manifest_name};
use crate::clients::Session;
use crate::effects::MC_IMAGE;
use crate::ServerState;
use persist::aof::manifest::{self, Manifest};
use persist::aof::reader::{self, Command, ReadError};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use storage::{Expiry, McMeta};

/// What the load did.
#[derive(Debug, Default)]
pub struct Loaded {
    pub base_keys: u64,
    pub commands: u64,
    /// Bytes cut from a torn tail.
    pub truncated: u64,
}

/// With `appendonly yes` and a manifest in the log directory: load it. `Ok(None)` when
/// there is no manifest (the caller loads the snapshot instead).
pub fn load(srv: &ServerState) -> Result<Option<(Manifest, Loaded)>, String> {
    let dir = aof_dir(srv);
    let name = manifest_name(srv);
    let m = match manifest::read(&dir, &name) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    crate::persistence::lock_dir(srv)?;
    remove_temp_files(&dir);
    let started = std::time::Instant::now();
    srv.ks.set_replaying(true);
    let r = load_files(srv, &dir, &m);
    srv.ks.set_replaying(false);
    let loaded = r?;
    srv.aof.loaded_commands.store(loaded.commands, Relaxed);
    srv.persistence
        .changes_at_save
        .store(srv.ks.changes(), Relaxed);
    tracing::info!(
        base_keys = loaded.base_keys,
        commands = loaded.commands,
        "DB loaded from append only file {} in {:.3} s",
        dir.join(&name).display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Some((m, loaded)))
}

/// An interrupted rewrite leaves its temporary base (`temp-<pid>.rcsnap`).
fn remove_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with("temp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn load_files(srv: &ServerState, dir: &Path, m: &Manifest) -> Result<Loaded, String> {
    let mut out = Loaded::default();
    if let Some(b) = m.base() {
        let path = dir.join(&b.name);
        out.base_keys = load_base(srv, &path)?;
    }
    let incrs: Vec<_> = m.incrs().collect();
    // A torn tail is allowed in the last file with data: a rewrite lists its new (empty)
    // incr before the old one's last bytes are written, and the writer fsyncs the old file
    // before it writes a byte to the new one, so files after a torn one are empty.
    let sizes: Vec<u64> = incrs
        .iter()
        .map(|e| std::fs::metadata(dir.join(&e.name)).map_or(0, |x| x.len()))
        .collect();
    let last_with_data = sizes.iter().rposition(|&n| n > 0).unwrap_or(0);
    for (i, e) in incrs.iter().enumerate() {
        let path = dir.join(&e.name);
        let last = i >= last_with_data;
        let (n, cut) = replay_file(srv, &path, last)?;
        out.commands += n;
        out.truncated += cut;
    }
    Ok(out)
}

fn magic(path: &Path) -> Result<[u8; 6], String> {
    let mut b = [0u8; 6];
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut n = 0;
    while n < b.len() {
        match f.read(&mut b[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    Ok(b)
}

/// The base: told by its first bytes, as Redis does (`RCSNAP`, `REDIS`, or RESP).
fn load_base(srv: &ServerState, path: &Path) -> Result<u64, String> {
    let m = magic(path)?;
    let limits = srv.settings.limits();
    if &m == b"RCSNAP" {
        // Expired keys are kept (time 0): the log decides when they went.
        let sum = persist::snapshot::load_with(path, &srv.ks, &limits, 0, 2, |libs| {
            crate::persistence::load_functions(srv, libs, true)
        })
        .map_err(|e| format!("cannot load the log's base {}: {e}", path.display()))?;
        return Ok(sum.records);
    }
    if &m[..5] == b"REDIS" {
        let f = std::fs::File::open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let ks = &srv.ks;
        let sum = persist::rdb::read_rdb(std::io::BufReader::new(f), 0, |rec| {
            persist::record::insert(ks, &limits, &rec).map_err(|e| format!("{e:?}"))
        })
        .map_err(|e| format!("cannot load the log's base {}: {e}", path.display()))?;
        return Ok(sum.keys);
    }
    replay_file(srv, path, false).map(|(n, _)| n)
}

/// Replay one file of commands. Returns (commands, bytes cut from a torn tail).
fn replay_file(srv: &ServerState, path: &Path, last: bool) -> Result<(u64, u64), String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let size = f.metadata().map_or(0, |m| m.len());
    // Each file starts in database 0 (the writer begins every file with a SELECT).
    let mut sess = Session::detached(u64::MAX);
    sess.deny_blocking = true;
    // The log replays what was allowed when it was written (SORT … GET asks the user).
    sess.acl.trusted = true;
    let mut out = Vec::new();
    let scan = reader::scan(std::io::BufReader::with_capacity(1 << 20, f), |c| {
        apply(srv, &mut sess, c, &mut out)
    });
    let torn = match &scan.problem {
        None => scan.open_multi.is_some(),
        Some(ReadError::Torn { .. }) => true,
        Some(e) => {
            return Err(format!(
                "Bad file format reading the append only file {}: {e}. Make a backup of \
                 the log, then use `rcache check-aof --fix {}`",
                path.display(),
                path.parent().unwrap_or(Path::new(".")).display()
            ))
        }
    };
    if !torn {
        return Ok((scan.commands, 0));
    }
    let what = match &scan.problem {
        Some(e) => e.to_string(),
        None => "a MULTI without its EXEC".to_string(),
    };
    let allowed = srv.settings.value("aof-load-truncated") != "no";
    if !last || !allowed {
        return Err(format!(
            "the append only file {} ends early ({what}){}. Use `rcache check-aof --fix` \
             to cut it back to the last whole command",
            path.display(),
            if last {
                " and aof-load-truncated is no"
            } else {
                ", and it is not the last file of the log"
            }
        ));
    }
    // Commands queued in the unfinished MULTI were never executed: nothing to undo.
    sess.multi = None;
    let keep = scan.safe_end;
    let cut = size.saturating_sub(keep);
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| {
            f.set_len(keep)?;
            f.sync_all()
        })
        .map_err(|e| format!("cannot cut {} back to {keep} bytes: {e}", path.display()))?;
    tracing::warn!(
        "!!! Warning: the append only file {} ended in the middle of a command ({what}); \
         {cut} byte(s) cut, loading continues with what was whole (aof-load-truncated yes)",
        path.display()
    );
    Ok((scan.commands, cut))
}

/// Run one logged command. An unknown command stops the load (the log was not written by
/// this server, or is damaged); a command that answers an error is one the writer's
/// server answered an error too, and is ignored, as Redis does.
fn apply(
    srv: &ServerState,
    sess: &mut Session,
    c: &Command,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if c.args
        .first()
        .is_some_and(|n| n.eq_ignore_ascii_case(MC_IMAGE))
    {
        return apply_mc_image(srv, &c.args);
    }
    let owned = protocol::args::OwnedArgs::new(c.args.iter().map(|a| a.as_slice()));
    out.clear();
    crate::execute_replay(srv, sess, owned.args(), out)
}

/// `RCACHE.MCIMAGE key value flags expire_at_ms`: a memcached item as it was left.
fn apply_mc_image(srv: &ServerState, args: &[Vec<u8>]) -> Result<(), String> {
    let num = |b: &[u8]| -> Option<u64> { std::str::from_utf8(b).ok()?.parse().ok() };
    let (Some(flags), Some(at)) = (
        args.get(3).and_then(|b| num(b)),
        args.get(4).and_then(|b| num(b)),
    ) else {
        return Err("a malformed RCACHE.MCIMAGE record".into());
    };
    if args.len() != 5 || flags > u32::MAX as u64 {
        return Err("a malformed RCACHE.MCIMAGE record".into());
    }
    let k = srv.ks.key(&args[1]);
    let mut t = srv.ks.txn1(0, &k);
    let ttl = if at == 0 {
        Expiry::Clear
    } else {
        Expiry::At(at)
    };
    let meta = McMeta {
        flags: flags as u32,
        ..McMeta::default()
    };
    t.set_meta(&k, &args[2], meta, ttl);
    Ok(())
}
