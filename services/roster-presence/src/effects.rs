//! What processing a stanza decides to send. The shard collects effects while it holds a
//! user's state and returns them; the caller carries them out afterwards, in order.
//!
//! Why not send directly: a subscription stanza processed for one user produces a stanza
//! that must be processed for another user (possibly on the same shard, possibly with a
//! reply coming straight back). Carrying effects out only after the first user's state is
//! released means no shard ever waits for a user while holding another, so there is no lock
//! cycle between users or shards.

use storage::OfflineMessage;
use xmpp_core::{Element, Jid, Stanza, ns};

/// Which sessions of a user a delivery is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// These sessions, by full JID. A JID with no session is skipped by whoever delivers.
    Resources(Vec<Jid>),
    /// Every session of the user that has sent available presence (RFC 6121 §4.2.3,
    /// §4.4.3, §4.5.3: inbound presence goes to all of the contact's available resources).
    Available,
}

/// One thing to send.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Write `stanza` to sessions of the local user `user` (a bare JID).
    Deliver {
        /// The user whose sessions receive it.
        user: Jid,
        /// Which of them.
        target: Target,
        /// The stanza, addressed and stamped as it is to be written.
        stanza: Element,
    },
    /// Process `stanza` for its addressee, a local user, on the shard that owns the
    /// addressee (RFC 6121 §3: the contact's server side of a subscription stanza; §4.3:
    /// a probe).
    Route(Stanza),
    /// Write a message taken from the offline store (RFC 6121 §8.5.2.2.1) to the session
    /// `to`. If it cannot be handed to the bus, it goes back to the store (after any message
    /// that arrived meanwhile), so a bus outage at login never loses stored messages.
    DeliverStored {
        /// The session (full JID) that receives it.
        to: Jid,
        /// The message with its delay stamp, as it is to be written.
        stanza: Element,
        /// The stored message, exactly as taken.
        stored: OfflineMessage,
    },
}

/// The effects of one operation, in the order they must happen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effects(pub Vec<Effect>);

impl Effects {
    /// No effects yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Delivers `stanza` to the listed sessions of `user`; nothing when the list is empty.
    pub fn deliver_to(&mut self, user: &Jid, resources: Vec<Jid>, stanza: Element) {
        if !resources.is_empty() {
            self.0.push(Effect::Deliver {
                user: user.bare(),
                target: Target::Resources(resources),
                stanza,
            });
        }
    }

    /// Delivers `stanza` to every available session of `user`.
    pub fn deliver_available(&mut self, user: &Jid, stanza: Element) {
        self.0.push(Effect::Deliver {
            user: user.bare(),
            target: Target::Available,
            stanza,
        });
    }

    /// Delivers `stanza` to the one session `full`.
    pub fn deliver_one(&mut self, full: &Jid, stanza: Element) {
        self.deliver_to(full, vec![full.clone()], stanza);
    }

    /// Delivers `stanza` to a local JID: every available resource of a bare JID, the one
    /// session of a full JID.
    pub fn deliver_to_jid(&mut self, to: &Jid, stanza: Element) {
        if to.is_full() {
            self.deliver_one(to, stanza);
        } else {
            self.deliver_available(to, stanza);
        }
    }

    /// Sends `stanza` to its addressee's shard for inbound processing.
    pub fn route(&mut self, stanza: Stanza) {
        self.0.push(Effect::Route(stanza));
    }

    /// [`Effects::route`] for a stanza the server built; one that is not a stanza (which
    /// this crate never builds) is dropped.
    pub fn route_element(&mut self, element: Element) {
        if let Ok(stanza) = Stanza::from_element(element) {
            self.route(stanza);
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A server-generated `<presence/>` from `from`, to `to` when given, of type `kind` (none:
/// available).
pub fn presence(from: &Jid, to: Option<&Jid>, kind: Option<&str>) -> Element {
    let mut element = Element::new("presence", ns::JABBER_CLIENT).with_attr("from", from.as_str());
    if let Some(to) = to {
        element.set_attr("to", to.as_str());
    }
    if let Some(kind) = kind {
        element.set_attr("type", kind);
    }
    element
}
