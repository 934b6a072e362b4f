//! Sensors: readings ingested in batches, the latest reading per device, a device's
//! history over a time range, and cold-chain alerts (listed, acknowledged).

use super::{ApiError, AppState, Body, Params, now_ms};
use crate::sensors::{self, IncomingReading, Ingested};
use crate::store::sensors::{self as table, Alert, Reading};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::Connection;
use serde::Deserialize;
use std::sync::atomic::Ordering;

pub fn reading() -> Router<AppState> {
    Router::new()
        .route("/sensors/latest", get(latest))
        .route("/sensors/devices/{device}/readings", get(history))
        .route("/sensors/alerts", get(alerts))
}

pub fn mutating() -> Router<AppState> {
    Router::new()
        .route("/sensors/readings", post(ingest))
        .route("/sensors/alerts/{alert}/ack", post(acknowledge))
}

/// Most readings one history request returns.
const MAX_HISTORY: u32 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    readings: Vec<IncomingReading>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    /// Unix ms, inclusive; default a day before `to`.
    from: Option<i64>,
    /// Unix ms, exclusive; default now.
    to: Option<i64>,
    kind: Option<String>,
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertFilter {
    /// Only alerts nobody acknowledged yet (default true).
    open: Option<bool>,
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acknowledgement {
    /// Who looked at it (a clerk's name or initials).
    by: String,
    /// What was done: goods moved, discarded, the door shut.
    note: Option<String>,
}

/// Check and store a batch of readings, applying the cold-chain rule: the one way
/// readings enter the store, for devices over HTTP and for the simulator.
pub fn store_readings(
    conn: &mut Connection,
    state: &AppState,
    readings: &[IncomingReading],
) -> Result<Ingested, ApiError> {
    sensors::validate(readings, now_ms()).map_err(ApiError::Unprocessable)?;
    let ingested = sensors::ingest(conn, readings, &state.cold_chain)?;
    state
        .metrics
        .sensor_readings
        .fetch_add(ingested.stored as u64, Ordering::Relaxed);
    Ok(ingested)
}

async fn ingest(
    State(state): State<AppState>,
    Body(batch): Body<Batch>,
) -> Result<(StatusCode, Json<Ingested>), ApiError> {
    state
        .with_db(move |conn, state| {
            let ingested = store_readings(conn, state, &batch.readings)?;
            Ok((StatusCode::CREATED, Json(ingested)))
        })
        .await
}

async fn latest(State(state): State<AppState>) -> Result<Json<Vec<Reading>>, ApiError> {
    state
        .with_db(|conn, _| Ok(Json(table::latest(conn)?)))
        .await
}

async fn history(
    State(state): State<AppState>,
    Path(device): Path<String>,
    Params(range): Params<Range>,
) -> Result<Json<Vec<Reading>>, ApiError> {
    let to = range.to.unwrap_or_else(now_ms);
    let from = range.from.unwrap_or(to - 86_400_000);
    if from >= to {
        return Err(ApiError::BadRequest(format!(
            "from: {from} must be before to {to}"
        )));
    }
    let limit = range.limit.unwrap_or(MAX_HISTORY);
    if limit == 0 || limit > MAX_HISTORY {
        return Err(ApiError::BadRequest(format!(
            "limit: {limit}; between 1 and {MAX_HISTORY}"
        )));
    }
    if let Some(kind) = &range.kind
        && !sensors::KINDS.iter().any(|(known, ..)| known == kind)
    {
        return Err(ApiError::BadRequest(format!(
            "kind: `{kind}` is not a sensor kind"
        )));
    }
    state
        .with_db(move |conn, _| {
            if !table::known_device(conn, &device)? {
                return Err(ApiError::NotFound(format!(
                    "device {device}: no readings from it"
                )));
            }
            let readings = table::history(conn, &device, range.kind.as_deref(), from, to, limit)?;
            Ok(Json(readings))
        })
        .await
}

async fn alerts(
    State(state): State<AppState>,
    Params(filter): Params<AlertFilter>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let limit = filter.limit.unwrap_or(200).clamp(1, 1000);
    state
        .with_db(move |conn, _| {
            Ok(Json(table::alerts(
                conn,
                filter.open.unwrap_or(true),
                limit,
            )?))
        })
        .await
}

async fn acknowledge(
    State(state): State<AppState>,
    Path(alert): Path<String>,
    Body(ack): Body<Acknowledgement>,
) -> Result<Json<Alert>, ApiError> {
    let alert: i64 = alert
        .parse()
        .map_err(|_| ApiError::NotFound(format!("alert {alert}: alerts are numbered")))?;
    let by = ack.by.trim().to_string();
    if by.is_empty() {
        return Err(ApiError::Unprocessable(
            "by: empty; say who acknowledged the alert".into(),
        ));
    }
    state
        .with_db(move |conn, _| {
            let Some(found) = table::alert(conn, alert)? else {
                return Err(ApiError::NotFound(format!("alert {alert}: no such alert")));
            };
            if !table::acknowledge(conn, alert, now_ms(), &by, ack.note.as_deref())? {
                return Err(ApiError::Conflict(format!(
                    "alert {alert}: already acknowledged by {}",
                    found.acknowledged_by.unwrap_or_default()
                )));
            }
            let updated = table::alert(conn, alert)?.expect("the alert just acknowledged");
            Ok(Json(updated))
        })
        .await
}
