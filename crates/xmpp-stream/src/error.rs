//! What can end reading a stream.

use xmpp_core::{StreamError, StreamErrorCondition};

/// Why [`crate::XmlReader::next`] could not produce an event. Every variant ends the stream.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer sent something RFC 6120 does not allow: send this `<stream:error/>` and close
    /// the stream (§4.9.1.1).
    #[error("stream error: {0}")]
    Stream(StreamError),
    /// The transport failed; nothing more can be sent or received.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
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
