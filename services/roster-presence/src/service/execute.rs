//! Carrying out a shard's effects: deliveries published on the bus, stanzas routed to the
//! shards of other users.
//!
//! Consecutive deliveries go to the bus in one `publish_all` (one pipelined round trip to
//! Redis instead of one per contact: a presence broadcast to 100 contacts took 0.7 ms
//! instead of 18 ms, see ARCHITECTURE.md). A route, or a stored message, ends the batch, so
//! that everything still happens in the order processing decided: a contact's shard may
//! answer a routed stanza with deliveries to this user, which must come after the ones
//! decided before it.
//!
//! Consecutive routes go out together: those for different users at once (up to
//! [`ShardConfig::max_routes_in_flight`](crate::config::ShardConfig::max_routes_in_flight)),
//! those for one user one after another. A login probes every contact (RFC 6121 §4.3.1):
//! one at a time, its initial presence paid a call to another shard, a network round trip
//! between pods, per contact there, in a row. (On loopback, where such a call costs a fraction
//! of a millisecond, the two measured the same; ARCHITECTURE.md.)

use std::collections::HashMap;

use bytes::Bytes;
use cluster_api::convert;
use cluster_api::v1::{Delivery, Direction, StanzaInRequest};
use futures::StreamExt;
use service_kit::propagation;
use tonic::{Request, Status};
use xmpp_core::{Jid, Stanza};

use super::RosterPresenceService;
use crate::effects::{Effect, Effects, Target};

impl RosterPresenceService {
    /// Carries out `effects` in order. A failed delivery or route is logged and the rest
    /// still happen: one unreachable recipient must not cost the others their stanzas. The
    /// first failure is returned as an `UNAVAILABLE` status, so that the client whose stanza
    /// it was gets a temporary error (the connection manager answers `<wait/>`).
    pub async fn execute(&self, effects: Effects) -> Result<(), Status> {
        let mut failure = None;
        let mut batch = Vec::new();
        let mut routes = Vec::new();
        for effect in effects.0 {
            if !routes.is_empty() && !matches!(effect, Effect::Route(_)) {
                self.route_all(std::mem::take(&mut routes), &mut failure)
                    .await;
            }
            match effect {
                Effect::Deliver {
                    user,
                    target,
                    stanza,
                } => batch.push(delivery(&user, target, stanza.serialize())),
                Effect::DeliverStored { to, stanza, stored } => {
                    self.publish(std::mem::take(&mut batch), &mut failure).await;
                    let user = to.bare();
                    let xml = convert::serialize(&stanza);
                    let single = delivery(&user, Target::Resources(vec![to]), xml);
                    if let Err(error) = self.bus.publish(single).await {
                        tracing::warn!(%user, %error, "publishing an offline message failed; storing it again");
                        self.shard.metrics().dependency_error("redis");
                        self.shard.restore_offline(&user, &stored).await;
                        failure.get_or_insert_with(|| Status::unavailable(format!("bus: {error}")));
                    }
                }
                Effect::Route(stanza) => {
                    self.publish(std::mem::take(&mut batch), &mut failure).await;
                    routes.push(stanza);
                }
            }
        }
        // Routes are sent before a later delivery is batched, so one of the two is empty.
        self.route_all(routes, &mut failure).await;
        self.publish(batch, &mut failure).await;
        failure.map_or(Ok(()), Err)
    }

    /// Publishes a batch of deliveries, recording a failure.
    async fn publish(&self, batch: Vec<Delivery>, failure: &mut Option<Status>) {
        let result = match batch.len() {
            0 => return,
            1 => {
                self.bus
                    .publish(batch.into_iter().next().unwrap_or_default())
                    .await
            }
            _ => self.bus.publish_all(batch).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "publishing deliveries failed");
            self.shard.metrics().dependency_error("redis");
            failure.get_or_insert_with(|| Status::unavailable(format!("bus: {error}")));
        }
    }

    /// Routes a run of consecutive stanzas, recording a failure: those for different users at
    /// once, up to `max_routes_in_flight`, and those for one user in their order.
    async fn route_all(&self, stanzas: Vec<Stanza>, failure: &mut Option<Status>) {
        if stanzas.len() <= 1 {
            for stanza in stanzas {
                if let Err(status) = self.route(stanza).await {
                    failure.get_or_insert(status);
                }
            }
            return;
        }
        let in_flight = self.shard.config().max_routes_in_flight;
        let mut results = futures::stream::iter(by_recipient(stanzas))
            .map(|group| async move {
                let mut first = Ok(());
                for stanza in group {
                    if let Err(status) = self.route(stanza).await {
                        first = first.and(Err(status));
                    }
                }
                first
            })
            .buffer_unordered(in_flight);
        while let Some(result) = results.next().await {
            if let Err(status) = result {
                failure.get_or_insert(status);
            }
        }
    }

    /// Hands `stanza` to the shard of its addressee, for processing there: this shard
    /// itself processes it at once when the addressee is its own user, which saves a gRPC
    /// call to itself per probe and probe answer (a login's initial presence probes every
    /// contact; with one shard, as in `starling dev`, all of them are its own).
    async fn route(&self, stanza: Stanza) -> Result<(), Status> {
        let Some(to) = stanza.to().and_then(|t| Jid::new(t).ok()) else {
            return Ok(());
        };
        if to.local().is_some() && self.shard.is_local(&to) && self.ownership.check(&to).is_ok() {
            let effects = self.shard.inbound(stanza).await;
            // Boxed: routing recurses through `execute`.
            return Box::pin(self.execute(effects)).await;
        }
        let Some(peers) = self.peers.get() else {
            tracing::error!("no shard clients set; dropping a routed stanza");
            return Ok(());
        };
        let mut request = Request::new(StanzaInRequest {
            stanza: Some(convert::envelope(&stanza, None)),
            direction: Direction::Inbound.into(),
        });
        propagation::inject_current_metadata(request.metadata_mut());
        convert::attach_stanza(&mut request, stanza);
        if let Err(status) = peers.for_jid(&to).stanza_in(request).await {
            tracing::warn!(%to, %status, "routing a stanza to its shard failed");
            self.shard.metrics().dependency_error("grpc");
            return Err(Status::unavailable(format!(
                "shard of {to}: {}",
                status.message()
            )));
        }
        Ok(())
    }
}

/// `stanzas` split by the user they are addressed to, each user's in their order: stanzas
/// for one entity are processed in the order they were sent (RFC 6120 §10.1), while those
/// for different users may pass each other.
fn by_recipient(stanzas: Vec<Stanza>) -> Vec<Vec<Stanza>> {
    let mut index: HashMap<Option<Jid>, usize> = HashMap::new();
    let mut groups: Vec<Vec<Stanza>> = Vec::new();
    for stanza in stanzas {
        let user = stanza
            .to()
            .and_then(|to| Jid::new(to).ok())
            .map(|to| to.bare());
        let next = groups.len();
        let slot = *index.entry(user).or_insert(next);
        if slot == next {
            groups.push(Vec::new());
        }
        groups[slot].push(stanza);
    }
    groups
}

/// The delivery of `xml` (a serialized stanza) to `target` among `user`'s sessions, carrying
/// the current span's trace context.
fn delivery(user: &Jid, target: Target, xml: Bytes) -> Delivery {
    let mut delivery = match target {
        Target::Resources(jids) => convert::delivery_to_resources(user, jids, xml),
        Target::Available => convert::delivery_to_available(user, xml),
    };
    delivery.trace_context = propagation::inject_current();
    delivery
}
