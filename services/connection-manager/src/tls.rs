//! TLS server configuration: a configured certificate, or a self-signed one kept in the data
//! directory so that a client that pinned it on first use keeps trusting it across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use xmpp_stream::ALPN_XMPP_CLIENT;

use crate::config::TlsSettings;

/// A TLS setup that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("cannot load {path}: {reason}")]
    Load {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The certificate could not be generated or written.
    #[error("cannot create a self-signed certificate in {dir}: {reason}")]
    Generate {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the certificate and key.
    #[error("invalid certificate or key: {0}")]
    Rustls(rustls::Error),
}

/// Builds the server TLS configuration from PEM files: the versions and resumption cache of
/// `settings`, ALPN `xmpp-client` for direct TLS (which STARTTLS clients simply do not send).
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
    settings: &TlsSettings,
) -> Result<Arc<ServerConfig>, TlsError> {
    let versions = &settings.versions;
    let load_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::Load {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| load_err(cert_file, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| load_err(cert_file, &e))?;
    if certs.is_empty() {
        return Err(load_err(cert_file, &"no certificate in file"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| load_err(key_file, &e))?;
    let mut protocols = Vec::new();
    if versions.iter().any(|v| v == "1.3") {
        protocols.push(&rustls::version::TLS13);
    }
    if versions.iter().any(|v| v == "1.2") {
        protocols.push(&rustls::version::TLS12);
    }
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(xmpp_stream::server_ordered_provider()))
            .with_protocol_versions(&protocols)
            .map_err(TlsError::Rustls)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(TlsError::Rustls)?;
    config.alpn_protocols = vec![ALPN_XMPP_CLIENT.to_vec()];
    // AES-128-GCM unless the client puts ChaCha20 first (see server_ordered_provider).
    config.ignore_client_order = true;
    // Compact sessions take the keys over from rustls after the handshake.
    config.enable_secret_extraction = settings.compact_sessions;
    if settings.session_cache == 0 {
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    } else {
        config.session_storage = ServerSessionMemoryCache::new(settings.session_cache);
    }
    Ok(Arc::new(config))
}

/// Returns the paths of the self-signed certificate and key for `domain` in `dir`, creating
/// them on first use. The certificate names `domain` and `localhost`.
pub fn ensure_self_signed(dir: &Path, domain: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join("self-signed-cert.pem");
    let key_path = dir.join("self-signed-key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let gen_err = |e: &dyn std::fmt::Display| TlsError::Generate {
        dir: dir.to_owned(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| gen_err(&e))?;
    let mut names = vec![domain.to_owned()];
    if domain != "localhost" {
        names.push("localhost".to_owned());
    }
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| gen_err(&e))?;
    crate::secrets::write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())
        .map_err(|e| gen_err(&e))?;
    std::fs::write(&cert_path, certified.cert.pem()).map_err(|e| gen_err(&e))?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed certificate");
    Ok((cert_path, key_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rustls::HandshakeKind;
    use rustls::NamedGroup;
    use rustls::client::{
        ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue,
        Tls13ClientSessionValue,
    };
    use rustls_pki_types::ServerName;
    use xmpp_stream::tls_testing::handshake_in_memory;

    #[test]
    fn self_signed_certificate_is_created_once_and_reused() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ensure_self_signed(dir.path(), "example.com").unwrap();
        let first = std::fs::read(&cert).unwrap();
        server_config(&cert, &key, &settings("1.3", 256)).unwrap();
        let (cert2, _) = ensure_self_signed(dir.path(), "example.com").unwrap();
        assert_eq!(std::fs::read(cert2).unwrap(), first);
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = server_config(
            Path::new("/nonexistent/c.pem"),
            Path::new("/x"),
            &TlsSettings::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
    }

    #[test]
    fn a_second_login_resumes_the_session_of_the_first() {
        // RFC 8446 §2.2: two tickets (rustls's default) after a TLS 1.3 handshake; RFC 5246
        // §7.4.1.3: one session ID on TLS 1.2.
        for (version, kept) in [("1.3", 2), ("1.2", 1)] {
            let logins = two_logins(version, 256);
            assert_eq!(
                logins,
                (HandshakeKind::Full, kept, HandshakeKind::Resumed),
                "TLS {version}"
            );
        }
    }

    #[test]
    fn without_a_session_cache_no_ticket_is_sent_and_every_login_is_full() {
        for version in ["1.3", "1.2"] {
            let logins = two_logins(version, 0);
            assert_eq!(
                logins,
                (HandshakeKind::Full, 0, HandshakeKind::Full),
                "TLS {version}"
            );
        }
    }

    /// The server's own suite order (xmpp_stream::server_ordered_provider): AES-128-GCM for
    /// a client listing AES-256 first, as rustls's and OpenSSL's clients do.
    #[tokio::test]
    async fn the_server_chooses_aes_128_gcm_before_the_clients_aes_256() {
        use rustls::CipherSuite::{
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS13_AES_128_GCM_SHA256,
        };
        for (version, expected) in [
            ("1.3", TLS13_AES_128_GCM_SHA256),
            ("1.2", TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        ] {
            for compact in [true, false] {
                let settings = TlsSettings {
                    compact_sessions: compact,
                    ..settings(version, 0)
                };
                let acceptor = xmpp_stream::ServerTls::new(fixture_server(&settings), compact);
                let (client, _) = client_config();
                let (a, b) = tokio::io::duplex(64 * 1024);
                let name = ServerName::try_from("localhost").unwrap();
                let connector = tokio_rustls::TlsConnector::from(client);
                let (server, client) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
                server.unwrap();
                let suite = client.unwrap().get_ref().1.negotiated_cipher_suite();
                assert_eq!(suite.map(|s| s.suite()), Some(expected), "TLS {version}");
            }
        }
    }

    /// Two logins of one client to a server with `session_cache`: how the first went, the
    /// tickets or session IDs it left the client, and how the second went.
    fn two_logins(version: &str, session_cache: usize) -> (HandshakeKind, usize, HandshakeKind) {
        let server = fixture_server(&settings(version, session_cache));
        let (client, sessions) = client_config();
        let first = handshake_in_memory(&client, &server, "localhost");
        let kept = sessions.kept();
        (
            first,
            kept,
            handshake_in_memory(&client, &server, "localhost"),
        )
    }

    fn settings(version: &str, session_cache: usize) -> TlsSettings {
        TlsSettings {
            versions: vec![version.to_owned()],
            session_cache,
            ..TlsSettings::default()
        }
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/tls")
            .join(name)
    }

    fn fixture_server(settings: &TlsSettings) -> Arc<ServerConfig> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        server_config(&fixture("server.pem"), &fixture("server-key.pem"), settings).unwrap()
    }

    /// A client that trusts the fixtures' CA and keeps sessions for resumption, as a mobile
    /// client reconnecting would, and its session store.
    fn client_config() -> (Arc<rustls::ClientConfig>, Arc<CountingSessions>) {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let sessions = Arc::new(CountingSessions {
            inner: ClientSessionMemoryCache::new(16),
            kept: AtomicUsize::new(0),
        });
        config.resumption = Resumption::store(sessions.clone());
        (Arc::new(config), sessions)
    }

    /// rustls's client session store, counting the tickets and TLS 1.2 sessions the server
    /// gave.
    #[derive(Debug)]
    struct CountingSessions {
        inner: ClientSessionMemoryCache,
        kept: AtomicUsize,
    }

    impl CountingSessions {
        fn kept(&self) -> usize {
            self.kept.load(Ordering::SeqCst)
        }
    }

    impl ClientSessionStore for CountingSessions {
        fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
            self.inner.set_kx_hint(name, group);
        }

        fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
            self.inner.kx_hint(name)
        }

        fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
            // rustls saves a TLS 1.2 session only when the server gave it an ID (or ticket).
            self.kept.fetch_add(1, Ordering::SeqCst);
            self.inner.set_tls12_session(name, value);
        }

        fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
            self.inner.tls12_session(name)
        }

        fn remove_tls12_session(&self, name: &ServerName<'static>) {
            self.inner.remove_tls12_session(name);
        }

        fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
            self.kept.fetch_add(1, Ordering::SeqCst);
            self.inner.insert_tls13_ticket(name, value);
        }

        fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
            self.inner.take_tls13_ticket(name)
        }
    }
}
