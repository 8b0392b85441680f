//! IQs to the server's own domain, which the connection manager answers itself (RFC 6120
//! §10.3.3 for stanzas addressed to the server). IQs to accounts are answered by the
//! account's roster-presence shard.

use xmpp_core::{Element, IqType, Stanza, StanzaError, StanzaErrorCondition, ns};

/// Features the server advertises in disco#info (XEP-0030 §3.1): only what it implements.
pub const SERVER_FEATURES: &[&str] = &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::PING];

/// The reply to an IQ addressed to the server; `None` for IQ responses, which are not
/// answered.
pub(crate) fn handle_iq(stanza: &Stanza) -> Option<Element> {
    let iq_type = match stanza.iq_type() {
        Ok(t) => t,
        Err(error) => return stanza.error_reply(&error),
    };
    if !iq_type.is_request() {
        return None;
    }
    let payload = stanza.iq_payload()?;
    let error = |c| stanza.error_reply(&StanzaError::new(c));
    match (iq_type, payload.name(), payload.ns()) {
        // XEP-0199 §4.2: client-to-server ping.
        (IqType::Get, "ping", ns::PING) => Some(stanza.iq_result()),
        (IqType::Get, "query", ns::DISCO_INFO) => {
            if payload.attr("node").is_some() {
                return error(StanzaErrorCondition::ItemNotFound);
            }
            let mut query = Element::new("query", ns::DISCO_INFO).with_child(
                Element::new("identity", ns::DISCO_INFO)
                    .with_attr("category", "server")
                    .with_attr("type", "im")
                    .with_attr("name", "Starling"),
            );
            let mut sorted = SERVER_FEATURES.to_vec();
            sorted.sort_unstable();
            for f in sorted {
                query.push_child(Element::new("feature", ns::DISCO_INFO).with_attr("var", f));
            }
            let mut reply = stanza.iq_result();
            reply.push_child(query);
            Some(reply)
        }
        (IqType::Get, "query", ns::DISCO_ITEMS) => {
            if payload.attr("node").is_some() {
                return error(StanzaErrorCondition::ItemNotFound);
            }
            let mut reply = stanza.iq_result();
            reply.push_child(Element::new("query", ns::DISCO_ITEMS));
            Some(reply)
        }
        // RFC 3921 §3 session establishment: a no-op kept for old clients (RFC 6121 App. E).
        (IqType::Set, "session", ns::SESSION) => Some(stanza.iq_result()),
        // RFC 6120 §8.4: a namespace the server does not handle.
        _ => error(StanzaErrorCondition::ServiceUnavailable),
    }
}
