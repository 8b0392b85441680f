//! The server side of a TLS handshake, ending either in rustls's own stream or, for compact
//! sessions, in [`Records`]: rustls negotiates, then hands over its keys and is dropped.
//!
//! The handshake is driven here rather than by tokio-rustls so that rustls is given the
//! client's bytes one whole record at a time: when the client's Finished has been processed,
//! whatever the client sent after it (its first protected records often come in the same
//! packet) is still ours, not in rustls's buffer, where exporting the keys would lose it.
//! On TLS 1.3 the application traffic secrets are captured from rustls's key log during
//! the handshake ([`secret_capture`](super::secret_capture)), so that [`Records`] can
//! follow key changes.

use std::io;
use std::sync::Arc;

use rustls::crypto::hash::HashAlgorithm;
use rustls::server::{AcceptedAlert, Acceptor, ClientHello, ServerConnection};
use rustls::{ProtocolVersion, ServerConfig, SupportedCipherSuite};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;

use super::protection::{MAX_RECORD, Protection};
use super::record_buffer::RecordBuffer;
use super::records::Records;
use super::secret_capture::{Captured, SecretCapture, capturing};
use super::suite_order::prefers_chacha;
use super::traffic_secret::TrafficSecret;
use super::{TLS_EXPORTER_LABEL, TLS_EXPORTER_LEN, Transport};

/// Accepts TLS connections with one server configuration.
#[derive(Clone, Debug)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    /// The same configuration following the client's cipher-suite order, for clients that
    /// put ChaCha20-Poly1305 first; present when `config` follows its own order.
    client_order: Option<Arc<ServerConfig>>,
    compact: bool,
}

impl ServerTls {
    /// With `compact`, established connections protect their own records ([`Records`]) and
    /// keep no rustls state; otherwise they are tokio-rustls streams. Compact sessions need
    /// the keys exported and the TLS 1.3 traffic secrets captured, so the configuration they
    /// use has secret extraction turned on and its key log wrapped.
    ///
    /// When `config` chooses the cipher suite by its own order (`ignore_client_order`), a
    /// client whose first supported suite is ChaCha20-Poly1305 still gets its own choice: a
    /// client puts ChaCha20 first when it has no AES instructions, and AES in software is
    /// several times slower for it (as Go's and BoringSSL's servers do).
    pub fn new(config: Arc<ServerConfig>, compact: bool) -> Self {
        let config = if compact {
            let mut compact = (*config).clone();
            compact.enable_secret_extraction = true;
            compact.key_log = Arc::new(SecretCapture::new(config.key_log.clone()));
            Arc::new(compact)
        } else {
            config
        };
        let client_order = config.ignore_client_order.then(|| {
            let mut follows = (*config).clone();
            follows.ignore_client_order = false;
            Arc::new(follows)
        });
        Self {
            config,
            client_order,
            compact,
        }
    }

    /// Runs the server side of a handshake on `io`. On failure the client has been sent the
    /// alert rustls chose, where it had one.
    pub async fn accept<S>(&self, io: S) -> io::Result<Transport<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if self.compact {
            let records = handshake(self, io).await?;
            Ok(Transport::Records(Box::new(records)))
        } else {
            let start = LazyConfigAcceptor::new(Acceptor::default(), io).await?;
            let config = self.config_for(&start.client_hello());
            let tls = start.into_stream(config).await?;
            Ok(Transport::Tls(Box::new(tls)))
        }
    }

    /// The configuration for a client that sent `hello`.
    fn config_for(&self, hello: &ClientHello<'_>) -> Arc<ServerConfig> {
        match &self.client_order {
            Some(follows) if prefers_chacha(hello, &self.config) => follows.clone(),
            _ => self.config.clone(),
        }
    }
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// What rustls has to send.
fn pending(conn: &mut ServerConnection) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out)?;
    }
    Ok(out)
}

/// Writes whatever rustls has to send.
async fn send_pending<S: AsyncWrite + Unpin>(
    conn: &mut ServerConnection,
    io: &mut S,
) -> io::Result<()> {
    if !conn.wants_write() {
        return Ok(());
    }
    io.write_all(&pending(conn)?).await?;
    io.flush().await
}

/// Reads until `received` holds the next whole record, and takes it (or, when its header
/// claims too much, what there is, for rustls to reject with the right alert).
async fn next_record<S: AsyncRead + Unpin>(
    received: &mut RecordBuffer,
    io: &mut S,
) -> io::Result<std::ops::Range<usize>> {
    let len = loop {
        if let Some(wanted) = received.next_record_len() {
            if wanted > MAX_RECORD {
                break received.pending();
            }
            if received.pending() >= wanted {
                break wanted;
            }
        }
        let n = io.read(received.spare()).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed during the TLS handshake",
            ));
        }
        received.filled(n);
    };
    Ok(received.consume(len))
}

/// Hands all of `record` to rustls through `read_tls`.
fn feed(
    mut record: &[u8],
    mut read_tls: impl FnMut(&mut dyn io::Read) -> io::Result<usize>,
) -> io::Result<()> {
    while !record.is_empty() {
        if read_tls(&mut record)? == 0 {
            return Err(invalid("rustls took no more handshake bytes"));
        }
    }
    Ok(())
}

/// Sends the alert rustls chose for a ClientHello it refused (best effort), and gives back
/// the error.
async fn send_alert<S: AsyncWrite + Unpin>(
    e: rustls::Error,
    mut alert: AcceptedAlert,
    io: &mut S,
) -> io::Error {
    let mut out = Vec::new();
    if alert.write_all(&mut out).is_ok() {
        let _ = io.write_all(&out).await;
        let _ = io.flush().await;
    }
    invalid(e)
}

/// A handshake fed to rustls record by record, then its keys taken over by [`Records`].
async fn handshake<S>(tls: &ServerTls, mut io: S) -> io::Result<Records<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut captured = Captured::default();
    let mut received = RecordBuffer::default();
    // The ClientHello first: which configuration to use depends on it.
    let mut acceptor = Acceptor::default();
    let accepted = loop {
        let record = next_record(&mut received, &mut io).await?;
        feed(received.bytes_mut(record), |r| acceptor.read_tls(r))?;
        match acceptor.accept() {
            Ok(None) => {}
            Ok(Some(accepted)) => break accepted,
            Err((e, alert)) => return Err(send_alert(e, alert, &mut io).await),
        }
    };
    let config = tls.config_for(&accepted.client_hello());
    // The server's whole first flight, its traffic secrets among it, comes now.
    let mut conn = match capturing(&mut captured, || accepted.into_connection(config)) {
        Ok(conn) => conn,
        Err((e, alert)) => return Err(send_alert(e, alert, &mut io).await),
    };
    let unsent = loop {
        let done = !conn.is_handshaking();
        if done && conn.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
            // All a TLS 1.3 server sends after the client's Finished is its tickets
            // (§4.6.1); nothing waits for them, so they go with our first record.
            break pending(&mut conn)?;
        }
        send_pending(&mut conn, &mut io).await?;
        if done {
            break Vec::new();
        }
        let record = next_record(&mut received, &mut io).await?;
        feed(received.bytes_mut(record), |r| conn.read_tls(r))?;
        if let Err(e) = capturing(&mut captured, || conn.process_new_packets()) {
            // The alert rustls queued for this error, then the error.
            let _ = send_pending(&mut conn, &mut io).await;
            return Err(invalid(e));
        }
    };

    let version = conn
        .protocol_version()
        .ok_or_else(|| invalid("no protocol version after the handshake"))?;
    let suite = conn
        .negotiated_cipher_suite()
        .ok_or_else(|| invalid("no cipher suite after the handshake"))?;
    let limit = match suite {
        SupportedCipherSuite::Tls13(s) => s.common.confidentiality_limit,
        SupportedCipherSuite::Tls12(s) => s.common.confidentiality_limit,
    };
    let (rx_secret, tx_secret) = traffic_secrets(suite, &captured)?;
    let exporter = if version == ProtocolVersion::TLSv1_3 {
        conn.export_keying_material([0; TLS_EXPORTER_LEN], TLS_EXPORTER_LABEL, None)
            .ok()
    } else {
        None
    };
    // Records were fed one at a time and the last was the handshake's, so rustls holds no
    // application data; checked, since exporting the keys would drop it.
    let state = conn.process_new_packets().map_err(invalid)?;
    if state.plaintext_bytes_to_read() > 0 {
        return Err(invalid("application data inside the TLS handshake"));
    }
    let secrets = conn.dangerous_extract_secrets().map_err(invalid)?;
    // The client's records are not limited here: keeping under the limit is the sender's
    // part (RFC 8446 §5.5).
    let rx = Protection::new(version, secrets.rx.0, secrets.rx.1, rx_secret, u64::MAX)
        .map_err(invalid)?;
    let tx =
        Protection::new(version, secrets.tx.0, secrets.tx.1, tx_secret, limit).map_err(invalid)?;
    Ok(Records::new(io, rx, tx, exporter, received, unsent))
}

/// The client's and the server's application traffic secrets of a TLS 1.3 handshake, from
/// what was captured; none on TLS 1.2.
pub(super) fn traffic_secrets(
    suite: SupportedCipherSuite,
    captured: &Captured,
) -> io::Result<(Option<TrafficSecret>, Option<TrafficSecret>)> {
    let SupportedCipherSuite::Tls13(suite) = suite else {
        return Ok((None, None));
    };
    let hkdf = match suite.common.hash_provider.algorithm() {
        HashAlgorithm::SHA256 => ring::hkdf::HKDF_SHA256,
        HashAlgorithm::SHA384 => ring::hkdf::HKDF_SHA384,
        _ => return Err(invalid("no key schedule for this TLS 1.3 suite's hash")),
    };
    let secret = |captured: &Option<zeroize::Zeroizing<Vec<u8>>>| {
        captured
            .as_deref()
            .and_then(|secret| TrafficSecret::new(hkdf, secret))
            .ok_or_else(|| invalid("the TLS 1.3 traffic secrets were not captured"))
    };
    Ok((
        Some(secret(&captured.client)?),
        Some(secret(&captured.server)?),
    ))
}
