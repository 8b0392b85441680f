//! TLS server configuration: a configured certificate, or a self-signed one kept in the data
//! directory so that a client that pinned it on first use keeps trusting it across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// ALPN protocol of direct TLS client connections (XEP-0368 §3).
pub const ALPN_XMPP_CLIENT: &[u8] = b"xmpp-client";

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
    Rustls(#[from] rustls::Error),
}

/// Builds the server TLS configuration from PEM files (TLS 1.2 and 1.3; ALPN `xmpp-client`
/// for direct TLS, which STARTTLS clients simply do not send).
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
    versions: &[String],
) -> Result<Arc<ServerConfig>, TlsError> {
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
    let mut config = ServerConfig::builder_with_protocol_versions(&protocols)
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![ALPN_XMPP_CLIENT.to_vec()];
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

    #[test]
    fn self_signed_certificate_is_created_once_and_reused() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ensure_self_signed(dir.path(), "example.com").unwrap();
        let first = std::fs::read(&cert).unwrap();
        server_config(&cert, &key, &["1.3".into()]).unwrap();
        let (cert2, _) = ensure_self_signed(dir.path(), "example.com").unwrap();
        assert_eq!(std::fs::read(cert2).unwrap(), first);
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = server_config(Path::new("/nonexistent/c.pem"), Path::new("/x"), &[]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
    }
}
