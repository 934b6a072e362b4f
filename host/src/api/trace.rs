//! Batch trace: every sale and stock movement of a batch, and the pseudonyms to notify —
//! answered from the `sale_line(batch)` and `stock_movement(batch)` indexes.

use super::{ApiError, AppState};
use crate::store::catalogue::{self, Batch};
use crate::store::sales::{self, Movement, TracedSale};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::BTreeSet;

pub fn reading() -> Router<AppState> {
    Router::new().route("/trace/batches/{batch}", get(trace_batch))
}

#[derive(Serialize)]
struct Trace {
    batch: Batch,
    sales: Vec<TracedSale>,
    movements: Vec<Movement>,
    /// Customers who bought from the batch and identified themselves: whom to notify.
    notify: Vec<String>,
    units_sold: u64,
}

async fn trace_batch(
    State(state): State<AppState>,
    Path(batch): Path<String>,
) -> Result<Json<Trace>, ApiError> {
    state
        .with_db(move |conn, _| {
            let found = catalogue::batch(conn, &batch)?
                .ok_or_else(|| ApiError::NotFound(format!("batch {batch}: no such batch")))?;
            let sold = sales::sales_of_batch(conn, &batch)?;
            let notify: BTreeSet<String> = sold
                .iter()
                .filter_map(|sale| sale.customer.clone())
                .collect();
            Ok(Json(Trace {
                units_sold: sold.iter().map(|sale| u64::from(sale.qty)).sum(),
                movements: sales::movements_of_batch(conn, &batch)?,
                batch: found,
                sales: sold,
                notify: notify.into_iter().collect(),
            }))
        })
        .await
}
