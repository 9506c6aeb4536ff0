//! Sluice's native core. This file is the N-API surface only: thin functions that take
//! Buffers and numbers and return numbers (or write into caller-owned typed arrays), so that
//! crossing the JS/Rust boundary stays cheap. The logic lives in the modules, which know
//! nothing about N-API, RESP or sockets and are tested with `cargo test`.

mod clock;
mod keyspace;

use napi_derive::napi;

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
