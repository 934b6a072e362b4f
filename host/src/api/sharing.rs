//! Data sharing: the store's sales aggregates for a range of days go to the
//! data-sharing plugin, which chooses what the alliance sees; the host then counts the
//! distinct customers behind each row in its own sales and drops every row with fewer
//! than k, whatever the plugin returned, and queues the report in the outbox, in the
//! same transaction, for sync to send.

use super::{ApiError, ApiErrorBody, AppState, Body, NotJson, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::{Call, Report};
use linli_store::sharing;
pub use linli_store::sharing::Outboxed;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(build))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ReportDays)]
#[serde(deny_unknown_fields)]
struct Wanted {
    /// First and last day of the report, inclusive, "YYYY-MM-DD" in the store's time
    /// zone.
    first_day: String,
    last_day: String,
}

/// Build a data-sharing report for a range of days (at most 92): the plugin chooses
/// what is shared, the host drops rows below k and queues the report for sync.
#[utoipa::path(
    post,
    path = "/v1/sharing/reports",
    tag = "sharing",
    request_body = Wanted,
    responses(
        (status = 201, description = "The report, queued", body = Outboxed),
        NotJson,
        (status = 422, description = "A day is missing or invalid, or the plugin refused", body = ApiErrorBody),
        (status = 503, description = "No working data-sharing plugin could build the report", body = ApiErrorBody),
    )
)]
async fn build(
    State(state): State<AppState>,
    Body(wanted): Body<Wanted>,
) -> Result<(StatusCode, Json<Outboxed>), ApiError> {
    let (first, last) = sharing::days(&wanted.first_day, &wanted.last_day)?;
    state
        .with_db(move |conn, state| {
            let request = sharing::request(conn, &state.sharing.time_zone, first, last)?;
            let now = now_ms();
            let (report, install): (Report, _) = state.decide(&Call::BuildReport(request), now)?;
            let built = sharing::Built {
                first,
                last,
                install,
                report,
            };
            let queued =
                sharing::queue(conn, &state.sharing.time_zone, built, state.sharing.k, now)?;
            Ok((StatusCode::CREATED, Json(queued)))
        })
        .await
}

/// Reports in the outbox, newest first.
#[utoipa::path(
    get,
    path = "/v1/sharing/reports",
    tag = "sharing",
    responses((status = 200, description = "The latest 100 reports", body = Vec<Outboxed>))
)]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<Outboxed>>, ApiError> {
    state
        .read_db(|conn, _| Ok(Json(sharing::list(conn)?)))
        .await
}
