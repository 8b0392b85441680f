//! The PLAIN mechanism (RFC 4616), verified against stored SCRAM keys.
//!
//! The server never keeps the password, so PLAIN is checked by deriving the SCRAM keys
//! from the presented password with the account's salt and iteration count, and comparing
//! the StoredKey (RFC 5802 §3).

use std::fmt;

use subtle::ConstantTimeEq;

use super::scram::normalize_authzid;
use super::{SaslFailure, ScramCredentials, normalize_password};
use crate::jid::normalize_localpart;

/// RFC 4616 §2: servers must accept up to 255 octets per field; we accept no more.
const MAX_FIELD_LEN: usize = 255;

/// A parsed PLAIN message.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainRequest {
    /// The authorization identity, normalized as a bare JID (RFC 6120 §6.3.8); `None` when
    /// the client sent none.
    pub authzid: Option<String>,
    /// The authentication identity, normalized as a localpart (RFC 7622 §3.3).
    pub username: String,
    /// The password as sent; [`verify_plain`] normalizes it.
    pub password: String,
}

impl fmt::Debug for PlainRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainRequest")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Parses `[authzid] NUL authcid NUL passwd` (RFC 4616 §2).
///
/// The message must be UTF-8 with exactly two NULs, a non-empty authcid and password, and
/// at most 255 octets per field (`malformed-request` otherwise). An authcid that cannot be
/// a localpart is `not-authorized` (no such account can exist); an authzid that is not a
/// bare JID is `invalid-authzid`.
pub fn parse_plain(msg: &[u8]) -> Result<PlainRequest, SaslFailure> {
    let s = std::str::from_utf8(msg).map_err(|_| SaslFailure::MalformedRequest)?;
    let mut fields = s.split('\0');
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslFailure::MalformedRequest);
    };
    if authcid.is_empty()
        || password.is_empty()
        || [authzid, authcid, password]
            .iter()
            .any(|f| f.len() > MAX_FIELD_LEN)
    {
        return Err(SaslFailure::MalformedRequest);
    }
    let username = normalize_localpart(authcid).map_err(|_| SaslFailure::NotAuthorized)?;
    let authzid = match authzid {
        "" => None,
        a => Some(normalize_authzid(a)?),
    };
    Ok(PlainRequest {
        authzid,
        username,
        password: password.to_owned(),
    })
}

/// Checks the request's password against stored credentials: the password is normalized
/// ([`normalize_password`]), salted with the stored salt and iteration count, and the
/// resulting StoredKey is compared in constant time (RFC 5802 §3).
pub fn verify_plain(req: &PlainRequest, creds: &ScramCredentials) -> bool {
    let Ok(password) = normalize_password(&req.password) else {
        return false;
    };
    if creds.iterations == 0 {
        return false;
    }
    let derived = ScramCredentials::derive(
        creds.hash,
        password.as_bytes(),
        &creds.salt,
        creds.iterations,
    );
    derived.stored_key.ct_eq(&creds.stored_key).into()
}

/// The client's PLAIN message without an authorization identity (RFC 4616 §2).
pub fn plain_client_message(username: &str, password: &str) -> Vec<u8> {
    let mut msg = Vec::with_capacity(username.len() + password.len() + 2);
    msg.push(0);
    msg.extend_from_slice(username.as_bytes());
    msg.push(0);
    msg.extend_from_slice(password.as_bytes());
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::ScramHash;

    // RFC 4616 §4, first example: "<NUL>tim<NUL>tanstaaftanstaaf".
    #[test]
    fn rfc4616_4_example_parses() {
        let req = parse_plain(b"\0tim\0tanstaaftanstaaf").unwrap();
        assert_eq!(req.authzid, None);
        assert_eq!(req.username, "tim");
        assert_eq!(req.password, "tanstaaftanstaaf");
        assert_eq!(
            plain_client_message("tim", "tanstaaftanstaaf"),
            b"\0tim\0tanstaaftanstaaf"
        );
    }

    // RFC 4616 §2 with RFC 6120 §6.3.8: the authzid is a bare JID.
    #[test]
    fn rfc4616_2_authzid() {
        let req = parse_plain(b"Juliet@Example.com\0juliet\0pw").unwrap();
        assert_eq!(req.authzid.as_deref(), Some("juliet@example.com"));
        // The second RFC 4616 §4 example's authzid "Ursel" is a valid (domain-only) JID.
        assert_eq!(
            parse_plain(b"Ursel\0Kurt\0xipj3plmq")
                .unwrap()
                .authzid
                .as_deref(),
            Some("ursel")
        );
        assert_eq!(
            parse_plain(b"juliet@example.com/r\0juliet\0pw"),
            Err(SaslFailure::InvalidAuthzid)
        );
        assert_eq!(
            parse_plain(b"@\0juliet\0pw"),
            Err(SaslFailure::InvalidAuthzid)
        );
    }

    // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd; fields 1*SAFE.
    #[test]
    fn rfc4616_2_malformed_messages() {
        let long = "a".repeat(256);
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"juliet".to_vec(),
            b"\0juliet".to_vec(),
            b"\0juliet\0".to_vec(),         // empty password
            b"\0\0secret".to_vec(),         // empty authcid
            b"\0juliet\0sec\0ret".to_vec(), // three NULs
            b"\0juliet\0\xff\xfe".to_vec(), // not UTF-8
            format!("\0{long}\0pw").into_bytes(),
            format!("\0juliet\0{long}").into_bytes(),
            format!("{long}\0juliet\0pw").into_bytes(),
        ];
        for msg in cases {
            assert_eq!(
                parse_plain(&msg),
                Err(SaslFailure::MalformedRequest),
                "{msg:?}"
            );
        }
        let max = "a".repeat(255);
        assert!(parse_plain(format!("\0{max}\0{max}").as_bytes()).is_ok());
    }

    // RFC 7622 §3.3: the authcid is a localpart; RFC 6120 §6.5.10: failures are generic.
    #[test]
    fn rfc4616_authcid_is_normalized_as_localpart() {
        assert_eq!(parse_plain(b"\0Juliet\0pw").unwrap().username, "juliet");
        assert_eq!(
            parse_plain(b"\0ju liet\0pw"),
            Err(SaslFailure::NotAuthorized)
        );
        assert_eq!(parse_plain(b"\0a@b\0pw"), Err(SaslFailure::NotAuthorized));
    }

    #[test]
    fn verify_against_stored_scram_keys() {
        for hash in ScramHash::ALL {
            let creds = ScramCredentials::derive(hash, b"pencil", b"0123456789abcdef", 4096);
            let ok = parse_plain(b"\0user\0pencil").unwrap();
            assert!(verify_plain(&ok, &creds), "{hash:?}");
            let bad = parse_plain(b"\0user\0pencil2").unwrap();
            assert!(!verify_plain(&bad, &creds), "{hash:?}");
        }
    }

    // RFC 8265 §4.2 via RFC 7677 §4: the password is normalized on both sides, so a
    // non-ASCII space matches the ASCII one it maps to.
    #[test]
    fn rfc8265_4_2_password_is_normalized_before_verifying() {
        let stored = normalize_password("correct horse").unwrap();
        let creds = ScramCredentials::derive(ScramHash::Sha256, stored.as_bytes(), b"salt", 4096);
        let req = parse_plain("\0user\0correct\u{3000}horse".as_bytes()).unwrap();
        assert!(verify_plain(&req, &creds));
        let control = parse_plain("\0user\0bad\u{7}".as_bytes()).unwrap();
        assert!(!verify_plain(&control, &creds));
    }

    #[test]
    fn debug_hides_the_password() {
        let req = parse_plain(b"\0user\0hunter2").unwrap();
        assert!(!format!("{req:?}").contains("hunter2"));
    }
}
