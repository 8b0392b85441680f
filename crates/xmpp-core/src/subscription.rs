//! RFC 6121 §3 and Appendix A: presence subscription states and what the user's server does
//! with each subscription-related presence stanza, as a pure state machine.
//!
//! Everything is seen from the user's side, as in Appendix A: "outbound" stanzas are sent by
//! the user to a contact, "inbound" ones arrive from a contact for the user. One
//! [`transition`] covers one row of one of the eight tables of Appendix A.2 and A.3; the
//! service applies the result to its stored roster, routes or delivers the stanza, sends the
//! roster push, the automatic reply and the presence the result asks for, in the order §3
//! prescribes (see [`Transition`]).
//!
//! The transitions are written as rules over the four flags rather than as a copy of the
//! tables, so the table-driven tests that replay every row are an independent check.

use crate::element::Element;
use crate::ns;
use crate::roster::{RosterItem, Subscription};

#[cfg(test)]
mod tests;

/// The state of one contact in the user's roster, from the user's point of view
/// (Appendix A.1), plus the §3.4 pre-approval flag.
///
/// The nine states of Appendix A.1 are the combinations of the four subscription flags in
/// which a pending request never coexists with the subscription it asks for. Fields are
/// public so a stored state can be rebuilt freely; [`transition`] first discards the flags
/// that contradict each other (see [`SubState::normalized`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubState {
    /// The user is subscribed to the contact's presence.
    pub to: bool,
    /// The contact is subscribed to the user's presence.
    pub from: bool,
    /// "Pending Out": the user asked the contact for a subscription, no answer yet. Shown in
    /// the roster as `ask='subscribe'` (§2.1.2.2).
    pub pending_out: bool,
    /// "Pending In": the contact asked the user for a subscription, no answer yet. Not shown
    /// in the roster at all (Appendix A.1 state 3): the server keeps it aside, with the
    /// request stanza to redeliver (§3.1.3 rule 4).
    pub pending_in: bool,
    /// The user approved the contact's future request in advance (§3.4); shown as
    /// `approved='true'` (§2.1.2.1). Only meaningful in "None", "None + Pending Out" and "To"
    /// (§3.4.2 rule 3).
    pub pre_approved: bool,
}

impl SubState {
    /// "None" (Appendix A.1 state 1); also the state of a contact not in the roster at all
    /// (A.1 implementation note).
    pub const NONE: Self = Self::flags(false, false, false, false);
    /// "None + Pending Out" (state 2).
    pub const NONE_PENDING_OUT: Self = Self::flags(false, false, true, false);
    /// "None + Pending In" (state 3).
    pub const NONE_PENDING_IN: Self = Self::flags(false, false, false, true);
    /// "None + Pending Out+In" (state 4).
    pub const NONE_PENDING_OUT_IN: Self = Self::flags(false, false, true, true);
    /// "To" (state 5).
    pub const TO: Self = Self::flags(true, false, false, false);
    /// "To + Pending In" (state 6).
    pub const TO_PENDING_IN: Self = Self::flags(true, false, false, true);
    /// "From" (state 7).
    pub const FROM: Self = Self::flags(false, true, false, false);
    /// "From + Pending Out" (state 8).
    pub const FROM_PENDING_OUT: Self = Self::flags(false, true, true, false);
    /// "Both" (state 9).
    pub const BOTH: Self = Self::flags(true, true, false, false);

    /// The nine states in the order Appendix A.1 and every table of A.2 and A.3 list them.
    pub const ALL: [Self; 9] = [
        Self::NONE,
        Self::NONE_PENDING_OUT,
        Self::NONE_PENDING_IN,
        Self::NONE_PENDING_OUT_IN,
        Self::TO,
        Self::TO_PENDING_IN,
        Self::FROM,
        Self::FROM_PENDING_OUT,
        Self::BOTH,
    ];

    const fn flags(to: bool, from: bool, pending_out: bool, pending_in: bool) -> Self {
        Self {
            to,
            from,
            pending_out,
            pending_in,
            pre_approved: false,
        }
    }

    /// This state with the §3.4 pre-approval flag set.
    #[must_use]
    pub const fn with_pre_approval(mut self) -> Self {
        self.pre_approved = true;
        self
    }

    /// The state without contradictory flags: a request pending for a subscription that
    /// already exists is moot ("Pending Out" with `to`, "Pending In" with `from`; none of the
    /// nine states of A.1 has them), and a pre-approval outside "None", "None + Pending Out"
    /// and "To" is not one §3.4.2 can create (rule 2 turns "Pending In" states into an
    /// approval, rule 1 ignores states with `from`).
    #[must_use]
    pub const fn normalized(self) -> Self {
        Self {
            to: self.to,
            from: self.from,
            pending_out: self.pending_out && !self.to,
            pending_in: self.pending_in && !self.from,
            pre_approved: self.pre_approved && !self.from && !self.pending_in,
        }
    }

    /// The Appendix A.1 label of the (normalized) state, e.g. `"None + Pending Out+In"`. The
    /// pre-approval flag has no label of its own there.
    pub fn name(self) -> &'static str {
        let s = self.normalized();
        match (s.to, s.from, s.pending_out, s.pending_in) {
            (false, false, false, false) => "None",
            (false, false, true, false) => "None + Pending Out",
            (false, false, false, true) => "None + Pending In",
            (false, false, true, true) => "None + Pending Out+In",
            (true, false, _, false) => "To",
            (true, false, _, true) => "To + Pending In",
            (false, true, false, _) => "From",
            (false, true, true, _) => "From + Pending Out",
            (true, true, _, _) => "Both",
        }
    }

    /// The state an Appendix A.1 label names, without pre-approval.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The `subscription` attribute that shows this state in the roster (A.1).
    pub fn subscription(self) -> Subscription {
        match (self.to, self.from) {
            (false, false) => Subscription::None,
            (true, false) => Subscription::To,
            (false, true) => Subscription::From,
            (true, true) => Subscription::Both,
        }
    }

    /// Whether the roster shows `ask='subscribe'` (A.1 states 2, 4 and 8).
    pub fn ask(self) -> bool {
        self.normalized().pending_out
    }

    /// The state of a stored roster item. `pending_in` comes from the server's record of
    /// inbound requests, which the roster item does not show (A.1 state 3). An item with
    /// subscription "remove" describes no contact, so it is "None" (A.1 implementation note).
    pub fn from_item(item: &RosterItem, pending_in: bool) -> Self {
        let (to, from) = match item.subscription {
            Subscription::None | Subscription::Remove => (false, false),
            Subscription::To => (true, false),
            Subscription::From => (false, true),
            Subscription::Both => (true, true),
        };
        Self {
            to,
            from,
            pending_out: item.ask,
            pending_in,
            pre_approved: item.approved,
        }
        .normalized()
    }

    /// Writes this state's visible part (`subscription`, `ask`, `approved`) into `item`.
    /// `pending_in` is not part of a roster item and stays with the caller.
    pub fn apply_to(self, item: &mut RosterItem) {
        let s = self.normalized();
        item.subscription = s.subscription();
        item.ask = s.pending_out;
        item.approved = s.pre_approved;
    }

    /// What a roster item shows of this state; a roster push is due exactly when this
    /// changes (§2.6.3: a roster modification is a change that would result in a push).
    fn visible(self) -> (Subscription, bool, bool) {
        let s = self.normalized();
        (s.subscription(), s.pending_out, s.pre_approved)
    }
}

/// A subscription-related presence stanza (§3: types "subscribe", "subscribed",
/// "unsubscribe", "unsubscribed"), by direction as seen from the user (Appendix A.2, A.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubEvent {
    /// The user asks the contact for a subscription (A.2.1, §3.1.2).
    OutboundSubscribe,
    /// The user approves the contact's request, or pre-approves it (A.2.3, §3.1.5, §3.4).
    OutboundSubscribed,
    /// The user ends their subscription to the contact (A.2.2, §3.3.2).
    OutboundUnsubscribe,
    /// The user denies or cancels the contact's subscription or pre-approval (A.2.4, §3.2.2).
    OutboundUnsubscribed,
    /// The contact asks the user for a subscription (A.3.1, §3.1.3).
    InboundSubscribe,
    /// The contact approves the user's request (A.3.3, §3.1.6).
    InboundSubscribed,
    /// The contact ends their subscription to the user (A.3.2, §3.3.3).
    InboundUnsubscribe,
    /// The contact denies or cancels the user's subscription (A.3.4, §3.2.3).
    InboundUnsubscribed,
}

impl SubEvent {
    /// The event for a presence `type` the user sent; `None` for other types.
    pub fn outbound(presence_type: &str) -> Option<Self> {
        Some(match presence_type {
            "subscribe" => SubEvent::OutboundSubscribe,
            "subscribed" => SubEvent::OutboundSubscribed,
            "unsubscribe" => SubEvent::OutboundUnsubscribe,
            "unsubscribed" => SubEvent::OutboundUnsubscribed,
            _ => return None,
        })
    }

    /// The event for a presence `type` that arrived for the user; `None` for other types.
    pub fn inbound(presence_type: &str) -> Option<Self> {
        Some(match presence_type {
            "subscribe" => SubEvent::InboundSubscribe,
            "subscribed" => SubEvent::InboundSubscribed,
            "unsubscribe" => SubEvent::InboundUnsubscribe,
            "unsubscribed" => SubEvent::InboundUnsubscribed,
            _ => return None,
        })
    }

    /// Whether the user sent the stanza (Appendix A.2) rather than received it (A.3).
    pub fn is_outbound(self) -> bool {
        matches!(
            self,
            SubEvent::OutboundSubscribe
                | SubEvent::OutboundSubscribed
                | SubEvent::OutboundUnsubscribe
                | SubEvent::OutboundUnsubscribed
        )
    }
}

/// A presence stanza the user's server sends to the contact on the user's behalf, from the
/// user's bare JID to the contact's bare JID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AutoReply {
    /// `type='subscribed'`: the request is approved without asking the user (§3.1.3 rule 2,
    /// A.3.1 notes \[1\] and \[2\], §3.4).
    Subscribed,
    /// `type='unsubscribed'`: confirms the contact's unsubscribe (A.3.2 note \[1\]).
    Unsubscribed,
}

impl AutoReply {
    /// The presence `type` of the reply.
    pub fn presence_type(self) -> &'static str {
        match self {
            AutoReply::Subscribed => "subscribed",
            AutoReply::Unsubscribed => "unsubscribed",
        }
    }
}

/// Presence the user's server sends to the contact from each of the user's available
/// resources, because the contact's right to see it has just begun or ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PresenceEffect {
    /// Current presence of each available resource: the contact's subscription was approved
    /// (§3.1.5: "MUST then also send current presence to the user from each of the contact's
    /// available resources").
    SendCurrent,
    /// `type='unavailable'` from each available resource: the contact's subscription ended
    /// (§3.2.2, sent before the "unsubscribed" is routed; §3.3.3 step 3).
    SendUnavailable,
}

/// Whether the server supports subscription pre-approval (§3.4), which is OPTIONAL. A server
/// that does advertises [`pre_approval_feature`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PreApproval {
    /// Outbound "subscribed" before any request records a pre-approval (§3.4.2 rules 3, 4).
    #[default]
    Supported,
    /// Outbound "subscribed" before any request is ignored: §3.4.2 applies only "if it
    /// supports subscription pre-approvals", and A.2.3 still forbids routing it.
    Unsupported,
}

/// What the user's server does with one subscription-related stanza (one row of an
/// Appendix A table).
///
/// Order, when several apply: for an inbound stanza, deliver it before the roster push
/// (§3.1.6 step 1, §3.2.3 step 1, §3.3.3 step 1: "This MUST occur before sending the roster
/// push"); for an outbound "unsubscribed", send the unavailable presence before routing it
/// (§3.2.2); for an outbound "subscribe", route it before the push (§3.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The state to store.
    pub new_state: SubState,
    /// Outbound: route the stanza to the contact, stamped with the user's bare JID (§3
    /// implementation note). Inbound: deliver it to the user's resources. `false` for the
    /// tables' "M.N." (MUST NOT) and "S.N." (SHOULD NOT), which this server follows.
    pub route: bool,
    /// Send a roster push with the updated item to the user's interested resources (§2.2).
    /// `true` exactly when the item's visible part (`subscription`, `ask`, `approved`)
    /// changed: a change to "Pending In" alone is not shown in the roster (A.1 state 3) and
    /// must not even create an item (§3.1.3 security warning). When the contact has no item
    /// yet, a push means the item is created now (§3.1.2, §3.4.2 rule 4, §3.1.5).
    pub push: bool,
    /// A presence stanza to send to the contact on the user's behalf.
    pub auto_reply: Option<AutoReply>,
    /// Presence to send to the contact from each of the user's available resources.
    pub presence: Option<PresenceEffect>,
}

/// [`transition_with`] for a server that supports pre-approval (§3.4).
pub fn transition(state: SubState, event: SubEvent) -> Transition {
    transition_with(state, event, PreApproval::Supported)
}

/// Applies one subscription-related stanza to the contact's state (Appendix A.2, A.3).
///
/// Decisions beyond the tables, each from the section cited:
///
/// * Pre-approval (§3.4.2 rule 3): an outbound "subscribed" in "None", "None + Pending Out"
///   or "To" sets `pre_approved` and is not routed (A.2.3 "M.N."). An inbound "subscribe"
///   with `pre_approved` is not delivered but approved on the user's behalf, in any of
///   those three states, not only "None" as the A.3.1 note \[1\] says: §3.4 states the rule
///   for the flag wherever it is set ("the user's server MUST NOT deliver … but instead MUST
///   automatically respond"). The flag is consumed then: once the contact is subscribed,
///   the state has `from` and no pre-approval to report (§3.4 implementation note leaves
///   keeping it to the server). A stored flag is honoured even under
///   [`PreApproval::Unsupported`], since the user did approve.
/// * An outbound "unsubscribed" always clears `pre_approved` (A.2.4 note \[1\], §3.2.2 rule 2,
///   and the §3.4 implementation note: the flag stays "until and unless the user sends a
///   presence stanza of type unsubscribed").
/// * An inbound "subscribe" from a contact that is already subscribed is answered with
///   "subscribed" (A.3.1 note \[2\], §3.1.3 rule 2) and also gets current presence: to the
///   contact an automatic approval is an approval, after which §3.1.5 sends presence, and
///   the repeated request means the contact's side lost track of the subscription.
/// * An inbound "unsubscribe" in "None + Pending In" follows Table 7 (deliver, auto-reply);
///   §3.3.3 adds that when the contact is not in the roster at all the server "MUST simply
///   remove any record" of the request, which the caller, who knows whether an item exists,
///   may do instead of delivering.
pub fn transition_with(state: SubState, event: SubEvent, pre_approval: PreApproval) -> Transition {
    let old = state.normalized();
    let mut new = old;
    let mut route = false;
    let mut auto_reply = None;
    match event {
        // A.2.1: always routed; a request for a subscription not yet held becomes pending.
        SubEvent::OutboundSubscribe => {
            route = true;
            if !old.to {
                new.pending_out = true;
            }
        }
        // A.2.2: always routed; ends the user's subscription and any request for one.
        SubEvent::OutboundUnsubscribe => {
            route = true;
            new.to = false;
            new.pending_out = false;
        }
        // A.2.3: approves a pending request; with none pending and no subscription yet, a
        // pre-approval (§3.4.2 rules 2 and 3); with `from`, ignored (§3.4.2 rule 1).
        SubEvent::OutboundSubscribed => {
            if old.from {
                // §3.4.2 rule 1: silently ignored, the contact is already subscribed.
            } else if old.pending_in {
                route = true;
                new.from = true;
                new.pending_in = false;
            } else if pre_approval == PreApproval::Supported {
                new.pre_approved = true;
            }
        }
        // A.2.4: denies a pending request or cancels the contact's subscription; otherwise
        // not routed (§3.2.2 rules 1 and 2).
        SubEvent::OutboundUnsubscribed => {
            if old.from || old.pending_in {
                route = true;
                new.from = false;
                new.pending_in = false;
            }
            new.pre_approved = false;
        }
        // A.3.1 and §3.1.3: ask the user, unless the answer is already known.
        SubEvent::InboundSubscribe => {
            if old.from {
                auto_reply = Some(AutoReply::Subscribed);
            } else if old.pending_in {
                // Already asked and waiting (S.N.): §3.1.3 rule 4 keeps one request only.
            } else if old.pre_approved {
                auto_reply = Some(AutoReply::Subscribed);
                new.from = true;
                new.pre_approved = false;
            } else {
                route = true;
                new.pending_in = true;
            }
        }
        // A.3.2: ends the contact's subscription or withdraws its request.
        SubEvent::InboundUnsubscribe => {
            if old.from || old.pending_in {
                route = true;
                auto_reply = Some(AutoReply::Unsubscribed);
                new.from = false;
                new.pending_in = false;
            }
        }
        // A.3.3 and §3.1.6: only an answer to a pending request counts.
        SubEvent::InboundSubscribed => {
            if old.pending_out {
                route = true;
                new.to = true;
                new.pending_out = false;
            }
        }
        // A.3.4 and §3.2.3: denies the user's request or cancels the user's subscription.
        SubEvent::InboundUnsubscribed => {
            if old.to || old.pending_out {
                route = true;
                new.to = false;
                new.pending_out = false;
            }
        }
    }
    let presence = match (old.from, new.from) {
        (false, true) => Some(PresenceEffect::SendCurrent),
        (true, false) => Some(PresenceEffect::SendUnavailable),
        _ if auto_reply == Some(AutoReply::Subscribed) => Some(PresenceEffect::SendCurrent),
        _ => None,
    };
    Transition {
        new_state: new,
        route,
        push: old.visible() != new.visible(),
        auto_reply,
        presence,
    }
}

/// The subscription stanzas the user's server sends when the user deletes the contact from
/// the roster (§2.5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RosterRemoval {
    /// Send "unsubscribe" to the contact.
    pub unsubscribe: bool,
    /// Send "unsubscribed" to the contact.
    pub unsubscribed: bool,
}

/// What deleting a contact in `state` sends (§2.5.2): "unsubscribe" if the user is
/// subscribed to the contact, "unsubscribed" if the contact is subscribed to the user.
///
/// Pending requests count too, beyond the letter of §2.5.2: the deletion discards them, and
/// the contact would otherwise keep a request from the user on record ("Pending In" on their
/// side, cleared by an inbound "unsubscribe", Table 7) or keep waiting for an answer
/// ("Pending Out" on their side, answered by "unsubscribed", Table 9). Each stanza is the
/// one the user could have sent with the same effect, so the caller can process it with
/// [`transition`] (for [`PresenceEffect::SendUnavailable`] in particular) before dropping the
/// item.
pub fn on_roster_remove(state: SubState) -> RosterRemoval {
    let s = state.normalized();
    RosterRemoval {
        unsubscribe: s.to || s.pending_out,
        unsubscribed: s.from || s.pending_in,
    }
}

/// The pre-approval stream feature, `<sub xmlns='urn:xmpp:features:pre-approval'/>`
/// (§3.4), advertised by a server that supports pre-approvals.
pub fn pre_approval_feature() -> Element {
    Element::new("sub", ns::PRE_APPROVAL)
}
