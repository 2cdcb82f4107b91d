//! redis-cli against an in-process server, and what a person typing into a raw socket sends
//! (inline commands, several per write).
//!
//! redis-cli prints raw replies when its stdout is not a terminal (as here); `--no-raw`
//! brings back the interactive forms (`(error) …`, `(integer) …`, `(nil)`).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use testkit::{require_tool, run_with_timeout, TestServer};

fn cli(bin: &Path, srv: &TestServer, args: &[&str]) -> Output {
    let out = run_with_timeout(
        Command::new(bin)
            .arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(srv.port().to_string())
            .args(args),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cli_set_get() {
    let Some(bin) = require_tool("redis-cli") else {
        return;
    };
    let srv = TestServer::start();
    assert_eq!(
        stdout(&cli(&bin, &srv, &["set", "greeting", "hello", "EX", "60"])),
        "OK\n"
    );
    assert_eq!(stdout(&cli(&bin, &srv, &["get", "greeting"])), "hello\n");
    assert_eq!(stdout(&cli(&bin, &srv, &["ping"])), "PONG\n");
    assert_eq!(
        stdout(&cli(&bin, &srv, &["--no-raw", "get", "missing"])),
        "(nil)\n"
    );
    // Values with spaces and quotes come back byte for byte.
    cli(&bin, &srv, &["set", "spaced", "a \"quoted\" value"]);
    assert_eq!(
        stdout(&cli(&bin, &srv, &["get", "spaced"])),
        "a \"quoted\" value\n"
    );
}

/// TTL (the keys family): within a second of `EX 60`, TTL rounds to 60 (Redis rounds the
/// remaining milliseconds to the nearest second); 59 is allowed for a slow machine.
#[test]
fn cli_ttl() {
    let Some(bin) = require_tool("redis-cli") else {
        return;
    };
    let srv = TestServer::start();
    cli(&bin, &srv, &["set", "greeting", "hello", "EX", "60"]);
    let ttl = stdout(&cli(&bin, &srv, &["ttl", "greeting"]));
    assert!(ttl == "60\n" || ttl == "59\n", "{ttl:?}");
    let ttl = stdout(&cli(&bin, &srv, &["--no-raw", "ttl", "greeting"]));
    assert!(
        ttl == "(integer) 60\n" || ttl == "(integer) 59\n",
        "{ttl:?}"
    );
    assert_eq!(stdout(&cli(&bin, &srv, &["ttl", "missing"])), "-2\n");
}

#[test]
fn cli_no_raw_errors() {
    let Some(bin) = require_tool("redis-cli") else {
        return;
    };
    let srv = TestServer::start();
    assert_eq!(
        stdout(&cli(&bin, &srv, &["--no-raw", "nosuchcmd", "a", "b"])),
        "(error) ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b' \n"
    );
    assert_eq!(
        stdout(&cli(&bin, &srv, &["--no-raw", "get"])),
        "(error) ERR wrong number of arguments for 'get' command\n"
    );
    assert_eq!(
        stdout(&cli(
            &bin,
            &srv,
            &["--no-raw", "set", "k", "v", "EX", "notanumber"]
        )),
        "(error) ERR value is not an integer or out of range\n"
    );
    // Raw mode prints the error text without the prefix (redis-cli adds a blank line).
    assert_eq!(
        stdout(&cli(&bin, &srv, &["nosuchcmd"])).trim_end(),
        "ERR unknown command 'nosuchcmd', with args beginning with:"
    );
}

/// `redis-cli --pipe` (mass insertion): a stream of RESP commands, then an ECHO marker.
#[test]
fn cli_pipe_mode() {
    let Some(bin) = require_tool("redis-cli") else {
        return;
    };
    let srv = TestServer::start();
    let n = 5000;
    let mut input = Vec::new();
    for i in 0..n {
        input.extend(testkit::resp(&[
            "SET",
            &format!("mass:{i}"),
            &i.to_string(),
        ]));
    }
    let out = testkit::run_with_input(
        Command::new(&bin)
            .arg("-p")
            .arg(srv.port().to_string())
            .arg("--pipe"),
        Some(&input),
        Duration::from_secs(60),
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("errors: 0, replies: {n}")), "{text}");
    let mut c = srv.raw();
    assert_eq!(c.request(&["GET", "mass:4999"]), "$4\r\n4999\r\n");
}

/// Inline commands, several in one write (telnet-style pipelining): one reply each, in order.
#[test]
fn inline_pipelining_over_a_raw_socket() {
    let srv = TestServer::start();
    let mut c = srv.raw();
    c.send(b"PING\r\nPING\r\nPING\r\n");
    for _ in 0..3 {
        assert_eq!(c.reply(), "+PONG\r\n");
    }
    // Inline and multibulk mixed, LF-only line ends, quoted arguments, blank lines skipped.
    c.send(b"SET k \"a b\\r\\n\"\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nECHO 'x y'\nPING\n");
    assert_eq!(c.reply(), "+OK\r\n");
    assert_eq!(c.reply(), "$5\r\na b\r\n\r\n");
    assert_eq!(c.reply(), "$3\r\nx y\r\n");
    assert_eq!(c.reply(), "+PONG\r\n");
    // A request split over many writes is still one request.
    for b in b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n" {
        c.send(&[*b]);
    }
    assert_eq!(c.reply(), "$5\r\nhello\r\n");
}
