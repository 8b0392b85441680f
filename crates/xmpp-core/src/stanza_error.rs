//! RFC 6120 §8.3: stanza errors. A stanza error is recoverable: it answers one stanza and the
//! stream goes on.

use crate::element::Element;
use crate::ns;
use crate::stream_error::conditions;

/// The error type of §8.3.2, which tells the sender what to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// Retry after providing credentials.
    Auth,
    /// Do not retry (the error cannot be remedied).
    Cancel,
    /// Proceed (the condition was only a warning).
    Continue,
    /// Retry after changing the data sent.
    Modify,
    /// Retry after waiting (the error is temporary).
    Wait,
}

impl ErrorType {
    /// The `type` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Continue => "continue",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }

    /// Parses the `type` attribute value.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "auth" => ErrorType::Auth,
            "cancel" => ErrorType::Cancel,
            "continue" => ErrorType::Continue,
            "modify" => ErrorType::Modify,
            "wait" => ErrorType::Wait,
            _ => return None,
        })
    }
}

conditions! {
    /// The defined stanza error conditions of RFC 6120 §8.3.3.
    StanzaErrorCondition {
        /// §8.3.3.1
        BadRequest => "bad-request",
        /// §8.3.3.2
        Conflict => "conflict",
        /// §8.3.3.3
        FeatureNotImplemented => "feature-not-implemented",
        /// §8.3.3.4
        Forbidden => "forbidden",
        /// §8.3.3.5
        Gone => "gone",
        /// §8.3.3.6
        InternalServerError => "internal-server-error",
        /// §8.3.3.7
        ItemNotFound => "item-not-found",
        /// §8.3.3.8
        JidMalformed => "jid-malformed",
        /// §8.3.3.9
        NotAcceptable => "not-acceptable",
        /// §8.3.3.10
        NotAllowed => "not-allowed",
        /// §8.3.3.11
        NotAuthorized => "not-authorized",
        /// §8.3.3.12
        PolicyViolation => "policy-violation",
        /// §8.3.3.13
        RecipientUnavailable => "recipient-unavailable",
        /// §8.3.3.14
        Redirect => "redirect",
        /// §8.3.3.15
        RegistrationRequired => "registration-required",
        /// §8.3.3.16
        RemoteServerNotFound => "remote-server-not-found",
        /// §8.3.3.17
        RemoteServerTimeout => "remote-server-timeout",
        /// §8.3.3.18
        ResourceConstraint => "resource-constraint",
        /// §8.3.3.19
        ServiceUnavailable => "service-unavailable",
        /// §8.3.3.20
        SubscriptionRequired => "subscription-required",
        /// §8.3.3.21
        UndefinedCondition => "undefined-condition",
        /// §8.3.3.22
        UnexpectedRequest => "unexpected-request",
    }
}

impl StanzaErrorCondition {
    /// The error type the examples of §8.3.3 pair with each condition; used when a caller does
    /// not choose one.
    pub fn default_type(self) -> ErrorType {
        use StanzaErrorCondition::*;
        match self {
            BadRequest | JidMalformed | NotAcceptable | PolicyViolation | Redirect => {
                ErrorType::Modify
            }
            Forbidden | NotAuthorized | RegistrationRequired | SubscriptionRequired => {
                ErrorType::Auth
            }
            RecipientUnavailable | RemoteServerTimeout | ResourceConstraint | UnexpectedRequest => {
                ErrorType::Wait
            }
            Conflict
            | FeatureNotImplemented
            | Gone
            | InternalServerError
            | ItemNotFound
            | NotAllowed
            | RemoteServerNotFound
            | ServiceUnavailable
            | UndefinedCondition => ErrorType::Cancel,
        }
    }
}

/// A stanza error (§8.3.2): type, defined condition, optional text and application condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StanzaError {
    /// What the sender should do next.
    pub error_type: ErrorType,
    /// The defined condition.
    pub condition: StanzaErrorCondition,
    /// Optional descriptive text.
    pub text: Option<String>,
    /// The `by` attribute: the entity that detected the error (§8.3.2).
    pub by: Option<String>,
    /// An application-specific condition element (§8.3.4). Boxed: rare, and it would
    /// otherwise make every `Result<_, StanzaError>` large.
    pub application: Option<Box<Element>>,
}

impl StanzaError {
    /// An error with the condition's usual type and no text.
    pub fn new(condition: StanzaErrorCondition) -> Self {
        Self::typed(condition.default_type(), condition)
    }

    /// An error with an explicit type.
    pub fn typed(error_type: ErrorType, condition: StanzaErrorCondition) -> Self {
        Self {
            error_type,
            condition,
            text: None,
            by: None,
            application: None,
        }
    }

    /// Adds descriptive text.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the `by` attribute.
    #[must_use]
    pub fn with_by(mut self, by: impl Into<String>) -> Self {
        self.by = Some(by.into());
        self
    }

    /// Adds an application-specific condition (§8.3.4).
    #[must_use]
    pub fn with_application(mut self, app: Element) -> Self {
        self.application = Some(Box::new(app));
        self
    }

    /// The `<error/>` child in content namespace `content_ns` (jabber:client or jabber:server).
    pub fn to_element(&self, content_ns: &str) -> Element {
        let mut e = Element::new("error", content_ns).with_attr("type", self.error_type.as_str());
        if let Some(by) = &self.by {
            e.set_attr("by", by.clone());
        }
        e.push_child(Element::new(self.condition.as_str(), ns::STANZAS));
        if let Some(text) = &self.text {
            e.push_child(
                Element::new("text", ns::STANZAS)
                    .with_attr("xml:lang", "en")
                    .with_text(text.clone()),
            );
        }
        if let Some(app) = &self.application {
            e.push_child((**app).clone());
        }
        e
    }

    /// Reads an `<error/>` child; an unknown or missing condition becomes `undefined-condition`.
    pub fn from_element(e: &Element) -> Option<Self> {
        if e.name() != "error" {
            return None;
        }
        let error_type = e
            .attr("type")
            .and_then(ErrorType::from_wire)
            .unwrap_or(ErrorType::Cancel);
        let mut err = StanzaError::typed(error_type, StanzaErrorCondition::UndefinedCondition);
        err.by = e.attr("by").map(str::to_owned);
        for child in e.children() {
            if child.ns() == ns::STANZAS {
                if child.name() == "text" {
                    err.text = Some(child.text());
                } else if let Some(c) = StanzaErrorCondition::from_wire(child.name()) {
                    err.condition = c;
                }
            } else {
                err.application = Some(Box::new(child.clone()));
            }
        }
        Some(err)
    }
}

impl std::fmt::Display for StanzaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.condition, self.error_type.as_str())?;
        if let Some(t) = &self.text {
            write!(f, ": {t}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StanzaError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_twenty_two_conditions_of_section_8_3_3_round_trip() {
        assert_eq!(StanzaErrorCondition::ALL.len(), 22);
        for c in StanzaErrorCondition::ALL {
            let e = StanzaError::new(*c).to_element(ns::JABBER_CLIENT);
            let back = StanzaError::from_element(&e).unwrap();
            assert_eq!(back.condition, *c);
            assert_eq!(back.error_type, c.default_type());
        }
    }

    #[test]
    fn stanza_error_stays_small() {
        assert!(
            size_of::<StanzaError>() <= 64,
            "{}",
            size_of::<StanzaError>()
        );
    }

    #[test]
    fn example_of_section_8_3_2() {
        let e = StanzaError::new(StanzaErrorCondition::ServiceUnavailable)
            .to_element(ns::JABBER_CLIENT);
        let mut out = String::new();
        e.write_to(&mut out, ns::JABBER_CLIENT);
        assert_eq!(
            out,
            "<error type='cancel'>\
             <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
        );
    }
}
