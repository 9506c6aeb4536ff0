//! The keyspace commands over every kind of state: SCAN, TYPE, DEL, PTTL, EXPIRE, MEMORY USAGE,
//! and INFO keyspace's TTL sample. Keys cross as Buffers; SCAN's keys come back in one Buffer.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use sluice_core::keyspace::{self, scan, Filter, Kind};

use crate::{CORE, Out, ns};

/// Longest key stored inline (in a table slot rather than a separate allocation): OBJECT
/// ENCODING says which.
#[napi]
pub const KEY_INLINE_MAX: u32 = sluice_core::limits::store::INLINE_MEDIUM as u32;

/// One SCAN step. `kind` is a type code (0 gcra, 1 sliding, 2 fixed, 3 lease) or -1 for any;
/// a pattern of `*` matches everything without running the matcher. Returns the matching keys
/// in one Buffer, each encoded as a RESP bulk string (the daemon writes the bytes into the
/// reply as they are), and writes `[next cursor (0: done), keys in the Buffer]` to `out`.
#[napi]
pub fn keyspace_scan(cursor: f64, count: u32, pattern: &[u8], kind: i32, now: f64, out: Out<'_>) -> Buffer {
    let filter = Filter { pattern: (pattern != b"*").then_some(pattern), kind: Kind::from_code(kind) };
    let mut keys = Vec::new();
    let step = scan::scan(&CORE, cursor as u64, count.max(1) as usize, &filter, ns(now), &mut keys);
    out[0] = step.next as f64;
    out[1] = step.keys as f64;
    keys.into()
}

/// TYPE: 0 gcra, 1 sliding, 2 fixed, 3 lease, or -1 when the key holds no live state.
#[napi]
pub fn key_type(key: &[u8], now: f64) -> i32 {
    keyspace::kind_of(&CORE, key, ns(now)).map_or(-1, |k| k as i32)
}

/// DEL / UNLINK: true if the key held live state (all of it is gone now).
#[napi]
pub fn key_delete(key: &[u8], now: f64) -> bool {
    keyspace::remove(&CORE, key, ns(now))
}

/// PTTL: ns until the key is forgotten (the daemon rounds), or -2 when it holds no live state.
#[napi]
pub fn key_forgotten_in(key: &[u8], now: f64) -> f64 {
    let now = ns(now);
    keyspace::forgotten_at(&CORE, key, now).map_or(-2.0, |at| (at - now) as f64)
}

/// EXPIRE / PEXPIRE: forget the key within `ttl_ms` (0 or less: now, as DEL) and never later
/// than it would be anyway. True if any of its state changed.
#[napi]
pub fn key_shorten(key: &[u8], ttl_ms: f64, now: f64) -> bool {
    let now = ns(now);
    let deadline = if ttl_ms <= 0.0 { now } else { now.saturating_add(ns(ttl_ms)) };
    keyspace::shorten(&CORE, key, deadline, now)
}

/// MEMORY USAGE: bytes the key's entries take, or -1 when it holds no live state.
#[napi]
pub fn key_memory_usage(key: &[u8], now: f64) -> f64 {
    keyspace::memory_usage(&CORE, key, ns(now)).map_or(-1.0, |b| b as f64)
}

/// INFO keyspace's avg_ttl: writes `[keys sampled, their mean time left in ms]` (whole shards
/// from the first until `sample` keys were seen).
#[napi]
pub fn keyspace_ttl_sample(sample: u32, now: f64, out: Out<'_>) {
    let (seen, sum_ns) = keyspace::ttl_sample(&CORE, sample as usize, ns(now));
    out[0] = seen as f64;
    out[1] = if seen == 0 { 0.0 } else { (sum_ns / seen as i64) as f64 / 1e6 };
}
