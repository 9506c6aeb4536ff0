//! What the keyspace commands need of the limiter stores: one shard of all three at once (for
//! SCAN), one key's expiry per algorithm, bringing expiry forward (EXPIRE), and the memory an
//! entry takes. A child module of `limits`, so the stores stay private fields.

use std::sync::MutexGuard;

use super::store::{Shard, Store};
use super::{fixed, sliding, Algo, Limits};

/// Shard `i` of each store, locked together (in the stores' fixed order: GCRA, sliding, fixed,
/// the same order RL.ALL takes them in).
pub struct ShardSet<'a> {
    pub gcra: MutexGuard<'a, Shard<()>>,
    pub sliding: MutexGuard<'a, Shard<sliding::Rest>>,
    pub fixed: MutexGuard<'a, Shard<fixed::Rest>>,
}

impl Limits {
    /// Locks shard `i` of every store.
    pub fn lock_shards(&self, i: usize) -> ShardSet<'_> {
        ShardSet { gcra: self.gcra.lock(i), sliding: self.sliding.lock(i), fixed: self.fixed.lock(i) }
    }

    /// Entries held in shard `i` across the three stores, without locking.
    pub fn shard_len(&self, i: usize) -> usize {
        self.gcra.shard_len(i) + self.sliding.shard_len(i) + self.fixed.shard_len(i)
    }

    /// When `key`'s state under `algo` is forgotten (back to full), or None if it has none.
    pub fn expires_at(&self, algo: Algo, key: &[u8], now: i64) -> Option<i64> {
        match algo {
            Algo::Gcra => self.gcra.expires_at(key, now),
            Algo::Sliding => self.sliding.expires_at(key, now),
            Algo::Fixed => self.fixed.expires_at(key, now),
        }
    }

    /// Brings `key`'s expiry under every algorithm forward to `deadline` (at or before `now`:
    /// forgets it). For GCRA the one number is both the expiry and the bucket (its theoretical
    /// arrival time), so the bucket is then full at `deadline`: it refills faster, and never
    /// holds more than it did. Windows keep their counts until `deadline`, then read as empty.
    /// Returns whether any state changed.
    pub fn shorten(&self, key: &[u8], deadline: i64, now: i64) -> bool {
        let a = self.gcra.shorten(key, deadline, now);
        let b = self.sliding.shorten(key, deadline, now);
        let c = self.fixed.shorten(key, deadline, now);
        a || b || c
    }

    /// Bytes an entry of a `key_len`-byte key takes in `algo`'s store (see `Store::entry_bytes`).
    pub fn entry_bytes(algo: Algo, key_len: usize) -> usize {
        match algo {
            Algo::Gcra => Store::<()>::entry_bytes(key_len),
            Algo::Sliding => Store::<sliding::Rest>::entry_bytes(key_len),
            Algo::Fixed => Store::<fixed::Rest>::entry_bytes(key_len),
        }
    }
}
