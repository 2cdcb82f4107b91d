//! Stream commands run in-process with a manual clock: `*` IDs from the clock (and never
//! backwards), idle times for XPENDING/XCLAIM/XAUTOCLAIM/XINFO, memory accounting, OOM,
//! WATCH, MULTI. Replies are compared with Redis 7.0's in crates/rcache/tests/stream.rs.

use crate::testing::TestCtx;

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

#[test]
fn star_ids_follow_the_clock_and_never_go_back() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["XADD", "s", "*", "f", "v"]),
        bulk("1700000000000-0")
    );
    assert_eq!(
        t.run(&["XADD", "s", "*", "f", "v"]),
        bulk("1700000000000-1")
    );
    t.clock.advance(5);
    assert_eq!(
        t.run(&["XADD", "s", "*", "f", "v"]),
        bulk("1700000000005-0")
    );
    // The clock steps back: IDs keep growing from the last one.
    t.clock.set(1_600_000_000_000);
    assert_eq!(
        t.run(&["XADD", "s", "*", "f", "v"]),
        bulk("1700000000005-1")
    );
    assert_eq!(
        t.run(&["XADD", "s", "1700000000005-*", "f", "v"]),
        bulk("1700000000005-2")
    );
    assert_eq!(
        t.run(&["XADD", "s", "1800000000000-*", "f", "v"]),
        bulk("1800000000000-0")
    );
    assert_eq!(t.run(&["XLEN", "s"]), ":6\r\n");
}

#[test]
fn idle_times_come_from_the_clock() {
    let t = TestCtx::new();
    for id in ["1-1", "1-2", "1-3"] {
        t.run(&["XADD", "s", id, "f", "v"]);
    }
    t.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    t.run(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"]);
    t.clock.advance(5000);
    assert_eq!(
        t.run(&["XPENDING", "s", "g", "-", "+", "1"]),
        "*1\r\n*4\r\n$3\r\n1-1\r\n$1\r\na\r\n:5000\r\n:1\r\n"
    );
    assert_eq!(
        t.run(&["XPENDING", "s", "g", "IDLE", "5001", "-", "+", "9"]),
        "*0\r\n"
    );
    // Not idle long enough: nothing claimed; long enough: claimed, idle back to 0.
    assert_eq!(
        t.run(&["XCLAIM", "s", "g", "b", "6000", "1-1", "JUSTID"]),
        "*0\r\n"
    );
    assert_eq!(
        t.run(&["XCLAIM", "s", "g", "b", "5000", "1-1", "JUSTID"]),
        format!("*1\r\n{}", bulk("1-1"))
    );
    assert_eq!(
        t.run(&["XPENDING", "s", "g", "-", "+", "1"]),
        "*1\r\n*4\r\n$3\r\n1-1\r\n$1\r\nb\r\n:0\r\n:1\r\n"
    );
    // IDLE sets the delivery time in the past; XAUTOCLAIM then finds it.
    t.run(&["XCLAIM", "s", "g", "b", "0", "1-2", "IDLE", "9000"]);
    let r = t.run(&[
        "XAUTOCLAIM",
        "s",
        "g",
        "c",
        "8000",
        "0",
        "COUNT",
        "1",
        "JUSTID",
    ]);
    assert_eq!(
        r,
        format!("*3\r\n{}*1\r\n{}*0\r\n", bulk("1-3"), bulk("1-2"))
    );
    let r = t.run(&["XINFO", "CONSUMERS", "s", "g"]);
    assert!(
        r.contains("$1\r\nc\r\n$7\r\npending\r\n:1\r\n$4\r\nidle\r\n:0\r\n"),
        "{r}"
    );
    assert!(
        r.contains("$1\r\na\r\n$7\r\npending\r\n:1\r\n$4\r\nidle\r\n:5000\r\n"),
        "{r}"
    );
}

#[test]
fn memory_is_accounted_and_given_back() {
    let t = TestCtx::new();
    let used = || t.srv.ks.used_memory();
    let base = used();
    for i in 1..=10_000 {
        let id = format!("{i}-0");
        t.run(&["XADD", "s", &id, "name", "alice", "n", &i.to_string()]);
    }
    let full = used();
    assert!(full > base + 10_000 * 10, "{base} → {full}");
    assert!(
        full < base + 10_000 * 60,
        "packed blocks, not an allocation per entry: {base} → {full}"
    );
    let usage = t.run(&["MEMORY", "USAGE", "s"]);
    let n: u64 = usage.trim_start_matches(':').trim().parse().unwrap();
    assert!(n > 100_000, "{usage}");
    t.run(&["XTRIM", "s", "MAXLEN", "100"]);
    assert!(used() < base + (full - base) / 10, "trimming frees blocks");
    t.run(&["DEL", "s"]);
    assert_eq!(used(), base);
}

#[test]
fn out_of_memory_refuses_xadd_and_group_creation() {
    let t = TestCtx::new();
    t.run(&["XADD", "s", "1-1", "f", "v"]);
    t.run(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    t.run(&["CONFIG", "SET", "maxmemory", "1"]);
    let r = t.run(&["XADD", "s", "2-1", "f", "v"]);
    assert!(r.starts_with("-OOM"), "{r}");
    let r = t.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    assert!(r.starts_with("-OOM"), "{r}");
    // Reads and removals still work.
    assert_eq!(t.run(&["XLEN", "s"]), ":1\r\n");
    assert_eq!(t.run(&["XDEL", "s", "1-1"]), ":1\r\n");
    t.run(&["CONFIG", "SET", "maxmemory", "0"]);
}

#[test]
fn watch_sees_stream_writes_and_group_reads() {
    let t = TestCtx::new();
    t.run(&["XADD", "s", "1-1", "f", "v"]);
    t.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    for write in [
        &["XADD", "s", "*", "f", "v"][..],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"][..],
        &["XGROUP", "CREATECONSUMER", "s", "g", "new"][..],
    ] {
        t.run(&["WATCH", "s"]);
        let other = TestCtx::register(&t.srv);
        let mut sess = other;
        let mut out = Vec::new();
        let owned = protocol::args::OwnedArgs::new(write.iter().map(|s| s.as_bytes()));
        crate::execute(&t.srv, &mut sess, owned.args(), &mut out);
        t.run(&["MULTI"]);
        t.run(&["XLEN", "s"]);
        assert_eq!(t.run(&["EXEC"]), "*-1\r\n", "after {write:?}");
    }
    // A read changes nothing: the transaction runs.
    t.run(&["WATCH", "s"]);
    t.run(&["XRANGE", "s", "-", "+"]);
    t.run(&["MULTI"]);
    t.run(&["XLEN", "s"]);
    assert_eq!(t.run(&["EXEC"]), "*1\r\n:2\r\n");
}

#[test]
fn an_empty_stream_stays() {
    let t = TestCtx::new();
    t.run(&["XADD", "s", "5-5", "f", "v"]);
    assert_eq!(t.run(&["XDEL", "s", "5-5"]), ":1\r\n");
    assert_eq!(t.run(&["EXISTS", "s"]), ":1\r\n");
    assert_eq!(t.run(&["XLEN", "s"]), ":0\r\n");
    // The last ID is remembered: no going back.
    assert!(t
        .run(&["XADD", "s", "5-5", "f", "v"])
        .starts_with("-ERR The ID specified"));
    t.run(&["XADD", "e", "MAXLEN", "0", "1-1", "f", "v"]);
    assert_eq!(t.run(&["TYPE", "e"]), "+stream\r\n");
    let r = t.run(&["SCAN", "0", "TYPE", "stream"]);
    assert!(
        r.contains("$1\r\ns\r\n") && r.contains("$1\r\ne\r\n"),
        "{r}"
    );
}
