//! A channel whose slot moves to another node of the cluster is followed there, even when
//! the slot map the subscriber reads first still names the old node.

use tokio::time::Instant;

use super::own_server::{OwnCluster, SLOT_RANGES};
use super::*;

#[tokio::test]
async fn a_channel_follows_its_slot_to_another_node() {
    let cluster = OwnCluster::start().await;
    let bus = RedisBus::connect(own_cluster_config(&cluster))
        .await
        .unwrap();
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

    assert_followed(&bus, &mut inbox, user).await;
}

#[tokio::test]
async fn a_channel_is_followed_when_the_slot_map_read_is_stale() {
    // The slot is dropped by node 1, whose pushed SUNSUBSCRIBE sends the subscriber to the
    // seed's slot map; the seed (node 0) still names node 1 there, until node 2 takes the
    // slot a moment later.
    let (from, to) = (1, 2);
    let cluster = OwnCluster::start().await;
    let bus = RedisBus::connect(own_cluster_config(&cluster))
        .await
        .unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
    let (first, last) = SLOT_RANGES[from];
    let in_range = |user: &String| {
        let slot = topology::slot(bus.config.channel(user).as_bytes());
        (first..=last).contains(&slot)
    };
    let user = (0..)
        .map(|n| format!("juliet{n}@example.com"))
        .find(in_range)
        .unwrap();
    let slot = topology::slot(bus.config.channel(&user).as_bytes());
    inbox.subscriptions().subscribe(&user).await.unwrap();

    cluster_slots(&cluster, from, "DELSLOTS", slot).await;
    tokio::time::sleep(QUIET).await;
    for node in [0, to] {
        cluster_slots(&cluster, node, "DELSLOTS", slot).await;
    }
    cluster_slots(&cluster, to, "ADDSLOTS", slot).await;

    assert_followed(&bus, &mut inbox, &user).await;
}

fn own_cluster_config(cluster: &OwnCluster) -> RedisBusConfig {
    RedisBusConfig {
        urls: cluster.urls(),
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        command_timeout: Duration::from_millis(500),
        reconnect_backoff_max: Duration::from_millis(200),
    }
}

/// Deliveries to `user` reach the inbox again, from the new node, with no action from the
/// caller, and one subscription to the channel is left.
async fn assert_followed(bus: &RedisBus, inbox: &mut Inbox, user: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let _ = bus.publish(delivery(user, "<message id='moved'/>")).await;
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(100), inbox.recv()).await {
            assert_eq!(d.xml, &b"<message id='moved'/>"[..]);
            break;
        }
        assert!(Instant::now() < deadline, "the channel was not followed");
    }
    assert_eq!(subscribers(bus, user).await, 1);
}

async fn node_id(cluster: &OwnCluster, node: usize) -> String {
    let mut myid = ::redis::cmd("CLUSTER");
    myid.arg("MYID");
    cluster.nodes[node].command(&myid).await
}

async fn cluster_slots(cluster: &OwnCluster, node: usize, subcommand: &str, slot: u16) {
    let mut cmd = ::redis::cmd("CLUSTER");
    cmd.arg(subcommand).arg(slot);
    cluster.nodes[node].command::<()>(&cmd).await;
}

async fn setslot(cluster: &OwnCluster, node: usize, slot: u16, args: &[&str]) {
    let mut setslot = ::redis::cmd("CLUSTER");
    setslot.arg("SETSLOT").arg(slot).arg(args);
    cluster.nodes[node].command::<()>(&setslot).await;
}
