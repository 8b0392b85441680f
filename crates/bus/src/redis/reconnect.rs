//! An inbox's connections, one per server, and its maintenance task, which checks the
//! connections, reconnects lost ones with capped backoff and subscribes them again to every
//! channel the inbox holds on that server.
//!
//! What a connection receives on its channels is handed to the inbox by the connection's
//! own task (the push callback: decode, filter, `try_send` to the inbox's bounded queue), so
//! a delivery crosses no other task or queue, and a full inbox never stalls it.
//!
//! In a cluster these are connections to each primary ([`Link`]), routed by hash slot here
//! (see `topology`), rather than the redis crate's cluster client: its own resubscription
//! after a node restart was seen to leave shard channels unsubscribed while reporting success.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::redis::PushInfo;
use cluster_api::v1::Delivery;
use futures::future::join_all;
use tokio::sync::mpsc::Sender;
use tokio::time::{Instant, MissedTickBehavior};

use super::bounded;
use super::config::{Backoff, RedisBusConfig};
use super::link::Link;
use super::subscriber::{DroppedChannel, Shared};
use super::tls::RedisTls;
use super::topology::Seeds;
use crate::BusError;

/// How often the connections are checked with a `PING`, so that one that died without
/// closing (a lost peer, a network partition) is replaced.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Channels per pipeline when subscribing a new connection; each pipeline gets the command
/// timeout.
const RESUBSCRIBE_BATCH: usize = 512;

/// Opens an inbox's connections.
pub(crate) struct Connector {
    seeds: Seeds,
    config: Arc<RedisBusConfig>,
    next_id: AtomicU64,
}

impl Connector {
    pub(crate) fn new(
        config: Arc<RedisBusConfig>,
        tls: Option<Arc<RedisTls>>,
    ) -> Result<Self, BusError> {
        Ok(Self {
            seeds: Seeds::parse(&config, tls)?,
            config,
            next_id: AtomicU64::new(0),
        })
    }

    pub(crate) fn seeds(&self) -> &Seeds {
        &self.seeds
    }

    /// A new connection to `server`, within the command timeout, whose pushes go to
    /// `shared` and `inbox`.
    pub(crate) async fn link(
        &self,
        server: &str,
        shared: &Arc<Shared>,
        inbox: &Sender<Delivery>,
    ) -> Result<Link, BusError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (shared, inbox, tag) = (Arc::clone(shared), inbox.clone(), server.to_owned());
        let on_push = move |push: PushInfo| shared.on_push(&tag, id, push, &inbox);
        let info = self.seeds.info(server);
        let connect = Link::connect(id, &info, self.seeds.tls(), on_push);
        bounded(self.config.command_timeout, "connecting", connect).await
    }
}

/// Checks the connections at an interval and repairs what is lost, until the inbox is
/// dropped.
pub(crate) async fn maintain(shared: Arc<Shared>, connector: Connector, inbox: Sender<Delivery>) {
    let mut health = tokio::time::interval_at(
        Instant::now() + HEALTH_CHECK_INTERVAL,
        HEALTH_CHECK_INTERVAL,
    );
    health.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = inbox.closed() => return,
            () = shared.repair_requested() => {}
            _ = health.tick() => {
                if check_health(&shared).await {
                    continue;
                }
            }
        }
        if !repair(&shared, &connector, &inbox).await {
            return;
        }
    }
}

/// Pings every connection at once, forgetting those that do not answer. Whether all did.
async fn check_health(shared: &Shared) -> bool {
    let timeout = shared.config.command_timeout;
    let pings = shared.links().into_iter().map(|(node, link)| async move {
        let result = bounded(timeout, "health check", link.ping()).await;
        (node, link.id, result)
    });
    let mut healthy = true;
    for (node, id, result) in join_all(pings).await {
        if let Err(error) = result
            && shared.remove_link(&node, id)
        {
            tracing::warn!(node = %shared.node, server = %node, %error, "a bus connection stopped answering, reconnecting");
            healthy = false;
        }
    }
    healthy
}

/// Repair passes with capped backoff until one succeeds. False once the inbox is dropped.
async fn repair(shared: &Arc<Shared>, connector: &Connector, inbox: &Sender<Delivery>) -> bool {
    let mut backoff = Backoff::new(shared.config.reconnect_backoff_max);
    for attempt in 1_u64.. {
        match repair_pass(shared, connector, inbox).await {
            Ok(()) => return true,
            Err(error) => {
                tracing::warn!(node = %shared.node, %error, attempt, "restoring the bus subscriptions failed");
            }
        }
        tokio::select! {
            () = inbox.closed() => return false,
            () = tokio::time::sleep(backoff.next_pause()) => {}
        }
    }
    true
}

/// Learns the topology again; if it changed, subscribes the live connections again to the
/// channels now on their server; connects to every server without a connection (all at
/// once) and subscribes it to the inbox's channels there before using it; then subscribes
/// the channels servers dropped where the slot map now puts them. Fails while any of these
/// is not done, so that the pass is retried on a fresh slot map.
async fn repair_pass(
    shared: &Arc<Shared>,
    connector: &Connector,
    inbox: &Sender<Delivery>,
) -> Result<(), BusError> {
    let timeout = shared.config.command_timeout;
    let topology = connector.seeds().discover(timeout).await?;
    let mut failure = None;
    if shared.set_topology(topology) {
        tracing::info!(node = %shared.node, servers = ?shared.nodes(), "bus topology changed");
        for (node, link) in shared.links() {
            match subscribe_all(shared, &node, &link).await {
                Ok(channels) => shared.unsubscribe_released_on(&link, &channels),
                Err(error) => {
                    shared.remove_link(&node, link.id);
                    failure = Some(error);
                }
            }
        }
    }
    let missing = shared.missing();
    let linking = missing.iter().map(|node| async move {
        let link = connector.link(node, shared, inbox).await?;
        let channels = subscribe_all(shared, node, &link).await?;
        Ok::<_, BusError>((link, channels))
    });
    for (node, linked) in missing.iter().zip(join_all(linking).await) {
        match linked {
            Ok((link, channels)) => {
                let count = channels.len();
                if shared.install(node, link, &channels) {
                    tracing::info!(node = %shared.node, server = %node, channels = count, "bus connection restored");
                }
            }
            Err(error) => failure = Some(error),
        }
    }
    if let Err(error) = follow_dropped(shared).await {
        failure = Some(error);
    }
    failure.map_or(Ok(()), Err)
}

/// Subscribes the channels servers dropped on the servers that serve their slots now, in
/// pipelines per server. A server that does not serve one (the slot map read was stale)
/// answers with a redirection, and that server's channels stay dropped.
async fn follow_dropped(shared: &Shared) -> Result<(), BusError> {
    let mut per_server: HashMap<u64, (Link, Vec<DroppedChannel>)> = HashMap::new();
    let mut failure = None;
    for (drop, link) in shared.dropped() {
        match link {
            Some(link) => per_server
                .entry(link.id)
                .or_insert((link, Vec::new()))
                .1
                .push(drop),
            None => {
                failure = Some(BusError::Unavailable(format!(
                    "no connected server serves the slot of {}",
                    drop.channel
                )));
            }
        }
    }
    let timeout = shared.config.command_timeout;
    let following = per_server.into_values().map(|(link, drops)| async move {
        let channels: Vec<String> = drops.iter().map(|drop| drop.channel.clone()).collect();
        let result = ssubscribe_all(&link, &channels, timeout).await;
        (result, link, channels, drops)
    });
    for (result, link, channels, drops) in join_all(following).await {
        match result {
            Ok(()) => {
                // A user unsubscribed meanwhile had its SUNSUBSCRIBE sent where the slot
                // map said, perhaps before this.
                shared.unsubscribe_released_on(&link, &channels);
                drops.iter().for_each(|drop| shared.followed(drop));
            }
            Err(error) => failure = Some(error),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Subscribes `link` to the channels the inbox holds on `node`: which.
async fn subscribe_all(shared: &Shared, node: &str, link: &Link) -> Result<Vec<String>, BusError> {
    // Subscriptions made from now on fail until the connection is installed; those released
    // from now on may be subscribed again here, and are unsubscribed once it is
    // (`Shared::install`, `Shared::unsubscribe_released_on`).
    let channels = shared.channels_of(node).unwrap_or_default();
    let timeout = shared.config.command_timeout;
    ssubscribe_all(link, &channels, timeout).await?;
    Ok(channels)
}

/// Subscribes `link` to `channels` in batches of [`RESUBSCRIBE_BATCH`], each within
/// `timeout`.
async fn ssubscribe_all(
    link: &Link,
    channels: &[String],
    timeout: Duration,
) -> Result<(), BusError> {
    for batch in channels.chunks(RESUBSCRIBE_BATCH) {
        bounded(timeout, "subscribing", link.ssubscribe_all(batch)).await?;
    }
    Ok(())
}
