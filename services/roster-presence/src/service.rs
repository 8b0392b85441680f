//! The gRPC face of a shard: `starling.v1.RosterPresence` (proto/starling/v1/router.proto).
//! Each call is handed to the [`Shard`], and the effects it returns are carried out before
//! the call answers: deliveries are published on the bus, stanzas for other users go to
//! the shard that owns them. Answering only afterwards keeps a client's stanzas in order
//! end to end, since a connection manager sends a session's next stanza after the answer.

use std::sync::{Arc, OnceLock};

use bus::Bus;
use cluster_api::v1::roster_presence_server::RosterPresence;
use cluster_api::v1::{
    Direction, SessionAddress, SessionBoundRequest, SessionBoundResponse, SessionClosedRequest,
    SessionClosedResponse, StanzaInRequest, StanzaInResponse,
};
use cluster_api::{ShardClients, convert};
use tonic::{Request, Response, Status};
use xmpp_core::Jid;

use crate::effects::{Effect, Effects, Target};
use crate::sessions::SessionKey;
use crate::shard::Shard;

/// A shard served over gRPC. Clones share everything.
#[derive(Clone, Debug)]
pub struct RosterPresenceService {
    shard: Arc<Shard>,
    bus: Arc<dyn Bus>,
    /// Every shard of the cluster, this one included, for stanzas addressed to other users.
    /// Set once after construction, because in one process the clients reach this very
    /// service.
    peers: Arc<OnceLock<ShardClients>>,
}

impl RosterPresenceService {
    /// Serves `shard`, publishing deliveries on `bus`.
    pub fn new(shard: Arc<Shard>, bus: Arc<dyn Bus>) -> Self {
        Self {
            shard,
            bus,
            peers: Arc::default(),
        }
    }

    /// Sets the clients of every shard; later calls are ignored.
    pub fn set_peers(&self, peers: ShardClients) {
        let _ = self.peers.set(peers);
    }

    /// Carries out `effects` in order. A failed delivery or route is logged and the rest
    /// still happen: one unreachable recipient must not cost the others their stanzas.
    pub async fn execute(&self, effects: Effects) {
        for effect in effects.0 {
            match effect {
                Effect::Deliver {
                    user,
                    target,
                    stanza,
                } => {
                    let xml = convert::serialize(&stanza);
                    let delivery = match target {
                        Target::Resources(jids) => convert::delivery_to_resources(&user, jids, xml),
                        Target::Available => convert::delivery_to_available(&user, xml),
                    };
                    if let Err(error) = self.bus.publish(delivery).await {
                        tracing::warn!(%user, %error, "publishing a delivery failed");
                    }
                }
                Effect::Route(stanza) => {
                    let Some(peers) = self.peers.get() else {
                        tracing::error!("no shard clients set; dropping a routed stanza");
                        continue;
                    };
                    let Some(to) = stanza.to().and_then(|t| Jid::new(t).ok()) else {
                        continue;
                    };
                    let request = StanzaInRequest {
                        stanza: Some(convert::envelope(&stanza, None)),
                        direction: Direction::Inbound.into(),
                    };
                    if let Err(status) = peers.for_jid(&to).stanza_in(request).await {
                        tracing::warn!(%to, %status, "routing a stanza to its shard failed");
                    }
                }
            }
        }
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
        let (jid, key) = session_of(request.into_inner().session)?;
        let effects = self.shard.session_bound(jid, key).await;
        self.execute(effects).await;
        Ok(Response::new(SessionBoundResponse {}))
    }

    async fn session_closed(
        &self,
        request: Request<SessionClosedRequest>,
    ) -> Result<Response<SessionClosedResponse>, Status> {
        let (jid, key) = session_of(request.into_inner().session)?;
        let effects = self.shard.session_closed(&jid, &key).await;
        self.execute(effects).await;
        Ok(Response::new(SessionClosedResponse {}))
    }

    async fn stanza_in(
        &self,
        request: Request<StanzaInRequest>,
    ) -> Result<Response<StanzaInResponse>, Status> {
        let request = request.into_inner();
        let envelope = request
            .stanza
            .ok_or_else(|| Status::invalid_argument("stanza missing"))?;
        let stanza = convert::stanza_of(&envelope)
            .map_err(|e| Status::invalid_argument(format!("stanza: {e}")))?;
        let effects = match Direction::try_from(request.direction) {
            Ok(Direction::Outbound) => self.shard.outbound(stanza).await,
            Ok(Direction::Inbound) => self.shard.inbound(stanza).await,
            _ => return Err(Status::invalid_argument("direction missing")),
        };
        self.execute(effects).await;
        Ok(Response::new(StanzaInResponse {}))
    }
}
