//! The operator's view of the stores' shared figures.

use super::{ApiError, AppState};
use crate::reports::{self, Reports};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/alliance/reports", get(reports))
}

/// The stores' shared figures, never below k: sales per category and week, and the
/// data-sharing reports received.
async fn reports(State(state): State<AppState>) -> Result<Json<Reports>, ApiError> {
    state
        .with_db(|conn, state| Ok(Json(reports::reports(conn, state.k)?)))
        .await
}
