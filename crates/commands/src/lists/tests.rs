//! Tests of the list family and of the blocking machinery (in-process: a blocked session's
//! waiter is inspected directly instead of parking a connection).

use crate::blocking::Finish;
use crate::clients::Session;
use crate::testing::TestCtx;

const NIL: &str = "$-1\r\n";
const NIL_ARR: &str = "*-1\r\n";
const OK: &str = "+OK\r\n";
const WT: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";

fn arr(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s += &format!("${}\r\n{}\r\n", i.len(), i);
    }
    s
}

#[test]
fn push_pop_and_nil_shapes() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["RPUSH", "l", "a", "b", "c"]), ":3\r\n");
    assert_eq!(t.run(&["LPUSH", "l", "x", "y"]), ":5\r\n");
    assert_eq!(
        t.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["y", "x", "a", "b", "c"])
    );
    assert_eq!(t.run(&["LPOP", "l"]), "$1\r\ny\r\n");
    assert_eq!(t.run(&["RPOP", "l", "2"]), arr(&["c", "b"]));
    assert_eq!(t.run(&["LPOP", "l", "0"]), "*0\r\n");
    assert_eq!(t.run(&["LPOP", "l", "10"]), arr(&["x", "a"]));
    assert_eq!(t.run(&["EXISTS", "l"]), ":0\r\n");
    assert_eq!(t.run(&["LPOP", "l"]), NIL);
    assert_eq!(t.run(&["LPOP", "l", "1"]), NIL_ARR);
    assert_eq!(t.run(&["LPOP", "l", "0"]), NIL_ARR);
    assert_eq!(
        t.run(&["LPOP", "l", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        t.run(&["LPOP", "l", "1", "2"]),
        "-ERR wrong number of arguments for 'lpop' command\r\n"
    );
    assert_eq!(t.run(&["LPUSHX", "l", "a"]), ":0\r\n");
    assert_eq!(t.run(&["RPUSH", "l", "a"]), ":1\r\n");
    assert_eq!(t.run(&["RPUSHX", "l", "b", "c"]), ":3\r\n");
    assert_eq!(t.run(&["LPUSHX", "l", "z"]), ":4\r\n");
    assert_eq!(t.run(&["LLEN", "l"]), ":4\r\n");
    assert_eq!(t.run(&["LLEN", "nx"]), ":0\r\n");
    t.resp3();
    assert_eq!(t.run(&["LPOP", "nx"]), "_\r\n");
    assert_eq!(t.run(&["LPOP", "nx", "2"]), "_\r\n");
    assert_eq!(t.run(&["LMPOP", "1", "nx", "LEFT"]), "_\r\n");
}

#[test]
fn wrong_type_everywhere() {
    let t = TestCtx::new();
    t.run(&["SET", "s", "x"]);
    for cmd in [
        &["LPUSH", "s", "a"][..],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["LPOP", "s", "0"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "x", "x"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "2", "nx", "s", "LEFT"],
        &["BLPOP", "nx", "s", "0"],
    ] {
        assert_eq!(t.run(cmd), WT, "{cmd:?}");
    }
    t.run(&["RPUSH", "l", "a"]);
    assert_eq!(t.run(&["LMOVE", "l", "s", "LEFT", "LEFT"]), WT);
    assert_eq!(t.run(&["LRANGE", "l", "0", "-1"]), arr(&["a"]));
}

#[test]
fn index_range_set_insert() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "l", "a", "b", "c", "d"]);
    assert_eq!(t.run(&["LINDEX", "l", "0"]), "$1\r\na\r\n");
    assert_eq!(t.run(&["LINDEX", "l", "-1"]), "$1\r\nd\r\n");
    assert_eq!(t.run(&["LINDEX", "l", "4"]), NIL);
    assert_eq!(t.run(&["LINDEX", "l", "-5"]), NIL);
    assert_eq!(t.run(&["LINDEX", "l", "x"]), NOT_INT);
    assert_eq!(t.run(&["LINDEX", "nx", "x"]), NIL);
    assert_eq!(t.run(&["LRANGE", "l", "1", "2"]), arr(&["b", "c"]));
    assert_eq!(
        t.run(&["LRANGE", "l", "-100", "100"]),
        arr(&["a", "b", "c", "d"])
    );
    assert_eq!(t.run(&["LRANGE", "l", "3", "1"]), "*0\r\n");
    assert_eq!(t.run(&["LRANGE", "nx", "0", "-1"]), "*0\r\n");
    assert_eq!(t.run(&["LRANGE", "nx", "a", "-1"]), NOT_INT);
    assert_eq!(t.run(&["LSET", "l", "1", "B"]), OK);
    assert_eq!(t.run(&["LSET", "l", "-1", "D"]), OK);
    assert_eq!(
        t.run(&["LSET", "l", "4", "x"]),
        "-ERR index out of range\r\n"
    );
    assert_eq!(t.run(&["LSET", "nx", "0", "x"]), "-ERR no such key\r\n");
    assert_eq!(t.run(&["LINSERT", "l", "BEFORE", "B", "x"]), ":5\r\n");
    assert_eq!(t.run(&["LINSERT", "l", "after", "D", "y"]), ":6\r\n");
    assert_eq!(t.run(&["LINSERT", "l", "after", "zz", "y"]), ":-1\r\n");
    assert_eq!(t.run(&["LINSERT", "nx", "after", "zz", "y"]), ":0\r\n");
    assert_eq!(t.run(&["LINSERT", "l", "middle", "a", "b"]), SYNTAX);
    assert_eq!(
        t.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["a", "x", "B", "c", "D", "y"])
    );
}

#[test]
fn rem_trim_pos() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "l", "a", "b", "a", "c", "a"]);
    assert_eq!(t.run(&["LREM", "l", "-1", "a"]), ":1\r\n");
    assert_eq!(
        t.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["a", "b", "a", "c"])
    );
    assert_eq!(t.run(&["LREM", "l", "1", "a"]), ":1\r\n");
    assert_eq!(t.run(&["LREM", "l", "0", "zz"]), ":0\r\n");
    assert_eq!(t.run(&["LREM", "nx", "0", "zz"]), ":0\r\n");
    assert_eq!(t.run(&["LREM", "l", "x", "a"]), NOT_INT);
    t.run(&["RPUSH", "l", "a", "a"]);
    // b a c a a
    assert_eq!(t.run(&["LPOS", "l", "a"]), ":1\r\n");
    assert_eq!(t.run(&["LPOS", "l", "a", "RANK", "2"]), ":3\r\n");
    assert_eq!(t.run(&["LPOS", "l", "a", "RANK", "-1"]), ":4\r\n");
    assert_eq!(
        t.run(&["LPOS", "l", "a", "COUNT", "0"]),
        "*3\r\n:1\r\n:3\r\n:4\r\n"
    );
    assert_eq!(
        t.run(&["LPOS", "l", "a", "COUNT", "2", "RANK", "-1"]),
        "*2\r\n:4\r\n:3\r\n"
    );
    assert_eq!(
        t.run(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "2"]),
        "*1\r\n:1\r\n"
    );
    assert_eq!(t.run(&["LPOS", "l", "zz"]), NIL);
    assert_eq!(t.run(&["LPOS", "l", "zz", "COUNT", "1"]), "*0\r\n");
    assert_eq!(t.run(&["LPOS", "nx", "zz", "COUNT", "1"]), "*0\r\n");
    assert_eq!(t.run(&["LPOS", "l", "a", "RANK"]), SYNTAX);
    assert_eq!(t.run(&["LPOS", "l", "a", "FOO", "1"]), SYNTAX);
    assert!(t
        .run(&["LPOS", "l", "a", "RANK", "0"])
        .starts_with("-ERR RANK can't be zero"));
    assert_eq!(
        t.run(&["LPOS", "l", "a", "COUNT", "-1"]),
        "-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        t.run(&["LPOS", "l", "a", "MAXLEN", "-1"]),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(
        t.run(&["LPOS", "l", "a", "COUNT", "x"]),
        "-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        t.run(&["LPOS", "l", "a", "MAXLEN", "x"]),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(t.run(&["LPOS", "l", "a", "RANK", "x"]), NOT_INT);
    assert_eq!(t.run(&["LTRIM", "l", "1", "-2"]), OK);
    assert_eq!(t.run(&["LRANGE", "l", "0", "-1"]), arr(&["a", "c", "a"]));
    assert_eq!(t.run(&["LTRIM", "l", "5", "10"]), OK);
    assert_eq!(t.run(&["EXISTS", "l"]), ":0\r\n");
    assert_eq!(t.run(&["LTRIM", "nx", "0", "1"]), OK);
    assert_eq!(t.run(&["LTRIM", "nx", "a", "1"]), NOT_INT);
    // Removing every element deletes the key.
    t.run(&["RPUSH", "m", "a", "a"]);
    assert_eq!(t.run(&["LREM", "m", "0", "a"]), ":2\r\n");
    assert_eq!(t.run(&["EXISTS", "m"]), ":0\r\n");
}

#[test]
fn moves_and_mpop() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "a", "1", "2", "3"]);
    assert_eq!(t.run(&["RPOPLPUSH", "a", "b"]), "$1\r\n3\r\n");
    assert_eq!(t.run(&["LMOVE", "a", "b", "LEFT", "RIGHT"]), "$1\r\n1\r\n");
    assert_eq!(t.run(&["LRANGE", "b", "0", "-1"]), arr(&["3", "1"]));
    assert_eq!(t.run(&["LMOVE", "a", "a", "LEFT", "RIGHT"]), "$1\r\n2\r\n");
    assert_eq!(t.run(&["LRANGE", "a", "0", "-1"]), arr(&["2"]));
    assert_eq!(t.run(&["LMOVE", "a", "b", "UP", "RIGHT"]), SYNTAX);
    assert_eq!(t.run(&["LMOVE", "nx", "b", "LEFT", "RIGHT"]), NIL);
    assert_eq!(t.run(&["RPOPLPUSH", "a", "c"]), "$1\r\n2\r\n");
    assert_eq!(t.run(&["EXISTS", "a"]), ":0\r\n");
    assert_eq!(
        t.run(&["LMPOP", "2", "nx", "b", "RIGHT", "COUNT", "5"]),
        "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n1\r\n$1\r\n3\r\n"
    );
    assert_eq!(t.run(&["LMPOP", "1", "b", "LEFT"]), NIL_ARR);
    let nk = "-ERR numkeys should be greater than 0\r\n";
    assert_eq!(t.run(&["LMPOP", "0", "b", "LEFT"]), nk);
    assert_eq!(t.run(&["LMPOP", "x", "b", "LEFT"]), nk);
    assert_eq!(t.run(&["LMPOP", "2", "b", "LEFT"]), SYNTAX);
    assert_eq!(t.run(&["LMPOP", "1", "b", "MIDDLE"]), SYNTAX);
    assert_eq!(t.run(&["LMPOP", "1", "b", "LEFT", "COUNT"]), SYNTAX);
    assert_eq!(
        t.run(&["LMPOP", "1", "b", "LEFT", "COUNT", "0"]),
        "-ERR count should be greater than 0\r\n"
    );
    assert_eq!(
        t.run(&["LMPOP", "1", "b", "LEFT", "COUNT", "1", "COUNT", "1"]),
        SYNTAX
    );
}

#[test]
fn encodings_and_conversion() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "l", "a", "b"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "l"]), "$8\r\nlistpack\r\n");
    assert_eq!(t.run(&["CONFIG", "SET", "list-max-listpack-size", "4"]), OK);
    t.run(&["RPUSH", "l", "c", "d", "e"]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "l"]), "$9\r\nquicklist\r\n");
    assert_eq!(
        t.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["a", "b", "c", "d", "e"])
    );
    // Big elements convert under a byte limit.
    assert_eq!(
        t.run(&["CONFIG", "SET", "list-max-listpack-size", "-1"]),
        OK
    );
    let big = "x".repeat(5000);
    t.run(&["RPUSH", "m", &big]);
    assert_eq!(t.run(&["OBJECT", "ENCODING", "m"]), "$9\r\nquicklist\r\n");
    // Memory accounting returns to its start once the lists are gone.
    t.run(&["DEL", "l", "m"]);
    assert_eq!(t.srv.ks.used_memory(), 0);
}

#[test]
fn timeout_parsing() {
    let t = TestCtx::new();
    let nf = "-ERR timeout is not a float or out of range\r\n";
    let neg = "-ERR timeout is negative\r\n";
    assert_eq!(t.run(&["BLPOP", "l", "abc"]), nf);
    assert_eq!(t.run(&["BLPOP", "l", "nan"]), nf);
    assert_eq!(t.run(&["BLPOP", "l", "-1"]), neg);
    assert_eq!(t.run(&["BLPOP", "l", "inf"]), neg);
    assert_eq!(t.run(&["BLPOP", "l", "9999999999999999"]), neg);
    assert_eq!(t.run(&["BRPOPLPUSH", "l", "d", "-0.5"]), neg);
    assert_eq!(t.run(&["BLMOVE", "l", "d", "UP", "LEFT", "x"]), SYNTAX);
    assert_eq!(t.run(&["BLMOVE", "l", "d", "LEFT", "LEFT", "x"]), nf);
    assert_eq!(t.run(&["BLMPOP", "x", "1", "l", "LEFT"]), nf);
    assert_eq!(
        t.run(&["BLMPOP", "0", "0", "l", "LEFT"]),
        "-ERR numkeys should be greater than 0\r\n"
    );
}

/// A second client's session and a helper to read its served reply.
fn reply_of(s: &mut Session) -> Option<String> {
    let w = s.blocked.as_ref()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        tokio::select! {
            biased;
            r = w.served() => Some(r),
            _ = std::future::ready(()) => None,
        }
    })?;
    s.blocked = None;
    Some(String::from_utf8_lossy(&r).into_owned())
}

#[test]
fn served_immediately_when_data_exists() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "b", "x"]);
    assert_eq!(t.run(&["BLPOP", "a", "b", "0"]), arr(&["b", "x"]));
    t.run(&["RPUSH", "b", "x", "y"]);
    assert_eq!(t.run(&["BRPOP", "a", "b", "0"]), arr(&["b", "y"]));
    assert_eq!(
        t.run(&["BLMOVE", "b", "c", "LEFT", "LEFT", "0"]),
        "$1\r\nx\r\n"
    );
    t.run(&["RPUSH", "b", "x", "y"]);
    assert_eq!(
        t.run(&["BLMPOP", "0", "1", "b", "LEFT", "COUNT", "9"]),
        "*2\r\n$1\r\nb\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
    assert!(t.sess.lock().blocked.is_none());
}

#[test]
fn push_wakes_blocked_client_fifo() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    let mut b = t.new_session();
    let mut c = t.new_session();
    assert_eq!(t.run_as(&mut a, &["BLPOP", "l", "0"]), "");
    assert_eq!(t.run_as(&mut b, &["BLPOP", "other", "l", "0"]), "");
    assert_eq!(t.run_as(&mut c, &["BRPOP", "l", "5"]), "");
    assert_eq!(t.srv.blocking.blocked_clients(), 3);
    assert!(t.run(&["INFO", "clients"]).contains("blocked_clients:3"));
    assert_eq!(reply_of(&mut a), None);
    // One element: only the first blocked client is served.
    assert_eq!(t.run(&["RPUSH", "l", "1"]), ":1\r\n");
    assert_eq!(reply_of(&mut a).unwrap(), arr(&["l", "1"]));
    assert_eq!(reply_of(&mut b), None);
    assert_eq!(t.run(&["EXISTS", "l"]), ":0\r\n");
    // Two elements: the next two, in the order they blocked.
    assert_eq!(t.run(&["RPUSH", "l", "2", "3"]), ":2\r\n");
    assert_eq!(reply_of(&mut b).unwrap(), arr(&["l", "2"]));
    assert_eq!(reply_of(&mut c).unwrap(), arr(&["l", "3"]));
    assert_eq!(t.srv.blocking.blocked_clients(), 0);
}

#[test]
fn timeout_and_disconnect_leave_nothing_behind() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    t.run_as(&mut a, &["BLPOP", "l", "1"]);
    let w = a.blocked.take().unwrap();
    assert_eq!(
        t.srv.blocking.finish(&w, Finish::Timeout).unwrap(),
        b"*-1\r\n"
    );
    let mut b = t.new_session();
    b.resp3 = true;
    t.run_as(&mut b, &["BLMOVE", "l", "d", "LEFT", "LEFT", "1"]);
    let w = b.blocked.take().unwrap();
    assert_eq!(
        t.srv.blocking.finish(&w, Finish::Timeout).unwrap(),
        b"_\r\n"
    );
    t.run_as(&mut a, &["BLPOP", "l", "0"]);
    let w = a.blocked.take().unwrap();
    assert_eq!(t.srv.blocking.finish(&w, Finish::Gone), None);
    assert_eq!(t.srv.blocking.blocked_clients(), 0);
    assert_eq!(t.run(&["RPUSH", "l", "x"]), ":1\r\n");
    assert_eq!(t.run(&["LRANGE", "l", "0", "-1"]), arr(&["x"]));
    // A timeout that loses the race to a serve delivers the served reply.
    t.run(&["DEL", "l"]);
    t.run_as(&mut a, &["BLPOP", "l", "0"]);
    t.run(&["RPUSH", "l", "y"]);
    let w = a.blocked.take().unwrap();
    assert_eq!(
        t.srv.blocking.finish(&w, Finish::Timeout).unwrap(),
        arr(&["l", "y"]).as_bytes()
    );
}

#[test]
fn deny_blocking_answers_non_blocking_nulls() {
    let t = TestCtx::new();
    t.sess.lock().deny_blocking = true;
    assert_eq!(t.run(&["BLPOP", "l", "0"]), NIL_ARR);
    assert_eq!(t.run(&["BRPOPLPUSH", "l", "d", "0"]), NIL);
    assert_eq!(t.run(&["BLMOVE", "l", "d", "LEFT", "LEFT", "0"]), NIL);
    assert_eq!(t.run(&["BLMPOP", "0", "1", "l", "LEFT"]), NIL_ARR);
    t.resp3();
    assert_eq!(t.run(&["BLPOP", "l", "0"]), "_\r\n");
    assert_eq!(t.run(&["BLMOVE", "l", "d", "LEFT", "LEFT", "0"]), "_\r\n");
    assert!(t.sess.lock().blocked.is_none());
    assert_eq!(t.srv.blocking.blocked_clients(), 0);
}

#[test]
fn blmove_chain_and_wrong_type_at_wakeup() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    let mut b = t.new_session();
    // a moves l1 → l2, b waits on l2 and moves it to l3.
    t.run_as(&mut a, &["BLMOVE", "l1", "l2", "LEFT", "LEFT", "0"]);
    t.run_as(&mut b, &["BRPOPLPUSH", "l2", "l3", "0"]);
    t.run(&["RPUSH", "l1", "v"]);
    assert_eq!(reply_of(&mut a).unwrap(), "$1\r\nv\r\n");
    assert_eq!(reply_of(&mut b).unwrap(), "$1\r\nv\r\n");
    assert_eq!(t.run(&["LRANGE", "l3", "0", "-1"]), arr(&["v"]));
    assert_eq!(t.run(&["EXISTS", "l1", "l2"]), ":0\r\n");
    // A destination of another type: WRONGTYPE at wake-up, the element stays.
    t.run_as(&mut a, &["BLMOVE", "src", "str", "LEFT", "LEFT", "0"]);
    t.run(&["SET", "str", "x"]);
    assert_eq!(reply_of(&mut a), None);
    t.run(&["RPUSH", "src", "e"]);
    assert_eq!(reply_of(&mut a).unwrap(), WT);
    assert_eq!(t.run(&["LRANGE", "src", "0", "-1"]), arr(&["e"]));
    // A source turned into another type does not wake BLPOP.
    t.run_as(&mut b, &["BLPOP", "k", "0"]);
    t.run(&["SET", "k", "x"]);
    assert_eq!(reply_of(&mut b), None);
    t.run(&["DEL", "k"]);
    t.run(&["LPUSH", "k", "z"]);
    assert_eq!(reply_of(&mut b).unwrap(), arr(&["k", "z"]));
}

#[test]
fn other_writes_wake_waiters_and_blmpop_counts() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    a.resp3 = true;
    t.run_as(
        &mut a,
        &["BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT", "2"],
    );
    t.run(&["RPUSH", "tmp", "1", "2", "3"]);
    t.run(&["RENAME", "tmp", "y"]);
    assert_eq!(
        reply_of(&mut a).unwrap(),
        "*2\r\n$1\r\ny\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    assert_eq!(t.run(&["LRANGE", "y", "0", "-1"]), arr(&["1"]));
}

#[test]
fn client_unblock() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    let id = a.id.to_string();
    assert_eq!(t.run(&["CLIENT", "UNBLOCK", &id]), ":0\r\n");
    t.run_as(&mut a, &["BLPOP", "l", "0"]);
    assert_eq!(t.run(&["CLIENT", "UNBLOCK", &id, "ERROR"]), ":1\r\n");
    assert_eq!(
        reply_of(&mut a).unwrap(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    t.run_as(&mut a, &["BLPOP", "l", "0"]);
    assert_eq!(t.run(&["CLIENT", "UNBLOCK", &id, "timeout"]), ":1\r\n");
    assert_eq!(reply_of(&mut a).unwrap(), NIL_ARR);
    assert_eq!(t.srv.blocking.blocked_clients(), 0);
    assert_eq!(t.run(&["CLIENT", "UNBLOCK", "x"]), NOT_INT);
    assert_eq!(
        t.run(&["CLIENT", "UNBLOCK", &id, "foo"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
}
