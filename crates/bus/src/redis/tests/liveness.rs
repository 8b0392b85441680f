//! Node heartbeats against real Redis.

use super::*;

in_both_modes!(
    heartbeats_expire_after_their_ttl,
    a_lost_sentinel_means_the_keys_are_not_trusted
);

async fn heartbeats_expire_after_their_ttl(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let nodes: Vec<String> = ["c2s-0", "c2s-1", "rp-0"].map(str::to_owned).into();
    // A new reader has no sentinel yet: its first answer is not to be trusted.
    assert!(matches!(
        bus.alive(&nodes).await,
        Err(BusError::Unavailable(_))
    ));
    bus.heartbeat("c2s-0", Duration::from_millis(300))
        .await
        .unwrap();
    bus.heartbeat("c2s-1", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(bus.alive(&nodes).await.unwrap(), [true, true, false]);
    assert_eq!(bus.alive(&[]).await.unwrap(), Vec::<bool>::new());

    // Each heartbeat replaces the previous one's expiry.
    bus.heartbeat("c2s-1", Duration::from_millis(300))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while bus.alive(&nodes).await.unwrap() != [false, false, false] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "heartbeats never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Zero would be refused by Redis: the shortest heartbeat lasts a millisecond.
    bus.heartbeat("rp-0", Duration::ZERO).await.unwrap();
}

/// What a Redis restart without persistence does to one reader: its sentinel is gone with
/// the liveness keys, so its next read refuses to report them missing.
async fn a_lost_sentinel_means_the_keys_are_not_trusted(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let nodes = vec!["c2s-lost".to_owned()];
    let _ = bus.alive(&nodes).await;
    bus.heartbeat("c2s-lost", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(bus.alive(&nodes).await.unwrap(), [true]);
    // The data is lost: the node's key and this reader's sentinel.
    for key in [
        bus.config.node_key("c2s-lost"),
        bus.config.observer_key(bus.observer),
    ] {
        let mut del = ::redis::cmd("DEL");
        del.arg(key);
        bus.publisher.query::<i64>(&del).await.unwrap();
    }
    let error = bus.alive(&nodes).await.unwrap_err();
    assert!(matches!(error, BusError::Unavailable(_)), "{error}");
    // The sentinel is back: from now on a missing key means a dead node.
    assert_eq!(bus.alive(&nodes).await.unwrap(), [false]);
}
