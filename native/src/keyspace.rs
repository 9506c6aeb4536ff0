//! DBSIZE, FLUSHALL and the expiry sweep, across every family.

use napi_derive::napi;
use sluice_core::keyspace;

use crate::{CORE, ns};

/// Keys held across all command families (DBSIZE, INFO keyspace).
#[napi]
pub fn key_count() -> u32 {
    keyspace::key_count(&CORE) as u32
}

/// Drops every key of every family (FLUSHALL).
#[napi]
pub fn flush_all() {
    keyspace::flush_all(&CORE)
}

/// One tick of the background expiry sweep: steps of about `budget` entries per store (a few
/// shards of each), more while they find much expired (`keyspace::sweep`). Returns how many
/// keys it removed.
#[napi]
pub fn sweep(now: f64, budget: u32) -> u32 {
    keyspace::sweep(&CORE, ns(now), budget as usize) as u32
}
