//! A script that runs past `busy-reply-threshold`, seen by other clients as Redis 7 shows it:
//! a command refused with BUSY inside MULTI poisons the transaction, EXEC itself during BUSY
//! answers EXECABORT and leaves MULTI, only SHUTDOWN NOSAVE stops the server (plain SHUTDOWN
//! is BUSY), and SHUTDOWN NOSAVE, SIGTERM and SIGINT end the real process promptly even while
//! a script loops for ever, written or not.

use std::time::{Duration, Instant};
use testkit::{wait_for, RawConn, RcacheProcess, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");
const BUSY: &str =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

/// Start `script` (EVAL, no keys) on a connection of its own; returns that connection, whose
/// reply the caller may read once the script ends.
fn start_script(addr: std::net::SocketAddr, script: &str) -> RawConn {
    let mut runner = RawConn::connect(addr);
    runner.send_cmd(&["EVAL", script, "0"]);
    runner
}

/// Wait until `c` is answered BUSY (the script has run past the threshold).
fn wait_busy(c: &mut RawConn) {
    wait_for("BUSY", Duration::from_secs(10), || {
        (c.request(&["PING"]) == BUSY).then_some(())
    });
}

#[test]
fn a_command_refused_busy_inside_multi_poisons_the_transaction() {
    let srv = TestServer::start();
    let mut b = srv.raw();
    assert_eq!(
        b.request(&["CONFIG", "SET", "busy-reply-threshold", "10"]),
        "+OK\r\n"
    );
    assert_eq!(b.request(&["SET", "xx", "1"]), "+OK\r\n");
    let mut runner = start_script(srv.addr(), "while true do end");
    wait_busy(&mut b);

    assert_eq!(
        b.request(&["MULTI"]),
        "+OK\r\n",
        "MULTI is allowed while busy"
    );
    assert_eq!(b.request(&["INCR", "xx"]), BUSY);
    let mut admin = srv.raw();
    assert_eq!(admin.request(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert!(runner.reply().contains("Script killed by user"));
    // The script is gone: the next command queues, but the transaction is poisoned.
    wait_for("the gate", Duration::from_secs(10), || {
        let r = b.request(&["INCR", "xx"]);
        (r == "+QUEUED\r\n").then_some(())
    });
    assert_eq!(
        b.request(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(b.request(&["GET", "xx"]), "$1\r\n1\r\n", "nothing ran");
}

#[test]
fn exec_during_busy_answers_execabort_and_leaves_multi() {
    let srv = TestServer::start();
    let mut b = srv.raw();
    assert_eq!(
        b.request(&["CONFIG", "SET", "busy-reply-threshold", "10"]),
        "+OK\r\n"
    );
    assert_eq!(b.request(&["MULTI"]), "+OK\r\n");
    assert_eq!(b.request(&["INCR", "yy"]), "+QUEUED\r\n");
    let mut runner = start_script(srv.addr(), "while true do end");
    let mut probe = srv.raw();
    wait_busy(&mut probe);
    assert_eq!(
        b.request(&["EXEC"]),
        "-EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. \
         You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    // Out of MULTI: the next command is refused BUSY, not queued.
    assert_eq!(b.request(&["INCR", "yy"]), BUSY);
    assert_eq!(probe.request(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert!(runner.reply().contains("Script killed by user"));
    wait_for("the gate", Duration::from_secs(10), || {
        (b.request(&["GET", "yy"]) == "$-1\r\n").then_some(())
    });
    assert_eq!(b.request(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
}

/// How a test stops the server while the script loops.
#[derive(Clone, Copy, Debug)]
enum Stop {
    ShutdownNosave,
    Sigterm,
    Sigint,
}

fn stops_promptly(script: &str, stop: Stop) {
    let p = RcacheProcess::builder(BIN).start();
    let mut c = p.raw();
    assert_eq!(
        c.request(&["CONFIG", "SET", "busy-reply-threshold", "10"]),
        "+OK\r\n"
    );
    let mut runner = start_script(p.addr(), script);
    wait_busy(&mut c);
    // Plain SHUTDOWN (and NOW) are refused while busy, as in Redis: only NOSAVE stops.
    assert_eq!(c.request(&["SHUTDOWN"]), BUSY);
    assert_eq!(c.request(&["SHUTDOWN", "NOW"]), BUSY);
    assert!(
        p.try_wait().is_none(),
        "still running after a refused SHUTDOWN"
    );
    let asked = Instant::now();
    match stop {
        Stop::ShutdownNosave => c.send_cmd(&["SHUTDOWN", "NOSAVE"]),
        Stop::Sigterm => p.sigterm(),
        Stop::Sigint => p.sigint(),
    }
    let status = p
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{stop:?} during a busy script: the process did not exit"));
    assert!(status.success(), "{stop:?}: exit status {status:?}");
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "{stop:?} took {took:?}");
    // The script's client learns why, or sees the connection close.
    let _ = runner.read_until_closed(Duration::from_secs(5));
}

#[test]
fn shutdown_nosave_stops_a_busy_script_and_exits() {
    stops_promptly("while true do end", Stop::ShutdownNosave);
}

#[test]
fn shutdown_nosave_stops_a_script_that_wrote() {
    // SCRIPT KILL refuses such a script (UNKILLABLE); SHUTDOWN NOSAVE still stops it.
    stops_promptly(
        "redis.call('set', 'w', '1') while true do end",
        Stop::ShutdownNosave,
    );
}

#[test]
fn sigterm_ends_the_process_during_a_busy_script() {
    stops_promptly(
        "redis.call('set', 'w', '1') while true do end",
        Stop::Sigterm,
    );
}

#[test]
fn sigint_ends_the_process_during_a_busy_script() {
    stops_promptly("while true do end", Stop::Sigint);
}

#[test]
fn sigterm_during_a_script_that_wrote_takes_no_half_snapshot() {
    let dir = testkit::TempDir::new("rcache-busy");
    let p = RcacheProcess::builder(BIN)
        .args([
            "--dir",
            &dir.path().display().to_string(),
            "--save",
            "3600 1",
        ])
        .start();
    let mut c = p.raw();
    assert_eq!(c.request(&["SET", "before", "1"]), "+OK\r\n");
    assert_eq!(c.request(&["SAVE"]), "+OK\r\n");
    let snapshot = dir.path().join("dump.rcsnap");
    let saved = std::fs::read(&snapshot).unwrap();
    assert_eq!(
        c.request(&["CONFIG", "SET", "busy-reply-threshold", "10"]),
        "+OK\r\n"
    );
    let _runner = start_script(p.addr(), "redis.call('set', 'half', '1') while true do end");
    wait_busy(&mut c);
    p.sigterm();
    let status = p.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
    // The policy would have saved at SIGTERM; with a script cut in the middle it must not.
    assert_eq!(
        std::fs::read(&snapshot).unwrap(),
        saved,
        "a snapshot with half a script"
    );
}
