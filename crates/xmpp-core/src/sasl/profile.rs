//! The two XMPP profiles that carry a SASL exchange on the wire: RFC 6120 §6 and XEP-0388
//! (SASL2). The mechanisms are the same; the element names around their data differ, and
//! both sides of a stream need the same forms, so they live here once.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::SaslFailure;
use crate::{Element, ns};

/// Which profile an exchange uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslProfile {
    /// RFC 6120 §6: `<auth/>`, `<challenge/>`, `<response/>`, `<success/>`, `<failure/>`
    /// in `urn:ietf:params:xml:ns:xmpp-sasl`, and a stream restart after success.
    Rfc6120,
    /// XEP-0388: `<authenticate/>` and the same exchange in `urn:xmpp:sasl:2`, no restart.
    Sasl2,
}

impl SaslProfile {
    /// The namespace of the profile's elements.
    pub fn ns(self) -> &'static str {
        match self {
            SaslProfile::Rfc6120 => ns::SASL,
            SaslProfile::Sasl2 => ns::SASL2,
        }
    }

    /// A `<challenge/>` or `<response/>` carrying `data` in base64.
    pub fn data(self, name: &str, data: &[u8]) -> Element {
        let mut e = Element::new(name, self.ns());
        if !data.is_empty() {
            e.push_text(BASE64.encode(data));
        }
        e
    }

    /// The initial response of an `<auth/>` (RFC 6120 §6.4.2: the element's text, "=" for an
    /// empty one) or an `<authenticate/>` (XEP-0388 §2.3: an `<initial-response/>` child,
    /// without the "=" special case). `Ok(None)` when the client sent none.
    pub fn initial_response(self, request: &Element) -> Result<Option<Vec<u8>>, SaslFailure> {
        let text = match self {
            SaslProfile::Rfc6120 => match request.text().trim() {
                "" => return Ok(None),
                "=" => return Ok(Some(Vec::new())),
                text => text.to_owned(),
            },
            SaslProfile::Sasl2 => match request.get_child("initial-response", ns::SASL2) {
                None => return Ok(None),
                Some(e) => e.text().trim().to_owned(),
            },
        };
        decode(&text).map(Some)
    }

    /// The `<failure/>` for `condition`. In SASL2 the condition keeps the RFC 6120 namespace
    /// (XEP-0388 §2.6.2) inside a failure of its own namespace.
    pub fn failure(self, condition: SaslFailure) -> Element {
        Element::new("failure", self.ns()).with_child(Element::new(condition.as_str(), ns::SASL))
    }

    /// The condition of a `<failure/>` of this profile, if `e` is one.
    pub fn failure_condition(self, e: &Element) -> Option<String> {
        if !e.is("failure", self.ns()) {
            return None;
        }
        Some(
            e.children()
                .find(|c| c.ns() == ns::SASL && c.name() != "text")
                .map(|c| c.name().to_owned())
                .unwrap_or_default(),
        )
    }
}

/// Decodes the base64 of a `<response/>`, `<challenge/>` or initial response; empty text is
/// empty data (RFC 6120 §6.4.3 lets "=" stand for it too).
pub fn decode(text: &str) -> Result<Vec<u8>, SaslFailure> {
    match text.trim() {
        "" | "=" => Ok(Vec::new()),
        text => BASE64
            .decode(text)
            .map_err(|_| SaslFailure::IncorrectEncoding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_responses_of_both_profiles() {
        let auth = |text: &str| Element::new("auth", ns::SASL).with_text(text);
        let rfc = SaslProfile::Rfc6120;
        // RFC 6120 §6.4.2: no text is no initial response, "=" an empty one.
        assert_eq!(rfc.initial_response(&auth("")), Ok(None));
        assert_eq!(rfc.initial_response(&auth("=")), Ok(Some(Vec::new())));
        assert_eq!(
            rfc.initial_response(&auth("AGE=")),
            Ok(Some(b"\0a".to_vec()))
        );
        assert_eq!(
            rfc.initial_response(&auth("!!")),
            Err(SaslFailure::IncorrectEncoding)
        );
        // XEP-0388 §2.3: the child element, present or not; its empty text is empty data.
        let sasl2 = SaslProfile::Sasl2;
        let authenticate = Element::new("authenticate", ns::SASL2);
        assert_eq!(sasl2.initial_response(&authenticate), Ok(None));
        let empty = authenticate
            .clone()
            .with_child(Element::new("initial-response", ns::SASL2));
        assert_eq!(sasl2.initial_response(&empty), Ok(Some(Vec::new())));
        let data =
            authenticate.with_child(Element::new("initial-response", ns::SASL2).with_text("AGE="));
        assert_eq!(sasl2.initial_response(&data), Ok(Some(b"\0a".to_vec())));
    }

    #[test]
    fn failures_of_both_profiles_xep_0388_2_6_2() {
        let rfc = SaslProfile::Rfc6120.failure(SaslFailure::NotAuthorized);
        assert_eq!(
            rfc.to_string(),
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
        );
        let sasl2 = SaslProfile::Sasl2.failure(SaslFailure::Aborted);
        assert_eq!(
            sasl2.to_string(),
            "<failure xmlns='urn:xmpp:sasl:2'>\
             <aborted xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>"
        );
        assert_eq!(
            SaslProfile::Sasl2.failure_condition(&sasl2).as_deref(),
            Some("aborted")
        );
        // A failure of the other profile is not this profile's.
        assert_eq!(SaslProfile::Sasl2.failure_condition(&rfc), None);
    }
}
