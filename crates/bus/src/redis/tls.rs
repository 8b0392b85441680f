//! TLS to Redis (`rediss://` URLs): one trust for every connection of a bus, those the redis
//! crate makes (publishing, reading the slot map) and the inbox's own ([`Link`]s).
//!
//! The servers' certificates must chain to the roots of [`RedisBusConfig::tls_ca_file`], or
//! without one to the system's trusted roots, and name the host of the URL, or in a cluster
//! the address the slot map gives for the node: its IP address, unless the nodes announce
//! host names (`cluster-announce-hostname`, `cluster-preferred-endpoint-type hostname`).
//! A URL's `#insecure`, with which the redis crate would accept any
//! certificate, is refused: a bus that cannot tell its Redis from another process on the
//! path would hand every user's stanzas to it.
//!
//! [`Link`]: super::link::Link

use std::sync::Arc;

use ::redis::{
    Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisResult, TlsCertificates,
};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::config::RedisBusConfig;
use crate::BusError;

/// The trust of a bus whose URLs ask for TLS.
pub(crate) struct RedisTls {
    /// The configured roots' PEM, for the redis crate's clients; `None`: the system's roots,
    /// which the redis crate loads itself.
    certificates: Option<TlsCertificates>,
    /// For the inbox's connections.
    connector: TlsConnector,
}

impl RedisTls {
    /// The trust for `config`'s URLs: `None` if none of them asks for TLS. Fails with
    /// [`BusError::Config`] on an `#insecure` URL, a CA file that cannot be read or holds no
    /// certificate, a CA file given for URLs without TLS, and a system without roots.
    pub(crate) fn for_config(config: &RedisBusConfig) -> Result<Option<Arc<Self>>, BusError> {
        let mut tls = false;
        for url in &config.urls {
            let info = url
                .as_str()
                .into_connection_info()
                .map_err(|e| BusError::Config(format!("{url}: {e}")))?;
            if let ConnectionAddr::TcpTls { insecure, .. } = info.addr() {
                if *insecure {
                    return Err(BusError::Config(format!(
                        "{url}: #insecure (no certificate check) is not supported; give the \
                         CA that signed the server's certificate instead"
                    )));
                }
                tls = true;
            }
        }
        if !tls {
            return match &config.tls_ca_file {
                Some(path) => Err(BusError::Config(format!(
                    "a CA file ({}) is set, but no Redis URL is rediss://",
                    path.display()
                ))),
                None => Ok(None),
            };
        }
        let (roots, certificates) = match &config.tls_ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    BusError::Config(format!("the Redis CA file {}: {e}", path.display()))
                })?;
                let roots = roots_from_pem(&pem).map_err(|e| {
                    BusError::Config(format!("the Redis CA file {}: {e}", path.display()))
                })?;
                let certificates = TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                (roots, Some(certificates))
            }
            None => (system_roots()?, None),
        };
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| BusError::Config(format!("TLS to Redis: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Some(Arc::new(Self {
            certificates,
            connector: TlsConnector::from(Arc::new(client)),
        })))
    }

    /// The configured roots, for the redis crate's clients; `None`: the system's.
    pub(crate) fn certificates(&self) -> Option<TlsCertificates> {
        self.certificates.clone()
    }

    /// TLS over `stream`, to the server named `host`.
    pub(crate) async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not a host name for TLS: {host}"),
            )
        })?;
        self.connector.connect(name, stream).await
    }
}

/// A redis crate client for `info`, trusting what `tls` trusts.
pub(crate) fn client(info: ConnectionInfo, tls: Option<&RedisTls>) -> RedisResult<Client> {
    match tls.and_then(RedisTls::certificates) {
        Some(certificates) => Client::build_with_tls(info, certificates),
        None => Client::open(info),
    }
}

/// The certificates of `pem`, as roots; an error if there is none or one is unusable.
fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certificates.is_empty() {
        return Err("no certificate in it".to_owned());
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|e| format!("an unusable certificate: {e}"))?;
    }
    Ok(roots)
}

/// The system's trusted roots (as the redis crate loads them for its own connections).
fn system_roots() -> Result<RootCertStore, BusError> {
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "reading the system's trusted certificates");
    }
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(BusError::Config(
            "rediss://: no trusted root certificate on this system; give the Redis CA file"
                .to_owned(),
        ));
    }
    Ok(roots)
}
