//! The server side of SCRAM (RFC 5802, RFC 7677), with `tls-exporter` channel binding
//! (RFC 9266) for the -PLUS variants.
//!
//! The exchange is split so that the caller can look the account up between the steps:
//! [`ScramServer::handle_client_first`] yields the username, the caller fetches the
//! [`ScramCredentials`] and hands them to [`ScramServer::server_first`], and
//! [`ScramServer::handle_client_final`] checks the proof.

use std::fmt;
use std::sync::OnceLock;

use subtle::{Choice, ConstantTimeEq};

use super::attrs::{self, attr, required};
use super::{Mechanism, SaslFailure, ScramCredentials, ScramHash};
use crate::jid::{Jid, normalize_localpart};

/// Iteration count announced for accounts that do not exist; the minimum RFC 7677 §4 and
/// RFC 5802 §5.1 ask for, and what accounts are created with by default.
pub const DEFAULT_DECOY_ITERATIONS: u32 = 4096;

/// Salt length of decoy accounts, matching the 16-byte salts of real ones.
const DECOY_SALT_LEN: usize = 16;

/// The only channel binding type supported: RFC 9266, the one defined for TLS 1.3.
const TLS_EXPORTER: &str = "tls-exporter";

/// What the underlying connection offers for channel binding (RFC 5802 §6).
#[derive(Clone)]
pub enum ChannelBinding {
    /// The connection has no channel binding (plain TCP, or TLS without exporter data):
    /// -PLUS mechanisms are not offered.
    Unsupported,
    /// TLS: `tls-exporter` data (RFC 9266) is available. `advertised_plus` says whether the
    /// server offered -PLUS mechanisms on this stream, which decides how a client's "y"
    /// flag is judged.
    TlsExporter {
        /// The 32 bytes exported with the label "EXPORTER-Channel-Binding".
        data: Vec<u8>,
        /// Whether -PLUS mechanisms were in the advertised `<mechanisms/>`.
        advertised_plus: bool,
    },
}

impl fmt::Debug for ChannelBinding {
    // The exporter output is keying material: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelBinding::Unsupported => f.write_str("Unsupported"),
            ChannelBinding::TlsExporter {
                advertised_plus, ..
            } => f
                .debug_struct("TlsExporter")
                .field("advertised_plus", advertised_plus)
                .finish_non_exhaustive(),
        }
    }
}

/// What the client-first-message says about who is authenticating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The authentication identity, with `=2C`/`=3D` decoded (RFC 5802 §5.1) and normalized
    /// as a localpart (RFC 7622 §3.3; RFC 6120 §6.3.7: the simple user name of an XMPP
    /// account is its localpart).
    pub username: String,
    /// The requested authorization identity (the `a=` attribute), normalized as a bare JID
    /// (RFC 6120 §6.3.8). Whether the user may act as it is the caller's decision.
    pub authzid: Option<String>,
}

/// The gs2-cbind-flag of RFC 5802 §7.
enum CbFlag<'a> {
    /// "n": the client does not support channel binding.
    No,
    /// "y": the client supports it but believes the server does not.
    ClientOnly,
    /// "p=<cb-name>": the client requires channel binding of that type.
    Required(&'a str),
}

enum State {
    Start,
    GotClientFirst {
        cbind_input: Vec<u8>,
        client_first_bare: String,
        client_nonce: String,
        username: String,
    },
    SentServerFirst {
        cbind_input: Vec<u8>,
        /// `client-first-message-bare "," server-first-message`, the start of AuthMessage.
        auth_prefix: String,
        nonce: String,
        creds: ScramCredentials,
        /// False when `creds` are a decoy for an unknown user.
        known: bool,
    },
    /// Finished, successfully or not; no further step is accepted.
    Done,
}

/// One server-side SCRAM exchange (RFC 5802 §5).
pub struct ScramServer {
    mechanism: Mechanism,
    hash: ScramHash,
    cb: ChannelBinding,
    server_nonce: String,
    decoy_secret: Option<Vec<u8>>,
    decoy_iterations: u32,
    state: State,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start => "start",
            State::GotClientFirst { .. } => "got-client-first",
            State::SentServerFirst { .. } => "sent-server-first",
            State::Done => "done",
        };
        f.debug_struct("ScramServer")
            .field("mechanism", &self.mechanism)
            .field("cb", &self.cb)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// Starts an exchange for `mechanism` on a connection with channel binding `cb`.
    ///
    /// # Panics
    ///
    /// If `mechanism` is not a SCRAM mechanism, or if the OS random number generator
    /// fails (the server nonce needs fresh randomness).
    pub fn new(mechanism: Mechanism, cb: ChannelBinding) -> ScramServer {
        Self::with_nonce(mechanism, cb, &attrs::random_nonce())
    }

    /// Like [`ScramServer::new`] with a fixed server nonce, to reproduce the RFC test
    /// vectors. Never use it for real authentication: RFC 5802 §5.1 requires a fresh nonce.
    ///
    /// # Panics
    ///
    /// If `mechanism` is not a SCRAM mechanism or `server_nonce` is not `printable`.
    #[doc(hidden)]
    pub fn with_nonce(mechanism: Mechanism, cb: ChannelBinding, server_nonce: &str) -> Self {
        let hash = mechanism
            .hash()
            .expect("ScramServer needs a SCRAM mechanism");
        assert!(attrs::is_printable(server_nonce), "nonce must be printable");
        ScramServer {
            mechanism,
            hash,
            cb,
            server_nonce: server_nonce.to_owned(),
            decoy_secret: None,
            decoy_iterations: DEFAULT_DECOY_ITERATIONS,
            state: State::Start,
        }
    }

    /// Sets how unknown users are disguised: their salt is derived from `secret` and the
    /// username, and `iterations` is announced. Every server of a deployment must use the
    /// same secret (and the iteration count real accounts use), or comparing answers from
    /// two servers, or before and after a restart, shows which accounts exist. Without this
    /// call a random per-process secret is used.
    pub fn with_decoy(mut self, secret: &[u8], iterations: u32) -> Self {
        self.decoy_secret = Some(secret.to_vec());
        self.decoy_iterations = iterations.max(1);
        self
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Parses the client-first-message (RFC 5802 §5.1, §7) and applies the channel binding
    /// rules of §6. Syntax errors are `malformed-request`; channel binding that does not fit
    /// the mechanism or the connection, and usernames that cannot be a localpart, are
    /// `not-authorized`; an authzid that is not a bare JID is `invalid-authzid`.
    pub fn handle_client_first(&mut self, msg: &[u8]) -> Result<ClientFirst, SaslFailure> {
        if !matches!(self.state, State::Start) {
            self.state = State::Done;
            return Err(SaslFailure::MalformedRequest);
        }
        self.state = State::Done;
        let s = attrs::text(msg)?;
        // gs2-header = gs2-cbind-flag "," [ authzid ] ","
        let (flag, rest) = s.split_once(',').ok_or(SaslFailure::MalformedRequest)?;
        let (authz_field, bare) = rest.split_once(',').ok_or(SaslFailure::MalformedRequest)?;
        let gs2_header = &s[..s.len() - bare.len()];
        let flag = match flag {
            "n" => CbFlag::No,
            "y" => CbFlag::ClientOnly,
            f => match attr(f, 'p') {
                Some(name) if is_cb_name(name) => CbFlag::Required(name),
                _ => return Err(SaslFailure::MalformedRequest),
            },
        };
        let authzid = match authz_field {
            "" => None,
            f => {
                let value = attr(f, 'a').ok_or(SaslFailure::MalformedRequest)?;
                Some(attrs::decode_saslname(value)?)
            }
        };
        // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
        let mut fields = bare.split(',');
        let first = fields.next();
        if first.is_some_and(|f| attr(f, 'm').is_some()) {
            // §5.1: a mandatory extension we do not know must fail the exchange.
            return Err(SaslFailure::MalformedRequest);
        }
        let raw_username = required(first, 'n')?;
        let client_nonce = required(fields.next(), 'r')?;
        if !attrs::is_printable(client_nonce) {
            return Err(SaslFailure::MalformedRequest);
        }
        attrs::check_extensions(fields)?;

        let cb_data = self.check_channel_binding(&flag)?;
        let username = attrs::decode_saslname(raw_username)?;
        let username = normalize_localpart(&username).map_err(|_| SaslFailure::NotAuthorized)?;
        let authzid = authzid.map(|a| normalize_authzid(&a)).transpose()?;

        let mut cbind_input = gs2_header.as_bytes().to_vec();
        cbind_input.extend_from_slice(cb_data);
        self.state = State::GotClientFirst {
            cbind_input,
            client_first_bare: bare.to_owned(),
            client_nonce: client_nonce.to_owned(),
            username: username.clone(),
        };
        Ok(ClientFirst { username, authzid })
    }

    /// RFC 5802 §6 and RFC 9266: decides whether the client's flag is acceptable here, and
    /// returns the channel binding data that the `c=` attribute must carry.
    fn check_channel_binding(&self, flag: &CbFlag<'_>) -> Result<&[u8], SaslFailure> {
        match (flag, &self.cb) {
            // -PLUS means "channel binding is used": the client must send "p".
            (CbFlag::No | CbFlag::ClientOnly, _) if self.mechanism.is_plus() => {
                Err(SaslFailure::NotAuthorized)
            }
            (CbFlag::No, _) => Ok(&[]),
            // The client would have bound the channel had it seen -PLUS: if we offered it,
            // someone removed it from the list on the way (a downgrade attack).
            (
                CbFlag::ClientOnly,
                ChannelBinding::TlsExporter {
                    advertised_plus: true,
                    ..
                },
            ) => Err(SaslFailure::NotAuthorized),
            (CbFlag::ClientOnly, _) => Ok(&[]),
            (CbFlag::Required(name), ChannelBinding::TlsExporter { data, .. })
                if self.mechanism.is_plus() && *name == TLS_EXPORTER =>
            {
                Ok(data)
            }
            // "p" with a non-PLUS mechanism, an unsupported type, or no channel binding.
            (CbFlag::Required(_), _) => Err(SaslFailure::NotAuthorized),
        }
    }

    /// Builds the server-first-message (RFC 5802 §5.1) from the account's credentials.
    ///
    /// With `creds = None` (no such account), or credentials of another hash family, the
    /// answer uses a salt derived from the username and a server secret, and the announced
    /// decoy iteration count, so it looks like any other; the exchange then fails at
    /// [`ScramServer::handle_client_final`] with `not-authorized`, as for a wrong password
    /// (RFC 6120 §6.5.10: no difference between unknown users and bad credentials).
    ///
    /// # Panics
    ///
    /// If called other than once, right after a successful
    /// [`ScramServer::handle_client_first`].
    pub fn server_first(&mut self, creds: Option<ScramCredentials>) -> Vec<u8> {
        let State::GotClientFirst {
            cbind_input,
            client_first_bare,
            client_nonce,
            username,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            panic!("server_first must follow a successful handle_client_first");
        };
        let usable = |c: &ScramCredentials| {
            c.hash == self.hash
                && c.iterations > 0
                && c.stored_key.len() == self.hash.output_len()
                && c.server_key.len() == self.hash.output_len()
        };
        let (creds, known) = match creds {
            Some(c) if usable(&c) => (c, true),
            _ => (self.decoy(&username), false),
        };
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            attrs::b64_encode(&creds.salt),
            creds.iterations
        );
        self.state = State::SentServerFirst {
            cbind_input,
            auth_prefix: format!("{client_first_bare},{server_first}"),
            nonce,
            creds,
            known,
        };
        server_first.into_bytes()
    }

    /// Credentials for an account that does not exist: a stable salt per username (so that
    /// asking twice gives the same answer, as for a real account) and keys nobody knows.
    fn decoy(&self, username: &str) -> ScramCredentials {
        let secret: &[u8] = match &self.decoy_secret {
            Some(s) => s,
            None => process_decoy_secret(),
        };
        let derive = |label: &str| {
            let input = format!(
                "starling-scram-decoy\0{label}\0{}\0{username}",
                self.hash.as_str()
            );
            self.hash.hmac(secret, input.as_bytes())
        };
        let mut salt = derive("salt");
        salt.truncate(DECOY_SALT_LEN);
        ScramCredentials {
            hash: self.hash,
            salt,
            iterations: self.decoy_iterations,
            stored_key: derive("stored-key"),
            server_key: derive("server-key"),
        }
    }

    /// Verifies the client-final-message (RFC 5802 §5.1, §6, §7): the `c=` channel binding
    /// input, the nonce and the proof, comparing secrets in constant time. Returns the
    /// server-final-message (`v=<ServerSignature>`) to send with `<success/>`
    /// (RFC 6120 §6.3.10).
    pub fn handle_client_final(&mut self, msg: &[u8]) -> Result<Vec<u8>, SaslFailure> {
        let State::SentServerFirst {
            cbind_input,
            auth_prefix,
            nonce,
            creds,
            known,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(SaslFailure::MalformedRequest);
        };
        let s = attrs::text(msg)?;
        // client-final-message = channel-binding "," nonce ["," extensions] "," proof
        let (without_proof, proof) = s.rsplit_once(",p=").ok_or(SaslFailure::MalformedRequest)?;
        if proof.is_empty() || proof.contains(',') {
            return Err(SaslFailure::MalformedRequest);
        }
        let mut fields = without_proof.split(',');
        let c = required(fields.next(), 'c')?;
        let r = required(fields.next(), 'r')?;
        attrs::check_extensions(fields)?;
        let c = attrs::b64_decode(c)?;
        let proof = attrs::b64_decode(proof)?;

        // §6: "The server MUST always validate the client's c= field."
        let cb_ok = c.ct_eq(&cbind_input);
        // §5.1: the nonce must be the one sent in server-first-message.
        let nonce_ok = r.as_bytes().ct_eq(nonce.as_bytes());
        if !bool::from(cb_ok & nonce_ok) || proof.len() != self.hash.output_len() {
            return Err(SaslFailure::NotAuthorized);
        }
        // §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must
        // be StoredKey. The decoy path does the same work and always fails.
        let auth_message = format!("{auth_prefix},{without_proof}");
        let signature = self.hash.hmac(&creds.stored_key, auth_message.as_bytes());
        let client_key = attrs::xor(&proof, &signature);
        let proof_ok = self.hash.hash(&client_key).ct_eq(&creds.stored_key);
        if !bool::from(proof_ok & Choice::from(u8::from(known))) {
            return Err(SaslFailure::NotAuthorized);
        }
        let server_signature = self.hash.hmac(&creds.server_key, auth_message.as_bytes());
        Ok(format!("v={}", attrs::b64_encode(&server_signature)).into_bytes())
    }
}

/// `cb-name = 1*(ALPHA / DIGIT / "." / "-")` (RFC 5802 §7).
fn is_cb_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// RFC 6120 §6.3.8: a client's authorization identity must be a bare JID.
pub(crate) fn normalize_authzid(a: &str) -> Result<String, SaslFailure> {
    match Jid::new(a) {
        Ok(j) if j.is_bare() => Ok(j.as_str().to_owned()),
        _ => Err(SaslFailure::InvalidAuthzid),
    }
}

/// A random secret for this process, used when no deployment-wide one was configured.
fn process_decoy_secret() -> &'static [u8] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut s = [0u8; 32];
        getrandom::fill(&mut s).expect("the OS random number generator is unavailable");
        s
    })
}
