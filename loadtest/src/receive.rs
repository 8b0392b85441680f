//! The receive path of a logged-in session: splits the stream's bytes into top-level
//! elements and reads from each only what the ledger needs, without building a tree.
//!
//! Once a session is bound, the generator receives tens of thousands of stanzas a second and
//! needs five things from each: its name, `type`, `from`, `id`, and the `<ts/>` stamp (or an
//! XEP-0199 ping to answer). The stream reader of xmpp-stream, which the login uses, checks
//! and builds every element in full, namespaces resolved; that was about a third of the
//! generator's CPU at 57,000 deliveries/s, as much as everything else on its receive side
//! but the kernel. Here the received bytes are scanned markup by markup for the nesting of
//! elements, the top-level tag and its children's tags (their attributes read with
//! quick-xml's attribute parser), borrowing from the buffer.
//!
//! What it gives up: namespaces are matched by the `xmlns` (or `xmlns:p` for a prefixed
//! name) attribute on the element itself, which is how servers forward an extension element
//! (RFC 6120 §8.4); a stamp whose namespace is declared further up is not recognised, and its
//! delivery counts as missing rather than passing unseen. The server's XML is otherwise
//! trusted to be well formed (end tags are not matched to start tags, entities are not
//! checked): what cannot be read as markup is waited on as an incomplete element until
//! [`MAX_ELEMENT`] bytes, then ends the session.

use std::borrow::Cow;

use quick_xml::events::attributes::Attributes;

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
/// empty), markup by markup: the elements' nesting, the top-level tag, its children's tags
/// and the stamp's text are all it looks at. (A quick-xml reader over the same bytes made an
/// event of every tag and text, checking each one's UTF-8 again: about 5,600 instructions
/// per presence, a third of the generator's instructions per delivery, kernel included;
/// `loadtest/results/presence-n10000-k20/generator-scan/`.)
fn scan(text: &str) -> Scan<'_> {
    let bytes = text.as_bytes();
    let mut stanza = Stanza::default();
    let mut depth = 0usize;
    // Inside the stamp: its sequence number, waiting for the text.
    let mut stamp_seq: Option<u64> = None;
    let mut at = 0;
    loop {
        let Some(&first) = bytes.get(at) else {
            return Scan::Incomplete;
        };
        if first != b'<' {
            if depth == 0 {
                return Scan::Text;
            }
            // Character data up to the next markup; only the stamp's is read.
            let Some(len) = text[at..].find('<') else {
                return Scan::Incomplete;
            };
            if depth == 2
                && let Some(seq) = stamp_seq.take()
            {
                stanza.stamp =
                    number(text[at..at + len].trim()).map(|sent_us| Stamp { seq, sent_us });
            }
            at += len;
            continue;
        }
        match bytes.get(at + 1) {
            None => return Scan::Incomplete,
            Some(b'/') => {
                let Some(close) = text[at..].find('>') else {
                    return Scan::Incomplete;
                };
                let end = at + close + 1;
                if depth == 0 {
                    return Scan::Close(end);
                }
                depth -= 1;
                stamp_seq = None;
                if depth == 0 {
                    return Scan::Element(end, stanza);
                }
                at = end;
            }
            // Comments, CDATA sections, processing instructions: skipped whole (a stamp
            // written as CDATA is not read, as before).
            Some(b'!' | b'?') => {
                let rest = &text[at..];
                let terminator = if rest.starts_with("<!--") {
                    "-->"
                } else if rest.starts_with("<![CDATA[") {
                    "]]>"
                } else if rest.starts_with("<?") {
                    "?>"
                } else {
                    ">"
                };
                let Some(found) = rest.find(terminator) else {
                    return Scan::Incomplete;
                };
                at += found + terminator.len();
            }
            Some(_) => {
                let Some(close) = tag_end(&bytes[at..]) else {
                    return Scan::Incomplete;
                };
                let end = at + close + 1;
                let inner = &text[at + 1..end - 1];
                let (inner, empty) = match inner.strip_suffix('/') {
                    Some(inner) => (inner, true),
                    None => (inner, false),
                };
                let name_len = inner
                    .find(|c: char| c.is_ascii_whitespace())
                    .unwrap_or(inner.len());
                if name_len == 0 {
                    // Not a tag: never ends, as markup a reader cannot read.
                    return Scan::Incomplete;
                }
                if depth == 0 {
                    read_top(inner, name_len, &mut stanza);
                    if empty {
                        return Scan::Element(end, stanza);
                    }
                } else if depth == 1 {
                    stanza.ping |= is(inner, name_len, "ping", PING_NS);
                    if !empty && is(inner, name_len, "ts", STAMP_NS) {
                        stamp_seq = attr(inner, name_len, "seq").and_then(number);
                    }
                }
                if !empty {
                    depth += 1;
                }
                at = end;
            }
        }
    }
}

/// Where the tag at the start of `tag` (`<` ...) ends: its `>`, outside attribute values.
fn tag_end(tag: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in tag.iter().enumerate().skip(1) {
        match (quote, b) {
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'>') => return Some(i),
            (Some(q), _) if q == b => quote = None,
            _ => {}
        }
    }
    None
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

/// Whether the tag `raw` (its text between `<` and `>`, name first) is `{ns}local`: its local
/// name, and `xmlns` (or `xmlns:prefix` for its prefix) on the tag itself.
fn is(raw: &str, name_len: usize, local: &str, ns: &str) -> bool {
    let name = &raw[..name_len];
    let (prefix, name_local) = match name.split_once(':') {
        Some((prefix, name_local)) => (Some(prefix), name_local),
        None => (None, name),
    };
    if name_local != local {
        return false;
    }
    let declares = |key: &str| match (key.strip_prefix("xmlns"), prefix) {
        (Some(""), None) => true,
        (Some(rest), Some(p)) => rest.strip_prefix(':') == Some(p),
        _ => false,
    };
    attributes(raw, name_len).any(|(key, value)| declares(key) && value == ns)
}

/// An attribute's value as written, in the tag `raw`.
fn attr<'t>(raw: &'t str, name_len: usize, key: &str) -> Option<&'t str> {
    attributes(raw, name_len)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn number(text: &str) -> Option<u64> {
    text.parse().ok()
}

#[cfg(test)]
mod tests;
