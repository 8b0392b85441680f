//! Compact TLS sessions against rustls's client: data both ways in every suite and version,
//! what arrives with the client's Finished, close_notify, and the ends the module doc names
//! (a tampered record, a key update, an oversized record, a cut connection).

use std::sync::Arc;

use rustls::SignatureAlgorithm;
use rustls::crypto::ring::default_provider;
use rustls::{
    ClientConfig, HandshakeKind, RootCertStore, ServerConfig, SupportedCipherSuite,
    SupportedProtocolVersion,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_rustls::client::TlsStream as ClientTls;

use crate::transport::{ServerTls, Transport};

struct Configs {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

/// A server and a client trusting it, for one version and (when given) one cipher suite.
fn configs(
    version: &'static SupportedProtocolVersion,
    suite: Option<SupportedCipherSuite>,
) -> Configs {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut provider = default_provider();
    if let Some(suite) = suite {
        provider.cipher_suites = vec![suite];
    }
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Configs {
        server: Arc::new(server),
        client: Arc::new(client),
    }
}

/// A compact server session and a rustls client over a pipe of `capacity` bytes, the client
/// having queued `early` to send with its Finished.
async fn connect(
    configs: &Configs,
    capacity: usize,
    early: &[u8],
) -> (Transport<DuplexStream>, ClientTls<DuplexStream>) {
    let (a, b) = tokio::io::duplex(capacity);
    let acceptor = ServerTls::new(configs.server.clone(), true);
    let connector = tokio_rustls::TlsConnector::from(configs.client.clone());
    let name = ServerName::try_from("localhost").unwrap();
    let early = early.to_vec();
    let (server, client) = tokio::join!(
        acceptor.accept(a),
        connector.connect_with(name, b, |conn| {
            use std::io::Write;
            conn.writer().write_all(&early).unwrap();
        })
    );
    let server = server.unwrap();
    assert!(matches!(server, Transport::Records(_)), "{server:?}");
    (server, client.unwrap())
}

/// The suites of the ring provider that an ECDSA certificate can serve.
fn ecdsa_suites() -> Vec<SupportedCipherSuite> {
    default_provider()
        .cipher_suites
        .into_iter()
        .filter(|s| s.usable_for_signature_algorithm(SignatureAlgorithm::ECDSA))
        .collect()
}

#[tokio::test]
async fn every_suite_of_both_versions_carries_data_both_ways() {
    let mut tried = 0;
    for suite in ecdsa_suites() {
        let version = suite.version();
        let configs = configs(version, Some(suite));
        let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
        assert_eq!(client.get_ref().1.negotiated_cipher_suite(), Some(suite));

        assert_eq!(
            transfer(&mut client, &mut server, b"<presence/>").await,
            b"<presence/>",
            "{suite:?}"
        );

        assert_eq!(
            transfer(&mut server, &mut client, b"<message/>").await,
            b"<message/>",
            "{suite:?}"
        );
        tried += 1;
    }
    assert_eq!(tried, 6, "three TLS 1.3 suites and three TLS 1.2 ones");
}

#[tokio::test]
async fn tls_1_3_exports_what_the_client_exports_and_tls_1_2_nothing() {
    let configs13 = configs(&rustls::version::TLS13, None);
    let (server, client) = connect(&configs13, 64 * 1024, b"").await;
    let exported = server.tls_exporter().expect("tls-exporter on TLS 1.3");
    assert_eq!(
        Transport::ClientTls(Box::new(client)).tls_exporter(),
        Some(exported)
    );

    let configs12 = configs(&rustls::version::TLS12, None);
    let (server, _client) = connect(&configs12, 64 * 1024, b"").await;
    assert!(server.is_tls());
    assert_eq!(server.tls_exporter(), None);
}

/// Bytes the client sent along with its Finished stay ours, not lost inside rustls.
#[tokio::test]
async fn data_sent_with_the_clients_finished_arrives() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let configs = configs(version, None);
        let header = b"<?xml version='1.0'?><stream:stream to='localhost'>";
        let (mut server, _client) = connect(&configs, 64 * 1024, header).await;
        let mut got = vec![0; header.len()];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, header);
    }
}

/// Writes `data` at one end while reading as much at the other; what arrived.
async fn transfer(
    from: &mut (impl AsyncWrite + Unpin),
    to: &mut (impl AsyncRead + Unpin),
    data: &[u8],
) -> Vec<u8> {
    let mut got = vec![0; data.len()];
    let (sent, received) = tokio::join!(
        async {
            from.write_all(data).await.unwrap();
            from.flush().await.unwrap();
        },
        to.read_exact(&mut got)
    );
    let () = sent;
    received.unwrap();
    got
}

/// Large writes become many records; a small pipe splits them into many partial reads and
/// writes on both sides.
#[tokio::test]
async fn large_transfers_through_a_narrow_pipe_arrive_whole() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let configs = configs(version, None);
        let (mut server, mut client) = connect(&configs, 777, b"").await;
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert!(transfer(&mut server, &mut client, &data).await == data);
        assert!(transfer(&mut client, &mut server, &data).await == data);
    }
}

#[tokio::test]
async fn close_notify_ends_reading_cleanly_in_both_directions() {
    let configs = configs(&rustls::version::TLS13, None);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
    client.write_all(b"bye").await.unwrap();
    client.shutdown().await.unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");

    server.write_all(b"</stream:stream>").await.unwrap();
    server.shutdown().await.unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"</stream:stream>");
    assert!(
        server.write_all(b"more").await.is_err(),
        "nothing after close_notify"
    );
}

#[tokio::test]
async fn a_tampered_record_fails_with_bad_record_mac_on_both_sides() {
    let configs = configs(&rustls::version::TLS13, None);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
    // A well-formed header over twenty bytes no key produced.
    let raw = client.get_mut().0;
    raw.write_all(&[23, 3, 3, 0, 20]).await.unwrap();
    raw.write_all(&[0x5a; 20]).await.unwrap();
    let err = server.read_u8().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let err = client.read_u8().await.unwrap_err();
    assert!(err.to_string().contains("BadRecordMac"), "{err}");
    assert!(server.read_u8().await.is_err(), "the failure is final");
}

#[tokio::test]
async fn an_oversized_record_fails_with_record_overflow() {
    let configs = configs(&rustls::version::TLS13, None);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
    client
        .get_mut()
        .0
        .write_all(&[23, 3, 3, 0xff, 0xff])
        .await
        .unwrap();
    let err = server.read_u8().await.unwrap_err();
    assert_eq!(err.to_string(), "TLS record too long");
    let err = client.read_u8().await.unwrap_err();
    assert!(err.to_string().contains("RecordOverflow"), "{err}");
}

#[tokio::test]
async fn a_client_key_update_ends_the_connection() {
    let configs = configs(&rustls::version::TLS13, None);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
    client.get_mut().1.refresh_traffic_keys().unwrap();
    client.write_all(b"<presence/>").await.unwrap();
    client.flush().await.unwrap();
    let err = server.read_u8().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    let err = client.read_u8().await.unwrap_err();
    assert!(err.to_string().contains("UnexpectedMessage"), "{err}");
}

#[tokio::test]
async fn a_connection_cut_without_close_notify_is_an_error() {
    let configs = configs(&rustls::version::TLS13, None);
    let (mut server, client) = connect(&configs, 64 * 1024, b"").await;
    drop(client);
    let err = server.read_u8().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}

/// The point of compact sessions: waiting for the next record holds no buffer.
#[tokio::test]
async fn an_idle_session_holds_no_buffers() {
    let configs = configs(&rustls::version::TLS13, None);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"early").await;
    let mut got = [0; 5];
    server.read_exact(&mut got).await.unwrap();
    server.write_all(b"reply").await.unwrap();
    server.flush().await.unwrap();
    client.read_exact(&mut got).await.unwrap();
    let read = tokio::time::timeout(std::time::Duration::from_millis(50), server.read_u8()).await;
    assert!(read.is_err(), "nothing to read");
    let Transport::Records(records) = &server else {
        unreachable!()
    };
    assert_eq!(records.inbuf.capacity(), 0);
    assert_eq!(records.outbuf.capacity(), 0);
}

#[tokio::test]
async fn resumed_handshakes_end_in_compact_sessions_too() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let configs = configs(version, None);
        let (mut first_server, mut first) = connect(&configs, 64 * 1024, b"").await;
        // The client takes the TLS 1.3 tickets in when it next reads.
        first_server.write_all(b"x").await.unwrap();
        first_server.flush().await.unwrap();
        first.read_u8().await.unwrap();
        drop(first);
        let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
        assert_eq!(
            client.get_ref().1.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{version:?}"
        );
        assert_eq!(transfer(&mut client, &mut server, b"<iq/>").await, b"<iq/>");
    }
}

#[tokio::test]
async fn without_compact_sessions_rustls_keeps_the_connection() {
    let configs = configs(&rustls::version::TLS13, None);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let acceptor = ServerTls::new(configs.server.clone(), false);
    let connector = tokio_rustls::TlsConnector::from(configs.client.clone());
    let name = ServerName::try_from("localhost").unwrap();
    let (server, client) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    assert!(matches!(server, Transport::Tls(_)));
    assert_eq!(transfer(&mut client, &mut server, b"<a/>").await, b"<a/>");
}
