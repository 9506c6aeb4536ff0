//! Routing state in snapshots: a core that routed, saved and restored across a simulated restart
//! (another process, its clock starting at zero later in Unix time), answers as the router that
//! never stopped: deployments, settings, usage this minute, cooldowns with what is left of
//! them, failure counters, latency samples, budgets and open leases.

use serde_json::{Value, json};
use sluice_core::routing::{Outcome, PickRequest, RefusalKind, Tokens};
use sluice_core::snapshot::{self, SnapshotError};
use sluice_core::Core;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
/// Unix ns when the first process's clock read zero: the start of a minute (and of a UTC day),
/// so the test knows when the rpm/tpm minute rolls.
const BOOT: i64 = (1_800_000_000 - 1_800_000_000 % 86_400) * S;

fn dep(id: &str, params: Value, info: Value) -> Value {
    let mut p = json!({"model": format!("openai/{id}")});
    for (k, v) in params.as_object().unwrap() {
        p[k] = v.clone();
    }
    let mut i = json!({"id": id});
    for (k, v) in info.as_object().unwrap() {
        i[k] = v.clone();
    }
    json!({"litellm_params": p, "model_info": i})
}

fn pick(core: &Core, group: &str, exclude: &[&str], tokens: u64, now: i64) -> String {
    let p = core
        .routing
        .pick(&PickRequest { group, tokens, exclude, ..Default::default() }, now as u64)
        .unwrap_or_else(|e| panic!("{}", e.message()));
    p.lease()
}

fn done(core: &Core, lease: &str, status: u16, latency_ms: f64, now: i64) -> bool {
    let outcome = Outcome { status, latency_ms: Some(latency_ms), tokens: Tokens::Split { input: 300, output: 100 }, ..Outcome::default() };
    core.routing.done(lease, &outcome, now as u64).unwrap()
}

/// Every deployment of `group` with its live state, as ROUTE.LIST shows it.
fn list(core: &Core, group: &str, now: i64) -> Vec<Value> {
    core.routing.list(group, now as u64).unwrap().iter().map(|v| v.to_json()).collect()
}

fn field(views: &[Value], id: &str, name: &str) -> Value {
    views.iter().find(|v| v["id"] == id).unwrap()[name].clone()
}

/// A core that routed for 10 s: usage, a cooldown, failures, latency samples, budgets spent,
/// and two leases still open.
fn routed_core() -> (Core, Vec<String>) {
    let core = Core::new(BOOT);
    core.routing
        .set_settings(&json!({
            "routing_strategy": "latency-based-routing",
            "routing_strategy_args": {"ttl": 600},
            "allowed_fails": 1,
            "cooldown_time": 30,
            "provider_budget_config": {"anthropic": {"budget_limit": 0.001, "time_period": "1d"}},
            "model_group_alias": {"gpt-4o": "gpt"},
            "some_unused_setting": 1,
        }))
        .unwrap();
    core.routing
        .set(
            "gpt",
            &[
                dep(
                    "a",
                    json!({"rpm": 10, "tpm": 10_000, "api_base": "https://a.example", "region_name": "eu", "tags": ["fast", "eu"],
                           "max_budget": 5.0, "budget_duration": "1d", "input_cost_per_token": 0.001, "weight": 2.5, "order": 1}),
                    json!({"max_input_tokens": 8000, "allowed_fails_policy": {"RateLimitErrorAllowedFails": 4}}),
                ),
                dep("b", json!({"max_parallel_requests": 3, "api_version": "2024-10-21", "output_cost_per_token": 0.002}), json!({"cooldown_time": 12.5})),
                dep("c", json!({"tpm": 50_000}), json!({})),
            ],
        )
        .unwrap();
    core.routing.set("claude", &[dep("x", json!({"model": "anthropic/claude", "input_cost_per_token": 0.01}), json!({}))]).unwrap();
    let mut open = Vec::new();
    // a: three requests done with latencies, two in flight.
    for (i, latency) in [120.0, 80.0, 100.0].into_iter().enumerate() {
        let lease = pick(&core, "gpt", &["b", "c"], 500, (1 + i as i64) * S);
        assert!(done(&core, &lease, 200, latency, (1 + i as i64) * S + 300 * MS));
    }
    open.push(pick(&core, "gpt", &["b", "c"], 700, 4 * S));
    open.push(pick(&core, "gpt", &["b", "c"], 900, 4 * S));
    // b: two 500s with allowed_fails 1 cool it for its own 12.5 s (from 6 s: until 18.5 s).
    for t in [5, 6] {
        let lease = pick(&core, "gpt", &["a", "c"], 10, t * S);
        assert!(done(&core, &lease, 500, 50.0, t * S));
    }
    // c: one 429 (counted in the allowed_fails counter, not yet cooling).
    let lease = pick(&core, "gpt", &["a", "b"], 10, 7 * S);
    assert!(done(&core, &lease, 429, 10.0, 7 * S));
    // claude's provider budget is spent (400 tokens x 0.01 > 0.001).
    let lease = pick(&core, "claude", &[], 10, 8 * S);
    assert!(done(&core, &lease, 200, 900.0, 8 * S));
    (core, open)
}

#[test]
fn a_restarted_router_answers_as_the_one_that_never_stopped() {
    let (a, open) = routed_core();
    let saved_at = 10 * S;
    let file = snapshot::encode(&a, saved_at);
    // The new process's clock reads zero 15 s of wall time after the first one's: the restart
    // took 5 s, and it is now 2 s into the new process (Unix BOOT + 17 s, the same minute).
    let b = Core::new(BOOT + 15 * S);
    assert_eq!(snapshot::restore(&b, &file, 2 * S).unwrap(), 0, "routing holds no keys");
    let (now_a, now_b) = (17 * S, 2 * S);

    assert_eq!(b.routing.groups(), a.routing.groups());
    assert_eq!(b.routing.settings_json(), a.routing.settings_json());
    assert_eq!(b.routing.settings().ignored_keys, vec!["some_unused_setting".to_string()]);
    for group in ["gpt", "claude"] {
        let (before, after) = (list(&a, group, now_a), list(&b, group, now_b));
        assert_eq!(after, before, "{group}: every deployment, its config and live state");
        let configs = |c: &Core| c.routing.list(group, 0).unwrap().into_iter().map(|v| (*v.deployment).clone()).collect::<Vec<_>>();
        assert_eq!(configs(&b), configs(&a), "{group}: configs field for field");
    }
    let views = list(&b, "gpt", now_b);
    assert_eq!((field(&views, "a", "in_flight"), field(&views, "a", "rpm_used"), field(&views, "a", "tpm_used")), (json!(2), json!(5), json!(3 * 400 + 700 + 900)));
    assert_eq!(field(&views, "b", "cooldown_ms"), json!(1500), "cooling until 18.5 s of the old clock = 3.5 s of the new: 1.5 s left");
    // Latency per output token (ms / 100 tokens): 1.2, 0.8, 1.0; three requests of 300 input
    // tokens at 0.001.
    assert!((field(&views, "a", "latency_ms").as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!((field(&views, "a", "budget_spent").as_f64().unwrap() - 0.9).abs() < 1e-9);

    // The same decisions on both: b is still cooling, the 429 counted on c makes the next one
    // cool it (allowed_fails 1), claude's provider budget refuses.
    for core in [&a, &b] {
        let now = if std::ptr::eq(core, &a) { now_a } else { now_b };
        let e = core.routing.pick(&PickRequest { group: "gpt", exclude: &["a", "c"], ..Default::default() }, now as u64).unwrap_err();
        assert_eq!((e.kind, e.cooling), (RefusalKind::Busy, 1), "{}", e.message());
        let lease = pick(core, "gpt", &["a", "b"], 10, now);
        assert!(done(core, &lease, 429, 10.0, now));
        assert_eq!(field(&list(core, "gpt", now), "c", "cooldown_ms"), json!(30_000));
        let e = core.routing.pick(&PickRequest { group: "claude", ..Default::default() }, now as u64).unwrap_err();
        assert_eq!(e.kind, RefusalKind::Busy, "{}", e.message());
    }

    // The open leases were restored: done frees the slot and settles the tokens.
    assert!(done(&b, &open[0], 200, 100.0, now_b));
    assert!(!done(&b, &open[0], 200, 100.0, now_b), "done once");
    assert_eq!(b.routing.open_leases(), 1);
    let views = list(&b, "gpt", now_b);
    assert_eq!((field(&views, "a", "in_flight"), field(&views, "a", "tpm_used")), (json!(1), json!(3 * 400 + 400 + 900)));
    // New leases never reuse a number a client may still hold.
    let numbers = |l: &str| l.rsplit(':').next().unwrap().parse::<u64>().unwrap();
    let fresh = pick(&b, "gpt", &["b", "c"], 1, now_b);
    assert!(numbers(&fresh) > numbers(&open[1]), "{fresh} after {}", open[1]);
}

#[test]
fn what_ended_while_the_daemon_was_down_is_not_resurrected() {
    let (a, open) = routed_core();
    let file = snapshot::encode(&a, 10 * S);
    // Back two hours later: the minute, the cooldowns, the leases (10 min TTL), the latency
    // samples (10 min ttl) and the failure counters have all ended.
    let b = Core::new(BOOT + 7_200 * S);
    snapshot::restore(&b, &file, 0).unwrap();
    let views = list(&b, "gpt", 0);
    for id in ["a", "b", "c"] {
        for (name, zero) in [("in_flight", json!(0)), ("rpm_used", json!(0)), ("tpm_used", json!(0)), ("cooldown_ms", json!(0)), ("fails", json!(0)), ("latency_ms", Value::Null)] {
            assert_eq!(field(&views, id, name), zero, "{id}.{name}");
        }
    }
    assert!((field(&views, "a", "budget_spent").as_f64().unwrap() - 0.9).abs() < 1e-9, "the daily budget window goes on");
    assert_eq!(b.routing.open_leases(), 0);
    assert!(!done(&b, &open[1], 200, 1.0, 0), "an expired lease is gone");
    // Nothing pending but the end of a's daily budget window: no ghost lease or cooldown.
    assert_eq!(b.routing.next_change_ms("gpt", 0), Some(86_400_000 - 7_200_000));
    // A 429 on c now starts a new count: with allowed_fails 1 it does not cool yet.
    let lease = pick(&b, "gpt", &["a", "b"], 10, 0);
    assert!(done(&b, &lease, 429, 10.0, 0));
    assert_eq!(field(&list(&b, "gpt", 0), "c", "cooldown_ms"), json!(0));
}

#[test]
fn a_router_never_configured_writes_no_section() {
    let names = |core: &Core| {
        let file = snapshot::encode(core, 0);
        snapshot::sections(&file).unwrap().iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
    };
    let core = Core::new(BOOT);
    assert!(!names(&core).contains(&"routing".to_string()));
    core.routing.set("g", &[dep("a", json!({}), json!({}))]).unwrap();
    assert!(names(&core).contains(&"routing".to_string()));
}

#[test]
fn a_bad_routing_section_is_refused_and_changes_nothing() {
    let (a, _) = routed_core();
    let mut section = Vec::new();
    assert!(sluice_core::family::Family::snapshot(&a.routing, 10 * S, BOOT + 10 * S, &mut section));
    let b = Core::new(BOOT);
    b.routing.set("kept", &[dep("k", json!({}), json!({}))]).unwrap();
    for cut in 0..section.len() {
        let err = sluice_core::family::Family::restore(&b.routing, &section[..cut], 0, BOOT);
        assert!(err.is_err(), "cut at {cut}");
    }
    let mut longer = section.clone();
    longer.push(0);
    let err = sluice_core::family::Family::restore(&b.routing, &longer, 0, BOOT).unwrap_err();
    assert_eq!(err.to_string(), format!("bad routing snapshot: 1 bytes after the last item (at byte {} of {})", section.len(), section.len() + 1));
    assert_eq!(b.routing.groups().len(), 1, "a refused section leaves the router as it was");
    // Through the file: the whole restore is refused with the family's message.
    let file = snapshot::encode(&a, 10 * S);
    let mut bad = file.clone();
    let at = bad.windows(7).position(|w| w == b"routing").unwrap() + 7 + 8;
    bad[at] = 0xff; // the settings' length: longer than the section
    let body_end = bad.len() - 32;
    let sum = *blake3::hash(&bad[..body_end]).as_bytes();
    bad[body_end..].copy_from_slice(&sum);
    let err = snapshot::restore(&Core::new(BOOT), &bad, 0).unwrap_err();
    assert!(matches!(err, SnapshotError::Family(_)), "{err}");
    assert!(err.to_string().starts_with("bad routing snapshot:"), "{err}");
}

#[test]
fn the_config_file_at_start_up_goes_over_the_snapshot() {
    let (a, open) = routed_core();
    let b = Core::new(BOOT + 15 * S);
    snapshot::restore(&b, &snapshot::encode(&a, 10 * S), 2 * S).unwrap();
    let settings = b.routing.settings_json();
    // The file names gpt with a (now rpm 20) and a new d, and has no router_settings.
    let entry = |id: &str, rpm: u64| json!({"model_name": "gpt", "litellm_params": {"model": format!("openai/{id}"), "rpm": rpm}, "model_info": {"id": id}});
    b.routing.apply_file(&[entry("a", 20), entry("d", 5)], None).unwrap();
    assert_eq!(b.routing.groups().iter().map(|g| g.to_string()).collect::<Vec<_>>(), ["claude", "gpt"], "claude, set by ROUTE.SET, stays");
    let views = list(&b, "gpt", 2 * S);
    assert_eq!(views.iter().map(|v| v["id"].clone()).collect::<Vec<_>>(), [json!("a"), json!("d")], "the file's deployments of gpt");
    assert_eq!((field(&views, "a", "rpm"), field(&views, "a", "rpm_used"), field(&views, "a", "in_flight")), (json!(20), json!(5), json!(2)), "a keeps its live state");
    assert_eq!(b.routing.settings_json(), settings, "no router_settings in the file: the saved ones stay");
    assert!(done(&b, &open[0], 200, 1.0, 2 * S), "leases of a surviving deployment stay valid");
    b.routing.apply_file(&[entry("a", 20)], Some(&json!({"routing_strategy": "least-busy"}))).unwrap();
    assert_eq!(b.routing.settings_json(), json!({"routing_strategy": "least-busy"}), "the file's router_settings win");
}
