//! Limiter decisions counted per key prefix, for the metrics endpoint and SLUICE.DOCTOR.
//!
//! A key's prefix is its bytes before the first `:` (`tenant-a:user-7` → `tenant-a`), at most
//! `MAX_PREFIX` bytes; a key without `:` counts under the empty prefix. At most `SLOTS`
//! prefixes are told apart (the first ones seen); decisions of later prefixes count in one
//! overflow slot, so the number of series stays bounded whatever keys clients send.
//!
//! Counting is lock-free and costs a short scan of the key, a hash and one relaxed atomic add:
//! slots are claimed once with a compare-and-swap and never change prefix afterwards (until
//! `clear`, which only zeroes counts).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefixes told apart; the rest share the overflow slot.
pub const SLOTS: usize = 64;
/// Longest prefix kept (longer ones are cut).
pub const MAX_PREFIX: usize = 48;

/// What one slot counts. `near`: admitted hits that left at most a tenth of the capacity.
#[derive(Default)]
struct Slot {
    prefix: OnceLock<Box<[u8]>>,
    allowed: AtomicU64,
    refused: AtomicU64,
    near: AtomicU64,
}

pub struct Decisions {
    slots: Box<[Slot]>,
    overflow: Slot,
}

impl Default for Decisions {
    fn default() -> Self {
        Decisions { slots: (0..SLOTS).map(|_| Slot::default()).collect(), overflow: Slot::default() }
    }
}

/// One prefix's counts, as `snapshot` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixCounts {
    /// None for the overflow slot (prefixes past the first SLOTS).
    pub prefix: Option<Vec<u8>>,
    pub allowed: u64,
    pub refused: u64,
    pub near: u64,
}

/// The key's prefix: before the first `:`, at most MAX_PREFIX bytes.
pub fn prefix_of(key: &[u8]) -> &[u8] {
    let end = key.len().min(MAX_PREFIX);
    let head = &key[..end];
    match head.iter().position(|&b| b == b':') {
        Some(i) => &head[..i],
        // No ":" at all: no prefix. A ":" past MAX_PREFIX bytes: the prefix, cut.
        None if !key.contains(&b':') => b"",
        None => head,
    }
}

fn hash(bytes: &[u8]) -> usize {
    // FNV-1a: short inputs, no allocation.
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    h as usize
}

impl Decisions {
    fn slot(&self, key: &[u8]) -> &Slot {
        let prefix = prefix_of(key);
        let start = hash(prefix) % SLOTS;
        for i in 0..SLOTS {
            let slot = &self.slots[(start + i) % SLOTS];
            let claimed = slot.prefix.get_or_init(|| prefix.into());
            if &claimed[..] == prefix {
                return slot;
            }
        }
        &self.overflow
    }

    /// Counts one decision of a hit on `key`: admitted or refused; `near` when an admitted hit
    /// left at most a tenth of the capacity `limit`.
    pub fn record(&self, key: &[u8], allowed: bool, remaining: i64, limit: u64) {
        let slot = self.slot(key);
        if allowed {
            slot.allowed.fetch_add(1, Ordering::Relaxed);
            if remaining.max(0) as u64 * 10 <= limit {
                slot.near.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            slot.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every prefix seen (with its counts), then the overflow slot if it counted anything.
    pub fn snapshot(&self) -> Vec<PrefixCounts> {
        let read = |s: &Slot, prefix: Option<Vec<u8>>| PrefixCounts {
            prefix,
            allowed: s.allowed.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            near: s.near.load(Ordering::Relaxed),
        };
        let mut all: Vec<PrefixCounts> = self.slots.iter().filter_map(|s| s.prefix.get().map(|p| read(s, Some(p.to_vec())))).collect();
        let rest = read(&self.overflow, None);
        if rest.allowed + rest.refused > 0 {
            all.push(rest);
        }
        all
    }

    /// Zeroes the counts (CONFIG RESETSTAT); prefixes keep their slots.
    pub fn clear(&self) {
        for s in self.slots.iter().chain(std::iter::once(&self.overflow)) {
            s.allowed.store(0, Ordering::Relaxed);
            s.refused.store(0, Ordering::Relaxed);
            s.near.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of(b"tenant-a:user:7"), b"tenant-a");
        assert_eq!(prefix_of(b"plainkey"), b"");
        assert_eq!(prefix_of(b":x"), b"");
        let long = [b'a'; 100];
        assert_eq!(prefix_of(&long), b"", "no colon: no prefix, whatever the length");
        let mut cut = long.to_vec();
        cut.push(b':');
        assert_eq!(prefix_of(&cut).len(), MAX_PREFIX);
    }

    #[test]
    fn counts_per_prefix_and_bounds_cardinality() {
        let d = Decisions::default();
        d.record(b"a:1", true, 5, 10);
        d.record(b"a:2", true, 1, 10);
        d.record(b"a:3", false, 0, 10);
        d.record(b"b:1", false, 0, 10);
        let snap = d.snapshot();
        let a = snap.iter().find(|p| p.prefix.as_deref() == Some(b"a")).unwrap();
        assert_eq!((a.allowed, a.refused, a.near), (2, 1, 1));
        for i in 0..200 {
            d.record(format!("p{i}:k").as_bytes(), true, 9, 10);
        }
        let snap = d.snapshot();
        assert_eq!(snap.len(), SLOTS + 1, "64 prefixes and the overflow slot");
        let rest = snap.last().unwrap();
        assert_eq!(rest.prefix, None);
        assert_eq!(rest.allowed, 200 - (SLOTS as u64 - 2));
        d.clear();
        assert!(d.snapshot().iter().all(|p| p.allowed + p.refused == 0));
    }
}
