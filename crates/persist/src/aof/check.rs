//! `rcache check-aof [--fix] PATH`: Redis's redis-check-aof for our AOF directory. PATH is
//! the directory, its manifest, or one file. The report follows redis-check-aof's lines
//! (`AOF analyzed: filename=…, size=…, ok_up_to=…, ok_up_to_line=…, diff=…`) so people and
//! scripts that know Redis's tool read ours.
//!
//! What `--fix` may do, and why only that: it cuts a file back to the last offset outside a
//! transaction ([`FileScan::safe_end`]), and only in the last incr file (or a lone file
//! named on the command line). That is where a crash mid-append leaves a torn command or an
//! unfinished MULTI. Cutting any earlier file would silently drop the commands the later
//! files build on, so damage there is reported and refused; a base snapshot or RDB is never
//! cut (a truncated snapshot is not a shorter valid one). The checker stops at the first
//! file that fails, as redis-check-aof does.

use super::manifest;
use super::reader::{self, FileScan, ReadError};
use std::fmt::Display;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// The result of a check: `main` prints `report` and exits 0 when `ok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Every file is valid now (possibly after a fix).
    pub ok: bool,
    /// A file was truncated.
    pub fixed: bool,
    /// The lines to print, each ending in `\n`.
    pub report: String,
}

/// Check `path` (a directory, a manifest or one file); with `fix`, cut a torn tail.
pub fn check(path: &Path, fix: bool) -> CheckOutcome {
    let mut c = Checker {
        fix,
        fixed: false,
        out: String::new(),
    };
    let ok = match resolve(path) {
        Err(msg) => {
            c.say(msg);
            false
        }
        Ok(Target::Manifest(p)) => c.multi_part(&p),
        Ok(Target::Single(p)) => c.single(&p),
    };
    CheckOutcome {
        ok,
        fixed: c.fixed,
        report: c.out,
    }
}

enum Target {
    Manifest(PathBuf),
    Single(PathBuf),
}

/// A directory holds one manifest (or several, one of them Redis's default name); a file
/// is a manifest if it is named so or reads like one (as redis-check-aof's
/// `fileIsManifest`: the first line not a comment starts with `file`).
fn resolve(path: &Path) -> Result<Target, String> {
    let cannot = |e: io::Error| format!("Cannot open {}: {e}", path.display());
    if !fs::metadata(path).map_err(cannot)?.is_dir() {
        return Ok(if looks_like_manifest(path) {
            Target::Manifest(path.to_path_buf())
        } else {
            Target::Single(path.to_path_buf())
        });
    }
    let mut found: Vec<String> = fs::read_dir(path)
        .map_err(cannot)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".manifest") && !n.starts_with("temp-"))
        .collect();
    found.sort();
    let default = manifest::manifest_name("appendonly.aof");
    match found.as_slice() {
        [] => Err(format!(
            "No AOF manifest (*.manifest) in the directory {}",
            path.display()
        )),
        [one] => Ok(Target::Manifest(path.join(one))),
        many if many.contains(&default) => Ok(Target::Manifest(path.join(default))),
        many => Err(format!(
            "Several AOF manifests in {}: {}; name the one to check",
            path.display(),
            many.join(", ")
        )),
    }
}

fn looks_like_manifest(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "manifest") {
        return true;
    }
    let mut head = Vec::new();
    let Ok(f) = File::open(path) else {
        return false;
    };
    if f.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    head.split(|&b| b == b'\n')
        .find(|l| !l.starts_with(b"#"))
        .is_some_and(|l| l.starts_with(b"file"))
}

/// What a file's first bytes say it is.
enum Format {
    Snapshot,
    Rdb,
    Resp,
}

fn sniff(path: &Path) -> io::Result<Format> {
    let mut head = Vec::with_capacity(6);
    File::open(path)?.take(6).read_to_end(&mut head)?;
    Ok(if head.starts_with(b"RCSNAP") {
        Format::Snapshot
    } else if head.starts_with(b"REDIS") {
        Format::Rdb
    } else {
        Format::Resp
    })
}

/// How one RESP file came out.
enum Verdict {
    Valid,
    Empty,
    Truncated,
    Bad,
}

struct Checker {
    fix: bool,
    fixed: bool,
    out: String,
}

impl Checker {
    fn say(&mut self, line: impl Display) {
        self.out.push_str(&line.to_string());
        self.out.push('\n');
    }

    fn multi_part(&mut self, path: &Path) -> bool {
        self.say("Start checking Multi Part AOF");
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let m = match manifest::read(dir, name.as_deref().unwrap_or_default()) {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.say(format!("Cannot open the AOF manifest {}", path.display()));
                return false;
            }
            Err(e) => {
                self.say(e);
                return false;
            }
        };
        if m.base().is_none() && m.last_incr().is_none() {
            self.say(format!(
                "The AOF manifest {} lists no base and no incr file",
                path.display()
            ));
            return false;
        }
        if let Some(base) = m.base() {
            let (name, path) = (&base.name, dir.join(&base.name));
            let fmt = match sniff(&path) {
                Ok(f) => f,
                Err(e) => {
                    self.say(format!("Cannot open file {}: {e}", path.display()));
                    return false;
                }
            };
            let valid = match fmt {
                Format::Snapshot => self.binary(&path, "BASE AOF", name, true),
                Format::Rdb => self.binary(&path, "BASE AOF", name, false),
                Format::Resp => {
                    self.say("Start to check BASE AOF (RESP format).");
                    let v = self.resp(&path, name, Some("it is the base file"));
                    self.verdict("BASE AOF", name, v)
                }
            };
            if !valid {
                return false;
            }
        }
        let incrs: Vec<_> = m.incrs().collect();
        if !incrs.is_empty() {
            self.say("Start to check INCR files.");
        }
        for (i, e) in incrs.iter().enumerate() {
            let not_last = (i + 1 < incrs.len()).then_some("it is not the last incr file");
            let v = self.resp(&dir.join(&e.name), &e.name, not_last);
            if !self.verdict("INCR AOF", &e.name, v) {
                return false;
            }
        }
        self.say("All AOF files and manifest are valid");
        true
    }

    /// One file named on the command line: it is its own last file, so it may be cut.
    fn single(&mut self, path: &Path) -> bool {
        self.say("Start checking Old-Style AOF");
        let name = path.display().to_string();
        match sniff(path) {
            Err(e) => {
                self.say(format!("Cannot open file {name}: {e}"));
                false
            }
            Ok(Format::Snapshot) => self.binary(path, "AOF", &name, true),
            Ok(Format::Rdb) => self.binary(path, "AOF", &name, false),
            Ok(Format::Resp) => {
                let v = self.resp(path, &name, None);
                self.verdict("AOF", &name, v)
            }
        }
    }

    /// Print a RESP file's verdict; is it fine now?
    fn verdict(&mut self, role: &str, name: &str, v: Verdict) -> bool {
        match v {
            Verdict::Valid => self.say(format!("{role} {name} is valid")),
            Verdict::Empty => self.say(format!("{role} {name} is empty")),
            Verdict::Truncated => self.say(format!("Successfully truncated AOF {name}")),
            Verdict::Bad => return false,
        }
        true
    }

    /// Verify an rcache snapshot or a Redis RDB used as a base. Never fixable.
    fn binary(&mut self, path: &Path, role: &str, name: &str, snapshot: bool) -> bool {
        let result = if snapshot {
            self.say(format!("Start to check {role} (rcache snapshot format)."));
            crate::snapshot::inspect(path, 0)
                .map(|s| {
                    format!(
                        "{} keys in {} blocks, {} bytes",
                        s.records, s.blocks, s.bytes
                    )
                })
                .map_err(|e| e.to_string())
        } else {
            self.say(format!("Start to check {role} (RDB format)."));
            File::open(path)
                .map_err(|e| format!("Cannot open file: {e}"))
                .and_then(|f| {
                    crate::rdb::read_rdb(BufReader::new(f), 0, |_| Ok(()))
                        .map_err(|e| e.to_string())
                })
                // An RDB-preamble AOF (Redis 4–6) has commands after the RDB; the reader
                // does not say where the RDB ended, so that tail is not checked.
                .map(|s| {
                    format!(
                        "RDB version {}, {} keys; bytes after its checksum are not checked",
                        s.version, s.keys
                    )
                })
        };
        match result {
            Ok(what) => {
                self.say(format!("{role} {name} is valid ({what})"));
                true
            }
            Err(e) => {
                self.say(format!("{role} {name} is not valid: {e}"));
                self.say("--fix cannot repair it: a cut snapshot is not a shorter valid one");
                false
            }
        }
    }

    /// Scan a RESP file; cut it back to its safe end if allowed and asked. `unfixable`
    /// says why it may not be cut, if it may not.
    fn resp(&mut self, path: &Path, name: &str, unfixable: Option<&str>) -> Verdict {
        let opened = File::open(path).and_then(|f| Ok((f.metadata()?.len(), f)));
        let (size, file) = match opened {
            Ok(x) => x,
            Err(e) => {
                self.say(format!("Cannot open file {}: {e}", path.display()));
                return Verdict::Bad;
            }
        };
        if size == 0 {
            return Verdict::Empty;
        }
        let s: FileScan = reader::scan(file, |_| Ok(()));
        match (&s.problem, s.open_multi) {
            (Some(p), _) => self.say(format!("AOF {name} format error: {p}")),
            (None, Some(at)) => self.say(format!(
                "Reached EOF before reading EXEC for MULTI (opened at offset {at})"
            )),
            (None, None) => {}
        }
        let ok_up_to = s.safe_end;
        let diff = size.saturating_sub(ok_up_to);
        self.say(format!(
            "AOF analyzed: filename={name}, size={size}, ok_up_to={ok_up_to}, \
             ok_up_to_line={}, diff={diff}",
            s.safe_lines + 1
        ));
        if matches!(s.problem, Some(ReadError::Io { .. })) {
            self.say(format!(
                "AOF {name} could not be read to its end: nothing to fix"
            ));
            return Verdict::Bad;
        }
        if diff == 0 {
            return Verdict::Valid;
        }
        if let Some(why) = unfixable {
            self.say(if self.fix {
                format!("Failed to truncate AOF {name} because {why}")
            } else {
                format!("AOF {name} is not valid, and --fix cannot repair it: {why}")
            });
            return Verdict::Bad;
        }
        if !self.fix {
            self.say(format!(
                "AOF {name} is not valid. Use the --fix option to try fixing it \
                 (it would cut the last {diff} bytes, keeping {ok_up_to})"
            ));
            return Verdict::Bad;
        }
        // A torn last command or an unfinished MULTI loses only what was never complete;
        // damage in the middle loses the complete commands behind it too: say so.
        if let Some(p @ (ReadError::Corrupt { .. } | ReadError::Apply { .. })) = &s.problem {
            self.say(format!(
                "The damage at offset {} is in the middle of the file: the complete \
                 commands after it are lost with it",
                p.offset()
            ));
        }
        self.say(format!(
            "This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to \
             {ok_up_to} bytes"
        ));
        let cut = OpenOptions::new().write(true).open(path).and_then(|f| {
            f.set_len(ok_up_to)?;
            f.sync_all()
        });
        match cut {
            Ok(()) => {
                self.fixed = true;
                Verdict::Truncated
            }
            Err(e) => {
                self.say(format!("Failed to truncate AOF {name}: {e}"));
                Verdict::Bad
            }
        }
    }
}
