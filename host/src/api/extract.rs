//! Extractors whose rejections are [`ApiError`]s naming the problem, like every other
//! error: a JSON body, a bundle sent as the body, query parameters, path parameters.

use super::ApiError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use linli_sdk::bundle::MAX_BUNDLE_BYTES;
use std::pin::Pin;

/// The largest JSON body a route takes (the router's `DefaultBodyLimit`).
pub const MAX_JSON_BYTES: usize = 2 << 20;

/// A JSON body whose rejection (broken JSON, a missing or mistyped field) is an
/// `ApiError` naming the problem, like every other error.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // A body announced larger than any JSON body is refused before it is sent (a
        // client that asked `Expect: 100-continue` need not send it at all).
        if content_length(&request).is_some_and(|length| length > MAX_JSON_BYTES as u64) {
            return Err(json_too_large());
        }
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(err) => {
                    ApiError::Unprocessable(format!("body: {}", err.body_text()))
                }
                too_large if too_large.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    json_too_large()
                }
                other => ApiError::BadRequest(format!("body: {}", other.body_text())),
            }),
        }
    }
}

fn json_too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "body: more than {MAX_JSON_BYTES} bytes, the most a JSON body may be"
    ))
}

/// The length a request's `Content-Length` header announces.
fn content_length(request: &Request) -> Option<u64> {
    let value = request.headers().get(axum::http::header::CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

/// A bundle file (`.linli`) sent as the body: up to [`MAX_BUNDLE_BYTES`], the most the
/// bundle format holds, whatever the router's limit for JSON bodies.
pub struct BundleBody(pub Vec<u8>);

impl<S: Send + Sync> FromRequest<S> for BundleBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || {
            ApiError::PayloadTooLarge(format!(
                "body: more than {MAX_BUNDLE_BYTES} bytes, the most a bundle may be"
            ))
        };
        if content_length(&request).is_some_and(|length| length > MAX_BUNDLE_BYTES) {
            return Err(too_large());
        }
        let mut body = request.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) =
            std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await
        {
            let frame = frame.map_err(|err| ApiError::BadRequest(format!("body: {err}")))?;
            if let Ok(data) = frame.into_data() {
                if (bytes.len() + data.len()) as u64 > MAX_BUNDLE_BYTES {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(BundleBody(bytes))
    }
}

/// Query parameters whose rejection (an unknown or mistyped parameter) is an
/// `ApiError` naming the problem.
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        // The error names the parameter, as body errors name the field.
        serde_path_to_error::deserialize(deserializer)
            .map(Params)
            .map_err(|err| ApiError::BadRequest(format!("query: {err}")))
    }
}

/// Path parameters whose rejection is an `ApiError` naming the problem: a segment that
/// is not UTF-8 once percent-decoded is a malformed request (400); one that does not
/// read as the parameter's type (a numbered resource's number that is no number, or
/// too large for one) names no such resource (404).
pub struct InPath<T>(pub T);

impl<S, T> FromRequestParts<S> for InPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        let rejection = match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => return Ok(InPath(value)),
            Err(rejection) => rejection,
        };
        let PathRejection::FailedToDeserializePathParams(err) = rejection else {
            // A handler asking for parameters its route does not have.
            return Err(ApiError::Internal(format!(
                "path: {}",
                rejection.body_text()
            )));
        };
        Err(match err.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => ApiError::BadRequest(format!(
                "path: {{{key}}} is not UTF-8 text once percent-decoded"
            )),
            ErrorKind::ParseErrorAtKey { value, .. }
            | ErrorKind::ParseErrorAtIndex { value, .. }
            | ErrorKind::ParseError { value, .. } => ApiError::NotFound(format!(
                "{value}: no such resource; these are numbered (whole numbers up to {})",
                i64::MAX
            )),
            _ => ApiError::BadRequest(format!("path: {}", err.body_text())),
        })
    }
}
