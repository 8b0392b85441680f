//! Turning parser events into [`Element`]s: names, namespaces, attributes, text.
//!
//! Element names are stored resolved, so namespace declarations are dropped: prefixes belong
//! to one serialization, and a stanza routed to another stream must have its namespaces
//! declared again there (RFC 6120 §4.8.5), which `Element::write_to` does. One exception:
//! `Element` attributes carry no namespace, so an extension attribute (§8.4) keeps its
//! prefix as written and its element gets an `xmlns:prefix` attribute with the binding;
//! without it the attribute could not be serialized again namespace-well-formed (§11.3). The
//! always-bound `xml:` prefix needs no binding.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::escape::EscapeError;
use quick_xml::events::BytesStart;
use quick_xml::events::attributes::Attribute;
use quick_xml::name::{NamespaceResolver, ResolveResult};
use xmpp_core::element::syntax::{self, is_name, is_xml_char};
use xmpp_core::{Element, Node, StreamError};

use crate::ReaderLimits;
use crate::error::{not_well_formed, policy_violation, restricted_xml};

/// XML-NAMES §3: the namespace bound to the `xml` prefix.
const XML_NS: &str = xmpp_core::ns::XML;
/// XML-NAMES §3: the namespace bound to the `xmlns` prefix.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// The namespace an element name resolved to, owned so the resolver can be used again.
pub(super) enum ElementNs {
    /// Bound to this namespace name (`""` when in no namespace).
    Bound(String),
    /// The prefix is not bound (a namespace-well-formedness error, XML-NAMES §5.1).
    UnboundPrefix(String),
}

impl ElementNs {
    pub(super) fn from_resolved(r: ResolveResult<'_>) -> Self {
        match r {
            ResolveResult::Bound(ns) => ElementNs::Bound(ns.into_inner().to_owned()),
            ResolveResult::Unbound => ElementNs::Bound(String::new()),
            ResolveResult::Unknown(prefix) => ElementNs::UnboundPrefix(prefix),
        }
    }
}

/// The element for a start (or empty-element) tag, with its attributes and no children.
pub(super) fn open_element(
    ns: String,
    start: &BytesStart<'_>,
    resolver: &NamespaceResolver,
    limits: &ReaderLimits,
) -> Result<Element, StreamError> {
    let qname = start.name();
    let qname = qname.as_ref();
    check_qname(qname)?;
    if ns == XML_NS || ns == XMLNS_NS {
        // XML-NAMES §3: these namespaces are reserved; no element is in them (the xml
        // namespace may not even be the default one).
        return Err(not_well_formed(format!(
            "element <{qname}> in a reserved namespace"
        )));
    }
    check_attribute_separation(start.attributes_raw())?;
    let mut element = Element::new(start.local_name().into_inner(), ns);
    // Prefixed attributes (other than xml:) as (prefix, namespace, local name): their
    // bindings travel with the element, and their expanded names must be unique.
    let mut prefixed: Vec<(&str, &str, &str)> = Vec::new();
    let mut count = 0;
    for attr in start.attributes() {
        let attr = attr.map_err(|e| not_well_formed(format!("attribute syntax: {e}")))?;
        count += 1;
        if count > limits.max_attributes {
            return Err(policy_violation(format!(
                "more than {} attributes on one element",
                limits.max_attributes
            )));
        }
        let key = attr.key.into_inner();
        check_qname(key)?;
        if key == "xmlns" || key.as_bytes().starts_with(b"xmlns:") {
            continue;
        }
        let value = attribute_value(&attr)?;
        if let Some(colon) = find_byte(key, b':')
            && &key[..colon] != "xml"
        {
            let (prefix, local) = (&key[..colon], &key[colon + 1..]);
            let ResolveResult::Bound(ns) = resolver.resolve_attribute(attr.key).0 else {
                return Err(not_well_formed(format!(
                    "attribute {key} uses an unbound namespace prefix"
                )));
            };
            let ns = ns.into_inner();
            if prefixed.iter().any(|&(_, n, l)| n == ns && l == local) {
                // XML-NAMES §6.3: no two attributes with the same expanded name.
                return Err(not_well_formed(format!(
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
    Ok(element)
}

/// XML §3.1 requires white space between attributes (`a='1'b='2'` is not well-formed); the
/// parser's attribute iterator does not check it.
fn check_attribute_separation(raw: &str) -> Result<(), StreamError> {
    if syntax::attributes_separated(raw) {
        Ok(())
    } else {
        Err(not_well_formed("attributes not separated by white space"))
    }
}

/// The unescaped, normalized value of an attribute (XML §3.3.3).
fn attribute_value(attr: &Attribute<'_>) -> Result<String, StreamError> {
    if find_byte(&attr.value, b'<').is_some() {
        // XML §3.1, WFC "No < in Attribute Values".
        return Err(not_well_formed("'<' in an attribute value"));
    }
    let value = attr
        .normalized_value(XmlVersion::Implicit1_0)
        .map_err(|e| match e {
            quick_xml::Error::Escape(e) => escape_error(&e),
            other => not_well_formed(format!("attribute value: {other}")),
        })?;
    if let Cow::Owned(decoded) = &value
        && !decoded.chars().all(is_xml_char)
    {
        // A character reference to a character XML does not allow (XML §4.1, WFC "Legal
        // Character"); literal ones are caught when the bytes are read.
        return Err(not_well_formed(
            "character reference to a non-XML character",
        ));
    }
    Ok(value.into_owned())
}

pub(super) fn escape_error(e: &EscapeError) -> StreamError {
    match e {
        EscapeError::UnrecognizedEntity(_, name) if is_name(name) => {
            restricted_xml(format!("entity reference &{name}; (RFC 6120 §11.1)"))
        }
        other => not_well_formed(format!("reference: {other}")),
    }
}

/// What a general reference in character data stands for.
pub(super) fn resolve_reference(name: &str) -> Result<ResolvedRef, StreamError> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix('x') {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()
            }
            None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                number.parse().ok()
            }
            _ => None,
        };
        return match code.and_then(char::from_u32).filter(|c| is_xml_char(*c)) {
            Some(c) => Ok(ResolvedRef::Char(c)),
            None => Err(not_well_formed(format!("bad character reference &{name};"))),
        };
    }
    // XML §4.6: the five predefined entities are the only ones an XMPP stream may use
    // (RFC 6120 §11.1).
    match name {
        "lt" => Ok(ResolvedRef::Str("<")),
        "gt" => Ok(ResolvedRef::Str(">")),
        "amp" => Ok(ResolvedRef::Str("&")),
        "apos" => Ok(ResolvedRef::Str("'")),
        "quot" => Ok(ResolvedRef::Str("\"")),
        _ if is_name(name) => Err(restricted_xml(format!(
            "entity reference &{name}; (RFC 6120 §11.1)"
        ))),
        _ => Err(not_well_formed("malformed reference")),
    }
}

/// A resolved character or entity reference.
pub(super) enum ResolvedRef {
    Char(char),
    Str(&'static str),
}

/// Appends character data to `e`, merging with a preceding text node without allocating a
/// new string for it.
pub(super) fn append_text(e: &mut Element, s: &str) {
    if s.is_empty() {
        return;
    }
    let nodes = e.nodes_mut();
    if let Some(Node::Text(t)) = nodes.last_mut() {
        t.push_str(s);
    } else {
        nodes.push(Node::Text(s.to_owned()));
    }
}

/// Checks character data for the one constraint the parser does not: `]]>` may not appear
/// literally (XML §2.4).
pub(super) fn check_char_data(s: &str) -> Result<(), StreamError> {
    // `>` is rare in text, so look for it first.
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'>') {
        let at = from + i;
        if at >= 2 && &bytes[at - 2..at] == b"]]" {
            return Err(not_well_formed("']]>' in character data"));
        }
        from = at + 1;
    }
    Ok(())
}

/// The first `b` in `s`. Names and attribute values are short: a plain scan beats setting up
/// a vectorized search.
fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.as_bytes().iter().position(|&x| x == b)
}

/// A qualified name (XML-NAMES §4): one NCName, or two joined by a colon.
fn check_qname(name: &str) -> Result<(), StreamError> {
    if syntax::is_qname(name) {
        Ok(())
    } else {
        Err(not_well_formed(format!(
            "'{name}' is not a qualified XML name"
        )))
    }
}
