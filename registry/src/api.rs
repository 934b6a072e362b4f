//! The registry's HTTP API (`/v1`): search and list plugins, versions with their yanked
//! flag, bundle downloads; publish, yank and unyank by a member's signed request; the
//! index and members a mirror pulls; the events alliance stores push, and the
//! operator's view of the stores.

use crate::db::{self, Member, Version};
use crate::pool;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use linli_sdk::bundle::{Bundle, PublicKey, verify_request};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Mutex<Connection>>,
    /// Bundles, one file per SHA-256.
    pub blobs: PathBuf,
    /// The registry this one mirrors: read-only when set.
    pub mirror_of: Option<String>,
    /// No shared figure the operator's views show counts fewer than k.
    pub k: u32,
}

/// Run blocking work (the database, files, hashing) off the async workers.
async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::Internal(format!("request task failed: {err}")))?
}

impl AppState {
    async fn with_db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &AppState) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        blocking(move || {
            let mut conn = state
                .db
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut conn, &state)
        })
        .await
    }

    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blobs.join(format!("{sha256}.linli"))
    }
}

/// The largest bundle the registry takes.
const MAX_BUNDLE_BYTES: usize = (linli_sdk::bundle::MAX_WASM_BYTES as usize) + (1 << 20);

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/v1/plugins", get(search).post(publish))
        .route("/v1/plugins/{namespace}/{name}", get(list_versions))
        .route("/v1/plugins/{namespace}/{name}/{version}", get(download))
        .route("/v1/plugins/{namespace}/{name}/{version}/yank", post(yank))
        .route(
            "/v1/plugins/{namespace}/{name}/{version}/unyank",
            post(unyank),
        )
        .route("/v1/index", get(index))
        .route("/v1/members", get(members))
        .route("/v1/alliance/events", post(receive_events))
        .route("/v1/alliance/stores", get(alliance_stores))
        .route("/v1/alliance/offers", get(offers))
        .route("/v1/alliance/transfers", get(transfers).post(propose))
        .route("/v1/alliance/transfers/{transfer}/{decision}", post(decide))
        .route("/v1/alliance/reports", get(reports))
        .fallback(|| async { ApiError::NotFound("no such route; the API lives under /v1".into()) })
        .layer(DefaultBodyLimit::max(MAX_BUNDLE_BYTES))
        .with_state(state)
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{self}");
        }
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
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
    let path = state.blob_path(&found.sha256);
    let bytes = blocking(move || {
        std::fs::read(&path)
            .map_err(|err| ApiError::Internal(format!("bundle {}: {err}", path.display())))
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

/// The key that signed a request, checked against the request and the clock.
fn signer(
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<PublicKey, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "authorization: missing; sign the request with a member key (`linli plugin publish --key`)".into(),
            )
        })?;
    verify_request(header, method.as_str(), uri.path(), body, now_ms())
        .map_err(|err| ApiError::Unauthorized(err.to_string()))
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

fn read_only(state: &AppState) -> Result<(), ApiError> {
    match &state.mirror_of {
        Some(origin) => Err(ApiError::MethodNotAllowed(format!(
            "this registry is a read-only mirror of {origin}; publish and yank there"
        ))),
        None => Ok(()),
    }
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
            store(conn, state, &version, &body)?;
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

/// Keep a bundle's file and its version row. The file lands first (written beside and
/// renamed, named by its digest); the row makes it visible. A version that exists is a
/// conflict, and the file of the loser of a race is removed unless the winner's is the
/// same bundle.
pub fn store(
    conn: &Connection,
    state: &AppState,
    version: &Version,
    bytes: &[u8],
) -> Result<(), ApiError> {
    let path = state.blob_path(&version.sha256);
    let existed = path.exists();
    if !existed {
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, bytes)
            .and_then(|()| std::fs::File::open(&partial)?.sync_all())
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|err| ApiError::Internal(format!("bundle {}: {err}", path.display())))?;
    }
    if !db::insert_version(conn, version).map_err(ApiError::Internal)? {
        let kept = db::version(conn, &version.namespace, &version.name, &version.version)?;
        if !existed && kept.is_none_or(|kept| kept.sha256 != version.sha256) {
            let _ = std::fs::remove_file(&path);
        }
        return Err(ApiError::Conflict(format!(
            "{}/{} {} is already published; published versions never change: publish a new version",
            version.namespace, version.name, version.version
        )));
    }
    Ok(())
}

async fn yank(
    state: State<AppState>,
    path: Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Version>, ApiError> {
    set_yanked(state, path, method, uri, headers, body, true).await
}

async fn unyank(
    state: State<AppState>,
    path: Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Version>, ApiError> {
    set_yanked(state, path, method, uri, headers, body, false).await
}

/// Yank or unyank a version: only a key of the namespace's owner may.
async fn set_yanked(
    State(state): State<AppState>,
    Path((namespace, name, version)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    yanked: bool,
) -> Result<Json<Version>, ApiError> {
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

async fn members(State(state): State<AppState>) -> Result<Json<Vec<Member>>, ApiError> {
    state.with_db(|conn, _| Ok(Json(db::members(conn)?))).await
}

/// The most events one push carries.
const MAX_EVENTS: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Push {
    store: String,
    events: Vec<db::Event>,
}

#[derive(Serialize)]
struct Acked {
    /// Every event 1..=acked of the store is kept.
    acked: i64,
}

/// A store pushes the events it shares, signed with its key (`linli-registry store
/// add`). Each (store, seq) is kept once, so a resent batch, or a replayed request
/// within the five minutes its signature is valid, stores nothing twice and gets the
/// same acknowledgement: the highest seq below which no event is missing.
async fn receive_events(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Acked>, ApiError> {
    read_only(&state)?;
    // The signature and the JSON are checked before taking the database, so pushes of
    // many stores do not queue behind one another's hashing and parsing.
    let (key, push) = blocking(move || {
        let key = signer(&headers, &method, &uri, &body)?;
        let push = serde_json::from_slice::<Push>(&body)
            .map_err(|err| ApiError::Unprocessable(format!("body: {err}")));
        Ok((key, push))
    })
    .await?;
    state
        .with_db(move |conn, _| {
            let store = store_named_by(conn, &key)?;
            let push = push?;
            if push.store != store {
                return Err(ApiError::Forbidden(format!(
                    "the batch is for store {}, but the key that signed it is store {store}'s",
                    push.store,
                )));
            }
            if push.events.len() > MAX_EVENTS {
                return Err(ApiError::Unprocessable(format!(
                    "events: {} in one push; send at most {MAX_EVENTS}",
                    push.events.len()
                )));
            }
            if let Some(bad) = push.events.iter().find(|event| event.seq < 1) {
                return Err(ApiError::Unprocessable(format!(
                    "events: seq {}: sequence numbers start at 1",
                    bad.seq
                )));
            }
            let acked = db::receive_events(conn, &store, &push.events, now_ms())?;
            Ok(Json(Acked { acked }))
        })
        .await
}

/// The operator's view: every store, how far its events arrived, when it last pushed.
async fn alliance_stores(
    State(state): State<AppState>,
) -> Result<Json<Vec<db::AllianceStore>>, ApiError> {
    state.with_db(|conn, _| Ok(Json(db::stores(conn)?))).await
}

/// The store a request is signed by (`linli-registry store add`).
fn store_of(
    conn: &Connection,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<String, ApiError> {
    store_named_by(conn, &signer(headers, method, uri, body)?)
}

/// The store a key signs for.
fn store_named_by(conn: &Connection, key: &PublicKey) -> Result<String, ApiError> {
    db::store_of_key(conn, &key.to_hex())?.ok_or_else(|| {
        ApiError::Unauthorized(format!(
            "key {} is no store's key here; ask the alliance operator to register it (`linli-registry store add`)",
            key.id()
        ))
    })
}

/// The pool's default radius: the guide shares safety stock within 3-5 km.
const DEFAULT_RADIUS_KM: f64 = 5.0;
const MAX_RADIUS_KM: f64 = 100.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferQuery {
    /// Offers of this SKU; every SKU without it.
    sku: Option<String>,
    /// From the asking store's location (default 5).
    radius_km: Option<f64>,
}

/// Open offers of the pool within a radius of the asking store (signed), nearest first.
async fn offers(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<OfferQuery>, axum::extract::rejection::QueryRejection>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Proposal {
    /// The offering store.
    store: String,
    /// Its offer.
    offer: String,
    qty: u32,
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
    Path((transfer, decision)): Path<(i64, String)>,
    body: Bytes,
) -> Result<Json<pool::Transfer>, ApiError> {
    let accept = match decision.as_str() {
        "accept" => true,
        "decline" => false,
        other => {
            return Err(ApiError::NotFound(format!(
                "transfers/{transfer}/{other}: no such route; a transfer is accepted or declined"
            )));
        }
    };
    read_only(&state)?;
    state
        .with_db(move |conn, _| {
            let store = store_of(conn, &headers, &method, &uri, &body)?;
            Ok(Json(pool::decide(
                conn,
                &store,
                transfer,
                accept,
                now_ms(),
            )?))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferQuery {
    /// Transfers this store sends or receives.
    store: Option<String>,
    /// proposed (pending), accepted or declined.
    state: Option<String>,
    /// Only transfers decided after this decision number, in the order decided.
    decided_after: Option<i64>,
}

/// Transfers of the pool, newest first: the operator's view of pending ones, and where
/// a store finds what it must accept and what was accepted.
async fn transfers(
    State(state): State<AppState>,
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
            Ok(Json(pool::transfers(
                conn,
                query.store.as_deref(),
                wanted,
                query.decided_after,
            )?))
        })
        .await
}

/// The stores' shared figures, never below k: sales per category and week, and the
/// data-sharing reports received.
async fn reports(State(state): State<AppState>) -> Result<Json<pool::Reports>, ApiError> {
    state
        .with_db(|conn, state| Ok(Json(pool::reports(conn, state.k)?)))
        .await
}
