//! Who is whose contact: a deterministic ring. User i's contacts are i±1 … i±K/2 (mod N),
//! so every edge is mutual (both users hold a `both` roster item for each other), every user
//! has exactly K contacts, and provisioning and the scenarios compute the same graph from
//! (N, K) alone, without sharing any state.

/// The contact graph of a run.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    /// Users.
    pub n: u32,
    /// Contacts per user (even, below `n`).
    pub k: u32,
}

impl Ring {
    /// Checks that (n, k) gives K distinct mutual contacts per user.
    pub fn new(n: u32, k: u32) -> Result<Self, String> {
        if n == 0 {
            return Err("--users must be at least 1".into());
        }
        if !k.is_multiple_of(2) {
            return Err(format!("--contacts must be even (a ring of ±K/2), got {k}"));
        }
        if k >= n {
            return Err(format!("--contacts ({k}) must be below --users ({n})"));
        }
        Ok(Self { n, k })
    }

    /// The contacts of user `i`, nearest first.
    pub fn contacts(&self, i: u32) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.k as usize);
        for d in 1..=self.k / 2 {
            out.push((i + d) % self.n);
            out.push((i + self.n - d) % self.n);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edge_is_mutual_and_every_user_has_k_distinct_contacts() {
        for (n, k) in [(3, 2), (11, 4), (500, 10)] {
            let ring = Ring::new(n, k).unwrap();
            for i in 0..n {
                let c = ring.contacts(i);
                let mut sorted = c.clone();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted.len(), k as usize, "n={n} k={k} i={i}");
                assert!(!c.contains(&i));
                for j in c {
                    assert!(ring.contacts(j).contains(&i), "{i}→{j} not mutual");
                }
            }
        }
    }

    #[test]
    fn impossible_shapes_are_refused() {
        assert!(Ring::new(10, 3).is_err());
        assert!(Ring::new(4, 4).is_err());
        assert!(Ring::new(0, 0).is_err());
    }
}
