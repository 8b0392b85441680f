//! Rosters (RFC 6121 §2): each account's contact list, with the subscription facts the
//! presence rules of RFC 6121 §3 need, and a version for roster versioning (RFC 6121 §2.6).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::{AccountName, StoreError};

/// One roster item (RFC 6121 §2.1.2) as stored: the raw subscription facts rather than a
/// derived state, so that the presence logic owns the state machine of RFC 6121 Appendix A and
/// the store only has to keep what it is given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RosterEntry {
    /// The contact's bare JID, normalized by the caller; the store compares it as an exact
    /// string, like [`AccountName`].
    pub contact: String,
    /// The user's handle for the contact (the `name` attribute, RFC 6121 §2.1.2.4).
    pub name: Option<String>,
    /// The groups the item is in (RFC 6121 §2.1.2.6), in the order given. The store keeps them
    /// as they are; rejecting empty or duplicate names (RFC 6121 §2.3.3) is the caller's job.
    pub groups: Vec<String>,
    /// The user is subscribed to the contact's presence (`to` or `both`).
    pub to: bool,
    /// The contact is subscribed to the user's presence (`from` or `both`).
    pub from: bool,
    /// The user asked to subscribe and the contact has not answered: "Pending Out", shown as
    /// `ask='subscribe'` (RFC 6121 §2.1.2.2, §3.1.2).
    pub pending_out: bool,
    /// The contact asked to subscribe and the user has not answered: "Pending In"
    /// (RFC 6121 §3.1.3). The request itself is kept by a
    /// [`PendingSubscriptionStore`](crate::PendingSubscriptionStore).
    pub pending_in: bool,
    /// The user approved a subscription the contact has not requested yet, shown as
    /// `approved='true'` (RFC 6121 §2.1.2.1, §3.4).
    pub pre_approved: bool,
}

impl RosterEntry {
    /// An item for `contact` with no name, no groups and no subscription in either direction,
    /// which is what a roster set adding a contact creates (RFC 6121 §2.3.2).
    pub fn new(contact: impl Into<String>) -> Self {
        Self {
            contact: contact.into(),
            ..Self::default()
        }
    }
}

/// The version of one account's roster (RFC 6121 §2.1.1); its decimal string is the `ver`
/// attribute of RFC 6121 §2.6.
///
/// A roster never written has version 0. Each write increases the version by exactly one,
/// except the first write to a roster without a version, which starts above every version an
/// earlier roster of the same account name had: deleting an account deletes its roster and
/// version, and a client may still have the old roster cached under one of the old versions
/// (RFC 6121 §2.6.3 has the server push only what changed since the client's version, so a
/// reissued version would leave the client with the old roster). This crate's stores start
/// from the current time in microseconds, which no sequence of writes outpaces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RosterVersion(pub i64);

impl RosterVersion {
    /// Reads a `ver` attribute a client sent back (RFC 6121 §2.6.2).
    ///
    /// Only the exact form [`Display`](fmt::Display) produces is accepted (no sign, no leading
    /// zeros), so a value this server never issued is reported as unknown instead of being
    /// mistaken for one it did; the caller then sends the whole roster.
    pub fn parse(ver: &str) -> Option<RosterVersion> {
        let canonical = !ver.is_empty()
            && ver.bytes().all(|b| b.is_ascii_digit())
            && (ver == "0" || !ver.starts_with('0'));
        if !canonical {
            return None;
        }
        ver.parse().ok().map(RosterVersion)
    }
}

impl fmt::Display for RosterVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What changed in a roster after a given version: what RFC 6121 §2.6.3 calls for as
/// "interim roster pushes".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RosterChanges {
    /// The version the roster has now, for the `ver` of the last push.
    pub version: RosterVersion,
    /// Items added or changed since, in their current state, sorted by contact. An item
    /// changed several times appears once.
    pub updated: Vec<RosterEntry>,
    /// Contacts removed since and not added back, sorted. May include a contact that was
    /// added and removed again after the version, which the client never saw; a push removing
    /// an item the client does not have is harmless.
    pub removed: Vec<String>,
}

/// Roster storage.
///
/// Writes are atomic with their version bump: when two resources of one account change the
/// roster at once, both changes are kept and each gets its own version, so the pushes built
/// from them (RFC 6121 §2.1.6) are ordered and none is lost.
///
/// Writes for an account that does not exist fail with [`StoreError::NotFound`] naming the
/// account; reads of one see an empty roster at version 0. Deleting an account deletes its
/// roster.
#[async_trait]
pub trait RosterStore: Send + Sync + fmt::Debug + 'static {
    /// All items of `owner`, sorted by contact (comparing bytes), with the version they form
    /// together, read at one point in time: the answer to a roster get (RFC 6121 §2.1.4).
    async fn roster(
        &self,
        owner: &AccountName,
    ) -> Result<(RosterVersion, Vec<RosterEntry>), StoreError>;

    /// The item for `contact`, if `owner` has one.
    async fn entry(
        &self,
        owner: &AccountName,
        contact: &str,
    ) -> Result<Option<RosterEntry>, StoreError>;

    /// Inserts the item, or replaces every field of the existing one for the same contact
    /// (groups are replaced, not merged), and bumps the version, atomically; returns the new
    /// version.
    async fn put_entry(
        &self,
        owner: &AccountName,
        entry: &RosterEntry,
    ) -> Result<RosterVersion, StoreError>;

    /// Removes the item for `contact` and bumps the version, atomically; returns the new
    /// version.
    ///
    /// Fails with [`StoreError::NotFound`] naming the contact if there is no such item, and
    /// then leaves the version alone.
    async fn remove_entry(
        &self,
        owner: &AccountName,
        contact: &str,
    ) -> Result<RosterVersion, StoreError>;

    /// What changed after version `since`, for a client that has the roster cached at that
    /// version (RFC 6121 §2.6.3), read at one point in time.
    ///
    /// `None` when the store cannot tell: `since` is newer than the current version, or older
    /// than the history the store keeps (stores keep a bounded record of removals). The caller
    /// then sends the whole roster, which RFC 6121 §2.6.3 allows whenever "the server cannot
    /// associate the version ID with any previous version it has on file".
    async fn changes_since(
        &self,
        owner: &AccountName,
        since: RosterVersion,
    ) -> Result<Option<RosterChanges>, StoreError>;

    /// How many items `owner` has, for enforcing a roster size limit before adding one.
    async fn count(&self, owner: &AccountName) -> Result<usize, StoreError>;
}

/// The version a roster gets on its first write: the current time in microseconds since the
/// Unix epoch (at least 1).
///
/// Versions must never repeat for one account name, even across deletion and re-creation,
/// and the store forgets everything about a deleted account. The clock is the one thing that
/// still moves forward: every write takes well over a microsecond, so a re-created roster
/// starts above every version the deleted one reached. Its history begins there too, so
/// [`RosterStore::changes_since`] answers `None` for any older version.
pub(crate) fn first_version() -> RosterVersion {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since_epoch| since_epoch.as_micros());
    RosterVersion(i64::try_from(micros).unwrap_or(i64::MAX).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings_round_trip() {
        for v in [0, 1, 42, 1_718_000_000_000_000, i64::MAX] {
            let ver = RosterVersion(v).to_string();
            assert_eq!(RosterVersion::parse(&ver), Some(RosterVersion(v)), "{ver}");
        }
    }

    #[test]
    fn only_canonical_version_strings_parse() {
        for ver in [
            "",
            "-1",
            "+1",
            "01",
            "00",
            " 1",
            "1 ",
            "ver14",
            "1.0",
            "9223372036854775808",
        ] {
            assert_eq!(RosterVersion::parse(ver), None, "{ver:?}");
        }
    }

    #[test]
    fn first_version_is_a_recent_time_in_microseconds() {
        // 2020-01-01T00:00:00Z in microseconds.
        assert!(first_version().0 > 1_577_836_800_000_000);
        assert!(first_version() <= first_version());
    }
}
