//! The limits family's section of a snapshot (the file around it: `crate::snapshot`).
//!
//! Instants are written as Unix ns (`instant + unix_ns_at_now - now_ns`) and read back onto the
//! restoring process's clock, so a key refused for 40 more seconds before a restart is refused
//! for what is left of them after it. Window starts are aligned to the Unix epoch, so a window
//! written by one process is the same window in the next (when both convert with the core's
//! epoch offset, as `crate::snapshot` does). Entries already back to full are not written, and
//! entries that became full while the daemon was down are not restored.
//!
//! Layout (integers little-endian; `key` is a LEB128 length and the bytes):
//! ```text
//! gcra:     u64 n, n x (key, i64 full_at)
//! sliding:  u64 n, n x (key, i64 full_at, i64 window_start, u64 prev, u64 cur)
//! fixed:    u64 n, n x (key, i64 full_at, i64 window_start, u64 count)
//! policies: u64 n, n x (name, u64 limit, u64 per_ms, u64 burst, u8 algo)
//! ```
//! Each store is written a shard at a time, the shard locked only while its entries are
//! copied out: hits on other shards go on meanwhile.

use crate::family::RestoreError;
use crate::snapshot::codec::{begin_count, end_count, put_bytes, put_i64, put_u64, Reader};

use super::store::{hash_key, shard_of, Store, SHARDS};
use super::{Algo, Limits, Params};

const FAMILY: &str = "limits";

/// How one store's extra state (`R`) is written and read.
trait Rest: Copy {
    fn put(self, shift: i64, out: &mut Vec<u8>);
    fn get(r: &mut Reader, shift: i64) -> Result<Self, RestoreError>;
}

impl Rest for () {
    fn put(self, _: i64, _: &mut Vec<u8>) {}
    fn get(_: &mut Reader, _: i64) -> Result<(), RestoreError> {
        Ok(())
    }
}

/// Sliding: (window start, prev, cur).
impl Rest for (i64, u64, u64) {
    fn put(self, shift: i64, out: &mut Vec<u8>) {
        put_i64(out, self.0.saturating_add(shift));
        put_u64(out, self.1);
        put_u64(out, self.2);
    }
    fn get(r: &mut Reader, shift: i64) -> Result<Self, RestoreError> {
        Ok((r.i64()?.saturating_sub(shift), r.u64()?, r.u64()?))
    }
}

/// Fixed: (window start, count).
impl Rest for (i64, u64) {
    fn put(self, shift: i64, out: &mut Vec<u8>) {
        put_i64(out, self.0.saturating_add(shift));
        put_u64(out, self.1);
    }
    fn get(r: &mut Reader, shift: i64) -> Result<Self, RestoreError> {
        Ok((r.i64()?.saturating_sub(shift), r.u64()?))
    }
}

/// Which keys to write: all (None), or those the function accepts (a cluster slot handoff).
type Keep<'a> = Option<&'a dyn Fn(&[u8]) -> bool>;

/// Writes every entry of `store` live at `now` that `keep` accepts, instants shifted by `shift`
/// (to Unix ns).
fn write_store<R: Rest>(store: &Store<R>, keep: Keep, now: i64, shift: i64, out: &mut Vec<u8>) {
    let at = begin_count(out);
    let mut n = 0u64;
    for i in 0..SHARDS {
        let shard = store.lock(i);
        shard.for_each_live_state(now, |key, full_at, rest| {
            if keep.is_some_and(|keep| !keep(key)) {
                return;
            }
            put_bytes(out, key);
            put_i64(out, full_at.saturating_add(shift));
            rest.put(shift, out);
            n += 1;
        });
    }
    end_count(out, at, n);
}

/// Reads entries back onto this process's clock (`shift`: Unix ns minus monotonic ns); those
/// already full at `now` are skipped. Returns the entries restored.
fn read_store<R: Rest>(store: &Store<R>, r: &mut Reader, now: i64, shift: i64) -> Result<usize, RestoreError> {
    let n = r.count()?;
    let mut restored = 0;
    for _ in 0..n {
        let key = r.bytes()?;
        let full_at = r.i64()?.saturating_sub(shift);
        let rest = R::get(r, shift)?;
        if full_at <= now {
            continue;
        }
        let hash = hash_key(key);
        let i = shard_of(hash);
        let mut shard = store.lock(i);
        shard.set(key, hash, now, Some((full_at, rest)));
        store.note_len(i, &shard);
        restored += 1;
    }
    Ok(restored)
}

pub(super) fn write(limits: &Limits, now: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) {
    write_keys(limits, None, now, unix_ns_at_now, out)
}

/// The section, with only the keys `keep` accepts when it is given, and then no policies (they
/// are configuration every node has, not state of the keys).
pub(super) fn write_keys(limits: &Limits, keep: Keep, now: i64, unix_ns_at_now: i64, out: &mut Vec<u8>) {
    let shift = unix_ns_at_now - now;
    write_store(&limits.gcra, keep, now, shift, out);
    write_store(&limits.sliding, keep, now, shift, out);
    write_store(&limits.fixed, keep, now, shift, out);
    let names = if keep.is_some() { Vec::new() } else { limits.policies.names() };
    let at = begin_count(out);
    let mut n = 0u64;
    for name in names {
        // A policy deleted between listing and reading is simply not written.
        if let Some(p) = limits.policies.get(&name) {
            put_bytes(out, &name);
            put_u64(out, p.limit);
            put_u64(out, (p.period_ns / 1_000_000) as u64);
            put_u64(out, p.burst);
            out.push(p.algo as u8);
            n += 1;
        }
    }
    end_count(out, at, n);
}

/// Replaces every limiter key and policy with the section's; with `merge` (a cluster slot
/// handoff), adds its keys to those held instead and leaves the policies alone. Returns the
/// keys restored.
pub(super) fn read(limits: &Limits, bytes: &[u8], now: i64, unix_ns_at_now: i64, merge: bool) -> Result<usize, RestoreError> {
    let shift = unix_ns_at_now - now;
    let mut r = Reader::new(bytes, FAMILY);
    if !merge {
        crate::family::Family::clear(limits);
    }
    let mut restored = read_store(&limits.gcra, &mut r, now, shift)?;
    restored += read_store(&limits.sliding, &mut r, now, shift)?;
    restored += read_store(&limits.fixed, &mut r, now, shift)?;
    if !merge {
        for name in limits.policies.names() {
            limits.policies.remove(&name);
        }
    }
    for _ in 0..r.count()? {
        let name = r.bytes()?;
        let (limit, per_ms, burst, code) = (r.u64()?, r.u64()?, r.u64()?, r.u8()?);
        let algo = Algo::from_code(code as u32).ok_or_else(|| r.corrupt(format!("policy algorithm code {code}")))?;
        let p = Params::new(limit, per_ms, burst, algo)
            .map_err(|e| r.corrupt(format!("policy {:?} has invalid parameters ({e:?})", String::from_utf8_lossy(name))))?;
        limits.policies.set(name, p);
    }
    r.finish()?;
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;

    const S: i64 = 1_000_000_000;

    fn params(limit: u64, per_ms: u64, algo: Algo) -> Params {
        Params::new(limit, per_ms, limit, algo).unwrap()
    }

    /// A restart: `a` (clock zero at Unix `off_a`) saves at its `now_a`; `b` (clock zero at
    /// `off_b`) restores at its `now_b`.
    fn restart(a: &Limits, off_a: i64, now_a: i64, off_b: i64, now_b: i64) -> Limits {
        let mut bytes = Vec::new();
        assert!(a.snapshot(now_a, off_a + now_a, &mut bytes));
        let b = Limits::new();
        b.set_epoch_offset(off_b);
        b.restore(&bytes, now_b, off_b + now_b).unwrap();
        b
    }

    #[test]
    fn every_algorithm_answers_the_same_after_a_restart_as_without_one() {
        // Unix time t: `a` runs on undisturbed; `b` is a process started 7.3 s of Unix time
        // later that restored a's snapshot taken at t = 20 s. Every later hit must agree.
        let off_a = 1_700_000_000 * S + 123_456_789;
        let off_b = off_a + 7_300_000_000;
        let a = Limits::new();
        a.set_epoch_offset(off_a);
        let algos = [params(5, 10_000, Algo::Gcra), params(5, 10_000, Algo::Sliding), params(5, 10_000, Algo::Fixed)];
        let mut t = 0;
        for step in 0..40 {
            for (k, p) in algos.iter().enumerate() {
                a.hit(format!("key{k}:{}", step % 3).as_bytes(), p, 1 + step % 2, t, true);
            }
            t += 500_000_000;
        }
        a.policies.set(b"rpm", algos[1]);
        let b = restart(&a, off_a, t, off_b, t - 7_300_000_000 + 1);
        a.sweep(t, usize::MAX); // so a's count holds only live keys, as b's does
        assert_eq!(b.len(), a.len());
        assert_eq!(b.policies.get(b"rpm"), Some(algos[1]));
        for step in 0..60 {
            let unix = off_a + t + 1 + step * 377_000_000;
            for (k, p) in algos.iter().enumerate() {
                let key = format!("key{k}:{}", step % 3);
                let oa = a.hit(key.as_bytes(), p, 1, unix - off_a, true);
                let ob = b.hit(key.as_bytes(), p, 1, unix - off_b, true);
                assert_eq!(oa, ob, "{:?} key {key} step {step}", p.algo);
            }
        }
    }

    #[test]
    fn a_refused_key_stays_refused_for_what_is_left() {
        let a = Limits::new();
        let p = params(1, 60_000, Algo::Gcra);
        assert!(a.hit(b"k", &p, 1, 0, true).allowed);
        let refused = a.hit(b"k", &p, 1, 20 * S, true);
        assert_eq!(refused.retry_after_ns, 40 * S);
        // Saved at 20 s; the new process starts 5 s of wall time later and restores at its 3 s.
        let b = restart(&a, 0, 20 * S, 22 * S, 3 * S);
        let again = b.hit(b"k", &p, 1, 3 * S, true);
        assert!(!again.allowed);
        assert_eq!(again.retry_after_ns, 35 * S);
        assert!(b.hit(b"k", &p, 1, 38 * S, true).allowed);
    }

    #[test]
    fn keys_full_while_the_daemon_was_down_are_dropped() {
        let a = Limits::new();
        let short = params(1, 1_000, Algo::Gcra);
        let long = params(1, 100_000, Algo::Fixed);
        a.hit(b"short", &short, 1, 0, true);
        a.hit(b"long", &long, 1, 0, true);
        // Down for 5 s: the 1 s key is full again, the window key is not.
        let b = restart(&a, 0, 0, 5 * S, 0);
        assert_eq!(b.len(), 1);
        assert!(!b.hit(b"long", &long, 1, 0, false).allowed);
    }

    #[test]
    fn keys_of_every_length_round_trip() {
        let a = Limits::new();
        let p = params(3, 60_000, Algo::Gcra);
        let keys: Vec<Vec<u8>> = (0..70).map(|n| (0..n).map(|i| (i * 7 + n) as u8).collect()).collect();
        for k in &keys {
            a.hit(k, &p, 2, 0, true);
        }
        let b = restart(&a, 0, S, 0, S);
        for k in &keys {
            assert_eq!(b.hit(k, &p, 1, S, false), a.hit(k, &p, 1, S, false), "key of {} bytes", k.len());
        }
    }

    #[test]
    fn a_bad_section_is_an_error_not_a_panic() {
        let a = Limits::new();
        a.hit(b"k", &params(1, 1_000, Algo::Sliding), 1, 0, true);
        a.policies.set(b"p", params(1, 1_000, Algo::Fixed));
        let mut bytes = Vec::new();
        a.snapshot(0, 0, &mut bytes);
        for cut in 0..bytes.len() {
            let b = Limits::new();
            assert!(matches!(b.restore(&bytes[..cut], 0, 0), Err(RestoreError::Corrupt { .. })), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Limits::new().restore(&longer, 0, 0).is_err());
        let mut bad_algo = bytes.clone();
        *bad_algo.last_mut().unwrap() = 9;
        let err = Limits::new().restore(&bad_algo, 0, 0).unwrap_err();
        assert!(err.to_string().contains("algorithm code 9"), "{err}");
    }
}
