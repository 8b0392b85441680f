//! TLS to Redis (`rediss://` URLs): one trust for every connection of a bus, those the redis
//! crate makes (publishing, reading the slot map) and the inbox's own ([`Link`]s).
//!
//! The servers' certificates must chain to the roots of [`RedisTlsFiles::ca_file`], or
//! without one to the system's trusted roots, and name the host of the URL, or in a cluster
//! the address the slot map gives for the node: its IP address, unless the nodes announce
//! host names (`cluster-announce-hostname`, `cluster-preferred-endpoint-type hostname`).
//! A client certificate, if configured, is presented to servers that ask for one (Redis does
//! by default with TLS on, `tls-auth-clients yes`), on every connection alike. The files are
//! read once, when the bus connects: a rotated certificate is taken up when the process
//! restarts, so it must be rotated before the one in use expires, or the reconnections after
//! its expiry are refused.
//!
//! A URL's `#insecure`, with which the redis crate would accept any
//! certificate, is refused: a bus that cannot tell its Redis from another process on the
//! path would hand every user's stanzas to it.
//!
//! [`Link`]: super::link::Link

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::redis::{
    Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisResult,
    TlsCertificates,
};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::config::{RedisBusConfig, RedisTlsFiles};
use crate::BusError;

/// The trust of a bus whose URLs ask for TLS.
pub(crate) struct RedisTls {
    /// The configured roots' and client certificate's PEM, for the redis crate's clients;
    /// `None`: the system's roots and no client certificate.
    certificates: Option<TlsCertificates>,
    /// For the inbox's connections.
    connector: TlsConnector,
}

impl RedisTls {
    /// The trust (and the client certificate, if any) for `config`'s URLs: `None` if none of
    /// them asks for TLS. Fails with [`BusError::Config`] on an `#insecure` URL, a file that
    /// cannot be read or holds nothing usable, a client certificate without its key (or the
    /// other way round, or a key that is not the certificate's), TLS files given for URLs
    /// without TLS, and a system without roots.
    pub(crate) fn for_config(config: &RedisBusConfig) -> Result<Option<Arc<Self>>, BusError> {
        if !asks_for_tls(&config.urls)? {
            let files = &config.tls;
            return match [
                &files.ca_file,
                &files.client_cert_file,
                &files.client_key_file,
            ]
            .into_iter()
            .flatten()
            .next()
            {
                Some(path) => Err(BusError::Config(format!(
                    "a TLS file ({}) is set, but no Redis URL is rediss://",
                    path.display()
                ))),
                None => Ok(None),
            };
        }
        let (ca_pem, roots) = match &config.tls.ca_file {
            Some(path) => {
                let pem = read_pem("CA file", path)?;
                let roots = roots_from_pem(&pem).map_err(|e| {
                    BusError::Config(format!("the Redis CA file {}: {e}", path.display()))
                })?;
                (Some(pem), roots)
            }
            None => (None, system_roots()?),
        };
        let identity = ClientIdentity::for_files(&config.tls)?;
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| BusError::Config(format!("TLS to Redis: {e}")))?
        .with_root_certificates(roots);
        let client = match &identity {
            Some(identity) => builder
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                .map_err(|e| {
                    BusError::Config(format!(
                        "the Redis client certificate {} with the key {}: {e}",
                        identity.cert_file.display(),
                        identity.key_file.display()
                    ))
                })?,
            None => builder.with_no_client_auth(),
        };
        // The redis crate loads the system's roots itself when given none.
        let certificates = (ca_pem.is_some() || identity.is_some()).then(|| TlsCertificates {
            client_tls: identity.map(|identity| ClientTlsConfig {
                client_cert: identity.cert_pem,
                client_key: identity.key_pem,
            }),
            root_cert: ca_pem,
        });
        Ok(Some(Arc::new(Self {
            certificates,
            connector: TlsConnector::from(Arc::new(client)),
        })))
    }

    /// The configured roots and client certificate, for the redis crate's clients; `None`:
    /// the system's roots and no client certificate.
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

/// Whether any of `urls` is a `rediss://` one; an error on an unreadable URL or one that
/// turns the certificate check off.
fn asks_for_tls(urls: &[String]) -> Result<bool, BusError> {
    let mut tls = false;
    for url in urls {
        let info = url
            .as_str()
            .into_connection_info()
            .map_err(|e| BusError::Config(format!("{url}: {e}")))?;
        if let ConnectionAddr::TcpTls { insecure, .. } = info.addr() {
            if *insecure {
                return Err(BusError::Config(format!(
                    "{url}: #insecure (no certificate check) is not supported; give the CA \
                     that signed the server's certificate instead"
                )));
            }
            tls = true;
        }
    }
    Ok(tls)
}

/// The client certificate a bus presents, as rustls takes it and as the redis crate does.
struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl ClientIdentity {
    /// The configured client certificate and key, both or neither.
    fn for_files(files: &RedisTlsFiles) -> Result<Option<Self>, BusError> {
        let (cert_file, key_file) = match (&files.client_cert_file, &files.client_key_file) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            (Some(path), None) | (None, Some(path)) => {
                return Err(BusError::Config(format!(
                    "a Redis client certificate and its key go together; only {} is set",
                    path.display()
                )));
            }
        };
        let cert_pem = read_pem("client certificate", &cert_file)?;
        let chain = certificates_from_pem(&cert_pem).map_err(|e| {
            BusError::Config(format!(
                "the Redis client certificate {}: {e}",
                cert_file.display()
            ))
        })?;
        let key_pem = read_pem("client key", &key_file)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            BusError::Config(format!(
                "the Redis client key {}: no private key in it ({e})",
                key_file.display()
            ))
        })?;
        Ok(Some(Self {
            chain,
            key,
            cert_pem,
            key_pem,
            cert_file,
            key_file,
        }))
    }
}

/// The bytes of the PEM file at `path` (`what` names it in the error).
fn read_pem(what: &str, path: &Path) -> Result<Vec<u8>, BusError> {
    std::fs::read(path)
        .map_err(|e| BusError::Config(format!("the Redis {what} {}: {e}", path.display())))
}

/// The certificates of `pem`, in their order; an error if there is none or one is not PEM.
fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certificates.is_empty() {
        return Err("no certificate in it".to_owned());
    }
    Ok(certificates)
}

/// The certificates of `pem`, as roots; an error if there is none or one is unusable.
fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates_from_pem(pem)? {
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
