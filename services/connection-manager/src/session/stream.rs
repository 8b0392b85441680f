//! One client connection's XML stream during negotiation: the reader and writer halves, what
//! has been negotiated, and the few operations negotiation needs (send, receive the next
//! element, fail with a stream error, upgrade to TLS).

use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use xmpp_core::{Element, StreamError, StreamErrorCondition, ns};
use xmpp_stream::{
    ReadError, ReaderLimits, StreamEvent, StreamHeader, Transport, XmlReader, XmlWriter,
};

use crate::config::Limits;

/// The byte stream under XMPP: TCP, TLS over TCP after STARTTLS or direct TLS.
pub(crate) type Conn = Transport<TcpStream>;
/// Reader half of a connection.
pub(crate) type Reader = XmlReader<ReadHalf<Conn>>;
/// Writer half of a connection.
pub(crate) type Writer = XmlWriter<WriteHalf<Conn>>;

/// How a stream ends when it does not reach (or leaves) the bound state normally.
#[derive(Debug)]
pub(crate) enum End {
    /// Send this stream error, then close.
    Error(StreamError),
    /// The client closed its stream (`</stream:stream>`): answer with ours and close (§4.4).
    PeerClosed,
    /// The transport is gone (EOF or I/O error): nothing can be sent.
    Gone,
}

impl End {
    /// A stream error end with descriptive text.
    pub(crate) fn error(condition: StreamErrorCondition, text: impl Into<String>) -> Self {
        End::Error(StreamError::with_text(condition, text))
    }
}

impl From<ReadError> for End {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Stream(err) => End::Error(err),
            ReadError::Io(_) | ReadError::Eof => End::Gone,
        }
    }
}

/// A client stream being negotiated.
pub(crate) struct Stream {
    io: Option<(Reader, Writer)>,
    limits: ReaderLimits,
    /// Whether our response header went out on the current (restarted) stream: a stream error
    /// must be preceded by one (RFC 6120 §4.9.1.2).
    header_sent: bool,
    /// Whether the transport is TLS.
    pub(crate) tls: bool,
    /// RFC 9266 tls-exporter channel-binding data, on TLS 1.3.
    pub(crate) tls_exporter: Option<Vec<u8>>,
    /// The 'from' of the client's current stream header (RFC 6120 §4.7.1), which SASL2 checks
    /// an authorization identity against (XEP-0388 §2.2).
    pub(crate) client_from: Option<String>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Stream {
    /// Wraps a fresh connection.
    pub(crate) fn new(conn: Conn, limits: &Limits) -> Self {
        let tls = conn.is_tls();
        let tls_exporter = conn.tls_exporter();
        let limits = ReaderLimits {
            max_stanza_bytes: limits.max_stanza_bytes,
            max_depth: limits.max_depth,
            max_attributes: limits.max_attributes,
        };
        let (r, w) = tokio::io::split(conn);
        Self {
            io: Some((
                XmlReader::new(r, limits.clone()),
                XmlWriter::new(w, ns::JABBER_CLIENT),
            )),
            limits,
            header_sent: false,
            tls,
            tls_exporter,
            client_from: None,
        }
    }

    fn io(&mut self) -> Result<&mut (Reader, Writer), End> {
        self.io.as_mut().ok_or(End::Gone)
    }

    /// The next event of the stream.
    pub(crate) async fn next_event(&mut self) -> Result<StreamEvent, End> {
        Ok(self.io()?.0.next().await?)
    }

    /// The next top-level element, skipping whitespace keepalives. A client stream close
    /// becomes [`End::PeerClosed`].
    pub(crate) async fn next_element(&mut self) -> Result<Element, End> {
        loop {
            match self.next_event().await? {
                StreamEvent::Element(e) => return Ok(e),
                StreamEvent::Keepalive => {}
                StreamEvent::Close => return Err(End::PeerClosed),
                StreamEvent::Open(_) => {
                    return Err(End::error(
                        StreamErrorCondition::NotWellFormed,
                        "unexpected stream header",
                    ));
                }
            }
        }
    }

    /// Sends our stream header for the current stream.
    pub(crate) async fn send_header(&mut self, header: &StreamHeader) -> Result<(), End> {
        self.io()?
            .1
            .write_header(header)
            .await
            .map_err(|_| End::Gone)?;
        self.header_sent = true;
        Ok(())
    }

    /// Queues one element to go out with the next [`Stream::send`], in the same write.
    pub(crate) fn queue(&mut self, e: &Element) -> Result<(), End> {
        self.io()?.1.queue_element(e);
        Ok(())
    }

    /// Sends one element and flushes.
    pub(crate) async fn send(&mut self, e: &Element) -> Result<(), End> {
        self.io()?.1.write_element(e).await.map_err(|_| End::Gone)
    }

    /// Prepares for a stream restart (RFC 6120 §4.3.3): the next thing read is a new header.
    pub(crate) fn restart(&mut self) {
        if let Some((r, _)) = self.io.as_mut() {
            r.restart();
        }
        self.header_sent = false;
    }

    /// Ends the stream: with a stream error (preceded by a header if none was sent yet,
    /// §4.9.1.2), or with a plain `</stream:stream>` when the peer closed first.
    pub(crate) async fn finish(&mut self, end: &End, domain: &str) {
        let header_sent = self.header_sent;
        let Ok((_, w)) = self.io() else { return };
        let result = match end {
            End::Error(err) => {
                if !header_sent {
                    let _ = w.write_header(&response_header(domain, None, None)).await;
                }
                w.write_error_and_close(err).await
            }
            End::PeerClosed => w.write_close().await,
            End::Gone => return,
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "could not send the stream close");
        }
    }

    /// Upgrades the connection to TLS after `<proceed/>` (RFC 6120 §5.4.3.3).
    pub(crate) async fn upgrade_tls(
        &mut self,
        acceptor: &xmpp_stream::ServerTls,
    ) -> Result<(), End> {
        let (reader, writer) = self.io.take().ok_or(End::Gone)?;
        if reader.has_buffered_data() {
            // The client must wait for <proceed/> before starting TLS; bytes already buffered
            // would be plaintext injected into the TLS stream.
            return Err(End::error(
                StreamErrorCondition::PolicyViolation,
                "data received after <starttls/> before TLS started",
            ));
        }
        let conn = reader.into_inner().unsplit(writer.into_inner());
        let Transport::Plain(tcp) = conn else {
            return Err(End::error(
                StreamErrorCondition::PolicyViolation,
                "TLS already negotiated",
            ));
        };
        let conn = acceptor.accept(tcp).await.map_err(|e| {
            tracing::debug!(error = %e, "TLS handshake failed");
            End::Gone
        })?;
        self.tls = true;
        self.tls_exporter = conn.tls_exporter();
        let (r, w) = tokio::io::split(conn);
        self.io = Some((
            XmlReader::new(r, self.limits.clone()),
            XmlWriter::new(w, ns::JABBER_CLIENT),
        ));
        self.header_sent = false;
        Ok(())
    }

    /// Hands the halves over to the bound session.
    pub(crate) fn into_parts(self) -> Option<(Reader, Writer)> {
        self.io
    }
}

/// Our response header (RFC 6120 §4.7): from our domain, a fresh stream id, version 1.0, and
/// `to` echoing the client's `from` when it gave one (§4.7.2).
pub(crate) fn response_header(
    domain: &str,
    to: Option<String>,
    id: Option<String>,
) -> StreamHeader {
    StreamHeader {
        to,
        from: Some(domain.to_owned()),
        id,
        version: Some("1.0".to_owned()),
        lang: Some("en".to_owned()),
        content_ns: ns::JABBER_CLIENT.to_owned(),
    }
}

/// A random identifier: stream ids (RFC 6120 §4.7.3 wants them unguessable) and generated
/// resources.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // The OS random source failing is not recoverable in any sensible way for a server;
        // fall back to a clock-derived id rather than stopping the stream.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    // The 96 bits as one number in hex, one string: a string formatted per byte was 24 per
    // login (two stream headers), about 1% of the server's CPU in a login storm.
    let mut wide = [0u8; 16];
    wide[4..].copy_from_slice(&bytes);
    format!("{:024x}", u128::from_be_bytes(wide))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twelve random bytes in lowercase hex, each id its own (RFC 6120 §4.7.3: unique and
    /// unpredictable).
    #[test]
    fn random_ids_are_24_hex_digits_and_differ() {
        let ids: Vec<String> = (0..64).map(|_| random_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 24, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // All sixteen digits appear among these 1,536: both nibbles map onto the alphabet.
        let digits: std::collections::HashSet<u8> = ids.iter().flat_map(|i| i.bytes()).collect();
        assert_eq!(digits.len(), 16);
    }
}
