//! The dashboard's figures on a year of store data: today's sales and the week's turnover
//! per SKU (what `GET /v1/reports/today` and `GET /v1/inventory/slow-movers` compute on
//! every poll). The baseline in the same run is the same figures in a store holding four
//! weeks: computed from the windows' rows, a year of history costs about the same.
//!
//! `cargo bench -p linli-store --bench reports`; the summary at the end gives the medians
//! and the ratios.

use linli_store::catalogue::{self, Batch, Sku};
use linli_store::reports;
use linli_store::sales::{self, Buyer, SoldLine};
use rusqlite::Connection;
use std::hint::black_box;

const DAY: i64 = 86_400_000;
const START: i64 = 1_767_225_600_000; // 2026-01-01
const SKUS: usize = 60;
const SALES_PER_DAY: usize = 300;
const LINES_PER_SALE: usize = 3;

/// A store's `days` (the same pattern as the batch-trace bench): every SKU gets a new
/// batch each week, 300 sales a day of three lines. Returns the end of the last day.
fn history(conn: &mut Connection, days: i64) -> rusqlite::Result<i64> {
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
                fresh: false,
                reusable_box: index % 10 == 0,
            },
        )?;
    }
    let batch_of = |sku: usize, day: i64| format!("B-{sku:03}-W{:02}", day / 7);
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
                        supplier: None,
                        received_at: at,
                        expires_at: None,
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
            let buyer = Buyer {
                pseudonym: None,
                cohort: "walk-in",
            };
            sales::record(&tx, at + sale as i64 * 1000, buyer, &lines, &[])?;
        }
    }
    tx.commit()?;
    Ok(START + days * DAY)
}

/// What the dashboard computes: the day's sales and the week's turnover per SKU.
fn figures(conn: &Connection, now: i64) -> usize {
    let today = reports::sales(conn, now - DAY, now).unwrap();
    let week = reports::turnover_by_sku(conn, now - 7 * DAY, now).unwrap();
    let slowest = reports::slowest_tenth(week.clone());
    black_box((&today, reports::store_turnover(&week), &slowest));
    week.len()
}

/// The median of 51 runs, in microseconds.
fn median(work: &dyn Fn()) -> f64 {
    let mut times: Vec<f64> = (0..51)
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
    let small_now = history(&mut small, 28).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut year = linli_store::open(dir.path()).unwrap();
    let year_now = history(&mut year, 365).unwrap();

    let baseline = median(&|| {
        figures(&small, small_now);
    });
    let measured = median(&|| {
        figures(&year, year_now);
    });
    println!("\n| measure | SKUs | median µs | vs baseline |");
    println!("|---|---:|---:|---:|");
    println!(
        "| today's sales + the week's turnover, four weeks of data (baseline) | {} | {baseline:.0} | 1.00× |",
        figures(&small, small_now)
    );
    println!(
        "| today's sales + the week's turnover, a year of data | {} | {measured:.0} | {:.2}× |",
        figures(&year, year_now),
        measured / baseline
    );
}
