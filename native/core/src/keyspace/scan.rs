//! SCAN over every store (the three limiter stores and the lease store) in bounded steps.
//!
//! # The cursor
//!
//! A cursor is `shard << 32 | position` (at most 40 bits, so JavaScript clients that read it
//! as a number lose nothing). All stores share one hash and one shard function, so shard `i`
//! of every store is visited together. Within a shard, keys are ordered by the low 32 bits of
//! their hash (the bits `shard_of` does not use): `position` is the next value of that order
//! not visited yet. A step visits the keys whose order lies in `[position, position + width)`,
//! `width` chosen at that moment so that a slice holds about `SLICE` entries (the whole shard
//! while it holds fewer), then moves `position` to the end of the slice, or to the next shard.
//!
//! # The guarantee (Redis's SCAN promise)
//!
//! Every key present for the whole scan is returned at least once, while keys are added,
//! removed or expire between calls and while tables grow, shrink or rehash:
//! - a slice is visited under the locks of that shard of every store, so the tables cannot
//!   change during the visit, and every entry whose order is in the slice is seen;
//! - the slices of a shard are consecutive ranges of a fixed order that cover all of it,
//!   whatever widths later steps choose, and every shard is visited in turn; the order is the
//!   key's hash (fixed for the life of the process), not its place in a table, so no rehash
//!   can move a key into a range already visited.
//! A key is returned once for the scan (it lives in one shard and one order value), unless a
//! client repeats a cursor. A key added during the scan is returned if its slice is visited
//! after it was added. A cursor does not survive a restart (the hash seed is per process): a
//! stale one resumes at some point of the order, and never fails.
//!
//! # A key in several stores
//!
//! A key can hold state in several stores at once (`RL.HIT k ... ALGO gcra` and `... ALGO
//! fixed`, or a limiter key that is also a lease key). It is one key: its type is the first
//! store that holds it in the fixed order gcra, sliding, fixed, lease (see `Kind`), and SCAN
//! returns it once, under that type, at the visit of its slice.
//!
//! # Cost of a step
//!
//! Whole slices only: a step visits slices until it has examined `count` entries, so one step
//! costs about max(count, SLICE) entries' work when the shard is sliced, or one shard when it
//! is not. Slicing a shard walks all of its entries (hashing each) to pick a slice's keys, so a
//! sliced shard costs (entries / SLICE) walks of it over a full scan: shards start being
//! sliced at SLICE * 256 entries of a store (about a million keys).

use super::{Filter, Kind};
use crate::limits::store::{hash_key, Shard, SHARDS};
use crate::Core;

/// The bits of a cursor that hold the position within a shard.
pub const ORDER_BITS: u32 = 32;
const ORDER_SPAN: u64 = 1 << ORDER_BITS;
/// A shard is visited in slices of about this many entries.
pub const SLICE: usize = 4096;

/// A key's place in its shard's order.
#[inline]
fn order(key: &[u8]) -> u64 {
    hash_key(key) & (ORDER_SPAN - 1)
}

/// What a SCAN step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The cursor to continue from; 0 when the scan is complete.
    pub next: u64,
    /// Keys appended.
    pub keys: usize,
}

/// One SCAN step from `cursor` (0 starts a scan): appends each key that passes `filter` to
/// `out` as a RESP bulk string (`$<length>\r\n<key>\r\n`, the same in RESP2 and RESP3, so the
/// daemon sends the bytes as they are), until about `count` entries were examined.
pub fn scan(core: &Core, cursor: u64, count: usize, filter: &Filter, now: i64, out: &mut Vec<u8>) -> Step {
    scan_sliced(core, cursor, count, filter, now, out, SLICE)
}

/// `scan` with slices of about `slice` entries (tests use small ones to slice small shards).
fn scan_sliced(core: &Core, cursor: u64, count: usize, filter: &Filter, now: i64, out: &mut Vec<u8>, slice: usize) -> Step {
    let (mut shard, mut position) = ((cursor >> ORDER_BITS) as usize, cursor & (ORDER_SPAN - 1));
    let (mut examined, mut keys) = (0, 0);
    while shard < SHARDS {
        let held = core.limits.shard_len(shard) + core.leases.shard_len(shard);
        let parts = held.div_ceil(slice).max(1).next_power_of_two() as u64;
        let end = position.saturating_add(ORDER_SPAN / parts).min(ORDER_SPAN);
        let whole = position == 0 && end == ORDER_SPAN;
        let (seen, kept) = visit(core, shard, position, end, whole, filter, now, out);
        examined += seen;
        keys += kept;
        position = end;
        if position == ORDER_SPAN {
            shard += 1;
            position = 0;
        }
        if examined >= count {
            break;
        }
    }
    let next = if shard >= SHARDS { 0 } else { (shard as u64) << ORDER_BITS | position };
    Step { next, keys }
}

/// Visits the keys of shard `i` whose order is in `[from, to)` (all of them when `whole`),
/// with that shard of every store locked. Returns (live entries examined, keys appended).
#[allow(clippy::too_many_arguments)]
fn visit(core: &Core, i: usize, from: u64, to: u64, whole: bool, filter: &Filter, now: i64, out: &mut Vec<u8>) -> (usize, usize) {
    let in_slice = |key: &[u8]| whole || (from..to).contains(&order(key));
    let live = |shard_is_empty: bool, key: &[u8], has: &dyn Fn(&[u8], u64) -> bool| !shard_is_empty && has(key, hash_key(key));
    let set = core.limits.lock_shards(i);
    let (mut examined, mut kept) = (0, 0);
    let mut emit = |key: &[u8], kind: Kind, out: &mut Vec<u8>| {
        if filter.accepts(key, kind) {
            write_bulk(key, out);
            kept += 1;
        }
    };
    // Does an earlier store in the fixed order hold `key`? Then it is reported as that type.
    let in_gcra = |k: &[u8], h: u64| set.gcra.get(k, h, now).is_some();
    let in_sliding = |k: &[u8], h: u64| set.sliding.get(k, h, now).is_some();
    let in_fixed = |k: &[u8], h: u64| set.fixed.get(k, h, now).is_some();
    let (no_gcra, no_sliding, no_fixed) = (set.gcra.len() == 0, set.sliding.len() == 0, set.fixed.len() == 0);

    if filter.may_yield(Kind::Gcra) {
        walk(&set.gcra, now, |k| {
            if in_slice(k) {
                examined += 1;
                emit(k, Kind::Gcra, out);
            }
        });
    }
    if filter.may_yield(Kind::Sliding) {
        walk(&set.sliding, now, |k| {
            if in_slice(k) {
                examined += 1;
                if !live(no_gcra, k, &in_gcra) {
                    emit(k, Kind::Sliding, out);
                }
            }
        });
    }
    if filter.may_yield(Kind::Fixed) {
        walk(&set.fixed, now, |k| {
            if in_slice(k) {
                examined += 1;
                if !live(no_gcra, k, &in_gcra) && !live(no_sliding, k, &in_sliding) {
                    emit(k, Kind::Fixed, out);
                }
            }
        });
    }
    if filter.may_yield(Kind::Lease) {
        core.leases.for_each_live_in(i, now, |k, _| {
            if in_slice(k) {
                examined += 1;
                if !live(no_gcra, k, &in_gcra) && !live(no_sliding, k, &in_sliding) && !live(no_fixed, k, &in_fixed) {
                    emit(k, Kind::Lease, out);
                }
            }
        });
    }
    (examined, kept)
}

/// Appends `key` as a RESP bulk string.
fn write_bulk(key: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "${}\r\n", key.len());
    out.extend_from_slice(key);
    out.extend_from_slice(b"\r\n");
}

fn walk<R: Copy>(shard: &Shard<R>, now: i64, mut f: impl FnMut(&[u8])) {
    shard.for_each_live(now, |k, _| f(k));
}

#[cfg(test)]
mod tests;
