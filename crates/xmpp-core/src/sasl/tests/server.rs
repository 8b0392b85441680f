//! Server-side rules: channel binding, message syntax, tampering, step order.

use super::*;

type Tamper = Box<dyn Fn(&str) -> String>;

/// Runs the RFC 7677 exchange with the client-final-message rewritten by `tamper`.
fn tampered_final(tamper: impl Fn(&str) -> String) -> Result<Vec<u8>, SaslFailure> {
    let v = &RFC7677;
    let mut server =
        ScramServer::with_nonce(v.mechanism, ChannelBinding::Unsupported, v.server_nonce);
    server
        .handle_client_first(v.client_first.as_bytes())
        .unwrap();
    server.server_first(Some(creds(ScramHash::Sha256, "pencil", v.salt)));
    server.handle_client_final(tamper(v.client_final).as_bytes())
}

// RFC 5802 §5.1: the server MUST verify the nonce, §6: it MUST validate c=.
#[test]
fn tampered_client_final_is_rejected() {
    assert!(tampered_final(str::to_owned).is_ok());
    use SaslFailure::*;
    let cases: Vec<(Tamper, SaslFailure)> = vec![
        (Box::new(|s| s.replace("k0,p=", "k1,p=")), NotAuthorized), // nonce
        (Box::new(|s| s.replace(",r=rOpr", ",r=XOpr")), NotAuthorized), // client nonce part
        (Box::new(|s| s.replace("c=biws", "c=eSws")), NotAuthorized), // "y,," instead of "n,,"
        (Box::new(|s| s.replace("p=dHzb", "p=dHzc")), NotAuthorized), // proof
        // A proof of the wrong length.
        (
            Box::new(|s| format!("{},p=AAAA", s.rsplit_once(",p=").unwrap().0)),
            NotAuthorized,
        ),
        (
            Box::new(|s| s.replace("c=biws", "c=b!ws")),
            IncorrectEncoding,
        ),
        (
            Box::new(|s| s.replace("p=dHzb", "p=*Hzb")),
            IncorrectEncoding,
        ),
        // An optional extension is ignored, but it is part of the AuthMessage, which the
        // client did not sign with it.
        (Box::new(|s| s.replace(",p=", ",x=1,p=")), NotAuthorized),
        (Box::new(|s| s.replace(",p=", ",m=1,p=")), MalformedRequest),
        (Box::new(|s| s.replace("c=biws,", "")), MalformedRequest),
        (Box::new(|s| s.replace(",p=", ",P=")), MalformedRequest),
        (Box::new(|s| format!("{s},x=1")), MalformedRequest),
    ];
    for (i, (tamper, expected)) in cases.into_iter().enumerate() {
        assert_eq!(tampered_final(tamper), Err(expected), "case {i}");
    }
}

// RFC 5802 §5.1 and §6: the proof signs the AuthMessage (the client-first-message-bare and
// the client-final-message without the proof), the nonce and the c= attribute are checked
// on their own, and the rest is syntax. So no byte a client sends is left unchecked: every
// single-byte change to either client message of the RFC exchanges, at every position and
// to every other value, fails the exchange (base64 included: a change to the unused low
// bits of the proof's last character is refused as non-canonical, not decoded to the same
// proof).
#[test]
fn every_altered_byte_of_a_client_message_fails_the_exchange() {
    for v in [&RFC5802, &RFC7677] {
        let stored = creds(v.mechanism.hash().unwrap(), "pencil", v.salt);
        let exchange = |first: &[u8], last: &[u8]| {
            let mut server =
                ScramServer::with_nonce(v.mechanism, ChannelBinding::Unsupported, v.server_nonce);
            server.handle_client_first(first)?;
            server.server_first(Some(stored.clone()));
            server.handle_client_final(last)
        };
        let (first, last) = (v.client_first.as_bytes(), v.client_final.as_bytes());
        assert!(exchange(first, last).is_ok(), "{:?}", v.mechanism);
        for (name, message) in [("client-first", first), ("client-final", last)] {
            for at in 0..message.len() {
                for byte in (0..=u8::MAX).filter(|&b| b != message[at]) {
                    let mut altered = message.to_vec();
                    altered[at] = byte;
                    let result = if name == "client-first" {
                        exchange(&altered, last)
                    } else {
                        exchange(first, &altered)
                    };
                    assert!(
                        result.is_err(),
                        "{:?}: the {name} with byte {at} changed to {byte:#04x} was accepted",
                        v.mechanism
                    );
                }
            }
        }
    }
}

/// A client-final-message for the RFC 7677 exchange whose proof is computed honestly over
/// whatever `without_proof` says, so only the server's explicit checks can reject it.
fn signed_final(without_proof: &str) -> String {
    let v = &RFC7677;
    let hash = ScramHash::Sha256;
    let salted = hash.salted_password(b"pencil", &b64_decode(v.salt).unwrap(), 4096);
    let client_key = hash.hmac(&salted, b"Client Key");
    let stored_key = hash.hash(&client_key);
    let bare = v.client_first.strip_prefix("n,,").unwrap();
    let auth_message = format!("{bare},{},{without_proof}", v.server_first);
    let signature = hash.hmac(&stored_key, auth_message.as_bytes());
    let proof = xor(&client_key, &signature);
    format!("{without_proof},p={}", b64_encode(&proof))
}

// RFC 5802 §5.1: "The server MUST verify that the nonce sent by the client in the second
// message is the same as the one sent by the server in its first message", even when the
// proof covers the altered nonce.
#[test]
fn rfc5802_5_1_nonce_is_checked_even_with_a_valid_proof() {
    let good = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    assert_eq!(signed_final(good), RFC7677.client_final);
    assert!(tampered_final(|_| signed_final(good)).is_ok());
    let other_nonce = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$kX";
    assert_eq!(
        tampered_final(|_| signed_final(other_nonce)),
        Err(SaslFailure::NotAuthorized)
    );
    // RFC 5802 §6: likewise the c= attribute, here "y,," where the client sent "n,,".
    let other_cb = "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    assert_eq!(
        tampered_final(|_| signed_final(other_cb)),
        Err(SaslFailure::NotAuthorized)
    );
}

// RFC 5802 §5.1: unknown optional extensions are ignored (but they are covered by the
// AuthMessage, so the client has to have signed them).
#[test]
fn optional_extensions_are_ignored() {
    let mut server =
        ScramServer::with_nonce(Mechanism::ScramSha1, ChannelBinding::Unsupported, "S");
    let first = server.handle_client_first(b"n,,n=user,r=C,x=ext").unwrap();
    assert_eq!(first.username, "user");
}

fn first_result(
    mechanism: Mechanism,
    cb: ChannelBinding,
    msg: &str,
) -> Result<ClientFirst, SaslFailure> {
    ScramServer::with_nonce(mechanism, cb, "S").handle_client_first(msg.as_bytes())
}

// RFC 5802 §6: the channel binding negotiation rules.
#[test]
fn rfc5802_6_channel_binding_rules() {
    use Mechanism::*;
    use SaslFailure::NotAuthorized;
    let ok = |r: Result<ClientFirst, SaslFailure>| r.map(|_| ());
    // "y" when we did offer -PLUS: the mechanism list was tampered with (downgrade).
    assert_eq!(
        ok(first_result(ScramSha256, tls(true), "y,,n=u,r=C")),
        Err(NotAuthorized)
    );
    // "y" when we did not offer -PLUS, or cannot bind at all: fine.
    assert_eq!(
        ok(first_result(ScramSha256, tls(false), "y,,n=u,r=C")),
        Ok(())
    );
    assert_eq!(
        ok(first_result(
            ScramSha1,
            ChannelBinding::Unsupported,
            "y,,n=u,r=C"
        )),
        Ok(())
    );
    // -PLUS requires "p".
    assert_eq!(
        ok(first_result(ScramSha256Plus, tls(true), "n,,n=u,r=C")),
        Err(NotAuthorized)
    );
    assert_eq!(
        ok(first_result(ScramSha256Plus, tls(true), "y,,n=u,r=C")),
        Err(NotAuthorized)
    );
    // "p" requires -PLUS, a supported type, and binding data.
    let p = "p=tls-exporter,,n=u,r=C";
    assert_eq!(ok(first_result(ScramSha256Plus, tls(true), p)), Ok(()));
    assert_eq!(ok(first_result(ScramSha1Plus, tls(true), p)), Ok(()));
    assert_eq!(
        ok(first_result(ScramSha256, tls(true), p)),
        Err(NotAuthorized)
    );
    assert_eq!(
        ok(first_result(
            ScramSha256Plus,
            ChannelBinding::Unsupported,
            p
        )),
        Err(NotAuthorized)
    );
    assert_eq!(
        ok(first_result(
            ScramSha256Plus,
            tls(true),
            "p=tls-unique,,n=u,r=C"
        )),
        Err(NotAuthorized)
    );
}

// RFC 5802 §6: the exchange over the wire with "y" and with "p".
#[test]
fn rfc5802_6_channel_binding_exchanges() {
    let y = ClientChannelBinding::SupportedButNotOffered;
    let r = exchange(
        Mechanism::ScramSha256,
        tls(true),
        y.clone(),
        Some("pw"),
        "pw",
    );
    assert_eq!(r, Err(SaslFailure::NotAuthorized));
    let r = exchange(
        Mechanism::ScramSha256,
        tls(false),
        y.clone(),
        Some("pw"),
        "pw",
    );
    assert_eq!(r, Ok(()));
    let r = exchange(
        Mechanism::ScramSha1,
        ChannelBinding::Unsupported,
        y,
        Some("pw"),
        "pw",
    );
    assert_eq!(r, Ok(()));
    // The client bound a different TLS connection (e.g. a man in the middle).
    let other = ClientChannelBinding::TlsExporter(vec![8u8; 32]);
    let r = exchange(
        Mechanism::ScramSha256Plus,
        tls(true),
        other,
        Some("pw"),
        "pw",
    );
    assert_eq!(r, Err(SaslFailure::NotAuthorized));
}

// RFC 5802 §5.1 and §7: syntax of the client-first-message.
#[test]
fn rfc5802_7_malformed_client_first() {
    use SaslFailure::*;
    let cases = [
        ("", MalformedRequest),
        ("n,,", MalformedRequest),
        ("n,n=user,r=C", MalformedRequest), // gs2-header missing a comma
        ("x,,n=user,r=C", MalformedRequest), // unknown flag
        ("p=,,n=user,r=C", MalformedRequest), // empty cb-name
        ("p=a b,,n=user,r=C", MalformedRequest), // invalid cb-name
        ("n,b=x,n=user,r=C", MalformedRequest), // not an authzid
        ("n,,m=ext,n=user,r=C", MalformedRequest), // mandatory extension
        ("n,,r=C,n=user", MalformedRequest), // wrong order
        ("n,,n=user", MalformedRequest),    // no nonce
        ("n,,n=,r=C", MalformedRequest),    // empty username
        ("n,,n=user,r=", MalformedRequest), // empty nonce
        ("n,,n=user,r=a\u{e9}", MalformedRequest), // nonce not printable
        ("n,,n=us=er,r=C", MalformedRequest), // bad saslname escape
        ("n,,n=user,r=C,m=1", MalformedRequest),
        ("n,,n=user,r=C,", MalformedRequest),
        ("n,,n=u\0ser,r=C", MalformedRequest),
        ("n,,n=ju liet,r=C", NotAuthorized), // cannot be a localpart
        ("n,,n=\u{2163},r=C", NotAuthorized),
        ("n,a=juliet@example.com/r,n=juliet,r=C", InvalidAuthzid), // full JID
        ("n,a=@example.com,n=juliet,r=C", InvalidAuthzid),
    ];
    for (msg, expected) in cases {
        let r = first_result(Mechanism::ScramSha256, ChannelBinding::Unsupported, msg);
        assert_eq!(r, Err(expected), "{msg:?}");
    }
    let bad_utf8 = ScramServer::new(Mechanism::ScramSha1, ChannelBinding::Unsupported)
        .handle_client_first(b"n,,n=\xff,r=C");
    assert_eq!(bad_utf8, Err(MalformedRequest));
}

// RFC 5802 §5.1: =2C and =3D escapes; RFC 7622 §3.3 localpart normalization;
// RFC 6120 §6.3.8 authzid.
#[test]
fn client_first_username_and_authzid() {
    let r = first_result(
        Mechanism::ScramSha256,
        ChannelBinding::Unsupported,
        "n,a=Juliet@Example.com,n=Ju=2Cl=3Diet,r=C",
    )
    .unwrap();
    assert_eq!(r.username, "ju,l=iet");
    assert_eq!(r.authzid.as_deref(), Some("juliet@example.com"));
    // And through the client, which escapes them.
    assert_eq!(
        ScramClient::with_nonce(
            Mechanism::ScramSha1,
            "a,b=c",
            "p",
            ClientChannelBinding::None,
            "N"
        )
        .unwrap()
        .client_first(),
        b"n,,n=a=2Cb=3Dc,r=N"
    );
}

#[test]
fn steps_out_of_order_are_rejected() {
    let mut server = ScramServer::new(Mechanism::ScramSha256, ChannelBinding::Unsupported);
    assert_eq!(
        server.handle_client_final(b"c=biws,r=x,p=AAAA"),
        Err(SaslFailure::MalformedRequest)
    );
    // A failed step ends the exchange.
    let mut server = ScramServer::new(Mechanism::ScramSha256, ChannelBinding::Unsupported);
    assert!(server.handle_client_first(b"bogus").is_err());
    assert_eq!(
        server.handle_client_first(b"n,,n=u,r=C").map(|_| ()),
        Err(SaslFailure::MalformedRequest)
    );
    // After success, the exchange cannot be replayed.
    let v = &RFC5802;
    let mut server =
        ScramServer::with_nonce(v.mechanism, ChannelBinding::Unsupported, v.server_nonce);
    server
        .handle_client_first(v.client_first.as_bytes())
        .unwrap();
    server.server_first(Some(creds(ScramHash::Sha1, "pencil", v.salt)));
    assert!(
        server
            .handle_client_final(v.client_final.as_bytes())
            .is_ok()
    );
    assert_eq!(
        server.handle_client_final(v.client_final.as_bytes()),
        Err(SaslFailure::MalformedRequest)
    );
}
