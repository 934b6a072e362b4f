//! Plugin installs: list them per policy kind with their health and settings; enable
//! and disable; change an install's settings; put a policy kind's installs in order.
//! The store remembers each change; the pipeline acts on it at once.

use super::{ApiError, AppState, Body};
use crate::runtime::World;
use crate::runtime::pipeline::{InstallStatus, PipelineError};
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rusqlite::params;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub fn reading() -> Router<AppState> {
    Router::new().route("/plugins", get(list))
}

pub fn mutating() -> Router<AppState> {
    Router::new()
        .route("/plugins/{install}/enable", post(enable))
        .route("/plugins/{install}/disable", post(disable))
        .route("/plugins/{install}/config", put(set_config))
        .route("/pipelines/{world}/order", put(reorder))
}

/// A pipeline's new order: every install of the policy kind, each once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Order {
    installs: Vec<String>,
}

/// Most settings a plugin install can have, and the longest key and value.
const MAX_SETTINGS: usize = 64;
const MAX_SETTING_BYTES: usize = 1024;

async fn list(State(state): State<AppState>) -> Json<Vec<InstallStatus>> {
    let statuses = World::ALL
        .iter()
        .flat_map(|world| state.pipeline(*world).status());
    Json(statuses.collect())
}

async fn enable(
    state: State<AppState>,
    install: Path<String>,
) -> Result<Json<InstallStatus>, ApiError> {
    set_enabled(state, install, true).await
}

async fn disable(
    state: State<AppState>,
    install: Path<String>,
) -> Result<Json<InstallStatus>, ApiError> {
    set_enabled(state, install, false).await
}

async fn set_enabled(
    State(state): State<AppState>,
    Path(install): Path<String>,
    enabled: bool,
) -> Result<Json<InstallStatus>, ApiError> {
    state
        .with_db(move |conn, state| {
            let world = world_of(state, &install)?;
            // The store remembers the owner's choice; the pipeline acts on it now.
            conn.execute(
                "UPDATE plugin_install SET enabled = ?2 WHERE install = ?1",
                params![install, enabled],
            )?;
            let pipeline = state.pipeline(world);
            pipeline
                .set_enabled(&install, enabled)
                .map_err(pipeline_error)?;
            Ok(Json(
                pipeline.get(&install).map_err(pipeline_error)?.status(),
            ))
        })
        .await
}

/// Replace an install's settings. Values may be JSON strings, numbers or booleans;
/// plugins read them as text.
async fn set_config(
    State(state): State<AppState>,
    Path(install): Path<String>,
    Body(settings): Body<BTreeMap<String, Value>>,
) -> Result<Json<InstallStatus>, ApiError> {
    let settings = settings_text(settings)?;
    state
        .with_db(move |conn, state| {
            let world = world_of(state, &install)?;
            let stored = serde_json::to_string(&settings).expect("settings serialise");
            conn.execute(
                "UPDATE plugin_install SET config = ?2 WHERE install = ?1",
                params![install, stored],
            )?;
            let found = state
                .pipeline(world)
                .get(&install)
                .map_err(pipeline_error)?;
            found.set_config(settings);
            Ok(Json(found.status()))
        })
        .await
}

fn settings_text(settings: BTreeMap<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    if settings.len() > MAX_SETTINGS {
        return Err(ApiError::Unprocessable(format!(
            "body: {} settings; at most {MAX_SETTINGS}",
            settings.len()
        )));
    }
    settings
        .into_iter()
        .map(|(key, value)| {
            if key.trim().is_empty() || key.len() > MAX_SETTING_BYTES {
                return Err(ApiError::Unprocessable(format!(
                    "body: setting name `{key}`: must be 1 to {MAX_SETTING_BYTES} bytes"
                )));
            }
            let text = match value {
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                other => {
                    return Err(ApiError::Unprocessable(format!(
                        "body: setting `{key}`: {other} is not a string, number or boolean"
                    )));
                }
            };
            if text.len() > MAX_SETTING_BYTES {
                return Err(ApiError::Unprocessable(format!(
                    "body: setting `{key}`: longer than {MAX_SETTING_BYTES} bytes"
                )));
            }
            Ok((key, text))
        })
        .collect()
}

/// Put the installs of one policy kind in a new order: pricing runs them in this order,
/// the other kinds ask them in this order until one answers.
async fn reorder(
    State(state): State<AppState>,
    Path(world): Path<String>,
    Body(order): Body<Order>,
) -> Result<Json<Vec<InstallStatus>>, ApiError> {
    let world = World::from_name(&world).ok_or_else(|| {
        ApiError::NotFound(format!(
            "pipeline {world}: no such policy kind; one of {}",
            World::names()
        ))
    })?;
    state
        .with_db(move |conn, state| {
            let pipeline = state.pipeline(world);
            let before: Vec<String> = pipeline
                .status()
                .into_iter()
                .map(|status| status.id)
                .collect();
            let ids: Vec<&str> = order.installs.iter().map(String::as_str).collect();
            pipeline
                .reorder(&ids)
                .map_err(|err| ApiError::Unprocessable(format!("installs: {err}")))?;
            let written = (|| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for (position, id) in ids.iter().enumerate() {
                    tx.execute(
                        "UPDATE plugin_install SET position = ?2 WHERE install = ?1",
                        params![id, position as i64],
                    )?;
                }
                tx.commit()
            })();
            if let Err(err) = written {
                // The store did not take the order: neither does the pipeline.
                let before: Vec<&str> = before.iter().map(String::as_str).collect();
                let _ = pipeline.reorder(&before);
                return Err(err.into());
            }
            Ok(Json(pipeline.status()))
        })
        .await
}

/// The policy kind an install belongs to.
fn world_of(state: &AppState, install: &str) -> Result<World, ApiError> {
    World::ALL
        .into_iter()
        .find(|world| state.pipeline(*world).get(install).is_ok())
        .ok_or_else(|| ApiError::NotFound(format!("plugin install {install}: no such install")))
}

fn pipeline_error(err: PipelineError) -> ApiError {
    ApiError::NotFound(err.to_string())
}
