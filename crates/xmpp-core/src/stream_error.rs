//! RFC 6120 §4.9: stream errors. A stream error is unrecoverable: the entity that detects it
//! sends `<stream:error/>` and closes the stream.

use crate::element::Element;
use crate::ns;

macro_rules! conditions {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every condition, in the order the specification lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The element name of the condition on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }

            /// The condition named `wire`, if it is one the specification defines.
            pub fn from_wire(wire: &str) -> Option<Self> {
                match wire {
                    $($wire => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use conditions;

conditions! {
    /// The defined stream error conditions of RFC 6120 §4.9.3.
    StreamErrorCondition {
        /// §4.9.3.1
        BadFormat => "bad-format",
        /// §4.9.3.2
        BadNamespacePrefix => "bad-namespace-prefix",
        /// §4.9.3.3
        Conflict => "conflict",
        /// §4.9.3.4
        ConnectionTimeout => "connection-timeout",
        /// §4.9.3.5
        HostGone => "host-gone",
        /// §4.9.3.6
        HostUnknown => "host-unknown",
        /// §4.9.3.7
        ImproperAddressing => "improper-addressing",
        /// §4.9.3.8
        InternalServerError => "internal-server-error",
        /// §4.9.3.9
        InvalidFrom => "invalid-from",
        /// §4.9.3.10
        InvalidNamespace => "invalid-namespace",
        /// §4.9.3.11
        InvalidXml => "invalid-xml",
        /// §4.9.3.12
        NotAuthorized => "not-authorized",
        /// §4.9.3.13
        NotWellFormed => "not-well-formed",
        /// §4.9.3.14
        PolicyViolation => "policy-violation",
        /// §4.9.3.15
        RemoteConnectionFailed => "remote-connection-failed",
        /// §4.9.3.16
        Reset => "reset",
        /// §4.9.3.17
        ResourceConstraint => "resource-constraint",
        /// §4.9.3.18
        RestrictedXml => "restricted-xml",
        /// §4.9.3.19
        SeeOtherHost => "see-other-host",
        /// §4.9.3.20
        SystemShutdown => "system-shutdown",
        /// §4.9.3.21
        UndefinedCondition => "undefined-condition",
        /// §4.9.3.22
        UnsupportedEncoding => "unsupported-encoding",
        /// §4.9.3.23
        UnsupportedFeature => "unsupported-feature",
        /// §4.9.3.24
        UnsupportedStanzaType => "unsupported-stanza-type",
        /// §4.9.3.25
        UnsupportedVersion => "unsupported-version",
    }
}

/// A stream error to send: the condition and an optional human-readable text (§4.9.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The defined condition.
    pub condition: StreamErrorCondition,
    /// Optional descriptive text, for logs and humans, never for program logic (§4.9.2).
    pub text: Option<String>,
}

impl StreamError {
    /// A stream error with no text.
    pub fn new(condition: StreamErrorCondition) -> Self {
        Self {
            condition,
            text: None,
        }
    }

    /// A stream error with descriptive text.
    pub fn with_text(condition: StreamErrorCondition, text: impl Into<String>) -> Self {
        Self {
            condition,
            text: Some(text.into()),
        }
    }

    /// `<stream:error><condition xmlns='…streams'/><text …/></stream:error>` (§4.9.2).
    pub fn to_element(&self) -> Element {
        let mut e = Element::new("error", ns::STREAM)
            .with_child(Element::new(self.condition.as_str(), ns::STREAM_ERRORS));
        if let Some(text) = &self.text {
            e.push_child(
                Element::new("text", ns::STREAM_ERRORS)
                    .with_attr("xml:lang", "en")
                    .with_text(text.clone()),
            );
        }
        e
    }

    /// Reads a received `<stream:error/>`; unknown conditions become `undefined-condition`
    /// (§4.9.3.21 says an unknown condition is treated as undefined).
    pub fn from_element(e: &Element) -> Option<Self> {
        if !e.is("error", ns::STREAM) {
            return None;
        }
        let mut condition = StreamErrorCondition::UndefinedCondition;
        let mut text = None;
        for child in e.children().filter(|c| c.ns() == ns::STREAM_ERRORS) {
            if child.name() == "text" {
                text = Some(child.text());
            } else if let Some(c) = StreamErrorCondition::from_wire(child.name()) {
                condition = c;
            }
        }
        Some(Self { condition, text })
    }
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.text {
            Some(t) => write!(f, "{}: {t}", self.condition),
            None => write!(f, "{}", self.condition),
        }
    }
}

impl std::error::Error for StreamError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_twenty_five_conditions_of_section_4_9_3_round_trip() {
        assert_eq!(StreamErrorCondition::ALL.len(), 25);
        for c in StreamErrorCondition::ALL {
            let e = StreamError::new(*c).to_element();
            assert_eq!(StreamError::from_element(&e).unwrap().condition, *c);
        }
    }

    #[test]
    fn example_of_section_4_9_2() {
        let e = StreamError::with_text(StreamErrorCondition::NotWellFormed, "bad input");
        assert_eq!(
            e.to_element().to_xml(),
            "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>bad input</text>\
             </stream:error>"
        );
    }
}
