//! Snapshots: SAVE, BGSAVE, the save timer and shutdown write one; start-up reads it. The file
//! format and the atomic write are `sluice_core::snapshot`'s; this file only runs them, a save
//! on a libuv worker thread so the event loop goes on answering while it is encoded and written.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;
use sluice_core::{keyspace, snapshot};

use crate::{CORE, ns};

/// What a save wrote, and how long its two halves took on the worker thread.
#[napi(object)]
pub struct SnapshotSaved {
    pub bytes: f64,
    pub keys: f64,
    pub encode_ms: f64,
    pub write_ms: f64,
}

pub struct SaveTask {
    path: PathBuf,
    now: i64,
}

impl Task for SaveTask {
    type Output = SnapshotSaved;
    type JsValue = SnapshotSaved;

    fn compute(&mut self) -> napi::Result<SnapshotSaved> {
        let started = Instant::now();
        let keys = keyspace::key_count(&CORE);
        let bytes = snapshot::encode(&CORE, self.now);
        let encoded = started.elapsed();
        snapshot::write_atomically(&self.path, &bytes).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        let written = started.elapsed() - encoded;
        Ok(SnapshotSaved {
            bytes: bytes.len() as f64,
            keys: keys as f64,
            encode_ms: encoded.as_secs_f64() * 1e3,
            write_ms: written.as_secs_f64() * 1e3,
        })
    }

    fn resolve(&mut self, _env: Env, output: SnapshotSaved) -> napi::Result<SnapshotSaved> {
        Ok(output)
    }
}

/// Writes every family's state at `now` to `path` (a temporary file beside it, fsynced,
/// renamed over it, the directory fsynced), on a worker thread. Rejects with a message that
/// names the file and the system's error.
#[napi(ts_return_type = "Promise<SnapshotSaved>")]
pub fn snapshot_save_async(path: String, now: f64) -> AsyncTask<SaveTask> {
    AsyncTask::new(SaveTask { path: PathBuf::from(path), now: ns(now) })
}

#[napi(object)]
pub struct SnapshotLoaded {
    pub bytes: f64,
    pub keys: f64,
}

/// Replaces every family's state with `path`'s at `now` (start-up). Null when there is no such
/// file; throws with what is wrong with a file that cannot be used (state is then empty).
#[napi]
pub fn snapshot_load(path: String, now: f64) -> napi::Result<Option<SnapshotLoaded>> {
    match snapshot::load(&CORE, &PathBuf::from(path), ns(now)) {
        Ok(loaded) => Ok(loaded.map(|l| SnapshotLoaded { bytes: l.bytes as f64, keys: l.keys as f64 })),
        Err(e) => Err(napi::Error::from_reason(e.to_string())),
    }
}

/// A cluster slot handoff, the sending side: the state of `keys` (each a u32 LE length and its
/// bytes, one after the other) at `now`, as a snapshot `snapshot_import` reads on another node.
/// Policies are not included (every node has its own configuration).
#[napi]
pub fn snapshot_export_keys(keys: &[u8], now: f64) -> napi::Result<Buffer> {
    let mut wanted: HashSet<&[u8]> = HashSet::new();
    let mut rest = keys;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(napi::Error::from_reason("key list ends inside a length"));
        }
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        if rest.len() < 4 + len {
            return Err(napi::Error::from_reason("key list ends inside a key"));
        }
        wanted.insert(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    Ok(snapshot::encode_keys(&CORE, &|key| wanted.contains(key), ns(now)).into())
}

/// A cluster slot handoff, the receiving side: adds the keys of `snapshot_export_keys`'s bytes
/// to this node's state at `now` (other keys stay as they are). Returns the keys taken in;
/// throws with what is wrong with bytes that cannot be used (then nothing changed).
#[napi]
pub fn snapshot_import(bytes: &[u8], now: f64) -> napi::Result<u32> {
    snapshot::import(&CORE, bytes, ns(now)).map(|n| n as u32).map_err(|e| napi::Error::from_reason(e.to_string()))
}
