//! The leases family's section of a snapshot (the file around it: `crate::snapshot`).
//!
//! ```text
//! u64 next_id
//! u64 n, n x (key, u64 leases, leases x (u64 id, i64 expires_at))
//! ```
//! Expiries are Unix ns, read back onto the restoring process's clock; leases that expired
//! while the daemon was down are dropped, and so are keys left with none.
//!
//! Lease ids are never reused after a restart: the restored counter continues `ID_GAP` past
//! the saved one, because leases granted after the last snapshot (lost in a crash) may still
//! be held by clients that will try to release or extend them.

use std::sync::atomic::Ordering;

use crate::family::RestoreError;
use crate::snapshot::codec::{begin_count, end_count, put_bytes, put_i64, put_u64, Reader};

use super::{Lease, Leases};
use crate::limits::store::{hash_key, shard_of};

const FAMILY: &str = "leases";

/// How far past the saved id counter a restored one starts: more leases than could have been
/// granted between the last snapshot and a crash (4.3 billion), while leaving room for two
/// million restarts before ids pass 2^53 (the largest id a JS number holds exactly).
pub const ID_GAP: u64 = 1 << 32;

pub(super) fn write(leases: &Leases, now: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) {
    write_keys(leases, None, now, unix_ns_at_now, out)
}

/// The section, with only the keys `keep` accepts when it is given (a cluster slot handoff).
pub(super) fn write_keys(leases: &Leases, keep: Option<&dyn Fn(&[u8]) -> bool>, now: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) {
    let shift = unix_ns_at_now - now;
    let id_at = out.len();
    put_u64(out, 0);
    let at = begin_count(out);
    let mut n = 0u64;
    for shard in leases.shards.iter() {
        let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        for (key, held) in shard.iter() {
            let live = held.iter().filter(|l| l.expires_at > now).count();
            if live == 0 || keep.is_some_and(|keep| !keep(key)) {
                continue;
            }
            put_bytes(out, key);
            put_u64(out, live as u64);
            for l in held.iter().filter(|l| l.expires_at > now) {
                put_u64(out, l.id);
                put_i64(out, l.expires_at.saturating_add(shift));
            }
            n += 1;
        }
    }
    end_count(out, at, n);
    // Read after every shard: ids are taken under a shard lock, so this is past every id written.
    let next = leases.next_id.load(Ordering::Relaxed);
    out[id_at..id_at + 8].copy_from_slice(&next.to_le_bytes());
}

/// Replaces every lease with the section's; with `merge` (a cluster slot handoff), adds its
/// keys' leases to those held instead, and the id counter only moves forward. Returns the keys
/// restored.
pub(super) fn read(leases: &Leases, bytes: &[u8], now: i64, unix_ns_at_now: i64, merge: bool) -> Result<usize, RestoreError> {
    let shift = unix_ns_at_now - now;
    let mut r = Reader::new(bytes, FAMILY);
    if !merge {
        crate::family::Family::clear(leases);
    }
    let mut highest = r.u64()?;
    let mut restored = 0;
    for _ in 0..r.count()? {
        let key = r.bytes()?;
        let mut held = Vec::new();
        for _ in 0..r.count()? {
            let id = r.u64()?;
            let expires_at = r.i64()?.saturating_sub(shift);
            highest = highest.max(id);
            if expires_at > now {
                held.push(Lease { id, expires_at });
            }
        }
        if held.is_empty() {
            continue;
        }
        let mut shard = leases.shards[shard_of(hash_key(key))].lock().unwrap_or_else(|e| e.into_inner());
        if merge {
            // Ids of another node's leases: the counter below moves past them, so ids granted
            // here from now on never repeat one of them.
            match shard.get_mut(key) {
                Some(mine) => mine.extend(held),
                None => {
                    shard.insert(key.into(), held);
                    leases.keys.fetch_add(1, Ordering::Relaxed);
                }
            }
            restored += 1;
            continue;
        }
        if shard.insert(key.into(), held).is_some() {
            return Err(r.corrupt(format!("key {:?} appears twice", String::from_utf8_lossy(key))));
        }
        leases.keys.fetch_add(1, Ordering::Relaxed);
        restored += 1;
    }
    r.finish()?;
    if merge {
        // Every id handed over is live, so the next one past them all is enough (no gap).
        leases.next_id.fetch_max(highest.saturating_add(1), Ordering::Relaxed);
        return Ok(restored);
    }
    let next = highest.checked_add(ID_GAP).ok_or_else(|| r.corrupt(format!("lease id counter {highest} is out of range")))?;
    leases.next_id.store(next, Ordering::Relaxed);
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;

    const S: i64 = 1_000_000_000;

    #[test]
    fn leases_survive_with_what_is_left_of_their_ttl_and_ids_are_never_reused() {
        let a = Leases::default();
        let long = a.acquire(b"openai", 2, 30 * S, 0).lease.unwrap();
        a.acquire(b"short", 1, S, 0);
        let last = a.acquire(b"openai", 2, 10 * S, 0).lease.unwrap();
        let mut bytes = Vec::new();
        assert!(a.snapshot(0, 1_000 * S, &mut bytes));
        // Restored 7 s of wall time later (at the new clock's 2 s): "short" expired meanwhile;
        // "openai" is still full.
        let b = Leases::default();
        assert_eq!(b.restore(&bytes, 2 * S, 1_007 * S).unwrap(), 1);
        assert_eq!(b.len(), 1);
        assert_eq!(b.count(b"openai", 2 * S), 2);
        assert!(b.acquire(b"openai", 2, S, 2 * S).lease.is_none());
        // The 10 s lease had 3 s left (gone at the new clock's 5 s); the 30 s one lasts to 25 s.
        assert_eq!(b.count(b"openai", 7 * S), 1);
        assert!(b.release(b"openai", long, 7 * S));
        assert!(!b.release(b"openai", last, 7 * S));
        let next = b.acquire(b"new", 1, S, 7 * S).lease.unwrap();
        assert!(next > last + ID_GAP - 1, "id {next} after {last}");
    }

    #[test]
    fn truncated_sections_are_errors() {
        let a = Leases::default();
        a.acquire(b"k", 2, S, 0);
        a.acquire(b"k", 2, S, 0);
        let mut bytes = Vec::new();
        a.snapshot(0, 0, &mut bytes);
        for cut in 0..bytes.len() {
            assert!(Leases::default().restore(&bytes[..cut], 0, 0).is_err(), "cut at {cut}");
        }
    }
}
