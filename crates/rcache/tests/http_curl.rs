//! The seed's three curl lines, run as written by `curl` against the real binary's HTTP
//! port (`--http-port 0`, the bound port read from `INFO server`'s `http_port`), plus the
//! v1 API as docs/HTTP.md shows it with curl.

use std::process::Command;
use std::time::Duration;
use testkit::{require_tool, run_with_timeout, RcacheProcess};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

/// Run curl with `args` (silent, errors shown); its stdout.
fn curl(args: &[&str]) -> String {
    let bin = require_tool("curl").expect("checked by the caller");
    let out = run_with_timeout(
        Command::new(bin)
            .args(["-sS", "--noproxy", "*", "--max-time", "10"])
            .args(args),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn http_port(p: &RcacheProcess) -> u16 {
    let mut c = p.raw();
    let info = c.request(&["INFO", "server"]);
    info.lines()
        .find_map(|l| l.strip_prefix("http_port:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|&port: &u16| port != 0)
        .unwrap_or_else(|| panic!("no http_port in INFO server:\n{info}"))
}

#[test]
fn seed_curl_lines() {
    if require_tool("curl").is_none() {
        return;
    }
    let p = RcacheProcess::builder(BIN)
        .args(["--http-port", "0"])
        .start();
    let port = http_port(&p);
    let at = |path: &str| format!("localhost:{port}{path}");
    // The seed's lines, verbatim but for the port; outputs as the seed's Go server printed.
    assert_eq!(curl(&["-X", "POST", &at("/k1"), "-d", "v1"]), "v1");
    assert_eq!(curl(&["-X", "POST", &at("/size")]), "1");
    assert_eq!(curl(&["-X", "GET", &at("/k1")]), "v1");
    // The value is the same through RESP.
    let mut c = p.raw();
    assert_eq!(c.request(&["GET", "k1"]), "$2\r\nv1\r\n");
}

#[test]
fn documented_curl_examples() {
    if require_tool("curl").is_none() {
        return;
    }
    let p = RcacheProcess::builder(BIN)
        .args(["--http-port", "0"])
        .start();
    let port = http_port(&p);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    // -w prints the status after the body.
    let status = ["-o", "/dev/null", "-w", "%{http_code}"];
    let put = curl(
        &[
            &[
                "-X",
                "PUT",
                "--data-binary",
                "hello",
                &url("/v1/keys/greeting?ttl=60"),
            ][..],
            &status,
        ]
        .concat(),
    );
    assert_eq!(put, "201");
    let headers = curl(&["-i", &url("/v1/keys/greeting")]);
    assert!(headers.starts_with("HTTP/1.1 200"), "{headers}");
    let lower = headers.to_ascii_lowercase();
    assert!(lower.contains("x-ttl-ms: "), "{headers}");
    assert!(
        lower.contains("content-type: application/octet-stream"),
        "{headers}"
    );
    assert!(headers.ends_with("hello"), "{headers}");
    let out = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"["HSET","user:1","name","ada"]"#,
        &url("/v1/commands"),
    ]);
    assert_eq!(out, r#"{"result":1}"#);
    let out = curl(&["-d", r#"[["INCR","n"],["GET","n"]]"#, &url("/v1/commands")]);
    assert_eq!(out, r#"[{"result":1},{"result":"1"}]"#);
    assert_eq!(curl(&[&url("/health")]), r#"{"status":"ok"}"#);
    let missing = curl(&[&[url("/v1/keys/nope").as_str()][..], &status].concat());
    assert_eq!(missing, "404");
    let del = curl(&[&["-X", "DELETE", &url("/v1/keys/greeting")][..], &status].concat());
    assert_eq!(del, "204");
}
