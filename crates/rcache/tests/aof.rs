//! The append-only log with real `rcache` processes, `kill -9` and the `redis` crate:
//! under `appendfsync always` every acknowledged write survives a crash (under concurrent
//! load, and through a restart loop); under `everysec` the loss is bounded and measured;
//! replay is deterministic (random commands of every family give the same dataset after a
//! restart); a key that expired is not brought back; BGREWRITEAOF under a transfer load
//! keeps the sum and leaves one base + one incr; a torn tail or an unfinished MULTI is cut
//! with a warning; corruption in the middle stops start-up with the file and offset;
//! `CONFIG SET appendonly yes` writes a base first; memcached items keep their flags.

use rand::{Rng, SeedableRng};
use redis::Commands;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::{wait_for, RcacheProcess, TempDir, Tmpfs};

mod common;
use common::{client, info_field};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

fn start(dir: &Path, extra: &[&str]) -> RcacheProcess {
    RcacheProcess::builder(BIN)
        .args(["--dir", &dir.display().to_string(), "--save", ""])
        .args(extra.iter().copied())
        .start()
}

fn start_aof(dir: &Path, fsync: &str) -> RcacheProcess {
    start(dir, &["--appendonly", "yes", "--appendfsync", fsync])
}

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(aof_dir(dir).join("appendonly.aof.manifest")).unwrap()
}

/// The last incr file the manifest lists.
fn last_incr(dir: &Path) -> PathBuf {
    let m = manifest(dir);
    let name = m
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("an incr file")
        .to_string();
    aof_dir(dir).join(name)
}

/// Writers that each own their keys, and count what was acknowledged: `SET w:<t>:<n>` and
/// `INCR c:<t>` (so a lost or doubled write shows in the counter), until told to stop or
/// the connection breaks (the server was killed).
struct Load {
    stop: Arc<AtomicBool>,
    acked: Vec<Arc<AtomicU64>>,
    /// Sent (a reply may not have come back): an upper bound of what may exist.
    sent: Vec<Arc<AtomicU64>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn load(p: &RcacheProcess, writers: usize, pipeline: usize) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let mut acked = Vec::new();
    let mut sent = Vec::new();
    let mut threads = Vec::new();
    for t in 0..writers {
        let (a, s, st) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            stop.clone(),
        );
        acked.push(a.clone());
        sent.push(s.clone());
        let mut c = client(p);
        threads.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !st.load(Relaxed) {
                let mut pipe = redis::pipe();
                for i in 0..pipeline as u64 {
                    pipe.set(format!("w:{t}:{}", n + i), n + i).ignore();
                    pipe.incr(format!("c:{t}"), 1).ignore();
                }
                s.store(n + pipeline as u64, Relaxed);
                if pipe.query::<()>(&mut c).is_err() {
                    return;
                }
                n += pipeline as u64;
                a.store(n, Relaxed);
            }
        }));
    }
    Load {
        stop,
        acked,
        sent,
        threads,
    }
}

impl Load {
    fn total(&self) -> u64 {
        self.acked.iter().map(|a| a.load(Relaxed)).sum()
    }
    fn finish(self) -> (Vec<u64>, Vec<u64>) {
        self.stop.store(true, Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        (
            self.acked.iter().map(|a| a.load(Relaxed)).collect(),
            self.sent.iter().map(|a| a.load(Relaxed)).collect(),
        )
    }
}

/// Every acknowledged write of writer `t` is there, and nothing past what was sent.
fn check_writer(c: &mut redis::Connection, t: usize, acked: u64, sent: u64) {
    let counter: u64 = c
        .get::<_, Option<u64>>(format!("c:{t}"))
        .unwrap()
        .unwrap_or(0);
    assert!(
        counter >= acked && counter <= sent,
        "writer {t}: counter {counter}, acknowledged {acked}, sent {sent}"
    );
    for n in [0, acked / 2, acked.saturating_sub(1)] {
        if n < acked {
            let v: Option<u64> = c.get(format!("w:{t}:{n}")).unwrap();
            assert_eq!(v, Some(n), "writer {t}: acknowledged w:{t}:{n} lost");
        }
    }
    let past: bool = c.exists(format!("w:{t}:{sent}")).unwrap();
    assert!(!past, "writer {t}: a key never written exists");
    // The counter says how many SETs landed: each one is there, in order.
    if counter > 0 {
        let last: Option<u64> = c.get(format!("w:{t}:{}", counter - 1)).unwrap();
        assert_eq!(last, Some(counter - 1));
    }
}

#[test]
fn always_keeps_every_acknowledged_write_through_kill_9() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let l = load(&p, 4, 1);
    // Kill once a good number of writes was acknowledged, mid-stream.
    wait_for("acknowledged writes", Duration::from_secs(60), || {
        (l.total() >= 2000).then_some(())
    });
    p.sigkill();
    let (acked, sent) = l.finish();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    for t in 0..acked.len() {
        check_writer(&mut c, t, acked[t], sent[t]);
    }
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
}

#[test]
fn a_restart_loop_under_always_loses_nothing_acknowledged() {
    let dir = TempDir::new("rcache-aof");
    let mut floor = [0u64; 2];
    for round in 0..3 {
        let p = start_aof(dir.path(), "always");
        let mut c = client(&p);
        // What earlier rounds acknowledged is there.
        for (t, &f) in floor.iter().enumerate() {
            let counter: u64 = c
                .get::<_, Option<u64>>(format!("c:{t}"))
                .unwrap()
                .unwrap_or(0);
            assert!(counter >= f, "round {round}: writer {t} lost writes");
        }
        // Each round continues the counters with pipelined writes (group commit).
        let l = load(&p, 2, 16);
        let target = l.total() + 1000;
        wait_for("writes", Duration::from_secs(60), || {
            (l.total() >= target).then_some(())
        });
        p.sigkill();
        let (acked, _) = l.finish();
        for t in 0..2 {
            // A round's writer starts its keys at 0 again but its INCRs add up.
            floor[t] += acked[t];
        }
    }
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    for (t, &f) in floor.iter().enumerate() {
        let counter: u64 = c.get(format!("c:{t}")).unwrap();
        assert!(counter >= f, "writer {t}: {counter} < {f} acknowledged");
    }
}

#[test]
fn everysec_loses_at_most_about_a_second() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "everysec");
    let l = load(&p, 2, 8);
    let t0 = Instant::now();
    wait_for("writes", Duration::from_secs(60), || {
        (l.total() >= 20_000).then_some(())
    });
    let rate = l.total() as f64 / t0.elapsed().as_secs_f64();
    p.sigkill();
    let (acked, sent) = l.finish();
    let p = start_aof(dir.path(), "everysec");
    let mut c = client(&p);
    let mut lost = 0;
    for t in 0..acked.len() {
        let counter: u64 = c
            .get::<_, Option<u64>>(format!("c:{t}"))
            .unwrap()
            .unwrap_or(0);
        assert!(counter <= sent[t]);
        lost += acked[t].saturating_sub(counter);
    }
    // A process crash leaves what was written to the OS: only the last moments' writes can
    // go (an OS crash could lose up to the last fsync, a second).
    eprintln!(
        "everysec: {lost} of {} acknowledged writes lost at {rate:.0} writes/s",
        acked.iter().sum::<u64>()
    );
    assert!(
        (lost as f64) <= rate * 1.0 + 100.0,
        "lost {lost} writes, more than a second's worth ({rate:.0}/s)"
    );
}

/// Random commands of every family through one connection; returns nothing, the dataset
/// is compared by `dataset`.
fn random_commands(c: &mut redis::Connection, seed: u64, n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let key = |rng: &mut rand::rngs::StdRng, p: &str| format!("{p}{}", rng.random_range(0..12));
    for _ in 0..n {
        let cmd = match rng.random_range(0..30) {
            0 => redis::cmd("SET").arg(key(&mut rng, "s")).arg(rng.random::<u16>()).clone(),
            1 => redis::cmd("SET")
                .arg(key(&mut rng, "s"))
                .arg("v")
                .arg("EX")
                .arg(rng.random_range(100..1000))
                .clone(),
            2 => redis::cmd("INCRBYFLOAT").arg(key(&mut rng, "f")).arg("1.1").clone(),
            3 => redis::cmd("APPEND").arg(key(&mut rng, "s")).arg("ab").clone(),
            4 => redis::cmd("SETEX").arg(key(&mut rng, "s")).arg(500).arg("x").clone(),
            5 => redis::cmd("EXPIRE").arg(key(&mut rng, "s")).arg(rng.random_range(100..900)).clone(),
            6 => redis::cmd("PERSIST").arg(key(&mut rng, "s")).clone(),
            7 => redis::cmd("SADD").arg(key(&mut rng, "set")).arg(rng.random_range(0..40)).arg(rng.random_range(0..40)).clone(),
            8 => redis::cmd("SPOP").arg(key(&mut rng, "set")).clone(),
            9 => redis::cmd("SPOP").arg(key(&mut rng, "set")).arg(3).clone(),
            10 => redis::cmd("RPUSH").arg(key(&mut rng, "l")).arg(rng.random::<u8>()).clone(),
            11 => redis::cmd("LMOVE").arg(key(&mut rng, "l")).arg(key(&mut rng, "l")).arg("LEFT").arg("RIGHT").clone(),
            12 => redis::cmd("LPOP").arg(key(&mut rng, "l")).clone(),
            13 => redis::cmd("HSET").arg(key(&mut rng, "h")).arg(rng.random_range(0..20)).arg(rng.random::<u8>()).clone(),
            14 => redis::cmd("HINCRBYFLOAT").arg(key(&mut rng, "h")).arg("x").arg("0.25").clone(),
            15 => redis::cmd("ZADD").arg(key(&mut rng, "z")).arg(rng.random_range(0..100)).arg(rng.random_range(0..30)).clone(),
            16 => redis::cmd("ZINCRBY").arg(key(&mut rng, "z")).arg("1.5").arg("m").clone(),
            17 => redis::cmd("ZPOPMIN").arg(key(&mut rng, "z")).clone(),
            18 => redis::cmd("DEL").arg(key(&mut rng, "s")).clone(),
            19 => redis::cmd("RENAME").arg(key(&mut rng, "s")).arg(key(&mut rng, "s")).clone(),
            20 => redis::cmd("SINTERSTORE").arg(key(&mut rng, "set")).arg(key(&mut rng, "set")).arg(key(&mut rng, "set")).clone(),
            21 => redis::cmd("SELECT").arg(rng.random_range(0..3)).clone(),
            22 => redis::cmd("EVAL")
                .arg("redis.call('incr', KEYS[1]); redis.call('set', KEYS[2], redis.call('get', KEYS[1])); return 1")
                .arg(2)
                .arg(key(&mut rng, "n"))
                .arg(key(&mut rng, "s"))
                .clone(),
            23 => redis::cmd("SETRANGE").arg(key(&mut rng, "s")).arg(rng.random_range(0..8)).arg("zz").clone(),
            24 => redis::cmd("COPY").arg(key(&mut rng, "h")).arg(key(&mut rng, "h")).arg("REPLACE").clone(),
            25 => redis::cmd("MOVE").arg(key(&mut rng, "s")).arg(rng.random_range(0..3)).clone(),
            26 => redis::cmd("GETEX").arg(key(&mut rng, "s")).arg("PX").arg(rng.random_range(100_000..200_000)).clone(),
            27 => redis::cmd("SETBIT").arg(key(&mut rng, "b")).arg(rng.random_range(0..64)).arg(1).clone(),
            28 => redis::cmd("PEXPIRE").arg(key(&mut rng, "h")).arg(rng.random_range(100_000..900_000)).clone(),
            _ => redis::cmd("SWAPDB").arg(0).arg(1).clone(),
        };
        // Errors (WRONGTYPE…) are part of the workload: the log must answer the same.
        let _ = cmd.query::<redis::Value>(c);
        if rng.random_range(0..20) == 0 {
            let mut p = redis::pipe();
            p.atomic()
                .cmd("INCR")
                .arg("tx")
                .cmd("SADD")
                .arg("txset")
                .arg(rng.random::<u8>());
            let _ = p.query::<redis::Value>(c);
        }
    }
    let () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

/// Every key of databases 0–2 with its type, value (order-free where the type is) and
/// absolute expiry.
fn dataset(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for db in 0..3 {
        let () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let keys: Vec<String> = c.keys("*").unwrap();
        for k in keys {
            let ty: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            let v = match ty.as_str() {
                "string" => format!("{:?}", c.get::<_, Vec<u8>>(&k).unwrap()),
                "list" => format!("{:?}", c.lrange::<_, Vec<String>>(&k, 0, -1).unwrap()),
                "set" => {
                    let mut m: Vec<String> = c.smembers(&k).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "zset" => format!(
                    "{:?}",
                    c.zrange_withscores::<_, Vec<(String, f64)>>(&k, 0, -1)
                        .unwrap()
                ),
                "hash" => format!(
                    "{:?}",
                    c.hgetall::<_, BTreeMap<String, String>>(&k).unwrap()
                ),
                t => t.to_string(),
            };
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap();
            out.insert(format!("{db}:{k}"), format!("{ty} {v} {at}"));
        }
    }
    let () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    out
}

#[test]
fn replay_gives_back_the_same_dataset() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    random_commands(&mut c, 7, 1500);
    // Half-way, a rewrite: the rest goes to the new incr after the base.
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    random_commands(&mut c, 8, 1500);
    let before = dataset(&mut c);
    assert!(
        before.len() > 20,
        "the workload built a dataset: {before:?}"
    );
    p.sigkill();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    let after = dataset(&mut c);
    assert_eq!(before, after);
}

#[test]
fn an_expired_key_is_not_brought_back() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    let () = redis::cmd("SET")
        .arg("k")
        .arg("old")
        .arg("PX")
        .arg(50)
        .query(&mut c)
        .unwrap();
    wait_for("k to expire", Duration::from_secs(10), || {
        (c.pttl::<_, i64>("k").unwrap() == -2).then_some(())
    });
    // Written after the expiry: a new value, not "old" + "new".
    let _: i64 = c.append("k", "new").unwrap();
    let () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(30)
        .query(&mut c)
        .unwrap();
    wait_for("gone to expire", Duration::from_secs(10), || {
        (!c.exists::<_, bool>("gone").unwrap()).then_some(())
    });
    p.sigkill();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("k").unwrap(), "new");
    assert_eq!(c.pttl::<_, i64>("k").unwrap(), -1);
    assert!(!c.exists::<_, bool>("gone").unwrap());
}

#[test]
fn a_rewrite_under_transfers_keeps_the_sum_and_one_base() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "everysec");
    let mut c = client(&p);
    const ACCOUNTS: usize = 50;
    for i in 0..ACCOUNTS {
        let () = c.set(format!("acct:{i}"), 100).unwrap();
    }
    for i in 0..5000 {
        let () = c.set(format!("bulk:{i}"), "x".repeat(64)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let mut c = client(&p);
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(w);
                while !stop.load(Relaxed) {
                    let a = rng.random_range(0..ACCOUNTS);
                    let b = rng.random_range(0..ACCOUNTS);
                    let _: Result<(), _> = redis::pipe()
                        .atomic()
                        .decr(format!("acct:{a}"), 7)
                        .ignore()
                        .incr(format!("acct:{b}"), 7)
                        .ignore()
                        .query(&mut c);
                }
            })
        })
        .collect();
    for _ in 0..2 {
        let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
        wait_for("the rewrite to end", Duration::from_secs(60), || {
            (info_field(&mut c, "aof_rewrite_in_progress") == "0").then_some(())
        });
    }
    assert_eq!(info_field(&mut c, "aof_rewrites"), "2");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    stop.store(true, Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    // Acknowledged and given time to reach the OS: a clean point to crash at.
    let () = c.set("last", "1").unwrap();
    wait_for("the log to be written", Duration::from_secs(10), || {
        (info_field(&mut c, "aof_buffer_length") == "0").then_some(())
    });
    p.sigkill();
    let m = manifest(dir.path());
    assert_eq!(
        m.lines().filter(|l| l.ends_with("type b")).count(),
        1,
        "{m}"
    );
    assert_eq!(
        m.lines().filter(|l| l.ends_with("type i")).count(),
        1,
        "{m}"
    );
    let files = std::fs::read_dir(aof_dir(dir.path())).unwrap().count();
    assert_eq!(files, 3, "replaced files are deleted: {m}");
    let p = start_aof(dir.path(), "everysec");
    let mut c = client(&p);
    let mut sum = 0i64;
    for i in 0..ACCOUNTS {
        sum += c.get::<_, i64>(format!("acct:{i}")).unwrap();
    }
    assert_eq!(sum, 100 * ACCOUNTS as i64);
    assert_eq!(c.get::<_, String>("last").unwrap(), "1");
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, ACCOUNTS + 5000 + 1);
}

#[test]
fn a_torn_tail_or_an_open_multi_is_cut_and_the_rest_loads() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    let () = c.set("a", "1").unwrap();
    p.sigkill();
    let incr = last_incr(dir.path());
    let good = std::fs::metadata(&incr).unwrap().len();
    // A transaction whose EXEC never reached the disk, then half a command.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .unwrap();
    f.write_all(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1")
        .unwrap();
    drop(f);
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("a").unwrap(), "1");
    assert!(
        !c.exists::<_, bool>("b").unwrap(),
        "half a transaction is not applied"
    );
    assert_eq!(
        std::fs::metadata(&incr).unwrap().len(),
        good,
        "cut back to the MULTI"
    );
    assert!(
        p.output().contains("cut"),
        "a warning says so: {}",
        p.output()
    );
    // And the log goes on from there.
    let () = c.set("d", "4").unwrap();
    p.sigkill();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("d").unwrap(), "4");
}

#[test]
fn corruption_in_the_middle_stops_start_up_with_file_and_offset() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    for i in 0..10 {
        let () = c.set(format!("k{i}"), i).unwrap();
    }
    p.sigkill();
    let incr = last_incr(dir.path());
    let mut bytes = Vec::new();
    std::fs::File::open(&incr)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    // Break the 5th command's array marker.
    let at = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == b"*3\r\n")
        .nth(4)
        .map(|(i, _)| i)
        .unwrap();
    bytes[at] = b'?';
    std::fs::write(&incr, &bytes).unwrap();
    let p = RcacheProcess::builder(BIN)
        .args(["--dir", &dir.path().display().to_string(), "--save", ""])
        .args(["--appendonly", "yes"])
        .no_wait()
        .start();
    let status = p
        .wait_exit(Duration::from_secs(30))
        .expect("start-up refused");
    assert!(!status.success());
    let out = p.output();
    assert!(
        out.contains(&incr.file_name().unwrap().to_string_lossy().to_string()),
        "{out}"
    );
    assert!(out.contains(&format!("offset {at}")), "{out}");
    // check-aof says the same and cannot fix the middle of a file for us silently.
    let o = std::process::Command::new(BIN)
        .args(["check-aof", &aof_dir(dir.path()).display().to_string()])
        .output()
        .unwrap();
    assert!(!o.status.success());
}

#[test]
fn config_set_appendonly_yes_writes_a_base_first() {
    let dir = TempDir::new("rcache-aof");
    let p = start(dir.path(), &[]);
    let mut c = client(&p);
    for i in 0..1000 {
        let () = c.set(format!("k{i}"), i).unwrap();
    }
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut c)
        .unwrap();
    wait_for("the log to start", Duration::from_secs(30), || {
        (info_field(&mut c, "aof_enabled") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "aof_rewrites") == "1")
            .then_some(())
    });
    let () = c.set("after", "yes").unwrap();
    wait_for("the log to be written", Duration::from_secs(10), || {
        (info_field(&mut c, "aof_buffer_length") == "0").then_some(())
    });
    p.sigkill();
    let p = start_aof(dir.path(), "everysec");
    let mut c = client(&p);
    assert_eq!(c.get::<_, i64>("k999").unwrap(), 999);
    assert_eq!(c.get::<_, String>("after").unwrap(), "yes");
    // And off again: the files stay, nothing more is logged.
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut c)
        .unwrap();
    wait_for("the log to stop", Duration::from_secs(10), || {
        (info_field(&mut c, "aof_enabled") == "0").then_some(())
    });
}

/// One memcached text request, its reply.
fn mc(addr: std::net::SocketAddr, req: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let t = String::from_utf8_lossy(&buf);
        if n == 0
            || t.ends_with("END\r\n")
            || t.ends_with("STORED\r\n")
            || t.ends_with("DELETED\r\n")
            || t.ends_with("TOUCHED\r\n")
            || t.ends_with("\r\n") && !t.starts_with("VALUE")
        {
            return t.into_owned();
        }
    }
}

#[test]
fn memcached_items_keep_value_flags_and_expiry() {
    let dir = TempDir::new("rcache-aof");
    let port = testkit::process::free_port();
    let p = start(
        dir.path(),
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--memcache-port",
            &port.to_string(),
        ],
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(mc(addr, "set a 42 0 3\r\nabc\r\n"), "STORED\r\n");
    assert_eq!(mc(addr, "append a 0 0 2\r\nde\r\n"), "STORED\r\n");
    assert_eq!(mc(addr, "set n 7 1000 1\r\n5\r\n"), "STORED\r\n");
    assert_eq!(mc(addr, "incr n 10\r\n"), "15\r\n");
    assert_eq!(mc(addr, "set gone 0 0 1\r\nx\r\n"), "STORED\r\n");
    assert_eq!(mc(addr, "delete gone\r\n"), "DELETED\r\n");
    let mut c = client(&p);
    let before: i64 = c.ttl("n").unwrap();
    p.sigkill();
    let p = start(
        dir.path(),
        &["--appendonly", "yes", "--memcache-port", &port.to_string()],
    );
    assert_eq!(mc(addr, "get a\r\n"), "VALUE a 42 5\r\nabcde\r\nEND\r\n");
    assert_eq!(mc(addr, "get n\r\n"), "VALUE n 7 2\r\n15\r\nEND\r\n");
    assert_eq!(mc(addr, "get gone\r\n"), "END\r\n");
    let mut c = client(&p);
    let after: i64 = c.ttl("n").unwrap();
    assert!(
        after <= before && after > before - 30,
        "expiry kept: {before} → {after}"
    );
}

/// A 1 MB tmpfs on `dir`, or a skip where tmpfs cannot be mounted (not root).
fn small_disk(dir: &Path) -> Option<Tmpfs> {
    std::fs::create_dir_all(dir).unwrap();
    let fs = Tmpfs::mount(dir, "1m");
    if fs.is_none() {
        assert_eq!(
            std::env::var("RCACHE_ALLOW_MISSING_TOOLS").as_deref(),
            Ok("1"),
            "cannot mount a tmpfs for the disk-full test (the tests run as root)"
        );
        eprintln!("SKIP: cannot mount a tmpfs");
    }
    fs
}

/// Write 32 KB values until a write is refused; returns how many were acknowledged and
/// the error.
fn fill(c: &mut redis::Connection) -> (usize, redis::RedisError) {
    for n in 0..1000 {
        if let Err(e) = c.set::<_, _, ()>(format!("k{n}"), vec![b'a' + (n % 26) as u8; 32 << 10]) {
            return (n, e);
        }
    }
    panic!("1000 writes of 32 KB fitted in a 1 MB disk");
}

#[test]
fn a_full_disk_under_everysec_refuses_writes_until_there_is_room() {
    let dir = TempDir::new("rcache-aof");
    let data = dir.path().join("data");
    let Some(fs) = small_disk(&data) else {
        return;
    };
    let p = start_aof(&data, "everysec");
    let mut c = client(&p);
    let (acked, err) = fill(&mut c);
    let msg = err.to_string();
    assert!(
        msg.contains("MISCONF") && msg.contains("Errors writing to the AOF file"),
        "{msg}"
    );
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "err");
    // Reads go on; what was acknowledged is still served.
    assert_eq!(c.get::<_, Vec<u8>>("k0").unwrap().len(), 32 << 10);
    assert!(fs.resize("16m"));
    wait_for(
        "writes to be accepted again",
        Duration::from_secs(20),
        || c.set::<_, _, ()>("again", "yes").ok(),
    );
    wait_for("the log to catch up", Duration::from_secs(10), || {
        (info_field(&mut c, "aof_buffer_length") == "0").then_some(())
    });
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "ok");
    p.sigkill();
    let p = start_aof(&data, "everysec");
    let mut c = client(&p);
    for n in 0..acked {
        let v: Vec<u8> = c.get(format!("k{n}")).unwrap();
        assert_eq!(v, vec![b'a' + (n % 26) as u8; 32 << 10], "k{n}");
    }
    assert_eq!(c.get::<_, String>("again").unwrap(), "yes");
}

#[test]
fn a_full_disk_under_always_stops_the_server_and_loses_nothing_acknowledged() {
    let dir = TempDir::new("rcache-aof");
    let data = dir.path().join("data");
    let Some(fs) = small_disk(&data) else {
        return;
    };
    let p = start_aof(&data, "always");
    let mut c = client(&p);
    let (acked, _) = fill(&mut c);
    let status = p
        .wait_exit(Duration::from_secs(20))
        .expect("the server stops");
    assert_eq!(status.code(), Some(1));
    assert!(
        p.output().contains("appendfsync is 'always'"),
        "{}",
        p.output()
    );
    assert!(fs.resize("16m"));
    let p = start_aof(&data, "always");
    let mut c = client(&p);
    for n in 0..acked {
        let v: Vec<u8> = c.get(format!("k{n}")).unwrap();
        assert_eq!(v.len(), 32 << 10, "acknowledged k{n} lost");
    }
}

#[test]
fn http_and_binary_writes_are_logged() {
    let dir = TempDir::new("rcache-aof");
    let http = testkit::process::free_port();
    let p = start(
        dir.path(),
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--http-port",
            &http.to_string(),
        ],
    );
    let put = |key: &str, body: &str, q: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
        let req = format!(
            "PUT /v1/keys/{key}{q} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut r = String::new();
        s.read_to_string(&mut r).unwrap();
        r
    };
    assert!(put("h1", "one", "").starts_with("HTTP/1.1 201"));
    assert!(put("h2", "two", "?ttl=100000").starts_with("HTTP/1.1 201"));
    let mut c = client(&p);
    let () = c.set("gone", "x").unwrap();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
    s.write_all(b"DELETE /v1/keys/gone HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert!(r.starts_with("HTTP/1.1 204"), "{r}");
    let ttl: i64 = c.pttl("h2").unwrap();
    p.sigkill();
    let p = start(dir.path(), &["--appendonly", "yes"]);
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("h1").unwrap(), "one");
    assert_eq!(c.get::<_, String>("h2").unwrap(), "two");
    let after: i64 = c.pttl("h2").unwrap();
    assert!(after <= ttl && after > ttl - 30_000, "{ttl} → {after}");
    assert!(!c.exists::<_, bool>("gone").unwrap());
}

#[test]
fn a_redis_aof_directory_loads() {
    let Some(redis) = testkit::require_tool("redis-server") else {
        return;
    };
    let dir = TempDir::new("rcache-aof");
    let port = testkit::process::free_port();
    let mut child = std::process::Command::new(redis)
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir.path())
        .args(["--appendonly", "yes", "--save", "", "--daemonize", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}/");
    let mut c = wait_for("redis-server", Duration::from_secs(20), || {
        redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .ok()
    });
    let () = c.set("s", "v").unwrap();
    let _: i64 = c.rpush("l", &["a", "b"]).unwrap();
    let () = redis::cmd("SET")
        .arg("t")
        .arg("x")
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let _: i64 = c.hset("h", "f", "1").unwrap();
    let _: i64 = c.hincr("h", "f", 5).unwrap();
    // A rewrite gives the directory an RDB base; more writes go to the next incr file.
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    wait_for("Redis's rewrite", Duration::from_secs(20), || {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        info.contains("aof_rewrite_in_progress:0").then_some(())
    });
    let _: i64 = c.sadd("set", &["x", "y"]).unwrap();
    let _: i64 = c.incr("n", 3).unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    let _ = child.wait();
    let p = start(dir.path(), &["--appendonly", "yes"]);
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("s").unwrap(), "v");
    assert_eq!(c.lrange::<_, Vec<String>>("l", 0, -1).unwrap(), ["a", "b"]);
    assert!(c.ttl::<_, i64>("t").unwrap() > 900);
    assert_eq!(c.hget::<_, _, i64>("h", "f").unwrap(), 6);
    assert_eq!(c.scard::<_, i64>("set").unwrap(), 2);
    assert_eq!(c.get::<_, i64>("n").unwrap(), 3);
}

#[test]
fn sort_nosort_store_on_a_set_stores_it_sorted() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    let _: i64 = c.sadd("s", &["c", "a", "b", "10", "2"]).unwrap();
    let n: i64 = redis::cmd("SORT")
        .arg("s")
        .arg("BY")
        .arg("nosort")
        .arg("STORE")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 5);
    let want = ["10", "2", "a", "b", "c"];
    assert_eq!(c.lrange::<_, Vec<String>>("d", 0, -1).unwrap(), want);
    p.sigkill();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    assert_eq!(c.lrange::<_, Vec<String>>("d", 0, -1).unwrap(), want);
}

#[test]
fn a_script_inside_multi_and_a_blocked_pop_replay() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    // EVAL queued in MULTI: its writes join the transaction's MULTI … EXEC.
    let _: redis::Value = redis::pipe()
        .atomic()
        .set("a", 1)
        .cmd("EVAL")
        .arg("redis.call('SET', 'b', '2'); return 1")
        .arg(0)
        .set("c", 3)
        .query(&mut c)
        .unwrap();
    // A client blocked in BLPOP, served by another client's push: the pop is logged.
    let mut blocked = client(&p);
    let t = std::thread::spawn(move || {
        let r: (String, String) = redis::cmd("BLPOP")
            .arg("q")
            .arg(0)
            .query(&mut blocked)
            .unwrap();
        r
    });
    wait_for("the client to block", Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        info.contains("blocked_clients:1").then_some(())
    });
    let _: i64 = c.rpush("q", &["x", "y"]).unwrap();
    assert_eq!(t.join().unwrap(), ("q".to_string(), "x".to_string()));
    p.sigkill();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    let v: Vec<Option<String>> = c.mget(&["a", "b", "c"]).unwrap();
    assert_eq!(v, [Some("1".into()), Some("2".into()), Some("3".into())]);
    assert_eq!(c.lrange::<_, Vec<String>>("q", 0, -1).unwrap(), ["y"]);
}

#[test]
fn enabling_again_over_an_old_log_does_not_bring_old_data_back() {
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    let () = c.set("old", "1").unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut c)
        .unwrap();
    let _: i64 = c.del("old").unwrap();
    let () = c.set("new", "1").unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut c)
        .unwrap();
    wait_for("the new log's base", Duration::from_secs(30), || {
        (info_field(&mut c, "aof_enabled") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "aof_rewrites") == "1")
            .then_some(())
    });
    let () = c.set("after", "1").unwrap();
    p.sigkill();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    assert!(
        !c.exists::<_, bool>("old").unwrap(),
        "deleted while the log was off"
    );
    assert!(c.exists::<_, bool>("new").unwrap());
    assert!(c.exists::<_, bool>("after").unwrap());
    let m = manifest(dir.path());
    assert_eq!(m.lines().count(), 2, "{m}");
}

#[test]
fn a_torn_file_followed_only_by_empty_ones_is_cut() {
    // A crash right after a rewrite listed its new incr, before the old one's last bytes.
    let dir = TempDir::new("rcache-aof");
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    let () = c.set("a", "1").unwrap();
    p.sigkill();
    let incr = last_incr(dir.path());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .unwrap();
    f.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nb").unwrap();
    drop(f);
    let name = incr.file_name().unwrap().to_string_lossy().to_string();
    let seq: u64 = name.split('.').nth(2).unwrap().parse().unwrap();
    let next = format!("appendonly.aof.{}.incr.aof", seq + 1);
    std::fs::write(aof_dir(dir.path()).join(&next), b"").unwrap();
    let mut m = manifest(dir.path());
    m.push_str(&format!("file {next} seq {} type i\n", seq + 1));
    std::fs::write(aof_dir(dir.path()).join("appendonly.aof.manifest"), m).unwrap();
    let p = start_aof(dir.path(), "always");
    let mut c = client(&p);
    assert_eq!(c.get::<_, String>("a").unwrap(), "1");
    assert!(!c.exists::<_, bool>("b").unwrap());
}
