use super::*;

fn n(v: u32) -> ShardCount {
    ShardCount::new(v).unwrap()
}

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

#[test]
fn reference_vector_shared_with_external_tooling() {
    // The same value a reimplementation (e.g. in the load generator's scripts) must produce.
    assert_eq!(shard_of(&jid("juliet@example.com"), n(16)), 10);
}

#[test]
fn normalized_and_full_jids_land_with_their_bare_jid() {
    let shards = n(64);
    let home = shard_of(&jid("juliet@example.com"), shards);
    for other in [
        "Juliet@Example.COM",
        "juliet@example.com/balcony",
        "JULIET@example.com/chamber",
    ] {
        assert_eq!(shard_of(&jid(other), shards), home, "{other}");
    }
}

#[test]
fn one_shard_owns_everything() {
    for i in 0..100 {
        assert_eq!(shard_of(&jid(&format!("user{i}@example.com")), n(1)), 0);
    }
}

fn users() -> impl Iterator<Item = Jid> {
    (0..20_000).map(|i| jid(&format!("user{i}@example.com")))
}

#[test]
fn spread_is_even_across_shards() {
    let shards = 16u32;
    let mut counts = vec![0u32; shards as usize];
    for u in users() {
        counts[shard_of(&u, n(shards)) as usize] += 1;
    }
    // 1,250 expected per shard; the keys are fixed, so this is deterministic.
    for (i, c) in counts.iter().enumerate() {
        assert!((1_100..=1_400).contains(c), "shard {i} has {c}: {counts:?}");
    }
}

#[test]
fn adding_a_shard_moves_only_users_to_the_new_shard() {
    let (before, after) = (n(16), n(17));
    let mut moved = 0;
    for u in users() {
        let (a, b) = (shard_of(&u, before), shard_of(&u, after));
        if a != b {
            assert_eq!(b, 16, "{u} moved between old shards");
            moved += 1;
        }
    }
    // About 1/17 of 20,000 (1,176) move.
    assert!((1_000..=1_350).contains(&moved), "{moved} moved");
}

#[test]
fn jump_hash_edge_cases_and_monotonicity() {
    // Key 0 draws j = 2^31 on its first step, so it stays in bucket 0 for any count.
    assert_eq!(jump_hash(0, 1), 0);
    assert_eq!(jump_hash(0, 1000), 0);
    assert_eq!(jump_hash(1, 1), 0);
    for key in [1u64, 42, 0xdead_beef, u64::MAX] {
        let b = jump_hash(key, 1000);
        assert!(b < 1000);
        // Monotone: with more buckets a key stays or moves to a new bucket.
        let c = jump_hash(key, 1001);
        assert!(c == b || c == 1000);
    }
}
