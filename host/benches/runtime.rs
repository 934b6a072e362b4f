//! The runtime's speed: a pricing call through the reference markdown plugin with a
//! fresh instance per call, against the same plugin compiled natively and called
//! directly (the baseline), in one run; the cost of an instance alone; and loading a
//! plugin from the compiled-component cache (a restart) against compiling it.
//!
//! `cargo bench -p linli --bench runtime`; the summary table at the end gives the
//! medians, the plugin/native ratios and the targets.

use criterion::{BenchmarkId, Criterion};
use linli::reference::reference_plugin;
use linli_runtime::{Call, CallContext, Grants, Runtime, RuntimeConfig, World};
use linli_sdk::testing::TestHost;
use markdown_pricing::MarkdownPricing;
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const NOW: i64 = 1_795_572_000_000;
const HOUR: i64 = 3_600_000;
const SIZES: [usize; 3] = [1, 20, 200];

/// A realistic basket: a third fresh goods expiring over the next five days (so about
/// one fresh line in five is marked down), the rest shelf goods; a member customer.
fn basket(lines: usize) -> Value {
    let lines: Vec<Value> = (0..lines)
        .map(|index| {
            let fresh = index % 3 == 0;
            json!({
                "sku": format!("SKU-{index:05}"),
                "qty": 1 + (index % 4) as u32,
                "unit_price": 250 + (index as i64 * 37) % 4000,
                "category": if fresh { "fresh" } else { "grocery" },
                "local_produce": fresh,
                "batch": fresh.then(|| format!("B-{index}")),
                "expires_at": fresh.then_some(NOW + (1 + (index as i64 * 7) % 120) * HOUR),
            })
        })
        .collect();
    json!({
        "lines": lines,
        "customer": {"pseudonym": "p-bench", "elderly_or_disabled": false, "tier": "Silver"}
    })
}

fn target_dir() -> PathBuf {
    // The bench executable is <target>/<profile>/deps/<name>-<hash>.
    std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_owned()
}

fn benches(c: &mut Criterion) {
    let cache = target_dir().join("linli-bench-cache");
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.clone()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let markdown = reference_plugin("markdown-pricing").unwrap();
    let path = Path::new(markdown.file);
    let plugin = runtime.load(path, None, &Grants::none()).unwrap();
    let context = CallContext {
        now: NOW,
        ..CallContext::default()
    };

    let mut group = c.benchmark_group("pricing");
    for size in SIZES {
        let request = basket(size);
        let call = Call::from_json(World::Pricing, None, request.clone()).unwrap();
        group.bench_with_input(BenchmarkId::new("wasm", size), &call, |b, call| {
            b.iter(|| plugin.call(black_box(call), &context).unwrap())
        });
        let native: linli_sdk::pricing::QuoteRequest = serde_json::from_value(request).unwrap();
        let host = TestHost::new().at(NOW);
        group.bench_with_input(BenchmarkId::new("native", size), &native, |b, request| {
            b.iter(|| {
                use linli_sdk::pricing::Pricing;
                host.run(|| MarkdownPricing::quote(black_box(request).clone()).unwrap())
            })
        });
    }
    group.finish();

    // A group, so that criterion files these under `instantiate/…`, where the summary
    // reads them.
    let mut group = c.benchmark_group("instantiate");
    group.bench_function("only", |b| b.iter(|| plugin.probe(&context).unwrap()));
    let empty = Call::from_json(World::Pricing, None, basket(0)).unwrap();
    group.bench_function("empty-call", |b| {
        b.iter(|| plugin.call(black_box(&empty), &context).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("cache-warm", |b| {
        b.iter(|| runtime.load(path, None, &Grants::none()).unwrap())
    });
    let no_cache = Runtime::new(RuntimeConfig::default()).unwrap();
    group.bench_function("compile", |b| {
        b.iter(|| no_cache.load(path, None, &Grants::none()).unwrap())
    });
    group.finish();
}

/// Median of a benchmark in nanoseconds, from criterion's estimates of this run.
fn median_ns(id: &str) -> Option<f64> {
    let file = target_dir()
        .join("criterion")
        .join(id)
        .join("new/estimates.json");
    let estimates: Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn summary() {
    let us = |ns: f64| format!("{:.2} µs", ns / 1000.0);
    println!("\nsummary (medians of this run)");
    println!("| benchmark | plugin (wasm) | native | plugin/native | target |");
    println!("|---|---|---|---|---|");
    for size in SIZES {
        let (Some(wasm), Some(native)) = (
            median_ns(&format!("pricing/wasm/{size}")),
            median_ns(&format!("pricing/native/{size}")),
        ) else {
            continue;
        };
        let target = if size == 200 { "≤ 60 µs" } else { "" };
        println!(
            "| pricing, {size} lines, fresh instance | {} | {} | {:.1}× | {target} |",
            us(wasm),
            us(native),
            wasm / native
        );
    }
    if let Some(only) = median_ns("instantiate/only") {
        println!("| instantiate only (no call) | {} | | | |", us(only));
    }
    if let Some(empty) = median_ns("instantiate/empty-call") {
        println!(
            "| instantiate + empty call (empty basket) | {} | | | ≤ 10 µs |",
            us(empty)
        );
    }
    if let (Some(warm), Some(compile)) = (median_ns("load/cache-warm"), median_ns("load/compile")) {
        println!(
            "| load markdown-pricing from cache (restart) | {:.2} ms | compile: {:.2} ms | | ≤ 5 ms |",
            warm / 1e6,
            compile / 1e6
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
    summary();
}
