//! The marker every measured stanza carries: `<ts xmlns='urn:starling:loadtest' seq='N'>µs</ts>`.
//!
//! The send time travels inside the stanza (an extension element servers must forward
//! untouched, RFC 6120 §8.4) rather than staying in the generator's memory, so that latency can
//! be computed by whichever process receives it, and so that a stanza the server re-sends later
//! (a presence probe answer) still says when it was first sent.

use std::time::{SystemTime, UNIX_EPOCH};

use xmpp_core::Element;

/// The namespace of the marker element.
pub const NS: &str = "urn:starling:loadtest";

/// What a measured stanza carries: its sequence number and when it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Unique per generator run; the key of the expected deliveries.
    pub seq: u64,
    /// Wall-clock send time, microseconds since the Unix epoch (wall clock rather than a
    /// monotonic one so that several generator processes agree).
    pub sent_us: u64,
}

impl Stamp {
    /// The `<ts/>` child for this stamp.
    pub fn element(&self) -> Element {
        Element::new("ts", NS)
            .with_attr("seq", self.seq.to_string())
            .with_text(self.sent_us.to_string())
    }
}

/// Now, in microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::receive::{Item, Received};

    /// What the generator writes, the receive path reads back.
    #[test]
    fn a_stamp_round_trips_through_a_stanza() {
        let s = Stamp {
            seq: 42,
            sent_us: 1_700_000_000_123_456,
        };
        for (p, stamp) in [
            (
                Element::new("presence", "jabber:client").with_child(s.element()),
                Some(s),
            ),
            (Element::new("presence", "jabber:client"), None),
        ] {
            let mut r = Received::new(p.to_xml().into_bytes());
            match r.next_item() {
                Ok(Item::Stanza(read)) => assert_eq!(read.stamp, stamp),
                other => panic!("{other:?}"),
            }
        }
    }
}
