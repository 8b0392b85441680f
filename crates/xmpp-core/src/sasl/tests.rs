//! SCRAM tests: the RFC example exchanges and full round trips here, the
//! server's and the client's error handling in `server` and `client`.

mod client;
mod server;

use super::attrs::{b64_decode, b64_encode, xor};
use super::*;
use std::sync::Arc;

const CB_DATA: &[u8] = &[7u8; 32];

fn creds(hash: ScramHash, password: &str, salt_b64: &str) -> ScramCredentials {
    let salt = b64_decode(salt_b64).unwrap();
    let password = normalize_password(password).unwrap();
    ScramCredentials::derive(hash, password.as_bytes(), &salt, 4096)
}

/// One RFC example exchange, checked byte for byte on both sides.
struct Vector {
    mechanism: Mechanism,
    client_nonce: &'static str,
    server_nonce: &'static str,
    salt: &'static str,
    client_first: &'static str,
    server_first: &'static str,
    client_final: &'static str,
    server_final: &'static str,
}

// RFC 5802 §5 (SCRAM-SHA-1, user "user", password "pencil").
const RFC5802: Vector = Vector {
    mechanism: Mechanism::ScramSha1,
    client_nonce: "fyko+d2lbbFgONRv9qkxdawL",
    server_nonce: "3rfcNHYJY1ZVvWVs7j",
    salt: "QSXCR+Q6sek8bf92",
    client_first: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    server_first: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    client_final: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,\
                   p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    server_final: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};

// RFC 7677 §3 (SCRAM-SHA-256, user "user", password "pencil").
const RFC7677: Vector = Vector {
    mechanism: Mechanism::ScramSha256,
    client_nonce: "rOprNGfwEbeRWgbNEkqO",
    server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
    client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                   s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                   p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    server_final: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

fn server_side(v: &Vector) {
    let mut server =
        ScramServer::with_nonce(v.mechanism, ChannelBinding::Unsupported, v.server_nonce);
    let first = server
        .handle_client_first(v.client_first.as_bytes())
        .unwrap();
    assert_eq!(
        first,
        ClientFirst {
            username: "user".into(),
            authzid: None
        }
    );
    let hash = v.mechanism.hash().unwrap();
    let sf = server.server_first(Some(creds(hash, "pencil", v.salt)));
    assert_eq!(String::from_utf8(sf).unwrap(), v.server_first);
    let fin = server
        .handle_client_final(v.client_final.as_bytes())
        .unwrap();
    assert_eq!(String::from_utf8(fin).unwrap(), v.server_final);
}

fn client_side(v: &Vector) {
    let mut client = ScramClient::with_nonce(
        v.mechanism,
        "user",
        "pencil",
        ClientChannelBinding::None,
        v.client_nonce,
    )
    .unwrap();
    assert_eq!(client.client_first(), v.client_first.as_bytes());
    let cf = client
        .handle_server_first(v.server_first.as_bytes())
        .unwrap();
    assert_eq!(String::from_utf8(cf).unwrap(), v.client_final);
    client
        .verify_server_final(v.server_final.as_bytes())
        .unwrap();
    // A server that does not know ServerKey cannot produce the signature.
    let forged = format!(
        "v={}",
        b64_encode(&vec![0; v.mechanism.hash().unwrap().output_len()])
    );
    assert_eq!(
        client.verify_server_final(forged.as_bytes()),
        Err(SaslFailure::NotAuthorized)
    );
}

/// RFC 5802 §5.1 lets a client cache SaltedPassword: with a cache, the exchange still yields
/// the RFC's exact client-final-message, the second exchange reuses the held value, and a
/// full cache (capacity 0) derives it without keeping it.
#[test]
fn rfc5802_5_1_cached_salted_password_gives_the_same_proof() {
    for (capacity, held) in [(8, 1), (0, 0)] {
        let cache = Arc::new(SaltedPasswordCache::new(capacity));
        for _ in 0..2 {
            let mut client = ScramClient::with_nonce(
                RFC5802.mechanism,
                "user",
                "pencil",
                ClientChannelBinding::None,
                RFC5802.client_nonce,
            )
            .unwrap()
            .with_salted_password_cache(cache.clone());
            client.client_first();
            let cf = client
                .handle_server_first(RFC5802.server_first.as_bytes())
                .unwrap();
            assert_eq!(String::from_utf8(cf).unwrap(), RFC5802.client_final);
            client
                .verify_server_final(RFC5802.server_final.as_bytes())
                .unwrap();
        }
        assert_eq!(cache.len(), held);
    }
}

#[test]
fn rfc5802_5_example_server_side() {
    server_side(&RFC5802);
}

#[test]
fn rfc5802_5_example_client_side() {
    client_side(&RFC5802);
}

#[test]
fn rfc7677_3_example_server_side() {
    server_side(&RFC7677);
}

#[test]
fn rfc7677_3_example_client_side() {
    client_side(&RFC7677);
}

/// Runs a full exchange; returns the failure of the server or client step that failed.
fn exchange(
    mechanism: Mechanism,
    server_cb: ChannelBinding,
    client_cb: ClientChannelBinding,
    stored_password: Option<&str>,
    password: &str,
) -> Result<(), SaslFailure> {
    let mut client = ScramClient::new(mechanism, "Juliet", password, client_cb)?;
    let mut server = ScramServer::new(mechanism, server_cb);
    let first = server.handle_client_first(&client.client_first())?;
    assert_eq!(first.username, "juliet");
    let hash = mechanism.hash().unwrap();
    let stored = stored_password.map(|p| creds(hash, p, "c2FsdHNhbHRzYWx0c2FsdA=="));
    let sf = server.server_first(stored);
    let cf = client.handle_server_first(&sf)?;
    let fin = server.handle_client_final(&cf)?;
    client.verify_server_final(&fin)
}

fn tls(advertised_plus: bool) -> ChannelBinding {
    ChannelBinding::TlsExporter {
        data: CB_DATA.to_vec(),
        advertised_plus,
    }
}

// RFC 5802 §5 and §6, RFC 7677 §3, RFC 9266: every mechanism, with and without binding.
#[test]
fn round_trips_for_all_scram_mechanisms() {
    let plus = ClientChannelBinding::TlsExporter(CB_DATA.to_vec());
    let cases = [
        (Mechanism::ScramSha256Plus, tls(true), plus.clone()),
        (Mechanism::ScramSha1Plus, tls(true), plus),
        (
            Mechanism::ScramSha256,
            ChannelBinding::Unsupported,
            ClientChannelBinding::None,
        ),
        (
            Mechanism::ScramSha1,
            ChannelBinding::Unsupported,
            ClientChannelBinding::None,
        ),
        // "n" over TLS with -PLUS offered: the client simply does not do channel binding.
        (
            Mechanism::ScramSha256,
            tls(true),
            ClientChannelBinding::None,
        ),
    ];
    for (m, scb, ccb) in cases {
        assert_eq!(
            exchange(m, scb, ccb, Some("pencil"), "pencil"),
            Ok(()),
            "{m}"
        );
    }
}

// RFC 5802 §3 with RFC 8265 §4.2: passwords are normalized on both sides.
#[test]
fn round_trip_with_normalized_password() {
    let r = exchange(
        Mechanism::ScramSha256,
        ChannelBinding::Unsupported,
        ClientChannelBinding::None,
        Some("correct horse"),
        "correct\u{3000}horse",
    );
    assert_eq!(r, Ok(()));
}

// RFC 5802 §3: a wrong password gives a wrong proof; RFC 6120 §6.5.10 not-authorized.
#[test]
fn wrong_password_is_not_authorized() {
    for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let r = exchange(
            m,
            ChannelBinding::Unsupported,
            ClientChannelBinding::None,
            Some("pencil"),
            "pen",
        );
        assert_eq!(r, Err(SaslFailure::NotAuthorized), "{m}");
    }
}

// RFC 6120 §6.5.10 security warning: an unknown user must not be told apart from a wrong
// password, so the server-first-message looks normal and the failure comes at the end.
#[test]
fn unknown_user_fails_only_at_the_final_step() {
    let r = exchange(
        Mechanism::ScramSha256,
        ChannelBinding::Unsupported,
        ClientChannelBinding::None,
        None,
        "pencil",
    );
    assert_eq!(r, Err(SaslFailure::NotAuthorized));

    let server_first = |secret: &[u8], user: &str| {
        let mut s = ScramServer::with_nonce(Mechanism::ScramSha1, ChannelBinding::Unsupported, "S")
            .with_decoy(secret, 4096);
        s.handle_client_first(format!("n,,n={user},r=C").as_bytes())
            .unwrap();
        String::from_utf8(s.server_first(None)).unwrap()
    };
    let sf = server_first(b"secret", "nobody");
    let fields: Vec<&str> = sf.split(',').collect();
    assert_eq!(fields.len(), 3, "{sf}");
    assert_eq!(fields[0], "r=CS");
    assert_eq!(
        b64_decode(fields[1].strip_prefix("s=").unwrap())
            .unwrap()
            .len(),
        16
    );
    assert_eq!(fields[2], "i=4096");
    // Stable per user and secret, like a real account's salt; different across users.
    assert_eq!(sf, server_first(b"secret", "nobody"));
    assert_ne!(sf, server_first(b"secret", "somebody"));
    assert_ne!(sf, server_first(b"other", "nobody"));
    // The default (per-process) secret is stable too.
    let default = |user: &str| {
        let mut s =
            ScramServer::with_nonce(Mechanism::ScramSha256, ChannelBinding::Unsupported, "S");
        s.handle_client_first(format!("n,,n={user},r=C").as_bytes())
            .unwrap();
        s.server_first(None)
    };
    assert_eq!(default("ghost"), default("ghost"));
}

// Credentials of the wrong hash family are treated as unknown, not as a server error.
#[test]
fn mismatched_credentials_fail_like_unknown_users() {
    let mut client = ScramClient::new(
        Mechanism::ScramSha256,
        "user",
        "pencil",
        ClientChannelBinding::None,
    )
    .unwrap();
    let mut server = ScramServer::new(Mechanism::ScramSha256, ChannelBinding::Unsupported);
    server.handle_client_first(&client.client_first()).unwrap();
    let sf = server.server_first(Some(creds(ScramHash::Sha1, "pencil", "c2FsdA==")));
    let cf = client.handle_server_first(&sf).unwrap();
    assert_eq!(
        server.handle_client_final(&cf),
        Err(SaslFailure::NotAuthorized)
    );
}
