//! OBJECT: a container command (ENCODING, FREQ, IDLETIME, REFCOUNT, HELP) that inspects a
//! key's value without touching it: no LRU/LFU refresh (a keyspace hit or miss is counted, as Redis).

use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::{cmd, dispatch_sub, Ctx};
use protocol::Args;
use storage::evict::{idle_ms, lfu_decayed};
use storage::{Entry, ObjType};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    subcommands: SUBCOMMANDS,
    ..cmd!("object", -2, 0, 0, 0, 0, object, "generic", "2.2.3",
        "A container for object introspection commands", "")
}];

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("object|encoding", 3, READONLY, 2, 2, 1, encoding, "generic", "2.2.3",
        "Inspect the internal encoding of a Redis object", "key"),
    cmd!("object|freq", 3, READONLY, 2, 2, 1, freq, "generic", "4.0.0",
        "Get the logarithmic access frequency counter of a Redis object", "key"),
    cmd!("object|help", 2, LOADING | STALE, 0, 0, 0, help, "generic", "6.2.0",
        "Show helpful text about the different subcommands", ""),
    cmd!("object|idletime", 3, READONLY, 2, 2, 1, idletime, "generic", "2.2.3",
        "Get the time since a Redis object was last accessed", "key"),
    cmd!("object|refcount", 3, READONLY, 2, 2, 1, refcount, "generic", "2.2.3",
        "Get the number of references to the value of the key", "key"),
];

/// OBJECT <subcommand> [key]
fn object(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    dispatch_sub(ctx, SUBCOMMANDS, args)
}

/// Look the key up without touching it and pass the entry to `f`; a missing key answers
/// a null, as Redis does for every OBJECT subcommand.
fn with_entry(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    f: impl FnOnce(&Entry, u64) -> Result<Answer, CmdError>,
) -> CmdResult {
    let k = ctx.key(args.get(2));
    let mut txn = ctx.txn1(&k);
    let now = txn.now();
    match txn.inspect(&k) {
        None => ctx.out.null(),
        Some(e) => match f(e, now)? {
            Answer::Int(n) => ctx.out.int(n),
            Answer::Bulk(s) => ctx.out.bulk(s.as_bytes()),
        },
    }
    Ok(())
}

enum Answer {
    Int(i64),
    Bulk(&'static str),
}

/// The encoding name Redis would report for a string value. rcache physically always keeps
/// the value inline in the key's single allocation; the name says what Redis would have
/// chosen, so tools that branch on it behave: "int" for a strict decimal i64 of at most 20
/// characters, "embstr" up to 44 bytes, "raw" beyond. (Redis also reports "raw" for a short
/// value grown by APPEND/SETRANGE; rcache does not track a value's history.)
pub fn string_encoding(v: &[u8]) -> &'static str {
    if v.len() <= 20 && protocol::resp::parse_i64(v).is_some() {
        "int"
    } else if v.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// OBJECT ENCODING key
fn encoding(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    with_entry(ctx, args, |e, _| {
        Ok(Answer::Bulk(match e.obj_type() {
            ObjType::String => string_encoding(e.value()),
            ObjType::List | ObjType::Set | ObjType::ZSet | ObjType::Hash | ObjType::Stream => {
                storage::types::encoding_name(e)
            }
        }))
    })
}

/// OBJECT FREQ key: the decayed LFU counter; only under an LFU policy.
fn freq(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cfg = ctx.srv.ks.evict.clone();
    with_entry(ctx, args, |e, now| {
        if !cfg.policy().is_lfu() {
            return Err(CmdError::Static("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        Ok(Answer::Int(
            lfu_decayed(e.lru(), now, cfg.lfu_decay_time()) as i64
        ))
    })
}

/// OBJECT IDLETIME key: seconds since the last access; not under an LFU policy.
fn idletime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lfu = ctx.srv.ks.evict.policy().is_lfu();
    with_entry(ctx, args, |e, now| {
        if lfu {
            return Err(CmdError::Static("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        Ok(Answer::Int((idle_ms(e.lru(), now) / 1000) as i64))
    })
}

/// OBJECT REFCOUNT key: always 1 (rcache shares no values between keys).
fn refcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    with_entry(ctx, args, |_, _| Ok(Answer::Int(1)))
}

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// OBJECT HELP: Redis's help lines, as status replies in an array.
fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.array_len(HELP.len());
    for l in HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::string_encoding;
    use crate::testing::TestCtx;
    use storage::Policy;

    #[test]
    fn encodings() {
        assert_eq!(string_encoding(b"12345"), "int");
        assert_eq!(string_encoding(b"-9223372036854775808"), "int");
        assert_eq!(string_encoding(b"9223372036854775808"), "embstr");
        for not_int in [&b"01"[..], b"+1", b"-0", b" 1", b""] {
            assert_eq!(string_encoding(not_int), "embstr", "{not_int:?}");
        }
        assert_eq!(string_encoding(&[b'x'; 44]), "embstr");
        assert_eq!(string_encoding(&[b'x'; 45]), "raw");
    }

    #[test]
    fn object_subcommands() {
        let t = TestCtx::new();
        t.run(&["SET", "n", "42"]);
        t.run(&["SET", "s", "hello"]);
        t.run(&["SET", "r", &"x".repeat(45)]);
        assert_eq!(t.run(&["OBJECT", "ENCODING", "n"]), "$3\r\nint\r\n");
        assert_eq!(t.run(&["object", "encoding", "s"]), "$6\r\nembstr\r\n");
        assert_eq!(t.run(&["OBJECT", "ENCODING", "r"]), "$3\r\nraw\r\n");
        assert_eq!(t.run(&["OBJECT", "ENCODING", "nokey"]), "$-1\r\n");
        assert_eq!(t.run(&["OBJECT", "REFCOUNT", "s"]), ":1\r\n");
        assert_eq!(t.run(&["OBJECT", "REFCOUNT", "nokey"]), "$-1\r\n");
        assert_eq!(t.run(&["OBJECT", "IDLETIME", "nokey"]), "$-1\r\n");
        assert_eq!(t.run(&["OBJECT", "FREQ", "nokey"]), "$-1\r\n");
        assert!(t
            .run(&["OBJECT", "FREQ", "s"])
            .starts_with("-ERR An LFU maxmemory policy is not selected, access frequency"));
        t.resp3();
        assert_eq!(t.run(&["OBJECT", "ENCODING", "nokey"]), "_\r\n");
    }

    #[test]
    fn idletime_grows_and_object_does_not_touch() {
        let t = TestCtx::new();
        t.run(&["SET", "k", "v"]);
        assert_eq!(t.run(&["OBJECT", "IDLETIME", "k"]), ":0\r\n");
        t.advance_ms(10_000);
        assert_eq!(t.run(&["OBJECT", "IDLETIME", "k"]), ":10\r\n");
        // OBJECT, TYPE, TTL and EXISTS do not refresh the access time; GET does.
        for c in [
            &["TYPE", "k"][..],
            &["TTL", "k"],
            &["EXISTS", "k"],
            &["OBJECT", "ENCODING", "k"],
        ] {
            t.run(c);
        }
        t.advance_ms(5_000);
        assert_eq!(t.run(&["OBJECT", "IDLETIME", "k"]), ":15\r\n");
        t.run(&["GET", "k"]);
        assert_eq!(t.run(&["OBJECT", "IDLETIME", "k"]), ":0\r\n");
        t.advance_ms(3_000);
        t.run(&["TOUCH", "k"]);
        assert_eq!(t.run(&["OBJECT", "IDLETIME", "k"]), ":0\r\n");
    }

    #[test]
    fn freq_under_lfu() {
        let t = TestCtx::new();
        t.srv.ks.evict.set_policy(Policy::AllKeysLfu);
        t.run(&["SET", "k", "v"]);
        // A new key starts at LFU_INIT_VAL (5), as in Redis.
        assert_eq!(t.run(&["OBJECT", "FREQ", "k"]), ":5\r\n");
        for _ in 0..200 {
            t.run(&["GET", "k"]);
        }
        let f: i64 = t.run(&["OBJECT", "FREQ", "k"])[1..].trim().parse().unwrap();
        assert!(f > 5, "freq {f}");
        assert!(t
            .run(&["OBJECT", "IDLETIME", "k"])
            .starts_with("-ERR An LFU maxmemory policy is selected, idle time not tracked."));
        // Decay: one per lfu-decay-time minute.
        t.advance_ms(3 * 60_000);
        assert_eq!(t.run(&["OBJECT", "FREQ", "k"]), format!(":{}\r\n", f - 3));
    }

    #[test]
    fn help_and_errors() {
        let t = TestCtx::new();
        let h = t.run(&["OBJECT", "HELP"]);
        assert!(h.starts_with(
            "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ));
        assert!(h.ends_with("+HELP\r\n+    Prints this help.\r\n"));
        assert_eq!(
            t.run(&["OBJECT"]),
            "-ERR wrong number of arguments for 'object' command\r\n"
        );
        assert_eq!(
            t.run(&["OBJECT", "foo"]),
            "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"
        );
        assert_eq!(
            t.run(&["OBJECT", "ENCODING"]),
            "-ERR wrong number of arguments for 'object|encoding' command\r\n"
        );
        assert_eq!(
            t.run(&["OBJECT", "HELP", "x"]),
            "-ERR wrong number of arguments for 'object|help' command\r\n"
        );
        assert_eq!(
            t.run(&["OBJECT", "ENCODING", "k", "x"]),
            "-ERR wrong number of arguments for 'object|encoding' command\r\n"
        );
    }
}
