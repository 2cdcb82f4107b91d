//! `RcacheProcess`: the real `rcache` binary as a child process, for tests of what only the
//! binary does (flags, the config file, signals, exit codes).
//!
//! The binary's path comes from `env!("CARGO_BIN_EXE_rcache")`, which Cargo defines only for
//! the rcache package's own integration tests, so those tests live in `crates/rcache/tests/`
//! and pass the path in:
//!
//! ```no_run
//! let p = testkit::RcacheProcess::builder("/path/to/rcache")
//!     .arg("--maxmemory").arg("1mb")
//!     .start();
//! let mut c = p.raw();
//! assert_eq!(c.request(&["PING"]), "+PONG\r\n");
//! p.sigterm();
//! assert!(p.wait_exit(std::time::Duration::from_secs(10)).expect("exited").success());
//! ```
//!
//! The port is picked free by the harness (`free_port`, passed as `--port N`) unless the test
//! chooses it; readiness is a connect + PING poll that also notices a child that died (and,
//! when the harness chose the port, retries on another). Output goes to files in a temporary
//! directory, printed when a wait fails.

use crate::raw::RawConn;
use crate::tools::TempDir;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RcacheProcessBuilder {
    bin: PathBuf,
    args: Vec<String>,
    port: Option<u16>,
    /// Pass `--port` (false when the test puts the port elsewhere, e.g. the config file).
    pass_port: bool,
    config_toml: Option<String>,
    envs: Vec<(String, String)>,
    wait_ready: bool,
}

impl RcacheProcessBuilder {
    /// Append one argument after `rcache server`.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Use this port instead of a free one the harness picks.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Do not pass `--port`: the test sets the port some other way (a config file) and says
    /// which one the server will listen on with `port(..)`.
    pub fn no_port_flag(mut self) -> Self {
        self.pass_port = false;
        self
    }

    /// Write `toml` to `rcache.toml` in the process's temporary directory and pass
    /// `--config <file>` before the other arguments.
    pub fn config_toml(mut self, toml: &str) -> Self {
        self.config_toml = Some(toml.to_string());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    /// Return as soon as the process is spawned, without waiting for PING (for tests of
    /// start-up failures; use `wait_exit`).
    pub fn no_wait(mut self) -> Self {
        self.wait_ready = false;
        self
    }

    /// Spawn `rcache server …` and wait until it answers PING. When the harness picked the
    /// port and the child could not listen on it (taken in the meantime), it tries another.
    pub fn start(self) -> RcacheProcess {
        let attempts = if self.port.is_none() && self.pass_port && self.wait_ready {
            3
        } else {
            1
        };
        for attempt in 1..=attempts {
            let p = self.spawn(self.port.unwrap_or_else(free_port));
            if !self.wait_ready {
                return p;
            }
            match p.try_wait_ready() {
                Ok(()) => return p,
                Err(e) if attempt < attempts && p.try_wait().is_some() => {
                    eprintln!("rcache did not start ({e}); retrying on another port");
                }
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn spawn(&self, port: u16) -> RcacheProcess {
        let dir = TempDir::new("rcache-proc");
        let mut argv: Vec<String> = vec!["server".into()];
        if let Some(toml) = &self.config_toml {
            let path = dir.path().join("rcache.toml");
            std::fs::write(&path, toml).expect("write the config file");
            argv.push("--config".into());
            argv.push(path.display().to_string());
        }
        if self.pass_port {
            argv.push("--port".into());
            argv.push(port.to_string());
        }
        argv.extend(self.args.iter().cloned());
        // The other doors stay closed unless the test opens them (`--http-port 0`…), so
        // parallel servers never race for their default ports.
        for flag in ["--http-port", "--binary-port", "--memcache-port"] {
            if !self.args.iter().any(|a| a == flag) {
                argv.push(flag.into());
                argv.push("off".into());
            }
        }
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout log");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr log");
        let mut cmd = Command::new(&self.bin);
        cmd.args(&argv)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .env("NO_COLOR", "1")
            .current_dir(dir.path());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {argv:?}: {e}", self.bin.display()));
        RcacheProcess {
            child: Mutex::new(child),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            argv,
            dir,
        }
    }
}

/// A running `rcache server` child. Dropping it sends SIGTERM, then SIGKILL after 10 s.
pub struct RcacheProcess {
    child: Mutex<Child>,
    addr: SocketAddr,
    argv: Vec<String>,
    dir: TempDir,
}

impl RcacheProcess {
    pub fn builder(bin: impl AsRef<Path>) -> RcacheProcessBuilder {
        RcacheProcessBuilder {
            bin: bin.as_ref().to_path_buf(),
            args: Vec::new(),
            port: None,
            pass_port: true,
            config_toml: None,
            envs: Vec::new(),
            wait_ready: true,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr)
    }

    /// What the process printed so far (stdout, then stderr).
    pub fn output(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            read("stdout.log"),
            read("stderr.log")
        )
    }

    /// Poll connect + PING until the server answers; panic (with the output) if the process
    /// exits or does not answer within `READY_TIMEOUT`.
    pub fn wait_ready(&self) {
        if let Err(e) = self.try_wait_ready() {
            panic!("{e}");
        }
    }

    fn try_wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + crate::READY_TIMEOUT;
        let mut pause = Duration::from_millis(2);
        loop {
            if crate::ping_ready(self.addr) {
                return Ok(());
            }
            if let Some(st) = self.try_wait() {
                return Err(format!(
                    "rcache {:?} exited ({st}) before answering PING on {}\n{}",
                    self.argv,
                    self.addr,
                    self.output()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "rcache {:?} did not answer PING on {} within {:?}\n{}",
                    self.argv,
                    self.addr,
                    crate::READY_TIMEOUT,
                    self.output()
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The exit status, if the process has exited.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        self.child.lock().unwrap().try_wait().ok().flatten()
    }

    /// Wait up to `timeout` for the process to exit.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Send SIGTERM (what a service manager sends to stop the server).
    pub fn sigterm(&self) {
        self.signal(Signal::Term);
    }

    /// Send SIGINT (Ctrl-C).
    pub fn sigint(&self) {
        self.signal(Signal::Int);
    }

    /// SIGKILL (a crash: no shutdown code runs) and reap the child.
    pub fn sigkill(&self) {
        let mut c = self.child.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }

    fn signal(&self, s: Signal) {
        let mut child = self.child.lock().unwrap();
        if !matches!(child.try_wait(), Ok(None)) {
            // Already exited (and reaped): its pid may belong to someone else by now.
            return;
        }
        #[cfg(unix)]
        {
            let sig = match s {
                Signal::Term => libc::SIGTERM,
                Signal::Int => libc::SIGINT,
            };
            // SAFETY: kill(2) on our own, not yet reaped child; no memory is involved.
            let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
            assert_eq!(r, 0, "kill({}, {sig})", child.id());
        }
        #[cfg(not(unix))]
        {
            let _ = (s, child);
            panic!("signals are only supported on unix");
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Int,
}

impl Drop for RcacheProcess {
    fn drop(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        #[cfg(unix)]
        self.sigterm();
        if self.wait_exit(Duration::from_secs(10)).is_none() {
            let mut c = self.child.lock().unwrap();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TCP port that was free a moment ago, for a child that must be told its port up front.
///
/// Taken at random from below the kernel's ephemeral range (`ip_local_port_range`), which
/// `bind(0)` and outgoing connections draw from: so no in-process `TestServer` and no client
/// socket can be handed the same port between this check and the child's bind (the server
/// binds with `SO_REUSEPORT`, so such a clash could go unnoticed).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let lo = ephemeral_low().unwrap_or(32768);
    let (base, top) = (10_000u16, lo.max(11_000));
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let p = base + (h.finish() % u64::from(top - base)) as u16;
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    // Crowded machine: fall back to a kernel-chosen port.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// The low end of the kernel's ephemeral port range (Linux).
fn ephemeral_low() -> Option<u16> {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
