//! Who is in the cluster: chitchat (scuttlebutt gossip with phi-accrual failure detection)
//! carries each node's published keys — its state, weight and addresses — and says which
//! nodes are alive. This module turns that into the member list the slot map is computed
//! from (`slots::target_map`).
//!
//! ```text
//!  Membership::start(config, transport)   chitchat node: id + generation, seeds, keys
//!  members()                              live nodes (self included) and their keys
//!  serving(&members)                      the ones in state "serving": the slot map's input
//! ```
//! The transport is chitchat's: UDP for real nodes, `ChannelTransport` for simulations of
//! many nodes in one process (the tests run 100). Published keys (`key::*`) are strings, as
//! chitchat carries them.

use chitchat::transport::Transport;
use chitchat::{spawn_chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The keys a node publishes.
pub mod key {
    /// `joining`, `serving` or `leaving`.
    pub const STATE: &str = "state";
    /// Share of the slots, relative to the others (decimal, ≥ 1).
    pub const WEIGHT: &str = "weight";
    /// The RESP address clients and forwarding use (`host:port`).
    pub const RESP: &str = "addr.resp";
}

/// A node's lifecycle state, as published.
pub mod state {
    pub const JOINING: &str = "joining";
    pub const SERVING: &str = "serving";
    pub const LEAVING: &str = "leaving";
}

/// How a node joins.
#[derive(Debug, Clone)]
pub struct Config {
    /// Stable across restarts (kept in the data directory by the server).
    pub node_id: String,
    /// Bumped at every start, so the cluster tells a restarted node from its old self.
    pub generation: u64,
    /// Nodes with another cluster name ignore this one's gossip.
    pub cluster_name: String,
    /// Where gossip is received, and the address other nodes are told to use (they differ
    /// behind NAT: `--cluster-announce-ip`).
    pub listen: SocketAddr,
    pub advertise: SocketAddr,
    /// `host:port` of nodes already in the cluster (none for the first node).
    pub seeds: Vec<String>,
    pub gossip_interval: Duration,
    /// Keys published from the start (state, weight, addresses).
    pub keys: Vec<(String, String)>,
}

/// A live node as gossip knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub node_id: String,
    pub generation: u64,
    pub gossip: SocketAddr,
    pub keys: BTreeMap<String, String>,
}

impl MemberInfo {
    pub fn state(&self) -> &str {
        self.keys.get(key::STATE).map_or("", |s| s.as_str())
    }

    pub fn weight(&self) -> u32 {
        self.keys
            .get(key::WEIGHT)
            .and_then(|w| w.parse().ok())
            .unwrap_or(1)
    }
}

/// This node's membership: the chitchat node and what it sees.
pub struct Membership {
    handle: ChitchatHandle,
}

impl Membership {
    /// Start gossiping (a tokio task): publishes `config.keys`, contacts the seeds.
    pub async fn start(config: Config, transport: &dyn Transport) -> anyhow::Result<Membership> {
        let id = ChitchatId::new(config.node_id, config.generation, config.advertise);
        let cc = ChitchatConfig {
            chitchat_id: id,
            cluster_id: config.cluster_name,
            gossip_interval: config.gossip_interval,
            listen_addr: config.listen,
            seed_nodes: config.seeds,
            failure_detector_config: FailureDetectorConfig {
                // A dead node is told within a few seconds at the default interval.
                initial_interval: config.gossip_interval * 10,
                ..FailureDetectorConfig::default()
            },
            marked_for_deletion_grace_period: Duration::from_secs(3600),
            catchup_callback: None,
            extra_liveness_predicate: None,
        };
        let handle = spawn_chitchat(cc, config.keys, transport).await?;
        Ok(Membership { handle })
    }

    /// Live nodes (this one included), ordered by node id.
    pub async fn members(&self) -> Vec<MemberInfo> {
        let cc = self.handle.chitchat();
        let cc = cc.lock().await;
        let mut out: Vec<MemberInfo> = cc
            .live_nodes()
            .filter_map(|id| {
                let st = cc.node_state(id)?;
                Some(MemberInfo {
                    node_id: id.node_id.to_string(),
                    generation: id.generation_id,
                    gossip: id.gossip_advertise_addr,
                    keys: st
                        .key_values()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        out
    }

    /// Publish (or change) one of this node's keys.
    pub async fn set(&self, key: &str, value: &str) {
        let cc = self.handle.chitchat();
        cc.lock().await.self_node_state().set(key, value);
    }

    /// Stop gossiping.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.handle.shutdown().await
    }
}

/// The members in state `serving`, with their weights: the slot map's input.
pub fn serving(members: &[MemberInfo]) -> Vec<crate::Member<'_>> {
    members
        .iter()
        .filter(|m| m.state() == state::SERVING)
        .map(|m| crate::Member {
            id: &m.node_id,
            weight: m.weight(),
        })
        .collect()
}
