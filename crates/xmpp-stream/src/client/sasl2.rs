//! The client side of XEP-0388 (SASL2) with XEP-0386 (Bind 2): authenticate and bind in one
//! exchange, without a stream restart.

use xmpp_core::sasl::{Mechanism, SaslProfile};
use xmpp_core::{Element, Jid, ns};

use super::{ClientError, ClientStream};

/// What a successful SASL2 authentication said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sasl2Success {
    /// The `<authorization-identifier/>`: the bare JID, or the full one when bound inline.
    pub jid: Jid,
    /// Whether the success carried Bind 2's `<bound/>`.
    pub bound: bool,
}

impl ClientStream {
    /// Mechanisms offered in SASL2's `<authentication/>` feature (XEP-0388 §2.1).
    pub fn sasl2_mechanisms(&self) -> Vec<String> {
        self.offered(SaslProfile::Sasl2)
    }

    /// Whether the server offers SASL2 with Bind 2 inline (XEP-0386 §3.1).
    pub fn offers_bind2(&self) -> bool {
        self.features
            .get_child("authentication", ns::SASL2)
            .and_then(|a| a.get_child("inline", ns::SASL2))
            .is_some_and(|i| i.get_child("bind", ns::BIND2).is_some())
    }

    /// Authenticates with SASL2 (XEP-0388 §2.3–§2.6) and, with `bind`, binds a resource
    /// inline (XEP-0386 §3.2; `Some(tag)` asks for one, an empty tag sends none). Reads the
    /// stream features that follow the success: the stream is not restarted.
    pub async fn authenticate_sasl2(
        &mut self,
        mechanism: Mechanism,
        username: &str,
        password: &str,
        bind: Option<&str>,
    ) -> Result<Sasl2Success, ClientError> {
        let mut authenticate = Element::new("authenticate", ns::SASL2)
            .with_attr("mechanism", mechanism.as_str())
            .with_child(
                Element::new("user-agent", ns::SASL2)
                    .with_child(Element::new("software", ns::SASL2).with_text("xmpp-stream")),
            );
        if let Some(tag) = bind {
            let mut request = Element::new("bind", ns::BIND2);
            if !tag.is_empty() {
                request.push_child(Element::new("tag", ns::BIND2).with_text(tag));
            }
            authenticate.push_child(request);
        }
        let success = self
            .sasl_exchange(
                SaslProfile::Sasl2,
                authenticate,
                mechanism,
                username,
                password,
            )
            .await?;
        let jid = success
            .get_child("authorization-identifier", ns::SASL2)
            .map(Element::text)
            .ok_or_else(|| ClientError::Protocol(format!("no identity in {success}")))?;
        let jid = Jid::new(jid.trim())
            .map_err(|e| ClientError::Protocol(format!("authorization identifier: {e}")))?;
        let bound = success.get_child("bound", ns::BIND2).is_some();
        if bind.is_some() && (!bound || jid.resource().is_none()) {
            return Err(ClientError::Protocol(format!(
                "asked for Bind 2, got {success}"
            )));
        }
        // XEP-0388 §2.6.1: features follow the success, with no restart.
        self.read_features().await?;
        Ok(Sasl2Success { jid, bound })
    }
}
