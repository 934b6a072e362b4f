//! Extractors whose rejections are [`ApiError`]s naming the problem, like every other
//! error: a JSON body, query parameters, a numbered resource in the path.

use super::ApiError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

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
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(err) => {
                    ApiError::Unprocessable(format!("body: {}", err.body_text()))
                }
                other => ApiError::BadRequest(format!("body: {}", other.body_text())),
            }),
        }
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

/// A numbered resource's number from the path (a sale, a pre-order, an alert): a path
/// that is not a number names no such resource (404), said in the API's JSON.
pub struct Number(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Number {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        text.parse().map(Number).map_err(|_| {
            ApiError::NotFound(format!("{text}: no such resource; these are numbered"))
        })
    }
}
