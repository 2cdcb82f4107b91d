//! MULTI/EXEC/DISCARD/WATCH/UNWATCH, replies checked against Redis 7.0.

use crate::config::Settings;
use crate::testing::TestCtx;

const ABORT: &str = "-EXECABORT Transaction discarded because of previous errors.\r\n";

#[test]
fn multi_queues_and_exec_runs_in_order() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["INCR", "a"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["GET", "a"]), "+QUEUED\r\n");
    // Nothing ran yet.
    assert_eq!(
        t.sess
            .lock()
            .handle
            .multi
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert_eq!(t.run(&["EXEC"]), "*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n");
    assert_eq!(t.run(&["GET", "a"]), "$1\r\n2\r\n");
    // An empty transaction.
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["EXEC"]), "*0\r\n");
    assert!(t.sess.lock().multi.is_none());
}

#[test]
fn state_errors_use_redis_words() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(t.run(&["DISCARD"]), "-ERR DISCARD without MULTI\r\n");
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["MULTI"]), "-ERR MULTI calls can not be nested\r\n");
    assert_eq!(
        t.run(&["WATCH", "x"]),
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    // Neither error flags the transaction, as in Redis.
    assert_eq!(t.run(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["SET", "a", "2"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["DISCARD"]), "+OK\r\n");
    assert_eq!(t.run(&["GET", "a"]), "$1\r\n1\r\n");
}

#[test]
fn queueing_errors_abort_exec() {
    let t = TestCtx::new();
    for bad in [
        &["SET", "a"][..],
        &["NOSUCH", "x"],
        &["CONFIG", "GET"],
        &["CONFIG", "FOO"],
        &["SHUTDOWN"],
    ] {
        assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
        assert_eq!(t.run(&["SET", "a", "1"]), "+QUEUED\r\n");
        let r = t.run(bad);
        assert!(r.starts_with("-ERR "), "{bad:?}: {r}");
        assert_eq!(t.run(&["EXEC"]), ABORT, "{bad:?}");
        assert!(t.sess.lock().multi.is_none());
    }
    assert_eq!(t.run(&["GET", "a"]), "$-1\r\n", "nothing ran");
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        t.run(&["CONFIG", "GET"]),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_eq!(
        t.run(&["CONFIG", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"
    );
    assert_eq!(
        t.run(&["SHUTDOWN"]),
        "-ERR Command not allowed inside a transaction\r\n"
    );
    assert_eq!(t.run(&["DISCARD"]), "+OK\r\n");
    // A refused EXEC discards the transaction at once.
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        t.run(&["EXEC", "x"]),
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
    );
    assert_eq!(t.run(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
}

#[test]
fn runtime_errors_keep_the_other_commands() {
    let t = TestCtx::new();
    t.run(&["SET", "s", "text"]);
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["INCR", "s"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["SET", "b", "1"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["SET", "c", "1", "EX", "0"]), "+QUEUED\r\n");
    assert_eq!(
        t.run(&["EXEC"]),
        "*3\r\n-ERR value is not an integer or out of range\r\n+OK\r\n-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(t.run(&["GET", "b"]), "$1\r\n1\r\n");
}

#[test]
fn queueing_over_maxmemory_is_refused() {
    let s = Settings::default();
    s.set("maxmemory", "1", true).unwrap();
    let t = TestCtx::with_settings(s);
    assert_eq!(t.run(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    // Even a read: queueing takes memory.
    assert_eq!(
        t.run(&["GET", "k"]),
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(t.run(&["EXEC"]), ABORT);
}

#[test]
fn resp3_exec_and_null_on_watch() {
    let t = TestCtx::new();
    t.resp3();
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["GET", "nope"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["EXEC"]), "*2\r\n+OK\r\n_\r\n");
    assert_eq!(t.run(&["WATCH", "a"]), "+OK\r\n");
    t.run(&["SET", "a", "2"]);
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["EXEC"]), "_\r\n");
}

#[test]
fn watch_sees_another_clients_write() {
    let t = TestCtx::new();
    let mut other = t.new_session();
    t.run(&["SET", "k", "1"]);
    assert_eq!(t.run(&["WATCH", "k"]), "+OK\r\n");
    assert_eq!(t.run_as(&mut other, &["INCR", "k"]), ":2\r\n");
    assert_eq!(t.run(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.run(&["SET", "k", "mine"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["EXEC"]), "*-1\r\n");
    assert_eq!(t.run(&["GET", "k"]), "$1\r\n2\r\n");
    // EXEC forgot the watch: the next transaction runs.
    assert!(t.srv.ks.watches.is_empty());
    t.run_as(&mut other, &["INCR", "k"]);
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["EXEC"]), "*0\r\n");
}

#[test]
fn watch_without_change_runs_and_writes_after_multi_do_not_count() {
    let t = TestCtx::new();
    let mut other = t.new_session();
    t.run(&["SET", "k", "1"]);
    // Watching a key in another database is another key.
    t.run(&["WATCH", "k", "k", "missing"]);
    assert_eq!(t.srv.ks.watches.len(), 2, "WATCH k k registers k once");
    t.run_as(&mut other, &["SELECT", "1"]);
    t.run_as(&mut other, &["SET", "k", "x"]);
    t.run_as(&mut other, &["DEL", "missing"]);
    t.run(&["MULTI"]);
    t.run(&["SET", "k", "2"]);
    assert_eq!(t.run(&["EXEC"]), "*1\r\n+OK\r\n");
}

#[test]
fn watch_sees_the_clients_own_write_before_multi() {
    let t = TestCtx::new();
    t.run(&["WATCH", "k"]);
    t.run(&["SET", "k", "1"]);
    t.run(&["MULTI"]);
    t.run(&["GET", "k"]);
    assert_eq!(t.run(&["EXEC"]), "*-1\r\n");
}

#[test]
fn watched_key_expiring_aborts_but_an_already_expired_one_does_not() {
    let t = TestCtx::new();
    t.run(&["SET", "k", "v", "PX", "100"]);
    t.run(&["WATCH", "k"]);
    t.advance_ms(100);
    t.run(&["MULTI"]);
    t.run(&["PING"]);
    assert_eq!(t.run(&["EXEC"]), "*-1\r\n");

    // Already expired when watched: its removal is no change.
    t.run(&["SET", "k", "v", "PX", "100"]);
    t.advance_ms(100);
    t.run(&["WATCH", "k"]);
    t.run(&["MULTI"]);
    t.run(&["PING"]);
    assert_eq!(t.run(&["EXEC"]), "*1\r\n+PONG\r\n");
}

#[test]
fn flush_and_swapdb_abort_watchers() {
    let t = TestCtx::new();
    let mut other = t.new_session();
    for cmd in [&["FLUSHDB"][..], &["FLUSHALL"], &["SWAPDB", "0", "1"]] {
        t.run(&["SET", "k", "v"]);
        t.run(&["WATCH", "k"]);
        t.run_as(&mut other, cmd);
        t.run(&["MULTI"]);
        assert_eq!(t.run(&["EXEC"]), "*-1\r\n", "{cmd:?}");
        t.run(&["FLUSHALL"]);
    }
    // A flush of a database without the key changes nothing.
    t.run(&["SET", "k", "v"]);
    t.run(&["WATCH", "k"]);
    t.run_as(&mut other, &["SELECT", "2"]);
    t.run_as(&mut other, &["FLUSHDB"]);
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["EXEC"]), "*0\r\n");
}

#[test]
fn discard_and_unwatch_forget_the_watch() {
    let t = TestCtx::new();
    let mut other = t.new_session();
    t.run(&["WATCH", "k"]);
    t.run_as(&mut other, &["SET", "k", "1"]);
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["DISCARD"]), "+OK\r\n");
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["EXEC"]), "*0\r\n");

    t.run(&["WATCH", "k"]);
    t.run_as(&mut other, &["SET", "k", "2"]);
    assert_eq!(t.run(&["UNWATCH"]), "+OK\r\n");
    assert!(t.srv.ks.watches.is_empty());
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["EXEC"]), "*0\r\n");

    // EXECABORT forgets the watch too.
    t.run(&["WATCH", "k"]);
    t.run(&["MULTI"]);
    t.run(&["NOSUCH"]);
    assert_eq!(t.run(&["EXEC"]), ABORT);
    assert!(t.srv.ks.watches.is_empty());
}

#[test]
fn a_closed_session_leaves_no_watch_behind() {
    let t = TestCtx::new();
    let mut other = t.new_session();
    t.run_as(&mut other, &["WATCH", "a", "b", "c"]);
    t.run_as(&mut other, &["MULTI"]);
    assert_eq!(t.srv.ks.watches.len(), 3);
    drop(other);
    assert!(t.srv.ks.watches.is_empty());
}

#[test]
fn client_list_shows_multi() {
    let t = TestCtx::new();
    t.run(&["MULTI"]);
    t.run(&["SET", "a", "1"]);
    t.run(&["SET", "a", "1"]);
    let h = t.sess.lock().handle.clone();
    let line = h.info_line();
    assert!(line.contains(" flags=x "), "{line}");
    assert!(line.contains(" multi=2 "), "{line}");
    t.run(&["DISCARD"]);
    assert!(h.info_line().contains(" multi=-1 "));
}

#[test]
fn in_exec_is_set_only_while_exec_runs() {
    let t = TestCtx::new();
    t.run(&["MULTI"]);
    t.run(&["PING"]);
    t.run(&["EXEC"]);
    assert!(!t.sess.lock().in_exec);
}
