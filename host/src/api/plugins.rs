//! Plugin installs: list them per policy kind with their health and settings; enable
//! and disable; change an install's settings; put a policy kind's installs in order;
//! install and upgrade from signed bundles (from a registry or sent as the body), roll
//! back, list an install's versions. The store remembers each change; the pipeline acts
//! on it at once.

use super::{ApiError, ApiErrorBody, AppState, Body, NotJson, Params, now_ms};
use crate::install::{self, Requirement, check_bundle};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use linli_runtime::pipeline::{InstallStatus, PipelineError};
use linli_runtime::shadow::ShadowCounts;
use linli_runtime::{Grants, Plugin, World};
use linli_sdk::bundle::{Bundle, ManifestLimits};
use linli_store::installs::{self, KeptDifference, VersionRow};
use linli_store::trust;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(versions))
        .routes(routes!(shadow_report))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(set_config))
        .routes(routes!(reorder))
        .routes(routes!(install_from_registry))
        .routes(routes!(install_from_body))
        .routes(routes!(rollback))
        .routes(routes!(shadow_from_registry, stop_shadow))
        .routes(routes!(shadow_from_body))
        .routes(routes!(promote))
}

/// A pipeline's new order: every install of the policy kind, each once.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PipelineOrder)]
#[serde(deny_unknown_fields)]
struct Order {
    installs: Vec<String>,
}

/// Most settings a plugin install can have, and the longest key and value.
const MAX_SETTINGS: usize = 64;
const MAX_SETTING_BYTES: usize = 1024;

/// A setting's value in `PUT /v1/plugins/{install}/config` (documentation only: the
/// handler checks values itself, naming the setting that is wrong).
struct SettingValue;

impl utoipa::PartialSchema for SettingValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .description(Some(format!(
                "A string, number or boolean; plugins read it as text. At most \
                 {MAX_SETTING_BYTES} bytes."
            )))
            .into()
    }
}

impl utoipa::ToSchema for SettingValue {}

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
    params(("install" = String, Path, description = "The install id")),
    responses(
        (status = 200, description = "The install's new status", body = InstallStatus),
        (status = 404, description = "No such install", body = ApiErrorBody),
    )
)]
async fn enable(
    state: State<AppState>,
    install: Path<String>,
) -> Result<Json<InstallStatus>, ApiError> {
    set_enabled(state, install, true).await
}

/// Disable an install: its pipeline stops calling it.
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/disable",
    tag = "plugins",
    params(("install" = String, Path, description = "The install id")),
    responses(
        (status = 200, description = "The install's new status", body = InstallStatus),
        (status = 404, description = "No such install", body = ApiErrorBody),
    )
)]
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
/// plugins read them as text.
#[utoipa::path(
    put,
    path = "/v1/plugins/{install}/config",
    tag = "plugins",
    params(("install" = String, Path, description = "The install id")),
    request_body(
        content = BTreeMap<String, SettingValue>,
        description = "Every setting of the install, by name (at most 64)"
    ),
    responses(
        (status = 200, description = "The install's new status", body = InstallStatus),
        NotJson,
        (status = 404, description = "No such install", body = ApiErrorBody),
        (status = 422, description = "Too many settings, or a name or value that is not allowed", body = ApiErrorBody),
    )
)]
async fn set_config(
    State(state): State<AppState>,
    Path(install): Path<String>,
    Body(settings): Body<BTreeMap<String, Value>>,
) -> Result<Json<InstallStatus>, ApiError> {
    let settings = settings_text(settings)?;
    state
        .with_db(move |conn, state| {
            let world = world_of(state, &install)?;
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
fn world_of(state: &AppState, install: &str) -> Result<World, ApiError> {
    World::ALL
        .into_iter()
        .find(|world| state.pipeline(*world).get(install).is_ok())
        .ok_or_else(|| ApiError::NotFound(format!("plugin install {install}: no such install")))
}

fn pipeline_error(err: PipelineError) -> ApiError {
    ApiError::NotFound(err.to_string())
}

/// Install from a registry: which plugin, which versions, from where.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct FromRegistry {
    /// `namespace/name@requirement`, e.g. `alliance/markdown@^1.2`.
    plugin: String,
    /// The registry (default: the store's `[plugins] registry`).
    registry: Option<String>,
    #[serde(flatten)]
    options: InstallOptions,
}

/// How an install may go.
#[derive(Deserialize, Default, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct InstallOptions {
    /// The install id (default: the plugin's name without its namespace).
    #[serde(rename = "as")]
    install_as: Option<String>,
    /// Accept a version older than the active one.
    #[serde(default)]
    allow_downgrade: bool,
    /// Accept a yanked version asked for exactly (`=1.2.0`).
    #[serde(default)]
    allow_yanked: bool,
}

/// What an install, upgrade or rollback did.
#[derive(Serialize, utoipa::ToSchema)]
struct Installed {
    install: String,
    plugin: String,
    version: String,
    /// The version it replaced (none for a new install).
    previous: Option<String>,
    /// The key that signed the bundle.
    signer: Option<String>,
    status: InstallStatus,
}

/// Install a plugin from a registry, or upgrade an install to it: the newest version
/// matching the requirement, verified against the trust store and checked against what
/// the store grants; calls in flight finish on the old version.
#[utoipa::path(
    post,
    path = "/v1/plugins/install",
    tag = "plugins",
    request_body = FromRegistry,
    responses(
        (status = 201, description = "Installed or upgraded", body = Installed),
        NotJson,
        (status = 409, description = "Already active, a downgrade without allow_downgrade, or the id runs another plugin", body = ApiErrorBody),
        (status = 422, description = "Refused: unsigned, tampered, untrusted signer, wrong world, a capability not granted, an incompatible contract, a yanked version", body = ApiErrorBody),
        (status = 502, description = "The registry could not be reached or answered wrongly", body = ApiErrorBody),
    )
)]
async fn install_from_registry(
    State(state): State<AppState>,
    Body(wanted): Body<FromRegistry>,
) -> Result<(StatusCode, Json<Installed>), ApiError> {
    let bytes = fetch_bundle(
        &state,
        &wanted.plugin,
        wanted.registry.clone(),
        wanted.options.allow_yanked,
    )
    .await?;
    install_bundle(state, bytes, wanted.options).await
}

/// Install or upgrade from a bundle file sent as the body.
#[utoipa::path(
    post,
    path = "/v1/plugins/install/bundle",
    tag = "plugins",
    params(InstallOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The .linli bundle"),
    responses(
        (status = 201, description = "Installed or upgraded", body = Installed),
        (status = 400, description = "A query parameter is wrong", body = ApiErrorBody),
        (status = 409, description = "Already active, a downgrade without allow_downgrade, or the id runs another plugin", body = ApiErrorBody),
        (status = 422, description = "Refused: not a bundle, unsigned, tampered, untrusted signer, wrong world, a capability not granted, an incompatible contract", body = ApiErrorBody),
    )
)]
async fn install_from_body(
    State(state): State<AppState>,
    Params(options): Params<InstallOptions>,
    body: Bytes,
) -> Result<(StatusCode, Json<Installed>), ApiError> {
    install_bundle(state, body.to_vec(), options).await
}

/// A bundle that passed every check a store makes before running it.
struct Accepted {
    bundle: Bundle,
    plugin: Plugin,
    row: VersionRow,
}

/// Check a bundle every way a store must: intact, signed by a key the trust store
/// holds, requesting only capabilities the store grants, and a component that matches
/// its manifest (world, imports, contract range).
fn accept(conn: &Connection, state: &AppState, bytes: &[u8]) -> Result<Accepted, ApiError> {
    let refused = |err: String| ApiError::Unprocessable(err);
    let bundle = Bundle::read(bytes).map_err(|err| refused(err.to_string()))?;
    let signer = bundle
        .verify_signature()
        .map_err(|err| refused(err.to_string()))?;
    let trusted = trust::is_trusted(conn, &signer)?;
    bundle
        .verify(|_| trusted)
        .map_err(|err| refused(err.to_string()))?;
    let manifest = &bundle.manifest;
    let ungranted: Vec<String> = manifest
        .capabilities
        .iter()
        .filter(|asked| !state.plugins.grantable.contains(asked))
        .map(|name| format!("`{name}`"))
        .collect();
    if !ungranted.is_empty() {
        return Err(refused(format!(
            "{} requests {}, which this store does not grant; grant it in the daemon's [plugins] grantable if you trust the plugin with it",
            manifest.name,
            ungranted.join(", ")
        )));
    }
    let plugin =
        check_bundle(&state.installer.runtime, &bundle).map_err(|err| refused(err.to_string()))?;
    let row = VersionRow {
        version: manifest.version.to_string(),
        plugin: manifest.name.clone(),
        signer: Some(signer.id()),
        installed_at: now_ms(),
        manifest: String::from_utf8_lossy(&bundle.manifest_bytes).into_owned(),
        wasm: bundle.wasm.clone(),
    };
    Ok(Accepted {
        bundle,
        plugin,
        row,
    })
}

/// The install an accepted bundle may replace or shadow: the same world and plugin.
fn same_plugin(current: &installs::InstallRow, accepted: &Accepted) -> Result<(), ApiError> {
    let manifest = &accepted.bundle.manifest;
    let id = &current.install;
    if current.world != manifest.world {
        return Err(ApiError::Conflict(format!(
            "install {id} is a {} plugin; {} is {}: install it under another id (`as`)",
            current.world, manifest.name, manifest.world
        )));
    }
    if let Some(plugin) = current.plugin.as_deref()
        && plugin != manifest.name
    {
        return Err(ApiError::Conflict(format!(
            "install {id} runs {plugin}, not {}: install it under another id (`as`)",
            manifest.name
        )));
    }
    if current.version.as_deref() == Some(accepted.row.version.as_str()) {
        return Err(ApiError::Conflict(format!(
            "install {id} already runs {} {}",
            manifest.name, accepted.row.version
        )));
    }
    Ok(())
}

/// Check a bundle every way a store must, then install it or swap it in.
async fn install_bundle(
    state: AppState,
    bytes: Vec<u8>,
    options: InstallOptions,
) -> Result<(StatusCode, Json<Installed>), ApiError> {
    state
        .with_db(move |conn, state| {
            let accepted = accept(conn, state, &bytes)?;
            let manifest = &accepted.bundle.manifest;
            let world = accepted.plugin.world();
            let id = options
                .install_as
                .clone()
                .unwrap_or_else(|| manifest.split_name().1.to_string());
            let row = &accepted.row;
            let existing = installs::get(conn, &id)?;
            if let Some(current) = &existing {
                same_plugin(current, &accepted)?;
                let active = current
                    .version
                    .as_deref()
                    .and_then(|version| semver::Version::parse(version).ok());
                if let Some(active) = active
                    && manifest.version < active
                    && !options.allow_downgrade
                {
                    return Err(ApiError::Conflict(format!(
                        "{} {} is older than the active {active}: a downgrade needs allow_downgrade (`--allow-downgrade`), or use rollback",
                        manifest.name, manifest.version
                    )));
                }
            }
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            installs::add_version(&tx, &id, row)?;
            match &existing {
                None => installs::insert(&tx, &id, world.name(), &manifest.capabilities, row)?,
                Some(_) => installs::activate(&tx, &id, row)?,
            }
            tx.commit()?;
            let previous = existing.as_ref().and_then(|current| current.version.clone());
            let settings = existing.map(|current| current.config).unwrap_or_default();
            let requested = &accepted.bundle.manifest.limits;
            let status = swap_in(state, &id, world, Arc::new(accepted.plugin), settings, requested)?;
            tracing::info!(install = %id, plugin = %row.plugin, version = %row.version, ?previous, "plugin installed");
            Ok((
                StatusCode::CREATED,
                Json(Installed {
                    install: id,
                    plugin: row.plugin.clone(),
                    version: row.version.clone(),
                    previous,
                    signer: row.signer.clone(),
                    status,
                }),
            ))
        })
        .await
}

/// Put a loaded plugin into its pipeline under `id`, in place of the install there:
/// calls in flight finish on the old one, new calls get the new one. The owner's
/// enabled choice carries over.
fn swap_in(
    state: &AppState,
    id: &str,
    world: World,
    plugin: Arc<Plugin>,
    settings: BTreeMap<String, String>,
    requested: &ManifestLimits,
) -> Result<InstallStatus, ApiError> {
    let pipeline = state.pipeline(world);
    let was_enabled = pipeline
        .get(id)
        .map(|old| old.status().enabled)
        .unwrap_or(true);
    pipeline.add(state.installer.install(id, plugin, settings, requested));
    if !was_enabled {
        pipeline.set_enabled(id, false).map_err(pipeline_error)?;
    }
    Ok(pipeline.get(id).map_err(pipeline_error)?.status())
}

/// Return an install to the version it ran before its last upgrade (rolling back
/// again returns to the newer one).
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/rollback",
    tag = "plugins",
    params(("install" = String, Path, description = "The install id")),
    responses(
        (status = 200, description = "Rolled back", body = Installed),
        (status = 404, description = "No such install", body = ApiErrorBody),
        (status = 409, description = "Nothing to roll back to", body = ApiErrorBody),
    )
)]
async fn rollback(
    State(state): State<AppState>,
    Path(install): Path<String>,
) -> Result<Json<Installed>, ApiError> {
    state
        .with_db(move |conn, state| {
            let current = current(conn, &install)?;
            let previous = current.previous.clone().ok_or_else(|| {
                ApiError::Conflict(format!(
                    "install {install} has no earlier version to roll back to"
                ))
            })?;
            let installed = activate_kept(conn, state, current, &previous)?;
            tracing::info!(%install, from = ?installed.previous, to = %installed.version, "plugin rolled back");
            Ok(Json(installed))
        })
        .await
}

/// An install as the store keeps it.
fn current(conn: &Connection, install: &str) -> Result<installs::InstallRow, ApiError> {
    installs::get(conn, install)?
        .ok_or_else(|| ApiError::NotFound(format!("plugin install {install}: no such install")))
}

/// Make a kept version of an install the active one (the active one becomes the
/// rollback target; a candidate running beside it stops) and swap it in: a rollback or
/// a promotion.
fn activate_kept(
    conn: &mut Connection,
    state: &AppState,
    current: installs::InstallRow,
    version: &str,
) -> Result<Installed, ApiError> {
    let id = current.install;
    let world = world_of(state, &id)?;
    let row = installs::version(conn, &id, version)?.ok_or_else(|| {
        ApiError::Internal(format!("install {id}: version {version} is not kept"))
    })?;
    let grants = Grants::parse(&current.grants).map_err(ApiError::Internal)?;
    let plugin = state
        .installer
        .load(&id, &row.wasm, world, &grants)
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    installs::activate(&tx, &id, &row)?;
    tx.commit()?;
    let requested = install::requested_limits(&row.manifest);
    let status = swap_in(state, &id, world, plugin, current.config, &requested)?;
    Ok(Installed {
        install: id,
        plugin: row.plugin,
        version: row.version,
        previous: current.version,
        signer: row.signer,
        status,
    })
}

/// Every version an install has run, oldest first.
#[utoipa::path(
    get,
    path = "/v1/plugins/{install}/versions",
    tag = "plugins",
    params(("install" = String, Path, description = "The install id")),
    responses(
        (status = 200, description = "The versions", body = Vec<VersionRow>),
        (status = 404, description = "No such install", body = ApiErrorBody),
    )
)]
async fn versions(
    State(state): State<AppState>,
    Path(install): Path<String>,
) -> Result<Json<Vec<VersionRow>>, ApiError> {
    state
        .read_db(move |conn, _| {
            if !installs::exists(conn, &install)? {
                return Err(ApiError::NotFound(format!(
                    "plugin install {install}: no such install"
                )));
            }
            Ok(Json(installs::versions(conn, &install)?))
        })
        .await
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
    params(("install" = String, Path, description = "The install id")),
    request_body = CandidateFromRegistry,
    responses(
        (status = 201, description = "The candidate runs", body = ShadowReport),
        (status = 404, description = "No such install", body = ApiErrorBody),
        (status = 409, description = "Another plugin, or the version already active", body = ApiErrorBody),
        (status = 422, description = "The bundle is refused (as for an install)", body = ApiErrorBody),
        (status = 502, description = "The registry could not be reached", body = ApiErrorBody),
    )
)]
async fn shadow_from_registry(
    State(state): State<AppState>,
    Path(install): Path<String>,
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
    params(("install" = String, Path, description = "The install id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The .linli bundle"),
    responses(
        (status = 201, description = "The candidate runs", body = ShadowReport),
        (status = 404, description = "No such install", body = ApiErrorBody),
        (status = 409, description = "Another plugin, or the version already active", body = ApiErrorBody),
        (status = 422, description = "The bundle is refused (as for an install)", body = ApiErrorBody),
    )
)]
async fn shadow_from_body(
    State(state): State<AppState>,
    Path(install): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<ShadowReport>), ApiError> {
    shadow_bundle(state, install, body.to_vec()).await
}

async fn shadow_bundle(
    state: AppState,
    id: String,
    bytes: Vec<u8>,
) -> Result<(StatusCode, Json<ShadowReport>), ApiError> {
    state
        .with_db(move |conn, state| {
            let current = current(conn, &id)?;
            let accepted = accept(conn, state, &bytes)?;
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
    params(("install" = String, Path, description = "The install id")),
    responses(
        (status = 200, description = "The report", body = ShadowReport),
        (status = 404, description = "No such install", body = ApiErrorBody),
    )
)]
async fn shadow_report(
    State(state): State<AppState>,
    Path(install): Path<String>,
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
    params(("install" = String, Path, description = "The install id")),
    responses(
        (status = 200, description = "Promoted", body = Installed),
        (status = 404, description = "No such install", body = ApiErrorBody),
        (status = 409, description = "No candidate runs", body = ApiErrorBody),
    )
)]
async fn promote(
    State(state): State<AppState>,
    Path(install): Path<String>,
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
    params(("install" = String, Path, description = "The install id")),
    responses(
        (status = 200, description = "Stopped; the report as it ended", body = ShadowReport),
        (status = 404, description = "No such install", body = ApiErrorBody),
        (status = 409, description = "No candidate runs", body = ApiErrorBody),
    )
)]
async fn stop_shadow(
    State(state): State<AppState>,
    Path(install): Path<String>,
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

/// Download the bundle a requirement resolves to at a registry (the store's by default).
async fn fetch_bundle(
    state: &AppState,
    plugin: &str,
    registry: Option<String>,
    allow_yanked: bool,
) -> Result<Vec<u8>, ApiError> {
    let requirement = Requirement::parse(plugin)
        .map_err(|err| ApiError::Unprocessable(format!("plugin: {err}")))?;
    let registry = registry.unwrap_or_else(|| state.plugins.registry.clone());
    tokio::task::spawn_blocking(move || install::fetch(&registry, &requirement, allow_yanked))
        .await
        .map_err(|err| ApiError::Internal(format!("request task failed: {err}")))?
        .map_err(|err| {
            if err.contains("yanked") || err.contains("no version") || err.contains("no plugin") {
                ApiError::Unprocessable(err)
            } else {
                ApiError::BadGateway(err)
            }
        })
}
