//! Inventory: SKUs, stock by batch with expiry, receiving a delivery; the batches about
//! to expire with the markdown pricing gives them now, and the slowest movers.

use super::{ApiError, ApiErrorBody, AppState, BadQuery, Body, InPath, NotJson, Params, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::bindings::types::BasketLine;
use linli_runtime::{QuoteRequest, World};
use linli_store::catalogue::{self, Batch, Sku};
use linli_store::reports::{self, SkuTurnover};
use linli_store::{inventory, text};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_skus))
        .routes(routes!(one_sku))
        .routes(routes!(expiring))
        .routes(routes!(slow_movers))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive))
        .routes(routes!(move_stock))
}

/// A SKU and its units on hand.
#[derive(Serialize, utoipa::ToSchema)]
struct SkuStock {
    #[serde(flatten)]
    sku: Sku,
    on_hand: u64,
}

/// A SKU, its units on hand and the batches they are in.
#[derive(Serialize, utoipa::ToSchema)]
struct SkuDetail {
    #[serde(flatten)]
    sku: Sku,
    on_hand: u64,
    /// Batches with stock, in the order they are sold (oldest first).
    batches: Vec<Batch>,
}

/// Every SKU in the catalogue with its units on hand.
#[utoipa::path(
    get,
    path = "/v1/inventory/skus",
    tag = "inventory",
    responses((status = 200, description = "The catalogue", body = Vec<SkuStock>))
)]
async fn list_skus(State(state): State<AppState>) -> Result<Json<Vec<SkuStock>>, ApiError> {
    state
        .read_db(|conn, _| {
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

/// One SKU with its stock by batch.
#[utoipa::path(
    get,
    path = "/v1/inventory/skus/{sku}",
    tag = "inventory",
    params(("sku" = String, Path, description = "The SKU code")),
    responses(
        (status = 200, description = "The SKU and its batches", body = SkuDetail),
        (status = 404, description = "The SKU is not in the catalogue", body = ApiErrorBody),
    )
)]
async fn one_sku(
    State(state): State<AppState>,
    InPath(sku): InPath<String>,
) -> Result<Json<SkuDetail>, ApiError> {
    state
        .read_db(move |conn, _| {
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

/// A supplier's delivery of one SKU.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = StockDelivery)]
#[serde(deny_unknown_fields)]
struct Delivery {
    sku: String,
    qty: u32,
    /// The batch code on the delivery; made up from the SKU and time when absent.
    batch: Option<String>,
    supplier: Option<String>,
    expires_at: Option<i64>,
}

/// Receive a delivery as a new batch.
#[utoipa::path(
    post,
    path = "/v1/inventory/deliveries",
    tag = "inventory",
    request_body = Delivery,
    responses(
        (status = 201, description = "The batch received", body = Batch),
        NotJson,
        (status = 404, description = "The SKU is not in the catalogue", body = ApiErrorBody),
        (status = 409, description = "The batch was already received", body = ApiErrorBody),
        (status = 422, description = "A field is missing or invalid (no units, already expired)", body = ApiErrorBody),
    )
)]
async fn receive(
    State(state): State<AppState>,
    Body(delivery): Body<Delivery>,
) -> Result<(StatusCode, Json<Batch>), ApiError> {
    state
        .with_db(move |conn, _| {
            let received = inventory::Delivery {
                sku: &delivery.sku,
                qty: delivery.qty,
                batch: delivery.batch.as_deref(),
                supplier: delivery.supplier.as_deref(),
                expires_at: delivery.expires_at,
            };
            let batch = inventory::receive(conn, received, now_ms())?;
            Ok((StatusCode::CREATED, Json(batch)))
        })
        .await
}

/// Why units leave a batch other than by a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
enum Outflow {
    /// To another store of the alliance (`to` names it).
    TransferOut,
    /// Thrown away: expired, damaged, recalled.
    WriteOff,
}

impl Outflow {
    fn reason(self) -> &'static str {
        match self {
            Outflow::TransferOut => "transfer-out",
            Outflow::WriteOff => "write-off",
        }
    }
}

/// Units leaving a batch without a sale.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StockOut {
    kind: Outflow,
    qty: u32,
    /// The receiving store, for a transfer.
    to: Option<String>,
    /// Why: the expiry, the damage, the recall notice.
    note: Option<String>,
}

/// Move units out of a batch: a transfer to another store, or a write-off. The batch
/// trace lists it.
#[utoipa::path(
    post,
    path = "/v1/inventory/batches/{batch}/movements",
    tag = "inventory",
    params(("batch" = String, Path, description = "The batch code")),
    request_body = StockOut,
    responses(
        (status = 201, description = "The batch after the movement", body = Batch),
        NotJson,
        (status = 404, description = "No such batch", body = ApiErrorBody),
        (status = 409, description = "Fewer units on hand than moved", body = ApiErrorBody),
        (status = 422, description = "A field is missing or invalid (no units, a transfer without `to`)", body = ApiErrorBody),
    )
)]
async fn move_stock(
    State(state): State<AppState>,
    InPath(batch): InPath<String>,
    Body(out): Body<StockOut>,
) -> Result<(StatusCode, Json<Batch>), ApiError> {
    if out.qty == 0 {
        return Err(ApiError::Unprocessable(
            "qty: a movement moves at least 1 unit".into(),
        ));
    }
    let to = out.to.as_deref().map(str::trim).filter(|to| !to.is_empty());
    if let Some(to) = to {
        text::id("to", to)?;
    }
    if let Some(note) = &out.note {
        text::text("note", note)?;
    }
    let reference = match (out.kind, to) {
        (Outflow::TransferOut, None) => {
            return Err(ApiError::Unprocessable(
                "to: a transfer names the receiving store".into(),
            ));
        }
        (Outflow::TransferOut, Some(to)) => Some(format!("to {to}")),
        (Outflow::WriteOff, Some(_)) => {
            return Err(ApiError::Unprocessable(
                "to: a write-off goes nowhere; leave `to` out".into(),
            ));
        }
        (Outflow::WriteOff, None) => None,
    };
    let reference = match (reference, out.note.as_deref().map(str::trim)) {
        (Some(reference), Some(note)) if !note.is_empty() => Some(format!("{reference}: {note}")),
        (None, Some(note)) if !note.is_empty() => Some(note.to_string()),
        (reference, _) => reference,
    };
    state
        .with_db(move |conn, _| {
            let outflow = inventory::Outflow {
                qty: out.qty,
                reason: out.kind.reason(),
                reference: reference.as_deref(),
            };
            let moved = inventory::move_out(conn, &batch, outflow, now_ms())?;
            Ok((StatusCode::CREATED, Json(moved)))
        })
        .await
}

const HOUR: i64 = 3_600_000;
/// The furthest horizon of the expiring batches, in hours.
pub(super) const MAX_WITHIN_HOURS: u32 = 720;
/// The longest window of the slow movers, in days.
pub(super) const MAX_DAYS: u32 = 90;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Horizon {
    /// Batches expiring within this many hours from now, 1 to 720 (default 48).
    within_hours: Option<u32>,
}

/// A batch close to (or past) its expiry, with what one unit sells for now.
#[derive(Serialize, utoipa::ToSchema)]
struct ExpiringBatch {
    #[serde(flatten)]
    batch: Batch,
    name: String,
    shelf_price: i64,
    /// Past its expiry: not for sale, waiting for a write-off.
    expired: bool,
    /// One unit's price from the pricing pipeline now; none when expired or refused.
    price_now: Option<i64>,
    /// `shelf_price - price_now`, in cents.
    markdown: Option<i64>,
    /// The pricing installs' reasons for the change, or for refusing.
    reasons: Vec<String>,
}

/// Batches with stock expiring within the horizon, soonest first (expired ones too),
/// each with the markdown the pricing pipeline gives one unit of it right now. Each
/// unexpired batch is one real pricing call (counted in the installs' calls).
#[utoipa::path(
    get,
    path = "/v1/inventory/expiring",
    tag = "inventory",
    params(Horizon),
    responses(
        (status = 200, description = "The batches", body = Vec<ExpiringBatch>),
        BadQuery,
    )
)]
async fn expiring(
    State(state): State<AppState>,
    Params(horizon): Params<Horizon>,
) -> Result<Json<Vec<ExpiringBatch>>, ApiError> {
    let hours = horizon.within_hours.unwrap_or(48);
    if !(1..=MAX_WITHIN_HOURS).contains(&hours) {
        return Err(ApiError::BadRequest(format!(
            "within_hours: {hours}; between 1 and {MAX_WITHIN_HOURS}"
        )));
    }
    state
        .read_db(move |conn, state| {
            let now = now_ms();
            let mut listed = Vec::new();
            for batch in catalogue::expiring(conn, now + i64::from(hours) * HOUR)? {
                let sku = catalogue::sku(conn, &batch.sku)?.ok_or_else(|| {
                    ApiError::Internal(format!("batch {}: SKU {} is gone", batch.batch, batch.sku))
                })?;
                let expired = batch.expires_at.is_some_and(|expires| expires <= now);
                let mut view = ExpiringBatch {
                    name: sku.name.clone(),
                    shelf_price: sku.unit_price,
                    expired,
                    price_now: None,
                    markdown: None,
                    reasons: Vec::new(),
                    batch,
                };
                if !expired {
                    price_one_unit(state, &sku, &mut view, now);
                }
                listed.push(view);
            }
            Ok(Json(listed))
        })
        .await
}

/// Quote one unit of the batch alone, as the till would price it now.
fn price_one_unit(state: &AppState, sku: &Sku, view: &mut ExpiringBatch, now: i64) {
    let request = QuoteRequest {
        lines: vec![BasketLine {
            sku: sku.sku.clone(),
            qty: 1,
            unit_price: sku.unit_price,
            category: sku.category.clone(),
            local_produce: sku.local_produce,
            batch: Some(view.batch.batch.clone()),
            expires_at: view.batch.expires_at,
        }],
        customer: None,
    };
    let priced = state.pipeline(World::Pricing).quote(request, now);
    if !priced.refusals.is_empty() {
        view.reasons = priced
            .refusals
            .iter()
            .map(|refusal| format!("{} refused: {:?}", refusal.install, refusal.error))
            .collect();
        return;
    }
    if let Some(price) = priced.unit_prices.first() {
        view.price_now = Some(*price);
        view.markdown = Some(sku.unit_price - price);
    }
    view.reasons = priced.trail.into_iter().map(|entry| entry.reason).collect();
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Window {
    /// Days back from now the turnover is measured over, 1 to 90 (default 7).
    days: Option<u32>,
}

/// The slowest tenth of the stocked SKUs.
#[derive(Serialize, utoipa::ToSchema)]
struct SlowMovers {
    /// The window measured, unix ms: `[from, to)`.
    from: i64,
    to: i64,
    /// SKUs that had stock in the window (the ones ranked).
    ranked: usize,
    /// The slowest tenth (rounded up), slowest first.
    skus: Vec<SkuTurnover>,
}

/// The bottom 10% of SKUs by turnover (units sold per unit on hand, time-weighted) over
/// the last days — the products the operating guide has the owner drop each week. SKUs
/// without stock in the window are not ranked; among equal turnover, more idle stock
/// ranks lower.
#[utoipa::path(
    get,
    path = "/v1/inventory/slow-movers",
    tag = "inventory",
    params(Window),
    responses(
        (status = 200, description = "The slowest SKUs", body = SlowMovers),
        BadQuery,
    )
)]
async fn slow_movers(
    State(state): State<AppState>,
    Params(window): Params<Window>,
) -> Result<Json<SlowMovers>, ApiError> {
    let days = window.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::BadRequest(format!(
            "days: {days}; between 1 and {MAX_DAYS}"
        )));
    }
    state
        .read_db(move |conn, _| {
            let to = now_ms();
            let from = to - i64::from(days) * 24 * HOUR;
            let rows = reports::turnover_by_sku(conn, from, to)?;
            let ranked = rows.iter().filter(|row| row.turnover.is_some()).count();
            Ok(Json(SlowMovers {
                from,
                to,
                ranked,
                skus: reports::slowest_tenth(rows),
            }))
        })
        .await
}
