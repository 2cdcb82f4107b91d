//! Per-command statistics: counts, failed vs rejected (checked against Redis 7.0.15),
//! subcommands, MULTI/EXEC, RESETSTAT, threads, buckets and percentiles.

use super::*;
use crate::config::Settings;
use crate::testing::TestCtx;

fn stats(t: &TestCtx) -> BTreeMap<&'static str, CmdFigures> {
    t.srv
        .stats
        .cmdstats
        .snapshot(t.srv.table)
        .into_iter()
        .map(|c| (c.name, c))
        .collect()
}

/// (calls, failed, rejected) of one command, zeros when absent.
fn cfr(t: &TestCtx, name: &str) -> (u64, u64, u64) {
    stats(t)
        .get(name)
        .map_or((0, 0, 0), |c| (c.calls(), c.failed(), c.rejected()))
}

#[test]
fn bounds_are_increasing_and_exports_are_a_subset() {
    assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(BOUNDS_NS[0], 100);
    assert_eq!(BOUNDS_NS[10], 1_000);
    assert_eq!(BOUNDS_NS[79], 8_000_000_000);
    for b in EXPORT_BOUNDS_NS {
        assert!(BOUNDS_NS.contains(&b), "{b}");
    }
    assert_eq!(EXPORT_BOUNDS_NS[0], 1_000);
    assert_eq!(EXPORT_BOUNDS_NS[1], 2_500);
    assert_eq!(EXPORT_BOUNDS_NS[2], 5_000);
    assert_eq!(EXPORT_BOUNDS_NS[20], 5_000_000_000);
    assert_eq!(EXPORT_BOUNDS_NS[21], 10_000_000_000);
    assert_eq!(bucket_of(0), 0);
    assert_eq!(bucket_of(100), 0);
    assert_eq!(bucket_of(101), 1);
    assert_eq!(bucket_of(1_000), 10);
    assert_eq!(bucket_of(1_001), 11);
    assert_eq!(bucket_of(10_000_000_000), 80);
    assert_eq!(bucket_of(u64::MAX), 81);
}

#[test]
fn percentiles() {
    let mut h = [0u64; BUCKETS];
    assert_eq!(percentile_ns(&h, 50.0), 0.0);
    // One sample reads as its bucket's upper bound.
    h[bucket_of(3_000)] = 1;
    assert_eq!(percentile_ns(&h, 50.0), 3_000.0);
    assert_eq!(percentile_ns(&h, 99.9), 3_000.0);
    // 100 samples in (2500, 3000]: linear inside the bucket.
    h = [0; BUCKETS];
    h[bucket_of(3_000)] = 100;
    assert_eq!(percentile_ns(&h, 50.0), 2_750.0);
    assert_eq!(percentile_ns(&h, 99.0), 2_995.0);
    // 90 fast, 10 slow: p50 among the fast, p99 among the slow.
    h = [0; BUCKETS];
    h[bucket_of(1_000)] = 90;
    h[bucket_of(1_000_000)] = 10;
    assert!(percentile_ns(&h, 50.0) <= 1_000.0);
    let p99 = percentile_ns(&h, 99.0);
    assert!(p99 > 800_000.0 && p99 <= 1_000_000.0, "{p99}");
    // The overflow bucket reads as 10 s.
    h = [0; BUCKETS];
    h[BUCKETS - 1] = 1;
    assert_eq!(percentile_ns(&h, 50.0), 10_000_000_000.0);
    // Percentiles never decrease.
    h = [0; BUCKETS];
    for (i, n) in h.iter_mut().enumerate() {
        *n = (i as u64 * 7919) % 13;
    }
    let mut last = 0.0;
    for p in [0.1, 1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
        let v = percentile_ns(&h, p);
        assert!(v >= last, "p{p}={v} < {last}");
        last = v;
    }
}

#[test]
fn figures_and_lines() {
    let mut raw = Raw {
        calls: 2,
        nanos: 15_400,
        ..Raw::default()
    };
    raw.hist[bucket_of(5_000)] = 1;
    raw.hist[bucket_of(10_000)] = 1;
    let f = CmdFigures { name: "get", raw };
    assert_eq!(
        f.info_line(),
        "calls=2,usec=15,usec_per_call=7.70,rejected_calls=0,failed_calls=0"
    );
    assert_eq!(f.latency_line(), "p50=5.000,p99=10.000,p99.9=10.000");
    let b = f.export_buckets();
    assert_eq!(b.len(), EXPORT_BOUNDS_NS.len() + 1);
    assert_eq!(b[2], (5e-6, 1));
    assert_eq!(b[3], (1e-5, 1));
    assert_eq!(b.last(), Some(&(f64::MAX, 0)));
    assert_eq!(b.iter().map(|x| x.1).sum::<u64>(), 2);
}

#[test]
fn calls_failed_and_rejected_as_redis_counts_them() {
    let t = TestCtx::new();
    t.run(&["SET", "a", "1"]);
    t.run(&["GET", "a"]);
    t.run(&["LPUSH", "l", "x"]);
    // WRONGTYPE: ran and failed.
    assert!(t.run(&["GET", "l"]).starts_with("-WRONGTYPE"));
    // Wrong arity: rejected, not a call.
    assert!(t.run(&["GET"]).starts_with("-ERR wrong number"));
    // Unknown commands count nowhere.
    t.run(&["NOSUCH", "x"]);
    assert_eq!(cfr(&t, "get"), (2, 1, 1));
    assert_eq!(cfr(&t, "set"), (1, 0, 0));
    assert_eq!(cfr(&t, "lpush"), (1, 0, 0));
    assert_eq!(cfr(&t, "nosuch"), (0, 0, 0));
    let s = stats(&t);
    assert!(
        s.keys().all(|k| ["get", "set", "lpush"].contains(k)),
        "{s:?}"
    );
    let get = &s["get"];
    assert_eq!(get.raw.hist.iter().sum::<u64>(), 2);
    assert!(get.raw.nanos > 0);
}

#[test]
fn subcommands_count_apart() {
    let t = TestCtx::new();
    t.run(&["CLIENT", "LIST"]);
    t.run(&["client", "list"]);
    t.run(&["CONFIG", "GET", "maxmemory"]);
    // Wrong arity of a subcommand: rejected on the subcommand (Redis 7.0.15).
    assert!(t
        .run(&["CLIENT", "SETNAME"])
        .starts_with("-ERR wrong number"));
    // Unknown subcommand: counted nowhere (Redis has no command to count it under).
    assert!(t
        .run(&["CLIENT", "NOSUCH"])
        .starts_with("-ERR unknown subcommand"));
    // A container alone counts under its own name.
    t.run(&["COMMAND"]);
    assert_eq!(cfr(&t, "client|list"), (2, 0, 0));
    assert_eq!(cfr(&t, "config|get"), (1, 0, 0));
    assert_eq!(cfr(&t, "client|setname"), (0, 0, 1));
    assert_eq!(cfr(&t, "client"), (0, 0, 0));
    assert_eq!(cfr(&t, "command"), (1, 0, 0));
    let r = t.run(&["INFO", "commandstats"]);
    assert!(
        r.contains("cmdstat_client|setname:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n"),
        "{r}"
    );
    // Latency only for commands that ran.
    let r = t.run(&["INFO", "latencystats"]);
    assert!(
        r.contains("latency_percentiles_usec_client|list:p50="),
        "{r}"
    );
    assert!(!r.contains("client|setname"), "{r}");
}

#[test]
fn exec_counts_itself_and_each_queued_command() {
    let t = TestCtx::new();
    t.run(&["LPUSH", "l", "x"]);
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["SET", "x", "1"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["GET", "l"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["INCR", "x"]), "+QUEUED\r\n");
    t.run(&["EXEC"]);
    // Queueing is not a call; running inside EXEC is (GET failed there with WRONGTYPE).
    assert_eq!(cfr(&t, "multi"), (1, 0, 0));
    assert_eq!(cfr(&t, "exec"), (1, 0, 0));
    assert_eq!(cfr(&t, "set"), (1, 0, 0));
    assert_eq!(cfr(&t, "get"), (1, 1, 0));
    assert_eq!(cfr(&t, "incr"), (1, 0, 0));
    // A command refused while queueing is rejected; EXEC then fails with EXECABORT.
    t.run(&["MULTI"]);
    assert!(t.run(&["GET"]).starts_with("-ERR wrong number"));
    assert!(t.run(&["EXEC"]).starts_with("-EXECABORT"));
    assert_eq!(cfr(&t, "get"), (1, 1, 1));
    assert_eq!(cfr(&t, "exec"), (2, 1, 0));
    // EXEC without MULTI ran and failed.
    assert!(t.run(&["EXEC"]).starts_with("-ERR EXEC without MULTI"));
    assert_eq!(cfr(&t, "exec"), (3, 2, 0));
}

#[test]
fn noauth_and_oom_are_rejections() {
    let t = TestCtx::new();
    t.run(&["CONFIG", "SET", "requirepass", "pw"]);
    t.sess.lock().authenticated = false;
    assert!(t.run(&["GET", "a"]).starts_with("-NOAUTH"));
    assert_eq!(cfr(&t, "get"), (0, 0, 1));
    assert!(t.run(&["AUTH", "wrong"]).starts_with("-WRONGPASS"));
    assert_eq!(cfr(&t, "auth"), (1, 1, 0));
    assert_eq!(t.run(&["AUTH", "pw"]), "+OK\r\n");
    t.run(&["CONFIG", "SET", "maxmemory", "1"]);
    t.run(&["SET", "k", "v"]);
    assert!(t.run(&["SET", "k2", "v"]).starts_with("-OOM"));
    let (calls, _, rejected) = cfr(&t, "set");
    assert!(rejected >= 1, "{calls} {rejected}");
}

#[test]
fn script_errors_are_failures_and_script_calls_count() {
    let t = TestCtx::new();
    t.run(&["EVAL", "return redis.call('set','y','2')", "0"]);
    assert!(t
        .run(&["EVAL", "return redis.error_reply('boom')", "0"])
        .starts_with("-ERR boom"));
    assert_eq!(cfr(&t, "eval"), (2, 1, 0));
    assert_eq!(cfr(&t, "set"), (1, 0, 0));
}

#[test]
fn resetstat_starts_over() {
    let t = TestCtx::new();
    for _ in 0..5 {
        t.run(&["SET", "a", "1"]);
    }
    t.run(&["GET"]);
    assert_eq!(cfr(&t, "set"), (5, 0, 0));
    assert_eq!(t.run(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    // RESETSTAT itself counts after the reset, as in Redis.
    let s = stats(&t);
    assert_eq!(s.keys().copied().collect::<Vec<_>>(), ["config|resetstat"]);
    assert_eq!(s["config|resetstat"].calls(), 1);
    t.run(&["SET", "a", "1"]);
    let s = stats(&t);
    assert_eq!(s["set"].calls(), 1);
    assert_eq!(s["set"].raw.hist.iter().sum::<u64>(), 1);
    assert!(!t.run(&["INFO", "commandstats"]).contains("cmdstat_get"));
}

#[test]
fn threads_sum_and_survive_their_end() {
    let t = std::sync::Arc::new(TestCtx::new());
    t.run(&["SET", "a", "1"]);
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut sess = t.new_session();
                for _ in 0..100 {
                    t.run_as(&mut sess, &["GET", "a"]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // The threads ended: their counts moved to `retired`, their blocks are gone.
    assert_eq!(t.srv.stats.cmdstats.live_threads(), 1);
    assert_eq!(cfr(&t, "get"), (300, 0, 0));
    assert_eq!(cfr(&t, "set"), (1, 0, 0));
    // A reset covers retired threads too.
    t.srv.stats.cmdstats.reset();
    assert_eq!(cfr(&t, "get"), (0, 0, 0));
}

#[test]
fn servers_in_one_thread_count_apart() {
    let a = TestCtx::new();
    let b = TestCtx::with_settings(Settings::default());
    a.run(&["PING"]);
    b.run(&["PING"]);
    b.run(&["PING"]);
    a.run(&["PING"]);
    a.run(&["PING"]);
    assert_eq!(cfr(&a, "ping"), (3, 0, 0));
    assert_eq!(cfr(&b, "ping"), (2, 0, 0));
    drop(b);
    let c = TestCtx::new();
    c.run(&["PING"]);
    assert_eq!(cfr(&c, "ping"), (1, 0, 0));
    assert_eq!(cfr(&a, "ping"), (3, 0, 0));
}

/// `latency-tracking` and `latency-tracking-info-percentiles` shape INFO latencystats as in
/// Redis 7.0 (field names checked against 7.0.15).
#[test]
fn latencystats_follow_the_latency_tracking_settings() {
    let t = TestCtx::new();
    t.run(&["PING"]);
    let r = t.run(&["INFO", "latencystats"]);
    assert!(r.contains("latency_percentiles_usec_ping:p50="), "{r}");
    assert!(r.contains(",p99.9="), "{r}");
    t.run(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "0 100 12.3456789",
    ]);
    let r = t.run(&["INFO", "latencystats"]);
    assert!(
        r.contains("latency_percentiles_usec_ping:p0=")
            && r.contains(",p100=")
            && r.contains(",p12.345679="),
        "{r}"
    );
    t.run(&["CONFIG", "SET", "latency-tracking-info-percentiles", ""]);
    let r = t.run(&["INFO", "latencystats"]);
    assert!(r.contains("latency_percentiles_usec_ping:\r\n"), "{r}");
    t.run(&["CONFIG", "SET", "latency-tracking", "no"]);
    let r = t.run(&["INFO", "latencystats"]);
    assert!(!r.contains("latency_percentiles_usec_"), "{r}");
    assert!(r.contains("# Latencystats"), "{r}");
}
