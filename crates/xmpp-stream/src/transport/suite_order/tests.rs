//! The suite a [`ServerTls`] with the server order takes, against rustls clients listing
//! suites in different orders, on both TLS versions, with and without compact sessions.

use std::sync::Arc;

use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::ServerName;

use super::server_ordered_provider;
use crate::test_util::tls_configs;
use crate::transport::ServerTls;

/// The suite negotiated between a server on the server order (`compact` or not) and a
/// client of `version` listing `client_suites` (rustls's own order when empty).
async fn negotiated(
    version: &'static SupportedProtocolVersion,
    client_suites: Vec<SupportedCipherSuite>,
    compact: bool,
) -> SupportedCipherSuite {
    let mut provider = default_provider();
    if !client_suites.is_empty() {
        provider.cipher_suites = client_suites;
    }
    let (mut server, client) = tls_configs(version, server_ordered_provider(), provider);
    server.ignore_client_order = true;

    let (a, b) = tokio::io::duplex(64 * 1024);
    let acceptor = ServerTls::new(Arc::new(server), compact);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let name = ServerName::try_from("localhost").unwrap();
    let (server, client) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
    server.unwrap();
    client
        .unwrap()
        .get_ref()
        .1
        .negotiated_cipher_suite()
        .unwrap()
}

#[tokio::test]
async fn the_server_takes_aes_128_before_the_clients_aes_256() {
    use cipher_suite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384,
    };
    // rustls's client, like OpenSSL's, lists AES-256 first.
    assert_eq!(
        default_provider().cipher_suites[0].suite(),
        TLS13_AES_256_GCM_SHA384.suite()
    );
    for compact in [true, false] {
        let tls13 = negotiated(&rustls::version::TLS13, vec![], compact).await;
        assert_eq!(tls13.suite(), TLS13_AES_128_GCM_SHA256.suite());
        let tls12 = negotiated(&rustls::version::TLS12, vec![], compact).await;
        assert_eq!(
            tls12.suite(),
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.suite()
        );
        // A client without AES-128 still gets what it has.
        let only_256 = vec![
            TLS13_AES_256_GCM_SHA384,
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ];
        let tls13 = negotiated(&rustls::version::TLS13, only_256.clone(), compact).await;
        assert_eq!(tls13.suite(), TLS13_AES_256_GCM_SHA384.suite());
        let tls12 = negotiated(&rustls::version::TLS12, only_256, compact).await;
        assert_eq!(
            tls12.suite(),
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384.suite()
        );
    }
}

#[tokio::test]
async fn a_client_listing_chacha20_first_gets_chacha20() {
    use cipher_suite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS13_AES_128_GCM_SHA256, TLS13_CHACHA20_POLY1305_SHA256,
    };
    let chacha_first = vec![
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS13_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ];
    // ChaCha20 second: the server's order again.
    let chacha_second = vec![
        TLS13_AES_128_GCM_SHA256,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    for compact in [true, false] {
        let tls13 = negotiated(&rustls::version::TLS13, chacha_first.clone(), compact).await;
        assert_eq!(tls13.suite(), TLS13_CHACHA20_POLY1305_SHA256.suite());
        let tls12 = negotiated(&rustls::version::TLS12, chacha_first.clone(), compact).await;
        assert_eq!(
            tls12.suite(),
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256.suite()
        );
        let tls13 = negotiated(&rustls::version::TLS13, chacha_second.clone(), compact).await;
        assert_eq!(tls13.suite(), TLS13_AES_128_GCM_SHA256.suite());
    }
}
