//! RFC 6120 §7: resource binding, with the conflict policy of §7.7.2.2 chosen in
//! configuration.

use std::sync::Arc;

use xmpp_core::{
    Element, ErrorType, IqType, Jid, Stanza, StanzaError, StanzaErrorCondition, StreamError,
    StreamErrorCondition, ns,
};

use super::stream::{End, Stream, random_id};
use crate::config::ResourceConflict;
use crate::outbox::Outbox;
use crate::registry::{SessionControl, SessionHandle};
use crate::server::C2sServer;

/// A bound session: its registered handle (whose control holds the queue its writer
/// drains).
#[derive(Debug)]
pub(crate) struct BindOutcome {
    pub(crate) handle: SessionHandle,
}

/// Handles a bind request. `Ok(None)` when the attempt failed with a stanza error that was
/// sent (the client may retry, §7.7.3).
pub(crate) async fn bind_resource(
    server: &C2sServer,
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
        release(server, handle).await;
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
    server: &C2sServer,
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
    if let Err(error) = server.cluster.session_bound(&handle).await {
        tracing::warn!(jid = %handle.jid(), %error, "registering a session failed");
        server.sessions.unbind(handle.jid(), handle.id());
        return Err(Refused::Unavailable);
    }
    Ok(BindOutcome { handle })
}

/// Undoes [`register`] when the client could not be told of its binding.
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
