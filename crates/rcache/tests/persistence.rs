//! Snapshots with real `rcache` processes and the `redis` crate: what was saved is back
//! after `kill -9` and a restart (every type, TTLs, databases, memcached flags); a `kill -9`
//! in the middle of BGSAVE leaves the previous snapshot loadable; a snapshot taken while
//! clients run MULTI/EXEC transfers keeps their sum; a corrupt file stops start-up with its
//! path and offset; a second server on the same directory is refused; a full disk turns
//! writes into MISCONF while reads go on, until a save succeeds again.

use redis::Commands;
use std::path::Path;
use std::time::Duration;
use testkit::{wait_for, RcacheProcess, TempDir, Tmpfs};

mod common;
use common::{client, info_field};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

fn start(dir: &Path, extra: &[&str]) -> RcacheProcess {
    RcacheProcess::builder(BIN)
        .args(["--dir", &dir.display().to_string()])
        .args(extra.iter().copied())
        .start()
}

#[test]
fn saved_data_survives_kill_9_and_restart() {
    let dir = TempDir::new("rcache-persist");
    let p = start(dir.path(), &["--memcache-port", "0"]);
    let mut c = client(&p);
    let () = c.set("s", "hello").unwrap();
    let () = c.set_ex("ttl", "soon", 1000).unwrap();
    let _: i64 = c.rpush("l", &["a", "b", "c"]).unwrap();
    let _: i64 = c.sadd("set", &["x", "y"]).unwrap();
    let _: i64 = c.zadd("z", "m", 2.5).unwrap();
    let _: i64 = c.hset("h", "f", "v").unwrap();
    // A big hash and set, in their large encodings.
    for i in 0..600 {
        let _: i64 = c.hset("bigh", format!("f{i}"), i).unwrap();
        let _: i64 = c.sadd("bigs", format!("m{i}")).unwrap();
    }
    let () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let () = c.set("in3", "three").unwrap();
    let () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    // Written after the save: not promised to survive a crash (no log yet).
    let () = c.set("after", "x").unwrap();
    p.sigkill();

    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("s").unwrap(), "hello");
    let ttl: i64 = c.ttl("ttl").unwrap();
    assert!(
        (990..=1000).contains(&ttl),
        "TTL kept as an absolute time: {ttl}"
    );
    assert_eq!(
        c.lrange::<_, Vec<String>>("l", 0, -1).unwrap(),
        ["a", "b", "c"]
    );
    assert_eq!(c.scard::<_, i64>("set").unwrap(), 2);
    assert_eq!(c.zscore::<_, _, f64>("z", "m").unwrap(), 2.5);
    assert_eq!(c.hget::<_, _, String>("h", "f").unwrap(), "v");
    assert_eq!(c.hlen::<_, i64>("bigh").unwrap(), 600);
    assert_eq!(c.scard::<_, i64>("bigs").unwrap(), 600);
    assert!(!c.exists::<_, bool>("after").unwrap());
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("bigh")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "hashtable");
    let () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("in3").unwrap(), "three");
    assert_eq!(info_field(&mut c, "loading"), "0");
}

#[test]
fn shutdown_saves_with_a_policy_and_nosave_does_not() {
    let dir = TempDir::new("rcache-persist");
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    let () = c.set("k", "v1").unwrap();
    p.sigterm();
    assert!(p.wait_exit(Duration::from_secs(20)).unwrap().success());
    assert!(
        dir.path().join("dump.rcsnap").exists(),
        "SIGTERM saves (default policy)"
    );

    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("k").unwrap(), "v1");
    let () = c.set("k", "v2").unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    assert!(p.wait_exit(Duration::from_secs(20)).unwrap().success());

    let p = start(dir.path(), &["--save", ""]);
    let mut c = client(&p);
    assert_eq!(
        c.get::<_, String>("k").unwrap(),
        "v1",
        "NOSAVE kept the old file"
    );
    let () = c.set("k", "v3").unwrap();
    // No policy: SIGTERM does not save, SHUTDOWN SAVE does.
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut c);
    assert!(p.wait_exit(Duration::from_secs(20)).unwrap().success());
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("k").unwrap(), "v3");
}

/// shutdown-on-sigterm / shutdown-on-sigint decide the final snapshot as in Redis: `save`
/// takes one without a save policy, `nosave` skips it with one.
#[test]
fn shutdown_on_signal_settings_decide_the_final_snapshot() {
    let dir = TempDir::new("rcache-persist");
    let snap = dir.path().join("dump.rcsnap");
    // No save policy, but SIGTERM says save.
    let p = start(dir.path(), &["--save", ""]);
    let mut c = client(&p);
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("shutdown-on-sigterm")
        .arg("save")
        .query(&mut c)
        .unwrap();
    let () = c.set("k", "v1").unwrap();
    p.sigterm();
    assert!(p.wait_exit(Duration::from_secs(20)).unwrap().success());
    assert!(snap.exists(), "shutdown-on-sigterm save took a snapshot");

    // A save policy, but SIGINT (set at run time) says nosave: the old snapshot stays.
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("k").unwrap(), "v1");
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("shutdown-on-sigint")
        .arg("nosave now")
        .query(&mut c)
        .unwrap();
    let () = c.set("k", "v2").unwrap();
    p.sigint();
    assert!(p.wait_exit(Duration::from_secs(20)).unwrap().success());
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    assert_eq!(
        c.get::<_, String>("k").unwrap(),
        "v1",
        "nosave kept the old file"
    );
}

#[test]
fn kill_9_during_bgsave_leaves_the_previous_snapshot() {
    let dir = TempDir::new("rcache-persist");
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("old{i}"), i).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    // Much more data, so the background save takes a while; kill in the middle of it.
    for chunk in 0..40 {
        let mut pipe = redis::pipe();
        for i in 0..5000 {
            pipe.set(format!("new{chunk}:{i}"), "x".repeat(100))
                .ignore();
        }
        let () = pipe.query(&mut c).unwrap();
    }
    let started: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    p.sigkill();

    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    let temps = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("temp-")
        })
        .count();
    assert_eq!(
        temps, 0,
        "the interrupted save's temp file is removed at start-up"
    );
    // The old snapshot (the kill came first), or the whole new one: never a mix.
    assert!(n == 1000 || n == 201_000, "loaded {n} keys");
    assert_eq!(c.get::<_, i64>("old999").unwrap(), 999);
    // And the file verifies.
    let out = std::process::Command::new(BIN)
        .arg("check-snapshot")
        .arg(dir.path().join("dump.rcsnap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": OK"));
}

#[test]
fn a_snapshot_under_multi_exec_transfers_keeps_the_sum() {
    const ACCOUNTS: usize = 50;
    const EACH: i64 = 1000;
    let dir = TempDir::new("rcache-persist");
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    for a in 0..ACCOUNTS {
        let () = c.set(format!("acct:{a}"), EACH).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let movers: Vec<_> = (0..3)
        .map(|t| {
            let mut c = client(&p);
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (from, to) = (i % ACCOUNTS, (i * 7 + 3) % ACCOUNTS);
                    let () = redis::pipe()
                        .atomic()
                        .decr(format!("acct:{from}"), 3)
                        .ignore()
                        .incr(format!("acct:{to}"), 3)
                        .ignore()
                        .query(&mut c)
                        .unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    let path = dir.path().join("dump.rcsnap");
    for round in 0..5 {
        let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
        wait_for("the background save", Duration::from_secs(30), || {
            (info_field(&mut c, "rdb_bgsave_in_progress") == "0").then_some(())
        });
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
        let mut sum = 0i64;
        let mut n = 0;
        persist::snapshot::reader::read(std::fs::File::open(&path).unwrap(), 0, |r| {
            if let storage::dump::Value::String(v) = r.value {
                sum += std::str::from_utf8(&v).unwrap().parse::<i64>().unwrap();
                n += 1;
            }
        })
        .unwrap();
        assert_eq!(n, ACCOUNTS, "round {round}");
        assert_eq!(
            sum,
            ACCOUNTS as i64 * EACH,
            "round {round}: a transfer was cut"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for m in movers {
        m.join().unwrap();
    }
}

/// A directory whose snapshot (100 keys) has byte `at(len)` flipped by `mask`; returns the
/// directory, the file's path and its corrupt bytes.
fn corrupt_snapshot(at: fn(usize) -> usize, mask: u8) -> (TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = TempDir::new("rcache-persist");
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    for i in 0..100 {
        let () = c.set(format!("k{i}"), i).unwrap();
    }
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    p.sigkill();
    let path = dir.path().join("dump.rcsnap");
    let mut bytes = std::fs::read(&path).unwrap();
    let i = at(bytes.len());
    bytes[i] ^= mask;
    std::fs::write(&path, &bytes).unwrap();
    (dir, path, bytes)
}

#[test]
fn a_corrupt_snapshot_stops_start_up_with_path_and_offset() {
    let (dir, path, bytes) = corrupt_snapshot(|len| len / 2, 0x55);

    let p = RcacheProcess::builder(BIN)
        .args(["--dir", &dir.path().display().to_string()])
        .no_wait()
        .start();
    let status = p
        .wait_exit(Duration::from_secs(20))
        .expect("the server must refuse to start");
    assert!(!status.success());
    let log = p.output();
    assert!(log.contains(&path.display().to_string()), "{log}");
    assert!(log.contains("at byte"), "{log}");
    // The bad file is left as it was: nothing saved over it.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn start_empty_if_corrupt_moves_the_bad_file_aside_and_starts_empty() {
    // The last byte is the whole-file checksum's: every block reads, then the end fails.
    let (dir, path, bytes) = corrupt_snapshot(|len| len - 1, 0xFF);

    let p = start(dir.path(), &["--start-empty-if-corrupt"]);
    let mut c = client(&p);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(
        n, 0,
        "nothing of the bad file is kept, even what read before the error"
    );
    assert!(p.output().contains("STARTING EMPTY"), "{}", p.output());
    assert!(!path.exists());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("dump.rcsnap.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), bytes);
}

#[test]
fn a_second_server_on_the_same_directory_is_refused() {
    let dir = TempDir::new("rcache-persist");
    let p = start(dir.path(), &[]);
    let second = RcacheProcess::builder(BIN)
        .args(["--dir", &dir.path().display().to_string()])
        .no_wait()
        .start();
    let status = second.wait_exit(Duration::from_secs(20)).expect("refused");
    assert!(!status.success());
    let log = second.output();
    assert!(log.contains("in use by another rcache server"), "{log}");
    assert!(log.contains(&format!("pid {}", p.pid())), "{log}");
}

#[test]
fn a_full_disk_refuses_writes_with_misconf_until_a_save_succeeds() {
    let dir = TempDir::new("rcache-persist");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let Some(_fs) = Tmpfs::mount(&data, "1m") else {
        if std::env::var("RCACHE_ALLOW_MISSING_TOOLS").as_deref() == Ok("1") {
            eprintln!("SKIP: cannot mount a tmpfs (not root?)");
            return;
        }
        panic!("cannot mount a tmpfs for the disk-full test (the tests run as root)");
    };
    // The disk is nearly full: a filler takes 900 KB of the 1 MB.
    let filler = data.join("filler");
    std::fs::write(&filler, vec![7u8; 900 << 10]).unwrap();
    let p = start(&data, &[]);
    let mut c = client(&p);
    // ~200 KB of incompressible data: the snapshot does not fit in what is left.
    let mut seed = 1u64;
    for i in 0..200 {
        let v: Vec<u8> = (0..1000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let () = c.set(format!("k{i}"), v).unwrap();
    }
    let err = redis::cmd("SAVE").query::<()>(&mut c).unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "err");
    let err = c.set::<_, _, ()>("k0", "x").unwrap_err();
    assert_eq!(err.code(), Some("MISCONF"), "{err}");
    // Reads are served, and nothing acknowledged is lost.
    assert_eq!(c.strlen::<_, i64>("k0").unwrap(), 1000);
    // No temp file left behind to fill the disk.
    let left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("temp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Space comes back: a save succeeds and writes are accepted again.
    std::fs::remove_file(&filler).unwrap();
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let () = c.set("k0", "back").unwrap();
    drop(c);
    p.sigkill();
    let p = start(&data, &[]);
    let mut c = client(&p);
    assert_eq!(
        c.strlen::<_, i64>("k1").unwrap(),
        1000,
        "the saved data loads"
    );
}

#[test]
fn a_redis_dump_rdb_in_dir_is_imported_and_left_untouched() {
    let Some(redis_server) = testkit::require_tool("redis-server") else {
        return;
    };
    let dir = TempDir::new("rcache-import");
    let port = testkit::process::free_port();
    let mut redis = std::process::Command::new(redis_server)
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    wait_for("redis-server", Duration::from_secs(20), || {
        testkit::ping_ready(addr).then_some(())
    });
    let mut c = redis::Client::open(format!("redis://{addr}"))
        .unwrap()
        .get_connection()
        .unwrap();
    let () = c.set("s", "from redis").unwrap();
    let () = c.set_ex("t", "ttl", 500).unwrap();
    let _: i64 = c.rpush("l", &["a", "b"]).unwrap();
    let _: i64 = c.hset("h", "f", "v").unwrap();
    let _: String = redis::cmd("XADD")
        .arg("stream")
        .arg("*")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    let _ = redis.wait();
    let rdb = dir.path().join("dump.rdb");
    let original = std::fs::read(&rdb).unwrap();

    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("s").unwrap(), "from redis");
    let ttl: i64 = c.ttl("t").unwrap();
    assert!((490..=500).contains(&ttl), "{ttl}");
    assert_eq!(c.lrange::<_, Vec<String>>("l", 0, -1).unwrap(), ["a", "b"]);
    assert_eq!(c.hget::<_, _, String>("h", "f").unwrap(), "v");
    // Streams come over too (in detail: rdb_import.rs).
    assert_eq!(
        redis::cmd("XLEN")
            .arg("stream")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(
        std::fs::read(&rdb).unwrap(),
        original,
        "dump.rdb is never written"
    );
    assert!(dir.path().join("dump.rcsnap").exists());
}
