//! Sluice's native core. This file is the N-API surface only: thin functions that take
//! Buffers and numbers and return numbers (or write into caller-owned typed arrays), so that
//! crossing the JS/Rust boundary stays cheap. The logic lives in the modules, which know
//! nothing about N-API or sockets (and about RESP only in `fastpath.rs`) and are tested with
//! `cargo test`.
//!
//! Time: `now` arguments are the daemon's monotonic clock in ms (from `clockMs`); durations
//! given back are whole ms (rounded up) unless a function says otherwise.

mod clock;
mod fastpath;
mod keyspace;
pub mod leases;
pub mod limits;
mod tokens;

use std::sync::LazyLock;

use napi::bindgen_prelude::{AsyncTask, Buffer, Float64Array, Uint32Array};
use napi::{Env, Task};
use napi_derive::napi;
use tokens::{Encoding, Model, TokError};

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

/// Writes five integers (a reply's values) into the caller's array.
fn write5(values: [i64; 5], out: Out<'_>) {
    for (slot, v) in out.iter_mut().zip(values) {
        *slot = v as f64;
    }
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

// --- The call area: argument-free entry points for the hottest limiter calls -----------------
//
// napi-rs spends about 100 ns converting each argument of a call (measured on the development
// machine: an empty function ~45 ns, one f64 argument ~150 ns), more than RL.HIT's own work. So
// the daemon binds, once, a key buffer and a Float64Array it keeps alive for the life of the
// process; the hot calls then take no arguments: the key's bytes are in the key buffer, the
// numbers in `io`, and the results go back into `io`.

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

type AreaCell = std::cell::Cell<Option<BoundArea>>;

thread_local! {
    /// The call area: a key buffer and `io`.
    static CALL_AREA: AreaCell = const { std::cell::Cell::new(None) };
    /// The fast path's: the daemon's shared read buffer and `io`.
    static FAST_AREA: AreaCell = const { std::cell::Cell::new(None) };
}

/// Runs `f` with an area's bytes and `io`; -4 if nothing is bound.
fn with_area(area: &'static std::thread::LocalKey<AreaCell>, f: impl FnOnce(&[u8], &mut [f64]) -> i32) -> i32 {
    area.with(|cell| {
        let Some(a) = cell.take() else { return -4 };
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

/// Runs `f` with the bound key (its length is `io[0]`) and `io`. -4 if nothing is bound or the
/// length does not fit.
fn with_call_area(f: impl FnOnce(&[u8], &mut [f64]) -> i32) -> i32 {
    with_area(&CALL_AREA, |key, io| {
        let len = io[0] as usize;
        if io.len() < 8 || len > key.len() { -4 } else { f(&key[..len], io) }
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

// --- The fast path: whole runs of hot commands per call (see fastpath.rs) -------------------
//
// Bound once, like the call area: the daemon's shared read buffer and an `io` Float64Array.
// Per read the daemon sets `io` = [start, end, out offset] and calls `fast_run` with its reply
// buffer; `io` comes back as [consumed up to, end, out offset after, last kind or -1,
// count per kind...].

/// Binds the fast path's input buffer and `io` (at least 4 + 4 numbers); see BoundArea.
#[napi]
pub fn bind_fast_path(input: &[u8], io: Out<'_>) {
    FAST_AREA.with(|a| a.set(Some(BoundArea::new(input, io))));
}

/// Answers the hot commands at the start of `input[io[0]..io[1]]`, writing replies into
/// `out` from `io[2]`. Returns 1 if it stopped for lack of room in `out`, 0 if it stopped at a
/// frame it leaves to the daemon (or at the end), -4 if nothing is bound.
#[napi]
pub fn fast_run(out: Bytes<'_>) -> i32 {
    with_area(&FAST_AREA, |input, io| {
        let (start, end, at) = (io[0] as usize, io[1] as usize, io[2] as usize);
        if io.len() < 4 + fastpath::KINDS || start > end || end > input.len() || at > out.len() {
            return -4;
        }
        let r = fastpath::run(&LIMITS, &input[start..end], out, at, || ns(clock::monotonic_ms()));
        io[0] = (start + r.consumed) as f64;
        io[2] = (at + r.written) as f64;
        io[3] = r.last.map_or(-1.0, |k| k as i32 as f64);
        for (slot, n) in io[4..4 + fastpath::KINDS].iter_mut().zip(r.counts) {
            *slot = n as f64;
        }
        r.out_full as i32
    })
}

/// RL.HIT (peek false) / RL.PEEK with the limit given inline. Writes
/// `[allowed, limit, remaining, retry_after_ms, reset_after_ms]` to `out`. Returns 0, or -2
/// (a zero parameter) / -3 (a span too long) without touching state.
#[napi]
pub fn rl_hit(key: &[u8], limit: f64, period_ms: f64, burst: f64, algo: u32, cost: f64, peek: bool, now: f64, out: Out<'_>) -> i32 {
    match params(limit, period_ms, burst, algo) {
        Ok(p) => {
            write5(LIMITS.hit(key, &p, cost as u64, ns(now), !peek).reply(), out);
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
            write5(LIMITS.hit(key, &p, cost as u64, ns(now), !peek).reply(), out);
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
    head[2] = if r.allowed { -1.0 } else { limits::ms_up(r.retry_after_ns) as f64 };
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
    write5(LIMITS.throttle(key, &q, quantity as i64, ns(now)).values(), out);
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

// --- tokens ---------------------------------------------------------------------------------
// Errors come back as JS Errors whose message is the RESP error text (`ERR ...`).
// The `*_async` variants copy the text (the caller's Buffer is a slice of a socket chunk) and
// count on the libuv thread pool, resolving a Promise.

fn js_err(e: TokError) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

fn model(name: &[u8]) -> napi::Result<Model> {
    tokens::resolve(name).map_err(js_err)
}

fn text<'a>(bytes: &'a [u8]) -> napi::Result<&'a str> {
    tokens::utf8(bytes, "text").map_err(js_err)
}

/// Builds every tokenizer and sets the count cache's size (entries; 0 turns it off).
#[napi]
pub fn tok_configure(cache_entries: u32) {
    tokens::load_all();
    tokens::CACHE.set_capacity(cache_entries as usize);
}

/// Encoding names, by the index `tok_info` returns.
#[napi]
pub fn tok_encoding_names() -> Vec<String> {
    Encoding::ALL.iter().map(|e| e.name().to_string()).collect()
}

/// Maps a private model name to a model or encoding name; a window < 0 keeps the target's.
#[napi]
pub fn tok_add_model(name: &[u8], target: &[u8], context_window: f64, max_output: f64) -> napi::Result<()> {
    let opt = |x: f64| (x >= 0.0).then_some(x as u32);
    tokens::models::register(name, target, opt(context_window), opt(max_output)).map(|_| ()).map_err(js_err)
}

/// Forgets the private model names (before registering the config file's section again).
#[napi]
pub fn tok_clear_models() {
    tokens::models::clear_private()
}

/// Writes [context window, max output tokens] (-1 when unknown) into `out`; returns the
/// encoding's index in `tok_encoding_names()`.
#[napi]
pub fn tok_info(name: &[u8], mut out: Float64Array) -> napi::Result<u32> {
    let m = model(name)?;
    // SAFETY: the caller's array, written only during this synchronous call.
    let out = unsafe { out.as_mut() };
    if out.len() >= 2 {
        out[0] = m.context_window.map_or(-1.0, f64::from);
        out[1] = m.max_output.map_or(-1.0, f64::from);
    }
    Ok(m.encoding as u32)
}

/// Writes [hits, misses, entries, capacity] of the count cache, then [early stops, bytes skipped]
/// of TOK.WITHIN, into `out`.
#[napi]
pub fn tok_cache_stats(mut out: Float64Array) {
    use std::sync::atomic::Ordering::Relaxed;
    // SAFETY: the caller's array, written only during this synchronous call.
    let out = unsafe { out.as_mut() };
    let s = tokens::CACHE.stats();
    let early = [tokens::WITHIN_EARLY_STOPS.load(Relaxed) as f64, tokens::WITHIN_BYTES_SKIPPED.load(Relaxed) as f64];
    for (slot, v) in out.iter_mut().zip([s.hits as f64, s.misses as f64, s.entries as f64, s.capacity as f64].into_iter().chain(early)) {
        *slot = v;
    }
}

#[napi]
pub fn tok_cache_reset_stats() {
    tokens::CACHE.reset_stats();
    tokens::WITHIN_EARLY_STOPS.store(0, std::sync::atomic::Ordering::Relaxed);
    tokens::WITHIN_BYTES_SKIPPED.store(0, std::sync::atomic::Ordering::Relaxed);
}

#[napi]
pub fn tok_count(name: &[u8], text_bytes: &[u8]) -> napi::Result<u32> {
    Ok(tokens::count(model(name)?.encoding, text(text_bytes)?) as u32)
}

/// The count if at most `limit`, else -1.
#[napi]
pub fn tok_within(name: &[u8], limit: f64, text_bytes: &[u8]) -> napi::Result<f64> {
    Ok(within(model(name)?.encoding, limit, text(text_bytes)?))
}

fn within(enc: Encoding, limit: f64, text: &str) -> f64 {
    tokens::count_within(enc, text, limit as u64).map_or(-1.0, |n| n as f64)
}

#[napi]
pub fn tok_chat(name: &[u8], messages: &[u8], tools: Option<&[u8]>) -> napi::Result<f64> {
    tokens::chat::count_chat(&model(name)?, messages, tools).map(|n| n as f64).map_err(js_err)
}

#[napi]
pub fn tok_encode(name: &[u8], text_bytes: &[u8]) -> napi::Result<Uint32Array> {
    Ok(Uint32Array::new(tokens::encode(model(name)?.encoding, text(text_bytes)?)))
}

#[napi]
pub fn tok_decode(name: &[u8], ids: &[u32]) -> napi::Result<Buffer> {
    Ok(tokens::decode(model(name)?.encoding, ids).map_err(js_err)?.into())
}

enum Job {
    Count,
    Within(f64),
    Chat(Option<Vec<u8>>),
}

/// A count on the thread pool; owns its copy of the text.
pub struct NumberTask {
    model: Model,
    bytes: Vec<u8>,
    job: Job,
}

impl Task for NumberTask {
    type Output = f64;
    type JsValue = f64;

    fn compute(&mut self) -> napi::Result<f64> {
        let enc = self.model.encoding;
        match &self.job {
            Job::Count => Ok(tokens::count(enc, text(&self.bytes)?) as f64),
            Job::Within(limit) => Ok(within(enc, *limit, text(&self.bytes)?)),
            Job::Chat(tools) => tokens::chat::count_chat(&self.model, &self.bytes, tools.as_deref()).map(|n| n as f64).map_err(js_err),
        }
    }

    fn resolve(&mut self, _env: Env, output: f64) -> napi::Result<f64> {
        Ok(output)
    }
}

fn number_task(name: &[u8], bytes: &[u8], job: Job) -> napi::Result<AsyncTask<NumberTask>> {
    Ok(AsyncTask::new(NumberTask { model: model(name)?, bytes: bytes.to_vec(), job }))
}

#[napi(ts_return_type = "Promise<number>")]
pub fn tok_count_async(name: &[u8], text_bytes: &[u8]) -> napi::Result<AsyncTask<NumberTask>> {
    number_task(name, text_bytes, Job::Count)
}

#[napi(ts_return_type = "Promise<number>")]
pub fn tok_within_async(name: &[u8], limit: f64, text_bytes: &[u8]) -> napi::Result<AsyncTask<NumberTask>> {
    number_task(name, text_bytes, Job::Within(limit))
}

#[napi(ts_return_type = "Promise<number>")]
pub fn tok_chat_async(name: &[u8], messages: &[u8], tools: Option<&[u8]>) -> napi::Result<AsyncTask<NumberTask>> {
    number_task(name, messages, Job::Chat(tools.map(<[u8]>::to_vec)))
}

/// TOK.ENCODE on the thread pool.
pub struct EncodeTask {
    encoding: Encoding,
    bytes: Vec<u8>,
}

impl Task for EncodeTask {
    type Output = Vec<u32>;
    type JsValue = Uint32Array;

    fn compute(&mut self) -> napi::Result<Vec<u32>> {
        Ok(tokens::encode(self.encoding, text(&self.bytes)?))
    }

    fn resolve(&mut self, _env: Env, output: Vec<u32>) -> napi::Result<Uint32Array> {
        Ok(Uint32Array::new(output))
    }
}

#[napi(ts_return_type = "Promise<Uint32Array>")]
pub fn tok_encode_async(name: &[u8], text_bytes: &[u8]) -> napi::Result<AsyncTask<EncodeTask>> {
    Ok(AsyncTask::new(EncodeTask { encoding: model(name)?.encoding, bytes: text_bytes.to_vec() }))
}
