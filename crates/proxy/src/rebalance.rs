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

use crate::backend::{Answer, BackendError};
use crate::pool::{Pool, PoolState};
use crate::server::Server;
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
    let rx = server.handle(worker, 0).send(bytes, reqs.len(), reqs.len());
    rx.await
        .unwrap_or_else(|_| Err(BackendError::Io("connection task stopped".into())))
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
            let found = move_many(pool, from, to, &keys, worker).await;
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

/// The background mover for one pool state: runs until it has scanned every previous
/// server, or a newer reload replaced `state` (the newer state's mover takes over).
pub async fn mover(pool: Arc<Pool>, state: Arc<PoolState>, worker: usize) {
    let Some(prev) = state.previous.clone() else {
        return;
    };
    let rate = state.cfg.rebalance_rate.unwrap_or(DEFAULT_RATE).max(1);
    let started = std::time::Instant::now();
    let mut moved_total = 0u64;
    tracing::info!("pool {}: rebalancing started ({} keys/s)", pool.name, rate);
    let mut seen: Vec<Arc<Server>> = Vec::new();
    for src in &prev.sources {
        for old in &src.servers {
            if seen.iter().any(|s| Arc::ptr_eq(s, old)) {
                continue;
            }
            seen.push(old.clone());
            match drain(&pool, &state, old, rate, worker).await {
                Some(n) => moved_total += n,
                None => return,
            }
        }
    }
    prev.done.store(true, Relaxed);
    tracing::info!(
        "pool {}: rebalancing done: {} keys moved in {:.2?}",
        pool.name,
        moved_total,
        started.elapsed()
    );
}

/// Scan `old` to the end, moving every key placed elsewhere now. None when the pool's
/// state changed under it (stop), else the number of keys moved.
async fn drain(
    pool: &Arc<Pool>,
    state: &Arc<PoolState>,
    old: &Arc<Server>,
    rate: u64,
    worker: usize,
) -> Option<u64> {
    let mut cursor = b"0".to_vec();
    let mut moved = 0u64;
    let page = rate.clamp(10, 1000);
    let count = page.to_string();
    loop {
        if !Arc::ptr_eq(&pool.state(), state) {
            return None;
        }
        let t0 = std::time::Instant::now();
        let r = match call(
            old,
            worker,
            &[vec![b"SCAN", &cursor, b"COUNT", count.as_bytes()]],
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                // A dead previous server: its keys cannot be moved now; try again later.
                tracing::warn!(
                    "pool {}: rebalancing cannot scan {}: {}; retrying",
                    pool.name,
                    old.label,
                    e.text()
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some((next, keys)) = parse_scan(r.get(0)) else {
            tracing::warn!("pool {}: bad SCAN reply from {}", pool.name, old.label);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        pool.stats
            .rebalance_scanned
            .fetch_add(keys.len() as u64, Relaxed);
        // Keys of this page that belong elsewhere now, grouped by their new server.
        let mut by_to: Vec<(Arc<Server>, Vec<Vec<u8>>)> = Vec::new();
        for k in keys {
            let Ok(i) = state.route(&k) else { continue };
            let to = &state.servers[i];
            if Arc::ptr_eq(to, old) {
                continue;
            }
            match by_to.iter_mut().find(|(s, _)| Arc::ptr_eq(s, to)) {
                Some((_, v)) => v.push(k),
                None => by_to.push((to.clone(), vec![k])),
            }
        }
        for (to, keys) in by_to {
            let found = move_many(pool, old, &to, &keys, worker).await;
            moved += found.iter().filter(|&&f| f).count() as u64;
        }
        if next == b"0" {
            return Some(moved);
        }
        cursor = next;
        // Rate: `page` keys per `page / rate` seconds.
        let budget = Duration::from_secs_f64(page as f64 / rate as f64);
        if let Some(rest) = budget.checked_sub(t0.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
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
) -> Vec<bool> {
    let mut found = vec![false; keys.len()];
    let mut reqs: Vec<Vec<&[u8]>> = Vec::with_capacity(keys.len() * 2);
    for k in keys {
        reqs.push(vec![b"DUMP", k]);
        reqs.push(vec![b"PTTL", k]);
    }
    let got = match call(old, worker, &reqs).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(
                "pool {}: rebalancing cannot read {}: {}",
                pool.name,
                old.label,
                e.text()
            );
            return found;
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
        return found;
    }
    let reqs: Vec<Vec<&[u8]>> = restore
        .iter()
        .map(|r| r.iter().map(|a| a.as_slice()).collect())
        .collect();
    let done = match call(to, worker, &reqs).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(
                "pool {}: rebalancing cannot write {}: {}",
                pool.name,
                to.label,
                e.text()
            );
            return found;
        }
    };
    let mut dels: Vec<Vec<&[u8]>> = Vec::new();
    for (j, &i) in which.iter().enumerate() {
        let r = done.get(j);
        if r.starts_with(b"+OK") || r.starts_with(b"-BUSYKEY") {
            dels.push(vec![b"DEL", &keys[i]]);
        } else {
            tracing::warn!(
                "pool {}: moving a key to {} failed: {}",
                pool.name,
                to.label,
                String::from_utf8_lossy(r).trim_end()
            );
        }
    }
    if dels.is_empty() {
        return found;
    }
    let n = dels.len() as u64;
    if call(old, worker, &dels).await.is_ok() {
        pool.stats.rebalance_moved.fetch_add(n, Relaxed);
    }
    found
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
        assert_eq!(c, b"17");
        assert_eq!(k, vec![b"a".to_vec(), b"bb".to_vec()]);
    }
}
