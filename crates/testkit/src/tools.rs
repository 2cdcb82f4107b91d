//! External tools (redis-cli, redis-benchmark), commands with a time limit, temporary
//! directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Set to `1` to let tests skip (with a loud message) when a tool is missing. CI never sets
/// it: there a missing tool is a failure, so a test cannot pass by silently not running.
pub const ALLOW_MISSING_ENV: &str = "RCACHE_ALLOW_MISSING_TOOLS";

/// Find `name` on PATH. Missing: panic, unless `RCACHE_ALLOW_MISSING_TOOLS=1`, in which case
/// print a loud SKIPPED line and return `None`:
///
/// ```no_run
/// let Some(cli) = testkit::require_tool("redis-cli") else { return };
/// ```
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if let Some(p) = find_on_path(name) {
        return Some(p);
    }
    let allow = std::env::var(ALLOW_MISSING_ENV).is_ok_and(|v| v == "1");
    if allow {
        // Straight to the process's stderr: the test harness captures `eprintln!` of passing
        // tests, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPED: `{name}` is not installed and {ALLOW_MISSING_ENV}=1, so this \
             test did NOT run. Install it (Debian: apt-get install redis-tools; \
             scripts/test.sh does this) to run it. !!!!!!!!\n"
        );
        return None;
    }
    panic!(
        "`{name}` is not installed. Install it (Debian: apt-get install redis-tools; \
         scripts/test.sh does this), or set {ALLOW_MISSING_ENV}=1 to skip the tests that need it."
    );
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    let Ok(m) = std::fs::metadata(p) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        m.is_file() && m.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        m.is_file()
    }
}

/// Run `cmd` to completion with no stdin, capturing its output; kill it and panic if it
/// runs longer than `timeout` (a test must never hang on a child).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    run_with_input(cmd, None, timeout)
}

/// `run_with_timeout`, with `input` (when given) as the child's stdin.
pub fn run_with_input(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    let dir = TempDir::new("rcache-run");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    match input {
        Some(bytes) => {
            let in_path = dir.path().join("stdin");
            std::fs::write(&in_path, bytes).expect("write stdin file");
            cmd.stdin(std::fs::File::open(&in_path).expect("open stdin file"));
        }
        None => {
            cmd.stdin(Stdio::null());
        }
    }
    // Files, not pipes: a chatty child cannot fill a pipe and stall while we poll.
    cmd.stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for child") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{desc} still running after {timeout:?}; killed.\n--- stdout ---\n{}\n--- stderr ---\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tmpfs of a given size mounted on a directory for a test (a disk that fills up); the
/// mount goes on drop. Needs root, as the test suite runs.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mount a tmpfs of `size` (`1m`, `512k`) on `dir`; `None` if `mount` fails.
    pub fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    /// Give the mount a new size (more room: the disk is no longer full).
    pub fn resize(&self, size: &str) -> bool {
        Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
