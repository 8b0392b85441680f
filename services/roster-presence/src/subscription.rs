//! Subscription stanzas (RFC 6121 §3), applied with the Appendix A state machine
//! ([`xmpp_core::subscription`]) on both sides: outbound on the user's shard, inbound on the
//! contact's.
//!
//! Where "Pending In" lives: a request the user has not answered is kept, complete, by the
//! [`storage::PendingSubscriptionStore`] (§3.1.3 rule 4), because the contact may not be in
//! the roster at all (§3.1.3 security warning: a request must not create an item). The
//! store is the authority for the flag; the roster item does not carry it, since it is not
//! shown in the roster (A.1 state 3) and changing it must not change the roster version.

use storage::RosterEntry;
use xmpp_core::subscription::{PresenceEffect, SubEvent, SubState, Transition, transition};
use xmpp_core::{Element, Jid, Stanza};

use crate::effects::{Effects, presence};
use crate::roster;
use crate::shard::Shard;

/// A subscription stanza the user's resource `from` sent to `to` (§3.1.2, §3.1.5,
/// §3.2.2, §3.3.2, §3.4). The caller holds the user's lock.
pub(crate) async fn outbound(
    shard: &Shard,
    from: &Jid,
    to: Jid,
    stanza: Stanza,
    effects: &mut Effects,
) {
    let Some(event) = stanza.stanza_type().and_then(SubEvent::outbound) else {
        return;
    };
    let user = from.bare();
    let contact = to.bare();
    if contact == user {
        // An entity is implicitly subscribed to its own presence (§4.2.2).
        return;
    }
    let Some((entry, state)) = load(shard, &user, &contact).await else {
        return;
    };
    let t = transition(state, event);
    if t.presence == Some(PresenceEffect::SendUnavailable) {
        // §3.2.2: the unavailable presence goes before the "unsubscribed".
        send_unavailable(shard, &user, &contact, effects);
    }
    if t.route && shard.is_local(&contact) {
        // §3.1.2 and the §3 implementation note: stamped with bare JIDs on both sides.
        if let Ok(routed) = Stanza::from_element(stamped(stanza.element(), &user, &contact)) {
            effects.route(routed);
        }
    }
    save(shard, &user, &contact, entry, state, &t, effects).await;
    if t.presence == Some(PresenceEffect::SendCurrent) {
        // §3.1.5: the new subscriber gets current presence from each available resource.
        send_current(shard, &user, &contact, effects);
    }
}

/// A subscription stanza from `from` for the local user `to` (§3.1.3, §3.1.6, §3.2.3,
/// §3.3.3). The caller holds the user's lock.
pub(crate) async fn inbound(
    shard: &Shard,
    from: &Jid,
    to: &Jid,
    stanza: Stanza,
    effects: &mut Effects,
) {
    let Some(event) = stanza.stanza_type().and_then(SubEvent::inbound) else {
        return;
    };
    let user = to.bare();
    let contact = from.bare();
    if contact == user || !shard.account_exists(&user).await {
        // §8.5.1: silently ignored for an unknown user.
        return;
    }
    let Some((entry, state)) = load(shard, &user, &contact).await else {
        return;
    };
    let t = transition(state, event);
    let delivered = stamped(stanza.element(), &contact, &user);
    if event == SubEvent::InboundSubscribe && t.new_state.pending_in {
        // §3.1.3 rule 4: keep the complete request, to deliver again at every login until
        // answered.
        let xml = crate::delivery::cluster_xml(&delivered);
        if let Err(error) = shard
            .stores
            .pending
            .put_pending_in(&Shard::account(&user), contact.as_str(), &xml)
            .await
        {
            tracing::warn!(%user, %error, "storing a subscription request failed");
        }
    }
    if t.route {
        // Delivered before the roster push (§3.1.6 step 1, §3.2.3, §3.3.3).
        let available = shard.sessions.available(&user);
        effects.deliver_to(&user, available, delivered);
    }
    save(shard, &user, &contact, entry, state, &t, effects).await;
    if let Some(reply) = t.auto_reply
        && shard.is_local(&contact)
    {
        effects.route_element(presence(&user, Some(&contact), Some(reply.presence_type())));
    }
    match t.presence {
        Some(PresenceEffect::SendCurrent) => send_current(shard, &user, &contact, effects),
        Some(PresenceEffect::SendUnavailable) => {
            send_unavailable(shard, &user, &contact, effects);
        }
        None => {}
    }
}

/// Routes an "unsubscribe" or "unsubscribed" from `from`'s user to `contact` for a roster
/// removal (§2.5.2), which discards the item itself.
pub(crate) fn cancel(
    shard: &Shard,
    from: &Jid,
    contact: &Jid,
    event: SubEvent,
    effects: &mut Effects,
) {
    let presence_type = match event {
        SubEvent::OutboundUnsubscribe => "unsubscribe",
        SubEvent::OutboundUnsubscribed => "unsubscribed",
        _ => return,
    };
    if !shard.is_local(contact) {
        return;
    }
    effects.route_element(presence(&from.bare(), Some(contact), Some(presence_type)));
}

/// Unavailable presence from each of `user`'s available resources to `contact`, whose
/// right to see it has ended (§3.2.2, §3.3.3).
pub(crate) fn send_unavailable(shard: &Shard, user: &Jid, contact: &Jid, effects: &mut Effects) {
    if !shard.is_local(contact) {
        return;
    }
    for resource in shard.sessions.available(user) {
        effects.deliver_available(
            contact,
            presence(&resource, Some(contact), Some("unavailable")),
        );
    }
}

/// The last presence of each of `user`'s available resources, to `contact`, who may now
/// see it (§3.1.5).
pub(crate) fn send_current(shard: &Shard, user: &Jid, contact: &Jid, effects: &mut Effects) {
    if !shard.is_local(contact) {
        return;
    }
    for resource in shard.sessions.of(user) {
        if let (true, Some(last)) = (resource.available, resource.last_presence) {
            let mut presence = Element::clone(&last);
            presence.set_attr("to", contact.as_str());
            effects.deliver_available(contact, presence);
        }
    }
}

/// `stanza` with 'from' and 'to' set to the bare JIDs `from` and `to`.
fn stamped(stanza: &Element, from: &Jid, to: &Jid) -> Element {
    let mut element = stanza.clone();
    element.set_attr("from", from.as_str());
    element.set_attr("to", to.as_str());
    element
}

/// The stored item for `contact` in `user`'s roster, if any, and the subscription state,
/// with "Pending In" from the pending-request store. `None` when the store fails; the
/// stanza is then dropped, as one lost on the network would be, and logged.
async fn load(shard: &Shard, user: &Jid, contact: &Jid) -> Option<(Option<RosterEntry>, SubState)> {
    let owner = Shard::account(user);
    let entry = match shard.stores.rosters.entry(&owner, contact.as_str()).await {
        Ok(entry) => entry,
        Err(error) => {
            tracing::warn!(%user, %error, "reading a roster item failed");
            return None;
        }
    };
    let pending_in = match has_pending(shard, user, contact).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!(%user, %error, "reading pending requests failed");
            return None;
        }
    };
    let mut state = entry.as_ref().map(roster::state_of).unwrap_or_default();
    state.pending_in = pending_in;
    Some((entry, state.normalized()))
}

/// Whether `user` has an unanswered subscription request from `contact` ("Pending In").
pub(crate) async fn has_pending(
    shard: &Shard,
    user: &Jid,
    contact: &Jid,
) -> Result<bool, storage::StoreError> {
    let requests = shard
        .stores
        .pending
        .pending_in(&Shard::account(user))
        .await?;
    Ok(requests.iter().any(|(c, _)| c == contact.as_str()))
}

/// Stores the new state, pushes the item when its visible part changed, and forgets an
/// answered request.
async fn save(
    shard: &Shard,
    user: &Jid,
    contact: &Jid,
    entry: Option<RosterEntry>,
    old: SubState,
    t: &Transition,
    effects: &mut Effects,
) {
    let owner = Shard::account(user);
    let new = t.new_state;
    if entry.is_some() || t.push {
        let mut entry = entry.unwrap_or_else(|| RosterEntry::new(contact.as_str()));
        let before = entry.clone();
        entry.to = new.to;
        entry.from = new.from;
        entry.pending_out = new.pending_out;
        entry.pre_approved = new.pre_approved;
        if entry != before || t.push {
            match shard.stores.rosters.put_entry(&owner, &entry).await {
                Ok(version) if t.push => roster::push(shard, user, &entry, version, effects),
                Ok(_) => {}
                Err(error) => tracing::warn!(%user, %error, "storing a roster item failed"),
            }
        }
    }
    if old.pending_in
        && !new.pending_in
        && let Err(error) = shard
            .stores
            .pending
            .remove_pending_in(&owner, contact.as_str())
            .await
    {
        tracing::warn!(%user, %error, "forgetting a subscription request failed");
    }
}
