//! The TLS client configuration: trust a given CA file (for `starling dev`, its self-signed
//! certificate itself), or, with `--insecure`, accept any certificate, for reference servers
//! run with throwaway self-signed certificates where verification proves nothing anyway.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
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
        Trust::CaFile(path) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(path)?),
                provider.clone(),
            )
            .build()
            .context("a certificate verifier for the CA file")?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Verifier {
                    chains: Some(VerifiedChains::new(webpki)),
                    provider,
                }))
                .with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                chains: None,
                provider,
            }))
            .with_no_client_auth(),
    };
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// `config` for direct TLS: the same trust, with ALPN `xmpp-client` offered, which XEP-0368
/// §3 asks clients to set.
pub fn for_direct_tls(config: &rustls::ClientConfig) -> Arc<rustls::ClientConfig> {
    let mut config = config.clone();
    config.alpn_protocols = vec![xmpp_stream::ALPN_XMPP_CLIENT.to_vec()];
    Arc::new(config)
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

/// How long a verified chain is taken as verified: a run's certificate does not expire or
/// change mid-run in any way a minute's delay would hide.
const VERIFIED_FOR: Duration = Duration::from_secs(60);

/// Chains remembered at once; a run talks to one server, so this is never reached but bounds
/// what a server sending a new chain per connection could make the generator keep.
const CHAINS_REMEMBERED: usize = 8;

/// Chains verified against the CA file, each once, not once per login: every generated
/// login gets the same chain from the same server, and the chain's own signature check (an
/// ECDSA verify, about a tenth of the generator's CPU per login) would otherwise be repeated
/// ten thousand times over the same bytes, taking CPU from the server the generator shares
/// the machine with. Each handshake's signature, which proves the peer holds the
/// certificate's key, is still checked every time, as a client does.
#[derive(Debug)]
struct VerifiedChains {
    webpki: Arc<WebPkiServerVerifier>,
    verified: Mutex<Vec<VerifiedChain>>,
}

/// A chain that passed verification for a server name, and when.
#[derive(Debug)]
struct VerifiedChain {
    end_entity: Vec<u8>,
    intermediates: Vec<Vec<u8>>,
    server_name: String,
    at: Instant,
}

impl VerifiedChain {
    fn is(&self, end_entity: &[u8], intermediates: &[CertificateDer<'_>], name: &str) -> bool {
        self.end_entity == end_entity
            && self.server_name == name
            && self.intermediates.len() == intermediates.len()
            && self
                .intermediates
                .iter()
                .zip(intermediates)
                .all(|(a, b)| a[..] == b[..])
    }
}

impl VerifiedChains {
    fn new(webpki: Arc<WebPkiServerVerifier>) -> Self {
        Self {
            webpki,
            verified: Mutex::new(Vec::new()),
        }
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        crate::driver::lock(&self.verified).len()
    }
}

/// The generator's certificate check: the chain against the CA file (`chains`), or, with
/// `--insecure` (`None`), any chain. Handshake signatures are checked on every login either
/// way, so the session keys are those of whoever holds the certificate's key.
#[derive(Debug)]
struct Verifier {
    chains: Option<VerifiedChains>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chains) = &self.chains else {
            return Ok(ServerCertVerified::assertion());
        };
        let name = server_name.to_str();
        {
            let mut verified = crate::driver::lock(&chains.verified);
            verified.retain(|c| c.at.elapsed() < VERIFIED_FOR);
            if verified
                .iter()
                .any(|c| c.is(end_entity, intermediates, &name))
            {
                return Ok(ServerCertVerified::assertion());
            }
        }
        let ok = chains.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let mut verified = crate::driver::lock(&chains.verified);
        if verified.len() < CHAINS_REMEMBERED {
            verified.push(VerifiedChain {
                end_entity: end_entity.to_vec(),
                intermediates: intermediates.iter().map(|c| c.to_vec()).collect(),
                server_name: name.into_owned(),
                at: Instant::now(),
            });
        }
        Ok(ok)
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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

    /// A chain is verified against the CA once, then remembered for that server name only:
    /// the same certificate for another name, or a certificate the CA did not issue, is still
    /// refused.
    #[test]
    fn a_verified_chain_is_remembered_for_its_name_only() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
        let first = |file: &str| {
            CertificateDer::pem_file_iter(fixtures.join(file))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
        };
        let (leaf, ca) = (first("server.pem"), first("ca.pem"));
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots(&fixtures.join("ca.pem")).unwrap()),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let verifier = Verifier {
            chains: Some(VerifiedChains::new(webpki)),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        let chains = verifier.chains.as_ref().unwrap();
        let name = |n: &str| ServerName::try_from(n.to_owned()).unwrap();
        let verify = |cert: &CertificateDer<'_>, n: &str| {
            verifier.verify_server_cert(cert, &[], &name(n), &[], UnixTime::now())
        };
        assert!(verify(&leaf, "localhost").is_ok());
        assert_eq!(chains.remembered(), 1);
        assert!(verify(&leaf, "localhost").is_ok());
        assert_eq!(chains.remembered(), 1);
        assert!(matches!(
            verify(&leaf, "xmpp.example.net"),
            Err(rustls::Error::InvalidCertificate(_))
        ));
        assert!(matches!(
            verify(&ca, "localhost"),
            Err(rustls::Error::InvalidCertificate(_))
        ));
        assert_eq!(chains.remembered(), 1);
    }
}
