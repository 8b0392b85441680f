//! A channel whose slot moves to another node of the cluster is followed there.

use tokio::time::Instant;

use super::own_server::{OwnCluster, SLOT_RANGES};
use super::*;

#[tokio::test]
async fn a_channel_follows_its_slot_to_another_node() {
    let cluster = OwnCluster::start().await;
    let config = RedisBusConfig {
        urls: cluster.urls(),
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        command_timeout: Duration::from_millis(500),
        reconnect_backoff_max: Duration::from_millis(200),
    };
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
    let user = "juliet@example.com";
    inbox.subscriptions().subscribe(user).await.unwrap();
    let slot = topology::slot(bus.config.channel(user).as_bytes());
    let from = SLOT_RANGES
        .iter()
        .position(|&(first, last)| (first..=last).contains(&slot))
        .unwrap();
    let to = (from + 1) % 3;

    // Keyless resharding of the one slot, as redis-cli does it.
    let (from_id, to_id) = (node_id(&cluster, from).await, node_id(&cluster, to).await);
    setslot(&cluster, to, slot, &["IMPORTING", &from_id]).await;
    setslot(&cluster, from, slot, &["MIGRATING", &to_id]).await;
    for node in [to, from, 3 - from - to] {
        setslot(&cluster, node, slot, &["NODE", &to_id]).await;
    }

    // Deliveries reach the inbox again, from the new node, with no action from the caller.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let _ = bus.publish(delivery(user, "<message id='moved'/>")).await;
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(100), inbox.recv()).await {
            assert_eq!(d.xml, &b"<message id='moved'/>"[..]);
            break;
        }
        assert!(Instant::now() < deadline, "the channel was not followed");
    }
    assert_eq!(subscribers(&bus, user).await, 1);
}

async fn node_id(cluster: &OwnCluster, node: usize) -> String {
    let mut myid = ::redis::cmd("CLUSTER");
    myid.arg("MYID");
    cluster.nodes[node].command(&myid).await
}

async fn setslot(cluster: &OwnCluster, node: usize, slot: u16, args: &[&str]) {
    let mut setslot = ::redis::cmd("CLUSTER");
    setslot.arg("SETSLOT").arg(slot).arg(args);
    cluster.nodes[node].command::<()>(&setslot).await;
}
