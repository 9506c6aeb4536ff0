//! A bounded cache of token counts for repeated texts (system prompts repeat on every
//! request). Keyed by encoding and a 128-bit BLAKE3 digest of the text, so a client cannot
//! craft two texts that share an entry. Eviction is CLOCK (second chance): a hit marks the
//! entry, the hand clears marks and evicts the first unmarked entry it finds. One mutex guards
//! it; the critical section is a hash lookup, short next to counting even a short text.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Encoding index and the first 16 bytes of the text's BLAKE3 digest.
pub type Key = (u8, [u8; 16]);

pub fn key(encoding: u8, text: &[u8]) -> Key {
    let digest = blake3::hash(text);
    let mut k = [0u8; 16];
    k.copy_from_slice(&digest.as_bytes()[..16]);
    (encoding, k)
}

struct Slot {
    key: Key,
    count: u32,
    referenced: bool,
}

struct Inner {
    capacity: usize,
    index: HashMap<Key, usize>,
    slots: Vec<Slot>,
    hand: usize,
}

pub struct CountCache {
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Figures for INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    pub capacity: usize,
}

impl CountCache {
    pub fn new() -> Self {
        CountCache {
            inner: Mutex::new(Inner { capacity: 0, index: HashMap::new(), slots: Vec::new(), hand: 0 }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Sets the most entries held (0 turns the cache off) and empties it.
    pub fn set_capacity(&self, capacity: usize) {
        let mut g = self.lock();
        g.capacity = capacity;
        g.index = HashMap::with_capacity(capacity.min(1 << 16));
        g.slots = Vec::new();
        g.hand = 0;
    }

    pub fn enabled(&self) -> bool {
        self.lock().capacity > 0
    }

    pub fn get(&self, key: &Key) -> Option<u32> {
        let mut g = self.lock();
        match g.index.get(key).copied() {
            Some(i) => {
                g.slots[i].referenced = true;
                let count = g.slots[i].count;
                drop(g);
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(count)
            }
            None => {
                drop(g);
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub fn insert(&self, key: Key, count: u32) {
        let mut g = self.lock();
        if g.capacity == 0 {
            return;
        }
        if let Some(&i) = g.index.get(&key) {
            g.slots[i].count = count;
            return;
        }
        if g.slots.len() < g.capacity {
            let i = g.slots.len();
            g.slots.push(Slot { key, count, referenced: false });
            g.index.insert(key, i);
            return;
        }
        // CLOCK: advance the hand past referenced entries (clearing them) to a victim.
        loop {
            let h = g.hand;
            g.hand = (h + 1) % g.capacity;
            if g.slots[h].referenced {
                g.slots[h].referenced = false;
                continue;
            }
            let old = g.slots[h].key;
            g.index.remove(&old);
            g.slots[h] = Slot { key, count, referenced: false };
            g.index.insert(key, h);
            return;
        }
    }

    pub fn stats(&self) -> Stats {
        let g = self.lock();
        Stats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: g.slots.len(),
            capacity: g.capacity,
        }
    }

    pub fn reset_stats(&self) {
        self.hits.store(0, Ordering::Relaxed);
        self.misses.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_counts_misses() {
        let c = CountCache::new();
        let k = key(0, b"hello");
        c.insert(k, 1);
        assert_eq!(c.get(&k), None);
        assert_eq!(c.stats(), Stats { hits: 0, misses: 1, entries: 0, capacity: 0 });
    }

    #[test]
    fn hits_after_insert_and_keys_differ_by_encoding() {
        let c = CountCache::new();
        c.set_capacity(4);
        c.insert(key(1, b"system prompt"), 3);
        assert_eq!(c.get(&key(1, b"system prompt")), Some(3));
        assert_eq!(c.get(&key(2, b"system prompt")), None);
        assert_eq!(c.get(&key(1, b"system prompt!")), None);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries), (1, 2, 1));
    }

    #[test]
    fn stays_bounded_and_keeps_recently_used_entries() {
        let c = CountCache::new();
        c.set_capacity(3);
        for i in 0..3u32 {
            c.insert(key(0, &i.to_le_bytes()), i);
        }
        // Entry 0 is used; inserting two more evicts 1 and 2 (unmarked) before 0.
        assert_eq!(c.get(&key(0, &0u32.to_le_bytes())), Some(0));
        c.insert(key(0, &10u32.to_le_bytes()), 10);
        c.insert(key(0, &11u32.to_le_bytes()), 11);
        assert_eq!(c.stats().entries, 3);
        assert_eq!(c.get(&key(0, &0u32.to_le_bytes())), Some(0));
        assert_eq!(c.get(&key(0, &1u32.to_le_bytes())), None);
        assert_eq!(c.get(&key(0, &2u32.to_le_bytes())), None);
        assert_eq!(c.get(&key(0, &11u32.to_le_bytes())), Some(11));
        for i in 100..1000u32 {
            c.insert(key(0, &i.to_le_bytes()), i);
        }
        assert_eq!(c.stats().entries, 3);
    }

    #[test]
    fn resizing_empties() {
        let c = CountCache::new();
        c.set_capacity(8);
        c.insert(key(0, b"a"), 1);
        c.set_capacity(8);
        assert_eq!(c.get(&key(0, b"a")), None);
    }
}
