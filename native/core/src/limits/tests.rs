//! Worked examples derived by hand, and property tests of each algorithm against a plain
//! reference model with injected time.

use super::throttle::{seconds, Quota, Reply};
use super::*;
use proptest::prelude::*;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

fn p(limit: u64, per_ms: u64, burst: u64, algo: Algo) -> Params {
    Params::new(limit, per_ms, burst, algo).unwrap()
}

fn cl(l: &Limits, key: &[u8], burst: i64, count: i64, period: i64, qty: i64, now: i64) -> [i64; 5] {
    let r = l.throttle(key, &Quota::new(burst, count, period).unwrap(), qty, now);
    [r.limited, r.limit, r.remaining, r.retry_after, r.reset_after]
}

// CL.THROTTLE k 4 1 1: T = 1 s, tau = 5 s, limit 5.
#[test]
fn cl_throttle_worked_examples() {
    let l = Limits::new();
    let t0 = 10 * S;
    // quantity 6 > capacity 5: refused, retry -1, nothing stored, full bucket reported.
    assert_eq!(cl(&l, b"k", 4, 1, 1, 6, t0), [1, 5, 5, -1, 0]);
    // Five at once: new_tat = t0 + n s, ttl = n s, remaining = (5 s - n s) / 1 s.
    for n in 1..=5 {
        assert_eq!(cl(&l, b"k", 4, 1, 1, 1, t0), [0, 5, 5 - n, -1, n]);
    }
    // Sixth: new_tat = t0 + 6 s, allow_at = t0 + 1 s: retry 1 s; ttl = tat - now = 5 s.
    assert_eq!(cl(&l, b"k", 4, 1, 1, 1, t0), [1, 5, 0, 1, 5]);
    // 3 s later: tat = t0+5, new_tat = t0+6, ttl 3 s, next = 2 s -> remaining 2.
    assert_eq!(cl(&l, b"k", 4, 1, 1, 1, t0 + 3 * S), [0, 5, 2, -1, 3]);
    // 3.1 s: new_tat = t0+7, ttl 3.9 s -> reset rounds up to 4; next 1.1 s -> remaining 1.
    assert_eq!(cl(&l, b"k", 4, 1, 1, 1, t0 + 3100 * MS), [0, 5, 1, -1, 4]);
    // Quantity 2 at 3.1 s: new_tat t0+9 > now + tau = t0+8.1: retry 0.9 s rounds up to 1.
    assert_eq!(cl(&l, b"k", 4, 1, 1, 2, t0 + 3100 * MS), [1, 5, 1, 1, 4]);
    // Quantity 0 peeks: stores tat unchanged.
    assert_eq!(cl(&l, b"k", 4, 1, 1, 0, t0 + 3100 * MS), [0, 5, 1, -1, 4]);
    // Long after: absent again (expired), full bucket.
    assert_eq!(cl(&l, b"k", 4, 1, 1, 0, t0 + 60 * S), [0, 5, 5, -1, 0]);
}

#[test]
fn cl_throttle_burst_edge_and_fractional_interval() {
    let l = Limits::new();
    // max_burst 0: one at a time, 30 per 60 s -> T = 2 s, tau = 2 s.
    assert_eq!(cl(&l, b"a", 0, 30, 60, 1, 0), [0, 1, 0, -1, 2]);
    assert_eq!(cl(&l, b"a", 0, 30, 60, 1, 1999 * MS), [1, 1, 0, 1, 1]);
    assert_eq!(cl(&l, b"a", 0, 30, 60, 1, 2 * S), [0, 1, 0, -1, 2]);
    // 3 per 1 s: T = floor(1e9/3) = 333_333_333 ns, tau = T * 3 = 999_999_999.
    // Three at once fit exactly; reset 999.999999 ms -> 1 s.
    for left in [2, 1, 0] {
        assert_eq!(cl(&l, b"b", 2, 3, 1, 1, 0), [0, 3, left, -1, 1]);
    }
    // The fourth: new_tat = 4T, allow_at = T: retry 0.333 s -> 1 s.
    assert_eq!(cl(&l, b"b", 2, 3, 1, 1, 0), [1, 3, 0, 1, 1]);
}

#[test]
fn cl_throttle_rounds_up_only_whole_leftover_milliseconds() {
    assert_eq!(seconds(0), 0);
    assert_eq!(seconds(999_999), 0, "under a millisecond is dropped");
    assert_eq!(seconds(1_000_000), 1);
    assert_eq!(seconds(S), 1);
    assert_eq!(seconds(S + 999_999), 1);
    assert_eq!(seconds(S + MS), 2);
    assert_eq!(seconds(-S), -1);
}

#[test]
fn cl_throttle_refuses_bad_quotas() {
    assert!(Quota::new(-1, 1, 1).is_err());
    assert!(Quota::new(1, 0, 1).is_err());
    assert!(Quota::new(1, 1, 0).is_err());
    assert!(Quota::new(1, 1, i64::MAX / 10).is_err());
    assert!(Quota::new(i64::MAX - 1, 1, 1).is_err());
    let q = Quota::new(1, 1, 1).unwrap();
    let _: Reply = super::throttle::throttle(&q, None, i64::MAX, 0).0;
}

#[test]
fn gcra_limit_10_per_minute_admits_10_then_one_every_6_s() {
    let l = Limits::new();
    let g = p(10, 60_000, 10, Algo::Gcra);
    for left in (0..10).rev() {
        let o = l.hit(b"u", &g, 1, 0, true);
        assert!(o.allowed);
        assert_eq!(o.remaining, left);
    }
    let o = l.hit(b"u", &g, 1, 0, true);
    assert_eq!((o.allowed, o.remaining, o.retry_after_ns, o.reset_after_ns), (false, 0, 6 * S, 60 * S));
    assert!(!l.hit(b"u", &g, 1, 6 * S - 1, true).allowed);
    assert!(l.hit(b"u", &g, 1, 6 * S, true).allowed);
    assert!(!l.hit(b"u", &g, 1, 6 * S, true).allowed);
    // Cost larger than the bucket can never pass: retry -1.
    assert_eq!(l.hit(b"v", &g, 11, 0, true).retry_after_ns, -1);
}

#[test]
fn gcra_fractional_rate_admits_the_whole_burst() {
    // 3 per 1000 ms: T = ceil(1e9 / 3) ns; the third of three at once must still fit.
    let l = Limits::new();
    let g = p(3, 1_000, 3, Algo::Gcra);
    assert!((0..3).all(|_| l.hit(b"k", &g, 1, 0, true).allowed));
    assert!(!l.hit(b"k", &g, 1, 0, true).allowed);
}

#[test]
fn sliding_window_weights_the_previous_window() {
    let l = Limits::new();
    let s = p(10, 1_000, 10, Algo::Sliding);
    assert!((0..10).all(|_| l.hit(b"k", &s, 1, 100 * MS, true).allowed));
    let o = l.hit(b"k", &s, 1, 900 * MS, true);
    // Still in window [0, 1 s): 10 used. Next window: estimate 10 * (1 - e/1000 ms) + 0 must
    // be <= 9, so e >= 100 ms: retry at 1.1 s.
    assert_eq!((o.allowed, o.retry_after_ns), (false, 200 * MS));
    // At 1.25 s: estimate 10 * 0.75 = 7.5 -> 2 more fit (7.5 + 2 <= 10), a third does not.
    assert!(l.hit(b"k", &s, 2, 1250 * MS, true).allowed);
    let o = l.hit(b"k", &s, 1, 1250 * MS, true);
    assert!(!o.allowed);
    assert_eq!(o.remaining, 0);
    assert_eq!(o.reset_after_ns, 2 * S - 1250 * MS + S);
}

#[test]
fn fixed_windows_align_to_the_epoch() {
    let l = Limits::new();
    l.set_epoch_offset(400 * MS); // clock zero was 0.4 s past a whole second
    let f = p(2, 1_000, 2, Algo::Fixed);
    assert!(l.hit(b"k", &f, 2, 0, true).allowed);
    let o = l.hit(b"k", &f, 1, 100 * MS, true);
    // window [−0.4 s, 0.6 s) on our clock: retry at 0.6 s.
    assert_eq!((o.allowed, o.retry_after_ns, o.reset_after_ns), (false, 500 * MS, 500 * MS));
    assert!(l.hit(b"k", &f, 1, 600 * MS, true).allowed);
}

#[test]
fn adjust_goes_into_debt_and_refunds_never_past_full() {
    let l = Limits::new();
    let g = p(10, 10_000, 10, Algo::Gcra);
    assert_eq!(l.adjust(b"k", &g, 15, 0), -5);
    let o = l.hit(b"k", &g, 1, 0, true);
    assert_eq!((o.allowed, o.retry_after_ns), (false, 6 * S));
    assert_eq!(l.adjust(b"k", &g, -100, 0), 10);
    assert_eq!(l.len_for_test(), 0, "a full key holds no state");
    let f = p(10, 10_000, 10, Algo::Fixed);
    assert_eq!(l.adjust(b"f", &f, 12, 0), -2);
    assert_eq!(l.adjust(b"f", &f, -3, 0), 1);
}

#[test]
fn rl_all_is_all_or_nothing() {
    let l = Limits::new();
    let a = p(5, 60_000, 5, Algo::Gcra);
    let b = p(3, 60_000, 3, Algo::Sliding);
    let c = p(100, 60_000, 100, Algo::Fixed);
    let mut rem = [0.0; 3];
    let items = |cb: u64| vec![Item { key: b"user", params: a, cost: 1 }, Item { key: b"model", params: c, cost: 40 }, Item { key: b"tpm", params: b, cost: cb }];
    let r = l.all(&items(2), 0, &mut rem);
    assert!(r.allowed);
    assert_eq!(rem, [4.0, 60.0, 1.0]);
    assert_eq!(l.len_for_test(), 3, "the key count sees what RL.ALL stored");
    // The third key refuses cost 2 (1 left): nothing at all is consumed.
    let r = l.all(&items(2), 0, &mut rem);
    assert_eq!((r.allowed, r.refused), (false, 2));
    assert_eq!(rem, [4.0, 60.0, 1.0]);
    assert_eq!(l.hit(b"user", &a, 0, 0, false).remaining, 4);
    // The same key twice counts twice.
    let twice = [Item { key: b"user", params: a, cost: 3 }, Item { key: b"user", params: a, cost: 2 }];
    assert!(!l.all(&twice, 0, &mut rem).allowed);
    assert_eq!(l.hit(b"user", &a, 0, 0, false).remaining, 4);
}

#[test]
fn sweep_expires_full_keys_only() {
    let l = Limits::new();
    let g = p(1, 1_000, 1, Algo::Gcra);
    for i in 0..1000u32 {
        l.hit(&i.to_be_bytes(), &g, 1, 0, true);
    }
    let mut removed = 0;
    for _ in 0..store::SHARDS {
        removed += l.sweep(999 * MS, 1);
    }
    assert_eq!(removed, 0);
    for _ in 0..store::SHARDS {
        removed += l.sweep(S, 1);
    }
    assert_eq!(removed, 1000);
}

impl Limits {
    fn len_for_test(&self) -> usize {
        crate::family::Family::len(self)
    }
}

// --- property tests against reference models ------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Hit(u64),
    Peek(u64),
    Adjust(i64),
    Reset,
    Advance(i64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (1u64..8).prop_map(Op::Hit),
        1 => (1u64..8).prop_map(Op::Peek),
        1 => (-6i64..6).prop_map(Op::Adjust),
        1 => Just(Op::Reset),
        3 => (0i64..400).prop_map(|ms| Op::Advance(ms * MS + 7)),
        1 => (0i64..5000).prop_map(|ms| Op::Advance(ms * MS)),
    ];
    prop::collection::vec(op, 1..120)
}

/// Token bucket as a level that refills continuously (in token·T units, i.e. ns), capped.
struct BucketModel {
    level: i128,
    at: i64,
}

/// Windows as counts per window index.
struct WindowModel {
    counts: std::collections::HashMap<i64, i128>,
}

fn run_model(params: Params, ops: &[Op]) -> Result<(), TestCaseError> {
    let l = Limits::new();
    let mut now: i64 = 1_000 * S;
    let t = gcra::interval(&params) as i128;
    let cap = t * params.burst as i128;
    let w = params.period_ns;
    let mut bucket = BucketModel { level: cap, at: now };
    let mut win = WindowModel { counts: Default::default() };
    for op in ops {
        match op {
            Op::Advance(d) => now += d,
            Op::Reset => {
                l.reset(b"k", now);
                bucket = BucketModel { level: cap, at: now };
                win.counts.clear();
            }
            _ => {}
        }
        // Reference state at `now`.
        bucket.level = (bucket.level + (now - bucket.at) as i128).min(cap);
        bucket.at = now;
        let idx = now.div_euclid(w);
        let cur = *win.counts.get(&idx).unwrap_or(&0);
        let prev = *win.counts.get(&(idx - 1)).unwrap_or(&0);
        let elapsed = (now - idx * w) as i128;
        let limit = params.limit as i128;
        // estimate * W, for sliding
        let est_w = prev * (w as i128 - elapsed) + cur * w as i128;
        let model_remaining = match params.algo {
            Algo::Gcra => bucket.level.div_euclid(t),
            Algo::Sliding => (limit * w as i128 - est_w).div_euclid(w as i128),
            Algo::Fixed => limit - cur,
        };
        match *op {
            Op::Hit(c) | Op::Peek(c) => {
                let consume = matches!(op, Op::Hit(_));
                let c128 = c as i128;
                let model_allowed = match params.algo {
                    Algo::Gcra => c128 * t <= bucket.level,
                    Algo::Sliding => est_w + c128 * w as i128 <= limit * w as i128,
                    Algo::Fixed => cur + c128 <= limit,
                };
                let o = l.hit(b"k", &params, c, now, consume);
                prop_assert_eq!(o.allowed, model_allowed, "allowed at {:?}", op);
                if consume && model_allowed {
                    match params.algo {
                        Algo::Gcra => bucket.level -= c128 * t,
                        _ => *win.counts.entry(idx).or_default() += c128,
                    }
                }
                let after = match (params.algo, consume && model_allowed) {
                    (_, false) => model_remaining,
                    (Algo::Gcra, true) => bucket.level.div_euclid(t),
                    (Algo::Sliding, true) => model_remaining - c128,
                    (Algo::Fixed, true) => model_remaining - c128,
                };
                prop_assert_eq!(o.remaining as i128, after, "remaining after {:?}", op);
                if !model_allowed && c <= params.limit.min(params.burst) {
                    // Waiting retry_after admits the hit; a nanosecond less does not.
                    let r = o.retry_after_ns;
                    prop_assert!(r > 0);
                    prop_assert!(l.hit(b"k", &params, c, now + r, false).allowed, "retry_after {} too long? {:?}", r, op);
                    prop_assert!(!l.hit(b"k", &params, c, now + r - 1, false).allowed, "retry_after {} too short", r);
                }
            }
            Op::Adjust(d) => {
                let left = l.adjust(b"k", &params, d, now);
                match params.algo {
                    Algo::Gcra => bucket.level = (bucket.level - d as i128 * t).min(cap),
                    Algo::Fixed => {
                        let e = win.counts.entry(idx).or_default();
                        *e = (*e + d as i128).max(0);
                    }
                    Algo::Sliding => {
                        let mut refund = -(d as i128);
                        let e = win.counts.entry(idx).or_default();
                        if d >= 0 {
                            *e += d as i128;
                        } else {
                            let from_cur = refund.min(*e);
                            *e -= from_cur;
                            refund -= from_cur;
                            let pe = win.counts.entry(idx - 1).or_default();
                            *pe -= refund.min(*pe);
                        }
                    }
                }
                let cur = *win.counts.get(&idx).unwrap_or(&0);
                let prev = *win.counts.get(&(idx - 1)).unwrap_or(&0);
                let expect = match params.algo {
                    Algo::Gcra => bucket.level.div_euclid(t),
                    Algo::Sliding => (limit * w as i128 - prev * (w as i128 - elapsed) - cur * w as i128).div_euclid(w as i128),
                    Algo::Fixed => limit - cur,
                };
                prop_assert_eq!(left as i128, expect, "remaining after {:?}", op);
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn gcra_matches_a_continuous_token_bucket(limit in 1u64..12, per in 1u64..3000, burst in 1u64..12, ops in ops()) {
        run_model(Params::new(limit, per, burst, Algo::Gcra).unwrap(), &ops)?;
    }

    #[test]
    fn sliding_matches_per_window_counts(limit in 1u64..12, per in 1u64..3000, ops in ops()) {
        run_model(Params::new(limit, per, limit, Algo::Sliding).unwrap(), &ops)?;
    }

    #[test]
    fn fixed_matches_per_window_counts(limit in 1u64..12, per in 1u64..3000, ops in ops()) {
        run_model(Params::new(limit, per, limit, Algo::Fixed).unwrap(), &ops)?;
    }

    /// Whatever happens, RL.ALL either consumes every item or leaves every key as it was.
    #[test]
    fn rl_all_never_consumes_partially(costs in prop::collection::vec((0usize..3, 1u64..5), 1..6), pre in prop::collection::vec(0u64..6, 3)) {
        let l = Limits::new();
        let ps = [p(5, 10_000, 5, Algo::Gcra), p(5, 10_000, 5, Algo::Sliding), p(5, 10_000, 5, Algo::Fixed)];
        let keys: [&[u8]; 3] = [b"a", b"b", b"c"];
        for (k, n) in pre.iter().enumerate() {
            if *n > 0 { l.hit(keys[k], &ps[k], *n, 0, true); }
        }
        let before: Vec<i64> = (0..3).map(|k| l.hit(keys[k], &ps[k], 1, 0, false).remaining).collect();
        let items: Vec<Item> = costs.iter().map(|&(k, c)| Item { key: keys[k], params: ps[k], cost: c }).collect();
        let mut rem = vec![0.0; items.len()];
        let r = l.all(&items, 0, &mut rem);
        let after: Vec<i64> = (0..3).map(|k| l.hit(keys[k], &ps[k], 1, 0, false).remaining).collect();
        let mut want: Vec<i64> = before.clone();
        for &(k, c) in &costs { want[k] -= c as i64; }
        if want.iter().all(|&x| x >= 0) {
            prop_assert!(r.allowed);
            prop_assert_eq!(after, want);
        } else {
            prop_assert!(!r.allowed);
            prop_assert_eq!(after, before);
        }
    }
}
