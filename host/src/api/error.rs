//! The API's errors: every one is an [`ApiErrorBody`] (linli-alliance's, the registry
//! answers the same) with a stable machine-readable `code` and a message naming what is
//! wrong. A failure of the store itself (a database error, a file that cannot be read)
//! is logged with its details and answered 500 without them: SQL text and paths are for
//! the operator's log, not for the client.
//!
//! The OpenAPI side is here too: the responses routes share ([`NotJson`], [`BadQuery`],
//! [`Invalid`], [`Unauthorized`]), and [`guarded`], which documents the bearer token and
//! its 401 on every route of the token-guarded router, so no route says so by hand.

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use linli_alliance::{ApiErrorBody, ErrorCode};
use linli_runtime::bindings::types::PolicyError;
use linli_runtime::pipeline::PipelineError;
use linli_store::{ServiceError, StoreError};
use utoipa::IntoResponses;
use utoipa::openapi::security::SecurityRequirement;

/// An error a client can act on: the status and a message naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "missing or wrong bearer token: send `Authorization: Bearer <token>` (the token is in the data directory's admin-token file)"
    )]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    /// The route takes other methods (the `Allow` header lists them).
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the route takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unprocessable(String),
    /// No working plugin could decide: the store has to fix its installs.
    #[error("{0}")]
    Unavailable(String),
    /// A server the store relies on (the registry) failed.
    #[error("{0}")]
    BadGateway(String),
    /// The store failed; the text goes to the log only (see [`ApiErrorBody::answer`]).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            ApiError::Unprocessable(_) => ErrorCode::Unprocessable,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::BadGateway(_) => ErrorCode::BadGateway,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {err}"))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

/// A store service's refusal keeps its meaning: 404, 409, 422.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(message) => ApiError::NotFound(message),
            ServiceError::Conflict(message) => ApiError::Conflict(message),
            ServiceError::Invalid(message) => ApiError::Unprocessable(message),
            ServiceError::Corrupt(message) => ApiError::Internal(message),
            ServiceError::Database(err) => err.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = StatusCode::from_u16(code.status()).expect("every code is a status");
        (status, Json(ApiErrorBody::answer(code, self.to_string()))).into_response()
    }
}

/// A route asked with a method it does not take; axum adds the `Allow` header.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} {}: this route does not take {method}; the Allow header lists the methods it takes",
        uri.path()
    ))
}

/// A pipeline that did not decide: the plugin's own refusal is the client's problem
/// (422, with the plugin's words); no working plugin is the store's (503).
pub fn refused(err: PipelineError) -> ApiError {
    match err {
        PipelineError::Refused { install, error, .. } => {
            ApiError::Unprocessable(format!("{install} refused: {}", policy_text(&error)))
        }
        other => ApiError::Unavailable(other.to_string()),
    }
}

fn policy_text(error: &PolicyError) -> String {
    match error {
        PolicyError::InvalidInput(text) => format!("invalid input: {text}"),
        PolicyError::BadConfig(text) => format!("bad setting: {text}"),
        PolicyError::Refused(text) => text.clone(),
    }
}

// The responses routes share, named in their `#[utoipa::path(responses(...))]`.
// Never built: they only document.

/// 400: the body is not JSON.
#[derive(IntoResponses)]
#[response(status = 400, description = "The body is not JSON")]
#[allow(dead_code)]
pub struct NotJson(ApiErrorBody);

/// 400: a query parameter is unknown or invalid (the error names it).
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "A query parameter is unknown or invalid (the error names it)"
)]
#[allow(dead_code)]
pub struct BadQuery(ApiErrorBody);

/// 422: a field of the body is missing or invalid (the error names it).
#[derive(IntoResponses)]
#[response(
    status = 422,
    description = "A field is missing or invalid (the error names it)"
)]
#[allow(dead_code)]
pub struct Invalid(ApiErrorBody);

/// 401: the bearer token is missing or wrong. Every route of the guarded router
/// answers it; [`guarded`] documents it there.
#[derive(IntoResponses)]
#[response(status = 401, description = "Missing or wrong bearer token")]
#[allow(dead_code)]
pub struct Unauthorized(ApiErrorBody);

/// The name of the security scheme the guarded routes declare.
pub const BEARER: &str = "bearer";

/// Document every operation of `openapi` as the token-guarded router serves it: the
/// bearer scheme required, and its 401.
pub fn guarded(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            operation
                .responses
                .responses
                .extend(Unauthorized::responses());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_failure_of_the_store_keeps_its_details_in_the_log() {
        let error = ApiError::Internal(
            "database: no such table: sales in SELECT * FROM sales (/var/lib/linli/linli.db)"
                .into(),
        );
        let (status, body) = body(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
        assert_eq!(body["error"], linli_alliance::INTERNAL_MESSAGE);
    }

    #[tokio::test]
    async fn an_error_a_client_can_act_on_says_what_and_carries_its_code() {
        let (status, body) = body(ApiError::Conflict("MILK-1L: only 3 on hand".into())).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "conflict");
        assert_eq!(body["error"], "MILK-1L: only 3 on hand");
    }
}
