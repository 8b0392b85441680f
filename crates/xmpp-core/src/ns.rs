//! Every XML namespace Starling speaks, in one place.
//!
//! Keeping them together means a grep for a namespace finds its one definition, and a typo in a
//! namespace (which silently breaks interoperability) can only be made once.

/// RFC 6120 §4.8.1: the stream namespace (conventionally prefixed `stream:`).
pub const STREAM: &str = "http://etherx.jabber.org/streams";
/// RFC 6120 §4.8.2: the content namespace of client-to-server streams.
pub const JABBER_CLIENT: &str = "jabber:client";
/// RFC 6120 §4.8.2: the content namespace of server-to-server streams.
pub const JABBER_SERVER: &str = "jabber:server";
/// RFC 6120 §4.9.3: stream error conditions.
pub const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// RFC 6120 §8.3.3: stanza error conditions.
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// RFC 6120 §5: STARTTLS negotiation.
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// RFC 6120 §6: SASL negotiation.
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// RFC 6120 §7: resource binding.
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// RFC 3921 §3 / draft-cridland-xmpp-session: the legacy session feature old clients still ask for.
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
/// The `xml:` prefix, bound by definition (Namespaces in XML §3).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// XEP-0030: service discovery, information.
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// XEP-0030: service discovery, items.
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// XEP-0199: XMPP ping.
pub const PING: &str = "urn:xmpp:ping";
/// RFC 6121 §2: roster management.
pub const ROSTER: &str = "jabber:iq:roster";
/// RFC 6121 §2.6.1: the roster versioning stream feature.
pub const ROSTER_VER_FEATURE: &str = "urn:xmpp:features:rosterver";
/// RFC 6121 §3.4: the subscription pre-approval stream feature.
pub const PRE_APPROVAL: &str = "urn:xmpp:features:pre-approval";
/// XEP-0203: delayed delivery.
pub const DELAY: &str = "urn:xmpp:delay";
/// XEP-0440: SASL channel-binding type capability.
pub const SASL_CB: &str = "urn:xmpp:sasl-cb:0";
/// XEP-0388: the extensible SASL profile (SASL2).
pub const SASL2: &str = "urn:xmpp:sasl:2";
/// XEP-0386: resource binding inline in SASL2 (Bind 2).
pub const BIND2: &str = "urn:xmpp:bind:0";
