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
//! Overflow policy of [`LocalBus`]: each inbox is a bounded queue. A publish to a full inbox
//! waits for room (backpressure on the shard) for at most `publish_timeout`; past it, the
//! delivery is dropped for that inbox only, a warning is logged and [`LocalBus::dropped`]
//! counts it. A node that stops reading its inbox thus slows publishers by at most the
//! timeout per publish, and never blocks them.

mod error;
mod inbox;
mod local;

use async_trait::async_trait;
use cluster_api::v1::Delivery;

pub use error::BusError;
pub use inbox::{Inbox, Subscriptions};
pub use local::{LocalBus, LocalBusConfig};

/// Publishes deliveries on users' channels and opens nodes' inboxes.
///
/// Object-safe, so that roles hold an `Arc<dyn Bus>` chosen at startup.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug + 'static {
    /// Publishes on `delivery.user`'s channel. Succeeds also when nobody subscribes (the
    /// delivery is then dropped, like pub/sub).
    async fn publish(&self, delivery: Delivery) -> Result<(), BusError>;

    /// Opens a node's inbox with a bounded queue of `capacity` deliveries (at least one).
    async fn open_inbox(&self, node: &str, capacity: usize) -> Result<Inbox, BusError>;
}
