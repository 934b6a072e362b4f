//! Elderly delivery (代购+送达): request a delivery (the plugin plans fee, priority, ETA
//! and whether an emergency meets the 30-minute promise), list those in progress
//! (emergencies first), mark one delivered.

use super::{ApiError, ApiErrorBody, AppState, Body, NotJson, now_ms};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use linli_runtime::bindings::types::{BasketLine, CustomerRef};
use linli_runtime::{Call, Courier, DeliveryPlan, DeliveryRequest};
use linli_store::catalogue;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request))
        .routes(routes!(delivered))
}

/// A delivery a resident asked for (times in unix milliseconds).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DeliveryRequested)]
#[serde(deny_unknown_fields)]
struct Requested {
    delivery: String,
    customer: CustomerRef,
    items: Vec<Item>,
    distance_m: u32,
    window_start: i64,
    window_end: i64,
    #[serde(default)]
    emergency: bool,
    /// Couriers on shift and when each is free.
    #[serde(default)]
    couriers: Vec<Courier>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DeliveryItem)]
#[serde(deny_unknown_fields)]
struct Item {
    sku: String,
    qty: u32,
}

/// A delivery and the plugin's plan for it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PlannedDelivery)]
struct Planned {
    delivery: String,
    customer: String,
    emergency: bool,
    requested_at: i64,
    status: String,
    plan: DeliveryPlan,
}

/// Request a delivery: the elderly-delivery plugin plans fee, priority, courier and ETA.
#[utoipa::path(
    post,
    path = "/v1/delivery/requests",
    tag = "delivery",
    request_body = Requested,
    responses(
        (status = 201, description = "The delivery as planned", body = Planned),
        NotJson,
        (status = 404, description = "An item's SKU is not in the catalogue", body = ApiErrorBody),
        (status = 409, description = "The delivery already exists", body = ApiErrorBody),
        (status = 422, description = "A field is missing or invalid, or the plugin refused", body = ApiErrorBody),
        (status = 503, description = "No working delivery plugin could plan", body = ApiErrorBody),
    )
)]
async fn request(
    State(state): State<AppState>,
    Body(requested): Body<Requested>,
) -> Result<(StatusCode, Json<Planned>), ApiError> {
    state
        .with_db(move |conn, state| {
            if requested.delivery.trim().is_empty() {
                return Err(ApiError::Unprocessable("delivery: an id is required".into()));
            }
            let mut items = Vec::new();
            for (index, item) in requested.items.iter().enumerate() {
                let sku = catalogue::sku(conn, &item.sku)?.ok_or_else(|| {
                    ApiError::NotFound(format!("items[{index}].sku: {} is not in the catalogue", item.sku))
                })?;
                items.push(BasketLine {
                    sku: sku.sku,
                    qty: item.qty,
                    unit_price: sku.unit_price,
                    category: sku.category,
                    local_produce: sku.local_produce,
                    batch: None,
                    expires_at: None,
                });
            }
            let now = now_ms();
            let call = Call::Plan(DeliveryRequest {
                id: requested.delivery.clone(),
                customer: requested.customer.clone(),
                items,
                distance_m: requested.distance_m,
                window_start: requested.window_start,
                window_end: requested.window_end,
                emergency: requested.emergency,
                couriers: requested.couriers,
            });
            let (plan, _install): (DeliveryPlan, _) = state.decide(&call, now)?;
            let plan_json = serde_json::to_string(&plan).expect("plans serialise");
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO delivery (delivery, customer, emergency, priority, requested_at, eta, plan) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    requested.delivery,
                    requested.customer.pseudonym,
                    requested.emergency,
                    format!("{:?}", plan.priority),
                    now,
                    plan.eta,
                    plan_json
                ],
            )?;
            if inserted == 0 {
                return Err(ApiError::Conflict(format!("delivery: {} already exists", requested.delivery)));
            }
            Ok((
                StatusCode::CREATED,
                Json(Planned {
                    delivery: requested.delivery,
                    customer: requested.customer.pseudonym,
                    emergency: requested.emergency,
                    requested_at: now,
                    status: "planned".into(),
                    plan,
                }),
            ))
        })
        .await
}

/// Deliveries in progress: emergencies first, then by arrival time.
#[utoipa::path(
    get,
    path = "/v1/delivery/requests",
    tag = "delivery",
    responses((status = 200, description = "Deliveries not yet delivered", body = Vec<Planned>))
)]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<Planned>>, ApiError> {
    state
        .read_db(|conn, _| {
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
                    ApiError::Internal(format!("delivery {delivery}: stored plan: {err}"))
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
            Ok(Json(listed))
        })
        .await
}

/// Mark a delivery delivered.
#[utoipa::path(
    post,
    path = "/v1/delivery/requests/{delivery}/delivered",
    tag = "delivery",
    params(("delivery" = String, Path, description = "The delivery id")),
    responses(
        (status = 204, description = "Marked delivered"),
        (status = 404, description = "No such delivery", body = ApiErrorBody),
        (status = 409, description = "Already delivered", body = ApiErrorBody),
    )
)]
async fn delivered(
    State(state): State<AppState>,
    Path(delivery): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .with_db(move |conn, _| {
            let status: Option<String> = conn
                .query_row("SELECT status FROM delivery WHERE delivery = ?1", [&delivery], |row| row.get(0))
                .optional()?;
            match status.as_deref() {
                None => Err(ApiError::NotFound(format!("delivery {delivery}: no such delivery"))),
                Some("delivered") => Err(ApiError::Conflict(format!("delivery {delivery}: already delivered"))),
                Some(_) => {
                    conn.execute(
                        "UPDATE delivery SET status = 'delivered', delivered_at = ?2 WHERE delivery = ?1",
                        params![delivery, now_ms()],
                    )?;
                    Ok(StatusCode::NO_CONTENT)
                }
            }
        })
        .await
}
