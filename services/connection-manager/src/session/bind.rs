//! RFC 6120 §7: resource binding, with the conflict policy of §7.7.2.2 chosen in
//! configuration.

use std::sync::Arc;

use futures::FutureExt as _;
use tokio::sync::oneshot;
use xmpp_core::{
    Element, ErrorType, IqType, Jid, Stanza, StanzaError, StanzaErrorCondition, StreamError,
    StreamErrorCondition, ns,
};

use super::stream::{End, Stream, random_id};
use crate::cluster::ClusterError;
use crate::config::ResourceConflict;
use crate::outbox::Outbox;
use crate::registry::{SessionControl, SessionHandle};
use crate::server::C2sServer;

/// A bound session, registered here and with the cluster: its handle (whose control holds
/// the queue its writer drains).
///
/// Negotiation runs under the handshake deadline and stops at shutdown, and what it holds is
/// dropped then, wherever it was. So until the session takes the binding over
/// ([`BindOutcome::into_handle`]) or releases it ([`BindOutcome::release`]), dropping the
/// outcome releases the binding in a task of its own: otherwise the handle would stay in the
/// registry, the shard would keep the session (seen online until this node's liveness
/// ends), and the user's channel would stay subscribed.
#[derive(Debug)]
pub(crate) struct BindOutcome {
    pub(crate) handle: SessionHandle,
    /// Set while the binding is this outcome's to release.
    server: Option<Arc<C2sServer>>,
}

impl BindOutcome {
    fn new(server: &Arc<C2sServer>, handle: SessionHandle) -> Self {
        Self {
            handle,
            server: Some(Arc::clone(server)),
        }
    }

    /// The handle, for the session, whose own end releases the binding from now on.
    pub(crate) fn into_handle(mut self) -> SessionHandle {
        self.server = None;
        self.handle.clone()
    }

    /// Undoes the binding now (the client could not be told of it, or the stream ended
    /// before the session began).
    pub(crate) async fn release(mut self) {
        if let Some(server) = self.server.take() {
            release(&server, &self.handle).await;
        }
    }
}

impl Drop for BindOutcome {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let handle = self.handle.clone();
            tokio::spawn(async move { release(&server, &handle).await });
        }
    }
}

/// Handles a bind request. `Ok(None)` when the attempt failed with a stanza error that was
/// sent (the client may retry, §7.7.3).
pub(crate) async fn bind_resource(
    server: &Arc<C2sServer>,
    stream: &mut Stream,
    account: &Jid,
    element: Element,
) -> Result<Option<BindOutcome>, End> {
    let stanza = Stanza::from_element(element).map_err(|_| End::Gone)?;
    let bind = stanza
        .iq_payload()
        .filter(|p| p.is("bind", ns::BIND))
        .cloned();
    let (Ok(IqType::Set), Some(bind)) = (stanza.iq_type(), bind) else {
        // §7.1: only a bind request is acceptable now.
        return Err(End::error(
            StreamErrorCondition::NotAuthorized,
            "bind a resource first",
        ));
    };
    let requested = bind
        .get_child("resource", ns::BIND)
        .map(|r| r.text().trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &requested
        && account.with_resource(r).is_err()
    {
        // §7.7.2.1: a resourcepart that violates the OpaqueString profile.
        return refuse(stream, &stanza, StanzaErrorCondition::BadRequest).await;
    }
    let resource = requested.unwrap_or_else(|| generated_resource(None));
    let outcome = match register(server, account, &resource).await {
        Ok(outcome) => outcome,
        Err(Refused::Conflict) => {
            return refuse(stream, &stanza, StanzaErrorCondition::Conflict).await;
        }
        Err(Refused::Unavailable) => {
            return refuse_with(
                stream,
                &stanza,
                StanzaError::typed(ErrorType::Wait, StanzaErrorCondition::InternalServerError),
            )
            .await;
        }
    };
    let handle = &outcome.handle;
    let mut result = stanza.iq_result();
    result.push_child(
        Element::new("bind", ns::BIND)
            .with_child(Element::new("jid", ns::BIND).with_text(handle.jid().to_string())),
    );
    if let Err(end) = stream.send(&result).await {
        outcome.release().await;
        return Err(end);
    }
    tracing::info!(jid = %handle.jid(), "resource bound");
    Ok(Some(outcome))
}

/// Why [`register`] bound nothing.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The resource is bound and the policy is to refuse (§7.7.2.2).
    Conflict,
    /// The user's shard could not be told (§7.7.2.1's internal-server-error, type wait).
    Unavailable,
}

/// Binds `resource` (a valid resourcepart) of `account` here and registers the session with
/// the user's shard, applying the configured conflict policy (§7.7.2.2).
pub(crate) async fn register(
    server: &Arc<C2sServer>,
    account: &Jid,
    resource: &str,
) -> Result<BindOutcome, Refused> {
    let jid = account
        .with_resource(resource)
        .map_err(|_| Refused::Conflict)?;
    let outbox = Arc::new(Outbox::new(server.config.limits.outbound_queue));
    let control = Arc::new(SessionControl::new(outbox.clone()));
    let handle = SessionHandle::new(jid.clone(), control.clone());
    let handle = match server.sessions.try_bind(handle.clone()) {
        Ok(()) => handle,
        Err(existing) => match server.config.resource_conflict {
            ResourceConflict::Override => {
                let resource = format!("{resource}.{}", &random_id()[..8]);
                let jid = account
                    .with_resource(&resource)
                    .map_err(|_| Refused::Conflict)?;
                let handle = SessionHandle::new(jid, control);
                server.sessions.replace(handle.clone());
                handle
            }
            ResourceConflict::Refuse => return Err(Refused::Conflict),
            ResourceConflict::KickOld => {
                existing.control().terminate(StreamError::with_text(
                    StreamErrorCondition::Conflict,
                    "another session bound this resource",
                ));
                let handle = SessionHandle::new(jid, control);
                server.sessions.replace(handle.clone());
                handle
            }
        },
    };
    // Registered with the user's shard before the client hears of the binding, so that the
    // client's first stanza finds the session known to the cluster.
    registered(server, handle).await.map_err(|error| {
        tracing::warn!(%account, %error, "registering a session failed");
        Refused::Unavailable
    })
}

/// Registers `handle`, bound in the registry, with the cluster ([`Cluster::session_bound`]:
/// the user's channel, then the shard) so that a caller dropped meanwhile (the handshake
/// deadline, shutdown) leaves nothing half made. The registration is polled here first;
/// what does not finish at once (a shard in another process, a call waiting at the shard's
/// gate) finishes in a task of its own, and its outcome comes back as a [`BindOutcome`],
/// which releases the binding if no one takes it. A failure unbinds the handle where it
/// happens. (In `starling dev`, whose shards answer at once, registrations finish here,
/// without a task.)
///
/// [`Cluster::session_bound`]: crate::cluster::Cluster::session_bound
async fn registered(
    server: &Arc<C2sServer>,
    handle: SessionHandle,
) -> Result<BindOutcome, ClusterError> {
    let server = Arc::clone(server);
    let mut registration = Box::pin(async move {
        match server.cluster.session_bound(&handle).await {
            Ok(()) => Ok(BindOutcome::new(&server, handle)),
            Err(error) => {
                server.sessions.unbind(handle.jid(), handle.id());
                Err(error)
            }
        }
    });
    if let Some(result) = (&mut registration).now_or_never() {
        return result;
    }
    let (done, outcome) = oneshot::channel();
    tokio::spawn(async move {
        // Unclaimed, an outcome is dropped here, which releases it.
        let _ = done.send(registration.await);
    });
    outcome
        .await
        .unwrap_or_else(|_| Err(tonic::Status::internal("the registration task failed").into()))
}

/// Undoes [`register`]: at a session's end, and when the client could not be told of its
/// binding or negotiation was dropped before the session began.
pub(crate) async fn release(server: &C2sServer, handle: &SessionHandle) {
    server.sessions.unbind(handle.jid(), handle.id());
    server.cluster.session_closed(handle).await;
}

/// A server-generated resource (§7.6.1), after `prefix` and a '/' if given (XEP-0386 §3.2.1's
/// `[client tag]/[server generated identifier]`).
pub(crate) fn generated_resource(prefix: Option<&str>) -> String {
    match prefix {
        Some(p) => format!("{p}/{}", random_id()),
        None => random_id(),
    }
}

async fn refuse(
    stream: &mut Stream,
    request: &Stanza,
    condition: StanzaErrorCondition,
) -> Result<Option<BindOutcome>, End> {
    refuse_with(stream, request, StanzaError::new(condition)).await
}

async fn refuse_with(
    stream: &mut Stream,
    request: &Stanza,
    error: StanzaError,
) -> Result<Option<BindOutcome>, End> {
    if let Some(reply) = request.error_reply(&error) {
        stream.send(&reply).await?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
