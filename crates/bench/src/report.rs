//! The report of one run: figures computed once from [`Stats`] into a [`Report`] (which is
//! also the JSON object, field for field), then printed as text — the seed's Go tool's lines
//! first, so its tables can be reproduced line by line, then autocannon-style tables — or
//! as CSV. docs/BENCHMARKS.md documents every field.

use crate::engine::Stats;
use crate::workload::{Stop, Target, Workload};
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub addr: String,
    pub proto: String,
    pub op: String,
    pub distribution: String,
    pub keyspace: u64,
    pub data_size_min: usize,
    pub data_size_max: usize,
    pub key_prefix: String,
    pub connections: usize,
    pub pipeline: usize,
    pub threads: usize,
    /// `closed` or `open` (fixed rate).
    pub mode: String,
    pub rate: Option<f64>,
    pub warmup_s: f64,
    /// The request count asked for (`null` for a timed run).
    pub planned: Option<u64>,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub gets: u64,
    pub hits: u64,
    pub misses: u64,
    pub sets: u64,
    pub others: u64,
    pub errors: Errors,
    pub warmup_requests: u64,
    pub elapsed_s: f64,
    pub rps: f64,
    pub value_bytes: u64,
    pub mb_per_s: f64,
    pub latency_us: Latency,
    pub under_ms: Vec<UnderMs>,
    pub rps_samples: RpsSamples,
    pub per_second: Vec<u64>,
    pub curve: Vec<CurvePoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Errors {
    pub total: u64,
    pub server: u64,
    pub dropped: u64,
    pub timeout: u64,
    pub first: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub min: f64,
    pub avg: f64,
    pub stdev: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
}

/// "`percent`% requests < `ms` ms", as the Go tool prints it (percent rounded down).
#[derive(Debug, Clone, Serialize)]
pub struct UnderMs {
    pub ms: u64,
    pub percent: u64,
}

/// Requests per second over the run's whole seconds.
#[derive(Debug, Clone, Serialize)]
pub struct RpsSamples {
    pub count: usize,
    pub min: u64,
    pub p50: u64,
    pub max: u64,
    pub mean: f64,
    pub stdev: f64,
}

/// One point of the latency percentile curve (for plots).
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    pub percentile: f64,
    pub latency_us: f64,
}

impl Report {
    pub fn new(target: &Target, w: &Workload, st: &Stats) -> Report {
        let h = &st.hist;
        let us = |ns: u64| ns as f64 / 1e3;
        let q = |p: f64| {
            if h.is_empty() {
                0.0
            } else {
                us(h.value_at_quantile(p))
            }
        };
        let elapsed = st.elapsed.as_secs_f64();
        let rps = if elapsed > 0.0 {
            st.received as f64 / elapsed
        } else {
            0.0
        };
        // Cumulative share under each whole millisecond that holds any reply.
        let mut under_ms = Vec::new();
        if let Some(total) = std::num::NonZeroU64::new(h.len()) {
            let mut per_ms = std::collections::BTreeMap::<u64, u64>::new();
            for v in h.iter_recorded() {
                let ms = h.highest_equivalent(v.value_iterated_to()) / 1_000_000;
                *per_ms.entry(ms).or_default() += v.count_at_value();
            }
            let mut cum = 0;
            for (ms, n) in per_ms {
                cum += n;
                under_ms.push(UnderMs {
                    ms: ms + 1,
                    percent: cum * 100 / total,
                });
            }
        }
        // Whole seconds only: a last partial second would read as a drop in throughput.
        let full = (st.elapsed.as_secs() as usize).min(st.per_second.len());
        let mut samples: Vec<u64> = st.per_second[..full].to_vec();
        if samples.is_empty() {
            samples.push(rps.round() as u64);
        }
        let per_second = samples.clone();
        samples.sort_unstable();
        let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
        let var = samples
            .iter()
            .map(|&s| (s as f64 - mean).powi(2))
            .sum::<f64>()
            / samples.len() as f64;
        let mut curve = Vec::new();
        if !h.is_empty() {
            // x = -log10(1 - p) from 0 (p0) to 5 (p99.999) in steps of 0.05.
            for i in 0..=100 {
                let p = 1.0 - 10f64.powf(-(i as f64) * 0.05);
                curve.push(CurvePoint {
                    percentile: p * 100.0,
                    latency_us: us(h.value_at_quantile(p)),
                });
            }
        }
        Report {
            target: target.name.clone(),
            addr: target.addr.clone(),
            proto: w.proto.name().into(),
            op: w.op.name(),
            distribution: w.dist.name(),
            keyspace: w.keyspace,
            data_size_min: w.data_min,
            data_size_max: w.data_max,
            key_prefix: w.key_prefix.clone(),
            connections: w.connections,
            pipeline: w.pipeline,
            threads: w.threads.min(w.connections),
            mode: if w.rate.is_some() { "open" } else { "closed" }.into(),
            rate: w.rate,
            warmup_s: w.warmup.as_secs_f64(),
            planned: match w.stop {
                Stop::Requests(n) => Some(n),
                Stop::Duration(_) => None,
            },
            sent: st.sent,
            received: st.received,
            lost: st.lost,
            gets: st.gets,
            hits: st.hits,
            misses: st.misses,
            sets: st.sets,
            others: st.others,
            errors: Errors {
                total: st.errors(),
                server: st.server_errors,
                dropped: st.dropped,
                timeout: st.timeouts,
                first: st.first_error.clone(),
            },
            warmup_requests: st.warmup_requests,
            elapsed_s: elapsed,
            rps,
            value_bytes: st.value_bytes,
            mb_per_s: if elapsed > 0.0 {
                st.value_bytes as f64 / 1e6 / elapsed
            } else {
                0.0
            },
            latency_us: Latency {
                min: if h.is_empty() { 0.0 } else { us(h.min()) },
                avg: if h.is_empty() { 0.0 } else { h.mean() / 1e3 },
                stdev: if h.is_empty() { 0.0 } else { h.stdev() / 1e3 },
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p99_9: q(0.999),
                p99_99: q(0.9999),
                max: if h.is_empty() { 0.0 } else { us(h.max()) },
            },
            under_ms,
            rps_samples: RpsSamples {
                count: samples.len(),
                min: samples[0],
                p50: samples[(samples.len() - 1) / 2],
                max: samples[samples.len() - 1],
                mean,
                stdev: var.sqrt(),
            },
            per_second,
            curve,
        }
    }

    /// The text report.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let (host, port) = self.addr.rsplit_once(':').unwrap_or((&self.addr, ""));
        let size = if self.data_size_min == self.data_size_max {
            self.data_size_max.to_string()
        } else {
            format!("{}-{}", self.data_size_min, self.data_size_max)
        };
        // The seed's Go tool, line for line ("records get" are GETs that found a value).
        let _ = writeln!(o, "== {} ==", self.target);
        let _ = writeln!(o, "type is {}", self.proto);
        let _ = writeln!(o, "server is {host}");
        let _ = writeln!(o, "port is {port}");
        let _ = writeln!(o, "total {} requests", self.sent);
        let _ = writeln!(o, "data size is {size}");
        let _ = writeln!(o, "we have {} connections", self.connections);
        let _ = writeln!(o, "operation is {}", self.op);
        let _ = writeln!(o, "keyspacelen is {}", self.keyspace);
        let _ = writeln!(o, "pipeline length is {}", self.pipeline);
        let _ = writeln!(o, "{} records get", self.hits);
        let _ = writeln!(o, "{} records miss", self.misses);
        let _ = writeln!(o, "{} records set", self.sets);
        let _ = writeln!(o, "{:.6} seconds total", self.elapsed_s);
        for u in &self.under_ms {
            let _ = writeln!(o, "{}% requests < {} ms", u.percent, u.ms);
        }
        let _ = writeln!(
            o,
            "{:.0} usec average for each request",
            self.latency_us.avg
        );
        let _ = writeln!(o, "throughput is {:.6} MB/s", self.mb_per_s);
        let _ = writeln!(o, "rps is {:.6}", self.rps);
        // What the Go tool did not print.
        let e = &self.errors;
        let _ = writeln!(
            o,
            "distribution {}, key prefix {:?}, {} threads, {} loop{}{}",
            self.distribution,
            self.key_prefix,
            self.threads,
            self.mode,
            self.rate
                .map(|r| format!(" at {r} rps"))
                .unwrap_or_default(),
            if self.warmup_s > 0.0 {
                format!(
                    ", warm-up {} s ({} requests)",
                    self.warmup_s, self.warmup_requests
                )
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            o,
            "sent {} received {} lost {}{}; other replies {}",
            self.sent,
            self.received,
            self.lost,
            self.planned
                .map(|p| format!(" (planned {p})"))
                .unwrap_or_default(),
            self.others
        );
        let _ = writeln!(
            o,
            "errors {}: server error replies {}, connections dropped {}, timeouts {}",
            e.total, e.server, e.dropped, e.timeout
        );
        if let Some(f) = &e.first {
            let _ = writeln!(o, "first error: {f}");
        }
        let l = &self.latency_us;
        let ms = |v: f64| format!("{:.3} ms", v / 1e3);
        o.push_str(&table(
            &[
                "Latency", "p50", "p90", "p99", "p99.9", "p99.99", "max", "avg", "stdev",
            ],
            &[vec![
                "".into(),
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.p99_9),
                ms(l.p99_99),
                ms(l.max),
                ms(l.avg),
                ms(l.stdev),
            ]],
        ));
        let r = &self.rps_samples;
        o.push_str(&table(
            &["Req/Sec", "min", "p50", "max", "avg", "stdev", "samples"],
            &[vec![
                "".into(),
                r.min.to_string(),
                r.p50.to_string(),
                r.max.to_string(),
                format!("{:.2}", r.mean),
                format!("{:.2}", r.stdev),
                r.count.to_string(),
            ]],
        ));
        o.push_str("Req/Sec sampled once per second of the measured phase.\n");
        o
    }
}

/// An autocannon-style bordered table; `rows[i][0]` is replaced by nothing (the first
/// header names the row).
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut cells: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let mut r = r.clone();
        r[0] = head[0].to_string();
        cells.push(r);
    }
    cells[0][0] = "Stat".into();
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let mut o = rule.clone();
    for (i, r) in cells.iter().enumerate() {
        for (c, w) in r.iter().zip(&widths) {
            let _ = write!(o, "| {c:>w$} ");
        }
        o.push_str("|\n");
        if i == 0 {
            o.push_str(&rule);
        }
    }
    o.push_str(&rule);
    o
}

/// The CSV columns, in order (docs/BENCHMARKS.md describes each).
pub const CSV_COLUMNS: &[&str] = &[
    "round",
    "target",
    "addr",
    "proto",
    "op",
    "distribution",
    "keyspace",
    "data_size_min",
    "data_size_max",
    "connections",
    "pipeline",
    "threads",
    "mode",
    "rate",
    "planned",
    "sent",
    "received",
    "lost",
    "gets",
    "hits",
    "misses",
    "sets",
    "others",
    "errors",
    "errors_server",
    "errors_dropped",
    "errors_timeout",
    "warmup_requests",
    "elapsed_s",
    "rps",
    "value_bytes",
    "mb_per_s",
    "lat_min_us",
    "lat_avg_us",
    "lat_stdev_us",
    "lat_p50_us",
    "lat_p90_us",
    "lat_p99_us",
    "lat_p99_9_us",
    "lat_p99_99_us",
    "lat_max_us",
    "rps_samples",
    "rps_min",
    "rps_p50",
    "rps_max",
];

/// One CSV row (`round` is 1-based; 0 outside comparison mode's rounds).
pub fn csv_row(round: usize, r: &Report) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let l = &r.latency_us;
    let cols: Vec<String> = vec![
        round.to_string(),
        quote(&r.target),
        quote(&r.addr),
        r.proto.clone(),
        quote(&r.op),
        quote(&r.distribution),
        r.keyspace.to_string(),
        r.data_size_min.to_string(),
        r.data_size_max.to_string(),
        r.connections.to_string(),
        r.pipeline.to_string(),
        r.threads.to_string(),
        r.mode.clone(),
        r.rate.map(|x| x.to_string()).unwrap_or_default(),
        r.planned.map(|x| x.to_string()).unwrap_or_default(),
        r.sent.to_string(),
        r.received.to_string(),
        r.lost.to_string(),
        r.gets.to_string(),
        r.hits.to_string(),
        r.misses.to_string(),
        r.sets.to_string(),
        r.others.to_string(),
        r.errors.total.to_string(),
        r.errors.server.to_string(),
        r.errors.dropped.to_string(),
        r.errors.timeout.to_string(),
        r.warmup_requests.to_string(),
        format!("{:.6}", r.elapsed_s),
        format!("{:.2}", r.rps),
        r.value_bytes.to_string(),
        format!("{:.6}", r.mb_per_s),
        format!("{:.1}", l.min),
        format!("{:.1}", l.avg),
        format!("{:.1}", l.stdev),
        format!("{:.1}", l.p50),
        format!("{:.1}", l.p90),
        format!("{:.1}", l.p99),
        format!("{:.1}", l.p99_9),
        format!("{:.1}", l.p99_99),
        format!("{:.1}", l.max),
        r.rps_samples.count.to_string(),
        r.rps_samples.min.to_string(),
        r.rps_samples.p50.to_string(),
        r.rps_samples.max.to_string(),
    ];
    debug_assert_eq!(cols.len(), CSV_COLUMNS.len());
    cols.join(",")
}
