//! ACL users against Debian's real redis-server (7.0.15): the same ACL SETUSER / GETUSER /
//! LIST / CAT / DRYRUN / LOG / AUTH / NOPERM sequences give the same replies over RESP2
//! and RESP3 (masked: what is random or per-connection — GENPASS, age-seconds, the
//! client-info line but its `cmd=` and `user=`; and the order Redis's hash table gives
//! single commands in a description). Then what Redis has no counterpart for: a
//! restricted user on every door (RESP, HTTP, binary, memcached), the ACL file written by
//! ACL SAVE, edited and loaded, `requirepass` as the default user's password, and the
//! clients of a deleted user (or a subscriber whose channels were revoked) disconnected.

use redis::{Connection, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use testkit::client::{connect, query as run};
use testkit::proxy::Backend;
use testkit::{RawConn, TestServer};

const TIMEOUT: Duration = Duration::from_secs(10);

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Okay => "OK".into(),
        v => format!("{v:?}"),
    }
}

/// The fields of a client-info line that the two servers share: `cmd=` and `user=`.
fn client_info_mask(s: &str) -> String {
    s.split(' ')
        .filter(|f| f.starts_with("cmd=") || f.starts_with("user="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A rule string with its single commands sorted (Redis lists them in its hash table's
/// order, which changes with every start), those of commands rcache does not have left out.
fn sort_rules(s: &str, known: &BTreeSet<String>) -> String {
    let mut head = Vec::new();
    let mut singles = BTreeSet::new();
    for t in s.split(' ') {
        let is_single = (t.starts_with('+') || t.starts_with('-')) && !t[1..].starts_with('@');
        if is_single {
            if known.contains(&t[1..]) || known.contains(t[1..].split('|').next().unwrap_or("")) {
                singles.insert(t.to_string());
            }
        } else {
            head.push(t.to_string());
        }
    }
    head.extend(singles);
    head.join(" ")
}

/// Mask what differs between two servers: ACL LOG's age and client details, GENPASS,
/// and the order of single commands in rule strings.
fn mask(v: Value, known: &BTreeSet<String>) -> Value {
    fn walk(v: Value, key: Option<&str>, known: &BTreeSet<String>) -> Value {
        match (key, v) {
            (Some("age-seconds"), _) => Value::Int(0),
            (Some("client-info"), v) => Value::SimpleString(client_info_mask(&text(&v))),
            (Some("commands"), v) => Value::SimpleString(sort_rules(&text(&v), known)),
            (_, Value::BulkString(b)) if b.starts_with(b"user ") => {
                Value::SimpleString(sort_rules(&String::from_utf8_lossy(&b), known))
            }
            (_, Value::Array(items)) => Value::Array(pairs(items, known)),
            (_, Value::Map(kv)) => Value::Map(
                kv.into_iter()
                    .map(|(k, v)| {
                        let name = text(&k);
                        let v = walk(v, Some(&name), known);
                        (k, v)
                    })
                    .collect(),
            ),
            (_, v) => v,
        }
    }
    // RESP2 maps are flat arrays: a value follows its key.
    fn pairs(items: Vec<Value>, known: &BTreeSet<String>) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        let mut prev: Option<String> = None;
        for x in items {
            let k = prev.take();
            let x = walk(x, k.as_deref(), known);
            if let Value::BulkString(b) = &x {
                prev = Some(String::from_utf8_lossy(b).into_owned());
            }
            out.push(x);
        }
        out
    }
    walk(v, None, known)
}

/// One connection to each server.
struct Pair {
    r: Connection,
    o: Connection,
    /// rcache's commands and subcommands.
    known: BTreeSet<String>,
}

impl Pair {
    fn new(redis: &Backend, srv: &TestServer, resp3: bool) -> Pair {
        let mut o = connect(srv.addr(), resp3);
        // (Empty before AUTH: such a pair compares no rule strings.)
        let known = match run(&mut o, &["COMMAND", "LIST"]) {
            Value::Array(v) => v.iter().map(text).collect(),
            _ => BTreeSet::new(),
        };
        Pair {
            r: connect(redis.addr(), resp3),
            o,
            known,
        }
    }

    /// Both replies, masked, asserted equal.
    fn same(&mut self, args: &[&str]) -> Value {
        let a = mask(run(&mut self.r, args), &self.known);
        let b = mask(run(&mut self.o, args), &self.known);
        assert_eq!(a, b, "{args:?}: Redis (left) and rcache (right) differ");
        b
    }
}

/// The admin sequence: users, descriptions, errors, CAT, DRYRUN, GETUSER, LIST.
fn admin_sequence(p: &mut Pair) {
    for cmd in [
        &["ACL", "SETUSER", "alice", "on", ">p1", "~key:*", "+@read"][..],
        &["ACL", "GETUSER", "alice"],
        &["ACL", "LIST"],
        &[
            "ACL",
            "SETUSER",
            "bob",
            "%R~r:*",
            "%W~w:*",
            "%RW~rw:*",
            "&chan*",
            "+get",
            "+set",
            "-@all",
            "+client|setname",
            "+select|0",
        ],
        &["ACL", "GETUSER", "bob"],
        &[
            "ACL", "SETUSER", "carl", "on", "nopass", "~*", "+@hash", "-@write", "+hset",
        ],
        &["ACL", "GETUSER", "carl"],
        &[
            "ACL",
            "SETUSER",
            "dave",
            "+@all",
            "-@dangerous",
            "+info",
            "allkeys",
        ],
        &["ACL", "GETUSER", "dave"],
        &[
            "ACL",
            "SETUSER",
            "sel",
            "%R~a",
            "&c",
            "+get",
            "(~b +set)",
            "(%W~w",
            "+@write)",
        ],
        &["ACL", "GETUSER", "sel"],
        &[
            "ACL", "SETUSER", "eve", "on", ">x", "~k", "&c", "+get", "reset",
        ],
        &["ACL", "GETUSER", "eve"],
        &[
            "ACL",
            "SETUSER",
            "hashed",
            "#f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a",
            "nopass",
            ">a",
            ">b",
            "<a",
            "skip-sanitize-payload",
        ],
        &["ACL", "GETUSER", "hashed"],
        &["ACL", "SETUSER", "pct", "%RW", "%R~"],
        &["ACL", "GETUSER", "pct"],
        // Errors, all in Redis's words.
        &["ACL", "SETUSER", "x", "~a", "allkeys", "~b"],
        &["ACL", "SETUSER", "x", "badrule"],
        &["ACL", "SETUSER", "x", "+nosuch"],
        &["ACL", "SETUSER", "x", "+@nosuch"],
        &["ACL", "SETUSER", "x", "#abc"],
        &["ACL", "SETUSER", "x", "<nopw"],
        &["ACL", "SETUSER", "x", "allchannels", "&x"],
        &["ACL", "SETUSER", "x", "+select|0|1"],
        &["ACL", "SETUSER", "x", "+client|setname|x"],
        &["ACL", "SETUSER", "x", "+client|"],
        &["ACL", "SETUSER", "x", "%~x"],
        &["ACL", "SETUSER", "x", "(~a", "+get"],
        &["ACL", "SETUSER", "a b", "on"],
        &["ACL", "SETUSER"],
        &["ACL", "GETUSER", "x"],
        &["ACL", "GETUSER", "nobody"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "USERS"],
        &["ACL", "WHOAMI"],
        &["ACL", "CAT"],
        &["ACL", "CAT", "nope"],
        &["ACL", "CAT", "a", "b"],
        &["ACL", "HELP"],
        &["ACL", "NOPE"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "GENPASS", "x"],
        &["ACL", "GENPASS", "4097"],
        &["ACL", "LOG", "x"],
        &["ACL", "DRYRUN", "alice", "get", "key:1"],
        &["ACL", "DRYRUN", "alice", "get", "foo"],
        &["ACL", "DRYRUN", "alice", "set", "key:1", "v"],
        &["ACL", "DRYRUN", "alice", "flushall"],
        &["ACL", "DRYRUN", "bob", "set", "r:1", "v"],
        &["ACL", "DRYRUN", "bob", "get", "w:1"],
        &["ACL", "DRYRUN", "bob", "select", "0"],
        &["ACL", "DRYRUN", "bob", "select", "1"],
        &["ACL", "DRYRUN", "bob", "client", "setname", "x"],
        &["ACL", "DRYRUN", "bob", "client", "id"],
        &["ACL", "DRYRUN", "bob", "publish", "chan1", "m"],
        &["ACL", "DRYRUN", "bob", "publish", "other", "m"],
        &["ACL", "DRYRUN", "sel", "set", "b", "v"],
        &["ACL", "DRYRUN", "sel", "set", "w", "v"],
        &["ACL", "DRYRUN", "sel", "get", "w"],
        &["ACL", "DRYRUN", "nobody", "get", "x"],
        &["ACL", "DRYRUN", "alice", "nocmd"],
        &["ACL", "DRYRUN", "alice", "get"],
        &["ACL", "DRYRUN", "alice", "client", "nosuch"],
        &["AUTH", "x"],
        &["AUTH", "nobody", "x"],
        &["AUTH", "alice", "wrong"],
        &["AUTH", "bob", "x"],
        &["AUTH", "a", "b", "c"],
        &["HELLO", "2", "AUTH", "alice", "wrong"],
        &["ACL", "DELUSER", "x", "nosuch"],
    ] {
        p.same(cmd);
    }
    // GENPASS: random, of the right length.
    for bits in ["", "5", "256", "4096"] {
        let mut cmd = vec!["ACL", "GENPASS"];
        if !bits.is_empty() {
            cmd.push(bits);
        }
        let a = text(&run(&mut p.r, &cmd));
        let b = text(&run(&mut p.o, &cmd));
        assert_eq!(a.len(), b.len(), "GENPASS {bits}");
        assert!(b.bytes().all(|c| c.is_ascii_hexdigit()), "{b}");
    }
}

/// Each category lists the same commands, among the commands both servers have.
fn categories_match(p: &mut Pair) {
    let names = |c: &mut Connection| -> BTreeSet<String> {
        match run(c, &["COMMAND", "LIST"]) {
            Value::Array(v) => v.iter().map(text).collect(),
            v => panic!("{v:?}"),
        }
    };
    let common: BTreeSet<String> = names(&mut p.r)
        .intersection(&names(&mut p.o))
        .cloned()
        .collect();
    let cats = match run(&mut p.o, &["ACL", "CAT"]) {
        Value::Array(v) => v.iter().map(text).collect::<Vec<_>>(),
        v => panic!("{v:?}"),
    };
    assert_eq!(cats.len(), 21);
    for cat in cats {
        let members = |c: &mut Connection| -> BTreeSet<String> {
            match run(c, &["ACL", "CAT", &cat]) {
                Value::Array(v) | Value::Set(v) => {
                    v.iter().map(text).filter(|n| common.contains(n)).collect()
                }
                v => panic!("{v:?}"),
            }
        };
        assert_eq!(members(&mut p.r), members(&mut p.o), "ACL CAT {cat}");
    }
}

/// A user's refusals, the ACL LOG they leave, MULTI, scripts and channels.
fn user_sequence(redis: &Backend, srv: &TestServer, resp3: bool) {
    let mut p = Pair::new(redis, srv, resp3);
    p.same(&[
        "ACL",
        "SETUSER",
        "mu",
        "on",
        ">pw",
        "~k*",
        "+@all",
        "-flushall",
        "-lpush",
        "resetchannels",
        "&news.*",
    ]);
    p.same(&["EVAL", "return redis.acl_check_cmd('flushall')", "0"]);
    let mut u = Pair::new(redis, srv, resp3);
    for cmd in [
        &["AUTH", "mu", "pw"][..],
        &["ACL", "WHOAMI"],
        &["GET", "k1"],
        &["GET", "other"],
        &["SET", "k1", "v"],
        &["MGET", "k1", "other"],
        &["FLUSHALL"],
        &["PUBLISH", "other", "m"],
        &["PUBLISH", "news.a", "m"],
        &["EVAL", "return redis.call('lpush','k9','x')", "0"],
        &["EVAL", "return redis.pcall('get','x')", "0"],
        &["EVAL", "return redis.call('get',KEYS[1])", "1", "x"],
        &["EVAL", "return redis.call('set','k2','v')", "0"],
        // redis.acl_check_cmd: the command, its keys and channels, without running it.
        &["EVAL", "return redis.acl_check_cmd('get','k1')", "0"],
        &["EVAL", "return redis.acl_check_cmd('get','other')", "0"],
        &["EVAL", "return redis.acl_check_cmd('lpush','k1','x')", "0"],
        &[
            "EVAL",
            "return redis.acl_check_cmd('publish','news.a','m')",
            "0",
        ],
        &[
            "EVAL",
            "return redis.acl_check_cmd('publish','other','m')",
            "0",
        ],
        &["EVAL", "return redis.acl_check_cmd('client','list')", "0"],
        &["EVAL", "return redis.acl_check_cmd('nosuch','k1')", "0"],
        &["EVAL", "return redis.acl_check_cmd('client','nosuch')", "0"],
        &["EVAL", "return redis.acl_check_cmd()", "0"],
        &["EVAL", "return redis.acl_check_cmd({})", "0"],
        &[
            "EVAL",
            "return redis.pcall(function() return redis.acl_check_cmd('nosuch') end)",
            "0",
        ],
        &["MULTI"],
        &["SET", "k1", "v2"],
        &["FLUSHALL"],
        &["EXEC"],
        &["GET", "k1"],
        &["AUTH", "mu", "bad"],
    ] {
        u.same(cmd);
    }
    // Rules that change between MULTI and EXEC.
    u.same(&["MULTI"]);
    u.same(&["SET", "k1", "v3"]);
    u.same(&["GET", "k1"]);
    p.same(&["ACL", "SETUSER", "mu", "-set"]);
    u.same(&["EXEC"]);
    // The log, newest first: counts, reasons, contexts, objects, users, cmd= and user=.
    p.same(&["ACL", "LOG"]);
    p.same(&["ACL", "LOG", "2"]);
    p.same(&["ACL", "LOG", "RESET"]);
    p.same(&["ACL", "LOG"]);
    // A user restricted to one command.
    p.same(&[
        "ACL", "SETUSER", "one", "on", "nopass", "-@all", "+get", "~*",
    ]);
    let mut o = Pair::new(redis, srv, resp3);
    for cmd in [
        &["AUTH", "one", "any"][..],
        &["GET", "x"],
        &["PING"],
        &["CLIENT", "SETNAME", "x"],
        &["SELECT", "1"],
        &["ACL", "WHOAMI"],
        &["CLIENT", "NOSUCH"],
        &["QUIT"],
    ] {
        o.same(cmd);
    }
    // The default user off: new connections must authenticate as someone else.
    p.same(&["ACL", "SETUSER", "default", "off"]);
    // (RESP2: a RESP3 client's HELLO 3 needs authentication first.)
    let mut d = Pair::new(redis, srv, false);
    d.same(&["GET", "x"]);
    d.same(&["AUTH", "default", "x"]);
    d.same(&["HELLO", "3"]);
    d.same(&["AUTH", "one", "x"]);
    d.same(&["GET", "x"]);
    p.same(&["ACL", "SETUSER", "default", "on"]);
    p.same(&["ACL", "DELUSER", "mu", "one"]);
    p.same(&["ACL", "LOG", "RESET"]);
}

/// requirepass is the default user's password, on both servers alike.
fn requirepass_sequence(redis: &Backend, srv: &TestServer, resp3: bool) {
    let mut p = Pair::new(redis, srv, resp3);
    p.same(&["CONFIG", "SET", "requirepass", "sekret"]);
    p.same(&["ACL", "GETUSER", "default"]);
    p.same(&["ACL", "LIST"]);
    p.same(&["PING"]);
    let mut n = Pair::new(redis, srv, false);
    n.same(&["PING"]);
    n.same(&["HELLO", "3"]);
    n.same(&["AUTH", "wrong"]);
    n.same(&["AUTH", "sekret"]);
    n.same(&["ACL", "WHOAMI"]);
    p.same(&["ACL", "SETUSER", "default", ">second"]);
    p.same(&["CONFIG", "GET", "requirepass"]);
    p.same(&["ACL", "GETUSER", "default"]);
    p.same(&["CONFIG", "SET", "requirepass", ""]);
    p.same(&["ACL", "GETUSER", "default"]);
    p.same(&["AUTH", "x"]);
    p.same(&["ACL", "LOG", "RESET"]);
}

#[test]
fn same_replies_as_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    for resp3 in [false, true] {
        let mut p = Pair::new(&redis, &srv, resp3);
        admin_sequence(&mut p);
        categories_match(&mut p);
        user_sequence(&redis, &srv, resp3);
        requirepass_sequence(&redis, &srv, resp3);
        // Start the other protocol from the same state.
        p.same(&[
            "ACL", "DELUSER", "alice", "bob", "carl", "dave", "sel", "eve", "hashed", "pct",
        ]);
        p.same(&["ACL", "LOG", "RESET"]);
        p.same(&["ACL", "LIST"]);
    }
}

/// Clients of a deleted user, and subscribers whose channels were revoked, are
/// disconnected (both servers); `off` and `resetpass` leave connections alone.
#[test]
fn disconnects_as_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    for addr in [redis.addr(), srv.addr()] {
        let mut admin = RawConn::connect(addr);
        admin.request(&["ACL", "SETUSER", "k1", "on", ">pw", "~*", "+@all", "&*"]);
        let mut c = RawConn::connect(addr);
        assert_eq!(c.request(&["AUTH", "k1", "pw"]), "+OK\r\n");
        admin.request(&["ACL", "SETUSER", "k1", "off", "resetpass"]);
        assert_eq!(c.request(&["ACL", "WHOAMI"]), "$2\r\nk1\r\n", "{addr}");
        admin.request(&["ACL", "SETUSER", "k1", "on", ">pw"]);
        assert_eq!(admin.request(&["ACL", "DELUSER", "k1"]), ":1\r\n");
        assert_eq!(
            c.expect_closed(TIMEOUT),
            "",
            "{addr}: a deleted user's client"
        );
        // A subscriber whose channel is revoked.
        admin.request(&["ACL", "SETUSER", "k1", "on", ">pw", "~*", "+@all", "&*"]);
        let mut s = RawConn::connect(addr);
        assert_eq!(s.request(&["AUTH", "k1", "pw"]), "+OK\r\n");
        assert!(s.request(&["SUBSCRIBE", "news"]).starts_with("*3\r\n"));
        // Granting more keeps it; taking its channel away closes it.
        admin.request(&["ACL", "SETUSER", "k1", "resetchannels", "&news", "&more"]);
        s.send_cmd(&["PING"]);
        assert!(s.reply().contains("pong"), "{addr}");
        admin.request(&["ACL", "SETUSER", "k1", "resetchannels", "&other"]);
        assert_eq!(s.expect_closed(TIMEOUT), "", "{addr}: a revoked subscriber");
        admin.request(&["ACL", "DELUSER", "k1"]);
    }
}

// ------------------------------------------------------------------------------- doors

const LIMITED: &[&str] = &[
    "ACL",
    "SETUSER",
    "limited",
    "on",
    ">pw",
    "~key:*",
    "+@read",
    "+@write",
    "-@dangerous",
    "+ping",
];

fn http_req(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("authorization: {a}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let code = resp[9..12].parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

#[test]
fn a_restricted_user_on_every_door() {
    let srv = TestServer::builder().requirepass("adminpw").start();
    let mut admin = srv.raw();
    assert_eq!(admin.request(&["AUTH", "adminpw"]), "+OK\r\n");
    // The administrator is a user of its own: the default user is restricted below.
    let root = [
        "ACL", "SETUSER", "root", "on", ">rootpw", "~*", "&*", "+@all",
    ];
    assert_eq!(admin.request(&root), "+OK\r\n");
    assert_eq!(admin.request(&["AUTH", "root", "rootpw"]), "+OK\r\n");
    assert_eq!(admin.request(LIMITED), "+OK\r\n");
    admin.request(&["SET", "key:1", "v1"]);
    admin.request(&["SET", "secret", "s"]);

    // RESP, with the redis crate's username/password.
    let url = format!("redis://limited:pw@{}/", srv.addr());
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(text(&run(&mut c, &["GET", "key:1"])), "v1");
    let e = text(&run(&mut c, &["GET", "secret"]));
    assert!(e.contains("NOPERM") && e.contains("keys"), "{e}");
    let e = text(&run(&mut c, &["FLUSHALL"]));
    assert!(e.contains("NOPERM") && e.contains("'flushall'"), "{e}");
    assert_eq!(run(&mut c, &["SET", "key:2", "v2"]), Value::Okay);
    assert!(text(&run(&mut c, &["ACL", "WHOAMI"])).contains("NOPERM"));
    let list = text(&run(&mut admin_conn(&srv), &["CLIENT", "LIST"]));
    assert!(list.contains("user=limited"), "{list}");

    // HTTP: Bearer user:password, Basic, and the default user's password alone.
    let h = srv.door_addr(commands::Door::Http).unwrap();
    let bearer = Some("Bearer limited:pw");
    assert_eq!(
        http_req(h, "GET", "/v1/keys/key:1", bearer, ""),
        (200, "v1".into())
    );
    let (code, body) = http_req(h, "GET", "/v1/keys/secret", bearer, "");
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("NOPERM this user has no permissions to access one of the keys"),
        "{body}"
    );
    let (code, _) = http_req(h, "PUT", "/v1/keys/key:3", bearer, "v3");
    assert!(code == 201 || code == 204, "{code}");
    assert_eq!(http_req(h, "DELETE", "/secret", bearer, "").0, 403);
    let (code, body) = http_req(h, "POST", "/v1/commands", bearer, r#"["FLUSHALL"]"#);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("'flushall'"), "{body}");
    let (code, body) = http_req(h, "POST", "/v1/commands", bearer, r#"["GET", "key:1"]"#);
    assert_eq!((code, body.contains("v1")), (200, true), "{body}");
    assert_eq!(
        http_req(h, "GET", "/v1/stats", bearer, "").0,
        403,
        "stats are INFO"
    );
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("limited:pw")
    );
    assert_eq!(
        http_req(h, "GET", "/v1/keys/key:1", Some(&basic), "").0,
        200
    );
    assert_eq!(
        http_req(h, "GET", "/v1/keys/key:1", Some("Bearer limited:bad"), "").0,
        401
    );
    assert_eq!(http_req(h, "GET", "/v1/keys/key:1", None, "").0, 401);
    assert_eq!(
        http_req(h, "GET", "/v1/keys/secret", Some("Bearer adminpw"), "").0,
        200
    );
    assert_eq!(http_req(h, "GET", "/health", None, "").0, 200);

    // Binary, with the client crate's username/password.
    let b = srv.door_addr(commands::Door::Binary).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use rcache_client::{Config, Connection, Proto};
        let cfg = Config::new(b.to_string(), Proto::Binary).with_user("limited", "pw");
        let conn = Connection::connect(&cfg).await.unwrap();
        assert_eq!(conn.get("key:1").await.unwrap(), Some(b"v1".to_vec()));
        let e = conn.get("secret").await.unwrap_err();
        assert_eq!(e.server().unwrap().code(), "NOPERM", "{e}");
        conn.set("key:4", "v4").await.unwrap();
        assert!(conn.set("other", "x").await.is_err());
        let e = conn.cmd(["FLUSHALL"]).await.unwrap_err();
        assert_eq!(e.server().unwrap().code(), "NOPERM", "{e}");
        assert!(conn.status().await.is_err(), "STATUS needs INFO");
        // Wrong password: the client's AUTH fails.
        let bad = Config::new(b.to_string(), Proto::Binary).with_user("limited", "nope");
        assert!(Connection::connect(&bad).await.is_err());
    });

    // memcached: authenticate with the `set` of `<user> <password>`, then each request is
    // checked as the command it does.
    let m = srv.door_addr(commands::Door::Memcache).unwrap();
    let mut mc = Mc::connect(m);
    assert_eq!(mc.ask("get key:1\r\n"), "CLIENT_ERROR unauthenticated\r\n");
    assert_eq!(
        mc.ask("set auth 0 0 11\r\nlimited bad\r\n"),
        "CLIENT_ERROR authentication failure\r\n"
    );
    assert_eq!(mc.ask("set auth 0 0 10\r\nlimited pw\r\n"), "STORED\r\n");
    assert_eq!(mc.ask("get key:1\r\n"), "VALUE key:1 0 2\r\nv1\r\nEND\r\n");
    assert_eq!(
        mc.ask("get secret\r\n"),
        "CLIENT_ERROR NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(mc.ask("set key:5 0 0 1\r\nx\r\n"), "STORED\r\n");
    assert!(mc
        .ask("set other 0 0 1\r\nx\r\n")
        .starts_with("CLIENT_ERROR NOPERM"));
    assert_eq!(
        mc.ask("flush_all\r\n"),
        "CLIENT_ERROR NOPERM this user has no permissions to run the 'flushdb' command\r\n"
    );
    assert!(mc.ask("mg secret v\r\n").starts_with("CLIENT_ERROR NOPERM"));
    assert!(mc.ask("mg key:1 v\r\n").starts_with("VA 2"));
    assert!(mc.ask("stats\r\n").starts_with("CLIENT_ERROR NOPERM"));
    // A refused noreply request stays silent, as memcached answers nothing to noreply.
    mc.send("delete secret noreply\r\n");
    assert_eq!(mc.ask("mn\r\n"), "MN\r\n");

    // The default user restricted: memcached (which runs as it without a password) is
    // refused; the default user off: memcached must authenticate.
    assert_eq!(
        admin.request(&["CONFIG", "SET", "requirepass", ""]),
        "+OK\r\n"
    );
    assert_eq!(
        admin.request(&["ACL", "SETUSER", "default", "-@all", "+@read", "~*"]),
        "+OK\r\n"
    );
    let mut mc = Mc::connect(m);
    assert_eq!(mc.ask("get key:1\r\n"), "VALUE key:1 0 2\r\nv1\r\nEND\r\n");
    assert_eq!(
        mc.ask("set a 0 0 1\r\nx\r\n"),
        "CLIENT_ERROR NOPERM this user has no permissions to run the 'set' command\r\n"
    );
    assert_eq!(
        admin.request(&["ACL", "SETUSER", "default", "off"]),
        "+OK\r\n"
    );
    let mut mc = Mc::connect(m);
    assert_eq!(mc.ask("get key:1\r\n"), "CLIENT_ERROR unauthenticated\r\n");
    assert_eq!(mc.ask("set auth 0 0 10\r\nlimited pw\r\n"), "STORED\r\n");
    assert_eq!(mc.ask("get key:1\r\n"), "VALUE key:1 0 2\r\nv1\r\nEND\r\n");
    // And HTTP without credentials is refused while the default user is off.
    assert_eq!(http_req(h, "GET", "/v1/keys/key:1", None, "").0, 401);
    let log = admin.request(&["ACL", "LOG", "100"]);
    assert!(log.contains("limited"), "{log}");
}

fn admin_conn(srv: &TestServer) -> Connection {
    let mut c = srv.connection();
    assert_eq!(run(&mut c, &["AUTH", "root", "rootpw"]), Value::Okay);
    c
}

/// A raw memcached text connection.
struct Mc {
    s: TcpStream,
}

impl Mc {
    fn connect(addr: SocketAddr) -> Mc {
        let s = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Mc { s }
    }

    fn send(&mut self, req: &str) {
        self.s.write_all(req.as_bytes()).unwrap();
    }

    /// Send a request and read its whole answer (up to END, or one line otherwise).
    fn ask(&mut self, req: &str) -> String {
        self.send(req);
        let mut got = Vec::new();
        let mut b = [0u8; 4096];
        loop {
            let n = self.s.read(&mut b).unwrap();
            assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&b[..n]);
            let t = String::from_utf8_lossy(&got);
            let multi = t.starts_with("VALUE ") || t.starts_with("STAT ");
            if (multi && t.ends_with("END\r\n")) || (!multi && t.ends_with("\r\n")) {
                return t.into_owned();
            }
        }
    }
}

// ----------------------------------------------------------------------------- aclfile

#[test]
fn aclfile_saved_edited_loaded() {
    let dir = testkit::TempDir::new("acl-file");
    let path = dir.path().join("users.acl");
    std::fs::write(&path, "user default on nopass ~* &* +@all\n").unwrap();
    let srv = TestServer::builder()
        .setting("aclfile", path.to_str().unwrap())
        .start();
    let mut c = srv.raw();
    assert_eq!(
        c.request(&["ACL", "SETUSER", "app", "on", ">apppw", "~app:*", "+@read", "+@write"]),
        "+OK\r\n"
    );
    assert_eq!(c.request(&["ACL", "SAVE"]), "+OK\r\n");
    let saved = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = saved.lines().collect();
    assert_eq!(lines.len(), 2, "{saved}");
    assert!(
        lines[0].starts_with("user app on #") && lines[0].contains(" ~app:* resetchannels -@all "),
        "{saved}"
    );
    assert_eq!(lines[1], "user default on nopass ~* &* +@all");
    // An operator edits the file: a new user, app loses @write.
    let edited = format!(
        "{}\nuser ops on >opspw ~* &* +@all -flushall\n{}\n",
        lines[0].replace(" +@write", ""),
        lines[1]
    );
    std::fs::write(&path, edited).unwrap();
    let mut app = srv.raw();
    assert_eq!(app.request(&["AUTH", "app", "apppw"]), "+OK\r\n");
    assert_eq!(c.request(&["ACL", "LOAD"]), "+OK\r\n");
    // ACL LOAD disconnects the clients of the users it replaced (Redis frees them).
    assert_eq!(app.expect_closed(TIMEOUT), "");
    let mut ops = srv.raw();
    assert_eq!(ops.request(&["AUTH", "ops", "opspw"]), "+OK\r\n");
    assert_eq!(ops.request(&["SET", "x", "1"]), "+OK\r\n");
    assert!(ops.request(&["FLUSHALL"]).starts_with("-NOPERM"));
    let mut app = srv.raw();
    assert_eq!(app.request(&["AUTH", "app", "apppw"]), "+OK\r\n");
    assert_eq!(app.request(&["GET", "app:1"]), "$-1\r\n");
    assert!(app.request(&["SET", "app:1", "v"]).starts_with("-NOPERM"));
    // A broken file is refused whole; the users stay.
    std::fs::write(&path, "user ops on +nosuch\n").unwrap();
    let e = c.request(&["ACL", "LOAD"]);
    assert!(
        e.starts_with("-ERR ") && e.contains(":1: Error in applying operation '+nosuch'"),
        "{e}"
    );
    assert!(e.contains("WARNING: ACL errors detected"), "{e}");
    assert_eq!(ops.request(&["ACL", "WHOAMI"]), "$3\r\nops\r\n");
    // A server does not start with a broken (or missing) ACL file.
    let settings = commands::config::Settings::default();
    settings.set("port", "0", true).unwrap();
    for (n, v) in [
        ("http-port", "off"),
        ("binary-port", "off"),
        ("memcache-port", "off"),
        ("save", ""),
    ] {
        settings.set(n, v, true).unwrap();
    }
    settings
        .set("aclfile", path.to_str().unwrap(), true)
        .unwrap();
    let r = server::Server::bind(
        std::sync::Arc::new(settings),
        std::sync::Arc::new(storage::SystemClock),
    );
    let e = r.err().expect("refused").to_string();
    assert!(e.contains("ACL errors") && e.contains("+nosuch"), "{e}");
}

/// requirepass given at start is the default user's password; AUTH user pass and HELLO
/// AUTH work with it.
#[test]
fn requirepass_at_startup() {
    let srv = TestServer::builder().requirepass("pw").start();
    let mut c = srv.raw();
    assert_eq!(c.request(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(c.request(&["AUTH", "default", "pw"]), "+OK\r\n");
    let list = c.request(&["ACL", "LIST"]);
    assert!(list.contains("user default on #"), "{list}");
    let mut h = srv.raw();
    let r = h.request(&["HELLO", "3", "AUTH", "default", "pw"]);
    assert!(r.starts_with("%7\r\n"), "{r}");
}

/// Cluster mode: a request for another node's keys runs there as the (trusted) bus, so the
/// node the client is connected to checks it first; on the owner, the default user may be
/// restricted without breaking what the bus relays to it.
#[test]
fn cluster_checks_before_relaying() {
    let cl = testkit::TestCluster::builder(env!("CARGO_BIN_EXE_rcache"))
        .nodes(2)
        .start();
    cl.wait_settled(Duration::from_secs(60));
    let (a, b) = (cl.node(0), cl.node(1));
    // Keys owned by node B.
    let owned_by_b = |prefix: &str| -> String {
        let slots = b.owned_slots();
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|k| slots.contains(&testkit::key_slot(k.as_bytes())))
            .unwrap()
    };
    let (inside, outside) = (owned_by_b("app:"), owned_by_b("other:"));
    // Users are per node (as Redis Cluster's): the same rules on both.
    for n in [a, b] {
        let mut c = n.raw();
        assert_eq!(
            c.request(&["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all"]),
            "+OK\r\n"
        );
    }
    let mut u = a.raw();
    assert_eq!(u.request(&["AUTH", "app", "pw"]), "+OK\r\n");
    assert_eq!(u.request(&["SET", &inside, "v"]), "+OK\r\n");
    assert_eq!(u.request(&["GET", &inside]), "$1\r\nv\r\n");
    assert_eq!(
        u.request(&["SET", &outside, "v"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(b.raw().request(&["EXISTS", &outside]), ":0\r\n");
    // The owner's default user restricted: relayed requests still run there.
    let mut admin_b = b.raw();
    assert_eq!(
        admin_b.request(&["ACL", "SETUSER", "root", "on", ">r", "~*", "&*", "+@all"]),
        "+OK\r\n"
    );
    assert_eq!(admin_b.request(&["AUTH", "root", "r"]), "+OK\r\n");
    assert_eq!(
        admin_b.request(&["ACL", "SETUSER", "default", "-@all"]),
        "+OK\r\n"
    );
    assert_eq!(u.request(&["GET", &inside]), "$1\r\nv\r\n");
}

/// Per-key access (Redis 7's key specs): `%R~` and `%W~` users on commands that read and
/// write the same key (INCR, GETSET, GETDEL, LPOP, SET … GET), read one key and write
/// another (COPY, LMOVE, SUNIONSTORE, SORT … STORE), scripts, and what ACL DRYRUN and the
/// log say: the same replies as Redis 7.0.15, over RESP2 and RESP3.
#[test]
fn per_key_access_as_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    for resp3 in [false, true] {
        let mut p = Pair::new(&redis, &srv, resp3);
        for cmd in [
            &["FLUSHALL"][..],
            &["ACL", "SETUSER", "ro", "on", "nopass", "%R~r:*", "+@all"],
            &["ACL", "SETUSER", "wo", "on", "nopass", "%W~w:*", "+@all"],
            &[
                "ACL", "SETUSER", "rw", "on", "nopass", "%R~r:*", "%W~w:*", "+@all",
            ],
            &["ACL", "DRYRUN", "wo", "INCR", "w:n"],
            &["ACL", "DRYRUN", "wo", "SET", "w:n", "1"],
            &["ACL", "DRYRUN", "wo", "SET", "w:n", "1", "GET"],
            &["ACL", "DRYRUN", "rw", "COPY", "r:n", "w:n"],
            &["ACL", "DRYRUN", "rw", "COPY", "w:n", "r:n"],
            &["ACL", "DRYRUN", "ro", "EVAL", "return 1", "1", "r:n"],
            &["ACL", "DRYRUN", "ro", "EVAL_RO", "return 1", "1", "r:n"],
        ] {
            p.same(cmd);
        }
        for user in ["ro", "wo", "rw"] {
            for cmd in [
                &["SET", "r:n", "10"][..],
                &["SET", "w:n", "20"],
                &["DEL", "r:l", "w:l", "r:s", "w:u", "w:c", "w:sorted", "w:d"],
                &["RPUSH", "r:l", "3", "1", "2"],
                &["RPUSH", "w:l", "6", "5"],
                &["SADD", "r:s", "a", "b"],
            ] {
                p.same(cmd);
            }
            let mut u = Pair::new(&redis, &srv, resp3);
            for cmd in [
                &["AUTH", user, "x"][..],
                &["GET", "r:n"],
                &["GET", "w:n"],
                &["SET", "r:n", "1"],
                &["SET", "w:n", "21"],
                &["SET", "w:n", "22", "GET"],
                &["SET", "w:n", "23", "NX", "GET"],
                &["SETNX", "w:x", "1"],
                &["INCR", "r:n"],
                &["INCR", "w:n"],
                &["GETSET", "w:n", "5"],
                &["APPEND", "w:n", "0"],
                &["EXISTS", "r:n", "w:n"],
                &["STRLEN", "w:n"],
                &["LPOP", "r:l"],
                &["LPOP", "w:l"],
                &["RPUSH", "w:l", "7"],
                &["COPY", "r:n", "w:c"],
                &["COPY", "w:n", "r:c"],
                &["LMOVE", "r:l", "w:l", "LEFT", "RIGHT"],
                &["LMOVE", "w:l", "r:l", "LEFT", "RIGHT"],
                &["SUNIONSTORE", "w:u", "r:s"],
                &["SUNIONSTORE", "r:u", "r:s"],
                &["SORT", "r:l", "STORE", "w:sorted"],
                &["SORT", "w:l", "STORE", "w:sorted"],
                &["SORT_RO", "r:l"],
                &["LRANGE", "w:sorted", "0", "-1"],
                &["BITFIELD", "w:n", "GET", "u8", "0"],
                &["BITFIELD", "r:n", "GET", "u8", "0"],
                &["BITFIELD", "r:n", "SET", "u8", "0", "1"],
                &["BITFIELD_RO", "r:n", "GET", "u8", "0"],
                &["EVAL", "return redis.call('get',KEYS[1])", "1", "r:n"],
                &["EVAL_RO", "return redis.call('get',KEYS[1])", "1", "r:n"],
                &["EVAL", "return redis.call('incr','w:n')", "0"],
                &["EVAL", "return redis.call('set','w:n','9')", "0"],
                &["EVAL", "return redis.call('get','r:n')", "0"],
                &["EVAL", "return 1", "3", "r:n"],
                &["MULTI"],
                &["INCR", "w:n"],
                &["EXEC"],
                &["GETDEL", "w:n"],
                &["DEL", "r:n"],
            ] {
                u.same(cmd);
            }
        }
        p.same(&["ACL", "LOG"]);
        p.same(&["ACL", "LOG", "RESET"]);
        p.same(&["ACL", "DELUSER", "ro", "wo", "rw"]);
    }
}

/// CLIENT KILL USER, alone and with other filters: the same counts and errors as Redis,
/// and the killed clients are closed.
#[test]
fn client_kill_user_as_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    for addr in [redis.addr(), srv.addr()] {
        let mut admin = RawConn::connect(addr);
        admin.request(&["ACL", "SETUSER", "ku", "on", ">pw", "~*", "+@all"]);
        let mut a = RawConn::connect(addr);
        let mut b = RawConn::connect(addr);
        for c in [&mut a, &mut b] {
            assert_eq!(c.request(&["AUTH", "ku", "pw"]), "+OK\r\n", "{addr}");
        }
        let b_id = b.request(&["CLIENT", "ID"]);
        let b_id = b_id.trim_start_matches(':').trim_end();
        let cases: &[(&[&str], &str)] = &[
            (
                &["CLIENT", "KILL", "USER", "nosuch"],
                "-ERR No such user 'nosuch'\r\n",
            ),
            (
                &["CLIENT", "KILL", "USER", "KU"],
                "-ERR No such user 'KU'\r\n",
            ),
            (&["CLIENT", "KILL", "USER", "ku", "ID", "999999"], ":0\r\n"),
            (
                &["CLIENT", "KILL", "USER", "ku", "TYPE", "pubsub"],
                ":0\r\n",
            ),
            (&["CLIENT", "KILL", "USER", "ku", "ID", b_id], ":1\r\n"),
            (
                &["CLIENT", "KILL", "USER", "ku", "TYPE", "normal"],
                ":1\r\n",
            ),
            (&["CLIENT", "KILL", "USER", "ku"], ":0\r\n"),
            (&["CLIENT", "KILL", "USER"], "-ERR No such client\r\n"),
            (
                &["CLIENT", "KILL", "USER", "ku", "ID"],
                "-ERR syntax error\r\n",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(&admin.request(args), want, "{args:?} on {addr}");
        }
        for c in [&mut a, &mut b] {
            c.expect_closed(TIMEOUT);
        }
        // The admin's own user with SKIPME no kills the admin too.
        assert_eq!(
            admin.request(&["CLIENT", "KILL", "USER", "default", "SKIPME", "no"]),
            ":1\r\n",
            "{addr}"
        );
        admin.expect_closed(TIMEOUT);
        RawConn::connect(addr).request(&["ACL", "DELUSER", "ku"]);
    }
}

/// SORT's BY and GET patterns read keys no key spec names: Redis 7.0.15 allows them only
/// to a user one of whose selectors allows the call and may read every key (`~*`,
/// `allkeys`, `%R~*`), and refuses them to the others with its own error, in scripts too.
/// (A user restricted to `~l ~w_*` once read `w_*` keys, or any key, through them.)
#[test]
fn sort_patterns_need_every_key_as_redis() {
    let Some(redis) = Backend::redis() else {
        return;
    };
    let srv = TestServer::start();
    let mut p = Pair::new(&redis, &srv, false);
    for cmd in [
        &["FLUSHALL"][..],
        &["RPUSH", "l", "2", "1"],
        &["SET", "w_1", "5"],
        &["SET", "w_2", "3"],
        &["SET", "secret", "s"],
    ] {
        p.same(cmd);
    }
    for rules in [
        &["~*"][..],
        &["%R~*"],
        &["~l", "~*"],
        &["~l", "~w_*"],
        &["~l", "(~*", "-@all", "+get)"],
        &["~l", "(~*", "+@all)"],
        &["(~*", "-@all", "+get)", "(~l", "+@all)"],
    ] {
        let mut setuser = vec!["ACL", "SETUSER", "s", "reset", "on", ">p", "+@all"];
        setuser.extend_from_slice(rules);
        p.same(&setuser);
        let mut u = Pair::new(&redis, &srv, false);
        for cmd in [
            &["AUTH", "s", "p"][..],
            &["SORT", "l", "BY", "w_*"],
            &["SORT", "l", "BY", "nosort"],
            &["SORT", "l", "GET", "#"],
            &["SORT", "l", "GET", "w_*"],
            &["SORT", "l", "BY", "secret*", "GET", "secret"],
            &["SORT_RO", "l", "GET", "w_*"],
            &["SORT", "l", "GET", "w_*", "LIMIT", "0", "x"],
            &["SORT", "l", "LIMIT", "0", "x", "GET", "w_*"],
            &["SORT", "l", "BY", "w_*", "foo"],
            &["SORT", "l", "foo", "BY", "w_*"],
            &["EVAL", "return redis.pcall('sort','l','GET','#')", "0"],
            &["EVAL", "return redis.call('sort','l','BY','w_*')", "0"],
        ] {
            u.same(cmd);
        }
    }
    p.same(&["ACL", "DELUSER", "s"]);
}

/// memcached's `mg <key> v N<ttl>` creates a missing item and answers an existing one: a
/// write-only user may not read through it (it is checked as SET and GET both).
#[test]
fn memcache_vivify_needs_read() {
    let srv = TestServer::start();
    let mut admin = srv.raw();
    for cmd in [
        &["SET", "w:k", "topsecret"][..],
        &[
            "ACL", "SETUSER", "wo", "on", ">p", "%W~w:*", "%R~r:*", "+@all",
        ],
        &["ACL", "SETUSER", "rw", "on", ">p", "~w:*", "+@all"],
        &["ACL", "SETUSER", "default", "resetpass", ">dp"],
    ] {
        assert_eq!(admin.request(cmd), "+OK\r\n");
    }
    let m = srv.door_addr(commands::Door::Memcache).unwrap();
    let mut mc = Mc::connect(m);
    assert_eq!(mc.ask("set auth 0 0 4\r\nwo p\r\n"), "STORED\r\n");
    let noperm = "CLIENT_ERROR NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    assert_eq!(mc.ask("mg w:k v\r\n"), noperm);
    assert_eq!(mc.ask("mg w:k v N30\r\n"), noperm);
    assert_eq!(mc.ask("mg w:k v N30 T30\r\n"), noperm);
    assert_eq!(mc.ask("mg r:k v N30\r\n"), noperm);
    // A user that may read and write the key may vivify it.
    let mut mc = Mc::connect(m);
    assert_eq!(mc.ask("set auth 0 0 4\r\nrw p\r\n"), "STORED\r\n");
    assert_eq!(mc.ask("mg w:k v N30\r\n"), "VA 9\r\ntopsecret\r\n");
}

/// Cluster mode: what a relayed request runs on its keys' owner (as the trusted bus) is
/// still the user's to check. A restricted user's script whose key is another node's is
/// answered MOVED (Redis Cluster's answer), so it runs on the owner as that user, whose
/// calls are checked there; so is EXEC of a transaction holding one. SORT's BY / GET
/// patterns are checked before relaying. (The owner once ran such a script's calls
/// unchecked: `redis.call('get', <any key>)` read what the user may not.)
#[test]
fn cluster_relayed_scripts_and_sort_checked() {
    let cl = testkit::TestCluster::builder(env!("CARGO_BIN_EXE_rcache"))
        .nodes(2)
        .start();
    cl.wait_settled(Duration::from_secs(60));
    let (a, b) = (cl.node(0), cl.node(1));
    // A hash tag of node B's: `{tag}:…` may be used, `{tag}secret` may not (same slot).
    let slots = b.owned_slots();
    let tag = (0..)
        .map(|i| format!("t{i}"))
        .find(|t| slots.contains(&testkit::key_slot(t.as_bytes())))
        .unwrap();
    let (inside, hidden) = (format!("{{{tag}}}:l"), format!("{{{tag}}}secret"));
    let pattern = format!("~{{{tag}}}:*");
    for n in [a, b] {
        let mut c = n.raw();
        assert_eq!(
            c.request(&["ACL", "SETUSER", "app", "on", ">pw", &pattern, "+@all"]),
            "+OK\r\n"
        );
    }
    let mut root_b = b.raw();
    assert_eq!(root_b.request(&["SET", &hidden, "s"]), "+OK\r\n");
    assert_eq!(root_b.request(&["RPUSH", &inside, "1"]), ":1\r\n");
    let noperm =
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    let script = format!("return redis.call('get', '{hidden}')");
    // Through node A (which relays to B).
    let mut u = a.raw();
    assert_eq!(u.request(&["AUTH", "app", "pw"]), "+OK\r\n");
    assert_eq!(u.request(&["GET", &hidden]), noperm);
    let r = u.request(&["EVAL", &script, "1", &inside]);
    assert!(r.starts_with("-MOVED "), "{r}");
    let r = u.request(&["EVAL", "return redis.call('llen', KEYS[1])", "1", &inside]);
    assert!(r.starts_with("-MOVED "), "{r}");
    assert_eq!(
        u.request(&["SORT", &inside, "BY", "nosort", "GET", "*"]),
        "-ERR GET option of SORT denied due to insufficient ACL permissions.\r\n"
    );
    assert_eq!(u.request(&["MULTI"]), "+OK\r\n");
    assert_eq!(u.request(&["EVAL", &script, "1", &inside]), "+QUEUED\r\n");
    let r = u.request(&["EXEC"]);
    assert!(r.starts_with("-MOVED "), "{r}");
    // On node B itself the script runs as the user, and its call is refused.
    let mut ub = b.raw();
    assert_eq!(ub.request(&["AUTH", "app", "pw"]), "+OK\r\n");
    let r = ub.request(&["EVAL", &script, "1", &inside]);
    assert!(r.contains("can't access at least one of the keys"), "{r}");
    assert_eq!(
        ub.request(&["EVAL", "return redis.call('llen', KEYS[1])", "1", &inside]),
        ":1\r\n"
    );
    // An unrestricted user's scripts are still relayed.
    let mut root_a = a.raw();
    assert_eq!(
        root_a.request(&["EVAL", &script, "1", &inside]),
        "$1\r\ns\r\n"
    );
}

/// RCACHE.PUBLISH / RCACHE.SPUBLISH (a PUBLISH relayed between cluster nodes) are the
/// bus's only: a client's would publish on channels its user may not (a `+@all &chan`
/// user once published anywhere with them; Redis has no such command).
#[test]
fn relay_publish_is_not_a_clients() {
    let srv = TestServer::start();
    let mut admin = srv.raw();
    assert_eq!(
        admin.request(&["ACL", "SETUSER", "pb", "on", ">p", "~*", "&chan", "+@all"]),
        "+OK\r\n"
    );
    let mut sub = srv.raw();
    assert!(sub.request(&["SUBSCRIBE", "other"]).contains("other"));
    let mut u = srv.raw();
    assert_eq!(u.request(&["AUTH", "pb", "p"]), "+OK\r\n");
    assert_eq!(
        u.request(&["PUBLISH", "other", "x"]),
        "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
    );
    for (cmd, name) in [
        ("RCACHE.PUBLISH", "RCACHE.PUBLISH"),
        ("rcache.spublish", "RCACHE.SPUBLISH"),
    ] {
        assert_eq!(
            u.request(&[cmd, "other", "leaked"]),
            format!("-ERR {name} is internal to the cluster\r\n")
        );
        // Not the default (unrestricted) user's either.
        assert_eq!(
            admin.request(&[cmd, "other", "leaked"]),
            format!("-ERR {name} is internal to the cluster\r\n")
        );
    }
    // The subscriber got nothing: the next thing it reads is its PING's answer.
    let r = sub.request(&["PING"]);
    assert!(!r.contains("leaked"), "{r}");
}
