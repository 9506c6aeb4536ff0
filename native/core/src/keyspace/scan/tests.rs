use std::collections::{HashMap, HashSet};

use super::*;
use crate::keyspace::{remove, Kind};
use crate::limits::{Algo, Params};

const MS: i64 = 1_000_000;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Gives `key` state of `kind` lasting `ttl_ms` from `now`.
fn put(core: &Core, key: &[u8], kind: Kind, ttl_ms: u64, now: i64) {
    let algo = match kind {
        Kind::Gcra => Algo::Gcra,
        Kind::Sliding => Algo::Sliding,
        Kind::Fixed => Algo::Fixed,
        Kind::Lease => {
            core.leases.acquire(key, 1_000, ttl_ms as i64 * MS, now);
            return;
        }
    };
    // One token per `ttl_ms`: a GCRA bucket is full again, and a window over, within 2 × ttl_ms.
    let p = Params::new(1, ttl_ms, 1, algo).unwrap();
    core.limits.hit(key, &p, 1, now, true);
}

/// The keys of a step's RESP bulk strings.
fn decode(buf: &[u8]) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        assert_eq!(buf[at], b'$');
        let header_end = at + buf[at..].iter().position(|&b| b == b'\r').unwrap();
        let len: usize = std::str::from_utf8(&buf[at + 1..header_end]).unwrap().parse().unwrap();
        let start = header_end + 2;
        keys.push(buf[start..start + len].to_vec());
        assert_eq!(&buf[start + len..start + len + 2], b"\r\n");
        at = start + len + 2;
    }
    keys
}

/// Runs a whole scan; `between(step, now)` runs between steps and returns the new `now`.
fn full_scan(core: &Core, count: usize, filter: &Filter, slice: usize, mut between: impl FnMut(usize) -> i64) -> (Vec<Vec<u8>>, usize) {
    let (mut cursor, mut keys, mut steps) = (0u64, Vec::new(), 0);
    let mut now = 0;
    loop {
        let mut out = Vec::new();
        let step = scan_sliced(core, cursor, count, filter, now, &mut out, slice);
        cursor = step.next;
        assert!(cursor < 1 << 40, "cursor {cursor} over 40 bits");
        let found = decode(&out);
        assert_eq!(found.len(), step.keys);
        keys.extend(found);
        steps += 1;
        if cursor == 0 {
            return (keys, steps);
        }
        now = between(steps);
    }
}

#[test]
fn a_quiet_scan_returns_every_key_once_in_bounded_steps() {
    for slice in [SLICE, 16] {
        let core = Core::new(0);
        let mut want = HashSet::new();
        for i in 0..20_000u32 {
            let key = format!("k:{i}:{}", "x".repeat(i as usize % 40)).into_bytes();
            put(&core, &key, Kind::ALL[i as usize % 4], 60_000, 0);
            want.insert(key);
        }
        let (keys, steps) = full_scan(&core, 100, &Filter::default(), slice, |_| 0);
        assert_eq!(keys.len(), want.len(), "no duplicates (slice {slice})");
        assert_eq!(keys.into_iter().collect::<HashSet<_>>(), want);
        // 20,000 keys, at least 100 examined per step: at most ~200 steps plus the shard tail.
        assert!(steps >= 20_000 / (100 + 20_000 / 256 * 2) && steps <= 20_000 / 100 + 1, "{steps} steps");
    }
}

#[test]
fn every_key_present_for_the_whole_scan_is_returned_while_tables_grow_shrink_and_expire() {
    for (seed, slice) in [(1u64, SLICE), (2, 16), (3, 3), (4, 64)] {
        let core = Core::new(0);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
        // Stable keys: present for the whole scan, never touched. Long TTL.
        let mut stable = HashSet::new();
        for i in 0..3_000u32 {
            let key = format!("stable:{i}").into_bytes();
            put(&core, &key, Kind::ALL[(rng.next() % 4) as usize], 3_600_000, 0);
            stable.insert(key);
        }
        // Churn keys: some expire soon, some are deleted, many are added between steps.
        let mut churn: Vec<Vec<u8>> = Vec::new();
        for i in 0..3_000u32 {
            let key = format!("churn:{i}").into_bytes();
            put(&core, &key, Kind::ALL[(rng.next() % 4) as usize], 1 + rng.next() % 5_000, 0);
            churn.push(key);
        }
        let mut next = 3_000u32;
        let mut now = 0i64;
        let (keys, _) = full_scan(&core, 10 + (rng.next() % 50) as usize, &Filter::default(), slice, |step| {
            now += (rng.next() % 40) as i64 * MS;
            // Grow: a burst of inserts makes tables resize and rehash mid-scan.
            let adds = if step % 7 == 0 { 2_000 } else { (rng.next() % 60) as u32 };
            for _ in 0..adds {
                let key = format!("churn:{next}").into_bytes();
                next += 1;
                put(&core, &key, Kind::ALL[(rng.next() % 4) as usize], 1 + rng.next() % 5_000, now);
                churn.push(key);
            }
            // Shrink: delete churn keys, and sweep so tables give memory back.
            for _ in 0..(rng.next() % 200) {
                if churn.is_empty() {
                    break;
                }
                let i = (rng.next() as usize) % churn.len();
                remove(&core, &churn.swap_remove(i), now);
            }
            if step % 5 == 0 {
                core.limits.sweep(now, 1 << 20);
                core.leases.sweep(now, 1 << 20);
            }
            now
        });
        let got: HashSet<Vec<u8>> = keys.iter().cloned().collect();
        let missing: Vec<_> = stable.iter().filter(|k| !got.contains(*k)).take(5).map(|k| String::from_utf8_lossy(k).into_owned()).collect();
        assert!(missing.is_empty(), "seed {seed} slice {slice}: missing {missing:?}");
        // Each key at most once: it lives in one shard and one place of the order.
        let mut times: HashMap<&Vec<u8>, usize> = HashMap::new();
        for k in &keys {
            *times.entry(k).or_default() += 1;
        }
        assert!(times.values().all(|&n| n == 1), "seed {seed}: a key was returned twice");
    }
}

#[test]
fn match_and_type_filters_apply_and_a_key_in_several_stores_comes_once_as_its_type() {
    let core = Core::new(0);
    put(&core, b"user:1", Kind::Gcra, 60_000, 0);
    put(&core, b"user:2", Kind::Sliding, 60_000, 0);
    put(&core, b"user:2", Kind::Lease, 60_000, 0);
    put(&core, b"user:3", Kind::Fixed, 60_000, 0);
    put(&core, b"user:3", Kind::Gcra, 60_000, 0);
    put(&core, b"pool:a", Kind::Lease, 60_000, 0);
    let names = |pattern: Option<&[u8]>, kind: Option<Kind>| {
        let (keys, _) = full_scan(&core, 10, &Filter { pattern, kind }, SLICE, |_| 0);
        let mut names: Vec<String> = keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(None, None), ["pool:a", "user:1", "user:2", "user:3"]);
    assert_eq!(names(Some(b"user:*"), None), ["user:1", "user:2", "user:3"]);
    assert_eq!(names(None, Some(Kind::Gcra)), ["user:1", "user:3"]);
    assert_eq!(names(None, Some(Kind::Sliding)), ["user:2"]);
    assert_eq!(names(None, Some(Kind::Fixed)), Vec::<String>::new(), "user:3 is a gcra key");
    assert_eq!(names(None, Some(Kind::Lease)), ["pool:a"]);
    assert_eq!(names(Some(b"*[ab]"), Some(Kind::Lease)), ["pool:a"]);
}

#[test]
fn an_empty_keyspace_finishes_in_one_step_and_expired_entries_are_not_returned() {
    let core = Core::new(0);
    let mut out = Vec::new();
    let done = Step { next: 0, keys: 0 };
    assert_eq!(scan(&core, 0, 10, &Filter::default(), 0, &mut out), done);
    assert!(out.is_empty());
    put(&core, b"soon", Kind::Gcra, 10, 0);
    assert_eq!(scan(&core, 0, 10, &Filter::default(), 10 * MS, &mut out), done);
    assert!(out.is_empty(), "back to full at 10 ms: forgotten");
    // A cursor past the last shard ends the scan.
    assert_eq!(scan(&core, (SHARDS as u64) << ORDER_BITS, 10, &Filter::default(), 0, &mut out), done);
    put(&core, b"a\r\nb", Kind::Lease, 10, 10 * MS);
    scan(&core, 0, 10, &Filter::default(), 10 * MS, &mut out);
    assert_eq!(out, b"$4\r\na\r\nb\r\n", "binary-safe: the length says where the key ends");
}
