//! What happens to a stanza a bound client sends: the checks of RFC 6120 §8.1 (addresses),
//! then delivery to the server itself, to a session on this connection manager, or an error.
//!
//! Routing decisions for users (rosters, presence, priorities: RFC 6121 §8) are not made
//! here: each stanza goes to the roster-presence shard that owns it, the addressee's for
//! messages and IQs, the sender's for presence. Only IQs to the server's own domain are
//! answered here.

use cluster_api::convert;
use cluster_api::v1::Direction;
use xmpp_core::{
    Element, ErrorType, Jid, Stanza, StanzaError, StanzaErrorCondition, StanzaKind, StreamError,
    StreamErrorCondition, ns,
};

use crate::handlers;
use crate::registry::SessionHandle;
use crate::server::C2sServer;

/// Routes one element from `session`'s client. An `Err` is a stream-level violation that ends
/// the stream; stanza-level problems are answered with stanza errors.
pub(crate) async fn from_client(
    server: &C2sServer,
    session: &SessionHandle,
    element: Element,
) -> Result<(), StreamError> {
    if element.ns() != ns::JABBER_CLIENT {
        return Err(StreamError::with_text(
            StreamErrorCondition::UnsupportedStanzaType,
            format!("unsupported element {{{}}}{}", element.ns(), element.name()),
        ));
    }
    let Ok(mut stanza) = Stanza::from_element(element) else {
        // §4.9.3.24: a first-level child that is not a stanza this server knows.
        return Err(StreamError::new(
            StreamErrorCondition::UnsupportedStanzaType,
        ));
    };
    server.cluster.metrics().stanza_in(match stanza.kind() {
        StanzaKind::Message => "message",
        StanzaKind::Presence => "presence",
        StanzaKind::Iq => "iq",
    });
    // §8.1.2.1: the server stamps the full JID; a different claimed 'from' is an error.
    if let Some(from) = stanza.from() {
        let claimed = Jid::new(from).ok();
        let own = session.jid();
        if claimed.as_ref() != Some(own) && claimed != Some(own.bare()) {
            return Err(StreamError::with_text(
                StreamErrorCondition::InvalidFrom,
                "'from' does not match the session",
            ));
        }
    }
    stanza.set_from(session.jid().to_string());
    let to = match stanza.to().map(Jid::new) {
        None => None,
        Some(Ok(jid)) => Some(jid),
        Some(Err(_)) => {
            // §8.3.3.8: the 'to' address does not follow RFC 7622.
            reply_error(session, &stanza, error(StanzaErrorCondition::JidMalformed));
            return Ok(());
        }
    };
    let domain = server.config.domain.as_str();
    if let Some(to) = &to
        && to.domain() != domain
    {
        // RFC 6120 §10.4: no server-to-server connections, so no remote domain is reachable.
        // Presence is dropped (§8.5 has no errors for it), except subscription stanzas,
        // which still change the sender's roster and so go to the sender's shard.
        let subscription = stanza.kind() == StanzaKind::Presence
            && matches!(
                stanza.stanza_type(),
                Some("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")
            );
        if !subscription {
            if stanza.kind() != StanzaKind::Presence {
                reply_error(
                    session,
                    &stanza,
                    error(StanzaErrorCondition::RemoteServerNotFound),
                );
            }
            return Ok(());
        }
    }
    let own = session.jid().bare();
    let (owner, direction) = match stanza.kind() {
        // Presence is processed on the sender's shard (broadcast, directed lists,
        // subscriptions, probes).
        StanzaKind::Presence => (own, Direction::Outbound),
        StanzaKind::Iq if to.as_ref().is_some_and(|t| t.local().is_none()) => {
            // An IQ to the server itself (RFC 6120 §10.3.3 for no 'to' is below: that is
            // to the account).
            match to.as_ref().filter(|t| t.is_bare()) {
                Some(_) => {
                    if let Some(reply) = handlers::handle_iq(&stanza) {
                        let _ = session.deliver(reply);
                    }
                }
                None => reply_error(
                    session,
                    &stanza,
                    error(StanzaErrorCondition::ServiceUnavailable),
                ),
            }
            return Ok(());
        }
        StanzaKind::Message if to.as_ref().is_some_and(|t| t.local().is_none()) => {
            // Messages to the server domain: no service here handles them (RFC 6120 §10.3.1
            // for no 'to' is below).
            reply_error(
                session,
                &stanza,
                error(StanzaErrorCondition::ServiceUnavailable),
            );
            return Ok(());
        }
        // RFC 6120 §10.3.1, §10.3.3: messages and IQs go to the addressee's shard; no 'to'
        // is the sender's own account.
        StanzaKind::Message | StanzaKind::Iq => {
            if is_roster_get(&stanza, to.as_ref(), &own) {
                session.set_interested();
            }
            (to.as_ref().map_or(own, Jid::bare), Direction::Inbound)
        }
    };
    let envelope = server.cluster.envelope(&stanza, session);
    if stanza.kind() == StanzaKind::Presence && to.is_none() {
        // RFC 6121 §4.1: broadcast presence decides whether this session is available.
        match stanza.stanza_type() {
            None => session.set_presence(Some(envelope.xml.clone())),
            Some("unavailable") => session.set_presence(None),
            _ => {}
        }
    }
    // The stanza goes with the call; a failure is answered from the envelope's copy.
    let xml = envelope.xml.clone();
    let result = server
        .cluster
        .envelope_in(&owner, envelope, stanza, direction)
        .await;
    if let Err(failure) = result {
        tracing::warn!(jid = %session.jid(), error = %failure, "routing a stanza failed");
        // A temporary failure: the client may retry (RFC 6120 §8.3.3.6).
        if let Ok(stanza) = convert::stanza_of_xml(&xml) {
            reply_error(
                session,
                &stanza,
                StanzaError::typed(ErrorType::Wait, StanzaErrorCondition::InternalServerError),
            );
        }
    }
    Ok(())
}

/// A roster get (RFC 6121 §2.1.3), which makes the session an interested resource: with no
/// 'to' or to the user's own bare JID (§2.1.3: "the 'to' address MUST be the bare JID of the
/// user or the attribute MUST be omitted").
fn is_roster_get(stanza: &Stanza, to: Option<&Jid>, own: &Jid) -> bool {
    stanza.kind() == StanzaKind::Iq
        && stanza.stanza_type() == Some("get")
        && to.is_none_or(|t| t == own)
        && stanza.element().get_child("query", ns::ROSTER).is_some()
}

fn error(condition: StanzaErrorCondition) -> StanzaError {
    StanzaError::new(condition)
}

/// Answers `stanza` with a stanza error, unless it is an error itself or an IQ response
/// (§8.3.1, §8.2.3: those are never answered).
fn reply_error(session: &SessionHandle, stanza: &Stanza, error: StanzaError) {
    if stanza.kind() == StanzaKind::Iq && matches!(stanza.stanza_type(), Some("result" | "error")) {
        return;
    }
    if let Some(reply) = stanza.error_reply(&error) {
        let _ = session.deliver(reply);
    }
}
