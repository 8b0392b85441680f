//! What happens to a stanza a bound client sends: the checks of RFC 6120 §8.1 (addresses),
//! then delivery to the server itself, to a session on this connection manager, or an error.
//!
//! Scope: this router knows the sessions of this process only. Routing by rosters, presence
//! and priorities (RFC 6121 §8) and across connection managers belongs to the
//! roster-presence service.

use xmpp_core::{
    Element, Jid, Stanza, StanzaError, StanzaErrorCondition, StanzaKind, StreamError,
    StreamErrorCondition, ns,
};

use crate::handlers;
use crate::registry::SessionHandle;
use crate::server::C2sServer;

/// Routes one element from `session`'s client. An `Err` is a stream-level violation that ends
/// the stream; stanza-level problems are answered with stanza errors.
pub(crate) fn from_client(
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
            reply_error(session, &stanza, StanzaErrorCondition::JidMalformed);
            return Ok(());
        }
    };
    let own_bare = session.jid().bare();
    let to_server = match &to {
        None => true,
        Some(jid) => jid.is_bare() && (jid.as_str() == server.config.domain || *jid == own_bare),
    };
    if stanza.kind() == StanzaKind::Iq && to_server {
        if let Some(reply) = handlers::handle_iq(session, &stanza, to.as_ref()) {
            let _ = session.deliver(reply);
        }
        return Ok(());
    }
    let target = to
        .filter(|jid| !jid.is_bare())
        .and_then(|jid| server.sessions.get(&jid));
    match (target, stanza.kind()) {
        (Some(target), _) => {
            if let Err(undelivered) = target.deliver(stanza.into_element())
                && let Ok(stanza) = Stanza::from_element(undelivered)
            {
                reply_error(session, &stanza, StanzaErrorCondition::ServiceUnavailable);
            }
        }
        // Presence to an unavailable entity is dropped silently (RFC 6121 §4.6, §8.5).
        (None, StanzaKind::Presence) => {}
        (None, StanzaKind::Message | StanzaKind::Iq) => {
            reply_error(session, &stanza, StanzaErrorCondition::ServiceUnavailable);
        }
    }
    Ok(())
}

/// Answers `stanza` with a stanza error, unless it is an error itself or an IQ response
/// (§8.3.1, §8.2.3: those are never answered).
fn reply_error(session: &SessionHandle, stanza: &Stanza, condition: StanzaErrorCondition) {
    if stanza.kind() == StanzaKind::Iq && matches!(stanza.stanza_type(), Some("result" | "error")) {
        return;
    }
    if let Some(reply) = stanza.error_reply(&StanzaError::new(condition)) {
        let _ = session.deliver(reply);
    }
}
