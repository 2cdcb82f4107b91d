//! Unit and property tests of the memcached text parser.

use super::*;
use proptest::prelude::*;

/// Parse every request in `input` (fed whole), returning each with its frame bytes.
fn all(input: &[u8]) -> Vec<(Request, Vec<u8>)> {
    let mut p = Parser::new();
    let mut out = Vec::new();
    let mut off = 0;
    loop {
        match p.parse(&input[off..], true).expect("no fatal error") {
            Parsed::Incomplete { .. } => break,
            Parsed::Skipped { consumed } => off += consumed,
            Parsed::Request { consumed } => {
                out.push((p.request().clone(), input[off..off + consumed].to_vec()));
                off += consumed;
            }
        }
    }
    out
}

fn one(input: &[u8]) -> (Request, Vec<u8>) {
    let v = all(input);
    assert_eq!(v.len(), 1, "{v:?}");
    v.into_iter().next().unwrap()
}

fn err_of(input: &[u8]) -> &'static str {
    match one(input).0 {
        Request::Error { msg, .. } => msg,
        r => panic!("not an error: {r:?}"),
    }
}

#[test]
fn storage_commands() {
    let (r, f) = one(b"set foo 5 100 3\r\nabc\r\n");
    let Request::Store {
        op,
        key,
        flags,
        exptime,
        noreply,
        data,
        ..
    } = r
    else {
        panic!()
    };
    assert_eq!(
        (op, key.of(&f), flags, exptime, noreply),
        (StoreOp::Set, &b"foo"[..], 5, 100, false)
    );
    assert_eq!(data.of(&f), b"abc");
    let (r, f) = one(b"cas k 0 -1 2 99 noreply\r\nxy\r\n");
    let Request::Store {
        op,
        cas,
        noreply,
        exptime,
        data,
        ..
    } = r
    else {
        panic!()
    };
    assert_eq!(
        (op, cas, noreply, exptime, data.of(&f)),
        (StoreOp::Cas, 99, true, -1, &b"xy"[..])
    );
    for (name, op) in [
        ("add", StoreOp::Add),
        ("replace", StoreOp::Replace),
        ("append", StoreOp::Append),
        ("prepend", StoreOp::Prepend),
    ] {
        let (r, _) = one(format!("{name} k 1 2 0\r\n\r\n").as_bytes());
        assert!(matches!(r, Request::Store { op: o, .. } if o == op));
    }
    // LF-only line ends are accepted, the data still needs CRLF.
    assert!(matches!(
        one(b"set k 0 0 1\nx\r\n").0,
        Request::Store { .. }
    ));
}

#[test]
fn storage_errors_match_memcached() {
    assert_eq!(err_of(b"set k 0 0 3\r\nabcd\r\n".split_at(18).0), BAD_CHUNK);
    assert_eq!(err_of(b"set k x 0 3\r\n"), BAD_FORMAT);
    assert_eq!(err_of(b"set k 0 0 -1\r\n"), BAD_FORMAT);
    assert_eq!(err_of(b"set k 0 0\r\n"), ERROR);
    assert_eq!(err_of(b"set k 0 0 3 noreply extra\r\n"), ERROR);
    assert_eq!(err_of(b"set k 4294967296 0 1\r\n"), BAD_FORMAT);
    let long = format!("set {} 0 0 1\r\n", "k".repeat(251));
    assert_eq!(err_of(long.as_bytes()), BAD_FORMAT);
    assert_eq!(err_of(b"set k\x00 0 0 1\r\n"), BAD_FORMAT);
    assert_eq!(err_of(b"cas k 0 0 1\r\n"), ERROR);
    // Bad data chunk with noreply is silent, as in memcached.
    let v = all(b"set k 0 0 1 noreply\r\nyy\r\nversion\r\n");
    assert_eq!(
        v[0].0,
        Request::Error {
            msg: BAD_CHUNK,
            noreply: true
        }
    );
    assert_eq!(v.len(), 3); // bad chunk, the stray "\n" line, version
    assert_eq!(
        v[1].0,
        Request::Error {
            msg: ERROR,
            noreply: false
        }
    );
}

#[test]
fn too_large_values_are_skipped() {
    let mut p = Parser::new();
    p.max_value = 4;
    let mut input = b"set k 0 0 10\r\n0123456789\r\nversion\r\n".to_vec();
    let r = p.parse(&input, true).unwrap();
    assert_eq!(r, Parsed::Request { consumed: 14 });
    assert!(matches!(
        p.request(),
        Request::TooLarge {
            drops_old: true,
            ..
        }
    ));
    assert!(p.in_progress());
    input.drain(..14);
    // The data is skipped in pieces as it arrives.
    assert_eq!(
        p.parse(&input[..5], true).unwrap(),
        Parsed::Skipped { consumed: 5 }
    );
    input.drain(..5);
    assert_eq!(
        p.parse(&input, true).unwrap(),
        Parsed::Skipped { consumed: 7 }
    );
    input.drain(..7);
    assert_eq!(
        p.parse(&input, true).unwrap(),
        Parsed::Request { consumed: 9 }
    );
    assert_eq!(p.request(), &Request::Version);
    assert!(!p.in_progress());
}

#[test]
fn retrieval() {
    let (r, f) = one(b"get a bb  ccc\r\n");
    let Request::Get { op, keys, .. } = r else {
        panic!()
    };
    assert_eq!(op, GetOp::Get);
    assert_eq!(
        keys_of(keys.of(&f)).collect::<Vec<_>>(),
        vec![&b"a"[..], b"bb", b"ccc"]
    );
    let (r, f) = one(b"gats 100 x\r\n");
    let Request::Get { op, exptime, keys } = r else {
        panic!()
    };
    assert_eq!(
        (op, exptime, keys_of(keys.of(&f)).count()),
        (GetOp::Gats, 100, 1)
    );
    assert_eq!(err_of(b"get\r\n"), ERROR);
    assert_eq!(err_of(b"gat 10\r\n"), ERROR);
    assert_eq!(err_of(b"gat x k\r\n"), BAD_EXPTIME);
    assert_eq!(
        err_of(format!("get a {}\r\n", "k".repeat(251)).as_bytes()),
        BAD_FORMAT
    );
    // A get line may be long (many keys); other lines may not pass 2048 bytes without LF.
    let mut p = Parser::new();
    let many = format!("get {}", "key ".repeat(2000));
    assert!(matches!(
        p.parse(many.as_bytes(), true),
        Ok(Parsed::Incomplete { .. })
    ));
    let mut p = Parser::new();
    assert_eq!(p.parse(&[b'x'; 3000], true), Err(LineTooLong));
    // With its LF, a long line is answered (memcached: ERROR).
    let mut long = vec![b'x'; 5000];
    long.extend_from_slice(b"\r\n");
    assert_eq!(err_of(&long), ERROR);
}

#[test]
fn other_commands() {
    assert_eq!(
        one(b"delete k\r\n").0,
        Request::Delete {
            key: Span::new(7, 8),
            noreply: false
        }
    );
    assert!(matches!(
        one(b"delete k 0 noreply\r\n").0,
        Request::Delete { noreply: true, .. }
    ));
    assert_eq!(err_of(b"delete k 1\r\n"), DELETE_USAGE);
    assert!(matches!(
        one(b"incr k 5\r\n").0,
        Request::Arith {
            incr: true,
            delta: 5,
            ..
        }
    ));
    assert!(matches!(
        one(b"decr k 18446744073709551615 noreply\r\n").0,
        Request::Arith {
            incr: false,
            delta: u64::MAX,
            noreply: true,
            ..
        }
    ));
    assert_eq!(err_of(b"incr k -1\r\n"), BAD_DELTA);
    assert_eq!(
        one(b"incr k x noreply\r\n").0,
        Request::Error {
            msg: BAD_DELTA,
            noreply: true
        }
    );
    assert_eq!(err_of(b"incr k\r\n"), ERROR);
    assert!(matches!(
        one(b"touch k 10\r\n").0,
        Request::Touch { exptime: 10, .. }
    ));
    assert_eq!(err_of(b"touch k abc\r\n"), BAD_EXPTIME);
    assert_eq!(err_of(b"touch k\r\n"), ERROR);
    assert_eq!(
        one(b"flush_all\r\n").0,
        Request::FlushAll {
            delay: 0,
            noreply: false
        }
    );
    assert_eq!(
        one(b"flush_all 10 noreply\r\n").0,
        Request::FlushAll {
            delay: 10,
            noreply: true
        }
    );
    assert_eq!(err_of(b"flush_all x\r\n"), BAD_EXPTIME);
    assert_eq!(one(b"version\r\n").0, Request::Version);
    assert_eq!(one(b"quit\r\n").0, Request::Quit);
    assert_eq!(
        one(b"verbosity 1 noreply\r\n").0,
        Request::Verbosity { noreply: true }
    );
    assert_eq!(err_of(b"verbosity\r\n"), ERROR);
    assert_eq!(
        one(b"verbosity noreply\r\n").0,
        Request::Error {
            msg: BAD_FORMAT,
            noreply: true
        }
    );
    assert_eq!(one(b"version foo bar\r\n").0, Request::Version);
    assert!(matches!(
        one(b"incr k 1 2\r\n").0,
        Request::Arith { noreply: false, .. }
    ));
    assert_eq!(err_of(b"verbosity x\r\n"), BAD_FORMAT);
    assert!(matches!(one(b"stats\r\n").0, Request::Stats { .. }));
    assert_eq!(err_of(b"GET k\r\n"), ERROR);
    assert_eq!(err_of(b"\r\n"), ERROR);
    assert_eq!(err_of(b"bogus\r\n"), ERROR);
}

/// The answers of memcached 1.6.18 to a request line that looks like HTTP: closed unanswered
/// when no command of memcached's takes the line, answered as that command otherwise.
#[test]
fn http_request_lines_close_like_memcached() {
    for line in [
        &b"GET / HTTP/1.0\r\n"[..],
        b"PUT /a/b HTTP/1.1\r\n",
        b"DELETE HTTP/1.1\r\n",
        b"POST /x HTTP/1.1\n",
        b"   GET / HTTP/1.0  \r\n",
        b"HTTP/1.1\r\n",
        b"foo HTTP/\r\n",
        b"quitx HTTP/1.1\r\n",
        b"misbehave HTTP/1.1\r\n",
    ] {
        assert_eq!(
            one(line).0,
            Request::Http,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    // Only the last token counts, case-sensitively; a one-byte name, a meta-shaped name or a
    // name memcached routes (by first letter or whole) is answered instead.
    for line in [
        &b"foo HTTP/1.1 x\r\n"[..],
        b"foo http/1.1\r\n",
        b"foo HTTP\r\n",
        b"H HTTP/1.1\r\n",
        b"mx / HTTP/1.0\r\n",
        b"gxx / HTTP/1.1\r\n",
        b"trace / HTTP/1.1\r\n",
        b"lru HTTP/1.1\r\n",
        b"replace HTTP/1.1\r\n",
    ] {
        assert_eq!(err_of(line), ERROR, "{:?}", String::from_utf8_lossy(line));
    }
    assert!(matches!(one(b"get / HTTP/1.0\r\n").0, Request::Get { .. }));
    assert!(matches!(
        one(b"delete HTTP/1.1\r\n").0,
        Request::Delete { .. }
    ));
    assert!(matches!(
        one(b"stats HTTP/1.1\r\n").0,
        Request::Stats { .. }
    ));
    // memcached keeps 23 tokens of a line: past that the 23rd decides, even over 24 tokens.
    let line = |n: usize, tail: &str| format!("GET{} HTTP/1.1{tail}\r\n", " a".repeat(n));
    assert_eq!(one(line(21, " z").as_bytes()).0, Request::Http);
    assert_eq!(one(line(21, &" z".repeat(10)).as_bytes()).0, Request::Http);
    assert_eq!(err_of(line(22, "").as_bytes()), ERROR);
    // Before authentication nothing but `set` is read, HTTP or not (memcached -Y).
    let mut p = Parser::new();
    p.parse(b"GET / HTTP/1.1\r\n", false).unwrap();
    assert!(matches!(
        p.request(),
        Request::Error {
            msg: UNAUTHENTICATED,
            ..
        }
    ));
}

/// `delete`'s argument rules, memcached's: `noreply` silences every error after it.
#[test]
fn delete_arguments_like_memcached() {
    let quiet = |msg| Request::Error { msg, noreply: true };
    assert_eq!(one(b"delete k 10 noreply\r\n").0, quiet(DELETE_USAGE));
    assert_eq!(one(b"delete k noreply noreply\r\n").0, quiet(DELETE_USAGE));
    let long = format!("delete {} noreply\r\n", "k".repeat(251));
    assert_eq!(one(long.as_bytes()).0, quiet(BAD_FORMAT));
    let long = format!("delete {} 10 noreply\r\n", "k".repeat(251));
    assert_eq!(one(long.as_bytes()).0, quiet(DELETE_USAGE));
    assert_eq!(err_of(b"delete k 10\r\n"), DELETE_USAGE);
    assert_eq!(err_of(b"delete k 00\r\n"), DELETE_USAGE);
    // Too many or too few tokens: ERROR, answered even with noreply.
    assert_eq!(one(b"delete k 1 2 noreply\r\n").0, err(ERROR, false));
    assert_eq!(one(b"delete k 0 noreply x\r\n").0, err(ERROR, false));
    assert_eq!(err_of(b"delete\r\n"), ERROR);
    // Alone, `noreply` is the key.
    let (r, f) = one(b"delete noreply\r\n");
    let Request::Delete { key, noreply } = r else {
        panic!("{r:?}")
    };
    assert_eq!((key.of(&f), noreply), (&b"noreply"[..], false));
    assert!(matches!(
        one(b"delete k noreply\r\n").0,
        Request::Delete { noreply: true, .. }
    ));
}

/// Data lengths memcached cannot allocate are bad lines, with no data expected after them;
/// lengths it can but will not store are refused and their data skipped.
#[test]
fn data_lengths_like_memcached() {
    for line in [
        &b"set k 0 0 2147483647\r\n"[..],
        b"set k 0 0 2147483646\r\n",
        b"set k 0 0 2147483648\r\n",
        b"set k 0 0 -1\r\n",
        b"cas k 0 0 2147483647 1\r\n",
        b"append k 0 0 2147483647\r\n",
        b"ms k 2147483646\r\n",
        b"ms k 2147483647 q\r\n",
    ] {
        let v = all(&[line, &b"abc\r\nmn\r\n"[..]].concat());
        let got: Vec<_> = v.into_iter().map(|(r, _)| r).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], err(BAD_FORMAT, false));
        assert_eq!(got[1], err(ERROR, false));
    }
    // With noreply the bad line is quiet; what follows is still read as commands.
    let v = all(b"set k 0 0 2147483647 noreply\r\nabc\r\n");
    assert_eq!(v[0].0, err(BAD_FORMAT, true));
    assert_eq!(v[1].0, err(ERROR, false));
    assert_eq!(one(b"set k 0 0 -1 noreply\r\n").0, err(BAD_FORMAT, true));
    assert_eq!(one(b"set k x 0 1 noreply\r\n").0, err(BAD_FORMAT, true));
    assert_eq!(one(b"set k 0 0 noreply\r\n").0, err(BAD_FORMAT, true));
    // The largest length memcached can allocate is too large: refused, its data skipped.
    let mut p = Parser::new();
    let r = p.parse(b"set k 0 0 2147483645\r\nabc", true).unwrap();
    assert_eq!(r, Parsed::Request { consumed: 22 });
    assert!(matches!(p.request(), Request::TooLarge { .. }));
    assert_eq!(
        p.parse(b"abc", true).unwrap(),
        Parsed::Skipped { consumed: 3 }
    );
    assert!(p.in_progress());
}

#[test]
fn cache_memlimit_like_memcached() {
    assert_eq!(
        one(b"cache_memlimit 64\r\n").0,
        Request::CacheMemlimit {
            megabytes: 64,
            noreply: false
        }
    );
    assert_eq!(
        one(b"cache_memlimit 8 noreply\r\n").0,
        Request::CacheMemlimit {
            megabytes: 8,
            noreply: true
        }
    );
    // A second argument that is not noreply is ignored.
    assert!(matches!(
        one(b"cache_memlimit 1000000000 200\r\n").0,
        Request::CacheMemlimit {
            megabytes: 1_000_000_000,
            noreply: false
        }
    ));
    assert_eq!(err_of(b"cache_memlimit 7\r\n"), MEMLIMIT_TOO_SMALL);
    assert_eq!(err_of(b"cache_memlimit 0\r\n"), MEMLIMIT_TOO_SMALL);
    assert_eq!(err_of(b"cache_memlimit 1000000001\r\n"), MEMLIMIT_NOT_BYTES);
    assert_eq!(err_of(b"cache_memlimit -1\r\n"), ERROR);
    assert_eq!(err_of(b"cache_memlimit abc\r\n"), ERROR);
    assert_eq!(err_of(b"cache_memlimit\r\n"), ERROR);
    assert_eq!(err_of(b"cache_memlimit 1 2 3\r\n"), ERROR);
    assert_eq!(
        one(b"cache_memlimit 7 noreply\r\n").0,
        err(MEMLIMIT_TOO_SMALL, true)
    );
    // Alone, `noreply` is both the flag and the bad number: quiet.
    assert_eq!(one(b"cache_memlimit noreply\r\n").0, err(ERROR, true));
    assert_eq!(one(b"cache_memlimit 8 noreply x\r\n").0, err(ERROR, false));
}

#[test]
fn unauthenticated_clients_may_only_set() {
    let mut p = Parser::new();
    assert_eq!(
        p.parse(b"get k\r\n", false).unwrap(),
        Parsed::Request { consumed: 7 }
    );
    assert_eq!(
        p.request(),
        &Request::Error {
            msg: UNAUTHENTICATED,
            noreply: false
        }
    );
    let creds = b"set x 0 0 9\r\nuser pass\r\n";
    assert_eq!(
        p.parse(creds, false).unwrap(),
        Parsed::Request {
            consumed: creds.len()
        }
    );
    // Credentials are small: a big block before AUTH is refused.
    let mut p = Parser::new();
    p.parse(b"set x 0 0 100000\r\n", false).unwrap();
    assert!(matches!(p.request(), Request::TooLarge { .. }));
}

#[test]
fn meta_commands() {
    let (r, f) = one(b"mg foo v f t c s k O123 q\r\n");
    let Request::Meta { op, key, .. } = r else {
        panic!()
    };
    assert_eq!((op, key.of(&f)), (MetaOp::Get, &b"foo"[..]));
    let mut p = Parser::new();
    p.parse(b"ms foo 3 T10 F5 MA c\r\nabc\r\n", true).unwrap();
    let Request::Meta {
        op: MetaOp::Set,
        data,
        ..
    } = p.request().clone()
    else {
        panic!()
    };
    assert_eq!(data, Span::new(22, 25));
    assert_eq!(
        (p.meta.ttl, p.meta.client_flags, p.meta.set_mode()),
        (Some(10), Some(5), SetMode::Append)
    );
    assert!(p.meta.has(b'c') && !p.meta.has(b'v'));
    p.parse(b"ma n N0 J13 MD D4\r\n", true).unwrap();
    assert_eq!(
        (p.meta.vivify, p.meta.initial, p.meta.delta, p.meta.incr()),
        (Some(0), Some(13), Some(4), false)
    );
    assert!(matches!(
        one(b"mn\r\n").0,
        Request::Meta {
            op: MetaOp::Noop,
            ..
        }
    ));
    assert!(matches!(
        one(b"md k q C5\r\n").0,
        Request::Meta {
            op: MetaOp::Delete,
            ..
        }
    ));
    assert_eq!(err_of(b"mg\r\n"), ERROR);
    assert_eq!(err_of(b"mg foo v v\r\n"), DUPLICATE_FLAG);
    assert_eq!(err_of(b"mg foo zz\r\n"), INVALID_FLAG);
    assert_eq!(err_of(b"mg foo Tx\r\n"), BAD_TOKEN);
    assert_eq!(
        err_of(format!("mg foo O{}\r\n", "a".repeat(33)).as_bytes()),
        OPAQUE_TOO_LONG
    );
    assert_eq!(err_of(b"ms foo\r\n"), BAD_FORMAT);
    assert_eq!(err_of(b"ms foo abc\r\n"), BAD_FORMAT);
    assert_eq!(err_of(b"ma n Dabc\r\n"), INVALID_OR_DUP_FLAG);
    assert_eq!(err_of(b"ma n Mx\r\n"), BAD_MA_MODE);
    assert_eq!(
        err_of(format!("mg {} v\r\n", "k".repeat(251)).as_bytes()),
        BAD_FORMAT
    );
    // An ms error once the length is known skips the data, as memcached does.
    let v = all(b"ms foo 3 MX\r\nabc\r\nmn\r\n");
    assert_eq!(
        v[0].0,
        Request::Error {
            msg: BAD_MS_MODE,
            noreply: false
        }
    );
    assert!(matches!(
        v[1].0,
        Request::Meta {
            op: MetaOp::Noop,
            ..
        }
    ));
    assert_eq!(v.len(), 2);
}

/// A pipeline of every kind of request, with data blocks.
const PIPELINE: &[u8] =
    b"set a 1 0 3\r\nabc\r\nget a b\r\ngets a\r\nappend a 0 0 2 noreply\r\nde\r\n\
incr n 1\r\ndelete a\r\ntouch a 10\r\ngat 5 a\r\nms m 2 T5\r\nhi\r\nmg m v\r\nmn\r\nbogus\r\n\
set b 0 0 2\r\nxyz\r\nflush_all\r\nversion\r\nstats\r\n";

proptest! {
    /// Whatever the split points, the requests parsed are the ones parsed whole.
    #[test]
    fn split_points_do_not_matter(cuts in proptest::collection::vec(0..PIPELINE.len(), 0..6)) {
        let whole = all(PIPELINE);
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut p = Parser::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut got = Vec::new();
        let mut fed = 0;
        for end in cuts.into_iter().chain([PIPELINE.len()]) {
            buf.extend_from_slice(&PIPELINE[fed..end.max(fed)]);
            fed = end.max(fed);
            loop {
                match p.parse(&buf, true).unwrap() {
                    Parsed::Incomplete { .. } => break,
                    Parsed::Skipped { consumed } => { buf.drain(..consumed); }
                    Parsed::Request { consumed } => {
                        got.push((p.request().clone(), buf[..consumed].to_vec()));
                        buf.drain(..consumed);
                    }
                }
            }
        }
        prop_assert_eq!(got, whole);
    }

    /// Random bytes never panic, and every request consumes at least one byte.
    #[test]
    fn random_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..600), authed: bool) {
        let mut p = Parser::new();
        p.max_value = 64;
        let mut off = 0;
        while off < input.len() {
            match p.parse(&input[off..], authed) {
                Ok(Parsed::Incomplete { want }) => { prop_assert!(want > input.len() - off); break; }
                Ok(Parsed::Skipped { consumed }) | Ok(Parsed::Request { consumed }) => {
                    prop_assert!(consumed > 0);
                    off += consumed;
                }
                Err(LineTooLong) => break,
            }
        }
    }

    /// Random lines built from the protocol's words never panic.
    #[test]
    fn random_commands_never_panic(words in proptest::collection::vec(prop_oneof![
        Just("set"), Just("get"), Just("gat"), Just("ms"), Just("mg"), Just("ma"), Just("md"),
        Just("cas"), Just("incr"), Just("delete"), Just("noreply"), Just("0"), Just("-1"),
        Just("3"), Just("99999999999999999999"), Just("k"), Just("T5"), Just("MA"), Just("q"),
        Just("\r\n"), Just("abc"), Just("b"), Just("O1"), Just("\n"), Just("cache_memlimit"),
        Just("GET"), Just("HTTP/1.1"), Just("2147483647"),
    ], 0..20)) {
        let input = words.join(" ");
        let mut p = Parser::new();
        let mut off = 0;
        let input = input.as_bytes();
        while off < input.len() {
            match p.parse(&input[off..], true) {
                Ok(Parsed::Incomplete { .. }) | Err(_) => break,
                Ok(Parsed::Skipped { consumed }) | Ok(Parsed::Request { consumed }) => off += consumed,
            }
        }
    }
}
