//! A logged-in client of a library we did not write (tokio-xmpp), for the RFC 6121 tests:
//! send literal XML, wait for the stanza that must come, and check that nothing else does.

use std::time::Duration;

use futures::StreamExt;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Client, Event, Stanza};

use super::{DOMAIN, PASSWORD, TestServer};

/// How long a stanza that must arrive may take.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long to listen before concluding that a stanza that must not arrive did not.
pub const QUIET: Duration = Duration::from_millis(300);

/// One logged-in resource.
pub struct Peer {
    client: Client,
    /// The bound full JID.
    pub jid: String,
}

impl Peer {
    /// Logs `user` in over STARTTLS with SCRAM and waits until it is bound.
    pub async fn login(server: &TestServer, user: &str) -> Peer {
        let bare = BareJid::new(&format!("{user}@{DOMAIN}")).unwrap();
        let mut client = Client::new_starttls(
            bare,
            PASSWORD,
            DnsConfig::addr(&server.addr.to_string()),
            Timeouts::default(),
        );
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, client.next())
                .await
                .expect("timed out waiting to come online")
                .expect("client stream ended");
            match event {
                Event::Online { bound_jid, .. } => {
                    return Peer {
                        client,
                        jid: bound_jid.to_string(),
                    };
                }
                Event::Disconnected(e) => panic!("disconnected before online: {e}"),
                Event::Stanza(_) => {}
            }
        }
    }

    /// The bound resource's bare JID.
    pub fn bare(&self) -> String {
        self.jid.split('/').next().unwrap().to_owned()
    }

    /// Sends one stanza written as XML; `xmlns='jabber:client'` is added.
    pub async fn send(&mut self, xml: &str) {
        let name_end = xml.find([' ', '/', '>']).expect("an element");
        let xml = format!(
            "{} xmlns='jabber:client'{}",
            &xml[..name_end],
            &xml[name_end..]
        );
        let element: Element = xml.parse().unwrap_or_else(|e| panic!("{xml}: {e}"));
        let stanza = match element.name() {
            "message" => Stanza::Message(Message::try_from(element).unwrap()),
            "presence" => Stanza::Presence(Presence::try_from(element).unwrap()),
            "iq" => Stanza::Iq(Iq::try_from(element).unwrap()),
            other => panic!("not a stanza: {other}"),
        };
        self.client.send_stanza(stanza).await.unwrap();
    }

    /// The next stanza, as an element.
    pub async fn next(&mut self) -> Option<Element> {
        loop {
            match self.client.next().await? {
                Event::Stanza(stanza) => return Some(Element::from(stanza)),
                Event::Disconnected(_) => return None,
                Event::Online { .. } => {}
            }
        }
    }

    /// Waits for the first stanza that `matches`, failing after [`WAIT`]. Stanzas before it
    /// are returned too, so a test can check that none of them was a stanza it forbids.
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&Element) -> bool) -> Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.next()).await {
                Ok(Some(e)) if matches(&e) => return e,
                Ok(Some(e)) => seen.push(String::from(&e)),
                Ok(None) => panic!(
                    "{}: stream ended waiting for {what}; saw {seen:#?}",
                    self.jid
                ),
                Err(_) => panic!("{}: no {what} within {WAIT:?}; saw {seen:#?}", self.jid),
            }
        }
    }

    /// Asserts that no stanza that `matches` arrives within [`QUIET`].
    pub async fn expect_none(&mut self, what: &str, matches: impl Fn(&Element) -> bool) {
        let deadline = tokio::time::Instant::now() + QUIET;
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.next()).await {
            assert!(
                !matches(&e),
                "{}: unexpected {what}: {}",
                self.jid,
                String::from(&e)
            );
        }
    }

    /// Reads and discards whatever arrives within [`QUIET`].
    pub async fn drain(&mut self) {
        self.expect_none("anything", |_| false).await;
    }

    /// Sends `<iq type='get'><query xmlns='jabber:iq:roster'/></iq>` and returns the result,
    /// which makes this resource an interested resource (RFC 6121 §2.1.6).
    pub async fn roster(&mut self) -> Element {
        self.send("<iq type='get' id='roster-get'><query xmlns='jabber:iq:roster'/></iq>")
            .await;
        self.expect("roster result", |e| {
            e.name() == "iq" && e.attr("id") == Some("roster-get")
        })
        .await
    }

    /// Closes the stream cleanly (`</stream:stream>`).
    pub async fn logout(self) {
        self.client.send_end().await.unwrap();
    }
}

/// A stanza of element name `name`, `type` attribute `kind` (`None`: absent) and, when given,
/// `id`.
pub fn is(e: &Element, name: &str, kind: Option<&str>, id: Option<&str>) -> bool {
    e.name() == name && e.attr("type") == kind && id.is_none_or(|id| e.attr("id") == Some(id))
}

/// `<presence/>` of type `kind` from `from` (exact JID string).
pub fn presence(e: &Element, from: &str, kind: Option<&str>) -> bool {
    is(e, "presence", kind, None) && e.attr("from") == Some(from)
}

/// A roster push (RFC 6121 §2.1.6) whose item is for `jid`.
pub fn push_for(e: &Element, jid: &str) -> bool {
    is(e, "iq", Some("set"), None) && item(e).is_some_and(|i| i.attr("jid") == Some(jid))
}

/// The `<item/>` of a roster result or push.
pub fn item(e: &Element) -> Option<&Element> {
    e.get_child("query", "jabber:iq:roster")?
        .get_child("item", "jabber:iq:roster")
}

/// The defined condition of a stanza error.
pub fn error_condition(e: &Element) -> Option<String> {
    e.get_child("error", "jabber:client")?
        .children()
        .find(|c| c.ns() == "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name() != "text")
        .map(|c| c.name().to_owned())
}
