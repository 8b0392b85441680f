//! The receive path of a logged-in session: splits the stream's bytes into top-level
//! elements and reads from each only what the ledger needs, without building a tree.
//!
//! Once a session is bound, the generator receives tens of thousands of stanzas a second and
//! needs five things from each: its name, `type`, `from`, `id`, and the `<ts/>` stamp (or an
//! XEP-0199 ping to answer). The stream reader of xmpp-stream, which the login uses, checks
//! and builds every element in full, namespaces resolved; that was about a third of the
//! generator's CPU at 57,000 deliveries/s, as much as everything else on its receive side
//! but the kernel. Here a non-namespace quick-xml reader runs over the received bytes, one
//! borrowed event at a time.
//!
//! What it gives up: namespaces are matched by the `xmlns` (or `xmlns:p` for a prefixed
//! name) attribute on the element itself, which is how servers forward an extension element
//! (RFC 6120 §8.4); a stamp whose namespace is declared further up is not recognised, and its
//! delivery counts as missing rather than passing unseen. The server's XML is otherwise
//! trusted to be well formed: what quick-xml cannot read is waited on as an incomplete
//! element until [`MAX_ELEMENT`] bytes, then ends the session.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::attributes::Attributes;
use quick_xml::events::{BytesStart, Event};

use crate::stamp::{NS as STAMP_NS, Stamp};

/// XEP-0199's namespace.
const PING_NS: &str = "urn:xmpp:ping";

/// The most bytes one top-level element may take; past it the session ends. Far above any
/// stanza the scenarios cause (a few hundred bytes) and servers' usual stanza limits.
pub const MAX_ELEMENT: usize = 256 * 1024;

/// What a top-level element says, as far as the generator cares. Attribute values are as
/// they were on the wire (not unescaped): the ones read here (`user{i}@domain/load`,
/// `type`, ids the generator or the server chose) hold no markup characters, and one that
/// did would not match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stanza<'a> {
    /// The element's qualified name as written (`presence`, `stream:error`).
    pub name: &'a str,
    /// `type`, if present.
    pub kind: Option<&'a str>,
    /// `from`, if present.
    pub from: Option<&'a str>,
    /// `id`, if present.
    pub id: Option<&'a str>,
    /// The `<ts xmlns='urn:starling:loadtest'/>` child, if there was a well-formed one.
    pub stamp: Option<Stamp>,
    /// A `<ping xmlns='urn:xmpp:ping'/>` child was present.
    pub ping: bool,
}

/// One step of reading the received bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A complete top-level element.
    Stanza(Stanza<'a>),
    /// `</stream:stream>`: the server closed its stream (RFC 6120 §4.4).
    Close,
    /// What is buffered is whitespace (keepalives, RFC 6120 §11.7), part of an element, or
    /// nothing: read more.
    NeedMore,
}

/// Bytes received and not yet read, and where reading is.
#[derive(Debug, Default)]
pub struct Received {
    buf: Vec<u8>,
    /// Start of the bytes not yet read in `buf`.
    start: usize,
}

/// The stream can no longer be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Broken {
    /// An element grew past [`MAX_ELEMENT`] without ending, or was not XML.
    TooLong,
    /// Bytes that are not UTF-8 (RFC 6120 §11.6).
    NotUtf8,
    /// Character data between top-level elements (RFC 6120 §11.7 allows whitespace only).
    Text,
}

impl Received {
    /// Starts with bytes already received (what the login's reader had not processed).
    pub fn new(first: Vec<u8>) -> Self {
        Self {
            buf: first,
            start: 0,
        }
    }

    /// Where newly received bytes go: the buffer, with what was read dropped and room for at
    /// least `room` more bytes after its end.
    pub fn spare(&mut self, room: usize) -> &mut Vec<u8> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(room);
        &mut self.buf
    }

    /// The next item of what was received. A [`Item::Stanza`] borrows the buffer until the
    /// next call.
    pub fn next_item(&mut self) -> Result<Item<'_>, Broken> {
        let rest = &self.buf[self.start..];
        let ws = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .count();
        self.start += ws;
        let rest = match std::str::from_utf8(&self.buf[self.start..]) {
            Ok(text) => text,
            // A character cut off by the end of what was received: read up to it.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&self.buf[self.start..self.start + e.valid_up_to()])
                    .unwrap_or_default()
            }
            Err(_) => return Err(Broken::NotUtf8),
        };
        match scan(rest) {
            Scan::Element(len, stanza) => {
                self.start += len;
                Ok(Item::Stanza(stanza))
            }
            Scan::Close(len) => {
                self.start += len;
                Ok(Item::Close)
            }
            Scan::Incomplete if rest.len() > MAX_ELEMENT => Err(Broken::TooLong),
            Scan::Incomplete => Ok(Item::NeedMore),
            Scan::Text => Err(Broken::Text),
        }
    }
}

enum Scan<'a> {
    /// An element of this many bytes.
    Element(usize, Stanza<'a>),
    /// The stream's end tag, of this many bytes.
    Close(usize),
    Incomplete,
    Text,
}

/// Reads one top-level element from the start of `text` (which starts with markup or is
/// empty).
fn scan(text: &str) -> Scan<'_> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.allow_unmatched_ends = true;
    config.check_end_names = false;
    let mut stanza = Stanza::default();
    let mut depth = 0usize;
    // Inside the stamp: its sequence number, waiting for the text.
    let mut stamp_seq: Option<u64> = None;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            // A tag cut off by the end of what was received, or markup quick-xml cannot
            // read: wait for more, up to MAX_ELEMENT.
            Err(_) => return Scan::Incomplete,
        };
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(tag) | Event::Empty(tag) if depth == 0 => {
                // The tag is at the start of `text` (`<` name attributes [`/`] `>`): its
                // attributes are read from there, so that they borrow `text`.
                let end = position(&reader);
                let inner = text.get(1..end.saturating_sub(1)).unwrap_or_default();
                let inner = if empty {
                    inner.strip_suffix('/').unwrap_or(inner)
                } else {
                    inner
                };
                read_top(inner, tag.name().as_ref().len(), &mut stanza);
                if empty {
                    return Scan::Element(end, stanza);
                }
                depth = 1;
            }
            Event::Start(tag) | Event::Empty(tag) => {
                if depth == 1 {
                    stanza.ping |= is(&tag, "ping", PING_NS);
                    if !empty && is(&tag, "ts", STAMP_NS) {
                        stamp_seq = attr(&tag, "seq").and_then(number);
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::Text(text) if depth == 2 => {
                if let Some(seq) = stamp_seq.take() {
                    stanza.stamp = number(text.trim()).map(|sent_us| Stamp { seq, sent_us });
                }
            }
            Event::Text(_) if depth == 0 => return Scan::Text,
            Event::End(_) if depth == 0 => return Scan::Close(position(&reader)),
            Event::End(_) => {
                depth -= 1;
                stamp_seq = None;
                if depth == 0 {
                    return Scan::Element(position(&reader), stanza);
                }
            }
            Event::Eof => return Scan::Incomplete,
            _ => {}
        }
    }
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// Reads the top-level element's name and the attributes the generator uses from `raw`, the
/// tag's text between `<` and `>` (or `/>`).
fn read_top<'a>(raw: &'a str, name_len: usize, stanza: &mut Stanza<'a>) {
    stanza.name = raw.get(..name_len).unwrap_or_default();
    for (key, value) in attributes(raw, name_len) {
        match key {
            "type" => stanza.kind = Some(value),
            "from" => stanza.from = Some(value),
            "id" => stanza.id = Some(value),
            _ => {}
        }
    }
}

/// The attributes after the name in `raw` (a tag's text between `<` and `>`), with their
/// values as written, borrowed from it.
fn attributes(raw: &str, name_len: usize) -> impl Iterator<Item = (&str, &str)> {
    let mut attributes = Attributes::new(raw, name_len);
    attributes.with_checks(false);
    attributes.flatten().filter_map(|a| match a.value {
        Cow::Borrowed(v) => Some((a.key.into_inner(), v)),
        Cow::Owned(_) => None,
    })
}

/// Whether `tag` is `{ns}local`: its local name, and `xmlns` (or `xmlns:prefix` for its
/// prefix) on the tag itself.
fn is(tag: &BytesStart<'_>, local: &str, ns: &str) -> bool {
    let name = tag.name();
    if name.local_name().as_ref() != local {
        return false;
    }
    let prefix = name.prefix();
    let declares = |key: &str| match (key.strip_prefix("xmlns"), &prefix) {
        (Some(""), None) => true,
        (Some(rest), Some(p)) => rest.strip_prefix(':') == Some(p.as_ref()),
        _ => false,
    };
    attributes(tag, name.as_ref().len()).any(|(key, value)| declares(key) && value == ns)
}

/// An attribute's value as written.
fn attr<'t>(tag: &'t BytesStart<'_>, key: &str) -> Option<&'t str> {
    let raw: &'t str = tag;
    attributes(raw, tag.name().as_ref().len())
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn number(text: &str) -> Option<u64> {
    text.parse().ok()
}

#[cfg(test)]
mod tests;
