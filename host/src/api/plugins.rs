//! Plugin installs: list them per policy kind with their health; enable and disable.

use super::{ApiError, AppState};
use crate::runtime::World;
use crate::runtime::pipeline::{InstallStatus, PipelineError};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::params;

pub fn reading() -> Router<AppState> {
    Router::new().route("/plugins", get(list))
}

pub fn mutating() -> Router<AppState> {
    Router::new()
        .route("/plugins/{install}/enable", post(enable))
        .route("/plugins/{install}/disable", post(disable))
}

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
            let world = World::ALL
                .into_iter()
                .find(|world| state.pipeline(*world).get(&install).is_ok())
                .ok_or_else(|| {
                    ApiError::NotFound(format!("plugin install {install}: no such install"))
                })?;
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

fn pipeline_error(err: PipelineError) -> ApiError {
    ApiError::NotFound(err.to_string())
}
