//! Compact TLS sessions against rustls's client: data both ways in every suite and version,
//! what arrives with the client's Finished, close_notify, key changes, and the ends the
//! module doc names (a tampered record, a malformed KeyUpdate, a renegotiation, an oversized
//! record, a cut connection).

use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::{
    ClientConfig, HandshakeKind, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion,
};
use rustls::{KeyLog, SignatureAlgorithm};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_rustls::client::TlsStream as ClientTls;

use super::Records;
use crate::test_util::tls_configs;
use crate::transport::accept::traffic_secrets;
use crate::transport::protection::{
    ALERT, APPLICATION_DATA, Alert, HANDSHAKE, HEADER_LEN, Protection,
};
use crate::transport::secret_capture::Captured;
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
    let mut provider = default_provider();
    if let Some(suite) = suite {
        provider.cipher_suites = vec![suite];
    }
    let (server, client) = tls_configs(version, default_provider(), provider);
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

/// The compact session of a transport made by [`connect`].
fn records(transport: &Transport<DuplexStream>) -> &Records<DuplexStream> {
    match transport {
        Transport::Records(records) => records,
        other => panic!("not a compact session: {other:?}"),
    }
}

/// RFC 8446 §4.6.3: rustls's client asks for a key change (update_requested) and changes its
/// own; its data after that arrives, and ours, sent after our KeyUpdate and under our new
/// key, reaches it. Every TLS 1.3 suite: SHA-256 and SHA-384 key schedules.
#[tokio::test]
async fn client_key_updates_are_followed_and_answered_in_every_tls_1_3_suite() {
    let suites = ecdsa_suites();
    let tls13 = suites
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS13);
    let mut tried = 0;
    for &suite in tls13 {
        let configs = configs(&rustls::version::TLS13, Some(suite));
        let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
        for round in 1..=3 {
            client.get_mut().1.refresh_traffic_keys().unwrap();
            assert_eq!(
                transfer(&mut client, &mut server, b"<presence/>").await,
                b"<presence/>"
            );
            assert_eq!(
                transfer(&mut server, &mut client, b"<message/>").await,
                b"<message/>"
            );
            let records = records(&server);
            assert_eq!(
                (records.rx.updates(), records.tx.updates()),
                (round, round),
                "{suite:?}"
            );
        }
        tried += 1;
    }
    assert_eq!(tried, 3);
}

/// §4.6.3: requests that arrive while we send nothing are answered with one KeyUpdate.
#[tokio::test]
async fn several_requests_while_silent_get_one_key_update() {
    let configs = configs(&rustls::version::TLS13, None);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
    for _ in 0..3 {
        client.get_mut().1.refresh_traffic_keys().unwrap();
        assert_eq!(transfer(&mut client, &mut server, b"<a/>").await, b"<a/>");
    }
    assert_eq!(transfer(&mut server, &mut client, b"<b/>").await, b"<b/>");
    let records = records(&server);
    assert_eq!((records.rx.updates(), records.tx.updates()), (3, 1));
}

/// §5.5: our key changes before the suite's limit (lowered here to three records per key)
/// instead of the connection ending, and the client reads across every change.
#[tokio::test]
async fn our_key_changes_before_the_record_limit() {
    let mut configs = configs(&rustls::version::TLS13, None);
    // No tickets, so that our first application record is number 0.
    let mut server = (*configs.server).clone();
    server.send_tls13_tickets = 0;
    configs.server = Arc::new(server);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
    let Transport::Records(session) = &mut server else {
        unreachable!()
    };
    session.tx.set_limit(3);
    for i in 0..10u8 {
        assert_eq!(
            transfer(&mut server, &mut client, &[b'a' + i]).await,
            [b'a' + i]
        );
    }
    // Two records per key after the first change: the KeyUpdate takes the third.
    assert_eq!(records(&server).tx.updates(), 4);
}

/// TLS 1.2 keys cannot change (RFC 5246 has no KeyUpdate): at the suite's limit (lowered
/// here to three records from the first application record) the last record the key may
/// protect is a close_notify (§7.2.1), as rustls ends such a connection. The client reads
/// the data before it, then a clean end; the server's later reads and writes fail.
#[tokio::test]
async fn a_tls_1_2_connection_ends_with_close_notify_at_the_record_limit() {
    let configs = configs(&rustls::version::TLS12, None);
    let (mut server, mut client) = connect(&configs, 64 * 1024, b"").await;
    let Transport::Records(session) = &mut server else {
        unreachable!()
    };
    let first = session.tx.seq();
    session.tx.set_limit(first + 3);
    for i in 0..2u8 {
        assert_eq!(
            transfer(&mut server, &mut client, &[b'a' + i]).await,
            [b'a' + i]
        );
    }
    let err = server.write_all(b"c").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Other);
    assert_eq!(records(&server).tx.seq(), first + 3);
    // The pipe stays open (the server is not dropped): rustls ends the read only at a
    // close_notify; a cut would be `UnexpectedEof`.
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
    assert!(server.write_all(b"d").await.is_err());
    assert!(server.read_u8().await.is_err());
}

/// A client's record layer, taken from rustls after its handshake, so that tests can send
/// what rustls never would.
struct RawClient {
    io: DuplexStream,
    tx: Protection,
    rx: Protection,
}

#[derive(Default)]
struct ClientSecrets(std::sync::Mutex<Captured>);

impl std::fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecrets")
    }
}

impl KeyLog for ClientSecrets {
    fn log(&self, label: &str, _: &[u8], secret: &[u8]) {
        let secret = Some(zeroize::Zeroizing::new(secret.to_vec()));
        let mut captured = self.0.lock().unwrap();
        match label {
            "CLIENT_TRAFFIC_SECRET_0" => captured.client = secret,
            "SERVER_TRAFFIC_SECRET_0" => captured.server = secret,
            _ => {}
        }
    }
}

/// A compact session and a [`RawClient`] of `version`; the server sends no tickets.
async fn raw_connect(
    version: &'static SupportedProtocolVersion,
) -> (Transport<DuplexStream>, RawClient) {
    let mut configs = configs(version, None);
    let mut server = (*configs.server).clone();
    server.send_tls13_tickets = 0;
    configs.server = Arc::new(server);
    let secrets = Arc::new(ClientSecrets::default());
    let mut client = (*configs.client).clone();
    client.enable_secret_extraction = true;
    client.key_log = secrets.clone();
    configs.client = Arc::new(client);
    let (server, client) = connect(&configs, 64 * 1024, b"").await;
    let (io, conn) = client.into_inner();
    let suite = conn.negotiated_cipher_suite().unwrap();
    let version = conn.protocol_version().unwrap();
    let extracted = conn.dangerous_extract_secrets().unwrap();
    let captured = std::mem::take(&mut *secrets.0.lock().unwrap());
    let (tx_secret, rx_secret) = traffic_secrets(suite, &captured).unwrap();
    let tx = Protection::new(version, extracted.tx.0, extracted.tx.1, tx_secret, u64::MAX);
    let rx = Protection::new(version, extracted.rx.0, extracted.rx.1, rx_secret, u64::MAX);
    let client = RawClient {
        io,
        tx: tx.unwrap(),
        rx: rx.unwrap(),
    };
    (server, client)
}

impl RawClient {
    async fn send(&mut self, content_type: u8, content: &[u8]) {
        let mut record = Vec::new();
        self.tx.seal(content_type, content, &mut record).unwrap();
        self.io.write_all(&record).await.unwrap();
    }

    /// The content type and content of the next record from the server.
    async fn receive(&mut self) -> (u8, Vec<u8>) {
        let mut record = vec![0; HEADER_LEN];
        self.io.read_exact(&mut record).await.unwrap();
        let len = u16::from_be_bytes([record[3], record[4]]) as usize;
        record.resize(HEADER_LEN + len, 0);
        self.io.read_exact(&mut record[HEADER_LEN..]).await.unwrap();
        let (content_type, content) = self.rx.open(&mut record).unwrap();
        (content_type, record[content].to_vec())
    }
}

/// The client's `<iq/>` reaches the server.
async fn iq_arrives(client: &mut RawClient, server: &mut Transport<DuplexStream>) {
    client.send(APPLICATION_DATA, b"<iq/>").await;
    let mut got = [0; 5];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"<iq/>");
}

/// The server's `<r/>` reaches the client.
async fn reply_arrives(server: &mut Transport<DuplexStream>, client: &mut RawClient) {
    server.write_all(b"<r/>").await.unwrap();
    server.flush().await.unwrap();
    assert_eq!(client.receive().await, (APPLICATION_DATA, b"<r/>".to_vec()));
}

/// §4.6.3 and §5.1: a KeyUpdate must be well formed and alone in its record, and nothing
/// else of the handshake protocol comes from a client after the handshake. Each ends the
/// connection with the alert the RFC names.
#[tokio::test]
async fn malformed_post_handshake_messages_end_the_connection_with_the_right_alert() {
    let cases: [(&[u8], Alert); 5] = [
        (&[24, 0, 0, 1, 2], Alert::IllegalParameter),
        (&[24, 0, 0, 2, 0, 0], Alert::DecodeError),
        (&[24, 0, 0, 1], Alert::UnexpectedMessage),
        (&[24, 0, 0, 1, 0, 24, 0, 0, 1, 0], Alert::UnexpectedMessage),
        (&[4, 0, 0, 0], Alert::UnexpectedMessage),
    ];
    for (message, alert) in cases {
        let (mut server, mut client) = raw_connect(&rustls::version::TLS13).await;
        client.send(HANDSHAKE, message).await;
        let err = server.read_u8().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{message:?}");
        assert_eq!(
            client.receive().await,
            (ALERT, vec![2, alert as u8]),
            "{message:?}"
        );
    }
}

/// A well-formed KeyUpdate sent by hand: what follows it under the next key is read.
#[tokio::test]
async fn a_raw_key_update_changes_the_receiving_key() {
    let (mut server, mut client) = raw_connect(&rustls::version::TLS13).await;
    client.send(HANDSHAKE, &[24, 0, 0, 1, 0]).await;
    client.tx.update().unwrap();
    iq_arrives(&mut client, &mut server).await;
    // Not requested: our key stays.
    reply_arrives(&mut server, &mut client).await;
    assert_eq!(records(&server).tx.updates(), 0);
}

/// TLS 1.2 keys do not change. RFC 5746 §4.4, RFC 5246 §7.2.2: a renegotiation is refused
/// with a no_renegotiation warning and the connection goes on; a second attempt ends it.
#[tokio::test]
async fn a_tls_1_2_renegotiation_is_refused_with_a_warning_then_ends_the_connection() {
    let (mut server, mut client) = raw_connect(&rustls::version::TLS12).await;
    client.send(HANDSHAKE, &[1, 0, 0, 0]).await;
    iq_arrives(&mut client, &mut server).await;
    // Sent while the server was reading, without a write of its own.
    assert_eq!(client.receive().await, (ALERT, vec![1, 100]));
    reply_arrives(&mut server, &mut client).await;

    client.send(HANDSHAKE, &[1, 0, 0, 0]).await;
    let err = server.read_u8().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    assert_eq!(
        client.receive().await,
        (ALERT, vec![2, Alert::UnexpectedMessage as u8])
    );
}

/// KeyUpdates without application data between them are refused past 32 (as with rustls):
/// each costs the server a key derivation.
#[tokio::test]
async fn a_stream_of_key_updates_without_data_ends_the_connection() {
    let (mut server, mut client) = raw_connect(&rustls::version::TLS13).await;
    for _ in 0..2 {
        for _ in 0..32 {
            client.send(HANDSHAKE, &[24, 0, 0, 1, 0]).await;
            client.tx.update().unwrap();
        }
        iq_arrives(&mut client, &mut server).await;
    }
    for _ in 0..33 {
        client.send(HANDSHAKE, &[24, 0, 0, 1, 0]).await;
        client.tx.update().unwrap();
    }
    let err = server.read_u8().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        client.receive().await,
        (ALERT, vec![2, Alert::UnexpectedMessage as u8])
    );
    assert_eq!(records(&server).rx.updates(), 64 + 32);
}

/// The sizes of the writes made to a stream.
struct Writes<S> {
    io: S,
    sizes: Arc<std::sync::Mutex<Vec<usize>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Writes<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Writes<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = written {
            self.sizes.lock().unwrap().push(n);
        }
        written
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// RFC 8446 §4.6.1: a client waits for no ticket, so a TLS 1.3 server's tickets wait for its
/// first record and leave in one write with it (a TCP segment less per login); the client
/// still resumes with them (`resumed_handshakes_end_in_compact_sessions_too`).
#[tokio::test]
async fn tls_1_3_tickets_go_out_with_the_first_record() {
    let configs = configs(&rustls::version::TLS13, None);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let a = Writes {
        io: a,
        sizes: sizes.clone(),
    };
    let acceptor = ServerTls::new(configs.server.clone(), true);
    let connector = tokio_rustls::TlsConnector::from(configs.client.clone());
    let name = ServerName::try_from("localhost").unwrap();
    let (server, client) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    // The handshake: the server's one flight.
    assert_eq!(sizes.lock().unwrap().len(), 1);
    server.write_all(b"x").await.unwrap();
    server.flush().await.unwrap();
    let writes = sizes.lock().unwrap().clone();
    // The tickets' record (rustls puts both in one, 179 bytes of content) and the data's
    // (one byte, its content type and the AEAD tag), each with its header.
    assert_eq!(writes[1..], [HEADER_LEN + 179 + HEADER_LEN + 18]);
    let mut got = [0; 1];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"x");
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
