//! `maxmemory`: writes refused under `noeviction`, evictions under `allkeys-lru`.
//!
//! Two measures of memory appear here:
//! - the dataset accounting (`state().ks.used_memory()`): what eviction compares with
//!   maxmemory, exact, checked in-process;
//! - `INFO memory`'s `used_memory` of the real binary, what operators and Redis's own tests
//!   read, checked against maxmemory plus a documented slack.

use std::time::Duration;
use testkit::{RawConn, RcacheProcess, TestServer};

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// Send `cmds` as one pipelined write, return every reply (as text) in order.
fn pipeline(c: &mut RawConn, cmds: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut buf = Vec::new();
    for cmd in cmds {
        buf.extend(testkit::resp(cmd));
    }
    c.send(&buf);
    cmds.iter().map(|_| c.reply()).collect()
}

fn set_cmd(key: &str, value: &[u8]) -> Vec<Vec<u8>> {
    vec![b"SET".to_vec(), key.as_bytes().to_vec(), value.to_vec()]
}

#[test]
fn noeviction_refuses_writes_and_serves_reads() {
    let srv = TestServer::builder()
        .maxmemory("1mb")
        .policy("noeviction")
        .start();
    let mut c = srv.raw();
    let value = vec![b'v'; 10_000];
    let mut accepted = 0;
    for i in 0..1000 {
        let r = c.request(&[&b"SET"[..], format!("fill:{i}").as_bytes(), &value]);
        if r == OOM {
            break;
        }
        assert_eq!(r, "+OK\r\n", "SET fill:{i}");
        accepted += 1;
    }
    // 1 MiB holds about a hundred 10 KB values: the limit bit, and not absurdly early.
    assert!(
        (50..300).contains(&accepted),
        "{accepted} writes before OOM"
    );
    // Every write is refused now, however small, and overwrites too.
    assert_eq!(c.request(&["SET", "tiny", "1"]), OOM);
    assert_eq!(c.request(&["SET", "fill:0", "small"]), OOM);
    // Reads and other non-write commands still work.
    let got = c.request(&["GET", "fill:0"]);
    assert_eq!(got.len(), "$10000\r\n".len() + 10_000 + 2);
    let last = format!("fill:{}", accepted - 1);
    assert!(c.request(&["GET", &last]).starts_with("$10000\r\n"));
    assert_eq!(c.request(&["GET", "tiny"]), "$-1\r\n");
    assert_eq!(c.request(&["PING"]), "+PONG\r\n");
    assert_eq!(c.request(&["ECHO", "hi"]), "$2\r\nhi\r\n");
    // Another client sees the same.
    let mut other = srv.raw();
    assert_eq!(other.request(&["SET", "x", "y"]), OOM);
    assert!(other.request(&["GET", "fill:1"]).starts_with("$10000\r\n"));
    // Raising the limit lets writes through again.
    srv.state()
        .settings
        .set("maxmemory", "0", false)
        .expect("maxmemory 0");
    assert_eq!(c.request(&["SET", "tiny", "1"]), "+OK\r\n");
}

/// Writing twice maxmemory under allkeys-lru: no write fails, and the dataset accounting stays
/// within maxmemory plus one entry. Slack: eviction runs before each write, so the write
/// itself may take the dataset past the limit by one entry (1000-byte value + key + header,
/// about 1.05 KB); 2 KiB covers it.
#[test]
fn allkeys_lru_keeps_the_dataset_within_maxmemory() {
    const MAX: u64 = 1 << 20;
    const SLACK: u64 = 2048;
    let srv = TestServer::builder()
        .maxmemory("1mb")
        .policy("allkeys-lru")
        .start();
    let mut c = srv.raw();
    let value = vec![b'x'; 1000];
    let n = 2 * (MAX as usize) / 1000;
    let st = srv.state();
    for batch in (0..n).collect::<Vec<_>>().chunks(64) {
        let cmds: Vec<_> = batch
            .iter()
            .map(|i| set_cmd(&format!("lru:{i}"), &value))
            .collect();
        for (i, r) in batch.iter().zip(pipeline(&mut c, &cmds)) {
            assert_eq!(r, "+OK\r\n", "SET lru:{i}");
        }
        let used = st.ks.used_memory();
        assert!(used <= MAX + SLACK, "used {used} > {MAX} + {SLACK}");
    }
    let used = st.ks.used_memory();
    assert!(used >= MAX / 2, "evicted far too much: {used} bytes left");
    let keys = st.ks.dbsize(0);
    assert!(keys > 0 && keys < n, "{keys} keys");
    // The newest key is there.
    assert!(c
        .request(&["GET", &format!("lru:{}", n - 1)])
        .starts_with("$1000\r\n"));
}

/// Approximate LRU: keys idle for 100 s go before keys written just now. Sampling makes it
/// approximate, so the bounds are loose: most old keys gone, most of the budget kept for new.
#[test]
fn allkeys_lru_prefers_idle_keys() {
    let srv = TestServer::builder()
        .maxmemory("1mb")
        .policy("allkeys-lru")
        .manual_clock(1_700_000_000_000)
        .start();
    let mut c = srv.raw();
    let value = vec![b'x'; 1000];
    let (old, new) = (500, 1500);
    let write = |c: &mut RawConn, prefix: &str, n: usize| {
        for batch in (0..n).collect::<Vec<_>>().chunks(100) {
            let cmds: Vec<_> = batch
                .iter()
                .map(|i| set_cmd(&format!("{prefix}:{i}"), &value))
                .collect();
            assert!(pipeline(c, &cmds).iter().all(|r| r == "+OK\r\n"));
        }
    };
    write(&mut c, "old", old);
    srv.advance_ms(100_000);
    write(&mut c, "new", new);
    let survivors = |c: &mut RawConn, prefix: &str, n: usize| {
        let cmds: Vec<_> = (0..n)
            .map(|i| vec![b"GET".to_vec(), format!("{prefix}:{i}").into_bytes()])
            .collect();
        pipeline(c, &cmds)
            .iter()
            .filter(|r| r.starts_with("$1000"))
            .count()
    };
    let old_left = survivors(&mut c, "old", old);
    let new_left = survivors(&mut c, "new", new);
    let old_frac = old_left as f64 / old as f64;
    let new_frac = new_left as f64 / new as f64;
    assert!(
        old_frac < 0.2 && new_frac > 0.5,
        "old keys kept {old_left}/{old}, new keys kept {new_left}/{new}"
    );
}

/// What an operator reads: `INFO memory` on the real binary (its real allocator), after
/// writing twice maxmemory under allkeys-lru. Needs INFO (server family).
///
/// Asserted: `used_memory <= maxmemory + 1 MiB`. The slack is 1/8 of the 8 MiB limit and
/// covers what is not dataset: the write that follows an eviction (one ~1 KB entry), this
/// client's read and write buffers (16 KiB each, more while a 256-command pipeline is in
/// flight), allocator rounding and table growth. Redis's own contract is the same
/// (`used_memory` minus replication buffers stays at maxmemory).
#[test]
fn allkeys_lru_info_used_memory_within_maxmemory() {
    const MAX: u64 = 8 << 20;
    const SLACK: u64 = 1 << 20;
    let p = RcacheProcess::builder(env!("CARGO_BIN_EXE_rcache"))
        .args(["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"])
        .start();
    let mut c = p.raw();
    let value = vec![b'x'; 1000];
    let n = 2 * (MAX as usize) / 1000;
    for batch in (0..n).collect::<Vec<_>>().chunks(256) {
        let cmds: Vec<_> = batch
            .iter()
            .map(|i| set_cmd(&format!("info:{i}"), &value))
            .collect();
        for (i, r) in batch.iter().zip(pipeline(&mut c, &cmds)) {
            assert_eq!(r, "+OK\r\n", "SET info:{i}");
        }
    }
    let info = c.request(&["INFO", "memory"]);
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("INFO memory has no {name}:\n{info}"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}: {e}\n{info}"))
    };
    assert_eq!(field("maxmemory"), MAX);
    let used = field("used_memory");
    assert!(
        used <= MAX + SLACK,
        "INFO used_memory {used} > maxmemory {MAX} + slack {SLACK}\n{info}"
    );
    let stats = c.request(&["INFO", "stats"]);
    let evicted: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .unwrap_or_else(|| panic!("INFO stats has no evicted_keys:\n{stats}"))
        .trim()
        .parse()
        .unwrap();
    assert!(evicted > 0, "{stats}");
    let dbsize = c.request(&["DBSIZE"]);
    let keys: usize = dbsize
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("DBSIZE {dbsize:?}"));
    assert!(keys < n, "{keys} keys of {n}");
    drop(c);
    p.sigterm();
    assert!(p.wait_exit(Duration::from_secs(10)).is_some());
}
