//! RFC 6120 §8: the three stanza kinds and their common attributes.
//!
//! A [`Stanza`] is a thin, validated view over an [`Element`]: it never drops what it does not
//! understand, so unknown extension children travel on untouched (§8.4).

use crate::element::Element;
use crate::ns;
use crate::stanza_error::{StanzaError, StanzaErrorCondition};

/// Which of the three stanzas (§8) an element is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StanzaKind {
    /// `<message/>` (§8.2.1)
    Message,
    /// `<presence/>` (§8.2.2)
    Presence,
    /// `<iq/>` (§8.2.3)
    Iq,
}

impl StanzaKind {
    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            StanzaKind::Message => "message",
            StanzaKind::Presence => "presence",
            StanzaKind::Iq => "iq",
        }
    }
}

/// The four IQ types of §8.2.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IqType {
    /// A request for information.
    Get,
    /// A request to provide data or set values.
    Set,
    /// A successful response.
    Result,
    /// A failed request.
    Error,
}

impl IqType {
    /// Parses the `type` attribute.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "get" => IqType::Get,
            "set" => IqType::Set,
            "result" => IqType::Result,
            "error" => IqType::Error,
            _ => return None,
        })
    }

    /// Whether this IQ asks for a response.
    pub fn is_request(self) -> bool {
        matches!(self, IqType::Get | IqType::Set)
    }
}

/// A message, presence or IQ element in a content namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stanza {
    kind: StanzaKind,
    element: Element,
}

impl Stanza {
    /// Views `element` as a stanza if it is `message`, `presence` or `iq` in `jabber:client` or
    /// `jabber:server`; gives it back otherwise (it is then a nonza or an unknown element).
    pub fn from_element(element: Element) -> Result<Self, Element> {
        if element.ns() != ns::JABBER_CLIENT && element.ns() != ns::JABBER_SERVER {
            return Err(element);
        }
        let kind = match element.name() {
            "message" => StanzaKind::Message,
            "presence" => StanzaKind::Presence,
            "iq" => StanzaKind::Iq,
            _ => return Err(element),
        };
        Ok(Self { kind, element })
    }

    /// Which stanza this is.
    pub fn kind(&self) -> StanzaKind {
        self.kind
    }

    /// The underlying element.
    pub fn element(&self) -> &Element {
        &self.element
    }

    /// Mutable access to the underlying element.
    pub fn element_mut(&mut self) -> &mut Element {
        &mut self.element
    }

    /// Gives back the underlying element.
    pub fn into_element(self) -> Element {
        self.element
    }

    /// The `from` attribute as written.
    pub fn from(&self) -> Option<&str> {
        self.element.attr("from")
    }

    /// The `to` attribute as written.
    pub fn to(&self) -> Option<&str> {
        self.element.attr("to")
    }

    /// The `id` attribute.
    pub fn id(&self) -> Option<&str> {
        self.element.attr("id")
    }

    /// The `type` attribute as written.
    pub fn stanza_type(&self) -> Option<&str> {
        self.element.attr("type")
    }

    /// Sets `from` (the server stamps it on everything a client sends, §8.1.2.1).
    pub fn set_from(&mut self, from: impl Into<String>) {
        self.element.set_attr("from", from);
    }

    /// Sets `to`.
    pub fn set_to(&mut self, to: impl Into<String>) {
        self.element.set_attr("to", to);
    }

    /// Whether this stanza is itself an error (type='error'), which must never be answered with
    /// another error (§8.3.1).
    pub fn is_error(&self) -> bool {
        self.stanza_type() == Some("error")
    }

    /// For an IQ, its validated type and payload rules of §8.2.3: an `id` is required, the type
    /// must be one of the four, and a get or set carries exactly one payload child.
    pub fn iq_type(&self) -> Result<IqType, StanzaError> {
        let bad = |text: &str| {
            Err(StanzaError::new(StanzaErrorCondition::BadRequest).with_text(text.to_owned()))
        };
        if self.kind != StanzaKind::Iq {
            return bad("not an iq");
        }
        if self.id().is_none_or(str::is_empty) {
            return bad("an iq needs an id (RFC 6120 section 8.2.3)");
        }
        let Some(t) = self.stanza_type().and_then(IqType::from_wire) else {
            return bad("an iq needs a type of get, set, result or error");
        };
        if t.is_request() && self.element.children().count() != 1 {
            return bad("an iq get or set carries exactly one payload element");
        }
        Ok(t)
    }

    /// The single payload child of an IQ request.
    pub fn iq_payload(&self) -> Option<&Element> {
        self.element.children().next()
    }

    /// The error reply to this stanza (§8.3.1): same kind and id, `from`/`to` swapped,
    /// type='error'. Message and presence errors carry the original children so the sender can
    /// tell what failed; IQ errors carry only the error. `None` for an error stanza, which must
    /// not be answered (§8.3.1).
    pub fn error_reply(&self, error: &StanzaError) -> Option<Element> {
        if self.is_error() {
            return None;
        }
        let ns = self.element.ns().to_owned();
        let mut reply = Element::new(self.kind.as_str(), ns.clone());
        copy_reply_addressing(&self.element, &mut reply);
        reply.set_attr("type", "error");
        if self.kind != StanzaKind::Iq {
            for child in self.element.children() {
                reply.push_child(child.clone());
            }
        }
        reply.push_child(error.to_element(&ns));
        Some(reply)
    }

    /// An empty `type='result'` reply to an IQ request (§8.2.3).
    pub fn iq_result(&self) -> Element {
        let mut reply = Element::new("iq", self.element.ns().to_owned());
        copy_reply_addressing(&self.element, &mut reply);
        reply.set_attr("type", "result");
        reply
    }
}

/// Swaps `from` and `to` and copies `id` from a request onto its reply.
fn copy_reply_addressing(request: &Element, reply: &mut Element) {
    if let Some(id) = request.attr("id") {
        reply.set_attr("id", id);
    }
    if let Some(from) = request.attr("from") {
        reply.set_attr("to", from);
    }
    if let Some(to) = request.attr("to") {
        reply.set_attr("from", to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iq(children: usize) -> Stanza {
        let mut e = Element::new("iq", ns::JABBER_CLIENT)
            .with_attr("id", "p1")
            .with_attr("type", "get")
            .with_attr("from", "juliet@example.com/balcony")
            .with_attr("to", "example.com");
        for _ in 0..children {
            e.push_child(Element::new("ping", ns::PING));
        }
        Stanza::from_element(e).unwrap()
    }

    #[test]
    fn only_the_three_stanzas_in_a_content_namespace_are_stanzas() {
        assert!(Stanza::from_element(Element::new("message", ns::JABBER_CLIENT)).is_ok());
        assert!(Stanza::from_element(Element::new("iq", ns::JABBER_SERVER)).is_ok());
        assert!(Stanza::from_element(Element::new("message", "urn:other")).is_err());
        assert!(Stanza::from_element(Element::new("auth", ns::SASL)).is_err());
    }

    #[test]
    fn iq_get_needs_exactly_one_payload_section_8_2_3() {
        assert_eq!(iq(1).iq_type(), Ok(IqType::Get));
        for n in [0, 2] {
            let err = iq(n).iq_type().unwrap_err();
            assert_eq!(err.condition, StanzaErrorCondition::BadRequest);
        }
    }

    #[test]
    fn error_reply_swaps_addresses_and_never_answers_an_error_section_8_3_1() {
        let req = iq(1);
        let reply = req
            .error_reply(&StanzaError::new(StanzaErrorCondition::ServiceUnavailable))
            .unwrap();
        let mut out = String::new();
        reply.write_to(&mut out, ns::JABBER_CLIENT);
        assert_eq!(
            out,
            "<iq id='p1' to='juliet@example.com/balcony' from='example.com' type='error'>\
             <error type='cancel'><service-unavailable \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        );
        let err = Stanza::from_element(reply).unwrap();
        assert!(
            err.error_reply(&StanzaError::new(StanzaErrorCondition::BadRequest))
                .is_none()
        );
    }
}
