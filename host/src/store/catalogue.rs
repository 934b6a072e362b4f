//! SKUs and their batches: what the store sells, what it has, and which batch a sale
//! takes units from (FIFO: the oldest unexpired batch first).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A product the store sells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
pub struct Allocation {
    pub batch: String,
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

/// Batches of a SKU with stock, oldest first (the order they are sold in).
pub fn batches(conn: &Connection, sku: &str) -> rusqlite::Result<Vec<Batch>> {
    let mut statement = conn.prepare_cached(select_batch!(
        "WHERE sku = ?1 AND qty_on_hand > 0 ORDER BY received_at, batch"
    ))?;
    let rows = statement.query_map([sku], batch_row)?;
    rows.collect()
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

/// Take `qty` units of `sku` FIFO from its unexpired batches at `now`, after the units
/// `consumed` already took from them (earlier lines of the same basket); `Err(available)`
/// when there are not enough.
pub fn allocate(
    conn: &Connection,
    sku: &str,
    qty: u32,
    now: i64,
    consumed: &mut HashMap<String, u32>,
) -> rusqlite::Result<Result<Vec<Allocation>, u32>> {
    let mut left = qty;
    let mut taken = Vec::new();
    let mut available = 0u32;
    for batch in batches(conn, sku)? {
        // Expired stock is not for sale: it waits for a write-off.
        if batch.expires_at.is_some_and(|expires| expires <= now) {
            continue;
        }
        let used = consumed.get(&batch.batch).copied().unwrap_or(0);
        let free = batch.qty_on_hand.saturating_sub(used);
        available = available.saturating_add(free);
        let take = left.min(free);
        if take == 0 {
            continue;
        }
        left -= take;
        taken.push(Allocation {
            batch: batch.batch,
            qty: take,
            expires_at: batch.expires_at,
        });
    }
    if left > 0 {
        return Ok(Err(available));
    }
    for allocation in &taken {
        *consumed.entry(allocation.batch.clone()).or_default() += allocation.qty;
    }
    Ok(Ok(taken))
}

/// Take units out of a batch (a sale); the CHECK constraint refuses going negative.
pub fn take(conn: &Connection, batch: &str, qty: u32) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE batch SET qty_on_hand = qty_on_hand - ?2 WHERE batch = ?1")?
        .execute(params![batch, qty])?;
    Ok(())
}
