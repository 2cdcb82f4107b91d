//! Sharded pub/sub (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS/SHARDNUMSUB)
//! side by side with redis-server 7.0: the same script on both, every reply and message
//! frame compared byte for byte in RESP2 and RESP3; then rcache's cluster mode (a message
//! published on one node reaches subscribers on another; CROSSSLOT; MOVED in redirect mode).

use std::net::SocketAddr;
use std::time::Duration;
use testkit::proxy::Backend;
use testkit::{key_slot, wait_for, RawConn, TestCluster, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");
const WAIT: Duration = Duration::from_secs(10);

/// One step of a script: on connection `conn`, send `cmd` (if any) and read `frames`
/// frames (replies, messages, confirmations), concatenated.
struct Step {
    conn: usize,
    cmd: &'static [&'static str],
    frames: usize,
}

const fn s(conn: usize, cmd: &'static [&'static str], frames: usize) -> Step {
    Step { conn, cmd, frames }
}

/// Connections: 0 a RESP2 subscriber, 1 a publisher, 2 a RESP3 subscriber (HELLO 3 before
/// the script), 3 a pattern subscriber.
const SCRIPT: &[Step] = &[
    s(0, &["SSUBSCRIBE", "{s}a", "{s}b", "{s}a"], 3),
    // Channels are a namespace of their own: SUBSCRIBE counts channels and patterns only.
    s(0, &["SUBSCRIBE", "{s}a"], 1),
    s(0, &["PING"], 1),
    s(0, &["PING", "hi"], 1),
    s(0, &["GET", "k"], 1),
    s(0, &["PUBSUB", "SHARDNUMSUB", "{s}a"], 1),
    s(1, &["PUBSUB", "SHARDNUMSUB", "{s}a", "{s}b", "nope"], 1),
    s(1, &["PUBSUB", "SHARDNUMSUB"], 1),
    s(1, &["PUBSUB", "NUMSUB", "{s}a", "{s}b"], 1),
    s(1, &["PUBSUB", "SHARDCHANNELS", "*b"], 1),
    s(1, &["PUBSUB", "SHARDCHANNELS", "nothing*"], 1),
    s(1, &["PUBSUB", "CHANNELS", "*b"], 1),
    s(2, &["SSUBSCRIBE", "{s}a"], 1),
    s(2, &["GET", "k"], 1),
    s(3, &["PSUBSCRIBE", "*"], 1),
    // PUBLISH reaches SUBSCRIBE and PSUBSCRIBE subscribers, SPUBLISH only SSUBSCRIBE ones.
    s(1, &["PUBLISH", "{s}a", "p1"], 1),
    s(1, &["SPUBLISH", "{s}a", "s1"], 1),
    s(0, &[], 2),
    s(2, &[], 1),
    s(3, &[], 1),
    s(1, &["SPUBLISH", "nobody", "x"], 1),
    // The pattern subscriber got no smessage: its next frame is the confirmation.
    s(3, &["PUNSUBSCRIBE"], 1),
    // A RESP3 subscriber's own message comes before SPUBLISH's reply.
    s(2, &["SPUBLISH", "{s}a", "self"], 2),
    s(0, &[], 1),
    s(2, &["PUBSUB", "SHARDNUMSUB", "{s}a"], 1),
    s(0, &["SUNSUBSCRIBE", "zz", "{s}a"], 2),
    s(0, &["SUNSUBSCRIBE"], 1),
    s(0, &["SUNSUBSCRIBE"], 1),
    // Still subscribed to a channel: still in subscribed mode.
    s(0, &["GET", "k"], 1),
    s(0, &["UNSUBSCRIBE"], 1),
    s(0, &["GET", "k"], 1),
    // Only shard channels put a RESP2 client in subscribed mode too.
    s(0, &["SSUBSCRIBE", "only"], 1),
    s(0, &["SET", "k", "v"], 1),
    s(0, &["SUNSUBSCRIBE", "only"], 1),
    s(0, &["SET", "k", "v"], 1),
    s(2, &["SUNSUBSCRIBE"], 1),
    s(2, &["SUNSUBSCRIBE"], 1),
    // Inside EXEC, SSUBSCRIBE is refused (Redis's DENY BLOCKING), SUBSCRIBE is not.
    s(1, &["MULTI"], 1),
    s(1, &["SSUBSCRIBE", "t"], 1),
    s(1, &["SPUBLISH", "t", "m"], 1),
    s(1, &["SUBSCRIBE", "t"], 1),
    s(1, &["EXEC"], 1),
    s(1, &["UNSUBSCRIBE"], 1),
    // Arity and syntax errors.
    s(1, &["SSUBSCRIBE"], 1),
    s(1, &["SPUBLISH", "a"], 1),
    s(1, &["SPUBLISH", "a", "b", "c"], 1),
    s(1, &["PUBSUB", "SHARDCHANNELS", "a", "b"], 1),
    s(1, &["PUBSUB", "SHARDNUMSUB", "a", "b"], 1),
    // Standalone, channels of different slots are fine.
    s(1, &["SSUBSCRIBE", "a", "b"], 2),
    s(1, &["SUNSUBSCRIBE", "a", "b"], 2),
    // The channel is a NOT_KEY key spec: COMMAND GETKEYS finds no key, as Redis 7.0.
    s(1, &["COMMAND", "GETKEYS", "SPUBLISH", "ch", "msg"], 1),
    s(1, &["COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b"], 1),
    s(
        1,
        &["COMMAND", "INFO", "ssubscribe", "sunsubscribe", "spublish"],
        1,
    ),
    s(
        1,
        &[
            "COMMAND",
            "INFO",
            "pubsub|shardchannels",
            "pubsub|shardnumsub",
        ],
        1,
    ),
];

fn read_frames(c: &mut RawConn, n: usize, what: &str) -> String {
    let mut out = String::new();
    for _ in 0..n {
        let f = c
            .read_reply(WAIT)
            .unwrap_or_else(|e| panic!("{what}: {e}; so far {out:?}"));
        out.push_str(&String::from_utf8_lossy(&f));
    }
    out
}

fn run_script(addr: SocketAddr) -> Vec<String> {
    let mut conns: Vec<RawConn> = (0..4).map(|_| RawConn::connect(addr)).collect();
    conns[1].request(&["FLUSHALL"]);
    let hello = conns[2].request(&["HELLO", "3"]);
    assert!(hello.starts_with('%'), "HELLO 3: {hello:?}");
    let mut seen = Vec::new();
    for (i, st) in SCRIPT.iter().enumerate() {
        let c = &mut conns[st.conn];
        if !st.cmd.is_empty() {
            c.send_cmd(st.cmd);
        }
        let what = format!("step {i} {:?} on {addr}", st.cmd);
        seen.push(read_frames(c, st.frames, &what));
    }
    seen
}

#[test]
fn sharded_pubsub_replies_and_messages_match_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let theirs = run_script(redis.addr());
    let ours = run_script(srv.addr());
    for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(o, t, "step {i}: {:?}", SCRIPT[i].cmd);
    }
}

/// CLIENT INFO's `sub=`, `psub=`, `ssub=` and `flags=`, and INFO's pubsub lines.
fn counts(addr: SocketAddr) -> Vec<String> {
    let mut sub = RawConn::connect(addr);
    sub.request(&["HELLO", "3"]);
    sub.send_cmd(&["SSUBSCRIBE", "x", "y"]);
    read_frames(&mut sub, 2, "ssubscribe");
    sub.send_cmd(&["PSUBSCRIBE", "p*"]);
    read_frames(&mut sub, 1, "psubscribe");
    let info = sub.request(&["CLIENT", "INFO"]);
    let mut out: Vec<String> = info
        .split(' ')
        .filter(|f| {
            ["sub=", "psub=", "ssub=", "flags="]
                .iter()
                .any(|p| f.starts_with(p))
        })
        .map(str::to_string)
        .collect();
    let mut other = RawConn::connect(addr);
    let stats = other.request(&["INFO", "stats"]);
    out.extend(
        stats
            .lines()
            .filter(|l| l.starts_with("pubsub"))
            .map(str::to_string),
    );
    out
}

#[test]
fn client_info_and_info_count_shard_subscriptions_as_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let theirs = counts(redis.addr());
    assert!(theirs.iter().any(|f| f == "ssub=2"), "{theirs:?}");
    assert_eq!(counts(srv.addr()), theirs);
}

/// RESET and closing the connection drop shard subscriptions.
#[test]
fn reset_and_close_drop_shard_subscriptions() {
    let srv = TestServer::start();
    let mut a = RawConn::connect(srv.addr());
    a.send_cmd(&["SSUBSCRIBE", "r1", "r2"]);
    read_frames(&mut a, 2, "ssubscribe");
    let mut b = RawConn::connect(srv.addr());
    assert_eq!(
        b.request(&["PUBSUB", "SHARDNUMSUB", "r1"]),
        "*2\r\n$2\r\nr1\r\n:1\r\n"
    );
    assert_eq!(a.request(&["RESET"]), "+RESET\r\n");
    assert_eq!(
        b.request(&["PUBSUB", "SHARDNUMSUB", "r1", "r2"]),
        "*4\r\n$2\r\nr1\r\n:0\r\n$2\r\nr2\r\n:0\r\n"
    );
    assert_eq!(a.request(&["GET", "k"]), "$-1\r\n");
    a.send_cmd(&["SSUBSCRIBE", "r1"]);
    read_frames(&mut a, 1, "ssubscribe");
    drop(a);
    wait_for("the closed subscriber's shard channel to go", WAIT, || {
        (b.request(&["PUBSUB", "SHARDCHANNELS"]) == "*0\r\n").then_some(())
    });
}

/// Shard channels obey the user's channel permissions as channels do, and a subscriber
/// whose shard channel is revoked is disconnected, as Redis.
fn acl_script(addr: SocketAddr) -> Vec<String> {
    let mut admin = RawConn::connect(addr);
    let mut out = vec![admin.request(&[
        "ACL",
        "SETUSER",
        "u",
        "on",
        ">pw",
        "+@all",
        "~*",
        "resetchannels",
        "&{ok}*",
    ])];
    let mut u = RawConn::connect(addr);
    out.push(u.request(&["AUTH", "u", "pw"]));
    for cmd in [
        &["SSUBSCRIBE", "{ok}1", "other"][..],
        &["SPUBLISH", "other", "m"],
        &["SPUBLISH", "{ok}1", "m"],
        &["SUNSUBSCRIBE", "other"],
    ] {
        out.push(u.request(cmd));
    }
    u.send_cmd(&["SSUBSCRIBE", "{ok}1"]);
    out.push(read_frames(&mut u, 1, "ssubscribe"));
    out.push(admin.request(&["ACL", "SETUSER", "u", "resetchannels", "&{other}*"]));
    out.push(u.expect_closed(WAIT));
    out.push(admin.request(&["ACL", "DELUSER", "u"]));
    out
}

#[test]
fn acl_channel_permissions_apply_to_shard_channels() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let theirs = acl_script(redis.addr());
    assert!(theirs[2].starts_with("-NOPERM"), "{theirs:?}");
    assert_eq!(acl_script(srv.addr()), theirs);
}

// ------------------------------------------------------------------------------ cluster

/// A channel whose slot `owner` owns.
fn channel_owned_by(owners: &[usize], owner: usize) -> String {
    (0..100_000)
        .map(|n| format!("ch:{n}"))
        .find(|k| owners[key_slot(k.as_bytes()) as usize] == owner)
        .unwrap_or_else(|| panic!("no channel of node {owner}"))
}

/// SPUBLISH on one node reaches SSUBSCRIBE subscribers on the others, whoever owns the
/// slot; PUBLISH does not reach them; channels of several slots answer CROSSSLOT.
#[test]
fn cluster_spublish_reaches_shard_subscribers_on_other_nodes() {
    let cl = TestCluster::builder(BIN).nodes(3).start();
    let mut subs: Vec<RawConn> = (1..3)
        .map(|i| RawConn::connect(cl.node(i).addr()))
        .collect();
    for s in subs.iter_mut() {
        assert_eq!(
            s.request(&["SSUBSCRIBE", "{n}1"]),
            "*3\r\n$10\r\nssubscribe\r\n$4\r\n{n}1\r\n:1\r\n"
        );
        s.send_cmd(&["SSUBSCRIBE", "{n}2", "{n}3"]);
        read_frames(s, 2, "ssubscribe of one slot");
        assert_eq!(
            s.request(&["SSUBSCRIBE", "a", "b"]),
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
        );
    }
    let mut p = RawConn::connect(cl.node(0).addr());
    assert_eq!(
        p.request(&["SPUBLISH", "{n}1", "a", "b"]),
        "-ERR wrong number of arguments for 'spublish' command\r\n"
    );
    let r = p.request(&["PUBLISH", "{n}1", "not-for-shard-subscribers"]);
    assert!(r.starts_with(':'), "PUBLISH: {r:?}");
    let r = p.request(&["SPUBLISH", "{n}1", "hello"]);
    assert!(r.starts_with(':'), "SPUBLISH: {r:?}");
    for (n, s) in subs.iter_mut().enumerate() {
        assert_eq!(
            read_frames(s, 1, &format!("subscriber on node {}", n + 1)),
            "*3\r\n$8\r\nsmessage\r\n$4\r\n{n}1\r\n$5\r\nhello\r\n"
        );
    }
    // A subscriber on the publishing node counts in its reply.
    let mut local = RawConn::connect(cl.node(0).addr());
    local.send_cmd(&["SSUBSCRIBE", "{n}1"]);
    read_frames(&mut local, 1, "local ssubscribe");
    assert_eq!(p.request(&["SPUBLISH", "{n}1", "again"]), ":1\r\n");
    for s in subs.iter_mut().chain([&mut local]) {
        assert_eq!(
            read_frames(s, 1, "second message"),
            "*3\r\n$8\r\nsmessage\r\n$4\r\n{n}1\r\n$5\r\nagain\r\n"
        );
    }
}

/// Redirect mode: SSUBSCRIBE and SPUBLISH for another node's slot answer MOVED, as Redis
/// Cluster; the owner serves them.
#[test]
fn cluster_redirect_mode_moves_shard_commands_to_the_owner() {
    let cl = TestCluster::builder(BIN).nodes(3).redirect().start();
    cl.wait_settled(Duration::from_secs(40));
    let owners = cl.slot_owners();
    let ch = channel_owned_by(&owners, 1);
    let slot = key_slot(ch.as_bytes());
    let moved = format!("-MOVED {slot} {}\r\n", cl.node(1).addr());
    let mut c = RawConn::connect(cl.node(0).addr());
    assert_eq!(c.request(&["SSUBSCRIBE", &ch]), moved);
    assert_eq!(c.request(&["SPUBLISH", &ch, "m"]), moved);
    assert_eq!(c.request(&["SUNSUBSCRIBE", &ch]), moved);
    let mut sub = RawConn::connect(cl.node(1).addr());
    assert_eq!(
        sub.request(&["SSUBSCRIBE", &ch]),
        format!("*3\r\n$10\r\nssubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len())
    );
    let mut p = RawConn::connect(cl.node(1).addr());
    assert_eq!(p.request(&["SPUBLISH", &ch, "m"]), ":1\r\n");
    assert_eq!(
        read_frames(&mut sub, 1, "message on the owner"),
        format!(
            "*3\r\n$8\r\nsmessage\r\n${}\r\n{ch}\r\n$1\r\nm\r\n",
            ch.len()
        )
    );
}
