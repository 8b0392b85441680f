//! IQs the server answers itself: those addressed to its domain, and those a client addresses
//! to its own account (no 'to', or its bare JID; RFC 6120 §10.3.3).

use xmpp_core::{Element, IqType, Jid, Stanza, StanzaError, StanzaErrorCondition, ns};

use crate::registry::SessionHandle;

/// Features the server advertises in disco#info (XEP-0030 §3.1): only what it implements.
pub const SERVER_FEATURES: &[&str] = &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::PING];

/// Features of an account (XEP-0030 §3.1 on a bare JID, answered by the server).
pub const ACCOUNT_FEATURES: &[&str] = &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::PING];

/// The reply to an IQ addressed to the server or the sender's account; `None` for IQ
/// responses, which are not answered.
pub(crate) fn handle_iq(
    session: &SessionHandle,
    stanza: &Stanza,
    to: Option<&Jid>,
) -> Option<Element> {
    let iq_type = match stanza.iq_type() {
        Ok(t) => t,
        Err(error) => return stanza.error_reply(&error),
    };
    if !iq_type.is_request() {
        return None;
    }
    let to_account = to.is_none() || to.is_some_and(|j| j.local().is_some());
    let payload = stanza.iq_payload()?;
    let error = |c| stanza.error_reply(&StanzaError::new(c));
    match (iq_type, payload.name(), payload.ns()) {
        // XEP-0199 §4.2 (client to server) and §4.3 on the account.
        (IqType::Get, "ping", ns::PING) => Some(stanza.iq_result()),
        (IqType::Get, "query", ns::DISCO_INFO) => {
            if payload.attr("node").is_some() {
                return error(StanzaErrorCondition::ItemNotFound);
            }
            let (category, kind, features) = if to_account {
                ("account", "registered", ACCOUNT_FEATURES)
            } else {
                ("server", "im", SERVER_FEATURES)
            };
            let mut query = Element::new("query", ns::DISCO_INFO).with_child(
                Element::new("identity", ns::DISCO_INFO)
                    .with_attr("category", category)
                    .with_attr("type", kind)
                    .with_attr(
                        "name",
                        if to_account {
                            session.jid().bare().to_string()
                        } else {
                            "Starling".to_owned()
                        },
                    ),
            );
            let mut sorted = features.to_vec();
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
