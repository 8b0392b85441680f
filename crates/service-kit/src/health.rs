//! Readiness: whether this process should be sent traffic now.
//!
//! Liveness and readiness are different questions. A process that is alive but still loading
//! (connecting to its dependencies, rebuilding state) or already draining must stay out of the
//! load balancer without being restarted, so the role flips this flag itself once it can serve,
//! and back when it starts shutting down. `/readyz` reports it (see [`crate::http`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared "ready to serve" flag. Clones share the same flag; it starts not ready, so a role is
/// never reported ready before it has said so.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
}

impl Readiness {
    /// A new flag, not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the process ready (or not, e.g. when it starts draining).
    pub fn set_ready(&self, ready: bool) {
        // Nothing else is published through this flag, so no ordering beyond the flag itself
        // is needed; Relaxed would do, Release/Acquire keeps it obvious.
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether the process is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn starts_not_ready_and_clones_share_the_flag() {
        let readiness = Readiness::new();
        let probe = readiness.clone();
        assert!(!probe.is_ready());
        readiness.set_ready(true);
        assert!(probe.is_ready());
        probe.set_ready(false);
        assert!(!readiness.is_ready());
    }
}
