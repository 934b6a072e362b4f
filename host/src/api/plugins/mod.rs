//! Plugin installs, in three parts: here the owner's administration of installs (list
//! them per policy kind with their health and settings, enable and disable, change
//! settings, put a policy kind's installs in order); [`bundles`] the lifecycle of
//! versions (install and upgrade from signed bundles, from a registry or sent as the
//! body, roll back, list an install's versions); [`shadow`] a candidate version run
//! beside an install, then promoted or stopped. The store remembers each change; the
//! pipeline acts on it at once.

mod bundles;
mod shadow;

pub(super) use bundles::{MAX_REQUIREMENT_CHARS, MAX_URL_CHARS};

use super::{ApiError, ApiErrorBody, AppState, Body, InPath, NotJson};
use axum::Json;
use axum::extract::State;
use linli_runtime::World;
use linli_runtime::pipeline::{InstallStatus, PipelineError};
use linli_sdk::bundle::Manifest;
use linli_store::installs::{self};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .merge(bundles::reading())
        .merge(shadow::reading())
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(set_config))
        .routes(routes!(reorder))
        .merge(bundles::mutating())
        .merge(shadow::mutating())
}

/// The install a route acts on (documentation of the `{install}` path parameter).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct InstallId {
    /// The install id
    install: String,
}

/// 404: the `{install}` of the path is no install of this store.
#[derive(utoipa::IntoResponses)]
#[response(status = 404, description = "No such install")]
#[allow(dead_code)]
pub(super) struct NoSuchInstall(ApiErrorBody);

/// A pipeline's new order: every install of the policy kind, each once.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PipelineOrder)]
#[serde(deny_unknown_fields)]
struct Order {
    installs: Vec<String>,
}

/// Most settings a plugin install can have, and the longest name and value (in
/// characters, as JSON Schema counts them).
const MAX_SETTINGS: usize = 64;
const MAX_SETTING_CHARS: usize = 1024;

/// The body of `PUT /v1/plugins/{install}/config` (documentation only: the handler
/// checks it, naming the setting that is wrong).
struct Settings;

impl utoipa::PartialSchema for Settings {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let text = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_SETTING_CHARS))
        };
        let value = OneOfBuilder::new()
            .item(text())
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .description(Some(format!(
                "A string (at most {MAX_SETTING_CHARS} characters), number or boolean; \
                 plugins read it as text."
            )));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .max_properties(Some(MAX_SETTINGS))
            .property_names(Some(text().min_length(Some(1)).pattern(Some(r"\S"))))
            .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
            .description(Some(format!(
                "Every setting of the install, by name (at most {MAX_SETTINGS}): each one \
                 the plugin's manifest declares (`GET /v1/plugins/{{install}}/versions` \
                 has it), with a value of its type, within its range, one of its values."
            )))
            .into()
    }
}

impl utoipa::ToSchema for Settings {}

/// An install as the owner sees it: what runs, at which version, how it is doing.
#[derive(Serialize, utoipa::ToSchema)]
struct InstallView {
    #[serde(flatten)]
    status: InstallStatus,
    /// `namespace/name` of the bundle it runs.
    plugin: Option<String>,
    version: Option<String>,
    /// The version a rollback returns to.
    previous: Option<String>,
}

/// Every plugin install of every policy kind, in pipeline order, with its version,
/// health and settings.
#[utoipa::path(
    get,
    path = "/v1/plugins",
    tag = "plugins",
    responses((status = 200, description = "The installs", body = Vec<InstallView>))
)]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<InstallView>>, ApiError> {
    state
        .read_db(|conn, state| {
            let running = installs::running(conn)?;
            let views = World::ALL
                .iter()
                .flat_map(|world| state.pipeline(*world).status())
                .map(|status| {
                    let row = running.iter().find(|row| row.install == status.id);
                    let row = row.cloned().unwrap_or_default();
                    InstallView {
                        plugin: row.plugin,
                        version: row.version,
                        previous: row.previous,
                        status,
                    }
                });
            Ok(Json(views.collect()))
        })
        .await
}

/// Enable an install (and clear its circuit breaker).
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/enable",
    tag = "plugins",
    params(InstallId),
    responses(
        (status = 200, description = "The install's new status", body = InstallStatus),
        NoSuchInstall,
    )
)]
async fn enable(
    state: State<AppState>,
    install: InPath<String>,
) -> Result<Json<InstallStatus>, ApiError> {
    set_enabled(state, install, true).await
}

/// Disable an install: its pipeline stops calling it.
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/disable",
    tag = "plugins",
    params(InstallId),
    responses(
        (status = 200, description = "The install's new status", body = InstallStatus),
        NoSuchInstall,
    )
)]
async fn disable(
    state: State<AppState>,
    install: InPath<String>,
) -> Result<Json<InstallStatus>, ApiError> {
    set_enabled(state, install, false).await
}

async fn set_enabled(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
    enabled: bool,
) -> Result<Json<InstallStatus>, ApiError> {
    state
        .with_db(move |conn, state| {
            let world = world_of(state, &install)?;
            // The store remembers the owner's choice; the pipeline acts on it now.
            installs::set_enabled(conn, &install, enabled)?;
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
/// plugins read them as text. Each must be a setting the plugin's manifest declares,
/// with a value it takes (of its type, within its range, one of its values): one bad
/// setting is refused here rather than stopping every call of the plugin.
#[utoipa::path(
    put,
    path = "/v1/plugins/{install}/config",
    tag = "plugins",
    params(InstallId),
    request_body(content = inline(Settings), description = "Every setting of the install, by name"),
    responses(
        (status = 200, description = "The install's new status", body = InstallStatus),
        NotJson,
        NoSuchInstall,
        (status = 422, description = "Too many settings, a setting the plugin does not declare, or a value it does not take (the error names the setting and what it takes)", body = ApiErrorBody),
    )
)]
async fn set_config(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
    Body(settings): Body<BTreeMap<String, Value>>,
) -> Result<Json<InstallStatus>, ApiError> {
    let settings = settings_text(settings)?;
    state
        .with_db(move |conn, state| {
            let world = world_of(state, &install)?;
            if let Some(manifest) = running_manifest(conn, &install)? {
                for (key, value) in &settings {
                    manifest
                        .check_setting(key, value)
                        .map_err(|err| ApiError::Unprocessable(format!("body: {err}")))?;
                }
            }
            installs::set_config(conn, &install, &settings)?;
            let found = state
                .pipeline(world)
                .get(&install)
                .map_err(pipeline_error)?;
            found.set_config(settings);
            Ok(Json(found.status()))
        })
        .await
}

/// The manifest of the version an install runs, which declares the settings it takes;
/// none for an install from before manifests were kept.
fn running_manifest(conn: &Connection, install: &str) -> Result<Option<Manifest>, ApiError> {
    let Some(version) = installs::get(conn, install)?.and_then(|row| row.version) else {
        return Ok(None);
    };
    let Some(row) = installs::version(conn, install, &version)? else {
        return Ok(None);
    };
    Ok(Manifest::parse(&row.manifest).ok())
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
            if key.trim().is_empty() || key.chars().count() > MAX_SETTING_CHARS {
                return Err(ApiError::Unprocessable(format!(
                    "body: setting name `{key}`: must be 1 to {MAX_SETTING_CHARS} characters, not blank"
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
            if text.chars().count() > MAX_SETTING_CHARS {
                return Err(ApiError::Unprocessable(format!(
                    "body: setting `{key}`: longer than {MAX_SETTING_CHARS} characters"
                )));
            }
            Ok((key, text))
        })
        .collect()
}

/// Put the installs of one policy kind in a new order: pricing runs them in this order,
/// the other kinds ask them in this order until one answers.
#[utoipa::path(
    put,
    path = "/v1/pipelines/{world}/order",
    tag = "plugins",
    params(("world" = World, Path, description = "The policy kind")),
    request_body = Order,
    responses(
        (status = 200, description = "The policy kind's installs in their new order", body = Vec<InstallStatus>),
        NotJson,
        (status = 404, description = "No such policy kind", body = ApiErrorBody),
        (status = 422, description = "The order does not name every install of the kind exactly once", body = ApiErrorBody),
    )
)]
async fn reorder(
    State(state): State<AppState>,
    InPath(world): InPath<String>,
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
                    installs::set_position(&tx, id, position)?;
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
pub(super) fn world_of(state: &AppState, install: &str) -> Result<World, ApiError> {
    World::ALL
        .into_iter()
        .find(|world| state.pipeline(*world).get(install).is_ok())
        .ok_or_else(|| ApiError::NotFound(format!("plugin install {install}: no such install")))
}

pub(super) fn pipeline_error(err: PipelineError) -> ApiError {
    ApiError::NotFound(err.to_string())
}
