//! The shard's settings: the domain it serves and the limits it enforces on each user.

use xmpp_core::roster::RosterLimits;

/// What a shard needs to know to apply RFC 6121 for its users.
#[derive(Clone, Debug)]
pub struct ShardConfig {
    /// The domain whose users this shard serves; any other domain is remote.
    pub domain: String,
    /// Most items a roster may hold. A roster set adding one more is refused with
    /// `<not-allowed/>` (RFC 6121 §2.3.3 lets a server refuse a roster set it will not
    /// perform; the limit keeps one account from growing every presence broadcast).
    pub max_roster_items: usize,
    /// Most offline messages kept per user (RFC 6121 §8.5.2.2.1 leaves storing or bouncing
    /// to the server). Past it, a message is bounced with `<service-unavailable/>`.
    pub offline_quota: usize,
    /// Longest roster item name and group name accepted in a roster set (§2.3.3).
    pub roster_limits: RosterLimits,
    /// Stanzas that processing one stanza routes to other users at once: a login's probes,
    /// one per contact (RFC 6121 §4.3.1), each a call to the contact's shard unless it is
    /// this one. Past it, the next waits for one to finish. At least 1.
    pub max_routes_in_flight: usize,
}

impl ShardConfig {
    /// Defaults for `domain`: 1,000 roster items and 100 offline messages, the orders of
    /// magnitude other servers default to, and 16 routes in flight.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            max_roster_items: 1000,
            offline_quota: 100,
            roster_limits: RosterLimits::default(),
            max_routes_in_flight: 16,
        }
    }
}
