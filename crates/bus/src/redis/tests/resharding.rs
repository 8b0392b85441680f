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
    await_agreement(&cluster, slot, to).await;

    assert_followed(&bus, &mut inbox, user, &cluster).await;
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
    // Nodes 0 and 1 learn of the new owner from node 2's gossip.
    await_agreement(&cluster, slot, to).await;

    assert_followed(&bus, &mut inbox, &user, &cluster).await;
}

/// How long `a_dropped_channel_does_not_answer_for_subscriptions_in_flight` pauses the
/// old owner of the slot.
const PAUSE: Duration = Duration::from_millis(600);

/// How long the nodes of a cluster may take to agree on a slot's new owner. Only the node
/// given the slot learns it from a command; the others learn it from that node's next ping
/// or pong on the cluster bus, which comes about once a second or two (each node pings one
/// peer a second), longer on a loaded machine.
const AGREEMENT: Duration = Duration::from_secs(30);

/// Waits until every node of `cluster` gives `slot` to node `to`. The cluster's own gossip
/// is not what these tests measure (0.5–1.7 s in twelve runs here, up to a third of
/// [`PATIENCE`]): the bus's patience starts once the nodes agree. Until then the slot maps
/// the subscriber reads may name the old owner or none, which is what it must get through.
async fn await_agreement(cluster: &OwnCluster, slot: u16, to: usize) {
    let owner = cluster.nodes[to].cluster_address();
    let deadline = Instant::now() + AGREEMENT;
    'nodes: for node in &cluster.nodes {
        loop {
            let nodes = node.cluster_nodes().await.unwrap();
            if slot_owner(&nodes, slot).starts_with(&owner) {
                continue 'nodes;
            }
            assert!(
                Instant::now() < deadline,
                "the nodes did not agree within {AGREEMENT:?} that node {to} serves slot {slot}: \
                 the node on port {} says {}",
                node.port,
                slot_owner(&nodes, slot)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn own_cluster_config(cluster: &OwnCluster) -> RedisBusConfig {
    RedisBusConfig {
        urls: cluster.urls(),
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        command_timeout: Duration::from_millis(500),
        reconnect_backoff_max: Duration::from_millis(200),
        ..RedisBusConfig::default()
    }
}

/// Deliveries to `user` reach the inbox again, from the new node, with no action from the
/// caller, and one subscription to the channel is left.
async fn assert_followed(bus: &RedisBus, inbox: &mut Inbox, user: &str, cluster: &OwnCluster) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let published = bus.publish(delivery(user, "<message id='moved'/>")).await;
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(100), inbox.recv()).await {
            assert_eq!(d.xml, &b"<message id='moved'/>"[..]);
            break;
        }
        if Instant::now() >= deadline {
            let nodes = where_the_channel_stands(bus, user, cluster).await;
            panic!("the channel was not followed; last publish: {published:?}; {nodes}");
        }
    }
    assert_eq!(subscribers(bus, user).await, 1);
}

/// What each node of `cluster` says of `user`'s channel: which node it gives the channel's
/// slot to, and how many subscribers the channel has there. A failed follow is then told
/// apart as a subscription that never moved, nodes that disagree on the slot, or a
/// publisher that does not reach its new node.
async fn where_the_channel_stands(bus: &RedisBus, user: &str, cluster: &OwnCluster) -> String {
    let channel = bus.config.channel(user);
    let slot = topology::slot(channel.as_bytes());
    let mut report = Vec::new();
    for (index, node) in cluster.nodes.iter().enumerate() {
        let view = async {
            let nodes = node.cluster_nodes().await?;
            let counts: HashMap<String, i64> = node
                .try_command(::redis::cmd("PUBSUB").arg("SHARDNUMSUB").arg(&channel))
                .await?;
            RedisResult::Ok((slot_owner(&nodes, slot), counts.get(&channel).copied()))
        };
        report.push(match view.await {
            Ok((owner, here)) => format!(
                "node {index} (port {}) gives slot {slot} to {owner}, {} subscriber(s) here",
                node.port,
                here.unwrap_or(0)
            ),
            Err(error) => format!("node {index} (port {}) did not answer: {error}", node.port),
        });
    }
    report.join("; ")
}

/// The address of the node that `CLUSTER NODES` output `nodes` gives `slot` to.
fn slot_owner(nodes: &str, slot: u16) -> String {
    let serves = |range: &str| {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        matches!((first.parse::<u16>(), last.parse::<u16>()),
            (Ok(first), Ok(last)) if (first..=last).contains(&slot))
    };
    nodes
        .lines()
        .find(|line| line.split(' ').skip(8).any(serves))
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("nobody")
        .to_owned()
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

/// A server's own `sunsubscribe` for a channel whose slot it gave away carries nothing that
/// tells it from the confirmation of a `SUNSUBSCRIBE` (valkey-io/valkey#1066). Arriving
/// while an unsubscription and subscriptions are in flight on the same connection, it must
/// not be taken for the reply to the first of them, nor shift each later reply onto the next
/// command: the subscription the old owner refuses gets the redirection, and follows it.
#[tokio::test]
async fn a_dropped_channel_does_not_answer_for_subscriptions_in_flight() {
    let (from, to) = (1, 2);
    let cluster = OwnCluster::start().await;
    // Long enough for the subscriptions to wait out the pause below.
    let config = RedisBusConfig {
        command_timeout: Duration::from_secs(2),
        ..own_cluster_config(&cluster)
    };
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
    let slot_of = |user: &String| topology::slot(bus.config.channel(user).as_bytes());
    let users = || (0..).map(|n| format!("juliet{n}@example.com"));
    let (first, last) = SLOT_RANGES[from];
    let held = users()
        .find(|user| (first..=last).contains(&slot_of(user)))
        .unwrap();
    let slot = slot_of(&held);
    // Two more channels in the slot that moves, and one in a slot that stays, on that node.
    let mut in_slot = users().filter(|user| *user != held && slot_of(user) == slot);
    let (moving, leaving) = (in_slot.next().unwrap(), in_slot.next().unwrap());
    let staying = users()
        .find(|user| slot_of(user) != slot && (first..=last).contains(&slot_of(user)))
        .unwrap();
    inbox.subscriptions().subscribe(&held).await.unwrap();
    inbox.subscriptions().subscribe(&leaving).await.unwrap();

    // The new owner takes the slot; the old one is paused before it lets go, so that the
    // subscriptions sent now are processed after it did, and their replies follow its push.
    let to_id = node_id(&cluster, to).await;
    setslot(&cluster, to, slot, &["NODE", &to_id]).await;
    let old_owner = ::redis::Client::open(cluster.nodes[from].url()).unwrap();
    let waits_out_the_pause =
        ::redis::AsyncConnectionConfig::new().set_response_timeout(Some(PAUSE * 4));
    let mut letting_go = old_owner
        .get_multiplexed_async_connection_with_config(&waits_out_the_pause)
        .await
        .unwrap();
    let mut pausing = old_owner.get_multiplexed_async_connection().await.unwrap();
    ::redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(PAUSE.as_millis())
        .arg("ALL")
        .exec_async(&mut pausing)
        .await
        .unwrap();
    let let_go = tokio::spawn(async move {
        let mut setslot = ::redis::cmd("CLUSTER");
        setslot.arg("SETSLOT").arg(slot).arg("NODE").arg(&to_id);
        setslot.exec_async(&mut letting_go).await
    });
    // The paused server reads what arrives in that order once the pause ends.
    tokio::time::sleep(PAUSE / 4).await;
    let subscriptions = inbox.subscriptions();
    let (left, moved, stayed) = tokio::join!(
        subscriptions.unsubscribe(&leaving),
        subscriptions.subscribe(&moving),
        subscriptions.subscribe(&staying)
    );
    left.unwrap();
    let_go.await.unwrap().unwrap();

    // The old owner refused the moving slot's channel with a redirection, which was
    // followed at once: the channel is on the new owner before the slot map names it (the
    // seed the bus reads it from learns of the move by gossip), and unsubscribing it then
    // follows the old owner's redirection too. The other channel was made on the old owner.
    moved.unwrap();
    stayed.unwrap();
    assert_eq!(subscribers(&bus, &moving).await, 1);
    subscriptions.unsubscribe(&moving).await.unwrap();
    assert_eq!(subscribers(&bus, &moving).await, 0);
    await_agreement(&cluster, slot, to).await;
    bus.publish(delivery(&staying, "<message id='stayed'/>"))
        .await
        .unwrap();
    assert_eq!(next(&mut inbox).await.xml, &b"<message id='stayed'/>"[..]);
    assert_eq!(subscribers(&bus, &staying).await, 1);
    // The held channel is followed to the new owner; the ones left are nowhere.
    assert_followed(&bus, &mut inbox, &held, &cluster).await;
    for user in [&moving, &leaving] {
        assert_eq!(subscribers(&bus, user).await, 0);
        bus.publish(delivery(user, "<message id='left'/>"))
            .await
            .unwrap();
    }
    nothing_more(&mut inbox).await;
}
