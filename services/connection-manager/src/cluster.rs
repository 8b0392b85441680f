//! The connection manager's link to the rest of the cluster: the roster-presence shards it
//! calls over gRPC, and the bus inbox through which their deliveries come back.
//!
//! Invariant: a node subscribes to a user's bus channel before it registers the user's
//! first session with the shard, and unsubscribes only after the last session was
//! unregistered, so no delivery decided for a registered session can miss this node.

use std::collections::HashMap;
use std::sync::Arc;

use bus::{Inbox, Subscriptions};
use cluster_api::ShardClients;
use cluster_api::v1::delivery::Target;
use cluster_api::v1::{
    Delivery, Direction, SessionAddress, SessionBoundRequest, SessionClosedRequest, StanzaInRequest,
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use xmpp_core::{Jid, Stanza};

use crate::registry::{SessionHandle, SessionRegistry};
use crate::server::C2sServer;

/// Why a call into the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The shard did not answer or refused the call.
    #[error("roster-presence shard: {0}")]
    Shard(#[from] tonic::Status),
    /// The bus did not take the subscription.
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
}

/// This node's clients of the shards and its bus subscriptions.
#[derive(Debug)]
pub struct Cluster {
    node: String,
    shards: ShardClients,
    subscriptions: Subscriptions,
    /// Sessions per user on this node, for subscribing on the first and unsubscribing after
    /// the last. A tokio mutex: it is held across the subscribe call, so a second session
    /// of the same user waits until the channel is really subscribed.
    users: Mutex<HashMap<Jid, usize>>,
}

impl Cluster {
    /// The link of node `node`, calling `shards`, subscribing through `subscriptions`.
    pub fn new(
        node: impl Into<String>,
        shards: ShardClients,
        subscriptions: Subscriptions,
    ) -> Self {
        Self {
            node: node.into(),
            shards,
            subscriptions,
            users: Mutex::default(),
        }
    }

    /// The session's cluster-wide address.
    pub fn address(&self, session: &SessionHandle) -> SessionAddress {
        SessionAddress {
            node: self.node.clone(),
            id: session.id(),
            jid: session.jid().to_string(),
        }
    }

    /// Subscribes to the user's channel if needed, then registers the session with the
    /// user's shard. On failure nothing stays registered.
    pub async fn session_bound(&self, session: &SessionHandle) -> Result<(), ClusterError> {
        let user = session.jid().bare();
        {
            let mut users = self.users.lock().await;
            let count = users.entry(user.clone()).or_default();
            if *count == 0
                && let Err(error) = self.subscriptions.subscribe(user.as_str()).await
            {
                users.remove(&user);
                return Err(error.into());
            }
            *count += 1;
        }
        let request = SessionBoundRequest {
            session: Some(self.address(session)),
        };
        if let Err(status) = self.shards.for_jid(&user).session_bound(request).await {
            self.release(&user).await;
            return Err(status.into());
        }
        Ok(())
    }

    /// Unregisters the session from its shard (which sends unavailable presence for it if
    /// needed), then unsubscribes from the user's channel if it was the last.
    pub async fn session_closed(&self, session: &SessionHandle) {
        let user = session.jid().bare();
        let request = SessionClosedRequest {
            session: Some(self.address(session)),
        };
        if let Err(status) = self.shards.for_jid(&user).session_closed(request).await {
            tracing::warn!(jid = %session.jid(), %status, "unregistering a session failed");
        }
        self.release(&user).await;
    }

    /// Sends `stanza` from `origin` to the shard of `owner` for processing in `direction`.
    pub async fn stanza_in(
        &self,
        owner: &Jid,
        stanza: &Stanza,
        origin: &SessionHandle,
        direction: Direction,
    ) -> Result<(), ClusterError> {
        let request = StanzaInRequest {
            stanza: Some(cluster_api::convert::envelope(
                stanza,
                Some(self.address(origin)),
            )),
            direction: direction.into(),
        };
        self.shards.for_jid(owner).stanza_in(request).await?;
        Ok(())
    }

    async fn release(&self, user: &Jid) {
        let mut users = self.users.lock().await;
        let Some(count) = users.get_mut(user) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            users.remove(user);
            if let Err(error) = self.subscriptions.unsubscribe(user.as_str()).await {
                tracing::warn!(%user, %error, "unsubscribing a user's channel failed");
            }
        }
    }
}

/// Writes what arrives in this node's inbox to the local sessions it names, until shutdown.
pub async fn run_inbox(server: Arc<C2sServer>, mut inbox: Inbox, shutdown: CancellationToken) {
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => return,
            d = inbox.recv() => match d {
                Some(d) => d,
                None => return,
            },
        };
        deliver(&server.sessions, delivery);
    }
}

/// Hands one delivery to the local sessions it is for. Sessions of the user on other nodes
/// are theirs to serve; a named session that is gone is skipped (the stanza was decided
/// while it was still bound).
fn deliver(sessions: &SessionRegistry, delivery: Delivery) {
    let Ok(user) = Jid::new(&delivery.user) else {
        return;
    };
    let local = sessions.sessions_of(&user);
    match &delivery.target {
        Some(Target::Resources(resources)) => {
            for session in &local {
                if resources.jids.iter().any(|j| j == session.jid().as_str()) {
                    session.deliver_serialized(delivery.xml.clone());
                }
            }
        }
        Some(Target::Available(_)) => {
            for session in local.iter().filter(|s| s.is_available()) {
                session.deliver_serialized(delivery.xml.clone());
            }
        }
        None => {}
    }
}
