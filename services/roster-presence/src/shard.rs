//! The shard's entry points. Each takes what a connection manager or another shard sent and
//! returns the [`Effects`] to carry out.
//!
//! Concurrency: state changes for one user (roster writes, subscription transitions,
//! presence changes) are serialized by a per-user lock, so a transition always reads the
//! state the previous one wrote. Locks are striped (a fixed array indexed by a hash of the
//! bare JID), so memory does not grow with the number of users, and no operation ever holds
//! two of them: effects that concern another user are returned, not carried out.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;

use service_kit::Metrics;
use storage::{
    AccountName, AccountStore, OfflineMessage, OfflineStore, PendingSubscriptionStore, RosterStore,
    SqliteStore, StoreError,
};
use tokio::sync::{Mutex, MutexGuard};
use xmpp_core::{ErrorType, Jid, Stanza, StanzaError, StanzaErrorCondition, StanzaKind};

use crate::config::ShardConfig;
use crate::effects::Effects;
use crate::roster_cache::CachedRosters;
use crate::sessions::{SessionKey, Sessions};
use crate::{delivery, presence, subscription};

/// Number of lock stripes: enough that unrelated users rarely wait for each other.
const LOCK_STRIPES: usize = 1024;

/// The stores a shard reads and writes.
#[derive(Clone, Debug)]
pub struct Stores {
    /// Which accounts exist (RFC 6121 §8.5.1).
    pub accounts: Arc<dyn AccountStore>,
    /// Rosters and subscription states (§2, §3).
    pub rosters: Arc<dyn RosterStore>,
    /// Offline messages (§8.5.2.2.1).
    pub offline: Arc<dyn OfflineStore>,
    /// Inbound subscription requests awaiting an answer (§3.1.3).
    pub pending: Arc<dyn PendingSubscriptionStore>,
}

impl Stores {
    /// Every store backed by one SQLite database.
    pub fn sqlite(store: Arc<SqliteStore>) -> Self {
        Self::backed_by(store)
    }

    /// Every store backed by one database that implements them all (SQLite, Postgres).
    pub fn backed_by<S>(store: Arc<S>) -> Self
    where
        S: AccountStore + RosterStore + OfflineStore + PendingSubscriptionStore,
    {
        Self {
            accounts: store.clone(),
            rosters: store.clone(),
            offline: store.clone(),
            pending: store,
        }
    }
}

/// One roster-presence shard.
#[derive(Debug)]
pub struct Shard {
    pub(crate) config: ShardConfig,
    /// The stores, with `rosters` read and written through [`Shard::rosters`].
    pub(crate) stores: Stores,
    /// The rosters of online users, kept in memory (see [`crate::roster_cache`]).
    pub(crate) rosters: Arc<CachedRosters>,
    pub(crate) sessions: Sessions,
    pub(crate) metrics: Metrics,
    locks: Box<[Mutex<()>]>,
}

impl Shard {
    /// A shard with no one online.
    pub fn new(config: ShardConfig, mut stores: Stores) -> Self {
        let rosters = Arc::new(CachedRosters::new(stores.rosters.clone()));
        stores.rosters = rosters.clone();
        Self {
            config,
            stores,
            rosters,
            sessions: Sessions::new(),
            metrics: Metrics::new(),
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Reports to `metrics` instead of a private registry.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where the shard reports.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The shard's settings.
    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// The online resources of the shard's users.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// A client bound the resource `jid` (RFC 6120 §7). If another session held it, that
    /// session is gone: it is treated as closed first.
    pub async fn session_bound(&self, jid: Jid, session: SessionKey) -> Effects {
        let _guard = self.lock_user(&jid).await;
        let mut effects = Effects::new();
        if let Some(old) = self.sessions.bind(jid, session) {
            presence::went_offline(self, old, &mut effects).await;
        }
        effects
    }

    /// A connection manager registers again the session `session` of `jid` after this shard
    /// restarted (see [`presence::restore`]): `presence` is its last available presence,
    /// if it is available, and `interested` whether it requested the roster.
    pub async fn session_restored(
        &self,
        jid: Jid,
        session: SessionKey,
        presence: Option<xmpp_core::Element>,
        interested: bool,
    ) -> Effects {
        let _guard = self.lock_user(&jid).await;
        let mut effects = Effects::new();
        presence::restore(self, jid, session, presence, interested, &mut effects).await;
        effects
    }

    /// Every session held by the connection manager `node`, which is gone (its liveness key
    /// expired): each is closed as if its stream had ended, so contacts get unavailable
    /// presence (RFC 6121 §4.5.2) and no one keeps ghost presence of its users.
    pub async fn node_gone(&self, node: &str) -> Effects {
        let mut effects = Effects::new();
        for (jid, session) in self.sessions.on_node(node) {
            let _guard = self.lock_user(&jid).await;
            if let Some(old) = self.sessions.unbind(&jid, &session) {
                presence::went_offline(self, old, &mut effects).await;
                self.forget_roster_when_offline(&jid);
            }
        }
        effects
    }

    /// The session `session` of `jid` ended. If the resource was available, its contacts
    /// and the user's other resources get unavailable presence (RFC 6121 §4.5.2: "the
    /// server MUST NOT depend on receiving unavailable presence").
    pub async fn session_closed(&self, jid: &Jid, session: &SessionKey) -> Effects {
        let _guard = self.lock_user(jid).await;
        let mut effects = Effects::new();
        if let Some(old) = self.sessions.unbind(jid, session) {
            presence::went_offline(self, old, &mut effects).await;
            self.forget_roster_when_offline(jid);
        }
        effects
    }

    /// A presence stanza a client of one of the shard's users sent, with `from` stamped
    /// to the sender's full JID: broadcast, directed presence, subscription stanzas and
    /// probes, processed on the sender's side (RFC 6121 §3, §4).
    pub async fn outbound(&self, stanza: Stanza) -> Effects {
        let mut effects = Effects::new();
        let Some(from) = stanza.from().and_then(|f| Jid::new(f).ok()) else {
            return effects;
        };
        if stanza.kind() != StanzaKind::Presence {
            tracing::debug!(kind = ?stanza.kind(), "outbound processing takes presence only");
            return effects;
        }
        let _guard = self.lock_user(&from).await;
        let to = match stanza.to().map(Jid::new) {
            None => None,
            Some(Ok(jid)) => Some(jid),
            Some(Err(_)) => {
                reply_error(&mut effects, &stanza, StanzaErrorCondition::JidMalformed);
                return effects;
            }
        };
        match (stanza.stanza_type(), to) {
            (None | Some("unavailable"), None) => {
                presence::broadcast(self, &from, stanza, &mut effects).await;
            }
            (None | Some("unavailable"), Some(to)) => {
                presence::directed(self, &from, to, stanza, &mut effects).await;
            }
            (Some("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed"), Some(to)) => {
                subscription::outbound(self, &from, to, stanza, &mut effects).await;
            }
            (Some("probe"), Some(to)) => {
                // §4.3: a client's probe is processed like the server's own.
                if self.is_local(&to) {
                    effects.route(stanza);
                }
            }
            (Some("error"), Some(to)) => presence::route_error(self, to, stanza, &mut effects),
            (Some("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed" | "probe"), None) => {
                // A subscription stanza is about a contact; without one there is no one to
                // apply it to.
                reply_error(&mut effects, &stanza, StanzaErrorCondition::BadRequest);
            }
            (Some("error"), None) => {}
            (Some(_), _) => {
                // RFC 6121 §4.7.1: no other presence type exists.
                reply_error(&mut effects, &stanza, StanzaErrorCondition::BadRequest);
            }
        }
        effects
    }

    /// A stanza addressed to one of the shard's users (RFC 6121 §8.5): messages and IQs
    /// from any sender, and the subscription stanzas and probes routed from the sender's
    /// side. An IQ with no 'to' is addressed to the sender's own account (RFC 6120 §10.3.3).
    pub async fn inbound(&self, stanza: Stanza) -> Effects {
        let mut effects = Effects::new();
        let Some(from) = stanza.from().and_then(|f| Jid::new(f).ok()) else {
            return effects;
        };
        let to = match stanza.to().map(Jid::new) {
            None => from.bare(),
            Some(Ok(jid)) => jid,
            Some(Err(_)) => {
                reply_error(&mut effects, &stanza, StanzaErrorCondition::JidMalformed);
                return effects;
            }
        };
        if !self.is_local(&to) || to.local().is_none() {
            tracing::debug!(%to, "inbound stanza for an address this shard does not serve");
            reply_error(
                &mut effects,
                &stanza,
                StanzaErrorCondition::ServiceUnavailable,
            );
            return effects;
        }
        match stanza.kind() {
            StanzaKind::Message => delivery::message(self, &to, stanza, &mut effects).await,
            StanzaKind::Iq => delivery::iq(self, &from, &to, stanza, &mut effects).await,
            StanzaKind::Presence => {
                let _guard = self.lock_user(&to).await;
                match stanza.stanza_type() {
                    Some("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed") => {
                        subscription::inbound(self, &from, &to, stanza, &mut effects).await;
                    }
                    Some("probe") => presence::probe(self, &from, &to, stanza, &mut effects).await,
                    _ => presence::deliver_inbound(self, &to, stanza, &mut effects),
                }
            }
        }
        effects
    }

    /// Whether `jid` is on the domain this shard serves.
    pub(crate) fn is_local(&self, jid: &Jid) -> bool {
        jid.domain() == self.config.domain
    }

    /// The account behind a local bare or full JID.
    pub(crate) fn account(jid: &Jid) -> AccountName {
        AccountName::new(jid.local().unwrap_or_default(), jid.domain())
    }

    /// Whether the local user `user` has an account. A user with a connected resource does;
    /// otherwise the store is asked. A store failure counts as "exists", so a stanza is
    /// kept or answered rather than dropped as if the user were unknown.
    pub(crate) async fn account_exists(&self, user: &Jid) -> bool {
        if self.sessions.is_online(&user.bare()) {
            return true;
        }
        match self
            .stores
            .accounts
            .account_exists(&Self::account(user))
            .await
        {
            Ok(exists) => exists,
            Err(error) => {
                tracing::warn!(%user, %error, "account lookup failed");
                true
            }
        }
    }

    /// Drops the in-memory roster of `jid`'s user once no session of the user is left, so
    /// that only online users' rosters are held. The caller holds the user's lock.
    fn forget_roster_when_offline(&self, jid: &Jid) {
        if !self.sessions.is_online(&jid.bare()) {
            self.rosters.forget(&Self::account(jid));
        }
    }

    /// Number of rosters held in memory (those of online users).
    pub fn rosters_held(&self) -> usize {
        self.rosters.len()
    }

    pub(crate) async fn lock_user(&self, jid: &Jid) -> MutexGuard<'_, ()> {
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let stripe = hasher.hash_one(jid.bare().as_str()) as usize % self.locks.len();
        self.locks[stripe].lock().await
    }
}

/// Queues the error reply to `stanza` for its sender (RFC 6120 §8.3), unless it is an error
/// or an IQ response, which are never answered.
pub(crate) fn reply_error(effects: &mut Effects, stanza: &Stanza, condition: StanzaErrorCondition) {
    reply_with(effects, stanza, &StanzaError::new(condition));
}

/// [`reply_error`] with a full [`StanzaError`].
pub(crate) fn reply_with(effects: &mut Effects, stanza: &Stanza, error: &StanzaError) {
    if stanza.kind() == StanzaKind::Iq && matches!(stanza.stanza_type(), Some("result" | "error")) {
        return;
    }
    let Some(sender) = stanza.from().and_then(|f| Jid::new(f).ok()) else {
        return;
    };
    if let Some(reply) = stanza.error_reply(error) {
        effects.deliver_to_jid(&sender, reply);
    }
}

impl Shard {
    /// Puts a message taken from `user`'s offline queue back, because it could not be
    /// delivered. The quota is not applied: the message was within it when it was stored.
    pub(crate) async fn restore_offline(&self, user: &Jid, message: &OfflineMessage) {
        let result = self
            .stores
            .offline
            .push_offline(
                &Shard::account(user),
                &message.stanza_xml,
                message.stamp_unix_ms,
                usize::MAX,
            )
            .await;
        if let Err(error) = result {
            self.metrics.dependency_error("postgres");
            tracing::error!(%user, %error, "an undelivered offline message could not be stored again");
        }
    }

    /// The stanza error for a store failure: temporary, the client may retry (RFC 6120
    /// §8.3.3.6). Counted as a database error.
    pub(crate) fn store_failed(&self, error: &StoreError) -> StanzaError {
        tracing::warn!(%error, "store operation failed");
        self.metrics.dependency_error("postgres");
        StanzaError::typed(ErrorType::Wait, StanzaErrorCondition::InternalServerError)
    }
}

#[cfg(test)]
mod tests;
