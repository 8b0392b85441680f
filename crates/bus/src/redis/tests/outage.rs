//! Redis going away and coming back, on servers of the test's own, so that killing them
//! disturbs nothing else.

use tokio::time::Instant;

use super::own_server::{OwnCluster, OwnServer, SLOT_RANGES};
use super::*;

const TIMEOUT: Duration = Duration::from_millis(500);

/// How much later than the command timeout a failure may be reported on a busy machine.
const SLACK: Duration = Duration::from_millis(400);

/// Runs `operation` and asserts that it fails with `Unavailable` within the timeout.
async fn fails_fast<T: fmt::Debug>(
    what: &str,
    operation: impl Future<Output = Result<T, BusError>>,
) {
    let started = Instant::now();
    let result = operation.await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(BusError::Unavailable(_))),
        "{what}: {result:?}"
    );
    assert!(took <= TIMEOUT + SLACK, "{what} took {took:?}");
}

#[tokio::test]
async fn an_outage_fails_fast_and_deliveries_resume_after_it() {
    let mut server = OwnServer::standalone().await;
    let config = RedisBusConfig {
        urls: vec![server.url()],
        channel_prefix: unique_prefix(),
        command_timeout: TIMEOUT,
        reconnect_backoff_max: Duration::from_millis(200),
        ..RedisBusConfig::default()
    };
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
    let subscriptions = inbox.subscriptions();
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    subscriptions.subscribe("nurse@example.com").await.unwrap();
    let before = delivery("juliet@example.com", "<message id='before'/>");
    bus.publish(before.clone()).await.unwrap();
    assert_eq!(next(&mut inbox).await, before);

    server.kill();
    for _ in 0..3 {
        let lost = delivery("juliet@example.com", "<message id='lost'/>");
        fails_fast("publish", bus.publish(lost.clone())).await;
        fails_fast("publish_all", bus.publish_all(vec![lost])).await;
    }
    fails_fast("subscribe", subscriptions.subscribe("romeo@example.net")).await;
    fails_fast("open_inbox", bus.open_inbox("c2s-1", 8)).await;
    fails_fast("heartbeat", bus.heartbeat("c2s-0", Duration::from_secs(1))).await;
    fails_fast("alive", bus.alive(&["c2s-0".to_owned()])).await;
    // Unsubscribing takes effect while disconnected: the channel will not be restored.
    subscriptions
        .unsubscribe("nurse@example.com")
        .await
        .unwrap();

    server.restart().await;
    // The still-open inbox receives again, with no action from the caller.
    let deadline = Instant::now() + Duration::from_secs(10);
    let back = loop {
        // Until the publisher and the subscriber have both reconnected, deliveries are lost.
        let _ = bus
            .publish(delivery("juliet@example.com", "<message id='back'/>"))
            .await;
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(100), inbox.recv()).await {
            break d;
        }
        assert!(Instant::now() < deadline, "deliveries did not resume");
    };
    assert_eq!(back.xml, &b"<message id='back'/>"[..]);
    assert_eq!(subscribers(&bus, "juliet@example.com").await, 1);
    // Neither the subscription that failed nor the one dropped during the outage came back.
    assert_eq!(subscribers(&bus, "romeo@example.net").await, 0);
    assert_eq!(subscribers(&bus, "nurse@example.com").await, 0);
    // And subscribing works again.
    subscriptions.subscribe("romeo@example.net").await.unwrap();
    let to_romeo = delivery("romeo@example.net", "<message/>");
    bus.publish(to_romeo.clone()).await.unwrap();
    loop {
        let d = next(&mut inbox).await;
        if d.user == "romeo@example.net" {
            assert_eq!(d, to_romeo);
            break;
        }
        // Copies of 'back' published while the inbox was catching up.
        assert_eq!(d.xml, &b"<message id='back'/>"[..]);
    }
    bus.heartbeat("c2s-0", Duration::from_secs(1))
        .await
        .unwrap();
}

#[tokio::test]
async fn connecting_while_redis_is_down_fails_fast() {
    let mut server = OwnServer::standalone().await;
    let config = RedisBusConfig {
        urls: vec![server.url()],
        channel_prefix: unique_prefix(),
        command_timeout: TIMEOUT,
        ..RedisBusConfig::default()
    };
    server.kill();
    fails_fast("connect", RedisBus::connect(config)).await;
}

#[tokio::test]
async fn a_cluster_node_outage_interrupts_only_its_channels() {
    let mut cluster = OwnCluster::start().await;
    let config = RedisBusConfig {
        urls: cluster.urls(),
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        command_timeout: TIMEOUT,
        reconnect_backoff_max: Duration::from_millis(200),
        ..RedisBusConfig::default()
    };
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 256).await.unwrap();
    // Ten users per node. (CRC16 being linear, names that differ only in a counter can
    // all land in one node's slots, so they are picked by slot.)
    let [on_0, on_1, on_2] = users_per_node(&bus, 11);
    let users: Vec<String> = [&on_0[..10], &on_1[..10], &on_2[..10]].concat();
    for user in &users {
        inbox.subscriptions().subscribe(user).await.unwrap();
    }

    cluster.nodes[1].kill();
    // All at once: those to the lost node each wait up to the timeout.
    let started = Instant::now();
    let publishing = users.iter().map(|user| async {
        let result = bus.publish(delivery(user, "<presence id='during'/>")).await;
        (user.clone(), result)
    });
    let results = join_all(publishing).await;
    assert!(
        started.elapsed() <= TIMEOUT + SLACK,
        "took {:?}",
        started.elapsed()
    );
    let mut reachable = Vec::new();
    for (user, result) in results {
        match result {
            Ok(()) => reachable.push(user),
            Err(error) => assert!(matches!(error, BusError::Unavailable(_)), "{error}"),
        }
    }
    assert_eq!(reachable.len(), 20, "{reachable:?}");
    // Subscribing fails fast on the lost node only.
    let subscriptions = inbox.subscriptions();
    fails_fast("subscribe", subscriptions.subscribe(&on_1[10])).await;
    subscriptions.subscribe(&on_0[10]).await.unwrap();
    subscriptions.subscribe(&on_2[10]).await.unwrap();
    subscriptions.unsubscribe(&on_2[10]).await.unwrap();
    // The other nodes' channels keep flowing.
    let mut received = Vec::new();
    for _ in &reachable {
        received.push(next(&mut inbox).await.user);
    }
    nothing_more(&mut inbox).await;
    // In order per channel, not across the nodes' connections.
    received.sort();
    reachable.sort();
    assert_eq!(received, reachable);

    cluster.nodes[1].restart().await;
    // Every channel flows again, with no action from the caller.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut published = 0;
        for user in &users {
            if bus
                .publish(delivery(user, "<presence id='after'/>"))
                .await
                .is_ok()
            {
                published += 1;
            }
        }
        let mut received = std::collections::HashSet::new();
        while let Ok(Some(d)) = tokio::time::timeout(QUIET, inbox.recv()).await {
            received.insert(d.user);
        }
        if published == users.len() && received.len() == users.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the restart: {published} published, {} received",
            received.len()
        );
    }
}

/// `per_node` users whose channels live on each node of an [`OwnCluster`].
fn users_per_node(bus: &RedisBus, per_node: usize) -> [Vec<String>; 3] {
    let mut users: [Vec<String>; 3] = Default::default();
    for i in 0_u64.. {
        let user = format!("{:x}@example.com", i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let slot = topology::slot(bus.config.channel(&user).as_bytes());
        let node = SLOT_RANGES
            .iter()
            .position(|&(first, last)| (first..=last).contains(&slot))
            .expect("every slot served");
        if users[node].len() < per_node {
            users[node].push(user);
        }
        if users.iter().all(|u| u.len() == per_node) {
            break;
        }
    }
    users
}

/// An inbox's connections log in as the URL's user (`HELLO 3 AUTH`), and one with a wrong
/// password is refused with the server's reason.
#[tokio::test]
async fn inboxes_log_in_with_the_urls_credentials() {
    let server = OwnServer::standalone_for("starling", "s3cret").await;
    let config = RedisBusConfig {
        urls: vec![server.url()],
        channel_prefix: unique_prefix(),
        command_timeout: TIMEOUT,
        ..RedisBusConfig::default()
    };
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    inbox
        .subscriptions()
        .subscribe("juliet@example.com")
        .await
        .unwrap();
    let hello = delivery("juliet@example.com", "<message id='in'/>");
    bus.publish(hello.clone()).await.unwrap();
    assert_eq!(next(&mut inbox).await, hello);

    let wrong = format!("redis://starling:wrong@127.0.0.1:{}", server.port);
    let wrong = ::redis::IntoConnectionInfo::into_connection_info(wrong.as_str()).unwrap();
    let link = link::Link::connect(0, &wrong, None, |_| {});
    let refused = link.await.err().map(|error| error.to_string());
    assert_eq!(
        refused.as_deref(),
        Some("\"WRONGPASS\": invalid username-password pair or user is disabled.")
    );
}
