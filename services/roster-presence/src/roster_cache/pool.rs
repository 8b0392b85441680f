//! One copy of each contact JID among the rosters a shard holds.
//!
//! Why: a user's JID appears in the roster of each of their contacts, and the shard holds
//! the roster of every online user, so without sharing a roster of K contacts holds K JID
//! strings of its own (about 40 bytes each with the allocator's share: 0.8 KB per online
//! user at K = 20, 4 KB at K = 100). Interned, each JID is stored once per shard however
//! many rosters hold it.
//!
//! Bound: the pool keeps a JID that no roster holds any more until its next sweep, which
//! drops every such JID and runs when the pool has grown to twice its size after the
//! previous sweep (and at least [`FIRST_SWEEP`]); so it holds at most about twice the JIDs
//! that the held rosters share, and sweeping costs O(1) per interned JID, amortized.

use std::collections::HashSet;

use xmpp_core::Jid;

/// Size at which the first sweep runs: below it, stale JIDs cost less than sweeping.
const FIRST_SWEEP: usize = 1024;

/// The shared JIDs.
#[derive(Debug)]
pub(crate) struct JidPool {
    jids: HashSet<Jid>,
    /// Sweep when the pool reaches this size.
    sweep_at: usize,
    /// The smallest `sweep_at`.
    first_sweep: usize,
}

impl Default for JidPool {
    fn default() -> Self {
        Self::with_first_sweep(FIRST_SWEEP)
    }
}

impl JidPool {
    pub(crate) fn with_first_sweep(first_sweep: usize) -> Self {
        Self {
            jids: HashSet::new(),
            sweep_at: first_sweep,
            first_sweep,
        }
    }

    /// The pool's copy of `jid`, which becomes the pool's copy if it had none.
    pub(crate) fn intern(&mut self, jid: Jid) -> Jid {
        if let Some(shared) = self.jids.get(jid.as_str()) {
            return shared.clone();
        }
        if self.jids.len() >= self.sweep_at {
            self.sweep();
        }
        self.jids.insert(jid.clone());
        jid
    }

    /// Drops the JIDs that only the pool holds.
    fn sweep(&mut self) {
        self.jids.retain(|jid| jid.holders() > 1);
        self.jids.shrink_to_fit();
        self.sweep_at = (2 * self.jids.len()).max(self.first_sweep);
    }

    /// Number of JIDs in the pool, held elsewhere or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.jids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(i: usize) -> Jid {
        Jid::new(&format!("user{i}@example.org")).unwrap()
    }

    #[test]
    fn equal_jids_share_one_copy() {
        let mut pool = JidPool::default();
        let a = pool.intern(jid(1));
        let b = pool.intern(jid(1));
        assert_eq!(a, b);
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        assert_eq!(a.holders(), 3, "a, b and the pool");
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn jids_no_one_holds_are_swept_and_the_pool_stays_bounded() {
        let mut pool = JidPool::with_first_sweep(4);
        let kept: Vec<Jid> = (0..3).map(|i| pool.intern(jid(i))).collect();
        for i in 3..1000 {
            // Interned and dropped at once, as by a roster that was forgotten.
            pool.intern(jid(i));
            assert!(pool.len() <= 8, "{} JIDs after {i}", pool.len());
        }
        for (i, k) in kept.iter().enumerate() {
            let again = pool.intern(jid(i));
            assert_eq!(
                again.as_str().as_ptr(),
                k.as_str().as_ptr(),
                "held JIDs survive"
            );
        }
    }
}
