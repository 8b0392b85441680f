//! Pure XMPP protocol types for Starling: addresses (RFC 7622), the element tree, stanzas and
//! their errors (RFC 6120 §8), stream errors (RFC 6120 §4.9), I/O-free SASL mechanisms
//! (RFC 6120 §6, RFC 5802, RFC 7677, RFC 4616), and the roster and presence subscription rules
//! of RFC 6121 §2, §3 and Appendix A.
//!
//! Architecture invariant: this crate does no I/O and depends on no runtime, so every rule of
//! the protocol can be tested with literal XML and no sockets.

pub mod element;
pub mod jid;
pub mod ns;
pub mod roster;
pub mod sasl;
pub mod stanza;
pub mod stanza_error;
pub mod stream_error;
pub mod subscription;

pub use element::{Addressable, Attribute, Element, Node, XmlParseError};
pub use jid::{Jid, JidError};
pub use stanza::{IqType, Stanza, StanzaKind};
pub use stanza_error::{ErrorType, StanzaError, StanzaErrorCondition};
pub use stream_error::{StreamError, StreamErrorCondition};
