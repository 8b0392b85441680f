//! The byte stream under XMPP: plain TCP, or TLS over it (RFC 6120 §5 STARTTLS, or direct
//! TLS per XEP-0368), on either side of the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rustls::ProtocolVersion;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

mod accept;
mod protection;
mod record_buffer;
mod records;
mod secret_capture;
mod suite_order;
mod traffic_secret;

pub use accept::ServerTls;
pub use records::Records;
pub use suite_order::server_ordered_provider;

/// The RFC 9266 §2 exporter label for the `tls-exporter` channel binding type.
const TLS_EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// RFC 9266 §2: 32 bytes of keying material, with no context.
const TLS_EXPORTER_LEN: usize = 32;

/// A connection that is either plain or TLS-protected, usable as one byte stream.
///
/// An enum rather than a trait object so that STARTTLS can take the plain stream back out
/// (`Transport::Plain(tcp)`) and wrap it.
pub enum Transport<S> {
    /// No TLS (yet).
    Plain(S),
    /// TLS, server side. Boxed: the TLS state is large and the plain variant is common.
    Tls(Box<tokio_rustls::server::TlsStream<S>>),
    /// TLS, server side, records protected by [`Records`] once rustls negotiated the keys.
    Records(Box<Records<S>>),
    /// TLS, client side.
    ClientTls(Box<tokio_rustls::client::TlsStream<S>>),
}

impl<S> Transport<S> {
    /// Whether the connection is TLS-protected.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Plain(_))
    }

    /// The `tls-exporter` channel binding data of RFC 9266: 32 bytes exported with the label
    /// `EXPORTER-Channel-Binding` and no context, for SCRAM-*-PLUS (RFC 5802 §6).
    ///
    /// Only on TLS 1.3. On TLS 1.2, RFC 9266 allows tls-exporter only when the extended
    /// master secret extension (RFC 7627) was negotiated, since without it the exported value
    /// is not unique to the connection; rustls does not tell us whether it was, so on TLS 1.2
    /// this returns `None` and the caller does not offer -PLUS mechanisms. `None` on plain
    /// connections.
    pub fn tls_exporter(&self) -> Option<Vec<u8>> {
        let exported = match self {
            Transport::Plain(_) => return None,
            Transport::Records(records) => return records.tls_exporter().map(Vec::from),
            Transport::Tls(tls) => {
                let conn = tls.get_ref().1;
                if conn.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
                    return None;
                }
                conn.export_keying_material(vec![0; TLS_EXPORTER_LEN], TLS_EXPORTER_LABEL, None)
            }
            Transport::ClientTls(tls) => {
                let conn = tls.get_ref().1;
                if conn.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
                    return None;
                }
                conn.export_keying_material(vec![0; TLS_EXPORTER_LEN], TLS_EXPORTER_LABEL, None)
            }
        };
        exported.ok()
    }

    /// The underlying stream (under TLS, if any).
    pub fn get_ref(&self) -> &S {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(tls) => tls.get_ref().0,
            Transport::Records(records) => records.get_ref(),
            Transport::ClientTls(tls) => tls.get_ref().0,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Transport<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::Records(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Transport<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::Records(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Transport::Records(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
            Transport::Records(s) => s.is_write_vectored(),
            Transport::ClientTls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::Records(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::Records(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl<S> std::fmt::Debug for Transport<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Plain(_) => "Transport::Plain",
            Transport::Tls(_) => "Transport::Tls",
            Transport::Records(_) => "Transport::Records",
            Transport::ClientTls(_) => "Transport::ClientTls",
        })
    }
}

#[cfg(test)]
mod tests;
