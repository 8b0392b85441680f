//! Reading one element back from a string: the inverse of [`Element::write_to`].
//!
//! Stanzas that leave a process travel as the XML `write_to` produced, with the content
//! namespace implied by context rather than declared on the top element, exactly as on an XML
//! stream. [`Element::from_xml`] reads such a fragment back, given that implied namespace.
//!
//! The tree is built as the stream reader builds it (see `xmpp-stream`'s `reader/tree.rs`):
//! names are stored resolved and namespace declarations are dropped, except that a prefixed
//! attribute keeps its prefix and its element gets the `xmlns:prefix` binding, because
//! [`Attribute`](super::Attribute)s carry no namespace. The same XML restrictions as on a
//! stream apply (RFC 6120 §11.1: no comments, processing instructions, document type
//! declarations, or entity references other than the five predefined ones), and the
//! well-formedness checks quick-xml leaves out are made here too.
//!
//! There is no size or depth limit: the input is expected to come from a peer process that
//! read it through a limited stream reader, not from a client.

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::escape::{EscapeError, resolve_xml_entity};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{NamespaceResolver, ResolveResult};

use super::Element;
use super::syntax::{attributes_separated, is_name, is_qname, is_xml_char, may_hold_non_xml_char};
use crate::ns;

/// XML-NAMES §3: the namespace bound to the `xmlns` prefix.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Why a string is not exactly one element.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlParseError {
    /// The input holds no element (it is empty or whitespace only).
    #[error("no element in the input")]
    NoElement,
    /// Another element follows the first one.
    #[error("more than one top-level element")]
    SeveralElements,
    /// Character data (other than white space) before or after the element.
    #[error("character data outside the element")]
    TextOutsideElement,
    /// Markup XMPP does not allow (RFC 6120 §11.1).
    #[error("{0} is not allowed (RFC 6120 §11.1)")]
    Restricted(&'static str),
    /// An element or attribute uses a namespace prefix no declaration binds.
    #[error("namespace prefix '{0}' is not bound")]
    UnboundPrefix(String),
    /// Anything else that is not well-formed XML 1.0 with namespaces.
    #[error("not well-formed: {0}")]
    Malformed(String),
}

impl Element {
    /// Parses exactly one element, with optional white space around it, from `xml`.
    ///
    /// `default_ns` is the default namespace in scope where the fragment was written (for a
    /// stanza, the stream's content namespace, e.g. `jabber:client`): unprefixed elements with
    /// no `xmlns` declaration in scope are in it. So for any element `e`,
    /// `Element::from_xml(&s, ns)` gives back `e` when `e.write_to(&mut s, ns)` wrote `s`
    /// (elements in the stream namespace excepted: their `stream:` prefix is bound only by a
    /// stream header).
    pub fn from_xml(xml: &str, default_ns: &str) -> Result<Element, XmlParseError> {
        // Literal characters XML does not allow (XML §2.2), anywhere; quick-xml does not check
        // them. Character references are checked where they are resolved.
        if may_hold_non_xml_char(xml.as_bytes())
            && let Some(c) = xml.chars().find(|&c| !is_xml_char(c))
        {
            return Err(malformed(format!(
                "character U+{:04X} is not allowed in XML",
                u32::from(c)
            )));
        }
        let mut reader = NsReader::from_str(xml);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;

        let mut builder = Builder {
            default_ns,
            stack: Vec::new(),
            done: None,
        };
        loop {
            let (resolved, event) = reader
                .read_resolved_event()
                .map_err(|e| malformed(e.to_string()))?;
            let name_ns = match &event {
                Event::Start(_) | Event::Empty(_) => NameNs::from(resolved),
                _ => NameNs::Unbound,
            };
            match event {
                Event::Start(start) => {
                    let open = builder.open(name_ns, &start, reader.resolver())?;
                    builder.stack.push(open);
                }
                Event::Empty(start) => {
                    let open = builder.open(name_ns, &start, reader.resolver())?;
                    builder.close(open.element);
                }
                Event::End(_) => {
                    // The parser matched the end tag against the open start tag.
                    let open = builder
                        .stack
                        .pop()
                        .ok_or_else(|| malformed("end tag without a start tag"))?;
                    builder.close(open.element);
                }
                Event::Text(text) => {
                    let text = text.xml10_content();
                    if text.contains("]]>") {
                        // XML §2.4: not allowed literally in character data.
                        return Err(malformed("']]>' in character data"));
                    }
                    builder.text(&text)?;
                }
                // CDATA sections are plain character data (RFC 6120 §11.1 allows them).
                Event::CData(cdata) => {
                    builder.check_in_element()?;
                    builder.text(&cdata.xml10_content())?;
                }
                Event::GeneralRef(reference) => {
                    builder.check_in_element()?;
                    match resolve_reference(&reference)? {
                        Resolved::Char(c) => builder.text(c.encode_utf8(&mut [0; 4]))?,
                        Resolved::Str(s) => builder.text(s)?,
                    }
                }
                Event::Comment(_) => return Err(XmlParseError::Restricted("a comment")),
                Event::PI(_) => {
                    return Err(XmlParseError::Restricted("a processing instruction"));
                }
                Event::DocType(_) => {
                    return Err(XmlParseError::Restricted("a document type declaration"));
                }
                // An XML declaration begins a document, never an element inside one (XML §2.8).
                Event::Decl(_) => return Err(malformed("an XML declaration in a fragment")),
                Event::Eof => return builder.finish(),
            }
        }
    }
}

/// An element being built, and whether an `xmlns` declaration is in scope at it.
struct Open {
    element: Element,
    /// Whether this element or an ancestor declared the default namespace (`xmlns='…'`,
    /// possibly empty). Without one, unprefixed names are in the caller's default namespace.
    declared_default: bool,
}

/// The elements open so far, and the finished top-level element.
struct Builder<'a> {
    default_ns: &'a str,
    stack: Vec<Open>,
    done: Option<Element>,
}

impl Builder<'_> {
    /// The element for a start (or empty-element) tag, with its attributes and no children.
    fn open(
        &self,
        name_ns: NameNs,
        start: &BytesStart<'_>,
        resolver: &NamespaceResolver,
    ) -> Result<Open, XmlParseError> {
        if self.done.is_some() {
            return Err(XmlParseError::SeveralElements);
        }
        let qname = start.name();
        let qname = qname.as_ref();
        if !is_qname(qname) {
            return Err(malformed(format!("'{qname}' is not a qualified XML name")));
        }
        if !attributes_separated(start.attributes_raw()) {
            return Err(malformed("attributes not separated by white space"));
        }
        let mut declared_default = self.stack.last().is_some_and(|o| o.declared_default);
        let mut element = Element::new(start.local_name().into_inner(), "");
        // Prefixed attributes (other than xml:) as (prefix, namespace, local name): their
        // bindings travel with the element, and their expanded names must be unique.
        let mut prefixed: Vec<(&str, &str, &str)> = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| malformed(format!("attribute syntax: {e}")))?;
            let key = attr.key.into_inner();
            if !is_qname(key) {
                return Err(malformed(format!("'{key}' is not a qualified XML name")));
            }
            if key == "xmlns" {
                declared_default = true;
                continue;
            }
            if key.starts_with("xmlns:") {
                if attr.value.is_empty() {
                    // XML-NAMES 1.0 §3: a prefix cannot be undeclared.
                    return Err(malformed(format!("{key} declared empty")));
                }
                continue;
            }
            let value = attribute_value(&attr)?;
            if let Some((prefix, local)) = key.split_once(':')
                && prefix != "xml"
            {
                let ResolveResult::Bound(ns) = resolver.resolve_attribute(attr.key).0 else {
                    return Err(XmlParseError::UnboundPrefix(prefix.to_owned()));
                };
                let ns = ns.into_inner();
                if prefixed.iter().any(|&(_, n, l)| n == ns && l == local) {
                    // XML-NAMES §6.3: no two attributes with the same expanded name.
                    return Err(malformed(format!(
                        "attribute {local} in namespace {ns} appears twice"
                    )));
                }
                prefixed.push((prefix, ns, local));
            }
            element.set_attr(key, value);
        }
        for (i, &(prefix, ns, _)) in prefixed.iter().enumerate() {
            if !prefixed[..i].iter().any(|&(p, _, _)| p == prefix) {
                element.set_attr(format!("xmlns:{prefix}"), ns);
            }
        }
        element.ns = match name_ns {
            NameNs::Bound(ns) => ns,
            // An empty default namespace declaration (`xmlns=''`) in scope.
            NameNs::Unbound if declared_default => String::new(),
            NameNs::Unbound => self.default_ns.to_owned(),
            NameNs::Unknown(prefix) => return Err(XmlParseError::UnboundPrefix(prefix)),
        };
        if element.ns == ns::XML || element.ns == XMLNS_NS {
            // XML-NAMES §3: no element is in these reserved namespaces.
            return Err(malformed(format!(
                "element <{qname}> in a reserved namespace"
            )));
        }
        Ok(Open {
            element,
            declared_default,
        })
    }

    /// Attaches a finished element to its parent, or keeps it as the top-level one.
    fn close(&mut self, element: Element) {
        match self.stack.last_mut() {
            Some(parent) => parent.element.push_child(element),
            None => self.done = Some(element),
        }
    }

    /// Character data: a child of the open element, or white space around the top level.
    fn text(&mut self, text: &str) -> Result<(), XmlParseError> {
        match self.stack.last_mut() {
            Some(open) => {
                open.element.push_text(text);
                Ok(())
            }
            None if text
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) =>
            {
                Ok(())
            }
            None => Err(XmlParseError::TextOutsideElement),
        }
    }

    /// References and CDATA sections may only appear inside the element (XML §2.1).
    fn check_in_element(&self) -> Result<(), XmlParseError> {
        if self.stack.is_empty() {
            Err(XmlParseError::TextOutsideElement)
        } else {
            Ok(())
        }
    }

    /// The input ended.
    fn finish(self) -> Result<Element, XmlParseError> {
        if !self.stack.is_empty() {
            return Err(malformed("the input ends inside an element"));
        }
        self.done.ok_or(XmlParseError::NoElement)
    }
}

/// What an element name resolved to, owned so that the resolver can be used again.
enum NameNs {
    /// Bound to this namespace (by a prefix or a non-empty default declaration).
    Bound(String),
    /// Unprefixed, with no default namespace declared or an empty one.
    Unbound,
    /// A prefix no declaration binds.
    Unknown(String),
}

impl From<ResolveResult<'_>> for NameNs {
    fn from(r: ResolveResult<'_>) -> Self {
        match r {
            ResolveResult::Bound(ns) => NameNs::Bound(ns.into_inner().to_owned()),
            ResolveResult::Unbound => NameNs::Unbound,
            ResolveResult::Unknown(prefix) => NameNs::Unknown(prefix),
        }
    }
}

/// The unescaped, normalized value of an attribute (XML §3.3.3).
fn attribute_value(attr: &Attribute<'_>) -> Result<String, XmlParseError> {
    if attr.value.contains('<') {
        // XML §3.1, WFC "No < in Attribute Values".
        return Err(malformed("'<' in an attribute value"));
    }
    let value = attr
        .normalized_value(XmlVersion::Implicit1_0)
        .map_err(|e| match e {
            quick_xml::Error::Escape(e) => escape_error(&e),
            other => malformed(format!("attribute value: {other}")),
        })?;
    if !value.chars().all(is_xml_char) {
        // A character reference to a character XML does not allow (XML §4.1, WFC "Legal
        // Character").
        return Err(malformed("character reference to a non-XML character"));
    }
    Ok(value.into_owned())
}

/// A resolved character or entity reference.
enum Resolved {
    Char(char),
    Str(&'static str),
}

/// What a reference in character data stands for: a character reference, or one of the five
/// predefined entities (XML §4.6), the only ones XMPP allows (RFC 6120 §11.1).
fn resolve_reference(reference: &BytesRef<'_>) -> Result<Resolved, XmlParseError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(Resolved::Char(c)),
            _ => Err(malformed(format!(
                "bad character reference &{};",
                &**reference
            ))),
        };
    }
    let name: &str = reference;
    match resolve_xml_entity(name) {
        Some(s) => Ok(Resolved::Str(s)),
        None if is_name(name) => Err(XmlParseError::Restricted(
            "an entity reference other than the five predefined ones",
        )),
        None => Err(malformed("malformed reference")),
    }
}

fn escape_error(e: &EscapeError) -> XmlParseError {
    match e {
        EscapeError::UnrecognizedEntity(_, name) if is_name(name) => {
            XmlParseError::Restricted("an entity reference other than the five predefined ones")
        }
        other => malformed(format!("reference: {other}")),
    }
}

fn malformed(reason: impl Into<String>) -> XmlParseError {
    XmlParseError::Malformed(reason.into())
}

#[cfg(test)]
mod tests;
