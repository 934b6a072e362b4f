//! Elderly deliveries (代购+送达): the basket a delivery plugin plans from, the plan
//! recorded, the deliveries in progress (emergencies first), and marking one delivered.

use crate::{ServiceError, catalogue, text};
use linli_runtime::DeliveryPlan;
use linli_runtime::bindings::types::BasketLine;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A delivery and the plugin's plan for it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PlannedDelivery))]
pub struct Planned {
    pub delivery: String,
    pub customer: String,
    pub emergency: bool,
    pub requested_at: i64,
    pub status: String,
    pub plan: DeliveryPlan,
}

/// The items of a requested delivery as the plugin plans them: each SKU from the
/// catalogue, with its price and category. `items` are (SKU, units) in request order.
pub fn basket<'a>(
    conn: &Connection,
    delivery: &str,
    items: impl IntoIterator<Item = (&'a str, u32)>,
) -> Result<Vec<BasketLine>, ServiceError> {
    text::id("delivery", delivery)?;
    let mut lines = Vec::new();
    for (index, (sku, qty)) in items.into_iter().enumerate() {
        text::id(&format!("items[{index}].sku"), sku)?;
        if qty == 0 {
            return Err(ServiceError::Invalid(format!(
                "items[{index}].qty: 0; an item is at least 1 unit"
            )));
        }
        let sku = catalogue::sku(conn, sku)?.ok_or_else(|| {
            ServiceError::NotFound(format!("items[{index}].sku: {sku} is not in the catalogue"))
        })?;
        lines.push(BasketLine {
            sku: sku.sku,
            qty,
            unit_price: sku.unit_price,
            category: sku.category,
            local_produce: sku.local_produce,
            batch: None,
            expires_at: None,
        });
    }
    if lines.is_empty() {
        return Err(ServiceError::Invalid(
            "items: empty; a delivery brings at least one item".into(),
        ));
    }
    Ok(lines)
}

/// Record a planned delivery; a delivery id is recorded once.
pub fn record(conn: &Connection, planned: Planned) -> Result<Planned, ServiceError> {
    let plan = serde_json::to_string(&planned.plan).expect("plans serialise");
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO delivery (delivery, customer, emergency, priority, requested_at, eta, plan) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            planned.delivery,
            planned.customer,
            planned.emergency,
            format!("{:?}", planned.plan.priority),
            planned.requested_at,
            planned.plan.eta,
            plan
        ],
    )?;
    if inserted == 0 {
        return Err(ServiceError::Conflict(format!(
            "delivery: {} already exists",
            planned.delivery
        )));
    }
    Ok(planned)
}

/// Deliveries not yet delivered: emergencies first, then by arrival time.
pub fn in_progress(conn: &Connection) -> Result<Vec<Planned>, ServiceError> {
    let mut statement = conn.prepare_cached(
        "SELECT delivery, customer, emergency, requested_at, status, plan FROM delivery \
         WHERE status = 'planned' ORDER BY emergency DESC, eta IS NULL, eta, requested_at",
    )?;
    let rows = statement.query_map([], |row| {
        let plan: String = row.get(5)?;
        Ok((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            plan,
        ))
    })?;
    let mut listed = Vec::new();
    for row in rows {
        let (delivery, customer, emergency, requested_at, status, plan) = row?;
        let plan = serde_json::from_str(&plan).map_err(|err| {
            ServiceError::Corrupt(format!("delivery {delivery}: stored plan: {err}"))
        })?;
        listed.push(Planned {
            delivery,
            customer,
            emergency,
            requested_at,
            status,
            plan,
        });
    }
    Ok(listed)
}

/// Mark a delivery delivered, once.
pub fn delivered(conn: &Connection, delivery: &str, now: i64) -> Result<(), ServiceError> {
    let status: Option<String> = conn
        .query_row(
            "SELECT status FROM delivery WHERE delivery = ?1",
            [delivery],
            |row| row.get(0),
        )
        .optional()?;
    match status.as_deref() {
        None => Err(ServiceError::NotFound(format!(
            "delivery {delivery}: no such delivery"
        ))),
        Some("delivered") => Err(ServiceError::Conflict(format!(
            "delivery {delivery}: already delivered"
        ))),
        Some(_) => {
            conn.execute(
                "UPDATE delivery SET status = 'delivered', delivered_at = ?2 WHERE delivery = ?1",
                params![delivery, now],
            )?;
            Ok(())
        }
    }
}
