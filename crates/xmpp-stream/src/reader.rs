//! The incremental reader of an RFC 6120 XML stream: bytes in, stream header and whole
//! top-level elements out.
//!
//! Layers, bottom up:
//! 1. [`BoundedSource`] buffers the transport, counts bytes since the last top-level boundary
//!    and refuses to go past `max_stanza_bytes`, so memory stays bounded whatever the peer
//!    sends; it also rejects bytes that are not XML characters.
//! 2. quick-xml's `NsReader` tokenizes and tracks namespace bindings.
//! 3. This module enforces the stream rules of RFC 6120 §4 and the XML restrictions of §11,
//!    and assembles events into [`Element`]s ([`tree`]).
//!
//! Whitespace between top-level elements never reaches the parser: it is skipped here and
//! reported as soon as it arrives ([`StreamEvent::Keepalive`]), because a whitespace ping
//! (§4.6.1) is only useful if it is seen before the next stanza.
//!
//! What ends a stream, and with which condition (RFC 6120 §4.9.3):
//!
//! | The peer sent | Condition |
//! |---|---|
//! | an XML declaration naming an encoding other than UTF-8; UTF-16 or UCS-4 byte patterns at the start (§11.6) | `unsupported-encoding` |
//! | a stream header that is not `<stream/>` in `http://etherx.jabber.org/streams` (any bound prefix is accepted), or whose default namespace is not `jabber:client`/`jabber:server` | `invalid-namespace` |
//! | a stream header whose prefix is not bound | `bad-namespace-prefix` |
//! | a comment, processing instruction, document type declaration, or entity reference other than the five predefined ones (§11.1) | `restricted-xml` |
//! | anything not well-formed per XML 1.0 or XML-NAMES (§11.3): syntax, mismatched tags, invalid UTF-8, characters XML does not allow, text between top-level elements, an XML declaration anywhere but at the very start, U+FEFF at the start (§11.6), and unbound prefixes inside stanzas (the example of §4.9.3.13) | `not-well-formed` |
//! | a top-level unit over `max_stanza_bytes`, nesting deeper than `max_depth`, more than `max_attributes` on an element, too many namespace declarations in scope | `policy-violation` |
//!
//! The stream `version` is only reported; [`StreamHeader::check_version`] applies §4.7.5.

mod prolog;
mod read;
mod tree;

use quick_xml::NsReader;
use tokio::io::AsyncRead;
use xmpp_core::{Element, StreamError};

use crate::error::not_well_formed;
use crate::source::{BoundedSource, Gap};
use crate::{ReadError, ReaderLimits, StreamHeader};
use read::{Parser, TopLevel};

/// Something that happened on the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The peer opened the stream (RFC 6120 §4.2, §4.7). Check it with
    /// [`StreamHeader::check_version`] and the caller's own rules (`to`, §4.7.2).
    Open(StreamHeader),
    /// A complete top-level element: a stanza or a nonza such as `<stream:features/>`.
    Element(Element),
    /// Whitespace between top-level elements (§11.7): the peer is alive, so idle timers can be
    /// reset (§4.6.1). Whitespace that arrives together is reported once; whitespace that
    /// arrives in several reads may be reported several times.
    Keepalive,
    /// The peer closed its stream with `</stream:stream>` (§4.4).
    Close,
}

/// Reads an XML stream from `R`, one [`StreamEvent`] at a time.
///
/// Every error ends the stream: after a [`ReadError`], `next` returns the same stream error
/// (or [`ReadError::Eof`]) again without reading.
pub struct XmlReader<R> {
    /// `None` only for the duration of [`XmlReader::restart`], which puts a fresh one back.
    parser: Option<Parser<R>>,
    /// The parser's event buffer, reused for every event.
    buf: Vec<u8>,
    /// The elements open inside the current top-level element, outermost first.
    stack: Vec<Element>,
    limits: ReaderLimits,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Waiting for the stream header; `fresh` until the first markup of this (re)started
    /// stream was read, since only then may an XML declaration appear (XML §2.8).
    Prolog { fresh: bool },
    /// Inside the stream, at a boundary between top-level elements.
    Open,
    /// The header was an empty-element tag, `<stream:stream/>`: the stream is over as soon as
    /// it began, and `Close` is reported after `Open`.
    ClosePending,
    /// `</stream:stream>` was read.
    Closed,
    /// An error ended the stream; the stream error to repeat, if it was one.
    Failed(Option<StreamError>),
}

/// Event buffers that grew past this after one large element are given back.
const RETAINED_BUFFER: usize = 16 * 1024;

/// The event buffer taken for a stanza after the reader was idle: a stanza's start tags
/// mostly fit, so the buffer is not grown from nothing in several steps for every stanza.
const EVENT_BUFFER: usize = 256;

const PARSER_PRESENT: &str = "the parser is only absent inside restart()";

impl<R: AsyncRead + Unpin> XmlReader<R> {
    /// A reader of a stream that has not begun yet: the first event will be
    /// [`StreamEvent::Open`].
    pub fn new(inner: R, limits: ReaderLimits) -> Self {
        Self {
            parser: Some(new_parser(BoundedSource::new(
                inner,
                limits.max_stanza_bytes,
            ))),
            buf: Vec::new(),
            stack: Vec::new(),
            limits,
            state: State::Prolog { fresh: true },
        }
    }

    /// The next event of the stream.
    ///
    /// Not cancel-safe: if the returned future is dropped before it completes (for example
    /// when another `select!` branch wins), part of an element may have been consumed, and
    /// the reader must not be used again. Dropping it is fine when the stream is being ended
    /// anyway (shutdown, idle timeout); otherwise give the reader a task of its own.
    pub async fn next(&mut self) -> Result<StreamEvent, ReadError> {
        let result = match &self.state {
            State::Failed(error) => {
                return Err(error.clone().map_or(ReadError::Eof, ReadError::Stream));
            }
            State::Closed => return Err(ReadError::Eof),
            State::ClosePending => {
                self.state = State::Closed;
                return Ok(StreamEvent::Close);
            }
            State::Prolog { fresh } => {
                let fresh = *fresh;
                self.read_header(fresh).await
            }
            State::Open => self.read_next().await,
        };
        if let Err(e) = &result {
            self.state = State::Failed(match e {
                ReadError::Stream(error) => Some(error.clone()),
                ReadError::Io(_) | ReadError::Eof => None,
            });
        }
        result
    }

    /// Prepares for a stream restart (RFC 6120 §4.3.3, after STARTTLS and SASL): the next
    /// event will be the new stream header. The parser starts from scratch (namespace
    /// bindings of the old header no longer apply, a new XML declaration is allowed). Bytes
    /// already read from the transport are kept: they belong to the new stream (a client
    /// that pipelines may already have sent its new header).
    pub fn restart(&mut self) {
        if let Some(old) = self.parser.take() {
            let mut source = old.into_inner();
            source.mark_boundary();
            self.parser = Some(new_parser(source));
        }
        self.stack.clear();
        self.state = State::Prolog { fresh: true };
    }

    /// Whether bytes were received that the reader has not processed yet.
    ///
    /// After `<starttls/>` the client sends nothing until TLS is negotiated (RFC 6120 §5.4.2.3,
    /// §5.4.3.1 rule 1), and plaintext read before the handshake must never be taken as if it
    /// came over TLS; the caller checks this before upgrading the transport. Whitespace
    /// counts too (§11.7 does not allow it during TLS negotiation).
    pub fn has_buffered_data(&self) -> bool {
        self.source().has_buffered_data()
    }

    /// The transport. Bytes read from it but not yet processed are lost; see
    /// [`XmlReader::has_buffered_data`].
    pub fn into_inner(mut self) -> R {
        self.parser
            .take()
            .expect(PARSER_PRESENT)
            .into_inner()
            .into_inner()
    }

    /// Whether the reader holds any buffer: the read buffer, the event buffer or the element
    /// stack. An idle reader holds none.
    #[cfg(test)]
    pub(crate) fn holds_buffers(&self) -> bool {
        self.source().holds_buffer() || self.buf.capacity() > 0 || self.stack.capacity() > 0
    }

    /// The transport and the bytes read from it that the reader has not processed, in
    /// order: for a caller that reads the rest of the stream itself. Between top-level
    /// elements (after [`XmlReader::next`] returned one) nothing else is held; in the
    /// middle of one, the part already parsed is lost.
    pub fn into_parts(mut self) -> (R, Vec<u8>) {
        self.parser
            .take()
            .expect(PARSER_PRESENT)
            .into_inner()
            .into_parts()
    }

    /// The transport.
    pub fn get_ref(&self) -> &R {
        self.source().get_ref()
    }

    /// The transport. Reading from it directly desynchronizes the reader.
    pub fn get_mut(&mut self) -> &mut R {
        self.parser_mut().get_mut().get_mut()
    }

    fn source(&self) -> &BoundedSource<R> {
        self.parser.as_ref().expect(PARSER_PRESENT).get_ref()
    }

    fn parser_mut(&mut self) -> &mut Parser<R> {
        self.parser.as_mut().expect(PARSER_PRESENT)
    }

    /// The fields a read needs, borrowed separately: events borrow the buffer while the
    /// parser is used for namespace lookups.
    fn parts(
        &mut self,
    ) -> (
        &mut Parser<R>,
        &mut Vec<u8>,
        &mut Vec<Element>,
        &ReaderLimits,
    ) {
        let parser = self.parser.as_mut().expect(PARSER_PRESENT);
        (parser, &mut self.buf, &mut self.stack, &self.limits)
    }

    async fn read_header(&mut self, fresh: bool) -> Result<StreamEvent, ReadError> {
        self.state = State::Prolog { fresh: false };
        let (parser, buf, _, limits) = self.parts();
        let header = read::header(parser, buf, limits, fresh).await?;
        self.state = if header.empty {
            State::ClosePending
        } else {
            State::Open
        };
        self.end_of_unit();
        Ok(StreamEvent::Open(header.header))
    }

    async fn read_next(&mut self) -> Result<StreamEvent, ReadError> {
        let (parser, buf, stack, limits) = self.parts();
        let source = parser.get_mut();
        let gap = {
            let mut skip = std::pin::pin!(source.skip_whitespace());
            std::future::poll_fn(|cx| {
                let poll = skip.as_mut().poll(cx);
                if poll.is_pending() && buf.capacity() > 0 {
                    // Idle between stanzas: hold no parse buffers while waiting (the source
                    // gives back its read buffer too).
                    *buf = Vec::new();
                    *stack = Vec::new();
                }
                poll
            })
            .await
        };
        match gap {
            Ok(Gap::Markup) => {}
            Ok(Gap::Whitespace) => {
                source.mark_boundary();
                return Ok(StreamEvent::Keepalive);
            }
            Ok(Gap::Text) => {
                return Err(not_well_formed("character data between top-level elements").into());
            }
            Ok(Gap::Eof) => return Err(ReadError::Eof),
            Err(e) => {
                return Err(match source.refusal() {
                    Some(refusal) => read::refusal_error(refusal, limits, false),
                    None => ReadError::Io(e),
                });
            }
        }
        if buf.capacity() == 0 {
            buf.reserve(EVENT_BUFFER);
        }
        match read::top_level(parser, buf, stack, limits).await? {
            TopLevel::Element(e) => {
                self.end_of_unit();
                Ok(StreamEvent::Element(e))
            }
            TopLevel::Close => {
                self.state = State::Closed;
                Ok(StreamEvent::Close)
            }
        }
    }

    /// A top-level unit ended: count the next one from zero, and give back an event buffer
    /// that one large element made large.
    fn end_of_unit(&mut self) {
        self.parser_mut().get_mut().mark_boundary();
        if self.buf.capacity() > RETAINED_BUFFER {
            self.buf = Vec::new();
        }
    }
}

fn new_parser<R: AsyncRead + Unpin>(source: BoundedSource<R>) -> NsReader<BoundedSource<R>> {
    let mut parser = NsReader::from_reader(source);
    let config = parser.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    config.allow_unmatched_ends = false;
    config.allow_dangling_amp = false;
    config.check_comments = false;
    parser
}

impl<R> std::fmt::Debug for XmlReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlReader")
            .field("state", &self.state)
            .field("limits", &self.limits)
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
