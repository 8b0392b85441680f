//! The in-process bus of the one-process mode: channels are a map from user to the inboxes
//! subscribed to it, inboxes are bounded tokio queues.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use cluster_api::v1::Delivery;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Instant;

use crate::inbox::SubscriptionControl;
use crate::{Bus, BusError, Inbox};

/// Settings of a [`LocalBus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalBusConfig {
    /// How long one publish waits for room in full inboxes before dropping the delivery for
    /// them (see the crate's overflow policy).
    pub publish_timeout: Duration,
}

impl Default for LocalBusConfig {
    /// One second: long enough to ride out a burst (a presence broadcast to a large roster),
    /// short enough that a stuck connection manager cannot hold a shard for long.
    fn default() -> Self {
        Self {
            publish_timeout: Duration::from_secs(1),
        }
    }
}

/// A [`Bus`] inside one process. Clones share the same channels.
#[derive(Clone)]
pub struct LocalBus {
    shared: Arc<Shared>,
}

impl LocalBus {
    /// An empty bus: no inbox, no subscription.
    pub fn new(config: LocalBusConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                dropped: AtomicU64::new(0),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// How many deliveries were dropped for an inbox that stayed full past the publish
    /// timeout, counted once per inbox.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Publishes `deliveries` in order. First every delivery goes to every subscribed inbox
    /// with room, so that one full inbox does not delay the others; what a full inbox did not
    /// take then waits for room, in order, all against one deadline, so that a publish waits
    /// at most the timeout in all. Once one delivery waits for an inbox, the later ones for
    /// that inbox wait behind it, so that a channel's order holds.
    async fn publish_batch(&self, deliveries: impl IntoIterator<Item = Delivery>) {
        let mut waiting: Vec<(Target, Delivery)> = Vec::new();
        // The inboxes something waits for (a few: one per node).
        let mut backed_up: Vec<InboxId> = Vec::new();
        {
            let state = self.shared.lock();
            for delivery in deliveries {
                let Some(subscribed) = state.channels.get(&delivery.user) else {
                    tracing::trace!(user = %delivery.user, "no subscriber, delivery dropped");
                    continue;
                };
                let Some((last, others)) = subscribed.split_last() else {
                    continue;
                };
                let mut offer = |(id, target): &(InboxId, Target), delivery: Delivery| {
                    if backed_up.contains(id) {
                        waiting.push((target.clone(), delivery));
                        return;
                    }
                    match target.sender.try_send(delivery) {
                        // A closed inbox is being dropped along with its subscriptions.
                        Ok(()) | Err(TrySendError::Closed(_)) => {}
                        Err(TrySendError::Full(delivery)) => {
                            backed_up.push(*id);
                            waiting.push((target.clone(), delivery));
                        }
                    }
                };
                for subscription in others {
                    offer(subscription, delivery.clone());
                }
                offer(last, delivery);
            }
        }
        if waiting.is_empty() {
            return;
        }
        let deadline = Instant::now() + self.shared.config.publish_timeout;
        for (target, delivery) in waiting {
            let user = delivery.user.clone();
            if tokio::time::timeout_at(deadline, target.sender.send(delivery))
                .await
                .is_err()
            {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    %user,
                    node = %target.node,
                    timeout_ms = self.shared.config.publish_timeout.as_millis(),
                    "inbox full past the publish timeout, delivery dropped"
                );
            }
        }
    }
}

impl fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("LocalBus")
            .field("config", &self.shared.config)
            .field("channels", &state.channels.len())
            .field("inboxes", &state.inboxes.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, delivery: Delivery) -> Result<(), BusError> {
        self.publish_batch(std::iter::once(delivery)).await;
        Ok(())
    }

    /// One pass for the whole batch (a presence broadcast is one per contact): one lock,
    /// no per-delivery future or target list, and one deadline for any waiting.
    async fn publish_all(&self, deliveries: Vec<Delivery>) -> Result<(), BusError> {
        self.publish_batch(deliveries).await;
        Ok(())
    }

    async fn open_inbox(&self, node: &str, capacity: usize) -> Result<Inbox, BusError> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let node: Arc<str> = node.into();
        let id = self.shared.lock().open(Target { sender, node });
        let control = LocalSubscriptions {
            shared: Arc::clone(&self.shared),
            inbox: id,
        };
        Ok(Inbox::new(receiver, Arc::new(control)))
    }
}

/// What the bus and every inbox's subscription handle share.
struct Shared {
    config: LocalBusConfig,
    dropped: AtomicU64,
    /// Held only for map updates and lookups, never across an await.
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding the lock: every update
        // completes before anything that could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The channels and the open inboxes.
#[derive(Default)]
struct State {
    /// User → the inboxes subscribed to the user's channel. Looked up for every delivery:
    /// foldhash (randomly seeded per map) instead of SipHash, whose hashing of the user was
    /// 2% of a presence broadcast's instructions.
    channels: HashMap<String, Vec<(InboxId, Target)>, foldhash::fast::RandomState>,
    /// Open inboxes and the users each one subscribes to. An inbox leaves when dropped.
    inboxes: HashMap<InboxId, OpenInbox>,
    next_id: InboxId,
}

type InboxId = u64;

/// Where deliveries for one inbox go.
#[derive(Clone, Debug)]
struct Target {
    sender: mpsc::Sender<Delivery>,
    /// The node the inbox belongs to, for logs.
    node: Arc<str>,
}

struct OpenInbox {
    target: Target,
    users: HashSet<String>,
}

impl State {
    fn open(&mut self, target: Target) -> InboxId {
        let id = self.next_id;
        self.next_id += 1;
        self.inboxes.insert(
            id,
            OpenInbox {
                target,
                users: HashSet::new(),
            },
        );
        id
    }

    fn subscribe(&mut self, inbox: InboxId, user: &str) -> Result<(), BusError> {
        let open = self.inboxes.get_mut(&inbox).ok_or(BusError::Closed)?;
        if open.users.insert(user.to_owned()) {
            self.channels
                .entry(user.to_owned())
                .or_default()
                .push((inbox, open.target.clone()));
        }
        Ok(())
    }

    fn unsubscribe(&mut self, inbox: InboxId, user: &str) {
        if let Some(open) = self.inboxes.get_mut(&inbox)
            && open.users.remove(user)
        {
            self.remove_from_channel(inbox, user);
        }
    }

    fn close(&mut self, inbox: InboxId) {
        if let Some(open) = self.inboxes.remove(&inbox) {
            for user in open.users {
                self.remove_from_channel(inbox, &user);
            }
        }
    }

    fn remove_from_channel(&mut self, inbox: InboxId, user: &str) {
        if let Some(subscribed) = self.channels.get_mut(user) {
            subscribed.retain(|(id, _)| *id != inbox);
            if subscribed.is_empty() {
                self.channels.remove(user);
            }
        }
    }
}

/// The subscriptions of one [`LocalBus`] inbox.
struct LocalSubscriptions {
    shared: Arc<Shared>,
    inbox: InboxId,
}

impl fmt::Debug for LocalSubscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSubscriptions")
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SubscriptionControl for LocalSubscriptions {
    async fn subscribe(&self, user: &str) -> Result<(), BusError> {
        self.shared.lock().subscribe(self.inbox, user)
    }

    async fn unsubscribe(&self, user: &str) -> Result<(), BusError> {
        self.shared.lock().unsubscribe(self.inbox, user);
        Ok(())
    }

    fn close(&self) {
        self.shared.lock().close(self.inbox);
    }
}

#[cfg(test)]
mod tests;
