//! Sliding-window counter: windows of length W aligned to the epoch; the estimate at `now` is
//! `prev * (W - elapsed) / W + cur`, the previous window weighted by the part of it still inside
//! the sliding window. Compared exactly, in i128, by multiplying through by W.

use super::{align, Outcome, Params};

/// Stored beside `expires_at`: (start of the window `cur` counts, prev, cur).
pub type Rest = (i64, u64, u64);

struct View {
    start: i64,
    w: i128,
    elapsed: i128,
    prev: i128,
    cur: i128,
}

fn view(p: &Params, st: Option<(i64, Rest)>, now: i64, offset: i64) -> View {
    let start = align(now, p.period_ns, offset);
    let (prev, cur) = match st {
        Some((_, (s, prev, cur))) if s == start => (prev, cur),
        Some((_, (s, _, cur))) if s == start - p.period_ns => (cur, 0),
        _ => (0, 0),
    };
    View { start, w: p.period_ns as i128, elapsed: (now - start) as i128, prev: prev as i128, cur: cur as i128 }
}

impl View {
    /// limit*W - estimate*W
    fn room(&self, limit: u64) -> i128 {
        limit as i128 * self.w - self.prev * (self.w - self.elapsed) - self.cur * self.w
    }
    fn remaining(&self, limit: u64) -> i64 {
        self.room(limit).div_euclid(self.w) as i64
    }
    fn reset_after(&self, now: i64) -> i64 {
        let w = self.w as i64;
        if self.cur > 0 {
            self.start + 2 * w - now
        } else if self.prev > 0 {
            self.start + w - now
        } else {
            0
        }
    }
    fn state(&self, now: i64) -> Option<(i64, Rest)> {
        let reset = self.reset_after(now);
        (reset > 0).then(|| (now + reset, (self.start, clamp_u64(self.prev), clamp_u64(self.cur))))
    }
}

fn clamp_u64(x: i128) -> u64 {
    x.clamp(0, u64::MAX as i128) as u64
}

pub fn hit(p: &Params, st: Option<(i64, Rest)>, cost: u64, now: i64, consume: bool, offset: i64) -> (Outcome, Option<Option<(i64, Rest)>>) {
    let mut v = view(p, st, now, offset);
    let mut out = Outcome { allowed: false, limit: p.limit, remaining: v.remaining(p.limit), retry_after_ns: -1, reset_after_ns: v.reset_after(now) };
    if cost > p.limit {
        return (out, None);
    }
    let c = cost as i128;
    if v.room(p.limit) >= c * v.w {
        out.allowed = true;
        if !consume {
            return (out, None);
        }
        v.cur += c;
        out.remaining = v.remaining(p.limit);
        out.reset_after_ns = v.reset_after(now);
        return (out, Some(v.state(now)));
    }
    // Earliest t with prev*(start+W-t) + (cur+c)*W <= limit*W, inside this window if possible,
    // else in the next one, where `cur` becomes the weighted previous window.
    let spare = (p.limit as i128 - c - v.cur) * v.w;
    let t = if spare >= 0 {
        v.start as i128 + v.w - spare / v.prev
    } else {
        v.start as i128 + 2 * v.w - (p.limit as i128 - c) * v.w / v.cur
    };
    out.retry_after_ns = (t - now as i128) as i64;
    (out, None)
}

/// Charges or refunds `delta` tokens in the current window without refusing.
pub fn adjust(p: &Params, st: Option<(i64, Rest)>, delta: i64, now: i64, offset: i64) -> (i64, Option<(i64, Rest)>) {
    let mut v = view(p, st, now, offset);
    if delta >= 0 {
        v.cur += delta as i128;
    } else {
        let mut refund = -(delta as i128);
        let from_cur = refund.min(v.cur);
        v.cur -= from_cur;
        refund -= from_cur;
        v.prev -= refund.min(v.prev);
    }
    (v.remaining(p.limit), v.state(now))
}
