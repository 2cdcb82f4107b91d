//! Tests of SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP (BITFIELD tests itself), and a model
//! check of the byte/bit writers against a plain `Vec<u8>`.

use crate::strings::tests::expire_of;
use crate::testing::TestCtx;
use std::sync::atomic::Ordering::Relaxed;

const BAD_OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";

fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

#[test]
fn setbit_getbit() {
    let t = TestCtx::new();
    assert_eq!(t.run(&["GETBIT", "k", "5"]), int(0));
    assert_eq!(t.run(&["SETBIT", "k", "7", "1"]), int(0));
    assert_eq!(t.run(&["SETBIT", "k", "7", "1"]), int(1));
    assert_eq!(t.run(&["GET", "k"]), "$1\r\n\u{1}\r\n");
    assert_eq!(t.run(&["GETBIT", "k", "7"]), int(1));
    assert_eq!(t.run(&["GETBIT", "k", "6"]), int(0));
    assert_eq!(t.run(&["GETBIT", "k", "100"]), int(0));
    assert_eq!(t.run(&["SETBIT", "k", "0", "1"]), int(0));
    assert_eq!(t.run_bytes(&[b"GET", b"k"]), b"$1\r\n\x81\r\n");
    assert_eq!(t.run(&["SETBIT", "k", "7", "0"]), int(1));
    assert_eq!(t.run_bytes(&[b"GET", b"k"]), b"$1\r\n\x80\r\n");
    // Growth is zero-filled; setting 0 on a missing key still creates it.
    assert_eq!(t.run(&["SETBIT", "k", "23", "1"]), int(0));
    assert_eq!(t.run_bytes(&[b"GET", b"k"]), b"$3\r\n\x80\x00\x01\r\n");
    assert_eq!(t.run(&["SETBIT", "z", "9", "0"]), int(0));
    assert_eq!(t.run_bytes(&[b"GET", b"z"]), b"$2\r\n\x00\x00\r\n");
    // Keeps the TTL.
    t.run(&["SET", "t", "a", "EX", "100"]);
    let at = expire_of(&t, "t");
    t.run(&["SETBIT", "t", "100", "1"]);
    assert_eq!(expire_of(&t, "t"), at);
}

#[test]
fn setbit_errors() {
    let t = TestCtx::new();
    let bad_bit = "-ERR bit is not an integer or out of range\r\n";
    for bit in ["2", "-1", "x", "", " 1"] {
        assert_eq!(t.run(&["SETBIT", "k", "1", bit]), bad_bit, "{bit:?}");
    }
    for off in ["-1", "abc", "4294967296", "1.5", "#1"] {
        assert_eq!(t.run(&["SETBIT", "k", off, "1"]), BAD_OFFSET, "{off}");
        assert_eq!(t.run(&["GETBIT", "k", off]), BAD_OFFSET, "{off}");
    }
    // The offset is checked before the bit value.
    assert_eq!(t.run(&["SETBIT", "k", "-1", "5"]), BAD_OFFSET);
    assert_eq!(t.run(&["GETBIT", "k", "4294967295"]), int(0));
    assert_eq!(expire_of(&t, "k"), None);
    // The limit follows proto-max-bulk-len (offset >> 3 must stay below it).
    t.srv.settings.proto_max_bulk_len.store(4, Relaxed);
    assert_eq!(t.run(&["SETBIT", "k", "31", "1"]), int(0));
    assert_eq!(t.run(&["SETBIT", "k", "32", "1"]), BAD_OFFSET);
    assert_eq!(t.run(&["STRLEN", "k"]), int(4));
}

#[test]
fn bitcount() {
    let t = TestCtx::new();
    t.run(&["SET", "s", "foobar"]);
    assert_eq!(t.run(&["BITCOUNT", "s"]), int(26));
    assert_eq!(t.run(&["BITCOUNT", "s", "0", "0"]), int(4));
    assert_eq!(t.run(&["BITCOUNT", "s", "1", "1"]), int(6));
    assert_eq!(t.run(&["BITCOUNT", "s", "1", "1", "BYTE"]), int(6));
    assert_eq!(t.run(&["BITCOUNT", "s", "5", "30", "BIT"]), int(17));
    assert_eq!(t.run(&["BITCOUNT", "s", "-2", "-1"]), int(7));
    assert_eq!(t.run(&["BITCOUNT", "s", "-1", "-2"]), int(0));
    assert_eq!(t.run(&["BITCOUNT", "s", "0", "-1", "bit"]), int(26));
    // Ranges of "\x00\xff\xf0" from Redis 7.0.15.
    t.run_bytes(&[b"SET", b"m", b"\x00\xff\xf0"]);
    for (args, n) in [
        (&["0", "-1", "BIT"][..], 12),
        (&["9", "20", "BIT"], 11),
        (&["1", "1", "BYTE"], 8),
        (&["-5", "-3", "BIT"], 1),
        (&["3", "3", "BIT"], 0),
        (&["100", "200"], 0),
        (&["-100", "-50"], 0),
        (&["0", "0"], 0),
        (&["0", "-100"], 0),
        (&["2", "1"], 0),
        (&["-100", "100"], 12),
    ] {
        let mut line = vec!["BITCOUNT", "m"];
        line.extend_from_slice(args);
        assert_eq!(t.run(&line), int(n), "{args:?}");
    }
    // A missing key answers 0 whatever follows; an existing one checks the syntax.
    assert_eq!(t.run(&["BITCOUNT", "missing", "0"]), int(0));
    assert_eq!(t.run(&["BITCOUNT", "missing", "a", "b", "c", "d"]), int(0));
    for bad in [&["0"][..], &["0", "1", "2", "3"], &["0", "1", "bits"]] {
        let mut line = vec!["BITCOUNT", "s"];
        line.extend_from_slice(bad);
        assert_eq!(t.run(&line), "-ERR syntax error\r\n", "{bad:?}");
    }
    assert_eq!(t.run(&["BITCOUNT", "s", "a", "1"]), NOT_INT);
    t.run(&["SET", "e", ""]);
    assert_eq!(t.run(&["BITCOUNT", "e"]), int(0));
    assert_eq!(t.run(&["BITCOUNT", "e", "0", "-1", "BIT"]), int(0));
    // Longer than one u64 chunk, odd length.
    t.run(&["SET", "long", &"\u{7f}".repeat(21)]);
    assert_eq!(t.run(&["BITCOUNT", "long"]), int(7 * 21));
    assert_eq!(
        t.run(&["BITCOUNT", "long", "1", "165", "BIT"]),
        int(7 * 21 - 2)
    );
}

#[test]
fn bitpos() {
    let t = TestCtx::new();
    t.run_bytes(&[b"SET", b"ff", b"\xff\xff\xff"]);
    t.run_bytes(&[b"SET", b"z", b"\x00\x00\x00"]);
    t.run_bytes(&[b"SET", b"m", b"\x00\xff\xf0"]);
    t.run(&["SET", "e", ""]);
    // Replies from Redis 7.0.15 for the same lines.
    for (line, n) in [
        (&["ff", "0"][..], 24),
        (&["ff", "0", "0", "-1"], -1),
        (&["ff", "0", "1"], 24),
        (&["ff", "0", "0", "-1", "BIT"], -1),
        (&["ff", "1", "9", "20", "BIT"], 9),
        (&["z", "1"], -1),
        (&["z", "0"], 0),
        (&["z", "1", "1", "-1", "BIT"], -1),
        (&["z", "0", "3", "17", "BIT"], 3),
        (&["m", "1", "0"], 8),
        (&["m", "1", "2"], 16),
        (&["m", "0", "1"], 20),
        (&["m", "0", "1", "1"], -1),
        (&["m", "0", "8", "15", "BIT"], -1),
        (&["m", "0", "20", "23", "BIT"], 20),
        (&["m", "0", "20", "100", "BIT"], 20),
        (&["m", "1", "-1"], 16),
        (&["m", "1", "-3", "-2"], 8),
        (&["m", "1", "7", "8", "BIT"], 8),
        (&["m", "1", "-5", "-1", "BIT"], 19),
        (&["m", "0", "-5", "-1", "BIT"], 20),
        (&["m", "0", "-100", "-1", "BIT"], 0),
        (&["m", "1", "100"], -1),
        (&["m", "0", "100"], -1),
        (&["e", "0"], -1),
        (&["e", "1"], -1),
        (&["missing", "1", "x"], -1),
        (&["missing", "0", "x"], 0),
    ] {
        let mut full = vec!["BITPOS"];
        full.extend_from_slice(line);
        assert_eq!(t.run(&full), int(n), "{line:?}");
    }
    assert_eq!(
        t.run(&["BITPOS", "m", "2"]),
        "-ERR The bit argument must be 1 or 0.\r\n"
    );
    assert_eq!(t.run(&["BITPOS", "m", "x"]), NOT_INT);
    assert_eq!(t.run(&["BITPOS", "m", "1", "x"]), NOT_INT);
    // With five arguments the fifth is the end, so BIT there is not an integer.
    assert_eq!(t.run(&["BITPOS", "m", "0", "3", "BIT"]), NOT_INT);
    assert_eq!(
        t.run(&["BITPOS", "m", "0", "1", "2", "bits"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.run(&["BITPOS", "m", "1", "0", "1", "2", "3"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn bitop() {
    let t = TestCtx::new();
    t.run(&["SET", "a", "foobar"]);
    t.run(&["SET", "b", "abcdef"]);
    assert_eq!(t.run(&["BITOP", "AND", "d", "a", "b"]), int(6));
    assert_eq!(t.run(&["GET", "d"]), "$6\r\n`bc`ab\r\n");
    assert_eq!(t.run(&["BITOP", "or", "d", "a", "b"]), int(6));
    assert_eq!(t.run(&["GET", "d"]), "$6\r\ngoofev\r\n");
    assert_eq!(t.run(&["BITOP", "XOR", "d", "a", "b"]), int(6));
    assert_eq!(
        t.run_bytes(&[b"GET", b"d"]),
        b"$6\r\n\x07\x0d\x0c\x06\x04\x14\r\n"
    );
    assert_eq!(t.run(&["BITOP", "NOT", "d", "a"]), int(6));
    assert_eq!(
        t.run_bytes(&[b"GET", b"d"]),
        b"$6\r\n\x99\x90\x90\x9d\x9e\x8d\r\n"
    );
    // Shorter and missing sources are zero-padded.
    t.run_bytes(&[b"SET", b"s", b"\xff"]);
    t.run_bytes(&[b"SET", b"l", b"\x0f\x0f\x0f"]);
    assert_eq!(t.run(&["BITOP", "AND", "d", "l", "s"]), int(3));
    assert_eq!(t.run_bytes(&[b"GET", b"d"]), b"$3\r\n\x0f\x00\x00\r\n");
    assert_eq!(t.run(&["BITOP", "AND", "d", "s", "l", "missing"]), int(3));
    assert_eq!(t.run_bytes(&[b"GET", b"d"]), b"$3\r\n\x00\x00\x00\r\n");
    assert_eq!(t.run(&["BITOP", "OR", "d", "s", "missing", "l"]), int(3));
    assert_eq!(t.run_bytes(&[b"GET", b"d"]), b"$3\r\n\xff\x0f\x0f\r\n");
    assert_eq!(t.run(&["BITOP", "XOR", "d", "l", "s", "s"]), int(3));
    assert_eq!(t.run_bytes(&[b"GET", b"d"]), b"$3\r\n\x0f\x0f\x0f\r\n");
    // The destination may be a source; its TTL is cleared.
    t.run(&["PSETEX", "d", "10000", "\u{1}"]);
    assert_eq!(t.run(&["BITOP", "OR", "d", "d", "s"]), int(1));
    assert_eq!(t.run_bytes(&[b"GET", b"d"]), b"$1\r\n\xff\r\n");
    assert_eq!(expire_of(&t, "d"), Some(0));
    // An empty result deletes the destination.
    assert_eq!(t.run(&["BITOP", "AND", "d", "missing"]), int(0));
    assert_eq!(expire_of(&t, "d"), None);
    assert_eq!(t.run(&["BITOP", "foo", "d", "a"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.run(&["BITOP", "NOT", "d", "a", "b"]),
        "-ERR BITOP NOT must be called with a single source key.\r\n"
    );
    assert_eq!(
        t.run(&["BITOP", "AND", "d"]),
        "-ERR wrong number of arguments for 'bitop' command\r\n"
    );
}

#[test]
fn table_rows() {
    use crate::table::{flags::*, CommandTable};
    let tab = CommandTable::get();
    let row = |n: &str| tab.lookup(n.as_bytes()).unwrap();
    assert_eq!(
        row("bitop").key_positions(6).collect::<Vec<_>>(),
        vec![2, 3, 4, 5]
    );
    assert!(row("bitfield").has(WRITE) && row("bitfield").has(DENYOOM));
    assert!(row("bitfield_ro").has(READONLY) && !row("bitfield_ro").has(WRITE));
    assert!(row("setbit").has(DENYOOM) && row("bitop").has(DENYOOM));
    for spec in super::COMMANDS {
        assert_eq!(spec.group, "bitmap");
    }
}

mod model {
    //! SETRANGE / GETRANGE / APPEND / SETBIT / GETBIT / BITCOUNT against a `Vec<u8>`.
    use crate::testing::TestCtx;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        SetRange(usize, Vec<u8>),
        Append(Vec<u8>),
        SetBit(u64, bool),
        GetBit(u64),
        GetRange(i64, i64),
        BitCount,
    }

    fn op() -> impl Strategy<Value = Op> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..12);
        prop_oneof![
            (0usize..40, bytes.clone()).prop_map(|(o, v)| Op::SetRange(o, v)),
            bytes.prop_map(Op::Append),
            (0u64..320, any::<bool>()).prop_map(|(o, b)| Op::SetBit(o, b)),
            (0u64..400).prop_map(Op::GetBit),
            (-50i64..50, -50i64..50).prop_map(|(s, e)| Op::GetRange(s, e)),
            Just(Op::BitCount),
        ]
    }

    fn bulk(v: &[u8]) -> Vec<u8> {
        let mut r = format!("${}\r\n", v.len()).into_bytes();
        r.extend_from_slice(v);
        r.extend_from_slice(b"\r\n");
        r
    }

    fn int(n: usize) -> Vec<u8> {
        format!(":{n}\r\n").into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn byte_and_bit_writers_match_a_vec(ops in proptest::collection::vec(op(), 1..40)) {
            let t = TestCtx::new();
            let mut m: Option<Vec<u8>> = None;
            for op in ops {
                match op {
                    Op::SetRange(o, v) => {
                        let off = o.to_string();
                        let got = t.run_bytes(&[b"SETRANGE", b"k", off.as_bytes(), &v]);
                        if !v.is_empty() {
                            let s = m.get_or_insert_with(Vec::new);
                            if s.len() < o + v.len() {
                                s.resize(o + v.len(), 0);
                            }
                            s[o..o + v.len()].copy_from_slice(&v);
                        }
                        prop_assert_eq!(got, int(m.as_ref().map_or(0, Vec::len)));
                    }
                    Op::Append(v) => {
                        let got = t.run_bytes(&[b"APPEND", b"k", &v]);
                        let s = m.get_or_insert_with(Vec::new);
                        s.extend_from_slice(&v);
                        prop_assert_eq!(got, int(s.len()));
                    }
                    Op::SetBit(o, b) => {
                        let (off, bit) = (o.to_string(), if b { "1" } else { "0" });
                        let got = t.run_bytes(&[b"SETBIT", b"k", off.as_bytes(), bit.as_bytes()]);
                        let s = m.get_or_insert_with(Vec::new);
                        let byte = (o / 8) as usize;
                        if s.len() <= byte {
                            s.resize(byte + 1, 0);
                        }
                        let mask = 0x80u8 >> (o % 8);
                        let old = s[byte] & mask != 0;
                        if b { s[byte] |= mask } else { s[byte] &= !mask }
                        prop_assert_eq!(got, int(old as usize));
                    }
                    Op::GetBit(o) => {
                        let got = t.run_bytes(&[b"GETBIT", b"k", o.to_string().as_bytes()]);
                        let s = m.as_deref().unwrap_or(&[]);
                        let bit = s.get((o / 8) as usize).is_some_and(|b| b & (0x80 >> (o % 8)) != 0);
                        prop_assert_eq!(got, int(bit as usize));
                    }
                    Op::GetRange(st, en) => {
                        let got = t.run_bytes(&[
                            b"GETRANGE", b"k", st.to_string().as_bytes(), en.to_string().as_bytes(),
                        ]);
                        let s = m.as_deref().unwrap_or(&[]);
                        let n = s.len() as i64;
                        let norm = |i: i64| if i < 0 { (n + i).max(0) } else { i };
                        let (a, b) = (norm(st), norm(en).min(n - 1));
                        let want: &[u8] = if (st < 0 && en < 0 && st > en) || a > b || n == 0 {
                            &[]
                        } else {
                            &s[a as usize..=b as usize]
                        };
                        prop_assert_eq!(got, bulk(want));
                    }
                    Op::BitCount => {
                        let got = t.run_bytes(&[b"BITCOUNT", b"k"]);
                        let s = m.as_deref().unwrap_or(&[]);
                        let n: u32 = s.iter().map(|b| b.count_ones()).sum();
                        prop_assert_eq!(got, int(n as usize));
                    }
                }
            }
            let got = t.run_bytes(&[b"GET", b"k"]);
            match &m {
                Some(s) => prop_assert_eq!(got, bulk(s)),
                None => prop_assert_eq!(got, b"$-1\r\n".to_vec()),
            }
        }
    }
}
