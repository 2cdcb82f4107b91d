//! Golden tests: every hex example in `docs/PROTOCOL.md` is what the codec encodes and
//! decodes, byte for byte, and every example is covered here (an example added to the
//! document without an expectation fails, as does an expectation whose example is gone).
//! The live server's replies to the request examples are checked by
//! `crates/rcache/tests/binary_door.rs`.

mod doc_examples;

use protocol::binary::{
    self as bin, op, BinValue, DecodeError, Decoded, FrameError, RequestDecoder,
};

/// What an example must be.
enum Expect {
    /// Request frames, in order: (opcode, args).
    Requests(Vec<(u8, Vec<Vec<u8>>)>),
    /// Reply frames, in order.
    Replies(Vec<BinValue<'static>>),
    /// A request the decoder refuses with this error (`authed` = the client's state).
    Refused { err: DecodeError, authed: bool },
    /// A request cut short: the decoder waits for more, in the middle of a frame.
    Truncated,
}

fn req(opcode: u8, args: &[&[u8]]) -> Expect {
    Expect::Requests(vec![(opcode, args.iter().map(|a| a.to_vec()).collect())])
}

fn reply(v: BinValue<'static>) -> Expect {
    Expect::Replies(vec![v])
}

fn error(msg: &str) -> Expect {
    reply(BinValue::Error(Box::leak(
        msg.as_bytes().to_vec().into_boxed_slice(),
    )))
}

fn v(s: &'static str) -> BinValue<'static> {
    BinValue::Value(s.as_bytes())
}

fn fatal(e: FrameError, authed: bool) -> Expect {
    Expect::Refused {
        err: DecodeError::Fatal(e),
        authed,
    }
}

fn expectations() -> Vec<(&'static str, Expect)> {
    use BinValue as B;
    let ttl = 60000u64.to_be_bytes();
    vec![
        ("get-request", req(op::GET, &[b"user:1"])),
        ("get-reply-value", reply(v("ada"))),
        ("get-reply-not-found", reply(B::NotFound)),
        ("set-request", req(op::SET, &[b"user:1", b"ada"])),
        ("set-ttl-request", req(op::SET, &[b"session", b"xyz", &ttl])),
        ("set-reply", reply(B::Ok)),
        ("delete-request", req(op::DELETE, &[b"a", b"b"])),
        ("delete-reply", reply(B::Int(1))),
        ("status-request", req(op::STATUS, &[])),
        (
            "status-reply-shape",
            reply(B::Map(vec![
                (v("keys"), B::Int(2)),
                (v("hit_ratio"), B::Double(0.5)),
            ])),
        ),
        (
            "command-request",
            req(op::COMMAND, &[b"HSET", b"h", b"f", b"v"]),
        ),
        ("command-reply", reply(B::Int(1))),
        (
            "error-command-reply",
            error("ERR unknown command 'NOPE', with args beginning with: "),
        ),
        ("hello-request", req(op::HELLO, &[])),
        (
            "hello-reply",
            reply(B::Map(vec![
                (v("server"), v("rcache")),
                (v("version"), v(env!("CARGO_PKG_VERSION"))),
                (v("protocol"), B::Int(bin::VERSION as i64)),
                (v("max_argc"), B::Int(bin::MAX_ARGC as i64)),
                (v("max_arg_len"), B::Int(bin::DEFAULT_MAX_ARG_LEN as i64)),
            ])),
        ),
        ("reply-ok", reply(B::Ok)),
        ("reply-value", reply(v("ada"))),
        ("reply-not-found", reply(B::NotFound)),
        (
            "reply-error",
            error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        ),
        ("reply-int", reply(B::Int(-2))),
        ("reply-double", reply(B::Double(1.5))),
        ("reply-bool", reply(B::Bool(true))),
        ("reply-array", reply(B::Array(vec![v("a"), B::NotFound]))),
        ("reply-map", reply(B::Map(vec![(v("name"), v("ada"))]))),
        ("reply-set", reply(B::Set(vec![v("x"), v("y")]))),
        ("reply-bignum", reply(B::BigNum(b"12345678901234567890"))),
        (
            "reply-nested",
            reply(B::Array(vec![
                B::Array(vec![v("m"), B::Double(2.0)]),
                B::Map(vec![(v("n"), B::Set(vec![]))]),
            ])),
        ),
        (
            "pipeline-request",
            Expect::Requests(vec![
                (op::SET, vec![b"a".to_vec(), b"1".to_vec()]),
                (op::GET, vec![b"a".to_vec()]),
                (op::GET, vec![b"zz".to_vec()]),
            ]),
        ),
        (
            "pipeline-reply",
            Expect::Replies(vec![B::Ok, v("1"), B::NotFound]),
        ),
        (
            "error-version-request",
            fatal(FrameError::BadVersion(2), true),
        ),
        (
            "error-version-reply",
            error(&FrameError::BadVersion(2).message()),
        ),
        (
            "error-unknown-opcode-request",
            Expect::Refused {
                err: DecodeError::UnknownOpcode {
                    opcode: 0x07,
                    consumed: 11,
                },
                authed: true,
            },
        ),
        (
            "error-unknown-opcode-reply",
            error(&bin::unknown_opcode_message(0x07)),
        ),
        (
            "error-argc-request",
            fatal(
                FrameError::TooManyArgs {
                    argc: bin::MAX_ARGC + 1,
                    max: bin::MAX_ARGC,
                },
                true,
            ),
        ),
        (
            "error-argc-reply",
            error(
                &FrameError::TooManyArgs {
                    argc: bin::MAX_ARGC + 1,
                    max: bin::MAX_ARGC,
                }
                .message(),
            ),
        ),
        (
            "error-arg-len-request",
            fatal(
                FrameError::ArgTooLong {
                    len: 536870913,
                    max: bin::DEFAULT_MAX_ARG_LEN,
                },
                true,
            ),
        ),
        (
            "error-arg-len-reply",
            error(
                &FrameError::ArgTooLong {
                    len: 536870913,
                    max: bin::DEFAULT_MAX_ARG_LEN,
                }
                .message(),
            ),
        ),
        (
            "error-unauth-argc-request",
            fatal(FrameError::UnauthenticatedArgc { argc: 11, max: 10 }, false),
        ),
        (
            "error-unauth-argc-reply",
            error(&FrameError::UnauthenticatedArgc { argc: 11, max: 10 }.message()),
        ),
        (
            "error-unauth-arg-len-request",
            fatal(
                FrameError::UnauthenticatedArgLen {
                    len: 16385,
                    max: 16384,
                },
                false,
            ),
        ),
        (
            "error-unauth-arg-len-reply",
            error(
                &FrameError::UnauthenticatedArgLen {
                    len: 16385,
                    max: 16384,
                }
                .message(),
            ),
        ),
        ("error-truncated-request", Expect::Truncated),
        (
            "error-truncated-reply",
            error(&FrameError::Truncated.message()),
        ),
        (
            "error-noauth-reply",
            error("NOAUTH Authentication required."),
        ),
        ("error-arity-request", req(op::GET, &[b"a", b"b"])),
        (
            "error-arity-reply",
            error("ERR wrong number of arguments for the GET opcode"),
        ),
        ("error-ttl-request", req(op::SET, &[b"k", b"v", b"60"])),
        (
            "error-ttl-reply",
            error("ERR the SET opcode's ttl must be exactly 8 bytes (u64 milliseconds)"),
        ),
        (
            "error-refused-request",
            req(op::COMMAND, &[b"SUBSCRIBE", b"news"]),
        ),
        (
            "error-refused-reply",
            error("ERR SUBSCRIBE is not supported over the binary protocol; use RESP"),
        ),
    ]
}

fn check(name: &str, bytes: &[u8], expect: &Expect) {
    match expect {
        Expect::Requests(frames) => {
            let mut enc = Vec::new();
            for (opcode, args) in frames {
                let a: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                bin::encode_request(&mut enc, *opcode, &a);
            }
            assert_eq!(enc, bytes, "{name}: the encoder writes other bytes");
            let mut d = RequestDecoder::default();
            let mut off = 0;
            for (opcode, args) in frames {
                let Ok(Decoded::Frame { consumed }) = d.decode(&bytes[off..], true) else {
                    panic!("{name}: no frame at byte {off}");
                };
                assert_eq!(d.opcode(), *opcode, "{name}");
                let got: Vec<Vec<u8>> = d.args(&bytes[off..]).iter().map(|a| a.to_vec()).collect();
                assert_eq!(&got, args, "{name}");
                off += consumed;
            }
            assert_eq!(off, bytes.len(), "{name}: bytes after the frames");
        }
        Expect::Replies(vals) => {
            let mut enc = Vec::new();
            for val in vals {
                bin::encode_reply(&mut enc, val);
            }
            assert_eq!(enc, bytes, "{name}: the encoder writes other bytes");
            let mut off = 0;
            for val in vals {
                let (got, n) = bin::decode_reply(&bytes[off..])
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .unwrap_or_else(|| panic!("{name}: incomplete"));
                assert_eq!(&got, val, "{name}");
                off += n;
            }
            assert_eq!(off, bytes.len(), "{name}: bytes after the replies");
        }
        Expect::Refused { err, authed } => {
            let mut d = RequestDecoder::default();
            assert_eq!(d.decode(bytes, *authed), Err(*err), "{name}");
        }
        Expect::Truncated => {
            let mut d = RequestDecoder::default();
            assert!(
                matches!(d.decode(bytes, true), Ok(Decoded::Incomplete { want }) if want > bytes.len()),
                "{name}: not a cut-off frame"
            );
            assert!(d.in_progress(), "{name}: the decoder is not mid-frame");
        }
    }
}

#[test]
fn every_example_in_protocol_md_matches_the_codec() {
    let doc = doc_examples::examples();
    let exp = expectations();
    for (name, e) in &exp {
        let bytes = doc
            .get(*name)
            .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no example {name}"));
        check(name, bytes, e);
    }
    for name in doc.keys() {
        assert!(
            exp.iter().any(|(n, _)| n == name),
            "docs/PROTOCOL.md example {name} is not checked by this test"
        );
    }
}

#[test]
fn every_opcode_and_reply_code_has_an_example() {
    let doc = doc_examples::examples();
    let mut opcodes = std::collections::BTreeSet::new();
    let mut codes = std::collections::BTreeSet::new();
    for (name, bytes) in &doc {
        if name.ends_with("-request") {
            opcodes.insert(bytes[1]);
        } else {
            let mut off = 0;
            while let Ok(Some((_, n))) = bin::decode_reply(&bytes[off..]) {
                collect_codes(&bytes[off + 1..off + n], &mut codes);
                off += n;
            }
        }
    }
    for o in 1..=6u8 {
        assert!(
            opcodes.contains(&o),
            "no request example with opcode {o:#04x}"
        );
    }
    for c in 0..=0x0Au8 {
        assert!(codes.contains(&c), "no reply example with code {c:#04x}");
    }
}

/// Every value code inside one value's bytes.
fn collect_codes(value: &[u8], into: &mut std::collections::BTreeSet<u8>) {
    let c = value[0];
    into.insert(c);
    if matches!(c, 0x07..=0x09) {
        let mut p = 9;
        while p < value.len() {
            let len = u32::from_be_bytes(value[p + 1..p + 5].try_into().unwrap()) as usize;
            collect_codes(&value[p..p + 5 + len], into);
            p += 5 + len;
        }
    }
}
