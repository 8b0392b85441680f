//! The receive path of a logged-in session: splits the stream's bytes into top-level
//! elements and reads from each only what the ledger needs, without building a tree.
//!
//! Once a session is bound, the generator receives tens of thousands of stanzas a second and
//! needs five things from each: its name, `type`, `from`, `id`, and the `<ts/>` stamp (or an
//! XEP-0199 ping to answer). The stream reader of xmpp-stream, which the login uses, checks
//! and builds every element in full, namespaces resolved; that was about a third of the
//! generator's CPU at 57,000 deliveries/s, as much as everything else on its receive side
//! but the kernel. Here the received bytes are scanned markup by markup for the nesting of
//! elements, the top-level tag and its children's tags (their attributes read in place), and
//! a complete element is checked to be UTF-8 once, its parts then borrowed from the buffer.
//!
//! What it gives up: namespaces are matched by the `xmlns` (or `xmlns:p` for a prefixed
//! name) attribute on the element itself, which is how servers forward an extension element
//! (RFC 6120 §8.4); a stamp whose namespace is declared further up is not recognised, and its
//! delivery counts as missing rather than passing unseen. The server's XML is otherwise
//! trusted to be well formed (end tags are not matched to start tags, entities are not
//! checked, a tag's attributes are read up to the first that is not `key='value'`): what
//! cannot be read as markup is waited on as an incomplete element until [`MAX_ELEMENT`]
//! bytes, then ends the session.

use std::ops::Range;

use memchr::{memchr, memchr3, memmem};

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
        let ws = self.buf[self.start..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .count();
        self.start += ws;
        let start = self.start;
        let rest = &self.buf[start..];
        match scan(rest) {
            Scan::Element(len, marks) => {
                self.start += len;
                // Only a complete element is checked, once: a character cut off by the end
                // of what was received is never looked at before its rest arrives.
                let text = std::str::from_utf8(&self.buf[start..start + len])
                    .map_err(|_| Broken::NotUtf8)?;
                Ok(Item::Stanza(marks.stanza(text)))
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

enum Scan {
    /// An element of this many bytes, and where in it the parts of its [`Stanza`] are.
    Element(usize, Marks),
    /// The stream's end tag, of this many bytes.
    Close(usize),
    Incomplete,
    Text,
}

/// Where a scanned element's [`Stanza`] parts are, as byte ranges of the element: the scan
/// reads bytes, and the element is checked to be UTF-8 only once it is complete. Each range
/// starts and ends next to ASCII markup (`<`, whitespace, `=`, quotes), so in UTF-8 text it
/// is on character boundaries.
#[derive(Default)]
struct Marks {
    name: Range<usize>,
    kind: Option<Range<usize>>,
    from: Option<Range<usize>>,
    id: Option<Range<usize>>,
    stamp: Option<Stamp>,
    ping: bool,
}

impl Marks {
    fn stanza(self, text: &str) -> Stanza<'_> {
        let part = |r: Range<usize>| text.get(r).unwrap_or_default();
        Stanza {
            name: part(self.name),
            kind: self.kind.map(part),
            from: self.from.map(part),
            id: self.id.map(part),
            stamp: self.stamp,
            ping: self.ping,
        }
    }
}

/// Reads one top-level element from the start of `bytes` (which starts with markup or is
/// empty), markup by markup: the elements' nesting, the top-level tag, its children's tags
/// and the stamp's text are all it looks at, each found with `memchr`'s vectorized search.
/// (A quick-xml reader over the same bytes made an event of every tag and text, checking
/// each one's UTF-8 again: about 5,600 instructions per presence for the events alone. A
/// first scan of its own, over `str` with quick-xml's attribute parser, took about 8,000 per
/// presence for all of [`Received::next_item`]; this one about 4,600.
/// `loadtest/results/presence-n10000-k20/generator-scan/` and `generator-bytes/`.)
fn scan(bytes: &[u8]) -> Scan {
    let mut marks = Marks::default();
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
            let Some(len) = memchr(b'<', &bytes[at..]) else {
                return Scan::Incomplete;
            };
            if depth == 2
                && let Some(seq) = stamp_seq.take()
            {
                marks.stamp =
                    number(bytes[at..at + len].trim_ascii()).map(|sent_us| Stamp { seq, sent_us });
            }
            at += len;
            continue;
        }
        match bytes.get(at + 1) {
            None => return Scan::Incomplete,
            Some(b'/') => {
                let Some(close) = memchr(b'>', &bytes[at..]) else {
                    return Scan::Incomplete;
                };
                let end = at + close + 1;
                if depth == 0 {
                    return Scan::Close(end);
                }
                depth -= 1;
                stamp_seq = None;
                if depth == 0 {
                    return Scan::Element(end, marks);
                }
                at = end;
            }
            // Comments, CDATA sections, processing instructions: skipped whole (a stamp
            // written as CDATA is not read, as before).
            Some(b'!' | b'?') => {
                let rest = &bytes[at..];
                let terminator: &[u8] = if rest.starts_with(b"<!--") {
                    b"-->"
                } else if rest.starts_with(b"<![CDATA[") {
                    b"]]>"
                } else if rest.starts_with(b"<?") {
                    b"?>"
                } else {
                    b">"
                };
                let Some(found) = memmem::find(rest, terminator) else {
                    return Scan::Incomplete;
                };
                at += found + terminator.len();
            }
            Some(_) => {
                let Some(close) = tag_end(&bytes[at..]) else {
                    return Scan::Incomplete;
                };
                let end = at + close + 1;
                let (inner, empty) = match &bytes[at + 1..end - 1] {
                    [inner @ .., b'/'] => (inner, true),
                    inner => (inner, false),
                };
                let name_len = inner
                    .iter()
                    .position(u8::is_ascii_whitespace)
                    .unwrap_or(inner.len());
                if name_len == 0 {
                    // Not a tag: never ends, as markup a reader cannot read.
                    return Scan::Incomplete;
                }
                if depth == 0 {
                    read_top(inner, at + 1, name_len, &mut marks);
                    if empty {
                        return Scan::Element(end, marks);
                    }
                } else if depth == 1 {
                    match local_name(&inner[..name_len]) {
                        b"ping" => marks.ping |= declares(inner, name_len, PING_NS),
                        b"ts" if !empty && declares(inner, name_len, STAMP_NS) => {
                            stamp_seq = attr(inner, name_len, b"seq").and_then(number);
                        }
                        _ => {}
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
    let mut at = 1;
    loop {
        let i = at + memchr3(b'>', b'\'', b'"', tag.get(at..)?)?;
        match tag[i] {
            b'>' => return Some(i),
            quote => at = i + 1 + memchr(quote, &tag[i + 1..])? + 1,
        }
    }
}

/// Marks the top-level element's name and the attributes the generator uses, from `raw`,
/// the tag's bytes between `<` and `>` (or `/>`), which start at `offset` in the element.
fn read_top(raw: &[u8], offset: usize, name_len: usize, marks: &mut Marks) {
    let shift = |r: Range<usize>| r.start + offset..r.end + offset;
    marks.name = shift(0..name_len);
    for (key, value) in attributes(raw, name_len) {
        match key {
            b"type" => marks.kind = Some(shift(value)),
            b"from" => marks.from = Some(shift(value)),
            b"id" => marks.id = Some(shift(value)),
            _ => {}
        }
    }
}

/// The attributes after the name in `raw` (a tag's bytes between `<` and `>`): each key,
/// and where its value is in `raw`, as written (between its quotes, not unescaped).
/// Reading stops at the first thing that is not `key = 'value'` (XML §3.1, whitespace
/// allowed around `=`).
fn attributes(raw: &[u8], name_len: usize) -> Attributes<'_> {
    Attributes { raw, at: name_len }
}

/// A tag's attributes, one after the other ([`attributes`]).
struct Attributes<'a> {
    raw: &'a [u8],
    /// Where the next attribute (or the whitespace before it) starts; `raw.len()` once
    /// reading stopped.
    at: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a [u8], Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.raw;
        let skip_ws = |mut at: usize| {
            while raw.get(at)?.is_ascii_whitespace() {
                at += 1;
            }
            Some(at)
        };
        let parsed = (|| {
            let key_start = skip_ws(self.at)?;
            let key_len = raw[key_start..]
                .iter()
                .position(|b| *b == b'=' || b.is_ascii_whitespace())?;
            let eq = skip_ws(key_start + key_len)?;
            if raw[eq] != b'=' {
                return None;
            }
            let open = skip_ws(eq + 1)?;
            let quote = raw[open];
            if quote != b'\'' && quote != b'"' {
                return None;
            }
            let len = memchr(quote, &raw[open + 1..])?;
            Some((key_start..key_start + key_len, open + 1..open + 1 + len))
        })();
        let Some((key, value)) = parsed else {
            self.at = raw.len();
            return None;
        };
        self.at = value.end + 1;
        Some((&raw[key], value))
    }
}

/// A qualified name's local part (after its prefix's colon, if any).
fn local_name(name: &[u8]) -> &[u8] {
    memchr(b':', name).map_or(name, |colon| &name[colon + 1..])
}

/// Whether the tag `raw` (its bytes between `<` and `>`, name first) puts its name in `ns`:
/// `xmlns` (or `xmlns:prefix` for its prefix) on the tag itself.
fn declares(raw: &[u8], name_len: usize, ns: &str) -> bool {
    let name = &raw[..name_len];
    let prefix = memchr(b':', name).map(|colon| &name[..colon]);
    let names_ns = |key: &[u8]| match (key.strip_prefix(b"xmlns"), prefix) {
        (Some(rest), None) => rest.is_empty(),
        (Some(rest), Some(p)) => rest.strip_prefix(b":") == Some(p),
        _ => false,
    };
    attributes(raw, name_len).any(|(key, value)| names_ns(key) && &raw[value] == ns.as_bytes())
}

/// An attribute's value as written, in the tag `raw`.
fn attr<'t>(raw: &'t [u8], name_len: usize, key: &[u8]) -> Option<&'t [u8]> {
    attributes(raw, name_len)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| &raw[v])
}

fn number(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests;
