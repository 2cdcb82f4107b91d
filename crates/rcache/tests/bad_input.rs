//! Bad input: malformed frames, limits, and command errors. Every test also proves that the
//! server keeps serving another client that was already connected before the bad one.
//!
//! Protocol errors are answered the way Redis answers them, `-ERR Protocol error: <what>`,
//! after which the server closes that connection. Command errors (unknown command, wrong
//! arity, bad integers) leave the connection open.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use testkit::{RawConn, TestServer};

const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that connected (and, with no password set, authenticated) before the bad input.
fn bystander(srv: &TestServer) -> RawConn {
    let mut c = srv.raw();
    assert_eq!(c.request(&["PING"]), "+PONG\r\n");
    c
}

/// The bystander still gets answers, writes and reads.
fn assert_serving(c: &mut RawConn, tag: &str) {
    assert_eq!(c.request(&["PING"]), "+PONG\r\n", "after {tag}");
    let v = format!("alive after {tag}");
    assert_eq!(
        c.request(&["SET", "bystander", &v]),
        "+OK\r\n",
        "after {tag}"
    );
    assert_eq!(
        c.request(&["GET", "bystander"]),
        format!("${}\r\n{v}\r\n", v.len()),
        "after {tag}"
    );
}

/// Send `bytes` on a fresh connection; expect exactly `reply` and then the close.
fn expect_protocol_error(srv: &TestServer, bytes: &[u8], reply: &str) {
    let mut c = srv.raw();
    // The server may close while we are still writing a long input: that is fine.
    let _ = c.try_send(bytes);
    let got = c.expect_closed(CLOSE_TIMEOUT);
    assert_eq!(
        got,
        format!("-ERR Protocol error: {reply}\r\n"),
        "input {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
    );
}

#[test]
fn malformed_frames_answer_a_protocol_error_then_close() {
    let srv = TestServer::start();
    let mut other = bystander(&srv);
    let cases: &[(&[u8], &str)] = &[
        (b"*1\r\n+x\r\n", "expected '$', got '+'"),
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$', got ':'"),
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*1x\r\n", "invalid multibulk length"),
        (b"*3000000000\r\n", "invalid multibulk length"),
        (b"*1\r\n$abc\r\n", "invalid bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$+4\r\nPING\r\n", "invalid bulk length"),
        (b"*1\r\n$99999999999999999999\r\n", "invalid bulk length"),
        (b"SET \"a b\r\n", "unbalanced quotes in request"),
        (b"SET k 'v\r\n", "unbalanced quotes in request"),
        (b"SET \"a\"b c\r\n", "unbalanced quotes in request"),
    ];
    for (bytes, reply) in cases {
        expect_protocol_error(&srv, bytes, reply);
        assert_serving(&mut other, reply);
    }
    // Commands before the bad frame in the same write are executed and answered first.
    let mut c = srv.raw();
    c.send(b"SET before ok\r\n*1\r\n+x\r\n");
    assert_eq!(
        c.expect_closed(CLOSE_TIMEOUT),
        "+OK\r\n-ERR Protocol error: expected '$', got '+'\r\n"
    );
    assert_eq!(other.request(&["GET", "before"]), "$2\r\nok\r\n");
}

#[test]
fn oversized_inline_and_header_lines() {
    let srv = TestServer::start();
    let mut other = bystander(&srv);
    // 64 KiB is the longest inline request or `*`/`$` header line (Redis's
    // PROTO_INLINE_MAX_SIZE); past it without a newline the client is cut off.
    let inline = vec![b'a'; 70_000];
    expect_protocol_error(&srv, &inline, "too big inline request");
    assert_serving(&mut other, "too big inline request");

    let mut mbulk = b"*".to_vec();
    mbulk.extend(vec![b'1'; 70_000]);
    expect_protocol_error(&srv, &mbulk, "too big mbulk count string");
    assert_serving(&mut other, "too big mbulk count string");

    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 70_000]);
    expect_protocol_error(&srv, &bulk, "too big bulk count string");
    assert_serving(&mut other, "too big bulk count string");

    // Just under the limit is a normal inline request.
    let mut c = srv.raw();
    let long = "x".repeat(60_000);
    c.send(format!("ECHO {long}\r\n").as_bytes());
    assert_eq!(c.reply(), format!("$60000\r\n{long}\r\n"));
}

#[test]
fn bulk_over_proto_max_bulk_len() {
    let srv = TestServer::builder()
        .setting("proto-max-bulk-len", "1mb")
        .start();
    let mut other = bystander(&srv);
    // Refused from the header alone: the server does not wait for (or buffer) the payload.
    expect_protocol_error(
        &srv,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
        "invalid bulk length",
    );
    assert_serving(&mut other, "bulk over proto-max-bulk-len");
    // Exactly the limit is accepted.
    let big = vec![b'v'; 1 << 20];
    let mut c = srv.raw();
    assert_eq!(c.request(&[&b"SET"[..], b"k", &big]), "+OK\r\n");
    let got = c.request(&["GET", "k"]);
    assert_eq!(got.len(), "$1048576\r\n".len() + (1 << 20) + 2);
    assert!(got.starts_with("$1048576\r\nvvvv"));
}

/// The same limit changed at run time with CONFIG SET (server family): it applies to the next
/// request, on connections that already exist too.
#[test]
fn proto_max_bulk_len_set_at_run_time() {
    let srv = TestServer::start();
    let mut other = bystander(&srv);
    let mut victim = srv.raw();
    assert_eq!(victim.request(&["PING"]), "+PONG\r\n");
    assert_eq!(
        other.request(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
        "+OK\r\n"
    );
    let _ = victim.try_send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n");
    assert_eq!(
        victim.expect_closed(CLOSE_TIMEOUT),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    assert_serving(&mut other, "CONFIG SET proto-max-bulk-len");
}

/// Before AUTH, Redis allows at most 10 arguments and 16 KiB per argument, so an anonymous
/// peer cannot make the server buffer much.
#[test]
fn unauthenticated_limits() {
    let srv = TestServer::start();
    // Connected while no password was set, so this client stays authenticated (as in Redis
    // after CONFIG SET requirepass); then the password is set straight in the settings, so
    // this test needs neither AUTH nor CONFIG.
    let mut other = bystander(&srv);
    srv.state()
        .settings
        .set("requirepass", "pw", false)
        .expect("set requirepass");

    expect_protocol_error(&srv, b"*11\r\n", "unauthenticated multibulk length");
    assert_serving(&mut other, "unauthenticated multibulk length");
    expect_protocol_error(
        &srv,
        b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
        "unauthenticated bulk length",
    );
    assert_serving(&mut other, "unauthenticated bulk length");

    // At the limits: ten arguments of 16 KiB each parse, and are refused with NOAUTH, on a
    // connection that stays open.
    let mut c = srv.raw();
    let arg = "a".repeat(16 * 1024);
    let mut cmd = vec![arg.as_str(); 10];
    cmd[0] = "SET";
    assert_eq!(c.request(&cmd), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.request(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_serving(&mut other, "NOAUTH");
}

/// `client-query-buffer-limit 1mb`: a client that sends 2 MB of an unfinished argument is
/// closed, without a reply; the bystander is untouched.
#[test]
fn query_buffer_limit_closes_the_client() {
    let srv = TestServer::builder()
        .setting("client-query-buffer-limit", "1mb")
        .start();
    let mut other = bystander(&srv);
    let mut c = srv.raw();
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n".to_vec();
    req.extend(vec![b'x'; 2_000_000]);
    // The server may reset the connection before all of it is written.
    let _ = c.try_send(&req);
    assert_eq!(c.expect_closed(CLOSE_TIMEOUT), "");
    let st = srv.state();
    testkit::wait_for(
        "the query-buffer disconnection counter",
        CLOSE_TIMEOUT,
        || {
            (st.stats
                .client_query_buffer_limit_disconnections
                .load(Relaxed)
                == 1)
                .then_some(())
        },
    );
    assert_serving(&mut other, "query buffer limit");
    assert_eq!(other.request(&["GET", "k"]), "$-1\r\n");
    // A complete 900 KB argument is under the limit and fine.
    let v = vec![b'y'; 900_000];
    let mut c = srv.raw();
    assert_eq!(c.request(&[&b"SET"[..], b"k", &v]), "+OK\r\n");
}

/// `client-output-buffer-limit normal 1mb 0 0`: a reply bigger than 1 MB closes the client
/// that asked for it instead of being buffered.
#[test]
fn output_buffer_limit_closes_the_client() {
    let srv = TestServer::builder()
        .setting("client-output-buffer-limit", "normal 1mb 0 0")
        .start();
    let mut other = bystander(&srv);
    let big = vec![b'z'; 2 << 20];
    assert_eq!(other.request(&[&b"SET"[..], b"big", &big]), "+OK\r\n");
    let half = vec![b'h'; 512 << 10];
    assert_eq!(other.request(&[&b"SET"[..], b"half", &half]), "+OK\r\n");

    let mut c = srv.raw();
    // Under the limit: answered.
    let r = c.request(&["GET", "half"]);
    assert_eq!(
        r.len(),
        format!("${}\r\n", 512 << 10).len() + (512 << 10) + 2
    );
    // Over it: closed, and the 2 MB reply never arrives whole.
    c.send_cmd(&["GET", "big"]);
    let got = c.expect_closed(CLOSE_TIMEOUT);
    assert!(got.len() < (2 << 20), "received {} bytes", got.len());
    assert_eq!(
        srv.state()
            .stats
            .client_output_buffer_limit_disconnections
            .load(Relaxed),
        1
    );
    assert_serving(&mut other, "output buffer limit");
}

#[test]
fn unknown_command_and_wrong_arity_keep_the_connection() {
    let srv = TestServer::start();
    let mut other = bystander(&srv);
    let mut c = srv.raw();
    assert_eq!(
        c.request(&["FOO", "a", "b"]),
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        c.request(&["nosuch"]),
        "-ERR unknown command 'nosuch', with args beginning with: \r\n"
    );
    assert_eq!(
        c.request(&["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.request(&["GET", "a", "b"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.request(&["set", "k"]),
        "-ERR wrong number of arguments for 'set' command\r\n"
    );
    assert_eq!(
        c.request(&["SET", "k", "v", "BOGUS"]),
        "-ERR syntax error\r\n"
    );
    // Inline too.
    c.send(b"GET\r\n");
    assert_eq!(
        c.reply(),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(c.request(&["PING"]), "+PONG\r\n");
    assert_serving(&mut other, "command errors");
}

/// INCR on a value that is not an integer, and at the edges of i64 (the strings family).
#[test]
fn incr_non_integer_and_overflow() {
    let srv = TestServer::start();
    let mut other = bystander(&srv);
    let mut c = srv.raw();
    assert_eq!(c.request(&["SET", "n", "abc"]), "+OK\r\n");
    assert_eq!(
        c.request(&["INCR", "n"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    for not_int in [" 1", "1 ", "1.5", "+1", "01", ""] {
        assert_eq!(c.request(&["SET", "n", not_int]), "+OK\r\n");
        assert_eq!(
            c.request(&["INCR", "n"]),
            "-ERR value is not an integer or out of range\r\n",
            "value {not_int:?}"
        );
    }
    assert_eq!(c.request(&["SET", "n", "9223372036854775807"]), "+OK\r\n");
    assert_eq!(
        c.request(&["INCR", "n"]),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        c.request(&["GET", "n"]),
        "$19\r\n9223372036854775807\r\n",
        "unchanged"
    );
    assert_eq!(c.request(&["SET", "n", "-9223372036854775808"]), "+OK\r\n");
    assert_eq!(
        c.request(&["DECR", "n"]),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(c.request(&["SET", "n", "9223372036854775806"]), "+OK\r\n");
    assert_eq!(c.request(&["INCR", "n"]), ":9223372036854775807\r\n");
    assert_serving(&mut other, "INCR errors");
}
