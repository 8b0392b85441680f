//! The writing side of an XML stream: a buffer that serializes elements and is flushed to
//! the transport when the caller says so, so several stanzas can go out in one write.

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use xmpp_core::element::escape_into;
use xmpp_core::{Element, StreamError, ns};

use crate::StreamHeader;

/// Queued bytes past this are written out (without a flush) by the next async call, so that
/// batching cannot grow the buffer without bound.
const HIGH_WATER: usize = 64 * 1024;

/// The buffer's room when something is queued into it empty: a login's stream header and
/// features, or a few stanzas, fit.
const FIRST_CAPACITY: usize = 1024;

/// Writes an XML stream to `W`.
///
/// Everything is serialized into an internal buffer first; `flush` (and the methods that say
/// they flush) hands it to the transport and flushes the transport.
///
/// Not cancel-safe: if a future that writes is dropped midway, part of the buffer may have
/// been written while all of it is still queued, and would be written again. End the stream
/// instead of writing after that.
pub struct XmlWriter<W> {
    inner: W,
    buf: String,
    /// A serialized stanza queued with nothing before it, kept in its own buffer: when
    /// nothing follows it before the flush (most deliveries to a session) it is written from
    /// there, neither copied nor given a buffer of the writer's own. Anything queued after it
    /// moves it into `buf` first, so `buf` is empty while this is set.
    alone: Option<Bytes>,
    /// The default namespace of our stream header (RFC 6120 §4.8.2): top-level elements in
    /// it are written without an `xmlns`.
    content_ns: String,
}

impl<W: AsyncWrite + Unpin> XmlWriter<W> {
    /// A writer whose stream content namespace is `content_ns` (`jabber:client` or
    /// `jabber:server`).
    pub fn new(inner: W, content_ns: &str) -> Self {
        Self {
            inner,
            buf: String::new(),
            alone: None,
            content_ns: content_ns.to_owned(),
        }
    }

    /// Queues an XML declaration and our stream header (RFC 6120 §4.7, §11.5), which also
    /// sets the content namespace to the header's. Not flushed: stream features usually
    /// follow at once.
    pub async fn write_header(&mut self, header: &StreamHeader) -> std::io::Result<()> {
        self.content_ns.clone_from(&header.content_ns);
        self.ready_buf();
        push_stream_header(&mut self.buf, header);
        self.write_if_full().await
    }

    /// Serializes `e` into the buffer without writing anything (for batching).
    pub fn queue_element(&mut self, e: &Element) {
        self.ready_buf();
        e.write_to(&mut self.buf, &self.content_ns);
    }

    /// Queues a stanza that is already serialized, for a stream whose content namespace is
    /// the stanza's implied default (how stanzas travel inside a Starling cluster: serialized
    /// once by the service that decided on them, written as is to every recipient's stream).
    /// Bytes that are not UTF-8 are refused (RFC 6120 §11.6) and nothing is queued.
    pub fn queue_serialized(&mut self, xml: Bytes) -> Result<(), std::str::Utf8Error> {
        let text = std::str::from_utf8(&xml)?;
        if self.buf.is_empty() && self.alone.is_none() {
            self.alone = Some(xml);
        } else {
            self.ready_buf();
            self.buf.push_str(text);
        }
        Ok(())
    }

    /// Readies the buffer for something to be queued: room for a batch at once if it has
    /// none (it grew from nothing by doubling, four to six reallocations for a login's stream
    /// features, and as many for every write after it, since each write gives the buffer
    /// up), and a stanza queued alone moved into it.
    fn ready_buf(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve(FIRST_CAPACITY);
        }
        if let Some(xml) = self.alone.take() {
            // UTF-8: checked when it was queued.
            if let Ok(text) = std::str::from_utf8(&xml) {
                self.buf.push_str(text);
            }
        }
    }

    /// Queues `e` and flushes.
    pub async fn write_element(&mut self, e: &Element) -> std::io::Result<()> {
        self.queue_element(e);
        self.flush().await
    }

    /// Queues `s` as is, and flushes. For whitespace keepalives (RFC 6120 §4.6.1) and for
    /// tests that need to send what an element cannot express.
    pub async fn write_raw(&mut self, s: &str) -> std::io::Result<()> {
        self.ready_buf();
        self.buf.push_str(s);
        self.flush().await
    }

    /// Writes everything queued to the transport and flushes it.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.write_queued().await?;
        self.inner.flush().await
    }

    /// Sends a stream error and closes our stream (RFC 6120 §4.9.1.1: the error element,
    /// then `</stream:stream>`), and flushes. Closing the transport is left to the caller,
    /// which may wait for the peer's closing tag first (§4.4).
    pub async fn write_error_and_close(&mut self, err: &StreamError) -> std::io::Result<()> {
        self.queue_element(&err.to_element());
        self.write_close().await
    }

    /// Closes our stream with `</stream:stream>` (RFC 6120 §4.4) and flushes.
    pub async fn write_close(&mut self) -> std::io::Result<()> {
        self.ready_buf();
        self.buf.push_str("</stream:stream>");
        self.flush().await
    }

    /// Whether elements are queued that have not been written yet.
    pub fn has_queued_data(&self) -> bool {
        !self.buf.is_empty() || self.alone.is_some()
    }

    /// The transport. Anything queued and not flushed is lost.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// The transport.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The transport. Writing to it directly while elements are queued reorders the stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    async fn write_if_full(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= HIGH_WATER {
            self.write_queued().await?;
        }
        Ok(())
    }

    async fn write_queued(&mut self) -> std::io::Result<()> {
        if let Some(xml) = &self.alone {
            self.inner.write_all(xml).await?;
            self.alone = None;
        } else if !self.buf.is_empty() {
            self.inner.write_all(self.buf.as_bytes()).await?;
            // The buffer goes with what it held: an idle stream then holds no write buffer
            // (a session's initial presence and roster burst would otherwise pin a few KiB
            // per connection for its lifetime), and a busy one allocates once per batch,
            // next to a socket write that costs far more.
            self.buf = String::new();
        }
        Ok(())
    }
}

impl<W> std::fmt::Debug for XmlWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlWriter")
            .field("content_ns", &self.content_ns)
            .field(
                "queued",
                &(self.buf.len() + self.alone.as_ref().map_or(0, Bytes::len)),
            )
            .finish_non_exhaustive()
    }
}

/// Appends an XML declaration and `header` (RFC 6120 §4.7, §11.5) to `b`: what
/// [`XmlWriter::write_header`] queues, for a client that hands its header to the transport
/// before it has a writer (the header that leaves with the TLS handshake's last flight).
pub(crate) fn push_stream_header(b: &mut String, header: &StreamHeader) {
    b.push_str("<?xml version='1.0'?><stream:stream xmlns='");
    escape_into(b, &header.content_ns, true);
    b.push_str("' xmlns:stream='");
    b.push_str(ns::STREAM);
    b.push('\'');
    for (name, value) in [
        ("to", &header.to),
        ("from", &header.from),
        ("id", &header.id),
        ("version", &header.version),
        ("xml:lang", &header.lang),
    ] {
        if let Some(value) = value {
            b.push(' ');
            b.push_str(name);
            b.push_str("='");
            escape_into(b, value, true);
            b.push('\'');
        }
    }
    b.push('>');
}

#[cfg(test)]
mod tests;
