//! Cluster mode with real `rcache server` processes (testkit's `TestCluster`): any key
//! through any node, growing 3 → 6 under readers and a writer with no miss and no lost
//! write, a graceful leave (SIGTERM), `kill -9` of a node (the others keep their slots, the
//! dead node's slots are served again, empty, and counted lost), CROSSSLOT and hashtags,
//! PUBLISH across nodes, BLPOP forwarded to the key's owner, the cluster secret on the bus
//! and on gossip (a node with another secret never joins), redirect mode (MOVED, the
//! `redis` crate's cluster client, `redis-cli -c`, `redis-benchmark --cluster`) and forward
//! mode with `redis-cli`.
//!
//! Sizes are kept moderate (20k–30k keys) so each test stays well under a minute in a debug
//! build on two busy cores; every wait is a bounded poll.

use redis::Commands;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::cluster::{tags_for_every_slot, try_cluster_info, SLOTS};
use testkit::{key_slot, require_tool, run_with_timeout, wait_for, RawConn, TestCluster};

const BIN: &str = env!("CARGO_BIN_EXE_rcache");

/// How long a test waits for hand-offs to finish, a node to leave, a dead node's slots to
/// be taken over.
const SETTLE: Duration = Duration::from_secs(40);

fn conn(addr: SocketAddr) -> redis::Connection {
    let c = redis::Client::open(format!("redis://{addr}"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

fn key(i: u64) -> String {
    format!("k:{i}")
}

fn val(i: u64) -> String {
    format!("v:{i}:{}", i.wrapping_mul(0x9E37_79B9) % 1_000_003)
}

/// SET `k:i` for every `i` in `range`, pipelined (1000 a batch).
fn write_keys(c: &mut redis::Connection, range: std::ops::Range<u64>) {
    let all: Vec<u64> = range.collect();
    for chunk in all.chunks(1000) {
        let mut p = redis::pipe();
        for &i in chunk {
            p.set(key(i), val(i)).ignore();
        }
        p.query::<()>(c)
            .unwrap_or_else(|e| panic!("pipelined SET of k:{}..: {e}", chunk[0]));
    }
}

/// What reading keys found.
#[derive(Default, Debug)]
struct Check {
    read: u64,
    misses: u64,
    wrong: u64,
    errors: u64,
    /// The first few problems, for the failure message.
    examples: Vec<String>,
}

impl Check {
    fn note(&mut self, what: String) {
        if self.examples.len() < 10 {
            self.examples.push(what);
        }
    }

    fn add(&mut self, o: Check) {
        self.read += o.read;
        self.misses += o.misses;
        self.wrong += o.wrong;
        self.errors += o.errors;
        for e in o.examples {
            self.note(e);
        }
    }

    fn clean(&self) -> bool {
        self.misses == 0 && self.wrong == 0 && self.errors == 0
    }
}

/// MGET `keys` (numbers; `k:i` = `val(i)`) in batches of `batch`, comparing every value.
fn check_keys(c: &mut redis::Connection, keys: &[u64], batch: usize, via: &str) -> Check {
    let mut ck = Check::default();
    for chunk in keys.chunks(batch) {
        let names: Vec<String> = chunk.iter().map(|&i| key(i)).collect();
        match redis::cmd("MGET")
            .arg(&names)
            .query::<Vec<Option<String>>>(c)
        {
            Ok(vals) => {
                assert_eq!(vals.len(), chunk.len(), "MGET via {via}: reply length");
                for (&i, v) in chunk.iter().zip(vals) {
                    ck.read += 1;
                    match v {
                        None => {
                            ck.misses += 1;
                            ck.note(format!("via {via}: k:{i} missing"));
                        }
                        Some(v) if v != val(i) => {
                            ck.wrong += 1;
                            ck.note(format!("via {via}: k:{i} = {v:?}, want {:?}", val(i)));
                        }
                        Some(_) => {}
                    }
                }
            }
            Err(e) => {
                ck.errors += 1;
                ck.note(format!("via {via}: MGET k:{}.. failed: {e}", chunk[0]));
            }
        }
    }
    ck
}

fn dbsize(addr: SocketAddr) -> u64 {
    redis::cmd("DBSIZE").query(&mut conn(addr)).unwrap()
}

/// `redis-cli -h 127.0.0.1 -p <port> <args>`; must exit 0.
fn cli(bin: &Path, port: u16, args: &[&str]) -> String {
    let out: Output = run_with_timeout(
        Command::new(bin)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "redis-cli -p {port} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A key `<prefix><n>` whose slot node `owner` owns (by `owners`, from `slot_owners`).
fn key_owned_by(owners: &[usize], owner: usize, prefix: &str) -> String {
    (0..100_000)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| owners[key_slot(k.as_bytes()) as usize] == owner)
        .unwrap_or_else(|| panic!("no key of node {owner}"))
}

fn info_clients_blocked(addr: SocketAddr) -> Option<u64> {
    let r = testkit::cluster::try_request(addr, &["INFO", "clients"])?;
    r.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
}

fn log_time(what: &str, t0: Instant) {
    eprintln!("[{:>6.2}s] {what}", t0.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------

/// Three nodes: keys written through one node are all readable, with the right value,
/// through every node, and the data is spread over the nodes.
#[test]
fn three_nodes_serve_every_key_through_every_node() {
    const N: u64 = 30_000;
    let t0 = Instant::now();
    let cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    log_time("3 nodes settled", t0);
    write_keys(&mut conn(cl.node(0).addr()), 0..N);
    log_time("written", t0);
    let all: Vec<u64> = (0..N).collect();
    for a in cl.addrs() {
        let ck = check_keys(&mut conn(a), &all, 500, &a.to_string());
        assert!(ck.clean() && ck.read == N, "reading through {a}: {ck:?}");
    }
    log_time("read through all 3", t0);
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    assert_eq!(sizes.iter().sum::<u64>(), N, "DBSIZE per node {sizes:?}");
    for (i, &s) in sizes.iter().enumerate() {
        let share = s as f64 / N as f64;
        assert!(
            (0.25..=0.42).contains(&share),
            "node {i} holds {s} of {N} keys ({:.1}%); per node {sizes:?}",
            share * 100.0
        );
    }
    // Each node holds exactly the keys of the slots it claims.
    let owners = cl.slot_owners();
    let mut want = [0u64; 3];
    for i in 0..N {
        want[owners[key_slot(key(i).as_bytes()) as usize]] += 1;
    }
    assert_eq!(sizes, want.to_vec(), "DBSIZE vs the slots each node claims");
}

/// Keys written through the first node while it is still handing slots to the two others
/// (right after they join): every one is readable at once through every node (hand-offs
/// may still run), and again once the map is settled.
#[test]
fn writes_racing_the_first_hand_offs_are_kept() {
    const N: u64 = 30_000;
    let t0 = Instant::now();
    let cl = TestCluster::builder(BIN).nodes(3).start();
    log_time("3 nodes serving (hand-offs starting)", t0);
    write_keys(&mut conn(cl.node(0).addr()), 0..N);
    log_time("written", t0);
    // At once (hand-offs may still run): no miss (invariant 2).
    let all: Vec<u64> = (0..N).collect();
    for a in cl.addrs() {
        let moving: Vec<String> = cl
            .addrs()
            .into_iter()
            .filter_map(try_cluster_info)
            .map(|i| i["cluster_moving_slots"].clone())
            .collect();
        let ck = check_keys(&mut conn(a), &all, 500, &a.to_string());
        assert!(
            ck.clean() && ck.read == N,
            "reading through {a} (slots still to move per node: {moving:?}): {ck:?}"
        );
    }
    log_time("read through every node", t0);
    cl.wait_settled(SETTLE);
    log_time("settled", t0);
    for a in cl.addrs() {
        let ck = check_keys(&mut conn(a), &all, 500, &a.to_string());
        assert!(ck.clean() && ck.read == N, "reading through {a}: {ck:?}");
    }
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    assert_eq!(sizes.iter().sum::<u64>(), N, "DBSIZE per node {sizes:?}");
}

/// MGET through the node that is handing slots off, all through the hand-offs of a 1 → 3
/// grow (the keys were written before; nothing writes meanwhile): no key is ever missing
/// (invariant 2). Three readers, 3000 keys per MGET: big splits make the race below likely.
///
/// Regression test: until 31aeeb1 such MGETs returned nil for keys that existed (86-406
/// misses per attempt; the keys were all there afterwards). `move_batch` flipped the slots
/// and dropped their keys without draining the gate again, so a read routed to the frozen
/// slot just before the flip could run after the drop; MGET's split path (all keys routed
/// first, then the local part run) widened that window.
#[test]
fn mget_through_the_hand_off_source_never_misses() {
    const N: u64 = 30_000;
    for attempt in 1..=3 {
        let t0 = Instant::now();
        let mut cl = TestCluster::builder(BIN).nodes(1).start();
        write_keys(&mut conn(cl.node(0).addr()), 0..N);
        let stop = Arc::new(AtomicBool::new(false));
        let total = Arc::new(Mutex::new(Check::default()));
        let readers: Vec<_> = (0..3)
            .map(|r| {
                let addr = cl.node(0).addr();
                let (stop, total) = (stop.clone(), total.clone());
                std::thread::spawn(move || {
                    let mut c = conn(addr);
                    let mut all: Vec<u64> = (0..N).collect();
                    if r % 2 == 1 {
                        all.reverse();
                    }
                    while !stop.load(Relaxed) {
                        let ck = check_keys(&mut c, &all, 3000, &format!("reader {r}"));
                        total.lock().unwrap().add(ck);
                    }
                })
            })
            .collect();
        cl.add_node();
        cl.add_node();
        cl.wait_settled(SETTLE);
        stop.store(true, Relaxed);
        for r in readers {
            r.join().expect("reader thread");
        }
        let total = std::mem::take(&mut *total.lock().unwrap());
        log_time(&format!("attempt {attempt}: {} reads", total.read), t0);
        assert!(
            total.clean(),
            "MGET through the hand-off source, attempt {attempt}: {total:?}"
        );
        // Every key is there in the end (the misses are reads, not lost keys).
        let ck = check_keys(
            &mut conn(cl.node(0).addr()),
            &(0..N).collect::<Vec<_>>(),
            500,
            "node 0",
        );
        assert!(ck.clean(), "after settling: {ck:?}");
    }
}

/// Growing 3 → 6 while readers MGET every key through the first three nodes and a writer
/// adds keys: no read misses or sees a wrong value, no acknowledged write is lost, and
/// once settled the keys are spread evenly.
#[test]
fn growing_three_to_six_under_load_loses_nothing() {
    const N: u64 = 20_000;
    const WRITES_MAX: u64 = 20_000;
    let t0 = Instant::now();
    let mut cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    write_keys(&mut conn(cl.node(0).addr()), 0..N);
    log_time("3 nodes, keys written", t0);

    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(Mutex::new(Check::default()));
    let passes: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut readers = Vec::new();
    for (r, pass) in passes.iter().enumerate() {
        let addr = cl.node(r).addr();
        let (stop, total, pass) = (stop.clone(), total.clone(), pass.clone());
        readers.push(std::thread::spawn(move || {
            let mut c = conn(addr);
            let all: Vec<u64> = (0..N).collect();
            while !stop.load(Relaxed) {
                let ck = check_keys(&mut c, &all, 200, &format!("reader {r} ({addr})"));
                let broken = ck.errors > 0;
                total.lock().unwrap().add(ck);
                pass.fetch_add(1, Relaxed);
                if broken {
                    c = conn(addr);
                }
            }
        }));
    }
    // The writer: `w:<n>` = n through the three first nodes in turn, 10 per pipeline;
    // what was acknowledged is recorded.
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let write_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let addrs: Vec<SocketAddr> = cl.addrs();
        let (stop, acked, errs) = (stop.clone(), acked.clone(), write_errors.clone());
        std::thread::spawn(move || {
            let mut cs: Vec<redis::Connection> = addrs.iter().map(|&a| conn(a)).collect();
            let mut n = 0u64;
            while !stop.load(Relaxed) && n < WRITES_MAX {
                let via = (n / 10) as usize % cs.len();
                let mut p = redis::pipe();
                for i in n..n + 10 {
                    p.set(format!("w:{i}"), i).ignore();
                }
                match p.query::<()>(&mut cs[via]) {
                    Ok(()) => acked.lock().unwrap().extend(n..n + 10),
                    Err(e) => {
                        errs.lock()
                            .unwrap()
                            .push(format!("w:{n}.. via {}: {e}", addrs[via]));
                        cs[via] = conn(addrs[via]);
                    }
                }
                n += 10;
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };

    for _ in 0..3 {
        let i = cl.add_node();
        log_time(&format!("node {i} joined"), t0);
    }
    cl.wait_settled(SETTLE);
    log_time("6 nodes settled", t0);
    // Every reader makes one more full pass over a settled map.
    let now: Vec<u64> = passes.iter().map(|p| p.load(Relaxed)).collect();
    wait_for("a reader pass after settling", SETTLE, || {
        passes
            .iter()
            .zip(&now)
            .all(|(p, &n)| p.load(Relaxed) >= n + 2)
            .then_some(())
    });
    stop.store(true, Relaxed);
    for r in readers {
        r.join().expect("reader thread");
    }
    writer.join().expect("writer thread");
    log_time("readers and writer stopped", t0);

    let total = std::mem::take(&mut *total.lock().unwrap());
    let passes: Vec<u64> = passes.iter().map(|p| p.load(Relaxed)).collect();
    eprintln!(
        "reads: {} in {passes:?} passes; misses {}, wrong {}, errors {}",
        total.read, total.misses, total.wrong, total.errors
    );
    assert!(total.clean(), "reads during the grow: {total:?}");
    let errs = write_errors.lock().unwrap().clone();
    assert!(errs.is_empty(), "writes refused during the grow: {errs:?}");

    // Every acknowledged write is there, through every node.
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!("acknowledged writes: {}", acked.len());
    assert!(!acked.is_empty(), "the writer got nothing acknowledged");
    for a in cl.addrs() {
        let mut c = conn(a);
        let mut lost = Vec::new();
        for chunk in acked.chunks(500) {
            let names: Vec<String> = chunk.iter().map(|i| format!("w:{i}")).collect();
            let vals: Vec<Option<u64>> = redis::cmd("MGET").arg(&names).query(&mut c).unwrap();
            for (&i, v) in chunk.iter().zip(vals) {
                if v != Some(i) {
                    lost.push(format!("w:{i} = {v:?}"));
                }
            }
        }
        assert!(
            lost.is_empty(),
            "through {a}: {} acknowledged writes lost or wrong, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        );
        let ck = check_keys(&mut c, &(0..N).collect::<Vec<_>>(), 500, &a.to_string());
        assert!(ck.clean(), "after the grow, through {a}: {ck:?}");
    }
    // Spread: within ±15% of an even share.
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    let sum: u64 = sizes.iter().sum();
    assert_eq!(
        sum,
        N + acked.len() as u64,
        "DBSIZE per node {sizes:?}: keys lost or duplicated"
    );
    let even = sum as f64 / 6.0;
    for (i, &s) in sizes.iter().enumerate() {
        assert!(
            (s as f64 - even).abs() <= 0.15 * even,
            "node {i} holds {s} keys, even would be {even:.0}: {sizes:?}"
        );
    }
    log_time("checked", t0);
}

/// SIGTERM to one of four nodes: it hands its slots off and exits by itself, and every key
/// is readable through the other three at once.
#[test]
fn graceful_leave_hands_off_every_key() {
    const N: u64 = 20_000;
    let t0 = Instant::now();
    let mut cl = TestCluster::builder(BIN).nodes(4).start();
    cl.wait_settled(SETTLE);
    write_keys(&mut conn(cl.node(1).addr()), 0..N);
    let before = dbsize(cl.node(3).addr());
    assert!(before > 0, "node 3 holds no keys before leaving");
    log_time("4 nodes, keys written", t0);
    let st = cl.sigterm(3, SETTLE);
    log_time(&format!("node 3 exited ({st})"), t0);
    assert!(
        st.success(),
        "node 3 exit status {st}\n{}",
        cl.node(3).output()
    );
    let log = cl.node(3).output();
    assert!(
        log.contains("every slot handed off"),
        "node 3 did not say it handed every slot off:\n{log}"
    );
    // At once, before any settling: no key was lost or is unreachable.
    let all: Vec<u64> = (0..N).collect();
    for a in cl.addrs() {
        let ck = check_keys(&mut conn(a), &all, 500, &a.to_string());
        assert!(ck.clean(), "right after the leave, through {a}: {ck:?}");
    }
    log_time("read through the 3 others", t0);
    cl.wait_known(3, SETTLE);
    cl.wait_settled(SETTLE);
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    assert_eq!(sizes.iter().sum::<u64>(), N, "DBSIZE per node {sizes:?}");
    log_time("settled on 3", t0);
}

/// `kill -9` of one of three nodes: the two others serve the keys of their own slots
/// throughout; within a bounded time every slot is served again (the dead node's start
/// empty) and the loss is reported in `cluster_slots_lost`.
#[test]
fn kill_9_of_a_node_the_others_keep_serving_and_take_its_slots() {
    const N: u64 = 20_000;
    let t0 = Instant::now();
    let mut cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    write_keys(&mut conn(cl.node(0).addr()), 0..N);
    let owners = cl.slot_owners();
    let mine: Vec<Vec<u64>> = (0..3)
        .map(|n| {
            (0..N)
                .filter(|&i| owners[key_slot(key(i).as_bytes()) as usize] == n)
                .collect()
        })
        .collect();
    log_time("3 nodes, keys written", t0);
    cl.sigkill(2);
    log_time("node 2 killed", t0);

    // Read the survivors' own keys through themselves until the cluster is whole again.
    let mut cs = [conn(cl.node(0).addr()), conn(cl.node(1).addr())];
    let deadline = Instant::now() + SETTLE;
    let mut rounds = 0;
    let recovered = loop {
        for (n, c) in cs.iter_mut().enumerate() {
            let via = format!("survivor {n}");
            let ck = check_keys(c, &mine[n], 500, &via);
            assert!(
                ck.clean(),
                "after the kill, node {n}'s own keys through itself: {ck:?}\n{}",
                cl.report()
            );
        }
        rounds += 1;
        let infos: Vec<_> = [0, 1]
            .iter()
            .map(|&n| try_cluster_info(cl.node(n).addr()))
            .collect();
        let whole = infos.iter().all(|i| {
            i.as_ref()
                .is_some_and(|i| i["cluster_state"] == "ok" && i["cluster_known_nodes"] == "2")
        });
        let lost: u64 = infos
            .iter()
            .flatten()
            .map(|i| i["cluster_slots_lost"].parse::<u64>().unwrap())
            .sum();
        if whole && lost > 0 {
            break lost;
        }
        if Instant::now() >= deadline {
            panic!(
                "the dead node's slots were not taken over within {SETTLE:?} \
                 (slots lost so far {lost})\n{}",
                cl.report()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    log_time(
        &format!("survivors whole after {rounds} read rounds; slots lost {recovered}"),
        t0,
    );
    // Both survivors' claims cover every slot.
    cl.wait_settled(SETTLE);
    let owners_after = cl.slot_owners();
    let taken = owners.iter().filter(|&&o| o == 2).count() as u64;
    let lost: u64 = [0, 1]
        .iter()
        .map(|&n| {
            cl.node(n)
                .info_field("cluster_slots_lost")
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        lost, taken,
        "cluster_slots_lost summed over the survivors vs the slots node 2 owned"
    );
    assert!(owners_after.iter().all(|&o| o < 2));
    // Every slot is served: a key in each, written through one survivor, read through the
    // other.
    let tags = tags_for_every_slot();
    let mut c0 = conn(cl.node(0).addr());
    for chunk in tags.chunks(1024) {
        let mut p = redis::pipe();
        for t in chunk {
            p.set(format!("{{{t}}}s"), t).ignore();
        }
        p.query::<()>(&mut c0)
            .unwrap_or_else(|e| panic!("SET in every slot: {e}\n{}", cl.report()));
    }
    let mut c1 = conn(cl.node(1).addr());
    for chunk in tags.chunks(1024) {
        let names: Vec<String> = chunk.iter().map(|t| format!("{{{t}}}s")).collect();
        let vals: Vec<Option<String>> = redis::cmd("MGET").arg(&names).query(&mut c1).unwrap();
        for (t, v) in chunk.iter().zip(vals) {
            assert_eq!(v.as_deref(), Some(t.as_str()), "slot of tag {t}");
        }
    }
    assert_eq!(tags.len(), SLOTS);
    // The survivors' own keys are intact; the dead node's are gone (no replicas), and
    // reading them is a clean miss, not an error.
    for n in 0..2 {
        let ck = check_keys(&mut cs[n], &mine[n], 500, "survivor");
        assert!(ck.clean(), "node {n}'s keys after the takeover: {ck:?}");
    }
    let ck = check_keys(&mut c0, &mine[2], 500, "survivor 0");
    assert_eq!(ck.errors, 0, "reading the dead node's keys: {ck:?}");
    assert_eq!(
        ck.misses,
        mine[2].len() as u64,
        "the dead node's keys: {ck:?}"
    );
    log_time("every slot served again", t0);
}

/// RENAME across slots answers CROSSSLOT; with a hashtag it runs, through any node.
#[test]
fn crossslot_and_hashtags() {
    let cl = TestCluster::builder(BIN).nodes(3).start();
    assert_ne!(key_slot(b"a"), key_slot(b"b"));
    for a in cl.addrs() {
        let mut c = RawConn::connect(a);
        assert_eq!(c.request(&["SET", "a", "1"]), "+OK\r\n");
        let r = c.request(&["RENAME", "a", "b"]);
        assert!(r.starts_with("-CROSSSLOT"), "RENAME a b via {a}: {r:?}");
        assert_eq!(
            c.request(&["GET", "a"]),
            "$1\r\n1\r\n",
            "a after the refusal"
        );
    }
    let mut c = RawConn::connect(cl.node(0).addr());
    assert_eq!(c.request(&["SET", "{t}a", "hello"]), "+OK\r\n");
    // Back and forth through every node.
    let addrs = cl.addrs();
    let mut from = "{t}a";
    for (n, a) in addrs.iter().chain(addrs.iter()).enumerate() {
        let to = if from == "{t}a" { "{t}b" } else { "{t}a" };
        let mut c = RawConn::connect(*a);
        assert_eq!(
            c.request(&["RENAME", from, to]),
            "+OK\r\n",
            "rename {n} via {a}"
        );
        let mut other = RawConn::connect(addrs[(n + 1) % addrs.len()]);
        assert_eq!(other.request(&["GET", to]), "$5\r\nhello\r\n");
        assert_eq!(other.request(&["EXISTS", from]), ":0\r\n");
        from = to;
    }
}

/// PUBLISH on one node reaches a subscriber on another.
#[test]
fn publish_reaches_subscribers_on_other_nodes() {
    let cl = TestCluster::builder(BIN).nodes(3).start();
    let mut sub = RawConn::connect(cl.node(1).addr());
    let mut sub2 = RawConn::connect(cl.node(2).addr());
    for s in [&mut sub, &mut sub2] {
        assert_eq!(
            s.request(&["SUBSCRIBE", "news"]),
            "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
        );
    }
    let mut p = RawConn::connect(cl.node(0).addr());
    let r = p.request(&["PUBLISH", "news", "hello"]);
    assert!(r.starts_with(':'), "PUBLISH: {r:?}");
    for (n, s) in [(1, &mut sub), (2, &mut sub2)] {
        let m = s
            .read_reply(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("subscriber on node {n}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&m),
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
        );
    }
}

/// BLPOP sent to a node that does not own the key waits, and is served when another client
/// LPUSHes through a third node.
#[test]
fn blpop_through_a_non_owner_is_served_by_a_push_through_a_third() {
    let cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    let owners = cl.slot_owners();
    let k = key_owned_by(&owners, 0, "queue:");
    let via = cl.node(1).addr();
    let (key2, t0) = (k.clone(), Instant::now());
    let popper = std::thread::spawn(move || {
        let mut c = conn(via);
        let r: Option<(String, String)> = c.blpop(&key2, 20.0).unwrap();
        (r, t0.elapsed())
    });
    // The forwarded BLPOP blocks at the owner.
    let owner = cl.node(0).addr();
    wait_for(
        "the BLPOP blocked at the key's owner",
        Duration::from_secs(10),
        || (info_clients_blocked(owner)? >= 1).then_some(()),
    );
    let n: u64 = conn(cl.node(2).addr()).lpush(&k, "job-1").unwrap();
    assert_eq!(n, 1);
    let (r, took) = popper.join().unwrap();
    assert_eq!(r, Some((k.clone(), "job-1".to_string())));
    assert!(took < Duration::from_secs(15), "BLPOP took {took:?}");
    let len: u64 = conn(cl.node(1).addr()).llen(&k).unwrap();
    assert_eq!(len, 0, "the popped element is gone");
}

/// A stream through any node: XADD via one non-owner, a group reader blocked in
/// XREADGROUP via another is served, and XPENDING/XACK/XINFO answer through the third.
#[test]
fn streams_with_groups_through_any_node() {
    let cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    let owners = cl.slot_owners();
    let k = key_owned_by(&owners, 0, "events:");
    let mut c2 = conn(cl.node(2).addr());
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&k)
        .arg("g")
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut c2)
        .unwrap();
    let via = cl.node(1).addr();
    let k2 = k.clone();
    let reader = std::thread::spawn(move || {
        let mut c = conn(via);
        let v: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("g")
            .arg("w")
            .arg("BLOCK")
            .arg(20_000)
            .arg("STREAMS")
            .arg(&k2)
            .arg(">")
            .query(&mut c)
            .unwrap();
        v
    });
    let owner = cl.node(0).addr();
    wait_for(
        "the XREADGROUP blocked at the key's owner",
        Duration::from_secs(10),
        || (info_clients_blocked(owner)? >= 1).then_some(()),
    );
    let id: String = redis::cmd("XADD")
        .arg(&k)
        .arg("*")
        .arg("n")
        .arg(1)
        .query(&mut conn(cl.node(1).addr()))
        .unwrap();
    let got = format!("{:?}", reader.join().unwrap());
    assert!(got.contains(&id), "{got}");
    let pending: (u64, String, String, redis::Value) = redis::cmd("XPENDING")
        .arg(&k)
        .arg("g")
        .query(&mut c2)
        .unwrap();
    assert_eq!((pending.0, pending.1.as_str()), (1, id.as_str()));
    let acked: u64 = redis::cmd("XACK")
        .arg(&k)
        .arg("g")
        .arg(&id)
        .query(&mut c2)
        .unwrap();
    assert_eq!(acked, 1);
    let len: u64 = redis::cmd("XLEN").arg(&k).query(&mut c2).unwrap();
    assert_eq!(len, 1);
}

/// With a cluster secret: the bus refuses strangers (NOAUTH before the handshake, a wrong
/// proof is an error and closes the connection), and a node with another secret never
/// appears in the cluster, which keeps working.
#[test]
fn cluster_secret_keeps_strangers_out() {
    let cl = TestCluster::builder(BIN)
        .nodes(3)
        .secret("the-right-secret")
        .start();
    let bus = cl.node(0).bus();
    // A command on the bus without the handshake.
    let mut b = RawConn::connect(bus);
    let r = b.request(&["GET", "x"]);
    assert!(r.starts_with("-NOAUTH"), "GET on the bus: {r:?}");
    // A handshake with a wrong proof.
    let mut b = RawConn::connect(bus);
    let nonce = b.request(&["RCACHE.BUSHELLO"]);
    assert!(nonce.starts_with('$'), "RCACHE.BUSHELLO: {nonce:?}");
    let r = b.request(&["RCACHE.BUSAUTH", "someid", "00"]);
    assert!(
        r.starts_with('-'),
        "RCACHE.BUSAUTH with a wrong proof: {r:?}"
    );
    let rest = b.expect_closed(Duration::from_secs(10));
    assert_eq!(rest, "", "after a refused BUSAUTH the bus sent {rest:?}");
    // Nor can it forward requests or push keys on a fresh connection without the proof.
    let mut b = RawConn::connect(bus);
    for cmd in [
        vec!["RCACHE.IMPORT", "BEGIN", "1"],
        vec!["RESTORE", "x", "0", "junk"],
        vec!["RCACHE.PUBLISH", "ch", "m"],
    ] {
        let r = b.request(&cmd);
        assert!(r.starts_with("-NOAUTH"), "{cmd:?} on the bus: {r:?}");
    }

    // A node with another secret joins through node 0's bus: it is never seen.
    let outsider = cl.start_outsider(&["--cluster-secret", "another-secret"]);
    let their_port = outsider.port().to_string();
    let until = Instant::now() + Duration::from_secs(4);
    let mut round = 0u64;
    while Instant::now() < until {
        for (n, a) in cl.addrs().into_iter().enumerate() {
            let node = cl.node(n);
            let lines = node.nodes();
            assert!(
                lines
                    .iter()
                    .all(|l| l.id != outsider.id() && !l.addr.ends_with(&format!(":{their_port}"))),
                "node {n} sees the outsider {}: {lines:?}",
                outsider.id()
            );
            assert_eq!(node.info_field("cluster_known_nodes"), "3", "node {n}");
            assert_eq!(node.info_field("cluster_state"), "ok", "node {n}");
            // The cluster keeps working.
            let mut c = RawConn::connect(a);
            let k = format!("sec:{round}:{n}");
            assert_eq!(c.request(&["SET", &k, "v"]), "+OK\r\n");
            let mut c2 = RawConn::connect(cl.addrs()[(n + 1) % 3]);
            assert_eq!(c2.request(&["GET", &k]), "$1\r\nv\r\n");
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    // And the outsider never got the map.
    let info = outsider.info();
    assert_ne!(info["cluster_my_state"], "serving", "outsider: {info:?}");
    assert_eq!(info["cluster_known_nodes"], "1", "outsider: {info:?}");
    assert!(
        outsider.process().try_wait().is_none(),
        "the outsider exited"
    );
    eprintln!("{round} rounds of checks, outsider never seen");
}

/// Redirect mode: MOVED as Redis Cluster words it, and Redis Cluster clients work: the
/// `redis` crate's cluster client and `redis-cli -c`.
#[test]
fn redirect_mode_moved_and_cluster_clients() {
    let cl = TestCluster::builder(BIN).nodes(3).redirect().start();
    cl.wait_settled(SETTLE);
    let owners = cl.slot_owners();
    let k = key_owned_by(&owners, 1, "user:");
    let slot = key_slot(k.as_bytes());
    let mut c = RawConn::connect(cl.node(0).addr());
    assert_eq!(
        c.request(&["GET", &k]),
        format!("-MOVED {slot} {}\r\n", cl.node(1).addr())
    );
    assert_eq!(
        c.request(&["SET", &k, "x"]),
        format!("-MOVED {slot} {}\r\n", cl.node(1).addr())
    );
    // The owner serves it; CLUSTER KEYSLOT agrees with Redis's definition.
    let mut o = RawConn::connect(cl.node(1).addr());
    assert_eq!(o.request(&["SET", &k, "x"]), "+OK\r\n");
    assert_eq!(
        o.request(&["CLUSTER", "KEYSLOT", &k]),
        format!(":{slot}\r\n")
    );

    // The redis crate's cluster client: 1000 keys one by one, then read back in a pipeline.
    let client = redis::cluster::ClusterClient::new(vec![cl.node(2).url()]).unwrap();
    let mut cc = client.get_connection().unwrap();
    for i in 0..1000 {
        let _: () = cc.set(format!("cc:{i}"), i).unwrap();
    }
    for i in (0..1000).step_by(7) {
        let v: u64 = cc.get(format!("cc:{i}")).unwrap();
        assert_eq!(v, i);
    }
    let mut p = redis::cluster::cluster_pipe();
    for i in 0..1000 {
        p.get(format!("cc:{i}"));
    }
    let vals: Vec<u64> = p.query(&mut cc).unwrap();
    assert_eq!(vals, (0..1000).collect::<Vec<u64>>());
    // They are spread over the three nodes.
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    assert!(sizes.iter().all(|&s| s > 200), "DBSIZE per node {sizes:?}");

    let Some(bin) = require_tool("redis-cli") else {
        return;
    };
    for (n, a) in cl.addrs().into_iter().enumerate() {
        let k = format!("cli:{n}");
        assert_eq!(
            cli(&bin, a.port(), &["-c", "set", &k, &format!("val{n}")]),
            "OK\n"
        );
        for b in cl.addrs() {
            assert_eq!(cli(&bin, b.port(), &["-c", "get", &k]), format!("val{n}\n"));
        }
    }
    // Without -c, redis-cli shows the redirection.
    let moved = cli(&bin, cl.node(0).port(), &["get", &k]);
    assert!(moved.contains("MOVED"), "redis-cli without -c: {moved:?}");
}

/// Redirect mode: `redis-benchmark --cluster` runs SET and GET to the end without errors.
#[test]
fn redirect_mode_redis_benchmark_cluster() {
    let Some(bin) = require_tool("redis-benchmark") else {
        return;
    };
    let cl = TestCluster::builder(BIN).nodes(3).redirect().start();
    cl.wait_settled(SETTLE);
    let port = cl.node(0).port().to_string();
    let args = [
        "--cluster",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "set,get",
        "-n",
        "20000",
        "-q",
    ];
    let out = run_with_timeout(Command::new(bin).args(args), Duration::from_secs(50));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "redis-benchmark {args:?} exited {}:\n{text}",
        out.status
    );
    let lines: Vec<&str> = text.split(['\r', '\n']).map(str::trim).collect();
    let errors: Vec<&&str> = lines
        .iter()
        .filter(|l| l.to_ascii_lowercase().contains("error"))
        .collect();
    assert!(
        errors.is_empty(),
        "redis-benchmark errors: {errors:?}\n{text}"
    );
    for t in ["SET", "GET"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{t}: ")) && l.contains("requests per second")),
            "no {t} result line:\n{text}"
        );
    }
    // It wrote through every node (each got its share of the keys).
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    assert!(sizes.iter().all(|&s| s > 0), "DBSIZE per node {sizes:?}");
}

/// Forward mode: `redis-cli -c` and plain `redis-cli` both work through any node.
#[test]
fn forward_mode_redis_cli_through_any_node() {
    let Some(bin) = require_tool("redis-cli") else {
        return;
    };
    let cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    let owners = cl.slot_owners();
    let addrs = cl.addrs();
    // A key of each node, written through each node, read through each, with and without -c.
    let keys: Vec<String> = (0..3).map(|n| key_owned_by(&owners, n, "fwd:")).collect();
    let mut expect: HashMap<String, String> = HashMap::new();
    for (w, a) in addrs.iter().enumerate() {
        for k in &keys {
            let v = format!("{k}-from-{w}");
            let flag = if w % 2 == 0 { "-c" } else { "--no-raw" };
            let out = cli(&bin, a.port(), &[flag, "set", k, &v]);
            assert!(out.trim() == "OK", "set {k} via node {w} ({flag}): {out:?}");
            expect.insert(k.clone(), v);
        }
        for b in &addrs {
            for k in &keys {
                assert_eq!(cli(&bin, b.port(), &["get", k]).trim_end(), expect[k]);
                assert_eq!(cli(&bin, b.port(), &["-c", "get", k]).trim_end(), expect[k]);
            }
        }
    }
    // A multi-key command over the three nodes' keys, through a plain redis-cli.
    let mut args = vec!["mget"];
    args.extend(keys.iter().map(String::as_str));
    let out = cli(&bin, addrs[1].port(), &args);
    let want: Vec<&str> = keys.iter().map(|k| expect[k].as_str()).collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    assert_eq!(
        cli(&bin, addrs[2].port(), &["cluster", "info"])
            .lines()
            .find(|l| l.starts_with("cluster_state:"))
            .map(str::trim),
        Some("cluster_state:ok")
    );
}

/// The binary door in cluster mode: keys written through one node's binary door (the native
/// SET opcode) and a COMMAND frame are read through another node's, none missing, and the
/// keys are spread over every node. `rcache bench` is the binary client.
#[test]
fn binary_door_serves_every_key_through_every_node() {
    let cl = TestCluster::builder(BIN)
        .nodes(3)
        .args(["--binary-port", "0"])
        .start();
    cl.wait_settled(SETTLE);
    let ports: Vec<u16> = cl
        .addrs()
        .into_iter()
        .map(|a| {
            let info: String = redis::cmd("INFO")
                .arg("server")
                .query(&mut conn(a))
                .unwrap();
            info.lines()
                .find_map(|l| l.strip_prefix("binary_port:"))
                .and_then(|p| p.trim().parse().ok())
                .expect("binary_port in INFO server")
        })
        .collect();
    let bench = |port: u16, how: &[&str]| -> String {
        let target = format!("n=127.0.0.1:{port}");
        let mut args = vec![
            "bench", "--proto", "binary", "-r", "2000", "-n", "2000", "-c", "2",
        ];
        args.extend_from_slice(how);
        args.extend_from_slice(&["--key-prefix", "bin:", &target]);
        let out = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "rcache bench {args:?}: {text}");
        text
    };
    let set = bench(ports[0], &["-t", "set"]);
    assert!(set.contains("errors 0:"), "{set}");
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    assert!(sizes.iter().all(|&s| s > 0), "DBSIZE per node {sizes:?}");
    for (port, how) in [
        (ports[1], &["-t", "get"][..]),
        (ports[2], &["--template", "GET __key__"][..]),
    ] {
        let get = bench(port, how);
        assert!(
            get.contains("errors 0:") && get.contains("0 records miss"),
            "{get}"
        );
    }
}

/// Values bigger than one piece (a 30,000-element list, set, hash and sorted set, a 3 MiB
/// string, each with a TTL) move in pieces when a node joins and arrive whole: same type,
/// size, elements and TTL, readable through every node.
#[test]
fn big_values_move_in_pieces_intact() {
    let mut cl = TestCluster::builder(BIN).nodes(1).start();
    let mut c = conn(cl.node(0).addr());
    let n = 30_000usize;
    let big_string = "x".repeat(3 * 1024 * 1024 + 17);
    for j in 0..4 {
        let (l, s, h, z, st) = (
            format!("big:l:{j}"),
            format!("big:s:{j}"),
            format!("big:h:{j}"),
            format!("big:z:{j}"),
            format!("big:str:{j}"),
        );
        let elems: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        let () = redis::cmd("RPUSH")
            .arg(&l)
            .arg(&elems)
            .query(&mut c)
            .unwrap();
        let () = redis::cmd("SADD")
            .arg(&s)
            .arg(&elems)
            .query(&mut c)
            .map(|_: i64| ())
            .unwrap();
        let mut hset = redis::cmd("HSET");
        hset.arg(&h);
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(&z);
        for i in 0..n {
            hset.arg(format!("f{i}")).arg(format!("v{i}"));
            zadd.arg(i as f64 * 1.5).arg(format!("m{i}"));
        }
        let _: i64 = hset.query(&mut c).unwrap();
        let _: i64 = zadd.query(&mut c).unwrap();
        let () = redis::cmd("SET")
            .arg(&st)
            .arg(&big_string)
            .query(&mut c)
            .unwrap();
        for k in [&l, &s, &h, &z, &st] {
            let _: i64 = redis::cmd("PEXPIRE")
                .arg(k)
                .arg(600_000)
                .query(&mut c)
                .unwrap();
        }
    }
    cl.add_node();
    cl.add_node();
    cl.wait_settled(SETTLE);
    let sizes: Vec<u64> = cl.addrs().into_iter().map(dbsize).collect();
    assert_eq!(sizes.iter().sum::<u64>(), 20, "DBSIZE per node {sizes:?}");
    assert!(
        sizes.iter().filter(|&&s| s > 0).count() >= 2,
        "nothing moved: {sizes:?}"
    );
    for a in cl.addrs() {
        let mut c = conn(a);
        for j in 0..4 {
            let len = |cmd: &str, k: String, c: &mut redis::Connection| -> i64 {
                redis::cmd(cmd).arg(k).query(c).unwrap()
            };
            assert_eq!(
                len("LLEN", format!("big:l:{j}"), &mut c),
                n as i64,
                "via {a}"
            );
            assert_eq!(
                len("SCARD", format!("big:s:{j}"), &mut c),
                n as i64,
                "via {a}"
            );
            assert_eq!(
                len("HLEN", format!("big:h:{j}"), &mut c),
                n as i64,
                "via {a}"
            );
            assert_eq!(
                len("ZCARD", format!("big:z:{j}"), &mut c),
                n as i64,
                "via {a}"
            );
            assert_eq!(
                len("STRLEN", format!("big:str:{j}"), &mut c),
                big_string.len() as i64,
                "via {a}"
            );
            let last: String = redis::cmd("LINDEX")
                .arg(format!("big:l:{j}"))
                .arg(-1)
                .query(&mut c)
                .unwrap();
            assert_eq!(last, format!("e{}", n - 1));
            let score: f64 = redis::cmd("ZSCORE")
                .arg(format!("big:z:{j}"))
                .arg("m999")
                .query(&mut c)
                .unwrap();
            assert_eq!(score, 1498.5);
            let v: String = redis::cmd("HGET")
                .arg(format!("big:h:{j}"))
                .arg("f12345")
                .query(&mut c)
                .unwrap();
            assert_eq!(v, "v12345");
            for t in ["l", "s", "h", "z", "str"] {
                let ttl: i64 = redis::cmd("PTTL")
                    .arg(format!("big:{t}:{j}"))
                    .query(&mut c)
                    .unwrap();
                assert!(ttl > 0 && ttl <= 600_000, "big:{t}:{j} TTL {ttl} via {a}");
            }
        }
    }
}

/// Clients blocked in BLPOP through a node that forwarded them keep waiting when the key's
/// slot moves to a node that joins meanwhile (the old owner tells the forwarding node where
/// the key went, it re-sends the BLPOP there), and get the value pushed afterwards.
#[test]
fn blpop_forwarded_follows_a_moving_slot() {
    let mut cl = TestCluster::builder(BIN).nodes(2).start();
    cl.wait_settled(SETTLE);
    let owners = cl.slot_owners();
    let via = cl.node(1).addr();
    // Keys of node 0, blocked on through node 1 (forwarded).
    let keys: Vec<String> = (0..24)
        .map(|i| key_owned_by(&owners, 0, &format!("bl{i}:")))
        .collect();
    let waiters: Vec<_> = keys
        .iter()
        .map(|k| {
            let k = k.clone();
            std::thread::spawn(move || {
                let mut c = conn(via);
                let r: Option<(String, String)> =
                    redis::cmd("BLPOP").arg(&k).arg(60).query(&mut c).unwrap();
                r
            })
        })
        .collect();
    // Every BLPOP is parked at node 0 before the move.
    let at0 = cl.node(0).addr();
    wait_for(
        "every BLPOP parked at node 0",
        Duration::from_secs(20),
        || (info_clients_blocked(at0).unwrap_or(0) >= keys.len() as u64).then_some(()),
    );
    cl.add_node();
    cl.wait_settled(SETTLE);
    let moved = {
        let now = cl.slot_owners();
        keys.iter()
            .filter(|k| now[key_slot(k.as_bytes()) as usize] != 0)
            .count()
    };
    assert!(
        moved > 0,
        "no key's slot moved to the new node (24 keys); cannot test"
    );
    let mut c = conn(cl.node(0).addr());
    for k in &keys {
        let _: i64 = redis::cmd("LPUSH")
            .arg(k)
            .arg(format!("v-{k}"))
            .query(&mut c)
            .unwrap();
    }
    for (k, w) in keys.iter().zip(waiters) {
        let got = w.join().expect("waiter");
        assert_eq!(
            got,
            Some((k.clone(), format!("v-{k}"))),
            "BLPOP {k} ({moved} keys moved)"
        );
    }
}

/// Three nodes on 127.0.0.1, 127.0.0.2 and 127.0.0.3 with the same RESP and cluster ports,
/// as if on three hosts: they form a cluster, CLUSTER NODES names three addresses on one
/// port, and every key is readable through every node.
#[test]
fn three_addresses_same_port_as_three_hosts() {
    use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
    let ips: Vec<IpAddr> = (1..=3)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
        .collect();
    // Two port numbers free on all three addresses (TCP, and UDP for gossip).
    let free_everywhere = |p: u16| {
        ips.iter()
            .all(|ip| TcpListener::bind((*ip, p)).is_ok() && UdpSocket::bind((*ip, p)).is_ok())
    };
    let pick = |avoid: u16| {
        (0..200)
            .filter_map(|_| TcpListener::bind("127.0.0.1:0").ok())
            .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
            .find(|&p| p != avoid && free_everywhere(p))
            .expect("a port free on 127.0.0.1-3")
    };
    let port = pick(0);
    let bus = pick(port);
    let mut nodes = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let mut args = vec![
            "--bind".to_string(),
            ip.to_string(),
            "--cluster-port".into(),
            bus.to_string(),
            "--save".into(),
            String::new(),
        ];
        if i > 0 {
            args.extend(["--join".into(), format!("127.0.0.1:{bus}")]);
        }
        nodes.push(
            testkit::RcacheProcess::builder(BIN)
                .port(port)
                .args(args)
                .no_wait()
                .start(),
        );
    }
    let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
    for a in &addrs {
        wait_for(
            &format!("{a} serving in a cluster of 3"),
            Duration::from_secs(30),
            || {
                let info = try_cluster_info(*a)?;
                let is = |k: &str, v: &str| info.get(k).is_some_and(|x| x == v);
                (is("cluster_state", "ok")
                    && is("cluster_known_nodes", "3")
                    && is("cluster_my_state", "serving")
                    && is("cluster_moving_slots", "0"))
                .then_some(())
            },
        );
    }
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut conn(addrs[0]))
        .unwrap();
    for ip in &ips {
        assert!(
            text.contains(&format!("{ip}:{port}@{bus}")),
            "{ip}:{port}@{bus} not in CLUSTER NODES:\n{text}"
        );
    }
    const N: u64 = 3000;
    write_keys(&mut conn(addrs[0]), 0..N);
    let all: Vec<u64> = (0..N).collect();
    for a in &addrs {
        let ck = check_keys(&mut conn(*a), &all, 500, &a.to_string());
        assert!(ck.clean() && ck.read == N, "through {a}: {ck:?}");
    }
    // Hand-offs may still be running (a node not yet sure the others serve reports nothing to
    // move): the keys end up spread over the three, none lost, readable through each.
    wait_for(
        "the keys spread over the three nodes",
        Duration::from_secs(30),
        || {
            let sizes: Vec<u64> = addrs.iter().map(|a| dbsize(*a)).collect();
            (sizes.iter().all(|&s| s > 0) && sizes.iter().sum::<u64>() == N).then_some(())
        },
    );
    for a in &addrs {
        let ck = check_keys(&mut conn(*a), &all, 500, &a.to_string());
        assert!(
            ck.clean() && ck.read == N,
            "through {a} after the moves: {ck:?}"
        );
    }
    drop(nodes);
}

/// `redis-cli --cluster check` finds a healthy cluster: every node agrees on the slot map and
/// all 16384 slots are covered.
#[test]
fn redis_cli_cluster_check_passes() {
    let Some(bin) = require_tool("redis-cli") else {
        return;
    };
    let cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    let at = format!("127.0.0.1:{}", cl.node(0).addr().port());
    let out = cli(&bin, cl.node(0).addr().port(), &["--cluster", "check", &at]);
    assert!(
        out.contains("[OK] All nodes agree about slots configuration."),
        "{out}"
    );
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
}

/// A node cut off from a majority never takes the others' slots (as a partition's minority
/// side): with two of three nodes paused (SIGSTOP, so they look dead), the third reports the
/// cluster failed but keeps only its own slots; when they come back, nothing was taken,
/// nothing is lost, and every key is readable again through every node.
#[test]
fn a_node_without_a_majority_takes_no_slots() {
    const N: u64 = 6000;
    let cl = TestCluster::builder(BIN).nodes(3).start();
    cl.wait_settled(SETTLE);
    write_keys(&mut conn(cl.node(0).addr()), 0..N);
    let mine = cl.node(0).owned_slots();
    let signal = |sig: &str, i: usize| {
        let pid = cl.node(i).process().pid().to_string();
        let st = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(st.success(), "kill {sig} {pid}");
    };
    signal("-STOP", 1);
    signal("-STOP", 2);
    let at0 = cl.node(0).addr();
    wait_for(
        "node 0 to see the other two fail",
        Duration::from_secs(30),
        || {
            let info = try_cluster_info(at0)?;
            (info.get("cluster_state").is_some_and(|s| s == "fail")).then_some(())
        },
    );
    // Well past the takeover grace (2 s after the failure is seen), node 0 still owns only
    // its own slots and has lost none of its keys.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert_eq!(cl.node(0).owned_slots(), mine, "a minority node took slots");
        let info = try_cluster_info(at0).unwrap_or_default();
        assert_eq!(
            info.get("cluster_slots_lost").map(String::as_str),
            Some("0")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    signal("-CONT", 1);
    signal("-CONT", 2);
    cl.wait_settled(SETTLE);
    let all: Vec<u64> = (0..N).collect();
    for a in cl.addrs() {
        let ck = check_keys(&mut conn(a), &all, 500, &a.to_string());
        assert!(
            ck.clean() && ck.read == N,
            "through {a} after the pause: {ck:?}"
        );
    }
}
