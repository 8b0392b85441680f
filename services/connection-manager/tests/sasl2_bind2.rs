//! XEP-0388 (SASL2) and XEP-0386 (Bind 2) on the wire: the feature, an exchange that
//! authenticates and binds at once, SASL2 without Bind 2 followed by RFC 6120 binding on the
//! same stream, and the failures.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use xmpp_core::sasl::Mechanism;
use xmpp_core::{Element, StreamErrorCondition, ns};
use xmpp_stream::client::ClientStream;

use support::peer::Peer;
use support::{DOMAIN, PASSWORD, expect_stream_error, start, tls_any};

async fn over_tls(server: &support::TestServer) -> ClientStream {
    let stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    stream.starttls(tls_any()).await.unwrap()
}

fn authenticate(mechanism: &str, initial: Option<&[u8]>) -> Element {
    let mut e = Element::new("authenticate", ns::SASL2).with_attr("mechanism", mechanism);
    if let Some(data) = initial {
        e.push_child(Element::new("initial-response", ns::SASL2).with_text(BASE64.encode(data)));
    }
    e
}

fn plain(user: &str, password: &str) -> Vec<u8> {
    format!("\0{user}\0{password}").into_bytes()
}

/// Sends `request` and returns the condition of the SASL2 failure that answers it.
async fn failure(stream: &mut ClientStream, request: &Element) -> String {
    stream.send(request).await.unwrap();
    let reply = stream.next_element().await.unwrap();
    assert!(reply.is("failure", ns::SASL2), "{reply}");
    let condition = reply.children().next().unwrap();
    // XEP-0388 §2.6.2: the condition keeps RFC 6120's namespace.
    assert_eq!(condition.ns(), ns::SASL, "{reply}");
    condition.name().to_owned()
}

#[tokio::test]
async fn offered_after_tls_only_with_the_same_mechanisms_and_bind_2_inline_section_2_1() {
    let server = start(|_| {}).await;
    let stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    // XEP-0388 §3: never before TLS.
    assert!(
        stream
            .features()
            .get_child("authentication", ns::SASL2)
            .is_none()
    );
    let stream = stream.starttls(tls_any()).await.unwrap();
    assert_eq!(stream.sasl2_mechanisms(), stream.mechanisms());
    assert!(stream.offers_bind2(), "{}", stream.features());
    server.stop().await;
}

#[tokio::test]
async fn authenticate_and_bind_in_one_exchange_xep_0386_section_3_2() {
    let server = start(|_| {}).await;
    let mut stream = over_tls(&server).await;
    let success = stream
        .authenticate_sasl2(
            Mechanism::ScramSha256Plus,
            "juliet",
            PASSWORD,
            Some("AwesomeXMPP"),
        )
        .await
        .unwrap();
    assert!(success.bound);
    // XEP-0386 §3.2.1: the tag, a '/', and what the server generated.
    let resource = success.jid.resource().unwrap().to_owned();
    assert!(resource.starts_with("AwesomeXMPP/"), "{resource}");
    assert_eq!(success.jid.bare().as_str(), "juliet@localhost");
    // XEP-0388 §2.6.1: features of the bound stream follow, without a restart; binding is
    // done, so it is not offered again.
    assert!(stream.features().get_child("bind", ns::BIND).is_none());
    assert!(
        stream
            .features()
            .get_child("ver", ns::ROSTER_VER_FEATURE)
            .is_some()
    );
    assert!(server.server.sessions.get(&success.jid).is_some());

    // The session is a full one: a contact reaches it at its generated full JID, and it
    // answers.
    let mut romeo = Peer::login(&server, "romeo").await;
    romeo
        .send(&format!(
            "<message to='{}' type='chat'><body>wherefore</body></message>",
            success.jid
        ))
        .await;
    let message = stream.next_element().await.unwrap();
    assert_eq!(message.attr("from"), Some(romeo.jid.as_str()));
    assert_eq!(
        message.get_child("body", ns::JABBER_CLIENT).unwrap().text(),
        "wherefore"
    );
    stream
        .send(
            &Element::new("message", ns::JABBER_CLIENT)
                .with_attr("to", romeo.jid.as_str())
                .with_attr("type", "chat")
                .with_child(Element::new("body", ns::JABBER_CLIENT).with_text("here")),
        )
        .await
        .unwrap();
    let from = success.jid.to_string();
    romeo
        .expect("juliet's answer", |e| e.attr("from") == Some(from.as_str()))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn without_bind_2_no_restart_and_rfc_6120_binding_follows_xep_0388_section_2_6_1() {
    let server = start(|_| {}).await;
    let mut stream = over_tls(&server).await;
    stream
        .send(&authenticate("PLAIN", Some(&plain("juliet", PASSWORD))))
        .await
        .unwrap();
    let success = stream.next_element().await.unwrap();
    assert_eq!(
        success.to_string(),
        "<success xmlns='urn:xmpp:sasl:2'>\
         <authorization-identifier>juliet@localhost</authorization-identifier></success>"
    );
    let features = stream.next_element().await.unwrap();
    assert!(features.is("features", ns::STREAM), "{features}");
    assert!(features.get_child("bind", ns::BIND).is_some(), "{features}");
    // The same stream: no new header comes, and RFC 6120 binding works on it.
    let jid = stream.bind(Some("balcony")).await.unwrap();
    assert_eq!(jid.as_str(), "juliet@localhost/balcony");
    server.stop().await;
}

#[tokio::test]
async fn failures_are_sasl2_failures_and_bind_is_not_processed_section_2_6_2() {
    let server = start(|c| c.limits.max_auth_attempts = 4).await;
    let mut stream = over_tls(&server).await;
    // Not offered.
    assert_eq!(
        failure(&mut stream, &authenticate("DIGEST-MD5", Some(b"x"))).await,
        "invalid-mechanism"
    );
    // Wrong password, with a bind request that must be ignored.
    let request = authenticate("PLAIN", Some(&plain("juliet", "wrong")))
        .with_child(Element::new("bind", ns::BIND2));
    assert_eq!(failure(&mut stream, &request).await, "not-authorized");
    assert!(server.server.sessions.is_empty());
    // No initial response: an empty challenge asks for it; the client aborts (XEP-0388 §4.5).
    stream
        .send(&authenticate("SCRAM-SHA-256", None))
        .await
        .unwrap();
    let challenge = stream.next_element().await.unwrap();
    assert!(
        challenge.is("challenge", ns::SASL2) && challenge.text().is_empty(),
        "{challenge}"
    );
    assert_eq!(
        failure(&mut stream, &Element::new("abort", ns::SASL2)).await,
        "aborted"
    );
    // The fourth failure spends the budget (RFC 6120 §6.4.5, as for the first profile).
    stream
        .send(&authenticate("PLAIN", Some(&plain("juliet", "wrong"))))
        .await
        .unwrap();
    assert!(
        stream
            .next_element()
            .await
            .unwrap()
            .is("failure", ns::SASL2)
    );
    expect_stream_error(&mut stream, StreamErrorCondition::PolicyViolation).await;
    server.stop().await;
}

#[tokio::test]
async fn before_tls_authenticate_is_refused_with_encryption_required_section_3() {
    let server = start(|_| {}).await;
    let mut stream = ClientStream::connect(server.addr, DOMAIN).await.unwrap();
    assert_eq!(
        failure(
            &mut stream,
            &authenticate("PLAIN", Some(&plain("juliet", PASSWORD)))
        )
        .await,
        "encryption-required"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_second_authenticate_after_success_is_a_stream_error_section_4_8() {
    let server = start(|_| {}).await;
    let mut stream = over_tls(&server).await;
    stream
        .authenticate_sasl2(Mechanism::ScramSha256, "juliet", PASSWORD, None)
        .await
        .unwrap();
    stream
        .send(&authenticate("PLAIN", Some(&plain("juliet", PASSWORD))))
        .await
        .unwrap();
    expect_stream_error(&mut stream, StreamErrorCondition::NotAuthorized).await;
    server.stop().await;
}

/// What the load generator logs in with: resource tag `load`, TLS, SASL2 where offered;
/// over direct TLS (XEP-0368) or STARTTLS.
fn load_options(direct_tls: bool) -> xmpp_stream::client::LoginOptions {
    xmpp_stream::client::LoginOptions {
        resource: Some("load".into()),
        tls: Some(tls_any()),
        salted_cache: None,
        sasl2: true,
        direct_tls,
    }
}

#[tokio::test]
async fn the_client_logs_in_through_sasl2_when_asked_and_offered() {
    let server = start(|_| {}).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let options = load_options(false);
    let (_stream, jid) = ClientStream::login_with(tcp, DOMAIN, "nurse", PASSWORD, &options)
        .await
        .unwrap();
    assert!(jid.resource().unwrap().starts_with("load/"), "{jid}");
    // Without SASL2 the same options bind the resource asked for.
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let options = xmpp_stream::client::LoginOptions {
        sasl2: false,
        ..options
    };
    let (_stream, jid) = ClientStream::login_with(tcp, DOMAIN, "nurse", PASSWORD, &options)
        .await
        .unwrap();
    assert_eq!(jid.as_str(), "nurse@localhost/load");
    server.stop().await;
}

/// XEP-0368 §3: the same login over the direct TLS port, TLS from the first byte and no
/// `<starttls/>` offered or needed; with and without SASL2.
#[tokio::test]
async fn the_client_logs_in_over_direct_tls_when_asked() {
    let server = start(|_| {}).await;
    let options = load_options(true);
    let tcp = tokio::net::TcpStream::connect(server.tls_addr)
        .await
        .unwrap();
    let (stream, jid) = ClientStream::login_with(tcp, DOMAIN, "nurse", PASSWORD, &options)
        .await
        .unwrap();
    assert!(stream.is_tls());
    assert!(jid.resource().unwrap().starts_with("load/"), "{jid}");
    let tcp = tokio::net::TcpStream::connect(server.tls_addr)
        .await
        .unwrap();
    let rfc6120 = xmpp_stream::client::LoginOptions {
        sasl2: false,
        ..options.clone()
    };
    let (_stream, jid) = ClientStream::login_with(tcp, DOMAIN, "nurse", PASSWORD, &rfc6120)
        .await
        .unwrap();
    assert_eq!(jid.as_str(), "nurse@localhost/load");
    // Direct TLS without a TLS configuration is refused before a byte is sent.
    let tcp = tokio::net::TcpStream::connect(server.tls_addr)
        .await
        .unwrap();
    let no_tls = xmpp_stream::client::LoginOptions {
        tls: None,
        ..options
    };
    let err = ClientStream::login_with(tcp, DOMAIN, "nurse", PASSWORD, &no_tls)
        .await
        .unwrap_err();
    assert!(
        matches!(err, xmpp_stream::client::ClientError::Tls(ref m) if m.contains("direct TLS")),
        "{err}"
    );
    server.stop().await;
}
