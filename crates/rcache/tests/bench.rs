//! `rcache bench` as a user runs it (the real binary): against an in-process rcache its
//! JSON has every documented field and counts that add up, its CSV header is the documented
//! one, `--plot` writes an SVG, bad arguments are usage errors; against Debian's real
//! `redis-server`, `--compare` runs both targets and prints ratios.

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use testkit::process::free_port;
use testkit::{ping_ready, require_tool, run_with_timeout, wait_for, TempDir, TestServer};

fn bench(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rcache"));
    cmd.arg("bench").arg("--no-progress").args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every field docs/BENCHMARKS.md documents for one run, in JSON.
const RUN_FIELDS: &[&str] = &[
    "round",
    "target",
    "addr",
    "proto",
    "op",
    "distribution",
    "keyspace",
    "data_size_min",
    "data_size_max",
    "key_prefix",
    "connections",
    "pipeline",
    "threads",
    "mode",
    "rate",
    "warmup_s",
    "planned",
    "sent",
    "received",
    "lost",
    "gets",
    "hits",
    "misses",
    "sets",
    "others",
    "errors",
    "warmup_requests",
    "elapsed_s",
    "rps",
    "value_bytes",
    "mb_per_s",
    "latency_us",
    "under_ms",
    "rps_samples",
    "per_second",
    "curve",
];

#[test]
fn json_has_every_documented_field_and_the_counts_add_up() {
    let srv = TestServer::start();
    let t = format!("rc={}", srv.addr());
    let out = bench(&[
        &t,
        "--op",
        "get",
        "--populate",
        "-r",
        "300",
        "-n",
        "3000",
        "-c",
        "4",
        "-P",
        "8",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON output");
    assert_eq!(doc["tool"], "rcache bench");
    assert!(doc["compare"].is_null());
    let run = &doc["runs"][0];
    for f in RUN_FIELDS {
        assert!(run.get(f).is_some(), "field {f} missing in {run}");
    }
    for f in ["total", "server", "dropped", "timeout", "first"] {
        assert!(run["errors"].get(f).is_some(), "errors.{f}");
    }
    for f in [
        "min", "avg", "stdev", "p50", "p90", "p99", "p99_9", "p99_99", "max",
    ] {
        assert!(run["latency_us"][f].is_number(), "latency_us.{f}");
    }
    for f in ["count", "min", "p50", "max", "mean", "stdev"] {
        assert!(run["rps_samples"][f].is_number(), "rps_samples.{f}");
    }
    assert_eq!(run["sent"], 3000);
    assert_eq!(run["received"], 3000);
    assert_eq!(run["gets"], 3000);
    assert_eq!(run["hits"], 3000);
    assert_eq!(run["misses"], 0);
    assert_eq!(run["errors"]["total"], 0);
    let under = run["under_ms"].as_array().unwrap();
    assert_eq!(under.last().unwrap()["percent"], 100);
}

#[test]
fn text_csv_and_plot() {
    let srv = TestServer::start();
    let t = format!("rc={}", srv.addr());
    let out = bench(&[&t, "-n", "500", "-c", "2", "-d", "10-20"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    for line in [
        "type is resp",
        "total 500 requests",
        "data size is 10-20",
        "we have 2 connections",
        "operation is set",
        "500 records set",
        "% requests < ",
        "usec average for each request",
        "throughput is ",
        "rps is ",
        "p99.99",
        "Req/Sec",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }

    let out = bench(&[&t, "-n", "200", "-c", "2", "--csv"]);
    assert!(out.status.success(), "{out:?}");
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(
        lines[0].split(',').collect::<Vec<_>>(),
        rcache_csv_columns(),
        "header"
    );
    assert_eq!(lines[1].split(',').count(), lines[0].split(',').count());

    let dir = TempDir::new("rcache-bench-plot");
    let svg = dir.path().join("plot.svg");
    let svg_arg = svg.to_str().unwrap();
    let out = bench(&[&t, "-n", "300", "-c", "2", "--plot", svg_arg]);
    assert!(out.status.success(), "{out:?}");
    let body = std::fs::read_to_string(&svg).expect("the SVG is written");
    assert!(body.contains("<svg") && body.contains("polyline"), "{body}");
}

/// The documented CSV columns (docs/BENCHMARKS.md).
fn rcache_csv_columns() -> Vec<&'static str> {
    "round,target,addr,proto,op,distribution,keyspace,data_size_min,data_size_max,\
     connections,pipeline,threads,mode,rate,planned,sent,received,lost,gets,hits,misses,\
     sets,others,errors,errors_server,errors_dropped,errors_timeout,warmup_requests,\
     elapsed_s,rps,value_bytes,mb_per_s,lat_min_us,lat_avg_us,lat_stdev_us,lat_p50_us,\
     lat_p90_us,lat_p99_us,lat_p99_9_us,lat_p99_99_us,lat_max_us,rps_samples,rps_min,\
     rps_p50,rps_max"
        .split(',')
        .collect()
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        vec!["a=nohostport"],
        vec!["--compare", "a=127.0.0.1:1"],
        vec!["--proto", "memcache", "--op", "incr", "a=127.0.0.1:1"],
        vec!["-c", "0", "a=127.0.0.1:1"],
        vec!["-d", "9-3", "a=127.0.0.1:1"],
        vec!["--ratio", "x", "a=127.0.0.1:1"],
        vec!["--rounds", "2", "a=127.0.0.1:1"],
        vec!["--json", "--csv", "a=127.0.0.1:1"],
        vec![],
    ] {
        let out = bench(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
    let out = bench(&["--proto", "http", "--op", "incr", "a=127.0.0.1:1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("rcache bench"));
}

/// Debian's redis-server on a free port, without persistence; killed on drop.
struct Redis(Child, SocketAddr);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Option<Redis> {
    let bin = require_tool("redis-server")?;
    let port = free_port();
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--logfile", ""])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let r = Redis(child, addr);
    wait_for(
        "redis-server to answer PING",
        testkit::READY_TIMEOUT,
        || ping_ready(addr).then_some(()),
    );
    Some(r)
}

#[test]
fn compare_mode_against_real_redis_prints_ratios() {
    let Some(redis) = start_redis() else { return };
    let srv = TestServer::start();
    let a = format!("rcache={}", srv.addr());
    let b = format!("redis={}", redis.1);
    let out = bench(&[
        "--compare",
        "--rounds",
        "2",
        &a,
        &b,
        "-n",
        "2000",
        "-c",
        "4",
        "--op",
        "mixed",
        "--populate",
        "-r",
        "200",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("rps/1st"), "{text}");
    let row = |name: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row in {text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let (rc, rd) = (row("rcache"), row("redis"));
    assert_eq!(rc[1], "2", "rounds: {text}");
    assert_eq!(rc[7], "1.00", "the first target's ratio to itself: {text}");
    let ratio: f64 = rd[7].parse().expect("a ratio");
    assert!(ratio > 0.0, "{text}");
    assert_eq!(rd[6], "0", "no errors against Redis: {text}");
    // Interleaved: the rounds alternate targets.
    let err = String::from_utf8_lossy(&out.stderr);
    let order: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("round "))
        .map(|l| l.split_whitespace().nth(2).unwrap().trim_end_matches(':'))
        .collect();
    assert_eq!(order, ["rcache", "redis", "rcache", "redis"], "{err}");

    // JSON of the same mode: a summary row per target.
    let out = bench(&[
        "--compare",
        "--rounds",
        "1",
        &a,
        &b,
        "-n",
        "500",
        "-c",
        "2",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = doc["compare"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["rps_ratio"], 1.0);
    assert!(rows[1]["rps_ratio"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["runs"].as_array().unwrap().len(), 2);
}
