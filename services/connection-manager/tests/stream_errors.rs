//! Bad input on the stream gets the exact stream error of RFC 6120 §4.9.3, preceded by the
//! server's own header (§4.9.1.2), and the stream is closed; other sessions do not notice.

mod support;

use xmpp_core::StreamErrorCondition as C;
use xmpp_core::ns;

use support::{OPEN, raw_exchange, start_plain};

async fn expect_error(input: &str, condition: C) -> support::Transcript {
    let server = start_plain(|c| c.limits.max_stanza_bytes = 4096).await;
    let t = raw_exchange(server.addr, input.as_bytes()).await;
    assert!(
        t.header.is_some(),
        "§4.9.1.2: a header precedes the error: {t:?}"
    );
    assert_eq!(t.stream_error(), Some(condition), "{t:?}");
    assert!(t.closed, "§4.9.1.1: the stream is closed after the error");
    server.stop().await;
    t
}

#[tokio::test]
async fn comment_is_restricted_xml_section_11_1() {
    expect_error(&format!("{OPEN}<!-- hello -->"), C::RestrictedXml).await;
}

#[tokio::test]
async fn processing_instruction_is_restricted_xml_section_11_1() {
    expect_error(&format!("{OPEN}<?pi data?>"), C::RestrictedXml).await;
}

#[tokio::test]
async fn doctype_is_restricted_xml_section_11_1() {
    let input = "<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]><stream:stream to='localhost' \
                 version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    expect_error(input, C::RestrictedXml).await;
}

#[tokio::test]
async fn entity_reference_is_restricted_xml_section_11_1() {
    expect_error(
        &format!("{OPEN}<message to='romeo@localhost'><body>&custom;</body></message>"),
        C::RestrictedXml,
    )
    .await;
}

#[tokio::test]
async fn mismatched_tags_are_not_well_formed_section_4_9_3_13() {
    expect_error(
        &format!("{OPEN}<message><body>hi</message>"),
        C::NotWellFormed,
    )
    .await;
}

#[tokio::test]
async fn text_at_stream_level_is_not_well_formed() {
    expect_error(&format!("{OPEN}hello"), C::NotWellFormed).await;
}

#[tokio::test]
async fn oversized_stanza_is_a_policy_violation_section_13_12() {
    let body = "x".repeat(5000);
    expect_error(
        &format!("{OPEN}<message><body>{body}</body></message>"),
        C::PolicyViolation,
    )
    .await;
}

#[tokio::test]
async fn deep_nesting_is_a_policy_violation() {
    let open = "<a>".repeat(100);
    expect_error(&format!("{OPEN}<message>{open}"), C::PolicyViolation).await;
}

#[tokio::test]
async fn wrong_stream_namespace_is_invalid_namespace_section_4_9_3_10() {
    let input = "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:not-streams'>";
    expect_error(input, C::InvalidNamespace).await;
}

#[tokio::test]
async fn server_namespace_on_a_client_stream_is_invalid_namespace() {
    let input = "<stream:stream to='localhost' version='1.0' xmlns='jabber:server' \
                 xmlns:stream='http://etherx.jabber.org/streams'>";
    expect_error(input, C::InvalidNamespace).await;
}

#[tokio::test]
async fn major_version_2_is_unsupported_section_4_7_5() {
    let input = "<stream:stream to='localhost' version='2.0' xmlns='jabber:client' \
                 xmlns:stream='http://etherx.jabber.org/streams'>";
    let t = expect_error(input, C::UnsupportedVersion).await;
    assert_eq!(t.header.unwrap().version.as_deref(), Some("1.0"));
}

#[tokio::test]
async fn missing_version_is_unsupported() {
    let input = "<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    expect_error(input, C::UnsupportedVersion).await;
}

#[tokio::test]
async fn unknown_domain_is_host_unknown_section_4_9_3_6() {
    let input = "<stream:stream to='example.org' version='1.0' xmlns='jabber:client' \
                 xmlns:stream='http://etherx.jabber.org/streams'>";
    expect_error(input, C::HostUnknown).await;
}

#[tokio::test]
async fn stanza_before_authentication_is_not_authorized_section_4_9_3_12() {
    expect_error(
        &format!("{OPEN}<message to='romeo@localhost'><body>hi</body></message>"),
        C::NotAuthorized,
    )
    .await;
}

#[tokio::test]
async fn header_answers_with_features_and_a_fresh_id() {
    let server = start_plain(|_| {}).await;
    let mut stream = xmpp_stream::client::ClientStream::connect(server.addr, "localhost")
        .await
        .unwrap();
    let features = stream.features().clone();
    // §5.4.1 / §6.4.1: STARTTLS offered (not required here), SCRAM offered, PLAIN not
    // offered without TLS (§13.8).
    assert!(features.get_child("starttls", ns::TLS).is_some());
    assert!(
        features
            .get_child("starttls", ns::TLS)
            .unwrap()
            .get_child("required", ns::TLS)
            .is_none()
    );
    assert_eq!(stream.mechanisms(), vec!["SCRAM-SHA-256", "SCRAM-SHA-1"]);
    stream.close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn bad_input_on_one_stream_does_not_disturb_another() {
    let server = start_plain(|_| {}).await;
    let (mut good, jid) = support::plain_login(&server, "juliet", Some("balcony")).await;
    for bad in [
        format!("{OPEN}<message><body></message>"),
        format!("{OPEN}<!-- x -->"),
        "\u{0}\u{1}garbage".into(),
    ] {
        let t = raw_exchange(server.addr, bad.as_bytes()).await;
        assert!(t.stream_error().is_some(), "{t:?}");
    }
    let ping = xmpp_core::Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("type", "get")
        .with_attr("id", "still-here")
        .with_attr("to", "localhost")
        .with_child(xmpp_core::Element::new("ping", ns::PING));
    good.send(&ping).await.unwrap();
    let reply = good.next_element().await.unwrap();
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(reply.attr("id"), Some("still-here"));
    assert_eq!(reply.attr("to"), Some(jid.as_str()));
    server.stop().await;
}
