//! Concurrency leases (SEM.*): at most `limit` holders of a key at once. Each lease has an id
//! and an expiry; a holder that dies without releasing frees its slot when the TTL passes.
//! Every operation takes `now` (ns on the daemon's monotonic clock).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::limits::store::{hash_key, shard_of, SHARDS};

pub mod keys;
mod snapshot;

#[derive(Clone, Copy, Debug)]
struct Lease {
    id: u64,
    expires_at: i64,
}

type Shard = HashMap<Box<[u8]>, Vec<Lease>>;

/// Lease holders by key, in shards behind their own locks (swept a few shards per tick).
pub struct Leases {
    shards: Box<[Mutex<Shard>]>,
    keys: AtomicUsize,
    next_id: AtomicU64,
    cursor: Mutex<usize>,
}

impl Default for Leases {
    fn default() -> Self {
        Leases {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            keys: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            cursor: Mutex::new(0),
        }
    }
}

/// SEM.ACQUIRE's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Acquired {
    /// The new lease's id, or None when all `limit` slots are held.
    pub lease: Option<u64>,
    /// Leases held after this call.
    pub in_use: usize,
}

impl Leases {
    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.shards[shard_of(hash_key(key))].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on `key`'s live leases (expired ones dropped first); the key disappears when
    /// none are left.
    fn with_live<T>(&self, key: &[u8], now: i64, f: impl FnOnce(&mut Vec<Lease>) -> T) -> T {
        let mut shard = self.shard(key);
        let mut held = shard.remove(key).unwrap_or_default();
        let had = !held.is_empty();
        held.retain(|l| l.expires_at > now);
        let out = f(&mut held);
        match (had, held.is_empty()) {
            (true, true) => {
                self.keys.fetch_sub(1, Ordering::Relaxed);
            }
            (false, false) => {
                self.keys.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if !held.is_empty() {
            shard.insert(key.into(), held);
        }
        out
    }

    pub fn acquire(&self, key: &[u8], limit: usize, ttl_ns: i64, now: i64) -> Acquired {
        self.with_live(key, now, |held| {
            if held.len() >= limit {
                return Acquired { lease: None, in_use: held.len() };
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            held.push(Lease { id, expires_at: now.saturating_add(ttl_ns) });
            Acquired { lease: Some(id), in_use: held.len() }
        })
    }

    /// Frees a lease; false if it was not held (already released or expired).
    pub fn release(&self, key: &[u8], id: u64, now: i64) -> bool {
        self.with_live(key, now, |held| {
            let before = held.len();
            held.retain(|l| l.id != id);
            held.len() < before
        })
    }

    /// Gives a held lease `ttl_ns` more from now; false if it is not held.
    pub fn extend(&self, key: &[u8], id: u64, ttl_ns: i64, now: i64) -> bool {
        self.with_live(key, now, |held| match held.iter_mut().find(|l| l.id == id) {
            Some(l) => {
                l.expires_at = now.saturating_add(ttl_ns);
                true
            }
            None => false,
        })
    }

    /// Leases held on `key` at `now`.
    pub fn count(&self, key: &[u8], now: i64) -> usize {
        self.shard(key).get(key).map_or(0, |h| h.iter().filter(|l| l.expires_at > now).count())
    }

    /// Live leases across every key (the metrics endpoint; walks every shard, one at a time).
    pub fn held(&self, now: i64) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).values().map(|v| v.iter().filter(|l| l.expires_at > now).count()).sum::<usize>()).sum()
    }

    /// Drops expired leases and the keys left with none, whole shards at a time from where the
    /// last call stopped, until about `budget` keys were examined. Returns keys removed.
    pub fn sweep(&self, now: i64, budget: usize) -> usize {
        self.sweep_step(now, budget).1
    }

    /// `sweep`, returning (keys examined, keys removed).
    pub fn sweep_step(&self, now: i64, budget: usize) -> (usize, usize) {
        let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        let (mut examined, mut removed) = (0, 0);
        for _ in 0..SHARDS {
            let mut shard = self.shards[*cursor].lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            examined += before;
            shard.retain(|_, v| {
                v.retain(|l| l.expires_at > now);
                !v.is_empty()
            });
            let left = shard.len();
            if shard.capacity() > 64 && left * 4 < shard.capacity() {
                shard.shrink_to(left * 2);
            }
            removed += before - shard.len();
            drop(shard);
            *cursor = (*cursor + 1) % SHARDS;
            if examined >= budget {
                break;
            }
        }
        self.keys.fetch_sub(removed, Ordering::Relaxed);
        (examined, removed)
    }
}

impl crate::family::Family for Leases {
    fn name(&self) -> &'static str {
        "leases"
    }
    fn len(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }
    fn clear(&self) {
        for s in self.shards.iter() {
            let mut shard = s.lock().unwrap_or_else(|e| e.into_inner());
            self.keys.fetch_sub(shard.len(), Ordering::Relaxed);
            *shard = HashMap::new();
        }
    }
    /// Every key's live leases and the next lease id (leases/snapshot.rs).
    fn snapshot(&self, now_ns: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
        snapshot::write(self, now_ns, unix_ns_at_now, out);
        true
    }
    fn restore(&self, bytes: &[u8], now_ns: i64, unix_ns_at_now: i64) -> Result<usize, crate::family::RestoreError> {
        snapshot::read(self, bytes, now_ns, unix_ns_at_now, false)
    }
    /// The live leases of the keys `keep` accepts (leases/snapshot.rs).
    fn export(&self, keep: &dyn Fn(&[u8]) -> bool, now_ns: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
        snapshot::write_keys(self, Some(keep), now_ns, unix_ns_at_now, out);
        true
    }
    fn import(&self, bytes: &[u8], now_ns: i64, unix_ns_at_now: i64) -> Result<usize, crate::family::RestoreError> {
        snapshot::read(self, bytes, now_ns, unix_ns_at_now, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn at_most_limit_holders_and_release_frees_a_slot() {
        let l = Leases::default();
        let a = l.acquire(b"p", 2, 10 * S, 0);
        let b = l.acquire(b"p", 2, 10 * S, 0);
        assert_eq!((a.in_use, b.in_use), (1, 2));
        assert_ne!(a.lease, b.lease);
        assert_eq!(l.acquire(b"p", 2, 10 * S, 0), Acquired { lease: None, in_use: 2 });
        assert!(l.release(b"p", a.lease.unwrap(), 1));
        assert!(!l.release(b"p", a.lease.unwrap(), 1), "release is idempotent");
        assert_eq!(l.count(b"p", 1), 1);
        assert!(l.acquire(b"p", 2, 10 * S, 1).lease.is_some());
    }

    #[test]
    fn dead_holders_free_their_slot_at_ttl_and_extend_keeps_it() {
        let l = Leases::default();
        let a = l.acquire(b"p", 1, 5 * S, 0).lease.unwrap();
        assert!(l.acquire(b"p", 1, 5 * S, 5 * S - 1).lease.is_none());
        assert!(l.extend(b"p", a, 5 * S, 4 * S));
        assert!(l.acquire(b"p", 1, 5 * S, 8 * S).lease.is_none(), "extended to 9 s");
        assert_eq!(l.count(b"p", 9 * S), 0);
        assert!(!l.extend(b"p", a, 5 * S, 9 * S), "an expired lease cannot be extended");
        assert!(l.acquire(b"p", 1, 5 * S, 9 * S).lease.is_some());
    }

    #[test]
    fn sweep_drops_keys_with_only_expired_leases() {
        let l = Leases::default();
        l.acquire(b"a", 3, S, 0);
        l.acquire(b"b", 3, 3 * S, 0);
        assert_eq!(l.sweep(2 * S, usize::MAX), 1);
        assert_eq!(crate::family::Family::len(&l), 1);
        l.acquire(b"c", 0, S, 0);
        assert_eq!(crate::family::Family::len(&l), 1, "a refused acquire leaves no key behind");
    }

    #[test]
    fn sweep_walks_a_bounded_slice_and_counts_stay_right() {
        let l = Leases::default();
        for i in 0..10_000u32 {
            l.acquire(&i.to_be_bytes(), 1, S, 0);
        }
        assert_eq!(crate::family::Family::len(&l), 10_000);
        let first = l.sweep(2 * S, 1);
        assert!(first > 0 && first < 200, "one step removed {first}");
        let mut total = first;
        for _ in 0..crate::limits::store::SHARDS {
            total += l.sweep(2 * S, 1);
        }
        assert_eq!(total, 10_000);
        assert_eq!(crate::family::Family::len(&l), 0);
        // Lazy expiry keeps the count right too.
        let id = l.acquire(b"x", 1, S, 0).lease.unwrap();
        assert!(!l.release(b"x", id, 2 * S));
        assert_eq!(crate::family::Family::len(&l), 0);
    }
}
