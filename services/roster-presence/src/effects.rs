//! What processing a stanza decides to send. The shard collects effects while it holds a
//! user's state and returns them; the caller carries them out afterwards, in order.
//!
//! Why not send directly: a subscription stanza processed for one user produces a stanza
//! that must be processed for another user (possibly on the same shard, possibly with a
//! reply coming straight back). Carrying effects out only after the first user's state is
//! released means no shard ever waits for a user while holding another, so there is no lock
//! cycle between users or shards.

use std::sync::Arc;

use bytes::Bytes;
use cluster_api::convert;
use storage::OfflineMessage;
use xmpp_core::{Addressable, Element, Jid, Stanza, ns};

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
        stanza: Outgoing,
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

/// A stanza to deliver, as it is to be written.
#[derive(Clone, Debug, PartialEq)]
pub enum Outgoing {
    /// A stanza built for this delivery.
    Element(Element),
    /// A broadcast's stanza with its `to` attribute set to one recipient.
    Addressed {
        /// The stanza, serialized once for all of its recipients.
        broadcast: Arc<Broadcast>,
        /// This recipient.
        to: Jid,
    },
}

impl From<Element> for Outgoing {
    fn from(element: Element) -> Self {
        Self::Element(element)
    }
}

impl Outgoing {
    /// The bytes a delivery carries ([`convert::serialize`]).
    pub fn serialize(&self) -> Bytes {
        match self {
            Self::Element(element) => convert::serialize(element),
            Self::Addressed { broadcast, to } => {
                Bytes::from(broadcast.serialized.addressed_to(to.as_str()))
            }
        }
    }

    /// The stanza as an element.
    pub fn to_element(&self) -> Element {
        match self {
            Self::Element(element) => element.clone(),
            Self::Addressed { broadcast, to } => addressed(&broadcast.element, to),
        }
    }

    /// The stanza serialized with its namespace declared ([`Element::to_xml`]).
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }
}

/// A stanza sent to several recipients, each copy differing only in its `to` attribute (a
/// presence broadcast to a user's contacts, RFC 6121 §4.2.2, §4.4.2, §4.5.2). Serialized once:
/// cloning the element and serializing it again for each contact was a quarter of a
/// broadcasting shard's instructions (ARCHITECTURE.md, "Presence broadcast cost").
#[derive(Debug, PartialEq)]
pub struct Broadcast {
    element: Element,
    serialized: Addressable,
}

impl Broadcast {
    /// `element`, to be addressed to each recipient with [`Broadcast::to`].
    pub fn new(element: Element) -> Arc<Self> {
        let serialized = convert::addressable(&element);
        Arc::new(Self {
            element,
            serialized,
        })
    }

    /// The copy for `to`.
    pub fn to(self: &Arc<Self>, to: &Jid) -> Outgoing {
        Outgoing::Addressed {
            broadcast: Arc::clone(self),
            to: to.clone(),
        }
    }
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
    pub fn deliver_to(&mut self, user: &Jid, resources: Vec<Jid>, stanza: impl Into<Outgoing>) {
        if !resources.is_empty() {
            self.0.push(Effect::Deliver {
                user: user.bare(),
                target: Target::Resources(resources),
                stanza: stanza.into(),
            });
        }
    }

    /// Delivers `stanza` to every available session of `user`.
    pub fn deliver_available(&mut self, user: &Jid, stanza: impl Into<Outgoing>) {
        self.0.push(Effect::Deliver {
            user: user.bare(),
            target: Target::Available,
            stanza: stanza.into(),
        });
    }

    /// Delivers `stanza` to the one session `full`.
    pub fn deliver_one(&mut self, full: &Jid, stanza: impl Into<Outgoing>) {
        self.deliver_to(full, vec![full.clone()], stanza);
    }

    /// Delivers `stanza` to a local JID: every available resource of a bare JID, the one
    /// session of a full JID.
    pub fn deliver_to_jid(&mut self, to: &Jid, stanza: impl Into<Outgoing>) {
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

/// `stanza` with 'to' set to `to`: a copy for one recipient, where a [`Broadcast`] is not
/// worth building.
pub fn addressed(stanza: &Element, to: &Jid) -> Element {
    let mut element = stanza.clone();
    element.set_attr("to", to.as_str());
    element
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

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6121 §4.2.2: each contact's copy of a broadcast is the user's presence with the
    /// contact's JID in 'to', byte for byte what serializing that element gives.
    #[test]
    fn a_broadcast_copy_is_the_presence_addressed_to_its_recipient() {
        let mut element = presence(&Jid::new("juliet@example.com/balcony").unwrap(), None, None);
        element.push_child(Element::new("show", ns::JABBER_CLIENT).with_text("away"));
        let broadcast = Broadcast::new(element.clone());
        for contact in ["romeo@example.net", "nurse@example.com"] {
            let contact = Jid::new(contact).unwrap();
            let copy = broadcast.to(&contact);
            let expected = element.clone().with_attr("to", contact.as_str());
            assert_eq!(copy.to_element(), expected);
            assert_eq!(copy.serialize(), convert::serialize(&expected));
        }
        assert_eq!(
            broadcast.to(&Jid::new("romeo@example.net").unwrap()).serialize(),
            &b"<presence from='juliet@example.com/balcony' to='romeo@example.net'><show>away</show></presence>"[..]
        );
    }
}
