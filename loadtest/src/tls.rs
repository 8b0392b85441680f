//! The TLS client configuration: trust a given CA file (for `starling dev`, its self-signed
//! certificate itself), or, with `--insecure`, accept any certificate, for reference servers
//! run with throwaway self-signed certificates where verification proves nothing anyway.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// How the server's certificate is checked.
#[derive(Clone, Debug)]
pub enum Trust {
    /// Certificates in this PEM file are the roots.
    CaFile(std::path::PathBuf),
    /// Any certificate is accepted (signatures in the handshake are still checked).
    Insecure,
}

/// Builds the client configuration for `trust`. TLS session resumption is off: every
/// generated user stands for a device of its own, and one store shared by all of them would
/// let each login resume another user's session, which no real client does. A login storm
/// (clients coming back after a restart, say) is full handshakes.
pub fn client_config(trust: &Trust) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let mut config = match trust {
        Trust::CaFile(path) => builder
            .with_root_certificates(roots(path)?)
            .with_no_client_auth(),
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    };
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

fn roots(path: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read the CA file {}", path.display()))?;
    for c in certs {
        let c = c.with_context(|| format!("bad PEM in {}", path.display()))?;
        roots
            .add(c)
            .with_context(|| format!("unusable certificate in {}", path.display()))?;
    }
    if roots.is_empty() {
        anyhow::bail!("no certificate in {}", path.display());
    }
    Ok(roots)
}

/// Accepts every certificate chain, but still checks handshake signatures, so the session
/// keys are those of whoever holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::HandshakeKind;
    use rustls::pki_types::PrivateKeyDer;
    use xmpp_stream::tls_testing::handshake_in_memory;

    /// The generator's users never resume each other's sessions, even from a server that
    /// sends tickets (rustls's default, two per TLS 1.3 handshake).
    #[test]
    fn every_login_is_a_full_handshake() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
        let certs = CertificateDer::pem_file_iter(fixtures.join("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixtures.join("server-key.pem")).unwrap();
        let server = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        for trust in [Trust::CaFile(fixtures.join("ca.pem")), Trust::Insecure] {
            let client = client_config(&trust).unwrap();
            for login in 0..3 {
                let kind = handshake_in_memory(&client, &server, "localhost");
                assert_eq!(kind, HandshakeKind::Full, "{trust:?} {login}");
            }
        }
    }
}
