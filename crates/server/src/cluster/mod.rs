//! Cluster mode in the server: set-up, the cluster thread, and the pieces it runs.
//!
//! ```text
//!  setup (Server::bind)   node id from <dir>/nodes.conf (or a new one), the bus listener
//!                         (TCP on the cluster port), the Cluster view in ServerState
//!  thread rcache-cluster  chitchat gossip (UDP, same port, HMAC'd: cluster::secure)
//!    every tick           members ─► Cluster::apply_view ─► publish own claims, save
//!                         nodes.conf, joining → serving once the map is known,
//!                         plan hand-offs (handoff.rs), drop keys of slots not ours
//!    leave                state leaving ─► every slot handed off ─► shutdown
//!  I/O threads            bus connections are served like clients (conn.rs, with a
//!                         BusSession); client requests are routed by route.rs
//! ```

pub mod handoff;
pub mod route;

use cluster::membership::{key, state as node_state};
use cluster::state::addr_key;
use cluster::{claims, Cluster, NodeInfo};
use commands::ServerState;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the reconciler folds gossip in (and gossip's own round).
const TICK: Duration = Duration::from_millis(100);
const GOSSIP_INTERVAL: Duration = Duration::from_millis(200);
/// Slots not ours whose keys linger (an aborted import, a stale restart) are dropped this
/// often.
const CLEANUP_EVERY: Duration = Duration::from_secs(2);

/// Whether the settings ask for cluster mode.
pub fn enabled(s: &commands::config::Settings) -> bool {
    s.value("cluster-enabled") == "yes"
        || s.value("cluster-port") != "0"
        || !s.value("cluster-join").is_empty()
}

fn conf_path(state: &ServerState) -> PathBuf {
    PathBuf::from(state.settings.value("dir")).join(state.settings.value("cluster-config-file"))
}

/// What nodes.conf keeps: the node id and the slots this node owned, with epochs.
struct Saved {
    id: String,
    slots: Vec<(u16, u64)>,
}

fn load_conf(path: &PathBuf) -> Result<Option<Saved>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut id = None;
    let mut slots = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("id ") {
            id = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("slots ") {
            claims::decode_chunk(v.trim(), |s, e| slots.push((s as u16, e)));
        }
    }
    match id {
        Some(id) if id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(Saved { id, slots }))
        }
        _ => Err(format!(
            "{}: no valid node id (an \"id <40 hex digits>\" line); move the file away to \
             start this node as a new one",
            path.display()
        )),
    }
}

fn save_conf(path: &PathBuf, cl: &Cluster) {
    let mut text = format!(
        "# rcache cluster node state: this node's id and the slots it owns (epoch:ranges).\n\
         # Written by rcache; do not edit while the node runs.\nid {}\n",
        cl.my_id
    );
    for c in 0..claims::CHUNKS {
        let v = cl.my_claims(c);
        if !v.is_empty() {
            text.push_str("slots ");
            text.push_str(&v);
            text.push('\n');
        }
    }
    let tmp = path.with_extension("tmp");
    let r = std::fs::write(&tmp, text.as_bytes())
        .and_then(|_| std::fs::File::open(&tmp).and_then(|f| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        tracing::warn!("cluster: cannot save {}: {e}", path.display());
    }
}

fn new_id() -> String {
    cluster::link::hex(&rand_bytes())
}

fn rand_bytes() -> [u8; 20] {
    let mut b = [0u8; 20];
    for x in b.iter_mut() {
        *x = rand::random();
    }
    b
}

/// The bus listener and what the cluster thread needs, from `setup`.
pub struct Setup {
    pub bus: std::net::TcpListener,
    gossip: SocketAddr,
    advertise_gossip: SocketAddr,
    seeds: Vec<String>,
    keys: Vec<(String, String)>,
}

/// Enter cluster mode: node id, the bus listener, the view in `state.cluster`. `resp` is the
/// bound RESP address; `http` the HTTP door's, if open.
pub fn setup(
    state: &Arc<ServerState>,
    resp: SocketAddr,
    http: Option<SocketAddr>,
    backlog: i32,
) -> Result<Setup, String> {
    let s = &state.settings;
    if s.databases.load(Relaxed) < 1 {
        return Err("cluster mode needs database 0".into());
    }
    let path = conf_path(state);
    let saved = load_conf(&path)?;
    let id = saved.as_ref().map_or_else(new_id, |s| s.id.clone());
    let port: u16 = s.value("cluster-port").parse().unwrap_or(0);
    let bind_ip = resp.ip();
    let bus_port = match port {
        0 if s.port.load(Relaxed) != 0 => resp.port().checked_add(10000).ok_or_else(|| {
            format!(
                "cluster port: RESP port {} + 10000 is out of range; set --cluster-port",
                resp.port()
            )
        })?,
        p => p,
    };
    let bus = crate::bind_listener(SocketAddr::new(bind_ip, bus_port), backlog)
        .map_err(|e| format!("cluster bus: cannot listen on {bind_ip}:{bus_port}: {e}"))?;
    let bus_addr = bus.local_addr().map_err(|e| e.to_string())?;
    let announce = s.value("cluster-announce-ip");
    let announce_ip = if announce.is_empty() {
        bind_ip
    } else {
        (announce.as_str(), 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| format!("cluster-announce-ip {announce}: not an address"))?
    };
    if announce_ip.is_unspecified() {
        return Err(format!(
            "cluster mode: bound to {bind_ip}; set --cluster-announce-ip to the address other \
             nodes should use"
        ));
    }
    let at = |p: u16| SocketAddr::new(announce_ip, p);
    // The other doors' bound ports (0 = closed), published so clients can find them.
    let door =
        |d: commands::Door| Some(state.door_ports[d as usize].load(Relaxed)).filter(|&p| p != 0);
    let me = NodeInfo {
        id: id.clone(),
        resp: Some(at(resp.port())),
        bus: Some(at(bus_addr.port())),
        http: http.map(|h| at(h.port())),
        memcache: door(commands::Door::Memcache).map(at),
        binary: door(commands::Door::Binary).map(at),
        gossip: Some(at(bus_addr.port())),
        state: node_state::JOINING.into(),
        weight: 1,
        alive: true,
        dead_since: None,
    };
    let secret = s.value("cluster-secret").into_bytes();
    let redirect = s.value("cluster-redirect") == "yes";
    let cl = Arc::new(Cluster::new(id.clone(), me, redirect, secret));
    let seeds: Vec<String> = s
        .value("cluster-join")
        .split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect();
    match &saved {
        Some(sv) if !sv.slots.is_empty() => {
            tracing::info!(
                "cluster: node {id} restarting with {} slots it owned (nodes.conf)",
                sv.slots.len()
            );
            cl.restore_claims(&sv.slots);
            cl.set_my_state(node_state::SERVING);
        }
        Some(_) if seeds.is_empty() => {
            // It was in a cluster and owns nothing now (it left, or its slots went to
            // others): founding a new cluster would claim slots others own.
            tracing::warn!(
                "cluster: node {id} owns no slots and has no --join: it waits to be contacted; \
                 start it with --join <node>:<cluster-port> to rejoin, or move {} away to \
                 start a new cluster",
                path.display()
            );
        }
        _ if seeds.is_empty() => {
            tracing::info!("cluster: node {id} starts a new cluster with every slot");
            cl.found();
            cl.set_my_state(node_state::SERVING);
        }
        _ => tracing::info!("cluster: node {id} joining through {}", seeds.join(", ")),
    }
    let mut keys = vec![
        (key::STATE.to_string(), cl.myself().state),
        (key::WEIGHT.to_string(), "1".to_string()),
        (key::RESP.to_string(), at(resp.port()).to_string()),
        (addr_key::BUS.to_string(), at(bus_addr.port()).to_string()),
    ];
    if let Some(h) = http {
        keys.push((addr_key::HTTP.to_string(), at(h.port()).to_string()));
    }
    for (k, d) in [
        (addr_key::MEMCACHE, commands::Door::Memcache),
        (addr_key::BINARY, commands::Door::Binary),
    ] {
        if let Some(p) = door(d) {
            keys.push((k.to_string(), at(p).to_string()));
        }
    }
    for c in 0..claims::CHUNKS {
        keys.push((claims::chunk_key(c), cl.my_claims(c)));
    }
    save_conf(&path, &cl);
    let _ = state.cluster.set(cl);
    Ok(Setup {
        bus,
        gossip: SocketAddr::new(bind_ip, bus_addr.port()),
        advertise_gossip: at(bus_addr.port()),
        seeds,
        keys,
    })
}

/// Start the cluster thread (gossip, reconciler, hand-offs). It ends at shutdown.
pub fn start(
    state: Arc<ServerState>,
    setup: &Setup,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let cfg = cluster::Config {
        node_id: state
            .cluster
            .get()
            .map(|c| c.my_id.clone())
            .unwrap_or_default(),
        generation: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        cluster_name: "rcache".into(),
        listen: setup.gossip,
        advertise: setup.advertise_gossip,
        seeds: setup.seeds.clone(),
        gossip_interval: GOSSIP_INTERVAL,
        keys: setup.keys.clone(),
    };
    std::thread::Builder::new()
        .name("rcache-cluster".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cluster: cannot start runtime: {e}");
                    state.request_shutdown();
                    return;
                }
            };
            rt.block_on(run(state, cfg));
        })
}

async fn run(state: Arc<ServerState>, cfg: cluster::Config) {
    let Some(cl) = state.cluster.get().cloned() else {
        return;
    };
    let transport = cluster::secure::SecretTransport::new(&cl.secret);
    let membership = match cluster::Membership::start(cfg, &transport).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("cluster: cannot start gossip: {e}");
            state.request_shutdown();
            return;
        }
    };
    let path = conf_path(&state);
    let mut published: HashMap<usize, String> = HashMap::new();
    for c in 0..claims::CHUNKS {
        published.insert(c, cl.my_claims(c));
    }
    let mut planner = handoff::Planner::default();
    let mut last_cleanup = Instant::now();
    let mut leave_started: Option<Instant> = None;
    let mut no_quorum_logged = false;
    loop {
        tokio::select! {
            _ = state.shutdown.wait() => break,
            _ = tokio::time::sleep(TICK) => {}
            _ = cl.claims_changed.notified() => {}
            _ = cl.leave.notified() => {}
        }
        let members = membership.members().await;
        let change = cl.apply_view(&members);
        for (id, what) in &change.events {
            tracing::info!("cluster: node {id} {what}");
        }
        if !change.lost.is_empty() {
            tracing::warn!(
                "cluster: {} slots were claimed by other nodes with a newer epoch; dropping this node's copy",
                change.lost.len()
            );
            // Commands routed here before the change finish first (see handoff.rs).
            drop(state.gate.exclusive().await);
            for &s in &change.lost {
                commands::cluster_cmd::drop_slot(&state, s);
            }
        }
        if change.no_quorum > 0 && !no_quorum_logged {
            tracing::warn!(
                "cluster: {} slots have a dead owner, but this node sees no majority of the \
                 cluster: they stay unserved here until it does (a partition's minority side \
                 never takes slots)",
                change.no_quorum
            );
        }
        no_quorum_logged = change.no_quorum > 0;
        if change.orphans_taken > 0 {
            tracing::warn!(
                "cluster: took over {} slots of a failed node; their data is lost (no replicas)",
                change.orphans_taken
            );
        }
        // Publish our claims where they changed, and keep them for the next start.
        let mut changed = false;
        for c in 0..claims::CHUNKS {
            let v = cl.my_claims(c);
            if published.get(&c) != Some(&v) {
                membership.set(&claims::chunk_key(c), &v).await;
                published.insert(c, v);
                changed = true;
            }
        }
        if changed {
            save_conf(&path, &cl);
        }
        let me = cl.myself();
        if me.state == node_state::JOINING && cl.assigned() == cluster::SLOTS {
            tracing::info!("cluster: this node knows the whole slot map; serving");
            cl.set_my_state(node_state::SERVING);
            membership.set(key::STATE, node_state::SERVING).await;
        }
        if cl.is_leaving() && me.state != node_state::LEAVING {
            tracing::info!("cluster: leaving: handing every slot to the other nodes");
            cl.set_my_state(node_state::LEAVING);
            membership.set(key::STATE, node_state::LEAVING).await;
            leave_started = Some(Instant::now());
        }
        if me.state != node_state::JOINING {
            planner.plan(&state, &cl);
        }
        if let Some(t0) = leave_started {
            let owned = cl.owned().len();
            let others = cl
                .nodes()
                .iter()
                .any(|(i, n)| *i != cl.me && n.alive && n.state == node_state::SERVING);
            if owned == 0 || (!others && t0.elapsed() > Duration::from_secs(2)) {
                if owned > 0 {
                    tracing::warn!(
                        "cluster: no other serving node to take {owned} slots; stopping with them"
                    );
                } else {
                    tracing::info!("cluster: every slot handed off; stopping");
                }
                // Give gossip a round to carry the last claims before going quiet.
                tokio::time::sleep(GOSSIP_INTERVAL * 2).await;
                state.request_shutdown();
            }
        }
        if last_cleanup.elapsed() >= CLEANUP_EVERY {
            last_cleanup = Instant::now();
            cleanup(&state, &cl).await;
        }
    }
    planner.stop();
    save_conf(&path, &cl);
    let _ = membership.shutdown().await;
}

/// Drop keys this node holds for slots it neither owns nor is importing (an aborted
/// import whose connection vanished, a restart that found others own its old slots):
/// invariant 4, nothing comes back from a stale copy.
async fn cleanup(state: &ServerState, cl: &Cluster) {
    let stale = |s: u16| {
        cl.owner(s) != cl.me
            && !cl.is_importing(s)
            && cl.owner(s) != cluster::state::NONE
            && state.ks.count_keys_in_slot(0, s) > 0
    };
    let found: Vec<u16> = (0..cluster::SLOTS as u16).filter(|&s| stale(s)).collect();
    if found.is_empty() {
        return;
    }
    // A command routed here just before a slot changed hands finishes first.
    drop(state.gate.exclusive().await);
    for s in found.into_iter().filter(|&s| stale(s)) {
        let n = commands::cluster_cmd::drop_slot(state, s);
        tracing::info!("cluster: dropped {n} keys of slot {s}, which this node does not own");
    }
}
