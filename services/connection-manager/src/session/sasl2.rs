//! XEP-0388 (SASL2) and XEP-0386 (Bind 2): the stream feature, and what follows a successful
//! `<authenticate/>` — the resource bound inline when the client asked, and the `<success/>`.
//! The exchange itself is [`super::sasl`]'s, in the SASL2 profile.
//!
//! A login this way takes two round trips fewer than RFC 6120's (no stream restart, no
//! separate bind), which on a login storm is two fewer reads and writes on each side.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use xmpp_core::sasl::{Mechanism, SaslFailure, SaslProfile};
use xmpp_core::{Element, Jid, ns};

use super::bind::{BindOutcome, generated_resource, register};
use super::stream::{End, Stream};
use crate::server::C2sServer;

/// XEP-0386 §3.2.1: the longest client tag kept in a resource. The XEP asks for "a short text
/// string"; a longer one is cut at a character boundary, not refused.
const MAX_TAG_BYTES: usize = 64;

/// The `<authentication xmlns='urn:xmpp:sasl:2'/>` feature (XEP-0388 §2.1), with Bind 2
/// offered inline (XEP-0386 §3.1). `mechanisms` are those offered on this stream; SASL2 is
/// offered only after TLS (XEP-0388 §3) and only with at least one mechanism (§2.1).
pub(crate) fn feature(stream: &Stream, mechanisms: &[Mechanism]) -> Option<Element> {
    if !stream.tls || mechanisms.is_empty() {
        return None;
    }
    let mut authentication = Element::new("authentication", ns::SASL2);
    for m in mechanisms {
        authentication.push_child(Element::new("mechanism", ns::SASL2).with_text(m.as_str()));
    }
    // No session features are offered inside Bind 2's own <inline/>: Starling has none of
    // the ones it names (carbons, CSI, stream management) yet, so the element is left out.
    authentication
        .push_child(Element::new("inline", ns::SASL2).with_child(Element::new("bind", ns::BIND2)));
    Some(authentication)
}

/// What a successful SASL2 authentication led to.
#[derive(Debug)]
pub(crate) enum Completed {
    /// Authenticated and bound inline (XEP-0386 §3.2); the `<success/>` is queued.
    Bound(BindOutcome),
    /// Authenticated; the client binds next, on the same stream (XEP-0388 §2.6.1); the
    /// `<success/>` is queued.
    Authenticated,
    /// Binding failed after authentication; a `<failure/>` was sent and the client may retry.
    Failed,
}

/// Completes `request` (the client's `<authenticate/>`) after its exchange authenticated
/// `jid`: binds a resource if the request carries Bind 2's `<bind/>`, and queues the
/// `<success/>` for the caller to send with the stream features that must follow it.
pub(crate) async fn complete(
    server: &Arc<C2sServer>,
    stream: &mut Stream,
    request: &Element,
    jid: Jid,
    additional: Option<Vec<u8>>,
) -> Result<Completed, End> {
    let Some(bind) = request.get_child("bind", ns::BIND2) else {
        stream.queue(&success(&jid, additional, false))?;
        return Ok(Completed::Authenticated);
    };
    let resource = resource_for(&jid, bind);
    match register(server, &jid, &resource).await {
        Ok(outcome) => {
            stream.queue(&success(outcome.handle.jid(), additional, true))?;
            tracing::info!(jid = %outcome.handle.jid(), "resource bound inline (Bind 2)");
            Ok(Completed::Bound(outcome))
        }
        Err(refused) => {
            // The XEPs leave a failed inline bind open; it is reported as a temporary
            // failure of the authentication, which the client may retry (as a failed
            // RFC 6120 bind may be, §7.7.3).
            tracing::warn!(%jid, ?refused, "inline bind failed");
            let failure = SaslProfile::Sasl2
                .failure(SaslFailure::TemporaryAuthFailure)
                .with_child(
                    Element::new("text", ns::SASL2).with_text("the session could not be bound"),
                );
            stream.send(&failure).await?;
            Ok(Completed::Failed)
        }
    }
}

/// XEP-0386 §3.2.1: `[client tag]/[server generated identifier]`, or the generated part alone
/// when there is no tag or it would not make a valid resourcepart.
fn resource_for(account: &Jid, bind: &Element) -> String {
    let tag = bind
        .get_child("tag", ns::BIND2)
        .map(|t| {
            let tag = t.text();
            let tag = tag.trim();
            tag[..tag.floor_char_boundary(MAX_TAG_BYTES)].to_owned()
        })
        .filter(|t| !t.is_empty());
    if let Some(tag) = tag {
        let resource = generated_resource(Some(&tag));
        if account.with_resource(&resource).is_ok() {
            return resource;
        }
    }
    generated_resource(None)
}

/// The `<success/>` of XEP-0388 §2.6.1: the mechanism's additional data, the authorized
/// identity (the full JID once bound), and Bind 2's `<bound/>` (XEP-0386 §3.2).
fn success(jid: &Jid, additional: Option<Vec<u8>>, bound: bool) -> Element {
    let mut success = Element::new("success", ns::SASL2);
    if let Some(data) = additional {
        success
            .push_child(Element::new("additional-data", ns::SASL2).with_text(BASE64.encode(data)));
    }
    success
        .push_child(Element::new("authorization-identifier", ns::SASL2).with_text(jid.to_string()));
    if bound {
        success.push_child(Element::new("bound", ns::BIND2));
    }
    success
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind_with_tag(tag: &str) -> Element {
        Element::new("bind", ns::BIND2).with_child(Element::new("tag", ns::BIND2).with_text(tag))
    }

    #[test]
    fn resource_is_the_tag_then_a_generated_part_xep_0386_3_2_1() {
        let account = Jid::new("juliet@localhost").unwrap();
        let r = resource_for(&account, &bind_with_tag(" AwesomeXMPP "));
        let (tag, generated) = r.split_once('/').unwrap();
        assert_eq!(tag, "AwesomeXMPP");
        assert_eq!(generated.len(), 24);
        // Without a tag only the generated part; two bindings never share one.
        let plain = resource_for(&account, &Element::new("bind", ns::BIND2));
        assert!(!plain.contains('/'));
        assert_ne!(
            plain,
            resource_for(&account, &Element::new("bind", ns::BIND2))
        );
    }

    #[test]
    fn a_long_tag_is_cut_and_an_invalid_one_dropped() {
        let account = Jid::new("juliet@localhost").unwrap();
        let long = "é".repeat(100);
        let r = resource_for(&account, &bind_with_tag(&long));
        assert_eq!(r.split_once('/').unwrap().0, "é".repeat(32));
        // U+0007 is not allowed in an OpaqueString resourcepart (RFC 8265 §4.2).
        let r = resource_for(&account, &bind_with_tag("bell\u{7}"));
        assert!(!r.contains('/'), "{r}");
    }

    #[test]
    fn success_carries_data_identity_and_bound_xep_0388_2_6_1() {
        let jid = Jid::new("juliet@localhost/AwesomeXMPP/x").unwrap();
        let e = success(&jid, Some(b"v=abc".to_vec()), true);
        assert_eq!(
            e.to_string(),
            "<success xmlns='urn:xmpp:sasl:2'><additional-data>dj1hYmM=</additional-data>\
             <authorization-identifier>juliet@localhost/AwesomeXMPP/x</authorization-identifier>\
             <bound xmlns='urn:xmpp:bind:0'/></success>"
        );
        let bare = Jid::new("juliet@localhost").unwrap();
        assert_eq!(
            success(&bare, None, false).to_string(),
            "<success xmlns='urn:xmpp:sasl:2'>\
             <authorization-identifier>juliet@localhost</authorization-identifier></success>"
        );
    }
}
