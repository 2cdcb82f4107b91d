//! The property the RESP request parser must hold for any input, shared by the proptest in
//! `tests/parser_splits.rs` and the cargo-fuzz target `fuzz/fuzz_targets/resp_parser.rs`:
//!
//! 1. it never panics;
//! 2. every answer is in bounds (`consumed` within the buffer, `want` beyond it, arguments
//!    non-empty);
//! 3. feeding the bytes in arbitrary pieces, as reads from a socket arrive, gives the same
//!    commands and the same error as feeding them in one piece.
//!
//! The first two control bytes choose the options, the rest is the input:
//! `ctl[0]` bit 0 = not authenticated, bit 1 = a tiny `max_bulk_len` (so the limit is hit by
//! short inputs); `ctl[1]` seeds the sizes of the pieces.

use protocol::resp::{Limits, ParseError, Parsed, RequestParser, INLINE_MAX};

/// Commands parsed before the end of the input or the first error, and that error.
type Outcome = (Vec<Vec<Vec<u8>>>, Option<ParseError>);

pub fn check(data: &[u8]) {
    let [c0, c1, input @ ..] = data else {
        return;
    };
    let authed = c0 & 1 == 0;
    let mut limits = Limits::default();
    if c0 & 2 != 0 {
        limits.max_bulk_len = 16;
    }
    let whole = run(input, &[usize::MAX], authed, limits);
    // Piece sizes 1..=8 in a pattern seeded by ctl[1]: many split points, all positions.
    let sizes: Vec<usize> = (0..8u32)
        .map(|i| ((*c1 as u32).rotate_left(i) as usize % 8) + 1)
        .collect();
    let pieces = run(input, &sizes, authed, limits);
    // Past INLINE_MAX a header or inline line that is still incomplete is refused, while the
    // same bytes in one piece may reach its newline first: only shorter inputs must agree.
    if input.len() <= INLINE_MAX {
        assert_eq!(whole, pieces, "one piece vs pieces of {sizes:?}");
    }
    let bytewise = run(input, &[1], authed, limits);
    if input.len() <= INLINE_MAX {
        assert_eq!(whole, bytewise, "one piece vs one byte at a time");
    }
}

/// Feed `input` to a fresh parser in pieces of the given sizes (cycled), as a connection does:
/// append to a buffer, parse every complete request, drop what was consumed, read again.
fn run(input: &[u8], sizes: &[usize], authed: bool, limits: Limits) -> Outcome {
    let mut p = RequestParser::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut out = Vec::new();
    let mut sizes = sizes.iter().cycle();
    loop {
        let n = (*sizes.next().unwrap()).min(input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        let mut off = 0;
        loop {
            let have = buf.len() - off;
            match p.parse(&buf[off..], authed) {
                Ok(Parsed::Incomplete { want }) => {
                    assert!(want > have, "Incomplete wants {want} but {have} are there");
                    break;
                }
                Ok(Parsed::Empty { consumed }) => {
                    assert!(
                        consumed > 0 && consumed <= have,
                        "Empty {consumed} of {have}"
                    );
                    off += consumed;
                }
                Ok(Parsed::Command { consumed }) => {
                    assert!(
                        consumed > 0 && consumed <= have,
                        "Command {consumed} of {have}"
                    );
                    let args = p.args(&buf[off..]);
                    assert!(!args.is_empty(), "a command with no arguments");
                    out.push(args.iter().map(|a| a.to_vec()).collect());
                    off += consumed;
                }
                Err(e) => {
                    let _ = e.message();
                    return (out, Some(e));
                }
            }
        }
        buf.drain(..off);
        if fed == input.len() {
            return (out, None);
        }
    }
}
