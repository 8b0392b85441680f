//! Presence changes: a random user changes its presence; the change must reach each of its
//! K contacts exactly once (RFC 6121 §4.4.2), so K deliveries are expected per change.

use xmpp_core::{Element, ns};

use super::{Rng, Timing};
use crate::accounting::Phase;
use crate::driver::{Driver, Stopped, paced};
use crate::session::Session;

/// Sends presence changes at `t.rate` for `t.duration`; returns how many.
pub async fn changes(d: &Driver, sessions: &[Session], t: Timing) -> Result<u64, Stopped> {
    let mut rng = Rng::new(0x5eed);
    let n = d.ring.n;
    paced(t.rate, t.duration, t.max_stanzas, |step| {
        let s = &sessions[rng.below(n) as usize];
        let show = if step % 2 == 0 { "away" } else { "chat" };
        let stanza = Element::new("presence", ns::JABBER_CLIENT)
            .with_child(Element::new("show", ns::JABBER_CLIENT).with_text(show))
            .with_child(
                Element::new("status", ns::JABBER_CLIENT).with_text(format!("change {step}")),
            );
        d.send(s, Phase::Presence, d.ring.contacts(s.index), stanza)
    })
    .await
}
