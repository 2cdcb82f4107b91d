//! The rcache binary protocol door (`--binary-port`; wire format in `docs/PROTOCOL.md`, codec
//! in `protocol::binary`) on the shared connection loop (`conn.rs`).
//!
//! ```text
//!  GET / SET / DELETE  ─► Frame::Native ─► one storage Txn, reply written into `out`
//!  STATUS / HELLO      ─► Frame::Native ─► built here (stats snapshot, limits)
//!  COMMAND name args…  ─► Frame::Command ─► commands::execute_in (RESP3) ─► finish_reply
//!                                           transcodes that reply to a binary value
//! ```
//!
//! GET, SET and DELETE are the fast path: no command-table lookup, no RESP round trip, no
//! allocation per request (DELETE of several keys excepted). They keep RESP's semantics:
//! NOAUTH before AUTH, the `maxmemory` check before SET, WRONGTYPE on a GET of a
//! non-string, hits and misses, WATCH invalidation (the storage `Txn` does both), CLIENT
//! NO-TOUCH. Rarer states take the command path instead, so their rules live in one
//! place: a transaction (MULTI queues the request), clients blocked on some key (a write
//! may have to serve them), and an ACL user with restrictions (the permission check).
//! Authentication is `COMMAND AUTH [user] password`, as RESP's AUTH.

use crate::door::{After, Codec, Frame, FrameError};
use commands::clients::Session;
use commands::{CmdError, Door, Executed, ServerState};
use protocol::binary::{self as bin, code, op, DecodeError, Decoded, RequestDecoder};
use protocol::Args;
use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;
use storage::{Expiry, ObjType};

const NOAUTH: &[u8] = b"NOAUTH Authentication required.";
const WRONGTYPE: &[u8] = b"WRONGTYPE Operation against a key holding the wrong kind of value";

/// A transcoding buffer that grew past this is given back after use.
const SCRATCH_KEEP: usize = 1 << 20;

/// One binary connection's codec: the request decoder plus reused buffers.
#[derive(Default)]
pub struct BinaryCodec {
    dec: RequestDecoder,
    /// The binary reply of a transcoded RESP reply, before it replaces the RESP bytes.
    scratch: Vec<u8>,
    /// A native request rewritten as a command (inside MULTI, or with blocked clients).
    cmd: Vec<u8>,
    cmd_ranges: Vec<Range<usize>>,
}

impl BinaryCodec {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Commands that would turn the connection into a stream of pushes, which the binary
/// protocol's one-reply-per-request framing cannot carry; and RESP's own HELLO, which would
/// switch the session's RESP version under the transcoder.
fn refused(name: &[u8]) -> Option<&'static str> {
    const REFUSED: &[(&str, &str)] = &[
        (
            "subscribe",
            "ERR SUBSCRIBE is not supported over the binary protocol; use RESP",
        ),
        (
            "psubscribe",
            "ERR PSUBSCRIBE is not supported over the binary protocol; use RESP",
        ),
        (
            "ssubscribe",
            "ERR SSUBSCRIBE is not supported over the binary protocol; use RESP",
        ),
        (
            "monitor",
            "ERR MONITOR is not supported over the binary protocol; use RESP",
        ),
        (
            "hello",
            "ERR HELLO is not supported over the binary protocol; use the HELLO opcode (and COMMAND AUTH)",
        ),
    ];
    REFUSED
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, m)| *m)
}

/// `ERR wrong number of arguments for the GET opcode`.
fn arity_error(out: &mut Vec<u8>, opcode: u8) {
    let name = bin::opcode_name(opcode).unwrap_or("?");
    let msg = format!("ERR wrong number of arguments for the {name} opcode");
    reply_error(out, msg.as_bytes());
}

#[inline]
fn reply_error(out: &mut Vec<u8>, msg: &[u8]) {
    out.push(bin::VERSION);
    bin::put_error(out, msg);
}

impl Codec for BinaryCodec {
    const DOOR: Door = Door::Binary;

    #[inline]
    fn set_max_bulk_len(&mut self, n: i64) {
        self.dec.limits.max_arg_len = n.max(0) as u64;
    }

    #[inline]
    fn parse(&mut self, buf: &[u8], authed: bool) -> Result<Frame, FrameError> {
        match self.dec.decode(buf, authed) {
            Ok(Decoded::Incomplete { want }) => Ok(Frame::Incomplete { want }),
            Ok(Decoded::Frame { consumed }) => {
                if self.dec.opcode() == op::COMMAND && !self.dec.args(buf).is_empty() {
                    Ok(Frame::Command { consumed })
                } else {
                    Ok(Frame::Native { consumed })
                }
            }
            // The frame is skipped; `run_native` answers the error.
            Err(DecodeError::UnknownOpcode { consumed, .. }) => Ok(Frame::Native { consumed }),
            Err(DecodeError::Fatal(e)) => Err(FrameError(e.message())),
        }
    }

    #[inline]
    fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        self.dec.args(buf)
    }

    fn in_progress(&self) -> bool {
        self.dec.in_progress()
    }

    fn native_keys(&self, frame: &[u8]) -> Option<crate::door::NativeKeys> {
        let args = self.dec.args(frame);
        let keys: Vec<Vec<u8>> = match self.dec.opcode() {
            op::GET | op::SET => args.try_get(0).map(|k| vec![k.to_vec()])?,
            op::DELETE => args.iter().map(|k| k.to_vec()).collect(),
            _ => return None,
        };
        Some(crate::door::NativeKeys {
            keys,
            write: self.dec.opcode() != op::GET,
            multi_get: None,
        })
    }

    fn run_native(
        &mut self,
        state: &ServerState,
        sess: &mut Session,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> After {
        let opcode = self.dec.opcode();
        let args = self.dec.args(frame);
        match opcode {
            op::HELLO => {
                if args.is_empty() {
                    hello(&self.dec, out);
                } else {
                    arity_error(out, opcode);
                }
                return After::Continue;
            }
            op::GET | op::SET | op::DELETE | op::STATUS if !sess.authenticated => {
                reply_error(out, NOAUTH);
                return After::Continue;
            }
            op::STATUS => {
                if args.is_empty() {
                    // STATUS tells what INFO tells: the ACL user needs INFO.
                    match commands::acl::check_as(state, sess, "info", &[]) {
                        Ok(()) => status(state, out),
                        Err(msg) => reply_error(out, msg.as_bytes()),
                    }
                } else {
                    arity_error(out, opcode);
                }
                return After::Continue;
            }
            op::GET | op::SET | op::DELETE => {}
            // COMMAND with no name (with one it is a `Frame::Command`).
            op::COMMAND => {
                arity_error(out, opcode);
                return After::Continue;
            }
            _ => {
                reply_error(out, bin::unknown_opcode_message(opcode).as_bytes());
                return After::Continue;
            }
        }
        let arity_ok = match opcode {
            op::GET => args.len() == 1,
            op::SET => args.len() == 2 || args.len() == 3,
            _ => !args.is_empty(),
        };
        if !arity_ok {
            arity_error(out, opcode);
            return After::Continue;
        }
        let ttl_arg = if opcode == op::SET {
            args.try_get(2)
        } else {
            None
        };
        let ttl = match ttl_arg {
            Some(t) => match <[u8; 8]>::try_from(t) {
                Ok(b) => u64::from_be_bytes(b),
                Err(_) => {
                    reply_error(
                        out,
                        b"ERR the SET opcode's ttl must be exactly 8 bytes (u64 milliseconds)",
                    );
                    return After::Continue;
                }
            },
            None => 0,
        };
        // Writes take the command path when the log records them or a failed save refuses
        // them (MISCONF), and every request does while the start-up load runs (LOADING):
        // those rules live in the command layer.
        let slow_write = (opcode != op::GET
            && (state.aof.is_on() || !state.persistence.last_ok.load(Relaxed)))
            || state.persistence.loading.load(Relaxed);
        // A user with ACL restrictions is checked by the command layer too.
        if sess.multi.is_some()
            || state.blocking.has_waiters()
            || slow_write
            || !commands::acl::unrestricted(state, sess)
        {
            let Self {
                dec,
                scratch,
                cmd,
                cmd_ranges,
                ..
            } = self;
            via_command(
                state,
                sess,
                dec.args(frame),
                opcode,
                ttl,
                cmd,
                cmd_ranges,
                scratch,
                out,
            );
            return After::Continue;
        }
        match opcode {
            op::GET => get(state, sess, args.get(0), out),
            op::SET => set(state, sess, args.get(0), args.get(1), ttl, out),
            _ => delete(state, sess, args, out),
        }
        // MONITOR (the command path above feeds through `execute_in`).
        if state.monitors.active() {
            monitor(state, sess, opcode, args, ttl);
        }
        After::Continue
    }

    fn finish_reply(&mut self, out: &mut Vec<u8>, mark: usize) {
        transcode_tail(&mut self.scratch, out, mark);
    }

    fn protocol_error(&mut self, msg: &str, out: &mut Vec<u8>) {
        reply_error(out, msg.as_bytes());
    }

    fn truncated_error(&mut self, out: &mut Vec<u8>) {
        reply_error(out, bin::FrameError::Truncated.message().as_bytes());
    }

    fn refuse(&self, args: Args<'_>) -> Option<&'static str> {
        refused(args.get(0))
    }

    fn acl_refuse(
        &mut self,
        state: &ServerState,
        sess: &mut Session,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let args = self.dec.args(frame);
        let (name, keys): (&str, Vec<&[u8]>) = match self.dec.opcode() {
            op::GET => ("get", args.iter().take(1).collect()),
            op::SET => ("set", args.iter().take(1).collect()),
            op::DELETE => ("del", args.iter().collect()),
            _ => return false,
        };
        match commands::acl::check_as(state, sess, name, &keys) {
            Ok(()) => false,
            Err(msg) => {
                reply_error(out, msg.as_bytes());
                true
            }
        }
    }
}

/// Show a native GET/SET/DELETE to MONITOR as the command it is (`SET k v PX ttl`).
fn monitor(state: &ServerState, sess: &Session, opcode: u8, args: Args<'_>, ttl: u64) {
    let name: &[u8] = match opcode {
        op::GET => b"GET",
        op::SET => b"SET",
        _ => b"DEL",
    };
    let ttl_text = ttl.to_string();
    let mut words: Vec<&[u8]> = vec![name];
    match opcode {
        op::SET => {
            words.extend([args.get(0), args.get(1)]);
            if ttl > 0 {
                words.extend([&b"PX"[..], ttl_text.as_bytes()]);
            }
        }
        _ => words.extend(args.iter()),
    }
    commands::monitor::feed_args(state, sess, sess.db, &words);
}

/// GET key → VALUE, NOT_FOUND, or WRONGTYPE.
#[inline]
fn get(state: &ServerState, sess: &Session, key: &[u8], out: &mut Vec<u8>) {
    let k = state.ks.key(key);
    let mut txn = state.ks.txn1(sess.db, &k);
    if sess.no_touch {
        txn.set_no_touch(true);
    }
    out.push(bin::VERSION);
    match txn.get(&k) {
        None => bin::put_not_found(out),
        Some(e) if e.obj_type() != ObjType::String => bin::put_error(out, WRONGTYPE),
        Some(e) => bin::put_value(out, e.value()),
    }
    drop(txn);
    // A miss is a "keymiss" keyspace notification (nothing recorded when they are off).
    commands::notify::after_door(state, "set");
}

/// SET key value [ttl ms] → OK: `SET key value [PX ttl]`, with its memory check.
#[inline]
fn set(state: &ServerState, sess: &Session, key: &[u8], value: &[u8], ttl: u64, out: &mut Vec<u8>) {
    if state.ks.ensure_memory().is_err() {
        reply_error(out, CmdError::Oom.message("set").as_bytes());
        return;
    }
    let k = state.ks.key(key);
    let mut txn = state.ks.txn1(sess.db, &k);
    if sess.no_touch {
        txn.set_no_touch(true);
    }
    let expiry = if ttl == 0 {
        Expiry::Clear
    } else {
        match txn.now().checked_add(ttl) {
            Some(at) if at <= i64::MAX as u64 => Expiry::At(at),
            _ => {
                drop(txn);
                reply_error(out, CmdError::InvalidExpire.message("set").as_bytes());
                return;
            }
        }
    };
    txn.set(&k, value, expiry);
    drop(txn);
    commands::notify::after_door(state, "set");
    out.push(bin::VERSION);
    bin::put_ok(out);
}

/// DELETE key… → INT, the keys removed (a key named twice counts once, as DEL).
fn delete(state: &ServerState, sess: &Session, args: Args<'_>, out: &mut Vec<u8>) {
    let n = if args.len() == 1 {
        let k = state.ks.key(args.get(0));
        let mut txn = state.ks.txn1(sess.db, &k);
        txn.delete(&k) as i64
    } else {
        let keys: Vec<_> = args.iter().map(|a| state.ks.key(a)).collect();
        let mut txn = state.ks.txn(sess.db, &keys);
        keys.iter().filter(|k| txn.delete(k)).count() as i64
    };
    commands::notify::after_door(state, "del");
    out.push(bin::VERSION);
    bin::put_int(out, n);
}

/// Run a native request as the equivalent command (GET k / SET k v [PX ttl] / DEL k…), for
/// the states whose rules only the command layer knows: MULTI queues it, a write may
/// serve blocked clients, and a restricted ACL user is checked.
#[allow(clippy::too_many_arguments)]
fn via_command(
    state: &ServerState,
    sess: &mut Session,
    args: Args<'_>,
    opcode: u8,
    ttl: u64,
    cmd: &mut Vec<u8>,
    ranges: &mut Vec<Range<usize>>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    cmd.clear();
    ranges.clear();
    let mut push = |a: &[u8]| {
        let s = cmd.len();
        cmd.extend_from_slice(a);
        ranges.push(s..cmd.len());
    };
    push(match opcode {
        op::GET => b"GET",
        op::SET => b"SET",
        _ => b"DEL",
    });
    // SET's third argument is the binary ttl, rewritten as PX below.
    let n = if opcode == op::SET { 2 } else { args.len() };
    for a in args.iter().take(n) {
        push(a);
    }
    if opcode == op::SET && ttl != 0 {
        push(b"PX");
        push(ttl.to_string().as_bytes());
    }
    let mark = out.len();
    // GET, SET and DEL are never EXCLUSIVE: they run (or queue) here.
    match commands::execute_in(state, sess, Args::new(cmd, ranges), out, false) {
        Executed::Done(_) => {}
        Executed::NeedsExclusive => unreachable!("GET, SET and DEL are not exclusive"),
    }
    if cmd.capacity() > SCRATCH_KEEP {
        *cmd = Vec::new();
    }
    transcode_tail(scratch, out, mark);
}

/// Rewrite the RESP3 replies at `out[mark..]` as binary reply frames, in place.
fn transcode_tail(scratch: &mut Vec<u8>, out: &mut Vec<u8>, mark: usize) {
    scratch.clear();
    let mut pos = mark;
    while pos < out.len() {
        match protocol::parse_reply(&out[pos..]) {
            Ok((v, n)) => {
                scratch.push(bin::VERSION);
                bin::transcode_resp(scratch, &v);
                pos += n;
            }
            Err(e) => {
                // Our own reply writer produced it: this is a bug, not bad input.
                tracing::error!("binary door: cannot translate a reply: {e:?}");
                scratch.push(bin::VERSION);
                bin::put_error(
                    scratch,
                    b"ERR internal error: reply could not be translated",
                );
                break;
            }
        }
    }
    out.truncate(mark);
    out.extend_from_slice(scratch);
    if scratch.capacity() > SCRATCH_KEEP {
        *scratch = Vec::new();
    }
}

/// HELLO → MAP {server, version, protocol, max_argc, max_arg_len}.
fn hello(dec: &RequestDecoder, out: &mut Vec<u8>) {
    out.push(bin::VERSION);
    let m = bin::begin_container(out, code::MAP);
    bin::put_value(out, b"server");
    bin::put_value(out, b"rcache");
    bin::put_value(out, b"version");
    bin::put_value(out, env!("CARGO_PKG_VERSION").as_bytes());
    bin::put_value(out, b"protocol");
    bin::put_int(out, bin::VERSION as i64);
    bin::put_value(out, b"max_argc");
    bin::put_int(out, dec.limits.max_argc as i64);
    bin::put_value(out, b"max_arg_len");
    bin::put_int(out, dec.limits.max_arg_len.min(u32::MAX as u64) as i64);
    bin::end_container(out, m, 5);
}

/// STATUS → MAP of the shared stats snapshot (name → INT or DOUBLE) and `connections_<door>`.
fn status(state: &ServerState, out: &mut Vec<u8>) {
    use commands::stats::{snapshot, Figure};
    let snap = snapshot(state);
    out.push(bin::VERSION);
    let m = bin::begin_container(out, code::MAP);
    let mut n = 0;
    for s in &snap.figures {
        bin::put_value(out, s.name.as_bytes());
        match s.value {
            Figure::Int(v) => bin::put_int(out, v.min(i64::MAX as u64) as i64),
            Figure::Float(v) => bin::put_double(out, v),
        }
        n += 1;
    }
    for d in &snap.doors {
        bin::put_value(out, format!("connections_{}", d.door.name()).as_bytes());
        bin::put_int(out, d.connected.min(i64::MAX as u64) as i64);
        n += 1;
    }
    bin::end_container(out, m, n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bin::BinValue;

    #[test]
    fn refuses_push_commands_and_resp_hello() {
        assert!(refused(b"subscribe")
            .unwrap()
            .contains("SUBSCRIBE is not supported"));
        assert!(refused(b"MONITOR").is_some());
        assert!(refused(b"Hello").is_some());
        assert!(refused(b"get").is_none());
    }

    #[test]
    fn transcodes_every_reply_in_place() {
        let mut scratch = Vec::new();
        let mut out = b"keep".to_vec();
        out.extend_from_slice(b"+OK\r\n%1\r\n$1\r\na\r\n,2.5\r\n");
        transcode_tail(&mut scratch, &mut out, 4);
        assert_eq!(&out[..4], b"keep");
        let (a, n) = bin::decode_reply(&out[4..]).unwrap().unwrap();
        assert_eq!(a, BinValue::Ok);
        let (b, m) = bin::decode_reply(&out[4 + n..]).unwrap().unwrap();
        assert_eq!(
            b,
            BinValue::Map(vec![(BinValue::Value(b"a"), BinValue::Double(2.5))])
        );
        assert_eq!(4 + n + m, out.len());
    }
}
