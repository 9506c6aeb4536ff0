//! Rate limits: GCRA (token bucket), sliding-window and fixed-window counters over compact
//! sharded stores, named policies, all-or-nothing checks over several keys, and redis-cell's
//! CL.THROTTLE. Knows nothing of N-API or RESP; every operation takes `now` (ns on the daemon's
//! monotonic clock) so tests drive time.

pub mod decisions;
pub mod fixed;
pub mod gcra;
pub mod keys;
pub mod policy;
pub mod sliding;
mod snapshot;
pub mod store;
pub mod throttle;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::MutexGuard;

use store::{hash_key, shard_of, Shard, Store};

/// Longest span (ns) a limit may cover: tolerance, window, lease TTL (about 9 years).
pub const MAX_SPAN: i64 = 1 << 58;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Gcra = 0,
    Sliding = 1,
    Fixed = 2,
}

impl Algo {
    pub fn from_code(code: u32) -> Option<Algo> {
        match code {
            0 => Some(Algo::Gcra),
            1 => Some(Algo::Sliding),
            2 => Some(Algo::Fixed),
            _ => None,
        }
    }
}

/// A limit's parameters: LIMIT tokens per `period_ns`; `burst` is the GCRA bucket's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub limit: u64,
    pub period_ns: i64,
    pub burst: u64,
    pub algo: Algo,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParamError {
    /// LIMIT, PER or BURST is zero.
    Zero,
    /// PER, or BURST's refill time, is longer than MAX_SPAN.
    TooLong,
}

impl Params {
    pub fn new(limit: u64, period_ms: u64, burst: u64, algo: Algo) -> Result<Params, ParamError> {
        if limit == 0 || period_ms == 0 || burst == 0 {
            return Err(ParamError::Zero);
        }
        if period_ms > (MAX_SPAN / 1_000_000) as u64 {
            return Err(ParamError::TooLong);
        }
        let p = Params { limit, period_ns: period_ms as i64 * 1_000_000, burst, algo };
        if algo == Algo::Gcra && gcra::tolerance(&p).is_none() {
            return Err(ParamError::TooLong);
        }
        Ok(p)
    }
}

/// What a hit or peek answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    /// The capacity `remaining` counts against (BURST for GCRA, LIMIT for windows).
    pub limit: u64,
    /// Tokens left (after this hit when it was admitted); negative when in debt.
    pub remaining: i64,
    /// When a refused hit could succeed, in ns from now; -1 when admitted or never.
    pub retry_after_ns: i64,
    /// When the key is back to full, in ns from now.
    pub reset_after_ns: i64,
}

impl Outcome {
    /// RL.HIT's reply: `[allowed 1|0, limit, remaining (0 when in debt), retry_after_ms (-1 if
    /// allowed), reset_after_ms]`, durations rounded up to whole ms.
    pub fn reply(&self) -> [i64; 5] {
        let retry = if self.allowed { -1 } else { ms_up(self.retry_after_ns) };
        [self.allowed as i64, self.limit as i64, self.remaining.max(0), retry, ms_up(self.reset_after_ns)]
    }
}

/// ns to whole ms, rounded up; negative (never) stays -1.
pub fn ms_up(ns: i64) -> i64 {
    if ns < 0 { -1 } else { (ns + 999_999) / 1_000_000 }
}

/// Window start for `now`, windows of `w` aligned to the Unix epoch (`offset` = Unix ns at
/// clock zero).
pub fn align(now: i64, w: i64, offset: i64) -> i64 {
    let t = now as i128 + offset as i128;
    (t - t.rem_euclid(w as i128) - offset as i128) as i64
}

/// One key of an RL.ALL call.
pub struct Item<'a> {
    pub key: &'a [u8],
    pub params: Params,
    pub cost: u64,
}

/// RL.ALL's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct AllOutcome {
    pub allowed: bool,
    /// The first key that refused, or -1.
    pub refused: i64,
    pub retry_after_ns: i64,
}

/// All limiter state: one store per algorithm (a key may hold state in each).
pub struct Limits {
    gcra: Store<()>,
    sliding: Store<sliding::Rest>,
    fixed: Store<fixed::Rest>,
    pub policies: policy::Policies,
    /// Hits admitted and refused, per key prefix (metrics, SLUICE.DOCTOR).
    pub decisions: decisions::Decisions,
    /// Unix ns at clock zero, so windows align to the epoch.
    offset: AtomicI64,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

enum Undo {
    Gcra(usize, Option<(i64, ())>),
    Sliding(usize, Option<(i64, sliding::Rest)>),
    Fixed(usize, Option<(i64, fixed::Rest)>),
}

fn guard<'a, 'g, R>(guards: &'a mut [(usize, MutexGuard<'g, Shard<R>>)], shard: usize) -> &'a mut Shard<R> {
    let i = guards.binary_search_by_key(&shard, |g| g.0).expect("shard locked");
    &mut guards[i].1
}

impl Limits {
    pub fn new() -> Self {
        Limits { gcra: Store::new(), sliding: Store::new(), fixed: Store::new(), policies: policy::Policies::default(), decisions: decisions::Decisions::default(), offset: AtomicI64::new(0) }
    }

    pub fn set_epoch_offset(&self, unix_ns_at_zero: i64) {
        self.offset.store(unix_ns_at_zero, Ordering::Relaxed);
    }

    fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Unix ns at clock zero: what turns this core's instants into wall-clock time and back
    /// (snapshots store wall-clock time).
    pub fn epoch_offset(&self) -> i64 {
        self.offset()
    }

    /// RL.HIT (`consume`) or RL.PEEK.
    pub fn hit(&self, key: &[u8], p: &Params, cost: u64, now: i64, consume: bool) -> Outcome {
        let off = self.offset();
        let o = match p.algo {
            Algo::Gcra => self.gcra.update(key, now, |st| {
                let (o, tat) = gcra::hit(p, st.map(|s| s.0), cost, now, consume);
                (o, tat.map(|t| Some((t, ()))))
            }),
            Algo::Sliding => self.sliding.update(key, now, |st| sliding::hit(p, st, cost, now, consume, off)),
            Algo::Fixed => self.fixed.update(key, now, |st| fixed::hit(p, st, cost, now, consume, off)),
        };
        if consume {
            self.decisions.record(key, o.allowed, o.remaining, o.limit);
        }
        o
    }

    /// RL.ADJUST: charge (delta > 0) or refund (delta < 0) without refusing. Returns the
    /// tokens remaining afterwards (negative: in debt).
    pub fn adjust(&self, key: &[u8], p: &Params, delta: i64, now: i64) -> i64 {
        let off = self.offset();
        match p.algo {
            Algo::Gcra => self.gcra.update(key, now, |st| {
                let tat = gcra::adjust(p, st.map(|s| s.0), delta, now);
                (gcra::remaining_at(p, Some(tat), now), Some(Some((tat, ()))))
            }),
            Algo::Sliding => self.sliding.update(key, now, |st| {
                let (left, st) = sliding::adjust(p, st, delta, now, off);
                (left, Some(st))
            }),
            Algo::Fixed => self.fixed.update(key, now, |st| {
                let (left, st) = fixed::adjust(p, st, delta, now, off);
                (left, Some(st))
            }),
        }
    }

    /// RL.RESET for one key: true if it held state under any algorithm.
    pub fn reset(&self, key: &[u8], now: i64) -> bool {
        let a = self.gcra.remove(key, now);
        let b = self.sliding.remove(key, now);
        let c = self.fixed.remove(key, now);
        a || b || c
    }

    /// RL.ALL: every item admits its cost and all are consumed, or nothing changes. The shards
    /// involved are locked together (in a fixed order: GCRA, sliding, fixed; ascending shard
    /// within each) for the whole check. `remaining[i]` receives item i's tokens left
    /// (after the hit when all were admitted, else as they stand).
    pub fn all(&self, items: &[Item], now: i64, remaining: &mut [f64]) -> AllOutcome {
        let off = self.offset();
        let hashes: Vec<u64> = items.iter().map(|it| hash_key(it.key)).collect();
        let shards = |algo: Algo| -> BTreeSet<usize> {
            items.iter().zip(&hashes).filter(|(it, _)| it.params.algo == algo).map(|(_, &h)| shard_of(h)).collect()
        };
        let mut g_gcra: Vec<_> = shards(Algo::Gcra).into_iter().map(|i| (i, self.gcra.lock(i))).collect();
        let mut g_sliding: Vec<_> = shards(Algo::Sliding).into_iter().map(|i| (i, self.sliding.lock(i))).collect();
        let mut g_fixed: Vec<_> = shards(Algo::Fixed).into_iter().map(|i| (i, self.fixed.lock(i))).collect();

        let mut undo = Vec::with_capacity(items.len());
        let mut result = AllOutcome { allowed: true, refused: -1, retry_after_ns: -1 };
        for (i, it) in items.iter().enumerate() {
            let (key, h, p, shard) = (it.key, hashes[i], &it.params, shard_of(hashes[i]));
            let o = match p.algo {
                Algo::Gcra => {
                    let s = guard(&mut g_gcra, shard);
                    let old = s.get(key, h, now);
                    let (o, tat) = gcra::hit(p, old.map(|s| s.0), it.cost, now, true);
                    if let Some(t) = tat {
                        undo.push(Undo::Gcra(i, old));
                        s.set(key, h, now, Some((t, ())));
                    }
                    o
                }
                Algo::Sliding => {
                    let s = guard(&mut g_sliding, shard);
                    let old = s.get(key, h, now);
                    let (o, st) = sliding::hit(p, old, it.cost, now, true, off);
                    if let Some(st) = st {
                        undo.push(Undo::Sliding(i, old));
                        s.set(key, h, now, st);
                    }
                    o
                }
                Algo::Fixed => {
                    let s = guard(&mut g_fixed, shard);
                    let old = s.get(key, h, now);
                    let (o, st) = fixed::hit(p, old, it.cost, now, true, off);
                    if let Some(st) = st {
                        undo.push(Undo::Fixed(i, old));
                        s.set(key, h, now, st);
                    }
                    o
                }
            };
            if !o.allowed {
                result = AllOutcome { allowed: false, refused: i as i64, retry_after_ns: o.retry_after_ns };
                break;
            }
            remaining[i] = o.remaining as f64;
        }
        // Decisions: every key when all were admitted; else the one key that refused.
        if result.allowed {
            for (i, it) in items.iter().enumerate() {
                let capacity = if it.params.algo == Algo::Gcra { it.params.burst } else { it.params.limit };
                self.decisions.record(it.key, true, remaining[i] as i64, capacity);
            }
        } else {
            self.decisions.record(items[result.refused as usize].key, false, 0, 0);
        }
        if result.allowed {
            self.note_lens(&g_gcra, &g_sliding, &g_fixed);
            return result;
        }
        // Put back everything this call wrote, newest first, then report the standing state.
        for u in undo.into_iter().rev() {
            match u {
                Undo::Gcra(i, old) => guard(&mut g_gcra, shard_of(hashes[i])).set(items[i].key, hashes[i], now, old),
                Undo::Sliding(i, old) => guard(&mut g_sliding, shard_of(hashes[i])).set(items[i].key, hashes[i], now, old),
                Undo::Fixed(i, old) => guard(&mut g_fixed, shard_of(hashes[i])).set(items[i].key, hashes[i], now, old),
            }
        }
        for (i, it) in items.iter().enumerate() {
            let (h, shard) = (hashes[i], shard_of(hashes[i]));
            remaining[i] = match it.params.algo {
                Algo::Gcra => gcra::remaining_at(&it.params, guard(&mut g_gcra, shard).get(it.key, h, now).map(|s| s.0), now),
                Algo::Sliding => sliding::hit(&it.params, guard(&mut g_sliding, shard).get(it.key, h, now), 0, now, false, off).0.remaining,
                Algo::Fixed => fixed::hit(&it.params, guard(&mut g_fixed, shard).get(it.key, h, now), 0, now, false, off).0.remaining,
            } as f64;
        }
        self.note_lens(&g_gcra, &g_sliding, &g_fixed);
        result
    }

    /// Refreshes the entry counts of the shards RL.ALL held.
    fn note_lens(
        &self,
        g_gcra: &[(usize, MutexGuard<Shard<()>>)],
        g_sliding: &[(usize, MutexGuard<Shard<sliding::Rest>>)],
        g_fixed: &[(usize, MutexGuard<Shard<fixed::Rest>>)],
    ) {
        for (i, g) in g_gcra {
            self.gcra.note_len(*i, g);
        }
        for (i, g) in g_sliding {
            self.sliding.note_len(*i, g);
        }
        for (i, g) in g_fixed {
            self.fixed.note_len(*i, g);
        }
    }

    /// CL.THROTTLE (redis-cell's arithmetic); shares the GCRA store (tat in ns).
    pub fn throttle(&self, key: &[u8], q: &throttle::Quota, quantity: i64, now: i64) -> throttle::Reply {
        let r = self.gcra.update(key, now, |st| {
            let (reply, tat) = throttle::throttle(q, st.map(|s| s.0), quantity, now);
            (reply, tat.map(|t| Some((t, ()))))
        });
        self.decisions.record(key, r.limited == 0, r.remaining, r.limit.max(0) as u64);
        r
    }

    /// One step of the background sweep: examines about `budget` entries per store.
    /// Returns how many entries it removed.
    pub fn sweep(&self, now: i64, budget: usize) -> usize {
        self.gcra.sweep(now, budget).1 + self.sliding.sweep(now, budget).1 + self.fixed.sweep(now, budget).1
    }

    /// One tick of the background sweep (`keyspace::sweep`): steps of `budget` entries per
    /// store, more while they find much to remove. Returns how many entries it removed.
    pub fn sweep_tick(&self, now: i64, budget: usize) -> usize {
        use crate::keyspace::sweep_while_worth_it as drain;
        drain(|| self.gcra.sweep(now, budget)) + drain(|| self.sliding.sweep(now, budget)) + drain(|| self.fixed.sweep(now, budget))
    }
}

impl crate::family::Family for Limits {
    fn name(&self) -> &'static str {
        "limits"
    }
    fn len(&self) -> usize {
        self.gcra.len() + self.sliding.len() + self.fixed.len()
    }
    fn clear(&self) {
        self.gcra.clear();
        self.sliding.clear();
        self.fixed.clear();
    }
    /// Every live entry of the three stores, and the policies (limits/snapshot.rs).
    fn snapshot(&self, now_ns: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
        snapshot::write(self, now_ns, unix_ns_at_now, out);
        true
    }
    fn restore(&self, bytes: &[u8], now_ns: i64, unix_ns_at_now: i64) -> Result<usize, crate::family::RestoreError> {
        snapshot::read(self, bytes, now_ns, unix_ns_at_now, false)
    }
    /// The live entries of the keys `keep` accepts, without policies (limits/snapshot.rs).
    fn export(&self, keep: &dyn Fn(&[u8]) -> bool, now_ns: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool {
        snapshot::write_keys(self, Some(keep), now_ns, unix_ns_at_now, out);
        true
    }
    fn import(&self, bytes: &[u8], now_ns: i64, unix_ns_at_now: i64) -> Result<usize, crate::family::RestoreError> {
        snapshot::read(self, bytes, now_ns, unix_ns_at_now, true)
    }
}

#[cfg(test)]
mod tests;
