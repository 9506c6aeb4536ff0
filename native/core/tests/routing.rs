//! Integration tests of the routing domain (issue #11), through the public API only.

use serde_json::{Value, json};
use sluice_core::routing::{Outcome, PickRequest, RefusalKind, Router, Strategy, Tokens};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Monotonic 0 is this Unix time (ms): the start of a UTC day, so tests know where windows end.
const T0_MS: u64 = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000;
const MS: u64 = 1_000_000;

fn router(settings: Value) -> Router {
    let r = Router::with_seed((T0_MS * MS) as i64, 42);
    r.set_settings(&settings).unwrap();
    r
}

fn dep(id: &str, params: Value) -> Value {
    let mut p = json!({"model": format!("openai/{id}")});
    for (k, v) in params.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!({"litellm_params": p, "model_info": {"id": id}})
}

fn pick(
    r: &Router,
    group: &str,
    now: u64,
) -> Result<sluice_core::routing::Pick, sluice_core::routing::Refusal> {
    r.pick(
        &PickRequest {
            group,
            ..Default::default()
        },
        now,
    )
}

fn picked_id(r: &Router, group: &str, now: u64) -> String {
    pick(r, group, now)
        .map(|p| p.deployment.id.to_string())
        .unwrap_or_else(|e| panic!("{}", e.message()))
}

fn ok() -> Outcome {
    Outcome::default()
}

fn status(code: u16) -> Outcome {
    Outcome {
        status: code,
        ..Outcome::default()
    }
}

fn view(r: &Router, group: &str, id: &str, now: u64) -> sluice_core::routing::DeploymentView {
    r.list(group, now)
        .unwrap()
        .into_iter()
        .find(|v| &*v.deployment.id == id)
        .unwrap()
}

// ---- ids and secrets -------------------------------------------------------------------------

/// Ids computed by litellm 1.110.2 itself: `Router(model_list=...)` in a venv
/// (`pip install litellm==1.110.2`), read back from `get_model_list()[i]["model_info"]["id"]`.
#[test]
fn derived_ids_equal_litellm_1_110_2() {
    let vectors = [
        (
            r#"{"model_name":"gpt-4o","litellm_params":{"model":"azure/gpt-4o-eu","api_base":"https://eu.example.com","api_key":"sk-secret-1","rpm":600,"tpm":100000,"weight":2,"order":1,"tags":["eu","paid"]}}"#,
            "32eb7ac81964f36abbccb119fa0aa167a423e1ea74d55553c5edd268f00ab08a",
        ),
        (
            r#"{"model_name":"gpt-4o","litellm_params":{"model":"openai/gpt-4o","api_key":"sk-x","input_cost_per_token":2.5e-06,"output_cost_per_token":0.00001,"max_parallel_requests":20,"stream":true,"timeout":null}}"#,
            "27bf34defab8835d16e00d8e458da0489332eeb678c4c24a878c6167774dd652",
        ),
        (
            r#"{"model_name":"claude","litellm_params":{"model":"anthropic/claude-3-5-sonnet","rpm":"60","weight":0.5,"extra":{"a":[1,2.0,"x"],"b":"é"}}}"#,
            "3c40decb144f71cfb215160e2d2386a84e07d5e912efe5a4e88e274b3f489391",
        ),
        (
            r#"{"model_name":"claude","litellm_params":{"model":"bedrock/claude","aws_region_name":"us-east-1","aws_secret_access_key":"s3cr3t","tags":["it's","b\\c"],"budget_duration":"1d","max_budget":10.0}}"#,
            "ecc1b0537ef0573bffa2d280c7d41dec5910ce2b91b0e00d2d9fe7a6d3f853f2",
        ),
        (
            r#"{"model_name":"m","litellm_params":{"model":"openai/m"}}"#,
            "4f8125bd073d0d08142e00dbaeee9b7b4970519e2cc6150b45199edad6e21694",
        ),
        // api_key was "os.environ/MY_KEY" with MY_KEY=sk-from-env: LiteLLM hashes the resolved value.
        (
            r#"{"model_name":"gpt-4o","litellm_params":{"model":"azure/gpt-4o","api_key":"sk-from-env","api_version":"2024-06-01","rpm":1e16,"x":-0.0001,"y":[true,null,1.5e-07]}}"#,
            "0adadfff1590bce1ab9e2e3fed95f279e57cd21fae401a3481eb4b23a71ac157",
        ),
    ];
    for (entry, want) in vectors {
        let v: Value = serde_json::from_str(entry).unwrap();
        let group = v["model_name"].as_str().unwrap();
        // x = -0.0001 is not a routing field, so it is hashed but never range-checked.
        let d = sluice_core::routing::parse_deployment(group, &v).unwrap();
        assert_eq!(&*d.id, want, "{entry}");
    }
}

#[test]
fn no_secret_survives_parse() {
    let r = router(
        json!({"redis_password": "SECRET-redis", "routing_strategy": "least-busy",
        "cache_kwargs": {"password": "SECRET-cache"}}),
    );
    let secrets = [
        "SECRET-key",
        "SECRET-aws",
        "SECRET-akid",
        "SECRET-session",
        "SECRET-ad",
        "SECRET-client",
        "SECRET-vertex",
        "SECRET-redis",
        "SECRET-cache",
    ];
    r.set(
        "g",
        &[json!({"model_name": "g", "litellm_params": {
        "model": "azure/x", "api_key": "SECRET-key", "aws_secret_access_key": "SECRET-aws",
        "aws_access_key_id": "SECRET-akid", "aws_session_token": "SECRET-session",
        "azure_ad_token": "SECRET-ad", "client_secret": "SECRET-client",
        "vertex_credentials": "SECRET-vertex", "api_base": "https://x"}})],
    )
    .unwrap();
    let p = pick(&r, "g", 0).unwrap();
    let mut dump = format!("{:?}\n{:?}\n{}\n", p, r.settings(), r.settings_json());
    for v in r.list("g", 0).unwrap() {
        dump.push_str(&v.to_json().to_string());
        dump.push_str(&format!("{v:?}"));
    }
    for s in secrets {
        assert!(!dump.contains(s), "{s} leaked: {dump}");
    }
    assert!(dump.contains("https://x"), "the dump has the deployment");
    assert_eq!(r.settings().strategy, Strategy::LeastBusy);
}

// ---- strategies ------------------------------------------------------------------------------

#[test]
fn weighted_shuffle_follows_weights() {
    let r = router(json!({}));
    r.set(
        "g",
        &[
            dep("a", json!({"weight": 1})),
            dep("b", json!({"weight": 2})),
            dep("c", json!({"weight": 7})),
        ],
    )
    .unwrap();
    let n = 40_000u32;
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..n {
        let p = pick(&r, "g", i as u64).unwrap();
        *counts.entry(p.deployment.id.to_string()).or_default() += 1;
        assert!(r.done(&p.lease(), &ok(), i as u64).unwrap());
    }
    for (id, w) in [("a", 0.1), ("b", 0.2), ("c", 0.7)] {
        let got = counts[id] as f64;
        let mean = n as f64 * w;
        let sd = (n as f64 * w * (1.0 - w)).sqrt();
        assert!(
            (got - mean).abs() < 5.0 * sd,
            "{id}: {got} vs {mean} ± {sd}"
        );
    }
}

#[test]
fn shuffle_falls_back_to_rpm_then_uniform() {
    let r = router(json!({}));
    r.set(
        "g",
        &[
            dep("a", json!({"rpm": 1_000_000})),
            dep("b", json!({"rpm": 3_000_000})),
        ],
    )
    .unwrap();
    let mut b = 0;
    for i in 0..8000 {
        let p = pick(&r, "g", i).unwrap();
        b += (&*p.deployment.id == "b") as u32;
        r.done(&p.lease(), &ok(), i).unwrap();
    }
    assert!((5700..6300).contains(&b), "b got {b} of 8000 at 3:1 rpm");
    let r = router(json!({}));
    r.set("u", &[dep("x", json!({})), dep("y", json!({}))])
        .unwrap();
    let mut x = 0;
    for i in 0..4000 {
        let p = pick(&r, "u", i).unwrap();
        x += (&*p.deployment.id == "x") as u32;
        r.done(&p.lease(), &ok(), i).unwrap();
    }
    assert!((1800..2200).contains(&x), "x got {x} of 4000 uniform");
}

#[test]
fn least_busy_spreads_ties_and_never_goes_negative() {
    let r = router(json!({"routing_strategy": "least-busy"}));
    r.set(
        "g",
        &(0..4)
            .map(|i| dep(&format!("d{i}"), json!({})))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // Held leases: always the least busy, so 400 picks land 100 each.
    let leases: Vec<_> = (0..400).map(|i| pick(&r, "g", i).unwrap()).collect();
    for v in r.list("g", 0).unwrap() {
        assert_eq!(v.in_flight, 100);
    }
    for p in &leases {
        assert!(r.done(&p.lease(), &ok(), 500).unwrap());
        assert!(
            !r.done(&p.lease(), &ok(), 500).unwrap(),
            "a lease done twice counts once"
        );
    }
    for v in r.list("g", 0).unwrap() {
        assert_eq!(v.in_flight, 0);
    }
    // All idle: ties broken at random, not always the first.
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..4000 {
        let p = pick(&r, "g", 1000 + i).unwrap();
        *counts.entry(p.deployment.id.to_string()).or_default() += 1;
        r.done(&p.lease(), &ok(), 1000 + i).unwrap();
    }
    assert_eq!(counts.len(), 4);
    assert!(
        counts.values().all(|&c| (850..1150).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn usage_based_picks_lowest_tpm_this_minute() {
    let r = router(json!({"routing_strategy": "usage-based-routing-v2"}));
    r.set(
        "g",
        &[
            dep("a", json!({"tpm": 100_000})),
            dep("b", json!({"tpm": 100_000})),
        ],
    )
    .unwrap();
    let p = r
        .pick(
            &PickRequest {
                group: "g",
                tokens: 5000,
                ..Default::default()
            },
            0,
        )
        .unwrap();
    let other = if &*p.deployment.id == "a" { "b" } else { "a" };
    for _ in 0..5 {
        let q = r
            .pick(
                &PickRequest {
                    group: "g",
                    tokens: 100,
                    ..Default::default()
                },
                0,
            )
            .unwrap();
        assert_eq!(&*q.deployment.id, other);
        r.done(&q.lease(), &ok(), 0).unwrap();
    }
    // The strategy can be chosen per pick.
    let s = r
        .pick(
            &PickRequest {
                group: "g",
                strategy: Some(Strategy::UsageBased),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    assert_eq!(&*s.deployment.id, other);
}

#[test]
fn latency_based_prefers_fast_and_untried() {
    let r = router(json!({"routing_strategy": "latency-based-routing"}));
    r.set("g", &[dep("fast", json!({})), dep("slow", json!({}))])
        .unwrap();
    // Give each one sample: slow 100 ms/token, fast 10 ms/token.
    let mut seen = HashMap::new();
    for i in 0..2 {
        let p = pick(&r, "g", i).unwrap();
        let id = p.deployment.id.to_string();
        let ms = if id == "fast" { 1000.0 } else { 10_000.0 };
        let out = Outcome {
            latency_ms: Some(ms),
            tokens: Tokens::Split {
                input: 10,
                output: 100,
            },
            ..ok()
        };
        r.done(&p.lease(), &out, i).unwrap();
        seen.insert(id, ());
    }
    assert_eq!(seen.len(), 2, "a deployment without samples counts as best");
    for i in 0..50 {
        let p = pick(&r, "g", 10 + i).unwrap();
        assert_eq!(&*p.deployment.id, "fast");
        r.done(&p.lease(), &ok(), 10 + i).unwrap();
    }
    assert_eq!(view(&r, "g", "slow", 100).latency_ms, Some(100.0));
    // Samples expire after the TTL (default 1 h): slow has none then and counts as best.
    let later = 3_601_000 * MS;
    assert_eq!(view(&r, "g", "slow", later).latency_ms, None);
    // A timeout adds LiteLLM's 1000 s penalty.
    let p = r
        .pick(
            &PickRequest {
                group: "g",
                exclude: &["slow"],
                ..Default::default()
            },
            later,
        )
        .unwrap();
    r.done(&p.lease(), &status(408), later).unwrap();
    assert_eq!(view(&r, "g", "fast", later).latency_ms, Some(1_000_000.0));
}

#[test]
fn latency_buffer_spreads_near_best() {
    let r = router(
        json!({"routing_strategy": "latency-based-routing", "routing_strategy_args": {"lowest_latency_buffer": 0.5}}),
    );
    r.set(
        "g",
        &[
            dep("a", json!({})),
            dep("b", json!({})),
            dep("c", json!({})),
        ],
    )
    .unwrap();
    for (id, ms) in [("a", 100.0), ("b", 140.0), ("c", 400.0)] {
        let mut p = pick(&r, "g", 0).unwrap();
        while &*p.deployment.id != id {
            r.done(&p.lease(), &ok(), 0).unwrap();
            p = pick(&r, "g", 0).unwrap();
        }
        r.done(
            &p.lease(),
            &Outcome {
                latency_ms: Some(ms),
                ..ok()
            },
            0,
        )
        .unwrap();
    }
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..2000 {
        let p = pick(&r, "g", i).unwrap();
        *counts.entry(p.deployment.id.to_string()).or_default() += 1;
        r.done(&p.lease(), &ok(), i).unwrap();
    }
    assert!(!counts.contains_key("c"), "{counts:?}");
    assert!(counts["a"] > 800 && counts["b"] > 800, "{counts:?}");
}

#[test]
fn cost_based_picks_cheapest() {
    let r = router(json!({"routing_strategy": "cost-based-routing"}));
    r.set("g", &[
        dep("dear", json!({"input_cost_per_token": 0.00001, "output_cost_per_token": 0.00003})),
        json!({"litellm_params": {"model": "openai/cheap", "rpm": 2}, "model_info": {"id": "cheap", "input_cost_per_token": "1e-7", "output_cost_per_token": 2e-7}}),
    ]).unwrap();
    assert_eq!(picked_id(&r, "g", 0), "cheap");
    assert_eq!(picked_id(&r, "g", 0), "cheap");
    // cheap is at its rpm: the next cheapest with headroom.
    assert_eq!(picked_id(&r, "g", 0), "dear");
}

// ---- limits ----------------------------------------------------------------------------------

#[test]
fn rpm_tpm_parallel_hold_under_concurrent_threads() {
    for strategy in Strategy::ALL {
        let r = Arc::new(router(json!({"routing_strategy": strategy.name()})));
        r.set(
            "g",
            &[
                dep("a", json!({"rpm": 300, "max_parallel_requests": 3})),
                dep("b", json!({"tpm": 20_000, "max_parallel_requests": 5})),
                dep(
                    "c",
                    json!({"rpm": 200, "tpm": 15_000, "max_parallel_requests": 2}),
                ),
            ],
        )
        .unwrap();
        let in_flight: Arc<HashMap<&str, AtomicI64>> = Arc::new(
            [
                ("a", AtomicI64::new(0)),
                ("b", AtomicI64::new(0)),
                ("c", AtomicI64::new(0)),
            ]
            .into_iter()
            .collect(),
        );
        let max = [("a", 3), ("b", 5), ("c", 2)];
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let r = r.clone();
                let in_flight = in_flight.clone();
                std::thread::spawn(move || {
                    let mut picked: Vec<(String, u64)> = Vec::new();
                    for i in 0..1000u64 {
                        let tokens = 10 + (i * 7 + t) % 90;
                        // All in one minute: now stays below 60 s.
                        match r.pick(
                            &PickRequest {
                                group: "g",
                                tokens,
                                ..Default::default()
                            },
                            i * MS,
                        ) {
                            Ok(p) => {
                                let id = p.deployment.id.to_string();
                                let n = in_flight[id.as_str()].fetch_add(1, Ordering::SeqCst) + 1;
                                let limit = max.iter().find(|(d, _)| *d == id).unwrap().1;
                                assert!(n <= limit, "{id} has {n} in flight, max {limit}");
                                std::thread::yield_now();
                                in_flight[id.as_str()].fetch_sub(1, Ordering::SeqCst);
                                r.done(&p.lease(), &ok(), i * MS).unwrap();
                                picked.push((id, tokens));
                            }
                            Err(e) => assert_eq!(e.kind, RefusalKind::Busy, "{}", e.message()),
                        }
                    }
                    picked
                })
            })
            .collect();
        let mut requests: HashMap<String, u64> = HashMap::new();
        let mut tokens: HashMap<String, u64> = HashMap::new();
        for t in threads {
            for (id, n) in t.join().unwrap() {
                *requests.entry(id.clone()).or_default() += 1;
                *tokens.entry(id).or_default() += n;
            }
        }
        assert!(
            requests.get("a").copied().unwrap_or(0) <= 300,
            "{strategy:?} a {requests:?}"
        );
        assert!(
            requests.get("c").copied().unwrap_or(0) <= 200,
            "{strategy:?} c {requests:?}"
        );
        assert!(
            tokens.get("b").copied().unwrap_or(0) <= 20_000,
            "{strategy:?} b {tokens:?}"
        );
        assert!(
            tokens.get("c").copied().unwrap_or(0) <= 15_000,
            "{strategy:?} c {tokens:?}"
        );
        let total: u64 = requests.values().sum();
        assert!(total >= 500, "{strategy:?}: only {total} picks served");
        for v in r.list("g", 0).unwrap() {
            assert_eq!(v.in_flight, 0);
        }
    }
}

#[test]
fn rpm_reopens_next_minute_and_says_when() {
    let r = router(json!({}));
    r.set("g", &[dep("a", json!({"rpm": 2}))]).unwrap();
    let now = 15_000 * MS; // 15 s into the minute
    for _ in 0..2 {
        let p = pick(&r, "g", now).unwrap();
        r.done(&p.lease(), &ok(), now).unwrap();
    }
    let e = pick(&r, "g", now).unwrap_err();
    assert_eq!(
        (e.kind, e.at_rpm, e.retry_ms),
        (RefusalKind::Busy, 1, Some(45_000))
    );
    assert!(
        e.message().contains("(1 at rpm limit); retry in 45000 ms"),
        "{}",
        e.message()
    );
    assert_eq!(r.next_change_ms("g", now), Some(45_000));
    assert!(pick(&r, "g", 60_000 * MS).is_ok());
}

#[test]
fn tpm_counts_request_tokens_and_settles_real_ones() {
    let r = router(json!({}));
    r.set("g", &[dep("a", json!({"tpm": 1000}))]).unwrap();
    let p = r
        .pick(
            &PickRequest {
                group: "g",
                tokens: 900,
                ..Default::default()
            },
            0,
        )
        .unwrap();
    let e = r
        .pick(
            &PickRequest {
                group: "g",
                tokens: 200,
                ..Default::default()
            },
            0,
        )
        .unwrap_err();
    assert_eq!(e.at_tpm, 1);
    // The real request used 300: 700 left.
    r.done(
        &p.lease(),
        &Outcome {
            tokens: Tokens::Split {
                input: 250,
                output: 50,
            },
            ..ok()
        },
        0,
    )
    .unwrap();
    assert_eq!(view(&r, "g", "a", 0).tpm_used, 300);
    assert!(
        r.pick(
            &PickRequest {
                group: "g",
                tokens: 700,
                ..Default::default()
            },
            0
        )
        .is_ok()
    );
    // A request larger than the whole tpm can never fit: no retry.
    let e = r
        .pick(
            &PickRequest {
                group: "g",
                tokens: 5000,
                ..Default::default()
            },
            0,
        )
        .unwrap_err();
    assert_eq!(e.retry_ms, None, "{}", e.message());
    assert!(e.message().ends_with("; no retry"));
}

#[test]
fn default_max_parallel_requests_applies() {
    let r = router(json!({"default_max_parallel_requests": 2}));
    r.set("g", &[dep("a", json!({}))]).unwrap();
    let _a = pick(&r, "g", 0).unwrap();
    let _b = pick(&r, "g", 0).unwrap();
    let e = pick(&r, "g", 0).unwrap_err();
    assert_eq!(e.at_parallel, 1);
    assert_eq!(e.retry_ms, Some(600_000), "the first lease expiry");
}

#[test]
fn lower_order_tier_first() {
    let r = router(json!({"enable_pre_call_checks": true}));
    r.set(
        "g",
        &[
            dep("backup", json!({"order": 2})),
            dep("main1", json!({"order": 1, "rpm": 1})),
            dep("main2", json!({"order": 1, "rpm": 1})),
            dep("none", json!({})),
        ],
    )
    .unwrap();
    let mut first = vec![picked_id(&r, "g", 0), picked_id(&r, "g", 0)];
    first.sort();
    assert_eq!(first, ["main1", "main2"]);
    assert_eq!(picked_id(&r, "g", 0), "backup");
    assert!(r.cooldown("g", "backup", 1000, 0));
    assert_eq!(
        picked_id(&r, "g", 0),
        "none",
        "deployments without order come last"
    );
}

// ---- fallbacks -------------------------------------------------------------------------------

#[test]
fn fallbacks_serve_when_group_has_no_room() {
    let r = router(
        json!({"fallbacks": [{"gpt-4o": ["busy", "gpt-4o-mini"]}], "model_group_alias": {"gpt4": "gpt-4o"}}),
    );
    r.set("gpt-4o", &[dep("a", json!({"rpm": 1}))]).unwrap();
    r.set("busy", &[dep("b", json!({"rpm": 0}))]).unwrap();
    r.set("gpt-4o-mini", &[dep("m", json!({}))]).unwrap();
    let p = pick(&r, "gpt4", 0).unwrap();
    assert_eq!(
        (&*p.group, p.fallback_from.is_none()),
        ("gpt-4o", true),
        "alias resolves"
    );
    r.done(&p.lease(), &ok(), 0).unwrap();
    let p = pick(&r, "gpt-4o", 0).unwrap();
    assert_eq!(&*p.group, "gpt-4o-mini");
    assert_eq!(p.fallback_from.as_deref(), Some("gpt-4o"));
    assert!(p.lease().starts_with("{gpt-4o-mini}:"));
    // max_fallbacks 1: only "busy" is tried.
    r.set_settings(
        &json!({"fallbacks": [{"gpt-4o": ["busy", "gpt-4o-mini"]}], "max_fallbacks": 1}),
    )
    .unwrap();
    let e = pick(&r, "gpt-4o", 0).unwrap_err();
    assert_eq!(e.tried_fallbacks, ["busy"]);
    assert_eq!(e.retry_ms, Some(60_000));
    // default_fallbacks when the group has no entry of its own.
    r.set_settings(&json!({"default_fallbacks": ["gpt-4o-mini"]}))
        .unwrap();
    assert_eq!(&*pick(&r, "gpt-4o", 0).unwrap().group, "gpt-4o-mini");
}

#[test]
fn context_window_fallbacks() {
    let r = router(
        json!({"enable_pre_call_checks": true, "context_window_fallbacks": [{"small": ["large"]}], "fallbacks": [{"small": ["other"]}]}),
    );
    r.set("small", &[json!({"litellm_params": {"model": "openai/s"}, "model_info": {"id": "s", "max_input_tokens": 8000}})]).unwrap();
    r.set("large", &[json!({"litellm_params": {"model": "openai/l"}, "model_info": {"id": "l", "max_input_tokens": 128000}})]).unwrap();
    r.set("other", &[dep("o", json!({}))]).unwrap();
    let req = |tokens| PickRequest {
        group: "small",
        tokens,
        ..Default::default()
    };
    assert_eq!(&*r.pick(&req(1000), 0).unwrap().deployment.id, "s");
    let p = r.pick(&req(50_000), 0).unwrap();
    assert_eq!(
        (&*p.group, p.fallback_from.as_deref()),
        ("large", Some("small"))
    );
    let e = r.pick(&req(500_000), 0).unwrap_err();
    assert_eq!(
        (e.kind, e.retry_ms),
        (RefusalKind::ContextTooLarge, None),
        "{}",
        e.message()
    );
    // Without pre-call checks the context window is not checked.
    r.set_settings(&json!({})).unwrap();
    assert_eq!(&*r.pick(&req(500_000), 0).unwrap().deployment.id, "s");
}

// ---- cooldowns -------------------------------------------------------------------------------

fn fail(r: &Router, group: &str, id: &str, code: u16, now: u64) {
    let p = r
        .pick(
            &PickRequest {
                group,
                ..Default::default()
            },
            now,
        )
        .unwrap();
    assert_eq!(&*p.deployment.id, id);
    assert!(r.done(&p.lease(), &status(code), now).unwrap());
}

fn cooling(r: &Router, group: &str, id: &str, now: u64) -> u64 {
    view(r, group, id, now).cooldown_ms
}

fn one_of_two(settings: Value) -> Router {
    let r = router(settings);
    r.set("g", &[dep("a", json!({})), dep("b", json!({}))])
        .unwrap();
    // Pin picks to "a" by cooling "b" by hand; lift it before checking.
    r
}

#[test]
fn cooldown_v2_rules_without_allowed_fails() {
    // 429 in a multi-deployment group: at once, for the default 5 s.
    let r = one_of_two(json!({}));
    r.cooldown("g", "b", 60_000, 0);
    fail(&r, "g", "a", 429, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 5000);
    let e = r
        .pick(
            &PickRequest {
                group: "g",
                ..Default::default()
            },
            0,
        )
        .unwrap_err();
    assert_eq!((e.cooling, e.retry_ms), (2, Some(5000)));
    assert!(pick(&r, "g", 5000 * MS).is_ok(), "back after the cooldown");

    // Statuses that never cool: other 4xx (400, 403, 422).
    for code in [400, 403, 422] {
        let r = one_of_two(json!({}));
        r.cooldown("g", "b", 60_000, 0);
        fail(&r, "g", "a", code, 0);
        assert_eq!(cooling(&r, "g", "a", 0), 0, "{code}");
    }
    // Not retryable by LiteLLM: 401, 402 (multi), 404 cool at once.
    for code in [401, 402, 404] {
        let r = one_of_two(json!({}));
        r.cooldown("g", "b", 60_000, 0);
        fail(&r, "g", "a", code, 0);
        assert_eq!(cooling(&r, "g", "a", 0), 5000, "{code}");
    }
    // Retryable 5xx/408: one failure does not cool...
    for code in [408, 500, 503] {
        let r = one_of_two(json!({}));
        r.cooldown("g", "b", 60_000, 0);
        fail(&r, "g", "a", code, 0);
        assert_eq!(cooling(&r, "g", "a", 0), 0, "{code}");
    }
    // ...but more than 50% failures over at least 5 requests in the minute does.
    let r = one_of_two(json!({}));
    r.cooldown("g", "b", 60_000, 0);
    for _ in 0..2 {
        let p = pick(&r, "g", 0).unwrap();
        r.done(&p.lease(), &ok(), 0).unwrap();
    }
    fail(&r, "g", "a", 500, 0);
    fail(&r, "g", "a", 500, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 0, "2 of 4 failed");
    fail(&r, "g", "a", 500, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 5000, "3 of 5 failed");
}

#[test]
fn single_deployment_group_is_protected() {
    let r = router(json!({}));
    r.set("g", &[dep("a", json!({}))]).unwrap();
    for code in [429, 402, 500, 500, 500, 500, 500, 500] {
        fail(&r, "g", "a", code, 0);
        assert_eq!(cooling(&r, "g", "a", 0), 0, "{code}");
    }
    // A status LiteLLM would not retry still cools it (its source's last rule).
    fail(&r, "g", "a", 401, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 5000);
}

#[test]
fn allowed_fails_counts_within_cooldown_time() {
    let r = one_of_two(json!({"allowed_fails": 2, "cooldown_time": 2}));
    r.cooldown("g", "b", 600_000, 0);
    fail(&r, "g", "a", 429, 0);
    fail(&r, "g", "a", 429, 0);
    assert_eq!(
        cooling(&r, "g", "a", 0),
        0,
        "2 failures allowed, 429 included"
    );
    fail(&r, "g", "a", 500, 0);
    assert_eq!(
        cooling(&r, "g", "a", 0),
        2000,
        "the third cools, for cooldown_time"
    );
    // The counter lives cooldown_time from its first failure.
    let r = one_of_two(json!({"allowed_fails": 1, "cooldown_time": 2}));
    r.cooldown("g", "b", 600_000, 0);
    fail(&r, "g", "a", 500, 0);
    fail(&r, "g", "a", 500, 2500 * MS);
    assert_eq!(cooling(&r, "g", "a", 2500 * MS), 0);
    // Other 4xx never count.
    let r = one_of_two(json!({"allowed_fails": 0}));
    r.cooldown("g", "b", 600_000, 0);
    fail(&r, "g", "a", 400, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 0);
    // A lone deployment (single, no fallbacks) under allowed_fails never cools...
    let r = router(json!({"allowed_fails": 0}));
    r.set("g", &[dep("a", json!({}))]).unwrap();
    fail(&r, "g", "a", 500, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 0);
    // ...unless it has fallbacks.
    r.set_settings(&json!({"allowed_fails": 0, "fallbacks": [{"g": ["h"]}]}))
        .unwrap();
    fail(&r, "g", "a", 500, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 5000);
}

#[test]
fn allowed_fails_policy_per_kind_and_deployment_overrides() {
    let r = one_of_two(
        json!({"allowed_fails_policy": {"RateLimitErrorAllowedFails": 1, "InternalServerErrorAllowedFails": 5}}),
    );
    r.cooldown("g", "b", 600_000, 0);
    fail(&r, "g", "a", 429, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 0);
    fail(&r, "g", "a", 429, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 5000);
    // Deployment-level: model_info.allowed_fails and cooldown_time (litellm_params).
    let r = router(json!({}));
    r.set("g", &[
        json!({"litellm_params": {"model": "openai/a", "cooldown_time": 30}, "model_info": {"id": "a", "allowed_fails": 1}}),
        dep("b", json!({})),
    ]).unwrap();
    r.cooldown("g", "b", 600_000, 0);
    fail(&r, "g", "a", 429, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 0, "deployment allows one failure");
    fail(&r, "g", "a", 429, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 30_000);
    // A deployment policy naming BadRequest makes a 400 count.
    let r = router(json!({}));
    r.set("g", &[
        json!({"litellm_params": {"model": "openai/a"}, "model_info": {"id": "a", "allowed_fails_policy": {"BadRequestErrorAllowedFails": 0}}}),
        dep("b", json!({})),
    ]).unwrap();
    r.cooldown("g", "b", 600_000, 0);
    fail(&r, "g", "a", 400, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 5000);
}

#[test]
fn disable_cooldowns_and_manual_cooldown() {
    let r = one_of_two(json!({"disable_cooldowns": true}));
    r.cooldown("g", "b", 600_000, 0);
    fail(&r, "g", "a", 429, 0);
    fail(&r, "g", "a", 401, 0);
    assert_eq!(cooling(&r, "g", "a", 0), 0);
    // By hand: cools, and 0 lifts it.
    assert!(r.cooldown("g", "a", 1234, 0));
    assert_eq!(cooling(&r, "g", "a", 0), 1234);
    assert!(r.cooldown("g", "a", 0, 0));
    assert_eq!(cooling(&r, "g", "a", 0), 0);
    assert!(!r.cooldown("g", "nope", 10, 0));
    assert!(!r.cooldown("nope", "a", 10, 0));
}

// ---- leases ----------------------------------------------------------------------------------

#[test]
fn lease_expiry_frees_slots() {
    let r = router(json!({}));
    r.set(
        "{tenant}.gpt",
        &[dep("a", json!({"max_parallel_requests": 1}))],
    )
    .unwrap();
    let p = r
        .pick(
            &PickRequest {
                group: "{tenant}.gpt",
                ttl_ms: Some(1000),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    assert!(p.lease().starts_with("{tenant}:"), "{}", p.lease());
    let e = pick(&r, "{tenant}.gpt", 200 * MS).unwrap_err();
    assert_eq!((e.at_parallel, e.retry_ms), (1, Some(800)));
    assert!(r.sweep(999 * MS).is_empty());
    assert_eq!(r.sweep(1000 * MS), vec![Arc::<str>::from("{tenant}.gpt")]);
    assert_eq!(r.open_leases(), 0);
    assert_eq!(view(&r, "{tenant}.gpt", "a", 1000 * MS).in_flight, 0);
    assert!(
        !r.done(&p.lease(), &ok(), 1000 * MS).unwrap(),
        "an expired lease is gone"
    );
    assert!(pick(&r, "{tenant}.gpt", 1000 * MS).is_ok());
    // A lease of another group's tag, or with a wrong tag, is not ours.
    assert!(!r.done("{other}:1", &ok(), 0).unwrap());
}

// ---- reload, set, delete ---------------------------------------------------------------------

#[test]
fn reload_keeps_live_state_of_surviving_ids() {
    let r = router(json!({}));
    r.set(
        "g",
        &[dep("a", json!({"rpm": 10})), dep("b", json!({"rpm": 10}))],
    )
    .unwrap();
    let p = r
        .pick(
            &PickRequest {
                group: "g",
                exclude: &["b"],
                ..Default::default()
            },
            0,
        )
        .unwrap();
    r.cooldown("g", "b", 9000, 0);
    let list = |ids: &[&str], rpm: u64| -> Vec<Value> {
        ids.iter().map(|id| json!({"model_name": "g", "litellm_params": {"model": format!("openai/{id}"), "rpm": rpm}, "model_info": {"id": id}})).collect()
    };
    r.reload(
        &list(&["a", "b", "c"], 20),
        &json!({"routing_strategy": "least-busy"}),
    )
    .unwrap();
    let a = view(&r, "g", "a", 0);
    assert_eq!(
        (a.in_flight, a.rpm_used, a.deployment.rpm),
        (1, 1, Some(20))
    );
    assert_eq!(view(&r, "g", "b", 0).cooldown_ms, 9000);
    assert_eq!(view(&r, "g", "c", 0).in_flight, 0);
    assert!(
        r.done(&p.lease(), &ok(), 0).unwrap(),
        "leases survive a reload"
    );
    assert_eq!(view(&r, "g", "a", 0).in_flight, 0);
    // ROUTE.SET replacing an id keeps its state too.
    let q = r
        .pick(
            &PickRequest {
                group: "g",
                exclude: &["b", "c"],
                ..Default::default()
            },
            0,
        )
        .unwrap();
    r.set(
        "g",
        &[json!({"litellm_params": {"model": "openai/a2", "rpm": 5}, "model_info": {"id": "a"}})],
    )
    .unwrap();
    let a = view(&r, "g", "a", 0);
    assert_eq!((a.in_flight, a.deployment.model.as_str()), (1, "openai/a2"));
    r.done(&q.lease(), &ok(), 0).unwrap();
    // Gone ids and groups go.
    r.reload(&list(&["c"], 20), &json!({})).unwrap();
    assert_eq!(r.list("g", 0).unwrap().len(), 1);
    assert_eq!(r.settings().strategy, Strategy::SimpleShuffle);
    assert_eq!(r.delete("g", &["c"]), 1);
    assert!(r.groups().is_empty());
}

#[test]
fn set_replace_makes_the_group_exactly_the_given_deployments() {
    let r = router(json!({}));
    r.set("g", &[dep("a", json!({})), dep("b", json!({})), dep("c", json!({}))])
        .unwrap();
    r.set("other", &[dep("o", json!({}))]).unwrap();
    let on_a = r
        .pick(&PickRequest { group: "g", exclude: &["b", "c"], ..Default::default() }, 0)
        .unwrap();
    let on_c = r
        .pick(&PickRequest { group: "g", exclude: &["a", "b"], ..Default::default() }, 0)
        .unwrap();
    r.cooldown("g", "b", 9000, 0);
    // Plain ROUTE.SET only adds or replaces: "c" stays.
    r.set("g", &[dep("a", json!({})), dep("b", json!({}))]).unwrap();
    assert_eq!(r.list("g", 0).unwrap().len(), 3);
    // REPLACE: exactly a (new model string) and b, in the order given; "c" is gone.
    let ids = r
        .replace("g", &[dep("b", json!({})), json!({"litellm_params": {"model": "openai/a2"}, "model_info": {"id": "a"}})])
        .unwrap();
    assert_eq!(ids.iter().map(|id| id.to_string()).collect::<Vec<_>>(), ["b", "a"]);
    let listed: Vec<String> = r.list("g", 0).unwrap().iter().map(|v| v.deployment.id.to_string()).collect();
    assert_eq!(listed, ["b", "a"]);
    let a = view(&r, "g", "a", 0);
    assert_eq!((a.in_flight, a.rpm_used, a.deployment.model.as_str()), (1, 1, "openai/a2"), "a keeps its live state");
    assert_eq!(view(&r, "g", "b", 0).cooldown_ms, 9000, "b keeps its cooldown");
    for i in 0..200 {
        assert_eq!(picked_id(&r, "g", i), "a", "b cools down and c is gone: only a is picked");
    }
    assert!(r.done(&on_a.lease(), &ok(), 0).unwrap(), "a's open lease survives");
    assert!(r.done(&on_c.lease(), &ok(), 0).unwrap(), "c's lease can still be settled");
    assert_eq!(r.list("other", 0).unwrap().len(), 1, "other groups are untouched");
    // A bad entry changes nothing; REPLACE of an unknown group creates it.
    assert!(r.replace("g", &[dep("z", json!({})), json!({"litellm_params": {}})]).is_err());
    assert_eq!(r.list("g", 0).unwrap().len(), 2);
    r.replace("new", &[dep("n", json!({}))]).unwrap();
    assert_eq!(picked_id(&r, "new", 0), "n");
}

#[test]
fn thousand_deployment_group_loads_and_picks() {
    let r = router(json!({"routing_strategy": "least-busy"}));
    let list: Vec<Value> = (0..1000)
        .map(|i| json!({"model_name": "big", "litellm_params": {"model": format!("azure/d{i}"), "api_base": format!("https://d{i}.example.com"), "api_key": "sk-x", "rpm": 100, "tpm": 100000}}))
        .collect();
    r.reload(&list, &json!({"routing_strategy": "least-busy"}))
        .unwrap();
    let views = r.list("big", 0).unwrap();
    assert_eq!(views.len(), 1000);
    let ids: std::collections::HashSet<_> = views.iter().map(|v| v.deployment.id.clone()).collect();
    assert_eq!(ids.len(), 1000, "derived ids are distinct");
    let leases: Vec<_> = (0..1000).map(|_| pick(&r, "big", 0).unwrap()).collect();
    let busy: Vec<u64> = r
        .list("big", 0)
        .unwrap()
        .iter()
        .map(|v| v.in_flight)
        .filter(|&n| n != 1)
        .collect();
    assert!(
        busy.is_empty(),
        "least-busy spread 1000 picks over 1000: {busy:?}"
    );
    for p in leases {
        r.done(&p.lease(), &ok(), 0).unwrap();
    }
    assert_eq!(r.groups(), vec![Arc::<str>::from("big")]);
}

#[test]
fn tag_filtering() {
    let r = router(json!({"enable_tag_filtering": true}));
    r.set(
        "g",
        &[
            dep("eu", json!({"tags": ["eu", "paid"]})),
            dep("us", json!({"tags": ["us"]})),
            dep("any", json!({})),
        ],
    )
    .unwrap();
    let tagged = |tags: &[&str]| {
        r.pick(
            &PickRequest {
                group: "g",
                tags,
                ..Default::default()
            },
            0,
        )
    };
    for _ in 0..20 {
        assert_eq!(&*tagged(&["eu"]).unwrap().deployment.id, "eu");
    }
    let e = tagged(&["asia"]).unwrap_err();
    assert_eq!(e.kind, RefusalKind::NoDeploymentWithTags);
    // A `default`-tagged deployment serves untagged requests and unmatched tags.
    r.set("g", &[dep("any", json!({"tags": ["default"]}))])
        .unwrap();
    assert_eq!(&*tagged(&["asia"]).unwrap().deployment.id, "any");
    for _ in 0..20 {
        assert_eq!(&*tagged(&[]).unwrap().deployment.id, "any");
    }
}

// ---- budgets ---------------------------------------------------------------------------------

#[test]
fn budgets_stop_picks_and_reopen_next_window() {
    let r = router(json!({}));
    r.set("g", &[dep("a", json!({"max_budget": 1.0, "budget_duration": "1m", "input_cost_per_token": 0.001, "output_cost_per_token": 0.002}))]).unwrap();
    let p = pick(&r, "g", 0).unwrap();
    r.done(
        &p.lease(),
        &Outcome {
            tokens: Tokens::Split {
                input: 600,
                output: 100,
            },
            ..ok()
        },
        0,
    )
    .unwrap();
    assert!((view(&r, "g", "a", 0).budget_spent - 0.8).abs() < 1e-9);
    let p = pick(&r, "g", 0).unwrap();
    r.done(
        &p.lease(),
        &Outcome {
            tokens: Tokens::Split {
                input: 200,
                output: 0,
            },
            ..ok()
        },
        0,
    )
    .unwrap();
    let e = pick(&r, "g", 10_000 * MS).unwrap_err();
    assert_eq!(
        (e.budget_spent, e.retry_ms),
        (1, Some(50_000)),
        "{}",
        e.message()
    );
    assert!(pick(&r, "g", 60_000 * MS).is_ok(), "a new budget window");

    let r = router(
        json!({"provider_budget_config": {"openai": {"budget_limit": 0.5, "time_period": "1d"}}}),
    );
    r.set("g", &[dep("a", json!({"input_cost_per_token": 0.001}))])
        .unwrap();
    r.set(
        "h",
        &[json!({"litellm_params": {"model": "anthropic/c"}, "model_info": {"id": "c"}})],
    )
    .unwrap();
    let p = pick(&r, "g", 0).unwrap();
    r.done(
        &p.lease(),
        &Outcome {
            tokens: Tokens::Total(500),
            ..ok()
        },
        0,
    )
    .unwrap();
    let e = pick(&r, "g", 3_600_000 * MS).unwrap_err();
    assert_eq!((e.budget_spent, e.retry_ms), (1, Some(23 * 3_600_000)));
    assert!(pick(&r, "h", 0).is_ok(), "other providers unaffected");
    assert!(pick(&r, "g", 86_400_000 * MS).is_ok());
}

// ---- bad input -------------------------------------------------------------------------------

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let r = router(json!({"routing_strategy": "least-busy"}));
    r.set("g", &[dep("a", json!({"rpm": 5}))]).unwrap();
    let before = format!(
        "{:?}",
        r.list("g", 0)
            .unwrap()
            .iter()
            .map(|v| v.to_json())
            .collect::<Vec<_>>()
    );
    let bad = [
        json!("not an object"),
        json!({"litellm_params": {"model": "openai/x", "rpm": -1}}),
        json!({"litellm_params": {"model": "openai/x", "tpm": "lots"}}),
        json!({"litellm_params": {}}),
        json!({"model_name": "other", "litellm_params": {"model": "openai/x"}}),
        json!({"litellm_params": {"model": "openai/x", "budget_duration": "1 fortnight"}}),
        json!({"litellm_params": {"model": "openai/x", "tags": "eu"}}),
    ];
    for b in &bad {
        // A good entry first: the whole call is refused, the good one not added either.
        let err = r.set("g", &[dep("new", json!({})), b.clone()]).unwrap_err();
        assert!(!err.0.is_empty());
    }
    for s in [
        json!({"routing_strategy": "fastest"}),
        json!({"allowed_fails": -2}),
        json!([1]),
        json!({"fallbacks": "x"}),
        json!({"provider_budget_config": {"openai": {"budget_limit": 1}}}),
    ] {
        assert!(r.set_settings(&s).is_err(), "{s}");
    }
    assert!(
        r.reload(&[json!({"litellm_params": {"model": "x"}})], &json!({}))
            .is_err(),
        "model_name missing"
    );
    assert!(r.reload(&[], &json!({"routing_strategy": "nope"})).is_err());
    let after = format!(
        "{:?}",
        r.list("g", 0)
            .unwrap()
            .iter()
            .map(|v| v.to_json())
            .collect::<Vec<_>>()
    );
    assert_eq!(before, after);
    assert_eq!(r.settings().strategy, Strategy::LeastBusy);
    assert_eq!(
        Strategy::parse("Cost-Based-Routing"),
        Some(Strategy::CostBased)
    );
    assert_eq!(Strategy::parse("round-robin"), None);

    // Leases: malformed strings are errors; a bad STATUS/LATENCY is refused and the lease stays open.
    for s in ["", "abc", "{g}:x", "{g}", "g:1"] {
        assert!(r.done(s, &ok(), 0).is_err(), "{s}");
    }
    let p = pick(&r, "g", 0).unwrap();
    assert!(r.done(&p.lease(), &status(99), 0).is_err());
    assert!(
        r.done(
            &p.lease(),
            &Outcome {
                latency_ms: Some(-1.0),
                ..ok()
            },
            0
        )
        .is_err()
    );
    assert!(
        r.done(
            &p.lease(),
            &Outcome {
                latency_ms: Some(f64::NAN),
                ..ok()
            },
            0
        )
        .is_err()
    );
    assert_eq!(view(&r, "g", "a", 0).in_flight, 1);
    assert!(r.done(&p.lease(), &ok(), 0).unwrap());
    assert!(!r.done(&p.lease(), &ok(), 0).unwrap());
    assert_eq!(view(&r, "g", "a", 0).in_flight, 0);

    let e = pick(&r, "missing", 0).unwrap_err();
    assert_eq!(e.kind, RefusalKind::NoSuchGroup);
    assert_eq!(e.message(), "no such group 'missing'");
    assert_eq!(r.delete("missing", &[]), 0);
}

#[test]
fn expiring_leases_under_threads_free_every_slot() {
    let r = Arc::new(router(json!({"routing_strategy": "least-busy"})));
    r.set(
        "g",
        &[
            dep("a", json!({"max_parallel_requests": 4})),
            dep("b", json!({"max_parallel_requests": 4})),
        ],
    )
    .unwrap();
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pickers: Vec<_> = (0..4)
        .map(|_| {
            let (r, clock) = (r.clone(), clock.clone());
            std::thread::spawn(move || {
                let mut served = 0;
                for _ in 0..2000 {
                    let now = clock.fetch_add(MS, Ordering::SeqCst);
                    // Sweeps from every thread at once, as well as from the sweeper below.
                    r.sweep(now);
                    // Never done: every lease must expire (TTL 5 ms) to free its slot.
                    if r.pick(
                        &PickRequest {
                            group: "g",
                            ttl_ms: Some(5),
                            ..Default::default()
                        },
                        now,
                    )
                    .is_ok()
                    {
                        served += 1;
                    }
                    for v in r.list("g", now).unwrap() {
                        assert!(v.in_flight <= 4);
                    }
                }
                served
            })
        })
        .collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sweeper = {
        let (r, clock, stop) = (r.clone(), clock.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                r.sweep(clock.load(Ordering::SeqCst));
                std::thread::yield_now();
            }
        })
    };
    let served: u32 = pickers.into_iter().map(|t| t.join().unwrap()).sum();
    stop.store(true, Ordering::SeqCst);
    sweeper.join().unwrap();
    r.sweep(u64::MAX);
    assert!(
        served > 4000,
        "sweeping freed slots for only {served} picks"
    );
    assert_eq!(r.open_leases(), 0);
    assert!(r.list("g", 0).unwrap().iter().all(|v| v.in_flight == 0));
}
