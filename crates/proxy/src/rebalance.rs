//! Rebalancing (rcache's extension, `rebalance: true` on a Redis pool): after a reload
//! changes where keys go, no key goes missing.
//!
//! ```text
//!  request for key k, placed on N now, on O before the reload (O ≠ N):
//!     O: DUMP k, PTTL k ──nil──► nothing to move (moved already, or never there)
//!                       └─val──► N: RESTORE k ttl val     (no REPLACE: a newer write wins)
//!                                 O: DEL k                  (on OK or BUSYKEY)
//!     then the request runs on N as usual
//!  mover (background): SCAN every previous server; every key placed elsewhere now is
//!     moved the same way, `rebalance_rate` keys per second; when every previous server
//!     has been scanned to the end, requests stop looking at the previous placement.
//! ```
//! Invariants: a key is on N or on O, never lost (it is deleted on O only after N has it);
//! a write made on N after the reload is never overwritten (RESTORE without REPLACE); every
//! request sees the key's value (it is moved before the request runs on N). Known limit: a
//! key deleted on N between another request's DUMP on O and its RESTORE on N can come back
//! with its old value (docs/PROXY.md).

use crate::backend::Proto;
use crate::backend::{Answer, BackendError};
use crate::pool::{Pool, PoolState};
use crate::server::{Endpoint, Server};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// A key to bring to `to` from wherever it still is (`from`, newest placement first).
pub struct Move {
    pub key: Vec<u8>,
    pub from: Vec<Arc<Server>>,
    pub to: Arc<Server>,
}

/// Keys per second the mover moves when the pool sets no `rebalance_rate`.
pub const DEFAULT_RATE: u64 = 50_000;

async fn call(server: &Arc<Server>, worker: usize, reqs: &[Vec<&[u8]>]) -> Answer {
    let mut bytes = Vec::new();
    for r in reqs {
        protocol::resp::encode_request(r, &mut bytes);
    }
    call_raw(server, worker, bytes, reqs.len()).await
}

/// How long one rebalancing exchange may take: a previous server that hangs must not
/// stall the requests that look for their keys on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long requests skip a previous server that failed such an exchange.
const SKIP_MS: u64 = 5_000;

/// Send `n` encoded requests (any protocol) and wait for their replies, at most
/// `CALL_TIMEOUT`; a server that fails or times out is skipped by requests for `SKIP_MS`.
async fn call_raw(server: &Arc<Server>, worker: usize, bytes: Vec<u8>, n: usize) -> Answer {
    let rx = server.handle(worker, 0).send(bytes, n, n);
    let r = match tokio::time::timeout(CALL_TIMEOUT, rx).await {
        Ok(r) => r.unwrap_or_else(|_| Err(BackendError::Io("connection task stopped".into()))),
        Err(_) => Err(BackendError::Timeout),
    };
    if r.is_err() {
        server.rebalance_skip(SKIP_MS);
    }
    r
}

/// Move each key (before the requests that name them run): the keys of one read are
/// moved together, three pipelined round trips per (previous server, new server) pair, so a
/// pipelined client pays for its batch once, not per key. Failures are logged: the request
/// then runs on the key's new server as it would without rebalancing.
pub async fn move_keys(pool: &Pool, moves: &[Move], worker: usize) {
    // Round r tries each key's r-th previous server, for the keys not found before.
    let mut left: Vec<&Move> = moves.iter().collect();
    let mut round = 0;
    while !left.is_empty() {
        let mut groups: Vec<(&Arc<Server>, &Arc<Server>, Vec<&Move>)> = Vec::new();
        for m in std::mem::take(&mut left) {
            let Some(from) = m.from.get(round) else {
                continue;
            };
            match groups
                .iter_mut()
                .find(|(f, t, _)| Arc::ptr_eq(f, from) && Arc::ptr_eq(t, &m.to))
            {
                Some(g) => g.2.push(m),
                None => groups.push((from, &m.to, vec![m])),
            }
        }
        for (from, to, ms) in groups {
            let keys: Vec<Vec<u8>> = ms.iter().map(|m| m.key.clone()).collect();
            let (found, _) = move_many(pool, from, to, &keys, worker).await;
            pool.stats
                .rebalance_fallbacks
                .fetch_add(found.iter().filter(|&&f| f).count() as u64, Relaxed);
            left.extend(
                ms.into_iter()
                    .zip(found)
                    .filter(|(_, f)| !f)
                    .map(|(m, _)| m),
            );
        }
        round += 1;
    }
}

/// RESTORE's ttl argument from a PTTL reply: 0 for no expiry, the milliseconds left, or
/// None when the key is gone (-2) or expires this instant.
fn restore_ttl(pttl: &[u8]) -> Option<i64> {
    let n = pttl
        .strip_prefix(b":")
        .and_then(|r| r.strip_suffix(b"\r\n"))
        .and_then(protocol::resp::parse_i64)?;
    match n {
        -1 => Some(0),
        n if n > 0 => Some(n),
        _ => None,
    }
}

/// The body of a bulk reply (`$n\r\n<body>\r\n`); None for nil or anything else.
fn bulk_body(r: &[u8]) -> Option<&[u8]> {
    if r.first() != Some(&b'$') {
        return None;
    }
    let nl = memchr::memmem::find(r, b"\r\n")?;
    let n = protocol::resp::parse_i64(&r[1..nl])?;
    if n < 0 {
        return None;
    }
    r.get(nl + 2..nl + 2 + n as usize)
}

/// The background mover for one pool state: passes over every previous server until one
/// pass moves everything it should without a failure (then requests stop looking back),
/// or a newer reload replaced `state` (the newer state's mover takes over). A previous
/// server whose keys cannot be listed `GIVE_UP` times in a row is given up (logged: its
/// keys stay there, unreachable through the proxy, as when it is down).
pub async fn mover(pool: Arc<Pool>, state: Arc<PoolState>, worker: usize) {
    let Some(prev) = state.previous.clone() else {
        return;
    };
    let rate = state.cfg.rebalance_rate.unwrap_or(DEFAULT_RATE).max(1);
    let started = std::time::Instant::now();
    let mut moved_total = 0u64;
    tracing::info!("pool {}: rebalancing started ({} keys/s)", pool.name, rate);
    let mut olds: Vec<Arc<Server>> = Vec::new();
    for src in &prev.sources {
        for old in &src.servers {
            if !olds.iter().any(|s| s.same_backend(old)) {
                olds.push(old.clone());
            }
        }
    }
    let mut pass = 0;
    loop {
        pass += 1;
        let mut failures = 0u64;
        for old in &olds {
            match drain(&pool, &state, old, rate, worker).await {
                Drained::Stop => return,
                Drained::Done { moved, failed } => {
                    moved_total += moved;
                    failures += failed;
                }
            }
        }
        if failures == 0 {
            break;
        }
        tracing::warn!(
            "pool {}: rebalancing pass {pass}: {failures} keys could not be moved yet; another pass",
            pool.name
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    prev.done.store(true, Relaxed);
    tracing::info!(
        "pool {}: rebalancing done: {} keys moved in {:.2?} ({pass} passes)",
        pool.name,
        moved_total,
        started.elapsed()
    );
}

/// Listing failures in a row after which a previous server is given up.
const GIVE_UP: u32 = 10;

enum Drained {
    /// The pool's state changed: a newer mover owns the move.
    Stop,
    Done {
        moved: u64,
        failed: u64,
    },
}

/// How the mover lists a previous server's keys: SCAN (Redis), or memcached's
/// `lru_crawler metadump all` taken once and walked page by page.
enum Lister {
    Scan(Vec<u8>),
    Dump(Option<std::vec::IntoIter<Vec<u8>>>),
}

impl Lister {
    /// The next page of keys, and whether it is the last.
    async fn next(
        &mut self,
        old: &Arc<Server>,
        worker: usize,
        page: usize,
    ) -> Result<(Vec<Vec<u8>>, bool), String> {
        match self {
            Lister::Scan(cursor) => {
                let count = page.to_string();
                let r = call(
                    old,
                    worker,
                    &[vec![b"SCAN", cursor, b"COUNT", count.as_bytes()]],
                )
                .await
                .map_err(|e| e.text())?;
                let (next, keys) = parse_scan(r.get(0)).ok_or("bad SCAN reply")?;
                let last = next == b"0";
                *cursor = next;
                Ok((keys, last))
            }
            Lister::Dump(keys) => {
                if keys.is_none() {
                    *keys = Some(metadump(old).await?.into_iter());
                }
                let it = keys.as_mut().expect("listed");
                let v: Vec<Vec<u8>> = it.by_ref().take(page).collect();
                Ok((v, it.len() == 0))
            }
        }
    }
}

/// Scan `old` to the end, moving every key that belongs elsewhere now.
async fn drain(
    pool: &Arc<Pool>,
    state: &Arc<PoolState>,
    old: &Arc<Server>,
    rate: u64,
    worker: usize,
) -> Drained {
    let mut moved = 0u64;
    let mut failed = 0u64;
    let mut list_failures = 0u32;
    let page = rate.clamp(10, 1000);
    let mut lister = match old.opts.proto {
        Proto::Redis => Lister::Scan(b"0".to_vec()),
        Proto::Memcache => Lister::Dump(None),
    };
    loop {
        if !Arc::ptr_eq(&pool.state(), state) {
            return Drained::Stop;
        }
        let t0 = std::time::Instant::now();
        let (keys, last) = match lister.next(old, worker, page as usize).await {
            Ok(x) => {
                list_failures = 0;
                x
            }
            Err(e) if list_failures + 1 >= GIVE_UP => {
                tracing::error!(
                    "pool {}: rebalancing gives up on {} ({e}): keys still on it stay there",
                    pool.name,
                    old.label
                );
                return Drained::Done { moved, failed };
            }
            Err(e) => {
                list_failures += 1;
                // A dead or busy previous server: its keys cannot be listed now; retry.
                tracing::warn!(
                    "pool {}: rebalancing cannot list the keys of {}: {e}; retrying",
                    pool.name,
                    old.label
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        pool.stats
            .rebalance_scanned
            .fetch_add(keys.len() as u64, Relaxed);
        // Keys of this page that belong elsewhere now, grouped by their new server.
        let mut by_to: Vec<(Arc<Server>, Vec<Vec<u8>>)> = Vec::new();
        let now = crate::server::now_ms();
        for k in keys {
            // Its configured server; while that one is ejected the key waits (moving it to
            // a stand-in would strand it when the server returns).
            let Some(to) = state.configured_server(&k) else {
                continue;
            };
            if to.same_backend(old) {
                continue;
            }
            if !to.live(now) {
                failed += 1;
                continue;
            }
            match by_to.iter_mut().find(|(s, _)| Arc::ptr_eq(s, to)) {
                Some((_, v)) => v.push(k),
                None => by_to.push((to.clone(), vec![k])),
            }
        }
        for (to, keys) in by_to {
            let (found, bad) = move_many(pool, old, &to, &keys, worker).await;
            moved += (found.iter().filter(|&&f| f).count() as u64).saturating_sub(bad);
            failed += bad;
        }
        if last {
            return Drained::Done { moved, failed };
        }
        // Rate: `page` keys per `page / rate` seconds.
        let budget = Duration::from_secs_f64(page as f64 / rate as f64);
        if let Some(rest) = budget.checked_sub(t0.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
}

/// Every key of a memcached server: `lru_crawler metadump all` on a connection of its own
/// (memcached refuses it behind other requests), keys URL-decoded.
async fn metadump(server: &Server) -> Result<Vec<Vec<u8>>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let go = async {
        let mut sock: Box<dyn Rw> = match &server.endpoint {
            Endpoint::Tcp { host, port } => Box::new(
                tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            Endpoint::Unix(p) => Box::new(
                tokio::net::UnixStream::connect(p)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
        };
        sock.write_all(b"lru_crawler metadump all\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        loop {
            if buf.ends_with(b"END\r\n") {
                break;
            }
            if (buf.starts_with(b"BUSY")
                || buf.starts_with(b"ERROR")
                || buf.starts_with(b"CLIENT_ERROR"))
                && buf.ends_with(b"\r\n")
            {
                return Err(String::from_utf8_lossy(&buf).trim_end().to_string());
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = sock.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed during metadump".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok(parse_metadump(&buf))
    };
    match tokio::time::timeout(Duration::from_secs(60), go).await {
        Ok(r) => r,
        Err(_) => Err("metadump took over 60 s".into()),
    }
}

trait Rw: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Rw for T {}

/// The keys of a metadump listing (`key=<urlencoded> exp=… …` lines, then `END`).
fn parse_metadump(b: &[u8]) -> Vec<Vec<u8>> {
    b.split(|&c| c == b'\n')
        .filter_map(|line| line.strip_prefix(b"key="))
        .map(|rest| {
            let enc = rest
                .split(|&c| c == b' ' || c == b'\r')
                .next()
                .unwrap_or_default();
            url_decode(enc)
        })
        .collect()
}

fn url_decode(s: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (
            s[i],
            s.get(i + 1).copied().and_then(hex),
            s.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Move several memcached keys from `old` to `to`: `mg key v f t` (value, flags, seconds
/// left), `add` on `to` (only if absent: a newer write wins), `delete` on `old`. Per key:
/// whether it was found on `old`.
async fn move_many_mc(
    pool: &Pool,
    old: &Arc<Server>,
    to: &Arc<Server>,
    keys: &[Vec<u8>],
    worker: usize,
) -> (Vec<bool>, u64) {
    let mut found = vec![false; keys.len()];
    let mut bytes = Vec::new();
    for k in keys {
        bytes.extend_from_slice(b"mg ");
        bytes.extend_from_slice(k);
        bytes.extend_from_slice(b" v f t\r\n");
    }
    let got = match call_raw(old, worker, bytes, keys.len()).await {
        Ok(g) => g,
        Err(e) => {
            cannot(pool, "read", old, &e);
            return (found, keys.len() as u64);
        }
    };
    let mut adds = Vec::new();
    let mut which = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let Some((flags, ttl, data)) = parse_va(got.get(i)) else {
            continue;
        };
        found[i] = true;
        // memcached: -1 (no expiry) is 0; an exptime over 30 days is a Unix time.
        let exptime = match ttl {
            t if t < 0 => 0,
            t if t > 30 * 24 * 3600 => (crate::server::now_ms() / 1000) as i64 + t,
            t => t.max(1),
        };
        adds.extend_from_slice(b"add ");
        adds.extend_from_slice(k);
        adds.extend_from_slice(format!(" {flags} {exptime} {}\r\n", data.len()).as_bytes());
        adds.extend_from_slice(data);
        adds.extend_from_slice(b"\r\n");
        which.push(i);
    }
    if which.is_empty() {
        return (found, 0);
    }
    let done = match call_raw(to, worker, adds, which.len()).await {
        Ok(d) => d,
        Err(e) => {
            cannot(pool, "write", to, &e);
            return (found, which.len() as u64);
        }
    };
    let mut dels = Vec::new();
    let mut n = 0;
    let mut bad = 0u64;
    for (j, &i) in which.iter().enumerate() {
        let r = done.get(j);
        if r.starts_with(b"STORED") || r.starts_with(b"NOT_STORED") {
            dels.extend_from_slice(b"delete ");
            dels.extend_from_slice(&keys[i]);
            dels.extend_from_slice(b"\r\n");
            n += 1;
        } else {
            bad += 1;
            tracing::warn!(
                "pool {}: moving a key to {} failed: {}",
                pool.name,
                to.label,
                String::from_utf8_lossy(r).trim_end()
            );
        }
    }
    if n > 0 {
        if call_raw(old, worker, dels, n).await.is_ok() {
            pool.stats.rebalance_moved.fetch_add(n as u64, Relaxed);
        } else {
            bad += n as u64;
        }
    }
    (found, bad)
}

/// Log an exchange with a server that failed during a move.
fn cannot(pool: &Pool, verb: &str, server: &Server, e: &BackendError) {
    tracing::warn!(
        "pool {}: rebalancing cannot {verb} {}: {}",
        pool.name,
        server.label,
        e.text()
    );
}

/// A meta get reply `VA <len> f<flags> t<ttl>\r\n<data>\r\n`: (flags, seconds left or -1,
/// data); None for a miss (`EN`) or anything else.
fn parse_va(r: &[u8]) -> Option<(u32, i64, &[u8])> {
    let nl = memchr::memmem::find(r, b"\r\n")?;
    let line = std::str::from_utf8(&r[..nl]).ok()?;
    let mut it = line.split(' ');
    if it.next()? != "VA" {
        return None;
    }
    let len: usize = it.next()?.parse().ok()?;
    let (mut flags, mut ttl) = (0u32, -1i64);
    for t in it {
        if let Some(f) = t.strip_prefix('f') {
            flags = f.parse().ok()?;
        } else if let Some(x) = t.strip_prefix('t') {
            ttl = x.parse().ok()?;
        }
    }
    Some((flags, ttl, r.get(nl + 2..(nl + 2).checked_add(len)?)?))
}

/// Move several keys from `old` to `to` in three pipelined round trips. Per key: whether
/// it was found on `old` (and is on `to` now: restored, or `to` had a newer value). A key
/// whose move failed counts as found, so it is not looked for on older servers (the
/// request then runs on `to` without it; logged).
async fn move_many(
    pool: &Pool,
    old: &Arc<Server>,
    to: &Arc<Server>,
    keys: &[Vec<u8>],
    worker: usize,
) -> (Vec<bool>, u64) {
    // The same backend under two objects (a reload rebuilt it): nothing to move, and
    // "moving" would delete the key it just found in place.
    if old.same_backend(to) {
        return (vec![false; keys.len()], 0);
    }
    if old.opts.proto == Proto::Memcache {
        return move_many_mc(pool, old, to, keys, worker).await;
    }
    let mut found = vec![false; keys.len()];
    let mut reqs: Vec<Vec<&[u8]>> = Vec::with_capacity(keys.len() * 2);
    for k in keys {
        reqs.push(vec![b"DUMP", k]);
        reqs.push(vec![b"PTTL", k]);
    }
    let got = match call(old, worker, &reqs).await {
        Ok(g) => g,
        Err(e) => {
            cannot(pool, "read", old, &e);
            return (found, keys.len() as u64);
        }
    };
    let mut restore: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut which: Vec<usize> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let (Some(payload), Some(ttl)) =
            (bulk_body(got.get(2 * i)), restore_ttl(got.get(2 * i + 1)))
        else {
            continue;
        };
        found[i] = true;
        restore.push(vec![
            b"RESTORE".to_vec(),
            k.clone(),
            ttl.to_string().into_bytes(),
            payload.to_vec(),
        ]);
        which.push(i);
    }
    if restore.is_empty() {
        return (found, 0);
    }
    let reqs: Vec<Vec<&[u8]>> = restore
        .iter()
        .map(|r| r.iter().map(|a| a.as_slice()).collect())
        .collect();
    let done = match call(to, worker, &reqs).await {
        Ok(d) => d,
        Err(e) => {
            cannot(pool, "write", to, &e);
            return (found, which.len() as u64);
        }
    };
    let mut dels: Vec<Vec<&[u8]>> = Vec::new();
    let mut bad = 0u64;
    for (j, &i) in which.iter().enumerate() {
        let r = done.get(j);
        if r.starts_with(b"+OK") || r.starts_with(b"-BUSYKEY") {
            dels.push(vec![b"DEL", &keys[i]]);
        } else {
            bad += 1;
            tracing::warn!(
                "pool {}: moving a key to {} failed: {}",
                pool.name,
                to.label,
                String::from_utf8_lossy(r).trim_end()
            );
        }
    }
    if dels.is_empty() {
        return (found, bad);
    }
    let n = dels.len() as u64;
    if call(old, worker, &dels).await.is_ok() {
        pool.stats.rebalance_moved.fetch_add(n, Relaxed);
    } else {
        bad += n;
    }
    (found, bad)
}

/// SCAN's reply: the next cursor and the keys.
fn parse_scan(r: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let outer = split_array(r)?;
    if outer.len() != 2 {
        return None;
    }
    let cursor = bulk_body(outer[0])?.to_vec();
    let keys = split_array(outer[1])?
        .into_iter()
        .map(|k| bulk_body(k).map(<[u8]>::to_vec))
        .collect::<Option<Vec<_>>>()?;
    Some((cursor, keys))
}

fn split_array(r: &[u8]) -> Option<Vec<&[u8]>> {
    if r.first() != Some(&b'*') {
        return None;
    }
    let nl = memchr::memmem::find(r, b"\r\n")?;
    let n = protocol::resp::parse_i64(&r[1..nl])?;
    let mut pos = nl + 2;
    let mut v = Vec::new();
    for _ in 0..n.max(0) {
        let len = protocol::reply_len(&r[pos..]).ok()??;
        v.push(&r[pos..pos + len]);
        pos += len;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read() {
        assert_eq!(restore_ttl(b":-1\r\n"), Some(0));
        assert_eq!(restore_ttl(b":-2\r\n"), None);
        assert_eq!(restore_ttl(b":1500\r\n"), Some(1500));
        assert_eq!(bulk_body(b"$3\r\nabc\r\n"), Some(&b"abc"[..]));
        assert_eq!(bulk_body(b"$-1\r\n"), None);
        let scan = b"*2\r\n$2\r\n17\r\n*2\r\n$1\r\na\r\n$2\r\nbb\r\n";
        let (c, k) = parse_scan(scan).unwrap();
        let dump = b"key=a exp=-1 la=1 cas=2 fetch=no cls=1 size=60\r\nkey=sp%20x%2F exp=17 la=1\r\nEND\r\n";
        assert_eq!(parse_metadump(dump), vec![b"a".to_vec(), b"sp x/".to_vec()]);
        assert_eq!(
            parse_va(b"VA 3 f5 t100\r\nabc\r\n"),
            Some((5, 100, &b"abc"[..]))
        );
        assert_eq!(
            parse_va(b"VA 2 f0 t-1\r\nxy\r\n"),
            Some((0, -1, &b"xy"[..]))
        );
        assert_eq!(parse_va(b"EN\r\n"), None);
        assert_eq!(c, b"17");
        assert_eq!(k, vec![b"a".to_vec(), b"bb".to_vec()]);
    }
}
