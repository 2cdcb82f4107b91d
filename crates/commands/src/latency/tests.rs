//! The latency monitor and LATENCY's subcommands, against Redis 7.0's shapes and words.

use super::{ago, cumulative_usec, note, note_command, render_graph, Series, HISTORY_LEN};
use crate::cmdstats::{bucket_of, BUCKETS};
use crate::config::Settings;
use crate::testing::TestCtx;
use protocol::value::{parse_reply, RespValue};

fn debug_enabled() -> TestCtx {
    let settings = Settings::default();
    settings.set("enable-debug-command", "yes", true).unwrap();
    TestCtx::with_settings(settings)
}

#[test]
fn samples_one_per_second_keeping_the_worst() {
    let t = TestCtx::new();
    let m = &t.srv.latency;
    m.add_at("command", 5, 100);
    m.add_at("command", 9, 100);
    m.add_at("command", 7, 100);
    m.add_at("command", 3, 101);
    let g = m.events.lock();
    let s = &g["command"];
    assert_eq!(s.samples, [(100, 9), (101, 3)]);
    assert_eq!(s.max, 9);
    drop(g);
    for i in 0..500 {
        m.add_at("fast-command", 1, 1000 + i);
    }
    let g = m.events.lock();
    assert_eq!(g["fast-command"].samples.len(), HISTORY_LEN);
    assert_eq!(
        g["fast-command"].samples[0].0,
        1000 + 500 - HISTORY_LEN as i64
    );
}

#[test]
fn threshold_decides_what_is_recorded() {
    let t = TestCtx::new();
    note_command(&t.srv, false, 50);
    assert_eq!(t.run(&["LATENCY", "LATEST"]), "*0\r\n");
    t.run(&["CONFIG", "SET", "latency-monitor-threshold", "10"]);
    note_command(&t.srv, true, 9);
    note(&t.srv, "expire-cycle", 3);
    assert_eq!(t.run(&["LATENCY", "LATEST"]), "*0\r\n");
    note_command(&t.srv, true, 10);
    note_command(&t.srv, false, 42);
    let r = t.run(&["LATENCY", "LATEST"]);
    let (v, _) = parse_reply(r.as_bytes()).unwrap();
    let RespValue::Array(events) = v else {
        panic!("{r}")
    };
    assert_eq!(events.len(), 2, "{r}");
    let RespValue::Array(first) = &events[0] else {
        panic!("{r}")
    };
    assert_eq!(first[0], RespValue::Bulk(b"command"));
    assert!(matches!(first[1], RespValue::Int(t) if t > 1_700_000_000));
    assert_eq!(first[2], RespValue::Int(42));
    assert_eq!(first[3], RespValue::Int(42));
    let RespValue::Array(second) = &events[1] else {
        panic!("{r}")
    };
    assert_eq!(second[0], RespValue::Bulk(b"fast-command"));
    assert_eq!(second[2], RespValue::Int(10));
}

#[test]
fn a_slow_command_is_a_command_event() {
    let t = debug_enabled();
    t.run(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    assert_eq!(t.run(&["DEBUG", "SLEEP", "0.02"]), "+OK\r\n");
    let r = t.run(&["LATENCY", "HISTORY", "command"]);
    let (v, _) = parse_reply(r.as_bytes()).unwrap();
    let RespValue::Array(samples) = v else {
        panic!("{r}")
    };
    assert_eq!(samples.len(), 1, "{r}");
    let RespValue::Array(s) = &samples[0] else {
        panic!("{r}")
    };
    assert!(matches!(s[1], RespValue::Int(ms) if ms >= 20), "{r}");
    // Unknown and differently-cased names have no history (Redis's dict is case-sensitive).
    assert_eq!(t.run(&["LATENCY", "HISTORY", "COMMAND"]), "*0\r\n");
    assert_eq!(t.run(&["LATENCY", "HISTORY", "nope"]), "*0\r\n");
}

#[test]
fn reset_counts_what_it_forgot() {
    let t = TestCtx::new();
    let m = &t.srv.latency;
    m.add("command", 1);
    m.add("fast-command", 1);
    m.add("expire-cycle", 1);
    assert_eq!(t.run(&["LATENCY", "RESET", "COMMAND", "nope"]), ":1\r\n");
    assert_eq!(t.run(&["LATENCY", "RESET", "command"]), ":0\r\n");
    assert_eq!(t.run(&["LATENCY", "RESET"]), ":2\r\n");
    assert_eq!(t.run(&["LATENCY", "LATEST"]), "*0\r\n");
}

#[test]
fn graph() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["LATENCY", "GRAPH", "command"]),
        "-ERR No samples available for event 'command'\r\n"
    );
    let mut s = Series::default();
    for (i, ms) in [10u64, 20, 40, 80].iter().enumerate() {
        s.samples.push_back((1000 + i as i64 * 30, *ms));
    }
    s.max = 95;
    let g = render_graph("command", &s, 1100);
    let lines: Vec<&str> = g.lines().collect();
    assert_eq!(
        lines[0],
        "command - high 80 ms, low 10 ms (all time high 95 ms)"
    );
    assert_eq!(lines[1], "-".repeat(80));
    // Four rows of chart: the lowest sample at the bottom, the highest at the top.
    assert_eq!(lines[2], "   #");
    assert_eq!(lines[3], "   |");
    assert_eq!(lines[4], "  #|");
    assert_eq!(lines[5], "_o||");
    assert_eq!(lines[6], "    ");
    // Labels, read downwards: 1m (100 s ago), 1m, 40s, 10s.
    assert_eq!(lines[7], "1141");
    assert_eq!(lines[8], "mm00");
    assert_eq!(lines[9], "  ss");
    assert_eq!(
        (ago(59), ago(60), ago(7200), ago(200_000)),
        ("59s".into(), "1m".into(), "2h".into(), "2d".into())
    );
    t.srv.latency.add("command", 7);
    let r = t.run(&["LATENCY", "GRAPH", "command"]);
    assert!(
        r.starts_with('$') && r.contains("command - high 7 ms, low 7 ms"),
        "{r}"
    );
    t.resp3();
    assert!(t.run(&["LATENCY", "GRAPH", "command"]).starts_with('='));
}

#[test]
fn doctor_states() {
    let t = TestCtx::new();
    let r = t.run(&["LATENCY", "DOCTOR"]);
    assert!(
        r.contains("I'm sorry, Dave, I can't do that. Latency monitoring is disabled"),
        "{r}"
    );
    t.run(&["CONFIG", "SET", "latency-monitor-threshold", "100"]);
    let r = t.run(&["LATENCY", "DOCTOR"]);
    assert!(r.contains("Dave, no latency spike was observed"), "{r}");
    note_command(&t.srv, false, 250);
    note_command(&t.srv, true, 120);
    let r = t.run(&["LATENCY", "DOCTOR"]);
    assert!(
        r.contains("Dave, I have observed latency spikes in this Redis instance."),
        "{r}"
    );
    assert!(
        r.contains("1. command: 1 latency spikes (average 250ms, mean deviation 0ms, period 1.00 sec). Worst all time event 250ms."),
        "{r}"
    );
    assert!(r.contains("2. fast-command: 1 latency spikes"), "{r}");
    assert!(r.contains("I have a few advices for you:"), "{r}");
    // The slow log's threshold (10 ms) is below the monitor's (100 ms): no tuning advice.
    assert!(!r.contains("slowlog-log-slower-than"), "{r}");
    t.run(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let r = t.run(&["LATENCY", "DOCTOR"]);
    assert!(
        r.contains("'CONFIG SET slowlog-log-slower-than 100000'"),
        "{r}"
    );
    t.resp3();
    assert!(t.run(&["LATENCY", "DOCTOR"]).starts_with('='));
}

#[test]
fn histogram() {
    let mut h = [0u64; BUCKETS];
    h[bucket_of(500)] += 2; // 0.5 µs: reported at 1
    h[bucket_of(900)] += 1; // also 1 µs
    h[bucket_of(1_250)] += 1; // 1.25 µs rounds up to 2
    h[bucket_of(2_000)] += 1; // 2 µs, merged with the above
    h[bucket_of(30_000)] += 4;
    assert_eq!(cumulative_usec(&h), [(1, 3), (2, 5), (30, 9)]);
    let t = TestCtx::new();
    t.run(&["SET", "a", "1"]);
    t.run(&["GET", "a"]);
    t.run(&["GET", "a"]);
    t.run(&["CLIENT", "ID"]);
    let r = t.run(&["LATENCY", "HISTOGRAM", "get", "CLIENT", "nosuch"]);
    let (v, _) = parse_reply(r.as_bytes()).unwrap();
    let RespValue::Array(flat) = v else {
        panic!("{r}")
    };
    // RESP2: a flat array of name, map-as-array pairs.
    let names: Vec<&RespValue<'_>> = flat.iter().step_by(2).collect();
    assert_eq!(
        names,
        [&RespValue::Bulk(b"client|id"), &RespValue::Bulk(b"get")],
        "{r}"
    );
    let RespValue::Array(get) = &flat[3] else {
        panic!("{r}")
    };
    assert_eq!(get[0], RespValue::Bulk(b"calls"));
    assert_eq!(get[1], RespValue::Int(2));
    assert_eq!(get[2], RespValue::Bulk(b"histogram_usec"));
    let RespValue::Array(points) = &get[3] else {
        panic!("{r}")
    };
    assert!(!points.is_empty() && points.len() % 2 == 0, "{r}");
    assert_eq!(points.last(), Some(&RespValue::Int(2)), "{r}");
    t.resp3();
    let r = t.run(&["LATENCY", "HISTOGRAM", "set"]);
    assert!(
        r.starts_with("%1\r\n$3\r\nset\r\n%2\r\n$5\r\ncalls\r\n:1\r\n"),
        "{r}"
    );
    assert_eq!(t.run(&["LATENCY", "HISTOGRAM", "nosuch"]), "%0\r\n");
}

#[test]
fn errors_and_help() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["LATENCY", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try LATENCY HELP.\r\n"
    );
    assert_eq!(
        t.run(&["LATENCY", "HISTORY"]),
        "-ERR wrong number of arguments for 'latency|history' command\r\n"
    );
    assert_eq!(
        t.run(&["LATENCY", "GRAPH", "a", "b"]),
        "-ERR wrong number of arguments for 'latency|graph' command\r\n"
    );
    assert_eq!(
        t.run(&["LATENCY", "LATEST", "x"]),
        "-ERR wrong number of arguments for 'latency|latest' command\r\n"
    );
    assert_eq!(
        t.run(&["LATENCY"]),
        "-ERR wrong number of arguments for 'latency' command\r\n"
    );
    let h = t.run(&["LATENCY", "HELP"]);
    assert!(
        h.starts_with(
            "*17\r\n+LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ),
        "{h}"
    );
}
