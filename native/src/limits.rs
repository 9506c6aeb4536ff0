//! RL.* and CL.THROTTLE with their arguments passed in the call (the call area in `area.rs`
//! is the argument-free way in for the hottest two).

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use sluice_core::limits::throttle::{Quota, QuotaError};
use sluice_core::limits::{self, Algo, Item, ParamError, Params};
use sluice_core::status;

use crate::{CORE, Out, ns};

fn params(limit: f64, period_ms: f64, burst: f64, algo: u32) -> Result<Params, i32> {
    let algo = Algo::from_code(algo).ok_or(status::BAD_PARAMS)?;
    Params::new(limit as u64, period_ms as u64, burst as u64, algo).map_err(|e| match e {
        ParamError::Zero => status::BAD_PARAMS,
        ParamError::TooLong => status::SPAN_TOO_LONG,
    })
}

/// Writes five integers (a reply's values) into the caller's array.
fn write5(values: [i64; 5], out: Out<'_>) {
    for (slot, v) in out.iter_mut().zip(values) {
        *slot = v as f64;
    }
}

/// RL.HIT (peek false) / RL.PEEK with the limit given inline. Writes
/// `[allowed, limit, remaining, retry_after_ms, reset_after_ms]` to `out`. Returns STATUS_OK,
/// or STATUS_BAD_PARAMS / STATUS_SPAN_TOO_LONG without touching state.
#[napi]
pub fn rl_hit(key: &[u8], limit: f64, period_ms: f64, burst: f64, algo: u32, cost: f64, peek: bool, now: f64, out: Out<'_>) -> i32 {
    match params(limit, period_ms, burst, algo) {
        Ok(p) => {
            write5(CORE.limits.hit(key, &p, cost as u64, ns(now), !peek).reply(), out);
            status::OK
        }
        Err(code) => code,
    }
}

/// RL.HIT / RL.PEEK with a named policy. Returns STATUS_OK or STATUS_UNKNOWN_POLICY.
#[napi]
pub fn rl_hit_policy(key: &[u8], policy: &[u8], cost: f64, peek: bool, now: f64, out: Out<'_>) -> i32 {
    match CORE.limits.policies.get(policy) {
        Some(p) => {
            write5(CORE.limits.hit(key, &p, cost as u64, ns(now), !peek).reply(), out);
            status::OK
        }
        None => status::UNKNOWN_POLICY,
    }
}

/// RL.ADJUST: writes the tokens remaining afterwards (negative: in debt) to `out[0]`.
#[napi]
pub fn rl_adjust(key: &[u8], policy: &[u8], delta: f64, now: f64, out: Out<'_>) -> i32 {
    match CORE.limits.policies.get(policy) {
        Some(p) => {
            out[0] = CORE.limits.adjust(key, &p, delta as i64, ns(now)) as f64;
            status::OK
        }
        None => status::UNKNOWN_POLICY,
    }
}

/// RL.ALL: `keys[i]` under policy `policies[i]` costs `costs[i]`. Writes
/// `[allowed, refusing index or -1, retry_after_ms or -1, remaining per key...]`. Returns
/// STATUS_OK, or STATUS_UNKNOWN_POLICY with `out[1]` = the index of the unknown policy
/// (nothing is touched then).
#[napi]
pub fn rl_all(keys: Vec<Buffer>, policies: Vec<Buffer>, costs: &[f64], now: f64, out: Out<'_>) -> i32 {
    let mut items = Vec::with_capacity(keys.len());
    for (i, (key, policy)) in keys.iter().zip(&policies).enumerate() {
        let Some(params) = CORE.limits.policies.get(policy) else {
            out[1] = i as f64;
            return status::UNKNOWN_POLICY;
        };
        items.push(Item { key, params, cost: costs[i] as u64 });
    }
    let (head, remaining) = out.split_at_mut(3);
    let r = CORE.limits.all(&items, ns(now), remaining);
    head[0] = r.allowed as i32 as f64;
    head[1] = r.refused as f64;
    head[2] = if r.allowed { -1.0 } else { limits::ms_up(r.retry_after_ns) as f64 };
    for x in remaining[..items.len()].iter_mut() {
        *x = x.max(0.0);
    }
    status::OK
}

/// RL.RESET of one key: true if it held state.
#[napi]
pub fn rl_reset(key: &[u8], now: f64) -> bool {
    CORE.limits.reset(key, ns(now))
}

/// RL.POLICY SET: 1 if new, 0 if replaced, or STATUS_BAD_PARAMS / STATUS_SPAN_TOO_LONG.
#[napi]
pub fn rl_policy_set(name: &[u8], limit: f64, period_ms: f64, burst: f64, algo: u32) -> i32 {
    match params(limit, period_ms, burst, algo) {
        Ok(p) => CORE.limits.policies.set(name, p) as i32,
        Err(code) => code,
    }
}

/// RL.POLICY GET: writes `[limit, period_ms, burst, algo]`; false if unknown.
#[napi]
pub fn rl_policy_get(name: &[u8], out: Out<'_>) -> bool {
    match CORE.limits.policies.get(name) {
        Some(p) => {
            out[0] = p.limit as f64;
            out[1] = (p.period_ns / 1_000_000) as f64;
            out[2] = p.burst as f64;
            out[3] = p.algo as u32 as f64;
            true
        }
        None => false,
    }
}

#[napi]
pub fn rl_policy_del(name: &[u8]) -> bool {
    CORE.limits.policies.remove(name)
}

/// RL.POLICY LIST (not a hot path).
#[napi]
pub fn rl_policy_list() -> Vec<Buffer> {
    CORE.limits.policies.names().into_iter().map(|n| Buffer::from(n.into_vec())).collect()
}

/// CL.THROTTLE: writes redis-cell's five integers. Returns STATUS_OK, STATUS_BAD_PARAMS
/// (max_burst < 0, count or period <= 0) or STATUS_SPAN_TOO_LONG (a duration out of range).
#[napi]
pub fn cl_throttle(key: &[u8], max_burst: f64, count: f64, period_s: f64, quantity: f64, now: f64, out: Out<'_>) -> i32 {
    let q = match Quota::new(max_burst as i64, count as i64, period_s as i64) {
        Ok(q) => q,
        Err(QuotaError::NotPositive) => return status::BAD_PARAMS,
        Err(QuotaError::Overflow) => return status::SPAN_TOO_LONG,
    };
    write5(CORE.limits.throttle(key, &q, quantity as i64, ns(now)).values(), out);
    status::OK
}

/// One key prefix's limiter decisions since start (or CONFIG RESETSTAT): see
/// `sluice_core::limits::decisions`. `overflow`: the slot of prefixes past the first 64.
#[napi(object)]
pub struct PrefixDecisions {
    pub prefix: Buffer,
    pub overflow: bool,
    pub allowed: f64,
    pub refused: f64,
    /// Admitted hits that left at most a tenth of the capacity.
    pub near: f64,
}

/// Limiter decisions per key prefix (read at scrape time, not on the hot path).
#[napi]
pub fn limit_decisions() -> Vec<PrefixDecisions> {
    CORE.limits
        .decisions
        .snapshot()
        .into_iter()
        .map(|p| PrefixDecisions {
            overflow: p.prefix.is_none(),
            prefix: p.prefix.unwrap_or_default().into(),
            allowed: p.allowed as f64,
            refused: p.refused as f64,
            near: p.near as f64,
        })
        .collect()
}

/// Zeroes the per-prefix decision counts (CONFIG RESETSTAT).
#[napi]
pub fn limit_decisions_reset() {
    CORE.limits.decisions.clear();
}
