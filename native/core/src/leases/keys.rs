//! What the keyspace commands need of the lease store: its live keys one shard at a time
//! (SCAN), one key's expiry (when its last lease ends), removal (DEL), bringing expiry forward
//! (EXPIRE), and memory per key. A child module of `leases`, so the shards stay private.

use std::mem::size_of;
use std::sync::atomic::Ordering;

use super::{Lease, Leases};

impl Leases {
    /// Calls `f(key, expiry of its last lease)` for every key with a lease live at `now`,
    /// under shard `i`'s lock (held for the whole walk, so the map cannot rehash under it).
    pub fn for_each_live_in(&self, i: usize, now: i64, mut f: impl FnMut(&[u8], i64)) {
        let shard = self.shards[i].lock().unwrap_or_else(|e| e.into_inner());
        for (key, held) in shard.iter() {
            if let Some(last) = last_expiry(held, now) {
                f(key, last);
            }
        }
    }

    /// Keys held in shard `i` (with only expired leases, not swept yet, included).
    pub fn shard_len(&self, i: usize) -> usize {
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// When `key`'s last live lease expires, or None if it holds none at `now`.
    pub fn expires_at(&self, key: &[u8], now: i64) -> Option<i64> {
        self.shard(key).get(key).and_then(|held| last_expiry(held, now))
    }

    /// Live leases on `key` and the bytes its entry takes (see `entry_bytes`), or None.
    pub fn footprint(&self, key: &[u8], now: i64) -> Option<usize> {
        let shard = self.shard(key);
        let held = shard.get(key)?;
        last_expiry(held, now)?;
        Some(entry_bytes(key.len(), held.capacity()))
    }

    /// Drops every lease on `key` (DEL); true if one was live.
    pub fn remove(&self, key: &[u8], now: i64) -> bool {
        let mut shard = self.shard(key);
        match shard.remove(key) {
            Some(held) => {
                self.keys.fetch_sub(1, Ordering::Relaxed);
                last_expiry(&held, now).is_some()
            }
            None => false,
        }
    }

    /// Ends every lease on `key` at `deadline` at the latest (at or before `now`: drops them
    /// all). Returns whether a live lease changed.
    pub fn shorten(&self, key: &[u8], deadline: i64, now: i64) -> bool {
        if deadline <= now {
            return self.remove(key, now);
        }
        self.with_live(key, now, |held| {
            let mut changed = false;
            for l in held.iter_mut().filter(|l| l.expires_at > deadline) {
                l.expires_at = deadline;
                changed = true;
            }
            changed
        })
    }
}

fn last_expiry(held: &[Lease], now: i64) -> Option<i64> {
    held.iter().map(|l| l.expires_at).filter(|&at| at > now).max()
}

/// Bytes a lease key takes: its map entry (boxed key pointer and length, the Vec's pointer,
/// length and capacity) and hashbrown's control byte under its 7/8 maximum load factor, the
/// key's allocation and the Vec's (16 bytes a lease), each rounded up to 16 bytes.
pub fn entry_bytes(key_len: usize, leases_capacity: usize) -> usize {
    (size_of::<(Box<[u8]>, Vec<Lease>)>() + 1) * 8 / 7
        + key_len.div_ceil(16) * 16
        + (leases_capacity * size_of::<Lease>()).div_ceil(16) * 16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;

    const S: i64 = 1_000_000_000;

    #[test]
    fn expiry_is_the_last_live_lease_and_remove_frees_the_key() {
        let l = Leases::default();
        l.acquire(b"p", 3, 5 * S, 0);
        l.acquire(b"p", 3, 9 * S, 0);
        assert_eq!(l.expires_at(b"p", 0), Some(9 * S));
        assert_eq!(l.expires_at(b"p", 9 * S), None);
        assert!(l.remove(b"p", S));
        assert!(!l.remove(b"p", S));
        assert_eq!(l.len(), 0);
        assert_eq!(l.acquire(b"p", 1, S, S).in_use, 1, "the slots are free again");
    }

    #[test]
    fn shorten_caps_every_lease() {
        let l = Leases::default();
        l.acquire(b"p", 3, 5 * S, 0);
        l.acquire(b"p", 3, 9 * S, 0);
        assert!(l.shorten(b"p", 2 * S, 0));
        assert_eq!(l.expires_at(b"p", 0), Some(2 * S));
        assert!(!l.shorten(b"p", 3 * S, 0), "cannot lengthen");
        assert_eq!(l.count(b"p", 2 * S), 0);
        assert!(l.shorten(b"p", 0, 0) || l.len() == 0);
    }

    #[test]
    fn walks_see_live_keys_only() {
        let l = Leases::default();
        l.acquire(b"a", 1, S, 0);
        l.acquire(b"b", 1, 3 * S, 0);
        let mut seen = Vec::new();
        for i in 0..crate::limits::store::SHARDS {
            l.for_each_live_in(i, 2 * S, |k, at| seen.push((k.to_vec(), at)));
        }
        assert_eq!(seen, vec![(b"b".to_vec(), 3 * S)]);
    }
}
