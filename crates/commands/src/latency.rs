//! The latency monitor and LATENCY (LATEST, HISTORY, RESET, GRAPH, DOCTOR, HISTOGRAM,
//! HELP), Redis's: when `latency-monitor-threshold` is above 0, every event that took at
//! least that many milliseconds is recorded under its name, one sample per second (the
//! worst of that second), the last 160 samples per event, with the worst ever seen.
//!
//! Events rcache records (Redis's names):
//!
//! | event | what took that long | from |
//! |---|---|---|
//! | `command` | a command not flagged fast | `execute_in`, via `slowlog::after_slow_call` |
//! | `fast-command` | a command flagged fast (GET, SET…) | the same |
//! | `expire-cycle` | one active expiry cycle | the server's cron (`note`) |
//!
//! Commands reach this file only when they were slower than `slowlog::refresh_floor`'s
//! floor, so the monitor costs the command path nothing while it is off.
//! LATENCY HISTOGRAM reads the per-command histograms of `cmdstats.rs` (rcache's buckets,
//! not Redis's powers of two: docs/COMMANDS.md).

use crate::client_cmd::reply_help;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec};
use crate::util::lossy;
use crate::{cmd, Ctx, ServerState};
use parking_lot::Mutex;
use protocol::Args;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    subcommands: SUBCOMMANDS,
    ..cmd!(
        "latency",
        -2,
        0,
        0,
        0,
        0,
        latency,
        "server",
        "2.8.13",
        "A container for latency diagnostics commands.",
        ""
    )
}];

const FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("latency|doctor", 2, FLAGS, 0, 0, 0, doctor, "server", "2.8.13",
        "Returns a human-readable latency analysis report.", ""),
    cmd!("latency|graph", 3, FLAGS, 0, 0, 0, graph, "server", "2.8.13",
        "Returns a latency graph for an event.", "event"),
    cmd!("latency|help", 2, LOADING | STALE, 0, 0, 0, help, "server", "2.8.13",
        "Returns helpful text about the different subcommands.", ""),
    cmd!("latency|histogram", -2, FLAGS, 0, 0, 0, histogram, "server", "7.0.0",
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        "[command [command ...]]"),
    cmd!("latency|history", 3, FLAGS, 0, 0, 0, history, "server", "2.8.13",
        "Returns timestamp-latency samples for an event.", "event"),
    cmd!("latency|latest", 2, FLAGS, 0, 0, 0, latest, "server", "2.8.13",
        "Returns the latest latency samples for all events.", ""),
    cmd!("latency|reset", -2, FLAGS, 0, 0, 0, reset, "server", "2.8.13",
        "Resets the latency data for one or more events.", "[event [event ...]]"),
];

/// Samples kept per event.
pub const HISTORY_LEN: usize = 160;

/// One event's samples: (unix seconds, ms), oldest first, at most `HISTORY_LEN`.
#[derive(Default)]
struct Series {
    samples: std::collections::VecDeque<(i64, u64)>,
    max: u64,
}

/// The latency monitor of one server.
#[derive(Default)]
pub struct Monitor {
    events: Mutex<BTreeMap<&'static str, Series>>,
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Monitor {
    /// Record `ms` for `event` now (Redis's `latencyAddSample`): a second sample in the same
    /// second keeps the larger of the two.
    pub fn add(&self, event: &'static str, ms: u64) {
        self.add_at(event, ms, unix_secs());
    }

    fn add_at(&self, event: &'static str, ms: u64, now: i64) {
        let mut g = self.events.lock();
        let s = g.entry(event).or_default();
        s.max = s.max.max(ms);
        if let Some(last) = s.samples.back_mut() {
            if last.0 == now {
                last.1 = last.1.max(ms);
                return;
            }
        }
        if s.samples.len() == HISTORY_LEN {
            s.samples.pop_front();
        }
        s.samples.push_back((now, ms));
    }

    /// Forget one event (case-insensitively, as Redis), or every event: how many went.
    pub fn reset(&self, event: Option<&[u8]>) -> usize {
        let mut g = self.events.lock();
        let before = g.len();
        match event {
            None => g.clear(),
            Some(e) => g.retain(|k, _| !k.as_bytes().eq_ignore_ascii_case(e)),
        }
        before - g.len()
    }
}

/// Record `ms` for `event` if the monitor is on and it reaches the threshold (Redis's
/// `latencyAddSampleIfNeeded`).
pub fn note(srv: &ServerState, event: &'static str, ms: u64) {
    let threshold = srv.settings.latency_monitor_threshold.load(Relaxed);
    if threshold > 0 && ms >= threshold {
        srv.latency.add(event, ms);
    }
}

/// A command ran `ms` milliseconds: the `command` or `fast-command` event.
pub fn note_command(srv: &ServerState, fast: bool, ms: u64) {
    note(srv, if fast { "fast-command" } else { "command" }, ms);
}

/// LATENCY <subcommand> …
fn latency(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    crate::dispatch_sub(ctx, SUBCOMMANDS, args)
}

/// LATENCY LATEST: [event, time of the last sample, its ms, worst ms ever] per event.
fn latest(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let g = ctx.srv.latency.events.lock();
    ctx.out.array_len(g.len());
    for (name, s) in g.iter() {
        let (t, ms) = s.samples.back().copied().unwrap_or((0, 0));
        ctx.out.array_len(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(t);
        ctx.out.int(ms as i64);
        ctx.out.int(s.max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: [time, ms] per sample, oldest first; empty for an unknown event.
fn history(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let g = ctx.srv.latency.events.lock();
    match g.get(lossy(args.get(2)).as_str()) {
        None => ctx.out.array_len(0),
        Some(s) => {
            ctx.out.array_len(s.samples.len());
            for &(t, ms) in &s.samples {
                ctx.out.array_len(2);
                ctx.out.int(t);
                ctx.out.int(ms as i64);
            }
        }
    }
    Ok(())
}

/// LATENCY RESET [event …]: how many events were forgotten.
fn reset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let m = &ctx.srv.latency;
    let n = if args.len() == 2 {
        m.reset(None)
    } else {
        args.iter().skip(2).map(|e| m.reset(Some(e))).sum()
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// LATENCY GRAPH event: an ASCII chart of the event's samples.
fn graph(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let name = lossy(args.get(2));
    let text = {
        let g = ctx.srv.latency.events.lock();
        let Some((event, s)) = g.get_key_value(name.as_str()) else {
            return Err(CmdError::Msg(format!(
                "ERR No samples available for event '{name}'"
            )));
        };
        render_graph(event, s, unix_secs())
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Rows of the chart (each row has three levels: `_`, `o`, `#`; full rows below are `|`).
const GRAPH_ROWS: usize = 4;
/// Samples per block of the chart; longer histories continue in another block below.
const GRAPH_COLS: usize = 80;

/// The chart: a title line, a rule, then per block of 80 samples a column per sample scaled
/// between the lowest and highest sample, with how long ago it was written downwards
/// (`12s`, `5m`, `2h`, `1d`).
fn render_graph(event: &str, s: &Series, now: i64) -> String {
    let lo = s.samples.iter().map(|x| x.1).min().unwrap_or(0);
    let hi = s.samples.iter().map(|x| x.1).max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {hi} ms, low {lo} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(GRAPH_COLS)
    );
    let levels = GRAPH_ROWS * 3;
    let span = (hi - lo).max(1) as f64;
    let samples: Vec<(i64, u64)> = s.samples.iter().copied().collect();
    for (b, block) in samples.chunks(GRAPH_COLS).enumerate() {
        if b > 0 {
            out.push('\n');
        }
        // The level of each column, 0 ..= levels-1.
        let level: Vec<usize> = block
            .iter()
            .map(|&(_, ms)| (((ms - lo) as f64 * levels as f64 / span) as usize).min(levels - 1))
            .collect();
        for row in 0..GRAPH_ROWS {
            // Row 0 is the top: it shows levels 3*(ROWS-1) .. 3*ROWS-1.
            let base = 3 * (GRAPH_ROWS - 1 - row);
            let line: String = level
                .iter()
                .map(|&l| match l.checked_sub(base) {
                    Some(0) => '_',
                    Some(1) => 'o',
                    Some(2) => '#',
                    Some(_) => '|',
                    None => ' ',
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        // One blank row, then the labels written top to bottom.
        let labels: Vec<Vec<char>> = block
            .iter()
            .map(|&(t, _)| ago(now - t).chars().collect())
            .collect();
        let tall = labels.iter().map(Vec::len).max().unwrap_or(0);
        out.push_str(&" ".repeat(block.len()));
        out.push('\n');
        for i in 0..tall {
            let line: String = labels.iter().map(|l| *l.get(i).unwrap_or(&' ')).collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// How long ago, in the largest unit that fits.
fn ago(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// What DOCTOR finds about one event: samples, average, mean deviation, seconds covered.
struct Analysis {
    samples: usize,
    avg: u64,
    mad: u64,
    period: i64,
}

fn analyze(s: &Series, now: i64) -> Analysis {
    let n = s.samples.len();
    if n == 0 {
        return Analysis {
            samples: 0,
            avg: 0,
            mad: 0,
            period: 0,
        };
    }
    let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n as u64;
    let mad = s.samples.iter().map(|x| x.1.abs_diff(avg)).sum::<u64>() / n as u64;
    let oldest = s.samples.iter().map(|x| x.0).min().unwrap_or(now);
    Analysis {
        samples: n,
        avg,
        mad,
        period: (now - oldest).max(1),
    }
}

/// LATENCY DOCTOR: Redis's report shape (the same opening sentences, so scripts that look
/// for them work), with advice that applies to rcache.
fn doctor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let report = doctor_report(ctx.srv, unix_secs());
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

fn doctor_report(srv: &ServerState, now: i64) -> String {
    let s = &srv.settings;
    let threshold = s.latency_monitor_threshold.load(Relaxed);
    let g = srv.latency.events.lock();
    if g.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis \
                instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" \
                in order to enable it. If we weren't in a deep space mission I'd suggest to \
                take a look at https://redis.io/topics/latency-monitor.\n"
            .into();
    }
    if g.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis \
                instance, not in the slightest bit. I honestly think you ought to sit down \
                calmly, take a stress pill, and think things over.\n"
            .into();
    }
    let mut out = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking \
         about it, do you Dave?\n\n",
    );
    let mut advice: Vec<String> = Vec::new();
    let mut advise = |a: String| {
        if !advice.contains(&a) {
            advice.push(a);
        }
    };
    for (i, (event, series)) in g.iter().enumerate() {
        let a = analyze(series, now);
        out.push_str(&format!(
            "{}. {event}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} \
             sec). Worst all time event {}ms.\n",
            i + 1,
            a.samples,
            a.avg,
            a.mad,
            a.period as f64 / a.samples.max(1) as f64,
            series.max
        ));
        match *event {
            "command" => {
                let slower = s.slowlog_slower_than.load(Relaxed);
                if slower < 0 {
                    advise(format!(
                        "- The slow log is off: turn it on with 'CONFIG SET \
                         slowlog-log-slower-than {}' to see which commands are slow.",
                        threshold.saturating_mul(1000)
                    ));
                } else if slower as u64 / 1000 > threshold {
                    advise(format!(
                        "- The slow log only records commands slower than the latency \
                         threshold; 'CONFIG SET slowlog-log-slower-than {}' records these \
                         too.",
                        threshold.saturating_mul(1000)
                    ));
                }
                advise(
                    "- SLOWLOG GET shows the slow commands with their arguments: look for \
                     O(N) commands on large values (KEYS, SMEMBERS, HGETALL, LRANGE 0 -1, \
                     SORT, DEL of big collections) and split the work or the values."
                        .into(),
                );
            }
            "fast-command" => advise(
                "- Commands flagged fast were slow: the process was probably descheduled. \
                 Check the machine's load and whether other processes share its cores \
                 (a noisy neighbour), and the system's intrinsic latency \
                 ('redis-cli --intrinsic-latency 100')."
                    .into(),
            ),
            "expire-cycle" => advise(
                "- Expiring keys took long: many keys expire at the same time, or expiring \
                 values are large. Spread the TTLs, or split large values."
                    .into(),
            ),
            _ => {}
        }
    }
    if advice.is_empty() {
        out.push_str(
            "\nWhile there are latency events logged, I'm not able to suggest any easy fix.\n",
        );
    } else {
        out.push_str("\nI have a few advices for you:\n\n");
        for a in advice {
            out.push_str(&a);
            out.push('\n');
        }
    }
    out
}

/// LATENCY HISTOGRAM [command …]: per command with calls, its call count and the
/// cumulative count of calls at or under each bound, in microseconds (buckets with no new
/// calls are left out, as Redis). Unknown names are skipped; a container names each
/// subcommand that has calls.
fn histogram(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let srv = ctx.srv;
    let all = srv.stats.cmdstats.snapshot(srv.table);
    let wanted = |name: &str| {
        args.len() == 2
            || args.iter().skip(2).any(|a| {
                let top = name.split('|').next().unwrap_or(name);
                top.as_bytes().eq_ignore_ascii_case(a) || name.as_bytes().eq_ignore_ascii_case(a)
            })
    };
    let rows: Vec<_> = all
        .iter()
        .filter(|c| c.calls() > 0 && wanted(c.name))
        .collect();
    ctx.out.map_len(rows.len());
    for c in rows {
        ctx.out.bulk(c.name.as_bytes());
        ctx.out.map_len(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(c.calls() as i64);
        ctx.out.bulk(b"histogram_usec");
        let points = cumulative_usec(&c.raw.hist);
        ctx.out.map_len(points.len());
        for (us, n) in points {
            ctx.out.int(us as i64);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// (bound in µs, calls at or under it) for the bounds where the count grows. A bucket's
/// bound is rounded up to whole microseconds (never claiming a call was faster than it
/// was); buckets that round to the same microsecond merge.
fn cumulative_usec(hist: &[u64; crate::cmdstats::BUCKETS]) -> Vec<(u64, u64)> {
    use crate::cmdstats::BOUNDS_NS;
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut total = 0;
    for (i, &n) in hist.iter().enumerate() {
        if n == 0 {
            continue;
        }
        total += n;
        // Past the last bound (10 s) a call is reported at that bound.
        let ns = BOUNDS_NS
            .get(i)
            .copied()
            .unwrap_or(BOUNDS_NS[BOUNDS_NS.len() - 1]);
        let us = ns.div_ceil(1000).max(1);
        match out.last_mut() {
            Some(last) if last.0 == us => last.1 = total,
            _ => out.push((us, total)),
        }
    }
    out
}

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// LATENCY HELP
fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests;
