//! The plugin index: search and list plugins, versions with their yanked flag, bundle
//! downloads; publish, yank and unyank by a member's signed request; the index a mirror
//! pulls.

use super::{ApiError, AppState, blocking, now_ms, read_only, signer};
use crate::blobs::ReadError;
use crate::db::{self, Member, Version};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use linli_sdk::bundle::{Bundle, PublicKey};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/plugins", get(search).post(publish))
        .route("/v1/plugins/{namespace}/{name}", get(list_versions))
        .route("/v1/plugins/{namespace}/{name}/{version}", get(download))
        .route(
            "/v1/plugins/{namespace}/{name}/{version}/yank",
            post(set_yanked::<true>),
        )
        .route(
            "/v1/plugins/{namespace}/{name}/{version}/unyank",
            post(set_yanked::<false>),
        )
        .route("/v1/index", get(index))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// Words that the name or description contains.
    q: Option<String>,
}

/// One plugin in a search.
#[derive(Serialize)]
struct Listed {
    name: String,
    world: String,
    description: String,
    /// The newest version not yanked; none when every version is.
    latest: Option<String>,
    versions: usize,
}

async fn search(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let words: Vec<String> = query
        .q
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    state
        .with_db(move |conn, _| {
            let mut plugins: std::collections::BTreeMap<(String, String), Vec<Version>> =
                Default::default();
            for version in db::all_versions(conn)? {
                plugins
                    .entry((version.namespace.clone(), version.name.clone()))
                    .or_default()
                    .push(version);
            }
            let mut listed = Vec::new();
            for ((namespace, name), mut versions) in plugins {
                versions.sort_by_key(|version| std::cmp::Reverse(semver(&version.version)));
                let newest = &versions[0];
                let text = format!("{namespace}/{name} {}", newest.description).to_lowercase();
                if !words.iter().all(|word| text.contains(word)) {
                    continue;
                }
                listed.push(Listed {
                    name: format!("{namespace}/{name}"),
                    world: newest.world.clone(),
                    description: newest.description.clone(),
                    latest: versions
                        .iter()
                        .find(|version| !version.yanked)
                        .map(|version| version.version.clone()),
                    versions: versions.len(),
                });
            }
            Ok(Json(listed))
        })
        .await
}

fn semver(text: &str) -> semver::Version {
    semver::Version::parse(text).unwrap_or(semver::Version::new(0, 0, 0))
}

async fn list_versions(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Vec<Version>>, ApiError> {
    state
        .with_db(move |conn, _| {
            let versions = db::versions(conn, &namespace, &name)?;
            if versions.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "plugin {namespace}/{name}: not published here"
                )));
            }
            Ok(Json(versions))
        })
        .await
}

async fn download(
    State(state): State<AppState>,
    Path((namespace, name, version)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let found = state
        .with_db(move |conn, _| {
            db::version(conn, &namespace, &name, &version)?.ok_or_else(|| {
                ApiError::NotFound(format!(
                    "plugin {namespace}/{name} {version}: not published here"
                ))
            })
        })
        .await?;
    let (blobs, sha256) = (state.blobs.clone(), found.sha256.clone());
    let label = format!("{}/{} {}", found.namespace, found.name, found.version);
    let bytes = blocking(move || {
        blobs.read(&sha256).map_err(|err| match err {
            ReadError::Missing(_) => ApiError::NotFound(format!(
                "plugin {label}: its bundle file is missing from this registry's storage; ask the operator to restore it"
            )),
            ReadError::Failed(message) => ApiError::Internal(message),
        })
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static("x-linli-sha256"),
                found.sha256.clone(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{}-{}.linli\"",
                    found.namespace, found.name, found.version
                ),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Who sent a signed request: the member the key speaks for.
fn authenticate(
    conn: &Connection,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<(String, PublicKey), ApiError> {
    let key = signer(headers, method, uri, body)?;
    let member = db::member_of_key(conn, &key.to_hex())?.ok_or_else(|| {
        ApiError::Forbidden(format!(
            "key {} is not a member key of this registry; ask the operator to add it (`linli-registry member add`)",
            key.id()
        ))
    })?;
    Ok((member, key))
}

#[derive(Serialize)]
struct Published {
    name: String,
    version: String,
    sha256: String,
    signer: String,
}

/// Publish a bundle: the body is the `.linli` file, the request signed by a member key.
async fn publish(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    read_only(&state)?;
    state
        .with_db(move |conn, state| {
            let (member, _) = authenticate(conn, &headers, &method, &uri, &body)?;
            let bundle =
                Bundle::read(&body).map_err(|err| ApiError::Unprocessable(err.to_string()))?;
            let signer = bundle
                .verify_signature()
                .map_err(|err| ApiError::Unprocessable(err.to_string()))?;
            let (namespace, name) = bundle.manifest.split_name();
            match db::owner_of(conn, namespace)? {
                Some(owner) if owner == member => {}
                Some(owner) => {
                    return Err(ApiError::Forbidden(format!(
                        "namespace {namespace} belongs to member {owner}, not {member}"
                    )));
                }
                None => {
                    return Err(ApiError::Forbidden(format!(
                        "namespace {namespace} belongs to no member; ask the operator to give it to {member}"
                    )));
                }
            }
            if db::member_of_key(conn, &signer.to_hex())?.as_deref() != Some(member.as_str()) {
                return Err(ApiError::Forbidden(format!(
                    "the bundle is signed by {}, not by a key of member {member}",
                    signer.id()
                )));
            }
            let sha256 = hex::encode(Sha256::digest(&body));
            let version = Version {
                namespace: namespace.to_string(),
                name: name.to_string(),
                version: bundle.manifest.version.to_string(),
                world: bundle.manifest.world.clone(),
                policy: bundle.manifest.policy.to_string(),
                description: bundle.manifest.description.clone(),
                sha256: sha256.clone(),
                size: body.len() as i64,
                signer: signer.to_hex(),
                published_at: now_ms(),
                yanked: false,
            };
            state.blobs.keep(conn, &version, &body)?;
            tracing::info!(plugin = %bundle.manifest.name, version = %version.version, %member, "published");
            Ok((
                StatusCode::CREATED,
                Json(Published {
                    name: bundle.manifest.name.clone(),
                    version: version.version,
                    sha256,
                    signer: signer.id(),
                }),
            ))
        })
        .await
}

/// Yank (`YANKED`) or unyank a version: only a key of the namespace's owner may.
async fn set_yanked<const YANKED: bool>(
    State(state): State<AppState>,
    Path((namespace, name, version)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Version>, ApiError> {
    let yanked = YANKED;
    read_only(&state)?;
    state
        .with_db(move |conn, _| {
            let (member, _) = authenticate(conn, &headers, &method, &uri, &body)?;
            let found = db::version(conn, &namespace, &name, &version)?.ok_or_else(|| {
                ApiError::NotFound(format!(
                    "plugin {namespace}/{name} {version}: not published here"
                ))
            })?;
            if db::owner_of(conn, &namespace)?.as_deref() != Some(member.as_str()) {
                return Err(ApiError::Forbidden(format!(
                    "namespace {namespace} is not member {member}'s: only its owner yanks its versions"
                )));
            }
            db::set_yanked(conn, &namespace, &name, &version, yanked)?;
            Ok(Json(Version { yanked, ..found }))
        })
        .await
}

/// What a mirror pulls: the members and every version.
#[derive(Serialize, Deserialize)]
pub struct Index {
    pub members: Vec<Member>,
    pub versions: Vec<Version>,
}

async fn index(State(state): State<AppState>) -> Result<Json<Index>, ApiError> {
    state
        .with_db(|conn, _| {
            Ok(Json(Index {
                members: db::members(conn)?,
                versions: db::all_versions(conn)?,
            }))
        })
        .await
}
