//! A client connection of a Redis pool: parse every request in the buffer, route each by
//! its key(s), send one batch per backend, relay the replies in request order.
//!
//! ```text
//!  read ─► parse all ─► plan: [Local reply | Forward(batch b, reply i) | Split(parts, merge)]
//!                        batches: one per server, the requests' own bytes back to back
//!       ─► (rebalancing: move the planned keys from their previous server first)
//!       ─► send batches ─► await answers ─► replies in plan order ─► one write
//! ```
//! Which commands go where comes from rcache's command table (arity, key positions, flags):
//! a command whose keys all live on one server is forwarded as its own bytes; MGET, DEL,
//! UNLINK, EXISTS, TOUCH and MSET are split per server and merged (twemproxy's fragments);
//! commands that cannot work through a shared, pipelined backend connection (keyless,
//! blocking, transactions, pub/sub, WATCH) are refused with an error, and the connection
//! goes on.

use crate::backend::{Answer, BackendError};
use crate::pool::{Pool, PoolState};
use crate::rebalance;
use crate::server::Server;
use commands::cluster_cmd::{key_positions, splittable, Split};
use commands::table::{flags, CommandTable};
use protocol::{Args, Parsed, RequestParser};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

/// Largest query buffer a client may hold (Redis's `client-query-buffer-limit`).
const MAX_QUERY: usize = 1 << 30;

/// Where one request's reply comes from.
enum Plan {
    /// Bytes answered by the proxy itself.
    Local(Vec<u8>),
    /// Reply `idx` of batch `batch`.
    Forward { batch: usize, idx: usize },
    /// A multi-key command split over servers: part replies merged.
    Split {
        how: Split,
        /// Per part: (batch, idx, the key numbers it carries, in order).
        parts: Vec<(usize, usize, Vec<usize>)>,
        keys: usize,
    },
}

/// Requests for one server.
struct Batch {
    server: Arc<Server>,
    bytes: Vec<u8>,
    n: usize,
}

/// One read's worth of work.
#[derive(Default)]
struct Work {
    plans: Vec<Plan>,
    batches: Vec<Batch>,
    /// Keys to bring from their previous server before the batches go (rebalancing).
    moves: Vec<rebalance::Move>,
    /// Cluster pools: each forwarded request's bytes by (batch, reply), to re-send when the
    /// reply is a MOVED or ASK redirection.
    resend: Vec<((usize, usize), Vec<u8>)>,
    close: bool,
}

impl Work {
    fn batch_for(&mut self, server: &Arc<Server>) -> usize {
        if let Some(i) = self
            .batches
            .iter()
            .position(|b| Arc::ptr_eq(&b.server, server))
        {
            return i;
        }
        self.batches.push(Batch {
            server: server.clone(),
            bytes: Vec::new(),
            n: 0,
        });
        self.batches.len() - 1
    }

    fn add(&mut self, server: &Arc<Server>, raw: &[u8]) -> (usize, usize) {
        let b = self.batch_for(server);
        let batch = &mut self.batches[b];
        batch.bytes.extend_from_slice(raw);
        batch.n += 1;
        (b, batch.n - 1)
    }

    fn resend(&mut self, state: &PoolState, batch: usize, idx: usize, raw: &[u8]) {
        if state.cluster.is_some() {
            self.resend.push(((batch, idx), raw.to_vec()));
        }
    }

    fn local(&mut self, bytes: Vec<u8>) {
        self.plans.push(Plan::Local(bytes));
    }

    fn error(&mut self, msg: &str) {
        let mut v = Vec::with_capacity(msg.len() + 3);
        v.push(b'-');
        v.extend_from_slice(msg.as_bytes());
        v.extend_from_slice(b"\r\n");
        self.local(v);
    }
}

/// Per-connection state.
pub struct Client {
    pub pool: Arc<Pool>,
    pub worker: usize,
    pub conn_no: usize,
    authed: bool,
    /// The client said HELLO 3: its requests go over RESP3 backend connections.
    resp3: bool,
}

impl Client {
    pub fn new(pool: Arc<Pool>, worker: usize, conn_no: usize) -> Client {
        Client {
            pool,
            worker,
            conn_no,
            authed: false,
            resp3: false,
        }
    }
}

/// Serve one client connection until it closes.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, mut client: Client) {
    let mut parser = RequestParser::default();
    let mut inbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let pool = client.pool.clone();
    let stats = &pool.stats;
    // Requests already in the buffer, left for the next round (after a HELLO).
    let mut buffered = false;
    loop {
        if !buffered && !crate::pool::read_more(&mut sock, &mut inbuf, stats).await {
            return;
        }
        buffered = false;
        let state = client.pool.state();
        if let Some(map) = &state.cluster {
            map.ensure_loaded(client.worker).await;
        }
        let mut work = Work::default();
        let mut pos = 0;
        let mut fatal = None;
        while pos < inbuf.len() && !work.close {
            match parser.parse(&inbuf[pos..], true) {
                Ok(Parsed::Incomplete { want }) => {
                    if want > MAX_QUERY {
                        fatal = Some("ERR Protocol error: too big request".to_string());
                    }
                    break;
                }
                Ok(Parsed::Empty { consumed }) => pos += consumed,
                Ok(Parsed::Command { consumed }) => {
                    let raw = &inbuf[pos..pos + consumed];
                    let args = parser.args(raw);
                    // HELLO may switch the protocol, which picks the backend connections
                    // of a whole round: it goes in a round of its own.
                    let hello = args.get(0).eq_ignore_ascii_case(b"hello");
                    if hello && !work.batches.is_empty() {
                        buffered = true;
                        break;
                    }
                    plan(&mut client, &state, args, raw, &mut work);
                    pos += consumed;
                    if hello {
                        buffered = pos < inbuf.len();
                        break;
                    }
                }
                Err(e) => {
                    fatal = Some(format!("ERR Protocol error: {}", e.message()));
                    break;
                }
            }
        }
        inbuf.drain(..pos);
        if let Some(msg) = fatal {
            work.error(&msg);
            work.close = true;
            stats.client_err.fetch_add(1, Relaxed);
        }
        if !work.moves.is_empty() {
            rebalance::move_keys(&pool, &work.moves, client.worker).await;
        }
        let answers = send(
            std::mem::take(&mut work.batches),
            client.worker,
            client.conn_no,
            client.resp3,
        )
        .await;
        let mut answers = answers;
        if let Some(map) = &state.cluster {
            if map.refresh_due() {
                let (m, w) = (map.clone(), client.worker);
                tokio::spawn(async move { m.refresh(w).await });
            }
            follow_redirects(map, &work.resend, &mut answers, &client).await;
        }
        out.clear();
        for p in &work.plans {
            assemble(p, &answers, &mut out, &pool);
        }
        if sock.write_all(&out).await.is_err() {
            stats.client_err.fetch_add(1, Relaxed);
            return;
        }
        if work.close {
            let _ = sock.shutdown().await;
            return;
        }
    }
}

/// Send every batch, then wait for all their answers.
async fn send(batches: Vec<Batch>, worker: usize, conn_no: usize, resp3: bool) -> Vec<Answer> {
    let rxs: Vec<oneshot::Receiver<Answer>> = batches
        .into_iter()
        .map(|b| {
            b.server
                .handle_proto(worker, conn_no, resp3)
                .send(b.bytes, b.n, b.n)
        })
        .collect();
    crate::backend::gather(rxs).await
}

/// Cluster pools: replace every MOVED / ASK reply by the answer of the node it names
/// (ASKING first for ASK), following up to `MAX_REDIRECTS` hops; a MOVED also refreshes the
/// slot map in the background.
async fn follow_redirects(
    map: &Arc<crate::cluster::SlotMap>,
    resend: &[((usize, usize), Vec<u8>)],
    answers: &mut [Answer],
    client: &Client,
) {
    for ((b, i), raw) in resend {
        let Ok(r) = &answers[*b] else { continue };
        let mut reply = r.get(*i).to_vec();
        if crate::cluster::redirect(&reply).is_none() {
            continue;
        }
        for _ in 0..crate::cluster::MAX_REDIRECTS {
            let Some((ask, addr)) = crate::cluster::redirect(&reply) else {
                break;
            };
            let Some(node) = map.node_at(&addr) else {
                break;
            };
            if !ask && map.claim_refresh() {
                let (m, w) = (map.clone(), client.worker);
                tokio::spawn(async move { m.refresh(w).await });
            }
            let mut bytes = Vec::with_capacity(raw.len() + 16);
            if ask {
                protocol::resp::encode_request(&[b"ASKING".as_slice()], &mut bytes);
            }
            bytes.extend_from_slice(raw);
            let n = if ask { 2 } else { 1 };
            let got = crate::backend::gather(vec![node
                .handle_proto(client.worker, client.conn_no, client.resp3)
                .send(bytes, n, n)])
            .await;
            match got.into_iter().next() {
                Some(Ok(r)) => reply = r.get(n - 1).to_vec(),
                Some(Err(e)) => {
                    reply.clear();
                    backend_error(&e, &mut reply);
                    break;
                }
                None => break,
            }
        }
        if let Ok(r) = &mut answers[*b] {
            r.replace(*i, &reply);
        }
    }
}

/// The error line a request gets when its server failed (twemproxy's words: the errno
/// text).
fn backend_error(e: &BackendError, out: &mut Vec<u8>) {
    out.extend_from_slice(b"-ERR ");
    out.extend_from_slice(e.text().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn reply_of(answers: &[Answer], batch: usize, idx: usize) -> Result<&[u8], &BackendError> {
    match &answers[batch] {
        Ok(r) => Ok(r.get(idx)),
        Err(e) => Err(e),
    }
}

fn assemble(p: &Plan, answers: &[Answer], out: &mut Vec<u8>, pool: &Pool) {
    match p {
        Plan::Local(b) => out.extend_from_slice(b),
        Plan::Forward { batch, idx } => match reply_of(answers, *batch, *idx) {
            Ok(r) => out.extend_from_slice(r),
            Err(e) => {
                pool.stats.forward_error.fetch_add(1, Relaxed);
                backend_error(e, out)
            }
        },
        Plan::Split { how, parts, keys } => merge(*how, parts, *keys, answers, out, pool),
    }
}

/// Merge a split command's part replies: MGET's arrays element by element in key order,
/// the sum of DEL & co.'s integers, MSET's OK. The first part that failed or answered an
/// error answers for the whole command.
fn merge(
    how: Split,
    parts: &[(usize, usize, Vec<usize>)],
    keys: usize,
    answers: &[Answer],
    out: &mut Vec<u8>,
    pool: &Pool,
) {
    let mut replies = Vec::with_capacity(parts.len());
    for (b, i, _) in parts {
        match reply_of(answers, *b, *i) {
            Ok(r) if r.first() == Some(&b'-') => {
                out.extend_from_slice(r);
                return;
            }
            Ok(r) => replies.push(r),
            Err(e) => {
                pool.stats.forward_error.fetch_add(1, Relaxed);
                backend_error(e, out);
                return;
            }
        }
    }
    match how {
        Split::Sum => {
            let mut sum = 0i64;
            for r in &replies {
                let n = r
                    .strip_prefix(b":")
                    .and_then(|r| r.strip_suffix(b"\r\n"))
                    .and_then(protocol::resp::parse_i64);
                match n {
                    Some(n) => sum += n,
                    None => {
                        out.extend_from_slice(b"-ERR unexpected reply from a server\r\n");
                        return;
                    }
                }
            }
            out.push(b':');
            out.extend_from_slice(itoa::Buffer::new().format(sum).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Split::Ok => out.extend_from_slice(b"+OK\r\n"),
        Split::Array => {
            // Each part's elements, then place them by key number.
            let mut slots: Vec<&[u8]> = vec![b"$-1\r\n"; keys];
            for ((_, _, nums), r) in parts.iter().zip(&replies) {
                let Some(elems) = array_elements(r) else {
                    out.extend_from_slice(b"-ERR unexpected reply from a server\r\n");
                    return;
                };
                if elems.len() != nums.len() {
                    out.extend_from_slice(b"-ERR unexpected reply from a server\r\n");
                    return;
                }
                for (k, e) in nums.iter().zip(elems) {
                    slots[*k] = e;
                }
            }
            out.push(b'*');
            out.extend_from_slice(itoa::Buffer::new().format(keys).as_bytes());
            out.extend_from_slice(b"\r\n");
            for s in slots {
                out.extend_from_slice(s);
            }
        }
    }
}

/// The elements of an array reply, each as its own bytes.
fn array_elements(r: &[u8]) -> Option<Vec<&[u8]>> {
    let nl = memchr::memmem::find(r, b"\r\n")?;
    if r.first() != Some(&b'*') {
        return None;
    }
    let n = protocol::resp::parse_i64(&r[1..nl])?;
    let mut pos = nl + 2;
    let mut v = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n.max(0) {
        let len = protocol::reply_len(&r[pos..]).ok()??;
        v.push(&r[pos..pos + len]);
        pos += len;
    }
    Some(v)
}

/// Decide where one request goes.
fn plan(client: &mut Client, state: &PoolState, args: Args<'_>, raw: &[u8], work: &mut Work) {
    let name = args.get(0);
    let table = CommandTable::get();
    let Some(spec) = table.lookup(name) else {
        work.error(&format!(
            "ERR unknown command '{}', with args beginning with: {}",
            String::from_utf8_lossy(name),
            args.iter()
                .skip(1)
                .map(|a| format!("'{}' ", String::from_utf8_lossy(a)))
                .collect::<String>()
        ));
        return;
    };
    if !spec.arity_ok(args.len()) || (spec.name == "mset" && args.len().is_multiple_of(2)) {
        work.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ));
        return;
    }
    // Commands the proxy answers itself.
    match spec.name {
        "auth" => return auth(client, state, args, work),
        "hello" => return hello(client, state, args, work),
        "quit" => {
            work.local(b"+OK\r\n".to_vec());
            work.close = true;
            return;
        }
        _ => {}
    }
    if state.cfg.redis_auth.is_some() && !client.authed {
        // nutcracker's words (Redis adds a period; clients match the NOAUTH prefix).
        work.error("NOAUTH Authentication required");
        return;
    }
    match spec.name {
        "ping" => {
            match args.try_get(1) {
                None => work.local(b"+PONG\r\n".to_vec()),
                Some(m) => work.local(bulk(m)),
            }
            return;
        }
        "echo" => {
            work.local(bulk(args.get(1)));
            return;
        }
        "select" => {
            // Every backend connection is in `redis_db`; only that database is reachable.
            if args.get(1) == state.cfg.redis_db.to_string().as_bytes() {
                work.local(b"+OK\r\n".to_vec());
            } else {
                work.error("ERR SELECT is not allowed through the proxy (the pool's database is set by redis_db)");
            }
            return;
        }
        _ => {}
    }
    // MOVE and COPY … DB would take keys out of the pool's database, where no client of
    // the proxy can reach them.
    let other_db = spec.name == "move"
        || (spec.name == "copy" && args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"db")));
    if spec.has(flags::BLOCKING)
        || spec.has(flags::PUBSUB)
        || other_db
        || matches!(
            spec.name,
            "watch" | "unwatch" | "multi" | "exec" | "discard" | "wait" | "waitaof"
        )
    {
        work.error(&format!(
            "ERR '{}' is not supported through the proxy (backend connections are shared)",
            spec.name
        ));
        return;
    }
    let keys = key_positions(spec, args);
    // COMMAND and LOLWUT describe the backend, not a key: nutcracker sends them to the
    // server of the key "placeholder", and so does the proxy.
    if keys.is_empty() && matches!(spec.name, "command" | "lolwut") {
        match state.locate(b"placeholder") {
            Ok((server, _)) => {
                let (batch, idx) = work.add(&server, raw);
                work.resend(state, batch, idx, raw);
                work.plans.push(Plan::Forward { batch, idx });
            }
            Err(_) => work.error("ERR Connection refused"),
        }
        return;
    }
    if keys.is_empty() {
        work.error(&format!(
            "ERR '{}' has no key to route by and is not supported through the proxy",
            spec.name
        ));
        return;
    }
    // The server of each key, and its group (server index, or slot in a cluster pool).
    let mut servers: Vec<(Arc<Server>, u32)> = Vec::with_capacity(keys.len());
    // `random` places no key anywhere in particular: a request goes whole to one server
    // (its first key's pick), as nutcracker sends it, never split or refused as cross-server.
    let one_pick = state.dist == crate::dist::DistKind::Random;
    for &p in &keys {
        if one_pick && !servers.is_empty() {
            servers.push(servers[0].clone());
            continue;
        }
        match state.locate(args.get(p)) {
            Ok(x) => servers.push(x),
            Err(_) => {
                client.pool.stats.forward_error.fetch_add(1, Relaxed);
                // nutcracker answers this when every server is ejected.
                work.error("ERR Connection refused");
                return;
            }
        }
    }
    if state.previous.is_some() {
        for (&p, (server, group)) in keys.iter().zip(&servers) {
            let key = args.get(p);
            let from = state.previous_for(key, *group as usize);
            if !from.is_empty() {
                work.moves.push(rebalance::Move {
                    key: key.to_vec(),
                    from,
                    to: server.clone(),
                });
            }
        }
    }
    let first = servers[0].1;
    if servers.iter().all(|s| s.1 == first) {
        let (batch, idx) = work.add(&servers[0].0, raw);
        work.resend(state, batch, idx, raw);
        work.plans.push(Plan::Forward { batch, idx });
        return;
    }
    let Some((how, per_key)) = splittable(spec) else {
        work.error("CROSSSLOT Keys in request don't hash to the same server");
        return;
    };
    // One request per group with its keys (and values) in the original order.
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    for (k, s) in servers.iter().enumerate() {
        match groups.iter_mut().find(|g| g.0 == s.1) {
            Some(g) => g.1.push(k),
            None => groups.push((s.1, vec![k])),
        }
    }
    client
        .pool
        .stats
        .fragments
        .fetch_add(groups.len() as u64, Relaxed);
    let mut parts = Vec::with_capacity(groups.len());
    let mut buf = Vec::new();
    for (_, nums) in groups {
        buf.clear();
        let mut part: Vec<&[u8]> = Vec::with_capacity(1 + nums.len() * per_key);
        part.push(name);
        for &k in &nums {
            let at = keys[k];
            for j in 0..per_key {
                part.push(args.get(at + j));
            }
        }
        protocol::resp::encode_request(&part, &mut buf);
        let (batch, idx) = work.add(&servers[nums[0]].0, &buf);
        work.resend(state, batch, idx, &buf);
        parts.push((batch, idx, nums));
    }
    work.plans.push(Plan::Split {
        how,
        parts,
        keys: keys.len(),
    });
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]: the protocol is the client's own
/// (RESP3 clients get RESP3 backend connections), AUTH as the AUTH command.
fn hello(client: &mut Client, state: &PoolState, args: Args<'_>, work: &mut Work) {
    let mut proto = if client.resp3 { 3 } else { 2 };
    if let Some(v) = args.try_get(1) {
        match v {
            b"2" => proto = 2,
            b"3" => proto = 3,
            _ => {
                work.error("NOPROTO unsupported protocol version");
                return;
            }
        }
    }
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i).to_ascii_lowercase();
        match opt.as_slice() {
            b"auth" if i + 2 < args.len() => {
                let Some(pw) = &state.cfg.redis_auth else {
                    work.error("ERR Client sent AUTH, but no password is set");
                    return;
                };
                if args.get(i + 2) != pw.as_bytes() {
                    client.authed = false;
                    work.error("WRONGPASS invalid username-password pair or user is disabled.");
                    return;
                }
                client.authed = true;
                i += 3;
            }
            b"setname" if i + 1 < args.len() => i += 2,
            _ => {
                work.error(&format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(args.get(i))
                ));
                return;
            }
        }
    }
    if state.cfg.redis_auth.is_some() && !client.authed {
        work.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    client.resp3 = proto == 3;
    let fields: [(&str, Vec<u8>); 7] = [
        ("server", bulk(b"redis")),
        ("version", bulk(b"7.0.0")),
        ("proto", format!(":{proto}\r\n").into_bytes()),
        ("id", format!(":{}\r\n", client.conn_no).into_bytes()),
        ("mode", bulk(b"proxy")),
        ("role", bulk(b"master")),
        ("modules", b"*0\r\n".to_vec()),
    ];
    let mut v = if proto == 3 {
        b"%7\r\n".to_vec()
    } else {
        b"*14\r\n".to_vec()
    };
    for (k, val) in fields {
        v.extend_from_slice(&bulk(k.as_bytes()));
        v.extend_from_slice(&val);
    }
    work.local(v);
}

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len() + 16);
    v.push(b'$');
    v.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
    v
}

/// AUTH against the pool's `redis_auth` (the proxy authenticates its own backend
/// connections; the client's password is checked here, as twemproxy does).
fn auth(client: &mut Client, state: &PoolState, args: Args<'_>, work: &mut Work) {
    let Some(pw) = &state.cfg.redis_auth else {
        work.error("ERR Client sent AUTH, but no password is set");
        return;
    };
    // AUTH password, or AUTH user password with the default user (Redis 6).
    let given = match args.len() {
        2 => args.get(1),
        3 if args.get(1) == b"default" => args.get(2),
        _ => {
            client.authed = false;
            work.error("WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
    };
    if given == pw.as_bytes() {
        client.authed = true;
        work.local(b"+OK\r\n".to_vec());
    } else {
        client.authed = false;
        work.error("ERR invalid password");
    }
}
