//! Elderly delivery (代购+送达): request a delivery (the plugin plans fee, priority, ETA
//! and whether an emergency meets the 30-minute promise), list those in progress
//! (emergencies first), mark one delivered.

use super::{ApiError, ApiErrorBody, AppState, Body, InPath, NotJson, now_ms, pseudonym};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::bindings::types::CustomerRef;
use linli_runtime::{Call, Courier, DeliveryPlan, DeliveryRequest};
pub use linli_store::delivery::Planned;
use linli_store::{delivery, text};
use serde::Deserialize;
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
            let customer = pseudonym(&requested.customer)?;
            for (index, courier) in requested.couriers.iter().enumerate() {
                text::id(&format!("couriers[{index}].id"), &courier.id)?;
            }
            if requested.window_end < requested.window_start {
                return Err(ApiError::Unprocessable(format!(
                    "window_end: {} is before window_start {}",
                    requested.window_end, requested.window_start
                )));
            }
            let items = requested
                .items
                .iter()
                .map(|item| (item.sku.as_str(), item.qty));
            let items = delivery::basket(conn, &requested.delivery, items)?;
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
            let planned = delivery::record(
                conn,
                Planned {
                    delivery: requested.delivery,
                    customer,
                    emergency: requested.emergency,
                    requested_at: now,
                    status: "planned".into(),
                    plan,
                },
            )?;
            Ok((StatusCode::CREATED, Json(planned)))
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
        .read_db(|conn, _| Ok(Json(delivery::in_progress(conn)?)))
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
    InPath(delivery): InPath<String>,
) -> Result<StatusCode, ApiError> {
    state
        .with_db(move |conn, _| {
            delivery::delivered(conn, &delivery, now_ms())?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}
