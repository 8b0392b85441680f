//! One inbox's subscriptions: the channels it holds, the connections (one per server) they
//! are subscribed on, and what becomes of a message that arrives on one of them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::redis::{ErrorKind, PushInfo, PushKind, RedisError, RedisResult, ServerErrorKind, Value};
use async_trait::async_trait;
use cluster_api::v1::Delivery;
use prost::Message as _;
use tokio::sync::Notify;
use tokio::sync::mpsc::{Sender, error::TrySendError};

use super::config::RedisBusConfig;
use super::link::Link;
use super::topology::{NodeId, Topology};
use crate::BusError;
use crate::inbox::SubscriptionControl;

/// Messages larger than this are skipped by subscribers rather than handed to an inbox: no
/// stanza the server writes comes near it, so such a message is not one of ours.
pub const MAX_DELIVERY_BYTES: usize = 1024 * 1024;

/// What every inbox of one bus counts.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Deliveries dropped because their inbox was full.
    pub(crate) dropped: AtomicU64,
    /// Messages on a channel that were not a delivery for that channel's user.
    pub(crate) malformed: AtomicU64,
}

/// What an inbox's [`Subscriptions`](crate::Subscriptions) and its tasks share.
pub(crate) struct Shared {
    pub(crate) node: Arc<str>,
    pub(crate) config: Arc<RedisBusConfig>,
    pub(crate) counters: Arc<Counters>,
    /// Wakes the maintenance task: a server connection was lost, or the topology changed.
    repair: Notify,
    overflow: Mutex<OverflowLog>,
    /// Held for lookups and updates only, never across an await.
    state: Mutex<State>,
}

struct State {
    /// The users whose channels this inbox holds: what a new connection subscribes to, and
    /// the filter on what arrives.
    users: HashSet<String>,
    /// Which server each channel lives on.
    topology: Topology,
    /// The live connection to each server, once subscribed to the inbox's channels there.
    /// A server without one is being reconnected: subscriptions to its channels fail.
    links: HashMap<NodeId, Link>,
    /// Held users whose channel a server dropped (its slot moved), until subscribed again
    /// where the slot map says: the first map read after the drop may still name the server
    /// that dropped it, so a topology change alone does not tell that they were followed.
    /// Each with the number of its drop, so that a drop during a follow is not forgotten.
    dropped: HashMap<String, u64>,
    drops: u64,
    /// The inbox was dropped.
    closed: bool,
}

impl Shared {
    pub(crate) fn new(
        node: &str,
        config: Arc<RedisBusConfig>,
        counters: Arc<Counters>,
        topology: Topology,
    ) -> Self {
        Self {
            node: node.into(),
            config,
            counters,
            repair: Notify::new(),
            overflow: Mutex::new(OverflowLog::default()),
            state: Mutex::new(State {
                users: HashSet::new(),
                topology,
                links: HashMap::new(),
                dropped: HashMap::new(),
                drops: 0,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update completes before anything that could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the maintenance task for a repair pass.
    pub(crate) fn request_repair(&self) {
        self.repair.notify_one();
    }

    /// Completes when a repair pass was asked for.
    pub(crate) async fn repair_requested(&self) {
        self.repair.notified().await;
    }

    /// The servers of the topology.
    pub(crate) fn nodes(&self) -> BTreeSet<NodeId> {
        self.lock().topology.nodes()
    }

    /// Replaces the topology, dropping the connections to servers that left it. Whether it
    /// changed.
    pub(crate) fn set_topology(&self, topology: Topology) -> bool {
        let mut state = self.lock();
        if state.topology == topology {
            return false;
        }
        let nodes = topology.nodes();
        state.links.retain(|node, _| nodes.contains(node));
        state.topology = topology;
        true
    }

    /// The live connections.
    pub(crate) fn links(&self) -> Vec<(NodeId, Link)> {
        let state = self.lock();
        let links = state.links.iter();
        links
            .map(|(node, link)| (node.clone(), link.clone()))
            .collect()
    }

    /// The servers of the topology without a live connection.
    pub(crate) fn missing(&self) -> Vec<NodeId> {
        let state = self.lock();
        let nodes = state.topology.nodes().into_iter();
        nodes
            .filter(|node| !state.links.contains_key(node))
            .collect()
    }

    /// The channels the inbox holds on `node`; `None` once the inbox is closed.
    pub(crate) fn channels_of(&self, node: &str) -> Option<Vec<String>> {
        let state = self.lock();
        if state.closed {
            return None;
        }
        let channels = state.users.iter().map(|user| self.config.channel(user));
        let on_node = |channel: &String| state.topology.owner(channel).is_some_and(|n| n == node);
        Some(channels.filter(on_node).collect())
    }

    /// Makes `link` the connection to `node`, once it subscribed to `subscribed` (what the
    /// inbox held there when the connection was made). Those the inbox released since, when
    /// there was no connection to unsubscribe them on, are unsubscribed on it first. False
    /// once the inbox is closed.
    pub(crate) fn install(&self, node: &str, link: Link, subscribed: &[String]) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        self.unsubscribe_released(&state, &link, subscribed);
        state.links.insert(node.to_owned(), link);
        true
    }

    /// Unsubscribes, on `link`, those of `subscribed` that the inbox no longer holds: a
    /// repair pass subscribes the channels it read before, and a channel released meanwhile
    /// may have had its own `SUNSUBSCRIBE` written before the repair's `SSUBSCRIBE`.
    pub(crate) fn unsubscribe_released_on(&self, link: &Link, subscribed: &[String]) {
        let state = self.lock();
        if !state.closed {
            self.unsubscribe_released(&state, link, subscribed);
        }
    }

    /// Queued while the state is locked, so that a subscription to the same channel made
    /// after the lock is released is written after it and stands.
    fn unsubscribe_released(&self, state: &State, link: &Link, subscribed: &[String]) {
        let prefix = self.config.channel_prefix.as_str();
        let held = |channel: &&String| {
            let user = channel.strip_prefix(prefix);
            user.is_some_and(|user| state.users.contains(user))
        };
        let released: Vec<String> = subscribed.iter().filter(|c| !held(c)).cloned().collect();
        if released.is_empty() {
            return;
        }
        tracing::debug!(node = %self.node, channels = released.len(), "unsubscribing channels released during a repair");
        if !link.sunsubscribe_now(&released) {
            tracing::warn!(
                node = %self.node,
                channels = released.len(),
                "could not unsubscribe channels released during a repair; \
                 what arrives on them is discarded"
            );
        }
    }

    /// Forgets the connection to `node` if it is still the one numbered `id`. Whether it was.
    pub(crate) fn remove_link(&self, node: &str, id: u64) -> bool {
        let mut state = self.lock();
        let current = state.links.get(node).is_some_and(|link| link.id == id);
        if current {
            state.links.remove(node);
        }
        current
    }

    /// `change` of `channel` on `link`, and if the server refuses it with a `MOVED`
    /// redirection, once more on the server the redirection names, if connected there: the
    /// slot moved, and the slot map read next may still name this server for a while
    /// (other nodes learn of a move by gossip). `None` if it takes longer than `timeout`.
    async fn change(
        &self,
        change: Change,
        link: &Link,
        channel: &str,
        timeout: Duration,
    ) -> Option<RedisResult<()>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let outcome = tokio::time::timeout_at(deadline, change.send(link, channel));
        match outcome.await.ok()? {
            Err(error) if error.is_cluster_error() => {
                // Learn the new topology.
                self.request_repair();
                let Some(link) = self.redirected(&error) else {
                    return Some(Err(error));
                };
                let redirected = change.send(&link, channel);
                tokio::time::timeout_at(deadline, redirected).await.ok()
            }
            outcome => Some(outcome),
        }
    }

    /// The connection to the server a `MOVED` redirection names, if there is one.
    fn redirected(&self, error: &RedisError) -> Option<Link> {
        if error.kind() != ErrorKind::Server(ServerErrorKind::Moved) {
            return None;
        }
        let (node, _slot) = error.redirect_node()?;
        self.lock().links.get(node).cloned()
    }

    /// The channels servers dropped, each with the connection to the server that now
    /// serves its slot, if there is one.
    pub(crate) fn dropped(&self) -> Vec<(DroppedChannel, Option<Link>)> {
        let state = self.lock();
        let mut dropped = Vec::with_capacity(state.dropped.len());
        for (user, &number) in &state.dropped {
            let channel = self.config.channel(user);
            let owner = state.topology.owner(&channel);
            let link = owner.and_then(|node| state.links.get(node)).cloned();
            let user = user.clone();
            dropped.push((
                DroppedChannel {
                    user,
                    channel,
                    number,
                },
                link,
            ));
        }
        dropped
    }

    /// `drop`'s channel was subscribed to again (unless it was dropped again since).
    pub(crate) fn followed(&self, drop: &DroppedChannel) {
        let mut state = self.lock();
        if state.dropped.get(&drop.user) == Some(&drop.number) {
            state.dropped.remove(&drop.user);
        }
    }

    /// What the connection to `server` numbered `id` receives besides replies: runs on that
    /// connection's reading task, so it never waits.
    pub(crate) fn on_push(&self, server: &str, id: u64, push: PushInfo, inbox: &Sender<Delivery>) {
        match push.kind {
            PushKind::SMessage => self.hand_over(push.data, inbox),
            PushKind::Disconnection if self.remove_link(server, id) => {
                tracing::warn!(node = %self.node, %server, "lost a bus connection, reconnecting");
                self.request_repair();
            }
            // The server dropped a channel the inbox holds: its slot moved to another server.
            PushKind::SUnsubscribe if self.note_dropped(&push.data) => {
                tracing::info!(node = %self.node, %server, "a channel moved, following it");
                self.request_repair();
            }
            // Subscription confirmations.
            _ => {}
        }
    }

    /// Records the channel of a server's `sunsubscribe` push (`data`: channel, count) as
    /// dropped if the inbox holds it; whether it does. The inbox's own SUNSUBSCRIBE forgets
    /// the user first, so its confirmation is not mistaken for a drop.
    fn note_dropped(&self, data: &[Value]) -> bool {
        let Some(Value::BulkString(channel)) = data.first() else {
            return false;
        };
        let channel = String::from_utf8_lossy(channel);
        let Some(user) = channel.strip_prefix(self.config.channel_prefix.as_str()) else {
            return false;
        };
        let mut state = self.lock();
        let held = state.users.contains(user);
        if held {
            state.drops += 1;
            let number = state.drops;
            state.dropped.insert(user.to_owned(), number);
        }
        held
    }

    /// Hands what arrived on a channel (`data` of an `smessage` push: channel, message) to
    /// the inbox, unless it is not a delivery for a channel the inbox holds.
    fn hand_over(&self, data: Vec<Value>, inbox: &Sender<Delivery>) {
        let Some(delivery) = self.decode(data) else {
            return;
        };
        match inbox.try_send(delivery) {
            // A closed inbox is being dropped, and its connections with it.
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(delivery)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                let mut overflow = self.overflow.lock().unwrap_or_else(PoisonError::into_inner);
                overflow.note(&self.node, &delivery.user);
            }
        }
    }

    fn decode(&self, data: Vec<Value>) -> Option<Delivery> {
        let Ok([Value::BulkString(channel), Value::BulkString(message)]) =
            <[Value; 2]>::try_from(data)
        else {
            return self.malformed("", "not a channel and a message");
        };
        let channel = String::from_utf8_lossy(&channel);
        let Some(user) = channel.strip_prefix(self.config.channel_prefix.as_str()) else {
            return self.malformed(&channel, "not a channel of this bus");
        };
        if !self.lock().users.contains(user) {
            // Unsubscribed while the message was on its way.
            tracing::trace!(node = %self.node, %user, "message on a channel no longer held");
            return None;
        }
        if message.len() > MAX_DELIVERY_BYTES {
            return self.malformed(&channel, "larger than MAX_DELIVERY_BYTES");
        }
        match Delivery::decode(message.as_slice()) {
            Ok(delivery) if delivery.user == user => Some(delivery),
            Ok(_) => self.malformed(&channel, "a delivery for another user"),
            Err(_) => self.malformed(&channel, "not a delivery"),
        }
    }

    fn malformed(&self, channel: &str, what: &str) -> Option<Delivery> {
        self.counters.malformed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(node = %self.node, %channel, "skipped a message on the bus: {what}");
        None
    }
}

/// What [`Shared::change`] asks of a server.
#[derive(Clone, Copy)]
enum Change {
    Subscribe,
    Unsubscribe,
}

impl Change {
    async fn send(self, link: &Link, channel: &str) -> RedisResult<()> {
        match self {
            Self::Subscribe => link.ssubscribe(channel).await,
            Self::Unsubscribe => link.sunsubscribe(channel).await,
        }
    }
}

/// A channel a server dropped, to be followed to its slot's new server.
pub(crate) struct DroppedChannel {
    pub(crate) user: String,
    pub(crate) channel: String,
    /// Tells this drop from a later one of the same channel.
    number: u64,
}

/// Logs dropped deliveries at most once a second per inbox, with how many were dropped
/// since the last report, so that a stuck inbox does not flood the log.
#[derive(Debug, Default)]
struct OverflowLog {
    last: Option<Instant>,
    unreported: u64,
}

impl OverflowLog {
    const INTERVAL: Duration = Duration::from_secs(1);

    fn note(&mut self, node: &str, user: &str) {
        self.unreported += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|last| now.duration_since(last) >= Self::INTERVAL)
        {
            tracing::warn!(
                %node,
                %user,
                dropped = self.unreported,
                "inbox full, deliveries dropped"
            );
            self.last = Some(now);
            self.unreported = 0;
        }
    }
}

/// The [`SubscriptionControl`] of a Redis inbox.
pub(crate) struct Subscriber {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("RedisSubscriptions")
            .field("node", &self.shared.node)
            .field("users", &state.users.len())
            .field("servers", &state.topology.nodes().len())
            .field("connected", &state.links.len())
            .field("closed", &state.closed)
            .finish()
    }
}

#[async_trait]
impl SubscriptionControl for Subscriber {
    async fn subscribe(&self, user: &str) -> Result<(), BusError> {
        let channel = self.shared.config.channel(user);
        let link = {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(BusError::Closed);
            }
            let Some(node) = state.topology.owner(&channel) else {
                self.shared.request_repair();
                return Err(BusError::Unavailable(
                    "no Redis server serves the channel's slot".to_owned(),
                ));
            };
            let Some(link) = state.links.get(node).cloned() else {
                return Err(BusError::Unavailable(format!(
                    "reconnecting to Redis at {node}"
                )));
            };
            if !state.users.insert(user.to_owned()) {
                // Already held (callers subscribe a user once, not concurrently).
                return Ok(());
            }
            link
        };
        let timeout = self.shared.config.command_timeout;
        let subscribed = self
            .shared
            .change(Change::Subscribe, &link, &channel, timeout);
        let result = match subscribed.await {
            Some(Ok(())) => return Ok(()),
            Some(Err(error)) => BusError::Unavailable(format!("subscribing: {error}")),
            None => BusError::Unavailable(format!("subscribing: no answer within {timeout:?}")),
        };
        // Not recorded: the caller treats the failure as "not subscribed" and will not
        // unsubscribe, so a reconnection must not subscribe it either.
        self.shared.lock().users.remove(user);
        Err(result)
    }

    async fn unsubscribe(&self, user: &str) -> Result<(), BusError> {
        let channel = self.shared.config.channel(user);
        let link = {
            let mut state = self.shared.lock();
            state.dropped.remove(user);
            if !state.users.remove(user) {
                return Ok(());
            }
            let node = state.topology.owner(&channel);
            node.and_then(|node| state.links.get(node)).cloned()
        };
        // Without a connection there is nothing to undo: the next one will not subscribe it.
        let Some(link) = link else {
            return Ok(());
        };
        let timeout = self.shared.config.command_timeout;
        let unsubscribed = self
            .shared
            .change(Change::Unsubscribe, &link, &channel, timeout);
        // Already effective if it fails: what still arrives on the channel is discarded.
        match unsubscribed.await {
            Some(Ok(())) => {}
            Some(Err(error)) => {
                tracing::warn!(node = %self.shared.node, %user, %error, "SUNSUBSCRIBE failed");
            }
            None => {
                tracing::warn!(node = %self.shared.node, %user, "SUNSUBSCRIBE failed: no answer within {timeout:?}");
            }
        }
        Ok(())
    }

    fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        state.users.clear();
        state.dropped.clear();
        // The inbox's tasks end as its queue closes, and the connections, with every
        // subscription on them, go with them.
        state.links.clear();
    }
}
