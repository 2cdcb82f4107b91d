//! A client connection of a memcached pool (text protocol): parse every request in the
//! buffer, route each by its key, send one batch per backend, relay replies in order.
//!
//! Storage commands, `delete`, `incr`/`decr`, `touch` and the meta commands `mg`, `ms`,
//! `md`, `ma` go to their key's server as their own bytes; `get`/`gets`/`gat`/`gats` with
//! keys on several servers are split per server and their `VALUE` blocks merged in key
//! order under one `END` (twemproxy's fragments). `noreply` requests expect no reply from
//! the backend. Commands without a key (`flush_all`, `stats`, `verbosity`…) are refused
//! with an error line; the connection goes on.

use crate::backend::{Answer, BackendError};
use crate::pool::{Pool, PoolState};
use crate::server::Server;
use protocol::memcache::{keys_of, GetOp, MetaOp, Parsed, Parser, Request};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

enum Plan {
    Local(Vec<u8>),
    /// Reply `idx` of batch `batch`; `quiet` for a `noreply` request: its reply (the
    /// backend gets the request without `noreply`, see `without_noreply`) is not relayed.
    Forward {
        batch: usize,
        idx: Option<usize>,
        quiet: bool,
    },
    /// A retrieval split over servers: (batch, idx, the key numbers it carries).
    Split {
        parts: Vec<(usize, usize, Vec<usize>)>,
        keys: Vec<Vec<u8>>,
    },
}

struct Batch {
    server: Arc<Server>,
    bytes: Vec<u8>,
    requests: usize,
    expect: usize,
}

#[derive(Default)]
struct Work {
    plans: Vec<Plan>,
    batches: Vec<Batch>,
    /// Keys to bring from their previous server first (rebalancing).
    moves: Vec<crate::rebalance::Move>,
    close: bool,
}

impl Work {
    fn add(&mut self, server: &Arc<Server>, raw: &[u8], replies: bool) -> (usize, Option<usize>) {
        let b = match self
            .batches
            .iter()
            .position(|b| Arc::ptr_eq(&b.server, server))
        {
            Some(i) => i,
            None => {
                self.batches.push(Batch {
                    server: server.clone(),
                    bytes: Vec::new(),
                    requests: 0,
                    expect: 0,
                });
                self.batches.len() - 1
            }
        };
        let batch = &mut self.batches[b];
        batch.bytes.extend_from_slice(raw);
        batch.requests += 1;
        if replies {
            batch.expect += 1;
            (b, Some(batch.expect - 1))
        } else {
            (b, None)
        }
    }

    fn line(&mut self, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.extend_from_slice(b"\r\n");
        self.plans.push(Plan::Local(v));
    }
}

/// Serve one client connection until it closes.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut sock: S,
    pool: Arc<Pool>,
    worker: usize,
    conn_no: usize,
) {
    let mut parser = Parser::new();
    let mut inbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let stats = &pool.stats;
    loop {
        if !crate::pool::read_more(&mut sock, &mut inbuf, stats).await {
            return;
        }
        let state = pool.state();
        let mut work = Work::default();
        let mut pos = 0;
        while pos < inbuf.len() && !work.close {
            match parser.parse(&inbuf[pos..], true) {
                Ok(Parsed::Incomplete { .. }) => break,
                Ok(Parsed::Skipped { consumed }) => pos += consumed,
                Ok(Parsed::Request { consumed }) => {
                    let raw = &inbuf[pos..pos + consumed];
                    plan(&pool, &state, &parser, raw, &mut work);
                    pos += consumed;
                }
                Err(_) => {
                    work.line("CLIENT_ERROR line too long");
                    work.close = true;
                    stats.client_err.fetch_add(1, Relaxed);
                }
            }
        }
        inbuf.drain(..pos);
        if !work.moves.is_empty() {
            crate::rebalance::move_keys(&pool, &work.moves, worker).await;
        }
        let rxs: Vec<oneshot::Receiver<Answer>> = std::mem::take(&mut work.batches)
            .into_iter()
            .map(|b| {
                b.server
                    .handle(worker, conn_no)
                    .send(b.bytes, b.requests, b.expect)
            })
            .collect();
        let answers = crate::backend::gather(rxs).await;
        out.clear();
        for p in &work.plans {
            assemble(p, &answers, &mut out, &pool);
        }
        if !out.is_empty() && sock.write_all(&out).await.is_err() {
            stats.client_err.fetch_add(1, Relaxed);
            return;
        }
        if work.close {
            let _ = sock.shutdown().await;
            return;
        }
    }
}

fn server_error(e: &BackendError, out: &mut Vec<u8>) {
    out.extend_from_slice(b"SERVER_ERROR ");
    out.extend_from_slice(e.text().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn assemble(p: &Plan, answers: &[Answer], out: &mut Vec<u8>, pool: &Pool) {
    match p {
        Plan::Local(b) => out.extend_from_slice(b),
        Plan::Forward { batch, idx, quiet } => match (&answers[*batch], idx) {
            (Ok(_), _) if *quiet => {}
            (Ok(r), Some(i)) => out.extend_from_slice(r.get(*i)),
            (Ok(_), None) => {}
            (Err(e), Some(_)) if !*quiet => {
                pool.stats.forward_error.fetch_add(1, Relaxed);
                server_error(e, out)
            }
            (Err(_), _) => {
                pool.stats.forward_error.fetch_add(1, Relaxed);
            }
        },
        Plan::Split { parts, keys } => {
            // Each key's VALUE block, placed by key number; then one END.
            let mut blocks: Vec<Option<&[u8]>> = vec![None; keys.len()];
            for (b, i, nums) in parts {
                let r = match &answers[*b] {
                    Ok(r) => r.get(*i),
                    Err(e) => {
                        pool.stats.forward_error.fetch_add(1, Relaxed);
                        server_error(e, out);
                        return;
                    }
                };
                if !r.starts_with(b"VALUE ") && r != b"END\r\n" {
                    // An error line from the server answers for the whole request.
                    out.extend_from_slice(r);
                    return;
                }
                let mut k = 0;
                for (name, block) in value_blocks(r) {
                    while k < nums.len() && keys[nums[k]] != name {
                        k += 1;
                    }
                    if k == nums.len() {
                        break;
                    }
                    blocks[nums[k]] = Some(block);
                    k += 1;
                }
            }
            for b in blocks.into_iter().flatten() {
                out.extend_from_slice(b);
            }
            out.extend_from_slice(b"END\r\n");
        }
    }
}

/// The `VALUE` blocks of a retrieval reply: (key, the block's bytes).
fn value_blocks(r: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut v = Vec::new();
    let mut pos = 0;
    while r[pos..].starts_with(b"VALUE ") {
        let Some(nl) = memchr::memmem::find(&r[pos..], b"\r\n") else {
            break;
        };
        let line = &r[pos..pos + nl];
        let mut toks = line.split(|&c| c == b' ').filter(|t| !t.is_empty());
        let key = toks.nth(1).unwrap_or_default();
        let Some(n) = toks
            .nth(1)
            .and_then(|t| std::str::from_utf8(t).ok()?.parse::<usize>().ok())
        else {
            break;
        };
        let end = (pos + nl + 2 + n + 2).min(r.len());
        v.push((key, &r[pos..end]));
        pos = end;
    }
    v
}

fn plan(pool: &Pool, state: &PoolState, parser: &Parser, raw: &[u8], work: &mut Work) {
    let route = |key: &[u8], work: &mut Work| -> Option<Arc<Server>> {
        match state.locate(key) {
            Ok((s, group)) => {
                if state.previous.is_some() {
                    let from = state.previous_for(key, group as usize);
                    if !from.is_empty() {
                        work.moves.push(crate::rebalance::Move {
                            key: key.to_vec(),
                            from,
                            to: s.clone(),
                        });
                    }
                }
                Some(s)
            }
            Err(_) => {
                pool.stats.forward_error.fetch_add(1, Relaxed);
                // nutcracker answers this when every server is ejected.
                work.line("SERVER_ERROR Connection refused");
                None
            }
        }
    };
    let one = |key: &[u8], noreply: bool, work: &mut Work| {
        if let Some(s) = route(key, work) {
            let (batch, idx) = if noreply {
                work.add(&s, &without_noreply(raw), true)
            } else {
                work.add(&s, raw, true)
            };
            work.plans.push(Plan::Forward {
                batch,
                idx,
                quiet: noreply,
            });
        }
    };
    match parser.request() {
        Request::Store { key, noreply, .. } => one(key.of(raw), *noreply, work),
        Request::Delete { key, noreply }
        | Request::Arith { key, noreply, .. }
        | Request::Touch { key, noreply, .. } => one(key.of(raw), *noreply, work),
        Request::Get { op, exptime, keys } => {
            let names: Vec<&[u8]> = keys_of(keys.of(raw)).collect();
            let mut groups: Vec<(Arc<Server>, Vec<usize>)> = Vec::new();
            for (k, name) in names.iter().enumerate() {
                let Some(s) = route(name, work) else { return };
                match groups.iter_mut().find(|g| Arc::ptr_eq(&g.0, &s)) {
                    Some(g) => g.1.push(k),
                    None => groups.push((s, vec![k])),
                }
            }
            if groups.len() == 1 {
                let (batch, idx) = work.add(&groups[0].0, raw, true);
                work.plans.push(Plan::Forward {
                    batch,
                    idx,
                    quiet: false,
                });
                return;
            }
            pool.stats.fragments.fetch_add(groups.len() as u64, Relaxed);
            let verb: &[u8] = match op {
                GetOp::Get => b"get",
                GetOp::Gets => b"gets",
                GetOp::Gat => b"gat",
                GetOp::Gats => b"gats",
            };
            let mut parts = Vec::with_capacity(groups.len());
            for (s, nums) in groups {
                let mut line = verb.to_vec();
                if matches!(op, GetOp::Gat | GetOp::Gats) {
                    line.push(b' ');
                    line.extend_from_slice(exptime.to_string().as_bytes());
                }
                for &k in &nums {
                    line.push(b' ');
                    line.extend_from_slice(names[k]);
                }
                line.extend_from_slice(b"\r\n");
                let (batch, idx) = work.add(&s, &line, true);
                parts.push((batch, idx.expect("a retrieval has a reply"), nums));
            }
            work.plans.push(Plan::Split {
                parts,
                keys: names.iter().map(|k| k.to_vec()).collect(),
            });
        }
        Request::Meta { op, key, .. } => match op {
            MetaOp::Noop => work.line("MN"),
            MetaOp::Debug => work.line("CLIENT_ERROR 'me' is not supported through the proxy"),
            MetaOp::Get | MetaOp::Set | MetaOp::Delete | MetaOp::Arith => {
                if parser.meta.has(b'q') {
                    // Quiet mode's replies are suppressed by the backend, so replies on a
                    // shared connection could not be matched to requests.
                    work.line("CLIENT_ERROR the q flag is not supported through the proxy");
                } else if parser.meta.has(b'b') {
                    // A base64 key (`b` flag) is placed by the key it encodes, so it lands
                    // where `get` of the same key does.
                    use base64::Engine;
                    match base64::engine::general_purpose::STANDARD.decode(key.of(raw)) {
                        Ok(k) => one(&k, false, work),
                        Err(_) => work.line("CLIENT_ERROR error decoding key"),
                    }
                } else {
                    one(key.of(raw), false, work)
                }
            }
        },
        Request::Quit => work.close = true,
        Request::Http => work.close = true,
        Request::Version => work.line(concat!("VERSION rcache-proxy ", env!("CARGO_PKG_VERSION"))),
        Request::FlushAll { noreply, .. }
        | Request::Verbosity { noreply }
        | Request::CacheMemlimit { noreply, .. } => {
            if !noreply {
                work.line(
                    "CLIENT_ERROR this command has no key and is not supported through the proxy",
                )
            }
        }
        Request::Stats { .. } => {
            work.line("CLIENT_ERROR stats are served on the proxy's stats port, not here")
        }
        Request::TooLarge { noreply, .. } => {
            if !noreply {
                work.line(protocol::memcache::TOO_LARGE)
            }
        }
        Request::Error { msg, noreply } => {
            if !noreply {
                work.line(msg)
            }
        }
    }
}

/// A `noreply` request as the backend gets it: without `noreply`. memcached still answers
/// some errors of a `noreply` request (a value it cannot store, `out_errstring`), which
/// on a connection shared by many clients would be taken for the next request's reply; so
/// the proxy always asks for the reply and drops it itself.
fn without_noreply(raw: &[u8]) -> Vec<u8> {
    let nl = memchr::memchr(b'\n', raw).unwrap_or(raw.len());
    let line_end = if nl > 0 && raw[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    // The parser ignores spaces after the last token, so must this.
    let line = raw[..line_end].trim_ascii_end();
    let cut = line
        .strip_suffix(b"noreply")
        .map(|l| l.trim_ascii_end().len())
        .unwrap_or(line.len());
    let mut v = Vec::with_capacity(raw.len());
    v.extend_from_slice(&raw[..cut]);
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(raw.get(nl + 1..).unwrap_or_default());
    v
}

/// Whether `raw` (a backend reply) is a complete memcached reply (tests).
#[cfg(test)]
fn complete(raw: &[u8]) -> bool {
    matches!(crate::backend::mc_reply_len(raw), Ok(Some(n)) if n == raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noreply_is_taken_off_the_backend_request() {
        assert_eq!(
            without_noreply(b"set k 0 0 2 noreply\r\nab\r\n"),
            b"set k 0 0 2\r\nab\r\n"
        );
        assert_eq!(without_noreply(b"delete k noreply\r\n"), b"delete k\r\n");
        assert_eq!(without_noreply(b"incr k 5  noreply\n"), b"incr k 5\r\n");
        assert_eq!(without_noreply(b"touch k 10\r\n"), b"touch k 10\r\n");
        assert_eq!(without_noreply(b"delete k noreply  \r\n"), b"delete k\r\n");
        assert_eq!(
            without_noreply(b"set k 0 0 1 noreply \r\nx\r\n"),
            b"set k 0 0 1\r\nx\r\n"
        );
    }

    #[test]
    fn value_blocks_are_split() {
        let r = b"VALUE a 0 1\r\nx\r\nVALUE bb 5 2 77\r\nyz\r\nEND\r\n";
        assert!(complete(r));
        let v = value_blocks(r);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].0, b"a");
        assert_eq!(v[0].1, b"VALUE a 0 1\r\nx\r\n");
        assert_eq!(v[1].0, b"bb");
        assert_eq!(v[1].1, b"VALUE bb 5 2 77\r\nyz\r\n");
        assert!(value_blocks(b"END\r\n").is_empty());
    }
}
