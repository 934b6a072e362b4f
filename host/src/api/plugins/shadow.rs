//! A candidate version run in the shadow of an install: it answers the same calls, the
//! active version alone decides, every differing answer is kept; then the owner promotes
//! it or stops it.

use super::bundles::{
    BundleFile, Installed, accept, activate_kept, current, fetch_bundle, same_plugin,
};
use super::{InstallId, NoSuchInstall, pipeline_error, world_of};
use crate::api::{ApiError, ApiErrorBody, AppState, Body, BundleBody, InPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::shadow::ShadowCounts;
use linli_store::installs::{self, KeptDifference};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(shadow_report))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(shadow_from_registry, stop_shadow))
        .routes(routes!(shadow_from_body))
        .routes(routes!(promote))
}

/// A candidate to run in the shadow of an install, from the registry.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CandidateFromRegistry {
    /// `namespace/name@requirement` of the same plugin.
    plugin: String,
    registry: Option<String>,
    #[serde(default)]
    allow_yanked: bool,
}

/// How a shadow run compares with the active version.
#[derive(Serialize, utoipa::ToSchema)]
struct ShadowReport {
    install: String,
    active: Option<String>,
    /// Counts since the candidate started in this daemon run; none when no candidate runs.
    counts: Option<ShadowCounts>,
    /// Differences kept in the store (at most 1000 per candidate).
    kept: i64,
    /// The latest differences, newest first.
    differences: Vec<KeptDifference>,
}

/// Run a candidate version from the registry beside an install: it answers the same
/// calls, the active version alone decides, and every differing answer is kept.
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/shadow",
    tag = "plugins",
    params(InstallId),
    request_body = CandidateFromRegistry,
    responses(
        (status = 201, description = "The candidate runs", body = ShadowReport),
        NoSuchInstall,
        (status = 409, description = "Another plugin, or the version already active", body = ApiErrorBody),
        (status = 422, description = "The bundle is refused (as for an install)", body = ApiErrorBody),
        (status = 502, description = "The registry could not be reached", body = ApiErrorBody),
    )
)]
async fn shadow_from_registry(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
    Body(wanted): Body<CandidateFromRegistry>,
) -> Result<(StatusCode, Json<ShadowReport>), ApiError> {
    let bytes = fetch_bundle(
        &state,
        &wanted.plugin,
        wanted.registry.clone(),
        wanted.allow_yanked,
    )
    .await?;
    shadow_bundle(state, install, bytes).await
}

/// Run a candidate sent as a bundle body beside an install.
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/shadow/bundle",
    tag = "plugins",
    params(InstallId),
    request_body(
        description = "The .linli bundle",
        content((inline(BundleFile) = "application/octet-stream"), (inline(BundleFile) = "application/gzip"))
    ),
    responses(
        (status = 201, description = "The candidate runs", body = ShadowReport),
        NoSuchInstall,
        (status = 413, description = "The body is larger than a bundle may be", body = ApiErrorBody),
        (status = 409, description = "Another plugin, or the version already active", body = ApiErrorBody),
        (status = 422, description = "The bundle is refused (as for an install)", body = ApiErrorBody),
    )
)]
async fn shadow_from_body(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
    BundleBody(body): BundleBody,
) -> Result<(StatusCode, Json<ShadowReport>), ApiError> {
    shadow_bundle(state, install, body).await
}

async fn shadow_bundle(
    state: AppState,
    id: String,
    bytes: Vec<u8>,
) -> Result<(StatusCode, Json<ShadowReport>), ApiError> {
    let accepted = accept(&state, bytes).await?;
    state
        .with_db(move |conn, state| {
            let current = current(conn, &id)?;
            same_plugin(&current, &accepted)?;
            let world = accepted.plugin.world();
            let version = accepted.row.version.clone();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            installs::add_version(&tx, &id, &accepted.row)?;
            installs::set_shadow(&tx, &id, Some(&version))?;
            tx.commit()?;
            let install = state.pipeline(world).get(&id).map_err(pipeline_error)?;
            install.set_shadow(Some(state.installer.shadow(
                &id,
                &version,
                Arc::new(accepted.plugin),
            )));
            tracing::info!(install = %id, candidate = %version, "shadow run started");
            Ok((StatusCode::CREATED, Json(report(conn, state, &id)?)))
        })
        .await
}

/// The shadow report: counts, and the calls on which the candidate differed.
#[utoipa::path(
    get,
    path = "/v1/plugins/{install}/shadow",
    tag = "plugins",
    params(InstallId),
    responses(
        (status = 200, description = "The report", body = ShadowReport),
        NoSuchInstall,
    )
)]
async fn shadow_report(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
) -> Result<Json<ShadowReport>, ApiError> {
    state
        .read_db(move |conn, state| Ok(Json(report(conn, state, &install)?)))
        .await
}

fn report(conn: &Connection, state: &AppState, id: &str) -> Result<ShadowReport, ApiError> {
    let world = world_of(state, id)?;
    let install = state.pipeline(world).get(id).map_err(pipeline_error)?;
    let (active, _) = installs::active(conn, id)?.unwrap_or_default();
    let candidate = installs::shadow(conn, id)?;
    let (differences, kept) = match &candidate {
        Some(candidate) => installs::differences(conn, id, candidate, 50)?,
        None => (Vec::new(), 0),
    };
    Ok(ShadowReport {
        install: id.to_string(),
        active,
        counts: install.shadow().map(|shadow| shadow.counts()),
        kept,
        differences,
    })
}

/// Make the candidate the active version (the active one becomes the rollback target).
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/promote",
    tag = "plugins",
    params(InstallId),
    responses(
        (status = 200, description = "Promoted", body = Installed),
        NoSuchInstall,
        (status = 409, description = "No candidate runs", body = ApiErrorBody),
    )
)]
async fn promote(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
) -> Result<Json<Installed>, ApiError> {
    state
        .with_db(move |conn, state| {
            let current = current(conn, &install)?;
            let candidate = current.shadow.clone().ok_or_else(|| {
                ApiError::Conflict(format!("install {install} runs no candidate to promote"))
            })?;
            let installed = activate_kept(conn, state, current, &candidate)?;
            tracing::info!(%install, version = %installed.version, "shadow candidate promoted");
            Ok(Json(installed))
        })
        .await
}

/// Stop the candidate running beside an install (its differences stay).
#[utoipa::path(
    delete,
    path = "/v1/plugins/{install}/shadow",
    tag = "plugins",
    params(InstallId),
    responses(
        (status = 200, description = "Stopped; the report as it ended", body = ShadowReport),
        NoSuchInstall,
        (status = 409, description = "No candidate runs", body = ApiErrorBody),
    )
)]
async fn stop_shadow(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
) -> Result<Json<ShadowReport>, ApiError> {
    state
        .with_db(move |conn, state| {
            let world = world_of(state, &install)?;
            if installs::shadow(conn, &install)?.is_none() {
                return Err(ApiError::Conflict(format!(
                    "install {install} runs no candidate"
                )));
            }
            let ended = report(conn, state, &install)?;
            installs::set_shadow(conn, &install, None)?;
            state
                .pipeline(world)
                .get(&install)
                .map_err(pipeline_error)?
                .set_shadow(None);
            Ok(Json(ended))
        })
        .await
}
