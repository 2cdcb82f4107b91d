//! Fuzz the rcache binary protocol codec (`protocol::binary`): arbitrary bytes must never
//! panic either decoder; requests must decode the same however the bytes are split; a reply
//! that decodes must re-encode to the very same bytes.
//!
//! ```text
//! cargo +stable fuzz run binary_frame -s none
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::binary::{self, Decoded, RequestDecoder};

type Req = (u8, Vec<Vec<u8>>);

/// Decode the requests in `buf` fed in two reads split at `at`; stops at the first error
/// (returned as its message) or when the bytes run out.
fn decode(buf: &[u8], at: usize, authed: bool) -> (Vec<Req>, Option<String>) {
    let mut d = RequestDecoder::default();
    let mut rbuf = buf[..at].to_vec();
    let mut rest = &buf[at..];
    let mut out = Vec::new();
    loop {
        let mut off = 0;
        loop {
            match d.decode(&rbuf[off..], authed) {
                Ok(Decoded::Incomplete { want }) => {
                    assert!(want > rbuf.len() - off);
                    break;
                }
                Ok(Decoded::Frame { consumed }) => {
                    let args = d.args(&rbuf[off..]).iter().map(|a| a.to_vec()).collect();
                    out.push((d.opcode(), args));
                    off += consumed;
                }
                Err(e) if !e.is_fatal() => {
                    if let binary::DecodeError::UnknownOpcode { opcode, consumed } = e {
                        out.push((opcode, Vec::new()));
                        off += consumed;
                    }
                }
                Err(e) => return (out, Some(e.message())),
            }
        }
        rbuf.drain(..off);
        if rest.is_empty() {
            return (out, None);
        }
        rbuf.extend_from_slice(rest);
        rest = &[];
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, data)) = data.split_first() else {
        return;
    };
    let authed = ctl & 1 == 0;
    let whole = decode(data, data.len(), authed);
    let at = if data.is_empty() {
        0
    } else {
        ctl as usize % (data.len() + 1)
    };
    assert_eq!(decode(data, at, authed), whole);

    if let Ok(Some((v, n))) = binary::decode_reply(data) {
        let mut again = Vec::new();
        binary::encode_reply(&mut again, &v);
        // NaN payloads survive too: doubles are carried as raw bits.
        assert_eq!(&again[..], &data[..n]);
    }
});
