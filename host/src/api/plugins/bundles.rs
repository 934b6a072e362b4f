//! The versions of an install: install and upgrade from signed bundles (from a registry
//! or sent as the body), roll back, list what an install has run.

use super::{InstallId, NoSuchInstall, pipeline_error, world_of};
use crate::api::{ApiError, ApiErrorBody, AppState, Body, BundleBody, InPath, NotJson, Params};
use crate::install::{self, Requirement, check_bundle};
use crate::now_ms;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::pipeline::{Install, InstallStatus};
use linli_runtime::{Grants, Plugin, World};
use linli_sdk::bundle::{Bundle, ManifestLimits, is_identifier};
use linli_store::installs::{self, VersionRow};
use linli_store::trust;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(versions))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(install_from_registry))
        .routes(routes!(install_from_body))
        .routes(routes!(rollback))
}

/// Install from a registry: which plugin, which versions, from where, and how the
/// install may go.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct FromRegistry {
    /// `namespace/name@requirement`, e.g. `alliance/markdown@^1.2`.
    plugin: String,
    /// The registry (default: the store's `[plugins] registry`).
    registry: Option<String>,
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

/// How an install may go: the query of a bundle sent as the body.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InstallOptions {
    /// The install id (default: the plugin's name without its namespace).
    #[serde(rename = "as")]
    install_as: Option<String>,
    /// Accept a version older than the active one.
    #[serde(default)]
    allow_downgrade: bool,
}

/// A `.linli` bundle sent as the body (documentation of the body; the handler reads it
/// as `BundleBody`).
pub(super) struct BundleFile;

impl utoipa::PartialSchema for BundleFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .content_media_type("application/gzip")
            .description(Some(format!(
                "The bundle file's bytes: a gzipped tar archive of plugin.toml, plugin.wasm \
                 and plugin.sig, at most {} bytes (a larger body is answered 413)",
                linli_sdk::bundle::MAX_BUNDLE_BYTES
            )))
            .into()
    }
}

impl utoipa::ToSchema for BundleFile {}

/// What an install, upgrade or rollback did.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Installed {
    install: String,
    plugin: String,
    pub(super) version: String,
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
    let options = InstallOptions {
        install_as: wanted.install_as,
        allow_downgrade: wanted.allow_downgrade,
    };
    check_install_id(&options)?;
    let bytes = fetch_bundle(&state, &wanted.plugin, wanted.registry, wanted.allow_yanked).await?;
    install_bundle(state, bytes, options).await
}

/// Install or upgrade from a bundle file sent as the body.
#[utoipa::path(
    post,
    path = "/v1/plugins/install/bundle",
    tag = "plugins",
    params(InstallOptions),
    request_body(
        description = "The .linli bundle",
        content((inline(BundleFile) = "application/octet-stream"), (inline(BundleFile) = "application/gzip"))
    ),
    responses(
        (status = 201, description = "Installed or upgraded", body = Installed),
        (status = 400, description = "A query parameter is wrong", body = ApiErrorBody),
        (status = 413, description = "The body is larger than a bundle may be", body = ApiErrorBody),
        (status = 409, description = "Already active, a downgrade without allow_downgrade, or the id runs another plugin", body = ApiErrorBody),
        (status = 422, description = "Refused: not a bundle, unsigned, tampered, untrusted signer, wrong world, a capability not granted, an incompatible contract", body = ApiErrorBody),
    )
)]
async fn install_from_body(
    State(state): State<AppState>,
    Params(options): Params<InstallOptions>,
    BundleBody(body): BundleBody,
) -> Result<(StatusCode, Json<Installed>), ApiError> {
    check_install_id(&options)?;
    install_bundle(state, body, options).await
}

/// An install id given with `as` is a name as a plugin's is, so that it can be named in
/// a path, a setting and a metric label as the default id can.
fn check_install_id(options: &InstallOptions) -> Result<(), ApiError> {
    match options.install_as.as_deref() {
        Some(id) if !is_identifier(id) => Err(ApiError::Unprocessable(format!(
            "as: `{id}` is not an install id: 1 to 64 lowercase letters, digits or `-`, not starting with `-`"
        ))),
        _ => Ok(()),
    }
}

/// A bundle that passed every check a store makes before running it.
pub(super) struct Accepted {
    bundle: Bundle,
    pub(super) plugin: Plugin,
    pub(super) row: VersionRow,
}

/// Check a bundle every way a store must: intact, signed by a key the trust store
/// holds, requesting only capabilities the store grants, and a component that matches
/// its manifest (world, imports, contract range). The cheap checks come first, so an
/// untrusted bundle costs no compile; the compile (seconds for a large component) runs
/// on a blocking thread holding no database connection, so no other request waits on
/// it.
pub(super) async fn accept(state: &AppState, bytes: Vec<u8>) -> Result<Accepted, ApiError> {
    let (bundle, signer) = state
        .read_db(move |conn, state| signed_and_granted(conn, state, &bytes))
        .await?;
    state
        .blocking(move |state| {
            let plugin = check_bundle(&state.installer.runtime, &bundle)
                .map_err(|err| ApiError::Unprocessable(err.to_string()))?;
            let manifest = &bundle.manifest;
            let row = VersionRow {
                version: manifest.version.to_string(),
                plugin: manifest.name.clone(),
                signer: Some(signer),
                installed_at: now_ms(),
                manifest: String::from_utf8_lossy(&bundle.manifest_bytes).into_owned(),
                wasm: bundle.wasm.clone(),
            };
            Ok(Accepted {
                bundle,
                plugin,
                row,
            })
        })
        .await
}

/// A bundle that reads, is signed by a trusted key, and requests only capabilities the
/// store grants; and its signer's id.
fn signed_and_granted(
    conn: &Connection,
    state: &AppState,
    bytes: &[u8],
) -> Result<(Bundle, String), ApiError> {
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
    Ok((bundle, signer.id()))
}

/// The install an accepted bundle may replace or shadow: the same world and plugin.
pub(super) fn same_plugin(
    current: &installs::InstallRow,
    accepted: &Accepted,
) -> Result<(), ApiError> {
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
    let accepted = accept(&state, bytes).await?;
    state
        .with_db(move |conn, state| {
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
            let previous = existing.as_ref().and_then(|current| current.version.clone());
            let settings = existing.as_ref().map(|current| current.config.clone()).unwrap_or_default();
            // Started with its limits before anything is written: one that cannot start
            // is refused with the store as it was.
            let install = new_install(state, &id, row, &accepted.plugin, settings, &manifest.limits)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            installs::add_version(&tx, &id, row)?;
            match &existing {
                None => installs::insert(&tx, &id, world.name(), &manifest.capabilities, row)?,
                Some(_) => installs::activate(&tx, &id, row)?,
            }
            tx.commit()?;
            let status = swap_in(state, world, install)?;
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

/// The install of a version's plugin under `id`, started once with its limits (an
/// install that cannot start is refused).
fn new_install(
    state: &AppState,
    id: &str,
    version: &VersionRow,
    plugin: &Plugin,
    settings: BTreeMap<String, String>,
    requested: &ManifestLimits,
) -> Result<Install, ApiError> {
    let bundle = install::bundle_label(id, Some(&version.plugin), Some(&version.version));
    state
        .installer
        .install(id, &bundle, plugin, settings, requested)
        .map_err(|err| {
            ApiError::Unprocessable(format!(
                "{} {} cannot start within install {id}'s limits: {err}",
                version.plugin, version.version
            ))
        })
}

/// Put an install into its pipeline, in place of the one with its id: calls in flight
/// finish on the old one, new calls get the new one. The owner's enabled choice
/// carries over.
fn swap_in(state: &AppState, world: World, install: Install) -> Result<InstallStatus, ApiError> {
    let pipeline = state.pipeline(world);
    let id = install.id().to_string();
    let was_enabled = pipeline
        .get(&id)
        .map(|old| old.status().enabled)
        .unwrap_or(true);
    pipeline.add(install);
    if !was_enabled {
        pipeline.set_enabled(&id, false).map_err(pipeline_error)?;
    }
    Ok(pipeline.get(&id).map_err(pipeline_error)?.status())
}

/// Return an install to the version it ran before its last upgrade (rolling back
/// again returns to the newer one).
#[utoipa::path(
    post,
    path = "/v1/plugins/{install}/rollback",
    tag = "plugins",
    params(InstallId),
    responses(
        (status = 200, description = "Rolled back", body = Installed),
        NoSuchInstall,
        (status = 409, description = "Nothing to roll back to", body = ApiErrorBody),
    )
)]
async fn rollback(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
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
pub(super) fn current(conn: &Connection, install: &str) -> Result<installs::InstallRow, ApiError> {
    installs::get(conn, install)?
        .ok_or_else(|| ApiError::NotFound(format!("plugin install {install}: no such install")))
}

/// Make a kept version of an install the active one (the active one becomes the
/// rollback target; a candidate running beside it stops) and swap it in: a rollback or
/// a promotion.
pub(super) fn activate_kept(
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
    let requested = install::requested_limits(&row.manifest);
    let install = new_install(state, &id, &row, &plugin, current.config, &requested)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    installs::activate(&tx, &id, &row)?;
    tx.commit()?;
    let status = swap_in(state, world, install)?;
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
    params(InstallId),
    responses(
        (status = 200, description = "The versions", body = Vec<VersionRow>),
        NoSuchInstall,
    )
)]
async fn versions(
    State(state): State<AppState>,
    InPath(install): InPath<String>,
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

/// The longest requirement (`namespace/name@requirement`) and registry URL asked for.
pub(in crate::api) const MAX_REQUIREMENT_CHARS: usize = 256;
pub(in crate::api) const MAX_URL_CHARS: usize = 2048;

/// Download the bundle a requirement resolves to at a registry (the store's by default).
pub(super) async fn fetch_bundle(
    state: &AppState,
    plugin: &str,
    registry: Option<String>,
    allow_yanked: bool,
) -> Result<Vec<u8>, ApiError> {
    for (field, text, most) in [
        ("plugin", Some(plugin), MAX_REQUIREMENT_CHARS),
        ("registry", registry.as_deref(), MAX_URL_CHARS),
    ] {
        let chars = text.map(|text| text.chars().count());
        if chars.is_some_and(|chars| chars == 0 || chars > most) {
            return Err(ApiError::Unprocessable(format!(
                "{field}: {} characters; 1 to {most}",
                chars.unwrap_or_default()
            )));
        }
    }
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
