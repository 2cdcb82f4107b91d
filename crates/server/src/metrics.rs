//! `GET /metrics`: the server's figures in the OpenMetrics text format (Prometheus scrapes
//! it as such), encoded by `prometheus-client` from a custom collector read once per scrape.
//!
//! ```text
//!  rcache_<figure>[_total]                  every figure of commands::stats::snapshot
//!                                           (counters get _total, gauges do not)
//!  rcache_connections{door}                 open connections per door (gauge)
//!  rcache_connections_received_total{door}  connections accepted per door
//!  rcache_commands_total{cmd}               calls that ran (failed ones included)
//!  rcache_commands_failed_total{cmd}        calls that answered an error
//!  rcache_commands_rejected_total{cmd}      calls refused before running (arity, NOAUTH, OOM…)
//!  rcache_command_duration_seconds{cmd}     latency histogram, le = 1 µs … 10 s (1-2.5-5)
//!  rcache_cluster_*                         cluster mode only: forwarded requests (count,
//!                                           errors, total latency), hand-offs, slots and
//!                                           keys moved, slots lost, peers up per state
//! ```
//!
//! `cmd` is Redis's command name as INFO commandstats shows it (`get`, `client|list`); only
//! commands called at least once appear. The snapshot's total `connections` figure is left
//! out: the per-door family has the same name, and its sum is that total.

use commands::cmdstats::CmdFigures;
use commands::stats::{self, Figure, Kind, Snapshot};
use commands::ServerState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt::Error;

/// The `Content-Type` to serve `render`'s text with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric's name starts with this (`rcache_hits_total`).
pub const PREFIX: &str = "rcache";

/// The metrics text, read now.
pub fn render(state: &ServerState) -> String {
    let data = Scrape {
        snap: stats::snapshot(state),
        cmds: state.stats.cmdstats.snapshot(state.table),
        cluster: state.cluster.get().map(|cl| cluster_figures(cl)),
    };
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(data));
    let mut out = String::new();
    // Writing into a String cannot fail; a collector error would be ours.
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out = "# EOF\n".into();
    }
    out
}

/// A per-command counter family: name, help, value.
type PerCmd = (&'static str, &'static str, fn(&CmdFigures) -> u64);

/// The figures of one scrape.
#[derive(Debug)]
struct Scrape {
    snap: Snapshot,
    cmds: Vec<CmdFigures>,
    cluster: Option<ClusterFigures>,
}

/// Cluster figures: (name, help, counter?, value), and peers per (state, alive).
#[derive(Debug)]
struct ClusterFigures {
    plain: Vec<(&'static str, &'static str, bool, u64)>,
    peers: Vec<(String, u64)>,
}

fn cluster_figures(cl: &cluster::Cluster) -> ClusterFigures {
    use std::sync::atomic::Ordering::Relaxed;
    let s = &cl.stats;
    let plain = vec![
        (
            "cluster_forwarded",
            "Requests forwarded to other nodes",
            true,
            s.forwarded.load(Relaxed),
        ),
        (
            "cluster_forward_errors",
            "Forwarded requests that found no link to their owner",
            true,
            s.forward_errors.load(Relaxed),
        ),
        (
            "cluster_forward_latency_microseconds",
            "Total time forwarded requests took, in microseconds (divide by cluster_forwarded)",
            true,
            s.forward_latency_us.load(Relaxed),
        ),
        (
            "cluster_moved_sent",
            "MOVED answers sent",
            true,
            s.moved_sent.load(Relaxed),
        ),
        (
            "cluster_handoffs",
            "Slot hand-offs completed by this node",
            true,
            s.handoffs_done.load(Relaxed),
        ),
        (
            "cluster_handoffs_aborted",
            "Slot hand-offs aborted (retried later)",
            true,
            s.handoffs_aborted.load(Relaxed),
        ),
        (
            "cluster_slots_moved_out",
            "Slots handed to other nodes",
            true,
            s.slots_moved_out.load(Relaxed),
        ),
        (
            "cluster_keys_moved_out",
            "Keys handed to other nodes",
            true,
            s.keys_moved_out.load(Relaxed),
        ),
        (
            "cluster_bytes_moved_out",
            "Bytes of keys handed to other nodes",
            true,
            s.bytes_moved_out.load(Relaxed),
        ),
        (
            "cluster_slots_moved_in",
            "Slots taken over from other nodes by hand-off",
            true,
            s.slots_moved_in.load(Relaxed),
        ),
        (
            "cluster_slots_lost",
            "Slots of failed nodes taken over empty (their data was lost)",
            true,
            s.slots_lost.load(Relaxed),
        ),
        (
            "cluster_slots_to_move",
            "Slots this node still has to hand off",
            false,
            s.moving_slots.load(Relaxed),
        ),
        (
            "cluster_slots_owned",
            "Slots this node owns",
            false,
            cl.owned().len() as u64,
        ),
        (
            "cluster_slots_served",
            "Slots with a live owner, as this node sees them",
            false,
            cl.served() as u64,
        ),
    ];
    let mut peers: std::collections::BTreeMap<String, u64> = Default::default();
    for (i, n) in cl.nodes() {
        if i == cl.me {
            continue;
        }
        let state = if n.alive {
            n.state
        } else {
            "failed".to_string()
        };
        *peers.entry(state).or_default() += 1;
    }
    ClusterFigures {
        plain,
        peers: peers.into_iter().collect(),
    }
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), Error> {
        for s in &self.snap.figures {
            if s.name == "connections" {
                continue;
            }
            match (s.kind, s.value) {
                (Kind::Counter, Figure::Int(v)) => {
                    let mut m = enc.encode_descriptor(s.name, s.help, None, MetricType::Counter)?;
                    m.encode_counter::<NoLabelSet, _, u64>(&v, None)?;
                }
                (Kind::Counter, Figure::Float(v)) => {
                    let mut m = enc.encode_descriptor(s.name, s.help, None, MetricType::Counter)?;
                    m.encode_counter::<NoLabelSet, _, u64>(&v, None)?;
                }
                (Kind::Gauge, Figure::Int(v)) => {
                    let mut m = enc.encode_descriptor(s.name, s.help, None, MetricType::Gauge)?;
                    m.encode_gauge(&v)?;
                }
                (Kind::Gauge, Figure::Float(v)) => {
                    let mut m = enc.encode_descriptor(s.name, s.help, None, MetricType::Gauge)?;
                    m.encode_gauge(&v)?;
                }
            }
        }

        let mut m = enc.encode_descriptor(
            "connections",
            "Open client connections per door",
            None,
            MetricType::Gauge,
        )?;
        for d in &self.snap.doors {
            m.encode_family(&[("door", d.door.name())])?
                .encode_gauge(&d.connected)?;
        }
        let mut m = enc.encode_descriptor(
            "connections_received",
            "Connections accepted per door since start (or CONFIG RESETSTAT)",
            None,
            MetricType::Counter,
        )?;
        for d in &self.snap.doors {
            m.encode_family(&[("door", d.door.name())])?
                .encode_counter::<NoLabelSet, _, u64>(&d.received, None)?;
        }

        let per_cmd: [PerCmd; 3] = [
            (
                "commands",
                "Calls that ran, per command (failed ones included)",
                CmdFigures::calls,
            ),
            (
                "commands_failed",
                "Calls that answered an error, per command",
                CmdFigures::failed,
            ),
            (
                "commands_rejected",
                "Calls refused before running (unknown subcommand excluded), per command",
                CmdFigures::rejected,
            ),
        ];
        for (name, help, value) in per_cmd {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for c in &self.cmds {
                m.encode_family(&[("cmd", c.name)])?
                    .encode_counter::<NoLabelSet, _, u64>(&value(c), None)?;
            }
        }

        if let Some(c) = &self.cluster {
            for (name, help, counter, v) in &c.plain {
                if *counter {
                    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
                    m.encode_counter::<NoLabelSet, _, u64>(v, None)?;
                } else {
                    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
                    m.encode_gauge(v)?;
                }
            }
            let mut m = enc.encode_descriptor(
                "cluster_peers",
                "Other nodes known, per state (joining, serving, leaving, failed)",
                None,
                MetricType::Gauge,
            )?;
            for (state, n) in &c.peers {
                m.encode_family(&[("state", state.as_str())])?
                    .encode_gauge(n)?;
            }
        }

        let mut m = enc.encode_descriptor(
            "command_duration_seconds",
            "Time a command took to run, per command",
            None,
            MetricType::Histogram,
        )?;
        for c in self.cmds.iter().filter(|c| c.calls() > 0) {
            m.encode_family(&[("cmd", c.name)])?
                .encode_histogram::<NoLabelSet>(
                    c.seconds(),
                    c.calls(),
                    &c.export_buckets(),
                    None,
                )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
