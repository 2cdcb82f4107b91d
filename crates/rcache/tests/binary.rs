//! The `rcache` binary itself: flags and help, the TOML config file and flags over it,
//! signals, SHUTDOWN, exit codes.

use clap::Args;
use server::cli::ServerArgs;
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::process::free_port;
use testkit::{run_with_timeout, RawConn, RcacheProcess};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");
const EXIT_WAIT: Duration = Duration::from_secs(10);

fn rcache(args: &[&str]) -> std::process::Output {
    // A bad flag that is wrongly accepted would start a server: the timeout catches that.
    run_with_timeout(Command::new(BIN).args(args), Duration::from_secs(20))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every flag of `rcache server` appears in `--help` with a description, and every flag but
/// `--config` is a setting of the settings table under the same name.
#[test]
fn server_help_documents_every_flag() {
    let out = rcache(&["server", "--help"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    let cmd = ServerArgs::augment_args(clap::Command::new("server"));
    let mut longs = Vec::new();
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" || long == "version" {
            continue;
        }
        assert!(
            help.contains(&format!("--{long}")),
            "--{long} missing from `rcache server --help`:\n{help}"
        );
        let about = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        assert!(!about.trim().is_empty(), "--{long} has no description");
        assert!(
            help.contains(about.lines().next().unwrap().trim()),
            "--{long}'s description is not in --help:\n{help}"
        );
        // Actions rather than settings: the config file, a Redis file to import once, what
        // to do with a bad snapshot at this start.
        if !["config", "load-rdb", "start-empty-if-corrupt"].contains(&long) {
            // `--join` is the setting `cluster-join` (the seed's flag name).
            let setting = if long == "join" { "cluster-join" } else { long };
            assert!(
                commands::config::find(setting).is_some(),
                "--{long} is not a setting in commands::config::PARAMS"
            );
        }
        longs.push(long.to_string());
    }
    // The flags the docs and scripts rely on; removing one must be a decision, not an accident.
    for must in [
        "config",
        "bind",
        "cluster-port",
        "join",
        "port",
        "maxmemory",
        "maxmemory-policy",
        "maxmemory-samples",
        "requirepass",
        "maxclients",
        "proto-max-bulk-len",
        "client-query-buffer-limit",
        "timeout",
        "hz",
        "loglevel",
        "threads",
    ] {
        assert!(longs.iter().any(|l| l == must), "no --{must} flag");
    }

    let top = rcache(&["--help"]);
    assert!(top.status.success());
    assert!(
        text(&top.stdout).contains("server"),
        "{}",
        text(&top.stdout)
    );
    let version = rcache(&["--version"]);
    assert!(version.status.success());
    assert!(text(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

/// A bad value or an unknown flag: exit code 2 and a message naming the problem, on stderr,
/// without starting a server.
#[test]
fn bad_flag_values_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--maxmemory", "lots"], &["--maxmemory", "lots", "memory"]),
        (
            &["--maxmemory-policy", "lru"],
            &["--maxmemory-policy", "lru", "allkeys-lru"],
        ),
        (&["--port", "99999"], &["--port", "99999"]),
        (&["--port", "abc"], &["--port", "abc"]),
        (&["--maxmemory-samples", "0"], &["--maxmemory-samples"]),
        (&["--databases", "0"], &["--databases"]),
        (&["--loglevel", "loud"], &["--loglevel", "loud"]),
        (&["--appendonly", "maybe"], &["--appendonly", "maybe"]),
        (&["--no-such-flag"], &["--no-such-flag"]),
        (&["--port"], &["--port"]),
    ];
    for (args, words) in cases {
        let mut argv = vec!["server"];
        argv.extend_from_slice(args);
        let out = rcache(&argv);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "rcache {argv:?}: {}\nstderr: {err}",
            out.status
        );
        for w in *words {
            assert!(
                err.contains(w),
                "rcache {argv:?}: stderr lacks {w:?}:\n{err}"
            );
        }
    }
}

/// A config file that cannot be used is refused the same way.
#[test]
fn bad_config_files_exit_2() {
    let dir = testkit::TempDir::new("bad-config");
    let cases = [
        (
            "unknown.toml",
            "bogus-setting = 1\n",
            "unknown setting 'bogus-setting'",
        ),
        ("badvalue.toml", "maxmemory = \"lots\"\n", "maxmemory"),
        ("syntax.toml", "port = \n", "invalid TOML"),
    ];
    for (name, body, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = rcache(&["server", "--config", path.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(want), "{name}: stderr lacks {want:?}:\n{err}");
        assert!(
            err.contains(name),
            "{name}: stderr does not name the file:\n{err}"
        );
    }
    let out = rcache(&["server", "--config", "/nonexistent/rcache.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/rcache.toml"));
}

/// Settings come from the TOML file, and a flag given too wins over the file.
#[test]
fn config_file_applies_and_flags_override_it() {
    let file_port = free_port();
    let flag_port = free_port();
    let toml = format!(
        "# rcache.example.toml style: Redis's names, CONFIG SET's value forms\n\
         port = {file_port}\n\
         bind = \"127.0.0.1\"\n\
         requirepass = \"from-file\"\n\
         maxmemory = \"3mb\"\n\
         maxmemory-policy = \"allkeys-lru\"\n\
         hz = 20\n"
    );
    let p = RcacheProcess::builder(BIN)
        .config_toml(&toml)
        .port(flag_port)
        .start();
    assert_eq!(p.port(), flag_port);
    // The flag's port is served (readiness already proved it); the file's is not.
    assert!(
        RawConn::try_connect(
            std::net::SocketAddr::from(([127, 0, 0, 1], file_port)),
            Duration::from_secs(1)
        )
        .is_err(),
        "something listens on the file's port {file_port}"
    );
    // The file's password is in force.
    let mut c = p.raw();
    assert_eq!(
        c.request(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
}

/// The same, read back with CONFIG GET (server family) after AUTH (connection family).
#[test]
fn config_file_values_visible_in_config_get() {
    let toml = "maxmemory = \"3mb\"\nmaxmemory-policy = \"allkeys-lru\"\nrequirepass = \"pw\"\n";
    let p = RcacheProcess::builder(BIN)
        .config_toml(toml)
        .args(["--maxmemory", "5mb"])
        .start();
    let mut c = p.raw();
    assert_eq!(c.request(&["AUTH", "pw"]), "+OK\r\n");
    assert_eq!(
        c.request(&["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$7\r\n5242880\r\n",
        "the flag wins"
    );
    assert_eq!(
        c.request(&["CONFIG", "GET", "maxmemory-policy"]),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n",
        "the file applies"
    );
    assert_eq!(
        c.request(&["CONFIG", "GET", "port"]),
        format!(
            "*2\r\n$4\r\nport\r\n${}\r\n{}\r\n",
            p.port().to_string().len(),
            p.port()
        )
    );
}

/// SIGTERM (and SIGINT): connected clients are closed and the process exits 0, promptly.
#[test]
fn sigterm_exits_zero_promptly() {
    for sigint in [false, true] {
        let p = RcacheProcess::builder(BIN).start();
        let mut idle = p.raw();
        let mut mid_request = p.raw();
        assert_eq!(idle.request(&["SET", "k", "v"]), "+OK\r\n");
        mid_request.send(b"*2\r\n$3\r\nGET\r\n");
        let t = Instant::now();
        if sigint {
            p.sigint();
        } else {
            p.sigterm();
        }
        let st = p.wait_exit(EXIT_WAIT).unwrap_or_else(|| {
            panic!(
                "still running {EXIT_WAIT:?} after the signal\n{}",
                p.output()
            )
        });
        let took = t.elapsed();
        assert!(st.success(), "exit status {st}\n{}", p.output());
        assert!(took < Duration::from_secs(5), "took {took:?} to exit");
        // Clients see the connection closed.
        assert_eq!(idle.expect_closed(EXIT_WAIT), "");
        assert_eq!(mid_request.expect_closed(EXIT_WAIT), "");
    }
}

/// SHUTDOWN (server family): the process exits 0; Redis sends no reply on success, the
/// connection just closes.
#[test]
fn shutdown_command_exits() {
    let p = RcacheProcess::builder(BIN).start();
    let mut other = p.raw();
    assert_eq!(other.request(&["PING"]), "+PONG\r\n");
    let mut c = p.raw();
    c.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    let got = c.expect_closed(EXIT_WAIT);
    assert!(!got.starts_with('-'), "SHUTDOWN answered an error: {got:?}");
    let st = p
        .wait_exit(EXIT_WAIT)
        .unwrap_or_else(|| panic!("still running after SHUTDOWN\n{}", p.output()));
    assert!(st.success(), "exit status {st}\n{}", p.output());
    assert_eq!(other.expect_closed(EXIT_WAIT), "");
}

/// A port that is taken: a clear error and a non-zero exit, not a hang.
#[test]
fn port_in_use_fails_cleanly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = rcache(&["server", "--port", &port.to_string()]);
    assert!(!out.status.success(), "started on a taken port");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains(&port.to_string()), "{all}");
}

/// Redis settings from the TOML file: `pidfile` holds the process id while the server runs
/// and is removed at exit; `logfile` receives the log; any other Redis 7.0 setting (here old
/// names and settings with no effect) is accepted and reported by CONFIG GET; a refused one
/// stops the start with the reason.
#[test]
fn redis_settings_in_the_config_file() {
    let dir = testkit::TempDir::new("redis-settings");
    let pidfile = dir.path().join("rcache.pid");
    let logfile = dir.path().join("rcache.log");
    let toml = format!(
        "pidfile = {:?}\nlogfile = {:?}\nhash-max-ziplist-entries = 7\n\
         list-compress-depth = 1\nnotify-keyspace-events = \"KEA\"\ntcp-backlog = 128\n",
        pidfile.display().to_string(),
        logfile.display().to_string()
    );
    let p = RcacheProcess::builder(BIN).config_toml(&toml).start();
    let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
    assert_eq!(pid.trim(), p.pid().to_string());
    let mut c = p.raw();
    for (name, value) in [
        ("hash-max-listpack-entries", "7"),
        ("hash-max-ziplist-entries", "7"),
        ("list-compress-depth", "1"),
        ("notify-keyspace-events", "AKE"),
        ("tcp-backlog", "128"),
    ] {
        assert_eq!(
            c.request(&["CONFIG", "GET", name]),
            format!(
                "*2\r\n${}\r\n{name}\r\n${}\r\n{value}\r\n",
                name.len(),
                value.len()
            )
        );
    }
    c.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    c.expect_closed(EXIT_WAIT);
    let st = p.wait_exit(EXIT_WAIT).expect("exits after SHUTDOWN");
    assert!(st.success(), "{st}\n{}", p.output());
    assert!(!pidfile.exists(), "the pid file outlived the server");
    let log = std::fs::read_to_string(&logfile).unwrap_or_default();
    assert!(log.contains("ready to accept connections"), "{log}");

    let refused = dir.path().join("refused.toml");
    std::fs::write(&refused, "daemonize = \"yes\"\n").unwrap();
    let out = rcache(&["server", "--config", refused.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("daemonize") && text(&out.stderr).contains("not supported"),
        "{}",
        text(&out.stderr)
    );
}

/// `user` lines in the configuration file define ACL users at start-up, as Redis's `user`
/// directive: the default user keeps `requirepass` unless a line defines it; a bad line,
/// or `user` lines together with `aclfile`, stop start-up with the reason.
#[test]
fn config_file_user_lines_define_acl_users() {
    let toml = "requirepass = \"adminpw\"\n\
                user = [\"app on >apppw ~app:* +@all\", \"ro on >ropw ~* -@all +get\"]\n";
    let p = RcacheProcess::builder(BIN).config_toml(toml).start();
    let mut c = p.raw();
    assert_eq!(c.request(&["AUTH", "app", "apppw"]), "+OK\r\n");
    assert_eq!(c.request(&["SET", "app:1", "v"]), "+OK\r\n");
    assert!(c.request(&["SET", "other", "v"]).starts_with("-NOPERM"));
    assert_eq!(c.request(&["AUTH", "ro", "ropw"]), "+OK\r\n");
    assert_eq!(c.request(&["GET", "app:1"]), "$1\r\nv\r\n");
    assert!(c.request(&["SET", "app:1", "w"]).starts_with("-NOPERM"));
    // The default user still has requirepass's password.
    assert_eq!(c.request(&["AUTH", "adminpw"]), "+OK\r\n");
    assert_eq!(
        c.request(&["ACL", "USERS"]),
        "*3\r\n$3\r\napp\r\n$7\r\ndefault\r\n$2\r\nro\r\n"
    );
    drop(c);
    drop(p);

    for (toml, why) in [
        (
            "user = \"bad on +nosuchcommand\"\n",
            "Error in applying operation",
        ),
        (
            "aclfile = \"users.acl\"\nuser = \"app on nopass +@all\"\n",
            "not both",
        ),
    ] {
        let p = RcacheProcess::builder(BIN)
            .config_toml(toml)
            .no_wait()
            .start();
        let status = p.wait_exit(EXIT_WAIT).expect("start-up refused");
        assert!(!status.success());
        assert!(p.output().contains(why), "{why}: {}", p.output());
    }
}
