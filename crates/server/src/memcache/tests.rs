//! Unit tests of the memcached door, in-process: requests go through `McCodec` as the
//! connection loop would feed them, against a `TestCtx` server on a manual clock, and RESP
//! commands on the same server check what the other doors see.

use super::*;
use commands::testing::TestCtx;

/// Feed `input` through a fresh codec as the connection loop does; the replies as a string.
fn run_with(t: &TestCtx, c: &mut McCodec, input: &[u8]) -> String {
    let mut out = Vec::new();
    let mut sess = t.sess.lock();
    let mut off = 0;
    loop {
        match c.parse(&input[off..], sess.authenticated) {
            Ok(Frame::Incomplete { .. }) => break,
            Ok(Frame::Empty { consumed }) => off += consumed,
            Ok(Frame::Native { consumed }) => {
                let after = c.run_native(&t.srv, &mut sess, &input[off..off + consumed], &mut out);
                off += consumed;
                match after {
                    After::Continue => {}
                    After::Close => {
                        out.extend_from_slice(b"<closed>");
                        break;
                    }
                    // The loop drops the replies not yet written.
                    After::Abort => {
                        out.clear();
                        out.extend_from_slice(b"<aborted>");
                        break;
                    }
                }
            }
            Ok(Frame::Command { .. }) => unreachable!(),
            Err(e) => {
                c.protocol_error(&e.0, &mut out);
                break;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn run(t: &TestCtx, input: &str) -> String {
    run_with(t, &mut McCodec::new(), input.as_bytes())
}

/// The CAS `gets` reports for `key`.
fn cas_of(t: &TestCtx, key: &str) -> u64 {
    let r = run(t, &format!("gets {key}\r\n"));
    r.split("\r\n")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn set_get_and_flags() {
    let t = TestCtx::new();
    assert_eq!(run(&t, "set k 42 0 5\r\nhello\r\n"), "STORED\r\n");
    assert_eq!(run(&t, "get k\r\n"), "VALUE k 42 5\r\nhello\r\nEND\r\n");
    assert_eq!(
        run(&t, "get nope k nope\r\n"),
        "VALUE k 42 5\r\nhello\r\nEND\r\n"
    );
    assert_eq!(run(&t, "get nope\r\n"), "END\r\n");
    // The other doors see the bytes only.
    assert_eq!(t.run(&["GET", "k"]), "$5\r\nhello\r\n");
    assert_eq!(t.run(&["STRLEN", "k"]), ":5\r\n");
    // Flags are 32-bit.
    assert_eq!(
        run(&t, "set f 4294967295 0 1\r\nx\r\nget f\r\n"),
        "STORED\r\nVALUE f 4294967295 1\r\nx\r\nEND\r\n"
    );
    // A key set through RESP reads with flags 0.
    t.run(&["SET", "r", "resp"]);
    assert_eq!(run(&t, "get r\r\n"), "VALUE r 0 4\r\nresp\r\nEND\r\n");
    // Empty values.
    assert_eq!(
        run(&t, "set e 1 0 0\r\n\r\nget e\r\n"),
        "STORED\r\nVALUE e 1 0\r\n\r\nEND\r\n"
    );
}

#[test]
fn add_replace_append_prepend() {
    let t = TestCtx::new();
    assert_eq!(
        run(&t, "add k 1 0 1\r\na\r\nadd k 2 0 1\r\nb\r\n"),
        "STORED\r\nNOT_STORED\r\n"
    );
    assert_eq!(
        run(&t, "replace nope 0 0 1\r\nx\r\nreplace k 3 0 1\r\nc\r\n"),
        "NOT_STORED\r\nSTORED\r\n"
    );
    assert_eq!(
        run(&t, "append k 9 0 2\r\nde\r\nprepend k 9 0 2\r\nab\r\n"),
        "STORED\r\nSTORED\r\n"
    );
    // append/prepend keep the item's flags.
    assert_eq!(run(&t, "get k\r\n"), "VALUE k 3 5\r\nabcde\r\nEND\r\n");
    assert_eq!(
        run(&t, "append nope 0 0 1\r\nx\r\nprepend nope 0 0 1\r\nx\r\n"),
        "NOT_STORED\r\nNOT_STORED\r\n"
    );
}

#[test]
fn cas_semantics() {
    let t = TestCtx::new();
    assert_eq!(run(&t, "cas k 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n");
    run(&t, "set k 0 0 1\r\na\r\n");
    let c = cas_of(&t, "k");
    assert!(c > 0);
    assert_eq!(cas_of(&t, "k"), c, "a read does not change the CAS");
    assert_eq!(
        run(&t, &format!("cas k 5 0 1 {}\r\nb\r\n", c + 1)),
        "EXISTS\r\n"
    );
    assert_eq!(run(&t, &format!("cas k 5 0 1 {c}\r\nb\r\n")), "STORED\r\n");
    assert_eq!(run(&t, &format!("cas k 5 0 1 {c}\r\nc\r\n")), "EXISTS\r\n");
    // Every modification, through any door, changes the CAS.
    let c1 = cas_of(&t, "k");
    assert_ne!(c1, c);
    t.run(&["APPEND", "k", "!"]);
    let c2 = cas_of(&t, "k");
    assert_ne!(c2, c1);
    assert_eq!(run(&t, &format!("cas k 0 0 1 {c1}\r\nz\r\n")), "EXISTS\r\n");
    assert_eq!(
        run(&t, "get k\r\n"),
        "VALUE k 5 2\r\nb!\r\nEND\r\n",
        "APPEND keeps flags"
    );
    t.run(&["SET", "k", "resp"]);
    assert_eq!(run(&t, &format!("cas k 0 0 1 {c2}\r\nz\r\n")), "EXISTS\r\n");
    assert_eq!(
        run(&t, "get k\r\n"),
        "VALUE k 0 4\r\nresp\r\nEND\r\n",
        "SET resets flags"
    );
    t.run(&["SETRANGE", "k", "0", "R"]);
    let c3 = cas_of(&t, "k");
    t.run(&["INCR", "n"]);
    run(&t, "incr n 1\r\n");
    assert_eq!(run(&t, &format!("cas k 0 0 1 {c3}\r\nz\r\n")), "STORED\r\n");
    let stats = run(&t, "stats\r\n");
    assert!(
        stats.contains("STAT cas_hits 2\r\n")
            && stats.contains("STAT cas_badval 4\r\n")
            && stats.contains("STAT cas_misses 1\r\n"),
        "{stats}"
    );
}

#[test]
fn delete_incr_decr() {
    let t = TestCtx::new();
    run(&t, "set n 7 0 2\r\n10\r\n");
    assert_eq!(
        run(&t, "incr n 5\r\ndecr n 100\r\nincr nope 1\r\n"),
        "15\r\n0\r\nNOT_FOUND\r\n"
    );
    assert_eq!(run(&t, "get n\r\n"), "VALUE n 7 1\r\n0\r\nEND\r\n");
    run(&t, "set n 0 0 20\r\n18446744073709551615\r\n");
    assert_eq!(run(&t, "incr n 2\r\n"), "1\r\n", "incr wraps at 2^64");
    run(&t, "set s 0 0 3\r\nabc\r\n");
    assert_eq!(
        run(&t, "incr s 1\r\n"),
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    );
    assert_eq!(
        run(&t, "incr n 1 noreply\r\nincr s 1 noreply\r\nget n\r\n"),
        "VALUE n 0 1\r\n2\r\nEND\r\n"
    );
    // RESP sees a number it can INCR.
    assert_eq!(t.run(&["INCR", "n"]), ":3\r\n");
    assert_eq!(run(&t, "delete n\r\ndelete n\r\ndelete s 0\r\ndelete s 1\r\n"),
        "DELETED\r\nNOT_FOUND\r\nDELETED\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
}

#[test]
fn expiry_rules() {
    let t = TestCtx::new();
    let now_s = 1_700_000_000u64;
    run(&t, "set rel 0 100 1\r\nx\r\n");
    assert_eq!(t.run(&["TTL", "rel"]), ":100\r\n");
    run(&t, &format!("set abs 0 {} 1\r\nx\r\n", now_s + 50));
    assert_eq!(t.run(&["TTL", "abs"]), ":50\r\n");
    assert_eq!(
        run(&t, "set neg 0 -1 1\r\nx\r\nget neg\r\n"),
        "STORED\r\nEND\r\n"
    );
    assert_eq!(
        run(
            &t,
            &format!("set past 0 {} 1\r\nx\r\nget past\r\n", now_s - 10)
        ),
        "STORED\r\nEND\r\n"
    );
    assert_eq!(
        run(&t, "touch rel 10\r\ntouch nope 10\r\n"),
        "TOUCHED\r\nNOT_FOUND\r\n"
    );
    assert_eq!(t.run(&["TTL", "rel"]), ":10\r\n");
    assert_eq!(run(&t, "gat 0 rel\r\n"), "VALUE rel 0 1\r\nx\r\nEND\r\n");
    assert_eq!(t.run(&["TTL", "rel"]), ":-1\r\n");
    let r = run(&t, "gats 30 rel\r\n");
    assert!(r.starts_with("VALUE rel 0 1 "), "{r}");
    assert_eq!(t.run(&["TTL", "rel"]), ":30\r\n");
    t.advance_ms(31_000);
    assert_eq!(run(&t, "get rel\r\n"), "END\r\n");
    let stats = run(&t, "stats\r\n");
    assert!(stats.contains("STAT get_expired 1\r\n"), "{stats}");
    // A TTL set through RESP shows in mg t.
    t.run(&["SET", "p", "v", "EX", "77"]);
    assert_eq!(run(&t, "mg p t\r\n"), "HD t77\r\n");
}

#[test]
fn flush_all_now_and_delayed() {
    let t = TestCtx::new();
    run(&t, "set a 0 0 1\r\nx\r\n");
    assert_eq!(run(&t, "flush_all\r\nget a\r\n"), "OK\r\nEND\r\n");
    run(&t, "set a 0 0 1\r\nx\r\n");
    assert_eq!(
        run(&t, "flush_all 10\r\nget a\r\n"),
        "OK\r\nVALUE a 0 1\r\nx\r\nEND\r\n"
    );
    t.advance_ms(10_000);
    assert_eq!(run(&t, "get a\r\n"), "END\r\n");
    assert_eq!(
        run(&t, "flush_all noreply\r\nversion\r\n"),
        format!("VERSION {VERSION}\r\n")
    );
}

#[test]
fn collections_are_misses_for_values() {
    let t = TestCtx::new();
    t.run(&["RPUSH", "l", "a"]);
    assert_eq!(run(&t, "get l\r\ngets l\r\n"), "END\r\nEND\r\n");
    assert_eq!(run(&t, "mg l v\r\n"), "EN\r\n");
    assert_eq!(
        run(&t, "append l 0 0 1\r\nx\r\nincr l 1\r\n"),
        "NOT_STORED\r\nNOT_FOUND\r\n"
    );
    assert_eq!(
        run(&t, "cas l 0 0 1 5\r\nx\r\nadd l 0 0 1\r\nx\r\n"),
        "NOT_FOUND\r\nNOT_STORED\r\n"
    );
    assert_eq!(t.run(&["TYPE", "l"]), "+list\r\n");
    assert_eq!(
        run(&t, "set l 3 0 1\r\nx\r\nget l\r\n"),
        "STORED\r\nVALUE l 3 1\r\nx\r\nEND\r\n"
    );
}

#[test]
fn oom_and_too_large() {
    let t = TestCtx::new();
    t.run(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    t.run(&["SET", "filler", &"x".repeat(4000)]);
    t.run(&["CONFIG", "SET", "maxmemory", "1000"]);
    assert_eq!(
        run(&t, "set k 0 0 1\r\nx\r\n"),
        "SERVER_ERROR out of memory storing object\r\n"
    );
    assert_eq!(
        run(&t, "ms k 1\r\nx\r\n"),
        "SERVER_ERROR out of memory storing object\r\n"
    );
    assert_eq!(run(&t, "get filler\r\n").len(), 4000 + 28);
    t.run(&["CONFIG", "SET", "maxmemory", "0"]);
    let mut c = McCodec::new();
    c.set_max_bulk_len(512 << 20);
    let mut big = b"set old 0 0 1\r\nx\r\nset old 0 0 1048577\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'y', 1048577));
    big.extend_from_slice(b"\r\nget old\r\n");
    assert_eq!(
        run_with(&t, &mut c, &big),
        "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n"
    );
    // A 1 MiB value is fine.
    let mut ok = b"set big 0 0 1048576\r\n".to_vec();
    ok.extend(std::iter::repeat_n(b'z', 1 << 20));
    ok.extend_from_slice(b"\r\n");
    assert_eq!(run_with(&t, &mut c, &ok), "STORED\r\n");
    assert_eq!(t.run(&["STRLEN", "big"]), ":1048576\r\n");
    // proto-max-bulk-len lowers the limit.
    c.set_max_bulk_len(4);
    assert_eq!(
        run_with(&t, &mut c, b"set k 0 0 5\r\n12345\r\n"),
        "SERVER_ERROR object too large for cache\r\n"
    );
}

#[test]
fn auth_like_memcached_dash_y() {
    let t = TestCtx::new();
    t.run(&["CONFIG", "SET", "requirepass", "sekret"]);
    t.sess.lock().authenticated = false;
    let mut c = McCodec::new();
    assert_eq!(
        run_with(&t, &mut c, b"get k\r\n"),
        "CLIENT_ERROR unauthenticated\r\n"
    );
    assert_eq!(
        run_with(&t, &mut c, b"set a 0 0 9\r\nuser nope\r\n"),
        "CLIENT_ERROR authentication failure\r\n"
    );
    assert_eq!(
        run_with(&t, &mut c, b"set a 0 0 4\r\nuser\r\n"),
        "CLIENT_ERROR authentication failure\r\n"
    );
    assert_eq!(
        run_with(&t, &mut c, b"set a 0 0 11\r\nuser sekret\r\nget a\r\n"),
        "STORED\r\nEND\r\n"
    );
    let stats = run_with(&t, &mut c, b"stats\r\n");
    assert!(
        stats.contains("STAT auth_cmds 3\r\n") && stats.contains("STAT auth_errors 2\r\n"),
        "{stats}"
    );
}

#[test]
fn meta_get_set_delete() {
    let t = TestCtx::new();
    assert_eq!(run(&t, "ms k 3 F5 T100\r\nabc\r\n"), "HD\r\n");
    assert_eq!(
        run(&t, "mg k v f t s k O9\r\n"),
        "VA 3 f5 t100 s3 kk O9\r\nabc\r\n"
    );
    assert_eq!(
        run(&t, "mg k\r\nmg nope v\r\nmg nope v q\r\nmn\r\n"),
        "HD\r\nEN\r\nMN\r\n"
    );
    assert_eq!(
        run(&t, "mg nope k Oxy\r\n"),
        "EN kk Oxy\r\n".replace("kk", "knope").as_str()
    );
    // h: fetched before; l: idle seconds.
    assert_eq!(run(&t, "mg k h\r\n"), "HD h1\r\n");
    let r = run(&t, "ms c 1 c\r\nx\r\n");
    let cas: u64 = r.trim_end().strip_prefix("HD c").unwrap().parse().unwrap();
    assert_eq!(run(&t, "mg c c\r\n"), format!("HD c{cas}\r\n"));
    assert_eq!(run(&t, &format!("ms c 1 C{}\r\ny\r\n", cas + 1)), "EX\r\n");
    assert_eq!(run(&t, &format!("ms c 1 C{cas}\r\ny\r\n")), "HD\r\n");
    assert_eq!(
        run(&t, "ms c 1 C1\r\ny\r\nms nope 1 C1\r\ny\r\n"),
        "EX\r\nNF\r\n"
    );
    assert_eq!(
        run(&t, "ms e 1 E777\r\ny\r\nmg e c\r\n"),
        "HD\r\nHD c777\r\n"
    );
    // Modes.
    assert_eq!(
        run(&t, "ms k 2 MA\r\nde\r\nms k 1 MP\r\n_\r\nmg k v f\r\n"),
        "HD\r\nHD\r\nVA 6 f5\r\n_abcde\r\n"
    );
    assert_eq!(
        run(
            &t,
            "ms k 1 ME\r\nx\r\nms none 1 MR\r\nx\r\nms none 1 MA\r\nx\r\n"
        ),
        "NS\r\nNS\r\nNS\r\n"
    );
    assert_eq!(run(&t, "ms q 1 q\r\nx\r\nmn\r\n"), "MN\r\n");
    // Base64 keys.
    assert_eq!(
        run(&t, "ms Zm9v 3 b\r\nbar\r\nget foo\r\nmg Zm9v b k v\r\n"),
        "HD\r\nVALUE foo 0 3\r\nbar\r\nEND\r\nVA 3 kZm9v b\r\nbar\r\n"
    );
    assert_eq!(
        run(&t, "mg !!! b v\r\n"),
        "CLIENT_ERROR error decoding key\r\n"
    );
    // md.
    // q hides HD only.
    assert_eq!(
        run(&t, "md k q\r\nmd k\r\nmd k q\r\nmn\r\n"),
        "NF\r\nNF\r\nMN\r\n"
    );
    assert_eq!(
        run(&t, "md e C1\r\nmd e C777 kk\r\n"),
        "EX\r\nHD kk\r\n".replace(" kk", " ke").as_str()
    );
}

#[test]
fn meta_arith_and_stale_items() {
    let t = TestCtx::new();
    assert_eq!(run(&t, "ma n\r\n"), "NF\r\n");
    assert_eq!(
        run(
            &t,
            "ma n N0 J13 v\r\nma n v\r\nma n MD D20 v\r\nma n q\r\nmn\r\n"
        ),
        "VA 2\r\n13\r\nVA 2\r\n14\r\nVA 1\r\n0\r\nMN\r\n"
    );
    assert_eq!(run(&t, "ma n v t k\r\n"), "VA 1 t-1 kn\r\n2\r\n");
    run(&t, "set s 0 0 1\r\nx\r\n");
    assert_eq!(
        run(&t, "ma s\r\n"),
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    );
    // Vivify on miss: the first client wins, the next see Z.
    assert_eq!(
        run(&t, "mg v N30 v t\r\nmg v N30 v t\r\n"),
        "VA 0 t30 W\r\n\r\nVA 0 t30 Z\r\n\r\n"
    );
    // Recache when the TTL left is low.
    run(&t, "ms r 1 T100\r\nx\r\n");
    assert_eq!(
        run(&t, "mg r R200 v\r\nmg r R200 v\r\n"),
        "VA 1 W\r\nx\r\nVA 1 Z\r\nx\r\n"
    );
    // md I marks stale; the next reader wins the recache.
    run(&t, "ms st 1\r\nx\r\n");
    assert_eq!(
        run(&t, "md st I\r\nmg st\r\nmg st\r\n"),
        "HD\r\nHD X W\r\nHD Z X\r\n"
    );
    assert_eq!(
        run(&t, "md st x\r\nmg st v f\r\n"),
        "HD\r\nVA 0 f0 Z X\r\n\r\n"
    );
    assert!(run(&t, "me st\r\n").starts_with("ME st exp=-1 la=0 cas="));
    assert_eq!(run(&t, "me nope\r\n"), "EN\r\n");
}

#[test]
fn pipelines_errors_and_quit() {
    let t = TestCtx::new();
    let mut input = String::new();
    let mut want = String::new();
    for i in 0..100 {
        input.push_str(&format!(
            "set k{i} {i} 0 {}\r\n{i}\r\nget k{i}\r\n",
            i.to_string().len()
        ));
        want.push_str(&format!(
            "STORED\r\nVALUE k{i} {i} {}\r\n{i}\r\nEND\r\n",
            i.to_string().len()
        ));
    }
    assert_eq!(run(&t, &input), want);
    assert_eq!(
        run(&t, "bogus\r\nGET k1\r\nset k 0 0 1\r\nxx\r\nversion\r\n"),
        format!("ERROR\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nVERSION {VERSION}\r\n")
    );
    assert_eq!(
        run(&t, "verbosity 1\r\nquit\r\nversion\r\n"),
        "OK\r\n<closed>"
    );
    assert_eq!(run(&t, &"x".repeat(3000)), "CLIENT_ERROR line too long\r\n");
    assert_eq!(
        run(&t, "stats nope\r\nstats proxy\r\nstats reset extra\r\n"),
        "ERROR\r\nERROR\r\nRESET\r\n"
    );
    let s = run(&t, "stats\r\n");
    for f in [
        "pid",
        "uptime",
        "time",
        "version",
        "curr_connections",
        "total_connections",
        "cmd_get",
        "cmd_set",
        "get_hits",
        "curr_items",
        "bytes",
        "limit_maxbytes",
        "threads",
        "evictions",
        "total_items",
    ] {
        assert!(s.contains(&format!("STAT {f} ")), "{f} missing: {s}");
    }
    assert!(s.ends_with("END\r\n"));
}

#[test]
fn parse_counter_is_memcacheds_strtoull() {
    assert_eq!(parse_counter(b"10"), Some(10));
    assert_eq!(parse_counter(b" 5"), Some(5));
    assert_eq!(parse_counter(b"5  "), Some(5));
    assert_eq!(parse_counter(b"007"), Some(7));
    assert_eq!(parse_counter(b"5a"), None);
    assert_eq!(parse_counter(b""), None);
    assert_eq!(parse_counter(b"-1"), None);
    assert_eq!(parse_counter(b"18446744073709551616"), None);
}

#[test]
fn ttl_rules() {
    let now = 1_700_000_000_000;
    assert_eq!(ttl_of(0, now), Ttl::Never);
    assert_eq!(ttl_of(-1, now), Ttl::Gone);
    assert_eq!(ttl_of(REL_MAX, now), Ttl::At(now + REL_MAX as u64 * 1000));
    assert_eq!(ttl_of(REL_MAX + 1, now), Ttl::Gone);
    assert_eq!(ttl_of(1_700_000_100, now), Ttl::At(1_700_000_100_000));
}

#[test]
fn http_request_lines_close_unanswered() {
    let t = TestCtx::new();
    // Replies still buffered are dropped with the connection, as memcached drops them.
    assert_eq!(
        run(&t, "version\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        "<aborted>"
    );
    assert_eq!(run(&t, "delete HTTP/1.1\r\n"), "NOT_FOUND\r\n");
}

#[test]
fn cache_memlimit_sets_maxmemory() {
    let t = TestCtx::new();
    assert_eq!(run(&t, "cache_memlimit 100\r\n"), "OK\r\n");
    assert_eq!(t.srv.settings.evict.maxmemory(), 100 << 20);
    assert_eq!(
        t.run(&["CONFIG", "GET", "maxmemory"]),
        format!("*2\r\n$9\r\nmaxmemory\r\n$9\r\n{}\r\n", 100u64 << 20)
    );
    assert_eq!(run(&t, "cache_memlimit 8 noreply\r\nmn\r\n"), "MN\r\n");
    assert_eq!(t.srv.settings.evict.maxmemory(), 8 << 20);
    assert_eq!(
        run(
            &t,
            "cache_memlimit 7\r\ncache_memlimit 1000000001\r\ncache_memlimit x\r\n"
        ),
        "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n\
         MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\nERROR\r\n"
    );
    assert_eq!(t.srv.settings.evict.maxmemory(), 8 << 20);
    let s = run(&t, "stats settings\r\n");
    assert!(
        s.contains(&format!("STAT maxbytes {}\r\n", 8u64 << 20)),
        "{s}"
    );
    let s = run(&t, "stats\r\n");
    assert!(
        s.contains(&format!("STAT limit_maxbytes {}\r\n", 8u64 << 20)),
        "{s}"
    );
}

#[test]
fn slabs_items_sizes_and_cachedump() {
    let t = TestCtx::new();
    // Empty: no class, as memcached before its first item.
    assert_eq!(
        run(&t, "stats slabs\r\n"),
        format!(
            "STAT active_slabs 0\r\nSTAT total_malloced {}\r\nEND\r\n",
            t.srv.ks.used_memory()
        )
    );
    assert_eq!(run(&t, "stats items\r\n"), "END\r\n");
    assert_eq!(run(&t, "stats cachedump 1 0\r\n"), "END\r\n");
    assert_eq!(
        run(&t, "stats sizes\r\n"),
        "STAT sizes_status disabled\r\nEND\r\n"
    );
    assert_eq!(run(&t, "stats extstore\r\n"), "END\r\n");
    run(
        &t,
        "set a 0 0 5\r\nhello\r\nset b 5 100 3\r\nxyz\r\nget a\r\n",
    );
    t.run(&["SET", "has space", "v"]);
    t.run(&["RPUSH", "list", "v"]);
    let s = run(&t, "stats slabs extra\r\n");
    for line in [
        "STAT 1:chunk_size 1048576\r\n",
        "STAT 1:used_chunks 4\r\n",
        "STAT 1:get_hits 1\r\n",
        "STAT 1:cmd_set 2\r\n",
        "STAT active_slabs 1\r\n",
    ] {
        assert!(s.contains(line), "{line:?} not in {s}");
    }
    assert!(s.ends_with(&format!(
        "STAT total_malloced {}\r\nEND\r\n",
        t.srv.ks.used_memory()
    )));
    let s = run(&t, "stats items\r\n");
    assert!(
        s.starts_with("STAT items:1:number 4\r\nSTAT items:1:number_hot 0\r\n"),
        "{s}"
    );
    assert_eq!(s.matches("STAT items:1:").count(), 28, "{s}");
    assert!(s.ends_with("STAT items:1:hits_to_temp 0\r\nEND\r\n"), "{s}");
    // Strings with printable keys only; the expiry as a unix time.
    let exp = t.srv.ks.now() / 1000 + 100;
    let mut items: Vec<String> = run(&t, "stats cachedump 1 0\r\n")
        .split("\r\n")
        .map(str::to_string)
        .collect();
    assert_eq!(items.pop().as_deref(), Some(""));
    assert_eq!(items.pop().as_deref(), Some("END"));
    items.sort();
    assert_eq!(
        items,
        [
            "ITEM a [5 b; 0 s]".to_string(),
            format!("ITEM b [3 b; {exp} s]")
        ]
    );
    assert_eq!(
        run(&t, "stats cachedump 1 1\r\n").matches("ITEM ").count(),
        1
    );
    assert_eq!(run(&t, "stats cachedump 2 10\r\n"), "END\r\n");
    assert_eq!(run(&t, "stats cachedump 63 10\r\n"), "END\r\n");
    assert_eq!(
        run(
            &t,
            "stats cachedump 64 1\r\nstats cachedump 1\r\nstats cachedump x 1\r\n"
        ),
        "CLIENT_ERROR Illegal slab id\r\nCLIENT_ERROR bad command line\r\n\
         CLIENT_ERROR bad command line format\r\n"
    );
}
