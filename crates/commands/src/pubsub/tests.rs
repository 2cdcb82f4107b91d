//! Pub/sub replies and delivery, checked against Redis 7.0.

use crate::clients::Session;
use crate::testing::TestCtx;
use std::sync::atomic::Ordering::Relaxed;

/// What is waiting in a session's outbox, as text.
fn drain(s: &Session) -> String {
    let mut v = Vec::new();
    if let Some(p) = &s.pubsub {
        p.outbox.drain_into(&mut v);
    }
    String::from_utf8_lossy(&v).into_owned()
}

#[test]
fn subscribe_and_unsubscribe_replies() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["SUBSCRIBE", "a", "a"]),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(
        t.run(&["UNSUBSCRIBE", "b", "a"]),
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n"
    );
    assert_eq!(
        t.run(&["PSUBSCRIBE", "p*"]),
        "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:1\r\n"
    );
    // No channel left: a nil name, and the count still includes the pattern.
    assert_eq!(
        t.run(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n"
    );
    assert_eq!(
        t.run(&["PUNSUBSCRIBE"]),
        "*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n"
    );
    assert_eq!(
        t.run(&["PUNSUBSCRIBE"]),
        "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
    );
    // Unsubscribed from everything: back to normal mode.
    assert_eq!(t.run(&["GET", "x"]), "$-1\r\n");
    let fresh = TestCtx::new();
    assert_eq!(
        fresh.run(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    );
    assert_eq!(
        fresh.run(&["SUBSCRIBE"]),
        "-ERR wrong number of arguments for 'subscribe' command\r\n"
    );
}

#[test]
fn resp2_subscribed_mode_allows_only_a_few_commands() {
    let t = TestCtx::new();
    t.run(&["SUBSCRIBE", "c"]);
    assert_eq!(
        t.run(&["GET", "a"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        t.run(&["CLIENT", "INFO"]),
        "-ERR Can't execute 'client|info': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(t.run(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(t.run(&["PING", "x"]), "*2\r\n$4\r\npong\r\n$1\r\nx\r\n");
    assert_eq!(
        t.run(&["PSUBSCRIBE", "x*"]),
        "*3\r\n$10\r\npsubscribe\r\n$2\r\nx*\r\n:2\r\n"
    );
}

#[test]
fn resp3_subscribers_get_pushes_and_may_run_anything() {
    let t = TestCtx::new();
    t.resp3();
    assert_eq!(
        t.run(&["SUBSCRIBE", "c", "d"]),
        ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nd\r\n:2\r\n"
    );
    assert_eq!(t.run(&["GET", "a"]), "_\r\n");
    assert_eq!(t.run(&["PING"]), "+PONG\r\n");
    // A message to ourselves comes before PUBLISH's reply, as in Redis.
    assert_eq!(
        t.run(&["PUBLISH", "c", "hi"]),
        ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n:1\r\n"
    );
    assert_eq!(
        t.run(&["UNSUBSCRIBE"]),
        ">3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:1\r\n>3\r\n$11\r\nunsubscribe\r\n$1\r\nd\r\n:0\r\n"
    );
    assert_eq!(
        t.run(&["UNSUBSCRIBE"]),
        ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"
    );
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    let mut b = t.new_session();
    let mut c3 = t.new_session();
    t.run_as(&mut a, &["SUBSCRIBE", "news.tech"]);
    t.run_as(&mut b, &["PSUBSCRIBE", "news.*", "n[aeiou]ws.tech"]);
    t.run_as(&mut c3, &["HELLO", "3"]);
    t.run_as(&mut c3, &["SUBSCRIBE", "news.tech"]);
    // b matches twice: each matching pattern is one delivery, as in Redis.
    assert_eq!(t.run(&["PUBLISH", "news.tech", "m1"]), ":4\r\n");
    assert_eq!(t.run(&["PUBLISH", "news.art", "m2"]), ":1\r\n");
    assert_eq!(t.run(&["PUBLISH", "other", "m3"]), ":0\r\n");
    assert_eq!(
        drain(&a),
        "*3\r\n$7\r\nmessage\r\n$9\r\nnews.tech\r\n$2\r\nm1\r\n"
    );
    let got = drain(&b);
    assert!(got.contains("*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$9\r\nnews.tech\r\n$2\r\nm1\r\n"));
    assert!(got.contains(
        "*4\r\n$8\r\npmessage\r\n$15\r\nn[aeiou]ws.tech\r\n$9\r\nnews.tech\r\n$2\r\nm1\r\n"
    ));
    assert!(got.ends_with("*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$8\r\nnews.art\r\n$2\r\nm2\r\n"));
    assert_eq!(
        drain(&c3),
        ">3\r\n$7\r\nmessage\r\n$9\r\nnews.tech\r\n$2\r\nm1\r\n"
    );
    assert_eq!(drain(&a), "", "drained");
    // Binary-safe channel and message.
    t.run_as(&mut a, &["SUBSCRIBE", "bin\r\n"]);
    t.run_bytes(&[b"PUBLISH", b"bin\r\n", b"\x00\xff"]);
    assert_eq!(
        drain(&a),
        "*3\r\n$7\r\nmessage\r\n$5\r\nbin\r\n\r\n$2\r\n\0\u{fffd}\r\n"
    );
}

#[test]
fn pubsub_introspection() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    let mut b = t.new_session();
    t.run_as(&mut a, &["SUBSCRIBE", "c1", "c2"]);
    t.run_as(&mut b, &["SUBSCRIBE", "c1"]);
    t.run_as(&mut b, &["PSUBSCRIBE", "p*", "q*"]);
    t.run_as(&mut a, &["PSUBSCRIBE", "p*"]);
    let ch = t.run(&["PUBSUB", "CHANNELS"]);
    assert!(ch.starts_with("*2\r\n") && ch.contains("$2\r\nc1\r\n") && ch.contains("$2\r\nc2\r\n"));
    assert_eq!(t.run(&["PUBSUB", "CHANNELS", "*2"]), "*1\r\n$2\r\nc2\r\n");
    assert_eq!(
        t.run(&["PUBSUB", "NUMSUB", "c1", "c2", "zz"]),
        "*6\r\n$2\r\nc1\r\n:2\r\n$2\r\nc2\r\n:1\r\n$2\r\nzz\r\n:0\r\n"
    );
    assert_eq!(t.run(&["PUBSUB", "NUMSUB"]), "*0\r\n");
    assert_eq!(t.run(&["PUBSUB", "NUMPAT"]), ":2\r\n");
    assert_eq!(
        t.run(&["PUBSUB", "NUMPAT", "x"]),
        "-ERR wrong number of arguments for 'pubsub|numpat' command\r\n"
    );
    assert_eq!(
        t.run(&["PUBSUB", "CHANNELS", "a", "b"]),
        "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n"
    );
    assert_eq!(
        t.run(&["PUBSUB", "X"]),
        "-ERR unknown subcommand 'X'. Try PUBSUB HELP.\r\n"
    );
    assert!(t
        .run(&["PUBSUB", "HELP"])
        .starts_with("*14\r\n+PUBSUB <subcommand>"));
    // RESP3: NUMSUB stays a flat array, as in Redis 7.0.
    t.resp3();
    assert!(t.run(&["PUBSUB", "NUMSUB", "c1"]).starts_with("*2\r\n"));

    let line = a.handle.info_line();
    assert!(
        line.contains(" flags=P ") && line.contains(" sub=2 psub=1 "),
        "{line}"
    );
    // Disconnecting unsubscribes everything.
    drop(a);
    drop(b);
    assert_eq!(t.run(&["PUBSUB", "CHANNELS"]), "*0\r\n");
    assert_eq!(t.run(&["PUBSUB", "NUMPAT"]), ":0\r\n");
    assert_eq!(t.run(&["PUBLISH", "c1", "x"]), ":0\r\n");
}

#[test]
fn a_subscriber_past_the_hard_limit_is_cut_off() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    assert_eq!(
        t.run(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1000 0 0"
        ]),
        "+OK\r\n"
    );
    assert!(t
        .run(&["CONFIG", "GET", "client-output-buffer-limit"])
        .contains("pubsub 1000 0 0"));
    t.run_as(&mut a, &["SUBSCRIBE", "c"]);
    let msg = "x".repeat(100);
    let mut sent = 0;
    while !a.handle.is_killed() {
        assert_eq!(t.run(&["PUBLISH", "c", &msg]), ":1\r\n");
        sent += 1;
        assert!(sent < 100, "never cut off");
    }
    // Each frame is ~130 bytes: cut off at the 8th, which would pass 1000.
    assert_eq!(sent, 8);
    assert_eq!(
        t.srv
            .stats
            .client_output_buffer_limit_disconnections
            .load(Relaxed),
        1
    );
    // Its buffer was released and nothing more is kept.
    t.run(&["PUBLISH", "c", &msg]);
    assert_eq!(drain(&a), "");
    assert!(a.pubsub.as_ref().unwrap().outbox.is_dead());
}

#[test]
fn the_soft_limit_needs_time_over_it() {
    let t = TestCtx::new();
    let mut a = t.new_session();
    t.run(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 100 60",
    ]);
    t.run_as(&mut a, &["SUBSCRIBE", "c"]);
    for _ in 0..10 {
        t.run(&["PUBLISH", "c", "0123456789012345678901234567890123456789"]);
    }
    assert!(
        !a.handle.is_killed(),
        "over the soft limit for less than 60 s"
    );
    assert_eq!(drain(&a).len(), 10 * 71);
}

#[test]
fn shard_subscriptions_count_apart_from_channels_and_patterns() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["SSUBSCRIBE", "a", "b", "a"]),
        "*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1\r\n\
         *3\r\n$10\r\nssubscribe\r\n$1\r\nb\r\n:2\r\n\
         *3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:2\r\n"
    );
    // The same name as a channel is another subscription; SUBSCRIBE counts channels and
    // patterns only, SSUBSCRIBE shard channels only.
    assert_eq!(
        t.run(&["SUBSCRIBE", "a"]),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    let line = t.sess.lock().handle.info_line();
    assert!(
        line.contains(" flags=P ") && line.contains(" sub=1 psub=0 ssub=2 "),
        "{line}"
    );
    assert_eq!(
        t.run(&["SUNSUBSCRIBE", "zz", "a"]),
        "*3\r\n$12\r\nsunsubscribe\r\n$2\r\nzz\r\n:2\r\n\
         *3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(
        t.run(&["SUNSUBSCRIBE"]),
        "*3\r\n$12\r\nsunsubscribe\r\n$1\r\nb\r\n:0\r\n"
    );
    assert_eq!(
        t.run(&["SUNSUBSCRIBE"]),
        "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n"
    );
    // Still subscribed to channel a: RESP2 subscribed mode.
    assert!(t.run(&["GET", "k"]).starts_with("-ERR Can't execute 'get'"));
    t.run(&["UNSUBSCRIBE"]);
    // Shard channels alone put a RESP2 client in subscribed mode too.
    t.run(&["SSUBSCRIBE", "s"]);
    assert_eq!(t.run(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert!(t.run(&["GET", "k"]).starts_with("-ERR Can't execute 'get'"));
    assert_eq!(t.run(&["RESET"]), "+RESET\r\n");
    assert_eq!(t.run(&["GET", "k"]), "$-1\r\n");
    assert_eq!(t.run(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
}

#[test]
fn spublish_reaches_shard_subscribers_only() {
    let t = TestCtx::new();
    let mut shard = t.new_session();
    let mut chan = t.new_session();
    let mut pat = t.new_session();
    let mut r3 = t.new_session();
    t.run_as(&mut shard, &["SSUBSCRIBE", "ch"]);
    t.run_as(&mut chan, &["SUBSCRIBE", "ch"]);
    t.run_as(&mut pat, &["PSUBSCRIBE", "*"]);
    t.run_as(&mut r3, &["HELLO", "3"]);
    t.run_as(&mut r3, &["SSUBSCRIBE", "ch"]);
    assert_eq!(t.run(&["SPUBLISH", "ch", "s1"]), ":2\r\n");
    assert_eq!(t.run(&["PUBLISH", "ch", "p1"]), ":2\r\n");
    assert_eq!(
        drain(&shard),
        "*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\ns1\r\n"
    );
    assert_eq!(
        drain(&r3),
        ">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\ns1\r\n"
    );
    assert_eq!(
        drain(&chan),
        "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\np1\r\n"
    );
    assert_eq!(
        drain(&pat),
        "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$2\r\nch\r\n$2\r\np1\r\n"
    );
    // A subscriber's own message comes before SPUBLISH's reply.
    assert_eq!(
        t.run_as(&mut r3, &["SPUBLISH", "ch", "me"]),
        ">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\nme\r\n:2\r\n"
    );
    assert_eq!(
        drain(&shard),
        "*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\nme\r\n"
    );

    let ch = t.run(&["PUBSUB", "SHARDCHANNELS"]);
    assert_eq!(ch, "*1\r\n$2\r\nch\r\n");
    assert_eq!(t.run(&["PUBSUB", "SHARDCHANNELS", "x*"]), "*0\r\n");
    assert_eq!(
        t.run(&["PUBSUB", "SHARDNUMSUB", "ch", "zz"]),
        "*4\r\n$2\r\nch\r\n:2\r\n$2\r\nzz\r\n:0\r\n"
    );
    assert_eq!(
        t.run(&["PUBSUB", "NUMSUB", "ch"]),
        "*2\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(
        t.run(&["PUBSUB", "SHARDCHANNELS", "a", "b"]),
        "-ERR unknown subcommand or wrong number of arguments for 'SHARDCHANNELS'. Try PUBSUB HELP.\r\n"
    );
    let mut counts = Vec::new();
    t.srv
        .pubsub
        .for_each_subscription(|_, c, p| counts.push((c.to_vec(), p)));
    assert_eq!(
        counts.len(),
        4,
        "channel, pattern and two shard subscriptions"
    );
    // Disconnecting unsubscribes.
    drop(shard);
    drop(r3);
    assert_eq!(t.run(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
    assert_eq!(t.run(&["SPUBLISH", "ch", "x"]), ":0\r\n");
}

#[test]
fn ssubscribe_is_refused_inside_exec() {
    let t = TestCtx::new();
    t.run(&["MULTI"]);
    assert_eq!(t.run(&["SSUBSCRIBE", "a"]), "+QUEUED\r\n");
    assert_eq!(t.run(&["SUBSCRIBE", "b"]), "+QUEUED\r\n");
    assert_eq!(
        t.run(&["EXEC"]),
        "*2\r\n-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client\r\n\
         *3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:1\r\n"
    );
}
