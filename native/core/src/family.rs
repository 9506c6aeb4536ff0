//! What every stateful part of the core is to the rest of it: a family of keys that can be
//! counted (DBSIZE), dropped (FLUSHALL), and written to and read back from a snapshot (its
//! section of the file `crate::snapshot` writes). `Core::families` lists them all.

use std::fmt;

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// This family keeps nothing in snapshots (tokens: its cache is derived data).
    Unsupported { family: &'static str },
    /// The bytes are not a snapshot this family wrote.
    Corrupt { family: &'static str, detail: String },
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::Unsupported { family } => write!(f, "the {family} family has no snapshot format yet"),
            RestoreError::Corrupt { family, detail } => write!(f, "bad {family} snapshot: {detail}"),
        }
    }
}

impl std::error::Error for RestoreError {}

pub trait Family: Sync {
    /// The family's name (in INFO, snapshot sections and errors).
    fn name(&self) -> &'static str;

    /// Keys currently held (entries already expired but not swept yet included).
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every key (FLUSHALL).
    fn clear(&self);

    /// Appends the family's state at `now_ns` (monotonic) to `out`, with instants made
    /// absolute through `unix_ns_at_now` (the caller passes the core's epoch offset plus
    /// `now_ns`, the same mapping windows align with), so a later process can restore it.
    /// Returns false when the family keeps nothing in snapshots (then `out` is unchanged).
    /// May run on a worker thread while commands go on: lock a shard only while copying it.
    fn snapshot(&self, now_ns: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) -> bool;

    /// Replaces the family's state with what `snapshot` wrote; returns the keys restored
    /// (entries already expired at `now_ns` are dropped). `Err(RestoreError::Unsupported)` from
    /// a family that keeps nothing in snapshots.
    fn restore(&self, bytes: &[u8], now_ns: i64, unix_ns_at_now: i64) -> Result<usize, RestoreError>;

    /// Like `snapshot`, but only the keys `keep` accepts and none of the family-wide state
    /// (policies): what a cluster node hands to the new owner of slots that moved away.
    /// Returns false when the family keeps nothing in snapshots.
    fn export(&self, _keep: &dyn Fn(&[u8]) -> bool, _now_ns: i64, _unix_ns_at_now: i64, _out: &mut Vec<u8>) -> bool {
        false
    }

    /// Adds what `export` wrote to the family's state, leaving other keys alone (a key held
    /// here already takes the exported state). Returns the keys taken in.
    fn import(&self, _bytes: &[u8], _now_ns: i64, _unix_ns_at_now: i64) -> Result<usize, RestoreError> {
        Err(RestoreError::Unsupported { family: self.name() })
    }
}
