//! The registry's HTTP API (`/v1`), one module per area: the plugin index with
//! publish and yank (`plugins`), members and stores (`members`), the events stores push
//! (`events`), the stock pool (`pool`) and the operator's reports (`reports`). This
//! module holds what they share: the state, the error, and who signed a request.
//!
//! The plugin index and what a mirror pulls (members, their public keys and
//! namespaces) are public; everything about the alliance's stores (their push state,
//! transfers, shared figures) answers only a request signed by a member's or a store's
//! key ([`caller`]), and 401 to anyone else.

mod events;
mod members;
mod plugins;
mod pool;
mod reports;

pub use plugins::Index;

use crate::blobs::{Blobs, KeepError};
use crate::db;
use crate::pool::PoolError;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use linli_alliance::{ApiErrorBody, ErrorCode};
use linli_sdk::bundle::{PublicKey, verify_request};
use rusqlite::Connection;
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Mutex<Connection>>,
    /// Bundles, one file per SHA-256.
    pub blobs: Blobs,
    /// The registry this one mirrors: read-only when set.
    pub mirror_of: Option<String>,
    /// No shared figure the operator's views show counts fewer than k.
    pub k: u32,
}

/// Run blocking work (the database, files, hashing) off the async workers.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::Internal(format!("request task failed: {err}")))?
}

impl AppState {
    pub(crate) async fn with_db<T, F>(&self, work: F) -> Result<T, ApiError>
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
}

/// The largest bundle the registry takes.
const MAX_BUNDLE_BYTES: usize = linli_sdk::bundle::MAX_BUNDLE_BYTES as usize;

/// A body announced larger than any request may be is refused before a byte of it is
/// read (the body limit alone reads it up to the limit first, after `100 Continue`).
async fn refuse_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let announced = (request.headers().get(header::CONTENT_LENGTH))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = announced.filter(|&length| length > MAX_BUNDLE_BYTES as u64) {
        let message = format!(
            "the body is {length} bytes; a request may send at most {MAX_BUNDLE_BYTES} (a bundle's largest)"
        );
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(ApiErrorBody::answer(ErrorCode::PayloadTooLarge, message)),
        )
            .into_response();
    }
    next.run(request).await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(plugins::routes())
        .merge(members::routes())
        .merge(events::routes())
        .merge(pool::routes())
        .merge(reports::routes())
        .fallback(|| async { ApiError::NotFound("no such route; the API lives under /v1".into()) })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::MethodNotAllowed(format!(
                "{method} {}: not a method of this route",
                uri.path()
            ))
        })
        .layer(DefaultBodyLimit::max(MAX_BUNDLE_BYTES))
        .layer(axum::middleware::from_fn(refuse_oversized))
        // What axum and its layers answer on their own (413 for a body over the
        // limit, a rejected extractor) is the same JSON error body as every route's.
        .layer(axum::middleware::from_fn(
            linli_alliance::error::json_errors,
        ))
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

impl From<PoolError> for ApiError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::NotFound(message) => ApiError::NotFound(message),
            PoolError::NotYours(message) => ApiError::Forbidden(message),
            PoolError::Conflict(message) => ApiError::Conflict(message),
            PoolError::Invalid(message) => ApiError::Unprocessable(message),
            PoolError::Unreadable(message) => ApiError::Internal(message),
            PoolError::Database(err) => err.into(),
        }
    }
}

impl From<KeepError> for ApiError {
    fn from(err: KeepError) -> Self {
        match err {
            KeepError::Exists(message) => ApiError::Conflict(message),
            KeepError::Failed(message) => ApiError::Internal(message),
        }
    }
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::Unprocessable(_) => ErrorCode::Unprocessable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Every error is linli-alliance's [`ApiErrorBody`]; a failure of the registry itself
/// (a database error, a blob that cannot be written) is logged with its details and
/// answered without them.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = StatusCode::from_u16(code.status()).expect("every code is a status");
        (status, Json(ApiErrorBody::answer(code, self.to_string()))).into_response()
    }
}

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The key that signed a request, checked against the request and the clock.
pub(crate) fn signer(
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
                "authorization: missing; sign the request with a member's key (`linli plugin publish --key`) or a store's (the daemon's `[alliance] key`)".into(),
            )
        })?;
    verify_request(header, method.as_str(), uri.path(), body, now_ms())
        .map_err(|err| ApiError::Unauthorized(err.to_string()))
}

pub(crate) fn read_only(state: &AppState) -> Result<(), ApiError> {
    match &state.mirror_of {
        Some(origin) => Err(ApiError::MethodNotAllowed(format!(
            "this registry is a read-only mirror of {origin}; publish and yank there"
        ))),
        None => Ok(()),
    }
}

/// The store a request is signed by (`linli-registry store add`).
pub(crate) fn store_of(
    conn: &Connection,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<String, ApiError> {
    store_named_by(conn, &signer(headers, method, uri, body)?)
}

/// The store a key signs for.
pub(crate) fn store_named_by(conn: &Connection, key: &PublicKey) -> Result<String, ApiError> {
    db::store_of_key(conn, &key.to_hex())?.ok_or_else(|| {
        ApiError::Unauthorized(format!(
            "key {} is no store's key here; ask the alliance operator to register it (`linli-registry store add`)",
            key.id()
        ))
    })
}

/// Who a signed request for the alliance's data is from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Caller {
    /// A member (`linli-registry member add`): sees the whole alliance.
    Member(String),
    /// A store (`linli-registry store add`): sees the alliance's shared figures and
    /// stores, and its own transfers.
    Store(String),
}

/// The member or store a request without a body is signed by: the alliance's data is
/// theirs alone. Unsigned, forged, stale, or signed by a key of nobody here: 401.
pub(crate) fn caller(
    conn: &Connection,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
) -> Result<Caller, ApiError> {
    let key = signer(headers, method, uri, b"")?;
    if let Some(member) = db::member_of_key(conn, &key.to_hex())? {
        return Ok(Caller::Member(member));
    }
    if let Some(store) = db::store_of_key(conn, &key.to_hex())? {
        return Ok(Caller::Store(store));
    }
    Err(ApiError::Unauthorized(format!(
        "key {} is neither a member's nor a store's key here; the alliance's data is for its members and stores: ask the operator to add the key (`linli-registry member add` or `store add`)",
        key.id()
    )))
}
