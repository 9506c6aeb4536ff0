//! Sluice's N-API binding. The domain logic (limits, leases, tokens, the fast path) is the
//! `sluice-core` crate in `native/core`, which knows nothing about N-API; this crate owns the
//! process's one `Core` value (`CORE`) and exports thin functions, one file per family, that
//! convert arguments and call it. Buffers and numbers come in; numbers come back, or are
//! written into caller-owned typed arrays, so crossing the JS/Rust boundary stays cheap.
//!
//! Time: `now` arguments are the daemon's monotonic clock in ms (from `clockMs`); durations
//! given back are whole ms (rounded up) unless a function says otherwise.
//!
//! Status codes: functions that can refuse return one of the `STATUS_*` constants exported
//! below (defined in `sluice_core::status`); the daemon turns them into error replies.

pub mod area;
pub mod keys;
pub mod keyspace;
pub mod leases;
pub mod limits;
pub mod routing;
pub mod snapshot;
pub mod tokens;

use std::sync::LazyLock;

use napi_derive::napi;
use sluice_core::{Core, clock, status};

/// All of Sluice's state, for the life of the process. Token counts on libuv's worker threads
/// reach it as `&'static Core`.
static CORE: LazyLock<Core> = LazyLock::new(|| Core::new(clock::unix_ns_at_zero()));

/// A caller-owned Float64Array that results are written into (borrowed, never copied). An
/// alias, so that napi-derive takes it by value (`&mut [f64]` is FromNapiValue) rather than
/// as a reference to a wrapped object.
type Out<'a> = &'a mut [f64];

#[napi]
pub const STATUS_OK: i32 = status::OK;
#[napi]
pub const STATUS_UNKNOWN_POLICY: i32 = status::UNKNOWN_POLICY;
#[napi]
pub const STATUS_BAD_PARAMS: i32 = status::BAD_PARAMS;
#[napi]
pub const STATUS_SPAN_TOO_LONG: i32 = status::SPAN_TOO_LONG;
#[napi]
pub const STATUS_UNBOUND: i32 = status::UNBOUND;

/// The daemon's ms to the core's ns.
#[inline]
fn ns(ms: f64) -> i64 {
    (ms * 1e6) as i64
}

/// Monotonic milliseconds (fractional). The daemon reads this once per read batch and passes
/// it to every time-dependent operation.
#[napi]
pub fn clock_ms() -> f64 {
    clock::monotonic_ms()
}
