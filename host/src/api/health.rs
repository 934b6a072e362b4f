//! `/healthz`: the daemon is up and its database answers.

use super::{ApiError, AppState};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .with_db(|conn, _| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(Json(json!({ "status": "ok" })))
        })
        .await
}
