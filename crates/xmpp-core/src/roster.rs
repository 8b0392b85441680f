//! RFC 6121 §2: roster items, and the `jabber:iq:roster` payloads a server reads and writes.
//!
//! Everything here works on the `<query xmlns='jabber:iq:roster'/>` element alone. Who may
//! touch a roster (§2.1.5 security warning, `<forbidden/>`), whether the item exists
//! (§2.5.3, `<item-not-found/>`), whether a user may add their own JID (the §2.3.3
//! interoperability note on `<not-allowed/>`), and whether to answer a versioned get with the
//! full roster or with pushes (§2.6.3) all need the user's session and stored roster, so they
//! belong to the service that calls these functions.

use std::collections::HashSet;

use crate::element::Element;
use crate::jid::{Jid, normalize_resourcepart};
use crate::ns;
use crate::stanza_error::{StanzaError, StanzaErrorCondition};

#[cfg(test)]
mod tests;

/// The `subscription` attribute of an `<item/>` (§2.1.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// Neither side is subscribed; the default when the attribute is absent.
    #[default]
    None,
    /// The user is subscribed to the contact's presence.
    To,
    /// The contact is subscribed to the user's presence.
    From,
    /// Both are subscribed to each other ("mutual subscription").
    Both,
    /// Not a state: in a roster set it asks for deletion (§2.5.1), in a push it announces one
    /// (§2.5.2).
    Remove,
}

impl Subscription {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
            Subscription::Remove => "remove",
        }
    }

    /// Parses the attribute value; `None` for anything §2.1.2.5 does not define.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Subscription::None,
            "to" => Subscription::To,
            "from" => Subscription::From,
            "both" => Subscription::Both,
            "remove" => Subscription::Remove,
            _ => return None,
        })
    }
}

/// One contact as the server stores it and sends it in results and pushes (§2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterItem {
    /// The contact's bare JID (§2.1.2.3); see [`parse_roster_set`] for why it is bare.
    pub jid: Jid,
    /// The user's handle for the contact (§2.1.2.4). `None` and the empty string are the same
    /// thing (§2.4.1 implementation note), so an empty name is stored as `None`.
    pub name: Option<String>,
    /// The subscription state as the roster shows it (§2.1.2.5).
    pub subscription: Subscription,
    /// `ask='subscribe'`: a "Pending Out" sub-state (§2.1.2.2, Appendix A.1).
    pub ask: bool,
    /// `approved='true'`: the user pre-approved the contact's subscription request
    /// (§2.1.2.1, §3.4).
    pub approved: bool,
    /// Group names as the client sent them (§2.1.2.6); opaque to the server, kept unmodified
    /// (§2: "store that data unmodified").
    pub groups: Vec<String>,
}

impl RosterItem {
    /// A new item with no name, no groups and subscription "none".
    pub fn new(jid: Jid) -> Self {
        Self {
            jid,
            name: None,
            subscription: Subscription::None,
            ask: false,
            approved: false,
            groups: Vec::new(),
        }
    }

    /// The item a push announcing the deletion of `jid` carries (§2.5.2, §2.6.3 example
    /// "ver34").
    pub fn removed(jid: Jid) -> Self {
        Self {
            subscription: Subscription::Remove,
            ..Self::new(jid)
        }
    }

    /// The `<item/>` element, as in the examples of §2.2 and §2.3.2.
    ///
    /// The `subscription` attribute is always written, "none" included, as every server-sent
    /// example of §2 and §3 does; `ask` and `approved` only when set (§2.1.2.1 and §2.1.2.2
    /// say the server SHOULD include them to report those sub-states, and their absence means
    /// the default). A removal carries only `jid` and `subscription='remove'`: the item no
    /// longer exists, so there is nothing else to describe (§2.6.3, "ver34").
    pub fn to_element(&self) -> Element {
        let mut item = Element::new("item", ns::ROSTER).with_attr("jid", self.jid.as_str());
        if self.subscription == Subscription::Remove {
            item.set_attr("subscription", Subscription::Remove.as_str());
            return item;
        }
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            item.set_attr("name", name);
        }
        item.set_attr("subscription", self.subscription.as_str());
        if self.ask {
            item.set_attr("ask", "subscribe");
        }
        if self.approved {
            item.set_attr("approved", "true");
        }
        for group in &self.groups {
            item.push_child(Element::new("group", ns::ROSTER).with_text(group.clone()));
        }
        item
    }
}

/// Server-configured limits that §2.3.3 lets a server enforce on a roster set, in octets of
/// UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RosterLimits {
    /// Longest accepted `name` attribute (§2.3.3, not-acceptable case 1).
    pub max_name_len: usize,
    /// Longest accepted `<group/>` character data (§2.3.3, not-acceptable case 3).
    pub max_group_len: usize,
}

impl RosterLimits {
    /// 1023 octets, the RFC 7622 §3.4 limit of a resourcepart: §2.1.2.4 and §2.1.2.6 name the
    /// resourcepart rules as a way to compare handles and groups, so a value that fits a
    /// resourcepart can always be compared that way.
    pub const DEFAULT_MAX_LEN: usize = 1023;
}

impl Default for RosterLimits {
    fn default() -> Self {
        Self {
            max_name_len: Self::DEFAULT_MAX_LEN,
            max_group_len: Self::DEFAULT_MAX_LEN,
        }
    }
}

/// A client's roster set (§2.1.5), validated per §2.3.3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RosterSet {
    /// Add or update an item (§2.3, §2.4). The item is atomic and replaced exactly as given
    /// (§2.4.1): no name means no name, no groups means no group (§2.1.2.6).
    Update {
        /// The contact's bare JID.
        jid: Jid,
        /// The handle; `None` when absent or empty (§2.4.1 implementation note).
        name: Option<String>,
        /// The groups, in document order.
        groups: Vec<String>,
    },
    /// Delete the item (§2.5).
    Remove {
        /// The contact's bare JID.
        jid: Jid,
    },
}

/// Validates the `<query/>` payload of a client's roster set (§2.1.5, §2.3.3).
///
/// Errors, in the order they are checked:
///
/// * not a `jabber:iq:roster` query, or not exactly one `<item/>` (§2.1.5 rule 1, §2.3.3
///   bad-request case 1): `<bad-request/>`;
/// * no `jid` attribute (§2.1.2.3 makes it REQUIRED): `<bad-request/>`;
/// * a `jid` that is not an XMPP address: `<jid-malformed/>`, the RFC 6120 §8.3.3.8 condition
///   for an address that violates RFC 7622 (RFC 6121 §2.3.3 names no condition for it);
/// * a full JID: `<bad-request/>`. Subscriptions are between bare JIDs (§3, §3.1.1: "the
///   value of the 'to' attribute MUST be a bare JID"), so an item for a full JID could never
///   take part in one; it is well-formed as an address, hence not jid-malformed;
/// * a `name` longer than `limits.max_name_len` (§2.3.3 not-acceptable case 1), an empty
///   `<group/>` (case 2) or a group longer than `limits.max_group_len` (case 3):
///   `<not-acceptable/>`;
/// * the same group twice (§2.3.3 bad-request case 2): `<bad-request/>`. Groups are compared
///   after OpaqueString preparation, the resourcepart method §2.3.3 suggests; a group that
///   method rejects is compared as written, since groups are opaque to the server (§2.1.2.6)
///   and must not be refused for their content.
///
/// Ignored rather than refused: a `subscription` value other than "remove" (§2.1.2.5 and
/// §2.1.5 rule 2: the server MUST ignore it), and `ask` and `approved`, which a client MUST
/// NOT send (§2.1.2.1, §2.1.2.2) and which only presence stanzas may change. A removal
/// ignores the name and groups it carries: they describe an item about to disappear, so there
/// is nothing to validate them for.
pub fn parse_roster_set(query: &Element, limits: &RosterLimits) -> Result<RosterSet, StanzaError> {
    if !query.is("query", ns::ROSTER) {
        return Err(bad_request("a roster set carries a jabber:iq:roster query"));
    }
    let mut items = query.children().filter(|c| c.is("item", ns::ROSTER));
    let (Some(item), None) = (items.next(), items.next()) else {
        return Err(bad_request(
            "a roster set contains exactly one item (RFC 6121 section 2.1.5)",
        ));
    };
    let jid = item_jid(item)?;
    if item.attr("subscription") == Some(Subscription::Remove.as_str()) {
        return Ok(RosterSet::Remove { jid });
    }

    let name = item
        .attr("name")
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if name.as_ref().is_some_and(|n| n.len() > limits.max_name_len) {
        return Err(not_acceptable(
            "the item name is longer than this server accepts (RFC 6121 section 2.3.3)",
        ));
    }

    let mut groups = Vec::new();
    let mut seen = HashSet::new();
    for group in item.children().filter(|c| c.is("group", ns::ROSTER)) {
        let text = group.text();
        if text.is_empty() {
            return Err(not_acceptable(
                "a group is empty; to leave all groups, send none (RFC 6121 section 2.3.3)",
            ));
        }
        if text.len() > limits.max_group_len {
            return Err(not_acceptable(
                "a group name is longer than this server accepts (RFC 6121 section 2.3.3)",
            ));
        }
        let key = normalize_resourcepart(&text).unwrap_or_else(|_| text.clone());
        if !seen.insert(key) {
            return Err(bad_request(
                "the item lists the same group twice (RFC 6121 section 2.3.3)",
            ));
        }
        groups.push(text);
    }
    Ok(RosterSet::Update { jid, name, groups })
}

/// A client's roster get (§2.1.3), with the version it has cached (§2.6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterGet {
    /// The `ver` attribute. `None`: the client does not use versioning; `Some("")`: it wants
    /// to bootstrap versioning with no cache (§2.6.2); otherwise the opaque version it holds
    /// (§2.1.1).
    pub ver: Option<String>,
}

/// Validates the `<query/>` payload of a roster get: a `jabber:iq:roster` query that "MUST
/// NOT contain any `<item/>` child elements" (§2.1.3), else `<bad-request/>`.
pub fn parse_roster_get(query: &Element) -> Result<RosterGet, StanzaError> {
    if !query.is("query", ns::ROSTER) {
        return Err(bad_request("a roster get carries a jabber:iq:roster query"));
    }
    if query.get_child("item", ns::ROSTER).is_some() {
        return Err(bad_request(
            "a roster get contains no item (RFC 6121 section 2.1.3)",
        ));
    }
    Ok(RosterGet {
        ver: query.attr("ver").map(str::to_owned),
    })
}

/// The `<query/>` payload of a roster result (§2.1.4): one `<item/>` per contact, possibly
/// none (an empty roster is an empty query, never an error), and the version when the server
/// versions rosters (§2.6.3: it SHOULD include `ver` on every result).
///
/// The "empty IQ-result" of §2.6.3, which tells a versioning client that pushes follow, is
/// not built here: it has no payload at all (see [`crate::Stanza::iq_result`]).
pub fn roster_result(items: &[RosterItem], ver: Option<&str>) -> Element {
    let mut query = roster_query(ver);
    for item in items {
        query.push_child(item.to_element());
    }
    query
}

/// The `<query/>` payload of a roster push (§2.1.6): exactly one item, and the version the
/// roster has after this change (§2.6.3: with versioning, every push carries its own, unique
/// version).
pub fn roster_push(item: &RosterItem, ver: Option<&str>) -> Element {
    roster_query(ver).with_child(item.to_element())
}

/// The roster versioning stream feature, `<ver xmlns='urn:xmpp:features:rosterver'/>`
/// (§2.6.1), advertised by a server that versions rosters.
pub fn ver_feature() -> Element {
    Element::new("ver", ns::ROSTER_VER_FEATURE)
}

fn roster_query(ver: Option<&str>) -> Element {
    let mut query = Element::new("query", ns::ROSTER);
    if let Some(ver) = ver {
        query.set_attr("ver", ver);
    }
    query
}

/// The `jid` attribute of a roster set's item, which must be a bare JID.
fn item_jid(item: &Element) -> Result<Jid, StanzaError> {
    let Some(raw) = item.attr("jid") else {
        return Err(bad_request(
            "a roster item needs a jid attribute (RFC 6121 section 2.1.2.3)",
        ));
    };
    let jid = Jid::new(raw).map_err(|e| {
        StanzaError::new(StanzaErrorCondition::JidMalformed).with_text(e.to_string())
    })?;
    if !jid.is_bare() {
        return Err(bad_request(
            "a roster item is a bare JID, without a resource (RFC 6121 section 3.1.1)",
        ));
    }
    Ok(jid)
}

fn bad_request(text: &str) -> StanzaError {
    StanzaError::new(StanzaErrorCondition::BadRequest).with_text(text)
}

fn not_acceptable(text: &str) -> StanzaError {
    StanzaError::new(StanzaErrorCondition::NotAcceptable).with_text(text)
}
