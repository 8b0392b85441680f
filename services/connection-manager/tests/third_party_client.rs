//! A client library we did not write (tokio-xmpp, from crates.io) logs in over real TLS with
//! every SASL mechanism, then talks to the server and to another client.
//!
//! The server certificate is verified against the test CA: `.cargo/config.toml` sets
//! `SSL_CERT_FILE` for test processes, which the library's certificate loader honours.

mod support;

use std::time::Duration;

use futures::StreamExt;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::message::{Id, Lang, Message, MessageType};
use tokio_xmpp::parsers::ping::Ping;
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Client, Event, IqRequest, IqResponse, Stanza};

use support::{DOMAIN, PASSWORD, TestServer};

const WAIT: Duration = Duration::from_secs(15);

fn jid(user: &str) -> BareJid {
    BareJid::new(&format!("{user}@{DOMAIN}")).unwrap()
}

fn starttls_client(server: &TestServer, user: &str, password: &str) -> Client {
    Client::new_starttls(
        jid(user),
        password,
        DnsConfig::addr(&server.addr.to_string()),
        Timeouts::default(),
    )
}

fn direct_tls_client(server: &TestServer, user: &str) -> Client {
    Client::new_direct_tls_with_config(
        jid(user),
        PASSWORD,
        DnsConfig::addr(&server.tls_addr.to_string()),
        Timeouts::default(),
    )
}

/// Polls until the client is online and returns its bound JID.
async fn online(client: &mut Client) -> Jid {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, client.next())
            .await
            .expect("timed out waiting to come online")
            .expect("client stream ended");
        match event {
            Event::Online { bound_jid, .. } => return bound_jid,
            Event::Disconnected(e) => panic!("disconnected before online: {e}"),
            Event::Stanza(_) => {}
        }
    }
}

async fn login_with(tweak: impl FnOnce(&mut connection_manager::C2sConfig)) {
    let server = support::start(tweak).await;
    let mut client = starttls_client(&server, "juliet", PASSWORD);
    let bound = online(&mut client).await;
    assert_eq!(bound.to_bare(), jid("juliet"));
    assert!(
        bound.resource().is_some(),
        "RFC 6120 §7: a full JID is bound"
    );
    server.wait_for_sessions(1).await;
    client.send_end().await.unwrap();
    server.wait_for_sessions(0).await;
    server.stop().await;
}

#[tokio::test]
async fn starttls_with_scram_sha_256_plus_channel_binding() {
    // TLS 1.3 gives tls-exporter data; offering only -PLUS proves the client used it.
    login_with(|c| c.sasl_mechanisms = vec!["SCRAM-SHA-256-PLUS".into()]).await;
}

#[tokio::test]
async fn starttls_with_channel_binding_when_rustls_keeps_the_record_layer() {
    // The default protects records after the handshake without rustls (compact sessions);
    // the other path must log in just as well, channel binding included.
    login_with(|c| {
        c.tls.compact_sessions = false;
        c.sasl_mechanisms = vec!["SCRAM-SHA-256-PLUS".into()];
    })
    .await;
}

#[tokio::test]
async fn starttls_with_scram_sha_256_over_tls_1_2() {
    // Without TLS 1.3 there is no tls-exporter, so the client uses plain SCRAM-SHA-256 ("n,,").
    login_with(|c| {
        c.tls.versions = vec!["1.2".into()];
        c.sasl_mechanisms = vec!["SCRAM-SHA-256".into()];
    })
    .await;
}

#[tokio::test]
async fn starttls_with_scram_sha_1() {
    login_with(|c| {
        c.tls.versions = vec!["1.2".into()];
        c.sasl_mechanisms = vec!["SCRAM-SHA-1".into()];
    })
    .await;
}

#[tokio::test]
async fn starttls_with_plain() {
    login_with(|c| c.sasl_mechanisms = vec!["PLAIN".into()]).await;
}

#[tokio::test]
async fn direct_tls_login_xep_0368() {
    let server = support::start(|_| {}).await;
    let mut client = direct_tls_client(&server, "romeo");
    let bound = online(&mut client).await;
    assert_eq!(bound.to_bare(), jid("romeo"));
    client.send_end().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_is_refused_with_not_authorized() {
    // The library's Client retries forever; its SASL step reports the server's condition.
    use tokio_xmpp::connect::{ServerConnector, StartTlsServerConnector};
    use tokio_xmpp::parsers::sasl::DefinedCondition;
    let server = support::start(|_| {}).await;
    let connector = StartTlsServerConnector(DnsConfig::addr(&server.addr.to_string()));
    let account = Jid::from(jid("juliet"));
    let (stream, channel_binding) = connector
        .connect(
            &account,
            tokio_xmpp::parsers::ns::JABBER_CLIENT,
            Timeouts::default(),
        )
        .await
        .unwrap();
    let (features, stream) = stream.recv_features().await.unwrap();
    let creds = sasl::common::Credentials::default()
        .with_username("juliet")
        .with_password("wrong")
        .with_channel_binding(channel_binding);
    match tokio_xmpp::client_login(stream, features.sasl_mechanisms, creds).await {
        Err(tokio_xmpp::Error::Auth(tokio_xmpp::error::AuthError::Fail(condition))) => {
            assert_eq!(condition, DefinedCondition::NotAuthorized);
        }
        Err(other) => panic!("expected not-authorized, got {other}"),
        Ok(_) => panic!("logged in with a wrong password"),
    }
    assert_eq!(server.server.sessions.len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn ping_and_disco_info_of_the_server() {
    let server = support::start(|_| {}).await;
    let mut client = starttls_client(&server, "juliet", PASSWORD);
    online(&mut client).await;
    let domain = Jid::new(DOMAIN).unwrap();

    // XEP-0199 §4.2: client-to-server ping gets an empty result.
    let pong = client
        .send_iq(Some(domain.clone()), IqRequest::Get(Ping.into()))
        .await;
    match tokio::time::timeout(WAIT, pong).await.unwrap().unwrap() {
        IqResponse::Result(payload) => assert!(payload.is_none()),
        IqResponse::Error(e) => panic!("ping failed: {e:?}"),
    }

    // XEP-0030 §3.1: the server is an IM server and lists what it implements.
    let query = DiscoInfoQuery { node: None };
    let info = client
        .send_iq(Some(domain), IqRequest::Get(query.into()))
        .await;
    let IqResponse::Result(Some(payload)) =
        tokio::time::timeout(WAIT, info).await.unwrap().unwrap()
    else {
        panic!("disco#info failed");
    };
    let info = DiscoInfoResult::try_from(payload).unwrap();
    assert_eq!(info.identities.len(), 1);
    assert_eq!(info.identities[0].category, "server");
    assert_eq!(info.identities[0].type_, "im");
    let features: Vec<&str> = info.features.iter().map(|f| f.as_str()).collect();
    let mut expected = connection_manager::SERVER_FEATURES.to_vec();
    expected.sort_unstable();
    assert_eq!(features, expected);
    client.send_end().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn message_to_a_full_jid_reaches_that_session() {
    let server = support::start(|_| {}).await;
    let mut juliet = starttls_client(&server, "juliet", PASSWORD);
    let mut romeo = direct_tls_client(&server, "romeo");
    online(&mut juliet).await;
    let romeo_jid = online(&mut romeo).await;

    let mut msg = Message::new(Some(romeo_jid.clone()));
    msg.type_ = MessageType::Chat;
    msg.id = Some(Id("m1".to_owned()));
    msg.bodies
        .insert(Lang::from(""), "Art thou not Romeo?".to_owned());
    juliet.send_stanza(msg.into()).await.unwrap();

    let deadline = tokio::time::Instant::now() + WAIT;
    let received = loop {
        match tokio::time::timeout_at(deadline, romeo.next())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Stanza(Stanza::Message(m)) => break m,
            Event::Stanza(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(received.type_, MessageType::Chat);
    assert_eq!(received.id, Some(Id("m1".to_owned())));
    assert_eq!(received.to, Some(romeo_jid));
    // RFC 6120 §8.1.2.1: the server stamped juliet's full JID.
    let from = received.from.unwrap();
    assert_eq!(from.to_bare(), jid("juliet"));
    assert!(from.resource().is_some());
    // The body carries the stream's default language (xml:lang='en' on our header).
    assert_eq!(
        received.bodies.values().collect::<Vec<_>>(),
        ["Art thou not Romeo?"]
    );
    juliet.send_end().await.unwrap();
    romeo.send_end().await.unwrap();
    server.stop().await;
}
