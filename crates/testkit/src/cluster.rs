//! `TestCluster`: N real `rcache server` processes in cluster mode, joined and ready.
//!
//! ```no_run
//! let mut cl = testkit::TestCluster::builder("/path/to/rcache")
//!     .nodes(3)
//!     .secret("s3cret") // any flag for every node: .arg("--cluster-redirect")…
//!     .start(); // every node serving, every node sees 3
//! let mut c = cl.node(1).raw();
//! assert_eq!(c.request(&["SET", "k", "v"]), "+OK\r\n");
//! let i = cl.add_node(); // a 4th joins through the first; waits until all see 4
//! cl.wait_settled(std::time::Duration::from_secs(30)); // hand-offs done everywhere
//! cl.sigterm(i, std::time::Duration::from_secs(30)); // graceful leave, waits for the exit
//! ```
//!
//! Every node gets `--port 0 --cluster-port 0` (free ports picked by the kernel, so tests
//! never race each other or a person running a cluster by hand on fixed ports), its own
//! temporary `--dir`, `--http-port off` and `--save ""`. The RESP address is read from the
//! node's start-up log line, the bus address from the `myself` line of its CLUSTER NODES.
//! The first node is put in cluster mode by its config file (`cluster-enabled = "yes"`:
//! `--cluster-port 0` alone does not turn cluster mode on); the others `--join` the bus
//! of the first live node.
//!
//! Readiness is polled (CLUSTER INFO: `cluster_state:ok`, `cluster_my_state:serving`,
//! `cluster_known_nodes`), every wait has a deadline and fails with each node's view and
//! the tail of its log. Dropping the cluster SIGKILLs what is still running (a graceful
//! stop of every node would hand the slots round and round for nothing); when the test is
//! panicking the nodes' logs go to stderr first.

use crate::process::{RcacheProcess, RcacheProcessBuilder};
use crate::raw::RawConn;
use crate::tools::TempDir;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// Redis Cluster's slot count.
pub const SLOTS: usize = 16384;

/// How long a cluster gets to form (or a node to join): gossip rounds are 200 ms, a debug
/// build on two busy cores is slow.
pub const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the slot map must stay still for `wait_settled` (10 gossip rounds).
pub const QUIET: Duration = Duration::from_secs(2);

/// The hash slot of a key, computed here (CRC16/XMODEM of the `{tag}` if there is a
/// non-empty one, mod 16384), independently of the server's code, so the tests check the
/// server against Redis Cluster's definition.
pub fn key_slot(key: &[u8]) -> u16 {
    let k = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(k) % SLOTS as u16
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A hashtag for every slot: `tags[s]` is a string whose `{tag}` hashes to slot `s`, so
/// `format!("{{{}}}x", tags[s])` is a key in slot `s`.
pub fn tags_for_every_slot() -> Vec<String> {
    let mut tags: Vec<Option<String>> = vec![None; SLOTS];
    let mut left = SLOTS;
    let mut i = 0u64;
    while left > 0 {
        let t = i.to_string();
        let s = key_slot(t.as_bytes()) as usize;
        if tags[s].is_none() {
            tags[s] = Some(t);
            left -= 1;
        }
        i += 1;
    }
    tags.into_iter().map(|t| t.expect("filled")).collect()
}

/// CLUSTER INFO of the node at `addr` as `field -> value`; `None` when it does not answer
/// (within a couple of seconds) or answers something else.
pub fn try_cluster_info(addr: SocketAddr) -> Option<HashMap<String, String>> {
    let text = try_request(addr, &["CLUSTER", "INFO"])?;
    if text.starts_with('-') {
        return None;
    }
    let map: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    map.contains_key("cluster_state").then_some(map)
}

/// CLUSTER NODES of the node at `addr` (the text), or `None` if it does not answer.
pub fn try_cluster_nodes(addr: SocketAddr) -> Option<String> {
    let text = try_request(addr, &["CLUSTER", "NODES"])?;
    if text.starts_with('-') {
        return None;
    }
    // A RESP2 bulk string or a RESP3 verbatim one: drop the header line (and `txt:`).
    let body = text.split_once("\r\n").map_or("", |(_, b)| b);
    let body = body.strip_prefix("txt:").unwrap_or(body);
    Some(body.trim_end_matches("\r\n").to_string())
}

/// One request on a fresh connection, with short timeouts; the reply as text.
pub fn try_request(addr: SocketAddr, args: &[&str]) -> Option<String> {
    let mut c = RawConn::try_connect(addr, Duration::from_secs(1)).ok()?;
    c.try_send(&crate::raw::resp(args)).ok()?;
    let r = c.read_reply(Duration::from_secs(5)).ok()?;
    Some(String::from_utf8_lossy(&r).into_owned())
}

/// One line of CLUSTER NODES.
#[derive(Debug, Clone)]
pub struct NodeLine {
    pub id: String,
    /// The RESP address (`ip:port` before the `@`).
    pub addr: String,
    pub bus_port: u16,
    pub flags: Vec<String>,
    pub connected: bool,
    /// The slots the line lists (ranges expanded; the `[s->-id]` markers left out).
    pub slots: Vec<u16>,
}

impl NodeLine {
    pub fn is_myself(&self) -> bool {
        self.flags.iter().any(|f| f == "myself")
    }
}

/// Parse CLUSTER NODES text.
pub fn parse_nodes(text: &str) -> Vec<NodeLine> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let w: Vec<&str> = line.split(' ').collect();
        if w.len() < 8 {
            continue;
        }
        let (addr, bus) = w[1].split_once('@').unwrap_or((w[1], "0"));
        let bus_port = bus.split(',').next().unwrap_or("0").parse().unwrap_or(0);
        let mut slots = Vec::new();
        for r in &w[8..] {
            if r.starts_with('[') {
                continue;
            }
            match r.split_once('-') {
                Some((a, b)) => {
                    if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                        slots.extend(a..=b);
                    }
                }
                None => {
                    if let Ok(s) = r.parse::<u16>() {
                        slots.push(s);
                    }
                }
            }
        }
        out.push(NodeLine {
            id: w[0].to_string(),
            addr: addr.to_string(),
            bus_port,
            flags: w[2].split(',').map(str::to_string).collect(),
            connected: w[7] == "connected",
            slots,
        });
    }
    out
}

/// One `rcache server` of a `TestCluster`.
pub struct ClusterNode {
    proc: RcacheProcess,
    _dir: TempDir,
    resp: SocketAddr,
    bus: SocketAddr,
    id: String,
    gone: bool,
}

impl ClusterNode {
    /// Where clients connect (RESP).
    pub fn addr(&self) -> SocketAddr {
        self.resp
    }

    pub fn port(&self) -> u16 {
        self.resp.port()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://{}", self.resp)
    }

    /// The cluster bus (TCP) and gossip (UDP) address.
    pub fn bus(&self) -> SocketAddr {
        self.bus
    }

    /// The node id (CLUSTER MYID).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.resp)
    }

    pub fn process(&self) -> &RcacheProcess {
        &self.proc
    }

    /// Whether the test has not stopped or killed it (and it has not exited by itself).
    pub fn is_live(&self) -> bool {
        !self.gone && self.proc.try_wait().is_none()
    }

    /// What it logged so far.
    pub fn output(&self) -> String {
        self.proc.output()
    }

    /// CLUSTER INFO, or panic.
    pub fn info(&self) -> HashMap<String, String> {
        try_cluster_info(self.resp).unwrap_or_else(|| {
            panic!(
                "node {} ({}) does not answer CLUSTER INFO\n{}",
                self.resp,
                self.id,
                tail(&self.output(), 40)
            )
        })
    }

    /// One CLUSTER INFO field (`cluster_state`…), or panic.
    pub fn info_field(&self, field: &str) -> String {
        let i = self.info();
        i.get(field)
            .cloned()
            .unwrap_or_else(|| panic!("no {field} in CLUSTER INFO of {}: {i:?}", self.resp))
    }

    /// CLUSTER NODES, parsed, or panic.
    pub fn nodes(&self) -> Vec<NodeLine> {
        parse_nodes(
            &try_cluster_nodes(self.resp)
                .unwrap_or_else(|| panic!("node {} does not answer CLUSTER NODES", self.resp)),
        )
    }

    /// The slots this node says it owns (its `myself` line).
    pub fn owned_slots(&self) -> Vec<u16> {
        self.nodes()
            .into_iter()
            .find(NodeLine::is_myself)
            .map(|l| l.slots)
            .unwrap_or_default()
    }
}

/// Builds a `TestCluster`.
pub struct TestClusterBuilder {
    bin: PathBuf,
    nodes: usize,
    args: Vec<String>,
}

impl TestClusterBuilder {
    /// How many nodes to start (default 3).
    pub fn nodes(mut self, n: usize) -> Self {
        assert!(n >= 1, "a cluster has at least one node");
        self.nodes = n;
        self
    }

    /// One more argument for every node (`rcache server … <arg>`), nodes added later too.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `--cluster-secret <s>` on every node.
    pub fn secret(self, s: &str) -> Self {
        self.arg("--cluster-secret").arg(s)
    }

    /// `--cluster-redirect` on every node (MOVED instead of forwarding).
    pub fn redirect(self) -> Self {
        self.arg("--cluster-redirect")
    }

    /// Start the nodes (the first, then the others joining through it, all at once) and
    /// wait until every one is serving and sees all of them.
    pub fn start(self) -> TestCluster {
        let mut cl = TestCluster {
            bin: self.bin,
            args: self.args,
            nodes: Vec::new(),
        };
        let first = cl.spawn_node(&cl.args.clone(), None);
        cl.nodes.push(first);
        let seed = cl.nodes[0].bus;
        let args = cl.args.clone();
        let pending: Vec<_> = (1..self.nodes)
            .map(|_| cl.spawn_process(&args, Some(seed)))
            .collect();
        for (proc, dir) in pending {
            let node = cl.finish_spawn(proc, dir, &args, Some(seed));
            cl.nodes.push(node);
        }
        cl.wait_formed(FORM_TIMEOUT);
        cl
    }
}

/// A cluster of `rcache server` processes (see the module documentation).
pub struct TestCluster {
    bin: PathBuf,
    args: Vec<String>,
    /// Every node ever started, in order (indexes stay valid after a node goes).
    nodes: Vec<ClusterNode>,
}

impl TestCluster {
    pub fn builder(bin: impl AsRef<Path>) -> TestClusterBuilder {
        TestClusterBuilder {
            bin: bin.as_ref().to_path_buf(),
            nodes: 3,
            args: Vec::new(),
        }
    }

    /// Node `i` (in start order; stopped ones included).
    pub fn node(&self, i: usize) -> &ClusterNode {
        &self.nodes[i]
    }

    /// How many nodes were ever started.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Indexes of the nodes still running.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_live())
            .collect()
    }

    /// RESP addresses of the nodes still running, in start order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.live()
            .into_iter()
            .map(|i| self.nodes[i].resp)
            .collect()
    }

    /// The bus address new nodes join through: the first live node's.
    pub fn seed(&self) -> SocketAddr {
        let i = *self.live().first().expect("no live node to join through");
        self.nodes[i].bus
    }

    /// Start one more node (the cluster's arguments), joining through the first live node;
    /// wait until it serves and every live node sees all live nodes. Returns its index.
    pub fn add_node(&mut self) -> usize {
        let seed = self.seed();
        let args = self.args.clone();
        let node = self.spawn_node(&args, Some(seed));
        self.nodes.push(node);
        self.wait_formed(FORM_TIMEOUT);
        self.nodes.len() - 1
    }

    /// Start a node that is not part of the cluster's bookkeeping: `args` instead of the
    /// cluster's (say another `--cluster-secret`), `--join` the first live node. Returns as
    /// soon as it answers on its RESP port; nothing waits for it to join.
    pub fn start_outsider(&self, args: &[&str]) -> ClusterNode {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        self.spawn_node(&args, Some(self.seed()))
    }

    /// SIGTERM node `i` (a graceful leave: it hands its slots off, then exits) and wait up
    /// to `timeout` for it to exit; panics with its log if it does not. Returns the status.
    pub fn sigterm(&mut self, i: usize, timeout: Duration) -> ExitStatus {
        let n = &mut self.nodes[i];
        n.proc.sigterm();
        let st = n.proc.wait_exit(timeout);
        n.gone = true;
        st.unwrap_or_else(|| {
            panic!(
                "node {i} ({}) did not exit within {timeout:?} after SIGTERM\n{}",
                n.resp,
                tail(&n.output(), 60)
            )
        })
    }

    /// SIGKILL node `i` (a crash) and reap it.
    pub fn sigkill(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.proc.sigkill();
        n.gone = true;
    }

    /// Wait until every live node is serving with the whole map (`cluster_state:ok`) and
    /// sees exactly the live nodes (`cluster_known_nodes`).
    pub fn wait_formed(&self, timeout: Duration) {
        let want = self.live().len();
        self.wait_all(
            &format!("every node serving and seeing {want} nodes"),
            timeout,
            |info| {
                field(info, "cluster_state") == "ok"
                    && field(info, "cluster_my_state") == "serving"
                    && field(info, "cluster_known_nodes") == want.to_string()
            },
        );
    }

    /// Wait until every live node sees exactly `n` live nodes.
    pub fn wait_known(&self, n: usize, timeout: Duration) {
        self.wait_all(&format!("every node seeing {n} nodes"), timeout, |info| {
            field(info, "cluster_known_nodes") == n.to_string()
        });
    }

    /// Wait until the slot map is settled: every live node reports `cluster_state:ok` and
    /// `cluster_moving_slots:0`, the live nodes' own claims (their `myself` lines) cover
    /// every slot exactly once with every live node owning some, and all of that has held,
    /// with the same number of slots per node, for `QUIET`.
    ///
    /// Why the quiet period: `cluster_moving_slots` counts the slots a node still has to
    /// hand to the nodes *it knows to be serving*; a node that has not yet heard (gossip)
    /// that a newcomer serves reports 0 for a moment. No reply says what a node believes
    /// about another's state, so the map must also stay still for several gossip rounds.
    pub fn wait_settled(&self, timeout: Duration) {
        let mut since: Option<(Instant, Vec<usize>)> = None;
        self.poll(
            "the slot map settled (cluster_moving_slots:0 and cluster_state:ok everywhere, \
             every slot claimed once, no change for a while)",
            timeout,
            || {
                self.check_all(|info| {
                    field(info, "cluster_state") == "ok"
                        && field(info, "cluster_moving_slots") == "0"
                })?;
                let owners = self.try_slot_owners()?;
                let mut counts = vec![0usize; self.nodes.len()];
                for o in owners {
                    counts[o] += 1;
                }
                if let Some(i) = self.live().into_iter().find(|&i| counts[i] == 0) {
                    since = None;
                    return Err(format!(
                        "node {i} owns no slot yet; slots per node {counts:?}"
                    ));
                }
                match &since {
                    Some((t, c)) if *c == counts => {
                        if t.elapsed() >= QUIET {
                            Ok(())
                        } else {
                            Err(format!(
                                "quiet for {:?} so far; slots per node {counts:?}",
                                t.elapsed()
                            ))
                        }
                    }
                    _ => {
                        since = Some((Instant::now(), counts.clone()));
                        Err(format!("slots per node now {counts:?}"))
                    }
                }
            },
        );
    }

    /// For every slot, the index of the live node whose `myself` line claims it. Panics if
    /// a slot is claimed by none or by several.
    pub fn slot_owners(&self) -> Vec<usize> {
        self.try_slot_owners().unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_slot_owners(&self) -> Result<Vec<usize>, String> {
        let mut owner = vec![usize::MAX; SLOTS];
        for i in self.live() {
            let n = &self.nodes[i];
            let text = try_cluster_nodes(n.resp)
                .ok_or_else(|| format!("node {i} ({}) does not answer CLUSTER NODES", n.resp))?;
            let me = parse_nodes(&text)
                .into_iter()
                .find(NodeLine::is_myself)
                .ok_or_else(|| format!("node {i}: no myself line"))?;
            for s in me.slots {
                if owner[s as usize] != usize::MAX {
                    return Err(format!(
                        "slot {s} claimed by node {} and node {i}",
                        owner[s as usize]
                    ));
                }
                owner[s as usize] = i;
            }
        }
        match owner.iter().position(|&o| o == usize::MAX) {
            Some(s) => Err(format!(
                "slot {s} (and maybe others) is claimed by no live node"
            )),
            None => Ok(owner),
        }
    }

    /// Each live node's CLUSTER INFO highlights and the tail of its log, for a failure
    /// message.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let live = n.is_live();
            out.push_str(&format!(
                "=== node {i} {} (bus {}, id {}){}\n",
                n.resp,
                n.bus,
                n.id,
                if live { "" } else { " [stopped]" }
            ));
            if live {
                match try_cluster_info(n.resp) {
                    Some(info) => {
                        let mut keys: Vec<_> = info
                            .iter()
                            .filter(|(k, _)| {
                                [
                                    "cluster_state",
                                    "cluster_known_nodes",
                                    "cluster_my_state",
                                    "cluster_moving_slots",
                                    "cluster_slots_assigned",
                                    "cluster_slots_lost",
                                    "cluster_handoffs_done",
                                    "cluster_handoffs_aborted",
                                ]
                                .contains(&k.as_str())
                            })
                            .map(|(k, v)| format!("{k}:{v}"))
                            .collect();
                        keys.sort();
                        out.push_str(&keys.join(" "));
                        out.push('\n');
                    }
                    None => out.push_str("(no answer to CLUSTER INFO)\n"),
                }
            }
            out.push_str(&tail(&n.output(), 25));
            out.push('\n');
        }
        out
    }

    // ---- internals ----

    /// Poll CLUSTER INFO of every live node until `ok` holds for all of them.
    fn wait_all(
        &self,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&HashMap<String, String>) -> bool,
    ) {
        self.poll(what, timeout, || self.check_all(&ok));
    }

    /// Whether `ok` holds for the CLUSTER INFO of every live node; `Err` says what each
    /// node shows.
    fn check_all(&self, ok: impl Fn(&HashMap<String, String>) -> bool) -> Result<(), String> {
        let mut views = Vec::new();
        let mut all = true;
        for i in self.live() {
            let n = &self.nodes[i];
            match try_cluster_info(n.resp) {
                Some(info) => {
                    all &= ok(&info);
                    views.push(format!(
                        "node {i}: state={} my_state={} known={} moving={}",
                        field(&info, "cluster_state"),
                        field(&info, "cluster_my_state"),
                        field(&info, "cluster_known_nodes"),
                        field(&info, "cluster_moving_slots"),
                    ));
                }
                None => {
                    all = false;
                    views.push(format!("node {i}: no answer"));
                }
            }
        }
        if all {
            Ok(())
        } else {
            Err(views.join("; "))
        }
    }

    /// Poll `f` until it is `Ok`; on the deadline panic with `what`, the last `Err` (what
    /// was seen) and the report. A node that exited on its own fails the wait at once.
    pub fn poll(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> Result<(), String>) {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            for (i, n) in self.nodes.iter().enumerate() {
                if !n.gone {
                    if let Some(st) = n.proc.try_wait() {
                        panic!(
                            "node {i} ({}) exited by itself ({st}) while waiting for {what}\n{}",
                            n.resp,
                            self.report()
                        );
                    }
                }
            }
            let last = match f() {
                Ok(()) => return,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\nlast seen: {last}\n{}",
                    self.report()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    fn builder_for(
        &self,
        args: &[String],
        seed: Option<SocketAddr>,
        dir: &TempDir,
    ) -> RcacheProcessBuilder {
        let mut b = RcacheProcess::builder(&self.bin)
            .no_port_flag()
            .no_wait()
            .args([
                "--port",
                "0",
                "--cluster-port",
                "0",
                "--http-port",
                "off",
                "--save",
                "",
            ])
            .args(["--dir".to_string(), dir.path().display().to_string()]);
        match seed {
            Some(s) => b = b.args(["--join".to_string(), s.to_string()]),
            // `--cluster-port 0` alone leaves cluster mode off: the config file turns it on.
            None => b = b.config_toml("cluster-enabled = \"yes\"\n"),
        }
        b.args(args.iter().cloned())
    }

    fn spawn_process(&self, args: &[String], seed: Option<SocketAddr>) -> (RcacheProcess, TempDir) {
        let dir = TempDir::new("rcache-cluster");
        let p = self.builder_for(args, seed, &dir).start();
        (p, dir)
    }

    /// Spawn a node and wait until it answers on its RESP port with its bus address known;
    /// retried (on new ports) when the process exits first.
    fn spawn_node(&self, args: &[String], seed: Option<SocketAddr>) -> ClusterNode {
        let (p, dir) = self.spawn_process(args, seed);
        self.finish_spawn(p, dir, args, seed)
    }

    fn finish_spawn(
        &self,
        mut proc: RcacheProcess,
        mut dir: TempDir,
        args: &[String],
        seed: Option<SocketAddr>,
    ) -> ClusterNode {
        for attempt in 1..=3 {
            match addresses(&proc) {
                Ok((resp, bus, id)) => {
                    return ClusterNode {
                        proc,
                        _dir: dir,
                        resp,
                        bus,
                        id,
                        gone: false,
                    }
                }
                Err(e) if attempt < 3 && proc.try_wait().is_some() => {
                    eprintln!("cluster node did not start ({e}); retrying");
                    (proc, dir) = self.spawn_process(args, seed);
                }
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n----- cluster state at the failure -----\n{}",
                self.report()
            );
        }
        for n in &mut self.nodes {
            if n.proc.try_wait().is_none() {
                n.proc.sigkill();
            }
            n.gone = true;
        }
    }
}

/// The RESP address (from the start-up log line), bus address and id (from CLUSTER NODES)
/// of a node just spawned; an error if it exits or stays silent past `READY_TIMEOUT`.
fn addresses(p: &RcacheProcess) -> Result<(SocketAddr, SocketAddr, String), String> {
    let deadline = Instant::now() + crate::READY_TIMEOUT;
    let mut pause = Duration::from_millis(2);
    let mut resp = None;
    loop {
        if resp.is_none() {
            resp = resp_from_log(&p.output());
        }
        if let Some(r) = resp {
            if crate::ping_ready(r) {
                if let Some(me) = try_cluster_nodes(r)
                    .and_then(|t| parse_nodes(&t).into_iter().find(NodeLine::is_myself))
                {
                    if me.bus_port != 0 {
                        let bus = SocketAddr::new(r.ip(), me.bus_port);
                        return Ok((r, bus, me.id));
                    }
                }
            }
        }
        if let Some(st) = p.try_wait() {
            return Err(format!(
                "cluster node exited ({st}) before it was ready\n{}",
                p.output()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "cluster node not ready (RESP port from the log, PING, CLUSTER NODES) within {:?}\n{}",
                crate::READY_TIMEOUT,
                p.output()
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// `… ready to accept connections on 127.0.0.1:41317 (resp) …` → the address.
fn resp_from_log(log: &str) -> Option<SocketAddr> {
    let line = log
        .lines()
        .find(|l| l.contains("ready to accept connections on"))?;
    let (before, _) = line.split_once(" (resp)")?;
    before.rsplit(' ').next()?.parse().ok()
}

fn field<'a>(info: &'a HashMap<String, String>, k: &str) -> &'a str {
    info.get(k).map_or("?", String::as_str)
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    let mut s = lines[from..].join("\n");
    if from > 0 {
        s = format!("[… {from} earlier lines]\n{s}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_as_redis_cluster() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT` of Redis 7.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }

    #[test]
    fn every_slot_gets_a_tag() {
        let t = tags_for_every_slot();
        assert_eq!(t.len(), SLOTS);
        for (s, tag) in t.iter().enumerate() {
            assert_eq!(key_slot(format!("{{{tag}}}x").as_bytes()) as usize, s);
        }
    }

    #[test]
    fn nodes_lines() {
        let t = "abc 127.0.0.1:7000@17000 myself,master - 0 1 3 connected 0-2 5 [7->-def]\n\
                 def 127.0.0.1:7001@17001 master,fail - 0 1 2 disconnected 3-4\n";
        let n = parse_nodes(t);
        assert_eq!(n.len(), 2);
        assert!(n[0].is_myself());
        assert_eq!(n[0].slots, vec![0, 1, 2, 5]);
        assert_eq!(n[0].bus_port, 17000);
        assert_eq!(n[1].slots, vec![3, 4]);
        assert!(!n[1].connected);
        assert_eq!(
            resp_from_log("x INFO rcache server ready to accept connections on 127.0.0.1:41317 (resp) version=1"),
            Some("127.0.0.1:41317".parse().unwrap())
        );
    }
}
