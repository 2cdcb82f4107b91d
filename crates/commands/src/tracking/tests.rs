use crate::clients::Session;
use crate::testing::TestCtx;

/// Everything pushed to `s` so far.
fn drain(s: &Session) -> String {
    let mut v = Vec::new();
    if let Some(o) = &s.outbox {
        o.drain_into(&mut v);
    }
    String::from_utf8_lossy(&v).into_owned()
}

fn inval(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    s
}

/// A RESP3 client (HELLO 3, so its handle says RESP3 too).
fn resp3_client(t: &TestCtx) -> Session {
    let mut s = t.new_session();
    t.run_as(&mut s, &["HELLO", "3"]);
    s
}

#[test]
fn errors_in_redis_words() {
    let t = TestCtx::new();
    let e = |a: &[&str]| t.run(a);
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "PREFIX", "a"]),
        "-ERR PREFIX option requires BCAST mode to be enabled\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
        "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"]),
        "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "REDIRECT", "999"]),
        "-ERR The client ID you want redirect to does not exist\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "REDIRECT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "REDIRECT", "1", "REDIRECT", "1"]),
        "-ERR A client can only redirect to a single other client\r\n"
    );
    assert_eq!(e(&["CLIENT", "TRACKING", "maybe"]), "-ERR syntax error\r\n");
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "FOO"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "PREFIX"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "CACHING", "yes"]),
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    assert_eq!(e(&["CLIENT", "TRACKING", "on", "OPTIN"]), "+OK\r\n");
    assert_eq!(
        e(&["CLIENT", "CACHING", "no"]),
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    assert_eq!(e(&["CLIENT", "CACHING", "maybe"]), "-ERR syntax error\r\n");
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "OPTOUT"]),
        "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "BCAST"]),
        "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );
    assert_eq!(e(&["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    assert_eq!(
        e(&["CLIENT", "CACHING", "yes"]),
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a"]),
        "-ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap.\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab"]),
        "+OK\r\n"
    );
    assert_eq!(
        e(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"]),
        "-ERR Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client must not overlap.\r\n"
    );
    // RESP2 without REDIRECT is accepted, as in Redis 7.0 (it just receives nothing).
    assert_eq!(e(&["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    assert_eq!(e(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
}

#[test]
fn default_mode_invalidates_what_was_read() {
    let t = TestCtx::new();
    let mut a = resp3_client(&t);
    let mut b = t.new_session();
    t.run_as(&mut b, &["SET", "k", "1"]);
    assert_eq!(t.run_as(&mut a, &["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    assert!(a.handle.flags().contains('t'));
    assert!(t.srv.ks.watches.active(), "the keyspace listens");
    // A write to a key nobody read sends nothing.
    t.run_as(&mut b, &["SET", "k", "2"]);
    assert_eq!(drain(&a), "");
    t.run_as(&mut a, &["GET", "k"]);
    t.run_as(&mut a, &["MGET", "x", "y"]);
    assert_eq!(t.srv.tracking.total_keys(), 3);
    t.run_as(&mut b, &["SET", "k", "3"]);
    assert_eq!(drain(&a), inval(&["k"]));
    // Forgotten until read again.
    t.run_as(&mut b, &["SET", "k", "4"]);
    assert_eq!(drain(&a), "");
    // A multi-key write: one message per key, as Redis.
    t.run_as(&mut b, &["MSET", "x", "1", "y", "2"]);
    assert_eq!(drain(&a), inval(&["x"]) + &inval(&["y"]));
    // Writes that change nothing do not invalidate (nor do they touch WATCH).
    t.run_as(&mut a, &["SMEMBERS", "s"]);
    t.run_as(&mut b, &["SREM", "s", "m"]);
    assert_eq!(drain(&a), "");
    // The client's own write invalidates too (no NOLOOP); other databases are the same
    // key to tracking.
    t.run_as(&mut a, &["GET", "k"]);
    t.run_as(&mut b, &["SELECT", "1"]);
    t.run_as(&mut b, &["SET", "k", "other-db"]);
    assert_eq!(drain(&a), inval(&["k"]));
    t.run_as(&mut a, &["GET", "k"]);
    t.run_as(&mut a, &["SET", "k", "mine"]);
    assert_eq!(drain(&a), inval(&["k"]));
    // Expiry invalidates: the lookup that finds the key expired removes it.
    t.run_as(&mut b, &["SELECT", "0"]);
    t.run_as(&mut b, &["SET", "e", "v", "PX", "10"]);
    t.run_as(&mut a, &["GET", "e"]);
    t.advance_ms(20);
    t.run_as(&mut b, &["EXISTS", "e"]);
    assert_eq!(drain(&a), inval(&["e"]));
    // Tracking off: nothing more, and the keyspace stops listening.
    t.run_as(&mut a, &["GET", "k"]);
    assert_eq!(t.run_as(&mut a, &["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    t.run_as(&mut b, &["SET", "k", "5"]);
    assert_eq!(drain(&a), "");
    assert_eq!(t.srv.tracking.clients(), 0);
    assert_eq!(t.srv.tracking.total_keys(), 0);
    assert!(!t.srv.ks.watches.active());
    assert_eq!(a.handle.flags(), "N");
}

#[test]
fn noloop_spares_the_writer() {
    let t = TestCtx::new();
    let mut a = resp3_client(&t);
    let mut b = t.new_session();
    t.run_as(&mut a, &["CLIENT", "TRACKING", "on", "NOLOOP"]);
    t.run_as(&mut a, &["GET", "k"]);
    t.run_as(&mut a, &["SET", "k", "1"]);
    assert_eq!(drain(&a), "");
    t.run_as(&mut a, &["GET", "k"]);
    t.run_as(&mut b, &["SET", "k", "2"]);
    assert_eq!(drain(&a), inval(&["k"]));
    // Inside EXEC and scripts the writer is still the client.
    t.run_as(&mut a, &["GET", "k"]);
    t.run_as(&mut a, &["MULTI"]);
    t.run_as(&mut a, &["SET", "k", "3"]);
    t.run_as(&mut a, &["EXEC"]);
    t.run_as(
        &mut a,
        &["EVAL", "redis.call('set', KEYS[1], 'x')", "1", "k"],
    );
    assert_eq!(drain(&a), "");
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let t = TestCtx::new();
    let mut a = resp3_client(&t);
    let mut b = t.new_session();
    t.run_as(&mut a, &["CLIENT", "TRACKING", "on", "OPTIN"]);
    t.run_as(&mut a, &["GET", "plain"]);
    assert_eq!(t.run_as(&mut a, &["CLIENT", "CACHING", "yes"]), "+OK\r\n");
    // Another CLIENT command keeps the flag for the read after it.
    t.run_as(&mut a, &["CLIENT", "ID"]);
    t.run_as(&mut a, &["GET", "opted"]);
    t.run_as(&mut a, &["GET", "after"]);
    t.run_as(&mut b, &["MSET", "plain", "1", "opted", "1", "after", "1"]);
    assert_eq!(drain(&a), inval(&["opted"]));
    // CACHING yes before MULTI covers the whole transaction.
    t.run_as(&mut a, &["CLIENT", "CACHING", "yes"]);
    t.run_as(&mut a, &["MULTI"]);
    t.run_as(&mut a, &["GET", "t1"]);
    t.run_as(&mut a, &["GET", "t2"]);
    t.run_as(&mut a, &["EXEC"]);
    t.run_as(&mut a, &["GET", "t3"]);
    t.run_as(&mut b, &["MSET", "t1", "1", "t2", "1", "t3", "1"]);
    assert_eq!(drain(&a), inval(&["t1"]) + &inval(&["t2"]));
    let info = t.run_as(&mut a, &["CLIENT", "TRACKINGINFO"]);
    assert_eq!(
        info,
        "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\noptin\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    t.run_as(&mut a, &["CLIENT", "TRACKING", "off"]);

    t.run_as(&mut a, &["CLIENT", "TRACKING", "on", "OPTOUT"]);
    t.run_as(&mut a, &["CLIENT", "CACHING", "no"]);
    let info = t.run_as(&mut a, &["CLIENT", "TRACKINGINFO"]);
    assert!(
        info.contains("$6\r\noptout\r\n$10\r\ncaching-no\r\n"),
        "{info}"
    );
    t.run_as(&mut a, &["GET", "skipped"]);
    t.run_as(&mut a, &["GET", "kept"]);
    t.run_as(&mut b, &["MSET", "skipped", "1", "kept", "1"]);
    assert_eq!(drain(&a), inval(&["kept"]));
}

#[test]
fn bcast_prefixes_batch_keys() {
    let t = TestCtx::new();
    let mut a = resp3_client(&t);
    let mut b = t.new_session();
    assert_eq!(
        t.run_as(
            &mut a,
            &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:", "NOLOOP"]
        ),
        "+OK\r\n"
    );
    assert!(a.handle.flags().contains("tB"));
    assert_eq!(t.srv.tracking.total_prefixes(), 2);
    // No read needed; keys arrive batched, sorted, per prefix, once flushed.
    t.run_as(
        &mut b,
        &["MSET", "user:2", "x", "user:1", "y", "other", "z"],
    );
    assert_eq!(drain(&a), "");
    assert!(t.srv.tracking.bcast_pending());
    t.srv.tracking.flush_bcast();
    assert_eq!(drain(&a), inval(&["user:1", "user:2"]));
    // NOLOOP: the client's own changes are left out.
    t.run_as(&mut a, &["SET", "obj:mine", "1"]);
    t.run_as(&mut b, &["SET", "obj:theirs", "1"]);
    t.srv.tracking.flush_bcast();
    assert_eq!(drain(&a), inval(&["obj:theirs"]));
    let info = t.run_as(&mut a, &["CLIENT", "TRACKINGINFO"]);
    assert!(
        info.contains("~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n")
            && info.ends_with("*2\r\n$4\r\nobj:\r\n$5\r\nuser:\r\n"),
        "{info}"
    );
    // No prefix = every key.
    let mut c = resp3_client(&t);
    t.run_as(&mut c, &["CLIENT", "TRACKING", "on", "BCAST"]);
    t.run_as(&mut b, &["DEL", "other"]);
    t.srv.tracking.flush_bcast();
    assert_eq!(drain(&c), inval(&["other"]));
    drop(a);
    assert_eq!(t.srv.tracking.total_prefixes(), 1);
}

#[test]
fn redirect_to_a_resp2_subscriber_and_broken_redirects() {
    let t = TestCtx::new();
    let mut r = t.new_session();
    t.run_as(&mut r, &["SUBSCRIBE", "__redis__:invalidate"]);
    drain(&r);
    let mut a = t.new_session(); // RESP2
    let rid = r.id.to_string();
    assert_eq!(
        t.run_as(&mut a, &["CLIENT", "TRACKING", "on", "REDIRECT", &rid]),
        "+OK\r\n"
    );
    assert_eq!(
        t.run_as(&mut a, &["CLIENT", "GETREDIR"]),
        format!(":{rid}\r\n")
    );
    assert!(t
        .run_as(&mut a, &["CLIENT", "INFO"])
        .contains(&format!(" redir={rid} ")));
    t.run_as(&mut a, &["GET", "k"]);
    t.run(&["SET", "k", "v"]);
    assert_eq!(
        drain(&r),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    t.run(&["FLUSHALL"]);
    assert_eq!(
        drain(&r),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    );
    assert_eq!(drain(&a), "", "a RESP2 client gets nothing itself");
    // The redirect client leaves: a RESP3 tracking client is told, and flagged R.
    t.run_as(&mut a, &["HELLO", "3"]);
    t.run_as(&mut a, &["GET", "k"]);
    let rid_n = r.id;
    t.srv.clients.unregister(rid_n);
    drop(r);
    t.run(&["SET", "k", "w"]);
    assert_eq!(
        drain(&a),
        format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{rid}\r\n")
    );
    assert!(a.handle.flags().contains("tR"));
    assert!(t
        .run_as(&mut a, &["CLIENT", "TRACKINGINFO"])
        .contains("$15\r\nbroken_redirect\r\n"));
}

#[test]
fn flush_sends_null_and_empties_the_table() {
    let t = TestCtx::new();
    let mut a = resp3_client(&t);
    let mut c = resp3_client(&t);
    t.run_as(&mut a, &["CLIENT", "TRACKING", "on"]);
    t.run_as(&mut c, &["CLIENT", "TRACKING", "on", "BCAST"]);
    t.run_as(&mut a, &["GET", "k"]);
    t.run(&["FLUSHDB"]);
    assert_eq!(drain(&a), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_eq!(drain(&c), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_eq!(t.srv.tracking.total_keys(), 0);
    assert_eq!(t.srv.tracking.total_items(), 0);
}

#[test]
fn table_limit_forgets_keys_telling_clients() {
    let t = TestCtx::new();
    let mut a = resp3_client(&t);
    t.run(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    t.run_as(&mut a, &["CLIENT", "TRACKING", "on"]);
    t.run_as(&mut a, &["MGET", "a", "b", "c", "d", "e"]);
    assert!(t.srv.tracking.total_keys() <= 2);
    let got = drain(&a);
    assert_eq!(got.matches("invalidate").count(), 3, "{got}");
    t.run(&["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    t.srv.tracking.cron();
    t.run_as(&mut a, &["MGET", "a", "b", "c", "d", "e"]);
    assert_eq!(t.srv.tracking.total_keys(), 5);
}

#[test]
fn info_and_client_list_show_tracking() {
    let t = TestCtx::new();
    let mut a = resp3_client(&t);
    t.run_as(&mut a, &["CLIENT", "TRACKING", "on"]);
    t.run_as(&mut a, &["GET", "k"]);
    let info = t.run(&["INFO", "clients"]);
    assert!(info.contains("tracking_clients:1\r\n"), "{info}");
    let info = t.run(&["INFO", "stats"]);
    assert!(
        info.contains("tracking_total_keys:1\r\n")
            && info.contains("tracking_total_items:1\r\n")
            && info.contains("tracking_total_prefixes:0\r\n"),
        "{info}"
    );
    assert!(t.run(&["CLIENT", "LIST"]).contains(" flags=t "));
    assert_eq!(t.run_as(&mut a, &["CLIENT", "GETREDIR"]), ":0\r\n");
    assert_eq!(t.run(&["CLIENT", "GETREDIR"]), ":-1\r\n");
    assert_eq!(
        t.run(&["CLIENT", "TRACKINGINFO"]),
        "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
    );
}
