//! Batch trace on a year of store data: every sale and stock movement of one batch, and
//! the pseudonyms to notify, answered from the `sale_line(batch)` and
//! `stock_movement(batch)` indexes. The baseline in the same run is the same trace (a
//! batch of the same size) in a store holding four weeks: answered from indexes, a
//! year of data costs about the same; a scan would cost thirteen times as much. Reading
//! one batch row by key is shown for scale. A year is 109,500 sales of ten lines:
//! 1,095,000 sale lines.
//!
//! `cargo bench -p linli-store --bench store`; the summary at the end gives the medians
//! and the ratios.

use criterion::Criterion;
use linli_store::catalogue::{self, Batch, Sku};
use linli_store::sales::{self, Buyer, SoldLine};
use rusqlite::Connection;
use std::hint::black_box;

const DAY: i64 = 86_400_000;
const START: i64 = 1_767_225_600_000; // 2026-01-01
const SKUS: usize = 60;
const SALES_PER_DAY: usize = 300;
const LINES_PER_SALE: usize = 10;

/// A store's `days`: every SKU gets a new batch each week, 300 sales a day of three
/// lines, a third of them by card holders. Returns the sales and a batch of week 2.
fn history(conn: &mut Connection, days: i64) -> rusqlite::Result<(usize, String)> {
    let tx = conn.transaction()?;
    for index in 0..SKUS {
        catalogue::insert_sku(
            &tx,
            &Sku {
                sku: format!("SKU-{index:03}"),
                name: format!("item {index}"),
                category: ["dairy", "fresh", "grocery", "household"][index % 4].to_string(),
                unit_price: 200 + index as i64 * 30,
                local_produce: index % 5 == 0,
                fresh: index % 4 < 2,
                reusable_box: false,
            },
        )?;
    }
    let batch_of = |sku: usize, day: i64| format!("B-{sku:03}-W{:02}", day / 7);
    let mut sold = 0;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for day in 0..days {
        let at = START + day * DAY;
        if day % 7 == 0 {
            for sku in 0..SKUS {
                catalogue::receive(
                    &tx,
                    &Batch {
                        batch: batch_of(sku, day),
                        sku: format!("SKU-{sku:03}"),
                        supplier: Some("bench supplier".into()),
                        received_at: at,
                        expires_at: Some(at + 14 * DAY),
                        qty_received: 100_000,
                        qty_on_hand: 100_000,
                    },
                )?;
            }
        }
        for sale in 0..SALES_PER_DAY {
            let lines: Vec<SoldLine> = (0..LINES_PER_SALE)
                .map(|_| {
                    let sku = (next() % SKUS as u64) as usize;
                    SoldLine {
                        sku: format!("SKU-{sku:03}"),
                        batch: batch_of(sku, day),
                        qty: 1 + (next() % 3) as u32,
                        shelf_price: 500,
                        unit_price: 450,
                    }
                })
                .collect();
            let pseudonym = format!("p-{}", next() % 2000);
            let buyer = Buyer {
                pseudonym: (sale % 3 == 0).then_some(pseudonym.as_str()),
                cohort: if sale % 3 == 0 { "member" } else { "walk-in" },
            };
            sales::record(&tx, at + sale as i64 * 1000, buyer, &lines, &[])?;
            sold += 1;
        }
    }
    tx.commit()?;
    Ok((sold, batch_of(7, 14)))
}

fn trace(conn: &Connection, batch: &str) -> usize {
    let found = catalogue::batch(conn, batch).unwrap().unwrap();
    let sold = sales::sales_of_batch(conn, batch).unwrap();
    let movements = sales::movements_of_batch(conn, batch).unwrap();
    let notify: std::collections::BTreeSet<&str> = sold
        .iter()
        .filter_map(|sale| sale.customer.as_deref())
        .collect();
    black_box(&found);
    sold.len() + movements.len() + notify.len()
}

/// The median of 201 runs, in microseconds.
fn median(work: &dyn Fn()) -> f64 {
    let mut times: Vec<f64> = (0..201)
        .map(|_| {
            let started = std::time::Instant::now();
            work();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let small_dir = tempfile::tempdir().unwrap();
    let mut small = linli_store::open(small_dir.path()).unwrap();
    let (_, small_batch) = history(&mut small, 28).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut year = linli_store::open(dir.path()).unwrap();
    let built = std::time::Instant::now();
    let (sales_count, batch) = history(&mut year, 365).unwrap();
    println!(
        "a year of data: {sales_count} sales, {} sale lines, built in {:.1} s",
        sales_count * LINES_PER_SALE,
        built.elapsed().as_secs_f64()
    );

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("trace");
    group.bench_function("one batch row by key", |b| {
        b.iter(|| catalogue::batch(&year, black_box(&batch)).unwrap())
    });
    group.bench_function("baseline: trace a batch in four weeks of data", |b| {
        b.iter(|| trace(&small, black_box(&small_batch)))
    });
    group.bench_function("trace a batch in a year of data", |b| {
        b.iter(|| trace(&year, black_box(&batch)))
    });
    group.finish();
    criterion.final_summary();

    // Medians for the summary table, measured plainly so it needs no parsing of
    // criterion's output.
    let row = median(&|| {
        black_box(catalogue::batch(&year, &batch).unwrap());
    });
    let baseline = median(&|| {
        black_box(trace(&small, &small_batch));
    });
    let traced = median(&|| {
        black_box(trace(&year, &batch));
    });
    println!("\n| measure | rows | median µs | vs baseline |");
    println!("|---|---:|---:|---:|");
    println!(
        "| one batch row by key | 1 | {row:.1} | {:.2}× |",
        row / baseline
    );
    println!(
        "| trace, four weeks of data (baseline) | {} | {baseline:.1} | 1.00× |",
        trace(&small, &small_batch)
    );
    println!(
        "| trace, a year of data | {} | {traced:.1} | {:.2}× |",
        trace(&year, &batch),
        traced / baseline
    );
}
