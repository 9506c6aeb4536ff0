//! Snapshots through the public API: a whole core saved and restored the way the daemon does it
//! (`sluice_core::snapshot`), across a simulated restart, and every way a file can be bad.

use std::time::Instant;

use sluice_core::limits::throttle::Quota;
use sluice_core::limits::{Algo, Item, Params};
use sluice_core::snapshot::{self, SnapshotError};
use sluice_core::{keyspace, Core};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
/// Unix ns when the first process's clock read zero.
const BOOT: i64 = 1_760_000_000 * S + 271_828_182;

fn params(limit: u64, per_ms: u64, algo: Algo) -> Params {
    Params::new(limit, per_ms, limit, algo).unwrap()
}

/// A core with state in every family and algorithm, at its clock's `now`.
fn busy_core(now: i64) -> Core {
    let core = Core::new(BOOT);
    for (k, algo) in [Algo::Gcra, Algo::Sliding, Algo::Fixed].into_iter().enumerate() {
        for i in 0..50u32 {
            let key = format!("{k}:{i}:{}", "x".repeat(i as usize));
            core.limits.hit(key.as_bytes(), &params(10, 60_000, algo), 1 + (i as u64 % 9), now, true);
        }
    }
    core.limits.throttle(b"cell", &Quota::new(4, 10, 60).unwrap(), 3, now);
    core.limits.policies.set(b"rpm", params(60, 60_000, Algo::Sliding));
    core.limits.policies.set(b"tpm", Params::new(100_000, 60_000, 20_000, Algo::Gcra).unwrap());
    for i in 0..20u32 {
        core.leases.acquire(format!("sem{}", i % 5).as_bytes(), 10, 120 * S, now);
    }
    core
}

#[test]
fn a_restarted_core_answers_as_the_one_that_never_stopped() {
    let saved_at = 30 * S;
    let a = busy_core(saved_at);
    let file = snapshot::encode(&a, saved_at);
    // The new process boots 3 s of wall time after the save and restores at its own 1 s:
    // the daemon was down for 4 s.
    let b_boot = BOOT + saved_at + 3 * S;
    let b = Core::new(b_boot);
    let restored_at = S;
    let keys = snapshot::restore(&b, &file, restored_at).unwrap();
    assert_eq!(keys, keyspace::key_count(&a));
    assert_eq!(b.limits.policies.names(), a.limits.policies.names());
    assert_eq!(b.limits.policies.get(b"tpm"), a.limits.policies.get(b"tpm"));
    // From here on, both see the same Unix instants.
    for step in 0..80i64 {
        let unix = b_boot + restored_at + step * 913 * MS;
        let (ta, tb) = (unix - BOOT, unix - b_boot);
        for (k, algo) in [Algo::Gcra, Algo::Sliding, Algo::Fixed].into_iter().enumerate() {
            let i = step % 50;
            let key = format!("{k}:{i}:{}", "x".repeat(i as usize));
            let p = params(10, 60_000, algo);
            assert_eq!(a.limits.hit(key.as_bytes(), &p, 2, ta, true), b.limits.hit(key.as_bytes(), &p, 2, tb, true), "{algo:?} {key}");
        }
        let q = Quota::new(4, 10, 60).unwrap();
        assert_eq!(a.limits.throttle(b"cell", &q, 1, ta), b.limits.throttle(b"cell", &q, 1, tb));
        let (mut ra, mut rb) = ([0.0; 2], [0.0; 2]);
        let rpm = a.limits.policies.get(b"rpm").unwrap();
        let items = |key: &'static [u8]| [Item { key, params: rpm, cost: 3 }, Item { key: b"1:3:xxx", params: params(10, 60_000, Algo::Sliding), cost: 1 }];
        assert_eq!(a.limits.all(&items(b"u"), ta, &mut ra), b.limits.all(&items(b"u"), tb, &mut rb));
        assert_eq!(ra, rb);
        for s in 0..5 {
            let key = format!("sem{s}");
            assert_eq!(a.leases.count(key.as_bytes(), ta), b.leases.count(key.as_bytes(), tb), "{key} at step {step}");
        }
    }
}

#[test]
fn a_key_refused_for_40_more_seconds_is_refused_for_what_is_left() {
    let a = Core::new(BOOT);
    let p = params(1, 60_000, Algo::Gcra);
    assert!(a.limits.hit(b"user", &p, 1, 0, true).allowed);
    assert_eq!(a.limits.hit(b"user", &p, 1, 20 * S, true).retry_after_ns, 40 * S);
    let file = snapshot::encode(&a, 20 * S);
    // Down 15 s: the new clock reads 0.5 s at Unix BOOT + 35 s.
    let b = Core::new(BOOT + 35 * S - S / 2);
    snapshot::restore(&b, &file, S / 2).unwrap();
    let o = b.limits.hit(b"user", &p, 1, S / 2, true);
    assert!(!o.allowed);
    assert_eq!(o.retry_after_ns, 25 * S);
    assert!(b.limits.hit(b"user", &p, 1, S / 2 + 25 * S, true).allowed);
}

#[test]
fn entries_that_expired_while_down_are_dropped() {
    let a = Core::new(BOOT);
    a.limits.hit(b"second", &params(1, 1_000, Algo::Gcra), 1, 0, true);
    a.limits.hit(b"minute", &params(1, 60_000, Algo::Gcra), 1, 0, true);
    a.leases.acquire(b"lease", 1, 2 * S, 0);
    a.leases.acquire(b"long lease", 1, 600 * S, 0);
    let file = snapshot::encode(&a, 0);
    let b = Core::new(BOOT + 10 * S);
    assert_eq!(snapshot::restore(&b, &file, 0).unwrap(), 2);
    assert_eq!(keyspace::key_count(&b), 2);
    assert!(!b.limits.hit(b"minute", &params(1, 60_000, Algo::Gcra), 1, 0, false).allowed);
    assert_eq!(b.leases.count(b"lease", 0), 0);
    assert_eq!(b.leases.count(b"long lease", 0), 1);
}

/// `file` with the version field set to `v` and the checksum made right again: what a newer
/// Sluice would have written.
fn with_version(file: &[u8], v: u32) -> Vec<u8> {
    let mut f = file.to_vec();
    f[8..12].copy_from_slice(&v.to_le_bytes());
    let n = f.len() - 32;
    let sum = *blake3::hash(&f[..n]).as_bytes();
    f[n..].copy_from_slice(&sum);
    f
}

#[test]
fn truncated_corrupted_and_future_files_are_refused_with_what_is_wrong() {
    let file = snapshot::encode(&busy_core(0), 0);
    let check = |bytes: &[u8]| snapshot::restore(&Core::new(BOOT), bytes, 0);
    assert!(check(&file).is_ok());

    // Every truncation, by length class.
    for cut in [0, 5, 8, 31, 32, 63, 64, file.len() / 2, file.len() - 33, file.len() - 1] {
        let err = check(&file[..cut]).unwrap_err();
        assert!(matches!(err, SnapshotError::TooShort { .. } | SnapshotError::Truncated { .. }), "cut at {cut}: {err}");
        assert!(err.to_string().starts_with("truncated"), "{err}");
    }
    assert_eq!(check(&file[..100]).unwrap_err().to_string(), format!("truncated: 100 bytes, the header says {}", file.len()));
    let mut longer = file.clone();
    longer.extend_from_slice(b"junk");
    assert!(matches!(check(&longer), Err(SnapshotError::TrailingBytes { .. })));

    // One flipped bit anywhere is caught; in the contents, by the checksum.
    for i in (0..file.len()).step_by(7).chain([file.len() - 1]) {
        let mut bad = file.clone();
        bad[i] ^= 0x10;
        let err = check(&bad).unwrap_err();
        if (32..file.len()).contains(&i) || (12..24).contains(&i) {
            assert_eq!(err, SnapshotError::Checksum, "bit flipped at byte {i}");
        }
    }
    assert_eq!(check(&[b"REDIS0011".as_slice(), &[0; 80]].concat()).unwrap_err(), SnapshotError::NotASnapshot);

    let future = check(&with_version(&file, 2)).unwrap_err();
    assert_eq!(future.to_string(), "format version 2 was written by a newer Sluice; this build reads versions up to 1");
    assert!(matches!(check(&with_version(&file, 0)), Err(SnapshotError::BadVersion { found: 0 })));
}

#[test]
fn a_section_this_build_does_not_know_is_refused_not_dropped() {
    // What a build with a family this one lacks would write, read by this one.
    let mut f = snapshot::encode(&busy_core(0), 0);
    f.truncate(f.len() - 32);
    f.push(6);
    f.extend_from_slice(b"quotas");
    f.extend_from_slice(&3u64.to_le_bytes());
    f.extend_from_slice(b"abc");
    let body = (f.len() - 32) as u64;
    f[24..32].copy_from_slice(&body.to_le_bytes());
    let sum = *blake3::hash(&f).as_bytes();
    f.extend_from_slice(&sum);
    let core = busy_core(0);
    let err = snapshot::restore(&core, &f, 0).unwrap_err();
    assert_eq!(err.to_string(), "section 'quotas' is not known to this build (written by a newer Sluice?)");
    assert!(keyspace::key_count(&core) > 0, "a refused file changes nothing");
}

#[test]
fn an_empty_core_round_trips_to_an_empty_core() {
    let file = snapshot::encode(&Core::new(BOOT), 0);
    let b = busy_core(0);
    assert_eq!(snapshot::restore(&b, &file, 0).unwrap(), 0);
    assert_eq!(keyspace::key_count(&b), 0);
    assert!(b.limits.policies.names().is_empty());
}

#[test]
fn files_are_replaced_whole_and_errors_name_the_path() {
    let dir = std::env::temp_dir().join(format!("sluice-snapshot-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dump.sluice");
    let core = busy_core(0);
    assert!(snapshot::load(&Core::new(BOOT), &path, 0).unwrap().is_none(), "no file: a first start");
    let saved = snapshot::save(&core, &path, 0).unwrap();
    assert_eq!(saved.bytes as u64, std::fs::metadata(&path).unwrap().len());
    let again = Core::new(BOOT);
    let loaded = snapshot::load(&again, &path, 0).unwrap().unwrap();
    assert_eq!(loaded.keys, keyspace::key_count(&core));
    // Only the snapshot is left: no temporary file.
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["dump.sluice"]);
    let missing = dir.join("no/such/dir/dump.sluice");
    let err = snapshot::save(&core, &missing, 0).unwrap_err();
    assert!(err.to_string().contains("no/such/dir/dump.sluice.tmp-"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_million_keys_save_and_restore() {
    let core = Core::new(BOOT);
    let p = params(100, 60_000, Algo::Gcra);
    for i in 0..1_000_000u32 {
        core.limits.hit(format!("user:{i}").as_bytes(), &p, 1, 0, true);
    }
    let started = Instant::now();
    // Each key took one token of a 600 ms refill: all are live until 0.6 s.
    let file = snapshot::encode(&core, 0);
    let encoded = started.elapsed();
    let b = Core::new(BOOT);
    let started = Instant::now();
    assert_eq!(snapshot::restore(&b, &file, 0).unwrap(), 1_000_000);
    let restored = started.elapsed();
    eprintln!("1M GCRA keys: {} bytes, encode {encoded:?}, restore {restored:?}", file.len());
    assert_eq!(keyspace::key_count(&b), 1_000_000);
    for i in (0..1_000_000u32).step_by(9_973) {
        let key = format!("user:{i}");
        assert_eq!(core.limits.hit(key.as_bytes(), &p, 1, S / 4, false), b.limits.hit(key.as_bytes(), &p, 1, S / 4, false));
    }
}

#[test]
fn saving_while_other_threads_hit_gives_every_key_an_exact_state() {
    // Four threads keep hitting while the snapshot is taken; every key restored must hold a
    // state one of its hits produced: a whole number of tokens taken, never a torn value.
    let core = Core::new(BOOT);
    let p = params(1_000_000, 1_000_000, Algo::Gcra); // one token per µs of refill: tat - now = 1 µs per hit
    let file = std::thread::scope(|s| {
        for t in 0..4u32 {
            let core = &core;
            s.spawn(move || {
                for _round in 0..20 {
                    for i in 0..5_000u32 {
                        core.limits.hit(format!("{t}:{i}").as_bytes(), &p, 1, 0, true);
                    }
                }
            });
        }
        snapshot::encode(&core, 0)
    });
    let b = Core::new(BOOT);
    snapshot::restore(&b, &file, 0).unwrap();
    for t in 0..4u32 {
        for i in 0..5_000u32 {
            let left = b.limits.hit(format!("{t}:{i}").as_bytes(), &p, 0, 0, false).remaining;
            assert!((1_000_000 - 20..=1_000_000).contains(&left), "{t}:{i} has {left}");
        }
    }
}
