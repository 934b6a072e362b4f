//! The operator's view of the stores' shared figures.

use super::{ApiError, AppState, caller};
use crate::reports::{self, Reports};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/alliance/reports", get(reports))
}

/// The stores' shared figures, never below k: sales per category and week, and the
/// data-sharing reports received. Signed by a member or a store.
async fn reports(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Reports>, ApiError> {
    state
        .with_db(move |conn, state| {
            caller(conn, &headers, &method, &uri)?;
            Ok(Json(reports::reports(conn, state.k)?))
        })
        .await
}
