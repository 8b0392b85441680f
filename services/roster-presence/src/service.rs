//! The gRPC face of a shard: `starling.v1.RosterPresence` (proto/starling/v1/router.proto).
//! Each call is handed to the [`Shard`], and the effects it returns are carried out before
//! the call answers: deliveries are published on the bus, stanzas for other users go to
//! the shard that owns them. Answering only afterwards keeps a client's stanzas in order
//! end to end, since a connection manager sends a session's next stanza after the answer.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bus::Bus;
use cluster_api::v1::roster_presence_server::RosterPresence;
use cluster_api::v1::{
    Direction, IncarnationRequest, IncarnationResponse, SessionAddress, SessionBoundRequest,
    SessionBoundResponse, SessionClosedRequest, SessionClosedResponse, StanzaInRequest,
    StanzaInResponse,
};
use cluster_api::{ShardClients, ShardCount, convert, shard_of};
use service_kit::{propagation, telemetry};
use tonic::{Request, Response, Status};
use tracing::{Instrument, Span};
use xmpp_core::{Element, Jid, ns};

use crate::sessions::SessionKey;
use crate::shard::Shard;

/// Which users a shard serves: those whose bare JID hashes to `index` among `count` shards
/// (cluster-api's `shard_of`). A call about anyone else is refused with
/// `FAILED_PRECONDITION`: it means the caller computed the placement with another shard
/// count (a deployment being resized, a misconfigured pod), and serving it would split one
/// user's state over two shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// This shard's index, below `count`.
    pub index: u32,
    /// The number of shards of the deployment.
    pub count: ShardCount,
}

impl Ownership {
    /// The one shard of a single-process deployment, which owns every user.
    pub fn single() -> Self {
        Self {
            index: 0,
            count: ShardCount::MIN,
        }
    }

    /// Refuses `jid` unless this shard owns its bare JID.
    pub fn check(&self, jid: &Jid) -> Result<(), Status> {
        let owner = shard_of(jid, self.count);
        if owner == self.index {
            Ok(())
        } else {
            Err(Status::failed_precondition(format!(
                "shard {} of {} does not own {}: shard {owner} does",
                self.index,
                self.count,
                jid.bare()
            )))
        }
    }
}

/// A shard served over gRPC. Clones share everything.
#[derive(Clone, Debug)]
pub struct RosterPresenceService {
    shard: Arc<Shard>,
    bus: Arc<dyn Bus>,
    ownership: Ownership,
    /// Chosen at random at startup; see `IncarnationResponse` in the proto.
    incarnation: u64,
    /// Every shard of the cluster, this one included, for stanzas addressed to other users.
    /// Set once after construction, because in one process the clients reach this very
    /// service.
    peers: Arc<OnceLock<ShardClients>>,
}

impl RosterPresenceService {
    /// Serves `shard`, which owns the users `ownership` names, publishing deliveries on
    /// `bus`.
    pub fn new(shard: Arc<Shard>, bus: Arc<dyn Bus>, ownership: Ownership) -> Self {
        let mut bytes = [0u8; 8];
        // Only needs to differ between runs; a failing OS generator is worth no more than
        // the clock.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = convert::unix_micros_now().to_le_bytes();
        }
        Self {
            shard,
            bus,
            ownership,
            incarnation: u64::from_le_bytes(bytes),
            peers: Arc::default(),
        }
    }

    /// The shard behind the service.
    pub fn shard(&self) -> &Arc<Shard> {
        &self.shard
    }

    /// Sets the clients of every shard; later calls are ignored.
    pub fn set_peers(&self, peers: ShardClients) {
        let _ = self.peers.set(peers);
    }
}

fn session_of(address: Option<SessionAddress>) -> Result<(Jid, SessionKey), Status> {
    let address = address.ok_or_else(|| Status::invalid_argument("session missing"))?;
    let jid = Jid::new(&address.jid)
        .ok()
        .filter(Jid::is_full)
        .ok_or_else(|| Status::invalid_argument("session jid is not a full JID"))?;
    Ok((
        jid,
        SessionKey {
            node: address.node.into(),
            id: address.id,
        },
    ))
}

#[tonic::async_trait]
impl RosterPresence for RosterPresenceService {
    async fn session_bound(
        &self,
        request: Request<SessionBoundRequest>,
    ) -> Result<Response<SessionBoundResponse>, Status> {
        let started = Instant::now();
        let span = self.span("SessionBound", &request);
        let result = self
            .session_bound_traced(request.into_inner())
            .instrument(span)
            .await;
        self.observe("SessionBound", started, result)
    }

    async fn session_closed(
        &self,
        request: Request<SessionClosedRequest>,
    ) -> Result<Response<SessionClosedResponse>, Status> {
        let started = Instant::now();
        let span = self.span("SessionClosed", &request);
        let result = self
            .session_closed_traced(request.into_inner())
            .instrument(span)
            .await;
        self.observe("SessionClosed", started, result)
    }

    async fn stanza_in(
        &self,
        request: Request<StanzaInRequest>,
    ) -> Result<Response<StanzaInResponse>, Status> {
        let started = Instant::now();
        let span = self.span("StanzaIn", &request);
        let (_, mut extensions, request) = request.into_parts();
        let result = self
            .stanza_in_traced(request, &mut extensions)
            .instrument(span)
            .await;
        self.observe("StanzaIn", started, result)
    }

    async fn incarnation(
        &self,
        _request: Request<IncarnationRequest>,
    ) -> Result<Response<IncarnationResponse>, Status> {
        Ok(Response::new(IncarnationResponse {
            incarnation: self.incarnation,
        }))
    }
}

impl RosterPresenceService {
    /// The span of one call, a child of the caller's span when the request carries its
    /// trace context; a disabled span when spans are not exported.
    fn span<T>(&self, method: &'static str, request: &Request<T>) -> Span {
        telemetry::exported_span(|| {
            let span = tracing::info_span!("shard.call", method, shard = self.ownership.index);
            propagation::set_parent_from_metadata(&span, request.metadata());
            span
        })
    }

    /// Records the call's duration and the shard's session count.
    fn observe<T>(
        &self,
        method: &'static str,
        started: Instant,
        result: Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let metrics = self.shard.metrics();
        metrics.grpc_server_observe(method, started.elapsed());
        metrics.set_shard_sessions(i64::try_from(self.shard.sessions().len()).unwrap_or(i64::MAX));
        result.map(Response::new)
    }

    async fn session_bound_traced(
        &self,
        request: SessionBoundRequest,
    ) -> Result<SessionBoundResponse, Status> {
        let (jid, key) = session_of(request.session)?;
        self.ownership.check(&jid)?;
        let effects = match request.restored {
            None => self.shard.session_bound(jid, key).await,
            Some(restored) => {
                let presence = if restored.presence.is_empty() {
                    None
                } else {
                    let xml = std::str::from_utf8(&restored.presence)
                        .map_err(|_| Status::invalid_argument("presence is not UTF-8"))?;
                    Some(
                        Element::from_xml(xml, ns::JABBER_CLIENT)
                            .map_err(|e| Status::invalid_argument(format!("presence: {e}")))?,
                    )
                };
                self.shard
                    .session_restored(jid, key, presence, restored.interested)
                    .await
            }
        };
        self.execute(effects).await?;
        Ok(SessionBoundResponse {})
    }

    async fn session_closed_traced(
        &self,
        request: SessionClosedRequest,
    ) -> Result<SessionClosedResponse, Status> {
        let (jid, key) = session_of(request.session)?;
        self.ownership.check(&jid)?;
        let effects = self.shard.session_closed(&jid, &key).await;
        self.execute(effects).await?;
        Ok(SessionClosedResponse {})
    }

    /// Processes the stanza of `request`, parsed by the caller when it came from this
    /// process (`extensions`, [`convert::stanza_in`]).
    async fn stanza_in_traced(
        &self,
        request: StanzaInRequest,
        extensions: &mut tonic::Extensions,
    ) -> Result<StanzaInResponse, Status> {
        let envelope = request
            .stanza
            .ok_or_else(|| Status::invalid_argument("stanza missing"))?;
        let stanza = convert::stanza_in(extensions, &envelope)
            .map_err(|e| Status::invalid_argument(format!("stanza: {e}")))?;
        let direction = Direction::try_from(request.direction)
            .ok()
            .filter(|d| *d != Direction::Unspecified)
            .ok_or_else(|| Status::invalid_argument("direction missing"))?;
        // The user the call is about: the sender of outbound stanzas, the addressee of inbound
        // ones (the sender's own account when there is no 'to', RFC 6120 §10.3.3).
        let owner = match direction {
            Direction::Outbound => Some(&envelope.from),
            _ if envelope.to.is_empty() => Some(&envelope.from),
            _ => Some(&envelope.to),
        }
        .and_then(|j| Jid::new(j).ok());
        if let Some(owner) = &owner
            && owner.local().is_some()
            && self.shard.is_local(owner)
        {
            self.ownership.check(owner)?;
        }
        let effects = match direction {
            Direction::Outbound => self.shard.outbound(stanza).await,
            _ => self.shard.inbound(stanza).await,
        };
        self.execute(effects).await?;
        Ok(StanzaInResponse {})
    }
}

mod execute;
#[cfg(test)]
mod tests;
