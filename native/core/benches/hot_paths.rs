//! The core's hot paths in-process, without N-API or sockets: what the daemon's own costs are
//! measured against. Run:
//! `cargo bench --manifest-path native/Cargo.toml -p sluice-core --bench hot_paths -- --quick`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice_core::Core;
use sluice_core::fastpath;
use sluice_core::limits::throttle::Quota;
use sluice_core::limits::{Algo, Params};
use sluice_core::tokens::Encoding;

fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    v
}

/// A text of about `len` bytes from the project's own docs (real prose and Markdown).
fn text_of(len: usize) -> String {
    let docs = include_str!("../../../docs/architecture.md");
    let mut end = len.min(docs.len());
    while !docs.is_char_boundary(end) {
        end -= 1;
    }
    docs[..end].to_string()
}

fn limits(c: &mut Criterion) {
    let core = Core::new(0);
    let p = Params::new(1_000_000, 1_000, 1_000_000, Algo::Gcra).unwrap();
    let key = b"user:0123456789a"; // 16 bytes: the small inline table
    let mut now = 0i64;
    c.bench_function("RL.HIT gcra, 16-byte key", |b| {
        b.iter(|| {
            now += 1_000;
            black_box(core.limits.hit(black_box(key), &p, 1, now, true))
        })
    });
    let q = Quota::new(1_000_000, 1_000_000, 1).unwrap();
    c.bench_function("CL.THROTTLE, 16-byte key", |b| {
        b.iter(|| {
            now += 1_000;
            black_box(core.limits.throttle(black_box(key), &q, 1, now))
        })
    });
}

fn fast_path(c: &mut Criterion) {
    let core = Core::new(0);
    // The pipelined mix the daemon sees: 16 commands, mostly RL.HIT, over a few keys.
    let mut input = Vec::new();
    for i in 0..16 {
        let key = format!("tenant:{:08}", i % 4);
        input.extend(match i % 8 {
            0 => resp(&["PING"]),
            1 => resp(&["CL.THROTTLE", &key, "1000000", "1000000", "60"]),
            2 => resp(&["RL.PEEK", &key, "LIMIT", "1000000", "PER", "60000"]),
            _ => resp(&["RL.HIT", &key, "LIMIT", "1000000", "PER", "60000"]),
        });
    }
    let mut out = vec![0u8; 64 * 1024];
    let mut now = 0i64;
    let mut group = c.benchmark_group("fast path");
    group.throughput(Throughput::Elements(16));
    group.bench_function("16-command RESP run", |b| {
        b.iter(|| {
            now += 1_000;
            let r = fastpath::run(&core.limits, black_box(&input), &mut out, 0, || now);
            assert_eq!(r.consumed, input.len());
            black_box(r.written)
        })
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    // The cache is off (its default): these are the counting engine's costs, not a lookup.
    let core = Core::new(0);
    let mut group = c.benchmark_group("token count");
    for (name, len) in [("400 B", 400), ("4 KB", 4096)] {
        let text = text_of(len);
        group.throughput(Throughput::Bytes(text.len() as u64));
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            group.bench_function(format!("{} {name}", enc.name()), |b| b.iter(|| black_box(core.tokens.count(enc, black_box(&text)))));
        }
    }
    group.finish();
}

criterion_group!(benches, limits, fast_path, tokens);
criterion_main!(benches);
