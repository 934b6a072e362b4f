//! The store's stock and sales as the `inventory-read` and `sales-read` capabilities
//! show them to plugins: batches of a SKU, and daily aggregates — never single sales or
//! customers.

use jiff::tz::TimeZone;
use linli_runtime::capabilities::inventory::{BatchStock, InventoryReader, SkuStock};
use linli_runtime::capabilities::sales::{DailySales, SalesReader, SalesScope};
use rusqlite::{Connection, params};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Stock from the store database.
pub struct SqliteInventory {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteInventory {
    pub fn new(conn: Arc<Mutex<Connection>>) -> SqliteInventory {
        SqliteInventory { conn }
    }
}

impl InventoryReader for SqliteInventory {
    fn stock(&self, sku: &str) -> Result<Option<SkuStock>, String> {
        let conn = crate::lock(&self.conn);
        if super::catalogue::sku(&conn, sku)
            .map_err(|err| err.to_string())?
            .is_none()
        {
            return Ok(None);
        }
        let batches: Vec<BatchStock> = super::catalogue::batches(&conn, sku)
            .map_err(|err| err.to_string())?
            .into_iter()
            .map(|batch| BatchStock {
                batch: batch.batch,
                qty: batch.qty_on_hand,
                received_at: batch.received_at,
                expires_at: batch.expires_at,
            })
            .collect();
        Ok(Some(SkuStock {
            sku: sku.to_string(),
            on_hand: on_hand(&batches),
            batches,
        }))
    }
}

/// A SKU's units on hand over its batches, for `inventory-read`'s `on-hand: u32`. A
/// delivery that would take a SKU past `u32::MAX` units is refused
/// (`inventory::receive`), but units arriving from the alliance's pool cannot be: past
/// it, the count stays at `u32::MAX` (as the WIT documents), never wraps.
fn on_hand(batches: &[BatchStock]) -> u32 {
    let units: u64 = batches.iter().map(|batch| u64::from(batch.qty)).sum();
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// Daily sales aggregates from the store database, by the store's local days.
pub struct SqliteSales {
    conn: Arc<Mutex<Connection>>,
    zone: TimeZone,
}

impl SqliteSales {
    pub fn new(conn: Arc<Mutex<Connection>>, zone: TimeZone) -> SqliteSales {
        SqliteSales { conn, zone }
    }
}

impl SalesReader for SqliteSales {
    fn daily(
        &self,
        scope: SalesScope,
        name: &str,
        days: u32,
        now: i64,
    ) -> Result<Vec<DailySales>, String> {
        let days = days.max(1);
        let today = jiff::Timestamp::from_millisecond(now)
            .map_err(|err| err.to_string())?
            .to_zoned(self.zone.clone())
            .date();
        let first = today
            .checked_sub(jiff::Span::new().days(i64::from(days - 1)))
            .map_err(|err| err.to_string())?;
        let start = |date: jiff::civil::Date| -> Result<i64, String> {
            Ok(date
                .to_zoned(self.zone.clone())
                .map_err(|err| err.to_string())?
                .timestamp()
                .as_millisecond())
        };
        let from = start(first)?;
        let to = start(today.tomorrow().map_err(|err| err.to_string())?)?;
        let sql = match scope {
            SalesScope::Sku => {
                "SELECT sale.sale, sale.at, sale_line.qty, sale_line.unit_price \
                 FROM sale_line JOIN sale ON sale.sale = sale_line.sale \
                 WHERE sale_line.sku = ?1 AND sale.at >= ?2 AND sale.at < ?3"
            }
            SalesScope::Category => {
                "SELECT sale.sale, sale.at, sale_line.qty, sale_line.unit_price \
                 FROM sale_line JOIN sale ON sale.sale = sale_line.sale \
                 JOIN sku ON sku.sku = sale_line.sku \
                 WHERE sku.category = ?1 AND sale.at >= ?2 AND sale.at < ?3"
            }
        };
        #[derive(Default)]
        struct Day {
            units: u64,
            revenue: i64,
            baskets: BTreeSet<i64>,
        }
        let mut by_day: BTreeMap<String, Day> = BTreeMap::new();
        {
            let conn = crate::lock(&self.conn);
            let mut statement = conn.prepare_cached(sql).map_err(|err| err.to_string())?;
            let rows = statement
                .query_map(params![name, from, to], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, u32>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })
                .map_err(|err| err.to_string())?;
            for row in rows {
                let (sale, at, qty, unit_price) = row.map_err(|err| err.to_string())?;
                let day = jiff::Timestamp::from_millisecond(at)
                    .map_err(|err| err.to_string())?
                    .to_zoned(self.zone.clone())
                    .date()
                    .to_string();
                let entry = by_day.entry(day).or_default();
                entry.units += u64::from(qty);
                entry.revenue = unit_price
                    .checked_mul(i64::from(qty))
                    .and_then(|line| entry.revenue.checked_add(line))
                    .ok_or_else(|| format!("{name}: a day's revenue past {} cents", i64::MAX))?;
                entry.baskets.insert(sale);
            }
        }
        let mut out = Vec::with_capacity(days as usize);
        let mut date = first;
        for _ in 0..days {
            let key = date.to_string();
            let day = by_day.remove(&key).unwrap_or_default();
            // `units` and `baskets` are u32 in the WIT: a day past it says u32::MAX.
            out.push(DailySales {
                day: key,
                units: u32::try_from(day.units).unwrap_or(u32::MAX),
                revenue: day.revenue,
                baskets: u32::try_from(day.baskets.len()).unwrap_or(u32::MAX),
            });
            date = date.tomorrow().map_err(|err| err.to_string())?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{self, Batch, Sku};
    use crate::sales::{self, Buyer, SoldLine};

    const DAY: i64 = 86_400_000;
    // 2026-11-20T12:00:00Z
    const NOON: i64 = 1_795_176_000_000;

    fn store() -> (tempfile::TempDir, Arc<Mutex<Connection>>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(dir.path()).unwrap();
        for (sku, category) in [
            ("TEA", "drinks"),
            ("COFFEE", "drinks"),
            ("SOAP", "household"),
        ] {
            catalogue::insert_sku(
                &conn,
                &Sku {
                    sku: sku.into(),
                    name: sku.into(),
                    category: category.into(),
                    unit_price: 500,
                    local_produce: false,
                    fresh: false,
                    reusable_box: false,
                },
            )
            .unwrap();
            for (index, received) in [NOON - 5 * DAY, NOON - 2 * DAY].into_iter().enumerate() {
                catalogue::receive(
                    &conn,
                    &Batch {
                        batch: format!("{sku}-{index}"),
                        sku: sku.into(),
                        supplier: None,
                        received_at: received,
                        expires_at: Some(received + 30 * DAY),
                        qty_received: 50,
                        qty_on_hand: 50,
                    },
                )
                .unwrap();
            }
        }
        (dir, Arc::new(Mutex::new(conn)))
    }

    fn sell(conn: &Arc<Mutex<Connection>>, at: i64, lines: &[(&str, u32)]) {
        let conn = conn.lock().unwrap();
        let lines: Vec<SoldLine> = lines
            .iter()
            .map(|(sku, qty)| SoldLine {
                sku: sku.to_string(),
                batch: format!("{sku}-0"),
                qty: *qty,
                shelf_price: 500,
                unit_price: 450,
            })
            .collect();
        let buyer = Buyer {
            pseudonym: None,
            cohort: "walk-in",
        };
        sales::record(&conn, at, buyer, &lines, &[]).unwrap();
    }

    #[test]
    fn stock_is_the_batches_with_units_oldest_first() {
        let (_dir, conn) = store();
        sell(&conn, NOON, &[("TEA", 50)]);
        let stock = SqliteInventory::new(conn).stock("TEA").unwrap().unwrap();
        assert_eq!(stock.on_hand, 50);
        assert_eq!(stock.batches.len(), 1, "the sold-out batch is gone");
        assert_eq!(stock.batches[0].batch, "TEA-1");
        let (_dir, conn) = store();
        assert!(SqliteInventory::new(conn).stock("NOPE").unwrap().is_none());
    }

    #[test]
    fn on_hand_past_a_u32_stays_at_the_most_a_u32_holds() {
        let batch = |qty| BatchStock {
            batch: "B".into(),
            qty,
            received_at: 0,
            expires_at: None,
        };
        assert_eq!(on_hand(&[batch(3), batch(4)]), 7);
        assert_eq!(on_hand(&[batch(u32::MAX), batch(u32::MAX)]), u32::MAX);
        let (_dir, conn) = store();
        {
            let conn = conn.lock().unwrap();
            catalogue::receive(
                &conn,
                &Batch {
                    batch: "TEA-big".into(),
                    sku: "TEA".into(),
                    supplier: Some("alliance:other".into()),
                    received_at: NOON,
                    expires_at: None,
                    qty_received: u32::MAX,
                    qty_on_hand: u32::MAX,
                },
            )
            .unwrap();
        }
        let stock = SqliteInventory::new(conn).stock("TEA").unwrap().unwrap();
        assert_eq!(stock.on_hand, u32::MAX);
        assert_eq!(stock.batches.len(), 3);
    }

    #[test]
    fn a_days_revenue_past_i64_is_an_error_not_a_wrapped_figure() {
        let (_dir, conn) = store();
        {
            let conn = conn.lock().unwrap();
            for sale in 0..2 {
                conn.execute(
                    "INSERT INTO sale (at, customer, cohort, total) VALUES (?1, NULL, 'walk-in', 0)",
                    [NOON],
                )
                .unwrap();
                let id = conn.last_insert_rowid();
                conn.execute(
                    "INSERT INTO sale_line (sale, line, sku, batch, qty, shelf_price, unit_price) \
                     VALUES (?1, 0, 'TEA', 'TEA-0', 1, 1, ?2)",
                    params![id, i64::MAX - sale],
                )
                .unwrap();
            }
        }
        let reader = SqliteSales::new(conn, TimeZone::UTC);
        let err = reader.daily(SalesScope::Sku, "TEA", 1, NOON).unwrap_err();
        assert!(err.contains("revenue past"), "{err}");
    }

    #[test]
    fn daily_sales_count_local_days_units_revenue_and_baskets_with_empty_days() {
        let (_dir, conn) = store();
        sell(&conn, NOON - DAY, &[("TEA", 2), ("SOAP", 1)]);
        sell(&conn, NOON - DAY + 3_600_000, &[("TEA", 1), ("COFFEE", 3)]);
        sell(&conn, NOON, &[("COFFEE", 1)]);
        // 23:30 in Shanghai on the 20th is the 21st there: outside a window ending on the 20th.
        sell(&conn, NOON + 12 * 3_600_000 - 30 * 60_000, &[("TEA", 5)]);
        let shanghai =
            TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::fixed(jiff::tz::offset(8)));
        let reader = SqliteSales::new(conn, shanghai);
        let tea = reader.daily(SalesScope::Sku, "TEA", 3, NOON).unwrap();
        let days: Vec<&str> = tea.iter().map(|day| day.day.as_str()).collect();
        assert_eq!(days, ["2026-11-18", "2026-11-19", "2026-11-20"]);
        assert_eq!((tea[1].units, tea[1].revenue, tea[1].baskets), (3, 1350, 2));
        assert_eq!((tea[0].units, tea[2].units), (0, 0));
        let drinks = reader
            .daily(SalesScope::Category, "drinks", 2, NOON)
            .unwrap();
        assert_eq!((drinks[0].units, drinks[0].baskets), (6, 2));
        assert_eq!((drinks[1].units, drinks[1].baskets), (1, 1));
        let today = reader
            .daily(SalesScope::Sku, "TEA", 1, NOON + 12 * 3_600_000)
            .unwrap();
        assert_eq!((today[0].day.as_str(), today[0].units), ("2026-11-21", 5));
    }
}
