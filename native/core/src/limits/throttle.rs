//! redis-cell's CL.THROTTLE, arithmetic for arithmetic: the emission interval is
//! `(period_ns as f64 / count as f64) as i64`, the tolerance `T * (max_burst + 1)`, remaining is
//! computed from microseconds in f64, and the two durations are reported in seconds, truncated
//! and then raised by one when the leftover has a whole millisecond or more.

/// A CL.THROTTLE limit, validated.
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    pub limit: i64,
    pub interval: i64,
    pub tolerance: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum QuotaError {
    /// max_burst < 0, count <= 0 or period <= 0.
    NotPositive,
    /// A duration does not fit the clock's range.
    Overflow,
}

impl Quota {
    pub fn new(max_burst: i64, count: i64, period_s: i64) -> Result<Quota, QuotaError> {
        if max_burst < 0 || count <= 0 || period_s <= 0 {
            return Err(QuotaError::NotPositive);
        }
        let period_ns = period_s.checked_mul(1_000_000_000).filter(|&n| n <= super::MAX_SPAN).ok_or(QuotaError::Overflow)?;
        let interval = (period_ns as f64 / count as f64) as i64;
        let tolerance = interval.checked_mul(max_burst + 1).filter(|&n| n <= super::MAX_SPAN).ok_or(QuotaError::Overflow)?;
        Ok(Quota { limit: max_burst + 1, interval, tolerance })
    }
}

/// The five integers of the reply.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Reply {
    pub limited: i64,
    pub limit: i64,
    pub remaining: i64,
    pub retry_after: i64,
    pub reset_after: i64,
}

impl Reply {
    /// In redis-cell's order.
    pub fn values(&self) -> [i64; 5] {
        [self.limited, self.limit, self.remaining, self.retry_after, self.reset_after]
    }
}

/// Seconds as redis-cell reports a duration: whole seconds, plus one if a millisecond or
/// more is left over.
pub fn seconds(ns: i64) -> i64 {
    let whole = (ns as f64 / 1e9) as i64;
    if (ns % 1_000_000_000) / 1_000_000 > 0 { whole + 1 } else { whole }
}

/// One CL.THROTTLE at `now` against stored `tat` (None: absent). Returns the reply and the tat
/// to store when the request was admitted.
pub fn throttle(q: &Quota, tat: Option<i64>, quantity: i64, now: i64) -> (Reply, Option<i64>) {
    let increment = (q.interval as i128 * quantity as i128).clamp(-(super::MAX_SPAN as i128), super::MAX_SPAN as i128) as i64;
    let tat = tat.unwrap_or(now);
    let new_tat = if now > tat { now + increment } else { tat + increment };
    let diff = now - (new_tat - q.tolerance);
    let (limited, ttl, retry, store) = if diff < 0 {
        let retry = if increment <= q.tolerance { seconds(-diff) } else { -1 };
        (1, tat - now, retry, None)
    } else {
        (0, new_tat - now, -1, Some(new_tat))
    };
    let next = q.tolerance - ttl;
    let remaining = if next > -q.interval { ((next / 1000) as f64 / (q.interval / 1000) as f64) as i64 } else { 0 };
    (Reply { limited, limit: q.limit, remaining, retry_after: retry, reset_after: seconds(ttl) }, store)
}
