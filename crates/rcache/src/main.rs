//! The `rcache` binary: subcommands wired with clap. `rcache server` runs a cache node;
//! `rcache proxy` is a twemproxy drop-in (the `proxy` crate); `rcache bench` load-tests servers (the `rcache-bench` crate); `rcache check-snapshot` and
//! `rcache check-aof` verify persistence files (the `persist` crate does the work).

use clap::{CommandFactory, Parser, Subcommand};
use server::cli::ServerArgs;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "rcache",
    version,
    about = "A Redis-compatible, distributed in-memory cache"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

// Variants boxed: both argument sets are large, and clippy wants the enum small.
#[derive(Subcommand)]
enum Cmd {
    /// Run a cache node speaking RESP2/RESP3 (redis-cli, redis-benchmark, redis-py work).
    Server(Box<ServerArgs>),
    /// A twemproxy (nutcracker) drop-in: same YAML, flags and placement; every core, live
    /// reload (SIGHUP), and optional rebalancing so no key goes missing (docs/PROXY.md).
    Proxy(Box<proxy::cli::ProxyArgs>),
    /// Load-test rcache's doors, Redis or memcached, and compare targets (docs/BENCHMARKS.md).
    Bench(Box<rcache_bench::cli::BenchArgs>),
    /// Verify a snapshot file and print what it holds: databases, keys per type, TTLs
    /// (docs/PERSISTENCE.md). Exits 1 with the offset of the first bad byte if it is broken.
    CheckSnapshot {
        /// The snapshot file (dump.rcsnap in the server's --dir by default).
        file: std::path::PathBuf,
    },
    /// Verify an append-only log, as redis-check-aof: PATH is its directory
    /// (appendonlydir), its manifest, or one .aof file. Exits 0 if valid (or fixed), 1 if
    /// not, with the file and offset of the first bad byte.
    CheckAof {
        /// Cut a torn command or an unfinished MULTI off the end of the last incr file.
        /// Damage in any earlier file is reported, never cut.
        #[arg(long)]
        fix: bool,
        /// The AOF directory, its manifest file, or a single .aof file.
        path: std::path::PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Server(args) => std::process::exit(run_server(*args)),
        Cmd::Proxy(args) => std::process::exit(proxy::run::main(*args)),
        Cmd::CheckSnapshot { file } => std::process::exit(check_snapshot(&file)),
        Cmd::CheckAof { fix, path } => {
            let out = persist::aof::check::check(&path, fix);
            print!("{}", out.report);
            std::process::exit(if out.ok { 0 } else { 1 })
        }
        Cmd::Bench(args) => match rcache_bench::cli::run(&args) {
            Ok(code) => std::process::exit(code),
            // Arguments that parse but do not fit together: a usage error like clap's own.
            Err(rcache_bench::cli::CliError::Usage(msg)) => {
                let mut cmd = Cli::command();
                // Built, so the usage line names `rcache bench`.
                cmd.build();
                cmd.find_subcommand_mut("bench")
                    .expect("the bench subcommand")
                    .error(clap::error::ErrorKind::ArgumentConflict, msg)
                    .exit()
            }
            Err(rcache_bench::cli::CliError::Run(msg)) => {
                eprintln!("rcache bench: {msg}");
                std::process::exit(1);
            }
        },
    }
}

/// `rcache check-snapshot FILE`.
fn check_snapshot(file: &std::path::Path) -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    match persist::snapshot::inspect(file, now) {
        Ok(sum) => {
            print!("{}", persist::snapshot::reader::report(file, &sum));
            0
        }
        Err(e) => {
            eprintln!("{}: BAD: {e}", file.display());
            1
        }
    }
}

fn log_filter(level: &str) -> &'static str {
    match level {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    }
}

fn run_server(args: ServerArgs) -> i32 {
    let args_load_rdb = args.load_rdb.clone();
    let start_empty_if_corrupt = args.start_empty_if_corrupt;
    let settings = match args.settings() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("rcache server: {e}");
            return 2;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(log_filter(&settings.loglevel.read()))
    });
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // `logfile`: appended to, as Redis does; empty = standard output.
    let logfile = settings.value("logfile");
    if logfile.is_empty() {
        log.init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
        {
            Ok(f) => log
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("rcache server: can't open the log file {logfile}: {e}");
                return 1;
            }
        }
    }
    // I/O thread 0 runs on this runtime; `Server::run` starts the others (one per core).
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_stack_size(commands::scripting::SCRIPT_THREAD_STACK)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rcache server: cannot start runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(async move {
        let clock: Arc<dyn storage::Clock> = Arc::new(storage::SystemClock);
        let srv = match server::Server::bind(settings.clone(), clock) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(
                    "cannot listen on {}:{}: {e}",
                    settings.bind.read(),
                    settings.port.load(Relaxed)
                );
                return 1;
            }
        };
        *srv.state.persistence.load_rdb.lock() = args_load_rdb;
        srv.state
            .persistence
            .start_empty_if_corrupt
            .store(start_empty_if_corrupt, Relaxed);
        // One server per data directory: refuse before listening, naming the holder.
        if let Err(e) = commands::persistence::claim_dir(&srv.state) {
            tracing::error!("{e}");
            return 1;
        }
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            threads = srv.io_threads(),
            maxmemory = settings.evict.maxmemory(),
            policy = settings.evict.policy().name(),
            "rcache server ready to accept connections on {} (resp){}",
            srv.local_addr(),
            [
                commands::Door::Http,
                commands::Door::Binary,
                commands::Door::Memcache
            ]
            .into_iter()
            .filter_map(|d| srv.door_addr(d).map(|a| format!(", {a} ({})", d.name())))
            .collect::<String>()
        );
        let pidfile = PidFile::create(settings.value("pidfile"));
        let state = srv.state.clone();
        let state_after = srv.state.clone();
        tokio::spawn(async move {
            let first = wait_for_signal().await;
            commands::persistence::on_shutdown_signal(&state, first);
            // A cluster node drains first: its slots go to the others, then it stops
            // (cluster-drain-on-shutdown). A second signal stops it at once.
            if let Some(cl) = state.cluster.get() {
                if state.settings.value("cluster-drain-on-shutdown") == "yes" {
                    tracing::info!("received shutdown signal: handing this node's slots off first (again to stop now)");
                    cl.request_leave();
                    wait_for_signal().await;
                }
            }
            tracing::info!("received shutdown signal");
            state.request_shutdown();
        });
        srv.run().await;
        drop(pidfile);
        let p = &state_after.persistence;
        if p.load_failed.load(Relaxed) || p.final_save_failed.load(Relaxed) {
            1
        } else {
            0
        }
    });
    // Dropping a runtime waits for its blocking-pool threads without limit; a thread still
    // busy (a script stuck in one long library call, which the instruction hook cannot
    // interrupt) must not keep the process alive after shutdown.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

/// `pidfile`: the process id, written once listening and removed at a clean exit, as Redis
/// does. A file that cannot be written is a warning, not a reason to stop (Redis's too).
struct PidFile(Option<std::path::PathBuf>);

impl PidFile {
    fn create(path: String) -> PidFile {
        if path.is_empty() {
            return PidFile(None);
        }
        match std::fs::write(&path, format!("{}\n", std::process::id())) {
            Ok(()) => PidFile(Some(path.into())),
            Err(e) => {
                tracing::warn!("failed to write PID file {path}: {e}");
                PidFile(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Waits for SIGTERM or SIGINT; the setting that says how that signal shuts down.
async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => "shutdown-on-sigterm",
            _ = int.recv() => "shutdown-on-sigint",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "shutdown-on-sigint"
    }
}
