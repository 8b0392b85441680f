//! RFC 6120 XML streams over any async byte stream.
//!
//! - [`XmlReader`] reads a stream incrementally and yields the stream header and whole
//!   top-level elements, enforcing the stream rules of RFC 6120 §4, the restricted XML of §11
//!   and the [`ReaderLimits`]. Every violation maps to the stream error condition the RFC
//!   names ([`ReadError::Stream`]).
//! - [`XmlWriter`] serializes elements into a buffer and flushes them in batches.
//! - [`Transport`] is TCP or TLS on either side, with the RFC 9266 `tls-exporter` value;
//!   [`ServerTls`] accepts TLS, and [`Records`] protects a server connection's records once
//!   rustls negotiated its keys.
//! - [`client`] negotiates a client stream (tests and the load generator).
//!
//! Architecture invariant: the reader never buffers more than `max_stanza_bytes` of one
//! top-level element, whatever the input, because the limit is enforced in the byte source
//! below the XML parser.

pub mod client;
mod error;
mod header;
mod limits;
mod reader;
mod source;
#[cfg(feature = "test-support")]
pub mod tls_testing;
mod transport;
mod writer;

#[cfg(test)]
mod test_util;

pub use error::ReadError;
pub use header::StreamHeader;
pub use limits::ReaderLimits;
pub use reader::{StreamEvent, XmlReader};
pub use transport::{Records, ServerTls, Transport, server_ordered_provider};
pub use writer::XmlWriter;

/// The ALPN protocol of client-to-server connections over direct TLS (XEP-0368 §3: "When
/// ALPN is used, the ALPN protocol MUST be 'xmpp-client'"), which the server selects and a
/// direct TLS client offers (a STARTTLS client offers none: the protocol is known by then).
pub const ALPN_XMPP_CLIENT: &[u8] = b"xmpp-client";
