//! The connection manager's link to the rest of the cluster: the roster-presence shards it
//! calls over gRPC, and the bus inbox through which their deliveries come back.
//!
//! Invariant: a node subscribes to a user's bus channel before it registers the user's
//! first session with the shard, and unsubscribes only after the last session was
//! unregistered, so no delivery decided for a registered session can miss this node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::{Inbox, Subscriptions};
use cluster_api::v1::delivery::Target;
use cluster_api::v1::{
    Delivery, Direction, Envelope, SessionAddress, SessionBoundRequest, SessionClosedRequest,
    StanzaInRequest,
};
use cluster_api::{ShardClient, ShardClients};
use service_kit::Metrics;
use tokio_util::sync::CancellationToken;
use xmpp_core::{Jid, Stanza};

use crate::call_gate::{CallGate, Slot};
use crate::config::Limits;
use crate::registry::{SessionHandle, SessionRegistry};
use crate::server::C2sServer;

mod user_channels;

use self::user_channels::UserChannels;

/// Why a call into the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The shard did not answer or refused the call.
    #[error("roster-presence shard: {0}")]
    Shard(tonic::Status),
    /// The bus did not take the subscription.
    #[error("bus: {0}")]
    Bus(bus::BusError),
}

// The wrapped errors are said in the variants' messages, not returned as their sources
// (ARCHITECTURE.md, "Errors").
impl From<tonic::Status> for ClusterError {
    fn from(e: tonic::Status) -> Self {
        ClusterError::Shard(e)
    }
}

impl From<bus::BusError> for ClusterError {
    fn from(e: bus::BusError) -> Self {
        ClusterError::Bus(e)
    }
}

/// This node's clients of the shards and its bus subscriptions.
#[derive(Debug)]
pub struct Cluster {
    node: String,
    shards: ShardClients,
    /// Sessions per user on this node, for subscribing on the first and unsubscribing after
    /// the last.
    users: UserChannels<Subscriptions>,
    /// Bounds the calls in flight from this node to each shard, in shard order: a shard that
    /// falls behind holds up only the calls meant for it.
    gates: Box<[CallGate]>,
    metrics: Metrics,
}

impl Cluster {
    /// The link of node `node`, calling `shards`, subscribing through `subscriptions`.
    pub fn new(
        node: impl Into<String>,
        shards: ShardClients,
        subscriptions: Subscriptions,
    ) -> Self {
        let gates = Self::gates_of(&shards, || {
            CallGate::fixed(Limits::default().max_shard_calls)
        });
        Self {
            node: node.into(),
            shards,
            users: UserChannels::new(subscriptions),
            gates,
            metrics: Metrics::new(),
        }
    }

    /// Bounds the calls in flight from this node to each shard as `limits` say
    /// ([`Limits::max_shard_calls`], [`Limits::min_shard_calls`],
    /// [`Limits::shard_call_target_ms`]).
    pub fn with_call_limits(mut self, limits: &Limits) -> Self {
        self.gates = Self::gates_of(&self.shards, || {
            CallGate::adaptive(
                limits.min_shard_calls,
                limits.max_shard_calls,
                limits.shard_call_target(),
            )
        });
        for (shard, gate) in (0..).zip(&self.gates) {
            self.metrics.shard_call_window(shard, gate.window());
        }
        self
    }

    /// One gate per shard of `shards`.
    fn gates_of(shards: &ShardClients, gate: impl Fn() -> CallGate) -> Box<[CallGate]> {
        (0..shards.count().get()).map(|_| gate()).collect()
    }

    /// Reports to `metrics` instead of a private registry.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where this node reports.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The session's cluster-wide address.
    pub fn address(&self, session: &SessionHandle) -> SessionAddress {
        SessionAddress {
            node: self.node.clone(),
            id: session.id(),
            jid: session.jid().as_str().to_owned(),
        }
    }

    /// Subscribes to the user's channel if needed, then registers the session with the
    /// user's shard. On failure nothing stays registered.
    pub async fn session_bound(&self, session: &SessionHandle) -> Result<(), ClusterError> {
        let user = session.jid().bare();
        if let Err(error) = self.users.hold(&user).await {
            self.metrics.dependency_error("redis");
            return Err(error.into());
        }
        let request = self.traced(SessionBoundRequest {
            session: Some(self.address(session)),
            restored: None,
        });
        let result = self
            .call(
                "SessionBound",
                self.shards.index_of(&user),
                |mut client| async move { client.session_bound(request).await },
            )
            .await;
        if let Err(status) = result {
            self.release(&user).await;
            return Err(status.into());
        }
        self.metrics.session_opened();
        Ok(())
    }

    /// Unregisters the session from its shard (which sends unavailable presence for it if
    /// needed), then unsubscribes from the user's channel if it was the last.
    pub async fn session_closed(&self, session: &SessionHandle) {
        let user = session.jid().bare();
        let request = self.traced(SessionClosedRequest {
            session: Some(self.address(session)),
        });
        let result = self
            .call(
                "SessionClosed",
                self.shards.index_of(&user),
                |mut client| async move { client.session_closed(request).await },
            )
            .await;
        if let Err(status) = result {
            tracing::warn!(jid = %session.jid(), %status, "unregistering a session failed");
        }
        self.metrics.session_closed();
        self.release(&user).await;
    }

    /// `stanza` from `origin` as it crosses to a shard: serialized once, so that a caller
    /// that also keeps the bytes (the session's last presence) does not serialize twice.
    pub fn envelope(&self, stanza: &Stanza, origin: &SessionHandle) -> Envelope {
        cluster_api::convert::envelope(stanza, Some(self.address(origin)))
    }

    /// Sends an [`envelope`](Cluster::envelope) to the shard of `owner`, for processing in
    /// `direction`, with the `stanza` it was made from: a shard in this process takes that
    /// instead of parsing the envelope's XML again ([`cluster_api::convert::attach_stanza`]).
    pub async fn envelope_in(
        &self,
        owner: &Jid,
        envelope: Envelope,
        stanza: Stanza,
        direction: Direction,
    ) -> Result<(), ClusterError> {
        let mut request = self.traced(StanzaInRequest {
            stanza: Some(envelope),
            direction: direction.into(),
        });
        cluster_api::convert::attach_stanza(&mut request, stanza);
        let shard = self.shards.index_of(owner);
        self.call("StanzaIn", shard, |mut client| async move {
            client.stanza_in(request).await
        })
        .await?;
        Ok(())
    }

    /// Makes one call to shard `shard` once it has a slot of that shard's [`CallGate`], and
    /// records its duration (from the slot, not from the wait) and failure.
    async fn call<T, F>(
        &self,
        method: &'static str,
        shard: u32,
        call: impl FnOnce(ShardClient) -> F,
    ) -> Result<T, tonic::Status>
    where
        F: Future<Output = Result<T, tonic::Status>>,
    {
        let gate = &self.gates[shard as usize];
        let slot = self.call_slot(gate).await;
        let started = Instant::now();
        let result = call(self.shards.shard(shard)).await;
        self.observe(method, started, result.as_ref().err());
        // A shard that is down (`Unavailable`) fails calls at once: not congestion.
        let overloaded = result.as_ref().is_err_and(|status| {
            matches!(
                status.code(),
                tonic::Code::DeadlineExceeded | tonic::Code::ResourceExhausted
            )
        });
        if let Some(window) = slot.finish(overloaded) {
            self.metrics.shard_call_window(shard, window);
        }
        result
    }

    /// A slot of `gate` for one call to its shard; a wait for one shows in
    /// `starling_shard_calls_waiting` while it lasts and in `starling_shard_call_wait_seconds`
    /// once it got its slot.
    async fn call_slot<'g>(&self, gate: &'g CallGate) -> Slot<'g> {
        if let Some(slot) = gate.try_slot() {
            self.metrics.shard_call_waited(Duration::ZERO);
            return slot;
        }
        self.metrics.shard_call_wait_began();
        let _waiting = WaitEnds(&self.metrics);
        let began = Instant::now();
        let slot = gate.slot().await;
        self.metrics.shard_call_waited(began.elapsed());
        slot
    }

    /// A request carrying the current span's trace context, so the shard's span joins the
    /// trace.
    fn traced<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        service_kit::propagation::inject_current_metadata(request.metadata_mut());
        request
    }

    /// Records a shard call's duration, and its failure as a gRPC dependency error.
    fn observe(&self, method: &'static str, started: Instant, failure: Option<&tonic::Status>) {
        self.metrics.grpc_client_observe(method, started.elapsed());
        if failure.is_some() {
            self.metrics.dependency_error("grpc");
        }
    }

    /// A slot of shard `shard`'s gate, if one is free: a test holds the only one to keep
    /// calls to that shard waiting.
    #[cfg(test)]
    pub(crate) fn try_call_slot(&self, shard: u32) -> Option<Slot<'_>> {
        self.gates[shard as usize].try_slot()
    }

    /// How many users have a session here or binding here.
    #[cfg(test)]
    pub(crate) fn users_listed(&self) -> usize {
        self.users.listed()
    }

    /// The clients of every shard.
    pub fn shards(&self) -> &ShardClients {
        &self.shards
    }

    /// Registers `sessions` again with shard `index`, each with the state it had there, after
    /// that shard restarted and lost them. A session that ends meanwhile is unregistered by
    /// its own close as usual; one that fails to register is logged and left for the next
    /// restart check, which registers again only on a further restart, so it stays unknown
    /// to the shard until the client reconnects (the shard then treats it as offline).
    pub async fn reregister(&self, index: u32, sessions: &[SessionHandle]) -> usize {
        let mut registered = 0;
        for session in sessions {
            let request = SessionBoundRequest {
                session: Some(self.address(session)),
                restored: Some(session.restored()),
            };
            let result = self
                .call("SessionBound", index, |mut client| async move {
                    client.session_bound(self.traced(request)).await
                })
                .await;
            match result {
                Ok(_) => registered += 1,
                Err(status) => {
                    tracing::warn!(jid = %session.jid(), %status, "registering a session again failed");
                }
            }
        }
        registered
    }

    async fn release(&self, user: &Jid) {
        if let Err(error) = self.users.release(user).await {
            tracing::warn!(%user, %error, "unsubscribing a user's channel failed");
        }
    }
}

/// Ends a wait for a call slot in the metrics when dropped, so that a wait that is
/// abandoned (its session ended) is counted out too.
struct WaitEnds<'a>(&'a Metrics);

impl Drop for WaitEnds<'_> {
    fn drop(&mut self) {
        self.0.shard_call_wait_ended();
    }
}

/// Deliveries [`run_inbox`] takes from the inbox at once (it holds `inbox_capacity`, 65,536
/// by default for every connection manager): one unit of the task's cooperative budget
/// each, so the task empties the inbox whenever it runs instead of taking 128 and yielding.
/// When it took one at a time, the inbox filled in the gaps between its turns and the shard
/// calls waiting for room closed the call gate (README, "Where the time went").
const INBOX_BATCH: usize = 1024;

/// Writes what arrives in this node's inbox to the local sessions it names, until shutdown.
pub async fn run_inbox(server: Arc<C2sServer>, mut inbox: Inbox, shutdown: CancellationToken) {
    // Made once, and polled only when the inbox is empty: a fresh cancellation future per
    // delivery registered with and left the token's waiters each time (about 1% of a presence
    // broadcast's instructions). Shutdown is seen once the inbox empties (the server aborts
    // this task anyway once its sessions have closed).
    let shutdown = shutdown.cancelled();
    tokio::pin!(shutdown);
    let mut batch = Vec::with_capacity(INBOX_BATCH);
    loop {
        let received = tokio::select! {
            biased;
            n = inbox.recv_many(&mut batch, INBOX_BATCH) => n,
            () = &mut shutdown => return,
        };
        if received == 0 {
            return;
        }
        let metrics = server.cluster.metrics();
        for delivery in batch.drain(..) {
            metrics.fanout_delivered();
            if delivery.published_unix_micros > 0 {
                let micros =
                    cluster_api::convert::unix_micros_now() - delivery.published_unix_micros;
                metrics.fanout_latency_observe(Duration::from_micros(
                    u64::try_from(micros).unwrap_or(0),
                ));
            }
            if delivery.trace_context.is_empty() {
                deliver(&server.sessions, metrics, delivery);
            } else {
                let span = tracing::info_span!("c2s.deliver", user = %delivery.user);
                service_kit::propagation::set_parent(&span, &delivery.trace_context);
                span.in_scope(|| deliver(&server.sessions, metrics, delivery));
            }
        }
    }
}

/// Hands one delivery to the local sessions it is for. Sessions of the user on other nodes
/// are theirs to serve; a named session that is gone is skipped (the stanza was decided
/// while it was still bound). Queuing never waits (a full queue ends its session), so it is
/// done under the registry's lock.
fn deliver(sessions: &SessionRegistry, metrics: &Metrics, delivery: Delivery) {
    let Delivery {
        user, target, xml, ..
    } = delivery;
    let kind = stanza_kind(&xml);
    let wanted = |session: &SessionHandle| match &target {
        Some(Target::Resources(resources)) => {
            resources.jids.iter().any(|j| j == session.jid().as_str())
        }
        Some(Target::Available(_)) => session.is_available(),
        None => false,
    };
    sessions.with_sessions_of_normalized(&user, |local| {
        let mut recipients = local.iter().filter(|s| wanted(s)).peekable();
        let mut xml = Some(xml);
        while let Some(session) = recipients.next() {
            // The last recipient (usually the only one) takes the bytes themselves: a clone
            // of bytes that came as a `Vec` allocates a shared header for them.
            let bytes = if recipients.peek().is_some() {
                xml.clone()
            } else {
                xml.take()
            };
            if let Some(bytes) = bytes
                && session.deliver_serialized(bytes)
            {
                metrics.stanza_out(kind);
            }
        }
    });
}

/// The kind of a serialized stanza, from its element name (deliveries carry the stanza
/// serialized, and this is all the metrics need of it).
fn stanza_kind(xml: &[u8]) -> &'static str {
    if xml.starts_with(b"<message") {
        "message"
    } else if xml.starts_with(b"<presence") {
        "presence"
    } else {
        "iq"
    }
}

#[cfg(test)]
mod tests;
