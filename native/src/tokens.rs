//! TOK.*: token counting. Errors come back as JS Errors whose message is the RESP error text
//! (`ERR ...`). The `*_async` variants copy the text (the caller's Buffer is a slice of a
//! socket chunk) and count on the libuv thread pool, resolving a Promise; those tasks reach the
//! state as `&'static Core`.

use napi::bindgen_prelude::{AsyncTask, Buffer, Float64Array, Uint32Array};
use napi::{Env, Task};
use napi_derive::napi;
use sluice_core::Core;
use sluice_core::tokens::{self, Encoding, Model, TokError};

use crate::CORE;

fn js_err(e: TokError) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

fn model(name: &[u8]) -> napi::Result<Model> {
    CORE.tokens.resolve(name).map_err(js_err)
}

fn text(bytes: &[u8]) -> napi::Result<&str> {
    tokens::utf8(bytes, "text").map_err(js_err)
}

/// Sets the count cache's size (entries; 0 turns it off). Builds no tokenizer: each encoding's
/// tables are built by its first use (on a worker thread: see TOK_NOT_LOADED) or by `tok_load`.
#[napi]
pub fn tok_configure(cache_entries: u32) {
    CORE.tokens.cache.set_capacity(cache_entries as usize);
}

/// What the synchronous counting functions return when the model's encoding is not built yet:
/// the daemon then calls the `*_async` variant, so the build (80 to 160 ms) runs on a worker
/// thread and not on the event loop. (TOK.ENCODE's sync function returns null instead.)
#[napi]
pub const TOK_NOT_LOADED: i32 = -2;

/// Builds the tables of the encoding with this index in `tok_encoding_names()` now
/// (`tokens-preload`).
#[napi]
pub fn tok_load(index: u32) -> napi::Result<()> {
    let e = Encoding::ALL.get(index as usize).ok_or_else(|| napi::Error::from_reason(format!("no encoding {index}")))?;
    e.load();
    Ok(())
}

/// Which encodings are built, as bits by index in `tok_encoding_names()`: bit i for counting,
/// bit 8 + i for tiktoken-rs's copy of an encoding the fast engine covers (built only to decode a
/// special token's id).
#[napi]
pub fn tok_loaded() -> u32 {
    let mut bits = 0;
    for (i, e) in Encoding::ALL.iter().enumerate() {
        if e.is_loaded() {
            bits |= 1 << i;
        }
        if e.has_fast() && e.special_decoder_loaded() {
            bits |= 1 << (8 + i);
        }
    }
    bits
}

/// The model's encoding, or None when its tables are not built yet (the caller goes async).
fn loaded_model(name: &[u8]) -> napi::Result<Option<Model>> {
    let m = model(name)?;
    Ok(m.encoding.is_loaded().then_some(m))
}

const NOT_LOADED: f64 = TOK_NOT_LOADED as f64;

/// Encoding names, by the index `tok_info` returns.
#[napi]
pub fn tok_encoding_names() -> Vec<String> {
    Encoding::ALL.iter().map(|e| e.name().to_string()).collect()
}

/// Maps a private model name to a model or encoding name; a window < 0 keeps the target's.
#[napi]
pub fn tok_add_model(name: &[u8], target: &[u8], context_window: f64, max_output: f64) -> napi::Result<()> {
    let opt = |x: f64| (x >= 0.0).then_some(x as u32);
    CORE.tokens.register_model(name, target, opt(context_window), opt(max_output)).map(|_| ()).map_err(js_err)
}

/// Forgets the private model names (before registering the config file's section again).
#[napi]
pub fn tok_clear_models() {
    CORE.tokens.clear_models()
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
    // SAFETY: the caller's array, written only during this synchronous call.
    let out = unsafe { out.as_mut() };
    let s = CORE.tokens.cache.stats();
    let w = CORE.tokens.within_stats();
    let values = [s.hits as f64, s.misses as f64, s.entries as f64, s.capacity as f64, w.early_stops as f64, w.bytes_skipped as f64];
    for (slot, v) in out.iter_mut().zip(values) {
        *slot = v;
    }
}

#[napi]
pub fn tok_cache_reset_stats() {
    CORE.tokens.reset_stats();
}

/// The count, or TOK_NOT_LOADED.
#[napi]
pub fn tok_count(name: &[u8], text_bytes: &[u8]) -> napi::Result<f64> {
    let Some(m) = loaded_model(name)? else { return Ok(NOT_LOADED) };
    Ok(CORE.tokens.count(m.encoding, text(text_bytes)?) as f64)
}

/// The count if at most `limit`, else -1; or TOK_NOT_LOADED.
#[napi]
pub fn tok_within(name: &[u8], limit: f64, text_bytes: &[u8]) -> napi::Result<f64> {
    let Some(m) = loaded_model(name)? else { return Ok(NOT_LOADED) };
    Ok(within(&CORE, m.encoding, limit, text(text_bytes)?))
}

fn within(core: &Core, enc: Encoding, limit: f64, text: &str) -> f64 {
    core.tokens.count_within(enc, text, limit as u64).map_or(-1.0, |n| n as f64)
}

/// The count, or TOK_NOT_LOADED.
#[napi]
pub fn tok_chat(name: &[u8], messages: &[u8], tools: Option<&[u8]>) -> napi::Result<f64> {
    let Some(m) = loaded_model(name)? else { return Ok(NOT_LOADED) };
    CORE.tokens.count_chat(&m, messages, tools).map(|n| n as f64).map_err(js_err)
}

/// The ids, or null when the encoding is not built yet.
#[napi]
pub fn tok_encode(name: &[u8], text_bytes: &[u8]) -> napi::Result<Option<Uint32Array>> {
    let Some(m) = loaded_model(name)? else { return Ok(None) };
    Ok(Some(Uint32Array::new(tokens::encode(m.encoding, text(text_bytes)?))))
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
    core: &'static Core,
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
            Job::Count => Ok(self.core.tokens.count(enc, text(&self.bytes)?) as f64),
            Job::Within(limit) => Ok(within(self.core, enc, *limit, text(&self.bytes)?)),
            Job::Chat(tools) => self.core.tokens.count_chat(&self.model, &self.bytes, tools.as_deref()).map(|n| n as f64).map_err(js_err),
        }
    }

    fn resolve(&mut self, _env: Env, output: f64) -> napi::Result<f64> {
        Ok(output)
    }
}

fn number_task(name: &[u8], bytes: &[u8], job: Job) -> napi::Result<AsyncTask<NumberTask>> {
    Ok(AsyncTask::new(NumberTask { core: &CORE, model: model(name)?, bytes: bytes.to_vec(), job }))
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
