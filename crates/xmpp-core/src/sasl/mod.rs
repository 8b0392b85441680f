//! I/O-free SASL mechanisms for RFC 6120 §6: SCRAM-SHA-1 (RFC 5802), SCRAM-SHA-256
//! (RFC 7677), their -PLUS variants with `tls-exporter` channel binding (RFC 9266), and
//! PLAIN (RFC 4616).
//!
//! The mechanisms are state machines over byte strings: the caller decodes the base64 of
//! `<auth/>` and `<response/>` (RFC 6120 §6.4.2), feeds the bytes in, looks credentials up
//! between steps, and sends what comes out. Nothing here reads a socket or a database.
//!
//! Passwords are never stored: an account keeps [`ScramCredentials`] per hash family, and
//! PLAIN is verified by deriving the same keys from the presented password.

mod attrs;
mod credentials;
mod plain;
mod profile;
mod scram;
mod scram_client;

#[cfg(test)]
mod tests;

use precis_core::profile::PrecisFastInvocation;
use precis_profiles::OpaqueString;

pub use credentials::{ScramCredentials, ScramHash};
pub use plain::{PlainRequest, parse_plain, plain_client_message, verify_plain};
pub use profile::{SaslProfile, decode as decode_data};
pub use scram::{ChannelBinding, ClientFirst, DEFAULT_DECOY_ITERATIONS, ScramServer};
pub use scram_client::{
    ClientChannelBinding, MAX_CLIENT_ITERATIONS, SaltedPasswordCache, ScramClient,
};

/// The SASL mechanisms Starling implements, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// SCRAM-SHA-256 with channel binding (RFC 7677, RFC 5802 §6).
    ScramSha256Plus,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM-SHA-1 with channel binding (RFC 5802 §6).
    ScramSha1Plus,
    /// SCRAM-SHA-1 (RFC 5802).
    ScramSha1,
    /// PLAIN (RFC 4616); only acceptable over TLS (RFC 6120 §13.8).
    Plain,
}

impl Mechanism {
    /// Every mechanism, strongest first (the order to advertise them in).
    pub const ALL: [Mechanism; 5] = [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];

    /// The registered SASL mechanism name (RFC 5802 §4, RFC 7677 §3, RFC 4616 §2).
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::Plain => "PLAIN",
        }
    }

    /// Looks a mechanism up by its name. Names are matched exactly: RFC 4422 §3.1 defines
    /// them in upper case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The SCRAM hash family, or `None` for PLAIN.
    pub fn hash(self) -> Option<ScramHash> {
        match self {
            Mechanism::ScramSha256Plus | Mechanism::ScramSha256 => Some(ScramHash::Sha256),
            Mechanism::ScramSha1Plus | Mechanism::ScramSha1 => Some(ScramHash::Sha1),
            Mechanism::Plain => None,
        }
    }

    /// True for the channel-binding (-PLUS) variants (RFC 5802 §6).
    pub fn is_plus(self) -> bool {
        matches!(self, Mechanism::ScramSha256Plus | Mechanism::ScramSha1Plus)
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SASL failure conditions of RFC 6120 §6.5. [`SaslFailure::as_str`] is the name of the
/// child element of `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("SASL failure: {}", self.as_str())]
pub enum SaslFailure {
    /// §6.5.1: the client aborted the exchange.
    Aborted,
    /// §6.5.2: the account is disabled.
    AccountDisabled,
    /// §6.5.3: the credentials have expired.
    CredentialsExpired,
    /// §6.5.4: the mechanism needs a protected stream.
    EncryptionRequired,
    /// §6.5.5: bad base64 in the exchange.
    IncorrectEncoding,
    /// §6.5.6: the authorization identity is malformed or not permitted.
    InvalidAuthzid,
    /// §6.5.7: no such mechanism, or not offered.
    InvalidMechanism,
    /// §6.5.8: the data violates the mechanism's syntax.
    MalformedRequest,
    /// §6.5.9: the mechanism is weaker than policy permits.
    MechanismTooWeak,
    /// §6.5.10: bad credentials, unknown user, or any failure not worth explaining.
    NotAuthorized,
    /// §6.5.11: a temporary error on the server side (e.g. the account store is down).
    TemporaryAuthFailure,
}

impl SaslFailure {
    /// The element name defined in RFC 6120 §6.5.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslFailure::Aborted => "aborted",
            SaslFailure::AccountDisabled => "account-disabled",
            SaslFailure::CredentialsExpired => "credentials-expired",
            SaslFailure::EncryptionRequired => "encryption-required",
            SaslFailure::IncorrectEncoding => "incorrect-encoding",
            SaslFailure::InvalidAuthzid => "invalid-authzid",
            SaslFailure::InvalidMechanism => "invalid-mechanism",
            SaslFailure::MalformedRequest => "malformed-request",
            SaslFailure::MechanismTooWeak => "mechanism-too-weak",
            SaslFailure::NotAuthorized => "not-authorized",
            SaslFailure::TemporaryAuthFailure => "temporary-auth-failure",
        }
    }

    /// Parses an element name of RFC 6120 §6.5 (e.g. on the client side of a `<failure/>`).
    pub fn from_name(name: &str) -> Option<Self> {
        use SaslFailure::*;
        [
            Aborted,
            AccountDisabled,
            CredentialsExpired,
            EncryptionRequired,
            IncorrectEncoding,
            InvalidAuthzid,
            InvalidMechanism,
            MalformedRequest,
            MechanismTooWeak,
            NotAuthorized,
            TemporaryAuthFailure,
        ]
        .into_iter()
        .find(|f| f.as_str() == name)
    }
}

/// Prepares a password with the PRECIS OpaqueString profile (RFC 8265 §4.2), as RFC 7677
/// §4 recommends in place of SASLprep. Apply it both when deriving stored credentials and
/// before verifying a presented password, so that e.g. a password typed with a different
/// Unicode normalization or a non-ASCII space still matches.
///
/// A password the profile rejects (empty, control characters, ...) cannot match anything,
/// hence [`SaslFailure::NotAuthorized`].
pub fn normalize_password(p: &str) -> Result<String, SaslFailure> {
    if p.bytes().all(|b| (0x20..=0x7e).contains(&b)) && !p.is_empty() {
        // Printable ASCII and space are left unchanged by OpaqueString (RFC 8265 §4.2.2).
        return Ok(p.to_owned());
    }
    OpaqueString::enforce(p)
        .map(|c| c.into_owned())
        .map_err(|_| SaslFailure::NotAuthorized)
}
