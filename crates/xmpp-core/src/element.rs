//! A namespace-qualified XML element tree: the unit every stanza and nonza is made of.
//!
//! The tree keeps every child, attribute and text node it was given, so a stanza with extension
//! elements Starling does not know passes through unchanged (RFC 6120 §8.4: a server routes
//! what it does not understand). Names are stored resolved (local name + namespace URI), not as
//! written: prefixes are an artefact of one serialization, and RFC 6120 §11.2 lets any
//! equivalent form be sent on.

mod parse;
pub mod syntax;

use std::fmt;

use crate::ns;

pub use parse::XmlParseError;

/// An attribute as written (`name` may carry a prefix such as `xml:lang`) and its unescaped value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Qualified name as written, e.g. `type` or `xml:lang`.
    pub name: String,
    /// Unescaped value.
    pub value: String,
}

/// A child of an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Unescaped character data.
    Text(String),
}

/// An XML element with its namespace, attributes and children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    name: String,
    ns: String,
    attrs: Vec<Attribute>,
    children: Vec<Node>,
}

impl Element {
    /// A new empty element `name` in namespace `ns` (`""` for no namespace).
    pub fn new(name: impl Into<String>, ns: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ns: ns.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Local name, without prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Namespace URI (`""` when the element is in no namespace).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// Whether this element is `name` in namespace `ns`.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns == ns
    }

    /// Moves this element and all of its descendants that share its namespace into `ns`.
    ///
    /// Used when a stanza crosses from a `jabber:server` context into a `jabber:client` one.
    pub fn set_ns_deep(&mut self, ns: &str) {
        let old = std::mem::replace(&mut self.ns, ns.to_owned());
        for child in &mut self.children {
            if let Node::Element(e) = child
                && e.ns == old
            {
                e.set_ns_deep(ns);
            }
        }
    }

    /// The value of attribute `name` (as written, e.g. `xml:lang`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// All attributes in document order.
    pub fn attrs(&self) -> &[Attribute] {
        &self.attrs
    }

    /// Sets (or replaces) attribute `name`.
    pub fn set_attr(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.attrs.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value,
            None => self.attrs.push(Attribute { name, value }),
        }
    }

    /// Removes attribute `name`, returning its value.
    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        let pos = self.attrs.iter().position(|a| a.name == name)?;
        Some(self.attrs.remove(pos).value)
    }

    /// Builder form of [`Element::set_attr`].
    #[must_use]
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder form of [`Element::push_child`].
    #[must_use]
    pub fn with_child(mut self, child: Element) -> Self {
        self.push_child(child);
        self
    }

    /// Builder form of [`Element::push_text`].
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    /// Appends a child element.
    pub fn push_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Appends character data (merged with a preceding text node).
    pub fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        if let Some(Node::Text(prev)) = self.children.last_mut() {
            prev.push_str(&text);
        } else {
            self.children.push(Node::Text(text));
        }
    }

    /// All children (elements and text) in document order.
    pub fn nodes(&self) -> &[Node] {
        &self.children
    }

    /// Mutable access to the children.
    pub fn nodes_mut(&mut self) -> &mut Vec<Node> {
        &mut self.children
    }

    /// Child elements in document order.
    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element `name` in namespace `ns`.
    pub fn get_child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children().find(|e| e.is(name, ns))
    }

    /// Removes and returns the first child element `name` in namespace `ns`.
    pub fn take_child(&mut self, name: &str, ns: &str) -> Option<Element> {
        let pos = self
            .children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if e.is(name, ns)))?;
        match self.children.remove(pos) {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        }
    }

    /// Removes every child element `name` in namespace `ns`.
    pub fn remove_children(&mut self, name: &str, ns: &str) {
        self.children
            .retain(|n| !matches!(n, Node::Element(e) if e.is(name, ns)));
    }

    /// Concatenated character data of the direct text children.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }

    /// Serializes the element into `out`, assuming the surrounding default namespace is
    /// `parent_ns` (so `xmlns` is written only where it changes).
    ///
    /// Elements in the stream namespace are written with the `stream:` prefix, which the
    /// stream header binds (RFC 6120 §4.8.5).
    pub fn write_to(&self, out: &mut String, parent_ns: &str) {
        self.write_split(out, parent_ns, false);
    }

    /// The element serialized as [`Element::write_to`] writes it, split where its `to`
    /// attribute goes (in its place if it has one, after the others if not), so that copies
    /// addressed to many entities (a presence broadcast, RFC 6121 §4.2.2) cost a copy of the
    /// bytes each rather than a clone and a serialization.
    pub fn addressable(&self, parent_ns: &str) -> Addressable {
        let mut head = String::new();
        let at = self.write_split(&mut head, parent_ns, true);
        let tail = head.split_off(at);
        Addressable { head, tail }
    }

    /// [`Element::write_to`], leaving out the `to` attribute if `without_to`; returns the
    /// offset in `out` where ` to='…'` goes.
    fn write_split(&self, out: &mut String, parent_ns: &str, without_to: bool) -> usize {
        out.push('<');
        let in_stream_ns = self.ns == ns::STREAM;
        if in_stream_ns {
            out.push_str("stream:");
        }
        out.push_str(&self.name);
        if !in_stream_ns && self.ns != parent_ns {
            out.push_str(" xmlns='");
            escape_into(out, &self.ns, true);
            out.push('\'');
        }
        let mut to_at = None;
        for a in &self.attrs {
            if a.name == "to" {
                to_at = Some(out.len());
                if without_to {
                    continue;
                }
            }
            out.push(' ');
            out.push_str(&a.name);
            out.push_str("='");
            escape_into(out, &a.value, true);
            out.push('\'');
        }
        let to_at = to_at.unwrap_or(out.len());
        if self.children.is_empty() {
            out.push_str("/>");
            return to_at;
        }
        out.push('>');
        // Children of a stream-namespace element inherit the stream's default namespace.
        let own_ns = if in_stream_ns { parent_ns } else { &self.ns };
        for n in &self.children {
            match n {
                Node::Element(e) => e.write_to(out, own_ns),
                Node::Text(t) => escape_into(out, t, false),
            }
        }
        out.push_str("</");
        if in_stream_ns {
            out.push_str("stream:");
        }
        out.push_str(&self.name);
        out.push('>');
        to_at
    }

    /// The element serialized as a standalone document fragment (namespace always declared).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out, "");
        out
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_xml())
    }
}

/// An element serialized once, to be written with different `to` attributes
/// ([`Element::addressable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressable {
    /// Up to where ` to='…'` goes.
    head: String,
    /// The rest.
    tail: String,
}

impl Addressable {
    /// The serialization of the element with its `to` attribute set to `to`: what
    /// [`Element::set_attr`] then [`Element::write_to`] would write.
    pub fn addressed_to(&self, to: &str) -> String {
        let mut out = String::with_capacity(self.head.len() + self.tail.len() + to.len() + 6);
        out.push_str(&self.head);
        out.push_str(" to='");
        escape_into(&mut out, to, true);
        out.push('\'');
        out.push_str(&self.tail);
        out
    }
}

/// Escapes XML character data (`attr = false`) or an attribute value quoted with `'`, so that
/// an XML parser reads back exactly `s` (XML 1.0 §2.11, §3.3.3).
///
/// Runs without a character to escape are copied whole: every character escaped is ASCII, so
/// a byte scan finds them, and most text (JIDs, ids, message bodies) has none.
pub fn escape_into(out: &mut String, s: &str, attr: bool) {
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let reference = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\'' if attr => "&apos;",
            b'"' if attr => "&quot;",
            // Parsers normalize these (attribute-value normalization, line-end handling), so
            // they survive a round trip only as character references.
            b'\t' if attr => "&#9;",
            b'\n' if attr => "&#10;",
            b'\r' => "&#13;",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(&s[start..i]);
        out.push_str(reference);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests;
