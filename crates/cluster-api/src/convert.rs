//! Conversions between the messages of [`v1`] and `xmpp-core` types, in one place
//! next to the generated code, so that the rest of Starling works with protocol types and
//! meets prost types only at the gRPC and bus edges.
//!
//! Stanzas cross as XML: written with `jabber:client` as the implied default namespace, so the
//! top element carries no `xmlns` of its own (`Envelope.xml` in `router.proto`) and the bytes
//! can be written to a client stream as they are. A stanza in another namespace (such as
//! `jabber:server`) keeps its `xmlns` and so comes back unchanged.

use bytes::Bytes;
use xmpp_core::{Addressable, Element, Jid, Stanza, XmlParseError, ns};

use crate::v1;

/// Why a message of [`v1`] does not convert to an `xmpp-core` type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// `STANZA_KIND_UNSPECIFIED`, or a value this version does not know.
    #[error("the stanza kind is unspecified")]
    UnspecifiedKind,
    /// The stanza XML is not UTF-8.
    #[error("the stanza XML is not UTF-8")]
    NotUtf8,
    /// The stanza XML is not exactly one element.
    #[error("the stanza XML does not parse: {0}")]
    Xml(XmlParseError),
    /// The XML is an element, but not a message, presence or IQ.
    #[error("<{name}/> in namespace '{ns}' is not a stanza")]
    NotAStanza {
        /// The element's local name.
        name: String,
        /// The element's namespace.
        ns: String,
    },
    /// The envelope's kind disagrees with the element in its XML.
    #[error("the envelope says {envelope:?} but its XML is a {xml:?}")]
    KindMismatch {
        /// The kind in the envelope.
        envelope: v1::StanzaKind,
        /// The kind of the XML.
        xml: xmpp_core::StanzaKind,
    },
}

impl From<xmpp_core::StanzaKind> for v1::StanzaKind {
    fn from(kind: xmpp_core::StanzaKind) -> Self {
        match kind {
            xmpp_core::StanzaKind::Message => v1::StanzaKind::Message,
            xmpp_core::StanzaKind::Presence => v1::StanzaKind::Presence,
            xmpp_core::StanzaKind::Iq => v1::StanzaKind::Iq,
        }
    }
}

impl TryFrom<v1::StanzaKind> for xmpp_core::StanzaKind {
    type Error = ConvertError;

    fn try_from(kind: v1::StanzaKind) -> Result<Self, ConvertError> {
        match kind {
            v1::StanzaKind::Message => Ok(xmpp_core::StanzaKind::Message),
            v1::StanzaKind::Presence => Ok(xmpp_core::StanzaKind::Presence),
            v1::StanzaKind::Iq => Ok(xmpp_core::StanzaKind::Iq),
            v1::StanzaKind::Unspecified => Err(ConvertError::UnspecifiedKind),
        }
    }
}

/// The envelope of `stanza`, sent by `origin` (`None` for stanzas the server generated).
///
/// The routing fields are copied from the stanza's attributes as they are (empty when
/// absent), so a shard routes without parsing the XML.
pub fn envelope(stanza: &Stanza, origin: Option<v1::SessionAddress>) -> v1::Envelope {
    let attr = |value: Option<&str>| value.unwrap_or_default().to_owned();
    v1::Envelope {
        from: attr(stanza.from()),
        to: attr(stanza.to()),
        kind: v1::StanzaKind::from(stanza.kind()).into(),
        r#type: attr(stanza.stanza_type()),
        id: attr(stanza.id()),
        origin,
        xml: serialize(stanza.element()),
    }
}

/// The stanza in `envelope`'s XML.
///
/// Fails when the XML is not one stanza (in `jabber:client` unless it declares another
/// namespace), or is not of the envelope's kind: a shard acts on the envelope's fields and
/// forwards the XML, so the two must describe the same stanza.
pub fn stanza_of(envelope: &v1::Envelope) -> Result<Stanza, ConvertError> {
    of_kind(envelope, stanza_of_xml(&envelope.xml)?)
}

/// The stanza `xml` holds, serialized as [`serialize`] writes it.
pub fn stanza_of_xml(xml: &[u8]) -> Result<Stanza, ConvertError> {
    let xml = std::str::from_utf8(xml).map_err(|_| ConvertError::NotUtf8)?;
    let element = Element::from_xml(xml, ns::JABBER_CLIENT).map_err(ConvertError::Xml)?;
    Stanza::from_element(element).map_err(|e| ConvertError::NotAStanza {
        name: e.name().to_owned(),
        ns: e.ns().to_owned(),
    })
}

/// `stanza`, when it is of `envelope`'s kind.
fn of_kind(envelope: &v1::Envelope, stanza: Stanza) -> Result<Stanza, ConvertError> {
    let expected = envelope.kind();
    if expected != v1::StanzaKind::from(stanza.kind()) {
        return Err(ConvertError::KindMismatch {
            envelope: expected,
            xml: stanza.kind(),
        });
    }
    Ok(stanza)
}

/// The stanza a `StanzaIn` request's envelope was made from, as its caller holds it parsed.
///
/// Carried in the request's extensions, which tonic keeps only within a process: a call to a
/// shard in the caller's process ([`crate::ShardClient::InPlace`], or the generated server
/// called in place) hands the shard the parsed stanza, and the shard skips parsing the
/// envelope's XML again (7.9% of `starling dev`'s CPU in one-to-one messages at 25,000/s);
/// over gRPC the extension is left behind and the shard parses the XML, the contract.
#[derive(Clone, Debug)]
struct AttachedStanza(Stanza);

/// Attaches `stanza` to `request`, whose envelope was made from it ([`envelope`]).
pub fn attach_stanza(request: &mut tonic::Request<v1::StanzaInRequest>, stanza: Stanza) {
    request.extensions_mut().insert(AttachedStanza(stanza));
}

/// The stanza of a `StanzaIn` request's `envelope`: the one its caller attached
/// ([`attach_stanza`], taken out of `extensions`) when the call came from this process,
/// else the one in the envelope's XML ([`stanza_of`]). Either way it must be of the
/// envelope's kind.
pub fn stanza_in(
    extensions: &mut tonic::Extensions,
    envelope: &v1::Envelope,
) -> Result<Stanza, ConvertError> {
    match extensions.remove::<AttachedStanza>() {
        Some(AttachedStanza(stanza)) => of_kind(envelope, stanza),
        None => stanza_of(envelope),
    }
}

/// A delivery of `xml` to the sessions `jids` (full JIDs) of `user`.
pub fn delivery_to_resources(
    user: &Jid,
    jids: impl IntoIterator<Item = Jid>,
    xml: Bytes,
) -> v1::Delivery {
    let jids = jids.into_iter().map(|j| j.as_str().to_owned()).collect();
    v1::Delivery {
        user: bare_string(user),
        target: Some(v1::delivery::Target::Resources(v1::Resources { jids })),
        xml,
        trace_context: Default::default(),
        published_unix_micros: unix_micros_now(),
    }
}

/// A delivery of `xml` to every session of `user` that has sent available presence.
pub fn delivery_to_available(user: &Jid, xml: Bytes) -> v1::Delivery {
    v1::Delivery {
        user: bare_string(user),
        target: Some(v1::delivery::Target::Available(v1::AvailableResources {})),
        xml,
        trace_context: Default::default(),
        published_unix_micros: unix_micros_now(),
    }
}

/// The current time in microseconds since the Unix epoch, as `Delivery` carries it (0 if the
/// clock is before 1970, which only skews a latency measurement).
pub fn unix_micros_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// `element` serialized as stanzas cross between roles: `jabber:client` is the implied default
/// namespace, so an element in it carries no `xmlns` attribute.
pub fn serialize(element: &Element) -> Bytes {
    let mut out = String::new();
    element.write_to(&mut out, ns::JABBER_CLIENT);
    Bytes::from(out)
}

/// `element` serialized as [`serialize`] writes it, once for copies with different `to`
/// attributes ([`Addressable::addressed_to`]).
pub fn addressable(element: &Element) -> Addressable {
    element.addressable(ns::JABBER_CLIENT)
}

/// The bare JID of `jid` as a string: a user's bus channel.
fn bare_string(jid: &Jid) -> String {
    if jid.is_bare() {
        jid.as_str().to_owned()
    } else {
        jid.bare().as_str().to_owned()
    }
}

#[cfg(test)]
mod tests;
