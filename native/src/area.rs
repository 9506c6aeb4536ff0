//! Argument-free entry points over memory the daemon binds once: the call area for the
//! hottest limiter calls, and the fast path's area (see `sluice_core::fastpath`).
//!
//! napi-rs spends about 100 ns converting each argument of a call (measured on the development
//! machine: an empty function ~45 ns, one f64 argument ~150 ns), more than RL.HIT's own work. So
//! the daemon binds, once, a key buffer and a Float64Array it keeps alive for the life of the
//! process; the hot calls then take no arguments: the key's bytes are in the key buffer, the
//! numbers in `io`, and the results go back into `io`.

use std::cell::Cell;
use std::thread::LocalKey;

use napi_derive::napi;
use sluice_core::{clock, fastpath, status};

use crate::limits::{cl_throttle, rl_hit};
use crate::{CORE, Out, ns};

type Bytes<'a> = &'a mut [u8];

/// Memory the daemon binds once and keeps alive, in place and the same size, for the life of
/// the process (module-scope Buffers and Float64Arrays; ArrayBuffer memory does not move):
/// a byte region and an `io` array of numbers.
struct BoundArea {
    bytes: *const u8,
    bytes_len: usize,
    io: *mut f64,
    io_len: usize,
}

impl BoundArea {
    fn new(bytes: &[u8], io: &mut [f64]) -> BoundArea {
        BoundArea { bytes: bytes.as_ptr(), bytes_len: bytes.len(), io: io.as_mut_ptr(), io_len: io.len() }
    }
}

type AreaCell = Cell<Option<BoundArea>>;

thread_local! {
    /// The call area: a key buffer and `io`.
    static CALL_AREA: AreaCell = const { Cell::new(None) };
    /// The fast path's: the daemon's shared read buffer and `io`.
    static FAST_AREA: AreaCell = const { Cell::new(None) };
}

/// Runs `f` with an area's bytes and `io`; STATUS_UNBOUND if nothing is bound.
fn with_area(area: &'static LocalKey<AreaCell>, f: impl FnOnce(&[u8], &mut [f64]) -> i32) -> i32 {
    area.with(|cell| {
        let Some(a) = cell.take() else { return status::UNBOUND };
        // SAFETY: the binding contract above; only the event-loop thread (the one that bound
        // the area: the cell is thread-local) calls in, so nothing else aliases the memory.
        let (bytes, io) = unsafe { (std::slice::from_raw_parts(a.bytes, a.bytes_len), std::slice::from_raw_parts_mut(a.io, a.io_len)) };
        let code = f(bytes, io);
        cell.set(Some(a));
        code
    })
}

/// Binds the call area (see BoundArea for what the caller keeps).
#[napi]
pub fn bind_call_area(key: Bytes<'_>, io: Out<'_>) {
    CALL_AREA.with(|a| a.set(Some(BoundArea::new(key, io))));
}

/// Runs `f` with the bound key (its length is `io[0]`) and `io`. STATUS_UNBOUND if nothing is
/// bound or the length does not fit.
fn with_call_area(f: impl FnOnce(&[u8], &mut [f64]) -> i32) -> i32 {
    with_area(&CALL_AREA, |key, io| {
        let len = io[0] as usize;
        if io.len() < 8 || len > key.len() { status::UNBOUND } else { f(&key[..len], io) }
    })
}

/// RL.HIT / RL.PEEK through the call area: `io` = [key length, limit, period_ms, burst, algo,
/// cost, peek 0|1, now]; results as rl_hit writes them, into `io`.
#[napi]
pub fn rl_hit_bound() -> i32 {
    with_call_area(|key, io| {
        let (limit, period, burst, algo, cost, peek, now) = (io[1], io[2], io[3], io[4] as u32, io[5], io[6] != 0.0, io[7]);
        rl_hit(key, limit, period, burst, algo, cost, peek, now, io)
    })
}

/// CL.THROTTLE through the call area: `io` = [key length, max_burst, count, period_s,
/// quantity, now]; results as cl_throttle writes them, into `io`.
#[napi]
pub fn cl_throttle_bound() -> i32 {
    with_call_area(|key, io| {
        let (burst, count, period, quantity, now) = (io[1], io[2], io[3], io[4], io[5]);
        cl_throttle(key, burst, count, period, quantity, now, io)
    })
}

// --- The fast path: whole runs of hot commands per call -------------------------------------
//
// Bound once, like the call area: the daemon's shared read buffer and an `io` Float64Array.
// Per read the daemon sets `io` = [start, end, out offset, -, counts..., resp3 0|1,
// take ROUTE.DONE 0|1] and calls `fast_run` with its reply buffer; `io` comes back as
// [consumed up to, end, out offset after, last kind or -1, count per kind..., (inputs as
// given), ROUTE.DONE calls that settled a lease].

/// `io` slots after the counts: inputs, then the one extra output.
const IO_RESP3: usize = 4 + fastpath::KINDS;
const IO_TAKE_DONE: usize = IO_RESP3 + 1;
const IO_SETTLED: usize = IO_RESP3 + 2;

/// Binds the fast path's input buffer and `io` (at least 4 + KINDS + 3 numbers); see BoundArea.
#[napi]
pub fn bind_fast_path(input: &[u8], io: Out<'_>) {
    FAST_AREA.with(|a| a.set(Some(BoundArea::new(input, io))));
}

/// Answers the hot commands at the start of `input[io[0]..io[1]]`, writing replies into
/// `out` from `io[2]`. Returns 1 if it stopped for lack of room in `out`, 0 if it stopped at a
/// frame it leaves to the daemon (or at the end), STATUS_UNBOUND if nothing is bound.
#[napi]
pub fn fast_run(out: Bytes<'_>) -> i32 {
    with_area(&FAST_AREA, |input, io| {
        let (start, end, at) = (io[0] as usize, io[1] as usize, io[2] as usize);
        if io.len() <= IO_SETTLED || start > end || end > input.len() || at > out.len() {
            return status::UNBOUND;
        }
        let routing = fastpath::Routing { router: &CORE.routing, resp3: io[IO_RESP3] != 0.0, take_done: io[IO_TAKE_DONE] != 0.0 };
        let r = fastpath::run_with(&CORE.limits, Some(&routing), &input[start..end], out, at, || ns(clock::monotonic_ms()));
        io[IO_SETTLED] = r.settled as f64;
        io[0] = (start + r.consumed) as f64;
        io[2] = (at + r.written) as f64;
        io[3] = r.last.map_or(-1.0, |k| k as i32 as f64);
        for (slot, n) in io[4..4 + fastpath::KINDS].iter_mut().zip(r.counts) {
            *slot = n as f64;
        }
        r.out_full as i32
    })
}
