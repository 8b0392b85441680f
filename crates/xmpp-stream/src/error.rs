//! What can end reading a stream.

use xmpp_core::{StreamError, StreamErrorCondition};

/// Why [`crate::XmlReader::next`] could not produce an event. Every variant ends the stream.
///
/// A variant that wraps another error says it in its own message and does not also return
/// it as its `source()` (ARCHITECTURE.md, "Errors"), so the error and its chain say each
/// cause once.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer sent something RFC 6120 does not allow: send this `<stream:error/>` and close
    /// the stream (§4.9.1.1).
    #[error("stream error: {0}")]
    Stream(StreamError),
    /// The transport failed; nothing more can be sent or received.
    #[error("i/o error: {0}")]
    Io(std::io::Error),
    /// The peer closed the connection without closing the stream first (§4.4).
    #[error("connection closed by the peer")]
    Eof,
}

impl ReadError {
    /// The stream error condition, when this is a stream error.
    pub fn condition(&self) -> Option<StreamErrorCondition> {
        match self {
            ReadError::Stream(e) => Some(e.condition),
            ReadError::Io(_) | ReadError::Eof => None,
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl From<StreamError> for ReadError {
    fn from(e: StreamError) -> Self {
        ReadError::Stream(e)
    }
}

/// Shorthands for the stream errors the reader produces, each with a text that says what was
/// wrong (§4.9.2: for humans and logs, never for program logic).
pub(crate) fn not_well_formed(text: impl Into<String>) -> StreamError {
    StreamError::with_text(StreamErrorCondition::NotWellFormed, text)
}

pub(crate) fn restricted_xml(text: impl Into<String>) -> StreamError {
    StreamError::with_text(StreamErrorCondition::RestrictedXml, text)
}

pub(crate) fn policy_violation(text: impl Into<String>) -> StreamError {
    StreamError::with_text(StreamErrorCondition::PolicyViolation, text)
}

pub(crate) fn invalid_namespace(text: impl Into<String>) -> StreamError {
    StreamError::with_text(StreamErrorCondition::InvalidNamespace, text)
}

pub(crate) fn bad_namespace_prefix(text: impl Into<String>) -> StreamError {
    StreamError::with_text(StreamErrorCondition::BadNamespacePrefix, text)
}

pub(crate) fn unsupported_encoding(text: impl Into<String>) -> StreamError {
    StreamError::with_text(StreamErrorCondition::UnsupportedEncoding, text)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::client::ClientError;

    /// Each cause is said once: in the message, not again as the source (so a chain printed
    /// whole does not repeat it).
    #[test]
    fn a_wrapped_error_is_said_in_the_message_only() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let read = ReadError::from(reset);
        assert_eq!(read.to_string(), "i/o error: reset by peer");
        assert!(read.source().is_none());
        let client = ClientError::from(read);
        assert_eq!(client.to_string(), "read: i/o error: reset by peer");
        assert!(client.source().is_none());
        let io = ClientError::from(std::io::Error::other("refused"));
        assert_eq!(io.to_string(), "i/o: refused");
        assert!(io.source().is_none());
    }
}
