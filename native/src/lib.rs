//! Sluice's native core. This file is the N-API surface only: thin functions that take
//! Buffers and numbers and return numbers (or write into caller-owned typed arrays), so that
//! crossing the JS/Rust boundary stays cheap. The logic lives in the modules, which know
//! nothing about N-API, RESP or sockets and are tested with `cargo test`.
//!
//! Time: `now` arguments are the daemon's monotonic clock in ms (from `clockMs`); durations
//! given back are whole ms (rounded up) unless a function says otherwise.

mod clock;
mod keyspace;
pub mod leases;
pub mod limits;

use std::sync::LazyLock;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use limits::{throttle::Quota, Algo, Item, Limits, ParamError, Params};

pub(crate) static LIMITS: LazyLock<Limits> = LazyLock::new(|| {
    let l = Limits::new();
    l.set_epoch_offset(clock::unix_ns_at_zero());
    l
});
pub(crate) static LEASES: LazyLock<leases::Leases> = LazyLock::new(Default::default);

/// A caller-owned Float64Array that results are written into (borrowed, never copied). An
/// alias, so that napi-derive takes it by value (`&mut [f64]` is FromNapiValue) rather than
/// as a reference to a wrapped object.
type Out<'a> = &'a mut [f64];

/// Status codes the functions below return (the daemon turns them into error replies).
const OK: i32 = 0;
const UNKNOWN_POLICY: i32 = -1;
const ZERO: i32 = -2;
const TOO_LONG: i32 = -3;

#[inline]
fn ns(ms: f64) -> i64 {
    (ms * 1e6) as i64
}

/// ns to whole ms, rounded up; negative stays -1.
#[inline]
fn ms_up(ns: i64) -> f64 {
    if ns < 0 { -1.0 } else { ((ns + 999_999) / 1_000_000) as f64 }
}

fn param_code(e: ParamError) -> i32 {
    match e {
        ParamError::Zero => ZERO,
        ParamError::TooLong => TOO_LONG,
    }
}

fn params(limit: f64, period_ms: f64, burst: f64, algo: u32) -> Result<Params, i32> {
    let algo = Algo::from_code(algo).ok_or(ZERO)?;
    Params::new(limit as u64, period_ms as u64, burst as u64, algo).map_err(param_code)
}

fn write_outcome(o: &limits::Outcome, out: Out<'_>) {
    out[0] = o.allowed as i32 as f64;
    out[1] = o.limit as f64;
    out[2] = o.remaining.max(0) as f64;
    out[3] = if o.allowed { -1.0 } else { ms_up(o.retry_after_ns) };
    out[4] = ms_up(o.reset_after_ns);
}

/// Monotonic milliseconds (fractional). The daemon reads this once per read batch and passes
/// it to every time-dependent operation.
#[napi]
pub fn clock_ms() -> f64 {
    clock::monotonic_ms()
}

/// Keys held across all command families (DBSIZE, INFO keyspace).
#[napi]
pub fn key_count() -> u32 {
    keyspace::key_count() as u32
}

/// Drops every key of every family (FLUSHALL).
#[napi]
pub fn flush_all() {
    keyspace::flush_all()
}

/// RL.HIT (peek false) / RL.PEEK with the limit given inline. Writes
/// `[allowed, limit, remaining, retry_after_ms, reset_after_ms]` to `out`. Returns 0, or -2
/// (a zero parameter) / -3 (a span too long) without touching state.
#[napi]
pub fn rl_hit(key: &[u8], limit: f64, period_ms: f64, burst: f64, algo: u32, cost: f64, peek: bool, now: f64, out: Out<'_>) -> i32 {
    match params(limit, period_ms, burst, algo) {
        Ok(p) => {
            write_outcome(&LIMITS.hit(key, &p, cost as u64, ns(now), !peek), out);
            OK
        }
        Err(code) => code,
    }
}

/// RL.HIT / RL.PEEK with a named policy. Returns 0 or -1 (unknown policy).
#[napi]
pub fn rl_hit_policy(key: &[u8], policy: &[u8], cost: f64, peek: bool, now: f64, out: Out<'_>) -> i32 {
    match LIMITS.policies.get(policy) {
        Some(p) => {
            write_outcome(&LIMITS.hit(key, &p, cost as u64, ns(now), !peek), out);
            OK
        }
        None => UNKNOWN_POLICY,
    }
}

/// RL.ADJUST: writes the tokens remaining afterwards (negative: in debt) to `out[0]`.
#[napi]
pub fn rl_adjust(key: &[u8], policy: &[u8], delta: f64, now: f64, out: Out<'_>) -> i32 {
    match LIMITS.policies.get(policy) {
        Some(p) => {
            out[0] = LIMITS.adjust(key, &p, delta as i64, ns(now)) as f64;
            OK
        }
        None => UNKNOWN_POLICY,
    }
}

/// RL.ALL: `keys[i]` under policy `policies[i]` costs `costs[i]`. Writes
/// `[allowed, refusing index or -1, retry_after_ms or -1, remaining per key...]`. Returns 0, or
/// -1 with `out[1]` = the index of the unknown policy (nothing is touched then).
#[napi]
pub fn rl_all(keys: Vec<Buffer>, policies: Vec<Buffer>, costs: &[f64], now: f64, out: Out<'_>) -> i32 {
    let mut items = Vec::with_capacity(keys.len());
    for (i, (key, policy)) in keys.iter().zip(&policies).enumerate() {
        let Some(params) = LIMITS.policies.get(policy) else {
            out[1] = i as f64;
            return UNKNOWN_POLICY;
        };
        items.push(Item { key, params, cost: costs[i] as u64 });
    }
    let (head, remaining) = out.split_at_mut(3);
    let r = LIMITS.all(&items, ns(now), remaining);
    head[0] = r.allowed as i32 as f64;
    head[1] = r.refused as f64;
    head[2] = if r.allowed { -1.0 } else { ms_up(r.retry_after_ns) };
    for x in remaining[..items.len()].iter_mut() {
        *x = x.max(0.0);
    }
    OK
}

/// RL.RESET of one key: true if it held state.
#[napi]
pub fn rl_reset(key: &[u8], now: f64) -> bool {
    LIMITS.reset(key, ns(now))
}

/// RL.POLICY SET: 1 if new, 0 if replaced, or -2 / -3 for bad parameters.
#[napi]
pub fn rl_policy_set(name: &[u8], limit: f64, period_ms: f64, burst: f64, algo: u32) -> i32 {
    match params(limit, period_ms, burst, algo) {
        Ok(p) => LIMITS.policies.set(name, p) as i32,
        Err(code) => code,
    }
}

/// RL.POLICY GET: writes `[limit, period_ms, burst, algo]`; false if unknown.
#[napi]
pub fn rl_policy_get(name: &[u8], out: Out<'_>) -> bool {
    match LIMITS.policies.get(name) {
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
    LIMITS.policies.remove(name)
}

/// RL.POLICY LIST (not a hot path).
#[napi]
pub fn rl_policy_list() -> Vec<Buffer> {
    LIMITS.policies.names().into_iter().map(|n| Buffer::from(n.into_vec())).collect()
}

/// CL.THROTTLE: writes redis-cell's five integers. Returns 0, -2 (max_burst < 0, count or
/// period <= 0) or -3 (a duration out of range).
#[napi]
pub fn cl_throttle(key: &[u8], max_burst: f64, count: f64, period_s: f64, quantity: f64, now: f64, out: Out<'_>) -> i32 {
    let q = match Quota::new(max_burst as i64, count as i64, period_s as i64) {
        Ok(q) => q,
        Err(limits::throttle::QuotaError::NotPositive) => return ZERO,
        Err(limits::throttle::QuotaError::Overflow) => return TOO_LONG,
    };
    let r = LIMITS.throttle(key, &q, quantity as i64, ns(now));
    out[0] = r.limited as f64;
    out[1] = r.limit as f64;
    out[2] = r.remaining as f64;
    out[3] = r.retry_after as f64;
    out[4] = r.reset_after as f64;
    OK
}

/// SEM.ACQUIRE: writes `[acquired, lease id or -1, in use]`.
#[napi]
pub fn sem_acquire(key: &[u8], limit: f64, ttl_ms: f64, now: f64, out: Out<'_>) {
    let a = LEASES.acquire(key, limit as usize, ns(ttl_ms), ns(now));
    out[0] = a.lease.is_some() as i32 as f64;
    out[1] = a.lease.map_or(-1.0, |id| id as f64);
    out[2] = a.in_use as f64;
}

#[napi]
pub fn sem_release(key: &[u8], lease: f64, now: f64) -> bool {
    LEASES.release(key, lease as u64, ns(now))
}

#[napi]
pub fn sem_extend(key: &[u8], lease: f64, ttl_ms: f64, now: f64) -> bool {
    LEASES.extend(key, lease as u64, ns(ttl_ms), ns(now))
}

#[napi]
pub fn sem_count(key: &[u8], now: f64) -> u32 {
    LEASES.count(key, ns(now)) as u32
}

/// One step of the background expiry sweep: examines about `budget` entries per store (a few
/// shards of each). Returns how many keys it removed.
#[napi]
pub fn sweep(now: f64, budget: u32) -> u32 {
    (LIMITS.sweep(ns(now), budget as usize) + LEASES.sweep(ns(now), budget as usize)) as u32
}
