//! The users whose bus channel this node holds: subscribed before a user's first session
//! here is registered, released after the last is unregistered.
//!
//! Each user's count sits behind a lock of its own, held across the (un)subscription: a
//! second session of the same user waits until the channel is really subscribed, and the
//! channel is released only if no session came meanwhile. Other users do not wait: with one
//! lock for every user, each first session of a login storm waited for every earlier one's
//! Redis round trip, and a Redis node that stalled (up to the bus's command timeout) held
//! up every login on the node, whatever node its users' channels live on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use bus::{BusError, Subscriptions};
use xmpp_core::Jid;

/// Subscribing and unsubscribing users' channels: the bus's [`Subscriptions`], or a double
/// in tests.
pub(crate) trait ChannelControl: Send + Sync {
    fn subscribe(&self, user: &str) -> impl Future<Output = Result<(), BusError>> + Send;
    fn unsubscribe(&self, user: &str) -> impl Future<Output = Result<(), BusError>> + Send;
}

impl ChannelControl for Subscriptions {
    fn subscribe(&self, user: &str) -> impl Future<Output = Result<(), BusError>> + Send {
        Subscriptions::subscribe(self, user)
    }

    fn unsubscribe(&self, user: &str) -> impl Future<Output = Result<(), BusError>> + Send {
        Subscriptions::unsubscribe(self, user)
    }
}

/// Sessions on this node per user.
type Count = Arc<tokio::sync::Mutex<usize>>;

/// Sessions per user on this node, and their channels' subscriptions.
#[derive(Debug)]
pub(crate) struct UserChannels<C> {
    channels: C,
    /// A user is listed while a session of theirs is bound or binding. Held for lookups
    /// only, never across an await.
    users: Mutex<HashMap<Jid, Count>>,
}

impl<C: ChannelControl> UserChannels<C> {
    pub(crate) fn new(channels: C) -> Self {
        Self {
            channels,
            users: Mutex::default(),
        }
    }

    /// One more session of `user` (a bare JID): its channel is subscribed first if this is
    /// the first. On failure nothing is counted.
    pub(crate) async fn hold(&self, user: &Jid) -> Result<(), BusError> {
        let count = self.count_of(user);
        let mut sessions = count.lock().await;
        if *sessions == 0
            && let Err(error) = self.channels.subscribe(user.as_str()).await
        {
            drop(sessions);
            self.forget_if_unused(user, count);
            return Err(error);
        }
        *sessions += 1;
        Ok(())
    }

    /// One session of `user` fewer: its channel is unsubscribed after the last. (The
    /// unsubscription takes effect in the bus even if Redis does not confirm it; the error
    /// is for the log.)
    pub(crate) async fn release(&self, user: &Jid) -> Result<(), BusError> {
        let Some(count) = self.lock().get(user).cloned() else {
            return Ok(());
        };
        let mut sessions = count.lock().await;
        let result = match *sessions {
            // Another release took the last session meanwhile.
            0 => Ok(()),
            1 => {
                *sessions = 0;
                self.channels.unsubscribe(user.as_str()).await
            }
            _ => {
                *sessions -= 1;
                Ok(())
            }
        };
        drop(sessions);
        self.forget_if_unused(user, count);
        result
    }

    /// Removes `user`'s entry if it is still `count`, no session is counted, and no one else
    /// holds it: anyone else can only take it from the map, under the map's lock, so a
    /// caller waiting for the count keeps it listed, and subscribes again.
    fn forget_if_unused(&self, user: &Jid, count: Count) {
        let mut users = self.lock();
        let unused = count.try_lock().is_ok_and(|sessions| *sessions == 0);
        let listed = users.get(user).is_some_and(|l| Arc::ptr_eq(l, &count));
        // The map's reference and this one.
        if unused && listed && Arc::strong_count(&count) == 2 {
            users.remove(user);
        }
    }

    fn count_of(&self, user: &Jid) -> Count {
        Arc::clone(self.lock().entry(user.clone()).or_default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Jid, Count>> {
        // Every update completes before anything that could panic.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many users are listed.
    #[cfg(test)]
    pub(crate) fn listed(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests;
