//! A node's inbox and the handle that manages its subscriptions, independent of the bus
//! implementation behind them.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cluster_api::v1::Delivery;
use tokio::sync::mpsc;

use crate::BusError;

/// The deliveries for one node: those published on every channel it subscribes to.
///
/// Dropping the inbox removes all of its subscriptions.
pub struct Inbox {
    deliveries: mpsc::Receiver<Delivery>,
    subscriptions: Subscriptions,
}

impl Inbox {
    /// An inbox receiving from `deliveries`, whose subscriptions `control` manages.
    pub(crate) fn new(
        deliveries: mpsc::Receiver<Delivery>,
        control: Arc<dyn SubscriptionControl>,
    ) -> Self {
        Self {
            deliveries,
            subscriptions: Subscriptions { control },
        }
    }

    /// The next delivery, in publishing order per channel. `None` once the bus can deliver
    /// nothing more to this inbox.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no delivery is lost.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }

    /// Waits for at least one delivery, then moves into `batch` every delivery already
    /// queued, up to `limit`, in the order [`Self::recv`] would return them; returns how
    /// many it moved, 0 once the bus can deliver nothing more to this inbox (or `limit` is 0).
    ///
    /// Why: tokio's cooperative budget lets a task take at most 128 items from a queue per
    /// turn on the runtime, each `recv` one of them. A node's one inbox task, taking
    /// deliveries one at a time, could then fall behind hundreds of sessions each
    /// publishing in its own turn, and its queue filled; a batch costs one unit of the
    /// budget, so the task empties the queue whenever it runs.
    ///
    /// Cancel-safe, as [`Self::recv`] is.
    pub async fn recv_many(&mut self, batch: &mut Vec<Delivery>, limit: usize) -> usize {
        self.deliveries.recv_many(batch, limit).await
    }

    /// A handle that subscribes this inbox to channels; clones may be used from any task.
    pub fn subscriptions(&self) -> Subscriptions {
        self.subscriptions.clone()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.subscriptions.control.close();
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("queued", &self.deliveries.len())
            .field("subscriptions", &self.subscriptions)
            .finish()
    }
}

/// Subscribes one inbox to users' channels. Cheap to clone.
///
/// Both operations are idempotent: the bus keeps one subscription per inbox and user, and the
/// caller keeps its own count of sessions per user.
#[derive(Clone)]
pub struct Subscriptions {
    control: Arc<dyn SubscriptionControl>,
}

impl Subscriptions {
    /// Delivers what is published on `user`'s channel (a bare JID) to this inbox from now on.
    ///
    /// Fails with [`BusError::Closed`] once the inbox has been dropped.
    pub async fn subscribe(&self, user: &str) -> Result<(), BusError> {
        self.control.subscribe(user).await
    }

    /// Stops delivering `user`'s channel to this inbox. Deliveries already queued stay
    /// queued. Succeeds also when the inbox is gone (it then subscribes to nothing).
    pub async fn unsubscribe(&self, user: &str) -> Result<(), BusError> {
        self.control.unsubscribe(user).await
    }
}

impl fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.control.fmt(f)
    }
}

/// What a bus implementation provides behind [`Subscriptions`] and [`Inbox`].
#[async_trait]
pub(crate) trait SubscriptionControl: Send + Sync + fmt::Debug + 'static {
    async fn subscribe(&self, user: &str) -> Result<(), BusError>;
    async fn unsubscribe(&self, user: &str) -> Result<(), BusError>;
    /// The inbox was dropped: remove all of its subscriptions, refuse new ones. Synchronous,
    /// since it runs in `Drop`.
    fn close(&self);
}
