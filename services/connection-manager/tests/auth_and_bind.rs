//! SASL (RFC 6120 §6) and resource binding (§7) on the wire, with our own client side so that
//! each step and each failure can be provoked exactly.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use connection_manager::ResourceConflict;
use xmpp_core::sasl::Mechanism;
use xmpp_core::{Element, StreamErrorCondition, ns};
use xmpp_stream::client::{ClientError, ClientStream};

use support::{DOMAIN, PASSWORD, expect_stream_error, start, start_plain, tls_any};

fn auth(mechanism: &str, data: &str) -> Element {
    Element::new("auth", ns::SASL)
        .with_attr("mechanism", mechanism)
        .with_text(data)
}

async fn sasl_failure(stream: &mut ClientStream, request: &Element) -> String {
    stream.send(request).await.unwrap();
    let reply = stream.next_element().await.unwrap();
    assert!(reply.is("failure", ns::SASL), "{reply}");
    reply.children().next().unwrap().name().to_owned()
}

#[tokio::test]
async fn tls_required_offers_only_starttls_then_mechanisms_section_5_3_1() {
    let server = start(|_| {}).await;
    let mut stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    let starttls = stream
        .features()
        .get_child("starttls", ns::TLS)
        .expect("STARTTLS offered");
    assert!(starttls.get_child("required", ns::TLS).is_some());
    assert!(stream.mechanisms().is_empty(), "no SASL before TLS");
    // Trying to authenticate anyway is refused with encryption-required (§6.5.4).
    let plain = BASE64.encode(b"\0juliet\0pw");
    assert_eq!(
        sasl_failure(&mut stream, &auth("PLAIN", &plain)).await,
        "encryption-required"
    );

    let mut stream = stream.starttls(tls_any()).await.unwrap();
    assert!(stream.features().get_child("starttls", ns::TLS).is_none());
    assert_eq!(
        stream.mechanisms(),
        vec![
            "SCRAM-SHA-256-PLUS",
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-1",
            "PLAIN"
        ]
    );
    // XEP-0440: the channel-binding type of the -PLUS mechanisms is advertised.
    let cb = stream
        .features()
        .get_child("sasl-channel-binding", ns::SASL_CB)
        .unwrap();
    assert_eq!(
        cb.children().next().unwrap().attr("type"),
        Some("tls-exporter")
    );
    stream
        .authenticate(Mechanism::ScramSha256Plus, "juliet", PASSWORD)
        .await
        .unwrap();
    // After SASL: bind and the optional legacy session (§7.4, RFC 3921 §3).
    assert!(stream.features().get_child("bind", ns::BIND).is_some());
    // RFC 6121 §2.6.1 roster versioning and §3.4 subscription pre-approval.
    assert!(
        stream
            .features()
            .get_child("ver", ns::ROSTER_VER_FEATURE)
            .is_some()
    );
    assert!(
        stream
            .features()
            .get_child("sub", ns::PRE_APPROVAL)
            .is_some()
    );
    let jid = stream.bind(Some("balcony")).await.unwrap();
    assert_eq!(jid.as_str(), "juliet@localhost/balcony");
    server.stop().await;
}

#[tokio::test]
async fn each_scram_mechanism_and_plain_over_tls() {
    let server = start(|_| {}).await;
    for mechanism in [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ] {
        let stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
        let mut stream = stream.starttls(tls_any()).await.unwrap();
        stream
            .authenticate(mechanism, "Juliet", PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", mechanism.as_str()));
        // RFC 7622: the username is case-mapped, so "Juliet" is juliet's account.
        let jid = stream.bind(None).await.unwrap();
        assert_eq!(jid.bare().as_str(), "juliet@localhost");
    }
    server.stop().await;
}

#[tokio::test]
async fn downgrade_to_non_plus_with_y_flag_is_refused_rfc_5802_section_6() {
    // The client supports channel binding and the server offered -PLUS: a client saying "y"
    // (it thinks the server cannot) reveals a stripped mechanism list.
    let server = start(|_| {}).await;
    let stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    let mut stream = stream.starttls(tls_any()).await.unwrap();
    // The gs2 header is in the first message, so the server refuses right there.
    let first = BASE64.encode("y,,n=juliet,r=abcdefghijklmnop");
    assert_eq!(
        sasl_failure(&mut stream, &auth("SCRAM-SHA-256", &first)).await,
        "not-authorized"
    );
    // The same client first message is fine when no -PLUS was offered (TLS 1.2: no exporter).
    let server12 = start(|c| c.tls.versions = vec!["1.2".into()]).await;
    let s12 = ClientStream::connect(server12.addr, DOMAIN).await.unwrap();
    let mut s12 = s12.starttls(tls_any()).await.unwrap();
    assert!(!s12.mechanisms().iter().any(|m| m.ends_with("-PLUS")));
    s12.send(&auth("SCRAM-SHA-256", &first)).await.unwrap();
    assert!(s12.next_element().await.unwrap().is("challenge", ns::SASL));
    server12.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn sasl_failures_and_the_retry_limit_section_6_4_5() {
    let server = start_plain(|c| c.limits.max_auth_attempts = 3).await;
    let mut stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    // §6.5.5: a mechanism not offered (PLAIN is not offered without TLS).
    let plain = BASE64.encode(b"\0juliet\0pw");
    assert_eq!(
        sasl_failure(&mut stream, &auth("PLAIN", &plain)).await,
        "invalid-mechanism"
    );
    // §6.5.3: bad base64.
    assert_eq!(
        sasl_failure(&mut stream, &auth("SCRAM-SHA-256", "!!!not base64")).await,
        "incorrect-encoding"
    );
    // Third failure: the stream is closed with policy-violation (the RFC's SHOULD).
    stream.send(&auth("SCRAM-SHA-256", "!!!")).await.unwrap();
    let failure = stream.next_element().await.unwrap();
    assert!(failure.is("failure", ns::SASL));
    expect_stream_error(&mut stream, StreamErrorCondition::PolicyViolation).await;
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_alike() {
    let server = start_plain(|_| {}).await;
    for (user, password) in [("juliet", "wrong"), ("nobody", PASSWORD)] {
        let mut stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
        match stream
            .authenticate(Mechanism::ScramSha256, user, password)
            .await
        {
            Err(ClientError::Sasl(condition)) => assert_eq!(condition, "not-authorized"),
            other => panic!("{user}: expected not-authorized, got {other:?}"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn abort_section_6_4_4() {
    let server = start_plain(|_| {}).await;
    let mut stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    stream.send(&auth("SCRAM-SHA-256", "")).await.unwrap();
    // No initial response: an empty challenge asks for it (§6.4.2).
    let challenge = stream.next_element().await.unwrap();
    assert!(
        challenge.is("challenge", ns::SASL) && challenge.text().is_empty(),
        "{challenge}"
    );
    assert_eq!(
        sasl_failure(&mut stream, &Element::new("abort", ns::SASL)).await,
        "aborted"
    );
    server.stop().await;
}

#[tokio::test]
async fn authzid_of_another_account_is_invalid_section_6_4_6() {
    let server = start(|_| {}).await;
    let stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    let mut stream = stream.starttls(tls_any()).await.unwrap();
    let msg = BASE64.encode(format!("romeo@localhost\0juliet\0{PASSWORD}"));
    assert_eq!(
        sasl_failure(&mut stream, &auth("PLAIN", &msg)).await,
        "invalid-authzid"
    );
    let msg = BASE64.encode(format!("juliet@localhost\0juliet\0{PASSWORD}"));
    stream.send(&auth("PLAIN", &msg)).await.unwrap();
    assert!(stream.next_element().await.unwrap().is("success", ns::SASL));
    server.stop().await;
}

async fn authenticated(server: &support::TestServer) -> ClientStream {
    let mut stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    stream
        .authenticate(Mechanism::ScramSha256, "juliet", PASSWORD)
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn stanza_before_bind_is_not_authorized_section_7_1() {
    let server = start_plain(|_| {}).await;
    let mut stream = authenticated(&server).await;
    stream
        .send(&Element::new("message", ns::JABBER_CLIENT).with_attr("to", "romeo@localhost"))
        .await
        .unwrap();
    expect_stream_error(&mut stream, StreamErrorCondition::NotAuthorized).await;
    server.stop().await;
}

#[tokio::test]
async fn server_generated_resource_section_7_6() {
    let server = start_plain(|_| {}).await;
    let mut stream = authenticated(&server).await;
    let jid = stream.bind(None).await.unwrap();
    assert_eq!(jid.bare().as_str(), "juliet@localhost");
    assert!(jid.resource().is_some_and(|r| r.len() >= 16));
    server.stop().await;
}

fn bind_request(id: &str, resource: &str) -> Element {
    Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("type", "set")
        .with_attr("id", id)
        .with_child(
            Element::new("bind", ns::BIND)
                .with_child(Element::new("resource", ns::BIND).with_text(resource)),
        )
}

#[tokio::test]
async fn malformed_resource_is_bad_request_and_retries_are_limited_section_7_7() {
    let server = start_plain(|c| c.limits.max_bind_attempts = 2).await;
    let mut stream = authenticated(&server).await;
    // U+0007 is not allowed by the OpaqueString profile (RFC 7622 §3.4).
    stream.send(&bind_request("b1", "bad\u{7f}")).await.unwrap();
    let reply = stream.next_element().await.unwrap();
    assert_eq!(reply.attr("type"), Some("error"), "{reply}");
    assert!(
        reply
            .get_child("error", ns::JABBER_CLIENT)
            .unwrap()
            .get_child("bad-request", ns::STANZAS)
            .is_some()
    );
    stream.send(&bind_request("b2", "bad\u{7f}")).await.unwrap();
    let _ = stream.next_element().await.unwrap();
    expect_stream_error(&mut stream, StreamErrorCondition::PolicyViolation).await;
    server.stop().await;
}

#[tokio::test]
async fn conflict_override_gives_a_new_resource_section_7_7_2_2() {
    let server = start_plain(|c| c.resource_conflict = ResourceConflict::Override).await;
    let (_first, jid1) = support::plain_login(&server, "juliet", Some("balcony")).await;
    let (_second, jid2) = support::plain_login(&server, "juliet", Some("balcony")).await;
    assert_eq!(jid1.as_str(), "juliet@localhost/balcony");
    assert_ne!(jid2, jid1);
    assert!(jid2.resource().unwrap().starts_with("balcony."), "{jid2}");
    server.wait_for_sessions(2).await;
    server.stop().await;
}

#[tokio::test]
async fn conflict_refuse_answers_conflict_section_7_7_2_2() {
    let server = start_plain(|c| c.resource_conflict = ResourceConflict::Refuse).await;
    let (_first, _) = support::plain_login(&server, "juliet", Some("balcony")).await;
    let mut second = authenticated(&server).await;
    second.send(&bind_request("b1", "balcony")).await.unwrap();
    let reply = second.next_element().await.unwrap();
    assert!(
        reply
            .get_child("error", ns::JABBER_CLIENT)
            .unwrap()
            .get_child("conflict", ns::STANZAS)
            .is_some(),
        "{reply}"
    );
    // The stream stays open for another try (§7.7.2.2 behaviour #2).
    let jid = second.bind(Some("chamber")).await.unwrap();
    assert_eq!(jid.as_str(), "juliet@localhost/chamber");
    server.stop().await;
}

#[tokio::test]
async fn conflict_kick_old_closes_the_old_session_section_7_7_2_2() {
    let server = start_plain(|c| c.resource_conflict = ResourceConflict::KickOld).await;
    let (mut first, _) = support::plain_login(&server, "juliet", Some("balcony")).await;
    let (_second, jid2) = support::plain_login(&server, "juliet", Some("balcony")).await;
    assert_eq!(jid2.as_str(), "juliet@localhost/balcony");
    expect_stream_error(&mut first, StreamErrorCondition::Conflict).await;
    server.wait_for_sessions(1).await;
    server.stop().await;
}
