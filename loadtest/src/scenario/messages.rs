//! One-to-one chat: a random user writes to one of its contacts' bare JID; with one resource
//! online the message must arrive there exactly once (RFC 6121 §8.5.2.1.1).

use xmpp_core::{Element, ns};

use super::{Rng, Timing};
use crate::accounting::Phase;
use crate::driver::{Driver, Stopped, paced};
use crate::provision::username;
use crate::session::Session;

/// Sends chat messages at `t.rate` for `t.duration`; returns how many.
pub async fn chat(d: &Driver, sessions: &[Session], t: Timing) -> Result<u64, Stopped> {
    let mut rng = Rng::new(0xc4a7);
    let n = d.ring.n;
    let domain = d.params.domain.clone();
    paced(t.rate, t.duration, t.max_stanzas, |step| {
        let s = &sessions[rng.below(n) as usize];
        let contacts = d.ring.contacts(s.index);
        let to = contacts[rng.below(contacts.len() as u32) as usize];
        let stanza = Element::new("message", ns::JABBER_CLIENT)
            .with_attr("type", "chat")
            .with_attr("to", format!("{}@{domain}", username(to)))
            .with_child(
                Element::new("body", ns::JABBER_CLIENT).with_text(format!("message {step}")),
            );
        d.send(s, Phase::Message, vec![to], stanza)
    })
    .await
}
