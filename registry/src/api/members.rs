//! The alliance's members (public: what a mirror pulls) and its stores (for members
//! and stores only).

use super::{ApiError, AppState, caller};
use crate::db::{self, Member};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
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
/// Signed by a member or a store.
async fn alliance_stores(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Vec<db::AllianceStore>>, ApiError> {
    state
        .with_db(move |conn, _| {
            caller(conn, &headers, &method, &uri)?;
            Ok(Json(db::stores(conn)?))
        })
        .await
}
