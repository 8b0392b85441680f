//! The client side of SCRAM (RFC 5802, RFC 7677), for tests and load generation.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use subtle::ConstantTimeEq;

use super::attrs::{self, attr, required};
use super::{Mechanism, SaslFailure, ScramCredentials, ScramHash, normalize_password};

/// The largest iteration count the client accepts from a server. A hostile server could
/// otherwise make the client spin for hours (RFC 5802 §9 leaves the count to the server).
pub const MAX_CLIENT_ITERATIONS: u32 = 10_000_000;

/// What the client does about channel binding: the gs2-cbind-flag it sends
/// (RFC 5802 §6, §7).
#[derive(Clone)]
pub enum ClientChannelBinding {
    /// "n": the client does not support channel binding.
    None,
    /// "y": the client supports channel binding but the server did not offer -PLUS.
    SupportedButNotOffered,
    /// "p=tls-exporter": bind to this TLS connection's exporter output (RFC 9266); only
    /// with a -PLUS mechanism.
    TlsExporter(Vec<u8>),
}

impl fmt::Debug for ClientChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientChannelBinding::None => "None",
            ClientChannelBinding::SupportedButNotOffered => "SupportedButNotOffered",
            ClientChannelBinding::TlsExporter(_) => "TlsExporter(..)",
        })
    }
}

/// SaltedPassword values a client has derived, reused when a server offers the same salt and
/// iteration count again. RFC 5802 §5.1: "a client implementation MAY cache
/// ClientKey&ServerKey (or just SaltedPassword) for later reauthentication to the same
/// service". A load generator logging thousands of users in with one password and one salt
/// would otherwise spend most of its CPU on PBKDF2 and measure itself, not the server.
///
/// Bounded: it holds at most `capacity` values; once full, new values are derived for each
/// exchange and not kept. It holds passwords, so it belongs to test and load clients only.
pub struct SaltedPasswordCache {
    capacity: usize,
    entries: Mutex<HashMap<SaltedKey, Arc<[u8]>>>,
}

/// What a SaltedPassword depends on (RFC 5802 §3: `Hi(Normalize(password), salt, i)`).
type SaltedKey = (ScramHash, String, Vec<u8>, u32);

impl SaltedPasswordCache {
    /// An empty cache that keeps at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The SaltedPassword for these inputs, derived now unless held. Two exchanges missing
    /// at once both derive it; the value is the same, so either may be kept.
    fn salted_password(
        &self,
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Arc<[u8]> {
        let key = (hash, password.to_owned(), salt.to_vec(), iterations);
        if let Some(v) = self.lock().get(&key) {
            return v.clone();
        }
        let v: Arc<[u8]> = hash
            .salted_password(password.as_bytes(), salt, iterations)
            .into();
        let mut entries = self.lock();
        if entries.len() < self.capacity {
            entries.insert(key, v.clone());
        }
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SaltedKey, Arc<[u8]>>> {
        // A panic while holding the lock cannot leave the map half-written (insert is one
        // call), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for SaltedPasswordCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaltedPasswordCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

/// One client-side SCRAM exchange (RFC 5802 §5).
pub struct ScramClient {
    mechanism: Mechanism,
    hash: ScramHash,
    /// `cbind-input` (§7): the gs2-header, plus the channel binding data for "p".
    cbind_input: Vec<u8>,
    gs2_header_len: usize,
    password: String,
    client_nonce: String,
    client_first_bare: String,
    /// Set by `handle_server_first`: what the server must prove in server-final-message.
    server_signature: Option<Vec<u8>>,
    /// Where to look for, and keep, the SaltedPassword (none: derive it every time).
    cache: Option<Arc<SaltedPasswordCache>>,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism)
            .field("client_first_bare", &self.client_first_bare)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Prepares an exchange. The password is normalized with OpaqueString
    /// ([`normalize_password`]); the username is sent as given (the server normalizes it),
    /// with ',' and '=' escaped (§5.1).
    ///
    /// Fails with `invalid-mechanism` for PLAIN, or when `cb` does not fit the mechanism:
    /// a -PLUS mechanism needs [`ClientChannelBinding::TlsExporter`], which is only valid
    /// with -PLUS.
    ///
    /// # Panics
    ///
    /// If the OS random number generator fails.
    pub fn new(
        mechanism: Mechanism,
        username: &str,
        password: &str,
        cb: ClientChannelBinding,
    ) -> Result<Self, SaslFailure> {
        Self::with_nonce(mechanism, username, password, cb, &attrs::random_nonce())
    }

    /// Like [`ScramClient::new`] with a fixed client nonce, to reproduce the RFC test
    /// vectors. RFC 5802 §5.1 requires a fresh nonce for real use.
    #[doc(hidden)]
    pub fn with_nonce(
        mechanism: Mechanism,
        username: &str,
        password: &str,
        cb: ClientChannelBinding,
        client_nonce: &str,
    ) -> Result<Self, SaslFailure> {
        let hash = mechanism.hash().ok_or(SaslFailure::InvalidMechanism)?;
        let (flag, cb_data) = match (mechanism.is_plus(), cb) {
            (true, ClientChannelBinding::TlsExporter(data)) => ("p=tls-exporter", data),
            (false, ClientChannelBinding::None) => ("n", Vec::new()),
            (false, ClientChannelBinding::SupportedButNotOffered) => ("y", Vec::new()),
            _ => return Err(SaslFailure::InvalidMechanism),
        };
        if username.is_empty() || !attrs::is_printable(client_nonce) {
            return Err(SaslFailure::MalformedRequest);
        }
        let gs2_header = format!("{flag},,");
        let mut cbind_input = gs2_header.clone().into_bytes();
        cbind_input.extend_from_slice(&cb_data);
        Ok(ScramClient {
            mechanism,
            hash,
            cbind_input,
            gs2_header_len: gs2_header.len(),
            password: normalize_password(password)?,
            client_nonce: client_nonce.to_owned(),
            client_first_bare: format!("n={},r={client_nonce}", attrs::encode_saslname(username)),
            server_signature: None,
            cache: None,
        })
    }

    /// Looks the SaltedPassword up in `cache`, and keeps it there, instead of deriving it at
    /// every exchange (RFC 5802 §5.1 allows a client to cache it).
    #[must_use]
    pub fn with_salted_password_cache(mut self, cache: Arc<SaltedPasswordCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The client-first-message (§5.1): gs2-header, username and client nonce.
    pub fn client_first(&mut self) -> Vec<u8> {
        let mut msg = self.cbind_input[..self.gs2_header_len].to_vec();
        msg.extend_from_slice(self.client_first_bare.as_bytes());
        msg
    }

    /// Checks the server-first-message and computes the client-final-message with the
    /// ClientProof (§3, §5.1). The server's nonce must extend ours (§5.1), otherwise the
    /// exchange is `not-authorized`.
    pub fn handle_server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, SaslFailure> {
        if self.server_signature.is_some() {
            return Err(SaslFailure::MalformedRequest);
        }
        let server_first = attrs::text(msg)?;
        // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
        //                        ["," extensions]
        let mut fields = server_first.split(',');
        let first = fields.next();
        if first.is_some_and(|f| attr(f, 'm').is_some()) {
            return Err(SaslFailure::MalformedRequest);
        }
        let nonce = required(first, 'r')?;
        let salt = required(fields.next(), 's')?;
        let iterations = required(fields.next(), 'i')?;
        attrs::check_extensions(fields)?;
        if !attrs::is_printable(nonce)
            || !nonce.starts_with(&self.client_nonce)
            || nonce.len() == self.client_nonce.len()
        {
            return Err(SaslFailure::NotAuthorized);
        }
        let salt = attrs::b64_decode(salt)?;
        let iterations = attrs::posit_number(iterations)
            .filter(|i| *i <= MAX_CLIENT_ITERATIONS)
            .ok_or(SaslFailure::MalformedRequest)?;

        let salted: Arc<[u8]> = match &self.cache {
            Some(cache) => cache.salted_password(self.hash, &self.password, &salt, iterations),
            None => self
                .hash
                .salted_password(self.password.as_bytes(), &salt, iterations)
                .into(),
        };
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let keys = ScramCredentials::from_salted_password(self.hash, &salted, &salt, iterations);
        let without_proof = format!("c={},r={nonce}", attrs::b64_encode(&self.cbind_input));
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = self.hash.hmac(&keys.stored_key, auth_message.as_bytes());
        let proof = attrs::xor(&client_key, &signature);
        self.server_signature = Some(self.hash.hmac(&keys.server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", attrs::b64_encode(&proof)).into_bytes())
    }

    /// Checks the server-final-message (§5.1): the server proves it knows ServerKey. An
    /// `e=` error or a wrong signature is `not-authorized`; the client must then consider
    /// the authentication failed even if the server announced success.
    pub fn verify_server_final(&self, msg: &[u8]) -> Result<(), SaslFailure> {
        let expected = self
            .server_signature
            .as_ref()
            .ok_or(SaslFailure::MalformedRequest)?;
        let s = attrs::text(msg)?;
        let mut fields = s.split(',');
        let first = fields.next();
        if first.is_some_and(|f| attr(f, 'e').is_some()) {
            return Err(SaslFailure::NotAuthorized);
        }
        let verifier = required(first, 'v')?;
        attrs::check_extensions(fields)?;
        let verifier = attrs::b64_decode(verifier)?;
        if bool::from(verifier.ct_eq(expected)) {
            Ok(())
        } else {
            Err(SaslFailure::NotAuthorized)
        }
    }
}
