//! Stock coming in and going out other than by a sale: a supplier's delivery received
//! as a new batch, and units leaving a batch (a transfer to another store, a write-off),
//! each recorded as a stock movement that the batch trace lists.

use crate::catalogue::{self, Batch};
use crate::{ServiceError, text};
use rusqlite::Connection;

/// A supplier's delivery of one SKU.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub sku: &'a str,
    pub qty: u32,
    /// The batch code on the delivery; made up from the SKU and time when absent.
    pub batch: Option<&'a str>,
    pub supplier: Option<&'a str>,
    pub expires_at: Option<i64>,
}

/// Receive a delivery as a new batch: units of a SKU in the catalogue, not expired, a
/// batch code not received before.
pub fn receive(
    conn: &mut Connection,
    delivery: Delivery<'_>,
    now: i64,
) -> Result<Batch, ServiceError> {
    if delivery.qty == 0 {
        return Err(ServiceError::Invalid(
            "qty: a delivery brings at least 1 unit".into(),
        ));
    }
    if delivery.expires_at.is_some_and(|expires| expires <= now) {
        return Err(ServiceError::Invalid(
            "expires_at: the delivery is already expired; refuse it at the door".into(),
        ));
    }
    text::id("sku", delivery.sku)?;
    if let Some(batch) = delivery.batch {
        text::id("batch", batch)?;
    }
    if let Some(supplier) = delivery.supplier {
        text::id("supplier", supplier)?;
    }
    if catalogue::sku(conn, delivery.sku)?.is_none() {
        return Err(ServiceError::NotFound(format!(
            "sku: {} is not in the catalogue",
            delivery.sku
        )));
    }
    // A SKU's units on hand are a u32 where plugins read them (`inventory-read`): a
    // delivery that would take them past it is refused rather than counted wrong.
    let on_hand: u64 = catalogue::batches(conn, delivery.sku)?
        .iter()
        .map(|batch| u64::from(batch.qty_on_hand))
        .sum();
    if on_hand + u64::from(delivery.qty) > u64::from(u32::MAX) {
        return Err(ServiceError::Invalid(format!(
            "qty: {} more units of {} would make {} on hand, more than {}",
            delivery.qty,
            delivery.sku,
            on_hand + u64::from(delivery.qty),
            u32::MAX
        )));
    }
    let batch = Batch {
        batch: delivery
            .batch
            .map_or_else(|| format!("{}-{now}", delivery.sku), str::to_string),
        sku: delivery.sku.to_string(),
        supplier: delivery.supplier.map(str::to_string),
        received_at: now,
        expires_at: delivery.expires_at,
        qty_received: delivery.qty,
        qty_on_hand: delivery.qty,
    };
    let tx = conn.transaction()?;
    if catalogue::batch(&tx, &batch.batch)?.is_some() {
        return Err(ServiceError::Conflict(format!(
            "batch: {} was already received",
            batch.batch
        )));
    }
    catalogue::receive(&tx, &batch)?;
    tx.commit()?;
    Ok(batch)
}

/// Units leaving a batch without a sale.
#[derive(Debug, Clone, Copy)]
pub struct Outflow<'a> {
    pub qty: u32,
    /// The stock movement's reason: `transfer-out` or `write-off`.
    pub reason: &'a str,
    /// Where the units went and why, as the batch trace shows it.
    pub reference: Option<&'a str>,
}

/// Move units out of a batch, no more than it has on hand; the batch after.
pub fn move_out(
    conn: &mut Connection,
    batch: &str,
    out: Outflow<'_>,
    now: i64,
) -> Result<Batch, ServiceError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found = catalogue::batch(&tx, batch)?
        .ok_or_else(|| ServiceError::NotFound(format!("batch {batch}: no such batch")))?;
    if found.qty_on_hand < out.qty {
        return Err(ServiceError::Conflict(format!(
            "qty: {} units to move, {} on hand in batch {batch}",
            out.qty, found.qty_on_hand
        )));
    }
    catalogue::take(&tx, batch, out.qty)?;
    catalogue::record_movement(
        &tx,
        now,
        batch,
        -i64::from(out.qty),
        out.reason,
        out.reference,
    )?;
    let moved = catalogue::batch(&tx, batch)?.expect("the batch just moved");
    tx.commit()?;
    Ok(moved)
}
