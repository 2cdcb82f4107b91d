//! The load engine: `threads` OS threads, each a current-thread tokio runtime driving its
//! share of the connections (one task per connection, its own socket and reused buffers),
//! as the client crate's `load` example does, so the tool costs the server's cores little.
//!
//! Closed loop: each connection keeps `pipeline` requests in flight, topping the window up
//! in one write as replies come back; latency runs from a request's write to its reply.
//! Open loop (`rate`): each connection has a schedule (request `i` is due at
//! `start + i / rate_per_connection`) and sends what is due while its window has room;
//! latency runs from the *intended* send time, so a stalled server is charged for the
//! requests it delayed (coordinated-omission correction, as wrk2).
//!
//! Every connection records into its own HDR histogram and per-second counters; they are
//! merged when the run ends. Live progress goes through one pair of atomics per thread,
//! updated once per read batch.

use crate::keys::{write_key, KeyGen};
use crate::wire::{self, Kind, Reply};
use crate::workload::{Op, Proto, Stop, Target, Workload};
use hdrhistogram::Histogram;
use rand::Rng;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Latencies are recorded in nanoseconds, up to one hour (larger values are clamped).
const HIST_MAX_NS: u64 = 3_600_000_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("histogram bounds")
}

/// What a run measured. Invariants: `sent = received + lost`;
/// `received = gets + sets + others + server_errors`; `gets = hits + misses`.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Requests sent in the measured phase (after warm-up).
    pub sent: u64,
    /// Replies received to those.
    pub received: u64,
    /// GET replies that were not errors (hits + misses).
    pub gets: u64,
    pub hits: u64,
    pub misses: u64,
    /// SET replies that were not errors.
    pub sets: u64,
    /// Replies to other operations that were not errors.
    pub others: u64,
    /// Error replies (the connection goes on).
    pub server_errors: u64,
    /// Connections closed by the server, or broken (I/O or framing error).
    pub dropped: u64,
    /// Connections that waited `timeout` for a reply, and were closed.
    pub timeouts: u64,
    /// Measured requests in flight on a connection when it dropped or timed out.
    pub lost: u64,
    /// Requests sent during the warm-up (not in any other figure).
    pub warmup_requests: u64,
    /// Value bytes moved: SET values sent (acknowledged) plus GET hit values received.
    pub value_bytes: u64,
    /// Latency of every measured reply, nanoseconds.
    pub hist: Histogram<u64>,
    /// Measured replies per second of the run (index = whole seconds since the measured
    /// phase began).
    pub per_second: Vec<u64>,
    /// The first error seen (reply text, or what broke the connection).
    pub first_error: Option<String>,
    /// From the end of the warm-up to the last measured reply.
    pub elapsed: Duration,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            sent: 0,
            received: 0,
            gets: 0,
            hits: 0,
            misses: 0,
            sets: 0,
            others: 0,
            server_errors: 0,
            dropped: 0,
            timeouts: 0,
            lost: 0,
            warmup_requests: 0,
            value_bytes: 0,
            hist: new_histogram(),
            per_second: Vec::new(),
            first_error: None,
            elapsed: Duration::ZERO,
        }
    }

    fn merge(&mut self, o: Stats) {
        self.sent += o.sent;
        self.received += o.received;
        self.gets += o.gets;
        self.hits += o.hits;
        self.misses += o.misses;
        self.sets += o.sets;
        self.others += o.others;
        self.server_errors += o.server_errors;
        self.dropped += o.dropped;
        self.timeouts += o.timeouts;
        self.lost += o.lost;
        self.warmup_requests += o.warmup_requests;
        self.value_bytes += o.value_bytes;
        self.hist.add(&o.hist).expect("histograms of equal bounds");
        if self.per_second.len() < o.per_second.len() {
            self.per_second.resize(o.per_second.len(), 0);
        }
        for (a, b) in self.per_second.iter_mut().zip(&o.per_second) {
            *a += b;
        }
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.elapsed = self.elapsed.max(o.elapsed);
    }

    /// Every error, of every kind.
    pub fn errors(&self) -> u64 {
        self.server_errors + self.dropped + self.timeouts
    }
}

/// One thread's live counters, on its own cache line.
#[repr(align(64))]
#[derive(Default)]
struct LiveSlot {
    done: AtomicU64,
    errors: AtomicU64,
}

/// What the progress callback sees: replies so far (warm-up included) and errors.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub done: u64,
    pub errors: u64,
}

/// Read-only state every connection shares.
struct Shared {
    w: Workload,
    /// `data_max` bytes of `x`: values are prefixes of it.
    value: Vec<u8>,
    /// Extra HTTP header lines (authorization), each ending in CRLF.
    http_headers: Vec<u8>,
}

/// Run `w` against `target`: connect every connection, then load until the stop condition,
/// calling `tick` about five times a second from this thread. `Err` when the run could not
/// start (a connection or its handshake failed); errors during the run are counted in the
/// `Stats`.
pub fn run(target: &Target, w: &Workload, mut tick: impl FnMut(Progress)) -> Result<Stats, String> {
    w.validate()?;
    let threads = w.threads.min(w.connections);
    let mut http_headers = Vec::new();
    if let (Proto::Http, Some(p)) = (w.proto, &w.password) {
        http_headers.extend_from_slice(format!("Authorization: Bearer {p}\r\n").as_bytes());
    }
    let shared = Arc::new(Shared {
        w: w.clone(),
        value: vec![b'x'; w.data_max],
        http_headers,
    });
    let slots: Arc<Vec<LiveSlot>> = Arc::new((0..threads).map(|_| LiveSlot::default()).collect());
    let barrier = Arc::new(Barrier::new(threads));
    let failed = Arc::new(AtomicBool::new(false));
    let base = Arc::new(OnceLock::<Instant>::new());
    let mut handles = Vec::new();
    for t in 0..threads {
        let conns: Vec<usize> = (0..w.connections).filter(|i| i % threads == t).collect();
        let (shared, slots, barrier, failed, base) = (
            shared.clone(),
            slots.clone(),
            barrier.clone(),
            failed.clone(),
            base.clone(),
        );
        let addr = target.addr.clone();
        let h = std::thread::Builder::new()
            .name(format!("bench-{t}"))
            .spawn(move || -> Result<Stats, String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("runtime: {e}"))?;
                rt.block_on(async move {
                    let mut streams = Vec::new();
                    let mut err = None;
                    for &i in &conns {
                        match open(&addr, &shared.w).await {
                            Ok(s) => streams.push((i, s)),
                            Err(e) => {
                                err = Some(format!("connection {i} to {addr}: {e}"));
                                failed.store(true, Relaxed);
                                break;
                            }
                        }
                    }
                    // Every thread reaches the barrier, failed or not, so none waits forever.
                    barrier.wait();
                    if let Some(e) = err {
                        return Err(e);
                    }
                    if failed.load(Relaxed) {
                        return Ok(Stats::new());
                    }
                    let start = *base.get_or_init(Instant::now);
                    let mut tasks = Vec::new();
                    for (i, s) in streams {
                        tasks.push(tokio::spawn(drive(
                            s,
                            shared.clone(),
                            i,
                            start,
                            slots.clone(),
                            t,
                        )));
                    }
                    let mut total = Stats::new();
                    for task in tasks {
                        total.merge(task.await.map_err(|e| format!("connection task: {e}"))?);
                    }
                    Ok(total)
                })
            })
            .map_err(|e| format!("spawn a thread: {e}"))?;
        handles.push(h);
    }
    // The progress display polls: the load threads never wait for it.
    let started = Instant::now();
    let mut last_tick = started;
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
        if last_tick.elapsed() >= Duration::from_millis(200) {
            last_tick = Instant::now();
            tick(progress(&slots, started));
        }
    }
    tick(progress(&slots, started));
    let mut total = Stats::new();
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(s)) => total.merge(s),
            Ok(Err(e)) => first_err = first_err.or(Some(e)),
            Err(_) => first_err = first_err.or(Some("a load thread panicked".to_string())),
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

fn progress(slots: &[LiveSlot], started: Instant) -> Progress {
    Progress {
        elapsed: started.elapsed(),
        done: slots.iter().map(|s| s.done.load(Relaxed)).sum(),
        errors: slots.iter().map(|s| s.errors.load(Relaxed)).sum(),
    }
}

/// Connect and do the handshake the protocol needs (binary HELLO, RESP3 HELLO 3, AUTH),
/// within the request timeout: the wrong door for `--proto` fails instead of hanging.
async fn open(addr: &str, w: &Workload) -> Result<TcpStream, String> {
    match tokio::time::timeout(w.timeout, handshake(addr, w)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer to the handshake within {:?}: is it a {} port?",
            w.timeout,
            w.proto.name()
        )),
    }
}

async fn handshake(addr: &str, w: &Workload) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let pass = w.password.as_deref().map(str::as_bytes);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    match (w.proto, pass) {
        (Proto::Binary, _) => {
            let mut out = Vec::new();
            protocol::binary::encode_request(&mut out, protocol::binary::op::HELLO, &[]);
            frames.push(out);
        }
        (Proto::Resp3, Some(p)) => {
            let mut out = Vec::new();
            wire::encode_command(
                Proto::Resp,
                &[b"HELLO".as_slice(), b"3", b"AUTH", b"default", p],
                &mut out,
            );
            frames.push(out);
        }
        (Proto::Resp3, None) => {
            let mut out = Vec::new();
            wire::encode_command(Proto::Resp, &[b"HELLO".as_slice(), b"3"], &mut out);
            frames.push(out);
        }
        _ => {}
    }
    if let (Proto::Resp | Proto::Binary, Some(p)) = (w.proto, pass) {
        let mut out = Vec::new();
        wire::encode_command(w.proto, &[b"AUTH".as_slice(), p], &mut out);
        frames.push(out);
    }
    for frame in frames {
        s.write_all(&frame).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection during the handshake".into());
            }
            buf.extend_from_slice(&chunk[..n]);
            let client = wire::client_proto(w.proto);
            match rcache_client::codec::reply_len(client, &buf)? {
                Some((_, true)) => {
                    return Err(format!(
                        "handshake refused: {}",
                        wire::error_text(w.proto, &buf)
                    ))
                }
                Some(_) => break,
                None => {}
            }
        }
    }
    Ok(s)
}

/// A request in flight: when its latency starts, what it was, its value size, and whether
/// it belongs to the measured phase.
struct InFlight {
    t: Instant,
    kind: Kind,
    len: u32,
    measured: bool,
}

/// Encodes requests for one connection.
struct Encoder {
    keys: KeyGen,
    key: Vec<u8>,
    args: Vec<Vec<u8>>,
}

impl Encoder {
    fn encode(&mut self, sh: &Shared, out: &mut Vec<u8>) -> (Kind, u32) {
        let w = &sh.w;
        let n = self.keys.next_key();
        write_key(&mut self.key, w.key_prefix.as_bytes(), n);
        let len = if w.data_min == w.data_max {
            w.data_max
        } else {
            self.keys.rng().random_range(w.data_min..=w.data_max)
        };
        let data = &sh.value[..len];
        let key = &self.key[..];
        let op = match &w.op {
            Op::Mixed { get, set } => {
                if self.keys.rng().random_range(0..get + set) < *get {
                    &Op::Get
                } else {
                    &Op::Set
                }
            }
            op => op,
        };
        match op {
            Op::Get => {
                wire::encode_get(w.proto, key, &sh.http_headers, out);
                (Kind::Get, 0)
            }
            Op::Set => {
                wire::encode_set(w.proto, key, data, &sh.http_headers, out);
                (Kind::Set, len as u32)
            }
            Op::Incr => {
                wire::encode_command(w.proto, &[b"INCR".as_slice(), key], out);
                (Kind::Other, 0)
            }
            Op::Lpush => {
                wire::encode_command(w.proto, &[b"LPUSH".as_slice(), key, data], out);
                (Kind::Other, len as u32)
            }
            Op::Hset => {
                wire::encode_command(w.proto, &[b"HSET".as_slice(), key, b"field", data], out);
                (Kind::Other, len as u32)
            }
            Op::Zadd => {
                let score: u32 = self.keys.rng().random();
                let mut b = itoa::Buffer::new();
                let score = b.format(score).as_bytes();
                wire::encode_command(w.proto, &[b"ZADD".as_slice(), b"zset", score, key], out);
                (Kind::Other, 0)
            }
            Op::Template(t) => {
                self.args.resize_with(t.len(), Vec::new);
                for (a, tpl) in self.args.iter_mut().zip(t) {
                    fill(tpl.as_bytes(), key, data, a);
                }
                wire::encode_command(w.proto, &self.args, out);
                let kind = if t[0].eq_ignore_ascii_case("get") {
                    Kind::Get
                } else {
                    Kind::Other
                };
                (kind, 0)
            }
            Op::Mixed { .. } => unreachable!("resolved above"),
        }
    }
}

/// `tpl` with every `__key__` and `__data__` replaced, into `out` (cleared first).
fn fill(tpl: &[u8], key: &[u8], data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut rest = tpl;
    while let Some(i) = memchr::memchr(b'_', rest) {
        let (before, at) = rest.split_at(i);
        out.extend_from_slice(before);
        if let Some(r) = at.strip_prefix(b"__key__") {
            out.extend_from_slice(key);
            rest = r;
        } else if let Some(r) = at.strip_prefix(b"__data__") {
            out.extend_from_slice(data);
            rest = r;
        } else {
            out.push(b'_');
            rest = &at[1..];
        }
    }
    out.extend_from_slice(rest);
}

/// One connection, from the start of the run to its stop condition.
async fn drive(
    mut s: TcpStream,
    sh: Arc<Shared>,
    idx: usize,
    base: Instant,
    slots: Arc<Vec<LiveSlot>>,
    thread: usize,
) -> Stats {
    let w = &sh.w;
    let live = &slots[thread];
    let conns = w.connections as u64;
    let mut st = Stats::new();
    let measure_start = base + w.warmup;
    let measure_end = match w.stop {
        Stop::Duration(d) => Some(measure_start + d),
        Stop::Requests(_) => None,
    };
    let quota = match w.stop {
        Stop::Requests(n) => Some(n / conns + u64::from((idx as u64) < n % conns)),
        Stop::Duration(_) => None,
    };
    // Open loop: this connection's share of the rate; request i is due at base + i / rate.
    let rate = w.rate.map(|r| r / conns as f64);
    let due = |i: u64| base + Duration::from_secs_f64(i as f64 / rate.unwrap_or(1.0));
    let mut enc = Encoder {
        keys: KeyGen::new(w.dist, w.keyspace, w.seed, idx as u64, conns),
        key: Vec::with_capacity(w.key_prefix.len() + 20),
        args: Vec::new(),
    };
    let p = w.pipeline;
    let mut wbuf: Vec<u8> = Vec::with_capacity(p * (96 + w.data_max));
    let mut rbuf: Vec<u8> = vec![0; 64 * 1024];
    let (mut filled, mut start) = (0usize, 0usize);
    let mut inflight: VecDeque<InFlight> = VecDeque::with_capacity(p);
    let (mut scheduled, mut measured_sent) = (0u64, 0u64);
    let mut sending = true;
    let mut last_reply = measure_start;

    // Ends the connection: everything measured still in flight is lost.
    let broken = |st: &mut Stats, inflight: &VecDeque<InFlight>, why: String, timeout: bool| {
        if timeout {
            st.timeouts += 1;
        } else {
            st.dropped += 1;
        }
        st.lost += inflight.iter().filter(|f| f.measured).count() as u64;
        st.first_error.get_or_insert(why);
        live.errors.fetch_add(1, Relaxed);
    };

    'run: loop {
        // Top the window up with what is due, in one write.
        let now = Instant::now();
        wbuf.clear();
        while sending && inflight.len() < p {
            let t = if rate.is_some() { due(scheduled) } else { now };
            if t > now {
                break;
            }
            let measured = t >= measure_start;
            if measured
                && (quota.is_some_and(|q| measured_sent >= q)
                    || measure_end.is_some_and(|e| t >= e))
            {
                sending = false;
                break;
            }
            let (kind, len) = enc.encode(&sh, &mut wbuf);
            inflight.push_back(InFlight {
                t,
                kind,
                len,
                measured,
            });
            scheduled += 1;
            if measured {
                measured_sent += 1;
                st.sent += 1;
            } else {
                st.warmup_requests += 1;
            }
        }
        if !wbuf.is_empty() {
            if let Err(e) = s.write_all(&wbuf).await {
                broken(&mut st, &inflight, format!("write: {e}"), false);
                break 'run;
            }
        }
        if inflight.is_empty() {
            if !sending {
                break 'run;
            }
            if rate.is_some() {
                tokio::time::sleep_until(due(scheduled).into()).await;
            }
            continue;
        }
        // Wait for replies; in the open loop, also for the next request's due time when
        // the window has room for it.
        let wake = (sending && rate.is_some() && inflight.len() < p).then(|| due(scheduled));
        let read = tokio::time::timeout(w.timeout, s.read(&mut rbuf[filled..]));
        let got = match wake {
            Some(t) => tokio::select! {
                r = read => Some(r),
                _ = tokio::time::sleep_until(t.into()) => None,
            },
            None => Some(read.await),
        };
        match got {
            None => continue,
            Some(Err(_)) => {
                let why = format!("no reply within {:?}", w.timeout);
                broken(&mut st, &inflight, why, true);
                break 'run;
            }
            Some(Ok(Ok(0))) => {
                let why = "the server closed the connection".to_string();
                broken(&mut st, &inflight, why, false);
                break 'run;
            }
            Some(Ok(Err(e))) => {
                broken(&mut st, &inflight, format!("read: {e}"), false);
                break 'run;
            }
            Some(Ok(Ok(n))) => filled += n,
        }
        // Take every complete reply.
        let now = Instant::now();
        let mut got = 0u64;
        loop {
            let (n, reply) = match wire::parse_reply(w.proto, &rbuf[start..filled]) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    broken(&mut st, &inflight, e, false);
                    break 'run;
                }
            };
            let Some(f) = inflight.pop_front() else {
                broken(&mut st, &inflight, "a reply nobody asked for".into(), false);
                break 'run;
            };
            if f.measured {
                st.received += 1;
                let ns = now.saturating_duration_since(f.t).as_nanos().max(1) as u64;
                st.hist.saturating_record(ns.min(HIST_MAX_NS));
                let sec = now.saturating_duration_since(measure_start).as_secs() as usize;
                if st.per_second.len() <= sec {
                    st.per_second.resize(sec + 1, 0);
                }
                st.per_second[sec] += 1;
                last_reply = now;
                match (f.kind, reply) {
                    (_, Reply::Error) => {
                        st.server_errors += 1;
                        if st.first_error.is_none() {
                            st.first_error =
                                Some(wire::error_text(w.proto, &rbuf[start..start + n]));
                        }
                        live.errors.fetch_add(1, Relaxed);
                    }
                    (Kind::Get, Reply::Miss) => {
                        st.gets += 1;
                        st.misses += 1;
                    }
                    (Kind::Get, Reply::Hit(len)) => {
                        st.gets += 1;
                        st.hits += 1;
                        st.value_bytes += len as u64;
                    }
                    (Kind::Get, Reply::Ok) => {
                        st.gets += 1;
                        st.hits += 1;
                    }
                    (Kind::Set, _) => {
                        st.sets += 1;
                        st.value_bytes += u64::from(f.len);
                    }
                    (Kind::Other, _) => st.others += 1,
                }
            }
            start += n;
            got += 1;
        }
        live.done.fetch_add(got, Relaxed);
        // Keep the unread tail at the front of a buffer big enough for it.
        if start == filled {
            start = 0;
            filled = 0;
        } else if start > 0 && filled == rbuf.len() {
            rbuf.copy_within(start..filled, 0);
            filled -= start;
            start = 0;
        }
        if filled == rbuf.len() {
            rbuf.resize(rbuf.len() * 2, 0);
        }
    }
    st.elapsed = last_reply.saturating_duration_since(measure_start);
    st
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn templates_fill_placeholders() {
        let mut out = Vec::new();
        fill(b"a__key__b__data___c_", b"K", b"D", &mut out);
        assert_eq!(out, b"aKbD_c_");
    }
}
