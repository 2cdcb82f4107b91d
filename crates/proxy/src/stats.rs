//! Statistics: twemproxy's JSON document on the stats port (same field names, refreshed
//! every `-i` ms as nutcracker aggregates), the `-D` description, and Prometheus text for
//! `GET /metrics`.

use crate::pool::Pool;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Process-wide counters.
#[derive(Default, Debug)]
pub struct Global {
    pub total_connections: AtomicU64,
    pub curr_connections: AtomicU64,
}

/// (name, type, description) of every pool field, twemproxy's first.
pub const POOL_FIELDS: &[(&str, &str, &str)] = &[
    ("client_eof", "counter", "# eof on client connections"),
    ("client_err", "counter", "# errors on client connections"),
    ("client_connections", "gauge", "# active client connections"),
    (
        "server_ejects",
        "counter",
        "# times backend server was ejected",
    ),
    (
        "forward_error",
        "counter",
        "# times we encountered a forwarding error",
    ),
    (
        "fragments",
        "counter",
        "# fragments created from a multi-vector request",
    ),
    (
        "rebalance_moved",
        "counter",
        "# keys moved to their new server (rcache)",
    ),
    (
        "rebalance_scanned",
        "counter",
        "# keys the mover looked at (rcache)",
    ),
    (
        "rebalance_fallbacks",
        "counter",
        "# requests whose key came from its previous server (rcache)",
    ),
    (
        "rebalance_active",
        "gauge",
        "1 while keys are being moved (rcache)",
    ),
];

/// (name, type, description) of every server field, twemproxy's.
pub const SERVER_FIELDS: &[(&str, &str, &str)] = &[
    ("server_eof", "counter", "# eof on server connections"),
    ("server_err", "counter", "# errors on server connections"),
    (
        "server_timedout",
        "counter",
        "# timeouts on server connections",
    ),
    ("server_connections", "gauge", "# active server connections"),
    (
        "server_ejected_at",
        "timestamp",
        "timestamp when server was ejected in usec since epoch",
    ),
    ("requests", "counter", "# requests"),
    ("request_bytes", "counter", "total request bytes"),
    ("responses", "counter", "# responses"),
    ("response_bytes", "counter", "total response bytes"),
    ("in_queue", "gauge", "# requests in incoming queue"),
    (
        "in_queue_bytes",
        "gauge",
        "current request bytes in incoming queue",
    ),
    ("out_queue", "gauge", "# requests in outgoing queue"),
    (
        "out_queue_bytes",
        "gauge",
        "current request bytes in outgoing queue",
    ),
];

/// `-D`: what each field means, as nutcracker prints it.
pub fn describe() -> String {
    let mut s = String::from("pool stats:\n");
    for (n, _, d) in POOL_FIELDS {
        s.push_str(&format!("  {n:<20}\"{d}\"\n"));
    }
    s.push_str("\nserver stats:\n");
    for (n, _, d) in SERVER_FIELDS {
        s.push_str(&format!("  {n:<20}\"{d}\"\n"));
    }
    s
}

fn pool_values(p: &Pool) -> Vec<(&'static str, u64)> {
    let s = &p.stats;
    let state = p.state();
    let active = state
        .previous
        .as_ref()
        .is_some_and(|pr| !pr.done.load(Relaxed));
    vec![
        ("client_eof", s.client_eof.load(Relaxed)),
        ("client_err", s.client_err.load(Relaxed)),
        ("client_connections", s.client_connections.load(Relaxed)),
        ("server_ejects", p.health_epoch.load(Relaxed)),
        ("forward_error", s.forward_error.load(Relaxed)),
        ("fragments", s.fragments.load(Relaxed)),
        ("rebalance_moved", s.rebalance_moved.load(Relaxed)),
        ("rebalance_scanned", s.rebalance_scanned.load(Relaxed)),
        ("rebalance_fallbacks", s.rebalance_fallbacks.load(Relaxed)),
        ("rebalance_active", u64::from(active)),
    ]
}

fn server_values(s: &crate::server::Server) -> Vec<(&'static str, u64)> {
    let t = &s.stats;
    vec![
        ("server_eof", t.server_eof.load(Relaxed)),
        ("server_err", t.server_err.load(Relaxed)),
        ("server_timedout", t.server_timedout.load(Relaxed)),
        ("server_connections", t.server_connections.load(Relaxed)),
        ("server_ejected_at", t.server_ejected_at.load(Relaxed)),
        ("requests", t.requests.load(Relaxed)),
        ("request_bytes", t.request_bytes.load(Relaxed)),
        ("responses", t.responses.load(Relaxed)),
        ("response_bytes", t.response_bytes.load(Relaxed)),
        ("in_queue", 0),
        ("in_queue_bytes", 0),
        ("out_queue", t.out_queue.load(Relaxed)),
        ("out_queue_bytes", t.out_queue_bytes.load(Relaxed)),
    ]
}

/// The stats port's JSON document now.
pub fn json(pools: &[Arc<Pool>], global: &Global, started: std::time::Instant) -> String {
    let mut m = Map::new();
    m.insert("service".into(), "nutcracker".into());
    m.insert("source".into(), hostname().into());
    m.insert("version".into(), crate::cli::TWEMPROXY_VERSION.into());
    m.insert("rcache_version".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("uptime".into(), started.elapsed().as_secs().into());
    m.insert("timestamp".into(), (crate::server::now_ms() / 1000).into());
    m.insert(
        "total_connections".into(),
        global.total_connections.load(Relaxed).into(),
    );
    m.insert(
        "curr_connections".into(),
        global.curr_connections.load(Relaxed).into(),
    );
    for p in pools {
        let mut pm = Map::new();
        for (k, v) in pool_values(p) {
            pm.insert(k.into(), v.into());
        }
        for s in &p.state().all_servers() {
            let mut sm = Map::new();
            for (k, v) in server_values(s) {
                sm.insert(k.into(), v.into());
            }
            pm.insert(s.label.clone(), Value::Object(sm));
        }
        m.insert(p.name.clone(), Value::Object(pm));
    }
    // One line, as nutcracker sends it.
    let mut s = Value::Object(m).to_string();
    s.push('\n');
    s
}

/// Prometheus text exposition of the same counters.
pub fn prometheus(pools: &[Arc<Pool>], global: &Global) -> String {
    let mut s = String::new();
    s.push_str("# TYPE rcache_proxy_connections_total counter\n");
    s.push_str(&format!(
        "rcache_proxy_connections_total {}\n",
        global.total_connections.load(Relaxed)
    ));
    s.push_str("# TYPE rcache_proxy_connections gauge\n");
    s.push_str(&format!(
        "rcache_proxy_connections {}\n",
        global.curr_connections.load(Relaxed)
    ));
    for (name, kind, help) in POOL_FIELDS {
        let kind = if *kind == "counter" {
            "counter"
        } else {
            "gauge"
        };
        s.push_str(&format!("# HELP rcache_proxy_pool_{name} {help}\n"));
        s.push_str(&format!("# TYPE rcache_proxy_pool_{name} {kind}\n"));
        for p in pools {
            if let Some((_, v)) = pool_values(p).into_iter().find(|(k, _)| k == name) {
                s.push_str(&format!(
                    "rcache_proxy_pool_{name}{{pool=\"{}\"}} {v}\n",
                    esc(&p.name)
                ));
            }
        }
    }
    for (name, kind, help) in SERVER_FIELDS {
        let kind = if *kind == "counter" {
            "counter"
        } else {
            "gauge"
        };
        s.push_str(&format!("# HELP rcache_proxy_server_{name} {help}\n"));
        s.push_str(&format!("# TYPE rcache_proxy_server_{name} {kind}\n"));
        for p in pools {
            for sv in &p.state().all_servers() {
                if let Some((_, v)) = server_values(sv).into_iter().find(|(k, _)| k == name) {
                    s.push_str(&format!(
                        "rcache_proxy_server_{name}{{pool=\"{}\",server=\"{}\"}} {v}\n",
                        esc(&p.name),
                        esc(&sv.label)
                    ));
                }
            }
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
