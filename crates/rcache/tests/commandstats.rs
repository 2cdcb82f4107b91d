//! INFO commandstats / latencystats and `/metrics`' per-command figures against a real
//! server: several connections on several I/O threads, MULTI/EXEC, errors, CONFIG
//! RESETSTAT, and a redis-benchmark burst whose every request must be counted exactly.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use testkit::{require_tool, run_with_timeout, TestServer};

/// `cmdstat_<name>` → its `key=value` fields, from INFO commandstats.
fn cmdstats(c: &mut redis::Connection) -> BTreeMap<String, BTreeMap<String, String>> {
    let text: String = redis::cmd("INFO").arg("commandstats").query(c).unwrap();
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("# Commandstats"), "{text}");
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, fields) = line.split_once(':').expect("field:value");
        let name = name.strip_prefix("cmdstat_").expect("cmdstat_ prefix");
        let fields = fields
            .split(',')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("k=v");
                (k.to_string(), v.to_string())
            })
            .collect::<BTreeMap<_, _>>();
        let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "calls",
                "failed_calls",
                "rejected_calls",
                "usec",
                "usec_per_call"
            ]
        );
        out.insert(name.to_string(), fields);
    }
    out
}

fn calls(s: &BTreeMap<String, BTreeMap<String, String>>, name: &str) -> (u64, u64, u64) {
    s.get(name).map_or((0, 0, 0), |f| {
        let n = |k: &str| f[k].parse::<u64>().unwrap();
        (n("calls"), n("failed_calls"), n("rejected_calls"))
    })
}

#[test]
fn info_commandstats_counts_every_connection() {
    let srv = TestServer::builder().threads(2).start();
    let mut a = srv.connection();
    let mut b = srv.connection();
    for i in 0..10 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut a)
            .unwrap();
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut b)
            .unwrap();
    }
    let _: i64 = redis::cmd("LPUSH").arg("l").arg("x").query(&mut a).unwrap();
    // Failed (WRONGTYPE), rejected (arity), counted nowhere (unknown command).
    assert!(redis::cmd("GET").arg("l").query::<String>(&mut b).is_err());
    assert!(redis::cmd("GET").query::<String>(&mut b).is_err());
    assert!(redis::cmd("NOSUCH").query::<String>(&mut b).is_err());
    // MULTI/EXEC counts EXEC and each queued command.
    let _: (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("n")
        .cmd("INCR")
        .arg("n")
        .query(&mut a)
        .unwrap();
    let _: Vec<redis::Value> = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();

    let s = cmdstats(&mut a);
    assert_eq!(calls(&s, "set"), (10, 0, 0));
    assert_eq!(calls(&s, "get"), (11, 1, 1));
    assert_eq!(calls(&s, "lpush"), (1, 0, 0));
    assert_eq!(calls(&s, "incr"), (2, 0, 0));
    assert_eq!(calls(&s, "multi"), (1, 0, 0));
    assert_eq!(calls(&s, "exec"), (1, 0, 0));
    assert_eq!(calls(&s, "client|list"), (1, 0, 0));
    assert!(!s.contains_key("nosuch"));
    let get = &s["get"];
    let usec: u64 = get["usec"].parse().unwrap();
    let per: f64 = get["usec_per_call"].parse().unwrap();
    assert!((per * 11.0 - usec as f64).abs() <= 11.0, "{get:?}");
    assert_eq!(
        get["usec_per_call"].split('.').nth(1).map(str::len),
        Some(2)
    );

    // latencystats: p50, p99, p99.9 with three decimals, ordered.
    let lat: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut a)
        .unwrap();
    let line = lat
        .lines()
        .find_map(|l| l.strip_prefix("latency_percentiles_usec_set:"))
        .unwrap_or_else(|| panic!("{lat}"));
    let ps: Vec<f64> = line
        .split(',')
        .zip(["p50=", "p99=", "p99.9="])
        .map(|(kv, k)| {
            let v = kv.strip_prefix(k).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(v.split('.').nth(1).map(str::len), Some(3), "{line}");
            v.parse().unwrap()
        })
        .collect();
    assert_eq!(ps.len(), 3);
    assert!(ps[0] > 0.0 && ps[0] <= ps[1] && ps[1] <= ps[2], "{line}");

    // Plain INFO leaves the per-command sections out, INFO all has them.
    let plain: String = redis::cmd("INFO").query(&mut a).unwrap();
    assert!(!plain.contains("# Commandstats") && !plain.contains("cmdstat_"));
    let all: String = redis::cmd("INFO").arg("all").query(&mut a).unwrap();
    assert!(all.contains("# Commandstats\r\ncmdstat_") && all.contains("# Latencystats\r\n"));

    // /metrics agrees.
    let text = server::metrics::render(&srv.state());
    assert!(
        text.contains("rcache_commands_total{cmd=\"set\"} 10\n"),
        "{text}"
    );
    assert!(text.contains("rcache_commands_failed_total{cmd=\"get\"} 1\n"));
    assert!(text.contains("rcache_commands_rejected_total{cmd=\"get\"} 1\n"));
    assert!(text.contains("rcache_command_duration_seconds_count{cmd=\"get\"} 11\n"));
    assert!(text.contains("rcache_command_duration_seconds_bucket{le=\"+Inf\",cmd=\"get\"} 11\n"));

    // CONFIG RESETSTAT starts over (RESETSTAT itself counts after the reset).
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut b).unwrap();
    let s = cmdstats(&mut a);
    assert_eq!(s.keys().collect::<Vec<_>>(), ["config|resetstat"], "{s:?}");
    let _: Option<String> = redis::cmd("GET").arg("k1").query(&mut b).unwrap();
    assert_eq!(calls(&cmdstats(&mut a), "get"), (1, 0, 0));
}

#[test]
fn redis_benchmark_burst_is_counted_exactly() {
    let Some(bin) = require_tool("redis-benchmark") else {
        return;
    };
    let srv = TestServer::builder().threads(2).start();
    let port = srv.port().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-n",
            "4800",
            "-c",
            "20",
            "-q",
            "-t",
            "set,get",
        ];
        args.extend_from_slice(extra);
        let out = run_with_timeout(Command::new(&bin).args(&args), Duration::from_secs(300));
        assert!(out.status.success(), "redis-benchmark {args:?}: {out:?}");
    };
    // 4800 is a multiple of the pipeline depth: redis-benchmark rounds a test up to whole
    // pipelines (5000 at -P 16 sends 5008, to Redis 7 as to us).
    run(&[]);
    run(&["-P", "16"]);
    let mut c = srv.connection();
    let s = cmdstats(&mut c);
    assert_eq!(calls(&s, "set"), (9_600, 0, 0), "{s:?}");
    assert_eq!(calls(&s, "get"), (9_600, 0, 0), "{s:?}");
    let text = server::metrics::render(&srv.state());
    assert!(text.contains("rcache_command_duration_seconds_count{cmd=\"get\"} 9600\n"));
}
