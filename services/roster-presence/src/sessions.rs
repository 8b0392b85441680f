//! The online resources of the shard's users: RFC 6121's "connected" and "available"
//! resources, each with its priority, last presence and directed-presence list.
//!
//! In memory only: a restarted shard rebuilds this from the connection managers, which
//! register their sessions again. The lock is a plain mutex held for map operations only,
//! never across an await.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use xmpp_core::{Element, Jid};

/// Identifies one bound session cluster-wide: the connection manager holding it and its id
/// there. A full JID alone is not enough, because a newer session can take over a resource
/// (RFC 6120 §7.7.2.2) while the old one is still closing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// The connection manager's node name.
    pub node: Arc<str>,
    /// The session's id on that node.
    pub id: u64,
}

/// One connected resource.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The full JID.
    pub jid: Jid,
    /// The session behind it.
    pub session: SessionKey,
    /// Available for communication: sent initial presence and not yet unavailable
    /// (RFC 6121 §4.1).
    pub available: bool,
    /// The priority of its last available presence (RFC 6121 §4.7.2.3; 0 when absent).
    pub priority: i8,
    /// The full XML of its last available presence without a 'to', stamped with its full
    /// JID, for answering probes (§4.3.2) and telling new resources (§4.2.2). Shared, so
    /// that copying a resource ([`Sessions::of`], [`Sessions::get`], on every message and
    /// presence routed to or from it) does not copy the element.
    pub last_presence: Option<Arc<Element>>,
    /// Requested the roster, so it gets roster pushes (§2.1.6 "interested resource").
    pub interested: bool,
    /// Entities this resource sent directed available presence to and that are not
    /// subscribed to the user: they get unavailable presence when it goes offline (§4.6.3).
    pub directed: Vec<Jid>,
}

impl Resource {
    fn new(jid: Jid, session: SessionKey) -> Self {
        Self {
            jid,
            session,
            available: false,
            priority: 0,
            last_presence: None,
            interested: false,
            directed: Vec::new(),
        }
    }
}

/// The resources of all online users of the shard, by bare JID.
#[derive(Debug, Default)]
pub struct Sessions {
    by_user: Mutex<HashMap<Jid, Vec<Resource>>>,
    /// Number of resources, kept alongside so that reading it (for the sessions gauge after
    /// every registration) does not walk the map.
    count: AtomicUsize,
}

impl Sessions {
    /// No one online.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a bound resource; a resource of the same full JID is replaced (the newer
    /// session took it over). Returns the replaced resource.
    pub fn bind(&self, jid: Jid, session: SessionKey) -> Option<Resource> {
        let mut map = self.lock();
        let list = map.entry(jid.bare()).or_default();
        let old = list
            .iter()
            .position(|r| r.jid == jid)
            .map(|i| list.swap_remove(i));
        // Most users have one resource: grow by one, not to Vec's first step of four
        // (three empty resources, about 180 bytes each).
        list.reserve_exact(1);
        list.push(Resource::new(jid, session));
        if old.is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        old
    }

    /// Removes the resource `jid` if `session` still holds it.
    pub fn unbind(&self, jid: &Jid, session: &SessionKey) -> Option<Resource> {
        let mut map = self.lock();
        let bare = jid.bare();
        let list = map.get_mut(&bare)?;
        let i = list
            .iter()
            .position(|r| &r.jid == jid && &r.session == session)?;
        let old = list.swap_remove(i);
        if list.is_empty() {
            map.remove(&bare);
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        Some(old)
    }

    /// Whether `user` (bare JID) has a session on this shard; unlike [`Self::of`], copies
    /// nothing.
    pub fn is_online(&self, user: &Jid) -> bool {
        self.lock().contains_key(user)
    }

    /// A copy of the resources of `user` (bare JID).
    pub fn of(&self, user: &Jid) -> Vec<Resource> {
        self.lock().get(user).cloned().unwrap_or_default()
    }

    /// Runs `f` on the resources of `user` (bare JID; none when offline) under the lock, so
    /// that a caller needing a few of their fields copies only those: a message to a bare
    /// JID picks full JIDs by availability and priority (RFC 6121 §8.5.2.1.1), where
    /// [`Self::of`] would copy every resource, its directed-presence list included. `f` runs
    /// with the lock held: it must not call back into `Sessions`.
    pub fn with_resources<T>(&self, user: &Jid, f: impl FnOnce(&[Resource]) -> T) -> T {
        f(self.lock().get(user).map_or(&[], Vec::as_slice))
    }

    /// A copy of the resource `full`.
    pub fn get(&self, full: &Jid) -> Option<Resource> {
        self.lock()
            .get(&full.bare())?
            .iter()
            .find(|r| &r.jid == full)
            .cloned()
    }

    /// Whether the resource `full` is connected.
    pub fn is_connected(&self, full: &Jid) -> bool {
        self.lock()
            .get(&full.bare())
            .is_some_and(|list| list.iter().any(|r| &r.jid == full))
    }

    /// Changes the resource `full` with `f`, if it is connected; returns what `f` returned.
    pub fn update<T>(&self, full: &Jid, f: impl FnOnce(&mut Resource) -> T) -> Option<T> {
        let mut map = self.lock();
        let r = map
            .get_mut(&full.bare())?
            .iter_mut()
            .find(|r| &r.jid == full)?;
        Some(f(r))
    }

    /// The full JIDs of the available resources of `user`.
    pub fn available(&self, user: &Jid) -> Vec<Jid> {
        self.select(user, |r| r.available)
    }

    /// The full JIDs of the interested resources of `user` (§2.1.6).
    pub fn interested(&self, user: &Jid) -> Vec<Jid> {
        self.select(user, |r| r.interested)
    }

    /// The full JIDs of `user`'s resources that `keep` selects.
    pub fn select(&self, user: &Jid, keep: impl Fn(&Resource) -> bool) -> Vec<Jid> {
        self.lock()
            .get(user)
            .map(|list| {
                list.iter()
                    .filter(|r| keep(r))
                    .map(|r| r.jid.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The connection managers holding at least one of the shard's sessions.
    pub fn nodes(&self) -> Vec<Arc<str>> {
        let mut nodes: Vec<Arc<str>> = self
            .lock()
            .values()
            .flatten()
            .map(|r| r.session.node.clone())
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The resources held by the connection manager `node`, with their sessions.
    pub fn on_node(&self, node: &str) -> Vec<(Jid, SessionKey)> {
        self.lock()
            .values()
            .flatten()
            .filter(|r| &*r.session.node == node)
            .map(|r| (r.jid.clone(), r.session.clone()))
            .collect()
    }

    /// Number of connected resources on the shard.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether no resource is connected.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Jid, Vec<Resource>>> {
        self.by_user.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u64) -> SessionKey {
        SessionKey {
            node: Arc::from("cm-0"),
            id,
        }
    }

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn a_users_first_resource_takes_room_for_one() {
        let sessions = Sessions::new();
        let bare = jid("juliet@example.com");
        let balcony = jid("juliet@example.com/balcony");
        let chamber = jid("juliet@example.com/chamber");
        assert!(sessions.bind(balcony.clone(), key(1)).is_none());
        assert_eq!(sessions.lock().get(&bare).unwrap().capacity(), 1);
        assert!(sessions.bind(chamber.clone(), key(2)).is_none());
        assert_eq!(sessions.lock().get(&bare).unwrap().capacity(), 2);
        assert_eq!(sessions.len(), 2);
        // A takeover replaces the resource in place.
        assert_eq!(
            sessions.bind(balcony.clone(), key(3)).unwrap().session,
            key(1)
        );
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.get(&balcony).unwrap().session, key(3));
        assert!(
            sessions.unbind(&balcony, &key(1)).is_none(),
            "an old session unbinding late"
        );
        assert!(sessions.unbind(&balcony, &key(3)).is_some());
        assert!(sessions.unbind(&chamber, &key(2)).is_some());
        assert!(sessions.is_empty());
    }

    #[test]
    fn with_resources_sees_the_users_resources_in_place() {
        let sessions = Sessions::new();
        let bare = jid("juliet@example.com");
        let balcony = jid("juliet@example.com/balcony");
        let romeo = jid("romeo@example.net/orchard");
        sessions.bind(balcony.clone(), key(1));
        sessions.bind(romeo, key(2));
        sessions.update(&balcony, |r| r.priority = 3);
        let seen = sessions.with_resources(&bare, |list| {
            list.iter()
                .map(|r| (r.jid.clone(), r.priority))
                .collect::<Vec<_>>()
        });
        assert_eq!(seen, [(balcony, 3)]);
        let offline = jid("nurse@example.com");
        assert_eq!(sessions.with_resources(&offline, <[Resource]>::len), 0);
    }
}
