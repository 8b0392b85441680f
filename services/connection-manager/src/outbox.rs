//! A bound session's outbound queue: what is waiting for its socket writer.
//!
//! Bounded by [`crate::config::Limits::outbound_queue`], with the overflow policy of the
//! registry (a full queue closes the session with `<resource-constraint/>`; nobody waits on
//! a slow reader). Unlike tokio's `mpsc`, which allocates 32 slots at a time and keeps a
//! spent block for reuse (two blocks and the channel, about 2.6 KB, held by every session
//! that ever received more than 32 stanzas), the queue gives its storage back whenever it
//! drains, so an idle session holds a hundred bytes of it. Memory per idle session is the
//! figure that limits how many clients one connection manager holds (ARCHITECTURE.md,
//! "Memory per session"). The item at the head of the queue has a slot of its own in the
//! queue's state, so the one stanza a session is usually sent at a time needs no storage
//! allocated and given back (that was about 260 instructions per delivery, an eighth of what
//! the inbox spends on one; ARCHITECTURE.md, "Presence broadcast cost").

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::registry::Outbound;

/// Why an item was not queued; it is handed back.
#[derive(Debug)]
pub enum PushError {
    /// The queue holds its capacity.
    Full(Outbound),
    /// The writer is gone.
    Closed(Outbound),
}

/// A session's outbound queue, shared by every handle of the session and its writer.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer when something was queued, the queue was closed, or the session was
    /// terminated ([`Outbox::wake`]).
    ready: Notify,
}

#[derive(Debug)]
struct State {
    /// The oldest item, when it came to an empty queue; `rest` then holds those after it.
    /// Only ever filled while `rest` is empty, so the order is `head`, then `rest`.
    head: Option<Outbound>,
    rest: VecDeque<Outbound>,
    capacity: usize,
    /// The writer stopped reading: nothing is queued any more.
    closed: bool,
}

impl Outbox {
    /// An empty queue of at most `capacity` items (plus the final [`Outbound::End`]).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                head: None,
                rest: VecDeque::new(),
                capacity,
                closed: false,
            }),
            ready: Notify::new(),
        }
    }

    /// Queues `item` without waiting. [`Outbound::End`] is always taken while the queue is
    /// open, even when full: it is the one item that makes the queue shorter, and ending a
    /// session must not depend on its client reading.
    pub fn try_push(&self, item: Outbound) -> Result<(), PushError> {
        {
            let mut state = self.lock();
            if state.closed {
                return Err(PushError::Closed(item));
            }
            if state.len() >= state.capacity && !matches!(item, Outbound::End) {
                return Err(PushError::Full(item));
            }
            if state.head.is_none() && state.rest.is_empty() {
                state.head = Some(item);
            } else {
                state.rest.push_back(item);
            }
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The next item, if one is queued.
    pub fn try_pop(&self) -> Option<Outbound> {
        self.take().0
    }

    /// Waits for the next item; `None` once the queue is closed and empty. Cancel-safe: an
    /// item is only taken in the poll that returns it.
    pub async fn pop(&self) -> Option<Outbound> {
        self.pop_unless(|| false).await
    }

    /// [`Outbox::pop`], which also gives `None` when the queue is empty and `stop` holds,
    /// looked at on every [`Outbox::wake`]: how a session's writer learns that the session
    /// was terminated, with the queue the one thing it waits on while idle.
    pub async fn pop_unless(&self, stop: impl Fn() -> bool) -> Option<Outbound> {
        loop {
            match self.take() {
                (Some(item), _) => return Some(item),
                (None, true) => return None,
                (None, false) if stop() => return None,
                // A push or wake after this look stores a permit in `ready` that the wait
                // takes, so it is not missed.
                (None, false) => self.ready.notified().await,
            }
        }
    }

    /// Wakes a writer waiting in [`Outbox::pop_unless`] to look at its condition again.
    pub fn wake(&self) {
        self.ready.notify_one();
    }

    /// The next item and whether the queue is closed. An empty queue gives its storage back.
    fn take(&self) -> (Option<Outbound>, bool) {
        let mut state = self.lock();
        let item = state.head.take().or_else(|| state.rest.pop_front());
        if state.rest.is_empty() && state.rest.capacity() > 0 {
            state.rest = VecDeque::new();
        }
        (item, state.closed)
    }

    /// Closes the queue: later pushes fail with [`PushError::Closed`] and what is queued is
    /// dropped. For the writer when it stops.
    pub fn close(&self) {
        let items = {
            let mut state = self.lock();
            state.closed = true;
            (state.head.take(), std::mem::take(&mut state.rest))
        };
        // Dropped outside the lock: dropping stanzas frees their buffers.
        drop(items);
        self.ready.notify_one();
    }

    /// Items queued (for tests: the writer only pops).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }
}

#[cfg(test)]
mod tests;
