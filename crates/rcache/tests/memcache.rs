//! The memcached text protocol door over real sockets: every error line, noreply,
//! pipelining, meta commands, auth, OOM, big values, connection limits, and the same keys
//! seen through RESP (the `redis` crate) and the server's state.

use commands::Door;
use redis::Commands;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use testkit::TestServer;

fn connect(srv: &TestServer) -> TcpStream {
    let addr = srv.door_addr(Door::Memcache).expect("memcache door open");
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Send `input`, read until exactly `want.len()` bytes came back, compare.
fn expect(s: &mut TcpStream, input: &[u8], want: &str) {
    s.write_all(input).unwrap();
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("reading reply to {:?}: {e}", String::from_utf8_lossy(input)));
    assert_eq!(
        String::from_utf8_lossy(&got),
        want,
        "reply to {:?}",
        String::from_utf8_lossy(&input[..input.len().min(200)])
    );
}

/// Read everything until the server closes the connection.
fn read_to_close(s: &mut TcpStream) -> String {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v);
    String::from_utf8_lossy(&v).into_owned()
}

/// Send `input`, read until the reply ends with `END\r\n` (a stats reply).
fn until_end(s: &mut TcpStream, input: &[u8]) -> String {
    s.write_all(input).unwrap();
    let mut all = String::new();
    let mut buf = [0u8; 4096];
    while !all.ends_with("END\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {all:?}");
        all.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    all
}

#[test]
fn every_error_line() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    for (input, want) in [
        (&b"bogus\r\n"[..], "ERROR\r\n"),
        (b"\r\n", "ERROR\r\n"),
        (b"GET k\r\n", "ERROR\r\n"),
        (b"get\r\n", "ERROR\r\n"),
        (b"set k 0 0\r\n", "ERROR\r\n"),
        (
            b"set k x 0 1\r\n",
            "CLIENT_ERROR bad command line format\r\n",
        ),
        (
            b"set k 0 0 -1\r\n",
            "CLIENT_ERROR bad command line format\r\n",
        ),
        (
            b"set k 0 0 3\r\nabcd\r\n",
            "CLIENT_ERROR bad data chunk\r\nERROR\r\n",
        ),
        (
            b"incr k x\r\n",
            "CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        (
            b"touch k x\r\n",
            "CLIENT_ERROR invalid exptime argument\r\n",
        ),
        (b"gat x k\r\n", "CLIENT_ERROR invalid exptime argument\r\n"),
        (
            b"delete k 5\r\n",
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
        (b"get k\x00\r\n", "CLIENT_ERROR bad command line format\r\n"),
        (b"mg k zz\r\n", "CLIENT_ERROR invalid flag\r\n"),
        (b"mg k v v\r\n", "CLIENT_ERROR duplicate flag\r\n"),
        (
            b"mg k Tx\r\n",
            "CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"ms k 1 MZ\r\nx\r\n",
            "CLIENT_ERROR invalid mode for ms M token\r\n",
        ),
        (
            b"ma k MZ\r\n",
            "CLIENT_ERROR invalid mode for ma M token\r\n",
        ),
        (b"mg !! b\r\n", "CLIENT_ERROR error decoding key\r\n"),
        (b"stats nope\r\n", "ERROR\r\n"),
    ] {
        expect(&mut s, input, want);
    }
    let long = format!("get {}\r\n", "k".repeat(251));
    expect(
        &mut s,
        long.as_bytes(),
        "CLIENT_ERROR bad command line format\r\n",
    );
    expect(
        &mut s,
        b"set s 0 0 1\r\nx\r\nincr s 1\r\n",
        "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    // A line that never ends is fatal.
    s.write_all(&[b'x'; 5000]).unwrap();
    assert_eq!(read_to_close(&mut s), "CLIENT_ERROR line too long\r\n");
    // Others are unaffected.
    expect(
        &mut connect(&srv),
        b"version\r\n",
        &format!("VERSION {}\r\n", server::memcache::VERSION),
    );
}

#[test]
fn noreply_and_pipelining() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    // Quiet commands answer nothing; the version after them proves they ran in order.
    expect(
        &mut s,
        b"set a 1 0 1 noreply\r\nx\r\nadd a 0 0 1 noreply\r\ny\r\nappend a 0 0 1 noreply\r\nz\r\n\
incr n 1 noreply\r\ndelete nope noreply\r\ntouch a 100 noreply\r\nflush_all 0 noreply\r\n\
set b 0 0 1 noreply\r\nyy\r\nversion\r\n",
        // The bad chunk is quiet (noreply); the stray LF after it is an empty line: ERROR.
        &format!("ERROR\r\nVERSION {}\r\n", server::memcache::VERSION),
    );
    // Many commands in one write, answered in order.
    let mut input = Vec::new();
    let mut want = String::new();
    for i in 0..500 {
        input.extend_from_slice(
            format!("set key:{i} {i} 0 {}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes(),
        );
        want.push_str("STORED\r\n");
    }
    for i in 0..500 {
        input.extend_from_slice(format!("get key:{i}\r\n").as_bytes());
        want.push_str(&format!(
            "VALUE key:{i} {i} {}\r\nv{i}\r\nEND\r\n",
            format!("v{i}").len()
        ));
    }
    expect(&mut s, &input, &want);
    // A multi-get of all of them.
    let mut line = b"get".to_vec();
    let mut want = String::new();
    for i in 0..500 {
        line.extend_from_slice(format!(" key:{i}").as_bytes());
        want.push_str(&format!(
            "VALUE key:{i} {i} {}\r\nv{i}\r\n",
            format!("v{i}").len()
        ));
    }
    line.extend_from_slice(b"\r\n");
    want.push_str("END\r\n");
    expect(&mut s, &line, &want);
    // Byte by byte.
    let mut s2 = connect(&srv);
    for b in b"set slow 0 0 3\r\nabc\r\n" {
        s2.write_all(&[*b]).unwrap();
    }
    expect(
        &mut s2,
        b"get slow\r\n",
        "STORED\r\nVALUE slow 0 3\r\nabc\r\nEND\r\n",
    );
    expect(&mut s2, b"quit\r\n", "");
    assert_eq!(read_to_close(&mut s2), "");
}

#[test]
fn meta_commands() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    expect(&mut s, b"ms m 3 F9 T60\r\nabc\r\n", "HD\r\n");
    expect(
        &mut s,
        b"mg m v f t s k Oop\r\n",
        "VA 3 f9 t60 s3 km Oop\r\nabc\r\n",
    );
    expect(
        &mut s,
        b"mg none v q\r\nmg none v\r\nmn\r\n",
        "EN\r\nMN\r\n",
    );
    expect(
        &mut s,
        b"ma cnt N0 J10 v\r\nma cnt D5 v\r\nma cnt MD D100 v\r\n",
        "VA 2\r\n10\r\nVA 2\r\n15\r\nVA 1\r\n0\r\n",
    );
    expect(&mut s, b"md m q\r\nmd m\r\nmn\r\n", "NF\r\nMN\r\n");
    expect(
        &mut s,
        b"ms Zm9v 3 b\r\nbar\r\nmg Zm9v b k v\r\n",
        "HD\r\nVA 3 kZm9v b\r\nbar\r\n",
    );
    expect(
        &mut s,
        b"mg v N30 v\r\nmg v N30 v\r\n",
        "VA 0 W\r\n\r\nVA 0 Z\r\n\r\n",
    );
}

#[test]
fn cross_door_keys_flags_cas_and_ttl() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    let mut r = srv.connection();
    // memcached → RESP: the data bytes only; flags survive.
    expect(&mut s, b"set mc 123 0 5\r\nhello\r\n", "STORED\r\n");
    let v: Vec<u8> = r.get("mc").unwrap();
    assert_eq!(v, b"hello");
    let st = srv.state();
    let k = st.ks.key(b"mc");
    let (val, meta) = st
        .ks
        .txn1(0, &k)
        .peek(&k)
        .map(|e| (e.value().to_vec(), e.mc_meta()))
        .unwrap();
    assert_eq!((val.as_slice(), meta.flags), (&b"hello"[..], 123));
    let _: () = r.append("mc", "!").unwrap();
    expect(&mut s, b"get mc\r\n", "VALUE mc 123 6\r\nhello!\r\nEND\r\n");
    // RESP → memcached: flags 0.
    let _: () = r.set("rk", "from-resp").unwrap();
    expect(
        &mut s,
        b"get rk\r\n",
        "VALUE rk 0 9\r\nfrom-resp\r\nEND\r\n",
    );
    // RESP SET invalidates a CAS.
    s.write_all(b"gets rk\r\n").unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    let cas: u64 = line
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let _: () = r.set("rk", "changed").unwrap();
    expect(
        &mut s,
        format!("cas rk 0 0 1 {cas}\r\nx\r\n").as_bytes(),
        "EXISTS\r\n",
    );
    // TTL via memcached, seen via RESP TTL; TTL via RESP, seen via memcached.
    expect(&mut s, b"set t 0 100 1\r\nx\r\n", "STORED\r\n");
    let ttl: i64 = r.ttl("t").unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let _: () = redis::cmd("SET")
        .arg("rt")
        .arg("v")
        .arg("EX")
        .arg(50)
        .query(&mut r)
        .unwrap();
    s.write_all(b"mg rt t\r\n").unwrap();
    let n = s.read(&mut buf).unwrap();
    let t: i64 = String::from_utf8_lossy(&buf[..n])
        .trim()
        .strip_prefix("HD t")
        .unwrap()
        .parse()
        .unwrap();
    assert!((49..=50).contains(&t));
    // Deleted through RESP, gone here.
    let _: () = r.del("mc").unwrap();
    expect(&mut s, b"get mc\r\n", "END\r\n");
    // A collection is a miss for reads.
    let _: () = r.rpush("list", "a").unwrap();
    expect(&mut s, b"get list\r\n", "END\r\n");
}

#[test]
fn expiry_on_a_manual_clock() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let mut s = connect(&srv);
    expect(
        &mut s,
        b"set a 0 10 1\r\nx\r\nset b 0 1700000020 1\r\ny\r\n",
        "STORED\r\nSTORED\r\n",
    );
    srv.advance_ms(10_000);
    expect(&mut s, b"get a b\r\n", "VALUE b 0 1\r\ny\r\nEND\r\n");
    srv.advance_ms(10_000);
    expect(&mut s, b"get b\r\n", "END\r\n");
    expect(
        &mut s,
        b"set c 0 0 1\r\nz\r\nflush_all 5\r\nget c\r\n",
        "STORED\r\nOK\r\nVALUE c 0 1\r\nz\r\nEND\r\n",
    );
    srv.advance_ms(5_000);
    expect(&mut s, b"get c\r\n", "END\r\n");
}

#[test]
fn auth_oom_and_big_values() {
    let srv = TestServer::builder().requirepass("pw").start();
    let mut s = connect(&srv);
    expect(&mut s, b"get k\r\n", "CLIENT_ERROR unauthenticated\r\n");
    expect(&mut s, b"version\r\n", "CLIENT_ERROR unauthenticated\r\n");
    expect(
        &mut s,
        b"set x 0 0 6\r\nuser x\r\n",
        "CLIENT_ERROR authentication failure\r\n",
    );
    expect(&mut s, b"set x 0 0 7\r\nuser pw\r\n", "STORED\r\n");
    expect(
        &mut s,
        b"set k 0 0 1\r\nv\r\nget k\r\n",
        "STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n",
    );
    // Big values: 1 MiB stored and read back; one byte more refused, data swallowed.
    let mut big = b"set big 7 0 1048576\r\n".to_vec();
    big.extend((0..1 << 20).map(|i| b'a' + (i % 26) as u8));
    big.extend_from_slice(b"\r\n");
    expect(&mut s, &big, "STORED\r\n");
    s.write_all(b"get big\r\n").unwrap();
    let mut got = vec![0u8; 21 + (1 << 20) + 7];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got[..21], b"VALUE big 7 1048576\r\n");
    assert_eq!(&got[21..21 + (1 << 20)], &big[21..21 + (1 << 20)]);
    let mut over = b"set big 0 0 1048577\r\n".to_vec();
    over.extend(std::iter::repeat_n(b'x', 1048577));
    over.extend_from_slice(b"\r\nget big\r\n");
    expect(
        &mut s,
        &over,
        "SERVER_ERROR object too large for cache\r\nEND\r\n",
    );
    // OOM under noeviction.
    let mut r = srv.client().get_connection().unwrap();
    let _: () = redis::cmd("AUTH").arg("pw").query(&mut r).unwrap();
    let _: () = redis::cmd("SET")
        .arg("fill")
        .arg(vec![0u8; 10_000])
        .query(&mut r)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1000")
        .query(&mut r)
        .unwrap();
    expect(
        &mut s,
        b"set k 0 0 1\r\nv\r\n",
        "SERVER_ERROR out of memory storing object\r\n",
    );
    expect(&mut s, b"get k\r\n", "VALUE k 0 1\r\nv\r\nEND\r\n");
}

#[test]
fn too_many_connections_in_memcacheds_words() {
    let srv = TestServer::builder().setting("maxclients", "1").start();
    let deadline = Instant::now() + Duration::from_secs(10);
    let settle = |want: usize| {
        while srv.state().clients.count() != want {
            assert!(Instant::now() < deadline, "clients never reached {want}");
            std::thread::yield_now();
        }
    };
    // The start-up readiness PING's connection must be gone first, or it would be the one
    // client allowed and this test's first connection the refused one.
    settle(0);
    let _hold = connect(&srv);
    settle(1);
    let mut s = connect(&srv);
    assert_eq!(
        read_to_close(&mut s),
        "SERVER_ERROR too many open connections\r\n"
    );
}

#[test]
fn stats_count_this_door() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    expect(
        &mut s,
        b"set a 0 0 1\r\nx\r\nget a b\r\n",
        "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n",
    );
    s.write_all(b"stats\r\n").unwrap();
    let mut all = String::new();
    let mut buf = [0u8; 4096];
    while !all.ends_with("END\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        all.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    for line in [
        "STAT cmd_get 2\r\n",
        "STAT get_hits 1\r\n",
        "STAT get_misses 1\r\n",
        "STAT cmd_set 1\r\n",
        "STAT curr_connections 1\r\n",
        "STAT curr_items 1\r\n",
    ] {
        assert!(all.contains(line), "{line:?} not in {all}");
    }
}

/// memcached accepts control characters other than CR, LF and NUL in keys (its tokenizer
/// splits on spaces only), and memaslap relies on it: its keys start with 0x10 bytes.
#[test]
fn keys_may_hold_control_characters_as_in_memcached() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    expect(&mut s, b"set a\x10\x01\tb 0 0 2\r\nhi\r\n", "STORED\r\n");
    expect(
        &mut s,
        b"get a\x10\x01\tb\r\n",
        "VALUE a\x10\x01\tb 0 2\r\nhi\r\nEND\r\n",
    );
}

/// memcached closes a connection whose request line looks like HTTP without a byte (so a
/// web page cannot make a browser talk to it): the bytes below are memcached 1.6.18's.
#[test]
fn http_request_lines_close_the_connection_unanswered() {
    let srv = TestServer::start();
    for input in [
        &b"GET / HTTP/1.0\r\n"[..],
        b"PUT /a/b HTTP/1.1\r\n",
        b"DELETE HTTP/1.1\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
        // Replies not yet sent go with the connection, as in memcached.
        b"version\r\nGET / HTTP/1.0\r\n",
    ] {
        let mut s = connect(&srv);
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(input).unwrap();
        assert_eq!(
            read_to_close(&mut s),
            "",
            "reply to {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Lines of memcached's own commands are answered, HTTP-looking or not.
    let mut s = connect(&srv);
    expect(&mut s, b"get / HTTP/1.0\r\n", "END\r\n");
    expect(&mut s, b"delete HTTP/1.1\r\n", "NOT_FOUND\r\n");
    expect(&mut s, b"H HTTP/1.1\r\n", "ERROR\r\n");
    expect(&mut s, b"mx / HTTP/1.0\r\n", "ERROR\r\n");
    expect(&mut s, b"foo HTTP/1.1 x\r\n", "ERROR\r\n");
    expect(&mut s, b"stats HTTP/1.0\r\n", "ERROR\r\n");
    expect(
        &mut s,
        b"version\r\n",
        &format!("VERSION {}\r\n", server::memcache::VERSION),
    );
}

/// A malformed `delete` with `noreply` answers nothing and deletes nothing, so the replies
/// after it stay paired with their requests (memcached 1.6.18's bytes).
#[test]
fn malformed_delete_with_noreply_stays_silent() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    expect(
        &mut s,
        b"set dk 0 0 1\r\nx\r\ndelete dk 10 noreply\r\nget dk\r\n",
        "STORED\r\nVALUE dk 0 1\r\nx\r\nEND\r\n",
    );
    expect(
        &mut s,
        b"delete dk noreply noreply\r\nget dk\r\n",
        "VALUE dk 0 1\r\nx\r\nEND\r\n",
    );
    let long = format!("delete {} noreply\r\nmn\r\n", "k".repeat(251));
    expect(&mut s, long.as_bytes(), "MN\r\n");
    // Without noreply the error is answered; a wrong token count even with it.
    expect(
        &mut s,
        b"delete dk 10\r\nget dk\r\n",
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n\
         VALUE dk 0 1\r\nx\r\nEND\r\n",
    );
    expect(
        &mut s,
        b"delete dk 1 2 noreply\r\nmn\r\n",
        "ERROR\r\nMN\r\n",
    );
    // Alone, `noreply` is a key.
    expect(&mut s, b"delete noreply\r\n", "NOT_FOUND\r\n");
    expect(&mut s, b"delete dk noreply\r\nget dk\r\n", "END\r\n");
}

/// A storage line with one token too many stores (memcached ignores it); two too many is
/// ERROR, and the data line is then read as a command (memcached 1.6.18's bytes).
#[test]
fn a_stray_last_token_on_a_storage_line_is_ignored() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    expect(
        &mut s,
        b"set k5 0 0 1 foo\r\nx\r\nget k5\r\nset k6 0 0 1 foo bar\r\nz\r\nmn\r\n",
        "STORED\r\nVALUE k5 0 1\r\nx\r\nEND\r\nERROR\r\nERROR\r\nMN\r\n",
    );
}

/// incr, decr and touch of a key over 250 bytes with `noreply` stay silent (memcached
/// 1.6.18's bytes); without it the error is answered.
#[test]
fn bad_key_with_noreply_stays_silent_for_incr_decr_touch() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    let k = "x".repeat(251);
    let quiet = format!(
        "incr {k} 1 noreply\r\ndecr {k} 1 noreply\r\ntouch {k} 10 noreply\r\n\
         incr {k} 1\r\ntouch {k} 10\r\nmn\r\n"
    );
    expect(
        &mut s,
        quiet.as_bytes(),
        "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nMN\r\n",
    );
}

/// A data length memcached could never allocate (over 2^31-3) is a bad command line,
/// answered at once; no data is awaited and what follows is read as commands. Lengths up
/// to that but over the item size are refused and their data skipped (memcached's bytes).
#[test]
fn impossible_data_lengths_are_bad_command_lines() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    for line in [
        "set k 0 0 2147483647",
        "set k 0 0 2147483646",
        "set k 0 0 2147483648",
        "set k 0 0 -1",
        "cas k 0 0 2147483647 1",
        "append k 0 0 2147483647",
        "ms k 2147483647",
        "ms k 2147483646 q",
    ] {
        expect(
            &mut s,
            format!("{line}\r\nabc\r\nmn\r\n").as_bytes(),
            "CLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n",
        );
    }
    // noreply silences the bad line, not the "abc" line after it.
    for line in ["set k 0 0 2147483647 noreply", "set k 0 0 -1 noreply"] {
        expect(
            &mut s,
            format!("{line}\r\nabc\r\nmn\r\n").as_bytes(),
            "ERROR\r\nMN\r\n",
        );
    }
    // The largest length memcached can allocate is only too large: its data is skipped.
    expect(
        &mut s,
        b"set k 0 0 2147483645\r\n",
        "SERVER_ERROR object too large for cache\r\n",
    );
}

/// `stats slabs|items|settings|conns|sizes|cachedump` answer in memcached's shape, ending
/// with `END`, so clients reading until `END` get their answer.
#[test]
fn stats_subcommands_end_with_end() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    assert_eq!(
        until_end(&mut s, b"stats items\r\n"),
        "END\r\n",
        "an empty cache has no items"
    );
    expect(
        &mut s,
        b"set a 0 0 5\r\nhello\r\nget a\r\n",
        "STORED\r\nVALUE a 0 5\r\nhello\r\nEND\r\n",
    );
    let slabs = until_end(&mut s, b"stats slabs\r\n");
    for line in [
        "STAT 1:chunk_size 1048576\r\n",
        "STAT 1:used_chunks 1\r\n",
        "STAT 1:get_hits 1\r\n",
        "STAT 1:cmd_set 1\r\n",
        "STAT active_slabs 1\r\n",
        "STAT total_malloced ",
    ] {
        assert!(slabs.contains(line), "{line:?} not in {slabs}");
    }
    let items = until_end(&mut s, b"stats items\r\n");
    assert!(items.starts_with("STAT items:1:number 1\r\n"), "{items}");
    assert_eq!(items.lines().count(), 29, "{items}");
    let settings = until_end(&mut s, b"stats settings\r\n");
    assert!(
        settings.contains("STAT item_size_max 1048576\r\n"),
        "{settings}"
    );
    assert_eq!(
        until_end(&mut s, b"stats sizes\r\n"),
        "STAT sizes_status disabled\r\nEND\r\n"
    );
    assert_eq!(
        until_end(&mut s, b"stats cachedump 1 10\r\n"),
        "ITEM a [5 b; 0 s]\r\nEND\r\n"
    );
    assert_eq!(until_end(&mut s, b"stats cachedump 2 10\r\n"), "END\r\n");
    expect(
        &mut s,
        b"stats cachedump 64 1\r\nstats cachedump 1\r\n",
        "CLIENT_ERROR Illegal slab id\r\nCLIENT_ERROR bad command line\r\n",
    );
    // Both connections of this door, by fd, with memcached's address form.
    let mut other = connect(&srv);
    // A round trip first: the server registers a connection only once it has accepted it.
    expect(&mut other, b"mn\r\n", "MN\r\n");
    let conns = until_end(&mut s, b"stats conns\r\n");
    for c in [&s, &other] {
        let line = format!(":addr tcp:{}\r\n", c.local_addr().unwrap());
        assert!(conns.contains(&line), "{line:?} not in {conns}");
    }
    assert!(conns.contains(":state conn_parse_cmd\r\n"), "{conns}");
    assert_eq!(conns.matches(":listen_addr tcp:").count(), 2, "{conns}");
}

/// `cache_memlimit <MB>` sets `maxmemory`, as CONFIG SET maxmemory does; memcached's
/// answers, errors included.
#[test]
fn cache_memlimit_sets_maxmemory() {
    let srv = TestServer::start();
    let mut s = connect(&srv);
    let mut r = srv.connection();
    let maxmemory = |r: &mut redis::Connection| -> u64 {
        let v: (String, u64) = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory")
            .query(r)
            .unwrap();
        v.1
    };
    expect(&mut s, b"cache_memlimit 100\r\n", "OK\r\n");
    assert_eq!(maxmemory(&mut r), 100 << 20);
    let settings = until_end(&mut s, b"stats settings\r\n");
    assert!(
        settings.starts_with(&format!("STAT maxbytes {}\r\n", 100u64 << 20)),
        "{settings}"
    );
    expect(&mut s, b"cache_memlimit 64 noreply\r\nmn\r\n", "MN\r\n");
    assert_eq!(maxmemory(&mut r), 64 << 20);
    expect(
        &mut s,
        b"cache_memlimit 7\r\ncache_memlimit 1000000001\r\ncache_memlimit abc\r\n\
          cache_memlimit\r\ncache_memlimit 7 noreply\r\nmn\r\n",
        "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n\
         MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\nERROR\r\nERROR\r\nMN\r\n",
    );
    assert_eq!(maxmemory(&mut r), 64 << 20);
}
