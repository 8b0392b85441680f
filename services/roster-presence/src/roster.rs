//! Roster management (RFC 6121 §2): get, set and remove, pushes to interested resources,
//! and roster versioning (§2.6).
//!
//! Versioning decisions (§2.6.3): `ver` is on every result and every push, whether or not
//! the client sent one ("the server SHOULD include the 'ver' attribute on all roster pushes
//! and results"). When the client's cached version is current, the reply is the empty
//! result and nothing follows. When exactly one item changed since, it is the empty result
//! and one push carrying the current version. When several changed, it is the whole
//! roster: interim pushes "MUST occur in order of modification" with unique versions, and
//! the store reports what changed, not the order or the intermediate versions, so the
//! whole roster (which §2.6.3 always allows) is the answer that cannot mislead a client.

use std::sync::atomic::{AtomicU64, Ordering};

use storage::{RosterEntry, RosterVersion, StoreError};
use xmpp_core::roster::{
    RosterItem, RosterSet, Subscription, parse_roster_get, parse_roster_set, roster_push,
    roster_result,
};
use xmpp_core::subscription::{SubEvent, SubState, on_roster_remove};
use xmpp_core::{Element, IqType, Jid, Stanza, StanzaError, StanzaErrorCondition, ns};

use crate::effects::Effects;
use crate::shard::{Shard, reply_error, reply_with};
use crate::subscription;

/// A roster get or set from the user's own resource `from` (the caller checked that).
pub(crate) async fn handle(shard: &Shard, from: &Jid, stanza: Stanza, effects: &mut Effects) {
    let _guard = shard.lock_user(from).await;
    let Some(query) = stanza.iq_payload().cloned() else {
        reply_error(effects, &stanza, StanzaErrorCondition::BadRequest);
        return;
    };
    let result = match stanza.iq_type() {
        Ok(IqType::Get) => get(shard, from, &stanza, &query, effects).await,
        Ok(IqType::Set) => set(shard, from, &stanza, &query, effects).await,
        _ => return,
    };
    if let Err(error) = result {
        reply_with(effects, &stanza, &error);
    }
}

async fn get(
    shard: &Shard,
    from: &Jid,
    stanza: &Stanza,
    query: &Element,
    effects: &mut Effects,
) -> Result<(), StanzaError> {
    let request = parse_roster_get(query)?;
    // §2.1.6: a resource that requested the roster is interested in pushes.
    shard.sessions.update(from, |r| r.interested = true);
    let owner = Shard::account(from);
    let rosters = &shard.stores.rosters;
    if let Some(known) = request.ver.as_deref().and_then(RosterVersion::parse) {
        let changes = rosters
            .changes_since(&owner, known)
            .await
            .map_err(|e| shard.store_failed(&e))?;
        if let Some(changes) = changes
            && changes.updated.len() + changes.removed.len() <= 1
        {
            // §2.6.3: the empty result, then the one interim push, if any.
            effects.deliver_to_jid(from, stanza.iq_result());
            let updated = changes.updated.iter().filter_map(item_of);
            let removed = changes
                .removed
                .iter()
                .filter_map(|c| Jid::new(c).ok())
                .map(RosterItem::removed);
            for item in updated.chain(removed) {
                effects.deliver_one(from, push_iq(from, &item, changes.version));
            }
            return Ok(());
        }
    }
    let (version, entries) = rosters
        .roster(&owner)
        .await
        .map_err(|e| shard.store_failed(&e))?;
    let items: Vec<RosterItem> = entries.iter().filter_map(item_of).collect();
    let mut reply = stanza.iq_result();
    reply.push_child(roster_result(&items, Some(&version.to_string())));
    effects.deliver_to_jid(from, reply);
    Ok(())
}

async fn set(
    shard: &Shard,
    from: &Jid,
    stanza: &Stanza,
    query: &Element,
    effects: &mut Effects,
) -> Result<(), StanzaError> {
    let user = from.bare();
    let owner = Shard::account(&user);
    let rosters = &shard.stores.rosters;
    match parse_roster_set(query, &shard.config.roster_limits)? {
        RosterSet::Update { jid, name, groups } => {
            let existing = rosters
                .entry(&owner, jid.as_str())
                .await
                .map_err(|e| shard.store_failed(&e))?;
            let mut entry = match existing {
                Some(entry) => entry,
                None => {
                    let count = rosters
                        .count(&owner)
                        .await
                        .map_err(|e| shard.store_failed(&e))?;
                    if count >= shard.config.max_roster_items {
                        return Err(
                            StanzaError::new(StanzaErrorCondition::NotAllowed).with_text(format!(
                                "the roster is full ({} items)",
                                shard.config.max_roster_items
                            )),
                        );
                    }
                    RosterEntry::new(jid.as_str())
                }
            };
            // §2.4.1: the item is replaced exactly as given; the subscription state is the
            // server's and a client-set 'subscription' other than "remove" is ignored
            // (§2.1.2.5).
            entry.name = name;
            entry.groups = groups;
            let version = rosters
                .put_entry(&owner, &entry)
                .await
                .map_err(|e| shard.store_failed(&e))?;
            push(shard, &user, &entry, version, effects);
        }
        RosterSet::Remove { jid } => {
            let Some(entry) = rosters
                .entry(&owner, jid.as_str())
                .await
                .map_err(|e| shard.store_failed(&e))?
            else {
                // §2.5.3.
                return Err(StanzaError::new(StanzaErrorCondition::ItemNotFound));
            };
            // §2.5.2: cancel the subscriptions both ways before the item goes.
            let state = state_of(&entry);
            let removal = on_roster_remove(state);
            if removal.unsubscribe {
                subscription::cancel(shard, from, &jid, SubEvent::OutboundUnsubscribe, effects);
            }
            if removal.unsubscribed {
                subscription::cancel(shard, from, &jid, SubEvent::OutboundUnsubscribed, effects);
                if state.from {
                    subscription::send_unavailable(shard, &user, &jid, effects);
                }
            }
            let version = match rosters.remove_entry(&owner, jid.as_str()).await {
                Ok(version) => version,
                Err(StoreError::NotFound(_)) => {
                    return Err(StanzaError::new(StanzaErrorCondition::ItemNotFound));
                }
                Err(error) => return Err(shard.store_failed(&error)),
            };
            if let Err(error) = shard
                .stores
                .pending
                .remove_pending_in(&owner, jid.as_str())
                .await
            {
                tracing::warn!(%user, %error, "forgetting a pending request failed");
            }
            push_item(shard, &user, &RosterItem::removed(jid), version, effects);
        }
    }
    effects.deliver_to_jid(from, stanza.iq_result());
    Ok(())
}

/// Sends the roster push for `entry` at `version` to `user`'s interested resources
/// (§2.1.6).
pub(crate) fn push(
    shard: &Shard,
    user: &Jid,
    entry: &RosterEntry,
    version: RosterVersion,
    effects: &mut Effects,
) {
    if let Some(item) = item_of(entry) {
        push_item(shard, user, &item, version, effects);
    }
}

fn push_item(
    shard: &Shard,
    user: &Jid,
    item: &RosterItem,
    version: RosterVersion,
    effects: &mut Effects,
) {
    for resource in shard.sessions.interested(user) {
        let iq = push_iq(&resource, item, version);
        effects.deliver_one(&resource, iq);
    }
}

/// `<iq type='set'>` carrying one pushed item (§2.1.6), with no 'from': the push comes
/// from the user's own account.
fn push_iq(to: &Jid, item: &RosterItem, version: RosterVersion) -> Element {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("type", "set")
        .with_attr("id", format!("push{id}"))
        .with_attr("to", to.as_str())
        .with_child(roster_push(item, Some(&version.to_string())))
}

/// The subscription state of a stored item (Appendix A.1).
pub(crate) fn state_of(entry: &RosterEntry) -> SubState {
    SubState {
        to: entry.to,
        from: entry.from,
        pending_out: entry.pending_out,
        pending_in: entry.pending_in,
        pre_approved: entry.pre_approved,
    }
    .normalized()
}

/// The roster item of a stored entry; `None` for a contact that is not a valid JID (which
/// this server never stores).
pub(crate) fn item_of(entry: &RosterEntry) -> Option<RosterItem> {
    let jid = Jid::new(&entry.contact).ok()?;
    let subscription = match (entry.to, entry.from) {
        (false, false) => Subscription::None,
        (true, false) => Subscription::To,
        (false, true) => Subscription::From,
        (true, true) => Subscription::Both,
    };
    Some(RosterItem {
        jid,
        name: entry.name.clone(),
        subscription,
        ask: entry.pending_out,
        approved: entry.pre_approved,
        groups: entry.groups.clone(),
    })
}
