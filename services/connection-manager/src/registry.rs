//! The sessions bound on this connection manager, by JID, and the handle through which
//! anything is delivered to one of them.
//!
//! Architecture invariant: delivering never waits on a client. A handle's queue is bounded
//! ([`crate::config::Limits::outbound_queue`]); when it is full the session is closed with
//! `<resource-constraint/>` and the stanza is reported undelivered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::Bytes;
use futures::task::AtomicWaker;
use tokio_util::sync::CancellationToken;
use xmpp_core::{Element, Jid, StreamError, StreamErrorCondition};

use crate::outbox::{Outbox, PushError};

/// What a session's writer is asked to send.
#[derive(Debug)]
pub enum Outbound {
    /// A stanza to write. Boxed so that the queue's slots stay small (32 bytes; an unboxed
    /// element tripled them).
    Stanza(Box<Element>),
    /// A stanza already serialized with `jabber:client` as its implied default namespace,
    /// as deliveries arrive from the cluster.
    Serialized(Bytes),
    /// Close the stream normally (`</stream:stream>`) after what is queued.
    End,
}

/// Shared between a session's tasks and everyone holding its handle: the way to end it with a
/// stream error.
#[derive(Debug)]
pub struct SessionControl {
    kill: CancellationToken,
    /// Set before `kill` is cancelled: a check that takes no lock, for the writer, which
    /// looks once per stanza (the token's own check locks its node).
    killed: AtomicBool,
    reason: Mutex<Option<StreamError>>,
    /// The session's queue, woken on termination: its writer, idle, waits on the queue alone
    /// and looks at `killed` when woken, instead of also polling `kill` (two locks) every
    /// time it goes idle, which is once per delivery.
    outbox: Arc<Outbox>,
    /// The task reading the session's stream, woken on termination
    /// ([`SessionControl::reader_terminated`]): it waits for the next stanza and termination
    /// at once, once per stanza read, and a fresh `kill` future took three locks each time.
    reader: AtomicWaker,
}

impl SessionControl {
    /// The control of the session whose writer drains `outbox`.
    pub fn new(outbox: Arc<Outbox>) -> Self {
        Self {
            kill: CancellationToken::new(),
            killed: AtomicBool::new(false),
            reason: Mutex::new(None),
            outbox,
            reader: AtomicWaker::new(),
        }
    }

    /// The queue the session's writer drains, which termination wakes.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Ends the session with `error`. The first reason given wins; later calls do nothing.
    pub fn terminate(&self, error: StreamError) {
        {
            let mut reason = self.reason.lock().unwrap_or_else(|p| p.into_inner());
            if reason.is_some() {
                return;
            }
            *reason = Some(error);
        }
        self.killed.store(true, Ordering::Release);
        self.kill.cancel();
        self.outbox.wake();
        self.reader.wake();
    }

    /// Resolves once [`SessionControl::terminate`] was called.
    pub async fn terminated(&self) {
        self.kill.cancelled().await;
    }

    /// Resolves once [`SessionControl::terminate`] was called, for the one task that reads
    /// the session's stream: it takes no lock, but only the last task to poll it is woken.
    pub fn reader_terminated(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            // Registered before the check: a termination after it wakes this waker.
            self.reader.register(cx.waker());
            if self.is_terminated() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// Whether the session was terminated.
    pub fn is_terminated(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// The error the session was terminated with.
    pub fn reason(&self) -> Option<StreamError> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A cheap, cloneable reference to a bound session.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    id: u64,
    jid: Jid,
    outbox: Arc<Outbox>,
    control: Arc<SessionControl>,
    /// Sent available presence and not since unavailable (RFC 6121 §4.1), so that presence
    /// for "all available resources" of the user reaches it.
    available: Arc<AtomicBool>,
    /// What the user's shard keeps of this session in memory only, remembered here so that
    /// the session can be registered again if that shard restarts.
    shard_view: Arc<Mutex<ShardView>>,
}

/// A session's state as its shard holds it.
#[derive(Debug, Default)]
struct ShardView {
    /// The last available presence broadcast (stamped, no 'to'), serialized as the cluster
    /// carries stanzas; `None` while unavailable.
    presence: Option<Bytes>,
    /// Requested the roster (RFC 6121 §2.1.6).
    interested: bool,
}

impl SessionHandle {
    /// A handle for the session `jid` writing into the queue of `control`. The handle keeps
    /// the queue itself too: deliveries reach it without going through the control.
    pub fn new(jid: Jid, control: Arc<SessionControl>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            jid,
            outbox: control.outbox().clone(),
            control,
            available: Arc::default(),
            shard_view: Arc::default(),
        }
    }

    /// Whether the session has sent available presence (RFC 6121 §4.1).
    pub fn is_available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    /// Records broadcast presence the client sent (RFC 6121 §4.2, §4.4, §4.5): `Some` with
    /// the serialized available presence, `None` for unavailable.
    pub fn set_presence(&self, presence: Option<Bytes>) {
        self.available.store(presence.is_some(), Ordering::Relaxed);
        self.view().presence = presence;
    }

    /// Records that the client requested the roster (RFC 6121 §2.1.6).
    pub fn set_interested(&self) {
        self.view().interested = true;
    }

    /// The session's state for registering it again with a restarted shard.
    pub fn restored(&self) -> cluster_api::v1::RestoredSession {
        let view = self.view();
        cluster_api::v1::RestoredSession {
            presence: view.presence.clone().unwrap_or_default(),
            interested: view.interested,
        }
    }

    fn view(&self) -> std::sync::MutexGuard<'_, ShardView> {
        self.shard_view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Unique id of the session within this process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The session's full JID.
    pub fn jid(&self) -> &Jid {
        &self.jid
    }

    /// The session's control.
    pub fn control(&self) -> &Arc<SessionControl> {
        &self.control
    }

    /// Asks the writer to close the stream normally once what is queued is written
    /// (RFC 6120 §4.4). The queue takes the end even when full.
    pub fn end(&self) {
        // Closed: the writer is gone and the stream with it.
        let _ = self.outbox.try_push(Outbound::End);
    }

    /// Queues a serialized stanza from the cluster, with the same slow-consumer policy as
    /// [`SessionHandle::deliver`]; `false` when it was not queued.
    pub fn deliver_serialized(&self, xml: Bytes) -> bool {
        match self.outbox.try_push(Outbound::Serialized(xml)) {
            Ok(()) => true,
            Err(PushError::Full(_)) => {
                self.slow_consumer();
                false
            }
            Err(PushError::Closed(_)) => false,
        }
    }

    fn slow_consumer(&self) {
        tracing::warn!(jid = %self.jid, "outbound queue full, closing slow session");
        self.control.terminate(StreamError::with_text(
            StreamErrorCondition::ResourceConstraint,
            "outbound queue full: the client does not read fast enough",
        ));
    }

    /// Queues `stanza` for the client without waiting. A full queue closes the session with
    /// `<resource-constraint/>` (the slow-consumer policy). An undelivered stanza is handed
    /// back, so the caller can answer its sender without having cloned it up front.
    pub fn deliver(&self, stanza: Element) -> Result<(), Element> {
        let undelivered = |o| match o {
            Outbound::Stanza(e) => *e,
            Outbound::Serialized(_) | Outbound::End => unreachable!("only elements are sent here"),
        };
        match self.outbox.try_push(Outbound::Stanza(Box::new(stanza))) {
            Ok(()) => Ok(()),
            Err(PushError::Full(o)) => {
                self.slow_consumer();
                Err(undelivered(o))
            }
            Err(PushError::Closed(o)) => Err(undelivered(o)),
        }
    }
}

/// Why a resource could not be bound.
#[derive(Debug, PartialEq, Eq)]
pub enum BindRefused {
    /// The resource is taken and the policy refuses the new session.
    Conflict,
}

/// Sessions by bare JID, looked up for every delivery: foldhash (randomly seeded per map)
/// instead of SipHash, whose hashing of the JID was 1% of a presence broadcast's
/// instructions.
type ByBare = HashMap<Jid, Vec<SessionHandle>, foldhash::fast::RandomState>;

/// Bound sessions of this process, by bare JID then resource.
#[derive(Debug, Default)]
pub struct SessionRegistry {
    by_bare: Mutex<ByBare>,
}

impl SessionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handle` unless its full JID is already bound, in which case the bound
    /// session is returned and nothing changes.
    pub fn try_bind(&self, handle: SessionHandle) -> Result<(), SessionHandle> {
        let mut map = self.lock();
        let sessions = map.entry(handle.jid.bare()).or_default();
        if let Some(existing) = sessions.iter().find(|s| s.jid == handle.jid) {
            return Err(existing.clone());
        }
        // Most users have one resource: grow by one, not to Vec's first step of four.
        sessions.reserve_exact(1);
        sessions.push(handle);
        Ok(())
    }

    /// Registers `handle`, replacing (and returning) a session bound to the same full JID.
    pub fn replace(&self, handle: SessionHandle) -> Option<SessionHandle> {
        let mut map = self.lock();
        let sessions = map.entry(handle.jid.bare()).or_default();
        let old = sessions
            .iter()
            .position(|s| s.jid == handle.jid)
            .map(|i| sessions.swap_remove(i));
        // Most users have one resource: grow by one, not to Vec's first step of four.
        sessions.reserve_exact(1);
        sessions.push(handle);
        old
    }

    /// Removes the session `id` bound to `jid`, if it is still the one registered.
    pub fn unbind(&self, jid: &Jid, id: u64) {
        let mut map = self.lock();
        let bare = jid.bare();
        if let Some(sessions) = map.get_mut(&bare) {
            sessions.retain(|s| s.id != id);
            if sessions.is_empty() {
                map.remove(&bare);
            }
        }
    }

    /// The session bound to the full JID `jid`.
    pub fn get(&self, jid: &Jid) -> Option<SessionHandle> {
        self.lock()
            .get(&jid.bare())?
            .iter()
            .find(|s| &s.jid == jid)
            .cloned()
    }

    /// The sessions of the bare JID `bare`.
    pub fn sessions_of(&self, bare: &Jid) -> Vec<SessionHandle> {
        self.sessions_of_normalized(bare.as_str())
    }

    /// The sessions of the bare JID whose normalized form is `bare`, as shards write it in
    /// a delivery. Looking up by the string skips normalizing it again (RFC 7622 PRECIS
    /// work on every delivery was a measurable part of a presence broadcast); a string that
    /// is not normalized finds nothing.
    pub fn sessions_of_normalized(&self, bare: &str) -> Vec<SessionHandle> {
        self.with_sessions_of_normalized(bare, <[SessionHandle]>::to_vec)
    }

    /// Calls `visit` with the sessions of the bare JID whose normalized form is `bare` (none:
    /// an empty slice), under the registry's lock. For the delivery path: a copy of the
    /// handles is an allocation and five reference counts up and down per delivery. `visit`
    /// must not wait or call back into the registry.
    pub fn with_sessions_of_normalized<T>(
        &self,
        bare: &str,
        visit: impl FnOnce(&[SessionHandle]) -> T,
    ) -> T {
        visit(self.lock().get(bare).map_or(&[], Vec::as_slice))
    }

    /// Every bound session.
    pub fn all(&self) -> Vec<SessionHandle> {
        self.lock().values().flatten().cloned().collect()
    }

    /// Number of bound sessions.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether no session is bound.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ByBare> {
        self.by_bare.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(jid: &str, cap: usize) -> (SessionHandle, Arc<Outbox>) {
        let outbox = Arc::new(Outbox::new(cap));
        let control = Arc::new(SessionControl::new(outbox.clone()));
        let h = SessionHandle::new(Jid::new(jid).unwrap(), control);
        (h, outbox)
    }

    #[test]
    fn a_full_queue_closes_the_session_with_resource_constraint() {
        let (h, _rx) = handle("juliet@example.com/balcony", 1);
        let msg = Element::new("message", xmpp_core::ns::JABBER_CLIENT);
        assert_eq!(h.deliver(msg.clone()), Ok(()));
        assert_eq!(h.deliver(msg.clone()), Err(msg));
        assert!(h.control().is_terminated());
        assert_eq!(
            h.control().reason().unwrap().condition,
            StreamErrorCondition::ResourceConstraint
        );
    }

    /// The reading task waits for termination through the control's waker: a termination
    /// from another task wakes it, and once terminated the wait ends at once. The first
    /// reason given wins.
    #[tokio::test]
    async fn termination_wakes_the_waiting_reader() {
        let (h, _rx) = handle("juliet@example.com/balcony", 1);
        let control = h.control().clone();
        let reader = tokio::spawn(async move {
            let next_stanza = std::future::pending::<()>();
            tokio::select! {
                biased;
                () = control.reader_terminated() => "terminated",
                () = next_stanza => "read",
            }
        });
        // Let the reader register its waker, then terminate from here.
        tokio::task::yield_now().await;
        assert!(!reader.is_finished());
        h.control()
            .terminate(StreamError::new(StreamErrorCondition::SystemShutdown));
        h.control()
            .terminate(StreamError::new(StreamErrorCondition::ConnectionTimeout));
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), reader).await;
        assert_eq!(outcome.unwrap().unwrap(), "terminated");
        h.control().reader_terminated().await;
        assert_eq!(
            h.control().reason().unwrap().condition,
            StreamErrorCondition::SystemShutdown
        );
    }

    #[test]
    fn a_users_first_session_takes_room_for_one() {
        let reg = SessionRegistry::new();
        let (a, _ra) = handle("juliet@example.com/balcony", 4);
        let (b, _rb) = handle("juliet@example.com/chamber", 4);
        let bare = Jid::new("juliet@example.com").unwrap();
        reg.try_bind(a).unwrap();
        assert_eq!(reg.lock().get(&bare).unwrap().capacity(), 1);
        reg.try_bind(b).unwrap();
        assert_eq!(reg.lock().get(&bare).unwrap().capacity(), 2);
        assert_eq!(reg.sessions_of(&bare).len(), 2);
    }

    #[test]
    fn bind_unbind_and_lookup() {
        let reg = SessionRegistry::new();
        let (a, _ra) = handle("juliet@example.com/balcony", 4);
        let (b, _rb) = handle("juliet@example.com/balcony", 4);
        let (c, _rc) = handle("juliet@example.com/chamber", 4);
        reg.try_bind(a.clone()).unwrap();
        assert_eq!(reg.try_bind(b.clone()).unwrap_err().id(), a.id());
        reg.try_bind(c.clone()).unwrap();
        assert_eq!(reg.len(), 2);
        let bare = Jid::new("juliet@example.com").unwrap();
        assert_eq!(reg.sessions_of(&bare).len(), 2);
        assert_eq!(reg.replace(b.clone()).unwrap().id(), a.id());
        // An old session unbinding late must not remove its replacement.
        reg.unbind(a.jid(), a.id());
        assert_eq!(reg.get(b.jid()).unwrap().id(), b.id());
        reg.unbind(b.jid(), b.id());
        reg.unbind(c.jid(), c.id());
        assert!(reg.is_empty());
    }
}
