//! What the keyspace commands (SCAN, TYPE, PTTL, EXPIRE, MEMORY USAGE) need of a store: its
//! live keys one shard at a time, one key's expiry, and what an entry costs in memory. A child
//! module of `store`, so it reads the slot layout without making it public.

use std::mem::size_of;

use super::{hash_key, shard_of, Shard, Slot, Store, INLINE, INLINE_MEDIUM};

impl<R: Copy> Shard<R> {
    /// Calls `f(key, expires_at)` for every entry live at `now` (not yet back to full), in
    /// table order. The caller holds the shard's lock for the whole walk, so a table cannot
    /// rehash under it.
    pub fn for_each_live(&self, now: i64, mut f: impl FnMut(&[u8], i64)) {
        for s in self.small.iter() {
            if s.expires_at() > now {
                f(s.key(), s.expires_at());
            }
        }
        for s in self.medium.iter() {
            if s.expires_at() > now {
                f(s.key(), s.expires_at());
            }
        }
        for (k, v) in self.large.iter() {
            if v.0 > now {
                f(k, v.0);
            }
        }
    }
}

impl<R: Copy> Store<R> {
    /// When `key`'s live state is forgotten (back to full), or None if it holds none at `now`.
    pub fn expires_at(&self, key: &[u8], now: i64) -> Option<i64> {
        let hash = hash_key(key);
        self.lock(shard_of(hash)).get(key, hash, now).map(|(at, _)| at)
    }

    /// Brings `key`'s expiry forward to `deadline` if it is later; a deadline at or before
    /// `now` removes the entry. The rest of the state is kept as it is. Returns whether the
    /// entry changed.
    pub fn shorten(&self, key: &[u8], deadline: i64, now: i64) -> bool {
        self.update(key, now, |st| match st {
            Some((at, rest)) if at > deadline => (true, Some(Some((deadline, rest)))),
            _ => (false, None),
        })
    }

    /// Bytes an entry for a key of `key_len` bytes takes. Inline keys (up to 32 bytes): the
    /// slot (key bytes, the packed length and expiry, the algorithm's state) plus hashbrown's
    /// one control byte, scaled by its maximum load factor of 7/8 (a table is at least 1/8
    /// empty). Longer keys: the map entry (boxed key pointer and length, expiry, state) and its
    /// control byte under the same load factor, plus the key's own allocation (rounded up to
    /// the allocator's 16-byte granularity).
    pub fn entry_bytes(key_len: usize) -> usize {
        let in_table = |entry: usize| (entry + 1) * 8 / 7;
        match key_len {
            0..=INLINE => in_table(size_of::<Slot<R, INLINE>>()),
            ..=INLINE_MEDIUM => in_table(size_of::<Slot<R, INLINE_MEDIUM>>()),
            _ => in_table(size_of::<(Box<[u8]>, (i64, R))>()) + key_len.div_ceil(16) * 16,
        }
    }

    /// Entries held in shard `i` (full ones not swept yet included), without locking.
    pub fn shard_len(&self, i: usize) -> usize {
        self.lens[i].load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_each_live_sees_every_table_and_skips_full_entries() {
        let store: Store<()> = Store::new();
        let keys: Vec<Vec<u8>> = vec![b"short".to_vec(), vec![b'm'; 20], vec![b'l'; 40], b"gone".to_vec()];
        for k in &keys {
            let at = if k == b"gone" { 5 } else { 100 };
            store.update(k, 0, |_| ((), Some(Some((at, ())))));
        }
        let mut seen = Vec::new();
        for i in 0..super::super::SHARDS {
            store.lock(i).for_each_live(10, |k, at| seen.push((k.to_vec(), at)));
        }
        seen.sort();
        let mut want: Vec<_> = keys[..3].iter().map(|k| (k.clone(), 100)).collect();
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn shorten_only_brings_expiry_forward_and_removes_at_now() {
        let store: Store<u64> = Store::new();
        store.update(b"k", 0, |_| ((), Some(Some((100, 7)))));
        assert!(!store.shorten(b"k", 200, 0), "cannot lengthen");
        assert!(store.shorten(b"k", 50, 0));
        assert_eq!(store.update(b"k", 0, |s| (s, None)), Some((50, 7)), "the state is kept");
        assert!(store.shorten(b"k", 10, 10));
        assert_eq!(store.expires_at(b"k", 10), None);
        assert_eq!(store.len(), 0);
        assert!(!store.shorten(b"missing", 5, 0));
    }

    #[test]
    fn entry_bytes_follow_the_slot_sizes() {
        // A GCRA slot is 24 bytes (16-byte keys) or 40 (32-byte keys); + 1 control byte, / 7/8.
        assert_eq!(Store::<()>::entry_bytes(5), 25 * 8 / 7);
        assert_eq!(Store::<()>::entry_bytes(32), 41 * 8 / 7);
        assert!(Store::<()>::entry_bytes(33) > Store::<()>::entry_bytes(32));
        assert!(Store::<(i64, u64, u64)>::entry_bytes(5) > Store::<()>::entry_bytes(5));
    }
}
