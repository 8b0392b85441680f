//! TLS to Redis (`rediss://`), on a server of the test's own that accepts TLS connections
//! only: publishing and the inbox's own connections both speak it, trusting the configured
//! CA and nothing else.

use std::path::PathBuf;

use ::redis::IntoConnectionInfo;

use super::own_server::{OwnCluster, OwnServer, TestCertificate};
use super::*;
use crate::redis::tls::RedisTls;

fn tls_config(server: &OwnServer, ca: PathBuf) -> RedisBusConfig {
    RedisBusConfig {
        urls: vec![server.url()],
        channel_prefix: unique_prefix(),
        tls_ca_file: Some(ca),
        ..RedisBusConfig::default()
    }
}

#[tokio::test]
async fn deliveries_cross_tls_connections_to_a_server_with_the_configured_ca() {
    let server = OwnServer::standalone_tls().await;
    let ca = server.certificate().cert_file();
    let bus = RedisBus::connect(tls_config(&server, ca)).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
    let subscriptions = inbox.subscriptions();
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    let presence = delivery(
        "juliet@example.com",
        "<presence from='romeo@example.com/a'/>",
    );
    bus.publish(presence.clone()).await.unwrap();
    assert_eq!(next(&mut inbox).await, presence);
    // Only the inbox's connection is subscribed; the server has no plain port.
    assert_eq!(subscribers(&bus, "juliet@example.com").await, 1);
}

#[tokio::test]
async fn a_cluster_is_followed_over_tls_from_its_slot_map() {
    let cluster = OwnCluster::start_tls().await;
    let config = RedisBusConfig {
        urls: vec![cluster.nodes[0].url()],
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        tls_ca_file: Some(cluster.nodes[0].certificate().cert_file()),
        ..RedisBusConfig::default()
    };
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
    // Users on every node: the inbox connects to the nodes the slot map names, over TLS.
    let users: Vec<String> = (0..30).map(|n| format!("user{n}@example.com")).collect();
    let subscriptions = inbox.subscriptions();
    for user in &users {
        subscriptions.subscribe(user).await.unwrap();
    }
    for user in &users {
        let presence = delivery(user, "<presence/>");
        bus.publish(presence.clone()).await.unwrap();
        assert_eq!(next(&mut inbox).await, presence);
    }
}

#[tokio::test]
async fn a_server_whose_certificate_the_ca_does_not_sign_is_refused() {
    let server = OwnServer::standalone_tls().await;
    let other = TestCertificate::new();
    let config = RedisBusConfig {
        command_timeout: Duration::from_millis(500),
        reconnect_backoff_max: Duration::from_millis(100),
        ..tls_config(&server, other.cert_file())
    };
    // Said as it is, not as a server that does not answer.
    let refused = RedisBus::connect(config.clone()).await;
    assert!(
        matches!(&refused, Err(BusError::Unavailable(why)) if why.contains("certificate")),
        "{refused:?}"
    );

    // The inbox's own connection checks the certificate as well.
    let tls = RedisTls::for_config(&config).unwrap().unwrap();
    let info = server.url().as_str().into_connection_info().unwrap();
    let link = link::Link::connect(0, &info, Some(&tls), |_| {}).await;
    let error = link.err().expect("an untrusted certificate is refused");
    assert!(
        error.to_string().contains("certificate"),
        "not a certificate error: {error}"
    );
}

#[test]
fn tls_settings_that_cannot_be_trusted_are_refused() {
    let certificate = TestCertificate::new();
    let empty = tempfile::NamedTempFile::new().unwrap();
    let with = |url: &str, ca: Option<PathBuf>| RedisBusConfig {
        urls: vec![url.to_owned()],
        tls_ca_file: ca,
        ..RedisBusConfig::default()
    };
    let cases = [
        (with("rediss://127.0.0.1:6380/#insecure", None), "#insecure"),
        (
            with(
                "rediss://127.0.0.1:6380",
                Some("/nonexistent/ca.pem".into()),
            ),
            "/nonexistent/ca.pem",
        ),
        (
            with("rediss://127.0.0.1:6380", Some(empty.path().to_owned())),
            "no certificate",
        ),
        (
            with("redis://127.0.0.1:6379", Some(certificate.cert_file())),
            "no Redis URL is rediss://",
        ),
    ];
    for (config, says) in cases {
        match RedisTls::for_config(&config) {
            Err(BusError::Config(message)) => {
                assert!(message.contains(says), "{config:?}: {message}");
            }
            Err(other) => panic!("{config:?}: {other:?}"),
            Ok(_) => panic!("{config:?} accepted"),
        }
    }
    let plain = with("redis://127.0.0.1:6379", None);
    assert!(RedisTls::for_config(&plain).unwrap().is_none());
    let trusted = with("rediss://127.0.0.1:6380", Some(certificate.cert_file()));
    assert!(RedisTls::for_config(&trusted).unwrap().is_some());
}

#[tokio::test]
async fn a_cluster_whose_certificates_the_ca_does_not_sign_is_refused() {
    let cluster = OwnCluster::start_tls().await;
    let other = TestCertificate::new();
    let config = RedisBusConfig {
        urls: vec![cluster.nodes[0].url()],
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        command_timeout: Duration::from_millis(500),
        tls_ca_file: Some(other.cert_file()),
        ..RedisBusConfig::default()
    };
    let refused = RedisBus::connect(config).await;
    assert!(
        matches!(&refused, Err(BusError::Unavailable(why)) if why.contains("certificate")),
        "{:?}",
        refused.err()
    );
}
