//! The rosters of online users, held in memory in front of the roster store.
//!
//! Why: every presence broadcast (RFC 6121 §4.2.2, §4.4.2) and every probe answer (§4.3.2)
//! needs the sender's roster. Reading it from the store each time was the largest cost of a
//! presence change under load (a database round trip through the store's worker thread and
//! a JID normalization per contact; see ARCHITECTURE.md, "Presence broadcast cost"). A shard
//! is the only writer of its users' rosters, so a copy it keeps stays exact as long as every
//! write goes through this wrapper, which forgets the owner's copy on each one.
//!
//! Bound: a roster is kept only while its user has a session on the shard
//! ([`CachedRosters::roster_of_online`] is asked only for them, and the shard calls
//! [`CachedRosters::forget`] when the last session ends), so memory grows with the online
//! users and their roster sizes, which the roster item limit already bounds. Contact JIDs
//! are shared among the held rosters ([`pool`]).

mod pool;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use storage::{AccountName, RosterChanges, RosterEntry, RosterStore, RosterVersion, StoreError};
use xmpp_core::Jid;

use self::pool::JidPool;

/// One user's roster as presence processing reads it: each contact with the two
/// subscription bits presence needs, and nothing else (names, groups and pending states
/// stay in the store; a roster of K contacts costs about 70·K bytes here).
#[derive(Debug, Default)]
pub struct Roster {
    /// Sorted by JID string. Items whose stored contact is not a valid JID are left out:
    /// they can never be a presence recipient or match a normalized sender.
    contacts: Vec<Contact>,
}

/// One roster item, as presence reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact's bare JID.
    pub jid: Jid,
    /// The contact is subscribed to the user's presence (subscription "from" or "both").
    pub from: bool,
    /// The user is subscribed to the contact's presence (subscription "to" or "both").
    pub to: bool,
}

impl Roster {
    fn new(entries: Vec<RosterEntry>) -> Self {
        let mut contacts: Vec<Contact> = entries
            .into_iter()
            .filter_map(|e| {
                Some(Contact {
                    jid: Jid::new(&e.contact).ok()?,
                    from: e.from,
                    to: e.to,
                })
            })
            .collect();
        contacts.sort_unstable_by(|a, b| a.jid.as_str().cmp(b.jid.as_str()));
        contacts.shrink_to_fit();
        Self { contacts }
    }

    /// Every contact.
    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
    }

    /// The item for `contact` (a normalized bare JID), if any.
    pub fn contact(&self, contact: &str) -> Option<&Contact> {
        self.contacts
            .binary_search_by(|c| c.jid.as_str().cmp(contact))
            .ok()
            .map(|i| &self.contacts[i])
    }
}

/// A [`RosterStore`] that keeps the rosters of online users in memory.
pub struct CachedRosters {
    inner: Arc<dyn RosterStore>,
    held: Mutex<Held>,
}

/// What [`CachedRosters`] keeps, under one lock.
#[derive(Default)]
struct Held {
    online: HashMap<AccountName, Arc<Roster>>,
    /// The contact JIDs of the rosters in `online`, one copy each.
    pool: JidPool,
}

impl fmt::Debug for CachedRosters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedRosters")
            .field("inner", &self.inner)
            .field("held", &self.lock().online.len())
            .finish()
    }
}

impl CachedRosters {
    /// Reads through to `inner`, keeping nothing yet.
    pub fn new(inner: Arc<dyn RosterStore>) -> Self {
        Self {
            inner,
            held: Mutex::default(),
        }
    }

    /// The roster of `owner`, who has a session on the shard: from memory, or read from
    /// the store and kept until it changes or the user's last session ends. The caller
    /// holds the user's lock, so no write of the same roster runs meanwhile.
    pub async fn roster_of_online(&self, owner: &AccountName) -> Result<Arc<Roster>, StoreError> {
        if let Some(roster) = self.lock().online.get(owner) {
            return Ok(roster.clone());
        }
        let (_, entries) = self.inner.roster(owner).await?;
        // Parsed outside the lock: normalizing JIDs is the costly part.
        let mut roster = Roster::new(entries);
        let mut held = self.lock();
        for contact in &mut roster.contacts {
            contact.jid = held.pool.intern(contact.jid.clone());
        }
        let roster = Arc::new(roster);
        held.online.insert(owner.clone(), roster.clone());
        Ok(roster)
    }

    /// The kept roster of `owner`, if there is one; never reads the store (for tests of what
    /// is kept: presence asks through [`Self::roster_of_online`]).
    #[cfg(test)]
    pub fn held(&self, owner: &AccountName) -> Option<Arc<Roster>> {
        self.lock().online.get(owner).cloned()
    }

    /// Drops the copy of `owner`'s roster: the user's last session ended.
    pub fn forget(&self, owner: &AccountName) {
        self.lock().online.remove(owner);
    }

    /// Number of rosters held.
    pub fn len(&self) -> usize {
        self.lock().online.len()
    }

    /// Whether no roster is held.
    pub fn is_empty(&self) -> bool {
        self.lock().online.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl RosterStore for CachedRosters {
    async fn roster(
        &self,
        owner: &AccountName,
    ) -> Result<(RosterVersion, Vec<RosterEntry>), StoreError> {
        // A roster get needs the version and the whole items, which the copy does not keep.
        self.inner.roster(owner).await
    }

    async fn entry(
        &self,
        owner: &AccountName,
        contact: &str,
    ) -> Result<Option<RosterEntry>, StoreError> {
        self.inner.entry(owner, contact).await
    }

    async fn put_entry(
        &self,
        owner: &AccountName,
        entry: &RosterEntry,
    ) -> Result<RosterVersion, StoreError> {
        // Forgotten whether or not the write succeeds: a failed write may still have
        // reached the database.
        let result = self.inner.put_entry(owner, entry).await;
        self.forget(owner);
        result
    }

    async fn remove_entry(
        &self,
        owner: &AccountName,
        contact: &str,
    ) -> Result<RosterVersion, StoreError> {
        let result = self.inner.remove_entry(owner, contact).await;
        self.forget(owner);
        result
    }

    async fn changes_since(
        &self,
        owner: &AccountName,
        since: RosterVersion,
    ) -> Result<Option<RosterChanges>, StoreError> {
        self.inner.changes_since(owner, since).await
    }

    async fn count(&self, owner: &AccountName) -> Result<usize, StoreError> {
        self.inner.count(owner).await
    }
}

#[cfg(test)]
mod tests;
