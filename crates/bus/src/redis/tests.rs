//! Tests against real Redis servers: a standalone one at `REDIS_URL`, a cluster at
//! `REDIS_CLUSTER_URLS` (comma-separated seed URLs), both started by `scripts/services up`.
//! The outage tests start and kill their own `redis-server` instead. Every test uses its
//! own channel prefix, so tests running at once never see each other's messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cluster_api::v1::delivery::Target as DeliveryTarget;
use cluster_api::v1::{AvailableResources, Delivery};

use super::*;

mod delivery;
mod liveness;
mod outage;
mod own_server;
mod released;
mod resharding;
mod tls;

/// How long a test waits for something that should happen.
const PATIENCE: Duration = Duration::from_secs(5);

/// How long a test waits to conclude that something does not happen.
const QUIET: Duration = Duration::from_millis(300);

fn required_env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: these tests need real Redis servers. Run `scripts/services up` \
             and export the variables it prints (REDIS_URL, REDIS_CLUSTER_URLS)."
        )
    })
}

/// A prefix no other test (nor another run) uses.
fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test:{}:{nanos}:{n}:", std::process::id())
}

/// The standalone server of `REDIS_URL`.
fn standalone() -> RedisBusConfig {
    RedisBusConfig {
        urls: vec![required_env("REDIS_URL")],
        mode: RedisMode::Standalone,
        channel_prefix: unique_prefix(),
        ..RedisBusConfig::default()
    }
}

/// The cluster of `REDIS_CLUSTER_URLS`.
fn cluster() -> RedisBusConfig {
    let urls = required_env("REDIS_CLUSTER_URLS")
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    RedisBusConfig {
        urls,
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        ..RedisBusConfig::default()
    }
}

/// Declares each listed `async fn name(config: RedisBusConfig)` as a test against the
/// standalone server and one against the cluster.
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {
        mod standalone {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::super::standalone()).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::super::cluster()).await;
                }
            )*
        }
    };
}
use in_both_modes;

fn delivery(user: &str, xml: &str) -> Delivery {
    Delivery {
        user: user.to_owned(),
        target: Some(DeliveryTarget::Available(AvailableResources {})),
        xml: Bytes::copy_from_slice(xml.as_bytes()),
        ..Delivery::default()
    }
}

/// The next delivery of `inbox`, which must come within [`PATIENCE`].
async fn next(inbox: &mut Inbox) -> Delivery {
    tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .expect("a delivery within the patience")
        .expect("an open inbox")
}

/// Asserts that nothing arrives in `inbox` for [`QUIET`].
async fn nothing_more(inbox: &mut Inbox) {
    if let Ok(delivery) = tokio::time::timeout(QUIET, inbox.recv()).await {
        panic!("unexpected delivery: {delivery:?}");
    }
}

/// How many connections the server counts as subscribed to `user`'s channel.
async fn subscribers(bus: &RedisBus, user: &str) -> i64 {
    let channel = bus.config.channel(user);
    let mut cmd = ::redis::cmd("PUBSUB");
    cmd.arg("SHARDNUMSUB").arg(&channel);
    let counts: HashMap<String, i64> = bus.publisher.query(&cmd).await.unwrap();
    counts.get(&channel).copied().unwrap_or(0)
}

/// Waits until the server counts `expected` subscribers of `user`'s channel.
async fn await_subscribers(bus: &RedisBus, user: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = subscribers(bus, user).await;
        if now == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user}'s channel has {now} subscribers, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes raw bytes on `user`'s channel, bypassing the encoding.
async fn publish_raw(bus: &RedisBus, user: &str, payload: Vec<u8>) {
    let channel = bus.config.channel(user);
    bus.publisher.publish(&channel, payload).await.unwrap();
}

#[test]
fn the_redis_bus_is_usable_as_trait_objects() {
    fn bus(_: &dyn Bus) {}
    fn liveness(_: &dyn Liveness) {}
    let _ = (bus, liveness);
}

#[tokio::test]
async fn configurations_that_cannot_work_are_refused() {
    let none = RedisBusConfig {
        urls: vec![],
        ..RedisBusConfig::default()
    };
    let two = RedisBusConfig {
        urls: vec!["redis://a".to_owned(), "redis://b".to_owned()],
        ..RedisBusConfig::default()
    };
    let no_seed = RedisBusConfig {
        urls: vec![],
        mode: RedisMode::Cluster,
        ..RedisBusConfig::default()
    };
    let invalid = RedisBusConfig {
        urls: vec!["http://example.com".to_owned()],
        ..RedisBusConfig::default()
    };
    for config in [none, two, no_seed, invalid] {
        let result = RedisBus::connect(config.clone()).await;
        assert!(
            matches!(result, Err(BusError::Config(_))),
            "{config:?}: {result:?}"
        );
    }
}

#[test]
fn names_follow_the_prefix() {
    let config = RedisBusConfig::default();
    assert_eq!(
        config.channel("juliet@example.com"),
        "starling:u:juliet@example.com"
    );
    // One hash tag for every liveness key: one slot in a Redis Cluster.
    assert_eq!(config.node_key("c2s-0"), "starling:u:{liveness}:node:c2s-0");
    assert_eq!(
        config.observer_key(0xab),
        "starling:u:{liveness}:observer:00000000000000ab"
    );
    assert_eq!(config.command_timeout, Duration::from_secs(2));
    assert_eq!(config.reconnect_backoff_max, Duration::from_secs(2));
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let mut backoff = config::Backoff::new(Duration::from_millis(300));
    let pauses: Vec<_> = (0..5).map(|_| backoff.next_pause().as_millis()).collect();
    assert_eq!(pauses, [50, 100, 200, 300, 300]);
}
