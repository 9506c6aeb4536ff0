//! GCRA (a token bucket kept as one number, the theoretical arrival time `tat`).
//!
//! With emission interval `T` (time one token takes to come back) and tolerance
//! `tau = T * capacity`, a request of `cost` is admitted iff `max(tat, now) + cost*T - now <= tau`;
//! the bucket is full again at `tat`. All arithmetic is in integer nanoseconds.

use super::{Outcome, Params, MAX_SPAN};

/// `T` for RL.*: `ceil(period / limit)` ns, so the refill rate never exceeds LIMIT per PER.
pub fn interval(p: &Params) -> i64 {
    // period_ns <= 2^58 and limit < 2^64: u64 arithmetic cannot overflow (no i128 division on
    // the hot path).
    (p.period_ns as u64).div_ceil(p.limit).max(1) as i64
}

/// `tau = T * burst`, or None when it does not fit the clock's range.
pub fn tolerance(p: &Params) -> Option<i64> {
    (interval(p) as u64).checked_mul(p.burst).filter(|&tau| tau <= MAX_SPAN as u64).map(|tau| tau as i64)
}

fn remaining(tau: i64, t: i64, tat: i64, now: i64) -> i64 {
    // floor division, negative when in debt
    (tau - (tat - now)).div_euclid(t)
}

/// One hit (or a peek when `consume` is false) at `now` against stored `tat` (None: full).
/// Returns the outcome and the new tat when it changed.
pub fn hit(p: &Params, tat: Option<i64>, cost: u64, now: i64, consume: bool) -> (Outcome, Option<i64>) {
    let t = interval(p);
    let tau = tolerance(p).expect("validated params");
    let tat = tat.unwrap_or(now).max(now);
    let mut out = Outcome { allowed: false, limit: p.burst, remaining: remaining(tau, t, tat, now), retry_after_ns: -1, reset_after_ns: tat - now };
    if cost > p.burst {
        return (out, None);
    }
    let new_tat = tat + cost as i64 * t; // cost <= burst, so cost*T <= tau fits
    if new_tat - now <= tau {
        out.allowed = true;
        if consume {
            out.remaining = remaining(tau, t, new_tat, now);
            out.reset_after_ns = new_tat - now;
            return (out, Some(new_tat));
        }
        return (out, None);
    }
    out.retry_after_ns = new_tat - tau - now;
    (out, None)
}

/// Charges (`delta > 0`, may go into debt) or refunds (`delta < 0`, never past full) tokens
/// without refusing. Returns the new tat.
pub fn adjust(p: &Params, tat: Option<i64>, delta: i64, now: i64) -> i64 {
    let t = interval(p) as i128;
    let tat = tat.unwrap_or(now).max(now) as i128;
    let new = tat + delta as i128 * t;
    new.clamp(now as i128, (now as i128 + MAX_SPAN as i128).min(super::store::MAX_INSTANT as i128)) as i64
}

/// Tokens left at `now` for stored `tat` (negative: in debt).
pub fn remaining_at(p: &Params, tat: Option<i64>, now: i64) -> i64 {
    let tat = tat.unwrap_or(now).max(now);
    remaining(tolerance(p).expect("validated params"), interval(p), tat, now)
}
