//! SEM.*: concurrency leases.

use napi_derive::napi;

use crate::{CORE, Out, ns};

/// SEM.ACQUIRE: writes `[acquired, lease id or -1, in use]`.
#[napi]
pub fn sem_acquire(key: &[u8], limit: f64, ttl_ms: f64, now: f64, out: Out<'_>) {
    let a = CORE.leases.acquire(key, limit as usize, ns(ttl_ms), ns(now));
    out[0] = a.lease.is_some() as i32 as f64;
    out[1] = a.lease.map_or(-1.0, |id| id as f64);
    out[2] = a.in_use as f64;
}

#[napi]
pub fn sem_release(key: &[u8], lease: f64, now: f64) -> bool {
    CORE.leases.release(key, lease as u64, ns(now))
}

#[napi]
pub fn sem_extend(key: &[u8], lease: f64, ttl_ms: f64, now: f64) -> bool {
    CORE.leases.extend(key, lease as u64, ns(ttl_ms), ns(now))
}

#[napi]
pub fn sem_count(key: &[u8], now: f64) -> u32 {
    CORE.leases.count(key, ns(now)) as u32
}

/// Writes `[keys with live leases, live leases]` to `out` (the metrics endpoint; walks every key).
#[napi]
pub fn lease_stats(now: f64, out: Out<'_>) {
    out[0] = sluice_core::family::Family::len(&CORE.leases) as f64;
    out[1] = CORE.leases.held(ns(now)) as f64;
}
