//! Presence (RFC 6121 §4): initial and subsequent broadcast, unavailable presence (sent,
//! or generated when a session ends), directed presence with its list of recipients, and
//! probes.
//!
//! Choices the RFC leaves open, as the major servers make them:
//! - Probes on login are sent from the full JID of the resource that became available (the
//!   §4.3 interoperability note allows it), so the replies reach that resource only and the
//!   user's other resources are not sent their contacts' presence again.
//! - A probe for a contact with no available resource gets no reply (§4.3.2 rule 3 is a
//!   SHOULD that "can greatly increase the number of presence notifications").
//! - A new available resource is also sent the last presence of the user's other
//!   available resources (an entity is implicitly subscribed to its own presence, §4.2.2).

use std::sync::Arc;

use xmpp_core::{Element, Jid, Stanza, StanzaErrorCondition, ns};

use crate::effects::{Broadcast, Effects, addressed, presence};
use crate::roster_cache::{Contact, Roster};
use crate::sessions::{Resource, SessionKey};
use crate::shard::{Shard, reply_error};
use crate::{delivery, subscription};

/// Presence with no 'to' from the resource `from`: available (initial or subsequent,
/// §4.2.2, §4.4.2) or unavailable (§4.5.2). The caller holds the user's lock.
pub(crate) async fn broadcast(shard: &Shard, from: &Jid, stanza: Stanza, effects: &mut Effects) {
    let Some(resource) = shard.sessions.get(from) else {
        return;
    };
    if stanza.stanza_type() == Some("unavailable") {
        let mut element = stanza.into_element();
        element.remove_attr("to");
        went_unavailable(shard, &resource, element, effects).await;
        shard.sessions.update(from, |r| {
            r.available = false;
            r.priority = 0;
            r.last_presence = None;
            r.directed.clear();
        });
        return;
    }
    let priority = match priority_of(stanza.element()) {
        Ok(p) => p,
        Err(()) => {
            // §4.7.2.3: an integer between -128 and +127.
            reply_error(effects, &stanza, StanzaErrorCondition::BadRequest);
            return;
        }
    };
    let initial = !resource.available;
    // RFC 6121 §8.5.2.2.1 and XEP-0160: offline messages go out with the first presence of
    // non-negative priority, initial or a later one that raises a negative priority.
    let flush = priority >= 0 && (initial || resource.priority < 0);
    let element = stanza.into_element();
    shard.sessions.update(from, |r| {
        r.available = true;
        r.priority = priority;
        r.last_presence = Some(Arc::new(element.clone()));
    });
    let user = from.bare();
    let roster = roster_of(shard, &user).await;
    let broadcast = Broadcast::new(element);
    // §4.2.2, §4.4.2: to every contact subscribed to the user's presence.
    for contact in local_contacts(shard, &roster, |e| e.from) {
        effects.deliver_available(contact, broadcast.to(contact));
    }
    // ... and to all of the user's available resources, this one included.
    let own = shard.sessions.available(&user);
    effects.deliver_to(&user, own, broadcast.to(&user));
    if flush {
        delivery::flush_offline(shard, &user, from, effects).await;
    }
    if !initial {
        return;
    }
    // §4.2.2, §4.3.1: probe every contact the user is subscribed to.
    for contact in local_contacts(shard, &roster, |e| e.to) {
        effects.route_element(presence(from, Some(contact), Some("probe")));
    }
    for other in shard.sessions.of(&user) {
        if other.jid != *from
            && other.available
            && let Some(presence) = other.last_presence
        {
            effects.deliver_one(from, addressed(&presence, &user));
        }
    }
    // §3.1.3 rule 4: requests still waiting for an answer, at every login.
    match shard
        .stores
        .pending
        .pending_in(&Shard::account(&user))
        .await
    {
        Ok(requests) => {
            for (_, xml) in requests {
                if let Ok(request) = Element::from_xml(&xml, ns::JABBER_CLIENT) {
                    effects.deliver_one(from, request);
                }
            }
        }
        Err(error) => tracing::warn!(%user, %error, "reading pending requests failed"),
    }
}

/// A connection manager registers again a session this shard lost by restarting, with the
/// state it last had: connected, available with `presence` (as broadcast, no 'to') or not,
/// and interested in roster pushes. Contacts already have that presence, so nothing is
/// broadcast and no probe is sent. Offline messages are flushed to an available resource
/// of non-negative priority, as §8.5.2.2.1 has it: they can only have been stored while the
/// shard did not know the resource was there. The caller holds the user's lock.
///
/// A resource that is still registered with the same session is only brought up to date
/// (the connection manager re-registers when it cannot tell whether the shard restarted).
/// One held by another session is left alone: that session bound it later.
pub(crate) async fn restore(
    shard: &Shard,
    jid: Jid,
    session: SessionKey,
    presence: Option<Element>,
    interested: bool,
    effects: &mut Effects,
) {
    let priority = presence
        .as_ref()
        .map(|p| priority_of(p).unwrap_or(0))
        .unwrap_or(0);
    let available = presence.is_some();
    match shard.sessions.get(&jid) {
        Some(existing) if existing.session != session => return,
        Some(_) => {}
        None => {
            shard.sessions.bind(jid.clone(), session);
        }
    }
    let was_available = shard
        .sessions
        .update(&jid, |r| {
            let was = r.available;
            r.interested |= interested;
            if !r.available
                && let Some(presence) = &presence
            {
                r.available = true;
                r.priority = priority;
                r.last_presence = Some(Arc::new(presence.clone()));
            }
            was
        })
        .unwrap_or(false);
    if available && !was_available && priority >= 0 {
        delivery::flush_offline(shard, &jid.bare(), &jid, effects).await;
    }
}

/// The resource `resource` stopped being available, by unavailable presence (`presence`,
/// stamped with its full JID and no 'to') or because its session ended: unavailable to the
/// contacts subscribed to the user, to the user's available resources, and to the entities
/// on its directed-presence list (§4.5.2, §4.6.3 rule 2).
async fn went_unavailable(
    shard: &Shard,
    resource: &Resource,
    presence: Element,
    effects: &mut Effects,
) {
    let user = resource.jid.bare();
    let mut subscribers = Vec::new();
    let broadcast = Broadcast::new(presence);
    if resource.available {
        let roster = roster_of(shard, &user).await;
        for contact in local_contacts(shard, &roster, |e| e.from) {
            effects.deliver_available(contact, broadcast.to(contact));
            subscribers.push(contact.clone());
        }
        let own = shard.sessions.available(&user);
        effects.deliver_to(&user, own, broadcast.to(&user));
    }
    for entity in &resource.directed {
        if !subscribers.contains(&entity.bare()) && shard.is_local(entity) {
            effects.deliver_to_jid(entity, broadcast.to(entity));
        }
    }
}

/// The session behind `resource` is gone (closed, dropped, or taken over): if it had
/// presence to withdraw, generate the unavailable presence for it (§4.5.2: "the server
/// MUST generate the unavailable presence broadcast on the user's behalf").
pub(crate) async fn went_offline(shard: &Shard, resource: Resource, effects: &mut Effects) {
    if !resource.available && resource.directed.is_empty() {
        return;
    }
    let unavailable = presence(&resource.jid, None, Some("unavailable"));
    went_unavailable(shard, &resource, unavailable, effects).await;
}

/// Directed presence from `from` to `to` (§4.6.3). The caller holds the user's lock.
pub(crate) async fn directed(
    shard: &Shard,
    from: &Jid,
    to: Jid,
    stanza: Stanza,
    effects: &mut Effects,
) {
    if !shard.is_local(&to) || to.local().is_none() {
        // No server-to-server connections: presence to other domains goes nowhere.
        return;
    }
    let unavailable = stanza.stanza_type() == Some("unavailable");
    let user = from.bare();
    let subscribed = subscribed_from(shard, &user, &to.bare()).await;
    shard.sessions.update(from, |r| {
        r.directed.retain(|d| *d != to);
        // Rule 1: a subscriber already gets broadcasts. Rules 2 and 3: anyone else is
        // remembered, to be told when this resource goes offline.
        if !(unavailable || subscribed && r.available) {
            r.directed.push(to.clone());
        }
    });
    effects.deliver_to_jid(&to, stanza.into_element());
}

/// A presence error a client sends back to `to`: delivered like directed presence, with no
/// effect on the lists.
pub(crate) fn route_error(shard: &Shard, to: Jid, stanza: Stanza, effects: &mut Effects) {
    if shard.is_local(&to) && to.local().is_some() {
        effects.deliver_to_jid(&to, stanza.into_element());
    }
}

/// Presence with no type, "unavailable" or "error" addressed to the local user `to`
/// (§8.5.2.1.2, §8.5.3.1, §8.5.3.2.2): to all available resources for a bare JID, to the
/// resource for a full JID (ignored when it does not exist).
pub(crate) fn deliver_inbound(shard: &Shard, to: &Jid, stanza: Stanza, effects: &mut Effects) {
    if to.is_bare() {
        let available = shard.sessions.available(to);
        effects.deliver_to(to, available, stanza.into_element());
    } else if shard.sessions.is_connected(to) {
        effects.deliver_one(to, stanza.into_element());
    }
}

/// A presence probe from `from` to the local user `to` (§4.3.2, §4.6.6). The caller holds
/// the user's lock.
pub(crate) async fn probe(
    shard: &Shard,
    from: &Jid,
    to: &Jid,
    stanza: Stanza,
    effects: &mut Effects,
) {
    let user = to.bare();
    if !shard.account_exists(&user).await {
        // §8.5.1: silently ignored.
        return;
    }
    let prober = from.bare();
    let subscribed = subscribed_from(shard, &user, &prober).await;
    let resources: Vec<Resource> = shard
        .sessions
        .of(&user)
        .into_iter()
        .filter(|r| r.available && (to.is_bare() || r.jid == *to))
        .collect();
    if subscribed {
        // §4.3.2 rule 4: the full XML of each available resource's last presence.
        for resource in resources {
            let Some(last) = resource.last_presence else {
                continue;
            };
            let reply = if to.is_full() {
                // §4.3.2: a probe of a full JID learns only that it is available.
                presence(&resource.jid, Some(from), None)
            } else {
                addressed(&last, from)
            };
            effects.deliver_to_jid(from, reply);
        }
        return;
    }
    // §4.6.6: a probe from an entity this resource sent directed presence to.
    let mut answered = false;
    for resource in &resources {
        if resource.directed.iter().any(|d| d == from || *d == prober) {
            effects.deliver_to_jid(from, presence(&resource.jid, Some(from), None));
            answered = true;
        }
    }
    // An unanswered request from the prober means it is waiting for an answer; an
    // automatic "unsubscribed" would deny it on the user's behalf (a store failure counts
    // as pending, so nothing is denied by accident).
    let pending_request = subscription::has_pending(shard, &user, &prober)
        .await
        .unwrap_or(true);
    if !answered && !pending_request && shard.is_local(&prober) {
        // §4.3.2 rule 1: not subscribed; "unsubscribed" resynchronizes the prober's roster.
        let mut reply = presence(&user, Some(&prober), Some("unsubscribed"));
        if let Some(id) = stanza.id() {
            reply.set_attr("id", id);
        }
        effects.route_element(reply);
    }
}

/// The priority of an available presence (§4.7.2.3): 0 when absent; `Err` when not an
/// integer in -128..=127.
fn priority_of(presence: &Element) -> Result<i8, ()> {
    match presence.get_child("priority", ns::JABBER_CLIENT) {
        None => Ok(0),
        Some(p) => p.text().trim().parse().map_err(|_| ()),
    }
}

/// The contacts of the items `keep` selects that are users of this server (no
/// server-to-server connections yet).
fn local_contacts<'r>(
    shard: &'r Shard,
    roster: &'r Roster,
    keep: impl Fn(&Contact) -> bool + 'r,
) -> impl Iterator<Item = &'r Jid> + 'r {
    roster
        .contacts()
        .iter()
        .filter(move |c| keep(c))
        .map(|c| &c.jid)
        .filter(|jid| shard.is_local(jid) && jid.local().is_some())
}

/// The roster of `user`, who has a session: kept in memory while the user is online.
async fn roster_of(shard: &Shard, user: &Jid) -> Arc<Roster> {
    match shard.rosters.roster_of_online(&Shard::account(user)).await {
        Ok(roster) => roster,
        Err(error) => {
            tracing::warn!(%user, %error, "reading the roster failed");
            Arc::new(Roster::default())
        }
    }
}

/// Whether `contact` (a bare JID) is subscribed to `user`'s presence: from the roster held
/// in memory when the user is online (read and kept now if it was not yet: during a login
/// storm most probes reach users who are bound but have not sent initial presence, and one
/// roster read then answers all of their contacts' probes), from the store otherwise. The
/// caller holds `user`'s lock.
async fn subscribed_from(shard: &Shard, user: &Jid, contact: &Jid) -> bool {
    if shard.sessions.is_online(user) {
        return roster_of(shard, user)
            .await
            .contact(contact.as_str())
            .is_some_and(|c| c.from);
    }
    let owner = Shard::account(user);
    match shard.stores.rosters.entry(&owner, contact.as_str()).await {
        Ok(entry) => entry.is_some_and(|e| e.from),
        Err(error) => {
            tracing::warn!(%user, %error, "reading a roster item failed");
            false
        }
    }
}
