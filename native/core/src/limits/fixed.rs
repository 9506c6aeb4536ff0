//! Fixed windows aligned to the epoch: a counter per window of length W.

use super::{align, Outcome, Params};

/// Stored beside `expires_at` (the window's end): (window start, count).
pub type Rest = (i64, u64);

fn count_now(p: &Params, st: Option<(i64, Rest)>, now: i64, offset: i64) -> (i64, i128) {
    let start = align(now, p.period_ns, offset);
    let count = match st {
        Some((_, (s, n))) if s == start => n as i128,
        _ => 0,
    };
    (start, count)
}

fn state(start: i64, w: i64, count: i128) -> Option<(i64, Rest)> {
    (count > 0).then(|| (start + w, (start, count.min(u64::MAX as i128) as u64)))
}

pub fn hit(p: &Params, st: Option<(i64, Rest)>, cost: u64, now: i64, consume: bool, offset: i64) -> (Outcome, Option<Option<(i64, Rest)>>) {
    let (start, count) = count_now(p, st, now, offset);
    let end = start + p.period_ns;
    let reset = |n: i128| if n > 0 { end - now } else { 0 };
    let left = |n: i128| (p.limit as i128 - n).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let mut out = Outcome { allowed: false, limit: p.limit, remaining: left(count), retry_after_ns: -1, reset_after_ns: reset(count) };
    if cost > p.limit {
        return (out, None);
    }
    if count + cost as i128 <= p.limit as i128 {
        out.allowed = true;
        if !consume {
            return (out, None);
        }
        let n = count + cost as i128;
        out.remaining = left(n);
        out.reset_after_ns = reset(n);
        return (out, Some(state(start, p.period_ns, n)));
    }
    out.retry_after_ns = end - now;
    (out, None)
}

pub fn adjust(p: &Params, st: Option<(i64, Rest)>, delta: i64, now: i64, offset: i64) -> (i64, Option<(i64, Rest)>) {
    let (start, count) = count_now(p, st, now, offset);
    let n = (count + delta as i128).max(0);
    ((p.limit as i128 - n).clamp(i64::MIN as i128, i64::MAX as i128) as i64, state(start, p.period_ns, n))
}
