//! Sensors: readings ingested in batches, the latest reading per device, a device's
//! history over a time range, and cold-chain alerts (listed, acknowledged).

use super::{ApiError, ApiErrorBody, AppState, BadQuery, Body, InPath, NotJson, Params, now_ms};
use crate::sensors::{self, IncomingReading, Ingested};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_store::sensors::{self as table, Alert, Reading};
use linli_store::text;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, mpsc};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(latest))
        .routes(routes!(devices))
        .routes(routes!(history))
        .routes(routes!(alerts))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest))
        .routes(routes!(acknowledge))
}

/// Most readings one history request returns.
pub(super) const MAX_HISTORY: u32 = 10_000;
/// Most alerts one request lists.
pub(super) const MAX_ALERTS: u32 = 1000;

/// Readings from one or more devices.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ReadingBatch)]
#[serde(deny_unknown_fields)]
struct Batch {
    readings: Vec<IncomingReading>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Range {
    /// Unix ms, inclusive; default a day before `to`.
    from: Option<i64>,
    /// Unix ms, exclusive; default now.
    to: Option<i64>,
    /// Only readings of this kind: `temperature`, `humidity` or `shelf-weight`.
    kind: Option<String>,
    /// Most readings returned, 1 to 10000 (the default).
    limit: Option<u32>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AlertFilter {
    /// Only alerts nobody acknowledged yet (default true).
    open: Option<bool>,
    /// Most alerts returned, 1 to 1000 (default 200).
    limit: Option<u32>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Acknowledgement {
    /// Who looked at it (a clerk's name or initials).
    by: String,
    /// What was done: goods moved, discarded, the door shut.
    note: Option<String>,
}

/// Store a batch of readings (at most 10000) and apply the cold-chain rule to them.
#[utoipa::path(
    post,
    path = "/v1/sensors/readings",
    tag = "sensors",
    request_body = Batch,
    responses(
        (status = 201, description = "The readings were stored", body = Ingested),
        NotJson,
        (status = 422, description = "A reading is missing a field or invalid (the error names it)", body = ApiErrorBody),
    )
)]
async fn ingest(
    State(state): State<AppState>,
    Body(batch): Body<Batch>,
) -> Result<(StatusCode, Json<Ingested>), ApiError> {
    state
        .blocking(move |state| {
            let ingested = store_readings(state, batch.readings)?;
            Ok((StatusCode::CREATED, Json(ingested)))
        })
        .await
}

/// Batches of readings waiting for the next commit.
#[derive(Default)]
pub struct IngestQueue {
    waiting: Mutex<Vec<Waiting>>,
}

struct Waiting {
    readings: Vec<IncomingReading>,
    answer: mpsc::SyncSender<Result<Ingested, String>>,
}

/// Check a batch of readings and store it, applying the cold-chain rule: the one way
/// readings enter the store, for devices over HTTP and for the simulator.
///
/// Batches that arrive together are stored in one transaction (group commit): whoever
/// gets the write connection commits every waiting batch and answers each. A batch is
/// answered only after the commit that stored it; a failed commit fails every batch in
/// it. On a disk that takes 4 ms to sync, one commit per batch would cap the store at
/// a batch per sync.
pub fn store_readings(
    state: &AppState,
    readings: Vec<IncomingReading>,
) -> Result<Ingested, ApiError> {
    sensors::validate(&readings, now_ms()).map_err(ApiError::Unprocessable)?;
    let (answer, answered) = mpsc::sync_channel(1);
    linli_store::lock(&state.sensor_queue.waiting).push(Waiting { readings, answer });
    let mut conn = state.db.writer();
    // Whoever held the connection before took every waiting batch and answered it
    // before letting go: no answer yet means this batch still waits, so commit it.
    if let Ok(stored) = answered.try_recv() {
        return stored.map_err(ApiError::Internal);
    }
    let group = std::mem::take(&mut *linli_store::lock(&state.sensor_queue.waiting));
    let batches: Vec<&[IncomingReading]> = group
        .iter()
        .map(|waiting| waiting.readings.as_slice())
        .collect();
    match sensors::ingest_many(&mut conn, &batches, &state.cold_chain) {
        Ok(done) => {
            for (waiting, ingested) in group.iter().zip(done) {
                state
                    .metrics
                    .sensor_readings
                    .fetch_add(ingested.stored as u64, Ordering::Relaxed);
                let _ = waiting.answer.send(Ok(ingested));
            }
        }
        Err(err) => {
            for waiting in &group {
                let _ = waiting.answer.send(Err(format!("database: {err}")));
            }
        }
    }
    drop(conn);
    answered
        .recv()
        .map_err(|_| ApiError::Internal("a queued sensor batch was never answered".into()))?
        .map_err(ApiError::Internal)
}

/// The latest reading of each device and kind.
#[utoipa::path(
    get,
    path = "/v1/sensors/latest",
    tag = "sensors",
    responses((status = 200, description = "The latest readings", body = Vec<Reading>))
)]
async fn latest(State(state): State<AppState>) -> Result<Json<Vec<Reading>>, ApiError> {
    state
        .read_db(|conn, _| Ok(Json(table::latest(conn)?)))
        .await
}

/// A device that sent readings, and the cold-chain range its temperatures must keep.
#[derive(Serialize, utoipa::ToSchema)]
struct Device {
    device: String,
    /// The kinds it reported, each with its latest reading.
    latest: Vec<Reading>,
    /// For a device reporting temperature: the range and the minutes out of it that
    /// raise an alert.
    cold_chain: Option<ColdChainRange>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ColdChainRange {
    min_celsius: f64,
    max_celsius: f64,
    after_minutes: i64,
}

/// Every device that sent readings, with its latest reading per kind and, for
/// temperature devices, the cold-chain range that applies to it.
#[utoipa::path(
    get,
    path = "/v1/sensors/devices",
    tag = "sensors",
    responses((status = 200, description = "The devices", body = Vec<Device>))
)]
async fn devices(State(state): State<AppState>) -> Result<Json<Vec<Device>>, ApiError> {
    state
        .read_db(|conn, state| {
            let mut devices: Vec<Device> = Vec::new();
            for reading in table::latest(conn)? {
                match devices.last_mut() {
                    Some(device) if device.device == reading.device => device.latest.push(reading),
                    _ => devices.push(Device {
                        device: reading.device.clone(),
                        latest: vec![reading],
                        cold_chain: None,
                    }),
                }
            }
            for device in &mut devices {
                if device
                    .latest
                    .iter()
                    .any(|reading| reading.kind == "temperature")
                {
                    let rule = state.cold_chain.rule(&device.device);
                    device.cold_chain = Some(ColdChainRange {
                        min_celsius: rule.min,
                        max_celsius: rule.max,
                        after_minutes: rule.after_ms / 60_000,
                    });
                }
            }
            Ok(Json(devices))
        })
        .await
}

/// A device's readings over a time range, oldest first.
#[utoipa::path(
    get,
    path = "/v1/sensors/devices/{device}/readings",
    tag = "sensors",
    params(("device" = String, Path, description = "The device id"), Range),
    responses(
        (status = 200, description = "The readings", body = Vec<Reading>),
        BadQuery,
        (status = 404, description = "No readings from the device", body = ApiErrorBody),
    )
)]
async fn history(
    State(state): State<AppState>,
    InPath(device): InPath<String>,
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
        .read_db(move |conn, _| {
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

/// Cold-chain alerts, newest first.
#[utoipa::path(
    get,
    path = "/v1/sensors/alerts",
    tag = "sensors",
    params(AlertFilter),
    responses(
        (status = 200, description = "The alerts", body = Vec<Alert>),
        BadQuery,
    )
)]
async fn alerts(
    State(state): State<AppState>,
    Params(filter): Params<AlertFilter>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let limit = filter.limit.unwrap_or(200);
    if !(1..=MAX_ALERTS).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit: {limit}; between 1 and {MAX_ALERTS}"
        )));
    }
    state
        .read_db(move |conn, _| {
            Ok(Json(table::alerts(
                conn,
                filter.open.unwrap_or(true),
                limit,
            )?))
        })
        .await
}

/// Acknowledge an alert: who looked at it and what was done.
#[utoipa::path(
    post,
    path = "/v1/sensors/alerts/{alert}/ack",
    tag = "sensors",
    params(("alert" = i64, Path, description = "The alert number")),
    request_body = Acknowledgement,
    responses(
        (status = 200, description = "The alert, acknowledged", body = Alert),
        NotJson,
        (status = 404, description = "No such alert", body = ApiErrorBody),
        (status = 409, description = "Already acknowledged", body = ApiErrorBody),
        (status = 422, description = "`by` is missing or empty", body = ApiErrorBody),
    )
)]
async fn acknowledge(
    State(state): State<AppState>,
    InPath(alert): InPath<i64>,
    Body(ack): Body<Acknowledgement>,
) -> Result<Json<Alert>, ApiError> {
    text::id("by", &ack.by)?;
    if let Some(note) = &ack.note {
        text::text("note", note)?;
    }
    let by = ack.by.trim().to_string();
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
