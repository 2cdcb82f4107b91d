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
use testkit::{wait_for, RcacheProcess, TempDir};

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

fn client(p: &RcacheProcess) -> redis::Connection {
    redis::Client::open(p.url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap()
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
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
