//! TLS to Redis (`rediss://`), on a server of the test's own that accepts TLS connections
//! only: publishing and the inbox's own connections both speak it, trusting the configured
//! CA and nothing else, and presenting the configured client certificate to a server that
//! requires one.

use std::path::PathBuf;
use std::sync::Arc;

use ::redis::IntoConnectionInfo;

use super::own_server::{OwnCluster, OwnServer, TestCertificate};
use super::*;
use crate::redis::tls::RedisTls;

fn tls_config(server: &OwnServer, ca: PathBuf) -> RedisBusConfig {
    RedisBusConfig {
        urls: vec![server.url()],
        channel_prefix: unique_prefix(),
        tls: trusting(ca),
        ..RedisBusConfig::default()
    }
}

/// Trusting `ca`, presenting no certificate.
fn trusting(ca: PathBuf) -> RedisTlsFiles {
    RedisTlsFiles {
        ca_file: Some(ca),
        ..RedisTlsFiles::default()
    }
}

/// Trusting `ca`, presenting `client`'s certificate.
fn presenting(ca: PathBuf, client: &TestCertificate) -> RedisTlsFiles {
    RedisTlsFiles {
        ca_file: Some(ca),
        client_cert_file: Some(client.cert_file()),
        client_key_file: Some(client.key_file()),
    }
}

/// A presence published on `bus` reaches the inbox subscribed to its user, through the one
/// connection subscribed (the server has no plain port).
async fn a_delivery_crosses(bus: &RedisBus) {
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
    let subscriptions = inbox.subscriptions();
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    let presence = delivery(
        "juliet@example.com",
        "<presence from='romeo@example.com/a'/>",
    );
    bus.publish(presence.clone()).await.unwrap();
    assert_eq!(next(&mut inbox).await, presence);
    assert_eq!(subscribers(bus, "juliet@example.com").await, 1);
}

/// The settings of a bus on `cluster`, with `tls`.
fn cluster_config(cluster: &OwnCluster, tls: RedisTlsFiles) -> RedisBusConfig {
    RedisBusConfig {
        urls: vec![cluster.nodes[0].url()],
        mode: RedisMode::Cluster,
        channel_prefix: unique_prefix(),
        tls,
        ..RedisBusConfig::default()
    }
}

/// Presence for users on every node of a cluster reaches the inbox: publishing and the
/// inbox's connections reach the nodes the slot map names.
async fn deliveries_cross_every_node(bus: &RedisBus) {
    let mut inbox = bus.open_inbox("c2s-0", 64).await.unwrap();
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
async fn deliveries_cross_tls_connections_to_a_server_with_the_configured_ca() {
    let server = OwnServer::standalone_tls().await;
    let ca = server.certificate().cert_file();
    let bus = RedisBus::connect(tls_config(&server, ca)).await.unwrap();
    a_delivery_crosses(&bus).await;
}

#[tokio::test]
async fn a_cluster_is_followed_over_tls_from_its_slot_map() {
    let cluster = OwnCluster::start_tls().await;
    let ca = cluster.nodes[0].certificate().cert_file();
    let bus = RedisBus::connect(cluster_config(&cluster, trusting(ca)))
        .await
        .unwrap();
    deliveries_cross_every_node(&bus).await;
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
    let other = TestCertificate::new();
    let empty = tempfile::NamedTempFile::new().unwrap();
    let with = |url: &str, tls: RedisTlsFiles| RedisBusConfig {
        urls: vec![url.to_owned()],
        tls,
        ..RedisBusConfig::default()
    };
    let tls_url = "rediss://127.0.0.1:6380";
    let ca = || certificate.cert_file();
    let client = |cert: PathBuf, key: PathBuf| RedisTlsFiles {
        client_cert_file: Some(cert),
        client_key_file: Some(key),
        ..trusting(ca())
    };
    let cases = [
        (
            with(
                "rediss://127.0.0.1:6380/#insecure",
                RedisTlsFiles::default(),
            ),
            "#insecure",
        ),
        (
            with(tls_url, trusting("/nonexistent/ca.pem".into())),
            "/nonexistent/ca.pem",
        ),
        (
            with(tls_url, trusting(empty.path().to_owned())),
            "no certificate",
        ),
        (
            with("redis://127.0.0.1:6379", trusting(ca())),
            "no Redis URL is rediss://",
        ),
        (
            with(
                "redis://127.0.0.1:6379",
                RedisTlsFiles {
                    client_cert_file: Some(ca()),
                    client_key_file: Some(certificate.key_file()),
                    ..RedisTlsFiles::default()
                },
            ),
            "no Redis URL is rediss://",
        ),
        (
            with(
                tls_url,
                RedisTlsFiles {
                    client_cert_file: Some(ca()),
                    ..trusting(ca())
                },
            ),
            "go together; only",
        ),
        (
            with(
                tls_url,
                RedisTlsFiles {
                    client_key_file: Some(certificate.key_file()),
                    ..trusting(ca())
                },
            ),
            "go together; only",
        ),
        (
            with(
                tls_url,
                client("/nonexistent/client.pem".into(), certificate.key_file()),
            ),
            "/nonexistent/client.pem",
        ),
        (
            with(
                tls_url,
                client(empty.path().to_owned(), certificate.key_file()),
            ),
            "no certificate",
        ),
        (with(tls_url, client(ca(), ca())), "no private key"),
        (
            with(tls_url, client(ca(), other.key_file())),
            "with the key",
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
    let plain = with("redis://127.0.0.1:6379", RedisTlsFiles::default());
    assert!(RedisTls::for_config(&plain).unwrap().is_none());
    let trusted = with(tls_url, trusting(ca()));
    assert!(RedisTls::for_config(&trusted).unwrap().is_some());
    let presented = with(tls_url, client(ca(), certificate.key_file()));
    assert!(RedisTls::for_config(&presented).unwrap().is_some());
}

#[tokio::test]
async fn a_cluster_whose_certificates_the_ca_does_not_sign_is_refused() {
    let cluster = OwnCluster::start_tls().await;
    let other = TestCertificate::new();
    let config = RedisBusConfig {
        command_timeout: Duration::from_millis(500),
        ..cluster_config(&cluster, trusting(other.cert_file()))
    };
    let refused = RedisBus::connect(config).await;
    assert!(
        matches!(&refused, Err(BusError::Unavailable(why)) if why.contains("certificate")),
        "{:?}",
        refused.err()
    );
}

#[tokio::test]
async fn a_server_that_requires_a_client_certificate_gets_the_configured_one() {
    let client = Arc::new(TestCertificate::new());
    let server = OwnServer::standalone_mtls(client.clone()).await;
    let ca = server.certificate().cert_file();
    let config = RedisBusConfig {
        tls: presenting(ca.clone(), &client),
        ..tls_config(&server, ca)
    };
    let bus = RedisBus::connect(config).await.unwrap();
    a_delivery_crosses(&bus).await;
}

#[tokio::test]
async fn a_server_that_requires_a_client_certificate_refuses_none_and_an_untrusted_one() {
    let client = Arc::new(TestCertificate::new());
    let stranger = TestCertificate::new();
    let server = OwnServer::standalone_mtls(client).await;
    let ca = server.certificate().cert_file();
    let quick = |tls: RedisTlsFiles| RedisBusConfig {
        command_timeout: Duration::from_millis(500),
        reconnect_backoff_max: Duration::from_millis(100),
        tls,
        ..tls_config(&server, ca.clone())
    };
    // The server's refusal arrives as a TLS 1.3 alert after the client's side of the
    // handshake is done (RFC 8446 §4.4.2.4), and is reported as it is.
    let cases = [
        (trusting(ca.clone()), "CertificateRequired"),
        (presenting(ca.clone(), &stranger), "UnknownCA"),
    ];
    for (tls, alert) in cases {
        let config = quick(tls);
        // The publisher says why, rather than that the server did not answer.
        let refused = RedisBus::connect(config.clone()).await;
        assert!(
            matches!(&refused, Err(BusError::Unavailable(why)) if why.contains(alert)),
            "{alert}: {:?}",
            refused.err()
        );
        // So does the inbox's own connection, at its HELLO.
        let tls = RedisTls::for_config(&config).unwrap().unwrap();
        let info = server.url().as_str().into_connection_info().unwrap();
        let link = link::Link::connect(0, &info, Some(&tls), |_| {}).await;
        let error = link.err().expect("the server refuses the link");
        assert!(error.to_string().contains(alert), "{alert}: {error}");
    }
}

#[tokio::test]
async fn a_cluster_that_requires_client_certificates_is_followed_with_the_configured_one() {
    let client = Arc::new(TestCertificate::new());
    let cluster = OwnCluster::start_mtls(client.clone()).await;
    let ca = cluster.nodes[0].certificate().cert_file();
    let config = cluster_config(&cluster, presenting(ca, &client));
    let bus = RedisBus::connect(config).await.unwrap();
    deliveries_cross_every_node(&bus).await;
}
