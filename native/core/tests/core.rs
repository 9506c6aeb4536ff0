//! The core through its public API only, the way the binding and the durability work use it:
//! everything through a `Core` value.

use sluice_core::Core;
use sluice_core::family::{Family, RestoreError};
use sluice_core::keyspace;
use sluice_core::limits::throttle::Quota;
use sluice_core::limits::{Algo, Item, Params};
use sluice_core::tokens::Encoding;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

fn gcra(limit: u64, per_ms: u64) -> Params {
    Params::new(limit, per_ms, limit, Algo::Gcra).unwrap()
}

#[test]
fn hit_peek_throttle_all_and_adjust_on_one_core() {
    let core = Core::new(0);
    let p = gcra(3, 3_000); // one token per second, bucket of 3
    // Peek does not consume; hit does.
    assert_eq!(core.limits.hit(b"k", &p, 1, 0, false).reply(), [1, 3, 3, -1, 0]);
    assert_eq!(core.limits.hit(b"k", &p, 1, 0, true).reply(), [1, 3, 2, -1, 1_000]);
    assert_eq!(core.limits.hit(b"k", &p, 2, 0, true).reply(), [1, 3, 0, -1, 3_000]);
    assert_eq!(core.limits.hit(b"k", &p, 1, 0, true).reply(), [0, 3, 0, 1_000, 3_000]);
    // Adjust refunds two tokens, then charges five: into debt.
    assert_eq!(core.limits.adjust(b"k", &p, -2, 0), 2);
    assert_eq!(core.limits.adjust(b"k", &p, 5, 0), -3);

    // CL.THROTTLE shares the GCRA store but a different key here: 4 burst + 1, 1 per second.
    let q = Quota::new(4, 1, 1).unwrap();
    assert_eq!(core.limits.throttle(b"c", &q, 1, 0).values(), [0, 5, 4, -1, 1]);
    assert_eq!(core.limits.throttle(b"c", &q, 5, 0).values(), [1, 5, 4, 1, 1]);

    // RL.ALL: all or nothing; the refusing key leaves the others untouched.
    core.limits.policies.set(b"two", gcra(2, 2_000));
    let two = core.limits.policies.get(b"two").unwrap();
    let items = [Item { key: b"a", params: two, cost: 1 }, Item { key: b"b", params: two, cost: 3 }];
    let mut remaining = [0.0; 2];
    let r = core.limits.all(&items, 0, &mut remaining);
    assert!(!r.allowed);
    assert_eq!(r.refused, 1);
    assert_eq!(core.limits.hit(b"a", &two, 1, 0, false).remaining, 2, "the refused call consumed nothing");
    let items = [Item { key: b"a", params: two, cost: 1 }, Item { key: b"b", params: two, cost: 2 }];
    let r = core.limits.all(&items, 0, &mut remaining);
    assert!(r.allowed);
    assert_eq!(remaining, [1.0, 0.0]);

    assert!(core.limits.reset(b"k", 0));
    assert!(!core.limits.reset(b"k", 0));
}

#[test]
fn leases_through_core() {
    let core = Core::new(0);
    let a = core.leases.acquire(b"sem", 1, 5 * S, 0);
    assert_eq!(a.in_use, 1);
    assert!(core.leases.acquire(b"sem", 1, 5 * S, S).lease.is_none());
    assert!(core.leases.extend(b"sem", a.lease.unwrap(), 5 * S, 4 * S));
    assert_eq!(core.leases.count(b"sem", 8 * S), 1);
    assert!(core.leases.release(b"sem", a.lease.unwrap(), 8 * S));
    assert_eq!(core.leases.count(b"sem", 8 * S), 0);
    assert_eq!(keyspace::key_count(&core), 0, "a key with no leases left is gone");
}

#[test]
fn flush_all_through_the_family_list_empties_every_family() {
    let core = Core::new(0);
    for i in 0..100u32 {
        let key = i.to_be_bytes();
        core.limits.hit(&key, &gcra(10, 60_000), 1, 0, true);
        core.limits.hit(&key, &Params::new(10, 60_000, 10, Algo::Sliding).unwrap(), 1, 0, true);
        core.limits.hit(&key, &Params::new(10, 60_000, 10, Algo::Fixed).unwrap(), 1, 0, true);
        core.leases.acquire(&key, 1, 60 * S, 0);
    }
    core.routing.set("g", &[serde_json::json!({"model": "openai/gpt-4o"})]).unwrap();
    let names: Vec<&str> = core.families().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["limits", "leases", "tokens", "routing"]);
    let lens: Vec<usize> = core.families().iter().map(|f| f.len()).collect();
    assert_eq!(lens, [300, 100, 0, 0], "tokens and routing hold no client keys");
    assert_eq!(keyspace::key_count(&core), 400);
    keyspace::flush_all(&core);
    assert_eq!(keyspace::key_count(&core), 0);
    assert!(core.families().iter().all(|f| f.is_empty()));
    // The state is really gone, not just uncounted.
    assert_eq!(core.limits.hit(&0u32.to_be_bytes(), &gcra(10, 60_000), 1, 0, false).remaining, 10);
    assert_eq!(core.leases.count(&0u32.to_be_bytes(), 0), 0);
    // Routing's groups are configuration, as before routing was a family: FLUSHALL keeps them.
    assert_eq!(core.routing.groups().len(), 1);
}

#[test]
fn tokens_keep_no_snapshot_and_say_so() {
    // The token-count cache is derived data: it writes nothing and refuses to restore.
    let core = Core::new(0);
    let mut out = Vec::new();
    assert!(!core.tokens.snapshot(0, 0, &mut out));
    assert!(out.is_empty());
    assert_eq!(core.tokens.restore(&[], 0, 0), Err(RestoreError::Unsupported { family: "tokens" }));
}

#[test]
fn two_cores_do_not_share_state() {
    let (one, two) = (Core::new(0), Core::new(0));
    let p = gcra(1, 60_000);
    assert!(one.limits.hit(b"k", &p, 1, 0, true).allowed);
    assert!(two.limits.hit(b"k", &p, 1, 0, true).allowed, "the second core's key is fresh");
    one.limits.policies.set(b"pol", p);
    assert!(two.limits.policies.get(b"pol").is_none());
    one.leases.acquire(b"sem", 1, S, 0);
    assert_eq!(two.leases.count(b"sem", 0), 0);
    one.tokens.register_model(b"my-deployment", b"gpt-4o", None, None).unwrap();
    assert!(two.tokens.resolve(b"my-deployment").is_err());
    one.tokens.cache.set_capacity(16);
    let text = "a system prompt long enough to go through the count cache";
    one.tokens.count(Encoding::O200kBase, text);
    one.tokens.count(Encoding::O200kBase, text);
    assert_eq!(one.tokens.cache.stats().hits, 1);
    assert_eq!(two.tokens.cache.stats().capacity, 0);
    keyspace::flush_all(&one);
    assert_eq!(keyspace::key_count(&one), 0);
    assert_eq!(keyspace::key_count(&two), 1, "flushing one core leaves the other");
}

#[test]
fn token_counts_through_core() {
    let core = Core::new(0);
    let model = core.tokens.resolve(b"gpt-4o").unwrap();
    assert_eq!(model.encoding, Encoding::O200kBase);
    assert_eq!(core.tokens.count(model.encoding, "hello world"), 2);
    assert_eq!(core.tokens.count(Encoding::Cl100kBase, "hello world"), 2);
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(20);
    let n = core.tokens.count(Encoding::Cl100kBase, &long);
    assert_eq!(core.tokens.count_within(Encoding::Cl100kBase, &long, n as u64), Some(n));
    assert_eq!(core.tokens.count_within(Encoding::Cl100kBase, &long, 10), None);
    let w = core.tokens.within_stats();
    assert_eq!(w.early_stops, 1);
    assert!(w.bytes_skipped > 0);
    let chat = core.tokens.count_chat(&model, br#"[{"role":"user","content":"hello world"}]"#, None).unwrap();
    assert_eq!(chat, 3 + 1 + 2 + 3, "per message, role, content, reply priming");
    core.tokens.reset_stats();
    assert_eq!(core.tokens.within_stats().early_stops, 0);
}
