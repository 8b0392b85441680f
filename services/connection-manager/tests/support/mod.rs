//! Starts the real connection manager on 127.0.0.1:0 with the test certificate and a
//! temporary SQLite store holding three accounts, and stops it again.
#![allow(dead_code)]

pub mod im;
pub mod peer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connection_manager::{C2sConfig, C2sServer, Listeners};
use storage::{AccountName, AccountStore, SqliteStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use xmpp_core::sasl::{ScramCredentials, ScramHash, normalize_password};

/// The accounts every test server has, all with password [`PASSWORD`].
pub const USERS: &[&str] = &["juliet", "romeo", "nurse"];
/// Their password.
pub const PASSWORD: &str = "s3cret pässword";
/// The domain served.
pub const DOMAIN: &str = "localhost";

/// A running server.
pub struct TestServer {
    /// STARTTLS listener.
    pub addr: SocketAddr,
    /// Direct TLS listener.
    pub tls_addr: SocketAddr,
    /// The server, for looking at its sessions.
    pub server: Arc<C2sServer>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tls")
        .join(name)
}

/// Credentials as `starling user add` stores them.
pub fn credentials(password: &str) -> Vec<ScramCredentials> {
    let password = normalize_password(password).unwrap();
    ScramHash::ALL
        .into_iter()
        .enumerate()
        .map(|(i, hash)| {
            ScramCredentials::derive(hash, password.as_bytes(), &[i as u8 + 1; 16], 4096)
        })
        .collect()
}

/// Starts a server whose default test configuration `tweak` may change.
pub async fn start(tweak: impl FnOnce(&mut C2sConfig)) -> TestServer {
    start_with(tweak, |_| {}).await
}

/// [`start`], with `tweak_shard` changing the roster-presence shard's settings too (roster
/// size, offline quota, roster limits).
pub async fn start_with(
    tweak: impl FnOnce(&mut C2sConfig),
    tweak_shard: impl FnOnce(&mut roster_presence::ShardConfig),
) -> TestServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = C2sConfig {
        domain: DOMAIN.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        listen_tls: Some("127.0.0.1:0".parse().unwrap()),
        ..C2sConfig::default()
    };
    config.limits.shutdown_grace_secs = 2;
    tweak(&mut config);
    config.validate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("starling.db"))
        .await
        .unwrap();
    for user in USERS {
        let name = AccountName {
            localpart: (*user).into(),
            domain: DOMAIN.into(),
        };
        store
            .create_account(&name, &credentials(PASSWORD))
            .await
            .unwrap();
    }
    let tls = connection_manager::tls::server_config(
        &fixture("server.pem"),
        &fixture("server-key.pem"),
        &config.tls,
    )
    .unwrap();
    let listeners = Listeners::bind(&config).await.unwrap();
    let addr = listeners.starttls.local_addr().unwrap();
    let tls_addr = listeners.direct_tls.as_ref().unwrap().local_addr().unwrap();
    let store = Arc::new(store);
    // The real roster-presence shard behind the same in-process gRPC transport and bus as
    // `starling dev`.
    let bus: Arc<dyn bus::Bus> = Arc::new(bus::LocalBus::new(bus::LocalBusConfig::default()));
    let mut shard_config = roster_presence::ShardConfig::new(DOMAIN);
    tweak_shard(&mut shard_config);
    let shards = roster_presence::in_process::start(
        shard_config,
        roster_presence::Stores::sqlite(store.clone()),
        bus.clone(),
    );
    let inbox = bus.open_inbox("test", 1024).await.unwrap();
    let cluster = connection_manager::Cluster::new("test", shards, inbox.subscriptions());
    let server = C2sServer::new(config, tls, store, [7u8; 32], cluster);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(connection_manager::run(
        server.clone(),
        listeners,
        inbox,
        shutdown.clone(),
    ));
    TestServer {
        addr,
        tls_addr,
        server,
        shutdown,
        task,
        _dir: dir,
    }
}

impl TestServer {
    /// Shuts the server down and waits for it to finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server did not stop in time")
            .unwrap();
    }

    /// Cancels the shutdown token without waiting.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until `n` sessions are bound.
    pub async fn wait_for_sessions(&self, n: usize) {
        for _ in 0..500 {
            if self.server.sessions.len() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} sessions, have {}", self.server.sessions.len());
    }
}

/// A rustls client configuration trusting the test CA.
pub fn client_tls(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_protocol_versions(versions)
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// TLS 1.3 and 1.2.
pub fn tls_any() -> Arc<rustls::ClientConfig> {
    client_tls(&[&rustls::version::TLS13, &rustls::version::TLS12])
}

/// The opening of a well-formed client stream to the test domain.
pub const OPEN: &str = "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' \
    xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/// What the server sent on a raw connection until it closed it.
#[derive(Debug, Default)]
pub struct Transcript {
    /// The server's stream header, if one came.
    pub header: Option<xmpp_stream::StreamHeader>,
    /// Top-level elements in order.
    pub elements: Vec<xmpp_core::Element>,
    /// Whether the server closed its stream with `</stream:stream>`.
    pub closed: bool,
}

impl Transcript {
    /// The condition of the stream error the server sent, if any.
    pub fn stream_error(&self) -> Option<xmpp_core::StreamErrorCondition> {
        self.elements
            .iter()
            .find_map(xmpp_core::StreamError::from_element)
            .map(|e| e.condition)
    }
}

/// Sends `input` on a fresh plain TCP connection and records everything the server sends
/// until it closes the connection (at most 10 s).
pub async fn raw_exchange(addr: SocketAddr, input: &[u8]) -> Transcript {
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(input).await.unwrap();
    read_transcript(tcp).await
}

/// Reads everything the server sends until it closes the connection (at most 10 s).
pub async fn read_transcript<R: tokio::io::AsyncRead + Unpin>(reader: R) -> Transcript {
    use xmpp_stream::{ReaderLimits, StreamEvent, XmlReader};
    let mut reader = XmlReader::new(reader, ReaderLimits::default());
    let mut t = Transcript::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, reader.next()).await {
            Err(_) => panic!("server did not close the stream in time; so far: {t:?}"),
            Ok(Ok(StreamEvent::Open(h))) => t.header = Some(h),
            Ok(Ok(StreamEvent::Element(e))) => t.elements.push(e),
            Ok(Ok(StreamEvent::Keepalive)) => {}
            Ok(Ok(StreamEvent::Close)) => {
                t.closed = true;
                return t;
            }
            Ok(Err(_)) => return t,
        }
    }
}

/// Logs `user` in over plain TCP (TLS not required) with SCRAM-SHA-256 and binds `resource`.
pub async fn plain_login(
    server: &TestServer,
    user: &str,
    resource: Option<&str>,
) -> (xmpp_stream::client::ClientStream, xmpp_core::Jid) {
    xmpp_stream::client::ClientStream::login(server.addr, DOMAIN, user, PASSWORD, resource, None)
        .await
        .unwrap()
}

/// A server that accepts authentication without TLS, for raw tests that need no TLS.
pub async fn start_plain(tweak: impl FnOnce(&mut C2sConfig)) -> TestServer {
    start(|c| {
        c.tls.required = false;
        tweak(c);
    })
    .await
}

/// Reads on until the server ends the stream, and asserts that it did so with `condition`.
pub async fn expect_stream_error(
    stream: &mut xmpp_stream::client::ClientStream,
    condition: xmpp_core::StreamErrorCondition,
) {
    match stream.next_element().await {
        Err(xmpp_stream::client::ClientError::Stream(e)) => assert_eq!(e.condition, condition),
        other => panic!("expected {condition}, got {other:?}"),
    }
}
