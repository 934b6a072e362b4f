//! Batch trace: every sale, transfer and stock movement of a batch, and the pseudonyms
//! to notify — answered from the `sale_line(batch)` and `stock_movement(batch)` indexes
//! (`cargo bench -p linli-store --bench store` measures it on a year of sales).

use super::{ApiError, ApiErrorBody, AppState, InPath};
use axum::Json;
use axum::extract::State;
use linli_store::catalogue::{self, Batch};
use linli_store::sales::{self, Movement, TracedSale};
use serde::Serialize;
use std::collections::BTreeSet;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trace_batch))
}

/// Everything that happened to a batch.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BatchTrace)]
struct Trace {
    batch: Batch,
    sales: Vec<TracedSale>,
    /// Units sent to or received from other stores (the alliance's stock pool): whom
    /// else to tell, and where the batch came from.
    transfers: Vec<Movement>,
    /// Every change of the batch's stock, oldest first: received, sold, transferred,
    /// written off.
    movements: Vec<Movement>,
    /// Customers who bought from the batch and identified themselves: whom to notify.
    notify: Vec<String>,
    units_sold: u64,
}

/// Trace a batch: its sales, its stock movements and the customers to notify.
#[utoipa::path(
    get,
    path = "/v1/trace/batches/{batch}",
    tag = "trace",
    params(("batch" = String, Path, description = "The batch code")),
    responses(
        (status = 200, description = "The batch's trace", body = Trace),
        (status = 404, description = "No such batch", body = ApiErrorBody),
    )
)]
async fn trace_batch(
    State(state): State<AppState>,
    InPath(batch): InPath<String>,
) -> Result<Json<Trace>, ApiError> {
    state
        .read_db(move |conn, _| {
            let found = catalogue::batch(conn, &batch)?
                .ok_or_else(|| ApiError::NotFound(format!("batch {batch}: no such batch")))?;
            let sold = sales::sales_of_batch(conn, &batch)?;
            let notify: BTreeSet<String> = sold
                .iter()
                .filter_map(|sale| sale.customer.clone())
                .collect();
            let movements = sales::movements_of_batch(conn, &batch)?;
            Ok(Json(Trace {
                units_sold: sold.iter().map(|sale| u64::from(sale.qty)).sum(),
                transfers: movements
                    .iter()
                    .filter(|movement| movement.reason.starts_with("transfer-"))
                    .cloned()
                    .collect(),
                movements,
                batch: found,
                sales: sold,
                notify: notify.into_iter().collect(),
            }))
        })
        .await
}
