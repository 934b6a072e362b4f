//! The stock pool over HTTP: a store (signed) searches offers near it, asks for units,
//! accepts or declines what is asked of its offers, and lists its transfers; a member
//! (signed) lists every transfer.

use super::{ApiError, AppState, Caller, caller, now_ms, read_only, store_of};
use crate::pool;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use linli_alliance::{Decision, MAX_RADIUS_KM, OfferSearch, Proposal, TransferQuery, paths};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::OFFERS, get(offers))
        .route(paths::TRANSFERS, get(transfers).post(propose))
        .route(paths::DECISION_ROUTE, post(decide))
}

/// The pool's default radius: the guide shares safety stock within 3-5 km.
const DEFAULT_RADIUS_KM: f64 = 5.0;

/// Open offers of the pool within a radius of the asking store (signed), nearest first.
async fn offers(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<OfferSearch>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<pool::Offer>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let radius = query.radius_km.unwrap_or(DEFAULT_RADIUS_KM);
    if !(radius > 0.0 && radius <= MAX_RADIUS_KM) {
        return Err(ApiError::Unprocessable(format!(
            "radius_km: {radius}; between 0 and {MAX_RADIUS_KM} km"
        )));
    }
    state
        .with_db(move |conn, _| {
            let store = store_of(conn, &headers, &method, &uri, b"")?;
            Ok(Json(pool::offers_near(
                conn,
                &store,
                query.sku.as_deref(),
                radius,
                now_ms(),
            )?))
        })
        .await
}

/// A store (signed) asks for units of another store's offer.
async fn propose(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<pool::Transfer>), ApiError> {
    read_only(&state)?;
    state
        .with_db(move |conn, _| {
            let store = store_of(conn, &headers, &method, &uri, &body)?;
            let proposal: Proposal = serde_json::from_slice(&body)
                .map_err(|err| ApiError::Unprocessable(format!("body: {err}")))?;
            let proposed = pool::propose(
                conn,
                &store,
                &proposal.store,
                &proposal.offer,
                proposal.qty,
                now_ms(),
            )?;
            Ok((StatusCode::CREATED, Json(proposed)))
        })
        .await
}

/// The offering store (signed) accepts or declines a transfer of its offer
/// (`.../{transfer}/accept`, `.../{transfer}/decline`).
async fn decide(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((transfer, decision)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<pool::Transfer>, ApiError> {
    let Ok(transfer) = transfer.parse::<i64>() else {
        return Err(ApiError::NotFound(format!(
            "transfers/{transfer}: no such transfer; a transfer's id is a number"
        )));
    };
    let Some(decision) = Decision::parse(&decision) else {
        return Err(ApiError::NotFound(format!(
            "transfers/{transfer}/{decision}: no such route; a transfer is accepted or declined"
        )));
    };
    read_only(&state)?;
    state
        .with_db(move |conn, _| {
            let store = store_of(conn, &headers, &method, &uri, &body)?;
            Ok(Json(pool::decide(
                conn,
                &store,
                transfer,
                decision == Decision::Accept,
                now_ms(),
            )?))
        })
        .await
}

/// Transfers of the pool, newest first: where a store (signed) finds what it must accept
/// and what was accepted, of its own transfers only (`store` is itself, or left out);
/// a member (signed) sees any store's, or all.
async fn transfers(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<TransferQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<pool::Transfer>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let wanted = query
        .state
        .as_deref()
        .map(pool::State::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?;
    state
        .with_db(move |conn, _| {
            let store = match caller(conn, &headers, &method, &uri)? {
                Caller::Member(_) => query.store,
                Caller::Store(own) => match query.store {
                    Some(asked) if asked != own => {
                        return Err(ApiError::Forbidden(format!(
                            "store={asked}: the key is store {own}'s, and a store sees its own transfers only"
                        )));
                    }
                    _ => Some(own),
                },
            };
            Ok(Json(pool::transfers(
                conn,
                store.as_deref(),
                wanted,
                query.decided_after,
            )?))
        })
        .await
}
