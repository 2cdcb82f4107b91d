//! `read_rdb` against a dump.rdb written by a real Redis (Debian's redis-server 7.0): fill
//! a server with every type in every encoding Redis 7.0 picks (listpack and quicklist
//! lists with plain and LZF-compressed nodes, intset / hashtable sets, listpack / skiplist
//! sorted sets, listpack / hashtable hashes, int-encoded, LZF and raw strings), keys with
//! TTLs, several databases, a stream (loaded) and a function library (handed over); SAVE; kill the server; read
//! the file and compare every key, type, value and TTL with what was written.
//!
//! redis-server missing: the test fails, unless RCACHE_ALLOW_MISSING_TOOLS=1, when it says
//! loudly that it did not run. The Redis protocol is spoken by hand over a TcpStream.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use persist::rdb::{read_rdb, Checksum};
use persist::Record;
use storage::dump::Value;

const ALLOW_MISSING_ENV: &str = "RCACHE_ALLOW_MISSING_TOOLS";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How far a TTL read back may be from the one set (the server's clock vs ours, and the
/// time between the command and our reading of the clock).
const TTL_SLACK_MS: i64 = 5_000;

fn find_redis_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file());
    if found.is_some() {
        return found;
    }
    if std::env::var(ALLOW_MISSING_ENV).is_ok_and(|v| v == "1") {
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPED: `redis-server` is not installed and {ALLOW_MISSING_ENV}=1, so \
             the real-Redis RDB test did NOT run. Install it (Debian: apt-get install \
             redis-server) to run it. !!!!!!!!\n"
        );
        return None;
    }
    panic!(
        "`redis-server` is not installed: this test reads a dump.rdb written by a real Redis. \
         Install it (Debian: apt-get install redis-server), or set {ALLOW_MISSING_ENV}=1 to skip it."
    );
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p =
            std::env::temp_dir().join(format!("rcache-redis-rdb-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The redis-server child; killed on drop (also when the test panics).
struct Redis {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

fn start_redis(bin: &Path, dir: &Path) -> Redis {
    // The port can be taken between our probe and the server's bind: try a few.
    for _ in 0..5 {
        let port = free_port();
        let log = dir.join(format!("redis-{port}.log"));
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--enable-debug-command", "yes"])
            // Interior quicklist nodes LZF-compressed, so the file has compressed nodes.
            .args(["--list-compress-depth", "1"])
            // The encoding thresholds this test's sizes are chosen around, stated rather
            // than taken from defaults (which differ between builds).
            .args([
                "--list-max-listpack-size",
                "-2",
                "--set-max-intset-entries",
                "512",
            ])
            .args([
                "--hash-max-listpack-entries",
                "128",
                "--hash-max-listpack-value",
                "64",
            ])
            .args([
                "--zset-max-listpack-entries",
                "128",
                "--zset-max-listpack-value",
                "64",
            ])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut r = Redis {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            log,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(st) = r.child.try_wait().expect("wait for redis-server") {
                let log = r.log();
                if log.contains("Address already in use") {
                    break; // another port
                }
                panic!("redis-server exited ({st}) before answering PING:\n{log}");
            }
            if ping(r.addr) {
                return r;
            }
            if Instant::now() >= deadline {
                panic!(
                    "redis-server did not answer PING within {READY_TIMEOUT:?}:\n{}",
                    r.log()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(25));
        }
        let _ = r.child.wait();
    }
    panic!("could not start redis-server on a free port");
}

fn ping(addr: SocketAddr) -> bool {
    let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut c = Conn {
        r: BufReader::new(s.try_clone().expect("clone")),
        w: s,
    };
    c.send(&[b"PING".to_vec()]);
    matches!(c.try_read(), Ok(Reply::Simple(s)) if s == "PONG")
}

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// A hand-written RESP2 client: commands as arrays of bulk strings, replies parsed whole.
struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn connect(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect to redis-server");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Conn {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        }
    }

    fn send(&mut self, args: &[Vec<u8>]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).expect("write to redis-server");
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut l = Vec::new();
        self.r.read_until(b'\n', &mut l)?;
        if !l.ends_with(b"\r\n") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "short reply line",
            ));
        }
        l.truncate(l.len() - 2);
        Ok(String::from_utf8_lossy(&l).into_owned())
    }

    fn try_read(&mut self) -> std::io::Result<Reply> {
        let l = self.line()?;
        let (kind, rest) = l.split_at(1.min(l.len()));
        let num = || {
            rest.parse::<i64>()
                .map_err(|e| std::io::Error::other(format!("{l}: {e}")))
        };
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(num()?),
            "$" if num()? < 0 => Reply::Bulk(None),
            "$" => {
                let mut b = vec![0u8; num()? as usize + 2];
                std::io::Read::read_exact(&mut self.r, &mut b)?;
                b.truncate(b.len() - 2);
                Reply::Bulk(Some(b))
            }
            "*" if num()? < 0 => Reply::Array(None),
            "*" => Reply::Array(Some(
                (0..num()?)
                    .map(|_| self.try_read())
                    .collect::<Result<_, _>>()?,
            )),
            _ => {
                return Err(std::io::Error::other(format!(
                    "unexpected reply line {l:?}"
                )))
            }
        })
    }

    fn read(&mut self) -> Reply {
        self.try_read().expect("read a reply from redis-server")
    }

    /// One command; an error reply fails the test.
    fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        self.send(&args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
        match self.read() {
            Reply::Error(e) => panic!("{} failed: {e}", show_cmd(args)),
            r => r,
        }
    }

    /// Many commands pipelined; an error reply fails the test.
    fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) {
        for c in cmds {
            self.send(c);
        }
        for c in cmds {
            if let Reply::Error(e) = self.read() {
                panic!(
                    "{} failed: {e}",
                    show_cmd(&c.iter().map(Vec::as_slice).collect::<Vec<_>>())
                );
            }
        }
    }

    fn encoding(&mut self, key: &[u8]) -> String {
        match self.cmd(&[b"OBJECT", b"ENCODING", key]) {
            Reply::Bulk(Some(e)) => String::from_utf8_lossy(&e).into_owned(),
            r => panic!("OBJECT ENCODING: {r:?}"),
        }
    }
}

fn show_cmd(args: &[&[u8]]) -> String {
    let parts: Vec<String> = args
        .iter()
        .take(4)
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
        .collect();
    parts.join(" ")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn b(x: impl AsRef<[u8]>) -> Vec<u8> {
    x.as_ref().to_vec()
}

/// Deterministic incompressible bytes (an LCG), so a string stays raw under LZF.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

/// What the test wrote: per (db, key), the value and the absolute expiry it should have.
type Model = BTreeMap<(u32, Vec<u8>), (Value, Option<u64>)>;

/// Write `v` at `key` in the connection's current database, with commands that keep the
/// element order the model has.
fn write_value(c: &mut Conn, key: &[u8], v: &Value) {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    // Chunks keep each command small while the pipeline keeps it fast.
    match v {
        Value::Stream(_) => panic!("streams are written with XADD by their own tests"),
        Value::String(s) => cmds.push(vec![b("SET"), b(key), s.clone()]),
        Value::List(items) => {
            for chunk in items.chunks(100) {
                let mut cmd = vec![b("RPUSH"), b(key)];
                cmd.extend(chunk.iter().cloned());
                cmds.push(cmd);
            }
        }
        Value::Set(items) => {
            for chunk in items.chunks(100) {
                let mut cmd = vec![b("SADD"), b(key)];
                cmd.extend(chunk.iter().cloned());
                cmds.push(cmd);
            }
        }
        Value::ZSet(items) => {
            for chunk in items.chunks(100) {
                let mut cmd = vec![b("ZADD"), b(key)];
                for (m, s) in chunk {
                    let score = if s.is_infinite() {
                        (if *s > 0.0 { "+inf" } else { "-inf" }).to_string()
                    } else {
                        format!("{s:e}")
                    };
                    cmd.push(b(score));
                    cmd.push(m.clone());
                }
                cmds.push(cmd);
            }
        }
        Value::Hash(items) => {
            for chunk in items.chunks(100) {
                let mut cmd = vec![b("HSET"), b(key)];
                for (f, v) in chunk {
                    cmd.push(f.clone());
                    cmd.push(v.clone());
                }
                cmds.push(cmd);
            }
        }
    }
    c.pipeline(&cmds);
}

#[test]
fn reads_a_dump_written_by_real_redis() {
    let Some(bin) = find_redis_server() else {
        return;
    };
    let dir = TempDir::new();
    let mut redis = start_redis(&bin, &dir.0);
    let mut c = Conn::connect(redis.addr);
    let mut model: Model = BTreeMap::new();
    // (key, the encoding Redis must have picked): checked before SAVE, so the file really
    // holds each encoding this test claims to cover.
    let mut encodings: Vec<(u32, Vec<u8>, &str)> = Vec::new();

    let mut put = |c: &mut Conn,
                   model: &mut Model,
                   db: u32,
                   key: &str,
                   v: Value,
                   enc: Option<&'static str>| {
        write_value(c, key.as_bytes(), &v);
        if let Some(e) = enc {
            encodings.push((db, b(key), e));
        }
        model.insert((db, b(key)), (v, None));
    };

    // --- db 0: every type and encoding ---
    c.cmd(&[b"SELECT", b"0"]);
    put(
        &mut c,
        &mut model,
        0,
        "str:raw",
        Value::String(b("hello")),
        Some("embstr"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "str:empty",
        Value::String(b("")),
        None,
    );
    put(
        &mut c,
        &mut model,
        0,
        "str:int8",
        Value::String(b("-7")),
        Some("int"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "str:int16",
        Value::String(b("12345")),
        Some("int"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "str:int32",
        Value::String(b("-2000000000")),
        Some("int"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "str:int64",
        Value::String(b("9000000000000")),
        Some("int"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "str:binary",
        Value::String((0..=255u8).collect()),
        Some("raw"),
    );
    let compressible = b("the quick brown fox jumps over the lazy dog; ").repeat(25_000);
    put(
        &mut c,
        &mut model,
        0,
        "str:lzf",
        Value::String(compressible.clone()),
        Some("raw"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "str:noise",
        Value::String(noise(100_000, 1)),
        Some("raw"),
    );

    put(
        &mut c,
        &mut model,
        0,
        "list:small",
        Value::List(vec![b("a"), b("1"), b("-300"), b(""), b("99999999999")]),
        Some("quicklist"),
    );
    let big_list: Vec<Vec<u8>> = (0..5000)
        .map(|i| {
            if i % 3 == 0 {
                b(i.to_string())
            } else {
                b(format!("item-{i}-padding"))
            }
        })
        .collect();
    put(
        &mut c,
        &mut model,
        0,
        "list:big",
        Value::List(big_list),
        Some("quicklist"),
    );
    // Elements at or over the packed threshold get PLAIN quicklist nodes.
    c.cmd(&[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"1000"]);
    put(
        &mut c,
        &mut model,
        0,
        "list:plain",
        Value::List(vec![
            b("small"),
            b("x").repeat(2000),
            noise(3000, 2),
            b("tail"),
        ]),
        Some("quicklist"),
    );

    put(
        &mut c,
        &mut model,
        0,
        "set:int16",
        Value::Set(vec![b("1"), b("2"), b("-3")]),
        Some("intset"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "set:int64",
        Value::Set(vec![
            b("1"),
            b("100000"),
            b("5000000000"),
            b("-9223372036854775808"),
        ]),
        Some("intset"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "set:small",
        Value::Set(vec![b("a"), b("b"), b("7")]),
        None,
    );
    put(
        &mut c,
        &mut model,
        0,
        "set:big",
        Value::Set((0..1000).map(|i| b(format!("member-{i}"))).collect()),
        Some("hashtable"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "set:bigints",
        Value::Set((0..600).map(|i| b((i * 7).to_string())).collect()),
        Some("hashtable"),
    );

    let small_z = vec![
        (b("a"), 1.5),
        (b("b"), -2.0),
        (b("c"), f64::INFINITY),
        (b("d"), f64::NEG_INFINITY),
        (b("e"), 0.1),
        (b("f"), 1e300),
        (b("7"), 3.0),
        (b("g"), -1.25e-7),
    ];
    put(
        &mut c,
        &mut model,
        0,
        "zset:small",
        Value::ZSet(small_z),
        Some("listpack"),
    );
    let big_z: Vec<(Vec<u8>, f64)> = (0..300)
        .map(|i| (b(format!("m{i}")), f64::from(i) * 0.37 - 50.0))
        .collect();
    put(
        &mut c,
        &mut model,
        0,
        "zset:big",
        Value::ZSet(big_z),
        Some("skiplist"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "zset:longmember",
        Value::ZSet(vec![(b("z").repeat(100), 1.0)]),
        Some("skiplist"),
    );

    put(
        &mut c,
        &mut model,
        0,
        "hash:small",
        Value::Hash(vec![
            (b("f1"), b("v1")),
            (b("n"), b("123")),
            (b("neg"), b("-5")),
            (b("empty"), b("")),
        ]),
        Some("listpack"),
    );
    let big_h: Vec<(Vec<u8>, Vec<u8>)> = (0..300)
        .map(|i| (b(format!("field-{i}")), b(format!("value-{i}"))))
        .collect();
    put(
        &mut c,
        &mut model,
        0,
        "hash:big",
        Value::Hash(big_h),
        Some("hashtable"),
    );
    put(
        &mut c,
        &mut model,
        0,
        "hash:longvalue",
        Value::Hash(vec![(b("f"), b("v").repeat(500))]),
        Some("hashtable"),
    );

    // TTLs: relative (EX, PEXPIRE) and absolute (PEXPIREAT).
    let t0 = now_ms();
    c.cmd(&[b"SET", b"ttl:ex", b"soon", b"EX", b"1000"]);
    model.insert(
        (0, b("ttl:ex")),
        (Value::String(b("soon")), Some(t0 + 1_000_000)),
    );
    write_value(&mut c, b"ttl:list", &Value::List(vec![b("x"), b("y")]));
    c.cmd(&[b"PEXPIRE", b"ttl:list", b"5000000"]);
    model.insert(
        (0, b("ttl:list")),
        (Value::List(vec![b("x"), b("y")]), Some(t0 + 5_000_000)),
    );
    let at = t0 + 86_400_000;
    write_value(&mut c, b"ttl:hash", &Value::Hash(vec![(b("a"), b("b"))]));
    c.cmd(&[b"PEXPIREAT", b"ttl:hash", at.to_string().as_bytes()]);
    model.insert(
        (0, b("ttl:hash")),
        (Value::Hash(vec![(b("a"), b("b"))]), Some(at)),
    );

    // A stream with a consumer group and a pending entry (compared in detail, against
    // XINFO, by crates/rcache/tests/rdb_import.rs).
    for i in 0..3 {
        c.cmd(&[
            b"XADD",
            b"stream:1",
            b"*",
            b"field",
            i.to_string().as_bytes(),
        ]);
    }
    c.cmd(&[b"XGROUP", b"CREATE", b"stream:1", b"grp", b"0"]);
    c.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"grp",
        b"alice",
        b"COUNT",
        b"1",
        b"STREAMS",
        b"stream:1",
        b">",
    ]);
    // A function library: handed over in the summary.
    c.cmd(&[
        b"FUNCTION",
        b"LOAD",
        b"#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)",
    ]);

    // --- more databases ---
    c.cmd(&[b"SELECT", b"1"]);
    put(
        &mut c,
        &mut model,
        1,
        "k",
        Value::String(b("in db 1")),
        None,
    );
    put(
        &mut c,
        &mut model,
        1,
        "list:small",
        Value::List(vec![b("db1")]),
        None,
    );
    c.cmd(&[b"SELECT", b"5"]);
    put(
        &mut c,
        &mut model,
        5,
        "h",
        Value::Hash(vec![(b("x"), b("1"))]),
        None,
    );
    c.cmd(&[b"SET", b"ttl:db5", b"v", b"PX", b"7000000"]);
    model.insert(
        (5, b("ttl:db5")),
        (Value::String(b("v")), Some(t0 + 7_000_000)),
    );

    for (db, key, want) in &encodings {
        c.cmd(&[b"SELECT", db.to_string().as_bytes()]);
        let got = c.encoding(key);
        assert_eq!(
            &got,
            want,
            "OBJECT ENCODING of {} in db {db}",
            String::from_utf8_lossy(key)
        );
    }

    assert_eq!(c.cmd(&[b"SAVE"]), Reply::Simple("OK".into()));
    let _ = redis.child.kill();
    let _ = redis.child.wait();

    let path = dir.0.join("dump.rdb");
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}\n{}", path.display(), redis.log()));
    let size = file.metadata().expect("metadata").len();
    // The 1.1 MB compressible string must have been stored LZF-compressed.
    assert!(
        size < compressible.len() as u64,
        "dump.rdb is {size} bytes: no LZF compression?"
    );

    let mut got: Vec<Record> = Vec::new();
    let sum = read_rdb(std::io::BufReader::new(file), now_ms(), |r| {
        got.push(r);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));

    // Redis 7.0 writes RDB 10 (a newer server on PATH may write 11).
    assert!((10..=11).contains(&sum.version), "version {}", sum.version);
    assert!(
        matches!(sum.checksum, Checksum::Verified(_)),
        "{:?}",
        sum.checksum
    );
    let redis_ver = sum
        .aux
        .iter()
        .find(|(k, _)| k == b"redis-ver")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    assert!(
        redis_ver.as_deref().is_some_and(|v| v.starts_with('7')),
        "aux: {:?}",
        sum.aux
    );
    assert_eq!((sum.expired_skipped, sum.empty_skipped), (0, 0));
    let skipped: Vec<(&str, u64, &[u8])> = sum
        .skipped
        .iter()
        .map(|s| (s.kind.as_str(), s.count, s.first.as_slice()))
        .collect();
    assert_eq!(skipped, vec![], "nothing is skipped");
    assert_eq!(
        sum.functions,
        vec![b("#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)")]
    );
    // The stream: three entries, one group, one pending entry owned by alice.
    let at = got
        .iter()
        .position(|r| r.key == b"stream:1")
        .expect("the stream is loaded");
    let stream = got.remove(at);
    let Value::Stream(sv) = &stream.value else {
        panic!("stream:1 is not a stream: {:?}", stream.value)
    };
    let values: Vec<&[u8]> = sv.entries.iter().map(|(_, p)| p[0].1.as_slice()).collect();
    assert_eq!(values, [&b"0"[..], b"1", b"2"]);
    assert_eq!(sv.last_id, sv.entries[2].0);
    assert_eq!(sv.entries_added, 3);
    assert_eq!(sv.groups.len(), 1);
    let g = &sv.groups[0];
    assert_eq!(
        (g.name.as_slice(), g.last_id, g.entries_read),
        (&b"grp"[..], sv.entries[0].0, 1)
    );
    assert_eq!(g.consumers.len(), 1);
    assert_eq!(g.consumers[0].0, b"alice");
    assert_eq!(g.pending.len(), 1);
    assert_eq!(
        (g.pending[0].0, g.pending[0].1.as_slice(), g.pending[0].3),
        (sv.entries[0].0, &b"alice"[..], 1)
    );
    let dbs: Vec<(u32, u64)> = sum.dbs.iter().map(|d| (d.db, d.keys)).collect();
    let want_dbs: Vec<(u32, u64)> = [0, 1, 5]
        .iter()
        .map(|&db| {
            let stream = u64::from(db == 0);
            (
                db,
                model.keys().filter(|(d, _)| *d == db).count() as u64 + stream,
            )
        })
        .collect();
    assert_eq!(dbs, want_dbs);
    assert_eq!(sum.dbs[0].resize_hint, Some((want_dbs[0].1, 3)));
    assert_eq!(sum.keys as usize, model.len() + 1);

    // Every key, type, value and TTL.
    let mut seen = BTreeSet::new();
    for r in &got {
        let id = (r.db, r.key.clone());
        let shown = format!("{} in db {}", String::from_utf8_lossy(&r.key), r.db);
        assert!(seen.insert(id.clone()), "{shown} read twice");
        let (want, ttl) = model
            .get(&id)
            .unwrap_or_else(|| panic!("{shown} was never written"));
        assert_eq!(r.value.canonical(), want.canonical(), "value of {shown}");
        match (r.expire_at_ms, ttl) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!(
                (g as i64 - *w as i64).abs() <= TTL_SLACK_MS,
                "TTL of {shown}: {g} vs {w}"
            ),
            (g, w) => panic!("TTL of {shown}: read {g:?}, wrote {w:?}"),
        }
    }
    assert_eq!(
        seen.len(),
        model.len(),
        "keys missing: {:?}",
        model
            .keys()
            .filter(|k| !seen.contains(*k))
            .collect::<Vec<_>>()
    );

    // Read with a clock a week ahead: every key with a TTL has expired.
    let file = std::fs::File::open(&path).expect("reopen dump.rdb");
    let sum = read_rdb(file, now_ms() + 7 * 86_400_000, |_| Ok(())).expect("second read");
    let with_ttl = model.values().filter(|(_, t)| t.is_some()).count() as u64;
    assert_eq!(
        (sum.expired_skipped, sum.keys),
        (with_ttl, model.len() as u64 + 1 - with_ttl)
    );
}
