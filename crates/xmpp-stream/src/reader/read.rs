//! The two read loops, over the parser's events: up to the stream header, and through one
//! top-level element. Free functions over the reader's fields, so an event borrowing the
//! event buffer can live next to the parser borrowed for namespace lookups.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::NamespaceError;
use tokio::io::AsyncRead;
use xmpp_core::{Element, StreamError};

use super::prolog;
use super::tree::{self, ElementNs, ResolvedRef};
use crate::error::{
    bad_namespace_prefix, not_well_formed, policy_violation, restricted_xml, unsupported_encoding,
};
use crate::source::{BoundedSource, Refusal};
use crate::{ReadError, ReaderLimits, StreamHeader};

pub(super) type Parser<R> = NsReader<BoundedSource<R>>;

/// The stream header, and whether it was an empty-element tag (`<stream:stream/>`).
pub(super) struct Header {
    pub(super) header: StreamHeader,
    pub(super) empty: bool,
}

/// Reads the prolog and the stream header (RFC 6120 §4.7). `fresh`: nothing of this
/// (re)started stream has been read yet, so an XML declaration may come first.
pub(super) async fn header<R: AsyncRead + Unpin>(
    parser: &mut Parser<R>,
    buf: &mut Vec<u8>,
    limits: &ReaderLimits,
    fresh: bool,
) -> Result<Header, ReadError> {
    if fresh {
        prolog::sniff(parser.get_mut()).await?;
    }
    let mut at_start = fresh;
    loop {
        buf.clear();
        let (resolved, event) = match parser.read_resolved_event_into_async(buf).await {
            Ok(x) => x,
            Err(e) => return Err(map_error(e, parser.get_ref(), limits, at_start)),
        };
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => Some(ElementNs::from_resolved(resolved)),
            _ => {
                drop(resolved);
                None
            }
        };
        check_source(parser.get_ref(), limits, at_start)?;
        match event {
            Event::Decl(decl) if at_start => prolog::check_declaration(&decl)?,
            Event::Text(text) if is_whitespace(text.as_bytes()) => {}
            Event::Start(ref start) | Event::Empty(ref start) => {
                let ns = match ns {
                    Some(ElementNs::Bound(ns)) => ns,
                    Some(ElementNs::UnboundPrefix(prefix)) => {
                        return Err(bad_namespace_prefix(format!(
                            "the stream header's prefix '{prefix}' is not bound (RFC 6120 §4.8.5)"
                        ))
                        .into());
                    }
                    None => unreachable!("resolved above for start tags"),
                };
                let element = tree::open_element(ns, start, parser.resolver(), limits)?;
                let header = prolog::stream_header(&element, parser.resolver())?;
                return Ok(Header {
                    header,
                    empty: matches!(event, Event::Empty(_)),
                });
            }
            other => return Err(unexpected(&other, false)),
        }
        at_start = false;
    }
}

/// The end of one top-level read.
pub(super) enum TopLevel {
    Element(Element),
    /// `</stream:stream>` (RFC 6120 §4.4).
    Close,
}

/// Reads one top-level element, or the end of the stream. The caller has seen that the next
/// byte is `<`.
pub(super) async fn top_level<R: AsyncRead + Unpin>(
    parser: &mut Parser<R>,
    buf: &mut Vec<u8>,
    stack: &mut Vec<Element>,
    limits: &ReaderLimits,
) -> Result<TopLevel, ReadError> {
    stack.clear();
    loop {
        buf.clear();
        let (resolved, event) = match parser.read_resolved_event_into_async(buf).await {
            Ok(x) => x,
            Err(e) => return Err(map_error(e, parser.get_ref(), limits, false)),
        };
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => Some(ElementNs::from_resolved(resolved)),
            _ => {
                drop(resolved);
                None
            }
        };
        check_source(parser.get_ref(), limits, false)?;
        let done = match event {
            Event::Start(start) => {
                let e = open(ns, &start, parser, stack.len(), limits)?;
                stack.push(e);
                None
            }
            Event::Empty(start) => {
                let e = open(ns, &start, parser, stack.len(), limits)?;
                close(stack, e)
            }
            Event::End(_) => match stack.pop() {
                // The parser matched it against the open `<stream:stream>` tag.
                None => Some(TopLevel::Close),
                Some(e) => close(stack, e),
            },
            Event::Text(text) if !stack.is_empty() => {
                let text = text.xml10_content();
                tree::check_char_data(&text)?;
                append(stack, &text);
                None
            }
            // CDATA sections are allowed (RFC 6120 §11.1 does not restrict them) and are
            // plain character data.
            Event::CData(cdata) if !stack.is_empty() => {
                append(stack, &cdata.xml10_content());
                None
            }
            Event::GeneralRef(reference) if !stack.is_empty() => {
                match tree::resolve_reference(&reference)? {
                    ResolvedRef::Char(c) => append(stack, c.encode_utf8(&mut [0; 4])),
                    ResolvedRef::Str(s) => append(stack, s),
                }
                None
            }
            other => return Err(unexpected(&other, !stack.is_empty())),
        };
        if let Some(done) = done {
            return Ok(done);
        }
    }
}

/// A new element for a start tag at nesting depth `depth + 1`.
fn open<R>(
    ns: Option<ElementNs>,
    start: &BytesStart<'_>,
    parser: &Parser<R>,
    depth: usize,
    limits: &ReaderLimits,
) -> Result<Element, StreamError> {
    if depth >= limits.max_depth {
        return Err(policy_violation(format!(
            "elements nested deeper than {} levels",
            limits.max_depth
        )));
    }
    match ns {
        Some(ElementNs::Bound(ns)) => tree::open_element(ns, start, parser.resolver(), limits),
        // RFC 6120 §4.9.3.13 gives exactly this case (`<foo:body>` with `foo` unbound) as an
        // example of <not-well-formed/>.
        Some(ElementNs::UnboundPrefix(prefix)) => Err(not_well_formed(format!(
            "element prefix '{prefix}' is not bound"
        ))),
        None => unreachable!("resolved for start tags"),
    }
}

/// Attaches a finished element to its parent, or returns it when it is the top-level one.
fn close(stack: &mut [Element], e: Element) -> Option<TopLevel> {
    match stack.last_mut() {
        Some(parent) => {
            parent.push_child(e);
            None
        }
        None => Some(TopLevel::Element(e)),
    }
}

fn append(stack: &mut [Element], text: &str) {
    if let Some(top) = stack.last_mut() {
        tree::append_text(top, text);
    }
}

/// An event that is not allowed where it appeared: the restricted XML of RFC 6120 §11.1
/// (`<restricted-xml/>`, §4.9.3.18), or a well-formedness error (§11.3, `<not-well-formed/>`,
/// §4.9.3.13).
fn unexpected(event: &Event<'_>, in_element: bool) -> ReadError {
    match event {
        Event::Comment(_) => restricted_xml("comment (RFC 6120 §11.1)"),
        Event::PI(_) => restricted_xml("processing instruction (RFC 6120 §11.1)"),
        Event::DocType(_) => restricted_xml("document type declaration (RFC 6120 §11.1)"),
        // Only the very first thing in a stream may be an XML declaration. A later
        // `<?xml …?>` is not a processing instruction either (XML §2.6 reserves the target
        // name), so it is a plain well-formedness error.
        Event::Decl(_) => not_well_formed("XML declaration not at the start of the stream"),
        Event::Eof => return ReadError::Eof,
        Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if !in_element => {
            not_well_formed("character data outside an element")
        }
        Event::End(_) => not_well_formed("end tag without a start tag"),
        _ => not_well_formed("unexpected markup"),
    }
    .into()
}

/// Fails if the source refused bytes, possibly ones inside the event just parsed.
fn check_source<R>(
    source: &BoundedSource<R>,
    limits: &ReaderLimits,
    at_start: bool,
) -> Result<(), ReadError> {
    match source.refusal() {
        None => Ok(()),
        Some(refusal) => Err(refusal_error(refusal, limits, at_start)),
    }
}

pub(super) fn refusal_error(refusal: Refusal, limits: &ReaderLimits, at_start: bool) -> ReadError {
    match refusal {
        Refusal::OverLimit => policy_violation(format!(
            "top-level element larger than {} bytes",
            limits.max_stanza_bytes
        )),
        // A NUL in the first bytes: most likely UTF-16 without a byte order mark.
        Refusal::BadChar(0) if at_start => {
            unsupported_encoding("XMPP streams are encoded in UTF-8 (RFC 6120 §11.6)")
        }
        Refusal::BadChar(_) => not_well_formed("a character XML does not allow (XML §2.2)"),
    }
    .into()
}

/// The stream error (or transport condition) behind a parser error.
fn map_error<R>(
    e: quick_xml::Error,
    source: &BoundedSource<R>,
    limits: &ReaderLimits,
    at_start: bool,
) -> ReadError {
    if let Some(refusal) = source.refusal() {
        return refusal_error(refusal, limits, at_start);
    }
    match e {
        quick_xml::Error::Io(io) => ReadError::Io(
            std::sync::Arc::try_unwrap(io)
                .unwrap_or_else(|shared| std::io::Error::new(shared.kind(), shared.to_string())),
        ),
        // The parser stopped because the input ended in the middle of something.
        _ if source.is_eof() => ReadError::Eof,
        quick_xml::Error::Namespace(
            NamespaceError::TooManyBindings(_) | NamespaceError::TooDeeplyNested(_),
        ) => policy_violation("too many namespace declarations in scope").into(),
        quick_xml::Error::Escape(e) => tree::escape_error(&e).into(),
        quick_xml::Error::Encoding(_) => not_well_formed("invalid UTF-8").into(),
        other => not_well_formed(other.to_string()).into(),
    }
}

pub(super) fn is_whitespace(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}
