//! The outbox: events for the alliance (data-sharing reports, each ended day's sales
//! per category, stock-pool offers), written in the same transaction as the change
//! they tell of, numbered by `seq` (AUTOINCREMENT, so never reused) and marked acked
//! once the alliance server has them. Acked rows stay: the seq of the last one is what
//! keeps the next number from going back.
//!
//! Nothing derived from customers leaves the store unless at least k distinct
//! customers are behind it (the store's `[sharing] k`): only this crate's services
//! queue events, and each that carries sales figures applies the rule as it builds
//! them ([`queue_daily_sales`] here, [`crate::sharing::queue`]).

use linli_alliance::{CategorySales, DailySales, Event};
use rusqlite::{Connection, OptionalExtension, params};

/// Queue an event for the alliance, in the caller's transaction: its kind and payload
/// as `Event` declares them, so no caller spells a kind. Its seq, the place in the queue.
/// Private to the store's services, which apply the k rule to what they queue.
pub(crate) fn queue(conn: &Connection, at: i64, event: &Event) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO outbox (at, kind, payload) VALUES (?1, ?2, ?3)")?
        .execute(params![at, event.kind(), event.to_payload()])?;
    Ok(conn.last_insert_rowid())
}

/// One event waiting for the alliance.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    /// JSON text.
    pub payload: String,
}

/// The oldest `limit` events not acknowledged, in seq order.
pub fn pending(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Pending>> {
    conn.prepare_cached(
        "SELECT seq, at, kind, payload FROM outbox WHERE acked = 0 ORDER BY seq LIMIT ?1",
    )?
    .query_map([limit as i64], |row| {
        Ok(Pending {
            seq: row.get(0)?,
            at: row.get(1)?,
            kind: row.get(2)?,
            payload: row.get(3)?,
        })
    })?
    .collect()
}

/// How many events wait for the alliance.
pub fn pending_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM outbox WHERE acked = 0")?
        .query_row([], |row| row.get(0))
}

/// Mark every event up to `seq` acknowledged; how many were not yet.
pub fn acknowledge(conn: &Connection, seq: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE outbox SET acked = 1 WHERE acked = 0 AND seq <= ?1")?
        .execute(params![seq])
}

/// Mark every event after `seq` waiting again, so sync sends it again: the server
/// acknowledged less than it once did (its data was restored from an older copy). How
/// many events wait again.
pub fn resend_after(conn: &Connection, seq: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE outbox SET acked = 0 WHERE acked = 1 AND seq > ?1")?
        .execute(params![seq])
}

/// The `meta` key of the last store day whose sales are queued.
const DAILY_SALES_THROUGH: &str = "outbox.daily-sales-through";

/// Queue the sales of every store day that ended since the last one queued, one event
/// per day (categories with their sales, units and revenue), in one transaction with
/// the record of how far it got, so no day is queued twice. A category bought by fewer
/// than `k` distinct customers that day (a sale without a card counts as one) is left
/// out: its figures never leave the store. A store queues from the day it first runs
/// this on: its older history stays local. How many days were queued.
pub fn queue_daily_sales(
    conn: &mut Connection,
    zone: &jiff::tz::TimeZone,
    k: u32,
    now: i64,
) -> Result<usize, String> {
    let today = jiff::Timestamp::from_millisecond(now)
        .map_err(|err| format!("time {now}: {err}"))?
        .to_zoned(zone.clone())
        .date();
    let start = |day: jiff::civil::Date| -> Result<i64, String> {
        Ok(day
            .to_zoned(zone.clone())
            .map_err(|err| format!("day {day}: {err}"))?
            .timestamp()
            .as_millisecond())
    };
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|err| err.to_string())?;
    let through: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [DAILY_SALES_THROUGH],
            |row| row.get(0),
        )
        .optional()
        .map_err(|err| err.to_string())?;
    let mut day = match through {
        Some(through) => through
            .parse::<jiff::civil::Date>()
            .and_then(|through| through.tomorrow())
            .map_err(|err| format!("meta {DAILY_SALES_THROUGH} = {through:?}: {err}"))?,
        None => today,
    };
    let mut queued = 0;
    while day < today {
        let next = day.tomorrow().map_err(|err| format!("day {day}: {err}"))?;
        let (from, to) = (start(day)?, start(next)?);
        let categories: Vec<CategorySales> = tx
            .prepare_cached(
                "SELECT sku.category, COUNT(DISTINCT sale.sale), SUM(sale_line.qty), \
                 SUM(sale_line.qty * sale_line.unit_price) \
                 FROM sale JOIN sale_line ON sale_line.sale = sale.sale \
                 JOIN sku ON sku.sku = sale_line.sku \
                 WHERE sale.at >= ?1 AND sale.at < ?2 GROUP BY sku.category \
                 HAVING COUNT(DISTINCT COALESCE('card ' || sale.customer, 'sale ' || sale.sale)) >= ?3 \
                 ORDER BY sku.category",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(params![from, to, k], |row| {
                        Ok(CategorySales {
                            category: row.get(0)?,
                            sales: row.get(1)?,
                            units: row.get(2)?,
                            revenue: row.get(3)?,
                        })
                    })?
                    .collect()
            })
            .map_err(|err| err.to_string())?;
        let sales = DailySales {
            day: day.to_string(),
            categories,
        };
        queue(&tx, now, &Event::DailySales(sales)).map_err(|err| err.to_string())?;
        queued += 1;
        day = next;
    }
    let through = day
        .yesterday()
        .map_err(|err| format!("day {day}: {err}"))?
        .to_string();
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![DAILY_SALES_THROUGH, through],
    )
    .and_then(|_| tx.commit())
    .map_err(|err| err.to_string())?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn each_ended_day_is_queued_once_with_its_sales_per_category() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::open(dir.path()).unwrap();
        let zone = jiff::tz::TimeZone::UTC;
        // 2026-03-10 00:00 UTC.
        let monday = 1_773_100_800_000;
        assert_eq!(
            queue_daily_sales(&mut conn, &zone, 2, monday + 3_600_000).unwrap(),
            0
        );
        conn.execute_batch(
            "INSERT INTO sku (sku, name, category, unit_price) VALUES
                 ('MILK', 'milk', 'dairy', 100), ('KALE', 'kale', 'greens', 50);",
        )
        .unwrap();
        for (at, customer, lines) in [
            (monday + 1000, None, &[("MILK", 2)][..]),
            (monday + 2000, None, &[("MILK", 1), ("KALE", 3)]),
            (monday + 3000, Some("m-1"), &[("KALE", 1)]),
            (monday + DAY + 1000, None, &[("KALE", 1)]),
        ] {
            crate::sales::sell_for_test(&conn, at, customer, "walk-in", lines);
        }
        // Monday ended; Tuesday has not.
        assert_eq!(
            queue_daily_sales(&mut conn, &zone, 2, monday + DAY + 5000).unwrap(),
            1
        );
        assert_eq!(
            queue_daily_sales(&mut conn, &zone, 2, monday + DAY + 9000).unwrap(),
            0
        );
        // Days later: Tuesday, and Wednesday with no sales.
        assert_eq!(
            queue_daily_sales(&mut conn, &zone, 2, monday + 3 * DAY).unwrap(),
            2
        );
        let queued = pending(&conn, 10).unwrap();
        assert_eq!(queued.len(), 3);
        assert!(queued.iter().all(|event| event.kind == Event::DAILY_SALES));
        let monday: serde_json::Value = serde_json::from_str(&queued[0].payload).unwrap();
        assert_eq!(
            monday,
            serde_json::json!({"day": "2026-03-10", "categories": [
                {"category": "dairy", "sales": 2, "units": 3, "revenue": 300},
                {"category": "greens", "sales": 2, "units": 4, "revenue": 200},
            ]})
        );
        // The server acknowledges all, then loses the last two (restored from a backup).
        assert_eq!(acknowledge(&conn, 3).unwrap(), 3);
        assert_eq!(pending_count(&conn).unwrap(), 0);
        assert_eq!(resend_after(&conn, 1).unwrap(), 2);
        let again: Vec<i64> = pending(&conn, 10)
            .unwrap()
            .iter()
            .map(|event| event.seq)
            .collect();
        assert_eq!(again, [2, 3]);
        let wednesday: serde_json::Value = serde_json::from_str(&queued[2].payload).unwrap();
        assert_eq!(
            wednesday,
            serde_json::json!({"day": "2026-03-12", "categories": []})
        );
    }

    #[test]
    fn a_category_bought_by_fewer_than_k_customers_never_leaves_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::open(dir.path()).unwrap();
        let zone = jiff::tz::TimeZone::UTC;
        // 2026-03-10 00:00 UTC.
        let tuesday = 1_773_100_800_000;
        queue_daily_sales(&mut conn, &zone, 3, tuesday).unwrap();
        conn.execute_batch(
            "INSERT INTO sku (sku, name, category, unit_price) VALUES
                 ('SOAP', 'soap', 'household', 1140), ('MILK', 'milk', 'dairy', 100),
                 ('KALE', 'kale', 'greens', 50), ('BUN', 'bun', 'bakery', 80);",
        )
        .unwrap();
        let sell = |at: i64, customer: Option<&str>, sku: &str| {
            crate::sales::sell_for_test(&conn, tuesday + at, customer, "member", &[(sku, 1)]);
        };
        // One sale of soap.
        sell(1000, None, "SOAP");
        // One member buying milk three times.
        for at in [2000, 3000, 4000] {
            sell(at, Some("m-1"), "MILK");
        }
        // Three members buying kale; three sales of buns without a card.
        for (at, member) in [(5000, "m-1"), (6000, "m-2"), (7000, "m-3")] {
            sell(at, Some(member), "KALE");
            sell(at + 1, None, "BUN");
        }
        assert_eq!(
            queue_daily_sales(&mut conn, &zone, 3, tuesday + DAY).unwrap(),
            1
        );
        let queued = pending(&conn, 10).unwrap();
        let day: serde_json::Value = serde_json::from_str(&queued[0].payload).unwrap();
        assert_eq!(
            day,
            serde_json::json!({"day": "2026-03-10", "categories": [
                {"category": "bakery", "sales": 3, "units": 3, "revenue": 240},
                {"category": "greens", "sales": 3, "units": 3, "revenue": 150},
            ]})
        );
    }
}
