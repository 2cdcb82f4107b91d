//! A load generator for comparing rcache's front doors (RESP vs the binary protocol), and
//! for checking either against Redis over RESP.
//!
//! ```text
//! cargo run --release -p rcache-client --example load -- \
//!     --proto resp|resp3|binary --addr 127.0.0.1:6379 --op get|set \
//!     -c 50 -n 1000000 -d 100 -P 1 --keyspace 100000 --threads 2 [--populate]
//! ```
//!
//! Built to cost the server as little CPU as possible (client and server share the
//! machine's cores): `--threads` current-thread runtimes, one task per connection, each
//! keeping `-P` requests in flight over its own socket with reused buffers. Frames are
//! encoded and replies skipped with `rcache_client::codec` (the protocol crate's codecs),
//! without the `Connection` machinery (channels, owned values) in the way. `--populate`
//! writes every key of the keyspace first, through the client's own pipelines.
//!
//! Prints total requests, errors, misses (GET of a missing key), elapsed time, requests/s
//! and p50/p99/max latency (hdrhistogram, from a request's write to its reply), then one
//! `RESULT key=value …` line for scripts.

use clap::Parser;
use hdrhistogram::Histogram;
use rcache_client::codec::{self, encode_get, encode_set, reply_len};
use rcache_client::{Config, Connection, Proto};
use std::collections::VecDeque;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug, Clone)]
#[command(about = "Load generator for rcache's RESP and binary doors")]
struct Args {
    /// resp (RESP2), resp3 (HELLO 3 first) or binary.
    #[arg(long, default_value = "resp")]
    proto: Proto,
    #[arg(long, default_value = "127.0.0.1:6379")]
    addr: String,
    /// get or set.
    #[arg(long, default_value = "get")]
    op: Op,
    /// Connections.
    #[arg(short = 'c', long, default_value_t = 50)]
    connections: usize,
    /// Total requests.
    #[arg(short = 'n', long, default_value_t = 1_000_000)]
    requests: u64,
    /// Value size in bytes (SET, and --populate).
    #[arg(short = 'd', long, default_value_t = 100)]
    data_size: usize,
    /// Requests in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1)]
    pipeline: usize,
    /// Keys are key:000000000000 … key:<keyspace-1>, chosen at random.
    #[arg(long, default_value_t = 100_000)]
    keyspace: u64,
    /// Client runtimes (OS threads).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Before a GET run, SET every key of the keyspace.
    #[arg(long)]
    populate: bool,
    /// AUTH password.
    #[arg(long)]
    password: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Op {
    Get,
    Set,
}

/// What one connection did.
struct Outcome {
    done: u64,
    errors: u64,
    misses: u64,
    hist: Histogram<u64>,
    first_error: Option<String>,
}

fn main() {
    let args = Args::parse();
    if args.connections == 0 || args.pipeline == 0 || args.threads == 0 || args.keyspace == 0 {
        eprintln!("error: -c, -P, --threads and --keyspace must be at least 1");
        std::process::exit(2);
    }
    if args.populate && args.op == Op::Get {
        if let Err(e) = populate(&args) {
            eprintln!("error: populate: {e}");
            std::process::exit(1);
        }
    }

    let threads = args.threads.min(args.connections);
    let barrier = Arc::new(Barrier::new(threads));
    let value = Arc::new(vec![b'x'; args.data_size]);
    let mut handles = Vec::new();
    for t in 0..threads {
        // Connections and requests split as evenly as they go.
        let conns: Vec<usize> = (0..args.connections).filter(|i| i % threads == t).collect();
        let args = args.clone();
        let barrier = barrier.clone();
        let value = value.clone();
        handles.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut streams = Vec::new();
                for &i in &conns {
                    match open(&args).await {
                        Ok(s) => streams.push((i, s)),
                        Err(e) => {
                            eprintln!("error: connection {i}: {e}");
                            std::process::exit(1);
                        }
                    }
                }
                barrier.wait();
                let start = Instant::now();
                let mut tasks = Vec::new();
                for (i, s) in streams {
                    let quota = args.requests / args.connections as u64
                        + u64::from((i as u64) < args.requests % args.connections as u64);
                    tasks.push(tokio::spawn(drive(
                        s,
                        args.clone(),
                        value.clone(),
                        quota,
                        i as u64,
                    )));
                }
                let mut outs = Vec::new();
                for t in tasks {
                    outs.push(t.await.expect("connection task"));
                }
                (start, Instant::now(), outs)
            })
        }));
    }
    let mut start = None::<Instant>;
    let mut end = None::<Instant>;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    let (mut done, mut errors, mut misses) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    for h in handles {
        let (s, e, outs) = h.join().expect("load thread");
        start = Some(start.map_or(s, |x| x.min(s)));
        end = Some(end.map_or(e, |x| x.max(e)));
        for o in outs {
            done += o.done;
            errors += o.errors;
            misses += o.misses;
            hist.add(&o.hist).expect("merge histograms");
            if first_error.is_none() {
                first_error = o.first_error;
            }
        }
    }
    let elapsed = end.unwrap() - start.unwrap();
    let rps = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let ms = |ns: u64| ns as f64 / 1e6;
    let proto = match args.proto {
        Proto::Resp2 => "resp",
        Proto::Resp3 => "resp3",
        Proto::Binary => "binary",
    };
    let op = match args.op {
        Op::Get => "get",
        Op::Set => "set",
    };
    println!(
        "{proto} {op}: {} connections, pipeline {}, {} byte values, keyspace {}, {} threads",
        args.connections, args.pipeline, args.data_size, args.keyspace, threads
    );
    println!("requests:   {done}");
    println!("errors:     {errors}");
    if args.op == Op::Get {
        println!("misses:     {misses}");
    }
    println!("elapsed:    {:.3} s", elapsed.as_secs_f64());
    println!("requests/s: {rps:.0}");
    println!(
        "latency:    p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(hist.value_at_quantile(0.5)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.max())
    );
    if let Some(e) = &first_error {
        println!("first error: {e}");
    }
    println!(
        "RESULT proto={proto} op={op} c={} P={} d={} requests={done} errors={errors} misses={misses} elapsed_s={:.3} rps={rps:.0} p50_us={:.1} p99_us={:.1}",
        args.connections,
        args.pipeline,
        args.data_size,
        elapsed.as_secs_f64(),
        hist.value_at_quantile(0.5) as f64 / 1e3,
        hist.value_at_quantile(0.99) as f64 / 1e3,
    );
    if errors > 0 || done < args.requests {
        std::process::exit(1);
    }
}

/// SET every key of the keyspace, 1000 per batch, over one client connection.
fn populate(args: &Args) -> rcache_client::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut cfg =
            Config::new(args.addr.clone(), args.proto).with_timeout(Some(Duration::from_secs(60)));
        cfg.password = args.password.clone();
        let conn = Connection::connect(&cfg).await?;
        let value = vec![b'x'; args.data_size];
        let mut key = Vec::new();
        let mut k = 0;
        while k < args.keyspace {
            let mut p = conn.pipe();
            for i in k..(k + 1000).min(args.keyspace) {
                write_key(&mut key, i);
                p.set(&key, &value);
            }
            p.query_strict().await?;
            k += 1000;
        }
        Ok(())
    })
}

/// `key:` and the number in 12 digits, as redis-benchmark's `key:__rand_int__`.
fn write_key(out: &mut Vec<u8>, n: u64) {
    out.clear();
    out.extend_from_slice(b"key:");
    let mut b = itoa::Buffer::new();
    let digits = b.format(n).as_bytes();
    for _ in digits.len()..12 {
        out.push(b'0');
    }
    out.extend_from_slice(digits);
}

/// Connect and do the handshake the protocol needs (binary HELLO, HELLO 3 with AUTH, AUTH),
/// within 10 s: the wrong door for `--proto` (e.g. binary against Redis) fails instead of
/// hanging.
async fn open(args: &Args) -> Result<TcpStream, String> {
    match tokio::time::timeout(Duration::from_secs(10), handshake(args)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer to the handshake within 10 s: is {} a {:?} port?",
            args.addr, args.proto
        )),
    }
}

async fn handshake(args: &Args) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(&args.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", args.addr))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let pass = args.password.as_deref().map(str::as_bytes);
    match (args.proto, pass) {
        (Proto::Binary, _) => {
            let mut out = Vec::new();
            protocol::binary::encode_request(&mut out, protocol::binary::op::HELLO, &[]);
            frames.push(out);
        }
        (Proto::Resp3, Some(p)) => frames.push(resp(&[b"HELLO", b"3", b"AUTH", b"default", p])),
        (Proto::Resp3, None) => frames.push(resp(&[b"HELLO", b"3"])),
        _ => {}
    }
    if let (Proto::Resp2 | Proto::Binary, Some(p)) = (args.proto, pass) {
        let mut out = Vec::new();
        codec::encode_command(args.proto, &[b"AUTH".as_slice(), p], &mut out);
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
            match reply_len(args.proto, &buf)? {
                Some((_, true)) => {
                    // A binary ERROR's message follows its 6-byte header.
                    let msg = match args.proto {
                        Proto::Binary => buf.get(6..).unwrap_or_default(),
                        _ => &buf[..],
                    };
                    return Err(format!(
                        "handshake refused: {}",
                        String::from_utf8_lossy(msg).trim_end()
                    ));
                }
                Some(_) => break,
                None => {}
            }
        }
    }
    Ok(s)
}

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_command(Proto::Resp2, args, &mut out);
    out
}

/// Is the complete reply `frame` a null (GET of a missing key)?
fn is_nil(proto: Proto, frame: &[u8]) -> bool {
    match proto {
        Proto::Binary => frame.get(1) == Some(&protocol::binary::code::NOT_FOUND),
        _ => frame.starts_with(b"$-1\r\n") || frame.starts_with(b"_\r\n"),
    }
}

/// One connection: keep `-P` requests in flight until `quota` replies have come back.
async fn drive(
    mut s: TcpStream,
    args: Args,
    value: Arc<Vec<u8>>,
    quota: u64,
    seed: u64,
) -> Outcome {
    let mut out = Outcome {
        done: 0,
        errors: 0,
        misses: 0,
        hist: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram"),
        first_error: None,
    };
    // xorshift64*: cheap, and a distinct stream per connection.
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next_key = move || {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut key = Vec::with_capacity(16);
    let mut wbuf: Vec<u8> = Vec::with_capacity(args.pipeline * (64 + args.data_size));
    let mut rbuf: Vec<u8> = vec![0; 64 * 1024];
    let (mut filled, mut start) = (0usize, 0usize);
    let mut sent_at: VecDeque<Instant> = VecDeque::with_capacity(args.pipeline);
    let mut sent = 0u64;
    while out.done < quota {
        // Top the window up, in one write.
        wbuf.clear();
        let now = Instant::now();
        while sent_at.len() < args.pipeline && sent < quota {
            write_key(&mut key, next_key() % args.keyspace);
            match args.op {
                Op::Get => encode_get(args.proto, &key, &mut wbuf),
                Op::Set => encode_set(args.proto, &key, &value, None, &mut wbuf),
            }
            sent_at.push_back(now);
            sent += 1;
        }
        if !wbuf.is_empty() {
            if let Err(e) = s.write_all(&wbuf).await {
                out.first_error = Some(format!("write: {e}"));
                out.errors += quota - out.done;
                return out;
            }
        }
        // Read until at least one reply is complete, then take every complete one.
        loop {
            let mut got = 0;
            loop {
                match reply_len(args.proto, &rbuf[start..filled]) {
                    Ok(Some((n, is_err))) => {
                        let t = sent_at
                            .pop_front()
                            .expect("a reply for a request in flight");
                        let _ = out.hist.record(t.elapsed().as_nanos().max(1) as u64);
                        if is_err {
                            out.errors += 1;
                            if out.first_error.is_none() {
                                out.first_error = Some(
                                    String::from_utf8_lossy(&rbuf[start..start + n])
                                        .trim_end()
                                        .to_string(),
                                );
                            }
                        } else if is_nil(args.proto, &rbuf[start..start + n]) {
                            out.misses += 1;
                        }
                        out.done += 1;
                        start += n;
                        got += 1;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.first_error = Some(e);
                        out.errors += quota - out.done;
                        return out;
                    }
                }
            }
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
            if got > 0 {
                break;
            }
            match s.read(&mut rbuf[filled..]).await {
                Ok(0) => {
                    out.first_error = Some("the server closed the connection".into());
                    out.errors += quota - out.done;
                    return out;
                }
                Ok(n) => filled += n,
                Err(e) => {
                    out.first_error = Some(format!("read: {e}"));
                    out.errors += quota - out.done;
                    return out;
                }
            }
        }
    }
    out
}
