//! A sharded, compact map from binary keys to limiter state, with expiry.
//!
//! Every entry carries an `expires_at` instant (ns on the daemon's clock): the moment its state
//! is back to "full", after which it means the same as no entry at all. Reads treat such an
//! entry as absent (lazy expiry); `sweep` removes them a shard at a time and gives memory back.
//!
//! Keys of up to 32 bytes are stored inline, in one of two tables: a slot is the key bytes (16
//! for keys of up to 16 bytes, 32 for keys of 17 to 32) plus one u64 that packs the key's
//! length (5 bits) with `expires_at` (59 bits), plus the algorithm's extra state `R` (nothing
//! for GCRA, whose one number *is* `expires_at`). A GCRA slot is 24 or 40 bytes. Longer keys go
//! to a per-shard map of boxed keys (an allocation per key, and a pointer to follow on every
//! lookup: keys of 17 to 32 bytes, common in practice, took 40% off pipelined throughput there).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use foldhash::fast::FixedState;
use hashbrown::HashTable;

mod keys;

/// Shards per store: a sweep step or a lock covers 1/SHARDS of the keys.
pub const SHARDS: usize = 256;
/// Largest key of the small inline table.
pub const INLINE: usize = 16;
/// Largest key of the medium inline table.
pub const INLINE_MEDIUM: usize = 32;
const TIME_BITS: u32 = 59;
/// Latest instant an entry can carry (about 18 years of daemon uptime in ns).
pub const MAX_INSTANT: i64 = (1i64 << TIME_BITS) - 1;

/// The hasher every table uses, seeded at random once per process: keys come from clients, so
/// they must not be able to aim at one bucket.
fn hasher() -> FixedState {
    static SEED: std::sync::LazyLock<u64> =
        std::sync::LazyLock::new(|| std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64));
    FixedState::with_seed(*SEED)
}

pub fn hash_key(key: &[u8]) -> u64 {
    hasher().hash_one(key)
}

/// Which shard a hash belongs to. Uses bits the tables do not use for bucket selection.
#[inline]
pub fn shard_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % SHARDS
}

/// An inline entry: a key of up to N bytes, its length and `expires_at`, and `R`.
#[derive(Clone, Copy)]
struct Slot<R, const N: usize> {
    key: [u8; N],
    /// Key length minus BIAS in the top 5 bits, expires_at in the low 59.
    meta: u64,
    rest: R,
}

impl<R, const N: usize> Slot<R, N> {
    /// What the 5 length bits are counted from: 0 in the small table (lengths 0 to 16), 16 in
    /// the medium one (lengths 17 to 32).
    const BIAS: usize = N - INLINE;

    #[inline]
    fn len(&self) -> usize {
        (self.meta >> TIME_BITS) as usize + Self::BIAS
    }
    #[inline]
    fn expires_at(&self) -> i64 {
        (self.meta & MAX_INSTANT as u64) as i64
    }
    #[inline]
    fn key(&self) -> &[u8] {
        &self.key[..self.len()]
    }
    #[inline]
    fn pack(len: usize, at: i64) -> u64 {
        (((len - Self::BIAS) as u64) << TIME_BITS) | (at.clamp(0, MAX_INSTANT) as u64)
    }
}

type Table<R, const N: usize> = HashTable<Slot<R, N>>;

#[inline]
fn find<R: Copy, const N: usize>(table: &Table<R, N>, key: &[u8], hash: u64) -> Option<(i64, R)> {
    table.find(hash, |s| s.key() == key).map(|s| (s.expires_at(), s.rest))
}

/// Stores `state` for `key` (None removes it).
fn put<R: Copy, const N: usize>(table: &mut Table<R, N>, key: &[u8], hash: u64, state: Option<(i64, R)>) {
    match (table.entry(hash, |s| s.key() == key, |s| hash_key(s.key())), state) {
        (hashbrown::hash_table::Entry::Occupied(mut o), Some((at, rest))) => {
            let s = o.get_mut();
            s.meta = Slot::<R, N>::pack(key.len(), at);
            s.rest = rest;
        }
        (hashbrown::hash_table::Entry::Occupied(o), None) => {
            o.remove();
        }
        (hashbrown::hash_table::Entry::Vacant(v), Some((at, rest))) => {
            let mut bytes = [0u8; N];
            bytes[..key.len()].copy_from_slice(key);
            v.insert(Slot { key: bytes, meta: Slot::<R, N>::pack(key.len(), at), rest });
        }
        (hashbrown::hash_table::Entry::Vacant(_), None) => {}
    }
}

/// Drops entries full at `now`; gives memory back once the table has mostly emptied. Returns
/// the earliest `expires_at` left (i64::MAX if none).
fn sweep_table<R, const N: usize>(table: &mut Table<R, N>, now: i64) -> i64 {
    let mut earliest = i64::MAX;
    table.retain(|s| {
        let at = s.expires_at();
        if at > now {
            earliest = earliest.min(at);
        }
        at > now
    });
    if table.capacity() > 64 && table.len() * 4 < table.capacity() {
        table.shrink_to(table.len() * 2, |s| hash_key(s.key()));
    }
    earliest
}

/// One shard: inline keys in two compact tables by length, longer keys boxed.
pub struct Shard<R> {
    small: Table<R, INLINE>,
    medium: Table<R, INLINE_MEDIUM>,
    large: HashMap<Box<[u8]>, (i64, R), FixedState>,
    /// No entry expires before this (a lower bound: exact after a sweep, lowered by every
    /// write). The sweep skips the shard until then, so it only walks shards where something
    /// is due.
    earliest: i64,
}

impl<R: Copy> Shard<R> {
    fn new() -> Self {
        Shard { small: HashTable::new(), medium: HashTable::new(), large: HashMap::with_hasher(hasher()), earliest: i64::MAX }
    }

    /// The live state of `key` (hashed as `hash`): `(expires_at, rest)`, or None if absent or
    /// already back to full at `now`.
    pub fn get(&self, key: &[u8], hash: u64, now: i64) -> Option<(i64, R)> {
        let found = match key.len() {
            0..=INLINE => find(&self.small, key, hash),
            ..=INLINE_MEDIUM => find(&self.medium, key, hash),
            _ => self.large.get(key).copied(),
        };
        found.filter(|&(at, _)| at > now)
    }

    /// Stores `key`'s new state; None, or a state already full at `now`, removes the entry.
    pub fn set(&mut self, key: &[u8], hash: u64, now: i64, state: Option<(i64, R)>) {
        let state = state.filter(|&(at, _)| at > now);
        if let Some((at, _)) = state {
            self.earliest = self.earliest.min(at);
        }
        match key.len() {
            0..=INLINE => put(&mut self.small, key, hash, state),
            ..=INLINE_MEDIUM => put(&mut self.medium, key, hash, state),
            _ => match state {
                Some((at, rest)) => {
                    let at = at.min(MAX_INSTANT);
                    if let Some(v) = self.large.get_mut(key) {
                        *v = (at, rest);
                    } else {
                        self.large.insert(key.into(), (at, rest));
                    }
                }
                None => {
                    self.large.remove(key);
                }
            },
        }
    }

    /// Removes `key` whatever its state; true if it held live state at `now`.
    pub fn remove(&mut self, key: &[u8], hash: u64, now: i64) -> bool {
        let live = self.get(key, hash, now).is_some();
        self.set(key, hash, now, None);
        live
    }

    pub fn len(&self) -> usize {
        self.small.len() + self.medium.len() + self.large.len()
    }

    /// Calls `f(key, expires_at, rest)` for every entry still live at `now`: the whole state,
    /// for snapshots (`for_each_live`, in keys.rs, gives the key and expiry only).
    pub fn for_each_live_state(&self, now: i64, mut f: impl FnMut(&[u8], i64, R)) {
        for s in self.small.iter().filter(|s| s.expires_at() > now) {
            f(s.key(), s.expires_at(), s.rest);
        }
        for s in self.medium.iter().filter(|s| s.expires_at() > now) {
            f(s.key(), s.expires_at(), s.rest);
        }
        for (key, &(at, rest)) in self.large.iter().filter(|(_, v)| v.0 > now) {
            f(key, at, rest);
        }
    }

    /// Drops every entry that is full at `now`, and returns memory once the shard has emptied
    /// out. Returns how many entries it removed.
    fn sweep(&mut self, now: i64) -> usize {
        let before = self.len();
        let mut earliest = sweep_table(&mut self.small, now).min(sweep_table(&mut self.medium, now));
        self.large.retain(|_, v| {
            if v.0 > now {
                earliest = earliest.min(v.0);
            }
            v.0 > now
        });
        self.earliest = earliest;
        if self.large.capacity() > 64 && self.large.len() * 4 < self.large.capacity() {
            self.large.shrink_to(self.large.len() * 2);
        }
        before - self.len()
    }

    fn clear(&mut self) {
        *self = Shard::new();
    }
}

/// A sharded store: each shard behind its own lock.
pub struct Store<R> {
    shards: Box<[Mutex<Shard<R>>]>,
    /// Each shard's entry count, refreshed after every change, so counting all keys (DBSIZE)
    /// takes no locks.
    lens: Box<[AtomicUsize]>,
    cursor: Mutex<usize>,
}

impl<R: Copy> Default for Store<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Copy> Store<R> {
    pub fn new() -> Self {
        Store {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            lens: (0..SHARDS).map(|_| AtomicUsize::new(0)).collect(),
            cursor: Mutex::new(0),
        }
    }

    /// Locks shard `i`. Callers that lock several take them in ascending order.
    pub fn lock(&self, i: usize) -> MutexGuard<'_, Shard<R>> {
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records shard `i`'s entry count; callers that change a shard through `lock` call it
    /// before unlocking.
    pub fn note_len(&self, i: usize, shard: &Shard<R>) {
        self.lens[i].store(shard.len(), Ordering::Relaxed);
    }

    /// Runs `f` on `key`'s live state under its shard's lock and stores what it returns.
    pub fn update<T>(&self, key: &[u8], now: i64, f: impl FnOnce(Option<(i64, R)>) -> (T, Option<Option<(i64, R)>>)) -> T {
        let hash = hash_key(key);
        let i = shard_of(hash);
        let mut shard = self.lock(i);
        let (out, write) = f(shard.get(key, hash, now));
        if let Some(state) = write {
            shard.set(key, hash, now, state);
            self.note_len(i, &shard);
        }
        out
    }

    pub fn remove(&self, key: &[u8], now: i64) -> bool {
        let hash = hash_key(key);
        let i = shard_of(hash);
        let mut shard = self.lock(i);
        let live = shard.remove(key, hash, now);
        self.note_len(i, &shard);
        live
    }

    /// Entries held (including full ones not swept yet), without locking.
    pub fn len(&self) -> usize {
        self.lens.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    pub fn clear(&self) {
        for i in 0..SHARDS {
            let mut shard = self.lock(i);
            shard.clear();
            self.note_len(i, &shard);
        }
    }

    /// Sweeps whole shards, round robin from where the last call stopped, until `budget`
    /// entries have been examined (at least one shard) or every shard was visited. A shard
    /// where nothing is due yet is skipped (it counts as one entry examined). Returns
    /// (examined, removed).
    pub fn sweep(&self, now: i64, budget: usize) -> (usize, usize) {
        let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        let (mut examined, mut removed) = (0, 0);
        for _ in 0..SHARDS {
            let mut shard = self.lock(*cursor);
            if shard.earliest > now {
                examined += 1;
            } else {
                examined += shard.len();
                removed += shard.sweep(now);
                self.note_len(*cursor, &shard);
            }
            drop(shard);
            *cursor = (*cursor + 1) % SHARDS;
            if examined >= budget {
                break;
            }
        }
        (examined, removed)
    }

    /// Bytes the inline tables have allocated (for tests of memory return).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(|s| {
            let s = s.lock().unwrap();
            s.small.capacity() + s.medium.capacity()
        }).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_slots_are_24_and_40_bytes() {
        assert_eq!(std::mem::size_of::<Slot<(), INLINE>>(), 24);
        assert_eq!(std::mem::size_of::<Slot<(), INLINE_MEDIUM>>(), 40);
    }

    #[test]
    fn keys_of_every_length_are_distinct_and_binary_safe() {
        let store: Store<u64> = Store::new();
        let keys: Vec<Vec<u8>> = (0..40).map(|n| vec![0u8; n]).chain([b"a\0".to_vec(), b"a".to_vec(), vec![0xff; 17]]).collect();
        for (i, k) in keys.iter().enumerate() {
            store.update(k, 0, |old| {
                assert!(old.is_none(), "key of len {} collided", k.len());
                ((), Some(Some((100, i as u64))))
            });
        }
        for (i, k) in keys.iter().enumerate() {
            let got = store.update(k, 0, |old| (old, None));
            assert_eq!(got, Some((100, i as u64)));
        }
        assert_eq!(store.len(), keys.len());
    }

    #[test]
    fn full_entries_read_as_absent_and_setting_full_removes() {
        let store: Store<()> = Store::new();
        store.update(b"k", 0, |_| ((), Some(Some((50, ())))));
        assert!(store.update(b"k", 49, |s| (s, None)).is_some());
        assert!(store.update(b"k", 50, |s| (s, None)).is_none());
        store.update(b"k", 10, |_| ((), Some(Some((5, ())))));
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn shards_where_nothing_is_due_are_skipped() {
        let store: Store<()> = Store::new();
        for i in 0..50_000u32 {
            store.update(&i.to_le_bytes(), 0, |_| ((), Some(Some((1_000 + i as i64, ())))));
        }
        // Nothing is due at 500: every shard is visited and skipped, one "entry" each.
        assert_eq!(store.sweep(500, usize::MAX), (SHARDS, 0));
        // At 1_000 + 10_000 the shards are walked; afterwards each knows its earliest entry.
        let (examined, removed) = store.sweep(11_000, usize::MAX);
        assert_eq!((examined, removed), (50_000, 10_001));
        assert_eq!(store.sweep(11_000, usize::MAX), (SHARDS, 0));
        // A write of an earlier expiry makes its shard due again.
        store.update(b"early", 11_000, |_| ((), Some(Some((11_001, ())))));
        let (examined, removed) = store.sweep(11_001, usize::MAX);
        assert_eq!(removed, 2, "'early' and the entry that expires at 11_001");
        assert!(examined < 50_000 / 10, "examined {examined}");
    }

    #[test]
    fn sweep_removes_full_entries_and_returns_memory() {
        let store: Store<()> = Store::new();
        for i in 0..50_000u32 {
            let at = if i % 2 == 0 { 100 } else { 1_000 };
            // A third of the keys are 20 bytes long: the medium table is swept and shrunk too.
            let key = if i % 3 == 0 { i.to_le_bytes().repeat(5) } else { i.to_le_bytes().to_vec() };
            store.update(&key, 0, |_| ((), Some(Some((at, ())))));
        }
        let big = store.capacity();
        // A small budget sweeps a bounded slice: not everything at once.
        let (examined, removed) = store.sweep(500, 1);
        assert!(examined < 50_000 / 10 && removed > 0, "examined {examined}");
        let mut total = removed;
        for _ in 0..SHARDS {
            total += store.sweep(500, 1).1;
        }
        assert_eq!(total, 25_000);
        assert_eq!(store.len(), 25_000);
        for _ in 0..SHARDS {
            store.sweep(2_000, 1);
        }
        assert_eq!(store.len(), 0);
        assert!(store.capacity() * 8 < big, "capacity {} of {}", store.capacity(), big);
    }
}
