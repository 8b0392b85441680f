use std::sync::Arc;

use rustls::SupportedProtocolVersion;
use rustls::crypto::ring::default_provider;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::test_util::tls_configs;

/// A TLS connection over an in-memory pipe, both ends wrapped as [`Transport`]s.
async fn tls_pair(
    version: &'static SupportedProtocolVersion,
) -> (Transport<DuplexStream>, Transport<DuplexStream>) {
    let (server, client) = tls_configs(version, default_provider(), default_provider());

    let (a, b) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let name = ServerName::try_from("localhost").unwrap();
    let (server, client) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
    (
        Transport::Tls(Box::new(server.unwrap())),
        Transport::ClientTls(Box::new(client.unwrap())),
    )
}

async fn echo(from: &mut Transport<DuplexStream>, to: &mut Transport<DuplexStream>) {
    from.write_all(b"<presence/>").await.unwrap();
    from.flush().await.unwrap();
    let mut got = [0; 11];
    to.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"<presence/>");
}

#[tokio::test]
async fn plain_has_no_channel_binding() {
    let (a, b) = tokio::io::duplex(1024);
    let (mut a, mut b) = (Transport::Plain(a), Transport::Plain(b));
    assert!(!a.is_tls());
    assert_eq!(a.tls_exporter(), None);
    echo(&mut a, &mut b).await;
    assert_eq!(format!("{a:?}"), "Transport::Plain");
}

#[tokio::test]
async fn tls_1_3_exports_the_same_32_bytes_on_both_sides() {
    let (mut server, mut client) = tls_pair(&rustls::version::TLS13).await;
    assert!(server.is_tls() && client.is_tls());
    let exported = server.tls_exporter().expect("tls-exporter on TLS 1.3");
    assert_eq!(exported.len(), 32);
    assert_eq!(client.tls_exporter(), Some(exported.clone()));
    let (_, again) = tls_pair(&rustls::version::TLS13).await;
    assert_ne!(
        again.tls_exporter(),
        Some(exported),
        "unique per connection"
    );
    echo(&mut server, &mut client).await;
    echo(&mut client, &mut server).await;
}

#[tokio::test]
async fn tls_1_2_has_no_tls_exporter() {
    let (mut server, mut client) = tls_pair(&rustls::version::TLS12).await;
    assert!(server.is_tls());
    assert_eq!(server.tls_exporter(), None);
    assert_eq!(client.tls_exporter(), None);
    echo(&mut server, &mut client).await;
    server.shutdown().await.unwrap();
}
