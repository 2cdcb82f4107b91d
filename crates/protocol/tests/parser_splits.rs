//! Any bytes, fed in any pieces, parse the same as in one piece and never panic. The check
//! is shared with the cargo-fuzz target (`fuzz/fuzz_targets/resp_parser.rs`), which explores
//! the same property with coverage guidance; this test keeps it compiled and running in CI.

mod split_check;

use proptest::prelude::*;
use protocol::resp::encode_request;

/// Requests that are mostly well-formed, with a few bytes changed: the interesting inputs
/// sit near the grammar, not in uniform noise.
fn near_valid() -> impl Strategy<Value = Vec<u8>> {
    let arg = proptest::collection::vec(any::<u8>(), 0..24);
    let cmd = proptest::collection::vec(arg, 1..5);
    let cmds = proptest::collection::vec(cmd, 1..4);
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 0..4);
    (cmds, edits, any::<bool>()).prop_map(|(cmds, edits, inline_tail)| {
        let mut buf = Vec::new();
        for c in &cmds {
            encode_request(c, &mut buf);
        }
        if inline_tail {
            buf.extend_from_slice(b"SET \"a\\x41 b\" 'c d'\r\nPING\n");
        }
        for (pos, byte, kind) in edits {
            if buf.is_empty() {
                break;
            }
            let i = pos % buf.len();
            match kind {
                0 => buf[i] = byte,
                1 => buf.insert(i, byte),
                _ => {
                    buf.remove(i);
                }
            }
        }
        buf
    })
}

fn with_ctl(input: Vec<u8>, c0: u8, c1: u8) -> Vec<u8> {
    let mut d = vec![c0, c1];
    d.extend(input);
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..300), c0: u8, c1: u8) {
        split_check::check(&with_ctl(input, c0, c1));
    }

    #[test]
    fn near_valid_requests(input in near_valid(), c0: u8, c1: u8) {
        split_check::check(&with_ctl(input, c0, c1));
    }
}

/// Inputs that reach each error and limit, in every mode.
#[test]
fn seeds() {
    let seeds: &[&[u8]] = &[
        b"*1\r\n$4\r\nPING\r\n",
        b"*1\r\n+x\r\n",
        b"*abc\r\n",
        b"*1\r\n$-1\r\n",
        b"*12\r\n",
        b"*1\r\n$20000\r\n",
        b"*2\r\n$3\r\nSET\r\n$17\r\n",
        b"SET \"a b\r\n",
        b"PING\r\n\r\n*0\r\n*-1\r\nECHO 'x'\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI",
        b"*1\r\r\n",
        b"\r\n\r\n\n",
    ];
    for s in seeds {
        for c0 in 0..4u8 {
            for c1 in [0u8, 1, 0x5a, 0xff] {
                split_check::check(&with_ctl(s.to_vec(), c0, c1));
            }
        }
    }
}
