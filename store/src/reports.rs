//! The figures the owner's dashboard reports, computed from the store's own tables over
//! a time range: sales, inventory turnover per SKU, deliveries kept to their promise,
//! reusable boxes sold and returned. Every figure says what it counts.

use rusqlite::{Connection, params};
use serde::Serialize;
use std::collections::HashMap;

/// What the till sold over a range (amounts in cents).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesFigures {
    /// The sum of the sales' totals, as charged.
    pub total: i64,
    /// Sales recorded: one per basket.
    pub baskets: u64,
    pub units: u64,
    /// The part of `total` that was local produce.
    pub local_total: i64,
    /// Units pre-ordered in presale campaigns (placed or confirmed, not cancelled or
    /// released).
    pub presale_units: u64,
}

const SALES_LINES: &str = "SELECT coalesce(sum(sale_line.qty), 0), \
        coalesce(sum(CASE WHEN sku.local_produce THEN sale_line.qty * sale_line.unit_price ELSE 0 END), 0) \
     FROM sale_line JOIN sale ON sale.sale = sale_line.sale \
     JOIN sku ON sku.sku = sale_line.sku \
     WHERE sale.at >= ?1 AND sale.at < ?2";

/// Per SKU: the stock movements since `?1`, and those before `?2` weighted by how long
/// they counted until `?2` (unit-milliseconds, summed as reals: a few deliveries of
/// millions of units a week back are past what an integer sum holds).
const MOVED_SINCE: &str = "SELECT batch.sku, sum(m.delta), \
        total(CASE WHEN m.at < ?2 THEN CAST(m.delta AS REAL) * (?2 - m.at) ELSE 0 END) \
     FROM batch JOIN stock_movement m ON m.batch = batch.batch AND m.at >= ?1 \
     GROUP BY batch.sku";

const SOLD_BY_SKU: &str = "SELECT sale_line.sku, sum(sale_line.qty) FROM sale \
     JOIN sale_line ON sale_line.sale = sale.sale \
     WHERE sale.at >= ?1 AND sale.at < ?2 GROUP BY sale_line.sku";

/// A count or sum SQLite answers as an integer.
fn counted(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(index)?.max(0) as u64)
}

pub fn sales(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<SalesFigures> {
    let (total, baskets) = conn
        .prepare_cached(
            "SELECT coalesce(sum(total), 0), count(*) FROM sale WHERE at >= ?1 AND at < ?2",
        )?
        .query_row(params![from, to], |row| Ok((row.get(0)?, counted(row, 1)?)))?;
    let (units, local_total) = conn
        .prepare_cached(SALES_LINES)?
        .query_row(params![from, to], |row| Ok((counted(row, 0)?, row.get(1)?)))?;
    let presale_units = conn
        .prepare_cached(
            "SELECT coalesce(sum(qty), 0) FROM presale_order \
             WHERE at >= ?1 AND at < ?2 AND status IN ('placed', 'confirmed')",
        )?
        .query_row(params![from, to], |row| counted(row, 0))?;
    Ok(SalesFigures {
        total,
        baskets,
        units,
        local_total,
        presale_units,
    })
}

/// How fast one SKU's stock sold over a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkuTurnover {
    pub sku: String,
    pub name: String,
    pub category: String,
    /// Units sold in the range.
    pub sold: u64,
    /// Units on hand, averaged over the range (time-weighted).
    pub average_on_hand: f64,
    /// Units on hand now.
    pub on_hand: i64,
    /// `sold / average_on_hand`; none when the SKU had no stock in the range.
    pub turnover: Option<f64>,
}

/// Turnover of every SKU over `[from, to)`: units sold divided by the time-weighted
/// average of units on hand. Every change of stock is a stock movement (receipt, sale,
/// transfer, write-off), so the stock at `from` is today's stock minus the movements
/// since, and the average is that plus each later movement weighted by how long it
/// counted. Only the window's movements and sales are read (through the
/// `stock_movement(batch, at)` and `sale(at)` indexes): a year of history costs no more
/// than a month.
pub fn turnover_by_sku(
    conn: &Connection,
    from: i64,
    to: i64,
) -> rusqlite::Result<Vec<SkuTurnover>> {
    let span = (to - from).max(1) as f64;
    // sku -> (on hand now, movements since `from`, movements in the window weighted by
    // the time they counted until `to`, units sold in the window)
    let mut by_sku: HashMap<String, (i64, i64, f64, i64)> = HashMap::new();
    let mut on_hand =
        conn.prepare_cached("SELECT sku, coalesce(sum(qty_on_hand), 0) FROM batch GROUP BY sku")?;
    for row in on_hand.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))? {
        let (sku, units) = row?;
        by_sku.entry(sku).or_default().0 = units;
    }
    let mut moved = conn.prepare_cached(MOVED_SINCE)?;
    let rows = moved.query_map(params![from, to], |row| {
        Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
    })?;
    for row in rows {
        let (sku, since, weighted) = row?;
        let entry = by_sku.entry(sku).or_default();
        entry.1 = since;
        entry.2 = weighted;
    }
    let mut sold = conn.prepare_cached(SOLD_BY_SKU)?;
    for row in sold.query_map(params![from, to], |row| {
        Ok((row.get::<_, String>(0)?, row.get(1)?))
    })? {
        let (sku, units) = row?;
        by_sku.entry(sku).or_default().3 = units;
    }
    let mut rows = Vec::new();
    for sku in super::catalogue::skus(conn)? {
        let (on_hand, since, weighted, sold) = by_sku.get(&sku.sku).copied().unwrap_or_default();
        let average_on_hand = (on_hand - since) as f64 + weighted / span;
        rows.push(SkuTurnover {
            sku: sku.sku,
            name: sku.name,
            category: sku.category,
            sold: sold.max(0) as u64,
            average_on_hand,
            on_hand,
            turnover: (average_on_hand > 0.0).then(|| sold as f64 / average_on_hand),
        });
    }
    rows.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(rows)
}

/// The store-wide turnover: all units sold over the average of all units on hand; none
/// when nothing was in stock.
pub fn store_turnover(rows: &[SkuTurnover]) -> Option<f64> {
    let sold: u64 = rows.iter().map(|row| row.sold).sum();
    let average: f64 = rows.iter().map(|row| row.average_on_hand).sum();
    (average > 0.0).then(|| sold as f64 / average)
}

/// The slowest tenth of the SKUs that had stock (at least one SKU when any had):
/// lowest turnover first; among equals, the one with more stock sitting still first.
/// The operating guide has the owner drop these each week.
pub fn slowest_tenth(rows: Vec<SkuTurnover>) -> Vec<SkuTurnover> {
    let mut stocked: Vec<SkuTurnover> = rows
        .into_iter()
        .filter(|row| row.turnover.is_some())
        .collect();
    stocked.sort_by(|a, b| {
        a.turnover
            .partial_cmp(&b.turnover)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.average_on_hand.total_cmp(&a.average_on_hand))
            .then_with(|| a.sku.cmp(&b.sku))
    });
    let keep = stocked.len().div_ceil(10);
    stocked.truncate(keep);
    stocked
}

/// A share: how many of how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Count {
    pub of: u64,
    pub total: u64,
}

impl Count {
    /// `of / total`; none when there was nothing to count.
    pub fn share(self) -> Option<f64> {
        (self.total > 0).then(|| self.of as f64 / self.total as f64)
    }
}

/// Deliveries requested in `[from, to)` whose outcome is known at `now`, and how many
/// kept their promise: delivered by the ETA the plugin gave (or delivered at all when it
/// gave none). A delivery still out after its ETA counts as missed; one still out
/// before it is not counted yet.
pub fn deliveries_kept(conn: &Connection, from: i64, to: i64, now: i64) -> rusqlite::Result<Count> {
    conn.prepare_cached(
        "SELECT \
            coalesce(sum(status = 'delivered' AND (eta IS NULL OR delivered_at <= eta)), 0), \
            coalesce(sum(status = 'delivered' OR (eta IS NOT NULL AND eta < ?3)), 0) \
         FROM delivery WHERE requested_at >= ?1 AND requested_at < ?2",
    )?
    .query_row(params![from, to, now], |row| {
        Ok(Count {
            of: counted(row, 0)?,
            total: counted(row, 1)?,
        })
    })
}

/// Reusable boxes returned in `[from, to)` (from the points ledger, whatever their
/// condition) of the units sold in reusable boxes in the same range.
pub fn boxes_returned(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<Count> {
    let returned: u64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(returned_count), 0) FROM points_ledger \
             WHERE returned_kind = 'deposit-box' AND at >= ?1 AND at < ?2",
        )?
        .query_row(params![from, to], |row| counted(row, 0))?;
    let sold: u64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(sale_line.qty), 0) FROM sale_line \
             JOIN sale ON sale.sale = sale_line.sale JOIN sku ON sku.sku = sale_line.sku \
             WHERE sku.reusable_box AND sale.at >= ?1 AND sale.at < ?2",
        )?
        .query_row(params![from, to], |row| counted(row, 0))?;
    Ok(Count {
        of: returned,
        total: sold,
    })
}

/// What the recycling ledger recorded over a range.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecyclingFigures {
    /// Points awarded for returns.
    pub points_issued: i64,
    /// Points spent on discounts.
    pub points_redeemed: i64,
    /// Deposits refunded, in cents.
    pub refunds: i64,
    pub boxes_returned: u64,
    pub packaging_returned: u64,
}

pub fn recycling(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<RecyclingFigures> {
    conn.prepare_cached(
        "SELECT \
            coalesce(sum(CASE WHEN kind = 'return' THEN points ELSE 0 END), 0), \
            coalesce(sum(CASE WHEN kind = 'redemption' THEN -points ELSE 0 END), 0), \
            coalesce(sum(refund), 0), \
            coalesce(sum(CASE WHEN returned_kind = 'deposit-box' THEN returned_count ELSE 0 END), 0), \
            coalesce(sum(CASE WHEN returned_kind = 'packaging' THEN returned_count ELSE 0 END), 0) \
         FROM points_ledger WHERE at >= ?1 AND at < ?2",
    )?
    .query_row(params![from, to], |row| {
        Ok(RecyclingFigures {
            points_issued: row.get(0)?,
            points_redeemed: row.get(1)?,
            refunds: row.get(2)?,
            boxes_returned: counted(row, 3)?,
            packaging_returned: counted(row, 4)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{self, Batch, Sku};
    use crate::points::{self, Entry, Returned};
    use crate::sales::{self, Buyer, SoldLine};

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    // 2026-11-20T12:00:00Z
    const NOON: i64 = 1_795_176_000_000;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(dir.path()).unwrap();
        (dir, conn)
    }

    fn add_sku(conn: &Connection, sku: &str, local: bool, reusable_box: bool) {
        catalogue::insert_sku(
            conn,
            &Sku {
                sku: sku.into(),
                name: format!("{sku} name"),
                category: "test".into(),
                unit_price: 1000,
                local_produce: local,
                fresh: false,
                reusable_box,
            },
        )
        .unwrap();
    }

    fn receive(conn: &Connection, batch: &str, sku: &str, at: i64, qty: u32) {
        catalogue::receive(
            conn,
            &Batch {
                batch: batch.into(),
                sku: sku.into(),
                supplier: None,
                received_at: at,
                expires_at: None,
                qty_received: qty,
                qty_on_hand: qty,
            },
        )
        .unwrap();
    }

    fn sell(conn: &Connection, at: i64, lines: &[(&str, &str, u32, i64)]) {
        let lines: Vec<SoldLine> = lines
            .iter()
            .map(|(sku, batch, qty, price)| SoldLine {
                sku: sku.to_string(),
                batch: batch.to_string(),
                qty: *qty,
                shelf_price: *price,
                unit_price: *price,
            })
            .collect();
        let buyer = Buyer {
            pseudonym: None,
            cohort: "walk-in",
        };
        sales::record(conn, at, buyer, &lines, &[]).unwrap();
    }

    #[test]
    fn turnover_weighs_huge_deliveries_without_overflowing() {
        let (_dir, conn) = store();
        add_sku(&conn, "RICE", false, false);
        // Each is u32::MAX units times about six days of milliseconds: 2.2e18, and
        // together past what an i64 sum holds.
        for (index, days) in [6, 6, 6, 6, 6].into_iter().enumerate() {
            receive(
                &conn,
                &format!("R-{index}"),
                "RICE",
                NOON - days * DAY,
                u32::MAX,
            );
        }
        let rows = turnover_by_sku(&conn, NOON - 7 * DAY, NOON).unwrap();
        let rice = rows.iter().find(|row| row.sku == "RICE").unwrap();
        let expected = 5.0 * f64::from(u32::MAX) * 6.0 / 7.0;
        assert!(
            (rice.average_on_hand - expected).abs() / expected < 1e-9,
            "{} vs {expected}",
            rice.average_on_hand
        );
    }

    #[test]
    fn sales_count_baskets_units_local_value_and_live_preorders_in_the_range() {
        let (_dir, conn) = store();
        add_sku(&conn, "GREENS", true, false);
        add_sku(&conn, "SOAP", false, false);
        receive(&conn, "G-1", "GREENS", NOON - DAY, 50);
        receive(&conn, "S-1", "SOAP", NOON - DAY, 50);
        sell(
            &conn,
            NOON - 2 * HOUR,
            &[("GREENS", "G-1", 3, 400), ("SOAP", "S-1", 1, 800)],
        );
        sell(&conn, NOON - HOUR, &[("SOAP", "S-1", 2, 800)]);
        // Yesterday: outside the range.
        sell(&conn, NOON - DAY + HOUR, &[("GREENS", "G-1", 10, 400)]);
        conn.execute_batch(&format!(
            "INSERT INTO presale_campaign (campaign, sku, product, supplier, opened_at, deadline, min_qty, weekly_volume) \
                 VALUES ('c', 'GREENS', 'g', 's', {opened}, {deadline}, 1, 10);
             INSERT INTO presale_order (campaign, customer, qty, status, at) VALUES \
                 ('c', 'p-1', 4, 'placed', {at}), ('c', 'p-2', 2, 'confirmed', {at}), \
                 ('c', 'p-3', 9, 'cancelled', {at});",
            opened = NOON - DAY,
            deadline = NOON + 3 * DAY,
            at = NOON - HOUR,
        ))
        .unwrap();
        let today = sales(&conn, NOON - 12 * HOUR, NOON).unwrap();
        assert_eq!(
            today,
            SalesFigures {
                total: 1200 + 800 + 1600,
                baskets: 2,
                units: 6,
                local_total: 1200,
                presale_units: 6,
            }
        );
    }

    #[test]
    fn turnover_is_units_sold_over_the_time_weighted_average_stock() {
        let (_dir, conn) = store();
        add_sku(&conn, "FAST", false, false);
        add_sku(&conn, "HALF", false, false);
        add_sku(&conn, "NONE", false, false);
        let from = NOON - 4 * DAY;
        // FAST: 30 on hand all along, 10 sold at the very end (still ~30 on average).
        receive(&conn, "F-1", "FAST", from - DAY, 30);
        sell(&conn, NOON - 1, &[("FAST", "F-1", 10, 100)]);
        // HALF: 40 units arrive halfway through, nothing sold: 20 on average.
        receive(&conn, "H-1", "HALF", from + 2 * DAY, 40);
        let rows = turnover_by_sku(&conn, from, NOON).unwrap();
        let fast = rows.iter().find(|row| row.sku == "FAST").unwrap();
        assert_eq!(fast.sold, 10);
        assert!((fast.average_on_hand - 30.0).abs() < 0.01, "{fast:?}");
        assert!((fast.turnover.unwrap() - 10.0 / 30.0).abs() < 0.01);
        assert_eq!(fast.on_hand, 20);
        let half = rows.iter().find(|row| row.sku == "HALF").unwrap();
        assert!((half.average_on_hand - 20.0).abs() < 1e-9, "{half:?}");
        assert_eq!(half.turnover, Some(0.0));
        let none = rows.iter().find(|row| row.sku == "NONE").unwrap();
        assert_eq!(none.turnover, None, "no stock, no turnover");
        let store = store_turnover(&rows).unwrap();
        assert!((store - 10.0 / 50.0).abs() < 0.01, "{store}");
    }

    fn row(sku: &str, turnover: Option<f64>, average_on_hand: f64) -> SkuTurnover {
        SkuTurnover {
            sku: sku.into(),
            name: sku.into(),
            category: "test".into(),
            sold: 0,
            average_on_hand,
            on_hand: 0,
            turnover,
        }
    }

    #[test]
    fn the_slowest_tenth_rounds_up_skips_unstocked_skus_and_puts_idle_stock_first() {
        let mut rows: Vec<SkuTurnover> = (0..21)
            .map(|index| row(&format!("S{index:02}"), Some(1.0 + index as f64), 5.0))
            .collect();
        rows.push(row("IDLE-SMALL", Some(0.0), 2.0));
        rows.push(row("IDLE-BIG", Some(0.0), 30.0));
        rows.push(row("GONE", None, 0.0));
        // 23 stocked SKUs: the slowest 3.
        let slowest: Vec<String> = slowest_tenth(rows).into_iter().map(|row| row.sku).collect();
        assert_eq!(slowest, ["IDLE-BIG", "IDLE-SMALL", "S00"]);
        assert_eq!(slowest_tenth(vec![row("ONLY", Some(3.0), 1.0)]).len(), 1);
        assert!(slowest_tenth(vec![row("GONE", None, 0.0)]).is_empty());
    }

    #[test]
    fn a_delivery_counts_as_kept_when_delivered_by_its_eta_and_missed_once_overdue() {
        let (_dir, conn) = store();
        let insert = |id: &str, eta: Option<i64>, delivered_at: Option<i64>| {
            conn.execute(
                "INSERT INTO delivery (delivery, customer, emergency, priority, requested_at, eta, plan, status, delivered_at) \
                 VALUES (?1, 'p', 0, 'Normal', ?2, ?3, '{}', ?4, ?5)",
                params![
                    id,
                    NOON - 3 * HOUR,
                    eta,
                    if delivered_at.is_some() { "delivered" } else { "planned" },
                    delivered_at
                ],
            )
            .unwrap();
        };
        insert("on-time", Some(NOON - HOUR), Some(NOON - 2 * HOUR));
        insert("late", Some(NOON - 2 * HOUR), Some(NOON - HOUR));
        insert("no-eta", None, Some(NOON - HOUR));
        insert("overdue", Some(NOON - HOUR), None);
        insert("on-its-way", Some(NOON + HOUR), None);
        let kept = deliveries_kept(&conn, NOON - DAY, NOON, NOON).unwrap();
        assert_eq!(kept, Count { of: 2, total: 4 });
        assert_eq!(kept.share(), Some(0.5));
        assert_eq!(
            deliveries_kept(&conn, NOON - 2 * DAY, NOON - DAY, NOON)
                .unwrap()
                .share(),
            None
        );
    }

    #[test]
    fn boxes_returned_are_counted_against_units_sold_in_reusable_boxes() {
        let (_dir, conn) = store();
        add_sku(&conn, "VEG-BOX", true, true);
        add_sku(&conn, "SOAP", false, false);
        receive(&conn, "V-1", "VEG-BOX", NOON - DAY, 20);
        receive(&conn, "S-1", "SOAP", NOON - DAY, 20);
        sell(
            &conn,
            NOON - 3 * HOUR,
            &[("VEG-BOX", "V-1", 4, 3900), ("SOAP", "S-1", 5, 450)],
        );
        let entry = |points: i64, refund: i64| Entry {
            at: NOON - HOUR,
            kind: "return".into(),
            points,
            refund,
            discount: 0,
            reason: "test".into(),
        };
        let boxes = Returned {
            kind: "deposit-box",
            count: 2,
        };
        points::append(&conn, "p-1", &entry(20, 2000), Some(boxes)).unwrap();
        // An unusable box earns nothing, yet it came back.
        let broken = Returned {
            kind: "deposit-box",
            count: 1,
        };
        points::append(&conn, "p-2", &entry(0, 0), Some(broken)).unwrap();
        let wrap = Returned {
            kind: "packaging",
            count: 5,
        };
        points::append(&conn, "p-2", &entry(5, 0), Some(wrap)).unwrap();
        let count = boxes_returned(&conn, NOON - DAY, NOON).unwrap();
        assert_eq!(count, Count { of: 3, total: 4 });
        let figures = recycling(&conn, NOON - DAY, NOON).unwrap();
        assert_eq!(
            figures,
            RecyclingFigures {
                points_issued: 25,
                points_redeemed: 0,
                refunds: 2000,
                boxes_returned: 3,
                packaging_returned: 5,
            }
        );
    }

    /// The dashboard polls these: they must read the window's rows through indexes,
    /// never scan a year of sales or movements.
    #[test]
    fn report_queries_read_only_the_window_through_indexes() {
        let (_dir, conn) = store();
        for query in [SALES_LINES, MOVED_SINCE, SOLD_BY_SKU] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map([1, 2], |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            for table in ["sale ", "sale_line", "stock_movement", "m "] {
                assert!(!plan.contains(&format!("SCAN {table}")), "{plan}");
            }
            assert!(plan.contains("USING"), "{plan}");
        }
    }
}
