//! Many nodes in one process over chitchat's in-memory transport: membership converges,
//! every node computes the same slot map, and a join moves at most 1.2/N of the slots.
//! Bounded in time (convergence is polled, never slept for).

use chitchat::transport::ChannelTransport;
use cluster::membership::{key, state};
use cluster::{moved, serving, target_map, Config, Membership};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1000 + i as u16))
}

async fn node(i: usize, t: &ChannelTransport) -> Membership {
    let cfg = Config {
        node_id: format!("node-{i:03}"),
        generation: 1,
        cluster_name: "sim".into(),
        listen: addr(i),
        advertise: addr(i),
        seeds: if i == 0 {
            vec![]
        } else {
            vec![addr(0).to_string()]
        },
        // 100 nodes share 2 cores (a debug build in CI): a calm interval keeps heartbeats
        // on time, so the failure detector does not suspect live nodes.
        gossip_interval: Duration::from_millis(200),
        keys: vec![
            (key::STATE.into(), state::SERVING.into()),
            (key::WEIGHT.into(), "1".into()),
        ],
    };
    Membership::start(cfg, t).await.expect("start")
}

/// Owner ids per slot as `node` sees the cluster.
async fn map_of(node: &Membership) -> Vec<String> {
    let members = node.members().await;
    let serving = serving(&members);
    target_map(&serving)
        .into_iter()
        .map(|i| serving[i as usize].id.to_string())
        .collect()
}

/// Wait until every node sees `n` live members, all of them serving (their keys have
/// arrived too), bounded.
async fn converge(nodes: &[Membership], n: usize, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let mut all = true;
        for m in nodes {
            let members = m.members().await;
            if members.len() != n || serving(&members).len() != n {
                all = false;
                break;
            }
        }
        if all {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{n} nodes did not converge within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until every node computes the same map from `n` serving members (bounded): a
/// node may briefly miss a slow peer (100 nodes share 2 cores here), and gossip heals it.
async fn same_map(nodes: &[Membership], n: usize, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let first = map_of(&nodes[0]).await;
        let mut agree = serving(&nodes[0].members().await).len() == n;
        for m in &nodes[1..] {
            if !agree {
                break;
            }
            agree = map_of(m).await == first;
        }
        if agree {
            eprintln!(
                "every node computes the same map after {:?}",
                start.elapsed()
            );
            return first;
        }
        assert!(
            start.elapsed() < limit,
            "the maps did not agree within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_nodes_agree_on_the_slot_map_and_a_join_moves_little() {
    let t = ChannelTransport::default();
    let mut nodes = Vec::new();
    for i in 0..100 {
        nodes.push(node(i, &t).await);
    }
    let took = converge(&nodes, 100, Duration::from_secs(60)).await;
    eprintln!("100 nodes converged in {took:?}");
    let first = same_map(&nodes, 100, Duration::from_secs(60)).await;
    nodes.push(node(100, &t).await);
    let took = converge(&nodes, 101, Duration::from_secs(60)).await;
    eprintln!("the 101st node was seen by all in {took:?}");
    let after = same_map(&nodes, 101, Duration::from_secs(60)).await;
    let before: Vec<&str> = first.iter().map(|s| s.as_str()).collect();
    let after_ref: Vec<&str> = after.iter().map(|s| s.as_str()).collect();
    let m = moved(&before, &after_ref);
    let bound = 1.2 * cluster::SLOTS as f64 / 101.0;
    assert!((m as f64) <= bound, "{m} slots moved > {bound}");
    assert!(m > 0, "the newcomer got slots");
    for n in nodes {
        n.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_leaves_the_member_list() {
    let t = ChannelTransport::default();
    let mut nodes = Vec::new();
    for i in 0..5 {
        nodes.push(node(i, &t).await);
    }
    converge(&nodes, 5, Duration::from_secs(30)).await;
    // Node 4 stops gossiping (a crash): the others drop it within a few seconds.
    nodes.pop().unwrap().shutdown().await.unwrap();
    let took = converge(&nodes, 4, Duration::from_secs(30)).await;
    eprintln!("a dead node was detected in {took:?}");
    let members = nodes[0].members().await;
    assert!(members.iter().all(|m| m.node_id != "node-004"));
}
