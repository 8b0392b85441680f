//! Who is whose contact: a deterministic ring. User i's contacts are i±1 … i±K/2 (mod N),
//! so every edge is mutual (both users hold a `both` roster item for each other), every user
//! has exactly K contacts, and provisioning and the scenarios compute the same graph from
//! (O, N, K) alone, without sharing any state.
//!
//! A ring may start at user O instead of user 0 ([`Ring::starting_at`]): it is then a closed
//! partition of users O … O+N−1, whose contacts are all within it. Several generator processes,
//! each with its own partition, together carry more sessions than one process may hold
//! descriptors for, and each still expects only deliveries between its own users, so each can
//! account for them on its own. Indices are global throughout: user `i` is `user{i}`.

use std::ops::Range;

/// The contact graph of a run.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    /// The first user, O.
    pub first: u32,
    /// Users.
    pub n: u32,
    /// Contacts per user (even, below `n`).
    pub k: u32,
}

impl Ring {
    /// Checks that (n, k) gives K distinct mutual contacts per user; the ring starts at user 0.
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
        Ok(Self { first: 0, n, k })
    }

    /// The same ring over users `first` … `first + n − 1`.
    pub fn starting_at(self, first: u32) -> Result<Self, String> {
        if first.checked_add(self.n).is_none() {
            return Err(format!(
                "--first-user {first} plus --users {} exceeds the last user index {}",
                self.n,
                u32::MAX
            ));
        }
        Ok(Self { first, ..self })
    }

    /// The users of the ring, in order.
    pub fn users(&self) -> Range<u32> {
        self.first..self.first + self.n
    }

    /// Whether user `i` belongs to the ring.
    pub fn contains(&self, i: u32) -> bool {
        self.users().contains(&i)
    }

    /// The contacts of user `i` (one of [`Ring::users`]), nearest first.
    pub fn contacts(&self, i: u32) -> Vec<u32> {
        debug_assert!(self.contains(i), "user{i} is not in {:?}", self.users());
        let local = i - self.first;
        let mut out = Vec::with_capacity(self.k as usize);
        for d in 1..=self.k / 2 {
            out.push(self.first + (local + d) % self.n);
            out.push(self.first + (local + self.n - d) % self.n);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_closed_and_mutual(ring: Ring) {
        let (n, k) = (ring.n, ring.k);
        for i in ring.users() {
            let c = ring.contacts(i);
            let mut sorted = c.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), k as usize, "n={n} k={k} i={i}");
            assert!(!c.contains(&i));
            for j in c {
                assert!(ring.contains(j), "{i}→{j} leaves {:?}", ring.users());
                assert!(ring.contacts(j).contains(&i), "{i}→{j} not mutual");
            }
        }
    }

    #[test]
    fn every_edge_is_mutual_and_every_user_has_k_distinct_contacts() {
        for (n, k) in [(3, 2), (11, 4), (500, 10)] {
            assert_closed_and_mutual(Ring::new(n, k).unwrap());
        }
    }

    #[test]
    fn a_partition_is_the_same_ring_shifted_closed_and_mutual() {
        for (first, n, k) in [(300, 300, 10), (7, 3, 2), (18_000, 11, 4)] {
            let base = Ring::new(n, k).unwrap();
            let ring = base.starting_at(first).unwrap();
            assert_eq!(ring.users(), first..first + n);
            assert!(!ring.contains(first - 1) && !ring.contains(first + n));
            assert_closed_and_mutual(ring);
            for i in base.users() {
                let shifted: Vec<u32> = base.contacts(i).iter().map(|c| c + first).collect();
                assert_eq!(ring.contacts(i + first), shifted);
            }
        }
        // The wrap-around stays inside the partition: user300's ring neighbours below are
        // the partition's last users, not user299.
        let ring = Ring::new(300, 4).unwrap().starting_at(300).unwrap();
        assert_eq!(ring.contacts(300), [301, 599, 302, 598]);
        assert_eq!(ring.contacts(599), [300, 598, 301, 597]);
    }

    #[test]
    fn a_partition_is_provisioned_under_its_global_names() {
        let ring = Ring::new(3, 2).unwrap().starting_at(300).unwrap();
        let mut out = Vec::new();
        crate::provision::batch_file(&mut out, ring, "localhost", "pw").unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3 + 6);
        assert_eq!(lines[0], "user\tuser300\tlocalhost\tpw");
        assert_eq!(lines[2], "user\tuser302\tlocalhost\tpw");
        assert_eq!(lines[3], "contact\tuser300\tlocalhost\tuser301");
        assert_eq!(lines[4], "contact\tuser300\tlocalhost\tuser302");
        for line in lines {
            let fields: Vec<&str> = line.split('\t').collect();
            for name in [fields[1], fields[3]]
                .into_iter()
                .filter(|f| f.starts_with("user"))
            {
                let i: u32 = name["user".len()..].parse().unwrap();
                assert!(ring.contains(i), "{line}");
            }
        }
    }

    #[test]
    fn impossible_shapes_are_refused() {
        assert!(Ring::new(10, 3).is_err());
        assert!(Ring::new(4, 4).is_err());
        assert!(Ring::new(0, 0).is_err());
        assert!(Ring::new(10, 2).unwrap().starting_at(u32::MAX - 5).is_err());
        assert!(Ring::new(10, 2).unwrap().starting_at(u32::MAX - 10).is_ok());
    }
}
