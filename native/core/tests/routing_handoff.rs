//! A cluster slot handoff of routing groups (routing/handoff.rs): the groups whose slot moves
//! are encoded with only them (`snapshot::encode_keys`), merged into the new owner
//! (`snapshot::import`), and forgotten on the old one (`Router::forget_live`). The new owner then
//! answers for them as the old one would have: usage this minute, cooldowns, failure counters,
//! latency, budgets and open leases, beside its own groups and leases.

use serde_json::{Value, json};
use sluice_core::routing::{Outcome, PickRequest, RefusalKind, Tokens};
use sluice_core::snapshot;
use sluice_core::Core;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
/// Unix ns when the old owner's clock read zero: the start of a minute.
const BOOT: i64 = (1_800_000_000 - 1_800_000_000 % 86_400) * S;

fn dep(id: &str, params: Value) -> Value {
    let mut p = json!({"model": format!("openai/{id}")});
    for (k, v) in params.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!({"litellm_params": p, "model_info": {"id": id}})
}

/// What every node of the cluster loads: the same settings and groups.
fn configured(boot: i64) -> Core {
    let core = Core::new(boot);
    core.routing.set_settings(&json!({"allowed_fails": 1, "cooldown_time": 30})).unwrap();
    core.routing.set("gpt", &[dep("a", json!({"rpm": 4, "tpm": 100_000})), dep("b", json!({"rpm": 10})), dep("c", json!({}))]).unwrap();
    core.routing.set("claude", &[dep("x", json!({}))]).unwrap();
    core.routing.set("spin", &[dep("s", json!({}))]).unwrap();
    core
}

fn pick(core: &Core, group: &str, exclude: &[&str], now: i64) -> String {
    core.routing
        .pick(&PickRequest { group, tokens: 100, exclude, ..Default::default() }, now as u64)
        .unwrap_or_else(|e| panic!("{}", e.message()))
        .lease()
}

fn done(core: &Core, lease: &str, status: u16, now: i64) -> bool {
    let outcome = Outcome { status, latency_ms: Some(200.0), tokens: Tokens::Split { input: 50, output: 40 }, ..Outcome::default() };
    core.routing.done(lease, &outcome, now as u64).unwrap()
}

fn list(core: &Core, group: &str, now: i64) -> Vec<Value> {
    core.routing.list(group, now as u64).unwrap().iter().map(|v| v.to_json()).collect()
}

fn field(views: &[Value], id: &str, name: &str) -> Value {
    views.iter().find(|v| v["id"] == id).unwrap()[name].clone()
}

fn number(lease: &str) -> u64 {
    lease.rsplit(':').next().unwrap().parse().unwrap()
}

/// Live state only (the picks/cooldowns counters are each node's own metrics).
fn live(views: &[Value]) -> Vec<Value> {
    views
        .iter()
        .map(|v| json!([v["id"], v["in_flight"], v["rpm_used"], v["tpm_used"], v["cooldown_ms"], v["fails"], v["latency_ms"], v["budget_spent"]]))
        .collect()
}

#[test]
fn a_moved_group_keeps_its_live_state_and_leases_on_the_new_owner() {
    let old = configured(BOOT);
    // The new owner started 1 ms later: its lease numbers count from 1000 (us) above the old
    // owner's, so the old owner's numbers below are ones the new owner also gives out.
    std::thread::sleep(std::time::Duration::from_millis(1));
    let new = configured(BOOT + 5 * S);
    let at = |t: i64| (t, t - 5 * S); // the same instant on the old and the new owner's clock
    let (t_old, t_new) = at(20 * S);

    // The new owner served "gpt" before the handoff arrived (it got the topology first): one
    // lease of its own there, and one in "claude", which stays its own.
    let own_gpt = pick(&new, "gpt", &["a", "b"], t_new);
    let own_claude = pick(&new, "claude", &[], t_new);

    // The old owner: two open leases on a, one request done on a, two 500s on b (cooling it).
    let open_a = pick(&old, "gpt", &["b", "c"], t_old);
    let done_a = pick(&old, "gpt", &["b", "c"], t_old);
    assert!(done(&old, &done_a, 200, t_old));
    for _ in 0..2 {
        let lease = pick(&old, "gpt", &["a", "c"], t_old);
        assert!(done(&old, &lease, 500, t_old));
    }
    // Spin the old owner's counter up to the number the new owner gave its claude lease: the
    // next gpt lease has that number, in another group.
    loop {
        let l = pick(&old, "spin", &[], t_old);
        assert!(done(&old, &l, 200, t_old));
        if number(&l) + 1 >= number(&own_claude) {
            assert_eq!(number(&l) + 1, number(&own_claude), "the old owner's counter started below the new owner's");
            break;
        }
    }
    let collides = pick(&old, "gpt", &["b", "c"], t_old);
    assert_eq!(number(&collides), number(&own_claude));
    let before = list(&old, "gpt", t_old);
    assert_eq!(field(&before, "a", "in_flight"), json!(2));
    assert_eq!(field(&before, "a", "rpm_used"), json!(3));
    assert_eq!(field(&before, "b", "cooldown_ms"), json!(30_000));
    assert_eq!(field(&before, "b", "fails"), json!(2));

    // "gpt"'s slot moves: only that group goes.
    let file = snapshot::encode_keys(&old, &|name| name == b"gpt", t_old);
    assert!(snapshot::sections(&file).unwrap().iter().any(|s| s.name == "routing"));
    assert_eq!(snapshot::import(&new, &file, t_new).unwrap(), 1, "one group taken in");
    assert_eq!(old.routing.forget_live(&["gpt"]), 1);

    // The new owner: the old owner's live state (as a key held on both sides takes the
    // handed-over state, c's rpm/tpm the new owner counted meanwhile are replaced), plus its own
    // lease still in flight on c.
    let after = list(&new, "gpt", t_new);
    let mut expected = live(&before);
    expected[2][1] = json!(1);
    assert_eq!(live(&after), expected);
    assert_eq!(field(&after, "a", "rpm"), json!(4), "the new owner's config");
    // The old owner keeps the group, without live state or leases.
    let forgotten = list(&old, "gpt", t_old);
    for id in ["a", "b", "c"] {
        for name in ["in_flight", "rpm_used", "tpm_used", "cooldown_ms", "fails"] {
            assert_eq!(field(&forgotten, id, name), json!(0), "{id}.{name} on the old owner");
        }
        assert_eq!(field(&forgotten, id, "latency_ms"), Value::Null);
    }
    assert!(!done(&old, &open_a, 200, t_old), "the old owner no longer holds the lease");
    assert_eq!(field(&list(&old, "claude", t_old), "x", "in_flight"), json!(0));

    // Leases picked before the move are done on the new owner, beside its own of the same number.
    assert!(done(&new, &open_a, 200, t_new));
    assert!(!done(&new, &open_a, 200, t_new), "done once");
    assert!(done(&new, &collides, 200, t_new));
    assert!(done(&new, &own_claude, 200, t_new), "the new owner's lease of the same number, in claude");
    assert!(done(&new, &own_gpt, 200, t_new));
    let views = list(&new, "gpt", t_new);
    for id in ["a", "b", "c"] {
        assert_eq!(field(&views, id, "in_flight"), json!(0), "{id}");
    }
    assert_eq!(new.routing.open_leases(), 0);
    // a has 1 of its 4 rpm left, b is cooling: one more pick on a, then the group is busy but c.
    let next = pick(&new, "gpt", &["c"], t_new);
    assert_eq!(field(&list(&new, "gpt", t_new), "a", "rpm_used"), json!(4));
    let e = new.routing.pick(&PickRequest { group: "gpt", exclude: &["c"], ..Default::default() }, t_new as u64).unwrap_err();
    assert_eq!(e.kind, RefusalKind::Busy, "{}", e.message());
    // Numbers the new owner gives out now are past every one it took in.
    assert!(number(&next) > number(&collides));
}

#[test]
fn a_group_only_the_old_owner_has_is_taken_whole_and_nothing_else_moves() {
    let old = configured(BOOT);
    old.routing.set("made-by-route-set", &[dep("m", json!({"rpm": 7}))]).unwrap();
    let lease = pick(&old, "made-by-route-set", &[], S);
    pick(&old, "claude", &[], S);
    let new = configured(BOOT);
    let file = snapshot::encode_keys(&old, &|name| name == b"made-by-route-set", S);
    assert_eq!(snapshot::import(&new, &file, S).unwrap(), 1);
    assert_eq!(live(&list(&new, "made-by-route-set", S)), live(&list(&old, "made-by-route-set", S)));
    assert_eq!(field(&list(&new, "made-by-route-set", S), "m", "rpm"), json!(7));
    assert_eq!(field(&list(&new, "claude", S), "x", "in_flight"), json!(0), "claude did not move");
    assert!(done(&new, &lease, 200, S));
    // No group moving: no routing section at all.
    let file = snapshot::encode_keys(&old, &|_| false, S);
    assert!(!snapshot::sections(&file).unwrap().iter().any(|s| s.name == "routing"));
    // A damaged routing section is refused and changes nothing.
    let file = snapshot::encode_keys(&old, &|name| name == b"claude", S);
    let mut section = Vec::new();
    assert!(sluice_core::family::Family::export(&old.routing, &|name| name == b"claude", S, BOOT + S, &mut section));
    section.truncate(section.len() - 3);
    let err = sluice_core::family::Family::import(&new.routing, &section, S, BOOT + S).unwrap_err();
    assert!(err.to_string().starts_with("bad routing snapshot:"), "{err}");
    assert_eq!(field(&list(&new, "claude", S), "x", "in_flight"), json!(0));
    assert_eq!(snapshot::import(&new, &file, S).unwrap(), 1);
    assert_eq!(field(&list(&new, "claude", S), "x", "in_flight"), json!(1));
}

#[test]
fn only_groups_with_live_state_are_offered_for_a_handoff_and_forgetting_empties_them() {
    let core = configured(BOOT);
    assert!(core.routing.groups_with_live_state().is_empty(), "config alone is not handed over");
    let lease = pick(&core, "claude", &[], S);
    assert_eq!(core.routing.groups_with_live_state(), vec!["claude".into()]);
    assert!(done(&core, &lease, 200, S));
    assert_eq!(core.routing.groups_with_live_state(), vec!["claude".into()], "its rpm use and latency");
    core.routing.cooldown("gpt", "b", 1_000, S as u64);
    assert_eq!(core.routing.groups_with_live_state(), vec!["claude".into(), "gpt".into()]);
    assert_eq!(core.routing.forget_live(&["claude", "gpt", "no-such-group"]), 2);
    assert!(core.routing.groups_with_live_state().is_empty());
    assert_eq!(core.routing.groups(), vec!["claude".into(), "gpt".into(), "spin".into()], "the groups stay");
}
