//! PICK+DONE cost in the Rust core at 10, 100, 1000 and 10000 deployments, every strategy.
//! `cargo bench --manifest-path native/core/Cargo.toml --bench routing` prints a table of ns per
//! pick+done (median of 7 runs, wall and on-CPU). Criterion is not a dependency yet; this is a plain timing loop.

use serde_json::json;
use sluice_core::routing::{Outcome, PickRequest, Router, Strategy, Tokens};
use std::hint::black_box;
use std::time::Instant;

fn group(n: usize, strategy: Strategy) -> Router {
    let r = Router::new(1_800_000_000_000_000_000);
    r.set_settings(&json!({"routing_strategy": strategy.name()}))
        .unwrap();
    let list: Vec<_> = (0..n)
        .map(|i| {
            json!({"model_name": "g", "litellm_params": {
                "model": format!("azure/gpt-4o-{i}"), "api_base": format!("https://d{i}.example.com"),
                "api_key": "sk-x", "rpm": 1_000_000_000u64, "tpm": 1_000_000_000_000u64,
                "weight": 1 + i % 7, "input_cost_per_token": 1e-6 * (1 + i % 13) as f64,
                "output_cost_per_token": 2e-6}})
        })
        .collect();
    r.reload(&list, &json!({"routing_strategy": strategy.name()}))
        .unwrap();
    r
}

/// Nanoseconds this thread has run on a CPU (Linux schedstat): unlike wall time, it does not
/// count the time other processes on this shared machine held the core.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// (wall ns, CPU ns) per pick+done.
fn ns_per_op(r: &Router, iterations: u64, start_ns: &mut u64) -> (f64, f64) {
    let req = PickRequest {
        group: "g",
        tokens: 100,
        ..Default::default()
    };
    let cpu = thread_cpu_ns();
    let t = Instant::now();
    for _ in 0..iterations {
        *start_ns += 1_000;
        let p = r.pick(black_box(&req), *start_ns).unwrap();
        let out = Outcome {
            latency_ms: Some(800.0 + (*start_ns % 400) as f64),
            tokens: Tokens::Split {
                input: 100,
                output: 50,
            },
            ..Outcome::default()
        };
        black_box(r.done(&p.lease(), &out, *start_ns).unwrap());
    }
    let wall = t.elapsed().as_nanos() as f64 / iterations as f64;
    let cpu = match (cpu, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / iterations as f64,
        _ => f64::NAN,
    };
    (wall, cpu)
}

fn main() {
    // ROUTING_BENCH_SIZES=1000 to time one size (e.g. under perf).
    let sizes: Vec<usize> = std::env::var("ROUTING_BENCH_SIZES")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![10, 100, 1000, 10000]);
    println!(
        "ns per pick+done, median of 7 runs: wall / on-CPU (the machine is shared; on-CPU leaves out time other processes held the core)"
    );
    print!("{:<24}", "strategy");
    for &n in &sizes {
        print!("{n:>10}     ");
    }
    println!();
    for strategy in Strategy::ALL {
        print!("{:<24}", strategy.name());
        for &n in &sizes {
            let r = group(n, strategy);
            let mut now = 0u64;
            let iterations = (2_000_000 / n as u64).clamp(2_000, 200_000);
            ns_per_op(&r, iterations / 4, &mut now); // warm up, fill latency samples
            let runs: Vec<(f64, f64)> = (0..7)
                .map(|_| ns_per_op(&r, iterations, &mut now))
                .collect();
            let mut wall: Vec<f64> = runs.iter().map(|r| r.0).collect();
            let mut cpu: Vec<f64> = runs.iter().map(|r| r.1).collect();
            wall.sort_by(f64::total_cmp);
            cpu.sort_by(f64::total_cmp);
            print!("{:>7.0}/{:<7.0}", wall[3], cpu[3]);
        }
        println!();
    }
}
