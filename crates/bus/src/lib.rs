//! The fan-out bus between roster-presence shards and connection managers.
//!
//! A shard decides what a user's sessions receive and publishes it as a
//! [`Delivery`] on the channel of `delivery.user`, the user's bare JID. Every node (connection
//! manager) holding a session of that user has subscribed its [`Inbox`] to that channel and
//! receives the delivery; it then writes the stanza to the targeted sessions. A shard never
//! needs to know where a user's sessions are.
//!
//! Semantics are those of pub/sub, so that Redis sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`,
//! channels spread over the cluster's slots by name) can implement [`Bus`] as well as the
//! in-process [`LocalBus`]:
//! - publishing to a channel nobody subscribes to succeeds and the delivery is gone;
//! - deliveries published one after another on one channel arrive in that order;
//! - a node subscribes once per user, whatever its number of sessions of that user (it
//!   counts them itself), and unsubscribes when the last one ends.
//!
//! Two implementations: [`LocalBus`] in one process, [`RedisBus`] (Redis sharded pub/sub,
//! standalone or cluster) between processes. Next to the bus, [`Liveness`] tells nodes which
//! other nodes are running.
//!
//! Overflow policy of [`LocalBus`]: each inbox is a bounded queue. A publish (or a
//! `publish_all` batch) to a full inbox waits for room (backpressure on the shard) for at
//! most `publish_timeout` in all; past it, what is still waiting is dropped for that inbox
//! only, a warning is logged and [`LocalBus::dropped`] counts each. A node that stops reading its inbox thus slows publishers by at most the
//! timeout per publish, and never blocks them.
//!
//! Overflow policy of [`RedisBus`]: Redis pub/sub cannot be pushed back on, so a delivery
//! for a full inbox is dropped for that inbox at once, logged (at most once a second per
//! inbox) and counted ([`RedisBus::dropped`]); nothing waits.
//!
//! Outage policy of [`RedisBus`]: every operation fails with [`BusError::Unavailable`]
//! within the configured command timeout instead of waiting for Redis; the publisher and
//! every inbox reconnect by themselves with capped backoff, and an inbox subscribes again
//! to every channel it holds, so deliveries resume with no action from the caller. A
//! subscription that failed is not restored; an unsubscription always takes effect.

mod error;
mod inbox;
mod liveness;
mod local;
mod redis;

use async_trait::async_trait;
use cluster_api::v1::Delivery;

pub use self::redis::{MAX_DELIVERY_BYTES, RedisBus, RedisBusConfig, RedisMode, RedisTlsFiles};
pub use error::BusError;
pub use inbox::{Inbox, Subscriptions};
pub use liveness::Liveness;
pub use local::{LocalBus, LocalBusConfig};

/// Publishes deliveries on users' channels and opens nodes' inboxes.
///
/// Object-safe, so that roles hold an `Arc<dyn Bus>` chosen at startup.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug + 'static {
    /// Publishes on `delivery.user`'s channel. Succeeds also when nobody subscribes (the
    /// delivery is then dropped, like pub/sub).
    async fn publish(&self, delivery: Delivery) -> Result<(), BusError>;

    /// Publishes each delivery on its user's channel, keeping their order per channel: a
    /// presence broadcast to a roster, for instance. Implementations may batch them (Redis
    /// pipelines them); this default publishes them one by one. On an error, the deliveries
    /// before it may have been published, and those after it may not.
    async fn publish_all(&self, deliveries: Vec<Delivery>) -> Result<(), BusError> {
        for delivery in deliveries {
            self.publish(delivery).await?;
        }
        Ok(())
    }

    /// Opens a node's inbox with a bounded queue of `capacity` deliveries (at least one).
    async fn open_inbox(&self, node: &str, capacity: usize) -> Result<Inbox, BusError>;
}
