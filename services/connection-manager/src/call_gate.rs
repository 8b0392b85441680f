//! The bound on calls to one shard in flight from one connection manager
//! ([`crate::config::Limits::max_shard_calls`]), adapted to how fast that shard answers
//! ([`crate::config::Limits::shard_call_target_ms`]). The node keeps one gate per shard
//! (`cluster.rs`), so a shard that falls behind holds up only the calls meant for it.
//!
//! Why a bound: when the shards fall behind (a login storm on a busy machine), calls without
//! one pile up in them, each waits longer than the call deadline, and nearly every call fails
//! at once: the 100,000-session run at 800 logins/s lost 40% of its initial presence to
//! deadlines that way (README, "100,000 sessions on one machine"). With a bound, a shard
//! holds at most that many calls from each node, so the calls it has taken finish within
//! their deadline, and the rest wait here, where waiting costs only the waiting session's
//! own progress.
//!
//! Why it adapts: a fixed bound per node is right for one cluster size only: eight
//! connection managers with 64 each let 512 calls into a shard, two let 128. So the
//! bound is a window, as TCP's congestion window is (additive increase, multiplicative
//! decrease): while the calls' smoothed latency (a moving average over about the last 16
//! calls) is above the target, a call shrinks it to three quarters, and so does a call that
//! failed with a deadline or an exhausted resource, at most once per round (only calls
//! taken after the last decrease count, as TCP reacts once per window); while the average is
//! within the target, a call grows it by one over a window's worth of calls, if the window is
//! at least half used. The average, not each call, decides, so that the slow tail of a
//! busy but keeping-up shard does not shrink the window: on one saturated machine (the
//! 100,000-session storm at 1,600 logins/s asked) a window that shrank on every call past
//! the target halved the shards' latency but made the calls wait longer at the gate, and the
//! initial presence's p99 rose from 21 to 28 s (README). It stays between `min_shard_calls` and `max_shard_calls`. A target of
//! zero keeps the bound fixed at `max_shard_calls`.
//!
//! Overflow policy: a call past the bound waits for a slot, first come first served. The
//! session behind it reads nothing from its socket meanwhile, so TCP pushes back on its
//! client; a login waits within its handshake deadline.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The window shrinks to this fraction of itself on a slow or overloaded call.
const DECREASE: f64 = 0.75;

/// The weight of one call in the smoothed latency: about the last 16 calls count.
const SMOOTHING: f64 = 1.0 / 16.0;

/// Slots for calls in flight.
///
/// The semaphore holds the window's slots plus `debt`: slots a decrease found in use, each
/// forgotten instead of released when its call ends. So free and taken slots less the debt
/// always equal the window.
#[derive(Debug)]
pub(crate) struct CallGate {
    slots: Semaphore,
    debt: AtomicUsize,
    /// The window, whole slots; for metrics and tests.
    window: AtomicUsize,
    adaptive: Option<Adaptive>,
}

/// How the window follows the calls' latency.
#[derive(Debug)]
struct Adaptive {
    floor: usize,
    ceiling: usize,
    target: Duration,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    /// The window with its fraction: additive increase adds 1/window per call.
    size: f64,
    /// When the window last shrank; a call taken before then belongs to the old round.
    decreased: Instant,
    /// The calls' latency, seconds, as an exponentially weighted moving average.
    latency: f64,
}

/// One call's slot, held until dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    permit: Option<SemaphorePermit<'a>>,
    gate: &'a CallGate,
    taken: Instant,
}

impl CallGate {
    /// At most `limit` calls in flight (at least one), always.
    pub(crate) fn fixed(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            slots: Semaphore::new(limit),
            debt: AtomicUsize::new(0),
            window: AtomicUsize::new(limit),
            adaptive: None,
        }
    }

    /// A window between `floor` and `ceiling` calls (at least one; `floor` at most
    /// `ceiling`), starting at `ceiling`, shrinking when calls take longer than `target`.
    /// A zero `target` makes it [`fixed`](CallGate::fixed) at `ceiling`.
    pub(crate) fn adaptive(floor: usize, ceiling: usize, target: Duration) -> Self {
        if target.is_zero() {
            return Self::fixed(ceiling);
        }
        let ceiling = ceiling.max(1);
        let mut gate = Self::fixed(ceiling);
        gate.adaptive = Some(Adaptive {
            floor: floor.clamp(1, ceiling),
            ceiling,
            target,
            state: Mutex::new(Window {
                size: ceiling as f64,
                decreased: Instant::now(),
                latency: 0.0,
            }),
        });
        gate
    }

    /// The window now: calls allowed in flight.
    pub(crate) fn window(&self) -> usize {
        self.window.load(Ordering::Relaxed)
    }

    /// Calls holding a slot now: the window and the slots owed, less the free ones.
    fn in_flight(&self) -> usize {
        (self.window() + self.debt.load(Ordering::Acquire))
            .saturating_sub(self.slots.available_permits())
    }

    /// A slot for one call; waits, first come first served, while all are taken.
    pub(crate) async fn slot(&self) -> Slot<'_> {
        let permit = self
            .slots
            .acquire()
            .await
            .expect("the gate's semaphore is never closed");
        self.slot_of(permit)
    }

    /// A slot if one is free now.
    pub(crate) fn try_slot(&self) -> Option<Slot<'_>> {
        self.slots.try_acquire().ok().map(|p| self.slot_of(p))
    }

    fn slot_of<'a>(&'a self, permit: SemaphorePermit<'a>) -> Slot<'a> {
        Slot {
            permit: Some(permit),
            gate: self,
            taken: Instant::now(),
        }
    }

    /// Takes one slot of debt, if any is owed.
    fn pay_debt(&self) -> bool {
        self.debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .is_ok()
    }

    /// Moves the semaphore from window `from` to window `to` (whole slots).
    fn resize(&self, from: usize, to: usize) {
        if to < from {
            let cut = from - to;
            let free = cut.min(self.slots.available_permits());
            let taken = u32::try_from(free)
                .ok()
                .and_then(|n| self.slots.try_acquire_many(n).ok());
            let forgotten = match taken {
                Some(permits) => {
                    permits.forget();
                    free
                }
                None => 0,
            };
            self.debt.fetch_add(cut - forgotten, Ordering::AcqRel);
        } else if to > from {
            let grow = to - from;
            let forgiven = match self
                .debt
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                    Some(d - d.min(grow))
                }) {
                Ok(before) => before.min(grow),
                Err(_) => 0,
            };
            self.slots.add_permits(grow - forgiven);
        }
        self.window.store(to, Ordering::Relaxed);
    }
}

impl Slot<'_> {
    /// Ends the call: `overloaded` when it failed because the shard could not keep up
    /// (deadline, exhausted resources). Returns the new window when it changed.
    pub(crate) fn finish(self, overloaded: bool) -> Option<usize> {
        let gate = self.gate;
        let adaptive = gate.adaptive.as_ref()?;
        let took = self.taken.elapsed().as_secs_f64();
        let mut window = adaptive.state.lock().unwrap_or_else(|e| e.into_inner());
        window.latency += (took - window.latency) * SMOOTHING;
        let slow = overloaded || window.latency > adaptive.target.as_secs_f64();
        let before = window.size as usize;
        if slow {
            if self.taken < window.decreased {
                return None;
            }
            window.size = (window.size * DECREASE).max(adaptive.floor as f64);
            window.decreased = Instant::now();
        } else {
            if window.size >= adaptive.ceiling as f64 || gate.in_flight() * 2 < before {
                return None;
            }
            window.size = (window.size + 1.0 / window.size).min(adaptive.ceiling as f64);
        }
        let after = window.size as usize;
        (after != before).then(|| {
            gate.resize(before, after);
            after
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take()
            && self.gate.pay_debt()
        {
            permit.forget();
        }
    }
}

#[cfg(test)]
mod tests;
