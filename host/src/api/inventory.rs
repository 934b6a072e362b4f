//! Inventory: SKUs, stock by batch with expiry, receiving a delivery.

use super::{ApiError, AppState, Body, now_ms};
use crate::store::catalogue::{self, Batch, Sku};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn reading() -> Router<AppState> {
    Router::new()
        .route("/inventory/skus", get(list_skus))
        .route("/inventory/skus/{sku}", get(one_sku))
}

pub fn mutating() -> Router<AppState> {
    Router::new().route("/inventory/deliveries", post(receive))
}

#[derive(Serialize)]
struct SkuStock {
    #[serde(flatten)]
    sku: Sku,
    on_hand: u64,
}

#[derive(Serialize)]
struct SkuDetail {
    #[serde(flatten)]
    sku: Sku,
    on_hand: u64,
    /// Batches with stock, in the order they are sold (oldest first).
    batches: Vec<Batch>,
}

async fn list_skus(State(state): State<AppState>) -> Result<Json<Vec<SkuStock>>, ApiError> {
    state
        .with_db(|conn, _| {
            let mut listed = Vec::new();
            for sku in catalogue::skus(conn)? {
                let on_hand = catalogue::batches(conn, &sku.sku)?
                    .iter()
                    .map(|batch| u64::from(batch.qty_on_hand))
                    .sum();
                listed.push(SkuStock { sku, on_hand });
            }
            Ok(Json(listed))
        })
        .await
}

async fn one_sku(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<SkuDetail>, ApiError> {
    state
        .with_db(move |conn, _| {
            let found = catalogue::sku(conn, &sku)?
                .ok_or_else(|| ApiError::NotFound(format!("SKU {sku}: not in the catalogue")))?;
            let batches = catalogue::batches(conn, &sku)?;
            Ok(Json(SkuDetail {
                on_hand: batches
                    .iter()
                    .map(|batch| u64::from(batch.qty_on_hand))
                    .sum(),
                sku: found,
                batches,
            }))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Delivery {
    sku: String,
    qty: u32,
    /// The batch code on the delivery; made up from the SKU and time when absent.
    batch: Option<String>,
    supplier: Option<String>,
    expires_at: Option<i64>,
}

async fn receive(
    State(state): State<AppState>,
    Body(delivery): Body<Delivery>,
) -> Result<(StatusCode, Json<Batch>), ApiError> {
    state
        .with_db(move |conn, _| {
            let now = now_ms();
            if delivery.qty == 0 {
                return Err(ApiError::Unprocessable(
                    "qty: a delivery brings at least 1 unit".into(),
                ));
            }
            if delivery.expires_at.is_some_and(|expires| expires <= now) {
                return Err(ApiError::Unprocessable(
                    "expires_at: the delivery is already expired; refuse it at the door".into(),
                ));
            }
            if catalogue::sku(conn, &delivery.sku)?.is_none() {
                return Err(ApiError::NotFound(format!(
                    "sku: {} is not in the catalogue",
                    delivery.sku
                )));
            }
            let batch = Batch {
                batch: delivery
                    .batch
                    .filter(|code| !code.trim().is_empty())
                    .unwrap_or_else(|| format!("{}-{now}", delivery.sku)),
                sku: delivery.sku,
                supplier: delivery.supplier,
                received_at: now,
                expires_at: delivery.expires_at,
                qty_received: delivery.qty,
                qty_on_hand: delivery.qty,
            };
            let tx = conn.transaction()?;
            if catalogue::batch(&tx, &batch.batch)?.is_some() {
                return Err(ApiError::Conflict(format!(
                    "batch: {} was already received",
                    batch.batch
                )));
            }
            catalogue::receive(&tx, &batch)?;
            tx.commit()?;
            Ok((StatusCode::CREATED, Json(batch)))
        })
        .await
}
