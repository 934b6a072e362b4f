//! The alliance's members (what a mirror pulls) and its stores (the operator's view).

use super::{ApiError, AppState};
use crate::db::{self, Member};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/members", get(members))
        .route("/v1/alliance/stores", get(alliance_stores))
}

async fn members(State(state): State<AppState>) -> Result<Json<Vec<Member>>, ApiError> {
    state.with_db(|conn, _| Ok(Json(db::members(conn)?))).await
}

/// The operator's view: every store, how far its events arrived, when it last pushed.
async fn alliance_stores(
    State(state): State<AppState>,
) -> Result<Json<Vec<db::AllianceStore>>, ApiError> {
    state.with_db(|conn, _| Ok(Json(db::stores(conn)?))).await
}
