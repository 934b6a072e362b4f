//! SKUs and their batches: what the store sells, what it has, and which batch a sale
//! takes units from (FIFO: the oldest unexpired batch first).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A product the store sells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sku {
    pub sku: String,
    pub name: String,
    pub category: String,
    /// Shelf price of one unit, in cents.
    pub unit_price: i64,
    pub local_produce: bool,
    pub fresh: bool,
    pub reusable_box: bool,
}

/// Units of a SKU received together, with their expiry (times in unix milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Batch {
    pub batch: String,
    pub sku: String,
    pub supplier: Option<String>,
    pub received_at: i64,
    pub expires_at: Option<i64>,
    pub qty_received: u32,
    pub qty_on_hand: u32,
}

/// Units of one batch taken for a basket line.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation<'a> {
    pub batch: &'a str,
    pub qty: u32,
    pub expires_at: Option<i64>,
}

/// `SELECT` of the columns `sku_row` reads, followed by `$rest`.
macro_rules! select_sku {
    ($rest:literal) => {
        concat!(
            "SELECT sku, name, category, unit_price, local_produce, fresh, reusable_box FROM sku ",
            $rest
        )
    };
}

/// `SELECT` of the columns `batch_row` reads, followed by `$rest`.
macro_rules! select_batch {
    ($rest:literal) => {
        concat!(
            "SELECT batch, sku, supplier, received_at, expires_at, qty_received, qty_on_hand FROM batch ",
            $rest
        )
    };
}

pub fn sku(conn: &Connection, sku: &str) -> rusqlite::Result<Option<Sku>> {
    let mut statement = conn.prepare_cached(select_sku!("WHERE sku = ?1"))?;
    statement.query_row([sku], sku_row).optional()
}

pub fn skus(conn: &Connection) -> rusqlite::Result<Vec<Sku>> {
    let mut statement = conn.prepare_cached(select_sku!("ORDER BY category, sku"))?;
    let rows = statement.query_map([], sku_row)?;
    rows.collect()
}

fn sku_row(row: &rusqlite::Row) -> rusqlite::Result<Sku> {
    Ok(Sku {
        sku: row.get(0)?,
        name: row.get(1)?,
        category: row.get(2)?,
        unit_price: row.get(3)?,
        local_produce: row.get(4)?,
        fresh: row.get(5)?,
        reusable_box: row.get(6)?,
    })
}

pub fn insert_sku(conn: &Connection, sku: &Sku) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO sku (sku, name, category, unit_price, local_produce, fresh, reusable_box) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        sku.sku,
        sku.name,
        sku.category,
        sku.unit_price,
        sku.local_produce,
        sku.fresh,
        sku.reusable_box
    ])?;
    Ok(())
}

/// The statement `batches` runs.
const SKU_BATCHES: &str = select_batch!("WHERE sku = ?1 AND qty_on_hand > 0");

/// Batches of a SKU with stock, oldest first (the order they are sold in).
///
/// Sorted here, not by an `ORDER BY`: next to `sku = ?1` an `ORDER BY` makes SQLite
/// plan the statement again for every SKU bound to it, which was a fifth of a quote.
pub fn batches(conn: &Connection, sku: &str) -> rusqlite::Result<Vec<Batch>> {
    let mut statement = conn.prepare_cached(SKU_BATCHES)?;
    let mut batches = statement
        .query_map([sku], batch_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    sort_fifo(&mut batches);
    Ok(batches)
}

/// The order batches are sold in: oldest received first.
fn sort_fifo(batches: &mut [Batch]) {
    batches.sort_by(|a, b| (a.received_at, &a.batch).cmp(&(b.received_at, &b.batch)));
}

/// Batches with stock that expire before `before` (expired ones included), soonest
/// first.
pub fn expiring(conn: &Connection, before: i64) -> rusqlite::Result<Vec<Batch>> {
    let mut statement = conn.prepare_cached(select_batch!(
        "WHERE qty_on_hand > 0 AND expires_at IS NOT NULL AND expires_at < ?1 \
         ORDER BY expires_at, batch"
    ))?;
    let rows = statement.query_map([before], batch_row)?;
    rows.collect()
}

pub fn batch(conn: &Connection, batch: &str) -> rusqlite::Result<Option<Batch>> {
    let mut statement = conn.prepare_cached(select_batch!("WHERE batch = ?1"))?;
    statement.query_row([batch], batch_row).optional()
}

fn batch_row(row: &rusqlite::Row) -> rusqlite::Result<Batch> {
    Ok(Batch {
        batch: row.get(0)?,
        sku: row.get(1)?,
        supplier: row.get(2)?,
        received_at: row.get(3)?,
        expires_at: row.get(4)?,
        qty_received: row.get(5)?,
        qty_on_hand: row.get(6)?,
    })
}

/// Record a delivery: a new batch, and the stock movement that brought it in.
pub fn receive(conn: &Connection, batch: &Batch) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO batch (batch, sku, supplier, received_at, expires_at, qty_received, qty_on_hand) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        batch.batch,
        batch.sku,
        batch.supplier,
        batch.received_at,
        batch.expires_at,
        batch.qty_received
    ])?;
    record_movement(
        conn,
        batch.received_at,
        &batch.batch,
        i64::from(batch.qty_received),
        "received",
        None,
    )
}

pub fn record_movement(
    conn: &Connection,
    at: i64,
    batch: &str,
    delta: i64,
    reason: &str,
    reference: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO stock_movement (at, batch, delta, reason, reference) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at, batch, delta, reason, reference])?;
    Ok(())
}

/// A SKU and its batches with stock, oldest first.
#[derive(Debug, Clone)]
pub struct Stocked {
    pub sku: Sku,
    pub batches: Vec<Batch>,
}

/// Every SKU of the catalogue with its batches in stock (oldest first), by SKU.
pub type Stock = HashMap<String, Stocked>;

/// Every SKU joined to its batches with stock.
const STOCK: &str = "SELECT sku.sku, name, category, unit_price, local_produce, fresh, reusable_box, \
     batch, supplier, received_at, expires_at, qty_received, qty_on_hand \
     FROM sku LEFT JOIN batch ON batch.sku = sku.sku AND qty_on_hand > 0";

/// Read the whole stock: every SKU and its batches in stock, in one statement.
pub fn stock(conn: &Connection) -> rusqlite::Result<Stock> {
    let mut statement = conn.prepare_cached(STOCK)?;
    let mut rows = statement.query([])?;
    let mut found = Stock::new();
    while let Some(row) = rows.next()? {
        // A SKU's row repeats with each of its batches: read it the first time only.
        let name = row.get_ref(0)?.as_str()?;
        let entry = match found.get_mut(name) {
            Some(entry) => entry,
            None => {
                let sku = sku_row(row)?;
                found.entry(sku.sku.clone()).or_insert(Stocked {
                    sku,
                    batches: Vec::new(),
                })
            }
        };
        if let Some(batch) = row.get::<_, Option<String>>(7)? {
            entry.batches.push(Batch {
                batch,
                sku: entry.sku.sku.clone(),
                supplier: row.get(8)?,
                received_at: row.get(9)?,
                expires_at: row.get(10)?,
                qty_received: row.get(11)?,
                qty_on_hand: row.get(12)?,
            });
        }
    }
    for stocked in found.values_mut() {
        sort_fifo(&mut stocked.batches);
    }
    Ok(found)
}

/// The stock as the last reader saw it, kept in memory while the database's stock
/// version (bumped by triggers in the same transaction as any change to a SKU or a
/// batch) stays the same: a quote then reads one number instead of its basket's rows.
/// Whatever connection and snapshot asks, it gets the stock of that snapshot.
#[derive(Default)]
pub struct StockCache {
    kept: std::sync::Mutex<Option<(i64, std::sync::Arc<Stock>)>>,
}

impl StockCache {
    /// The stock `conn` sees (within a transaction: as of its snapshot).
    pub fn stock(&self, conn: &Connection) -> rusqlite::Result<std::sync::Arc<Stock>> {
        let version: i64 = conn
            .prepare_cached("SELECT version FROM stock_version")?
            .query_row([], |row| row.get(0))?;
        if let Some((kept, stock)) = &*crate::lock(&self.kept)
            && *kept == version
        {
            return Ok(stock.clone());
        }
        let stock = std::sync::Arc::new(stock(conn)?);
        // Only committed stock is kept: a write transaction's own changes may still be
        // rolled back, and a later commit could reach the same version with others.
        let writing = conn.transaction_state(Some("main"))? == rusqlite::TransactionState::Write;
        let mut kept = crate::lock(&self.kept);
        // Keep the newest: an older snapshot's reader may finish after a newer one's.
        if !writing && kept.as_ref().is_none_or(|(held, _)| *held < version) {
            *kept = Some((version, stock.clone()));
        }
        Ok(stock)
    }
}

/// Take `qty` units FIFO from the unexpired `batches` (oldest first) at `now`, after
/// the units `consumed` already took from them (earlier lines of the same basket);
/// `Err(available)` when there are not enough.
pub fn allocate<'a>(
    batches: &'a [Batch],
    qty: u32,
    now: i64,
    consumed: &mut HashMap<&'a str, u32>,
) -> Result<Vec<Allocation<'a>>, u32> {
    let mut left = qty;
    let mut taken = Vec::new();
    let mut available = 0u32;
    for batch in batches {
        // Expired stock is not for sale: it waits for a write-off.
        if batch.expires_at.is_some_and(|expires| expires <= now) {
            continue;
        }
        let used = consumed.get(batch.batch.as_str()).copied().unwrap_or(0);
        let free = batch.qty_on_hand.saturating_sub(used);
        available = available.saturating_add(free);
        let take = left.min(free);
        if take == 0 {
            continue;
        }
        left -= take;
        taken.push(Allocation {
            batch: &batch.batch,
            qty: take,
            expires_at: batch.expires_at,
        });
        // `available` only matters for the refusal, when the line cannot be filled.
        if left == 0 {
            break;
        }
    }
    if left > 0 {
        return Err(available);
    }
    for allocation in &taken {
        *consumed.entry(allocation.batch).or_default() += allocation.qty;
    }
    Ok(taken)
}

/// Take units out of a batch (a sale); the CHECK constraint refuses going negative.
pub fn take(conn: &Connection, batch: &str, qty: u32) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE batch SET qty_on_hand = qty_on_hand - ?2 WHERE batch = ?1")?
        .execute(params![batch, qty])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(batch: &str, received_at: i64) -> Batch {
        Batch {
            batch: batch.into(),
            sku: "MILK".into(),
            supplier: None,
            received_at,
            expires_at: None,
            qty_received: 5,
            qty_on_hand: 5,
        }
    }

    #[test]
    fn batches_come_oldest_first_from_statements_planned_once() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(dir.path()).unwrap();
        for sku in ["MILK", "EGGS"] {
            insert_sku(
                &conn,
                &Sku {
                    sku: sku.into(),
                    name: sku.into(),
                    category: "dairy".into(),
                    unit_price: 100,
                    local_produce: false,
                    fresh: true,
                    reusable_box: false,
                },
            )
            .unwrap();
        }
        for (name, at) in [("m-3", 30), ("m-1", 10), ("m-2b", 20), ("m-2a", 20)] {
            receive(&conn, &batch(name, at)).unwrap();
        }
        for sku in ["MILK", "EGGS", "MILK"] {
            let names: Vec<String> = batches(&conn, sku)
                .unwrap()
                .into_iter()
                .map(|batch| batch.batch)
                .collect();
            let want: &[&str] = if sku == "MILK" {
                &["m-1", "m-2a", "m-2b", "m-3"]
            } else {
                &[]
            };
            assert_eq!(names, want);
        }
        let statement = conn.prepare_cached(SKU_BATCHES).unwrap();
        assert_eq!(
            statement.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "new SKUs bound to the statement must not re-plan it"
        );
    }

    /// The names of a stock's SKUs and their batches, sorted.
    fn names(stock: &Stock) -> Vec<(String, Vec<String>)> {
        let mut found: Vec<(String, Vec<String>)> = stock
            .values()
            .map(|s| {
                let batches = s.batches.iter().map(|b| b.batch.clone()).collect();
                (s.sku.sku.clone(), batches)
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn the_kept_stock_follows_every_change_and_every_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = crate::open(dir.path()).unwrap();
        let reader = crate::open(dir.path()).unwrap();
        let cache = StockCache::default();
        let milk = Sku {
            sku: "MILK".into(),
            name: "milk".into(),
            category: "dairy".into(),
            unit_price: 100,
            local_produce: false,
            fresh: true,
            reusable_box: false,
        };
        insert_sku(&writer, &milk).unwrap();
        assert_eq!(
            names(&cache.stock(&reader).unwrap()),
            [("MILK".into(), vec![])]
        );
        receive(&writer, &batch("m-2", 20)).unwrap();
        receive(&writer, &batch("m-1", 10)).unwrap();
        let stock = cache.stock(&reader).unwrap();
        assert_eq!(
            names(&stock),
            [("MILK".into(), vec!["m-1".into(), "m-2".into()])]
        );
        assert!(
            std::sync::Arc::ptr_eq(&stock, &cache.stock(&reader).unwrap()),
            "unchanged stock is served from memory"
        );

        // A reader in a snapshot taken before a sale keeps seeing the stock of its
        // snapshot; the writer sees the sale at once, uncommitted, and so do readers
        // after the commit.
        let snapshot = reader.unchecked_transaction().unwrap();
        assert_eq!(
            cache.stock(&snapshot).unwrap()["MILK"].batches[0].qty_on_hand,
            5
        );
        let sale = writer.transaction().unwrap();
        take(&sale, "m-1", 5).unwrap();
        assert_eq!(names(&cache.stock(&sale).unwrap())[0].1, ["m-2"]);
        sale.commit().unwrap();
        assert_eq!(cache.stock(&snapshot).unwrap()["MILK"].batches.len(), 2);
        snapshot.rollback().unwrap();
        assert_eq!(names(&cache.stock(&reader).unwrap())[0].1, ["m-2"]);

        // A rolled-back change leaves the stock as it was.
        let undone = writer.transaction().unwrap();
        insert_sku(
            &undone,
            &Sku {
                sku: "EGGS".into(),
                ..milk.clone()
            },
        )
        .unwrap();
        assert_eq!(cache.stock(&undone).unwrap().len(), 2);
        undone.rollback().unwrap();
        assert_eq!(cache.stock(&reader).unwrap().len(), 1);
        // A commit that reaches the rolled-back change's version is read anew.
        insert_sku(
            &writer,
            &Sku {
                sku: "BREAD".into(),
                ..milk.clone()
            },
        )
        .unwrap();
        assert!(cache.stock(&reader).unwrap().contains_key("BREAD"));

        let plan: Vec<String> = reader
            .prepare(&format!("EXPLAIN QUERY PLAN {STOCK}"))
            .unwrap()
            .query_map([], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN batch")),
            "batches are found by SKU: {plan:?}"
        );
    }

    #[test]
    fn allocation_is_fifo_skips_expired_batches_and_counts_earlier_lines() {
        let mut old = batch("old", 10);
        old.qty_on_hand = 2;
        let mut expired = batch("expired", 5);
        expired.expires_at = Some(100);
        let batches = [expired, old, batch("new", 20)];
        let mut consumed = HashMap::new();
        let first = allocate(&batches, 3, 100, &mut consumed).unwrap();
        let taken: Vec<(&str, u32)> = first.iter().map(|a| (a.batch, a.qty)).collect();
        assert_eq!(taken, [("old", 2), ("new", 1)]);
        // A second line of the same SKU sees what the first took: 4 left in `new`.
        assert_eq!(allocate(&batches, 5, 100, &mut consumed).unwrap_err(), 4);
        assert_eq!(allocate(&batches, 4, 100, &mut consumed).unwrap()[0].qty, 4);
    }
}
