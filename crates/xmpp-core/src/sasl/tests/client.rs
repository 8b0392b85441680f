//! Client-side checks, names and password preparation.

use super::*;

// RFC 5802 §5.1: the client checks the server's nonce and the iteration count.
#[test]
fn client_rejects_bad_server_first() {
    use SaslFailure::*;
    let client = || {
        ScramClient::with_nonce(
            Mechanism::ScramSha1,
            "user",
            "pencil",
            ClientChannelBinding::None,
            "CN",
        )
        .unwrap()
    };
    let cases = [
        ("r=XX,s=QSXCR+Q6sek8bf92,i=4096", NotAuthorized), // does not extend our nonce
        ("r=CN,s=QSXCR+Q6sek8bf92,i=4096", NotAuthorized), // adds nothing
        ("r=CNs,s=QSX!,i=4096", IncorrectEncoding),
        ("r=CNs,s=QSXCR+Q6sek8bf92,i=0", MalformedRequest),
        ("r=CNs,s=QSXCR+Q6sek8bf92,i=99999999", MalformedRequest), // above the cap
        ("m=x,r=CNs,s=QSXCR+Q6sek8bf92,i=4096", MalformedRequest),
        ("r=CNs,i=4096", MalformedRequest),
    ];
    for (msg, expected) in cases {
        assert_eq!(
            client().handle_server_first(msg.as_bytes()),
            Err(expected),
            "{msg}"
        );
    }
    let c = client();
    assert_eq!(c.verify_server_final(b"v=AAAA"), Err(MalformedRequest)); // too early
    let mut c = client();
    c.handle_server_first(b"r=CNs,s=QSXCR+Q6sek8bf92,i=4096")
        .unwrap();
    assert_eq!(
        c.verify_server_final(b"e=invalid-proof"),
        Err(NotAuthorized)
    );
}

#[test]
fn client_rejects_channel_binding_that_does_not_fit_the_mechanism() {
    use ClientChannelBinding as C;
    let new = |m, cb| ScramClient::new(m, "u", "p", cb).map(|_| ());
    assert_eq!(
        new(Mechanism::ScramSha256Plus, C::None),
        Err(SaslFailure::InvalidMechanism)
    );
    assert_eq!(
        new(Mechanism::ScramSha256, C::TlsExporter(vec![1])),
        Err(SaslFailure::InvalidMechanism)
    );
    assert_eq!(
        new(Mechanism::Plain, C::None),
        Err(SaslFailure::InvalidMechanism)
    );
    assert_eq!(new(Mechanism::ScramSha1, C::SupportedButNotOffered), Ok(()));
}

#[test]
fn mechanism_and_failure_names() {
    for m in Mechanism::ALL {
        assert_eq!(Mechanism::from_name(m.as_str()), Some(m));
    }
    assert_eq!(Mechanism::from_name("scram-sha-1"), None);
    assert_eq!(Mechanism::ScramSha1Plus.hash(), Some(ScramHash::Sha1));
    assert_eq!(Mechanism::Plain.hash(), None);
    assert!(Mechanism::ScramSha256Plus.is_plus());
    assert!(!Mechanism::ScramSha256.is_plus());
    assert_eq!(
        SaslFailure::TemporaryAuthFailure.as_str(),
        "temporary-auth-failure"
    );
    assert_eq!(
        SaslFailure::from_name("not-authorized"),
        Some(SaslFailure::NotAuthorized)
    );
    assert_eq!(SaslFailure::from_name("nope"), None);
}

// RFC 8265 §4.2: OpaqueString maps non-ASCII spaces and rejects controls.
#[test]
fn rfc8265_4_2_password_normalization() {
    assert_eq!(normalize_password("pencil").unwrap(), "pencil");
    assert_eq!(normalize_password("a\u{3000}b").unwrap(), "a b");
    assert_eq!(normalize_password("e\u{301}").unwrap(), "\u{E9}");
    assert_eq!(normalize_password(""), Err(SaslFailure::NotAuthorized));
    assert_eq!(
        normalize_password("a\u{7}"),
        Err(SaslFailure::NotAuthorized)
    );
}

#[test]
fn debug_output_hides_secrets() {
    let cb = tls(true);
    let server = ScramServer::new(Mechanism::ScramSha256Plus, cb.clone());
    assert!(!format!("{server:?}").contains("7, 7"));
    assert!(!format!("{cb:?}").contains("7, 7"));
    let client = ScramClient::new(
        Mechanism::ScramSha1,
        "u",
        "hunter2",
        ClientChannelBinding::None,
    )
    .unwrap();
    assert!(!format!("{client:?}").contains("hunter2"));
}
