//! Concurrency leases (SEM.*): at most `limit` holders of a key at once. Each lease has an id
//! and an expiry; a holder that dies without releasing frees its slot when the TTL passes.
//! Every operation takes `now` (ns on the daemon's monotonic clock).

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

#[derive(Clone, Copy, Debug)]
struct Lease {
    id: u64,
    expires_at: i64,
}

#[derive(Default)]
pub struct Leases {
    map: DashMap<Box<[u8]>, Vec<Lease>>,
    next_id: AtomicU64,
}

/// SEM.ACQUIRE's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Acquired {
    /// The new lease's id, or None when all `limit` slots are held.
    pub lease: Option<u64>,
    /// Leases held after this call.
    pub in_use: usize,
}

fn live(v: &mut Vec<Lease>, now: i64) {
    v.retain(|l| l.expires_at > now);
}

impl Leases {
    pub fn acquire(&self, key: &[u8], limit: usize, ttl_ns: i64, now: i64) -> Acquired {
        let mut held = self.map.entry(key.into()).or_default();
        live(&mut held, now);
        if held.len() >= limit {
            let in_use = held.len();
            let empty = in_use == 0;
            drop(held);
            if empty {
                self.map.remove_if(key, |_, v| v.is_empty());
            }
            return Acquired { lease: None, in_use };
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        held.push(Lease { id, expires_at: now.saturating_add(ttl_ns) });
        Acquired { lease: Some(id), in_use: held.len() }
    }

    /// Frees a lease; false if it was not held (already released or expired).
    pub fn release(&self, key: &[u8], id: u64, now: i64) -> bool {
        let Some(mut held) = self.map.get_mut(key) else { return false };
        live(&mut held, now);
        let before = held.len();
        held.retain(|l| l.id != id);
        let released = held.len() < before;
        let empty = held.is_empty();
        drop(held);
        if empty {
            self.map.remove_if(key, |_, v| v.is_empty());
        }
        released
    }

    /// Gives a held lease `ttl_ns` more from now; false if it is not held.
    pub fn extend(&self, key: &[u8], id: u64, ttl_ns: i64, now: i64) -> bool {
        let Some(mut held) = self.map.get_mut(key) else { return false };
        live(&mut held, now);
        match held.iter_mut().find(|l| l.id == id) {
            Some(l) => {
                l.expires_at = now.saturating_add(ttl_ns);
                true
            }
            None => false,
        }
    }

    /// Leases held on `key` at `now`.
    pub fn count(&self, key: &[u8], now: i64) -> usize {
        self.map.get(key).map_or(0, |h| h.iter().filter(|l| l.expires_at > now).count())
    }

    /// Drops expired leases and keys left with none.
    pub fn sweep(&self, now: i64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, v| {
            live(v, now);
            !v.is_empty()
        });
        before - self.map.len()
    }
}

impl crate::keyspace::KeyStore for Leases {
    fn len(&self) -> usize {
        self.map.len()
    }
    fn clear(&self) {
        self.map.clear();
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
        assert_eq!(l.sweep(2 * S), 1);
        assert_eq!(crate::keyspace::KeyStore::len(&l), 1);
        l.acquire(b"c", 0, S, 0);
        assert_eq!(crate::keyspace::KeyStore::len(&l), 1, "a refused acquire leaves no key behind");
    }
}
