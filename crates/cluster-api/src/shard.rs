//! Which shard owns a bare JID: `jump(xxh3_64(bare JID bytes), N)`.
//!
//! Every pod must compute the same answer, across processes, versions and languages, so both
//! halves are fully specified algorithms with no seed: XXH3-64 with its default secret over
//! the normalized bare JID (RFC 7622, so `Juliet@Example.COM` and `juliet@example.com` land
//! together), then the jump consistent hash of Lamping and Veach ("A Fast, Minimal Memory,
//! Consistent Hash Algorithm", 2014). Jump hash moves only `1/(N+1)` of the users when a shard
//! is added, and needs no ring or table. (`std::hash::Hash` is not stable across Rust
//! versions, and hashers seeded at random differ per process: neither may be used here.)

use std::num::NonZeroU32;

use xmpp_core::Jid;

/// The fixed number of shards of a deployment.
pub type ShardCount = NonZeroU32;

/// The shard, in `0..shards`, that owns `jid`'s bare JID.
pub fn shard_of(jid: &Jid, shards: ShardCount) -> u32 {
    let key = if jid.is_bare() {
        xxhash_rust::xxh3::xxh3_64(jid.as_str().as_bytes())
    } else {
        xxhash_rust::xxh3::xxh3_64(jid.bare().as_str().as_bytes())
    };
    jump_hash(key, shards.get())
}

/// The jump consistent hash: a bucket in `0..buckets` for `key`.
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // The algorithm's floating-point step, as published.
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // `b` is in 0..buckets, which fits u32.
    u32::try_from(b).unwrap_or(0)
}

#[cfg(test)]
mod tests;
