//! What the keyspace holds across every command family: DBSIZE, INFO keyspace and FLUSHALL
//! read and clear it here, walking `Core::families` (the one list of families); the keyspace
//! commands (SCAN, TYPE, DEL, EXISTS, PTTL, EXPIRE, MEMORY USAGE) see every kind of state
//! through the functions below.
//!
//! A key is one name, wherever its state is: a limiter key under each algorithm it was used
//! with (GCRA, which CL.THROTTLE shares, sliding and fixed windows) and a lease key. Its type
//! is the first kind that holds it in a fixed order (`Kind`); it exists while any of its state
//! is live; it is forgotten (PTTL) when the last of its state is; DEL removes all of it.

pub mod glob;
pub mod scan;

use crate::limits::Algo;
use crate::limits::Limits;
use crate::Core;

/// The kinds of state a key can hold, in the order that decides a key's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gcra = 0,
    Sliding = 1,
    Fixed = 2,
    Lease = 3,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Gcra, Kind::Sliding, Kind::Fixed, Kind::Lease];

    /// The name TYPE answers and SCAN's TYPE filter takes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gcra => "gcra",
            Kind::Sliding => "sliding",
            Kind::Fixed => "fixed",
            Kind::Lease => "lease",
        }
    }

    pub fn from_code(code: i32) -> Option<Kind> {
        Kind::ALL.get(usize::try_from(code).ok()?).copied()
    }

    fn algo(self) -> Option<Algo> {
        match self {
            Kind::Gcra => Some(Algo::Gcra),
            Kind::Sliding => Some(Algo::Sliding),
            Kind::Fixed => Some(Algo::Fixed),
            Kind::Lease => None,
        }
    }
}

/// SCAN's MATCH and TYPE filters.
#[derive(Default)]
pub struct Filter<'a> {
    /// A Redis glob; None matches every key.
    pub pattern: Option<&'a [u8]>,
    pub kind: Option<Kind>,
}

impl Filter<'_> {
    fn accepts(&self, key: &[u8], kind: Kind) -> bool {
        self.kind.is_none_or(|k| k == kind) && self.pattern.is_none_or(|p| glob::matches(p, key))
    }

    /// Can a key found in `kind`'s store pass? (A key's type is the first store holding it,
    /// so with a TYPE filter the later stores need not be walked.)
    fn may_yield(&self, kind: Kind) -> bool {
        self.kind.is_none_or(|k| k == kind)
    }
}

/// Keys held across all families.
pub fn key_count(core: &Core) -> usize {
    core.families().iter().map(|f| f.len()).sum()
}

/// Most steps one sweep tick takes per store: with the daemon's budget of 2,048 entries a step,
/// a tick examines at most about 131,000 entries per store (a few ms).
pub const MAX_SWEEP_STEPS: usize = 64;

/// Runs sweep steps (each returns (examined, removed)) while a step removes at least a quarter
/// of what it examined, at most MAX_SWEEP_STEPS: a tick costs about what it finds expired
/// (Redis's active expiry keeps going on the same rule), and one step when little is due.
/// Returns how many entries were removed.
pub fn sweep_while_worth_it(mut step: impl FnMut() -> (usize, usize)) -> usize {
    let mut removed = 0;
    for _ in 0..MAX_SWEEP_STEPS {
        let (examined, gone) = step();
        removed += gone;
        if gone == 0 || gone * 4 < examined {
            break;
        }
    }
    removed
}

/// One tick of the background expiry sweep over every family with expiring keys (the daemon
/// calls it every 100 ms): see `sweep_while_worth_it`. Returns how many keys it removed.
pub fn sweep(core: &Core, now: i64, budget: usize) -> usize {
    core.limits.sweep_tick(now, budget) + sweep_while_worth_it(|| core.leases.sweep_step(now, budget))
}

/// Drops every key of every family (FLUSHALL).
pub fn flush_all(core: &Core) {
    for family in core.families() {
        family.clear();
    }
}

/// When `key`'s state of `kind` is forgotten, or None if it holds none live at `now`.
fn expiry(core: &Core, kind: Kind, key: &[u8], now: i64) -> Option<i64> {
    match kind.algo() {
        Some(algo) => core.limits.expires_at(algo, key, now),
        None => core.leases.expires_at(key, now),
    }
}

/// TYPE: the first kind in `Kind::ALL` that holds live state for `key`.
pub fn kind_of(core: &Core, key: &[u8], now: i64) -> Option<Kind> {
    Kind::ALL.into_iter().find(|&kind| expiry(core, kind, key, now).is_some())
}

/// PTTL: when the last of `key`'s live state is forgotten (ns on the daemon's clock), or None
/// if it holds none. Every kind of state ends (a limiter when it is back to full, a lease key
/// when its last lease expires), so a key never lacks one.
pub fn forgotten_at(core: &Core, key: &[u8], now: i64) -> Option<i64> {
    Kind::ALL.into_iter().filter_map(|kind| expiry(core, kind, key, now)).max()
}

/// DEL: what RL.RESET does (every algorithm's state: the limiter is full again) and every
/// lease on the key (its slots are free). True if it held live state.
pub fn remove(core: &Core, key: &[u8], now: i64) -> bool {
    let limits = core.limits.reset(key, now);
    let leases = core.leases.remove(key, now);
    limits || leases
}

/// EXPIRE: makes `key` forgotten at `deadline` at the latest (at or before `now`: at once, as
/// DEL). Never later than it would be anyway. See `Limits::shorten` and `Leases::shorten` for
/// what that means to each kind. True if any state changed.
pub fn shorten(core: &Core, key: &[u8], deadline: i64, now: i64) -> bool {
    if deadline <= now {
        return remove(core, key, now);
    }
    let limits = core.limits.shorten(key, deadline, now);
    let leases = core.leases.shorten(key, deadline, now);
    limits || leases
}

/// MEMORY USAGE: the bytes `key`'s entries take in every store that holds it (see
/// `Store::entry_bytes` and `leases::keys::entry_bytes`), or None if it holds no live state.
pub fn memory_usage(core: &Core, key: &[u8], now: i64) -> Option<usize> {
    let mut total = None;
    for kind in Kind::ALL {
        let bytes = match kind.algo() {
            Some(algo) => core.limits.expires_at(algo, key, now).map(|_| Limits::entry_bytes(algo, key.len())),
            None => core.leases.footprint(key, now),
        };
        if let Some(b) = bytes {
            total = Some(total.unwrap_or(0) + b);
        }
    }
    total
}

/// INFO keyspace's avg_ttl: walks whole shards of every store from the first until at least
/// `sample` live keys were seen (or all were). Returns (keys seen, sum of their time left in
/// ns). Keys in several stores count once per store: an estimate, as Redis's is.
pub fn ttl_sample(core: &Core, sample: usize, now: i64) -> (usize, i64) {
    let (mut seen, mut sum) = (0usize, 0i64);
    for i in 0..crate::limits::store::SHARDS {
        let mut add = |at: i64| {
            seen += 1;
            sum = sum.saturating_add(at - now);
        };
        {
            let set = core.limits.lock_shards(i);
            set.gcra.for_each_live(now, |_, at| add(at));
            set.sliding.for_each_live(now, |_, at| add(at));
            set.fixed.for_each_live(now, |_, at| add(at));
        }
        core.leases.for_each_live_in(i, now, |_, at| add(at));
        if seen >= sample {
            break;
        }
    }
    (seen, sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Params;

    const MS: i64 = 1_000_000;

    fn hit(core: &Core, key: &[u8], algo: Algo, now: i64) {
        let p = Params::new(1, 1_000, 1, algo).unwrap();
        core.limits.hit(key, &p, 1, now, true);
    }

    #[test]
    fn one_sweep_tick_removes_what_expired_in_bulk_and_keeps_the_rest() {
        let core = Core::new(0);
        for i in 0..100_000u32 {
            // Every fourth key is still live at 2 s (a longer PER); the others are full at 1 s.
            let per = if i % 4 == 0 { 10_000 } else { 1_000 };
            let p = Params::new(1, per, 1, Algo::Gcra).unwrap();
            core.limits.hit(format!("user:{i}").as_bytes(), &p, 1, 0, true);
        }
        core.leases.acquire(b"lease", 1, MS, 0);
        assert_eq!(key_count(&core), 100_001);
        // One tick at the daemon's budget: 75,001 expired, more than one step's worth.
        assert_eq!(sweep(&core, 2_000 * MS, 2048), 75_001);
        assert_eq!(key_count(&core), 25_000);
        // Nothing more is due: the next tick removes nothing.
        assert_eq!(sweep(&core, 2_000 * MS, 2048), 0);
    }

    #[test]
    fn flush_all_empties_every_family() {
        let core = Core::new(0);
        core.leases.acquire(b"k", 1, 1_000, 0);
        let p = crate::limits::Params::new(1, 1_000, 1, crate::limits::Algo::Gcra).unwrap();
        core.limits.hit(b"k", &p, 1, 0, true);
        assert_eq!(key_count(&core), 2);
        flush_all(&core);
        assert_eq!(key_count(&core), 0);
        assert!(core.families().iter().all(|f| f.is_empty()));
    }

    #[test]
    fn type_is_the_first_kind_holding_the_key_and_del_removes_all() {
        let core = Core::new(0);
        assert_eq!(kind_of(&core, b"k", 0), None);
        core.leases.acquire(b"k", 1, 5_000 * MS, 0);
        assert_eq!(kind_of(&core, b"k", 0), Some(Kind::Lease));
        hit(&core, b"k", Algo::Fixed, 0);
        assert_eq!(kind_of(&core, b"k", 0), Some(Kind::Fixed));
        hit(&core, b"k", Algo::Sliding, 0);
        assert_eq!(kind_of(&core, b"k", 0), Some(Kind::Sliding));
        hit(&core, b"k", Algo::Gcra, 0);
        assert_eq!(kind_of(&core, b"k", 0), Some(Kind::Gcra));
        // The lease lasts longest: the key is forgotten when it ends.
        assert_eq!(forgotten_at(&core, b"k", 0), Some(5_000 * MS));
        let bytes = memory_usage(&core, b"k", 0).unwrap();
        assert!(bytes > Limits::entry_bytes(Algo::Sliding, 1) + Limits::entry_bytes(Algo::Fixed, 1));
        assert!(remove(&core, b"k", 0));
        assert_eq!(kind_of(&core, b"k", 0), None);
        assert_eq!(memory_usage(&core, b"k", 0), None);
        assert_eq!(key_count(&core), 0);
        assert!(!remove(&core, b"k", 0));
    }

    #[test]
    fn gcra_expiry_is_when_the_bucket_is_full_and_shorten_refills_by_then() {
        let core = Core::new(0);
        let p = Params::new(10, 10_000, 10, Algo::Gcra).unwrap();
        for _ in 0..10 {
            core.limits.hit(b"g", &p, 1, 0, true);
        }
        assert!(!core.limits.hit(b"g", &p, 1, 0, false).allowed);
        assert_eq!(forgotten_at(&core, b"g", 0), Some(10_000 * MS));
        assert!(!shorten(&core, b"g", 20_000 * MS, 0), "never later");
        assert!(shorten(&core, b"g", 2_000 * MS, 0));
        assert_eq!(forgotten_at(&core, b"g", 0), Some(2_000 * MS));
        assert_eq!(core.limits.hit(b"g", &p, 1, 2_000 * MS, false).remaining, 10, "full at the deadline");
        assert!(shorten(&core, b"g", 0, 0), "a deadline now deletes");
        assert_eq!(kind_of(&core, b"g", 0), None);
    }

    #[test]
    fn ttl_sample_sums_time_left() {
        let core = Core::new(0);
        hit(&core, b"a", Algo::Gcra, 0);
        core.leases.acquire(b"b", 1, 3_000 * MS, 0);
        assert_eq!(ttl_sample(&core, 100, 0), (2, 4_000 * MS));
    }
}
