//! IQ requests to a user's bare JID, which the server answers on the user's behalf
//! (RFC 6121 §8.5.2.1.3, §8.5.2.2.3; RFC 6120 §10.3.3 for an IQ with no 'to', which is to
//! the sender's own account).
//!
//! Answered: the roster (§2, only for the account itself), XEP-0199 ping, XEP-0030
//! disco#info and disco#items of the account, and the no-op RFC 3921 session request
//! (RFC 6121 Appendix E). Anything else gets `<service-unavailable/>`, as §8.5.2.1.3
//! requires when the namespace defines no reply the server can give.

use xmpp_core::{Element, IqType, Jid, Stanza, StanzaErrorCondition, ns};

use crate::effects::Effects;
use crate::roster;
use crate::shard::{Shard, reply_error};

/// Features of an account (XEP-0030 §3.1 on a bare JID), sorted.
pub const ACCOUNT_FEATURES: &[&str] = &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::PING];

/// Answers the IQ request `stanza` from `from` to the bare JID `owner`.
pub(crate) async fn answer(
    shard: &Shard,
    from: &Jid,
    owner: &Jid,
    stanza: Stanza,
    effects: &mut Effects,
) {
    let own = from.bare() == *owner;
    if !own && !shard.account_exists(owner).await {
        // §8.5.1.
        reply_error(effects, &stanza, StanzaErrorCondition::ServiceUnavailable);
        return;
    }
    let Ok(iq_type) = stanza.iq_type() else {
        return;
    };
    let Some(payload) = stanza.iq_payload() else {
        reply_error(effects, &stanza, StanzaErrorCondition::BadRequest);
        return;
    };
    if payload.ns() == ns::ROSTER {
        if own {
            roster::handle(shard, from, stanza, effects).await;
        } else {
            // RFC 6121 §2.1.5, §2.3.3: only the account itself may use its roster.
            reply_error(effects, &stanza, StanzaErrorCondition::Forbidden);
        }
        return;
    }
    let reply = match (iq_type, payload.name(), payload.ns()) {
        // XEP-0199 §4.3: the server answers a ping to the account.
        (IqType::Get, "ping", ns::PING) => Ok(stanza.iq_result()),
        (IqType::Get, "query", ns::DISCO_INFO) if payload.attr("node").is_none() => {
            Ok(with_payload(&stanza, disco_info(owner)))
        }
        (IqType::Get, "query", ns::DISCO_ITEMS) if payload.attr("node").is_none() => Ok(
            with_payload(&stanza, Element::new("query", ns::DISCO_ITEMS)),
        ),
        // XEP-0030 §3.3: a node the entity does not have.
        (IqType::Get, "query", ns::DISCO_INFO | ns::DISCO_ITEMS) => {
            Err(StanzaErrorCondition::ItemNotFound)
        }
        (IqType::Set, "session", ns::SESSION) if own => Ok(stanza.iq_result()),
        _ => Err(StanzaErrorCondition::ServiceUnavailable),
    };
    match reply {
        Ok(reply) => effects.deliver_to_jid(from, reply),
        Err(condition) => reply_error(effects, &stanza, condition),
    }
}

/// The account's disco#info: identity account/registered (XEP-0030 §3.1, registry
/// category "account") and its features.
fn disco_info(owner: &Jid) -> Element {
    let mut query = Element::new("query", ns::DISCO_INFO).with_child(
        Element::new("identity", ns::DISCO_INFO)
            .with_attr("category", "account")
            .with_attr("type", "registered")
            .with_attr("name", owner.as_str()),
    );
    let mut features = ACCOUNT_FEATURES.to_vec();
    features.sort_unstable();
    for feature in features {
        query.push_child(Element::new("feature", ns::DISCO_INFO).with_attr("var", feature));
    }
    query
}

fn with_payload(stanza: &Stanza, payload: Element) -> Element {
    let mut reply = stanza.iq_result();
    reply.push_child(payload);
    reply
}
