//! The operator's view of what stores share: their daily sales summed per category and
//! ISO week, and the data-sharing reports received — nothing counting fewer than k.

use linli_alliance::{Event, SharedRow};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One category's sales across the alliance in one ISO week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekRow {
    /// ISO week, "2026-W48".
    pub week: String,
    pub category: String,
    /// Stores whose sales are in the row.
    pub stores: u32,
    /// Baskets with the category.
    pub sales: i64,
    pub units: i64,
    /// Cents.
    pub revenue: i64,
}

/// A data-sharing report a store sent, with its rows below k left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Received {
    pub store: String,
    pub seq: i64,
    pub received_at: i64,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    pub rows: Vec<SharedRow>,
    /// Rows the store left out below its k, and rows the server left out below its own.
    pub suppressed: u64,
}

/// What the operator sees of the stores' shared figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reports {
    /// No row counts fewer than k sales (weeks) or customers (reports).
    pub k: u32,
    /// Sales per category and week, from the stores' daily sales, oldest week first.
    pub weeks: Vec<WeekRow>,
    /// Week-category cells left out because they count fewer than k sales.
    pub suppressed_cells: u32,
    /// Data-sharing reports, newest first.
    pub reports: Vec<Received>,
}

/// The stores' daily sales summed per category and ISO week (cells under k sales left
/// out), and the data-sharing reports received (rows under k customers left out).
pub fn reports(conn: &Connection, k: u32) -> rusqlite::Result<Reports> {
    #[derive(Default)]
    struct Cell {
        stores: BTreeSet<String>,
        sales: i64,
        units: i64,
        revenue: i64,
    }
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    let mut statement = conn.prepare_cached(
        "SELECT store, seq, payload, received_at, kind FROM alliance_event \
         WHERE kind IN (?1, ?2) ORDER BY received_at DESC, store, seq DESC",
    )?;
    let rows = statement.query_map(params![Event::DAILY_SALES, Event::SHARING_REPORT], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, String>(4)?,
        ))
    })?;
    let mut reports = Vec::new();
    for row in rows {
        let (store, seq, payload, received_at, kind) = row?;
        let payload = serde_json::from_str(&payload).unwrap_or_default();
        let day = match Event::parse(&kind, &payload) {
            Ok(Event::SharingReport(report)) => {
                let all = report.rows.len();
                let kept: Vec<SharedRow> = report
                    .rows
                    .into_iter()
                    .filter(|row| row.customers >= k)
                    .collect();
                reports.push(Received {
                    store,
                    seq,
                    received_at,
                    first_day: report.first_day,
                    last_day: report.last_day,
                    suppressed: u64::from(report.suppressed) + (all - kept.len()) as u64,
                    rows: kept,
                });
                continue;
            }
            Ok(Event::DailySales(day)) => day,
            // Not selected.
            Ok(Event::StockOffer(_) | Event::StockOfferWithdrawn(_)) => continue,
            Err(err) => {
                tracing::warn!(store, seq, "left out of the reports: {err}");
                continue;
            }
        };
        let Ok(date) = day.day.parse::<jiff::civil::Date>() else {
            tracing::warn!(
                store,
                seq,
                day = day.day,
                "daily sales of no valid day; left out"
            );
            continue;
        };
        let iso = date.iso_week_date();
        let week = format!("{:04}-W{:02}", iso.year(), iso.week());
        for category in day.categories {
            let cell = cells.entry((week.clone(), category.category)).or_default();
            cell.stores.insert(store.clone());
            cell.sales += category.sales;
            cell.units += category.units;
            cell.revenue += category.revenue;
        }
    }
    let mut weeks = Vec::new();
    let mut suppressed_cells = 0;
    for ((week, category), cell) in cells {
        if cell.sales < i64::from(k) {
            suppressed_cells += 1;
            continue;
        }
        weeks.push(WeekRow {
            week,
            category,
            stores: cell.stores.len() as u32,
            sales: cell.sales,
            units: cell.units,
            revenue: cell.revenue,
        });
    }
    Ok(Reports {
        k,
        weeks,
        suppressed_cells,
        reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events;
    use crate::pool::tests::{NOW, alliance};
    use linli_alliance::Envelope;

    #[test]
    fn weekly_figures_leave_out_cells_under_k() {
        let (_dir, mut conn) = alliance();
        let day = |seq: i64, day: &str, sales: i64| {
            let payload = serde_json::json!({"day": day, "categories": [
                {"category": "dairy", "sales": sales, "units": sales * 2, "revenue": sales * 100},
                {"category": "greens", "sales": 1, "units": 1, "revenue": 50},
            ]});
            Envelope {
                seq,
                kind: Event::DAILY_SALES.into(),
                at: NOW,
                payload,
            }
        };
        // 2026-11-23 is the Monday of ISO week 48.
        events::receive(&mut conn, "corner", &[day(1, "2026-11-23", 3)], NOW).unwrap();
        events::receive(&mut conn, "market", &[day(1, "2026-11-24", 4)], NOW).unwrap();
        events::receive(&mut conn, "far", &[day(1, "2026-11-30", 2)], NOW).unwrap();
        let report = reports(&conn, 5).unwrap();
        assert_eq!(
            report.weeks,
            vec![WeekRow {
                week: "2026-W48".into(),
                category: "dairy".into(),
                stores: 2,
                sales: 7,
                units: 14,
                revenue: 700,
            }]
        );
        // greens in W48 (2 sales), dairy and greens in W49 (2 and 1).
        assert_eq!(report.suppressed_cells, 3);
    }

    #[test]
    fn report_rows_under_the_servers_k_are_left_out() {
        let (_dir, mut conn) = alliance();
        let report = Envelope {
            seq: 1,
            kind: Event::SHARING_REPORT.into(),
            at: NOW,
            payload: serde_json::json!({"first_day": "2026-11-23", "suppressed": 1, "rows": [
                {"category": "dairy", "customers": 4, "units": 9},
                {"category": "greens", "customers": 6, "units": 8},
            ]}),
        };
        events::receive(&mut conn, "corner", &[report], NOW).unwrap();
        let received = &reports(&conn, 5).unwrap().reports[0];
        assert_eq!(received.first_day.as_deref(), Some("2026-11-23"));
        assert_eq!(received.last_day, None);
        assert_eq!(received.rows.len(), 1);
        assert_eq!(received.rows[0].category.as_deref(), Some("greens"));
        assert_eq!(received.suppressed, 2);
    }
}
