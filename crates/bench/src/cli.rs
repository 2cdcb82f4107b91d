//! The `rcache bench` command line: arguments (clap), the live progress line (indicatif),
//! running each target (or, with `--compare`, every target interleaved for `--rounds`),
//! and printing the text report, JSON or CSV, and the SVG plot.

use crate::engine::{self, Progress};
use crate::plot;
use crate::report::{csv_row, Report, CSV_COLUMNS};
use crate::workload::{Dist, Op, Proto, Stop, Target, Workload};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
#[command(about = "Load-test rcache, Redis, memcached or twemproxy, and compare them")]
pub struct BenchArgs {
    /// Servers to load, as `name=host:port` (or `host:port`). Several: run one after the
    /// other (or interleaved, with --compare).
    #[arg(required = true, value_name = "NAME=HOST:PORT")]
    pub targets: Vec<Target>,
    /// Wire protocol.
    #[arg(long, value_enum, default_value = "resp")]
    pub proto: Proto,
    /// Operation of every request (`mixed`: GETs and SETs in --ratio).
    #[arg(short = 't', long, value_enum, default_value = "set")]
    pub op: OpArg,
    /// GET:SET ratio for `--op mixed`.
    #[arg(long, default_value = "9:1", value_parser = parse_ratio)]
    pub ratio: (u32, u32),
    /// A command to send instead of --op, e.g. "SET __key__ __data__" (RESP and binary):
    /// arguments split on spaces, `__key__` and `__data__` replaced per request.
    #[arg(long, conflicts_with = "op")]
    pub template: Option<String>,
    /// How keys are drawn from the keyspace.
    #[arg(short = 'D', long, value_enum, default_value = "uniform")]
    pub distribution: DistArg,
    /// Exponent of the zipf distribution.
    #[arg(long, default_value_t = 0.99)]
    pub zipf_exponent: f64,
    /// Number of distinct keys: `<prefix>000000000000` … `<prefix><keyspace-1>`.
    #[arg(short = 'r', long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keyspace: u64,
    /// Value size in bytes: `100`, or a range `64-1024` (uniform per request).
    #[arg(short = 'd', long, default_value = "100", value_parser = parse_size)]
    pub data_size: (usize, usize),
    /// Prefix of every key.
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// SET every key of the keyspace first (not measured).
    #[arg(long)]
    pub populate: bool,
    /// Connections.
    #[arg(short = 'c', long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub connections: u64,
    /// Requests in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub pipeline: u64,
    /// Client threads (each a single-threaded event loop); default: one per core.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: Option<u64>,
    /// Requests to measure (default 100000 unless --duration is given).
    #[arg(short = 'n', long, conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Measure for this many seconds instead of a request count.
    #[arg(long, value_parser = parse_secs)]
    pub duration: Option<Duration>,
    /// Run unmeasured for this many seconds first.
    #[arg(long, default_value = "0", value_parser = parse_secs_or_zero)]
    pub warmup: Duration,
    /// Open loop: send this many requests per second in total, whatever the replies do;
    /// latency counts from each request's intended send time (coordinated omission).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Seconds without a reply after which a connection counts as timed out.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    pub timeout: Duration,
    /// Password (RESP AUTH, binary AUTH, HTTP bearer token).
    #[arg(short = 'a', long)]
    pub password: Option<String>,
    /// Seed of the key and size draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of the text report.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (a header, then one row per run) instead of the text report.
    #[arg(long)]
    pub csv: bool,
    /// Write an SVG plot: latency percentile curve and throughput over time.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Run the targets interleaved (A B A B …) for --rounds and print medians and ratios
    /// to the first target.
    #[arg(long)]
    pub compare: bool,
    /// Rounds of --compare.
    #[arg(long, default_value_t = 3, requires = "compare", value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    /// No live progress line.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OpArg {
    Set,
    Get,
    Mixed,
    Incr,
    Lpush,
    Hset,
    Zadd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DistArg {
    Sequential,
    Uniform,
    Zipf,
    Gaussian,
}

fn parse_ratio(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{s}' is not GET:SET, e.g. 9:1");
    let (g, st) = s.split_once(':').ok_or_else(bad)?;
    let (g, st) = (
        g.parse::<u32>().map_err(|_| bad())?,
        st.parse::<u32>().map_err(|_| bad())?,
    );
    if g.checked_add(st).is_none_or(|t| t == 0) {
        return Err(bad());
    }
    Ok((g, st))
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("'{s}' is not a size (100) or a range (64-1024)");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b) = (
        a.parse::<usize>().map_err(|_| bad())?,
        b.parse::<usize>().map_err(|_| bad())?,
    );
    if a > b || b > 512 * 1024 * 1024 {
        return Err(bad());
    }
    Ok((a, b))
}

fn parse_secs_or_zero(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() && v < 1e9 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("'{s}' is not a number of seconds")),
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match parse_secs_or_zero(s)? {
        d if d.is_zero() => Err(format!("'{s}': must be more than 0 seconds")),
        d => Ok(d),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "'{s}' is not a positive rate (requests per second)"
        )),
    }
}

/// How `rcache bench` failed: a usage error (shown with clap's usage) or a failed run.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Run(String),
}

impl BenchArgs {
    /// The workload these arguments describe.
    pub fn workload(&self) -> Result<Workload, CliError> {
        let op = match (&self.template, self.op) {
            (Some(t), _) => Op::Template(t.split_whitespace().map(str::to_string).collect()),
            (None, OpArg::Set) => Op::Set,
            (None, OpArg::Get) => Op::Get,
            (None, OpArg::Mixed) => Op::Mixed {
                get: self.ratio.0,
                set: self.ratio.1,
            },
            (None, OpArg::Incr) => Op::Incr,
            (None, OpArg::Lpush) => Op::Lpush,
            (None, OpArg::Hset) => Op::Hset,
            (None, OpArg::Zadd) => Op::Zadd,
        };
        let dist = match self.distribution {
            DistArg::Sequential => Dist::Sequential,
            DistArg::Uniform => Dist::Uniform,
            DistArg::Zipf => Dist::Zipf(self.zipf_exponent),
            DistArg::Gaussian => Dist::Gaussian,
        };
        let threads = self.threads.map(|t| t as usize).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let w = Workload {
            proto: self.proto,
            op,
            dist,
            keyspace: self.keyspace,
            data_min: self.data_size.0,
            data_max: self.data_size.1,
            key_prefix: self.key_prefix.clone(),
            connections: self.connections as usize,
            pipeline: self.pipeline as usize,
            threads,
            stop: match (self.requests, self.duration) {
                (_, Some(d)) => Stop::Duration(d),
                (n, None) => Stop::Requests(n.unwrap_or(100_000)),
            },
            warmup: self.warmup,
            rate: self.rate,
            timeout: self.timeout,
            password: self.password.clone(),
            seed: self.seed,
        };
        w.validate().map_err(CliError::Usage)?;
        if self.compare && self.targets.len() < 2 {
            return Err(CliError::Usage(
                "--compare needs at least two targets".into(),
            ));
        }
        Ok(w)
    }
}

/// One run in the machine output: the report and its comparison round (0 outside
/// comparison mode).
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub round: usize,
    #[serde(flatten)]
    pub report: Report,
}

/// One target's line of the comparison table.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub target: String,
    pub rounds: usize,
    pub rps_median: f64,
    pub rps_min: f64,
    pub rps_max: f64,
    pub p50_us_median: f64,
    pub p99_us_median: f64,
    pub errors: u64,
    /// This target's median rps / the first target's.
    pub rps_ratio: f64,
    /// This target's median p99 / the first target's.
    pub p99_ratio: f64,
}

/// The JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub tool: &'static str,
    pub version: &'static str,
    pub runs: Vec<Run>,
    pub compare: Option<Vec<CompareRow>>,
}

/// Run `rcache bench`: the process's exit status (0: every run finished without errors;
/// 1: some request failed, was lost or timed out — the report says which).
pub fn run(args: &BenchArgs) -> Result<i32, CliError> {
    let w = args.workload()?;
    let machine = args.json || args.csv;
    let progress = !args.no_progress;
    if args.populate {
        for t in &args.targets {
            let pw = w.populate();
            let st = run_one(t, &pw, progress, &format!("populate {}", t.name))?;
            if st.errors() > 0 || st.received != w.keyspace {
                return Err(CliError::Run(format!(
                    "populating {}: {} of {} keys written, {} errors{}",
                    t.name,
                    st.received - st.server_errors,
                    w.keyspace,
                    st.errors(),
                    st.first_error
                        .map(|e| format!(" (first: {e})"))
                        .unwrap_or_default()
                )));
            }
        }
    }
    let rounds = if args.compare {
        args.rounds as usize
    } else {
        1
    };
    let mut runs = Vec::new();
    for round in 1..=rounds {
        for t in &args.targets {
            let label = if args.compare {
                format!("{} round {round}/{rounds}", t.name)
            } else {
                t.name.clone()
            };
            let st = run_one(t, &w, progress, &label)?;
            let report = Report::new(t, &w, &st);
            if args.compare && !machine {
                eprintln!(
                    "round {round}/{rounds} {}: {:.0} rps, p50 {:.3} ms, p99 {:.3} ms, errors {}",
                    t.name,
                    report.rps,
                    report.latency_us.p50 / 1e3,
                    report.latency_us.p99 / 1e3,
                    report.errors.total
                );
            }
            runs.push(Run {
                round: if args.compare { round } else { 0 },
                report,
            });
        }
    }
    let compare = args.compare.then(|| compare_rows(&args.targets, &runs));
    if args.json {
        let out = Output {
            tool: "rcache bench",
            version: env!("CARGO_PKG_VERSION"),
            runs: runs.clone(),
            compare: compare.clone(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| CliError::Run(e.to_string()))?
        );
    } else if args.csv {
        println!("{}", CSV_COLUMNS.join(","));
        for r in &runs {
            println!("{}", csv_row(r.round, &r.report));
        }
    } else if let Some(rows) = &compare {
        print!("{}", compare_table(rows));
    } else {
        for r in &runs {
            println!("{}", r.report.text());
        }
    }
    if let Some(path) = &args.plot {
        // One series per target: in comparison mode, its median round by rps.
        let series: Vec<(String, Report)> = args
            .targets
            .iter()
            .filter_map(|t| {
                let mut mine: Vec<&Run> =
                    runs.iter().filter(|r| r.report.target == t.name).collect();
                mine.sort_by(|a, b| a.report.rps.total_cmp(&b.report.rps));
                mine.get(mine.len().saturating_sub(1) / 2)
                    .map(|r| (t.name.clone(), r.report.clone()))
            })
            .collect();
        plot::write_svg(path, &series).map_err(CliError::Run)?;
    }
    let failed = runs
        .iter()
        .any(|r| r.report.errors.total > 0 || r.report.lost > 0);
    Ok(i32::from(failed))
}

/// One run with the progress line: elapsed, replies, current rps, errors.
fn run_one(
    t: &Target,
    w: &Workload,
    progress: bool,
    label: &str,
) -> Result<engine::Stats, CliError> {
    let bar = if progress {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}").expect("template"),
    );
    bar.set_prefix(label.to_string());
    let mut last = (Instant::now(), 0u64);
    let st = engine::run(t, w, |p: Progress| {
        let now = Instant::now();
        let dt = now.duration_since(last.0).as_secs_f64();
        let rps = if dt > 0.0 {
            (p.done - last.1) as f64 / dt
        } else {
            0.0
        };
        last = (now, p.done);
        bar.set_message(format!(
            "{:.1} s  {} done  {:.0} rps  {} errors",
            p.elapsed.as_secs_f64(),
            p.done,
            rps,
            p.errors
        ));
        bar.tick();
    })
    .map_err(|e| CliError::Run(format!("{}: {e}", t.name)))?;
    bar.finish_and_clear();
    Ok(st)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn compare_rows(targets: &[Target], runs: &[Run]) -> Vec<CompareRow> {
    let mut rows: Vec<CompareRow> = targets
        .iter()
        .map(|t| {
            let mine: Vec<&Report> = runs
                .iter()
                .filter(|r| r.report.target == t.name)
                .map(|r| &r.report)
                .collect();
            let mut rps: Vec<f64> = mine.iter().map(|r| r.rps).collect();
            let mut p50: Vec<f64> = mine.iter().map(|r| r.latency_us.p50).collect();
            let mut p99: Vec<f64> = mine.iter().map(|r| r.latency_us.p99).collect();
            CompareRow {
                target: t.name.clone(),
                rounds: mine.len(),
                rps_median: median(&mut rps),
                rps_min: rps.first().copied().unwrap_or(0.0),
                rps_max: rps.last().copied().unwrap_or(0.0),
                p50_us_median: median(&mut p50),
                p99_us_median: median(&mut p99),
                errors: mine.iter().map(|r| r.errors.total).sum(),
                rps_ratio: 0.0,
                p99_ratio: 0.0,
            }
        })
        .collect();
    let (rps0, p990) = (rows[0].rps_median, rows[0].p99_us_median);
    for r in &mut rows {
        r.rps_ratio = if rps0 > 0.0 { r.rps_median / rps0 } else { 0.0 };
        r.p99_ratio = if p990 > 0.0 {
            r.p99_us_median / p990
        } else {
            0.0
        };
    }
    rows
}

/// The comparison table (text).
pub fn compare_table(rows: &[CompareRow]) -> String {
    let w = rows
        .iter()
        .map(|r| r.target.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut o = format!(
        "{:<w$} {:>6} {:>12} {:>7} {:>9} {:>9} {:>7} {:>8} {:>8}\n",
        "target",
        "rounds",
        "rps(median)",
        "spread",
        "p50 ms",
        "p99 ms",
        "errors",
        "rps/1st",
        "p99/1st"
    );
    for r in rows {
        let spread = if r.rps_median > 0.0 {
            (r.rps_max - r.rps_min) / r.rps_median * 100.0
        } else {
            0.0
        };
        o.push_str(&format!(
            "{:<w$} {:>6} {:>12.0} {:>6.0}% {:>9.3} {:>9.3} {:>7} {:>8.2} {:>8.2}\n",
            r.target,
            r.rounds,
            r.rps_median,
            spread,
            r.p50_us_median / 1e3,
            r.p99_us_median / 1e3,
            r.errors,
            r.rps_ratio,
            r.p99_ratio
        ));
    }
    o
}
