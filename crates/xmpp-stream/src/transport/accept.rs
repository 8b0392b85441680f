//! The server side of a TLS handshake, ending either in rustls's own stream or, for compact
//! sessions, in [`Records`]: rustls negotiates, then hands over its keys and is dropped.
//!
//! The handshake is driven here rather than by tokio-rustls so that rustls is given the
//! client's bytes one whole record at a time: when the client's Finished has been processed,
//! whatever the client sent after it (its first protected records often come in the same
//! packet) is still ours, not in rustls's buffer, where exporting the keys would lose it.

use std::io;
use std::sync::Arc;

use rustls::server::ServerConnection;
use rustls::{ProtocolVersion, ServerConfig, SupportedCipherSuite};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::protection::{HEADER_LEN, MAX_FRAGMENT, Protection};
use super::record_buffer::RecordBuffer;
use super::records::Records;
use super::{TLS_EXPORTER_LABEL, TLS_EXPORTER_LEN, Transport};
/// The longest record either version allows (RFC 5246 §6.2.3; RFC 8446 §5.2 is stricter).
const MAX_RECORD: usize = HEADER_LEN + MAX_FRAGMENT + 2048;

/// Accepts TLS connections with one server configuration.
#[derive(Clone, Debug)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    compact: bool,
}

impl ServerTls {
    /// With `compact`, established connections protect their own records ([`Records`]) and
    /// keep no rustls state; otherwise they are tokio-rustls streams. Compact sessions need
    /// the keys exported, so secret extraction is turned on in the configuration they use.
    pub fn new(config: Arc<ServerConfig>, compact: bool) -> Self {
        let config = if compact && !config.enable_secret_extraction {
            let mut with_extraction = (*config).clone();
            with_extraction.enable_secret_extraction = true;
            Arc::new(with_extraction)
        } else {
            config
        };
        Self { config, compact }
    }

    /// Runs the server side of a handshake on `io`. On failure the client has been sent the
    /// alert rustls chose, where it had one.
    pub async fn accept<S>(&self, io: S) -> io::Result<Transport<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if self.compact {
            let records = handshake(self.config.clone(), io).await?;
            Ok(Transport::Records(Box::new(records)))
        } else {
            let tls = tokio_rustls::TlsAcceptor::from(self.config.clone())
                .accept(io)
                .await?;
            Ok(Transport::Tls(Box::new(tls)))
        }
    }
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Writes whatever rustls has to send.
async fn send_pending<S: AsyncWrite + Unpin>(
    conn: &mut ServerConnection,
    io: &mut S,
) -> io::Result<()> {
    if !conn.wants_write() {
        return Ok(());
    }
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out)?;
    }
    io.write_all(&out).await?;
    io.flush().await
}

/// A handshake fed to rustls record by record, then its keys taken over by [`Records`].
async fn handshake<S>(config: Arc<ServerConfig>, mut io: S) -> io::Result<Records<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = ServerConnection::new(config).map_err(invalid)?;
    let mut received = RecordBuffer::default();
    loop {
        send_pending(&mut conn, &mut io).await?;
        if !conn.is_handshaking() {
            break;
        }
        // The next whole record (or, when its header claims too much, what there is, for
        // rustls to reject with the right alert).
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
        let range = received.consume(len);
        let mut record: &[u8] = received.bytes_mut(range);
        while !record.is_empty() {
            if conn.read_tls(&mut record)? == 0 {
                return Err(invalid("rustls took no more handshake bytes"));
            }
        }
        if let Err(e) = conn.process_new_packets() {
            // The alert rustls queued for this error, then the error.
            let _ = send_pending(&mut conn, &mut io).await;
            return Err(invalid(e));
        }
    }

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
    let unsupported = || invalid("no record protection for this TLS version and cipher suite");
    let rx =
        Protection::new(version, secrets.rx.0, secrets.rx.1, u64::MAX).ok_or_else(unsupported)?;
    let tx = Protection::new(version, secrets.tx.0, secrets.tx.1, limit).ok_or_else(unsupported)?;
    Ok(Records::new(io, rx, tx, exporter, received))
}
