//! Everything before the first stanza: the encoding sniff, the XML declaration and the
//! stream header (RFC 6120 §4.7, §4.8, §11.5, §11.6).

use quick_xml::events::BytesDecl;
use quick_xml::name::{NamespaceResolver, ResolveResult};
use tokio::io::AsyncRead;
use xmpp_core::{Element, StreamError, ns};

use super::ReadError;
use crate::StreamHeader;
use crate::error::{invalid_namespace, not_well_formed, unsupported_encoding};
use crate::source::BoundedSource;

/// Looks at the first bytes of a (re)started stream for signs of an encoding other than
/// UTF-8, which RFC 6120 §11.6 asks to answer with `<unsupported-encoding/>` rather than the
/// `<not-well-formed/>` the parser would otherwise produce.
pub(super) async fn sniff<R: AsyncRead + Unpin>(
    source: &mut BoundedSource<R>,
) -> Result<(), ReadError> {
    match source.peek_at_least(3).await? {
        [] => Err(ReadError::Eof),
        // UTF-16 and UCS-4 byte order marks, or a NUL byte where `<` or its second byte
        // would be in UTF-16/UCS-4 without one: never valid UTF-8 XML.
        [0x00 | 0xFE | 0xFF, ..] | [b'<', 0x00, ..] => {
            Err(unsupported_encoding("XMPP streams are encoded in UTF-8 (RFC 6120 §11.6)").into())
        }
        // §11.6: U+FEFF is a zero width no-break space, never a byte order mark, so here it
        // is a character before the XML declaration or root element: not well-formed.
        [0xEF, 0xBB, 0xBF, ..] => Err(not_well_formed(
            "U+FEFF before the stream header (RFC 6120 §11.6: it is not a byte order mark)",
        )
        .into()),
        _ => Ok(()),
    }
}

/// Checks the XML declaration (RFC 6120 §11.5): XML 1.x (§11.8), and UTF-8 if an encoding is
/// declared (§11.6). A standalone declaration is ignored, which §11.5 allows.
pub(super) fn check_declaration(decl: &BytesDecl<'_>) -> Result<(), StreamError> {
    let version = decl
        .version()
        .map_err(|_| not_well_formed("XML declaration without a version"))?;
    // XML 1.0 (5th edition) §2.8: a 1.0 processor may treat any 1.x document as 1.0.
    if !version.starts_with("1.") {
        return Err(not_well_formed(format!(
            "XML version {version} (RFC 6120 §11.8)"
        )));
    }
    if let Some(encoding) = decl.encoding() {
        let encoding = encoding.map_err(|e| not_well_formed(format!("XML declaration: {e}")))?;
        if !encoding.eq_ignore_ascii_case("UTF-8") {
            return Err(unsupported_encoding(format!(
                "encoding {encoding}: XMPP streams are encoded in UTF-8 (RFC 6120 §11.6)"
            )));
        }
    }
    Ok(())
}

/// The stream header from its element (built like any other, so names and attributes are
/// checked the same way) and the namespace bindings in scope on it.
///
/// RFC 6120 §4.8.1: the element is `stream` in the stream namespace, with any prefix (§4.8.5
/// lets us accept only `stream:`, but accepting any bound prefix costs nothing; an unbound
/// one is rejected by the caller with `<bad-namespace-prefix/>`, §4.9.3.2). §4.8.2 and
/// §4.9.3.10: the default namespace must be `jabber:client` or `jabber:server`. Streams in
/// the "prefix-free canonicalization" style of §4.8.2 have no content namespace and are
/// refused with `<invalid-namespace/>`; no known implementation sends them.
pub(super) fn stream_header(
    element: &Element,
    resolver: &NamespaceResolver,
) -> Result<StreamHeader, StreamError> {
    if !element.is("stream", ns::STREAM) {
        return Err(invalid_namespace(format!(
            "the stream header must be <stream/> in {}, not <{}/> in '{}'",
            ns::STREAM,
            element.name(),
            element.ns()
        )));
    }
    let content_ns = match resolver.resolve_prefix(None, true) {
        ResolveResult::Bound(content)
            if content.as_ref() == ns::JABBER_CLIENT || content.as_ref() == ns::JABBER_SERVER =>
        {
            content.into_inner().to_owned()
        }
        ResolveResult::Bound(other) => {
            return Err(invalid_namespace(format!(
                "unsupported content namespace '{}'",
                other.as_ref()
            )));
        }
        _ => {
            return Err(invalid_namespace(
                "the stream header declares no content namespace",
            ));
        }
    };
    let attr = |name: &str| element.attr(name).map(str::to_owned);
    Ok(StreamHeader {
        to: attr("to"),
        from: attr("from"),
        id: attr("id"),
        version: attr("version"),
        lang: attr("xml:lang"),
        content_ns,
    })
}
