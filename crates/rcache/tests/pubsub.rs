//! Pub/sub through the `redis` crate (and raw RESP where the crate hides the wire) against
//! an in-process server: channel and pattern subscriptions, RESP3 pushes, the RESP2
//! subscribed mode, cleanup on disconnect, and a subscriber that never reads being cut off
//! by `client-output-buffer-limit pubsub` while the server stays healthy.

use redis::{Commands, PushKind, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use testkit::{wait_for, TestServer};

const WAIT: Duration = Duration::from_secs(10);

fn numsub(c: &mut redis::Connection, ch: &str) -> i64 {
    let v: (String, i64) = redis::cmd("PUBSUB").arg("NUMSUB").arg(ch).query(c).unwrap();
    v.1
}

#[test]
fn resp2_channel_and_pattern_subscriptions() {
    let srv = TestServer::start();
    let mut sub_conn = srv.connection();
    let mut publisher = srv.connection();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(WAIT)).unwrap();
    sub.subscribe("orders").unwrap();
    sub.psubscribe("ord*").unwrap();

    let n: i64 = publisher.publish("orders", "o-1").unwrap();
    assert_eq!(n, 2, "one channel and one pattern subscription");
    let n: i64 = publisher.publish("ordinal", "x").unwrap();
    assert_eq!(n, 1);
    let n: i64 = publisher.publish("other", "y").unwrap();
    assert_eq!(n, 0);

    let mut got = Vec::new();
    for _ in 0..3 {
        let m = sub.get_message().unwrap();
        let pattern: Option<String> = m.get_pattern().ok();
        got.push((
            m.get_channel_name().to_string(),
            m.get_payload::<String>().unwrap(),
            pattern,
        ));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("orders".into(), "o-1".into(), None),
            ("orders".into(), "o-1".into(), Some("ord*".into())),
            ("ordinal".into(), "x".into(), Some("ord*".into())),
        ]
    );

    let ch: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(ch, vec!["orders".to_string()]);
    let np: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(np, 1);

    sub.unsubscribe("orders").unwrap();
    sub.punsubscribe("ord*").unwrap();
    drop(sub);
    // Unsubscribed from everything: a normal connection again.
    let v: Option<String> = sub_conn.get("k").unwrap();
    assert_eq!(v, None);
    assert_eq!(numsub(&mut publisher, "orders"), 0);
}

#[test]
fn resp2_subscribed_mode_allows_only_pubsub_commands_and_ping() {
    let srv = TestServer::start();
    let mut c = srv.raw();
    assert_eq!(
        c.request(&["SUBSCRIBE", "a"]),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(
        c.request(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(c.request(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    let mut p = srv.connection();
    let n: i64 = p.publish("a", "hello").unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        c.reply(),
        "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        c.request(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n"
    );
    assert_eq!(c.request(&["GET", "k"]), "$-1\r\n");
}

#[tokio::test]
async fn resp3_messages_are_push_frames_and_normal_commands_still_work() {
    let srv = TestServer::start();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = redis::AsyncConnectionConfig::new()
        .set_response_timeout(WAIT)
        .set_push_sender(tx);
    let mut sub = srv
        .client_resp3()
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .unwrap();
    sub.subscribe("news").await.unwrap();
    sub.psubscribe("n*").await.unwrap();
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let p = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        kinds.push(p.kind);
    }
    assert_eq!(kinds, vec![PushKind::Subscribe, PushKind::PSubscribe]);

    // RESP3: a subscribed connection runs any command.
    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut sub)
        .await
        .unwrap();
    let v: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut sub)
        .await
        .unwrap();
    assert_eq!(v, "v");

    let mut p = srv.connection();
    let n: i64 = p.publish("news", "hi").unwrap();
    assert_eq!(n, 2);
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        got.push((m.kind, m.data));
    }
    let b = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    assert!(
        got.contains(&(PushKind::Message, vec![b("news"), b("hi")])),
        "{got:?}"
    );
    assert!(
        got.contains(&(PushKind::PMessage, vec![b("n*"), b("news"), b("hi")])),
        "{got:?}"
    );
}

#[test]
fn subscribers_that_pipeline_may_move_between_io_threads_and_still_get_messages() {
    let srv = TestServer::start();
    let mut c = srv.raw();
    // Four commands in one write: the connection is placed as a pipelining one, possibly
    // on the other I/O thread, carrying its subscriptions.
    let mut batch = Vec::new();
    for ch in ["a", "b", "c", "d"] {
        batch.extend(testkit::resp(&["SUBSCRIBE", ch]));
    }
    c.send(&batch);
    for i in 1..=4 {
        assert!(c.reply().ends_with(&format!(":{i}\r\n")));
    }
    let mut p = srv.connection();
    for ch in ["a", "b", "c", "d"] {
        let n: i64 = p.publish(ch, "m").unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            c.reply(),
            format!("*3\r\n$7\r\nmessage\r\n$1\r\n{ch}\r\n$1\r\nm\r\n")
        );
    }
}

#[test]
fn closing_a_subscriber_unsubscribes_it() {
    let srv = TestServer::start();
    let mut p = srv.connection();
    {
        let mut c = srv.connection();
        let mut s = c.as_pubsub();
        s.subscribe("gone").unwrap();
        s.psubscribe("g*").unwrap();
        assert_eq!(numsub(&mut p, "gone"), 1);
    }
    wait_for("the closed subscriber to be unsubscribed", WAIT, || {
        (numsub(&mut p, "gone") == 0).then_some(())
    });
    let np: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut p).unwrap();
    assert_eq!(np, 0);
    let n: i64 = p.publish("gone", "x").unwrap();
    assert_eq!(n, 0);
}

/// A subscriber that never reads: once the kernel's socket buffers are full, undelivered
/// messages pile up in its outbox until `client-output-buffer-limit pubsub` cuts it off.
#[test]
fn a_subscriber_that_never_reads_is_disconnected_and_the_server_stays_healthy() {
    let srv = TestServer::start();
    let mut p = srv.connection();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 256kb 0 0")
        .query(&mut p)
        .unwrap();
    let mut slow = srv.raw();
    assert!(slow.request(&["SUBSCRIBE", "firehose"]).ends_with(":1\r\n"));
    let mut healthy = srv.connection();
    // (The crate's PubSub unsubscribes when dropped: keep it for the whole test.)
    let mut hs = healthy.as_pubsub();
    hs.set_read_timeout(Some(WAIT)).unwrap();
    hs.subscribe("firehose").unwrap();

    let state = srv.state();
    let msg = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while state
        .stats
        .client_output_buffer_limit_disconnections
        .load(Relaxed)
        == 0
    {
        let _: i64 = p.publish("firehose", &msg[..]).unwrap();
        // The healthy subscriber keeps reading.
        assert_eq!(
            hs.get_message().unwrap().get_payload_bytes().len(),
            msg.len()
        );
        sent += 1;
        assert!(sent < 10_000, "the slow subscriber was never cut off");
    }
    wait_for("the slow subscriber to be gone", WAIT, || {
        (numsub(&mut p, "firehose") == 1).then_some(())
    });
    slow.expect_closed(WAIT);
    let pong: String = redis::cmd("PING").query(&mut p).unwrap();
    assert_eq!(pong, "PONG");
    let n: i64 = p.publish("firehose", "still here").unwrap();
    assert_eq!(n, 1);
}
