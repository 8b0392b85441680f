//! Messages and IQs addressed to one of the shard's users: the delivery rules of RFC 6121
//! §8.5, with offline storage (§8.5.2.2.1) and XEP-0203 delay stamps.
//!
//! Choices where §8.5 offers two, following what the major servers do:
//! - A message to a bare JID goes to the "most available" resources: those with the highest
//!   non-negative priority, all of them on a tie (§8.5.2.1.1 option (a)); a headline goes to
//!   every non-negative resource (the only option).
//! - A normal or chat message to a user with no non-negative available resource is stored
//!   offline (option (a)); past the per-user quota it is bounced with
//!   `<service-unavailable/>` (option (b)).
//! - A message to an unknown user, and a normal, groupchat or headline message to a full JID
//!   with no such resource, is bounced with `<service-unavailable/>` rather than silently
//!   dropped (§8.1: an error is preferred when it reveals nothing; the same error answers
//!   an offline user's unknown resource, so it does not tell whether the account exists).

use std::time::{SystemTime, UNIX_EPOCH};

use storage::StoreError;
use xmpp_core::{Element, Jid, Stanza, StanzaErrorCondition, ns};

use crate::account_iq;
use crate::effects::{Effect, Effects};
use crate::sessions::Resource;
use crate::shard::{Shard, reply_error, reply_with};

/// §8.5 for a message stanza to `to`, a local bare or full JID.
pub(crate) async fn message(shard: &Shard, to: &Jid, stanza: Stanza, effects: &mut Effects) {
    // RFC 6121 §5.2.2: a missing or unknown type is "normal".
    let kind = stanza
        .stanza_type()
        .filter(|t| matches!(*t, "chat" | "groupchat" | "headline" | "error"))
        .unwrap_or("normal");
    let user = to.bare();
    if to.is_full() {
        // §8.5.3.1: a connected resource that matches gets the message, whatever its type.
        if shard.sessions.is_connected(to) {
            effects.deliver_one(to, stanza.into_element());
            return;
        }
        // §8.5.3.2.1: only a chat message is redirected to the bare JID; a normal message
        // to an unknown resource is not.
        match kind {
            "chat" => {}
            "error" => return,
            _ => {
                reply_error(effects, &stanza, StanzaErrorCondition::ServiceUnavailable);
                return;
            }
        }
    }
    match kind {
        // §8.5.2.1.1, §8.5.2.2.1: never delivered to a user's resources.
        "groupchat" => {
            reply_error(effects, &stanza, StanzaErrorCondition::ServiceUnavailable);
            return;
        }
        "error" => return,
        _ => {}
    }
    let headline = kind == "headline";
    let targets = shard
        .sessions
        .with_resources(&user, |resources| message_targets(resources, headline));
    if !targets.is_empty() {
        // §8.5.2.1.1: the 'to' stays as the sender wrote it.
        effects.deliver_to(&user, targets, stanza.into_element());
        return;
    }
    // No non-negative available resource: as if there were none (§8.5.2.1.1, last rule).
    if kind == "headline" {
        return;
    }
    if !shard.account_exists(&user).await {
        // §8.5.1.
        reply_error(effects, &stanza, StanzaErrorCondition::ServiceUnavailable);
        return;
    }
    store_offline(shard, &user, stanza, effects).await;
}

/// The resources a message to the bare JID goes to (§8.5.2.1.1): the available ones with a
/// non-negative priority; of those, for anything but a headline, only the ones with the
/// highest priority. None when no resource qualifies.
fn message_targets(resources: &[Resource], headline: bool) -> Vec<Jid> {
    let eligible = || resources.iter().filter(|r| r.available && r.priority >= 0);
    let lowest = if headline {
        0
    } else {
        eligible().map(|r| r.priority).max().unwrap_or(0)
    };
    eligible()
        .filter(|r| r.priority >= lowest)
        .map(|r| r.jid.clone())
        .collect()
}

/// Keeps a normal or chat message for `user` until the next available presence with a
/// non-negative priority (§8.5.2.2.1 option (a), XEP-0160).
async fn store_offline(shard: &Shard, user: &Jid, stanza: Stanza, effects: &mut Effects) {
    let xml = cluster_xml(stanza.element());
    let result = shard
        .stores
        .offline
        .push_offline(
            &Shard::account(user),
            &xml,
            now_unix_ms(),
            shard.config.offline_quota,
        )
        .await;
    match result {
        Ok(()) => {}
        Err(StoreError::QuotaExceeded(_)) => {
            reply_error(effects, &stanza, StanzaErrorCondition::ServiceUnavailable);
        }
        Err(error) => reply_with(effects, &stanza, &shard.store_failed(&error)),
    }
}

/// Delivers `user`'s offline messages to the resource `to`, each with an XEP-0203 delay
/// stamp of when the server received it.
pub(crate) async fn flush_offline(shard: &Shard, user: &Jid, to: &Jid, effects: &mut Effects) {
    let messages = match shard
        .stores
        .offline
        .take_offline(&Shard::account(user))
        .await
    {
        Ok(messages) => messages,
        Err(error) => {
            tracing::warn!(%user, %error, "reading offline messages failed");
            return;
        }
    };
    for message in messages {
        let Ok(mut element) = Element::from_xml(&message.stanza_xml, ns::JABBER_CLIENT) else {
            tracing::warn!(%user, "dropping an offline message that does not parse");
            continue;
        };
        element.push_child(delay(&shard.config.domain, message.stamp_unix_ms));
        effects.0.push(Effect::DeliverStored {
            to: to.clone(),
            stanza: element,
            stored: message,
        });
    }
}

/// `<delay xmlns='urn:xmpp:delay' from='…' stamp='…'/>` (XEP-0203 §4), the stamp in the
/// XEP-0082 DateTime profile, UTC, millisecond precision.
pub(crate) fn delay(from: &str, unix_ms: i64) -> Element {
    Element::new("delay", ns::DELAY)
        .with_attr("from", from)
        .with_attr("stamp", xep0082_datetime(unix_ms))
}

/// §8.5 for an IQ to `to`; `from` is the sender.
pub(crate) async fn iq(shard: &Shard, from: &Jid, to: &Jid, stanza: Stanza, effects: &mut Effects) {
    let iq_type = match stanza.iq_type() {
        Ok(t) => t,
        Err(error) => {
            reply_with(effects, &stanza, &error);
            return;
        }
    };
    if to.is_bare() {
        // §8.5.2.1.3, §8.5.2.2.3: the server answers for the user; a response is dropped.
        if iq_type.is_request() {
            account_iq::answer(shard, from, to, stanza, effects).await;
        }
        return;
    }
    // §8.5.3.
    if !shard.sessions.is_connected(to) {
        reply_error(effects, &stanza, StanzaErrorCondition::ServiceUnavailable);
        return;
    }
    if iq_type.is_request() && !shares_presence(shard, to, from).await {
        // §8.5.3.1: no presence shared with the requester, no presence leak.
        reply_error(effects, &stanza, StanzaErrorCondition::ServiceUnavailable);
        return;
    }
    effects.deliver_one(to, stanza.into_element());
}

/// Whether the resource `resource` shares presence with `with` (§8.5.3.1): the same
/// account, a subscription of type "from" or "both", or directed presence from that
/// resource to `with`.
async fn shares_presence(shard: &Shard, resource: &Jid, with: &Jid) -> bool {
    let user = resource.bare();
    let peer = with.bare();
    if user == peer {
        return true;
    }
    let directed = shard
        .sessions
        .get(resource)
        .is_some_and(|r| r.directed.iter().any(|d| d == with || *d == peer));
    if directed {
        return true;
    }
    match shard
        .stores
        .rosters
        .entry(&Shard::account(&user), peer.as_str())
        .await
    {
        Ok(entry) => entry.is_some_and(|e| e.from),
        Err(error) => {
            tracing::warn!(%user, %error, "roster lookup failed");
            false
        }
    }
}

/// A stanza serialized the way stanzas travel inside the cluster and sit in stores:
/// `jabber:client` as the implied default namespace.
pub(crate) fn cluster_xml(element: &Element) -> String {
    let mut out = String::new();
    element.write_to(&mut out, ns::JABBER_CLIENT);
    out
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// XEP-0082 §3.3 DateTime in UTC (RFC 3339 with `Z`, fractional seconds when there are
/// any).
fn xep0082_datetime(unix_ms: i64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_stamps_follow_xep_0082() {
        // XEP-0203 §4 example stamp, 2002-09-10T23:08:25Z.
        assert_eq!(xep0082_datetime(1_031_699_305_000), "2002-09-10T23:08:25Z");
        assert_eq!(xep0082_datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            xep0082_datetime(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(xep0082_datetime(-1), "1969-12-31T23:59:59.999Z");
    }

    /// RFC 6121 §8.5.2.1.1: the most available resources for a message, every non-negative
    /// one for a headline, never an unavailable or negative one.
    #[test]
    fn message_targets_follow_availability_and_priority() {
        let resource = |name: &str, available, priority| Resource {
            jid: Jid::new(&format!("juliet@example.com/{name}")).unwrap(),
            session: crate::sessions::SessionKey {
                node: "cm-0".into(),
                id: 1,
            },
            available,
            priority,
            last_presence: None,
            interested: false,
            directed: Vec::new(),
        };
        let names = |jids: Vec<Jid>| -> Vec<String> {
            jids.iter()
                .map(|j| j.resource().unwrap_or_default().to_owned())
                .collect()
        };
        let resources = [
            resource("balcony", true, 1),
            resource("chamber", true, 5),
            resource("garden", true, 5),
            resource("hidden", true, -1),
            resource("tomb", false, 9),
        ];
        assert_eq!(
            names(message_targets(&resources, false)),
            ["chamber", "garden"]
        );
        assert_eq!(
            names(message_targets(&resources, true)),
            ["balcony", "chamber", "garden"]
        );
        // Only negative or unavailable resources: none, and the message is stored offline.
        assert!(message_targets(&resources[3..], false).is_empty());
        assert!(message_targets(&resources[3..], true).is_empty());
        assert!(message_targets(&[], false).is_empty());
        // Priority 0 is non-negative.
        assert_eq!(
            names(message_targets(&[resource("balcony", true, 0)], false)),
            ["balcony"]
        );
    }
}
