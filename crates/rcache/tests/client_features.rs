//! Redis 7's client features against Debian's real redis-server (7.0): client-side caching
//! (CLIENT TRACKING in default, BCAST, OPTIN, OPTOUT, NOLOOP and REDIRECT modes, CACHING,
//! GETREDIR, TRACKINGINFO), CLIENT PAUSE / UNPAUSE, CLIENT REPLY, RESET and MONITOR.
//!
//! Where both servers can say the same thing, the same steps run on both and the wire
//! transcripts (raw sockets, one RESP frame per entry, client ids and times masked) must be
//! equal. Then what only rcache has: invalidations caused through its other doors
//! (memcached, HTTP), by expiry on a manual clock, and MONITOR lines for memcached requests.
//! Waits poll with deadlines; nothing sleeps blind.

use commands::Door;
use redis::{PushKind, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use testkit::{Backend, RawConn, TestServer};

const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for: a bounded wait for an absence.
const QUIET: Duration = Duration::from_millis(300);

/// A raw connection that keeps a transcript of the frames it read.
struct Conn {
    c: RawConn,
    log: Vec<String>,
    /// (text, mask) replacements: client ids differ between the two servers.
    masks: Vec<(String, String)>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn {
            c: RawConn::connect(addr),
            log: Vec::new(),
            masks: Vec::new(),
        }
    }

    /// This connection's CLIENT ID.
    fn id(&mut self) -> String {
        let r = self.c.request(&["CLIENT", "ID"]);
        r.trim_start_matches(':').trim().to_string()
    }

    fn hello3(&mut self) {
        let r = self.c.request(&["HELLO", "3"]);
        assert!(r.starts_with('%'), "{r}");
    }

    /// Send a command; log its reply.
    fn cmd(&mut self, args: &[&str]) -> String {
        self.c.send_cmd(args);
        self.read()
    }

    /// Send without reading (a command expected to be held, or to get no reply).
    fn send(&mut self, args: &[&str]) {
        self.c.send_cmd(args);
    }

    /// Read one frame (reply or push), logged.
    fn read(&mut self) -> String {
        let mut r = self.c.reply();
        for (from, to) in &self.masks {
            r = r.replace(from.as_str(), to);
        }
        self.log.push(r.clone());
        r
    }

    /// Nothing arrives for a while.
    fn quiet(&mut self) {
        match self.c.read_reply(QUIET) {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }
}

fn redis() -> Option<Backend> {
    Backend::redis()
}

/// Run `steps` on Redis and on rcache; their transcripts must be equal.
fn compare(name: &str, steps: impl Fn(SocketAddr) -> Vec<String>) {
    let Some(r) = redis() else { return };
    let ours = TestServer::start();
    let a = steps(r.addr());
    let b = steps(ours.addr());
    assert_eq!(a.len(), b.len(), "{name}: redis {a:#?}\nrcache {b:#?}");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "{name}: frame {i}\nredis {a:#?}\nrcache {b:#?}");
    }
}

fn flushall(addr: SocketAddr) {
    let mut c = RawConn::connect(addr);
    assert_eq!(c.request(&["FLUSHALL"]), "+OK\r\n");
}

// ------------------------------------------------------------------ client-side caching

#[test]
fn tracking_errors_and_info_shapes_match_redis() {
    compare("tracking errors", |addr| {
        flushall(addr);
        let mut a = Conn::new(addr);
        for args in [
            &["CLIENT", "TRACKING", "on", "PREFIX", "a"][..],
            &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"],
            &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
            &["CLIENT", "TRACKING", "on", "REDIRECT", "99999"],
            &["CLIENT", "TRACKING", "on", "REDIRECT", "x"],
            &["CLIENT", "TRACKING", "maybe"],
            &["CLIENT", "TRACKING", "on", "FOO"],
            &["CLIENT", "TRACKING"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "CACHING", "yes", "no"],
            &["CLIENT", "GETREDIR"],
            &["CLIENT", "TRACKINGINFO"],
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a",
            ],
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "x",
            ],
            &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"],
            &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x:"],
            &["CLIENT", "TRACKING", "on"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "GETREDIR"],
            &["CLIENT", "TRACKING", "off"],
            &["CLIENT", "TRACKING", "on", "OPTIN", "NOLOOP"],
            &["CLIENT", "CACHING", "no"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "TRACKING", "on", "OPTOUT"],
            &["CLIENT", "TRACKING", "off"],
            &["CLIENT", "TRACKING", "on", "OPTOUT"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "CACHING", "no"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "TRACKING", "off"],
        ] {
            a.cmd(args);
        }
        a.hello3();
        a.cmd(&["CLIENT", "TRACKINGINFO"]);
        a.cmd(&[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p:", "NOLOOP",
        ]);
        a.cmd(&["CLIENT", "TRACKINGINFO"]);
        a.log
    });
}

#[test]
fn default_mode_invalidations_match_redis() {
    compare("default tracking", |addr| {
        flushall(addr);
        let mut a = Conn::new(addr);
        let mut b = Conn::new(addr);
        a.hello3();
        a.cmd(&["CLIENT", "TRACKING", "on"]);
        b.cmd(&["SET", "k", "1"]);
        a.cmd(&["GET", "k"]);
        a.cmd(&["MGET", "x", "y"]);
        // Another client's write: the push comes before the reply to the next command.
        b.cmd(&["SET", "k", "2"]);
        a.read();
        // Not read since: nothing. Then a write to two read keys: one push per key.
        b.cmd(&["SET", "k", "3"]);
        b.cmd(&["MSET", "x", "1", "y", "2"]);
        a.read();
        a.read();
        // The client's own write follows its reply.
        a.cmd(&["GET", "k"]);
        a.cmd(&["SET", "k", "mine"]);
        a.read();
        // A write that changes nothing is no change.
        a.cmd(&["SMEMBERS", "s"]);
        b.cmd(&["SREM", "s", "nothing"]);
        a.cmd(&["PING"]);
        // DEL, EXPIRE, and FLUSHALL's null.
        a.cmd(&["GET", "k"]);
        b.cmd(&["EXPIRE", "k", "100"]);
        a.read();
        a.cmd(&["GET", "k"]);
        b.cmd(&["DEL", "k"]);
        a.read();
        b.cmd(&["FLUSHALL"]);
        a.read();
        // Inside MULTI/EXEC the reads are remembered, the pushes follow EXEC's reply.
        a.cmd(&["MULTI"]);
        a.cmd(&["GET", "t"]);
        a.cmd(&["SET", "t", "v"]);
        a.cmd(&["EXEC"]);
        a.read();
        a.cmd(&["CLIENT", "TRACKING", "off"]);
        a.cmd(&["GET", "k"]);
        b.cmd(&["SET", "k", "again"]);
        a.cmd(&["PING"]);
        let mut log = a.log;
        log.extend(b.log);
        log
    });
}

#[test]
fn optin_optout_noloop_and_bcast_match_redis() {
    compare("modes", |addr| {
        flushall(addr);
        let mut a = Conn::new(addr);
        let mut b = Conn::new(addr);
        a.hello3();
        // OPTIN: only the read after CACHING yes.
        a.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]);
        a.cmd(&["GET", "plain"]);
        a.cmd(&["CLIENT", "CACHING", "yes"]);
        a.cmd(&["GET", "opted"]);
        a.cmd(&["GET", "after"]);
        b.cmd(&["MSET", "plain", "1", "opted", "1", "after", "1"]);
        a.read();
        a.cmd(&["PING"]);
        a.cmd(&["CLIENT", "TRACKING", "off"]);
        // OPTOUT: every read but the one after CACHING no.
        a.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT"]);
        a.cmd(&["CLIENT", "CACHING", "no"]);
        a.cmd(&["GET", "skipped"]);
        a.cmd(&["GET", "kept"]);
        b.cmd(&["MSET", "skipped", "2", "kept", "2"]);
        a.read();
        a.cmd(&["PING"]);
        a.cmd(&["CLIENT", "TRACKING", "off"]);
        // NOLOOP: the client's own writes are not echoed.
        a.cmd(&["CLIENT", "TRACKING", "on", "NOLOOP"]);
        a.cmd(&["GET", "n"]);
        a.cmd(&["SET", "n", "mine"]);
        a.cmd(&["GET", "n"]);
        b.cmd(&["SET", "n", "theirs"]);
        a.read();
        a.cmd(&["CLIENT", "TRACKING", "off"]);
        // BCAST: every key of the prefixes, no read needed, keys of one command together.
        a.cmd(&[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:",
        ]);
        b.cmd(&["MSET", "user:2", "a", "user:1", "b", "other", "c"]);
        a.read();
        b.cmd(&["SET", "obj:1", "x"]);
        a.read();
        a.cmd(&["SET", "user:mine", "1"]);
        a.read();
        a.cmd(&["CLIENT", "TRACKING", "off"]);
        a.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]);
        a.cmd(&["SET", "mine", "1"]);
        b.cmd(&["SET", "theirs", "1"]);
        a.read();
        let mut log = a.log;
        log.extend(b.log);
        log
    });
}

#[test]
fn resp2_redirect_matches_redis() {
    compare("redirect", |addr| {
        flushall(addr);
        let mut r = Conn::new(addr);
        let mut a = Conn::new(addr);
        let mut b = Conn::new(addr);
        let rid = r.id();
        a.masks
            .push((format!(":{rid}\r\n"), ":<redirect-id>\r\n".into()));
        r.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
        a.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid]);
        a.cmd(&["CLIENT", "GETREDIR"]);
        a.cmd(&["GET", "k"]);
        b.cmd(&["SET", "k", "v"]);
        r.read();
        b.cmd(&["FLUSHALL"]);
        r.read();
        // A RESP3 tracking client whose redirect client left is told so.
        a.hello3();
        a.cmd(&["GET", "k"]);
        drop(r);
        let deadline = Instant::now() + WAIT;
        loop {
            let l = b.c.request(&["CLIENT", "LIST"]);
            if !l.contains(&format!("id={rid} ")) {
                break;
            }
            assert!(Instant::now() < deadline, "the redirect client never left");
        }
        b.cmd(&["SET", "k", "w"]);
        a.read();
        a.cmd(&["CLIENT", "TRACKINGINFO"]);
        let mut log = a.log;
        log.extend(b.log);
        log
    });
}

/// A RESP3 REDIRECT target that neither subscribed nor tracks — idle, waiting on its
/// socket — gets the invalidation pushes, as Redis delivers them.
#[test]
fn resp3_redirect_target_gets_pushes_as_redis() {
    compare("resp3 redirect", |addr| {
        flushall(addr);
        let mut r = Conn::new(addr);
        r.hello3();
        let mut a = Conn::new(addr);
        let mut b = Conn::new(addr);
        let rid = r.id();
        a.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid]);
        a.cmd(&["GET", "k"]);
        a.cmd(&["GET", "k2"]);
        b.cmd(&["SET", "k", "v"]);
        r.read();
        b.cmd(&["MSET", "k2", "v", "k", "w"]);
        r.read();
        b.cmd(&["FLUSHALL"]);
        r.read();
        r.cmd(&["PING"]);
        let mut log = r.log;
        log.extend(a.log);
        log.extend(b.log);
        log
    });
}

#[test]
fn redis_crate_resp3_sees_invalidation_pushes() {
    let srv = TestServer::start();
    let client = redis::Client::open(srv.url_resp3()).unwrap();
    let mut a = client.get_connection().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    a.set_push_sender(tx);
    let mut b = srv.connection();
    let _: () = redis::cmd("SET").arg("k").arg("1").query(&mut b).unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .query(&mut a)
        .unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut a).unwrap();
    assert_eq!(v, "1");
    let _: () = redis::cmd("SET").arg("k").arg("2").query(&mut b).unwrap();
    // The push is read with the next reply.
    let _: String = redis::cmd("PING").query(&mut a).unwrap();
    let p = rx.recv_timeout(WAIT).expect("an invalidation push");
    assert_eq!(p.kind, PushKind::Invalidate);
    assert_eq!(
        p.data,
        vec![Value::Array(vec![Value::BulkString(b"k".to_vec())])]
    );
}

// ------------------------------------------------------------ invalidation from other doors

/// A RESP3 connection tracking `keys` (read once) on `srv`.
fn tracker(srv: &TestServer, keys: &[&str]) -> Conn {
    let mut a = Conn::new(srv.addr());
    a.hello3();
    assert_eq!(a.cmd(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    for k in keys {
        a.cmd(&["GET", k]);
    }
    a
}

fn invalidate(key: &str) -> String {
    format!(
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{key}\r\n",
        key.len()
    )
}

#[test]
fn memcached_http_and_expiry_invalidate() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let mut a = tracker(&srv, &["mc", "web", "gone", "bin"]);
    // memcached `set`.
    let mut mc = TcpStream::connect(srv.door_addr(Door::Memcache).unwrap()).unwrap();
    mc.set_read_timeout(Some(WAIT)).unwrap();
    mc.write_all(b"set mc 0 0 1\r\nv\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(mc.try_clone().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "STORED\r\n");
    assert_eq!(a.read(), invalidate("mc"));
    // HTTP PUT.
    let body = "hello";
    let req = format!(
        "PUT /v1/keys/web HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut h = TcpStream::connect(srv.door_addr(Door::Http).unwrap()).unwrap();
    h.set_read_timeout(Some(WAIT)).unwrap();
    h.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    h.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    assert_eq!(a.read(), invalidate("web"));
    // Expiry: the active cycle removes the key once its time has passed.
    let mut b = Conn::new(srv.addr());
    b.cmd(&["SET", "gone", "v", "PX", "50"]);
    assert_eq!(a.read(), invalidate("gone"));
    a.cmd(&["GET", "gone"]);
    srv.advance_ms(100);
    assert_eq!(a.read(), invalidate("gone"));
    // Eviction.
    let mut c = Conn::new(srv.addr());
    a.cmd(&["GET", "victim"]);
    c.cmd(&["SET", "victim", "v"]);
    assert_eq!(a.read(), invalidate("victim"));
    a.cmd(&["GET", "victim"]);
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    c.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    c.cmd(&["SET", "other", "x"]);
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(a.read(), invalidate("victim"));
}

// ------------------------------------------------------------------------------- pause

#[test]
fn pause_replies_match_redis() {
    compare("pause", |addr| {
        let mut a = Conn::new(addr);
        for args in [
            &["CLIENT", "PAUSE"][..],
            &["CLIENT", "PAUSE", "x"],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "PAUSE", "10", "READ"],
            &["CLIENT", "PAUSE", "10", "WRITE", "x"],
            &["CLIENT", "UNPAUSE", "x"],
            &["CLIENT", "PAUSE", "100000", "WRITE"],
            // Reads go on; a wrong arity is answered at once, even for a write.
            &["GET", "k"],
            &["SET", "k"],
            &["CLIENT", "UNPAUSE"],
            &["SET", "k", "v"],
        ] {
            a.cmd(args);
        }
        a.log
    });
}

/// INFO's `blocked_clients` reaches `n`.
fn wait_blocked(addr: SocketAddr, n: u32) {
    let mut c = RawConn::connect(addr);
    testkit::wait_for("blocked_clients", WAIT, || {
        c.request(&["INFO", "clients"])
            .contains(&format!("blocked_clients:{n}\r\n"))
            .then_some(())
    });
}

#[test]
fn pause_write_holds_writes_and_releases_them() {
    let run = |addr: SocketAddr| {
        let mut admin = Conn::new(addr);
        let mut w = Conn::new(addr);
        let mut r = Conn::new(addr);
        admin.cmd(&["SET", "k", "old"]);
        assert_eq!(
            admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]),
            "+OK\r\n"
        );
        // The write is held, not refused; a read from another client goes on.
        w.send(&["SET", "k", "new"]);
        wait_blocked(addr, 1);
        w.quiet();
        assert_eq!(r.cmd(&["GET", "k"]), "$3\r\nold\r\n");
        // A read-only transaction goes on; PUBLISH may replicate: held.
        r.cmd(&["MULTI"]);
        r.cmd(&["GET", "k"]);
        assert_eq!(r.cmd(&["EXEC"]), "*1\r\n$3\r\nold\r\n");
        let mut p = Conn::new(addr);
        p.send(&["PUBLISH", "ch", "m"]);
        wait_blocked(addr, 2);
        assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
        assert_eq!(w.read(), "+OK\r\n");
        assert_eq!(p.read(), ":0\r\n");
        assert_eq!(r.cmd(&["GET", "k"]), "$3\r\nnew\r\n");
        // A pause that ends by itself releases what it held; ALL holds reads too.
        for mode in ["WRITE", "ALL"] {
            let started = Instant::now();
            admin.cmd(&["CLIENT", "PAUSE", "300", mode]);
            w.send(&["SET", "k", mode]);
            assert_eq!(w.read(), "+OK\r\n");
            r.send(&["GET", "k"]);
            assert_eq!(r.read(), format!("${}\r\n{mode}\r\n", mode.len()));
            assert!(started.elapsed() >= Duration::from_millis(250), "{mode}");
        }
    };
    run(TestServer::start().addr());
    if let Some(redis) = redis() {
        run(redis.addr());
    }
}

#[test]
fn pause_holds_memcached_writes_and_keeps_keys_from_expiring() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let mut admin = Conn::new(srv.addr());
    admin.cmd(&["SET", "t", "v", "PX", "10"]);
    admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    let before = admin.cmd(&["INFO", "stats"]);
    let mut mc = TcpStream::connect(srv.door_addr(Door::Memcache).unwrap()).unwrap();
    mc.write_all(b"set m 0 0 1\r\nv\r\n").unwrap();
    wait_blocked(srv.addr(), 1);
    // The key's time passes during the pause: it reads as gone but is not removed.
    srv.advance_ms(50);
    assert_eq!(admin.cmd(&["GET", "t"]), "$-1\r\n");
    assert_eq!(admin.cmd(&["DBSIZE"]), ":1\r\n");
    let expired = |info: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(expired(&admin.cmd(&["INFO", "stats"])), expired(&before));
    admin.cmd(&["CLIENT", "UNPAUSE"]);
    let mut line = String::new();
    mc.set_read_timeout(Some(WAIT)).unwrap();
    BufReader::new(mc).read_line(&mut line).unwrap();
    assert_eq!(line, "STORED\r\n");
    assert_eq!(admin.cmd(&["GET", "t"]), "$-1\r\n");
    assert_eq!(
        admin.cmd(&["DBSIZE"]),
        ":1\r\n",
        "t expired once the pause ended"
    );
}

/// CLIENT NO-EVICT exists in 7.0 and answers as Redis. (CLIENT NO-TOUCH is Redis 7.2's:
/// rcache has it, Redis 7.0 answers an unknown subcommand; see docs/COMMANDS.md.)
#[test]
fn no_evict_matches_redis() {
    compare("no-evict", |addr| {
        let mut a = Conn::new(addr);
        a.cmd(&["CLIENT", "NO-EVICT", "on"]);
        a.cmd(&["CLIENT", "NO-EVICT", "OFF"]);
        a.cmd(&["CLIENT", "NO-EVICT", "maybe"]);
        a.cmd(&["CLIENT", "NO-EVICT"]);
        a.cmd(&["CLIENT", "NO-EVICT", "on", "x"]);
        a.cmd(&["CLIENT", "NO-EVICT", "on"]);
        let info = a.c.request(&["CLIENT", "INFO"]);
        a.log.push(info.contains(" flags=e ").to_string());
        a.log
    });
}

// ------------------------------------------------------------------- CLIENT REPLY, RESET

#[test]
fn client_reply_matches_redis() {
    compare("reply", |addr| {
        flushall(addr);
        let mut a = Conn::new(addr);
        a.send(&["CLIENT", "REPLY", "SKIP"]);
        a.send(&["SET", "a", "1"]);
        a.cmd(&["GET", "a"]);
        a.send(&["CLIENT", "REPLY", "OFF"]);
        a.send(&["SET", "b", "2"]);
        a.send(&["GET", "b"]);
        a.send(&["CLIENT", "REPLY", "SKIP"]);
        a.send(&["NOSUCHCOMMAND"]);
        a.cmd(&["CLIENT", "REPLY", "ON"]);
        a.cmd(&["GET", "b"]);
        a.cmd(&["CLIENT", "REPLY", "maybe"]);
        a.cmd(&["CLIENT", "REPLY"]);
        a.log
    });
}

#[test]
fn reset_matches_redis() {
    compare("reset", |addr| {
        flushall(addr);
        let mut a = Conn::new(addr);
        let mut b = Conn::new(addr);
        a.cmd(&["SELECT", "5"]);
        a.cmd(&["CLIENT", "SETNAME", "before"]);
        a.cmd(&["WATCH", "w"]);
        a.cmd(&["MULTI"]);
        a.cmd(&["SET", "k", "v"]);
        a.cmd(&["RESET"]);
        a.cmd(&["EXISTS", "k"]);
        a.cmd(&["CLIENT", "GETNAME"]);
        // Back in database 0, transaction and WATCH gone.
        b.cmd(&["SELECT", "0"]);
        b.cmd(&["SET", "z", "in-db-0"]);
        a.cmd(&["GET", "z"]);
        b.cmd(&["SET", "w", "changed"]);
        a.cmd(&["MULTI"]);
        a.cmd(&["EXEC"]);
        // Subscribed (RESP2): RESET is allowed, and leaves subscribed mode silently.
        a.cmd(&["SUBSCRIBE", "ch"]);
        a.cmd(&["RESET"]);
        a.cmd(&["PING"]);
        b.cmd(&["PUBLISH", "ch", "m"]);
        // RESP3 and tracking off again.
        a.hello3();
        a.cmd(&["CLIENT", "TRACKING", "on"]);
        a.cmd(&["RESET"]);
        a.cmd(&["CLIENT", "TRACKINGINFO"]);
        a.send(&["CLIENT", "REPLY", "OFF"]);
        a.cmd(&["RESET"]);
        a.cmd(&["PING"]);
        let mut log = a.log;
        log.extend(b.log);
        log
    });
}

#[test]
fn reset_deauthenticates_as_redis() {
    let steps = |addr: SocketAddr| {
        let mut a = Conn::new(addr);
        a.cmd(&["AUTH", "pw"]);
        a.cmd(&["GET", "k"]);
        a.cmd(&["RESET"]);
        a.cmd(&["GET", "k"]);
        a.log
    };
    let Some(r) = Backend::redis_with(&["--requirepass", "pw"]) else {
        return;
    };
    let ours = TestServer::builder().requirepass("pw").start();
    assert_eq!(steps(r.addr()), steps(ours.addr()));
}

// ------------------------------------------------------------------------------ MONITOR

/// A MONITOR line without its time and client port: `[db addr] "args"`.
fn monitor_line(l: &str) -> String {
    let (ts, rest) = l.trim_start_matches('+').split_once(' ').expect(l);
    let (secs, micros) = ts.split_once('.').expect(l);
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{l}");
    // `[0 127.0.0.1:54321] ` → `[0 127.0.0.1:*] `
    let (head, args) = rest.split_once("] ").expect(l);
    let head = match head.rsplit_once(':') {
        Some((h, _)) if !head.ends_with("lua") => format!("{h}:*"),
        _ => head.to_string(),
    };
    format!("{head}] {}", args.trim_end())
}

#[test]
fn monitor_lines_match_redis() {
    compare("monitor", |addr| {
        flushall(addr);
        let mut m = Conn::new(addr);
        let mut a = Conn::new(addr);
        m.cmd(&["MONITOR"]);
        a.cmd(&["SET", "k", "v w\n\"x\""]);
        a.cmd(&["GET"]); // refused: not shown
        a.cmd(&["CONFIG", "GET", "maxmemory"]); // admin: not shown
        a.cmd(&["SELECT", "2"]);
        a.cmd(&["MULTI"]);
        a.cmd(&["INCR", "n"]);
        a.cmd(&["EXEC"]);
        a.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"]);
        a.cmd(&["AUTH", "secret"]);
        a.cmd(&["AUTH", "user", "secret"]);
        a.cmd(&["HELLO", "2", "AUTH", "default", "secret"]);
        a.cmd(&["PING"]);
        let mut lines = vec![m.log[0].clone()];
        for _ in 0..11 {
            lines.push(monitor_line(&m.read()));
        }
        // A monitor may not touch the keyspace; RESET ends MONITOR mode.
        lines.push(m.cmd(&["GET", "k"]));
        lines.push(m.cmd(&["RESET"]));
        a.cmd(&["SET", "after", "reset"]);
        lines.push(m.cmd(&["PING"]));
        lines
    });
}

#[test]
fn monitor_sees_memcached_and_resp_doors() {
    let srv = TestServer::start();
    let mut m = Conn::new(srv.addr());
    m.cmd(&["MONITOR"]);
    let mut a = Conn::new(srv.addr());
    a.cmd(&["SET", "k", "v"]);
    let mut mc = TcpStream::connect(srv.door_addr(Door::Memcache).unwrap()).unwrap();
    mc.set_read_timeout(Some(WAIT)).unwrap();
    mc.write_all(b"set mk 5 0 2\r\nhi\r\nget mk\r\n").unwrap();
    let mut r = BufReader::new(mc);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "STORED\r\n");
    let l1 = monitor_line(&m.read());
    let l2 = monitor_line(&m.read());
    let l3 = monitor_line(&m.read());
    assert_eq!(l1, "[0 127.0.0.1:*] \"SET\" \"k\" \"v\"");
    assert_eq!(
        l2,
        "[0 127.0.0.1:*] \"set\" \"mk\" \"5\" \"0\" \"2\" \"hi\""
    );
    assert_eq!(l3, "[0 127.0.0.1:*] \"get\" \"mk\"");
    // The monitor shows in CLIENT LIST with flag O.
    assert!(a.cmd(&["CLIENT", "LIST"]).contains(" flags=O "));
}
