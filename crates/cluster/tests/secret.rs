//! The cluster secret, over real UDP on 127.0.0.1: nodes that share it form a cluster; a
//! node with another secret (or none) is never seen and sees no one, and its datagrams are
//! counted as refused.

use cluster::membership::{key, state};
use cluster::secure::SecretTransport;
use cluster::{Config, Membership};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn node(
    name: &str,
    at: SocketAddr,
    seed: Option<SocketAddr>,
    t: &SecretTransport,
) -> Membership {
    let cfg = Config {
        node_id: name.into(),
        generation: 1,
        cluster_name: "secret-test".into(),
        listen: at,
        advertise: at,
        seeds: seed.map(|s| vec![s.to_string()]).unwrap_or_default(),
        gossip_interval: Duration::from_millis(100),
        keys: vec![(key::STATE.into(), state::SERVING.into())],
    };
    Membership::start(cfg, t).await.expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_nodes_with_the_secret_join() {
    let good = SecretTransport::new(b"correct horse battery staple");
    let bad = SecretTransport::new(b"guess");
    let a0 = free_udp();
    let n0 = node("n0", a0, None, &good).await;
    let n1 = node("n1", free_udp(), Some(a0), &good).await;
    let n2 = node("n2", free_udp(), Some(a0), &good).await;
    let stranger = node("stranger", free_udp(), Some(a0), &bad).await;
    let start = Instant::now();
    loop {
        let ids: Vec<String> = n0.members().await.into_iter().map(|m| m.node_id).collect();
        if ids == ["n0", "n1", "n2"] && n2.members().await.len() == 3 {
            break;
        }
        assert!(ids.len() <= 3, "a stranger joined: {ids:?}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no convergence: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The stranger kept trying all along: it sees only itself, and was refused.
    let refused = good.refused();
    let seen: Vec<String> = stranger
        .members()
        .await
        .into_iter()
        .map(|m| m.node_id)
        .collect();
    assert_eq!(seen, ["stranger"]);
    assert!(
        refused.bad_tag.load(Relaxed) > 0,
        "the stranger's datagrams were counted"
    );
    assert!(n1.members().await.iter().all(|m| m.node_id != "stranger"));
    for m in [n0, n1, n2, stranger] {
        m.shutdown().await.unwrap();
    }
}
