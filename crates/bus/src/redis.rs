//! The bus of the cluster: Redis sharded pub/sub.
//!
//! A user's channel is `{channel_prefix}{bare JID}` (prefix `starling:u:` by default). A
//! shard publishes a [`Delivery`] with `SPUBLISH` of its protobuf encoding; a connection
//! manager's inbox `SSUBSCRIBE`s the channel of every user it has sessions of, on RESP3
//! connections of its own, whose reading task decodes what arrives into the inbox's queue.
//! Sharded pub/sub rather than classic pub/sub because a cluster then carries each message
//! only within the shard owning the channel's hash slot, not to every node: the cost of a
//! publish does not grow with the cluster. On a standalone server the same commands work.
//!
//! Publishing uses one shared connection per bus that reconnects by itself (the redis
//! crate's `ConnectionManager` on a standalone server, its cluster client in a cluster,
//! which routes by slot and follows redirections). [`Bus::publish_all`] pipelines its
//! deliveries (in a cluster, one pipeline per channel, all at once), keeping their order per
//! channel. An inbox holds one connection per server (per primary in a cluster, routed by
//! the slot map of `CLUSTER SLOTS`), so that it always knows which of its channels a lost
//! connection carried.
//!
//! **Fan-out cost** (`benches/fanout.rs`: one presence to 100 contacts on two connection
//! managers, end to end, loopback on a loaded two-core machine with a ~0.11 ms round trip):
//! publishing one by one takes ~18 ms on a standalone server (~5,500 deliveries/s), because
//! each `SPUBLISH` waits for its reply; [`Bus::publish_all`] takes ~0.7 ms (~145,000/s; in a
//! three-node cluster ~1.6 ms, ~60,000/s). One batched message per connection manager would
//! take ~0.34 ms (~300,000/s), but needs the shard to know on which node every contact's
//! sessions are, state owned by the contacts' shards that changes with every login, and would
//! put each connection manager's whole traffic on the one Redis shard of its channel. So
//! channels stay per user, and shards publish broadcasts with `publish_all`.
//!
//! **Overflow policy.** A full inbox cannot push back on Redis: pub/sub has no flow control,
//! and a subscriber that stops reading would only make the server buffer for it until it
//! disconnects it. So nothing waits for room: a delivery for a full inbox is dropped for that
//! inbox only, counted ([`RedisBus::dropped`]) and logged as a warning (at most once a second
//! per inbox, with the number dropped since the last warning). Messages on a channel that are
//! not a delivery for that channel's user (undecodable, larger than [`MAX_DELIVERY_BYTES`],
//! for another user) are skipped with a warning and counted ([`RedisBus::malformed`]).
//!
//! **Outage policy.** No operation waits for Redis longer than
//! [`RedisBusConfig::command_timeout`]: `publish`, `publish_all`, `subscribe`, `open_inbox`
//! and the [`Liveness`] calls then fail with [`BusError::Unavailable`], so a shard or a
//! binding session sees the outage instead of hanging. Recovery needs no action from the
//! caller:
//! - the publisher connection reconnects in the background (at most
//!   [`RedisBusConfig::reconnect_backoff_max`] between attempts); publishes succeed again once
//!   it has;
//! - each inbox notices a lost connection (closed, or not answering a `PING` every five
//!   seconds), connects to that server again with backoff doubling from 50 ms up to
//!   `reconnect_backoff_max`, re-reads the slot map in a cluster, `SSUBSCRIBE`s every channel
//!   the inbox holds there, and only then accepts subscriptions on that server again; until
//!   then `subscribe` to its channels fails with `Unavailable`. In a cluster only the lost
//!   server's channels are interrupted, and a channel whose slot moves (failover,
//!   resharding) is followed to its new server; a `subscribe` or `unsubscribe` refused with
//!   a `MOVED` redirection is tried once more on the server it names, within the same
//!   timeout.
//!
//! What "holds" means during an outage: a `subscribe` that fails is not recorded (the
//! connection manager counts it as not subscribed and will never unsubscribe it, so
//! restoring it would leak the channel); an `unsubscribe` always takes effect at once, also
//! while disconnected: the channel is not restored; a repair pass that subscribed it again
//! meanwhile unsubscribes it once done, and if the server still sends on it (a failed
//! `SUNSUBSCRIBE`) what arrives on it is discarded.
//! Deliveries published during the outage are lost, as pub/sub promises nothing more.

mod config;
mod link;
mod publish;
mod reconnect;
mod subscriber;
mod tls;
mod topology;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ::redis::RedisResult;
use async_trait::async_trait;
use cluster_api::v1::Delivery;
use futures::future::join_all;
use prost::Message as _;
use tokio::sync::mpsc;

pub use self::config::{RedisBusConfig, RedisMode, RedisTlsFiles};
use self::publish::Publisher;
use self::reconnect::Connector;
pub use self::subscriber::MAX_DELIVERY_BYTES;
use self::subscriber::{Counters, Shared, Subscriber};
use self::tls::RedisTls;
use crate::{Bus, BusError, Inbox, Liveness};

/// A [`Bus`] on Redis sharded pub/sub, standalone or cluster. Clones share the publisher
/// connection and the counters.
#[derive(Clone)]
pub struct RedisBus {
    config: Arc<RedisBusConfig>,
    publisher: Publisher,
    /// What TLS connections trust, if the URLs ask for TLS.
    tls: Option<Arc<RedisTls>>,
    counters: Arc<Counters>,
    /// Names this bus's liveness sentinel (see `Liveness::alive`).
    observer: u64,
}

/// How long a liveness sentinel lives: far longer than any check interval, so that it is
/// almost only a loss of data that removes it (its expiry costs one grace period a day),
/// yet a reader that is gone leaves no key behind for good.
const OBSERVER_SENTINEL_TTL: Duration = Duration::from_secs(24 * 3600);

impl RedisBus {
    /// Connects the publisher. Fails with [`BusError::Config`] on invalid URLs (or a number of
    /// them that does not fit the mode) and with [`BusError::Unavailable`] if Redis does not
    /// answer within the command timeout.
    pub async fn connect(config: RedisBusConfig) -> Result<Self, BusError> {
        let tls = RedisTls::for_config(&config)?;
        let publisher = Publisher::connect(&config, tls.as_deref()).await?;
        Ok(Self {
            config: Arc::new(config),
            publisher,
            tls,
            counters: Arc::default(),
            // Only needs to differ between readers; a randomly seeded hasher is random enough.
            observer: std::hash::BuildHasher::hash_one(
                &std::collections::hash_map::RandomState::new(),
                std::process::id(),
            ),
        })
    }

    /// The settings the bus was connected with.
    pub fn config(&self) -> &RedisBusConfig {
        &self.config
    }

    /// How many deliveries were dropped for an inbox that was full, counted once per inbox,
    /// over every inbox opened through this bus or its clones.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// How many messages on users' channels were skipped for not being a delivery for that
    /// user, counted once per inbox.
    pub fn malformed(&self) -> u64 {
        self.counters.malformed.load(Ordering::Relaxed)
    }

    fn timeout(&self) -> Duration {
        self.config.command_timeout
    }
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("config", &self.config)
            .field("dropped", &self.dropped())
            .field("malformed", &self.malformed())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, delivery: Delivery) -> Result<(), BusError> {
        let channel = self.config.channel(&delivery.user);
        let publish = self.publisher.publish(&channel, delivery.encode_to_vec());
        bounded(self.timeout(), "publishing", publish).await
    }

    async fn publish_all(&self, deliveries: Vec<Delivery>) -> Result<(), BusError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let messages = deliveries
            .iter()
            .map(|d| (self.config.channel(&d.user), d.encode_to_vec()))
            .collect();
        bounded(
            self.timeout(),
            "publishing",
            self.publisher.publish_all(messages),
        )
        .await
    }

    async fn open_inbox(&self, node: &str, capacity: usize) -> Result<Inbox, BusError> {
        let config = Arc::clone(&self.config);
        let connector = Connector::new(Arc::clone(&config), self.tls.clone())?;
        let topology = connector.seeds().discover(self.timeout()).await?;
        let counters = Arc::clone(&self.counters);
        let shared = Arc::new(Shared::new(node, config, counters, topology));
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        // Every server at once; those that cannot be reached now are repaired later.
        let nodes = shared.nodes();
        let links = nodes
            .iter()
            .map(|server| connector.link(server, &shared, &sender));
        let mut failure = None;
        for (server, link) in nodes.iter().zip(join_all(links).await) {
            match link {
                Ok(link) => {
                    // A new inbox holds no channel yet.
                    shared.install(server, link, &[]);
                }
                Err(error) => failure = Some(error),
            }
        }
        match failure {
            Some(error) if shared.links().is_empty() => return Err(error),
            Some(_) => shared.request_repair(),
            None => {}
        }
        tokio::spawn(reconnect::maintain(Arc::clone(&shared), connector, sender));
        Ok(Inbox::new(receiver, Arc::new(Subscriber { shared })))
    }
}

#[async_trait]
impl Liveness for RedisBus {
    async fn heartbeat(&self, node: &str, ttl: Duration) -> Result<(), BusError> {
        let key = self.config.node_key(node);
        bounded(
            self.timeout(),
            "heartbeat",
            self.publisher.set_px(&key, ttl),
        )
        .await
    }

    /// Whether each node's key exists, unless the keys may have been lost.
    ///
    /// Redis without persistence forgets every key when it restarts, and a replica promoted
    /// after a failover may lack the latest ones; nodes then need up to a heartbeat interval
    /// to write theirs again. Read in that window, a missing key would end the sessions of a
    /// live node. So this reader keeps a sentinel key of its own next to the liveness keys
    /// (same slot): when the sentinel is gone, the keys may be too, and the answer is
    /// [`BusError::Unavailable`] (the sentinel is written again), which the caller treats
    /// like any failed read, trusting no missing key for a grace period. Each reader has its
    /// own sentinel, so that one reader rewriting it cannot hide the loss from another.
    async fn alive(&self, nodes: &[String]) -> Result<Vec<bool>, BusError> {
        let sentinel = self.config.observer_key(self.observer);
        let mut keys: Vec<String> = nodes.iter().map(|n| self.config.node_key(n)).collect();
        keys.push(sentinel.clone());
        let mut exist = bounded(self.timeout(), "liveness", self.publisher.exist(keys)).await?;
        let sentinel_kept = exist.pop().unwrap_or(false);
        if sentinel_kept {
            return Ok(exist);
        }
        bounded(
            self.timeout(),
            "liveness sentinel",
            self.publisher.set_px(&sentinel, OBSERVER_SENTINEL_TTL),
        )
        .await?;
        Err(BusError::Unavailable(
            "liveness keys may have been lost (Redis restarted or failed over, or this is the \
             first read); not trusting missing keys yet"
                .to_owned(),
        ))
    }
}

/// Runs a Redis operation for at most `timeout`; any failure is [`BusError::Unavailable`].
async fn bounded<T>(
    timeout: Duration,
    what: &str,
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, BusError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(BusError::Unavailable(format!("{what}: {error}"))),
        Err(_) => Err(BusError::Unavailable(format!(
            "{what}: no answer from Redis within {timeout:?}"
        ))),
    }
}

/// The configured URLs, checked against the mode.
fn client_urls(config: &RedisBusConfig) -> Result<Vec<String>, BusError> {
    match (config.mode, config.urls.len()) {
        (RedisMode::Standalone, 1) | (RedisMode::Cluster, 1..) => Ok(config.urls.clone()),
        (RedisMode::Standalone, n) => Err(BusError::Config(format!(
            "a standalone Redis needs exactly one URL, got {n}"
        ))),
        (RedisMode::Cluster, _) => Err(BusError::Config(
            "a Redis cluster needs at least one seed URL".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests;
