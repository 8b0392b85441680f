//! The bound on calls to the shards in flight from one connection manager
//! ([`crate::config::Limits::max_shard_calls`]).
//!
//! Why: when the shards fall behind (a login storm on a busy machine), calls without a bound
//! pile up in them, each waits longer than the call deadline, and nearly every call fails
//! at once: the 100,000-session run at 800 logins/s lost 40% of its initial presence to
//! deadlines that way (README, "100,000 sessions on one machine"). With a bound, a shard
//! holds at most that many calls from each node, so the calls it has taken finish within
//! their deadline, and the rest wait here, where waiting costs only the waiting session's
//! own progress.
//!
//! Overflow policy: a call past the bound waits for a slot, first come first served. The
//! session behind it reads nothing from its socket meanwhile, so TCP pushes back on its
//! client; a login waits within its handshake deadline.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Slots for calls in flight.
#[derive(Debug)]
pub(crate) struct CallGate {
    slots: Semaphore,
}

impl CallGate {
    /// At most `limit` calls in flight (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            slots: Semaphore::new(limit.max(1)),
        }
    }

    /// A slot for one call, held until dropped; waits, first come first served, while all
    /// are taken.
    pub(crate) async fn slot(&self) -> SemaphorePermit<'_> {
        self.slots
            .acquire()
            .await
            .expect("the gate's semaphore is never closed")
    }

    /// A slot if one is free now.
    pub(crate) fn try_slot(&self) -> Option<SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_limit_in_flight_and_waiters_served_in_order() {
        let gate = Arc::new(CallGate::new(3));
        let peak = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (gate, peak, order) = (gate.clone(), peak.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = gate.slot().await;
                order.lock().unwrap().push(i);
                peak.fetch_max(3 - gate.slots.available_permits(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
            // Each call asks for its slot before the next one is made.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::Relaxed), 3);
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        assert_eq!(gate.slots.available_permits(), 3);
        assert!(gate.try_slot().is_some());
    }

    #[test]
    fn a_limit_of_zero_still_lets_calls_through_one_at_a_time() {
        assert_eq!(CallGate::new(0).slots.available_permits(), 1);
    }
}
